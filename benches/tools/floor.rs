//! The floor: the least work any capture analyser must do.
//!
//! A bare pcap-parser streaming read loop plus etherparse's zero-copy header decode (link, IP,
//! TCP), counting packets, TCP segments and TCP payload bytes, and nothing else. `benches/run.sh`
//! times tlscap against this on the same file in the same run.
//!
//! Build and run: `cargo build --release --example floor && target/release/examples/floor FILE`.
//! Reads pcap and pcapng (uncompressed); prints one line of counts on stdout.
//!
//! `floor --tlscap FILE` runs tlscap's own first two stages instead (`capture::CaptureReader`
//! and `net::NetDecoder`, nothing after them), to show what they cost above the floor.

use etherparse::{SlicedPacket, TransportSlice};
use pcap_parser::{Linktype, PcapBlockOwned, PcapError};
use std::fs::File;

/// Same starting buffer as tlscap's reader, so both pay the same refill pattern.
const BUFFER: usize = 64 * 1024;
/// Growth cap, as in tlscap (a block larger than this is corrupt).
const MAX_BUFFER: usize = 16 * 1024 * 1024;

#[derive(Default)]
struct Counts {
    packets: u64,
    tcp_segments: u64,
    tcp_payload: u64,
    undecoded: u64,
}

impl Counts {
    /// Decodes link → IP → TCP headers with etherparse (slices, no copies).
    fn packet(&mut self, link: Linktype, data: &[u8]) {
        self.packets += 1;
        let sliced = match link {
            Linktype::ETHERNET => SlicedPacket::from_ethernet(data),
            Linktype::LINUX_SLL => SlicedPacket::from_linux_sll(data),
            _ => SlicedPacket::from_ip(data),
        };
        match sliced {
            Ok(SlicedPacket {
                transport: Some(TransportSlice::Tcp(tcp)),
                ..
            }) => {
                self.tcp_segments += 1;
                self.tcp_payload += tcp.payload().len() as u64;
            }
            Ok(_) => {}
            Err(_) => self.undecoded += 1,
        }
    }
}

/// tlscap's capture + net stages alone, counting the same things as the floor.
fn tlscap_stages(path: &str) {
    use tlscap::net::{Decoded, DefragLimits, NetDecoder};
    let mut reader = match tlscap::capture::CaptureReader::open(std::path::Path::new(path)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut net = NetDecoder::new(DefragLimits::default());
    let mut counts = Counts::default();
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => {
                counts.packets += 1;
                match net.decode(&p) {
                    Decoded::Tcp(seg) => {
                        counts.tcp_segments += 1;
                        counts.tcp_payload += seg.payload.len() as u64;
                    }
                    Decoded::Other | Decoded::Udp(_) | Decoded::Icmp(_) => {}
                    _ => counts.undecoded += 1,
                }
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("{e}");
                break;
            }
        }
    }
    println!(
        "packets={} tcp_segments={} tcp_payload_bytes={} undecoded={}",
        counts.packets, counts.tcp_segments, counts.tcp_payload, counts.undecoded
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, path] = args.as_slice() {
        if flag == "--tlscap" {
            tlscap_stages(path);
            return;
        }
    }
    let Some(path) = args.first().cloned() else {
        eprintln!("usage: floor [--tlscap] CAPTURE");
        std::process::exit(2);
    };
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let mut reader = match pcap_parser::create_reader(BUFFER, file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: not a pcap/pcapng file: {e:?}");
            std::process::exit(1);
        }
    };
    let mut counts = Counts::default();
    let mut legacy_link = Linktype::ETHERNET;
    let mut if_links: Vec<Linktype> = Vec::new();
    let mut capacity = BUFFER;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => legacy_link = h.network,
                    PcapBlockOwned::Legacy(b) => counts.packet(legacy_link, b.data),
                    PcapBlockOwned::NG(pcap_parser::Block::SectionHeader(_)) => if_links.clear(),
                    PcapBlockOwned::NG(pcap_parser::Block::InterfaceDescription(idb)) => {
                        if_links.push(idb.linktype)
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(epb)) => {
                        let link = if_links
                            .get(epb.if_id as usize)
                            .copied()
                            .unwrap_or(Linktype::ETHERNET);
                        counts.packet(link, epb.data)
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::SimplePacket(spb)) => {
                        let link = if_links.first().copied().unwrap_or(Linktype::ETHERNET);
                        counts.packet(link, spb.data)
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if let Err(e) = reader.refill() {
                    eprintln!("{path}: read error: {e:?}");
                    break;
                }
            }
            Err(PcapError::BufferTooSmall) if capacity < MAX_BUFFER => {
                capacity *= 2;
                if !reader.grow(capacity) {
                    eprintln!("{path}: cannot grow buffer to {capacity}");
                    break;
                }
            }
            Err(e) => {
                eprintln!("{path}: {e:?}");
                break;
            }
        }
    }
    println!(
        "packets={} tcp_segments={} tcp_payload_bytes={} undecoded={}",
        counts.packets, counts.tcp_segments, counts.tcp_payload, counts.undecoded
    );
}
