//! JA4 of every TCP stream and every QUIC connection equals FoxIO's snapshots shipped in the
//! corpus (`ja4/rust/ja4/src/snapshots/ja4__insta@<capture>.snap`).

mod common;

use tlscap::app::{analyze_file, Options};

/// One TCP stream of a snapshot with a JA4.
#[derive(Debug, Default, Clone)]
struct SnapStream {
    stream: u64,
    transport: String,
    src: String,
    dst: String,
    src_port: String,
    dst_port: String,
    ja4: Option<String>,
}

fn parse_snap(text: &str) -> Vec<SnapStream> {
    let mut out: Vec<SnapStream> = Vec::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("- stream: ") {
            out.push(SnapStream {
                stream: n.trim().parse().unwrap_or(u64::MAX),
                ..Default::default()
            });
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        let Some(kv) = line.strip_prefix("  ") else {
            continue;
        };
        if kv.starts_with(' ') || kv.starts_with('-') {
            continue;
        }
        let Some((k, v)) = kv.split_once(": ") else {
            continue;
        };
        let v = v.trim().trim_matches('\'').to_string();
        match k {
            "transport" => cur.transport = v,
            "src" => cur.src = v,
            "dst" => cur.dst = v,
            "src_port" => cur.src_port = v,
            "dst_port" => cur.dst_port = v,
            "ja4" => cur.ja4 = Some(v),
            _ => {}
        }
    }
    out
}

fn sock(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

#[test]
fn ja4_matches_foxio_snapshots() {
    let Some(corpus) = common::corpus("ja4_matches_foxio_snapshots") else {
        return;
    };
    let (checked, failures) = compare(&corpus, "tcp", 't');
    println!(
        "JA4: {} of {checked} TCP streams match the FoxIO snapshots",
        checked - failures.len()
    );
    assert!(
        checked >= 150,
        "expected to check the snapshots' TCP streams, checked {checked}"
    );
    assert!(
        failures.is_empty(),
        "JA4 mismatches:\n{}",
        failures.join("\n")
    );
}

/// QUIC: the snapshots' `udp` streams carry `q` fingerprints (51 in the corpus: Chrome to
/// Google and Cloudflare, v1).
#[test]
fn quic_ja4_matches_foxio_snapshots() {
    let Some(corpus) = common::corpus("quic_ja4_matches_foxio_snapshots") else {
        return;
    };
    let (checked, failures) = compare(&corpus, "udp", 'q');
    println!(
        "JA4: {} of {checked} QUIC connections match the FoxIO snapshots",
        checked - failures.len()
    );
    assert_eq!(checked, 51);
    assert!(
        failures.is_empty(),
        "JA4 mismatches:\n{}",
        failures.join("\n")
    );
}

/// Every snapshot stream of `transport` whose JA4 starts with `prefix`, against ours: how many
/// were checked, and the mismatches.
fn compare(corpus: &std::path::Path, transport: &str, prefix: char) -> (usize, Vec<String>) {
    let snaps = corpus.join("ja4/rust/ja4/src/snapshots");
    let mut entries: Vec<_> = std::fs::read_dir(&snaps)
        .expect("snapshots dir")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    let (mut checked, mut failures) = (0usize, Vec::new());
    for e in entries {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(capture) = name
            .strip_prefix("ja4__insta@")
            .and_then(|n| n.strip_suffix(".snap"))
        else {
            continue;
        };
        let text = std::fs::read_to_string(e.path()).unwrap();
        let streams: Vec<SnapStream> = parse_snap(&text)
            .into_iter()
            .filter(|s| {
                s.transport == transport && s.ja4.as_deref().is_some_and(|j| j.starts_with(prefix))
            })
            .collect();
        if streams.is_empty() {
            continue;
        }
        let analysis = analyze_file(&corpus.join("ja4/pcap").join(capture), &Options::default());
        for s in streams {
            let client = sock(&s.src, &s.src_port);
            let server = sock(&s.dst, &s.dst_port);
            let ours: Vec<&str> = analysis
                .connections
                .iter()
                .filter(|r| r.client.to_string() == client && r.server.to_string() == server)
                .filter_map(|r| r.ja4.as_deref())
                .collect();
            checked += 1;
            let want = s.ja4.clone().unwrap();
            if !ours.contains(&want.as_str()) {
                failures.push(format!(
                    "{capture} stream {} {client}→{server}: want {want}, got {ours:?}",
                    s.stream
                ));
            }
        }
    }
    (checked, failures)
}
