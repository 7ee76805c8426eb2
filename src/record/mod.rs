//! The output records: the JSON contract of tlscap.
//!
//! Every record has a `type` field. Fields may be added in later versions, never renamed.

use crate::certs::CertInfo;
use crate::flow::{CloseKind, Side};
use crate::time::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod build;
mod codes;
mod finding;
mod kind;
/// DTLS facts are the `dtls` stage's own type.
pub use crate::dtls::DtlsRecord;
/// HTTP exchanges are the `http` stage's own type, carried as they are.
pub use crate::http::HttpRecord;
/// QUIC facts are the `quic` stage's own type, carried as they are.
pub use crate::quic::{QuicClose, QuicRecord};
pub use crate::tls::proxy::ProxyKind;
pub use codes::{name_or_dash, AlertDescription, AlertLevel, CipherSuite, Named, Version};
pub use finding::{Finding, Severity};
pub use kind::{Cause, FindingKind, UnknownFindingId};
use std::net::SocketAddr;
use std::sync::Arc;

/// One TLS alert as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AlertRecord {
    /// `client` or `server`.
    pub from: Side,
    /// `warning` or `fatal`; null when the alert was encrypted.
    #[schemars(with = "Option<String>")]
    pub level: Option<AlertLevel>,
    /// RFC name, e.g. `unknown_ca`; null when the alert was encrypted.
    #[schemars(with = "Option<String>")]
    pub description: Option<AlertDescription>,
    /// Sent after encryption started (level and description unreadable without keys).
    pub encrypted: bool,
    /// Packet the alert was seen in.
    pub packet: u64,
}

/// An ICMP or ICMPv6 error that quotes one of the connection's packets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IcmpRecord {
    /// Packet number of the ICMP message.
    pub packet: u64,
    /// Seconds from the connection's first packet to the ICMP message.
    pub time_s: f64,
    /// Its sender: the destination host itself, or a router on the way.
    pub from: std::net::IpAddr,
    /// `client` or `server`: who sent the packet it reports.
    pub sent_by: Side,
    /// What it says: `net-unreachable`, `host-unreachable`, `protocol-unreachable`,
    /// `port-unreachable`, `prohibited`, `unreachable`, `packet-too-big`, `ttl-exceeded`,
    /// `reassembly-time-exceeded`.
    pub kind: crate::net::IcmpKind,
    /// The next link's MTU, for `packet-too-big` (null otherwise).
    pub mtu: Option<u32>,
}

/// What decryption with a key log gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DecryptionRecord {
    /// `ok`, `no-key` or `failed`.
    pub status: String,
    /// Why decryption failed.
    pub reason: Option<String>,
    /// Where the secrets came from: `--keylog FILE`, `FILE (beside capture)` or `pcapng DSB`.
    pub key_source: Option<String>,
}

/// TCP facts of a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TcpRecord {
    /// SYNs the client sent (retransmissions included).
    pub syn: u32,
    /// The server answered the SYN with SYN-ACK.
    pub syn_ack: bool,
    /// The three-way handshake completed (or data flowed both ways on a connection picked up
    /// mid-stream).
    pub established: bool,
    /// Payload bytes client → server.
    pub client_bytes: u64,
    /// Payload bytes server → client.
    pub server_bytes: u64,
    /// Who closed first.
    pub closed_by: Option<Side>,
    /// `fin` or `rst`.
    pub close: Option<CloseKind>,
    /// Holes in the byte streams that the capture never filled.
    pub gaps: u32,
    /// Packets in the connection.
    pub packets: u64,
    /// Segments that repeated data already seen, and SYNs and SYN-ACKs sent again.
    pub retransmissions: u32,
    /// Connection was picked up without its SYN.
    pub midstream: bool,
    /// Segments that brought new data ahead of a hole (arrived before the bytes preceding
    /// them; not counted as retransmissions).
    pub out_of_order: u32,
    /// The MSS option each side announced in its SYN / SYN-ACK.
    pub mss: MssRecord,
}

/// The MSS each side announced (null: no SYN seen from it, or no MSS option in it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MssRecord {
    /// From the client's SYN.
    pub client: Option<u16>,
    /// From the server's SYN-ACK.
    pub server: Option<u16>,
}

thread_local! {
    /// Set while a record is encoded for storage ([`with_every_field`]).
    static EVERY_FIELD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every field serialised, including those the JSON contract leaves out when
/// empty: the spill's format (postcard) is not self-describing, so a reader must find every
/// field where the writer put it.
pub fn with_every_field<R>(f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            EVERY_FIELD.with(|e| e.set(false));
        }
    }
    EVERY_FIELD.with(|e| e.set(true));
    let _reset = Reset;
    f()
}

/// An address as `Display` writes it for people and JSON (without `core::fmt`: see
/// `text::AddrText`), serde's compact form in storage.
fn socket_addr<S: serde::Serializer>(a: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(crate::text::AddrText::of(*a).as_str())
    } else {
        a.serialize(s)
    }
}

thread_local! {
    /// Inside [`with_rendered_chains`]: the chains seen so far, and the bytes of JSON text
    /// kept for them.
    static RENDERED_CHAINS: std::cell::RefCell<Option<(Vec<RenderedChain>, usize)>> =
        const { std::cell::RefCell::new(None) };
}

/// JSON text of chains kept per [`with_rendered_chains`] scope; past it, further chains are
/// written field by field (a run of records cut at 4 MiB of encoded chains could otherwise
/// hold a second copy of all of them as text).
const RENDERED_CHAIN_BYTES: usize = 1 << 20;

/// A shared chain seen in this scope, and its JSON text (which sonic-rs writes as it is) from
/// its second record on.
type RenderedChain = (Arc<[CertInfo]>, Option<sonic_rs::OwnedLazyValue>);

/// Runs `f` with JSON chains rendered once per shared copy: records that point at the same
/// chain (most of a run's records repeat one) get the text rendered for the second of them,
/// where each would otherwise escape every certificate's fields again. A chain seen once is
/// written as before and not kept (captures of many distinct large chains hold no second
/// copy); the texts live until `f` returns.
pub fn with_rendered_chains<R>(f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            RENDERED_CHAINS.with(|c| c.borrow_mut().take());
        }
    }
    RENDERED_CHAINS.with(|c| *c.borrow_mut() = Some((Vec::new(), 0)));
    let _reset = Reset;
    f()
}

/// A chain as its shared copy's JSON inside [`with_rendered_chains`], else field by field.
fn shared_chain<S: serde::Serializer>(
    chain: &Option<Arc<[CertInfo]>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let Some(chain) = chain else {
        return s.serialize_none();
    };
    RENDERED_CHAINS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let Some((rendered, kept_bytes)) = cache.as_mut() else {
            return s.serialize_some(&**chain);
        };
        let Some((_, text)) = rendered.iter_mut().find(|(c, _)| Arc::ptr_eq(c, chain)) else {
            rendered.push((chain.clone(), None));
            return s.serialize_some(&**chain);
        };
        let json = match text {
            Some(json) => json,
            None if *kept_bytes < RENDERED_CHAIN_BYTES => {
                let json = sonic_rs::to_string(&**chain).map_err(serde::ser::Error::custom)?;
                *kept_bytes += json.len();
                text.insert(sonic_rs::from_str(&json).map_err(serde::ser::Error::custom)?)
            }
            None => return s.serialize_some(&**chain),
        };
        s.serialize_some(json)
    })
}

/// JSON leaves out an absent `decryption`, `carrier` or proxy field.
fn omitted_none<T>(v: &Option<T>) -> bool {
    v.is_none() && !EVERY_FIELD.with(|e| e.get())
}

/// JSON leaves out `transport` for TCP (every record before QUIC was TCP).
fn omitted_tcp(v: &Transport) -> bool {
    *v == Transport::Tcp && !EVERY_FIELD.with(|e| e.get())
}

/// What carried the handshake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TLS over TCP.
    #[default]
    Tcp,
    /// QUIC over UDP (TLS 1.3 inside QUIC's CRYPTO frames).
    Quic,
    /// DTLS over UDP.
    Dtls,
}

/// JSON leaves out an empty `http`.
fn omitted_empty<T>(v: &[T]) -> bool {
    v.is_empty() && !EVERY_FIELD.with(|e| e.get())
}

/// One word for how a connection went, from its handshake and findings (the table's Status).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionStatus {
    /// The handshake completed.
    Ok,
    /// A fatal alert.
    Alert,
    /// The SYN was answered by a RST.
    Refused,
    /// An ICMP error said the server cannot be reached (and it never answered).
    Unreachable,
    /// The SYN was never answered, or a request never was.
    Timeout,
    /// A peer reset the connection.
    Reset,
    /// The ClientHello was never answered.
    Stalled,
    /// The server answered with something that is not TLS.
    NotTls,
    /// Plain HTTP, reported for the credentials it carried.
    Cleartext,
    /// The capture does not show the end of the handshake (or no TLS at all).
    Incomplete,
}

impl ConnectionStatus {
    /// The word, e.g. `not-tls`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Ok => "ok",
            ConnectionStatus::Alert => "alert",
            ConnectionStatus::Refused => "refused",
            ConnectionStatus::Unreachable => "unreachable",
            ConnectionStatus::Timeout => "timeout",
            ConnectionStatus::Reset => "reset",
            ConnectionStatus::Stalled => "stalled",
            ConnectionStatus::NotTls => "not-tls",
            ConnectionStatus::Cleartext => "cleartext",
            ConnectionStatus::Incomplete => "incomplete",
        }
    }
}

impl std::fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ConnectionStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A record's `start`: RFC 3339 text for people and JSON, the plain timestamp in storage.
mod rfc3339 {
    use crate::time::Timestamp;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            match t.rfc3339_checked() {
                Some(text) => s.serialize_str(&text),
                None => s.serialize_none(),
            }
        } else {
            t.serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        if d.is_human_readable() {
            return Err(serde::de::Error::custom(
                "a start time is read back from storage only",
            ));
        }
        Timestamp::deserialize(d)
    }
}

/// Whether the capture shows a connection work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The handshake completed, data flowed, no fatal alert and no failing HTTP status.
    Ok,
    /// The connection (or its API call) failed; see `failed_at` and `cause`.
    Failed,
    /// The capture cannot tell (cut short, a direction missing).
    #[default]
    Unknown,
}

/// The stage a failed connection failed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailedAt {
    /// Before a TCP connection existed (refused, unanswered).
    Tcp,
    /// During the TLS handshake.
    Handshake,
    /// After the handshake: the request (an HTTP status, an unanswered request, a reset).
    Http,
}

/// The `type` of a connection record: always `"connection"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConnectionType {
    /// `"connection"`.
    #[default]
    #[serde(rename = "connection")]
    Connection,
}

/// One TCP connection that carried TLS or tried to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionRecord {
    /// Always `"connection"`.
    #[serde(rename = "type")]
    pub record_type: ConnectionType,
    /// The capture file.
    pub file: String,
    /// Connection number in file order (0-based, order of first packet, like `tcp.stream`).
    pub index: u64,
    /// 1-based number of the connection's first packet.
    pub first_packet: u64,
    /// Capture time of the first packet: RFC 3339 UTC in JSON and tables, null when the
    /// capture's time is outside what RFC 3339 can write (years 0000-9999).
    #[serde(with = "rfc3339")]
    #[schemars(with = "Option<String>")]
    pub start: Timestamp,
    /// Seconds from first to last packet (never negative).
    pub duration_s: f64,
    /// Client `ip:port` (`[v6]:port`).
    #[serde(serialize_with = "socket_addr")]
    pub client: SocketAddr,
    /// Server `ip:port`.
    #[serde(serialize_with = "socket_addr")]
    pub server: SocketAddr,
    /// The tunnels the connection travelled in, outermost first (`vxlan:42`, `gre`,
    /// `mpls:16,17`, `gtp-u:0x1f4`, nested: `gre/mpls:16`); absent when it was sent directly
    /// on the capture's link. `client` and `server` are the inner addresses.
    #[serde(default, skip_serializing_if = "omitted_none")]
    pub carrier: Option<String>,
    /// The proxy preamble in front of TLS: `http-connect`, `socks4`, `socks4a`, `socks5`,
    /// `proxy-v1`, `proxy-v2` (PROXY protocol); absent when there was none.
    #[serde(default, skip_serializing_if = "omitted_none")]
    #[schemars(with = "Option<String>")]
    pub proxy_kind: Option<ProxyKind>,
    /// The proxy the client spoke to (`ip:port`): the server for CONNECT and SOCKS, the client
    /// (a load balancer) for the PROXY protocol.
    #[serde(default, skip_serializing_if = "omitted_none")]
    pub proxy: Option<String>,
    /// Where the tunnel goes (`host:port` as the client asked for it; for the PROXY protocol,
    /// the address the original client connected to).
    #[serde(default, skip_serializing_if = "omitted_none")]
    pub target: Option<String>,
    /// The original client a PROXY protocol header names.
    #[serde(default, skip_serializing_if = "omitted_none")]
    pub original_client: Option<SocketAddr>,
    /// server_name from the ClientHello.
    pub sni: Option<String>,
    /// ALPN protocols the client offered.
    pub alpn_offered: Vec<String>,
    /// ALPN protocol the server selected (null when not visible, e.g. TLS 1.3 without keys).
    pub alpn: Option<String>,
    /// Versions the client offered (supported_versions, else the ClientHello version).
    #[schemars(with = "Vec<String>")]
    pub versions_offered: Vec<Version>,
    /// Negotiated version.
    #[schemars(with = "Option<String>")]
    pub version: Option<Version>,
    /// Negotiated cipher suite, IANA name.
    #[schemars(with = "Option<String>")]
    pub cipher: Option<CipherSuite>,
    /// Session resumed (TLS 1.2 session id / ticket, TLS 1.3 PSK).
    pub resumed: bool,
    /// The server sent a HelloRetryRequest.
    pub hello_retry: bool,
    /// Server sent CertificateRequest (null when it cannot be seen).
    pub cert_requested: Option<bool>,
    /// Client sent a non-empty Certificate (null when it cannot be seen).
    pub client_cert_sent: Option<bool>,
    /// Server certificates as sent (null when not visible). Shared: connections that sent the
    /// same chain point at one copy.
    #[schemars(with = "Option<Vec<CertInfo>>")]
    #[serde(serialize_with = "shared_chain")]
    pub server_chain: Option<Arc<[CertInfo]>>,
    /// Client certificates as sent (null when not visible).
    #[schemars(with = "Option<Vec<CertInfo>>")]
    #[serde(serialize_with = "shared_chain")]
    pub client_chain: Option<Arc<[CertInfo]>>,
    /// Server stapled an OCSP response.
    pub ocsp_stapled: bool,
    /// Alerts seen.
    pub alerts: Vec<AlertRecord>,
    /// TCP facts.
    pub tcp: TcpRecord,
    /// JA3 hash of the ClientHello.
    pub ja3: Option<String>,
    /// FoxIO JA4 of the ClientHello.
    pub ja4: Option<String>,
    /// Path validation of the server chain: `trusted`, `incomplete`, `untrusted`,
    /// `bad-signature`, `invalid: <reason>`, `empty`; null when no chain was seen.
    pub chain_status: Option<String>,
    /// One-word state of the connection.
    pub status: ConnectionStatus,
    /// Whether the capture shows the connection work, fail, or cannot tell.
    pub outcome: Outcome,
    /// Where a failed connection failed (null unless `outcome` is `failed`).
    pub failed_at: Option<FailedAt>,
    /// The id of the finding that explains the failure, or `unknown` (null unless `outcome` is
    /// `failed`).
    #[schemars(with = "Option<String>")]
    pub cause: Option<Cause>,
    /// Diagnoses.
    pub findings: Vec<Finding>,
    /// Decryption with a key log (absent when no key log applies).
    #[serde(default, skip_serializing_if = "omitted_none")]
    pub decryption: Option<DecryptionRecord>,
    /// The first HTTP exchanges (absent when none was read).
    #[serde(default, skip_serializing_if = "omitted_empty")]
    pub http: Vec<HttpRecord>,
    /// `quic` or `dtls` for a connection over UDP (absent for TCP).
    #[serde(default, skip_serializing_if = "omitted_tcp")]
    pub transport: Transport,
    /// QUIC facts (absent for TCP).
    #[serde(default, skip_serializing_if = "omitted_none")]
    pub quic: Option<Box<QuicRecord>>,
    /// DTLS facts (absent unless `transport` is `dtls`).
    #[serde(default, skip_serializing_if = "omitted_none")]
    pub dtls: Option<Box<DtlsRecord>>,
    /// ICMP errors about the connection's packets (absent when there were none).
    #[serde(default, skip_serializing_if = "omitted_empty")]
    pub icmp: Vec<IcmpRecord>,
}

impl ConnectionRecord {
    /// The capture holds the connection's ClientHello (a ClientHello always offers a version).
    pub fn client_hello_seen(&self) -> bool {
        !self.versions_offered.is_empty()
    }

    /// The SNI as tables show it: `(no SNI)` only for a ClientHello seen without one, and
    /// `(no ClientHello)` where the capture holds none (a connection picked up mid-stream, or
    /// one that never started TLS), which says nothing about its SNI.
    pub fn sni_shown(&self) -> &str {
        match (&self.sni, self.client_hello_seen()) {
            (Some(sni), _) => sni,
            (None, true) => "(no SNI)",
            (None, false) => "(no ClientHello)",
        }
    }

    /// The target of a CONNECT or SOCKS tunnel (`host:port` as the client asked for it): the
    /// TLS server of this connection, which the TCP peer (the proxy) only carries. None without
    /// a tunnel, and for the PROXY protocol, whose target is the load balancer's own address.
    pub fn tunnel_target(&self) -> Option<&str> {
        if self.proxy_kind?.is_tunnel() {
            self.target.as_deref()
        } else {
            None
        }
    }

    /// The TLS server as people name it: a tunnel's target with the proxy that carried it
    /// (`api.example.com:443 via SOCKS5 proxy 10.0.0.1:1080`), else the TCP peer.
    pub fn server_named(&self) -> String {
        match self.tunnel_target() {
            Some(target) => format!("{target} via {}", self.proxy_named()),
            None => crate::text::AddrText::of(self.server).as_str().to_owned(),
        }
    }

    /// `HTTP proxy 10.0.0.1:3128`, `SOCKS5 proxy ...`: the proxy of a tunnel, as carrier.
    pub fn proxy_named(&self) -> String {
        let kind = match self.proxy_kind {
            Some(ProxyKind::HttpConnect) => "HTTP",
            Some(ProxyKind::Socks4 | ProxyKind::Socks4a) => "SOCKS4",
            Some(ProxyKind::Socks5) => "SOCKS5",
            _ => "",
        };
        let proxy = self
            .proxy
            .clone()
            .unwrap_or_else(|| crate::text::AddrText::of(self.server).as_str().to_owned());
        format!("{kind} proxy {proxy}").trim_start().to_string()
    }
}
