//! The connection table.
//!
//! Two maps from a direction-independent 5-tuple key: live connections, and tombstones (closed
//! connections' 5-tuples, remembered for `linger_secs` so their trailing packets are absorbed).
//! A key is in one of them at most; every packet looks up the small live map first. Capture
//! time is the largest timestamp seen; idle connections and expired tombstones are swept at
//! most once per `sweep_interval` of capture time, and a live connection found idle on lookup
//! is emitted before the packet is processed.
//!
//! Memory is bounded by [`FlowConfig::max_memory`]: a connection that has sent only its
//! first SYN is a compact [`SynOnly`] entry (no handler, no reassembly state) until a second
//! packet makes it a full connection, and when the estimated size of everything held passes
//! the budget the least recently active connections are finalized early
//! ([`EndReason::Evicted`]) and the oldest tombstones forgotten, down to seven eighths of it.

use super::reassembly::SeqNumber;
use super::*;
use std::collections::HashMap;

/// The 5-tuple in canonical order (lower endpoint first), so both directions map to one key,
/// and the overlay network it travels in ([`crate::net::Carrier::flow_scope`]: a VNI, which
/// both directions carry), so two tenants' flows with the same inner 5-tuple stay apart.
/// TCP is implied: the table only sees TCP segments. Packed into 40 bytes (two `SocketAddr`
/// take 64): the table remembers every 5-tuple closed in the last `linger_secs`, on a busy
/// capture most of its entries, and its size is entries × (key + slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlowKey {
    low: Endpoint,
    high: Endpoint,
    /// Bit 0: IPv6 (an IPv4 address is stored in the first four bytes of `ip`); above it, the
    /// flow scope. One word, so the scope costs no bytes over the family flag's padding.
    tag: [u16; 2],
}

/// One side of a [`FlowKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Endpoint {
    ip: [u8; 16],
    port: u16,
}

impl Endpoint {
    /// The address as one big-endian number (an IPv4 address in the top four bytes) and the
    /// port: ordered as `Endpoint`'s fields are, and worked out in registers (building the
    /// byte arrays first and comparing them stalled every packet on store forwarding).
    fn numbers(a: SocketAddr) -> (u128, u16) {
        let ip = match a {
            SocketAddr::V4(v4) => u128::from(v4.ip().to_bits()) << 96,
            SocketAddr::V6(v6) => v6.ip().to_bits(),
        };
        (ip, a.port())
    }

    fn of((ip, port): (u128, u16)) -> Endpoint {
        Endpoint {
            ip: ip.to_be_bytes(),
            port,
        }
    }

    /// Back to an address (`v6`: the key's family).
    fn addr(&self, v6: bool) -> SocketAddr {
        if v6 {
            SocketAddr::new(std::net::Ipv6Addr::from(self.ip).into(), self.port)
        } else {
            let [a, b, c, d, ..] = self.ip;
            SocketAddr::new(std::net::Ipv4Addr::new(a, b, c, d).into(), self.port)
        }
    }

    /// The address and port folded into one word.
    fn fold(&self) -> u64 {
        let x = u128::from_be_bytes(self.ip);
        let ip = ((x >> 64) as u64) ^ (x as u64).rotate_left(17);
        (ip << 16) ^ (ip >> 48) ^ u64::from(self.port)
    }
}

/// One word per key: a derived `Hash` would feed every field to the hasher separately (~2 %
/// of a run, on every packet's lookup). Equal keys fold equally.
impl std::hash::Hash for FlowKey {
    fn hash<S: std::hash::Hasher>(&self, state: &mut S) {
        let tag = u64::from(self.tag[0]) | u64::from(self.tag[1]) << 16;
        state.write_u64(self.low.fold() ^ self.high.fold().rotate_left(32) ^ tag);
    }
}

impl FlowKey {
    /// `scope`: the segment's [`crate::net::flow_scope`].
    fn of(a: SocketAddr, b: SocketAddr, scope: u32) -> FlowKey {
        // The IP layer never sets an IPv6 flow label or scope in these addresses, so the
        // packed key tells apart exactly the 5-tuples that `SocketAddr` equality does.
        let (a, b, v6) = (Endpoint::numbers(a), Endpoint::numbers(b), a.is_ipv6());
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        // Scopes are below 2^26, so the shift loses nothing.
        let tag = scope << 1 | u32::from(v6);
        FlowKey {
            low: Endpoint::of(low),
            high: Endpoint::of(high),
            tag: [tag as u16, (tag >> 16) as u16],
        }
    }

    fn v6(&self) -> bool {
        self.tag[0] & 1 != 0
    }
}

/// A closed connection's 5-tuple, remembered for `linger_secs` so that its stray packets
/// are absorbed. 16 bytes: the time is held as its two fields (a `Timestamp` would make it 24).
#[derive(Debug, Clone, Copy)]
struct Tombstone {
    secs: i64,
    nanos: u32,
}

impl Tombstone {
    fn at(closed_at: Timestamp) -> Self {
        Tombstone {
            secs: closed_at.secs,
            nanos: closed_at.nanos,
        }
    }

    fn closed_at(self) -> Timestamp {
        Timestamp {
            secs: self.secs,
            nanos: self.nanos,
        }
    }
}

/// A connection that has sent only its first SYN: 40 bytes where a full connection takes
/// ~1 KiB plus its handler (~2 KiB), since a SYN flood is millions of them. Made a full
/// [`Connection`] by its second packet, or when it is emitted.
#[derive(Debug, Clone, Copy)]
struct SynOnly {
    index: u64,
    packet: u64,
    secs: i64,
    nanos: u32,
    isn: u32,
    /// The SYN's MSS option (0: none).
    mss: u16,
    /// The client (SYN sender) is the key's `low` endpoint.
    client_low: bool,
}

impl SynOnly {
    fn ts(&self) -> Timestamp {
        Timestamp {
            secs: self.secs,
            nanos: self.nanos,
        }
    }

    fn meta(&self) -> SegmentMeta {
        SegmentMeta {
            packet: self.packet,
            ts: self.ts(),
        }
    }

    /// Client and server addresses.
    fn addrs(&self, key: &FlowKey) -> (SocketAddr, SocketAddr) {
        let (low, high) = (key.low.addr(key.v6()), key.high.addr(key.v6()));
        if self.client_low {
            (low, high)
        } else {
            (high, low)
        }
    }

    /// The SYN again, to replay into a full connection.
    fn segment(&self, key: &FlowKey) -> TcpSegment<'static> {
        let (src, dst) = self.addrs(key);
        TcpSegment {
            src,
            dst,
            seq: self.isn,
            ack: 0,
            flags: crate::net::TcpFlags(crate::net::TcpFlags::SYN),
            window: 0,
            mss: self.mss,
            payload: &[],
            wire_payload_len: 0,
            // Only SYNs sent directly on the link are kept compact.
            carrier: None,
        }
    }
}

/// What an open connection will weigh, for a moment, when it is emitted: the record built
/// from it and what carries it to the output. The end of the capture emits every connection
/// still open at once (and a sharded run holds them until all shards report), so the budget
/// counts it while the connection is open.
const EMITTED_COST: usize = 1024;

/// A live connection.
struct Connection<H> {
    tcp: TcpSummary,
    /// Client's ISN: from its SYN, or from the ACK of the server's SYN-ACK.
    client_isn: Option<u32>,
    /// Server's ISN, from its SYN-ACK.
    server_isn: Option<u32>,
    streams: [Reassembler; 2],
    /// Boxed: handlers are large (a TLS observer is ~2 KiB) and travel on after the table
    /// lets go of them; moving a pointer is cheaper than moving the handler.
    handler: Box<H>,
    /// When both FINs or a RST were seen; the connection is kept `close_grace_secs` longer so
    /// its final ACKs still count, then emitted.
    closed_at: Option<Timestamp>,
    /// Per direction: the end of the furthest sequence space seen (SYN, bytes, FIN).
    seen_end: [Option<SeqNumber>; 2],
    /// Per direction: the first acknowledgement number sent, and the furthest one with its packet.
    first_ack: [Option<SeqNumber>; 2],
    max_ack: [Option<(SeqNumber, PacketRef)>; 2],
    /// Buffered bytes (reassembly and handler) last counted into the table's total.
    accounted: usize,
    /// Per direction: segment sizes (an MTU black hole).
    sizes: [SizeTracker; 2],
}

/// Data segments a direction keeps track of until they are acknowledged: the oldest one, which
/// a black hole keeps retransmitting, and one after it; later segments wait for room.
const TRACKED_SEGMENTS: usize = 2;

/// One data segment sent and not yet acknowledged.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    seq: u32,
    len: u32,
    copies: u32,
    first_packet: u64,
    last_packet: u64,
}

/// The first hole in a direction's bytes.
#[derive(Debug, Clone, Copy)]
struct HoleState {
    start: SeqNumber,
    len: u32,
    after_packet: u64,
    largest_beyond: u32,
    filled: bool,
}

/// Per direction: what [`SegmentSizes`] is made from. A few comparisons per data segment and
/// per ACK.
#[derive(Debug, Clone, Copy, Default)]
struct SizeTracker {
    unacked: [Sent; TRACKED_SEGMENTS],
    tracked: u8,
    largest: u32,
    largest_acked: u32,
    hole: Option<HoleState>,
    dup_acks: u32,
    first_dup_ack: Option<u64>,
}

impl SizeTracker {
    /// A data segment of this direction; `seen_end` is the furthest sequence seen before it.
    fn on_data(&mut self, seq: u32, len: u32, packet: u64, seen_end: Option<SeqNumber>) {
        self.largest = self.largest.max(len);
        let start = SeqNumber(seq);
        let end = start.plus(len);
        match &mut self.hole {
            None => {
                if let Some(e) = seen_end.filter(|e| e.is_before(start)) {
                    self.hole = Some(HoleState {
                        start: e,
                        len: start.distance_from(e).unsigned_abs(),
                        after_packet: packet,
                        largest_beyond: len,
                        filled: false,
                    });
                }
            }
            Some(h) if !h.filled => {
                if !h.start.is_before(start) && h.start.is_before(end) {
                    h.filled = true;
                } else if !start.is_before(h.start.plus(h.len)) {
                    h.largest_beyond = h.largest_beyond.max(len);
                }
            }
            Some(_) => {}
        }
        let n = usize::from(self.tracked);
        if let Some(s) = self.unacked[..n].iter_mut().find(|s| s.seq == seq) {
            s.copies = s.copies.saturating_add(1);
            s.len = s.len.max(len);
            s.last_packet = packet;
        } else if n < TRACKED_SEGMENTS {
            self.unacked[n] = Sent {
                seq,
                len,
                copies: 1,
                first_packet: packet,
                last_packet: packet,
            };
            self.tracked += 1;
        }
    }

    /// The peer acknowledged up to `ack`.
    fn on_ack(&mut self, ack: SeqNumber) {
        let mut n = usize::from(self.tracked);
        let mut i = 0;
        while i < n {
            let s = self.unacked[i];
            if !ack.is_before(SeqNumber(s.seq).plus(s.len)) {
                self.largest_acked = self.largest_acked.max(s.len);
                n -= 1;
                self.unacked[i] = self.unacked[n];
            } else {
                i += 1;
            }
        }
        self.tracked = n as u8;
    }

    /// The summary, given the furthest acknowledgement the peer sent.
    fn finish(&self, max_ack: Option<SeqNumber>) -> SegmentSizes {
        let never_acked = |seq: SeqNumber| max_ack.map_or(true, |a| !seq.is_before(a));
        let stuck = self.unacked[..usize::from(self.tracked)]
            .iter()
            .filter(|s| s.copies >= 3 && never_acked(SeqNumber(s.seq)))
            .max_by_key(|s| (s.len, std::cmp::Reverse(s.first_packet)))
            .map(|s| StuckSegment {
                len: s.len,
                copies: s.copies,
                first_packet: s.first_packet,
                last_packet: s.last_packet,
            });
        let hole = self
            .hole
            .filter(|h| !h.filled && never_acked(h.start))
            .map(|h| Hole {
                len: h.len,
                after_packet: h.after_packet,
                largest_beyond: h.largest_beyond,
            });
        SegmentSizes {
            largest: self.largest,
            largest_acked: self.largest_acked,
            stuck,
            hole,
            dup_acks: self.dup_acks,
            first_dup_ack: self.first_dup_ack,
        }
    }
}

/// Live connections keyed by 5-tuple.
pub struct FlowTable<H> {
    cfg: FlowConfig,
    /// Open connections (and closed ones in their grace period). Apart from the tombstones:
    /// every packet looks its connection up here, and this map stays as small as the number
    /// of connections open at once, so the lookup stays in cache.
    live: HashMap<FlowKey, Box<Connection<H>>, foldhash::fast::RandomState>,
    /// 5-tuples closed in the last `linger_secs`: on a busy capture most of the 5-tuples
    /// remembered, looked up only by packets of no live connection (a SYN opening one, a
    /// straggler of a closed one). Never holds a key that `live` holds.
    tombstones: HashMap<FlowKey, Tombstone, foldhash::fast::RandomState>,
    /// Connections that have sent only their first SYN, in compact form. Never holds a key
    /// that `live` or `tombstones` holds.
    syn_only: HashMap<FlowKey, SynOnly, foldhash::fast::RandomState>,
    /// A handler that has seen nothing, copied ([`StreamHandler::fresh`]) for the
    /// connections made from `syn_only` entries; None until the first SYN, or when the
    /// handler type cannot be copied (no compact entries then).
    prototype: Option<Box<H>>,
    /// A first SYN has asked for a prototype.
    prototype_tried: bool,
    /// Buffered bytes of the live connections (sum of their `accounted`).
    buffered: usize,
    next_index: u64,
    /// Capture time: the largest timestamp seen.
    now: Timestamp,
    last_sweep: Option<Timestamp>,
    /// Capture time from which [`FlowTable::tick`] has work (a grace period over, a sweep
    /// due); None when `closing` or `last_sweep` changed since it was worked out.
    due: Option<Timestamp>,
    /// The latest packet, for the `meta` of gaps declared at capture end.
    last_meta: SegmentMeta,
    /// Closed connections waiting out their grace period, oldest first: (closed at, key, index).
    closing: std::collections::VecDeque<(Timestamp, FlowKey, u64)>,
    /// Packet numbers of the connections opened since the last [`FlowTable::take_opened`], in
    /// index order; only kept when [`FlowTable::track_opens`] asked for them.
    opened: Option<Vec<u64>>,
}

/// `later - earlier` in nanoseconds (exact, overflow-free on any timestamps).
fn elapsed_nanos(later: Timestamp, earlier: Timestamp) -> i128 {
    let nanos = |t: Timestamp| i128::from(t.secs) * 1_000_000_000 + i128::from(t.nanos);
    nanos(later) - nanos(earlier)
}

/// Whole seconds between sweeps: 1 s, or coarser for long timeouts (a sweep walks the whole
/// table; idle connections are also caught exactly when their next packet arrives).
fn sweep_interval(cfg: &FlowConfig) -> i64 {
    (cfg.idle_timeout_secs.min(cfg.linger_secs) / 8).clamp(1, 60)
}

/// The earliest capture time at which `emit_closed` or `sweep_if_due` has work: the oldest
/// closing connection's grace period is over (strictly after `closed_at + grace`), or a sweep
/// interval has passed since the last sweep (at once before the first).
fn next_due(
    oldest_closing: Option<Timestamp>,
    last_sweep: Option<Timestamp>,
    cfg: &FlowConfig,
) -> Timestamp {
    let plus = |t: Timestamp, secs: i64, nanos: u64| {
        Timestamp::new(t.secs.saturating_add(secs), u64::from(t.nanos) + nanos)
    };
    let sweep = match last_sweep {
        None => return Timestamp::new(i64::MIN, 0),
        Some(last) => plus(last, sweep_interval(cfg), 0),
    };
    match oldest_closing {
        Some(closed_at) => sweep.min(plus(closed_at, cfg.close_grace_secs, 1)),
        None => sweep,
    }
}

/// `later - earlier` > `secs` seconds.
fn elapsed_more_than(later: Timestamp, earlier: Timestamp, secs: i64) -> bool {
    elapsed_nanos(later, earlier) > i128::from(secs) * 1_000_000_000
}

fn packet_ref(meta: SegmentMeta) -> PacketRef {
    PacketRef {
        packet: meta.packet,
        ts: meta.ts,
    }
}

impl<H: StreamHandler> FlowTable<H> {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            cfg,
            live: HashMap::default(),
            tombstones: HashMap::default(),
            syn_only: HashMap::default(),
            prototype: None,
            prototype_tried: false,
            buffered: 0,
            next_index: 0,
            now: Timestamp::default(),
            last_sweep: None,
            due: None,
            last_meta: SegmentMeta::default(),
            closing: std::collections::VecDeque::new(),
            opened: None,
        }
    }

    /// Remember the packet that opens each connection, for [`FlowTable::take_opened`]: a
    /// table that sees only some of a capture's connections (one shard of several) reports
    /// them so a merger can number connections as one table would (by opening packet).
    pub fn track_opens(&mut self) {
        self.opened.get_or_insert_with(Vec::new);
    }

    /// Opening packets of the connections opened since the last call (their indexes are
    /// consecutive, in this order).
    pub fn take_opened(&mut self) -> Vec<u64> {
        self.opened.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Lets capture time pass without a segment of this table: a packet that belongs to
    /// another shard. Closed and idle connections are emitted exactly when one table holding
    /// every connection would have emitted them.
    pub fn tick(&mut self, meta: SegmentMeta, emit: &mut dyn FnMut(Finished<H>)) {
        self.now = self.now.max(meta.ts);
        self.last_meta = meta;
        // Most ticks have nothing to do, and one comparison says so.
        let due = self.due();
        if self.now < due {
            return;
        }
        self.emit_closed(emit);
        self.sweep_if_due(emit);
        self.due = None;
    }

    /// The capture time from which [`FlowTable::tick`] has work: before it, time passing ends
    /// nothing.
    pub fn due(&mut self) -> Timestamp {
        *self.due.get_or_insert_with(|| {
            next_due(
                self.closing.front().map(|c| c.0),
                self.last_sweep,
                &self.cfg,
            )
        })
    }

    /// Lets capture time pass up to `now` (the latest time of the packets up to `meta`'s)
    /// when [`FlowTable::due`] says no tick in between has work: the same state as ticking
    /// each of those packets, without visiting them.
    pub fn pass_time(&mut self, now: Timestamp, meta: SegmentMeta) {
        debug_assert!(now < self.due());
        self.now = self.now.max(now);
        self.last_meta = meta;
    }

    /// Feeds one segment. `new_handler` makes the handler of a connection this segment opens
    /// (called with client and server addresses); `emit` receives every connection that ends
    /// (closed, reused, idle) as a consequence of this segment or of time passing.
    pub fn process(
        &mut self,
        meta: SegmentMeta,
        seg: &TcpSegment<'_>,
        new_handler: &mut dyn FnMut(SocketAddr, SocketAddr) -> H,
        emit: &mut dyn FnMut(Finished<H>),
    ) {
        self.tick(meta, emit);

        let key = FlowKey::of(seg.src, seg.dst, crate::net::flow_scope(seg.carrier));
        let opens = seg.flags.syn() && !seg.flags.ack();
        if let Some(conn) = self.live.get_mut(&key) {
            if elapsed_more_than(meta.ts, conn.tcp.last.ts, self.cfg.idle_timeout_secs) {
                self.end(key, EndReason::Idle, meta, emit, false);
            } else if opens && !conn.is_same_syn(seg) {
                let reason = if conn.closed_at.is_some() {
                    EndReason::Closed
                } else {
                    EndReason::Reused
                };
                self.end(key, reason, meta, emit, false);
            } else {
                // The common case: one lookup per packet, in the small map of live ones.
                if conn.on_segment(meta, seg) && conn.closed_at.is_none() {
                    conn.closed_at = Some(self.now);
                    self.closing.push_back((self.now, key, conn.tcp.index));
                    self.due = None;
                }
                self.buffered = conn.account(self.buffered);
                self.enforce_budget(emit);
                return;
            }
        } else if let Some(syn) = self.syn_only.remove(&key) {
            if elapsed_more_than(meta.ts, syn.ts(), self.cfg.idle_timeout_secs) {
                self.end_syn_only(key, syn, EndReason::Idle, meta, emit);
            } else {
                // Its second packet: a full connection from here on, which the live path
                // above then handles (reused 5-tuple, retransmitted SYN, answer...).
                let seg0 = syn.segment(&key);
                let handler = new_handler(seg0.src, seg0.dst);
                let mut conn = self.connection(syn.index, &seg0, handler);
                conn.on_segment(syn.meta(), &seg0);
                self.live.insert(key, conn);
                return self.process(meta, seg, new_handler, emit);
            }
        } else if let Some(tomb) = self.tombstones.get(&key) {
            // The packet's own time, not the running maximum: in captures merged out of
            // time order one early-stamped packet must not age every later connection.
            let expired = elapsed_more_than(meta.ts, tomb.closed_at(), self.cfg.linger_secs);
            if !expired && !opens {
                // A trailing ACK, FIN, RST or retransmission of the closed connection.
                return;
            }
            self.tombstones.remove(&key);
        }

        if let Some(opened) = &mut self.opened {
            opened.push(meta.packet);
        }
        if self.compact(seg, new_handler) {
            let index = self.next_index;
            self.next_index += 1;
            let client_low = key.low.addr(key.v6()) == seg.src;
            self.syn_only.insert(
                key,
                SynOnly {
                    index,
                    packet: meta.packet,
                    secs: meta.ts.secs,
                    nanos: meta.ts.nanos,
                    isn: seg.seq,
                    mss: seg.mss,
                    client_low,
                },
            );
        } else {
            let mut conn = self.open(seg, new_handler);
            if conn.on_segment(meta, seg) {
                conn.closed_at = Some(self.now);
                self.closing.push_back((self.now, key, conn.tcp.index));
                self.due = None;
            }
            self.buffered = conn.account(self.buffered);
            self.live.insert(key, conn);
        }
        self.enforce_budget(emit);
    }

    /// `seg` opens a connection that can wait in compact form: a bare SYN, and a handler
    /// type that can be copied later.
    fn compact(
        &mut self,
        seg: &TcpSegment<'_>,
        new_handler: &mut dyn FnMut(SocketAddr, SocketAddr) -> H,
    ) -> bool {
        // A tunnelled SYN keeps a full entry: the compact one has no room for its carrier.
        if seg.flags.0 & !crate::net::TcpFlags::PSH != crate::net::TcpFlags::SYN
            || seg.wire_payload_len > 0
            || !seg.payload.is_empty()
            || seg.carrier.is_some()
        {
            return false;
        }
        if !self.prototype_tried {
            self.prototype_tried = true;
            let h = new_handler(seg.src, seg.dst);
            if h.fresh().is_some() {
                self.prototype = Some(Box::new(h));
            }
        }
        self.prototype.is_some()
    }

    /// Emits a compact entry (already out of `syn_only`) as the connection it stands for.
    fn end_syn_only(
        &mut self,
        key: FlowKey,
        syn: SynOnly,
        reason: EndReason,
        meta: SegmentMeta,
        emit: &mut dyn FnMut(Finished<H>),
    ) {
        // Entries exist only once the prototype copied itself, so this is always Some.
        let Some(handler) = self.prototype.as_ref().and_then(|p| p.fresh()) else {
            return;
        };
        let seg = syn.segment(&key);
        let mut conn = self.connection(syn.index, &seg, handler);
        conn.on_segment(syn.meta(), &seg);
        emit(conn.into_finished(reason, meta));
    }

    /// Estimated bytes held: entries (their map slots counted twice, as a map's capacity is
    /// up to twice its length), connections with their handlers, buffered bytes, and for
    /// each open connection [`EMITTED_COST`].
    pub fn estimated_memory(&self) -> usize {
        use std::mem::size_of;
        let live = 2 * size_of::<(FlowKey, Box<Connection<H>>)>()
            + size_of::<Connection<H>>()
            + size_of::<H>()
            // allocator overhead of the two boxes
            + 32
            + EMITTED_COST;
        let syn = 2 * (size_of::<(FlowKey, SynOnly)>() + 1) + EMITTED_COST;
        let tomb = 2 * (size_of::<(FlowKey, Tombstone)>() + 1);
        self.live.len() * live
            + self.syn_only.len() * syn
            + self.tombstones.len() * tomb
            + self.buffered
    }

    /// Over budget: finalizes the least recently active connections (compact ones too) and
    /// forgets the oldest tombstones until the estimate is under seven eighths of it (each
    /// pass visits every entry, so it must free a good share; what it finalizes is emitted at
    /// once, so not too much).
    fn enforce_budget(&mut self, emit: &mut dyn FnMut(Finished<H>)) {
        let budget = self.cfg.max_memory;
        if self.estimated_memory() <= budget {
            return;
        }
        let target = budget / 8 * 7;
        // A few rounds at most: each takes the oldest fraction the overshoot calls for.
        for _ in 0..4 {
            let estimate = self.estimated_memory();
            let entries = self.live.len() + self.syn_only.len() + self.tombstones.len();
            if estimate <= target || entries == 0 {
                break;
            }
            let share = (estimate - target) as f64 / estimate as f64;
            let victims = ((entries as f64 * share).ceil() as usize).clamp(1, entries);
            // The time at or before which `victims` entries were last active.
            let mut times: Vec<Timestamp> = Vec::with_capacity(entries);
            times.extend(self.live.values().map(|c| c.tcp.last.ts));
            times.extend(self.syn_only.values().map(SynOnly::ts));
            times.extend(self.tombstones.values().map(|t| t.closed_at()));
            let (_, cutoff, _) = times.select_nth_unstable(victims - 1);
            let cutoff = *cutoff;
            drop(times);
            self.tombstones.retain(|_, t| t.closed_at() > cutoff);
            let mut ending: Vec<(u64, FlowKey, bool)> = self
                .live
                .iter()
                .filter(|(_, c)| c.tcp.last.ts <= cutoff)
                .map(|(k, c)| (c.tcp.index, *k, false))
                .chain(
                    self.syn_only
                        .iter()
                        .filter(|(_, s)| s.ts() <= cutoff)
                        .map(|(k, s)| (s.index, *k, true)),
                )
                .collect();
            ending.sort_unstable_by_key(|e| e.0);
            let meta = self.last_meta;
            for (_, key, compact) in ending {
                if compact {
                    if let Some(syn) = self.syn_only.remove(&key) {
                        self.end_syn_only(key, syn, EndReason::Evicted, meta, emit);
                    }
                } else if self.live.get(&key).is_some_and(|c| c.closed_at.is_some()) {
                    // Closed, in its grace period: only its trailing ACKs are cut short.
                    self.end(key, EndReason::Closed, meta, emit, true);
                } else {
                    self.end(key, EndReason::Evicted, meta, emit, false);
                }
            }
        }
    }

    /// Emits closed connections whose grace period is over (oldest first), leaving tombstones.
    fn emit_closed(&mut self, emit: &mut dyn FnMut(Finished<H>)) {
        while let Some(&(closed_at, key, index)) = self.closing.front() {
            if !elapsed_more_than(self.now, closed_at, self.cfg.close_grace_secs) {
                break;
            }
            self.closing.pop_front();
            let still_there = matches!(
                self.live.get(&key),
                Some(c) if c.tcp.index == index && c.closed_at.is_some()
            );
            if still_there {
                let meta = self.last_meta;
                self.end(key, EndReason::Closed, meta, emit, true);
            }
        }
    }

    /// End of capture: emits every connection still open, in index order.
    pub fn finish(mut self, emit: &mut dyn FnMut(Finished<H>)) {
        let meta = self.last_meta;
        let mut open: Vec<(u64, FlowKey, bool)> = self
            .live
            .iter()
            .map(|(k, c)| (c.tcp.index, *k, false))
            .chain(self.syn_only.iter().map(|(k, s)| (s.index, *k, true)))
            .collect();
        open.sort_unstable_by_key(|(index, _, _)| *index);
        for (_, key, compact) in open {
            if compact {
                if let Some(syn) = self.syn_only.remove(&key) {
                    self.end_syn_only(key, syn, EndReason::CaptureEnd, meta, emit);
                }
                continue;
            }
            let closed = self.live.get(&key).is_some_and(|c| c.closed_at.is_some());
            let reason = if closed {
                EndReason::Closed
            } else {
                EndReason::CaptureEnd
            };
            self.end(key, reason, meta, emit, false);
        }
    }

    /// Connections currently open (compact SYN-only ones included).
    pub fn open_connections(&self) -> usize {
        self.live.len() + self.syn_only.len()
    }

    /// 5-tuples remembered (open connections plus tombstones); bounded over time.
    pub fn tracked_tuples(&self) -> usize {
        self.live.len() + self.syn_only.len() + self.tombstones.len()
    }

    /// A new connection for the 5-tuple of `seg`, with client and server told apart.
    fn open(
        &mut self,
        seg: &TcpSegment<'_>,
        new_handler: &mut dyn FnMut(SocketAddr, SocketAddr) -> H,
    ) -> Box<Connection<H>> {
        let flags = seg.flags;
        let (client, server, midstream) = if flags.syn() && !flags.ack() {
            (seg.src, seg.dst, false)
        } else if flags.syn() {
            (seg.dst, seg.src, false)
        } else if seg.src.port() < seg.dst.port() {
            (seg.dst, seg.src, true)
        } else {
            // Higher source port, or a tie: the destination of the first packet is the server.
            (seg.src, seg.dst, true)
        };
        let index = self.next_index;
        self.next_index += 1;
        let handler = new_handler(client, server);
        let carrier = seg.carrier.copied().unwrap_or_default();
        self.connection_with_roles(index, client, server, midstream, carrier, handler)
    }

    /// A connection numbered `index` that a bare SYN `seg` opened.
    fn connection(&self, index: u64, seg: &TcpSegment<'_>, handler: H) -> Box<Connection<H>> {
        let carrier = seg.carrier.copied().unwrap_or_default();
        self.connection_with_roles(index, seg.src, seg.dst, false, carrier, handler)
    }

    fn connection_with_roles(
        &self,
        index: u64,
        client: SocketAddr,
        server: SocketAddr,
        midstream: bool,
        carrier: Carrier,
        handler: H,
    ) -> Box<Connection<H>> {
        let first = PacketRef {
            packet: 0,
            ts: Timestamp::default(),
        };
        let streams = [
            Reassembler::new(
                self.cfg.max_buffered_per_direction,
                self.cfg.max_ranges_per_direction,
            ),
            Reassembler::new(
                self.cfg.max_buffered_per_direction,
                self.cfg.max_ranges_per_direction,
            ),
        ];
        Box::new(Connection {
            tcp: TcpSummary::opened(index, client, server, first, midstream, carrier),
            seen_end: [None; 2],
            first_ack: [None; 2],
            max_ack: [None; 2],
            client_isn: None,
            server_isn: None,
            streams,
            handler: Box::new(handler),
            closed_at: None,
            accounted: 0,
            sizes: [SizeTracker::default(); 2],
        })
    }

    /// Emits the connection at `key` (flushing both directions); leaves a tombstone when it
    /// closed.
    fn end(
        &mut self,
        key: FlowKey,
        reason: EndReason,
        meta: SegmentMeta,
        emit: &mut dyn FnMut(Finished<H>),
        tombstone: bool,
    ) {
        if let Some(conn) = self.live.remove(&key) {
            self.buffered = self.buffered.saturating_sub(conn.accounted);
            if tombstone {
                self.tombstones.insert(key, Tombstone::at(self.now));
            }
            emit(conn.into_finished(reason, meta));
        }
    }

    /// Emits idle connections and forgets expired tombstones, at most once per sweep interval.
    fn sweep_if_due(&mut self, emit: &mut dyn FnMut(Finished<H>)) {
        let interval = sweep_interval(&self.cfg);
        if let Some(last) = self.last_sweep {
            if elapsed_nanos(self.now, last) < i128::from(interval) * 1_000_000_000 {
                return;
            }
        }
        self.last_sweep = Some(self.now);
        let (now, idle, linger) = (self.now, self.cfg.idle_timeout_secs, self.cfg.linger_secs);
        self.tombstones
            .retain(|_, t| !elapsed_more_than(now, t.closed_at(), linger));
        let mut idle_keys: Vec<(u64, FlowKey, bool)> = self
            .live
            .iter()
            .filter(|(_, c)| elapsed_more_than(now, c.tcp.last.ts, idle))
            .map(|(k, c)| (c.tcp.index, *k, false))
            .chain(
                self.syn_only
                    .iter()
                    .filter(|(_, s)| elapsed_more_than(now, s.ts(), idle))
                    .map(|(k, s)| (s.index, *k, true)),
            )
            .collect();
        idle_keys.sort_unstable_by_key(|(index, _, _)| *index);
        let meta = self.last_meta;
        for (_, key, compact) in idle_keys {
            if compact {
                if let Some(syn) = self.syn_only.remove(&key) {
                    self.end_syn_only(key, syn, EndReason::Idle, meta, emit);
                }
            } else {
                self.end(key, EndReason::Idle, meta, emit, false);
            }
        }
    }
}

impl<H: StreamHandler> Connection<H> {
    /// Counts this connection's buffered bytes anew into `total` (the table's), returning
    /// the new total.
    fn account(&mut self, total: usize) -> usize {
        let now = self.streams[0].held_bytes()
            + self.streams[1].held_bytes()
            + self.handler.buffered_bytes();
        let total = total.saturating_sub(self.accounted).saturating_add(now);
        self.accounted = now;
        total
    }

    /// `seg` is a SYN this connection already saw (retransmitted, same ISN from the client).
    fn is_same_syn(&self, seg: &TcpSegment<'_>) -> bool {
        seg.src == self.tcp.client && self.client_isn == Some(seg.seq)
    }

    /// Updates counters and reassembly; returns true when the connection just closed (RST, or
    /// FINs from both sides).
    fn on_segment(&mut self, meta: SegmentMeta, seg: &TcpSegment<'_>) -> bool {
        let at = packet_ref(meta);
        let dir = if seg.src == self.tcp.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let side = dir.sender();
        let flags = seg.flags;
        let tcp = &mut self.tcp;
        if tcp.packets == 0 {
            tcp.first = at;
        }
        tcp.packets += 1;
        tcp.last = at;
        tcp.dir_packets[dir.idx()] += 1;
        tcp.last_packet[dir.idx()] = Some(at);
        let stale = side == Side::Server
            && flags.ack()
            && !flags.syn()
            && !flags.rst()
            && tcp.syn > 0
            && tcp.syn_ack == 0
            && self
                .client_isn
                .is_some_and(|isn| seg.ack != isn.wrapping_add(1));
        if stale && tcp.stale_ack.is_none() {
            tcp.stale_ack = Some((at, seg.ack));
        }
        // A RST's acknowledgement number proves nothing, nor does a stale ACK's.
        if flags.ack() && !flags.rst() && !stale {
            let ack = SeqNumber(seg.ack);
            self.first_ack[dir.idx()].get_or_insert(ack);
            let peer = dir.reverse().idx();
            let pure = seg.wire_payload_len == 0 && !flags.syn() && !flags.fin();
            let sizes = &mut self.sizes[peer];
            if pure
                && matches!(self.max_ack[dir.idx()], Some((m, _)) if m == ack)
                && self.seen_end[peer].is_some_and(|e| ack.is_before(e))
            {
                sizes.dup_acks = sizes.dup_acks.saturating_add(1);
                sizes.first_dup_ack.get_or_insert(meta.packet);
            }
            if sizes.tracked > 0 {
                sizes.on_ack(ack);
            }
            let furthest = &mut self.max_ack[dir.idx()];
            if !matches!(furthest, Some((m, _)) if !m.is_before(ack)) {
                *furthest = Some((ack, at));
            }
        }

        if flags.syn() {
            match (side, flags.ack()) {
                (Side::Client, false) => {
                    if seg.mss != 0 {
                        tcp.mss[dir.idx()] = Some(seg.mss);
                    }
                    tcp.syn = tcp.syn.saturating_add(1);
                    tcp.first_syn.get_or_insert(at);
                    tcp.last_syn = Some(at);
                    self.client_isn.get_or_insert(seg.seq);
                }
                (Side::Server, true) => {
                    if seg.mss != 0 {
                        tcp.mss[dir.idx()] = Some(seg.mss);
                    }
                    tcp.syn_ack = tcp.syn_ack.saturating_add(1);
                    tcp.first_syn_ack.get_or_insert(at);
                    self.server_isn.get_or_insert(seg.seq);
                    // The SYN-ACK acknowledges the client's ISN even when its SYN was not captured.
                    self.client_isn.get_or_insert(seg.ack.wrapping_sub(1));
                }
                _ => {}
            }
            self.streams[dir.idx()].on_syn(seg.seq);
        } else if flags.ack() && side == Side::Client && tcp.syn > 0 && tcp.syn_ack > 0 {
            if let Some(server_isn) = self.server_isn {
                // Acknowledges the SYN-ACK: ack at or past server ISN + 1.
                if !SeqNumber(seg.ack).is_before(SeqNumber(server_isn).plus(1)) {
                    tcp.established = true;
                }
            }
        }

        let wire_len = seg
            .wire_payload_len
            .max(seg.payload.len().min(u32::MAX as usize) as u32);
        if wire_len > 0 {
            tcp.first_data[dir.idx()].get_or_insert(at);
            if tcp.last_data[dir.idx()].is_some_and(|p| p.packet != at.packet) {
                tcp.prev_data[dir.idx()] = tcp.last_data[dir.idx()];
                tcp.prev_data_len[dir.idx()] = tcp.last_data_len[dir.idx()];
            }
            tcp.last_data[dir.idx()] = Some(at);
            tcp.last_data_len[dir.idx()] = wire_len;
            // Payload after a SYN flag starts at seq + 1.
            let seq = if flags.syn() {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            self.sizes[dir.idx()].on_data(seq, wire_len, meta.packet, self.seen_end[dir.idx()]);
            self.streams[dir.idx()].on_segment(
                dir,
                seq,
                seg.payload,
                wire_len,
                meta,
                &mut *self.handler,
            );
            if tcp.midstream && tcp.first_data[0].is_some() && tcp.first_data[1].is_some() {
                tcp.established = true;
            }
        }

        let end = SeqNumber(seg.seq).plus(
            u32::from(flags.syn())
                .wrapping_add(wire_len)
                .wrapping_add(u32::from(flags.fin())),
        );
        let seen = &mut self.seen_end[dir.idx()];
        if !matches!(seen, Some(s) if !s.is_before(end)) {
            *seen = Some(end);
        }

        let mut closed = false;
        if flags.fin() {
            if tcp.fin[dir.idx()].is_none() {
                tcp.fin[dir.idx()] = Some(at);
                let syn_len = u32::from(flags.syn());
                self.streams[dir.idx()]
                    .on_fin(seg.seq.wrapping_add(syn_len).wrapping_add(wire_len));
            }
            // `closed_by` and `close` describe the first close: who began it, and how.
            if tcp.closed_by.is_none() {
                tcp.closed_by = Some(side);
                tcp.close = Some(CloseKind::Fin);
            }
            closed |= tcp.fin[0].is_some() && tcp.fin[1].is_some();
        }
        if flags.rst() && side == Side::Client && tcp.syn_ack == 0 && tcp.stale_ack.is_some() {
            tcp.stale_rst.get_or_insert(at);
            return false;
        }
        if flags.rst() {
            if tcp.rst.is_none() {
                let acked = if flags.ack() {
                    Some(SeqNumber(seg.ack))
                } else {
                    self.max_ack[dir.idx()].map(|(a, _)| a)
                };
                tcp.rst_unacked = acked
                    .zip(self.seen_end[dir.reverse().idx()])
                    .map(|(acked, end)| end.distance_from(acked).max(0) as u32);
            }
            tcp.rst.get_or_insert((side, at));
            if tcp.closed_by.is_none() {
                tcp.closed_by = Some(side);
                tcp.close = Some(CloseKind::Rst);
            }
            closed = true;
        }
        closed
    }

    /// Flushes both directions and packages the summary.
    fn into_finished(mut self: Box<Self>, reason: EndReason, meta: SegmentMeta) -> Finished<H> {
        for dir in [Direction::ToServer, Direction::ToClient] {
            self.streams[dir.idx()].flush(dir, meta, &mut *self.handler);
        }
        // Worked on in its box: the connection is not moved out whole, only its summary.
        let conn = &mut *self;
        let tcp = &mut conn.tcp;
        for dir in [Direction::ToServer, Direction::ToClient] {
            let peer_ack = conn.max_ack[dir.reverse().idx()].map(|(a, _)| a);
            tcp.sizes[dir.idx()] = conn.sizes[dir.idx()].finish(peer_ack);
        }
        for dir in [Direction::ToServer, Direction::ToClient] {
            let (i, peer) = (dir.idx(), dir.reverse().idx());
            if let (Some((furthest, at)), Some(base)) = (
                conn.max_ack[peer],
                conn.seen_end[i].or(conn.first_ack[peer]),
            ) {
                let beyond = furthest.distance_from(base);
                if beyond > 0 {
                    tcp.acked_unseen[i] = (u64::from(beyond.unsigned_abs()), Some(at));
                }
            }
            if let (Some(end), Some((acked, _))) = (conn.seen_end[i], conn.max_ack[peer]) {
                tcp.unacked_at_end[i] = u32::try_from(end.distance_from(acked).max(0)).unwrap_or(0);
            }
        }
        tcp.seen_until = packet_ref(meta);
        let [to_server, to_client] = &conn.streams;
        tcp.client_bytes = to_server.covered_bytes();
        tcp.server_bytes = to_client.covered_bytes();
        tcp.gaps = to_server.gaps().saturating_add(to_client.gaps());
        tcp.gap_bytes = to_server.gap_bytes().saturating_add(to_client.gap_bytes());
        tcp.retransmissions = to_server
            .retransmissions()
            .saturating_add(to_client.retransmissions());
        tcp.out_of_order = to_server
            .out_of_order()
            .saturating_add(to_client.out_of_order());
        tcp.end_reason = reason;
        Finished {
            tcp: Box::new(self.tcp),
            handler: self.handler,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tombstone entry is 56 bytes (key 40, time 16), a live one 48 (key and a box); with `SocketAddr` keys and a `Timestamp` an entry was 88. Most 5-tuples a busy
    /// capture's table remembers are tombstones, so this is most of its memory.
    #[test]
    fn table_entries_are_packed() {
        assert_eq!(std::mem::size_of::<FlowKey>(), 40);
        assert_eq!(std::mem::size_of::<Tombstone>(), 16);
        assert_eq!(std::mem::size_of::<(FlowKey, Tombstone)>(), 56);
        assert_eq!(std::mem::size_of::<(FlowKey, Box<Connection<()>>)>(), 48);
        // A SYN flood's entries: 80 bytes where a live connection and its TLS observer
        // take ~3.5 KiB.
        assert_eq!(std::mem::size_of::<(FlowKey, SynOnly)>(), 80);
        // Segment sizes (an MTU black hole) cost each connection this much.
        assert_eq!(std::mem::size_of::<SizeTracker>(), 120);
    }

    /// Both directions give one key; IPv4 and an IPv6 address with the same leading bytes
    /// stay apart.
    #[test]
    fn keys_are_direction_free_and_family_aware() {
        let a: SocketAddr = "10.0.0.1:443".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:50000".parse().unwrap();
        assert_eq!(FlowKey::of(a, b, 0), FlowKey::of(b, a, 0));
        assert_ne!(
            FlowKey::of(a, b, 0),
            FlowKey::of(a, "10.0.0.2:50001".parse().unwrap(), 0)
        );
        let a6: SocketAddr = "[a00:1::]:443".parse().unwrap();
        let b6: SocketAddr = "[a00:2::]:50000".parse().unwrap();
        let of = |x| Endpoint::of(Endpoint::numbers(x));
        assert_eq!(of(a6).ip[..4], of(a).ip[..4]);
        assert_eq!(of(a).ip, [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_ne!(FlowKey::of(a6, b6, 0), FlowKey::of(a, b, 0));
        assert!(FlowKey::of(a6, b6, 0).v6() && !FlowKey::of(a, b, 0).v6());
    }

    /// The same 5-tuple in two overlay networks is two keys; the largest scope survives the
    /// packing and leaves the family flag alone.
    #[test]
    fn keys_tell_scopes_apart() {
        let a: SocketAddr = "10.0.0.1:443".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:50000".parse().unwrap();
        let top = crate::net::FLOW_SCOPE_LIMIT - 1;
        assert_ne!(FlowKey::of(a, b, 0), FlowKey::of(a, b, 1));
        assert_ne!(FlowKey::of(a, b, top), FlowKey::of(a, b, top - 1));
        assert_eq!(FlowKey::of(a, b, top), FlowKey::of(b, a, top));
        assert!(!FlowKey::of(a, b, top).v6());
        let a6: SocketAddr = "[a00:1::]:443".parse().unwrap();
        assert!(FlowKey::of(a6, a6, top).v6());
    }

    /// Records delivered bytes; `copyable` says whether it offers [`StreamHandler::fresh`]
    /// (the table then keeps SYN-only connections compact).
    #[derive(Debug, PartialEq)]
    struct Seen {
        copyable: bool,
        bytes: Vec<(Direction, Vec<u8>)>,
    }

    impl StreamHandler for Seen {
        fn on_data(&mut self, dir: Direction, data: &[u8], _: SegmentMeta) -> Interest {
            self.bytes.push((dir, data.to_vec()));
            Interest::More
        }
        fn on_gap(&mut self, _: Direction, _: u64, _: SegmentMeta) -> Interest {
            Interest::More
        }
        fn fresh(&self) -> Option<Self> {
            self.copyable.then(|| Seen {
                copyable: true,
                bytes: Vec::new(),
            })
        }
    }

    /// Flags, from the client?, seq, ack, payload, seconds.
    type Seg = (u8, bool, u32, u32, &'static [u8], i64);
    /// What came out: each connection's summary and delivered bytes.
    type Out = Vec<(TcpSummary, Vec<(Direction, Vec<u8>)>)>;

    /// Hand-built segments, one unit test
    /// of the compact form: each run gives the same connections with and without it.
    fn run(copyable: bool, segs: &[Seg], max_memory: usize) -> (Out, usize) {
        let cfg = FlowConfig {
            max_memory,
            ..FlowConfig::default()
        };
        let mut table = FlowTable::new(cfg);
        let (c, s): (SocketAddr, SocketAddr) = (
            "10.0.0.9:40000".parse().unwrap(),
            "10.0.0.1:443".parse().unwrap(),
        );
        let mut out = Vec::new();
        let mut most_compact = 0;
        for (i, &(flags, from_client, seq, ack, payload, secs)) in segs.iter().enumerate() {
            let (src, dst) = if from_client { (c, s) } else { (s, c) };
            let seg = TcpSegment {
                src,
                dst,
                seq,
                ack,
                flags: crate::net::TcpFlags(flags),
                window: 1000,
                mss: 0,
                payload,
                wire_payload_len: payload.len() as u32,
                carrier: None,
            };
            let meta = SegmentMeta {
                packet: i as u64 + 1,
                ts: Timestamp::new(secs, 0),
            };
            table.process(
                meta,
                &seg,
                &mut |_, _| Seen {
                    copyable,
                    bytes: Vec::new(),
                },
                &mut |f| out.push((*f.tcp, f.handler.bytes)),
            );
            most_compact = most_compact.max(table.syn_only.len());
        }
        table.finish(&mut |f| out.push((*f.tcp, f.handler.bytes)));
        (out, most_compact)
    }

    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const SYN_ACK: u8 = 0x12;
    const FIN_ACK: u8 = 0x11;
    const RST: u8 = 0x04;

    #[test]
    fn syn_only_connections_wait_compact_and_come_out_the_same() {
        let cases: Vec<Vec<Seg>> = vec![
            // A lone SYN.
            vec![(SYN, true, 100, 0, b"", 1)],
            // A retransmitted SYN (same ISN), then nothing.
            vec![(SYN, true, 100, 0, b"", 1), (SYN, true, 100, 0, b"", 2)],
            // A whole connection with data both ways, closed by FINs.
            vec![
                (SYN, true, 100, 0, b"", 1),
                (SYN_ACK, false, 900, 101, b"", 1),
                (ACK, true, 101, 901, b"", 1),
                (ACK, true, 101, 901, b"hello", 1),
                (ACK, false, 901, 106, b"world!", 1),
                (FIN_ACK, true, 106, 907, b"", 1),
                (FIN_ACK, false, 907, 107, b"", 1),
            ],
            // The 5-tuple reused by a SYN with another ISN: two connections.
            vec![(SYN, true, 100, 0, b"", 1), (SYN, true, 5000, 0, b"", 3)],
            // Refused.
            vec![
                (SYN, true, 100, 0, b"", 1),
                (RST | ACK, false, 0, 101, b"", 1),
            ],
            // Idle past the timeout, then an answer: the SYN ends idle, the answer opens anew.
            vec![
                (SYN, true, 100, 0, b"", 1),
                (SYN_ACK, false, 900, 101, b"", 1000),
            ],
        ];
        for (i, segs) in cases.iter().enumerate() {
            let (full, none_compact) = run(false, segs, usize::MAX);
            let (compact, most_compact) = run(true, segs, usize::MAX);
            assert_eq!(none_compact, 0);
            assert_eq!(most_compact, 1, "case {i}");
            assert_eq!(compact, full, "case {i}");
        }
    }

    /// A one-byte budget finalizes each connection after every packet, compact or not; the
    /// SYN-only one comes out as the same connection.
    #[test]
    fn over_budget_connections_are_evicted() {
        let segs: &[Seg] = &[
            (SYN, true, 100, 0, b"", 1),
            (SYN_ACK, false, 900, 101, b"", 1),
        ];
        for copyable in [false, true] {
            let (out, _) = run(copyable, segs, 1);
            let reasons: Vec<(EndReason, u64, bool)> = out
                .iter()
                .map(|(t, _)| (t.end_reason, t.packets, t.midstream))
                .collect();
            assert_eq!(
                reasons,
                [
                    (EndReason::Evicted, 1, false),
                    (EndReason::Evicted, 1, false)
                ],
                "copyable {copyable}"
            );
            assert_eq!(out[0].0.syn, 1);
            assert_eq!(out[1].0.syn_ack, 1);
        }
    }

    /// `tick` skips its work before `next_due`; at `next_due` the slow checks must fire.
    /// Boundaries: the grace period ends strictly after `closed_at + grace` (carry into the
    /// next second), a sweep is due exactly `interval` after the last, and at once before the
    /// first.
    #[test]
    fn next_due_matches_the_checks_it_short_cuts() {
        let cfg = FlowConfig::default();
        let interval = sweep_interval(&cfg);
        assert_eq!(interval, 15);
        let closed = Timestamp::new(10, 999_999_999);
        let swept = Timestamp::new(100, 5);
        let due = next_due(Some(closed), Some(swept), &cfg);
        assert_eq!(due, Timestamp::new(12, 0));
        let before = Timestamp::new(11, 999_999_999);
        assert!(!elapsed_more_than(before, closed, cfg.close_grace_secs));
        assert!(elapsed_more_than(due, closed, cfg.close_grace_secs));
        let sweep_due = next_due(None, Some(swept), &cfg);
        assert_eq!(sweep_due, Timestamp::new(115, 5));
        assert!(
            elapsed_nanos(Timestamp::new(115, 4), swept) < i128::from(interval) * 1_000_000_000
        );
        assert!(elapsed_nanos(sweep_due, swept) >= i128::from(interval) * 1_000_000_000);
        assert_eq!(
            next_due(Some(closed), None, &cfg),
            Timestamp::new(i64::MIN, 0)
        );
    }
}
