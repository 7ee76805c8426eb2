//! Streaming reader over pcap / pcapng / gzip (to be implemented).

use super::*;

/// Streams packets out of one capture.
///
/// Usage: `while let Some(pkt) = reader.next_packet()? { ... }`. The packet borrows the reader's
/// buffer until the next call. After an error, `next_packet` returns `Ok(None)`.
pub struct CaptureReader {
    _private: (),
}

impl CaptureReader {
    /// Opens a file (or stdin for `-`), sniffing gzip / pcap / pcapng from the magic bytes.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let _ = path;
        todo!()
    }

    /// Reads from any byte source; `path` is only used in messages.
    pub fn from_reader(
        path: &Path,
        source: Box<dyn std::io::Read + Send>,
    ) -> Result<Self, CaptureError> {
        let _ = (path, source);
        todo!()
    }

    /// The next packet, `Ok(None)` at a clean end of file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        todo!()
    }

    /// Warnings gathered so far (each distinct one once), drained.
    pub fn take_warnings(&mut self) -> Vec<CaptureWarning> {
        todo!()
    }

    /// The detected container format.
    pub fn format(&self) -> Format {
        todo!()
    }

    /// Whether the file was gzip-compressed.
    pub fn compressed(&self) -> bool {
        todo!()
    }

    /// Bytes consumed so far from the (uncompressed) stream.
    pub fn offset(&self) -> u64 {
        todo!()
    }
}

/// Detects the format from the first bytes: `Some((format_or_none_if_gzip, is_gzip))`.
pub(crate) fn sniff(first: &[u8]) -> Option<(Option<Format>, bool)> {
    let _ = first;
    todo!()
}
