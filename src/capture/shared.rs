//! pcap-parser's block parsers over a buffer whose bytes can outlive the parser's view of them.
//!
//! pcap-parser's streaming readers shift their one circular buffer on every refill, so a
//! packet's bytes are only valid until the next call and a multi-threaded reader has to copy
//! every payload out. [`SharedReader`] does the same job (same `PcapReaderIterator` contract,
//! same parse functions, same errors) but fills reference-counted blocks: when a block is still
//! held elsewhere, a refill moves the unread tail into a fresh block instead of shifting in
//! place. A packet's bytes then stay valid for as long as its [`SharedBlock`] is held, and
//! batches can hand payloads to other threads without copying them.

use pcap_parser::nom;
use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
    LegacyPcapBlock, PcapHeader,
};
use pcap_parser::pcapng::{
    parse_block_be, parse_block_le, parse_enhancedpacketblock_be, parse_enhancedpacketblock_le,
    parse_sectionheaderblock, Block, EnhancedPacketBlock, EPB_MAGIC,
};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;

use super::sigbus;

/// A block of capture bytes shared between the reader and the batches that point into it.
pub type SharedBlock = Arc<BlockBytes>;

/// Capture bytes: read into memory, or a window of the file mapped into memory.
pub enum BlockBytes {
    /// Bytes read from a stream (a pipe, a decompressor, or a file read with `read`).
    Heap(Vec<u8>),
    /// A window of a regular file, mapped read-only.
    Mapped(Window),
}

/// A mapped window, known to the SIGBUS handler while it is mapped.
pub struct Window {
    // Declared first so that it drops first: the range is forgotten before it is unmapped.
    _registration: sigbus::Registration,
    map: memmap2::Mmap,
    /// The file, to tell (after a fault) whether a part of the window lies past its end now.
    file: Arc<std::fs::File>,
    /// File offset of the window's first byte.
    offset: u64,
}

impl BlockBytes {
    /// Whether `part` (a slice of this block) still holds the file's bytes: false when the
    /// file was truncated under a mapped window and `part` reaches past its new end (zeros
    /// since, see [`sigbus`]). Asks the file's length: for use once [`sigbus::faults`] says a
    /// mapped file shrank somewhere.
    pub fn intact(&self, part: &[u8]) -> bool {
        let BlockBytes::Mapped(window) = self else {
            return true;
        };
        let Some(start) = (part.as_ptr() as usize).checked_sub(window.map.as_ptr() as usize) else {
            return true;
        };
        let end = window.offset + (start + part.len()) as u64;
        window.file.metadata().is_ok_and(|m| m.len() >= end)
    }
}

impl std::ops::Deref for BlockBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            BlockBytes::Heap(bytes) => bytes,
            BlockBytes::Mapped(window) => &window.map,
        }
    }
}

/// A regular capture file read through windows mapped into memory instead of `read` calls.
pub struct MappedFile {
    file: Arc<std::fs::File>,
    /// The file's length when it was opened: bytes appended later are not read.
    opened_len: u64,
    /// The length to read up to: `opened_len`, or less once the file was seen to shrink.
    len: u64,
    /// [`sigbus::faults`] when the length was last checked.
    faults_seen: u64,
    /// File offset of the current window's first byte.
    window_start: u64,
    /// Bytes mapped per window (at least the parser's buffer size).
    window: usize,
}

impl MappedFile {
    /// Maps `file`'s bytes as it is now (its length is fixed here).
    pub fn new(file: std::fs::File) -> std::io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(MappedFile {
            file: Arc::new(file),
            opened_len: len,
            len,
            faults_seen: sigbus::faults(),
            window_start: 0,
            window: WINDOW,
        })
    }

    /// Takes a shorter length if another process truncated the file since the last look.
    fn refresh_len(&mut self) {
        if let Ok(meta) = self.file.metadata() {
            self.len = self.len.min(meta.len());
        }
    }

    /// The file's length now, when it is shorter than at open: it was truncated while being
    /// read. Looked up again only after a fault in some mapped window (a cheap check).
    pub fn shrunk(&mut self) -> Option<u64> {
        let faults = sigbus::faults();
        if faults != self.faults_seen {
            self.faults_seen = faults;
            self.refresh_len();
        }
        (self.len < self.opened_len).then_some(self.len)
    }

    /// `[start, start + len)` (cut to the file's length, checked again here), mapped; read
    /// with `pread` when it cannot be mapped safely. None past the end.
    fn window(&mut self, start: u64, len: usize) -> std::io::Result<Option<BlockBytes>> {
        self.refresh_len();
        let len = (len as u64).min(self.len.saturating_sub(start)) as usize;
        if len == 0 {
            return Ok(None);
        }
        // SAFETY: the mapping is read-only. A file truncated by another process while it is
        // mapped makes later reads of the dropped pages fault: the window is registered with
        // the SIGBUS handler before anything reads it, which maps zeros there and flags it.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(start)
                .len(len)
                .map(&self.file)?
        };
        let Some(registration) = sigbus::register(map.as_ptr() as usize, map.len()) else {
            drop(map);
            let mut bytes = vec![0; len];
            let read = read_at(&self.file, &mut bytes, start)?;
            bytes.truncate(read);
            if read < len {
                self.len = start + read as u64;
            }
            return Ok((read > 0).then_some(BlockBytes::Heap(bytes)));
        };
        // Read-ahead as for `read`, and the kernel may drop pages behind us.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Some(BlockBytes::Mapped(Window {
            _registration: registration,
            map,
            file: Arc::clone(&self.file),
            offset: start,
        })))
    }
}

/// Reads at `offset` until `buf` is full or the file ends; the bytes read.
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Bytes mapped per window: large enough that mapping calls are rare, small enough that the
/// windows batches still hold stay a few MiB of resident memory. The workers' queues hold
/// ~10-16 MiB of the file behind the reader, plus up to one window: `large.pcap`, 2 threads,
/// 8 MiB windows peaked at 26 MiB of mapped file resident, 4 MiB at 22 MiB, with wall and cpu
/// the same (8 alternated runs).
const WINDOW: usize = 4 << 20;
/// How far ahead of the parser mapped bytes are prefetched.
const PREFETCH_AHEAD: usize = 4 << 10;

/// Retired blocks kept for reuse. Batches in flight hold at most a few MiB of blocks, so the
/// list stays far below this; the cap only guards against a holder that never lets go (older
/// blocks are then dropped and freed by their last holder). Reuse matters: a fresh block costs
/// zeroing and page faults.
const MAX_RETIRED: usize = 1024;

type LegacyParseFn = fn(&[u8]) -> nom::IResult<&[u8], LegacyPcapBlock<'_>, PcapError<&[u8]>>;
/// A pcap-parser block parser, on bytes that live for `'s`.
type BlockParser<'s, T> = fn(&'s [u8]) -> nom::IResult<&'s [u8], T, PcapError<&'s [u8]>>;
type EpbParseFn = fn(&[u8]) -> nom::IResult<&[u8], EnhancedPacketBlock<'_>, PcapError<&[u8]>>;

/// Which container's blocks are parsed.
enum Kind {
    /// Legacy pcap: the file header (handed out first) and the record parser for its format.
    Pcap {
        header: PcapHeader,
        parse: LegacyParseFn,
    },
    /// pcapng: the current section's byte order.
    PcapNg { big_endian: bool },
}

/// A [`PcapReaderIterator`] over shared blocks (see the module documentation).
pub struct SharedReader<R: Read> {
    reader: R,
    kind: Kind,
    block: SharedBlock,
    /// Unread bytes are `block[pos..end]`.
    pos: usize,
    end: usize,
    /// Size of the blocks allocated from now on (`grow` raises it).
    capacity: usize,
    consumed: usize,
    exhausted: bool,
    /// Blocks handed out before, reused once nobody else holds them.
    retired: VecDeque<SharedBlock>,
    /// Set when the bytes come from windows of a mapped file rather than `reader`.
    mapped: Option<MappedFile>,
    /// Mapped bytes before this offset in `block` were prefetched.
    prefetched: usize,
}

impl<R: Read> SharedReader<R> {
    /// A legacy pcap reader; reads and checks the file header like
    /// `pcap_parser::LegacyPcapReader::new`.
    pub fn pcap(
        capacity: usize,
        reader: R,
        mapped: Option<MappedFile>,
    ) -> Result<Self, PcapError<&'static [u8]>> {
        let mut me = Self::start(capacity, reader, mapped)?;
        let header = match parse_pcap_header(&me.block[..me.end]) {
            Ok((_, header)) => header,
            Err(e) => return Err(header_error(e)),
        };
        let parse: LegacyParseFn = if header.is_modified_format() {
            parse_pcap_frame_modified
        } else if header.is_bigendian() {
            parse_pcap_frame_be
        } else {
            parse_pcap_frame
        };
        me.kind = Kind::Pcap { header, parse };
        Ok(me)
    }

    /// A pcapng reader; checks the first Section Header Block like
    /// `pcap_parser::PcapNGReader::new`.
    pub fn pcapng(
        capacity: usize,
        reader: R,
        mapped: Option<MappedFile>,
    ) -> Result<Self, PcapError<&'static [u8]>> {
        let me = Self::start(capacity, reader, mapped)?;
        if let Err(e) = parse_sectionheaderblock(&me.block[..me.end]) {
            return Err(header_error(e));
        }
        Ok(me)
    }

    fn start(
        capacity: usize,
        mut reader: R,
        mut mapped: Option<MappedFile>,
    ) -> Result<Self, PcapError<&'static [u8]>> {
        let (block, end, exhausted) = match &mut mapped {
            Some(file) => match file.window(0, file.window.max(capacity)) {
                Ok(Some(bytes)) => {
                    let end = bytes.len();
                    (bytes, end, end as u64 >= file.len)
                }
                Ok(None) => (BlockBytes::Heap(Vec::new()), 0, true),
                Err(_) => return Err(PcapError::ReadError),
            },
            None => {
                let mut first = vec![0; capacity];
                let end = reader.read(&mut first).map_err(|_| PcapError::ReadError)?;
                (BlockBytes::Heap(first), end, false)
            }
        };
        Ok(SharedReader {
            reader,
            kind: Kind::PcapNg { big_endian: false },
            block: Arc::new(block),
            pos: 0,
            end,
            capacity,
            consumed: 0,
            exhausted,
            retired: VecDeque::new(),
            mapped,
            prefetched: 0,
        })
    }

    /// Asks the cpu to load the mapped bytes a little ahead of the parser. A mapped window
    /// comes straight from the page cache, cold: without this each packet header is a cache
    /// miss the hardware prefetcher (which stops at 4 KiB pages) does not hide.
    fn prefetch(&mut self) {
        let ahead = (self.pos + PREFETCH_AHEAD).min(self.end);
        let start = self.prefetched.max(self.pos);
        if start >= ahead {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // One hint per 64-byte line of [start, ahead), a plain stride: this runs once per
            // packet, and an iterator of sub-slices cost more than the hints themselves.
            let base = self.block.as_ptr();
            let mut at = start;
            while at < ahead {
                // SAFETY: a prefetch is only a hint (it never faults, even on a bad address),
                // SSE is part of every x86-64 cpu, and `at < ahead <= end` stays in the block.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(base.wrapping_add(at).cast()) };
                at += 64;
            }
        }
        self.prefetched = ahead;
    }

    /// Moves on to the window that starts at the first unread byte.
    fn remap(&mut self) -> Result<(), PcapError<&'static [u8]>> {
        let Some(file) = &mut self.mapped else {
            return Ok(());
        };
        let start = file.window_start + self.pos as u64;
        match file.window(start, file.window.max(self.capacity)) {
            Ok(Some(bytes)) => {
                self.end = bytes.len();
                self.exhausted = start + bytes.len() as u64 >= file.len;
                self.block = Arc::new(bytes);
                file.window_start = start;
                self.pos = 0;
                self.prefetched = 0;
            }
            Ok(None) => self.exhausted = true,
            Err(_) => return Err(PcapError::ReadError),
        }
        Ok(())
    }

    /// The next legacy pcap record, when it lies whole in the buffer: parsed with
    /// pcap-parser's record parser alone, without the generic block enum and the error
    /// mapping of [`PcapReaderIterator::next`] (the common case of the packet loop, ~3.6 M
    /// times on a 2 GB capture). None whenever anything else is due (the file header, a
    /// pcapng file, a record cut by the end of the buffer, a parse error): the caller then
    /// takes `next`, which handles it. Nothing is consumed either way.
    pub fn next_whole_legacy(&mut self) -> Option<(usize, LegacyPcapBlock<'_>)> {
        let Kind::Pcap { parse, .. } = self.kind else {
            return None;
        };
        if self.consumed == 0 {
            return None;
        }
        self.parse_whole(parse)
    }

    /// [`SharedReader::next_whole_legacy`] for pcapng: the next block when it is an Enhanced
    /// Packet Block that lies whole in the buffer, parsed with pcap-parser's EPB parser alone.
    /// None for any other block or anything unusual (the caller then takes `next`).
    pub fn next_whole_epb(&mut self) -> Option<(usize, EnhancedPacketBlock<'_>)> {
        let Kind::PcapNg { big_endian } = self.kind else {
            return None;
        };
        let block_type: [u8; 4] = self.block[self.pos..self.end].get(..4)?.try_into().ok()?;
        let (block_type, parse): (u32, EpbParseFn) = if big_endian {
            (u32::from_be_bytes(block_type), parse_enhancedpacketblock_be)
        } else {
            (u32::from_le_bytes(block_type), parse_enhancedpacketblock_le)
        };
        if block_type != EPB_MAGIC {
            return None;
        }
        self.parse_whole(parse)
    }

    /// The unread bytes' first block parsed with `parse` (after prefetching ahead in a mapped
    /// window), and the bytes it takes; None when it is cut short or malformed.
    fn parse_whole<'s, T>(&'s mut self, parse: BlockParser<'s, T>) -> Option<(usize, T)> {
        if self.mapped.is_some() {
            self.prefetch();
        }
        let data = &self.block[self.pos..self.end];
        let (rem, block) = parse(data).ok()?;
        Some((data.len() - rem.len(), block))
    }

    /// For a mapped file: its length now, when it is shorter than at open (truncated while
    /// being read), checked after `ahead` more bytes are read. See [`MappedFile::shrunk`].
    ///
    /// Truncation zeroes the rest of the page holding the new end (no fault there) and drops
    /// the pages after it (a fault on access). Touching the page that follows the next `ahead`
    /// bytes therefore faults, and is noticed, whenever the new end lies before their end.
    pub fn shrunk(&mut self, ahead: usize) -> Option<u64> {
        let file = self.mapped.as_mut()?;
        let base = self.block.as_ptr() as usize;
        let end = base + self.pos + ahead;
        let page = sigbus::page_size();
        let probe = end.next_multiple_of(page) - base;
        match self.block.get(probe) {
            // SAFETY: a read of one byte inside the mapped window (`get` checked the bounds),
            // volatile so that it happens.
            Some(byte) => unsafe {
                std::ptr::read_volatile(byte);
            },
            // The next page is not in this window: ask the file.
            None => file.refresh_len(),
        }
        file.shrunk()
    }

    /// The block the unread bytes (and the last block returned by `next`) live in.
    pub fn block(&self) -> &SharedBlock {
        &self.block
    }

    /// A block of at least `len` bytes that nobody else holds: a retired one when possible.
    fn fresh_block(&mut self, len: usize) -> Vec<u8> {
        for _ in 0..self.retired.len() {
            let Some(block) = self.retired.pop_front() else {
                break;
            };
            match Arc::try_unwrap(block) {
                Ok(BlockBytes::Heap(v)) if v.len() >= len => return v,
                Ok(_) => {}
                Err(held) => self.retired.push_back(held),
            }
        }
        vec![0; len]
    }
}

/// One read into `space`; `None` when there is no space (the block is full: nothing is read,
/// as pcap-parser's readers do).
fn read_into(reader: &mut impl Read, space: &mut [u8]) -> std::io::Result<Option<usize>> {
    if space.is_empty() {
        return Ok(None);
    }
    reader.read(space).map(Some)
}

/// Maps a header parse failure the way pcap-parser's streaming readers do.
fn header_error(e: nom::Err<PcapError<&[u8]>>) -> PcapError<&'static [u8]> {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e.to_owned_vec(),
        nom::Err::Incomplete(nom::Needed::Size(n)) => PcapError::Incomplete(n.into()),
        nom::Err::Incomplete(nom::Needed::Unknown) => PcapError::Incomplete(0),
    }
}

impl<R: Read> PcapReaderIterator for SharedReader<R> {
    fn next(&mut self) -> Result<(usize, PcapBlockOwned<'_>), PcapError<&[u8]>> {
        if let Kind::Pcap { header, .. } = &self.kind {
            if self.consumed == 0 {
                return Ok((header.size(), PcapBlockOwned::from(header.clone())));
            }
        }
        if self.pos == self.end && self.exhausted {
            return Err(PcapError::Eof);
        }
        if self.mapped.is_some() {
            self.prefetch();
        }
        let data = &self.block[self.pos..self.end];
        let parsed = match &mut self.kind {
            Kind::Pcap { parse, .. } => parse(data).map(|(rem, b)| (rem, PcapBlockOwned::from(b))),
            Kind::PcapNg { big_endian } => {
                let parse = if *big_endian {
                    parse_block_be
                } else {
                    parse_block_le
                };
                parse(data).map(|(rem, b)| {
                    if let Block::SectionHeader(shb) = &b {
                        *big_endian = shb.big_endian();
                    }
                    (rem, PcapBlockOwned::from(b))
                })
            }
        };
        match parsed {
            Ok((rem, block)) => Ok((data.len() - rem.len(), block)),
            Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(e),
            Err(nom::Err::Incomplete(needed)) => {
                if self.exhausted {
                    return Err(PcapError::UnexpectedEof);
                }
                match needed {
                    nom::Needed::Size(n) if data.len() + usize::from(n) >= self.capacity => {
                        Err(PcapError::BufferTooSmall)
                    }
                    nom::Needed::Size(n) => Err(PcapError::Incomplete(n.into())),
                    nom::Needed::Unknown => Err(PcapError::Incomplete(0)),
                }
            }
        }
    }

    fn consume(&mut self, offset: usize) {
        self.consume_noshift(offset);
    }

    fn consume_noshift(&mut self, offset: usize) {
        let offset = offset.min(self.end - self.pos);
        self.consumed += offset;
        self.pos += offset;
    }

    fn consumed(&self) -> usize {
        self.consumed
    }

    fn refill(&mut self) -> Result<(), PcapError<&[u8]>> {
        if self.mapped.is_some() {
            return self.remap();
        }
        let (pos, end) = (self.pos, self.end);
        let tail = end - pos;
        let size = self.capacity.max(tail);
        let own = match Arc::get_mut(&mut self.block) {
            Some(BlockBytes::Heap(own)) if own.len() >= size => Some(own),
            _ => None,
        };
        let read = if let Some(own) = own {
            // Nobody else holds the block: shift in place, as a circular buffer would.
            own.copy_within(pos..end, 0);
            read_into(&mut self.reader, &mut own[tail..])
        } else {
            let mut fresh = self.fresh_block(size);
            fresh[..tail].copy_from_slice(&self.block[pos..end]);
            let read = read_into(&mut self.reader, &mut fresh[tail..]);
            let old = std::mem::replace(&mut self.block, Arc::new(BlockBytes::Heap(fresh)));
            if self.retired.len() >= MAX_RETIRED {
                self.retired.pop_front();
            }
            self.retired.push_back(old);
            read
        };
        self.pos = 0;
        self.end = tail;
        if let Some(n) = read.map_err(|_| PcapError::ReadError)? {
            self.exhausted = n == 0;
            self.end += n;
        }
        Ok(())
    }

    fn position(&self) -> usize {
        self.pos
    }

    fn grow(&mut self, new_size: usize) -> bool {
        // Takes effect at the next refill, which the caller does after growing.
        self.capacity = self.capacity.max(new_size);
        true
    }

    fn data(&self) -> &[u8] {
        &self.block[self.pos..self.end]
    }

    fn reader_exhausted(&self) -> bool {
        self.exhausted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_parser::{LegacyPcapReader, PcapNGReader};

    /// Every block's bytes, read with `reader`, refilling on demand. When `block_of` gives the
    /// shared block, it is held (as batches in flight hold theirs), so refills must move to
    /// fresh blocks; the held bytes are checked unchanged at the end.
    fn read_all<P: PcapReaderIterator>(
        mut reader: P,
        block_of: impl Fn(&P) -> Option<SharedBlock>,
    ) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut held: Vec<(SharedBlock, usize, usize)> = Vec::new();
        let mut capacity = 512;
        loop {
            match reader.next() {
                Ok((n, _)) => {
                    let bytes = reader.data()[..n].to_vec();
                    if let Some(block) = block_of(&reader) {
                        let start = reader.data().as_ptr() as usize - block.as_ptr() as usize;
                        held.push((block, start, n));
                    }
                    out.push(bytes);
                    reader.consume(n);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
                Err(PcapError::BufferTooSmall) => {
                    // As CaptureReader does for a record larger than the buffer.
                    capacity *= 2;
                    assert!(reader.grow(capacity));
                    reader.refill().expect("refill");
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        // Blocks held while the reader went on still show the bytes they were read with.
        for ((block, start, n), bytes) in held.iter().zip(&out) {
            assert_eq!(&block[*start..start + n], &bytes[..]);
        }
        out
    }

    fn sample(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"))).expect(name)
    }

    #[test]
    fn pcap_blocks_match_pcap_parsers_reader_with_and_without_held_blocks() {
        let file = sample("tls13-http-401-200.pcap");
        let oracle = read_all(LegacyPcapReader::new(1 << 16, &file[..]).unwrap(), |_| None);
        // A 512-byte block size forces a refill every few packets.
        let free = read_all(SharedReader::pcap(512, &file[..], None).unwrap(), |_| None);
        let held = read_all(SharedReader::pcap(512, &file[..], None).unwrap(), |r| {
            Some(Arc::clone(r.block()))
        });
        assert_eq!(oracle.len(), 41, "file header + 40 packets");
        assert_eq!(free, oracle);
        assert_eq!(held, oracle);
    }

    #[test]
    fn pcapng_blocks_match_pcap_parsers_reader_with_and_without_held_blocks() {
        let file = sample("multi.pcapng");
        let oracle = read_all(PcapNGReader::new(1 << 16, &file[..]).unwrap(), |_| None);
        let free = read_all(SharedReader::pcapng(512, &file[..], None).unwrap(), |_| {
            None
        });
        let held = read_all(SharedReader::pcapng(512, &file[..], None).unwrap(), |r| {
            Some(Arc::clone(r.block()))
        });
        assert!(oracle.len() > 10);
        assert_eq!(free, oracle);
        assert_eq!(held, oracle);
    }

    /// `name` read through mapped windows of `window` bytes (a small window moves to a new
    /// one every few packets, as a 4 MiB window does on a large capture).
    fn mapped(name: &str, window: usize) -> Option<MappedFile> {
        let path = format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"));
        let mut file = MappedFile::new(std::fs::File::open(path).expect(name)).unwrap();
        file.window = window;
        Some(file)
    }

    #[test]
    fn mapped_windows_give_the_same_blocks_as_reads() {
        for (name, pcapng) in [("tls13-http-401-200.pcap", false), ("multi.pcapng", true)] {
            let file = sample(name);
            let oracle = if pcapng {
                read_all(PcapNGReader::new(1 << 16, &file[..]).unwrap(), |_| None)
            } else {
                read_all(LegacyPcapReader::new(1 << 16, &file[..]).unwrap(), |_| None)
            };
            for window in [600, 4096, 1 << 20] {
                let open = |w| {
                    let none = std::io::empty();
                    if pcapng {
                        SharedReader::pcapng(512, none, mapped(name, w)).unwrap()
                    } else {
                        SharedReader::pcap(512, none, mapped(name, w)).unwrap()
                    }
                };
                let free = read_all(open(window), |_| None);
                let held = read_all(open(window), |r| Some(Arc::clone(r.block())));
                assert_eq!(free, oracle, "{name}, {window}-byte windows");
                assert_eq!(held, oracle, "{name}, {window}-byte windows, held");
            }
        }
    }

    #[test]
    fn a_mapped_file_cut_mid_packet_ends_early() {
        // The last 7 bytes of the file cut off: the parser sees the end of the data mid-block.
        let file = sample("tls13-http-401-200.pcap");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.pcap");
        std::fs::write(&path, &file[..file.len() - 7]).unwrap();
        let map = MappedFile::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut r = SharedReader::pcap(1 << 16, std::io::empty(), Some(map)).unwrap();
        let mut blocks = 0;
        let end = loop {
            match r.next() {
                Ok((n, _)) => {
                    blocks += 1;
                    r.consume(n);
                }
                Err(PcapError::Incomplete(_)) => r.refill().unwrap(),
                Err(e) => break e,
            }
        };
        assert!(matches!(end, PcapError::UnexpectedEof), "{end:?}");
        assert_eq!(blocks, 40, "file header + 39 whole packets");
    }

    #[test]
    fn a_block_larger_than_the_buffer_asks_to_grow() {
        let file = sample("tls13-http-401-200.pcap");
        let mut r = SharedReader::pcap(64, &file[..], None).unwrap();
        let (n, _) = r.next().unwrap();
        r.consume(n);
        assert!(matches!(r.next(), Err(PcapError::BufferTooSmall)));
        assert!(r.grow(1 << 16));
        assert!(matches!(r.next(), Err(PcapError::Incomplete(_))));
        r.refill().unwrap();
        assert!(r.next().is_ok());
    }
}
