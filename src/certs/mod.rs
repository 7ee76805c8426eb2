//! Certificates: display fields (x509-parser) and, later, chain and hostname checks
//! (rustls-webpki).

use serde::Serialize;

/// Display fields of one certificate, as reported in `server_chain` / `client_chain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CertInfo {
    /// Subject DN, RFC 4514 string (e.g. `CN=api.example.com, O=Example`).
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// DNS names from subjectAltName.
    pub san_dns: Vec<String>,
    /// IP addresses from subjectAltName.
    pub san_ip: Vec<String>,
    /// notBefore, RFC 3339 UTC.
    pub not_before: String,
    /// notAfter, RFC 3339 UTC.
    pub not_after: String,
    /// Serial number, lower-case hex with colons.
    pub serial: String,
    /// SHA-256 of the DER, lower-case hex.
    pub sha256: String,
    /// Public key, e.g. `RSA 2048`, `EC P-256`, `Ed25519`.
    pub key: String,
    /// Signature algorithm, e.g. `sha256WithRSAEncryption`, `ecdsa-with-SHA256`.
    pub signature: String,
}

mod info;
pub use info::{summarize, CertError};
