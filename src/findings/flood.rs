//! `syn-flood`: many unanswered connection attempts to one server, or one source trying many
//! ports of one server, found across connections and reported once.
//!
//! Each reported connection that never got further than its SYN (no SYN-ACK, no data; a
//! refusal by RST counts for scans only) is an [`Attempt`]. [`SynFloods`] keeps per-target
//! aggregates whose size follows the targets, not the attempts (source and port sets and the
//! number of scan pairs are capped), and names the flood on its first connection.

use super::{finding, Finding, FindingKind, Severity};
use crate::flow::{CloseKind, Side};
use crate::record::ConnectionRecord;
use crate::time::Timestamp;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

/// A flood: at least this many unanswered connection attempts to one server `ip:port`...
pub const FLOOD_MIN_ATTEMPTS: u64 = 100;
/// ...from at least this many source addresses...
pub const FLOOD_MIN_SOURCES: usize = 10;
/// ...at this many attempts per second or more on average (first to last attempt; a span
/// under a second counts as one). Slower unanswered attempts are a server that is down.
pub const FLOOD_MIN_RATE: f64 = 10.0;
/// A scan: one source address tried at least this many distinct ports of one server address,
/// unanswered or refused.
pub const SCAN_MIN_PORTS: usize = 50;
/// Distinct sources remembered per server; past it, "at least" this many.
const MAX_SOURCES: usize = 65_536;
/// (source, server) pairs watched for scans; past it new pairs are not watched (a spoofed
/// flood makes one pair per source).
const MAX_SCAN_PAIRS: usize = 65_536;

/// A connection that never got past its SYN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempt {
    /// The source address.
    pub client: IpAddr,
    /// The server tried.
    pub server: SocketAddr,
    /// The SYNs sent (retransmissions included).
    pub syns: u32,
    /// The first packet's time.
    pub at: Timestamp,
    /// The server refused it with a RST (else no answer at all).
    pub refused: bool,
}

impl Attempt {
    /// The record's attempt, when its connection never got past the SYN.
    pub fn of(r: &ConnectionRecord) -> Option<Attempt> {
        let t = &r.tcp;
        if t.syn == 0 || t.syn_ack || t.established || t.client_bytes > 0 || t.server_bytes > 0 {
            return None;
        }
        let refused = t.closed_by == Some(Side::Server) && t.close == Some(CloseKind::Rst);
        if t.closed_by.is_some() && !refused {
            return None;
        }
        Some(Attempt {
            client: r.client.ip(),
            server: r.server,
            syns: t.syn,
            at: r.start,
            refused,
        })
    }
}

/// The connection a finding is attached to: the earliest in batch order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Example {
    file_pos: usize,
    index: u64,
    file: String,
}

#[derive(Debug, Clone)]
struct Span {
    first: Timestamp,
    last: Timestamp,
    example: Example,
}

impl Span {
    fn new(at: Timestamp, example: Example) -> Self {
        Span {
            first: at,
            last: at,
            example,
        }
    }

    fn add(&mut self, other: Span) {
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        if other.example < self.example {
            self.example = other.example;
        }
    }

    fn seconds(&self) -> f64 {
        self.last.seconds_since(self.first).max(0.0)
    }
}

#[derive(Debug, Clone)]
struct Flood {
    attempts: u64,
    syns: u64,
    sources: HashSet<IpAddr, foldhash::fast::RandomState>,
    span: Span,
}

#[derive(Debug, Clone)]
struct Scan {
    attempts: u64,
    refused: u64,
    ports: HashSet<u16, foldhash::fast::RandomState>,
    span: Span,
}

/// Per-target aggregates of a batch's unanswered attempts.
#[derive(Debug, Clone, Default)]
pub struct SynFloods {
    floods: crate::FastMap<SocketAddr, Flood>,
    scans: crate::FastMap<(IpAddr, IpAddr), Scan>,
}

impl SynFloods {
    /// Notes one attempt of connection `index` of `file` (position `file_pos` in the batch).
    pub fn observe(&mut self, file_pos: usize, file: &str, index: u64, a: &Attempt) {
        let example = || Example {
            file_pos,
            index,
            file: file.to_string(),
        };
        if !a.refused {
            let f = self.floods.entry(a.server).or_insert_with(|| Flood {
                attempts: 0,
                syns: 0,
                sources: HashSet::default(),
                span: Span::new(a.at, example()),
            });
            f.attempts += 1;
            f.syns += u64::from(a.syns);
            if f.sources.len() < MAX_SOURCES {
                f.sources.insert(a.client);
            }
            f.span.add(Span::new(a.at, example()));
        }
        let pair = (a.client, a.server.ip());
        if !self.scans.contains_key(&pair) && self.scans.len() >= MAX_SCAN_PAIRS {
            return;
        }
        let s = self.scans.entry(pair).or_insert_with(|| Scan {
            attempts: 0,
            refused: 0,
            ports: HashSet::default(),
            span: Span::new(a.at, example()),
        });
        s.attempts += 1;
        s.refused += u64::from(a.refused);
        if s.ports.len() < MAX_SOURCES {
            s.ports.insert(a.server.port());
        }
        s.span.add(Span::new(a.at, example()));
    }

    /// Adds another file's aggregates.
    pub fn merge(&mut self, other: SynFloods) {
        for (server, f) in other.floods {
            match self.floods.get_mut(&server) {
                Some(mine) => {
                    mine.attempts += f.attempts;
                    mine.syns += f.syns;
                    for s in f.sources {
                        if mine.sources.len() >= MAX_SOURCES {
                            break;
                        }
                        mine.sources.insert(s);
                    }
                    mine.span.add(f.span);
                }
                None => {
                    self.floods.insert(server, f);
                }
            }
        }
        for (pair, s) in other.scans {
            let room = self.scans.len() < MAX_SCAN_PAIRS;
            match self.scans.get_mut(&pair) {
                Some(mine) => {
                    mine.attempts += s.attempts;
                    mine.refused += s.refused;
                    for p in s.ports {
                        if mine.ports.len() >= MAX_SOURCES {
                            break;
                        }
                        mine.ports.insert(p);
                    }
                    mine.span.add(s.span);
                }
                None if room => {
                    self.scans.insert(pair, s);
                }
                None => {}
            }
        }
    }

    /// The `syn-flood` findings of record `r`: on the first connection of a flood or scan.
    pub fn findings(&self, r: &ConnectionRecord, out: &mut Vec<Finding>) {
        let is_example = |e: &Example| e.index == r.index && e.file == r.file;
        if let Some(f) = self.floods.get(&r.server) {
            if is_example(&f.span.example) && is_flood(f) {
                out.push(flood_finding(r.server, f));
            }
        }
        if let Some(s) = self.scans.get(&(r.client.ip(), r.server.ip())) {
            if is_example(&s.span.example) && s.ports.len() >= SCAN_MIN_PORTS {
                out.push(scan_finding(r.client.ip(), r.server.ip(), s));
            }
        }
    }
}

fn is_flood(f: &Flood) -> bool {
    f.attempts >= FLOOD_MIN_ATTEMPTS
        && f.sources.len() >= FLOOD_MIN_SOURCES
        && f.attempts as f64 / f.span.seconds().max(1.0) >= FLOOD_MIN_RATE
}

/// "60.0 s", "3.00 s", "0.120 s".
fn secs(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.1} s")
    } else if x >= 1.0 {
        format!("{x:.2} s")
    } else {
        format!("{x:.3} s")
    }
}

fn at_least(n: usize, cap: usize) -> String {
    if n >= cap {
        format!("at least {n}")
    } else {
        n.to_string()
    }
}

fn flood_finding(server: SocketAddr, f: &Flood) -> Finding {
    let t = f.span.seconds();
    finding(
        FindingKind::SynFlood,
        Severity::Warning,
        format!(
            "SYN flood: {} unanswered SYNs ({} connection attempts) from {} sources in {} to {server} ({:.0} attempts/s), none answered.",
            f.syns,
            f.attempts,
            at_least(f.sources.len(), MAX_SOURCES),
            secs(t),
            f.attempts as f64 / t.max(1.0),
        ),
        "This connection is the first of them; each of the others is reported as its own unanswered connection.".to_string(),
    )
}

fn scan_finding(client: IpAddr, server: IpAddr, s: &Scan) -> Finding {
    finding(
        FindingKind::SynFlood,
        Severity::Warning,
        format!(
            "Port scan: {client} tried {} ports of {server} in {} ({} attempts, {} refused by RST, {} unanswered).",
            at_least(s.ports.len(), MAX_SOURCES),
            secs(s.span.seconds()),
            s.attempts,
            s.refused,
            s.attempts - s.refused,
        ),
        "This connection is the first of them; each of the others is reported as its own refused or unanswered connection.".to_string(),
    )
}
