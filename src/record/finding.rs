//! A finding as the record carries it: its kind (from the catalogue in [`super::kind`]), severity,
//! the sentences that prove it and what to change.

use super::kind::FindingKind;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// How bad a finding is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// What was found; serialised as its stable id, e.g. `missing-sni`.
    #[serde(rename = "id")]
    pub kind: FindingKind,
    /// Severity.
    pub severity: Severity,
    /// One sentence with the concrete values.
    pub message: String,
    /// Packet numbers and fields that prove it.
    pub evidence: String,
    /// What to change, and on which side: the catalogue's fix ([`FindingKind::fix`]), borrowed,
    /// unless the rule words one for this connection.
    #[schemars(with = "String")]
    pub remediation: Cow<'static, str>,
    /// It explains this connection's observed failure (its cause, or a symptom of the cause).
    pub observed: bool,
    /// For a symptom (e.g. the alert a peer sent): the cause it follows from.
    pub follows: Option<FindingKind>,
}

impl Finding {
    /// A finding with its kind's fix from the catalogue.
    pub fn new(kind: FindingKind, severity: Severity, message: String, evidence: String) -> Self {
        Finding {
            kind,
            severity,
            message,
            evidence,
            remediation: Cow::Borrowed(kind.fix()),
            observed: false,
            follows: None,
        }
    }

    /// The same finding with a fix worded for this connection.
    pub fn with_fix(mut self, fix: impl Into<Cow<'static, str>>) -> Self {
        self.remediation = fix.into();
        self
    }
}
