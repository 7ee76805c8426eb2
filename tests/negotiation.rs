//! `no-common-version`, `no-common-cipher` and `alpn-mismatch` on the samples made for them
//! (samples/make_samples.sh) and on corpus captures, with exact values; and the healthy
//! look-alikes in the same captures, which must stay clean.

mod common;

use serde_json::Value;
use std::process::Command;

/// The connection records of `tlscap --format json` on `args` (key logs not used: what a
/// capture alone shows).
fn records(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(["--format", "json", "--quiet", "--no-auto-keylog"])
        .args(["--ca-file", "samples/pki/root.pem"])
        .args(args)
        .output()
        .expect("run tlscap");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("each line is JSON"))
        .filter(|r| r["type"] == "connection")
        .collect()
}

/// `(id, severity, follows)` of each finding, in the record's order.
fn findings(r: &Value) -> Vec<(String, String, Option<String>)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["follows"].as_str().map(str::to_string),
            )
        })
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

fn f(id: &str, severity: &str, follows: Option<&str>) -> (String, String, Option<String>) {
    (
        id.to_string(),
        severity.to_string(),
        follows.map(str::to_string),
    )
}

/// The cause first, the alert following it.
fn cause_then_alert(r: &Value, cause: &str) {
    assert_eq!(r["outcome"], "failed");
    assert_eq!(r["failed_at"], "handshake");
    assert_eq!(r["cause"], cause);
    assert_eq!(
        findings(r)[..2],
        [
            f(cause, "error", None),
            f("tls-alert", "error", Some(cause))
        ]
    );
}

#[test]
fn a_tls13_only_server_refuses_clients_offering_at_most_tls12_or_tls11() {
    let rs = records(&["samples/no-common-version.pcap"]);
    assert_eq!(rs.len(), 3);
    // The client that offered TLS 1.3 is the evidence, and healthy.
    assert_eq!(rs[0]["outcome"], "ok");
    assert_eq!(rs[0]["version"], "TLS 1.3");
    assert!(findings(&rs[0]).is_empty());
    for r in &rs[1..] {
        cause_then_alert(r, "no-common-version");
    }
    let curl = finding(&rs[1], "no-common-version");
    assert_eq!(curl["message"], "127.0.0.1:8471 refused every TLS version this client offered with alert protocol_version: the client offered at most TLS 1.2; the server speaks TLS 1.3 (it negotiated it with other clients in this capture).");
    assert_eq!(curl["evidence"], "ClientHello in packet 24 offers at most TLS 1.2; alert protocol_version from the server in packet 26; connection #0 negotiated TLS 1.3 (TLS_AES_256_GCM_SHA384) with this server.");
    assert_eq!(curl["remediation"], "Client: enable TLS 1.3 (what this server negotiated with other clients): Java -Dhttps.protocols=TLSv1.3 (and jdk.tls.client.protocols), .NET Framework the SchUseStrongCrypto and SystemDefaultTlsVersions registry values, an old OpenSSL or curl upgraded; server: only if policy allows, also accept TLS 1.2.");
    let tls11 = finding(&rs[2], "no-common-version");
    assert_eq!(tls11["evidence"], "ClientHello in packet 34 offers at most TLS 1.1; alert protocol_version from the server in packet 36; connection #0 negotiated TLS 1.3 (TLS_AES_256_GCM_SHA384) with this server.");
}

/// Windows SChannel's way: no alert, a reset right after a ClientHello offering TLS 1.0 only;
/// the other client's TLS 1.3 shows what the server accepts.
#[test]
fn a_server_resetting_a_tls10_client_it_refuses() {
    let rs = records(&["samples/no-common-version-reset.pcap"]);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0]["outcome"], "ok");
    assert!(findings(&rs[0]).is_empty(), "{}", rs[0]["findings"]);
    let r = &rs[1];
    assert_eq!(
        (&r["status"], &r["cause"]),
        (&"reset".into(), &"no-common-version".into())
    );
    assert_eq!(
        findings(r),
        [
            f("no-common-version", "error", None),
            f("tcp-reset", "error", Some("no-common-version"))
        ]
    );
    let nv = finding(r, "no-common-version");
    assert_eq!(nv["message"], "127.0.0.1:8476 reset the connection right after the ClientHello, which offered at most TLS 1.0, without answering a byte of TLS, while it negotiated TLS 1.3 with other clients in this capture: it accepts none of the versions this client offers.");
    assert_eq!(nv["evidence"], "ClientHello in packet 24 offers at most TLS 1.0; no TLS data from the server, which reset the connection; connection #0 negotiated TLS 1.3 (TLS_AES_256_GCM_SHA384) with this server.");
    // Alone, the reset proves nothing about versions: it stays the cause.
    if !common::have("editcap") {
        println!("SKIP: the single-connection half of a_server_resetting_a_tls10_client_it_refuses needs editcap");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("reset.pcap");
    let first = r["first_packet"].as_u64().unwrap().to_string();
    let ok = Command::new("editcap")
        .current_dir(common::root())
        .args(["-r", "samples/no-common-version-reset.pcap"])
        .arg(&one)
        .arg(format!("{first}-1000"))
        .status()
        .expect("run editcap")
        .success();
    assert!(ok);
    let rs = records(&[one.to_str().unwrap()]);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["cause"], "tcp-reset", "{}", rs[0]["findings"]);
}

#[test]
fn a_client_refusing_the_tls10_an_old_server_chose_is_told_to_fix_the_server() {
    let rs = records(&["samples/no-common-version-old-server.pcap"]);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0]["outcome"], "ok");
    assert_eq!(findings(&rs[0]), [f("obsolete-version", "warning", None)]);
    cause_then_alert(&rs[1], "no-common-version");
    let nv = finding(&rs[1], "no-common-version");
    assert_eq!(nv["message"], "127.0.0.1:8472 chose TLS 1.0, the newest version it speaks, although the client offered at most TLS 1.2; the client refuses TLS 1.0 (alert protocol_version), so client and server share no TLS version.");
    assert_eq!(nv["evidence"], "ClientHello in packet 23 offers at most TLS 1.2; ServerHello in packet 25 selects TLS 1.0; alert protocol_version from the client in packet 29; connection #0 negotiated TLS 1.0 (TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA) with this server.");
    assert_eq!(nv["remediation"], "Server: enable TLS 1.2 and TLS 1.3 (it speaks only TLS 1.0 and older, deprecated by RFC 8996); client: re-enable TLS 1.0 only as a stopgap, if policy allows.");
}

#[test]
fn a_gcm_only_server_refuses_cbc_and_chacha_offers_but_not_a_client_it_simply_overrules() {
    let rs = records(&["samples/no-common-cipher.pcap"]);
    assert_eq!(rs.len(), 4);
    for i in [0, 3] {
        assert_eq!(rs[i]["outcome"], "ok", "#{i}");
        assert!(findings(&rs[i]).is_empty(), "#{i}: {}", rs[i]["findings"]);
    }
    // The server simply picked another suite than the client's first (AES128-SHA).
    assert_eq!(rs[3]["cipher"], "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    for i in [1, 2] {
        cause_then_alert(&rs[i], "no-common-cipher");
    }
    let cbc = finding(&rs[1], "no-common-cipher");
    assert_eq!(cbc["message"], "127.0.0.1:8473 refused the ClientHello with alert handshake_failure: none of the 3 cipher suites the client offered is one the server chose for other clients in this capture (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384); the client offers only legacy suites: RSA key exchange only (no ECDHE or DHE), CBC or stream ciphers only (no AES-GCM or ChaCha20-Poly1305).");
    assert_eq!(cbc["evidence"], "ClientHello in packet 23 offers 3 suites: TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_256_CBC_SHA, TLS_RSA_WITH_AES_128_CBC_SHA256; alert handshake_failure from the server in packet 25; connection #0 negotiated TLS 1.2 (TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) with this server; suites it chose in the capture at the versions this client offers: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384.");
    assert_eq!(cbc["remediation"], "Client: enable one of the suites this server accepts (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) in the client's cipher list, or update its TLS library (old Java, .NET and OpenSSL releases lack ECDHE with AES-GCM); server: if policy allows, also accept one of the suites the client offers.");
    // A sound suite the server lacks: only the other connections show the mismatch.
    let chacha = finding(&rs[2], "no-common-cipher");
    assert_eq!(chacha["message"], "127.0.0.1:8473 refused the ClientHello with alert handshake_failure: the one cipher suite the client offered is not one the server chose for other clients in this capture (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384).");
    assert!(chacha["evidence"].as_str().unwrap().starts_with(
        "ClientHello in packet 33 offers 1 suite: TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256; alert handshake_failure from the server in packet 35; connection #0"
    ));
}

/// Without the connections that show what the server accepts, the CBC/RSA-only offer still
/// explains the refusal; the ChaCha20 offer (a sound suite) does not, and stays a bare
/// `tls-alert`. Each connection is cut out of the sample with editcap (its packets 20-29 and
/// 30-39).
#[test]
fn without_other_clients_only_a_legacy_offer_explains_handshake_failure() {
    if !common::have("editcap") {
        println!("SKIP: without_other_clients_only_a_legacy_offer_explains_handshake_failure needs editcap");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (range, cause) in [("20-29", "no-common-cipher"), ("30-39", "tls-alert")] {
        let one = dir.path().join(format!("{range}.pcap"));
        let ok = Command::new("editcap")
            .current_dir(common::root())
            .args(["-r", "samples/no-common-cipher.pcap"])
            .arg(&one)
            .arg(range)
            .status()
            .expect("run editcap")
            .success();
        assert!(ok, "editcap {range}");
        let rs = records(&[one.to_str().unwrap()]);
        assert_eq!(rs.len(), 1, "{range}");
        assert_eq!(rs[0]["cause"], cause, "{range}: {}", rs[0]["findings"]);
    }
    let one = dir.path().join("20-29.pcap");
    let rs = records(&[one.to_str().unwrap()]);
    let nc = finding(&rs[0], "no-common-cipher");
    assert_eq!(nc["message"], "127.0.0.1:8473 refused the ClientHello with alert handshake_failure, and the client offers only suites current servers refuse: RSA key exchange only (no ECDHE or DHE), CBC or stream ciphers only (no AES-GCM or ChaCha20-Poly1305).");
    assert_eq!(nc["evidence"], "ClientHello in packet 4 offers 3 suites: TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_256_CBC_SHA, TLS_RSA_WITH_AES_128_CBC_SHA256; alert handshake_failure from the server in packet 6.");
}

#[test]
fn an_http1_server_refuses_an_h2_only_client_and_serves_one_offering_both() {
    let rs = records(&["samples/alpn-mismatch.pcap"]);
    assert_eq!(rs.len(), 2);
    cause_then_alert(&rs[0], "alpn-mismatch");
    let a = finding(&rs[0], "alpn-mismatch");
    assert_eq!(a["message"], "127.0.0.1:8474 speaks none of the application protocols the client offered in ALPN (h2) and refused the handshake (alert no_application_protocol).");
    assert_eq!(
        a["evidence"],
        "ClientHello in packet 4 offers ALPN h2; alert no_application_protocol from the server in packet 6."
    );
    assert!(a["remediation"]
        .as_str()
        .unwrap()
        .starts_with("Server: enable HTTP/2 on this listener"));
    // h2 and http/1.1 offered, http/1.1 served (TLS 1.3: the choice is encrypted).
    assert_eq!(rs[1]["alpn_offered"], serde_json::json!(["h2", "http/1.1"]));
    assert_eq!(rs[1]["outcome"], "ok");
    assert!(findings(&rs[1]).is_empty(), "{}", rs[1]["findings"]);
}

#[test]
fn an_h2_only_client_that_gets_no_alpn_leaves_and_one_offering_http1_too_does_not() {
    let rs = records(&["samples/alpn-h2-none.pcap"]);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0]["outcome"], "failed");
    assert_eq!(rs[0]["failed_at"], "handshake");
    assert_eq!(rs[0]["cause"], "alpn-mismatch");
    assert_eq!(findings(&rs[0]), [f("alpn-mismatch", "error", None)]);
    let a = finding(&rs[0], "alpn-mismatch");
    assert_eq!(a["message"], "The client offered only h2 (HTTP/2) in ALPN and 127.0.0.1:8475 selected no protocol, so the client closed the connection without a request: HTTP/2-only clients (gRPC, for one) require h2.");
    assert_eq!(a["evidence"], "ClientHello in packet 4 offers ALPN h2 only; ServerHello in packet 6 has no ALPN extension; the client sent no application data and closed the connection with an alert in packet 12.");
    // curl --http2 offered h2 and http/1.1, got no ALPN and spoke HTTP/1.1: healthy.
    assert_eq!(rs[1]["alpn_offered"], serde_json::json!(["h2", "http/1.1"]));
    assert_eq!(rs[1]["alpn"], Value::Null);
    assert_eq!(rs[1]["outcome"], "ok");
    assert!(findings(&rs[1]).is_empty(), "{}", rs[1]["findings"]);
}

/// A resumed TLS 1.2 session (no Certificate, no ServerKeyExchange) is no negotiation failure.
#[test]
fn a_resumed_session_is_clean() {
    let rs = records(&["samples/tls12-resumption.pcap"]);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[1]["resumed"], true);
    for r in &rs {
        assert_eq!(r["outcome"], "ok");
        assert!(findings(r).is_empty(), "{}", r["findings"]);
    }
}

/// Corpus: nDPI's tls_alert.pcap is a TLS 1.0-only ClientHello refused with protocol_version
/// (the only no-common-version of the corpus); suricata-verify's tls-extra-alert is a
/// handshake_failure to a client offering 31 sound suites, which no negotiation finding may
/// explain without other connections to that server.
#[test]
fn corpus_protocol_version_and_handshake_failure_alerts() {
    let Some(corpus) = common::corpus("corpus_protocol_version_and_handshake_failure_alerts")
    else {
        return;
    };
    let rs = records(&[corpus
        .join("nDPI/tests/cfgs/default/pcap/tls_alert.pcap")
        .to_str()
        .unwrap()]);
    // Its second connection (a one-sided capture) is of another server.
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0]["server"], "192.168.1.20:443");
    cause_then_alert(&rs[0], "no-common-version");
    assert_eq!(
        finding(&rs[0], "no-common-version")["evidence"],
        "ClientHello in packet 4 offers at most TLS 1.0; alert protocol_version from the server in packet 6."
    );
    // No other connection to that server: the catalogue's fix.
    assert!(finding(&rs[0], "no-common-version")["remediation"]
        .as_str()
        .unwrap()
        .starts_with(
            "Client: enable TLS 1.2 (and 1.3) — Java 7/8: -Dhttps.protocols=TLSv1.2,TLSv1.3"
        ));
    let rs = records(&[corpus
        .join("suricata-verify/tests/tls-extra-alert/input.pcap")
        .to_str()
        .unwrap()]);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["cause"], "tls-alert");
    assert_eq!(findings(&rs[0])[0], f("tls-alert", "error", None));
}

/// A server with its own preference order (-serverpref) picks another suite than the client's
/// first: the choices differ from connection to connection, and nothing is wrong.
#[test]
fn a_server_that_prefers_another_suite_is_clean() {
    for keys in [
        &[][..],
        &["--keylog", "samples/cipher-server-preference.keys"][..],
    ] {
        let mut args = vec!["samples/cipher-server-preference.pcap"];
        args.extend_from_slice(keys);
        let seen: Vec<_> = records(&args)
            .iter()
            .map(|r| {
                (
                    r["version"].as_str().unwrap().to_string(),
                    r["cipher"].as_str().unwrap().to_string(),
                    r["outcome"].as_str().unwrap().to_string(),
                    findings(r),
                )
            })
            .collect();
        let ok = |v: &str, c: &str| (v.to_string(), c.to_string(), "ok".to_string(), vec![]);
        assert_eq!(
            seen,
            [
                ok("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
                ok("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
                ok("TLS 1.3", "TLS_AES_256_GCM_SHA384"),
                ok("TLS 1.3", "TLS_CHACHA20_POLY1305_SHA256"),
            ]
        );
    }
}

/// TLS 1.3, a server with X25519 only: clients offering only P-256 (and P-384) are refused with
/// handshake_failure, which connection #0's key share (in clear) explains.
#[test]
fn a_tls13_server_refuses_clients_without_its_key_exchange_group() {
    let rs = records(&["samples/no-common-group.pcap"]);
    assert_eq!(rs.len(), 3);
    assert_eq!(rs[0]["outcome"], "ok");
    assert!(findings(&rs[0]).is_empty(), "{}", rs[0]["findings"]);
    for (r, offered, hello, alert) in [
        (&rs[1], "secp256r1", 24, 26),
        (&rs[2], "secp256r1, secp384r1", 34, 36),
    ] {
        cause_then_alert(r, "no-common-group");
        let g = finding(r, "no-common-group");
        assert_eq!(g["message"], format!("127.0.0.1:8493 refused the TLS 1.3 ClientHello with alert handshake_failure: none of the key exchange groups the client offered ({offered}) is one the server chose for other clients in this capture (x25519)."));
        assert_eq!(g["evidence"], format!("ClientHello in packet {hello} offers supported_groups {offered}; alert handshake_failure from the server in packet {alert}; connection #0 negotiated x25519 with this server; groups it chose in the capture: x25519."));
        assert_eq!(g["remediation"], "Client: offer x25519 in supported_groups (OpenSSL -groups or SSL_CTX_set1_groups_list, Java jdk.tls.namedGroups, curl --curves), or update its TLS library; server: if policy allows, also accept one of the client's groups (OpenSSL -groups, nginx ssl_ecdh_curve).");
    }
}

/// A server with an ECDSA certificate only: clients offering only RSA signature algorithms
/// are refused with handshake_failure in TLS 1.3 and TLS 1.2. Without the key log the key type
/// shows in connection #1's ECDHE-ECDSA suite; with it, in connection #0's certificate.
#[test]
fn an_ecdsa_server_refuses_clients_offering_only_rsa_signatures() {
    for (keys, example) in [
        (&[][..], 1),
        (&["--keylog", "samples/no-common-sigalg.keys"][..], 0),
    ] {
        let mut args = vec!["samples/no-common-sigalg.pcap"];
        args.extend_from_slice(keys);
        let rs = records(&args);
        assert_eq!(rs.len(), 4);
        for r in &rs[..2] {
            assert_eq!(r["outcome"], "ok");
            assert!(findings(r).is_empty(), "{}", r["findings"]);
        }
        for (r, hello, alert) in [(&rs[2], 44, 46), (&rs[3], 54, 56)] {
            cause_then_alert(r, "no-common-sigalg");
            let s = finding(r, "no-common-sigalg");
            assert_eq!(s["message"], "127.0.0.1:8494 refused the ClientHello with alert handshake_failure: its certificate has an ECDSA key, and none of the 2 signature algorithms the client offered (rsa_pss_rsae_sha256, rsa_pkcs1_sha256) can sign with it.");
            assert_eq!(s["evidence"], format!("ClientHello in packet {hello} offers signature_algorithms rsa_pss_rsae_sha256, rsa_pkcs1_sha256; alert handshake_failure from the server in packet {alert}; connection #{example} got this server's certificate, with an ECDSA key."));
            assert_eq!(s["remediation"], "Client: offer signature algorithms for ECDSA keys (ecdsa_secp256r1_sha256) in signature_algorithms (OpenSSL -sigalgs, Java jdk.tls.client.SignatureSchemes), or update its TLS library; server: if such clients must be served, add a certificate with an RSA key beside this one (nginx: a second ssl_certificate and ssl_certificate_key).");
        }
    }
}
