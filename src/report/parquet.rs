//! Parquet output (`--format parquet -o DIR_OR_FILE`): each record type as a typed table.
//!
//! The rows are the JSON contract itself: every row is serialised by serde exactly as the
//! JSON printer writes it, then arrow-json decodes the lines into columns of the declared
//! schema (timestamps as timestamps, nested chains, alerts and HTTP exchanges as lists of
//! structs). Field names therefore come from the serde records only; the schema here gives
//! their types, and `tests/parquet.rs` checks every JSON field against it on real captures.
//! Besides the JSON fields, address columns (`client`, `server`) are split into `*_ip`
//! strings and `*_port` integers for SQL.

use super::printer::{Pass, Printer, RunEnd, View};
use super::views::{ServerAgg, SummaryAgg};
use crate::record::ConnectionRecord;
use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use arrow_json::reader::{Decoder, ReaderBuilder};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows decoded and written at a time: bounds the JSON text held before decoding.
const BATCH_ROWS: usize = 4096;

/// Rows per Parquet row group: the writer holds a whole row group's encoded columns in
/// memory, so this bounds memory on large runs while keeping groups large enough to scan well.
const ROW_GROUP_ROWS: usize = 65_536;

/// A table of the output, by the name of its file in an output directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// `connections.parquet`: one row per connection record.
    Connections,
    /// `findings.parquet`: one row per finding, with its connection's file, index and addresses.
    Findings,
    /// `servers.parquet`: one row per server (ip:port + SNI).
    Servers,
    /// `summary.parquet`: one row of totals.
    Summary,
    /// `files.parquet`: one row per capture file.
    Files,
    /// `errors.parquet`: one row per input that could not be (fully) read.
    Errors,
    /// `skipped.parquet`: one row per file of a walked directory that is not a capture.
    Skipped,
}

impl TableKind {
    /// Every table, in the order an output directory lists them.
    pub const ALL: [TableKind; 7] = [
        TableKind::Connections,
        TableKind::Findings,
        TableKind::Servers,
        TableKind::Summary,
        TableKind::Files,
        TableKind::Errors,
        TableKind::Skipped,
    ];

    /// The table's name (its file is `NAME.parquet`).
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Connections => "connections",
            TableKind::Findings => "findings",
            TableKind::Servers => "servers",
            TableKind::Summary => "summary",
            TableKind::Files => "files",
            TableKind::Errors => "errors",
            TableKind::Skipped => "skipped",
        }
    }

    /// The table a `--view` writes to a single `.parquet` file.
    fn of_view(view: View) -> TableKind {
        match view {
            View::Connections => TableKind::Connections,
            View::Findings => TableKind::Findings,
            View::Servers => TableKind::Servers,
            View::Summary => TableKind::Summary,
            View::Files => TableKind::Files,
        }
    }

    /// The JSON fields' types (in the JSON records' field order).
    fn json_fields(self) -> Vec<Field> {
        match self {
            TableKind::Connections => connection_fields(),
            TableKind::Findings => {
                let mut f = vec![
                    req("type", utf8()),
                    req("file", utf8()),
                    req("index", i64()),
                    req("client", utf8()),
                    req("server", utf8()),
                    opt("sni", utf8()),
                ];
                f.extend(finding_fields());
                f
            }
            TableKind::Servers => vec![
                req("type", utf8()),
                req("server", utf8()),
                opt("sni", utf8()),
                req("connections", i64()),
                req("versions", counts()),
                req("ciphers", counts()),
                req("chain", utf8()),
                req("cert_requested", i64()),
                req("client_cert_sent", i64()),
                req("findings", counts()),
                req("errors", i64()),
            ],
            TableKind::Summary => vec![
                req("type", utf8()),
                req("files", i64()),
                req("errors", i64()),
                req("packets", i64()),
                req("bytes", i64()),
                req("connections", i64()),
                req("tls_connections", i64()),
                req("versions", counts()),
                req("statuses", counts()),
                req("findings", counts()),
                req("severities", counts()),
                opt("decryption", counts()),
                req(
                    "top_failing_servers",
                    list(strukt(vec![
                        req("server", utf8()),
                        opt("sni", utf8()),
                        req("errors", i64()),
                        req("connections", i64()),
                    ])),
                ),
            ],
            TableKind::Files => vec![
                req("type", utf8()),
                req("file", utf8()),
                req("packets", i64()),
                req("bytes", i64()),
                opt("first", timestamp()),
                opt("last", timestamp()),
                req("span_s", DataType::Float64),
                req("link_types", list(utf8())),
                req("connections", i64()),
                req("tcp_connections", i64()),
                req("findings", i64()),
                req("warnings", i64()),
                opt("error", utf8()),
            ],
            TableKind::Errors | TableKind::Skipped => vec![
                req("type", utf8()),
                req("file", utf8()),
                req("reason", utf8()),
            ],
        }
    }

    /// The `ip:port` columns split into `NAME_ip` and `NAME_port` columns.
    fn address_columns(self) -> &'static [&'static str] {
        match self {
            TableKind::Connections | TableKind::Findings => &["client", "server"],
            TableKind::Servers => &["server"],
            _ => &[],
        }
    }

    /// The table's full schema: the JSON fields, then the split address columns.
    pub fn schema(self) -> Schema {
        let mut fields = self.json_fields();
        for name in self.address_columns() {
            fields.push(opt(&format!("{name}_ip"), utf8()));
            fields.push(opt(&format!("{name}_port"), DataType::Int32));
        }
        Schema::new(fields)
    }
}

fn utf8() -> DataType {
    DataType::Utf8
}

/// Counts and packet numbers: Int64 rather than unsigned, which Spark and Athena lack.
fn i64() -> DataType {
    DataType::Int64
}

/// UTC timestamps with microseconds, the precision of the JSON text (and what Spark reads).
fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
}

fn list(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

fn strukt(fields: Vec<Field>) -> DataType {
    DataType::Struct(Fields::from(fields))
}

/// `{"name": count}` objects as a map column.
fn counts() -> DataType {
    map(i64())
}

fn map(value: DataType) -> DataType {
    let entries = Field::new(
        "entries",
        strukt(vec![
            Field::new("key", utf8(), false),
            Field::new("value", value, true),
        ]),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// A field every record has (never null).
fn req(name: &str, t: DataType) -> Field {
    Field::new(name, t, false)
}

/// A field that may be null or absent.
fn opt(name: &str, t: DataType) -> Field {
    Field::new(name, t, true)
}

fn cert() -> DataType {
    strukt(vec![
        req("subject", utf8()),
        req("issuer", utf8()),
        req("san_dns", list(utf8())),
        req("san_ip", list(utf8())),
        opt("not_before", timestamp()),
        opt("not_after", timestamp()),
        req("serial", utf8()),
        req("sha256", utf8()),
        req("key", utf8()),
        req("signature", utf8()),
        req("self_signed", DataType::Boolean),
        req("is_ca", DataType::Boolean),
        opt("common_name", utf8()),
        req("key_bits", i64()),
    ])
}

fn finding_fields() -> Vec<Field> {
    vec![
        req("id", utf8()),
        req("severity", utf8()),
        req("message", utf8()),
        req("evidence", utf8()),
        req("remediation", utf8()),
        req("observed", DataType::Boolean),
        opt("follows", utf8()),
    ]
}

fn connection_fields() -> Vec<Field> {
    use DataType::{Boolean, Float64, Int32};
    vec![
        req("type", utf8()),
        req("file", utf8()),
        req("index", i64()),
        req("first_packet", i64()),
        opt("start", timestamp()),
        req("duration_s", Float64),
        req("client", utf8()),
        req("server", utf8()),
        opt("carrier", utf8()),
        opt("proxy_kind", utf8()),
        opt("proxy", utf8()),
        opt("target", utf8()),
        opt("original_client", utf8()),
        opt("sni", utf8()),
        req("alpn_offered", list(utf8())),
        opt("alpn", utf8()),
        req("versions_offered", list(utf8())),
        opt("version", utf8()),
        opt("cipher", utf8()),
        req("resumed", Boolean),
        req("hello_retry", Boolean),
        opt("cert_requested", Boolean),
        opt("client_cert_sent", Boolean),
        opt("server_chain", list(cert())),
        opt("client_chain", list(cert())),
        req("ocsp_stapled", Boolean),
        req(
            "alerts",
            list(strukt(vec![
                req("from", utf8()),
                opt("level", utf8()),
                opt("description", utf8()),
                req("encrypted", Boolean),
                req("packet", i64()),
            ])),
        ),
        req(
            "tcp",
            strukt(vec![
                req("syn", i64()),
                req("syn_ack", Boolean),
                req("established", Boolean),
                req("client_bytes", i64()),
                req("server_bytes", i64()),
                opt("closed_by", utf8()),
                opt("close", utf8()),
                req("gaps", i64()),
                req("packets", i64()),
                req("retransmissions", i64()),
                req("midstream", Boolean),
                opt("out_of_order", i64()),
                opt(
                    "mss",
                    strukt(vec![opt("client", i64()), opt("server", i64())]),
                ),
            ]),
        ),
        opt("ja3", utf8()),
        opt("ja4", utf8()),
        opt("chain_status", utf8()),
        req("status", utf8()),
        req("outcome", utf8()),
        opt("failed_at", utf8()),
        opt("cause", utf8()),
        req("findings", list(strukt(finding_fields()))),
        opt(
            "decryption",
            strukt(vec![
                req("status", utf8()),
                opt("reason", utf8()),
                opt("key_source", utf8()),
            ]),
        ),
        opt(
            "http",
            list(strukt(vec![
                req("version", utf8()),
                opt("method", utf8()),
                opt("path", utf8()),
                opt("host", utf8()),
                opt("status", Int32),
                req("auth", utf8()),
                opt("request_packet", i64()),
                opt("response_packet", i64()),
                opt(
                    "hmac",
                    strukt(vec![
                        req("location", utf8()),
                        req("name", utf8()),
                        req("scheme", utf8()),
                        opt("algorithm", utf8()),
                        opt("encoding", utf8()),
                        opt("signature_bytes", i64()),
                        opt("key_id_name", utf8()),
                        opt("key_id_location", utf8()),
                        opt("timestamp_name", utf8()),
                        opt("timestamp_skew_s", i64()),
                        opt("verification", utf8()),
                    ]),
                ),
            ])),
        ),
        opt("transport", utf8()),
        opt(
            "quic",
            strukt(vec![
                req("version", utf8()),
                req("version_negotiation", list(utf8())),
                opt("restarted_from", utf8()),
                opt("retry_packet", i64()),
                req("original_dcid", utf8()),
                req("client_scid", utf8()),
                opt("server_scid", utf8()),
                req("client_initials", i64()),
                req("client_initial_retransmissions", i64()),
                req("server_packets", i64()),
                req("undecryptable", i64()),
                req("transport_parameters", map(utf8())),
                opt(
                    "close",
                    strukt(vec![
                        req("from", utf8()),
                        req("code", utf8()),
                        req("application", Boolean),
                        req("reason", utf8()),
                        req("packet", i64()),
                    ]),
                ),
                opt("tcp_fallback_packet", i64()),
            ]),
        ),
        opt(
            "dtls",
            strukt(vec![
                req("record_version", utf8()),
                opt("hello_verify_request_packet", i64()),
                opt("cookie_echo_packet", i64()),
                req("client_retransmissions", i64()),
                req("server_retransmissions", i64()),
                req("server_datagrams", i64()),
                req("protected_records", list(i64())),
                req("unified_records", list(i64())),
                req("cid_records", list(i64())),
                req("decrypted_records", list(i64())),
                req("unread_records", list(i64())),
                req("other_datagrams", i64()),
                req("dropped_messages", i64()),
                opt("server_client_hello_packet", i64()),
            ]),
        ),
        opt(
            "icmp",
            list(strukt(vec![
                req("packet", i64()),
                req("time_s", DataType::Float64),
                req("from", utf8()),
                req("sent_by", utf8()),
                req("kind", utf8()),
                opt("mtu", i64()),
            ])),
        ),
    ]
}

/// Why Parquet output failed, naming the table's file.
#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    /// The output directory or a table's file could not be created.
    #[error("{path}: cannot create output: {source}")]
    Create {
        /// The path.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// Rows could not be converted to columns, or the file not written.
    #[error("{path}: {source}")]
    Write {
        /// The table's file.
        path: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl From<ParquetError> for io::Error {
    fn from(e: ParquetError) -> io::Error {
        io::Error::other(e)
    }
}

/// One table being written: rows wait as JSON lines, then are decoded and written a batch at
/// a time.
struct Table {
    kind: TableKind,
    path: PathBuf,
    schema: SchemaRef,
    decoder: Decoder,
    writer: ArrowWriter<File>,
    lines: Vec<u8>,
    rows: usize,
}

impl Table {
    fn create(kind: TableKind, path: PathBuf) -> Result<Table, ParquetError> {
        let schema = Arc::new(kind.schema());
        let json_schema = Arc::new(Schema::new(kind.json_fields()));
        let write_err =
            |path: &Path, e: Box<dyn std::error::Error + Send + Sync>| ParquetError::Write {
                path: path.display().to_string(),
                source: e,
            };
        // Strict mode off: a JSON field added later must not break a run before the schema
        // lists it (the round-trip test catches a missing column).
        let decoder = ReaderBuilder::new(json_schema)
            .with_batch_size(BATCH_ROWS)
            .with_strict_mode(false)
            .build_decoder()
            .map_err(|e| write_err(&path, e.into()))?;
        let file = File::create(&path).map_err(|source| ParquetError::Create {
            path: path.display().to_string(),
            source,
        })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_size(ROW_GROUP_ROWS)
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| write_err(&path, e.into()))?;
        Ok(Table {
            kind,
            path,
            schema,
            decoder,
            writer,
            lines: Vec::new(),
            rows: 0,
        })
    }

    fn error(&self, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ParquetError {
        ParquetError::Write {
            path: self.path.display().to_string(),
            source: e.into(),
        }
    }

    /// Adds rows (serialised as the JSON printer does).
    fn push<T: serde::Serialize>(&mut self, rows: &[T]) -> Result<(), ParquetError> {
        super::json_lines(&mut self.lines, rows).map_err(|e| self.error(e))?;
        self.rows += rows.len();
        if self.rows >= BATCH_ROWS {
            self.write_lines()?;
        }
        Ok(())
    }

    /// Decodes the waiting lines and writes them.
    fn write_lines(&mut self) -> Result<(), ParquetError> {
        let lines = std::mem::take(&mut self.lines);
        let mut rest = &lines[..];
        while !rest.is_empty() {
            let used = self.decoder.decode(rest).map_err(|e| self.error(e))?;
            rest = &rest[used..];
            let batch = self.decoder.flush().map_err(|e| self.error(e))?;
            match batch {
                Some(batch) => self.write_batch(batch)?,
                // Nothing decoded and nothing buffered: the rest is not a JSON row.
                None if used == 0 => return Err(self.error("a row did not decode")),
                None => {}
            }
        }
        self.rows = 0;
        self.lines = lines;
        self.lines.clear();
        Ok(())
    }

    /// Adds the split address columns and writes the batch.
    fn write_batch(&mut self, batch: RecordBatch) -> Result<(), ParquetError> {
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for name in self.kind.address_columns() {
            let (ips, ports) = split_addresses(&batch, name);
            columns.push(Arc::new(ips));
            columns.push(Arc::new(ports));
        }
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e: ArrowError| self.error(e))?;
        self.writer.write(&batch).map_err(|e| self.error(e))
    }

    fn finish(mut self) -> Result<(), ParquetError> {
        self.write_lines()?;
        let path = self.path.display().to_string();
        self.writer
            .close()
            .map(drop)
            .map_err(|e| ParquetError::Write {
                path,
                source: e.into(),
            })
    }
}

/// `NAME_ip` and `NAME_port` of an `ip:port` (`[v6]:port`) column; null where it is not one.
fn split_addresses(batch: &RecordBatch, name: &str) -> (StringArray, Int32Array) {
    let column = batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>());
    let addrs: Vec<Option<SocketAddr>> = match column {
        Some(c) => c.iter().map(|v| v.and_then(|s| s.parse().ok())).collect(),
        None => vec![None; batch.num_rows()],
    };
    let ips: StringArray = addrs
        .iter()
        .map(|a| a.map(|a| a.ip().to_string()))
        .collect();
    let ports: Int32Array = addrs
        .iter()
        .map(|a| a.map(|a| i32::from(a.port())))
        .collect();
    (ips, ports)
}

/// A certificate time that is not a time: tlscap writes `""` for a certificate it could not
/// read and `@SECONDS` for one outside the years RFC 3339 can write.
fn unreadable_time(t: &str) -> bool {
    t.is_empty() || t.starts_with('@')
}

/// The record has a certificate whose `not_before` or `not_after` is [`unreadable_time`].
fn unreadable_cert_times(r: &ConnectionRecord) -> bool {
    [&r.server_chain, &r.client_chain]
        .into_iter()
        .flatten()
        .flat_map(|chain| chain.iter())
        .any(|c| unreadable_time(&c.not_before) || unreadable_time(&c.not_after))
}

/// Nulls the [`unreadable_time`]s of a connection row's chains (the Timestamp column cannot
/// hold them; the JSON keeps the text).
fn null_unreadable_cert_times(row: &mut serde_json::Value) {
    for chain in ["server_chain", "client_chain"] {
        let Some(certs) = row.get_mut(chain).and_then(|c| c.as_array_mut()) else {
            continue;
        };
        for cert in certs.iter_mut().filter_map(|c| c.as_object_mut()) {
            for field in ["not_before", "not_after"] {
                if let Some(v) = cert.get_mut(field) {
                    if v.as_str().is_some_and(unreadable_time) {
                        *v = serde_json::Value::Null;
                    }
                }
            }
        }
    }
}

/// The `skipped` records, as the JSON printer writes them.
#[derive(serde::Serialize)]
struct Skipped<'a> {
    #[serde(rename = "type")]
    record_type: &'static str,
    file: String,
    reason: &'a str,
}

/// Writes the tables of a run: every table into a directory, or one view's table into one
/// `.parquet` file.
pub struct ParquetPrinter {
    tables: Vec<Table>,
    servers: Option<ServerAgg>,
    summary: Option<SummaryAgg>,
}

/// Whether `-o PATH` names one Parquet file rather than a directory of tables.
pub fn is_single_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

impl ParquetPrinter {
    /// Creates the output: `PATH` ending in `.parquet` is one file with `view`'s table; any
    /// other `PATH` is a directory (created if missing) with one `NAME.parquet` per table.
    pub fn create(path: &Path, view: View) -> Result<ParquetPrinter, ParquetError> {
        let kinds: Vec<(TableKind, PathBuf)> = if is_single_file(path) {
            vec![(TableKind::of_view(view), path.to_path_buf())]
        } else {
            std::fs::create_dir_all(path).map_err(|source| ParquetError::Create {
                path: path.display().to_string(),
                source,
            })?;
            TableKind::ALL
                .iter()
                .map(|k| (*k, path.join(format!("{}.parquet", k.name()))))
                .collect()
        };
        let has = |k: TableKind| kinds.iter().any(|(t, _)| *t == k);
        Ok(ParquetPrinter {
            servers: has(TableKind::Servers).then(ServerAgg::default),
            summary: has(TableKind::Summary).then(SummaryAgg::default),
            tables: kinds
                .into_iter()
                .map(|(k, p)| Table::create(k, p))
                .collect::<Result<_, _>>()?,
        })
    }

    fn table(&mut self, kind: TableKind) -> Option<&mut Table> {
        self.tables.iter_mut().find(|t| t.kind == kind)
    }
}

impl Printer for ParquetPrinter {
    fn record(&mut self, _pass: Pass, r: ConnectionRecord) -> io::Result<()> {
        if let Some(t) = self.table(TableKind::Findings) {
            let rows: Vec<_> = super::record_finding_rows(&r).collect();
            t.push(&rows)?;
        }
        if let Some(agg) = &mut self.servers {
            agg.add(&r);
        }
        if let Some(agg) = &mut self.summary {
            agg.add(&r);
        }
        if let Some(t) = self.table(TableKind::Connections) {
            if unreadable_cert_times(&r) {
                let mut row = serde_json::to_value(&r).map_err(io::Error::other)?;
                null_unreadable_cert_times(&mut row);
                t.push(&[row])?;
            } else {
                t.push(std::slice::from_ref(&r))?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        if let Some(agg) = self.servers.take() {
            if let Some(t) = self.table(TableKind::Servers) {
                t.push(&agg.rows())?;
            }
        }
        if let Some(agg) = self.summary.take() {
            if let Some(t) = self.table(TableKind::Summary) {
                t.push(&[agg.finish(end.files, end.errors)])?;
            }
        }
        if let Some(t) = self.table(TableKind::Files) {
            t.push(end.files)?;
        }
        if let Some(t) = self.table(TableKind::Errors) {
            t.push(end.errors)?;
        }
        if let Some(t) = self.table(TableKind::Skipped) {
            let skipped: Vec<Skipped<'_>> = end
                .skipped
                .iter()
                .map(|(path, reason)| Skipped {
                    record_type: "skipped",
                    file: path.display().to_string(),
                    reason,
                })
                .collect();
            t.push(&skipped)?;
        }
        for t in std::mem::take(&mut self.tables) {
            t.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table's schema is valid Arrow (a map's entries, nested lists) and writable.
    #[test]
    fn every_table_schema_makes_an_empty_parquet_file() {
        let dir = tempfile::tempdir().unwrap();
        for kind in TableKind::ALL {
            let t = Table::create(kind, dir.path().join(kind.name())).unwrap();
            t.finish().unwrap();
            assert!(dir.path().join(kind.name()).metadata().unwrap().len() > 0);
        }
    }

    /// Addresses split as `SocketAddr` parses them; anything else is null (hand-built values).
    #[test]
    fn splits_v4_and_v6_addresses() {
        let schema = Arc::new(Schema::new(vec![opt("server", utf8())]));
        let col: StringArray = vec![
            Some("10.0.0.1:443"),
            Some("[2001:db8::1]:8443"),
            Some("x"),
            None,
        ]
        .into_iter()
        .collect();
        let batch = RecordBatch::try_new(schema, vec![Arc::new(col)]).unwrap();
        let (ips, ports) = split_addresses(&batch, "server");
        assert_eq!(
            ips.iter().collect::<Vec<_>>(),
            vec![Some("10.0.0.1"), Some("2001:db8::1"), None, None]
        );
        assert_eq!(
            ports.iter().collect::<Vec<_>>(),
            vec![Some(443), Some(8443), None, None]
        );
    }
}
