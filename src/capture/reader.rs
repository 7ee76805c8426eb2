//! Streaming reader over pcap / pcapng / gzip.
//!
//! Block parsing is pcap-parser's streaming readers; this module adds format sniffing, gzip,
//! buffer growth with a cap, sanity checks on record lengths before the parser sees them (so a
//! hostile length cannot make it wait for megabytes that never come), interface bookkeeping for
//! pcapng timestamps and link types, and error mapping with byte offsets.

use super::shared::{MappedFile, SharedBlock, SharedReader};
use super::*;
use pcap_parser::pcap::LegacyPcapBlock;
use pcap_parser::pcapng::{Block, EnhancedPacketBlock, SecretsType};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};
use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// Initial size of the parser's buffer.
const INITIAL_BUFFER: usize = 64 * 1024;
/// The buffer never grows beyond this; a block that needs more is corrupt.
const MAX_BUFFER: usize = 16 * 1024 * 1024;
/// A packet whose time lies more than this many seconds from both its neighbours', which lie
/// within it of each other, has a corrupt timestamp. In a capture time only moves forward
/// (give or take interfaces merged slightly out of order), so such a packet cannot be right;
/// a minute is far beyond any merge jitter and below the flow table's idle timeout.
const CORRUPT_TS_SECS: u64 = 60;
/// Corrupt timestamps warned about one by one; the rest share one warning.
const MAX_TS_WARNINGS: u64 = 3;
/// Largest captured length we accept for one packet (no link layer has larger frames).
const MAX_CAPLEN: u32 = 256 * 1024;

/// pcapng block types (as read in the section's byte order).
const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 0x0000_0001;
const OBSOLETE_PB_TYPE: u32 = 0x0000_0002;
const SPB_TYPE: u32 = 0x0000_0003;
const EPB_TYPE: u32 = 0x0000_0006;

/// Where the packet bytes start inside each kind of record / block.
const PCAP_RECORD_HEADER: usize = 16;
const PCAP_MODIFIED_RECORD_HEADER: usize = 24;
const EPB_DATA_OFFSET: usize = 28;
const OBSOLETE_PB_DATA_OFFSET: usize = 28;
const SPB_DATA_OFFSET: usize = 12;

/// Detects the format from the first bytes: `Some((format_or_none_if_gzip, is_gzip))`.
pub(crate) fn sniff(first: &[u8]) -> Option<(Option<Format>, bool)> {
    match first {
        [0x1f, 0x8b, ..] => Some((None, true)),
        [0x0a, 0x0d, 0x0d, 0x0a, ..] => Some((Some(Format::PcapNg), false)),
        // LE usec, BE usec, LE nsec, BE nsec, LE "modified" (Kuznetzov) pcap.
        [0xd4, 0xc3, 0xb2, 0xa1, ..]
        | [0xa1, 0xb2, 0xc3, 0xd4, ..]
        | [0x4d, 0x3c, 0xb2, 0xa1, ..]
        | [0xa1, 0xb2, 0x3c, 0x4d, ..]
        | [0x34, 0xcd, 0xb2, 0xa1, ..] => Some((Some(Format::Pcap), false)),
        _ => None,
    }
}

/// What went wrong in the byte source, kept aside because pcap-parser flattens read errors.
#[derive(Debug, Default)]
struct SourceStatus {
    /// A read error other than an early end of stream.
    error: Option<io::Error>,
    /// The (gzip) stream ended before its trailer.
    ended_early: bool,
}

/// Fills each read request completely (or up to end of stream), so pcap-parser's single initial
/// read sees the whole file header even from a pipe or a decompressor, and records errors.
struct FillingReader {
    inner: Box<dyn Read + Send>,
    status: Arc<Mutex<SourceStatus>>,
    done: bool,
}

impl FillingReader {
    fn record(&self, f: impl FnOnce(&mut SourceStatus)) {
        if let Ok(mut status) = self.status.lock() {
            f(&mut status);
        }
    }
}

impl Read for FillingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() && !self.done {
            let Some(space) = buf.get_mut(filled..) else {
                break;
            };
            match self.inner.read(space) {
                Ok(0) => self.done = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    // A cut gzip stream: hand out what was decompressed, then end.
                    self.done = true;
                    self.record(|s| s.ended_early = true);
                }
                Err(e) => {
                    self.done = true;
                    let kind = e.kind();
                    let text = e.to_string();
                    self.record(|s| s.error = Some(e));
                    if filled == 0 {
                        return Err(io::Error::new(kind, text));
                    }
                }
            }
        }
        Ok(filled)
    }
}

/// Per-interface facts needed to decode pcapng packet blocks.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp.
    offset_secs: i64,
    /// Interface snaplen (0 = unlimited); bounds Simple Packet Block data.
    snaplen: u32,
}

/// Container-specific reading state.
#[derive(Debug)]
enum Container {
    Pcap {
        link: LinkType,
        nanos: bool,
        big_endian: bool,
        modified: bool,
    },
    PcapNg {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

/// Result of looking at a record header before handing it to the parser.
enum Precheck {
    /// Not enough bytes buffered to judge; let the parser ask for more.
    Unknown,
    /// The whole record is this many bytes.
    Len(usize),
    /// The header is impossible.
    Bad(String),
}

/// A packet located in the buffer, described without borrowing it.
struct Located {
    ts: Timestamp,
    link: LinkType,
    start: usize,
    len: usize,
    orig_len: u32,
}

/// Streams packets out of one capture.
///
/// Usage: `while let Some(pkt) = reader.next_packet()? { ... }`. The packet borrows the reader's
/// buffer until the next call. After an error, `next_packet` returns `Ok(None)`.
pub struct CaptureReader {
    path: PathBuf,
    format: Format,
    compressed: bool,
    parser: SharedReader<FillingReader>,
    status: Arc<Mutex<SourceStatus>>,
    container: Container,
    /// Size of the parser's buffer now.
    capacity: usize,
    /// Length of the block returned last; consumed at the start of the next call.
    pending_consume: usize,
    packets: u64,
    last_ts: Timestamp,
    finished: bool,
    warnings: Vec<CaptureWarning>,
    warned: HashSet<String>,
    secrets: Vec<Vec<u8>>,
    /// The time of the packet handed out last (as handed out).
    prev_ts: Option<Timestamp>,
    /// What reading the packet after a far-off timestamp found, handed out next.
    queued: Option<Result<Option<Located>, CaptureError>>,
    /// The block of a packet handed out while the next was read (see `looking_ahead`).
    held: Option<SharedBlock>,
    /// Packets whose timestamps were found corrupt.
    corrupt_timestamps: u64,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("compressed", &self.compressed)
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}

/// Reads up to `want` bytes (fewer only at end of stream).
fn read_prefix(source: &mut dyn Read, want: usize) -> io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(want);
    source.take(want as u64).read_to_end(&mut prefix)?;
    Ok(prefix)
}

/// The first bytes as spaced hex, for "not a capture" messages.
fn hex_bytes(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    if shown.is_empty() {
        "nothing".into()
    } else {
        shown.join(" ")
    }
}

/// Reads a u32 at `at` in the given byte order.
fn read_u32(data: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

/// Units per second for a pcapng `if_tsresol` byte (10^n, or 2^n with the top bit set).
fn ts_units_per_sec(tsresol: u8) -> Option<u64> {
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(u32::from(tsresol))
    } else {
        1u64.checked_shl(u32::from(tsresol & 0x7f))
    }
}

/// Converts a pcapng timestamp in `units_per_sec` units to a [`Timestamp`].
fn ng_timestamp(raw: u64, units_per_sec: u64, offset_secs: i64) -> Timestamp {
    let units = units_per_sec.max(1);
    let secs = i64::try_from(raw / units).unwrap_or(i64::MAX);
    let frac = u128::from(raw % units);
    let nanos = (frac * 1_000_000_000 / u128::from(units)) as u64;
    Timestamp::new(secs.saturating_add(offset_secs), nanos)
}

/// A legacy pcap record's packet, and whether its timestamp fraction is in range (the
/// general path warns when it is not; the timestamp is kept as the record gives it).
fn legacy_packet(
    record: &LegacyPcapBlock<'_>,
    link: LinkType,
    nanos: bool,
    modified: bool,
) -> (Located, bool) {
    let frac = u64::from(record.ts_usec);
    let (limit, scale) = if nanos {
        (1_000_000_000, 1)
    } else {
        (1_000_000, 1000)
    };
    let located = Located {
        ts: Timestamp::new(i64::from(record.ts_sec), frac * scale),
        link,
        start: if modified {
            PCAP_MODIFIED_RECORD_HEADER
        } else {
            PCAP_RECORD_HEADER
        },
        len: record.data.len(),
        orig_len: record.origlen,
    };
    (located, frac < limit)
}

/// An Enhanced Packet Block's packet, on the interface it names.
fn epb_packet(epb: &EnhancedPacketBlock<'_>, iface: &Interface) -> Located {
    let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
    Located {
        ts: ng_timestamp(raw, iface.units_per_sec, iface.offset_secs),
        link: iface.link,
        start: EPB_DATA_OFFSET,
        len: (epb.caplen as usize).min(epb.data.len()),
        orig_len: epb.origlen,
    }
}

/// Why a pcapng block of this type and length cannot be right, if it cannot.
fn block_length_problem(block_type: u32, block_len: u32) -> Option<String> {
    let min_len = match block_type {
        SHB_TYPE => 28,
        IDB_TYPE => 20,
        SPB_TYPE => 16,
        EPB_TYPE | OBSOLETE_PB_TYPE => 32,
        _ => 12,
    };
    if block_len < min_len || block_len % 4 != 0 {
        return Some(format!(
            "block type 0x{block_type:08x} has impossible length {block_len}"
        ));
    }
    if block_len as usize > MAX_BUFFER {
        return Some(format!(
            "block type 0x{block_type:08x} claims {block_len} bytes (more than {MAX_BUFFER})"
        ));
    }
    None
}

/// Why a packet block claiming `caplen` captured bytes in `block_len` bytes cannot be right.
fn packet_block_problem(caplen: u32, block_len: u32) -> Option<String> {
    if caplen > MAX_CAPLEN {
        return Some(format!(
            "packet block claims {caplen} captured bytes (more than {MAX_CAPLEN})"
        ));
    }
    if u64::from(caplen) + 32 > u64::from(block_len) {
        return Some(format!(
            "packet block claims {caplen} captured bytes in a {block_len}-byte block"
        ));
    }
    None
}

impl CaptureReader {
    /// Opens a file (or stdin for `-`), sniffing gzip / pcap / pcapng from the magic bytes.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Self::open_with(path, false)
    }

    /// Like [`CaptureReader::open`], but an uncompressed regular file is read through
    /// windows mapped into memory (`MappedFile`, in the `shared` module) instead of `read`
    /// calls: no copy out of the page cache, which pays when the packets go to other threads
    /// anyway (a copy then lands in cold memory). Read by one thread, the copy into one hot
    /// buffer is cheaper.
    pub fn open_mapped(path: &Path) -> Result<Self, CaptureError> {
        Self::open_with(path, true)
    }

    fn open_with(path: &Path, map: bool) -> Result<Self, CaptureError> {
        if path == Path::new("-") {
            return Self::from_reader(path, Box::new(io::stdin()));
        }
        let file = std::fs::File::open(path).map_err(|source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mapped = if map && file.metadata().is_ok_and(|m| m.is_file()) {
            // Any trouble mapping: read it the ordinary way.
            file.try_clone().ok().and_then(|f| MappedFile::new(f).ok())
        } else {
            None
        };
        Self::from_source(path, Box::new(file), mapped)
    }

    /// Reads from any byte source; `path` is only used in messages.
    pub fn from_reader(
        path: &Path,
        source: Box<dyn std::io::Read + Send>,
    ) -> Result<Self, CaptureError> {
        Self::from_source(path, source, None)
    }

    /// Reads from `source`, or from `mapped` (the same file) once the format is known to be
    /// an uncompressed capture.
    fn from_source(
        path: &Path,
        mut source: Box<dyn std::io::Read + Send>,
        mut mapped: Option<MappedFile>,
    ) -> Result<Self, CaptureError> {
        let io_err = |source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        };
        let prefix = read_prefix(&mut source, 4).map_err(io_err)?;
        if prefix.is_empty() {
            return Err(CaptureError::Empty {
                path: path.to_path_buf(),
            });
        }
        let not_a_capture = |shown: String| CaptureError::NotACapture {
            path: path.to_path_buf(),
            magic: shown,
        };
        let (mut format, compressed) = match sniff(&prefix) {
            Some(found) => found,
            None => {
                let mut more = prefix.clone();
                let _ = read_prefix(&mut source, 4).map(|rest| more.extend(rest));
                return Err(not_a_capture(hex_bytes(&more)));
            }
        };
        let mut stream: Box<dyn Read + Send> = Box::new(io::Cursor::new(prefix).chain(source));
        if compressed {
            mapped = None;
            let mut decoder: Box<dyn Read + Send> =
                Box::new(flate2::read::MultiGzDecoder::new(stream));
            let inner = read_prefix(&mut decoder, 4).map_err(|e| CaptureError::Corrupt {
                path: path.to_path_buf(),
                offset: 0,
                packets_read: 0,
                decompressed: compressed,
                reason: format!("gzip stream: {e}"),
            })?;
            if inner.is_empty() {
                return Err(CaptureError::Empty {
                    path: path.to_path_buf(),
                });
            }
            format = match sniff(&inner) {
                Some((Some(inner_format), false)) => Some(inner_format),
                _ => {
                    return Err(not_a_capture(format!(
                        "1f 8b (gzip) containing {}",
                        hex_bytes(&inner)
                    )))
                }
            };
            stream = Box::new(io::Cursor::new(inner).chain(decoder));
        }
        let format = format.unwrap_or(Format::Pcap);
        let status = Arc::new(Mutex::new(SourceStatus::default()));
        let filling = FillingReader {
            inner: stream,
            status: Arc::clone(&status),
            done: false,
        };
        let header_error = |e: PcapError<&'static [u8]>| match e {
            PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
                CaptureError::Truncated {
                    path: path.to_path_buf(),
                    offset: 0,
                    packets_read: 0,
                    decompressed: compressed,
                }
            }
            PcapError::ReadError => {
                let taken = status.lock().ok().and_then(|mut s| s.error.take());
                io_err(taken.unwrap_or_else(|| io::Error::other("read error")))
            }
            other => CaptureError::Corrupt {
                path: path.to_path_buf(),
                offset: 0,
                packets_read: 0,
                decompressed: compressed,
                reason: format!("invalid file header ({other:?})"),
            },
        };
        let (parser, container) = match format {
            Format::Pcap => {
                let mut reader =
                    SharedReader::pcap(INITIAL_BUFFER, filling, mapped).map_err(header_error)?;
                // The first `next` hands out the file header without reading anything.
                let container = match reader.next() {
                    Ok((_, PcapBlockOwned::LegacyHeader(header))) => Container::Pcap {
                        // The upper bits carry FCS length flags, not the link type.
                        link: LinkType((header.network.0 as u32) & 0x0000_FFFF),
                        nanos: header.is_nanosecond_precision(),
                        big_endian: header.is_bigendian(),
                        modified: header.is_modified_format(),
                    },
                    _ => {
                        return Err(CaptureError::Corrupt {
                            path: path.to_path_buf(),
                            offset: 0,
                            packets_read: 0,
                            decompressed: compressed,
                            reason: "invalid pcap file header".into(),
                        })
                    }
                };
                (reader, container)
            }
            Format::PcapNg => {
                let reader =
                    SharedReader::pcapng(INITIAL_BUFFER, filling, mapped).map_err(header_error)?;
                (
                    reader,
                    Container::PcapNg {
                        big_endian: false,
                        interfaces: Vec::new(),
                    },
                )
            }
        };
        let pending_consume = match container {
            Container::Pcap { .. } => 24,
            Container::PcapNg { .. } => 0,
        };
        Ok(CaptureReader {
            path: path.to_path_buf(),
            format,
            compressed,
            parser,
            status,
            container,
            capacity: INITIAL_BUFFER,
            pending_consume,
            packets: 0,
            last_ts: Timestamp::default(),
            finished: false,
            warnings: Vec::new(),
            warned: HashSet::new(),
            secrets: Vec::new(),
            prev_ts: None,
            queued: None,
            held: None,
            corrupt_timestamps: 0,
        })
    }

    /// The next packet, `Ok(None)` at a clean end of file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        Ok(self.next_shared()?.map(|(packet, _)| packet))
    }

    /// The next packet and the shared block its bytes live in: holding the block keeps the
    /// bytes valid after the next call (see [`SharedBlock`]).
    pub fn next_shared(&mut self) -> Result<Option<(Packet<'_>, &SharedBlock)>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        self.held = None;
        let located = match self.queued.take() {
            // Located while looking ahead; its block is still unconsumed.
            Some(queued) => queued,
            None => self.advance(),
        };
        if let Ok(Some(p)) = &located {
            if self.far_from_previous(p.ts) {
                return self.looking_ahead(located);
            }
            self.prev_ts = Some(p.ts);
        }
        match located {
            Ok(Some(located)) => {
                let end = located.start.saturating_add(located.len);
                match self.parser.data().get(located.start..end) {
                    Some(data) => Ok(Some((
                        Packet {
                            number: self.packets,
                            ts: located.ts,
                            link: located.link,
                            data,
                            orig_len: located.orig_len,
                        },
                        self.parser.block(),
                    ))),
                    None => {
                        // Unreachable with pcap-parser's block layouts; refuse rather than panic.
                        self.finished = true;
                        Err(self.corrupt("packet data outside its block".into()))
                    }
                }
            }
            Ok(None) => {
                self.finished = true;
                // Every packet came out whole but the gzip stream stops short (cut inside
                // its last block or trailer): the file is truncated all the same.
                if self.stream_ended_early() {
                    return Err(self.truncated());
                }
                Ok(None)
            }
            Err(e) => {
                self.finished = true;
                Err(e)
            }
        }
    }

    /// Consumes the packet handed out last and locates the next one.
    fn advance(&mut self) -> Result<Option<Located>, CaptureError> {
        let pending = std::mem::take(&mut self.pending_consume);
        if pending > 0 {
            self.parser.consume(pending);
        }
        let mut located = match self.whole_packet() {
            Some(located) => Ok(Some(located)),
            None => self.locate_next(),
        };
        let ahead = match located {
            Ok(Some(_)) => self.pending_consume,
            _ => 0,
        };
        if let Some(len) = self.parser.shrunk(ahead) {
            located = self.cut_short(located, len);
        }
        located
    }

    /// Whether `ts` lies more than [`CORRUPT_TS_SECS`] from the previous packet's time.
    fn far_from_previous(&self, ts: Timestamp) -> bool {
        self.prev_ts
            .is_some_and(|prev| ts.secs.abs_diff(prev.secs) > CORRUPT_TS_SECS)
    }

    /// Hands out `located` (a packet whose time jumps far from the previous one's) after
    /// locating the packet that follows it: when that one is back near the previous time,
    /// the jump was a corrupt timestamp (a real jump, a pause in the capture, is followed by
    /// packets near the new time). The corrupt time is replaced by the previous packet's, so
    /// that it neither idles out nor splits the connections around it; the packet keeps its
    /// place. The packet's block is held while the next one is read, so its bytes stay put.
    fn looking_ahead(
        &mut self,
        located: Result<Option<Located>, CaptureError>,
    ) -> Result<Option<(Packet<'_>, &SharedBlock)>, CaptureError> {
        let Ok(Some(mut p)) = located else {
            return Err(self.corrupt("lookahead without a packet".into()));
        };
        let number = self.packets;
        let held = Arc::clone(self.parser.block());
        let base = (self.parser.data().as_ptr() as usize).saturating_sub(held.as_ptr() as usize);
        let next = self.advance();
        if let (Some(prev), Ok(Some(q))) = (self.prev_ts, &next) {
            let neighbours_agree = q.ts.secs.abs_diff(prev.secs) <= CORRUPT_TS_SECS;
            if neighbours_agree && p.ts.secs.abs_diff(q.ts.secs) > CORRUPT_TS_SECS {
                self.corrupt_timestamps += 1;
                let message = if self.corrupt_timestamps <= MAX_TS_WARNINGS {
                    format!(
                        "packet {number}: timestamp {}.{:09} is far from both neighbours' ({}.{:09}, {}.{:09}): treated as corrupt, given the previous packet's time",
                        p.ts.secs, p.ts.nanos, prev.secs, prev.nanos, q.ts.secs, q.ts.nanos
                    )
                } else {
                    "more packets have corrupt timestamps (treated the same way)".into()
                };
                self.warn(message);
                p.ts = prev;
            }
        }
        self.queued = Some(next);
        self.prev_ts = Some(p.ts);
        let start = base.saturating_add(p.start);
        let range = start..start.saturating_add(p.len);
        if held.get(range.clone()).is_none() {
            // Unreachable with pcap-parser's block layouts; refuse rather than panic.
            self.finished = true;
            return Err(self.corrupt("packet data outside its block".into()));
        }
        let held: &SharedBlock = self.held.insert(held);
        Ok(Some((
            Packet {
                number,
                ts: p.ts,
                link: p.link,
                data: &held[range],
                orig_len: p.orig_len,
            },
            held,
        )))
    }

    /// What reading found, for a mapped file truncated to `len` bytes while it was read: a
    /// packet that lies whole before the new end stands; anything else (a packet reaching past
    /// it, read as zeros, an error or end met there) is the truncation.
    fn cut_short(
        &mut self,
        located: Result<Option<Located>, CaptureError>,
        len: u64,
    ) -> Result<Option<Located>, CaptureError> {
        if matches!(located, Ok(Some(_))) && self.offset() <= len {
            return located;
        }
        if matches!(located, Ok(Some(_))) {
            self.packets -= 1;
            self.pending_consume = 0;
        }
        Err(CaptureError::Truncated {
            path: self.path.clone(),
            offset: (self.parser.consumed() as u64).min(len),
            packets_read: self.packets,
            decompressed: self.compressed,
        })
    }

    /// Warnings gathered so far (each distinct one once), drained.
    pub fn take_warnings(&mut self) -> Vec<CaptureWarning> {
        std::mem::take(&mut self.warnings)
    }

    /// TLS key log payloads from pcapng Decryption Secrets Blocks seen so far, drained.
    ///
    /// Each entry is the raw NSS key log text of one block (`CLIENT_RANDOM ...` lines).
    pub fn take_decryption_secrets(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.secrets)
    }

    /// The detected container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the file was gzip-compressed.
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    /// Bytes consumed so far from the (uncompressed) stream, up to the end of the last block
    /// handed out.
    pub fn offset(&self) -> u64 {
        (self.parser.consumed() as u64).saturating_add(self.pending_consume as u64)
    }

    /// Packets returned so far.
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// The path given at open (`-` for stdin).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn warn(&mut self, message: String) {
        if self.warned.insert(message.clone()) {
            self.warnings.push(CaptureWarning {
                path: self.path.clone(),
                message,
            });
        }
    }

    fn stream_ended_early(&self) -> bool {
        self.status.lock().map(|s| s.ended_early).unwrap_or(false)
    }

    fn corrupt(&self, reason: String) -> CaptureError {
        CaptureError::Corrupt {
            path: self.path.clone(),
            offset: self.parser.consumed() as u64,
            packets_read: self.packets,
            decompressed: self.compressed,
            reason,
        }
    }

    fn truncated(&self) -> CaptureError {
        CaptureError::Truncated {
            path: self.path.clone(),
            offset: self.parser.consumed() as u64,
            packets_read: self.packets,
            decompressed: self.compressed,
        }
    }

    /// A read error from the source (or a damaged gzip stream), if one happened.
    fn source_error(&self) -> Option<CaptureError> {
        let error = self.status.lock().ok().and_then(|mut s| s.error.take())?;
        Some(match error.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput if self.compressed => {
                self.corrupt(format!("gzip stream: {error}"))
            }
            _ => CaptureError::Io {
                path: self.path.clone(),
                source: error,
            },
        })
    }

    /// Looks at the next record's header in the buffer: its total length, or why it is bad.
    fn precheck(&self, data: &[u8]) -> Precheck {
        match &self.container {
            Container::Pcap {
                big_endian,
                modified,
                ..
            } => {
                let Some(caplen) = read_u32(data, 8, *big_endian) else {
                    return Precheck::Unknown;
                };
                if caplen > MAX_CAPLEN {
                    return Precheck::Bad(format!(
                        "record claims {caplen} captured bytes (more than {MAX_CAPLEN})"
                    ));
                }
                let header = if *modified {
                    PCAP_MODIFIED_RECORD_HEADER
                } else {
                    PCAP_RECORD_HEADER
                };
                Precheck::Len(header + caplen as usize)
            }
            Container::PcapNg { big_endian, .. } => {
                let Some(block_type) = read_u32(data, 0, false) else {
                    return Precheck::Unknown;
                };
                // A section header carries its own byte order (byte-order magic at offset 8).
                let big_endian = if block_type == SHB_TYPE {
                    match data.get(8..12) {
                        Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                        Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                        Some(_) => {
                            return Precheck::Bad("section header with bad byte-order magic".into())
                        }
                        None => return Precheck::Unknown,
                    }
                } else {
                    *big_endian
                };
                let block_type = read_u32(data, 0, big_endian).unwrap_or(block_type);
                let Some(block_len) = read_u32(data, 4, big_endian) else {
                    return Precheck::Unknown;
                };
                if let Some(problem) = block_length_problem(block_type, block_len) {
                    return Precheck::Bad(problem);
                }
                if block_type == EPB_TYPE || block_type == OBSOLETE_PB_TYPE {
                    let Some(caplen) = read_u32(data, 20, big_endian) else {
                        return Precheck::Unknown;
                    };
                    if let Some(problem) = packet_block_problem(caplen, block_len) {
                        return Precheck::Bad(problem);
                    }
                }
                Precheck::Len(block_len as usize)
            }
        }
    }

    /// Makes room for a record of `len` bytes, or says it cannot.
    fn ensure_capacity(&mut self, len: usize) -> Result<(), CaptureError> {
        if len < self.capacity {
            return Ok(());
        }
        let wanted = len.saturating_add(1).next_power_of_two();
        if wanted > MAX_BUFFER {
            return Err(self.corrupt(format!(
                "a {len}-byte block does not fit the {MAX_BUFFER}-byte limit"
            )));
        }
        self.parser.grow(wanted);
        self.capacity = wanted;
        Ok(())
    }

    /// Refills the parser's buffer from the source.
    fn refill(&mut self) -> Result<(), CaptureError> {
        let failed = self.parser.refill().is_err();
        if let Some(e) = self.source_error() {
            return Err(e);
        }
        if failed {
            return Err(CaptureError::Io {
                path: self.path.clone(),
                source: io::Error::other("read error"),
            });
        }
        Ok(())
    }

    /// [`CaptureReader::locate_next`] for the common case: a packet record (legacy pcap) or an
    /// Enhanced Packet Block (pcapng) that lies whole in the buffer and needs no warning. None
    /// sends the caller down the general path, which parses the block again and deals with
    /// whatever is unusual about it.
    fn whole_packet(&mut self) -> Option<Located> {
        let capacity = self.capacity;
        let (located, consume) = match &self.container {
            &Container::Pcap {
                link,
                nanos,
                modified,
                ..
            } => {
                let (consume, record) = self.parser.next_whole_legacy()?;
                let (located, frac_in_range) = legacy_packet(&record, link, nanos, modified);
                // What the general path would warn about or refuse.
                if !frac_in_range || record.caplen > record.origlen || record.caplen > MAX_CAPLEN {
                    return None;
                }
                (located, consume)
            }
            Container::PcapNg { interfaces, .. } => {
                let (consume, epb) = self.parser.next_whole_epb()?;
                let iface = interfaces.get(epb.if_id as usize)?;
                // What the general path (its precheck, then the block's own checks) would
                // warn about or refuse.
                if epb.caplen > epb.origlen
                    || block_length_problem(EPB_TYPE, epb.block_len1).is_some()
                    || packet_block_problem(epb.caplen, epb.block_len1).is_some()
                {
                    return None;
                }
                (epb_packet(&epb, iface), consume)
            }
        };
        // A block as large as the buffer makes the general path grow it first.
        if consume >= capacity {
            return None;
        }
        self.packets += 1;
        self.last_ts = located.ts;
        self.pending_consume = consume;
        Some(located)
    }

    /// Advances to the next packet block, handling the others on the way; leaves the packet's
    /// block unconsumed (length in `pending_consume`).
    fn locate_next(&mut self) -> Result<Option<Located>, CaptureError> {
        // Consecutive refills that did not change the buffered byte count.
        let mut stalls = 0u32;
        loop {
            let buffered = self.parser.data().len();
            if buffered == 0 {
                if self.parser.reader_exhausted() {
                    if let Some(e) = self.source_error() {
                        return Err(e);
                    }
                    return Ok(None);
                }
                self.refill()?;
                if self.parser.data().is_empty() && !self.parser.reader_exhausted() {
                    stalls += 1;
                    if stalls > 3 {
                        return Err(self.corrupt("input stalled".into()));
                    }
                }
                continue;
            }
            let expected_len = match self.precheck(self.parser.data()) {
                Precheck::Bad(reason) => return Err(self.corrupt(reason)),
                Precheck::Len(len) => {
                    self.ensure_capacity(len)?;
                    Some(len)
                }
                Precheck::Unknown => None,
            };
            let step = self.parse_one();
            match step {
                Step::Packet(located, consume) => {
                    self.packets += 1;
                    self.last_ts = located.ts;
                    self.pending_consume = consume;
                    return Ok(Some(located));
                }
                Step::Skip(consume) => {
                    self.parser.consume(consume);
                    stalls = 0;
                }
                Step::Eof => return Ok(None),
                Step::NeedMore => {
                    if self.parser.reader_exhausted() {
                        if let Some(e) = self.source_error() {
                            return Err(e);
                        }
                        return Err(self.truncated());
                    }
                    if expected_len.is_some_and(|len| buffered >= len) {
                        // The whole block is here and the parser still wants more: its
                        // contents contradict its length.
                        return Err(self.corrupt("block contents overrun its length".into()));
                    }
                    if buffered >= self.capacity {
                        let doubled = self.capacity.saturating_mul(2);
                        self.ensure_capacity(doubled.saturating_sub(1))?;
                    }
                    self.refill()?;
                    if self.parser.data().len() == buffered && !self.parser.reader_exhausted() {
                        stalls += 1;
                        if stalls > 3 {
                            return Err(self.corrupt("input stalled".into()));
                        }
                    } else {
                        stalls = 0;
                    }
                }
                Step::TooBig => {
                    let doubled = self.capacity.saturating_mul(2);
                    self.ensure_capacity(doubled.saturating_sub(1))?;
                }
                Step::Truncated => {
                    if let Some(e) = self.source_error() {
                        return Err(e);
                    }
                    return Err(self.truncated());
                }
                Step::Error(reason) => {
                    if let Some(e) = self.source_error() {
                        return Err(e);
                    }
                    return Err(self.corrupt(reason));
                }
            }
        }
    }

    /// Parses one block and applies its side effects (interfaces, secrets, warnings).
    fn parse_one(&mut self) -> Step {
        let mut warnings: Vec<String> = Vec::new();
        let step = match self.parser.next() {
            Ok((consume, block)) => match (block, &mut self.container) {
                (
                    PcapBlockOwned::Legacy(record),
                    Container::Pcap {
                        link,
                        nanos,
                        modified,
                        ..
                    },
                ) => {
                    let (located, frac_in_range) = legacy_packet(&record, *link, *nanos, *modified);
                    if !frac_in_range {
                        warnings.push(format!(
                            "timestamp fraction {} out of range (packet {})",
                            record.ts_usec,
                            self.packets + 1
                        ));
                    }
                    if record.caplen > record.origlen {
                        warnings.push(
                            "captured length larger than original length in some packets".into(),
                        );
                    }
                    Step::Packet(located, consume)
                }
                (PcapBlockOwned::LegacyHeader(_), _) => {
                    Step::Error("second pcap file header inside the file".into())
                }
                (
                    PcapBlockOwned::NG(block),
                    Container::PcapNg {
                        big_endian,
                        interfaces,
                    },
                ) => match block {
                    Block::SectionHeader(shb) => {
                        *big_endian = shb.big_endian();
                        interfaces.clear();
                        Step::Skip(consume)
                    }
                    Block::InterfaceDescription(idb) => {
                        let units_per_sec = match ts_units_per_sec(idb.if_tsresol) {
                            Some(units) => units,
                            None => {
                                warnings.push(format!(
                                    "interface {} has unknown timestamp resolution 0x{:02x}; assuming microseconds",
                                    interfaces.len(),
                                    idb.if_tsresol
                                ));
                                1_000_000
                            }
                        };
                        // pcap-parser reads if_tsoffset as little-endian whatever the section's
                        // byte order; read it here in the right order.
                        let offset_secs = idb
                            .options
                            .iter()
                            .find(|o| o.code == pcap_parser::OptionCode::IfTsoffset)
                            .and_then(|o| o.value().get(..8))
                            .and_then(|v| <[u8; 8]>::try_from(v).ok())
                            .map(|v| {
                                if *big_endian {
                                    i64::from_be_bytes(v)
                                } else {
                                    i64::from_le_bytes(v)
                                }
                            })
                            .unwrap_or(0);
                        interfaces.push(Interface {
                            link: LinkType(u32::from(idb.linktype.0 as u16)),
                            units_per_sec,
                            offset_secs,
                            snaplen: idb.snaplen,
                        });
                        Step::Skip(consume)
                    }
                    Block::EnhancedPacket(epb) => match interfaces.get(epb.if_id as usize) {
                        Some(iface) => {
                            if epb.caplen > epb.origlen {
                                warnings.push(
                                    "captured length larger than original length in some packets"
                                        .into(),
                                );
                            }
                            Step::Packet(epb_packet(&epb, iface), consume)
                        }
                        None => Step::Error(format!(
                            "packet on interface {} but the section describes {} interface(s)",
                            epb.if_id,
                            interfaces.len()
                        )),
                    },
                    Block::SimplePacket(spb) => match interfaces.first() {
                        Some(iface) => {
                            // The block holds min(orig_len, snaplen) bytes plus padding.
                            let mut len = (spb.origlen as usize).min(spb.data.len());
                            if iface.snaplen != 0 {
                                len = len.min(iface.snaplen as usize);
                            }
                            Step::Packet(
                                Located {
                                    ts: self.last_ts,
                                    link: iface.link,
                                    start: SPB_DATA_OFFSET,
                                    len,
                                    orig_len: spb.origlen,
                                },
                                consume,
                            )
                        }
                        None => Step::Error(
                            "simple packet block before any interface description".into(),
                        ),
                    },
                    Block::DecryptionSecrets(dsb) => {
                        if dsb.secrets_type == SecretsType::TlsKeyLog {
                            let len = (dsb.secrets_len as usize).min(dsb.data.len());
                            self.secrets
                                .push(dsb.data.get(..len).unwrap_or_default().to_vec());
                        }
                        Step::Skip(consume)
                    }
                    Block::Unknown(unknown)
                        if unknown.block_type == OBSOLETE_PB_TYPE
                            || unknown.block_type == OBSOLETE_PB_TYPE.swap_bytes() =>
                    {
                        obsolete_packet(unknown.data, *big_endian, interfaces, consume)
                    }
                    _ => Step::Skip(consume),
                },
                _ => Step::Error("block of the wrong container format".into()),
            },
            Err(PcapError::Eof) => Step::Eof,
            Err(PcapError::Incomplete(_)) => Step::NeedMore,
            Err(PcapError::BufferTooSmall) => Step::TooBig,
            Err(PcapError::UnexpectedEof) => Step::Truncated,
            Err(PcapError::ReadError) => Step::Error("read error".into()),
            Err(PcapError::HeaderNotRecognized) => Step::Error("unrecognised block header".into()),
            Err(PcapError::NomError(_, kind)) | Err(PcapError::OwnedNomError(_, kind)) => {
                Step::Error(format!("invalid block ({kind:?})"))
            }
        };
        for message in warnings {
            self.warn(message);
        }
        step
    }
}

/// Decodes the obsolete pcapng Packet Block (type 2), whose body pcap-parser hands over raw.
///
/// `body` is the block between its length fields: interface id (u16), drops (u16), timestamp
/// high/low, captured length, original length, data.
fn obsolete_packet(
    body: &[u8],
    big_endian: bool,
    interfaces: &[Interface],
    consume: usize,
) -> Step {
    let (Some(word0), Some(ts_high), Some(ts_low), Some(caplen), Some(orig_len)) = (
        read_u32(body, 0, big_endian),
        read_u32(body, 4, big_endian),
        read_u32(body, 8, big_endian),
        read_u32(body, 12, big_endian),
        read_u32(body, 16, big_endian),
    ) else {
        return Step::Error("short packet block".into());
    };
    // The first word is interface id then drops count, each 16 bits in the section's order.
    let if_id = if big_endian {
        word0 >> 16
    } else {
        word0 & 0xFFFF
    };
    let Some(iface) = interfaces.get(if_id as usize) else {
        return Step::Error(format!(
            "packet on interface {if_id} but the section describes {} interface(s)",
            interfaces.len()
        ));
    };
    let available = body.len().saturating_sub(20);
    let raw = (u64::from(ts_high) << 32) | u64::from(ts_low);
    Step::Packet(
        Located {
            ts: ng_timestamp(raw, iface.units_per_sec, iface.offset_secs),
            link: iface.link,
            start: OBSOLETE_PB_DATA_OFFSET,
            len: (caplen as usize).min(available),
            orig_len,
        },
        consume,
    )
}

/// Outcome of one parser step.
enum Step {
    /// A packet and the length of its block.
    Packet(Located, usize),
    /// A non-packet block of this length was handled.
    Skip(usize),
    /// Clean end of input.
    Eof,
    /// The parser needs more bytes.
    NeedMore,
    /// The block does not fit the buffer.
    TooBig,
    /// The input ended inside a block.
    Truncated,
    /// The block is invalid.
    Error(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pcapng block in big-endian order: type, total length, body (padded), total length.
    fn block(block_type: u32, body: &[u8]) -> Vec<u8> {
        let mut padded = body.to_vec();
        while padded.len() % 4 != 0 {
            padded.push(0);
        }
        let len = (padded.len() + 12) as u32;
        let mut out = block_type.to_be_bytes().to_vec();
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&padded);
        out.extend_from_slice(&len.to_be_bytes());
        out
    }

    fn section_header() -> Vec<u8> {
        let mut body = 0x1A2B_3C4Du32.to_be_bytes().to_vec();
        body.extend_from_slice(&[0, 1, 0, 0]);
        body.extend_from_slice(&(-1i64).to_be_bytes());
        block(SHB_TYPE, &body)
    }

    /// IDB with `if_tsresol = 0x83` (1/8 s units) and `if_tsoffset = 100`.
    fn interface(link: u16) -> Vec<u8> {
        let mut body = link.to_be_bytes().to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&0u32.to_be_bytes());
        body.extend_from_slice(&[0, 9, 0, 1, 0x83, 0, 0, 0]);
        body.extend_from_slice(&[0, 14, 0, 8]);
        body.extend_from_slice(&100i64.to_be_bytes());
        body.extend_from_slice(&[0, 0, 0, 0]);
        block(IDB_TYPE, &body)
    }

    fn enhanced(if_id: u32, ts_units: u64, data: &[u8]) -> Vec<u8> {
        let mut body = if_id.to_be_bytes().to_vec();
        body.extend_from_slice(&((ts_units >> 32) as u32).to_be_bytes());
        body.extend_from_slice(&(ts_units as u32).to_be_bytes());
        body.extend_from_slice(&(data.len() as u32).to_be_bytes());
        body.extend_from_slice(&(data.len() as u32).to_be_bytes());
        body.extend_from_slice(data);
        block(EPB_TYPE, &body)
    }

    fn simple(data: &[u8]) -> Vec<u8> {
        let mut body = (data.len() as u32).to_be_bytes().to_vec();
        body.extend_from_slice(data);
        block(SPB_TYPE, &body)
    }

    fn obsolete(if_id: u16, ts_units: u64, data: &[u8]) -> Vec<u8> {
        let mut body = if_id.to_be_bytes().to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&((ts_units >> 32) as u32).to_be_bytes());
        body.extend_from_slice(&(ts_units as u32).to_be_bytes());
        body.extend_from_slice(&(data.len() as u32).to_be_bytes());
        body.extend_from_slice(&(data.len() as u32).to_be_bytes());
        body.extend_from_slice(data);
        block(OBSOLETE_PB_TYPE, &body)
    }

    // Hand-built big-endian pcapng: the corpus has only little-endian sections and no binary
    // timestamp resolution, Simple Packet Block, obsolete Packet Block or second section.
    #[test]
    fn big_endian_pcapng_blocks_interfaces_and_sections() {
        let mut file = section_header();
        file.extend(interface(1));
        file.extend(interface(101));
        file.extend(enhanced(1, 17, b"abc")); // 17/8 s = 2.125 s, + 100 s offset
        file.extend(simple(b"defgh")); // interface 0, reuses the last timestamp
        file.extend(obsolete(0, 8, b"ij")); // 1 s + 100
        file.extend(section_header()); // new section: interfaces reset
        file.extend(interface(228));
        file.extend(enhanced(0, 4, b"k"));
        file.extend(enhanced(1, 4, b"l")); // no interface 1 in this section
        let mut reader =
            CaptureReader::from_reader(Path::new("t.pcapng"), Box::new(io::Cursor::new(file)))
                .unwrap();
        assert_eq!(reader.format(), Format::PcapNg);
        let mut seen = Vec::new();
        let error = loop {
            match reader.next_packet() {
                Ok(Some(p)) => seen.push((p.number, p.ts, p.link, p.data.to_vec(), p.orig_len)),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        let ts = |nanos: u64| Timestamp::new(100, nanos);
        assert_eq!(
            seen,
            vec![
                (1, ts(2_125_000_000), LinkType::RAW, b"abc".to_vec(), 3),
                (
                    2,
                    ts(2_125_000_000),
                    LinkType::ETHERNET,
                    b"defgh".to_vec(),
                    5
                ),
                (3, ts(1_000_000_000), LinkType::ETHERNET, b"ij".to_vec(), 2),
                (4, ts(500_000_000), LinkType::IPV4, b"k".to_vec(), 1),
            ]
        );
        assert!(matches!(
            error,
            Some(CaptureError::Corrupt { packets_read: 4, ref reason, .. })
                if reason.contains("interface 1")
        ));
    }

    #[test]
    fn sniffs_magics() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Some((None, true)));
        assert_eq!(
            sniff(&[0xa1, 0xb2, 0x3c, 0x4d]),
            Some((Some(Format::Pcap), false))
        );
        assert_eq!(
            sniff(&[0x0a, 0x0d, 0x0d, 0x0a]),
            Some((Some(Format::PcapNg), false))
        );
        assert_eq!(sniff(b"GET /"), None);
    }
}
