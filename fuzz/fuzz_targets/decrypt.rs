//! TLS 1.2 / 1.3 decryption with a fixed key log: the samples' secrets, so that seeds made
//! from the samples' streams decrypt and the fuzzer mutates records under real keys.
#![no_main]

mod common;

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use tlscap::tls::keylog::{KeyLog, KeySlot};
use tlscap::tls::{ObserverConfig, TlsObserver};

static KEYS: OnceLock<Arc<KeySlot>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let keys = KEYS.get_or_init(|| {
        let log = KeyLog::parse(include_bytes!("../keys/samples.keys"), "fuzz keys");
        Arc::new(KeySlot::new(log))
    });
    let cfg = ObserverConfig {
        keylog: Some(Arc::clone(keys)),
        ..ObserverConfig::default()
    };
    let mut obs = TlsObserver::new(cfg);
    common::feed_stream(&mut obs, data);
    let hs = obs.finish();
    let _ = hs.client_cert_sent();
    let _ = tlscap::http::exchanges(
        &hs,
        &tlscap::http::HmacContext {
            capture_window: None,
            secrets: &[],
        },
    );
});
