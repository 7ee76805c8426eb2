//! Record filters (`--server`, `--client`, `--port`, `--sni`, `--finding`, `--min-severity`,
//! `--tls-only`). Filters apply to connection records before any view is built.

use crate::findings::{glob_match, FindingKind, Severity};
use crate::record::ConnectionRecord;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// An address pattern: an IP, a CIDR block, or an exact `ip:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrPattern {
    /// Exactly this socket address.
    Socket(SocketAddr),
    /// Any address in the block (a bare IP is a full-length prefix).
    Cidr(IpNet),
}

impl std::str::FromStr for AddrPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(AddrPattern::Socket(sa));
        }
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let ip: IpAddr = ip
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("not an IP, CIDR or ip:port: {s:?}"))?;
        let net = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .and_then(|p| IpNet::new(ip, p).ok())
                .ok_or_else(|| format!("bad prefix length in {s:?}"))?,
            None => IpNet::from(ip),
        };
        Ok(AddrPattern::Cidr(net))
    }
}

impl AddrPattern {
    /// Whether `sa` matches.
    pub fn matches(&self, sa: SocketAddr) -> bool {
        match self {
            AddrPattern::Socket(p) => *p == sa,
            AddrPattern::Cidr(net) => net.contains(&sa.ip()),
        }
    }
}

/// All filters; an empty list means "no restriction".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Server address patterns (any may match).
    pub server: Vec<AddrPattern>,
    /// Client address patterns (any may match).
    pub client: Vec<AddrPattern>,
    /// Ports (client or server side).
    pub port: Vec<u16>,
    /// SNI globs (any may match).
    pub sni: Vec<String>,
    /// Keep connections with any of these findings; other findings are dropped from them.
    pub finding: Vec<FindingKind>,
    /// Drop findings below this severity; with it, keep only connections that still have one.
    pub min_severity: Option<Severity>,
    /// Only connections in which a TLS handshake was seen.
    pub tls_only: bool,
}

impl Filter {
    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self.server.is_empty()
            && self.client.is_empty()
            && self.port.is_empty()
            && self.sni.is_empty()
            && self.finding.is_empty()
            && self.min_severity.is_none()
            && !self.tls_only
    }

    /// Applies the filters to one record: `None` drops it; findings outside `--finding` /
    /// `--min-severity` are removed from kept records.
    pub fn apply(&self, mut r: ConnectionRecord) -> Option<ConnectionRecord> {
        if !self.server.is_empty() && !self.server.iter().any(|p| p.matches(r.server)) {
            return None;
        }
        if !self.client.is_empty() && !self.client.iter().any(|p| p.matches(r.client)) {
            return None;
        }
        if !self.port.is_empty() {
            let ports = [r.client.port(), r.server.port()];
            if !self.port.iter().any(|p| ports.contains(p)) {
                return None;
            }
        }
        if !self.sni.is_empty() {
            let sni = r.sni.as_deref().unwrap_or("").to_ascii_lowercase();
            if !self
                .sni
                .iter()
                .any(|g| glob_match(&g.to_ascii_lowercase(), &sni))
            {
                return None;
            }
        }
        if self.tls_only && r.version.is_none() && r.sni.is_none() && r.ja4.is_none() {
            return None;
        }
        if !self.finding.is_empty() {
            r.findings.retain(|f| self.finding.contains(&f.kind));
            if r.findings.is_empty() {
                return None;
            }
        }
        if let Some(min) = self.min_severity {
            r.findings.retain(|f| f.severity >= min);
            if r.findings.is_empty() {
                return None;
            }
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_and_socket_patterns() {
        let p: AddrPattern = "10.1.0.0/16".parse().unwrap();
        assert!(p.matches(sa("10.1.200.3:443")));
        assert!(!p.matches(sa("10.2.0.1:443")));
        let p: AddrPattern = "127.0.0.1:8443".parse().unwrap();
        assert!(p.matches(sa("127.0.0.1:8443")));
        assert!(!p.matches(sa("127.0.0.1:443")));
        let p: AddrPattern = "::1".parse().unwrap();
        assert!(p.matches(sa("[::1]:443")));
        let p: AddrPattern = "2001:db8::/32".parse().unwrap();
        assert!(p.matches(sa("[2001:db8:1::5]:443")));
        // Host bits are allowed and ignored; a /0 matches its whole family only.
        let p: AddrPattern = "10.1.2.3/8".parse().unwrap();
        assert!(p.matches(sa("10.200.0.1:443")));
        let p: AddrPattern = "0.0.0.0/0".parse().unwrap();
        assert!(p.matches(sa("192.0.2.1:443")));
        assert!(!p.matches(sa("[2001:db8::1]:443")));
        let p: AddrPattern = "[2001:db8::]/32".parse().unwrap();
        assert!(p.matches(sa("[2001:db8::1]:443")));
        assert!("10.0.0.0/33".parse::<AddrPattern>().is_err());
        assert!("::/129".parse::<AddrPattern>().is_err());
        assert!("nonsense".parse::<AddrPattern>().is_err());
    }
}
