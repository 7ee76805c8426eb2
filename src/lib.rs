//! tlscap: read packet captures and explain why the TLS connections in them failed.
//!
//! Data flows one way through the modules:
//! [`capture`] (files → packets) → [`net`] (link/IP/TCP headers, defragmentation) →
//! [`flow`] (connection table, TCP reassembly per direction) → [`tls`] (records, handshake
//! messages, fingerprints, decryption with a key log) → [`quic`] (UDP datagrams → QUIC
//! connections, whose handshakes the tls decoder reads) → [`http`] (requests and responses in
//! decrypted or cleartext application data) → [`certs`] (certificate display fields, chain and
//! hostname checks) → [`record`] (the typed connection record, the finding catalogue, record
//! building) → [`findings`] (rules → diagnoses, outcome and cause) → [`spill`] (records waiting
//! for the batch's end, postcard) → [`report`] (printers: table, JSON, CSV, the `explain`
//! ladder) → [`compare`] (a working and a failing side: what differs, most decisive first).
//! [`app`] wires the stages together; [`cli`] parses arguments and picks a printer.
//!
//! A stage never imports a later one; each has plain data types at its edges.

pub mod app;
pub mod capture;
pub mod certs;
pub mod cli;
pub mod compare;
pub mod dtls;
pub mod filter;
pub mod findings;
pub mod flow;
pub mod http;
pub mod net;
pub mod quic;
pub mod record;
pub mod report;
pub mod spill;
mod text;
pub mod time;
pub mod tls;

/// A hash map with foldhash instead of SipHash: the caches and tables looked up once per
/// connection or packet (SipHash over a ClientHello's ~100 values or a chain key costs ~1 % of a
/// run). Seeded per map, like std's.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
