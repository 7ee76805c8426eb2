//! The `explain` ladder: one connection's TCP and TLS events in order, in the spirit of
//! `curl -v`, then its findings with their remediation; or the same events as JSON lines.

use crate::flow::{Direction, PacketRef, Side, TcpSummary};
use crate::record::ConnectionRecord;
use crate::tls::HandshakeSummary;
use std::io::{self, Write};

/// One line of the ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Packet number.
    pub packet: u64,
    /// Seconds since the connection's first packet.
    pub rel_s: f64,
    /// Direction of travel.
    pub dir: Direction,
    /// The layer it happened at.
    pub kind: StepKind,
    /// What happened.
    pub text: String,
}

/// The layer of a ladder step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// TCP control segments (SYN, SYN-ACK, FIN, RST, a stray ACK).
    Tcp,
    /// A TLS (or DTLS, QUIC) handshake message, alert or record event.
    Tls,
    /// An HTTP request or response (cleartext, or decrypted with a key log).
    Http,
    /// Application bytes seen: first and last data, bytes that are not TLS.
    Data,
    /// An ICMP error about one of the connection's packets (the `icmp` field).
    Icmp,
}

/// One ladder step as a JSON line (`explain --format json`).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct LadderEvent<'a> {
    /// Always `"event"`.
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// The capture.
    pub file: &'a str,
    /// The connection's index (`--conn`).
    pub conn: u64,
    /// Packet number in the capture (1-based).
    pub packet: u64,
    /// Seconds since the connection's first packet; null only when the time is not known
    /// (an HTTP message beyond the application bytes kept for the HTTP reader).
    pub time_s: Option<f64>,
    /// `to-server` or `to-client`.
    pub direction: &'static str,
    /// The layer: `tcp`, `tls`, `http`, `data` or `icmp`.
    pub kind: StepKind,
    /// What happened, as the table ladder prints it.
    pub detail: &'a str,
}

/// Collects the ladder's steps, ordered by packet number.
pub fn steps(hs: &HandshakeSummary, tcp: &TcpSummary) -> Vec<Step> {
    let t0 = tcp.first.ts;
    let mut v = Vec::new();
    let mut push = |p: PacketRef, dir: Direction, kind: StepKind, text: String| {
        v.push(Step {
            packet: p.packet,
            rel_s: p.ts.seconds_since(t0),
            dir,
            kind,
            text,
        })
    };
    if let Some(p) = tcp.first_syn {
        push(p, Direction::ToServer, StepKind::Tcp, "SYN".into());
    }
    if tcp.syn > 1 {
        if let Some(p) = tcp.last_syn {
            push(
                p,
                Direction::ToServer,
                StepKind::Tcp,
                format!("SYN (retransmitted, {} SYNs in all)", tcp.syn),
            );
        }
    }
    if let Some(p) = tcp.first_syn_ack {
        push(p, Direction::ToClient, StepKind::Tcp, "SYN-ACK".into());
    }
    if let Some((p, ack)) = tcp.stale_ack {
        push(
            p,
            Direction::ToClient,
            StepKind::Tcp,
            format!("ACK {ack} without SYN (not for this SYN: stale state)"),
        );
    }
    if let Some(p) = tcp.stale_rst {
        push(
            p,
            Direction::ToServer,
            StepKind::Tcp,
            "RST (answers the stale ACK; the connect goes on)".into(),
        );
    }
    for dir in [Direction::ToServer, Direction::ToClient] {
        if let Some(p) = tcp.fin[dir.idx()] {
            push(p, dir, StepKind::Tcp, "FIN".into());
        }
    }
    if let Some((side, p)) = tcp.rst {
        let dir = if side == Side::Client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        push(p, dir, StepKind::Tcp, "RST".into());
    }
    for e in &hs.events {
        push(
            crate::flow::PacketRef {
                packet: e.meta.packet,
                ts: e.meta.ts,
            },
            e.dir,
            StepKind::Tls,
            e.text.clone(),
        );
    }
    if hs.events.is_empty() {
        for dir in [Direction::ToServer, Direction::ToClient] {
            if let Some(p) = tcp.first_data[dir.idx()] {
                push(p, dir, StepKind::Data, "first data".into());
            }
        }
    }
    for dir in [Direction::ToServer, Direction::ToClient] {
        if let Some((meta, bytes)) = &hs.non_tls[dir.idx()] {
            let p = PacketRef {
                packet: meta.packet,
                ts: meta.ts,
            };
            push(
                p,
                dir,
                StepKind::Data,
                format!("not TLS: {}", crate::http::preview(bytes)),
            );
        }
    }
    if let Some(p) = tcp.last_data[Direction::ToServer.idx()] {
        if tcp.first_data[Direction::ToServer.idx()] != Some(p) {
            push(
                p,
                Direction::ToServer,
                StepKind::Data,
                "last data from client".into(),
            );
        }
    }
    if let Some(p) = tcp.last_data[Direction::ToClient.idx()] {
        if tcp.first_data[Direction::ToClient.idx()] != Some(p) {
            push(
                p,
                Direction::ToClient,
                StepKind::Data,
                "last data from server".into(),
            );
        }
    }
    v.sort_by(|a, b| a.packet.cmp(&b.packet).then(a.dir.idx().cmp(&b.dir.idx())));
    v.dedup();
    v
}

/// Writes the ladder for one connection.
pub fn write_ladder(
    out: &mut dyn Write,
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
) -> io::Result<()> {
    writeln!(out, "Connection {} in {}", r.index, r.file)?;
    writeln!(out, "  client {}  →  server {}", r.client, r.server)?;
    writeln!(
        out,
        "  started {}, lasted {:.3} s, {} packets, status {}",
        r.start
            .rfc3339_checked()
            .as_deref()
            .unwrap_or("at an unknown time"),
        r.duration_s,
        r.tcp.packets,
        r.status
    )?;
    match (r.outcome, r.failed_at, r.cause.as_deref()) {
        (crate::record::Outcome::Failed, Some(at), cause) => {
            let at = serde_json::to_value(at).ok();
            let at = at.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
            writeln!(
                out,
                "  outcome: failed at {at}, cause {}",
                cause.unwrap_or("unknown")
            )?
        }
        (crate::record::Outcome::Ok, ..) => writeln!(out, "  outcome: ok")?,
        _ => writeln!(out, "  outcome: unknown (the capture cannot tell)")?,
    }
    writeln!(out)?;
    writeln!(
        out,
        "  {:>7}  {:>9}  {:^3}  event",
        "packet", "time (s)", "dir"
    )?;
    for s in ladder(r, hs, tcp) {
        let arrow = match s.dir {
            Direction::ToServer => "→",
            Direction::ToClient => "←",
        };
        let time = if s.rel_s.is_nan() {
            String::new()
        } else {
            format!("{:.6}", s.rel_s)
        };
        writeln!(out, "  {:>7}  {:>9}   {arrow}   {}", s.packet, time, s.text)?;
    }
    writeln!(out)?;
    if r.findings.is_empty() {
        writeln!(out, "No findings.")?;
    }
    for f in &r.findings {
        let sev = serde_json::to_value(f.severity).ok();
        let sev = sev.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
        let role = match (f.observed, f.follows) {
            (true, None) => " (cause)".to_string(),
            (true, Some(cause)) => format!(" (follows {cause})"),
            (false, _) => String::new(),
        };
        writeln!(out, "[{sev}] {}{role}: {}", f.kind, f.message)?;
        writeln!(out, "    evidence: {}", f.evidence)?;
        writeln!(out, "    fix: {}", f.remediation)?;
    }
    Ok(())
}

/// Writes one connection's ladder as JSON lines, one [`LadderEvent`] per step.
pub fn write_ladder_json(
    out: &mut dyn Write,
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
) -> io::Result<()> {
    for s in ladder(r, hs, tcp) {
        let event = LadderEvent {
            record_type: "event",
            file: &r.file,
            conn: r.index,
            packet: s.packet,
            time_s: (!s.rel_s.is_nan()).then_some(s.rel_s),
            direction: match s.dir {
                Direction::ToServer => "to-server",
                Direction::ToClient => "to-client",
            },
            kind: s.kind,
            detail: &s.text,
        };
        serde_json::to_writer(&mut *out, &event)?;
        writeln!(out)?;
    }
    Ok(())
}

/// The ladder's steps with the record's HTTP exchanges, in packet order.
pub fn ladder(r: &ConnectionRecord, hs: &HandshakeSummary, tcp: &TcpSummary) -> Vec<Step> {
    let mut all = steps(hs, tcp);
    // HTTP exchanges (decrypted or cleartext) at the packets that carried them, at the time
    // the application bytes kept for the HTTP reader give those packets.
    let mut http = Vec::new();
    for h in &r.http {
        let request = format!(
            "HTTP {} {} (auth {})",
            h.method.as_deref().unwrap_or("?"),
            h.path.as_deref().unwrap_or(""),
            h.auth
        );
        if let Some(p) = h.request_packet {
            http.push((p, Direction::ToServer, request));
        }
        if let (Some(p), Some(code)) = (h.response_packet, h.status) {
            http.push((p, Direction::ToClient, format!("HTTP {code}")));
        }
    }
    for (packet, dir, text) in http {
        let rel_s = hs.app_data[dir.idx()]
            .time_of(packet)
            .map_or(f64::NAN, |ts| ts.seconds_since(tcp.first.ts));
        all.push(Step {
            packet,
            rel_s,
            dir,
            kind: StepKind::Http,
            text,
        });
    }
    // ICMP errors travel back to the sender of the packet they quote.
    for i in &r.icmp {
        all.push(Step {
            packet: i.packet,
            rel_s: i.time_s,
            dir: match i.sent_by {
                Side::Client => Direction::ToClient,
                Side::Server => Direction::ToServer,
            },
            kind: StepKind::Icmp,
            text: match i.mtu {
                Some(mtu) => format!("ICMP {} (MTU {mtu}) from {}", i.kind.name(), i.from),
                None => format!("ICMP {} from {}", i.kind.name(), i.from),
            },
        });
    }
    all.sort_by(|a, b| a.packet.cmp(&b.packet).then(a.dir.idx().cmp(&b.dir.idx())));
    all
}

/// A failing connection as `explain` without `--conn` lists it (`--format json`).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct FailingConnection<'a> {
    /// Always `"failing"`.
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// The capture.
    pub file: &'a str,
    /// The connection's index: `explain --conn` takes it.
    pub index: u64,
    /// Server address (`ip:port`).
    pub server: String,
    /// SNI the client sent, if any.
    pub sni: Option<&'a str>,
    /// The stage it failed at.
    pub failed_at: Option<crate::record::FailedAt>,
    /// The finding that explains the failure, if one does.
    pub cause: Option<&'a str>,
}

impl<'a> FailingConnection<'a> {
    /// The listing entry of a failed connection's record.
    pub fn of(r: &'a ConnectionRecord) -> Self {
        FailingConnection {
            record_type: "failing",
            file: &r.file,
            index: r.index,
            server: r.server.to_string(),
            sni: r.sni.as_deref(),
            failed_at: r.failed_at,
            cause: r.cause.as_deref(),
        }
    }
}
