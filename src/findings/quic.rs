//! The rules of QUIC connections that stand for the TCP ones: an unanswered client (`quic-blocked`,
//! `quic-initial-unanswered`) and a capture of the client's side only.

use super::{finding, Finding, FindingKind, Severity};
use crate::flow::{Direction, TcpSummary};
use crate::quic::wire;
use crate::record::{ConnectionRecord, QuicRecord};
use crate::tls::HandshakeSummary;

/// `quic-blocked` when the client's Initials were retransmitted with no answer,
/// `quic-initial-unanswered` when one Initial was not; `one-sided-capture` when the server is
/// silent in the capture yet the client's packets prove it answered, or the capture holds no
/// QUIC server at all.
pub(super) fn quic_rules(
    r: &ConnectionRecord,
    quic: &QuicRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
    out: &mut Vec<Finding>,
) {
    let client = Direction::ToServer.idx();
    if tcp.dir_packets[Direction::ToClient.idx()] > 0 || tcp.dir_packets[client] == 0 {
        return;
    }
    let first = tcp.first.packet;
    if hs.encrypted_records[client] > 0 {
        // Handshake or 1-RTT packets need the server's Initial and Handshake keys.
        out.push(finding(
            FindingKind::OneSidedCapture,
            Severity::Info,
            format!("The capture shows only the client's packets: it sent Handshake or 1-RTT packets, which QUIC does only once the server answered its Initial, none of which the capture holds; nothing is concluded from {}'s apparent silence.", r.server),
            format!("{} packets from the client (first {first}), none from {}.", tcp.dir_packets[client], r.server),
        ));
        return;
    }
    if tcp.no_server_in_capture {
        // Only clients' datagrams were captured (a filter or a tap on one direction): the
        // server may well have answered.
        let initials = tcp.dir_packets[client];
        out.push(finding(
            FindingKind::OneSidedCapture,
            Severity::Info,
            format!("The capture holds no packet from any QUIC server, only clients' datagrams: nothing is concluded from {}'s apparent silence (capture both directions to tell a blocked path from a one-sided capture).", r.server),
            format!(
                "{initials} Initial{} from the client (first in packet {first}); no datagram from any server in the capture.",
                if initials == 1 { "" } else { "s" }
            ),
        ));
        return;
    }
    if quic.client_initial_retransmissions == 0 {
        out.push(lone_initial(r, quic, tcp));
        return;
    }
    let last = tcp.last_data[client].map_or(first, |p| p.packet);
    let waited = tcp.last.ts.seconds_since(tcp.first.ts).max(0.0);
    let base = format!(
        "The client sent its Initial (ClientHello) to {} and repeated it {} over {waited:.1} s, and the server never answered: UDP to port {} is likely filtered",
        r.server,
        match quic.client_initial_retransmissions {
            1 => "once".to_string(),
            n => format!("{n} times"),
        },
        r.server.port()
    );
    let evidence = format!(
        "Client Initials in packets {first}..{last}, no packet from {}",
        r.server
    );
    let (severity, message, evidence) = match quic.tcp_fallback_packet {
        Some(syn) => (
            Severity::Warning,
            format!("{base}; the client fell back to TCP (slower: it waited for QUIC first)."),
            format!("{evidence}; TCP SYN to {} in packet {syn}.", r.server.ip()),
        ),
        None => (
            Severity::Error,
            format!("{base}, and no TCP connection to the server follows in the capture."),
            format!(
                "{evidence}; no TCP SYN to {} after packet {first}.",
                r.server.ip()
            ),
        ),
    };
    out.push(finding(
        FindingKind::QuicBlocked,
        severity,
        message,
        evidence,
    ));
}

/// A client repeats an unanswered Initial once its first probe timeout expires: about 1 s with
/// the initial RTT of RFC 9002 (333 ms; PTO = 3 × RTT), sooner in clients that assume less.
const FIRST_INITIAL_PTO_SECS: f64 = 1.0;

/// `quic-initial-unanswered`: one Initial and nothing from the server. Without a repeat there
/// is no sign the client waited for an answer, so the connection's fate is unknown (the QUIC
/// counterpart of `tcp-syn-unanswered`).
fn lone_initial(r: &ConnectionRecord, quic: &QuicRecord, tcp: &TcpSummary) -> Finding {
    let first = tcp.first;
    let watched = tcp.seen_until.ts.seconds_since(first.ts).max(0.0);
    let message = if watched < FIRST_INITIAL_PTO_SECS {
        format!(
            "The client's Initial (ClientHello) to {} got no QUIC answer before the capture ended {watched:.3} s later, too soon to tell whether the server would have answered.",
            r.server
        )
    } else {
        format!(
            "The client's Initial (ClientHello) to {} got no QUIC answer in the capture, yet the client never repeated it in the {watched:.3} s the capture went on: the answer took another path, or the client gave up on this attempt, so its fate is unknown.",
            r.server
        )
    };
    let fallback = quic
        .tcp_fallback_packet
        .map(|syn| format!("; TCP SYN to {} in packet {syn}", r.server.ip()))
        .unwrap_or_default();
    finding(
        FindingKind::QuicInitialUnanswered,
        Severity::Info,
        message,
        format!(
            "Initial in packet {}, not repeated; no QUIC packet from the server{fallback}; the capture goes on to packet {}.",
            first.packet, tcp.seen_until.packet
        ),
    )
}

/// How long the capture must go on after a Version Negotiation for a client that did not start
/// over to have given up: a client answers it at once (RFC 9000 §6.2), as soon as it reads it.
const RESTART_WAIT_SECS: f64 = 1.0;

/// `quic-version-negotiation`: the server answered the client's Initial with Version
/// Negotiation. Info when the client started over with a version offered, or when its first
/// version was a reserved (GREASE) one, a probe of negotiation; an error when it did not start
/// over and no TCP connection followed (a warning when one did).
pub(super) fn version_negotiation(
    r: &ConnectionRecord,
    quic: &QuicRecord,
    tcp: &TcpSummary,
    out: &mut Vec<Finding>,
) {
    let Some(vn) = quic.version_negotiation_packet else {
        return;
    };
    let offered = quic.version_negotiation.join(", ");
    let first_name = quic.restarted_from.as_deref().unwrap_or(&quic.version);
    let grease = wire::is_grease(quic.first_version);
    let first_version = if grease {
        format!(
            "0x{:08x}, a reserved (GREASE) version no server speaks, sent to exercise version negotiation",
            quic.first_version
        )
    } else {
        first_name.to_string()
    };
    let initial = format!(
        "Client Initial ({first_name}) in packet {}; Version Negotiation in packet {}",
        tcp.first.packet, vn.packet
    );
    if let Some(restart) = quic.restart_packet {
        out.push(
            finding(
                FindingKind::QuicVersionNegotiation,
                Severity::Info,
                format!(
                    "{} does not speak the version of the client's first Initial ({first_version}); it answered with Version Negotiation offering {offered}, and the client started over with {}: one round trip more, nothing failed.",
                    r.server, quic.version
                ),
                format!(
                    "{initial}; the client's Initial with {} in packet {restart}.",
                    quic.version
                ),
            )
            .with_fix("Nothing to fix: version negotiation worked. To save the round trip, start with a version the server offers."),
        );
        return;
    }
    if grease {
        out.push(
            finding(
                FindingKind::QuicVersionNegotiation,
                Severity::Info,
                format!(
                    "The client's Initial used {first_version}: a probe, not an attempt to connect. {} answered as it should, with Version Negotiation offering {offered}; the client did not go on with one of them in the capture.",
                    r.server
                ),
                format!("{initial}; no Initial from the client after it."),
            )
            .with_fix("Nothing to fix: the server negotiates versions as it should."),
        );
        return;
    }
    let waited = tcp.seen_until.ts.seconds_since(vn.ts).max(0.0);
    let refused = format!(
        "{} does not speak {first_version}, the version of the client's Initial, and offers {offered}",
        r.server
    );
    let (severity, message, evidence) = match quic.tcp_fallback_packet {
        Some(syn) => (
            Severity::Warning,
            format!("{refused}; the client did not start over with one of them and fell back to TCP (slower: a round trip lost on QUIC first)."),
            format!("{initial}; TCP SYN to {} in packet {syn}.", r.server.ip()),
        ),
        None if waited < RESTART_WAIT_SECS => (
            Severity::Info,
            format!("{refused}; the capture ended {waited:.3} s later, too soon to tell whether the client would start over with one of them."),
            format!("{initial}; the capture goes on to packet {}.", tcp.seen_until.packet),
        ),
        None => (
            Severity::Error,
            format!("No QUIC version in common: {refused}, none of which the client started over with in the {waited:.1} s the capture went on, and no TCP connection to the server follows: the connection failed."),
            format!(
                "{initial}; no Initial from the client after it, and no TCP SYN to {} through packet {}.",
                r.server.ip(),
                tcp.seen_until.packet
            ),
        ),
    };
    out.push(finding(
        FindingKind::QuicVersionNegotiation,
        severity,
        message,
        evidence,
    ));
}
