//! Per-connection TLS observer: record framing, handshake message joining, and the switch to
//! header-only counting once a direction is encrypted.

use super::handshake::{
    be_u24, decode_certificate, decode_certificate_status, decode_client_hello,
    decode_key_exchange, decode_server_hello,
};
use super::names::{alert_level_name, alert_name, cipher_name, is_grease, version_name};
use super::*;
use crate::flow::{Interest, StreamHandler};

mod decrypt;
mod dtls;
pub use dtls::DtlsOpened;
mod quic;

/// Limits for the observer.
#[derive(Debug, Clone)]
pub struct ObserverConfig {
    /// Largest handshake message joined from fragments (certificate chains can be large).
    pub max_handshake_message: usize,
    /// Encrypted records counted per direction before the observer says
    /// [`Interest::Done`] for it (enough to see post-handshake alerts).
    pub max_encrypted_records: u64,
    /// Most entries kept in [`HandshakeSummary::events`].
    pub max_events: usize,
    /// Keep [`HandshakeSummary::events`] (the `explain` ladder). Batch analysis reads no
    /// ladder and turns this off: building the step texts costs ~2 % of a run.
    pub events: bool,
    /// Secrets for decryption; None (the default) keeps the observer on the plaintext path.
    pub keylog: Option<std::sync::Arc<super::keylog::KeySlot>>,
    /// Keep reading a connection whose client starts with an HTTP request (cleartext HTTP on
    /// any port), up to 16 KiB per direction, for the HTTP reader.
    pub cleartext_http: bool,
    /// Bytes of a direction that did not start with TLS searched for a TLS start after a
    /// preamble (proxy CONNECT, SOCKS, STARTTLS...) before the direction is given up.
    pub max_preamble_bytes: usize,
    /// Deliveries (roughly packets) of such a direction searched before it is given up.
    pub max_preamble_chunks: u32,
}

impl Default for ObserverConfig {
    fn default() -> Self {
        ObserverConfig {
            max_handshake_message: MAX_HANDSHAKE_MESSAGE,
            max_encrypted_records: 16,
            max_events: 64,
            events: true,
            keylog: None,
            cleartext_http: false,
            max_preamble_bytes: 16 * 1024,
            max_preamble_chunks: 32,
        }
    }
}

/// The protocol's limit on a handshake message body (a 24-bit length).
pub const MAX_HANDSHAKE_MESSAGE: usize = (1 << 24) - 1;
/// Handshake messages announced larger than this reserve their length from
/// [`LARGE_MESSAGE_BUDGET`] before they are joined.
const LARGE_MESSAGE: usize = 256 * 1024;
/// Bytes the process may hold at once in large handshake messages being joined, over every
/// connection: a hostile capture can announce a 16 MiB message on thousands of connections.
const LARGE_MESSAGE_BUDGET: usize = 256 << 20;
/// Bytes reserved from [`LARGE_MESSAGE_BUDGET`] now.
static LARGE_MESSAGE_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Takes `len` bytes from the large-message budget; false when it does not have them.
fn reserve_large(len: usize) -> bool {
    use std::sync::atomic::Ordering;
    LARGE_MESSAGE_BYTES
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            held.checked_add(len).filter(|&n| n <= LARGE_MESSAGE_BUDGET)
        })
        .is_ok()
}

/// Gives `len` reserved bytes back.
fn release_large(len: usize) {
    if len > 0 {
        LARGE_MESSAGE_BYTES.fetch_sub(len, std::sync::atomic::Ordering::AcqRel);
    }
}

/// TLS record header length.
const RECORD_HEADER: usize = 5;
/// Largest record body accepted (2^14 plaintext plus the 2048 bytes RFC 5246 allows for
/// compression/encryption expansion).
const MAX_RECORD_BODY: usize = 16384 + 2048;
/// Alerts listed per connection; past this they are only counted
/// ([`TlsObserver::alerts_not_listed`]): a hostile peer can send millions.
pub const MAX_ALERTS: usize = 64;
/// Bytes of a non-TLS stream kept as evidence.
const NON_TLS_EVIDENCE: usize = 64;

const CT_CHANGE_CIPHER_SPEC: u8 = 20;
const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_APPLICATION_DATA: u8 = 23;
const CT_HEARTBEAT: u8 = 24;

/// What a direction's bytes are being read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    /// Nothing recognised yet: first bytes decide.
    #[default]
    Start,
    /// The first bytes were not TLS: searching, for a bounded number of bytes, for TLS that
    /// starts after a preamble.
    Hunt,
    /// Plaintext TLS records.
    Plain,
    /// An SSLv2-format ClientHello record is being read.
    SslV2,
    /// Encrypted: only record headers are read.
    Encrypted,
    /// Nothing more is read (not TLS, broken framing, or enough seen).
    Stopped,
}

/// Per-direction (as delivered by the flow, before any role swap) framing state.
#[derive(Debug, Default)]
struct DirState {
    mode: Mode,
    /// Incomplete record (plaintext modes) or incomplete header (≤ 5 bytes, encrypted mode).
    rec_buf: Vec<u8>,
    /// Incomplete handshake message joined across records.
    hs_buf: Vec<u8>,
    /// Encrypted-mode body bytes still to skip.
    skip: usize,
    /// NULL-cipher suites leave records readable: the alert (index into `alerts`) whose first
    /// body bytes (level, description) are still being read, and those read so far.
    null_alert: Option<(usize, Vec<u8>)>,
    /// A gap broke framing: the next bytes must look like a record header.
    resync: bool,
    /// Encrypted records counted.
    encrypted_records: u64,
    /// Application-data records counted.
    application_data_records: u64,
    /// This direction ever looked like TLS.
    tls_seen: bool,
    /// ChangeCipherSpec seen.
    ccs: Option<SegmentMeta>,
    /// First bytes when not TLS.
    non_tls: Option<(SegmentMeta, Vec<u8>)>,
    /// Hunt mode: bytes of a candidate TLS start too short to judge, at the end of a delivery.
    hunt_tail: Vec<u8>,
    /// Hunt mode: non-TLS bytes passed over so far.
    preamble_bytes: usize,
    /// Hunt mode: deliveries searched so far.
    preamble_chunks: u32,
    /// TLS was found after a non-TLS preamble, at this packet.
    tls_after_preamble: Option<SegmentMeta>,
    /// Stream bytes delivered (and skipped over gaps) before the current delivery.
    delivered: u64,
    /// Stream offset of the bytes being read now.
    at: u64,
    /// Stream offset of the plaintext record being read (or last read).
    record_start: u64,
    /// Bytes of [`LARGE_MESSAGE_BUDGET`] held for the message in `hs_buf`.
    reserved: usize,
    /// SSLv2: this side's keys are in use (after its SERVER-HELLO or CLIENT-MASTER-KEY), so its
    /// further SSLv2 records are encrypted.
    sslv2_keyed: bool,
    /// The `Proxy-Authenticate` scheme of a non-TLS HTTP answer (its head can be longer than
    /// the evidence kept).
    proxy_auth_scheme: Option<String>,
}

impl DirState {
    /// Drops a partly joined handshake message and its reservation.
    fn drop_partial(&mut self) {
        self.hs_buf = Vec::new();
        release_large(std::mem::take(&mut self.reserved));
    }
}

impl Drop for DirState {
    fn drop(&mut self) {
        release_large(self.reserved);
    }
}

/// Where decoding of a direction stopped or lost a message, in delivered direction; roles are
/// applied in [`TlsObserver::finish`].
#[derive(Debug)]
struct RawStop {
    dir: Direction,
    meta: SegmentMeta,
    offset: u64,
    what: String,
    encrypted: bool,
}

/// An event or alert in delivered direction; roles are applied in [`TlsObserver::finish`].
#[derive(Debug)]
struct RawAlert {
    dir: Direction,
    level: u8,
    description: u8,
    meta: SegmentMeta,
    encrypted: bool,
}

impl RawAlert {
    /// An alert whose level and description are unreadable (encrypted, no keys or no success).
    fn encrypted(dir: Direction, meta: SegmentMeta) -> Self {
        RawAlert {
            dir,
            level: 0,
            description: 0,
            meta,
            encrypted: true,
        }
    }
}

/// Watches one connection's two byte streams and decodes its TLS handshake.
#[derive(Debug, Default)]
pub struct TlsObserver {
    cfg: ObserverConfig,
    dirs: [DirState; 2],
    /// Boxed (~1.9 KiB): it leaves by pointer when the connection ends.
    summary: Box<HandshakeSummary>,
    alerts: Vec<RawAlert>,
    stops: Vec<RawStop>,
    /// The last packet that delivered bytes, per delivered direction.
    last_meta: [SegmentMeta; 2],
    /// Alerts past [`MAX_ALERTS`], counted only.
    alerts_dropped: u64,
    events: Vec<(Direction, SegmentMeta, String)>,
    events_dropped: u64,
    /// A ClientHello was seen in the to-client direction first.
    swapped: bool,
    /// TLS 1.3 was selected (HelloRetryRequest or ServerHello supported_versions).
    tls13: bool,
    /// Record decryption, only when a key log is given.
    dec: Option<Box<super::decrypt::ConnDecryptor>>,
    /// Cleartext HTTP per delivered direction, once the client's first bytes were a request.
    cleartext: Option<Box<[AppData; 2]>>,
    /// The handshake comes from QUIC CRYPTO frames: the messages after a TLS 1.3 ServerHello
    /// arrive decrypted (by the QUIC stage), as whole messages.
    quic: bool,
    /// The server answered in SSLv2 (its SERVER-HELLO): the client goes on in SSLv2 records.
    sslv2_server: bool,
    /// Heartbeats whose claimed payload overruns their record: (direction, packet, type,
    /// claimed payload length, record body length).
    raw_heartbeats: Vec<(Direction, SegmentMeta, u8, usize, usize)>,
}

impl TlsObserver {
    /// A fresh observer.
    pub fn new(cfg: ObserverConfig) -> Self {
        let dec = cfg
            .keylog
            .clone()
            .map(|k| Box::new(super::decrypt::ConnDecryptor::new(k)));
        TlsObserver {
            cfg,
            dec,
            ..TlsObserver::default()
        }
    }

    /// Alerts seen but not listed in the summary (past [`MAX_ALERTS`]).
    pub fn alerts_not_listed(&self) -> u64 {
        self.alerts_dropped
    }

    /// Keeps an alert, returning its index; past [`MAX_ALERTS`] only counts it, except that
    /// a first fatal alert takes the last place (it is the one that ends the connection).
    fn push_alert(&mut self, alert: RawAlert) -> Option<usize> {
        if self.alerts.len() < MAX_ALERTS {
            self.alerts.push(alert);
            return Some(self.alerts.len() - 1);
        }
        self.alerts_dropped += 1;
        let fatal = |a: &RawAlert| !a.encrypted && a.level == 2;
        if fatal(&alert) && !self.alerts.iter().any(fatal) {
            let last = self.alerts.len() - 1;
            self.alerts[last] = alert;
            return Some(last);
        }
        None
    }

    /// Ends observation and returns what was seen.
    pub fn finish(mut self) -> HandshakeSummary {
        *self.take_summary()
    }

    /// [`TlsObserver::finish`] for an observer that stays where it is (boxed in a flow
    /// table's connection, not moved out to be finished); the summary leaves in its box. The
    /// observer is spent afterwards (its summary is an empty one).
    pub fn take_summary(&mut self) -> Box<HandshakeSummary> {
        let swapped = self.swapped;
        let logical = |d: Direction| if swapped { d.reverse() } else { d };
        let mut s = std::mem::take(&mut self.summary);
        s.roles_swapped = swapped;
        for d in [Direction::ToServer, Direction::ToClient] {
            let st = &self.dirs[d.idx()];
            if !st.hs_buf.is_empty() && matches!(st.mode, Mode::Plain | Mode::Encrypted) {
                let what = format!(
                    "{} when the capture ended: it was not decoded",
                    partial_message(&st.hs_buf)
                );
                let (at, meta) = (st.record_start, self.last_meta[d.idx()]);
                self.decode_stop(d, meta, at, what);
            }
            let st = &mut self.dirs[d.idx()];
            let l = logical(d).idx();
            if st.mode == Mode::Start && !st.rec_buf.is_empty() && st.non_tls.is_none() {
                // Too few bytes to tell: keep them as evidence of what was there.
                st.non_tls = Some((SegmentMeta::default(), std::mem::take(&mut st.rec_buf)));
            }
            s.change_cipher_spec[l] = st.ccs;
            s.encrypted_records[l] = st.encrypted_records;
            s.application_data_records[l] = st.application_data_records;
            if st.tls_after_preamble.is_some() {
                s.preamble[l] = st.non_tls.take();
            } else {
                s.non_tls[l] = st.non_tls.take();
            }
        }
        // A server's non-TLS bytes sent before a ClientHello that itself came after a client
        // preamble are part of the upgrade dialogue (a STARTTLS "220 Ready" the capture ends
        // after, say), not an answer to the ClientHello.
        let client_upgraded = self.dirs[self.client_dir().idx()]
            .tls_after_preamble
            .is_some();
        let server = Direction::ToClient.idx();
        if let (true, Some(ch), Some((meta, _))) =
            (client_upgraded, &s.client_hello, &s.non_tls[server])
        {
            if meta.packet < ch.meta.packet {
                s.preamble[server] = s.non_tls[server].take();
            }
        }
        s.alerts = self
            .alerts
            .iter()
            .map(|a| AlertMsg {
                from: logical(a.dir).sender(),
                level: a.level,
                description: a.description,
                meta: a.meta,
                encrypted: a.encrypted,
            })
            .collect();
        s.overlong_heartbeats = self
            .raw_heartbeats
            .drain(..)
            .map(|(dir, meta, kind, claimed, record)| OverlongHeartbeat {
                from: logical(dir).sender(),
                meta,
                response: kind == 2,
                claimed,
                record,
            })
            .collect();
        s.decode_stops = self
            .stops
            .drain(..)
            .map(|r| DecodeStop {
                from: logical(r.dir).sender(),
                meta: r.meta,
                offset: r.offset,
                what: r.what,
                encrypted: r.encrypted,
            })
            .collect();
        s.events = self
            .events
            .drain(..)
            .map(|(dir, meta, text)| TlsEvent {
                dir: logical(dir),
                meta,
                text,
            })
            .collect();
        if self.events_dropped > 0 {
            s.problems.push(format!(
                "{} more handshake events not listed",
                self.events_dropped
            ));
        }
        self.finish_decryption(&mut s);
        self.find_proxy_refusal(&mut s);
        let any_tls = self.dirs.iter().any(|d| d.tls_seen);
        let client_not_tls = s.non_tls[Direction::ToServer.idx()].is_some();
        s.is_tls = s.client_hello.is_some() || (any_tls && !client_not_tls);
        s
    }

    /// A CONNECT or SOCKS request answered by a refusal instead of a tunnel.
    fn find_proxy_refusal(&self, s: &mut HandshakeSummary) {
        let (client, server) = (Direction::ToServer.idx(), Direction::ToClient.idx());
        let Some((_, request)) = s.preamble[client].as_ref().or(s.non_tls[client].as_ref()) else {
            return;
        };
        let (Some(preamble), Some((meta, reply))) =
            (super::proxy::parse(request), &s.non_tls[server])
        else {
            return;
        };
        let server_dir = self.client_dir().reverse();
        let scheme = self.dirs[server_dir.idx()].proxy_auth_scheme.as_deref();
        if let Some(refusal) = super::proxy::refusal(preamble.kind, reply, scheme) {
            s.proxy_refusal = Some((*meta, refusal));
        }
    }

    /// The delivered direction the client sends in.
    fn client_dir(&self) -> Direction {
        if self.swapped {
            Direction::ToClient
        } else {
            Direction::ToServer
        }
    }

    /// Notes a ladder step; `text` is only built when events are kept
    /// ([`ObserverConfig::events`]).
    fn event(&mut self, dir: Direction, meta: SegmentMeta, text: impl FnOnce() -> String) {
        if !self.cfg.events {
            return;
        }
        if self.events.len() < self.cfg.max_events {
            self.events.push((dir, meta, text()));
        } else {
            self.events_dropped += 1;
        }
    }

    fn problem(&mut self, text: String) {
        // Bounded like the events: hostile input could otherwise produce one per record.
        if self.summary.problems.len() < self.cfg.max_events {
            self.summary.problems.push(text);
        }
    }

    /// Records that decoding `dir` stopped (or lost a message) at stream `offset`: `what` says
    /// what was not decoded, in a phrase.
    fn decode_stop(&mut self, dir: Direction, meta: SegmentMeta, offset: u64, what: String) {
        let encrypted = self.dirs[dir.idx()].mode == Mode::Encrypted;
        // Bounded like the problems.
        if self.stops.len() < self.cfg.max_events {
            self.stops.push(RawStop {
                dir,
                meta,
                offset,
                what,
                encrypted,
            });
        }
    }

    fn stream_name(&self, dir: Direction) -> &'static str {
        if dir == self.client_dir() {
            "client→server"
        } else {
            "server→client"
        }
    }

    /// Stops reading `dir` after a framing problem.
    fn stop(&mut self, dir: Direction) {
        let st = &mut self.dirs[dir.idx()];
        st.mode = Mode::Stopped;
        st.rec_buf = Vec::new();
        st.drop_partial();
    }

    /// Switches `dir` to header-only reading.
    fn set_encrypted(&mut self, dir: Direction, meta: SegmentMeta) {
        let st = &mut self.dirs[dir.idx()];
        if matches!(st.mode, Mode::Encrypted | Mode::Stopped) {
            return;
        }
        st.mode = Mode::Encrypted;
        st.hs_buf = Vec::new();
        st.rec_buf.clear();
        st.skip = 0;
        self.event(dir, meta, || "encrypted records begin".to_string());
    }

    fn interest(&self, dir: Direction) -> Interest {
        let st = &self.dirs[dir.idx()];
        match st.mode {
            Mode::Stopped if self.cleartext_wants(dir) => Interest::More,
            Mode::Stopped => Interest::Done,
            Mode::Encrypted
                if st.encrypted_records >= self.cfg.max_encrypted_records
                    && !self.decrypt_wants_more(dir) =>
            {
                Interest::Done
            }
            _ => Interest::More,
        }
    }

    /// Consumes one delivery of `dir`.
    fn feed(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) {
        let d = dir.idx();
        self.last_meta[d] = meta;
        self.feed_from(dir, data, meta);
        self.dirs[d].delivered += data.len() as u64;
    }

    fn feed_from(&mut self, dir: Direction, mut data: &[u8], meta: SegmentMeta) {
        let d = dir.idx();
        let start = self.dirs[d].delivered + data.len() as u64;
        while !data.is_empty() {
            self.dirs[d].at = start - data.len() as u64;
            match self.dirs[d].mode {
                Mode::Stopped => return self.cleartext_feed(dir, data, meta),
                Mode::Start => {
                    if !self.recognise(dir, data, meta) {
                        if self.dirs[d].mode == Mode::Hunt {
                            // Not TLS at the start: search this same delivery for a TLS start.
                            self.dirs[d].preamble_chunks = 0;
                            continue;
                        }
                        self.cleartext_feed(dir, data, meta);
                        return;
                    }
                    // Recognised: the buffered prefix stays as the start of the first record.
                }
                Mode::Hunt => {
                    let used = self.feed_hunt(dir, data, meta);
                    // While no TLS start is found the bytes are cleartext (e.g. HTTP).
                    if used > 0 {
                        self.cleartext_feed(dir, &data[..used], meta);
                    }
                    data = &data[used..];
                }
                Mode::Encrypted => {
                    let used = self.feed_encrypted(dir, data, meta);
                    data = &data[used..];
                    if self.interest(dir) == Interest::Done {
                        self.dirs[d].mode = Mode::Stopped;
                        return;
                    }
                }
                Mode::SslV2 => {
                    let used = self.feed_sslv2(dir, data, meta);
                    data = &data[used..];
                }
                Mode::Plain => {
                    let used = self.feed_plain(dir, data, meta);
                    data = &data[used..];
                }
            }
        }
    }

    /// Decides from the first bytes whether `dir` is TLS. Returns false when more bytes are
    /// needed (they were buffered) or the direction is not TLS.
    fn recognise(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) -> bool {
        let st = &mut self.dirs[dir.idx()];
        let joined;
        let head = if st.rec_buf.is_empty() && data.len() >= RECORD_HEADER {
            // The common case: the first delivery holds a whole header; no copy.
            &data[..RECORD_HEADER]
        } else {
            let mut head = st.rec_buf.clone();
            head.extend_from_slice(&data[..data.len().min(RECORD_HEADER)]);
            if head.len() < RECORD_HEADER {
                st.rec_buf = head;
                return false;
            }
            joined = head;
            &joined[..]
        };
        let resync = st.resync;
        st.resync = false;
        if looks_like_record_header(head) {
            st.mode = Mode::Plain;
            st.tls_seen = true;
            return true;
        }
        if !resync
            && (super::sslv2::looks_like_sslv2_hello(head)
                || super::sslv2::looks_like_sslv2_server_hello(head))
        {
            st.mode = Mode::SslV2;
            st.tls_seen = true;
            return true;
        }
        if resync {
            let name = self.stream_name(dir);
            self.problem(format!(
                "no record header after the gap in {name} stream at packet {}: stopped reading it",
                meta.packet
            ));
            let at = self.dirs[dir.idx()].at;
            self.decode_stop(
                dir,
                meta,
                at,
                "no TLS record header where the stream resumed after lost bytes: the rest of the stream was not decoded".to_string(),
            );
            self.stop(dir);
            return false;
        }
        let st = &mut self.dirs[dir.idx()];
        let buffered = std::mem::take(&mut st.rec_buf);
        let mut evidence = buffered.clone();
        let room = NON_TLS_EVIDENCE.saturating_sub(evidence.len());
        evidence.extend_from_slice(&data[..data.len().min(room)]);
        if evidence.starts_with(b"HTTP/1.") {
            let head = [&buffered[..], data].concat();
            st.proxy_auth_scheme = super::proxy::proxy_auth_scheme(&head);
        }
        st.non_tls = Some((meta, evidence));
        // Bytes buffered from earlier deliveries are preamble; the caller searches `data`.
        st.mode = Mode::Hunt;
        st.preamble_bytes = buffered.len();
        st.hunt_tail = Vec::new();
        false
    }

    /// Hunt mode: looks for TLS starting at the start of this delivery or right after a line
    /// end in it (where preambles such as CONNECT, STARTTLS or PROXY end). Returns bytes
    /// consumed: up to the TLS start when one is found (the mode is then [`Mode::Plain`]).
    fn feed_hunt(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) -> usize {
        let alert_ok = self.summary.client_hello.is_some() && dir != self.client_dir();
        let max_len = self.cfg.max_handshake_message;
        let d = dir.idx();
        let st = &mut self.dirs[d];
        st.preamble_chunks = st.preamble_chunks.saturating_add(1);
        // A candidate cut short at the end of the previous delivery continues here.
        let tail = std::mem::take(&mut st.hunt_tail);
        if !tail.is_empty() {
            let mut joined = tail.clone();
            joined.extend_from_slice(&data[..data.len().min(PROBE_LEN)]);
            match probe_tls_start(&joined, alert_ok, max_len) {
                Probe::Tls => {
                    st.preamble_bytes = st.preamble_bytes.saturating_sub(tail.len());
                    st.rec_buf = tail;
                    self.tls_found(dir, meta);
                    return 0;
                }
                Probe::NeedMore => {
                    st.hunt_tail = joined;
                    st.preamble_bytes = st.preamble_bytes.saturating_add(data.len());
                    return data.len();
                }
                Probe::NotTls => {}
            }
        }
        let line_starts = data
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .map(|(i, _)| i + 1);
        for at in std::iter::once(0).chain(line_starts) {
            let Some(cand) = data.get(at..).filter(|c| !c.is_empty()) else {
                break;
            };
            match probe_tls_start(cand, alert_ok, max_len) {
                Probe::Tls => {
                    st.preamble_bytes = st.preamble_bytes.saturating_add(at);
                    self.tls_found(dir, meta);
                    return at;
                }
                Probe::NeedMore => {
                    // Only the last candidates can be short; judge when more bytes come.
                    st.hunt_tail = cand.to_vec();
                    break;
                }
                Probe::NotTls => {}
            }
        }
        st.preamble_bytes = st.preamble_bytes.saturating_add(data.len());
        if st.preamble_bytes >= self.cfg.max_preamble_bytes
            || st.preamble_chunks >= self.cfg.max_preamble_chunks
        {
            // Bounded: a plain-text or binary protocol stops being delivered quickly.
            self.stop(dir);
            self.dirs[d].hunt_tail = Vec::new();
        }
        data.len()
    }

    /// TLS starts after a preamble in `dir`.
    fn tls_found(&mut self, dir: Direction, meta: SegmentMeta) {
        let st = &mut self.dirs[dir.idx()];
        st.mode = Mode::Plain;
        st.tls_seen = true;
        st.tls_after_preamble = Some(meta);
        if let Some((_, evidence)) = &mut st.non_tls {
            // Evidence is the preamble only, not the start of the TLS that followed it.
            evidence.truncate(st.preamble_bytes);
        }
        let preamble = st.preamble_bytes;
        self.event(dir, meta, || {
            format!("TLS begins after {preamble} bytes of non-TLS preamble")
        });
    }

    /// Reads encrypted record headers and skips bodies. Returns bytes consumed.
    fn feed_encrypted(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) -> usize {
        let st = &mut self.dirs[dir.idx()];
        if st.skip > 0 {
            let n = st.skip.min(data.len());
            st.skip -= n;
            let done = st.skip == 0;
            if let Some((i, mut got)) = st.null_alert.take() {
                got.extend(data[..n].iter().take(2 - got.len().min(2)));
                if got.len() >= 2 {
                    if let Some(a) = self.alerts.get_mut(i) {
                        (a.level, a.description, a.encrypted) = (got[0], got[1], false);
                    }
                } else if !done {
                    self.dirs[dir.idx()].null_alert = Some((i, got));
                }
            }
            if self.dec.is_some() {
                self.decrypt_body(dir, &data[..n], done, meta);
            }
            return n;
        }
        if st.resync {
            // After a gap only a plausible header lets counting go on.
            let need = RECORD_HEADER - st.rec_buf.len().min(RECORD_HEADER);
            let n = need.min(data.len());
            st.rec_buf.extend_from_slice(&data[..n]);
            if st.rec_buf.len() < RECORD_HEADER {
                return n;
            }
            if !looks_like_record_header(&st.rec_buf) {
                self.stop(dir);
                return n;
            }
            st.resync = false;
            let hdr = std::mem::take(&mut st.rec_buf);
            self.encrypted_record(dir, &hdr, meta);
            return n;
        }
        // Most headers are whole in one delivery and are read in place; one cut by a segment
        // boundary is collected in rec_buf (cleared, not taken: its room is reused).
        let mut hdr = [0u8; RECORD_HEADER];
        let n = if st.rec_buf.is_empty() && data.len() >= RECORD_HEADER {
            hdr.copy_from_slice(&data[..RECORD_HEADER]);
            RECORD_HEADER
        } else {
            let n = (RECORD_HEADER - st.rec_buf.len()).min(data.len());
            st.rec_buf.extend_from_slice(&data[..n]);
            if st.rec_buf.len() < RECORD_HEADER {
                return n;
            }
            hdr.copy_from_slice(&st.rec_buf);
            st.rec_buf.clear();
            n
        };
        if !looks_like_record_header(&hdr) {
            let name = self.stream_name(dir);
            self.problem(format!(
                "invalid record header in encrypted {name} stream at packet {}",
                meta.packet
            ));
            let st = &self.dirs[dir.idx()];
            let offset = (st.at + n as u64).saturating_sub(RECORD_HEADER as u64);
            self.decode_stop(
                dir,
                meta,
                offset,
                "bytes that are not a TLS record header among the encrypted records (e.g. the protocol resuming in clear): the records after them were not counted".to_string(),
            );
            self.stop(dir);
            return n;
        }
        self.encrypted_record(dir, &hdr, meta);
        n
    }

    /// Records a readable alert and its ladder step (`suffix` says how it was read).
    fn plain_alert(
        &mut self,
        dir: Direction,
        level: u8,
        description: u8,
        meta: SegmentMeta,
        suffix: &str,
    ) {
        self.push_alert(RawAlert {
            dir,
            level,
            description,
            meta,
            encrypted: false,
        });
        self.event(dir, meta, || {
            format!(
                "Alert {} {}{suffix}",
                alert_level_name(level),
                alert_name(description)
            )
        });
    }

    /// Counts one encrypted record from its header and arranges to skip its body.
    fn encrypted_record(&mut self, dir: Direction, hdr: &[u8], meta: SegmentMeta) {
        let ct = hdr[0];
        let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
        self.dirs[dir.idx()].skip = len;
        if self.dec.is_some() && self.decrypt_begin(dir, hdr, meta) {
            return;
        }
        match ct {
            CT_CHANGE_CIPHER_SPEC => {
                // TLS 1.3 middlebox-compatibility CCS after the server's ServerHello: plaintext,
                // not counted as encrypted.
                if self.dirs[dir.idx()].ccs.is_none() {
                    self.dirs[dir.idx()].ccs = Some(meta);
                    self.event(dir, meta, || "ChangeCipherSpec".to_string());
                }
                return;
            }
            CT_ALERT => {
                let kept = self.push_alert(RawAlert::encrypted(dir, meta));
                let null_cipher =
                    self.summary.server_hello.as_ref().is_some_and(|sh| {
                        super::names::cipher_name(sh.cipher).contains("WITH_NULL")
                    });
                if let (true, true, Some(i)) = (null_cipher, len >= 2, kept) {
                    // Plaintext + MAC: level and description are the first two body bytes.
                    self.dirs[dir.idx()].null_alert = Some((i, Vec::new()));
                    self.event(dir, meta, || "Alert (NULL cipher: readable)".to_string());
                } else {
                    self.event(dir, meta, || "Alert (encrypted)".to_string());
                }
            }
            CT_APPLICATION_DATA => {
                self.dirs[dir.idx()].application_data_records += 1;
            }
            _ => {}
        }
        self.dirs[dir.idx()].encrypted_records += 1;
    }

    /// Reads an SSLv2-format ClientHello record. Returns bytes consumed.
    fn feed_sslv2(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) -> usize {
        let st = &mut self.dirs[dir.idx()];
        if st.rec_buf.is_empty() {
            st.record_start = st.at;
        }
        // The recogniser guarantees ≥ 2 bytes are available between rec_buf and data.
        let mut first_two = st.rec_buf.clone();
        first_two.extend_from_slice(&data[..data.len().min(2)]);
        let (Some(&b0), Some(&b1)) = (first_two.first(), first_two.get(1)) else {
            st.rec_buf.extend_from_slice(data);
            return data.len();
        };
        let (header, total) = super::sslv2::record_size(b0, b1);
        let n = total.saturating_sub(st.rec_buf.len()).min(data.len());
        st.rec_buf.extend_from_slice(&data[..n]);
        if st.rec_buf.len() < total {
            return n;
        }
        let record = std::mem::take(&mut st.rec_buf);
        if st.sslv2_keyed {
            // SERVER-VERIFY, CLIENT-FINISHED, data...: encrypted.
            st.encrypted_records += 1;
            return n;
        }
        let body = record.get(header..).unwrap_or_default();
        match body.first() {
            Some(1) => {
                // Later records (if any) are TLS records unless the server answers in SSLv2.
                st.mode = Mode::Plain;
                match super::sslv2::decode_client_hello(body) {
                    Ok(mut ch) => {
                        ch.meta = meta;
                        self.client_hello(dir, ch, meta);
                    }
                    Err(e) => self.sslv2_malformed(dir, e, meta),
                }
            }
            Some(4) => match super::sslv2::decode_server_hello(body) {
                Ok(hello) => self.sslv2_server_hello(dir, hello, meta),
                Err(e) => self.sslv2_malformed(dir, e, meta),
            },
            Some(2) => {
                let kind = super::sslv2::client_master_key_kind(body);
                st.sslv2_keyed = true;
                let suite = kind.and_then(super::sslv2::tls_suite);
                if let (Some(suite), Some(sh)) = (suite, self.summary.server_hello.as_mut()) {
                    sh.cipher = suite;
                }
                self.event(dir, meta, || match suite {
                    Some(suite) => format!("ClientMasterKey (SSLv2) {}", cipher_name(suite)),
                    None => "ClientMasterKey (SSLv2)".to_string(),
                });
            }
            Some(0) => {
                // ERROR: NO-CIPHER (1), NO-CERTIFICATE (2), BAD-CERTIFICATE (4),
                // UNSUPPORTED-CERTIFICATE-TYPE (6), as the TLS alerts that replaced them.
                let code = body
                    .get(1..3)
                    .map_or(0, |c| u16::from_be_bytes([c[0], c[1]]));
                let description = match code {
                    1 => 40,
                    2 => 41,
                    4 => 42,
                    6 => 43,
                    _ => 40,
                };
                self.plain_alert(dir, 2, description, meta, " (SSLv2 ERROR)");
            }
            _ => {
                let e = "SSLv2 record of an unexpected message type".to_string();
                self.sslv2_malformed(dir, e, meta);
            }
        }
        n
    }

    /// An SSLv2 SERVER-HELLO: a ServerHello (SSL 2.0, the first cipher kind the server offers
    /// until the client's CLIENT-MASTER-KEY names its choice) and the server's certificate.
    fn sslv2_server_hello(
        &mut self,
        dir: Direction,
        hello: super::sslv2::SslV2ServerHello,
        meta: SegmentMeta,
    ) {
        self.sslv2_server = true;
        self.dirs[dir.idx()].sslv2_keyed = true;
        let cipher = hello
            .cipher_kinds
            .iter()
            .find_map(|k| super::sslv2::tls_suite(*k))
            .unwrap_or(0);
        let sh = ServerHello {
            meta,
            legacy_version: hello.version,
            version: hello.version,
            cipher,
            ..ServerHello::default()
        };
        self.server_hello(dir, sh, meta);
        if let Some(cert) = hello.certificate {
            self.event(dir, meta, || {
                "Certificate (1 certificate, SSLv2)".to_string()
            });
            if self.summary.server_certificate.is_none() {
                self.summary.server_certificate = Some(CertificateMsg {
                    meta,
                    certs: vec![cert],
                });
            }
        }
    }

    fn sslv2_malformed(&mut self, dir: Direction, e: String, meta: SegmentMeta) {
        self.problem(format!("{e} at packet {}", meta.packet));
        let at = self.dirs[dir.idx()].record_start;
        self.decode_stop(
            dir,
            meta,
            at,
            format!("an SSLv2 record that does not decode ({e}): the rest of the stream was not decoded"),
        );
        self.stop(dir);
    }

    /// Reads plaintext records. Returns bytes consumed (at least 1 when `data` is non-empty,
    /// unless the direction stopped).
    fn feed_plain(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) -> usize {
        let d = dir.idx();
        if self.dirs[d].resync {
            // After a gap: let the recogniser check the next header.
            self.dirs[d].mode = Mode::Start;
            if !self.recognise(dir, data, meta) {
                return data.len();
            }
            if self.dirs[d].mode == Mode::SslV2 {
                // Only a record header may resume framing; not a new SSLv2 hello.
                self.stop(dir);
                return data.len();
            }
        }
        if self.dirs[d].rec_buf.is_empty() {
            self.dirs[d].record_start = self.dirs[d].at;
        }
        // Fast path: whole records straight from the delivery, without copying.
        if self.dirs[d].rec_buf.is_empty() && data.len() >= RECORD_HEADER {
            if !looks_like_record_header(data) {
                if self.sslv2_server && data[0] & 0x80 != 0 {
                    // The client's CLIENT-MASTER-KEY after an SSLv2 server's hello.
                    self.dirs[d].mode = Mode::SslV2;
                    return 0;
                }
                self.bad_header(dir, meta, data);
                return data.len();
            }
            let len = usize::from(u16::from_be_bytes([data[3], data[4]]));
            if let Some(record) = data.get(..RECORD_HEADER + len) {
                self.plain_record(dir, record, meta);
                return record.len();
            }
        }
        // Slow path: collect one record in rec_buf.
        let st = &mut self.dirs[d];
        let had_header = st.rec_buf.len() >= RECORD_HEADER;
        let want = if had_header {
            RECORD_HEADER + usize::from(u16::from_be_bytes([st.rec_buf[3], st.rec_buf[4]]))
        } else {
            RECORD_HEADER
        };
        let n = want.saturating_sub(st.rec_buf.len()).min(data.len());
        st.rec_buf.extend_from_slice(&data[..n]);
        if !had_header && st.rec_buf.len() == RECORD_HEADER {
            if !looks_like_record_header(&st.rec_buf) {
                if self.sslv2_server && st.rec_buf[0] & 0x80 != 0 {
                    // As above; the bytes read so far start the SSLv2 record.
                    st.mode = Mode::SslV2;
                    return n;
                }
                let header = st.rec_buf.clone();
                self.bad_header(dir, meta, &header);
                return data.len();
            }
            let body = usize::from(u16::from_be_bytes([st.rec_buf[3], st.rec_buf[4]]));
            if body != 0 {
                // Header complete: the body is collected on the next round, into room made
                // once (growing by doubling copied a certificate record several times).
                st.rec_buf.reserve_exact(body);
                return n;
            }
        }
        let st = &mut self.dirs[d];
        let complete = st.rec_buf.len() >= RECORD_HEADER
            && st.rec_buf.len()
                == RECORD_HEADER + usize::from(u16::from_be_bytes([st.rec_buf[3], st.rec_buf[4]]));
        if complete {
            let record = std::mem::take(&mut st.rec_buf);
            self.plain_record(dir, &record, meta);
        }
        n
    }

    fn bad_header(&mut self, dir: Direction, meta: SegmentMeta, header: &[u8]) {
        let name = self.stream_name(dir);
        self.problem(format!(
            "invalid record header in {name} stream at packet {}: stopped reading it",
            meta.packet
        ));
        let at = self.dirs[dir.idx()].record_start;
        self.decode_stop(
            dir,
            meta,
            at,
            format!(
                "bytes that are not a TLS record header (content type {}, version {:#06x}): the rest of the stream was not decoded",
                header.first().copied().unwrap_or(0),
                u16::from_be_bytes([header.get(1).copied().unwrap_or(0), header.get(2).copied().unwrap_or(0)])
            ),
        );
        self.stop(dir);
    }

    /// Handles one complete plaintext record (header included).
    fn plain_record(&mut self, dir: Direction, record: &[u8], meta: SegmentMeta) {
        let ct = record[0];
        let body = &record[RECORD_HEADER..];
        if ct != CT_HANDSHAKE && !self.dirs[dir.idx()].hs_buf.is_empty() {
            // A handshake message left unfinished by another record type: drop it.
            let name = self.stream_name(dir);
            self.problem(format!(
                "handshake message interrupted by another record in {name} stream at packet {}",
                meta.packet
            ));
            let st = &self.dirs[dir.idx()];
            let (at, what) = (st.record_start, partial_message(&st.hs_buf));
            self.decode_stop(
                dir,
                meta,
                at,
                format!("{what}, interrupted by a record of content type {ct} before its end: it was not decoded"),
            );
            self.dirs[dir.idx()].drop_partial();
        }
        match ct {
            CT_CHANGE_CIPHER_SPEC => {
                if self.dirs[dir.idx()].ccs.is_none() {
                    self.dirs[dir.idx()].ccs = Some(meta);
                }
                self.event(dir, meta, || "ChangeCipherSpec".to_string());
                if self.ccs_encrypts(dir) {
                    self.set_encrypted(dir, meta);
                }
                if self.dec.is_some() {
                    self.decrypt_ccs(dir);
                }
            }
            CT_ALERT => {
                // A plaintext alert is 2 bytes with level 1 or 2. Anything else is an alert that
                // was encrypted (the switch to encryption was not seen, e.g. after a gap or in
                // an abbreviated handshake): its level and description are unreadable.
                let plain = body.len() == 2 && matches!(body[0], 1 | 2);
                if !plain {
                    self.push_alert(RawAlert::encrypted(dir, meta));
                    self.event(dir, meta, || "Alert (encrypted)".to_string());
                } else {
                    self.plain_alert(dir, body[0], body[1], meta, "");
                }
            }
            CT_HANDSHAKE => self.handshake_fragment(dir, body, meta),
            CT_APPLICATION_DATA => {
                // Application data in a plaintext direction: keys are in use from here on
                // (TLS 1.3 client after the ServerHello, early data, or an unseen CCS).
                self.set_encrypted(dir, meta);
                if self.dec.is_some() && self.decrypt_whole(dir, record, meta) {
                    return;
                }
                let st = &mut self.dirs[dir.idx()];
                st.encrypted_records += 1;
                st.application_data_records += 1;
            }
            CT_HEARTBEAT => self.heartbeat(dir, body, meta),
            _ => {}
        }
    }

    /// A plaintext heartbeat (RFC 6520): one whose payload_length claims more than the record
    /// holds (type, length, payload and at least 16 bytes of padding) is kept: a Heartbleed
    /// probe (request) or a leak (response).
    fn heartbeat(&mut self, dir: Direction, body: &[u8], meta: SegmentMeta) {
        let (Some(&kind), Some(claimed)) = (
            body.first(),
            body.get(1..3)
                .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]]))),
        ) else {
            return;
        };
        let kind_name = if kind == 2 { "response" } else { "request" };
        self.event(dir, meta, || {
            format!(
                "Heartbeat {kind_name} (payload {claimed} bytes claimed, record {} bytes)",
                body.len()
            )
        });
        if 3 + claimed + 16 > body.len() && self.raw_heartbeats.len() < self.cfg.max_events {
            self.raw_heartbeats
                .push((dir, meta, kind, claimed, body.len()));
        }
    }

    /// Whether a plaintext ChangeCipherSpec in `dir` means encryption follows.
    fn ccs_encrypts(&self, dir: Direction) -> bool {
        if !self.tls13 {
            return true;
        }
        // TLS 1.3: the server is encrypted from its ServerHello on (its CCS is only for
        // middleboxes); the client's compatibility CCS may come right after a
        // HelloRetryRequest, before its second plaintext ClientHello.
        dir == self.client_dir() && self.summary.server_hello.is_some()
    }

    /// Joins handshake fragments and handles complete messages.
    fn handshake_fragment(&mut self, dir: Direction, body: &[u8], meta: SegmentMeta) {
        let d = dir.idx();
        let mut rest = body;
        // Encrypted mode gets here only with decrypted records.
        while !rest.is_empty() && matches!(self.dirs[d].mode, Mode::Plain | Mode::Encrypted) {
            let buffered = !self.dirs[d].hs_buf.is_empty();
            if !buffered && rest.len() >= 4 {
                let len = be_u24(&rest[1..]).unwrap_or(usize::MAX);
                if len > self.cfg.max_handshake_message {
                    self.oversized(dir, len, meta);
                    return;
                }
                if let Some(msg) = rest.get(..4 + len) {
                    self.handshake_message(dir, msg, meta);
                    rest = &rest[4 + len..];
                    continue;
                }
            }
            // Incomplete: collect in hs_buf (header first, then the announced length).
            let st = &mut self.dirs[d];
            let want = match st.hs_buf.get(1..4).and_then(be_u24) {
                Some(len) => 4 + len,
                None => 4,
            };
            let n = want.saturating_sub(st.hs_buf.len()).min(rest.len());
            st.hs_buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if st.hs_buf.len() == 4 && want == 4 {
                let len = be_u24(&st.hs_buf[1..]).unwrap_or(usize::MAX);
                if len > self.cfg.max_handshake_message {
                    self.oversized(dir, len, meta);
                    return;
                }
                if len > LARGE_MESSAGE {
                    if !reserve_large(len) {
                        self.over_budget(dir, len, meta);
                        return;
                    }
                    let st = &mut self.dirs[d];
                    st.reserved = len;
                    // Room made once: growing by doubling would copy a large chain many times.
                    st.hs_buf.reserve_exact(len);
                }
                if len > 0 {
                    continue;
                }
            }
            let st = &mut self.dirs[d];
            let complete =
                st.hs_buf.get(1..4).and_then(be_u24).map(|l| 4 + l) == Some(st.hs_buf.len());
            if complete {
                let msg = std::mem::take(&mut st.hs_buf);
                release_large(std::mem::take(&mut st.reserved));
                self.handshake_message(dir, &msg, meta);
            }
        }
    }

    fn oversized(&mut self, dir: Direction, len: usize, meta: SegmentMeta) {
        let name = self.stream_name(dir);
        self.problem(format!(
            "handshake message of {len} bytes in {name} stream at packet {} exceeds the {} byte limit: stopped reading it",
            meta.packet, self.cfg.max_handshake_message
        ));
        let at = self.dirs[dir.idx()].record_start;
        self.decode_stop(
            dir,
            meta,
            at,
            format!(
                "a handshake message announced as {len} bytes, over the {} byte limit: the rest of the stream was not decoded",
                self.cfg.max_handshake_message
            ),
        );
        self.stop(dir);
    }

    /// A large message for which the process-wide budget has no room left.
    fn over_budget(&mut self, dir: Direction, len: usize, meta: SegmentMeta) {
        let name = self.stream_name(dir);
        self.problem(format!(
            "handshake message of {len} bytes in {name} stream at packet {}: no memory budget left to join it",
            meta.packet
        ));
        let at = self.dirs[dir.idx()].record_start;
        self.decode_stop(
            dir,
            meta,
            at,
            format!(
                "a handshake message of {len} bytes, while other connections held the {} MiB kept for large messages: the rest of the stream was not decoded",
                LARGE_MESSAGE_BUDGET >> 20
            ),
        );
        self.stop(dir);
    }

    /// Handles one complete handshake message (4-byte header included).
    fn handshake_message(&mut self, dir: Direction, msg: &[u8], meta: SegmentMeta) {
        let msg_type = msg[0];
        let body = &msg[4..];
        if self.dec.is_some() || self.quic {
            self.decrypt_handshake(dir, msg_type, body, meta);
        }
        match msg_type {
            1 => match decode_client_hello(body) {
                Ok(mut ch) => {
                    ch.meta = meta;
                    self.client_hello(dir, ch, meta);
                }
                Err(e) => self.malformed(dir, e, meta),
            },
            2 => match decode_server_hello(body) {
                Ok(mut sh) => {
                    sh.meta = meta;
                    self.server_hello(dir, sh, meta);
                }
                Err(e) => self.malformed(dir, e, meta),
            },
            11 => match if self.tls13 {
                super::decrypt::decode_certificate13(body)
            } else {
                decode_certificate(body)
            } {
                Ok(certs) => {
                    self.event(dir, meta, || match certs.len() {
                        0 => "Certificate (empty)".to_string(),
                        1 => "Certificate (1 certificate)".to_string(),
                        n => format!("Certificate ({n} certificates)"),
                    });
                    let cert = CertificateMsg { meta, certs };
                    let slot = if dir == self.client_dir() {
                        &mut self.summary.client_certificate
                    } else {
                        &mut self.summary.server_certificate
                    };
                    if slot.is_none() {
                        *slot = Some(cert);
                    }
                }
                Err(e) => self.malformed(dir, e, meta),
            },
            12 if !self.tls13 => {
                let cipher = self.summary.server_hello.as_ref().map(|sh| sh.cipher);
                let group = cipher.and_then(|c| decode_key_exchange(body, c));
                self.event(dir, meta, || match &group {
                    Some(g) => format!("ServerKeyExchange {}", g.name),
                    None => "ServerKeyExchange".to_string(),
                });
                if self.summary.key_exchange.is_none() {
                    self.summary.key_exchange = group.map(|g| KeyExchangeGroup { meta, ..g });
                }
            }
            13 => {
                self.event(dir, meta, || "CertificateRequest".to_string());
                self.summary.certificate_request.get_or_insert(meta);
                let version = self.summary.negotiated_version().unwrap_or(0x0303);
                if self.summary.certificate_request_contents.is_none() {
                    match super::handshake::decode_certificate_request(body, version) {
                        Ok(req) => {
                            self.summary.certificate_request_contents =
                                Some(Box::new(super::CertificateRequestMsg { meta, ..req }))
                        }
                        Err(e) => self.malformed(dir, e, meta),
                    }
                }
            }
            15 if dir == self.client_dir() => {
                self.event(dir, meta, || "CertificateVerify".to_string());
                let version = self.summary.negotiated_version().unwrap_or(0x0303);
                let scheme = super::handshake::certificate_verify_scheme(body, version);
                self.summary
                    .client_certificate_verify
                    .get_or_insert_with(|| Box::new((meta, scheme)));
            }
            14 => {
                self.event(dir, meta, || "ServerHelloDone".to_string());
                self.summary.server_hello_done.get_or_insert(meta);
            }
            22 => match decode_certificate_status(body) {
                Ok(der) => {
                    self.event(dir, meta, || {
                        format!("CertificateStatus (OCSP, {} bytes)", der.len())
                    });
                    if self.summary.ocsp_response.is_none() {
                        self.summary.ocsp_response = Some((meta, der));
                    }
                }
                Err(e) => self.malformed(dir, e, meta),
            },
            other => {
                self.event(dir, meta, || match other {
                    0 => "HelloRequest".to_string(),
                    4 => "NewSessionTicket".to_string(),
                    8 => "EncryptedExtensions".to_string(),
                    12 => "ServerKeyExchange".to_string(),
                    15 => "CertificateVerify".to_string(),
                    16 => "ClientKeyExchange".to_string(),
                    20 => "Finished".to_string(),
                    25 => "CompressedCertificate".to_string(),
                    67 => "NextProtocol".to_string(),
                    n => format!("Handshake message type {n}"),
                });
            }
        }
    }

    fn malformed(&mut self, dir: Direction, e: String, meta: SegmentMeta) {
        let name = self.stream_name(dir);
        self.problem(format!("{e} in {name} stream at packet {}", meta.packet));
        // The parser's error text carries the input bytes: only its first words are kept.
        let what = e.split(':').next().unwrap_or(&e);
        let message = what.strip_prefix("malformed ").unwrap_or(what);
        let at = self.dirs[dir.idx()].record_start;
        self.decode_stop(
            dir,
            meta,
            at,
            format!("a {message} that does not decode: its fields were not read"),
        );
    }

    fn client_hello(&mut self, dir: Direction, ch: ClientHello, meta: SegmentMeta) {
        if self.summary.client_hello.is_none() && dir == Direction::ToClient {
            self.swapped = true;
        }
        self.event(dir, meta, || client_hello_text(&ch));
        if let Some(dec) = self.dec.as_deref_mut() {
            dec.on_client_hello(&ch.random, &ch.extensions);
        }
        if self.summary.client_hello.is_none() {
            self.summary.client_hello = Some(ch);
        } else if self.summary.hello_retry_request.is_some()
            && self.summary.second_client_hello.is_none()
        {
            self.summary.second_client_hello = Some(ch);
        }
    }

    fn server_hello(&mut self, dir: Direction, sh: ServerHello, meta: SegmentMeta) {
        let kind = if sh.hello_retry {
            "HelloRetryRequest"
        } else {
            "ServerHello"
        };
        self.event(dir, meta, || server_hello_text(kind, &sh));
        let tls13 = super::is_tls13(sh.version);
        self.tls13 |= tls13;
        if sh.hello_retry {
            if self.summary.hello_retry_request.is_none() {
                self.summary.hello_retry_request = Some(sh);
            }
            return;
        }
        if self.summary.server_hello.is_some() {
            return;
        }
        self.summary.server_hello = Some(sh);
        if tls13 && !self.quic {
            // Everything the server sends after its TLS 1.3 ServerHello is encrypted.
            self.set_encrypted(dir, meta);
        }
    }
}

/// The ladder step of a ClientHello.
fn client_hello_text(ch: &ClientHello) -> String {
    let mut text = if ch.sslv2 {
        "ClientHello (SSLv2 format)".to_string()
    } else {
        "ClientHello".to_string()
    };
    match &ch.sni {
        Some(sni) => text.push_str(&format!(" SNI={sni}")),
        None => text.push_str(" no SNI"),
    }
    if !ch.alpn.is_empty() {
        text.push_str(&format!(" ALPN={}", ch.alpn.join(",")));
    }
    let versions: Vec<String> = ch
        .supported_versions
        .iter()
        .filter(|v| !is_grease(**v))
        .map(|v| version_name(*v))
        .collect();
    if versions.is_empty() {
        text.push_str(&format!(" version={}", version_name(ch.legacy_version)));
    } else {
        text.push_str(&format!(" versions={}", versions.join(",")));
    }
    text
}

/// The ladder step of a ServerHello or HelloRetryRequest (`kind`).
fn server_hello_text(kind: &str, sh: &ServerHello) -> String {
    let mut text = format!(
        "{kind} {} {}",
        version_name(sh.version),
        cipher_name(sh.cipher)
    );
    if let Some(alpn) = &sh.alpn {
        text.push_str(&format!(" ALPN={alpn}"));
    }
    text
}

/// Bytes [`probe_tls_start`] needs to judge a candidate.
const PROBE_LEN: usize = 11;

/// Verdict on a candidate TLS start after a preamble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// A TLS stream starts here.
    Tls,
    /// Not a TLS start.
    NotTls,
    /// Consistent so far, but shorter than [`PROBE_LEN`].
    NeedMore,
}

/// Whether `b` starts a TLS stream: a handshake record whose first message is a ClientHello
/// or ServerHello, with sane record and message lengths and a 3.x (or TLS 1.3 draft 0x7fxx,
/// ServerHello only) version — 11 bytes checked, so random bytes almost never pass. With
/// `alert_ok`, a 2-byte alert record also qualifies (a server refusing a ClientHello).
fn probe_tls_start(b: &[u8], alert_ok: bool, max_handshake: usize) -> Probe {
    let get = |i: usize| b.get(i).copied();
    let rec_len = |hi: u8, lo: u8| usize::from(u16::from_be_bytes([hi, lo]));
    // One check per byte position, None while the byte is missing.
    let checks: Vec<Option<bool>> = if alert_ok && get(0) == Some(CT_ALERT) {
        vec![
            get(1).map(|v| v == 3),
            get(2).map(|v| v <= 4),
            get(3).map(|hi| hi == 0),
            get(4).map(|lo| lo == 2),
            get(5).map(|level| level == 1 || level == 2),
        ]
    } else {
        vec![
            get(0).map(|ct| ct == CT_HANDSHAKE),
            get(1).map(|v| v == 3),
            get(2).map(|v| v <= 4),
            get(4).and_then(|lo| get(3).map(|hi| (4..=MAX_RECORD_BODY).contains(&rec_len(hi, lo)))),
            get(5).map(|t| t == 1 || t == 2),
            b.get(6..9)
                .and_then(be_u24)
                .map(|l| (38..=max_handshake).contains(&l)),
            get(9).map(|major| major == 3 || (major == 0x7f && get(5) == Some(2))),
            get(10).map(|minor| get(9) != Some(3) || minor <= 4),
        ]
    };
    if checks.contains(&Some(false)) {
        Probe::NotTls
    } else if checks.contains(&None) {
        Probe::NeedMore
    } else {
        Probe::Tls
    }
}

/// A TLS record header: content type 20..=24, major version 3, minor 0..=4, sane length.
fn looks_like_record_header(b: &[u8]) -> bool {
    match b {
        [ct, 3, minor, hi, lo, ..] => {
            (20..=24).contains(ct)
                && *minor <= 4
                && usize::from(u16::from_be_bytes([*hi, *lo])) <= MAX_RECORD_BODY
        }
        _ => false,
    }
}

impl StreamHandler for TlsObserver {
    fn buffered_bytes(&self) -> usize {
        let dirs: usize = self
            .dirs
            .iter()
            .map(|d| d.rec_buf.capacity() + d.hs_buf.capacity() + d.hunt_tail.capacity())
            .sum();
        let s = &self.summary;
        let certs = [&s.server_certificate, &s.client_certificate]
            .into_iter()
            .flatten()
            .map(|c| c.certs.iter().map(Vec::len).sum::<usize>())
            .sum::<usize>();
        dirs + certs
            + std::mem::size_of::<HandshakeSummary>()
            + self.alerts.capacity() * std::mem::size_of::<RawAlert>()
            + self.events.capacity() * std::mem::size_of::<(Direction, SegmentMeta, String)>()
            + if self.cleartext.is_some() {
                // Up to 16 KiB per direction kept for the HTTP reader.
                2 * 16 * 1024
            } else {
                0
            }
    }

    fn fresh(&self) -> Option<Self> {
        Some(TlsObserver::new(self.cfg.clone()))
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) -> Interest {
        self.feed(dir, data, meta);
        self.interest(dir)
    }

    fn on_gap(&mut self, dir: Direction, len: u64, meta: SegmentMeta) -> Interest {
        let name = self.stream_name(dir);
        let st = &mut self.dirs[dir.idx()];
        st.delivered += len;
        match st.mode {
            Mode::Stopped => {}
            Mode::Encrypted => {
                // Header counting lost its place; resume only on a plausible header.
                st.skip = 0;
                st.rec_buf.clear();
                st.resync = true;
            }
            Mode::Hunt => {
                // The next delivery is a fresh candidate start; a cut-short one is lost.
                st.hunt_tail = Vec::new();
            }
            Mode::Start if st.rec_buf.is_empty() => {
                // Nothing seen yet: the stream may still start with a record header.
                st.resync = true;
            }
            Mode::Start | Mode::Plain | Mode::SslV2 => {
                st.mode = if st.mode == Mode::SslV2 {
                    Mode::Plain
                } else {
                    st.mode
                };
                st.rec_buf.clear();
                st.drop_partial();
                st.resync = true;
                self.problem(format!(
                    "gap of {len} bytes in {name} stream at packet {}",
                    meta.packet
                ));
            }
        }
        self.interest(dir)
    }
}

/// A handshake message type's name (RFC 8446 §4, RFC 5246 §7.4).
fn handshake_type_name(t: u8) -> &'static str {
    match t {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        4 => "NewSessionTicket",
        5 => "EndOfEarlyData",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        22 => "CertificateStatus",
        24 => "KeyUpdate",
        _ => "handshake",
    }
}

/// "a Certificate message (9000 of 339629 bytes seen)" for a partly joined message.
fn partial_message(hs_buf: &[u8]) -> String {
    let name = hs_buf
        .first()
        .map_or("handshake", |t| handshake_type_name(*t));
    match hs_buf.get(1..4).and_then(be_u24) {
        Some(len) => format!(
            "a {name} message ({} of {} bytes seen)",
            hs_buf.len().saturating_sub(4),
            len
        ),
        None => format!("a {name} message"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serialises the tests that use the process-wide large-message budget.
    static BUDGET: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Hand-built (no corpus capture holds a handshake message over 256 KiB): a 300,016-byte
    /// Certificate message with two 150,000-byte certificates, over 19 records and many
    /// deliveries, is joined and decoded; its budget reservation is given back.
    #[test]
    fn joins_a_certificate_message_over_256_kib() {
        let _budget = BUDGET.lock().unwrap_or_else(|e| e.into_inner());
        let cert_len = 150_000usize;
        let mut body = Vec::new();
        let list_len = 2 * (3 + cert_len);
        body.extend_from_slice(&(list_len as u32).to_be_bytes()[1..]);
        for fill in [0x11u8, 0x22] {
            body.extend_from_slice(&(cert_len as u32).to_be_bytes()[1..]);
            body.extend_from_slice(&vec![fill; cert_len]);
        }
        let mut msg = vec![11u8];
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        let mut stream = Vec::new();
        for chunk in msg.chunks(16_384) {
            stream.extend_from_slice(&[22, 3, 3]);
            stream.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            stream.extend_from_slice(chunk);
        }
        let mut obs = TlsObserver::new(ObserverConfig::default());
        for (i, piece) in stream.chunks(1_460).enumerate() {
            let meta = SegmentMeta {
                packet: i as u64 + 1,
                ..SegmentMeta::default()
            };
            obs.on_data(Direction::ToClient, piece, meta);
        }
        assert_eq!(obs.dirs[Direction::ToClient.idx()].reserved, 0);
        let s = obs.finish();
        let certs = s.server_certificate.expect("certificate decoded").certs;
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[1].len(), cert_len);
        assert!(certs[1].iter().all(|b| *b == 0x22));
        assert_eq!(s.decode_stops, []);
    }

    /// Hand-built: a message announced over the protocol limit cannot exist, and one the budget
    /// has no room for is refused; both say so, with the record's stream offset.
    #[test]
    fn a_message_over_the_budget_is_a_decode_stop() {
        let _budget = BUDGET.lock().unwrap_or_else(|e| e.into_inner());
        let mut obs = TlsObserver::new(ObserverConfig::default());
        // Hold most of the budget, as other connections joining large messages would; then a
        // ServerHelloDone record and a record announcing a 1 MiB Certificate.
        assert!(reserve_large(LARGE_MESSAGE_BUDGET - LARGE_MESSAGE));
        let mut stream = vec![22, 3, 3, 0, 4, 14, 0, 0, 0];
        stream.extend_from_slice(&[22, 3, 3, 0, 8, 11, 0x10, 0, 0, 0, 0, 0, 0]);
        let meta = SegmentMeta {
            packet: 7,
            ..SegmentMeta::default()
        };
        obs.on_data(Direction::ToClient, &stream, meta);
        release_large(LARGE_MESSAGE_BUDGET - LARGE_MESSAGE);
        let s = obs.finish();
        assert_eq!(s.decode_stops.len(), 1, "{:?}", s.decode_stops);
        let stop = &s.decode_stops[0];
        assert_eq!(
            (stop.from, stop.meta.packet, stop.offset),
            (Side::Server, 7, 9)
        );
        assert!(
            stop.what
                .starts_with("a handshake message of 1048576 bytes"),
            "{}",
            stop.what
        );
    }

    #[test]
    fn preamble_probe_rejects_pseudo_random_bytes() {
        // Generated bytes (xorshift), the edge case being random binary protocols: no offset
        // of 1 MiB passes the 11-byte check.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let bytes: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let hits = (0..bytes.len())
            .filter(|&i| probe_tls_start(&bytes[i..], true, 256 * 1024) == Probe::Tls)
            .count();
        assert_eq!(hits, 0);
    }

    #[test]
    fn preamble_probe_needs_a_hello() {
        // Hand-built headers: a ClientHello start passes, an application-data record or a
        // handshake of another type does not, a short prefix asks for more.
        let ch = [22u8, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3];
        assert_eq!(probe_tls_start(&ch, false, 1 << 18), Probe::Tls);
        assert_eq!(probe_tls_start(&ch[..7], false, 1 << 18), Probe::NeedMore);
        let mut app = ch;
        app[0] = 23;
        assert_eq!(probe_tls_start(&app, false, 1 << 18), Probe::NotTls);
        let mut fin = ch;
        fin[5] = 20;
        assert_eq!(probe_tls_start(&fin, false, 1 << 18), Probe::NotTls);
        assert_eq!(
            probe_tls_start(&[21, 3, 3, 0, 2, 2, 40], true, 1 << 18),
            Probe::Tls
        );
        assert_eq!(
            probe_tls_start(&[21, 3, 3, 0, 2, 2, 40], false, 1 << 18),
            Probe::NotTls
        );
    }

    #[test]
    fn zero_length_records_split_bytewise_terminate() {
        // Hand-built edge case: empty handshake records (legal framing, no content), fed one
        // byte at a time, must neither loop nor stop the direction.
        let mut obs = TlsObserver::new(ObserverConfig::default());
        for b in [22u8, 3, 3, 0, 0, 22, 3, 3, 0, 0] {
            assert_eq!(
                obs.on_data(Direction::ToServer, &[b], SegmentMeta::default()),
                Interest::More
            );
        }
        let s = obs.finish();
        assert!(s.is_tls);
        assert!(s.problems.is_empty());
    }
}
