//! CRYPTO stream reassembly: one per packet number space and direction. Frames may arrive out
//! of order, repeat (retransmissions) or overlap; the handshake messages are cut from the
//! contiguous prefix.
//!
//! Invariants: `buf` holds the stream bytes from `delivered` on, contiguous, not yet cut into
//! messages; `pending` holds frames that start beyond `delivered + buf.len()`, at most
//! [`MAX_PENDING`] bytes of them (a frame that would exceed it is dropped and counted).

use std::collections::BTreeMap;

/// Out-of-order bytes held per stream (a ClientHello with post-quantum key shares is ~2 KiB;
/// a certificate chain tens of KiB).
const MAX_PENDING: usize = 256 * 1024;

/// One direction's CRYPTO stream in one packet number space.
#[derive(Debug, Default)]
pub struct CryptoStream {
    /// Stream offset of `buf[0]`.
    delivered: u64,
    buf: Vec<u8>,
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    /// Frames dropped because the out-of-order limit was reached.
    pub dropped: u32,
}

impl CryptoStream {
    /// Adds a frame's bytes at `offset`.
    pub fn insert(&mut self, offset: u64, data: &[u8]) {
        let end = self.end();
        if offset > end {
            if self.pending_bytes + data.len() > MAX_PENDING {
                self.dropped += 1;
                return;
            }
            let slot = self.pending.entry(offset).or_default();
            if slot.len() < data.len() {
                self.pending_bytes += data.len() - slot.len();
                *slot = data.to_vec();
            }
            return;
        }
        self.append(offset, data);
        // Frames that were waiting for these bytes.
        while let Some((&at, _)) = self.pending.first_key_value() {
            if at > self.end() {
                break;
            }
            let Some(bytes) = self.pending.remove(&at) else {
                break;
            };
            self.pending_bytes -= bytes.len();
            self.append(at, &bytes);
        }
    }

    /// Appends the part of `data` (at `offset`, which is not beyond the end) past the end.
    fn append(&mut self, offset: u64, data: &[u8]) {
        let skip = usize::try_from(self.end() - offset).unwrap_or(usize::MAX);
        if let Some(new) = data.get(skip..) {
            self.buf.extend_from_slice(new);
        }
    }

    fn end(&self) -> u64 {
        self.delivered + self.buf.len() as u64
    }

    /// The next complete handshake message (header included), if the prefix holds one whose
    /// length is at most `max`; `Err(len)` for a message announced larger than `max` (the
    /// stream is then cleared and stays unusable).
    pub fn next_message(&mut self, max: usize) -> Result<Option<Vec<u8>>, usize> {
        let Some(head) = self.buf.get(..4) else {
            return Ok(None);
        };
        let len = (usize::from(head[1]) << 16) | (usize::from(head[2]) << 8) | usize::from(head[3]);
        if len > max {
            self.buf = Vec::new();
            self.delivered = u64::MAX;
            return Err(len);
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let rest = self.buf.split_off(4 + len);
        let msg = std::mem::replace(&mut self.buf, rest);
        self.delivered += msg.len() as u64;
        Ok(Some(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-built: a 6-byte message (type 1, length 2) split in three frames, delivered in
    /// every order, with a repeat.
    #[test]
    fn reassembles_in_any_order() {
        let msg = [1u8, 0, 0, 2, 0xaa, 0xbb];
        let parts: [(u64, &[u8]); 3] = [(0, &msg[..3]), (3, &msg[3..5]), (5, &msg[5..])];
        let orders = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]];
        for order in orders {
            let mut s = CryptoStream::default();
            for &i in &order {
                let (o, d) = parts[i];
                s.insert(o, d);
                s.insert(o, d);
            }
            assert_eq!(s.next_message(100), Ok(Some(msg.to_vec())), "{order:?}");
            assert_eq!(s.next_message(100), Ok(None));
            assert!(s.pending.is_empty());
        }
    }

    #[test]
    fn overlapping_frames_and_oversized_messages() {
        let mut s = CryptoStream::default();
        s.insert(2, &[0, 3, 9, 9]);
        s.insert(0, &[1, 0, 0]);
        s.insert(6, &[9]);
        assert_eq!(s.next_message(100), Ok(Some(vec![1, 0, 0, 3, 9, 9, 9])));
        let mut big = CryptoStream::default();
        big.insert(0, &[11, 1, 0, 0]);
        assert_eq!(big.next_message(1000), Err(65536));
        big.insert(4, &[0; 10]);
        assert_eq!(big.next_message(1000), Ok(None));
    }

    proptest::proptest! {
        /// Frames at any offsets and lengths, overlapping and repeated (as retransmissions
        /// are): the messages cut from the stream are exactly a prefix of the stream.
        #[test]
        fn any_frames_give_the_stream_prefix(
            frames in proptest::collection::vec((0u64..64, 0usize..24), 0..30),
        ) {
            // The stream: 3 messages of 12 bytes (type, 24-bit length 8, 8 bytes of body).
            let mut stream = Vec::new();
            for t in 1..=3u8 {
                stream.extend_from_slice(&[t, 0, 0, 8]);
                stream.extend(std::iter::repeat_n(t, 8));
            }
            let mut s = CryptoStream::default();
            let mut got = Vec::new();
            for (offset, len) in frames {
                let start = offset as usize;
                let end = (start + len).min(stream.len());
                if start >= end {
                    continue;
                }
                s.insert(offset, &stream[start..end]);
                while let Ok(Some(m)) = s.next_message(100) {
                    got.extend(m);
                }
            }
            proptest::prop_assert_eq!(&got[..], &stream[..got.len()]);
        }
    }
}
