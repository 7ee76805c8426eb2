//! `icmp-unreachable` and `icmp-packet-too-big`: ICMP errors that quote a connection's packets.
//!
//! An ICMP error names the packet it is about by the quoted addresses and ports, not by
//! connection, and a worker sees only its shard's connections: the file's errors are gathered
//! as it is read and matched to its connections when the records are completed.
//!
//! A host or router that answers the client's first packets with "unreachable" while the
//! server never answers proves why the connection failed, and who said so. The same error
//! after the server answered, or one about the server's packets to a client that had left,
//! explains a tail, not a failure: it is reported, as information.

use super::{finding, Finding, FindingKind as K, Severity};
use crate::flow::{SegmentMeta, Side};
use crate::net::{IcmpError, IcmpKind, QuotedTransport};
use crate::record::{ConnectionRecord, ConnectionStatus, FailedAt, IcmpRecord, Outcome, Transport};
use std::fmt::Write as _;
use std::net::SocketAddr;

/// An ICMP error this long after a connection's last packet is still about it (the answer to
/// its last packet, slowed by a loaded router).
pub const ICMP_LATE_S: f64 = 5.0;

/// ICMP errors listed in one record; the findings count the rest.
const MAX_LISTED: usize = 16;

type Errors = Vec<(SegmentMeta, IcmpError)>;

/// Per file, per transport and pair of endpoints, the ICMP errors quoting their packets.
#[derive(Debug, Clone, Default)]
pub struct IcmpReports {
    files:
        crate::FastMap<String, crate::FastMap<(QuotedTransport, SocketAddr, SocketAddr), Errors>>,
}

fn ordered(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl IcmpReports {
    /// Notes a file's ICMP errors.
    pub fn observe_file(&mut self, file: &str, errors: &[(SegmentMeta, IcmpError)]) {
        if errors.is_empty() {
            return;
        }
        let by_ends = self.files.entry(file.to_string()).or_default();
        for (meta, e) in errors {
            let (a, b) = ordered(e.src, e.dst);
            by_ends
                .entry((e.transport, a, b))
                .or_default()
                .push((*meta, *e));
        }
    }

    /// Adds another batch's errors.
    pub fn merge(&mut self, other: IcmpReports) {
        for (file, by_ends) in other.files {
            let mine = self.files.entry(file).or_default();
            for (ends, mut list) in by_ends {
                mine.entry(ends).or_default().append(&mut list);
            }
        }
    }

    /// Lists the ICMP errors about `r`'s packets in `r.icmp`, with their findings; makes a
    /// connection whose first packets were refused by ICMP, and never answered, `failed`.
    pub fn apply(&self, r: &mut ConnectionRecord) {
        let Some(by_ends) = self.files.get(r.file.as_str()) else {
            return;
        };
        let transport = match r.transport {
            Transport::Tcp => QuotedTransport::Tcp,
            Transport::Quic | Transport::Dtls => QuotedTransport::Udp,
        };
        let (a, b) = ordered(r.client, r.server);
        let Some(errors) = by_ends.get(&(transport, a, b)) else {
            return;
        };
        let end = r.duration_s + ICMP_LATE_S;
        let mine: Vec<(SegmentMeta, IcmpError, Side)> = errors
            .iter()
            .filter(|(meta, _)| {
                let after = meta.ts.seconds_since(r.start);
                (-0.001..=end).contains(&after)
            })
            .map(|(meta, e)| {
                let sent_by = if e.src == r.client {
                    Side::Client
                } else {
                    Side::Server
                };
                (*meta, *e, sent_by)
            })
            .collect();
        if mine.is_empty() {
            return;
        }
        r.icmp = mine
            .iter()
            .take(MAX_LISTED)
            .map(|(meta, e, sent_by)| IcmpRecord {
                packet: meta.packet,
                time_s: (meta.ts.seconds_since(r.start) * 1e6).round() / 1e6,
                from: e.from,
                sent_by: *sent_by,
                kind: e.kind,
                mtu: e.mtu,
            })
            .collect();
        let refused: Vec<_> = mine
            .iter()
            .filter(|(_, e, by)| *by == Side::Client && e.kind.undeliverable())
            .collect();
        if let Some(first) = refused.first() {
            if server_answered(r) {
                r.findings.push(answered_anyway(r, &refused));
            } else {
                let f = unreachable(r, first, &refused);
                fail(r, f);
            }
        }
        let client_gone: Vec<_> = mine
            .iter()
            .filter(|(_, e, by)| *by == Side::Server && e.kind.undeliverable())
            .collect();
        if !client_gone.is_empty() {
            r.findings.push(to_client(r, &client_gone));
        }
        for side in [Side::Client, Side::Server] {
            let too_big: Vec<_> = mine
                .iter()
                .filter(|(_, e, by)| *by == side && e.kind == IcmpKind::PacketTooBig)
                .collect();
            if !too_big.is_empty() {
                r.findings.push(packet_too_big(r, side, &too_big));
            }
        }
    }
}

/// Records kept per file for [`unseen_attempts`]; past this many the file is not checked
/// (8 MiB of keys: the memory budget, not the file's size, bounds it).
pub const MAX_SEEN_ENDS: usize = 1 << 20;

/// A record's transport and pair of endpoints as one number, for [`unseen_attempts`]. Two
/// pairs sharing a key (one chance in 2^64) only hide an attempt, never invent one.
pub fn ends_key(transport: Transport, a: SocketAddr, b: SocketAddr) -> u64 {
    use std::hash::BuildHasher;
    let quoted = match transport {
        Transport::Tcp => QuotedTransport::Tcp,
        Transport::Quic | Transport::Dtls => QuotedTransport::Udp,
    };
    foldhash::fast::FixedState::with_seed(0x7c5a).hash_one((quoted, ordered(a, b)))
}

/// Warnings for a file's ICMP errors that quote a TCP SYN of a connection none of its records
/// (`seen`: their [`ends_key`]s) is about: an attempt whose own packets are not in the
/// capture, refused before the capture point saw them (a firewall on the client's host
/// rejects its SYN with an ICMP error to itself). One warning per attempt, naming its packets.
pub fn unseen_attempts(
    file: &str,
    errors: &[(SegmentMeta, IcmpError)],
    mut seen: Vec<u64>,
) -> Vec<String> {
    seen.sort_unstable();
    // Per attempt (its client and server), the errors quoting its SYNs.
    type Attempt<'e> = ((SocketAddr, SocketAddr), Vec<&'e (SegmentMeta, IcmpError)>);
    let mut attempts: Vec<Attempt<'_>> = Vec::new();
    for item in errors.iter().filter(|(_, e)| e.quotes_syn) {
        let e = &item.1;
        let key = ends_key(Transport::Tcp, e.src, e.dst);
        if seen.binary_search(&key).is_ok() {
            continue;
        }
        match attempts
            .iter_mut()
            .find(|(ends, _)| *ends == (e.src, e.dst))
        {
            Some((_, list)) => list.push(item),
            None => attempts.push(((e.src, e.dst), vec![item])),
        }
    }
    attempts
        .into_iter()
        .map(|((client, server), list)| {
            let (_, e) = list[0];
            let why = if e.from == client.ip() {
                format!("{} refused its own SYN, as a firewall rule on the client's host rejecting outgoing connections does", e.from)
            } else {
                let (why, _) = meaning(e, "TCP");
                format!("{} ({}) refused it: {why}", e.from, reporter(e))
            };
            let numbers = packet_list(list.iter().map(|(m, _)| m.packet), list.len());
            format!(
                "{file}: packet{} {numbers}: ICMP {} quotes the SYN of a TCP connection attempt from {client} to {server} that has no packet in the capture: {why}. The attempt failed before the capture point saw it; it is in no record.",
                if list.len() == 1 { "" } else { "s" },
                e.kind.name(),
            )
        })
        .collect()
}

/// Anything came back from the server itself (its SYN-ACK, bytes, a close, a QUIC or DTLS
/// packet).
fn server_answered(r: &ConnectionRecord) -> bool {
    match r.transport {
        Transport::Tcp => {
            r.tcp.syn_ack || r.tcp.server_bytes > 0 || r.tcp.closed_by == Some(Side::Server)
        }
        Transport::Quic => r.quic.as_ref().is_some_and(|q| q.server_packets > 0),
        Transport::Dtls => r.dtls.as_ref().is_some_and(|d| d.server_datagrams > 0),
    }
}

fn proto(r: &ConnectionRecord) -> &'static str {
    match r.transport {
        Transport::Tcp => "TCP",
        Transport::Quic | Transport::Dtls => "UDP",
    }
}

/// What the client's first packets were, in words.
fn first_packets(r: &ConnectionRecord) -> &'static str {
    match r.transport {
        Transport::Tcp if r.tcp.syn > 0 && !r.tcp.established => "SYN",
        Transport::Tcp => "packets",
        Transport::Quic => "QUIC Initial",
        Transport::Dtls => "DTLS ClientHello",
    }
}

/// How many first packets the client sent (retransmissions included), in words.
fn sent(r: &ConnectionRecord) -> String {
    let n = match r.transport {
        Transport::Tcp if r.tcp.syn > 0 && !r.tcp.established => u64::from(r.tcp.syn),
        Transport::Quic => r.quic.as_ref().map_or(0, |q| u64::from(q.client_initials)),
        Transport::Tcp | Transport::Dtls => r.tcp.packets,
    };
    let what = first_packets(r);
    match (n, what) {
        (1, _) | (_, "packets") => format!("{n} {what}"),
        _ => format!("{n} {what}s"),
    }
}

/// Who sent an ICMP error, seen from the packet it quotes.
fn reporter(e: &IcmpError) -> &'static str {
    if e.from == e.dst.ip() {
        "the destination host itself"
    } else {
        "a router on the way"
    }
}

/// What an error means for the packet it quotes, and the fix.
fn meaning(e: &IcmpError, proto: &str) -> (String, String) {
    let at = e.dst;
    match e.kind {
        IcmpKind::PortUnreachable => (
            format!("nothing listens on {proto} port {} at {}", at.port(), at.ip()),
            format!("Server: start the service on {proto} port {}, or point the client at the port it listens on.", at.port()),
        ),
        IcmpKind::Prohibited => (
            "a firewall rule there rejects it".to_string(),
            format!("Network: allow the client's address to reach {proto} port {} on {} in the firewall that sent the ICMP error.", at.port(), at.ip()),
        ),
        IcmpKind::HostUnreachable | IcmpKind::NetUnreachable if e.from == at.ip() => (
            format!("{} itself refused it, as a firewall's reject rule does (a host is not unreachable from itself)", at.ip()),
            format!("Network: a reject rule on {} refuses {proto} port {}; allow the client's address there.", at.ip(), at.port()),
        ),
        IcmpKind::HostUnreachable => (
            format!("the last router cannot reach {} on its link (host down, or a wrong address)", at.ip()),
            format!("Check that {} is up and is the right address for the service (DNS, configuration).", at.ip()),
        ),
        IcmpKind::NetUnreachable => (
            format!("there is no route to {}", at.ip()),
            format!("Network: add the route to {}'s network, or check the address the client uses.", at.ip()),
        ),
        IcmpKind::ProtocolUnreachable => (
            format!("{} does not speak {proto}", at.ip()),
            format!("Server: check what runs at {}.", at.ip()),
        ),
        IcmpKind::TtlExceeded => (
            "its TTL ran out on the way (a routing loop, or a path longer than the sender allows)".to_string(),
            "Network: look for a routing loop on the path (traceroute from the client).".to_string(),
        ),
        IcmpKind::ReassemblyTimeExceeded => (
            "its fragments did not all arrive".to_string(),
            "Network: find where fragments are dropped on the path; avoid fragmentation (smaller MTU or MSS).".to_string(),
        ),
        IcmpKind::Unreachable | IcmpKind::PacketTooBig => (
            "it cannot be delivered".to_string(),
            "Network: check the route and the filters between the client and the server.".to_string(),
        ),
    }
}

/// "12, 15 and 3 more" for a list of errors.
fn packets(list: &[&(SegmentMeta, IcmpError, Side)]) -> String {
    packet_list(list.iter().map(|(meta, _, _)| meta.packet), list.len())
}

/// The first five of `count` packet numbers, then how many more.
fn packet_list(numbers: impl Iterator<Item = u64>, count: usize) -> String {
    let mut out = String::new();
    for (i, packet) in numbers.take(5).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{packet}");
    }
    if count > 5 {
        let _ = write!(out, " and {} more", count - 5);
    }
    out
}

/// The client's first packets were refused by ICMP and the server never answered.
fn unreachable(
    r: &ConnectionRecord,
    (meta, e, _): &(SegmentMeta, IcmpError, Side),
    refused: &[&(SegmentMeta, IcmpError, Side)],
) -> Finding {
    let proto = proto(r);
    let (why, fix) = meaning(e, proto);
    finding(
        K::IcmpUnreachable,
        Severity::Error,
        format!(
            "The client's {} to {} was answered by ICMP {} from {} ({}) in packet {}: {why}. The server never answered.",
            first_packets(r),
            r.server,
            e.kind.name(),
            e.from,
            reporter(e),
            meta.packet
        ),
        format!(
            "ICMP {} quoting the client's {proto} packets {} → {} in packet{} {}; the client sent {}; no packet from the server.",
            e.kind.name(),
            r.client,
            r.server,
            if refused.len() == 1 { "" } else { "s" },
            packets(refused),
            sent(r)
        ),
    )
    .with_fix(fix)
}

/// Makes `r` a connection that failed on `f`: the ICMP answer replaces what its silence
/// seemed to say.
fn fail(r: &mut ConnectionRecord, f: Finding) {
    // An answer came (ICMP): the server's side is not missing from the capture, the first
    // packets were not left unanswered, and no silent filter need be guessed at.
    r.findings.retain(|x| {
        !matches!(
            x.kind,
            K::OneSidedCapture
                | K::QuicInitialUnanswered
                | K::TcpSynUnanswered
                | K::TcpConnectTimeout
                | K::QuicBlocked
                | K::DtlsUnanswered
        )
    });
    r.findings.push(f);
    r.status = ConnectionStatus::Unreachable;
    r.outcome = Outcome::Failed;
    r.failed_at = Some(match r.transport {
        Transport::Tcp => FailedAt::Tcp,
        Transport::Quic | Transport::Dtls => FailedAt::Handshake,
    });
}

/// ICMP errors about the client's packets on a connection the server answered.
fn answered_anyway(r: &ConnectionRecord, refused: &[&(SegmentMeta, IcmpError, Side)]) -> Finding {
    let (meta, e, _) = refused[0];
    let (why, _) = meaning(e, proto(r));
    finding(
        K::IcmpUnreachable,
        Severity::Info,
        format!(
            "ICMP {} from {} ({}) in packet {} said of a client packet that {why}, yet the server answered on this connection: the error was passing (a route or a firewall that changed), or it answered a late packet after the server's end went away.",
            e.kind.name(),
            e.from,
            reporter(e),
            meta.packet
        ),
        format!(
            "ICMP errors quoting the client's {} packets to {} in packets {}.",
            proto(r),
            r.server,
            packets(refused)
        ),
    )
}

/// ICMP errors about the server's packets to the client.
fn to_client(r: &ConnectionRecord, gone: &[&(SegmentMeta, IcmpError, Side)]) -> Finding {
    let (meta, e, _) = gone[0];
    let message = if e.kind == IcmpKind::PortUnreachable && e.from == r.client.ip() {
        format!(
            "The client's host answered the server's packets with ICMP port-unreachable (packet {}): the client had already closed its {} port {}, so the server's late packets found nobody.",
            meta.packet,
            proto(r),
            r.client.port()
        )
    } else {
        let (why, _) = meaning(e, proto(r));
        format!(
            "ICMP {} from {} ({}) in packet {} said of the server's packets to the client that {why}.",
            e.kind.name(),
            e.from,
            reporter(e),
            meta.packet
        )
    };
    finding(
        K::IcmpUnreachable,
        Severity::Info,
        message,
        format!(
            "ICMP errors quoting the server's {} packets to {} in packets {}.",
            proto(r),
            r.client,
            packets(gone)
        ),
    )
}

/// "Packet too big" for one side's packets: path MTU discovery at work.
fn packet_too_big(
    r: &ConnectionRecord,
    side: Side,
    list: &[&(SegmentMeta, IcmpError, Side)],
) -> Finding {
    let (meta, e, _) = list[0];
    let mtu = match e.mtu {
        Some(0) | None => "no MTU (a router older than RFC 1191)".to_string(),
        Some(mtu) => format!("a next-hop MTU of {mtu} bytes"),
    };
    let peer = match side {
        Side::Client => r.server,
        Side::Server => r.client,
    };
    let side = side.as_str();
    finding(
        K::IcmpPacketTooBig,
        Severity::Info,
        format!(
            "{} reported {mtu} for the {side}'s packets to {peer} (ICMP packet-too-big, packet {}): a link on the path carries less than the {side} sent, and path MTU discovery tells the {side} to send smaller packets.",
            e.from,
            meta.packet
        ),
        format!(
            "ICMP packet-too-big quoting the {side}'s {} packets in packet{} {}.",
            proto(r),
            if list.len() == 1 { "" } else { "s" },
            packets(list)
        ),
    )
}
