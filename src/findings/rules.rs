//! The rules.

use super::ciphers::weak_cipher_use;
use super::{alerts, finding, Finding, FindingKind, Severity};
use crate::flow::{Direction, Side, TcpSummary};
use crate::record::ConnectionRecord;
use crate::text::Digits;
use crate::tls::{AlertMsg, HandshakeSummary};
use std::net::{IpAddr, SocketAddr};

/// A server named on the command line: `ip`, `ip:port`, or an SNI glob (`*.example.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerPattern {
    /// Any port on this address.
    Ip(IpAddr),
    /// This address and port.
    SocketAddr(std::net::SocketAddr),
    /// SNI glob (`*` matches any run of characters), case-insensitive.
    Sni(String),
}

impl std::str::FromStr for ServerPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
            return Ok(ServerPattern::SocketAddr(sa));
        }
        if let Ok(ip) = s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(ServerPattern::Ip(ip));
        }
        if s.is_empty() || s.contains(char::is_whitespace) {
            return Err(format!("not an ip, ip:port or SNI pattern: {s:?}"));
        }
        Ok(ServerPattern::Sni(s.to_ascii_lowercase()))
    }
}

impl ServerPattern {
    /// Whether a connection's server matches.
    pub fn matches(&self, server: SocketAddr, sni: Option<&str>) -> bool {
        match self {
            ServerPattern::SocketAddr(sa) => server == *sa,
            ServerPattern::Ip(ip) => server.ip() == *ip,
            ServerPattern::Sni(glob) => {
                sni.is_some_and(|n| glob_match(glob, &n.to_ascii_lowercase()))
            }
        }
    }
}

/// `*` matches any run of characters (including dots and slashes), `?` one character;
/// everything else literally.
///
/// Kept rather than globset: the patterns (`--sni`, `--expect-client-auth`, `--glob`) are
/// documented with these two wildcards only, while globset would give `[`, `{`, `\` and `**`
/// path meanings that would have to be escaped away again, matches `?` per byte, and needs its
/// patterns compiled once up front where these are plain strings today.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == t[ti] || p[pi] == '?') {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Settings of the rules.
#[derive(Debug, Clone)]
pub struct FindingsConfig {
    /// Seconds of server silence after a request that count as a read timeout.
    pub read_timeout_secs: f64,
    /// Servers the client is known to authenticate to with a certificate.
    pub expect_client_auth: Vec<ServerPattern>,
    /// Host name to check the certificate against when the ClientHello has no SNI.
    pub expect_host: Option<String>,
}

impl Default for FindingsConfig {
    fn default() -> Self {
        FindingsConfig {
            read_timeout_secs: 5.0,
            expect_client_auth: Vec::new(),
            expect_host: None,
        }
    }
}

fn secs(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0} s")
    } else {
        format!("{x:.1} s")
    }
}

/// A CONNECT or SOCKS request the proxy refused: the TLS connection never started.
fn proxy_rules(r: &ConnectionRecord, hs: &HandshakeSummary, out: &mut Vec<Finding>) {
    let Some((meta, refusal)) = &hs.proxy_refusal else {
        return;
    };
    let target = r.target.as_deref().unwrap_or("its target");
    let scheme = refusal
        .auth_scheme
        .as_deref()
        .map(|s| format!(" (Proxy-Authenticate: {s})"))
        .unwrap_or_default();
    out.push(
        finding(
            FindingKind::ProxyRefused,
            Severity::Error,
            format!(
                "The proxy {} refused the tunnel to {target}: {}{scheme}.",
                r.server, refusal.status
            ),
            format!(
                "{} request to {target}; the proxy's answer in packet {}: {}{scheme}.",
                r.proxy_kind.as_deref().unwrap_or("proxy"),
                meta.packet,
                refusal.status
            ),
        )
        .with_fix(match refusal.auth_scheme.as_deref() {
            Some(scheme) => format!(
                "Client: configure proxy credentials for the {scheme} scheme (and check they are sent with the CONNECT); proxy: check the account is allowed."
            ),
            None => FindingKind::ProxyRefused.fix().to_string(),
        }),
    );
}

/// Rules that need only this connection's facts.
pub fn connection_findings(
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
    cfg: &FindingsConfig,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(quic) = r.quic.as_deref() {
        // No SYN, FIN or RST: QUIC's own rules stand for the TCP and reply rules.
        super::quic::quic_rules(r, quic, hs, tcp, &mut out);
        super::quic::version_negotiation(r, quic, tcp, &mut out);
    } else if let Some(dtls) = r.dtls.as_deref() {
        // Datagrams: no SYN, FIN or RST either.
        super::dtls::dtls_rules(r, dtls, tcp, &mut out);
    } else {
        tcp_rules(r, hs, tcp, cfg, &mut out);
        reply_rules(r, hs, tcp, cfg.read_timeout_secs, &mut out);
        super::mtu::mtu_rule(tcp, &mut out);
        // A client that gives up on a black-holed flight is that finding's consequence.
        if !out.iter().any(|f| f.kind == FindingKind::MtuBlackHole) {
            client_abandoned(r, hs, tcp, &mut out);
        }
        if out.is_empty() {
            out.extend(no_client_hello(r, hs, tcp));
        }
    }
    // A reset that follows a non-TLS answer is its consequence, not a second cause.
    if out.iter().any(|f| f.kind == FindingKind::NotTls) {
        out.retain(|f| f.kind != FindingKind::TcpReset);
    }
    proxy_rules(r, hs, &mut out);
    handshake_rules(r, hs, tcp, cfg, &mut out);
    alert_rules(r, hs, &mut out);
    super::negotiation::alpn_rules(r, hs, tcp, &mut out);
    protocol_rules(r, hs, &mut out);
    decode_rules(r, hs, &mut out);
    heartbleed_rule(r, hs, &mut out);
    super::http::http_rules(r, hs, &mut out);
    super::hmac::hmac_rules(r, &mut out);
    super::clientcert::rejected(r, hs, &mut out);
    out
}

fn tcp_rules(
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
    cfg: &FindingsConfig,
    out: &mut Vec<Finding>,
) {
    let server = &r.server;
    if let Some(unseen) = tcp.unseen_direction() {
        out.push(one_sided(r, tcp, unseen));
        return;
    }
    if tcp.syn > 0 && tcp.syn_ack == 0 && !tcp.midstream {
        let first = tcp.first_syn.map(|p| p.packet).unwrap_or(tcp.first.packet);
        if let Some((ack, number)) = tcp.stale_ack {
            out.push(stale_state(r, tcp, ack, number));
            return;
        }
        match tcp.rst {
            Some((Side::Server, rst)) => out.push(finding(
                FindingKind::TcpRefused,
                Severity::Error,
                format!("The connection to {server} was refused: the SYN was answered by a RST (nothing listens on port {}, or a firewall rejects it).", tcp.server.port()),
                format!("SYN in packet {first}, RST from the server in packet {}.", rst.packet),
            )),
            _ if tcp.syn < 2 => out.push(lone_syn(r, tcp)),
            _ => {
                let span = match (tcp.first_syn, tcp.last_syn) {
                    (Some(a), Some(b)) => b.ts.seconds_since(a.ts),
                    _ => 0.0,
                };
                let last = tcp.last_syn.map(|p| p.packet).unwrap_or(first);
                out.push(finding(
                    FindingKind::TcpConnectTimeout,
                    Severity::Error,
                    format!(
                        "{} SYN{} to {server} over {} got no answer: {}.",
                        tcp.syn,
                        if tcp.syn == 1 { "" } else { "s" },
                        secs(span),
                        // Retransmission intervals double, so the next retry is due about
                        // `span` (+ the first RTO) after the last: a capture ending before
                        // then caught the client still trying.
                        match tcp.seen_until.ts.seconds_since(tcp.last_syn.map_or(tcp.last.ts, |p| p.ts)) {
                            tail if tcp.closed_by.is_none()
                                && tcp.end_reason == crate::flow::EndReason::CaptureEnd
                                && tail < span + 1.0 =>
                            {
                                format!("the client was still retrying when the capture ended {} after the last one (connect timing out)", secs(tail.max(0.0)))
                            }
                            _ => "the connection attempt timed out (connect timed out)".to_string(),
                        }
                    ),
                    format!("SYN packets {first}..{last} ({} in all), no SYN-ACK or RST from the server.", tcp.syn),
                ));
            }
        }
        return;
    }
    if let Some((ack, number)) = tcp.stale_ack {
        out.push(stale_state_retried(r, tcp, ack, number));
    }
    if let Some(f) = synack_unanswered(r, tcp) {
        out.push(f);
        return;
    }
    if let Some((side, rst)) = tcp.rst {
        // A RST after both FINs is a normal abortive tail, not a failure.
        let both_fins = tcp.fin[0].is_some_and(|f| f.packet < rst.packet)
            && tcp.fin[1].is_some_and(|f| f.packet < rst.packet);
        // ...and so is a RST after the sender's own FIN, or after the peer's FIN (the sender
        // closes abortively once the peer is done).
        let own_fin_first = tcp.fin[0].is_some_and(|f| f.packet < rst.packet)
            || tcp.fin[1].is_some_and(|f| f.packet < rst.packet);
        if tcp.established && !both_fins && !own_fin_first {
            let handshake_done = hs.server_hello.is_some()
                && (hs.change_cipher_spec[Direction::ToServer.idx()].is_some()
                    || hs.encrypted_records[Direction::ToServer.idx()] > 0);
            let stage = if hs.client_hello.is_none() {
                ResetStage::BeforeTls
            } else if hs
                .client_hello
                .as_ref()
                .is_some_and(|ch| ch.meta.packet > rst.packet)
            {
                ResetStage::BeforeClientHello
            } else if !handshake_done {
                ResetStage::DuringHandshake
            } else {
                ResetStage::AfterHandshake
            };
            let who = side.as_str();
            // After the handshake a reset is a failure when it cuts off an unanswered request.
            let unanswered = side == Side::Server
                && last_real_data(tcp, Direction::ToServer)
                    .is_some_and(|req| req.packet < rst.packet && !answered(r, hs, tcp, req));
            // A reset after the handshake with nothing left unanswered: how a session ends.
            let session_over = stage == ResetStage::AfterHandshake && !unanswered;
            let closing_alert = session_over
                .then(|| session_closing_alert(hs, rst.packet))
                .flatten();
            // A reset that cut the peer off mid-transfer: bytes it had sent unacknowledged, or
            // its data still arriving after the reset.
            let peer = side.peer().as_str();
            let from_peer = side.peer().sends();
            let cut_off = match tcp.rst_unacked {
                Some(n) if n > 0 => Some(format!("{n} bytes the {peer} had sent unacknowledged")),
                _ => tcp.last_data[from_peer.idx()]
                    .filter(|d| d.packet > rst.packet)
                    .map(|d| {
                        format!(
                            "its data still arriving after the reset, up to packet {}",
                            d.packet
                        )
                    }),
            };
            // ...and so is one that cut nothing off once the server had answered the client.
            let after_exchange = (session_over && cut_off.is_none() && tcp.rst_unacked.is_some())
                .then(|| completed_exchange(r, hs, tcp))
                .flatten();
            let severity = if closing_alert.is_some() || after_exchange.is_some() {
                Severity::Info
            } else if session_over {
                Severity::Warning
            } else {
                Severity::Error
            };
            let stage = stage.text(unanswered);
            let after_alert = hs
                .alerts
                .iter()
                .find(|a| a.from == side && a.meta.packet <= rst.packet && !a.encrypted);
            let evidence = format!(
                "RST from the {who} in packet {} at +{:.3} s.",
                rst.packet,
                rst.ts.seconds_since(tcp.first.ts)
            );
            if let Some(a) = closing_alert {
                let closer = if a.from == side {
                    "its".to_string()
                } else {
                    format!("the {}'s", a.from.as_str())
                };
                let alert = if a.encrypted {
                    format!("{closer} encrypted alert in packet {} (after application data both ways: a close_notify, though encryption hides the code)", a.meta.packet)
                } else {
                    format!("{closer} close_notify in packet {}", a.meta.packet)
                };
                out.push(finding(
                    FindingKind::TcpReset,
                    severity,
                    format!("The {who} reset the connection after {alert} had closed the TLS session: an abortive close, common for browsers and HTTP clients, not a failure."),
                    evidence,
                ));
            } else if let Some((request, answer)) = after_exchange {
                out.push(finding(
                    FindingKind::TcpReset,
                    severity,
                    format!("The {who} reset the connection after the exchange: the server had answered the client's last request and the reset left nothing the {peer} sent unacknowledged. An abortive close (an idle timeout, or a client done with the connection), not a failure."),
                    format!(
                        "{evidence} The client's last request in packet {}, the server's data after it up to packet {}.",
                        request.packet, answer.packet
                    ),
                ));
            } else {
                let why = match after_alert {
                    Some(a) => format!(
                        " right after its {} alert",
                        crate::tls::names::alert_name(a.description)
                    ),
                    None => String::new(),
                };
                out.push(
                    finding(
                        FindingKind::TcpReset,
                        severity,
                        match cut_off.filter(|_| session_over) {
                            Some(cut) => format!("The {who} reset the connection while the {peer} was still sending ({cut}): the transfer was cut off (socket closed)."),
                            None => ["The ", who, " reset the connection ", stage, &why, " (socket closed)."].concat(),
                        },
                        evidence,
                    )
                    .with_fix(if side == Side::Server {
                        "Server: check its logs around this time (crash, connection limit, a TLS or proxy layer rejecting the client); network: look for a load balancer or IPS sending resets."
                    } else {
                        "Client: check why the application aborted the connection (timeout, certificate rejection, cancelled request)."
                    }),
                );
            }
        }
    }
    if let Some(f) = read_timeout(r, hs, tcp, cfg) {
        out.push(f);
    }
}

/// The client's last request after the handshake and the server's last data answering it,
/// when the server answered.
fn completed_exchange(
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
) -> Option<(crate::flow::PacketRef, crate::flow::PacketRef)> {
    let sh = hs.server_hello.as_ref()?;
    let request = last_real_data(tcp, Direction::ToServer)?;
    // TLS 1.3 carries the client's Finished in an application-data record: a request is a
    // second one.
    let least_records = if crate::tls::version_rank(sh.version) == 0x0304 {
        2
    } else {
        1
    };
    let after_handshake = request.packet > sh.meta.packet
        && hs.application_data_records[Direction::ToServer.idx()] >= least_records;
    let answer = last_real_data(tcp, Direction::ToClient)?;
    (after_handshake && answered(r, hs, tcp, request)).then_some((request, answer))
}

/// The close_notify alert's description code (RFC 8446, 6.1).
const CLOSE_NOTIFY: u8 = 0;

/// Where in the connection a reset came (the `tcp-reset` message names it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ResetStage {
    BeforeTls,
    BeforeClientHello,
    DuringHandshake,
    AfterHandshake,
}

impl ResetStage {
    /// `unanswered`: the reset cut off a request the server had not answered.
    fn text(self, unanswered: bool) -> &'static str {
        match self {
            ResetStage::BeforeTls => "before any TLS was sent",
            ResetStage::BeforeClientHello => "before the ClientHello",
            ResetStage::DuringHandshake => "during the TLS handshake",
            ResetStage::AfterHandshake if unanswered => {
                "after the TLS handshake, without answering the client's request"
            }
            ResetStage::AfterHandshake => "after the TLS handshake",
        }
    }
}

/// The alert that closed the TLS session before a reset in packet `rst`, if one did: a
/// close_notify either side sent in the clear or decrypted, or an encrypted alert (TLS ≤ 1.2
/// shows the record type) once application data had gone both ways. A fatal alert that late
/// would be rare and would not undo the exchange; its code is hidden either way, so the
/// finding's message says so.
fn session_closing_alert(hs: &HandshakeSummary, rst: u64) -> Option<&AlertMsg> {
    let data_both_ways = hs.application_data_records.iter().all(|&n| n > 0);
    hs.alerts.iter().find(|a| {
        a.meta.packet <= rst
            && if a.encrypted {
                data_both_ways
            } else {
                a.description == CLOSE_NOTIFY
            }
    })
}

/// `one-sided-capture`: the capture holds one direction only, so the other side's silence
/// proves nothing.
fn one_sided(r: &ConnectionRecord, tcp: &TcpSummary, unseen: Direction) -> Finding {
    let (seen_side, unseen_side, unseen_addr) = match unseen {
        Direction::ToClient => ("client", "server", r.server),
        Direction::ToServer => ("server", "client", r.client),
    };
    let (acked, at) = tcp.acked_unseen[unseen.idx()];
    let proof = match at {
        Some(p) if acked > 0 => format!(
            "the {seen_side}'s ACK in packet {} acknowledges {acked} bytes from the {unseen_side}",
            p.packet
        ),
        _ => format!(
            "the {seen_side} sent data in packet {}, which TCP does only once the {unseen_side} completed the three-way handshake",
            tcp.first_data[unseen.reverse().idx()].map_or(0, |p| p.packet)
        ),
    };
    finding(
        FindingKind::OneSidedCapture,
        Severity::Info,
        format!("The capture shows only the {seen_side}'s packets: {proof}, none of which the capture holds (a SPAN port or one leg of a load balancer); nothing is concluded from the {unseen_side}'s apparent silence."),
        format!(
            "{} from the {seen_side}, none from {unseen_addr}; {proof}.",
            match tcp.dir_packets[unseen.reverse().idx()] {
                1 => "1 packet".to_string(),
                n => format!("{n} packets"),
            }
        ),
    )
}

/// Seconds a client waits before it first retransmits its SYN: 1 s (RFC 6298, Linux, macOS);
/// Windows waits up to 3 s, so a shorter wait without a retry is no proof of a timeout.
const FIRST_SYN_RTO_SECS: f64 = 3.0;

/// `tcp-syn-unanswered`: one SYN and nothing else. Without a retransmission there is no sign
/// the client waited for an answer, so this connection's fate is unknown.
fn lone_syn(r: &ConnectionRecord, tcp: &TcpSummary) -> Finding {
    let syn = tcp.first_syn.unwrap_or(tcp.first);
    let watched = tcp.seen_until.ts.seconds_since(syn.ts).max(0.0);
    let (message, fix) = if watched < FIRST_SYN_RTO_SECS {
        (
            format!(
                "The SYN to {} got no answer before the capture ended {} later, too soon to tell whether the connection would have timed out.",
                r.server,
                secs(watched)
            ),
            "Capture longer if connections to this server fail: a client retries its SYN after about 1 s, and a connect timeout shows as several SYNs.",
        )
    } else {
        (
            format!(
                "The SYN to {} got no answer in the capture, yet the client never retransmitted it in the {} the capture went on: the answer took another path (or the attempt was abandoned), so its fate is unknown.",
                r.server,
                secs(watched)
            ),
            FindingKind::TcpSynUnanswered.fix(),
        )
    };
    finding(
        FindingKind::TcpSynUnanswered,
        Severity::Info,
        message,
        format!(
            "SYN in packet {}, not retransmitted; no packet from the server; the capture goes on to packet {}.",
            syn.packet, tcp.seen_until.packet
        ),
    )
    .with_fix(fix)
}

/// `tcp-stale-state`: the server answered the SYN with a bare ACK for another sequence number.
fn stale_state(
    r: &ConnectionRecord,
    tcp: &TcpSummary,
    ack: crate::flow::PacketRef,
    number: u32,
) -> Finding {
    let syn = tcp.first_syn.unwrap_or(tcp.first);
    let then = match tcp.stale_rst {
        Some(p) => format!("; the client reset it in packet {}", p.packet),
        None => String::new(),
    };
    finding(
        FindingKind::TcpStaleState,
        Severity::Error,
        format!("{} answered the SYN with a bare ACK for sequence number {number} instead of a SYN-ACK: it (or a NAT in between) still holds an older connection on this 4-tuple (a challenge ACK, RFC 5961), or a middlebox tests the client this way (SYN authentication); this attempt failed and the client must retry.", r.server),
        format!("SYN in packet {}; ACK (no SYN) from the server in packet {} acknowledging {number}{then}.", syn.packet, ack.packet),
    )
}

/// `tcp-stale-state` on a connection whose retransmitted SYN (same ISN) then got its SYN-ACK:
/// the stale state cost time, not the connection, so a warning.
fn stale_state_retried(
    r: &ConnectionRecord,
    tcp: &TcpSummary,
    ack: crate::flow::PacketRef,
    number: u32,
) -> Finding {
    let syn = tcp.first_syn.unwrap_or(tcp.first);
    let answered = tcp.first_syn_ack.unwrap_or(tcp.last);
    let then = match tcp.stale_rst {
        Some(p) => format!(", the client's RST in packet {}", p.packet),
        None => String::new(),
    };
    finding(
        FindingKind::TcpStaleState,
        Severity::Warning,
        format!("{} answered the first SYN with a bare ACK for sequence number {number} instead of a SYN-ACK (it, or a NAT in between, still held an older connection on this 4-tuple: a challenge ACK, RFC 5961); the client's retransmitted SYN got a SYN-ACK, so connecting took {} instead of one round trip.", r.server, secs(answered.ts.seconds_since(syn.ts).max(0.0))),
        format!("SYN in packet {}; ACK (no SYN) from the server in packet {} acknowledging {number}{then}; SYN-ACK in packet {} ({} SYNs in all).", syn.packet, ack.packet, answered.packet, tcp.syn),
    )
}

/// `tcp-synack-unanswered`: the server retransmitted its SYN-ACK and the client never
/// acknowledged it.
fn synack_unanswered(r: &ConnectionRecord, tcp: &TcpSummary) -> Option<Finding> {
    let first = tcp.first_syn_ack?;
    let client_after =
        tcp.last_packet[Direction::ToServer.idx()].is_some_and(|p| p.packet > first.packet);
    if tcp.established || tcp.syn_ack < 2 || client_after {
        return None;
    }
    let last = tcp.last_packet[Direction::ToClient.idx()].unwrap_or(first);
    let end = match tcp.rst {
        Some((Side::Server, p)) => format!(", then gave up with a RST in packet {}", p.packet),
        _ => String::new(),
    };
    Some(finding(
        FindingKind::TcpSynAckUnanswered,
        Severity::Error,
        format!(
            "{} sent {} SYN-ACKs over {} and the client never acknowledged them: the SYN-ACK does not reach the client (asymmetric routing or a client-side firewall).",
            r.server,
            tcp.syn_ack,
            secs(last.ts.seconds_since(first.ts))
        ),
        format!(
            "SYN in packet {}; SYN-ACKs from packet {} on ({} in all), no ACK from the client{end}.",
            tcp.first_syn.map_or(0, |p| p.packet),
            first.packet,
            tcp.syn_ack
        ),
    ))
}

/// Whether the last data of direction `d` is its closing flight: a close_notify-sized packet
/// sent right before that side's FIN/RST, or (server) right after the client's own closing flight.
fn closing_flight(tcp: &TcpSummary, d: Direction) -> bool {
    let i = d.idx();
    let Some(last) = tcp.last_data[i] else {
        return false;
    };
    if tcp.last_data_len[i] > 64 {
        return false;
    }
    let side = d.sender();
    let close = match (tcp.fin[i], tcp.rst) {
        (Some(f), _) => Some(f),
        (None, Some((s, p))) if s == side => Some(p),
        _ => None,
    };
    let before_own_close =
        close.is_some_and(|f| f.ts.seconds_since(last.ts) < 1.0 && f.packet >= last.packet);
    let after_peer_close = d == Direction::ToClient
        && closing_flight(tcp, Direction::ToServer)
        && tcp.last_data[0]
            .is_some_and(|c| c.packet < last.packet && last.ts.seconds_since(c.ts) < 1.0);
    before_own_close || after_peer_close
}

/// The last real data of a direction (its closing flight excluded), with its payload length.
fn last_real_data_len(tcp: &TcpSummary, d: Direction) -> Option<(crate::flow::PacketRef, u32)> {
    let i = d.idx();
    if closing_flight(tcp, d) {
        tcp.prev_data[i].map(|p| (p, tcp.prev_data_len[i]))
    } else {
        tcp.last_data[i].map(|p| (p, tcp.last_data_len[i]))
    }
}

/// The last real data of a direction (its closing flight excluded).
fn last_real_data(tcp: &TcpSummary, d: Direction) -> Option<crate::flow::PacketRef> {
    last_real_data_len(tcp, d).map(|(p, _)| p)
}

/// Smallest client packet taken for a request: smaller ones are control traffic (TCP
/// keep-alive probes, HTTP/2 PING / SETTINGS / WINDOW_UPDATE frames in one TLS record).
const MIN_REQUEST_BYTES: u32 = 64;

/// Whether the server sent data after the client's request `req`. TLS 1.3 servers send session
/// tickets right after the client's Finished, which can land just after the request: server data
/// within two handshake round trips (+10 ms) of the request is not counted as an answer.
fn answered(
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
    req: crate::flow::PacketRef,
) -> bool {
    // Decrypted (or cleartext) HTTP settles it: a response after the request is an answer.
    if r.http
        .iter()
        .any(|h| h.status.is_some() && h.response_packet.is_some_and(|p| p >= req.packet))
    {
        return true;
    }
    let window = match (&hs.client_hello, &hs.server_hello) {
        (Some(ch), Some(sh)) if sh.version == 0x0304 => {
            2.0 * sh.meta.ts.seconds_since(ch.meta.ts).max(0.0) + 0.010
        }
        _ => 0.0,
    };
    last_real_data(tcp, Direction::ToClient).is_some_and(|s| s.ts.seconds_since(req.ts) > window)
}

/// `read-timeout`: the client sent a request after the handshake and the server stayed silent.
fn read_timeout(
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
    cfg: &FindingsConfig,
) -> Option<Finding> {
    if !tcp.established || hs.non_tls[Direction::ToClient.idx()].is_some() {
        return None;
    }
    let (req, req_len) = last_real_data_len(tcp, Direction::ToServer)?;
    if req_len <= MIN_REQUEST_BYTES {
        return None;
    }
    // TLS: the request must follow the handshake.
    if hs.client_hello.is_some() {
        let sh = hs.server_hello.as_ref()?;
        if req.packet <= sh.meta.packet
            || hs.application_data_records[Direction::ToServer.idx()] == 0
        {
            return None;
        }
    }
    if answered(r, hs, tcp, req) {
        return None;
    }
    let server_last = last_real_data(tcp, Direction::ToClient);
    // Data both ways, then quiet, then an orderly close from both sides: an idle kept-alive
    // connection, not a request left waiting, unless decrypted HTTP shows one unanswered.
    let http_outstanding = r
        .http
        .iter()
        .any(|h| h.request_packet.is_some() && h.status.is_none());
    let exchanged = server_last.is_some()
        && (hs.client_hello.is_none()
            || hs.application_data_records[Direction::ToClient.idx()] > 0);
    let orderly_close = match (tcp.fin, tcp.rst) {
        ([Some(_), Some(_)], None) => true,
        // A RST after both FINs is the usual abortive tail of a close.
        ([Some(a), Some(b)], Some((_, rst))) => rst.packet > a.packet.max(b.packet),
        _ => false,
    };
    if exchanged && orderly_close && !http_outstanding {
        return None;
    }
    let client_gave_up = closing_flight(tcp, Direction::ToServer);
    let end = match (client_gave_up, tcp.closed_by, tcp.fin[0], tcp.rst) {
        (true, _, _, _) => tcp.last_data[0].unwrap_or(tcp.last),
        (_, Some(Side::Client), Some(f), _) => f,
        (_, Some(Side::Client), None, Some((_, p))) => p,
        _ => tcp.last,
    };
    let since = match server_last {
        Some(s) if s.ts > req.ts => s.ts,
        _ => req.ts,
    };
    let silence = end.ts.seconds_since(since);
    if silence < cfg.read_timeout_secs {
        return None;
    }
    let how = if client_gave_up || tcp.closed_by == Some(Side::Client) {
        "before the client gave up and closed the connection"
    } else if tcp.closed_by == Some(Side::Server) {
        "before it closed the connection"
    } else {
        "until the capture ended"
    };
    let t0 = tcp.first.ts;
    Some(finding(
        FindingKind::ReadTimeout,
        Severity::Error,
        format!("{} sent nothing for {} after the client's request {how} (read timed out).", r.server_named(), secs(silence)),
        format!(
            "Client's request in packet {} at +{:.3} s; no answer from the server; the client closed in packet {} at +{:.3} s.",
            req.packet,
            req.ts.seconds_since(t0),
            end.packet,
            end.ts.seconds_since(t0)
        ),
    ))
}

fn handshake_rules(
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
    cfg: &FindingsConfig,
    out: &mut Vec<Finding>,
) {
    let Some(ch) = hs.client_hello.as_ref() else {
        return;
    };
    let server_text = crate::text::AddrText::of(r.server);
    let server = server_text.as_str();
    let dtls = r.dtls.is_some();
    if ch.sni.is_none() {
        let ip_hint = if dtls {
            " — usual for DTLS, whose peers (WebRTC, VPN, IoT) address each other by IP; it matters only to a server that picks its certificate or client authentication by name"
        } else if cfg
            .expect_host
            .as_deref()
            .is_some_and(|h| h.parse::<IpAddr>().is_ok())
        {
            " — the target is an IP address literal, and clients never send SNI for IP literals (RFC 6066)"
        } else {
            " — typical when the client connects to an IP address literal (RFC 6066 forbids IP literals in SNI) or its TLS library has SNI disabled"
        };
        out.push(finding(
            FindingKind::MissingSni,
            if dtls {
                Severity::Info
            } else {
                Severity::Warning
            },
            [
                "The ClientHello to ",
                server,
                " carries no server_name (SNI)",
                ip_hint,
                ".",
            ]
            .concat(),
            [
                "ClientHello in packet ",
                Digits::of(ch.meta.packet).as_str(),
                " has no server_name extension.",
            ]
            .concat(),
        ));
    }
    if let Some(sni) = ch.sni.as_deref() {
        if sni.parse::<IpAddr>().is_ok() {
            out.push(finding(
                FindingKind::MissingSni,
                Severity::Warning,
                format!("The ClientHello to {server} sends the IP literal {sni} as SNI, which RFC 6066 forbids; servers treat it as no SNI."),
                format!("ClientHello in packet {} server_name={sni}.", ch.meta.packet),
            )
.with_fix("Client: connect with the server's host name."));
        }
    }
    if hs.cert_requested() == Some(true) && hs.client_cert_sent() == Some(false) {
        let req = hs.certificate_request.map(|m| m.packet).unwrap_or(0);
        let cert = match &hs.client_certificate {
            Some(c) => format!(
                "the client answered with an empty Certificate in packet {}",
                c.meta.packet
            ),
            None => "the client sent no Certificate message".to_string(),
        };
        let alert = hs
            .alerts
            .iter()
            .find(|a| a.from == Side::Server && !a.encrypted)
            .map(|a| {
                format!(
                    "; the server then sent alert {} in packet {}",
                    crate::tls::names::alert_name(a.description),
                    a.meta.packet
                )
            })
            .unwrap_or_default();
        // Servers often ask without requiring (optional client auth): an error only when the
        // server then failed the connection.
        // An encrypted alert counts only before any application data from the server (a
        // TLS 1.3 rejection); later it is usually the close_notify ending the session.
        let server_data = hs.application_data_records[Direction::ToClient.idx()] > 0;
        let refused = hs.alerts.iter().any(|a| {
            a.from == Side::Server
                && if a.encrypted {
                    !server_data
                } else {
                    a.level == 2
                }
        }) || tcp.rst.is_some_and(|(side, _)| side == Side::Server)
            || r.http
                .iter()
                .any(|h| matches!(h.status, Some(401) | Some(403)));
        // The server carried on: it sent application data (its answer) and no 401/403 is
        // visible. Optional client authentication, working as configured, unless the client is
        // expected to authenticate.
        let answered = server_data
            || r.http
                .iter()
                .any(|h| h.status.is_some_and(|s| s != 401 && s != 403));
        let expected = cfg
            .expect_client_auth
            .iter()
            .any(|p| p.matches(r.server, r.sni.as_deref()));
        let cas = hs
            .certificate_request_contents
            .as_deref()
            .and_then(|q| super::clientcert::accepted_cas(q).map(|c| (q.authorities_listed, c)));
        let (accepts, cas_evidence) = match &cas {
            Some((n, names)) => (
                format!(" It accepts certificates issued by: {names}."),
                format!(" names {n} {}: {names}", if *n == 1 { "CA" } else { "CAs" }),
            ),
            None => (String::new(), String::new()),
        };
        if !refused && answered && !expected {
            let hidden = if r.http.is_empty() {
                " Its answer is encrypted: with the key log, tlscap would show whether the application refused the client after all."
            } else {
                ""
            };
            let answer = r
                .http
                .iter()
                .find_map(|h| Some((h.status?, h.response_packet?)));
            let data = match (
                answer,
                hs.application_data_records[Direction::ToClient.idx()],
            ) {
                (Some((status, p)), _) => {
                    format!("; the server answered HTTP {status} in packet {p}")
                }
                (None, 1) => "; the server sent 1 application-data record".to_string(),
                (None, n) => format!("; the server sent {n} application-data records"),
            };
            out.push(finding(
                FindingKind::ClientAuthOptionalUnused,
                Severity::Info,
                format!("{server} asked for a client certificate without requiring one: the client sent none and the server carried on (optional client authentication).{hidden}"),
                format!("CertificateRequest in packet {req}{cas_evidence}; {cert}{data}{alert}."),
            ));
            return;
        }
        let (severity, went_on) = if refused {
            (Severity::Error, "")
        } else if answered {
            (
                Severity::Warning,
                " The server carried on without one (optional client authentication), but this client is expected to authenticate (--expect-client-auth).",
            )
        } else {
            (
                Severity::Warning,
                " The capture does not show whether the server then refused the connection.",
            )
        };
        let missing = finding(
            FindingKind::ClientCertMissing,
            severity,
            format!("{server} asked for a client certificate but the client sent none.{went_on}{accepts}"),
            format!("CertificateRequest in packet {req}{cas_evidence}; {cert}{alert}."),
        );
        out.push(match &cas {
            Some((_, names)) => missing.with_fix(format!("Client: configure a client certificate issued by one of the CAs the server accepts ({names}), with its private key, for this endpoint.")),
            None => missing,
        });
    }
}

fn alert_rules(r: &ConnectionRecord, hs: &HandshakeSummary, out: &mut Vec<Finding>) {
    for a in &hs.alerts {
        if a.encrypted {
            continue;
        }
        if a.level != 2 && a.description == CLOSE_NOTIFY {
            continue;
        }
        let name = crate::tls::names::alert_name(a.description);
        let who = a.from.as_str();
        let level = crate::tls::names::alert_level_name(a.level);
        let (cause, fix) = alerts::explain(a.from, &name);
        out.push(
            finding(
                FindingKind::TlsAlert,
                if a.level == 2 {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                format!("The {who} sent a {level} {name} alert: {cause}."),
                format!(
                    "Alert ({level}, {name}) from the {who} in packet {} on {} → {}.",
                    a.meta.packet, r.client, r.server
                ),
            )
            .with_fix(fix),
        );
    }
}

fn protocol_rules(r: &ConnectionRecord, hs: &HandshakeSummary, out: &mut Vec<Finding>) {
    let Some(sh) = hs.server_hello.as_ref() else {
        return;
    };
    if let Some(v) = r.version {
        // SSL 2.0, SSL 3.0, TLS 1.0, TLS 1.1, DTLS 1.0 and OpenSSL's pre-standard DTLS 1.0.
        if matches!(v.0, 0x0002 | 0x0300 | 0x0301 | 0x0302 | 0xfeff | 0x0100) {
            out.push(finding(
                FindingKind::ObsoleteVersion,
                Severity::Warning,
                format!("{} negotiated {v}, which is deprecated (RFC 8996) and refused by modern clients and servers.", r.server_named()),
                format!("ServerHello in packet {} selects {v}.", sh.meta.packet),
            ));
        }
    }
    if let Some(kx) = hs.key_exchange.as_ref() {
        let (weak, floor) = if kx.finite_field {
            (kx.bits > 0 && kx.bits < 2048, "2048-bit primes")
        } else {
            (kx.bits > 0 && kx.bits < 256, "256-bit curves")
        };
        if weak {
            let what = if kx.finite_field {
                format!("finite-field Diffie-Hellman with a {}-bit prime", kx.bits)
            } else {
                format!("the {}-bit elliptic curve {}", kx.bits, kx.name)
            };
            out.push(finding(
                FindingKind::WeakKeyExchange,
                Severity::Warning,
                format!(
                    "{} chose {what} for the key exchange, below {floor}: within reach of precomputation and discrete-log attacks (Logjam), and refused by clients that require stronger groups.",
                    r.server_named()
                ),
                format!(
                    "ServerKeyExchange in packet {}: {} ({} bits).",
                    kx.meta.packet, kx.name, kx.bits
                ),
            ));
        }
    }
    if let (Some(c), Some(what)) = (r.cipher, weak_cipher_use(sh.cipher)) {
        out.push(finding(
            FindingKind::WeakCipher,
            Severity::Warning,
            format!("{} negotiated {c}, which uses {what}.", r.server_named()),
            format!("ServerHello in packet {} selects {c}.", sh.meta.packet),
        ));
    }
}

/// `heartbleed`: a heartbeat claiming more payload than its record holds. A request is an
/// attempt (warning); a response carrying more than the request sent is the server leaking
/// memory (error: the server is vulnerable).
fn heartbleed_rule(r: &ConnectionRecord, hs: &HandshakeSummary, out: &mut Vec<Finding>) {
    let Some(first) = hs.overlong_heartbeats.first() else {
        return;
    };
    let leaked = hs.overlong_heartbeats.iter().find(|h| h.response);
    let evidence = hs
        .overlong_heartbeats
        .iter()
        .take(5)
        .map(|h| {
            format!(
                "heartbeat {} from the {} in packet {}: payload_length {} in a {}-byte record",
                if h.response { "response" } else { "request" },
                h.from.as_str(),
                h.meta.packet,
                h.claimed,
                h.record
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let (severity, message) = match leaked {
        Some(h) => (
            Severity::Error,
            format!(
                "The {} of {} answered a heartbeat with {} bytes of payload claimed in a {}-byte record (packet {}): a Heartbleed (CVE-2014-0160) exchange; a vulnerable server returns its memory this way.",
                h.from.as_str(),
                r.server_named(),
                h.claimed,
                h.record,
                h.meta.packet
            ),
        ),
        None => (
            Severity::Warning,
            format!(
                "The {} of {} sent a heartbeat claiming {} bytes of payload in a {}-byte record (packet {}): a Heartbleed (CVE-2014-0160) probe; no over-long answer was seen.",
                first.from.as_str(),
                r.server_named(),
                first.claimed,
                first.record,
                first.meta.packet
            ),
        ),
    };
    out.push(finding(
        FindingKind::Heartbleed,
        severity,
        message,
        format!("{evidence}."),
    ));
}

/// `decode-incomplete`: tlscap stopped decoding a side's stream (a cap, a malformed record or
/// message), so what came after was not seen and findings that need it may be missing. A
/// warning while the stream was plaintext; info once it was encrypted (only record counting
/// was lost).
fn decode_rules(r: &ConnectionRecord, hs: &HandshakeSummary, out: &mut Vec<Finding>) {
    let Some(first) = hs.decode_stops.first() else {
        return;
    };
    let more = match hs.decode_stops.len() {
        1 => String::new(),
        n => format!(" ({} more such places in the evidence)", n - 1),
    };
    let evidence = hs
        .decode_stops
        .iter()
        .take(5)
        .map(|d| {
            format!(
                "{} stream, record at byte {}, packet {}: {}",
                d.from.as_str(),
                d.offset,
                d.meta.packet,
                d.what
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let severity = if hs.decode_stops.iter().all(|d| d.encrypted) {
        Severity::Info
    } else {
        Severity::Warning
    };
    out.push(finding(
        FindingKind::DecodeIncomplete,
        severity,
        format!(
            "tlscap could not decode all of the {}'s TLS stream of {}: in the record at byte {} of that stream (packet {}) it met {}{more}.",
            first.from.as_str(),
            r.server_named(),
            first.offset,
            first.meta.packet,
            first.what
        ),
        format!("{evidence}."),
    ));
}

/// Shortest wait after the ClientHello that counts as a client giving up on the server (the
/// scale of a SYN's first retransmission timeout).
const CLIENT_GAVE_UP_SECS: f64 = 1.0;

/// Stalled handshakes and non-TLS answers: the server's side of the first flight.
fn reply_rules(
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
    read_timeout_secs: f64,
    out: &mut Vec<Finding>,
) {
    let Some(ch) = hs.client_hello.as_ref() else {
        return;
    };
    // The server's answer may be exactly what the capture missed.
    if tcp.unseen_direction().is_some() {
        return;
    }
    if let Some((meta, bytes)) = &hs.non_tls[Direction::ToClient.idx()] {
        let text = crate::http::preview(bytes);
        out.push(finding(
            FindingKind::NotTls,
            Severity::Error,
            format!(
                "{} answered the ClientHello with something that is not TLS: {text}.",
                r.server_named()
            ),
            format!(
                "ClientHello in packet {}; the server's first bytes in packet {}: {text}.",
                ch.meta.packet, meta.packet
            ),
        ));
        return;
    }
    let server_reset = tcp.rst.is_some_and(|(side, _)| side == Side::Server);
    let server_replied = server_reset
        || hs.server_hello.is_some()
        || hs.hello_retry_request.is_some()
        || hs.alerts.iter().any(|a| a.from == Side::Server)
        || tcp.first_data[Direction::ToClient.idx()].is_some_and(|p| p.packet > ch.meta.packet);
    if !server_replied {
        let ended = match (tcp.closed_by, tcp.close) {
            (Some(Side::Client), Some(k)) => format!(
                "the client gave up ({} from the client)",
                if k == crate::flow::CloseKind::Rst {
                    "RST"
                } else {
                    "FIN"
                }
            ),
            (Some(Side::Server), _) => {
                "the server closed the connection without answering".to_string()
            }
            _ => "the capture ended".to_string(),
        };
        let closed = tcp.closed_by.is_some();
        let end = if closed { tcp.last } else { tcp.seen_until };
        let waited = end.ts.seconds_since(ch.meta.ts).max(0.0);
        // Without a close, only a wait as long as a read timeout while the server is seen
        // acknowledging the ClientHello shows a stall; a capture that simply ended (or holds
        // no server packet since) leaves the answer unknown.
        let server_alive =
            tcp.last_packet[Direction::ToClient.idx()].is_some_and(|p| p.packet > ch.meta.packet);
        if !closed && (waited < read_timeout_secs || !server_alive) {
            let why = if server_alive {
                "too soon to tell whether it would have answered"
            } else {
                "and the capture holds no packet from the server after the ClientHello, so whether it answered is unknown"
            };
            out.push(finding(
                FindingKind::HandshakeStalled,
                Severity::Info,
                format!(
                    "No ServerHello from {} was seen in the {} the capture went on after the ClientHello, {why}.",
                    r.server_named(),
                    secs(waited)
                ),
                format!(
                    "ClientHello in packet {}; the capture goes on to packet {}.",
                    ch.meta.packet, tcp.seen_until.packet
                ),
            ).with_fix("Nothing to fix on this evidence; capture longer, or where both directions pass, if handshakes fail."));
            return;
        }
        // A client that closes at once did not wait for an answer: nothing shows the server
        // failing to give one.
        if tcp.closed_by == Some(Side::Client) && waited < CLIENT_GAVE_UP_SECS {
            out.push(finding(
                FindingKind::HandshakeStalled,
                Severity::Info,
                format!(
                    "The client closed the connection {} after its ClientHello to {}, without waiting for the server's answer.",
                    secs(waited),
                    r.server_named()
                ),
                format!(
                    "ClientHello in packet {}; the client closed by packet {}.",
                    ch.meta.packet, end.packet
                ),
            )
            .with_fix("Client: check why it closes right after sending its ClientHello (a test client, a cancelled request, a scanner)."));
            return;
        }
        out.push(finding(
            FindingKind::HandshakeStalled,
            Severity::Error,
            format!(
                "{} never answered the ClientHello: no ServerHello for {} until {ended}.",
                r.server_named(),
                secs(waited)
            ),
            format!(
                "ClientHello in packet {}; no TLS data from the server through packet {}.",
                ch.meta.packet, end.packet
            ),
        ));
    }
}

/// `client-abandoned`: the server answered the ClientHello and the client closed (FIN) without
/// sending anything more and without an alert. Before the server's flight had all arrived it
/// did not wait (info); after it, it dropped the handshake for a reason the capture does not
/// show (warning).
fn client_abandoned(
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
    out: &mut Vec<Finding>,
) {
    // A HelloRetryRequest is the server's whole answer until the client's second ClientHello.
    let hrr = hs
        .hello_retry_request
        .as_ref()
        .filter(|_| hs.server_hello.is_none());
    let (Some(ch), Some(sh)) = (hs.client_hello.as_ref(), hs.server_hello.as_ref().or(hrr)) else {
        return;
    };
    // Holes in the capture, or client data after the ClientHello, leave "nothing more" unproven.
    if tcp.closed_by != Some(Side::Client)
        || !hs.alerts.is_empty()
        || tcp.unseen_direction().is_some()
        || tcp.gaps > 0
        || tcp.last_data[Direction::ToServer.idx()].is_some_and(|p| p.packet > ch.meta.packet)
    {
        return;
    }
    // A client that resets is `tcp-reset`'s.
    let Some(close) = tcp.fin[Direction::ToServer.idx()]
        .filter(|_| tcp.close == Some(crate::flow::CloseKind::Fin))
    else {
        return;
    };
    let tls13 = crate::tls::version_rank(sh.version) == 0x0304;
    // The end of the server's flight: ServerHelloDone, or in an abbreviated TLS ≤ 1.2
    // handshake its ChangeCipherSpec (the Finished after it is encrypted), or a decrypted
    // Finished. A TLS 1.3 flight is encrypted: without keys its end is not shown.
    let flight_end = if hrr.is_some() {
        Some(sh.meta)
    } else {
        hs.server_hello_done
            .or(hs.finished[Direction::ToClient.idx()])
            .or(hs.change_cipher_spec[Direction::ToClient.idx()].filter(|_| !tls13))
    };
    let server = r.server_named();
    let after_hello = three_decimals(close.ts.seconds_since(ch.meta.ts));
    let did_not_wait = || {
        format!("The client closed the connection {after_hello} after its ClientHello, before {server}'s handshake flight had all arrived: it did not wait for the answer (a spare connection a browser opened and dropped, or a cancelled request); nothing shows a failure.")
    };
    let asked_group = sh
        .key_share_group
        .map(|g| format!(" for {}", crate::tls::names::group_name(g)))
        .unwrap_or_default();
    let (severity, message, seen) = match flight_end {
        Some(end) if hrr.is_some() && end.packet < close.packet => (
            Severity::Warning,
            format!(
                "{server} answered with a HelloRetryRequest asking for a key share{asked_group}, and the client closed the connection {} later instead of sending its second ClientHello, without an alert: the handshake was abandoned, for a reason the capture does not show (a group the client cannot use, a timeout, a cancelled request).",
                three_decimals(close.ts.seconds_since(end.ts)),
            ),
            format!("the server's HelloRetryRequest in packet {}", end.packet),
        ),
        Some(end) if hrr.is_some() => (
            Severity::Info,
            format!("The client closed the connection {after_hello} after its ClientHello, before {server}'s answer arrived (a HelloRetryRequest asking for a key share{asked_group}, packet {}): it did not wait for it (a spare connection a browser opened and dropped, or a cancelled request); nothing shows a failure.", end.packet),
            format!("the server's HelloRetryRequest in packet {} after the close", end.packet),
        ),
        Some(end) if end.packet < close.packet => (
            Severity::Warning,
            format!(
                "The client closed the connection {} after {server}'s handshake flight had arrived, without answering it and without an alert: the handshake was abandoned, for a reason the capture does not show (a certificate the client rejected without saying so, a timeout, a cancelled request).",
                three_decimals(close.ts.seconds_since(end.ts)),
            ),
            format!("the server's flight through packet {}", end.packet),
        ),
        Some(end) => (
            Severity::Info,
            did_not_wait(),
            format!("ServerHello in packet {}, the end of the server's flight in packet {} after the close", sh.meta.packet, end.packet),
        ),
        None if tls13 => (
            Severity::Info,
            format!("The client closed the connection {after_hello} after its ClientHello without answering {server}'s handshake and without an alert; the server's flight is encrypted, so whether it had all arrived is not shown (a key log shows it)."),
            format!("ServerHello in packet {}", sh.meta.packet),
        ),
        None => (
            Severity::Info,
            did_not_wait(),
            format!("ServerHello in packet {}, no end of the server's flight before the close", sh.meta.packet),
        ),
    };
    let evidence = format!(
        "ClientHello in packet {}; {seen}; the client's FIN in packet {}, nothing sent after its ClientHello.",
        ch.meta.packet, close.packet
    );
    let f = finding(FindingKind::ClientAbandoned, severity, message, evidence);
    out.push(if severity == Severity::Info {
        f.with_fix("Nothing to fix on this evidence: the client left before the server's answer was complete or shown.")
    } else {
        f
    });
}

/// A TCP connection whose client sent nothing, so no TLS at all: it reset the server's SYN-ACK,
/// or opened the connection and closed it, or left it idle until the server or the capture
/// ended it. Said so instead of leaving the connection without a word; nothing failed that the
/// capture can show.
fn no_client_hello(
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
) -> Option<Finding> {
    if hs.client_hello.is_some()
        || tcp.client_bytes > 0
        || tcp.server_bytes > 0
        || tcp.midstream
        || tcp.unseen_direction().is_some()
    {
        return None;
    }
    let (syn, syn_ack) = (tcp.first_syn?, tcp.first_syn_ack?);
    let server = r.server_named();
    let handshake = format!(
        "SYN in packet {}, SYN-ACK in packet {}",
        syn.packet, syn_ack.packet
    );
    let (message, evidence) = if !tcp.established {
        let (Side::Client, rst) = tcp.rst? else {
            return None;
        };
        (
            format!(
                "The client answered {server}'s SYN-ACK with a RST {} after its SYN, instead of completing the TCP handshake: it had given up on this attempt (an application that stopped waiting or connected elsewhere first, as happy eyeballs does between IPv6 and IPv4, or a port scan). No TLS was attempted.",
                three_decimals(rst.ts.seconds_since(syn.ts))
            ),
            format!(
                "{handshake} ({} in all), RST from the client in packet {}.",
                tcp.syn_ack, rst.packet
            ),
        )
    } else {
        let close = tcp.closed_by.zip(tcp.close).and_then(|(side, kind)| {
            let packet = match kind {
                crate::flow::CloseKind::Rst => tcp.rst.map(|(_, rst)| rst),
                crate::flow::CloseKind::Fin => tcp.fin[side.sends().idx()],
            };
            packet.map(|p| (side, kind, p))
        });
        let idle =
            |until: crate::flow::PacketRef| three_decimals(until.ts.seconds_since(syn_ack.ts));
        match close {
            Some((side, kind, p)) => {
                let how = match kind {
                    crate::flow::CloseKind::Fin => "FIN",
                    crate::flow::CloseKind::Rst => "RST",
                };
                let message = match side {
                    Side::Client => format!(
                        "The client opened the connection to {server} and closed it {} later without sending anything (no ClientHello): a connection opened ahead of need and not used (browsers do), a health check or a port probe. No TLS was attempted.",
                        idle(p)
                    ),
                    Side::Server => format!(
                        "{server} closed the connection {} after the TCP handshake without having received anything (no ClientHello): the server's timeout for a client that never starts TLS.",
                        idle(p)
                    ),
                };
                (
                    message,
                    format!(
                        "{handshake}, {how} from the {} in packet {}; no payload either way.",
                        side.as_str(),
                        p.packet
                    ),
                )
            }
            None => (
                format!(
                    "The client sent nothing (no ClientHello) in the {} from the TCP handshake to the connection's last packet, and the connection was still open there. No TLS was attempted in what the capture shows.",
                    idle(tcp.last)
                ),
                format!(
                    "{handshake}, last packet {}; no payload either way, no FIN or RST.",
                    tcp.last.packet
                ),
            ),
        }
    };
    Some(finding(
        FindingKind::NoClientHello,
        Severity::Info,
        message,
        evidence,
    ))
}

/// Seconds with milliseconds, never negative: "0.020 s".
fn three_decimals(x: f64) -> String {
    format!("{:.3} s", x.max(0.0))
}

/// What one connection contributes to the cross-connection rules, taken from its handshake
/// when its record is built, so the handshake itself need not be kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CrossFacts {
    /// The server sent a CertificateRequest (in this packet; 0 when unknown).
    pub cert_request_packet: Option<u64>,
    /// A ClientHello was seen and the visible handshake had no CertificateRequest.
    pub candidate: Option<Candidate>,
    /// The version and suite the server chose (its ServerHello).
    pub chosen: Option<super::negotiation::Chosen>,
    /// The server refused the ClientHello (or the client the server's version): what the
    /// client offered.
    pub refused: Option<super::negotiation::Refused>,
}

/// A handshake without a CertificateRequest: the packets the cross-connection findings cite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Candidate {
    /// Packet of the ClientHello.
    pub client_hello_packet: u64,
    /// Packet of the ServerHelloDone, if seen.
    pub server_hello_done_packet: Option<u64>,
}

impl CrossFacts {
    /// Extracts the facts from a handshake.
    pub fn from_handshake(hs: &HandshakeSummary) -> CrossFacts {
        let cert_requested = hs.cert_requested();
        let (chosen, refused) = super::negotiation::facts(hs);
        CrossFacts {
            chosen,
            refused,
            cert_request_packet: (cert_requested == Some(true))
                .then(|| hs.certificate_request.map(|m| m.packet).unwrap_or(0)),
            // A resumed session never carries a CertificateRequest (RFC 8446 4.3.2; TLS 1.2's
            // abbreviated handshake has none): the client authenticated, or not, on the
            // connection that made the session.
            candidate: match (&hs.client_hello, cert_requested) {
                (Some(ch), Some(false)) if !hs.resumed() => Some(Candidate {
                    client_hello_packet: ch.meta.packet,
                    server_hello_done_packet: hs.server_hello_done.map(|m| m.packet),
                }),
                _ => None,
            },
        }
    }
}

/// A connection on which a server asked for a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requested {
    /// Position of its file in the batch (path order).
    file_pos: usize,
    file: String,
    index: u64,
    sni: Option<String>,
    packet: u64,
}

impl Requested {
    /// The example a finding cites: the first connection (by file, then index) that carried
    /// SNI, else the first one. Order-independent, so records may arrive in any order.
    fn better_than(&self, other: &Requested) -> bool {
        match (self.sni.is_some(), other.sni.is_some()) {
            (true, false) => true,
            (false, true) => false,
            _ => (self.file_pos, self.index) < (other.file_pos, other.index),
        }
    }
}

/// What [`ClientAuthServers::observe_parts`] reads of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Its capture file (as records name it).
    pub file: &'a str,
    /// Its connection index in that file.
    pub index: u64,
    /// The server.
    pub server: SocketAddr,
    /// The SNI of its ClientHello.
    pub sni: Option<&'a str>,
}

/// Per server (`ip:port`): one example connection that got a CertificateRequest. This is all
/// the batch-wide state the cross-connection rules need: it grows with servers, not with
/// connections.
#[derive(Debug, Clone, Default)]
pub struct ClientAuthServers {
    requested: crate::FastMap<SocketAddr, Requested>,
    /// Unanswered connection attempts per server, for `syn-flood`.
    floods: super::flood::SynFloods,
    /// The chains each server presented, for `cert-inconsistent`.
    chains: super::consistency::ChainConsistency,
    /// What each server chose, for the negotiation findings.
    choices: super::negotiation::ServerChoices,
    /// Connections cut by their file's start or end, for `split-across-files`.
    pub edges: super::edges::FileEdges,
    /// ICMP errors per file, for `icmp-unreachable` and `icmp-packet-too-big`.
    pub icmp: super::icmp::IcmpReports,
}

impl ClientAuthServers {
    /// Notes a record; `file_pos` is its file's position in the batch (path order).
    pub fn observe(&mut self, file_pos: usize, r: &ConnectionRecord, facts: &CrossFacts) {
        if let Some(a) = super::flood::Attempt::of(r) {
            self.observe_attempt(file_pos, &r.file, r.index, &a);
        }
        if let Some(c) = super::consistency::ChainSeen::of(r) {
            self.observe_chain(file_pos, &r.file, r.index, &c);
        }
        let connection = Observed {
            file: &r.file,
            index: r.index,
            server: r.server,
            sni: r.sni.as_deref(),
        };
        self.observe_parts(file_pos, &connection, facts);
    }

    /// [`ClientAuthServers::observe`] from the few fields it reads, for callers that no
    /// longer hold the record.
    pub fn observe_parts(&mut self, file_pos: usize, c: &Observed<'_>, facts: &CrossFacts) {
        if let Some(chosen) = facts.chosen {
            self.choices
                .observe(file_pos, c.file, c.index, c.server, chosen);
        }
        let Some(packet) = facts.cert_request_packet else {
            return;
        };
        let new = Requested {
            file_pos,
            file: c.file.to_string(),
            index: c.index,
            sni: c.sni.map(str::to_string),
            packet,
        };
        match self.requested.get_mut(&c.server) {
            Some(old) if !new.better_than(old) => {}
            Some(old) => *old = new,
            None => {
                self.requested.insert(c.server, new);
            }
        }
    }

    /// Notes a connection that never got past its SYN (for `syn-flood`).
    pub fn observe_attempt(
        &mut self,
        file_pos: usize,
        file: &str,
        index: u64,
        a: &super::flood::Attempt,
    ) {
        self.floods.observe(file_pos, file, index, a);
    }

    /// Notes the server chain a connection was sent (for `cert-inconsistent`).
    pub fn observe_chain(
        &mut self,
        file_pos: usize,
        file: &str,
        index: u64,
        c: &super::consistency::ChainSeen,
    ) {
        self.chains.observe(file_pos, file, index, c);
    }

    /// Adds another file's servers (any order gives the same result).
    pub fn merge(&mut self, other: ClientAuthServers) {
        self.floods.merge(other.floods);
        self.chains.merge(other.chains);
        self.choices.merge(other.choices);
        self.edges.merge(other.edges);
        self.icmp.merge(other.icmp);
        for (server, new) in other.requested {
            match self.requested.get_mut(&server) {
                Some(old) if !new.better_than(old) => {}
                Some(old) => *old = new,
                None => {
                    self.requested.insert(server, new);
                }
            }
        }
    }

    /// Servers seen asking for a client certificate.
    pub fn len(&self) -> usize {
        self.requested.len()
    }

    /// No server asked for a client certificate.
    pub fn is_empty(&self) -> bool {
        self.requested.is_empty()
    }

    /// Appends the cross-connection findings of one record (`sni-gated-client-auth`,
    /// `client-cert-not-requested`, `syn-flood` and `cert-inconsistent`).
    pub fn add_findings(&self, r: &mut ConnectionRecord, facts: &CrossFacts, cfg: &FindingsConfig) {
        let mut found = Vec::new();
        self.floods.findings(r, &mut found);
        self.chains.findings(r, &mut found);
        let of = Observed {
            file: &r.file,
            index: r.index,
            server: r.server,
            sni: r.sni.as_deref(),
        };
        self.cross_findings(&of, facts, cfg, &mut found);
        if let Some(refused) = &facts.refused {
            self.choices.findings(r, refused, &mut found);
        }
        // The connection's own rules may already have found it (an HTTP 401 to a request
        // without credentials): the cross-connection reason is the stronger one.
        if found
            .iter()
            .any(|f| f.kind == FindingKind::ClientCertNotRequested)
        {
            r.findings
                .retain(|f| f.kind != FindingKind::ClientCertNotRequested);
        }
        r.findings.append(&mut found);
    }

    /// The cross-connection findings of the record `r` identifies, appended to `out`.
    pub fn cross_findings(
        &self,
        r: &Observed<'_>,
        facts: &CrossFacts,
        cfg: &FindingsConfig,
        out: &mut Vec<Finding>,
    ) {
        let Some(cand) = facts.candidate else {
            return;
        };
        // Built only for a finding (most candidates get none), once even when both findings
        // cite it, with `concat` rather than `format!` (see `Digits`).
        let done = std::cell::OnceCell::new();
        let done_txt = || {
            done.get_or_init(|| match cand.server_hello_done_packet {
                Some(p) => [
                    "ServerHelloDone in packet ",
                    Digits::of(p).as_str(),
                    " with no CertificateRequest before it",
                ]
                .concat(),
                None => "no CertificateRequest in the handshake".to_string(),
            })
            .as_str()
        };
        let elsewhere = self
            .requested
            .get(&r.server)
            .filter(|o| !(o.file == r.file && o.index == r.index));
        // The record's SNI is the ClientHello's.
        let no_sni = r.sni.is_none();
        let where_ = |o: &Requested| {
            let index = Digits::of(o.index);
            if o.file == r.file {
                ["connection #", index.as_str()].concat()
            } else {
                ["connection #", index.as_str(), " in ", &o.file].concat()
            }
        };
        if no_sni {
            if let Some(o @ Requested { sni: Some(sni), .. }) = elsewhere {
                let where_ = where_(o);
                let done_txt = done_txt();
                let pkt = o.packet;
                out.push(finding(
                    FindingKind::SniGatedClientAuth,
                    Severity::Error,
                    format!("{} asks for a client certificate only when the ClientHello carries SNI: it did on {where_} (SNI {sni}) but not on this connection, which sent no SNI, so certificate-based authentication cannot happen here (expect HTTP 401).", r.server),
                    format!("This ClientHello (packet {}) has no server_name; {done_txt}; {where_} with SNI {sni} got a CertificateRequest in packet {pkt}.", cand.client_hello_packet),
                )
.with_fix(format!("Client: send SNI by connecting to https://{sni}/ (host name, not IP address); server: if clients without SNI must authenticate, request client certificates on the default virtual host too.")));
            }
        }
        let expected = cfg
            .expect_client_auth
            .iter()
            .any(|p| p.matches(r.server, r.sni));
        let (severity, why) = if expected {
            (
                Severity::Error,
                "the client is expected to authenticate with a certificate (--expect-client-auth)"
                    .to_string(),
            )
        } else if let Some(o) = elsewhere {
            let sni = o
                .sni
                .as_deref()
                .map(|s| [" (SNI ", s, ")"].concat())
                .unwrap_or_default();
            (
                Severity::Error,
                ["the same server asked for one on ", &where_(o), &sni].concat(),
            )
        } else {
            // Nothing says this client authenticates by certificate: a handshake without a
            // CertificateRequest is the normal case (a missing SNI alone proves nothing).
            return;
        };
        out.push(finding(
            FindingKind::ClientCertNotRequested,
            severity,
            [
                crate::text::AddrText::of(r.server).as_str(),
                " completed the handshake without asking for a client certificate, although ",
                &why,
                ".",
            ]
            .concat(),
            [
                "ClientHello in packet ",
                Digits::of(cand.client_hello_packet).as_str(),
                " (SNI ",
                r.sni.unwrap_or("none"),
                "); ",
                done_txt(),
                ".",
            ]
            .concat(),
        ));
    }
}

/// Rules that compare connections to the same server: `sni-gated-client-auth` and the
/// "requested elsewhere" form of `client-cert-not-requested`. `rows` pairs each record with
/// its handshake summary, in batch order (by file, then index); findings are appended to the
/// records. Batches that do not keep handshakes use [`CrossFacts`] and [`ClientAuthServers`].
pub fn cross_connection(
    rows: &mut [(&mut ConnectionRecord, &HandshakeSummary)],
    cfg: &FindingsConfig,
) {
    let mut servers = ClientAuthServers::default();
    let mut file_pos = 0usize;
    let mut last_file: Option<String> = None;
    let mut facts = Vec::with_capacity(rows.len());
    for (r, hs) in rows.iter() {
        if last_file.as_deref().is_some_and(|f| f != r.file) {
            file_pos += 1;
        }
        if last_file.as_deref() != Some(r.file.as_str()) {
            last_file = Some(r.file.clone());
        }
        let f = CrossFacts::from_handshake(hs);
        servers.observe(file_pos, r, &f);
        facts.push(f);
    }
    for ((r, _), f) in rows.iter_mut().zip(&facts) {
        servers.add_findings(r, f, cfg);
    }
}
