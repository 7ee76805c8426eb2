//! Certificate rules: they read the [`ChainCheck`] of the server's chain.

use super::{finding, Finding, FindingKind, Severity};
use crate::certs::CertInfo;
use crate::certs::{ChainCheck, InvalidPath, OrderProblem, PathStatus};
use crate::record::ConnectionRecord;
use crate::text::Digits;

/// The kinds [`chain_findings`] can report: the certificate and chain findings.
pub const CERTIFICATE_KINDS: &[FindingKind] = &[
    FindingKind::ChainIncomplete,
    FindingKind::ChainUntrusted,
    FindingKind::ChainInvalid,
    FindingKind::ChainOrder,
    FindingKind::HostnameMismatch,
    FindingKind::CertExpired,
    FindingKind::CertNotYetValid,
    FindingKind::CertExpiring,
    FindingKind::SelfSigned,
    FindingKind::WeakSignature,
    FindingKind::WeakKey,
    FindingKind::CertRevoked,
];

/// `CN=x` of a DN string (its first `, `-separated component that starts with `CN=`), else
/// the whole DN.
fn short(dn: &str) -> &str {
    // A byte scan for the separators: `split(", ")` ran a substring searcher per call, a
    // visible cost at two calls per certificate per connection.
    let b = dn.as_bytes();
    let mut at = 0;
    loop {
        let end = (at..b.len().saturating_sub(1))
            .find(|&i| b[i] == b',' && b[i + 1] == b' ')
            .unwrap_or(b.len());
        if let Some(cn) = dn.get(at..end).and_then(|c| c.strip_prefix("CN=")) {
            return cn;
        }
        if end == b.len() {
            return dn;
        }
        at = end + 2;
    }
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
    let server = &r.server_named();
    let chain = r.server_chain.as_deref().unwrap_or(&[]);
    // Built piece by piece rather than with `format!`: this runs for most connections (see
    // `Digits`).
    let mut evidence = String::with_capacity(64 + 96 * chain.len());
    for p in [
        "Certificate in packet ",
        Digits::of(cert_packet).as_str(),
        ": ",
    ] {
        evidence.push_str(p);
    }
    for (i, c) in chain.iter().enumerate() {
        if i > 0 {
            evidence.push_str("; ");
        }
        let i = Digits::of(i as u64);
        for p in [
            "[",
            i.as_str(),
            "] ",
            short(&c.subject),
            " (issuer ",
            short(&c.issuer),
            ")",
        ] {
            evidence.push_str(p);
        }
    }
    evidence.push('.');
    let self_signed_only = check.self_signed_leaf && check.chain_len == 1;
    match &check.path {
        PathStatus::Incomplete { last_sent_issuer } => {
            let last_is_leaf = check.chain_len == 1 && !chain.first().is_some_and(|c| c.is_ca);
            let issuer = short(last_sent_issuer);
            let why = if last_is_leaf {
                [
                    "only the leaf was sent and its issuer ",
                    issuer,
                    " is not a root in the trust store in use (",
                    &check.store,
                    "): the intermediate certificate is missing",
                ]
                .concat()
            } else {
                [
                    "the issuer of the last certificate sent, ",
                    issuer,
                    ", was neither sent nor is a root in the trust store in use (",
                    &check.store,
                    "): an intermediate is missing, or ",
                    issuer,
                    " is a private root the client must be told to trust",
                ]
                .concat()
            };
            out.push(finding(
                FindingKind::ChainIncomplete,
                Severity::Error,
                [
                    "The chain ",
                    server.as_str(),
                    " sent (",
                    Digits::of(check.chain_len as u64).as_str(),
                    if check.chain_len == 1 {
                        " certificate"
                    } else {
                        " certificates"
                    },
                    ") does not reach a trusted root: ",
                    &why,
                    ".",
                ]
                .concat(),
                evidence.clone(),
            ));
        }
        PathStatus::Untrusted { root_subject } if !self_signed_only => {
            out.push(untrusted_root(
                server,
                chain,
                check,
                root_subject,
                &evidence,
            ));
        }
        PathStatus::BadSignature { reason } => {
            out.push(chain_invalid(server, BAD_SIGNATURE, reason, &evidence));
        }
        PathStatus::Invalid { reason } => {
            out.push(chain_invalid(
                server,
                validator_reason(reason),
                &reason.to_string(),
                &evidence,
            ));
        }
        _ => {}
    }
    // A signature that fails with its issuer's key is reported whatever the path: on an
    // untrusted or incomplete chain webpki stops before checking it.
    let webpki_reported = matches!(check.path, PathStatus::BadSignature { .. });
    if !check.broken_signatures.is_empty() && !webpki_reported {
        let what = check
            .broken_signatures
            .iter()
            .map(|b| {
                let issuer = chain
                    .get(b.issuer_index)
                    .map(|c| short(&c.subject))
                    .unwrap_or("?");
                format!(
                    "the signature of [{}] {} does not verify with the key of its issuer [{}] {}",
                    b.index,
                    short(&b.subject),
                    b.issuer_index,
                    issuer
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        out.push(finding(
            FindingKind::ChainInvalid,
            Severity::Error,
            format!("The chain {server} sent does not validate: {what}: the certificate was altered or forged, and every validating client rejects it."),
            evidence.clone(),
        ));
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
            FindingKind::ChainOrder,
            Severity::Warning,
            format!("{server} sends its chain out of order or with extra certificates: {what}."),
            evidence.clone(),
        ));
    }
    if let Some(h) = &check.hostname {
        if !h.matched {
            // A CDN certificate can list over a hundred names: the first few and the count
            // keep the sentence readable.
            const SHOWN: usize = 5;
            let names = match h.cert_names.len() {
                0 => "no names".to_string(),
                n if n <= SHOWN => h.cert_names.join(", "),
                n => [
                    &h.cert_names[..SHOWN].join(", "),
                    " and ",
                    Digits::of((n - SHOWN) as u64).as_str(),
                    " more (",
                    Digits::of(n as u64).as_str(),
                    " names)",
                ]
                .concat(),
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
                FindingKind::HostnameMismatch,
                Severity::Error,
                [
                    "The certificate of ",
                    server,
                    " is not valid for ",
                    &h.name,
                    " (",
                    source,
                    "): it covers ",
                    &names,
                    via,
                    ".",
                ]
                .concat(),
                [&evidence, " The leaf's names: ", &names, "."].concat(),
            ));
        }
    }
    // Validity at the capture time: each list with its finding, the date it turns on, and how
    // the sentence reads.
    let validity = [
        (
            &check.expired,
            FindingKind::CertExpired,
            Severity::Error,
            true,
            "expired on",
            ", before the capture time",
            ".",
        ),
        (
            &check.not_yet_valid,
            FindingKind::CertNotYetValid,
            Severity::Error,
            false,
            "is valid only from",
            ", after the capture time",
            ".",
        ),
        (
            &check.expiring,
            FindingKind::CertExpiring,
            Severity::Warning,
            true,
            "expires on",
            ", within 30 days of the capture time",
            ": clients will reject it from then on.",
        ),
    ];
    for (certs, kind, severity, after, verb, relation, end) in validity {
        for c in certs {
            let (field, date) = if after {
                ("notAfter", &c.not_after)
            } else {
                ("notBefore", &c.not_before)
            };
            out.push(finding(
                kind,
                severity,
                format!(
                    "Certificate [{}] {} of {server} {verb} {date}{relation} {}{end}",
                    c.index,
                    short(&c.subject),
                    check.checked_at
                ),
                format!("{evidence} {field} of [{}] = {date}.", c.index),
            ));
        }
    }
    if check.self_signed_leaf {
        let trusted = check.path == PathStatus::Trusted;
        out.push(finding(
            FindingKind::SelfSigned,
            if trusted {
                Severity::Warning
            } else {
                Severity::Error
            },
            [
                server.as_str(),
                " presents a self-signed certificate (",
                chain.first().map(|c| short(&c.subject)).unwrap_or("?"),
                ")",
                if trusted {
                    ", trusted here only because it was given as a root"
                } else {
                    ""
                },
                ".",
            ]
            .concat(),
            evidence.clone(),
        ));
    }
    for w in &check.weak_signature {
        out.push(finding(
            FindingKind::WeakSignature,
            Severity::Warning,
            format!(
                "Certificate [{}] {} of {server} is signed with {}, which modern clients reject.",
                w.index,
                short(&w.subject),
                w.algorithm
            ),
            format!("{evidence} signature of [{}] = {}.", w.index, w.algorithm),
        ));
    }
    for k in &check.weak_key {
        out.push(finding(
            FindingKind::WeakKey,
            Severity::Warning,
            format!(
                "Certificate [{}] {} of {server} has a weak {} key.",
                k.index,
                short(&k.subject),
                k.key
            ),
            format!("{evidence} key of [{}] = {}.", k.index, k.key),
        ));
    }
    for rv in &check.revoked {
        let at = match (rv.source.as_str(), ocsp_packet) {
            ("stapled OCSP", Some(p)) => format!(" (CertificateStatus in packet {p})"),
            _ => String::new(),
        };
        out.push(finding(
            FindingKind::CertRevoked,
            Severity::Error,
            format!("Certificate [{}] {} (serial {}) of {server} was revoked on {} according to the {}{at}.", rv.index, short(&rv.subject), rv.serial, rv.revoked_at, rv.source),
            format!("{evidence} Revocation source: {}{at}; signature verified: {}.", rv.source, rv.signature_verified),
        ));
    }
    out
}

/// `chain-untrusted`: the chain ends at `root`, which the store in use lacks. Says which clients
/// reject it, so that it reads true whether this client accepted the chain or not.
fn untrusted_root(
    server: &str,
    chain: &[CertInfo],
    check: &ChainCheck,
    root: &str,
    evidence: &str,
) -> Finding {
    let sent = chain.iter().any(|c| c.self_signed && c.subject == root);
    let name = short(root);
    let store = &*check.store;
    let mozilla = check.mozilla_roots;
    let (message, fix) = match (&check.root_in_os_store, sent) {
        (Some(os), _) => (
            format!(
                "The chain {server} sent ends at the root {name}{}, which is not in the trust store in use ({store}) but is in this machine's OS store ({os}): clients whose store {} reject the chain; clients whose store still holds {name} (many OS, Java and older stores) accept it.",
                if sent { "" } else { " (not sent, named as the issuer of the last certificate)" },
                if mozilla { "follows Mozilla's current list (Firefox, rustls with webpki-roots, updated systems)" } else { "lacks it" },
            ),
            format!("Server: move to a chain that ends at a root current stores hold (CAs offer one for a retired root; send its intermediates); clients that must work meanwhile need {name} in their trust store (tlscap: --system-roots, or --ca-file with that root)."),
        ),
        (None, true) => (
            format!(
                "The chain {server} sent is complete but ends in the root {name}, which is not in the trust store in use ({store}): clients whose store lacks it reject the chain."
            ),
            FindingKind::ChainUntrusted.fix().to_string(),
        ),
        (None, false) => (
            format!(
                "The chain {server} sent ends at {name}, the issuer of its last certificate (not sent), which is not a root in the trust store in use ({store}){}: clients whose store lacks it (a retired public root or a private CA) reject the chain; if {name} is an intermediate rather than a root, the server must send it.",
                match &check.os_store_consulted {
                    Some(os) => format!(" nor in this machine's OS store ({os})"),
                    None => String::new(),
                },
            ),
            format!("Server: move to a chain that ends at a root current stores hold, or send the missing intermediate if {name} is one; client: if {name} is a legitimate private or legacy root, add it to the client's trust store (tlscap: --ca-file)."),
        ),
    };
    finding(
        FindingKind::ChainUntrusted,
        Severity::Error,
        message,
        evidence.to_string(),
    )
    .with_fix(fix)
}

/// `chain-invalid`: `why` in words, `reason` as the validator put it.
fn chain_invalid(server: &str, why: &str, reason: &str, evidence: &str) -> Finding {
    finding(
        FindingKind::ChainInvalid,
        Severity::Error,
        [
            "The chain ",
            server,
            " sent does not validate: ",
            why,
            " (rustls-webpki: ",
            reason,
            ").",
        ]
        .concat(),
        evidence.to_string(),
    )
}

const BAD_SIGNATURE: &str = "a signature does not verify with its issuer's key";

/// Why a path is invalid, in words.
fn validator_reason(why: &InvalidPath) -> &'static str {
    use webpki::Error as E;
    let e = match why {
        InvalidPath::NoCommonTime(_) => return "the certificates' validity periods do not overlap",
        InvalidPath::LeafUnparsable => return "the leaf certificate is not parsable X.509",
        InvalidPath::LeafRejected(e) | InvalidPath::Rejected(e) => e,
    };
    match e {
        E::InvalidSignatureForPublicKey => BAD_SIGNATURE,
        // webpki gives these with their context (the unit variants are deprecated).
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "a certificate is signed with an algorithm the validator rejects, such as SHA-1"
        }
        E::UnsupportedCriticalExtension => "a certificate carries an unknown critical extension",
        E::RequiredEkuNotFoundContext(_) => {
            "a certificate's extended key usage does not allow server authentication"
        }
        E::NameConstraintViolation => "a name lies outside a CA's name constraints",
        E::CaUsedAsEndEntity => "the leaf is a CA certificate",
        E::EndEntityUsedAsCa => "a certificate that is not a CA issues another",
        E::PathLenConstraintViolated => {
            "the chain is longer than a CA's path length constraint allows"
        }
        E::UnsupportedCertVersion => "a certificate is not X.509 version 3",
        E::InvalidCertValidity => "a certificate's validity period is malformed",
        E::BadDer | E::BadDerTime | E::TrailingData(_) => "a certificate is malformed DER",
        E::MaximumPathDepthExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded => {
            "path building gave up (too many certificates or signatures)"
        }
        _ => "the validator rejects it",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What `short` must return: the first `CN=` component of `split(", ")`.
    fn by_split(dn: &str) -> &str {
        dn.split(", ")
            .find_map(|p| p.strip_prefix("CN="))
            .unwrap_or(dn)
    }

    /// Hand-written DNs, one edge case each.
    #[test]
    fn short_takes_the_first_common_name() {
        for (dn, cn) in [
            ("CN=selfsigned.bench.test", "selfsigned.bench.test"),
            ("C=US, O=Let's Encrypt, CN=R3", "R3"),
            ("CN=a, CN=b", "a"),
            ("O=x,CN=y", "O=x,CN=y"),
            ("O=CN=z", "O=CN=z"),
            ("O=x, ", "O=x, "),
            ("", ""),
            ("CN=", ""),
            ("O=é, CN=ü", "ü"),
        ] {
            assert_eq!(short(dn), cn, "{dn}");
            assert_eq!(by_split(dn), cn, "{dn}");
        }
    }

    proptest! {
        #[test]
        fn short_agrees_with_split(dn in "((CN|O|C)=|, |,| |[a-zé])*") {
            prop_assert_eq!(short(&dn), by_split(&dn));
        }
    }
}
