//! The command line end to end: bad input, exit codes, `explain`, `--fail-on`, and views that
//! agree with each other. Captures are the real ones in samples/ (a truncated copy is made by
//! cutting a real sample).

mod common;

use serde_json::Value;
use std::process::{Command, Output};

fn tlscap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(args)
        .output()
        .expect("run tlscap")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_file_is_named_and_exits_1() {
    let out = tlscap(&["--format", "json", "samples/no-such-file.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("samples/no-such-file.pcap"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_file_that_is_not_a_capture_is_named_with_its_first_bytes() {
    let out = tlscap(&["--format", "json", "samples/README.md"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("samples/README.md") && err.contains("not a capture"),
        "{err}"
    );
    // The JSON stream carries the error as a record too.
    let recs = json_lines(&out);
    assert!(
        recs.iter()
            .any(|r| r["type"] == "error" && r["file"] == "samples/README.md"),
        "{recs:?}"
    );
}

#[test]
fn a_directory_without_captures_is_an_error() {
    let out = tlscap(&["samples/pki"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no capture files"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        tlscap(&["--format", "xml", "samples/"]).status.code(),
        Some(2)
    );
    assert_eq!(tlscap(&[]).status.code(), Some(2));
    assert_eq!(
        tlscap(&["--finding", "no-such-id", "samples/"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn a_truncated_capture_reports_what_came_before_the_damage() {
    // samples/sni-gated-client-auth.pcap holds two connections; cut it inside the second one.
    let bytes = std::fs::read(common::sample("sni-gated-client-auth.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    let at = bytes.len() * 3 / 4 + 7; // mid-record
    std::fs::write(&cut, &bytes[..at]).unwrap();
    let out = tlscap(&[
        "--format",
        "json",
        "--no-auto-keylog",
        cut.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cut.pcap") && err.contains("truncated at byte offset"),
        "{err}"
    );
    let recs = json_lines(&out);
    let conns: Vec<&Value> = recs.iter().filter(|r| r["type"] == "connection").collect();
    assert_eq!(conns.len(), 2, "both connections started before the cut");
    assert_eq!(conns[0]["sni"], "api.tlscap.test");
    assert_eq!(conns[0]["cert_requested"], true);
    assert_eq!(conns[0]["status"], "ok");
    let errors: Vec<&Value> = recs.iter().filter(|r| r["type"] == "error").collect();
    assert_eq!(errors.len(), 1);
    assert!(errors[0]["reason"].as_str().unwrap().contains("truncated"));
}

#[test]
fn explain_prints_the_ladder_and_the_findings() {
    let out = tlscap(&[
        "explain",
        "samples/sni-gated-client-auth.pcap",
        "--conn",
        "1",
        "--ca-file",
        "samples/pki/root.pem",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "Connection 1 in samples/sni-gated-client-auth.pcap",
        "      19   0.000000   →   SYN",
        "      22   0.002237   →   ClientHello no SNI ALPN=h2,http/1.1",
        "      24   0.003036   ←   ServerHello TLS 1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "      25   0.003041   ←   ServerHelloDone",
        "      30   0.004087   →   HTTP GET / (auth none)",
        "      31   0.004164   ←   HTTP 401",
        "  outcome: failed at http, cause sni-gated-client-auth",
        "[error] sni-gated-client-auth (cause):",
        "connection #0 with SNI api.tlscap.test got a CertificateRequest in packet 7",
        "[error] http-unauthorized (follows sni-gated-client-auth): 127.0.0.1:8412 answered GET / with HTTP 401",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // No CertificateRequest step on this connection.
    assert!(!text.contains("←   CertificateRequest"));
    let bad = tlscap(&[
        "explain",
        "samples/sni-gated-client-auth.pcap",
        "--conn",
        "9",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("indexes: 0, 1"), "{}", stderr(&bad));
}

/// Without `--conn`, explain lists the failing connections and how to pick one; `--conn`
/// takes several (repeated or a comma list, each shown once, in the order given).
#[test]
fn explain_without_conn_lists_the_failing_connections() {
    let out = tlscap(&[
        "explain",
        "-q",
        "--width",
        "80",
        "samples/cert-inconsistent-pool.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2 failing connections of 4 in samples/cert-inconsistent-pool.pcap:
┌───┬──────────────────┬───────────┬───────────────────┐
│ # ┆ Server           ┆ Failed at ┆ Cause             │
╞═══╪══════════════════╪═══════════╪═══════════════════╡
│ 1 ┆ api.tlscap.test  ┆ handshake ┆ cert-inconsistent │
│   ┆ → 127.0.0.1:8454 ┆           ┆                   │
│ 3 ┆ api.tlscap.test  ┆ handshake ┆ cert-inconsistent │
│   ┆ → 127.0.0.1:8454 ┆           ┆                   │
└───┴──────────────────┴───────────┴───────────────────┘
Explain one with `tlscap explain samples/cert-inconsistent-pool.pcap --conn 1`
(several: `--conn 1,3`).
"
    );
    let json = tlscap(&[
        "explain",
        "--format",
        "json",
        "samples/sni-gated-client-auth.pcap",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&json.stdout),
        "{\"type\":\"failing\",\"file\":\"samples/sni-gated-client-auth.pcap\",\"index\":1,\"server\":\"127.0.0.1:8412\",\"sni\":null,\"failed_at\":\"http\",\"cause\":\"sni-gated-client-auth\"}\n"
    );
    let none = tlscap(&["explain", "-q", "samples/tls13-curl-sni.pcap"]);
    assert_eq!(
        String::from_utf8_lossy(&none.stdout),
        "No failing connection in samples/tls13-curl-sni.pcap (1 connection); explain one anyway with `--conn N`.\n"
    );
    let several = |args: &[&str]| {
        let mut all = vec!["explain", "-q"];
        all.extend(args);
        all.push("samples/cert-inconsistent-pool.pcap");
        let out = tlscap(&all);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("Connection "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let want = [
        "Connection 3 in samples/cert-inconsistent-pool.pcap",
        "Connection 0 in samples/cert-inconsistent-pool.pcap",
    ];
    assert_eq!(several(&["--conn", "3,0"]), want);
    assert_eq!(
        several(&["--conn", "3", "--conn", "0", "--conn", "3"]),
        want
    );
    // explain takes its own options only.
    for ignored in [
        ["--view", "findings"],
        ["--fail-on", "error"],
        ["--threads", "2"],
    ] {
        let mut args = vec!["explain", "samples/tls13-curl-sni.pcap"];
        args.extend(ignored);
        assert_eq!(tlscap(&args).status.code(), Some(2), "{ignored:?}");
    }
}

/// `explain --format json` writes the ladder as events, one JSON object each.
#[test]
fn explain_json_is_the_ladder_as_events() {
    let out = tlscap(&[
        "explain",
        "-q",
        "--format",
        "json",
        "--conn",
        "1",
        "samples/sni-gated-client-auth.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let events: Vec<Value> = json_lines(&out);
    assert_eq!(events.len(), 21);
    assert!(events
        .iter()
        .all(|e| e["type"] == "event" && e["conn"] == 1));
    assert_eq!(
        events[2],
        serde_json::json!({"type": "event", "file": "samples/sni-gated-client-auth.pcap",
            "conn": 1, "packet": 22, "time_s": 0.002237, "direction": "to-server", "kind": "tls",
            "detail": "ClientHello no SNI ALPN=h2,http/1.1 versions=TLS 1.3,TLS 1.2,TLS 1.1,TLS 1.0"})
    );
    let kinds = |k: &str| events.iter().filter(|e| e["kind"] == k).count();
    assert_eq!(
        (kinds("tcp"), kinds("tls"), kinds("http"), kinds("data")),
        (4, 13, 2, 2)
    );
    // The request in packet 30 and the HTTP 401 of packet 31, at tshark's tcp.time_relative.
    let http: Vec<&Value> = events.iter().filter(|e| e["kind"] == "http").collect();
    assert_eq!(http[0]["packet"], 30);
    assert_eq!(http[0]["time_s"], 0.004087);
    assert_eq!(http[1]["detail"], "HTTP 401");
    assert_eq!(http[1]["packet"], 31);
    assert_eq!(http[1]["time_s"], 0.004164);
    assert_eq!(http[1]["direction"], "to-client");
}

#[test]
fn fail_on_sets_exit_code_3() {
    let failing = [
        "--fail-on",
        "error",
        "--ca-file",
        "samples/pki/root.pem",
        "samples/tcp-refused.pcap",
    ];
    assert_eq!(tlscap(&failing).status.code(), Some(3));
    let healthy = [
        "--fail-on",
        "error",
        "--ca-file",
        "samples/pki/root.pem",
        "samples/tls12-openssl-sni.pcap",
    ];
    assert_eq!(tlscap(&healthy).status.code(), Some(0));
    // Only warnings there (missing-sni), so `--fail-on warning` trips and `error` does not.
    let no_sni = [
        "--ca-file",
        "samples/pki/root.pem",
        "samples/tls12-no-sni.pcap",
    ];
    assert_eq!(
        tlscap(&[&["--fail-on", "warning"][..], &no_sni[..]].concat())
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        tlscap(&[&["--fail-on", "error"][..], &no_sni[..]].concat())
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn views_agree_with_each_other() {
    let base = [
        "--format",
        "json",
        "-q",
        "--ca-file",
        "samples/pki/root.pem",
        "samples/",
    ];
    let view = |v: &str| json_lines(&tlscap(&[&base[..], &["--view", v][..]].concat()));
    let conns = view("connections");
    let findings = view("findings");
    let summary = view("summary");
    let servers = view("servers");
    let files = view("files");
    let n_conn = conns.iter().filter(|r| r["type"] == "connection").count() as u64;
    let n_find: usize = conns
        .iter()
        .map(|r| r["findings"].as_array().map_or(0, Vec::len))
        .sum();
    let s = summary
        .iter()
        .find(|r| r["type"] == "summary")
        .expect("summary record");
    assert_eq!(s["connections"].as_u64(), Some(n_conn));
    assert_eq!(
        findings.iter().filter(|r| r["type"] == "finding").count(),
        n_find
    );
    let per_id: u64 = s["findings"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(per_id as usize, n_find);
    let server_conns: u64 = servers
        .iter()
        .filter_map(|r| r["connections"].as_u64())
        .sum();
    assert_eq!(server_conns, n_conn);
    let file_conns: u64 = files
        .iter()
        .filter(|r| r["type"] == "file")
        .filter_map(|r| r["connections"].as_u64())
        .sum();
    assert_eq!(file_conns, n_conn);
    assert_eq!(
        s["files"].as_u64(),
        Some(files.iter().filter(|r| r["type"] == "file").count() as u64)
    );
    // CSV has the same rows as JSON, and the documented header.
    let csv = tlscap(&[&base[..1], &["csv"][..], &base[2..]].concat());
    let mut reader = csv::Reader::from_reader(&csv.stdout[..]);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, tlscap::report::CONNECTION_CSV_COLUMNS);
    assert_eq!(reader.records().count() as u64, n_conn);
}

/// The cells of a table listing, line by line (borders and padding dropped), and how many
/// tables it holds.
fn table_cells(text: &str) -> (Vec<String>, usize) {
    let cells = text
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| {
            l.trim_matches('│')
                .split('┆')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    (cells, text.lines().filter(|l| l.starts_with('┌')).count())
}

/// Findings tables a page size of `limit` rows gives. The findings view writes the errors,
/// then the warnings, then the infos, each pass over the records by file name; a record's
/// findings of that severity stay on one page, which is written once it holds `limit` rows.
fn pages_of(records: &[Value], limit: usize) -> usize {
    let mut by_name: Vec<&Value> = records.iter().collect();
    by_name.sort_by_key(|r| r["file"].as_str().unwrap_or_default().to_string());
    let (mut pages, mut rows, mut open) = (0, 0, false);
    for severity in ["error", "warning", "info"] {
        for r in &by_name {
            let n = r["findings"].as_array().map_or(0, |f| {
                f.iter().filter(|f| f["severity"] == severity).count()
            });
            if n == 0 {
                continue;
            }
            rows += n;
            open = true;
            if rows >= limit {
                (pages, rows, open) = (pages + 1, 0, false);
            }
        }
    }
    pages + usize::from(open)
}

/// Long listings are written as pages (tables of at most N rows, each with its header) so
/// that a table never holds a whole capture's rows: the same cells as one page, in the same
/// order, cut into ceil(rows / N) tables for connections.
#[test]
fn tables_are_paged_without_losing_or_reordering_rows() {
    let run = |view: &str, page: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
            .current_dir(common::root())
            .args(["--width", "1000", "--ca-file", "samples/pki/root.pem"])
            .args(["--view", view, "samples/"])
            .env("TLSCAP_TABLE_PAGE_ROWS", page)
            .output()
            .expect("run tlscap");
        table_cells(&String::from_utf8_lossy(&out.stdout))
    };
    let records: Vec<Value> = json_lines(&tlscap(&[
        "--format",
        "json",
        "--ca-file",
        "samples/pki/root.pem",
        "samples/",
    ]))
    .into_iter()
    .filter(|r| r["type"] == "connection")
    .collect();
    let connections = records.len();
    assert_eq!(connections, 178);
    let findings = json_lines(&tlscap(&[
        "--format",
        "json",
        "--view",
        "findings",
        "--ca-file",
        "samples/pki/root.pem",
        "samples/",
    ]))
    .iter()
    .filter(|r| r["type"] == "finding")
    .count();
    // samples/tlscap.toml gives cert-revoked-crl.pcap its CRL: `cert-revoked` is one of them.
    assert_eq!(findings, 207);
    // Pages of 10 connections: the last page must hold rows of more than one file, or the table
    // prints it without its File column and its cells differ.
    for (view, header_lines, page, tables) in [
        ("connections", 2, "10", connections.div_ceil(10)),
        ("findings", 1, "10", pages_of(&records, 10)),
    ] {
        let (whole, one) = run(view, "100000");
        let (paged, many) = run(view, page);
        assert_eq!(one, 1, "{view}");
        assert_eq!(many, tables, "{view}");
        let header = &whole[..header_lines];
        let body = |cells: &[String]| -> Vec<String> {
            cells
                .iter()
                .filter(|c| !header.contains(c))
                .cloned()
                .collect()
        };
        assert_eq!(
            paged.len(),
            whole.len() + (many - 1) * header_lines,
            "{view}"
        );
        assert_eq!(body(&paged), body(&whole), "{view}");
    }
}

/// A capture that another process truncates while tlscap reads it through mapped windows (the
/// default with several threads) used to kill tlscap with SIGBUS, losing all output. tlscap is
/// stopped (SIGSTOP) as soon as /proc shows the file mapped, the file is cut, and tlscap goes
/// on: it must end with exit 1, a "truncated" error naming the file, and the records it had.
#[test]
fn a_capture_truncated_while_mapped_ends_with_a_truncated_error_not_sigbus() {
    // A real sample's 40 records written 2,000 times (29 MB: above the size from which one
    // file is split over threads, and several 4 MiB windows).
    let one = std::fs::read(common::sample("tls13-http-401-200.pcap")).unwrap();
    let mut bytes = one[..24].to_vec();
    for _ in 0..2000 {
        bytes.extend_from_slice(&one[24..]);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrinking.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .args(["--threads", "2", "--format", "json", "--no-auto-keylog"])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tlscap");
    let pid = child.id() as libc::pid_t;
    let maps = format!("/proc/{pid}/maps");
    let name = path.to_str().unwrap();
    let started = std::time::Instant::now();
    loop {
        let mapped = std::fs::read_to_string(&maps).is_ok_and(|m| m.contains(name));
        if mapped {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "tlscap finished before it was seen mapping the capture"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "tlscap never mapped the capture"
        );
        std::thread::yield_now();
    }
    // SAFETY: signals to our own child, which has not been waited for (its pid is ours).
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    // 1,000,003 bytes: mid-record, in the first window.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1_000_003)
        .unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let out = child.wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), None, "killed by a signal");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("shrinking.pcap") && err.contains("truncated at byte offset"),
        "{err}"
    );
    let recs = json_lines(&out);
    let conns = recs.iter().filter(|r| r["type"] == "connection").count();
    assert_eq!(
        conns, 2,
        "the sample's two connections (their 5-tuples repeat)"
    );
}

/// A gzip'd capture cut inside its trailer holds every packet, but the file is damaged: exit 1
/// (README), not 0 with a warning. The offset is said to count decompressed bytes.
#[test]
fn a_gzip_capture_cut_inside_its_trailer_exits_1() {
    let bytes = std::fs::read(common::sample("tls13-http-401-200.pcap")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, &bytes).unwrap();
    let gz = enc.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.pcap.gz");
    std::fs::write(&path, &gz[..gz.len() - 3]).unwrap();
    let out = tlscap(&[
        "--format",
        "json",
        "--no-auto-keylog",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "cut.pcap.gz: truncated at byte offset {} of the decompressed data (after packet 40)",
            bytes.len()
        )),
        "{err}"
    );
    let recs = json_lines(&out);
    assert_eq!(
        recs.iter().filter(|r| r["type"] == "connection").count(),
        2,
        "every connection is still reported"
    );
}

/// Writing the output fails (a full disk: /dev/full): the message names the output and the
/// exit code is the write error's own (4), not the input error's (1).
#[test]
fn a_write_error_names_the_output_and_exits_4() {
    let sample = common::sample("tcp-refused.pcap");
    let sample = sample.to_str().unwrap();
    // Without samples/tlscap.toml: stderr then holds the write error alone.
    let out = tlscap(&[
        "--no-settings",
        "--format",
        "json",
        "-o",
        "/dev/full",
        sample,
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "tlscap: /dev/full: write error: No space left on device (os error 28)\n"
    );
    for format in ["json", "csv", "table"] {
        let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
            .args(["--no-settings", "--format", format, sample])
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{format}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "tlscap: standard output: write error: No space left on device (os error 28)\n",
            "{format}"
        );
    }
    // An output file that cannot be created is the same kind of failure.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir/out.json");
    let out = tlscap(&["-o", missing.to_str().unwrap(), sample]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{}: cannot create output", missing.display())),
        "{}",
        stderr(&out)
    );
}

/// The temporary directory is missing: records that pass the memory budget stay in memory
/// (up to 4x the budget) with a warning naming the directory, instead of the whole file's
/// records being dropped; past that, the records kept are reported and the rest named as lost
/// (exit 1).
#[test]
fn a_missing_temporary_directory_keeps_records_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone");
    let sample = common::sample("tls13-http-401-200.pcap");
    let run = |budget: &str| {
        Command::new(env!("CARGO_BIN_EXE_tlscap"))
            .args(["--format", "json", "--no-auto-keylog", "--no-settings"])
            .arg(&sample)
            .env("TMPDIR", &missing)
            .env("TLSCAP_SPILL_MEMORY", budget)
            .output()
            .unwrap()
    };
    let normal = tlscap(&[
        "--format",
        "json",
        "--no-auto-keylog",
        "--no-settings",
        sample.to_str().unwrap(),
    ]);
    // 300 bytes: the first record needs the disk; 4x that holds both.
    let out = run("300");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, normal.stdout);
    assert_eq!(
        stderr(&out),
        format!(
            "tlscap: warning: {}: cannot create a temporary file in {}: No such file or directory (os error 2); records kept in memory instead\n",
            sample.display(),
            missing.display()
        )
    );
    // 100 bytes: 4x holds the first record only.
    let out = run("100");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let conns = json_lines(&out);
    let conns: Vec<&Value> = conns.iter().filter(|r| r["type"] == "connection").collect();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0]["index"], 0);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "1 of its 2 records not kept (cannot create a temporary file in {}",
            missing.display()
        )) && err.contains("the 1 before are reported"),
        "{err}"
    );
}

/// `samples/tls13-http-401-200.pcap` (and its key log) with packet `n`'s seconds set to
/// `secs`, in a temporary directory: (dir, path).
fn with_packet_time(n: usize, secs: u32) -> (tempfile::TempDir, std::path::PathBuf) {
    let mut bytes = std::fs::read(common::sample("tls13-http-401-200.pcap")).unwrap();
    let mut at = 24;
    for _ in 1..n {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
    }
    bytes[at..at + 4].copy_from_slice(&secs.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock.pcap");
    std::fs::write(&path, bytes).unwrap();
    std::fs::copy(
        common::sample("tls13-http-401-200.keys"),
        dir.path().join("clock.keys"),
    )
    .unwrap();
    (dir, path)
}

/// Connection records without the fields that name the capture (`file`, the key log's path),
/// for comparing two copies of a capture.
fn records_but_file(out: &Output) -> Vec<Value> {
    json_lines(out)
        .into_iter()
        .filter(|r| r["type"] == "connection")
        .map(|mut r| {
            r.as_object_mut().unwrap().remove("file");
            if let Some(d) = r["decryption"].as_object_mut() {
                d.remove("key_source");
            }
            r
        })
        .collect()
}

/// One corrupt timestamp (0, or ten years ahead) in the middle of the first connection used to
/// split it: its HTTP 200 was lost and a third connection with a negative duration appeared.
/// Now that packet is given its predecessor's time, with a warning, and the records are the
/// untouched capture's.
#[test]
fn one_corrupt_timestamp_does_not_split_a_connection() {
    // The altered copies live in a directory without samples/tlscap.toml.
    let original = tlscap(&[
        "--format",
        "json",
        "--no-settings",
        common::sample("tls13-http-401-200.pcap").to_str().unwrap(),
    ]);
    let want = records_but_file(&original);
    assert_eq!(want.len(), 2);
    assert_eq!(want[0]["http"][0]["status"], 200);
    // Packet 11 is the server's 1795400376.623182 s, between 1795400376.622921 and .623187.
    for secs in [0u32, 1_795_400_376 + 10 * 365 * 86_400] {
        let (_dir, path) = with_packet_time(11, secs);
        let out = tlscap(&["--format", "json", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(records_but_file(&out), want, "packet 11 at {secs} s");
        assert!(
            stderr(&out).contains(&format!(
                "packet 11: timestamp {secs}.623182000 is far from both neighbours' (1795400376.622921000, 1795400376.623187000): treated as corrupt"
            )),
            "{}",
            stderr(&out)
        );
    }
}

/// A first packet with a time before any neighbour can vouch for it is kept, but a record
/// never shows a time that is not RFC 3339 (`start` null for years past 9999; it was
/// `@…`), nor a negative duration.
#[test]
fn start_is_rfc3339_or_null_and_durations_are_never_negative() {
    // 0xFFFF_FFFF s is year 2106: representable. The last packet set to 0 is a single
    // neighbour's word against its predecessor: kept, and the connection ends before it began.
    let (_dir, path) = with_packet_time(40, 0);
    let out = tlscap(&["--format", "json", path.to_str().unwrap()]);
    for r in records_but_file(&out) {
        let d = r["duration_s"].as_f64().unwrap();
        assert!(d >= 0.0, "{r}");
    }
    // pcapng with the largest timestamp (2^64 - 1 µs, year 586,524) on every packet.
    let mut bytes = std::fs::read(common::sample("multi.pcapng")).unwrap();
    let mut at = 0;
    let mut epbs = 0;
    while at + 8 <= bytes.len() {
        let kind = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if kind == 6 {
            bytes[at + 12..at + 20].fill(0xff);
            epbs += 1;
        }
        at += len;
    }
    assert!(epbs > 10);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("far.pcapng");
    std::fs::write(&path, bytes).unwrap();
    let out = tlscap(&["--format", "json", path.to_str().unwrap()]);
    let recs = records_but_file(&out);
    assert!(!recs.is_empty());
    for r in &recs {
        assert!(r["start"].is_null(), "{r}");
        assert_eq!(r["duration_s"], 0.0);
    }
}

/// ICMP errors about connection attempts the capture has no packet of are warned about by
/// every command that reads the file: the table, `explain` and `compare` (nDPI's
/// instagram.pcap: three SYNs the phone's own firewall refused).
#[test]
fn every_command_warns_of_icmp_errors_about_attempts_not_in_the_capture() {
    let Some(corpus) =
        common::corpus("every_command_warns_of_icmp_errors_about_attempts_not_in_the_capture")
    else {
        return;
    };
    let file = corpus.join("nDPI/tests/cfgs/default/pcap/instagram.pcap");
    let file = file.to_str().unwrap();
    for args in [
        vec![file],
        vec!["explain", file],
        vec!["compare", file, file],
    ] {
        let out = tlscap(&args);
        let warned: Vec<String> = stderr(&out)
            .lines()
            .filter(|l| l.contains("that has no packet in the capture"))
            .map(|l| {
                l.split(": packet")
                    .nth(1)
                    .unwrap_or("")
                    .chars()
                    .take(9)
                    .collect()
            })
            .collect();
        assert_eq!(warned, ["s 341, 34", "s 417, 41", " 439: ICM"], "{args:?}");
    }
}
