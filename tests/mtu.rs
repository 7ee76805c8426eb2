//! The MTU black hole of samples/mtu (made by samples/make_mtu_samples.sh: a router link of
//! MTU 1280 whose ICMP "fragmentation needed" is dropped, openssl s_server with the test chain,
//! curl), one handshake captured at the client and at the server. Values are the captures'
//! (tshark shows the same packets: the server's 1448-byte segment sent 7 times, its 37-byte
//! tail acknowledged selectively by the client's duplicate ACK).

mod common;

use serde_json::Value;
use std::process::Command;

fn records(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args([
            "--format",
            "json",
            "--quiet",
            "--ca-file",
            "samples/pki/root.pem",
        ])
        .args(args)
        .output()
        .expect("run tlscap");
    assert!(out.status.code().is_some_and(|c| c <= 2), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|r: &Value| r["type"] == "connection")
        .collect()
}

fn mtu_finding(r: &Value) -> &Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "mtu-black-hole")
        .expect("mtu-black-hole")
}

#[test]
fn seen_from_the_server_the_full_segment_is_retransmitted_never_acknowledged() {
    let rs = records(&["samples/mtu/mtu-black-hole-server.pcap"]);
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(
        (&r["status"], &r["outcome"], &r["failed_at"], &r["cause"]),
        (
            &Value::from("stalled"),
            &Value::from("failed"),
            &Value::from("handshake"),
            &Value::from("mtu-black-hole")
        )
    );
    assert_eq!(
        r["tcp"]["mss"],
        serde_json::json!({"client": 1460, "server": 1460})
    );
    assert_eq!(r["tcp"]["retransmissions"], 6);
    let f = mtu_finding(r);
    assert_eq!(f["severity"], "error");
    assert_eq!(
        f["evidence"],
        "A 1448-byte server segment was sent 7 times (packets 6 to 14) and its first byte never acknowledged; the client sent 1 duplicate ACK (first in packet 8): a later segment arrived past the missing one; MSS announced: client 1460, server 1460."
    );
}

#[test]
fn seen_from_the_client_the_hole_is_never_filled() {
    let rs = records(&["samples/mtu/mtu-black-hole-client.pcap"]);
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(
        (&r["status"], &r["outcome"], &r["cause"]),
        (
            &Value::from("stalled"),
            &Value::from("failed"),
            &Value::from("mtu-black-hole")
        )
    );
    assert_eq!(
        r["tcp"]["mss"],
        serde_json::json!({"client": 1460, "server": 1460})
    );
    let f = mtu_finding(r);
    assert_eq!(f["observed"], true);
    assert_eq!(
        f["message"],
        "The server's full-size segments (1448 bytes missing) never reach the client while smaller ones do, so the connection stalls: a link on the path has a smaller MTU and the ICMP \"fragmentation needed\" that should tell the server is lost (MTU black hole)."
    );
    assert_eq!(
        f["evidence"],
        "The server's bytes stop at a hole of 1448 bytes that was never filled nor acknowledged; past it only segments of at most 37 bytes arrived (first in packet 6); the client sent 1 duplicate ACK (first in packet 7): a later segment arrived past the missing one; MSS announced: client 1460, server 1460."
    );
}

/// No other sample has a black hole (compare's `mtu` pair makes one on purpose on its failing
/// side, and none on its working side, whose MSS fits the path).
#[test]
fn no_other_sample_fires() {
    let rs = records(&["samples/"]);
    let hits: Vec<String> = rs
        .iter()
        .filter(|r| {
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == "mtu-black-hole")
        })
        .map(|r| r["file"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        hits,
        [
            "samples/compare/mtu-bad.pcap",
            "samples/mtu/mtu-black-hole-client.pcap",
            "samples/mtu/mtu-black-hole-server.pcap"
        ]
    );
}

/// The corpus's connections (healthy and failing, with real losses and retransmissions) give
/// no `mtu-black-hole`: none of its captures shows one.
#[test]
fn corpus_has_no_black_hole() {
    let Some(corpus) = common::corpus("corpus_has_no_black_hole") else {
        return;
    };
    let rs = records(&["--all", corpus.to_str().unwrap()]);
    assert!(rs.len() > 2000, "{}", rs.len());
    let hits = rs
        .iter()
        .filter(|r| {
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == "mtu-black-hole")
        })
        .count();
    assert_eq!(hits, 0);
}

/// samples/mtu/mtu-pmtud-server.pcap: the same path with the router's ICMP let through. The
/// server's 1448-byte segment is answered by "fragmentation needed" from the router
/// (10.81.1.1, next-hop MTU 1280, packet 8); the server resends in 1228-byte segments and the
/// handshake and request complete. Path MTU discovery working is information, not a black hole.
#[test]
fn path_mtu_discovery_that_works_is_no_black_hole() {
    let rs = records(&["samples/mtu/mtu-pmtud-server.pcap"]);
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(
        (&r["status"], &r["outcome"]),
        (&Value::from("ok"), &Value::from("ok"))
    );
    assert_eq!(
        r["icmp"],
        serde_json::json!([{"packet": 8, "time_s": 0.002688, "from": "10.81.1.1",
            "sent_by": "server", "kind": "packet-too-big", "mtu": 1280}])
    );
    let ids: Vec<_> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap(), f["severity"].as_str().unwrap()))
        .collect();
    assert_eq!(ids, vec![("icmp-packet-too-big", "info")]);
    assert_eq!(r["tcp"]["retransmissions"], 2);
}
