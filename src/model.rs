//! The output records: the JSON contract of tlscap.
//!
//! Every record has a `type` field. Fields may be added in later versions, never renamed.

use crate::certs::CertInfo;
use crate::findings::Finding;
use crate::flow::{CloseKind, Side};
use serde::Serialize;
use std::sync::Arc;

/// One TLS alert as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRecord {
    /// `client` or `server`.
    pub from: Side,
    /// `warning` or `fatal`; null when the alert was encrypted.
    pub level: Option<String>,
    /// RFC name, e.g. `unknown_ca`; null when the alert was encrypted.
    pub description: Option<String>,
    /// Sent after encryption started (level and description unreadable without keys).
    pub encrypted: bool,
    /// Packet the alert was seen in.
    pub packet: u64,
}

/// What decryption with a key log gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecryptionRecord {
    /// `ok`, `no-key` or `failed`.
    pub status: String,
    /// Why decryption failed.
    pub reason: Option<String>,
    /// Where the secrets came from: `--keylog FILE`, `FILE (beside capture)` or `pcapng DSB`.
    pub key_source: Option<String>,
}

/// One HTTP request and its response, read from decrypted (or cleartext) application data.
/// Query values and credentials are never included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpRecord {
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`.
    pub version: String,
    /// Request method.
    pub method: Option<String>,
    /// Request path with query values redacted (`?token=<redacted>`).
    pub path: Option<String>,
    /// Host header / `:authority`.
    pub host: Option<String>,
    /// Response status code.
    pub status: Option<u16>,
    /// How the request authenticated: `basic`, `bearer`, `hmac-header`, `hmac-query`,
    /// `api-key`, `client-certificate`, `none` (several joined with `+`).
    pub auth: String,
    /// Packet that carried the request.
    pub request_packet: Option<u64>,
    /// Packet that carried the response.
    pub response_packet: Option<u64>,
}

/// TCP facts of a connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// Segments that repeated data already seen.
    pub retransmissions: u32,
    /// Connection was picked up without its SYN.
    pub midstream: bool,
    /// Segments that brought new data ahead of a hole (arrived before the bytes preceding
    /// them; not counted as retransmissions).
    pub out_of_order: u32,
}

/// One TCP connection that carried TLS or tried to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionRecord {
    /// Always `"connection"`.
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// The capture file.
    pub file: String,
    /// Connection number in file order (0-based, order of first packet, like `tcp.stream`).
    pub index: u64,
    /// 1-based number of the connection's first packet.
    pub first_packet: u64,
    /// Capture time of the first packet, RFC 3339 UTC; None (`null`) when the capture's time
    /// is outside what RFC 3339 can write (years 0000-9999).
    pub start: Option<String>,
    /// Seconds from first to last packet (never negative).
    pub duration_s: f64,
    /// Client `ip:port` (`[v6]:port`).
    pub client: String,
    /// Server `ip:port`.
    pub server: String,
    /// server_name from the ClientHello.
    pub sni: Option<String>,
    /// ALPN protocols the client offered.
    pub alpn_offered: Vec<String>,
    /// ALPN protocol the server selected (null when not visible, e.g. TLS 1.3 without keys).
    pub alpn: Option<String>,
    /// Versions the client offered (supported_versions, else the ClientHello version).
    pub versions_offered: Vec<String>,
    /// Negotiated version.
    pub version: Option<String>,
    /// Negotiated cipher suite, IANA name.
    pub cipher: Option<String>,
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
    pub server_chain: Option<Arc<[CertInfo]>>,
    /// Client certificates as sent (null when not visible).
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
    /// One-word state: `ok`, `alert`, `refused`, `timeout`, `reset`, `stalled`, `not-tls`, `incomplete`.
    pub status: String,
    /// Diagnoses.
    pub findings: Vec<Finding>,
    /// Decryption with a key log (absent when no key log applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<DecryptionRecord>,
    /// The first HTTP exchanges (absent when none was read).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpRecord>,
}
