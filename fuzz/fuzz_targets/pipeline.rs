//! The whole pipeline on one capture file: reader, link/IP decoding, connection table and
//! reassembly, TLS observer with a fixed key log (the samples' secrets), HTTP, certificates,
//! findings, and the JSON, CSV, table and ladder outputs.
#![no_main]

use std::io::Write;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use tlscap::app::{self, Options};
use tlscap::certs::{TrustOptions, Validator};
use tlscap::report::{self, Format, TableStyle};
use tlscap::tls::keylog::KeyLog;

static OPTIONS: OnceLock<(Options, std::path::PathBuf)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let (opts, path) = OPTIONS.get_or_init(|| {
        let validator = Validator::new(&TrustOptions::default()).expect("Mozilla roots load");
        let opts = Options {
            all: true,
            validator: Some(Arc::new(validator)),
            keylog: Some(Arc::new(KeyLog::parse(
                include_bytes!("../keys/samples.keys"),
                "fuzz keys",
            ))),
            ..Options::default()
        };
        // The pipeline reads files: one per process and input, in memory where there is a tmpfs.
        let dir = ["/dev/shm", "/tmp"]
            .into_iter()
            .map(std::path::PathBuf::from)
            .find(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        (
            opts,
            dir.join(format!("tlscap-fuzz-{}.pcap", std::process::id())),
        )
    });
    let Ok(mut f) = std::fs::File::create(path) else {
        return;
    };
    if f.write_all(data).is_err() {
        return;
    }
    drop(f);
    let mut analyses = [app::analyze_file(path, opts)];
    // Removed at once: libFuzzer exits without unwinding, so nothing later would.
    let _ = std::fs::remove_file(path);
    app::apply_cross_connection(&mut analyses, &opts.findings);
    let [a] = analyses;
    let mut out = Vec::new();
    for format in [Format::Json, Format::Csv, Format::Table] {
        out.clear();
        report::write_connections(&mut out, format, TableStyle::default(), &a.connections)
            .expect("writing to a Vec cannot fail");
    }
    for ((r, hs), tcp) in a.connections.iter().zip(&a.handshakes).zip(&a.tcp) {
        out.clear();
        report::ladder::write_ladder(&mut out, r, hs, tcp).expect("writing to a Vec cannot fail");
    }
});
