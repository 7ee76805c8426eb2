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
            }) => {
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
