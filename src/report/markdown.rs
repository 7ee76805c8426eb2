//! `--format md`: the HTML report's content as Markdown, for a ticket system that renders it
//! (GitHub, GitLab, Jira's Markdown fields). The ladder is a fenced text block instead of an
//! SVG. Values from a capture are escaped so that they stay text: Markdown renderers pass HTML
//! through, and `|`, `*`, `_`, backticks or brackets in an SNI must not make a table, emphasis
//! or a link.

use super::html::{
    anchor, cause_title, failed_at_word, file_name, ladder, outcome_word, Collected, Row, VERSION,
};
use super::printer::{Pass, Printer, RunEnd};
use crate::certs::CertInfo;
use crate::flow::Side;
use crate::record::{name_or_dash, ConnectionRecord};
use std::io::{self, Write};

/// `s` as Markdown text that renders as itself: HTML specials as entities, Markdown
/// punctuation backslash-escaped, line breaks as spaces (a cell or list item is one line).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '|'
            | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a fenced block: only a fence could end it early, and control characters could
/// garble a terminal that shows the file.
fn fenced_text(s: &str) -> String {
    s.replace("```", "'''")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn write_rows(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    writeln!(
        out,
        "| Connection | Outcome | SNI → server | Version | Status | Findings | Start (UTC) |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |")?;
    for r in rows {
        let http = r
            .http_status
            .map(|c| format!(" (HTTP {c})"))
            .unwrap_or_default();
        writeln!(
            out,
            "| {} #{} | {}{http} | {} → {} | {} | {} | {} | {} |",
            escape(file_name(&r.file)),
            r.index,
            outcome_word(r.outcome),
            escape(&r.sni),
            escape(&r.server),
            escape(r.version.as_deref().unwrap_or("-")),
            escape(&r.status),
            escape(&r.findings.join(", ")),
            escape(&r.start),
        )?;
    }
    writeln!(out)
}

fn write_chain(out: &mut dyn Write, title: &str, chain: &[CertInfo]) -> io::Result<()> {
    writeln!(out, "**{title}** ({}):\n", chain.len())?;
    for (i, c) in chain.iter().enumerate() {
        writeln!(
            out,
            "{i}. {} — issued by {}; valid {} → {}{}",
            escape(&c.subject),
            escape(&c.issuer),
            escape(&c.not_before),
            escape(&c.not_after),
            if c.self_signed { " (self-signed)" } else { "" }
        )?;
    }
    writeln!(out)
}

fn write_connection(out: &mut dyn Write, r: &ConnectionRecord) -> io::Result<()> {
    let cause = r.cause.as_deref().unwrap_or("unknown");
    writeln!(
        out,
        "### {} #{} — {} → {}\n",
        escape(file_name(&r.file)),
        r.index,
        escape(r.sni_shown()),
        escape(&r.server_named())
    )?;
    writeln!(out, "<a id=\"{}\"></a>\n", anchor(&r.file, r.index))?;
    writeln!(
        out,
        "**{}**{}: {} — {}\n",
        outcome_word(r.outcome),
        r.failed_at
            .map(|a| format!(" at {}", failed_at_word(a)))
            .unwrap_or_default(),
        escape(cause),
        cause_title(cause)
    )?;
    writeln!(
        out,
        "- started {}, first packet #{}, {} packets, {:.3} s",
        escape(&r.start.rfc3339_checked().unwrap_or_default()),
        r.first_packet,
        r.tcp.packets,
        r.duration_s
    )?;
    writeln!(out, "- client {} → server {}", r.client, r.server_named())?;
    writeln!(out, "- via {}", escape(&super::via_lines(r).join(", ")))?;
    writeln!(
        out,
        "- version {}, cipher {}",
        escape(&name_or_dash(r.version)),
        escape(&name_or_dash(r.cipher))
    )?;
    writeln!(
        out,
        "- client certificate requested / sent: {}",
        super::client_cert_cell(r)
    )?;
    writeln!(
        out,
        "- server chain: {}\n",
        escape(r.chain_status.as_deref().unwrap_or("not seen"))
    )?;
    writeln!(out, "**Findings**\n")?;
    for f in &r.findings {
        let role = match (f.observed, f.follows) {
            (true, None) => " (cause)".to_string(),
            (true, Some(c)) => format!(" (follows `{}`)", c.id()),
            (false, _) => String::new(),
        };
        writeln!(
            out,
            "- **{}** `{}`{role} — {}\n  - evidence: {}\n  - fix: {}",
            f.severity.as_str(),
            f.kind.id(),
            escape(&f.message),
            escape(&f.evidence),
            escape(&f.remediation),
        )?;
    }
    writeln!(out, "\n**Ladder**\n\n```text")?;
    for e in ladder(r) {
        let packet = e.packet.map(|p| format!("#{p}")).unwrap_or_default();
        let arrow = match e.from {
            Side::Client => "client → server",
            Side::Server => "client ← server",
        };
        let mark = if e.failing { "  ✗ failed here" } else { "" };
        writeln!(out, "{packet:>8}  {arrow}  {}{mark}", fenced_text(&e.text))?;
    }
    writeln!(out, "```\n")?;
    if let Some(chain) = r.server_chain.as_deref().filter(|c| !c.is_empty()) {
        write_chain(out, "Server certificates", chain)?;
    }
    if let Some(chain) = r.client_chain.as_deref().filter(|c| !c.is_empty()) {
        write_chain(out, "Client certificates", chain)?;
    }
    Ok(())
}

/// The whole document.
fn write_document(out: &mut dyn Write, c: &Collected, end: &RunEnd<'_>) -> io::Result<()> {
    let total = c.ok + c.failed + c.unknown;
    writeln!(out, "# TLS connection report\n")?;
    writeln!(out, "tlscap {}\n", escape(VERSION))?;
    writeln!(out, "## Summary\n")?;
    writeln!(
        out,
        "{total} connections: **{} failed**, {} ok, {} unknown (the capture cannot tell).\n",
        c.failed, c.ok, c.unknown
    )?;
    let verdicts = c.verdicts();
    if verdicts.is_empty() {
        writeln!(out, "No connection failed.\n")?;
    } else {
        writeln!(out, "### Verdict\n")?;
        for v in &verdicts {
            writeln!(
                out,
                "- **{}** ({}) — {} ({}): {} of {} connection{} failed",
                escape(v.sni),
                escape(v.server),
                v.title,
                escape(v.cause),
                v.failed,
                v.connections,
                if v.connections == 1 { "" } else { "s" }
            )?;
        }
        writeln!(out)?;
    }
    if !c.findings.is_empty() {
        writeln!(out, "### Findings\n")?;
        writeln!(
            out,
            "| Severity | Finding | Connections |\n| --- | --- | ---: |"
        )?;
        for (sev, id, n) in c.findings_by_weight() {
            writeln!(out, "| {} | `{id}` | {n} |", sev.as_str())?;
        }
        writeln!(out)?;
    }
    writeln!(out, "### Captures\n")?;
    writeln!(
        out,
        "| File | Packets | First packet (UTC) | Connections | Findings |\n| --- | ---: | --- | ---: | ---: |"
    )?;
    for f in end.files {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            escape(&f.file),
            f.packets,
            escape(f.first.as_deref().unwrap_or("-")),
            f.connections,
            f.findings
        )?;
    }
    writeln!(out)?;
    if !end.errors.is_empty() {
        writeln!(out, "### Inputs that could not be read\n")?;
        for e in end.errors {
            writeln!(out, "- {}: {}", escape(&e.file), escape(&e.reason))?;
        }
        writeln!(out)?;
    }
    writeln!(out, "## Servers\n")?;
    writeln!(
        out,
        "| SNI | Server | Connections | Failed | OK | Unknown | Causes |\n| --- | --- | ---: | ---: | ---: | ---: | --- |"
    )?;
    for ((sni, server), h) in &c.servers {
        let causes: Vec<String> = h
            .causes
            .iter()
            .map(|(cause, n)| format!("{} ×{n}", escape(cause)))
            .collect();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            escape(sni),
            escape(server),
            h.connections,
            h.failed,
            h.ok,
            h.unknown,
            causes.join(", ")
        )?;
    }
    writeln!(out)?;
    writeln!(out, "## Failing connections ({})\n", c.failed)?;
    if c.failing.is_empty() {
        writeln!(out, "None.\n")?;
    }
    for r in &c.failing {
        write_connection(out, r)?;
    }
    if !c.failing_rest.is_empty() {
        writeln!(
            out,
            "{} more failing connections, listed without detail:\n",
            c.failing_rest.len()
        )?;
        write_rows(out, &c.failing_rest)?;
    }
    writeln!(out, "## Other connections ({})\n", c.ok + c.unknown)?;
    writeln!(
        out,
        "<details><summary>{} ok, {} unknown</summary>\n",
        c.ok, c.unknown
    )?;
    write_rows(out, &c.others)?;
    if c.others_unlisted > 0 {
        writeln!(out, "{} more not listed.\n", c.others_unlisted)?;
    }
    writeln!(out, "</details>")
}

/// `--format md`.
pub struct MarkdownReport<'w> {
    out: &'w mut dyn Write,
    collected: Collected,
}

impl<'w> MarkdownReport<'w> {
    /// A report written to `out` at the end of the run.
    pub fn new(out: &'w mut dyn Write) -> Self {
        MarkdownReport {
            out,
            collected: Collected::default(),
        }
    }
}

impl Printer for MarkdownReport<'_> {
    fn record(&mut self, _pass: Pass, r: ConnectionRecord) -> io::Result<()> {
        self.collected.add(r);
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        let c = std::mem::take(&mut self.collected);
        let mut buf = Vec::new();
        write_document(&mut buf, &c, end)?;
        self.out.write_all(&buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_markup_as_text() {
        assert_eq!(
            escape("<script>|*x*|[a](b)`c`\n"),
            "&lt;script&gt;\\|\\*x\\*\\|\\[a\\]\\(b\\)\\`c\\` "
        );
    }

    /// The hand-built hostile record of the HTML tests (no capture carries all of it).
    #[test]
    fn hostile_values_come_out_inert() {
        let mut out = Vec::new();
        let mut p = MarkdownReport::new(&mut out);
        p.record(Pass::All, super::super::html::tests::hostile_record())
            .unwrap();
        p.finish(&RunEnd {
            files: &[],
            errors: &[],
            skipped: &[],
            analysed: 1,
        })
        .unwrap();
        let md = String::from_utf8(out).unwrap();
        // Outside fenced blocks (where renderers show text as it is), no markup survives.
        let prose: String = md.split("```").step_by(2).collect();
        assert!(!prose.contains("<script"), "{md}");
        assert!(md.contains("ClientHello SNI <script>"));
        // The fenced ladder holds text only; outside it every value is escaped.
        assert!(md.contains("&lt;script&gt;alert\\(1\\)&lt;/script&gt;&quot;'&amp;"));
        assert!(md.contains("✗ failed here"));
    }
}
