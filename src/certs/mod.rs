//! Certificates: display fields (x509-parser), chain and hostname checks (rustls-webpki),
//! revocation (CRL files, stapled OCSP).
//!
//! [`summarize`] reads one certificate. [`Validator`] checks a server chain as sent against the
//! trust anchors at the capture's own time and caches per distinct chain.

use serde::{Deserialize, Serialize};

/// A cheap cache key for DER certificates (one, or a chain as sent): each one's length and
/// last 32 bytes (the signature, distinct per certificate). Caches confirm a hit against the
/// DER, so this only has to spread, and it avoids hashing whole certificates per connection.
pub fn der_key<'a>(ders: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = foldhash::fast::FixedState::default().build_hasher();
    for d in ders {
        d.len().hash(&mut h);
        d.get(d.len().saturating_sub(32)..)
            .unwrap_or(d)
            .hash(&mut h);
    }
    h.finish()
}

/// Display fields of one certificate, as reported in `server_chain` / `client_chain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
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
    /// Issuer equals subject and the certificate signs itself (signature checked with its own key;
    /// when ring cannot check the algorithm, the key identifiers must agree).
    pub self_signed: bool,
    /// basicConstraints says CA.
    pub is_ca: bool,
    /// Most specific (last) commonName of the subject.
    pub common_name: Option<String>,
    /// Public key size in bits (0 when unknown).
    pub key_bits: u32,
}

mod client;
pub mod hostname;
mod info;
pub mod revocation;
mod validate;
pub use client::{client_cert_facts, dn_text, time_text, ClientCertFacts};
pub use info::{key_family, summarize, CertError, KeyFamily};
pub use validate::{
    BrokenSignature, CacheStats, CertTime, ChainCheck, HostnameCheck, InvalidPath, OrderProblem,
    PathStatus, Revoked, StapledOcsp, TrustOptions, UnparsableCert, Validator, WeakKey,
    WeakSignature, SYSTEM_CA_BUNDLES, WEBPKI_ROOTS_VERSION,
};

/// A trust or revocation input the [`Validator`] could not use; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A CA file holds no certificate.
    #[error(
        "{path}: no certificate found (expected PEM \"CERTIFICATE\" blocks or one DER certificate)"
    )]
    NoCertificate {
        /// The file.
        path: String,
    },
    /// A certificate in a CA file is not usable as a trust anchor.
    #[error("{path}: certificate #{index} is not a usable trust anchor: {reason}")]
    BadAnchor {
        /// The file.
        path: String,
        /// Position of the certificate in the file (0-based).
        index: usize,
        /// Why.
        reason: String,
    },
    /// `system_roots` was asked for but no CA bundle exists on this machine.
    #[error("no system CA bundle found (tried {tried})")]
    NoSystemRoots {
        /// The paths tried, comma-separated.
        tried: String,
    },
    /// A CRL file holds no parsable CRL.
    #[error("{path}: not a CRL (DER or PEM \"X509 CRL\"): {reason}")]
    BadCrl {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// An OCSP response that is not RFC 6960 DER.
    #[error("unparsable OCSP response: {0}")]
    BadOcsp(String),
}
