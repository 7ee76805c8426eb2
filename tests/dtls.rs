//! DTLS associations: the OpenSSL samples (samples/dtls, made by samples/make_dtls_samples.sh)
//! and corpus captures from nDPI and Wireshark, with values read from the captures (tshark
//! agrees: the last test compares every DTLS capture of the corpus with it).

mod common;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn records(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args([
            "--format",
            "json",
            "--quiet",
            "--ca-file",
            "samples/pki/root.pem",
        ])
        .args(args)
        .output()
        .expect("run tlscap");
    assert!(out.status.code().is_some_and(|c| c <= 2), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|r: &Value| r["type"] == "connection")
        .collect()
}

/// [`records`] of `capture` in `../shared/corpus`; None (after a loud SKIP) without the corpus.
fn corpus_records(test: &str, capture: &str) -> Option<Vec<Value>> {
    let path = common::corpus(test)?.join(capture);
    Some(records(&[path.to_str().unwrap()]))
}

fn ids(r: &Value) -> Vec<(String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().into(),
                f["severity"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// OpenSSL DTLS 1.2 with a cookie exchange and client authentication; the server's Certificate
/// (message 2) is cut into fragments across packets 4, 5, 6 and 7 (tshark: offsets 0, 1361,
/// 0, 1447), joined here.
#[test]
fn mutual_auth_with_cookie_exchange_reads_like_tls() {
    let rs = records(&["samples/dtls/dtls-mutual-auth.pcap"]);
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(r["transport"], "dtls");
    assert_eq!(r["client"], "127.0.0.1:43493");
    assert_eq!(r["server"], "127.0.0.1:4441");
    assert_eq!(r["sni"], "api.tlscap.test");
    assert_eq!(r["version"], "DTLS 1.2");
    assert_eq!(r["versions_offered"], serde_json::json!(["DTLS 1.2"]));
    assert_eq!(r["cipher"], "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    assert_eq!(r["ja4"], "dd2d280700_d943125447b4_e7e480e5a997");
    assert_eq!(r["cert_requested"], true);
    assert_eq!(r["client_cert_sent"], true);
    assert_eq!(r["chain_status"], "trusted");
    let subjects = |key: &str| -> Vec<String> {
        r[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["subject"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        subjects("server_chain"),
        [
            "CN=api.tlscap.test, O=tlscap tests",
            "CN=tlscap Test Intermediate CA, O=tlscap tests"
        ]
    );
    assert_eq!(
        subjects("client_chain"),
        [
            "CN=tlscap test client, O=tlscap tests",
            "CN=tlscap Test Intermediate CA, O=tlscap tests"
        ]
    );
    assert_eq!((&r["status"], &r["outcome"]), (&"ok".into(), &"ok".into()));
    assert!(ids(r).is_empty(), "{:?}", ids(r));
    let d = &r["dtls"];
    assert_eq!(d["record_version"], "DTLS 1.0");
    assert_eq!(d["hello_verify_request_packet"], 2);
    assert_eq!(d["cookie_echo_packet"], 3);
    assert_eq!(d["client_retransmissions"], 0);
    assert_eq!(d["server_datagrams"], 5);
    assert_eq!(d["protected_records"], serde_json::json!([3, 2]));
    assert_eq!(r["tcp"]["packets"], 11);
    assert_eq!(r["tcp"]["client_bytes"], 2770);
    assert_eq!(r["tcp"]["server_bytes"], 3639);
}

/// The ladder shows the cookie exchange and the joined Certificate in the packet that completed it.
#[test]
fn ladder_shows_the_cookie_exchange() {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args([
            "explain",
            "--conn",
            "0",
            "samples/dtls/dtls-mutual-auth.pcap",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "        2   0.000169   ←   HelloVerifyRequest (cookie of 20 bytes)",
        "        3   0.007379   →   ClientHello again (cookie of 20 bytes)",
        "        5   0.008342   ←   Certificate (2 certificates)",
        "        7   0.009787   →   CertificateVerify",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
}

/// The server's chain ends at another root: the client's unknown_ca alert follows from it.
#[test]
fn untrusted_chain_is_the_cause_of_the_clients_alert() {
    let rs = records(&["samples/dtls/dtls-untrusted.pcap"]);
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(r["chain_status"], "untrusted");
    assert_eq!(r["outcome"], "failed");
    assert_eq!(r["failed_at"], "handshake");
    assert_eq!(r["cause"], "chain-untrusted");
    assert_eq!(
        r["alerts"][0],
        serde_json::json!({"from": "client", "level": "fatal", "description": "unknown_ca", "encrypted": false, "packet": 7})
    );
    assert_eq!(
        ids(r),
        pairs(&[("chain-untrusted", "error"), ("tls-alert", "error")])
    );
}

/// Datagrams to port 4444 dropped by nftables: the client repeats its hello twice over 3 s,
/// while the association to port 4443 in the same capture shows a server answering.
#[test]
fn unanswered_hello_is_an_error_when_the_capture_shows_servers() {
    let rs = records(&["samples/dtls/dtls-unanswered.pcap"]);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0]["outcome"], "ok");
    let r = &rs[1];
    assert_eq!(r["server"], "127.0.0.1:4444");
    assert_eq!(r["status"], "stalled");
    assert_eq!(r["cause"], "dtls-unanswered");
    assert_eq!(r["dtls"]["client_retransmissions"], 2);
    assert_eq!(r["tcp"]["packets"], 3);
    assert_eq!(ids(r), pairs(&[("dtls-unanswered", "error")]));
    assert_eq!(
        r["findings"][0]["evidence"],
        "Client datagrams in packets 11..13, no datagram from 127.0.0.1:4444."
    );
}

/// Two s_client processes pointed at each other: both send a ClientHello, the first to receive
/// the other's aborts with unexpected_message, which follows from the role conflict.
#[test]
fn both_peers_as_clients_is_a_role_conflict() {
    let rs = records(&["samples/dtls/dtls-role-conflict.pcap"]);
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(
        (&r["client"], &r["server"]),
        (&"127.0.0.1:4451".into(), &"127.0.0.1:4452".into())
    );
    assert_eq!(r["cause"], "dtls-role-conflict");
    assert_eq!(r["dtls"]["server_client_hello_packet"], 2);
    assert_eq!(
        ids(r),
        pairs(&[
            ("dtls-role-conflict", "error"),
            ("tls-alert", "error"),
            ("missing-sni", "info")
        ])
    );
    assert_eq!(r["findings"][1]["follows"], "dtls-role-conflict");
    assert_eq!(
        r["findings"][0]["evidence"],
        "ClientHello from 127.0.0.1:4451 in packet 1; ClientHello from 127.0.0.1:4452 in packet 2."
    );
    // nDPI's WebRTC inside GTP-U: the same failure between two real peers.
    let Some(rs) = corpus_records(
        "both_peers_as_clients_is_a_role_conflict",
        "nDPI/tests/cfgs/default/pcap/dtls.pcap",
    ) else {
        return;
    };
    let r = rs
        .iter()
        .find(|r| r["server"] == "157.240.16.128:3478")
        .expect("the WebRTC association inside GTP-U");
    assert_eq!(r["carrier"], "gtp-u:0xe2c1dc7");
    assert_eq!(r["client"], "10.191.227.13:54162");
    assert_eq!(r["cause"], "dtls-role-conflict");
    assert_eq!(r["dtls"]["server_client_hello_packet"], 5);
}

/// A capture of the client's side only (nDPI's WebRTC client capture): its flight after the
/// hello (protected records) proves the server answered, so nothing rests on the server's silence.
#[test]
fn client_side_capture_is_one_sided() {
    let Some(rs) = corpus_records(
        "client_side_capture_is_one_sided",
        "nDPI/tests/cfgs/default/pcap/stun_dtls_unidirectional_client.pcap",
    ) else {
        return;
    };
    let dtls: Vec<&Value> = rs.iter().filter(|r| r["transport"] == "dtls").collect();
    assert_eq!(dtls.len(), 1);
    assert_eq!(dtls[0]["outcome"], "unknown");
    assert!(ids(dtls[0]).contains(&("one-sided-capture".into(), "info".into())));
}

/// WebRTC (DTLS-SRTP) from nDPI: STUN and RTP share the ports, the certificate is self-signed by
/// design (fingerprints in signalling), and the client's last flight was sent twice.
#[test]
fn webrtc_association_among_stun_and_rtp() {
    let Some(rs) = corpus_records(
        "webrtc_association_among_stun_and_rtp",
        "nDPI/tests/cfgs/default/pcap/stun_dtls_rtp.pcapng",
    ) else {
        return;
    };
    let dtls: Vec<&Value> = rs.iter().filter(|r| r["transport"] == "dtls").collect();
    assert_eq!(dtls.len(), 1);
    let r = dtls[0];
    assert_eq!(r["client"], "192.168.12.156:37967");
    assert_eq!(r["server"], "142.250.82.76:19305");
    assert_eq!(r["version"], "DTLS 1.2");
    assert_eq!(r["cipher"], "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    assert_eq!(r["cert_requested"], true);
    assert_eq!(r["outcome"], "ok");
    assert_eq!(r["dtls"]["client_retransmissions"], 3);
    assert_eq!(r["dtls"]["server_retransmissions"], 1);
    assert_eq!(r["dtls"]["other_datagrams"], 14);
    assert_eq!(
        ids(r),
        pairs(&[("missing-sni", "info"), ("self-signed", "info")])
    );
}

/// CAPWAP's control channel (UDP 5246) carries DTLS after a 4-byte preamble; DTLS 1.0 is
/// obsolete. Its CertificateRequest (packet 29) has the layout of TLS 1.1's (no
/// signature_algorithms): it decodes, and the access point's certificate answers it.
#[test]
fn capwap_control_channel() {
    let Some(rs) = corpus_records(
        "capwap_control_channel",
        "nDPI/tests/cfgs/default/pcap/capwap.pcap",
    ) else {
        return;
    };
    let r = rs
        .iter()
        .find(|r| r["client"] == "192.168.10.10:12380")
        .expect("the association with a handshake");
    assert_eq!(r["server"], "192.168.10.9:5246");
    assert_eq!(r["version"], "DTLS 1.0");
    assert_eq!(r["cipher"], "TLS_RSA_WITH_AES_128_CBC_SHA");
    assert_eq!(r["dtls"]["hello_verify_request_packet"], 25);
    assert_eq!(r["dtls"]["cookie_echo_packet"], 26);
    assert_eq!(
        (&r["cert_requested"], &r["client_cert_sent"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(
        ids(r),
        pairs(&[
            ("obsolete-version", "warning"),
            ("chain-incomplete", "warning"),
            ("weak-signature", "warning"),
            ("missing-sni", "info")
        ])
    );
}

/// DTLS 1.3 (nDPI's wolfSSL capture): the ServerHello's legacy version says 1.2,
/// supported_versions says 1.3 (tshark: 0xfefc).
#[test]
fn dtls13_version_comes_from_supported_versions() {
    let Some(rs) = corpus_records(
        "dtls13_version_comes_from_supported_versions",
        "nDPI/tests/cfgs/default/pcap/dtls.pcap",
    ) else {
        return;
    };
    let r = rs
        .iter()
        .find(|r| r["server"] == "127.0.0.1:11111")
        .expect("the loopback association");
    assert_eq!(r["version"], "DTLS 1.3");
    assert_eq!(r["cipher"], "TLS_AES_128_GCM_SHA256");
    assert_eq!(r["outcome"], "ok");
}

/// tshark's view of the DTLS hellos of one capture: (client, server) → (SNI, version, cipher).
type Hellos = BTreeMap<(String, String), (Option<String>, Option<String>, Option<String>)>;

fn tshark_hellos(file: &Path) -> Hellos {
    let fields = [
        "ip.src",
        "ipv6.src",
        "udp.srcport",
        "ip.dst",
        "ipv6.dst",
        "udp.dstport",
        "dtls.handshake.type",
        "dtls.handshake.extensions_server_name",
        "dtls.handshake.version",
        "dtls.handshake.extensions.supported_version",
        "dtls.handshake.ciphersuite",
    ];
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args([
        "-n",
        "-Y",
        "dtls.handshake.type == 1 || dtls.handshake.type == 2",
        "-T",
        "fields",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    let mut hellos = Hellos::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() < fields.len() {
            continue;
        }
        let addr = |ip4: &str, ip6: &str, port: &str| {
            if ip4.is_empty() {
                format!("[{ip6}]:{port}")
            } else {
                format!("{ip4}:{port}")
            }
        };
        let (src, dst) = (addr(c[0], c[1], c[2]), addr(c[3], c[4], c[5]));
        let types: Vec<&str> = c[6].split(',').collect();
        let hex = |s: &str, at: usize| {
            s.split(',')
                .nth(at)
                .and_then(|v| u16::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        };
        if types.contains(&"1") {
            let e = hellos.entry((src.clone(), dst.clone())).or_default();
            if e.0.is_none() && !c[7].is_empty() {
                e.0 = Some(c[7].to_string());
            }
        }
        if let Some(at) = types.iter().position(|t| *t == "2") {
            let e = hellos.entry((dst, src)).or_default();
            if e.1.is_none() {
                let version = hex(c[9], 0).or_else(|| hex(c[8], at));
                e.1 = version.map(tlscap::tls::names::version_name);
                e.2 = hex(c[10], 0).map(tlscap::tls::names::cipher_name);
            }
        }
    }
    hellos
}

/// Disagreements with a reason: (capture, what differs, why).
const KNOWN: &[(&str, &str, &str)] = &[(
    "nDPI/tests/cfgs/default/pcap/dtls.pcap",
    ":2152",
    "WebRTC inside GTP-U: tshark names the tunnel endpoints (10.116.8.57:2152) where tlscap \
     names the inner peers; the association itself is checked in \
     both_peers_as_clients_is_a_role_conflict",
)];

#[test]
fn dtls_agrees_with_tshark_on_the_corpus() {
    let Some(corpus) = common::corpus("dtls_agrees_with_tshark_on_the_corpus") else {
        return;
    };
    if !common::have("tshark") {
        eprintln!("SKIP dtls_agrees_with_tshark_on_the_corpus: tshark not found");
        return;
    }
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap();
    let files: Vec<&str> = manifest
        .lines()
        .skip(1)
        .filter(|l| l.contains("dtls"))
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert!(
        files.len() >= 20,
        "{} DTLS captures in MANIFEST",
        files.len()
    );
    let mut tally: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut diffs = Vec::new();
    for rel in &files {
        let path = corpus.join(rel);
        let ours: BTreeMap<(String, String), Value> = records(&["--all", path.to_str().unwrap()])
            .into_iter()
            .filter(|r| r["transport"] == "dtls")
            .map(|r| {
                let key = (
                    r["client"].as_str().unwrap().to_string(),
                    r["server"].as_str().unwrap().to_string(),
                );
                (key, r)
            })
            .collect();
        for (key, (sni, version, cipher)) in tshark_hellos(&path) {
            let e = tally.entry("associations").or_default();
            e.1 += 1;
            let Some(r) = ours.get(&key) else {
                diffs.push(format!("{rel} {key:?}: no DTLS record"));
                continue;
            };
            e.0 += 1;
            let mut check = |field: &'static str, ours: Option<&str>, theirs: Option<&str>| {
                let e = tally.entry(field).or_default();
                e.1 += 1;
                if ours == theirs {
                    e.0 += 1;
                } else {
                    diffs.push(format!(
                        "{rel} {key:?}: {field} ours={ours:?} tshark={theirs:?}"
                    ));
                }
            };
            check("sni", r["sni"].as_str(), sni.as_deref());
            if version.is_some() {
                check("version", r["version"].as_str(), version.as_deref());
                check("cipher", r["cipher"].as_str(), cipher.as_deref());
            }
        }
    }
    for (field, (ok, all)) in &tally {
        println!("DTLS vs tshark: {field}: {ok} of {all} agree");
    }
    let known = |d: &String| {
        KNOWN
            .iter()
            .any(|(f, what, _)| d.starts_with(f) && d.contains(what))
    };
    let (expected, unexpected): (Vec<String>, Vec<String>) = diffs.into_iter().partition(known);
    println!("DTLS vs tshark: {} known differences", expected.len());
    assert!(
        tally.get("associations").is_some_and(|(ok, _)| *ok >= 20),
        "{tally:?}"
    );
    assert!(
        unexpected.is_empty(),
        "disagreements:\n{}",
        unexpected.join("\n")
    );
}

mod hostile {
    use proptest::prelude::*;
    use tlscap::dtls::{DtlsConfig, DtlsTable};
    use tlscap::flow::SegmentMeta;
    use tlscap::net::{Decoded, DefragLimits, NetDecoder, UdpDatagram};

    /// The datagrams of the OpenSSL samples (payload, from client).
    fn datagrams() -> Vec<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        for name in ["dtls/dtls-mutual-auth.pcap", "dtls/dtls-untrusted.pcap"] {
            let mut reader = tlscap::capture::open(&super::common::sample(name)).unwrap();
            let mut decoder = NetDecoder::new(DefragLimits::default()).with_udp();
            let mut client = None;
            while let Some(packet) = reader.next_packet().unwrap() {
                if let Decoded::Udp(d) = decoder.decode(&packet) {
                    let c = *client.get_or_insert(d.src);
                    out.push((d.payload.to_vec(), d.src == c));
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Real datagrams with bytes flipped anywhere (DTLS's handshake is plaintext: every
        /// length and fragment offset is reachable) and one datagram cut anywhere: the table
        /// never panics, and opens at most one association per datagram.
        #[test]
        fn mutated_datagrams_never_panic(
            edits in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..12),
            cut in proptest::option::of((any::<usize>(), any::<usize>())),
        ) {
            let mut grams = datagrams();
            for (which, at, x) in edits {
                let n = grams.len();
                let g = &mut grams[which % n].0;
                if !g.is_empty() {
                    let i = at % g.len();
                    g[i] ^= x;
                }
            }
            if let Some((which, len)) = cut {
                let n = grams.len();
                let g = &mut grams[which % n].0;
                g.truncate(len % (g.len() + 1));
            }
            let mut table = DtlsTable::new(DtlsConfig::default());
            let (c, s) = ("10.0.0.1:5000".parse().unwrap(), "10.0.0.2:4433".parse().unwrap());
            for (i, (payload, from_client)) in grams.iter().enumerate() {
                let (src, dst) = if *from_client { (c, s) } else { (s, c) };
                let d = UdpDatagram { src, dst, payload, wire_payload_len: payload.len() as u32, carrier: None };
                let meta = SegmentMeta { packet: i as u64 + 1, ts: Default::default() };
                table.on_datagram(meta, &d, &mut |_| {});
            }
            prop_assert!(table.opened() <= grams.len() as u64);
            let _ = table.finish();
        }
    }
}

/// DTLS 1.2 with the client's key log beside the capture (samples/dtls/dtls-keylog.keys,
/// `s_client -keylogfile`): the epoch-1 records decrypt, so both Finished messages (packets 6
/// and 7) and both close_notify alerts (packets 9 and 10, tshark with the same key log:
/// `dtls.alert_message.desc` 0 from 46707 then from 4461) are read by name. Without the key
/// log the alerts stay encrypted.
#[test]
fn key_log_decrypts_dtls_finished_and_alerts() {
    let rs = records(&["samples/dtls/dtls-keylog.pcap"]);
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(r["transport"], "dtls");
    assert_eq!(r["client"], "127.0.0.1:46707");
    assert_eq!(r["server"], "127.0.0.1:4461");
    assert_eq!(r["version"], "DTLS 1.2");
    assert_eq!(r["cipher"], "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    assert_eq!(r["decryption"]["status"], "ok");
    assert_eq!(r["outcome"], "ok");
    assert_eq!(
        r["alerts"],
        serde_json::json!([
            {"from": "client", "level": "warning", "description": "close_notify", "encrypted": false, "packet": 9},
            {"from": "server", "level": "warning", "description": "close_notify", "encrypted": false, "packet": 10},
        ])
    );
    let explain = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(["explain", "--conn", "0", "samples/dtls/dtls-keylog.pcap"])
        .output()
        .expect("run tlscap explain");
    let text = String::from_utf8_lossy(&explain.stdout);
    for step in ["Finished", "close_notify"] {
        assert!(text.contains(step), "{step}: {text}");
    }

    let plain = records(&["--no-auto-keylog", "samples/dtls/dtls-keylog.pcap"]);
    assert_eq!(plain[0]["decryption"], Value::Null);
    let encrypted: Vec<bool> = plain[0]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["encrypted"].as_bool().unwrap())
        .collect();
    assert_eq!(encrypted, [true, true]);
}

/// tshark, given the same key log, reads the same alerts at the same packets.
#[test]
fn dtls_decrypted_alerts_agree_with_tshark() {
    if !common::have("tshark") {
        eprintln!("SKIP dtls_decrypted_alerts_agree_with_tshark: tshark not installed");
        return;
    }
    let out = Command::new("tshark")
        .current_dir(common::root())
        .args(["-r", "samples/dtls/dtls-keylog.pcap"])
        .args(["-o", "tls.keylog_file:samples/dtls/dtls-keylog.keys"])
        .args(["-Y", "dtls.alert_message.desc", "-T", "fields"])
        .args(["-e", "frame.number", "-e", "dtls.alert_message.desc"])
        .output()
        .expect("run tshark");
    let theirs: Vec<(u64, u64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (f, d) = l.split_once('\t')?;
            Some((f.parse().ok()?, d.parse().ok()?))
        })
        .collect();
    assert_eq!(theirs, [(9, 0), (10, 0)]);
    let rs = records(&["samples/dtls/dtls-keylog.pcap"]);
    let ours: Vec<(u64, u64)> = rs[0]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let desc = a["description"].as_str().unwrap();
            (
                a["packet"].as_u64().unwrap(),
                u64::from(desc != "close_notify"),
            )
        })
        .collect();
    assert_eq!(ours, theirs);
}

/// Wireshark's DTLS 1.2 AES-128-CCM-8 capture carries its secrets in a pcapng Decryption
/// Secrets Block: the client's close_notify in packet 13 is read by name (tshark: frame 13,
/// `dtls.alert_message.desc` 0), in line and sharded alike (tests/sharded.rs).
#[test]
fn pcapng_secrets_decrypt_a_ccm8_dtls_alert() {
    let Some(rs) = corpus_records(
        "pcapng_secrets_decrypt_a_ccm8_dtls_alert",
        "wireshark/test/captures/dtls12-aes128ccm8-dsb.pcapng",
    ) else {
        return;
    };
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["decryption"]["status"], "ok");
    assert_eq!(rs[0]["decryption"]["key_source"], "pcapng DSB");
    assert_eq!(
        rs[0]["alerts"],
        serde_json::json!([
            {"from": "client", "level": "warning", "description": "close_notify", "encrypted": false, "packet": 13},
        ])
    );
}

/// nDPI's dtls.pcap holds a wolfSSL DTLS 1.3 handshake on loopback (HelloRetryRequest, client
/// authentication) with its secrets in a pcapng Decryption Secrets Block. The records after
/// the ServerHello use the unified header with encrypted sequence numbers: all 14 decrypt,
/// and the encrypted flight reads as TLS 1.3's (tshark 4.0 cannot read DTLS 1.3 records, so
/// these values are tlscap's own, consistent with the certificates the packets carry).
#[test]
fn dtls13_records_decrypt_with_the_pcapng_secrets() {
    let Some(corpus) = common::corpus("dtls13_records_decrypt_with_the_pcapng_secrets") else {
        return;
    };
    let path = corpus.join("nDPI/tests/cfgs/default/pcap/dtls.pcap");
    let rs = records(&[path.to_str().unwrap()]);
    let r = rs
        .iter()
        .find(|r| r["server"] == "127.0.0.1:11111")
        .expect("the loopback association");
    assert_eq!(r["decryption"]["status"], "ok");
    assert_eq!(r["decryption"]["key_source"], "pcapng DSB");
    let d = &r["dtls"];
    assert_eq!(d["unified_records"], serde_json::json!([5, 9]));
    assert_eq!(d["decrypted_records"], serde_json::json!([5, 9]));
    assert_eq!(d["unread_records"], serde_json::json!([0, 0]));
    assert_eq!(d["cid_records"], serde_json::json!([0, 0]));
    assert_eq!(r["cert_requested"], true);
    assert_eq!(r["client_cert_sent"], true);
    assert_eq!(r["server_chain"].as_array().unwrap().len(), 2);
    let cn = |chain: &str| r[chain][0]["subject"].as_str().unwrap().to_string();
    assert!(cn("server_chain").contains("CN=www.wolfssl.com, OU=Support, O=wolfSSL"));
    assert!(cn("client_chain").contains("CN=www.wolfssl.com, OU=Programming-2048"));
    assert_eq!(
        r["alerts"],
        serde_json::json!([
            {"from": "server", "level": "warning", "description": "close_notify", "encrypted": false, "packet": 23},
            {"from": "client", "level": "warning", "description": "close_notify", "encrypted": false, "packet": 24},
        ])
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .args(["explain", "--conn", "2", path.to_str().unwrap()])
        .output()
        .expect("run tlscap");
    let ladder = String::from_utf8_lossy(&out.stdout);
    for step in [
        "11   0.003172   ←   EncryptedExtensions",
        "12   0.003189   ←   CertificateRequest",
        "14   0.003332   ←   Certificate (2 certificates)",
        "16   0.009055   ←   Finished",
        "17   0.009540   →   Certificate (1 certificate)",
        "19   0.015379   →   Finished",
    ] {
        assert!(ladder.contains(step), "{step}\n{ladder}");
    }
}

/// The same capture with its Decryption Secrets Block left out (the test drops the block from
/// a copy in a temporary directory): the 14 unified-header records are counted and left
/// encrypted, and the ladder says so at the first of each direction instead of going silent.
#[test]
fn dtls13_records_without_keys_are_said_unread() {
    let Some(corpus) = common::corpus("dtls13_records_without_keys_are_said_unread") else {
        return;
    };
    let bytes = std::fs::read(corpus.join("nDPI/tests/cfgs/default/pcap/dtls.pcap")).unwrap();
    // pcapng blocks: type and total length (little endian, as this file's section header
    // says); type 10 is the Decryption Secrets Block.
    let mut stripped = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        let (kind, len) = (word(at), word(at + 4) as usize);
        if kind != 10 {
            stripped.extend_from_slice(&bytes[at..at + len]);
        }
        at += len;
    }
    assert!(stripped.len() < bytes.len());
    let dir = std::env::temp_dir().join(format!("tlscap-dtls13-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dtls-nokeys.pcapng");
    std::fs::write(&path, &stripped).unwrap();
    let rs = records(&[path.to_str().unwrap()]);
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .args(["explain", "--conn", "2", path.to_str().unwrap()])
        .output()
        .expect("run tlscap");
    std::fs::remove_dir_all(&dir).unwrap();
    let r = rs
        .iter()
        .find(|r| r["server"] == "127.0.0.1:11111")
        .expect("the loopback association");
    let d = &r["dtls"];
    assert_eq!(d["unified_records"], serde_json::json!([5, 9]));
    assert_eq!(d["decrypted_records"], serde_json::json!([0, 0]));
    assert_eq!(d["unread_records"], serde_json::json!([5, 9]));
    assert_eq!(r["decryption"], Value::Null);
    assert_eq!(r["client_cert_sent"], Value::Null);
    let ladder = String::from_utf8_lossy(&out.stdout);
    let unread = "DTLS 1.3 records encrypted, not read (no key log secrets for its handshake)";
    assert!(
        ladder.contains(&format!("11   0.003172   ←   {unread}")),
        "{ladder}"
    );
    assert!(
        ladder.contains(&format!("17   0.009540   →   {unread}")),
        "{ladder}"
    );
}
