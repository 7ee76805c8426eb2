//! The hand-written JSON writer of connection records against serde_json on real records:
//! every record of every sample and of every shared-corpus capture must serialise to the same
//! bytes (`tlscap::report::json::write_connection` vs `serde_json::to_vec`), alone and as the
//! lines `write_connections` writes for a run of records (which renders shared chains once).

mod common;

use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tlscap::app::{analyze_file, apply_cross_connection, Options};
use tlscap::report::json::{write_connection, write_connections};
use tlscap::tls::keylog::KeyLog;

/// Records compared, and how many of them had the optional parts that are easy to miss.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    records: usize,
    server_chain: usize,
    /// Records whose server chain is the same `Arc` as an earlier record's (rendered from the
    /// run's chain cache by `write_connections`).
    shared_chain: usize,
    alerts: usize,
    findings: usize,
    decryption: usize,
    http: usize,
}

impl std::ops::Add for Counts {
    type Output = Counts;
    fn add(self, o: Counts) -> Counts {
        Counts {
            records: self.records + o.records,
            server_chain: self.server_chain + o.server_chain,
            shared_chain: self.shared_chain + o.shared_chain,
            alerts: self.alerts + o.alerts,
            findings: self.findings + o.findings,
            decryption: self.decryption + o.decryption,
            http: self.http + o.http,
        }
    }
}

/// Analyses `path` (all TCP connections, cross-connection findings included) and compares each
/// record's two serialisations.
fn compare_file(path: &Path, opts: &Options) -> Counts {
    let mut a = [analyze_file(path, opts)];
    apply_cross_connection(&mut a, &opts.findings);
    let [a] = a;
    for r in &a.connections {
        let mut ours = Vec::new();
        write_connection(&mut ours, r);
        let theirs = serde_json::to_vec(r).expect("serde_json");
        if ours != theirs {
            panic!(
                "{} connection {}:\n ours: {}\nserde: {}",
                path.display(),
                r.index,
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
    }
    let mut lines = Vec::new();
    write_connections(&mut lines, &a.connections);
    let mut expected = Vec::new();
    for r in &a.connections {
        expected.extend(serde_json::to_vec(r).expect("serde_json"));
        expected.push(b'\n');
    }
    assert!(
        lines == expected,
        "{}: write_connections differs from serde_json lines",
        path.display()
    );
    let shared_chain = a
        .connections
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            r.server_chain.as_ref().is_some_and(|c| {
                a.connections[..*i]
                    .iter()
                    .any(|e| e.server_chain.as_ref().is_some_and(|d| Arc::ptr_eq(c, d)))
            })
        })
        .count();
    let count = |f: fn(&tlscap::model::ConnectionRecord) -> bool| {
        a.connections.iter().filter(|r| f(r)).count()
    };
    Counts {
        records: a.connections.len(),
        server_chain: count(|r| r.server_chain.is_some()),
        shared_chain,
        alerts: count(|r| !r.alerts.is_empty()),
        findings: count(|r| !r.findings.is_empty()),
        decryption: count(|r| r.decryption.is_some()),
        http: count(|r| !r.http.is_empty()),
    }
}

#[test]
fn samples_serialise_like_serde_json() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(common::root().join("samples"))
        .expect("samples/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            [".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz"]
                .iter()
                .any(|ext| name.ends_with(ext))
        })
        .collect();
    files.sort();
    // With the samples' root trusted and their key logs (decryption and HTTP records), and
    // without either (no-key / untrusted variants of the same connections).
    let trust = tlscap::certs::TrustOptions {
        extra_ca_files: vec![common::sample("pki/root.pem")],
        ..Default::default()
    };
    let with_keys = Options {
        all: true,
        auto_keylog: true,
        validator: Some(tlscap::app::shared_validator(&trust).expect("samples root")),
        ..Options::default()
    };
    let plain = Options {
        all: true,
        ..Options::default()
    };
    let mut compared = Counts::default();
    for f in &files {
        compared = compared + compare_file(f, &with_keys) + compare_file(f, &plain);
    }
    println!(
        "json writer: {} sample records identical to serde_json ({} captures): {compared:?}",
        compared.records,
        files.len()
    );
    assert!(compared.records > 0, "no sample records compared");
    // The samples ship key logs: decrypted records must be among those compared.
    assert!(compared.decryption > 0 && compared.http > 0, "{compared:?}");
    // Connections that share a chain, so the chain cache of `write_connections` was used.
    assert!(compared.shared_chain > 0, "{compared:?}");
}

#[test]
fn corpus_serialises_like_serde_json() {
    let Some(corpus) = common::corpus("corpus_serialises_like_serde_json") else {
        return;
    };
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    // Path and the keylog_path column (`;`-separated, notes in parentheses): NSS key logs given
    // there are used, so decrypted connections (decryption, http) are compared too.
    let rows: Vec<(String, Option<Arc<KeyLog>>)> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let path = (*cols.first()?).to_owned();
            let mut text = Vec::new();
            for k in cols.get(13).copied().unwrap_or("").split(';') {
                let k = k.split(" (").next().unwrap_or("").trim();
                if k.ends_with(".keys") || k.ends_with("keylog.dat") {
                    if let Ok(bytes) = std::fs::read(corpus.join(k)) {
                        text.extend_from_slice(&bytes);
                        text.push(b'\n');
                    }
                }
            }
            let keylog =
                (!text.is_empty()).then(|| Arc::new(KeyLog::parse(&text, "--keylog corpus")));
            Some((path, keylog))
        })
        .collect();
    let compared = rows
        .par_iter()
        .map(|(rel, keylog)| {
            let opts = Options {
                all: true,
                keylog: keylog.clone(),
                ..Options::default()
            };
            compare_file(&corpus.join(rel), &opts)
        })
        .reduce(Counts::default, |a, b| a + b);
    println!(
        "json writer: {} corpus records identical to serde_json ({} captures): {compared:?}",
        compared.records,
        rows.len()
    );
    assert!(compared.records > 0, "no corpus records compared");
}
