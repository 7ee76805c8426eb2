//! Input formats shared by the stream-level targets (`tls`, `decrypt`).
//!
//! A stream input is a sequence of chunks, the way reassembly hands bytes to an observer:
//! `[flags: u8][len: u16 LE][len bytes]`. Flag bit 0 is the direction (0 = client to server),
//! bit 1 makes the chunk a gap of `len` bytes with no data. The last chunk may be short.
//! `fuzz/seeds.py` writes seeds in this format from the TCP payloads of sample captures.

#![allow(dead_code)]

use tlscap::flow::{Direction, Interest, SegmentMeta, StreamHandler};
use tlscap::time::Timestamp;

/// Chunks most inputs need: a bound so one input cannot run for seconds.
const MAX_CHUNKS: usize = 4096;

/// Feeds `data` (stream format above) to `handler`, honouring `Interest::Done` per direction
/// as the reassembler does.
pub fn feed_stream<H: StreamHandler>(handler: &mut H, mut data: &[u8]) {
    let mut done = [false; 2];
    let mut packet = 0u64;
    while data.len() >= 3 && (packet as usize) < MAX_CHUNKS {
        let flags = data[0];
        let len = usize::from(u16::from_le_bytes([data[1], data[2]]));
        data = &data[3..];
        packet += 1;
        let dir = if flags & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let meta = SegmentMeta {
            packet,
            ts: Timestamp::new(1_700_000_000 + packet as i64, 0),
        };
        let interest = if flags & 2 != 0 {
            if done[dir.idx()] {
                continue;
            }
            handler.on_gap(dir, len as u64, meta)
        } else {
            let take = len.min(data.len());
            let (chunk, rest) = data.split_at(take);
            data = rest;
            if done[dir.idx()] {
                continue;
            }
            handler.on_data(dir, chunk, meta)
        };
        if interest == Interest::Done {
            done[dir.idx()] = true;
        }
    }
}
