//! One direction's TCP reassembly.
//!
//! Tracks the next expected sequence number, holds bounded out-of-order ranges, trims
//! retransmissions and overlaps (first-seen bytes win), and reports unfillable holes as gaps.
//!
//! Sequence numbers are mapped to 64-bit *stream offsets* (bytes since the base sequence number)
//! as soon as a segment arrives, by taking the signed 32-bit distance to the next expected
//! sequence number. Everything after that is plain `u64` arithmetic, so wrap-around across 2^32
//! needs no special case.
//!
//! Invariants of the hold (checked by `debug_assert_invariants` in debug builds):
//! - held ranges are sorted, non-overlapping, non-empty;
//! - every held range starts strictly after `next` (a range at `next` is delivered at once);
//! - `held_bytes` is the sum of the byte-carrying ranges' lengths;
//! - after `Interest::Done`, no range carries bytes (every range is `Seen`).
//!
//! Counting: a segment that repeats only bytes already seen (delivered or held) is a
//! retransmission; one that brings new bytes ahead of a hole is out of order (not also a
//! retransmission when it overlaps held bytes); every hole skipped or left at the end is a gap,
//! also once the handler is done (it is then only not told).

use super::{Direction, Interest, SegmentMeta, StreamHandler};

/// Alternative ISNs remembered per direction (see [`Reassembler::on_syn`]).
const MAX_ALT_ISNS: usize = 4;

/// A TCP sequence number: compared and subtracted modulo 2^32.
///
/// There is deliberately no `Ord`: modular comparison is not transitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// `self + n` modulo 2^32.
    pub fn plus(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }

    /// Signed distance `self - earlier` modulo 2^32 (positive when `self` is after `earlier`
    /// by less than 2^31).
    pub fn distance_from(self, earlier: SeqNumber) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }

    /// `self` is strictly before `other` (modulo 2^32).
    pub fn is_before(self, other: SeqNumber) -> bool {
        self.distance_from(other) < 0
    }
}

/// Bytes of one held range, or only its extent.
#[derive(Debug)]
enum HeldData {
    /// Out-of-order bytes waiting for the hole before them to fill.
    Bytes(Vec<u8>),
    /// Sequence space seen but without bytes: cut by the snaplen (a gap when delivered).
    Absent,
    /// Sequence space seen once the handler is done: bytes dropped, extent kept for counts.
    Seen,
}

/// One held out-of-order range `[start, end)` in stream offsets.
#[derive(Debug)]
struct HeldRange {
    start: u64,
    end: u64,
    data: HeldData,
}

/// Reassembles one direction of a TCP connection.
#[derive(Debug)]
pub struct Reassembler {
    max_held_bytes: usize,
    max_held_ranges: usize,
    /// Sequence number at stream offset 0 (None until the direction starts).
    base: Option<SeqNumber>,
    /// Stream offset of the next byte to deliver.
    next: u64,
    held: Vec<HeldRange>,
    held_bytes: usize,
    /// The handler returned `Interest::Done`: count only.
    done: bool,
    /// Stream offset of the first FIN (its sequence number).
    fin_at: Option<u64>,
    /// End of the furthest sequence space seen: ranges let go past the range cap that never
    /// came again are a gap up to here at the end.
    seen_end: u64,
    covered_bytes: u64,
    gaps: u32,
    gap_bytes: u64,
    retransmissions: u32,
    out_of_order: u32,
    /// Other ISNs announced by later SYNs with a different sequence number before any payload
    /// (a server answering retransmitted SYNs with fresh SYN-ACKs); the first payload picks
    /// the one it continues.
    alt_isns: Vec<u32>,
}

impl Default for Reassembler {
    fn default() -> Self {
        let cfg = super::FlowConfig::default();
        Reassembler::new(cfg.max_buffered_per_direction, cfg.max_ranges_per_direction)
    }
}

impl Reassembler {
    /// A reassembler holding at most `max_held_bytes` out-of-order bytes in at most
    /// `max_held_ranges` contiguous ranges before declaring the oldest hole a gap.
    pub fn new(max_held_bytes: usize, max_held_ranges: usize) -> Self {
        Reassembler {
            max_held_bytes,
            max_held_ranges: max_held_ranges.max(1),
            base: None,
            next: 0,
            held: Vec::new(),
            held_bytes: 0,
            done: false,
            fin_at: None,
            seen_end: 0,
            covered_bytes: 0,
            gaps: 0,
            gap_bytes: 0,
            retransmissions: 0,
            out_of_order: 0,
            alt_isns: Vec::new(),
        }
    }

    /// A SYN from this direction's sender: the stream starts at `isn + 1`.
    /// Ignored once the direction has started (retransmitted SYN).
    pub fn on_syn(&mut self, isn: u32) {
        match self.base {
            None => self.base = Some(SeqNumber(isn).plus(1)),
            Some(b) if b != SeqNumber(isn).plus(1) && self.no_payload_yet() => {
                if self.alt_isns.len() < MAX_ALT_ISNS && !self.alt_isns.contains(&isn) {
                    self.alt_isns.push(isn);
                }
            }
            Some(_) => {}
        }
    }

    /// Nothing but SYNs seen in this direction so far.
    fn no_payload_yet(&self) -> bool {
        self.next == 0 && self.held.is_empty() && self.covered_bytes == 0
    }

    /// The direction has started (SYN or payload seen).
    pub fn is_started(&self) -> bool {
        self.base.is_some()
    }

    /// The handler said `Interest::Done`: bytes are only counted.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Sequence space covered by payload (retransmissions counted once), in bytes.
    pub fn covered_bytes(&self) -> u64 {
        self.covered_bytes
    }

    /// Holes declared (never filled).
    pub fn gaps(&self) -> u32 {
        self.gaps
    }

    /// Bytes missing in those holes.
    pub fn gap_bytes(&self) -> u64 {
        self.gap_bytes
    }

    /// Segments that repeated bytes already seen.
    pub fn retransmissions(&self) -> u32 {
        self.retransmissions
    }

    /// Segments that arrived ahead of a hole.
    pub fn out_of_order(&self) -> u32 {
        self.out_of_order
    }

    /// Out-of-order bytes currently held.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Stream offset of `seq` relative to `next` (negative: before the stream start).
    fn offset_of(&self, base: SeqNumber, seq: SeqNumber) -> i64 {
        let next_seq = base.plus(self.next as u32);
        self.next as i64 + i64::from(seq.distance_from(next_seq))
    }

    /// A FIN from this direction's sender at sequence number `seq` (after any payload in the same
    /// segment). Bytes before it that never arrive become a gap when the direction is flushed.
    pub fn on_fin(&mut self, seq: u32) {
        if let (Some(base), None) = (self.base, self.fin_at) {
            let at = self.offset_of(base, SeqNumber(seq));
            if at >= 0 {
                self.fin_at = Some(at as u64);
            }
        }
    }

    /// One segment's payload: `payload` is what the capture holds, `wire_len` what the segment
    /// carried (larger when the snaplen cut it). In-order bytes go straight to `handler`.
    pub fn on_segment<H: StreamHandler + ?Sized>(
        &mut self,
        dir: Direction,
        seq: u32,
        payload: &[u8],
        wire_len: u32,
        meta: SegmentMeta,
        handler: &mut H,
    ) {
        // Never trust the capture: a payload longer than the wire length is cut to it.
        let wire_len = wire_len.max(payload.len().min(u32::MAX as usize) as u32);
        if wire_len == 0 {
            return;
        }
        let payload = payload.get(..wire_len as usize).unwrap_or(payload);
        if self.no_payload_yet()
            && self
                .alt_isns
                .iter()
                .any(|isn| SeqNumber(*isn).plus(1) == SeqNumber(seq))
        {
            // The first payload continues a later SYN's ISN, not the first one.
            self.base = Some(SeqNumber(seq));
            self.alt_isns = Vec::new();
        }
        let base = match self.base {
            Some(b) => b,
            None => {
                // Picked up mid-stream: the first payload starts the stream.
                let b = SeqNumber(seq);
                self.base = Some(b);
                b
            }
        };
        let start = self.offset_of(base, SeqNumber(seq));
        let end = start + i64::from(wire_len);
        self.seen_end = self.seen_end.max(end.max(0) as u64);
        if end <= self.next as i64 {
            self.retransmissions = self.retransmissions.saturating_add(1);
            return;
        }
        let seg = Segment {
            start,
            present_end: start + payload.len() as i64,
            payload,
        };
        let mut overlapped = start < self.next as i64;
        if start > self.next as i64 {
            let (new, _old) = self.hold(&seg, start as u64, end as u64);
            // New bytes ahead of a hole: out of order, even if some were held already;
            // nothing new: a retransmission of held bytes.
            if new > 0 {
                self.out_of_order = self.out_of_order.saturating_add(1);
            } else {
                overlapped = true;
            }
            self.enforce_bounds(dir, meta, handler);
        } else {
            let end = end as u64;
            let mut cursor = self.next;
            while cursor < end {
                let limit = self.held.first().map_or(end, |r| r.start.min(end));
                if limit > cursor {
                    self.deliver_from_segment(&seg, cursor, limit, dir, meta, handler);
                    self.covered_bytes += limit - cursor;
                    self.next = limit;
                }
                if let Some(first) = self.held.first() {
                    if first.start == self.next && first.start < end {
                        overlapped = true;
                    }
                }
                self.deliver_contiguous(dir, meta, handler);
                cursor = self.next;
            }
        }
        if overlapped {
            self.retransmissions = self.retransmissions.saturating_add(1);
        }
        self.debug_assert_invariants();
    }

    /// End of the direction (connection emitted): every remaining hole becomes a gap and the held
    /// data after it is delivered; a hole before a seen FIN is a gap too.
    pub fn flush<H: StreamHandler + ?Sized>(
        &mut self,
        dir: Direction,
        meta: SegmentMeta,
        handler: &mut H,
    ) {
        while !self.held.is_empty() {
            self.skip_first_hole(dir, meta, handler);
        }
        if self.seen_end > self.next {
            let len = self.seen_end - self.next;
            self.declare_gap(len, dir, meta, handler);
            self.next = self.seen_end;
        }
        if let Some(fin_at) = self.fin_at {
            if fin_at > self.next {
                let len = fin_at - self.next;
                self.declare_gap(len, dir, meta, handler);
                self.next = fin_at;
            }
        }
        self.debug_assert_invariants();
    }

    /// Copies the parts of `[start, end)` not already held into the hold (first-seen bytes win).
    /// Returns (new bytes, bytes already held).
    fn hold(&mut self, seg: &Segment<'_>, start: u64, end: u64) -> (u64, u64) {
        let mut new_bytes = 0;
        let mut cursor = start;
        let mut i = 0;
        // Walk the held ranges once; insert uncovered pieces in order.
        while cursor < end {
            let (piece_end, skip_to) = match self.held.get(i) {
                Some(r) if r.end <= cursor => {
                    i += 1;
                    continue;
                }
                Some(r) if r.start <= cursor => (cursor, r.end.min(end)),
                Some(r) => (r.start.min(end), r.end.min(end)),
                None => (end, end),
            };
            if piece_end > cursor {
                new_bytes += piece_end - cursor;
                self.insert_piece(i, seg, cursor, piece_end);
                i += 1;
            }
            cursor = skip_to.max(piece_end);
        }
        self.covered_bytes += new_bytes;
        self.merge_adjacent();
        (new_bytes, (end - start) - new_bytes)
    }

    /// Inserts `[from, to)` of `seg` at position `i` of the hold (bytes part, then absent part).
    fn insert_piece(&mut self, i: usize, seg: &Segment<'_>, from: u64, to: u64) {
        let present_end = seg.present_end.max(0) as u64;
        if self.done {
            self.held.insert(
                i,
                HeldRange {
                    start: from,
                    end: to,
                    data: HeldData::Seen,
                },
            );
        } else if from < present_end {
            let bytes_end = to.min(present_end);
            let bytes = seg.bytes(from, bytes_end).to_vec();
            self.held_bytes += bytes.len();
            self.held.insert(
                i,
                HeldRange {
                    start: from,
                    end: bytes_end,
                    data: HeldData::Bytes(bytes),
                },
            );
            if bytes_end < to {
                self.held.insert(
                    i + 1,
                    HeldRange {
                        start: bytes_end,
                        end: to,
                        data: HeldData::Absent,
                    },
                );
            }
        } else {
            self.held.insert(
                i,
                HeldRange {
                    start: from,
                    end: to,
                    data: HeldData::Absent,
                },
            );
        }
    }

    /// Joins touching ranges of the same kind, so the range cap counts contiguous runs.
    fn merge_adjacent(&mut self) {
        let mut i = 1;
        while i < self.held.len() {
            let (left, right) = self.held.split_at_mut(i);
            let (Some(prev), Some(cur)) = (left.last_mut(), right.first_mut()) else {
                break;
            };
            let joinable = prev.end == cur.start
                && matches!(
                    (&prev.data, &cur.data),
                    (HeldData::Absent, HeldData::Absent)
                        | (HeldData::Seen, HeldData::Seen)
                        | (HeldData::Bytes(_), HeldData::Bytes(_))
                );
            if joinable {
                if let (HeldData::Bytes(a), HeldData::Bytes(b)) = (&mut prev.data, &cur.data) {
                    a.extend_from_slice(b);
                }
                prev.end = cur.end;
                self.held.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// While the hold is over its bounds: past the byte bound (the window), the oldest hole
    /// becomes a gap. Past the range cap alone, while the handler still reads, the furthest
    /// range is let go instead (as a receiver drops what lies beyond its buffer): the oldest
    /// hole is still in the window, and the segment that fills it (a late ClientHello behind
    /// many small segments) must be delivered rather than counted as a retransmission.
    fn enforce_bounds<H: StreamHandler + ?Sized>(
        &mut self,
        dir: Direction,
        meta: SegmentMeta,
        handler: &mut H,
    ) {
        while !self.held.is_empty()
            && (self.held_bytes > self.max_held_bytes || self.held.len() > self.max_held_ranges)
        {
            if self.held_bytes <= self.max_held_bytes && !self.done {
                self.drop_last_range();
            } else {
                self.skip_first_hole(dir, meta, handler);
            }
        }
    }

    /// Forgets the furthest held range, as if its segments had not arrived yet (a copy that
    /// comes again is held again; one that never does leaves a hole).
    fn drop_last_range(&mut self) {
        if let Some(last) = self.held.pop() {
            if let HeldData::Bytes(bytes) = &last.data {
                self.held_bytes = self.held_bytes.saturating_sub(bytes.len());
            }
            self.covered_bytes = self.covered_bytes.saturating_sub(last.end - last.start);
        }
    }

    /// Declares the hole before the first held range a gap, then delivers what follows it.
    fn skip_first_hole<H: StreamHandler + ?Sized>(
        &mut self,
        dir: Direction,
        meta: SegmentMeta,
        handler: &mut H,
    ) {
        if let Some(first) = self.held.first() {
            let start = first.start;
            self.declare_gap(start.saturating_sub(self.next), dir, meta, handler);
            self.next = start;
            self.deliver_contiguous(dir, meta, handler);
        }
    }

    /// Counts a gap (a hole in the sequence space, or bytes the snaplen cut before the
    /// handler was done) and tells the handler, unless it is done (nothing is delivered to it
    /// any more, so nothing is missing for it; the hole still counts).
    fn declare_gap<H: StreamHandler + ?Sized>(
        &mut self,
        len: u64,
        dir: Direction,
        meta: SegmentMeta,
        handler: &mut H,
    ) {
        if len == 0 {
            return;
        }
        self.gaps = self.gaps.saturating_add(1);
        self.gap_bytes = self.gap_bytes.saturating_add(len);
        if !self.done {
            let interest = handler.on_gap(dir, len, meta);
            self.note_interest(interest);
        }
    }

    /// Delivers `[from, to)` of the current segment: captured bytes to `on_data`, the part the
    /// snaplen cut as a gap.
    fn deliver_from_segment<H: StreamHandler + ?Sized>(
        &mut self,
        seg: &Segment<'_>,
        from: u64,
        to: u64,
        dir: Direction,
        meta: SegmentMeta,
        handler: &mut H,
    ) {
        let present_end = (seg.present_end.max(0) as u64).clamp(from, to);
        if present_end > from && !self.done {
            let interest = handler.on_data(dir, seg.bytes(from, present_end), meta);
            self.note_interest(interest);
        }
        // Bytes the snaplen cut are missing only for a handler still reading.
        if to > present_end && !self.done {
            self.declare_gap(to - present_end, dir, meta, handler);
        }
    }

    /// Delivers held ranges that start at `next`.
    fn deliver_contiguous<H: StreamHandler + ?Sized>(
        &mut self,
        dir: Direction,
        meta: SegmentMeta,
        handler: &mut H,
    ) {
        while self.held.first().is_some_and(|r| r.start <= self.next) {
            let range = self.held.remove(0);
            match range.data {
                HeldData::Bytes(bytes) => {
                    self.held_bytes = self.held_bytes.saturating_sub(bytes.len());
                    if !self.done {
                        let interest = handler.on_data(dir, &bytes, meta);
                        self.note_interest(interest);
                    }
                }
                HeldData::Absent => {
                    self.declare_gap(range.end - range.start, dir, meta, handler);
                }
                HeldData::Seen => {}
            }
            self.next = self.next.max(range.end);
        }
    }

    /// After `Done`, the held bytes are dropped (only their extent is kept, for byte counts).
    fn note_interest(&mut self, interest: Interest) {
        if interest == Interest::Done && !self.done {
            self.done = true;
            for range in &mut self.held {
                range.data = HeldData::Seen;
            }
            self.held_bytes = 0;
            self.held.shrink_to_fit();
            self.merge_adjacent();
        }
    }

    fn debug_assert_invariants(&self) {
        #[cfg(debug_assertions)]
        {
            let mut prev_end = self.next;
            let mut bytes = 0;
            for (i, r) in self.held.iter().enumerate() {
                debug_assert!(r.start < r.end, "empty range");
                if i == 0 {
                    debug_assert!(r.start > prev_end, "range at or before next");
                } else {
                    debug_assert!(r.start >= prev_end, "overlapping ranges");
                }
                if let HeldData::Bytes(b) = &r.data {
                    debug_assert_eq!(b.len() as u64, r.end - r.start);
                    debug_assert!(!self.done);
                    bytes += b.len();
                }
                debug_assert_eq!(matches!(r.data, HeldData::Seen), self.done);
                prev_end = r.end;
            }
            debug_assert_eq!(bytes, self.held_bytes);
        }
    }
}

/// The segment being processed, in stream offsets.
struct Segment<'a> {
    start: i64,
    /// End of the captured bytes (`start + payload.len()`).
    present_end: i64,
    payload: &'a [u8],
}

impl Segment<'_> {
    /// Captured bytes `[from, to)` (stream offsets), empty when out of range.
    fn bytes(&self, from: u64, to: u64) -> &[u8] {
        let lo = (from as i64).saturating_sub(self.start).max(0) as usize;
        let hi = (to as i64).saturating_sub(self.start).max(0) as usize;
        self.payload.get(lo..hi).unwrap_or(&[])
    }
}
