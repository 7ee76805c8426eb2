//! The rules of QUIC connections that stand for the TCP ones: an unanswered client (`quic-blocked`)
//! and a capture of the client's side only.

use super::{finding, Finding, FindingKind, Severity};
use crate::flow::{Direction, TcpSummary};
use crate::record::{ConnectionRecord, QuicRecord};
use crate::tls::HandshakeSummary;

/// `quic-blocked` when the client's Initials were retransmitted with no answer; `one-sided-capture`
/// when the server is silent in the capture yet the client's packets prove it answered.
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
    if quic.client_initial_retransmissions == 0 {
        return;
    }
    if tcp.no_server_in_capture {
        // Only clients' datagrams were captured (a filter or a tap on one direction): the
        // server may well have answered.
        out.push(finding(
            FindingKind::OneSidedCapture,
            Severity::Info,
            format!("The capture holds no packet from any QUIC server, only clients' datagrams: nothing is concluded from {}'s apparent silence (capture both directions to tell a blocked path from a one-sided capture).", r.server),
            format!("{} Initials from the client (first in packet {first}); no datagram from any server in the capture.", tcp.dir_packets[client]),
        ));
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
