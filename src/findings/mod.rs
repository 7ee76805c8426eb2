//! Rules that turn a connection's facts into diagnoses.
//!
//! Each rule reads plain facts (the handshake summary, the TCP summary, the chain check) and
//! returns [`Finding`]s with stable ids, one-sentence messages carrying concrete values, evidence
//! citing packet numbers, and a remediation naming the side that must change. Rules that compare
//! connections with each other (e.g. `sni-gated-client-auth`) run in [`cross_connection`] after
//! every connection of a batch is known.

mod alerts;
mod certs;
mod http;
mod outcome;
mod quic;
pub use crate::record::{Finding, FindingKind, Severity, UnknownFindingId};
pub use certs::{chain_findings, CERTIFICATE_KINDS};
pub use outcome::{both_sides_done, handshake_done, judge, settle, status};
mod rules;
pub use rules::{
    connection_findings, cross_connection, glob_match, Candidate, ClientAuthServers, CrossFacts,
    FindingsConfig, Observed, ServerPattern,
};

/// A finding with its kind's fix from the catalogue.
fn finding(kind: FindingKind, severity: Severity, message: String, evidence: String) -> Finding {
    Finding::new(kind, severity, message, evidence)
}

/// Completes a record whose own rules have run: the cross-connection findings the batch's
/// servers add, then its outcome settled (cause, observed findings, order).
pub fn complete(
    r: &mut crate::record::ConnectionRecord,
    facts: &CrossFacts,
    servers: &ClientAuthServers,
    cfg: &FindingsConfig,
) {
    servers.add_findings(r, facts, cfg);
    settle(r);
}
