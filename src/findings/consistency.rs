//! `cert-inconsistent`: one server name (SNI, else address and port) presented different
//! certificate chains across the connections of one capture: a pool member behind a load balancer with an old or
//! incomplete chain, a TLS-intercepting proxy on some paths. The "it works sometimes" case.
//!
//! [`ChainConsistency`] keeps, per server, at most [`MAX_CHAINS`] chains (fingerprint, what
//! the finding compares, how many connections got it and how many of those failed, the first
//! of each), and at most [`MAX_SERVERS`] servers: past that, only the servers whose key hash
//! falls in a halving sample are kept, so memory follows the cap, not the capture, and which
//! servers are compared does not depend on the order connections arrive in.

use super::{finding, Finding, FindingKind, Severity};
use crate::certs::CertInfo;
use crate::flow::Side;
use crate::record::{ConnectionRecord, Outcome};
use sha2::{Digest, Sha256};
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

/// Chains remembered per server; more are counted, not described.
pub const MAX_CHAINS: usize = 4;
/// Servers remembered per batch before sampling starts.
pub const MAX_SERVERS: usize = 8192;

/// The server a chain is attributed to: the SNI (lower case) and port, else the address;
/// within one capture (by its name), since captures of a batch may be years apart and a
/// renewed certificate is no inconsistency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ServerKey {
    file: String,
    server: Server,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Server {
    Name(String, u16),
    Addr(SocketAddr),
}

impl ServerKey {
    fn of(r: &ConnectionRecord) -> ServerKey {
        ServerKey {
            file: r.file.clone(),
            server: match &r.sni {
                Some(sni) => Server::Name(sni.to_ascii_lowercase(), r.server.port()),
                None => Server::Addr(r.server),
            },
        }
    }

    fn text(&self) -> String {
        match &self.server {
            Server::Name(n, p) => format!("{n}:{p}"),
            Server::Addr(a) => a.to_string(),
        }
    }

    /// Fixed-seed hash: the sample kept past [`MAX_SERVERS`] is the same on every run.
    fn hash64(&self) -> u64 {
        foldhash::fast::FixedState::default().hash_one(self)
    }
}

/// A connection the finding cites.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Conn {
    file_pos: usize,
    index: u64,
    file: Arc<str>,
}

/// What one connection's chain contributes: taken from its record once its own findings are
/// settled.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSeen {
    key: ServerKey,
    chain: ChainFacts,
    /// The client refused the connection with a fatal alert (it rejected what it was sent).
    refused: bool,
    /// The connection worked.
    ok: bool,
}

/// A chain as the finding describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ChainFacts {
    /// First 16 hex digits of SHA-256 over the certificates' SHA-256 fingerprints as sent.
    fingerprint: String,
    length: usize,
    /// The leaf's issuer.
    issuer: String,
    /// The leaf's notAfter.
    not_after: String,
    /// Path status (`trusted`, `incomplete`, ...) and the certificate findings of the record
    /// (`cert-expired`, ...): what makes one chain work where another fails.
    health: String,
}

/// A chain (its allocation only) and its fingerprint.
type Fingerprinted = (Weak<[CertInfo]>, String);

/// Chains whose fingerprint is kept per thread before the cache starts over.
const MAX_CACHED_FINGERPRINTS: usize = 256;

thread_local! {
    /// By the address of the chain's `Arc`, whose allocation the `Weak` keeps from being
    /// reused (without keeping the certificates' text alive): the record builder shares one
    /// `Arc` among the connections that got the same chain.
    static FINGERPRINTS: std::cell::RefCell<crate::FastMap<usize, Fingerprinted>> =
        std::cell::RefCell::default();
}

/// First 16 hex digits of SHA-256 over the certificates' SHA-256 fingerprints, joined by commas.
fn chain_fingerprint(chain: &Arc<[CertInfo]>) -> String {
    let key = Arc::as_ptr(chain) as *const CertInfo as usize;
    FINGERPRINTS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, fingerprint)) = cache.get(&key) {
            return fingerprint.clone();
        }
        let mut h = Sha256::new();
        for (i, c) in chain.iter().enumerate() {
            if i > 0 {
                h.update(b",");
            }
            h.update(c.sha256.as_bytes());
        }
        let fingerprint = hex::encode(&h.finalize()[..8]);
        if cache.len() >= MAX_CACHED_FINGERPRINTS {
            cache.clear();
        }
        cache.insert(key, (Arc::downgrade(chain), fingerprint.clone()));
        fingerprint
    })
}

impl ChainSeen {
    /// The chain a record's connection was sent, if any.
    pub fn of(r: &ConnectionRecord) -> Option<ChainSeen> {
        let shared = r.server_chain.as_ref().filter(|c| !c.is_empty())?;
        let chain = &shared[..];
        let fingerprint = chain_fingerprint(shared);
        let mut health = vec![r.chain_status.clone().unwrap_or_else(|| "unchecked".into())];
        for f in &r.findings {
            if super::CERTIFICATE_KINDS.contains(&f.kind)
                && !health.iter().any(|h| h == f.kind.id())
                && !matches!(
                    f.kind,
                    FindingKind::ChainIncomplete | FindingKind::ChainUntrusted
                )
            {
                health.push(f.kind.id().to_string());
            }
        }
        let refused = r.outcome == Outcome::Failed
            && r.alerts.iter().any(|a| {
                a.from == Side::Client && a.level == Some(crate::record::AlertLevel::FATAL)
            });
        Some(ChainSeen {
            key: ServerKey::of(r),
            chain: ChainFacts {
                fingerprint,
                length: chain.len(),
                issuer: chain[0].issuer.clone(),
                not_after: chain[0].not_after.clone(),
                health: health.join(", "),
            },
            refused,
            ok: r.outcome == Outcome::Ok,
        })
    }
}

#[derive(Debug, Clone)]
struct ChainEntry {
    chain: ChainFacts,
    connections: u64,
    refused: u64,
    ok: u64,
    first: Conn,
    first_refused: Option<Conn>,
}

#[derive(Debug, Clone, Default)]
struct ServerChains {
    chains: Vec<ChainEntry>,
    /// Connections whose chain is not among `chains` (more than [`MAX_CHAINS`] chains).
    others: u64,
    /// Distinct chains beyond `chains` may exist.
    overflow: bool,
}

impl ServerChains {
    fn add(&mut self, e: ChainEntry) {
        if let Some(old) = self
            .chains
            .iter_mut()
            .find(|c| c.chain.fingerprint == e.chain.fingerprint)
        {
            old.connections += e.connections;
            old.refused += e.refused;
            old.ok += e.ok;
            if e.first < old.first {
                old.first = e.first;
            }
            old.first_refused = match (old.first_refused.take(), e.first_refused) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            return;
        }
        self.chains.push(e);
        // The chains first seen earliest are kept: the same ones whatever the arrival order.
        self.chains.sort_by(|a, b| a.first.cmp(&b.first));
        while self.chains.len() > MAX_CHAINS {
            if let Some(dropped) = self.chains.pop() {
                self.others += dropped.connections;
                self.overflow = true;
            }
        }
    }
}

/// Per server, the chains it presented across a batch (bounded; see the module's text).
#[derive(Debug, Clone, Default)]
pub struct ChainConsistency {
    servers: crate::FastMap<ServerKey, ServerChains>,
    /// Servers are kept only when the top `level` bits of their key hash are zero.
    level: u32,
    /// The current file's name, shared by its entries.
    file: Option<Arc<str>>,
}

impl ChainConsistency {
    fn sampled(&self, key: &ServerKey) -> bool {
        self.level == 0 || key.hash64() >> (64 - self.level.min(63)) == 0
    }

    fn shrink(&mut self) {
        while self.servers.len() > MAX_SERVERS && self.level < 63 {
            self.level += 1;
            let level = self.level;
            self.servers.retain(|k, _| k.hash64() >> (64 - level) == 0);
        }
    }

    /// Notes the chain of connection `index` of `file` (position `file_pos` in the batch).
    pub fn observe(&mut self, file_pos: usize, file: &str, index: u64, seen: &ChainSeen) {
        if !self.sampled(&seen.key) {
            return;
        }
        let file = match &self.file {
            Some(f) if **f == *file => f.clone(),
            _ => {
                let f: Arc<str> = Arc::from(file);
                self.file = Some(f.clone());
                f
            }
        };
        let conn = Conn {
            file_pos,
            index,
            file,
        };
        let entry = ChainEntry {
            chain: seen.chain.clone(),
            connections: 1,
            refused: u64::from(seen.refused),
            ok: u64::from(seen.ok),
            first_refused: seen.refused.then(|| conn.clone()),
            first: conn,
        };
        self.servers.entry(seen.key.clone()).or_default().add(entry);
        self.shrink();
    }

    /// Adds another file's servers.
    pub fn merge(&mut self, other: ChainConsistency) {
        self.level = self.level.max(other.level);
        let level = self.level;
        let keep = |k: &ServerKey| level == 0 || k.hash64() >> (64 - level) == 0;
        self.servers.retain(|k, _| keep(k));
        for (key, theirs) in other.servers {
            if !keep(&key) {
                continue;
            }
            let mine = self.servers.entry(key).or_default();
            mine.others += theirs.others;
            mine.overflow |= theirs.overflow;
            for e in theirs.chains {
                mine.add(e);
            }
        }
        self.shrink();
    }

    /// `cert-inconsistent` for a record, when its server presented chains that differ in a
    /// way that matters: a different path status or certificate problem, or connections that
    /// worked with one chain while the client refused another.
    pub fn findings(&self, r: &ConnectionRecord, out: &mut Vec<Finding>) {
        // Most servers presented one chain: they are ruled out before the chain is read.
        if !r.server_chain.as_deref().is_some_and(|c| !c.is_empty()) {
            return;
        }
        let Some(server) = self.servers.get(&ServerKey::of(r)) else {
            return;
        };
        if server.chains.len() < 2 {
            return;
        }
        let Some(seen) = ChainSeen::of(r) else {
            return;
        };
        let Some(mine) = server
            .chains
            .iter()
            .find(|c| c.chain.fingerprint == seen.chain.fingerprint)
        else {
            return;
        };
        let healths: std::collections::BTreeSet<&str> = server
            .chains
            .iter()
            .map(|c| c.chain.health.as_str())
            .collect();
        let split = server.chains.iter().any(|c| c.refused > 0)
            && server.chains.iter().any(|c| c.ok > 0 && c.refused == 0);
        if healths.len() < 2 && !split {
            // Different but equally good chains (a renewal, a CDN's several certificates).
            return;
        }
        // This connection failed because of the chain it got: the client refused it, while
        // another chain of the same server worked.
        let because = seen.refused
            && server
                .chains
                .iter()
                .any(|c| c.chain.fingerprint != mine.chain.fingerprint && c.ok > 0);
        let name = seen.key.text();
        let total: u64 = server.chains.iter().map(|c| c.connections).sum::<u64>() + server.others;
        let failed: u64 = server.chains.iter().map(|c| c.refused).sum();
        let where_ = |c: &Conn| {
            if *c.file == *r.file {
                format!("#{}", c.index)
            } else {
                format!("#{} in {}", c.index, c.file)
            }
        };
        let describe = |c: &ChainEntry| {
            let refused = match &c.first_refused {
                Some(f) => format!(
                    ", refused by the client on {} (first {})",
                    count(c.refused, "connection"),
                    where_(f)
                ),
                None => String::new(),
            };
            format!(
                "chain {} ({}, leaf issued by {}, expires {}; {}) on {} (first {}){refused}",
                c.chain.fingerprint,
                count(c.chain.length as u64, "certificate"),
                c.chain.issuer,
                c.chain.not_after,
                c.chain.health,
                count(c.connections, "connection"),
                where_(&c.first),
            )
        };
        let others = if server.overflow {
            format!(
                "; and more chains on {}",
                count(server.others, "connection")
            )
        } else {
            String::new()
        };
        let evidence = format!(
            "This connection got chain {}. {name} presented: {}{others}.",
            mine.chain.fingerprint,
            server
                .chains
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join("; "),
        );
        let differs = differences(&server.chains);
        let chains_n = server.chains.len() + usize::from(server.overflow);
        let message = if because {
            format!(
                "{name} presented {}{} different certificate chains across {}, and the client refused the one this connection got ({}), which differs ({differs}) from a chain that worked on other connections: one of the servers behind this name is configured differently.",
                if server.overflow { "at least " } else { "" },
                chains_n,
                count(total, "connection"),
                mine.chain.fingerprint,
            )
        } else {
            format!(
                "{name} presented {}{} different certificate chains across {} ({failed} refused by the client); they differ in {differs}: one of the servers behind this name is configured differently, so connections work or fail depending on which one answers.",
                if server.overflow { "at least " } else { "" },
                chains_n,
                count(total, "connection"),
            )
        };
        let severity = if because {
            Severity::Error
        } else {
            Severity::Warning
        };
        let f = finding(FindingKind::CertInconsistent, severity, message, evidence);
        let good = server
            .chains
            .iter()
            .find(|c| c.chain.fingerprint != mine.chain.fingerprint && c.ok > 0);
        out.push(match good {
            Some(g) if because => f.with_fix(format!(
                "Server: find the node behind {name} that sends chain {} ({}, {}) and deploy on it the certificate and chain the others send (chain {}, {}, {}); then every connection gets the same one.",
                mine.chain.fingerprint,
                count(mine.chain.length as u64, "certificate"),
                mine.chain.health,
                g.chain.fingerprint,
                count(g.chain.length as u64, "certificate"),
                g.chain.health,
            )),
            _ => f,
        });
    }
}

/// What differs between the chains: issuer, expiry, length, status.
fn differences(chains: &[ChainEntry]) -> String {
    let differ = |f: &dyn Fn(&ChainFacts) -> String| {
        chains
            .iter()
            .map(|c| f(&c.chain))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
    };
    let mut what = Vec::new();
    if differ(&|c| c.issuer.clone()) {
        what.push("leaf issuer");
    }
    if differ(&|c| c.not_after.clone()) {
        what.push("expiry");
    }
    if differ(&|c| c.length.to_string()) {
        what.push("chain length");
    }
    if differ(&|c| c.health.clone()) {
        what.push("validation result");
    }
    if what.is_empty() {
        what.push("certificates");
    }
    what.join(", ")
}

fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-built facts (no capture has thousands of servers): one chain per server.
    fn seen(server: u32, chain: &str, ok: bool) -> ChainSeen {
        ChainSeen {
            key: ServerKey {
                file: "f".into(),
                server: Server::Name(format!("s{server}.example"), 443),
            },
            chain: ChainFacts {
                fingerprint: chain.to_string(),
                length: 2,
                issuer: "CN=CA".into(),
                not_after: "2030-01-01T00:00:00Z".into(),
                health: "trusted".into(),
            },
            refused: !ok,
            ok,
        }
    }

    #[test]
    fn a_flood_of_servers_stays_under_the_cap_and_samples_the_same_ones_in_any_order() {
        let n = 3 * MAX_SERVERS as u32;
        let mut forward = ChainConsistency::default();
        for i in 0..n {
            forward.observe(0, "f", u64::from(i), &seen(i, "a", true));
        }
        let mut backward = ChainConsistency::default();
        for i in (0..n).rev() {
            backward.observe(0, "f", u64::from(i), &seen(i, "a", true));
        }
        assert!(forward.servers.len() <= MAX_SERVERS);
        assert!(forward.servers.len() > MAX_SERVERS / 4);
        let keys = |c: &ChainConsistency| {
            let mut k: Vec<ServerKey> = c.servers.keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&forward), keys(&backward));
    }

    #[test]
    fn chains_per_server_are_capped_and_the_earliest_kept() {
        let mut c = ChainConsistency::default();
        for (i, fp) in ["f", "e", "d", "c", "b", "a"].iter().enumerate().rev() {
            c.observe(0, "f", i as u64, &seen(1, fp, true));
        }
        let s = c.servers.values().next().unwrap();
        let kept: Vec<&str> = s
            .chains
            .iter()
            .map(|e| e.chain.fingerprint.as_str())
            .collect();
        assert_eq!(kept, ["f", "e", "d", "c"]);
        assert_eq!(s.others, 2);
        assert!(s.overflow);
    }

    #[test]
    fn merging_files_adds_counts() {
        let mut a = ChainConsistency::default();
        a.observe(0, "a", 0, &seen(1, "x", true));
        let mut b = ChainConsistency::default();
        b.observe(1, "b", 0, &seen(1, "x", false));
        b.observe(1, "b", 1, &seen(1, "y", false));
        a.merge(b);
        let s = a.servers.values().next().unwrap();
        assert_eq!(s.chains.len(), 2);
        assert_eq!(
            (s.chains[0].connections, s.chains[0].ok, s.chains[0].refused),
            (2, 1, 1)
        );
        assert_eq!(s.chains[0].first_refused.as_ref().map(|c| c.index), Some(0));
        assert_eq!(&*s.chains[0].first_refused.as_ref().unwrap().file, "b");
    }
}
