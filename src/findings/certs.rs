//! Certificate rules: they read the [`ChainCheck`] of the server's chain.

use super::{Finding, Severity};
use crate::certs::{ChainCheck, OrderProblem, PathStatus};
use crate::model::ConnectionRecord;

fn finding(
    id: &'static str,
    severity: Severity,
    message: String,
    evidence: String,
    fix: &str,
) -> Finding {
    Finding {
        id,
        severity,
        message,
        evidence,
        remediation: fix.to_string(),
    }
}

/// The ids [`chain_findings`] can report: the certificate and chain findings.
pub const CERTIFICATE_IDS: &[&str] = &[
    "chain-incomplete",
    "chain-untrusted",
    "chain-order",
    "hostname-mismatch",
    "cert-expired",
    "cert-not-yet-valid",
    "self-signed",
    "weak-signature",
    "weak-key",
    "cert-revoked",
];

/// `CN=x` of a DN string, else the whole DN.
fn short(dn: &str) -> &str {
    dn.split(", ")
        .find_map(|p| p.strip_prefix("CN="))
        .unwrap_or(dn)
}

/// Findings about the server's certificate chain. `cert_packet` is the packet that carried the
/// Certificate message, `ocsp_packet` the CertificateStatus one.
pub fn chain_findings(
    r: &ConnectionRecord,
    check: &ChainCheck,
    cert_packet: u64,
    ocsp_packet: Option<u64>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let server = &r.server;
    let chain = r.server_chain.as_deref().unwrap_or(&[]);
    let listing = chain
        .iter()
        .enumerate()
        .map(|(i, c)| format!("[{i}] {} (issuer {})", short(&c.subject), short(&c.issuer)))
        .collect::<Vec<_>>()
        .join("; ");
    let evidence = format!("Certificate in packet {cert_packet}: {listing}.");
    let self_signed_only = check.self_signed_leaf && check.chain_len == 1;
    match &check.path {
        PathStatus::Incomplete { last_sent_issuer } => {
            let last_is_leaf = check.chain_len == 1 && !chain.first().is_some_and(|c| c.is_ca);
            let why = if last_is_leaf {
                format!("only the leaf was sent and its issuer {} is not a trusted root: the intermediate certificate is missing", short(last_sent_issuer))
            } else {
                format!("the issuer of the last certificate sent, {}, was neither sent nor is a trusted root: an intermediate is missing, or {} is a private root the client must be told to trust", short(last_sent_issuer), short(last_sent_issuer))
            };
            out.push(finding(
                "chain-incomplete",
                Severity::Error,
                format!("The chain {server} sent ({} certificate{}) does not reach a trusted root: {why}.", check.chain_len, if check.chain_len == 1 { "" } else { "s" }),
                evidence.clone(),
                "Server: send the full chain (leaf, then every intermediate up to the root). If the root is a private CA, add it to the client's trust store (tlscap: --ca-file).",
            ));
        }
        PathStatus::Untrusted { root_subject } if !self_signed_only => out.push(finding(
            "chain-untrusted",
            Severity::Error,
            format!("The chain {server} sent is complete but ends in the root {}, which is not a trusted root.", short(root_subject)),
            evidence.clone(),
            "Client: add this root CA to the client's trust store if it is a legitimate private CA (tlscap: --ca-file); server: otherwise use a certificate from a publicly trusted CA.",
        )),
        _ => {}
    }
    if !check.order_problems.is_empty() {
        let what = check
            .order_problems
            .iter()
            .map(|p| match p {
                OrderProblem::OutOfOrder { index, subject, issuer_index } => {
                    format!("[{index}] {} is followed by a certificate that is not its issuer (its issuer is [{issuer_index}])", short(subject))
                }
                OrderProblem::Unrelated { index, subject } => {
                    format!("[{index}] {} issues none of the certificates sent", short(subject))
                }
                OrderProblem::Duplicate { index, first_index, subject } => {
                    format!("[{index}] {} repeats [{first_index}]", short(subject))
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        out.push(finding(
            "chain-order",
            Severity::Warning,
            format!("{server} sends its chain out of order or with extra certificates: {what}."),
            evidence.clone(),
            "Server: send the leaf first, then each issuer in turn, and nothing else.",
        ));
    }
    if let Some(h) = &check.hostname {
        if !h.matched {
            let names = if h.cert_names.is_empty() {
                "no names".to_string()
            } else {
                h.cert_names.join(", ")
            };
            let via = if h.via_common_name {
                " (commonName; the certificate has no subjectAltName)"
            } else {
                ""
            };
            let source = if r.sni.is_some() {
                "SNI"
            } else {
                "expected host"
            };
            out.push(finding(
                "hostname-mismatch",
                Severity::Error,
                format!("The certificate of {server} is not valid for {} ({source}): it covers {names}{via}.", h.name),
                format!("{evidence} The leaf's names: {names}."),
                "Client: connect with a name the certificate lists; server: reissue the certificate with this name in its subjectAltName (a wildcard covers exactly one left-most label).",
            ));
        }
    }
    for c in &check.expired {
        out.push(finding(
            "cert-expired",
            Severity::Error,
            format!("Certificate [{}] {} of {server} expired on {}, before the capture time {}.", c.index, short(&c.subject), c.not_after, check.checked_at),
            format!("{evidence} notAfter of [{}] = {}.", c.index, c.not_after),
            "Server: renew the certificate and deploy it (with its current intermediates) on every node.",
        ));
    }
    for c in &check.not_yet_valid {
        out.push(finding(
            "cert-not-yet-valid",
            Severity::Error,
            format!("Certificate [{}] {} of {server} is valid only from {}, after the capture time {}.", c.index, short(&c.subject), c.not_before, check.checked_at),
            format!("{evidence} notBefore of [{}] = {}.", c.index, c.not_before),
            "Check the clocks of the issuing system and of the capture host; deploy the certificate only once it is valid.",
        ));
    }
    if check.self_signed_leaf {
        let trusted = check.path == PathStatus::Trusted;
        out.push(finding(
            "self-signed",
            if trusted { Severity::Warning } else { Severity::Error },
            format!(
                "{server} presents a self-signed certificate ({}){}.",
                chain.first().map(|c| short(&c.subject)).unwrap_or("?"),
                if trusted { ", trusted here only because it was given as a root" } else { "" }
            ),
            evidence.clone(),
            "Server: install a certificate issued by a trusted CA; or, for a private service, trust this certificate explicitly on the client.",
        ));
    }
    for w in &check.weak_signature {
        out.push(finding(
            "weak-signature",
            Severity::Warning,
            format!(
                "Certificate [{}] {} of {server} is signed with {}, which modern clients reject.",
                w.index,
                short(&w.subject),
                w.algorithm
            ),
            format!("{evidence} signature of [{}] = {}.", w.index, w.algorithm),
            "Reissue the certificate with a SHA-256 (or stronger) signature.",
        ));
    }
    for k in &check.weak_key {
        out.push(finding(
            "weak-key",
            Severity::Warning,
            format!("Certificate [{}] {} of {server} has a weak {} key.", k.index, short(&k.subject), k.key),
            format!("{evidence} key of [{}] = {}.", k.index, k.key),
            "Reissue the certificate with an RSA key of at least 2048 bits or an EC key of at least P-256.",
        ));
    }
    for rv in &check.revoked {
        let at = match (rv.source.as_str(), ocsp_packet) {
            ("stapled OCSP", Some(p)) => format!(" (CertificateStatus in packet {p})"),
            _ => String::new(),
        };
        out.push(finding(
            "cert-revoked",
            Severity::Error,
            format!("Certificate [{}] {} (serial {}) of {server} was revoked on {} according to the {}{at}.", rv.index, short(&rv.subject), rv.serial, rv.revoked_at, rv.source),
            format!("{evidence} Revocation source: {}{at}; signature verified: {}.", rv.source, rv.signature_verified),
            "Server: replace the revoked certificate.",
        ));
    }
    out
}
