//! Spill files: a batch's connection records wait here, off the heap, until every file is
//! analysed and the cross-connection rules can run (`BENCHMARKS.md`: "Why the output pass is
//! a pass").
//!
//! Storage only: it neither runs rules nor writes output. A frame is a little-endian `u32`
//! length and a postcard-encoded `FrameHead` (the connection index and its chains)
//! followed by the postcard-encoded body ([`encode_body`]: the cross-connection facts and
//! the record). Certificate chains are written once per spill, in frame order, and referenced
//! by number afterwards (a chain is ~1 KB per certificate and most connections repeat one),
//! with a bounded table on both sides. Records are stored without their `file` (every record
//! of a spill belongs to one capture) and without the catalogue's fix texts (a finding whose
//! fix is its kind's gets it back when read).

use crate::certs::CertInfo;
use crate::findings::CrossFacts;
use crate::record::ConnectionRecord;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of spill kept in memory across the whole process before spills go to disk: small
/// batches (tests, a few samples) never touch the file system. `TLSCAP_SPILL_MEMORY` (bytes)
/// overrides it; temporary files go to `TMPDIR`.
const MEMORY_BUDGET: usize = 16 << 20;
static IN_MEMORY: AtomicUsize = AtomicUsize::new(0);

fn memory_budget() -> usize {
    static BUDGET: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(|| {
        std::env::var("TLSCAP_SPILL_MEMORY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(MEMORY_BUDGET)
    })
}

/// When no temporary file can be had (the directory is missing, full, not writable), spills
/// stay in memory up to this many times the budget, process-wide; records past it are not
/// kept (and the file says so).
const FALLBACK_FACTOR: usize = 4;

/// The directory temporary files go to (`TMPDIR`, else `/tmp`), for messages.
fn temp_dir() -> String {
    std::env::temp_dir().display().to_string()
}

/// Chains remembered per spill; past this the table starts over (bounds memory on captures
/// with many distinct chains).
const MAX_CHAINS: usize = 1024;

/// Encoded bytes of the chains remembered per spill; past this the table starts over too (a
/// chain can be hundreds of KiB: certificates with thousands of names). The writer and the
/// reader each hold about twice this in decoded chains.
const MAX_CHAIN_BYTES: usize = 4 << 20;

/// In-memory spills grow by whole chunks of this size: a growing `Vec` would reallocate
/// (copying, and briefly holding old and new buffers: up to 3x the budget).
const MEMORY_CHUNK: usize = 1 << 20;

/// Spill bytes in fixed-size chunks.
#[derive(Debug, Default)]
struct Chunks(Vec<Vec<u8>>);

impl Chunks {
    fn extend(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.0.last_mut() {
                Some(last) if last.len() < last.capacity() => {
                    let take = bytes.len().min(last.capacity() - last.len());
                    last.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                }
                _ => self.0.push(Vec::with_capacity(MEMORY_CHUNK)),
            }
        }
    }

    fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }
}

/// Reads chunks back as one byte stream.
struct ChunkReader<'a> {
    rest: &'a [Vec<u8>],
    at: usize,
}

impl Read for ChunkReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(first) = self.rest.first() {
            let avail = &first[self.at..];
            if avail.is_empty() {
                self.rest = &self.rest[1..];
                self.at = 0;
                continue;
            }
            let n = avail.len().min(buf.len());
            buf[..n].copy_from_slice(&avail[..n]);
            self.at += n;
            return Ok(n);
        }
        Ok(0)
    }
}

/// Where a spill's bytes are.
#[derive(Debug)]
enum Store {
    Memory(Chunks),
    Disk(BufWriter<File>),
}

/// What a frame says of a certificate chain.
#[derive(Debug, Serialize, Deserialize)]
enum ChainSlot<'a> {
    /// No chain.
    Absent,
    /// The chain numbered so in this spill.
    Known(u32),
    /// A chain not seen before; it gets the next number.
    New(Cow<'a, [CertInfo]>),
    /// The table was full: it starts over, and this chain is number 0.
    Reset(Cow<'a, [CertInfo]>),
}

/// The part of a frame the reader resolves before a run is decoded: chains must be numbered
/// in frame order, whatever thread decodes the bodies.
#[derive(Debug, Serialize, Deserialize)]
struct FrameHead<'a> {
    index: u64,
    #[serde(borrow)]
    server_chain: ChainSlot<'a>,
    #[serde(borrow)]
    client_chain: ChainSlot<'a>,
}

/// A record as it will be kept: the body of its frame (encoded where the record was built,
/// so records are freed on the thread that allocated them) and its chains, which the writer
/// numbers in the order it writes frames.
#[derive(Debug)]
pub struct EncodedRecord {
    /// Postcard bytes of the cross-connection facts and the record.
    pub body: Vec<u8>,
    /// The record's server chain, taken out of it.
    pub server_chain: Option<Arc<[CertInfo]>>,
    /// The record's client chain, taken out of it.
    pub client_chain: Option<Arc<[CertInfo]>>,
}

/// Encodes a record and its cross-connection facts for [`SpillWriter::push_frame`]. Needs no
/// state, so it runs on whichever thread built the record.
pub fn encode_body(mut record: ConnectionRecord, facts: &CrossFacts) -> io::Result<EncodedRecord> {
    let server_chain = record.server_chain.take();
    let client_chain = record.client_chain.take();
    record.file = String::new();
    for f in &mut record.findings {
        if matches!(f.remediation, Cow::Borrowed(fix) if std::ptr::eq(fix, f.kind.fix())) {
            f.remediation = Cow::Borrowed("");
        }
    }
    let body = crate::record::with_every_field(|| {
        postcard::to_extend(&(facts, &record), Vec::with_capacity(1024))
    })
    .map_err(|e| io::Error::other(format!("spill: cannot encode a record: {e}")))?;
    Ok(EncodedRecord {
        body,
        server_chain,
        client_chain,
    })
}

/// Decodes a body written by [`encode_body`], putting back what was left out.
fn decode_body(
    body: &[u8],
    file: &str,
    server_chain: Option<Arc<[CertInfo]>>,
    client_chain: Option<Arc<[CertInfo]>>,
) -> io::Result<(ConnectionRecord, CrossFacts)> {
    let ((facts, mut record), rest): ((CrossFacts, ConnectionRecord), _) =
        postcard::take_from_bytes(body).map_err(|e| bad(&e.to_string()))?;
    if !rest.is_empty() {
        return Err(bad("trailing bytes after a record"));
    }
    record.file = file.to_string();
    record.server_chain = server_chain;
    record.client_chain = client_chain;
    for f in &mut record.findings {
        if f.remediation.is_empty() {
            f.remediation = Cow::Borrowed(f.kind.fix());
        }
    }
    Ok((record, facts))
}

/// Writes one capture's frames, in the order they are pushed.
#[derive(Debug)]
pub struct SpillWriter {
    store: Store,
    /// Why the spill stays in memory past the budget (no temporary file could be created).
    no_disk: Option<String>,
    /// Why records pushed from now on are not kept (memory fallback full, or the temporary
    /// file failed), and how many were not.
    stopped: Option<String>,
    dropped: u64,
    /// Scratch for a frame's head (reused).
    head: Vec<u8>,
    /// Chain (by `Arc` address) → number. The `Arc`s are kept in `alive` so an address cannot
    /// be reused by a different chain while it is in the table.
    chains: crate::FastMap<usize, u32>,
    alive: Vec<Arc<[CertInfo]>>,
    /// Encoded bytes of the chains in `chains` (see [`MAX_CHAIN_BYTES`]).
    chain_bytes: usize,
    records: u64,
}

impl Default for SpillWriter {
    fn default() -> Self {
        SpillWriter {
            store: Store::Memory(Chunks::default()),
            no_disk: None,
            stopped: None,
            dropped: 0,
            head: Vec::with_capacity(32),
            chains: Default::default(),
            alive: Vec::new(),
            chain_bytes: 0,
            records: 0,
        }
    }
}

impl SpillWriter {
    /// Appends one record: its connection index, and its chains and body from
    /// [`encode_body`].
    pub fn push_frame(&mut self, index: u64, record: &EncodedRecord) -> io::Result<()> {
        if self.stopped.is_some() {
            self.dropped += 1;
            return Ok(());
        }
        let head = FrameHead {
            index,
            server_chain: self.chain_slot(record.server_chain.as_ref()),
            client_chain: self.chain_slot(record.client_chain.as_ref()),
        };
        let mut buf = std::mem::take(&mut self.head);
        buf.clear();
        let defines_chain = [&head.server_chain, &head.client_chain]
            .iter()
            .any(|slot| matches!(slot, ChainSlot::New(_) | ChainSlot::Reset(_)));
        let buf = postcard::to_extend(&head, buf)
            .map_err(|e| io::Error::other(format!("spill: cannot encode a frame: {e}")))?;
        if defines_chain {
            // The head is nearly all chain when it defines one.
            self.chain_bytes += buf.len();
        }
        let body = &record.body;
        let len = u32::try_from(buf.len() + body.len())
            .map_err(|_| io::Error::other("spill: a record over 4 GiB"))?
            .to_le_bytes();
        let n = len.len() + buf.len() + body.len();
        let mut stored = false;
        while let Store::Memory(chunks) = &mut self.store {
            let limit = match self.no_disk {
                None => memory_budget(),
                Some(_) => memory_budget().saturating_mul(FALLBACK_FACTOR),
            };
            if IN_MEMORY.fetch_add(n, Ordering::Relaxed) + n <= limit {
                chunks.extend(&len);
                chunks.extend(&buf);
                chunks.extend(body);
                stored = true;
                break;
            }
            IN_MEMORY.fetch_sub(n, Ordering::Relaxed);
            if let Some(why) = &self.no_disk {
                self.stopped = Some(format!(
                    "{why}, and the records kept in memory instead reached the limit ({limit} bytes)"
                ));
                self.dropped += 1;
                self.head = buf;
                return Ok(());
            }
            match to_disk(chunks) {
                Ok(file) => {
                    IN_MEMORY.fetch_sub(chunks.len(), Ordering::Relaxed);
                    self.store = Store::Disk(file);
                }
                // Stay in memory, up to the fallback limit; no second try.
                Err(e) => {
                    self.no_disk = Some(format!(
                        "cannot create a temporary file in {}: {e}",
                        temp_dir()
                    ))
                }
            }
        }
        if let (false, Store::Disk(file)) = (stored, &mut self.store) {
            let written = file
                .write_all(&len)
                .and_then(|()| file.write_all(&buf))
                .and_then(|()| file.write_all(body));
            if let Err(e) = written {
                self.salvage(e);
                self.dropped += 1;
                self.head = buf;
                return Ok(());
            }
        }
        self.head = buf;
        self.records += 1;
        Ok(())
    }

    /// The temporary file failed (disk full...): keeps the whole frames that reached it and
    /// stops keeping records.
    fn salvage(&mut self, error: io::Error) {
        self.stopped = Some(format!(
            "writing a temporary file in {} failed: {error}",
            temp_dir()
        ));
        let store = std::mem::replace(&mut self.store, Store::Memory(Chunks::default()));
        let Store::Disk(writer) = store else {
            self.store = store;
            return;
        };
        // Frames still in the buffer, or cut short in the file, are lost.
        let (file, _unwritten) = writer.into_parts();
        let kept = match whole_frames(file) {
            Ok((file, frames)) => {
                self.store = Store::Disk(BufWriter::new(file));
                frames
            }
            Err(_) => 0,
        };
        self.dropped += self.records.saturating_sub(kept);
        self.records = kept;
    }

    /// A note when the spill could not use a temporary file but kept every record in memory.
    pub fn warning(&self) -> Option<String> {
        match (&self.no_disk, &self.stopped) {
            (Some(why), None) => Some(format!("{why}; records kept in memory instead")),
            _ => None,
        }
    }

    /// Why some records were not kept, if any were not.
    pub fn not_kept(&self) -> Option<String> {
        let why = self.stopped.as_ref()?;
        Some(format!(
            "{} of its {} records not kept ({why}); the {} before are reported",
            self.dropped,
            self.records + self.dropped,
            self.records
        ))
    }

    /// Appends one record (encoded here; the batch encodes bodies where records are built).
    #[cfg(test)]
    pub fn push(&mut self, r: &ConnectionRecord, facts: &CrossFacts) -> io::Result<()> {
        let encoded = encode_body(r.clone(), facts)?;
        self.push_frame(r.index, &encoded)
    }

    /// How the next frame refers to `chain`, numbering it on first sight.
    fn chain_slot<'c>(&mut self, chain: Option<&'c Arc<[CertInfo]>>) -> ChainSlot<'c> {
        let Some(chain) = chain else {
            return ChainSlot::Absent;
        };
        let key = Arc::as_ptr(chain) as *const CertInfo as usize;
        if let Some(id) = self.chains.get(&key) {
            return ChainSlot::Known(*id);
        }
        let reset = self.chains.len() >= MAX_CHAINS || self.chain_bytes >= MAX_CHAIN_BYTES;
        if reset {
            self.chains.clear();
            self.alive.clear();
            self.chain_bytes = 0;
        }
        self.chains.insert(key, self.alive.len() as u32);
        self.alive.push(chain.clone());
        if reset {
            ChainSlot::Reset(Cow::Borrowed(chain))
        } else {
            ChainSlot::New(Cow::Borrowed(chain))
        }
    }

    /// Records written.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// Nothing written.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The spill has moved to a temporary file.
    pub fn on_disk(&self) -> bool {
        matches!(self.store, Store::Disk(_))
    }

    /// Ends writing; the spill can then be read any number of times.
    pub fn finish(self) -> io::Result<Spill> {
        self.finish_noting().map(|(spill, _)| spill)
    }

    /// [`SpillWriter::finish`], with [`SpillWriter::not_kept`] as it stands at the end.
    pub fn finish_noting(mut self) -> io::Result<(Spill, Option<String>)> {
        if let Store::Disk(w) = &mut self.store {
            if let Err(e) = w.flush() {
                self.salvage(e);
            }
        }
        let not_kept = self.not_kept();
        let store = match self.store {
            Store::Memory(buf) => SpillStore::Memory(buf),
            Store::Disk(w) => SpillStore::Disk(w.into_inner().map_err(|e| e.into_error())?),
        };
        let spill = Spill {
            store,
            records: self.records,
        };
        Ok((spill, not_kept))
    }
}

/// A temporary file holding the in-memory chunks so far.
fn to_disk(buf: &Chunks) -> io::Result<BufWriter<File>> {
    let mut file = BufWriter::with_capacity(1 << 16, tempfile::tempfile()?);
    for chunk in &buf.0 {
        file.write_all(chunk)?;
    }
    Ok(file)
}

/// Cuts a spill file after its last whole frame: the file and the frames kept.
fn whole_frames(mut file: File) -> io::Result<(File, u64)> {
    let on_disk = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    let mut r = BufReader::new(&file);
    let (mut end, mut frames) = (0u64, 0u64);
    while let Ok(Some(len)) = read_len(&mut r) {
        let len = u64::from(len);
        let next = end + 4 + len;
        if next > on_disk {
            break;
        }
        if io::copy(&mut (&mut r).take(len), &mut io::sink())? != len {
            break;
        }
        end = next;
        frames += 1;
    }
    drop(r);
    file.set_len(end)?;
    file.seek(SeekFrom::Start(end))?;
    Ok((file, frames))
}

#[derive(Debug)]
enum SpillStore {
    Memory(Chunks),
    Disk(File),
}

/// One capture's records, written and ready to read back.
#[derive(Debug)]
pub struct Spill {
    store: SpillStore,
    records: u64,
}

impl Drop for Spill {
    fn drop(&mut self) {
        if let SpillStore::Memory(buf) = &self.store {
            let n = buf.len();
            let _ = IN_MEMORY.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
        }
    }
}

impl Default for Spill {
    fn default() -> Self {
        Spill {
            store: SpillStore::Memory(Chunks::default()),
            records: 0,
        }
    }
}

impl Spill {
    /// Records in the spill.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Reads every record in the order written; `file` fills each record's `file` field.
    pub fn read(
        &self,
        file: &str,
        f: &mut dyn FnMut(ConnectionRecord, CrossFacts) -> io::Result<()>,
    ) -> io::Result<()> {
        self.read_runs(RUN_FRAMES, &mut |run| run.decode(file, f))
    }

    /// Reads the frames in the order written, `frames` at a time, without decoding them: each
    /// [`FrameRun`] can be decoded on another thread. Chains are resolved here, because a
    /// frame may use a chain that an earlier frame defined.
    pub fn read_runs(
        &self,
        frames: usize,
        f: &mut dyn FnMut(FrameRun) -> io::Result<()>,
    ) -> io::Result<()> {
        match &self.store {
            SpillStore::Memory(buf) => read_frames(
                &mut ChunkReader {
                    rest: &buf.0,
                    at: 0,
                },
                frames,
                f,
            ),
            SpillStore::Disk(d) => {
                let mut d = d;
                d.seek(SeekFrom::Start(0))?;
                read_frames(&mut BufReader::with_capacity(1 << 16, d), frames, f)
            }
        }
    }
}

/// Frames per run when a spill is read on one thread.
const RUN_FRAMES: usize = 256;

/// Consecutive frames of a spill, split and with their chains resolved but not decoded.
#[derive(Debug, Default)]
pub struct FrameRun {
    /// The frames' bodies, back to back.
    bytes: Vec<u8>,
    frames: Vec<RawFrame>,
}

/// One frame of a run: what the reader resolved, and where its body lies in the run's bytes.
#[derive(Debug)]
struct RawFrame {
    index: u64,
    server_chain: Option<Arc<[CertInfo]>>,
    client_chain: Option<Arc<[CertInfo]>>,
    body: std::ops::Range<usize>,
}

impl FrameRun {
    /// Frames in the run.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// No frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Decodes the frames in order; `file` fills each record's `file` field.
    pub fn decode(
        &self,
        file: &str,
        f: &mut dyn FnMut(ConnectionRecord, CrossFacts) -> io::Result<()>,
    ) -> io::Result<()> {
        for frame in &self.frames {
            let body = self.bytes.get(frame.body.clone()).unwrap_or_default();
            let (mut record, facts) = decode_body(
                body,
                file,
                frame.server_chain.clone(),
                frame.client_chain.clone(),
            )?;
            // A split capture numbers its connections after their bodies were encoded.
            record.index = frame.index;
            f(record, facts)?;
        }
        Ok(())
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("spill file: {what}"))
}

/// Encoded bytes a run stands for (its frames, and the chains they refer to, which every
/// record prints in full) before it is handed on, whatever its frame count: the output pass
/// holds a few runs per thread, rendered, and a chain can be hundreds of KiB.
const RUN_BYTES: usize = 4 << 20;

/// The chain a frame refers to, keeping the reader's table in step with the writer's, and
/// the encoded size of a chain the run did not read itself (`frame_len`: the size of the frame
/// a new chain came in, an upper bound of the chain's).
fn resolve(
    slot: ChainSlot<'_>,
    chains: &mut Vec<(Arc<[CertInfo]>, usize)>,
    frame_len: usize,
) -> io::Result<(Option<Arc<[CertInfo]>>, usize)> {
    Ok(match slot {
        ChainSlot::Absent => (None, 0),
        ChainSlot::Known(id) => {
            let (chain, len) = chains
                .get(id as usize)
                .cloned()
                .ok_or_else(|| bad("unknown chain"))?;
            (Some(chain), len)
        }
        ChainSlot::New(certs) | ChainSlot::Reset(certs) => {
            let chain: Arc<[CertInfo]> = Arc::from(certs.into_owned());
            chains.push((chain.clone(), frame_len));
            (Some(chain), 0)
        }
    })
}

fn read_frames(
    r: &mut dyn Read,
    frames: usize,
    f: &mut dyn FnMut(FrameRun) -> io::Result<()>,
) -> io::Result<()> {
    let mut chains: Vec<(Arc<[CertInfo]>, usize)> = Vec::new();
    let mut run = FrameRun::default();
    // Chains the run refers to but did not read itself.
    let mut referred = 0usize;
    while let Some(len) = read_len(r)? {
        let len = usize::try_from(len).map_err(|_| bad("frame too long"))?;
        // The whole frame goes into the run; its head (index, chains) is then skipped.
        let start = run.bytes.len();
        run.bytes.resize(start + len, 0);
        r.read_exact(&mut run.bytes[start..])?;
        let (head, body): (FrameHead<'_>, _) =
            postcard::take_from_bytes(&run.bytes[start..]).map_err(|e| bad(&e.to_string()))?;
        let body = run.bytes.len() - body.len()..run.bytes.len();
        let FrameHead {
            index,
            server_chain,
            client_chain,
        } = head;
        if matches!(server_chain, ChainSlot::Reset(_)) {
            chains.clear();
        }
        let (server_chain, server_len) = resolve(server_chain, &mut chains, len)?;
        if matches!(client_chain, ChainSlot::Reset(_)) {
            chains.clear();
        }
        let (client_chain, client_len) = resolve(client_chain, &mut chains, len)?;
        referred = referred
            .saturating_add(server_len)
            .saturating_add(client_len);
        run.frames.push(RawFrame {
            index,
            server_chain,
            client_chain,
            body,
        });
        if run.frames.len() >= frames.max(1)
            || run.bytes.len().saturating_add(referred) >= RUN_BYTES
        {
            referred = 0;
            let next = FrameRun {
                bytes: Vec::with_capacity(run.bytes.capacity()),
                frames: Vec::with_capacity(run.frames.capacity()),
            };
            f(std::mem::replace(&mut run, next))?;
        }
    }
    if !run.is_empty() {
        f(run)?;
    }
    Ok(())
}

/// A frame's length; None at a clean end of input.
fn read_len(r: &mut dyn Read) -> io::Result<Option<u32>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match r.read(&mut len[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(bad("truncated length")),
            n => got += n,
        }
    }
    Ok(Some(u32::from_le_bytes(len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{Finding, FindingKind, Severity};
    use crate::flow::{CloseKind, Side};
    use crate::record::{ConnectionType, TcpRecord};

    /// A hand-built record (these tests are about the spill format, not real data).
    fn record(
        index: u64,
        server_chain: Option<Arc<[CertInfo]>>,
        client_chain: Option<Arc<[CertInfo]>>,
    ) -> ConnectionRecord {
        ConnectionRecord {
            record_type: ConnectionType::Connection,
            file: "x.pcap".into(),
            index,
            first_packet: 1,
            start: crate::time::Timestamp::new(1_704_067_200, 0),
            duration_s: 0.25,
            client: "10.0.0.1:5000".parse().unwrap(),
            server: "10.0.0.2:443".parse().unwrap(),
            carrier: None,
            proxy_kind: None,
            proxy: None,
            target: None,
            original_client: None,
            sni: None,
            alpn_offered: vec![],
            alpn: None,
            versions_offered: vec![],
            version: None,
            cipher: None,
            resumed: false,
            hello_retry: false,
            cert_requested: None,
            client_cert_sent: None,
            server_chain,
            client_chain,
            ocsp_stapled: false,
            alerts: vec![],
            tcp: TcpRecord {
                syn: 1,
                syn_ack: true,
                established: true,
                client_bytes: 10,
                server_bytes: 20,
                closed_by: Some(Side::Server),
                close: Some(CloseKind::Rst),
                gaps: 0,
                packets: 7,
                retransmissions: 0,
                midstream: false,
                out_of_order: 0,
                mss: Default::default(),
            },
            ja3: None,
            ja4: None,
            chain_status: None,
            status: crate::record::ConnectionStatus::Ok,
            outcome: crate::record::Outcome::Ok,
            failed_at: None,
            cause: None,
            findings: vec![],
            decryption: None,
            http: vec![],
            transport: Default::default(),
            quic: None,
            dtls: None,
            icmp: Vec::new(),
        }
    }

    /// Hand-built records (this tests the chain table, not real data): more distinct chains
    /// than the table holds, each sent twice, must read back unchanged after the table resets;
    /// a catalogue fix and a fix worded for the connection both come back as written.
    #[test]
    fn chain_table_resets_and_round_trips() {
        let chain = |i: usize| -> Arc<[CertInfo]> {
            Arc::from(vec![CertInfo {
                subject: format!("CN=leaf{i}"),
                sha256: format!("{i:064x}"),
                san_dns: vec![format!("h{i}.example")],
                key_bits: 2048,
                ..Default::default()
            }])
        };
        let chains: Vec<_> = (0..MAX_CHAINS + 300).map(chain).collect();
        let mut w = SpillWriter::default();
        let mut written = Vec::new();
        for (i, c) in chains.iter().chain(chains.iter()).enumerate() {
            let finding = Finding::new(
                FindingKind::TlsAlert,
                Severity::Warning,
                "m".into(),
                "e".into(),
            );
            let r = ConnectionRecord {
                sni: (i % 2 == 0).then(|| "a.example".into()),
                alpn_offered: vec!["h2".into()],
                version: Some(crate::record::Version(0x0303)),
                cert_requested: Some(i % 3 == 0),
                chain_status: Some("trusted".into()),
                client_chain: (i % 5 == 0).then(|| chains[i % 7].clone()),
                findings: vec![if i % 2 == 0 {
                    finding
                } else {
                    finding.with_fix(format!("r\"{i}"))
                }],
                ..record(i as u64, Some(c.clone()), None)
            };
            let facts = CrossFacts {
                cert_request_packet: (i % 3 == 0).then_some(5),
                ..CrossFacts::default()
            };
            w.push(&r, &facts).unwrap();
            written.push((r, facts));
        }
        let spill = w.finish().unwrap();
        let mut read = Vec::new();
        for _ in 0..2 {
            read.clear();
            spill
                .read("x.pcap", &mut |r, f| {
                    read.push((r, f));
                    Ok(())
                })
                .unwrap();
            assert_eq!(read, written);
        }
        assert!(matches!(
            read[0].0.findings[0].remediation,
            Cow::Borrowed(_)
        ));
    }

    /// Hand-built records (this tests the chain table, not real data): chains of ~300 KB
    /// (thousands of names) fill the table by bytes long before its count: it starts over, and
    /// every record still reads back unchanged.
    #[test]
    fn chain_table_is_bounded_by_bytes() {
        let chain = |i: usize| -> Arc<[CertInfo]> {
            Arc::from(vec![CertInfo {
                subject: format!("CN=big{i}"),
                san_dns: (0..10_000).map(|n| format!("h{n}.s{i}.example")).collect(),
                ..Default::default()
            }])
        };
        let chains: Vec<_> = (0..40).map(chain).collect();
        let mut w = SpillWriter::default();
        let mut written = Vec::new();
        for (i, c) in chains.iter().chain(chains.iter()).enumerate() {
            let r = record(i as u64, Some(c.clone()), None);
            w.push(&r, &CrossFacts::default()).unwrap();
            written.push(r);
        }
        assert!(w.alive.len() < 40, "{} chains held", w.alive.len());
        assert!(
            w.chain_bytes < 2 * MAX_CHAIN_BYTES,
            "{} bytes",
            w.chain_bytes
        );
        let spill = w.finish().unwrap();
        let mut read = Vec::new();
        spill
            .read("x.pcap", &mut |r, _| {
                read.push(r);
                Ok(())
            })
            .unwrap();
        assert_eq!(read, written);
    }

    /// Hand-built records: bodies are encoded in one order (as workers finish connections)
    /// and written in another (index order, after the merger): the chains, numbered when
    /// written, must still resolve.
    #[test]
    fn bodies_encoded_out_of_write_order_read_back() {
        let chain: Arc<[CertInfo]> = Arc::from(vec![CertInfo {
            subject: "CN=shared".into(),
            ..Default::default()
        }]);
        let records: Vec<ConnectionRecord> = (0..4u64)
            .map(|i| record(i, Some(chain.clone()), (i == 2).then(|| chain.clone())))
            .collect();
        let facts = CrossFacts::default();
        let mut encoded: Vec<EncodedRecord> = records
            .iter()
            .rev()
            .map(|r| encode_body(r.clone(), &facts).unwrap())
            .collect();
        encoded.reverse();
        let mut w = SpillWriter::default();
        for (r, e) in records.iter().zip(&encoded) {
            w.push_frame(r.index, e).unwrap();
        }
        let spill = w.finish().unwrap();
        let mut read = Vec::new();
        spill
            .read("x.pcap", &mut |r, _| {
                read.push(r);
                Ok(())
            })
            .unwrap();
        assert_eq!(read, records);
    }

    #[test]
    fn corrupt_spill_is_an_error_not_a_panic() {
        for bytes in [
            vec![5, 0, 0, 0, 1, 2, 0xff],
            vec![2, 0],
            vec![1, 0, 0, 0, 0],
        ] {
            let spill = Spill {
                store: SpillStore::Memory(Chunks(vec![bytes])),
                records: 1,
            };
            assert!(spill.read("x", &mut |_, _| Ok(())).is_err());
        }
    }

    #[test]
    fn chunks_read_back_across_chunk_boundaries() {
        // Synthetic bytes: pieces of awkward sizes so writes straddle the 1 MiB chunks.
        let mut chunks = Chunks::default();
        let mut expected = Vec::new();
        for i in 0..5000u32 {
            let piece: Vec<u8> = (0..(i % 997) as usize)
                .map(|j| (j as u32 ^ i) as u8)
                .collect();
            chunks.extend(&piece);
            expected.extend_from_slice(&piece);
        }
        assert!(chunks.0.len() > 2, "{} chunks", chunks.0.len());
        assert!(chunks.0.iter().all(|c| c.capacity() == MEMORY_CHUNK));
        assert_eq!(chunks.len(), expected.len());
        let mut back = Vec::new();
        let mut r = ChunkReader {
            rest: &chunks.0,
            at: 0,
        };
        // Odd-sized reads, as BufReader-less frame decoding does.
        let mut buf = [0u8; 333];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
        }
        assert_eq!(back, expected);
    }
}
