//! Tunnelled connections in real captures of the shared corpus: the inner connection with its
//! inner addresses, its TLS facts, and the carrier named. Expected values are tshark's
//! (`vxlan.vni`, `gtp.teid`, `tls.handshake.extensions_server_name`) on the same files.

mod common;

use tlscap::app::{analyze_file, Options};

/// (client, server, carrier, SNI) of a connection.
type Conn = (String, String, Option<String>, Option<String>);

/// (client, server, carrier, SNI) of every connection tlscap reports in the file.
fn connections(rel: &str) -> Option<Vec<Conn>> {
    let corpus = common::corpus(rel)?;
    let a = analyze_file(&corpus.join(rel), &Options::default());
    Some(
        a.connections
            .iter()
            .map(|r| {
                (
                    r.client.to_string(),
                    r.server.to_string(),
                    r.carrier.clone(),
                    r.sni.clone(),
                )
            })
            .collect(),
    )
}

fn conn(client: &str, server: &str, carrier: &str, sni: Option<&str>) -> Conn {
    (
        client.into(),
        server.into(),
        Some(carrier.into()),
        sni.map(Into::into),
    )
}

/// Analysis options that trust the samples' test root (`samples/pki/root.pem`).
fn trusting_the_sample_root() -> Options {
    let validator = tlscap::app::shared_validator(&tlscap::certs::TrustOptions {
        extra_ca_files: vec![common::root().join("samples/pki/root.pem")],
        ..Default::default()
    })
    .expect("test root loads");
    Options {
        validator: Some(validator),
        ..Options::default()
    }
}

/// VLAN → IPv4 → UDP 4789 → VXLAN (VNI 1111) → Ethernet → IPv4 → TCP: both TLS 1.3
/// connections, as tshark shows them.
#[test]
fn vxlan_inside_vlan() {
    let Some(c) = connections("nDPI/tests/cfgs/default/pcap/vxlan.pcap") else {
        return;
    };
    assert_eq!(
        c,
        [
            conn(
                "10.10.20.4:45226",
                "157.240.224.35:443",
                "vxlan:1111",
                Some("facebook.com")
            ),
            conn(
                "10.10.20.4:45228",
                "157.240.224.35:443",
                "vxlan:1111",
                Some("www.facebook.com")
            ),
        ]
    );
}

/// GTP-U inside two VLAN tags (tls_invalid_reads.pcap also has a direct connection) and
/// GTP-U on plain Ethernet.
#[test]
fn gtp_u_inside_vlan_and_direct() {
    let Some(c) = connections("nDPI/tests/cfgs/default/pcap/tls_invalid_reads.pcap") else {
        return;
    };
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].2, None);
    assert_eq!(
        c[1],
        conn(
            "10.191.139.17:58552",
            "54.221.224.45:443",
            "gtp-u:0x7ece496",
            Some("e.crashlytics.com")
        )
    );
    let Some(c) = connections("nDPI/tests/cfgs/default/pcap/ja3_lots_of_cipher_suites_2_anon.pcap")
    else {
        return;
    };
    assert_eq!(
        c,
        [conn(
            "192.168.147.177:58496",
            "151.121.193.160:443",
            "gtp-u:0x13c5b74",
            Some("192.69.136.179")
        )]
    );
}

/// CAPWAP data (UDP 5247) carrying a native 802.11 frame with a byte-swapped frame control
/// field, LLC/SNAP, IPv4, TCP.
#[test]
fn capwap_native_80211_frame() {
    let Some(c) = connections("nDPI/tests/cfgs/default/pcap/capwap_data.pcapng") else {
        return;
    };
    assert_eq!(
        c,
        [conn(
            "10.1.3.68:47025",
            "74.125.130.188:443",
            "capwap",
            Some("alt2-mtalk.google.com")
        )]
    );
}

/// IPv4 inside IPv6 and IPv6 inside IPv4 name their carrier.
#[test]
fn ip_in_ip_names_the_carrier() {
    let Some(c) = connections("nDPI/tests/cfgs/default/pcap/4in6tunnel.pcap") else {
        return;
    };
    assert_eq!(
        c,
        [conn(
            "192.168.0.1:64455",
            "10.10.10.1:443",
            "4in6",
            Some("www.bing.com")
        )]
    );
    let Some(c) = connections("nDPI/tests/cfgs/default/pcap/6in4tunnel.pcap") else {
        return;
    };
    // tshark: ClientHellos for www.facebook.com and mail.tomasu.net; two IMAPS connections
    // to port 993 without a handshake in the capture.
    assert_eq!(c.len(), 4);
    assert!(c.iter().all(|x| x.2.as_deref() == Some("6in4")));
    let snis: Vec<_> = c.iter().map(|x| x.3.as_deref()).collect();
    assert_eq!(
        snis,
        [
            Some("www.facebook.com"),
            None,
            None,
            Some("mail.tomasu.net")
        ]
    );
}

/// samples/tunnels/: a real kernel VXLAN tunnel (whose full-sized segments leave as two outer IP
/// fragments) and the real packets of samples/tls12-openssl-sni.pcap wrapped offline in every
/// other carrier (samples/tunnels/make_tunnels.sh says how). tshark decodes each to the same
/// TLS 1.2 handshake: SNI api.tlscap.test, cipher 0xc030, one TCP stream.
#[test]
fn every_carrier_sample_gives_the_inner_handshake() {
    let dir = common::root().join("samples/tunnels");
    let opts = trusting_the_sample_root();
    // (file, carrier, inner client, TCP packets as tshark counts them)
    let wrapped = "127.0.0.1:49556";
    for (file, carrier, client, packets) in [
        ("vxlan-kernel.pcap", Some("vxlan:42"), "10.42.0.1:53044", 18),
        ("geneve.pcap", Some("geneve:7"), wrapped, 19),
        ("gre.pcap", Some("gre"), wrapped, 19),
        ("gretap-key.pcap", Some("gre:1000"), wrapped, 19),
        ("erspan2.pcap", Some("erspan:42"), wrapped, 19),
        ("erspan3.pcap", Some("erspan:5"), wrapped, 19),
        ("mpls.pcap", Some("mpls:16,17"), wrapped, 19),
        ("gre-mpls.pcap", Some("gre/mpls:100"), wrapped, 19),
        ("ipip.pcap", Some("ipip"), wrapped, 19),
        ("4in6.pcap", Some("4in6"), wrapped, 19),
        ("vlan-gtpu.pcap", Some("gtp-u:0x1f4"), wrapped, 19),
        // 802.11 is the capture's link, not a carrier.
        ("wlan-radiotap.pcap", None, wrapped, 19),
    ] {
        let a = analyze_file(&dir.join(file), &opts);
        assert_eq!(a.connections.len(), 1, "{file}");
        let r = &a.connections[0];
        assert_eq!(r.carrier.as_deref(), carrier, "{file}");
        assert_eq!(r.client.to_string(), client, "{file}");
        assert_eq!(r.sni.as_deref(), Some("api.tlscap.test"), "{file}");
        assert_eq!(
            r.version.map(|v| v.name()).as_deref(),
            Some("TLS 1.2"),
            "{file}"
        );
        assert_eq!(
            r.cipher.map(|c| c.name()).as_deref(),
            Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            "{file}"
        );
        assert_eq!(r.chain_status.as_deref(), Some("trusted"), "{file}");
        assert_eq!(r.tcp.packets, packets, "{file}");
        assert_eq!(r.tcp.gaps, 0, "{file}");
        assert!(r.findings.is_empty(), "{file}: {:?}", r.findings);
    }
}

/// samples/tunnels/vxlan-two-vnis.pcap: the real packets of samples/tls12-openssl-sni.pcap
/// wrapped offline in VXLAN twice (VNI 100, and VNI 200 half a millisecond later), interleaved,
/// between the same VTEPs (samples/tunnels/wrap_two_vnis.py). One inner 5-tuple, two tenants:
/// two connections, each with its VNI and all 19 of its packets (one connection of 38 packets
/// with retransmissions before the VNI was part of the flow key; tshark also makes it one
/// `tcp.stream`).
#[test]
fn same_inner_five_tuple_in_two_vnis_is_two_connections() {
    let opts = trusting_the_sample_root();
    let a = analyze_file(
        &common::root().join("samples/tunnels/vxlan-two-vnis.pcap"),
        &opts,
    );
    let seen: Vec<_> = a
        .connections
        .iter()
        .map(|r| {
            (
                r.carrier.as_deref(),
                r.client.to_string(),
                r.server.to_string(),
                r.sni.as_deref(),
                r.tcp.packets,
                r.tcp.retransmissions,
                r.first_packet,
                r.findings.len(),
            )
        })
        .collect();
    let conn = |vni, first| {
        (
            Some(vni),
            "127.0.0.1:49556".to_string(),
            "127.0.0.1:8402".to_string(),
            Some("api.tlscap.test"),
            19,
            0,
            first,
            0,
        )
    };
    assert_eq!(seen, [conn("vxlan:100", 1), conn("vxlan:200", 6)]);
}

/// Every prefix of every packet of the carrier samples (a snaplen cutting any tunnel header
/// at any byte) decodes without a panic, and a cut packet never yields a segment that claims
/// more payload than the prefix holds.
#[test]
fn every_truncated_tunnel_packet_decodes_without_panic() {
    use tlscap::capture::{CaptureReader, Packet};
    use tlscap::net::{Decoded, NetDecoder};
    let dir = common::root().join("samples/tunnels");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 13);
    for path in files {
        let mut reader = CaptureReader::open(&path).unwrap();
        let mut packets = Vec::new();
        while let Some(p) = reader.next_packet().unwrap() {
            packets.push((p.link, p.data.to_vec()));
        }
        for (link, data) in &packets {
            let mut decoder = NetDecoder::default();
            for cut in 0..data.len() {
                let packet = Packet {
                    number: 1,
                    ts: tlscap::time::Timestamp::default(),
                    link: *link,
                    data: &data[..cut],
                    orig_len: data.len() as u32,
                };
                if let Decoded::Tcp(seg) = decoder.decode(&packet) {
                    assert!(seg.payload.len() <= cut, "{}", path.display());
                }
            }
        }
    }
}
