//! The rules of DTLS associations that stand for the TCP ones: a client whose ClientHello was
//! never answered (`dtls-unanswered`), and a capture of the client's side only.

use super::{finding, Finding, FindingKind, Severity};
use crate::flow::{Direction, TcpSummary};
use crate::record::{ConnectionRecord, DtlsRecord};

/// DTLS's first retransmission timer (RFC 6347 §4.2.4.1): a client that waited less has not
/// yet shown that no answer will come.
const FIRST_RETRANSMIT_SECS: f64 = 1.0;

/// `dtls-unanswered` when the client's hello was repeated for longer than DTLS's first
/// retransmission timeout with nothing from the server; `one-sided-capture` when the server is
/// silent in the capture yet the client's records prove it answered.
pub(super) fn dtls_rules(
    r: &ConnectionRecord,
    dtls: &DtlsRecord,
    tcp: &TcpSummary,
    out: &mut Vec<Finding>,
) {
    role_conflict(r, dtls, tcp, out);
    let client = Direction::ToServer.idx();
    if tcp.dir_packets[Direction::ToClient.idx()] > 0 || tcp.dir_packets[client] == 0 {
        return;
    }
    let first = tcp.first.packet;
    let sent = tcp.dir_packets[client];
    if tcp.midstream || dtls.protected_records[client] > 0 {
        // Protected records (or a flight past the hello) come only after the server's flight.
        out.push(finding(
            FindingKind::OneSidedCapture,
            Severity::Info,
            format!("The capture shows only the client's datagrams of this association, and they go past the ClientHello, which DTLS does only once the server answered: nothing is concluded from {}'s apparent silence.", r.server),
            format!("{sent} datagrams from the client (first in packet {first}), none from {}.", r.server),
        ));
        return;
    }
    if tcp.no_server_in_capture {
        out.push(finding(
            FindingKind::OneSidedCapture,
            Severity::Info,
            format!("The capture holds no datagram from any DTLS server, only clients': nothing is concluded from {}'s apparent silence (capture both directions to tell a blocked path from a one-sided capture).", r.server),
            format!("{sent} datagrams from the client (first in packet {first}); no DTLS datagram from any server in the capture."),
        ));
        return;
    }
    let waited = tcp.last.ts.seconds_since(tcp.first.ts).max(0.0);
    let last = tcp.last_data[client].map_or(first, |p| p.packet);
    if dtls.client_retransmissions == 0 || waited < FIRST_RETRANSMIT_SECS {
        out.push(finding(
            FindingKind::DtlsUnanswered,
            Severity::Info,
            format!("The client's ClientHello to {} got no answer in the capture, but the capture shows no wait past DTLS's first retransmission timer ({FIRST_RETRANSMIT_SECS:.0} s): the capture may simply end before the answer.", r.server),
            format!("Client datagrams in packets {first}..{last} over {waited:.3} s, {} repeated hello fragments; no datagram from {}.", dtls.client_retransmissions, r.server),
        ));
        return;
    }
    out.push(finding(
        FindingKind::DtlsUnanswered,
        Severity::Error,
        format!(
            "The client sent its ClientHello to {} and repeated it {} over {waited:.1} s, and the server never answered: UDP to port {} is filtered, or nothing serves DTLS there.",
            r.server,
            match dtls.client_retransmissions {
                1 => "once".to_string(),
                n => format!("{n} times"),
            },
            r.server.port()
        ),
        format!(
            "Client datagrams in packets {first}..{last}, no datagram from {}.",
            r.server
        ),
    ));
}

/// `dtls-role-conflict`: both peers sent a ClientHello, so neither answers as a server. In
/// WebRTC the SDP's `a=setup` decides who is the DTLS client; both ends taking `active` (or a
/// gateway rewriting the offer) ends like this.
fn role_conflict(
    r: &ConnectionRecord,
    dtls: &DtlsRecord,
    tcp: &TcpSummary,
    out: &mut Vec<Finding>,
) {
    let Some(theirs) = dtls.server_client_hello_packet else {
        return;
    };
    if r.version.is_some() {
        // A ServerHello followed: one side gave way, nothing failed for it.
        return;
    }
    let first = tcp.first.packet;
    out.push(finding(
        FindingKind::DtlsRoleConflict,
        Severity::Error,
        format!(
            "Both peers sent a ClientHello: {} and {} each took the DTLS client role, so neither answered as the server.",
            r.client, r.server,
        ),
        format!("ClientHello from {} in packet {first}; ClientHello from {} in packet {theirs}.", r.client, r.server),
    ));
}

/// TLS extension `use_srtp` (RFC 5764): DTLS keying SRTP, as WebRTC does.
const USE_SRTP: u16 = 14;

/// Certificate findings that do not apply to DTLS-SRTP (WebRTC): its peers check each other's
/// certificate against the fingerprint exchanged in signalling (RFC 8827), so self-signed,
/// untrusted, name and validity findings are no risk there. They stay, as info, saying so.
const FINGERPRINT_AUTHENTICATED: &[FindingKind] = &[
    FindingKind::SelfSigned,
    FindingKind::ChainIncomplete,
    FindingKind::ChainUntrusted,
    FindingKind::ChainOrder,
    FindingKind::HostnameMismatch,
    FindingKind::CertExpired,
    FindingKind::CertNotYetValid,
    FindingKind::CertExpiring,
];

/// Lowers the certificate findings of a DTLS-SRTP association to info.
pub fn srtp_certificates(r: &mut ConnectionRecord, hs: &crate::tls::HandshakeSummary) {
    if r.dtls.is_none() {
        return;
    }
    let srtp = hs
        .client_hello
        .as_ref()
        .is_some_and(|ch| ch.extensions.contains(&USE_SRTP));
    if !srtp {
        return;
    }
    for f in r
        .findings
        .iter_mut()
        .filter(|f| FINGERPRINT_AUTHENTICATED.contains(&f.kind))
    {
        f.severity = Severity::Info;
        f.message.push_str(" This is DTLS-SRTP (use_srtp, as WebRTC uses): the peers check certificates against the fingerprints exchanged in signalling, not against a CA, so this is no risk here.");
    }
}
