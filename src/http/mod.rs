//! HTTP requests and responses in decrypted (or cleartext) application data.
//!
//! Reads the bounded application bytes the TLS observer kept per direction as HTTP/1.x (heads
//! with httparse, bodies skipped by Content-Length or chunked framing) or HTTP/2 (frames, header
//! blocks with an HPACK decoder per direction). Only the first few exchanges are kept. Secrets
//! never leave this module: query values are redacted and credentials are reduced to a kind.

use crate::flow::Direction;
use crate::tls::{AppData, HandshakeSummary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod auth;
pub mod hmac;
pub use auth::{Auth, AuthMethod};
use hmac::{Body, MAX_SIGNED_BODY};
pub use hmac::{Carried, HmacContext, HmacKey, HmacKeyError, HmacRecord};

/// One HTTP request and its response, read from decrypted (or cleartext) application data.
/// Query values and credentials are never included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    #[schemars(with = "String")]
    pub auth: Auth,
    /// Packet that carried the request.
    pub request_packet: Option<u64>,
    /// Packet that carried the response.
    pub response_packet: Option<u64>,
    /// How the request was signed with an HMAC (null when it was not).
    pub hmac: Option<HmacRecord>,
}

/// Exchanges kept per connection.
const MAX_EXCHANGES: usize = 8;
/// Headers read per HTTP/1.x head.
const MAX_HEADERS: usize = 96;
/// The HTTP/2 client connection preface.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Query parameter names (lower case, substrings) that carry signatures.
const SIG_PARAMS: &[&str] = &["signature", "hmac", "sig"];
/// Query parameter names (lower case, exact) that carry API keys.
const KEY_PARAMS: &[&str] = &[
    "api_key",
    "apikey",
    "api-key",
    "key",
    "x-api-key",
    "access_key",
    "subscription-key",
];
/// Query parameter names (lower case, substrings) that carry tokens or other secrets.
const TOKEN_PARAMS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "pwd",
    "secret",
    "auth",
    "credential",
    "session",
];
/// Query parameter names (lower case, substrings) that are secrets a GET must not carry.
pub const SENSITIVE_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "private_key",
    "otp",
    "pin",
];

/// Whether a query parameter name carries a credential (token, key, signature, password).
pub fn is_credential_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SIG_PARAMS.iter().any(|p| n.contains(p))
        || KEY_PARAMS.contains(&n.as_str())
        || TOKEN_PARAMS.iter().any(|p| n.contains(p))
}

/// Whether a query parameter name is a secret that belongs in a POST body.
pub fn is_sensitive_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SENSITIVE_PARAMS
        .iter()
        .any(|p| n == *p || n.contains(p) && p.len() > 3)
}

/// Names of the query parameters of a redacted path that had a value.
pub fn query_names(path: &str) -> Vec<String> {
    let Some((_, q)) = path.split_once('?') else {
        return Vec::new();
    };
    q.split('&')
        .filter_map(|kv| kv.strip_suffix("=<redacted>"))
        .map(str::to_string)
        .collect()
}

/// A request as read, before pairing.
#[derive(Debug, Default)]
struct Request {
    method: Option<String>,
    path: Option<String>,
    host: Option<String>,
    auth: Auth,
    packet: u64,
    hmac: Option<HmacRecord>,
}

/// The first HTTP exchanges of a connection; `ctx` judges their HMAC signatures.
pub fn exchanges(hs: &HandshakeSummary, ctx: &HmacContext<'_>) -> Vec<HttpRecord> {
    let client = &hs.app_data[Direction::ToServer.idx()];
    let server = &hs.app_data[Direction::ToClient.idx()];
    if client.bytes.is_empty() && server.bytes.is_empty() {
        return Vec::new();
    }
    let cert = hs.client_cert_sent() == Some(true);
    let mut out = if client.bytes.starts_with(H2_PREFACE) {
        h2_exchanges(client, server, ctx)
    } else {
        h1_exchanges(client, server, ctx)
    };
    if cert {
        for r in &mut out {
            r.auth.add(AuthMethod::ClientCertificate);
        }
    }
    out
}

/// Redacts query values (`?a=1&b` → `?a=<redacted>&b`) and userinfo, and classifies query
/// credentials.
fn redact_path(raw: &str, auth: &mut Auth) -> String {
    let (mut base, query) = match raw.split_once('?') {
        Some((b, q)) => (b.to_string(), Some(q)),
        None => (raw.to_string(), None),
    };
    // Absolute form with userinfo: scheme://user:pass@host/...
    if let Some(scheme_end) = base.find("://") {
        let rest = &base[scheme_end + 3..];
        let auth_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..auth_end].rfind('@') {
            auth.add(AuthMethod::Basic);
            base = format!("{}<redacted>@{}", &base[..scheme_end + 3], &rest[at + 1..]);
        }
    }
    base = redact_path_params(&base);
    let Some(q) = query else {
        return base;
    };
    let mut parts = Vec::new();
    for kv in q.split('&') {
        let Some((k, v)) = kv.split_once('=') else {
            parts.push(bare_query_part(kv));
            continue;
        };
        if v.is_empty() {
            // Nothing to hide, and an empty token is no credential.
            parts.push(kv.to_string());
            continue;
        }
        let name = k.to_ascii_lowercase();
        if SIG_PARAMS.iter().any(|p| name.contains(p)) {
            auth.add(AuthMethod::HmacQuery);
        } else if KEY_PARAMS.contains(&name.as_str()) {
            auth.add(AuthMethod::ApiKey);
        } else if name.contains("token") {
            auth.add(AuthMethod::Bearer);
        }
        parts.push(format!("{k}=<redacted>"));
    }
    format!("{base}?{}", parts.join("&"))
}

/// A query component without `=`: a flag (`?wsdl`, `&raw`) is shown, anything else may be a
/// bare token (`/reset?3f9a...`, `/hook?eyJ...`) and is redacted. Flags are short words: at most
/// 16 letters, `_`, `-` and `.`; a single digit is enough to look like a token (cache busters
/// such as `?1644807874` are redacted too, which costs nothing).
fn bare_query_part(part: &str) -> String {
    let is_word = part.len() <= 16
        && part
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b"_-.".contains(&b));
    if is_word {
        part.to_string()
    } else {
        "<redacted>".to_string()
    }
}

/// Redacts path-parameter values (`/a;jsessionid=X/b` → `/a;jsessionid=<redacted>/b`): servlet
/// containers carry session ids there when cookies are off.
fn redact_path_params(base: &str) -> String {
    if !base.contains(';') {
        return base.to_string();
    }
    let mut out = String::with_capacity(base.len());
    for (i, segment) in base.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let mut params = segment.split(';');
        out.push_str(params.next().unwrap_or(""));
        for param in params {
            out.push(';');
            match param.split_once('=') {
                Some((k, v)) if !v.is_empty() => {
                    out.push_str(k);
                    out.push_str("=<redacted>");
                }
                _ if param.is_empty() => {}
                _ => out.push_str("<redacted>"),
            }
        }
    }
    out
}

/// Header names shown by [`preview`], at most.
const PREVIEW_HEADERS: usize = 6;

/// What the first bytes of a non-TLS stream are, as protocol structure only: an HTTP request line
/// with query and path-parameter values redacted, an HTTP status line, header names (never their
/// values), an SSH banner, the first word of another text protocol (`USER`, `220`, `+OK`), or the
/// first four bytes in hex. No credential, cookie, token or body byte can reach the output
/// through it.
pub fn preview(bytes: &[u8]) -> String {
    let line_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let line = bytes[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&bytes[..line_end]);
    let text = std::str::from_utf8(line)
        .ok()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| (0x20..0x7f).contains(&b)));
    let Some(text) = text else {
        let hex: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return format!("binary, starting {}", hex.join(" "));
    };
    let words: Vec<&str> = text.split(' ').collect();
    if let [method, target, version] = words[..] {
        if version.starts_with("HTTP/") && method.bytes().all(|b| b.is_ascii_uppercase()) {
            let path = redact_path(target, &mut Auth::default());
            return format!("{method} {path} {version}{}", header_names(bytes, line_end));
        }
    }
    if words.len() >= 2
        && words[0].starts_with("HTTP/")
        && words[1].len() == 3
        && words[1].bytes().all(|b| b.is_ascii_digit())
    {
        // The reason phrase is the server's fixed text for the code.
        let status = text.chars().take(48).collect::<String>();
        return format!("{status}{}", header_names(bytes, line_end));
    }
    if text.starts_with("SSH-") {
        return text.chars().take(48).collect();
    }
    // The command or reply code: `USER`, `220` (of `220-host ESMTP`), `+OK`, `*`.
    let first_len = words[0]
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || b"+*".contains(b))
        .count();
    let first = &words[0][..first_len];
    if !first.is_empty() && first.len() <= 12 {
        format!("text starting \"{first}\" (rest not shown)")
    } else {
        "text (not shown)".to_string()
    }
}

/// ` [headers: A, B, …]` for the header names after an HTTP start line.
fn header_names(bytes: &[u8], line_end: usize) -> String {
    let rest = bytes.get(line_end + 1..).unwrap_or(&[]);
    let mut names = Vec::new();
    let mut more = false;
    for line in rest.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            break;
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-') {
            break;
        }
        if names.len() == PREVIEW_HEADERS {
            more = true;
            break;
        }
        names.push(String::from_utf8_lossy(name).into_owned());
    }
    match (names.is_empty(), more) {
        (true, _) => String::new(),
        (false, false) => format!(" [headers: {}]", names.join(", ")),
        (false, true) => format!(" [headers: {}, …]", names.join(", ")),
    }
}

/// Classifies one request header.
fn header_auth(name: &str, value: &[u8], auth: &mut Auth) {
    let n = name.to_ascii_lowercase();
    if n == "authorization" || n == "proxy-authorization" {
        let v = String::from_utf8_lossy(value).to_ascii_lowercase();
        let scheme = v.split_whitespace().next().unwrap_or("");
        auth.add(match scheme {
            "basic" => AuthMethod::Basic,
            "bearer" => AuthMethod::Bearer,
            s if s.contains("hmac") || s == "signature" || s.starts_with("aws4") => {
                AuthMethod::HmacHeader
            }
            "apikey" | "api-key" | "key" | "token" | "sso-key" => AuthMethod::ApiKey,
            _ => AuthMethod::Bearer,
        });
    } else if n.contains("signature") || n.contains("hmac") {
        auth.add(AuthMethod::HmacHeader);
    } else if n == "x-api-key"
        || n == "api-key"
        || n == "apikey"
        || n == "x-apikey"
        || n.ends_with("-api-key")
        || n == "x-auth-token"
        || n == "ocp-apim-subscription-key"
    {
        auth.add(AuthMethod::ApiKey);
    }
}

fn h1_exchanges(client: &AppData, server: &AppData, ctx: &HmacContext<'_>) -> Vec<HttpRecord> {
    let mut reqs = Vec::new();
    let mut at = 0usize;
    while reqs.len() < MAX_EXCHANGES {
        let Some(rest) = client.bytes.get(at..).filter(|r| !r.is_empty()) else {
            break;
        };
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let Ok(httparse::Status::Complete(head)) = req.parse(rest) else {
            break;
        };
        let mut r = Request {
            method: req.method.map(str::to_string),
            packet: client.packet_at(at),
            ..Request::default()
        };
        let mut body = BodyLen::None;
        for h in req.headers.iter() {
            header_auth(h.name, h.value, &mut r.auth);
            if h.name.eq_ignore_ascii_case("host") {
                r.host = Some(String::from_utf8_lossy(h.value).into_owned());
            }
            body = body.update(h.name, h.value);
        }
        let sig_headers: Vec<(&str, &[u8])> =
            req.headers.iter().map(|h| (h.name, h.value)).collect();
        let dechunked;
        let body_bytes = match body {
            BodyLen::None => Body::Whole(&[]),
            BodyLen::Length(n) if n > MAX_SIGNED_BODY => Body::TooLarge,
            BodyLen::Length(n) => head
                .checked_add(n)
                .and_then(|end| rest.get(head..end))
                .map_or(Body::NotSeen, Body::Whole),
            BodyLen::Chunked => match dechunk(rest.get(head..).unwrap_or_default()) {
                Ok(b) => {
                    dechunked = b;
                    Body::Whole(&dechunked)
                }
                Err(gap) => gap,
            },
        };
        r.hmac = hmac::inspect(
            &hmac::SignedRequest {
                method: req.method.unwrap_or(""),
                target: req.path.unwrap_or(""),
                headers: &sig_headers,
                body: body_bytes,
            },
            ctx,
        );
        r.path = req.path.map(|p| redact_path(p, &mut r.auth));
        let version = req.version.unwrap_or(1);
        reqs.push((r, version));
        match skip_body(rest, head, body, false) {
            Some(n) => at += n,
            None => break,
        }
    }
    let mut resps = Vec::new();
    let mut at = 0usize;
    while resps.len() < MAX_EXCHANGES {
        let Some(rest) = server.bytes.get(at..).filter(|r| !r.is_empty()) else {
            break;
        };
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(head)) = resp.parse(rest) else {
            break;
        };
        let code = resp.code;
        let mut body = BodyLen::None;
        for h in resp.headers.iter() {
            body = body.update(h.name, h.value);
        }
        let packet = server.packet_at(at);
        // 1xx answers precede the real response of the same request.
        if !code.is_some_and(|c| (100..200).contains(&c)) {
            resps.push((code, packet));
        }
        let no_body = code.is_some_and(|c| c == 204 || c == 304 || (100..200).contains(&c))
            || reqs
                .get(resps.len().saturating_sub(1))
                .is_some_and(|(r, _)| r.method.as_deref() == Some("HEAD"));
        if no_body {
            at += head;
            continue;
        }
        match skip_body(rest, head, body, true) {
            Some(n) => at += n,
            None => break,
        }
    }
    let n = reqs.len().max(resps.len()).min(MAX_EXCHANGES);
    (0..n)
        .map(|i| {
            let (r, v) = reqs.get(i).map(|(r, v)| (Some(r), *v)).unwrap_or((None, 1));
            let resp = resps.get(i);
            HttpRecord {
                version: format!("HTTP/1.{v}"),
                method: r.and_then(|r| r.method.clone()),
                path: r.and_then(|r| r.path.clone()),
                host: r.and_then(|r| r.host.clone()),
                status: resp.and_then(|(c, _)| *c),
                auth: r.map(|r| r.auth).unwrap_or_default(),
                request_packet: r.map(|r| r.packet),
                response_packet: resp.map(|(_, p)| *p),
                hmac: r.and_then(|r| r.hmac.clone()),
            }
        })
        .collect()
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyLen {
    None,
    Length(usize),
    Chunked,
}

impl BodyLen {
    fn update(self, name: &str, value: &[u8]) -> BodyLen {
        if name.eq_ignore_ascii_case("content-length") {
            if let Some(n) = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            {
                return BodyLen::Length(n);
            }
        }
        if name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(value)
                .to_ascii_lowercase()
                .contains("chunked")
        {
            return BodyLen::Chunked;
        }
        self
    }
}

/// The body of a chunked message (`data` starts after its head), chunk framing and trailers
/// dropped: [`Body::TooLarge`] once the chunk sizes add up past [`MAX_SIGNED_BODY`] (nothing
/// beyond is copied), [`Body::NotSeen`] when the bytes end before the last chunk.
fn dechunk(data: &[u8]) -> Result<Vec<u8>, Body<'static>> {
    let mut body = Vec::new();
    let mut at = 0usize;
    loop {
        let rest = data.get(at..).ok_or(Body::NotSeen)?;
        let Ok(httparse::Status::Complete((used, size))) = httparse::parse_chunk_size(rest) else {
            return Err(Body::NotSeen);
        };
        if size == 0 {
            return Ok(body);
        }
        let size = usize::try_from(size).map_err(|_| Body::TooLarge)?;
        if size > MAX_SIGNED_BODY - body.len() {
            return Err(Body::TooLarge);
        }
        let start = at + used;
        let chunk = start
            .checked_add(size)
            .and_then(|end| data.get(start..end))
            .ok_or(Body::NotSeen)?;
        body.extend_from_slice(chunk);
        // Each chunk's data ends with CRLF.
        at = start + size + 2;
    }
}

/// Bytes of head + body from the start of `msg`; None when the body runs past the data (or
/// runs to the end of the connection).
fn skip_body(msg: &[u8], head: usize, body: BodyLen, response: bool) -> Option<usize> {
    match body {
        BodyLen::None if response => None,
        BodyLen::None => Some(head),
        BodyLen::Length(n) => {
            let end = head.checked_add(n)?;
            (end <= msg.len()).then_some(end)
        }
        BodyLen::Chunked => {
            let mut at = head;
            loop {
                let rest = msg.get(at..)?;
                let Ok(httparse::Status::Complete((used, size))) = httparse::parse_chunk_size(rest)
                else {
                    return None;
                };
                at = at.checked_add(used)?;
                let size = usize::try_from(size).ok()?;
                if size == 0 {
                    // Trailers (usually none) end with an empty line.
                    let rest = msg.get(at..)?;
                    let end = rest.windows(2).position(|w| w == b"\r\n")?;
                    return at.checked_add(end + 2);
                }
                at = at.checked_add(size)?.checked_add(2)?;
            }
        }
    }
}

/// One HTTP/2 stream's interesting headers.
#[derive(Debug, Default)]
struct H2Stream {
    req: Option<Request>,
    /// A request whose signature check waits for its body.
    body: Option<H2Body>,
    status: Option<u16>,
    resp_packet: Option<u64>,
}

/// What a request's signature check needs until its stream ends: the request as sent and the
/// DATA frames so far.
#[derive(Debug)]
struct H2Body {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    data: Vec<u8>,
    too_large: bool,
}

impl H2Body {
    fn add(&mut self, data: &[u8]) {
        if self.too_large || data.len() > MAX_SIGNED_BODY - self.data.len() {
            self.too_large = true;
            self.data = Vec::new();
        } else {
            self.data.extend_from_slice(data);
        }
    }

    /// The request's HMAC facts, its body complete (`ended`) or not.
    fn inspect(&self, ended: bool, ctx: &HmacContext<'_>) -> Option<HmacRecord> {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        hmac::inspect(
            &hmac::SignedRequest {
                method: &self.method,
                target: &self.target,
                headers: &headers,
                body: match (self.too_large, ended) {
                    (true, _) => Body::TooLarge,
                    (false, true) => Body::Whole(&self.data),
                    (false, false) => Body::NotSeen,
                },
            },
            ctx,
        )
    }
}

fn h2_exchanges(client: &AppData, server: &AppData, ctx: &HmacContext<'_>) -> Vec<HttpRecord> {
    let mut streams: BTreeMap<u32, H2Stream> = BTreeMap::new();
    h2_direction(client, H2_PREFACE.len(), true, ctx, &mut streams);
    h2_direction(server, 0, false, ctx, &mut streams);
    streams
        .into_values()
        .filter(|s| s.req.is_some() || s.status.is_some())
        .take(MAX_EXCHANGES)
        .map(|s| HttpRecord {
            version: "HTTP/2".to_string(),
            method: s.req.as_ref().and_then(|r| r.method.clone()),
            path: s.req.as_ref().and_then(|r| r.path.clone()),
            host: s.req.as_ref().and_then(|r| r.host.clone()),
            status: s.status,
            auth: s.req.as_ref().map(|r| r.auth).unwrap_or_default(),
            request_packet: s.req.as_ref().map(|r| r.packet),
            response_packet: s.resp_packet,
            hmac: s.req.as_ref().and_then(|r| r.hmac.clone()),
        })
        .collect()
}

/// Reads the frames of one direction, decoding every header block in order (the HPACK dynamic
/// table depends on all of them).
fn h2_direction(
    data: &AppData,
    start: usize,
    is_client: bool,
    ctx: &HmacContext<'_>,
    streams: &mut BTreeMap<u32, H2Stream>,
) {
    let mut dec = loona_hpack::Decoder::new();
    dec.set_max_allowed_table_size(1 << 16);
    let mut at = start;
    // A header block spread over HEADERS + CONTINUATION frames, and whether it ends its stream
    // (a request without a body).
    let mut block: Option<(u32, Vec<u8>, u64)> = None;
    let mut ends_stream = false;
    while let Some(hdr) = data.bytes.get(at..at + 9) {
        let len = usize::from(hdr[0]) << 16 | usize::from(hdr[1]) << 8 | usize::from(hdr[2]);
        let (ftype, flags) = (hdr[3], hdr[4]);
        let stream = u32::from_be_bytes([hdr[5], hdr[6], hdr[7], hdr[8]]) & 0x7fff_ffff;
        let Some(payload) = data.bytes.get(at + 9..at + 9 + len) else {
            break;
        };
        let packet = data.packet_at(at);
        at += 9 + len;
        if ftype == 0 && is_client {
            // DATA: a signed request's body, without its padding.
            if let Some(s) = streams.get_mut(&stream) {
                let Some(b) = s.body.as_mut() else {
                    continue;
                };
                let mut p = payload;
                let mut pad = 0usize;
                if flags & 0x8 != 0 {
                    pad = usize::from(*p.first().unwrap_or(&0));
                    p = p.get(1..).unwrap_or_default();
                }
                b.add(&p[..p.len().saturating_sub(pad)]);
                if flags & 0x1 != 0 {
                    if let (Some(b), Some(r)) = (s.body.take(), s.req.as_mut()) {
                        r.hmac = b.inspect(true, ctx);
                    }
                }
            }
            continue;
        }
        let fragment = match ftype {
            1 => {
                // HEADERS: optional padding and priority fields before the block fragment.
                let mut p = payload;
                let mut pad = 0usize;
                if flags & 0x8 != 0 {
                    pad = usize::from(*p.first().unwrap_or(&0));
                    p = p.get(1..).unwrap_or_default();
                }
                if flags & 0x20 != 0 {
                    p = p.get(5..).unwrap_or_default();
                }
                let keep = p.len().saturating_sub(pad);
                block = Some((stream, Vec::new(), packet));
                ends_stream = flags & 0x1 != 0;
                &p[..keep]
            }
            9 => payload,
            _ => continue,
        };
        let Some((sid, buf, first_packet)) = block.as_mut() else {
            continue;
        };
        buf.extend_from_slice(fragment);
        if flags & 0x4 == 0 {
            continue; // END_HEADERS not yet
        }
        let (sid, first_packet) = (*sid, *first_packet);
        let Some((_, buf, _)) = block.take() else {
            continue;
        };
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dec.decode(&buf)));
        let Ok(Ok(headers)) = decoded else {
            break; // the table is out of step from here on
        };
        let s = streams.entry(sid).or_default();
        if is_client {
            if s.req.is_some() {
                // Trailers: they end the stream.
                if ends_stream {
                    if let (Some(b), Some(r)) = (s.body.take(), s.req.as_mut()) {
                        r.hmac = b.inspect(true, ctx);
                    }
                }
                continue;
            }
            let mut r = Request {
                packet: first_packet,
                ..Request::default()
            };
            for (name, value) in &headers {
                let name = String::from_utf8_lossy(name);
                match name.as_ref() {
                    ":method" => r.method = Some(String::from_utf8_lossy(value).into_owned()),
                    ":path" => {
                        let p = String::from_utf8_lossy(value).into_owned();
                        r.path = Some(p);
                    }
                    ":authority" => r.host = Some(String::from_utf8_lossy(value).into_owned()),
                    "host" if r.host.is_none() => {
                        r.host = Some(String::from_utf8_lossy(value).into_owned())
                    }
                    n => header_auth(n, value, &mut r.auth),
                }
            }
            let headers: Vec<(String, Vec<u8>)> = headers
                .into_iter()
                .filter_map(|(n, v)| Some((String::from_utf8(n).ok()?, v)))
                .filter(|(n, _)| !n.starts_with(':'))
                .collect();
            // A content-length past the limit says so before the kept bytes run out.
            let too_large = headers.iter().any(|(n, v)| {
                n == "content-length"
                    && matches!(BodyLen::None.update(n, v), BodyLen::Length(l) if l > MAX_SIGNED_BODY)
            });
            let body = H2Body {
                method: r.method.clone().unwrap_or_default(),
                target: r.path.clone().unwrap_or_default(),
                headers,
                data: Vec::new(),
                too_large,
            };
            // The check waits for the body only when the request is signed.
            r.hmac = body.inspect(ends_stream, ctx);
            if r.hmac.is_some() && !ends_stream {
                s.body = Some(body);
            }
            r.path = r.path.take().map(|p| redact_path(&p, &mut r.auth));
            s.req = Some(r);
        } else {
            for (name, value) in &headers {
                if name.as_slice() == b":status" {
                    let code = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
                    // 1xx informational heads precede the final one.
                    if code.is_some_and(|c: u16| c >= 200) || s.status.is_none() {
                        s.status = code;
                        s.resp_packet = Some(first_packet);
                    }
                }
            }
        }
        if streams.len() > 4 * MAX_EXCHANGES {
            break;
        }
    }
    // Streams whose body the bytes do not finish.
    for s in streams.values_mut() {
        if let (Some(b), Some(r)) = (s.body.take(), s.req.as_mut()) {
            r.hmac = b.inspect(false, ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where a test's bytes came from: only the packet number matters here.
    fn packet(packet: u64) -> crate::flow::SegmentMeta {
        crate::flow::SegmentMeta {
            packet,
            ..Default::default()
        }
    }

    #[test]
    fn query_values_are_redacted_and_classified() {
        let mut auth = Auth::default();
        let p = redact_path("/api/v1?x-sn-hmac-signature-256=abc&ts=1&flag", &mut auth);
        assert_eq!(
            p,
            "/api/v1?x-sn-hmac-signature-256=<redacted>&ts=<redacted>&flag"
        );
        assert_eq!(auth, "hmac-query");
        let mut auth = Auth::default();
        let p = redact_path("http://u:p@h.example/x?api_key=k", &mut auth);
        assert_eq!(p, "http://<redacted>@h.example/x?api_key=<redacted>");
        assert_eq!(auth.to_string(), "api-key+basic");
    }

    #[test]
    fn bare_query_tokens_are_redacted_flags_kept() {
        // The shape of the bare token in samples/https-planted-secrets.pcap, and flags.
        let mut auth = Auth::default();
        let p = redact_path("/api/v1/export?PLANTED-BARE-QUERY-9d2f&wsdl&x.y", &mut auth);
        assert_eq!(p, "/api/v1/export?<redacted>&wsdl&x.y");
        let p = redact_path("/r?abcdefghijklmnopq&ipv4&deadbeef", &mut auth);
        assert_eq!(p, "/r?<redacted>&<redacted>&deadbeef");
        assert_eq!(redact_path("/r?&&", &mut auth), "/r?&&");
        assert!(auth.is_none());
    }

    #[test]
    fn path_parameters_are_redacted() {
        let mut auth = Auth::default();
        let p = redact_path("/app;jsessionid=ABC123/page;v=2;flag?q=1", &mut auth);
        assert_eq!(
            p,
            "/app;jsessionid=<redacted>/page;v=<redacted>;<redacted>?q=<redacted>"
        );
    }

    #[test]
    fn preview_shows_structure_never_values() {
        // Hand-built first bytes of the kinds a non-TLS peer sends.
        let req = b"GET /api/v1/records?api_key=SECRETVALUE HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer TOKEN1\r\n\r\n";
        assert_eq!(
            preview(req),
            "GET /api/v1/records?api_key=<redacted> HTTP/1.1 [headers: Host, Authorization]"
        );
        let resp = b"HTTP/1.1 400 Bad Request\r\nSet-Cookie: sid=COOKIEVALUE\r\nContent-Length: 5\r\n\r\nbody!";
        assert_eq!(
            preview(resp),
            "HTTP/1.1 400 Bad Request [headers: Set-Cookie, Content-Length]"
        );
        assert_eq!(
            preview(b"PASS hunter2\r\n"),
            "text starting \"PASS\" (rest not shown)"
        );
        assert_eq!(
            preview(b"a1 LOGIN bob pw\r\n"),
            "text starting \"a1\" (rest not shown)"
        );
        assert_eq!(preview(b"SSH-2.0-OpenSSH_9.2\r\n"), "SSH-2.0-OpenSSH_9.2");
        assert_eq!(
            preview(b"220-mail.example.com ESMTP Exim 4.93\r\n"),
            "text starting \"220\" (rest not shown)"
        );
        assert_eq!(
            preview(&[0x00, 0x00, 0x00, 0x08, 0x04, 0xd2]),
            "binary, starting 00 00 00 08"
        );
        assert_eq!(
            preview(b"GET /x;jsessionid=S1 HTTP/1.1"),
            "GET /x;jsessionid=<redacted> HTTP/1.1"
        );
        // Every truncated prefix is handled.
        for n in 0..req.len() {
            let p = preview(&req[..n]);
            assert!(!p.contains("SECRETVALUE") && !p.contains("TOKEN1"), "{p}");
        }
    }

    #[test]
    fn h1_request_and_chunked_response() {
        // Hand-built HTTP/1.1 exchange: two requests, a chunked 401 and a 200.
        let client = AppData {
            bytes: b"GET /a?token=s HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer xyz\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
            packets: vec![(0, packet(7))],
            truncated: false,
        };
        let server = AppData {
            bytes: b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            packets: vec![(0, packet(9))],
            truncated: false,
        };
        let ex = h1_exchanges(&client, &server, &HmacContext::default());
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].path.as_deref(), Some("/a?token=<redacted>"));
        assert_eq!(ex[0].auth, "bearer");
        assert_eq!(ex[0].status, Some(401));
        assert_eq!(ex[1].status, Some(200));
        assert_eq!(ex[1].auth, "none");
        assert_eq!(ex[1].request_packet, Some(7));
    }

    fn one_secret() -> Vec<HmacKey> {
        vec![HmacKey::parse("k1=s3cret", "").unwrap()]
    }

    fn verification(ex: &[HttpRecord]) -> Vec<Option<String>> {
        ex.iter()
            .map(|e| e.hmac.as_ref().and_then(|h| h.verification))
            .map(|v| v.map(|v| v.to_string()))
            .collect()
    }

    #[test]
    fn dechunk_joins_chunks_and_bounds_them() {
        // Hand-built chunk framing: extensions and trailers dropped.
        assert_eq!(
            dechunk(b"3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n"),
            Ok(b"abcde".to_vec())
        );
        assert_eq!(dechunk(b"3\r\nabc\r\n"), Err(Body::NotSeen));
        assert_eq!(dechunk(b"5\r\nab"), Err(Body::NotSeen));
        assert_eq!(dechunk(b"10001\r\nab"), Err(Body::TooLarge));
        assert_eq!(dechunk(b"ffffffffffffffff\r\n"), Err(Body::TooLarge));
        let mut many = b"8000\r\n".to_vec();
        many.extend([b'a'; 0x8000]);
        many.extend(b"\r\n8000\r\n");
        many.extend([b'a'; 0x8000]);
        many.extend(b"\r\n1\r\na\r\n0\r\n\r\n");
        assert_eq!(dechunk(&many), Err(Body::TooLarge));
        // Every truncated prefix is handled.
        for n in 0..many.len().min(64) {
            let _ = dechunk(&many[..n]);
        }
    }

    #[test]
    fn chunked_bodies_past_the_limit_are_said_not_verified() {
        // Hand-built: a signed chunked request announcing a 64 KiB + 1 chunk, one whose
        // capture ends inside its body, and a Content-Length of 64 KiB + 1.
        let head = b"POST /a HTTP/1.1\r\nHost: h\r\nx-signature: AAAA\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut big = head.to_vec();
        big.extend(b"10001\r\nabc");
        let mut cut = head.to_vec();
        cut.extend(b"5\r\nab");
        let secrets = one_secret();
        let ctx = HmacContext {
            capture_window: None,
            secrets: &secrets,
        };
        let long =
            b"POST /a HTTP/1.1\r\nx-signature: AAAA\r\nContent-Length: 65537\r\n\r\nab".to_vec();
        let server = AppData::default();
        for (bytes, want) in [
            (big, "body larger than 65536 bytes, not verified"),
            (cut, "not checked: body not read"),
            (long, "body larger than 65536 bytes, not verified"),
        ] {
            let client = AppData {
                bytes,
                packets: vec![(0, packet(4))],
                truncated: false,
            };
            assert_eq!(
                verification(&h1_exchanges(&client, &server, &ctx)),
                [Some(want.to_string())]
            );
        }
    }

    /// Hand-built HTTP/2 frames: type, flags, stream, payload.
    fn frame(ftype: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut f = vec![len[1], len[2], len[3], ftype, flags];
        f.extend(stream.to_be_bytes());
        f.extend(payload);
        f
    }

    #[test]
    fn h2_bodies_are_joined_per_stream_and_bounded() {
        // Hand-built: three signed POSTs on streams 1, 3, 5. Stream 1's body comes in two DATA
        // frames (the second padded) interleaved with stream 3's, which is larger than the
        // limit; stream 5's never ends.
        let body = b"{\"a\":1}";
        let ts = b"1700000000";
        let good = {
            use ::hmac::{Hmac, Mac};
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
            m.update(ts);
            m.update(body);
            hex::encode(m.finalize().into_bytes())
        };
        let mut enc = loona_hpack::Encoder::new();
        let mut head = |path: &[u8]| {
            enc.encode([
                (&b":method"[..], &b"POST"[..]),
                (b":path", path),
                (b"x-sig", good.as_bytes()),
                (b"x-timestamp", ts),
            ])
        };
        let mut c = H2_PREFACE.to_vec();
        c.extend(frame(1, 0x4, 1, &head(b"/one")));
        c.extend(frame(1, 0x4, 3, &head(b"/two")));
        c.extend(frame(1, 0x4, 5, &head(b"/three")));
        c.extend(frame(0, 0, 1, &body[..3]));
        let big = vec![b'x'; 0x4000];
        for _ in 0..5 {
            c.extend(frame(0, 0, 3, &big));
        }
        c.extend(frame(0, 0x1, 3, b"x"));
        let mut padded = vec![2u8];
        padded.extend(&body[3..]);
        padded.extend([0, 0]);
        c.extend(frame(0, 0x8 | 0x1, 1, &padded));
        c.extend(frame(0, 0, 5, body));
        let client = AppData {
            bytes: c,
            packets: vec![(0, packet(1))],
            truncated: false,
        };
        let secrets = one_secret();
        let ctx = HmacContext {
            capture_window: None,
            secrets: &secrets,
        };
        let ex = h2_exchanges(&client, &AppData::default(), &ctx);
        assert_eq!(
            verification(&ex),
            [
                Some("matched timestamp+body".to_string()),
                Some("body larger than 65536 bytes, not verified".to_string()),
                Some("not checked: body not read".to_string()),
            ]
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        let junk = AppData {
            bytes: (0..=255u8).cycle().take(5000).collect(),
            packets: vec![(0, packet(1))],
            truncated: false,
        };
        let mut pre = H2_PREFACE.to_vec();
        pre.extend_from_slice(&junk.bytes);
        let h2 = AppData {
            bytes: pre,
            packets: vec![(0, packet(1))],
            truncated: false,
        };
        let ctx = HmacContext::default();
        let _ = h1_exchanges(&junk, &junk, &ctx);
        let _ = h2_exchanges(&h2, &junk, &ctx);
    }
}
