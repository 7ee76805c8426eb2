//! QUIC: UDP datagrams → one TLS handshake per QUIC connection.
//!
//! QUIC (v1 RFC 9000/9001, v2 RFC 9369, the drafts browsers shipped) carries the TLS handshake in
//! CRYPTO frames inside protected packets. Initial packets are protected with keys anyone can
//! derive from the client's first Destination Connection ID, so the ClientHello and ServerHello
//! are always readable; Handshake packets (certificates, CertificateRequest) need the key log's
//! handshake traffic secrets. The handshake messages go to the tls stage's own decoder
//! ([`TlsObserver::quic_message`]), so a QUIC connection fills the same fields as a TLS one.
//!
//! Steps, each in its module: [`wire`] (headers, frames), [`keys`] (packet protection),
//! [`crypto`] (CRYPTO stream reassembly); [`QuicTable`] keeps the connections, found by their
//! connection IDs (so a client's address change keeps its connection) and, for short-header
//! packets, by address pair.

mod crypto;
pub mod keys;
pub mod wire;

use crate::flow::{DatagramCounts, Direction, EndReason, PacketRef, SegmentMeta, Side, TcpSummary};
use crate::net::{TcpSegment, UdpDatagram};
use crate::tls::keylog::KeySlot;
use crate::tls::{DecryptionStatus, ObserverConfig, TlsObserver};
use crypto::CryptoStream;
use keys::{PacketKeys, Sender};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use wire::{Frame, LongType};

/// What the QUIC stage adds to a connection's record (`quic` in JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuicRecord {
    /// QUIC version of the client's Initial (`v1`, `v2`, `draft-29`, ...): after Version
    /// Negotiation, the one it started over with (`restarted_from` names the first).
    pub version: String,
    /// Versions the server offered in a Version Negotiation packet (empty: none seen).
    pub version_negotiation: Vec<String>,
    /// The version of the client's first Initial, when the server's Version Negotiation made
    /// it start over with `version` (none: it did not start over).
    pub restarted_from: Option<String>,
    /// The version code of the client's first Initial (for the rules; `version` names it).
    #[serde(skip)]
    pub first_version: u32,
    /// The packet of the server's Version Negotiation (for the rules' evidence).
    #[serde(skip)]
    pub version_negotiation_packet: Option<PacketRef>,
    /// The packet of the client's Initial that started over (for the rules' evidence).
    #[serde(skip)]
    pub restart_packet: Option<u64>,
    /// The server answered with a Retry (address validation), at this packet.
    pub retry_packet: Option<u64>,
    /// The Destination Connection ID of the client's first Initial (hex): the Initial keys
    /// come from it.
    pub original_dcid: String,
    /// The client's Source Connection ID (hex).
    pub client_scid: String,
    /// The server's Source Connection ID (hex), once it answered.
    pub server_scid: Option<String>,
    /// Datagrams from the client that carried an Initial packet (more than one with no
    /// answer: retransmissions).
    pub client_initials: u32,
    /// Client Initial packets that brought no new CRYPTO bytes: retransmissions and probes
    /// (a large ClientHello spread over several Initials is not counted).
    pub client_initial_retransmissions: u32,
    /// Packets from the server (any kind).
    pub server_packets: u64,
    /// Protected packets that could not be opened (no keys, or failed authentication).
    pub undecryptable: u32,
    /// The client's transport parameters worth showing (RFC 9000 §18.2 names), from its
    /// ClientHello.
    pub transport_parameters: BTreeMap<String, String>,
    /// A CONNECTION_CLOSE read in an Initial or Handshake packet.
    pub close: Option<QuicClose>,
    /// A TCP SYN to the same server address that followed the client's first Initial (a
    /// client falling back to TCP), at this packet.
    pub tcp_fallback_packet: Option<u64>,
}

/// A CONNECTION_CLOSE frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuicClose {
    /// Who sent it.
    pub from: Side,
    /// The error code in hex (`0x0128` = TLS alert 40, handshake_failure).
    pub code: String,
    /// An application close (frame 0x1d) rather than a transport one.
    pub application: bool,
    /// The reason phrase (at most 100 characters).
    pub reason: String,
    /// Packet it was read in.
    pub packet: u64,
}

/// Limits of the QUIC stage.
#[derive(Debug, Clone)]
pub struct QuicConfig {
    /// TLS observer settings (its key log is ignored: [`QuicConfig::keylog`] is used).
    pub observer: ObserverConfig,
    /// Secrets for Handshake packets.
    pub keylog: Option<Arc<KeySlot>>,
    /// Connections tracked at once; datagrams that would open more are ignored.
    pub max_connections: usize,
}

impl Default for QuicConfig {
    fn default() -> Self {
        QuicConfig {
            observer: ObserverConfig::default(),
            keylog: None,
            max_connections: 100_000,
        }
    }
}

/// A QUIC connection that ended (idle, or the capture ended), ready for the record builder.
#[derive(Debug)]
pub struct QuicFinished {
    /// Its place among the file's QUIC connections, in order of first packet (0, 1, ...).
    pub ordinal: u64,
    /// The handshake as the tls stage saw it.
    pub observer: Box<TlsObserver>,
    /// Datagram facts in the shape the record builder and the rules read: `packets`, bytes,
    /// first and last packets; `established` once the server answered; no SYN, FIN or RST.
    pub tcp: TcpSummary,
    /// QUIC facts.
    pub quic: QuicRecord,
}

/// Keys of one packet number space, per sender ([`Direction::idx`]).
type SpaceKeys = [Option<PacketKeys>; 2];

/// Whether Handshake keys were looked for yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HsKeys {
    NotTried,
    /// No key log given.
    Absent,
    NoKey,
    Ready,
}

/// One QUIC connection's state.
#[derive(Debug)]
struct Conn {
    client: SocketAddr,
    server: SocketAddr,
    version: u32,
    server_scid: Option<Vec<u8>>,
    /// Initial keys, from `odcid` (or the Retry's Source Connection ID).
    initial: SpaceKeys,
    handshake: SpaceKeys,
    hs_keys: HsKeys,
    key_source: Option<String>,
    /// Handshake packets opened / failed.
    hs_opened: u32,
    hs_failed: u32,
    /// End of the client's Initial CRYPTO data received so far (stream offset).
    client_crypto_end: u64,
    /// Largest packet number per [Initial, Handshake] and direction.
    largest: [[Option<u64>; 2]; 2],
    /// CRYPTO streams per [Initial, Handshake] and direction.
    streams: [[CryptoStream; 2]; 2],
    /// A stream stopped (oversized message).
    stream_dead: [[bool; 2]; 2],
    observer: Box<TlsObserver>,
    client_random: Option<Vec<u8>>,
    suite: Option<u16>,
    first: PacketRef,
    last: PacketRef,
    dir_packets: [u64; 2],
    bytes: [u64; 2],
    first_data: [Option<PacketRef>; 2],
    last_data: [Option<PacketRef>; 2],
    last_len: [u32; 2],
    quic: QuicRecord,
    /// The client's Initial was seen (else the connection was picked up later).
    saw_client_initial: bool,
    /// The tunnels the first datagram came in.
    carrier: crate::net::Carrier,
}

/// Every QUIC connection of one capture.
#[derive(Debug)]
pub struct QuicTable {
    cfg: QuicConfig,
    /// By ordinal; None once ended.
    conns: Vec<Option<Box<Conn>>>,
    live: usize,
    /// Capture time (seconds) of the next look for idle connections.
    next_sweep: i64,
    /// Connection IDs, each after the 4-byte flow scope of the datagrams that carry it (see
    /// `scoped`), so two tenants' overlays (VNIs) never share a connection.
    by_cid: crate::FastMap<Vec<u8>, usize>,
    /// The distinct lengths of the CIDs in `by_cid` (short headers do not say theirs).
    cid_lens: Vec<usize>,
    /// (flow scope, client, server) → connection, for short headers and Version Negotiation.
    by_pair: crate::FastMap<(u32, SocketAddr, SocketAddr), usize>,
    /// TCP SYNs to the servers' addresses: (server ip, packet).
    syns: Vec<(IpAddr, PacketRef)>,
    latest: PacketRef,
    /// A connection that ended had a packet from its server, or a TCP server answered a SYN
    /// (see `TcpSummary::no_server_in_capture`).
    server_seen: bool,
}

/// Seconds of capture time without a packet after which a QUIC connection ends (its record is
/// built then, so memory follows the connections open at once). Longer than the 30 s idle
/// timeout browsers use.
const IDLE_SECS: i64 = 60;
/// Seconds of capture time between looks for idle connections.
const SWEEP_SECS: i64 = 10;

/// TCP SYNs remembered for the fallback check.
const MAX_SYNS: usize = 65_536;
/// Reason phrases are cut here (they are free text from the peer).
const MAX_REASON: usize = 100;

impl QuicTable {
    /// An empty table.
    pub fn new(cfg: QuicConfig) -> Self {
        QuicTable {
            cfg,
            conns: Vec::new(),
            live: 0,
            next_sweep: i64::MIN,
            by_cid: Default::default(),
            cid_lens: Vec::new(),
            by_pair: Default::default(),
            syns: Vec::new(),
            latest: PacketRef {
                packet: 0,
                ts: Default::default(),
            },
            server_seen: false,
        }
    }

    /// The key slot Handshake packets are decrypted with (pcapng secrets are merged into it).
    pub fn key_slot(&self) -> Option<&Arc<KeySlot>> {
        self.cfg.keylog.as_ref()
    }

    /// Connections opened so far (the records' ordinals run below this).
    pub fn opened(&self) -> u64 {
        self.conns.len() as u64
    }

    /// No QUIC connection seen yet.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// A TCP segment: a SYN to a QUIC server's address is remembered (TCP fallback).
    #[inline]
    pub fn on_tcp(&mut self, meta: SegmentMeta, seg: &TcpSegment<'_>) {
        if self.conns.is_empty() || !seg.flags.syn() {
            return;
        }
        if seg.flags.ack() {
            // A SYN-ACK: the capture holds servers' packets, it is not one-sided.
            self.server_seen = true;
            return;
        }
        if self.syns.len() < MAX_SYNS {
            self.syns.push((
                seg.dst.ip(),
                PacketRef {
                    packet: meta.packet,
                    ts: meta.ts,
                },
            ));
        }
    }

    /// One UDP datagram. Datagrams that are not QUIC (or belong to no connection whose start
    /// was seen) are ignored.
    /// Connections that idled out are handed to `ended`.
    pub fn on_datagram(
        &mut self,
        meta: SegmentMeta,
        d: &UdpDatagram<'_>,
        ended: &mut dyn FnMut(QuicFinished),
    ) {
        let at = PacketRef {
            packet: meta.packet,
            ts: meta.ts,
        };
        self.latest = at;
        if meta.ts.secs >= self.next_sweep {
            self.next_sweep = meta.ts.secs.saturating_add(SWEEP_SECS);
            self.sweep(ended);
        }
        let Some(&first) = d.payload.first() else {
            return;
        };
        let found = if first & 0x80 != 0 {
            self.long_lookup(d, meta)
        } else {
            self.pair_lookup(d).or_else(|| self.short_cid_lookup(d))
        };
        let Some((i, dir)) = found else { return };
        let Some(conn) = self.conns.get_mut(i).and_then(|c| c.as_deref_mut()) else {
            return;
        };
        conn.count(dir, at, d);
        let mut rest = d.payload;
        let mut new_cids = Vec::new();
        let mut first_packet = true;
        while let Some(&b0) = rest.first() {
            if b0 == 0 {
                // Zeros after the coalesced packets: datagram padding, not a packet.
                break;
            }
            if b0 & 0x80 == 0 {
                // A short header (1-RTT) packet runs to the datagram's end.
                conn.observer.quic_protected(dir, true);
                break;
            }
            let Some(h) = wire::long_header(rest) else {
                break;
            };
            // Coalesced packets share the datagram; padding after them is zeros.
            if !first_packet && h.version != conn.version {
                break;
            }
            if first_packet && dir == Direction::ToServer && h.kind == LongType::Initial {
                conn.quic.client_initials += 1;
            }
            first_packet = false;
            conn.packet(dir, &h, rest, meta, &self.cfg, &mut new_cids);
            if h.version == 0 || h.kind == LongType::Retry {
                break;
            }
            rest = rest.get(h.packet_len..).unwrap_or_default();
        }
        let scope = crate::net::flow_scope(d.carrier);
        for cid in new_cids {
            self.add_cid(scope, &cid, i);
        }
    }

    fn add_cid(&mut self, scope: u32, cid: &[u8], conn: usize) {
        if !self.cid_lens.contains(&cid.len()) {
            self.cid_lens.push(cid.len());
        }
        let (key, len) = scoped(scope, cid);
        self.by_cid.entry(key[..len].to_vec()).or_insert(conn);
    }

    /// The connection a CID names in the flow scope of `d`.
    fn cid_lookup(&self, d: &UdpDatagram<'_>, cid: &[u8]) -> Option<usize> {
        let (key, len) = scoped(crate::net::flow_scope(d.carrier), cid);
        self.by_cid.get(&key[..len]).copied()
    }

    /// A short-header datagram from an address pair not seen before: a NAT rebinding keeps the
    /// connection IDs (a deliberate migration uses new ones, sent encrypted, which stay unknown).
    /// The connection then knows the new pair too.
    fn short_cid_lookup(&mut self, d: &UdpDatagram<'_>) -> Option<(usize, Direction)> {
        let found = self.cid_lens.iter().find_map(|&len| {
            let cid = d.payload.get(1..1 + len)?;
            let i = self.cid_lookup(d, cid)?;
            // The client addresses the server by the server's CID, and the other way round.
            let conn = self.conns.get(i)?.as_deref()?;
            let to_server = conn.server_scid.as_deref() == Some(cid);
            Some((i, to_server))
        });
        let (i, to_server) = found?;
        let (dir, pair) = if to_server {
            (Direction::ToServer, (d.src, d.dst))
        } else {
            (Direction::ToClient, (d.dst, d.src))
        };
        let scope = crate::net::flow_scope(d.carrier);
        self.by_pair.entry((scope, pair.0, pair.1)).or_insert(i);
        Some((i, dir))
    }

    /// The connection and direction of a long-header datagram; opens one for a client Initial.
    fn long_lookup(
        &mut self,
        d: &UdpDatagram<'_>,
        meta: SegmentMeta,
    ) -> Option<(usize, Direction)> {
        let h = wire::long_header(d.payload)?;
        if let Some(i) = self.cid_lookup(d, h.dcid) {
            return Some((i, self.conns.get(i)?.as_deref()?.dir_of(d)));
        }
        if h.version == 0 || !keys::known_version(h.version) {
            // Version Negotiation names the client's Source CID as its Destination.
            return self.pair_lookup(d);
        }
        if h.kind != LongType::Initial || h.dcid.len() < 8 {
            return self.pair_lookup(d);
        }
        // A client's first Initial fills a datagram to 1200 bytes (RFC 9000 §14.1); the check
        // also keeps other UDP with a high first bit from opening connections.
        if (d.wire_payload_len as usize) < 1200 || self.live >= self.cfg.max_connections {
            return None;
        }
        // After Version Negotiation the client starts over, maybe with a new CID, from the
        // same address: the same attempt, one record.
        let scope = crate::net::flow_scope(d.carrier);
        if let Some(&i) = self.by_pair.get(&(scope, d.src, d.dst)) {
            let c = self.conns.get(i)?.as_deref()?;
            if !c.quic.version_negotiation.is_empty() && c.server_scid.is_none() {
                self.add_cid(scope, h.dcid, i);
                return Some((i, Direction::ToServer));
            }
        }
        let mut conn = Conn::new(d, &h, meta, &self.cfg);
        // Only a packet that authenticates opens a connection: other UDP (RTP, say) can look
        // like a long header of a version this reads.
        let opens = |c: &Conn| {
            c.initial[Direction::ToServer.idx()]
                .as_ref()
                .and_then(|k| k.open(d.payload, h.pn_offset, h.packet_len, None))
                .is_some()
        };
        if !opens(&conn) {
            // A reserved version's Initial has no salt of its own: some clients protect it
            // with draft-29's (Conn::new's choice), others (aioquic) with v1's.
            if !wire::is_grease(h.version) {
                return None;
            }
            conn.initial = [
                PacketKeys::initial(wire::V1, h.dcid, Sender::Client),
                PacketKeys::initial(wire::V1, h.dcid, Sender::Server),
            ];
            if !opens(&conn) {
                return None;
            }
        }
        let i = self.conns.len();
        self.conns.push(Some(Box::new(conn)));
        self.live += 1;
        self.add_cid(scope, h.dcid, i);
        if !h.scid.is_empty() {
            self.add_cid(scope, h.scid, i);
        }
        self.by_pair.insert((scope, d.src, d.dst), i);
        Some((i, Direction::ToServer))
    }

    fn pair_lookup(&self, d: &UdpDatagram<'_>) -> Option<(usize, Direction)> {
        let scope = crate::net::flow_scope(d.carrier);
        if let Some(&i) = self.by_pair.get(&(scope, d.src, d.dst)) {
            return Some((i, Direction::ToServer));
        }
        self.by_pair
            .get(&(scope, d.dst, d.src))
            .map(|&i| (i, Direction::ToClient))
    }

    /// Ends every connection (capture end); indexes are assigned by the caller in this order
    /// (order of first packet).
    pub fn finish(self) -> Vec<QuicFinished> {
        let syns = self.syns;
        let latest = self.latest;
        let server_seen = self.server_seen
            || self
                .conns
                .iter()
                .flatten()
                .any(|c| c.dir_packets[Direction::ToClient.idx()] > 0);
        self.conns
            .into_iter()
            .enumerate()
            .filter_map(|(i, c)| {
                Some(c?.finish(i as u64, &syns, latest, EndReason::CaptureEnd, server_seen))
            })
            .collect()
    }

    /// Ends the connections idle for [`IDLE_SECS`] and forgets their IDs and addresses.
    fn sweep(&mut self, ended: &mut dyn FnMut(QuicFinished)) {
        if self.live == 0 {
            return;
        }
        let now = self.latest.ts.secs;
        let mut any = false;
        for (i, slot) in self.conns.iter_mut().enumerate() {
            if slot
                .as_ref()
                .is_some_and(|c| now.saturating_sub(c.last.ts.secs) > IDLE_SECS)
            {
                if let Some(c) = slot.take() {
                    self.live -= 1;
                    any = true;
                    self.server_seen |= c.dir_packets[Direction::ToClient.idx()] > 0;
                    let server_seen = self.server_seen;
                    ended(c.finish(
                        i as u64,
                        &self.syns,
                        self.latest,
                        EndReason::Idle,
                        server_seen,
                    ));
                }
            }
        }
        if any {
            let conns = &self.conns;
            let alive = |i: &usize| conns.get(*i).is_some_and(Option::is_some);
            self.by_cid.retain(|_, i| alive(i));
            self.by_pair.retain(|_, i| alive(i));
            // SYNs older than every live connection can no longer be a fallback.
            let oldest = conns.iter().flatten().map(|c| c.first.packet).min();
            match oldest {
                Some(p) => self.syns.retain(|(_, at)| at.packet > p),
                None => self.syns.clear(),
            }
        }
    }
}

impl Conn {
    fn new(
        d: &UdpDatagram<'_>,
        h: &wire::LongHeader<'_>,
        meta: SegmentMeta,
        cfg: &QuicConfig,
    ) -> Conn {
        let mut observer = TlsObserver::for_quic(cfg.observer.clone());
        let version = h.version;
        observer.quic_event(Direction::ToServer, meta, || {
            format!("QUIC {} Initial", wire::version_name(version))
        });
        let unset = PacketRef {
            packet: 0,
            ts: Default::default(),
        };
        Conn {
            client: d.src,
            server: d.dst,
            version,
            server_scid: None,
            initial: [
                PacketKeys::initial(version, h.dcid, Sender::Client),
                PacketKeys::initial(version, h.dcid, Sender::Server),
            ],
            handshake: [None, None],
            hs_keys: HsKeys::NotTried,
            key_source: None,
            hs_opened: 0,
            hs_failed: 0,
            client_crypto_end: 0,
            largest: Default::default(),
            streams: Default::default(),
            stream_dead: Default::default(),
            observer: Box::new(observer),
            client_random: None,
            suite: None,
            first: unset,
            last: unset,
            dir_packets: [0; 2],
            bytes: [0; 2],
            first_data: [None; 2],
            last_data: [None; 2],
            last_len: [0; 2],
            quic: QuicRecord {
                version: wire::version_name(version),
                first_version: version,
                original_dcid: hex::encode(h.dcid),
                client_scid: hex::encode(h.scid),
                ..Default::default()
            },
            saw_client_initial: false,
            carrier: d.carrier.copied().unwrap_or_default(),
        }
    }

    /// The direction of a datagram of this connection: by address, the client's when unsure
    /// (a migrated client keeps its connection IDs, not its address).
    fn dir_of(&self, d: &UdpDatagram<'_>) -> Direction {
        if d.src == self.server {
            Direction::ToClient
        } else {
            Direction::ToServer
        }
    }

    fn count(&mut self, dir: Direction, at: PacketRef, d: &UdpDatagram<'_>) {
        let i = dir.idx();
        if self.dir_packets == [0, 0] {
            self.first = at;
        }
        self.last = at;
        self.dir_packets[i] += 1;
        self.bytes[i] += u64::from(d.wire_payload_len);
        self.first_data[i].get_or_insert(at);
        self.last_data[i] = Some(at);
        self.last_len[i] = d.wire_payload_len;
        if dir == Direction::ToClient {
            self.quic.server_packets += 1;
        }
    }

    /// One long-header packet of a datagram.
    fn packet(
        &mut self,
        dir: Direction,
        h: &wire::LongHeader<'_>,
        bytes: &[u8],
        meta: SegmentMeta,
        cfg: &QuicConfig,
        new_cids: &mut Vec<Vec<u8>>,
    ) {
        if h.version == 0 {
            if dir == Direction::ToClient && self.quic.version_negotiation.is_empty() {
                self.quic.version_negotiation =
                    h.offered.iter().map(|v| wire::version_name(*v)).collect();
                self.quic.version_negotiation_packet = Some(PacketRef {
                    packet: meta.packet,
                    ts: meta.ts,
                });
                let offered = self.quic.version_negotiation.join(", ");
                self.observer.quic_event(dir, meta, || {
                    format!("QUIC Version Negotiation: server offers {offered}")
                });
            }
            return;
        }
        if dir == Direction::ToClient && !h.scid.is_empty() {
            // The client addresses the server by its latest Source CID (a Retry's, then the one
            // of the server's Initial after it).
            if h.kind != LongType::Retry && self.server_scid.as_deref() != Some(h.scid) {
                self.server_scid = Some(h.scid.to_vec());
                self.quic.server_scid = Some(hex::encode(h.scid));
            }
            if !new_cids.iter().any(|c| c == h.scid) {
                new_cids.push(h.scid.to_vec());
            }
        }
        match h.kind {
            LongType::Retry => {
                if dir != Direction::ToClient || self.quic.retry_packet.is_some() {
                    return;
                }
                self.quic.retry_packet = Some(meta.packet);
                let token = h.token.len();
                self.observer
                    .quic_event(dir, meta, || format!("QUIC Retry (token of {token} bytes)"));
                // The client's next Initial goes to the Retry's Source CID, and both sides
                // derive their Initial keys from it (RFC 9001 §5.2).
                self.initial = [
                    PacketKeys::initial(self.version, h.scid, Sender::Client),
                    PacketKeys::initial(self.version, h.scid, Sender::Server),
                ];
                self.largest[0] = [None, None];
                // The client may start its TLS handshake over (a new random): read it anew.
                self.streams[0] = Default::default();
                self.client_random = None;
                self.client_crypto_end = 0;
            }
            LongType::Initial => {
                if dir == Direction::ToServer {
                    self.saw_client_initial = true;
                    if h.version != self.version && self.server_scid.is_none() {
                        self.restart(h, meta);
                    }
                }
                self.open(0, dir, bytes, h, meta, cfg);
            }
            LongType::Handshake => {
                if self.hs_keys == HsKeys::NotTried {
                    self.handshake_keys(cfg);
                }
                self.observer.quic_protected(dir, false);
                self.open(1, dir, bytes, h, meta, cfg);
            }
            LongType::ZeroRtt => self.observer.quic_protected(dir, true),
        }
    }

    /// The client starts over with another version (after Version Negotiation): new Initial
    /// keys, a new ClientHello.
    fn restart(&mut self, h: &wire::LongHeader<'_>, meta: SegmentMeta) {
        self.version = h.version;
        if self.quic.restarted_from.is_none() {
            self.quic.restarted_from = Some(std::mem::take(&mut self.quic.version));
            self.quic.restart_packet = Some(meta.packet);
        }
        self.quic.version = wire::version_name(h.version);
        self.initial = [
            PacketKeys::initial(h.version, h.dcid, Sender::Client),
            PacketKeys::initial(h.version, h.dcid, Sender::Server),
        ];
        self.largest[0] = [None, None];
        self.streams[0] = Default::default();
        self.client_random = None;
        self.client_crypto_end = 0;
        self.observer.quic_restart();
        let name = self.quic.version.clone();
        self.observer.quic_event(Direction::ToServer, meta, || {
            format!("QUIC {name} Initial (after Version Negotiation)")
        });
    }

    /// Looks up the Handshake traffic secrets once the ServerHello named the suite.
    fn handshake_keys(&mut self, cfg: &QuicConfig) {
        let Some(slot) = &cfg.keylog else {
            self.hs_keys = HsKeys::Absent;
            return;
        };
        // Without both hellos, tried again at the next Handshake packet.
        let (Some(random), Some(suite)) = (&self.client_random, self.suite) else {
            return;
        };
        let log = slot.get();
        if log.is_empty() {
            // An empty slot (a pcapng without secrets): no key log, nothing to report.
            return;
        }
        let Some(secrets) = log.get(random) else {
            self.hs_keys = HsKeys::NoKey;
            return;
        };
        let key = |s: &Option<Vec<u8>>| {
            s.as_deref()
                .and_then(|s| PacketKeys::from_secret(self.version, suite, s))
        };
        self.handshake = [
            key(&secrets.client_handshake),
            key(&secrets.server_handshake),
        ];
        self.key_source = Some(log.source_of(secrets).to_string());
        self.hs_keys = if self.handshake.iter().any(Option::is_some) {
            HsKeys::Ready
        } else {
            HsKeys::NoKey
        };
    }

    /// Opens a packet of space `space` (0 Initial, 1 Handshake) and reads its frames.
    fn open(
        &mut self,
        space: usize,
        dir: Direction,
        bytes: &[u8],
        h: &wire::LongHeader<'_>,
        meta: SegmentMeta,
        cfg: &QuicConfig,
    ) {
        let d = dir.idx();
        let keys = if space == 0 {
            &self.initial[d]
        } else {
            &self.handshake[d]
        };
        let opened = keys
            .as_ref()
            .and_then(|k| k.open(bytes, h.pn_offset, h.packet_len, self.largest[space][d]));
        let Some(opened) = opened else {
            self.quic.undecryptable += 1;
            if space == 1 && self.hs_keys == HsKeys::Ready {
                self.hs_failed += 1;
            }
            return;
        };
        if space == 1 {
            self.hs_opened += 1;
        }
        let largest = &mut self.largest[space][d];
        *largest = Some(largest.map_or(opened.pn, |l| l.max(opened.pn)));
        let frames = wire::frames(&opened.payload);
        if space == 0 && dir == Direction::ToServer {
            // A probe repeats CRYPTO data; ACK-only Initials are not counted.
            let end = frames
                .iter()
                .filter_map(|f| match f {
                    Frame::Crypto { offset, data } => {
                        Some(offset.saturating_add(data.len() as u64))
                    }
                    _ => None,
                })
                .max();
            if let Some(end) = end {
                if end <= self.client_crypto_end {
                    self.quic.client_initial_retransmissions += 1;
                }
                self.client_crypto_end = self.client_crypto_end.max(end);
            }
        }
        for frame in frames {
            match frame {
                Frame::Crypto { offset, data } => {
                    if !self.stream_dead[space][d] {
                        self.streams[space][d].insert(offset, data);
                        self.drain(space, dir, meta, cfg);
                    }
                }
                Frame::Close {
                    code,
                    application,
                    reason,
                } => self.close(dir, code, application, reason, meta),
                Frame::Other => {}
            }
        }
    }

    /// Hands the stream's complete handshake messages to the observer.
    fn drain(&mut self, space: usize, dir: Direction, meta: SegmentMeta, cfg: &QuicConfig) {
        let d = dir.idx();
        loop {
            match self.streams[space][d].next_message(cfg.observer.max_handshake_message) {
                Ok(Some(msg)) => {
                    self.learn(dir, &msg);
                    self.observer.quic_message(dir, &msg, meta);
                }
                Ok(None) => return,
                Err(len) => {
                    self.stream_dead[space][d] = true;
                    self.observer.quic_event(dir, meta, || {
                        format!("handshake message of {len} bytes exceeds the limit: CRYPTO stream not read further")
                    });
                    return;
                }
            }
        }
    }

    /// What the QUIC stage itself needs from the hellos: the client random (key log lookup),
    /// the suite (key sizes), the transport parameters.
    fn learn(&mut self, dir: Direction, msg: &[u8]) {
        let body = msg.get(4..).unwrap_or_default();
        match (dir, msg[0]) {
            (Direction::ToServer, 1) if self.client_random.is_none() => {
                self.client_random = body.get(2..34).map(<[u8]>::to_vec);
                self.quic.transport_parameters = client_transport_parameters(body);
            }
            (Direction::ToClient, 2) if self.suite.is_none() => {
                let sid = usize::from(*body.get(34).unwrap_or(&0));
                self.suite = body
                    .get(35 + sid..37 + sid)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]));
            }
            _ => {}
        }
    }

    fn close(
        &mut self,
        dir: Direction,
        code: u64,
        application: bool,
        reason: String,
        meta: SegmentMeta,
    ) {
        if self.quic.close.is_some() {
            return;
        }
        let reason: String = reason.chars().take(MAX_REASON).collect();
        let from = dir.sender();
        if !application && (0x100..0x200).contains(&code) {
            self.observer.quic_alert(dir, (code - 0x100) as u8, meta);
        } else {
            let (r, c) = (reason.clone(), code);
            self.observer.quic_event(dir, meta, || {
                format!("QUIC CONNECTION_CLOSE 0x{c:04x} {r}")
                    .trim_end()
                    .to_string()
            });
        }
        self.quic.close = Some(QuicClose {
            from,
            code: format!("0x{code:04x}"),
            application,
            reason,
            packet: meta.packet,
        });
    }

    fn finish(
        mut self,
        ordinal: u64,
        syns: &[(IpAddr, PacketRef)],
        latest: PacketRef,
        end_reason: EndReason,
        server_seen: bool,
    ) -> QuicFinished {
        let server_ip = self.server.ip();
        self.quic.tcp_fallback_packet = syns
            .iter()
            .find(|(ip, at)| *ip == server_ip && at.packet > self.first.packet)
            .map(|(_, at)| at.packet);
        if matches!(self.hs_keys, HsKeys::NoKey | HsKeys::Ready) {
            let status = match self.hs_keys {
                _ if self.hs_opened > 0 => DecryptionStatus::Ok,
                HsKeys::Ready if self.hs_failed > 0 => DecryptionStatus::Failed(
                    "QUIC Handshake packets did not authenticate with the logged secrets".into(),
                ),
                _ => DecryptionStatus::NoKey,
            };
            self.observer
                .quic_decryption(status, self.key_source.take());
        }
        let mut tcp = TcpSummary::of_datagrams(DatagramCounts {
            client: self.client,
            server: self.server,
            first: self.first,
            last: self.last,
            dir_packets: self.dir_packets,
            bytes: self.bytes,
            first_data: self.first_data,
            last_data: self.last_data,
            last_len: self.last_len,
            midstream: !self.saw_client_initial,
            carrier: self.carrier,
            end_reason,
            seen_until: latest,
            server_seen,
        });
        tcp.closed_by = self.quic.close.as_ref().map(|c| c.from);
        QuicFinished {
            ordinal,
            observer: self.observer,
            tcp,
            quic: self.quic,
        }
    }
}

/// The client's transport parameters worth showing (RFC 9000 §18.2), from a ClientHello body.
/// A `by_cid` key: the flow scope's 4 bytes, then the CID (at most 255 bytes: its length is
/// one byte on the wire), on the stack so that a lookup allocates nothing. Returns the buffer
/// and the key's length in it.
fn scoped(scope: u32, cid: &[u8]) -> ([u8; 4 + 255], usize) {
    let mut key = [0u8; 4 + 255];
    let cid = &cid[..cid.len().min(255)];
    key[..4].copy_from_slice(&scope.to_be_bytes());
    key[4..4 + cid.len()].copy_from_slice(cid);
    (key, 4 + cid.len())
}

fn client_transport_parameters(body: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(params) = hello_extension(body, &[0x39, 0xffa5]) else {
        return out;
    };
    let mut pos = 0;
    while pos < params.len() {
        let (Some(id), Some(len)) = (
            wire::varint(params, &mut pos),
            wire::varint(params, &mut pos),
        ) else {
            break;
        };
        let Some(value) = usize::try_from(len)
            .ok()
            .and_then(|l| params.get(pos..pos.checked_add(l)?))
        else {
            break;
        };
        pos += value.len();
        let name = match id {
            0x01 => "max_idle_timeout",
            0x03 => "max_udp_payload_size",
            0x04 => "initial_max_data",
            0x08 => "initial_max_streams_bidi",
            0x09 => "initial_max_streams_uni",
            0x0c => "disable_active_migration",
            0x0e => "active_connection_id_limit",
            0x11 => "version_information",
            0x20 => "max_datagram_frame_size",
            0x2ab2 => "grease_quic_bit",
            _ => continue,
        };
        let text = match id {
            0x0c | 0x2ab2 => "true".to_string(),
            0x11 => value
                .chunks_exact(4)
                .map(|c| wire::version_name(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect::<Vec<_>>()
                .join(","),
            _ => match wire::varint(value, &mut 0) {
                Some(v) => v.to_string(),
                None => continue,
            },
        };
        out.insert(name.to_string(), text);
    }
    out
}

/// The first of `types` among a ClientHello body's extensions.
fn hello_extension<'a>(body: &'a [u8], types: &[u16]) -> Option<&'a [u8]> {
    let be16 = |at: usize| {
        body.get(at..at + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let mut pos = 34; // legacy_version, random
    pos += 1 + usize::from(*body.get(pos)?); // session id
    pos += 2 + be16(pos)?; // cipher suites
    pos += 1 + usize::from(*body.get(pos)?); // compression methods
    let end = (pos + 2 + be16(pos)?).min(body.len());
    pos += 2;
    while pos + 4 <= end {
        let kind = be16(pos)? as u16;
        let len = be16(pos + 2)?;
        let data = body.get(pos + 4..pos + 4 + len)?;
        if types.contains(&kind) {
            return Some(data);
        }
        pos += 4 + len;
    }
    None
}
