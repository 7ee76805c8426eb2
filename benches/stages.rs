//! Criterion micro-benchmarks of the hot stages, on real captures.
//!
//! Inputs (read by path; a bench whose input is absent prints a notice and is skipped):
//! - the packet corpus for decode / reassembly: `$TLSCAP_BENCH_PCAP` (default
//!   `/work/bench-data/small.pcap`, see "How to reproduce" in BENCHMARKS.md), first
//!   `$TLSCAP_BENCH_PACKETS` (default 100 000) packets loaded in memory; falls back to every
//!   capture in `samples/` when that file is absent;
//! - `samples/tls12-chain-intermediate.pcap` (TLS 1.2, leaf + intermediate) and
//!   `samples/tls13-http-401-200.pcap` for the TLS observer and certificate benches, with
//!   `samples/pki/root.pem` as the trusted root.
//!
//! Run: `cargo bench --bench stages` (or `-- net/` to pick a group).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tlscap::capture::{CaptureReader, LinkType, Packet};
use tlscap::certs::{TrustOptions, Validator};
use tlscap::flow::{Direction, FlowConfig, FlowTable, Interest, SegmentMeta, StreamHandler};
use tlscap::net::{Decoded, DefragLimits, NetDecoder, TcpFlags, TcpSegment};
use tlscap::time::Timestamp;
use tlscap::tls::{ObserverConfig, TlsObserver};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sample(name: &str) -> Option<PathBuf> {
    let p = root().join("samples").join(name);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("SKIP: {} not found", p.display());
        None
    }
}

/// One captured packet, owned.
struct OwnedPacket {
    number: u64,
    ts: Timestamp,
    link: LinkType,
    data: Vec<u8>,
    orig_len: u32,
}

impl OwnedPacket {
    fn as_packet(&self) -> Packet<'_> {
        Packet {
            number: self.number,
            ts: self.ts,
            link: self.link,
            data: &self.data,
            orig_len: self.orig_len,
        }
    }
}

/// One decoded TCP segment, owned (so reassembly can be timed without decoding).
struct OwnedSegment {
    meta: SegmentMeta,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    payload: Vec<u8>,
    wire_payload_len: u32,
}

impl OwnedSegment {
    fn as_segment(&self) -> TcpSegment<'_> {
        TcpSegment {
            src: self.src,
            dst: self.dst,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            mss: 0,
            payload: &self.payload,
            wire_payload_len: self.wire_payload_len,
            carrier: Default::default(),
        }
    }
}

fn read_packets(path: &Path, limit: usize, out: &mut Vec<OwnedPacket>) {
    let Ok(mut reader) = CaptureReader::open(path) else {
        return;
    };
    while out.len() < limit {
        match reader.next_packet() {
            Ok(Some(p)) => out.push(OwnedPacket {
                number: out.len() as u64 + 1,
                ts: p.ts,
                link: p.link,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
            }),
            _ => break,
        }
    }
}

/// The packet corpus (see the module docs), with a label for the report.
fn corpus_packets() -> (String, Vec<OwnedPacket>) {
    let limit = std::env::var("TLSCAP_BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let big = std::env::var_os("TLSCAP_BENCH_PCAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/bench-data/small.pcap"));
    let mut packets = Vec::new();
    if big.is_file() {
        read_packets(&big, limit, &mut packets);
        return (
            format!("{} (first {})", big.display(), packets.len()),
            packets,
        );
    }
    eprintln!(
        "NOTICE: {} absent; decode/reassembly benches use samples/ (tiny, noisy)",
        big.display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("samples"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "pcap" || ext == "pcapng" {
            read_packets(&f, limit, &mut packets);
        }
    }
    ("samples/*".into(), packets)
}

fn decode_all(packets: &[OwnedPacket]) -> Vec<OwnedSegment> {
    let mut net = NetDecoder::new(DefragLimits::default());
    let mut segs = Vec::new();
    for p in packets {
        let packet = p.as_packet();
        if let Decoded::Tcp(s) = net.decode(&packet) {
            segs.push(OwnedSegment {
                meta: SegmentMeta {
                    packet: p.number,
                    ts: p.ts,
                },
                src: s.src,
                dst: s.dst,
                seq: s.seq,
                ack: s.ack,
                flags: s.flags,
                window: s.window,
                payload: s.payload.to_vec(),
                wire_payload_len: s.wire_payload_len,
            });
        }
    }
    segs
}

/// A handler that only counts bytes: reassembly cost alone.
#[derive(Default)]
struct Counting(u64);

impl StreamHandler for Counting {
    fn on_data(&mut self, _dir: Direction, data: &[u8], _meta: SegmentMeta) -> Interest {
        self.0 += data.len() as u64;
        Interest::More
    }
    fn on_gap(&mut self, _dir: Direction, _len: u64, _meta: SegmentMeta) -> Interest {
        Interest::More
    }
}

/// A handler that records what the flow delivers, to replay it into a `TlsObserver`.
#[derive(Default)]
struct Recording(Vec<(Direction, Vec<u8>, SegmentMeta)>);

impl StreamHandler for Recording {
    fn on_data(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) -> Interest {
        self.0.push((dir, data.to_vec(), meta));
        Interest::More
    }
    fn on_gap(&mut self, _dir: Direction, _len: u64, _meta: SegmentMeta) -> Interest {
        Interest::More
    }
}

/// Decodes every packet, returning the TCP payload bytes (so nothing is optimised away).
fn decode_sum(packets: &[OwnedPacket]) -> usize {
    let mut net = NetDecoder::new(DefragLimits::default());
    let mut payload = 0usize;
    for p in packets {
        let packet = p.as_packet();
        if let Decoded::Tcp(s) = net.decode(&packet) {
            payload += s.payload.len();
        }
    }
    black_box(payload)
}

fn bench_decode(c: &mut Criterion) {
    let (label, packets) = corpus_packets();
    if packets.is_empty() {
        eprintln!("SKIP net/decode: no packets");
        return;
    }
    let bytes: u64 = packets.iter().map(|p| p.data.len() as u64).sum();
    eprintln!(
        "decode corpus: {label}: {} packets, {bytes} bytes",
        packets.len()
    );
    let mut g = c.benchmark_group("net");
    g.throughput(Throughput::Elements(packets.len() as u64));
    // Cold: headers of 100k packets spread over ~60 MB, each a cache miss (an upper bound).
    g.bench_function("decode_per_packet_cold", |b| {
        b.iter(|| decode_sum(&packets))
    });
    // Hot: a working set that fits the cache, as in the pipeline where the reader has just
    // touched the packet.
    let hot = &packets[..packets.len().min(2048)];
    g.throughput(Throughput::Elements(hot.len() as u64));
    g.bench_function("decode_per_packet_hot", |b| b.iter(|| decode_sum(hot)));
    g.finish();

    let segs = decode_all(&packets);
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(segs.len() as u64));
    g.sample_size(20);
    // The symmetric 5-tuple hash a reader thread would use to shard segments over workers.
    g.bench_function("shard_hash_per_segment", |b| {
        b.iter(|| {
            let mut counts = [0u64; 2];
            for s in &segs {
                counts[s.as_segment().shard(2)] += 1;
            }
            black_box(counts)
        })
    });
    g.bench_function("reassembly_per_segment", |b| {
        b.iter(|| {
            let mut table: FlowTable<Counting> = FlowTable::new(FlowConfig::default());
            let mut delivered = 0u64;
            let mut emit = |f: tlscap::flow::Finished<Counting>| delivered += f.handler.0;
            for s in &segs {
                table.process(s.meta, &s.as_segment(), &mut |_, _| Counting(0), &mut emit);
            }
            table.finish(&mut emit);
            black_box(delivered)
        })
    });
    g.bench_function("reassembly_plus_tls_observer_per_segment", |b| {
        b.iter(|| {
            let mut table: FlowTable<TlsObserver> = FlowTable::new(FlowConfig::default());
            let cfg = ObserverConfig::default();
            let mut tls = 0u64;
            let mut emit = |f: tlscap::flow::Finished<TlsObserver>| {
                tls += u64::from(f.handler.finish().is_tls);
            };
            for s in &segs {
                table.process(
                    s.meta,
                    &s.as_segment(),
                    &mut |_, _| TlsObserver::new(cfg.clone()),
                    &mut emit,
                );
            }
            table.finish(&mut emit);
            black_box(tls)
        })
    });
    g.finish();
}

fn bench_capture_read(c: &mut Criterion) {
    let path = std::env::var_os("TLSCAP_BENCH_PCAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/bench-data/small.pcap"));
    let Some(path) = path
        .is_file()
        .then_some(path)
        .or_else(|| sample("multi.pcapng"))
    else {
        return;
    };
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Bytes(len));
    g.sample_size(10);
    g.bench_function("read_file", |b| {
        b.iter(|| {
            let mut reader = CaptureReader::open(&path).expect("open");
            let mut n = 0u64;
            while let Ok(Some(p)) = reader.next_packet() {
                n += p.data.len() as u64;
            }
            black_box(n)
        })
    });
    g.finish();
}

/// Records the delivered streams of every connection of a capture.
fn record_streams(path: &Path) -> Vec<Vec<(Direction, Vec<u8>, SegmentMeta)>> {
    let mut packets = Vec::new();
    read_packets(path, usize::MAX, &mut packets);
    let segs = decode_all(&packets);
    let mut table: FlowTable<Recording> = FlowTable::new(FlowConfig::default());
    let mut out = Vec::new();
    let mut emit = |f: tlscap::flow::Finished<Recording>| out.push(f.handler.0);
    for s in &segs {
        table.process(
            s.meta,
            &s.as_segment(),
            &mut |_, _| Recording::default(),
            &mut emit,
        );
    }
    table.finish(&mut emit);
    out
}

fn observe(chunks: &[(Direction, Vec<u8>, SegmentMeta)]) -> tlscap::tls::HandshakeSummary {
    let mut obs = TlsObserver::new(ObserverConfig::default());
    for (dir, data, meta) in chunks {
        obs.on_data(*dir, data, *meta);
    }
    obs.finish()
}

fn bench_tls_and_certs(c: &mut Criterion) {
    let mut g = c.benchmark_group("tls");
    for name in ["tls12-chain-intermediate.pcap", "tls13-http-401-200.pcap"] {
        let Some(path) = sample(name) else { continue };
        let conns = record_streams(&path);
        let Some(first) = conns.first() else { continue };
        g.bench_function(format!("observer_handshake/{name}"), |b| {
            b.iter(|| black_box(observe(first)))
        });
    }
    g.finish();

    let Some(path) = sample("tls12-chain-intermediate.pcap") else {
        return;
    };
    let conns = record_streams(&path);
    let Some(chain) = conns
        .first()
        .and_then(|c| observe(c).server_certificate)
        .map(|m| m.certs)
    else {
        eprintln!("SKIP certs: no server certificate in {}", path.display());
        return;
    };
    let mut g = c.benchmark_group("certs");
    g.bench_function("summarize_leaf", |b| {
        b.iter(|| black_box(tlscap::certs::summarize(&chain[0])))
    });
    let opts = TrustOptions {
        extra_ca_files: vec![root().join("samples/pki/root.pem")],
        ..TrustOptions::default()
    };
    let at = Timestamp::new(1_763_800_000, 0);
    let name = Some("api.tlscap.test");
    match Validator::new(&opts) {
        Ok(mut v) => {
            v.check(&chain, name, at, None);
            g.bench_function("validator_check_cache_hit", |b| {
                b.iter(|| black_box(v.check(&chain, name, at, None)))
            });
            // A miss is a fresh cache; loading the anchors is outside the timed part.
            g.bench_function("validator_check_cache_miss", |b| {
                b.iter_batched(
                    || Validator::new(&opts).expect("anchors"),
                    |mut v| black_box(v.check(&chain, name, at, None)),
                    BatchSize::LargeInput,
                )
            });
        }
        Err(e) => eprintln!("SKIP validator: {e}"),
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_decode,
    bench_capture_read,
    bench_tls_and_certs
);
criterion_main!(benches);
