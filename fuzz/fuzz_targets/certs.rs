//! Certificate parsing and display, chain validation at a fixed time, and stapled OCSP
//! parsing. The input is one DER certificate (seeds: the samples' certificates).
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use tlscap::certs::{self, TrustOptions, Validator};
use tlscap::time::Timestamp;

static VALIDATOR: OnceLock<Mutex<Validator>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = certs::summarize(data) {
        let json = serde_json::to_string(&info).expect("CertInfo serialises");
        assert!(!json.is_empty());
    }
    let _ = certs::revocation::parse_ocsp_response(data);
    let validator = VALIDATOR.get_or_init(|| {
        Mutex::new(Validator::new(&TrustOptions::default()).expect("Mozilla roots load"))
    });
    let Ok(mut v) = validator.lock() else { return };
    let at = Timestamp::new(1_700_000_000, 0);
    let check = v.check(&[data], Some("example.com"), at, None);
    let _ = serde_json::to_string(&check);
    let _ = v.check(&[data], None, at, Some(data));
});
