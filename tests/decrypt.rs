//! Decryption with key logs: the samples (exact values from `samples/expected.json`, i.e. tshark
//! with the same key log) and the Wireshark corpus captures that ship keys (values from
//! `tshark -o tls.keylog_file:K -r F`).

mod common;

use std::path::Path;
use std::sync::Arc;
use tlscap::app::{analyze_file, apply_cross_connection, FileAnalysis, Options};
use tlscap::record::ConnectionRecord;
use tlscap::tls::keylog::KeyLog;

fn run(path: &Path, keylog: Option<&Path>, auto: bool) -> FileAnalysis {
    let keylog = keylog.map(|k| {
        let text = std::fs::read(k).expect("key log");
        Arc::new(KeyLog::parse(&text, &format!("--keylog {}", k.display())))
    });
    // The samples' private root is trusted, as `--ca-file samples/pki/root.pem` would.
    let trust = tlscap::certs::TrustOptions {
        extra_ca_files: vec![common::sample("pki/root.pem")],
        ..Default::default()
    };
    let opts = Options {
        keylog,
        auto_keylog: auto,
        validator: Some(tlscap::app::shared_validator(&trust).expect("samples root")),
        ..Options::default()
    };
    let mut a = [analyze_file(path, &opts)];
    apply_cross_connection(&mut a, &opts.findings);
    let [a] = a;
    assert!(a.error.is_none(), "{:?}", a.error);
    a
}

fn subjects(chain: &Option<std::sync::Arc<[tlscap::certs::CertInfo]>>) -> Vec<String> {
    chain
        .as_ref()
        .map(|c| c.iter().map(|i| i.subject.clone()).collect())
        .unwrap_or_default()
}

fn alerts(r: &ConnectionRecord) -> Vec<(String, String, String, u64)> {
    r.alerts
        .iter()
        .map(|a| {
            let from = match a.from {
                tlscap::flow::Side::Client => "client",
                tlscap::flow::Side::Server => "server",
            };
            (
                from.into(),
                a.level
                    .map_or_else(|| "encrypted".into(), |l| l.to_string()),
                a.description
                    .map_or_else(|| "encrypted".into(), |d| d.to_string()),
                a.packet,
            )
        })
        .collect()
}

fn ids(r: &ConnectionRecord) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = r.findings.iter().map(|f| f.kind.id()).collect();
    v.sort_unstable();
    v
}

fn statuses(r: &ConnectionRecord) -> Vec<Option<u16>> {
    r.http.iter().map(|h| h.status).collect()
}

const LEAF: &str = "CN=api.tlscap.test, O=tlscap tests";
const INTER: &str = "CN=tlscap Test Intermediate CA, O=tlscap tests";
const CLIENT: &str = "CN=tlscap test client, O=tlscap tests";

#[test]
fn tls13_mtls_cert_sent() {
    let a = run(&common::sample("tls13-mtls-cert-sent.pcap"), None, true);
    assert_eq!(
        a.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![format!(
            "using key log {} for {}",
            common::sample("tls13-mtls-cert-sent.keys").display(),
            common::sample("tls13-mtls-cert-sent.pcap").display()
        )]
    );
    let r = &a.connections[0];
    assert_eq!(r.cert_requested, Some(true));
    assert_eq!(r.client_cert_sent, Some(true));
    assert_eq!(subjects(&r.server_chain), vec![LEAF, INTER]);
    assert_eq!(subjects(&r.client_chain), vec![CLIENT, INTER]);
    assert_eq!(
        alerts(r),
        vec![
            ("server".into(), "warning".into(), "close_notify".into(), 18),
            ("client".into(), "warning".into(), "close_notify".into(), 20)
        ]
    );
    let d = r.decryption.as_ref().unwrap();
    assert_eq!(d.status, "ok");
    assert!(d
        .key_source
        .as_deref()
        .unwrap()
        .ends_with("(beside capture)"));
    assert!(ids(r).is_empty(), "{:?}", ids(r));
    // openssl s_server -WWW answers the GET /hello.txt.
    assert_eq!(r.http[0].method.as_deref(), Some("GET"));
    assert_eq!(r.http[0].path.as_deref(), Some("/hello.txt"));
    assert_eq!(r.http[0].auth, "client-certificate");
}

#[test]
fn tls13_mtls_no_cert() {
    let a = run(&common::sample("tls13-mtls-no-cert.pcap"), None, true);
    let r = &a.connections[0];
    assert_eq!(r.cert_requested, Some(true));
    assert_eq!(r.client_cert_sent, Some(false));
    assert_eq!(subjects(&r.server_chain), vec![LEAF, INTER]);
    assert_eq!(
        alerts(r),
        vec![(
            "server".into(),
            "fatal".into(),
            "certificate_required".into(),
            11
        )]
    );
    assert_eq!(r.status, "alert");
    assert_eq!(ids(r), vec!["client-cert-missing", "tls-alert"]);
}

#[test]
fn tls13_http_401_200() {
    let a = run(&common::sample("tls13-http-401-200.pcap"), None, true);
    let (ok, denied) = (&a.connections[0], &a.connections[1]);
    assert_eq!(ok.cert_requested, Some(true));
    assert_eq!(ok.client_cert_sent, Some(true));
    assert_eq!(ok.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(subjects(&ok.client_chain), vec![CLIENT]);
    assert_eq!(statuses(ok), vec![Some(200)]);
    assert_eq!(ok.http[0].auth, "client-certificate");
    assert_eq!(ok.http[0].host.as_deref(), Some("api.tlscap.test:8434"));
    assert_eq!(denied.cert_requested, Some(true));
    assert_eq!(denied.client_cert_sent, Some(false));
    assert_eq!(statuses(denied), vec![Some(401)]);
    assert_eq!(denied.http[0].auth, "none");
    assert_eq!(denied.http[0].response_packet, Some(35));
    assert_eq!(
        ids(denied),
        vec!["client-cert-missing", "http-unauthorized"]
    );
    let f = denied
        .findings
        .iter()
        .find(|f| f.kind.id() == "http-unauthorized")
        .unwrap();
    assert!(
        f.message
            .contains("HTTP 401 after the server asked for a client certificate"),
        "{}",
        f.message
    );
}

#[test]
fn sni_gated_client_auth_401_explained_by_missing_sni() {
    let a = run(&common::sample("sni-gated-client-auth.pcap"), None, true);
    let (with_sni, no_sni) = (&a.connections[0], &a.connections[1]);
    assert_eq!(statuses(with_sni), vec![Some(200)]);
    assert_eq!(
        alerts(with_sni),
        vec![("client".into(), "warning".into(), "close_notify".into(), 14)]
    );
    assert_eq!(statuses(no_sni), vec![Some(401)]);
    assert_eq!(no_sni.http[0].host.as_deref(), Some("127.0.0.1:8412"));
    let f = no_sni
        .findings
        .iter()
        .find(|f| f.kind.id() == "http-unauthorized")
        .unwrap();
    assert!(
        f.message.contains(
            "401 after a handshake in which no client certificate was requested because the ClientHello had no SNI"
        ),
        "{}",
        f.message
    );
    assert!(ids(no_sni).contains(&"sni-gated-client-auth"));
}

#[test]
fn no_key_path_is_unchanged() {
    // Without a key log the TLS 1.3 sample shows what it always showed, and the JSON has no
    // decryption or http fields.
    let a = run(&common::sample("tls13-mtls-no-cert.pcap"), None, false);
    let r = &a.connections[0];
    assert_eq!(r.cert_requested, None);
    assert_eq!(r.client_cert_sent, None);
    assert!(r.server_chain.is_none());
    assert!(r.decryption.is_none());
    assert!(r.http.is_empty());
    let json = serde_json::to_string(r).unwrap();
    assert!(!json.contains("\"decryption\"") && !json.contains("\"http\""));
    assert!(a.notes.is_empty());
}

#[test]
fn wrong_key_is_reported_as_failed_or_no_key() {
    // The key log of one sample does not fit another capture: no-key, never a panic.
    let a = run(
        &common::sample("tls13-mtls-no-cert.pcap"),
        Some(&common::sample("tls13-mtls-cert-sent.keys")),
        false,
    );
    let d = a.connections[0].decryption.as_ref().unwrap();
    assert_eq!(d.status, "no-key");
}

#[test]
fn malformed_key_log_lines_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("x.pcap");
    std::fs::copy(common::sample("tls13-mtls-no-cert.pcap"), &cap).unwrap();
    let mut keys = std::fs::read_to_string(common::sample("tls13-mtls-no-cert.keys")).unwrap();
    keys.push_str("CLIENT_RANDOM nothex\nGARBAGE\n");
    std::fs::write(dir.path().join("x.keylog"), keys).unwrap();
    let a = run(&cap, None, true);
    assert_eq!(a.connections[0].decryption.as_ref().unwrap().status, "ok");
    assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
    assert!(a.warnings[0].starts_with("2 malformed key log lines skipped"));
}

/// One corpus capture with its key log and what tshark shows with it, per connection:
/// (server certificate count, CertificateRequest, alert descriptions, first HTTP statuses).
struct Case {
    capture: &'static str,
    keys: Option<&'static str>,
    conns: &'static [(usize, bool, &'static [&'static str], &'static [u16])],
}

const CASES: &[Case] = &[
    // tshark does not dissect HTTP on this capture's port 4433; the 200s are from its
    // "Follow TLS stream" view.
    Case {
        capture: "wireshark/test/captures/tls12-chacha20poly1305.pcap",
        keys: Some("wireshark/test/keys/tls12-chacha20poly1305.keys"),
        conns: &[
            (1, false, &["close_notify"], &[200]),
            (1, false, &["close_notify"], &[200]),
            (1, false, &["close_notify"], &[200]),
            (1, false, &["close_notify"], &[200]),
            (0, false, &["close_notify"], &[200]),
            (0, false, &["close_notify"], &[200]),
            (0, false, &["close_notify"], &[200]),
        ],
    },
    Case {
        capture: "wireshark/test/captures/tls13-rfc8446.pcap",
        keys: Some("wireshark/test/keys/tls13-rfc8446.keys"),
        conns: &[(1, false, &[], &[200]), (0, false, &[], &[200, 200])],
    },
    // Draft 20 (0x7f14): empty record AAD. tshark shows the responses only in its TLS stream view.
    Case {
        capture: "wireshark/test/captures/tls13-20-chacha20poly1305.pcap",
        keys: Some("wireshark/test/keys/tls13-20-chacha20poly1305.keys"),
        conns: &[
            (1, false, &["close_notify"], &[200]),
            (1, false, &["close_notify"], &[200]),
        ],
    },
    Case {
        capture: "wireshark/test/captures/dhe1.pcapng.gz",
        keys: Some("wireshark/test/keys/dhe1_keylog.dat"),
        conns: &[(0, false, &["close_notify"], &[])],
    },
    Case {
        capture: "wireshark/test/captures/http2-data-reassembly.pcap",
        keys: Some("wireshark/test/keys/http2-data-reassembly.keys"),
        conns: &[(1, false, &["close_notify", "close_notify"], &[200])],
    },
    Case {
        capture: "wireshark/test/captures/tls12-dsb.pcapng",
        keys: None,
        conns: &[
            (2, false, &["close_notify", "close_notify"], &[200]),
            (2, false, &["close_notify", "close_notify"], &[200]),
        ],
    },
    Case {
        capture: "wireshark/test/captures/http2-brotli.pcapng",
        keys: None,
        conns: &[(1, false, &["close_notify"], &[200])],
    },
    Case {
        capture: "wireshark/test/captures/http2_follow_multistream.pcapng",
        keys: None,
        conns: &[(2, false, &["close_notify"], &[200; 8])],
    },
    // Out-of-order stream: tshark leaves the server's 19-byte record in frame 1664 undecrypted
    // (it is a close_notify) and reassembles only the first response; tlscap's in-order
    // reassembly reads both.
    Case {
        capture: "wireshark/test/captures/challenge01_ooo_stream.pcapng.gz",
        keys: None,
        conns: &[(0, false, &["close_notify", "close_notify"], &[200, 200])],
    },
];

#[test]
fn corpus_captures_decrypt_like_tshark() {
    let Some(corpus) = common::corpus("corpus_captures_decrypt_like_tshark") else {
        return;
    };
    for case in CASES {
        let keys = case.keys.map(|k| corpus.join(k));
        let a = run(&corpus.join(case.capture), keys.as_deref(), false);
        assert_eq!(a.connections.len(), case.conns.len(), "{}", case.capture);
        for (r, (certs, cr, alert_names, http)) in a.connections.iter().zip(case.conns) {
            let what = format!("{} #{}", case.capture, r.index);
            let d = r.decryption.as_ref().expect(&what);
            assert_eq!(d.status, "ok", "{what}: {:?}", d.reason);
            let n = r.server_chain.as_ref().map(|c| c.len()).unwrap_or(0);
            assert_eq!(n, *certs, "{what}: server certificates");
            assert_eq!(r.cert_requested.unwrap_or(false), *cr, "{what}");
            let got: Vec<String> = r
                .alerts
                .iter()
                .map(|a| {
                    a.description
                        .map_or_else(|| "encrypted".into(), |d| d.to_string())
                })
                .collect();
            assert_eq!(got, *alert_names, "{what}: alerts");
            let got: Vec<u16> = r.http.iter().filter_map(|h| h.status).collect();
            assert_eq!(got, *http, "{what}: HTTP statuses");
        }
    }
}

#[test]
fn cleartext_http_with_a_signature_in_the_query() {
    // nDPI's 1kxun.pcap, tcp.stream 73: tshark shows GET /rewardsetting?...&sign=... in frame
    // 1569 and HTTP 200 in frame 1572, on plain HTTP (port 80).
    let Some(corpus) = common::corpus("cleartext_http_with_a_signature_in_the_query") else {
        return;
    };
    let opts = Options {
        observer: tlscap::tls::ObserverConfig {
            cleartext_http: true,
            ..Default::default()
        },
        ..Options::default()
    };
    let cap = corpus.join("nDPI/tests/cfgs/default/pcap/1kxun.pcap");
    let mut a = [analyze_file(&cap, &opts)];
    apply_cross_connection(&mut a, &opts.findings);
    let [a] = a;
    let r = a
        .connections
        .iter()
        .find(|r| r.index == 73)
        .expect("reported");
    assert!(r.decryption.is_none());
    let h = &r.http[0];
    assert_eq!(h.method.as_deref(), Some("GET"));
    assert_eq!(h.status, Some(200));
    assert_eq!(h.auth, "hmac-query");
    assert_eq!(
        (h.request_packet, h.response_packet),
        (Some(1569), Some(1572))
    );
    let path = h.path.as_deref().unwrap();
    assert!(path.starts_with("/rewardsetting?app_id=<redacted>&sign=<redacted>&channel=&"));
    assert_eq!(
        ids(r),
        vec![
            "cleartext-credentials",
            "credentials-in-url",
            "sensitive-get"
        ]
    );
}

/// tcp-reset-after-close-notify: the client reads its 200, sends close_notify (packet 17) and
/// closes with SO_LINGER 0 (RST, packet 18). With the key log the close_notify is seen and the
/// reset is `info`; without it the alert is one more encrypted record, but the server had
/// answered the request (12) in packet 15 and the RST acknowledges all of it: `info` too, by the
/// exchange. Neither fails the connection.
#[test]
fn a_reset_after_the_clients_close_notify_is_info_with_the_key_log() {
    use tlscap::record::Outcome;
    let pcap = common::sample("tcp-reset-after-close-notify.pcap");
    let keys = common::sample("tcp-reset-after-close-notify.keys");
    let reset = |a: &FileAnalysis| {
        assert_eq!(a.connections.len(), 1);
        let r = &a.connections[0];
        assert_eq!(r.outcome, Outcome::Ok);
        let f: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.kind.id() == "tcp-reset")
            .map(|f| (f.severity.as_str(), f.message.clone(), f.evidence.clone()))
            .collect();
        assert_eq!(f.len(), 1);
        f[0].clone()
    };
    let with_keys = run(&pcap, Some(&keys), false);
    assert_eq!(
        alerts(&with_keys.connections[0]),
        [("client".into(), "warning".into(), "close_notify".into(), 17)]
    );
    assert_eq!(with_keys.connections[0].http[0].status, Some(200));
    assert_eq!(
        reset(&with_keys),
        (
            "info",
            "The client reset the connection after its close_notify in packet 17 had closed the TLS session: an abortive close, common for browsers and HTTP clients, not a failure.".to_string(),
            "RST from the client in packet 18 at +0.120 s.".to_string()
        )
    );
    let without = run(&pcap, None, false);
    assert!(without.connections[0].alerts.is_empty());
    assert_eq!(
        reset(&without),
        (
            "info",
            "The client reset the connection after the exchange: the server had answered the client's last request and the reset left nothing the server sent unacknowledged. An abortive close (an idle timeout, or a client done with the connection), not a failure.".to_string(),
            "RST from the client in packet 18 at +0.120 s. The client's last request in packet 12, the server's data after it up to packet 15.".to_string()
        )
    );
}
