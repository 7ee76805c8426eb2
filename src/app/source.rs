//! One capture's TCP segments: the capture and net stages of a file, with the file's packet
//! statistics and warnings kept as they go. Shared by the single-threaded loop and the
//! sharded reader thread, so both see exactly the same segments, secrets and warnings.

use super::{add_dsb_secrets, FileAnalysis, MAX_ICMP_ERRORS, MAX_MALFORMED_WARNINGS};
use crate::capture::{CaptureReader, LinkType, SharedBlock};
use crate::flow::SegmentMeta;
use crate::net::{Decoded, NetDecoder, TcpSegment, UdpDatagram};
use crate::tls::keylog::KeyLog;
use std::collections::BTreeSet;
use std::path::Path;

/// What the next step of a capture produced.
pub(super) enum Step<'a> {
    /// A TCP segment of packet `meta.packet`, and the shared block the packet was read into
    /// (its payload lies there unless IP reassembly built it elsewhere).
    Segment(SegmentMeta, TcpSegment<'a>, &'a SharedBlock),
    /// A UDP datagram of packet `meta.packet` (for the QUIC stage).
    Datagram(SegmentMeta, UdpDatagram<'a>),
    /// Secrets from pcapng Decryption Secrets Blocks read since the previous packet: they join
    /// the key log before the next segment is processed.
    Secrets(KeyLog),
    /// A packet that carries no TCP segment (counted, warned about if need be).
    Other,
    /// End of capture, or a read error (kept in the analysis).
    End,
}

/// Capture reader + network decoder of one file.
pub(super) struct SegmentSource<'p> {
    path: &'p Path,
    reader: CaptureReader,
    net: NetDecoder,
    /// Look for pcapng Decryption Secrets Blocks (only when connections have a key slot).
    want_secrets: bool,
    unsupported: BTreeSet<LinkType>,
    link_types: BTreeSet<LinkType>,
    last_link: Option<LinkType>,
    /// Files that continue this capture (`--continuous`), read in turn after it.
    continued_in: std::collections::VecDeque<std::path::PathBuf>,
    /// The current reader is done and the next piece is to be opened.
    piece_done: bool,
    /// Packets in the pieces read before the current one: packet numbers go on across them.
    packet_offset: u64,
    mapped: bool,
    /// More ICMP errors came than are kept (warned once).
    icmp_capped: bool,
}

impl<'p> SegmentSource<'p> {
    /// Wraps an open reader.
    pub(super) fn new(
        path: &'p Path,
        reader: CaptureReader,
        net: NetDecoder,
        want_secrets: bool,
    ) -> Self {
        SegmentSource {
            path,
            reader,
            net,
            want_secrets,
            unsupported: BTreeSet::new(),
            link_types: BTreeSet::new(),
            last_link: None,
            continued_in: Default::default(),
            piece_done: false,
            packet_offset: 0,
            mapped: false,
            icmp_capped: false,
        }
    }

    /// Reads `pieces` after this capture as its continuation (a rotated capture's files, in
    /// order), opening each as `mapped` or not like the first.
    pub(super) fn continue_with(mut self, pieces: &[std::path::PathBuf], mapped: bool) -> Self {
        self.continued_in = pieces.iter().cloned().collect();
        self.mapped = mapped;
        self
    }

    /// Opens the next piece of a continuous capture; false when there is none (or it cannot
    /// be opened: the error ends the capture).
    fn next_piece(&mut self, out: &mut FileAnalysis) -> bool {
        let Some(path) = self.continued_in.pop_front() else {
            return false;
        };
        let opened = if self.mapped {
            CaptureReader::open_mapped(&path)
        } else {
            CaptureReader::open(&path)
        };
        match opened {
            Ok(reader) => {
                for w in self.reader.take_warnings() {
                    out.warnings
                        .push(format!("{}: {}", w.path.display(), w.message));
                }
                self.reader = reader;
                self.packet_offset = out.stats.packets;
                true
            }
            Err(e) => {
                out.error = Some(e);
                false
            }
        }
    }

    /// The next step; statistics, warnings, notes and the read error go to `out`.
    pub(super) fn next(&mut self, out: &mut FileAnalysis) -> Step<'_> {
        if self.want_secrets {
            // Secrets read with the previous packet: connections look them up at their
            // ServerHello, so a DSB just before the first packet still counts.
            let secrets = self.reader.take_decryption_secrets();
            if !secrets.is_empty() {
                return Step::Secrets(add_dsb_secrets(self.path, secrets, out));
            }
        }
        if self.piece_done {
            self.piece_done = false;
            if !self.next_piece(out) {
                return Step::End;
            }
        }
        let (packet, block) = match self.reader.next_shared() {
            Ok(Some(p)) => p,
            // The next piece is opened on the next call (the reader is still borrowed here).
            Ok(None) if !self.continued_in.is_empty() => {
                self.piece_done = true;
                return Step::Other;
            }
            Ok(None) => return Step::End,
            Err(e) => {
                out.error = Some(e);
                return Step::End;
            }
        };
        let stats = &mut out.stats;
        stats.packets += 1;
        stats.bytes += packet.data.len() as u64;
        stats.first_ts.get_or_insert(packet.ts);
        stats.last_ts = Some(packet.ts);
        if self.last_link != Some(packet.link) {
            // Link types rarely change within a file: no set insert per packet.
            self.last_link = Some(packet.link);
            self.link_types.insert(packet.link);
        }
        let number = packet.number + self.packet_offset;
        let meta = SegmentMeta {
            packet: number,
            ts: packet.ts,
        };
        match self.net.decode(&packet) {
            Decoded::Tcp(seg) => {
                stats.tcp_segments += 1;
                Step::Segment(meta, seg, block)
            }
            Decoded::Udp(d) => Step::Datagram(meta, d),
            Decoded::Icmp(error) => {
                if out.icmp.len() < MAX_ICMP_ERRORS {
                    out.icmp.push((meta, error));
                } else if !self.icmp_capped {
                    self.icmp_capped = true;
                    out.warnings.push(format!(
                        "{}: packet {}: more than {MAX_ICMP_ERRORS} ICMP errors; the later ones are not matched to connections",
                        self.path.display(),
                        number
                    ));
                }
                Step::Other
            }
            Decoded::Other => Step::Other,
            Decoded::UnsupportedLink(link) => {
                if self.unsupported.insert(link) {
                    out.warnings.push(format!(
                        "{}: link type {} ({}) is not supported; its packets are skipped \
                         (first at packet {})",
                        self.path.display(),
                        link.0,
                        link.name(),
                        number
                    ));
                }
                Step::Other
            }
            Decoded::Malformed(reason) => {
                stats.malformed_packets += 1;
                if stats.malformed_packets as usize <= MAX_MALFORMED_WARNINGS {
                    out.warnings.push(format!(
                        "{}: packet {}: {reason}",
                        self.path.display(),
                        number
                    ));
                }
                Step::Other
            }
        }
    }

    /// After the last step: the reader's own warnings and the per-file summaries.
    pub(super) fn finish(mut self, out: &mut FileAnalysis) {
        for w in self.reader.take_warnings() {
            out.warnings
                .push(format!("{}: {}", w.path.display(), w.message));
        }
        if out.stats.malformed_packets as usize > MAX_MALFORMED_WARNINGS {
            out.warnings.push(format!(
                "{}: {} malformed packets in all (first {} shown)",
                self.path.display(),
                out.stats.malformed_packets,
                MAX_MALFORMED_WARNINGS
            ));
        }
        out.stats.link_types = self.link_types.iter().map(|l| l.name()).collect();
    }
}
