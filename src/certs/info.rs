//! Certificate display fields, read with x509-parser.
//!
//! [`summarize`] gives the serializable [`CertInfo`]; the crate-internal [`CertFacts`] adds the
//! raw values the chain checks compare (raw names, key identifiers, validity in seconds).

use std::net::{Ipv4Addr, Ipv6Addr};

use sha2::{Digest, Sha256};
use x509_parser::asn1_rs::Any;
use x509_parser::der_parser::der::parse_der_integer;
use x509_parser::prelude::{
    FromDer, GeneralName, ParsedExtension, SubjectPublicKeyInfo, X509Certificate, X509Name,
};
use x509_parser::public_key::PublicKey;
use x509_parser::signature_algorithm::RsaSsaPssParams;

use super::CertInfo;

/// A certificate that x509-parser could not read.
#[derive(Debug, thiserror::Error)]
#[error("unparsable certificate: {0}")]
pub struct CertError(pub String);

/// Reads a DER certificate's display fields.
///
/// Never panics: anything x509-parser rejects (garbage, truncation, trailing junk inside the
/// structure) comes back as a [`CertError`]. Bytes after the certificate are ignored.
pub fn summarize(der: &[u8]) -> Result<CertInfo, CertError> {
    facts(der).map(|f| f.info)
}

/// Everything the chain checks need about one certificate, computed once per certificate.
#[derive(Debug, Clone)]
pub(crate) struct CertFacts {
    /// The display fields.
    pub info: CertInfo,
    /// The DER as received.
    pub der: Vec<u8>,
    /// SHA-256 of the DER.
    pub fingerprint: [u8; 32],
    /// Raw DER of the subject Name (compared byte for byte, as RFC 5280 path building does).
    pub subject_raw: Vec<u8>,
    /// Raw DER of the issuer Name.
    pub issuer_raw: Vec<u8>,
    /// notBefore, seconds since the epoch.
    pub not_before: i64,
    /// notAfter, seconds since the epoch.
    pub not_after: i64,
    /// subjectKeyIdentifier.
    pub ski: Option<Vec<u8>>,
    /// authorityKeyIdentifier keyIdentifier.
    pub aki: Option<Vec<u8>>,
    /// Serial number without leading zero bytes (how CRLs and OCSP are matched).
    pub serial: Vec<u8>,
    /// The signature uses MD2, MD5 or SHA-1 (the algorithm name is in `info.signature`).
    pub weak_hash: bool,
    /// RSA/DSA key under 2048 bits, or EC key under 224 bits.
    pub weak_key: bool,
    /// Carries a subjectAltName extension (any entry type): then the CN is never a host name.
    pub has_san: bool,
}

/// Parses a certificate and computes its [`CertFacts`].
pub(crate) fn facts(der: &[u8]) -> Result<CertFacts, CertError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertError(format!("{e}")))?;
    let fingerprint: [u8; 32] = Sha256::digest(der).into();

    let mut san_dns = Vec::new();
    let mut san_ip = Vec::new();
    let mut has_san = false;
    let mut ski = None;
    let mut aki = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                has_san = true;
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(dns) => san_dns.push((*dns).to_string()),
                        GeneralName::IPAddress(bytes) => san_ip.push(ip_text(bytes)),
                        _ => {}
                    }
                }
            }
            ParsedExtension::SubjectKeyIdentifier(id) => ski = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(id) => {
                aki = id.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => {}
        }
    }

    let (key, key_bits, weak_key) = describe_key(cert.public_key());
    let (signature, weak_hash) = describe_signature(&cert);
    let subject = name_text(cert.subject());
    let issuer = name_text(cert.issuer());
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    let serial = trim_leading_zeros(cert.raw_serial()).to_vec();
    let subject_raw = cert.subject().as_raw().to_vec();
    let issuer_raw = cert.issuer().as_raw().to_vec();
    let self_signed = is_self_signed(&cert, &subject_raw, &issuer_raw, &ski, &aki);

    let info = CertInfo {
        subject,
        issuer,
        san_dns,
        san_ip,
        not_before: rfc3339_secs(not_before),
        not_after: rfc3339_secs(not_after),
        serial: colon_hex(&serial),
        sha256: hex::encode(fingerprint),
        key,
        signature,
        self_signed,
        is_ca: cert.is_ca(),
        common_name: common_name(cert.subject()),
        key_bits,
    };
    Ok(CertFacts {
        info,
        der: der.to_vec(),
        fingerprint,
        subject_raw,
        issuer_raw,
        not_before,
        not_after,
        ski,
        aki,
        serial,
        weak_hash,
        weak_key,
        has_san,
    })
}

/// Issuer equals subject and either the signature verifies under the certificate's own key or,
/// when ring cannot check it (MD5, RSA keys under 2048 bits, unusual curves), the key
/// identifiers do not contradict each other.
fn is_self_signed(
    cert: &X509Certificate<'_>,
    subject_raw: &[u8],
    issuer_raw: &[u8],
    ski: &Option<Vec<u8>>,
    aki: &Option<Vec<u8>>,
) -> bool {
    let same_name = subject_raw == issuer_raw || cert.subject() == cert.issuer();
    if !same_name {
        return false;
    }
    if cert.verify_signature(None).is_ok() {
        return true;
    }
    match (ski, aki) {
        (Some(s), Some(a)) => s == a,
        _ => true,
    }
}

/// RFC 4514 text of a Name: RDNs in reverse DER order (most specific first, as OpenSSL's
/// `-nameopt RFC2253` and Wireshark show them), `, ` between RDNs, `+` inside a multi-valued
/// one; unknown attribute types as dotted OIDs, non-string values as `#hex`.
pub(crate) fn name_text(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let oid = attr.attr_type();
                    let key = x509_parser::objects::oid2abbrev(oid, registry)
                        .map(str::to_string)
                        .unwrap_or_else(|_| oid.to_id_string());
                    let value = match attr_text(attr.attr_value()) {
                        Some(v) => v,
                        None => format!("#{}", hex::encode(attr.attr_value().data)),
                    };
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(", ")
}

/// The most specific (last) commonName, as RFC 6125 §6.4.4 says to use.
fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .filter_map(|cn| attr_text(cn.attr_value()))
        .last()
}

/// The text of a directory string, whatever its ASN.1 string type: UTF8String, PrintableString,
/// IA5String and the like as UTF-8 (real CAs put `*` and `_` in PrintableStrings, which strict
/// parsers refuse), TeletexString as Latin-1 (what OpenSSL and browsers do), BMPString as
/// UTF-16BE, UniversalString as UTF-32BE. None for other types or undecodable bytes.
fn attr_text(value: &Any<'_>) -> Option<String> {
    const UTF8: u32 = 12;
    const NUMERIC: u32 = 18;
    const PRINTABLE: u32 = 19;
    const TELETEX: u32 = 20;
    const IA5: u32 = 22;
    const VISIBLE: u32 = 26;
    const UNIVERSAL: u32 = 28;
    const BMP: u32 = 30;
    let data = value.data;
    match value.tag().0 {
        UTF8 | NUMERIC | PRINTABLE | IA5 | VISIBLE => {
            std::str::from_utf8(data).ok().map(str::to_string)
        }
        TELETEX => Some(data.iter().map(|&b| char::from(b)).collect()),
        BMP => {
            if data.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        UNIVERSAL => {
            if data.len() % 4 != 0 {
                return None;
            }
            data.chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

/// Textual IP of an iPAddress SAN entry (4 or 16 bytes; anything else as hex).
fn ip_text(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        Ipv6Addr::from(v6).to_string()
    } else {
        format!("invalid:{}", hex::encode(bytes))
    }
}

/// `2024-01-01T00:00:00Z` for a Unix time; out-of-range values as `@<secs>`.
pub(crate) fn rfc3339_secs(secs: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("@{secs}"),
    }
}

/// Drops the sign-padding zero bytes of a DER INTEGER, keeping at least one byte.
pub(crate) fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first_nonzero = bytes.iter().position(|b| *b != 0);
    match first_nonzero {
        Some(i) => bytes.get(i..).unwrap_or(bytes),
        None => bytes.get(bytes.len().saturating_sub(1)..).unwrap_or(bytes),
    }
}

/// Lower-case hex with colons, e.g. `03:a1:ff`.
pub(crate) fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Bit length of a big-endian unsigned integer.
fn bit_len(bytes: &[u8]) -> u32 {
    let trimmed = trim_leading_zeros(bytes);
    match trimmed.first() {
        Some(0) | None => 0,
        Some(first) => {
            let len = u32::try_from(trimmed.len()).unwrap_or(u32::MAX / 8);
            len.saturating_mul(8).saturating_sub(first.leading_zeros())
        }
    }
}

/// The family of a certificate's public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    /// rsaEncryption.
    Rsa,
    /// id-RSASSA-PSS (an RSA key bound to PSS signatures).
    RsaPss,
    /// id-ecPublicKey, on any curve.
    Ec,
    Ed25519,
    Ed448,
    Dsa,
    /// Anything else (post-quantum, GOST, SM2, unknown).
    Other,
}

impl KeyFamily {
    fn of_oid(oid: &str) -> KeyFamily {
        match oid {
            "1.2.840.113549.1.1.1" => KeyFamily::Rsa,
            "1.2.840.113549.1.1.10" => KeyFamily::RsaPss,
            "1.2.840.10045.2.1" => KeyFamily::Ec,
            "1.3.101.112" => KeyFamily::Ed25519,
            "1.3.101.113" => KeyFamily::Ed448,
            "1.2.840.10040.4.1" => KeyFamily::Dsa,
            _ => KeyFamily::Other,
        }
    }
}

/// The family of the key a DER certificate holds; None when x509-parser cannot read it.
pub fn key_family(der: &[u8]) -> Option<KeyFamily> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(KeyFamily::of_oid(
        &cert.public_key().algorithm.algorithm.to_id_string(),
    ))
}

/// (`RSA 2048`-style text, bits, weak?) for a public key.
fn describe_key(spki: &SubjectPublicKeyInfo<'_>) -> (String, u32, bool) {
    let alg = spki.algorithm.algorithm.to_id_string();
    match KeyFamily::of_oid(&alg) {
        family @ (KeyFamily::Rsa | KeyFamily::RsaPss) => {
            let bits = match spki.parsed() {
                Ok(PublicKey::RSA(rsa)) => bit_len(rsa.modulus),
                _ => 0,
            };
            let label = if family == KeyFamily::RsaPss {
                "RSA-PSS"
            } else {
                "RSA"
            };
            (format!("{label} {bits}"), bits, bits < 2048)
        }
        KeyFamily::Ec => {
            let params = spki.algorithm.parameters.as_ref();
            // An OID names the curve; a SEQUENCE spells it out (explicit parameters, RFC 3279,
            // which RFC 5480 forbids and CVE-2020-0601 abused).
            let curve = match params {
                Some(p) if p.tag() == x509_parser::der_parser::asn1_rs::Tag::Oid => {
                    p.as_oid().map(|oid| oid.to_id_string()).unwrap_or_default()
                }
                Some(p) if p.tag() == x509_parser::der_parser::asn1_rs::Tag::Sequence => {
                    "explicit parameters".to_string()
                }
                _ => String::new(),
            };
            let (name, bits) = match curve.as_str() {
                "1.2.840.10045.3.1.7" => ("P-256".to_string(), 256),
                "1.3.132.0.34" => ("P-384".to_string(), 384),
                "1.3.132.0.35" => ("P-521".to_string(), 521),
                "1.3.132.0.33" => ("P-224".to_string(), 224),
                "1.2.840.10045.3.1.1" => ("P-192".to_string(), 192),
                "1.3.132.0.10" => ("secp256k1".to_string(), 256),
                "1.3.36.3.3.2.8.1.1.7" => ("brainpoolP256r1".to_string(), 256),
                "1.3.36.3.3.2.8.1.1.11" => ("brainpoolP384r1".to_string(), 384),
                "1.3.36.3.3.2.8.1.1.13" => ("brainpoolP512r1".to_string(), 512),
                other => {
                    let bits = match spki.parsed() {
                        Ok(PublicKey::EC(point)) => u32::try_from(point.key_size()).unwrap_or(0),
                        _ => 0,
                    };
                    (
                        if other.is_empty() {
                            "unknown curve".to_string()
                        } else {
                            other.to_string()
                        },
                        bits,
                    )
                }
            };
            (format!("EC {name}"), bits, bits < 224)
        }
        KeyFamily::Ed25519 => ("Ed25519".to_string(), 256, false),
        KeyFamily::Ed448 => ("Ed448".to_string(), 456, false),
        KeyFamily::Dsa => {
            let bits = dsa_bits(spki);
            (format!("DSA {bits}"), bits, bits < 2048)
        }
        KeyFamily::Other => match key_algorithm_name(&alg) {
            Some(name) => (name.to_string(), 0, false),
            None => (format!("unknown ({alg})"), 0, false),
        },
    }
}

/// Names of key algorithms the size checks do not cover (post-quantum, X25519/X448, GOST,
/// SM2), by OID.
fn key_algorithm_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.16.840.1.101.3.4.3.17" => "ML-DSA-44",
        "2.16.840.1.101.3.4.3.18" => "ML-DSA-65",
        "2.16.840.1.101.3.4.3.19" => "ML-DSA-87",
        "2.16.840.1.101.3.4.3.20" => "SLH-DSA-SHA2-128s",
        "2.16.840.1.101.3.4.3.21" => "SLH-DSA-SHA2-128f",
        "2.16.840.1.101.3.4.3.22" => "SLH-DSA-SHA2-192s",
        "2.16.840.1.101.3.4.3.23" => "SLH-DSA-SHA2-192f",
        "2.16.840.1.101.3.4.3.24" => "SLH-DSA-SHA2-256s",
        "2.16.840.1.101.3.4.3.25" => "SLH-DSA-SHA2-256f",
        "2.16.840.1.101.3.4.3.26" => "SLH-DSA-SHAKE-128s",
        "2.16.840.1.101.3.4.3.27" => "SLH-DSA-SHAKE-128f",
        "2.16.840.1.101.3.4.3.28" => "SLH-DSA-SHAKE-192s",
        "2.16.840.1.101.3.4.3.29" => "SLH-DSA-SHAKE-192f",
        "2.16.840.1.101.3.4.3.30" => "SLH-DSA-SHAKE-256s",
        "2.16.840.1.101.3.4.3.31" => "SLH-DSA-SHAKE-256f",
        "2.16.840.1.101.3.4.4.1" => "ML-KEM-512",
        "2.16.840.1.101.3.4.4.2" => "ML-KEM-768",
        "2.16.840.1.101.3.4.4.3" => "ML-KEM-1024",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.2.643.7.1.1.1.1" => "GOST R 34.10-2012 256",
        "1.2.643.7.1.1.1.2" => "GOST R 34.10-2012 512",
        "1.2.643.2.2.19" => "GOST R 34.10-2001",
        "1.2.156.10197.1.301" => "SM2",
        _ => return None,
    })
}

/// DSA key size: the bit length of `p` in the Dss-Parms, else of the public value `y`.
fn dsa_bits(spki: &SubjectPublicKeyInfo<'_>) -> u32 {
    let from_params = spki.algorithm.parameters.as_ref().and_then(|params| {
        // Dss-Parms ::= SEQUENCE { p INTEGER, q INTEGER, g INTEGER }: p is the first element.
        let (_, p) = parse_der_integer(params.data).ok()?;
        p.as_slice().ok().map(bit_len)
    });
    match from_params {
        Some(bits) if bits > 0 => bits,
        _ => match spki.parsed() {
            Ok(PublicKey::DSA(y)) => Any::from_der(y)
                .ok()
                .map(|(_, any)| bit_len(any.data))
                .unwrap_or_else(|| bit_len(y)),
            _ => 0,
        },
    }
}

/// (name, uses MD2/MD5/SHA-1?) of the certificate's signature algorithm.
fn describe_signature(cert: &X509Certificate<'_>) -> (String, bool) {
    let alg = &cert.signature_algorithm;
    let oid = alg.algorithm.to_id_string();
    let (name, weak) = match oid.as_str() {
        "1.2.840.113549.1.1.2" => ("md2WithRSAEncryption", true),
        "1.2.840.113549.1.1.4" => ("md5WithRSAEncryption", true),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => ("sha1WithRSAEncryption", true),
        "1.2.840.113549.1.1.11" => ("sha256WithRSAEncryption", false),
        "1.2.840.113549.1.1.12" => ("sha384WithRSAEncryption", false),
        "1.2.840.113549.1.1.13" => ("sha512WithRSAEncryption", false),
        "1.2.840.113549.1.1.14" => ("sha224WithRSAEncryption", false),
        "1.2.840.113549.1.1.10" => {
            // RSASSA-PSS: the hash is in the parameters; absent means SHA-1 (RFC 4055).
            let hash = alg
                .parameters
                .as_ref()
                .and_then(|p| RsaSsaPssParams::try_from(p).ok())
                .map(|p| p.hash_algorithm_oid().to_id_string())
                .unwrap_or_else(|| "1.3.14.3.2.26".to_string());
            ("RSASSA-PSS", hash == "1.3.14.3.2.26")
        }
        "1.2.840.10045.4.1" => ("ecdsa-with-SHA1", true),
        "1.2.840.10045.4.3.1" => ("ecdsa-with-SHA224", false),
        "1.2.840.10045.4.3.2" => ("ecdsa-with-SHA256", false),
        "1.2.840.10045.4.3.3" => ("ecdsa-with-SHA384", false),
        "1.2.840.10045.4.3.4" => ("ecdsa-with-SHA512", false),
        "1.2.840.10040.4.3" => ("dsa-with-SHA1", true),
        "2.16.840.1.101.3.4.3.1" => ("dsa-with-SHA224", false),
        "2.16.840.1.101.3.4.3.2" => ("dsa-with-SHA256", false),
        "1.3.101.112" => ("ED25519", false),
        "1.3.101.113" => ("ED448", false),
        "2.16.840.1.101.3.4.3.17" => ("ML-DSA-44", false),
        "2.16.840.1.101.3.4.3.18" => ("ML-DSA-65", false),
        "2.16.840.1.101.3.4.3.19" => ("ML-DSA-87", false),
        _ => ("", false),
    };
    if name.is_empty() {
        (oid, false)
    } else {
        (name.to_string(), weak)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_sign_padding_but_keeps_zero() {
        assert_eq!(trim_leading_zeros(&[0, 0x80, 1]), &[0x80, 1]);
        assert_eq!(trim_leading_zeros(&[0, 0]), &[0]);
        assert_eq!(trim_leading_zeros(&[]), &[] as &[u8]);
    }

    #[test]
    fn bit_length() {
        assert_eq!(bit_len(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_len(&[0x01]), 1);
        assert_eq!(bit_len(&[0x00]), 0);
    }

    #[test]
    fn formats_times_and_serials() {
        assert_eq!(rfc3339_secs(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(colon_hex(&[0x10, 0x02]), "10:02");
    }

    /// Hand-built DER values, one per string type: the bytes real certificates carry.
    #[test]
    fn decodes_every_directory_string_type() {
        let text = |der: &[u8]| {
            let (_, any) = Any::from_der(der).unwrap();
            attr_text(&any)
        };
        // TeletexString "Caf\xe9" (Latin-1).
        assert_eq!(
            text(&[0x14, 4, b'C', b'a', b'f', 0xe9]).as_deref(),
            Some("Café")
        );
        // BMPString "*.a".
        assert_eq!(
            text(&[0x1e, 6, 0, b'*', 0, b'.', 0, b'a']).as_deref(),
            Some("*.a")
        );
        // UniversalString "é".
        assert_eq!(text(&[0x1c, 4, 0, 0, 0, 0xe9]).as_deref(), Some("é"));
        // PrintableString holding `*` (invalid ASN.1, common in real certificates).
        assert_eq!(text(&[0x13, 3, b'*', b'.', b'a']).as_deref(), Some("*.a"));
        // Odd-length BMPString, an OCTET STRING: not text.
        assert_eq!(text(&[0x1e, 1, 0]), None);
        assert_eq!(text(&[0x04, 1, 0x41]), None);
    }

    #[test]
    fn post_quantum_keys_are_named() {
        assert_eq!(
            key_algorithm_name("2.16.840.1.101.3.4.3.18"),
            Some("ML-DSA-65")
        );
        assert_eq!(key_algorithm_name("1.2.3.4"), None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(summarize(&[]).is_err());
        assert!(summarize(&[0x30, 0x82, 0xff, 0xff, 0x00]).is_err());
    }
}
