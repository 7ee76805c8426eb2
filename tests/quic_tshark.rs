//! Differential test against tshark on every QUIC capture of `../shared/corpus` (MANIFEST rows
//! whose ClientHello kinds include `quic`): for each QUIC connection in which tshark decodes a
//! ClientHello, tlscap must have a QUIC record from the same client address with the same SNI,
//! ALPN offered, and, where tshark decodes them, the same version and cipher (ServerHello) and
//! the ALPN selected (EncryptedExtensions, with the capture's embedded secrets). The agreement
//! per field is printed; every disagreement not in [`KNOWN`] fails the test.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use tlscap::app::{analyze_file, Options};

/// tshark's view of one QUIC connection (`quic.connection.number`).
#[derive(Debug, Default)]
struct Conn {
    client: String,
    sni: Option<String>,
    alpn_offered: Vec<String>,
    version: Option<String>,
    cipher: Option<String>,
    alpn: Option<String>,
}

const FIELDS: &[&str] = &[
    "quic.connection.number",
    "ip.src",
    "ipv6.src",
    "udp.srcport",
    "tls.handshake.type",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.ciphersuite",
    "tls.handshake.extensions_alpn_str",
];

fn hex16(s: &str) -> Option<u16> {
    u16::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
}

fn tshark_view(file: &Path) -> BTreeMap<u64, Conn> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-n", "-Y", "quic && tls.handshake.type", "-T", "fields"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    let mut conns: BTreeMap<u64, Conn> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let col: Vec<&str> = line.split('\t').collect();
        if col.len() < FIELDS.len() {
            continue;
        }
        // Coalesced packets of several connections are rare; the first number is the packet's.
        let Some(n) = col[0].split(',').next().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let c = conns.entry(n).or_default();
        let types: Vec<&str> = col[4].split(',').collect();
        let ip = if col[1].is_empty() {
            format!("[{}]", col[2])
        } else {
            col[1].to_string()
        };
        if types.contains(&"1") && c.client.is_empty() {
            c.client = format!("{ip}:{}", col[3]);
            c.sni = (!col[5].is_empty()).then(|| col[5].to_string());
            c.alpn_offered = col[8]
                .split(',')
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect();
        }
        if types.contains(&"2") && c.version.is_none() {
            c.version = hex16(col[6]).map(tlscap::tls::names::version_name);
            c.cipher = hex16(col[7]).map(tlscap::tls::names::cipher_name);
        }
        if types.contains(&"8") && c.alpn.is_none() && !col[8].is_empty() {
            c.alpn = Some(col[8].to_string());
        }
    }
    conns
}

/// Disagreements with a reason: (capture, what differs, why).
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "nDPI/tests/cfgs/default/pcap/quic_t50.pcap",
        "no QUIC record",
        "Google QUIC T050 (not IETF QUIC): not read",
    ),
    (
        "nDPI/tests/cfgs/default/pcap/quic_t51.pcap",
        "no QUIC record",
        "Google QUIC T051 (not IETF QUIC): not read",
    ),
    (
        "wireshark/test/captures/quic_follow_multistream.pcapng",
        "alpn ours=None",
        "its Decryption Secrets Block ends each secret with a backslash, which tshark's key log \
         parser ignores and tlscap's reports as a malformed line",
    ),
];

#[test]
fn quic_agrees_with_tshark_on_the_corpus() {
    let Some(corpus) = common::corpus("quic_agrees_with_tshark_on_the_corpus") else {
        return;
    };
    if !common::have("tshark") {
        eprintln!("SKIP quic_agrees_with_tshark_on_the_corpus: tshark not found");
        return;
    }
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap();
    let files: Vec<&str> = manifest
        .lines()
        .skip(1)
        .filter(|l| {
            l.contains("ch_by_kind=")
                && l.split("ch_by_kind=")
                    .nth(1)
                    .is_some_and(|k| k.split(';').next().unwrap_or("").contains("quic:"))
        })
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert!(
        files.len() >= 25,
        "{} QUIC captures in MANIFEST",
        files.len()
    );
    // field → (agreements, comparisons)
    let mut tally: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut diffs = Vec::new();
    let mut conns = 0;
    for rel in &files {
        let path = corpus.join(rel);
        let theirs = tshark_view(&path);
        let ours: Vec<_> = analyze_file(&path, &Options::default())
            .connections
            .into_iter()
            .filter(|r| r.quic.is_some())
            .collect();
        let mut used = vec![false; ours.len()];
        for (n, t) in theirs.iter().filter(|(_, t)| !t.client.is_empty()) {
            conns += 1;
            let found = ours
                .iter()
                .enumerate()
                .find(|(i, r)| !used[*i] && r.client.to_string() == t.client && r.sni == t.sni);
            let Some((i, r)) = found else {
                diffs.push(format!("{rel} quic #{n} from {}: no QUIC record", t.client));
                continue;
            };
            used[i] = true;
            let mut check = |field: &'static str, ours: Option<&str>, theirs: Option<&str>| {
                let e = tally.entry(field).or_default();
                e.1 += 1;
                if ours == theirs {
                    e.0 += 1;
                } else {
                    diffs.push(format!(
                        "{rel} quic #{n}: {field} ours={ours:?} tshark={theirs:?}"
                    ));
                }
            };
            check("sni", r.sni.as_deref(), t.sni.as_deref());
            let (ao, at) = (r.alpn_offered.join(","), t.alpn_offered.join(","));
            check("alpn_offered", Some(&ao), Some(&at));
            if t.version.is_some() {
                check(
                    "version",
                    r.version.map(|v| v.name()).as_deref(),
                    t.version.as_deref(),
                );
                check(
                    "cipher",
                    r.cipher.map(|c| c.name()).as_deref(),
                    t.cipher.as_deref(),
                );
            }
            if t.alpn.is_some() {
                check("alpn", r.alpn.as_deref(), t.alpn.as_deref());
            }
        }
    }
    for (field, (ok, all)) in &tally {
        println!("QUIC vs tshark: {field}: {ok} of {all} agree");
    }
    println!(
        "QUIC vs tshark: {conns} connections in {} captures",
        files.len()
    );
    assert!(conns >= 200, "tshark saw {conns} QUIC connections");
    let known = |d: &String| {
        KNOWN
            .iter()
            .any(|(f, what, _)| d.starts_with(f) && d.contains(what))
    };
    let (expected, unexpected): (Vec<String>, Vec<String>) = diffs.into_iter().partition(known);
    println!("QUIC vs tshark: {} known differences", expected.len());
    assert!(
        unexpected.is_empty(),
        "disagreements:\n{}",
        unexpected.join("\n")
    );
}
