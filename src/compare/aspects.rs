//! The aspects compared: for each, both sides' values, the findings it can explain and the
//! sentence saying why; then the ranking.
//!
//! An aspect is listed only when it can explain how the failing side failed: the ClientHello's
//! lists (suites, groups, signature algorithms, ALPN, extensions) only when the handshake
//! failed in a way they decide (e.g. `handshake_failure`, not `unknown_ca`), HTTP only when
//! both sides got that far. Ports, randoms, session ids, times, key-share bytes and the JA4 of
//! two different clients are never differences.

use super::{Aspect, ConnRef, Difference, DifferenceType, Observed};
use crate::findings::CERTIFICATE_KINDS;
use crate::http::AuthMethod;
use crate::record::{
    AlertDescription, AlertLevel, Cause, ConnectionRecord, ConnectionStatus, FailedAt, FindingKind,
    Outcome,
};
use crate::tls::names::{cipher_name, version_name};
use crate::tls::names::{group_name, signature_scheme_name as sig_alg_name};
use std::collections::BTreeSet;

/// A difference before it is ranked.
struct Found {
    aspect: Aspect,
    good: Option<String>,
    bad: Option<String>,
    /// Findings this difference can explain, most specific first.
    explains: Vec<FindingKind>,
    cause: String,
}

/// How the failing side failed, as far as the ClientHello's lists can matter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// It did not fail (or the capture cannot tell).
    None,
    /// A fatal alert; its description when readable.
    Alert(Option<AlertDescription>),
    /// The handshake failed without a readable alert (stalled, reset, closed).
    Handshake,
    /// Before TLS (TCP) or after it (HTTP).
    Other,
}

impl Failure {
    fn of(r: &ConnectionRecord) -> Failure {
        if r.outcome != Outcome::Failed {
            return Failure::None;
        }
        let fatal = r
            .alerts
            .iter()
            .find(|a| a.encrypted || a.level == Some(AlertLevel::FATAL));
        if let Some(a) = fatal {
            return Failure::Alert(a.description);
        }
        match r.failed_at {
            Some(FailedAt::Handshake) => Failure::Handshake,
            _ => Failure::Other,
        }
    }

    /// Whether it is a fatal alert with one of these descriptions.
    fn alert_in(&self, alerts: &[AlertDescription]) -> bool {
        matches!(self, Failure::Alert(Some(d)) if alerts.contains(d))
    }

    /// A handshake failure whose reason cannot be read: any hello list may explain it.
    fn unexplained_handshake(&self) -> bool {
        matches!(self, Failure::Handshake | Failure::Alert(None))
    }

    fn handshake(&self) -> bool {
        matches!(self, Failure::Handshake | Failure::Alert(_))
    }
}

/// Alerts a peer sends when the two sides share no suite, group or signature algorithm.
const NEGOTIATION_ALERTS: &[AlertDescription] = &[
    AlertDescription::HANDSHAKE_FAILURE,
    AlertDescription::INSUFFICIENT_SECURITY,
    AlertDescription::ILLEGAL_PARAMETER,
];
/// Alerts about a certificate the peer sent.
const CERT_ALERTS: &[AlertDescription] = &[
    AlertDescription::UNKNOWN_CA,
    AlertDescription::BAD_CERTIFICATE,
    AlertDescription::CERTIFICATE_UNKNOWN,
    AlertDescription::CERTIFICATE_EXPIRED,
    AlertDescription::CERTIFICATE_REVOKED,
    AlertDescription::UNSUPPORTED_CERTIFICATE,
    AlertDescription::ACCESS_DENIED,
];

/// The failing side's findings a generic difference (proxy, address) relates to: what it saw.
const SYMPTOMS: &[FindingKind] = &[
    FindingKind::HttpUnauthorized,
    FindingKind::TlsAlert,
    FindingKind::TcpReset,
    FindingKind::HandshakeStalled,
    FindingKind::ReadTimeout,
    FindingKind::TcpRefused,
    FindingKind::TcpConnectTimeout,
    FindingKind::NotTls,
];

/// Every difference between `g` (works) and `b` (fails), most decisive first.
pub(super) fn differences(g: &Observed, b: &Observed) -> Vec<Difference> {
    let failure = Failure::of(&b.record);
    let mut found = Vec::new();
    transport(g, b, &mut found);
    mtu(g, b, &mut found);
    hello(g, b, &failure, &mut found);
    server(g, b, &failure, &mut found);
    http(g, b, &mut found);
    symptoms(g, b, &failure, &mut found);
    rank(found, &b.record, &g.record)
}

fn kinds_present(r: &ConnectionRecord) -> impl Iterator<Item = FindingKind> + '_ {
    r.findings.iter().map(|f| f.kind)
}

/// Orders by decisiveness: tied to the failing side's cause, then hello lists when an alert
/// ended the handshake, then the chain, then transport, then the rest; symptoms last.
fn rank(found: Vec<Found>, bad: &ConnectionRecord, good: &ConnectionRecord) -> Vec<Difference> {
    let cause = bad.cause.and_then(Cause::kind);
    let alerted = !matches!(Failure::of(bad), Failure::None | Failure::Other);
    let mut ranked: Vec<(u8, Found, Option<FindingKind>)> = found
        .into_iter()
        .map(|f| {
            let tied = cause.filter(|c| f.explains.contains(c));
            let symptom = matches!(f.aspect, Aspect::Alert | Aspect::HttpStatus);
            let tier = if symptom {
                5
            } else if f.aspect == Aspect::Tcp {
                // How TCP ended is the failure seen from below, not what explains it.
                3
            } else if tied.is_some() {
                0
            } else {
                match f.aspect {
                    Aspect::Version
                    | Aspect::Cipher
                    | Aspect::Groups
                    | Aspect::KeyShare
                    | Aspect::SignatureAlgorithms
                    | Aspect::Alpn
                    | Aspect::Extensions
                        if alerted =>
                    {
                        1
                    }
                    Aspect::ServerChain => 2,
                    Aspect::Proxy | Aspect::ServerAddress | Aspect::Mtu | Aspect::Tcp => 3,
                    _ => 4,
                }
            };
            let finding = tied
                .or_else(|| {
                    f.explains
                        .iter()
                        .copied()
                        .find(|k| kinds_present(bad).any(|p| p == *k))
                })
                .or_else(|| {
                    if !f.explains.is_empty() {
                        return None;
                    }
                    bad.findings
                        .iter()
                        .filter(|x| x.observed && SYMPTOMS.contains(&x.kind))
                        .map(|x| x.kind)
                        .next()
                        .or(cause.filter(|c| *c != FindingKind::TlsAlert || alerted))
                });
            (tier, f, finding)
        })
        .collect();
    // When what the failing client itself sends explains its cause, the server it reached
    // does not: any server would have answered the same.
    let client_explains = ranked
        .iter()
        .any(|(tier, f, _)| *tier == 0 && client_side(f.aspect));
    if client_explains {
        ranked.retain(|(_, f, _)| f.aspect != Aspect::ServerAddress);
    }
    ranked.sort_by_key(|(tier, f, _)| (*tier, f.aspect));
    ranked
        .into_iter()
        .enumerate()
        .map(|(i, (_, f, finding))| Difference {
            record_type: DifferenceType::Difference,
            rank: i as u32 + 1,
            aspect: f.aspect,
            good: f.good,
            bad: f.bad,
            finding,
            cause: f.cause,
            good_connection: ConnRef::of(good),
            bad_connection: ConnRef::of(bad),
        })
        .collect()
}

/// Aspects the client decides alone.
fn client_side(a: Aspect) -> bool {
    matches!(
        a,
        Aspect::Sni
            | Aspect::Version
            | Aspect::Cipher
            | Aspect::Groups
            | Aspect::SignatureAlgorithms
            | Aspect::Alpn
            | Aspect::Extensions
            | Aspect::KeyShare
            | Aspect::ClientKeyUsage
            | Aspect::ClientCertificate
            | Aspect::HttpMethod
            | Aspect::HttpHost
            | Aspect::HttpAuth
    )
}

// ---------------------------------------------------------------- transport

/// Both sides name a server, and not the same one: their addresses differ because their names
/// do, and the sni aspect says so.
fn named_apart(g: &Observed, b: &Observed) -> bool {
    match (&g.record.sni, &b.record.sni) {
        (Some(x), Some(y)) => !x.eq_ignore_ascii_case(y),
        _ => false,
    }
}

fn transport(g: &Observed, b: &Observed, out: &mut Vec<Found>) {
    let (gp, bp) = (&g.hello.proxy, &b.hello.proxy);
    if gp != bp {
        let shown = |p: &Option<String>| Some(p.clone().unwrap_or_else(|| "direct".into()));
        let cause = match (gp, bp) {
            (None, Some(p)) => format!(
                "The failing client goes through a proxy ({p}) where the working one connects directly, so the server sees the proxy's address and the proxy's own rules apply."
            ),
            (Some(p), None) => format!(
                "The failing client connects directly where the working one goes through a proxy ({p}): its direct path (firewall, source address, name resolution) differs."
            ),
            _ => "The two clients go through different proxies, so the server sees different source addresses and different proxy rules apply.".to_string(),
        };
        out.push(Found {
            aspect: Aspect::Proxy,
            good: shown(gp),
            bad: shown(bp),
            explains: Vec::new(),
            cause,
        });
    } else if gp.is_none() && g.record.server != b.record.server && !named_apart(g, b) {
        // Through one proxy, the capture's server is the proxy, the same for both.
        out.push(Found {
            aspect: Aspect::ServerAddress,
            good: Some(g.record.server.to_string()),
            bad: Some(b.record.server.to_string()),
            explains: Vec::new(),
            cause: if g.record.server.ip() == b.record.server.ip() {
                format!(
                    "The failing client connects to port {} where the working one uses port {}: the server (or a firewall before it) treats the two ports differently.",
                    b.record.server.port(),
                    g.record.server.port()
                )
            } else {
                format!(
                    "The failing client reached {} and the working one {}: the service has several addresses (DNS or a load balancer) that are not configured alike.",
                    b.record.server, g.record.server
                )
            },
        });
    }
}

/// The MSS each side announced, as shown: `client 1460, server 1460`.
fn mss_text(r: &ConnectionRecord) -> String {
    let one = |m: Option<u16>| m.map_or_else(|| "not seen".to_string(), |m| m.to_string());
    format!(
        "client {}, server {}",
        one(r.tcp.mss.client),
        one(r.tcp.mss.server)
    )
}

/// Listed when the failing side lost full-size segments (`mtu-black-hole`) and the working
/// side did not, or when the two announced different MSS values and the failing side stalled
/// or timed out (what segments too big for the path do). An MSS difference on a connection
/// that failed for another reason (an alert, a refusal) cannot explain it.
fn mtu(g: &Observed, b: &Observed, out: &mut Vec<Found>) {
    let (gr, br) = (&g.record, &b.record);
    let hole = |r: &ConnectionRecord| kinds_present(r).any(|k| k == FindingKind::MtuBlackHole);
    let hole_bad = hole(br) && !hole(gr);
    // A side not seen (no SYN, or no option) is no difference.
    let differs = |a: Option<u16>, b: Option<u16>| matches!((a, b), (Some(x), Some(y)) if x != y);
    let (gm, bm) = (gr.tcp.mss, br.tcp.mss);
    let client_differs = differs(gm.client, bm.client);
    let server_differs = differs(gm.server, bm.server);
    let stalled = matches!(
        br.status,
        ConnectionStatus::Stalled | ConnectionStatus::Timeout
    ) && br.tcp.established;
    if !hole_bad && !((client_differs || server_differs) && stalled) {
        return;
    }
    let mut bad = mss_text(br);
    if hole_bad {
        bad.push_str("; full-size segments lost");
    }
    // Each side sends segments as large as the other announced: the client's MSS sizes the
    // server's segments.
    let larger = |g: Option<u16>, b: Option<u16>| b > g;
    let cause = if client_differs && larger(gm.client, bm.client) {
        format!(
            "The failing client announces MSS {} where the working one announces {}, so the server sends segments too large for a link on the failing path{}.",
            bm.client.unwrap_or_default(),
            gm.client.unwrap_or_default(),
            if hole_bad { ", and the ICMP that should report it is lost (MTU black hole)" } else { ", which are lost there if its MTU is smaller" }
        )
    } else if server_differs && larger(gm.server, bm.server) {
        format!(
            "The server announces MSS {} to the failing client where it announces {} to the working one, so the client sends segments too large for a link on the failing path{}.",
            bm.server.unwrap_or_default(),
            gm.server.unwrap_or_default(),
            if hole_bad { ", and the ICMP that should report it is lost (MTU black hole)" } else { ", which are lost there if its MTU is smaller" }
        )
    } else if hole_bad {
        "The failing connection's full-size segments never arrive while the working one's do: a link on its path has a smaller MTU and the ICMP \"fragmentation needed\" is lost (MTU black hole).".to_string()
    } else {
        "The two connections announce different MSS values, so their segments differ in size; the failing path may drop the larger ones.".to_string()
    };
    out.push(Found {
        aspect: Aspect::Mtu,
        good: Some(mss_text(gr)),
        bad: Some(bad),
        explains: vec![
            FindingKind::MtuBlackHole,
            FindingKind::HandshakeStalled,
            FindingKind::ReadTimeout,
        ],
        cause,
    });
}

// ---------------------------------------------------------------- ClientHello

fn hello(g: &Observed, b: &Observed, failure: &Failure, out: &mut Vec<Found>) {
    let (gr, br) = (&g.record, &b.record);
    // Without a ClientHello on the failing side there is nothing it offered to compare.
    if br.ja4.is_none() && !br.client_hello_seen() {
        return;
    }
    if gr.sni.as_deref().map(str::to_ascii_lowercase)
        != br.sni.as_deref().map(str::to_ascii_lowercase)
    {
        let request_lost = gr.cert_requested == Some(true) && br.cert_requested == Some(false);
        let mut explains = vec![
            FindingKind::SniGatedClientAuth,
            FindingKind::MissingSni,
            FindingKind::HostnameMismatch,
        ];
        if request_lost {
            explains.push(FindingKind::ClientCertNotRequested);
        }
        if failure.alert_in(&[AlertDescription::UNRECOGNIZED_NAME]) {
            explains.push(FindingKind::TlsAlert);
        }
        let cause = match (&gr.sni, &br.sni) {
            (Some(_), None) if request_lost => "The failing client sends no SNI (it connects by address), so the server answers with its default host, which never requests a client certificate.".to_string(),
            (Some(_), None) => "The failing client sends no SNI (it connects by address), so the server answers with its default host and certificate.".to_string(),
            (None, Some(s)) => format!("The failing client sends SNI {s} where the working one sends none, so the server picks the virtual host configured for that name."),
            (_, Some(s)) => format!("The failing client asks for {s}, not the name the working client uses, so the server picks another virtual host or certificate."),
            (None, None) => unreachable_text(),
        };
        out.push(Found {
            aspect: Aspect::Sni,
            good: gr.sni.clone(),
            bad: br.sni.clone(),
            explains,
            cause,
        });
    }
    if !failure.handshake() {
        return;
    }
    let (gh, bh) = (&g.hello, &b.hello);
    // The version offered explains a protocol_version alert, or a failure without a reason.
    let version_matters =
        failure.alert_in(&[AlertDescription::PROTOCOL_VERSION]) || failure.unexplained_handshake();
    if version_matters
        && gh.max_version.is_some()
        && bh.max_version.is_some()
        && gh.max_version.map(crate::tls::version_rank)
            != bh.max_version.map(crate::tls::version_rank)
    {
        let mut explains = vec![FindingKind::NoCommonVersion, FindingKind::ObsoleteVersion];
        if failure.alert_in(&[AlertDescription::PROTOCOL_VERSION])
            || failure.unexplained_handshake()
        {
            explains.push(FindingKind::TlsAlert);
        }
        let (gv, bv) = (
            gh.max_version.map(version_name).unwrap_or_default(),
            bh.max_version.map(version_name).unwrap_or_default(),
        );
        let cause = if bh.max_version.map(crate::tls::version_rank)
            < gh.max_version.map(crate::tls::version_rank)
        {
            format!(
                "The failing client offers at most {bv}, which the server no longer accepts{}.",
                gr.version
                    .map(|v| format!(" (it negotiated {v} with the working client)"))
                    .unwrap_or_default()
            )
        } else {
            format!("The failing client offers up to {bv} where the working one stops at {gv}; the server (or a middlebox) mishandles the newer version.")
        };
        out.push(Found {
            aspect: Aspect::Version,
            good: Some(gv),
            bad: Some(bv),
            explains,
            cause,
        });
    }
    // Which lists can explain this failure: all three after a negotiation alert; after a
    // failure without a readable reason (reset, stall, encrypted alert) only the suite the
    // server wanted and a post-quantum key share (a hello too big for some middleboxes).
    let negotiation = failure.alert_in(NEGOTIATION_ALERTS);
    let unexplained = failure.unexplained_handshake();
    let negotiation_kinds = || {
        vec![
            FindingKind::NoCommonCipher,
            FindingKind::WeakCipher,
            FindingKind::TlsAlert,
        ]
    };
    if let (Some(chosen), true) = (gh.server_cipher, negotiation || unexplained) {
        if !bh.ciphers.is_empty() && !bh.ciphers.contains(&chosen) {
            out.push(Found {
                aspect: Aspect::Cipher,
                good: Some(cipher_name(chosen)),
                bad: Some(names_list(&bh.ciphers, cipher_name)),
                explains: negotiation_kinds(),
                cause: format!(
                    "The failing client does not offer {}, the suite the server chose for the working client, and shares no other suite the server accepts.",
                    cipher_name(chosen)
                ),
            });
        }
    }
    // A post-quantum key share makes the hello longer than a segment: after a failure
    // without a readable reason, that is what can explain it (what is offered without a share
    // adds only a few bytes).
    let pq_share = |h: &super::Hello| {
        if h.key_shares.is_empty() {
            h.groups.iter().any(|x| is_post_quantum(*x))
        } else {
            h.key_shares.iter().any(|x| is_post_quantum(*x))
        }
    };
    if unexplained && pq_share(bh) && !pq_share(gh) {
        out.push(Found {
            aspect: Aspect::KeyShare,
            good: Some(key_share_text(gh, gr)),
            bad: Some(key_share_text(bh, br)),
            explains: vec![
                FindingKind::HandshakeStalled,
                FindingKind::TcpReset,
                FindingKind::TlsAlert,
            ],
            cause: "The failing client sends a post-quantum key share, which makes its ClientHello longer than one TCP segment; the server or a middlebox that reads the hello from one segment drops or rejects it.".to_string(),
        });
    } else if let Some((only_g, only_b)) = one_sided(&gh.groups, &bh.groups) {
        // Offering more never fails a negotiation: what matters is what only the working
        // client offers.
        if negotiation && !only_g.is_empty() {
            out.push(Found {
                aspect: Aspect::Groups,
                good: joined(&only_g, group_name),
                bad: joined(&only_b, group_name),
                explains: negotiation_kinds(),
                cause: "The failing client offers other key-exchange groups than the working one, and none the server accepts.".to_string(),
            });
        }
    }
    if negotiation {
        if let Some((only_g, only_b)) =
            one_sided(&gh.sig_algs, &bh.sig_algs).filter(|(only_g, _)| !only_g.is_empty())
        {
            out.push(Found {
                aspect: Aspect::SignatureAlgorithms,
                good: joined(&only_g, sig_alg_name),
                bad: joined(&only_b, sig_alg_name),
                explains: negotiation_kinds(),
                cause: "The failing client offers other signature algorithms than the working one, and none that the server's certificate key can sign with.".to_string(),
            });
        }
    }
    if failure.alert_in(&[AlertDescription::NO_APPLICATION_PROTOCOL])
        && gr.alpn_offered != br.alpn_offered
    {
        let show = |v: &[String]| (!v.is_empty()).then(|| v.join(", "));
        out.push(Found {
            aspect: Aspect::Alpn,
            good: show(&gr.alpn_offered),
            bad: show(&br.alpn_offered),
            explains: vec![FindingKind::AlpnMismatch, FindingKind::TlsAlert],
            cause: format!(
                "The failing client offers {} where the working one offers {}; the server speaks none of the failing client's protocols.",
                show(&br.alpn_offered).unwrap_or_else(|| "no ALPN".into()),
                show(&gr.alpn_offered).unwrap_or_else(|| "none".into())
            ),
        });
    }
    let ext_alerts = [
        AlertDescription::DECODE_ERROR,
        AlertDescription::ILLEGAL_PARAMETER,
        AlertDescription::UNSUPPORTED_EXTENSION,
        AlertDescription::MISSING_EXTENSION,
    ];
    if failure.alert_in(&ext_alerts) {
        let tls13_both = [gh, bh]
            .iter()
            .all(|h| h.max_version.map(crate::tls::version_rank) == Some(0x0304));
        let keep = |e: &u16| !explained_extension(*e, tls13_both);
        let (ge, be): (Vec<u16>, Vec<u16>) = (
            gh.extensions.iter().copied().filter(keep).collect(),
            bh.extensions.iter().copied().filter(keep).collect(),
        );
        if let Some((only_g, only_b)) = one_sided(&ge, &be) {
            out.push(Found {
                aspect: Aspect::Extensions,
                good: joined(&only_g, extension_name),
                bad: joined(&only_b, extension_name),
                explains: vec![FindingKind::TlsAlert],
                cause: "The two ClientHellos carry different extensions, and the server rejects one the failing client sends (or needs one it leaves out).".to_string(),
            });
        }
    }
}

/// Extensions another aspect already compares, or whose presence depends on state rather than
/// configuration (resumption, padding to a length).
fn explained_extension(e: u16, tls13_both: bool) -> bool {
    const ALWAYS: &[u16] = &[
        0,  // server_name: aspect sni
        10, // supported_groups: aspect groups
        13, // signature_algorithms
        16, // ALPN
        21, // padding: depends on the hello's length
        35, // session_ticket: resumption state
        41, // pre_shared_key: resumption state
        42, // early_data: resumption state
        43, // supported_versions: aspect version
    ];
    // Sent only by TLS 1.3 clients: a version difference says it.
    const TLS13_ONLY: &[u16] = &[44, 45, 49, 50, 51];
    ALWAYS.contains(&e) || (!tls13_both && TLS13_ONLY.contains(&e))
}

// ---------------------------------------------------------------- server side, client auth

fn server(g: &Observed, b: &Observed, failure: &Failure, out: &mut Vec<Found>) {
    let (gr, br) = (&g.record, &b.record);
    if let (Some(gq), Some(bq)) = (gr.cert_requested, br.cert_requested) {
        if gq != bq {
            let cause = if gq {
                "The server requests a client certificate from the working client only, so the failing one never gets to present its certificate.".to_string()
            } else {
                "The server requests a client certificate from the failing client only, on a connection where the working one is not asked.".to_string()
            };
            out.push(Found {
                aspect: Aspect::CertificateRequest,
                good: Some(yes_no(gq)),
                bad: Some(yes_no(bq)),
                explains: vec![
                    FindingKind::ClientCertNotRequested,
                    FindingKind::SniGatedClientAuth,
                ],
                cause,
            });
        }
    }
    let sent = |r: &ConnectionRecord| match r.client_cert_sent {
        Some(true) => Some(Some(client_cert_text(r))),
        Some(false) => Some(None),
        // Not asked, so nothing sent: the request difference says why.
        None if r.cert_requested == Some(false) => Some(None),
        None => None,
    };
    if let (Some(gs), Some(bs)) = (sent(gr), sent(br)) {
        if gs != bs {
            let mut explains = vec![
                FindingKind::ClientCertMissing,
                FindingKind::ClientCertNotRequested,
            ];
            if failure.alert_in(&[
                AlertDescription::CERTIFICATE_REQUIRED,
                AlertDescription::HANDSHAKE_FAILURE,
                AlertDescription::BAD_CERTIFICATE,
                AlertDescription::UNKNOWN_CA,
                AlertDescription::ACCESS_DENIED,
            ]) || failure.unexplained_handshake()
            {
                explains.push(FindingKind::TlsAlert);
            }
            explains.push(FindingKind::HttpUnauthorized);
            let cause = match (&gs, &bs) {
                (Some(_), None) if br.cert_requested == Some(true) => "The failing client sends no client certificate although the server asks for one: it has none configured for this endpoint.".to_string(),
                (Some(_), None) if br.cert_requested == Some(false) => "The failing client is never asked for its certificate, so it sends none and the server cannot authenticate it.".to_string(),
                (Some(_), None) => "The failing client presents no client certificate, so the server cannot authenticate it.".to_string(),
                (None, Some(_)) => "The failing client presents a client certificate the working one does not, and the server rejects it.".to_string(),
                _ => "The two clients present different certificates, and the server accepts only the working client's (issuer or key usage).".to_string(),
            };
            out.push(Found {
                aspect: Aspect::ClientCertificate,
                good: gs,
                bad: bs,
                explains,
                cause,
            });
        }
    }
    key_usage(g, b, failure, out);
    if let (Some(gc), Some(bc)) = (&gr.server_chain, &br.server_chain) {
        let fp =
            |c: &[crate::certs::CertInfo]| c.iter().map(|x| x.sha256.clone()).collect::<Vec<_>>();
        // Two chains that validate alike matter only when the failure is about certificates.
        let cert_failure = failure.alert_in(CERT_ALERTS)
            || br
                .cause
                .and_then(Cause::kind)
                .is_some_and(|c| CERTIFICATE_KINDS.contains(&c));
        if gr.chain_status != br.chain_status || (fp(gc) != fp(bc) && cert_failure) {
            let mut explains = CERTIFICATE_KINDS.to_vec();
            if failure.alert_in(CERT_ALERTS) {
                explains.push(FindingKind::TlsAlert);
            }
            let status = br.chain_status.as_deref().unwrap_or("not validated");
            let cause = if gc.len() > bc.len() && fp(bc).iter().all(|x| fp(gc).contains(x)) {
                format!("The server the failing client reached sends {} of the {} certificates the working client received, so the chain is {status}.", bc.len(), gc.len())
            } else if fp(gc) == fp(bc) {
                format!(
                    "Both receive the same chain, but for the failing connection it is {status}."
                )
            } else {
                format!("The failing client receives a different server chain ({status}): the server (or a node behind its name, or an intercepting proxy) presents another certificate.")
            };
            out.push(Found {
                aspect: Aspect::ServerChain,
                good: Some(chain_text(gr)),
                bad: Some(chain_text(br)),
                explains,
                cause,
            });
        }
    }
    if !matches!(
        gr.status,
        ConnectionStatus::Ok | ConnectionStatus::Cleartext
    ) {
        return;
    }
    let tcp_like = matches!(
        br.status,
        ConnectionStatus::Refused
            | ConnectionStatus::Unreachable
            | ConnectionStatus::Timeout
            | ConnectionStatus::Reset
            | ConnectionStatus::Stalled
            | ConnectionStatus::NotTls
    );
    // An MTU black hole stalls the connection after the server answered: the mtu aspect says
    // so, and "no answer to its ClientHello" would be wrong.
    let black_hole = kinds_present(br).any(|k| k == FindingKind::MtuBlackHole);
    if tcp_like && br.status != gr.status && !black_hole {
        out.push(Found {
            aspect: Aspect::Tcp,
            good: Some(gr.status.to_string()),
            bad: Some(br.status.to_string()),
            explains: vec![
                FindingKind::TcpRefused,
                FindingKind::IcmpUnreachable,
                FindingKind::TcpConnectTimeout,
                FindingKind::TcpSynAckUnanswered,
                FindingKind::TcpStaleState,
                FindingKind::TcpReset,
                FindingKind::HandshakeStalled,
                FindingKind::ReadTimeout,
                FindingKind::NotTls,
            ],
            cause: format!(
                "The failing connection {} where the working one completes: something on its path (address, firewall, proxy, server load) differs.",
                match br.status {
                    ConnectionStatus::Refused => "is refused",
                    ConnectionStatus::Unreachable => "is answered by an ICMP error",
                    ConnectionStatus::Timeout => "times out",
                    ConnectionStatus::Reset => "is reset",
                    ConnectionStatus::Stalled => "gets no answer to its ClientHello",
                    _ => "gets an answer that is not TLS",
                }
            ),
        });
    }
}

/// A leaf whose extendedKeyUsage does not allow its role, on the failing side only: a client
/// certificate without clientAuth, a server certificate without serverAuth. Listed when the
/// failure is one a certificate can cause.
fn key_usage(g: &Observed, b: &Observed, failure: &Failure, out: &mut Vec<Found>) {
    let (gr, br) = (&g.record, &b.record);
    let cause_kind = br.cause.and_then(Cause::kind);
    let cert_failure = failure.alert_in(CERT_ALERTS)
        || failure.alert_in(&[
            AlertDescription::CERTIFICATE_REQUIRED,
            AlertDescription::HANDSHAKE_FAILURE,
        ])
        || failure.unexplained_handshake();
    let lacks =
        |u: &Option<super::Usage>, purpose: &str| u.as_ref().is_some_and(|u| !u.allows(purpose));
    let shown = |u: &Option<super::Usage>| u.as_ref().map(super::Usage::text);
    let (gh, bh) = (&g.hello, &b.hello);
    let client_rejected = cause_kind == Some(FindingKind::ClientCertRejected)
        || kinds_present(br).any(|k| k == FindingKind::HttpUnauthorized);
    if lacks(&bh.client_usage, "clientAuth")
        && gh
            .client_usage
            .as_ref()
            .is_some_and(|u| u.allows("clientAuth"))
        && (cert_failure || client_rejected)
    {
        out.push(Found {
            aspect: Aspect::ClientKeyUsage,
            good: shown(&gh.client_usage),
            bad: shown(&bh.client_usage),
            explains: vec![
                FindingKind::ClientCertRejected,
                FindingKind::TlsAlert,
                FindingKind::HttpUnauthorized,
            ],
            cause: format!(
                "The failing client's certificate is not for client authentication (extendedKeyUsage {}, no clientAuth), so the server rejects it.",
                shown(&bh.client_usage).unwrap_or_default()
            ),
        });
    }
    let chain_failure = cert_failure
        || gr.chain_status != br.chain_status
        || cause_kind.is_some_and(|c| CERTIFICATE_KINDS.contains(&c));
    if lacks(&bh.server_usage, "serverAuth")
        && gh
            .server_usage
            .as_ref()
            .is_some_and(|u| u.allows("serverAuth"))
        && chain_failure
    {
        let mut explains = CERTIFICATE_KINDS.to_vec();
        explains.push(FindingKind::TlsAlert);
        out.push(Found {
            aspect: Aspect::ServerKeyUsage,
            good: shown(&gh.server_usage),
            bad: shown(&bh.server_usage),
            explains,
            cause: format!(
                "The certificate the failing client receives is not for server authentication (extendedKeyUsage {}, no serverAuth), so the client rejects it.",
                shown(&bh.server_usage).unwrap_or_default()
            ),
        });
    }
}

// ---------------------------------------------------------------- HTTP

fn http(g: &Observed, b: &Observed, out: &mut Vec<Found>) {
    let (Some(gh), Some(bh)) = (g.record.http.first(), b.record.http.first()) else {
        return;
    };
    if gh.method != bh.method {
        out.push(Found {
            aspect: Aspect::HttpMethod,
            good: gh.method.clone(),
            bad: bh.method.clone(),
            explains: Vec::new(),
            cause: "The two clients make different requests, so the server applies different routes or rules.".to_string(),
        });
    }
    let lower = |s: &Option<String>| s.as_deref().map(host_only);
    let host_vs_sni = |h: &crate::record::HttpRecord, r: &ConnectionRecord| match (
        lower(&h.host),
        r.sni.as_deref().map(str::to_ascii_lowercase),
    ) {
        (Some(host), Some(sni)) => host == sni,
        _ => true,
    };
    // A client that connects by address names it in Host too: the sni aspect says so.
    let by_address = b.record.sni.is_none()
        && lower(&bh.host).is_some_and(|h| h.parse::<std::net::IpAddr>().is_ok());
    let hosts_differ = lower(&gh.host) != lower(&bh.host);
    if (hosts_differ && !by_address) || host_vs_sni(gh, &g.record) != host_vs_sni(bh, &b.record) {
        let cause = if !host_vs_sni(bh, &b.record) {
            "The failing request's Host header names another host than its SNI, so the server routes it to a different virtual host (or refuses it).".to_string()
        } else {
            "The two requests name different hosts, so the server routes them to different virtual hosts.".to_string()
        };
        out.push(Found {
            aspect: Aspect::HttpHost,
            good: gh.host.clone(),
            bad: bh.host.clone(),
            explains: Vec::new(),
            cause,
        });
    }
    // A client certificate shows in `auth` too; the client-certificate aspect says it.
    let cert = AuthMethod::ClientCertificate;
    let (ga, ba) = (gh.auth.without(cert), bh.auth.without(cert));
    if ga != ba {
        let (ga, ba) = (ga.to_string(), ba.to_string());
        let cause = if !bh.auth.in_request() {
            format!("The failing request carries no credentials where the working one authenticates with {ga}.")
        } else {
            format!("The failing request authenticates with {ba} where the working one uses {ga}; the server accepts only the working scheme (or where it travels).")
        };
        out.push(Found {
            aspect: Aspect::HttpAuth,
            good: Some(ga),
            bad: Some(ba),
            explains: vec![FindingKind::HttpUnauthorized],
            cause,
        });
    }
    if gh.status != bh.status {
        out.push(Found {
            aspect: Aspect::HttpStatus,
            good: gh.status.map(|s| s.to_string()),
            bad: bh.status.map(|s| s.to_string()),
            explains: vec![FindingKind::HttpUnauthorized, FindingKind::ReadTimeout],
            cause: match bh.status {
                Some(s) => format!("The server answers the failing request with {s}: the outcome the differences above lead to."),
                None => "The failing request is never answered.".to_string(),
            },
        });
    }
}

/// A Host header without its port, lower case.
fn host_only(h: &str) -> String {
    let h = h.to_ascii_lowercase();
    if h.starts_with('[') {
        return h
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('[')
            .to_string();
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.contains(':') => {
            host.to_string()
        }
        _ => h,
    }
}

// ---------------------------------------------------------------- symptoms

fn symptoms(g: &Observed, b: &Observed, failure: &Failure, out: &mut Vec<Found>) {
    if !matches!(failure, Failure::Alert(_)) {
        return;
    }
    let fatal = |r: &ConnectionRecord| {
        r.alerts
            .iter()
            .find(|a| a.encrypted || a.level == Some(AlertLevel::FATAL))
            .map(|a| {
                format!(
                    "{} {}",
                    a.from.as_str(),
                    a.description
                        .map_or_else(|| "encrypted alert".to_string(), |d| d.to_string())
                )
            })
    };
    let (ga, ba) = (fatal(&g.record), fatal(&b.record));
    if ga != ba {
        let cause = match &ba {
            Some(a) => format!("The {a} alert ends the failing handshake: the side that sent it rejected what the differences above show."),
            None => unreachable_text(),
        };
        out.push(Found {
            aspect: Aspect::Alert,
            good: ga,
            bad: ba,
            explains: vec![FindingKind::TlsAlert],
            cause,
        });
    }
}

fn unreachable_text() -> String {
    "The two sides differ here.".to_string()
}

// ---------------------------------------------------------------- values as text

fn yes_no(v: bool) -> String {
    if v { "yes" } else { "no" }.to_string()
}

fn client_cert_text(r: &ConnectionRecord) -> String {
    match r.client_chain.as_deref().and_then(|c| c.first()) {
        Some(leaf) => format!(
            "{} (issuer {})",
            short_dn(&leaf.subject),
            short_dn(&leaf.issuer)
        ),
        None => "sent".to_string(),
    }
}

fn chain_text(r: &ConnectionRecord) -> String {
    let chain = r.server_chain.as_deref().unwrap_or(&[]);
    let names: Vec<String> = chain.iter().map(|c| short_dn(&c.subject)).collect();
    format!(
        "{} cert{}: {} ({})",
        chain.len(),
        if chain.len() == 1 { "" } else { "s" },
        if names.is_empty() {
            "-".into()
        } else {
            names.join(" > ")
        },
        r.chain_status.as_deref().unwrap_or("not validated")
    )
}

/// The CN of a DN, else the whole DN.
fn short_dn(dn: &str) -> String {
    dn.split(", ")
        .find_map(|p| p.strip_prefix("CN="))
        .unwrap_or(dn)
        .to_string()
}

/// The key shares a ClientHello sends and its size: `x25519 (ClientHello 512 bytes, one
/// segment)`. The segment count is the hello's record (5-byte header) over the MSS the server
/// announced.
fn key_share_text(h: &super::Hello, r: &ConnectionRecord) -> String {
    let shares = joined(&h.key_shares, group_name).unwrap_or_else(|| "no key share".into());
    let Some(len) = h.hello_len else {
        return shares;
    };
    let segments = match r.tcp.mss.server {
        Some(mss) if mss > 0 => {
            let n = (len + 5).div_ceil(u32::from(mss));
            if n == 1 {
                format!(", one {mss}-byte segment")
            } else {
                format!(", more than one {mss}-byte segment")
            }
        }
        _ => String::new(),
    };
    format!("{shares} (ClientHello {len} bytes{segments})")
}

/// Values in one list only: (only in `g`, only in `b`), None when the sets are equal.
fn one_sided(g: &[u16], b: &[u16]) -> Option<(Vec<u16>, Vec<u16>)> {
    let (gs, bs): (BTreeSet<u16>, BTreeSet<u16>) =
        (g.iter().copied().collect(), b.iter().copied().collect());
    if gs == bs {
        return None;
    }
    let only_g = g.iter().copied().filter(|x| !bs.contains(x)).collect();
    let only_b = b.iter().copied().filter(|x| !gs.contains(x)).collect();
    Some((only_g, only_b))
}

fn joined(v: &[u16], name: fn(u16) -> String) -> Option<String> {
    (!v.is_empty()).then(|| v.iter().map(|x| name(*x)).collect::<Vec<_>>().join(", "))
}

/// A list of names, the first few and how many in all.
fn names_list(v: &[u16], name: fn(u16) -> String) -> String {
    const SHOWN: usize = 4;
    let mut s = v
        .iter()
        .take(SHOWN)
        .map(|x| name(*x))
        .collect::<Vec<_>>()
        .join(", ");
    if v.len() > SHOWN {
        s.push_str(&format!(" … ({} offered)", v.len()));
    }
    s
}

fn is_post_quantum(g: u16) -> bool {
    matches!(g, 0x0200..=0x0202 | 0x11eb..=0x11ee | 0x6399 | 0x639a)
}

/// IANA name of a ClientHello extension.
fn extension_name(e: u16) -> String {
    let name = match e {
        0 => "server_name",
        1 => "max_fragment_length",
        5 => "status_request",
        10 => "supported_groups",
        11 => "ec_point_formats",
        13 => "signature_algorithms",
        14 => "use_srtp",
        15 => "heartbeat",
        16 => "application_layer_protocol_negotiation",
        17 => "status_request_v2",
        18 => "signed_certificate_timestamp",
        21 => "padding",
        22 => "encrypt_then_mac",
        23 => "extended_master_secret",
        27 => "compress_certificate",
        28 => "record_size_limit",
        34 => "delegated_credential",
        35 => "session_ticket",
        41 => "pre_shared_key",
        42 => "early_data",
        43 => "supported_versions",
        44 => "cookie",
        45 => "psk_key_exchange_modes",
        47 => "certificate_authorities",
        49 => "post_handshake_auth",
        50 => "signature_algorithms_cert",
        51 => "key_share",
        57 => "quic_transport_parameters",
        13172 => "next_protocol_negotiation",
        17513 | 17613 => "application_settings",
        0xfe0d => "encrypted_client_hello",
        0xff01 => "renegotiation_info",
        _ => return format!("0x{e:04x}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_port_is_ignored() {
        assert_eq!(host_only("API.example:8443"), "api.example");
        assert_eq!(host_only("[::1]:443"), "::1");
        assert_eq!(host_only("api.example"), "api.example");
    }

    #[test]
    fn one_sided_lists_keep_offer_order() {
        assert_eq!(one_sided(&[29, 23, 24], &[23, 24, 29]), None);
        assert_eq!(
            one_sided(&[0x11ec, 29, 23], &[29, 23, 30]),
            Some((vec![0x11ec], vec![30]))
        );
    }

    #[test]
    fn names_are_iana_or_hex() {
        assert_eq!(group_name(0x11ec), "X25519MLKEM768");
        assert_eq!(group_name(0x1234), "0x1234");
        assert_eq!(sig_alg_name(0x0804), "rsa_pss_rsae_sha256");
        assert_eq!(sig_alg_name(0x0bad), "0x0bad");
        assert_eq!(sig_alg_name(0x0602), "dsa_sha512");
        assert_eq!(sig_alg_name(0x0303), "ecdsa_sha224");
        assert_eq!(sig_alg_name(0x0302), "dsa_sha224");
        assert_eq!(extension_name(51), "key_share");
    }
}
