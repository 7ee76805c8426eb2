//! The memory budget (`--max-memory`) and what it degrades, and the `syn-flood` finding.
//!
//! tests/fixtures/small-flood.pcap and small-alerts.pcap are made by
//! `benches/hostile/make_hostile.py tests/fixtures small-flood small-alerts`: hand-built
//! packets, since they model an attacker's traffic that no real stack would send.

mod common;

use serde_json::Value;
use std::process::Command;
use tlscap::app::{analyze_file, Options};
use tlscap::findings::FindingKind;
use tlscap::flow::FlowConfig;

fn run_json(args: &[&str]) -> (Vec<Value>, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(["--format", "json", "--quiet"])
        .args(args)
        .output()
        .expect("run tlscap");
    let values = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    (values, out.status.code().unwrap_or(-1))
}

/// (record index, finding message) of every finding with this id.
fn findings_with(records: &[Value], id: &str) -> Vec<(u64, String)> {
    records
        .iter()
        .filter(|r| r["type"] == "connection")
        .flat_map(|r| {
            r["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["id"] == id)
                .map(|f| (r["index"].as_u64().unwrap(), f["message"].to_string()))
        })
        .collect()
}

fn with_table_budget(bytes: usize) -> Options {
    Options {
        flow: FlowConfig {
            max_memory: bytes,
            ..FlowConfig::default()
        },
        ..Options::default()
    }
}

/// multi.pcapng: a connection with SNI, then one without. With a 7,400-byte table the first is
/// over budget once its handshake buffers fill (after packet 6): it is finalized early and
/// says so, and its remaining packets are picked up as a mid-stream connection. (The budget
/// sits mid-way in the range that gives this, about 7,110 to 7,700 bytes: the range moves
/// with the size of a connection's entry.)
#[test]
fn a_connection_over_budget_is_finalized_early_and_says_so() {
    let a = analyze_file(&common::sample("multi.pcapng"), &with_table_budget(7400));
    let summary: Vec<(u64, u64, u64, bool)> = a
        .connections
        .iter()
        .map(|r| (r.index, r.first_packet, r.tcp.packets, r.tcp.midstream))
        .collect();
    assert_eq!(
        summary,
        [
            (0, 1, 6, false),
            (1, 7, 12, true),
            (2, 19, 6, false),
            (3, 25, 11, true)
        ]
    );
    let first = &a.connections[0];
    assert_eq!(first.sni.as_deref(), Some("api.tlscap.test"));
    let budget: Vec<&str> = first
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::MemoryBudget)
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(
        budget,
        ["Finalized early, still open, after packet 6: the connection table was over its memory budget (--max-memory) and this was its least recently active connection; anything it did later is not in this record."]
    );

    // The default budget holds both connections whole.
    let a = analyze_file(&common::sample("multi.pcapng"), &Options::default());
    assert_eq!(a.connections.len(), 2);
    assert_eq!(a.connections[0].tcp.packets, 18);
    assert!(a.connections.iter().all(|r| r
        .findings
        .iter()
        .all(|f| f.kind != FindingKind::MemoryBudget)));
}

/// The command line's budget reaches the tables: 23,360 bytes (a 7,300-byte table on one
/// thread, 5/16 of it) gives the records above.
#[test]
fn max_memory_option_sets_the_table_budget() {
    let (records, code) = run_json(&[
        "--threads",
        "1",
        "--max-memory",
        "23360",
        "samples/multi.pcapng",
    ]);
    assert_eq!(code, 0);
    let budget = findings_with(&records, "memory-budget");
    assert_eq!(
        budget.iter().map(|b| b.0).collect::<Vec<_>>(),
        [0, 2],
        "{budget:?}"
    );
    for bad in ["0", "12X", "M"] {
        let (_, code) = run_json(&["--max-memory", bad, "samples/multi.pcapng"]);
        assert_eq!(code, 2, "--max-memory {bad}");
    }
}

/// 300 unanswered SYNs to 10.0.0.1:443 from 60 sources in 2.99 s, then 10.9.9.9 tries ports
/// 1..100 of 10.0.0.2 (each refused), then one ordinary connection: one flood finding on the
/// flood's first connection, one scan finding on the scan's first.
#[test]
fn syn_flood_and_scan_are_named_once_with_their_counts() {
    let (records, code) = run_json(&["tests/fixtures/small-flood.pcap"]);
    assert_eq!(code, 0);
    assert_eq!(
        records.iter().filter(|r| r["type"] == "connection").count(),
        401
    );
    assert_eq!(
        findings_with(&records, "syn-flood"),
        [
            (0, "\"SYN flood: 300 unanswered SYNs (300 connection attempts) from 60 sources in 2.99 s to 10.0.0.1:443 (100 attempts/s), none answered.\"".to_string()),
            (300, "\"Port scan: 10.9.9.9 tried 100 ports of 10.0.0.2 in 0.099 s (100 attempts, 100 refused by RST, 0 unanswered).\"".to_string()),
        ]
    );
    let first = &records[0];
    let flood = first["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "syn-flood")
        .unwrap();
    assert_eq!(flood["severity"], "warning");
}

/// 100 warning alerts from the server: 64 listed, the rest counted in a finding.
#[test]
fn alerts_past_the_cap_are_counted_not_listed() {
    let (records, code) = run_json(&["tests/fixtures/small-alerts.pcap"]);
    assert_eq!(code, 0);
    let r = &records[0];
    assert_eq!(r["alerts"].as_array().map(Vec::len), Some(64));
    assert_eq!(r["alerts"][63]["description"], "unrecognized_name");
    assert_eq!(
        findings_with(&records, "memory-budget"),
        [(
            0,
            "\"100 alerts: the first 64 are listed, the other 36 only counted.\"".to_string()
        )]
    );
}
