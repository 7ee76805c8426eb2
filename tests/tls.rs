//! TLS observer tests on real handshakes: byte streams derived from the shared corpus with
//! tshark (`tests/fixtures/extract_tls_fixtures.py`), checked against the values tshark and the
//! FoxIO JA4 reference report for the same connections.

use tlscap::flow::{Direction, Interest, SegmentMeta, StreamHandler};
use tlscap::time::Timestamp;
use tlscap::tls::fingerprint::{ja3, ja4};
use tlscap::tls::names::{alert_name, cipher_name, version_name};
use tlscap::tls::{HandshakeSummary, ObserverConfig, TlsObserver};

fn fixture(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn meta(packet: u64) -> SegmentMeta {
    SegmentMeta {
        packet,
        ts: Timestamp::new(1_700_000_000, packet),
    }
}

/// Payload chunks of one connection in capture order: (direction, bytes).
fn handshake_chunks(name: &str) -> Vec<(Direction, Vec<u8>)> {
    fixture(&format!("tls_handshakes/{name}.txt"))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (side, hex_text) = l.split_once(' ').expect("side and hex");
            let dir = if side == "C" {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            (dir, hex::decode(hex_text.trim()).expect("hex"))
        })
        .collect()
}

/// Feeds chunks (chunk i is "packet" i+1), honouring Interest::Done per direction.
fn run(chunks: &[(Direction, Vec<u8>)]) -> HandshakeSummary {
    run_split(chunks, usize::MAX)
}

/// Like [`run`], but delivers each chunk in pieces of at most `piece` bytes (same packet).
fn run_split(chunks: &[(Direction, Vec<u8>)], piece: usize) -> HandshakeSummary {
    let mut obs = TlsObserver::new(ObserverConfig::default());
    let mut done = [false; 2];
    for (i, (dir, bytes)) in chunks.iter().enumerate() {
        for part in bytes.chunks(piece.max(1)) {
            if done[dir.idx()] {
                break;
            }
            if obs.on_data(*dir, part, meta(i as u64 + 1)) == Interest::Done {
                done[dir.idx()] = true;
            }
        }
    }
    obs.finish()
}

const HANDSHAKES: [&str; 10] = [
    "tls12_client_auth",
    "tls12_client_alert",
    "tls13_rfc8446",
    "tls13_hello_retry",
    "sslv2_hello",
    "fragmented_client_hellos",
    "server_alert_no_server_hello",
    "tls13_draft22",
    "tls13_draft28_a",
    "tls13_draft28_b",
];

fn events(s: &HandshakeSummary) -> Vec<String> {
    s.events
        .iter()
        .map(|e| format!("{:?} {} {}", e.dir, e.meta.packet, e.text))
        .collect()
}

#[test]
fn ja4_matches_foxio_snapshots() {
    let text = fixture("tls_ja4_client_hellos.tsv");
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (capture, stream, expected, bytes) = (cols[0], cols[1], cols[2], cols[3]);
        let bytes = hex::decode(bytes).unwrap();
        let mut obs = TlsObserver::new(ObserverConfig::default());
        obs.on_data(Direction::ToServer, &bytes, meta(1));
        let summary = obs.finish();
        let ch = summary
            .client_hello
            .unwrap_or_else(|| panic!("{capture} {stream}: no hello"));
        assert_eq!(ja4(&ch), expected, "{capture} stream {stream}");
        checked += 1;
    }
    assert_eq!(checked, 28);
}

/// tls-store-02/tls-client-auth.pcap (suricata-verify): TLS 1.2 with client authentication.
/// tshark: SNI localhost, cipher 0xc030, CertificateRequest, client Certificate with 1 cert, server
/// chain of 2, 1 encrypted alert, JA3 2a26b1a62e40d25d4de3babc9d532f30.
#[test]
fn tls12_client_auth() {
    let s = run(&handshake_chunks("tls12_client_auth"));
    assert!(s.is_tls);
    assert!(!s.roles_swapped);
    let ch = s.client_hello.as_ref().unwrap();
    assert_eq!(ch.sni.as_deref(), Some("localhost"));
    assert_eq!(ch.ciphers.len(), 67);
    assert_eq!(ja3(ch), "2a26b1a62e40d25d4de3babc9d532f30");
    assert_eq!(
        s.negotiated_version().map(version_name).as_deref(),
        Some("TLS 1.2")
    );
    let sh = s.server_hello.as_ref().unwrap();
    assert_eq!(
        cipher_name(sh.cipher),
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    );
    assert_eq!(s.server_certificate.as_ref().unwrap().certs.len(), 2);
    assert_eq!(s.client_certificate.as_ref().unwrap().certs.len(), 1);
    assert_eq!(s.certificate_request.map(|m| m.packet), Some(2));
    assert_eq!(s.cert_requested(), Some(true));
    assert_eq!(s.client_cert_sent(), Some(true));
    assert!(!s.resumed());
    assert_eq!(
        s.change_cipher_spec.map(|m| m.map(|m| m.packet)),
        [Some(3), Some(4)]
    );
    assert_eq!(s.alerts.len(), 1);
    assert!(s.alerts[0].encrypted);
    assert_eq!(s.alerts[0].from, tlscap::flow::Side::Client);
    assert_eq!(s.encrypted_records, [3, 3]);
    assert_eq!(s.application_data_records, [1, 2]);
    assert_eq!(
        events(&s),
        [
            "ToServer 1 ClientHello SNI=localhost ALPN=h2,http/1.1 version=TLS 1.2",
            "ToClient 2 ServerHello TLS 1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "ToClient 2 Certificate (2 certificates)",
            "ToClient 2 ServerKeyExchange secp256r1",
            "ToClient 2 CertificateRequest",
            "ToClient 2 ServerHelloDone",
            "ToServer 3 Certificate (1 certificate)",
            "ToServer 3 ClientKeyExchange",
            "ToServer 3 CertificateVerify",
            "ToServer 3 ChangeCipherSpec",
            "ToServer 3 encrypted records begin",
            "ToClient 4 ChangeCipherSpec",
            "ToClient 4 encrypted records begin",
            "ToServer 7 Alert (encrypted)",
        ]
    );
    assert!(s.problems.is_empty(), "{:?}", s.problems);
}

/// badcurveball.pcap (FoxIO JA4): the client rejects the server chain with a plaintext fatal
/// certificate_unknown alert. tshark: cipher 0xc02b, chain of 2, alert from client desc 46.
#[test]
fn tls12_plaintext_client_alert() {
    let s = run(&handshake_chunks("tls12_client_alert"));
    let ch = s.client_hello.as_ref().unwrap();
    assert_eq!(ch.sni.as_deref(), Some("bad.curveballtest.com"));
    assert_eq!(ja3(ch), "66918128f1b9b03303d77c6f2eefd128");
    assert_eq!(ja4(ch), "t13d1615h2_46e7e9700bed_45f260be83e2");
    let sh = s.server_hello.as_ref().unwrap();
    assert_eq!(version_name(sh.version), "TLS 1.2");
    assert_eq!(
        cipher_name(sh.cipher),
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    );
    assert_eq!(sh.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(s.server_certificate.as_ref().unwrap().certs.len(), 2);
    assert_eq!(s.cert_requested(), Some(false));
    assert_eq!(s.client_cert_sent(), None);
    assert_eq!(s.alerts.len(), 1);
    let a = s.alerts[0];
    assert_eq!(
        (
            a.from,
            a.level,
            alert_name(a.description).as_str(),
            a.encrypted
        ),
        (tlscap::flow::Side::Client, 2, "certificate_unknown", false)
    );
    assert_eq!(a.meta.packet, 4);
    assert_eq!(
        events(&s).last().unwrap(),
        "ToServer 4 Alert fatal certificate_unknown"
    );
    assert_eq!(s.change_cipher_spec, [None, None]);
}

/// tls13-rfc8446.pcap (Wireshark): TLS 1.3, everything after the ServerHello encrypted.
#[test]
fn tls13_handshake() {
    let s = run(&handshake_chunks("tls13_rfc8446"));
    let ch = s.client_hello.as_ref().unwrap();
    assert_eq!(ch.sni, None);
    assert_eq!(ja3(ch), "25bd5fc6fcc031c1c87f93613e0252ce");
    assert_eq!(s.negotiated_version(), Some(0x0304));
    assert_eq!(
        cipher_name(s.server_hello.as_ref().unwrap().cipher),
        "TLS_AES_128_GCM_SHA256"
    );
    assert_eq!(s.server_certificate, None);
    assert_eq!(s.cert_requested(), None);
    assert_eq!(s.client_cert_sent(), None);
    assert!(!s.resumed());
    assert_eq!(s.encrypted_records, [2, 3]);
    assert_eq!(
        events(&s),
        [
            "ToServer 1 ClientHello no SNI versions=TLS 1.3,0x7f1c,0x7f17,TLS 1.2,TLS 1.1,TLS 1.0",
            "ToClient 2 ServerHello TLS 1.3 TLS_AES_128_GCM_SHA256",
            "ToClient 2 encrypted records begin",
            "ToClient 2 ChangeCipherSpec",
            "ToServer 3 ChangeCipherSpec",
            "ToServer 3 encrypted records begin",
        ]
    );
}

/// bug-5758 (suricata-verify): HelloRetryRequest (tshark: two ServerHellos, the first with the
/// HRR random; two ClientHellos with the same JA3), then TLS 1.3 with TLS_AES_256_GCM_SHA384.
#[test]
fn tls13_hello_retry_request() {
    let s = run(&handshake_chunks("tls13_hello_retry"));
    let hrr = s.hello_retry_request.as_ref().unwrap();
    assert!(hrr.hello_retry);
    assert_eq!(hrr.meta.packet, 2);
    let ch2 = s.second_client_hello.as_ref().unwrap();
    assert_eq!(ch2.meta.packet, 3);
    assert_eq!(ja3(ch2), "1ee96c96da0a44dc79c063f3d88105f5");
    assert_eq!(
        ja3(s.client_hello.as_ref().unwrap()),
        "1ee96c96da0a44dc79c063f3d88105f5"
    );
    let sh = s.server_hello.as_ref().unwrap();
    assert!(!sh.hello_retry);
    assert_eq!(sh.meta.packet, 4);
    assert_eq!(version_name(sh.version), "TLS 1.3");
    assert_eq!(cipher_name(sh.cipher), "TLS_AES_256_GCM_SHA384");
    // The client's compatibility CCS came before its second ClientHello: still plaintext then.
    assert_eq!(
        s.change_cipher_spec.map(|m| m.map(|m| m.packet)),
        [Some(3), Some(2)]
    );
    assert!(events(&s).contains(&"ToClient 4 encrypted records begin".to_string()));
    assert!(s.problems.is_empty(), "{:?}", s.problems);
}

/// ssl-v2-s1.pcap (suricata-verify sslv2-tls-upgrade-01): SSLv2-format ClientHello, then TLS 1.0
/// with TLS_DHE_RSA_WITH_AES_256_CBC_SHA (tshark: cipher 0x0039, chain of 1, 2 encrypted alerts).
#[test]
fn sslv2_client_hello() {
    let s = run(&handshake_chunks("sslv2_hello"));
    let ch = s.client_hello.as_ref().unwrap();
    assert!(ch.sslv2);
    assert_eq!(ch.legacy_version, 0x0301);
    assert_eq!(ch.sni, None);
    assert_eq!(ch.ciphers.len(), 20);
    assert_eq!(s.negotiated_version(), Some(0x0301));
    assert_eq!(
        cipher_name(s.server_hello.as_ref().unwrap().cipher),
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"
    );
    assert_eq!(s.server_certificate.as_ref().unwrap().certs.len(), 1);
    let enc: Vec<_> = s
        .alerts
        .iter()
        .filter(|a| a.encrypted)
        .map(|a| a.from)
        .collect();
    assert_eq!(
        enc,
        [tlscap::flow::Side::Server, tlscap::flow::Side::Client]
    );
    assert_eq!(
        events(&s)[0],
        "ToServer 1 ClientHello (SSLv2 format) no SNI version=TLS 1.0"
    );
}

/// tls-fragmented-handshakes.pcap (Wireshark): ten ClientHellos cut across records and segments
/// in every way (tshark counts 10 in stream 0, JA3 fde4273625b2ac63bd01d9c500dac91b).
#[test]
fn handshake_fragmented_across_records() {
    let s = run(&handshake_chunks("fragmented_client_hellos"));
    let hellos = s
        .events
        .iter()
        .filter(|e| e.text.starts_with("ClientHello"))
        .count();
    assert_eq!(hellos, 10);
    let ch = s.client_hello.as_ref().unwrap();
    assert_eq!(ja3(ch), "fde4273625b2ac63bd01d9c500dac91b");
    assert_eq!(ch.ciphers, [0x002f]);
    assert_eq!(ch.extensions, [0xaaaa]);
    assert!(s.problems.is_empty(), "{:?}", s.problems);
}

/// tls_alert.pcap (nDPI): the server answers the ClientHello with a fatal protocol_version alert.
#[test]
fn server_alert_without_server_hello() {
    let s = run(&handshake_chunks("server_alert_no_server_hello"));
    assert!(s.is_tls);
    assert_eq!(
        s.client_hello.as_ref().unwrap().sni.as_deref(),
        Some("www.google-analytics.com")
    );
    assert_eq!(
        ja3(s.client_hello.as_ref().unwrap()),
        "d78489b860c8bf7838a6ff0b4d131541"
    );
    assert!(s.server_hello.is_none());
    assert_eq!(s.alerts.len(), 1);
    let a = s.alerts[0];
    assert_eq!(
        (a.from, a.level, a.description),
        (tlscap::flow::Side::Server, 2, 70)
    );
    assert_eq!(s.cert_requested(), None);
}

/// Delivering every fixture one byte at a time (every segment boundary at once) and in a few
/// other piece sizes gives exactly the summary of whole-segment delivery.
#[test]
fn any_segmentation_gives_identical_summary() {
    for name in HANDSHAKES {
        let chunks = handshake_chunks(name);
        let whole = run(&chunks);
        for piece in [1, 2, 3, 5, 7, 100, 1000] {
            assert_eq!(
                run_split(&chunks, piece),
                whole,
                "{name} in pieces of {piece}"
            );
        }
    }
}

/// Roles: a ClientHello travelling server→client swaps the roles.
#[test]
fn client_hello_in_reverse_direction_swaps_roles() {
    let chunks: Vec<_> = handshake_chunks("tls12_client_alert")
        .into_iter()
        .map(|(d, b)| (d.reverse(), b))
        .collect();
    let s = run(&chunks);
    assert!(s.roles_swapped);
    let normal = run(&handshake_chunks("tls12_client_alert"));
    assert_eq!(s.alerts, normal.alerts);
    assert_eq!(s.client_hello, normal.client_hello);
    assert_eq!(events(&s), events(&normal));
}

/// A gap inside the server's handshake: problem recorded, reading stops (no header follows).
#[test]
fn gap_inside_handshake_is_reported() {
    let chunks = handshake_chunks("tls12_client_auth");
    let mut obs = TlsObserver::new(ObserverConfig::default());
    obs.on_data(chunks[0].0, &chunks[0].1, meta(1));
    let server = &chunks[1].1;
    obs.on_data(Direction::ToClient, &server[..100], meta(2));
    obs.on_gap(Direction::ToClient, 50, meta(3));
    let i = obs.on_data(Direction::ToClient, &server[150..], meta(3));
    assert_eq!(i, Interest::Done);
    let s = obs.finish();
    assert_eq!(
        s.problems[0],
        "gap of 50 bytes in server→client stream at packet 3"
    );
    assert!(s.server_hello.is_some());
    assert!(s.server_certificate.is_none());
}

/// Bytes that are not TLS (an HTTP request) make the connection not TLS; the direction is
/// searched for TLS after a preamble only for a bounded number of deliveries.
#[test]
fn plaintext_http_is_not_tls() {
    // Hand-built: a plain HTTP request, the one edge case this test is about.
    let mut obs = TlsObserver::new(ObserverConfig::default());
    let req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    assert_eq!(
        obs.on_data(Direction::ToServer, req, meta(4)),
        Interest::More
    );
    let limit = ObserverConfig::default().max_preamble_chunks;
    for i in 2..limit {
        assert_eq!(
            obs.on_data(Direction::ToServer, req, meta(4 + u64::from(i))),
            Interest::More
        );
    }
    assert_eq!(
        obs.on_data(Direction::ToServer, req, meta(100)),
        Interest::Done
    );
    let s = obs.finish();
    assert!(!s.is_tls);
    let (m, bytes) = s.non_tls[0].clone().unwrap();
    assert_eq!(m.packet, 4);
    assert_eq!(bytes, req.to_vec());
}

/// A handshake message above the cap is reported and the direction dropped.
#[test]
fn oversized_handshake_message_is_capped() {
    let chunks = handshake_chunks("tls12_client_auth");
    let mut obs = TlsObserver::new(ObserverConfig {
        max_handshake_message: 1000,
        ..ObserverConfig::default()
    });
    obs.on_data(chunks[0].0, &chunks[0].1, meta(1));
    assert_eq!(
        obs.on_data(chunks[1].0, &chunks[1].1, meta(2)),
        Interest::Done
    );
    let s = obs.finish();
    assert!(s.server_hello.is_some());
    assert!(
        s.problems[0].contains("exceeds the 1000 byte limit"),
        "{:?}",
        s.problems
    );
}

proptest::proptest! {
    /// Arbitrary bytes split arbitrarily never panic.
    #[test]
    fn never_panics(data in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..2000),
                    cuts in proptest::collection::vec(0usize..2000, 0..20),
                    gap_at in 0usize..30) {
        let mut obs = TlsObserver::new(ObserverConfig::default());
        let mut cuts = cuts;
        cuts.push(data.len());
        cuts.sort_unstable();
        let mut start = 0;
        for (i, cut) in cuts.into_iter().enumerate() {
            let end = cut.min(data.len());
            if end < start { continue; }
            let dir = if i % 3 == 0 { Direction::ToClient } else { Direction::ToServer };
            if i == gap_at { obs.on_gap(dir, 10, meta(i as u64)); }
            obs.on_data(dir, &data[start..end], meta(i as u64));
            start = end;
        }
        let _ = obs.finish();
    }

    /// A real handshake cut into random-sized pieces gives the whole-segment summary.
    #[test]
    fn real_streams_split_randomly_match(piece in 1usize..600) {
        let chunks = handshake_chunks("tls13_hello_retry");
        proptest::prop_assert_eq!(run_split(&chunks, piece), run(&chunks));
    }

    /// Real handshakes with corrupted bytes (lengths, types, extension contents) never panic.
    #[test]
    fn corrupted_real_streams_never_panic(which in 0usize..HANDSHAKES.len(), edits in proptest::collection::vec((0usize..20_000, proptest::arbitrary::any::<u8>()), 1..8), piece in 1usize..300) {
        let mut chunks = handshake_chunks(HANDSHAKES[which]);
        let total: usize = chunks.iter().map(|c| c.1.len()).sum();
        for (pos, byte) in edits {
            let mut pos = pos % total.max(1);
            for c in chunks.iter_mut() {
                if pos < c.1.len() { c.1[pos] = byte; break; }
                pos -= c.1.len();
            }
        }
        let _ = run_split(&chunks, piece);
    }
}

/// TLS 1.3 drafts (suricata-verify tls13-draft22 / tls13-draft28): JA3 string and hash match
/// the `tls.ja3` checks of their test.yaml.
#[test]
fn ja3_matches_suricata() {
    let cases = [
        ("tls13_draft22", "771,4865-4867,0-43-13-10-40,23,", "786468211b4d23f9b725987b0de9d090"),
        (
            "tls13_draft28_a",
            "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,5-10-11-13-22-23-35-51-43-65281-0-45,23,0",
            "43202faa1c8c1760d6f7f4bd9adde4ab",
        ),
        (
            "tls13_draft28_b",
            "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,5-10-11-13-22-23-35-51-43-65281-0-45-41,23,0",
            "d00857e0c8e7a7f35e446508c6233460",
        ),
    ];
    for (name, string, hash) in cases {
        let s = run(&handshake_chunks(name));
        let ch = s.client_hello.as_ref().unwrap();
        assert_eq!(tlscap::tls::fingerprint::ja3_string(ch), string, "{name}");
        assert_eq!(ja3(ch), hash, "{name}");
        assert_eq!(ch.sni.as_deref(), Some("localhost"), "{name}");
    }
}

/// After `max_encrypted_records` encrypted records a direction is Done (only headers counted).
#[test]
fn encrypted_record_limit() {
    let chunks = handshake_chunks("sslv2_hello");
    let cfg = ObserverConfig {
        max_encrypted_records: 2,
        ..ObserverConfig::default()
    };
    let mut obs = TlsObserver::new(cfg);
    let mut first_done = [None; 2];
    for (i, (dir, bytes)) in chunks.iter().enumerate() {
        if first_done[dir.idx()].is_some() {
            continue;
        }
        if obs.on_data(*dir, bytes, meta(i as u64 + 1)) == Interest::Done {
            first_done[dir.idx()] = Some(i + 1);
        }
    }
    let s = obs.finish();
    assert_eq!(s.encrypted_records, [2, 2]);
    assert!(first_done.iter().all(Option::is_some));
}

/// A whole SSLv2 handshake. Hand-built server side (no capture in the corpus has an SSLv2
/// server; today's TLS stacks cannot make one): the real SSLv2-format ClientHello of
/// ssl-v2-s1.pcap, then SERVER-HELLO carrying a real certificate (the test PKI's leaf) and
/// RC4_128_WITH_MD5, CLIENT-MASTER-KEY choosing it, and one encrypted record each way (a
/// 3-byte header on the server's). Before, the server's side was `not-tls`.
#[test]
fn sslv2_server_hello_and_client_master_key() {
    let client_hello = handshake_chunks("sslv2_hello").remove(0);
    assert_eq!(client_hello.0, Direction::ToServer);
    let cert = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/certs/leaf.der"),
    )
    .unwrap();
    let record = |body: &[u8]| {
        let mut r = vec![0x80 | (body.len() >> 8) as u8, body.len() as u8];
        r.extend_from_slice(body);
        r
    };
    let mut hello = vec![4, 0, 1, 0, 2];
    hello.extend_from_slice(&(cert.len() as u16).to_be_bytes());
    hello.extend_from_slice(&[0, 3, 0, 16]);
    hello.extend_from_slice(&cert);
    hello.extend_from_slice(&[0x01, 0x00, 0x80]);
    hello.extend_from_slice(&[0x5a; 16]);
    let mut server = record(&hello);
    // SERVER-VERIFY, encrypted, with a 3-byte header (2 bytes of padding).
    server.extend_from_slice(&[0x00, 0x14, 0x02]);
    server.extend_from_slice(&[0xee; 20]);
    let mut master_key = vec![2, 0x01, 0x00, 0x80, 0, 0, 0, 8, 0, 0];
    master_key.extend_from_slice(&[0x77; 8]);
    let mut client = record(&master_key);
    client.extend_from_slice(&record(&[0xdd; 24]));
    let s = run(&[
        client_hello,
        (Direction::ToClient, server),
        (Direction::ToServer, client),
    ]);
    let sh = s.server_hello.as_ref().expect("SSLv2 ServerHello");
    assert_eq!(version_name(sh.version), "SSL 2.0");
    assert_eq!(cipher_name(sh.cipher), "TLS_RSA_WITH_RC4_128_MD5");
    assert_eq!(s.server_certificate.as_ref().unwrap().certs, [cert]);
    assert_eq!(s.encrypted_records, [1, 1]);
    assert!(s.non_tls.iter().all(Option::is_none));
    assert_eq!(s.decode_stops, []);
    assert_eq!(
        events(&s)[1..],
        [
            "ToClient 2 ServerHello SSL 2.0 TLS_RSA_WITH_RC4_128_MD5",
            "ToClient 2 Certificate (1 certificate, SSLv2)",
            "ToServer 3 ClientMasterKey (SSLv2) TLS_RSA_WITH_RC4_128_MD5",
        ]
    );
}

/// Heartbleed. Hand-built heartbeats (no corpus capture has one) after the real ClientHello of
/// the tls12_client_auth fixture: a request claiming 16,384 payload bytes in a 3-byte record,
/// and a well-formed one that must not count.
#[test]
fn an_overlong_heartbeat_is_kept() {
    let mut chunks = handshake_chunks("tls12_client_auth");
    chunks.truncate(1);
    assert_eq!(chunks[0].0, Direction::ToServer);
    let mut probe = vec![24, 3, 2, 0, 3, 1, 0x40, 0x00];
    // Well-formed: 2 bytes of payload and 16 of padding.
    probe.extend_from_slice(&[24, 3, 2, 0, 21, 1, 0, 2, 0xab, 0xcd]);
    probe.extend_from_slice(&[0; 16]);
    chunks.push((Direction::ToServer, probe));
    let s = run(&chunks);
    assert_eq!(s.overlong_heartbeats.len(), 1);
    let h = &s.overlong_heartbeats[0];
    assert_eq!(
        (h.from, h.meta.packet, h.response, h.claimed, h.record),
        (tlscap::flow::Side::Client, 2, false, 16_384, 3)
    );
}
