//! The capture reader: pcap, pcapng and gzip-wrapped either, from bytes.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tlscap::capture::CaptureReader;

/// Packets read per input: enough for every seed, bounded so an input cannot loop for long.
const MAX_PACKETS: usize = 10_000;

fuzz_target!(|data: &[u8]| {
    let source = Box::new(Cursor::new(data.to_vec()));
    let Ok(mut reader) = CaptureReader::from_reader(Path::new("fuzz.pcap"), source) else {
        return;
    };
    let _ = (reader.format(), reader.compressed());
    for _ in 0..MAX_PACKETS {
        match reader.next_packet() {
            Ok(Some(p)) => {
                assert!(p.number >= 1);
                let _ = p.link.name();
                let _ = p.ts.rfc3339_checked();
            }
            Ok(None) | Err(_) => break,
        }
    }
    let _ = reader.take_warnings();
    let _ = reader.take_decryption_secrets();
    let _ = (reader.offset(), reader.packets_read());
});
