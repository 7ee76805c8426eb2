//! Output: tables for people, JSON lines and CSV for pipelines.
//!
//! The analysis never formats; it hands plain records to a writer here. JSON is one object per
//! line with a `type` field; CSV has a header row and a stable column order.

pub mod html;
pub mod ladder;
pub mod markdown;

pub mod parquet;
pub mod printer;
pub mod schema;
pub mod views;

use crate::findings::Severity;
use crate::record::{name_or_dash, AlertDescription, ConnectionRecord, ConnectionStatus, Version};
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};
use std::io::{self, Write};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A table for people (comfy-table, fits the terminal).
    #[default]
    Table,
    /// One JSON object per line.
    Json,
    /// CSV with a header row.
    Csv,
}

/// A report of the whole run in one document, whatever the view (`--format html|md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// A self-contained HTML page.
    Html,
    /// Markdown.
    Markdown,
}

/// The printer of a document report.
pub fn document_printer<'w>(
    document: Document,
    out: &'w mut dyn Write,
) -> Box<dyn printer::Printer + 'w> {
    match document {
        Document::Html => Box::new(html::HtmlReport::new(out)),
        Document::Markdown => Box::new(markdown::MarkdownReport::new(out)),
    }
}

/// How tables are drawn.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableStyle {
    /// Colour cells (only on a terminal).
    pub color: bool,
    /// Width in columns (None: unlimited, the wide layout).
    pub width: Option<u16>,
}

/// Below this width the connections table uses its compact layout: the columns that say what
/// went wrong and where, the rest left to `explain`.
pub const COMPACT_BELOW: u16 = 140;

/// Width when neither the flag, the terminal nor `COLUMNS` gives one.
pub const DEFAULT_WIDTH: u16 = 120;

impl TableStyle {
    /// The compact connections layout.
    pub fn compact(&self) -> bool {
        self.width.is_some_and(|w| w < COMPACT_BELOW)
    }
}

/// The table width: `--width`, else the terminal's, else `COLUMNS`, else [`DEFAULT_WIDTH`].
/// A terminal or `COLUMNS` that says 0 (`script`, some CI consoles report 0x0) counts as
/// unknown.
pub fn table_width(flag: Option<u16>, terminal: Option<u16>, columns: Option<&str>) -> u16 {
    let columns = columns.and_then(|c| c.trim().parse::<u16>().ok());
    [flag, terminal, columns]
        .into_iter()
        .flatten()
        .find(|&w| w > 0)
        .unwrap_or(DEFAULT_WIDTH)
}

/// The width of the terminal standard output is, if it is one (comfy-table asks crossterm).
pub fn terminal_width() -> Option<u16> {
    Table::new().width().filter(|&w| w > 0)
}

/// Colours only on a terminal, and never with `--no-color` or a non-empty `NO_COLOR`
/// (<https://no-color.org>).
pub fn colour_allowed(to_terminal: bool, no_color_flag: bool, no_color_env: Option<&str>) -> bool {
    to_terminal && !no_color_flag && !matches!(no_color_env, Some(v) if !v.is_empty())
}

/// JSON lines: each row as one object (the serde view of its type) and a newline. Every JSON
/// output of tlscap goes through here.
pub fn write_json_lines<T: serde::Serialize>(out: &mut dyn Write, rows: &[T]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(2048 * rows.len().min(256));
    json_lines(&mut buf, rows)?;
    out.write_all(&buf)
}

/// [`write_json_lines`] into a buffer. sonic-rs is a serde serializer that escapes strings
/// with SIMD: text is most of a record's JSON.
pub fn json_lines<T: serde::Serialize>(buf: &mut Vec<u8>, rows: &[T]) -> io::Result<()> {
    crate::record::with_rendered_chains(|| {
        for r in rows {
            sonic_rs::to_writer(&mut *buf, r).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        Ok(())
    })
}

/// Writes connection records in the chosen format.
pub fn write_connections(
    out: &mut dyn Write,
    format: Format,
    style: TableStyle,
    records: &[ConnectionRecord],
) -> io::Result<()> {
    match format {
        Format::Json => write_json_lines(out, records),
        Format::Csv => write_csv(out, records),
        Format::Table => {
            let table = connections_table(records, style);
            writeln!(out, "{table}")
        }
    }
}

pub(crate) fn new_table(style: TableStyle) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = style.width {
        t.set_width(w);
    }
    if !style.color {
        t.force_no_tty();
    } else {
        t.enforce_styling();
    }
    t
}

/// `requested / sent`, with `?` where it cannot be seen (encrypted TLS 1.3).
pub fn client_cert_cell(r: &ConnectionRecord) -> String {
    let yn = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    };
    if r.version.is_none() && r.cert_requested.is_none() {
        return "-".into();
    }
    format!("{} / {}", yn(r.cert_requested), yn(r.client_cert_sent))
}

/// Short chain summary: `3: CN=leaf` (count and leaf subject's CN), `?` when not visible.
pub fn chain_cell(r: &ConnectionRecord) -> String {
    match &r.server_chain {
        None if r.version == Some(Version::TLS13) => "encrypted".into(),
        None => "-".into(),
        Some(chain) if chain.is_empty() => "0 certs".into(),
        Some(chain) => {
            let leaf = &chain[0];
            let cn = common_name(&leaf.subject).unwrap_or(&leaf.subject);
            format!(
                "{} cert{}: {cn}",
                chain.len(),
                if chain.len() == 1 { "" } else { "s" }
            )
        }
    }
}

/// The CN value of an RFC 4514-style DN string, if any.
pub fn common_name(dn: &str) -> Option<&str> {
    dn.split(", ").find_map(|part| part.strip_prefix("CN="))
}

/// Alerts as `C fatal unknown_ca` lines.
pub fn alerts_cell(r: &ConnectionRecord) -> String {
    format_alerts(r.alerts.iter())
}

/// `C fatal unknown_ca` / `S (encrypted)` lines.
fn format_alerts<'a>(alerts: impl Iterator<Item = &'a crate::record::AlertRecord>) -> String {
    alerts
        .map(|a| {
            let who = match a.from {
                crate::flow::Side::Client => "C",
                crate::flow::Side::Server => "S",
            };
            match (&a.level, &a.description) {
                (Some(level), Some(desc)) => format!("{who} {level} {desc}"),
                _ => format!("{who} (encrypted)"),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Alerts worth a table cell: close_notify and (on a healthy connection) encrypted alerts, the
/// normal end of a session, are left out; JSON and CSV keep every alert.
pub fn alerts_cell_brief(r: &ConnectionRecord) -> String {
    format_alerts(r.alerts.iter().filter(|a| match a.description {
        Some(d) => d != AlertDescription::CLOSE_NOTIFY,
        None => r.status != ConnectionStatus::Ok,
    }))
}

/// A cipher suite name shortened for a table cell: `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384` →
/// `ECDHE_RSA AES_256_GCM_SHA384` (it wraps at the space).
pub fn cipher_cell(name: &str) -> String {
    let n = name.strip_prefix("TLS_").unwrap_or(name);
    n.replacen("_WITH_", " ", 1)
}

fn severity_color(s: Severity) -> Color {
    match s {
        Severity::Error => Color::Red,
        Severity::Warning => Color::Yellow,
        Severity::Info => Color::Cyan,
    }
}

/// The file name of a record's capture (not its path: tables are narrow).
fn file_name(file: &str) -> String {
    std::path::Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_string())
}

/// `failed` / `handshake`, `ok` / `HTTP 200`, `unknown` / `incomplete`: the outcome, where a
/// failure happened, and the last HTTP status seen.
pub fn outcome_cell(r: &ConnectionRecord) -> String {
    use crate::record::{FailedAt, Outcome};
    let mut lines = vec![match r.outcome {
        Outcome::Ok => "ok",
        Outcome::Failed => "failed",
        Outcome::Unknown => "unknown",
    }
    .to_string()];
    match (r.outcome, r.failed_at) {
        (Outcome::Failed, Some(at)) => lines.push(
            match at {
                FailedAt::Tcp => "tcp",
                FailedAt::Handshake => "handshake",
                FailedAt::Http => "http",
            }
            .into(),
        ),
        (Outcome::Unknown, _) if r.status != ConnectionStatus::Ok => {
            lines.push(r.status.as_str().into())
        }
        _ => {}
    }
    if let Some(code) = r.http.iter().rev().find_map(|h| h.status) {
        lines.push(format!("HTTP {code}"));
    }
    lines.join("\n")
}

/// The cause of a failure on the first line, then the other findings as `+ id` lines.
pub fn findings_cell(r: &ConnectionRecord) -> String {
    let cause = r.cause.as_deref();
    let mut lines: Vec<String> = cause.map(str::to_owned).into_iter().collect();
    lines.extend(
        r.findings
            .iter()
            .map(|f| f.kind.id())
            .filter(|id| Some(*id) != cause)
            .map(|id| format!("+ {id}")),
    );
    lines.join("\n")
}

/// The widest line of a cell's text (a column no narrower never breaks it).
pub(crate) fn widest_line(text: &str) -> u16 {
    text.lines()
        .map(|l| u16::try_from(l.chars().count()).unwrap_or(u16::MAX))
        .max()
        .unwrap_or(0)
}

/// Keeps column `col` at least as wide as its widest line, so that comfy-table never splits a
/// finding id over lines (`chain-in/complete`).
pub(crate) fn keep_whole(t: &mut Table, col: usize, widest: u16) {
    if let Some(c) = t.column_mut(col) {
        // The boundary counts the cell padding too (one space each side, comfy-table's
        // default, which tables here keep).
        c.set_constraint(comfy_table::ColumnConstraint::LowerBoundary(
            comfy_table::Width::Fixed(widest.saturating_add(2)),
        ));
    }
}

/// Server cells up to this wide are never wrapped (`api.tlscap.test`, `[2001:db8::1]:443`).
pub(crate) const SERVER_KEPT_WHOLE: u16 = 28;

/// How a connection travelled: its transport (`TCP`, `QUIC`, `DTLS`), then the tunnels it came
/// in (`vxlan:42`) and the proxy in front of TLS (`HTTP proxy 10.0.0.1:3128`, `SOCKS5 proxy
/// 10.0.0.1:1080`: the tunnel's target is the server; `proxy-v2 from ip:port`), one per line.
pub fn via_lines(r: &ConnectionRecord) -> Vec<String> {
    use crate::record::Transport;
    let mut lines = vec![match r.transport {
        Transport::Tcp => "TCP",
        Transport::Quic => "QUIC",
        Transport::Dtls => "DTLS",
    }
    .to_string()];
    lines.extend(r.carrier.clone());
    if let Some(kind) = r.proxy_kind.as_deref() {
        let original = r.original_client.map(|a| a.to_string());
        // A tunnel's target is the server; its proxy is how the connection got there.
        lines.push(match (kind, r.tunnel_target(), original) {
            (_, Some(_), _) => r.proxy_named(),
            (k, _, Some(from)) if k.starts_with("proxy-") => format!("{k} from {from}"),
            (k, _, _) => k.to_string(),
        });
    }
    lines
}

/// The connections table's extra lines under the server: [`via_lines`] without the transport
/// when the wide layout shows it under the version, and without a plain `TCP` (most
/// connections), so that only what is out of the ordinary takes room.
fn via_under_server(r: &ConnectionRecord, with_transport: bool) -> Option<String> {
    let mut lines = via_lines(r);
    if !with_transport || r.transport == crate::record::Transport::Tcp {
        lines.remove(0);
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Narrower compact tables leave the alerts out (the `tls-alert` finding names them).
const ALERTS_FROM: u16 = 100;

/// The connections table: outcome, cause and server first. Below [`COMPACT_BELOW`] columns
/// only those (and the alerts from [`ALERTS_FROM`] columns); `explain` shows the rest of a connection.
pub fn connections_table(records: &[ConnectionRecord], style: TableStyle) -> Table {
    let compact = style.compact();
    let mut t = new_table(style);
    let mut header = vec!["#", "Outcome", "Cause\n+ findings", "SNI\n→ Server"];
    if !compact {
        header.extend([
            "Client",
            "Version\nover",
            "Cipher",
            "Client cert\nreq / sent",
            "Server chain",
        ]);
    }
    let alerts = style.width.map_or(true, |w| w >= ALERTS_FROM);
    if alerts {
        header.push("Alerts");
    }
    if !compact {
        header.push("Time (UTC)");
    }
    t.set_header(header);
    // With several captures, the first column names the file too.
    let several_files = records.windows(2).any(|w| w[0].file != w[1].file);
    let (mut widest_outcome, mut widest_findings, mut widest_server) = (0, 0, 0);
    for r in records {
        let findings = findings_cell(r);
        let mut server = format!(
            "{}\n→ {}",
            r.sni_shown(),
            r.tunnel_target()
                .map_or_else(|| r.server.to_string(), str::to_string)
        );
        if let Some(via) = via_under_server(r, compact) {
            server.push('\n');
            server.push_str(&via);
        }
        widest_findings = widest_findings.max(widest_line(&findings));
        widest_server = widest_server.max(widest_line(&server));
        let outcome_text = outcome_cell(r);
        widest_outcome = widest_outcome.max(widest_line(&outcome_text));
        let worst = r.findings.iter().map(|f| f.severity).max();
        let mut outcome = Cell::new(outcome_text);
        let mut findings_cell = Cell::new(findings);
        if style.color {
            if let Some(sev) = worst {
                findings_cell = findings_cell.fg(severity_color(sev));
            }
            outcome = outcome.fg(match r.outcome {
                crate::record::Outcome::Ok => Color::Green,
                crate::record::Outcome::Failed => Color::Red,
                crate::record::Outcome::Unknown => Color::Yellow,
            });
        }
        let mut row = vec![
            Cell::new(if several_files {
                format!("{}\n#{}", file_name(&r.file), r.index)
            } else {
                format!("{}", r.index)
            }),
            outcome,
            findings_cell,
            Cell::new(server),
        ];
        if !compact {
            row.extend([
                Cell::new(r.client),
                Cell::new(format!(
                    "{}\n{}",
                    name_or_dash(r.version),
                    via_lines(r).first().map_or("", String::as_str)
                )),
                Cell::new(
                    r.cipher
                        .map(|c| cipher_cell(&c.name()))
                        .unwrap_or_else(|| "-".into()),
                ),
                Cell::new(client_cert_cell(r)),
                Cell::new(chain_cell(r)),
            ]);
        }
        if alerts {
            row.push(Cell::new(alerts_cell_brief(r)));
        }
        if !compact {
            let start = r.start.rfc3339_checked();
            let start = start.as_deref().unwrap_or("-");
            row.push(Cell::new(start.get(11..23).unwrap_or(start)));
        }
        t.add_row(row);
    }
    keep_whole(&mut t, 1, widest_outcome.max(widest_line("Outcome")));
    keep_whole(&mut t, 2, widest_findings.max(widest_line("+ findings")));
    // A long host name may wrap rather than squeeze the columns after it.
    keep_whole(&mut t, 3, widest_server.min(SERVER_KEPT_WHOLE));
    t
}

/// CSV column names, in order.
pub const CONNECTION_CSV_COLUMNS: &[&str] = &[
    "file",
    "index",
    "first_packet",
    "start",
    "duration_s",
    "client",
    "server",
    "sni",
    "alpn_offered",
    "alpn",
    "versions_offered",
    "version",
    "cipher",
    "resumed",
    "hello_retry",
    "cert_requested",
    "client_cert_sent",
    "server_chain_len",
    "server_leaf_subject",
    "server_leaf_issuer",
    "server_leaf_not_after",
    "server_leaf_sha256",
    "client_chain_len",
    "ocsp_stapled",
    "alerts",
    "tcp_syn",
    "tcp_syn_ack",
    "tcp_established",
    "tcp_client_bytes",
    "tcp_server_bytes",
    "tcp_closed_by",
    "tcp_close",
    "tcp_gaps",
    "ja3",
    "ja4",
    "status",
    "findings",
];

fn opt_bool(v: Option<bool>) -> String {
    v.map(|b| b.to_string()).unwrap_or_default()
}

fn write_csv(out: &mut dyn Write, records: &[ConnectionRecord]) -> io::Result<()> {
    let mut w = ConnectionsCsv::new(out)?;
    for r in records {
        w.write(r)?;
    }
    w.finish()
}

/// Writes connection records as CSV one at a time (header first), for streaming output.
pub struct ConnectionsCsv<'w> {
    w: csv::Writer<&'w mut dyn Write>,
}

impl<'w> ConnectionsCsv<'w> {
    /// Starts the CSV with its header row.
    pub fn new(out: &'w mut dyn Write) -> io::Result<Self> {
        let mut me = Self::rows(out);
        me.w.write_record(CONNECTION_CSV_COLUMNS)?;
        Ok(me)
    }

    /// Continues a CSV whose header is already written (rows of a run rendered apart).
    pub fn rows(out: &'w mut dyn Write) -> Self {
        ConnectionsCsv {
            w: csv::Writer::from_writer(out),
        }
    }

    /// Writes one record's row.
    pub fn write(&mut self, r: &ConnectionRecord) -> io::Result<()> {
        let leaf = r.server_chain.as_ref().and_then(|c| c.first());
        let json_enum = |v: &dyn erased::ToJsonStr| v.to_json_str();
        let row: Vec<String> = vec![
            r.file.clone(),
            r.index.to_string(),
            r.first_packet.to_string(),
            r.start.rfc3339_checked().unwrap_or_default(),
            r.duration_s.to_string(),
            r.client.to_string(),
            r.server.to_string(),
            r.sni.clone().unwrap_or_default(),
            r.alpn_offered.join(";"),
            r.alpn.clone().unwrap_or_default(),
            r.versions_offered
                .iter()
                .map(|v| v.name())
                .collect::<Vec<_>>()
                .join(";"),
            r.version.map(|v| v.name().into_owned()).unwrap_or_default(),
            r.cipher.map(|c| c.name().into_owned()).unwrap_or_default(),
            r.resumed.to_string(),
            r.hello_retry.to_string(),
            opt_bool(r.cert_requested),
            opt_bool(r.client_cert_sent),
            r.server_chain
                .as_ref()
                .map(|c| c.len().to_string())
                .unwrap_or_default(),
            leaf.map(|c| c.subject.clone()).unwrap_or_default(),
            leaf.map(|c| c.issuer.clone()).unwrap_or_default(),
            leaf.map(|c| c.not_after.clone()).unwrap_or_default(),
            leaf.map(|c| c.sha256.clone()).unwrap_or_default(),
            r.client_chain
                .as_ref()
                .map(|c| c.len().to_string())
                .unwrap_or_default(),
            r.ocsp_stapled.to_string(),
            alerts_cell(r).replace('\n', ";"),
            r.tcp.syn.to_string(),
            r.tcp.syn_ack.to_string(),
            r.tcp.established.to_string(),
            r.tcp.client_bytes.to_string(),
            r.tcp.server_bytes.to_string(),
            r.tcp.closed_by.map(|s| json_enum(&s)).unwrap_or_default(),
            r.tcp.close.map(|s| json_enum(&s)).unwrap_or_default(),
            r.tcp.gaps.to_string(),
            r.ja3.clone().unwrap_or_default(),
            r.ja4.clone().unwrap_or_default(),
            r.status.to_string(),
            r.findings
                .iter()
                .map(|f| f.kind.id())
                .collect::<Vec<_>>()
                .join(";"),
        ];
        self.w.write_record(&row)?;
        Ok(())
    }

    /// Flushes the rows.
    pub fn finish(mut self) -> io::Result<()> {
        self.w.flush()
    }
}

mod erased {
    /// Serialises a unit enum to its JSON string form without quotes.
    pub trait ToJsonStr {
        fn to_json_str(&self) -> String;
    }
    impl<T: serde::Serialize> ToJsonStr for T {
        fn to_json_str(&self) -> String {
            serde_json::to_value(self)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        }
    }
}

/// One finding with the connection it belongs to (the `findings` view).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct FindingRow<'a> {
    /// Always `"finding"`.
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// Capture file.
    pub file: &'a str,
    /// Connection index.
    pub index: u64,
    /// Client `ip:port`.
    pub client: std::net::SocketAddr,
    /// Server `ip:port`.
    pub server: std::net::SocketAddr,
    /// SNI of the connection.
    pub sni: Option<&'a str>,
    /// The finding.
    #[serde(flatten)]
    pub finding: &'a crate::findings::Finding,
}

/// One record's findings as rows, in the record's order.
pub fn record_finding_rows(r: &ConnectionRecord) -> impl Iterator<Item = FindingRow<'_>> {
    r.findings.iter().map(move |f| FindingRow {
        record_type: "finding",
        file: &r.file,
        index: r.index,
        client: r.client,
        server: r.server,
        sni: r.sni.as_deref(),
        finding: f,
    })
}

/// Findings of all records, worst first, otherwise in the records' order (the output pass
/// gives them by file and connection, or in `--sort` order).
pub fn finding_rows(records: &[ConnectionRecord]) -> Vec<FindingRow<'_>> {
    let mut rows: Vec<FindingRow<'_>> = records.iter().flat_map(record_finding_rows).collect();
    // Stable: rows of one severity keep the records' order.
    rows.sort_by_key(|r| std::cmp::Reverse(r.finding.severity));
    rows
}

/// Writes the `findings` view.
pub fn write_findings(
    out: &mut dyn Write,
    format: Format,
    style: TableStyle,
    records: &[ConnectionRecord],
) -> io::Result<()> {
    let rows = finding_rows(records);
    match format {
        Format::Json => write_json_lines(out, &rows),
        Format::Csv => {
            let mut w = FindingsCsv::new(out)?;
            for r in &rows {
                w.write(r)?;
            }
            w.finish()
        }
        Format::Table => {
            let mut t = new_table(style);
            t.set_header(vec!["Severity", "Finding", "Connection", "Message"]);
            let widest = rows
                .iter()
                .map(|r| widest_line(r.finding.kind.id()))
                .max()
                .unwrap_or(0);
            keep_whole(&mut t, 1, widest);
            for r in &rows {
                let mut sev = Cell::new(r.finding.severity.as_str());
                if style.color {
                    sev = sev.fg(severity_color(r.finding.severity));
                }
                let file = std::path::Path::new(r.file)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| r.file.to_string());
                t.add_row(vec![
                    sev,
                    Cell::new(r.finding.kind.id()),
                    Cell::new(format!("{file} #{}\n{} → {}", r.index, r.client, r.server)),
                    Cell::new(&r.finding.message),
                ]);
            }
            writeln!(out, "{t}")
        }
    }
}

/// Writes `findings` view rows as CSV one at a time (header first), for streaming output.
pub struct FindingsCsv<'w> {
    w: csv::Writer<&'w mut dyn Write>,
}

impl<'w> FindingsCsv<'w> {
    /// Starts the CSV with its header row.
    pub fn new(out: &'w mut dyn Write) -> io::Result<Self> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "severity",
            "id",
            "file",
            "index",
            "client",
            "server",
            "sni",
            "message",
            "evidence",
            "remediation",
        ])?;
        Ok(FindingsCsv { w })
    }

    /// Rows without a header (more rows of a CSV already started).
    pub fn rows(out: &'w mut dyn Write) -> Self {
        FindingsCsv {
            w: csv::Writer::from_writer(out),
        }
    }

    /// Writes one row.
    pub fn write(&mut self, r: &FindingRow<'_>) -> io::Result<()> {
        self.w.write_record([
            r.finding.severity.as_str(),
            r.finding.kind.id(),
            r.file,
            &r.index.to_string(),
            &r.client.to_string(),
            &r.server.to_string(),
            r.sni.unwrap_or(""),
            &r.finding.message,
            &r.finding.evidence,
            &r.finding.remediation,
        ])?;
        Ok(())
    }

    /// Flushes the rows.
    pub fn finish(mut self) -> io::Result<()> {
        self.w.flush()
    }
}
