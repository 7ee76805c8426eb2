//! Outcome and cause: whether the capture shows a connection fail, and which finding explains it.
//!
//! An `error` is a finding that explains an observed failure of this connection. Everything
//! else the rules find (a chain the client accepted anyway, a missing SNI on a connection that
//! worked) is a risk: a `warning`. So once a connection's findings are all known (cross-connection
//! ones included), [`settle`] picks the primary cause of a failure, marks it and the symptoms
//! that follow from it as observed errors, and lowers every other error to a warning.

use super::{Finding, FindingKind as K, Severity};
use crate::flow::{Direction, Side};
use crate::record::{
    AlertDescription, AlertLevel, Cause, ConnectionRecord, ConnectionStatus, FailedAt, Outcome,
};
use crate::tls::HandshakeSummary;

/// The server finished its side of the handshake (its ChangeCipherSpec, or encrypted records
/// after its ServerHello).
pub fn handshake_done(hs: &HandshakeSummary) -> bool {
    hs.server_hello.is_some()
        && (hs.change_cipher_spec[Direction::ToClient.idx()].is_some()
            || hs.encrypted_records[Direction::ToClient.idx()] > 0)
}

/// One word for the table's status column, from the handshake and the findings.
pub fn status(
    hs: &HandshakeSummary,
    findings: &[crate::findings::Finding],
    http_seen: bool,
) -> ConnectionStatus {
    use crate::findings::FindingKind as K;
    let has = |kind: K| {
        findings
            .iter()
            .any(|f| f.kind == kind && f.severity == crate::findings::Severity::Error)
    };
    if has(K::TcpRefused) || has(K::ProxyRefused) || has(K::QuicVersionNegotiation) {
        ConnectionStatus::Refused
    } else if has(K::TcpConnectTimeout)
        || has(K::ReadTimeout)
        || has(K::TcpStaleState)
        || has(K::TcpSynAckUnanswered)
    {
        // The attempt never completed: a SYN answered by a bare ACK, or a SYN-ACK the client
        // never acknowledged, ends like an unanswered SYN.
        ConnectionStatus::Timeout
    } else if has(K::NotTls) {
        ConnectionStatus::NotTls
    } else if has(K::MtuBlackHole) {
        // Full-size segments never arrive: the connection hangs whatever else it shows.
        ConnectionStatus::Stalled
    } else if hs.alerts.iter().any(|a| a.level == 2 && !a.encrypted) {
        ConnectionStatus::Alert
    } else if has(K::TcpReset) {
        ConnectionStatus::Reset
    } else if has(K::HandshakeStalled) || has(K::QuicBlocked) || has(K::DtlsUnanswered) {
        ConnectionStatus::Stalled
    } else if findings.iter().any(|f| f.kind == K::ClientAbandoned) {
        // The server's side may be done (TLS 1.3 finishes it first); the client's is not.
        ConnectionStatus::Incomplete
    } else if hs.client_hello.is_none() && http_seen {
        // A plain-HTTP connection (reported for the credentials it carried).
        ConnectionStatus::Cleartext
    } else if handshake_done(hs) {
        ConnectionStatus::Ok
    } else {
        ConnectionStatus::Incomplete
    }
}

/// Both sides finished the handshake: the server's side ([`handshake_done`]) and the client's
/// ChangeCipherSpec or an encrypted record from it (in TLS 1.3 the server finishes first, so a
/// client that resets after the server's flight failed in the handshake, not after it).
pub fn both_sides_done(hs: &HandshakeSummary) -> bool {
    handshake_done(hs)
        && (hs.change_cipher_spec[Direction::ToServer.idx()].is_some()
            || hs.encrypted_records[Direction::ToServer.idx()] > 0)
}

/// What the handshake and TCP facts say of a connection, before its findings are settled.
pub fn judge(record: &ConnectionRecord, handshake_done: bool) -> (Outcome, Option<FailedAt>) {
    let failing = |kind: K| {
        record
            .findings
            .iter()
            .any(|f| f.kind == kind && f.severity == Severity::Error)
    };
    let http_failed = record
        .http
        .iter()
        .any(|h| h.status.is_some_and(|s| s == 401 || s == 403))
        && failing(K::HttpUnauthorized)
        // A client certificate refused with HTTP 400 (nginx) or 403 right after the handshake.
        || failing(K::ClientCertRejected);
    let stage = if handshake_done {
        FailedAt::Http
    } else {
        FailedAt::Handshake
    };
    let has = |kind: K| record.findings.iter().any(|f| f.kind == kind);
    // Half the conversation is missing: neither success nor failure can be seen.
    if has(K::OneSidedCapture) {
        return (Outcome::Unknown, None);
    }
    if failing(K::TcpStaleState) || failing(K::TcpSynAckUnanswered) {
        return (Outcome::Failed, Some(FailedAt::Tcp));
    }
    match record.status {
        // The TCP connection to the proxy worked; the tunnel, the TLS handshake's first step,
        // did not.
        ConnectionStatus::Refused
            if failing(K::ProxyRefused) || failing(K::QuicVersionNegotiation) =>
        {
            (Outcome::Failed, Some(FailedAt::Handshake))
        }
        ConnectionStatus::Refused => (Outcome::Failed, Some(FailedAt::Tcp)),
        // Set with its outcome where the ICMP errors are matched; judged again, it stays.
        ConnectionStatus::Unreachable => (
            Outcome::Failed,
            Some(if record.transport == crate::record::Transport::Tcp {
                FailedAt::Tcp
            } else {
                FailedAt::Handshake
            }),
        ),
        ConnectionStatus::Timeout if failing(K::TcpConnectTimeout) => {
            (Outcome::Failed, Some(FailedAt::Tcp))
        }
        ConnectionStatus::Timeout => (Outcome::Failed, Some(FailedAt::Http)),
        ConnectionStatus::Stalled if failing(K::MtuBlackHole) && handshake_done => {
            (Outcome::Failed, Some(FailedAt::Http))
        }
        ConnectionStatus::NotTls | ConnectionStatus::Stalled => {
            (Outcome::Failed, Some(FailedAt::Handshake))
        }
        // TLS 1.3 rejects a client certificate after the server's Finished: still the
        // handshake, unless a request was already read.
        ConnectionStatus::Alert if record.http.is_empty() || failing(K::ClientCertRejected) => {
            (Outcome::Failed, Some(FailedAt::Handshake))
        }
        ConnectionStatus::Alert => (Outcome::Failed, Some(stage)),
        ConnectionStatus::Reset if failing(K::TcpReset) => (Outcome::Failed, Some(stage)),
        ConnectionStatus::Reset if handshake_done => (Outcome::Ok, None),
        ConnectionStatus::Reset => (Outcome::Unknown, None),
        ConnectionStatus::Ok | ConnectionStatus::Cleartext if http_failed => {
            (Outcome::Failed, Some(FailedAt::Http))
        }
        // The handshake completed but the client left without a request: it required a
        // protocol (h2) the server did not select.
        ConnectionStatus::Ok if failing(K::AlpnMismatch) => {
            (Outcome::Failed, Some(FailedAt::Handshake))
        }
        ConnectionStatus::Ok | ConnectionStatus::Cleartext => (Outcome::Ok, None),
        ConnectionStatus::Incomplete => (Outcome::Unknown, None),
    }
}

/// Certificate and chain findings a client's fatal alert can follow from, by alert.
fn certificate_causes(alert: Option<AlertDescription>) -> &'static [K] {
    use AlertDescription as A;
    let Some(alert) = alert else {
        return &[];
    };
    match alert {
        A::UNKNOWN_CA => &[
            K::ChainIncomplete,
            K::ChainUntrusted,
            K::SelfSigned,
            K::ChainInvalid,
        ],
        A::DECRYPT_ERROR => &[K::ChainInvalid],
        A::CERTIFICATE_EXPIRED => &[K::CertExpired, K::CertNotYetValid],
        A::CERTIFICATE_REVOKED => &[K::CertRevoked],
        A::BAD_CERTIFICATE | A::CERTIFICATE_UNKNOWN | A::UNSUPPORTED_CERTIFICATE => &[
            K::HostnameMismatch,
            K::ChainIncomplete,
            K::ChainUntrusted,
            K::ChainInvalid,
            K::SelfSigned,
            K::CertExpired,
            K::CertNotYetValid,
            K::CertRevoked,
            K::WeakSignature,
            K::WeakKey,
        ],
        A::PROTOCOL_VERSION => &[K::ObsoleteVersion],
        A::INSUFFICIENT_SECURITY => &[K::WeakCipher],
        _ => &[],
    }
}

/// The primary cause of a failure at `stage`, among the findings present.
pub(super) fn cause(record: &ConnectionRecord, stage: FailedAt) -> Option<K> {
    let has = |k: K| record.findings.iter().any(|f| f.kind == k);
    let first = |kinds: &[K]| kinds.iter().copied().find(|k| has(*k));
    match stage {
        FailedAt::Tcp => first(&[
            K::IcmpUnreachable,
            K::TcpRefused,
            K::TcpStaleState,
            K::TcpSynAckUnanswered,
            K::TcpConnectTimeout,
            K::TcpReset,
        ]),
        FailedAt::Handshake | FailedAt::Http => {
            if let Some(k) = first(&[
                K::IcmpUnreachable,
                K::ProxyRefused,
                K::NotTls,
                K::MtuBlackHole,
                // What the server refused (or the client did) right after the hellos: the
                // alert, reset or silence that follows is its symptom.
                K::NoCommonVersion,
                K::QuicVersionNegotiation,
                K::NoCommonCipher,
                K::NoCommonGroup,
                K::NoCommonSigalg,
                K::AlpnMismatch,
                K::HandshakeStalled,
                K::QuicBlocked,
                K::DtlsUnanswered,
                K::DtlsRoleConflict,
            ]) {
                return Some(k);
            }
            let fatal = record
                .alerts
                .iter()
                .find(|a| a.level == Some(AlertLevel::FATAL));
            if let Some(alert) = fatal {
                // The client refused a chain that other connections to the same server did
                // not get: the inconsistent pool is the cause, the chain's problem its detail.
                let inconsistent = record
                    .findings
                    .iter()
                    .any(|f| f.kind == K::CertInconsistent && f.severity == Severity::Error);
                let by_alert = match alert.from {
                    Side::Client if inconsistent => Some(K::CertInconsistent),
                    Side::Client => first(certificate_causes(alert.description)),
                    Side::Server => first(&[K::ClientCertRejected, K::ClientCertMissing]),
                };
                return by_alert.or_else(|| first(&[K::TlsAlert]));
            }
            // A 403 through a CONNECT or SOCKS tunnel may be the server refusing the proxy's
            // address: the certificate never asked for is then only a warning, not the cause.
            let not_requested = record
                .findings
                .iter()
                .any(|f| f.kind == K::ClientCertNotRequested && f.severity == Severity::Error);
            first(&[
                K::SniGatedClientAuth,
                if not_requested {
                    K::ClientCertNotRequested
                } else {
                    K::SniGatedClientAuth
                },
                K::ClientCertRejected,
                K::ClientCertMissing,
                K::HmacLengthMismatch,
                K::HmacClockSkew,
                K::HmacRejected,
                K::HttpUnauthorized,
                K::ReadTimeout,
                K::TcpReset,
                K::TlsAlert,
            ])
        }
    }
}

/// Findings that report the failure itself rather than its reason: they follow from the cause.
fn is_symptom(kind: K, cause: K) -> bool {
    matches!(
        kind,
        K::TlsAlert | K::HttpUnauthorized | K::TcpReset | K::HmacRejected
    ) || (kind == K::HandshakeStalled && cause == K::MtuBlackHole)
        // A server that closes on a ClientHello whose versions it refuses never answers it.
        || (cause == K::NoCommonVersion && kind == K::HandshakeStalled)
}

/// Settles a record whose findings are complete: its cause, which findings are observed, their
/// severities, and their order (cause, then its symptoms, then the rest worst first).
pub fn settle(record: &mut ConnectionRecord) {
    let cause = match (record.outcome, record.failed_at) {
        (Outcome::Failed, Some(stage)) => cause(record, stage),
        _ => None,
    };
    record.cause = match record.outcome {
        Outcome::Failed => Some(cause.map_or(Cause::Unknown, Cause::Finding)),
        _ => None,
    };
    for f in &mut record.findings {
        let observed = match cause {
            Some(c) if f.kind == c => true,
            Some(c)
                if (is_symptom(f.kind, c)
                    || (c == K::CertInconsistent
                        && super::CERTIFICATE_KINDS.contains(&f.kind)))
                    && f.severity == Severity::Error =>
            {
                f.follows = Some(c);
                true
            }
            _ => false,
        };
        f.observed = observed;
        if !observed && f.severity == Severity::Error {
            f.severity = Severity::Warning;
        }
    }
    record.findings.sort_by_key(|f: &Finding| {
        (
            std::cmp::Reverse(f.observed && f.follows.is_none()),
            std::cmp::Reverse(f.observed),
            std::cmp::Reverse(f.severity),
        )
    });
}
