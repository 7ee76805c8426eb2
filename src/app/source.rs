//! One capture's TCP segments: the capture and net stages of a file, with the file's packet
//! statistics and warnings kept as they go. Shared by the single-threaded loop and the
//! sharded reader thread, so both see exactly the same segments, secrets and warnings.

use super::{add_dsb_secrets, FileAnalysis, MAX_MALFORMED_WARNINGS};
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
        let (packet, block) = match self.reader.next_shared() {
            Ok(Some(p)) => p,
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
        let meta = SegmentMeta {
            packet: packet.number,
            ts: packet.ts,
        };
        match self.net.decode(&packet) {
            Decoded::Tcp(seg) => {
                stats.tcp_segments += 1;
                Step::Segment(meta, seg, block)
            }
            Decoded::Udp(d) => Step::Datagram(meta, d),
            Decoded::Other => Step::Other,
            Decoded::UnsupportedLink(link) => {
                if self.unsupported.insert(link) {
                    out.warnings.push(format!(
                        "{}: link type {} ({}) is not supported; its packets are skipped \
                         (first at packet {})",
                        self.path.display(),
                        link.0,
                        link.name(),
                        packet.number
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
                        packet.number
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
