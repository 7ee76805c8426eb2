//! Connection table and TCP reassembly per direction.
//!
//! [`FlowTable`] keys live connections by their 5-tuple, tells client from server (SYN sender,
//! else port heuristics), delivers each direction's bytes in sequence order to a
//! [`StreamHandler`], records gaps instead of bridging them, and emits a [`Finished`] connection
//! when it closes (FIN/RST), when its 5-tuple is reused by a new SYN, when it idles out, or at the
//! end of the capture. Out-of-order data held per direction is bounded; once the handler says
//! [`Interest::Done`] for a direction, that direction's bytes are only counted, never buffered.

use crate::net::{Carrier, TcpSegment};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Which way bytes travel, relative to the connection's client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client → server.
    ToServer,
    /// Server → client.
    ToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
    /// The side that sends in this direction.
    pub fn sender(self) -> Side {
        match self {
            Direction::ToServer => Side::Client,
            Direction::ToClient => Side::Server,
        }
    }
    /// 0 for client → server, 1 for server → client (for per-direction arrays).
    pub fn idx(self) -> usize {
        self as usize
    }
}

/// One end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The end that opened the connection (sent the SYN / ClientHello).
    Client,
    /// The end that accepted it.
    Server,
}

impl Side {
    /// `"client"` or `"server"`, as in the JSON output and in finding messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }

    /// The other end.
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// The direction this end's packets travel in.
    pub fn sends(self) -> Direction {
        match self {
            Side::Client => Direction::ToServer,
            Side::Server => Direction::ToClient,
        }
    }
}

/// Where in the capture some bytes or an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentMeta {
    /// 1-based packet number.
    pub packet: u64,
    /// Capture time of that packet.
    pub ts: Timestamp,
}

/// What a handler wants after seeing data in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Keep delivering this direction's bytes.
    More,
    /// Stop: the rest of this direction is of no interest (e.g. encrypted); count it only.
    Done,
}

/// Receives the reassembled byte streams of one connection.
pub trait StreamHandler {
    /// In-order bytes of one direction. `meta` is the packet whose arrival made these bytes
    /// contiguous (for evidence: "ClientHello in packet 4").
    fn on_data(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) -> Interest;
    /// `len` bytes of one direction are missing from the capture and will never be delivered;
    /// the next `on_data` continues after the hole.
    fn on_gap(&mut self, dir: Direction, len: u64, meta: SegmentMeta) -> Interest;
    /// Heap bytes the handler holds beyond its own size (buffers, lists), for the table's
    /// memory budget ([`FlowConfig::max_memory`]).
    fn buffered_bytes(&self) -> usize {
        0
    }
    /// A handler for another connection, as this one was before it saw any byte; None when
    /// the type cannot make one. With it, the table keeps a connection that has sent only a
    /// SYN in a compact entry (no handler) and makes its handler when it needs one.
    fn fresh(&self) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CloseKind {
    /// Orderly close with FIN.
    Fin,
    /// Abortive close with RST.
    Rst,
}

/// Why the table emitted a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// Closed by FIN from both sides, or RST.
    Closed,
    /// A new SYN reused the 5-tuple.
    Reused,
    /// No packet for longer than the idle timeout.
    Idle,
    /// The capture ended while the connection was open.
    CaptureEnd,
    /// Finalized early, still open, because the table was over its memory budget
    /// ([`FlowConfig::max_memory`]): it was the least recently active.
    Evicted,
}

/// A packet number with its time, for evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PacketRef {
    /// 1-based packet number.
    pub packet: u64,
    /// Capture time.
    pub ts: Timestamp,
}

/// What TCP did on one connection: counters and the packets that prove it.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpSummary {
    /// Connection number in file order (0-based, in order of first packet; like tshark's
    /// `tcp.stream`).
    pub index: u64,
    /// Client address.
    pub client: SocketAddr,
    /// Server address.
    pub server: SocketAddr,
    /// First packet of the connection.
    pub first: PacketRef,
    /// Last packet of the connection.
    pub last: PacketRef,
    /// Packets seen in both directions.
    pub packets: u64,
    /// SYNs sent by the client (more than 1 = retransmitted).
    pub syn: u32,
    /// First and last SYN from the client.
    pub first_syn: Option<PacketRef>,
    /// Last SYN from the client.
    pub last_syn: Option<PacketRef>,
    /// SYN-ACKs sent by the server.
    pub syn_ack: u32,
    /// First SYN-ACK.
    pub first_syn_ack: Option<PacketRef>,
    /// Three-way handshake completed (or the connection was picked up with data both ways).
    pub established: bool,
    /// Picked up without seeing the SYN.
    pub midstream: bool,
    /// Payload bytes from the client (sequence space covered, retransmissions not counted).
    pub client_bytes: u64,
    /// Payload bytes from the server.
    pub server_bytes: u64,
    /// First and last payload-bearing packets per direction (index: [`Direction::idx`]).
    pub first_data: [Option<PacketRef>; 2],
    /// Last payload-bearing packet per direction.
    pub last_data: [Option<PacketRef>; 2],
    /// The payload-bearing packet before the last one, per direction (tells a request from the
    /// close_notify that follows it).
    pub prev_data: [Option<PacketRef>; 2],
    /// Payload length of the last payload-bearing packet per direction.
    pub last_data_len: [u32; 2],
    /// Payload length of the packet in `prev_data`.
    pub prev_data_len: [u32; 2],
    /// First FIN per direction.
    pub fin: [Option<PacketRef>; 2],
    /// First RST and who sent it.
    pub rst: Option<(Side, PacketRef)>,
    /// Bytes the peer had sent (its furthest sequence seen) that the first RST's sender had
    /// not acknowledged: by the RST's own acknowledgement number when it carries one (a stack
    /// aborting a connection acknowledges what it received), else by its last ACK. 0: the
    /// reset cut nothing off; None: no acknowledgement to tell by.
    pub rst_unacked: Option<u32>,
    /// Who closed first (first FIN or RST), if anyone.
    pub closed_by: Option<Side>,
    /// How it was closed.
    pub close: Option<CloseKind>,
    /// Holes in the byte streams that the capture never filled.
    pub gaps: u32,
    /// Total bytes missing in those holes.
    pub gap_bytes: u64,
    /// Segments that repeated bytes already seen.
    pub retransmissions: u32,
    /// Segments that arrived ahead of a hole.
    pub out_of_order: u32,
    /// Why the connection was emitted.
    pub end_reason: EndReason,
    /// Packets seen per direction (index: [`Direction::idx`]); 0 for a direction the capture
    /// never saw.
    pub dir_packets: [u64; 2],
    /// Last packet per direction.
    pub last_packet: [Option<PacketRef>; 2],
    /// Per direction: sequence space (bytes, SYN and FIN) the peer acknowledged beyond the
    /// furthest the capture shows of that direction (for a direction never seen, the span
    /// of the peer's ACKs), and the peer's packet that acknowledged it. Far from 0 when the
    /// capture saw one side only (a SPAN port, one leg of a load balancer).
    pub acked_unseen: [(u64, Option<PacketRef>); 2],
    /// A bare ACK from the server while the client's SYN had no SYN-ACK, and the number it
    /// acknowledged (not the SYN's): a challenge ACK (RFC 5961) for state the server still
    /// holds for this 4-tuple, or a NAT mapping the port to an older connection.
    pub stale_ack: Option<(PacketRef, u32)>,
    /// The client's RST answering that stale ACK. In SYN-SENT a RST sent for an unacceptable
    /// ACK leaves the client's connect pending (RFC 793 §3.4), so it does not close the
    /// connection: a retransmitted SYN (same ISN) continues it.
    pub stale_rst: Option<PacketRef>,
    /// The latest packet of the capture when the connection was emitted: how long the capture
    /// watched after the connection's own last packet.
    pub seen_until: PacketRef,
    /// Per direction: sequence space (bytes, SYN, FIN) sent that the peer never acknowledged,
    /// as far as the capture shows both (0 when the peer sent no ACK at all).
    pub unacked_at_end: [u32; 2],
    /// The capture holds no packet from any server (QUIC: no datagram from a QUIC server and
    /// no TCP SYN-ACK seen since the first QUIC connection), so a server's silence proves nothing.
    pub no_server_in_capture: bool,
    /// The tunnels the connection's first packet came in (each direction of a tunnel may use
    /// its own label or TEID; the first packet's names the connection).
    pub carrier: Carrier,
    /// The MSS option each side announced in its SYN or SYN-ACK (index: the [`Direction::idx`]
    /// that side sends in).
    pub mss: [Option<u16>; 2],
    /// Per direction: segment sizes that got through and that did not (an MTU black hole).
    pub sizes: [SegmentSizes; 2],
}

/// What a direction's segment sizes show about the path: an MTU black hole drops every
/// full-size segment while small ones pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentSizes {
    /// Largest payload sent.
    pub largest: u32,
    /// Largest payload of a segment the peer acknowledged whole (among the few outstanding
    /// segments tracked at a time).
    pub largest_acked: u32,
    /// The largest segment sent three times or more whose first byte the peer never
    /// acknowledged (seen where the sender is captured).
    pub stuck: Option<StuckSegment>,
    /// The first hole in the direction's bytes, when it was never filled and the peer never
    /// acknowledged past its start (seen where the receiver is captured).
    pub hole: Option<Hole>,
    /// Duplicate ACKs the peer sent for these bytes (each says a later segment arrived past a
    /// missing one), and the first of them.
    pub dup_acks: u32,
    /// Packet of the first duplicate ACK.
    pub first_dup_ack: Option<u64>,
}

/// A segment retransmitted and never acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StuckSegment {
    /// Payload bytes.
    pub len: u32,
    /// Times it was sent.
    pub copies: u32,
    /// Packet of the first copy.
    pub first_packet: u64,
    /// Packet of the last copy.
    pub last_packet: u64,
}

/// Bytes missing before a segment that arrived ahead of them, never filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hole {
    /// Bytes missing.
    pub len: u32,
    /// The packet that arrived past the hole first.
    pub after_packet: u64,
    /// Largest payload that arrived past the hole.
    pub largest_beyond: u32,
}

/// What a datagram association (QUIC, DTLS) counted, for the summary its record is built
/// from. Per-direction arrays are indexed by [`Direction::idx`].
#[derive(Debug, Clone)]
pub struct DatagramCounts {
    /// Client address.
    pub client: SocketAddr,
    /// Server address.
    pub server: SocketAddr,
    /// First datagram.
    pub first: PacketRef,
    /// Last datagram.
    pub last: PacketRef,
    /// Datagrams per direction.
    pub dir_packets: [u64; 2],
    /// Payload bytes per direction.
    pub bytes: [u64; 2],
    /// First payload-bearing datagram per direction.
    pub first_data: [Option<PacketRef>; 2],
    /// Last payload-bearing datagram per direction.
    pub last_data: [Option<PacketRef>; 2],
    /// Payload length of the last datagram per direction.
    pub last_len: [u32; 2],
    /// The client's first flight (ClientHello, QUIC Initial) was not seen.
    pub midstream: bool,
    /// The tunnels the first datagram came in.
    pub carrier: Carrier,
    /// Why the association was emitted.
    pub end_reason: EndReason,
    /// The latest packet of the capture when it was emitted.
    pub seen_until: PacketRef,
    /// The capture holds a packet from some server of this transport.
    pub server_seen: bool,
}

impl TcpSummary {
    /// The summary of a datagram association: packets, bytes and times as counted, and none
    /// of TCP's own facts (no SYN, sequence space, FIN or RST); established once the server
    /// answered.
    pub fn of_datagrams(c: DatagramCounts) -> TcpSummary {
        TcpSummary {
            last: c.last,
            packets: c.dir_packets[0] + c.dir_packets[1],
            established: c.dir_packets[1] > 0,
            client_bytes: c.bytes[0],
            server_bytes: c.bytes[1],
            first_data: c.first_data,
            last_data: c.last_data,
            last_data_len: c.last_len,
            end_reason: c.end_reason,
            dir_packets: c.dir_packets,
            last_packet: c.last_data,
            seen_until: c.seen_until,
            no_server_in_capture: !c.server_seen,
            ..TcpSummary::opened(0, c.client, c.server, c.first, c.midstream, c.carrier)
        }
    }

    /// The summary of a connection `index` between `client` and `server` that opened at
    /// `first` and has counted nothing yet.
    #[inline]
    pub(crate) fn opened(
        index: u64,
        client: SocketAddr,
        server: SocketAddr,
        first: PacketRef,
        midstream: bool,
        carrier: Carrier,
    ) -> TcpSummary {
        TcpSummary {
            index,
            client,
            server,
            first,
            last: first,
            packets: 0,
            syn: 0,
            first_syn: None,
            last_syn: None,
            syn_ack: 0,
            first_syn_ack: None,
            established: false,
            midstream,
            client_bytes: 0,
            server_bytes: 0,
            first_data: [None; 2],
            last_data: [None; 2],
            prev_data: [None; 2],
            prev_data_len: [0; 2],
            last_data_len: [0; 2],
            fin: [None; 2],
            rst: None,
            closed_by: None,
            close: None,
            gaps: 0,
            gap_bytes: 0,
            retransmissions: 0,
            out_of_order: 0,
            end_reason: EndReason::CaptureEnd,
            dir_packets: [0; 2],
            last_packet: [None; 2],
            acked_unseen: [(0, None); 2],
            stale_ack: None,
            rst_unacked: None,
            stale_rst: None,
            seen_until: first,
            unacked_at_end: [0; 2],
            no_server_in_capture: false,
            carrier,
            mss: [None; 2],
            sizes: Default::default(),
        }
    }

    /// Swaps what was recorded per direction, for a connection whose roles were told wrongly
    /// at first (picked up mid-stream).
    pub fn swap_directions(&mut self) {
        self.dir_packets.swap(0, 1);
        self.last_packet.swap(0, 1);
        self.acked_unseen.swap(0, 1);
        self.unacked_at_end.swap(0, 1);
        self.mss.swap(0, 1);
        self.sizes.swap(0, 1);
    }

    /// The direction the capture never saw although the other side's packets prove it was
    /// sent: no packet of it, and the peer acknowledged its bytes or sent data itself (which
    /// TCP does only once the three-way handshake, half of it unseen, completed).
    pub fn unseen_direction(&self) -> Option<Direction> {
        [Direction::ToServer, Direction::ToClient]
            .into_iter()
            .find(|d| {
                let (i, peer) = (d.idx(), d.reverse().idx());
                // Data on a SYN (TCP Fast Open) needs no answer first.
                let peer_sent_data = self.first_data[peer]
                    .is_some_and(|p| Some(p) != self.first_syn && Some(p) != self.first_syn_ack);
                self.dir_packets[i] == 0
                    && self.dir_packets[peer] > 0
                    && (self.acked_unseen[i].0 > 0 || peer_sent_data)
            })
    }
}

/// A connection the table is done with: its TCP summary and its handler.
#[derive(Debug)]
pub struct Finished<H> {
    /// TCP facts (boxed: ~1.1 KiB that moves on from here to the record's builder).
    pub tcp: Box<TcpSummary>,
    /// The handler that saw the byte streams (boxed: it is large and moves on from here).
    pub handler: Box<H>,
}

/// Limits and timeouts of the connection table.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Out-of-order bytes held per direction before the oldest hole is declared a gap.
    pub max_buffered_per_direction: usize,
    /// Out-of-order ranges held per direction before the oldest hole is declared a gap.
    pub max_ranges_per_direction: usize,
    /// Seconds of capture time without a packet after which a connection is emitted.
    pub idle_timeout_secs: i64,
    /// Seconds after a close during which stray packets of the same 5-tuple (final ACKs,
    /// retransmitted FINs) are absorbed rather than starting a new connection. A SYN always
    /// starts a new one.
    pub linger_secs: i64,
    /// Seconds a closed connection (both FINs, or a RST) is kept before it is emitted, so that
    /// its final ACKs and retransmitted FINs still count as its packets.
    pub close_grace_secs: i64,
    /// Bytes the table may hold (connections, compact SYN-only entries, tombstones,
    /// reassembly and handler buffers, as estimated) before it finalizes its least recently
    /// active connections early ([`EndReason::Evicted`]) down to seven eighths of it.
    pub max_memory: usize,
}

/// [`FlowConfig::max_memory`] by default: the share of the default `--max-memory`
/// (512 MiB) that one table gets.
pub const DEFAULT_TABLE_MEMORY: usize = 160 << 20;

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_buffered_per_direction: 256 * 1024,
            max_ranges_per_direction: 64,
            idle_timeout_secs: 600,
            linger_secs: 120,
            close_grace_secs: 1,
            max_memory: DEFAULT_TABLE_MEMORY,
        }
    }
}

mod reassembly;
mod table;
pub use reassembly::{Reassembler, SeqNumber};
pub use table::FlowTable;
