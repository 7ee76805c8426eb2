//! DTLS: UDP datagrams → one TLS handshake per DTLS association.
//!
//! DTLS (1.0 RFC 4347, 1.2 RFC 6347, 1.3 RFC 9147) is TLS over datagrams: each record carries
//! an epoch and sequence number, handshake messages are numbered and cut into fragments, and
//! lost flights are sent again. The handshake is plaintext until the ChangeCipherSpec (1.0,
//! 1.2) or the ServerHello (1.3), so hellos, certificates, CertificateRequest and alerts are
//! readable without keys. [`wire`] reads records and fragments, [`handshake`] joins fragments
//! into whole messages, which go to the tls stage's own decoder
//! ([`TlsObserver::dtls_message`]) in TLS framing; [`DtlsTable`] keeps the associations, found
//! by address pair. WebRTC multiplexes STUN and RTP on the same ports (RFC 7983): datagrams of
//! an association that are not DTLS are counted, not read.

mod handshake;
pub mod wire;

use crate::flow::{DatagramCounts, Direction, EndReason, PacketRef, SegmentMeta, TcpSummary};
use crate::net::UdpDatagram;
use crate::tls::{DtlsOpened, ObserverConfig, TlsObserver};
use handshake::{Reassembly, Step};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// What the DTLS stage adds to a connection's record (`dtls` in JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DtlsRecord {
    /// Record-layer version of the first record seen (`DTLS 1.0`, `DTLS 1.2`).
    pub record_version: String,
    /// The server asked the client to prove its address (HelloVerifyRequest), at this packet.
    pub hello_verify_request_packet: Option<u64>,
    /// The client's ClientHello that returned the server's cookie, at this packet.
    pub cookie_echo_packet: Option<u64>,
    /// Handshake fragments the client sent again (its flight was retransmitted: the server's
    /// answer was lost or never came).
    pub client_retransmissions: u32,
    /// Handshake fragments the server sent again.
    pub server_retransmissions: u32,
    /// Datagrams from the server.
    pub server_datagrams: u64,
    /// Protected records (epoch above 0) per direction, client first.
    pub protected_records: [u64; 2],
    /// DTLS 1.3 records with the unified header (RFC 9147 §4) per direction, client first.
    #[serde(default)]
    pub unified_records: [u64; 2],
    /// Records carrying a connection ID (DTLS 1.3 C bit, DTLS 1.2 `tls12_cid`) per direction.
    #[serde(default)]
    pub cid_records: [u64; 2],
    /// DTLS 1.3 records decrypted with the key log per direction.
    #[serde(default)]
    pub decrypted_records: [u64; 2],
    /// Records with the unified header or a connection ID left encrypted per direction: no
    /// key log secrets for their epoch, a connection ID whose length the capture did not
    /// show, DTLS 1.2 `tls12_cid` (not decrypted here), or a record that did not
    /// authenticate. The ladder says so at the first of each direction.
    #[serde(default)]
    pub unread_records: [u64; 2],
    /// Datagrams on the association's addresses that were not DTLS (STUN and RTP on the same
    /// ports in WebRTC) or held a record cut short.
    pub other_datagrams: u64,
    /// Handshake messages not joined (over the size limit, or too many pending at once).
    pub dropped_messages: u32,
    /// The server side sent a ClientHello of its own, at this packet: both peers took the
    /// client role.
    pub server_client_hello_packet: Option<u64>,
}

/// Limits of the DTLS stage.
#[derive(Debug, Clone)]
pub struct DtlsConfig {
    /// TLS observer settings.
    pub observer: ObserverConfig,
    /// Associations tracked at once; datagrams that would open more are ignored.
    pub max_connections: usize,
}

impl Default for DtlsConfig {
    fn default() -> Self {
        DtlsConfig {
            observer: ObserverConfig::default(),
            max_connections: 100_000,
        }
    }
}

/// A DTLS association that ended (idle, or the capture ended), ready for the record builder.
#[derive(Debug)]
pub struct DtlsFinished {
    /// Its place among the file's DTLS associations, in order of first packet (0, 1, ...).
    pub ordinal: u64,
    /// The handshake as the tls stage saw it.
    pub observer: Box<TlsObserver>,
    /// Datagram facts in the shape the record builder and the rules read.
    pub tcp: TcpSummary,
    /// DTLS facts.
    pub dtls: DtlsRecord,
}

/// One association's state.
#[derive(Debug)]
struct Conn {
    client: SocketAddr,
    server: SocketAddr,
    observer: Box<TlsObserver>,
    flights: [Reassembly; 2],
    /// A ClientHello was handed to the observer (a second one only echoes a cookie).
    client_hello_seen: bool,
    first: PacketRef,
    last: PacketRef,
    dir_packets: [u64; 2],
    bytes: [u64; 2],
    first_data: [Option<PacketRef>; 2],
    last_data: [Option<PacketRef>; 2],
    last_len: [u32; 2],
    dtls: DtlsRecord,
    /// The client's first ClientHello was seen (else the association was picked up later).
    saw_client_hello: bool,
    /// The tunnels the first datagram came in.
    carrier: crate::net::Carrier,
    /// Per sending direction: the length of the connection ID its records carry, which the
    /// receiver chose in its hello (None: not negotiated, or the hello was not seen).
    cid_len: [Option<usize>; 2],
    /// The ladder said that records of this direction are left encrypted.
    unread_noted: [bool; 2],
}

/// Every DTLS association of one capture.
#[derive(Debug)]
pub struct DtlsTable {
    cfg: DtlsConfig,
    /// By ordinal; None once ended.
    conns: Vec<Option<Box<Conn>>>,
    live: usize,
    next_sweep: i64,
    /// (flow scope, client, server) → association: the scope (a VNI, see
    /// [`crate::net::Carrier::flow_scope`]) keeps two tenants' overlays apart.
    by_pair: crate::FastMap<(u32, SocketAddr, SocketAddr), usize>,
    latest: PacketRef,
    /// Some association had a datagram from its server.
    server_seen: bool,
    /// Bytes of partial handshake messages held by all associations (at most [`HELD_BUDGET`]).
    held: usize,
}

/// Largest handshake message joined (a certificate chain is a few KiB; the size is declared by
/// the first fragment, so a larger claim is refused before anything is allocated).
const MAX_MESSAGE: usize = 256 << 10;
/// Bytes of partial messages held across all associations of a table.
const HELD_BUDGET: usize = 64 << 20;

/// Seconds of capture time without a datagram after which an association ends.
const IDLE_SECS: i64 = 60;
/// Seconds of capture time between looks for idle associations.
const SWEEP_SECS: i64 = 10;

/// Whether a datagram's first byte can start a DTLS record (RFC 7983's demultiplexing range).
#[inline]
pub fn may_be_dtls(payload: &[u8]) -> bool {
    matches!(payload.first(), Some(20..=63))
}

/// The DTLS records of a CAPWAP datagram (RFC 5415 §4.1: control port 5246, data port 5247):
/// after the 4-byte preamble whose type 1 says DTLS follows.
fn capwap_dtls<'a>(d: &UdpDatagram<'a>) -> Option<&'a [u8]> {
    let capwap = |p: u16| p == 5246 || p == 5247;
    if !(capwap(d.src.port()) || capwap(d.dst.port())) || d.payload.first() != Some(&0x01) {
        return None;
    }
    d.payload.get(4..)
}

impl DtlsTable {
    /// An empty table.
    pub fn new(cfg: DtlsConfig) -> Self {
        DtlsTable {
            cfg,
            conns: Vec::new(),
            live: 0,
            next_sweep: i64::MIN,
            by_pair: Default::default(),
            latest: PacketRef {
                packet: 0,
                ts: Default::default(),
            },
            server_seen: false,
            held: 0,
        }
    }

    /// Associations opened so far (the records' ordinals run below this).
    pub fn opened(&self) -> u64 {
        self.conns.len() as u64
    }

    /// One UDP datagram. Returns false when it belongs to no association and does not open
    /// one (so another stage may read it). Associations that idled out go to `ended`.
    pub fn on_datagram(
        &mut self,
        meta: SegmentMeta,
        d: &UdpDatagram<'_>,
        ended: &mut dyn FnMut(DtlsFinished),
    ) -> bool {
        let at = PacketRef {
            packet: meta.packet,
            ts: meta.ts,
        };
        self.latest = at;
        if meta.ts.secs >= self.next_sweep {
            self.next_sweep = meta.ts.secs.saturating_add(SWEEP_SECS);
            self.sweep(ended);
        }
        let scope = crate::net::flow_scope(d.carrier);
        let known = self
            .by_pair
            .get(&(scope, d.src, d.dst))
            .map(|&i| (i, Direction::ToServer))
            .or_else(|| {
                self.by_pair
                    .get(&(scope, d.dst, d.src))
                    .map(|&i| (i, Direction::ToClient))
            });
        let payload = capwap_dtls(d).unwrap_or(d.payload);
        if known.is_none() && !may_be_dtls(payload) {
            return false;
        }
        let cid_len = known.and_then(|(i, dir)| self.conns.get(i)?.as_deref()?.cid_len[dir.idx()]);
        let (records, whole) = wire::records(payload, cid_len);
        let (i, dir) = match known {
            Some(found) => found,
            None => match self.open(d, meta, &records, whole) {
                Some(found) => found,
                None => return false,
            },
        };
        let Some(conn) = self.conns.get_mut(i).and_then(|c| c.as_deref_mut()) else {
            return true;
        };
        conn.count(dir, at, d);
        if dir == Direction::ToClient {
            self.server_seen = true;
        }
        if records.is_empty() || !whole {
            conn.dtls.other_datagrams += 1;
        }
        for r in &records {
            conn.record(dir, r, meta, &self.cfg, &mut self.held);
        }
        true
    }

    /// Opens an association for a datagram that is DTLS beyond doubt: every byte in records
    /// with a DTLS version, at least one with the 13-byte header. The sender of a ClientHello
    /// is the client; an association picked up later takes the sender with the higher port as
    /// the client (ephemeral ports are high).
    fn open(
        &mut self,
        d: &UdpDatagram<'_>,
        meta: SegmentMeta,
        records: &[wire::Record<'_>],
        whole: bool,
    ) -> Option<(usize, Direction)> {
        if !whole || self.live >= self.cfg.max_connections {
            return None;
        }
        let first_plain = records.iter().find(|r| !r.unified)?;
        let hello = records.iter().any(|r| {
            r.content_type == wire::HANDSHAKE
                && r.epoch == 0
                && wire::fragments(r.fragment)
                    .first()
                    .is_some_and(|f| f.msg_type == wire::CLIENT_HELLO)
        });
        let (client, server) = if hello || d.src.port() >= d.dst.port() {
            (d.src, d.dst)
        } else {
            (d.dst, d.src)
        };
        let mut observer = TlsObserver::for_dtls(self.cfg.observer.clone());
        let dir = if client == d.src {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let version = first_plain.version;
        if !hello {
            observer.dtls_event(dir, meta, || {
                format!(
                    "{} records of an association already under way",
                    wire::version_name(version)
                )
            });
        }
        let unset = PacketRef {
            packet: 0,
            ts: Default::default(),
        };
        let i = self.conns.len();
        self.conns.push(Some(Box::new(Conn {
            client,
            server,
            observer: Box::new(observer),
            flights: Default::default(),
            client_hello_seen: false,
            first: unset,
            last: unset,
            dir_packets: [0; 2],
            bytes: [0; 2],
            first_data: [None; 2],
            last_data: [None; 2],
            last_len: [0; 2],
            dtls: DtlsRecord {
                record_version: wire::version_name(version).to_string(),
                ..Default::default()
            },
            saw_client_hello: hello,
            carrier: d.carrier.copied().unwrap_or_default(),
            cid_len: [None; 2],
            unread_noted: [false; 2],
        })));
        self.live += 1;
        self.by_pair
            .insert((crate::net::flow_scope(d.carrier), client, server), i);
        Some((i, dir))
    }

    /// Ends every association (capture end), in order of first packet.
    pub fn finish(self) -> Vec<DtlsFinished> {
        let latest = self.latest;
        let server_seen = self.server_seen;
        self.conns
            .into_iter()
            .enumerate()
            .filter_map(|(i, c)| {
                Some(c?.finish(i as u64, latest, EndReason::CaptureEnd, server_seen))
            })
            .collect()
    }

    /// Ends the associations idle for [`IDLE_SECS`].
    fn sweep(&mut self, ended: &mut dyn FnMut(DtlsFinished)) {
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
                    self.held -= c.held();
                    any = true;
                    ended(c.finish(i as u64, self.latest, EndReason::Idle, self.server_seen));
                }
            }
        }
        if any {
            let conns = &self.conns;
            self.by_pair
                .retain(|_, i| conns.get(*i).is_some_and(Option::is_some));
        }
    }
}

impl Conn {
    /// Bytes of partial handshake messages this association holds.
    fn held(&self) -> usize {
        self.flights.iter().map(Reassembly::held).sum()
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
            self.dtls.server_datagrams += 1;
        }
    }

    /// One record of a datagram.
    fn record(
        &mut self,
        dir: Direction,
        r: &wire::Record<'_>,
        meta: SegmentMeta,
        cfg: &DtlsConfig,
        table_held: &mut usize,
    ) {
        let i = dir.idx();
        if r.epoch > 0 || r.unified {
            self.dtls.protected_records[i] += 1;
        }
        if r.has_cid {
            self.dtls.cid_records[i] += 1;
        }
        if r.unified {
            self.unified(dir, r, meta, cfg, table_held);
            return;
        }
        if r.content_type == wire::TLS12_CID {
            // RFC 9146's additional data and inner plaintext are not implemented.
            self.unread(dir, meta, || {
                "DTLS 1.2 records with a connection ID (tls12_cid): encrypted, not read".into()
            });
            self.observer
                .dtls_record(dir, r.content_type, r.epoch.max(1), r.fragment, meta);
            return;
        }
        if r.epoch > 0 {
            let opened = self.observer.dtls_decrypt(
                dir,
                r.content_type,
                r.version,
                r.epoch,
                r.seq,
                r.fragment,
                meta,
            );
            match opened {
                DtlsOpened::NoKeys => {}
                DtlsOpened::Taken | DtlsOpened::Failed => return,
                DtlsOpened::Handshake(plain) => {
                    self.fragments(dir, &plain, meta, cfg, table_held);
                    return;
                }
            }
        }
        if r.content_type != wire::HANDSHAKE || r.epoch > 0 || r.unified {
            self.observer.dtls_record(
                dir,
                r.content_type,
                r.epoch.max(u16::from(r.unified)),
                r.fragment,
                meta,
            );
            return;
        }
        self.fragments(dir, r.fragment, meta, cfg, table_held);
    }

    /// A DTLS 1.3 record with the unified header: decrypted when the key log has the
    /// secrets of its epoch, else counted as left encrypted (and said once in the ladder).
    fn unified(
        &mut self,
        dir: Direction,
        r: &wire::Record<'_>,
        meta: SegmentMeta,
        cfg: &DtlsConfig,
        table_held: &mut usize,
    ) {
        let i = dir.idx();
        self.dtls.unified_records[i] += 1;
        if r.cid_unknown {
            self.unread(dir, meta, || {
                "DTLS 1.3 records with a connection ID of unknown length (the hellos were not \
                 seen): encrypted, not read"
                    .into()
            });
        } else if self.observer.dtls13_keys(dir, r.epoch) {
            let seq = (r.seq_at, r.seq_len);
            match self
                .observer
                .dtls13_decrypt(dir, r.epoch, r.header, seq, r.fragment, meta)
            {
                DtlsOpened::Handshake(plain) => {
                    self.dtls.decrypted_records[i] += 1;
                    self.fragments(dir, &plain, meta, cfg, table_held);
                }
                DtlsOpened::Taken => self.dtls.decrypted_records[i] += 1,
                DtlsOpened::Failed | DtlsOpened::NoKeys => self.dtls.unread_records[i] += 1,
            }
            return;
        } else {
            let epoch = r.epoch;
            self.unread(dir, meta, || {
                let why = match epoch {
                    2 => "no key log secrets for its handshake",
                    3 => "no key log secrets for its application data",
                    1 => "0-RTT data",
                    _ => "an epoch after a KeyUpdate",
                };
                format!("DTLS 1.3 records encrypted, not read ({why})")
            });
        }
        // The real content type is inside the protection: counted as application data.
        self.observer.dtls_record(
            dir,
            wire::APPLICATION_DATA,
            r.epoch.max(1),
            r.fragment,
            meta,
        );
    }

    /// A protected record left encrypted: counted, and the ladder says why at the first of
    /// its direction.
    fn unread(&mut self, dir: Direction, meta: SegmentMeta, why: impl FnOnce() -> String) {
        let i = dir.idx();
        self.dtls.unread_records[i] += 1;
        if !self.unread_noted[i] {
            self.unread_noted[i] = true;
            self.observer.dtls_event(dir, meta, why);
        }
    }

    /// The handshake fragments of a record's payload (epoch 0, or decrypted), joined into
    /// messages.
    fn fragments(
        &mut self,
        dir: Direction,
        payload: &[u8],
        meta: SegmentMeta,
        cfg: &DtlsConfig,
        table_held: &mut usize,
    ) {
        let limit = cfg.observer.max_handshake_message.min(MAX_MESSAGE);
        for f in wire::fragments(payload) {
            let flight = &mut self.flights[dir.idx()];
            let before = flight.held();
            let step = flight.add(&f, limit, HELD_BUDGET.saturating_sub(*table_held));
            *table_held = *table_held - before + flight.held();
            match step {
                Step::Delivered(messages) => {
                    for (msg_type, body) in messages {
                        self.message(dir, msg_type, &body, meta);
                    }
                }
                Step::Repeated => {
                    if dir == Direction::ToServer {
                        self.dtls.client_retransmissions += 1;
                    } else {
                        self.dtls.server_retransmissions += 1;
                    }
                }
                Step::Held => {}
                Step::Dropped { length } => {
                    self.dtls.dropped_messages += 1;
                    self.observer.dtls_event(dir, meta, || {
                        format!("handshake message of {length} bytes not joined (over the limit)")
                    });
                }
            }
        }
    }

    /// A whole handshake message.
    fn message(&mut self, dir: Direction, msg_type: u8, body: &[u8], meta: SegmentMeta) {
        // A hello's connection ID is the one its sender receives: the peer's records carry it.
        if let (Direction::ToServer, wire::CLIENT_HELLO) | (Direction::ToClient, 2) =
            (dir, msg_type)
        {
            if let Some(cid) = wire::hello_connection_id(msg_type, body) {
                self.cid_len[dir.reverse().idx()] = Some(cid.len());
            }
        }
        match (dir, msg_type) {
            (Direction::ToClient, wire::HELLO_VERIFY_REQUEST) => {
                self.dtls
                    .hello_verify_request_packet
                    .get_or_insert(meta.packet);
                let cookie = body.get(2).copied().unwrap_or(0);
                self.observer.dtls_event(dir, meta, || {
                    format!("HelloVerifyRequest (cookie of {cookie} bytes)")
                });
                return;
            }
            (Direction::ToServer, wire::CLIENT_HELLO) if self.client_hello_seen => {
                // The same hello again with the server's cookie (RFC 6347 §4.2.1).
                let cookie = wire::client_hello_cookie_len(body).unwrap_or(0);
                if cookie > 0 {
                    self.dtls.cookie_echo_packet.get_or_insert(meta.packet);
                }
                self.observer.dtls_event(dir, meta, || {
                    format!("ClientHello again (cookie of {cookie} bytes)")
                });
                return;
            }
            (Direction::ToServer, wire::CLIENT_HELLO) => self.client_hello_seen = true,
            (Direction::ToClient, wire::CLIENT_HELLO) => {
                self.dtls
                    .server_client_hello_packet
                    .get_or_insert(meta.packet);
            }
            _ => {}
        }
        if let Some(msg) = wire::tls_message(msg_type, body) {
            self.observer.dtls_message(dir, &msg, meta);
        }
    }

    fn finish(
        self,
        ordinal: u64,
        latest: PacketRef,
        end_reason: EndReason,
        server_seen: bool,
    ) -> DtlsFinished {
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
            midstream: !self.saw_client_hello,
            carrier: self.carrier,
            end_reason,
            seen_until: latest,
            server_seen,
        });
        tcp.retransmissions = self.dtls.client_retransmissions + self.dtls.server_retransmissions;
        DtlsFinished {
            ordinal,
            observer: self.observer,
            tcp,
            dtls: self.dtls,
        }
    }
}
