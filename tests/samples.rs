//! Every sample in samples/ through the `tlscap` binary, with exact values from
//! samples/expected.json (ground truth taken from tshark when the samples were made).

mod common;

use serde_json::Value;
use std::process::Command;

/// Findings that need the key log on TLS 1.3 samples (encrypted CertificateRequest / alerts).
const NEEDS_KEYS_ON_TLS13: &[&str] = &["client-cert-missing", "tls-alert"];

fn run_json(args: &[&str]) -> (Vec<Value>, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(["--format", "json", "--quiet"])
        .args(args)
        .output()
        .expect("run tlscap");
    let values = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    (
        values,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn args_for(file: &str) -> Vec<String> {
    let mut args = vec!["--ca-file".to_string(), "samples/pki/root.pem".to_string()];
    if file == "cert-revoked-crl.pcap" {
        args.extend(["--crl".into(), "samples/pki/revoked.crl.pem".into()]);
    }
    args.push(format!("samples/{file}"));
    args
}

fn same(diffs: &mut Vec<String>, what: String, ours: &Value, want: &Value) {
    if ours != want {
        diffs.push(format!("{what}: ours={ours} expected={want}"));
    }
}

#[test]
fn every_sample_matches_its_ground_truth() {
    let expected: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(common::sample("expected.json")).unwrap())
            .unwrap();
    let mut diffs = Vec::new();
    let mut checked = 0;
    for sample in &expected {
        let file = sample["file"].as_str().unwrap();
        let args = args_for(file);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (records, stderr, code) = run_json(&args);
        assert_eq!(code, 0, "{file}: exit code {code}, stderr: {stderr}");
        let conns: Vec<&Value> = records
            .iter()
            .filter(|r| r["type"] == "connection")
            .collect();
        let want_conns = sample["connections"].as_array().unwrap();
        if conns.len() != want_conns.len() {
            diffs.push(format!(
                "{file}: {} connections, expected {}",
                conns.len(),
                want_conns.len()
            ));
            continue;
        }
        for (ours, want) in conns.iter().zip(want_conns) {
            checked += 1;
            let at = |f: &str| format!("{file}#{} {f}", want["index"]);
            for f in [
                "index",
                "first_packet",
                "client",
                "server",
                "sni",
                "alpn_offered",
                "versions_offered",
                "version",
                "cipher",
                "resumed",
                "hello_retry",
                "cert_requested",
                "client_cert_sent",
                "ocsp_stapled",
                "ja3",
            ] {
                same(&mut diffs, at(f), &ours[f], &want[f]);
            }
            same(
                &mut diffs,
                at("status"),
                &ours["status"],
                &want["expected_status"],
            );
            for f in [
                "syn",
                "syn_ack",
                "established",
                "client_bytes",
                "server_bytes",
                "closed_by",
                "close",
                "packets",
                "retransmissions",
                "midstream",
            ] {
                same(
                    &mut diffs,
                    at(&format!("tcp.{f}")),
                    &ours["tcp"][f],
                    &want["tcp"][f],
                );
            }
            // Certificates: every field tshark + openssl showed.
            match (
                ours["server_chain"].as_array(),
                want["server_chain"].as_array(),
            ) {
                (Some(o), Some(w)) => {
                    if o.len() != w.len() {
                        diffs.push(format!(
                            "{}: {} certs, expected {}",
                            at("server_chain"),
                            o.len(),
                            w.len()
                        ));
                    }
                    for (i, (oc, wc)) in o.iter().zip(w).enumerate() {
                        for (k, v) in wc.as_object().unwrap() {
                            same(&mut diffs, at(&format!("server_chain[{i}].{k}")), &oc[k], v);
                        }
                    }
                }
                (o, w) => {
                    if o.is_some() != w.is_some() {
                        diffs.push(format!(
                            "{}: ours={:?} expected={:?}",
                            at("server_chain"),
                            o.map(|v| v.len()),
                            w.map(|v| v.len())
                        ));
                    }
                }
            }
            let ours_alerts: Vec<Value> = ours["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| serde_json::json!({"from": a["from"], "level": a["level"], "description": a["description"], "packet": a["packet"]}))
                .collect();
            same(
                &mut diffs,
                at("alerts"),
                &Value::Array(ours_alerts),
                &want["alerts"],
            );
            // Findings: every expected id fires (TLS 1.3 ones that need keys excepted); a healthy
            // connection has no error-level finding.
            let ids: Vec<&str> = ours["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["id"].as_str())
                .collect();
            let tls13 = want["version"] == "TLS 1.3";
            for id in want["expected_findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str())
            {
                if tls13 && NEEDS_KEYS_ON_TLS13.contains(&id) {
                    continue;
                }
                if !ids.contains(&id) {
                    diffs.push(format!(
                        "{}: expected finding {id} missing (ours: {ids:?})",
                        at("findings")
                    ));
                }
            }
            if want["expected_findings"].as_array().unwrap().is_empty() {
                for f in ours["findings"].as_array().unwrap() {
                    if f["severity"] == "error" {
                        diffs.push(format!(
                            "{}: error finding {} on a healthy connection",
                            at("findings"),
                            f["id"]
                        ));
                    }
                }
            }
        }
    }
    assert!(checked >= 38, "checked {checked} connections");
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
