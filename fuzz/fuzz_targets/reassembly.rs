//! TCP reassembly, structure-aware: one direction's segments (offsets near the ISN, which is
//! arbitrary so sequence numbers wrap), checked against a model that remembers, per stream
//! offset, every byte value a segment carried there.
//!
//! Each byte's value is `offset ^ fill` (the segment's fill), so overlapping segments with
//! different fills disagree and the model can tell which one a delivered byte came from.
#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tlscap::flow::{Direction, Interest, Reassembler, SegmentMeta, StreamHandler};

#[derive(Arbitrary, Debug)]
struct Input {
    isn: u32,
    /// Start with a SYN (stream origin isn + 1) or mid-stream (origin = first segment).
    syn: bool,
    /// Small hold limits (forced gaps) instead of limits the input cannot reach.
    small: Option<(u16, u8)>,
    /// The handler says Done once it has this many bytes.
    done_after: Option<u16>,
    /// A FIN at this offset from isn + 1, after the segments.
    fin: Option<u16>,
    segs: Vec<Seg>,
}

#[derive(Arbitrary, Debug)]
struct Seg {
    /// Offset from isn + 1.
    off: u16,
    /// Length on the wire (mod 1024).
    len: u16,
    /// Bytes the snaplen cut from the end (mod len + 1).
    cut: u16,
    fill: u8,
}

/// What the handler saw, in order: data (with its stream offset) and gaps.
#[derive(Default)]
struct Recorder {
    pos: u64,
    data: Vec<(u64, Vec<u8>)>,
    gaps: Vec<(u64, u64)>,
    done_after: Option<u64>,
    said_done: bool,
}

impl Recorder {
    fn interest(&mut self) -> Interest {
        match self.done_after {
            Some(n) if self.pos >= n => {
                self.said_done = true;
                Interest::Done
            }
            _ => Interest::More,
        }
    }
}

impl StreamHandler for Recorder {
    fn on_data(&mut self, _: Direction, data: &[u8], _: SegmentMeta) -> Interest {
        assert!(!self.said_done, "data after Done");
        assert!(!data.is_empty(), "empty delivery");
        self.data.push((self.pos, data.to_vec()));
        self.pos += data.len() as u64;
        self.interest()
    }
    fn on_gap(&mut self, _: Direction, len: u64, _: SegmentMeta) -> Interest {
        assert!(!self.said_done, "gap after Done");
        assert!(len > 0, "empty gap");
        self.gaps.push((self.pos, len));
        self.pos += len;
        self.interest()
    }
}

fuzz_target!(|input: Input| {
    let (max_bytes, max_ranges) = match input.small {
        Some((b, r)) => (usize::from(b), usize::from(r)),
        None => (1 << 24, 1 << 16),
    };
    let mut r = Reassembler::new(max_bytes, max_ranges);
    let mut h = Recorder {
        done_after: input.done_after.map(u64::from),
        ..Recorder::default()
    };
    let meta = SegmentMeta::default();
    let dir = Direction::ToServer;
    if input.syn {
        r.on_syn(input.isn);
    }
    // Model, in offsets from isn + 1: the values each offset was carried with (present bytes),
    // and the offsets seen at all (present or cut).
    let mut values: HashMap<i64, Vec<u8>> = HashMap::new();
    let mut seen_end: i64 = 0;
    let mut origin: Option<i64> = input.syn.then_some(0);
    let mut any_cut = false;
    for s in input.segs.iter().take(512) {
        let len = s.len % 1024;
        let cut = s.cut % (len + 1);
        let present = len - cut;
        let off = i64::from(s.off);
        any_cut |= cut > 0;
        let payload: Vec<u8> = (0..i64::from(present))
            .map(|i| ((off + i) as u8) ^ s.fill)
            .collect();
        let seq = input.isn.wrapping_add(1).wrapping_add(u32::from(s.off));
        r.on_segment(dir, seq, &payload, u32::from(len), meta, &mut h);
        if len > 0 {
            origin.get_or_insert(off);
            for i in 0..i64::from(present) {
                values
                    .entry(off + i)
                    .or_default()
                    .push(((off + i) as u8) ^ s.fill);
            }
            seen_end = seen_end.max(off + i64::from(len));
        }
    }
    let fin = input.fin.map(i64::from);
    if let Some(f) = input.fin {
        r.on_fin(input.isn.wrapping_add(1).wrapping_add(u32::from(f)));
    }
    r.flush(dir, meta, &mut h);
    assert_eq!(r.held_bytes(), 0, "bytes held after flush");

    let Some(origin) = origin else {
        assert!(
            h.data.is_empty() && h.gaps.is_empty(),
            "delivery without payload"
        );
        return;
    };
    // Every delivered byte is one a segment carried at that offset.
    for (pos, bytes) in &h.data {
        for (i, b) in bytes.iter().enumerate() {
            let at = origin + *pos as i64 + i as i64;
            let ok = values.get(&at).is_some_and(|v| v.contains(b));
            assert!(ok, "byte {b:#04x} at offset {at} was never sent there");
        }
    }
    // Gaps after Done are counted but not told.
    assert!(
        r.gaps() as usize >= h.gaps.len(),
        "fewer gaps counted than told"
    );
    if h.said_done {
        return;
    }
    assert_eq!(
        r.gaps() as usize,
        h.gaps.len(),
        "gaps counted and told differ"
    );
    // Everything up to the furthest byte seen (or the FIN) was told, as data or gap.
    let end = fin.map_or(seen_end, |f| seen_end.max(f)) - origin;
    assert_eq!(h.pos as i64, end.max(0), "stream length");
    assert_eq!(
        r.gap_bytes(),
        h.gaps.iter().map(|g| g.1).sum::<u64>(),
        "gap bytes"
    );
    if input.small.is_none() && !any_cut {
        // Without forced gaps or cut bytes: first-sent bytes win, and a gap is exactly where
        // nothing was sent.
        for (pos, bytes) in &h.data {
            for (i, b) in bytes.iter().enumerate() {
                let at = origin + *pos as i64 + i as i64;
                assert_eq!(
                    Some(b),
                    values.get(&at).and_then(|v| v.first()),
                    "first byte wins at {at}"
                );
            }
        }
        for (pos, len) in &h.gaps {
            for at in origin + *pos as i64..origin + (*pos + *len) as i64 {
                assert!(!values.contains_key(&at), "gap over sent byte at {at}");
            }
        }
    }
});
