//! A rotated capture (samples/ring/: `tcpdump -C 1` during a 1.1 MB TLS download, made by
//! samples/ring/make_ring.sh): read piece by piece, the connection is cut in two; with
//! `--continuous` it is one record. Expected values are tshark's on the pieces merged in order
//! (`mergecap -a`): one TCP conversation of 935 frames, FINs in frames 933 and 934.

mod common;

use serde_json::Value;
use std::process::Command;

fn connections(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(["--format", "json", "--quiet", "--all"])
        .args(["--ca-file", "samples/pki/root.pem"])
        .args(args)
        .output()
        .expect("run tlscap");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "connection")
        .collect()
}

#[test]
fn pieces_read_apart_cut_the_connection() {
    let c = connections(&["samples/ring/"]);
    assert_eq!(c.len(), 2);
    assert_eq!(c[0]["file"], "samples/ring/ring.pcap");
    assert_eq!(c[0]["tcp"]["packets"], 784);
    assert_eq!(c[1]["file"], "samples/ring/ring.pcap1");
    assert_eq!(c[1]["tcp"]["midstream"], true);
    assert_eq!(c[1]["tcp"]["packets"], 151);
}

/// Named in any order (here the second piece first), the pieces are read by their first
/// packet's time.
#[test]
fn continuous_reads_the_pieces_as_one_capture() {
    for args in [
        &["--continuous", "samples/ring/"][..],
        &[
            "--continuous",
            "samples/ring/ring.pcap1",
            "samples/ring/ring.pcap",
        ][..],
    ] {
        let c = connections(args);
        assert_eq!(c.len(), 1, "{args:?}");
        let r = &c[0];
        assert_eq!(r["file"], "samples/ring/ring.pcap");
        assert_eq!(r["sni"], "api.tlscap.test");
        assert_eq!(r["version"], "TLS 1.2");
        assert_eq!(r["chain_status"], "trusted");
        assert_eq!(r["status"], "ok");
        assert_eq!(r["tcp"]["packets"], 935);
        assert_eq!(r["tcp"]["midstream"], false);
        assert_eq!(r["tcp"]["close"], "fin");
        assert_eq!(r["tcp"]["gaps"], 0);
    }
}

/// The pieces read as one give the same connection whether the capture is read on one
/// thread or split over several.
#[test]
fn continuous_pieces_in_line_and_sharded_agree() {
    use tlscap::app::{analyze_file, Options};
    let first = common::sample("ring/ring.pcap");
    let rest = vec![common::sample("ring/ring.pcap1")];
    let run = |shards: usize| {
        let opts = Options {
            shards,
            continued_in: rest.clone(),
            ..Options::default()
        };
        let a = analyze_file(&first, &opts);
        assert_eq!(a.connections.len(), 1);
        (
            a.connections[0].tcp.packets,
            a.tcp[0].server_bytes,
            a.stats.packets,
        )
    };
    assert_eq!(run(1), (935, 1_104_477, 935));
    assert_eq!(run(4), run(1));
}
