//! What a client certificate offers a server that asked for one: its issuer (compared with the
//! CertificateRequest's certificate_authorities), its extended key usage, its validity and the
//! signature schemes its signature counts as (compared with signature_algorithms(_cert)).

use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate, X509Name};

use super::info::{name_text, CertError};

/// Facts of one certificate a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertFacts {
    /// Subject DN, RFC 4514 order.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Raw DER of the subject Name (what certificate_authorities lists).
    pub subject_raw: Vec<u8>,
    /// Raw DER of the issuer Name.
    pub issuer_raw: Vec<u8>,
    /// notBefore / notAfter, seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// `Some(true)` when extendedKeyUsage allows clientAuth (or anyExtendedKeyUsage),
    /// `Some(false)` when it is present without either, `None` without the extension (any use).
    pub client_auth: Option<bool>,
    /// The usages extendedKeyUsage lists, by name (`serverAuth`, `codeSigning`, ...).
    pub usages: Vec<String>,
    /// The certificate's signature algorithm by name (`sha256WithRSAEncryption`).
    pub signature: String,
    /// The TLS SignatureSchemes that name this signature algorithm (RFC 8446 §4.2.3): one of
    /// them must be in the server's signature_algorithms(_cert). Empty when unknown.
    pub schemes: Vec<u16>,
    /// Issuer and subject are the same name.
    pub self_issued: bool,
}

/// Reads a client certificate's facts.
pub fn client_cert_facts(der: &[u8]) -> Result<ClientCertFacts, CertError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertError(format!("{e}")))?;
    let mut client_auth = None;
    let mut usages = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::ExtendedKeyUsage(eku) = ext.parsed_extension() {
            let named = [
                (eku.server_auth, "serverAuth"),
                (eku.client_auth, "clientAuth"),
                (eku.code_signing, "codeSigning"),
                (eku.email_protection, "emailProtection"),
                (eku.time_stamping, "timeStamping"),
                (eku.ocsp_signing, "OCSPSigning"),
                (eku.any, "anyExtendedKeyUsage"),
            ];
            usages = named
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| n.to_string())
                .collect();
            usages.extend(eku.other.iter().map(|o| o.to_id_string()));
            client_auth = Some(eku.client_auth || eku.any);
        }
    }
    let oid = cert.signature_algorithm.algorithm.to_id_string();
    let (signature, schemes): (&str, &[u16]) = match oid.as_str() {
        "1.2.840.113549.1.1.4" => ("md5WithRSAEncryption", &[0x0101]),
        "1.2.840.113549.1.1.5" => ("sha1WithRSAEncryption", &[0x0201]),
        "1.2.840.113549.1.1.11" => ("sha256WithRSAEncryption", &[0x0401]),
        "1.2.840.113549.1.1.12" => ("sha384WithRSAEncryption", &[0x0501]),
        "1.2.840.113549.1.1.13" => ("sha512WithRSAEncryption", &[0x0601]),
        "1.2.840.113549.1.1.14" => ("sha224WithRSAEncryption", &[0x0301]),
        // RSASSA-PSS: rsa_pss_rsae_* or rsa_pss_pss_* by the hash in its parameters, which this
        // does not read: any PSS scheme counts.
        "1.2.840.113549.1.1.10" => (
            "RSASSA-PSS",
            &[0x0804, 0x0805, 0x0806, 0x0809, 0x080a, 0x080b],
        ),
        "1.2.840.10045.4.1" => ("ecdsa-with-SHA1", &[0x0203]),
        "1.2.840.10045.4.3.1" => ("ecdsa-with-SHA224", &[0x0303]),
        "1.2.840.10045.4.3.2" => ("ecdsa-with-SHA256", &[0x0403]),
        "1.2.840.10045.4.3.3" => ("ecdsa-with-SHA384", &[0x0503]),
        "1.2.840.10045.4.3.4" => ("ecdsa-with-SHA512", &[0x0603]),
        "1.2.840.10040.4.3" => ("dsa-with-SHA1", &[0x0202]),
        "1.3.101.112" => ("ED25519", &[0x0807]),
        "1.3.101.113" => ("ED448", &[0x0808]),
        _ => ("", &[]),
    };
    let subject_raw = cert.subject().as_raw().to_vec();
    let issuer_raw = cert.issuer().as_raw().to_vec();
    Ok(ClientCertFacts {
        subject: name_text(cert.subject()),
        issuer: name_text(cert.issuer()),
        self_issued: subject_raw == issuer_raw,
        subject_raw,
        issuer_raw,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        client_auth,
        usages,
        signature: if signature.is_empty() {
            oid
        } else {
            signature.to_string()
        },
        schemes: schemes.to_vec(),
    })
}

/// A DER distinguished name (a certificate_authorities entry) as RFC 4514 text; its hex when
/// it does not decode.
pub fn dn_text(der: &[u8]) -> String {
    match X509Name::from_der(der) {
        Ok((_, name)) => name_text(&name),
        Err(_) => format!("#{}", hex::encode(der)),
    }
}

/// Seconds since the epoch as RFC 3339 UTC.
pub fn time_text(secs: i64) -> String {
    super::info::rfc3339_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test PKI's client certificate (samples/pki, made by samples/make_samples.sh).
    #[test]
    fn reads_the_sample_client_certificate() {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/pki/client.pem"
        ))
        .unwrap();
        let der = pem_der(&pem);
        let f = client_cert_facts(&der).unwrap();
        assert_eq!(f.subject, "CN=tlscap test client, O=tlscap tests");
        assert_eq!(f.issuer, "CN=tlscap Test Intermediate CA, O=tlscap tests");
        assert_eq!(f.client_auth, Some(true));
        assert_eq!(f.usages, ["clientAuth"]);
        assert_eq!(f.signature, "sha256WithRSAEncryption");
        assert_eq!(f.schemes, [0x0401]);
        assert!(!f.self_issued);
        assert_eq!(dn_text(&f.issuer_raw), f.issuer);
    }

    #[test]
    fn a_server_certificate_lacks_client_auth() {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/pki/server.pem"
        ))
        .unwrap();
        let f = client_cert_facts(&pem_der(&pem)).unwrap();
        assert_eq!(f.client_auth, Some(false));
        assert_eq!(f.usages, ["serverAuth"]);
    }

    #[test]
    fn undecodable_names_print_as_hex() {
        assert_eq!(dn_text(&[0x30, 0x03, 0x01]), "#300301");
    }

    fn pem_der(pem: &str) -> Vec<u8> {
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .unwrap()
            .1
            .contents
    }
}
