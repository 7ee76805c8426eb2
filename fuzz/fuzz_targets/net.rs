//! Link, IP and tunnel decoding with IP defragmentation. Input: `[link type: u16 LE]` then
//! packets as `[len: u16 LE][len bytes]`, all through one decoder so fragments can meet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlscap::capture::{LinkType, Packet};
use tlscap::net::{Decoded, DefragLimits, NetDecoder};
use tlscap::time::Timestamp;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let link = LinkType(u32::from(u16::from_le_bytes([data[0], data[1]])));
    // Small limits, so eviction and the size cap are reached by short inputs too.
    let mut dec = NetDecoder::new(DefragLimits {
        max_datagrams: 4,
        max_datagram_bytes: 4096,
        timeout_secs: 30,
    });
    let mut rest = &data[2..];
    let mut number = 0u64;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (pkt, tail) = rest[2..].split_at(len);
        rest = tail;
        number += 1;
        let packet = Packet {
            number,
            ts: Timestamp::new(1_700_000_000 + number as i64 * 7, 0),
            link,
            data: pkt,
            orig_len: pkt.len() as u32 + u32::from(number.is_multiple_of(3)) * 100,
        };
        if let Decoded::Tcp(seg) = dec.decode(&packet) {
            let _ = seg.shard(4);
            let _ = (
                seg.flags.syn(),
                seg.flags.fin(),
                seg.flags.rst(),
                seg.flags.ack(),
            );
        }
    }
});
