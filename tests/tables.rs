//! Tables for people: the width they are drawn at (`--width`, the terminal, `COLUMNS`, 120),
//! colours (`NO_COLOR`), layouts that fit 80, 120 and 200 columns without breaking a finding id,
//! and what a table says when it has no rows. All on the real captures in samples/.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};
use tlscap::report::{colour_allowed, table_width, DEFAULT_WIDTH};

fn tlscap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .args(args)
        .output()
        .expect("run tlscap")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn width_comes_from_the_flag_then_the_terminal_then_columns_then_120() {
    assert_eq!(table_width(Some(90), Some(200), Some("100")), 90);
    assert_eq!(table_width(None, Some(200), Some("100")), 200);
    assert_eq!(table_width(None, None, Some("100")), 100);
    assert_eq!(table_width(None, None, None), DEFAULT_WIDTH);
    assert_eq!(DEFAULT_WIDTH, 120);
    // A terminal that reports 0x0 and a COLUMNS of 0 or garbage say nothing.
    assert_eq!(table_width(None, Some(0), Some("0")), 120);
    assert_eq!(table_width(None, Some(0), Some("wide")), 120);
    assert_eq!(table_width(None, Some(0), Some(" 77 ")), 77);
}

#[test]
fn colours_only_on_a_terminal_and_never_with_no_color() {
    assert!(colour_allowed(true, false, None));
    assert!(!colour_allowed(false, false, None));
    assert!(!colour_allowed(true, true, None));
    assert!(!colour_allowed(true, false, Some("1")));
    // no-color.org: an empty NO_COLOR does not count.
    assert!(colour_allowed(true, false, Some("")));
}

#[test]
fn width_zero_is_a_usage_error() {
    let out = tlscap(&["--width", "0", "samples/cert-expired.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--width") && err.contains("at least 1 column"),
        "{err}"
    );
}

#[test]
fn piped_output_is_120_columns_unless_columns_says_otherwise() {
    let default = tlscap(&["-q", "samples/"]);
    let w = widest(&stdout(&default));
    assert!((100..=120).contains(&w), "widest line {w}");
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .env("COLUMNS", "80")
        .args(["-q", "samples/"])
        .output()
        .expect("run tlscap");
    let w = widest(&stdout(&out));
    assert!((70..=80).contains(&w), "widest line {w}");
}

/// Under `script` the output is a terminal that reports 0x0 (as some CI and kubectl consoles
/// do): the width falls back to `COLUMNS`, and `NO_COLOR` turns the colours off.
#[test]
fn a_zero_sized_terminal_falls_back_and_no_color_is_honoured() {
    if !common::have("script") {
        eprintln!("SKIP a_zero_sized_terminal_falls_back_and_no_color_is_honoured: `script` (util-linux) not installed");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_tlscap");
    let run = |env: &[(&str, &str)]| {
        let mut c = Command::new("script");
        c.current_dir(common::root())
            .env_remove("COLUMNS")
            .env_remove("NO_COLOR")
            .args(["-qec", &format!("{bin} -q samples/"), "/dev/null"]);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().expect("run script");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).replace('\r', "")
    };
    let coloured = run(&[]);
    assert!(coloured.contains('\x1b'), "no colour on a terminal");
    let plain = run(&[("NO_COLOR", "1"), ("COLUMNS", "80")]);
    assert!(!plain.contains('\x1b'), "colour despite NO_COLOR");
    let w = widest(&plain);
    assert!((70..=80).contains(&w), "widest line {w}");
}

/// The findings column's cells of a connections table: the cells of the third column, each
/// line with its `+ ` stripped (ids only).
fn findings_column(table: &str) -> Vec<String> {
    table
        .lines()
        .filter(|l| l.starts_with('│'))
        .filter_map(|l| l.split('┆').nth(2))
        .map(|c| c.trim().trim_start_matches("+ ").to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn tables_fit_80_120_and_200_columns_and_never_break_a_finding_id() {
    let trust = ["--ca-file", "samples/pki/root.pem"];
    let json = tlscap(&[&["-q", "--format", "json", "samples/"][..], &trust].concat());
    // How many connections have each finding id.
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for line in stdout(&json).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        if v["type"] != "connection" {
            continue;
        }
        for f in v["findings"].as_array().expect("findings") {
            *expected
                .entry(f["id"].as_str().expect("id").to_string())
                .or_default() += 1;
        }
    }
    assert!(expected.len() >= 20, "{expected:?}");
    let known: Vec<&str> = tlscap::findings::FindingKind::ALL
        .iter()
        .map(|k| k.id())
        .collect();
    for width in ["80", "120", "200"] {
        let out = tlscap(&[&["-q", "--width", width, "samples/"][..], &trust].concat());
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        let w: usize = width.parse().expect("width");
        assert!(widest(&text) <= w, "{width}: widest line {}", widest(&text));
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for cell in findings_column(&text) {
            if cell.contains("findings") || cell == "Cause" {
                continue; // the header
            }
            assert!(
                known.contains(&cell.as_str()),
                "{width}: {cell:?} is not a whole finding id"
            );
            *seen.entry(cell).or_default() += 1;
        }
        assert_eq!(seen, expected, "{width}");
    }
    // The compact layout leaves cipher, client address and time to `explain`; the wide one
    // has them.
    let narrow = stdout(&tlscap(&[
        "-q",
        "--width",
        "120",
        "samples/cert-expired.pcap",
    ]));
    let wide = stdout(&tlscap(&[
        "-q",
        "--width",
        "200",
        "samples/cert-expired.pcap",
    ]));
    assert!(
        !narrow.contains("Cipher") && !narrow.contains("AES_256_GCM"),
        "{narrow}"
    );
    assert!(
        wide.contains("Cipher") && wide.contains("AES_256_GCM_SHA384"),
        "{wide}"
    );
    for text in [&narrow, &wide] {
        let first_row = text.lines().nth(4).expect("a row");
        assert!(
            first_row.contains("failed") && first_row.contains("cert-expired"),
            "{first_row}"
        );
    }
}

#[test]
fn findings_view_keeps_ids_whole_at_80_columns() {
    let out = tlscap(&["-q", "--width", "80", "--view", "findings", "samples/"]);
    let text = stdout(&out);
    assert!(widest(&text) <= 80, "widest line {}", widest(&text));
    let ids: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with('│'))
        .filter_map(|l| l.split('┆').nth(1))
        .map(str::trim)
        .filter(|c| !c.is_empty() && *c != "Finding")
        .collect();
    assert!(ids.len() > 50, "{}", ids.len());
    for id in ids {
        assert!(
            tlscap::findings::FindingKind::from_id(id).is_some(),
            "{id:?} is not a whole finding id"
        );
    }
}

#[test]
fn a_capture_without_tls_says_so_instead_of_an_empty_table() {
    let out = tlscap(&["samples/smtp-auth.pcap"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "no TLS connections (2 plain TCP connections: `--all` shows them)\n"
    );
    let out = tlscap(&["--view", "findings", "samples/ftp-login.pcap"]);
    assert_eq!(
        stdout(&out),
        "no TLS connections (1 plain TCP connection: `--all` shows them)\n"
    );
    // `--all` shows it.
    let out = tlscap(&["--all", "samples/ftp-login.pcap"]);
    assert!(stdout(&out).contains("127.0.0.1:8439"), "{}", stdout(&out));
    let out = tlscap(&["--view", "servers", "samples/ftp-login.pcap"]);
    assert_eq!(
        stdout(&out),
        "no TLS connections (1 plain TCP connection: `--all` shows them)\n"
    );
    // JSON and CSV stay as they were: no records, no sentence.
    let out = tlscap(&["--format", "json", "samples/ftp-login.pcap"]);
    assert!(out.stdout.is_empty());
}

#[test]
fn filters_and_clean_captures_say_what_was_left_out() {
    let out = tlscap(&["--sni", "nothing.example", "samples/tls12-resumption.pcap"]);
    assert_eq!(
        stdout(&out),
        "no connection matches the filters (2 connections without them)\n"
    );
    let out = tlscap(&[
        "--view",
        "findings",
        "--ca-file",
        "samples/pki/root.pem",
        "samples/tls12-resumption.pcap",
    ]);
    assert_eq!(stdout(&out), "no findings on 2 connections\n");
}

#[test]
fn a_fatal_error_prints_no_empty_table() {
    let out = tlscap(&["samples/no-such-file.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    for view in ["findings", "servers"] {
        let out = tlscap(&["--view", view, "samples/no-such-file.pcap"]);
        assert!(out.stdout.is_empty(), "{view}: {}", stdout(&out));
    }
}

#[test]
fn servers_view_fits_and_keeps_ids_whole() {
    for width in ["80", "120", "200"] {
        let out = tlscap(&["-q", "--width", width, "--view", "servers", "samples/"]);
        let text = stdout(&out);
        let w: usize = width.parse().expect("width");
        assert!(widest(&text) <= w, "{width}: widest line {}", widest(&text));
        let cells: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with('│'))
            .filter_map(|l| l.split('┆').nth(2))
            .map(str::trim)
            .filter(|c| !c.is_empty() && *c != "Findings")
            .collect();
        assert!(cells.len() > 50, "{width}: {}", cells.len());
        for cell in cells {
            // `id: count`
            let id = cell.split(": ").next().unwrap_or(cell);
            assert!(
                tlscap::findings::FindingKind::from_id(id).is_some(),
                "{width}: {cell:?} is not a whole finding id and its count"
            );
        }
    }
}

/// The non-empty lines of column `col` of a table, top to bottom (header included).
fn column_lines(table: &str, col: usize) -> Vec<String> {
    table
        .lines()
        .filter(|l| l.starts_with('│'))
        .filter_map(|l| l.trim_matches('│').split('┆').nth(col))
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// How each connection travelled: the wide layout names the transport under the version, and
/// both layouts name the tunnel and the proxy under the server (the compact one the transport
/// too, unless it is plain TCP). Values as tshark shows these samples: DTLS on UDP 4442, a
/// CONNECT to localhost:8443 (`http.request.line`) through the proxy on 127.0.0.1:8446 (the
/// target is the server, the proxy how it was reached), QUIC, VXLAN VNI 42.
#[test]
fn transport_carrier_and_proxy_are_shown_in_both_layouts() {
    let files = [
        "samples/dtls/dtls-untrusted.pcap",
        "samples/proxy-connect-auth.pcap",
        "samples/quic/quic-alpn-mismatch.pcap",
        "samples/tunnels/vxlan-kernel.pcap",
    ];
    let run = |width: &str| {
        let out = tlscap(&[&["-q", "--width", width][..], &files[..]].concat());
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        assert!(widest(&text) <= width.parse().unwrap(), "{text}");
        text
    };
    let wide = run("200");
    assert_eq!(
        column_lines(&wide, 5),
        ["Version", "over", "DTLS 1.2", "DTLS", "TLS 1.3", "TCP", "-", "QUIC", "TLS 1.2", "TCP"]
    );
    let server = column_lines(&wide, 3);
    for via in ["HTTP proxy 127.0.0.1:8446", "vxlan:42"] {
        assert!(server.iter().any(|l| l == via), "{via}: {wide}");
    }
    assert!(!server.iter().any(|l| l == "QUIC" || l == "TCP"), "{wide}");
    let compact = run("80");
    let server = column_lines(&compact, 3);
    for via in ["DTLS", "HTTP proxy 127.0.0.1:8446", "QUIC", "vxlan:42"] {
        assert!(server.iter().any(|l| l == via), "{via}: {compact}");
    }
    assert!(!server.iter().any(|l| l == "TCP"), "{compact}");
}
