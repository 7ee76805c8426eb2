//! Rules that turn a connection's facts into diagnoses.

use serde::Serialize;

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
    /// What to change, and on which side.
    pub remediation: String,
}
