//! `client-cert-rejected`, the sharpened `client-cert-missing` and `cert-inconsistent` on the
//! samples made for them (samples/make_samples.sh: client-cert-*, cert-*-pool), with exact
//! values, and their healthy look-alikes staying clean.

mod common;

use serde_json::Value;
use std::process::Command;

/// The records of one sample, key log beside it used, the test PKI's root trusted.
fn records(sample: &str) -> Vec<Value> {
    records_with(sample, &[])
}

/// [`records`] with more options.
fn records_with(sample: &str, extra: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args([
            "--format",
            "json",
            "--quiet",
            "--ca-file",
            "samples/pki/root.pem",
        ])
        .args(extra)
        .arg(format!("samples/{sample}"))
        .output()
        .expect("run tlscap");
    assert!(out.status.success(), "{sample}: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|r: &Value| r["type"] == "connection")
        .collect()
}

fn finding<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {}", r["findings"]))
}

fn ids(r: &Value) -> Vec<&str> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect()
}

const CAS: &str =
    "CN=tlscap Test Intermediate CA, O=tlscap tests; CN=tlscap Test Root CA, O=tlscap tests";

#[test]
fn client_certificate_without_client_auth_usage_is_rejected_for_it() {
    let rs = records("client-cert-no-client-auth.pcap");
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(r["cause"], "client-cert-rejected");
    assert_eq!(r["failed_at"], "handshake");
    let f = finding(r, "client-cert-rejected");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["message"], "127.0.0.1:8451 rejected the client certificate CN=api.tlscap.test, O=tlscap tests with alert unsupported_certificate in packet 13: its extendedKeyUsage allows serverAuth, not clientAuth.");
    assert_eq!(f["evidence"], format!("Client Certificate in packet 11: [0] CN=api.tlscap.test, O=tlscap tests (issuer CN=tlscap Test Intermediate CA, O=tlscap tests), [1] CN=tlscap Test Intermediate CA, O=tlscap tests (issuer CN=tlscap Test Root CA, O=tlscap tests); not before 2026-11-23T02:09:34Z, not after 2036-11-20T02:09:34Z; extendedKeyUsage serverAuth; signature sha256WithRSAEncryption; CertificateVerify in packet 11 (rsa_pss_rsae_sha256); CertificateRequest in packet 7 names 2 CAs: {CAS}; fatal alert unsupported_certificate from the server in packet 13."));
    assert_eq!(f["remediation"], "Client: use a certificate issued for client authentication (extendedKeyUsage clientAuth); a server certificate cannot stand in for a client certificate.");
    // The alert is the symptom of the rejection.
    assert_eq!(finding(r, "tls-alert")["follows"], "client-cert-rejected");
}

#[test]
fn expired_client_certificate_is_rejected_with_its_date() {
    let r = &records("client-cert-expired.pcap")[0];
    assert_eq!(r["cause"], "client-cert-rejected");
    let f = finding(r, "client-cert-rejected");
    assert_eq!(f["message"], "127.0.0.1:8452 rejected the client certificate CN=tlscap expired client, O=tlscap tests with alert certificate_expired in packet 13: it expired on 2021-01-01T00:00:00Z, 2165 days before the capture.");
    assert_eq!(f["remediation"], "Client: renew the client certificate (it expired on 2021-01-01T00:00:00Z) and configure the new one with its key.");
}

#[test]
fn client_certificate_from_another_ca_is_rejected_in_tls13_with_the_key_log() {
    let r = &records("client-cert-wrong-ca-tls13.pcap")[0];
    assert_eq!(r["decryption"]["status"], "ok");
    assert_eq!(r["cause"], "client-cert-rejected");
    assert_eq!(r["failed_at"], "handshake");
    let f = finding(r, "client-cert-rejected");
    assert_eq!(f["message"], format!("127.0.0.1:8453 rejected the client certificate CN=tlscap other client, O=tlscap tests with alert unknown_ca in packet 14: its issuer CN=tlscap Other Intermediate, O=tlscap tests is not among the CAs the server accepts ({CAS})."));
    assert_eq!(f["remediation"], format!("Client: use a certificate issued by one of the CAs the server accepts ({CAS}); server: if CN=tlscap Other Intermediate, O=tlscap tests is a legitimate client CA, add it to the trusted client CAs (nginx ssl_client_certificate, Apache SSLCACertificateFile)."));
    assert!(f["evidence"]
        .as_str()
        .unwrap()
        .contains(&format!("CertificateRequest in packet 6 names 2 CAs: {CAS}; fatal alert unknown_ca from the server in packet 14.")));
}

#[test]
fn a_leaf_sent_without_its_intermediate_is_named() {
    let r = &records("client-cert-leaf-only.pcap")[0];
    assert_eq!(r["cause"], "client-cert-rejected");
    let f = finding(r, "client-cert-rejected");
    assert_eq!(f["message"], "127.0.0.1:8448 rejected the client certificate CN=tlscap test client, O=tlscap tests with alert unknown_ca in packet 11: the client sent its certificate alone, and its issuer CN=tlscap Test Intermediate CA, O=tlscap tests is not among the CAs the server accepts (CN=tlscap Test Root CA, O=tlscap tests): the intermediate linking it to one of them was not sent, or the certificate comes from another CA.");
    assert_eq!(f["evidence"], "Client Certificate in packet 10: [0] CN=tlscap test client, O=tlscap tests (issuer CN=tlscap Test Intermediate CA, O=tlscap tests); not before 2026-11-23T02:09:35Z, not after 2036-11-20T02:09:35Z; extendedKeyUsage clientAuth; signature sha256WithRSAEncryption; CertificateVerify in packet 10 (rsa_pss_rsae_sha256); CertificateRequest in packet 7 names 1 CA: CN=tlscap Test Root CA, O=tlscap tests; fatal alert unknown_ca from the server in packet 11.");
    assert!(f["remediation"]
        .as_str()
        .unwrap()
        .starts_with("Client: send the intermediate CN=tlscap Test Intermediate CA, O=tlscap tests with the certificate"));
}

#[test]
fn nginx_answers_a_foreign_client_certificate_with_http_400() {
    let r = &records("client-cert-wrong-ca.pcap")[0];
    assert_eq!(r["status"], "ok");
    assert_eq!(r["outcome"], "failed");
    assert_eq!(r["failed_at"], "http");
    assert_eq!(r["cause"], "client-cert-rejected");
    let f = finding(r, "client-cert-rejected");
    assert_eq!(f["message"], format!("127.0.0.1:8450 rejected the client certificate CN=tlscap other client, O=tlscap tests with HTTP 400 in packet 13, right after the handshake: the client sent its certificate alone, and its issuer CN=tlscap Other Intermediate, O=tlscap tests is not among the CAs the server accepts ({CAS}): the intermediate linking it to one of them was not sent, or the certificate comes from another CA."));
    assert!(f["evidence"]
        .as_str()
        .unwrap()
        .ends_with("; HTTP 400 in packet 13."));
}

#[test]
fn missing_client_certificate_names_the_accepted_cas() {
    // Required: the server's alert follows.
    let r = &records("tls12-mtls-no-cert.pcap")[0];
    let f = finding(r, "client-cert-missing");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["message"], format!("127.0.0.1:8405 asked for a client certificate but the client sent none. It accepts certificates issued by: {CAS}."));
    assert_eq!(f["evidence"], format!("CertificateRequest in packet 7 names 2 CAs: {CAS}; the client answered with an empty Certificate in packet 10; the server then sent alert handshake_failure in packet 11."));
    assert_eq!(f["remediation"], format!("Client: configure a client certificate issued by one of the CAs the server accepts ({CAS}), with its private key, for this endpoint."));
}

/// Optional client authentication (s_server -verify 1; nginx ssl_verify_client optional): the
/// client sends an empty Certificate and the server answers 200. A fact, not a problem.
#[test]
fn optional_client_auth_without_a_certificate_is_an_info_fact() {
    for (sample, index, port, request, cert, answer) in [
        (
            "client-cert-optional-none.pcap",
            0,
            8449,
            7,
            10,
            "HTTP 200 in packet 13; the server then sent alert close_notify in packet 14",
        ),
        (
            "client-cert-optional-nginx.pcap",
            0,
            8492,
            7,
            10,
            "HTTP 200 in packet 13",
        ),
        (
            "client-cert-optional-nginx.pcap",
            1,
            8492,
            23,
            27,
            "HTTP 200 in packet 31",
        ),
    ] {
        let rs = records(sample);
        let r = &rs[index];
        assert_eq!(r["outcome"], "ok", "{sample} #{index}");
        assert_eq!(r["cert_requested"], true);
        assert_eq!(r["client_cert_sent"], false);
        assert_eq!(ids(r), ["client-auth-optional-unused"], "{sample} #{index}");
        let f = finding(r, "client-auth-optional-unused");
        assert_eq!(f["severity"], "info");
        assert_eq!(f["message"], format!("127.0.0.1:{port} asked for a client certificate without requiring one: the client sent none and the server carried on (optional client authentication)."));
        assert_eq!(f["evidence"], format!("CertificateRequest in packet {request} names 2 CAs: {CAS}; the client answered with an empty Certificate in packet {cert}; the server answered {answer}."));
    }
    // The TLS 1.3 client that sent its certificate: nothing to say.
    let r = &records("client-cert-optional-nginx.pcap")[2];
    assert_eq!(
        (r["outcome"].as_str(), r["client_cert_sent"].as_bool()),
        (Some("ok"), Some(true))
    );
    assert!(ids(r).is_empty(), "{:?}", ids(r));
}

/// When this client is expected to authenticate, the same connection is a warning: it worked,
/// but without the identity the operator counts on.
#[test]
fn optional_client_auth_is_a_warning_when_client_auth_is_expected() {
    let r = &records_with(
        "client-cert-optional-none.pcap",
        &["--expect-client-auth", "127.0.0.1:8449"],
    )[0];
    assert_eq!(r["outcome"], "ok");
    assert_eq!(ids(r), ["client-cert-missing"]);
    let f = finding(r, "client-cert-missing");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["message"], format!("127.0.0.1:8449 asked for a client certificate but the client sent none. The server carried on without one (optional client authentication), but this client is expected to authenticate (--expect-client-auth). It accepts certificates issued by: {CAS}."));
}

/// A server requiring client certificates resumes sessions without a CertificateRequest (TLS
/// 1.2 abbreviated handshake; TLS 1.3 PSK, RFC 8446 4.3.2): no client-certificate finding, even
/// when the same server asked on the full handshakes or client auth is expected.
#[test]
fn resumed_sessions_of_a_client_auth_server_stay_clean() {
    for extra in [&[][..], &["--expect-client-auth", "127.0.0.1:8490"][..]] {
        let rs = records_with("client-cert-resumed.pcap", extra);
        let seen: Vec<_> = rs
            .iter()
            .map(|r| {
                (
                    r["version"].as_str().unwrap(),
                    r["resumed"].as_bool().unwrap(),
                    r["cert_requested"].as_bool(),
                    r["client_cert_sent"].as_bool(),
                    r["outcome"].as_str().unwrap(),
                    ids(r).len(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("TLS 1.2", false, Some(true), Some(true), "ok", 0),
                ("TLS 1.2", true, Some(false), Some(false), "ok", 0),
                ("TLS 1.3", false, Some(true), Some(true), "ok", 0),
                ("TLS 1.3", true, Some(false), Some(false), "ok", 0),
            ],
            "{extra:?}"
        );
    }
}

#[test]
fn accepted_client_certificates_and_resumptions_stay_clean() {
    for sample in [
        "tls12-mtls-cert-sent.pcap",
        "tls13-mtls-cert-sent.pcap",
        "tls12-resumption.pcap",
        "client-cert-optional-none.pcap",
        "client-cert-optional-nginx.pcap",
        "client-cert-resumed.pcap",
    ] {
        for r in records(sample) {
            let ids = ids(&r);
            assert!(
                !ids.contains(&"client-cert-rejected") && !ids.contains(&"cert-inconsistent"),
                "{sample}: {ids:?}"
            );
        }
    }
}

#[test]
fn a_pool_member_with_an_incomplete_chain_is_named() {
    let rs = records("cert-inconsistent-pool.pcap");
    assert_eq!(rs.len(), 4);
    let evidence_tail = "api.tlscap.test:8454 presented: chain 7ea8c82692c81dd8 (2 certificates, leaf issued by CN=tlscap Test Intermediate CA, O=tlscap tests, expires 2036-11-20T02:09:34Z; trusted) on 2 connections (first #0); chain c573c9ed01376fe6 (1 certificate, leaf issued by CN=tlscap Test Intermediate CA, O=tlscap tests, expires 2036-11-20T02:09:34Z; incomplete) on 2 connections (first #1), refused by the client on 2 connections (first #1).";
    for r in &rs {
        let f = finding(r, "cert-inconsistent");
        let failed = r["index"] == 1 || r["index"] == 3;
        assert_eq!(r["outcome"], if failed { "failed" } else { "ok" });
        if failed {
            assert_eq!(r["cause"], "cert-inconsistent");
            assert_eq!(f["severity"], "error");
            assert_eq!(f["message"], "api.tlscap.test:8454 presented 2 different certificate chains across 4 connections, and the client refused the one this connection got (c573c9ed01376fe6), which differs (chain length, validation result) from a chain that worked on other connections: one of the servers behind this name is configured differently.");
            assert_eq!(
                f["evidence"],
                format!("This connection got chain c573c9ed01376fe6. {evidence_tail}")
            );
            assert_eq!(f["remediation"], "Server: find the node behind api.tlscap.test:8454 that sends chain c573c9ed01376fe6 (1 certificate, incomplete) and deploy on it the certificate and chain the others send (chain 7ea8c82692c81dd8, 2 certificates, trusted); then every connection gets the same one.");
            // The incomplete chain is the detail of the cause.
            assert_eq!(
                finding(r, "chain-incomplete")["follows"],
                "cert-inconsistent"
            );
        } else {
            assert_eq!(f["severity"], "warning");
            assert_eq!(
                f["evidence"],
                format!("This connection got chain 7ea8c82692c81dd8. {evidence_tail}")
            );
        }
    }
}

#[test]
fn a_pool_serving_one_chain_is_clean() {
    let rs = records("cert-consistent-pool.pcap");
    assert_eq!(rs.len(), 3);
    for r in &rs {
        assert_eq!(r["outcome"], "ok");
        assert_eq!(ids(r), Vec::<&str>::new());
    }
}

/// Findings are the same whether the pool's connections are read in one batch with other
/// files or alone (the per-server state merges across files).
#[test]
fn the_pool_finding_survives_a_batch_of_files() {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args([
            "--format",
            "json",
            "--quiet",
            "--ca-file",
            "samples/pki/root.pem",
        ])
        .args([
            "samples/cert-consistent-pool.pcap",
            "samples/cert-inconsistent-pool.pcap",
            "samples/tls12-leaf-only.pcap",
        ])
        .output()
        .expect("run tlscap");
    let causes: Vec<(String, Value)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "connection")
        .map(|r| {
            (
                format!("{}#{}", r["file"].as_str().unwrap(), r["index"]),
                r["cause"].clone(),
            )
        })
        .collect();
    let failed: Vec<&(String, Value)> = causes.iter().filter(|(_, c)| !c.is_null()).collect();
    assert_eq!(
        failed,
        [
            &(
                "samples/cert-inconsistent-pool.pcap#1".to_string(),
                Value::from("cert-inconsistent")
            ),
            &(
                "samples/cert-inconsistent-pool.pcap#3".to_string(),
                Value::from("cert-inconsistent")
            ),
            &(
                "samples/tls12-leaf-only.pcap#0".to_string(),
                Value::from("chain-incomplete")
            ),
        ]
    );
}
