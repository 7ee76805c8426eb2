//! Batch views: per server, per file, and the whole-batch summary.

use super::{new_table, Format, TableStyle};
use crate::findings::Severity;
use crate::record::{ConnectionRecord, Version};
use comfy_table::Cell;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// An input that could not be (fully) read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct InputError {
    /// Always `"error"`.
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// The file (or directory) concerned.
    pub file: String,
    /// What went wrong, naming the byte offset or packet where relevant.
    pub reason: String,
}

impl InputError {
    /// An error record.
    pub fn new(file: impl Into<String>, reason: impl Into<String>) -> Self {
        InputError {
            record_type: "error",
            file: file.into(),
            reason: reason.into(),
        }
    }
}

/// One row of the `files` view.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FileRow {
    /// Always `"file"`.
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// The capture.
    pub file: String,
    /// Packets read.
    pub packets: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// First packet time (RFC 3339), if any.
    pub first: Option<String>,
    /// Last packet time.
    pub last: Option<String>,
    /// Seconds between first and last packet.
    pub span_s: f64,
    /// Link types seen.
    pub link_types: Vec<String>,
    /// Connections reported (after filters).
    pub connections: u64,
    /// TCP connections seen in all (reported or not).
    pub tcp_connections: u64,
    /// Findings on the reported connections.
    pub findings: u64,
    /// Warnings (unsupported link types, malformed packets).
    pub warnings: u64,
    /// The error that stopped reading, if any.
    pub error: Option<String>,
}

/// One row of the `servers` view: one server (ip:port + SNI).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ServerRow {
    /// Always `"server"`.
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// `ip:port`.
    pub server: String,
    /// SNI the clients used (null: none).
    pub sni: Option<String>,
    /// Connections.
    pub connections: u64,
    /// Negotiated versions with counts.
    pub versions: BTreeMap<String, u64>,
    /// Negotiated cipher suites with counts.
    pub ciphers: BTreeMap<String, u64>,
    /// Chain status: `ok`, `encrypted`, `none seen`, or the chain/certificate finding ids seen.
    pub chain: String,
    /// Connections on which the server sent a CertificateRequest.
    pub cert_requested: u64,
    /// Connections on which the client sent a certificate.
    pub client_cert_sent: u64,
    /// Findings by id with counts.
    pub findings: BTreeMap<String, u64>,
    /// Error-level findings.
    pub errors: u64,
}

/// A failing server in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FailingServer {
    /// `ip:port`.
    pub server: String,
    /// SNI.
    pub sni: Option<String>,
    /// Error-level findings.
    pub errors: u64,
    /// Connections.
    pub connections: u64,
}

/// The `summary` view: totals for the whole batch.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    /// Always `"summary"`.
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// Capture files analysed.
    pub files: u64,
    /// Inputs that could not be (fully) read.
    pub errors: u64,
    /// Packets read.
    pub packets: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// Connections reported (after filters).
    pub connections: u64,
    /// Connections with a TLS ServerHello.
    pub tls_connections: u64,
    /// Negotiated versions with counts.
    pub versions: BTreeMap<String, u64>,
    /// Status words with counts.
    pub statuses: BTreeMap<String, u64>,
    /// Findings per id.
    pub findings: BTreeMap<String, u64>,
    /// Findings per severity.
    pub severities: BTreeMap<String, u64>,
    /// Decryption outcomes with counts (`ok`, `no-key`, `failed`), when a key log applied.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub decryption: BTreeMap<String, u64>,
    /// Servers with the most error-level findings (at most 10).
    pub top_failing_servers: Vec<FailingServer>,
}

/// Builds the `servers` view (sorted by errors, then server, then SNI).
pub fn server_rows(records: &[ConnectionRecord]) -> Vec<ServerRow> {
    let mut agg = ServerAgg::default();
    records.iter().for_each(|r| agg.add(r));
    agg.rows()
}

/// The `servers` view built one record at a time (memory grows with servers, not records).
#[derive(Debug, Default)]
pub struct ServerAgg {
    map: BTreeMap<(String, Option<String>), ServerRow>,
}

impl ServerAgg {
    /// Counts one record.
    pub fn add(&mut self, r: &ConnectionRecord) {
        let row = self
            .map
            .entry((r.server.to_string(), r.sni.clone()))
            .or_insert_with(|| ServerRow {
                record_type: "server",
                server: r.server.to_string(),
                sni: r.sni.clone(),
                connections: 0,
                versions: BTreeMap::new(),
                ciphers: BTreeMap::new(),
                chain: String::new(),
                cert_requested: 0,
                client_cert_sent: 0,
                findings: BTreeMap::new(),
                errors: 0,
            });
        row.connections += 1;
        if let Some(v) = &r.version {
            *row.versions.entry(v.name().into_owned()).or_default() += 1;
        }
        if let Some(c) = &r.cipher {
            *row.ciphers.entry(c.name().into_owned()).or_default() += 1;
        }
        row.cert_requested += u64::from(r.cert_requested == Some(true));
        row.client_cert_sent += u64::from(r.client_cert_sent == Some(true));
        for f in &r.findings {
            *row.findings.entry(f.kind.id().to_string()).or_default() += 1;
            row.errors += u64::from(f.severity == Severity::Error);
        }
        let chain_state = if r.server_chain.is_some() {
            "seen"
        } else if r.version == Some(Version::TLS13) {
            "encrypted"
        } else {
            ""
        };
        if chain_state == "seen" || row.chain.is_empty() {
            row.chain = chain_state.to_string();
        }
    }

    /// The rows, sorted by errors, then server, then SNI.
    pub fn rows(self) -> Vec<ServerRow> {
        let mut rows: Vec<ServerRow> = self.map.into_values().collect();
        for row in &mut rows {
            let bad: Vec<&str> = crate::findings::CERTIFICATE_KINDS
                .iter()
                .map(|k| k.id())
                .filter(|id| row.findings.contains_key(*id))
                .collect();
            row.chain = if !bad.is_empty() {
                bad.join(", ")
            } else {
                match row.chain.as_str() {
                    "seen" => "ok".into(),
                    "encrypted" => "encrypted".into(),
                    _ => "none seen".into(),
                }
            };
        }
        rows.sort_by(|a, b| {
            b.errors
                .cmp(&a.errors)
                .then_with(|| a.server.cmp(&b.server))
                .then_with(|| a.sni.cmp(&b.sni))
        });
        rows
    }
}

/// Builds the `summary` view.
pub fn summary(files: &[FileRow], records: &[ConnectionRecord], errors: &[InputError]) -> Summary {
    let mut agg = SummaryAgg::default();
    records.iter().for_each(|r| agg.add(r));
    agg.finish(files, errors)
}

/// The `summary` view built one record at a time.
#[derive(Debug, Default)]
pub struct SummaryAgg {
    connections: u64,
    tls_connections: u64,
    versions: BTreeMap<String, u64>,
    statuses: BTreeMap<String, u64>,
    findings: BTreeMap<String, u64>,
    severities: BTreeMap<String, u64>,
    decryption: BTreeMap<String, u64>,
    servers: ServerAgg,
}

impl SummaryAgg {
    /// Counts one record.
    pub fn add(&mut self, r: &ConnectionRecord) {
        self.connections += 1;
        self.tls_connections += u64::from(r.version.is_some());
        if let Some(v) = &r.version {
            *self.versions.entry(v.name().into_owned()).or_default() += 1;
        }
        *self.statuses.entry(r.status.to_string()).or_default() += 1;
        if let Some(d) = &r.decryption {
            *self.decryption.entry(d.status.clone()).or_default() += 1;
        }
        for f in &r.findings {
            *self.findings.entry(f.kind.id().to_string()).or_default() += 1;
            *self
                .severities
                .entry(f.severity.as_str().to_string())
                .or_default() += 1;
        }
        self.servers.add(r);
    }

    /// The summary, with the per-file totals and input errors.
    pub fn finish(self, files: &[FileRow], errors: &[InputError]) -> Summary {
        Summary {
            record_type: "summary",
            files: files.len() as u64,
            errors: errors.len() as u64,
            packets: files.iter().map(|f| f.packets).sum(),
            bytes: files.iter().map(|f| f.bytes).sum(),
            connections: self.connections,
            tls_connections: self.tls_connections,
            versions: self.versions,
            statuses: self.statuses,
            findings: self.findings,
            severities: self.severities,
            decryption: self.decryption,
            top_failing_servers: self
                .servers
                .rows()
                .into_iter()
                .filter(|r| r.errors > 0)
                .take(10)
                .map(|r| FailingServer {
                    server: r.server,
                    sni: r.sni,
                    errors: r.errors,
                    connections: r.connections,
                })
                .collect(),
        }
    }
}

fn counts(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes the `servers` view.
pub fn write_servers(
    out: &mut dyn Write,
    format: Format,
    style: TableStyle,
    rows: &[ServerRow],
) -> io::Result<()> {
    match format {
        Format::Json => super::write_json_lines(out, rows),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "server",
                "sni",
                "connections",
                "versions",
                "ciphers",
                "chain",
                "cert_requested",
                "client_cert_sent",
                "findings",
                "errors",
            ])?;
            let semi = |m: &BTreeMap<String, u64>| counts(m).replace('\n', ";");
            for r in rows {
                w.write_record([
                    r.server.clone(),
                    r.sni.clone().unwrap_or_default(),
                    r.connections.to_string(),
                    semi(&r.versions),
                    semi(&r.ciphers),
                    r.chain.clone(),
                    r.cert_requested.to_string(),
                    r.client_cert_sent.to_string(),
                    semi(&r.findings),
                    r.errors.to_string(),
                ])?;
            }
            w.flush()
        }
        Format::Table => {
            // What is wrong first; below the compact width the versions and ciphers are left
            // to JSON and CSV, and below 100 columns the client-certificate counts too.
            let compact = style.compact();
            let client_cert = style.width.map_or(true, |w| w >= 100);
            let mut t = new_table(style);
            let mut header = vec!["SNI\n→ Server", "Conns", "Findings", "Chain"];
            if client_cert {
                header.push("Client cert\nasked / sent");
            }
            if !compact {
                header.extend(["Versions", "Ciphers"]);
            }
            t.set_header(header);
            let (mut widest_server, mut widest_findings) = (0, super::widest_line("Findings"));
            for r in rows {
                let server = format!("{}\n→ {}", r.sni.as_deref().unwrap_or("(no SNI)"), r.server);
                let findings = counts(&r.findings);
                widest_server = widest_server.max(super::widest_line(&server));
                widest_findings = widest_findings.max(super::widest_line(&findings));
                let mut row = vec![
                    Cell::new(server),
                    Cell::new(r.connections),
                    Cell::new(findings),
                    Cell::new(&r.chain),
                ];
                if client_cert {
                    row.push(Cell::new(format!(
                        "{} / {}",
                        r.cert_requested, r.client_cert_sent
                    )));
                }
                if !compact {
                    row.extend([
                        Cell::new(counts(&r.versions)),
                        Cell::new(counts(&r.ciphers)),
                    ]);
                }
                t.add_row(row);
            }
            super::keep_whole(&mut t, 0, widest_server.min(super::SERVER_KEPT_WHOLE));
            super::keep_whole(&mut t, 2, widest_findings);
            writeln!(out, "{t}")
        }
    }
}

/// Writes the `files` view.
pub fn write_files(
    out: &mut dyn Write,
    format: Format,
    style: TableStyle,
    rows: &[FileRow],
) -> io::Result<()> {
    match format {
        Format::Json => super::write_json_lines(out, rows),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "file",
                "packets",
                "bytes",
                "first",
                "last",
                "span_s",
                "link_types",
                "connections",
                "tcp_connections",
                "findings",
                "warnings",
                "error",
            ])?;
            for r in rows {
                w.write_record([
                    r.file.clone(),
                    r.packets.to_string(),
                    r.bytes.to_string(),
                    r.first.clone().unwrap_or_default(),
                    r.last.clone().unwrap_or_default(),
                    r.span_s.to_string(),
                    r.link_types.join(";"),
                    r.connections.to_string(),
                    r.tcp_connections.to_string(),
                    r.findings.to_string(),
                    r.warnings.to_string(),
                    r.error.clone().unwrap_or_default(),
                ])?;
            }
            w.flush()
        }
        Format::Table => {
            let mut t = new_table(style);
            t.set_header(vec![
                "File",
                "Packets",
                "Bytes",
                "Span",
                "Link types",
                "Conns",
                "Findings",
                "Error",
            ]);
            for r in rows {
                t.add_row(vec![
                    Cell::new(&r.file),
                    Cell::new(r.packets),
                    Cell::new(r.bytes),
                    Cell::new(format!("{:.3} s", r.span_s)),
                    Cell::new(r.link_types.join(", ")),
                    Cell::new(format!("{} of {}", r.connections, r.tcp_connections)),
                    Cell::new(r.findings),
                    Cell::new(r.error.as_deref().unwrap_or("")),
                ]);
            }
            writeln!(out, "{t}")
        }
    }
}

/// Writes the `summary` view.
pub fn write_summary(
    out: &mut dyn Write,
    format: Format,
    style: TableStyle,
    s: &Summary,
) -> io::Result<()> {
    match format {
        Format::Json => super::write_json_lines(out, std::slice::from_ref(s)),
        Format::Csv => {
            // Long form: one (metric, key, value) row per number, so nested counts fit CSV.
            let mut w = csv::Writer::from_writer(out);
            w.write_record(["metric", "key", "value"])?;
            for (m, v) in [
                ("files", s.files),
                ("errors", s.errors),
                ("packets", s.packets),
                ("bytes", s.bytes),
                ("connections", s.connections),
                ("tls_connections", s.tls_connections),
            ] {
                w.write_record([m, "", &v.to_string()])?;
            }
            for (m, map) in [
                ("version", &s.versions),
                ("status", &s.statuses),
                ("finding", &s.findings),
                ("severity", &s.severities),
                ("decryption", &s.decryption),
            ] {
                for (k, v) in map {
                    w.write_record([m, k, &v.to_string()])?;
                }
            }
            for f in &s.top_failing_servers {
                let key = format!("{} {}", f.server, f.sni.as_deref().unwrap_or("(none)"));
                w.write_record(["failing_server_errors", &key, &f.errors.to_string()])?;
            }
            w.flush()
        }
        Format::Table => {
            let mut t = new_table(style);
            t.set_header(vec!["", ""]);
            t.add_row(vec![
                Cell::new("Files"),
                Cell::new(format!("{} ({} with errors)", s.files, s.errors)),
            ]);
            t.add_row(vec![
                Cell::new("Packets"),
                Cell::new(format!("{} ({} bytes)", s.packets, s.bytes)),
            ]);
            t.add_row(vec![
                Cell::new("Connections"),
                Cell::new(format!(
                    "{} ({} with a TLS handshake)",
                    s.connections, s.tls_connections
                )),
            ]);
            t.add_row(vec![
                Cell::new("TLS versions"),
                Cell::new(counts(&s.versions)),
            ]);
            t.add_row(vec![Cell::new("Status"), Cell::new(counts(&s.statuses))]);
            t.add_row(vec![Cell::new("Findings"), Cell::new(counts(&s.findings))]);
            t.add_row(vec![
                Cell::new("By severity"),
                Cell::new(counts(&s.severities)),
            ]);
            if !s.decryption.is_empty() {
                t.add_row(vec![
                    Cell::new("Decryption"),
                    Cell::new(counts(&s.decryption)),
                ]);
            }
            let top = s
                .top_failing_servers
                .iter()
                .map(|f| {
                    format!(
                        "{} {} — {} errors in {} connections",
                        f.server,
                        f.sni.as_deref().unwrap_or("(no SNI)"),
                        f.errors,
                        f.connections
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            t.add_row(vec![Cell::new("Top failing servers"), Cell::new(top)]);
            writeln!(out, "{t}")
        }
    }
}
