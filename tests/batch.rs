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
        .any(|f| f.id == "sni-gated-client-auth"));
    assert_eq!(batch.files[0].records(), 2);
}
