//! Key-log parsing (NSS SSLKEYLOGFILE format), then a lookup of every client random seen.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlscap::tls::keylog::KeyLog;

fuzz_target!(|data: &[u8]| {
    let log = KeyLog::parse(data, "fuzz");
    let _ = log.len();
    // Client randoms are the second field of each line; look up the ones the input names.
    for line in data.split(|b| *b == b'\n') {
        if let Some(field) = line.split(|b| *b == b' ').nth(1) {
            let _ = log.get(field);
        }
    }
    let mut merged = KeyLog::new();
    merged.merge(log);
});
