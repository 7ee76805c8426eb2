//! The comparison's printers: a table per pair for people, JSON lines (one `difference` object
//! each, most decisive first) and CSV for tools, and an HTML page with both sides' ladders.

use super::{Comparison, Difference};
use crate::record::{ConnectionRecord, Outcome};
use crate::report::{self, Format, TableStyle};
use std::io::{self, Write};

/// Writes the comparisons in `format`.
pub fn write(
    out: &mut dyn Write,
    comparisons: &[Comparison],
    format: Format,
    style: TableStyle,
) -> io::Result<()> {
    match format {
        Format::Json => {
            for c in comparisons {
                report::write_json_lines(out, &c.differences)?;
            }
            Ok(())
        }
        Format::Csv => write_csv(out, comparisons),
        Format::Table => write_tables(out, comparisons, style),
    }
}

/// One side's line above a pair's table.
fn side_line(label: &str, r: &ConnectionRecord) -> String {
    let outcome = match (r.outcome, &r.cause) {
        (Outcome::Failed, Some(cause)) => format!("failed ({cause})"),
        (Outcome::Failed, None) => "failed".to_string(),
        (Outcome::Ok, _) => "ok".to_string(),
        (Outcome::Unknown, _) => "outcome unknown".to_string(),
    };
    // JA4 names each client's hello for people who track clients by it; it is never a
    // difference of its own (it changes with any value of the hello, relevant or not).
    let ja4 = r
        .ja4
        .as_deref()
        .map(|j| format!("  JA4 {j}"))
        .unwrap_or_default();
    format!(
        "{label} {}#{}  {} → {}  SNI {}{ja4}  {outcome}",
        r.file,
        r.index,
        r.client,
        r.server_named(),
        r.sni.as_deref().unwrap_or("(none)"),
    )
}

fn write_tables(
    out: &mut dyn Write,
    comparisons: &[Comparison],
    style: TableStyle,
) -> io::Result<()> {
    for (i, c) in comparisons.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", side_line("good:", &c.good))?;
        writeln!(out, "{}", side_line("bad: ", &c.bad))?;
        if c.differences.is_empty() {
            writeln!(out, "no difference that can explain the outcome")?;
            continue;
        }
        let mut t = report::new_table(style);
        t.set_header(["#", "Aspect", "Good", "Bad", "Finding", "Likely cause"]);
        for d in &c.differences {
            t.add_row([
                d.rank.to_string(),
                d.aspect.to_string(),
                d.good.clone().unwrap_or_else(|| "(none)".into()),
                d.bad.clone().unwrap_or_else(|| "(none)".into()),
                d.finding
                    .map(|k| k.id().to_string())
                    .unwrap_or_else(|| "-".into()),
                d.cause.clone(),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    Ok(())
}

/// A difference as one CSV row.
#[derive(serde::Serialize)]
struct CsvRow<'a> {
    rank: u32,
    aspect: &'static str,
    good: Option<&'a str>,
    bad: Option<&'a str>,
    finding: Option<&'static str>,
    cause: &'a str,
    good_file: &'a str,
    good_index: u64,
    bad_file: &'a str,
    bad_index: u64,
}

impl<'a> From<&'a Difference> for CsvRow<'a> {
    fn from(d: &'a Difference) -> Self {
        CsvRow {
            rank: d.rank,
            aspect: d.aspect.as_str(),
            good: d.good.as_deref(),
            bad: d.bad.as_deref(),
            finding: d.finding.map(|k| k.id()),
            cause: &d.cause,
            good_file: &d.good_connection.file,
            good_index: d.good_connection.index,
            bad_file: &d.bad_connection.file,
            bad_index: d.bad_connection.index,
        }
    }
}

fn write_csv(out: &mut dyn Write, comparisons: &[Comparison]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let mut any = false;
    for d in comparisons.iter().flat_map(|c| &c.differences) {
        w.serialize(CsvRow::from(d))?;
        any = true;
    }
    if !any {
        // The header alone, so that an empty result is still a valid CSV with its columns.
        w.write_record([
            "rank",
            "aspect",
            "good",
            "bad",
            "finding",
            "cause",
            "good_file",
            "good_index",
            "bad_file",
            "bad_index",
        ])?;
    }
    w.flush()
}

/// Writes the comparisons as one self-contained HTML page (the run report's style, markup and
/// ladders): per pair, both sides, the ranked differences, then each side's connection with its
/// findings and ladder. Every value is escaped by the maud template.
pub fn write_html(out: &mut dyn Write, comparisons: &[Comparison]) -> io::Result<()> {
    use crate::report::html::{connection_section, file_name, page_head, VERSION};
    use maud::{html, DOCTYPE};
    let count: usize = comparisons.iter().map(|c| c.differences.len()).sum();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (page_head(&format!("tlscap compare: {count} difference{}", if count == 1 { "" } else { "s" }), COMPARE_CSS))
            body {
                h1 { "Working and failing side compared" }
                p.muted { "tlscap " (VERSION) }
                @if comparisons.is_empty() {
                    p #no-pair { "No connection of the failing side goes to a service the working side reaches (same SNI or server address)." }
                }
                @for (i, c) in comparisons.iter().enumerate() {
                    section.comparison id=(format!("pair-{i}")) data-paired-by=(c.paired_by) {
                        h2 { (c.bad.sni_shown()) " → " (c.bad.server.to_string()) }
                        dl.facts {
                            dt.ok { "Working" } dd { (file_name(&c.good.file)) " #" (c.good.index) " — " (side_text(&c.good)) }
                            dt.failed { "Failing" } dd { (file_name(&c.bad.file)) " #" (c.bad.index) " — " (side_text(&c.bad)) }
                        }
                        @if c.differences.is_empty() {
                            p { "No difference that can explain the outcome." }
                        } @else {
                            table.differences {
                                tr { th { "#" } th { "Aspect" } th { "Working" } th { "Failing" } th { "Finding" } th { "Likely cause" } }
                                @for d in &c.differences {
                                    tr.difference data-aspect=(d.aspect.as_str()) data-rank=(d.rank) {
                                        td.n { (d.rank) }
                                        td { code { (d.aspect.as_str()) } }
                                        td { (d.good.as_deref().unwrap_or("(none)")) }
                                        td { (d.bad.as_deref().unwrap_or("(none)")) }
                                        td { @if let Some(k) = d.finding { code { (k.id()) } } @else { "-" } }
                                        td { (d.cause) }
                                    }
                                }
                            }
                        }
                        div.side.good { h3 { "Working side" } (connection_section(&c.good)) }
                        div.side.bad { h3 { "Failing side" } (connection_section(&c.bad)) }
                    }
                }
            }
        }
    };
    out.write_all(page.into_string().as_bytes())
}

/// The compare page's additions to the report's style: the working side's section in green.
const COMPARE_CSS: &str =
    ".side.good section.conn{border-left-color:var(--ok)}section.comparison{margin-bottom:2.5rem}";

/// A side's outcome in words: `ok`, `failed (cause)`, `outcome unknown`.
fn side_text(r: &ConnectionRecord) -> String {
    match (r.outcome, &r.cause) {
        (Outcome::Failed, Some(cause)) => format!("failed ({cause})"),
        (Outcome::Failed, None) => "failed".to_string(),
        (Outcome::Ok, _) => "ok".to_string(),
        (Outcome::Unknown, _) => "outcome unknown".to_string(),
    }
}
