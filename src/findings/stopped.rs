//! `capture-cut` for a connection the capture stops following before the capture itself ends:
//! its last packets demand an answer the protocol never leaves out (an acknowledgement, or the
//! sender's retransmission), none of which the capture holds although it goes on. The packets
//! that followed were not captured (an excerpt keeping each flow's first packets, a filter that
//! kept the hellos only, loss at the capture point): the outcome is `unknown`, which an
//! otherwise silent record would not say. Judged with the file's span, in [`super::FileEdges`].

use super::{finding, Finding, FindingKind as K, Severity};
use crate::flow::{Direction, Side, TcpSummary};
use crate::record::{ConnectionRecord, ConnectionStatus, Transport};

/// How long the capture must go on after a connection's last packet for a missing answer to be
/// the capture's: TCP acknowledges within a fraction of a second (delayed ACKs wait at most
/// 500 ms) and resends within about a second, as QUIC's probe timeout does.
pub const STOP_WATCH_S: f64 = 2.0;

/// The fix of a connection the capture stopped following: capture all of it.
const KEEP_EVERY_PACKET: &str = "Nothing to fix on this evidence: capture every packet of the connection (no per-flow packet limit, no filter that keeps only handshakes, a capture point that keeps up with the traffic) to see how it went.";

/// Findings that already say how a connection ended (or why its end is not shown).
const ENDINGS: &[K] = &[
    K::ClientAbandoned,
    K::NoClientHello,
    K::HandshakeStalled,
    K::OneSidedCapture,
    K::QuicInitialUnanswered,
    K::QuicVersionNegotiation,
    K::QuicBlocked,
    K::TcpSynUnanswered,
    K::TcpSynAckUnanswered,
    K::TcpConnectTimeout,
    K::TcpReset,
    K::ReadTimeout,
    K::MtuBlackHole,
];

/// What a connection's last packets left waiting for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// The server's SYN-ACK (this packet), neither acknowledged nor sent again; the answer to
    /// the client's `syns`-th SYN, `after` seconds from its first.
    SynAck { packet: u64, syns: u32, after: f64 },
    /// `bytes` of sequence space `from` sent, through `packet`, neither acknowledged nor sent
    /// again.
    Data { from: Side, bytes: u32, packet: u64 },
    /// A QUIC handshake the server had not finished; the server's last packet.
    QuicHandshake { server_last: u64 },
}

/// A span of capture time in the unit a reader takes in at once (stitched captures jump days).
fn span(secs: f64) -> String {
    match secs {
        s if s < 60.0 => format!("{s:.1} s"),
        s if s < 3600.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.0} days", s / 86_400.0),
    }
}

/// "2nd", "7th", "21st".
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

impl Stop {
    /// What `record` was left waiting for, when nothing else explains its end: incomplete, not
    /// closed, not retransmitting, both directions in the capture.
    pub fn of(record: &ConnectionRecord, tcp: &TcpSummary) -> Option<Stop> {
        if record.status != ConnectionStatus::Incomplete
            || record.findings.iter().any(|f| ENDINGS.contains(&f.kind))
        {
            return None;
        }
        match record.transport {
            Transport::Quic => {
                let quic = record.quic.as_deref()?;
                if quic.close.is_some() || !quic.version_negotiation.is_empty() {
                    return None;
                }
                let server_last = tcp.last_packet[Direction::ToClient.idx()]?.packet;
                Some(Stop::QuicHandshake { server_last })
            }
            Transport::Tcp => {
                if tcp.closed_by.is_some()
                    || tcp.unseen_direction().is_some()
                    || !record.http.is_empty()
                {
                    return None;
                }
                // SYNs (the first and its retransmissions), then one SYN-ACK, and nothing more.
                let syn_ack = tcp.first_syn_ack?;
                let only_the_opening = tcp.syn >= 1
                    && tcp.syn_ack == 1
                    && tcp.packets == u64::from(tcp.syn) + 1
                    && tcp.last.packet == syn_ack.packet;
                if !tcp.established && only_the_opening {
                    let after = tcp
                        .first_syn
                        .map_or(0.0, |syn| syn_ack.ts.seconds_since(syn.ts));
                    return Some(Stop::SynAck {
                        packet: syn_ack.packet,
                        syns: tcp.syn,
                        after,
                    });
                }
                if tcp.retransmissions > 0 {
                    return None;
                }
                let (dir, at) = [Direction::ToServer, Direction::ToClient]
                    .into_iter()
                    .filter(|d| tcp.unacked_at_end[d.idx()] > 0)
                    .filter_map(|d| tcp.last_data[d.idx()].map(|p| (d, p)))
                    .max_by_key(|(_, p)| p.packet)?;
                Some(Stop::Data {
                    from: dir.sender(),
                    bytes: tcp.unacked_at_end[dir.idx()],
                    packet: at.packet,
                })
            }
            Transport::Dtls => None,
        }
    }

    /// The finding for a connection whose last packet is `last`, after which its capture went
    /// on `watched` seconds: it stopped following the connection, or (watched briefly) ended.
    pub fn finding(self, last: u64, watched: f64) -> Finding {
        let watched = watched.max(0.0);
        let what = match self {
            Stop::QuicHandshake { server_last } => {
                let evidence = format!(
                    "The server's last packet {server_last}, the connection's last {last}; nothing of this connection in the {watched:.3} s the capture goes on after it."
                );
                let message = if watched < STOP_WATCH_S {
                    format!("The capture ends {watched:.3} s after this QUIC connection's last packet (packet {last}), before the server finished its side of the handshake: what came next is not in the capture, so the outcome cannot be judged.")
                } else {
                    format!("The capture stops following this QUIC connection at packet {last}, before the server finished its side of the handshake, though the capture goes on {}. QUIC acknowledges Initial and Handshake packets at once and resends unacknowledged ones within about a second (RFC 9002's probe timeout), so the packets that followed are not in the capture (a filter that kept the hellos only, an excerpt of each flow's first packets, loss at the capture point), and the outcome cannot be judged.", span(watched))
                };
                return finding(K::CaptureCut, Severity::Info, message, evidence)
                    .with_fix(KEEP_EVERY_PACKET);
            }
            Stop::SynAck {
                packet, syns: 1, ..
            } => Pending {
                what: format!("the server's SYN-ACK (packet {packet})"),
                was: "was",
                by: "client",
            },
            Stop::SynAck {
                packet,
                syns,
                after,
            } => Pending {
                what: format!(
                    "the server's SYN-ACK (packet {packet}), which answered the client's {} SYN {after:.3} s after its first,",
                    ordinal(syns)
                ),
                was: "was",
                by: "client",
            },
            Stop::Data {
                from,
                bytes,
                packet,
            } => Pending {
                what: format!(
                    "the {}'s last {bytes} byte{} (through packet {packet})",
                    from.as_str(),
                    if bytes == 1 { "" } else { "s" },
                ),
                was: if bytes == 1 { "was" } else { "were" },
                by: from.peer().as_str(),
            },
        };
        let Pending { what, was, by } = what;
        if watched < STOP_WATCH_S {
            // Too soon to call the silence the capture's or the peer's: say only where it ends.
            return finding(
                K::CaptureCut,
                Severity::Info,
                format!(
                    "The capture ends {watched:.3} s after this connection's last packet (packet {last}), before {what} {was} acknowledged by the {by}: what came next is not in the capture, so the outcome cannot be judged."
                ),
                format!(
                    "Last packet {last}, {watched:.3} s before the file's last packet; no ACK, retransmission, FIN or RST of this connection in between."
                ),
            );
        }
        finding(
            K::CaptureCut,
            Severity::Info,
            format!(
                "The capture stops following this connection at packet {last}: {what} {was} never acknowledged by the {by} nor sent again, though the capture goes on {}. TCP acknowledges within a fraction of a second and resends what is not acknowledged within about a second, so the packets that followed are not in the capture (an excerpt of each flow's first packets, a capture filter, loss at the capture point), and the outcome cannot be judged.",
                span(watched)
            ),
            format!(
                "Last packet {last}; no ACK, retransmission, FIN or RST of this connection in the {watched:.3} s the capture goes on after it."
            ),
        )
        .with_fix(KEEP_EVERY_PACKET)
    }
}

/// What a TCP connection's last packets left unacknowledged, in words: "{what} {was}
/// acknowledged by the {by}".
struct Pending {
    what: String,
    was: &'static str,
    by: &'static str,
}

#[cfg(test)]
mod tests {
    use super::ordinal;

    #[test]
    fn ordinals_take_the_english_suffix() {
        let got: Vec<String> = [1, 2, 3, 4, 7, 11, 12, 13, 21, 22, 101, 111]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "7th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }
}
