//! Rules that turn a connection's facts into diagnoses.
//!
//! Each rule reads plain facts (the handshake summary, the TCP summary, the chain check) and
//! returns [`Finding`]s with stable ids, one-sentence messages carrying concrete values, evidence
//! citing packet numbers, and a remediation naming the side that must change. Rules that compare
//! connections with each other (e.g. `sni-gated-client-auth`) run in [`cross_connection`] after
//! every connection of a batch is known.

use serde::Serialize;
use std::borrow::Cow;

mod alerts;
mod certs;
mod http;
pub use certs::{chain_findings, CERTIFICATE_IDS};
mod rules;
pub use rules::{
    connection_findings, cross_connection, glob_match, Candidate, ClientAuthServers, CrossFacts,
    FindingsConfig, Observed, ServerPattern,
};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Likely to cause trouble.
    Warning,
    /// Explains a failure.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One diagnosis attached to a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id, e.g. `missing-sni`.
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// One sentence with the concrete values.
    pub message: String,
    /// Packet numbers and fields that prove it.
    pub evidence: String,
    /// What to change, and on which side. Usually its rule's fixed text, borrowed rather than
    /// copied per finding (and held by number in spill frames, see `app::spill`).
    pub remediation: Cow<'static, str>,
}

/// Every finding id tlscap can report, in documentation order.
pub const ALL_IDS: &[&str] = &[
    "missing-sni",
    "sni-gated-client-auth",
    "client-cert-not-requested",
    "client-cert-missing",
    "tls-alert",
    "chain-incomplete",
    "chain-untrusted",
    "chain-order",
    "hostname-mismatch",
    "cert-expired",
    "cert-not-yet-valid",
    "self-signed",
    "weak-signature",
    "weak-key",
    "cert-revoked",
    "obsolete-version",
    "weak-cipher",
    "tcp-connect-timeout",
    "tcp-refused",
    "tcp-reset",
    "handshake-stalled",
    "read-timeout",
    "not-tls",
    "http-unauthorized",
    "credentials-in-url",
    "cleartext-credentials",
    "sensitive-get",
];

#[cfg(test)]
mod tests {
    #[test]
    fn certificate_ids_are_finding_ids() {
        for id in super::CERTIFICATE_IDS {
            assert!(super::ALL_IDS.contains(id), "{id}");
        }
    }
}
