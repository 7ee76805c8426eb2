//! Tests of the connection table and per-direction reassembly.
//!
//! Unit tests build segments by hand, one edge case each (said so in each test). The
//! real-capture tests replay segment lists extracted with tshark from corpus captures
//! (tests/fixtures/*.segments.tsv: frame, epoch, src, sport, dst, dport, seq_raw, ack_raw, flags,
//! tcp.len[, payload hex]) and compare with tshark's own view (`tcp.stream` count,
//! `-z follow,tcp,raw` byte counts and contents).

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use tlscap::flow::{
    CloseKind, Direction, EndReason, Finished, FlowConfig, FlowTable, Interest, PacketRef,
    Reassembler, SegmentMeta, SeqNumber, Side, StreamHandler, TcpSummary,
};
use tlscap::net::{TcpFlags, TcpSegment};
use tlscap::time::Timestamp;

/// What a handler saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Data(Direction, Vec<u8>, u64),
    Gap(Direction, u64, u64),
}

/// Test handler: records every call; says Done after `done_after` data calls if set.
#[derive(Debug, Default)]
struct Recorder {
    events: Vec<Event>,
    done_after: Option<usize>,
    data_calls: usize,
}

impl Recorder {
    /// Concatenated delivered bytes of one direction.
    fn stream(&self, dir: Direction) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let Event::Data(d, bytes, _) = e {
                if *d == dir {
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }
}

impl StreamHandler for Recorder {
    fn on_data(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) -> Interest {
        self.events
            .push(Event::Data(dir, data.to_vec(), meta.packet));
        self.data_calls += 1;
        match self.done_after {
            Some(n) if self.data_calls >= n => Interest::Done,
            _ => Interest::More,
        }
    }
    fn on_gap(&mut self, dir: Direction, len: u64, meta: SegmentMeta) -> Interest {
        self.events.push(Event::Gap(dir, len, meta.packet));
        Interest::More
    }
}

const D: Direction = Direction::ToServer;

fn meta(packet: u64) -> SegmentMeta {
    SegmentMeta {
        packet,
        ts: Timestamp {
            secs: 1000 + packet as i64,
            nanos: 0,
        },
    }
}

fn data(d: Direction, bytes: &[u8], packet: u64) -> Event {
    Event::Data(d, bytes.to_vec(), packet)
}

/// Feeds `payload` at `seq` as packet `packet`.
fn feed(r: &mut Reassembler, h: &mut Recorder, seq: u32, payload: &[u8], packet: u64) {
    r.on_segment(D, seq, payload, payload.len() as u32, meta(packet), h);
}

// ---------------------------------------------------------------- reassembler unit tests

#[test]
fn seq_number_compares_modulo_2_32() {
    // Hand-built values: one edge case (wrap-around arithmetic).
    let near_end = SeqNumber(u32::MAX - 1);
    assert_eq!(near_end.plus(3), SeqNumber(1));
    assert_eq!(SeqNumber(1).distance_from(near_end), 3);
    assert_eq!(near_end.distance_from(SeqNumber(1)), -3);
    assert!(near_end.is_before(SeqNumber(1)));
    assert!(!SeqNumber(1).is_before(near_end));
}

#[test]
fn in_order_is_delivered_per_segment() {
    // Hand-built segments: in-order delivery.
    let (mut r, mut h) = (Reassembler::new(1024, 8), Recorder::default());
    r.on_syn(1000);
    feed(&mut r, &mut h, 1001, b"hello", 2);
    feed(&mut r, &mut h, 1006, b" world", 3);
    assert_eq!(h.events, vec![data(D, b"hello", 2), data(D, b" world", 3)]);
    assert_eq!(
        (
            r.covered_bytes(),
            r.retransmissions(),
            r.out_of_order(),
            r.gaps()
        ),
        (11, 0, 0, 0)
    );
}

#[test]
fn out_of_order_waits_for_the_hole() {
    // Hand-built segments: the second segment arrives first.
    let (mut r, mut h) = (Reassembler::new(1024, 8), Recorder::default());
    r.on_syn(1000);
    feed(&mut r, &mut h, 1006, b" world", 2);
    assert_eq!(h.events, vec![]);
    assert_eq!(r.held_bytes(), 6);
    feed(&mut r, &mut h, 1001, b"hello", 3);
    assert_eq!(h.events, vec![data(D, b"hello", 3), data(D, b" world", 3)]);
    assert_eq!(
        (r.covered_bytes(), r.retransmissions(), r.out_of_order()),
        (11, 0, 1)
    );
    assert_eq!(r.held_bytes(), 0);
}

#[test]
fn exact_retransmission_is_dropped_and_counted() {
    // Hand-built segments: the same segment twice.
    let (mut r, mut h) = (Reassembler::new(1024, 8), Recorder::default());
    r.on_syn(0);
    feed(&mut r, &mut h, 1, b"hello", 2);
    feed(&mut r, &mut h, 1, b"hello", 3);
    assert_eq!(h.events, vec![data(D, b"hello", 2)]);
    assert_eq!((r.covered_bytes(), r.retransmissions()), (5, 1));
}

#[test]
fn partial_overlap_keeps_first_seen_bytes() {
    // Hand-built segments: overlaps with delivered and with held bytes carry different bytes.
    let (mut r, mut h) = (Reassembler::new(1024, 8), Recorder::default());
    r.on_syn(0);
    feed(&mut r, &mut h, 1, b"abc", 2);
    feed(&mut r, &mut h, 6, b"FG", 3); // held at offsets 5..7
                                       // Offsets 1..8: "XY" repeats delivered "bc", "de" is new, "QR" overlaps held "FG" (held
                                       // wins), "S" is new.
    feed(&mut r, &mut h, 2, b"XYdeQRS", 4);
    assert_eq!(h.stream(D), b"abcdeFGS");
    feed(&mut r, &mut h, 7, b"zzT", 5); // offsets 6..9: "zz" repeats "GS"
    assert_eq!(h.stream(D), b"abcdeFGST");
    assert_eq!(
        (r.covered_bytes(), r.retransmissions(), r.out_of_order()),
        (9, 2, 1)
    );
}

#[test]
fn split_at_every_byte_boundary_reassembles_identically() {
    // Hand-built segments: every two-way split, fed in both orders.
    let text = b"The quick brown fox jumps over the lazy dog";
    for cut in 1..text.len() {
        for reversed in [false, true] {
            let (mut r, mut h) = (Reassembler::new(1024, 8), Recorder::default());
            r.on_syn(41);
            let (a, b) = text.split_at(cut);
            let parts = [(42u32, a), (42 + cut as u32, b)];
            let order: Vec<_> = if reversed {
                parts.iter().rev().collect()
            } else {
                parts.iter().collect()
            };
            for (i, (seq, p)) in order.into_iter().enumerate() {
                feed(&mut r, &mut h, *seq, p, i as u64 + 1);
            }
            assert_eq!(h.stream(D), text, "cut {cut} reversed {reversed}");
            assert_eq!(r.covered_bytes(), text.len() as u64);
        }
    }
}

#[test]
fn sequence_wrap_around_across_2_32() {
    // Hand-built segments: ISN 4 below 2^32, segments straddle and follow the wrap, out of order.
    let (mut r, mut h) = (Reassembler::new(1024, 8), Recorder::default());
    let isn = u32::MAX - 3;
    r.on_syn(isn);
    feed(&mut r, &mut h, 3, b"GHIJ", 2); // offsets 6..10
    feed(&mut r, &mut h, u32::MAX - 1, b"BCDEF", 3); // offsets 1..6, crosses 2^32
    feed(&mut r, &mut h, u32::MAX - 2, b"A", 4); // offset 0
    assert_eq!(h.stream(D), b"ABCDEFGHIJ");
    // The held ranges touch, so they are one contiguous run delivered in one call.
    assert_eq!(h.events, vec![data(D, b"A", 4), data(D, b"BCDEFGHIJ", 4)]);
    assert_eq!((r.covered_bytes(), r.out_of_order(), r.gaps()), (10, 2, 0));
}

#[test]
fn midstream_pickup_starts_at_first_payload() {
    // Hand-built segments: no SYN; the first payload's seq is the base.
    let (mut r, mut h) = (Reassembler::new(1024, 8), Recorder::default());
    feed(&mut r, &mut h, 5000, b"mid", 7);
    feed(&mut r, &mut h, 5003, b"dle", 8);
    feed(&mut r, &mut h, 4990, b"old", 9); // before the base: treated as old data
    assert_eq!(h.stream(D), b"middle");
    assert_eq!((r.covered_bytes(), r.retransmissions()), (6, 1));
}

#[test]
fn hold_overflow_by_ranges_lets_the_furthest_range_go() {
    // Hand-built segments: three separate held ranges with a cap of two. The first hole is
    // still in the byte window, so the furthest range goes (the oldest hole used to become a
    // gap, and the late first segment was then dropped as a retransmission).
    let (mut r, mut h) = (Reassembler::new(1024, 2), Recorder::default());
    r.on_syn(0);
    feed(&mut r, &mut h, 11, b"aaaaa", 2); // 10..15
    feed(&mut r, &mut h, 21, b"bbbbb", 3); // 20..25
    feed(&mut r, &mut h, 31, b"ccccc", 4); // 30..35: a third range, let go
    assert_eq!(h.events, vec![]);
    assert_eq!((r.gaps(), r.held_bytes(), r.covered_bytes()), (0, 10, 10));
    feed(&mut r, &mut h, 1, b"0123456789", 5); // the late first segment
    assert_eq!(h.stream(D), b"0123456789aaaaa");
    feed(&mut r, &mut h, 16, b"XXXXX", 6);
    assert_eq!(h.stream(D), b"0123456789aaaaaXXXXXbbbbb");
    assert_eq!(r.retransmissions(), 0);
    // 30..35 never came again: a gap at the end, as is 25..30.
    r.flush(D, meta(7), &mut h);
    assert_eq!(h.events.last(), Some(&Event::Gap(D, 10, 7)));
    assert_eq!((r.gaps(), r.gap_bytes(), r.covered_bytes()), (1, 10, 25));
}

#[test]
fn a_late_first_segment_behind_200000_small_segments_is_delivered() {
    // Hand-built segments (one edge case, the default bounds): the first 1,000 bytes (a
    // ClientHello, say) arrive after 200,000 two-byte segments ahead of them, in 50,000
    // separate places (each sent four times). The held ranges pass the cap of 64 long before
    // the byte window (256 KiB) fills, so the furthest go, and the first hole waits.
    let (mut r, mut h) = (Reassembler::default(), Recorder::default());
    r.on_syn(0);
    let first: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    for k in 0..200_000u32 {
        let at = 1000 + 4 * (k % 50_000);
        feed(&mut r, &mut h, 1 + at, b"zz", 1 + u64::from(k));
    }
    assert_eq!(h.events, vec![]);
    feed(&mut r, &mut h, 1, &first, 200_001);
    let stream = h.stream(D);
    assert_eq!(&stream[..1000], &first[..]);
    assert_eq!(r.gaps(), 0);
    r.flush(D, meta(200_002), &mut h);
    assert_eq!(
        r.covered_bytes() + r.gap_bytes(),
        1000 + 4 * 49_999 + 2,
        "every byte seen is delivered or a gap"
    );
    // The 63 holes between the 64 ranges held, then the region let go (never sent again),
    // which counts as one gap: its holes were not kept.
    assert_eq!(r.gaps(), 64);
}

#[test]
fn hold_overflow_by_bytes_declares_a_gap() {
    // Hand-built segments: held bytes above the byte cap.
    let (mut r, mut h) = (Reassembler::new(8, 64), Recorder::default());
    r.on_syn(0);
    feed(&mut r, &mut h, 4, b"abcde", 2); // 3..8
    feed(&mut r, &mut h, 11, b"fghij", 3); // 10..15: 10 held > 8
    assert_eq!(h.events, vec![Event::Gap(D, 3, 3), data(D, b"abcde", 3)]);
    assert_eq!(r.held_bytes(), 5);
}

#[test]
fn flush_declares_holes_and_the_hole_before_fin() {
    // Hand-built segments: data held beyond a hole, and a FIN beyond a second hole.
    let (mut r, mut h) = (Reassembler::new(1024, 8), Recorder::default());
    r.on_syn(0);
    feed(&mut r, &mut h, 1, b"ab", 2); // 0..2
    feed(&mut r, &mut h, 11, b"hold", 3); // 10..14
    r.on_fin(21); // FIN at offset 20
    r.flush(D, meta(9), &mut h);
    assert_eq!(
        h.events,
        vec![
            data(D, b"ab", 2),
            Event::Gap(D, 8, 9),
            data(D, b"hold", 9),
            Event::Gap(D, 6, 9)
        ]
    );
    assert_eq!((r.gaps(), r.gap_bytes(), r.covered_bytes()), (2, 14, 6));
}

#[test]
fn snaplen_cut_is_a_gap() {
    // Hand-built segments: 10 bytes on the wire, 4 captured; in order and out of order.
    let (mut r, mut h) = (Reassembler::new(1024, 8), Recorder::default());
    r.on_syn(0);
    r.on_segment(D, 1, b"abcd", 10, meta(2), &mut h); // 0..10, 4..10 missing
    r.on_segment(D, 21, b"uv", 5, meta(3), &mut h); // 20..25 held, 22..25 missing
    r.on_segment(D, 11, b"0123456789", 10, meta(4), &mut h); // 10..20 fills the hole
    assert_eq!(
        h.events,
        vec![
            data(D, b"abcd", 2),
            Event::Gap(D, 6, 2),
            data(D, b"0123456789", 4),
            data(D, b"uv", 4),
            Event::Gap(D, 3, 4),
        ]
    );
    assert_eq!((r.gaps(), r.gap_bytes(), r.covered_bytes()), (2, 9, 25));
}

#[test]
fn every_hole_is_a_gap_also_once_the_handler_is_done() {
    // Hand-built segments (one edge case): after the handler is done, 10,000 one-byte
    // segments each one byte apart leave 10,000 holes; the range cap (8) skips them one by
    // one. Each is a gap (they were not counted at all once the handler was done).
    let (mut r, mut h) = (
        Reassembler::new(1024, 8),
        Recorder {
            done_after: Some(1),
            ..Default::default()
        },
    );
    r.on_syn(0);
    feed(&mut r, &mut h, 1, b"hello", 1);
    assert!(r.is_done());
    for k in 0..10_000u32 {
        feed(&mut r, &mut h, 1 + 5 + 2 * k + 1, b"x", 2 + u64::from(k));
    }
    r.flush(D, meta(20_000), &mut h);
    assert_eq!((r.gaps(), r.gap_bytes()), (10_000, 10_000));
    assert_eq!(r.covered_bytes(), 5 + 10_000);
    assert_eq!((r.out_of_order(), r.retransmissions()), (10_000, 0));
    assert_eq!(h.events, vec![data(D, b"hello", 1)]);
}

#[test]
fn out_of_order_segments_are_not_retransmissions() {
    // Hand-built segments (one edge case): a segment that brings new bytes ahead of the hole
    // while overlapping bytes held already is out of order only (it was counted as both); a
    // copy of held bytes is a retransmission; so is a copy of delivered ones.
    let (mut r, mut h) = (Reassembler::new(1024, 8), Recorder::default());
    r.on_syn(0);
    feed(&mut r, &mut h, 11, b"abcde", 1); // 10..15 ahead of the hole 0..10
    feed(&mut r, &mut h, 13, b"cdefg", 2); // 12..17: 15..17 new
    assert_eq!((r.out_of_order(), r.retransmissions()), (2, 0));
    feed(&mut r, &mut h, 12, b"bcd", 3); // 11..14: nothing new
    assert_eq!((r.out_of_order(), r.retransmissions()), (2, 1));
    feed(&mut r, &mut h, 1, b"0123456789", 4); // fills the hole
    feed(&mut r, &mut h, 1, b"01234", 5); // delivered already
    assert_eq!((r.out_of_order(), r.retransmissions()), (2, 2));
    assert_eq!(h.stream(D), b"0123456789abcdefg");
    assert_eq!(r.gaps(), 0);
}

#[test]
fn done_stops_buffering_but_keeps_counting() {
    // Hand-built segments: the handler is done after its first data call.
    let (mut r, mut h) = (
        Reassembler::new(1024, 8),
        Recorder {
            done_after: Some(1),
            ..Default::default()
        },
    );
    r.on_syn(0);
    feed(&mut r, &mut h, 11, b"later", 2); // held: 10..15
    assert_eq!(r.held_bytes(), 5);
    feed(&mut r, &mut h, 1, b"first", 3); // delivered, then Done: hold dropped
    assert!(r.is_done());
    assert_eq!(r.held_bytes(), 0);
    feed(&mut r, &mut h, 21, b"ahead", 4); // not buffered
    assert_eq!(r.held_bytes(), 0);
    feed(&mut r, &mut h, 11, b"later", 5); // retransmission of a dropped range
    feed(&mut r, &mut h, 6, b"01234", 6);
    r.flush(D, meta(7), &mut h);
    assert_eq!(h.events, vec![data(D, b"first", 3)]);
    // 15..20 was never seen: a gap, counted although the handler is no longer told.
    assert_eq!(
        (
            r.covered_bytes(),
            r.gaps(),
            r.gap_bytes(),
            r.retransmissions()
        ),
        (20, 1, 5, 1)
    );
}

// ---------------------------------------------------------------- table unit tests

const C: &str = "10.0.0.1:40000";
const S: &str = "10.0.0.2:443";
const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN;
const RST: u8 = TcpFlags::RST;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn tcp<'a>(
    src: &str,
    dst: &str,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &'a [u8],
) -> TcpSegment<'a> {
    TcpSegment {
        src: addr(src),
        dst: addr(dst),
        seq,
        ack,
        flags: TcpFlags(flags),
        window: 65535,
        mss: 0,
        payload,
        wire_payload_len: payload.len() as u32,
        carrier: Default::default(),
    }
}

/// Runs segments (packet numbers 1.., timestamps from `times` or 1 s apart) through a table;
/// returns the connections emitted during processing and those emitted by `finish`.
fn run_table(
    cfg: FlowConfig,
    segs: &[(TcpSegment<'_>, i64)],
) -> (Vec<Finished<Recorder>>, Vec<Finished<Recorder>>, usize) {
    let mut table = FlowTable::new(cfg);
    let mut during = Vec::new();
    for (i, (seg, secs)) in segs.iter().enumerate() {
        let m = SegmentMeta {
            packet: i as u64 + 1,
            ts: Timestamp {
                secs: *secs,
                nanos: 0,
            },
        };
        table.process(m, seg, &mut |_, _| Recorder::default(), &mut |f| {
            during.push(f)
        });
    }
    let open = table.open_connections();
    let mut at_end = Vec::new();
    table.finish(&mut |f| at_end.push(f));
    (during, at_end, open)
}

/// Hand-built segments: a handshake, then "hello" from the client and "world!" from the
/// server, the server's bytes not yet acknowledged.
fn hello_world() -> Vec<(TcpSegment<'static>, i64)> {
    vec![
        (tcp(C, S, 100, 0, SYN, b""), 10),
        (tcp(S, C, 500, 101, SYN | ACK, b""), 11),
        (tcp(C, S, 101, 501, ACK, b""), 12),
        (tcp(C, S, 101, 501, ACK, b"hello"), 13),
        (tcp(S, C, 501, 106, ACK, b"world!"), 14),
    ]
}

fn pref(packet: u64, secs: i64) -> PacketRef {
    PacketRef {
        packet,
        ts: Timestamp { secs, nanos: 0 },
    }
}

#[test]
fn full_connection_summary_is_exact() {
    // Hand-built segments: handshake, data both ways, FIN from client then server, final ACK.
    let segs = [
        hello_world(),
        vec![
            (tcp(C, S, 106, 507, FIN | ACK, b""), 15),
            (tcp(S, C, 507, 107, FIN | ACK, b""), 16),
            (tcp(C, S, 107, 508, ACK, b""), 17), // final ACK: still counted (close grace)
        ],
    ]
    .concat();
    let (during, at_end, open) = run_table(FlowConfig::default(), &segs);
    // Closed at the second FIN, kept for the 1 s grace (so the final ACK counts), then emitted
    // at the end of the capture.
    assert_eq!((during.len(), at_end.len(), open), (0, 1, 1));
    let f = &at_end[0];
    let expected = TcpSummary {
        index: 0,
        client: addr(C),
        server: addr(S),
        first: pref(1, 10),
        last: pref(8, 17),
        packets: 8,
        syn: 1,
        first_syn: Some(pref(1, 10)),
        last_syn: Some(pref(1, 10)),
        syn_ack: 1,
        first_syn_ack: Some(pref(2, 11)),
        established: true,
        midstream: false,
        client_bytes: 5,
        server_bytes: 6,
        first_data: [Some(pref(4, 13)), Some(pref(5, 14))],
        last_data: [Some(pref(4, 13)), Some(pref(5, 14))],
        prev_data: [None, None],
        last_data_len: [5, 6],
        prev_data_len: [0, 0],
        fin: [Some(pref(6, 15)), Some(pref(7, 16))],
        rst: None,
        rst_unacked: None,
        closed_by: Some(Side::Client),
        close: Some(CloseKind::Fin),
        gaps: 0,
        gap_bytes: 0,
        retransmissions: 0,
        out_of_order: 0,
        end_reason: EndReason::Closed,
        dir_packets: [5, 3],
        last_packet: [Some(pref(8, 17)), Some(pref(7, 16))],
        acked_unseen: [(0, None), (0, None)],
        stale_ack: None,
        stale_rst: None,
        seen_until: pref(8, 17),
        // Both FINs acknowledged.
        unacked_at_end: [0, 0],
        no_server_in_capture: false,
        carrier: Default::default(),
        // Hand-built SYNs carry no options.
        mss: [None, None],
        // Each side's one data segment, acknowledged whole.
        sizes: [
            tlscap::flow::SegmentSizes {
                largest: 5,
                largest_acked: 5,
                ..Default::default()
            },
            tlscap::flow::SegmentSizes {
                largest: 6,
                largest_acked: 6,
                ..Default::default()
            },
        ],
    };
    assert_eq!(*f.tcp, expected);
    assert_eq!(
        f.handler.events,
        vec![
            data(Direction::ToServer, b"hello", 4),
            data(Direction::ToClient, b"world!", 5)
        ]
    );
}

#[test]
fn syn_retransmissions_are_counted_on_one_connection() {
    // Hand-built segments: the same SYN three times, then SYN-ACK and ACK.
    let segs = [
        (tcp(C, S, 100, 0, SYN, b""), 10),
        (tcp(C, S, 100, 0, SYN, b""), 11),
        (tcp(C, S, 100, 0, SYN, b""), 13),
        (tcp(S, C, 500, 101, SYN | ACK, b""), 13),
        (tcp(C, S, 101, 501, ACK, b""), 13),
    ];
    let (during, at_end, open) = run_table(FlowConfig::default(), &segs);
    assert_eq!((during.len(), at_end.len(), open), (0, 1, 1));
    let t = &at_end[0].tcp;
    assert_eq!(
        (t.syn, t.first_syn, t.last_syn),
        (3, Some(pref(1, 10)), Some(pref(3, 13)))
    );
    assert_eq!((t.syn_ack, t.established, t.packets), (1, true, 5));
    assert_eq!(t.end_reason, EndReason::CaptureEnd);
}

#[test]
fn rst_closes_and_emits_after_the_grace_period() {
    // Hand-built segments: a refused connection (SYN answered by RST-ACK), a stray RST 3 s later
    // (after the 1 s close grace: absorbed by the tombstone).
    let segs = [
        (tcp(C, S, 100, 0, SYN, b""), 10),
        (tcp(S, C, 0, 101, RST | ACK, b""), 10),
        (tcp(S, C, 0, 101, RST | ACK, b""), 13),
    ];
    let mut table = FlowTable::new(FlowConfig::default());
    let mut emitted = Vec::new();
    for (i, (seg, secs)) in segs.iter().enumerate() {
        let m = SegmentMeta {
            packet: i as u64 + 1,
            ts: Timestamp {
                secs: *secs,
                nanos: 0,
            },
        };
        table.process(m, seg, &mut |_, _| Recorder::default(), &mut |f| {
            emitted.push(f)
        });
        if i == 1 {
            assert_eq!(emitted.len(), 0, "kept during the close grace");
        }
    }
    assert_eq!(table.open_connections(), 0);
    table.finish(&mut |f| emitted.push(f));
    assert_eq!(emitted.len(), 1);
    let t = &emitted[0].tcp;
    assert_eq!(t.rst, Some((Side::Server, pref(2, 10))));
    assert_eq!(t.rst_unacked, Some(0), "the RST-ACK acknowledges the SYN");
    assert_eq!(
        (t.closed_by, t.close, t.end_reason),
        (Some(Side::Server), Some(CloseKind::Rst), EndReason::Closed)
    );
    assert_eq!(
        (t.syn, t.syn_ack, t.established, t.packets),
        (1, 0, false, 2)
    );
}

#[test]
fn a_reset_counts_the_peer_bytes_it_left_unacknowledged() {
    // Hand-built segments: a request, 300 bytes of answer, then a RST-ACK acknowledging the
    // first 100 of them (its own acknowledgement number counts); the same without the ACK flag
    // counts from the client's last ACK (the first 200).
    let answer = [0u8; 100];
    let run = |rst: TcpSegment<'static>| {
        let segs = [
            (tcp(C, S, 100, 0, SYN, b""), 10),
            (tcp(S, C, 500, 101, SYN | ACK, b""), 10),
            (tcp(C, S, 101, 501, ACK, b"GET"), 10),
            (tcp(S, C, 501, 104, ACK, &answer), 11),
            (tcp(S, C, 601, 104, ACK, &answer), 11),
            (tcp(C, S, 104, 701, ACK, b""), 11),
            (tcp(S, C, 701, 104, ACK, &answer), 11),
            (rst, 12),
        ];
        let (_, at_end, _) = run_table(FlowConfig::default(), &segs);
        at_end[0].tcp.rst_unacked
    };
    assert_eq!(run(tcp(C, S, 104, 601, RST | ACK, b"")), Some(200));
    assert_eq!(run(tcp(C, S, 104, 0, RST, b"")), Some(100));
    assert_eq!(run(tcp(C, S, 104, 801, RST | ACK, b"")), Some(0));
}

#[test]
fn port_reuse_makes_two_records() {
    // Hand-built segments: a second SYN with another ISN on an open 5-tuple, then a SYN on a
    // closed (tombstoned) one.
    let segs = [
        (tcp(C, S, 100, 0, SYN, b""), 10),
        (tcp(S, C, 500, 101, SYN | ACK, b""), 10),
        (tcp(C, S, 9000, 0, SYN, b""), 20), // new ISN: reuse
        (tcp(C, S, 9001, 0, RST, b""), 21), // closes the second
        (tcp(C, S, 7000, 0, SYN, b""), 22), // SYN on a tombstone: third
    ];
    let (during, at_end, _) = run_table(FlowConfig::default(), &segs);
    assert_eq!(during.len(), 2);
    assert_eq!(
        (
            during[0].tcp.index,
            during[0].tcp.end_reason,
            during[0].tcp.packets
        ),
        (0, EndReason::Reused, 2)
    );
    assert_eq!(
        (
            during[1].tcp.index,
            during[1].tcp.end_reason,
            during[1].tcp.packets
        ),
        (1, EndReason::Closed, 2)
    );
    assert_eq!(at_end.len(), 1);
    assert_eq!(
        (at_end[0].tcp.index, at_end[0].tcp.first_syn),
        (2, Some(pref(5, 22)))
    );
}

#[test]
fn tombstone_absorbs_stragglers_then_expires() {
    // Hand-built segments: after a FIN/FIN close, a final ACK, a retransmitted FIN and data are
    // absorbed; after the linger time the tuple is forgotten.
    let cfg = FlowConfig {
        linger_secs: 5,
        ..FlowConfig::default()
    };
    let mut table = FlowTable::new(cfg);
    let segs = [
        (tcp(C, S, 100, 0, SYN, b""), 10),
        (tcp(S, C, 500, 101, SYN | ACK, b""), 10),
        (tcp(C, S, 101, 501, FIN | ACK, b""), 11),
        (tcp(S, C, 501, 102, FIN | ACK, b""), 11),
        (tcp(C, S, 102, 502, ACK, b""), 12),
        (tcp(S, C, 501, 102, FIN | ACK, b""), 13),
        (tcp(S, C, 480, 102, ACK, b"old data"), 14),
    ];
    let mut emitted = Vec::new();
    for (i, (seg, secs)) in segs.iter().enumerate() {
        let m = SegmentMeta {
            packet: i as u64 + 1,
            ts: Timestamp {
                secs: *secs,
                nanos: 0,
            },
        };
        table.process(m, seg, &mut |_, _| Recorder::default(), &mut |f| {
            emitted.push(f)
        });
    }
    assert_eq!(
        (
            emitted.len(),
            table.open_connections(),
            table.tracked_tuples()
        ),
        (1, 0, 1)
    );
    // The final ACK (1 s after the close, within the grace) counts; later stragglers do not.
    assert_eq!(emitted[0].tcp.packets, 5);
    // Another connection 10 s later sweeps the expired tombstone.
    let other = tcp("10.0.0.3:1234", S, 1, 0, SYN, b"");
    let m = SegmentMeta {
        packet: 8,
        ts: Timestamp { secs: 24, nanos: 0 },
    };
    table.process(m, &other, &mut |_, _| Recorder::default(), &mut |f| {
        emitted.push(f)
    });
    assert_eq!((table.open_connections(), table.tracked_tuples()), (1, 1));
}

#[test]
fn idle_connections_are_emitted() {
    // Hand-built segments: connection A goes quiet; B's packets move capture time on.
    let cfg = FlowConfig {
        idle_timeout_secs: 30,
        ..FlowConfig::default()
    };
    let b = "10.0.0.9:5555";
    let segs = [
        (tcp(C, S, 100, 0, SYN, b""), 100),
        (tcp(b, S, 1, 0, SYN, b""), 120),
        (tcp(b, S, 1, 0, SYN, b""), 131), // A idle for 31 s > 30
        (tcp(b, S, 1, 0, SYN, b""), 129), // time going backwards: "now" stays 131
    ];
    let (during, at_end, _) = run_table(cfg, &segs);
    assert_eq!(during.len(), 1);
    assert_eq!(
        (during[0].tcp.index, during[0].tcp.end_reason),
        (0, EndReason::Idle)
    );
    assert_eq!(at_end.len(), 1);
    assert_eq!(
        (
            at_end[0].tcp.index,
            at_end[0].tcp.syn,
            at_end[0].tcp.last_syn
        ),
        (1, 3, Some(pref(4, 129)))
    );
}

#[test]
fn midstream_roles_by_port() {
    // Hand-built segments: no SYN; the lower port is the server; data both ways = established.
    let segs = [
        (tcp(S, C, 7000, 300, ACK, b"srv"), 10),
        (tcp(C, S, 300, 7003, ACK, b"cli!"), 11),
    ];
    let (_, at_end, _) = run_table(FlowConfig::default(), &segs);
    let t = &at_end[0].tcp;
    assert_eq!(
        (t.client, t.server, t.midstream, t.established),
        (addr(C), addr(S), true, true)
    );
    assert_eq!((t.client_bytes, t.server_bytes), (4, 3));
    // Equal ports: the destination of the first packet is the server.
    let segs = [(tcp("10.0.0.5:443", "10.0.0.6:443", 1, 0, ACK, b""), 10)];
    let (_, at_end, _) = run_table(FlowConfig::default(), &segs);
    assert_eq!(at_end[0].tcp.server, addr("10.0.0.6:443"));
}

#[test]
fn syn_ack_first_makes_its_sender_the_server() {
    // Hand-built segments: the capture starts at the SYN-ACK; the SYN (same ISN) follows.
    let segs = [
        (tcp(S, C, 500, 101, SYN | ACK, b""), 10),
        (tcp(C, S, 100, 0, SYN, b""), 10),
        (tcp(C, S, 101, 501, ACK, b""), 10),
    ];
    let (during, at_end, _) = run_table(FlowConfig::default(), &segs);
    assert_eq!((during.len(), at_end.len()), (0, 1));
    let t = &at_end[0].tcp;
    assert_eq!(
        (t.client, t.midstream, t.syn, t.syn_ack, t.established),
        (addr(C), false, 1, 1, true)
    );
}

// ---------------------------------------------------------------- property test

/// Pieces of `data` as (offset, bytes): a segmentation, duplicates, and overlapping
/// re-segmentations, in a random order.
fn pieces_strategy() -> impl Strategy<Value = (Vec<u8>, u32, Vec<(usize, usize)>)> {
    (proptest::collection::vec(any::<u8>(), 1..300), any::<u32>()).prop_flat_map(|(data, isn)| {
        let n = data.len();
        let cuts = proptest::collection::vec(1..n.max(2), 0..12);
        let extra = proptest::collection::vec((0..n, 1..40usize), 0..10);
        (Just(data), Just(isn), cuts, extra, any::<u64>()).prop_map(
            |(data, isn, mut cuts, extra, seed)| {
                let n = data.len();
                cuts.push(0);
                cuts.push(n);
                cuts.sort_unstable();
                cuts.dedup();
                let mut ranges: Vec<(usize, usize)> =
                    cuts.windows(2).map(|w| (w[0], w[1])).collect();
                // Duplicates and overlapping re-segmentations.
                for (start, len) in extra {
                    ranges.push((start, (start + len).min(n)));
                }
                // Deterministic shuffle from the seed.
                let mut s = seed | 1;
                for i in (1..ranges.len()).rev() {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    ranges.swap(i, (s % (i as u64 + 1)) as usize);
                }
                (data, isn, ranges)
            },
        )
    })
}

proptest! {
    #[test]
    fn any_order_with_duplicates_and_overlaps_delivers_the_original((data, isn, ranges) in pieces_strategy()) {
        let (mut r, mut h) = (Reassembler::new(1 << 20, 1 << 10), Recorder::default());
        r.on_syn(isn);
        for (i, (from, to)) in ranges.iter().enumerate() {
            let seq = isn.wrapping_add(1).wrapping_add(*from as u32);
            feed(&mut r, &mut h, seq, &data[*from..*to], i as u64 + 1);
        }
        // Model: every byte offset is covered by some range, so the whole stream arrives.
        prop_assert_eq!(h.stream(D), data.clone());
        prop_assert_eq!(r.covered_bytes(), data.len() as u64);
        prop_assert_eq!(r.gaps(), 0);
        prop_assert_eq!(r.held_bytes(), 0);
    }
}

proptest! {
    #[test]
    fn tight_hold_bounds_give_gaps_never_wrong_bytes(
        (data, isn, ranges) in pieces_strategy(),
        max_bytes in 1usize..64,
        max_ranges in 1usize..4,
    ) {
        let (mut r, mut h) = (Reassembler::new(max_bytes, max_ranges), Recorder::default());
        r.on_syn(isn);
        for (i, (from, to)) in ranges.iter().enumerate() {
            let seq = isn.wrapping_add(1).wrapping_add(*from as u32);
            feed(&mut r, &mut h, seq, &data[*from..*to], i as u64 + 1);
            prop_assert!(r.held_bytes() <= max_bytes);
        }
        r.flush(D, meta(0), &mut h);
        // Model: every delivered byte sits at its original offset; gaps only skip.
        let mut pos = 0usize;
        for e in &h.events {
            match e {
                Event::Data(_, bytes, _) => {
                    prop_assert_eq!(&data[pos..pos + bytes.len()], &bytes[..]);
                    pos += bytes.len();
                }
                Event::Gap(_, len, _) => pos += *len as usize,
            }
        }
        prop_assert_eq!(pos, data.len());
        prop_assert_eq!(r.covered_bytes() + r.gap_bytes(), data.len() as u64);
    }
}

proptest! {
    /// Hostile input: arbitrary flags, sequence numbers, lengths and timestamps never panic,
    /// and every connection opened is emitted exactly once.
    #[test]
    fn arbitrary_segments_never_panic(
        packets in proptest::collection::vec(
            (0u8..4, 0u8..4, any::<u32>(), any::<u32>(), any::<u8>(),
             proptest::collection::vec(any::<u8>(), 0..20), any::<u32>(), any::<i64>()),
            1..60,
        )
    ) {
        let cfg = FlowConfig {
            max_buffered_per_direction: 16,
            max_ranges_per_direction: 2,
            idle_timeout_secs: 5,
            linger_secs: 3,
            close_grace_secs: 1,
            ..FlowConfig::default()
        };
        let mut table = FlowTable::new(cfg);
        let mut emitted = Vec::new();
        let hosts = ["10.0.0.1:1000", "10.0.0.2:443", "10.0.0.3:443", "10.0.0.4:1000"];
        for (i, (a, b, seq, ack, flags, payload, wire, secs)) in packets.iter().enumerate() {
            let mut seg = tcp(hosts[*a as usize], hosts[*b as usize], *seq, *ack, *flags, payload);
            seg.wire_payload_len = if wire % 3 == 0 { *wire } else { payload.len() as u32 };
            // Mostly close timestamps (idle and linger happen), sometimes extreme ones.
            let secs = if secs % 4 == 0 { *secs } else { *secs % 20 };
            let m = SegmentMeta { packet: i as u64 + 1, ts: Timestamp { secs, nanos: 0 } };
            table.process(m, &seg, &mut |_, _| Recorder::default(), &mut |f| emitted.push(f.tcp.index));
        }
        table.finish(&mut |f| emitted.push(f.tcp.index));
        emitted.sort_unstable();
        let expected: Vec<u64> = (0..emitted.len() as u64).collect();
        prop_assert_eq!(emitted, expected);
    }
}

// ---------------------------------------------------------------- real captures (fixtures)

/// One line of a fixture.
struct FixtureSegment {
    frame: u64,
    ts: Timestamp,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    len: u32,
    payload: Vec<u8>,
}

fn load_fixture(name: &str) -> Vec<FixtureSegment> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let (secs, nanos) = f[1].split_once('.').expect("epoch");
            let sock = |ip: &str, port: &str| -> SocketAddr {
                let ip: std::net::IpAddr = ip.parse().expect("ip");
                SocketAddr::new(ip, port.parse().expect("port"))
            };
            FixtureSegment {
                frame: f[0].parse().expect("frame"),
                ts: Timestamp {
                    secs: secs.parse().expect("secs"),
                    nanos: nanos.parse().expect("nanos"),
                },
                src: sock(f[2], f[3]),
                dst: sock(f[4], f[5]),
                seq: f[6].parse().expect("seq"),
                ack: f[7].parse().expect("ack"),
                flags: (u16::from_str_radix(f[8].trim_start_matches("0x"), 16).expect("flags")
                    & 0xff) as u8,
                len: f[9].parse().expect("len"),
                payload: f
                    .get(10)
                    .map(|h| hex::decode(h).expect("hex"))
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Replays a fixture; payload-less fixtures get `len` synthetic bytes.
fn replay(name: &str) -> Vec<Finished<Recorder>> {
    let segs = load_fixture(name);
    let mut table = FlowTable::new(FlowConfig::default());
    let mut out = Vec::new();
    for s in &segs {
        let synthetic;
        let payload: &[u8] = if s.payload.len() == s.len as usize {
            &s.payload
        } else {
            synthetic = vec![0x5a; s.len as usize];
            &synthetic
        };
        let seg = TcpSegment {
            src: s.src,
            dst: s.dst,
            seq: s.seq,
            ack: s.ack,
            flags: TcpFlags(s.flags),
            window: 0,
            mss: 0,
            payload,
            wire_payload_len: s.len,
            carrier: Default::default(),
        };
        let m = SegmentMeta {
            packet: s.frame,
            ts: s.ts,
        };
        table.process(m, &seg, &mut |_, _| Recorder::default(), &mut |f| {
            out.push(f)
        });
    }
    table.finish(&mut |f| out.push(f));
    out.sort_by_key(|f| f.tcp.index);
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn ftp_start_tls_matches_tshark_follow() {
    // nDPI ftp-start-tls.pcap: every server segment captured twice, reordered bursts.
    let conns = replay("ftp-start-tls.segments.tsv");
    assert_eq!(conns.len(), 1); // tshark: one tcp.stream
    let f = &conns[0];
    let t = &f.tcp;
    assert_eq!(
        (t.client, t.server),
        (addr("10.238.26.36:62092"), addr("10.220.50.76:21"))
    );
    // tshark -z follow,tcp,raw,0: 856 and 2003 bytes with these SHA-256 digests.
    assert_eq!((t.client_bytes, t.server_bytes), (856, 2003));
    let to_server = f.handler.stream(Direction::ToServer);
    let to_client = f.handler.stream(Direction::ToClient);
    assert_eq!(
        sha256_hex(&to_server),
        "4cfebcde0c813cdb3ea0ea40961969eb272af9079da64b1a976ae53cf0fd7826"
    );
    assert_eq!(
        sha256_hex(&to_client),
        "424373e2e24566c98842a549084b22739276b0d68ec3e8903ba40d0a1975c09e"
    );
    assert_eq!(
        (t.gaps, t.syn, t.syn_ack, t.established, t.packets),
        (0, 1, 2, true, 51)
    );
    // Duplicated server segments: frames 6, 11, 18, 19, 20, 24, 27, 30, 33, 41, 42, 47, 50.
    assert_eq!((t.retransmissions, t.out_of_order), (13, 0));
    assert_eq!(t.end_reason, EndReason::CaptureEnd);
}

#[test]
fn bug_5881_matches_tshark_byte_counts() {
    // suricata-verify bug-5881-01: retransmitted SYN, out-of-order and overlapping segments.
    let conns = replay("bug-5881-01.segments.tsv");
    assert_eq!(conns.len(), 1);
    let t = &conns[0].tcp;
    assert_eq!((t.client_bytes, t.server_bytes), (2582, 6820));
    assert_eq!((t.syn, t.gaps), (2, 0));
}

#[test]
fn malware_matches_tshark_streams_and_byte_counts() {
    // nDPI malware.pcap: 4 tcp.streams: a lone SYN (idle for hours), a midstream HTTP exchange,
    // a TLS connection closed by RST with stragglers, a TLS download with one out-of-order segment.
    let conns = replay("malware.segments.tsv");
    let summary: Vec<_> = conns
        .iter()
        .map(|f| {
            (
                f.tcp.index,
                f.tcp.client_bytes,
                f.tcp.server_bytes,
                f.tcp.end_reason,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, 0, 0, EndReason::Idle),
            (1, 329, 44, EndReason::Idle), // the next packet comes 4 years later
            (2, 674, 5344, EndReason::Closed),
            (3, 2794, 46132, EndReason::CaptureEnd),
        ]
    );
    assert_eq!(conns[2].tcp.rst.map(|(side, _)| side), Some(Side::Client));
    assert_eq!(
        (conns[1].tcp.midstream, conns[1].tcp.established),
        (true, true)
    );
    // Stream 3: frame 37 fills the hole tshark flagged at frame 34 ("previous segment not
    // captured"), so no gap remains.
    let t = &conns[3].tcp;
    assert_eq!(
        (t.out_of_order, t.gaps, t.packets, t.established),
        (1, 0, 74, true)
    );
}

/// The sequence space each side sent that its peer never acknowledged, at the connection's
/// end: the server's last 6 bytes here (hand-built segments: one edge case).
#[test]
fn unacknowledged_bytes_at_the_end_are_counted_per_side() {
    let (during, at_end, _) = run_table(FlowConfig::default(), &hello_world());
    assert!(during.is_empty());
    assert_eq!(at_end[0].tcp.unacked_at_end, [0, 6]);
}
