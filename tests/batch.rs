//! Batch runs: output does not depend on the thread count or on whether records spill to disk,
//! and the streaming batch agrees with the collecting single-file API.

mod common;

use std::path::PathBuf;
use std::process::Command;
use tlscap::app::{self, BatchOptions, Options};

/// samples/ plus a few corpus directories when the corpus is there.
fn inputs() -> Vec<String> {
    let mut v = vec!["samples/".to_string()];
    if let Some(c) = common::corpus("batch inputs") {
        for d in ["ja4/pcap", "wireshark"] {
            let p = c.join(d);
            if p.is_dir() {
                v.push(p.display().to_string());
            }
        }
    }
    v
}

fn tlscap(args: &[&str], inputs: &[String], env: &[(&str, &str)]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(["--quiet", "--ca-file", "samples/pki/root.pem"])
        .args(args)
        .args(inputs)
        .envs(env.iter().copied())
        .output()
        .expect("run tlscap");
    assert!(!out.stdout.is_empty(), "no output for {args:?}");
    out.stdout
}

#[test]
fn one_and_four_threads_give_identical_json() {
    let inputs = inputs();
    for view in ["connections", "findings", "servers", "files", "summary"] {
        let one = tlscap(
            &["--format", "json", "--view", view, "--threads", "1"],
            &inputs,
            &[],
        );
        let four = tlscap(
            &["--format", "json", "--view", view, "--threads", "4"],
            &inputs,
            &[],
        );
        assert!(
            one == four,
            "--view {view}: output differs between 1 and 4 threads"
        );
        if view == "connections" {
            let text = String::from_utf8_lossy(&one);
            // The cross-connection rule survived streaming (samples/sni-gated-client-auth.pcap).
            assert!(text.contains("\"id\":\"sni-gated-client-auth\""));
            assert!(text.lines().count() > 100, "{}", text.lines().count());
        }
    }
}

/// CSV rows are rendered a run at a time on the pool: same bytes as on one thread.
#[test]
fn one_and_four_threads_give_identical_csv() {
    let inputs = inputs();
    let csv = |threads| tlscap(&["--format", "csv", "--threads", threads], &inputs, &[]);
    let one = csv("1");
    assert!(one == csv("4"), "CSV differs between 1 and 4 threads");
    // One row per connection: as many as JSON connection lines (JSON also lists skipped files).
    let rows = csv::Reader::from_reader(&one[..]).records().count();
    let json = tlscap(&["--format", "json"], &inputs, &[]);
    let connections = String::from_utf8_lossy(&json)
        .lines()
        .filter(|l| l.starts_with("{\"type\":\"connection\""))
        .count();
    assert_eq!(rows, connections);
    assert!(rows > 40, "{rows} rows");
}

#[test]
fn spilling_to_disk_changes_nothing() {
    let inputs = inputs();
    for (view, format) in [("connections", "json"), ("findings", "csv")] {
        let args = ["--format", format, "--view", view, "--threads", "2"];
        let memory = tlscap(&args, &inputs, &[]);
        let disk = tlscap(&args, &inputs, &[("TLSCAP_SPILL_MEMORY", "0")]);
        assert!(memory == disk, "--view {view} --format {format}");
    }
}

#[test]
fn batch_agrees_with_single_file_analysis() {
    let root = common::root();
    let file = root.join("samples/sni-gated-client-auth.pcap");
    let opts = Options::default();
    let mut collected = [app::analyze_file(&file, &opts)];
    app::apply_cross_connection(&mut collected, &opts.findings);
    let batch = app::run_batch(
        &[PathBuf::from(&file)],
        &BatchOptions {
            analysis: opts,
            threads: Some(1),
            ..Default::default()
        },
    );
    let streamed = batch.records().expect("read spill");
    assert_eq!(streamed, collected[0].connections);
    assert_eq!(streamed.len(), 2);
    assert!(streamed[1]
        .findings
        .iter()
        .any(|f| f.kind.id() == "sni-gated-client-auth"));
    assert_eq!(batch.files[0].records(), 2);
}

/// A single capture split over several threads (forced, samples are small) gives the same
/// batch as one thread: records with cross-connection findings, statistics, spill counts.
/// Batches of a few segments make these small captures cross many batch boundaries, and
/// reports to the merger that each cover several batches; reporting past 1 ended connection
/// makes the workers report after different batches, which the merger pairs batch by batch.
/// In concurrent-clients.pcap 8 connections are open at once, so connections opened in one
/// batch end many batches later, on other workers than their neighbours.
#[test]
fn one_capture_split_over_threads_gives_the_same_batch() {
    for name in [
        "concurrent-clients.pcap",
        "sni-gated-client-auth.pcap",
        "multi.pcapng",
        "tls13-http-401-200.pcap",
    ] {
        let file = common::sample(name);
        let run = |threads: usize, batch_segments: usize, ended_per_report: usize| {
            let batch = app::run_batch(
                std::slice::from_ref(&file),
                &BatchOptions {
                    analysis: Options {
                        auto_keylog: true,
                        batch_segments,
                        ended_per_report,
                        ..Options::default()
                    },
                    threads: Some(threads),
                    shard_min_bytes: Some(0),
                    ..Default::default()
                },
            );
            let records = batch.records().expect("read spill");
            let f = &batch.files[0];
            (
                records,
                format!("{:?}", f.analysis.stats),
                f.records(),
                f.findings,
            )
        };
        let one = run(1, 0, 0);
        assert!(!one.0.is_empty(), "{name}: no records");
        for threads in [2, 3] {
            for batch_segments in [0, 1, 3, 7] {
                for ended_per_report in [0, 1] {
                    assert!(
                        run(threads, batch_segments, ended_per_report) == one,
                        "{name}: {threads} threads, batches of {batch_segments} segments, reports past {ended_per_report} ended differ from 1"
                    );
                }
            }
        }
    }
}

/// The scenario: a tree with nested folders, a gzip'd capture, a pcapng, a truncated
/// capture, a non-capture file and an empty file, analysed by one command. All captures are
/// real samples (the truncated one is a real sample cut mid-record).
#[test]
fn a_tree_of_good_and_bad_files_in_one_command() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let copy = |from: &str, to: &str| {
        let dest = root.join(to);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(common::sample(from), dest).unwrap();
    };
    copy("tls12-leaf-only.pcap", "site-a/2026/leaf-only.pcap");
    copy("tls13-curl-sni.pcap.gz", "site-a/2026/nov/curl.pcap.gz");
    copy("multi.pcapng", "site-b/multi.pcapng");
    copy("tcp-refused.pcap", "site-b/deep/er/refused.cap");
    let full = std::fs::read(common::sample("sni-gated-client-auth.pcap")).unwrap();
    std::fs::write(
        root.join("site-b/cut.pcap"),
        &full[..full.len() * 3 / 4 + 7],
    )
    .unwrap();
    std::fs::write(
        root.join("site-a/notes.txt"),
        "customer says: 401 since Monday\n",
    )
    .unwrap();
    std::fs::write(root.join("site-b/empty.pcap"), b"").unwrap();
    std::fs::write(root.join("site-b/empty-notes"), b"").unwrap();
    std::fs::write(root.join(".hidden.pcap"), b"junk").unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .args([
            "--format",
            "json",
            "--view",
            "connections",
            "--no-auto-keylog",
        ])
        .arg(root)
        .output()
        .unwrap();
    // Exit code 1: some input could not be read (documented in README).
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let name = |r: &serde_json::Value| {
        PathBuf::from(r["file"].as_str().unwrap())
            .strip_prefix(root)
            .unwrap()
            .display()
            .to_string()
    };
    let by_type = |t: &str| -> Vec<(String, serde_json::Value)> {
        records
            .iter()
            .filter(|r| r["type"] == t)
            .map(|r| (name(r), r.clone()))
            .collect()
    };
    // Every capture analysed, in path order, with its connections.
    let files: Vec<String> = by_type("connection").into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        files,
        [
            "site-a/2026/leaf-only.pcap",
            "site-a/2026/nov/curl.pcap.gz",
            "site-b/cut.pcap",
            "site-b/cut.pcap",
            "site-b/deep/er/refused.cap",
            "site-b/multi.pcapng",
            "site-b/multi.pcapng",
        ]
    );
    // The truncated capture's early connections are reported.
    let cut: Vec<serde_json::Value> = by_type("connection")
        .into_iter()
        .filter(|(f, _)| f == "site-b/cut.pcap")
        .map(|(_, r)| r)
        .collect();
    assert_eq!(cut[0]["sni"], "api.tlscap.test");
    assert_eq!(cut[0]["cert_requested"], true);
    // Bad files are named with reasons, in the JSON stream and on stderr.
    let errors = by_type("error");
    let reasons: Vec<(String, String)> = errors
        .iter()
        .map(|(f, r)| (f.clone(), r["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].0 == "site-b/cut.pcap" && reasons[0].1.contains("truncated at byte offset"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].0 == "site-b/empty.pcap" && reasons[1].1.contains("empty file"),
        "{reasons:?}"
    );
    let skipped: Vec<(String, String)> = by_type("skipped")
        .into_iter()
        .map(|(f, r)| (f, r["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "site-a/notes.txt".to_string(),
                "not a capture (starts with 63757374 (cust))".to_string()
            ),
            ("site-b/empty-notes".to_string(), "empty file".to_string()),
        ]
    );
    for f in ["cut.pcap", "empty.pcap", "notes.txt", "empty-notes"] {
        assert!(stderr.contains(f), "stderr does not name {f}:\n{stderr}");
    }
    assert!(!stderr.contains(".hidden"), "hidden files are not walked");
}

/// Records decoded and serialised on a pool, a run at a time, come out in order and
/// byte-identical to reading them one by one, for any pool size and run length (samples, and
/// when present the corpus directories, whose larger captures hold up to 100 connections).
#[test]
fn record_runs_on_a_pool_keep_order_and_bytes() {
    let paths: Vec<PathBuf> = inputs().iter().map(PathBuf::from).collect();
    let batch = app::run_batch(
        &paths,
        &BatchOptions {
            threads: Some(2),
            ..BatchOptions::default()
        },
    );
    let mut expected = Vec::new();
    let mut records = 0;
    for i in 0..batch.files.len() {
        batch
            .for_each_record(i, &mut |r| {
                serde_json::to_writer(&mut expected, &r).unwrap();
                expected.push(b'\n');
                records += 1;
                Ok(())
            })
            .unwrap();
    }
    // Samples alone hold up to 2 records per file (so runs of 1 split files); the corpus
    // files up to 100.
    assert!(records > 40, "{records} records");
    let serialise = |rs: Vec<tlscap::record::ConnectionRecord>| {
        let mut buf = Vec::new();
        tlscap::report::write_json_lines(&mut buf, &rs)?;
        Ok((rs.len(), buf))
    };
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for run in [1, 7, app::RECORD_RUN] {
            let mut out = Vec::new();
            let mut runs = 0;
            for i in 0..batch.files.len() {
                batch
                    .map_record_runs(i, run, Some(&pool), &serialise, &mut |(n, buf)| {
                        assert!((1..=run).contains(&n), "a run of {n}, asked for {run}");
                        runs += 1;
                        out.extend_from_slice(&buf);
                        Ok(())
                    })
                    .unwrap();
            }
            assert!(
                out == expected,
                "{threads} threads, runs of {run}: JSON lines differ"
            );
            if run == 1 {
                assert_eq!(runs, records);
            }
        }
    }
    // Both kinds of cross-connection finding are among the lines compared (the frames'
    // findings are merged with them, worst first).
    let text = String::from_utf8_lossy(&expected);
    for id in ["sni-gated-client-auth", "client-cert-not-requested"] {
        assert!(text.contains(&format!("{{\"id\":\"{id}\"")), "no {id}");
    }
}

/// The JSON printer renders a chain several records share once per run and writes that text
/// for the others, byte-identical to serialising each record alone.
/// `cert-inconsistent-pool.pcap`: four connections to a pool whose servers send two different
/// chains (with one leaf), two connections each; `tunnels/vxlan-two-vnis.pcap`: the same
/// connection in two VXLAN segments, one chain.
#[test]
fn shared_chains_render_once_and_identically() {
    for (name, with_chain, distinct) in [
        ("samples/cert-inconsistent-pool.pcap", 4, 2),
        ("samples/tunnels/vxlan-two-vnis.pcap", 2, 1),
    ] {
        let batch = app::run_batch(&[PathBuf::from(name)], &BatchOptions::default());
        let records = batch.records().unwrap();
        let chains: Vec<_> = records
            .iter()
            .filter_map(|r| r.server_chain.as_ref())
            .collect();
        assert_eq!(chains.len(), with_chain, "{name}");
        let mut shared: Vec<&std::sync::Arc<[tlscap::certs::CertInfo]>> = Vec::new();
        for c in &chains {
            if !shared.iter().any(|s| std::sync::Arc::ptr_eq(s, c)) {
                shared.push(c);
            }
        }
        assert_eq!(shared.len(), distinct, "{name}: shared copies");
        let mut alone = Vec::new();
        for r in &records {
            sonic_rs::to_writer(&mut alone, r).unwrap();
            alone.push(b'\n');
        }
        let mut run = Vec::new();
        tlscap::report::json_lines(&mut run, &records).unwrap();
        assert_eq!(
            String::from_utf8(run).unwrap(),
            String::from_utf8(alone).unwrap(),
            "{name}"
        );
    }
}
