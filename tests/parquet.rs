//! `--format parquet`: the tables read back with pyarrow (an independent reader) equal the JSON
//! output row for row, on samples/ and the corpus.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VIEWS: &[&str] = &["connections", "findings", "servers", "summary", "files"];

/// `python3` when it can import pyarrow (installing it with pip when missing), else None with a
/// loud skip notice.
fn python_with_pyarrow(test: &str) -> Option<&'static str> {
    python_with(&["pyarrow.dataset"], &["pyarrow"], test)
}

/// `python3` when it can import `modules` (installing `packages` with pip when one is missing),
/// else None with a loud skip notice.
fn python_with(modules: &[&str], packages: &[&str], test: &str) -> Option<&'static str> {
    let import = format!("import {}", modules.join(", "));
    let has = || {
        Command::new("python3")
            .args(["-c", &import])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has() {
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "-q"])
            .args(packages)
            .status();
    }
    if has() {
        Some("python3")
    } else {
        eprintln!(
            "SKIP {test}: python3 cannot import {} and `pip install {}` failed",
            modules.join(", "),
            packages.join(" ")
        );
        None
    }
}

fn tlscap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(["--quiet", "--ca-file", "samples/pki/root.pem"])
        .args(args)
        .output()
        .expect("run tlscap")
}

/// Runs `script` (Python source) with `arg` as `sys.argv[1]`; its standard output, after it
/// succeeded.
fn python_output(python: &str, script: &str, arg: &Path) -> String {
    let got = Command::new(python)
        .args(["-c", script])
        .arg(arg)
        .output()
        .unwrap();
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    String::from_utf8(got.stdout).unwrap()
}

/// samples/ and, when present, the whole corpus (QUIC, HTTP, proxies, tunnels, broken files).
fn inputs() -> Vec<String> {
    let mut v = vec!["samples/".to_string()];
    if let Some(c) = common::corpus("parquet corpus inputs") {
        v.push(c.display().to_string());
    }
    v
}

/// The JSON output of every view, one `TABLE.jsonl` per record type, in `dir`.
fn json_tables(inputs: &[String], dir: &Path) {
    let mut end = Vec::new();
    for view in VIEWS {
        let mut args = vec!["--format", "json", "--view", view];
        args.extend(inputs.iter().map(String::as_str));
        let out = tlscap(&args);
        let text = String::from_utf8(out.stdout).unwrap();
        let record_type = format!("\"type\":\"{}\"", view.trim_end_matches('s'));
        let rows: String = text
            .lines()
            .filter(|l| l.starts_with(&format!("{{{record_type}")))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(dir.join(format!("{view}.jsonl")), rows).unwrap();
        end = text
            .lines()
            .filter(|l| {
                l.starts_with("{\"type\":\"error\"") || l.starts_with("{\"type\":\"skipped\"")
            })
            .map(str::to_owned)
            .collect();
    }
    for (table, prefix) in [
        ("errors", "{\"type\":\"error\""),
        ("skipped", "{\"type\":\"skipped\""),
    ] {
        let rows: String = end
            .iter()
            .filter(|l| l.starts_with(prefix))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(dir.join(format!("{table}.jsonl")), rows).unwrap();
    }
}

fn rows_py() -> PathBuf {
    common::root().join("tests/spark/rows.py")
}

#[test]
fn every_table_equals_the_json_output_row_for_row() {
    let Some(python) = python_with_pyarrow("parquet round trip") else {
        return;
    };
    let inputs = inputs();
    let tmp = tempfile::tempdir().unwrap();
    let (json_dir, pq_dir) = (tmp.path().join("json"), tmp.path().join("parquet"));
    std::fs::create_dir(&json_dir).unwrap();
    json_tables(&inputs, &json_dir);
    let mut args = vec!["--format", "parquet", "-o", pq_dir.to_str().unwrap()];
    args.extend(inputs.iter().map(String::as_str));
    let out = tlscap(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "tlscap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(&pq_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "connections.parquet",
            "errors.parquet",
            "files.parquet",
            "findings.parquet",
            "servers.parquet",
            "skipped.parquet",
            "summary.parquet"
        ]
    );
    let cmp = Command::new(python)
        .arg(rows_py())
        .args([&json_dir, &pq_dir])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&cmp.stdout);
    eprintln!("{report}");
    assert!(cmp.status.success(), "{report}");
    // Every table was compared, and the connection rows are all there.
    let connections = std::fs::read_to_string(json_dir.join("connections.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert!(connections > 0);
    assert!(report.contains(&format!("connections: {connections} rows equal")));
    assert_eq!(report.matches("rows equal").count(), 7, "{report}");
}

/// Typed values of a real connection: samples/cert-expired.pcap's handshake (values as the
/// JSON output and tshark give them).
#[test]
fn columns_are_typed() {
    let Some(python) = python_with_pyarrow("parquet types") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("one.parquet");
    let out = tlscap(&[
        "--format",
        "parquet",
        "-o",
        file.to_str().unwrap(),
        "samples/cert-expired.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let script = r#"
import sys, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
r = t.to_pylist()[0]
print(t.num_rows, t.schema.field("start").type, t.schema.field("server_port").type)
print(r["start"].isoformat(), r["client_ip"], r["server_ip"], r["server_port"])
print(r["server_chain"][0]["not_after"].isoformat(), r["server_chain"][0]["key_bits"])
print(r["alerts"][0]["description"], r["alerts"][0]["packet"], r["tcp"]["syn_ack"], r["cause"])
"#;
    assert_eq!(
        python_output(python, script, &file),
        "1 timestamp[us, tz=+00:00] int32\n\
         2026-11-23T02:19:24.143809+00:00 127.0.0.1 127.0.0.1 8420\n\
         2021-01-01T00:00:00+00:00 2048\n\
         certificate_expired 10 True cert-expired\n"
    );
}

/// DuckDB (a second independent reader) opens every table of samples/ with the same columns
/// and rows as pyarrow, and answers the README's question (failing connections by cause) with
/// the JSON output's counts.
#[test]
fn duckdb_reads_every_table() {
    let Some(python) = python_with(
        &["duckdb", "pyarrow"],
        &["duckdb", "pyarrow"],
        "parquet in duckdb",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let out = tlscap(&[
        "--format",
        "parquet",
        "-o",
        dir.to_str().unwrap(),
        "samples/",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let script = r#"
import sys, os, duckdb, pyarrow.parquet as pq
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    path = os.path.join(d, name)
    t = pq.read_table(path)
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{path}')")
    assert rel.columns == t.column_names, (name, rel.columns, t.column_names)
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
    assert n == t.num_rows, (name, n, t.num_rows)
    print(name, n)
for cause, n in duckdb.sql(f"SELECT cause, count(*) FROM read_parquet('{d}/connections.parquet') WHERE outcome = 'failed' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3").fetchall():
    print(cause, n)
"#;
    let text = python_output(python, script, &dir);
    // The same counts from the JSON output.
    let json = tlscap(&["--format", "json", "samples/"]);
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|r: &serde_json::Value| r["type"] == "connection")
        .collect();
    assert!(
        text.contains(&format!("connections.parquet {}\n", records.len())),
        "{text}"
    );
    let mut causes = std::collections::BTreeMap::<String, usize>::new();
    for r in records.iter().filter(|r| r["outcome"] == "failed") {
        *causes
            .entry(r["cause"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let mut ranked: Vec<(String, usize)> = causes.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: String = ranked
        .iter()
        .take(3)
        .map(|(c, n)| format!("{c} {n}\n"))
        .collect();
    assert!(
        text.ends_with(&top),
        "{text}\nexpected the top causes:\n{top}"
    );
}

/// `-o FILE.parquet` holds the `--view`'s table alone.
#[test]
fn a_parquet_file_holds_the_views_table() {
    let Some(python) = python_with_pyarrow("parquet single file") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("findings.parquet");
    let out = tlscap(&[
        "--format",
        "parquet",
        "--view",
        "findings",
        "-o",
        file.to_str().unwrap(),
        "samples/cert-expired.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        python_output(
            python,
            "import sys, pyarrow.parquet as pq; t = pq.read_table(sys.argv[1]); print(sorted(t.column('id').to_pylist()))",
            &file
        ),
        "['cert-expired', 'chain-invalid', 'tls-alert']\n"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

/// Parquet is written to files: without `-o` it is a usage error, before any analysis.
#[test]
fn parquet_needs_an_output_path() {
    let out = tlscap(&["--format", "parquet", "samples/cert-expired.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-o DIR"));
    assert!(out.stdout.is_empty());
}
