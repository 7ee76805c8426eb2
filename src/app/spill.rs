//! Spill files: a batch's connection records wait here, off the heap, until every file is
//! analysed and the cross-connection rules can run, so memory follows the connections open at
//! once, not the total (see README.md, "Views").
//!
//! The format is private to one process run: length-prefixed frames of LEB128 integers and
//! length-prefixed strings. A frame is the connection index, the server and client chains,
//! then the other fields in [`ConnectionRecord`] order ([`encode_body`], which can run on
//! the thread that built the record). Certificate chains are written once per spill, in
//! frame order, and referenced by number afterwards (a chain is ~1 KB per certificate and
//! most connections repeat one), with a bounded table on both sides.
//! The `file` field is not stored: every record of a spill belongs to the same capture.

use crate::certs::CertInfo;
use crate::findings::{
    Candidate, ClientAuthServers, CrossFacts, Finding, FindingsConfig, Observed, Severity,
};
use crate::flow::{CloseKind, Side};
use crate::model::{AlertRecord, ConnectionRecord, DecryptionRecord, HttpRecord, TcpRecord};
use crate::report::json;
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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

/// Chains remembered per spill; past this the table starts over (bounds memory on captures
/// with many distinct chains).
const MAX_CHAINS: usize = 1024;

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

/// The frame body of one record with its cross-connection facts: everything but the index
/// and the certificate chains, which [`SpillWriter::push_frame`] adds. It needs no state, so
/// it runs on whichever thread built the record (a sharded file's workers): records are freed
/// where they were allocated, and only these bytes travel. The chains stay with the writer,
/// which numbers them in the order frames are written, whatever order bodies were encoded in.
pub fn encode_body(r: &ConnectionRecord, facts: &CrossFacts) -> Vec<u8> {
    let mut body = Vec::with_capacity(1024);
    let b = &mut body;
    put_ou(b, facts.cert_request_packet);
    match facts.candidate {
        None => b.push(0),
        Some(c) => {
            b.push(1);
            put_u(b, c.client_hello_packet);
            put_ou(b, c.server_hello_done_packet);
        }
    }
    put_u(b, r.first_packet);
    put_s(b, &r.start);
    b.extend_from_slice(&r.duration_s.to_bits().to_le_bytes());
    put_s(b, &r.client);
    put_s(b, &r.server);
    put_os(b, r.sni.as_deref());
    put_vs(b, &r.alpn_offered);
    put_os(b, r.alpn.as_deref());
    put_vs(b, &r.versions_offered);
    put_os(b, r.version.as_deref());
    put_os(b, r.cipher.as_deref());
    put_b(b, r.resumed);
    put_b(b, r.hello_retry);
    put_ob(b, r.cert_requested);
    put_ob(b, r.client_cert_sent);
    put_b(b, r.ocsp_stapled);
    put_u(b, r.alerts.len() as u64);
    for a in &r.alerts {
        put_side(b, Some(a.from));
        put_os(b, a.level.as_deref());
        put_os(b, a.description.as_deref());
        put_b(b, a.encrypted);
        put_u(b, a.packet);
    }
    let t = &r.tcp;
    put_u(b, u64::from(t.syn));
    put_b(b, t.syn_ack);
    put_b(b, t.established);
    put_u(b, t.client_bytes);
    put_u(b, t.server_bytes);
    put_side(b, t.closed_by);
    b.push(match t.close {
        None => 0,
        Some(CloseKind::Fin) => 1,
        Some(CloseKind::Rst) => 2,
    });
    put_u(b, u64::from(t.gaps));
    put_u(b, t.packets);
    put_u(b, u64::from(t.retransmissions));
    put_b(b, t.midstream);
    put_os(b, r.ja3.as_deref());
    put_os(b, r.ja4.as_deref());
    put_os(b, r.chain_status.as_deref());
    put_s(b, &r.status);
    put_u(b, r.findings.len() as u64);
    for f in &r.findings {
        put_s(b, f.id);
        b.push(match f.severity {
            Severity::Info => 0,
            Severity::Warning => 1,
            Severity::Error => 2,
        });
        put_s(b, &f.message);
        put_s(b, &f.evidence);
        put_fix(b, &f.remediation);
    }
    match &r.decryption {
        None => b.push(0),
        Some(d) => {
            b.push(1);
            put_s(b, &d.status);
            put_os(b, d.reason.as_deref());
            put_os(b, d.key_source.as_deref());
        }
    }
    put_u(b, r.http.len() as u64);
    for h in &r.http {
        put_s(b, &h.version);
        put_os(b, h.method.as_deref());
        put_os(b, h.path.as_deref());
        put_os(b, h.host.as_deref());
        put_ou(b, h.status.map(u64::from));
        put_s(b, &h.auth);
        put_ou(b, h.request_packet);
        put_ou(b, h.response_packet);
    }
    body
}

/// Writes one capture's frames, in the order they are pushed.
#[derive(Debug)]
pub struct SpillWriter {
    store: Store,
    /// Scratch for a frame's index and chains (reused).
    head: Vec<u8>,
    /// Chain (by `Arc` address) → number. The `Arc`s are kept in `alive` so an address cannot
    /// be reused by a different chain while it is in the table.
    chains: crate::FastMap<usize, u32>,
    alive: Vec<Arc<[CertInfo]>>,
    records: u64,
}

impl Default for SpillWriter {
    fn default() -> Self {
        SpillWriter {
            store: Store::Memory(Chunks::default()),
            head: Vec::with_capacity(32),
            chains: Default::default(),
            alive: Vec::new(),
            records: 0,
        }
    }
}

impl SpillWriter {
    /// Appends one record: its connection index, its chains and its `body` from
    /// [`encode_body`].
    pub fn push_frame(
        &mut self,
        index: u64,
        server_chain: Option<&Arc<[CertInfo]>>,
        client_chain: Option<&Arc<[CertInfo]>>,
        body: &[u8],
    ) -> io::Result<()> {
        let mut head = std::mem::take(&mut self.head);
        head.clear();
        put_u(&mut head, index);
        self.put_chain(&mut head, server_chain);
        self.put_chain(&mut head, client_chain);
        let mut len_buf = [0u8; 10];
        let len = varint(&mut len_buf, (head.len() + body.len()) as u64);
        let n = len.len() + head.len() + body.len();
        if let Store::Memory(buf) = &mut self.store {
            if IN_MEMORY.fetch_add(n, Ordering::Relaxed) + n > memory_budget() {
                IN_MEMORY.fetch_sub(n, Ordering::Relaxed);
                let mut file = BufWriter::with_capacity(1 << 16, tempfile::tempfile()?);
                for chunk in &buf.0 {
                    file.write_all(chunk)?;
                }
                IN_MEMORY.fetch_sub(buf.len(), Ordering::Relaxed);
                self.store = Store::Disk(file);
            } else {
                buf.extend(len);
                buf.extend(&head);
                buf.extend(body);
            }
        }
        if let Store::Disk(file) = &mut self.store {
            file.write_all(len)?;
            file.write_all(&head)?;
            file.write_all(body)?;
        }
        self.head = head;
        self.records += 1;
        Ok(())
    }

    /// Appends one record (encoded here; the batch encodes bodies where records are built).
    #[cfg(test)]
    pub fn push(&mut self, r: &ConnectionRecord, facts: &CrossFacts) -> io::Result<()> {
        let body = encode_body(r, facts);
        self.push_frame(
            r.index,
            r.server_chain.as_ref(),
            r.client_chain.as_ref(),
            &body,
        )
    }

    fn put_chain(&mut self, b: &mut Vec<u8>, chain: Option<&Arc<[CertInfo]>>) {
        let Some(chain) = chain else {
            b.push(0);
            return;
        };
        let key = Arc::as_ptr(chain) as *const CertInfo as usize;
        if let Some(id) = self.chains.get(&key) {
            b.push(2);
            put_u(b, u64::from(*id));
            return;
        }
        if self.chains.len() >= MAX_CHAINS {
            self.chains.clear();
            self.alive.clear();
            b.push(3);
        } else {
            b.push(1);
        }
        self.chains.insert(key, self.alive.len() as u32);
        self.alive.push(chain.clone());
        put_u(b, chain.len() as u64);
        for c in chain.iter() {
            put_s(b, &c.subject);
            put_s(b, &c.issuer);
            put_vs(b, &c.san_dns);
            put_vs(b, &c.san_ip);
            put_s(b, &c.not_before);
            put_s(b, &c.not_after);
            put_s(b, &c.serial);
            put_s(b, &c.sha256);
            put_s(b, &c.key);
            put_s(b, &c.signature);
            put_b(b, c.self_signed);
            put_b(b, c.is_ca);
            put_os(b, c.common_name.as_deref());
            put_u(b, u64::from(c.key_bits));
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
        let store = match self.store {
            Store::Memory(buf) => SpillStore::Memory(buf),
            Store::Disk(w) => SpillStore::Disk(w.into_inner().map_err(|e| e.into_error())?),
        };
        Ok(Spill {
            store,
            records: self.records,
        })
    }
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

    /// Writes the frames in order as JSON lines, each exactly what decoding its record,
    /// completing it with `cross` and `write_connection` (plus a newline) would write, without
    /// building the records. Returns the findings written and the worst severity.
    pub fn write_json(
        &self,
        file: &str,
        cross: &CrossRules<'_>,
        out: &mut Vec<u8>,
    ) -> io::Result<(u64, Option<Severity>)> {
        let mut no_chains = Vec::new();
        let mut chains = json::ChainCache::default();
        let (mut findings, mut worst) = (0, None);
        for frame in &self.frames {
            let mut d = Dec {
                buf: self.bytes.get(frame.body.clone()).unwrap_or_default(),
                chains: &mut no_chains,
            };
            let (n, w) = d.write_json(file, frame, cross, &mut chains, out)?;
            findings += n;
            worst = worst.max(w);
        }
        Ok((findings, worst))
    }

    /// Decodes the frames in order; `file` fills each record's `file` field.
    pub fn decode(
        &self,
        file: &str,
        f: &mut dyn FnMut(ConnectionRecord, CrossFacts) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut no_chains = Vec::new();
        for frame in &self.frames {
            let mut d = Dec {
                buf: self.bytes.get(frame.body.clone()).unwrap_or_default(),
                chains: &mut no_chains,
            };
            let (record, facts) = d.record(
                file,
                frame.index,
                frame.server_chain.clone(),
                frame.client_chain.clone(),
            )?;
            f(record, facts)?;
        }
        Ok(())
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("spill file: {what}"))
}

fn read_frames(
    r: &mut dyn Read,
    frames: usize,
    f: &mut dyn FnMut(FrameRun) -> io::Result<()>,
) -> io::Result<()> {
    let mut chains: Vec<Arc<[CertInfo]>> = Vec::new();
    let mut run = FrameRun::default();
    while let Some(len) = read_varint(r)? {
        let len = usize::try_from(len).map_err(|_| bad("frame too long"))?;
        // The whole frame goes into the run; its head (index, chains) is then skipped.
        let start = run.bytes.len();
        run.bytes.resize(start + len, 0);
        r.read_exact(&mut run.bytes[start..])?;
        let mut d = Dec {
            buf: &run.bytes[start..],
            chains: &mut chains,
        };
        let index = d.u()?;
        let server_chain = d.chain()?;
        let client_chain = d.chain()?;
        let body = run.bytes.len() - d.buf.len()..run.bytes.len();
        run.frames.push(RawFrame {
            index,
            server_chain,
            client_chain,
            body,
        });
        if run.frames.len() >= frames.max(1) {
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

/// A varint at a frame boundary; None at a clean end of input.
fn read_varint(r: &mut dyn Read) -> io::Result<Option<u64>> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let mut byte = [0u8; 1];
        if r.read(&mut byte)? == 0 {
            return if i == 0 {
                Ok(None)
            } else {
                Err(bad("truncated length"))
            };
        }
        v |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            return Ok(Some(v));
        }
    }
    Err(bad("length too long"))
}

/// `v` as LEB128, like [`varint`], pushed byte by byte: most values take one or two bytes,
/// and `extend_from_slice` of so short a run was a `memcpy` call each (~30 per record).
fn put_u(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push(v as u8 | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

/// `v` as LEB128 in `buf`; returns the bytes used.
fn varint(buf: &mut [u8; 10], mut v: u64) -> &[u8] {
    let mut n = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf[n] = byte;
            return &buf[..=n];
        }
        buf[n] = byte | 0x80;
        n += 1;
    }
}

fn put_ou(b: &mut Vec<u8>, v: Option<u64>) {
    match v {
        None => b.push(0),
        Some(v) => {
            b.push(1);
            put_u(b, v);
        }
    }
}

fn put_b(b: &mut Vec<u8>, v: bool) {
    b.push(u8::from(v));
}

fn put_ob(b: &mut Vec<u8>, v: Option<bool>) {
    b.push(match v {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    });
}

fn put_side(b: &mut Vec<u8>, v: Option<Side>) {
    b.push(match v {
        None => 0,
        Some(Side::Client) => 1,
        Some(Side::Server) => 2,
    });
}

fn put_s(b: &mut Vec<u8>, s: &str) {
    put_u(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

fn put_os(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => b.push(0),
        Some(s) => {
            b.push(1);
            put_s(b, s);
        }
    }
}

fn put_vs(b: &mut Vec<u8>, v: &[String]) {
    put_u(b, v.len() as u64);
    for s in v {
        put_s(b, s);
    }
}

/// Finding ids are `&'static str`: known ids map back to [`crate::findings::ALL_IDS`];
/// anything else is interned once (bounded by the ids the code can produce).
fn utf8(text: &[u8]) -> io::Result<&str> {
    std::str::from_utf8(text).map_err(|_| bad("not UTF-8"))
}

/// A remediation as a frame holds it (see [`put_fix`]).
enum Fix<'a> {
    /// A rule's fixed text, by number.
    Fixed(FixedText),
    /// Any other text, inline.
    Text(&'a [u8]),
}

/// A rule's fixed remediation text, and the same as a JSON string (escaped once per process).
#[derive(Clone, Copy)]
struct FixedText {
    text: &'static str,
    json: &'static [u8],
}

/// Fixed texts numbered so far, by the address and length of their `&'static str`.
#[derive(Default)]
struct FixedTexts {
    ids: crate::FastMap<(usize, usize), u32>,
    texts: Vec<FixedText>,
}

/// Fixed texts numbered per process; past this many (the rules have a few dozen) texts are
/// written inline.
const MAX_FIXED_TEXTS: usize = 4096;

static FIXED_TEXTS: std::sync::LazyLock<std::sync::RwLock<FixedTexts>> =
    std::sync::LazyLock::new(Default::default);

/// The number of the fixed text `text`, numbering it on first sight.
fn fixed_text_id(text: &'static str) -> Option<u32> {
    let key = (text.as_ptr() as usize, text.len());
    if let Some(id) = FIXED_TEXTS.read().ok()?.ids.get(&key) {
        return Some(*id);
    }
    let mut fixed = FIXED_TEXTS.write().ok()?;
    if let Some(id) = fixed.ids.get(&key) {
        return Some(*id);
    }
    if fixed.texts.len() >= MAX_FIXED_TEXTS {
        return None;
    }
    let id = u32::try_from(fixed.texts.len()).ok()?;
    let mut escaped = Vec::with_capacity(text.len() + 2);
    json::write_str(&mut escaped, text);
    // Leaked: one per distinct rule text (bounded above), kept for the whole process like
    // the texts themselves.
    let json: &'static [u8] = Box::leak(escaped.into_boxed_slice());
    fixed.texts.push(FixedText { text, json });
    fixed.ids.insert(key, id);
    Some(id)
}

fn fixed_text(id: u32) -> Option<FixedText> {
    FIXED_TEXTS
        .read()
        .ok()?
        .texts
        .get(usize::try_from(id).ok()?)
        .copied()
}

/// A remediation: a rule's fixed text (`Cow::Borrowed`) as `2 × number + 1`, any other as
/// `2 × length` and its bytes. Fixed texts were a third of a frame's bytes, written to and
/// read back from the spill file once per finding.
// `&Cow`, not `&str`: whether the text is borrowed (a rule's `&'static str`) is the point.
#[allow(clippy::ptr_arg)]
fn put_fix(b: &mut Vec<u8>, fix: &Cow<'static, str>) {
    if let Cow::Borrowed(text) = fix {
        if let Some(id) = fixed_text_id(text) {
            put_u(b, u64::from(id) << 1 | 1);
            return;
        }
    }
    put_u(b, (fix.len() as u64) << 1);
    b.extend_from_slice(fix.as_bytes());
}

fn static_id(id: &str) -> &'static str {
    if let Some(known) = crate::findings::ALL_IDS.iter().find(|k| **k == id) {
        return known;
    }
    static OTHER: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let Ok(mut other) = OTHER.lock() else {
        return "unknown";
    };
    if let Some(known) = other.iter().find(|k| **k == id) {
        return known;
    }
    let leaked: &'static str = Box::leak(id.to_string().into_boxed_str());
    other.push(leaked);
    leaked
}

struct Dec<'a> {
    buf: &'a [u8],
    chains: &'a mut Vec<Arc<[CertInfo]>>,
}

impl<'a> Dec<'a> {
    fn byte(&mut self) -> io::Result<u8> {
        let (&b, rest) = self.buf.split_first().ok_or_else(|| bad("truncated"))?;
        self.buf = rest;
        Ok(b)
    }

    fn u(&mut self) -> io::Result<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let byte = self.byte()?;
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("integer too long"))
    }

    fn u32(&mut self) -> io::Result<u32> {
        u32::try_from(self.u()?).map_err(|_| bad("integer out of range"))
    }

    fn ou(&mut self) -> io::Result<Option<u64>> {
        Ok(match self.byte()? {
            0 => None,
            _ => Some(self.u()?),
        })
    }

    fn b(&mut self) -> io::Result<bool> {
        Ok(self.byte()? != 0)
    }

    fn ob(&mut self) -> io::Result<Option<bool>> {
        Ok(match self.byte()? {
            0 => None,
            1 => Some(false),
            _ => Some(true),
        })
    }

    fn side(&mut self) -> io::Result<Option<Side>> {
        Ok(match self.byte()? {
            0 => None,
            1 => Some(Side::Client),
            _ => Some(Side::Server),
        })
    }

    /// A string's bytes, borrowed from the frame and not checked to be UTF-8 (the JSON
    /// writer escapes and copies them as they are; they were written from a `&str`).
    fn text(&mut self) -> io::Result<&'a [u8]> {
        let n = self.u()?;
        self.take(n)
    }

    /// The next `n` bytes of a string.
    fn take(&mut self, n: u64) -> io::Result<&'a [u8]> {
        let n = usize::try_from(n).map_err(|_| bad("string too long"))?;
        if n > self.buf.len() {
            return Err(bad("truncated string"));
        }
        let (s, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(s)
    }

    fn otext(&mut self) -> io::Result<Option<&'a [u8]>> {
        Ok(match self.byte()? {
            0 => None,
            _ => Some(self.text()?),
        })
    }

    /// A string, borrowed from the frame.
    fn str(&mut self) -> io::Result<&'a str> {
        utf8(self.text()?)
    }

    /// A remediation written by [`put_fix`].
    fn fix(&mut self) -> io::Result<Fix<'a>> {
        let v = self.u()?;
        if v & 1 == 1 {
            let id = u32::try_from(v >> 1).map_err(|_| bad("fixed text number too large"))?;
            return fixed_text(id)
                .map(Fix::Fixed)
                .ok_or_else(|| bad("unknown fixed text"));
        }
        self.take(v >> 1).map(Fix::Text)
    }

    fn s(&mut self) -> io::Result<String> {
        self.str().map(str::to_owned)
    }

    fn os(&mut self) -> io::Result<Option<String>> {
        Ok(match self.byte()? {
            0 => None,
            _ => Some(self.s()?),
        })
    }

    fn count(&mut self) -> io::Result<usize> {
        let n = usize::try_from(self.u()?).map_err(|_| bad("count too large"))?;
        // Every element takes at least one byte: a larger count is corrupt.
        if n > self.buf.len() {
            return Err(bad("count too large"));
        }
        Ok(n)
    }

    fn vs(&mut self) -> io::Result<Vec<String>> {
        let n = self.count()?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.s()?);
        }
        Ok(v)
    }

    fn chain(&mut self) -> io::Result<Option<Arc<[CertInfo]>>> {
        match self.byte()? {
            0 => Ok(None),
            2 => {
                let id = usize::try_from(self.u()?).map_err(|_| bad("chain id"))?;
                self.chains
                    .get(id)
                    .cloned()
                    .map(Some)
                    .ok_or_else(|| bad("unknown chain"))
            }
            tag => {
                if tag == 3 {
                    self.chains.clear();
                }
                let n = self.count()?;
                let mut certs = Vec::with_capacity(n);
                for _ in 0..n {
                    certs.push(CertInfo {
                        subject: self.s()?,
                        issuer: self.s()?,
                        san_dns: self.vs()?,
                        san_ip: self.vs()?,
                        not_before: self.s()?,
                        not_after: self.s()?,
                        serial: self.s()?,
                        sha256: self.s()?,
                        key: self.s()?,
                        signature: self.s()?,
                        self_signed: self.b()?,
                        is_ca: self.b()?,
                        common_name: self.os()?,
                        key_bits: self.u32()?,
                    });
                }
                let chain: Arc<[CertInfo]> = Arc::from(certs);
                self.chains.push(chain.clone());
                Ok(Some(chain))
            }
        }
    }

    /// The cross-connection facts that open every frame's body.
    fn facts(&mut self) -> io::Result<CrossFacts> {
        let cert_request_packet = self.ou()?;
        let candidate = match self.byte()? {
            0 => None,
            _ => Some(Candidate {
                client_hello_packet: self.u()?,
                server_hello_done_packet: self.ou()?,
            }),
        };
        Ok(CrossFacts {
            cert_request_packet,
            candidate,
        })
    }

    fn f64(&mut self) -> io::Result<f64> {
        let (bits, rest) = self
            .buf
            .split_first_chunk::<8>()
            .ok_or_else(|| bad("truncated"))?;
        self.buf = rest;
        Ok(f64::from_bits(u64::from_le_bytes(*bits)))
    }

    fn severity(&mut self) -> io::Result<Severity> {
        Ok(match self.byte()? {
            0 => Severity::Info,
            1 => Severity::Warning,
            _ => Severity::Error,
        })
    }

    fn tcp(&mut self) -> io::Result<TcpRecord> {
        Ok(TcpRecord {
            syn: self.u32()?,
            syn_ack: self.b()?,
            established: self.b()?,
            client_bytes: self.u()?,
            server_bytes: self.u()?,
            closed_by: self.side()?,
            close: match self.byte()? {
                0 => None,
                1 => Some(CloseKind::Fin),
                _ => Some(CloseKind::Rst),
            },
            gaps: self.u32()?,
            packets: self.u()?,
            retransmissions: self.u32()?,
            midstream: self.b()?,
        })
    }

    fn decryption(&mut self) -> io::Result<Option<DecryptionRecord>> {
        Ok(match self.byte()? {
            0 => None,
            _ => Some(DecryptionRecord {
                status: self.s()?,
                reason: self.os()?,
                key_source: self.os()?,
            }),
        })
    }

    fn http(&mut self) -> io::Result<Vec<HttpRecord>> {
        let n = self.count()?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(HttpRecord {
                version: self.s()?,
                method: self.os()?,
                path: self.os()?,
                host: self.os()?,
                status: self
                    .ou()?
                    .map(|s| u16::try_from(s).map_err(|_| bad("status")))
                    .transpose()?,
                auth: self.s()?,
                request_packet: self.ou()?,
                response_packet: self.ou()?,
            });
        }
        Ok(v)
    }

    fn end(&self) -> io::Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(bad("trailing bytes"))
        }
    }

    fn record(
        &mut self,
        file: &str,
        index: u64,
        server_chain: Option<Arc<[CertInfo]>>,
        client_chain: Option<Arc<[CertInfo]>>,
    ) -> io::Result<(ConnectionRecord, CrossFacts)> {
        let facts = self.facts()?;
        let first_packet = self.u()?;
        let start = self.s()?;
        let duration_s = self.f64()?;
        let record = ConnectionRecord {
            record_type: "connection",
            file: file.to_string(),
            index,
            first_packet,
            start,
            duration_s,
            client: self.s()?,
            server: self.s()?,
            sni: self.os()?,
            alpn_offered: self.vs()?,
            alpn: self.os()?,
            versions_offered: self.vs()?,
            version: self.os()?,
            cipher: self.os()?,
            resumed: self.b()?,
            hello_retry: self.b()?,
            cert_requested: self.ob()?,
            client_cert_sent: self.ob()?,
            server_chain,
            client_chain,
            ocsp_stapled: self.b()?,
            alerts: {
                let n = self.count()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(AlertRecord {
                        from: self.side()?.unwrap_or(Side::Client),
                        level: self.os()?,
                        description: self.os()?,
                        encrypted: self.b()?,
                        packet: self.u()?,
                    });
                }
                v
            },
            tcp: self.tcp()?,
            ja3: self.os()?,
            ja4: self.os()?,
            chain_status: self.os()?,
            status: self.s()?,
            findings: {
                let n = self.count()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(Finding {
                        id: static_id(self.str()?),
                        severity: self.severity()?,
                        message: self.s()?,
                        evidence: self.s()?,
                        remediation: match self.fix()? {
                            Fix::Fixed(text) => Cow::Borrowed(text.text),
                            Fix::Text(text) => Cow::Owned(utf8(text)?.to_owned()),
                        },
                    });
                }
                v
            },
            decryption: self.decryption()?,
            http: self.http()?,
        };
        self.end()?;
        Ok((record, facts))
    }

    fn ostr(&mut self) -> io::Result<Option<&'a str>> {
        Ok(match self.byte()? {
            0 => None,
            _ => Some(self.str()?),
        })
    }

    /// A list of strings, as a JSON array.
    fn json_strs(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        out.push(b'[');
        for i in 0..self.count()? {
            if i > 0 {
                out.push(b',');
            }
            json::write_str_bytes(out, self.text()?);
        }
        out.push(b']');
        Ok(())
    }

    /// The JSON line [`Dec::record`] + cross-connection findings + `write_connection` would
    /// produce, written straight from the frame: no record is built. The field order of the
    /// frame is the JSON's (both follow `ConnectionRecord`), so the frame is walked once;
    /// only the findings wait, to be ordered worst first with the cross-connection ones.
    /// Returns the findings written and the worst severity among them.
    fn write_json(
        &mut self,
        file: &str,
        frame: &RawFrame,
        cross: &CrossRules<'_>,
        chains: &mut json::ChainCache,
        out: &mut Vec<u8>,
    ) -> io::Result<(u64, Option<Severity>)> {
        let index = frame.index;
        let facts = self.facts()?;
        out.extend_from_slice(b"{\"type\":\"connection\",\"file\":");
        json::write_str(out, file);
        out.extend_from_slice(b",\"index\":");
        json::write_u64(out, index);
        out.extend_from_slice(b",\"first_packet\":");
        json::write_u64(out, self.u()?);
        out.extend_from_slice(b",\"start\":");
        json::write_str_bytes(out, self.text()?);
        out.extend_from_slice(b",\"duration_s\":");
        json::write_f64(out, self.f64()?);
        out.extend_from_slice(b",\"client\":");
        json::write_str_bytes(out, self.text()?);
        let server = self.str()?;
        out.extend_from_slice(b",\"server\":");
        json::write_str(out, server);
        let sni = self.ostr()?;
        out.extend_from_slice(b",\"sni\":");
        json::write_opt_str(out, sni);
        out.extend_from_slice(b",\"alpn_offered\":");
        self.json_strs(out)?;
        out.extend_from_slice(b",\"alpn\":");
        json::write_opt_str_bytes(out, self.otext()?);
        out.extend_from_slice(b",\"versions_offered\":");
        self.json_strs(out)?;
        out.extend_from_slice(b",\"version\":");
        json::write_opt_str_bytes(out, self.otext()?);
        out.extend_from_slice(b",\"cipher\":");
        json::write_opt_str_bytes(out, self.otext()?);
        out.extend_from_slice(b",\"resumed\":");
        json::write_bool(out, self.b()?);
        out.extend_from_slice(b",\"hello_retry\":");
        json::write_bool(out, self.b()?);
        out.extend_from_slice(b",\"cert_requested\":");
        json::write_opt_bool(out, self.ob()?);
        out.extend_from_slice(b",\"client_cert_sent\":");
        json::write_opt_bool(out, self.ob()?);
        out.extend_from_slice(b",\"server_chain\":");
        chains.write(out, frame.server_chain.as_ref());
        out.extend_from_slice(b",\"client_chain\":");
        chains.write(out, frame.client_chain.as_ref());
        out.extend_from_slice(b",\"ocsp_stapled\":");
        json::write_bool(out, self.b()?);
        out.extend_from_slice(b",\"alerts\":[");
        for i in 0..self.count()? {
            if i > 0 {
                out.push(b',');
            }
            let from = self.side()?.unwrap_or(Side::Client);
            let (level, description) = (self.otext()?, self.otext()?);
            let encrypted = self.b()?;
            json::write_alert_parts(out, from, level, description, encrypted, self.u()?);
        }
        out.extend_from_slice(b"],\"tcp\":");
        json::write_tcp(out, &self.tcp()?);
        out.extend_from_slice(b",\"ja3\":");
        json::write_opt_str_bytes(out, self.otext()?);
        out.extend_from_slice(b",\"ja4\":");
        json::write_opt_str_bytes(out, self.otext()?);
        out.extend_from_slice(b",\"chain_status\":");
        json::write_opt_str_bytes(out, self.otext()?);
        out.extend_from_slice(b",\"status\":");
        json::write_str_bytes(out, self.text()?);
        let n = self.count()?;
        let mut findings: Vec<FindingText<'_>> = Vec::with_capacity(n + 1);
        for _ in 0..n {
            let id = self.text()?;
            let severity = self.severity()?;
            let (message, evidence) = (self.text()?, self.text()?);
            let remediation = match self.fix()? {
                Fix::Fixed(text) => json::Remedy::Escaped(text.json),
                Fix::Text(text) => json::Remedy::Raw(text),
            };
            findings.push((severity, id, message, evidence, remediation));
        }
        let mut extra = Vec::new();
        let of = Observed {
            file,
            index,
            server,
            sni,
        };
        cross
            .servers
            .cross_findings(&of, &facts, cross.cfg, &mut extra);
        findings.extend(extra.iter().map(|f| {
            (
                f.severity,
                f.id.as_bytes(),
                f.message.as_bytes(),
                f.evidence.as_bytes(),
                json::Remedy::Raw(f.remediation.as_bytes()),
            )
        }));
        // Worst first, stable: as `Batch::complete` orders a decoded record's findings.
        findings.sort_by_key(|f| std::cmp::Reverse(f.0));
        out.extend_from_slice(b",\"findings\":[");
        for (i, (severity, id, message, evidence, remediation)) in findings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::write_finding_parts(out, id, *severity, message, evidence, *remediation);
        }
        out.push(b']');
        // `skip_serializing_if` on these two: the key is left out, not written as null / [].
        if let Some(d) = self.decryption()? {
            out.extend_from_slice(b",\"decryption\":");
            json::write_decryption(out, &d);
        }
        let http = self.http()?;
        if !http.is_empty() {
            out.extend_from_slice(b",\"http\":");
            json::write_list(out, &http, json::write_http);
        }
        out.extend_from_slice(b"}\n");
        self.end()?;
        Ok((findings.len() as u64, findings.first().map(|f| f.0)))
    }
}

/// A finding as a frame holds it: severity, then the id, message, evidence and remediation
/// text (see [`Dec::text`]).
type FindingText<'a> = (Severity, &'a [u8], &'a [u8], &'a [u8], json::Remedy<'a>);

/// What the cross-connection rules need to complete a record read back from a spill.
pub struct CrossRules<'a> {
    /// The batch's servers that asked for client certificates.
    pub servers: &'a ClientAuthServers,
    /// The rules' settings.
    pub cfg: &'a FindingsConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value on either side of each 7-bit boundary (and all values below 2^16).
    #[test]
    fn put_u_is_varint_at_every_boundary() {
        let edges = (1..64).flat_map(|bits| {
            let b = 1u64 << bits;
            [b - 1, b, b + 1]
        });
        for v in (0..=u64::from(u16::MAX)).chain(edges).chain([u64::MAX]) {
            let mut pushed = Vec::new();
            put_u(&mut pushed, v);
            let mut buf = [0u8; 10];
            assert_eq!(&pushed[..], varint(&mut buf, v), "{v}");
        }
    }

    proptest::proptest! {
        /// `put_u` writes what `varint` does, and `Dec::u` reads it back.
        #[test]
        fn put_u_is_varint(v in proptest::prelude::any::<u64>(), small in 0u64..300) {
            for v in [v, small] {
                let mut pushed = Vec::new();
                put_u(&mut pushed, v);
                let mut buf = [0u8; 10];
                proptest::prop_assert_eq!(&pushed[..], varint(&mut buf, v));
                let mut chains = Vec::new();
                let mut dec = Dec { buf: &pushed, chains: &mut chains };
                proptest::prop_assert_eq!(dec.u().ok(), Some(v));
                proptest::prop_assert!(dec.buf.is_empty());
            }
        }
    }

    /// A hand-built record (these tests are about the spill format, not real data).
    fn record(
        index: u64,
        server_chain: Option<Arc<[CertInfo]>>,
        client_chain: Option<Arc<[CertInfo]>>,
    ) -> ConnectionRecord {
        ConnectionRecord {
            record_type: "connection",
            file: "x.pcap".into(),
            index,
            first_packet: 1,
            start: "2024-01-01T00:00:00Z".into(),
            duration_s: 0.25,
            client: "10.0.0.1:5000".into(),
            server: "10.0.0.2:443".into(),
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
            },
            ja3: None,
            ja4: None,
            chain_status: None,
            status: "ok".into(),
            findings: vec![],
            decryption: None,
            http: vec![],
        }
    }

    /// Hand-built records (this tests the chain table, not real data): more distinct chains
    /// than the table holds, each sent twice, must read back unchanged after the table resets.
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
            let r = ConnectionRecord {
                sni: (i % 2 == 0).then(|| "a.example".into()),
                alpn_offered: vec!["h2".into()],
                version: Some("TLS 1.2".into()),
                cert_requested: Some(i % 3 == 0),
                chain_status: Some("trusted".into()),
                findings: vec![Finding {
                    id: "tls-alert",
                    severity: Severity::Warning,
                    message: "m".into(),
                    evidence: "e".into(),
                    // Both forms a frame holds: a rule's fixed text, by number, and any
                    // other text inline (with a byte JSON must escape).
                    remediation: if i % 2 == 0 {
                        "r".into()
                    } else {
                        Cow::Owned(format!("r\"{i}"))
                    },
                }],
                ..record(i as u64, Some(c.clone()), None)
            };
            let facts = CrossFacts {
                cert_request_packet: (i % 3 == 0).then_some(5),
                candidate: None,
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
        // The JSON written straight from the frames is what the decoded records give.
        let servers = ClientAuthServers::default();
        let cfg = FindingsConfig::default();
        let cross = CrossRules {
            servers: &servers,
            cfg: &cfg,
        };
        let (mut direct, mut decoded) = (Vec::new(), Vec::new());
        spill
            .read_runs(7, &mut |run| {
                run.write_json("x.pcap", &cross, &mut direct)?;
                run.decode("x.pcap", &mut |r, _| {
                    json::write_connection(&mut decoded, &r);
                    decoded.push(b'\n');
                    Ok(())
                })
            })
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&direct),
            String::from_utf8_lossy(&decoded)
        );
        let escaped = br#""remediation":"r\"1"}"#;
        assert!(direct.windows(escaped.len()).any(|w| w == escaped));
    }

    /// Hand-built records: bodies are encoded in one order (as workers finish connections)
    /// and written in another (index order, after the merger): the chains, numbered when
    /// written, must still resolve. A chain table kept by the encoder would number a chain at
    /// its first *encoded* use and write a reference before the definition.
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
        let bodies: Vec<Vec<u8>> = records
            .iter()
            .rev()
            .map(|r| encode_body(r, &facts))
            .collect();
        let mut w = SpillWriter::default();
        for (r, body) in records.iter().zip(bodies.iter().rev()) {
            w.push_frame(
                r.index,
                r.server_chain.as_ref(),
                r.client_chain.as_ref(),
                body,
            )
            .unwrap();
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
        let spill = Spill {
            store: SpillStore::Memory(Chunks(vec![vec![5, 1, 2, 0xff]])),
            records: 1,
        };
        assert!(spill.read("x", &mut |_, _| Ok(())).is_err());
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
