//! TLS after a plaintext preamble (HTTP CONNECT, SOCKS, STARTTLS, PROXY protocol, database TLS
//! upgrades) on real corpus captures, with the values tshark and FoxIO's JA4 snapshots give for
//! them; and the negative side: streams that are not TLS stay not TLS, and are given up quickly.

mod common;

use tlscap::app::{analyze_file, FileAnalysis, Options};
use tlscap::flow::{Direction, Interest, SegmentMeta, StreamHandler};
use tlscap::tls::{ObserverConfig, TlsObserver};

fn analyze(corpus: &std::path::Path, rel: &str) -> FileAnalysis {
    analyze_file(&corpus.join(rel), &Options::default())
}

/// The one reported connection whose client is `client`.
fn conn<'a>(
    a: &'a FileAnalysis,
    client: &str,
) -> (
    &'a tlscap::record::ConnectionRecord,
    &'a tlscap::tls::HandshakeSummary,
) {
    let i = a
        .connections
        .iter()
        .position(|r| r.client.to_string() == client)
        .unwrap_or_else(|| panic!("no connection from {client} in {}", a.path.display()));
    (&a.connections[i], &a.handshakes[i])
}

/// The preamble's first bytes in a direction, as text.
fn preamble_text(hs: &tlscap::tls::HandshakeSummary, dir: Direction) -> String {
    let (_, bytes) = hs.preamble[dir.idx()].clone().expect("a preamble");
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn http_connect_proxy() {
    let Some(corpus) = common::corpus("http_connect_proxy") else {
        return;
    };
    let a = analyze(&corpus, "ja4/pcap/https-connect.pcap");
    let (r, hs) = conn(&a, "10.11.12.13:54723");
    assert_eq!(r.server.to_string(), "10.9.8.7:8080");
    assert_eq!(
        r.ja4.as_deref(),
        Some("t12i860500_e18388e7f3a3_a1e935682795")
    );
    assert_eq!(hs.client_hello.as_ref().unwrap().meta.packet, 8);
    assert_eq!(r.version.map(|v| v.name()).as_deref(), Some("TLS 1.2"));
    assert_eq!(
        r.cipher.map(|c| c.name()).as_deref(),
        Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    );
    // The proxy's "200 OK" is a preamble, not a non-TLS answer to the ClientHello.
    assert_eq!(r.status, "ok");
    assert!(hs.non_tls.iter().all(Option::is_none));
    assert!(preamble_text(hs, Direction::ToServer).starts_with("CONNECT ts01-b.cloudsink.net:443"));
    assert!(preamble_text(hs, Direction::ToClient).starts_with("HTTP/1.0 200 OK"));

    let a = analyze(&corpus, "nDPI/tests/cfgs/default/pcap/http_connect.pcap");
    let (r, hs) = conn(&a, "192.168.1.103:1714");
    assert_eq!(r.sni.as_deref(), Some("apache.org"));
    assert_eq!(hs.client_hello.as_ref().unwrap().meta.packet, 12);
    assert_eq!(hs.negotiated_version(), Some(0x0304));
    assert_eq!(hs.server_hello.as_ref().unwrap().cipher, 0x1301);
    assert_eq!(
        r.ja4.as_deref(),
        Some("t13d1813h2_e8a523a41297_f81080dfc557")
    );
}

#[test]
fn socks4_socks4a_and_socks5_proxies() {
    let Some(corpus) = common::corpus("socks4_socks4a_and_socks5_proxies") else {
        return;
    };
    let a = analyze(&corpus, "ja4/pcap/socks-https-example.pcap");
    // (client, ClientHello packet, first client bytes, first server bytes)
    let socks4: &[u8] = &[0x04, 0x01, 0x01, 0xbb, 0x5d, 0xb8, 0xd8, 0x77, 0x00];
    let socks4a: &[u8] = &[0x04, 0x01, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x01, 0x00];
    let cases: [(&str, u64, &[u8], &[u8]); 3] = [
        ("10.180.156.185:53554", 8, socks4, &[0x00, 0x5a]),
        ("10.180.156.185:53555", 38, socks4a, &[0x00, 0x5a]),
        // SOCKS5: greeting offering 2 methods, then "no authentication" chosen.
        (
            "10.180.156.185:53556",
            71,
            &[0x05, 0x02, 0x00, 0x01],
            &[0x05, 0x00],
        ),
    ];
    for (client, ch_packet, request, reply) in cases {
        let (r, hs) = conn(&a, client);
        assert_eq!(r.server.to_string(), "10.180.156.249:1080");
        assert_eq!(r.sni.as_deref(), Some("www.example.com"));
        assert_eq!(
            r.ja4.as_deref(),
            Some("t10d230100_6a57a6f57151_000000000000")
        );
        assert_eq!(hs.client_hello.as_ref().unwrap().meta.packet, ch_packet);
        assert_eq!(hs.negotiated_version(), Some(0x0301));
        assert_eq!(hs.server_hello.as_ref().unwrap().cipher, 0x0005);
        assert_eq!(hs.server_certificate.as_ref().unwrap().certs.len(), 2);
        let (_, req) = hs.preamble[0].clone().unwrap();
        assert!(req.starts_with(request), "{client}: {req:02x?}");
        let (_, rep) = hs.preamble[1].clone().unwrap();
        assert!(rep.starts_with(reply), "{client}: {rep:02x?}");
    }
}

#[test]
fn starttls_and_database_upgrades() {
    let Some(corpus) = common::corpus("starttls_and_database_upgrades") else {
        return;
    };
    let p = "nDPI/tests/cfgs/default/pcap";
    // SMTP STARTTLS: the server's "220" banner and "220 Ready to start TLS" come first.
    let a = analyze(&corpus, &format!("{p}/smtp-starttls.pcap"));
    let (r, hs) = conn(&a, "[2003:de:2016:125:fc36:8317:4e86:cb72]:7562");
    assert_eq!(r.sni.as_deref(), Some("dovecot.weberlab.de"));
    assert_eq!(hs.client_hello.as_ref().unwrap().meta.packet, 46);
    assert_eq!(hs.negotiated_version(), Some(0x0303));
    assert_eq!(hs.server_hello.as_ref().unwrap().cipher, 0xc02f);
    assert!(preamble_text(hs, Direction::ToClient).starts_with("220 "));
    let (r, _) = conn(&a, "10.0.0.1:57406");
    assert_eq!(r.version.map(|v| v.name()).as_deref(), Some("TLS 1.0"));
    assert_eq!(
        r.cipher.map(|c| c.name()).as_deref(),
        Some("TLS_RSA_WITH_RC4_128_SHA")
    );

    // POP3 STLS.
    let a = analyze(&corpus, &format!("{p}/pop3_stls.pcap"));
    let (r, hs) = conn(&a, "192.168.20.18:50583");
    assert_eq!(r.sni.as_deref(), Some("pop.lavabit.com"));
    assert_eq!(hs.client_hello.as_ref().unwrap().meta.packet, 13);
    assert_eq!(r.version.map(|v| v.name()).as_deref(), Some("TLS 1.0"));
    assert_eq!(hs.server_certificate.as_ref().unwrap().certs.len(), 4);

    // PROXY protocol v1 line and the ClientHello in the same segment.
    let a = analyze(&corpus, &format!("{p}/haproxy.pcap"));
    let (r, hs) = conn(&a, "1.1.1.1:48502");
    assert_eq!(r.sni.as_deref(), Some("aaaaaaaaaaaaaaaa.xx"));
    assert_eq!(hs.client_hello.as_ref().unwrap().meta.packet, 1);
    assert!(preamble_text(hs, Direction::ToServer).starts_with("PROXY TCP4 11.111.11.111 "));

    // PostgreSQL SSLRequest answered by 'S'.
    let a = analyze(&corpus, &format!("{p}/pgsql2.pcapng"));
    let (r, hs) = conn(&a, "10.220.20.67:58574");
    assert_eq!(hs.client_hello.as_ref().unwrap().meta.packet, 8);
    assert_eq!(r.version.map(|v| v.name()).as_deref(), Some("TLS 1.3"));
    assert_eq!(
        r.cipher.map(|c| c.name()).as_deref(),
        Some("TLS_AES_256_GCM_SHA384")
    );
    let (_, ssl_request) = hs.preamble[0].clone().unwrap();
    assert_eq!(ssl_request, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    assert_eq!(hs.preamble[1].clone().unwrap().1, b"S");

    // MySQL: server greeting, then the client's SSL request packet.
    let a = analyze(&corpus, &format!("{p}/mysql.pcapng"));
    let (r, hs) = conn(&a, "192.168.88.231:36272");
    assert_eq!(hs.client_hello.as_ref().unwrap().meta.packet, 23);
    assert_eq!(r.version.map(|v| v.name()).as_deref(), Some("TLS 1.3"));
    assert_eq!(
        r.cipher.map(|c| c.name()).as_deref(),
        Some("TLS_AES_256_GCM_SHA384")
    );
}

#[test]
fn non_tls_answer_to_a_client_hello_is_still_not_tls() {
    // The sample's server answers the ClientHello in plain HTTP: that is no preamble.
    let a = analyze_file(&common::sample("not-tls.pcap"), &Options::default());
    assert_eq!(a.connections[0].status, "not-tls");
    assert!(a.handshakes[0].non_tls[Direction::ToClient.idx()].is_some());
    assert!(a.handshakes[0].preamble.iter().all(Option::is_none));
}

#[test]
fn plain_protocols_produce_no_tls() {
    let Some(corpus) = common::corpus("plain_protocols_produce_no_tls") else {
        return;
    };
    let all = Options {
        all: true,
        ..Options::default()
    };
    // Plain MySQL (binary) and an HTTP file download: nothing in them is taken for TLS.
    for rel in [
        "nDPI/tests/cfgs/default/pcap/mysql.pcapng",
        "suricata-verify/tests/filestore-5408/input.pcap",
    ] {
        let a = analyze_file(&corpus.join(rel), &all);
        assert!(!a.connections.is_empty(), "{rel}");
        for (r, hs) in a.connections.iter().zip(&a.handshakes) {
            if r.client.to_string() == "192.168.88.231:36272" {
                continue; // the MySQL connection that does upgrade to TLS
            }
            assert!(hs.client_hello.is_none(), "{rel} {}", r.client);
            assert!(hs.server_hello.is_none(), "{rel} {}", r.client);
            assert!(!hs.is_tls, "{rel} {}", r.client);
        }
    }
}

#[test]
fn plain_http_is_given_up_after_a_bounded_search() {
    // Hand-built: HTTP request lines delivered one segment at a time; the observer must stop
    // asking for a non-TLS direction after its preamble budget.
    let cfg = ObserverConfig::default();
    let mut obs = TlsObserver::new(cfg.clone());
    let line = b"GET /favicon.ico HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let mut delivered = 0u32;
    let mut bytes = 0usize;
    while obs.on_data(
        Direction::ToServer,
        line,
        SegmentMeta {
            packet: u64::from(delivered) + 1,
            ..SegmentMeta::default()
        },
    ) == Interest::More
    {
        delivered += 1;
        bytes += line.len();
        assert!(delivered < 1000, "never gave up");
    }
    assert!(delivered < cfg.max_preamble_chunks);
    assert!(bytes <= cfg.max_preamble_bytes);
    let s = obs.finish();
    assert!(!s.is_tls && s.client_hello.is_none());
    assert!(s.non_tls[0].is_some());
}
