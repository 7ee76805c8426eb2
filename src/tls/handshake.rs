//! Decoding of single handshake message bodies into the plain types of [`super`], with
//! tls-parser. Extensions are walked one by one so that their order (GREASE included) is kept and
//! one malformed extension does not hide the others.

use super::{CertificateRequestMsg, ClientHello, KeyExchangeGroup, ServerHello, MAX_AUTHORITIES};
use tls_parser::{
    parse_tls_client_hello_extension, parse_tls_handshake_certificatestatus,
    parse_tls_handshake_client_hello, parse_tls_handshake_msg_certificate,
    parse_tls_server_hello_extension, SNIType, TlsExtension, TlsMessageHandshake,
};

/// The random of a HelloRetryRequest (RFC 8446 §4.1.3): SHA-256 of "HelloRetryRequest".
pub(crate) const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Splits a raw extensions block into `(type, whole extension bytes)`; stops at the first
/// truncated entry.
fn raw_extensions(mut block: &[u8]) -> impl Iterator<Item = (u16, &[u8])> + Clone {
    // An iterator, not a Vec: walking the headers twice (count, then decode) is cheaper than
    // one allocation per hello.
    std::iter::from_fn(move || {
        let [t0, t1, l0, l1, ..] = *block else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let whole = block.get(..4 + len)?;
        block = &block[4 + len..];
        Some((u16::from_be_bytes([t0, t1]), whole))
    })
}

/// The key_share extension's type.
const KEY_SHARE: u16 = 51;

/// The groups of a ClientHello's key_share extension (`whole`: type, length, then the
/// client_shares list), as far as its entries are complete.
fn key_share_groups(whole: &[u8]) -> Vec<u16> {
    let Some(&[l0, l1]) = whole.get(4..6) else {
        return Vec::new();
    };
    let list_len = usize::from(u16::from_be_bytes([l0, l1]));
    let list = whole.get(6..).unwrap_or_default();
    let mut list = list.get(..list_len).unwrap_or(list);
    let mut groups = Vec::new();
    while let [g0, g1, k0, k1, rest @ ..] = list {
        let key_len = usize::from(u16::from_be_bytes([*k0, *k1]));
        let Some(next) = rest.get(key_len..) else {
            break;
        };
        groups.push(u16::from_be_bytes([*g0, *g1]));
        list = next;
    }
    groups
}

/// Decodes a ClientHello body (after the 4-byte handshake header). `meta` is left default.
pub(crate) fn decode_client_hello(body: &[u8]) -> Result<ClientHello, String> {
    let (_, ch) = parse_tls_handshake_client_hello(body)
        .map_err(|e| format!("malformed ClientHello: {e:?}"))?;
    let mut out = ClientHello {
        legacy_version: ch.version.0,
        random: ch.random.to_vec(),
        session_id: ch.session_id.unwrap_or_default().to_vec(),
        ciphers: ch.ciphers.iter().map(|c| c.0).collect(),
        len: u32::try_from(body.len().saturating_add(4)).unwrap_or(u32::MAX),
        ..ClientHello::default()
    };
    let extensions = raw_extensions(ch.ext.unwrap_or_default());
    out.extensions.reserve_exact(extensions.clone().count());
    for (ext_type, whole) in extensions {
        out.extensions.push(ext_type);
        if ext_type == KEY_SHARE {
            out.key_shares = key_share_groups(whole);
            continue;
        }
        let Ok((_, ext)) = parse_tls_client_hello_extension(whole) else {
            continue;
        };
        match ext {
            TlsExtension::SNI(names) => {
                if let Some((_, name)) = names.iter().find(|(t, _)| *t == SNIType::HostName) {
                    out.sni = Some(String::from_utf8_lossy(name).into_owned());
                }
            }
            TlsExtension::ALPN(protos) => {
                out.alpn = protos
                    .iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                out.alpn_first_raw = protos.first().map(|p| p.to_vec());
            }
            TlsExtension::SupportedVersions(vs) => {
                out.supported_versions = vs.iter().map(|v| v.0).collect()
            }
            TlsExtension::SignatureAlgorithms(algs) => out.signature_algorithms = algs,
            TlsExtension::EllipticCurves(groups) => {
                out.groups = groups.iter().map(|g| g.0).collect()
            }
            TlsExtension::EcPointFormats(pf) => out.ec_point_formats = pf.to_vec(),
            TlsExtension::PreSharedKey(_) => out.psk = true,
            TlsExtension::SessionTicket(t) => out.session_ticket |= !t.is_empty(),
            TlsExtension::StatusRequest(_) => out.status_request = true,
            _ => {}
        }
    }
    Ok(out)
}

/// Decodes a ServerHello body. `meta` is left default.
pub(crate) fn decode_server_hello(body: &[u8]) -> Result<ServerHello, String> {
    // tls-parser only takes 0x0300..=0x0303 (TLS 1.3 keeps 0x0303 as legacy_version), so the
    // fixed part is read here and only extensions go through tls-parser.
    let err = || "malformed ServerHello".to_string();
    let legacy_version = u16::from_be_bytes([
        *body.first().ok_or_else(err)?,
        *body.get(1).ok_or_else(err)?,
    ]);
    let random = body.get(2..34).ok_or_else(err)?;
    // TLS 1.3 drafts up to 21 (0x7f00..=0x7f15, and 0x0304 itself in drafts before the 0x7fxx
    // numbering) carry the version here and have neither session id nor compression method:
    // random, cipher suite, extensions.
    let draft = legacy_version == 0x0304 || (0x7f00..=0x7f15).contains(&legacy_version);
    let (session_id, rest) = if draft {
        (&[][..], body.get(34..).ok_or_else(err)?)
    } else {
        let sid_len = usize::from(*body.get(34).ok_or_else(err)?);
        if sid_len > 32 {
            return Err(err());
        }
        let session_id = body.get(35..35 + sid_len).ok_or_else(err)?;
        (session_id, body.get(35 + sid_len..).ok_or_else(err)?)
    };
    let cipher = u16::from_be_bytes([
        *rest.first().ok_or_else(err)?,
        *rest.get(1).ok_or_else(err)?,
    ]);
    // Then the compression method (not in drafts), then extensions when present (not in
    // SSL 3.0).
    let after_fixed = rest.get(if draft { 2 } else { 3 }..).unwrap_or_default();
    let mut out = ServerHello {
        legacy_version,
        version: legacy_version,
        cipher,
        session_id: session_id.to_vec(),
        hello_retry: random == HRR_RANDOM,
        ..ServerHello::default()
    };
    if let [hi, lo, block @ ..] = after_fixed {
        let ext_len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let block = block.get(..ext_len).unwrap_or(block);
        let extensions = raw_extensions(block);
        out.extensions.reserve_exact(extensions.clone().count());
        for (ext_type, whole) in extensions {
            out.extensions.push(ext_type);
            let Ok((_, ext)) = parse_tls_server_hello_extension(whole) else {
                continue;
            };
            match ext {
                TlsExtension::SupportedVersions(vs) => {
                    if let Some(v) = vs.first() {
                        out.version = v.0;
                    }
                }
                TlsExtension::ALPN(protos) => {
                    out.alpn = protos
                        .first()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                }
                TlsExtension::PreSharedKey(_) => out.psk = true,
                // Both forms start with the group: a ServerHello's KeyShareEntry, a
                // HelloRetryRequest's selected_group.
                TlsExtension::KeyShare([hi, lo, ..]) => {
                    out.key_share_group = Some(u16::from_be_bytes([*hi, *lo]))
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Decodes a TLS ≤ 1.2 Certificate body into DER certificates.
pub(crate) fn decode_certificate(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    match parse_tls_handshake_msg_certificate(body) {
        Ok((_, TlsMessageHandshake::Certificate(c))) => {
            Ok(c.cert_chain.iter().map(|raw| raw.data.to_vec()).collect())
        }
        Ok(_) => Err("malformed Certificate".to_string()),
        Err(e) => Err(format!("malformed Certificate: {e:?}")),
    }
}

/// Decodes a CertificateRequest body. `version` is the negotiated version: TLS 1.3 carries the
/// lists in extensions, TLS 1.2 has supported_signature_algorithms, earlier versions have
/// neither. `meta` is left default.
pub(crate) fn decode_certificate_request(
    body: &[u8],
    version: u16,
) -> Result<CertificateRequestMsg, String> {
    let err = || "malformed CertificateRequest".to_string();
    let mut out = CertificateRequestMsg::default();
    let version = super::tls_equivalent(version);
    if super::is_tls13(version) {
        // certificate_request_context<0..255>, then extensions<2..2^16-1>.
        let ctx_len = usize::from(*body.first().ok_or_else(err)?);
        let rest = body.get(1 + ctx_len..).ok_or_else(err)?;
        let block = u16_prefixed(rest).ok_or_else(err)?;
        for (ext_type, whole) in raw_extensions(block) {
            let data = whole.get(4..).unwrap_or_default();
            match ext_type {
                13 => out.signature_algorithms = u16_list(data).ok_or_else(err)?,
                50 => out.signature_algorithms_cert = u16_list(data).ok_or_else(err)?,
                47 => {
                    let names = u16_prefixed(data).ok_or_else(err)?;
                    distinguished_names(names, &mut out).ok_or_else(err)?;
                }
                _ => {}
            }
        }
        return Ok(out);
    }
    // certificate_types<1..2^8-1>
    let types_len = usize::from(*body.first().ok_or_else(err)?);
    let mut rest = body.get(1 + types_len..).ok_or_else(err)?;
    if version >= 0x0303 {
        out.signature_algorithms = u16_list(rest).ok_or_else(err)?;
        let len = usize::from(u16::from_be_bytes([
            *rest.first().ok_or_else(err)?,
            *rest.get(1).ok_or_else(err)?,
        ]));
        rest = rest.get(2 + len..).ok_or_else(err)?;
    }
    let names = u16_prefixed(rest).ok_or_else(err)?;
    distinguished_names(names, &mut out).ok_or_else(err)?;
    Ok(out)
}

/// The bytes of a vector with a 2-byte length prefix.
fn u16_prefixed(b: &[u8]) -> Option<&[u8]> {
    let len = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
    b.get(2..2 + len)
}

/// A vector of 2-byte values with a 2-byte length prefix (signature schemes).
fn u16_list(b: &[u8]) -> Option<Vec<u16>> {
    let body = u16_prefixed(b)?;
    Some(
        body.chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect(),
    )
}

/// DistinguishedName entries (each with a 2-byte length), the first [`MAX_AUTHORITIES`] kept.
fn distinguished_names(mut b: &[u8], out: &mut CertificateRequestMsg) -> Option<()> {
    while !b.is_empty() {
        let name = u16_prefixed(b)?;
        b = &b[2 + name.len()..];
        out.authorities_listed += 1;
        if out.authorities.len() < MAX_AUTHORITIES {
            out.authorities.push(name.to_vec());
        }
    }
    Some(())
}

/// The SignatureScheme of a CertificateVerify body (TLS 1.2 and 1.3; absent before 1.2).
pub(crate) fn certificate_verify_scheme(body: &[u8], version: u16) -> Option<u16> {
    let version = super::tls_equivalent(version);
    (version >= 0x0303 || super::is_tls13(version))
        .then(|| Some(u16::from_be_bytes([*body.first()?, *body.get(1)?])))
        .flatten()
}

/// Decodes a CertificateStatus body into the OCSP response DER.
pub(crate) fn decode_certificate_status(body: &[u8]) -> Result<Vec<u8>, String> {
    parse_tls_handshake_certificatestatus(body)
        .map(|(_, cs)| cs.blob.to_vec())
        .map_err(|e| format!("malformed CertificateStatus: {e:?}"))
}

/// The group of a TLS ≤ 1.2 ServerKeyExchange body for suite `cipher`: the prime of
/// finite-field DH (RFC 5246 §7.4.3), the named curve of ECDHE (RFC 8422 §5.4). None for other
/// key exchanges (RSA, PSK) or a body too short to say. `meta` is left default.
pub(crate) fn decode_key_exchange(body: &[u8], cipher: u16) -> Option<KeyExchangeGroup> {
    use tls_parser::{TlsCipherKx, TlsCipherSuite};
    let kx = TlsCipherSuite::from_id(cipher)?.kx;
    match kx {
        TlsCipherKx::Dh | TlsCipherKx::Dhe => {
            let p_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
            let p = body.get(2..2 + p_len)?;
            let leading = p.iter().position(|b| *b != 0).unwrap_or(p.len());
            let p = &p[leading..];
            let bits = match p.first() {
                Some(first) => (p.len() as u32) * 8 - first.leading_zeros(),
                None => 0,
            };
            Some(KeyExchangeGroup {
                meta: Default::default(),
                finite_field: true,
                name: format!("DH {bits}"),
                bits,
            })
        }
        TlsCipherKx::Ecdhe | TlsCipherKx::Ecdh | TlsCipherKx::Aecdh => {
            let (name, bits) = match *body.first()? {
                3 => {
                    let id = u16::from_be_bytes([*body.get(1)?, *body.get(2)?]);
                    named_curve(id)
                }
                1 | 2 => ("explicit curve".to_string(), 0),
                _ => return None,
            };
            Some(KeyExchangeGroup {
                meta: Default::default(),
                finite_field: false,
                name,
                bits,
            })
        }
        _ => None,
    }
}

/// (name, bits) of a TLS named curve (RFC 8422, RFC 7027, RFC 8446 §4.2.7).
fn named_curve(id: u16) -> (String, u32) {
    let (name, bits) = match id {
        1 => ("sect163k1", 163),
        2 => ("sect163r1", 163),
        3 => ("sect163r2", 163),
        4 => ("sect193r1", 193),
        5 => ("sect193r2", 193),
        6 => ("sect233k1", 233),
        7 => ("sect233r1", 233),
        8 => ("sect239k1", 239),
        9 => ("sect283k1", 283),
        10 => ("sect283r1", 283),
        11 => ("sect409k1", 409),
        12 => ("sect409r1", 409),
        13 => ("sect571k1", 571),
        14 => ("sect571r1", 571),
        15 => ("secp160k1", 160),
        16 => ("secp160r1", 160),
        17 => ("secp160r2", 160),
        18 => ("secp192k1", 192),
        19 => ("secp192r1", 192),
        20 => ("secp224k1", 224),
        21 => ("secp224r1", 224),
        22 => ("secp256k1", 256),
        23 => ("secp256r1", 256),
        24 => ("secp384r1", 384),
        25 => ("secp521r1", 521),
        26 => ("brainpoolP256r1", 256),
        27 => ("brainpoolP384r1", 384),
        28 => ("brainpoolP512r1", 512),
        // A 255-bit curve at the 128-bit security level of 256-bit ones.
        29 => ("x25519", 256),
        30 => ("x448", 448),
        _ => return (format!("curve 0x{id:04x}"), 0),
    };
    (name.to_string(), bits)
}

/// Big-endian 24-bit length at the start of `b`.
pub(crate) fn be_u24(b: &[u8]) -> Option<usize> {
    let b = b.get(..3)?;
    Some(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
}

#[cfg(test)]
mod certificate_request_tests {
    use super::*;

    // Hand-built bodies: one edge case each (the samples' real ones are checked in
    // tests/clientcert.rs).
    const TLS12: &[u8] = &[
        1, 1, // certificate_types: rsa_sign
        0, 4, 0x04, 0x01, 0x08, 0x04, // signature algorithms
        0, 6, 0, 4, 0x30, 0x02, 0x31, 0x00, // one (empty-RDN) distinguished name
    ];

    #[test]
    fn reads_tls12_lists() {
        let r = decode_certificate_request(TLS12, 0x0303).unwrap();
        assert_eq!(r.signature_algorithms, [0x0401, 0x0804]);
        assert_eq!(r.authorities, [vec![0x30, 0x02, 0x31, 0x00]]);
        assert_eq!(r.authorities_listed, 1);
    }

    /// DTLS 1.0 is built on TLS 1.1 (no signature_algorithms) and DTLS 1.2 on TLS 1.2,
    /// though their version numbers (0xfeff, 0xfefd) are both above 0x0303. Hand-built
    /// bodies: the types RSA, DSS and ECDSA sign and no authorities, as in nDPI's capwap.pcap.
    #[test]
    fn dtls_versions_choose_their_tls_layout() {
        let dtls10 = [3, 1, 2, 64, 0, 0];
        let r = decode_certificate_request(&dtls10, 0xfeff).unwrap();
        assert!(r.signature_algorithms.is_empty() && r.authorities.is_empty());
        assert!(decode_certificate_request(&dtls10, 0x0303).is_err());
        let r = decode_certificate_request(TLS12, 0xfefd).unwrap();
        assert_eq!(r.signature_algorithms, [0x0401, 0x0804]);
        assert_eq!(certificate_verify_scheme(&[4, 1, 0, 0], 0xfeff), None);
        assert_eq!(
            certificate_verify_scheme(&[4, 1, 0, 0], 0xfefd),
            Some(0x0401)
        );
    }

    #[test]
    fn tls11_has_no_signature_algorithms() {
        let body = [1, 1, 0, 0];
        let r = decode_certificate_request(&body, 0x0302).unwrap();
        assert!(r.signature_algorithms.is_empty() && r.authorities.is_empty());
    }

    #[test]
    fn reads_tls13_extensions() {
        let body = [
            0, // empty context
            0, 18, // extensions
            0, 13, 0, 4, 0, 2, 0x08, 0x04, // signature_algorithms
            0, 47, 0, 6, 0, 4, 0, 2, 0x30, 0x00, // certificate_authorities
        ];
        let r = decode_certificate_request(&body, 0x0304).unwrap();
        assert_eq!(r.signature_algorithms, [0x0804]);
        assert_eq!(r.authorities, [vec![0x30, 0x00]]);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for n in 0..TLS12.len() {
            assert!(
                decode_certificate_request(&TLS12[..n], 0x0303).is_err(),
                "{n}"
            );
        }
    }

    #[test]
    fn keeps_at_most_the_cap_of_names() {
        let names: Vec<u8> = (0..MAX_AUTHORITIES + 3)
            .flat_map(|_| [0, 2, 0x30, 0x00])
            .collect();
        let mut body = vec![1, 1, 0, 0];
        body.extend((names.len() as u16).to_be_bytes());
        body.extend(&names);
        let r = decode_certificate_request(&body, 0x0303).unwrap();
        assert_eq!(r.authorities.len(), MAX_AUTHORITIES);
        assert_eq!(r.authorities_listed, MAX_AUTHORITIES + 3);
    }
}
