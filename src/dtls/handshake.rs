//! Handshake message reassembly of one direction: DTLS numbers messages (`message_seq`) and
//! cuts them into fragments that may arrive out of order, twice (a retransmitted flight) or
//! overlap. Messages are delivered whole, in sequence order, each once.
//!
//! Invariants: messages before `next` were delivered (their fragments are retransmissions);
//! `partial` holds at most [`MAX_PARTIAL`] messages and `held` bytes of them, at most the
//! configured message limit in all.

use super::wire::Fragment;
use std::collections::BTreeMap;

/// Messages being joined at once (a server flight has at most six or so).
const MAX_PARTIAL: usize = 8;

/// A message being joined.
#[derive(Debug)]
struct Partial {
    msg_type: u8,
    buf: Vec<u8>,
    /// Byte ranges received, sorted and disjoint.
    have: Vec<(usize, usize)>,
}

impl Partial {
    fn add(&mut self, start: usize, bytes: &[u8]) {
        let end = start + bytes.len();
        if let Some(dst) = self.buf.get_mut(start..end) {
            dst.copy_from_slice(bytes);
        }
        self.have.push((start, end));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(s, e) in &self.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.have = merged;
    }

    fn complete(&self) -> bool {
        self.have == [(0, self.buf.len())] || self.buf.is_empty()
    }
}

/// What one fragment did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Messages now whole, in order: (type, body).
    Delivered(Vec<(u8, Vec<u8>)>),
    /// A fragment of a message already delivered: a retransmission.
    Repeated,
    /// Held until the rest of its message arrives.
    Held,
    /// Not kept: its message exceeds the limit, or too many messages are pending.
    Dropped { length: usize },
}

/// One direction's handshake messages.
#[derive(Debug, Default)]
pub struct Reassembly {
    /// The next message_seq to deliver (None until the first fragment is seen).
    next: Option<u16>,
    partial: BTreeMap<u16, Partial>,
    held: usize,
}

impl Reassembly {
    /// Bytes of partial messages held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Adds a fragment; a new message is kept when it fits in `max_message` bytes and in `room`
    /// (what the table-wide budget has left).
    pub fn add(&mut self, f: &Fragment<'_>, max_message: usize, room: usize) -> Step {
        // A capture that starts mid-flight begins at the first message it shows.
        let next = *self.next.get_or_insert(f.message_seq);
        if f.message_seq < next {
            return Step::Repeated;
        }
        if !self.partial.contains_key(&f.message_seq) {
            if f.length > max_message
                || f.length > room
                || self.partial.len() >= MAX_PARTIAL
                || self.held + f.length > max_message
            {
                return Step::Dropped { length: f.length };
            }
            self.held += f.length;
            self.partial.insert(
                f.message_seq,
                Partial {
                    msg_type: f.msg_type,
                    buf: vec![0; f.length],
                    have: Vec::new(),
                },
            );
        }
        if let Some(p) = self.partial.get_mut(&f.message_seq) {
            if p.buf.len() != f.length || p.msg_type != f.msg_type {
                // The same sequence number with another message: not this handshake's.
                return Step::Dropped { length: f.length };
            }
            p.add(f.offset, f.body);
        }
        let mut out = Vec::new();
        let mut at = next;
        while self.partial.get(&at).is_some_and(Partial::complete) {
            let Some(p) = self.partial.remove(&at) else {
                break;
            };
            self.held -= p.buf.len();
            out.push((p.msg_type, p.buf));
            at = at.wrapping_add(1);
        }
        self.next = Some(at);
        if out.is_empty() {
            Step::Held
        } else {
            Step::Delivered(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(seq: u16, length: usize, offset: usize, body: &[u8]) -> Fragment<'_> {
        Fragment {
            msg_type: 11,
            length,
            message_seq: seq,
            offset,
            body,
        }
    }

    // Hand-built fragments (ordering edge cases, not a capture).
    #[test]
    fn out_of_order_fragments_join_and_repeats_are_counted() {
        let mut r = Reassembly::default();
        assert_eq!(r.add(&frag(0, 4, 2, &[3, 4]), 100, 1000), Step::Held);
        assert_eq!(r.add(&frag(1, 1, 0, &[9]), 100, 1000), Step::Held);
        assert_eq!(
            r.add(&frag(0, 4, 0, &[1, 2, 3]), 100, 1000),
            Step::Delivered(vec![(11, vec![1, 2, 3, 4]), (11, vec![9])])
        );
        assert_eq!(
            r.add(&frag(0, 4, 0, &[1, 2, 3, 4]), 100, 1000),
            Step::Repeated
        );
        assert_eq!(r.held, 0);
    }

    #[test]
    fn oversized_messages_are_dropped() {
        let mut r = Reassembly::default();
        assert_eq!(
            r.add(&frag(0, 1000, 0, &[0; 10]), 100, 1000),
            Step::Dropped { length: 1000 }
        );
        // Within the message limit but over what the table's budget has left.
        assert_eq!(
            r.add(&frag(0, 50, 0, &[0; 10]), 100, 20),
            Step::Dropped { length: 50 }
        );
        assert_eq!(r.held(), 0);
    }
}
