//! The `explain` ladder: one connection's TCP and TLS events in order, in the spirit of
//! `curl -v`, then its findings with their remediation.

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
    /// What happened.
    pub text: String,
}

/// Collects the ladder's steps, ordered by packet number.
pub fn steps(hs: &HandshakeSummary, tcp: &TcpSummary) -> Vec<Step> {
    let t0 = tcp.first.ts;
    let mut v = Vec::new();
    let mut push = |p: PacketRef, dir: Direction, text: String| {
        v.push(Step {
            packet: p.packet,
            rel_s: p.ts.seconds_since(t0),
            dir,
            text,
        })
    };
    if let Some(p) = tcp.first_syn {
        push(p, Direction::ToServer, "SYN".into());
    }
    if tcp.syn > 1 {
        if let Some(p) = tcp.last_syn {
            push(
                p,
                Direction::ToServer,
                format!("SYN (retransmitted, {} SYNs in all)", tcp.syn),
            );
        }
    }
    if let Some(p) = tcp.first_syn_ack {
        push(p, Direction::ToClient, "SYN-ACK".into());
    }
    if let Some((p, ack)) = tcp.stale_ack {
        push(
            p,
            Direction::ToClient,
            format!("ACK {ack} without SYN (not for this SYN: stale state)"),
        );
    }
    if let Some(p) = tcp.stale_rst {
        push(
            p,
            Direction::ToServer,
            "RST (answers the stale ACK; the connect goes on)".into(),
        );
    }
    for dir in [Direction::ToServer, Direction::ToClient] {
        if let Some(p) = tcp.fin[dir.idx()] {
            push(p, dir, "FIN".into());
        }
    }
    if let Some((side, p)) = tcp.rst {
        let dir = if side == Side::Client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        push(p, dir, "RST".into());
    }
    for e in &hs.events {
        push(
            crate::flow::PacketRef {
                packet: e.meta.packet,
                ts: e.meta.ts,
            },
            e.dir,
            e.text.clone(),
        );
    }
    if hs.events.is_empty() {
        for dir in [Direction::ToServer, Direction::ToClient] {
            if let Some(p) = tcp.first_data[dir.idx()] {
                push(p, dir, "first data".into());
            }
        }
    }
    for dir in [Direction::ToServer, Direction::ToClient] {
        if let Some((meta, bytes)) = &hs.non_tls[dir.idx()] {
            let p = PacketRef {
                packet: meta.packet,
                ts: meta.ts,
            };
            push(p, dir, format!("not TLS: {}", crate::http::preview(bytes)));
        }
    }
    if let Some(p) = tcp.last_data[Direction::ToServer.idx()] {
        if tcp.first_data[Direction::ToServer.idx()] != Some(p) {
            push(p, Direction::ToServer, "last data from client".into());
        }
    }
    if let Some(p) = tcp.last_data[Direction::ToClient.idx()] {
        if tcp.first_data[Direction::ToClient.idx()] != Some(p) {
            push(p, Direction::ToClient, "last data from server".into());
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
    let mut all = steps(hs, tcp);
    // HTTP exchanges (decrypted or cleartext) at the packets that carried them; their time is
    // the time of another step in the same packet, when there is one.
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
        let rel_s = all
            .iter()
            .find(|s| s.packet == packet)
            .map_or(f64::NAN, |s| s.rel_s);
        all.push(Step {
            packet,
            rel_s,
            dir,
            text,
        });
    }
    all.sort_by(|a, b| a.packet.cmp(&b.packet).then(a.dir.idx().cmp(&b.dir.idx())));
    for s in all {
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
