//! `weak-key-exchange` (issue 22) on real captures: the group a TLS ≤ 1.2 server chose in its
//! ServerKeyExchange (tshark: `tls.handshake.p_len`, `tls.handshake.server_named_curve`).

mod common;

use tlscap::app::{analyze_file, Options};

fn findings(rel: &str, index: u64) -> Option<Vec<(&'static str, &'static str, String, String)>> {
    let corpus = common::corpus("key_exchange")?;
    let a = analyze_file(&corpus.join(rel), &Options::default());
    let r = a
        .connections
        .iter()
        .find(|r| r.index == index)
        .expect("connection");
    Some(
        r.findings
            .iter()
            .filter(|f| f.kind.id() == "weak-key-exchange")
            .map(|f| {
                (
                    f.kind.id(),
                    f.severity.as_str(),
                    f.message.clone(),
                    f.evidence.clone(),
                )
            })
            .collect(),
    )
}

/// pgsql-upgrade-tls (suricata-verify): PostgreSQL's server chose DHE with a 128-byte prime.
#[test]
fn a_1024_bit_dh_prime_is_weak() {
    let Some(found) = findings(
        "suricata-verify/tests/pgsql/pgsql-upgrade-tls/input.pcap",
        0,
    ) else {
        return;
    };
    assert_eq!(
        found,
        [(
            "weak-key-exchange",
            "warning",
            "192.168.50.12:5432 chose finite-field Diffie-Hellman with a 1024-bit prime for the \
             key exchange, below 2048-bit primes: within reach of precomputation and \
             discrete-log attacks (Logjam), and refused by clients that require stronger groups."
                .to_string(),
            "ServerKeyExchange in packet 9: DH 1024 (1024 bits).".to_string()
        )]
    );
}

/// ja3_lots_of_cipher_suites.pcap (nDPI): a 256-byte (2048-bit) prime; selfsigned.pcap: secp521r1. Neither is
/// weak.
#[test]
fn a_2048_bit_prime_and_p521_are_not_weak() {
    for rel in [
        "nDPI/tests/cfgs/default/pcap/ja3_lots_of_cipher_suites.pcap",
        "nDPI/tests/cfgs/default/pcap/selfsigned.pcap",
    ] {
        let Some(corpus) = common::corpus("key_exchange") else {
            return;
        };
        let a = analyze_file(&corpus.join(rel), &Options::default());
        let groups: Vec<String> = a
            .handshakes
            .iter()
            .filter_map(|h| h.key_exchange.as_ref().map(|k| k.name.clone()))
            .collect();
        assert!(!groups.is_empty(), "{rel}: no ServerKeyExchange read");
        assert!(
            groups.iter().all(|g| g == "DH 2048" || g == "secp521r1"),
            "{rel}: {groups:?}"
        );
        assert!(a
            .connections
            .iter()
            .flat_map(|r| &r.findings)
            .all(|f| f.kind.id() != "weak-key-exchange"));
    }
}
