//! `--format html`: one self-contained page to attach to a ticket. Inline CSS and SVG only, no
//! script and no external resource (a Content-Security-Policy forbids any), so it opens from
//! disk and prints. Markup comes from maud: every value from a capture (SNI, subjects, HTTP
//! paths) is escaped by the template itself, never by hand.
//!
//! The page is built from the same typed records as JSON: a summary, one verdict sentence per
//! failing server and cause, a per-server overview, then each failing connection (cause,
//! findings with evidence and fix, its ladder as a sequence diagram, its certificates) and the
//! other connections collapsed.

use super::printer::{Pass, Printer, RunEnd};
use crate::certs::CertInfo;
use crate::flow::{CloseKind, Side};
use crate::record::{
    name_or_dash, AlertLevel, ConnectionRecord, FailedAt, Outcome, Severity, Transport,
};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Failing connections drawn in full; past this they are listed in one table (a report of a
/// large batch stays a page a person can open).
pub(crate) const DETAILED_MAX: usize = 200;
/// Other connections listed; past this they are counted only.
pub(crate) const LISTED_MAX: usize = 2000;

/// Connections drawn on the timeline; past this the timeline says how many it leaves out.
pub(crate) const TIMELINE_MAX: usize = 5000;

/// The version line a report names.
pub(crate) const VERSION: &str = env!("TLSCAP_LONG_VERSION");

/// A connection that did not fail, as the collapsed list shows it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub file: String,
    pub index: u64,
    pub first_packet: u64,
    pub start: String,
    pub server: String,
    /// The SNI as tables show it ([`ConnectionRecord::sni_shown`]).
    pub sni: String,
    pub version: Option<String>,
    pub outcome: Outcome,
    pub status: String,
    pub http_status: Option<u16>,
    pub findings: Vec<&'static str>,
}

impl Row {
    fn of(r: &ConnectionRecord) -> Self {
        Row {
            file: r.file.clone(),
            index: r.index,
            first_packet: r.first_packet,
            start: r.start.rfc3339_checked().unwrap_or_default(),
            server: r.server_named(),
            sni: r.sni_shown().to_owned(),
            version: r.version.map(|v| v.name().into_owned()),
            outcome: r.outcome,
            status: r.status.as_str().to_owned(),
            http_status: r.http.iter().rev().find_map(|h| h.status),
            findings: r.findings.iter().map(|f| f.kind.id()).collect(),
        }
    }
}

/// Connections to one server (address and SNI).
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerHealth {
    pub connections: u64,
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Failed connections by cause.
    pub causes: BTreeMap<String, u64>,
    /// The first failing connection of each cause (file, index).
    pub first: BTreeMap<String, (String, u64)>,
}

/// What a report holds: everything the two document printers (HTML, Markdown) draw.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// Failing connections, in output order, up to [`DETAILED_MAX`].
    pub failing: Vec<ConnectionRecord>,
    /// Failing connections past [`DETAILED_MAX`], as rows.
    pub failing_rest: Vec<Row>,
    /// The others, up to [`LISTED_MAX`].
    pub others: Vec<Row>,
    /// Others not listed.
    pub others_unlisted: u64,
    /// By outcome.
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Failed connections by cause.
    pub causes: BTreeMap<String, u64>,
    /// Findings by (severity, id), for the summary.
    pub findings: BTreeMap<(Severity, &'static str), u64>,
    /// By (SNI as tables show it, server address).
    pub servers: BTreeMap<(String, String), ServerHealth>,
    /// Connections on the timeline, up to [`TIMELINE_MAX`].
    pub timeline: Vec<Tick>,
}

/// A connection on the timeline.
#[derive(Debug, Clone)]
pub(crate) struct Tick {
    /// Start, seconds since the epoch.
    pub at: f64,
    pub outcome: Outcome,
    /// Its section or row.
    pub anchor: String,
    /// `file #index  SNI → server: outcome`.
    pub label: String,
}

impl Collected {
    pub(crate) fn add(&mut self, r: ConnectionRecord) {
        let health = self
            .servers
            .entry((r.sni_shown().to_owned(), r.server_named()))
            .or_default();
        health.connections += 1;
        if self.timeline.len() < TIMELINE_MAX {
            self.timeline.push(Tick {
                at: r.start.as_f64(),
                outcome: r.outcome,
                anchor: anchor(&r.file, r.index),
                label: format!(
                    "{} #{}  {} → {}: {}{}",
                    file_name(&r.file),
                    r.index,
                    r.sni_shown(),
                    r.server_named(),
                    outcome_word(r.outcome),
                    r.cause
                        .as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default()
                ),
            });
        }
        for f in &r.findings {
            *self.findings.entry((f.severity, f.kind.id())).or_default() += 1;
        }
        match r.outcome {
            Outcome::Ok => {
                self.ok += 1;
                health.ok += 1;
            }
            Outcome::Unknown => {
                self.unknown += 1;
                health.unknown += 1;
            }
            Outcome::Failed => {
                self.failed += 1;
                health.failed += 1;
                let cause = r.cause.map_or("unknown", |c| c.as_str()).to_string();
                *health.causes.entry(cause.clone()).or_default() += 1;
                health
                    .first
                    .entry(cause.clone())
                    .or_insert_with(|| (r.file.clone(), r.index));
                *self.causes.entry(cause).or_default() += 1;
                if self.failing.len() < DETAILED_MAX {
                    self.failing.push(r);
                } else {
                    self.failing_rest.push(Row::of(&r));
                }
                return;
            }
        }
        if self.others.len() < LISTED_MAX {
            self.others.push(Row::of(&r));
        } else {
            self.others_unlisted += 1;
        }
    }

    /// One sentence per failing server and cause, most failures first: `api.example.com
    /// (10.0.0.1:443): Client certificate not requested (client-cert-not-requested), 12 of 12
    /// connections`.
    pub(crate) fn verdicts(&self) -> Vec<Verdict<'_>> {
        let mut v: Vec<Verdict<'_>> = self
            .servers
            .iter()
            .flat_map(|((sni, server), h)| {
                h.causes.iter().map(move |(cause, &n)| Verdict {
                    first: h.first.get(cause).map(|(f, i)| (f.as_str(), *i)),
                    sni,
                    server,
                    cause,
                    title: cause_title(cause),
                    failed: n,
                    connections: h.connections,
                })
            })
            .collect();
        v.sort_by(|a, b| {
            b.failed
                .cmp(&a.failed)
                .then_with(|| (a.sni, a.server, a.cause).cmp(&(b.sni, b.server, b.cause)))
        });
        v
    }

    /// Failed connections by cause, most first.
    pub(crate) fn causes_by_count(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.causes.iter().map(|(c, &n)| (c.as_str(), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }

    /// Findings worst first, then most frequent first.
    pub(crate) fn findings_by_weight(&self) -> Vec<(Severity, &'static str, u64)> {
        let mut v: Vec<(Severity, &'static str, u64)> = self
            .findings
            .iter()
            .map(|(&(s, id), &n)| (s, id, n))
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(b.2.cmp(&a.2)).then(a.1.cmp(b.1)));
        v
    }
}

/// A failing server's verdict.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verdict<'a> {
    /// The first failing connection it names (file, index).
    pub first: Option<(&'a str, u64)>,
    pub sni: &'a str,
    pub server: &'a str,
    pub cause: &'a str,
    pub title: &'static str,
    pub failed: u64,
    pub connections: u64,
}

/// The catalogue's title of a cause id (`unknown` when the analysis could not name one).
pub(crate) fn cause_title(cause: &str) -> &'static str {
    crate::record::FindingKind::from_id(cause)
        .map(|k| k.title())
        .unwrap_or("cause not identified")
}

/// `failed`, `ok`, `unknown`.
pub(crate) fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Failed => "failed",
        Outcome::Unknown => "unknown",
    }
}

/// `tcp`, `handshake`, `http`.
pub(crate) fn failed_at_word(at: FailedAt) -> &'static str {
    match at {
        FailedAt::Tcp => "tcp",
        FailedAt::Handshake => "handshake",
        FailedAt::Http => "http",
    }
}

/// The file name of a capture path (the report names files as a person saved them).
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The anchor of a connection's section.
pub(crate) fn anchor(file: &str, index: u64) -> String {
    let name: String = file_name(file)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("conn-{name}-{index}")
}

/// One arrow of a ladder: what the record shows of the connection, in protocol order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LadderEvent {
    /// Packet number, when the record names it.
    pub packet: Option<u64>,
    /// Who sent it.
    pub from: Side,
    pub text: String,
    /// What the step could show about a failure.
    pub cue: FailureCue,
    /// The step where the connection failed.
    pub failing: bool,
}

/// Steps that can mark where a failed connection failed, most telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureCue {
    None,
    FatalAlert,
    HttpError,
    Reset,
    /// An ICMP error that is the failure's cause (`icmp-unreachable`).
    Icmp,
}

/// The ladder of a connection as its record shows it: TCP open, the handshake messages seen,
/// alerts and HTTP exchanges at their packets, the close. (`tlscap explain` lists every
/// event with its packet.)
pub(crate) fn ladder(r: &ConnectionRecord) -> Vec<LadderEvent> {
    let mut v = Steps::default();
    let quic = r.transport == Transport::Quic;
    let hello = r.client_hello_seen() || r.sni.is_some();
    let hello_text = format!(
        "ClientHello{}",
        r.sni
            .as_deref()
            .map_or(" (no SNI)".to_string(), |s| format!(" SNI {s}"))
    );
    if quic {
        v.push(
            Some(r.first_packet),
            Side::Client,
            format!("QUIC Initial: {hello_text}"),
        );
    } else if r.tcp.syn > 0 {
        let syn = if r.tcp.syn > 1 {
            format!("SYN (×{})", r.tcp.syn)
        } else {
            "SYN".into()
        };
        v.push(Some(r.first_packet), Side::Client, syn);
        if r.tcp.syn_ack {
            v.push(None, Side::Server, "SYN-ACK".into());
        }
        if hello {
            v.push(None, Side::Client, hello_text);
        }
    } else if hello {
        v.push(Some(r.first_packet), Side::Client, hello_text);
    } else {
        v.push(
            Some(r.first_packet),
            Side::Client,
            "first packet (mid-stream)".into(),
        );
    }
    if let Some(version) = &r.version {
        let cipher = r.cipher.map(|c| format!(", {c}")).unwrap_or_default();
        v.push(None, Side::Server, format!("ServerHello {version}{cipher}"));
    }
    if let Some(chain) = &r.server_chain {
        v.push(
            None,
            Side::Server,
            format!(
                "Certificate ({} cert{})",
                chain.len(),
                if chain.len() == 1 { "" } else { "s" }
            ),
        );
    }
    if r.cert_requested == Some(true) {
        v.push(None, Side::Server, "CertificateRequest".into());
    }
    match (r.cert_requested, r.client_cert_sent, &r.client_chain) {
        (_, Some(true), chain) => v.push(
            None,
            Side::Client,
            format!(
                "Certificate ({} cert{})",
                chain.as_ref().map_or(0, |c| c.len()),
                if chain.as_ref().is_some_and(|c| c.len() == 1) {
                    ""
                } else {
                    "s"
                }
            ),
        ),
        (Some(true), Some(false), _) => v.push(None, Side::Client, "Certificate (empty)".into()),
        _ => {}
    }
    // Alerts and HTTP exchanges carry their packet numbers: in packet order among themselves.
    let mut late: Vec<(u64, Side, String, FailureCue)> = Vec::new();
    for a in &r.alerts {
        let text = match (&a.level, &a.description) {
            (Some(level), Some(desc)) => format!("Alert {level} {desc}"),
            _ => "Alert (encrypted)".into(),
        };
        let cue = if a.level == Some(AlertLevel::FATAL) {
            FailureCue::FatalAlert
        } else {
            FailureCue::None
        };
        late.push((a.packet, a.from, text, cue));
    }
    for h in &r.http {
        if let Some(p) = h.request_packet {
            let request = format!(
                "{} {}",
                h.method.as_deref().unwrap_or("request"),
                h.path.as_deref().unwrap_or("")
            );
            late.push((
                p,
                Side::Client,
                request.trim_end().to_owned(),
                FailureCue::None,
            ));
        }
        if let (Some(p), Some(code)) = (h.response_packet, h.status) {
            let cue = if code >= 400 {
                FailureCue::HttpError
            } else {
                FailureCue::None
            };
            late.push((p, Side::Server, format!("HTTP {code}"), cue));
        }
    }
    // An ICMP error travels back to the sender of the packet it quotes: drawn from its peer.
    let icmp_cause = r.cause
        == Some(crate::record::Cause::Finding(
            crate::record::FindingKind::IcmpUnreachable,
        ));
    for i in &r.icmp {
        let cue = if icmp_cause && i.kind.undeliverable() {
            FailureCue::Icmp
        } else {
            FailureCue::None
        };
        let text = match i.mtu {
            Some(mtu) => format!("ICMP {} (MTU {mtu}) from {}", i.kind.name(), i.from),
            None => format!("ICMP {} from {}", i.kind.name(), i.from),
        };
        late.push((i.packet, i.sent_by.peer(), text, cue));
    }
    late.sort_by_key(|&(p, side, _, _)| (p, side == Side::Server));
    for (p, side, text, cue) in late {
        v.push_cued(Some(p), side, text, cue);
    }
    if let (Some(by), Some(kind)) = (r.tcp.closed_by, r.tcp.close) {
        let (text, cue) = match kind {
            CloseKind::Fin => ("FIN", FailureCue::None),
            CloseKind::Rst => ("RST", FailureCue::Reset),
        };
        v.push_cued(None, by, text.into(), cue);
    }
    let mut v = v.0;
    mark_failing_step(r, &mut v);
    v
}

/// A ladder being built.
#[derive(Default)]
struct Steps(Vec<LadderEvent>);

impl Steps {
    fn push(&mut self, packet: Option<u64>, from: Side, text: String) {
        self.push_cued(packet, from, text, FailureCue::None);
    }

    fn push_cued(&mut self, packet: Option<u64>, from: Side, text: String, cue: FailureCue) {
        self.0.push(LadderEvent {
            packet,
            from,
            text,
            cue,
            failing: false,
        });
    }
}

/// Marks where a failed connection failed: its first fatal alert, else the first failing HTTP
/// status, else a reset, else the last step seen.
fn mark_failing_step(r: &ConnectionRecord, v: &mut [LadderEvent]) {
    if r.outcome != Outcome::Failed || v.is_empty() {
        return;
    }
    let first = |cue: FailureCue| v.iter().position(|e| e.cue == cue);
    let at = first(FailureCue::FatalAlert)
        .or_else(|| first(FailureCue::HttpError))
        .or_else(|| first(FailureCue::Reset))
        .or_else(|| first(FailureCue::Icmp))
        .unwrap_or(v.len() - 1);
    v[at].failing = true;
}

/// The page's style: readable on screen, plain on paper.
pub(crate) const CSS: &str = r#"
:root{--ok:#1a7f37;--failed:#cf222e;--unknown:#9a6700;--muted:#57606a;--line:#d0d7de}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:68rem;margin:1.5rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{border-bottom:1px solid var(--line);padding-bottom:.2rem;margin-top:2rem}
h3{margin:.2rem 0 .4rem}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
table{border-collapse:collapse;margin:.5rem 0;width:100%}th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right}
.ok{color:var(--ok)}.failed{color:var(--failed)}.unknown{color:var(--unknown)}.muted{color:var(--muted)}
.badge{display:inline-block;border-radius:.8rem;padding:0 .55rem;font-weight:600;font-size:.85em;color:#fff}
.badge.ok{background:var(--ok)}.badge.failed{background:var(--failed)}.badge.unknown{background:var(--unknown)}
.counts{display:flex;gap:1rem;flex-wrap:wrap}.counts div{border:1px solid var(--line);border-radius:.4rem;padding:.4rem .8rem}
.counts b{font-size:1.4rem;display:block}
section.conn{border:1px solid var(--line);border-left:.35rem solid var(--failed);border-radius:.4rem;padding:.6rem 1rem;margin:1rem 0;break-inside:avoid-page}
.finding{margin:.5rem 0;padding:.4rem .6rem;background:#f6f8fa;border-radius:.3rem}
.finding .sev-error{color:var(--failed);font-weight:600}.finding .sev-warning{color:var(--unknown);font-weight:600}.finding .sev-info{color:var(--muted);font-weight:600}
.finding dt{font-weight:600;float:left;width:5.5rem;clear:left}.finding dd{margin-left:6rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;margin:.4rem 0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
svg.timeline{max-width:100%;height:auto;font:11px ui-monospace,Menlo,Consolas,monospace;fill:#57606a}
svg.timeline .tick.ok{fill:var(--ok)}svg.timeline .tick.failed{fill:var(--failed)}svg.timeline .tick.unknown{fill:var(--unknown)}
svg.ladder{max-width:100%;height:auto;font:12px ui-monospace,Menlo,Consolas,monospace}
svg.ladder .lane{stroke:#8c959f;stroke-width:2}svg.ladder .arrow{stroke:#57606a;stroke-width:1.3}
svg.ladder .fail .arrow{stroke:var(--failed);stroke-width:2.2}svg.ladder .fail text{fill:var(--failed);font-weight:700}
details{margin:.6rem 0}summary{cursor:pointer;font-weight:600}
ul.verdicts li{margin:.25rem 0}
@media print{body{max-width:none;margin:0}details>summary{list-style:none}a{color:inherit;text-decoration:none}}
"#;

/// The Content-Security-Policy of the page: nothing may be fetched, nothing may run.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Lane positions and sizes of the ladder diagram.
const LADDER_WIDTH: u32 = 780;
const CLIENT_X: u32 = 130;
const SERVER_X: u32 = 660;
const ROW: u32 = 30;
const TOP: u32 = 40;

/// A ladder as an SVG sequence diagram: client and server lanes, one arrow per event, the
/// failing step in red and marked ✗.
pub(crate) fn ladder_svg(r: &ConnectionRecord, events: &[LadderEvent]) -> Markup {
    let height = TOP + ROW * u32::try_from(events.len()).unwrap_or(u32::MAX / ROW / 2) + 10;
    let client = r.client.to_string();
    let server = r.server_named();
    html! {
        svg.ladder xmlns="http://www.w3.org/2000/svg" role="img" width=(LADDER_WIDTH) height=(height)
            viewBox=(format!("0 0 {LADDER_WIDTH} {height}")) data-events=(events.len()) {
            title { "Ladder of connection " (r.index) ": client " (client) ", server " (server) }
            defs {
                marker id="arrowhead" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse" {
                    path d="M0,0 L10,5 L0,10 z" fill="#57606a" {}
                }
            }
            text x=(CLIENT_X) y="14" text-anchor="middle" font-weight="700" { "client" }
            text x=(CLIENT_X) y="28" text-anchor="middle" { (client) }
            text x=(SERVER_X) y="14" text-anchor="middle" font-weight="700" { "server" }
            text x=(SERVER_X) y="28" text-anchor="middle" { (server) }
            line.lane x1=(CLIENT_X) y1=(TOP) x2=(CLIENT_X) y2=(height - 4) {}
            line.lane x1=(SERVER_X) y1=(TOP) x2=(SERVER_X) y2=(height - 4) {}
            @for (i, e) in events.iter().enumerate() {
                @let y = TOP + ROW * u32::try_from(i).unwrap_or(0) + ROW - 6;
                @let (x1, x2) = if e.from == Side::Client { (CLIENT_X, SERVER_X) } else { (SERVER_X, CLIENT_X) };
                g.event.fail[e.failing] data-packet=[e.packet] {
                    text x="8" y=(y + 4) fill="#57606a" {
                        @if let Some(p) = e.packet { "#" (p) } @else { "·" }
                    }
                    line.arrow x1=(x1) y1=(y) x2=(x2) y2=(y) marker-end="url(#arrowhead)" {}
                    text x=((CLIENT_X + SERVER_X) / 2) y=(y - 5) text-anchor="middle" {
                        @if e.failing { "✗ " } (e.text)
                    }
                }
            }
        }
    }
}

/// Width of the timeline drawing.
const TIMELINE_WIDTH: f64 = 1000.0;

/// Connections along their start times, one coloured mark each (failed ones link to their
/// section); each mark's tooltip names the connection.
fn timeline_svg(c: &Collected) -> Markup {
    let (Some(first), Some(last)) = (
        c.timeline.iter().map(|t| t.at).reduce(f64::min),
        c.timeline.iter().map(|t| t.at).reduce(f64::max),
    ) else {
        return html! {};
    };
    let span = last - first;
    let x = |at: f64| {
        if span > 0.0 {
            10.0 + (at - first) / span * (TIMELINE_WIDTH - 20.0)
        } else {
            TIMELINE_WIDTH / 2.0
        }
    };
    // Failed marks last, so they are drawn over the others.
    let mut ticks: Vec<&Tick> = c.timeline.iter().collect();
    ticks.sort_by_key(|t| t.outcome == Outcome::Failed);
    let when = |at: f64| {
        crate::time::Timestamp::new(at.floor() as i64, 0)
            .rfc3339_checked()
            .map(|t| t.replace(".000000Z", "Z"))
            .unwrap_or_default()
    };
    html! {
        svg.timeline xmlns="http://www.w3.org/2000/svg" role="img" width=(TIMELINE_WIDTH) height="62"
            viewBox=(format!("0 0 {TIMELINE_WIDTH} 62")) data-connections=(c.timeline.len()) {
            title { "Connections by start time, coloured by outcome" }
            line x1="10" y1="34" x2=(TIMELINE_WIDTH - 10.0) y2="34" stroke="#d0d7de" {}
            @for t in ticks {
                @let class = format!("tick {}", outcome_word(t.outcome));
                @if t.outcome == Outcome::Failed {
                    a href=(format!("#{}", t.anchor)) {
                        rect class=(class) x=(format!("{:.1}", x(t.at) - 1.5)) y="18" width="3" height="32" { title { (t.label) } }
                    }
                } @else {
                    rect class=(class) x=(format!("{:.1}", x(t.at) - 1.5)) y="22" width="3" height="24" { title { (t.label) } }
                }
            }
            text x="10" y="12" { (when(first)) }
            text x=(TIMELINE_WIDTH - 10.0) y="12" text-anchor="end" { (when(last)) }
        }
        @if c.ok + c.failed + c.unknown > c.timeline.len() as u64 {
            p.muted { "The first " (c.timeline.len()) " connections are drawn." }
        }
    }
}

fn outcome_badge(o: Outcome) -> Markup {
    let w = outcome_word(o);
    html! { span class=(format!("badge {w}")) { (w) } }
}

fn chain_table(title: &str, chain: &[CertInfo]) -> Markup {
    html! {
        h4 { (title) " (" (chain.len()) ")" }
        table.chain {
            tr { th { "#" } th { "Subject" } th { "Issuer" } th { "Valid" } th { "Names" } th { "Key" } }
            @for (i, c) in chain.iter().enumerate() {
                tr {
                    td.n { (i) }
                    td { (c.subject) }
                    td { (c.issuer) @if c.self_signed { br; span.muted { "self-signed" } } }
                    td.mono { (c.not_before) br; "→ " (c.not_after) }
                    td { (c.san_dns.iter().chain(&c.san_ip).map(String::as_str).collect::<Vec<_>>().join(", ")) }
                    td { (c.key) }
                }
            }
        }
    }
}

pub(crate) fn connection_section(r: &ConnectionRecord) -> Markup {
    let events = ladder(r);
    let cause = r.cause.as_deref().unwrap_or("unknown");
    html! {
        section.conn id=(anchor(&r.file, r.index)) data-cause=(cause) {
            h3 {
                (file_name(&r.file)) " #" (r.index) " — " (r.sni_shown()) " → " (r.server_named())
            }
            p {
                (outcome_badge(r.outcome))
                @if let Some(at) = r.failed_at { " at " strong { (failed_at_word(at)) } }
                // A working connection (compare's good side) has no cause to name.
                @if r.outcome != Outcome::Ok { ": " strong.cause { (cause) } " — " (cause_title(cause)) }
            }
            dl.facts {
                dt { "File" } dd.mono { (r.file) }
                dt { "Started" } dd { (r.start.rfc3339_checked().unwrap_or_default()) ", first packet #" (r.first_packet) ", " (r.tcp.packets) " packets, " (format!("{:.3}", r.duration_s)) " s" }
                dt { "Client → server" } dd.mono { (r.client.to_string()) " → " (r.server_named()) }
                dt { "Via" } dd.mono { (super::via_lines(r).join(", ")) }
                dt { "Version / cipher" } dd { (name_or_dash(r.version)) " / " (name_or_dash(r.cipher)) }
                dt { "ALPN" } dd { (r.alpn_offered.join(", ")) @if let Some(a) = &r.alpn { " → " (a) } }
                dt { "Client cert (requested / sent)" } dd { (super::client_cert_cell(r)) }
                dt { "Server chain" } dd { (r.chain_status.as_deref().unwrap_or("not seen")) }
                dt { "Status" } dd { (r.status.as_str()) }
                @if let Some(code) = r.http.iter().rev().find_map(|h| h.status) { dt { "HTTP" } dd { (code) } }
            }
            h4 { "Findings" }
            @for f in &r.findings {
                div.finding data-finding=(f.kind.id()) {
                    span class=(format!("sev-{}", f.severity.as_str())) { (f.severity.as_str()) }
                    " " code { (f.kind.id()) }
                    @if f.observed && f.follows.is_none() { " (cause)" }
                    @if let Some(c) = f.follows { " (follows " code { (c.id()) } ")" }
                    " — " (f.message)
                    dl {
                        dt { "Evidence" } dd { (f.evidence) }
                        dt { "Fix" } dd { (f.remediation.as_ref()) }
                    }
                }
            }
            h4 { "Ladder" }
            (ladder_svg(r, &events))
            p.muted { "The steps the record shows; " code { "tlscap explain " (r.file) " --conn " (r.index) } " lists every packet." }
            @if let Some(chain) = &r.server_chain { @if !chain.is_empty() { (chain_table("Server certificates", chain)) } }
            @if let Some(chain) = &r.client_chain { @if !chain.is_empty() { (chain_table("Client certificates", chain)) } }
        }
    }
}

fn rows_table(rows: &[Row]) -> Markup {
    html! {
        table.rows {
            tr { th { "Connection" } th { "Outcome" } th { "SNI → server" } th { "Version" } th { "Status" } th { "Findings" } th { "Start (UTC)" } }
            @for r in rows {
                tr id=(anchor(&r.file, r.index)) {
                    td { (file_name(&r.file)) " #" (r.index) br; span.muted { "packet #" (r.first_packet) } }
                    td class=(outcome_word(r.outcome)) { (outcome_word(r.outcome)) @if let Some(c) = r.http_status { br; "HTTP " (c) } }
                    td { (r.sni) br; span.mono { (r.server) } }
                    td { (r.version.as_deref().unwrap_or("-")) }
                    td { (r.status) }
                    td { (r.findings.join(", ")) }
                    td.mono { (r.start) }
                }
            }
        }
    }
}

/// A page's `<head>`: the content-security policy that forbids scripts and remote loads, the
/// generator, `title`, and the report's style followed by `extra_css`. Shared by the run report
/// and `compare`'s page.
pub(crate) fn page_head(title: &str, extra_css: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta http-equiv="Content-Security-Policy" content=(CSP);
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="generator" content=(format!("tlscap {VERSION}"));
            title { (title) }
            style { (PreEscaped(CSS)) (PreEscaped(extra_css)) }
        }
    }
}

/// The whole page.
pub(crate) fn page(c: &Collected, end: &RunEnd<'_>) -> Markup {
    let verdicts = c.verdicts();
    let total = c.ok + c.failed + c.unknown;
    html! {
        (DOCTYPE)
        html lang="en" {
            (page_head(&format!("tlscap report: {} failing of {total} connections", c.failed), ""))
            body {
                h1 { "TLS connection report" }
                p.muted { "tlscap " (VERSION) }
                section #summary {
                    h2 { "Summary" }
                    div.counts {
                        div { b { (total) } " connections" }
                        div.failed { b { (c.failed) } " failed" }
                        div.ok { b { (c.ok) } " ok" }
                        div.unknown { b { (c.unknown) } " unknown (the capture cannot tell)" }
                    }
                    h3 { "Timeline" }
                    (timeline_svg(c))
                    @if verdicts.is_empty() {
                        p #verdict { "No connection failed." }
                    } @else {
                        h3 { "Verdict" }
                        ul.verdicts #verdict {
                            @for v in &verdicts {
                                li.verdict data-cause=(v.cause) {
                                    @if let Some((file, index)) = v.first {
                                        a href=(format!("#{}", anchor(file, index))) { strong { (v.sni) } }
                                    } @else { strong { (v.sni) } } " (" span.mono { (v.server) } ") — " (v.title) " (" code { (v.cause) } "): "
                                    (v.failed) " of " (v.connections) " connection" @if v.connections != 1 { "s" } " failed"
                                }
                            }
                        }
                    }
                    @if !c.causes.is_empty() {
                        h3 { "Failures by cause" }
                        table #causes {
                            tr { th { "Cause" } th { "What" } th { "Connections" } }
                            @for (cause, n) in c.causes_by_count() {
                                tr { td { code { (cause) } } td { (cause_title(cause)) } td.n { (n) } }
                            }
                        }
                    }
                    @if !c.findings.is_empty() {
                        h3 { "Findings" }
                        table #findings {
                            tr { th { "Severity" } th { "Finding" } th { "Connections" } }
                            @for (sev, id, n) in c.findings_by_weight() {
                                tr { td class=(format!("sev-{}", sev.as_str())) { (sev.as_str()) } td { code { (id) } } td.n { (n) } }
                            }
                        }
                    }
                    h3 { "Captures" }
                    table #captures {
                        tr { th { "File" } th { "Packets" } th { "First packet (UTC)" } th { "Span (s)" } th { "Connections" } th { "Findings" } }
                        @for f in end.files {
                            tr {
                                td.mono { (f.file) @if let Some(e) = &f.error { br; span.failed { (e) } } }
                                td.n { (f.packets) }
                                td.mono { (f.first.as_deref().unwrap_or("-")) }
                                td.n { (format!("{:.3}", f.span_s)) }
                                td.n { (f.connections) }
                                td.n { (f.findings) }
                            }
                        }
                    }
                    @if !end.errors.is_empty() {
                        h3.failed { "Inputs that could not be read" }
                        ul { @for e in end.errors { li { span.mono { (e.file) } ": " (e.reason) } } }
                    }
                }
                section #servers {
                    h2 { "Servers" }
                    table {
                        tr { th { "SNI" } th { "Server" } th { "Connections" } th { "Failed" } th { "OK" } th { "Unknown" } th { "Causes" } }
                        @for ((sni, server), h) in &c.servers {
                            tr {
                                td { (sni) } td.mono { (server) } td.n { (h.connections) }
                                td.n.failed[h.failed > 0] { (h.failed) } td.n { (h.ok) } td.n { (h.unknown) }
                                td { @for (i, (cause, n)) in h.causes.iter().enumerate() { @if i > 0 { ", " } code { (cause) } " ×" (n) } }
                            }
                        }
                    }
                }
                section #failing {
                    h2 { "Failing connections (" (c.failed) ")" }
                    @if c.failing.is_empty() { p { "None." } }
                    @for r in &c.failing { (connection_section(r)) }
                    @if !c.failing_rest.is_empty() {
                        p { (c.failing_rest.len()) " more failing connections, listed without detail:" }
                        (rows_table(&c.failing_rest))
                    }
                }
                section #others {
                    h2 { "Other connections (" (c.ok + c.unknown) ")" }
                    details {
                        summary { (c.ok) " ok, " (c.unknown) " unknown" }
                        (rows_table(&c.others))
                        @if c.others_unlisted > 0 { p { (c.others_unlisted) " more not listed." } }
                    }
                }
            }
        }
    }
}

/// `--format html`.
pub struct HtmlReport<'w> {
    out: &'w mut dyn Write,
    collected: Collected,
}

impl<'w> HtmlReport<'w> {
    /// A report written to `out` at the end of the run.
    pub fn new(out: &'w mut dyn Write) -> Self {
        HtmlReport {
            out,
            collected: Collected::default(),
        }
    }
}

impl Printer for HtmlReport<'_> {
    fn record(&mut self, _pass: Pass, r: ConnectionRecord) -> io::Result<()> {
        self.collected.add(r);
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        let c = std::mem::take(&mut self.collected);
        self.out.write_all(page(&c, end).into_string().as_bytes())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::{ConnectionStatus, ConnectionType, Finding, FindingKind, TcpRecord};

    /// A hand-built record (no capture can carry every hostile field at once): SNI, certificate
    /// subject, finding text and HTTP path all hold markup.
    pub(crate) fn hostile_record() -> ConnectionRecord {
        let evil = "<script>alert(1)</script>\"'&";
        ConnectionRecord {
            record_type: ConnectionType::Connection,
            file: format!("/tmp/{evil}.pcap"),
            index: 7,
            first_packet: 3,
            start: crate::time::Timestamp::new(1_700_000_000, 0),
            duration_s: 0.5,
            client: "10.0.0.1:50000".parse().unwrap(),
            server: "10.0.0.2:443".parse().unwrap(),
            carrier: None,
            proxy_kind: None,
            proxy: None,
            target: None,
            original_client: None,
            sni: Some(evil.into()),
            alpn_offered: vec![evil.into()],
            alpn: None,
            versions_offered: vec![crate::record::Version(0x0303)],
            version: Some(crate::record::Version(0x0303)),
            cipher: Some(crate::record::CipherSuite(0xc02f)),
            resumed: false,
            hello_retry: false,
            cert_requested: Some(false),
            client_cert_sent: Some(false),
            server_chain: Some(
                vec![CertInfo {
                    subject: format!("CN={evil}"),
                    issuer: format!("CN={evil}"),
                    san_dns: vec![evil.into()],
                    ..Default::default()
                }]
                .into(),
            ),
            client_chain: None,
            ocsp_stapled: false,
            alerts: vec![crate::record::AlertRecord {
                from: Side::Client,
                // A code: an alert carries no text from the capture.
                level: Some(crate::record::AlertLevel::FATAL),
                description: Some(crate::record::AlertDescription::UNKNOWN_CA),
                encrypted: false,
                packet: 9,
            }],
            tcp: TcpRecord {
                syn: 1,
                syn_ack: true,
                established: true,
                client_bytes: 1,
                server_bytes: 1,
                closed_by: Some(Side::Client),
                close: Some(CloseKind::Rst),
                gaps: 0,
                packets: 10,
                retransmissions: 0,
                midstream: false,
                out_of_order: 0,
                mss: Default::default(),
            },
            ja3: None,
            ja4: None,
            chain_status: Some(evil.into()),
            status: ConnectionStatus::Alert,
            outcome: Outcome::Failed,
            failed_at: Some(FailedAt::Handshake),
            cause: Some(crate::record::Cause::Finding(FindingKind::TlsAlert)),
            findings: vec![Finding::new(
                FindingKind::TlsAlert,
                Severity::Error,
                evil.into(),
                evil.into(),
            )
            .with_fix(evil.to_string())],
            decryption: None,
            http: vec![crate::record::HttpRecord {
                version: "HTTP/1.1".into(),
                method: Some(evil.into()),
                path: Some(evil.into()),
                host: Some(evil.into()),
                status: Some(403),
                auth: Default::default(),
                request_packet: Some(8),
                response_packet: Some(10),
                hmac: None,
            }],
            transport: Transport::Tcp,
            quic: None,
            dtls: None,
            icmp: Vec::new(),
        }
    }

    fn render(records: Vec<ConnectionRecord>) -> String {
        let mut out = Vec::new();
        let mut p = HtmlReport::new(&mut out);
        for r in records {
            p.record(Pass::All, r).unwrap();
        }
        p.finish(&RunEnd {
            files: &[],
            errors: &[],
            skipped: &[],
            analysed: 1,
        })
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn hostile_values_come_out_inert() {
        let page = render(vec![hostile_record()]);
        assert!(!page.contains("<script"), "a tag from the capture survived");
        assert!(!page.contains("\"'&"), "quotes and ampersand unescaped");
        // Each field is there, escaped (SNI, subject, cause, alert, HTTP path...).
        let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;";
        assert!(page.matches(escaped).count() >= 10, "{page}");
        // The only style is the page's own, and nothing is fetched.
        assert_eq!(page.matches("<style>").count(), 1);
        assert!(!page.contains("src="));
        assert!(!page.contains("href=\"http"));
    }

    #[test]
    fn ladder_marks_the_fatal_alert() {
        let r = hostile_record();
        let l = ladder(&r);
        let texts: Vec<&str> = l.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts.len(), 9, "{texts:?}");
        assert_eq!(texts[0], "SYN");
        assert_eq!(texts[1], "SYN-ACK");
        assert_eq!(texts[4], "Certificate (1 cert)");
        // Packet order among the numbered steps: request 8, alert 9, response 10.
        assert_eq!(l[5].packet, Some(8));
        assert_eq!(l[6].packet, Some(9));
        assert_eq!(l[7].packet, Some(10));
        assert_eq!(texts[8], "RST");
        let failing: Vec<usize> = (0..l.len()).filter(|&i| l[i].failing).collect();
        assert_eq!(failing, vec![6]);
    }
}
