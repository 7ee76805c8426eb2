//! Capture files → packets.
//!
//! Reads pcap (both byte orders, micro/nanosecond) and pcapng (several interfaces, Enhanced and
//! Simple Packet Blocks), optionally gzip-compressed, from a file or stdin (`-`). The format is
//! detected from magic bytes, never from the file name. Reading streams: memory does not grow with
//! the capture's size.

use crate::time::Timestamp;
use std::path::{Path, PathBuf};

/// A link-layer type as numbered by tcpdump.org's LINKTYPE_ registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback (4-byte address family in host byte order).
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// PPP (RFC 1661 framing).
    pub const PPP: LinkType = LinkType(9);
    /// Raw IP (old BSD value 12, see also 101).
    pub const RAW_OLD: LinkType = LinkType(12);
    /// Raw IP (old OpenBSD value 14).
    pub const RAW_OLD14: LinkType = LinkType(14);
    /// PPP in HDLC-like framing.
    pub const PPP_HDLC: LinkType = LinkType(50);
    /// PPPoE session frames carried in Ethernet.
    pub const PPP_ETHER: LinkType = LinkType(51);
    /// Raw IP, version from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback (address family in network byte order).
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// A short human name for reports, e.g. `ethernet`, `linux-sll`, or `linktype-147`.
    pub fn name(self) -> String {
        match self.0 {
            0 => "null".into(),
            1 => "ethernet".into(),
            9 => "ppp".into(),
            12 | 14 | 101 => "raw".into(),
            50 => "ppp-hdlc".into(),
            51 => "pppoe".into(),
            108 => "loop".into(),
            113 => "linux-sll".into(),
            228 => "ipv4".into(),
            229 => "ipv6".into(),
            276 => "linux-sll2".into(),
            n => format!("linktype-{n}"),
        }
    }
}

/// One captured packet, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// 1-based packet number in file order (what Wireshark shows as frame number).
    pub number: u64,
    /// Capture timestamp.
    pub ts: Timestamp,
    /// Link type of the interface the packet was captured on.
    pub link: LinkType,
    /// Captured bytes (may be shorter than `orig_len` when the snaplen cut it).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
}

/// The container format, as detected from magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// Why a capture could not be (fully) read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The capture's path (`-` for stdin).
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file does not start with a pcap, pcapng or gzip magic number.
    #[error("{path}: not a capture file (pcap, pcapng or gzip of either); starts with {magic}")]
    NotACapture {
        /// The file's path.
        path: PathBuf,
        /// The first bytes, in hex.
        magic: String,
    },
    /// The file is empty.
    #[error("{path}: empty file")]
    Empty {
        /// The file's path.
        path: PathBuf,
    },
    /// The file ends in the middle of a header or packet (or a gzip file before its trailer,
    /// or a mapped file was truncated while it was read).
    #[error("{path}: truncated at byte offset {offset}{} (after packet {packets_read})", of_stream(*decompressed))]
    Truncated {
        /// The file's path.
        path: PathBuf,
        /// Byte offset (in the uncompressed stream) where the incomplete block starts.
        offset: u64,
        /// Packets read before the damage.
        packets_read: u64,
        /// The file is gzip-compressed: `offset` counts decompressed bytes.
        decompressed: bool,
    },
    /// A block or record header is invalid (bad length, unknown block, oversized snaplen...).
    #[error("{path}: corrupt at byte offset {offset}{} (after packet {packets_read}): {reason}", of_stream(*decompressed))]
    Corrupt {
        /// The file's path.
        path: PathBuf,
        /// Byte offset (in the uncompressed stream) of the bad block.
        offset: u64,
        /// Packets read before the damage.
        packets_read: u64,
        /// What is wrong.
        reason: String,
        /// The file is gzip-compressed: `offset` counts decompressed bytes.
        decompressed: bool,
    },
}

/// How an offset in a compressed file is to be read: in the decompressed data, not the file.
fn of_stream(decompressed: bool) -> &'static str {
    if decompressed {
        " of the decompressed data"
    } else {
        ""
    }
}

/// A non-fatal observation about a capture (e.g. an unsupported link type), reported once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureWarning {
    /// The file's path.
    pub path: PathBuf,
    /// What was seen.
    pub message: String,
}

mod reader;
mod shared;
mod sigbus;
pub use reader::CaptureReader;
pub use shared::SharedBlock;
pub use sigbus::faults as mapped_faults;

/// True when the first bytes look like a capture we can read (pcap, pcapng, or gzip).
pub fn looks_like_capture(first_bytes: &[u8]) -> bool {
    reader::sniff(first_bytes).is_some()
}

/// Convenience: open a path (`-` = stdin).
pub fn open(path: &Path) -> Result<CaptureReader, CaptureError> {
    CaptureReader::open(path)
}
