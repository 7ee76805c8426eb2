//! `split-across-files` and `capture-cut`: TCP connections a capture file's first or last
//! packet cuts. A file's span is known only once it is read, so the facts are gathered per
//! connection while files are read and judged when the records are completed.
//!
//! Whatever such a connection seems to show at the cut (a ClientHello with no answer, a
//! request with no response) is the file boundary, not the peers: its outcome is `unknown`.

use super::stopped::Stop;
use super::{finding, Finding, FindingKind as K, Severity};
use crate::flow::{EndReason, TcpSummary};
use crate::record::{ConnectionRecord, Outcome, Transport};
use crate::time::Timestamp;
use std::net::SocketAddr;

/// A connection's first (last) packet this close to its file's first (last) packet is cut by
/// the file's start (end): a connection that was busy when the capture started or stopped.
/// Farther away, its silence is its own (a stalled handshake, an unanswered request).
pub const EDGE_SLACK_S: f64 = 1.0;

/// Longest silence between two pieces of one connection in consecutive files: the flow
/// table's default idle timeout, after which even one capture would end the connection.
pub const MAX_SPLIT_GAP_S: f64 = 600.0;

/// What a TCP connection shows at its capture's edges (None: it touches neither).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdgeFacts {
    /// Both ends, lower address first (a piece picked up mid-stream may guess the roles wrong).
    ends: (SocketAddr, SocketAddr),
    first: Timestamp,
    first_packet: u64,
    last: Timestamp,
    last_packet: u64,
    /// Picked up without its SYN.
    midstream: bool,
    /// Its first packet is the server's SYN-ACK: the SYN came before the capture.
    syn_ack_first: bool,
    /// Its ClientHello is in the capture.
    client_hello: bool,
    /// The capture shows one direction only (`one-sided-capture` says what is missing).
    one_sided: bool,
    /// Datagrams (DTLS, QUIC) rather than a TCP stream: no SYN opens them.
    datagrams: bool,
    /// Still open, neither FIN nor RST, when its capture ended.
    open_at_end: bool,
    established: bool,
    /// Its own findings already rest on a measured wait (data retransmitted unanswered for
    /// seconds up to the end): the capture's end did not cut it short.
    waited: bool,
    /// What its last packets were left waiting for, when nothing else explains its end (TCP or
    /// QUIC): the capture may have stopped following it before the file's end.
    stop: Option<Stop>,
}

impl EdgeFacts {
    /// The facts of a TCP connection picked up mid-stream or still open at its capture's end,
    /// or of a TCP or QUIC connection whose end nothing else explains.
    pub fn of(record: &ConnectionRecord, tcp: &TcpSummary) -> Option<EdgeFacts> {
        let tcp_edge = record.transport == Transport::Tcp;
        let open_at_end =
            tcp_edge && tcp.end_reason == EndReason::CaptureEnd && tcp.close.is_none();
        // A DTLS association whose first datagrams are already encrypted (epoch 1 or later):
        // its handshake came before them.
        let dtls_midstream = record.transport == Transport::Dtls
            && tcp.midstream
            && !record.client_hello_seen()
            && record
                .dtls
                .as_deref()
                .is_some_and(|d| d.protected_records.iter().sum::<u64>() > 0);
        // Opened by a SYN-ACK and no ClientHello after it: the client's SYN (with TCP Fast Open,
        // its ClientHello too) came before the capture, as for a stream picked up mid-way.
        let syn_ack_first = tcp_edge
            && tcp.syn == 0
            && !record.client_hello_seen()
            && tcp.unseen_direction().is_none()
            && tcp
                .first_syn_ack
                .is_some_and(|p| p.packet == tcp.first.packet);
        let midstream = (tcp_edge && (tcp.midstream || syn_ack_first)) || dtls_midstream;
        let stop = Stop::of(record, tcp);
        if !(midstream || open_at_end || stop.is_some()) {
            return None;
        }
        let (a, b) = (tcp.client, tcp.server);
        Some(EdgeFacts {
            ends: if a <= b { (a, b) } else { (b, a) },
            first: tcp.first.ts,
            first_packet: tcp.first.packet,
            last: tcp.last.ts,
            last_packet: tcp.last.packet,
            midstream,
            syn_ack_first,
            client_hello: record.client_hello_seen(),
            // Datagrams need no answer: one direction alone proves nothing missing.
            one_sided: tcp_edge && tcp.unseen_direction().is_some(),
            datagrams: !tcp_edge,
            open_at_end,
            // A handshake whose SYN the capture lacks (a trimmed capture) still shows the
            // connection open once data went both ways.
            established: tcp.established || (tcp.client_bytes > 0 && tcp.server_bytes > 0),
            waited: record.findings.iter().any(|f| {
                matches!(
                    f.kind,
                    K::HandshakeStalled | K::MtuBlackHole | K::ReadTimeout
                )
            }),
            stop,
        })
    }
}

impl EdgeFacts {
    /// What the first packet is, of a connection picked up mid-stream.
    fn not_an_opening(&self) -> &'static str {
        if self.datagrams {
            "carries an encrypted record with no handshake before it"
        } else if self.syn_ack_first {
            "is the server's SYN-ACK (the client's SYN and ClientHello are not in the capture)"
        } else {
            "is not a SYN"
        }
    }
}

#[derive(Debug, Clone)]
struct Piece {
    file: String,
    index: u64,
    facts: EdgeFacts,
}

/// Per file of a batch, its first and last packet's time; per pair of endpoints, the
/// connections that touch a file's edge. Grows with those connections only.
#[derive(Debug, Clone, Default)]
pub struct FileEdges {
    spans: crate::FastMap<String, (Timestamp, Timestamp)>,
    pieces: crate::FastMap<(SocketAddr, SocketAddr), Vec<Piece>>,
}

impl FileEdges {
    /// Notes a file's first and last packet time (nothing for a file without packets).
    pub fn observe_file(&mut self, file: &str, first: Option<Timestamp>, last: Option<Timestamp>) {
        if let (Some(first), Some(last)) = (first, last) {
            self.spans.insert(file.to_string(), (first, last));
        }
    }

    /// Notes a connection of `file` that touches an edge.
    pub fn observe(&mut self, file: &str, index: u64, facts: EdgeFacts) {
        self.pieces.entry(facts.ends).or_default().push(Piece {
            file: file.to_string(),
            index,
            facts,
        });
    }

    /// Adds another file's facts.
    pub fn merge(&mut self, other: FileEdges) {
        self.spans.extend(other.spans);
        for (ends, mut list) in other.pieces {
            self.pieces.entry(ends).or_default().append(&mut list);
        }
    }

    /// Appends `split-across-files` (a sibling file continues the connection) or
    /// `capture-cut` (none does) to a connection its file's start or end cuts, and makes its
    /// outcome `unknown`. A connection that already worked (handshake done, data answered),
    /// or failed on something it was sent (an alert, a reset, bytes that are not TLS), keeps
    /// its outcome: the cut hides only what came after; it keeps the hint to read the pieces
    /// together, and a bare `capture-cut` would say nothing about it. Only a failure read from
    /// a silence is undone by the cut.
    pub fn apply(&self, r: &mut ConnectionRecord) {
        let mut found = self.findings(
            &r.file,
            r.index,
            (r.client, r.server),
            r.outcome == Outcome::Ok,
        );
        let silence = |k: K| {
            matches!(
                k,
                K::HandshakeStalled
                    | K::ReadTimeout
                    | K::TcpConnectTimeout
                    | K::TcpSynAckUnanswered
                    | K::MtuBlackHole
            )
        };
        let failed_on_evidence = r.outcome == Outcome::Failed
            && r.failed_at
                .and_then(|stage| super::outcome::cause(r, stage))
                .is_some_and(|k| !silence(k));
        if r.outcome == Outcome::Ok || failed_on_evidence {
            found.retain(|f| f.kind == K::SplitAcrossFiles);
            r.findings.extend(found);
            return;
        }
        if found.is_empty() {
            return;
        }
        // A silent client's finding counts the time up to the cut: the cut says it better.
        r.findings.retain(|f| f.kind != K::NoClientHello);
        r.findings.extend(found);
        r.outcome = Outcome::Unknown;
        r.failed_at = None;
    }

    /// The findings of connection `index` of `file` between addresses `a` and `b`.
    /// `worked`: the piece shows a connection that worked (its outcome stands).
    fn findings(
        &self,
        file: &str,
        index: u64,
        (a, b): (SocketAddr, SocketAddr),
        worked: bool,
    ) -> Vec<Finding> {
        let verdict = if worked {
            "; it worked as far as this piece shows"
        } else {
            "; its outcome cannot be judged from this piece"
        };
        let ends = if a <= b { (a, b) } else { (b, a) };
        let Some(list) = self.pieces.get(&ends) else {
            return Vec::new();
        };
        let Some(own) = list.iter().find(|p| p.file == file && p.index == index) else {
            return Vec::new();
        };
        let Some(&(file_first, file_last)) = self.spans.get(file) else {
            return Vec::new();
        };
        let o = &own.facts;
        let mut out = Vec::new();
        // The piece before: open at the end of a file that ended before this one began.
        if o.midstream {
            let before = list
                .iter()
                .filter(|p| p.file != file && p.facts.open_at_end && p.facts.last <= o.first)
                // TCP and datagram pieces with the same addresses and ports are not one connection.
                .filter(|p| p.facts.datagrams == o.datagrams)
                .filter(|p| {
                    self.spans
                        .get(&p.file)
                        .is_some_and(|&(_, last)| last <= file_first)
                })
                .map(|p| (o.first.seconds_since(p.facts.last), p))
                .filter(|(gap, _)| *gap <= MAX_SPLIT_GAP_S)
                .min_by(|x, y| x.0.total_cmp(&y.0));
            if let Some((gap, p)) = before {
                out.push(finding(
                    K::SplitAcrossFiles,
                    Severity::Info,
                    format!(
                        "This file starts inside a connection that began in {} (connection #{}): read the files together with --continuous to see it whole{}.",
                        p.file, p.index, verdict
                    ),
                    format!(
                        "First packet {} is not a SYN; the same addresses' connection #{} of {} was still open at that file's end, its last packet (packet {}) {:.6} s before.",
                        o.first_packet, p.index, p.file, p.facts.last_packet, gap
                    ),
                ));
            } else if o.first.seconds_since(file_first) <= EDGE_SLACK_S {
                out.push(finding(
                    K::CaptureCut,
                    Severity::Info,
                    "The capture starts inside this connection: what happened before its first packet (the handshake, if it was not yet over) is not in this file, so its outcome cannot be judged.".to_string(),
                    format!(
                        "First packet {} {} and comes {:.6} s after the file's first packet.",
                        o.first_packet,
                        o.not_an_opening(),
                        o.first.seconds_since(file_first)
                    ),
                ));
            } else if !o.client_hello && !o.one_sided {
                out.push(finding(
                    K::CaptureCut,
                    Severity::Info,
                    "The capture picks this connection up mid-stream, with no ClientHello: it opened before the capture began (and was quiet until this packet) or its first packets were not captured, so its handshake, if it had one, is not in this file and its outcome cannot be judged.".to_string(),
                    format!(
                        "First packet {} {} and comes {:.6} s after the file's first packet.",
                        o.first_packet,
                        o.not_an_opening(),
                        o.first.seconds_since(file_first)
                    ),
                ));
            }
        }
        // The piece after: picked up mid-stream in a file that began after this one ended.
        if o.open_at_end {
            let after = list
                .iter()
                .filter(|p| p.file != file && p.facts.midstream && p.facts.first >= o.last)
                .filter(|p| p.facts.datagrams == o.datagrams)
                .filter(|p| {
                    self.spans
                        .get(&p.file)
                        .is_some_and(|&(first, _)| first >= file_last)
                })
                .map(|p| (p.facts.first.seconds_since(o.last), p))
                .filter(|(gap, _)| *gap <= MAX_SPLIT_GAP_S)
                .min_by(|x, y| x.0.total_cmp(&y.0));
            if let Some((gap, p)) = after {
                out.push(finding(
                    K::SplitAcrossFiles,
                    Severity::Info,
                    format!(
                        "This file ends inside a connection that continues in {} (connection #{}): read the files together with --continuous to see it whole{}.",
                        p.file, p.index, verdict
                    ),
                    format!(
                        "Still open (no FIN or RST) at its last packet {}; the same addresses' connection #{} of {} starts mid-stream (packet {}) {:.6} s later.",
                        o.last_packet, p.index, p.file, p.facts.first_packet, gap
                    ),
                ));
            } else if o.established && !o.waited && file_last.seconds_since(o.last) <= EDGE_SLACK_S
            {
                out.push(finding(
                    K::CaptureCut,
                    Severity::Info,
                    "The capture ends inside this connection: it was still open (no FIN or RST) when the capture stopped, so what came next is not in this file and its outcome cannot be judged.".to_string(),
                    format!(
                        "Last packet {} comes {:.6} s before the file's last packet.",
                        o.last_packet,
                        file_last.seconds_since(o.last)
                    ),
                ));
            }
        }
        // Nothing at either edge: did the capture stop following it before its end?
        if let (Some(stop), true) = (o.stop, out.is_empty()) {
            out.push(stop.finding(o.last_packet, file_last.seconds_since(o.last)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> Timestamp {
        Timestamp::new(secs, 0)
    }

    const A: &str = "10.0.0.1:5000";
    const B: &str = "10.0.0.2:443";

    /// Hand-built facts of a piece between [`A`] and [`B`] spanning `first..last` seconds.
    fn piece(
        first: i64,
        last: i64,
        midstream: bool,
        open_at_end: bool,
        datagrams: bool,
    ) -> EdgeFacts {
        EdgeFacts {
            ends: (A.parse().unwrap(), B.parse().unwrap()),
            first: ts(first),
            first_packet: 1,
            last: ts(last),
            last_packet: 2,
            midstream,
            syn_ack_first: false,
            client_hello: false,
            one_sided: false,
            datagrams,
            open_at_end,
            established: true,
            waited: false,
            stop: None,
        }
    }

    /// The ids of the findings of connection `index` of `file`.
    fn ids(edges: &FileEdges, file: &str, index: u64) -> Vec<&'static str> {
        let ends = (B.parse().unwrap(), A.parse().unwrap());
        edges
            .findings(file, index, ends, false)
            .iter()
            .map(|f| f.kind.id())
            .collect()
    }

    /// Hand-built facts (one edge case: a connection idle longer than the flow timeout
    /// between two files is not joined).
    #[test]
    fn pieces_further_apart_than_the_idle_timeout_are_not_joined() {
        let mut edges = FileEdges::default();
        edges.observe_file("a.pcap", Some(ts(0)), Some(ts(100)));
        edges.observe_file("b.pcap", Some(ts(800)), Some(ts(900)));
        edges.observe("a.pcap", 0, piece(0, 100, false, true, false));
        edges.observe("b.pcap", 0, piece(800, 900, true, false, false));
        for file in ["a.pcap", "b.pcap"] {
            assert_eq!(ids(&edges, file, 0), ["capture-cut"], "{file}");
        }
    }

    /// A TCP connection open at one file's end and a DTLS association with the same addresses
    /// and ports picked up mid-stream in the next: two connections, not one split.
    #[test]
    fn tcp_and_datagram_pieces_are_not_joined() {
        let mut edges = FileEdges::default();
        edges.observe_file("a.pcap", Some(ts(0)), Some(ts(100)));
        edges.observe_file("b.pcap", Some(ts(100)), Some(ts(200)));
        edges.observe("a.pcap", 0, piece(0, 100, false, true, false));
        edges.observe("b.pcap", 0, piece(100, 200, true, false, true));
        for file in ["a.pcap", "b.pcap"] {
            assert_eq!(ids(&edges, file, 0), ["capture-cut"], "{file}");
        }
        // The same two pieces, both TCP, are one connection split across the files.
        edges.observe("b.pcap", 1, piece(100, 200, true, false, false));
        assert_eq!(ids(&edges, "b.pcap", 1), ["split-across-files"]);
    }
}
