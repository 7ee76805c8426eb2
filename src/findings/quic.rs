//! The rules of QUIC connections that stand for the TCP ones: an unanswered client (`quic-blocked`,
//! `quic-initial-unanswered`) and a capture of the client's side only.

use super::{finding, Finding, FindingKind, Severity};
use crate::flow::{Direction, TcpSummary};
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
