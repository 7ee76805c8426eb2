//! No silent loss (issue 22): where tlscap stops decoding a TLS stream, a `decode-incomplete`
//! finding says where (side, stream offset of the record, packet) and what was not read.

mod common;

use tlscap::app::{analyze_file, Options};

/// (severity, message, evidence) of the connection's `decode-incomplete` finding.
fn decode_incomplete(rel: &str, index: u64) -> Option<(&'static str, String, String)> {
    let corpus = common::corpus("no_silent_loss")?;
    let a = analyze_file(&corpus.join(rel), &Options::default());
    let r = a
        .connections
        .iter()
        .find(|r| r.index == index)
        .expect("connection");
    let f = r
        .findings
        .iter()
        .find(|f| f.kind.id() == "decode-incomplete")
        .unwrap_or_else(|| panic!("{rel} #{index} has no decode-incomplete: {:?}", r.findings));
    Some((f.severity.as_str(), f.message.clone(), f.evidence.clone()))
}

/// tls_invalid_reads.pcap (nDPI): after its handshake records the server sends 0xaa bytes
/// where a record header must be.
#[test]
fn bytes_that_are_not_a_record_header_are_named() {
    let Some((severity, message, evidence)) =
        decode_incomplete("nDPI/tests/cfgs/default/pcap/tls_invalid_reads.pcap", 0)
    else {
        return;
    };
    assert_eq!(severity, "warning");
    assert_eq!(
        message,
        "tlscap could not decode all of the server's TLS stream of 206.33.61.113:443: in the \
         record at byte 842 of that stream (packet 6) it met bytes that are not a TLS record \
         header (content type 170, version 0xaaaa): the rest of the stream was not decoded."
    );
    assert_eq!(
        evidence,
        "server stream, record at byte 842, packet 6: bytes that are not a TLS record header \
         (content type 170, version 0xaaaa): the rest of the stream was not decoded."
    );
}

/// bug-1450-04 (suricata-verify): the server's record announces a 16,777,215-byte handshake
/// message (the protocol's largest) and the capture ends 4,099 bytes into it. Before, the 256
/// KiB cap dropped it silently; now it is read up to the limit and its loss is said.
#[test]
fn a_message_cut_by_the_end_of_the_capture_is_named() {
    let Some((severity, message, _)) = decode_incomplete(
        "suricata-verify/tests/bug-1450-04/tls_DER-incomplete-header.pcap",
        0,
    ) else {
        return;
    };
    assert_eq!(severity, "warning");
    assert_eq!(
        message,
        "tlscap could not decode all of the server's TLS stream of 127.0.0.1:10443: in the \
         record at byte 0 of that stream (packet 6) it met a handshake message (4099 of \
         16777215 bytes seen) when the capture ended: it was not decoded."
    );
}

/// ftp-start-tls.pcap (nDPI): after the encrypted session both sides go back to clear FTP
/// (CCC): only record counting is lost, an info.
#[test]
fn clear_text_after_encrypted_records_is_info() {
    let Some((severity, message, _)) =
        decode_incomplete("nDPI/tests/cfgs/default/pcap/ftp-start-tls.pcap", 0)
    else {
        return;
    };
    assert_eq!(severity, "info");
    assert_eq!(
        message,
        "tlscap could not decode all of the client's TLS stream of 10.220.50.76:21: in the \
         record at byte 757 of that stream (packet 45) it met bytes that are not a TLS record \
         header among the encrypted records (e.g. the protocol resuming in clear): the records \
         after them were not counted (1 more such places in the evidence)."
    );
}
