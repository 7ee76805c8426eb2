//! `client-cert-rejected`: the client sent a certificate and the server refused it, with the
//! reason read from what both sides sent (the CertificateRequest's CAs and signature
//! algorithms against the certificate's issuer, extended key usage, validity and signature).
//! Also the names of the CAs a CertificateRequest accepts, which `client-cert-missing` cites.

use super::{finding, Finding, FindingKind, Severity};
use crate::certs::{client_cert_facts, dn_text, time_text, ClientCertFacts};
use crate::flow::Side;
use crate::record::ConnectionRecord;
use crate::tls::{CertificateRequestMsg, HandshakeSummary};

/// Server alerts that refuse a client certificate (RFC 8446 §6.2): bad_certificate,
/// unsupported_certificate, certificate_revoked, certificate_expired, certificate_unknown,
/// unknown_ca, access_denied, decrypt_error (the CertificateVerify), and handshake_failure,
/// which older stacks send for any client-authentication failure.
const REJECTING: &[u8] = &[42, 43, 44, 45, 46, 48, 49, 51, 40];

/// CA names quoted in a message before "and N more".
const NAMES_SHOWN: usize = 6;

/// 2003-01-01T00:00:00Z: earlier capture times are broken clocks, which cannot date a
/// certificate (as for the server chain).
const PLAUSIBLE_CAPTURE_TIME: i64 = 1_041_379_200;

/// The CAs a CertificateRequest names, readable (`O=Example, CN=Example Client CA; ...`),
/// None when it named none.
pub(super) fn accepted_cas(req: &CertificateRequestMsg) -> Option<String> {
    if req.authorities.is_empty() {
        return None;
    }
    let mut names: Vec<String> = req
        .authorities
        .iter()
        .take(NAMES_SHOWN)
        .map(|dn| dn_text(dn))
        .collect();
    if req.authorities_listed > NAMES_SHOWN {
        names.push(format!("and {} more", req.authorities_listed - NAMES_SHOWN));
    }
    Some(names.join("; "))
}

/// A SignatureScheme by its RFC 8446 name.
fn scheme_name(s: u16) -> String {
    let name = tls_parser::SignatureScheme(s).to_string();
    if name.starts_with("SignatureScheme") || name.chars().all(|c| c.is_ascii_digit()) {
        format!("0x{s:04x}")
    } else {
        name
    }
}

/// One reason the certificate was refused, with the fix it calls for.
struct Reason {
    text: String,
    fix: String,
}

/// What refused the certificate: a server alert, or an HTTP status right after.
enum Refusal {
    Alert { name: String, code: u8, packet: u64 },
    Http { status: u16, packet: u64 },
}

/// `client-cert-rejected` for a connection whose client sent a certificate that the server
/// then refused.
pub(super) fn rejected(r: &ConnectionRecord, hs: &HandshakeSummary, out: &mut Vec<Finding>) {
    let Some(cert) = hs
        .client_certificate
        .as_ref()
        .filter(|c| !c.certs.is_empty())
    else {
        return;
    };
    let alert = hs.alerts.iter().find(|a| {
        a.from == Side::Server
            && !a.encrypted
            && a.level == 2
            && a.meta.packet >= cert.meta.packet
            && REJECTING.contains(&a.description)
    });
    let refusal = match alert {
        Some(a) => Refusal::Alert {
            name: crate::tls::names::alert_name(a.description),
            code: a.description,
            packet: a.meta.packet,
        },
        None => match r.http.first() {
            Some(h) if matches!(h.status, Some(400) | Some(403)) => Refusal::Http {
                status: h.status.unwrap_or(0),
                packet: h.response_packet.unwrap_or(0),
            },
            _ => return,
        },
    };
    let Ok(leaf) = client_cert_facts(&cert.certs[0]) else {
        return;
    };
    let sent: Vec<ClientCertFacts> = cert
        .certs
        .iter()
        .filter_map(|der| client_cert_facts(der).ok())
        .collect();
    let req = hs.certificate_request_contents.as_deref();
    let mut reasons = Vec::new();

    if let Some(cas) = req.and_then(accepted_cas) {
        let listed = |raw: &[u8]| req.is_some_and(|q| q.authorities.iter().any(|a| a == raw));
        let linked = sent
            .iter()
            .any(|c| listed(&c.issuer_raw) || listed(&c.subject_raw));
        // A list cut at MAX_AUTHORITIES may hold the issuer further on: only a whole list
        // proves it absent.
        let whole = req.is_some_and(|q| q.authorities_listed == q.authorities.len());
        if !linked && whole {
            if cert.certs.len() == 1 && !leaf.self_issued {
                reasons.push(Reason {
                    text: format!("the client sent its certificate alone, and its issuer {} is not among the CAs the server accepts ({cas}): the intermediate linking it to one of them was not sent, or the certificate comes from another CA", leaf.issuer),
                    fix: format!("Client: send the intermediate {} with the certificate (a PEM file holding the leaf, then its intermediates: curl --cert, openssl -cert_chain), or use a certificate issued by one of the CAs the server accepts ({cas}); server: if {} is a legitimate client CA, add it to the trusted client CAs (nginx ssl_client_certificate, Apache SSLCACertificateFile).", leaf.issuer, leaf.issuer),
                });
            } else {
                reasons.push(Reason {
                    text: format!("its issuer {} is not among the CAs the server accepts ({cas})", leaf.issuer),
                    fix: format!("Client: use a certificate issued by one of the CAs the server accepts ({cas}); server: if {} is a legitimate client CA, add it to the trusted client CAs (nginx ssl_client_certificate, Apache SSLCACertificateFile).", leaf.issuer),
                });
            }
        }
    } else if cert.certs.len() == 1
        && !leaf.self_issued
        && matches!(refusal, Refusal::Alert { code: 48, .. })
    {
        reasons.push(Reason {
            text: format!("the client sent its certificate alone: without the intermediate, the server cannot link its issuer {} to a CA it trusts", leaf.issuer),
            fix: format!("Client: send the intermediate {} with the certificate (a PEM file holding the leaf, then its intermediates: curl --cert, openssl -cert_chain); server: or add {} to its trusted client CAs.", leaf.issuer, leaf.issuer),
        });
    }
    if leaf.client_auth == Some(false) {
        let usages = if leaf.usages.is_empty() {
            "no usage".to_string()
        } else {
            leaf.usages.join(", ")
        };
        reasons.push(Reason {
            text: format!("its extendedKeyUsage allows {usages}, not clientAuth"),
            fix: "Client: use a certificate issued for client authentication (extendedKeyUsage clientAuth); a server certificate cannot stand in for a client certificate.".to_string(),
        });
    }
    let now = cert.meta.ts.secs;
    if now >= PLAUSIBLE_CAPTURE_TIME {
        if now > leaf.not_after {
            reasons.push(Reason {
                text: format!(
                    "it expired on {}, {} days before the capture",
                    time_text(leaf.not_after),
                    (now - leaf.not_after) / 86_400
                ),
                fix: format!("Client: renew the client certificate (it expired on {}) and configure the new one with its key.", time_text(leaf.not_after)),
            });
        } else if now < leaf.not_before {
            reasons.push(Reason {
                text: format!("it is not valid before {}", time_text(leaf.not_before)),
                fix: "Check the clocks of the system that issued the client certificate and of the server; use the certificate only once it is valid.".to_string(),
            });
        }
    }
    if let Some(q) = req {
        let accepted = if q.signature_algorithms_cert.is_empty() {
            &q.signature_algorithms
        } else {
            &q.signature_algorithms_cert
        };
        if !accepted.is_empty()
            && !leaf.schemes.is_empty()
            && !leaf.schemes.iter().any(|s| accepted.contains(s))
        {
            let list = accepted
                .iter()
                .map(|s| scheme_name(*s))
                .collect::<Vec<_>>()
                .join(", ");
            reasons.push(Reason {
                text: format!("it is signed with {}, which is not among the signature algorithms the server accepts ({list})", leaf.signature),
                fix: format!("Client: get a certificate signed with an algorithm the server accepts ({list}); server: or allow {}.", leaf.signature),
            });
        }
    }
    if reasons.is_empty() && matches!(refusal, Refusal::Alert { code: 51, .. }) {
        let cv = hs
            .client_certificate_verify
            .as_deref()
            .map(|(m, _)| format!(" (packet {})", m.packet))
            .unwrap_or_default();
        reasons.push(Reason {
            text: format!("the server could not verify the client's CertificateVerify signature{cv}: the private key does not belong to the certificate"),
            fix: "Client: configure the private key that belongs to this client certificate.".to_string(),
        });
    }
    if reasons.is_empty() && matches!(refusal, Refusal::Http { .. }) {
        // Without a reason in the certificate, a 400 may be any bad request and a 403 the
        // application's authorisation (`http-unauthorized`): only an alert proves a refusal.
        return;
    }

    let how = match &refusal {
        Refusal::Alert { name, packet, .. } => format!("with alert {name} in packet {packet}"),
        Refusal::Http { status, packet } => {
            format!("with HTTP {status} in packet {packet}, right after the handshake")
        }
    };
    let why = if reasons.is_empty() {
        "nothing in what both sides sent shows why (the server's own trust store or policy decided: its logs say which)".to_string()
    } else {
        reasons
            .iter()
            .map(|x| x.text.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let chain = sent
        .iter()
        .enumerate()
        .map(|(i, c)| format!("[{i}] {} (issuer {})", c.subject, c.issuer))
        .collect::<Vec<_>>()
        .join(", ");
    let mut evidence = format!(
        "Client Certificate in packet {}: {chain}; not before {}, not after {}; extendedKeyUsage {}; signature {}",
        cert.meta.packet,
        time_text(leaf.not_before),
        time_text(leaf.not_after),
        match leaf.client_auth {
            None => "absent (any use)".to_string(),
            Some(_) if leaf.usages.is_empty() => "empty".to_string(),
            Some(_) => leaf.usages.join(", "),
        },
        leaf.signature
    );
    if let Some((m, scheme)) = hs.client_certificate_verify.as_deref().copied() {
        evidence.push_str(&format!("; CertificateVerify in packet {}", m.packet));
        if let Some(s) = scheme {
            evidence.push_str(&format!(" ({})", scheme_name(s)));
        }
    }
    if let Some(q) = req {
        evidence.push_str(&format!("; CertificateRequest in packet {}", q.meta.packet));
        match accepted_cas(q) {
            Some(cas) => evidence.push_str(&format!(
                " names {}: {cas}",
                count(q.authorities_listed, "CA", "CAs")
            )),
            None => evidence.push_str(" names no CA"),
        }
    }
    evidence.push_str(&match &refusal {
        Refusal::Alert { name, packet, .. } => {
            format!("; fatal alert {name} from the server in packet {packet}.")
        }
        Refusal::Http { status, packet } => format!("; HTTP {status} in packet {packet}."),
    });
    let subject = leaf.subject.clone();
    let f = finding(
        FindingKind::ClientCertRejected,
        Severity::Error,
        format!(
            "{} rejected the client certificate {subject} {how}: {why}.",
            r.server
        ),
        evidence,
    );
    out.push(match reasons.into_iter().next() {
        Some(first) => f.with_fix(first.fix),
        None => f,
    });
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}
