//! Regressions found by comparing tlscap with tshark over the corpus (connection tracking,
//! TLS 1.3 draft ServerHellos).

mod common;

use tlscap::app::{analyze_file, Options};

/// steam.pcapng was merged out of time order (packets 1-6 are stamped four days after the
/// rest): later packets must not look idle against that maximum and each open a new
/// connection.
#[test]
fn capture_merged_out_of_time_order_keeps_connections_whole() {
    let Some(corpus) = common::corpus("capture_merged_out_of_time_order") else {
        return;
    };
    let a = analyze_file(
        &corpus.join("nDPI/tests/cfgs/default/pcap/steam.pcapng"),
        &Options::default(),
    );
    let conns: Vec<_> = a
        .connections
        .iter()
        .zip(&a.handshakes)
        .filter(|(r, _)| r.client.to_string() == "192.168.88.231:54243")
        .collect();
    assert_eq!(conns.len(), 1);
    let (r, hs) = conns[0];
    assert_eq!(r.first_packet, 17);
    assert_eq!(r.sni.as_deref(), Some("www.dota2.com"));
    assert!(r.hello_retry);
    assert_eq!(hs.negotiated_version(), Some(0x0304));
    assert_eq!(hs.server_hello.as_ref().unwrap().cipher, 0x1302);
    assert_eq!(hs.server_hello.as_ref().unwrap().meta.packet, 26);
}

/// The server answered with SYN-ACKs carrying three different ISNs; its data continues the
/// last one (2829651200), which the client acknowledged.
#[test]
fn data_continues_a_later_syn_ack_isn() {
    let Some(corpus) = common::corpus("data_continues_a_later_syn_ack_isn") else {
        return;
    };
    let a = analyze_file(
        &corpus.join("nDPI/tests/cfgs/default/pcap/tls_multiple_synack_different_seq.pcapng"),
        &Options::default(),
    );
    let hs = &a.handshakes[0];
    assert_eq!(hs.negotiated_version(), Some(0x0303));
    assert_eq!(hs.server_hello.as_ref().unwrap().cipher, 0xc02f);
    assert_eq!(hs.server_certificate.as_ref().unwrap().certs.len(), 4);
    assert_eq!(a.tcp[0].gaps, 0);
}

/// TLS 1.3 draft ServerHellos (draft ≤ 21) have no session id and no compression method.
#[test]
fn tls13_draft_server_hellos() {
    let Some(corpus) = common::corpus("tls13_draft_server_hellos") else {
        return;
    };
    for (rel, version, cipher) in [
        // Draft 14 still carried 0x0304 in the version field and a TLS 1.2 suite.
        (
            "suricata-verify/tests/tls/tls13-draft14/tls13_draft14.pcap",
            0x0304,
            0xc02b,
        ),
        (
            "suricata-verify/tests/tls/tls13-draft18/tls13_draft18.pcap",
            0x7f12,
            0x1301,
        ),
        (
            "suricata-verify/tests/tls/tls13-draft19/tls13_draft19.pcap",
            0x7f13,
            0x1302,
        ),
        (
            "wireshark/test/captures/tls13-20-chacha20poly1305.pcap",
            0x7f14,
            0x1303,
        ),
    ] {
        let a = analyze_file(&corpus.join(rel), &Options::default());
        let sh = a.handshakes[0].server_hello.as_ref().expect(rel);
        assert_eq!((sh.version, sh.cipher), (version, cipher), "{rel}");
    }
}

/// Findings that must not appear on these real captures (false diagnoses fixed by looking at
/// the whole corpus): garbage "alerts" read from encrypted alert records whose encryption start
/// was not seen, certificate validity judged against zeroed capture clocks.
#[test]
fn no_false_diagnoses_on_real_captures() {
    let Some(corpus) = common::corpus("no_false_diagnoses_on_real_captures") else {
        return;
    };
    let ids = |rel: &str| -> Vec<(u64, &'static str, String)> {
        let a = analyze_file(&corpus.join(rel), &Options::default());
        a.connections
            .iter()
            .flat_map(|r| {
                r.findings
                    .iter()
                    .map(move |f| (r.index, f.kind.id(), f.message.clone()))
            })
            .collect()
    };
    // KakaoTalk's TLS records after a resumed handshake: before the fix, 21 "level_121 alert_238"
    // style alerts; now every alert there is either a real plaintext one or marked encrypted.
    let kakao = ids("nDPI/tests/cfgs/default/pcap/KakaoTalk_chat.pcap");
    assert!(
        kakao.iter().all(|(_, _, m)| !m.contains("level_")),
        "{kakao:?}"
    );
    // Stamped 1999-12-31: no validity verdict, but the chain itself is still judged.
    let rdn = ids("nDPI/tests/cfgs/default/pcap/tls-rdn-extract.pcap");
    assert!(
        rdn.iter()
            .all(|(_, id, _)| *id != "cert-not-yet-valid" && *id != "cert-expired"),
        "{rdn:?}"
    );
}
