//! `tlscap compare`: what it reports first, and everything it reports, for working/failing pairs
//! made on loopback (samples/compare/, samples/make_compare_samples.sh) and for a pair of
//! captures this project did not make.

mod common;

use serde_json::Value;
use std::process::Command;

/// Runs `tlscap compare ARGS --format json` from the crate root; (differences, exit code).
fn compare(args: &[&str]) -> (Vec<Value>, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(["compare", "--quiet", "--format", "json"])
        .args(["--ca-file", "samples/pki/root.pem"])
        .args(args)
        .output()
        .expect("run tlscap");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let rows = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    (rows, out.status.code().unwrap_or(-1))
}

/// The pair's differences, checked to be ranked 1..n.
fn pair(name: &str) -> Vec<Value> {
    let good = format!("samples/compare/{name}-good.pcap");
    let bad = format!("samples/compare/{name}-bad.pcap");
    let (rows, code) = compare(&[&good, &bad]);
    assert_eq!(code, 0, "{name}");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["type"], "difference");
        assert_eq!(r["rank"], i + 1, "{name}");
        assert_eq!(r["good_connection"]["file"], good.as_str());
        assert_eq!(r["bad_connection"]["file"], bad.as_str());
    }
    rows
}

/// The aspects, in rank order.
fn aspects(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|r| r["aspect"].as_str().unwrap()).collect()
}

#[test]
fn sni_pair_puts_the_missing_sni_first() {
    let rows = pair("sni");
    assert_eq!(
        aspects(&rows),
        [
            "sni",
            "certificate-request",
            "client-certificate",
            "http-status"
        ]
    );
    let first = &rows[0];
    assert_eq!(first["good"], "api.tlscap.test");
    assert_eq!(first["bad"], Value::Null);
    // Across the two captures, as in one batch: the server requests a certificate only with SNI.
    assert_eq!(first["finding"], "sni-gated-client-auth");
    assert_eq!(
        first["cause"],
        "The failing client sends no SNI (it connects by address), so the server answers with its default host, which never requests a client certificate."
    );
    assert_eq!(
        (&rows[1]["good"], &rows[1]["bad"]),
        (&"yes".into(), &"no".into())
    );
    assert_eq!(
        rows[2]["good"],
        "tlscap test client (issuer tlscap Test Intermediate CA)"
    );
    assert_eq!(
        (&rows[3]["good"], &rows[3]["bad"]),
        (&"200".into(), &"401".into())
    );
    assert_eq!(rows[3]["finding"], "http-unauthorized");
}

#[test]
fn version_pair_puts_the_old_version_first() {
    let rows = pair("version");
    assert_eq!(aspects(&rows), ["version", "alert"]);
    assert_eq!(
        (&rows[0]["good"], &rows[0]["bad"]),
        (&"TLS 1.3".into(), &"TLS 1.1".into())
    );
    assert_eq!(rows[0]["finding"], "no-common-version");
    assert_eq!(
        rows[0]["cause"],
        "The failing client offers at most TLS 1.1, which the server no longer accepts (it negotiated TLS 1.3 with the working client)."
    );
    assert_eq!(rows[1]["bad"], "server protocol_version");
}

#[test]
fn proxy_pair_puts_the_proxy_first() {
    let rows = pair("proxy");
    assert_eq!(aspects(&rows), ["proxy", "http-status"]);
    assert_eq!(rows[0]["good"], "direct");
    assert_eq!(rows[0]["bad"], "CONNECT api.tlscap.test:8463");
    assert_eq!(rows[0]["finding"], "http-unauthorized");
    assert_eq!(
        (&rows[1]["good"], &rows[1]["bad"]),
        (&"200".into(), &"403".into())
    );
}

/// The failing side went through tinyproxy: its header names the tunnel's target as the server
/// with the proxy as carrier, and its cause is the 403, not a client certificate never asked
/// for (the server saw the proxy's address: the proxy is the difference).
#[test]
fn proxy_pair_names_the_target_with_the_proxy_as_carrier() {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(["compare", "--quiet", "--ca-file", "samples/pki/root.pem"])
        .args([
            "samples/compare/proxy-good.pcap",
            "samples/compare/proxy-bad.pcap",
        ])
        .output()
        .expect("run tlscap");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let header: Vec<&str> = text.lines().take(2).collect();
    assert_eq!(
        header,
        [
            "good: samples/compare/proxy-good.pcap#0  127.0.0.1:41822 → 127.0.0.1:8463  SNI api.tlscap.test  JA4 t13d3112h2_e8f1e7e78f70_b26ce05bbdd6  ok",
            "bad:  samples/compare/proxy-bad.pcap#0  127.0.0.1:58604 → api.tlscap.test:8463 via HTTP proxy 127.0.0.1:8464  SNI api.tlscap.test  JA4 t13d3112h2_e8f1e7e78f70_b26ce05bbdd6  failed (http-unauthorized)",
        ]
    );
}

#[test]
fn client_cert_pair_puts_the_missing_certificate_first() {
    let rows = pair("client-cert");
    assert_eq!(aspects(&rows), ["client-certificate", "alert"]);
    assert_eq!(
        rows[0]["good"],
        "tlscap test client (issuer tlscap Test Intermediate CA)"
    );
    assert_eq!(rows[0]["bad"], Value::Null);
    assert_eq!(rows[0]["finding"], "client-cert-missing");
    assert_eq!(rows[1]["bad"], "server handshake_failure");
}

#[test]
fn pool_pair_puts_the_incomplete_chain_first() {
    let rows = pair("pool");
    assert_eq!(aspects(&rows), ["server-chain", "server-address", "alert"]);
    assert_eq!(
        rows[0]["good"],
        "2 certs: api.tlscap.test > tlscap Test Intermediate CA (trusted)"
    );
    assert_eq!(rows[0]["bad"], "1 cert: api.tlscap.test (incomplete)");
    assert_eq!(rows[0]["finding"], "chain-incomplete");
    assert_eq!(
        (&rows[1]["good"], &rows[1]["bad"]),
        (&"127.0.0.2:8465".into(), &"127.0.0.3:8465".into())
    );
    assert_eq!(rows[2]["bad"], "client unknown_ca");
}

/// The failing client announces MSS 1460 across a router whose link to it has MTU 1280 and
/// whose ICMP is dropped; the working one announces 1200 (route advmss). The MSS difference
/// and the black hole are the one difference listed: how TCP ended is not repeated as "no
/// answer to its ClientHello", since the server did answer.
#[test]
fn mtu_pair_puts_the_mss_and_black_hole_first() {
    let rows = pair("mtu");
    assert_eq!(aspects(&rows), ["mtu"]);
    assert_eq!(rows[0]["good"], "client 1200, server 1460");
    assert_eq!(
        rows[0]["bad"],
        "client 1460, server 1460; full-size segments lost"
    );
    assert_eq!(rows[0]["finding"], "mtu-black-hole");
    assert_eq!(
        rows[0]["cause"],
        "The failing client announces MSS 1460 where the working one announces 1200, so the server sends segments too large for a link on the failing path, and the ICMP that should report it is lost (MTU black hole)."
    );
}

/// The same MSS on both sides: the black hole alone is the difference (the failing side of
/// the mtu pair against the working side of the pq pair, both MSS 1460 but on other paths,
/// so the server address is listed after it).
#[test]
fn black_hole_without_an_mss_difference() {
    let (rows, code) = compare(&[
        "samples/compare/pq-good.pcap",
        "samples/compare/mtu-bad.pcap",
    ]);
    assert_eq!(code, 0);
    assert_eq!(aspects(&rows), ["mtu", "server-address"]);
    assert_eq!(rows[0]["good"], "client 1460, server 1460");
    assert_eq!(rows[0]["finding"], "mtu-black-hole");
    assert_eq!(
        rows[0]["cause"],
        "The failing connection's full-size segments never arrive while the working one's do: a link on its path has a smaller MTU and the ICMP \"fragmentation needed\" is lost (MTU black hole)."
    );
}

/// Both clients present a certificate from the same CA; the failing one's has
/// extendedKeyUsage serverAuth only, and s_server answers unsupported_certificate.
#[test]
fn client_usage_pair_puts_the_key_usage_first() {
    let rows = pair("client-usage");
    assert_eq!(
        aspects(&rows),
        ["client-key-usage", "client-certificate", "alert"]
    );
    assert_eq!(
        (&rows[0]["good"], &rows[0]["bad"]),
        (&"clientAuth".into(), &"serverAuth".into())
    );
    assert_eq!(rows[0]["finding"], "client-cert-rejected");
    assert_eq!(
        rows[0]["cause"],
        "The failing client's certificate is not for client authentication (extendedKeyUsage serverAuth, no clientAuth), so the server rejects it."
    );
    assert_eq!(
        rows[1]["bad"],
        "api.tlscap.test (issuer tlscap Test Intermediate CA)"
    );
    assert_eq!(rows[2]["bad"], "server unsupported_certificate");
}

/// curl (OpenSSL 3.0) sends an x25519 share in a 512-byte hello; the pyOpenSSL client (the
/// OpenSSL bundled with `cryptography`) adds an X25519MLKEM768 share, and its 1549-byte hello
/// spans two segments, the second of which the middlebox rule drops.
#[test]
fn pq_pair_puts_the_key_share_first() {
    let rows = pair("pq");
    assert_eq!(aspects(&rows), ["key-share", "tcp"]);
    assert_eq!(
        rows[0]["good"],
        "x25519 (ClientHello 512 bytes, one 1460-byte segment)"
    );
    assert_eq!(
        rows[0]["bad"],
        "X25519MLKEM768, x25519 (ClientHello 1549 bytes, more than one 1460-byte segment)"
    );
    assert_eq!(rows[0]["finding"], "handshake-stalled");
    assert_eq!(
        (&rows[1]["good"], &rows[1]["bad"]),
        (&"ok".into(), &"stalled".into())
    );
}

/// One capture with both clients: the sides picked by index, by `FILE#N`, and by SNI glob and
/// client address, give the same report.
#[test]
fn one_capture_sides_by_filter_or_index() {
    let by_flag = compare(&[
        "samples/sni-gated-client-auth.pcap",
        "--good",
        "0",
        "--bad",
        "1",
    ]);
    let by_hash = compare(&[
        "samples/sni-gated-client-auth.pcap#0",
        "samples/sni-gated-client-auth.pcap#1",
    ]);
    let by_name = compare(&[
        "samples/sni-gated-client-auth.pcap",
        "--good",
        "API.tlscap.*",
        "--bad",
        "127.0.0.1",
    ]);
    assert_eq!(by_flag.1, 0);
    assert_eq!(by_flag, by_hash);
    assert_eq!(by_flag, by_name);
    let rows = by_flag.0;
    assert_eq!(
        aspects(&rows),
        [
            "sni",
            "certificate-request",
            "client-certificate",
            "http-status"
        ]
    );
    assert_eq!(rows[0]["finding"], "sni-gated-client-auth");
    assert_eq!(rows[0]["good_connection"]["index"], 0);
    assert_eq!(rows[0]["bad_connection"]["index"], 1);
}

#[test]
fn a_side_without_connections_is_a_usage_error() {
    let (rows, code) = compare(&[
        "samples/sni-gated-client-auth.pcap",
        "--good",
        "0",
        "--bad",
        "7",
    ]);
    assert!(rows.is_empty());
    assert_eq!(code, 2);
    let (_, code) = compare(&["samples/sni-gated-client-auth.pcap", "--good", "0"]);
    assert_eq!(code, 2);
}

/// CSV carries the same rows as JSON, one per difference after the header.
#[test]
fn csv_has_a_row_per_difference() {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args([
            "compare",
            "-q",
            "--format",
            "csv",
            "--ca-file",
            "samples/pki/root.pem",
        ])
        .args([
            "samples/compare/version-good.pcap",
            "samples/compare/version-bad.pcap",
        ])
        .output()
        .expect("run tlscap");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "rank,aspect,good,bad,finding,cause,good_file,good_index,bad_file,bad_index"
    );
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("1,version,TLS 1.3,TLS 1.1,no-common-version,"));
}

/// Two captures from other projects, both to www.google-analytics.com: pinterest.pcap's
/// connection 35 completes TLS 1.3; tls_alert.pcap's only connection offers TLS 1.0 at most and
/// its server answers with alert protocol_version. The version is the one difference listed
/// before the alert; the two servers' addresses are not listed, since the client's own offer
/// explains the alert.
#[test]
fn corpus_pair_old_version_against_google_analytics() {
    let Some(corpus) = common::corpus("corpus_pair_old_version_against_google_analytics") else {
        return;
    };
    let dir = corpus.join("nDPI/tests/cfgs/default/pcap");
    let good = format!("{}#35", dir.join("pinterest.pcap").display());
    let bad = format!("{}#0", dir.join("tls_alert.pcap").display());
    let (rows, code) = compare(&[&good, &bad]);
    assert_eq!(code, 0);
    assert_eq!(aspects(&rows), ["version", "alert"]);
    assert_eq!(
        (&rows[0]["good"], &rows[0]["bad"]),
        (&"TLS 1.3".into(), &"TLS 1.0".into())
    );
    assert_eq!(rows[0]["finding"], "no-common-version");
    assert_eq!(rows[1]["bad"], "server protocol_version");
}

/// Every secret planted in the samples (meta/*.txt `secrets:` and `secrets_hidden:`), and every
/// key-log secret of the captures compared.
fn planted_secrets(captures: &[&str]) -> Vec<String> {
    let mut secrets = Vec::new();
    let meta = common::root().join("samples/meta");
    for e in std::fs::read_dir(&meta).expect("samples/meta") {
        let text = std::fs::read_to_string(e.expect("entry").path()).unwrap_or_default();
        for line in text.lines() {
            if let Some(v) = line
                .strip_prefix("secrets: ")
                .or_else(|| line.strip_prefix("secrets_hidden: "))
            {
                secrets.extend(v.split_whitespace().map(str::to_owned));
            }
        }
    }
    for c in captures {
        let keys = common::root().join(c.replace(".pcap", ".keys"));
        let text = std::fs::read_to_string(keys).unwrap_or_default();
        secrets.extend(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_whitespace().nth(2))
                .map(str::to_owned),
        );
    }
    secrets
}

/// Comparing the captures that carry credentials (a proxy's Basic auth in clear, bearer tokens,
/// signatures and passwords inside TLS) prints none of them in any format.
#[test]
fn no_secret_reaches_the_comparison() {
    let captures = [
        "samples/proxy-connect-auth.pcap",
        "samples/https-planted-secrets.pcap",
        "samples/https-bearer-post-200.pcap",
        "samples/https-hmac-query.pcap",
        "samples/https-password-get.pcap",
        "samples/http-cleartext-credentials.pcap",
    ];
    let secrets = planted_secrets(&captures);
    assert!(secrets.len() > 20, "{} secrets", secrets.len());
    let mut compared = 0;
    for g in captures {
        for b in captures {
            if g == b {
                continue;
            }
            for format in ["json", "table", "csv"] {
                let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
                    .current_dir(common::root())
                    .args(["compare", "-q", "--format", format, "--width", "400", g, b])
                    .output()
                    .expect("run tlscap");
                let text = String::from_utf8_lossy(&out.stdout);
                compared += usize::from(!text.is_empty());
                for s in &secrets {
                    assert!(
                        !text.contains(s.as_str()),
                        "{g} vs {b} ({format}) shows {s}"
                    );
                }
            }
        }
    }
    // The proxy sample pairs with the others by SNI (localhost) or server address.
    assert!(compared > 0);
}

/// `--format html -o FILE`: one self-contained page with the ranked differences (the same
/// rows as JSON, in order) and both sides' sections with their ladders; nothing fetched.
#[test]
fn html_page_has_the_differences_and_both_ladders() {
    let dir = common::root().join("target").join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("compare-sni.html");
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(["compare", "-q", "--format", "html", "-o"])
        .arg(&file)
        .args([
            "--ca-file",
            "samples/pki/root.pem",
            "samples/compare/sni-good.pcap",
            "samples/compare/sni-bad.pcap",
        ])
        .output()
        .expect("run tlscap");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&file).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("default-src 'none'"));
    let rows: Vec<&str> = page
        .split("<tr class=\"difference\" data-aspect=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            "sni",
            "certificate-request",
            "client-certificate",
            "http-status"
        ]
    );
    assert!(page.contains("The failing client sends no SNI (it connects by address), so the server answers with its default host, which never requests a client certificate."));
    assert_eq!(page.matches("<svg class=\"ladder\"").count(), 2);
    assert!(page.contains("<div class=\"side good\"><h3>Working side</h3><section class=\"conn\" id=\"conn-sni-good-pcap-0\""));
    assert!(page.contains("<div class=\"side bad\"><h3>Failing side</h3><section class=\"conn\" id=\"conn-sni-bad-pcap-0\" data-cause=\"sni-gated-client-auth\""));
    // Nothing to fetch (URLs appear only as text, e.g. in a fix, and as the SVG namespace).
    for attr in [" src=", "href=\"http", "url(http", "<link", "<script"] {
        assert!(!page.contains(attr), "{attr}");
    }
}

/// The README's worked example is what the command prints.
#[test]
fn readme_example_is_the_output() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).expect("README.md");
    let block = readme
        .split("<!-- example:compare -->\n```\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n<!-- /example:compare -->").next())
        .expect("README has the compare example");
    let (command, shown) = block.split_once('\n').expect("a command line, then output");
    let args: Vec<&str> = command
        .strip_prefix("$ tlscap ")
        .expect("$ tlscap ...")
        .split_whitespace()
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(&args)
        .output()
        .expect("run tlscap");
    assert_eq!(String::from_utf8_lossy(&out.stdout), shown);
}

/// With two captures, each filter picks from its own capture. The two servers differ (ports 8412
/// and 8461), so no cross-connection finding joins them: the failing side's cause is its own
/// `client-cert-not-requested`, which the missing SNI explains since only the working client
/// was asked for a certificate.
#[test]
fn two_captures_with_filters() {
    let (rows, code) = compare(&[
        "samples/sni-gated-client-auth.pcap",
        "samples/compare/sni-bad.pcap",
        "--good",
        "api.tlscap.test",
        "--bad",
        "0",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        aspects(&rows),
        [
            "sni",
            "certificate-request",
            "client-certificate",
            "http-status"
        ]
    );
    // Not the server address either: what the client sends explains it.
    assert_eq!(rows[0]["finding"], "client-cert-not-requested");
    assert_eq!(rows[0]["good_connection"]["index"], 0);
}

/// One capture of another project (nDPI's gnutella.pcap): connection 117 to 188.61.52.183 port
/// 11852 is answered, connection 58 to port 63978 of the same host never is. The port is the
/// difference, ahead of how TCP ended.
#[test]
fn corpus_pair_same_host_other_port_times_out() {
    let Some(corpus) = common::corpus("corpus_pair_same_host_other_port_times_out") else {
        return;
    };
    let file = corpus.join("nDPI/tests/cfgs/default/pcap/gnutella.pcap");
    let file = file.display().to_string();
    let (rows, code) = compare(&[&file, "--good", "117", "--bad", "58"]);
    assert_eq!(code, 0);
    assert_eq!(aspects(&rows), ["server-address", "tcp"]);
    assert_eq!(
        (&rows[0]["good"], &rows[0]["bad"]),
        (&"188.61.52.183:11852".into(), &"188.61.52.183:63978".into())
    );
    assert_eq!(rows[0]["finding"], "tcp-connect-timeout");
    assert_eq!(
        (&rows[1]["good"], &rows[1]["bad"]),
        (&"ok".into(), &"timeout".into())
    );
}

/// Two signed requests to one API (samples/hmac/hmac-tls.pcap, decrypted with its key log):
/// the signature in the query string is accepted, the one in a header refused. A client
/// certificate is not part of this aspect (the client-certificate aspect names it).
#[test]
fn hmac_pair_names_where_the_signature_travels() {
    let (rows, code) = compare(&["--good", "2", "--bad", "1", "samples/hmac/hmac-tls.pcap"]);
    assert_eq!(code, 0);
    assert_eq!(aspects(&rows), ["http-auth", "http-status"]);
    let auth = &rows[0];
    assert_eq!(auth["good"], "hmac-query");
    assert_eq!(auth["bad"], "hmac-header");
    assert_eq!(auth["finding"], "http-unauthorized");
    assert_eq!(
        auth["cause"],
        "The failing request authenticates with hmac-header where the working one uses hmac-query; the server accepts only the working scheme (or where it travels)."
    );
    assert_eq!(auth["good_connection"]["index"], 2);
    assert_eq!(auth["bad_connection"]["index"], 1);
    assert_eq!(
        (rows[1]["good"].as_str(), rows[1]["bad"].as_str()),
        (Some("200"), Some("401"))
    );
}
