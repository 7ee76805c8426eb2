//! TLS records and handshake messages, recognised by content on any port.
//!
//! [`TlsObserver`] is the [`StreamHandler`](crate::flow::StreamHandler) of one connection: it
//! frames records in each direction (records spanning segments, several per segment), joins
//! handshake messages fragmented across records (with a size cap), decodes the handshake with
//! tls-parser, and stops buffering a direction once it turns encrypted. [`TlsObserver::finish`]
//! yields a plain [`HandshakeSummary`].

use crate::flow::{Direction, SegmentMeta, Side};

mod decrypt;
/// TLS 1.3 key derivation, shared with QUIC (RFC 9001 derives its keys the same way).
pub(crate) use decrypt::{hkdf_expand_label, Hash as HkdfHash};
pub mod fingerprint;
mod handshake;
pub mod keylog;
pub mod names;
mod observer;
pub mod proxy;
mod sslv2;
pub use decrypt::DecryptionStatus;
pub use observer::{DtlsOpened, ObserverConfig, TlsObserver};

/// What decryption with a key log gave for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decryption {
    /// `ok`, `no-key` or `failed` (with the reason).
    pub status: DecryptionStatus,
    /// The key log the secrets came from (e.g. `--keylog x.keys`, `pcapng DSB`).
    pub key_source: Option<String>,
}

/// The first decrypted (or cleartext) application bytes of one direction, for the HTTP reader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppData {
    /// The bytes, in order (bounded).
    pub bytes: Vec<u8>,
    /// `(offset in bytes, packet)` where each record's data starts.
    pub packets: Vec<(usize, SegmentMeta)>,
    /// More data followed than was kept.
    pub truncated: bool,
}

impl AppData {
    /// The packet that carried the byte at `offset`.
    pub fn packet_at(&self, offset: usize) -> u64 {
        let i = self.packets.partition_point(|(o, _)| *o <= offset);
        i.checked_sub(1)
            .and_then(|i| self.packets.get(i))
            .map(|p| p.1.packet)
            .unwrap_or(0)
    }

    /// The capture time of `packet`, if it carried some of these bytes.
    pub fn time_of(&self, packet: u64) -> Option<crate::time::Timestamp> {
        self.packets
            .iter()
            .find(|(_, m)| m.packet == packet)
            .map(|(_, m)| m.ts)
    }
}

/// A decoded ClientHello (TLS, or SSLv2-format).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHello {
    /// Where it completed.
    pub meta: SegmentMeta,
    /// Came in SSLv2 record format.
    pub sslv2: bool,
    /// `legacy_version` (client_version).
    pub legacy_version: u16,
    /// Client random.
    pub random: Vec<u8>,
    /// Legacy session id.
    pub session_id: Vec<u8>,
    /// Cipher suites in order, GREASE included.
    pub ciphers: Vec<u16>,
    /// Extension types in order, GREASE included.
    pub extensions: Vec<u16>,
    /// server_name (host_name entry), if present.
    pub sni: Option<String>,
    /// ALPN protocols offered, in order (lossy UTF-8).
    pub alpn: Vec<String>,
    /// The first ALPN protocol as raw bytes (JA4 looks at its exact first and last bytes).
    pub alpn_first_raw: Option<Vec<u8>>,
    /// supported_versions, in order, GREASE included.
    pub supported_versions: Vec<u16>,
    /// signature_algorithms, in order.
    pub signature_algorithms: Vec<u16>,
    /// supported_groups, in order, GREASE included.
    pub groups: Vec<u16>,
    /// ec_point_formats.
    pub ec_point_formats: Vec<u8>,
    /// Carries a pre_shared_key extension (TLS 1.3 resumption attempt).
    pub psk: bool,
    /// Carries a non-empty session_ticket extension (TLS 1.2 ticket resumption attempt).
    pub session_ticket: bool,
    /// Asked for OCSP stapling (status_request).
    pub status_request: bool,
    /// The groups of the key_share entries, in order, GREASE included (TLS 1.3).
    pub key_shares: Vec<u16>,
    /// Length of the handshake message, header included: a post-quantum key share makes it
    /// longer than one TCP segment.
    pub len: u32,
}

/// A decoded ServerHello (or HelloRetryRequest).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerHello {
    /// Where it completed.
    pub meta: SegmentMeta,
    /// `legacy_version`.
    pub legacy_version: u16,
    /// Negotiated version: supported_versions extension if present, else legacy_version.
    pub version: u16,
    /// Selected cipher suite.
    pub cipher: u16,
    /// Legacy session id echo.
    pub session_id: Vec<u8>,
    /// Extension types in order.
    pub extensions: Vec<u16>,
    /// ALPN protocol selected (visible here up to TLS 1.2; in TLS 1.3 it is encrypted).
    pub alpn: Option<String>,
    /// This is a HelloRetryRequest (special random).
    pub hello_retry: bool,
    /// Carries pre_shared_key (TLS 1.3 PSK resumption accepted).
    pub psk: bool,
    /// The key_share group: the group of the server's share (TLS 1.3 ServerHello) or the one
    /// it asks for (HelloRetryRequest).
    pub key_share_group: Option<u16>,
}

/// A Certificate message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateMsg {
    /// Where it completed.
    pub meta: SegmentMeta,
    /// DER certificates in the order sent (leaf first).
    pub certs: Vec<Vec<u8>>,
}

/// What a CertificateRequest says the server accepts (RFC 5246 §7.4.4, RFC 8446 §4.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateRequestMsg {
    /// Where it was seen.
    pub meta: SegmentMeta,
    /// certificate_authorities: DER distinguished names in the order sent, at most
    /// [`MAX_AUTHORITIES`] (some servers list their whole trust store).
    pub authorities: Vec<Vec<u8>>,
    /// How many names the message listed (more than kept when over the cap).
    pub authorities_listed: usize,
    /// signature_algorithms the server accepts (SignatureScheme values, in order).
    pub signature_algorithms: Vec<u16>,
    /// TLS 1.3 signature_algorithms_cert, when sent (else `signature_algorithms` covers
    /// certificates too).
    pub signature_algorithms_cert: Vec<u16>,
}

/// certificate_authorities names kept per CertificateRequest.
pub const MAX_AUTHORITIES: usize = 64;

/// A TLS alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertMsg {
    /// Who sent it.
    pub from: Side,
    /// 1 = warning, 2 = fatal.
    pub level: u8,
    /// RFC 8446 / 5246 description code.
    pub description: u8,
    /// Where it was seen.
    pub meta: SegmentMeta,
    /// The alert record came after ChangeCipherSpec (TLS ≤ 1.2): its content is encrypted, so
    /// `level` and `description` are 0 (unknown).
    pub encrypted: bool,
}

/// One step of the handshake, for the `explain` ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsEvent {
    /// Direction of travel.
    pub dir: Direction,
    /// Where it was seen.
    pub meta: SegmentMeta,
    /// What it was, in one line (e.g. `ClientHello SNI=api.example.com ALPN=h2,http/1.1`).
    pub text: String,
}

/// A plaintext heartbeat whose claimed payload is longer than its record allows (Heartbleed,
/// CVE-2014-0160).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlongHeartbeat {
    /// Who sent it.
    pub from: Side,
    /// Where it was seen.
    pub meta: SegmentMeta,
    /// A heartbeat_response (else a request).
    pub response: bool,
    /// payload_length as claimed.
    pub claimed: usize,
    /// The record body's length.
    pub record: usize,
}

/// The key exchange group a TLS ≤ 1.2 server chose in its ServerKeyExchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExchangeGroup {
    /// The ServerKeyExchange's packet.
    pub meta: SegmentMeta,
    /// Finite-field Diffie-Hellman (else elliptic-curve).
    pub finite_field: bool,
    /// `DH 1024`, `secp224r1`, `x25519`, `curve 0x00ff`, `explicit curve`.
    pub name: String,
    /// Size: the prime's bits for finite-field DH, the curve's order bits for EC (x25519 counts
    /// as 256, its security level); 0 when unknown.
    pub bits: u32,
}

/// Where decoding of one side's stream stopped, or lost a message, before the capture ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeStop {
    /// The side whose bytes were not decoded.
    pub from: Side,
    /// The packet that brought the bytes.
    pub meta: SegmentMeta,
    /// Offset in that side's byte stream of the record (or bytes) where it happened.
    pub offset: u64,
    /// What was not decoded, in a phrase (e.g. "a handshake message announced as 16777215
    /// bytes, over the 16777215 byte limit: ...").
    pub what: String,
    /// The direction was already encrypted (only record counting was lost).
    pub encrypted: bool,
}

/// Everything the handshake showed, as plain data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HandshakeSummary {
    /// At least one byte stream looked like TLS (a ClientHello or TLS record was recognised).
    pub is_tls: bool,
    /// The handler saw the ClientHello travel server→client: the flow's roles are reversed.
    pub roles_swapped: bool,
    /// First ClientHello.
    pub client_hello: Option<ClientHello>,
    /// Second ClientHello (after a HelloRetryRequest).
    pub second_client_hello: Option<ClientHello>,
    /// HelloRetryRequest, if any.
    pub hello_retry_request: Option<ServerHello>,
    /// The (real) ServerHello.
    pub server_hello: Option<ServerHello>,
    /// Server Certificate (plaintext up to TLS 1.2).
    pub server_certificate: Option<CertificateMsg>,
    /// Client Certificate (empty `certs` = the client declined).
    pub client_certificate: Option<CertificateMsg>,
    /// CertificateRequest seen.
    pub certificate_request: Option<SegmentMeta>,
    /// The CertificateRequest's contents, when it decoded (boxed: most handshakes have none,
    /// and the summary's size counts against the connection table's memory budget).
    pub certificate_request_contents: Option<Box<CertificateRequestMsg>>,
    /// The client's CertificateVerify and its SignatureScheme (None when unreadable).
    pub client_certificate_verify: Option<Box<(SegmentMeta, Option<u16>)>>,
    /// ServerHelloDone seen.
    pub server_hello_done: Option<SegmentMeta>,
    /// CertificateStatus (stapled OCSP response, DER).
    pub ocsp_response: Option<(SegmentMeta, Vec<u8>)>,
    /// ChangeCipherSpec per direction ([`Direction::idx`]).
    pub change_cipher_spec: [Option<SegmentMeta>; 2],
    /// Plaintext alerts (and alerts whose content type shows through encryption is not known).
    pub alerts: Vec<AlertMsg>,
    /// Encrypted records seen per direction (after ChangeCipherSpec / TLS 1.3 ServerHello).
    pub encrypted_records: [u64; 2],
    /// Application-data records per direction.
    pub application_data_records: [u64; 2],
    /// First bytes of a direction that was not TLS (up to 64), with where they were seen.
    pub non_tls: [Option<(SegmentMeta, Vec<u8>)>; 2],
    /// First bytes (up to 64) of a non-TLS preamble that came before TLS in a direction (HTTP
    /// CONNECT, SOCKS, STARTTLS, PROXY protocol, a database's TLS upgrade), with where they were
    /// seen. A direction has either this or [`HandshakeSummary::non_tls`], never both.
    pub preamble: [Option<(SegmentMeta, Vec<u8>)>; 2],
    /// A CONNECT or SOCKS request the proxy refused (its answer's packet and what it said).
    pub proxy_refusal: Option<(SegmentMeta, proxy::ProxyRefusal)>,
    /// Handshake steps in order, for the ladder.
    pub events: Vec<TlsEvent>,
    /// Decoding problems (malformed message, oversized message, gap inside the handshake).
    pub problems: Vec<String>,
    /// Where decoding stopped or lost a message (a cap, a malformed record or message).
    pub decode_stops: Vec<DecodeStop>,
    /// The (EC)DHE group of a TLS ≤ 1.2 ServerKeyExchange.
    pub key_exchange: Option<KeyExchangeGroup>,
    /// Plaintext heartbeats claiming more payload than their record holds.
    pub overlong_heartbeats: Vec<OverlongHeartbeat>,
    /// Finished per direction ([`Direction::idx`]), seen only when decrypted.
    pub finished: [Option<SegmentMeta>; 2],
    /// Decryption outcome (None without a key log, or before any ServerHello).
    pub decryption: Option<Decryption>,
    /// Decrypted application data per direction ([`Direction::idx`]), bounded.
    pub app_data: [AppData; 2],
}

/// TLS 1.3 version number.
const TLS13: u16 = 0x0304;
/// DTLS 1.3 version number (DTLS counts down from 0xfeff).
const DTLS13: u16 = 0xfefc;

impl HandshakeSummary {
    /// The negotiated version (from the real ServerHello), if one was seen.
    pub fn negotiated_version(&self) -> Option<u16> {
        self.server_hello.as_ref().map(|sh| sh.version)
    }

    /// The session was resumed rather than fully negotiated.
    ///
    /// TLS 1.3: the ServerHello carries pre_shared_key. TLS ≤ 1.2: the ServerHello echoes the
    /// non-empty session id the client offered, or the client offered a ticket and the server went
    /// straight to ChangeCipherSpec without a Certificate.
    pub fn resumed(&self) -> bool {
        let (Some(ch), Some(sh)) = (&self.client_hello, &self.server_hello) else {
            return false;
        };
        if is_tls13(sh.version) {
            return sh.psk;
        }
        if !ch.session_id.is_empty() && sh.session_id == ch.session_id {
            return true;
        }
        ch.session_ticket
            && self.change_cipher_spec[Direction::ToClient.idx()].is_some()
            && self.server_certificate.is_none()
    }

    /// Whether the server asked for a client certificate: `Some(true)` when a CertificateRequest
    /// was seen; `Some(false)` when a TLS ≤ 1.2 server flight was seen complete in clear
    /// (ServerHelloDone) without one; `None` when it cannot be seen (TLS 1.3, or too little seen).
    pub fn cert_requested(&self) -> Option<bool> {
        if self.certificate_request.is_some() {
            return Some(true);
        }
        match self.negotiated_version() {
            Some(v) if !is_tls13(v) && self.server_hello_done.is_some() => Some(false),
            // Decrypted TLS 1.3: the server's flight ended (Finished) without a request.
            Some(v) if is_tls13(v) && self.finished[Direction::ToClient.idx()].is_some() => {
                Some(false)
            }
            _ => None,
        }
    }

    /// Whether the client sent a certificate: `Some(true)` for a client Certificate with at least
    /// one certificate; `Some(false)` for an empty one, or when a CertificateRequest was seen in
    /// clear and the client's ChangeCipherSpec came without a Certificate; `None` when not visible.
    pub fn client_cert_sent(&self) -> Option<bool> {
        if let Some(c) = &self.client_certificate {
            return Some(!c.certs.is_empty());
        }
        let tls13 = self.negotiated_version().is_some_and(is_tls13);
        if !tls13
            && self.certificate_request.is_some()
            && self.change_cipher_spec[Direction::ToServer.idx()].is_some()
        {
            return Some(false);
        }
        if tls13
            && self.certificate_request.is_some()
            && self.finished[Direction::ToServer.idx()].is_some()
        {
            return Some(false);
        }
        None
    }
}

/// The TLS version a DTLS version is built on (DTLS numbers count down: 1.0 is 0xfeff, 1.2
/// 0xfefd, 1.3 0xfefc), so that a message's layout can be chosen by one comparison; a TLS
/// version is itself.
pub(crate) fn tls_equivalent(v: u16) -> u16 {
    match v {
        0xfeff => 0x0302,
        0xfefd => 0x0303,
        0xfefc => 0x0304,
        other => other,
    }
}

/// A version's place from oldest to newest: DTLS beside the TLS version it is built on, a
/// TLS 1.3 draft (0x7fXX) as TLS 1.3.
pub(crate) fn version_rank(v: u16) -> u16 {
    if v >> 8 == 0x7f {
        0x0304
    } else {
        tls_equivalent(v)
    }
}

/// TLS 1.3 or one of its drafts (0x7fXX).
fn is_tls13(v: u16) -> bool {
    v == TLS13 || v == DTLS13 || v >> 8 == 0x7f
}

#[cfg(test)]
mod tests {
    use super::version_rank;

    #[test]
    fn versions_rank_by_the_tls_version_they_are() {
        // SSL 2.0, SSL 3.0, TLS 1.0-1.3, a TLS 1.3 draft, DTLS 1.0, 1.2, 1.3.
        let rank = [
            0x0002, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x7f1c, 0xfeff, 0xfefd, 0xfefc,
        ]
        .map(version_rank);
        assert_eq!(
            rank,
            [0x0002, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x0304, 0x0302, 0x0303, 0x0304]
        );
    }
}
