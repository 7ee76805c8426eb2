//! One capture spread over several flow-table shards (reader thread + workers + merger) must
//! give exactly what the single-threaded pipeline gives: the same records with the same
//! indexes, handshakes, TCP facts, statistics, warnings, notes and errors. Checked on every
//! sample (with the key logs beside them), on every corpus capture, and on cut captures.

mod common;

use std::path::{Path, PathBuf};
use tlscap::app::{analyze_file, FileAnalysis, Options};

/// Everything an analysis produced, as text (Debug covers every field).
fn fingerprint(a: &FileAnalysis) -> String {
    format!(
        "{:#?}\n{:#?}\n{:#?}\n{:#?}\n{:?}\n{:?}\n{:?}",
        a.connections,
        a.handshakes,
        a.tcp,
        a.stats,
        a.warnings,
        a.notes,
        a.error.as_ref().map(|e| e.to_string())
    )
}

/// Analyses `path` in line and with 2 and 3 shards; panics on the first difference.
fn assert_same(path: &Path, base: &Options) -> usize {
    let in_line = analyze_file(path, base);
    let expected = fingerprint(&in_line);
    for shards in [2, 3] {
        let opts = Options {
            shards,
            ..base.clone()
        };
        let got = fingerprint(&analyze_file(path, &opts));
        if got != expected {
            let line = got
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "{}: {shards} shards differ from the single-threaded run at line {line}:\n  \
                 sharded: {:?}\n  in line: {:?}",
                path.display(),
                got.lines().nth(line),
                expected.lines().nth(line)
            );
        }
    }
    in_line.connections.len()
}

fn captures_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = tlscap::app::expand_inputs(&[dir.to_path_buf()]).files;
    files.sort();
    files
}

#[test]
fn samples_are_identical_in_line_and_sharded() {
    // As the CLI runs by default: key logs beside captures, cleartext HTTP decoded.
    let opts = Options {
        auto_keylog: true,
        observer: tlscap::tls::ObserverConfig {
            cleartext_http: true,
            ..Default::default()
        },
        ..Options::default()
    };
    let files = captures_under(&common::root().join("samples"));
    assert!(files.len() >= 40, "samples/ has {} captures", files.len());
    let records: usize = files.iter().map(|f| assert_same(f, &opts)).sum();
    // `tlscap samples/` reports 178 connections: 110, 16 in samples/compare/, 16 in
    // samples/hmac/, 3 in samples/mtu/, 8 QUIC and 3 answered by ICMP in samples/quic/, 14 in
    // samples/tunnels/, 2 in samples/ring/ and 6 DTLS in samples/dtls/.
    assert_eq!(records, 178);
}

#[test]
fn corpus_is_identical_in_line_and_sharded() {
    let Some(corpus) = common::corpus("corpus_is_identical_in_line_and_sharded") else {
        return;
    };
    let opts = Options {
        all: true,
        ..Options::default()
    };
    let files = captures_under(&corpus);
    let records: usize = files.iter().map(|f| assert_same(f, &opts)).sum();
    assert!(
        files.len() >= 300 && records > 1000,
        "{} files",
        files.len()
    );
}

#[test]
fn cut_captures_are_identical_in_line_and_sharded() {
    // A capture cut mid-packet: the records read before the damage and the error agree.
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "tls12-mtls-cert-sent.pcap",
        "tls12-no-sni.pcap",
        "multi.pcapng",
    ] {
        let src = common::sample(name);
        let Ok(bytes) = std::fs::read(&src) else {
            panic!("missing sample {name}");
        };
        for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 7] {
            let p = dir.path().join(format!("cut-{cut}-{name}"));
            std::fs::write(&p, &bytes[..cut]).unwrap();
            assert_same(&p, &Options::default());
        }
    }
}
