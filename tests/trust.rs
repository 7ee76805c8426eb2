//! Trust-store honesty and invalid chains on real corpus captures (issue 22): a chain that ends
//! at a root the store in use lacks is told apart from a missing intermediate, names the store,
//! and says which clients reject it; a chain whose signature fails is never silent.
//!
//! The OS store is given explicitly (`tests/fixtures/certs/real/os-store-excerpt.pem`: DigiCert
//! Global Root CA and Baltimore CyberTrust Root, copied from Debian's ca-certificates
//! 20230311) so that the sentences do not depend on the machine running the tests.

mod common;

use std::path::{Path, PathBuf};

use tlscap::app::{analyze_file, shared_validator, Options};
use tlscap::certs::TrustOptions;
use tlscap::record::{ConnectionRecord, Outcome};

fn os_excerpt() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/certs/real/os-store-excerpt.pem")
}

fn options(trust: TrustOptions) -> Options {
    Options {
        validator: Some(shared_validator(&trust).expect("trust anchors")),
        ..Options::default()
    }
}

/// The OS store consulted, not trusted (the default).
fn consulted() -> Options {
    options(TrustOptions {
        system_bundle: Some(os_excerpt()),
        ..TrustOptions::default()
    })
}

fn record(corpus: &Path, rel: &str, index: u64, opts: &Options) -> ConnectionRecord {
    analyze_file(&corpus.join(rel), opts)
        .connections
        .into_iter()
        .find(|r| r.index == index)
        .unwrap_or_else(|| panic!("{rel} has no connection #{index}"))
}

/// (id, severity, message) of the chain findings.
fn chain_findings(r: &ConnectionRecord) -> Vec<(&'static str, &'static str, String)> {
    r.findings
        .iter()
        .filter(|f| f.kind.id().starts_with("chain-"))
        .map(|f| (f.kind.id(), f.severity.as_str(), f.message.clone()))
        .collect()
}

/// browsers-x509.pcapng #1: adnxs.com sends its leaf and GeoTrust ECC CA 2018, issued by
/// DigiCert Global Root CA, which left Mozilla's list but is in Debian's store. The browser went
/// on: a warning naming both stores, not "an intermediate is missing".
#[test]
fn a_root_retired_from_mozilla_but_in_the_os_store_is_named() {
    let Some(corpus) = common::corpus("a_root_retired_from_mozilla") else {
        return;
    };
    let rel = "ja4/pcap/browsers-x509.pcapng";
    let r = record(&corpus, rel, 1, &consulted());
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(r.chain_status.as_deref(), Some("untrusted"));
    assert_eq!(
        chain_findings(&r),
        [(
            "chain-untrusted",
            "warning",
            format!(
                "The chain 68.67.160.117:443 sent ends at the root DigiCert Global Root CA (not \
                 sent, named as the issuer of the last certificate), which is not in the trust \
                 store in use (Mozilla's root list (webpki-roots 1.0.10)) but is in this \
                 machine's OS store ({}): clients whose store follows Mozilla's current list \
                 (Firefox, rustls with webpki-roots, updated systems) reject the chain; clients \
                 whose store still holds DigiCert Global Root CA (many OS, Java and older \
                 stores) accept it.",
                os_excerpt().display()
            )
        )]
    );
    let fix = &r
        .findings
        .iter()
        .find(|f| f.kind.id() == "chain-untrusted")
        .unwrap()
        .remediation;
    assert!(
        fix.starts_with("Server: move to a chain that ends at a root current stores hold"),
        "{fix}"
    );

    // Trusting the OS store (--system-roots): the chain validates and nothing is said.
    let trusted = options(TrustOptions {
        system_roots: true,
        system_bundle: Some(os_excerpt()),
        ..TrustOptions::default()
    });
    let r = record(&corpus, rel, 1, &trusted);
    assert_eq!(r.chain_status.as_deref(), Some("trusted"));
    assert_eq!(chain_findings(&r), []);
}

/// iphone.pcap #0: Apple's intermediate is issued by GeoTrust Global CA, a root retired from
/// Mozilla's list and Debian's: the chain ends at a root no store here holds.
#[test]
fn a_retired_root_in_no_store_is_not_a_missing_intermediate() {
    let Some(corpus) = common::corpus("a_retired_root_in_no_store") else {
        return;
    };
    let r = record(
        &corpus,
        "nDPI/tests/cfgs/default/pcap/iphone.pcap",
        0,
        &consulted(),
    );
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(
        chain_findings(&r),
        [(
            "chain-untrusted",
            "warning",
            format!(
                "The chain 17.248.185.140:443 sent ends at GeoTrust Global CA, the issuer of its \
                 last certificate (not sent), which is not a root in the trust store in use \
                 (Mozilla's root list (webpki-roots 1.0.10)) nor in this machine's OS store \
                 ({}): clients whose store lacks it (a retired public root or a private CA) \
                 reject the chain; if GeoTrust Global CA is an intermediate rather than a root, \
                 the server must send it.",
                os_excerpt().display()
            )
        )]
    );
}

/// ftp-start-tls.pcap #0: only the leaf was sent, issued by a Huawei CA that is not a root
/// anywhere: the intermediate is missing.
#[test]
fn a_leaf_sent_alone_is_a_missing_intermediate() {
    let Some(corpus) = common::corpus("a_leaf_sent_alone") else {
        return;
    };
    let r = record(
        &corpus,
        "nDPI/tests/cfgs/default/pcap/ftp-start-tls.pcap",
        0,
        &consulted(),
    );
    assert_eq!(
        chain_findings(&r),
        [(
            "chain-incomplete",
            "warning",
            "The chain 10.220.50.76:21 sent (1 certificate) does not reach a trusted root: only \
             the leaf was sent and its issuer Huawei Wireless Network Product CA is not a root \
             in the trust store in use (Mozilla's root list (webpki-roots 1.0.10)): the \
             intermediate certificate is missing."
                .to_string()
        )]
    );
}

/// badcurveball.pcap #0 (CVE-2020-0601 test): the chain ends in the sent root INFIGO and the
/// client rejected it with a fatal certificate_unknown: an error, the alert following it.
#[test]
fn an_untrusted_root_the_client_rejected_stays_an_error() {
    let Some(corpus) = common::corpus("an_untrusted_root_the_client_rejected") else {
        return;
    };
    let r = record(&corpus, "ja4/pcap/badcurveball.pcap", 0, &consulted());
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.cause.as_deref(), Some("chain-untrusted"));
    assert_eq!(
        chain_findings(&r),
        [(
            "chain-untrusted",
            "error",
            "The chain 54.226.182.138:443 sent is complete but ends in the root INFIGO, which is \
             not in the trust store in use (Mozilla's root list (webpki-roots 1.0.10)): clients \
             whose store lacks it reject the chain."
                .to_string()
        )]
    );
}

/// tls-subject-zero: suricata-verify's copy of go.microsoft.com with a NUL written into its
/// subject, so its signature no longer verifies. Reported whether or not its root (Baltimore,
/// via the OS store) is trusted; once it is, the reason is rustls-webpki's.
#[test]
fn a_forged_signature_is_chain_invalid() {
    let Some(corpus) = common::corpus("a_forged_signature_is_chain_invalid") else {
        return;
    };
    let rel = "suricata-verify/tests/tls/tls-subject-zero/input.pcap";
    let r = record(&corpus, rel, 0, &consulted());
    let invalid: Vec<_> = chain_findings(&r)
        .into_iter()
        .filter(|f| f.0 == "chain-invalid")
        .collect();
    assert_eq!(
        invalid,
        [(
            "chain-invalid",
            "warning",
            "The chain 127.0.0.1:443 sent does not validate: the signature of [0] \
             go.microsoft.com does not verify with the key of its issuer [1] Microsoft RSA TLS \
             CA 01: the certificate was altered or forged, and every validating client rejects \
             it."
            .to_string()
        )]
    );

    let trusted = options(TrustOptions {
        system_roots: true,
        system_bundle: Some(os_excerpt()),
        ..TrustOptions::default()
    });
    let r = record(&corpus, rel, 0, &trusted);
    assert_eq!(r.chain_status.as_deref(), Some("bad-signature"));
    assert_eq!(
        chain_findings(&r),
        [(
            "chain-invalid",
            "warning",
            "The chain 127.0.0.1:443 sent does not validate: a signature does not verify with \
             its issuer's key (rustls-webpki: InvalidSignatureForPublicKey)."
                .to_string()
        )]
    );
}
