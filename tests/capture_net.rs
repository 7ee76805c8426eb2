//! capture + net on real captures from the shared corpus.
//!
//! Expected values (packet counts, timestamps, TCP fields) were read off tshark 4.0.17 by hand.

use std::io::Write;
use std::path::{Path, PathBuf};
use tlscap::capture::{self, CaptureError, CaptureReader, Format, LinkType};
use tlscap::time::Timestamp;

/// The shared corpus directory, or `None` (test skipped) when it is not on this machine.
fn corpus() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for candidate in [
        manifest.join("../shared/corpus"),
        manifest.join("../../shared/corpus"),
    ] {
        if candidate.join("MANIFEST.tsv").exists() {
            return Some(candidate);
        }
    }
    eprintln!("skipping: corpus not found");
    None
}

/// Everything one capture yields: per packet (number, ts, link, captured len, orig len), and the
/// error that ended it, if any.
struct Summary {
    packets: Vec<(u64, Timestamp, LinkType, usize, u32)>,
    error: Option<CaptureError>,
}

fn read_all(mut reader: CaptureReader) -> Summary {
    let mut packets = Vec::new();
    let error = loop {
        match reader.next_packet() {
            Ok(Some(p)) => packets.push((p.number, p.ts, p.link, p.data.len(), p.orig_len)),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    // After an error or the end, the reader stays finished.
    assert!(matches!(reader.next_packet(), Ok(None)));
    Summary { packets, error }
}

fn ts(secs: i64, nanos: u64) -> Timestamp {
    Timestamp::new(secs, nanos)
}

#[test]
fn pcap_little_endian_microseconds_raw_ip() {
    let Some(dir) = corpus() else { return };
    let reader = capture::open(&dir.join("suricata-verify/tests/tls/tls-pre-1970/input.pcap"))
        .expect("opens");
    assert_eq!(reader.format(), Format::Pcap);
    assert!(!reader.compressed());
    let s = read_all(reader);
    assert!(s.error.is_none());
    assert_eq!(s.packets.len(), 17);
    assert_eq!(
        s.packets.first().copied(),
        Some((1, ts(1_674_679_835, 848_363_000), LinkType::RAW, 60, 60))
    );
    assert_eq!(
        s.packets.last().copied(),
        Some((17, ts(1_674_679_838, 206_463_000), LinkType::RAW, 52, 52))
    );
}

/// Rewrites a little-endian microsecond pcap as big-endian nanosecond pcap (same packets), so
/// both rarer variants are read from real data; the corpus has neither.
fn to_big_endian_nanos(le: &[u8]) -> Vec<u8> {
    let u32le = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let mut out = Vec::with_capacity(le.len());
    out.extend_from_slice(&0xa1b2_3c4du32.to_be_bytes());
    out.extend_from_slice(&u16::from_le_bytes([le[4], le[5]]).to_be_bytes());
    out.extend_from_slice(&u16::from_le_bytes([le[6], le[7]]).to_be_bytes());
    for at in [8, 12, 16, 20] {
        out.extend_from_slice(&u32le(le, at).to_be_bytes());
    }
    let mut at = 24;
    while at + 16 <= le.len() {
        let caplen = u32le(le, at + 8) as usize;
        out.extend_from_slice(&u32le(le, at).to_be_bytes());
        out.extend_from_slice(&(u32le(le, at + 4) * 1000).to_be_bytes());
        out.extend_from_slice(&u32le(le, at + 8).to_be_bytes());
        out.extend_from_slice(&u32le(le, at + 12).to_be_bytes());
        out.extend_from_slice(&le[at + 16..at + 16 + caplen]);
        at += 16 + caplen;
    }
    out
}

#[test]
fn pcap_big_endian_nanoseconds_from_stdin_like_source() {
    let Some(dir) = corpus() else { return };
    let le = std::fs::read(dir.join("suricata-verify/tests/tls/tls-pre-1970/input.pcap")).unwrap();
    let be = to_big_endian_nanos(&le);
    let reader = CaptureReader::from_reader(Path::new("-"), Box::new(std::io::Cursor::new(be)))
        .expect("opens");
    let s = read_all(reader);
    assert!(s.error.is_none());
    assert_eq!(s.packets.len(), 17);
    assert_eq!(s.packets[0].1, ts(1_674_679_835, 848_363_000));
    assert_eq!(s.packets[16].1, ts(1_674_679_838, 206_463_000));
    assert_eq!(s.packets[16].2, LinkType::RAW);
}

#[test]
fn pcapng_many_interfaces_with_different_link_types() {
    let Some(dir) = corpus() else { return };
    let reader =
        capture::open(&dir.join("wireshark/test/captures/many_interfaces.pcapng.1")).unwrap();
    assert_eq!(reader.format(), Format::PcapNg);
    let s = read_all(reader);
    assert!(s.error.is_none());
    assert_eq!(s.packets.len(), 64);
    // tshark: frame 3 is on interface 10 (NULL/loopback), the rest on interface 0 (Ethernet).
    assert_eq!(
        s.packets[2],
        (3, ts(1_439_753_725, 701_568_000), LinkType::NULL, 168, 168)
    );
    assert_eq!(
        s.packets[0],
        (
            1,
            ts(1_439_753_725, 701_607_000),
            LinkType::ETHERNET,
            178,
            178
        )
    );
    assert_eq!(
        s.packets[63],
        (
            64,
            ts(1_439_753_728, 292_345_000),
            LinkType::ETHERNET,
            195,
            195
        )
    );
    let null_count = s.packets.iter().filter(|p| p.2 == LinkType::NULL).count();
    assert_eq!(null_count, 2);
}

#[test]
fn pcapng_nanosecond_resolution() {
    let Some(dir) = corpus() else { return };
    let s =
        read_all(capture::open(&dir.join("wireshark/test/captures/http2-brotli.pcapng")).unwrap());
    assert!(s.error.is_none());
    assert_eq!(s.packets.len(), 25);
    assert_eq!(s.packets[0].1, ts(1_554_560_882, 56_576_697));
    assert_eq!(s.packets[24].1, ts(1_554_560_882, 79_581_575));
}

#[test]
fn pcapng_decryption_secrets_are_collected() {
    let Some(dir) = corpus() else { return };
    let mut reader = capture::open(&dir.join("wireshark/test/captures/tls12-dsb.pcapng")).unwrap();
    let mut count = 0;
    while let Some(p) = reader.next_packet().unwrap() {
        assert_eq!(p.link, LinkType::IPV4);
        count += 1;
    }
    assert_eq!(count, 17);
    let secrets = reader.take_decryption_secrets();
    assert_eq!(secrets.len(), 2);
    // The first block starts with a comment line, then the key log line.
    assert!(secrets[0].starts_with(b"# first\nCLIENT_RANDOM f67a28b386b31c62"));
    assert!(secrets[1]
        .windows(30)
        .any(|w| w == b"CLIENT_RANDOM 1e0d63b41d7c7bb6"));
    assert!(reader.take_decryption_secrets().is_empty());
}

#[test]
fn gzip_pcap_and_pcapng_are_sniffed_not_named() {
    let Some(dir) = corpus() else { return };
    let reader =
        capture::open(&dir.join("wireshark/test/captures/tls-fragmented-handshakes.pcap.gz"))
            .unwrap();
    assert!(reader.compressed());
    assert_eq!(reader.format(), Format::Pcap);
    let s = read_all(reader);
    assert!(s.error.is_none());
    assert_eq!(s.packets.len(), 589);
    assert_eq!(
        s.packets[0],
        (1, ts(1_555_546_680, 752_651_000), LinkType::IPV4, 187, 187)
    );
    assert_eq!(
        s.packets[588],
        (
            589,
            ts(1_555_546_680, 911_802_000),
            LinkType::IPV4,
            173,
            173
        )
    );

    let reader =
        capture::open(&dir.join("wireshark/test/captures/challenge01_ooo_stream.pcapng.gz"))
            .unwrap();
    assert!(reader.compressed());
    assert_eq!(reader.format(), Format::PcapNg);
    let s = read_all(reader);
    assert!(s.error.is_none());
    assert_eq!(s.packets.len(), 1670);
    assert_eq!(s.packets[0].1, ts(1_686_757_734, 583_945_000));
    assert_eq!(s.packets[1669].1, ts(1_686_757_742, 750_337_000));
}

/// Start offsets of every record of a little-endian pcap (test-side walk to know where to cut).
fn pcap_record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        offsets.push(at);
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
    }
    offsets
}

#[test]
fn truncated_pcap_returns_every_complete_packet_then_the_offset() {
    let Some(dir) = corpus() else { return };
    let bytes = std::fs::read(dir.join("nDPI/tests/cfgs/default/pcap/selfsigned.pcap")).unwrap();
    let offsets = pcap_record_offsets(&bytes);
    assert_eq!(offsets.len(), 20);
    // Cut inside record 13's data, and inside record 5's header.
    for (record, extra) in [(12usize, 30usize), (4, 7)] {
        let cut = offsets[record] + extra;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes[..cut]).unwrap();
        let s = read_all(capture::open(file.path()).unwrap());
        assert_eq!(s.packets.len(), record);
        match s.error {
            Some(CaptureError::Truncated {
                offset,
                packets_read,
                ref path,
                decompressed,
            }) => {
                assert!(!decompressed);
                assert_eq!(offset, offsets[record] as u64);
                assert_eq!(packets_read, record as u64);
                assert_eq!(path, file.path());
            }
            other => panic!("expected Truncated, got {other:?}"),
        }
    }
    // A file cut inside its 24-byte file header.
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&bytes[..10]).unwrap();
    assert!(matches!(
        capture::open(file.path()),
        Err(CaptureError::Truncated {
            offset: 0,
            packets_read: 0,
            ..
        })
    ));
}

#[test]
fn truncated_gzip_pcap_reports_offset_in_uncompressed_stream() {
    let Some(dir) = corpus() else { return };
    let bytes = std::fs::read(dir.join("nDPI/tests/cfgs/default/pcap/selfsigned.pcap")).unwrap();
    let offsets = pcap_record_offsets(&bytes);
    let cut = offsets[9] + 20;
    let gzip = |data: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    };
    // A complete gzip of a cut capture.
    let compressed = gzip(&bytes[..cut]);
    let reader = CaptureReader::from_reader(
        Path::new("cut.gz"),
        Box::new(std::io::Cursor::new(compressed)),
    )
    .unwrap();
    assert!(reader.compressed());
    let s = read_all(reader);
    assert_eq!(s.packets.len(), 9);
    assert!(matches!(
        s.error,
        Some(CaptureError::Truncated { offset, packets_read: 9, .. }) if offset == offsets[9] as u64
    ));
    // A whole capture in a gzip file cut inside its 8-byte trailer (CRC-32, length): every
    // packet is there, but the file is truncated all the same (it used to be a warning and
    // exit 0). The offset counts decompressed bytes, and says so.
    let whole = gzip(&bytes);
    for cut in [1, 4, 8] {
        let short = whole[..whole.len() - cut].to_vec();
        let s = read_all(
            CaptureReader::from_reader(Path::new("t.gz"), Box::new(std::io::Cursor::new(short)))
                .unwrap(),
        );
        assert_eq!(s.packets.len(), 20, "cut {cut}");
        let error = s.error.expect("truncated");
        assert!(
            matches!(
                error,
                CaptureError::Truncated { offset, packets_read: 20, decompressed: true, .. }
                    if offset == bytes.len() as u64
            ),
            "cut {cut}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "t.gz: truncated at byte offset {} of the decompressed data (after packet 20)",
                bytes.len()
            )
        );
    }
    // A gzip file cut in half: whatever was decompressed comes out, then Truncated.
    let whole = gzip(&bytes);
    let half = whole[..whole.len() / 2].to_vec();
    let s = read_all(
        CaptureReader::from_reader(Path::new("half.gz"), Box::new(std::io::Cursor::new(half)))
            .unwrap(),
    );
    let got = s.packets.len();
    assert!(got < 20);
    match s.error {
        Some(CaptureError::Truncated {
            offset,
            packets_read,
            ..
        }) => {
            assert_eq!(packets_read, got as u64);
            assert_eq!(offset, offsets[got] as u64);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn oversized_record_is_corrupt_after_the_good_packets() {
    let Some(dir) = corpus() else { return };
    // suricata-verify ships this damaged file; tshark reads 6 packets, then gives up.
    let s = read_all(
        capture::open(
            &dir.join("suricata-verify/tests/bug-1450-04/tls_DER-incomplete-header.pcap"),
        )
        .unwrap(),
    );
    assert_eq!(s.packets.len(), 6);
    match s.error {
        Some(CaptureError::Corrupt {
            offset,
            packets_read,
            reason,
            ..
        }) => {
            assert_eq!(offset, 5035);
            assert_eq!(packets_read, 6);
            assert!(reason.contains("4325376"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn empty_text_and_missing_files_have_clear_errors() {
    let empty = tempfile::NamedTempFile::new().unwrap();
    let err = capture::open(empty.path()).unwrap_err();
    assert!(matches!(err, CaptureError::Empty { .. }));
    assert!(err.to_string().contains("empty file"));

    let mut text = tempfile::NamedTempFile::new().unwrap();
    text.write_all(b"#!/bin/sh\necho hello\n").unwrap();
    match capture::open(text.path()) {
        Err(CaptureError::NotACapture { magic, .. }) => {
            assert_eq!(magic, "23 21 2f 62 69 6e 2f 73")
        }
        other => panic!("expected NotACapture, got {other:?}"),
    }

    let missing = Path::new("/nonexistent/dir/capture.pcap");
    let err = capture::open(missing).unwrap_err();
    assert!(matches!(err, CaptureError::Io { .. }));
    assert!(err
        .to_string()
        .starts_with("/nonexistent/dir/capture.pcap: "));
}

// ---------------------------------------------------------------------------------------------
// net: every packet of real captures through capture + NetDecoder.

use tlscap::net::{Decoded, DefragLimits, NetDecoder, TcpSegment};

/// Counts of what the decoder made of a capture, plus the first TCP segment as
/// (packet number, src, dst, seq, payload len, flags).
#[derive(Debug, Default, PartialEq)]
struct NetSummary {
    tcp: usize,
    other: usize,
    malformed: usize,
    unsupported: usize,
    payload_bytes: u64,
    first_tcp: Option<(u64, String, String, u32, usize, u8)>,
}

fn decode_all(path: &Path) -> NetSummary {
    let mut reader = capture::open(path).unwrap();
    let mut decoder = NetDecoder::new(DefragLimits::default());
    let mut summary = NetSummary::default();
    while let Some(packet) = reader.next_packet().unwrap() {
        match decoder.decode(&packet) {
            Decoded::Tcp(seg) => {
                summary.tcp += 1;
                summary.payload_bytes += seg.payload.len() as u64;
                if summary.first_tcp.is_none() {
                    summary.first_tcp = Some(first_fields(packet.number, &seg));
                }
            }
            Decoded::Other | Decoded::Udp(_) | Decoded::Icmp(_) => summary.other += 1,
            Decoded::Malformed(_) => summary.malformed += 1,
            Decoded::UnsupportedLink(_) => summary.unsupported += 1,
        }
    }
    summary
}

fn first_fields(number: u64, seg: &TcpSegment<'_>) -> (u64, String, String, u32, usize, u8) {
    (
        number,
        seg.src.to_string(),
        seg.dst.to_string(),
        seg.seq,
        seg.payload.len(),
        seg.flags.0,
    )
}

/// (corpus path, TCP segments, other, TCP payload bytes, first TCP segment) — from
/// `tshark -Y tcp -T fields -e frame.number -e ip.src -e tcp.srcport -e tcp.seq_raw -e tcp.len`.
#[allow(clippy::type_complexity)]
const NET_CASES: &[(&str, usize, usize, u64, (u64, &str, &str, u32, usize, u8))] = &[
    // Ethernet with two stacked 802.1Q tags (VLAN 93 inside 258).
    (
        "nDPI/tests/cfgs/default/pcap/ja3_lots_of_cipher_suites.pcap",
        11,
        0,
        4396,
        (
            1,
            "10.206.131.18:58657",
            "10.206.65.249:443",
            3459175936,
            0,
            0x02,
        ),
    ),
    // Linux cooked capture (SLL).
    (
        "nDPI/tests/cfgs/default/pcap/KakaoTalk_chat.pcap",
        310,
        37,
        49761,
        (
            25,
            "10.24.82.188:51021",
            "103.246.57.251:8080",
            3406689433,
            0,
            0x02,
        ),
    ),
    // Raw IP (linktype 101).
    (
        "suricata-verify/tests/tls/tls-pre-1970/input.pcap",
        17,
        0,
        2196,
        (
            1,
            "192.168.0.43:46135",
            "18.138.183.195:443",
            1575799721,
            0,
            0x02,
        ),
    ),
    // BSD null loopback, IPv4.
    (
        "nDPI/tests/cfgs/default/pcap/selfsigned.pcap",
        20,
        0,
        2634,
        (1, "127.0.0.1:51607", "127.0.0.1:3001", 3454955046, 0, 0x02),
    ),
    // BSD null loopback, IPv6.
    (
        "suricata-verify/tests/tls/tls-store-02/tls-client-auth.pcap",
        22,
        0,
        7800,
        (1, "[::1]:58606", "[::1]:8081", 1528953547, 0, 0x02),
    ),
    // Raw IPv4 (linktype 228) in pcapng.
    (
        "wireshark/test/captures/tls12-dsb.pcapng",
        17,
        0,
        8306,
        (
            1,
            "10.9.0.2:46800",
            "93.184.216.34:443",
            4223852626,
            229,
            0x18,
        ),
    ),
    // pcapng with Ethernet and NULL interfaces.
    (
        "wireshark/test/captures/many_interfaces.pcapng.1",
        32,
        32,
        3045,
        (
            24,
            "192.168.1.139:50981",
            "74.125.228.227:443",
            734932618,
            0,
            0x02,
        ),
    ),
    // IPv4 inside IPv6 (4in6 tunnel).
    (
        "nDPI/tests/cfgs/default/pcap/4in6tunnel.pcap",
        4,
        0,
        1596,
        (
            1,
            "192.168.0.1:64455",
            "10.10.10.1:443",
            3756080770,
            0,
            0x02,
        ),
    ),
    // IPv6 inside IPv4 (6in4 tunnel).
    (
        "nDPI/tests/cfgs/default/pcap/6in4tunnel.pcap",
        75,
        52,
        23597,
        (
            22,
            "[2001:470:1f17:13f:3e97:eff:fe73:4dec]:53234",
            "[2a03:2880:1010:6f03:face:b00c:0:2]:443",
            662001836,
            0,
            0x02,
        ),
    ),
];

#[test]
fn tcp_segments_of_real_captures_match_tshark() {
    let Some(dir) = corpus() else { return };
    for &(path, tcp, other, payload_bytes, first) in NET_CASES {
        let got = decode_all(&dir.join(path));
        let expected = NetSummary {
            tcp,
            other,
            malformed: 0,
            unsupported: 0,
            payload_bytes,
            first_tcp: Some((
                first.0,
                first.1.to_string(),
                first.2.to_string(),
                first.3,
                first.4,
                first.5,
            )),
        };
        assert_eq!(got, expected, "{path}");
    }
}

#[test]
fn ppp_and_radiotap_links() {
    let Some(dir) = corpus() else { return };
    // PPP (linktype 9): one QUIC (UDP) packet.
    let got = decode_all(&dir.join("nDPI/tests/cfgs/default/pcap/dlt_ppp.pcap"));
    assert_eq!(
        (got.tcp, got.other, got.malformed, got.unsupported),
        (0, 1, 0, 0)
    );
    // 802.11 under radiotap is peeled: its frames are management, EAPOL (the EAP-TLS runs
    // over EAPOL, not TCP) and protected data, none of them TCP, none malformed.
    let got = decode_all(&dir.join("wireshark/test/captures/wpa-eap-tls.pcap.gz"));
    assert_eq!(
        (got.tcp, got.other, got.malformed, got.unsupported),
        (0, 86, 0, 0)
    );
}

#[test]
fn a_runt_frame_is_malformed_not_fatal() {
    let Some(dir) = corpus() else { return };
    // gnutella.pcap holds one 4-byte Ethernet frame among 3905 packets.
    let got = decode_all(&dir.join("nDPI/tests/cfgs/default/pcap/gnutella.pcap"));
    assert_eq!((got.tcp, got.other, got.malformed), (2149, 1755, 1));
}

/// The first packet of `path` that decodes as TCP with a payload, as owned bytes.
fn first_tcp_packet_with_payload(path: &Path) -> (LinkType, Vec<u8>, usize, u32) {
    let mut reader = capture::open(path).unwrap();
    let mut decoder = NetDecoder::default();
    while let Some(packet) = reader.next_packet().unwrap() {
        if let Decoded::Tcp(seg) = decoder.decode(&packet) {
            if !seg.payload.is_empty() {
                return (
                    packet.link,
                    packet.data.to_vec(),
                    seg.payload.len(),
                    seg.wire_payload_len,
                );
            }
        }
    }
    panic!("no TCP payload in {}", path.display());
}

#[test]
fn every_prefix_of_a_real_tcp_packet_is_malformed_or_shorter() {
    let Some(dir) = corpus() else { return };
    for path in [
        "wireshark/test/captures/tls12-dsb.pcapng",
        "nDPI/tests/cfgs/default/pcap/ja3_lots_of_cipher_suites.pcap",
        "nDPI/tests/cfgs/default/pcap/KakaoTalk_chat.pcap",
        "suricata-verify/tests/tls/tls-store-02/tls-client-auth.pcap",
        "nDPI/tests/cfgs/default/pcap/6in4tunnel.pcap",
    ] {
        let (link, data, full_payload, wire) = first_tcp_packet_with_payload(&dir.join(path));
        assert_eq!(full_payload as u32, wire, "{path}: complete packet");
        let mut decoder = NetDecoder::default();
        let mut shortest_tcp = data.len();
        for cut in 0..data.len() {
            let packet = capture::Packet {
                number: 1,
                ts: Timestamp::default(),
                link,
                data: &data[..cut],
                orig_len: data.len() as u32,
            };
            match decoder.decode(&packet) {
                Decoded::Tcp(seg) => {
                    // Snaplen-style cut: fewer bytes, same wire length.
                    assert!(seg.payload.len() < full_payload, "{path} cut {cut}");
                    assert_eq!(seg.wire_payload_len, wire, "{path} cut {cut}");
                    assert_eq!(seg.payload, &data[cut - seg.payload.len()..cut]);
                    shortest_tcp = shortest_tcp.min(cut);
                }
                Decoded::Malformed(reason) => assert!(!reason.is_empty()),
                other => panic!("{path} cut {cut}: {other:?}"),
            }
        }
        // Only cuts inside the payload still decode: the headers are exactly what precedes
        // it (none of these frames carries link padding after the payload).
        assert_eq!(shortest_tcp, data.len() - full_payload, "{path}");
    }
}

mod random_input {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            link in prop::sample::select(vec![0u32, 1, 9, 12, 14, 50, 51, 101, 108, 113, 228, 229, 276, 147]),
            data in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut decoder = NetDecoder::new(DefragLimits { max_datagrams: 4, max_datagram_bytes: 1000, timeout_secs: 1 });
            let packet = capture::Packet { number: 1, ts: Timestamp::default(), link: LinkType(link), data: &data, orig_len: data.len() as u32 };
            let _ = decoder.decode(&packet);
        }

        #[test]
        fn random_ipv4_headers_never_panic(
            mut data in prop::collection::vec(any::<u8>(), 20..120),
            flags_frag in any::<u16>(),
        ) {
            // Force a plausible IPv4/TCP start so the deeper code paths run.
            data[0] = 0x45;
            data[9] = 6;
            data[6..8].copy_from_slice(&flags_frag.to_be_bytes());
            let mut decoder = NetDecoder::default();
            let packet = capture::Packet { number: 1, ts: Timestamp::default(), link: LinkType::IPV4, data: &data, orig_len: 0 };
            let _ = decoder.decode(&packet);
        }
    }
}

/// Splits a real IPv4 packet (raw IPv4 link) into fragments of `chunk` payload bytes.
fn fragment_ipv4(packet: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let header_len = usize::from(packet[0] & 0x0F) * 4;
    let payload = &packet[header_len..];
    let mut fragments = Vec::new();
    for (index, piece) in payload.chunks(chunk).enumerate() {
        let mut fragment = packet[..header_len].to_vec();
        let offset_units = (index * chunk / 8) as u16;
        let more = (index + 1) * chunk < payload.len();
        let total = (header_len + piece.len()) as u16;
        fragment[2..4].copy_from_slice(&total.to_be_bytes());
        fragment[6..8]
            .copy_from_slice(&(offset_units | if more { 0x2000 } else { 0 }).to_be_bytes());
        fragment.extend_from_slice(piece);
        fragments.push(fragment);
    }
    fragments
}

/// Splits a real IPv6 packet (after its 4-byte NULL header) into fragments with a fragment
/// extension header.
fn fragment_ipv6(null_header: &[u8], packet: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let next_header = packet[6];
    let payload = &packet[40..];
    let mut fragments = Vec::new();
    for (index, piece) in payload.chunks(chunk).enumerate() {
        let mut fragment = null_header.to_vec();
        fragment.extend_from_slice(&packet[..40]);
        let base = null_header.len();
        fragment[base + 6] = 44;
        let plen = (8 + piece.len()) as u16;
        fragment[base + 4..base + 6].copy_from_slice(&plen.to_be_bytes());
        let more = (index + 1) * chunk < payload.len();
        let word = (index * chunk) as u16 | u16::from(more);
        fragment.extend_from_slice(&[next_header, 0]);
        fragment.extend_from_slice(&word.to_be_bytes());
        fragment.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        fragment.extend_from_slice(piece);
        fragments.push(fragment);
    }
    fragments
}

/// Fragments derived from real TCP packets (the corpus has no fragmented TCP), delivered out of
/// order with one duplicate, reassemble to the original segment.
#[test]
fn ip_fragments_of_real_packets_reassemble_out_of_order() {
    let Some(dir) = corpus() else { return };
    // Raw IPv4 (linktype 228) and IPv6 over BSD null.
    for path in [
        "wireshark/test/captures/tls12-dsb.pcapng",
        "suricata-verify/tests/tls/tls-store-02/tls-client-auth.pcap",
    ] {
        let (link, data, payload_len, _) = first_tcp_packet_with_payload(&dir.join(path));
        let mut whole_decoder = NetDecoder::default();
        let whole = capture::Packet {
            number: 1,
            ts: Timestamp::default(),
            link,
            data: &data,
            orig_len: data.len() as u32,
        };
        let Decoded::Tcp(expected) = whole_decoder.decode(&whole) else {
            panic!("{path}: not TCP")
        };
        let expected_fields = first_fields(1, &expected);
        let expected_payload = expected.payload.to_vec();
        assert_eq!(expected_payload.len(), payload_len);

        let mut fragments = if link == LinkType::NULL {
            fragment_ipv6(&data[..4], &data[4..], 64)
        } else {
            fragment_ipv4(&data, 64)
        };
        assert!(fragments.len() >= 3, "{path}");
        // Last first, then a duplicate of the second, then the rest.
        fragments.rotate_right(1);
        let duplicate = fragments[2].clone();
        fragments.insert(1, duplicate);

        let mut decoder = NetDecoder::default();
        let count = fragments.len();
        for (index, fragment) in fragments.iter().enumerate() {
            let packet = capture::Packet {
                number: 1,
                ts: Timestamp::new(10, 0),
                link,
                data: fragment,
                orig_len: fragment.len() as u32,
            };
            match decoder.decode(&packet) {
                Decoded::Tcp(seg) => {
                    assert_eq!(index, count - 1, "{path}: completed early");
                    assert_eq!(first_fields(1, &seg), expected_fields, "{path}");
                    assert_eq!(seg.payload, &expected_payload[..], "{path}");
                    assert_eq!(seg.wire_payload_len as usize, payload_len);
                }
                Decoded::Other | Decoded::Udp(_) => {
                    assert!(index < count - 1, "{path}: never completed")
                }
                other => panic!("{path}: fragment {index}: {other:?}"),
            }
        }
    }
}

/// `bytes` in a temporary file.
fn temp_capture(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file
}

/// The reader's warnings so far, as text.
fn warning_texts(reader: &mut CaptureReader) -> Vec<String> {
    reader
        .take_warnings()
        .into_iter()
        .map(|w| w.message)
        .collect()
}

/// Opens a capture read with `read` calls, or through mapped windows.
fn open_either_way(path: &Path, mapped: bool) -> CaptureReader {
    if mapped {
        CaptureReader::open_mapped(path).unwrap()
    } else {
        capture::open(path).unwrap()
    }
}

/// A record the reader's fast path (a whole legacy pcap record, parsed alone) must hand to the
/// general path, which warns about it: a timestamp fraction out of range and a captured length
/// above the original length. Edge case built by patching two record headers of a real
/// capture; read both ways the reader can (`read` calls and mapped windows).
#[test]
fn odd_pcap_record_headers_still_warn_on_both_read_paths() {
    let Some(dir) = corpus() else { return };
    let mut bytes =
        std::fs::read(dir.join("nDPI/tests/cfgs/default/pcap/selfsigned.pcap")).unwrap();
    let offsets = pcap_record_offsets(&bytes);
    assert_eq!(offsets.len(), 20);
    // Packet 4: ts_usec = 1,500,000. Packet 8: orig_len = caplen - 1.
    bytes[offsets[3] + 4..offsets[3] + 8].copy_from_slice(&1_500_000u32.to_le_bytes());
    let caplen = u32::from_le_bytes(bytes[offsets[7] + 8..offsets[7] + 12].try_into().unwrap());
    bytes[offsets[7] + 12..offsets[7] + 16].copy_from_slice(&(caplen - 1).to_le_bytes());
    let file = temp_capture(&bytes);
    for mapped in [false, true] {
        let mut reader = open_either_way(file.path(), mapped);
        let mut packets = Vec::new();
        while let Some(p) = reader.next_packet().unwrap() {
            packets.push((p.number, p.data.len(), p.orig_len));
        }
        assert_eq!(packets.len(), 20, "mapped: {mapped}");
        assert_eq!(packets[7], (8, caplen as usize, caplen - 1));
        let warnings = warning_texts(&mut reader);
        assert_eq!(
            warnings,
            [
                "timestamp fraction 1500000 out of range (packet 4)",
                "captured length larger than original length in some packets",
            ],
            "mapped: {mapped}"
        );
    }
}

/// Offsets of a little-endian pcapng file's Enhanced Packet Blocks (type 6).
fn epb_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        let block_type = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if block_type == 6 {
            offsets.push(at);
        }
        at += len;
    }
    offsets
}

/// The pcapng side of the reader's fast path: an Enhanced Packet Block whose captured length
/// exceeds its original length is still warned about, and one on an interface the section
/// never described still stops the file with the packets before it kept. Edge cases built by
/// patching two block headers of a real capture; read with `read` and through mapped windows.
#[test]
fn odd_pcapng_packet_blocks_still_warn_or_stop_on_both_read_paths() {
    let Some(dir) = corpus() else { return };
    let mut bytes = std::fs::read(dir.join("wireshark/test/captures/http2-brotli.pcapng")).unwrap();
    let offsets = epb_offsets(&bytes);
    assert_eq!(offsets.len(), 25);
    // Packet 3: orig_len = caplen - 1 (caplen at +20, orig_len at +24).
    let caplen = u32::from_le_bytes(bytes[offsets[2] + 20..offsets[2] + 24].try_into().unwrap());
    bytes[offsets[2] + 24..offsets[2] + 28].copy_from_slice(&(caplen - 1).to_le_bytes());
    // Packet 11: interface 7 (interface id at +8), of one described.
    bytes[offsets[10] + 8..offsets[10] + 12].copy_from_slice(&7u32.to_le_bytes());
    let file = temp_capture(&bytes);
    for mapped in [false, true] {
        let mut reader = open_either_way(file.path(), mapped);
        let mut packets = Vec::new();
        let error = loop {
            match reader.next_packet() {
                Ok(Some(p)) => packets.push((p.number, p.data.len(), p.orig_len)),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        assert_eq!(packets.len(), 10, "mapped: {mapped}");
        assert_eq!(packets[2], (3, caplen as usize, caplen - 1));
        match error {
            Some(CaptureError::Corrupt {
                offset,
                packets_read,
                reason,
                ..
            }) => {
                assert_eq!(offset, offsets[10] as u64);
                assert_eq!(packets_read, 10);
                assert_eq!(
                    reason,
                    "packet on interface 7 but the section describes 1 interface(s)"
                );
            }
            other => panic!("expected Corrupt, got {other:?} (mapped: {mapped})"),
        }
        let warnings = warning_texts(&mut reader);
        assert_eq!(
            warnings,
            ["captured length larger than original length in some packets"],
            "mapped: {mapped}"
        );
    }
}

/// `samples/tls13-http-401-200.pcap`'s 40 records written `copies` times after its file header,
/// and the end offset of every record (the records are real; only their number is multiplied).
fn repeated_sample(copies: usize) -> (Vec<u8>, Vec<u64>) {
    let one = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/tls13-http-401-200.pcap"),
    )
    .expect("sample");
    let (header, body) = one.split_at(24);
    let mut ends = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let caplen = u32::from_le_bytes(body[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
        ends.push(at as u64);
    }
    assert_eq!(ends.len(), 40);
    let mut file = header.to_vec();
    let mut all_ends = Vec::new();
    for copy in 0..copies {
        let base = (24 + copy * body.len()) as u64;
        all_ends.extend(ends.iter().map(|e| base + e));
        file.extend_from_slice(body);
    }
    (file, all_ends)
}

/// A memory-mapped capture truncated by someone else while it is read: the pages past the new
/// end are gone (reading them raised SIGBUS and killed the process). The reader now ends with
/// a "truncated" error after the last record that lies whole before the new end.
#[test]
fn a_mapped_capture_truncated_while_read_ends_with_a_truncated_error() {
    // 1,000 copies: 14.5 MB, more than one 4 MiB window.
    let (bytes, ends) = repeated_sample(1000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrinking.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let mut reader = CaptureReader::open_mapped(&path).expect("opens");
    for _ in 0..100 {
        assert!(reader.next_packet().expect("before the cut").is_some());
    }
    // Cut mid-record in the first window, far ahead of the parser (the pages in between are
    // mapped but not read yet).
    let cut = 1_000_003u64;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut)
        .unwrap();
    let whole = ends.iter().filter(|&&e| e <= cut).count() as u64;
    let last_end = ends[whole as usize - 1];
    let mut read = 100;
    let error = loop {
        match reader.next_packet() {
            Ok(Some(_)) => read += 1,
            Ok(None) => panic!("clean end after {read} packets"),
            Err(e) => break e,
        }
    };
    assert_eq!(read, whole);
    match error {
        CaptureError::Truncated {
            offset,
            packets_read,
            ..
        } => {
            assert_eq!(packets_read, whole);
            assert_eq!(offset, last_end);
        }
        other => panic!("{other}"),
    }
}

/// The same cut before the reader maps the window it falls in: the length is checked again
/// before each window, so the reader stops there too.
#[test]
fn a_mapped_capture_truncated_before_its_next_window_ends_with_a_truncated_error() {
    let (bytes, ends) = repeated_sample(1000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrinking.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let mut reader = CaptureReader::open_mapped(&path).expect("opens");
    assert!(reader.next_packet().unwrap().is_some());
    // Past the first 4 MiB window.
    let cut = 9_000_001u64;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut)
        .unwrap();
    let whole = ends.iter().filter(|&&e| e <= cut).count() as u64;
    let error = loop {
        match reader.next_packet() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("clean end"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(error, CaptureError::Truncated { packets_read, .. } if packets_read == whole),
        "{error}, expected {whole} packets"
    );
}
