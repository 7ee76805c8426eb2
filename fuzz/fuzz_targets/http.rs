//! HTTP/1 and HTTP/2 parsing of application data. Input: `[client_len: u16 LE][client
//! bytes][server bytes]`; bit 15 of the length marks a client certificate as sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlscap::tls::{AppData, CertificateMsg, HandshakeSummary};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let head = u16::from_le_bytes([data[0], data[1]]);
    let rest = &data[2..];
    let split = usize::from(head & 0x7fff).min(rest.len());
    let (client, server) = rest.split_at(split);
    let app = |bytes: &[u8]| AppData {
        bytes: bytes.to_vec(),
        // One record per 512 bytes, so packet numbers vary along the stream.
        packets: (0..bytes.len())
            .step_by(512)
            .map(|o| {
                let meta = tlscap::flow::SegmentMeta {
                    packet: 1 + o as u64 / 512,
                    ..Default::default()
                };
                (o, meta)
            })
            .collect(),
        truncated: false,
    };
    let mut hs = HandshakeSummary {
        app_data: [app(client), app(server)],
        ..HandshakeSummary::default()
    };
    if head & 0x8000 != 0 {
        hs.client_certificate = Some(CertificateMsg {
            certs: vec![vec![0x30]],
            ..CertificateMsg::default()
        });
    }
    // One secret and a capture window, so signed requests go through the recomputation and
    // the clock-skew arithmetic too.
    let secrets: Vec<tlscap::http::HmacKey> = tlscap::http::HmacKey::parse("k1=fuzz-secret", "")
        .into_iter()
        .collect();
    let ctx = tlscap::http::HmacContext {
        capture_window: Some((1_700_000_000, 1_700_000_060)),
        secrets: &secrets,
    };
    for r in tlscap::http::exchanges(&hs, &ctx) {
        let _ = serde_json::to_string(&r);
    }
    if let Ok(s) = std::str::from_utf8(client) {
        let _ = tlscap::http::query_names(s);
    }
    let _ = tlscap::http::preview(server);
});
