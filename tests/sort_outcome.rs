//! `--outcome` keeps connections with one outcome; `--sort` lists them by time, outcome,
//! server or worst finding instead of file order. On the captures in samples/.

mod common;

use std::process::Command;

fn tlscap(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .env_remove("COLUMNS")
        .args(["samples/", "-q"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The connection records of a JSON run.
fn connections(args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["--format", "json"];
    all.extend(args);
    tlscap(&all)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["type"] == "connection")
        .collect()
}

fn str_of(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or("(null)")
}

#[test]
fn outcome_keeps_one_outcome() {
    for (outcome, count) in [("failed", 75), ("ok", 95), ("unknown", 8)] {
        let rs = connections(&["--outcome", outcome]);
        assert_eq!(rs.len(), count, "{outcome}");
        assert!(rs.iter().all(|r| r["outcome"] == outcome));
    }
    let table = tlscap(&["--outcome", "ok", "--width", "200"]);
    assert!(!table.contains("failed"));
    // The file column may wrap the name after its stem.
    assert!(table.contains("tls13-curl-sni"));
}

#[test]
fn sort_by_time() {
    let rs = connections(&["--sort", "time"]);
    assert_eq!(rs.len(), 178);
    let first: Vec<(&str, u64)> = rs[..3]
        .iter()
        .map(|r| (str_of(&r["file"]), r["index"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        first,
        [
            ("samples/tls13-curl-sni.pcap", 0),
            ("samples/tls13-curl-sni.pcap.gz", 0),
            ("samples/tls12-openssl-sni.pcap", 0)
        ]
    );
    assert!(rs
        .windows(2)
        .all(|w| str_of(&w[0]["start"]) <= str_of(&w[1]["start"])));
}

#[test]
fn sort_by_outcome_lists_failures_first() {
    let outcomes: Vec<String> = connections(&["--sort", "outcome"])
        .iter()
        .map(|r| str_of(&r["outcome"]).to_string())
        .collect();
    let mut runs: Vec<(String, usize)> = Vec::new();
    for o in outcomes {
        match runs.last_mut() {
            Some((last, n)) if *last == o => *n += 1,
            _ => runs.push((o, 1)),
        }
    }
    assert_eq!(
        runs,
        [
            ("failed".to_string(), 75),
            ("unknown".to_string(), 8),
            ("ok".to_string(), 95)
        ]
    );
}

#[test]
fn sort_by_server() {
    let rs = connections(&["--sort", "server"]);
    let key = |r: &serde_json::Value| {
        (
            str_of(&r["sni"]).to_string(),
            str_of(&r["server"]).to_string(),
        )
    };
    // Connections without SNI first, then by SNI and server address.
    assert_eq!(key(&rs[0]), ("(null)".into(), "127.0.0.1:443".into()));
    assert_eq!(key(&rs[177]), ("localhost".into(), "127.0.0.1:8446".into()));
}

#[test]
fn findings_follow_the_sort_within_each_severity() {
    let first = tlscap(&[
        "--format",
        "json",
        "--view",
        "findings",
        "--sort",
        "time",
        "--outcome",
        "failed",
    ]);
    let first: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(first["file"], "samples/tls12-mtls-no-cert.pcap");
    assert_eq!(first["id"], "client-cert-missing");
    let table = tlscap(&[
        "--view",
        "findings",
        "--sort",
        "server",
        "--outcome",
        "failed",
        "--width",
        "120",
    ]);
    let first_row = table.lines().nth(3).unwrap();
    assert!(
        first_row.contains("icmp-unreachable") && first_row.contains("icmp-unreachable.pcap #0")
    );
}

#[test]
fn sort_by_severity_lists_the_worst_findings_first() {
    let rs = connections(&["--sort", "severity"]);
    let rank = |r: &serde_json::Value| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| match str_of(&f["severity"]) {
                "error" => 3,
                "warning" => 2,
                _ => 1,
            })
            .max()
            .unwrap_or(0)
    };
    let mut runs: Vec<(u32, usize)> = Vec::new();
    for r in &rs {
        match runs.last_mut() {
            Some((last, n)) if *last == rank(r) => *n += 1,
            _ => runs.push((rank(r), 1)),
        }
    }
    // 75 connections with an error, 20 with a warning at worst, 13 with info only, 70 clean.
    assert_eq!(runs, [(3, 75), (2, 20), (1, 13), (0, 70)]);
    let at = |i: usize| (str_of(&rs[i]["file"]), rs[i]["index"].as_u64().unwrap());
    assert_eq!(at(0), ("samples/tls12-mtls-no-cert.pcap", 0));
    assert_eq!(at(75), ("samples/tls12-no-sni.pcap", 0));
    assert_eq!(at(95), ("samples/ring/ring.pcap1", 0));
    assert_eq!(at(108), ("samples/tls13-curl-sni.pcap", 0));
    // Each group by start time.
    for (from, to) in [(0, 75), (75, 95), (95, 108), (108, 178)] {
        assert!(rs[from..to]
            .windows(2)
            .all(|w| str_of(&w[0]["start"]) <= str_of(&w[1]["start"])));
    }
}
