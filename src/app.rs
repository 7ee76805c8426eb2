//! Wires the stages together: capture → net → flow → tls → certs → findings → records.
//!
//! [`analyze_file_with`] streams one capture and hands each connection's record to a sink as
//! the connection finishes; [`analyze_file`] collects them for one file (tests, `explain`).
//! [`run_batch`] expands directories and runs files in parallel (rayon): each file's records
//! go, in index order, to a spill ([`spill`]) while only small per-server aggregates stay in
//! memory; [`Batch::for_each_record`] reads them back in path order with the cross-connection
//! findings added, so output is deterministic whatever the thread count and memory follows the
//! connections open at once, not the total.

mod inputs;
pub mod settings;
mod sharded;
mod source;

use crate::capture::{CaptureError, CaptureReader};
use crate::certs::{TrustOptions, Validator};
use crate::dtls::{DtlsConfig, DtlsFinished, DtlsTable};
use crate::findings::{ClientAuthServers, CrossFacts, FindingsConfig};
use crate::flow::{Finished, FlowConfig, FlowTable, Side, TcpSummary};
use crate::net::{DefragLimits, NetDecoder};
use crate::quic::{QuicConfig, QuicFinished, QuicTable};
use crate::record::ConnectionRecord;
use crate::spill;
use crate::time::Timestamp;
use crate::tls::keylog::{KeyLog, KeySlot};
use crate::tls::{HandshakeSummary, ObserverConfig, TlsObserver};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use inputs::{expand_inputs, Inputs};

/// What to analyse and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Report plain (non-TLS) TCP connections too.
    pub all: bool,
    /// Connection table limits.
    pub flow: FlowConfig,
    /// TLS observer limits.
    pub observer: ObserverConfig,
    /// IP defragmentation limits.
    pub defrag: DefragLimits,
    /// Settings of the diagnosis rules.
    pub findings: FindingsConfig,
    /// Chain validator shared by every file of a batch (its cache too). None: each file builds
    /// one with Mozilla's roots.
    pub validator: Option<SharedValidator>,
    /// Secrets from `--keylog` files (None: no key log given).
    pub keylog: Option<Arc<KeyLog>>,
    /// Use a key log named like the capture (`x.pcap` → `x.keys` / `x.keylog`) beside it.
    pub auto_keylog: bool,
    /// Flow-table shards for one file: above 1, a reader thread feeds this many worker threads,
    /// each owning the connections that hash to it (output is the same for any value).
    pub shards: usize,
    /// Never read a capture through a memory map (`--no-mmap`): sharded files are mapped
    /// otherwise (a file truncated by another process while it is mapped ends with a
    /// "truncated" error, see `capture::sigbus`).
    pub no_mmap: bool,
    /// Segments per batch the reader hands to sharded workers (0: the default, 4096). Tests
    /// set a few, so that small captures cross many batch and report boundaries.
    pub batch_segments: usize,
    /// Ended connections past which a sharded worker reports to the merger before its usual
    /// 8 batches (0: the default, 1,024). Tests set 1, so that workers report unevenly.
    pub ended_per_report: usize,
    /// Memory budget of a whole batch (`--max-memory`): [`run_batch`] gives the flow tables
    /// that run at once [`TABLE_SHARE`] of it, split evenly. None: each table keeps
    /// `flow.max_memory`.
    pub max_memory: Option<usize>,
    /// Bytes one worker's certificate caches hold (0: [`DEFAULT_CACHE_MEMORY`]); [`run_batch`]
    /// gives each worker an even part of [`CACHE_SHARE`] of `max_memory`.
    pub cache_memory: usize,
    /// `--continuous`: a batch's files are consecutive pieces of one capture (a ring buffer),
    /// read as one in order of their first packet's time.
    pub continuous: bool,
    /// The files that continue this one (set per file by the batch when `continuous`).
    pub continued_in: Vec<PathBuf>,
    /// Secrets to recompute HMAC request signatures with (`--hmac-secret`, `--hmac-secrets`).
    pub hmac_secrets: Arc<Vec<crate::http::HmacKey>>,
}

/// `--max-memory` by default: fits beside other programs on a laptop.
pub const DEFAULT_MAX_MEMORY: usize = 512 << 20;

/// The flow tables' share of `--max-memory`, in sixteenths: the rest is for what the budget does
/// not count exactly (certificate and validation caches, the in-memory spill, records waiting
/// to be put in order, I/O buffers, allocator slack). On 2 threads that rest measured up to
/// 70 MiB beside tables at their full share, so at 6/16 the half-open connections case went
/// over its 256 MiB budget on some runs (BENCHMARKS.md, hostile captures, has the peaks).
pub const TABLE_SHARE: usize = 5;

/// The certificate caches' share of `--max-memory`, in sixteenths, split evenly between the
/// workers that run at once (each has its own validator and record builder, whose caches start
/// over past their part, at most [`DEFAULT_CACHE_MEMORY`]): 48 MiB a worker on 2 threads by
/// default, 12 MiB on 8. With a fixed 48 MiB a worker, memory grew with the thread count:
/// the case of 1,500 distinct 245 KB certificates peaked at 429 MiB on 8 threads (BENCHMARKS.md,
/// hostile captures, has the peaks with the share).
pub const CACHE_SHARE: usize = 3;

/// One worker's certificate caches when no budget splits them ([`Options::cache_memory`] 0):
/// two thirds for the validator's, one third for the record builder's.
pub const DEFAULT_CACHE_MEMORY: usize =
    Validator::DEFAULT_CACHE_BYTES + crate::record::build::DEFAULT_CACHE_BYTES;

/// What one of `tables` flow tables that run at once may hold of a `--max-memory` budget,
/// and what its worker's certificate caches may: an even part of [`TABLE_SHARE`] and of
/// [`CACHE_SHARE`].
pub fn budget_parts(budget: usize, tables: usize) -> (usize, usize) {
    let tables = tables.max(1);
    let table = budget / 16 * TABLE_SHARE / tables;
    let caches = (budget / 16 * CACHE_SHARE / tables).clamp(1, DEFAULT_CACHE_MEMORY);
    (table, caches)
}

/// Trust anchors shared between worker threads; each worker validates with its own
/// [`Validator::for_worker`] (no lock).
pub type SharedValidator = Arc<Validator>;

/// Builds a shared validator from trust options (errors name the offending file).
pub fn shared_validator(trust: &TrustOptions) -> Result<SharedValidator, crate::certs::CertsError> {
    Ok(Arc::new(Validator::new(trust)?))
}

/// Per-file statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileStats {
    /// Packets read.
    pub packets: u64,
    /// Captured bytes read (sum of captured packet lengths).
    pub bytes: u64,
    /// First packet's time.
    pub first_ts: Option<Timestamp>,
    /// Last packet's time.
    pub last_ts: Option<Timestamp>,
    /// Link types seen.
    pub link_types: BTreeSet<String>,
    /// TCP segments decoded.
    pub tcp_segments: u64,
    /// Packets shorter than their headers or otherwise invalid.
    pub malformed_packets: u64,
    /// TCP connections seen (reported or not).
    pub tcp_connections: u64,
}

/// The result of analysing one capture.
#[derive(Debug, Default)]
pub struct FileAnalysis {
    /// The capture's path as given.
    pub path: PathBuf,
    /// Reported connections, in index order.
    pub connections: Vec<ConnectionRecord>,
    /// What the connections' handshakes showed, parallel to `connections` (for rules and the
    /// `explain` ladder).
    pub handshakes: Vec<HandshakeSummary>,
    /// TCP facts, parallel to `connections`.
    pub tcp: Vec<TcpSummary>,
    /// Statistics.
    pub stats: FileStats,
    /// Non-fatal problems (unsupported link type, malformed packets), each once.
    pub warnings: Vec<String>,
    /// Informational notes (e.g. which key log was used).
    pub notes: Vec<Note>,
    /// The error that stopped reading, if any (everything before it is still reported).
    pub error: Option<CaptureError>,
    /// ICMP errors about TCP or UDP packets, in packet order (the first [`MAX_ICMP_ERRORS`]),
    /// matched to the connections they quote once every connection is known.
    pub icmp: Vec<(crate::flow::SegmentMeta, crate::net::IcmpError)>,
}

/// Something worth knowing about how a capture was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A key log named like the capture, found beside it, decrypts it.
    KeyLogBeside {
        /// The key log.
        key_log: PathBuf,
        /// The capture.
        capture: PathBuf,
    },
    /// The capture's pcapng Decryption Secrets Blocks decrypt it.
    EmbeddedKeys {
        /// The capture.
        capture: PathBuf,
    },
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::KeyLogBeside { key_log, capture } => write!(
                f,
                "using key log {} for {}",
                key_log.display(),
                capture.display()
            ),
            Note::EmbeddedKeys { capture } => write!(
                f,
                "using keys embedded in {} (pcapng Decryption Secrets Block)",
                capture.display()
            ),
        }
    }
}

/// How many distinct malformed-packet messages are kept per file.
const MAX_MALFORMED_WARNINGS: usize = 5;

/// ICMP errors kept per file: a flood of them (a scan's answers) must not grow memory.
pub const MAX_ICMP_ERRORS: usize = 4096;

/// ICMP errors kept for matching across a whole batch (about 8 MiB): a directory of captures
/// full of them must not hold each file's [`MAX_ICMP_ERRORS`] until the output pass.
pub const MAX_BATCH_ICMP_ERRORS: usize = 65_536;

/// One reported connection as it leaves the per-file analysis.
#[derive(Debug)]
pub struct Built {
    /// The record (connection findings and chain check included; cross-connection findings
    /// are added later).
    pub record: ConnectionRecord,
    /// What the handshake showed (boxed: ~1.6 KiB that most callers drop unread).
    pub handshake: Box<HandshakeSummary>,
    /// TCP facts.
    pub tcp: TcpSummary,
}

/// Analyses one capture and collects its records (index order), handshakes and TCP facts.
/// Keeps everything: meant for tests, `explain` and library users with small captures; batches
/// use [`run_batch`], which does not.
pub fn analyze_file(path: &Path, opts: &Options) -> FileAnalysis {
    let mut rows: Vec<Built> = Vec::new();
    let mut out = analyze_file_with(path, opts, &mut |_, b| rows.extend(b));
    rows.sort_by_key(|b| b.record.index);
    for b in rows {
        out.connections.push(b.record);
        out.handshakes.push(*b.handshake);
        out.tcp.push(b.tcp);
    }
    out
}

/// Streams one capture through the pipeline. `sink` is called once per TCP connection, as it
/// finishes (not in index order), with its index and, when the connection is reported, its
/// record. The returned analysis has statistics, warnings and notes, but no records.
pub fn analyze_file_with(
    path: &Path,
    opts: &Options,
    sink: &mut dyn FnMut(u64, Option<Built>),
) -> FileAnalysis {
    let prepare = |record, handshake, tcp: Box<TcpSummary>| {
        Box::new(Built {
            record,
            handshake,
            tcp: *tcp,
        })
    };
    analyze_prepared(path, opts, &prepare, &mut |index, b| {
        sink(index, b.map(|b| *b))
    })
}

/// A connection's result on its way to the sink; it learns its index late when the file is
/// sharded (workers number their connections locally).
pub(crate) trait Indexed {
    /// Sets the connection index everywhere the value carries it.
    fn set_index(&mut self, index: u64);
}

impl Indexed for Built {
    fn set_index(&mut self, index: u64) {
        self.record.index = index;
        self.tcp.index = index;
    }
}

impl<T: Indexed> Indexed for Box<T> {
    fn set_index(&mut self, index: u64) {
        (**self).set_index(index);
    }
}

/// What `prepare` is: applied to each reported connection where it is built, to its record,
/// handshake and TCP facts (boxed once, where the observer and the flow table give them up,
/// rather than copied at every hand-on: ~1.9 KiB and ~1.1 KiB).
type Prepare<'a, T> =
    dyn Fn(ConnectionRecord, Box<HandshakeSummary>, Box<TcpSummary>) -> T + Sync + 'a;

/// [`analyze_file_with`], with `prepare` applied to each reported connection where it is built
/// (on a worker thread when the file is sharded): what it keeps should be small (boxed), and
/// what it drops is freed there.
fn analyze_prepared<T: Indexed + Send>(
    path: &Path,
    opts: &Options,
    prepare: &Prepare<'_, T>,
    sink: &mut dyn FnMut(u64, Option<T>),
) -> FileAnalysis {
    let mut out = FileAnalysis {
        path: path.to_path_buf(),
        ..Default::default()
    };
    // A sharded file's packets go to other threads: map it rather than copy it.
    let opened = if opts.shards > 1 && !opts.no_mmap {
        CaptureReader::open_mapped(path)
    } else {
        CaptureReader::open(path)
    };
    let reader = match opened {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let keylog = initial_keylog(path, opts, &mut out);
    // Trust anchors loaded once for every builder of this file; each builder caches its own.
    let mut opts = std::borrow::Cow::Borrowed(opts);
    if opts.validator.is_none() {
        opts.to_mut().validator = shared_validator(&TrustOptions::default()).ok();
        if opts.validator.is_none() {
            out.warnings.push(format!(
                "{}: trust anchors could not be loaded; certificate chains are not validated",
                path.display()
            ));
        }
    }
    let opts = &*opts;
    // pcapng may carry Decryption Secrets Blocks: give connections a slot they can fill.
    let pcapng = reader.format() == crate::capture::Format::PcapNg;
    let with_slot = keylog.is_some() || pcapng;
    // UDP datagrams go to the QUIC stage (only packets that are not TCP are parsed as UDP).
    let net = NetDecoder::new(opts.defrag.clone()).with_udp();
    let source = source::SegmentSource::new(path, reader, net, with_slot)
        .continue_with(&opts.continued_in, opts.shards > 1 && !opts.no_mmap);
    if opts.shards > 1 {
        sharded::run(path, opts, source, keylog, with_slot, out, prepare, sink)
    } else {
        analyze_in_line(path, opts, source, keylog, with_slot, out, prepare, sink)
    }
}

/// A slot for the connections' key log: the initial log, or an empty one that pcapng
/// Decryption Secrets Blocks can fill; None when neither can exist.
fn key_slot(keylog: &Option<Arc<KeyLog>>, with_slot: bool) -> Option<Arc<KeySlot>> {
    match keylog {
        Some(log) => Some(Arc::new(KeySlot::new((**log).clone()))),
        None if with_slot => Some(Arc::new(KeySlot::default())),
        None => None,
    }
}

/// The single-threaded pipeline: every stage of one file on the calling thread.
#[allow(clippy::too_many_arguments)]
fn analyze_in_line<T: Indexed>(
    path: &Path,
    opts: &Options,
    mut source: source::SegmentSource<'_>,
    keylog: Option<Arc<KeyLog>>,
    with_slot: bool,
    mut out: FileAnalysis,
    prepare: &Prepare<'_, T>,
    sink: &mut dyn FnMut(u64, Option<T>),
) -> FileAnalysis {
    let mut table: FlowTable<TlsObserver> = FlowTable::new(opts.flow.clone());
    let mut finished: Vec<Finished<TlsObserver>> = Vec::new();
    let mut observer_cfg = opts.observer.clone();
    let slot = key_slot(&keylog, with_slot);
    observer_cfg.keylog = slot.clone();
    let mut builder = Finisher::new(path, opts);
    let mut quic = QuicTable::new(quic_config(opts, slot.clone()));
    // QUIC and DTLS records built as their connections end, numbered at the file's end.
    let mut quic_ended: Vec<(u64, T)> = Vec::new();
    let mut dtls = DtlsTable::new(dtls_config(opts, slot.clone()));
    let mut dtls_ended: Vec<(u64, T)> = Vec::new();
    let mut emit = |finished: &mut Vec<Finished<TlsObserver>>, builder: &mut Finisher| {
        // Most packets end no connection: nothing to sort or drain (this runs per packet).
        if finished.is_empty() {
            return;
        }
        // One packet can end several connections: they go out by index, as the sharded
        // pipeline orders them, so both give the same sink order.
        finished.sort_by_key(|f| f.tcp.index);
        for f in finished.drain(..) {
            let (index, prepared) = builder.push(f, prepare);
            sink(index, prepared);
        }
    };
    loop {
        match source.next(&mut out) {
            source::Step::Segment(meta, seg, _) => {
                quic.on_tcp(meta, &seg);
                let cfg = &observer_cfg;
                table.process(
                    meta,
                    &seg,
                    &mut |_c, _s| TlsObserver::new(cfg.clone()),
                    &mut |f| finished.push(f),
                );
            }
            source::Step::Secrets(log) => {
                if let Some(slot) = &slot {
                    slot.merge(log);
                }
            }
            source::Step::Datagram(meta, d) => {
                let dtls_read = dtls.on_datagram(meta, &d, &mut |f| {
                    dtls_ended.push((f.ordinal, builder.push_dtls(f, prepare)));
                });
                if !dtls_read {
                    quic.on_datagram(meta, &d, &mut |f| {
                        quic_ended.push((f.ordinal, builder.push_quic(f, prepare)));
                    });
                }
            }
            source::Step::Other => {}
            source::Step::End => break,
        }
        // Turn finished connections into records right away: their buffers are released here.
        emit(&mut finished, &mut builder);
    }
    emit(&mut finished, &mut builder);
    // Straight to the builder, already in index order: every connection still open ends
    // here, and a finished connection weighs several KiB until its record is built.
    table.finish(&mut |f| {
        let (index, prepared) = builder.push(f, prepare);
        sink(index, prepared);
    });
    source.finish(&mut out);
    out.stats.tcp_connections = builder.seen;
    emit_datagram_records(
        (quic, quic_ended),
        (dtls, dtls_ended),
        &mut builder,
        prepare,
        sink,
    );
    out
}

/// The QUIC stage's settings for a file: the TLS observer's, and the connections' key slot.
fn quic_config(opts: &Options, slot: Option<Arc<KeySlot>>) -> QuicConfig {
    QuicConfig {
        observer: opts.observer.clone(),
        keylog: slot,
        ..Default::default()
    }
}

/// The DTLS stage's settings for a file (its key log decrypts DTLS ≤ 1.2 records).
fn dtls_config(opts: &Options, slot: Option<Arc<KeySlot>>) -> DtlsConfig {
    DtlsConfig {
        observer: ObserverConfig {
            keylog: slot,
            ..opts.observer.clone()
        },
        ..Default::default()
    }
}

/// Records of a file's QUIC, then DTLS, connections at its end: those `ended` before (by
/// ordinal) and those still open, numbered after the file's TCP connections (`builder.seen` of
/// them) in order of first packet.
fn emit_datagram_records<T: Indexed>(
    (quic, mut quic_ended): (QuicTable, Vec<(u64, T)>),
    (dtls, mut dtls_ended): (DtlsTable, Vec<(u64, T)>),
    builder: &mut Finisher,
    prepare: &Prepare<'_, T>,
    sink: &mut dyn FnMut(u64, Option<T>),
) {
    let quic_opened = quic.opened();
    for f in quic.finish() {
        quic_ended.push((f.ordinal, builder.push_quic(f, prepare)));
    }
    for f in dtls.finish() {
        dtls_ended.push((f.ordinal, builder.push_dtls(f, prepare)));
    }
    let tcp = builder.seen;
    for (first, mut ended) in [(tcp, quic_ended), (tcp + quic_opened, dtls_ended)] {
        ended.sort_unstable_by_key(|(ordinal, _)| *ordinal);
        for (ordinal, mut prepared) in ended {
            let index = first + ordinal;
            prepared.set_index(index);
            sink(index, Some(prepared));
        }
    }
}

/// The key log for a capture: `--keylog` files, plus one named like the capture beside it.
fn initial_keylog(path: &Path, opts: &Options, out: &mut FileAnalysis) -> Option<Arc<KeyLog>> {
    let beside = if opts.auto_keylog {
        keylog_beside(path)
    } else {
        None
    };
    let Some((kpath, text)) = beside else {
        return opts.keylog.clone();
    };
    let name = format!("{} (beside capture)", kpath.display());
    let found = KeyLog::parse(&text, &name);
    out.notes.push(Note::KeyLogBeside {
        key_log: kpath.clone(),
        capture: path.to_path_buf(),
    });
    report_malformed(&found, out);
    let mut log = opts.keylog.as_deref().cloned().unwrap_or_default();
    log.merge(found);
    Some(Arc::new(log))
}

/// `x.pcap` → `x.keys` or `x.keylog` (also `x.pcap.gz` → `x.keys`), if it exists.
pub fn keylog_beside(path: &Path) -> Option<(PathBuf, Vec<u8>)> {
    let name = path.file_name()?.to_str()?;
    let mut stem = name;
    for ext in [".gz", ".pcapng", ".pcap", ".cap"] {
        stem = stem.strip_suffix(ext).unwrap_or(stem);
    }
    for ext in ["keys", "keylog"] {
        let candidate = path.with_file_name(format!("{stem}.{ext}"));
        if let Ok(text) = std::fs::read(&candidate) {
            return Some((candidate, text));
        }
    }
    None
}

fn report_malformed(log: &KeyLog, out: &mut FileAnalysis) {
    if log.malformed_count == 0 {
        return;
    }
    let lines: Vec<String> = log
        .malformed
        .iter()
        .map(|m| format!("{}:{} ({})", m.source, m.line, m.reason))
        .collect();
    out.warnings.push(format!(
        "{} malformed key log line{} skipped: {}",
        log.malformed_count,
        if log.malformed_count == 1 { "" } else { "s" },
        lines.join(", ")
    ));
}

/// Secrets from pcapng Decryption Secrets Blocks, for the key log of connections that start
/// after them (DSBs precede the packets they decrypt). Notes and malformed lines go to `out`.
fn add_dsb_secrets(path: &Path, secrets: Vec<Vec<u8>>, out: &mut FileAnalysis) -> KeyLog {
    let mut log = KeyLog::new();
    for block in secrets {
        let dsb = KeyLog::parse(&block, "pcapng DSB");
        report_malformed(&dsb, out);
        log.merge(dsb);
    }
    let note = Note::EmbeddedKeys {
        capture: path.to_path_buf(),
    };
    if !log.is_empty() && !out.notes.contains(&note) {
        out.notes.push(note);
    }
    log
}

/// Turns finished connections into records: builds each, runs the rules and the chain check,
/// and settles its outcome.
struct Finisher<'o> {
    validator: Option<Validator>,
    all: bool,
    opts: &'o Options,
    seen: u64,
    builder: crate::record::build::RecordBuilder,
}

/// Well-known ports where TLS is expected even when no ClientHello was seen.
const TLS_PORTS: &[u16] = &[
    443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061, 8443,
];

impl<'o> Finisher<'o> {
    fn new(path: &Path, opts: &'o Options) -> Self {
        let caches = match opts.cache_memory {
            0 => DEFAULT_CACHE_MEMORY,
            n => n,
        };
        Finisher {
            // Resolved once per file by `analyze_prepared` (None: anchors failed to load).
            validator: opts
                .validator
                .as_deref()
                .map(|v| v.for_worker().with_cache_bytes(caches / 3 * 2)),
            all: opts.all,
            opts,
            seen: 0,
            builder: crate::record::build::RecordBuilder::new(path.display().to_string())
                .with_cache_bytes(caches / 3),
        }
    }

    /// The connection's index and, when it is reported, its record.
    fn push<T>(&mut self, f: Finished<TlsObserver>, prepare: &Prepare<'_, T>) -> (u64, Option<T>) {
        self.seen += 1;
        let mut handler = f.handler;
        let hs = handler.take_summary();
        let alerts_not_listed = handler.alerts_not_listed();
        let mut tcp = f.tcp;
        let index = tcp.index;
        if hs.roles_swapped {
            swap_roles(&mut tcp);
        }
        // HTTP is read once per connection: it decides reporting, status and findings.
        let hmac = crate::http::HmacContext {
            // A timestamp is compared with the capture's clock only when that is plausible.
            capture_window: Some((tcp.first.ts.secs, tcp.last.ts.secs))
                .filter(|(first, _)| *first >= PLAUSIBLE_CAPTURE_TIME),
            secrets: &self.opts.hmac_secrets,
        };
        let http = crate::http::exchanges(&hs, &hmac);
        if !self.all && !worth_reporting(&hs, &tcp) && !cleartext_credentials(&hs, &http) {
            return (index, None);
        }
        let record = self.builder.build(&hs, &tcp, http);
        (
            index,
            Some(self.judge(record, hs, tcp, alerts_not_listed, prepare)),
        )
    }

    /// A QUIC connection's record, always reported; numbered later (it keeps its ordinal
    /// meanwhile), after every TCP connection.
    fn push_quic<T>(&mut self, f: QuicFinished, prepare: &Prepare<'_, T>) -> T {
        let mut tcp = Box::new(f.tcp);
        tcp.index = f.ordinal;
        let mut observer = f.observer;
        let hs = observer.take_summary();
        let mut record = self.builder.build(&hs, &tcp, Vec::new());
        record.transport = crate::record::Transport::Quic;
        // FoxIO JA4: `q` instead of `t` for QUIC.
        if let Some(ja4) = record.ja4.as_mut().filter(|j| j.starts_with('t')) {
            ja4.replace_range(..1, "q");
        }
        record.quic = Some(Box::new(f.quic));
        let alerts_not_listed = observer.alerts_not_listed();
        self.judge(record, hs, tcp, alerts_not_listed, prepare)
    }

    /// A DTLS association's record, always reported; numbered later, after every TCP and
    /// QUIC connection.
    fn push_dtls<T>(&mut self, f: DtlsFinished, prepare: &Prepare<'_, T>) -> T {
        let mut tcp = Box::new(f.tcp);
        tcp.index = f.ordinal;
        let mut observer = f.observer;
        let hs = observer.take_summary();
        let mut record = self.builder.build(&hs, &tcp, Vec::new());
        record.transport = crate::record::Transport::Dtls;
        // FoxIO JA4: `d` instead of `t` for DTLS.
        if let Some(ja4) = record.ja4.as_mut().filter(|j| j.starts_with('t')) {
            ja4.replace_range(..1, "d");
        }
        record.dtls = Some(Box::new(f.dtls));
        let alerts_not_listed = observer.alerts_not_listed();
        self.judge(record, hs, tcp, alerts_not_listed, prepare)
    }

    /// The rules, the chain check and the outcome of a built record.
    fn judge<T>(
        &mut self,
        mut record: ConnectionRecord,
        hs: Box<HandshakeSummary>,
        tcp: Box<TcpSummary>,
        alerts_not_listed: u64,
        prepare: &Prepare<'_, T>,
    ) -> T {
        record.findings =
            crate::findings::connection_findings(&record, &hs, &tcp, &self.opts.findings);
        record.findings.extend(crate::findings::budget_findings(
            &tcp,
            hs.alerts.len(),
            alerts_not_listed,
        ));
        self.check_chain(&mut record, &hs);
        crate::findings::srtp_certificates(&mut record, &hs);
        record.status = crate::findings::status(&hs, &record.findings, !record.http.is_empty());
        (record.outcome, record.failed_at) =
            crate::findings::judge(&record, crate::findings::both_sides_done(&hs));
        crate::findings::settle(&mut record);
        prepare(record, hs, tcp)
    }

    /// Validates the server chain (cached per distinct chain) and adds certificate findings.
    /// Without SNI, the host a CONNECT or SOCKS tunnel was opened to is the name checked.
    fn check_chain(&mut self, record: &mut ConnectionRecord, hs: &HandshakeSummary) {
        let (Some(cert), Some(validator)) = (&hs.server_certificate, &mut self.validator) else {
            return;
        };
        if cert.certs.is_empty() {
            return;
        }
        let name = record
            .sni
            .clone()
            .or_else(|| tunnel_target_host(record))
            .or_else(|| self.opts.findings.expect_host.clone());
        let ocsp = hs.ocsp_response.as_ref().map(|(_, der)| der.as_slice());
        let mut check = validator.check(&cert.certs, name.as_deref(), cert.meta.ts, ocsp);
        // Captures with zeroed or reset clocks (1970...) cannot date a certificate: validity
        // is only judged when the capture time is plausible.
        if cert.meta.ts.secs < PLAUSIBLE_CAPTURE_TIME {
            check.expired.clear();
            check.not_yet_valid.clear();
            check.expiring.clear();
        }
        record.chain_status = Some(chain_status(&check.path));
        let ocsp_packet = hs.ocsp_response.as_ref().map(|(m, _)| m.packet);
        record.findings.extend(crate::findings::chain_findings(
            record,
            &check,
            cert.meta.packet,
            ocsp_packet,
        ));
    }
}

/// 2003-01-01T00:00:00Z. Earlier capture timestamps are broken clocks in practice (zeroed
/// RTCs: 1970, 2000-01-01), which cannot date a certificate.
const PLAUSIBLE_CAPTURE_TIME: i64 = 1_041_379_200;

/// One word for a chain's path status.
/// The host part of a CONNECT / SOCKS tunnel's target (not the PROXY protocol's, which is
/// the load balancer's own address).
fn tunnel_target_host(record: &ConnectionRecord) -> Option<String> {
    if !record.proxy_kind?.is_tunnel() {
        return None;
    }
    let (host, _port) = record.target.as_deref()?.rsplit_once(':')?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

fn chain_status(p: &crate::certs::PathStatus) -> String {
    use crate::certs::PathStatus::*;
    match p {
        Trusted => "trusted".into(),
        Incomplete { .. } => "incomplete".into(),
        Untrusted { .. } => "untrusted".into(),
        BadSignature { .. } => "bad-signature".into(),
        Invalid { reason } => format!("invalid: {reason}"),
        Empty => "empty".into(),
    }
}

/// The flow guessed client and server wrong (connection picked up mid-stream): swap them.
fn swap_roles(tcp: &mut TcpSummary) {
    std::mem::swap(&mut tcp.client, &mut tcp.server);
    std::mem::swap(&mut tcp.client_bytes, &mut tcp.server_bytes);
    tcp.first_data.swap(0, 1);
    tcp.last_data.swap(0, 1);
    tcp.prev_data.swap(0, 1);
    tcp.last_data_len.swap(0, 1);
    tcp.prev_data_len.swap(0, 1);
    tcp.fin.swap(0, 1);
    let flip = |s: Side| match s {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    };
    tcp.closed_by = tcp.closed_by.map(flip);
    tcp.rst = tcp.rst.map(|(s, p)| (flip(s), p));
    tcp.swap_directions();
}

/// A connection is reported when it carried TLS or tried to and failed at the TCP level.
fn worth_reporting(hs: &HandshakeSummary, tcp: &TcpSummary) -> bool {
    // A refused CONNECT / SOCKS request is a TLS connection that never got to start.
    if hs.is_tls || hs.client_hello.is_some() || hs.proxy_refusal.is_some() {
        return true;
    }
    let no_data = tcp.client_bytes == 0 && tcp.server_bytes == 0;
    if !tcp.established && tcp.syn > 0 {
        // SYN never answered, or answered by RST: we cannot know what would have followed.
        return no_data;
    }
    // Established but nothing sent, then reset or left hanging, on a port where TLS is expected.
    no_data && TLS_PORTS.contains(&tcp.server.port())
}

/// Cleartext HTTP that carries credentials is reported even without `--all`.
fn cleartext_credentials(hs: &HandshakeSummary, http: &[crate::record::HttpRecord]) -> bool {
    hs.client_hello.is_none() && http.iter().any(|h| h.auth.in_request())
}

/// Runs the rules that compare connections with each other over collected analyses (and
/// those on connections their file's start or end cuts), then orders each connection's
/// findings by severity (worst first).
pub fn apply_cross_connection(analyses: &mut [FileAnalysis], cfg: &FindingsConfig) {
    let mut edges = crate::findings::FileEdges::default();
    let mut icmp = crate::findings::IcmpReports::default();
    for a in analyses.iter_mut().filter(|a| !a.icmp.is_empty()) {
        let seen = a
            .connections
            .iter()
            .map(|r| crate::findings::ends_key(r.transport, r.client, r.server))
            .collect();
        let file = a.path.display().to_string();
        let unseen = crate::findings::unseen_attempts(&file, &a.icmp, seen);
        a.warnings.extend(unseen);
    }
    for a in analyses.iter() {
        let file = a.path.display().to_string();
        edges.observe_file(&file, a.stats.first_ts, a.stats.last_ts);
        icmp.observe_file(&file, &a.icmp);
        for (r, tcp) in a.connections.iter().zip(&a.tcp) {
            if let Some(e) = crate::findings::EdgeFacts::of(r, tcp) {
                edges.observe(&r.file, r.index, e);
            }
        }
    }
    let mut rows: Vec<(&mut ConnectionRecord, &HandshakeSummary)> = Vec::new();
    for a in analyses.iter_mut() {
        for (r, h) in a.connections.iter_mut().zip(a.handshakes.iter()) {
            rows.push((r, h));
        }
    }
    crate::findings::cross_connection(&mut rows, cfg);
    for (r, _) in rows {
        edges.apply(r);
        icmp.apply(r);
        crate::findings::settle(r);
    }
}

/// Keeps as many of `analysis`'s ICMP errors as the batch has room left for (the first ones),
/// and says so when some are dropped.
fn keep_within(analysis: &mut FileAnalysis, room: &std::sync::atomic::AtomicUsize) {
    use std::sync::atomic::Ordering::Relaxed;
    let want = analysis.icmp.len();
    if want == 0 {
        return;
    }
    let Ok(before) = room.fetch_update(Relaxed, Relaxed, |left| Some(left.saturating_sub(want)))
    else {
        return;
    };
    if before < want {
        analysis.icmp.truncate(before);
        analysis.warnings.push(format!(
            "{}: {} of its {want} ICMP errors are not matched to connections: the batch keeps {MAX_BATCH_ICMP_ERRORS} in all",
            analysis.path.display(),
            want - before
        ));
    }
}

/// How to run a batch.
#[derive(Debug, Clone, Default)]
pub struct BatchOptions {
    /// Per-file analysis options.
    pub analysis: Options,
    /// Worker threads (None: all cores).
    pub threads: Option<usize>,
    /// Only files whose name or path matches one of these globs (empty: all).
    pub globs: Vec<String>,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Captures at least this large are split over spare threads (None: 16 MiB). Output is
    /// the same either way; this only decides when the extra threads are worth starting.
    pub shard_min_bytes: Option<u64>,
    /// Options for some captures instead of `analysis` (those a settings file applies to),
    /// by path as expanded.
    pub per_file: BTreeMap<PathBuf, Arc<Options>>,
}

/// One capture of a batch: its statistics and warnings, and its records waiting in a spill.
#[derive(Debug, Default)]
pub struct FileResult {
    /// Statistics, warnings, notes and read error (`connections`, `handshakes` and `tcp` are
    /// empty: the records are in the spill).
    pub analysis: FileAnalysis,
    /// The capture's path as reported in records (`file`).
    pub file: String,
    /// Why records of this file could not be kept (spill write failed), if so.
    pub spill_error: Option<String>,
    /// Findings on this file's connections (before the cross-connection rules).
    pub findings: u64,
    /// The rules' settings this file was analysed with (its cross-connection findings use
    /// them too).
    rules: FindingsConfig,
    spill: spill::Spill,
}

impl FileResult {
    /// Records reported for this file.
    pub fn records(&self) -> u64 {
        self.spill.len()
    }
}

/// The result of a batch: per-file results in path order, and inputs that could not be used.
#[derive(Debug, Default)]
pub struct Batch {
    /// One result per capture, sorted by path.
    pub files: Vec<FileResult>,
    /// Inputs that could not be used at all: (path, reason).
    pub input_problems: Vec<(String, String)>,
    /// Files in the walked directories that are not captures (path, reason).
    pub skipped: Vec<(PathBuf, String)>,
    servers: ClientAuthServers,
}

impl Batch {
    /// Reads file `i`'s records in order (by connection index; see [`REORDER_CAP`]), with the
    /// cross-connection findings added and each record's findings ordered worst first.
    pub fn for_each_record(
        &self,
        i: usize,
        f: &mut dyn FnMut(ConnectionRecord) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let Some(file) = self.files.get(i) else {
            return Ok(());
        };
        file.spill.read(
            &file.file,
            &mut |r, facts| f(self.complete(file, r, &facts)),
        )
    }

    /// A record of `file` read back from a spill, with its cross-connection findings and its
    /// findings ordered worst first.
    fn complete(
        &self,
        file: &FileResult,
        mut r: ConnectionRecord,
        facts: &CrossFacts,
    ) -> ConnectionRecord {
        crate::findings::complete(&mut r, facts, &self.servers, &file.rules);
        r
    }

    /// Reads file `i`'s records like [`Batch::for_each_record`], `run` consecutive records
    /// at a time ([`RECORD_RUN`] is a good size), and hands each run to `map` on `pool`
    /// (None: rayon's global pool) while this thread reads on; `sink` receives the results
    /// on this thread, in order. Decoding the records and whatever `map` does (serialising
    /// them, say) is most of an output pass and it parallelises; reading the spill and
    /// resolving its chains does not. At most four runs per pool thread are in flight. On a
    /// one-thread pool everything runs on this thread.
    pub fn map_record_runs<R: Send>(
        &self,
        i: usize,
        run: usize,
        pool: Option<&rayon::ThreadPool>,
        map: &(dyn Fn(Vec<ConnectionRecord>) -> std::io::Result<R> + Sync),
        sink: &mut dyn FnMut(R) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let decode = |file: &FileResult, run: spill::FrameRun| -> std::io::Result<R> {
            let mut records = Vec::with_capacity(run.len());
            run.decode(&file.file, &mut |r, facts| {
                records.push(self.complete(file, r, &facts));
                Ok(())
            })?;
            // The run's bytes are freed here, on the thread that decoded them.
            drop(run);
            map(records)
        };
        self.map_frame_runs(i, run, pool, &decode, sink)
    }

    /// Reads file `i`'s spill `run` frames at a time and hands each run to `map` on `pool`
    /// (None: rayon's global pool) while this thread reads on; `sink` receives the results on
    /// this thread, in order. At most four runs per pool thread are in flight. On a one-thread
    /// pool everything runs on this thread.
    fn map_frame_runs<R: Send>(
        &self,
        i: usize,
        run: usize,
        pool: Option<&rayon::ThreadPool>,
        map: &(dyn Fn(&FileResult, spill::FrameRun) -> std::io::Result<R> + Sync),
        sink: &mut dyn FnMut(R) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let Some(file) = self.files.get(i) else {
            return Ok(());
        };
        let decode = |run: spill::FrameRun| map(file, run);
        let threads = pool.map_or_else(rayon::current_num_threads, |p| p.current_num_threads());
        if threads <= 1 {
            return file
                .spill
                .read_runs(run, &mut |frames| sink(decode(frames)?));
        }
        let in_flight = 4 * threads;
        let decode: &(dyn Fn(spill::FrameRun) -> std::io::Result<R> + Sync) = &decode;
        match pool {
            Some(p) => {
                p.in_place_scope(|s| decode_runs(s, &file.spill, run, decode, in_flight, sink))
            }
            None => {
                rayon::in_place_scope(|s| decode_runs(s, &file.spill, run, decode, in_flight, sink))
            }
        }
    }

    /// Every record of the batch, by path then index (collects: for tests and small batches).
    pub fn records(&self) -> std::io::Result<Vec<ConnectionRecord>> {
        let mut all = Vec::new();
        for i in 0..self.files.len() {
            self.for_each_record(i, &mut |r| {
                all.push(r);
                Ok(())
            })?;
        }
        Ok(all)
    }
}

/// Reads `spill`'s runs of `run` records on this thread and decodes them on `scope`'s pool,
/// at most `in_flight` at a time; `sink` gets the results in run order.
fn decode_runs<'s, R: Send>(
    scope: &rayon::Scope<'s>,
    spill: &'s spill::Spill,
    run: usize,
    decode: &'s (dyn Fn(spill::FrameRun) -> std::io::Result<R> + Sync),
    in_flight: usize,
    sink: &mut dyn FnMut(R) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::sync::mpsc::{sync_channel, Receiver};
    // One answer per run, in run order.
    let mut pending: std::collections::VecDeque<Receiver<std::io::Result<R>>> = Default::default();
    let lost = || std::io::Error::other("reading records back stopped");
    spill.read_runs(run, &mut |run| {
        let (tx, rx) = sync_channel(1);
        scope.spawn(move |_| {
            // A panic must still answer, or the wait below would never end.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(run)))
                .unwrap_or_else(|_| Err(std::io::Error::other("reading records back panicked")));
            let _ = tx.send(result);
        });
        pending.push_back(rx);
        // Write what is done; wait for the oldest run only when too many are in flight.
        while let Some(oldest) = pending.front() {
            let result = if pending.len() > in_flight {
                oldest.recv().map_err(|_| lost())?
            } else {
                match oldest.try_recv() {
                    Ok(result) => result,
                    Err(_) => break,
                }
            };
            pending.pop_front();
            sink(result?)?;
        }
        Ok(())
    })?;
    for rx in pending {
        sink(rx.recv().map_err(|_| lost())??)?;
    }
    Ok(())
}

/// Records per run for [`Batch::map_record_runs`]: enough to make a task worth its hand-off,
/// few enough that several runs keep every pool thread busy.
pub const RECORD_RUN: usize = 256;

/// Records held per file to put them back in index order (connections finish out of order).
/// Past this many, the smallest indexes go out anyway: order then follows finishing order for
/// the stragglers, still deterministic because a file is read sequentially.
pub const REORDER_CAP: usize = 4096;

/// Puts items back in index order, holding at most [`REORDER_CAP`] entries.
struct Reorder<T> {
    next: u64,
    pending: BTreeMap<u64, Option<T>>,
}

impl<T> Reorder<T> {
    fn new() -> Self {
        Reorder {
            next: 0,
            pending: BTreeMap::new(),
        }
    }

    /// Index `index` finished (`item` None: not reported).
    fn push(&mut self, index: u64, item: Option<T>, emit: &mut dyn FnMut(T)) {
        if index < self.next {
            // Forced out of order earlier: its place has passed.
            item.into_iter().for_each(&mut *emit);
            return;
        }
        self.pending.insert(index, item);
        let mut held = self.pending.len();
        while let Some(entry) = self.pending.first_entry() {
            let contiguous = *entry.key() == self.next;
            if !contiguous && held <= REORDER_CAP {
                break;
            }
            held -= 1;
            let (k, v) = entry.remove_entry();
            self.next = k.saturating_add(1);
            v.into_iter().for_each(&mut *emit);
        }
    }

    /// Emits everything still held, in index order.
    fn finish(&mut self, emit: &mut dyn FnMut(T)) {
        while let Some((k, v)) = self.pending.pop_first() {
            self.next = k.saturating_add(1);
            v.into_iter().for_each(&mut *emit);
        }
    }
}

/// What a batch keeps of a reported connection: its record encoded for the spill (and the
/// record freed) on the thread that built it.
struct Streamed {
    record: std::io::Result<spill::EncodedRecord>,
    index: u64,
    facts: CrossFacts,
    findings: u64,
    /// The server (read by the cross-connection aggregate with the index and `facts`).
    server: std::net::SocketAddr,
    /// SNI, when the server asked for a client certificate.
    asked: Option<Option<String>>,
    /// The connection never got past its SYN (for `syn-flood`).
    attempt: Option<crate::findings::Attempt>,
    /// The server chain it was sent (for `cert-inconsistent`).
    chain: Option<crate::findings::ChainSeen>,
    /// Picked up mid-stream or open at the end (for `split-across-files`).
    edge: Option<crate::findings::EdgeFacts>,
    /// Its transport and endpoints (for ICMP errors about attempts the capture lacks).
    ends: u64,
}

impl Indexed for Streamed {
    fn set_index(&mut self, index: u64) {
        self.index = index;
    }
}

/// Analyses one capture of a batch: records go to a spill in index order, cross-connection
/// facts into a per-server aggregate, nothing per connection stays in memory.
fn stream_file(
    path: &Path,
    file_pos: usize,
    opts: &Options,
    icmp_room: &std::sync::atomic::AtomicUsize,
) -> (FileResult, ClientAuthServers) {
    let mut servers = ClientAuthServers::default();
    let mut writer = spill::SpillWriter::default();
    let mut spill_error: Option<std::io::Error> = None;
    let mut findings = 0u64;
    let mut reorder: Reorder<Box<Streamed>> = Reorder::new();
    let mut emit = |s: Box<Streamed>| {
        findings += s.findings;
        if spill_error.is_none() {
            if let Err(e) = s
                .record
                .and_then(|record| writer.push_frame(s.index, &record))
            {
                spill_error = Some(e);
            }
        }
    };
    // Everything is dropped where the record is built: only its frame body and the few facts
    // the cross-connection rules need go on.
    let prepare =
        |record: ConnectionRecord, handshake: Box<HandshakeSummary>, tcp: Box<TcpSummary>| {
            let facts = CrossFacts::from_handshake(&handshake);
            let edge = crate::findings::EdgeFacts::of(&record, &tcp);
            let index = record.index;
            let findings = record.findings.len() as u64;
            let asked = facts.cert_request_packet.map(|_| record.sni.clone());
            let server = record.server;
            let attempt = crate::findings::Attempt::of(&record);
            let chain = crate::findings::ChainSeen::of(&record);
            let ends = crate::findings::ends_key(record.transport, record.client, record.server);
            Box::new(Streamed {
                record: spill::encode_body(record, &facts),
                index,
                facts,
                findings,
                server,
                asked,
                attempt,
                chain,
                edge,
                ends,
            })
        };
    let file = path.display().to_string();
    let mut seen_ends: Option<Vec<u64>> = Some(Vec::new());
    let analysis = analyze_prepared(path, opts, &prepare, &mut |index, item| {
        if let (Some(seen), Some(s)) = (seen_ends.as_mut(), item.as_deref()) {
            if seen.len() < crate::findings::MAX_SEEN_ENDS {
                seen.push(s.ends);
            } else {
                seen_ends = None;
            }
        }
        if let Some(a) = item.as_deref().and_then(|s| s.attempt.as_ref()) {
            servers.observe_attempt(file_pos, &file, index, a);
        }
        if let Some(c) = item.as_deref().and_then(|s| s.chain.as_ref()) {
            servers.observe_chain(file_pos, &file, index, c);
        }
        if let Some(e) = item.as_deref().and_then(|s| s.edge) {
            servers.edges.observe(&file, index, e);
        }
        if let Some(s) = item
            .as_deref()
            .filter(|s| s.asked.is_some() || s.facts.chosen.is_some())
        {
            let Streamed {
                server,
                asked,
                facts,
                ..
            } = s;
            let connection = crate::findings::Observed {
                file: &file,
                index,
                server: *server,
                sni: asked.as_ref().and_then(|sni| sni.as_deref()),
            };
            servers.observe_parts(file_pos, &connection, facts);
        }
        reorder.push(index, item, &mut emit);
    });
    reorder.finish(&mut emit);
    let mut analysis = analysis;
    if let Some(seen) = seen_ends.filter(|_| !analysis.icmp.is_empty()) {
        let unseen = crate::findings::unseen_attempts(&file, &analysis.icmp, seen);
        analysis.warnings.extend(unseen);
    }
    servers
        .edges
        .observe_file(&file, analysis.stats.first_ts, analysis.stats.last_ts);
    keep_within(&mut analysis, icmp_room);
    servers
        .icmp
        .observe_file(&file, &std::mem::take(&mut analysis.icmp));
    if let Some(w) = writer.warning() {
        analysis.warnings.push(format!("{file}: {w}"));
    }
    let (spill, spill_error) = match spill_error {
        Some(e) => (spill::Spill::default(), Some(e.to_string())),
        None => match writer.finish_noting() {
            Ok((s, not_kept)) => (s, not_kept),
            Err(e) => (spill::Spill::default(), Some(e.to_string())),
        },
    };
    let result = FileResult {
        file,
        rules: opts.findings.clone(),
        spill_error,
        analysis,
        findings,
        spill,
    };
    (result, servers)
}

/// Captures below this size run on one thread: starting the sharded pipeline costs more than
/// it saves.
const SHARD_MIN_BYTES: u64 = 16 << 20;

/// Large enough to spread over several threads (stdin and unknown sizes count as large).
fn worth_sharding(p: &Path, min_bytes: Option<u64>) -> bool {
    let min = min_bytes.unwrap_or(SHARD_MIN_BYTES);
    std::fs::metadata(p).map_or(true, |m| !m.is_file() || m.len() >= min)
}

/// Expands the inputs, analyses every capture in parallel, and returns the per-file results
/// in a deterministic order (by path); records are read back with
/// [`Batch::for_each_record`] (by path, then connection index).
pub fn run_batch(inputs: &[PathBuf], opts: &BatchOptions) -> Batch {
    run_expanded(expand_inputs(inputs), opts)
}

/// [`run_batch`] on inputs already expanded (by [`expand_inputs`]).
pub fn run_expanded(inputs: Inputs, opts: &BatchOptions) -> Batch {
    use rayon::prelude::*;
    let Inputs {
        mut files,
        problems,
        skipped,
    } = inputs;
    if !opts.globs.is_empty() {
        files.retain(|f| {
            let full = f.to_string_lossy().to_string();
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            opts.globs.iter().any(|g| {
                crate::findings::glob_match(g, &name) || crate::findings::glob_match(g, &full)
            })
        });
    }
    files.sort();
    files.dedup();
    // A ring buffer's pieces are read as one capture, named after its first piece.
    let mut continuous = None;
    if opts.analysis.continuous && files.len() > 1 {
        let ordered = inputs::by_first_packet(files);
        let mut analysis = opts.analysis.clone();
        analysis.continued_in = ordered[1..].to_vec();
        files = vec![ordered[0].clone()];
        continuous = Some(analysis);
    }
    let base_analysis = continuous.as_ref().unwrap_or(&opts.analysis);
    let input_problems = problems
        .into_iter()
        .map(|p| match p.split_once(": ") {
            Some((f, r)) => (f.to_string(), r.to_string()),
            None => (String::new(), p),
        })
        .collect();
    let bar = opts.progress.then(|| progress_bar(&files));
    let done = std::sync::atomic::AtomicUsize::new(0);
    let conns = std::sync::atomic::AtomicU64::new(0);
    let findings_so_far = std::sync::atomic::AtomicU64::new(0);
    let icmp_room = std::sync::atomic::AtomicUsize::new(MAX_BATCH_ICMP_ERRORS);
    // Fewer files than threads: the spare threads shard the large files' connections.
    let threads = opts
        .threads
        .unwrap_or_else(rayon::current_num_threads)
        .max(1);
    let spare_shards = threads / files.len().max(1);
    let work = || -> Vec<(FileResult, ClientAuthServers)> {
        files
            .par_iter()
            .enumerate()
            .map(|(i, p)| {
                let mut analysis = std::borrow::Cow::Borrowed(base_analysis);
                if let Some(own) = opts.per_file.get(p) {
                    let mut own = (**own).clone();
                    own.continued_in = base_analysis.continued_in.clone();
                    analysis = std::borrow::Cow::Owned(own);
                }
                if spare_shards > 1 && worth_sharding(p, opts.shard_min_bytes) {
                    analysis.to_mut().shards = spare_shards;
                }
                if let Some(budget) = opts.analysis.max_memory {
                    // Every table that can run at once gets an even share.
                    let tables = threads.min(files.len()).max(1) * analysis.shards.max(1);
                    let analysis = analysis.to_mut();
                    (analysis.flow.max_memory, analysis.cache_memory) =
                        budget_parts(budget, tables);
                }
                let r = stream_file(p, i, &analysis, &icmp_room);
                if let Some(bar) = &bar {
                    use std::sync::atomic::Ordering::Relaxed;
                    let n = done.fetch_add(1, Relaxed) + 1;
                    let c = conns.fetch_add(r.0.records(), Relaxed) + r.0.records();
                    let f = findings_so_far.fetch_add(r.0.findings, Relaxed) + r.0.findings;
                    bar.inc(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
                    // Findings so far exclude the cross-connection ones, added at the end.
                    bar.set_message(format!(
                        "{n}/{} files, {c} connections, {f} findings — {}",
                        files.len(),
                        p.display()
                    ));
                }
                r
            })
            .collect()
    };
    let results = match opts.threads {
        Some(n) => match rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
        {
            Ok(pool) => pool.install(work),
            Err(_) => work(),
        },
        None => work(),
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut batch = Batch {
        input_problems,
        skipped,
        ..Default::default()
    };
    for (file, servers) in results {
        batch.servers.merge(servers);
        batch.files.push(file);
    }
    batch
}

fn progress_bar(files: &[PathBuf]) -> indicatif::ProgressBar {
    let total: u64 = files
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {wide_msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-built: `n` ICMP errors (port unreachable for one UDP pair) in a file's analysis.
    fn with_icmp(name: &str, n: u64) -> FileAnalysis {
        let error = crate::net::IcmpError {
            from: "10.0.0.2".parse().unwrap(),
            kind: crate::net::IcmpKind::PortUnreachable,
            mtu: None,
            transport: crate::net::QuotedTransport::Udp,
            src: "10.0.0.1:5000".parse().unwrap(),
            dst: "10.0.0.2:443".parse().unwrap(),
            quotes_syn: false,
        };
        FileAnalysis {
            path: PathBuf::from(name),
            icmp: (1..=n)
                .map(|packet| {
                    let ts = crate::time::Timestamp::new(0, 0);
                    (crate::flow::SegmentMeta { packet, ts }, error)
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_batch_keeps_its_icmp_errors_within_one_budget() {
        let room = std::sync::atomic::AtomicUsize::new(5);
        let mut a = with_icmp("a.pcap", 3);
        keep_within(&mut a, &room);
        assert_eq!((a.icmp.len(), a.warnings.len()), (3, 0));
        let mut b = with_icmp("b.pcap", 4);
        keep_within(&mut b, &room);
        assert_eq!(b.icmp.len(), 2);
        assert_eq!(b.icmp[1].0.packet, 2, "the first ones are kept");
        assert_eq!(
            b.warnings,
            [format!("b.pcap: 2 of its 4 ICMP errors are not matched to connections: the batch keeps {MAX_BATCH_ICMP_ERRORS} in all")]
        );
        let mut c = with_icmp("c.pcap", 1);
        keep_within(&mut c, &room);
        assert_eq!((c.icmp.len(), c.warnings.len()), (0, 1));
    }

    fn run(order: &[u64], reported: impl Fn(u64) -> bool) -> Vec<u64> {
        let mut out = Vec::new();
        let mut r: Reorder<u64> = Reorder::new();
        for &i in order {
            r.push(i, reported(i).then_some(i), &mut |x| out.push(x));
        }
        r.finish(&mut |x| out.push(x));
        out
    }

    #[test]
    fn reorder_restores_index_order_and_skips_unreported() {
        let out = run(&[2, 0, 1, 5, 3, 4], |i| i != 3);
        assert_eq!(out, vec![0, 1, 2, 4, 5]);
    }

    #[test]
    fn reorder_is_bounded() {
        // Index 0 finishes last (a long-lived connection): past the cap the smallest held
        // indexes go out, and 0 comes at the end.
        let order: Vec<u64> = (1..=REORDER_CAP as u64 + 10).chain([0]).collect();
        let out = run(&order, |_| true);
        assert_eq!(out.len(), order.len());
        assert_eq!(out[0], 1);
        assert_eq!(*out.last().unwrap(), 0);
        assert!(out[..out.len() - 1].windows(2).all(|w| w[0] < w[1]));
    }
}
