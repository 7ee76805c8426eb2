//! Proxy preambles before TLS: HTTP `CONNECT host:port`, SOCKS4/4a/5 requests, and the PROXY
//! protocol (HAProxy, v1 text and v2 binary) header a load balancer puts in front of a
//! connection. Only where the tunnel goes (or, for PROXY, who the original client was) is
//! taken: SOCKS user ids and SOCKS5 user/password sub-negotiations are skipped unread, and
//! nothing after the CONNECT request line is looked at (Proxy-Authorization lives there).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What kind of preamble it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// HTTP `CONNECT`.
    HttpConnect,
    /// SOCKS4 (IPv4 target).
    Socks4,
    /// SOCKS4a (host-name target).
    Socks4a,
    /// SOCKS5.
    Socks5,
    /// PROXY protocol header, version 1 (text) or 2 (binary).
    ProxyProtocol(u8),
}

impl ProxyKind {
    /// Short name for output (`http-connect`, `socks5`, `proxy-v2`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ProxyKind::HttpConnect => "http-connect",
            ProxyKind::Socks4 => "socks4",
            ProxyKind::Socks4a => "socks4a",
            ProxyKind::Socks5 => "socks5",
            ProxyKind::ProxyProtocol(1) => "proxy-v1",
            ProxyKind::ProxyProtocol(_) => "proxy-v2",
        }
    }

    /// The kind [`ProxyKind::name`] names.
    pub fn from_name(name: &str) -> Option<ProxyKind> {
        Some(match name {
            "http-connect" => ProxyKind::HttpConnect,
            "socks4" => ProxyKind::Socks4,
            "socks4a" => ProxyKind::Socks4a,
            "socks5" => ProxyKind::Socks5,
            "proxy-v1" => ProxyKind::ProxyProtocol(1),
            "proxy-v2" => ProxyKind::ProxyProtocol(2),
            _ => return None,
        })
    }

    /// A tunnel the client asked a proxy to open (CONNECT, SOCKS): its target is the TLS
    /// server. Not the PROXY protocol, whose header a load balancer adds in front.
    pub fn is_tunnel(self) -> bool {
        !matches!(self, ProxyKind::ProxyProtocol(_))
    }
}

/// Printers and rules show a kind as its name.
impl std::ops::Deref for ProxyKind {
    type Target = str;
    fn deref(&self) -> &str {
        self.name()
    }
}

/// Its name (`socks5`) in every format.
impl serde::Serialize for ProxyKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for ProxyKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        ProxyKind::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("not a proxy kind: {name}")))
    }
}

/// A recognised preamble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPreamble {
    /// Which one.
    pub kind: ProxyKind,
    /// Where the client asked the proxy to connect (`host:port`, `[v6]:port`); for the PROXY
    /// protocol, the address the original client connected to.
    pub target: Option<String>,
    /// The original client a PROXY protocol header names.
    pub original_client: Option<SocketAddr>,
}

/// Recognises the preamble at the start of the client's bytes (`client` may be cut short: a
/// field that does not fit is left out).
pub fn parse(client: &[u8]) -> Option<ProxyPreamble> {
    match client.first()? {
        b'C' => http_connect(client),
        0x04 => socks4(client),
        0x05 => socks5(client),
        b'P' => proxy_v1(client),
        b'\r' => proxy_v2(client),
        _ => None,
    }
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A host name as sent: letters, digits, `-`, `.`, `_` only (anything else is not a name and
/// is not repeated).
fn is_host_name(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes.len() <= 255
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// `CONNECT host:port HTTP/1.x` (authority form: no user info, no path).
fn http_connect(data: &[u8]) -> Option<ProxyPreamble> {
    let rest = data.strip_prefix(b"CONNECT ")?;
    let end = rest.iter().position(|&b| b == b' ')?;
    let (authority, after) = rest.split_at(end);
    if !after.starts_with(b" HTTP/1.") {
        return None;
    }
    let authority = std::str::from_utf8(authority).ok()?;
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let valid = host.parse::<IpAddr>().is_ok() || is_host_name(host.as_bytes());
    Some(ProxyPreamble {
        kind: ProxyKind::HttpConnect,
        target: valid.then(|| host_port(host, port)),
        original_client: None,
    })
}

/// SOCKS4: version 4, command 1 (CONNECT) or 2 (BIND), port(2), IPv4(4), user id, NUL; SOCKS4a
/// puts 0.0.0.x (x != 0) as the address and the host name, NUL-terminated, after the user id.
fn socks4(data: &[u8]) -> Option<ProxyPreamble> {
    let (&command, port, ip) = (data.get(1)?, data.get(2..4)?, data.get(4..8)?);
    if !matches!(command, 1 | 2) {
        return None;
    }
    let port = u16::from_be_bytes([port[0], port[1]]);
    let ip = Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]);
    let after_user = data.get(8..)?;
    let user_end = after_user.iter().position(|&b| b == 0)?;
    let octets = ip.octets();
    if octets[..3] == [0, 0, 0] && octets[3] != 0 {
        let rest = &after_user[user_end + 1..];
        let host = rest.iter().position(|&b| b == 0).map(|end| &rest[..end]);
        return Some(ProxyPreamble {
            kind: ProxyKind::Socks4a,
            target: host
                .filter(|h| is_host_name(h))
                .and_then(|h| std::str::from_utf8(h).ok())
                .map(|h| host_port(h, port)),
            original_client: None,
        });
    }
    Some(ProxyPreamble {
        kind: ProxyKind::Socks4,
        target: Some(host_port(&ip.to_string(), port)),
        original_client: None,
    })
}

/// SOCKS5: greeting (5, n, n methods), an optional user/password sub-negotiation (1, ulen,
/// user, plen, password: skipped), then the request (5, command, 0, address type, address,
/// port).
fn socks5(data: &[u8]) -> Option<ProxyPreamble> {
    let methods = usize::from(*data.get(1)?);
    if methods == 0 {
        return None;
    }
    let mut pos = 2 + methods;
    let unknown = ProxyPreamble {
        kind: ProxyKind::Socks5,
        target: None,
        original_client: None,
    };
    if data.get(pos) == Some(&0x01) {
        let Some(&user_len) = data.get(pos + 1) else {
            return Some(unknown);
        };
        let at = pos + 2 + usize::from(user_len);
        let Some(&pass_len) = data.get(at) else {
            return Some(unknown);
        };
        pos = at + 1 + usize::from(pass_len);
    }
    let Some(request) = data.get(pos..) else {
        return Some(unknown);
    };
    let target = match request {
        [5, 1..=3, 0, 1, a, b, c, d, p0, p1, ..] => Some(host_port(
            &Ipv4Addr::new(*a, *b, *c, *d).to_string(),
            u16::from_be_bytes([*p0, *p1]),
        )),
        [5, 1..=3, 0, 3, len, rest @ ..] => {
            let len = usize::from(*len);
            match (rest.get(..len), rest.get(len..len + 2)) {
                (Some(host), Some(port)) if is_host_name(host) => std::str::from_utf8(host)
                    .ok()
                    .map(|h| host_port(h, u16::from_be_bytes([port[0], port[1]]))),
                _ => None,
            }
        }
        [5, 1..=3, 0, 4, rest @ ..] => match (rest.get(..16), rest.get(16..18)) {
            (Some(ip), Some(port)) => {
                let ip: [u8; 16] = ip.try_into().ok()?;
                Some(host_port(
                    &Ipv6Addr::from(ip).to_string(),
                    u16::from_be_bytes([port[0], port[1]]),
                ))
            }
            _ => None,
        },
        _ => None,
    };
    Some(ProxyPreamble { target, ..unknown })
}

/// `PROXY TCP4|TCP6 src dst sport dport\r\n` (or `PROXY UNKNOWN ...`).
fn proxy_v1(data: &[u8]) -> Option<ProxyPreamble> {
    let rest = data.strip_prefix(b"PROXY ")?;
    let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&rest[..line_end]).ok()?;
    let mut fields = line.split(' ');
    let family = fields.next()?;
    let unknown = ProxyPreamble {
        kind: ProxyKind::ProxyProtocol(1),
        target: None,
        original_client: None,
    };
    if family == "UNKNOWN" {
        return Some(unknown);
    }
    if family != "TCP4" && family != "TCP6" {
        return None;
    }
    let (src, dst, sport, dport) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let (src, dst): (IpAddr, IpAddr) = (src.parse().ok()?, dst.parse().ok()?);
    let (sport, dport): (u16, u16) = (sport.parse().ok()?, dport.parse().ok()?);
    Some(ProxyPreamble {
        target: Some(SocketAddr::new(dst, dport).to_string()),
        original_client: Some(SocketAddr::new(src, sport)),
        ..unknown
    })
}

const PROXY_V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Binary header: signature(12), version/command(1: 0x21 PROXY, 0x20 LOCAL), family/protocol
/// (1: 0x11 TCP over IPv4, 0x21 TCP over IPv6), length(2), addresses.
fn proxy_v2(data: &[u8]) -> Option<ProxyPreamble> {
    if data.get(..12)? != PROXY_V2_SIGNATURE {
        return None;
    }
    let (&ver_cmd, &family) = (data.get(12)?, data.get(13)?);
    if ver_cmd >> 4 != 2 {
        return None;
    }
    let unknown = ProxyPreamble {
        kind: ProxyKind::ProxyProtocol(2),
        target: None,
        original_client: None,
    };
    let addresses = data.get(16..).unwrap_or_default();
    let (src, dst, ports) = match (ver_cmd & 0x0F, family) {
        (1, 0x11) => {
            let a = addresses.get(..12);
            match a {
                Some(a) => (
                    IpAddr::from([a[0], a[1], a[2], a[3]]),
                    IpAddr::from([a[4], a[5], a[6], a[7]]),
                    &a[8..12],
                ),
                None => return Some(unknown),
            }
        }
        (1, 0x21) => match addresses.get(..36) {
            Some(a) => {
                let s: [u8; 16] = a[..16].try_into().ok()?;
                let d: [u8; 16] = a[16..32].try_into().ok()?;
                (IpAddr::from(s), IpAddr::from(d), &a[32..36])
            }
            None => return Some(unknown),
        },
        _ => return Some(unknown),
    };
    Some(ProxyPreamble {
        target: Some(SocketAddr::new(dst, u16::from_be_bytes([ports[2], ports[3]])).to_string()),
        original_client: Some(SocketAddr::new(
            src,
            u16::from_be_bytes([ports[0], ports[1]]),
        )),
        ..unknown
    })
}

/// A proxy's refusal to open the tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRefusal {
    /// What the proxy answered: `HTTP 407 Proxy Authentication Required`, `SOCKS5 reply 2
    /// (connection not allowed by ruleset)`, ...
    pub status: String,
    /// For HTTP 407, the authentication scheme the proxy asked for (`Basic`, `NTLM`, ...).
    pub auth_scheme: Option<String>,
}

/// The first `Proxy-Authenticate` scheme of an HTTP response head (`data` may be cut).
/// Only the scheme token is taken: realm and challenge parameters are left alone.
pub fn proxy_auth_scheme(data: &[u8]) -> Option<String> {
    if !data.starts_with(b"HTTP/1.") {
        return None;
    }
    let head_end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(data.len());
    data[..head_end]
        .split(|&b| b == b'\n')
        .skip(1)
        .find_map(|line| {
            let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
            if !name.eq_ignore_ascii_case(b"proxy-authenticate") {
                return None;
            }
            let value = value[1..].trim_ascii_start();
            let end = value
                .iter()
                .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-'))
                .unwrap_or(value.len());
            // A cut line could end mid-token: only a token followed by something counts.
            (end > 0 && end < value.len())
                .then(|| String::from_utf8_lossy(&value[..end]).into_owned())
        })
}

/// Whether the proxy's first bytes (`reply`) refuse the tunnel `kind` asked for: HTTP 403,
/// 407 or 5xx to a CONNECT, a SOCKS4 status other than 0x5A, a SOCKS5 method refusal (0xFF),
/// a failed user/password check or a reply code other than 0. `auth_scheme` is the
/// `Proxy-Authenticate` scheme read from the whole reply head.
pub fn refusal(kind: ProxyKind, reply: &[u8], auth_scheme: Option<&str>) -> Option<ProxyRefusal> {
    let refused = |status: String| {
        Some(ProxyRefusal {
            status,
            auth_scheme: None,
        })
    };
    match kind {
        ProxyKind::HttpConnect => {
            let line_end = reply
                .iter()
                .position(|&b| b == b'\r')
                .unwrap_or(reply.len());
            let line = std::str::from_utf8(&reply[..line_end]).ok()?;
            let (version, rest) = line.split_once(' ')?;
            if !version.starts_with("HTTP/1.") {
                return None;
            }
            let code: u16 = rest.get(..3)?.parse().ok()?;
            if !(code == 403 || code == 407 || (500..600).contains(&code)) {
                return None;
            }
            let reason = rest.get(3..).unwrap_or_default().trim();
            Some(ProxyRefusal {
                status: if reason.is_empty() {
                    format!("HTTP {code}")
                } else {
                    format!("HTTP {code} {reason}")
                },
                auth_scheme: (code == 407)
                    .then(|| auth_scheme.map(str::to_string))
                    .flatten(),
            })
        }
        ProxyKind::Socks4 | ProxyKind::Socks4a => match reply {
            [0, 0x5A, ..] => None,
            [0, code @ 0x5B..=0x5D, ..] => refused(format!(
                "SOCKS4 reply {code:#04x} ({})",
                match code {
                    0x5B => "request rejected or failed",
                    0x5C => "client's identd unreachable",
                    _ => "identd user id mismatch",
                }
            )),
            _ => None,
        },
        ProxyKind::Socks5 => {
            let (&version, &method) = (reply.first()?, reply.get(1)?);
            if version != 5 {
                return None;
            }
            if method == 0xFF {
                return refused("SOCKS5: no acceptable authentication method".into());
            }
            let mut rest = &reply[2..];
            if method == 2 {
                // User/password sub-negotiation answer: version 1, status (0 = success).
                match rest {
                    [1, 0, tail @ ..] => rest = tail,
                    [1, _, ..] => {
                        return refused("SOCKS5: user/password authentication failed".into())
                    }
                    _ => return None,
                }
            }
            match rest {
                [5, code @ 1..=8, ..] => refused(format!(
                    "SOCKS5 reply {code} ({})",
                    match code {
                        1 => "general failure",
                        2 => "connection not allowed by ruleset",
                        3 => "network unreachable",
                        4 => "host unreachable",
                        5 => "connection refused",
                        6 => "TTL expired",
                        7 => "command not supported",
                        _ => "address type not supported",
                    }
                )),
                _ => None,
            }
        }
        ProxyKind::ProxyProtocol(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-built preambles: each checks one framing rule; the real captures are in
    // tests/proxies.rs.

    #[test]
    fn connect_takes_the_authority_only() {
        let p =
            parse(b"CONNECT api.example:8443 HTTP/1.1\r\nProxy-Authorization: Basic x").unwrap();
        assert_eq!(p.kind, ProxyKind::HttpConnect);
        assert_eq!(p.target.as_deref(), Some("api.example:8443"));
        let p = parse(b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\n").unwrap();
        assert_eq!(p.target.as_deref(), Some("[2001:db8::1]:443"));
        // Cut before the version: not recognisably a CONNECT line.
        assert_eq!(parse(b"CONNECT api.example:8443"), None);
        assert_eq!(
            parse(b"CONNECT user:pw@h:1 HTTP/1.1\r\n").unwrap().target,
            None
        );
    }

    #[test]
    fn socks5_skips_the_password_subnegotiation() {
        let mut d = vec![5, 1, 2, 1, 4];
        d.extend_from_slice(b"user");
        d.push(6);
        d.extend_from_slice(b"secret");
        d.extend_from_slice(&[5, 1, 0, 3, 7]);
        d.extend_from_slice(b"a.test.");
        d.extend_from_slice(&[1, 0xBB]);
        let p = parse(&d).unwrap();
        assert_eq!(p.kind, ProxyKind::Socks5);
        assert_eq!(p.target.as_deref(), Some("a.test.:443"));
        // Cut inside the request: recognised, target unknown.
        assert_eq!(parse(&d[..d.len() - 4]).unwrap().target, None);
    }

    #[test]
    fn socks4a_host_after_the_user_id() {
        let mut d = vec![4, 1, 0x01, 0xBB, 0, 0, 0, 1];
        d.extend_from_slice(b"u\0b.test\0");
        let p = parse(&d).unwrap();
        assert_eq!(p.kind, ProxyKind::Socks4a);
        assert_eq!(p.target.as_deref(), Some("b.test:443"));
    }

    #[test]
    fn proxy_protocol_v1_and_v2_name_the_original_client() {
        let p = parse(b"PROXY TCP4 192.0.2.7 198.51.100.1 51000 443\r\n\x16\x03\x01").unwrap();
        assert_eq!(p.kind, ProxyKind::ProxyProtocol(1));
        assert_eq!(p.original_client, Some("192.0.2.7:51000".parse().unwrap()));
        assert_eq!(p.target.as_deref(), Some("198.51.100.1:443"));
        let mut d = PROXY_V2_SIGNATURE.to_vec();
        d.extend_from_slice(&[0x21, 0x11, 0, 12, 192, 0, 2, 7, 198, 51, 100, 1]);
        d.extend_from_slice(&[0xC7, 0x38, 0x01, 0xBB]);
        let p = parse(&d).unwrap();
        assert_eq!(p.kind, ProxyKind::ProxyProtocol(2));
        assert_eq!(p.original_client, Some("192.0.2.7:51000".parse().unwrap()));
    }

    #[test]
    fn refusals_by_kind() {
        let head = b"HTTP/1.1 407 Proxy Authentication Required\r\nServer: x\r\nProxy-Authenticate: Basic realm=\"p\"\r\n\r\n";
        let scheme = proxy_auth_scheme(head);
        assert_eq!(scheme.as_deref(), Some("Basic"));
        let r = refusal(ProxyKind::HttpConnect, head, scheme.as_deref()).unwrap();
        assert_eq!(r.status, "HTTP 407 Proxy Authentication Required");
        assert_eq!(r.auth_scheme.as_deref(), Some("Basic"));
        assert_eq!(
            refusal(
                ProxyKind::HttpConnect,
                b"HTTP/1.1 200 Connection established\r\n",
                None
            ),
            None
        );
        assert_eq!(
            refusal(ProxyKind::Socks4, &[0, 0x5B, 0, 0, 0, 0, 0, 0], None)
                .unwrap()
                .status,
            "SOCKS4 reply 0x5b (request rejected or failed)"
        );
        assert_eq!(
            refusal(ProxyKind::Socks5, &[5, 0, 5, 2, 0, 1], None)
                .unwrap()
                .status,
            "SOCKS5 reply 2 (connection not allowed by ruleset)"
        );
        assert_eq!(refusal(ProxyKind::Socks5, &[5, 0, 5, 0, 0, 1], None), None);
        // A header cut inside its scheme gives no scheme.
        assert_eq!(
            proxy_auth_scheme(b"HTTP/1.1 407 x\r\nProxy-Authenticate: Bas"),
            None
        );
    }
}
