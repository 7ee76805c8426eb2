//! Differential test against tshark over `../shared/corpus`.
//!
//! For every TCP connection in which tshark decodes a ClientHello, tlscap must agree on SNI,
//! negotiated version, cipher suite, whether a CertificateRequest was sent, and the number of
//! server certificates. The agreement rate is printed; every disagreement must be listed with its
//! reason in `tests/tshark_known_differences.tsv`, else the test fails.
//!
//! tshark runs with `tcp.reassemble_out_of_order` on: tlscap reorders segments that arrive
//! ahead of a hole, and with tshark's default (off) a handshake whose segments were captured
//! out of order (nDPI teams.pcap, viber.pcap, ...) is simply not decoded by tshark.

mod common;

use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use tlscap::app::{analyze_file, Options};

/// tshark's view of one TCP stream.
#[derive(Debug, Default, Clone, PartialEq)]
struct TsharkConn {
    client_hello_frame: u64,
    client_src: String,
    sni: Option<String>,
    version: Option<u16>,
    cipher: Option<u16>,
    cert_request: bool,
    server_certs: Option<usize>,
}

const FIELDS: &[&str] = &[
    "frame.number",
    "tcp.stream",
    "ip.src",
    "ipv6.src",
    "tcp.srcport",
    "tls.handshake.type",
    "tls.handshake.extensions_server_name",
    "tls.handshake.version",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.ciphersuite",
    "tls.handshake.certificate_length",
];

fn num(s: &str) -> Option<u16> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        u16::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

fn tshark_view(file: &Path) -> Option<BTreeMap<u64, TsharkConn>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-n", "-o", "tcp.reassemble_out_of_order:TRUE"])
        .args(["-Y", "tls.handshake.type", "-T", "fields"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    cmd.args([
        "-E",
        "separator=\t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut streams: BTreeMap<u64, TsharkConn> = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < FIELDS.len() {
            continue;
        }
        let Ok(stream) = cols[1].parse::<u64>() else {
            continue;
        }; // not TCP (QUIC, DTLS)
        let frame: u64 = cols[0].parse().unwrap_or(0);
        let src = format!("{}{}:{}", cols[2], cols[3], cols[4]);
        let types: Vec<&str> = cols[5].split(',').collect();
        let c = streams.entry(stream).or_default();
        for t in &types {
            match *t {
                "1" if c.client_hello_frame == 0 => {
                    c.client_hello_frame = frame;
                    c.client_src = src.clone();
                    c.sni = cols[6]
                        .split(',')
                        .next()
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned);
                }
                "2" if c.client_hello_frame != 0 && src != c.client_src => {
                    // The last ServerHello wins (a HelloRetryRequest comes first).
                    let legacy = cols[7].split(',').next_back().and_then(num);
                    let sv = cols[8].split(',').next_back().and_then(num);
                    c.version = sv.or(legacy);
                    c.cipher = cols[9].split(',').next_back().and_then(num);
                }
                "13" if src != c.client_src => c.cert_request = true,
                "11" if c.client_hello_frame != 0
                    && src != c.client_src
                    && c.server_certs.is_none() =>
                {
                    c.server_certs = Some(cols[10].split(',').filter(|s| !s.is_empty()).count());
                }
                _ => {}
            }
        }
    }
    streams.retain(|_, c| c.client_hello_frame != 0);
    Some(streams)
}

#[test]
fn agrees_with_tshark_on_the_corpus() {
    let Some(corpus) = common::corpus("agrees_with_tshark_on_the_corpus") else {
        return;
    };
    if !common::have("tshark") {
        eprintln!(
            "SKIP agrees_with_tshark_on_the_corpus: tshark is not installed (.ci/run installs it)"
        );
        return;
    }
    let known = std::fs::read_to_string(common::root().join("tests/tshark_known_differences.tsv"))
        .unwrap_or_default();
    let known: Vec<Vec<&str>> = known
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect())
        .collect();
    let is_known = |path: &str, frame: u64, field: &str| {
        known.iter().any(|k| {
            k.len() >= 3
                && k[0] == path
                && (k[1] == "*" || k[1] == frame.to_string())
                && (k[2] == "*" || k[2] == field)
        })
    };
    let paths = common::manifest_paths(&corpus);
    let results: Vec<(String, usize, usize, Vec<String>)> = paths
        .par_iter()
        .map(|rel| {
            let file = corpus.join(rel);
            let Some(view) = tshark_view(&file) else { return (rel.clone(), 0, 0, vec![]) };
            let a = analyze_file(&file, &Options::default());
            let mut by_ch: BTreeMap<u64, usize> = BTreeMap::new();
            for (i, hs) in a.handshakes.iter().enumerate() {
                if let Some(ch) = &hs.client_hello {
                    by_ch.entry(ch.meta.packet).or_insert(i);
                }
            }
            let (mut fields, mut agree, mut diffs) = (0usize, 0usize, Vec::new());
            for (stream, t) in &view {
                let mut check = |field: &str, same: bool, ours: String, theirs: String| {
                    fields += 1;
                    if same {
                        agree += 1;
                    } else if !is_known(rel, t.client_hello_frame, field) {
                        diffs.push(format!(
                            "{rel}\t{}\t{field}\tours={ours}\ttshark={theirs}\t(tcp.stream {stream})",
                            t.client_hello_frame
                        ));
                    }
                };
                let Some(&i) = by_ch.get(&t.client_hello_frame) else {
                    check("connection", false, "no ClientHello at this frame".into(), format!("{t:?}"));
                    continue;
                };
                let hs = &a.handshakes[i];
                let sni = hs.client_hello.as_ref().and_then(|c| c.sni.clone());
                check("sni", sni == t.sni, format!("{sni:?}"), format!("{:?}", t.sni));
                // tshark's view takes a lone HelloRetryRequest (handshake type 2 too) as the
                // ServerHello; it fixes version and cipher suite just the same.
                let sh = hs.server_hello.as_ref().or(hs.hello_retry_request.as_ref());
                let version = sh.map(|s| s.version);
                check("version", version == t.version, format!("{version:?}"), format!("{:?}", t.version));
                let cipher = sh.map(|s| s.cipher);
                check("cipher", cipher == t.cipher, format!("{cipher:?}"), format!("{:?}", t.cipher));
                let cr = hs.certificate_request.is_some();
                check("cert_request", cr == t.cert_request, cr.to_string(), t.cert_request.to_string());
                let certs = hs.server_certificate.as_ref().map(|c| c.certs.len());
                check("server_certs", certs == t.server_certs, format!("{certs:?}"), format!("{:?}", t.server_certs));
            }
            (rel.clone(), fields, agree, diffs)
        })
        .collect();
    let fields: usize = results.iter().map(|r| r.1).sum();
    let agree: usize = results.iter().map(|r| r.2).sum();
    let diffs: Vec<&String> = results.iter().flat_map(|r| r.3.iter()).collect();
    let explained = fields - agree - diffs.len();
    println!(
        "tshark agreement: {agree} of {fields} fields identical ({:.2} %), {explained} explained differences, {} unexplained",
        100.0 * agree as f64 / fields.max(1) as f64,
        diffs.len()
    );
    assert!(fields > 1000, "expected many compared fields, got {fields}");
    assert!(
        diffs.is_empty(),
        "unexplained differences (add a fix, or a line with the reason to tests/tshark_known_differences.tsv):\n{}",
        diffs.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
}
