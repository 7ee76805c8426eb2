//! `mtu-black-hole`: full-size segments never get through while small ones do.
//!
//! Where the sender is captured, its largest segment is sent again and again and its first
//! byte is never acknowledged, while the peer acknowledged smaller segments or sent duplicate
//! ACKs (a later, smaller segment arrived). Where the receiver is captured, the sender's bytes
//! stop at a hole of at least one full segment that is never filled nor acknowledged, while
//! only small segments arrive past it.

use super::{finding, Finding, FindingKind, Severity};
use crate::flow::{Direction, SegmentSizes, TcpSummary};

/// A segment this large is a full-size one on any path: the smallest common MTUs (1280 for
/// IPv6, ~1400 in tunnels) carry 1200 bytes and more; a lost segment smaller than this is no
/// sign of an MTU problem.
pub const MIN_FULL_SEGMENT: u32 = 1000;

/// Seconds a receiver must be seen waiting on a hole (without the sender filling it) before
/// it counts: every sender retransmits within this (minimum RTO 200 ms, 1 s initial).
const MIN_WAIT_SECS: f64 = 1.0;

fn who(dir: Direction) -> &'static str {
    match dir {
        Direction::ToServer => "client",
        Direction::ToClient => "server",
    }
}

fn mss_text(tcp: &TcpSummary) -> String {
    let one =
        |d: Direction| tcp.mss[d.idx()].map_or_else(|| "not seen".to_string(), |m| m.to_string());
    format!(
        "MSS announced: client {}, server {}",
        one(Direction::ToServer),
        one(Direction::ToClient)
    )
}

fn dup_acks_text(dir: Direction, s: &SegmentSizes) -> Option<String> {
    let first = s.first_dup_ack?;
    Some(format!(
        "the {} sent {} duplicate ACK{} (first in packet {first}): a later segment arrived past the missing one",
        who(dir.reverse()),
        s.dup_acks,
        if s.dup_acks == 1 { "" } else { "s" }
    ))
}

/// `mtu-black-hole` for either direction of a TCP connection.
pub(super) fn mtu_rule(tcp: &TcpSummary, out: &mut Vec<Finding>) {
    if tcp.midstream {
        return;
    }
    for dir in [Direction::ToClient, Direction::ToServer] {
        let s = &tcp.sizes[dir.idx()];
        let receiver_mss = tcp.mss[dir.reverse().idx()].map(u32::from);
        let message = |size: String| {
            format!(
                "The {}'s full-size segments ({size}) never reach the {} while smaller ones do, so the connection stalls: a link on the path has a smaller MTU and the ICMP \"fragmentation needed\" that should tell the {} is lost (MTU black hole).",
                who(dir),
                who(dir.reverse()),
                who(dir)
            )
        };
        // Seen from the sender.
        if let Some(stuck) = s.stuck.filter(|st| st.len >= MIN_FULL_SEGMENT) {
            let smaller_acked = (1..stuck.len).contains(&s.largest_acked);
            let passed = match (smaller_acked, dup_acks_text(dir, s)) {
                (true, Some(d)) => Some(format!(
                    "segments of up to {} bytes were acknowledged and {d}",
                    s.largest_acked
                )),
                (true, None) => Some(format!(
                    "segments of up to {} bytes were acknowledged",
                    s.largest_acked
                )),
                (false, Some(d)) => Some(d),
                (false, None) => None,
            };
            if let Some(passed) = passed {
                out.push(finding(
                    FindingKind::MtuBlackHole,
                    Severity::Error,
                    message(format!("{} bytes", stuck.len)),
                    format!(
                        "A {}-byte {} segment was sent {} times (packets {} to {}) and its first byte never acknowledged; {passed}; {}.",
                        stuck.len,
                        who(dir),
                        stuck.copies,
                        stuck.first_packet,
                        stuck.last_packet,
                        mss_text(tcp)
                    ),
                ));
                return;
            }
        }
        // Seen from the receiver.
        let Some(hole) = s.hole else {
            continue;
        };
        let waited = match (tcp.last_data[dir.idx()], tcp.closed_by) {
            (_, Some(side)) if side == dir.reverse().sender() => true,
            (Some(last), _) => tcp.seen_until.ts.seconds_since(last.ts) >= MIN_WAIT_SECS,
            (None, _) => false,
        };
        let all_small =
            s.largest < hole.len && receiver_mss.map_or(true, |m| s.largest.saturating_add(40) < m);
        if hole.len >= MIN_FULL_SEGMENT && all_small && waited && s.dup_acks > 0 {
            let dups = dup_acks_text(dir, s).unwrap_or_default();
            out.push(finding(
                FindingKind::MtuBlackHole,
                Severity::Error,
                message(format!("{} bytes missing", hole.len)),
                format!(
                    "The {}'s bytes stop at a hole of {} bytes that was never filled nor acknowledged; past it only segments of at most {} bytes arrived (first in packet {}); {dups}; {}.",
                    who(dir),
                    hole.len,
                    hole.largest_beyond,
                    hole.after_packet,
                    mss_text(tcp)
                ),
            ));
            return;
        }
    }
}
