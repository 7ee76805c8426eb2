//! Rules that turn a connection's facts into diagnoses.
//!
//! Each rule reads plain facts (the handshake summary, the TCP summary, the chain check) and
//! returns [`Finding`]s with stable ids, one-sentence messages carrying concrete values, evidence
//! citing packet numbers, and a remediation naming the side that must change. Rules that compare
//! connections with each other (e.g. `sni-gated-client-auth`) run in [`cross_connection`] after
//! every connection of a batch is known.

mod alerts;
mod certs;
mod ciphers;
mod clientcert;
mod consistency;
mod dtls;
mod edges;
mod flood;
mod hmac;
mod http;
mod icmp;
mod mtu;
mod negotiation;
mod outcome;
mod quic;
mod stopped;
pub use crate::record::{Finding, FindingKind, Severity, UnknownFindingId};
pub use certs::{chain_findings, CERTIFICATE_KINDS};
pub use consistency::{ChainConsistency, ChainSeen, MAX_CHAINS, MAX_SERVERS};
pub use dtls::srtp_certificates;
pub use edges::{EdgeFacts, FileEdges, EDGE_SLACK_S, MAX_SPLIT_GAP_S};
pub use flood::{Attempt, FLOOD_MIN_ATTEMPTS, FLOOD_MIN_RATE, FLOOD_MIN_SOURCES, SCAN_MIN_PORTS};
pub use icmp::{ends_key, unseen_attempts, IcmpReports, ICMP_LATE_S, MAX_SEEN_ENDS};
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

/// `memory-budget`: what the budget left out of this connection's analysis (finalized early,
/// alerts counted but not listed); nothing when it left nothing out.
pub fn budget_findings(
    tcp: &crate::flow::TcpSummary,
    alerts_listed: usize,
    alerts_not_listed: u64,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if tcp.end_reason == crate::flow::EndReason::Evicted {
        out.push(finding(
            FindingKind::MemoryBudget,
            Severity::Info,
            format!(
                "Finalized early, still open, after packet {}: the connection table was over its memory budget (--max-memory) and this was its least recently active connection; anything it did later is not in this record.",
                tcp.last.packet
            ),
            format!(
                "Last packet {}; the capture was at packet {} when the connection was finalized.",
                tcp.last.packet, tcp.seen_until.packet
            ),
        ));
    }
    if alerts_not_listed > 0 {
        out.push(finding(
            FindingKind::MemoryBudget,
            Severity::Info,
            format!(
                "{} alerts: the first {alerts_listed} are listed, the other {alerts_not_listed} only counted.",
                alerts_not_listed + alerts_listed as u64
            ),
            format!("Alerts past the first {alerts_listed} of a connection are counted, not listed."),
        ));
    }
    out
}

/// Completes a record whose own rules have run: the cross-connection findings the batch's
/// servers add, whether its file's start or end cuts it, then its outcome settled (cause,
/// observed findings, order).
pub fn complete(
    r: &mut crate::record::ConnectionRecord,
    facts: &CrossFacts,
    servers: &ClientAuthServers,
    cfg: &FindingsConfig,
) {
    servers.add_findings(r, facts, cfg);
    servers.edges.apply(r);
    servers.icmp.apply(r);
    settle(r);
}
