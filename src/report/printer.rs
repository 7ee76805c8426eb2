//! Printers: every view in every format is a [`Printer`]. The output pass hands a printer typed
//! records (filtered, in output order) and the end of the run; only printers make text.

use super::views::{self, FileRow, InputError};
use super::{Format, TableStyle};
use crate::findings::Severity;
use crate::record::ConnectionRecord;
use std::io::{self, Write};
use std::path::PathBuf;

/// What to list (`--view`; the variants' docs are its help).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    /// One row per connection.
    Connections,
    /// One row per finding, worst first.
    Findings,
    /// One row per server (ip:port + SNI).
    Servers,
    /// Totals for the whole batch.
    Summary,
    /// One row per capture file.
    Files,
}

/// One pass of the output over the batch's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Every record.
    All,
    /// The records with findings of this severity (findings views list worst first).
    Severity(Severity),
}

/// The findings views' passes, worst first.
const BY_SEVERITY: &[Pass] = &[
    Pass::Severity(Severity::Error),
    Pass::Severity(Severity::Warning),
    Pass::Severity(Severity::Info),
];

/// Writes a run of records into a buffer; may run on worker threads.
pub type RenderRun = dyn Fn(&[ConnectionRecord], &mut Vec<u8>) -> io::Result<()> + Sync;

/// What the end of a run adds to every view.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd<'a> {
    /// One row per capture, with the counts the output pass made.
    pub files: &'a [FileRow],
    /// Inputs that could not be read (whole or in part).
    pub errors: &'a [InputError],
    /// Files in walked directories that are not captures.
    pub skipped: &'a [(PathBuf, String)],
    /// Connections the analysis reported, before the filters.
    pub analysed: u64,
}

/// What a table says instead of an empty table: why nothing is listed. None when the inputs
/// could not be read at all (their errors, on stderr, say it).
pub fn nothing_shown(findings_view: bool, end: &RunEnd<'_>) -> Option<String> {
    let sum = |f: fn(&FileRow) -> u64| end.files.iter().map(f).sum::<u64>();
    let (packets, tcp, shown) = (
        sum(|f| f.packets),
        sum(|f| f.tcp_connections),
        sum(|f| f.connections),
    );
    if packets == 0 && !end.errors.is_empty() {
        return None;
    }
    let plural = |n: u64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    Some(if end.analysed == 0 && tcp > 0 {
        format!(
            "no TLS connections ({}: `--all` shows them)",
            plural(tcp, "plain TCP connection")
        )
    } else if end.analysed == 0 {
        format!(
            "no TLS connections (no TCP connections in {})",
            plural(packets, "packet")
        )
    } else if shown == 0 {
        format!(
            "no connection matches the filters ({} without them)",
            plural(end.analysed, "connection")
        )
    } else if findings_view {
        format!("no findings on {}", plural(shown, "connection"))
    } else {
        // Every kept connection makes a row: a listing with rows is never empty.
        return None;
    })
}

/// A view in a format.
pub trait Printer {
    /// The passes over the records it needs, in order.
    fn passes(&self) -> &'static [Pass] {
        &[Pass::All]
    }

    /// Files in name order rather than path order (findings views sort by file name).
    fn by_file_name(&self) -> bool {
        false
    }

    /// Renders runs of records on worker threads; their bytes then reach [`Printer::rendered`]
    /// in order instead of the records reaching [`Printer::record`].
    fn renderer(&self) -> Option<&'static RenderRun> {
        None
    }

    /// One record of a pass.
    fn record(&mut self, pass: Pass, r: ConnectionRecord) -> io::Result<()>;

    /// A run rendered by [`Printer::renderer`].
    fn rendered(&mut self, _bytes: &[u8]) -> io::Result<()> {
        Ok(())
    }

    /// The end of the run.
    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()>;
}

/// The printer of `view` in `format`.
pub fn printer<'w>(
    view: View,
    format: Format,
    style: TableStyle,
    out: &'w mut dyn Write,
) -> io::Result<Box<dyn Printer + 'w>> {
    let out = Out { out, format };
    Ok(match (view, format) {
        (View::Connections, Format::Json) => Box::new(ConnectionLines {
            out,
            render: &|rs, buf| super::json_lines(buf, rs),
        }),
        (View::Connections, Format::Csv) => {
            super::ConnectionsCsv::new(&mut *out.out)?.finish()?;
            Box::new(ConnectionLines {
                out,
                render: &|rs, buf| {
                    let mut w = super::ConnectionsCsv::rows(buf);
                    for r in rs {
                        w.write(r)?;
                    }
                    w.finish()
                },
            })
        }
        (View::Connections, Format::Table) => Box::new(Tables {
            out,
            style,
            pages: TablePages::default(),
            findings: false,
        }),
        (View::Findings, Format::Table) => Box::new(Tables {
            out,
            style,
            pages: TablePages::default(),
            findings: true,
        }),
        (View::Findings, _) => {
            let csv = format == Format::Csv;
            if csv {
                super::FindingsCsv::new(&mut *out.out)?.finish()?;
            }
            Box::new(FindingRows { out, csv })
        }
        (View::Servers, _) => Box::new(Servers {
            out,
            style,
            agg: views::ServerAgg::default(),
        }),
        (View::Summary, _) => Box::new(Summary {
            out,
            style,
            agg: views::SummaryAgg::default(),
        }),
        (View::Files, _) => Box::new(Files { out, style }),
    })
}

/// The output and its format, and what every view writes at its end in JSON: one `error`
/// record per input problem and one `skipped` record per file that is not a capture.
struct Out<'w> {
    out: &'w mut dyn Write,
    format: Format,
}

impl Out<'_> {
    fn end(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        if self.format != Format::Json {
            return Ok(());
        }
        super::write_json_lines(self.out, end.errors)?;
        #[derive(serde::Serialize)]
        struct Skipped<'a> {
            #[serde(rename = "type")]
            record_type: &'static str,
            file: String,
            reason: &'a str,
        }
        let skipped: Vec<Skipped<'_>> = end
            .skipped
            .iter()
            .map(|(path, reason)| Skipped {
                record_type: "skipped",
                file: path.display().to_string(),
                reason,
            })
            .collect();
        super::write_json_lines(self.out, &skipped)
    }
}

/// Connections as JSON lines or CSV rows, rendered a run at a time on the pool.
struct ConnectionLines<'w> {
    out: Out<'w>,
    render: &'static RenderRun,
}

impl Printer for ConnectionLines<'_> {
    fn renderer(&self) -> Option<&'static RenderRun> {
        Some(self.render)
    }

    fn record(&mut self, _pass: Pass, r: ConnectionRecord) -> io::Result<()> {
        let mut buf = Vec::new();
        (self.render)(std::slice::from_ref(&r), &mut buf)?;
        self.out.out.write_all(&buf)
    }

    fn rendered(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.out.write_all(bytes)
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        self.out.end(end)
    }
}

/// Findings as JSON lines or CSV rows, worst first.
struct FindingRows<'w> {
    out: Out<'w>,
    /// CSV (its header already written) rather than JSON.
    csv: bool,
}

impl Printer for FindingRows<'_> {
    fn passes(&self) -> &'static [Pass] {
        BY_SEVERITY
    }

    fn by_file_name(&self) -> bool {
        true
    }

    fn record(&mut self, pass: Pass, r: ConnectionRecord) -> io::Result<()> {
        let Pass::Severity(severity) = pass else {
            return Ok(());
        };
        for row in super::record_finding_rows(&r) {
            if row.finding.severity != severity {
                continue;
            }
            if self.csv {
                let mut w = super::FindingsCsv::rows(&mut *self.out.out);
                w.write(&row)?;
                w.finish()?;
            } else {
                super::write_json_lines(self.out.out, std::slice::from_ref(&row))?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        self.out.end(end)
    }
}

/// Connections or findings as tables, in pages.
struct Tables<'w> {
    out: Out<'w>,
    style: TableStyle,
    pages: TablePages,
    findings: bool,
}

impl Tables<'_> {
    fn write_page(
        out: &mut dyn Write,
        findings: bool,
        style: TableStyle,
        page: &[ConnectionRecord],
    ) -> io::Result<()> {
        if findings {
            super::write_findings(out, Format::Table, style, page)
        } else {
            super::write_connections(out, Format::Table, style, page)
        }
    }
}

impl Printer for Tables<'_> {
    fn passes(&self) -> &'static [Pass] {
        if self.findings {
            BY_SEVERITY
        } else {
            &[Pass::All]
        }
    }

    fn by_file_name(&self) -> bool {
        self.findings
    }

    fn record(&mut self, pass: Pass, mut r: ConnectionRecord) -> io::Result<()> {
        let rows = match pass {
            Pass::All => 1,
            Pass::Severity(severity) => {
                // Each page holds the records with findings of that severity, cut down to
                // those findings.
                r.findings.retain(|f| f.severity == severity);
                r.findings.len()
            }
        };
        if rows == 0 {
            return Ok(());
        }
        let (findings, style) = (self.findings, self.style);
        let out = &mut *self.out.out;
        self.pages.push(r, rows, &mut |page| {
            Self::write_page(out, findings, style, page)
        })
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        let (findings, style) = (self.findings, self.style);
        let out = &mut *self.out.out;
        let any = std::mem::take(&mut self.pages)
            .finish(&mut |page| Self::write_page(out, findings, style, page))?;
        if !any {
            if let Some(why) = nothing_shown(findings, end) {
                writeln!(out, "{why}")?;
            }
        }
        self.out.end(end)
    }
}

/// One row per server.
struct Servers<'w> {
    out: Out<'w>,
    style: TableStyle,
    agg: views::ServerAgg,
}

impl Printer for Servers<'_> {
    fn record(&mut self, _pass: Pass, r: ConnectionRecord) -> io::Result<()> {
        self.agg.add(&r);
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        let rows = std::mem::take(&mut self.agg).rows();
        if rows.is_empty() && self.out.format == Format::Table {
            if let Some(why) = nothing_shown(false, end) {
                writeln!(self.out.out, "{why}")?;
            }
        } else {
            views::write_servers(self.out.out, self.out.format, self.style, &rows)?;
        }
        self.out.end(end)
    }
}

/// Totals for the batch.
struct Summary<'w> {
    out: Out<'w>,
    style: TableStyle,
    agg: views::SummaryAgg,
}

impl Printer for Summary<'_> {
    fn record(&mut self, _pass: Pass, r: ConnectionRecord) -> io::Result<()> {
        self.agg.add(&r);
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        let summary = std::mem::take(&mut self.agg).finish(end.files, end.errors);
        views::write_summary(self.out.out, self.out.format, self.style, &summary)?;
        self.out.end(end)
    }
}

/// One row per capture file.
struct Files<'w> {
    out: Out<'w>,
    style: TableStyle,
}

impl Printer for Files<'_> {
    fn record(&mut self, _pass: Pass, _r: ConnectionRecord) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        views::write_files(self.out.out, self.out.format, self.style, end.files)?;
        self.out.end(end)
    }
}

/// Rows per table page: a table sizes its columns from every row it holds, so a long
/// listing is written as several tables (each with its header) and memory stays flat.
/// `TLSCAP_TABLE_PAGE_ROWS` overrides it (tests use small pages on small captures).
const TABLE_PAGE_ROWS: usize = 1000;

fn table_page_rows() -> usize {
    std::env::var("TLSCAP_TABLE_PAGE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(TABLE_PAGE_ROWS)
}

/// Records collected into table pages of about [`table_page_rows`] rows, each page written
/// (as its own table) as soon as it is full.
struct TablePages {
    page: Vec<ConnectionRecord>,
    rows: usize,
    limit: usize,
    written: usize,
}

impl Default for TablePages {
    fn default() -> Self {
        TablePages {
            page: Vec::new(),
            rows: 0,
            limit: table_page_rows(),
            written: 0,
        }
    }
}

type WritePage<'a> = dyn FnMut(&[ConnectionRecord]) -> io::Result<()> + 'a;

impl TablePages {
    /// Adds a record that fills `rows` rows of the table.
    fn push(
        &mut self,
        r: ConnectionRecord,
        rows: usize,
        write: &mut WritePage<'_>,
    ) -> io::Result<()> {
        self.page.push(r);
        self.rows += rows;
        if self.rows >= self.limit {
            write(&self.page)?;
            self.page.clear();
            self.rows = 0;
            self.written += 1;
        }
        Ok(())
    }

    /// Writes the last page; false when there were no rows at all (and nothing was written).
    fn finish(self, write: &mut WritePage<'_>) -> io::Result<bool> {
        if !self.page.is_empty() {
            write(&self.page)?;
        }
        Ok(self.written > 0 || !self.page.is_empty())
    }
}
