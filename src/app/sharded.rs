//! One capture on several cores: a reader thread, `shards` flow workers and a merger.
//!
//! - The **reader** (capture + net) puts each TCP segment into a batch and notes which shard
//!   owns it ([`TcpSegment::shard`]: both directions of a 5-tuple hash alike). Payloads are not
//!   copied: the batch holds the capture reader's shared blocks ([`SharedBlock`]) and points
//!   into them. Every worker receives every batch (shared, read-only).
//! - Each **worker** owns a flow table, TLS observers and a record builder. It processes the
//!   segments of its shard and lets capture time pass on the others: it does not visit
//!   them, but finds by binary search over the batch's running capture time the first one at
//!   which time passing has work ([`FlowTable::due`]) and ticks there ([`FlowTable::tick`]),
//!   so its connections close, idle out and linger exactly as in one table holding them all.
//!   Per batch it reports the packets that opened its connections and the records of those
//!   that ended (with the packet at which they ended).
//! - The **merger** (the calling thread) numbers connections as one table would: by the packet
//!   that opened them, merged across workers. It hands ended connections to the sink ordered
//!   by (packet at which they ended, index), the order the single-threaded path uses too, so
//!   the output is identical for any number of shards.

use super::source::{SegmentSource, Step};
use super::{
    dtls_config, emit_datagram_records, key_slot, quic_config, FileAnalysis, Finisher, Indexed,
    Options, Prepare,
};
use crate::capture::SharedBlock;
use crate::dtls::{DtlsFinished, DtlsTable};
use crate::flow::{Finished, FlowTable, SegmentMeta};
use crate::net::{Carrier, TcpFlags, TcpSegment};
use crate::quic::QuicTable;
use crate::time::Timestamp;
use crate::tls::keylog::KeyLog;
use crate::tls::TlsObserver;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

/// Segments per batch: large enough that hand-offs are rare, small enough that the batches in
/// flight stay a few MiB.
///
/// Each hand-off can wake a sleeping thread, and on a 2-core machine a wake-up is dear (futex,
/// inter-processor interrupt, cache lost to the switch). With the same 8 MiB and 32 Ki
/// segments of slack, 4096 segments / 1 MiB × 8 queued has ~5 k context switches per run of
/// `large.pcap` where 1024 / 256 KiB × 32 has ~13 k, and runs ~5 % faster (12 alternated runs),
/// for 5 MiB more peak memory.
const BATCH_SEGMENTS: usize = 4096;
/// Payload bytes per batch before it is sent early.
const BATCH_BYTES: usize = 1 << 20;
/// Batches queued per worker (bounds memory when a worker falls behind).
///
/// The reader waits when the slowest worker's queue is full, and a worker whose shard is
/// lighter for a while then runs dry: the queue is the slack that absorbs such imbalance
/// (bursts of connections ending in one shard). Cores busy on 2 (`large.pcap`, median of 6),
/// by queue length in 256 KiB batches: 8 → 1.57, 16 → 1.72, 32 (8 MiB) → 1.75, 64 → 1.79.
/// 8 MiB takes most of the gain; 4 MiB (of 1 MiB batches) measured within noise of it.
const QUEUE: usize = 8;

/// Batches a worker covers per report to the merger at most. Each report wakes the merger (and
/// a wake-up is dear on a 2-core machine, see [`BATCH_SEGMENTS`]); the merger pairs the
/// workers' reports batch by batch, so a report may cover any number of them.
/// On `large.pcap` (alternated runs): wall 1.160 s at 4, 1.130-1.145 s at 8, 1.125 s at 32
/// for 3 MiB more peak: 8 takes most of the gain.
const BATCHES_PER_REPORT: usize = 8;

/// Ended connections past which a worker reports before [`BATCHES_PER_REPORT`]. Records that
/// left a flow table are not counted by its budget, and a flood of connections that end (SYNs
/// idled out, half-open ones finalized early) ends hundreds to thousands a batch per worker:
/// 8 batches a report and 8 reports queued per worker held 2,000,000 SYNs at 720 MiB on 4
/// threads (334 MiB with this bound and [`REPORTS_QUEUED`]). `large.pcap` ends ~90 a batch per
/// worker, so it still reports every 8 batches.
const ENDED_PER_REPORT: usize = 1024;

/// Reports queued per worker: when the merger falls behind (it shares the cores with the
/// workers and the reader, and writes the spill), the workers wait rather than queue records.
const REPORTS_QUEUED: usize = 2;

/// Where an entry's payload lies: `block` indexes the batch's shared blocks, or is
/// [`IN_ARENA`] for payloads built outside the capture's blocks (IP reassembly).
const IN_ARENA: u32 = u32::MAX;

/// A TCP segment: its payload lives in one of its batch's shared blocks or in its arena.
struct Entry {
    meta: SegmentMeta,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    mss: u16,
    wire_payload_len: u32,
    block: u32,
    start: u32,
    len: u32,
    /// 0 for a segment sent directly on the link, else 1 + its index in the batch's carriers
    /// (kept apart: most captures have no tunnel and the entry stays small).
    carrier: u32,
}

/// Consecutive TCP segments of a capture, with any key-log secrets met between them.
#[derive(Default)]
struct Batch {
    /// One per segment, in capture order.
    entries: Vec<Entry>,
    /// Per segment, the latest capture time up to and including it (since the capture's
    /// start): a worker finds where time passing has work for it without visiting the other
    /// shards' segments.
    nows: Vec<Timestamp>,
    /// Per shard, the indexes of its segments, in order.
    mine: Vec<Vec<u32>>,
    /// The capture blocks the payloads were read into: shared, not copied.
    blocks: Vec<SharedBlock>,
    /// Payloads that are not in a capture block (reassembled from IP fragments).
    arena: Vec<u8>,
    /// Payload bytes of the batch (wherever they lie), to bound the blocks it keeps alive.
    payload_bytes: usize,
    /// Secrets to add before segment `.0` (== `entries.len()` for after the last one).
    secrets: Vec<(usize, Arc<KeyLog>)>,
    /// The carriers of tunnelled segments.
    carriers: Vec<Carrier>,
}

impl Batch {
    fn push(
        &mut self,
        meta: SegmentMeta,
        now: Timestamp,
        seg: &TcpSegment<'_>,
        shard: usize,
        block: &SharedBlock,
    ) {
        let (block, start) = match offset_in(block, seg.payload) {
            Some(start) => {
                if !self.blocks.last().is_some_and(|b| Arc::ptr_eq(b, block)) {
                    self.blocks.push(Arc::clone(block));
                }
                ((self.blocks.len() - 1) as u32, start)
            }
            None => {
                let start = self.arena.len();
                self.arena.extend_from_slice(seg.payload);
                (IN_ARENA, start)
            }
        };
        self.payload_bytes += seg.payload.len();
        if let Some(mine) = self.mine.get_mut(shard) {
            mine.push(self.entries.len() as u32);
        }
        self.nows.push(now);
        let carrier = match seg.carrier {
            None => 0,
            Some(c) => {
                self.carriers.push(*c);
                self.carriers.len() as u32
            }
        };
        self.entries.push(Entry {
            meta,
            src: seg.src,
            dst: seg.dst,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            window: seg.window,
            mss: seg.mss,
            wire_payload_len: seg.wire_payload_len,
            block,
            start: start as u32,
            len: seg.payload.len() as u32,
            carrier,
        });
    }

    /// Holds `segments` segments or [`BATCH_BYTES`] of payload.
    fn is_full(&self, segments: usize) -> bool {
        self.entries.len() >= segments || self.payload_bytes >= BATCH_BYTES
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.nows.clear();
        self.mine.iter_mut().for_each(Vec::clear);
        self.blocks.clear();
        self.arena.clear();
        self.payload_bytes = 0;
        self.secrets.clear();
        self.carriers.clear();
    }

    /// Whether the entry's payload still holds the capture's bytes (see
    /// [`crate::capture::SharedBlock`]'s `intact`).
    fn intact(&self, e: &Entry) -> bool {
        match e.block {
            IN_ARENA => true,
            b => {
                let block = &self.blocks[b as usize];
                let payload = &block[e.start as usize..(e.start + e.len) as usize];
                block.intact(payload)
            }
        }
    }

    fn segment(&self, e: &Entry) -> TcpSegment<'_> {
        let bytes = match e.block {
            IN_ARENA => &self.arena[..],
            b => &self.blocks[b as usize][..],
        };
        TcpSegment {
            src: e.src,
            dst: e.dst,
            seq: e.seq,
            ack: e.ack,
            flags: e.flags,
            window: e.window,
            mss: e.mss,
            payload: &bytes[e.start as usize..(e.start + e.len) as usize],
            wire_payload_len: e.wire_payload_len,
            carrier: match e.carrier {
                0 => None,
                n => self.carriers.get(n as usize - 1),
            },
        }
    }
}

/// Where `part` starts inside `block`, when it lies wholly within it.
fn offset_in(block: &[u8], part: &[u8]) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(block.as_ptr() as usize)?;
    (start + part.len() <= block.len()).then_some(start)
}

/// What a worker reports for consecutive batches (and, last, for the end of the capture).
struct WorkerReport<T> {
    /// Packets that opened this worker's connections, in its local index order.
    opened: Vec<u64>,
    /// Ended connections: (packet at which they ended, u64::MAX at capture end; local index;
    /// prepared record when reported).
    ended: Vec<(u64, u64, Option<T>)>,
    /// Per batch covered, in order (the end of the capture last): the lengths of `opened` and
    /// `ended` after it.
    marks: Vec<(usize, usize)>,
}

impl<T> Default for WorkerReport<T> {
    fn default() -> Self {
        WorkerReport {
            opened: Vec::new(),
            ended: Vec::new(),
            marks: Vec::new(),
        }
    }
}

impl<T> WorkerReport<T> {
    /// Closes the part of the report that covers one batch.
    fn mark(&mut self) {
        self.marks.push((self.opened.len(), self.ended.len()));
    }
}

/// Runs one file with `opts.shards` workers; same contract as [`super::analyze_prepared`].
/// `prepare` runs on the workers: whatever it drops is freed there, and only its (small) result
/// travels to the merger.
#[allow(clippy::too_many_arguments)]
pub(super) fn run<T: Indexed + Send>(
    path: &Path,
    opts: &Options,
    mut source: SegmentSource<'_>,
    keylog: Option<Arc<KeyLog>>,
    with_slot: bool,
    mut out: FileAnalysis,
    prepare: &Prepare<'_, T>,
    sink: &mut dyn FnMut(u64, Option<T>),
) -> FileAnalysis {
    let shards = opts.shards.max(1);
    let mut batch_txs: Vec<SyncSender<Arc<Batch>>> = Vec::with_capacity(shards);
    let mut report_rxs: Vec<Receiver<WorkerReport<T>>> = Vec::with_capacity(shards);
    std::thread::scope(|scope| {
        let mut workers = Vec::with_capacity(shards);
        for me in 0..shards {
            let (btx, brx) = sync_channel::<Arc<Batch>>(QUEUE);
            let (rtx, rrx) = sync_channel::<WorkerReport<T>>(REPORTS_QUEUED);
            batch_txs.push(btx);
            report_rxs.push(rrx);
            let slot = key_slot(&keylog, with_slot);
            workers.push(scope.spawn(move || worker(me, path, opts, slot, prepare, brx, rtx)));
        }
        // QUIC and DTLS are read on the reader thread: their datagrams are few beside TCP's
        // segments.
        // One slot for both: pcapng secrets met on this thread are merged into it.
        let udp_slot = key_slot(&keylog, with_slot);
        let mut quic = QuicTable::new(quic_config(opts, udp_slot.clone()));
        let mut dtls = DtlsTable::new(dtls_config(opts, udp_slot));
        let reader = scope.spawn(move || {
            let segments = match opts.batch_segments {
                0 => BATCH_SEGMENTS,
                n => n,
            };
            // QUIC connections that end while the file is read become records here.
            let mut quic_builder = Finisher::new(path, opts);
            let mut quic_ended = Vec::new();
            let mut dtls_ended = Vec::new();
            let mut udp = DatagramStages {
                quic: &mut quic,
                dtls: &mut dtls,
                builder: &mut quic_builder,
                quic_ended: &mut quic_ended,
                dtls_ended: &mut dtls_ended,
                prepare,
            };
            read(
                &mut source,
                &mut out,
                shards,
                segments,
                &batch_txs,
                &mut udp,
            );
            drop(batch_txs);
            source.finish(&mut out);
            (out, quic, quic_ended, dtls, dtls_ended)
        });
        merge(&report_rxs, sink);
        let (mut out, quic, quic_ended, dtls, dtls_ended) = match reader.join() {
            Ok(done) => done,
            Err(p) => std::panic::resume_unwind(p),
        };
        for w in workers {
            match w.join() {
                Ok(seen) => out.stats.tcp_connections += seen,
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        // Numbered after every TCP connection, as the single-threaded path does.
        let mut builder = Finisher::new(path, opts);
        builder.seen = out.stats.tcp_connections;
        emit_datagram_records(
            (quic, quic_ended),
            (dtls, dtls_ended),
            &mut builder,
            prepare,
            sink,
        );
        out
    })
}

/// The datagram stages of the reader thread, and where their records go as connections end.
struct DatagramStages<'r, 'p, T> {
    quic: &'r mut QuicTable,
    dtls: &'r mut DtlsTable,
    builder: &'r mut Finisher<'p>,
    quic_ended: &'r mut Vec<(u64, T)>,
    dtls_ended: &'r mut Vec<(u64, T)>,
    prepare: &'r Prepare<'p, T>,
}

impl<T> DatagramStages<'_, '_, T> {
    fn on_datagram(&mut self, meta: crate::flow::SegmentMeta, d: &crate::net::UdpDatagram<'_>) {
        let (builder, prepare) = (&mut *self.builder, self.prepare);
        let dtls_ended = &mut *self.dtls_ended;
        let read = self.dtls.on_datagram(meta, d, &mut |f: DtlsFinished| {
            dtls_ended.push((f.ordinal, builder.push_dtls(f, prepare)));
        });
        if !read {
            let quic_ended = &mut *self.quic_ended;
            self.quic.on_datagram(meta, d, &mut |f| {
                quic_ended.push((f.ordinal, builder.push_quic(f, prepare)));
            });
        }
    }
}

/// The reader thread: segments into batches, every batch to every worker.
fn read<T>(
    source: &mut SegmentSource<'_>,
    out: &mut FileAnalysis,
    shards: usize,
    segments: usize,
    txs: &[SyncSender<Arc<Batch>>],
    udp: &mut DatagramStages<'_, '_, T>,
) {
    let mut pool = BatchPool {
        shards,
        segments,
        in_flight: Default::default(),
    };
    let mut batch = pool.take();
    // The latest capture time so far: what a table that saw every packet takes as "now".
    let mut now = Timestamp::default();
    loop {
        match source.next(out) {
            Step::Segment(meta, seg, block) => {
                udp.quic.on_tcp(meta, &seg);
                let shard = seg.shard(shards);
                now = now.max(meta.ts);
                batch.push(meta, now, &seg, shard, block);
                if batch.is_full(segments) {
                    let full = std::mem::replace(&mut batch, pool.take());
                    if !pool.send(full, txs) {
                        return;
                    }
                }
            }
            Step::Secrets(log) => {
                if let Some(slot) = udp.quic.key_slot() {
                    slot.merge(log.clone());
                }
                batch.secrets.push((batch.entries.len(), Arc::new(log)))
            }
            Step::Datagram(meta, d) => udp.on_datagram(meta, &d),
            Step::Other => {}
            Step::End => break,
        }
    }
    if !batch.entries.is_empty() || !batch.secrets.is_empty() {
        pool.send(batch, txs);
    }
}

/// Batches in flight, reused once every worker is done with them (which also releases the
/// capture blocks they held, for the reader to reuse).
struct BatchPool {
    shards: usize,
    /// Segments per batch.
    segments: usize,
    in_flight: std::collections::VecDeque<Arc<Batch>>,
}

impl BatchPool {
    /// An empty batch, recycled when the oldest one in flight is free.
    fn take(&mut self) -> Batch {
        if let Some(oldest) = self.in_flight.front() {
            if Arc::strong_count(oldest) == 1 {
                if let Some(Ok(mut b)) = self.in_flight.pop_front().map(Arc::try_unwrap) {
                    b.clear();
                    return b;
                }
            }
        }
        Batch {
            entries: Vec::with_capacity(self.segments),
            nows: Vec::with_capacity(self.segments),
            mine: vec![Vec::with_capacity(self.segments / self.shards + 1); self.shards],
            ..Batch::default()
        }
    }

    /// Sends `batch` to every worker; false when a worker is gone (it panicked: the merger and
    /// the join report it).
    fn send(&mut self, batch: Batch, txs: &[SyncSender<Arc<Batch>>]) -> bool {
        let batch = Arc::new(batch);
        let sent = txs.iter().all(|tx| tx.send(batch.clone()).is_ok());
        // Bounded: the channels hold at most QUEUE batches per worker, plus one being read.
        if self.in_flight.len() > 2 * QUEUE + 2 {
            self.in_flight.pop_front();
        }
        self.in_flight.push_back(batch);
        sent
    }
}

/// A worker thread: the connections of shard `me`. Returns how many it saw.
fn worker<T>(
    me: usize,
    path: &Path,
    opts: &Options,
    slot: Option<Arc<crate::tls::keylog::KeySlot>>,
    prepare: &Prepare<'_, T>,
    batches: Receiver<Arc<Batch>>,
    reports: SyncSender<WorkerReport<T>>,
) -> u64 {
    let mut observer_cfg = opts.observer.clone();
    observer_cfg.keylog = slot.clone();
    let mut table: FlowTable<TlsObserver> = FlowTable::new(opts.flow.clone());
    table.track_opens();
    let mut builder = Finisher::new(path, opts);
    let me = me as u32;
    let mut report = WorkerReport::default();
    let mut batches_in_report = 0;
    let ended_per_report = match opts.ended_per_report {
        0 => ENDED_PER_REPORT,
        n => n,
    };
    for batch in batches {
        let mut secrets = batch.secrets.iter().peekable();
        let mut add_secrets_before = |i: usize| {
            while let Some((_, log)) = secrets.next_if(|(at, _)| *at <= i) {
                if let Some(slot) = &slot {
                    slot.merge((**log).clone());
                }
            }
        };
        let ended = &mut report.ended;
        // Ended connections go straight to the builder (a finished connection is large:
        // every move through an intermediate list copied it again), marked with the packet
        // at which they ended (`at_packet`, set before each tick or segment).
        let at_packet = std::cell::Cell::new(0);
        let mut on_end = |f: Finished<TlsObserver>| {
            let (index, prepared) = builder.push(f, prepare);
            ended.push((at_packet.get(), index, prepared));
        };
        // Segments before `from` are accounted for (processed, or their time passed).
        let mut from = 0;
        let mine = batch.mine.get(me as usize).map_or(&[][..], Vec::as_slice);
        for &i in mine
            .iter()
            .chain(std::iter::once(&(batch.entries.len() as u32)))
        {
            let i = i as usize;
            // The other shards' segments before this one only let time pass: find the first
            // at which that has work, rather than visiting each.
            while from < i {
                let due = table.due();
                let passed = &batch.nows[from..i];
                let at = from + passed.partition_point(|t| *t < due);
                if at == i {
                    table.pass_time(passed[passed.len() - 1], batch.entries[i - 1].meta);
                    break;
                }
                add_secrets_before(at);
                let meta = batch.entries[at].meta;
                at_packet.set(meta.packet);
                table.tick(meta, &mut on_end);
                from = at + 1;
            }
            let Some(e) = batch.entries.get(i) else {
                break;
            };
            add_secrets_before(i);
            from = i + 1;
            // A mapped file truncated under this batch: its payload past the new end reads as
            // zeros now, and the reader ends with a "truncated" error before that packet.
            if crate::capture::mapped_faults() != 0 && !batch.intact(e) {
                continue;
            }
            let cfg = &observer_cfg;
            at_packet.set(e.meta.packet);
            table.process(
                e.meta,
                &batch.segment(e),
                &mut |_c, _s| TlsObserver::new(cfg.clone()),
                &mut on_end,
            );
        }
        add_secrets_before(usize::MAX);
        report.opened.extend(table.take_opened());
        report.mark();
        batches_in_report += 1;
        if batches_in_report == BATCHES_PER_REPORT || report.ended.len() >= ended_per_report {
            batches_in_report = 0;
            if reports.send(std::mem::take(&mut report)).is_err() {
                return builder.seen;
            }
        }
    }
    // The last report: the batches not reported yet, then what the end of the capture closes
    // (nothing opens there).
    table.finish(&mut |f| {
        let (index, prepared) = builder.push(f, prepare);
        report.ended.push((u64::MAX, index, prepared));
    });
    report.mark();
    let _ = reports.send(report);
    builder.seen
}

/// The merger: the workers' reports paired batch by batch (every worker covers every batch,
/// then the end of the capture), connections numbered by opening packet.
fn merge<T: Indexed>(reports: &[Receiver<WorkerReport<T>>], sink: &mut dyn FnMut(u64, Option<T>)) {
    let shards = reports.len();
    let mut next_index = 0u64;
    // Per worker: its next local index, and global indexes of its connections still open.
    let mut next_local = vec![0u64; shards];
    let mut global: Vec<crate::FastMap<u64, u64>> = vec![Default::default(); shards];
    let mut readers: Vec<ReportReader<T>> = (0..shards).map(|_| ReportReader::default()).collect();
    // Per worker, this batch's opened packets (a range of its report's) and ended connections.
    let mut opened: Vec<std::ops::Range<usize>> = vec![0..0; shards];
    let mut ended_here = vec![0usize; shards];
    let mut ended: Vec<(u64, u64, Option<T>)> = Vec::new();
    loop {
        for (w, (reader, rx)) in readers.iter_mut().zip(reports).enumerate() {
            if !reader.has_part() {
                match rx.recv() {
                    Ok(r) => reader.start(r),
                    // Every worker reports every batch and the end, then hangs up.
                    Err(_) => return,
                }
            }
            (opened[w], ended_here[w]) = reader.next_part();
        }
        // Number this batch's new connections in opening-packet order across workers.
        loop {
            let next = (0..shards)
                .filter_map(|w| {
                    let r = &opened[w];
                    (r.start < r.end).then(|| (readers[w].opened[r.start], w))
                })
                .min();
            let Some((_, w)) = next else { break };
            opened[w].start += 1;
            global[w].insert(next_local[w], next_index);
            next_local[w] += 1;
            next_index += 1;
        }
        for (w, reader) in readers.iter_mut().enumerate() {
            for (packet, local, built) in reader.ended.by_ref().take(ended_here[w]) {
                // Every connection was opened (and numbered) no later than it ended.
                let index = global[w].remove(&local).unwrap_or(u64::MAX);
                ended.push((packet, index, built));
            }
        }
        ended.sort_unstable_by_key(|(packet, index, _)| (*packet, *index));
        for (_, index, mut built) in ended.drain(..) {
            if let Some(b) = &mut built {
                b.set_index(index);
            }
            sink(index, built);
        }
    }
}

/// One worker's report as the merger reads it, one batch's part at a time.
struct ReportReader<T> {
    opened: Vec<u64>,
    ended: std::vec::IntoIter<(u64, u64, Option<T>)>,
    marks: std::vec::IntoIter<(usize, usize)>,
    /// Where the next part starts in `opened` and in the ended connections.
    at: (usize, usize),
}

impl<T> Default for ReportReader<T> {
    fn default() -> Self {
        ReportReader {
            opened: Vec::new(),
            ended: Vec::new().into_iter(),
            marks: Vec::new().into_iter(),
            at: (0, 0),
        }
    }
}

impl<T> ReportReader<T> {
    fn has_part(&self) -> bool {
        self.marks.len() > 0
    }

    fn start(&mut self, r: WorkerReport<T>) {
        self.opened = r.opened;
        self.ended = r.ended.into_iter();
        self.marks = r.marks.into_iter();
        self.at = (0, 0);
    }

    /// The next batch's part: the range of `opened`, and how many ended connections.
    fn next_part(&mut self) -> (std::ops::Range<usize>, usize) {
        let (opened_end, ended_end) = self.marks.next().unwrap_or(self.at);
        let (opened_at, ended_at) = std::mem::replace(&mut self.at, (opened_end, ended_end));
        (opened_at..opened_end, ended_end.saturating_sub(ended_at))
    }
}
