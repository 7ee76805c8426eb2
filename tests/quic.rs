//! QUIC connections: the aioquic samples (samples/quic, made by samples/make_quic_samples.sh)
//! and corpus captures from nDPI and FoxIO, with values read from the captures (tshark agrees,
//! see tests/quic_tshark.rs).

mod common;

use serde_json::Value;
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

/// aioquic after a Retry, with the client's key log beside the capture: the Handshake packets
/// give the ALPN, the chain (root → intermediate → api.tlscap.test) and both Finished.
#[test]
fn retry_and_key_log_show_the_whole_handshake() {
    let rs = records(&["samples/quic/quic-retry-keylog.pcap"]);
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(r["transport"], "quic");
    assert_eq!(r["sni"], "api.tlscap.test");
    assert_eq!(r["version"], "TLS 1.3");
    assert_eq!(r["cipher"], "TLS_AES_256_GCM_SHA384");
    assert_eq!(r["alpn"], "hq-interop");
    assert_eq!(r["alpn_offered"], serde_json::json!(["hq-interop"]));
    assert_eq!(r["ja4"], "q13d0307hp_55b375c5d22e_1cecd519fee8");
    assert_eq!(r["decryption"]["status"], "ok");
    assert_eq!(r["chain_status"], "trusted");
    assert_eq!(r["server_chain"].as_array().unwrap().len(), 2);
    assert_eq!(
        r["server_chain"][0]["subject"],
        "CN=api.tlscap.test, O=tlscap tests"
    );
    assert_eq!(r["status"], "ok");
    assert_eq!(r["outcome"], "ok");
    assert_eq!(r["cert_requested"], false);
    assert!(ids(r).is_empty(), "{:?}", ids(r));
    let q = &r["quic"];
    assert_eq!(q["version"], "v1");
    assert_eq!(q["retry_packet"], 2);
    assert_eq!(q["original_dcid"], "272188d6ae66875f");
    assert_eq!(q["client_scid"], "28cb18d22822c518");
    assert_eq!(q["server_scid"], "4508535c6f891023");
    assert_eq!(q["client_initial_retransmissions"], 0);
    assert_eq!(q["undecryptable"], 0);
    assert_eq!(q["transport_parameters"]["max_idle_timeout"], "5000");
    assert_eq!(r["tcp"]["packets"], 16);
}

/// Without the key log only the Initial packets are readable: ServerHello yes, ALPN and
/// certificates no (as with TLS 1.3 over TCP).
#[test]
fn without_keys_the_initials_still_give_the_hellos() {
    let rs = records(&["--no-auto-keylog", "samples/quic/quic-retry-keylog.pcap"]);
    let r = &rs[0];
    assert_eq!(r["cipher"], "TLS_AES_256_GCM_SHA384");
    assert_eq!(r["alpn"], Value::Null);
    assert_eq!(r["server_chain"], Value::Null);
    assert_eq!(r["status"], "ok");
    assert!(r.get("decryption").is_none());
    assert_eq!(r["quic"]["undecryptable"], 8);
}

/// The server's CONNECTION_CLOSE with CRYPTO_ERROR 0x0178 is TLS alert 120, a symptom of
/// `alpn-mismatch` (the client offered only h3).
#[test]
fn crypto_error_close_is_the_tls_alert() {
    let rs = records(&["samples/quic/quic-alpn-mismatch.pcap"]);
    let r = &rs[0];
    assert_eq!(
        r["alerts"],
        serde_json::json!([{"from": "server", "level": "fatal",
            "description": "no_application_protocol", "encrypted": false, "packet": 2}])
    );
    assert_eq!(
        r["quic"]["close"],
        serde_json::json!({"from": "server", "code": "0x0178", "application": false,
            "reason": "No common ALPN protocols", "packet": 2})
    );
    assert_eq!(
        (&r["status"], &r["cause"]),
        (&"alert".into(), &"alpn-mismatch".into())
    );
    assert_eq!(r["findings"][1]["id"], "tls-alert");
    assert_eq!(r["findings"][1]["follows"], "alpn-mismatch");
}

/// nftables dropped UDP: the first attempt fell back to TCP (warning), the second did not
/// (error). QUIC connections are numbered after the TCP one.
#[test]
fn blocked_quic_with_and_without_tcp_fallback() {
    let rs = records(&["samples/quic/quic-blocked.pcap"]);
    assert_eq!(rs.len(), 3);
    assert_eq!(rs[0]["transport"], Value::Null);
    assert_eq!(rs[0]["server"], "127.0.0.1:4433");
    let fell_back = &rs[1];
    assert_eq!(fell_back["index"], 1);
    assert_eq!(ids(fell_back), [("quic-blocked".into(), "warning".into())]);
    assert_eq!(fell_back["quic"]["tcp_fallback_packet"], 5);
    assert_eq!(fell_back["quic"]["client_initial_retransmissions"], 3);
    assert_eq!(
        fell_back["findings"][0]["evidence"],
        "Client Initials in packets 1..4, no packet from 127.0.0.1:4433; TCP SYN to 127.0.0.1 in packet 5."
    );
    let blocked = &rs[2];
    assert_eq!(blocked["server"], "127.0.0.2:4434");
    assert_eq!(ids(blocked), [("quic-blocked".into(), "error".into())]);
    assert_eq!(blocked["quic"]["tcp_fallback_packet"], Value::Null);
    assert_eq!(
        (&blocked["status"], &blocked["outcome"], &blocked["cause"]),
        (&"stalled".into(), &"failed".into(), &"quic-blocked".into())
    );
}

/// The same records whatever the number of shards (the sharded reader runs QUIC itself).
#[test]
fn sharded_reading_gives_the_same_quic_records() {
    let one = records(&["samples/quic/quic-blocked.pcap"]);
    let mut opts = tlscap::app::Options {
        shards: 3,
        batch_segments: 2,
        ..Default::default()
    };
    opts.auto_keylog = true;
    let path = common::sample("quic/quic-blocked.pcap");
    let a = tlscap::app::analyze_file(&path, &opts);
    let idx: Vec<u64> = a.connections.iter().map(|r| r.index).collect();
    assert_eq!(idx, [0, 1, 2]);
    for (r, want) in a.connections.iter().zip(&one) {
        assert_eq!(r.server.to_string(), want["server"].as_str().unwrap());
        assert_eq!(r.ja4.as_deref(), want["ja4"].as_str());
    }
}

/// nDPI's quic-27.pcap (draft-27, IPv6) used to print an empty table.
#[test]
fn corpus_quic_captures() {
    let Some(corpus) = common::corpus("corpus_quic_captures") else {
        return;
    };
    let c = |rel: &str| corpus.join(rel).to_string_lossy().into_owned();
    let rs = records(&[&c("nDPI/tests/cfgs/default/pcap/quic-27.pcap")]);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["sni"], "play.google.com");
    assert_eq!(rs[0]["quic"]["version"], "draft-27");
    assert_eq!(rs[0]["cipher"], "TLS_AES_128_GCM_SHA256");
    assert_eq!(
        rs[0]["client"],
        "[3ef4:2194:f4a6:3503:40cd:714:57:c4e4]:64229"
    );
    // v2 (RFC 9369) with the capture's embedded secrets: the certificate is for another name.
    let rs = records(&[&c("nDPI/tests/cfgs/default/pcap/quic-v2.pcapng")]);
    assert_eq!(rs[0]["quic"]["version"], "v2");
    assert_eq!(rs[0]["alpn"], "h3");
    assert_eq!(rs[0]["decryption"]["status"], "ok");
    assert!(ids(&rs[0]).contains(&("hostname-mismatch".into(), "warning".into())));
    // Version Negotiation: draft-28 refused, the client starts over with draft-27.
    let rs = records(&[&c("nDPI/tests/cfgs/default/pcap/quic-28.pcap")]);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["quic"]["version"], "draft-27");
    assert_eq!(
        rs[0]["quic"]["version_negotiation"],
        serde_json::json!(["draft-27"])
    );
    assert_eq!(rs[0]["sni"], "www.wireshark.org");
    assert_eq!(rs[0]["quic"]["restarted_from"], "draft-28");
    assert_eq!(
        ids(&rs[0]),
        [("quic-version-negotiation".into(), "info".into())]
    );
    // A reserved version (0xbabababa) protected with v1's salt, then v1 after a Retry: one
    // connection of all 21 packets, fingerprinted on the ClientHello the server read (nDPI's
    // JA3 of the flow is the same).
    let rs = records(&[&c(
        "nDPI/tests/cfgs/default/pcap/quic-forcing-vn-with-data.pcapng",
    )]);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["first_packet"], 1);
    assert_eq!(rs[0]["tcp"]["packets"], 21);
    assert_eq!(rs[0]["quic"]["restarted_from"], "0xbabababa (grease)");
    assert_eq!(rs[0]["quic"]["version"], "v1");
    assert_eq!(rs[0]["quic"]["retry_packet"], 4);
    assert_eq!(rs[0]["ja3"], "86871fd0d48de0c82beec154cd3f1744");
    assert_eq!(rs[0]["outcome"], "ok");
    // A version scan: every Initial uses the reserved 0x0a0a0a0a; the servers that answer
    // with Version Negotiation negotiate as they should.
    let rs = records(&[&c("nDPI/tests/cfgs/default/pcap/quic_interop_V.pcapng")]);
    let probes: Vec<_> = rs
        .iter()
        .filter(|r| ids(r).contains(&("quic-version-negotiation".into(), "info".into())))
        .collect();
    assert_eq!(probes.len(), 32);
    assert!(probes.iter().all(|r| r["outcome"] == "unknown"));
    let r = rs.iter().find(|r| r["index"] == 2).unwrap();
    assert_eq!(
        r["quic"]["version_negotiation"],
        serde_json::json!(["draft-29", "draft-28", "draft-27"])
    );
    assert_eq!(
        r["findings"][0]["evidence"],
        "Client Initial (0x0a0a0a0a (grease)) in packet 3; Version Negotiation in packet 14; no Initial from the client after it."
    );
    // ChaCha20 header protection (draft-29, quic-go).
    let rs = records(&[&c("nDPI/tests/cfgs/default/pcap/quic-29.pcap")]);
    assert_eq!(rs[0]["cipher"], "TLS_CHACHA20_POLY1305_SHA256");
}

/// A NAT rebinding: the aioquic handshake with the client's port rewritten from packet 12 on
/// (its 1-RTT packets and the server's answers; the rewrite is this test's, the packets are
/// aioquic's). The connection IDs keep every packet in the one connection.
#[test]
fn a_rebound_client_address_keeps_its_connection() {
    use tlscap::flow::SegmentMeta;
    use tlscap::net::{Decoded, DefragLimits, NetDecoder};
    use tlscap::quic::{QuicConfig, QuicTable};
    let path = common::sample("quic/quic-retry-keylog.pcap");
    let mut reader = tlscap::capture::open(&path).unwrap();
    let mut decoder = NetDecoder::new(DefragLimits::default()).with_udp();
    let mut table = QuicTable::new(QuicConfig::default());
    let rebound: std::net::SocketAddr = "127.0.0.1:61000".parse().unwrap();
    let mut client = None;
    while let Some(packet) = reader.next_packet().unwrap() {
        let meta = SegmentMeta {
            packet: packet.number,
            ts: packet.ts,
        };
        let Decoded::Udp(mut d) = decoder.decode(&packet) else {
            panic!("packet {} is not UDP", packet.number);
        };
        let c = *client.get_or_insert(d.src);
        if packet.number >= 12 {
            assert_eq!(
                d.payload[0] & 0x80,
                0,
                "packet {} has a short header",
                packet.number
            );
            if d.src == c {
                d.src = rebound;
            } else {
                d.dst = rebound;
            }
        }
        table.on_datagram(meta, &d, &mut |_| panic!("nothing idles out here"));
    }
    let done = table.finish();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].tcp.packets, 16);
    assert_eq!(done[0].tcp.dir_packets, [9, 7]);
}

mod hostile {
    use proptest::prelude::*;
    use tlscap::flow::SegmentMeta;
    use tlscap::net::{Decoded, DefragLimits, NetDecoder, UdpDatagram};
    use tlscap::quic::{QuicConfig, QuicTable};

    /// The datagrams of the aioquic samples (payload, from client).
    fn datagrams() -> Vec<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        for name in [
            "quic/quic-retry-keylog.pcap",
            "quic/quic-alpn-mismatch.pcap",
        ] {
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
        /// Real datagrams with bytes of their first 64 (the headers and lengths a flip can
        /// reach: a flip in the protected payload only fails authentication) flipped, and one
        /// datagram cut anywhere: the table never panics, and opens at most one connection per
        /// client Initial datagram.
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
                    let i = at % g.len().min(64);
                    g[i] ^= x;
                }
            }
            if let Some((which, len)) = cut {
                let n = grams.len();
                let g = &mut grams[which % n].0;
                g.truncate(len % (g.len() + 1));
            }
            let mut table = QuicTable::new(QuicConfig::default());
            let (c, s) = ("10.0.0.1:5000".parse().unwrap(), "10.0.0.2:443".parse().unwrap());
            for (i, (payload, from_client)) in grams.iter().enumerate() {
                let (src, dst) = if *from_client { (c, s) } else { (s, c) };
                let d = UdpDatagram { src, dst, payload, wire_payload_len: payload.len() as u32, carrier: None };
                let meta = SegmentMeta { packet: i as u64 + 1, ts: Default::default() };
                table.on_datagram(meta, &d, &mut |_| {});
            }
            let done = table.finish();
            prop_assert!(done.len() <= 4);
        }
    }
}

/// A connection silent for over 60 s of capture time ends when the next datagram comes (its
/// record is built then); the numbering still follows first packets. The aioquic handshake,
/// then the ALPN-mismatch attempt replayed 120 s later (the shift is this test's).
#[test]
fn idle_quic_connections_end_early_and_keep_their_order() {
    use tlscap::flow::{EndReason, SegmentMeta};
    use tlscap::net::{Decoded, DefragLimits, NetDecoder};
    use tlscap::quic::{QuicConfig, QuicTable};
    let mut table = QuicTable::new(QuicConfig::default());
    let mut ended = Vec::new();
    for (name, shift) in [
        ("quic/quic-retry-keylog.pcap", 0),
        ("quic/quic-alpn-mismatch.pcap", 120),
    ] {
        let mut reader = tlscap::capture::open(&common::sample(name)).unwrap();
        let mut decoder = NetDecoder::new(DefragLimits::default()).with_udp();
        while let Some(packet) = reader.next_packet().unwrap() {
            let mut ts = packet.ts;
            ts.secs += shift;
            let meta = SegmentMeta {
                packet: packet.number,
                ts,
            };
            if let Decoded::Udp(d) = decoder.decode(&packet) {
                table.on_datagram(meta, &d, &mut |f| ended.push(f));
            }
        }
    }
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].ordinal, 0);
    assert_eq!(ended[0].tcp.end_reason, EndReason::Idle);
    assert_eq!(ended[0].tcp.packets, 16);
    let rest = table.finish();
    assert_eq!(rest.len(), 1);
    assert_eq!(
        (rest[0].ordinal, rest[0].tcp.end_reason),
        (1, EndReason::CaptureEnd)
    );
    assert_eq!(
        rest[0].quic.close.as_ref().map(|c| c.code.as_str()),
        Some("0x0178")
    );
}

/// A datagram shaped like a client Initial whose protection does not authenticate (here the
/// aioquic client's first Initial with a ciphertext byte flipped: other UDP that happens to
/// look like QUIC) opens no connection.
#[test]
fn an_initial_that_does_not_authenticate_opens_nothing() {
    use tlscap::flow::SegmentMeta;
    use tlscap::net::{Decoded, DefragLimits, NetDecoder, UdpDatagram};
    use tlscap::quic::{QuicConfig, QuicTable};
    let path = common::sample("quic/quic-retry-keylog.pcap");
    let mut reader = tlscap::capture::open(&path).unwrap();
    let mut decoder = NetDecoder::new(DefragLimits::default()).with_udp();
    let packet = reader.next_packet().unwrap().unwrap();
    let Decoded::Udp(d) = decoder.decode(&packet) else {
        panic!("not UDP");
    };
    let meta = SegmentMeta {
        packet: 1,
        ts: packet.ts,
    };
    let mut bytes = d.payload.to_vec();
    for (flip, opened) in [(false, 1), (true, 0)] {
        if flip {
            bytes[100] ^= 1;
        }
        let mut table = QuicTable::new(QuicConfig::default());
        let forged = UdpDatagram {
            payload: &bytes,
            ..d
        };
        table.on_datagram(meta, &forged, &mut |_| {});
        assert_eq!(table.finish().len(), opened, "flipped: {flip}");
    }
}

/// nDPI's `quic_frags_ch_out_of_order_same_packet_craziness.pcapng` holds only clients'
/// datagrams (179 packets, all to port 443): the 28 clients that repeated their Initial are
/// not `quic-blocked` (an error) but a one-sided capture (info), outcome unknown, and so are the
/// 85 that sent one Initial (not `quic-initial-unanswered`: no server is in the capture).
#[test]
fn a_capture_of_clients_only_blames_no_server() {
    let Some(corpus) = common::corpus("a_capture_of_clients_only_blames_no_server") else {
        return;
    };
    let file = corpus.join(
        "nDPI/tests/cfgs/default/pcap/quic_frags_ch_out_of_order_same_packet_craziness.pcapng",
    );
    let rs = records(&[&file.to_string_lossy()]);
    assert_eq!(rs.len(), 113);
    let one_sided = rs
        .iter()
        .filter(|r| ids(r) == [("one-sided-capture".to_string(), "info".to_string())])
        .count();
    assert_eq!(one_sided, 113);
    let repeated = rs
        .iter()
        .filter(|r| {
            !r["findings"][0]["evidence"]
                .as_str()
                .unwrap()
                .starts_with("1 Initial ")
        })
        .count();
    assert_eq!(repeated, 28);
    assert!(rs.iter().all(|r| r["outcome"] == "unknown"));
    assert!(rs
        .iter()
        .all(|r| !ids(r).iter().any(|(id, _)| id == "quic-blocked")));
}

/// samples/quic/icmp-unreachable.pcap: aioquic to a UDP port nothing listens on (the kernel's
/// port-unreachable, packets 2-8), to one an nftables rule rejects with admin-prohibited
/// (packets 10-16), and curl's SYN rejected with host-unreachable (packet 18). Each fails with
/// the ICMP error as its cause; no "blocked" or "timeout" guess remains.
#[test]
fn icmp_answers_to_the_first_packets_are_the_cause() {
    let rs = records(&["samples/quic/icmp-unreachable.pcap"]);
    let summary: Vec<_> = rs
        .iter()
        .map(|r| {
            (
                r["server"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["failed_at"].as_str().unwrap().to_string(),
                r["cause"].as_str().unwrap().to_string(),
                r["icmp"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| {
                        (
                            i["packet"].as_u64().unwrap(),
                            i["kind"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let icmp = |packets: &[u64], kind: &str| -> Vec<(u64, String)> {
        packets.iter().map(|p| (*p, kind.to_string())).collect()
    };
    assert_eq!(
        summary,
        vec![
            (
                "127.0.0.1:4437".to_string(),
                "unreachable".to_string(),
                "tcp".to_string(),
                "icmp-unreachable".to_string(),
                icmp(&[18], "host-unreachable")
            ),
            (
                "127.0.0.1:4435".to_string(),
                "unreachable".to_string(),
                "handshake".to_string(),
                "icmp-unreachable".to_string(),
                icmp(&[2, 4, 6, 8], "port-unreachable")
            ),
            (
                "127.0.0.1:4436".to_string(),
                "unreachable".to_string(),
                "handshake".to_string(),
                "icmp-unreachable".to_string(),
                icmp(&[10, 12, 14, 16], "prohibited")
            ),
        ]
    );
    for r in &rs {
        assert_eq!(ids(r), vec![("icmp-unreachable".into(), "error".into())]);
        assert_eq!(r["icmp"][0]["from"], "127.0.0.1");
        assert_eq!(r["icmp"][0]["sent_by"], "client");
    }
    assert_eq!(
        rs[1]["findings"][0]["evidence"],
        "ICMP port-unreachable quoting the client's UDP packets 127.0.0.1:44706 → \
         127.0.0.1:4435 in packets 2, 4, 6, 8; the client sent 4 QUIC Initials; no packet from \
         the server."
    );
    assert_eq!(
        rs[0]["findings"][0]["message"],
        "The client's SYN to 127.0.0.1:4437 was answered by ICMP host-unreachable from 127.0.0.1 \
         (the destination host itself) in packet 18: 127.0.0.1 itself refused it, as a \
         firewall's reject rule does (a host is not unreachable from itself). The server never \
         answered."
    );
}

/// aioquic against a server that speaks v1 only: a client that starts with a reserved
/// version and starts over with v1 (info, ok), a v2-only client that finds no version in
/// common (the error and cause), and a probe that speaks the reserved version only (info).
#[test]
fn version_negotiation_names_a_version_in_common_or_none() {
    let rs = records(&["samples/quic/quic-version-negotiation.pcap"]);
    assert_eq!(rs.len(), 3);
    let finding = |r: &Value| r["findings"][0].clone();
    assert_eq!(rs[0]["outcome"], "ok");
    assert_eq!(rs[0]["quic"]["restarted_from"], "0x1a2a3a4a (grease)");
    assert_eq!(rs[0]["quic"]["version"], "v1");
    assert_eq!(
        rs[0]["quic"]["version_negotiation"],
        serde_json::json!(["v1"])
    );
    assert_eq!(
        ids(&rs[0]),
        [("quic-version-negotiation".into(), "info".into())]
    );
    assert_eq!(
        finding(&rs[0])["evidence"],
        "Client Initial (0x1a2a3a4a (grease)) in packet 1; Version Negotiation in packet 2; the client's Initial with v1 in packet 3."
    );
    assert_eq!(rs[1]["outcome"], "failed");
    assert_eq!(rs[1]["status"], "refused");
    assert_eq!(rs[1]["failed_at"], "handshake");
    assert_eq!(rs[1]["cause"], "quic-version-negotiation");
    assert_eq!(rs[1]["quic"]["version"], "v2");
    assert_eq!(rs[1]["quic"]["restarted_from"], Value::Null);
    assert_eq!(
        ids(&rs[1]),
        [("quic-version-negotiation".into(), "error".into())]
    );
    assert_eq!(
        finding(&rs[1])["message"],
        "No QUIC version in common: 127.0.0.1:4438 does not speak v2, the version of the client's Initial, and offers v1, none of which the client started over with in the 1.7 s the capture went on, and no TCP connection to the server follows: the connection failed."
    );
    assert_eq!(
        finding(&rs[1])["evidence"],
        "Client Initial (v2) in packet 14; Version Negotiation in packet 15; no Initial from the client after it, and no TCP SYN to 127.0.0.1 through packet 17."
    );
    assert_eq!(rs[2]["outcome"], "unknown");
    assert_eq!(
        ids(&rs[2]),
        [("quic-version-negotiation".into(), "info".into())]
    );
    assert!(finding(&rs[2])["message"].as_str().unwrap().starts_with(
        "The client's Initial used 0x1a2a3a4a, a reserved (GREASE) version no server speaks"
    ));
}
