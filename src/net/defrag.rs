//! IPv4 / IPv6 fragment reassembly with bounded memory.
//!
//! Each datagram is rebuilt in etherparse's `IpDefragBuf` (out-of-order and overlapping
//! fragments, conflicting ends). etherparse's own pool has no bounds, so the table is kept here:
//! at most `max_datagrams` in flight (oldest dropped), at most `max_datagram_bytes` each, and
//! dropped after `timeout_secs` of capture time. Buffers are recycled, so steady-state
//! reassembly does not allocate.

use super::DefragLimits;
use crate::time::Timestamp;
use etherparse::defrag::{IpDefragBuf, IpFragRange};
use etherparse::{IpFragOffset, IpNumber};
use std::net::{Ipv4Addr, Ipv6Addr};

/// What identifies the fragments of one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FragKey {
    /// RFC 791: source, destination, protocol, identification.
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
        id: u16,
    },
    /// RFC 8200: source, destination, identification.
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        id: u32,
    },
}

/// One fragment, borrowed from its packet.
#[derive(Debug)]
pub(crate) struct Fragment<'a> {
    pub key: FragKey,
    /// Byte offset of `payload` in the datagram.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// The fragment's payload.
    pub payload: &'a [u8],
    /// IPv4 protocol, or the IPv6 fragment header's next header.
    pub next_header: u8,
}

/// What adding a fragment did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The datagram still misses pieces.
    Incomplete,
    /// The datagram is whole: [`Defragmenter::completed`] holds its payload, which starts with
    /// a header of type `next_header`.
    Complete { next_header: u8 },
    /// The fragment was refused (and its datagram dropped).
    Rejected(String),
}

#[derive(Debug)]
struct Pending {
    key: FragKey,
    buf: IpDefragBuf,
    started: Timestamp,
    next_header: u8,
}

/// Spare buffers kept for reuse beyond this are freed.
const MAX_SPARE: usize = 16;

/// Datagrams being reassembled.
#[derive(Debug, Default)]
pub(crate) struct Defragmenter {
    limits: DefragLimits,
    /// In arrival order of each datagram's first fragment (oldest first).
    pending: Vec<Pending>,
    spare: Vec<(Vec<u8>, Vec<IpFragRange>)>,
    completed: Vec<u8>,
}

impl Defragmenter {
    pub(crate) fn new(limits: DefragLimits) -> Self {
        Defragmenter {
            limits,
            ..Default::default()
        }
    }

    /// The payload of the datagram completed by the last [`Defragmenter::add`].
    pub(crate) fn completed(&self) -> &[u8] {
        &self.completed
    }

    /// Datagrams currently awaiting fragments.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }

    fn recycle(&mut self, bufs: (Vec<u8>, Vec<IpFragRange>)) {
        if self.spare.len() < MAX_SPARE {
            self.spare.push(bufs);
        }
    }

    fn remove(&mut self, index: usize) {
        let pending = self.pending.remove(index);
        let bufs = pending.buf.take_bufs();
        self.recycle(bufs);
    }

    /// Drops datagrams older than the timeout at capture time `now`.
    fn expire(&mut self, now: Timestamp) {
        let timeout = self.limits.timeout_secs;
        while let Some(index) = self
            .pending
            .iter()
            .position(|p| now.secs.saturating_sub(p.started.secs) > timeout)
        {
            self.remove(index);
        }
    }

    /// Adds one fragment seen at capture time `now`.
    pub(crate) fn add(&mut self, now: Timestamp, fragment: Fragment<'_>) -> Outcome {
        self.expire(now);
        let existing = self.pending.iter().position(|p| p.key == fragment.key);
        let end = u64::from(fragment.offset) + fragment.payload.len() as u64;
        if end > self.limits.max_datagram_bytes as u64 {
            if let Some(index) = existing {
                self.remove(index);
            }
            return Outcome::Rejected(format!(
                "IP fragment ends at byte {end}, beyond the {}-byte reassembly limit",
                self.limits.max_datagram_bytes
            ));
        }
        let offset = match u16::try_from(fragment.offset / 8)
            .ok()
            .and_then(|units| IpFragOffset::try_new(units).ok())
        {
            Some(offset) => offset,
            None => {
                return Outcome::Rejected(format!(
                    "IP fragment offset {} out of range",
                    fragment.offset
                ))
            }
        };
        let index = match existing {
            Some(index) => index,
            None => {
                if self.limits.max_datagrams == 0 {
                    return Outcome::Rejected("IP reassembly disabled".into());
                }
                if self.pending.len() >= self.limits.max_datagrams {
                    self.remove(0);
                }
                let (data, sections) = self.spare.pop().unwrap_or_default();
                self.pending.push(Pending {
                    key: fragment.key,
                    buf: IpDefragBuf::new(IpNumber(fragment.next_header), data, sections),
                    started: now,
                    next_header: fragment.next_header,
                });
                self.pending.len() - 1
            }
        };
        let Some(pending) = self.pending.get_mut(index) else {
            return Outcome::Rejected("reassembly table inconsistent".into());
        };
        if let Err(e) = pending.buf.add(offset, fragment.more, fragment.payload) {
            self.remove(index);
            return Outcome::Rejected(format!("IP fragment refused: {e}"));
        }
        if fragment.offset == 0 {
            // IPv6: the first fragment's next header is the one that counts.
            pending.next_header = fragment.next_header;
        }
        if !pending.buf.is_complete() {
            return Outcome::Incomplete;
        }
        let done = self.pending.remove(index);
        let next_header = done.next_header;
        let (data, sections) = done.buf.take_bufs();
        let previous = std::mem::replace(&mut self.completed, data);
        self.recycle((previous, sections));
        Outcome::Complete { next_header }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-built fragments: the corpus has no fragmented TCP, so reassembly rules are checked
    // on synthetic payloads here.

    fn key(id: u16) -> FragKey {
        FragKey::V4 {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: 6,
            id,
        }
    }

    fn frag(id: u16, offset: u32, more: bool, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            key: key(id),
            offset,
            more,
            payload,
            next_header: 6,
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::new(secs, 0)
    }

    #[test]
    fn out_of_order_and_overlapping_fragments_reassemble() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let data: Vec<u8> = (0u8..40).collect();
        assert_eq!(
            d.add(at(0), frag(1, 32, false, &data[32..])),
            Outcome::Incomplete
        );
        assert_eq!(
            d.add(at(0), frag(1, 8, true, &data[8..24])),
            Outcome::Incomplete
        );
        // Overlaps 16..24 already held.
        assert_eq!(
            d.add(at(0), frag(1, 16, true, &data[16..32])),
            Outcome::Incomplete
        );
        assert_eq!(
            d.add(at(0), frag(1, 0, true, &data[..8])),
            Outcome::Complete { next_header: 6 }
        );
        assert_eq!(d.completed(), &data[..]);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn limits_bound_the_table() {
        let limits = DefragLimits {
            max_datagrams: 2,
            max_datagram_bytes: 64,
            timeout_secs: 5,
        };
        let mut d = Defragmenter::new(limits);
        let chunk = [0u8; 16];
        for id in 0..3 {
            assert_eq!(d.add(at(0), frag(id, 0, true, &chunk)), Outcome::Incomplete);
        }
        assert_eq!(d.pending(), 2);
        // Datagram 0 was evicted: its last fragment alone does not complete it.
        assert_eq!(
            d.add(at(0), frag(0, 16, false, &chunk)),
            Outcome::Incomplete
        );
        // Too big for the byte limit.
        assert!(matches!(
            d.add(at(0), frag(1, 56, false, &chunk)),
            Outcome::Rejected(_)
        ));
        // After the timeout everything older is gone.
        assert_eq!(d.add(at(10), frag(9, 0, true, &chunk)), Outcome::Incomplete);
        assert_eq!(d.pending(), 1);
    }

    #[test]
    fn conflicting_ends_are_rejected() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let chunk = [0u8; 16];
        assert_eq!(
            d.add(at(0), frag(1, 16, false, &chunk)),
            Outcome::Incomplete
        );
        assert!(matches!(
            d.add(at(0), frag(1, 24, false, &chunk)),
            Outcome::Rejected(_)
        ));
        assert_eq!(d.pending(), 0);
    }
}
