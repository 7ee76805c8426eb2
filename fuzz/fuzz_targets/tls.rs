//! TLS record and handshake decoding: two byte streams into the observer (no key log), then
//! everything read from the summary (fingerprints, HTTP in cleartext, version names).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tlscap::tls::{fingerprint, ObserverConfig, TlsObserver};

fuzz_target!(|data: &[u8]| {
    let cfg = ObserverConfig {
        cleartext_http: true,
        ..ObserverConfig::default()
    };
    let mut obs = TlsObserver::new(cfg);
    common::feed_stream(&mut obs, data);
    let hs = obs.finish();
    let _ = hs.negotiated_version();
    let _ = hs.resumed();
    let _ = hs.cert_requested();
    let _ = hs.client_cert_sent();
    for ch in hs.client_hello.iter().chain(hs.second_client_hello.iter()) {
        let _ = fingerprint::ja3(ch);
        let _ = fingerprint::ja4(ch);
    }
    let _ = tlscap::http::exchanges(
        &hs,
        &tlscap::http::HmacContext {
            capture_window: None,
            secrets: &[],
        },
    );
});
