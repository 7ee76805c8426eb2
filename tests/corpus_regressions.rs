//! Regressions found by comparing tlscap with tshark over the corpus (connection tracking,
//! TLS 1.3 draft ServerHellos).

mod common;

use tlscap::app::{analyze_file, Options};

/// steam.pcapng was merged out of time order (packets 1-6 are stamped four days after the
/// rest): later packets must not look idle against that maximum and each open a new
/// connection.
#[test]
fn capture_merged_out_of_time_order_keeps_connections_whole() {
    let Some(corpus) = common::corpus("capture_merged_out_of_time_order") else {
        return;
    };
    let a = analyze_file(
        &corpus.join("nDPI/tests/cfgs/default/pcap/steam.pcapng"),
        &Options::default(),
    );
    let conns: Vec<_> = a
        .connections
        .iter()
        .zip(&a.handshakes)
        .filter(|(r, _)| r.client.to_string() == "192.168.88.231:54243")
        .collect();
    assert_eq!(conns.len(), 1);
    let (r, hs) = conns[0];
    assert_eq!(r.first_packet, 17);
    assert_eq!(r.sni.as_deref(), Some("www.dota2.com"));
    assert!(r.hello_retry);
    assert_eq!(hs.negotiated_version(), Some(0x0304));
    assert_eq!(hs.server_hello.as_ref().unwrap().cipher, 0x1302);
    assert_eq!(hs.server_hello.as_ref().unwrap().meta.packet, 26);
}

/// The server answered with SYN-ACKs carrying three different ISNs; its data continues the
/// last one (2829651200), which the client acknowledged.
#[test]
fn data_continues_a_later_syn_ack_isn() {
    let Some(corpus) = common::corpus("data_continues_a_later_syn_ack_isn") else {
        return;
    };
    let a = analyze_file(
        &corpus.join("nDPI/tests/cfgs/default/pcap/tls_multiple_synack_different_seq.pcapng"),
        &Options::default(),
    );
    let hs = &a.handshakes[0];
    assert_eq!(hs.negotiated_version(), Some(0x0303));
    assert_eq!(hs.server_hello.as_ref().unwrap().cipher, 0xc02f);
    assert_eq!(hs.server_certificate.as_ref().unwrap().certs.len(), 4);
    assert_eq!(a.tcp[0].gaps, 0);
}

/// TLS 1.3 draft ServerHellos (draft ≤ 21) have no session id and no compression method.
#[test]
fn tls13_draft_server_hellos() {
    let Some(corpus) = common::corpus("tls13_draft_server_hellos") else {
        return;
    };
    for (rel, version, cipher) in [
        // Draft 14 still carried 0x0304 in the version field and a TLS 1.2 suite.
        (
            "suricata-verify/tests/tls/tls13-draft14/tls13_draft14.pcap",
            0x0304,
            0xc02b,
        ),
        (
            "suricata-verify/tests/tls/tls13-draft18/tls13_draft18.pcap",
            0x7f12,
            0x1301,
        ),
        (
            "suricata-verify/tests/tls/tls13-draft19/tls13_draft19.pcap",
            0x7f13,
            0x1302,
        ),
        (
            "wireshark/test/captures/tls13-20-chacha20poly1305.pcap",
            0x7f14,
            0x1303,
        ),
    ] {
        let a = analyze_file(&corpus.join(rel), &Options::default());
        let sh = a.handshakes[0].server_hello.as_ref().expect(rel);
        assert_eq!((sh.version, sh.cipher), (version, cipher), "{rel}");
    }
}

/// Findings that must not appear on these real captures (false diagnoses fixed by looking at
/// the whole corpus): garbage "alerts" read from encrypted alert records whose encryption start
/// was not seen, certificate validity judged against zeroed capture clocks.
#[test]
fn no_false_diagnoses_on_real_captures() {
    let Some(corpus) = common::corpus("no_false_diagnoses_on_real_captures") else {
        return;
    };
    let ids = |rel: &str| -> Vec<(u64, &'static str, String)> {
        let a = analyze_file(&corpus.join(rel), &Options::default());
        a.connections
            .iter()
            .flat_map(|r| {
                r.findings
                    .iter()
                    .map(move |f| (r.index, f.kind.id(), f.message.clone()))
            })
            .collect()
    };
    // KakaoTalk's TLS records after a resumed handshake: before the fix, 21 "level_121 alert_238"
    // style alerts; now every alert there is either a real plaintext one or marked encrypted.
    let kakao = ids("nDPI/tests/cfgs/default/pcap/KakaoTalk_chat.pcap");
    assert!(
        kakao.iter().all(|(_, _, m)| !m.contains("level_")),
        "{kakao:?}"
    );
    // Stamped 1999-12-31: no validity verdict, but the chain itself is still judged.
    let rdn = ids("nDPI/tests/cfgs/default/pcap/tls-rdn-extract.pcap");
    assert!(
        rdn.iter()
            .all(|(_, id, _)| *id != "cert-not-yet-valid" && *id != "cert-expired"),
        "{rdn:?}"
    );
}

/// What the tests below read of one connection: its outcome, and its findings as
/// (id, severity, message, evidence).
type Verdict = (
    tlscap::record::Outcome,
    Option<tlscap::record::FailedAt>,
    Vec<(&'static str, &'static str, String, String)>,
);

fn verdicts(corpus: &std::path::Path, rel: &str) -> Vec<(u64, Verdict)> {
    let mut a = [analyze_file(&corpus.join(rel), &Options::default())];
    tlscap::app::apply_cross_connection(&mut a, &Default::default());
    let [a] = a;
    a.connections
        .iter()
        .map(|r| {
            let findings = r
                .findings
                .iter()
                .map(|f| {
                    (
                        f.kind.id(),
                        f.severity.as_str(),
                        f.message.clone(),
                        f.evidence.clone(),
                    )
                })
                .collect();
            (r.index, (r.outcome, r.failed_at, findings))
        })
        .collect()
}

fn verdict(corpus: &std::path::Path, rel: &str, index: u64) -> Verdict {
    verdicts(corpus, rel)
        .into_iter()
        .find(|(i, _)| *i == index)
        .unwrap_or_else(|| panic!("{rel} has no connection #{index}"))
        .1
}

/// The one finding `id` of connection `index` of `rel` (severity, message, evidence), once the
/// connection's outcome is checked to be `outcome`, with no failure stage.
fn only_finding(
    corpus: &std::path::Path,
    rel: &str,
    index: u64,
    id: &str,
    outcome: tlscap::record::Outcome,
) -> (&'static str, String, String) {
    let v = verdict(corpus, rel, index);
    assert_eq!((v.0, v.1), (outcome, None), "{rel} #{index}");
    let mut found: Vec<_> = v.2.into_iter().filter(|f| f.0 == id).collect();
    assert_eq!(found.len(), 1, "{rel} #{index}: {id}");
    let (_, severity, message, evidence) = found.remove(0);
    (severity, message, evidence)
}

fn ids(v: &Verdict) -> Vec<(&'static str, &'static str)> {
    v.2.iter().map(|(id, sev, _, _)| (*id, *sev)).collect()
}

/// Captures of the client's packets only: its ACKs acknowledge kilobytes of server data the
/// capture never shows and it sent a ClientKeyExchange, so the server's "silence" is the
/// capture's. No connect timeout, no stalled handshake; the outcome is unknown.
#[test]
fn one_sided_captures_are_not_failures() {
    use tlscap::record::Outcome;
    let Some(corpus) = common::corpus("one_sided_captures_are_not_failures") else {
        return;
    };
    let v = verdict(
        &corpus,
        "nDPI/tests/cfgs/default/pcap/tls_1.2_unidirectional_client.pcapng",
        0,
    );
    assert_eq!((v.0, v.1), (Outcome::Unknown, None));
    assert_eq!(ids(&v), [("one-sided-capture", "info")]);
    assert_eq!(
        v.2[0].3,
        "17 packets from the client, none from 216.58.209.42:443; the client's ACK in packet 15 acknowledges 5976 bytes from the server."
    );
    let ocs = verdicts(&corpus, "nDPI/tests/cfgs/default/pcap/ocs.pcap");
    let one_sided: Vec<u64> = ocs
        .iter()
        .filter(|(_, v)| v.2.iter().any(|f| f.0 == "one-sided-capture"))
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(one_sided, [2, 5, 8, 9, 10]);
    for (i, v) in &ocs {
        if one_sided.contains(i) {
            assert_eq!(v.0, Outcome::Unknown, "#{i}");
            assert!(
                v.2.iter()
                    .all(|f| f.0 != "handshake-stalled" && f.0 != "tcp-connect-timeout"),
                "#{i}: {:?}",
                v.2
            );
        }
    }
    let (_, ocs2) = ocs.iter().find(|(i, _)| *i == 2).unwrap();
    assert_eq!(
        ocs2.2[0].2,
        "The capture shows only the client's packets: the client's ACK in packet 77 acknowledges 7069 bytes from the server, none of which the capture holds (a SPAN port or one leg of a load balancer); nothing is concluded from the server's apparent silence."
    );
}

/// gnutella.pcap: #4 is one SYN never retransmitted in the 532 s the capture went on: not a
/// connect timeout. #0's server sent its SYN-ACK 7 times and the client never acknowledged it.
#[test]
fn a_lone_syn_is_unknown_and_an_unanswered_syn_ack_is_named() {
    use tlscap::record::{FailedAt, Outcome};
    let Some(corpus) = common::corpus("a_lone_syn_is_unknown") else {
        return;
    };
    let rel = "nDPI/tests/cfgs/default/pcap/gnutella.pcap";
    let lone = verdict(&corpus, rel, 4);
    assert_eq!((lone.0, lone.1), (Outcome::Unknown, None));
    assert_eq!(ids(&lone), [("tcp-syn-unanswered", "info")]);
    assert_eq!(
        lone.2[0].3,
        "SYN in packet 163, not retransmitted; no packet from the server; the capture goes on to packet 3895."
    );
    let synack = verdict(&corpus, rel, 0);
    assert_eq!((synack.0, synack.1), (Outcome::Failed, Some(FailedAt::Tcp)));
    assert_eq!(ids(&synack), [("tcp-synack-unanswered", "error")]);
    assert_eq!(
        synack.2[0].3,
        "SYN in packet 159; SYN-ACKs from packet 168 on (7 in all), no ACK from the client, then gave up with a RST in packet 2210."
    );
    // Retransmitted SYNs are evidence of waiting: still a connect timeout.
    let retried = verdict(&corpus, rel, 10);
    assert_eq!(ids(&retried), [("tcp-connect-timeout", "error")]);
    assert!(retried.2[0]
        .2
        .starts_with("3 SYNs to 176.128.217.128:45194 over 9.0 s"));
}

/// tls-subjectaltname #0: the SYN was answered by a bare ACK for an unrelated sequence number;
/// the client's RST answered that ACK and its SYN, retransmitted 3 s later with the same ISN,
/// got a SYN-ACK and the handshake completed (Suricata logs one flow, established). One
/// connection, delayed: stale state as a warning, shown in the ladder; not a failed attempt.
#[test]
fn syn_answered_by_a_bare_ack_is_stale_state() {
    use tlscap::record::Outcome;
    let Some(corpus) = common::corpus("syn_answered_by_a_bare_ack") else {
        return;
    };
    let rel = "suricata-verify/tests/tls/tls-subjectaltname/input.pcap";
    let v = verdict(&corpus, rel, 0);
    assert_eq!((v.0, v.1), (Outcome::Ok, None));
    assert_eq!(
        ids(&v),
        [
            ("tcp-stale-state", "warning"),
            ("cert-expired", "warning"),
            ("self-signed", "warning")
        ]
    );
    assert_eq!(
        v.2[0].2,
        "138.201.208.22:443 answered the first SYN with a bare ACK for sequence number 3058576675 instead of a SYN-ACK (it, or a NAT in between, still held an older connection on this 4-tuple: a challenge ACK, RFC 5961); the client's retransmitted SYN got a SYN-ACK, so connecting took 3.1 s instead of one round trip."
    );
    assert_eq!(
        v.2[0].3,
        "SYN in packet 10; ACK (no SYN) from the server in packet 12 acknowledging 3058576675, the client's RST in packet 14; SYN-ACK in packet 21 (2 SYNs in all)."
    );
    let a = analyze_file(&corpus.join(rel), &Options::default());
    let steps: Vec<(u64, String)> = tlscap::report::ladder::steps(&a.handshakes[0], &a.tcp[0])
        .into_iter()
        .filter(|s| s.packet <= 21)
        .map(|s| (s.packet, s.text))
        .collect();
    assert_eq!(
        steps,
        [
            (10, "SYN".to_string()),
            (
                12,
                "ACK 3058576675 without SYN (not for this SYN: stale state)".to_string()
            ),
            (
                14,
                "RST (answers the stale ACK; the connect goes on)".to_string()
            ),
            (20, "SYN (retransmitted, 2 SYNs in all)".to_string()),
            (21, "SYN-ACK".to_string()),
        ]
    );
}

/// tor_bl.pcap #0 exchanged data both ways, idled 18 s and was closed in order by both sides:
/// no request was outstanding, so no read timeout. opera-vpn #23 likewise (its RST follows
/// both FINs).
#[test]
fn an_idle_connection_closed_in_order_is_no_read_timeout() {
    use tlscap::record::Outcome;
    let Some(corpus) = common::corpus("an_idle_connection_closed_in_order") else {
        return;
    };
    for (rel, index) in [
        (
            "suricata-verify/tests/tls/tls-bypass-missing-event/tor_bl.pcap",
            0,
        ),
        ("nDPI/tests/cfgs/default/pcap/opera-vpn.pcapng", 23),
    ] {
        let v = verdict(&corpus, rel, index);
        assert_eq!(v.0, Outcome::Ok, "{rel}");
        assert!(
            v.2.iter().all(|f| f.0 != "read-timeout"),
            "{rel}: {:?}",
            v.2
        );
    }
}

/// Gmail SMTP and RDP never ask for a client certificate and nothing says the client has one:
/// no `client-cert-not-requested`. An FTP server that asked and carried on without one:
/// optional client authentication, an info fact that says so.
#[test]
fn client_auth_findings_need_client_auth_to_be_expected() {
    let Some(corpus) = common::corpus("client_auth_findings_need_client_auth") else {
        return;
    };
    for rel in [
        "nDPI/tests/cfgs/default/pcap/smtp-starttls.pcap",
        "nDPI/tests/cfgs/default/pcap/rdp_over_tls.pcap",
    ] {
        for (i, v) in verdicts(&corpus, rel) {
            assert!(
                v.2.iter().all(|f| f.0 != "client-cert-not-requested"),
                "{rel} #{i}: {:?}",
                v.2
            );
        }
    }
    let ftp = verdict(
        &corpus,
        "nDPI/tests/cfgs/default/pcap/ftp-start-tls.pcap",
        0,
    );
    assert!(
        ftp.2.iter().all(|f| f.0 != "client-cert-missing"),
        "{:?}",
        ftp.2
    );
    let optional = ftp
        .2
        .iter()
        .find(|f| f.0 == "client-auth-optional-unused")
        .unwrap();
    assert_eq!(optional.1, "info");
    assert_eq!(
        optional.2,
        "10.220.50.76:21 asked for a client certificate without requiring one: the client sent none and the server carried on (optional client authentication). Its answer is encrypted: with the key log, tlscap would show whether the application refused the client after all."
    );
}

/// A CDN certificate with 149 names: the mismatch lists five and the count.
#[test]
fn hostname_mismatch_lists_a_few_names_and_the_count() {
    let Some(corpus) = common::corpus("hostname_mismatch_lists_a_few_names") else {
        return;
    };
    let v = verdict(&corpus, "ja4/pcap/socks-https-example.pcap", 0);
    let m = v.2.iter().find(|f| f.0 == "hostname-mismatch").unwrap();
    assert_eq!(
        m.2,
        "The certificate of 93.184.216.119:443 via SOCKS4 proxy 10.180.156.249:1080 is not valid for www.example.com (SNI): it covers gp1.wac.edgecastcdn.net, www.edgecast.com, wac.edgecastcdn.net, ne.wac.edgecastcdn.net, swf.mixpo.com and 144 more (149 names)."
    );
}

/// A stalled handshake needs a wait: webex #29's server acknowledged the ClientHello and
/// stayed silent 30 s until the client gave up (an error); the suricata-verify client closed
/// at once (info, outcome unknown); ja4's tls-sni.pcapng holds ClientHellos only (one-sided).
#[test]
fn a_stalled_handshake_needs_a_wait() {
    use tlscap::record::{FailedAt, Outcome};
    let Some(corpus) = common::corpus("a_stalled_handshake_needs_a_wait") else {
        return;
    };
    let webex = verdict(&corpus, "nDPI/tests/cfgs/default/pcap/webex.pcap", 29);
    assert_eq!(
        (webex.0, webex.1),
        (Outcome::Failed, Some(FailedAt::Handshake))
    );
    assert_eq!(
        webex.2[0].2,
        "62.109.224.120:443 never answered the ClientHello: no ServerHello for 30 s until the client gave up (FIN from the client)."
    );
    let at_once = verdict(
        &corpus,
        "suricata-verify/tests/app-layer-protocol-prefilter/input.pcap",
        0,
    );
    assert_eq!((at_once.0, at_once.1), (Outcome::Unknown, None));
    assert_eq!(ids(&at_once), [("handshake-stalled", "info")]);
    assert_eq!(
        at_once.2[0].2,
        "The client closed the connection 0.0 s after its ClientHello to 198.51.100.5:443, without waiting for the server's answer."
    );
    let sni = verdicts(&corpus, "ja4/pcap/tls-sni.pcapng");
    assert_eq!(sni.len(), 79);
    for (i, v) in &sni {
        assert_eq!(v.0, Outcome::Unknown, "#{i}");
        // #59 on are QUIC connections (numbered after the TCP ones), one client Initial each,
        // in a capture without any QUIC server: one-sided too, never a silent server.
        let one_sided = v.2.iter().find(|f| f.0 == "one-sided-capture");
        assert!(one_sided.is_some(), "#{i}: {:?}", v.2);
        if *i >= 59 {
            assert!(
                one_sided
                    .unwrap()
                    .3
                    .starts_with("1 Initial from the client"),
                "#{i}: {:?}",
                v.2
            );
        }
        assert!(v.2.iter().all(|f| f.1 != "error"), "#{i}: {:?}", v.2);
    }
}

/// android.pcap #10: two SYNs, and the capture ended 1.4 s after the second, before the
/// next retry was due: unanswered, but the client had not given up yet.
#[test]
fn a_capture_ending_during_syn_retries_says_so() {
    let Some(corpus) = common::corpus("a_capture_ending_during_syn_retries") else {
        return;
    };
    let v = verdict(&corpus, "nDPI/tests/cfgs/default/pcap/android.pcap", 10);
    assert_eq!(ids(&v), [("tcp-connect-timeout", "error")]);
    assert_eq!(
        v.2[0].2,
        "2 SYNs to 216.239.38.120:5228 over 1.0 s got no answer: the client was still retrying when the capture ended 1.4 s after the last one (connect timing out)."
    );
}

/// ja4's tls12.pcap holds one client packet (a ClientHello, no SYN) and nothing from the
/// server: one-sided, and the evidence counts in the singular.
#[test]
fn a_client_data_only_capture_is_one_sided() {
    let Some(corpus) = common::corpus("a_client_data_only_capture_is_one_sided") else {
        return;
    };
    let v = verdict(&corpus, "ja4/pcap/tls12.pcap", 0);
    assert_eq!(ids(&v).first(), Some(&("one-sided-capture", "info")));
    assert_eq!(
        v.2[0].3,
        "1 packet from the client, none from 34.117.237.239:443; the client sent data in packet 1, which TCP does only once the server completed the three-way handshake."
    );
}

/// tls-duplicate-hello #1: TLS 1.3, the server sent its whole flight and the client reset
/// without ever sending its Finished: the connection failed in the handshake, not after it.
#[test]
fn a_reset_before_the_client_finished_tls13_is_a_handshake_failure() {
    use tlscap::record::{FailedAt, Outcome};
    let Some(corpus) = common::corpus("a_reset_before_the_client_finished") else {
        return;
    };
    let v = verdict(
        &corpus,
        "suricata-verify/tests/tls-duplicate-hello/input.pcap",
        1,
    );
    assert_eq!((v.0, v.1), (Outcome::Failed, Some(FailedAt::Handshake)));
    assert_eq!(ids(&v), [("tcp-reset", "error")]);
}

/// teams.pcap #14: the leaf expires 28 days after the capture (real Microsoft Teams traffic):
/// a warning, with the date, on a connection that worked.
#[test]
fn a_certificate_expiring_within_30_days_is_a_warning() {
    use tlscap::record::Outcome;
    let Some(corpus) = common::corpus("a_certificate_expiring_within_30_days") else {
        return;
    };
    let a = analyze_file(
        &corpus.join("nDPI/tests/cfgs/default/pcap/teams.pcap"),
        &Options::default(),
    );
    let r = a
        .connections
        .iter()
        .find(|r| r.index == 14)
        .expect("connection 14");
    assert_eq!(r.outcome, Outcome::Ok);
    let f = r
        .findings
        .iter()
        .find(|f| f.kind.id() == "cert-expiring")
        .expect("cert-expiring");
    assert_eq!(f.severity, tlscap::findings::Severity::Warning);
    assert_eq!(
        f.message,
        "Certificate [0] *.notifications.teams.microsoft.com of 52.114.76.48:443 expires on \
         2020-05-14T22:43:09Z, within 30 days of the capture time 2020-04-16T12:54:42.468055Z: \
         clients will reject it from then on."
    );
}

/// A RST once a TLS alert had closed the session is how browsers and many clients end a
/// connection: `info`, with the alert's packet. pgsql-upgrade-tls #0: the server's encrypted
/// alert (14), the client's (15), the client's RST (16); waze.pcap #12: the server's response
/// and encrypted alert in one segment (245), the client's RST (246). zattoo.pcap #0 has no
/// alert before the client's RST (10), but the server had answered the request (8) in packet 9
/// and the RST acknowledges all of it: info too. A reset that cuts the server off stays a
/// warning: issue_no_icmp #0 (the RST in packet 30 acknowledges 6929 where the server had sent
/// through 12337) and tls-subjectaltname #40 (server data after the RST in 2671, up to 2676).
#[test]
fn a_reset_after_the_tls_session_closed_is_info() {
    use tlscap::record::Outcome;
    let Some(corpus) = common::corpus("a_reset_after_the_tls_session_closed_is_info") else {
        return;
    };
    let closed = |rel: &str, index: u64, alert: u64, rst: u64, at: &str| {
        let v = verdict(&corpus, rel, index);
        assert_eq!((v.0, v.1), (Outcome::Ok, None), "{rel} #{index}");
        let reset: Vec<_> = v.2.iter().filter(|f| f.0 == "tcp-reset").collect();
        assert_eq!(reset.len(), 1, "{rel} #{index}");
        assert_eq!(reset[0].1, "info");
        assert_eq!(
            reset[0].2,
            format!("The client reset the connection after the server's encrypted alert in packet {alert} (after application data both ways: a close_notify, though encryption hides the code) had closed the TLS session: an abortive close, common for browsers and HTTP clients, not a failure.")
        );
        assert_eq!(
            reset[0].3,
            format!("RST from the client in packet {rst} at +{at} s.")
        );
    };
    closed(
        "suricata-verify/tests/pgsql/pgsql-upgrade-tls/input.pcap",
        0,
        14,
        16,
        "0.013",
    );
    closed(
        "nDPI/tests/cfgs/default/pcap/waze.pcap",
        12,
        245,
        246,
        "1.287",
    );
    let reset = |rel: &str, index: u64| only_finding(&corpus, rel, index, "tcp-reset", Outcome::Ok);
    assert_eq!(
        reset("nDPI/tests/cfgs/default/pcap/zattoo.pcap", 0),
        (
            "info",
            "The client reset the connection after the exchange: the server had answered the \
             client's last request and the reset left nothing the server sent unacknowledged. An \
             abortive close (an idle timeout, or a client done with the connection), not a failure."
                .to_string(),
            "RST from the client in packet 10 at +0.004 s. The client's last request in packet 8, \
             the server's data after it up to packet 9."
                .to_string()
        )
    );
    let (severity, message, _) = reset("suricata-verify/tests/bug-2769/issue_no_icmp.pcap", 0);
    assert_eq!(
        (severity, message.as_str()),
        (
            "warning",
            "The client reset the connection while the server was still sending (5408 bytes the \
             server had sent unacknowledged): the transfer was cut off (socket closed)."
        )
    );
    let (severity, message, _) = reset(
        "suricata-verify/tests/tls/tls-subjectaltname/input.pcap",
        40,
    );
    assert_eq!(
        (severity, message.as_str()),
        (
            "warning",
            "The client reset the connection while the server was still sending (its data still \
             arriving after the reset, up to packet 2676): the transfer was cut off (socket closed)."
        )
    );
}

/// A client that closes (FIN) after the server's answer without sending anything more or an
/// alert: `client-abandoned`. pinterest.pcap #6, a browser's spare connection: its FIN (79)
/// before the ServerHello (88) and the end of the flight (92): info. tls_certificate_too_long
/// #2: the whole flight by packet 55, the client's FIN in packet 94, 0.138 s later: a warning.
/// android.pcap #17 is TLS 1.3 (its FIN, 294, before the ServerHello, 298): the server's side
/// of the handshake is done, the client's is not, so the outcome is unknown, not ok.
#[test]
fn a_client_leaving_without_answering_the_server_abandoned_the_handshake() {
    use tlscap::record::Outcome;
    let Some(corpus) = common::corpus("a_client_leaving_without_answering_the_server") else {
        return;
    };
    let abandoned = |rel: &str, index: u64| {
        only_finding(&corpus, rel, index, "client-abandoned", Outcome::Unknown)
    };
    assert_eq!(
        abandoned("nDPI/tests/cfgs/default/pcap/pinterest.pcap", 6),
        (
            "info",
            "The client closed the connection 0.032 s after its ClientHello, before \
             [2a04:4e42:1d::84]:443's handshake flight had all arrived: it did not wait for the \
             answer (a spare connection a browser opened and dropped, or a cancelled request); \
             nothing shows a failure."
                .to_string(),
            "ClientHello in packet 51; ServerHello in packet 88, the end of the server's flight \
             in packet 92 after the close; the client's FIN in packet 79, nothing sent after its \
             ClientHello."
                .to_string()
        )
    );
    let (severity, message, evidence) = abandoned(
        "nDPI/tests/cfgs/default/pcap/tls_certificate_too_long.pcap",
        2,
    );
    assert_eq!(severity, "warning");
    assert!(
        message.starts_with("The client closed the connection 0.138 s after 40.113.10.47:443's handshake flight had arrived, without answering it and without an alert"),
        "{message}"
    );
    assert_eq!(
        evidence,
        "ClientHello in packet 49; the server's flight through packet 55; the client's FIN in \
         packet 94, nothing sent after its ClientHello."
    );
    let (severity, _, evidence) = abandoned("nDPI/tests/cfgs/default/pcap/android.pcap", 17);
    assert_eq!(severity, "info");
    assert_eq!(
        evidence,
        "ClientHello in packet 288; ServerHello in packet 298; the client's FIN in packet 294, \
         nothing sent after its ClientHello."
    );
}

/// TCP connections whose client never sent a ClientHello were reported without a word:
/// `no-client-hello` (info) says what happened. webex.pcap #51: the client answers the
/// SYN-ACK (1025) with a RST (1027) a second later, as a client that gave up on the attempt
/// does. wechat.pcap #29: the server closes (FIN, 880) 21.5 s after its SYN-ACK (849), nothing
/// having come. tumblr.pcap #3 is picked up mid-stream 1.6 s into the file (not at its start),
/// without a ClientHello: `capture-cut`, which used to cover only the file's first second.
#[test]
fn a_tcp_connection_without_a_client_hello_says_so() {
    use tlscap::record::Outcome;
    let Some(corpus) = common::corpus("a_tcp_connection_without_a_client_hello_says_so") else {
        return;
    };
    let silent = |rel: &str, index: u64| {
        only_finding(&corpus, rel, index, "no-client-hello", Outcome::Unknown)
    };
    assert_eq!(
        silent("nDPI/tests/cfgs/default/pcap/webex.pcap", 51),
        (
            "info",
            "The client answered 62.109.229.158:443's SYN-ACK with a RST 1.005 s after its SYN, \
             instead of completing the TCP handshake: it had given up on this attempt (an \
             application that stopped waiting or connected elsewhere first, as happy eyeballs \
             does between IPv6 and IPv4, or a port scan). No TLS was attempted."
                .to_string(),
            "SYN in packet 1024, SYN-ACK in packet 1025 (1 in all), RST from the client in \
             packet 1027."
                .to_string()
        )
    );
    assert_eq!(
        silent("nDPI/tests/cfgs/default/pcap/wechat.pcap", 29),
        (
            "info",
            "203.205.151.162:443 closed the connection 21.453 s after the TCP handshake without \
             having received anything (no ClientHello): the server's timeout for a client that \
             never starts TLS."
                .to_string(),
            "SYN in packet 843, SYN-ACK in packet 849, FIN from the server in packet 880; no \
             payload either way."
                .to_string()
        )
    );
    let (severity, message, evidence) = only_finding(
        &corpus,
        "nDPI/tests/cfgs/default/pcap/tumblr.pcap",
        3,
        "capture-cut",
        Outcome::Unknown,
    );
    assert_eq!(severity, "info");
    assert!(
        message.starts_with("The capture picks this connection up mid-stream, with no ClientHello"),
        "{message}"
    );
    assert_eq!(
        evidence,
        "First packet 6 is not a SYN and comes 1.585278 s after the file's first packet."
    );
}

/// A single QUIC Initial with no answer was reported without a word: `quic-initial-unanswered`
/// (info) where the capture holds other QUIC servers (sites.pcapng #63: the Initial is the
/// file's last packet, #60: never repeated in the capture's remaining time), and
/// `one-sided-capture` where it holds no QUIC server at all (os_detected.pcapng #0: one
/// Initial to 8.8.8.8).
#[test]
fn a_lone_quic_initial_is_said_to_be_unanswered() {
    use tlscap::record::Outcome;
    let Some(corpus) = common::corpus("a_lone_quic_initial_is_said_to_be_unanswered") else {
        return;
    };
    let sites = "nDPI/tests/cfgs/default/pcap/sites.pcapng";
    assert_eq!(
        only_finding(
            &corpus,
            sites,
            63,
            "quic-initial-unanswered",
            Outcome::Unknown
        ),
        (
            "info",
            "The client's Initial (ClientHello) to [2a03:2880:f208:c4:face:b00c:0:43fe]:443 got \
             no QUIC answer before the capture ended 0.000 s later, too soon to tell whether the \
             server would have answered."
                .to_string(),
            "Initial in packet 656, not repeated; no QUIC packet from the server; the capture \
             goes on to packet 656."
                .to_string()
        )
    );
    let (severity, _, evidence) = only_finding(
        &corpus,
        sites,
        60,
        "quic-initial-unanswered",
        Outcome::Unknown,
    );
    assert_eq!(severity, "info");
    assert_eq!(
        evidence,
        "Initial in packet 315, not repeated; no QUIC packet from the server; the capture goes \
         on to packet 481."
    );
    let (severity, _, evidence) = only_finding(
        &corpus,
        "nDPI/tests/cfgs/default/pcap/os_detected.pcapng",
        0,
        "one-sided-capture",
        Outcome::Unknown,
    );
    assert_eq!(severity, "info");
    assert_eq!(
        evidence,
        "1 Initial from the client (first in packet 1); no datagram from any server in the capture."
    );
}

/// ICMP errors that quote a connection's packets (hand-checked with tshark: `icmp.type == 3`,
/// `icmpv6.type == 1` and `== 2`, with the quoted ports). quic_interop_V: 16 QUIC attempts
/// whose Initials the server's own host refused (port-unreachable; prohibited from
/// 51.158.105.98, ICMP 3/10) and that never got a QUIC packet back fail with that cause; in 12
/// others the client's host refused the server's late packets after the client had left: that
/// is information, not a failure. ssh2: a router (10.128.128.128) refuses SYNs to port 5000
/// with 3/13. latest: a router reports a next-hop MTU of 1492 for five of the client's segments
/// (packets 32-36) to a connection that worked.
#[test]
fn icmp_errors_are_matched_to_the_connections_they_quote() {
    use tlscap::record::{ConnectionStatus, FailedAt, Outcome};
    let Some(corpus) = common::corpus("icmp_errors_are_matched_to_the_connections_they_quote")
    else {
        return;
    };
    let read = |rel: &str| {
        let mut a = [analyze_file(&corpus.join(rel), &Options::default())];
        tlscap::app::apply_cross_connection(&mut a, &Default::default());
        let [a] = a;
        a.connections
    };
    let severities = |rs: &[tlscap::record::ConnectionRecord], id: &str| {
        let mut count = (0, 0);
        for f in rs.iter().flat_map(|r| &r.findings) {
            if f.kind.id() == id {
                match f.severity.as_str() {
                    "error" => count.0 += 1,
                    _ => count.1 += 1,
                }
            }
        }
        count
    };
    // instagram.pcap: the phone's own firewall refused three SYNs with ICMP port unreachable
    // to itself; the SYNs are not in the capture, so no record holds the errors.
    let path = corpus.join("nDPI/tests/cfgs/default/pcap/instagram.pcap");
    let batch = tlscap::app::run_batch(std::slice::from_ref(&path), &Default::default());
    let unseen: Vec<&String> = batch.files[0]
        .analysis
        .warnings
        .iter()
        .filter(|w| w.contains("no packet in the capture"))
        .collect();
    assert_eq!(unseen.len(), 3, "{unseen:?}");
    assert_eq!(
        unseen[0].as_str(),
        format!("{}: packets 341, 342: ICMP port-unreachable quotes the SYN of a TCP connection attempt from 192.168.0.103:49400 to 173.194.40.20:443 that has no packet in the capture: 192.168.0.103 refused its own SYN, as a firewall rule on the client's host rejecting outgoing connections does. The attempt failed before the capture point saw it; it is in no record.", path.display())
    );
    assert!(unseen[2].contains("packet 439: ICMP port-unreachable quotes the SYN of a TCP connection attempt from 192.168.0.103:43105 to 216.58.212.106:443"));
    let mut a = [analyze_file(&path, &Options::default())];
    tlscap::app::apply_cross_connection(&mut a, &Default::default());
    let in_memory: Vec<&String> = a[0]
        .warnings
        .iter()
        .filter(|w| w.contains("no packet in the capture"))
        .collect();
    assert_eq!(in_memory, unseen, "both paths warn alike");
    let quic = read("nDPI/tests/cfgs/default/pcap/quic_interop_V.pcapng");
    assert_eq!(severities(&quic, "icmp-unreachable"), (16, 12));
    let icmp_packets: usize = quic.iter().map(|r| r.icmp.len()).sum();
    assert_eq!(icmp_packets, 31, "every ICMP error in the file is matched");
    let r = quic.iter().find(|r| r.index == 14).unwrap();
    assert_eq!(
        (r.status, r.outcome, r.failed_at),
        (
            ConnectionStatus::Unreachable,
            Outcome::Failed,
            Some(FailedAt::Handshake)
        )
    );
    assert_eq!(r.server.to_string(), "51.158.105.98:443");
    assert_eq!(r.icmp.len(), 1);
    assert_eq!(
        (
            r.icmp[0].packet,
            r.icmp[0].from.to_string(),
            r.icmp[0].kind.name(),
            r.icmp[0].sent_by.as_str()
        ),
        (34, "51.158.105.98".into(), "prohibited", "client")
    );
    let f = &r.findings[0];
    assert_eq!(
        (f.kind.id(), f.severity.as_str()),
        ("icmp-unreachable", "error")
    );
    assert_eq!(
        f.message,
        "The client's QUIC Initial to 51.158.105.98:443 was answered by ICMP prohibited from \
         51.158.105.98 (the destination host itself) in packet 34: a firewall rule there rejects \
         it. The server never answered."
    );
    // The client's host refusing the server's late packets: no failure.
    let late = quic.iter().find(|r| r.index == 7).unwrap();
    assert_eq!(late.outcome, Outcome::Unknown);
    assert_eq!(
        (late.icmp[0].packet, late.icmp[0].sent_by.as_str()),
        (124, "server")
    );

    let ssh = read("ja4/pcap/ssh2.pcapng");
    assert_eq!(severities(&ssh, "icmp-unreachable"), (10, 0));
    let r = ssh.iter().find(|r| r.index == 10).unwrap();
    assert_eq!(r.server.to_string(), "192.168.1.13:80");
    assert_eq!(
        (
            r.outcome,
            r.failed_at,
            r.icmp[0].packet,
            r.icmp[0].from.to_string()
        ),
        (
            Outcome::Failed,
            Some(FailedAt::Tcp),
            220,
            "10.128.128.128".to_string()
        )
    );
    assert!(r.findings[0].message.contains("(a router on the way)"));

    let latest = read("ja4/pcap/latest.pcapng");
    let r = latest.iter().find(|r| r.index == 1).unwrap();
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(
        r.icmp
            .iter()
            .map(|i| (i.packet, i.kind.name(), i.mtu))
            .collect::<Vec<_>>(),
        (32..=36)
            .map(|p| (p, "packet-too-big", Some(1492)))
            .collect::<Vec<_>>()
    );
    assert_eq!(severities(&latest, "icmp-packet-too-big"), (0, 1));
}

/// nDPI's per-flow captures that begin with the server's SYN-ACK (the client's SYN trimmed away)
/// and end in the middle of the handshake, the ClientHello and the server's flight exchanged:
/// data went both ways, so the connection was open when the capture stopped (tshark: no FIN or
/// RST, the file's last packet is the connection's).
#[test]
fn a_trimmed_capture_that_stops_mid_handshake_is_cut() {
    use tlscap::record::Outcome;
    let Some(corpus) = common::corpus("a_trimmed_capture_that_stops_mid_handshake_is_cut") else {
        return;
    };
    for (rel, last) in [
        (
            "nDPI/tests/cfgs/default/pcap/tls_multiple_synack_different_seq.pcapng",
            10,
        ),
        ("nDPI/tests/cfgs/default/pcap/tls_torrent.pcapng", 7),
        ("nDPI/tests/cfgs/default/pcap/cachefly.pcapng", 6),
    ] {
        let (severity, message, evidence) =
            only_finding(&corpus, rel, 0, "capture-cut", Outcome::Unknown);
        assert_eq!(severity, "info");
        assert!(message.starts_with("The capture ends inside this connection"));
        assert_eq!(
            evidence,
            format!("Last packet {last} comes 0.000000 s before the file's last packet.")
        );
    }
}

/// tumblr.pcap #10: the browser closed (FIN, packet 161) 23 ms after its ClientHello; the
/// server's HelloRetryRequest came after the close (packet 165). The client did not wait:
/// `client-abandoned` info, outcome unknown, no error.
#[test]
fn a_client_that_left_before_the_hello_retry_request_did_not_wait() {
    use tlscap::record::Outcome;
    let Some(corpus) =
        common::corpus("a_client_that_left_before_the_hello_retry_request_did_not_wait")
    else {
        return;
    };
    let (severity, message, evidence) = only_finding(
        &corpus,
        "nDPI/tests/cfgs/default/pcap/tumblr.pcap",
        10,
        "client-abandoned",
        Outcome::Unknown,
    );
    assert_eq!(severity, "info");
    assert_eq!(
        message,
        "The client closed the connection 0.023 s after its ClientHello, before [2606:2800:135:155a:23ba:b2a:25ff:122d]:443's answer arrived (a HelloRetryRequest asking for a key share for secp256r1, packet 165): it did not wait for it (a spare connection a browser opened and dropped, or a cancelled request); nothing shows a failure."
    );
    assert_eq!(
        evidence,
        "ClientHello in packet 147; the server's HelloRetryRequest in packet 165 after the close; the client's FIN in packet 161, nothing sent after its ClientHello."
    );
}

/// Connections the capture stops following before its end: excerpts that keep each flow's
/// first packets (nDPI's test captures), a capture of the hellos only (FoxIO's
/// tls-handshake.pcapng), DTLS associations picked up already encrypted. Each was a record
/// without a word; each is now `capture-cut` (info), outcome unknown, checked with tshark:
/// no ACK, retransmission or close of the connection follows in the file.
#[test]
fn a_capture_that_stops_following_a_connection_says_so() {
    use tlscap::record::Outcome;
    let Some(corpus) = common::corpus("a_capture_that_stops_following_a_connection_says_so") else {
        return;
    };
    let pcap = "nDPI/tests/cfgs/default/pcap";
    // codm.pcap: the server's ServerHello segment (packet 7) is the last; the file goes on
    // with other traffic for 31 minutes.
    let (severity, message, evidence) = only_finding(
        &corpus,
        &format!("{pcap}/codm.pcap"),
        0,
        "capture-cut",
        Outcome::Unknown,
    );
    assert_eq!(severity, "info");
    assert!(
        message.starts_with("The capture stops following this connection at packet 7: the server's last 1432 bytes (through packet 7) were never acknowledged by the client nor sent again, though the capture goes on 31 min."),
        "{message}"
    );
    assert_eq!(
        evidence,
        "Last packet 7; no ACK, retransmission, FIN or RST of this connection in the 1870.157 s the capture goes on after it."
    );
    // sites.pcapng #12: a SYN and its SYN-ACK, nothing more.
    let (_, message, _) = only_finding(
        &corpus,
        &format!("{pcap}/sites.pcapng"),
        12,
        "capture-cut",
        Outcome::Unknown,
    );
    assert!(
        message.starts_with("The capture stops following this connection at packet 338: the server's SYN-ACK (packet 338) was never acknowledged by the client nor sent again"),
        "{message}"
    );
    // sites.pcapng #20: seven SYNs over 65 s, the SYN-ACK to the seventh, nothing more.
    let (_, message, _) = only_finding(
        &corpus,
        &format!("{pcap}/sites.pcapng"),
        20,
        "capture-cut",
        Outcome::Unknown,
    );
    assert!(
        message.starts_with("The capture stops following this connection at packet 410: the server's SYN-ACK (packet 410), which answered the client's 7th SYN 65.081 s after its first, was never acknowledged by the client nor sent again"),
        "{message}"
    );
    // tls_change_cipher.pcap opens with the server's SYN-ACK; the client's SYN (and with it,
    // TCP Fast Open, its ClientHello) is not in the capture, and its first bytes are a
    // ChangeCipherSpec and encrypted records.
    let (_, message, evidence) = only_finding(
        &corpus,
        &format!("{pcap}/tls_change_cipher.pcap"),
        0,
        "capture-cut",
        Outcome::Unknown,
    );
    assert!(
        message.starts_with("The capture starts inside this connection"),
        "{message}"
    );
    assert_eq!(
        evidence,
        "First packet 1 is the server's SYN-ACK (the client's SYN and ClientHello are not in the capture) and comes 0.000000 s after the file's first packet."
    );
    // tls-handshake.pcapng keeps the hellos only: each QUIC connection is its client's
    // Initial and the server's.
    let hellos = verdicts(&corpus, "ja4/pcap/tls-handshake.pcapng");
    let quic_cut = hellos
        .iter()
        .filter(|(i, _)| *i >= 59)
        .filter(|(_, v)| v.0 == Outcome::Unknown && ids(v) == [("capture-cut", "info")])
        .count();
    assert_eq!(quic_cut, 20);
    let (_, message, evidence) = only_finding(
        &corpus,
        "ja4/pcap/tls-handshake.pcapng",
        59,
        "capture-cut",
        Outcome::Unknown,
    );
    assert!(
        message.starts_with("The capture stops following this QUIC connection at packet 6, before the server finished its side of the handshake, though the capture goes on 21.3 s."),
        "{message}"
    );
    assert_eq!(
        evidence,
        "The server's last packet 6, the connection's last 6; nothing of this connection in the 21.343 s the capture goes on after it."
    );
    // DTLS picked up mid-association: the first datagram is already encrypted.
    let (_, message, evidence) = only_finding(
        &corpus,
        &format!("{pcap}/dtls_mid_sessions.pcapng"),
        1,
        "capture-cut",
        Outcome::Unknown,
    );
    assert!(message.starts_with("The capture starts inside this connection"));
    assert_eq!(
        evidence,
        "First packet 2 carries an encrypted record with no handshake before it and comes 0.012266 s after the file's first packet."
    );
}
