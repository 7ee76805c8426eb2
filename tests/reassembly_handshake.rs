//! Every permutation, duplication and re-segmentation of a real handshake's TCP segments yields
//! the same decoded handshake (capture → net → flow → tls, no hand-built bytes: the segments
//! come from samples/tls12-mtls-cert-sent.pcap and samples/tls13-hello-retry.pcap).

mod common;

use proptest::prelude::*;
use std::net::SocketAddr;
use tlscap::capture::CaptureReader;
use tlscap::flow::{FlowConfig, FlowTable, SegmentMeta};
use tlscap::net::{Decoded, NetDecoder, TcpFlags, TcpSegment};
use tlscap::time::Timestamp;
use tlscap::tls::{HandshakeSummary, ObserverConfig, TlsObserver};

/// An owned copy of one TCP segment of a sample.
#[derive(Debug, Clone)]
struct Seg {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: Vec<u8>,
}

fn segments(name: &str) -> Vec<Seg> {
    let mut reader = CaptureReader::open(&common::sample(name)).expect("sample");
    let mut net = NetDecoder::default();
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet().expect("readable") {
        if let Decoded::Tcp(s) = net.decode(&p) {
            out.push(Seg {
                src: s.src,
                dst: s.dst,
                seq: s.seq,
                ack: s.ack,
                flags: s.flags.0,
                payload: s.payload.to_vec(),
            });
        }
    }
    out
}

/// The handshake facts that must not depend on how the bytes were cut or ordered.
fn facts(hs: &HandshakeSummary) -> String {
    let ch = hs.client_hello.as_ref();
    let sh = hs.server_hello.as_ref();
    format!(
        "sni={:?} ciphers={:?} ext={:?} alpn={:?} version={:?} cipher={:?} hrr={} ch2={} \
         server_certs={:?} client_certs={:?} cert_request={} done={} alerts={:?} problems={}",
        ch.and_then(|c| c.sni.clone()),
        ch.map(|c| c.ciphers.clone()),
        ch.map(|c| c.extensions.clone()),
        ch.map(|c| c.alpn.clone()),
        sh.map(|s| s.version),
        sh.map(|s| s.cipher),
        hs.hello_retry_request.is_some(),
        hs.second_client_hello.is_some(),
        hs.server_certificate.as_ref().map(|c| c.certs.clone()),
        hs.client_certificate.as_ref().map(|c| c.certs.len()),
        hs.certificate_request.is_some(),
        hs.server_hello_done.is_some(),
        hs.alerts
            .iter()
            .map(|a| (a.from, a.level, a.description, a.encrypted))
            .collect::<Vec<_>>(),
        hs.problems.len(),
    )
}

fn run(segs: &[Seg]) -> Vec<HandshakeSummary> {
    let mut table: FlowTable<TlsObserver> = FlowTable::new(FlowConfig::default());
    let mut done = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let seg = TcpSegment {
            src: s.src,
            dst: s.dst,
            seq: s.seq,
            ack: s.ack,
            flags: TcpFlags(s.flags),
            window: 65535,
            mss: 0,
            payload: &s.payload,
            wire_payload_len: s.payload.len() as u32,
            carrier: Default::default(),
        };
        // Time moves forward with the order of arrival, as it would in a capture.
        let meta = SegmentMeta {
            packet: i as u64 + 1,
            ts: Timestamp::new(1_700_000_000, i as u64 * 1000),
        };
        table.process(
            meta,
            &seg,
            &mut |_, _| TlsObserver::new(ObserverConfig::default()),
            &mut |f| done.push(f.handler.finish()),
        );
    }
    table.finish(&mut |f| done.push(f.handler.finish()));
    done
}

/// Re-cuts data-bearing segments: each one split at `cut` (a fraction of its length).
fn resegment(segs: &[Seg], cuts: &[u16]) -> Vec<Seg> {
    let mut out = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let cut = cuts.get(i).copied().unwrap_or(0) as usize;
        if s.payload.len() < 2 || cut == 0 || s.flags & 0x07 != 0 {
            out.push(s.clone());
            continue;
        }
        let at = 1 + cut % (s.payload.len() - 1);
        let mut a = s.clone();
        a.payload.truncate(at);
        let mut b = s.clone();
        b.payload = s.payload[at..].to_vec();
        b.seq = s.seq.wrapping_add(at as u32);
        b.flags &= !0x08; // PSH only on the last piece
        out.push(a);
        out.push(b);
    }
    out
}

fn check(sample: &str) -> impl Fn(Vec<u16>, Vec<usize>, Vec<usize>) -> Result<(), TestCaseError> {
    let segs = segments(sample);
    let baseline = run(&segs);
    assert_eq!(baseline.len(), 1, "{sample}: one connection");
    let want = facts(&baseline[0]);
    move |cuts, order_keys, dups| {
        let pieces = resegment(&segs, &cuts);
        // Out-of-order arrival happens within one direction's flight: shuffle each run of
        // consecutive same-direction segments (SYN/FIN/RST stay in place), then insert duplicates
        // (retransmissions) anywhere after their original.
        let mut all: Vec<Seg> = Vec::new();
        let mut run_start = 0;
        for i in 0..=pieces.len() {
            let boundary = i == pieces.len()
                || pieces[i].flags & 0x07 != 0
                || pieces[i].src != pieces[run_start].src
                || pieces[run_start].flags & 0x07 != 0;
            if boundary {
                let mut run = pieces[run_start..i].to_vec();
                for (j, k) in order_keys.iter().enumerate() {
                    if run.len() > 1 {
                        let (a, b) = ((j + i) % run.len(), k % run.len());
                        run.swap(a, b);
                    }
                }
                all.extend(run);
                run_start = i;
            }
        }
        for d in &dups {
            if !all.is_empty() {
                let at = d % all.len();
                let copy = all[at].clone();
                let to = at + 1 + (d / 7) % (all.len() - at);
                all.insert(to.min(all.len()), copy);
            }
        }
        let got = run(&all);
        prop_assert_eq!(got.len(), 1);
        prop_assert_eq!(facts(&got[0]), want.clone());
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn tls12_mutual_auth_handshake_survives_any_reordering(
        cuts in proptest::collection::vec(0u16..2000, 0..40),
        order in proptest::collection::vec(0usize..1000, 0..40),
        dups in proptest::collection::vec(0usize..1000, 0..8),
    ) {
        check("tls12-mtls-cert-sent.pcap")(cuts, order, dups)?;
    }

    #[test]
    fn tls13_hello_retry_handshake_survives_any_reordering(
        cuts in proptest::collection::vec(0u16..2000, 0..40),
        order in proptest::collection::vec(0usize..1000, 0..40),
        dups in proptest::collection::vec(0usize..1000, 0..8),
    ) {
        check("tls13-hello-retry.pcap")(cuts, order, dups)?;
    }
}

#[test]
fn baseline_handshakes_are_the_real_ones() {
    // Guards the property tests against comparing two empty summaries.
    let hs = run(&segments("tls12-mtls-cert-sent.pcap"));
    assert_eq!(
        hs[0].client_hello.as_ref().and_then(|c| c.sni.as_deref()),
        Some("api.tlscap.test")
    );
    assert!(hs[0].certificate_request.is_some());
    assert_eq!(
        hs[0].server_certificate.as_ref().map(|c| c.certs.len()),
        Some(2)
    );
    assert_eq!(
        hs[0].client_certificate.as_ref().map(|c| c.certs.len()),
        Some(2) // client certificate + intermediate
    );
    let hs = run(&segments("tls13-hello-retry.pcap"));
    assert!(hs[0].hello_retry_request.is_some() && hs[0].second_client_hello.is_some());
}
