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

fn finding_ids(r: &Value) -> Vec<&str> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect()
}

/// Read apart, each piece says the other file continues it: the first piece's last packet
/// (784, open) and the second's first (1, mid-stream) are 1 µs apart (tshark: frame times
/// 1796537761.277948 and .277949). The first piece shows a handshake and an answered download,
/// so it worked as far as it goes (ok); the second, picked up mid-stream, cannot be judged.
#[test]
fn pieces_read_apart_cut_the_connection() {
    let c = connections(&["samples/ring/"]);
    assert_eq!(c.len(), 2);
    assert_eq!(c[0]["file"], "samples/ring/ring.pcap");
    assert_eq!(c[0]["tcp"]["packets"], 784);
    assert_eq!(c[0]["tcp"]["close"], Value::Null);
    assert_eq!(c[1]["file"], "samples/ring/ring.pcap1");
    assert_eq!(c[1]["tcp"]["midstream"], true);
    assert_eq!(c[1]["tcp"]["packets"], 151);
    assert_eq!(c[0]["outcome"], "ok");
    assert_eq!(c[1]["outcome"], "unknown");
    for r in &c {
        assert_eq!(r["cause"], Value::Null);
        assert_eq!(finding_ids(r), ["split-across-files"]);
        assert_eq!(r["findings"][0]["severity"], "info");
    }
    assert_eq!(
        c[0]["findings"][0]["message"],
        "This file ends inside a connection that continues in samples/ring/ring.pcap1 (connection #0): read the files together with --continuous to see it whole; it worked as far as this piece shows."
    );
    assert_eq!(
        c[0]["findings"][0]["evidence"],
        "Still open (no FIN or RST) at its last packet 784; the same addresses' connection #0 of samples/ring/ring.pcap1 starts mid-stream (packet 1) 0.000001 s later."
    );
    assert_eq!(
        c[1]["findings"][0]["message"],
        "This file starts inside a connection that began in samples/ring/ring.pcap (connection #0): read the files together with --continuous to see it whole; its outcome cannot be judged from this piece."
    );
    assert_eq!(
        c[1]["findings"][0]["evidence"],
        "First packet 1 is not a SYN; the same addresses' connection #0 of samples/ring/ring.pcap was still open at that file's end, its last packet (packet 784) 0.000001 s before."
    );
}

/// One piece alone: no other file continues it, so the cut is named as the capture's own on
/// the second piece, which starts mid-stream. The first piece's handshake completed and its
/// download was answered: the end of the capture takes nothing from that (ok, no finding).
#[test]
fn a_piece_alone_says_the_capture_cuts_the_connection() {
    let first = connections(&["samples/ring/ring.pcap"]);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["status"], "ok");
    assert_eq!(first[0]["outcome"], "ok");
    assert_eq!(finding_ids(&first[0]), Vec::<&str>::new());
    let second = connections(&["samples/ring/ring.pcap1"]);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["status"], "incomplete");
    assert_eq!(second[0]["outcome"], "unknown");
    assert_eq!(finding_ids(&second[0]), ["capture-cut"]);
    assert_eq!(
        second[0]["findings"][0]["message"],
        "The capture starts inside this connection: what happened before its first packet (the handshake, if it was not yet over) is not in this file, so its outcome cannot be judged."
    );
    // `explain` and `compare` read files one by one (app::analyze_file): the same finding.
    use tlscap::app::{analyze_file, apply_cross_connection, Options};
    let opts = Options::default();
    let mut a = vec![analyze_file(&common::sample("ring/ring.pcap1"), &opts)];
    apply_cross_connection(&mut a, &opts.findings);
    let ids: Vec<&str> = a[0].connections[0]
        .findings
        .iter()
        .map(|f| f.kind.id())
        .collect();
    assert_eq!(ids, ["capture-cut"]);
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
        // Read as one, nothing is cut.
        assert_eq!(finding_ids(r), Vec::<&str>::new());
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
