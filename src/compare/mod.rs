//! `tlscap compare GOOD BAD`: what differs between a connection that works and one to the same
//! service that fails, most decisive first.
//!
//! The last stage: it takes finished records (findings, outcome and cause settled) with the
//! ClientHello facts the record does not carry ([`Hello`]), pairs each failing connection with
//! a working one to the same service, and turns their differences into typed [`Difference`]s.
//! Only aspects that can change how a server answers are compared: random values, session
//! ids, timestamps, key-share bytes, ports and fingerprints of the same client never are.

mod aspects;
pub mod print;

use crate::flow::Direction;
use crate::record::{ConnectionRecord, FindingKind, Outcome};
use crate::tls::names::is_grease;
use crate::tls::HandshakeSummary;
use schemars::JsonSchema;
use serde::Serialize;

/// What a ClientHello offered, and the proxy it went through: the lists a comparison names
/// value by value, which the record only summarises (JA3/JA4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hello {
    /// Cipher suites offered, GREASE left out.
    pub ciphers: Vec<u16>,
    /// supported_groups, GREASE left out.
    pub groups: Vec<u16>,
    /// Groups of the key shares sent, GREASE left out.
    pub key_shares: Vec<u16>,
    /// The ClientHello's length in bytes (handshake message).
    pub hello_len: Option<u32>,
    /// signature_algorithms.
    pub sig_algs: Vec<u16>,
    /// Extension types, GREASE left out.
    pub extensions: Vec<u16>,
    /// Highest version offered (supported_versions, else the ClientHello version).
    pub max_version: Option<u16>,
    /// Cipher suite the server chose.
    pub server_cipher: Option<u16>,
    /// The proxy in the path, from the cleartext bytes before TLS: `CONNECT host:port` or
    /// `SOCKS`.
    pub proxy: Option<String>,
    /// The extendedKeyUsage of the client's leaf certificate (None: no certificate sent).
    pub client_usage: Option<Usage>,
    /// The extendedKeyUsage of the server's leaf certificate (None: not seen).
    pub server_usage: Option<Usage>,
}

/// What a leaf certificate's extendedKeyUsage allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The usages listed by name (`serverAuth`, `clientAuth`, ...); None without the
    /// extension, which allows any use.
    pub listed: Option<Vec<String>>,
}

impl Usage {
    /// The leaf's usage, None when there is no leaf or it does not parse.
    fn of(cert: Option<&crate::tls::CertificateMsg>) -> Option<Usage> {
        let leaf = cert?.certs.first()?;
        let facts = crate::certs::client_cert_facts(leaf).ok()?;
        Some(Usage {
            listed: facts.client_auth.map(|_| facts.usages),
        })
    }

    /// Whether it allows `purpose` (`serverAuth`, `clientAuth`).
    pub fn allows(&self, purpose: &str) -> bool {
        self.listed.as_ref().map_or(true, |l| {
            l.iter().any(|u| u == purpose || u == "anyExtendedKeyUsage")
        })
    }

    /// As shown: the usages, `none` for an empty list, or `any (no extendedKeyUsage)`.
    pub fn text(&self) -> String {
        match &self.listed {
            None => "any (no extendedKeyUsage)".to_string(),
            Some(l) if l.is_empty() => "none".to_string(),
            Some(l) => l.join(", "),
        }
    }
}

impl Hello {
    /// The facts of a connection's handshake (all empty when no ClientHello was seen).
    pub fn from_handshake(hs: &HandshakeSummary) -> Hello {
        let proxy = hs.preamble[Direction::ToServer.idx()]
            .as_ref()
            .and_then(|(_, bytes)| proxy_of(bytes));
        let server_cipher = hs.server_hello.as_ref().map(|sh| sh.cipher);
        let client_usage = Usage::of(hs.client_certificate.as_ref());
        let server_usage = Usage::of(hs.server_certificate.as_ref());
        let Some(ch) = &hs.client_hello else {
            return Hello {
                proxy,
                server_cipher,
                client_usage,
                server_usage,
                ..Default::default()
            };
        };
        let plain = |v: &[u16]| v.iter().copied().filter(|x| !is_grease(*x)).collect();
        let max_version = ch
            .supported_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max_by_key(|v| crate::tls::version_rank(*v))
            .or(Some(ch.legacy_version));
        Hello {
            ciphers: plain(&ch.ciphers),
            groups: plain(&ch.groups),
            key_shares: plain(&ch.key_shares),
            hello_len: Some(ch.len),
            sig_algs: ch.signature_algorithms.clone(),
            extensions: plain(&ch.extensions),
            max_version,
            server_cipher,
            proxy,
            client_usage,
            server_usage,
        }
    }
}

/// The proxy a cleartext preamble names: an HTTP CONNECT's target (`host:port`, never its
/// headers, which may carry Proxy-Authorization) or a SOCKS greeting.
fn proxy_of(bytes: &[u8]) -> Option<String> {
    if let Some(rest) = bytes.strip_prefix(b"CONNECT ") {
        let target: Vec<u8> = rest
            .iter()
            .copied()
            .take_while(|b| b.is_ascii_graphic())
            .collect();
        return Some(format!("CONNECT {}", String::from_utf8_lossy(&target)));
    }
    match bytes.first() {
        Some(4) => Some("SOCKS4".into()),
        Some(5) => Some("SOCKS5".into()),
        _ => None,
    }
}

/// One connection as a comparison sees it.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The finished record (findings, outcome and cause settled).
    pub record: ConnectionRecord,
    /// Its ClientHello facts.
    pub hello: Hello,
}

/// What a difference is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Aspect {
    /// Direct, or through a proxy (HTTP CONNECT, SOCKS).
    Proxy,
    /// A different server address for the same service (DNS, load balancer).
    ServerAddress,
    /// The MSS each side announced, and full-size segments lost on one side (MTU black hole).
    Mtu,
    /// SNI present, absent or different.
    Sni,
    /// Highest TLS version offered.
    Version,
    /// The suite the server chose for the working client, not offered by the failing one.
    Cipher,
    /// Key-exchange groups offered.
    Groups,
    /// Key shares sent, and the ClientHello's size (a post-quantum share makes it span two
    /// segments).
    KeyShare,
    /// Signature algorithms offered.
    SignatureAlgorithms,
    /// ALPN protocols offered.
    Alpn,
    /// ClientHello extensions sent by one side only.
    Extensions,
    /// CertificateRequest sent to one side only.
    CertificateRequest,
    /// The failing client's certificate is not for client authentication (extendedKeyUsage).
    ClientKeyUsage,
    /// Client certificate sent or not (or a different one).
    ClientCertificate,
    /// A different server chain, or one that validates differently.
    ServerChain,
    /// The failing side's server certificate is not for server authentication.
    ServerKeyUsage,
    /// How TCP went (refused, timed out, reset, stalled).
    Tcp,
    /// HTTP request method.
    HttpMethod,
    /// HTTP Host header (and whether it matches the SNI).
    HttpHost,
    /// How the HTTP request authenticates.
    HttpAuth,
    /// HTTP response status.
    HttpStatus,
    /// A fatal alert on one side only.
    Alert,
}

impl Aspect {
    /// The id, e.g. `server-chain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Aspect::Proxy => "proxy",
            Aspect::ServerAddress => "server-address",
            Aspect::Mtu => "mtu",
            Aspect::Sni => "sni",
            Aspect::Version => "version",
            Aspect::Cipher => "cipher",
            Aspect::Groups => "groups",
            Aspect::KeyShare => "key-share",
            Aspect::SignatureAlgorithms => "signature-algorithms",
            Aspect::Alpn => "alpn",
            Aspect::Extensions => "extensions",
            Aspect::CertificateRequest => "certificate-request",
            Aspect::ClientKeyUsage => "client-key-usage",
            Aspect::ClientCertificate => "client-certificate",
            Aspect::ServerChain => "server-chain",
            Aspect::ServerKeyUsage => "server-key-usage",
            Aspect::Tcp => "tcp",
            Aspect::HttpMethod => "http-method",
            Aspect::HttpHost => "http-host",
            Aspect::HttpAuth => "http-auth",
            Aspect::HttpStatus => "http-status",
            Aspect::Alert => "alert",
        }
    }
}

impl std::fmt::Display for Aspect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `type` of a difference: always `"difference"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub enum DifferenceType {
    /// `"difference"`.
    #[default]
    #[serde(rename = "difference")]
    Difference,
}

/// Which connection a side of a difference is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ConnRef {
    /// The capture file.
    pub file: String,
    /// The connection's `index` in it.
    pub index: u64,
}

impl ConnRef {
    fn of(r: &ConnectionRecord) -> ConnRef {
        ConnRef {
            file: r.file.clone(),
            index: r.index,
        }
    }
}

/// One difference between a working and a failing connection to the same service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Difference {
    /// Always `"difference"`.
    #[serde(rename = "type")]
    pub record_type: DifferenceType,
    /// 1 = most decisive, within the pair.
    pub rank: u32,
    /// What differs.
    pub aspect: Aspect,
    /// The working side's value (null: absent, not sent).
    pub good: Option<String>,
    /// The failing side's value (null: absent, not sent).
    pub bad: Option<String>,
    /// The finding this difference relates to (on the failing side), if any.
    pub finding: Option<FindingKind>,
    /// The likely cause, in one sentence.
    pub cause: String,
    /// The working connection.
    pub good_connection: ConnRef,
    /// The failing connection.
    pub bad_connection: ConnRef,
}

/// A working and a failing connection to the same service, and what differs between them.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The working side.
    pub good: ConnectionRecord,
    /// The failing side.
    pub bad: ConnectionRecord,
    /// How the two were paired: `sni`, `server` (address and port) or `chosen` (the only
    /// connection of each side).
    pub paired_by: &'static str,
    /// Most decisive first.
    pub differences: Vec<Difference>,
}

/// Pairs the failing connections of `bad` (all of them when none failed) with a connection of
/// `good` to the same service — same SNI, else same server address and port, else, when each
/// side has a single connection, those two — and compares each pair. One pair per service:
/// the first failing connection to it, with the first working one.
pub fn compare(good: &[Observed], bad: &[Observed]) -> Vec<Comparison> {
    let failed: Vec<&Observed> = bad
        .iter()
        .filter(|o| o.record.outcome == Outcome::Failed)
        .collect();
    let bad_side: Vec<&Observed> = if failed.is_empty() {
        bad.iter().collect()
    } else {
        failed
    };
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for b in bad_side {
        let Some((g, paired_by)) = partner(good, b, bad.len()) else {
            continue;
        };
        let service = format!("{paired_by} {}", service_key(&g.record, paired_by));
        if seen.contains(&service) {
            continue;
        }
        seen.push(service);
        out.push(Comparison {
            good: g.record.clone(),
            bad: b.record.clone(),
            paired_by,
            differences: aspects::differences(g, b),
        });
    }
    out
}

fn service_key(r: &ConnectionRecord, paired_by: &str) -> String {
    match paired_by {
        "sni" => r.sni.as_deref().unwrap_or("").to_ascii_lowercase(),
        _ => served(r),
    }
}

/// The service a connection reached: a CONNECT or SOCKS tunnel's target (lower case), else
/// the server's address, so a side through a proxy pairs with a direct one by what both reach.
fn served(r: &ConnectionRecord) -> String {
    r.tunnel_target()
        .map_or_else(|| r.server.to_string(), str::to_ascii_lowercase)
}

/// The working connection `b` compares with, and how it was chosen.
fn partner<'a>(
    good: &'a [Observed],
    b: &Observed,
    bad_count: usize,
) -> Option<(&'a Observed, &'static str)> {
    // A working connection first; one whose outcome is unknown if none is.
    let best = |pred: &dyn Fn(&Observed) -> bool| {
        good.iter()
            .filter(|g| pred(g))
            .min_by_key(|g| match g.record.outcome {
                Outcome::Ok => 0,
                Outcome::Unknown => 1,
                Outcome::Failed => 2,
            })
    };
    if let Some(sni) = &b.record.sni {
        let same = |g: &Observed| {
            g.record
                .sni
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(sni))
        };
        if let Some(g) = best(&same) {
            return Some((g, "sni"));
        }
    }
    let service = served(&b.record);
    if let Some(g) = best(&|g: &Observed| served(&g.record) == service) {
        return Some((g, "server"));
    }
    // Only the host name is left to tell a service: a good side by name, a bad side by IP.
    if good.len() == 1 && bad_count == 1 {
        return good.first().map(|g| (g, "chosen"));
    }
    None
}

/// Which connections of a capture make one side: `--good` / `--bad`, or the `#N` of `FILE#N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Every connection.
    All,
    /// The connection with this index (`5` or `#5`).
    Index(u64),
    /// Connections from this client (IP, CIDR or ip:port).
    Client(crate::filter::AddrPattern),
    /// Connections whose SNI matches this glob (`*`, `?`; case-insensitive).
    Sni(String),
}

impl std::str::FromStr for Pick {
    type Err = std::convert::Infallible;
    /// A number is an index, an address a client, anything else an SNI glob.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix('#').unwrap_or(s);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = digits.parse() {
                return Ok(Pick::Index(n));
            }
        }
        if let Ok(a) = s.parse() {
            return Ok(Pick::Client(a));
        }
        Ok(Pick::Sni(s.to_ascii_lowercase()))
    }
}

impl Pick {
    /// Whether `r` belongs to the side.
    pub fn matches(&self, r: &ConnectionRecord) -> bool {
        match self {
            Pick::All => true,
            Pick::Index(n) => r.index == *n,
            Pick::Client(a) => a.matches(r.client),
            Pick::Sni(glob) => r
                .sni
                .as_deref()
                .is_some_and(|s| crate::findings::glob_match(glob, &s.to_ascii_lowercase())),
        }
    }
}

/// The record types `compare --format json` writes, for the JSON Schema of the output
/// ([`crate::report::schema::output_schema_with`]).
pub fn schema_records(generator: &mut schemars::SchemaGenerator) -> Vec<(&'static str, String)> {
    generator.subschema_for::<Difference>();
    vec![("difference", Difference::schema_name().into_owned())]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-built preamble bytes: the CONNECT target is kept, the headers after it never.
    #[test]
    fn proxy_keeps_the_connect_target_only() {
        assert_eq!(
            proxy_of(
                b"CONNECT api.example:443 HTTP/1.1\r\nProxy-Authorization: Basic c2VjcmV0\r\n"
            )
            .as_deref(),
            Some("CONNECT api.example:443")
        );
        assert_eq!(proxy_of(&[5, 1, 0]).as_deref(), Some("SOCKS5"));
        assert_eq!(proxy_of(b"STARTTLS\r\n"), None);
        assert_eq!(proxy_of(b""), None);
    }

    #[test]
    fn picks_are_index_client_or_sni() {
        assert_eq!("#3".parse::<Pick>(), Ok(Pick::Index(3)));
        assert_eq!("3".parse::<Pick>(), Ok(Pick::Index(3)));
        assert!(matches!("10.0.0.0/8".parse::<Pick>(), Ok(Pick::Client(_))));
        assert!(matches!("127.0.0.1".parse::<Pick>(), Ok(Pick::Client(_))));
        assert_eq!(
            "*.Example.com".parse::<Pick>(),
            Ok(Pick::Sni("*.example.com".into()))
        );
    }
}
