//! HMAC-signed API calls: the samples in samples/hmac (made by samples/make_hmac_samples.sh:
//! a python server that checks ServiceNow-style signatures, a python client signing five
//! ways), over plain HTTP and over TLS 1.3 with the client's key log. Values are the ones the
//! captures hold (the client's cases in order: good, wrong-length, in-query, clock-skew,
//! wrong-form). Two more captures send the body chunked (HTTP/1.1) and over HTTP/2 (curl
//! against a server on the python `h2` library), signed right and then over body + timestamp.

mod common;

use serde_json::Value;
use std::process::Command;

/// The samples' test secret (samples/tools/hmacpeer.py).
const SECRET: &str = "k1=tlscap-sample-hmac-secret";

fn run(args: &[&str]) -> (Vec<Value>, String) {
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
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let records = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|r: &Value| r["type"] == "connection")
        .collect();
    (records, text)
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Per connection: cause, the HMAC facts of its one exchange, and its findings.
fn summary(r: &Value) -> (String, String, Vec<String>) {
    let h = &r["http"][0]["hmac"];
    let facts = [
        "location",
        "name",
        "algorithm",
        "encoding",
        "signature_bytes",
        "key_id_name",
        "key_id_location",
        "timestamp_name",
        "verification",
    ]
    .iter()
    .map(|k| s(&h[*k]))
    .collect::<Vec<_>>()
    .join(" ");
    let findings = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"].as_str().unwrap().starts_with("hmac-"))
        .map(|f| format!("{} {}", s(&f["id"]), s(&f["severity"])))
        .collect();
    (s(&r["cause"]), facts, findings)
}

fn check_cases(records: &[Value], verified: bool) {
    assert_eq!(records.len(), 5);
    let v = |form: &str| {
        if verified {
            form.to_string()
        } else {
            "-".to_string()
        }
    };
    let hdr = "header x-sn-hmac-signature-256 hmac-sha256 base64";
    let with_id = "x-sn-hmac-key-id header x-sn-hmac-timestamp";
    let got: Vec<_> = records.iter().map(summary).collect();
    let t = |cause: &str, facts: String, f: &[&str]| {
        (
            cause.to_string(),
            facts,
            f.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        got,
        [
            t("-", format!("{hdr} 32 {with_id} {}", v("matched timestamp+body")), &[]),
            t(
                "hmac-length-mismatch",
                format!("{hdr} 64 {with_id} {}", v("no form matched")),
                &["hmac-length-mismatch error", "hmac-rejected error"]
            ),
            t(
                "-",
                format!(
                    "query x-sn-hmac-signature-256 hmac-sha256 base64 32 x-sn-hmac-key-id query x-sn-hmac-timestamp {}",
                    v("matched timestamp+body")
                ),
                &["hmac-in-query warning"]
            ),
            t(
                "hmac-clock-skew",
                format!("{hdr} 32 {with_id} {}", v("matched timestamp+body")),
                &["hmac-clock-skew error", "hmac-rejected error"]
            ),
            t(
                "hmac-rejected",
                format!("{hdr} 32 {with_id} {}", v("matched body")),
                &["hmac-rejected error"]
            ),
        ]
    );
    // The clock-skew case signed a timestamp one hour old.
    let skew = records[3]["http"][0]["hmac"]["timestamp_skew_s"]
        .as_i64()
        .unwrap();
    assert!((-3602..=-3599).contains(&skew), "{skew}");
    for r in [&records[0], &records[1], &records[2], &records[4]] {
        let skew = r["http"][0]["hmac"]["timestamp_skew_s"].as_i64().unwrap();
        assert!(skew.abs() <= 1, "{skew}");
    }
}

#[test]
fn plain_http_cases_with_and_without_the_secret() {
    let (records, _) = run(&["samples/hmac/hmac-plain.pcap"]);
    check_cases(&records, false);
    let (records, text) = run(&["--hmac-secret", SECRET, "samples/hmac/hmac-plain.pcap"]);
    check_cases(&records, true);
    // Exact evidence of the wrong-length case. Python's http.client sends head and body in
    // separate segments: the head in packet 18, the 401's status line in 22 (tshark shows the
    // messages complete in 20 and 24).
    let f = records[1]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "hmac-length-mismatch")
        .unwrap();
    assert_eq!(
        f["evidence"],
        "request in packet 18, HTTP 401 in packet 22; header x-sn-hmac-signature-256: base64 decoded to 64 bytes, hmac-sha256 gives 32 (value not shown)."
    );
    // No secret, signature or timestamp value reaches the output: the values are read from
    // the cleartext capture itself.
    let pcap = std::fs::read(common::root().join("samples/hmac/hmac-plain.pcap")).unwrap();
    let mut values = vec!["tlscap-sample-hmac-secret".to_string()];
    for name in ["x-sn-hmac-signature-256: ", "x-sn-hmac-timestamp: "] {
        let mut at = 0;
        while let Some(i) = pcap[at..]
            .windows(name.len())
            .position(|w| w == name.as_bytes())
        {
            let start = at + i + name.len();
            let end = start + pcap[start..].iter().position(|&b| b == b'\r').unwrap();
            values.push(String::from_utf8_lossy(&pcap[start..end]).into_owned());
            at = end;
        }
    }
    assert_eq!(values.len(), 1 + 4 + 4);
    for v in &values {
        assert!(!text.contains(v.as_str()), "{v} in the output");
    }
}

#[test]
fn tls_cases_with_the_key_log() {
    let (records, text) = run(&["--hmac-secret", SECRET, "samples/hmac/hmac-tls.pcap"]);
    check_cases(&records, true);
    assert!(!text.contains("tlscap-sample-hmac-secret"));
    let fix = records[4]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "hmac-rejected")
        .unwrap()["remediation"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        fix.starts_with("Check in order: 1) the canonical form: with the given secret the client signed over body;"),
        "{fix}"
    );
}

#[test]
fn a_secret_file_works_like_the_option_and_bad_ones_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets");
    std::fs::write(&file, format!("# test\n{SECRET}\n")).unwrap();
    let (records, _) = run(&[
        "--hmac-secrets",
        file.to_str().unwrap(),
        "samples/hmac/hmac-plain.pcap",
    ]);
    check_cases(&records, true);
    std::fs::write(&file, "k1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args([
            "--hmac-secrets",
            file.to_str().unwrap(),
            "samples/hmac/hmac-plain.pcap",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":1: expected KEYID=SECRET"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(["--hmac-secret", "k1=", "samples/hmac/hmac-plain.pcap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `(request packet, status, response packet, verification, hmac findings)` per connection.
fn body_cases(records: &[Value]) -> Vec<(u64, u64, u64, String, Vec<String>)> {
    records
        .iter()
        .map(|r| {
            let h = &r["http"][0];
            (
                h["request_packet"].as_u64().unwrap(),
                h["status"].as_u64().unwrap(),
                h["response_packet"].as_u64().unwrap(),
                s(&h["hmac"]["verification"]),
                summary(r).2,
            )
        })
        .collect()
}

fn rejected(r: &Value) -> &Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "hmac-rejected")
        .unwrap()
}

/// The good, wrong-order and large cases of a body sample, with its packet numbers.
fn check_body_cases(records: &[Value], version: &str, packets: [(u64, u64); 3]) {
    let rejected_ = || vec!["hmac-rejected error".to_string()];
    let [good, wrong, large] = packets;
    assert_eq!(
        body_cases(records),
        [
            (good.0, 200, good.1, "matched timestamp+body".into(), vec![]),
            (wrong.0, 401, wrong.1, "no form matched".into(), rejected_()),
            (
                large.0,
                401,
                large.1,
                "body larger than 65536 bytes, not verified".into(),
                rejected_()
            ),
        ]
    );
    assert_eq!(
        rejected(&records[1])["evidence"],
        format!("request in packet {}, HTTP 401 in packet {}; signature in header x-sn-hmac-signature-256 (hmac-sha256, 32 bytes); recomputed with the given secret: no form matched.", wrong.0, wrong.1)
    );
    // The large body is said not verified, never reported as a mismatch.
    let fix = s(&rejected(&records[2])["remediation"]);
    assert!(
        fix.starts_with("Check in order: 1) the secret and the canonical form (method, path, query, timestamp, body, byte for byte): the capture does not give the whole body, so the signature was not recomputed (body larger than 65536 bytes, not verified); 2) the key id"),
        "{fix}"
    );
    for r in records {
        assert_eq!(r["http"][0]["version"], version);
        let skew = r["http"][0]["hmac"]["timestamp_skew_s"].as_i64().unwrap();
        assert!(skew.abs() <= 1, "{skew}");
    }
}

#[test]
fn chunked_bodies_are_dechunked_and_verified() {
    let (records, text) = run(&["--hmac-secret", SECRET, "samples/hmac/hmac-chunked.pcap"]);
    // python's http.client sends the head, then each chunk and the last chunk in records of
    // their own: the request is in packet 12 (tshark completes it later).
    check_body_cases(&records, "HTTP/1.1", [(12, 20), (36, 43), (59, 137)]);
    assert!(!text.contains("tlscap-sample-hmac-secret"));
}

#[test]
fn http2_bodies_are_collected_from_data_frames_and_verified() {
    let (records, text) = run(&["--hmac-secret", SECRET, "samples/hmac/hmac-h2.pcap"]);
    // HEADERS in packets 14, 59 and 102; the 24,013-byte bodies follow in two DATA frames,
    // the 80,013-byte one's content-length says it is too large.
    check_body_cases(&records, "HTTP/2", [(14, 42), (59, 87), (102, 179)]);
    assert!(!text.contains("tlscap-sample-hmac-secret"));
    // Without the secret nothing is recomputed.
    let (records, _) = run(&["samples/hmac/hmac-h2.pcap"]);
    assert_eq!(records[0]["http"][0]["hmac"]["verification"], Value::Null);
    assert_eq!(
        records[0]["http"][0]["hmac"]["key_id_name"],
        "x-sn-hmac-key-id"
    );
}
