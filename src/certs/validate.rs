//! Chain, hostname and revocation checks of a server chain as sent.
//!
//! Path building and signature checks are rustls-webpki's; this module only classifies the
//! outcome for diagnoses and adds what webpki does not report (per-certificate validity at the
//! capture time, ordering, weak algorithms, CRL/OCSP revocation, the commonName fallback).
//!
//! Captures repeat the same chain thousands of times, so everything that does not depend on the
//! capture time is computed once per distinct chain (keyed by the SHA-256 of its certificates)
//! and the time comparisons are redone on every call.

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use serde::Serialize;
use sha2::{Digest, Sha256};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo, X509Certificate, X509Name};

use super::hostname::{dns_name_matches, is_ip_literal};
use super::info::{facts, name_text, rfc3339_secs, CertFacts};
use super::revocation::{
    looks_like_pem, parse_ocsp_response, CrlSet, OcspCertStatus, OcspResponse,
};
use super::CertsError;
use crate::time::Timestamp;

/// Where the trust anchors and revocation lists come from.
#[derive(Debug, Clone, Default)]
pub struct TrustOptions {
    /// PEM (or single-DER) files of extra roots to trust ("uploaded roots"); each may hold
    /// several certificates.
    pub extra_ca_files: Vec<PathBuf>,
    /// Also trust the operating system's CA bundle (first of [`SYSTEM_CA_BUNDLES`] that exists).
    pub system_roots: bool,
    /// CRL files (DER or PEM).
    pub crl_files: Vec<PathBuf>,
    /// Leave Mozilla's roots (webpki-roots) out, trusting only the extra and system roots.
    pub without_mozilla_roots: bool,
    /// The OS CA bundle to trust or consult instead of the first of [`SYSTEM_CA_BUNDLES`] that
    /// exists.
    pub system_bundle: Option<PathBuf>,
    /// Do not consult the OS store when a chain ends at a root the store in use lacks (its
    /// roots are then never named in messages; tests use this for machine-independent output).
    pub ignore_system_store: bool,
}

/// The version of webpki-roots (Mozilla's root list) built in, named in messages so a verdict
/// can be traced to the list it was judged against (a unit test keeps it equal to Cargo.lock's).
pub const WEBPKI_ROOTS_VERSION: &str = "1.0.10";

/// CA bundle locations of common distributions (Debian/Ubuntu/Alpine, Fedora/RHEL, openSUSE,
/// RHEL 7+, macOS/BSD), tried in order when [`TrustOptions::system_roots`] is set.
pub const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Outcome of path building (time-independent: judged at a time when the certificates are valid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PathStatus {
    /// A path to a trust anchor exists.
    Trusted,
    /// The issuer of the last certificate reachable from the leaf was neither sent nor is a trust
    /// anchor.
    Incomplete {
        /// That missing issuer's DN.
        last_sent_issuer: String,
    },
    /// The chain ends at a root that is not a trust anchor: a self-signed root that was sent, or
    /// the issuer of the last CA certificate sent (public chains are leaf, intermediates, root,
    /// so the missing issuer of an intermediate is taken to be a root), or the issuer of the leaf
    /// when the OS store holds it as a root.
    Untrusted {
        /// The root's subject DN.
        root_subject: String,
    },
    /// A signature in the path does not verify.
    BadSignature {
        /// webpki's error.
        reason: String,
    },
    /// Any other webpki rejection (EKU, name constraints, unsupported algorithm, v1 leaf, ...).
    Invalid {
        /// What webpki (or the parser) said.
        #[serde(serialize_with = "serialize_display")]
        reason: InvalidPath,
    },
    /// No certificate was sent.
    Empty,
}

/// Why a chain that names a path to an anchor still does not validate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidPath {
    /// x509-parser cannot read the leaf.
    LeafUnparsable,
    /// webpki refuses the leaf itself, before building a path.
    LeafRejected(webpki::Error),
    /// No time lies within every certificate of the path (the time error webpki gave last,
    /// if any candidate time was tried).
    NoCommonTime(Option<webpki::Error>),
    /// webpki rejects the path.
    Rejected(webpki::Error),
}

/// As the chain's status reads (`invalid: <this>`): webpki's error by name.
impl std::fmt::Display for InvalidPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvalidPath::LeafUnparsable => {
                f.write_str("the leaf certificate is not parsable X.509")
            }
            InvalidPath::LeafRejected(e) => write!(f, "webpki rejects the leaf: {}", error_text(e)),
            InvalidPath::NoCommonTime(Some(e)) => write!(
                f,
                "no time at which the whole path is valid ({})",
                error_text(e)
            ),
            InvalidPath::NoCommonTime(None) => f.write_str("no usable validity period"),
            InvalidPath::Rejected(e) => f.write_str(&error_text(e)),
        }
    }
}

fn serialize_display<T: std::fmt::Display, S: serde::Serializer>(
    v: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A certificate whose validity period excludes the capture time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertTime {
    /// Position in the chain as sent (0 = leaf).
    pub index: usize,
    /// Subject DN.
    pub subject: String,
    /// notBefore, RFC 3339 UTC.
    pub not_before: String,
    /// notAfter, RFC 3339 UTC.
    pub not_after: String,
}

/// How close to its notAfter a certificate valid at the capture time is reported as expiring.
pub const EXPIRING_WITHIN_SECS: i64 = 30 * 86_400;

/// The result of matching a name against the leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostnameCheck {
    /// The name checked (SNI or expected host), lower-cased, trailing dot removed.
    pub name: String,
    /// The leaf is valid for it.
    pub matched: bool,
    /// The names the leaf offers: SAN DNS names then SAN IPs, or the commonName when there is
    /// no subjectAltName.
    pub cert_names: Vec<String>,
    /// The leaf has no subjectAltName, so the commonName was used (legacy clients only; modern
    /// ones reject such certificates whatever the CN says).
    pub via_common_name: bool,
}

/// A certificate signed with MD2/MD5/SHA-1 (self-signed roots are not listed: their own
/// signature is never checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeakSignature {
    /// Position in the chain as sent.
    pub index: usize,
    /// Subject DN.
    pub subject: String,
    /// Signature algorithm name.
    pub algorithm: String,
}

/// A certificate with an RSA/DSA key under 2048 bits or an EC key under 224 bits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeakKey {
    /// Position in the chain as sent.
    pub index: usize,
    /// Subject DN.
    pub subject: String,
    /// Key description, e.g. `RSA 1024`.
    pub key: String,
}

/// A deviation from "each certificate is followed by its issuer" (RFC 8446 §4.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderProblem {
    /// The issuer of certificate `index` was sent, but not right after it.
    OutOfOrder {
        /// The certificate.
        index: usize,
        /// Its subject.
        subject: String,
        /// Where its issuer was sent.
        issuer_index: usize,
    },
    /// A certificate (not the leaf) that issues no other certificate sent.
    Unrelated {
        /// The certificate.
        index: usize,
        /// Its subject.
        subject: String,
    },
    /// The same certificate sent again.
    Duplicate {
        /// The repeat.
        index: usize,
        /// The first occurrence.
        first_index: usize,
        /// Its subject.
        subject: String,
    },
}

/// A revoked certificate in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revoked {
    /// Position in the chain as sent.
    pub index: usize,
    /// Subject DN.
    pub subject: String,
    /// Serial, lower-case hex with colons.
    pub serial: String,
    /// `CRL <file>` or `stapled OCSP`.
    pub source: String,
    /// Revocation time, RFC 3339 UTC.
    pub revoked_at: String,
    /// The CRL's signature was checked with its issuer's key (false when that key was neither
    /// sent nor a trust anchor, or for OCSP, whose signature is not checked).
    pub signature_verified: bool,
}

/// What the stapled OCSP response says about the leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StapledOcsp {
    /// `good`.
    Good,
    /// `revoked` (also listed in [`ChainCheck::revoked`]).
    Revoked {
        /// revocationTime, RFC 3339 UTC.
        revoked_at: String,
    },
    /// `unknown`.
    Unknown,
    /// The response has no entry for the leaf's serial.
    NotListed,
    /// responseStatus is not `successful`.
    Unsuccessful {
        /// responseStatus name.
        response_status: String,
    },
    /// The bytes are not an OCSPResponse.
    Unparsable {
        /// Why.
        reason: String,
    },
}

/// A certificate whose signature does not verify with the key of the issuer sent beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenSignature {
    /// Position in the chain as sent.
    pub index: usize,
    /// Subject DN.
    pub subject: String,
    /// Position of the issuer whose key it was checked with.
    pub issuer_index: usize,
}

/// A certificate x509-parser could not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnparsableCert {
    /// Position in the chain as sent.
    pub index: usize,
    /// Parser error.
    pub reason: String,
}

/// Everything the findings rules need about one server chain at one capture time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainCheck {
    /// Number of certificates sent.
    pub chain_len: usize,
    /// Path building outcome (independent of the capture time).
    pub path: PathStatus,
    /// Positions (in the chain as sent) of the certificates the trusted path uses, leaf first;
    /// empty unless `path` is `Trusted`. Certificates not listed were sent needlessly.
    pub path_indices: Vec<usize>,
    /// Subject of the trust anchor the path ends at (when `Trusted`).
    pub anchor_subject: Option<String>,
    /// The capture time the validity was judged at, RFC 3339 UTC.
    pub checked_at: String,
    /// Certificates whose notAfter is before the capture time.
    pub expired: Vec<CertTime>,
    /// Certificates whose notBefore is after the capture time.
    pub not_yet_valid: Vec<CertTime>,
    /// Certificates valid at the capture time whose notAfter comes within
    /// [`EXPIRING_WITHIN_SECS`] of it.
    pub expiring: Vec<CertTime>,
    /// Name check (absent when no name was given).
    pub hostname: Option<HostnameCheck>,
    /// The leaf is self-signed.
    pub self_signed_leaf: bool,
    /// MD2/MD5/SHA-1 signatures on certificates other than self-signed roots.
    pub weak_signature: Vec<WeakSignature>,
    /// Small keys.
    pub weak_key: Vec<WeakKey>,
    /// Ordering problems, duplicates, unrelated certificates.
    pub order_problems: Vec<OrderProblem>,
    /// Revoked certificates (CRLs revoking before the capture time, or the stapled OCSP response).
    pub revoked: Vec<Revoked>,
    /// The stapled OCSP response's verdict on the leaf (absent when nothing was stapled).
    pub stapled_ocsp: Option<StapledOcsp>,
    /// Certificates that could not be parsed.
    pub unparsable: Vec<UnparsableCert>,
    /// The trust store the path was judged against, e.g. `Mozilla's root list (webpki-roots
    /// 1.0.10)`.
    pub store: Arc<str>,
    /// Whether that store holds Mozilla's root list (webpki-roots).
    #[serde(skip)]
    pub mozilla_roots: bool,
    /// When `path` is `Untrusted`: the OS CA bundle that holds that root although the store in
    /// use does not (consulted, not trusted, unless `system_roots`).
    pub root_in_os_store: Option<Arc<str>>,
    /// The OS CA bundle consulted (not trusted) to tell retired or OS-only roots from private
    /// ones; absent when it is trusted, ignored or missing.
    pub os_store_consulted: Option<Arc<str>>,
    /// Signatures that do not verify with the key of their issuer as sent (checked whatever the
    /// path, so an untrusted or incomplete chain with a forged certificate is not silent).
    pub broken_signatures: Vec<BrokenSignature>,
}

/// Cache counters (for tests and `--stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Chain lookups answered from the cache.
    pub chain_hits: u64,
    /// Chains validated.
    pub chain_misses: u64,
}

/// A CRL entry matched to a certificate of the chain (time filter applied per call).
#[derive(Debug, Clone)]
struct CrlHit {
    index: usize,
    file: String,
    revoked_at: i64,
    signature_verified: bool,
}

/// The time-independent part of a chain's check, cached per distinct chain.
#[derive(Debug)]
struct ChainFacts {
    /// SHA-256 of the leaf (keys the hostname cache).
    leaf_fingerprint: [u8; 32],
    certs: Vec<Option<CertFacts>>,
    path: PathStatus,
    path_indices: Vec<usize>,
    anchor_subject: Option<String>,
    self_signed_leaf: bool,
    weak_signature: Vec<WeakSignature>,
    weak_key: Vec<WeakKey>,
    order_problems: Vec<OrderProblem>,
    crl_hits: Vec<CrlHit>,
    unparsable: Vec<UnparsableCert>,
    root_in_os_store: bool,
    broken_signatures: Vec<BrokenSignature>,
}

/// Caches stop growing past this many entries (hostile captures can carry endless distinct
/// chains); they are then cleared and refilled.
const CACHE_LIMIT: usize = 50_000;

/// Bytes a validator's caches hold before each is cleared and refilled, unless
/// [`Validator::with_cache_bytes`] says otherwise: half for chains, counted as three times the
/// DER kept to confirm their hits (the facts decoded from a chain, names and all, are about
/// twice its DER; 16 MiB holds some 1,300 chains of 4 KB), a quarter each for name checks and
/// OCSP responses (a name check keeps the leaf's names, and a certificate can carry thousands:
/// 1,500 certificates of 6,800 names each held 600 MB by count alone).
const DEFAULT_CACHE_BYTES: usize = 32 << 20;

/// Ordering analysis and the issuer walk (quadratic) look at this many certificates at most;
/// real chains have fewer than ten, hostile ones may have thousands.
const MAX_ORDER_ANALYSIS: usize = 64;

/// Path building is tried at most at this many candidate times per chain.
const MAX_TIME_CANDIDATES: usize = 16;

/// Trust anchors and revocation lists: loaded once, read-only, shared by every worker's
/// [`Validator`].
struct Trust {
    anchors: Vec<TrustAnchor<'static>>,
    /// Subject Names (full DER) of all anchors.
    anchor_subjects: HashSet<Vec<u8>>,
    /// DER of the extra and system roots (for CRL signature checks and issuer lookups).
    anchor_certs: Vec<Vec<u8>>,
    crls: CrlSet,
    /// The anchors' source, named for messages.
    store: Arc<str>,
    /// Whether the anchors include Mozilla's root list.
    mozilla_roots: bool,
    /// The OS CA bundle when it is consulted but not trusted: its file and its roots' subject
    /// Names (full DER).
    os_reference: Option<(Arc<str>, HashSet<Vec<u8>>)>,
}

/// Checks server chains against trust anchors at capture time, with caching.
///
/// The caches are the validator's own, so each worker thread owns one (see
/// [`Validator::for_worker`]) and signature checks never wait on another thread; the trust
/// anchors are shared.
pub struct Validator {
    trust: Arc<Trust>,
    caches: Caches,
    stats: CacheStats,
    /// What the caches hold at most (see [`DEFAULT_CACHE_BYTES`]).
    cache_bytes: usize,
}

/// What a validator remembers between checks (all of it independent of the capture time).
#[derive(Default)]
struct Caches {
    /// By [`super::der_key`]; a hit is confirmed against the chain's DER kept beside it.
    chains: crate::FastMap<u64, (Vec<Vec<u8>>, Arc<ChainFacts>)>,
    /// DER bytes held by `chains`.
    chains_bytes: usize,
    hostnames: crate::FastMap<([u8; 32], String), HostnameCheck>,
    hostnames_bytes: usize,
    staples: crate::FastMap<[u8; 32], Arc<Result<OcspResponse, String>>>,
    /// DER bytes of the responses in `staples` (their decoded form is about as large).
    staples_bytes: usize,
}

thread_local! {
    /// The caches of the last worker validator dropped on this thread, with the trust they
    /// were filled under: the next file this thread analyses under the same trust starts warm,
    /// since a batch's files repeat the same chains.
    static IDLE_CACHES: RefCell<Option<(Weak<Trust>, Caches)>> = const { RefCell::new(None) };
}

impl Drop for Validator {
    fn drop(&mut self) {
        if self.caches.chains.is_empty() {
            return;
        }
        let caches = std::mem::take(&mut self.caches);
        let trust = Arc::downgrade(&self.trust);
        // Fails only while the thread itself is shutting down: the caches are then dropped.
        let _ = IDLE_CACHES.try_with(|idle| *idle.borrow_mut() = Some((trust, caches)));
    }
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("anchors", &self.trust.anchors.len())
            .field("crls", &self.trust.crls.crls.len())
            .field("cached_chains", &self.caches.chains.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Validator {
    /// Loads the trust anchors and CRLs; errors name the offending file.
    pub fn new(opts: &TrustOptions) -> Result<Validator, CertsError> {
        let mut anchors: Vec<TrustAnchor<'static>> = if opts.without_mozilla_roots {
            Vec::new()
        } else {
            webpki_roots::TLS_SERVER_ROOTS.to_vec()
        };
        let mut store = Vec::new();
        if !opts.without_mozilla_roots {
            store.push(format!(
                "Mozilla's root list (webpki-roots {WEBPKI_ROOTS_VERSION})"
            ));
        }
        let mut anchor_certs = Vec::new();
        for path in &opts.extra_ca_files {
            store.push(format!("--ca-file {}", path.display()));
            let file = path.display().to_string();
            let ders = read_certificates(path)?;
            if ders.is_empty() {
                return Err(CertsError::NoCertificate { path: file });
            }
            for (index, der) in ders.into_iter().enumerate() {
                let anchor = anchor_from_der(&der).map_err(|reason| CertsError::BadAnchor {
                    path: file.clone(),
                    index,
                    reason,
                })?;
                anchors.push(anchor);
                anchor_certs.push(der);
            }
        }
        let bundle = opts.system_bundle.as_deref().or_else(|| {
            SYSTEM_CA_BUNDLES
                .iter()
                .map(Path::new)
                .find(|p| p.is_file())
        });
        let mut os_reference = None;
        if opts.system_roots {
            let bundle = bundle.ok_or_else(|| CertsError::NoSystemRoots {
                tried: SYSTEM_CA_BUNDLES.join(", "),
            })?;
            store.push(format!("the OS store {}", bundle.display()));
            // Bundles can hold a few certificates webpki refuses (odd encodings): skip those
            // rather than refusing the whole store.
            for der in read_certificates(bundle)? {
                if let Ok(anchor) = anchor_from_der(&der) {
                    anchors.push(anchor);
                    anchor_certs.push(der);
                }
            }
        } else if let Some(bundle) = bundle.filter(|_| !opts.ignore_system_store) {
            // Only consulted, to tell a retired or OS-only root from a private one; an unreadable
            // bundle just leaves that unsaid.
            let subjects: HashSet<Vec<u8>> = read_certificates(bundle)
                .unwrap_or_default()
                .iter()
                .filter_map(|der| anchor_from_der(der).ok())
                .map(|a| wrap_sequence(a.subject.as_ref()))
                .collect();
            if !subjects.is_empty() {
                os_reference = Some((Arc::from(bundle.display().to_string()), subjects));
            }
        }
        let store = if store.is_empty() {
            "no roots".to_string()
        } else {
            store.join(" + ")
        };
        let crls = CrlSet::load(&opts.crl_files)?;
        let anchor_subjects = anchors
            .iter()
            .map(|a| wrap_sequence(a.subject.as_ref()))
            .collect();
        Ok(Validator::with_trust(Arc::new(Trust {
            anchors,
            anchor_subjects,
            anchor_certs,
            crls,
            store: Arc::from(store),
            mozilla_roots: !opts.without_mozilla_roots,
            os_reference,
        })))
    }

    fn with_trust(trust: Arc<Trust>) -> Validator {
        Validator {
            trust,
            caches: Caches::default(),
            stats: CacheStats::default(),
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }

    /// A validator with the same trust anchors and CRLs (shared, not reloaded), for a worker
    /// on the calling thread. Its caches are those the last worker validator dropped on this
    /// thread left under the same trust, or empty; its counters start at zero.
    pub fn for_worker(&self) -> Validator {
        let caches = IDLE_CACHES
            .try_with(|idle| idle.borrow_mut().take())
            .ok()
            .flatten()
            .filter(|(trust, _)| {
                trust
                    .upgrade()
                    .is_some_and(|t| Arc::ptr_eq(&t, &self.trust))
            })
            .map(|(_, caches)| caches)
            .unwrap_or_default();
        Validator {
            trust: Arc::clone(&self.trust),
            caches,
            stats: CacheStats::default(),
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }

    /// What a validator's caches hold at most unless told otherwise.
    pub const DEFAULT_CACHE_BYTES: usize = DEFAULT_CACHE_BYTES;

    /// The same validator with caches that hold `bytes` in all (each worker of a batch gets an
    /// even part of the memory budget's share for caches).
    pub fn with_cache_bytes(mut self, bytes: usize) -> Validator {
        self.cache_bytes = bytes;
        self
    }

    /// Bytes of the chain cache before it starts over.
    fn chain_cache_bytes(&self) -> usize {
        self.cache_bytes / 2
    }

    /// Bytes of the name-check cache, and of the OCSP cache, before each starts over.
    fn small_cache_bytes(&self) -> usize {
        self.cache_bytes / 4
    }

    /// Number of trust anchors loaded.
    pub fn anchor_count(&self) -> usize {
        self.trust.anchors.len()
    }

    /// Cache counters so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Checks a server chain as sent (leaf first) against the anchors, at the capture time `at`,
    /// for `name` (SNI or expected host; `None` skips the name check), with an optional stapled
    /// OCSP response (DER). Never panics on hostile input; cheap when the chain was seen before.
    pub fn check<C: AsRef<[u8]>>(
        &mut self,
        chain: &[C],
        name: Option<&str>,
        at: Timestamp,
        stapled_ocsp: Option<&[u8]>,
    ) -> ChainCheck {
        // A cheap key and a DER comparison instead of hashing every certificate on each
        // check: this runs once per connection.
        let key = super::der_key(chain.iter().map(AsRef::as_ref));
        let cached = self
            .caches
            .chains
            .get(&key)
            .filter(|(ders, _)| {
                ders.len() == chain.len() && ders.iter().zip(chain).all(|(a, b)| a == b.as_ref())
            })
            .map(|(_, facts)| Arc::clone(facts));
        let chain_facts = match cached {
            Some(found) => {
                self.stats.chain_hits += 1;
                found
            }
            None => {
                self.stats.chain_misses += 1;
                let computed = Arc::new(self.chain_facts(chain));
                let ders: Vec<Vec<u8>> = chain.iter().map(|c| c.as_ref().to_vec()).collect();
                let bytes: usize = 3 * ders.iter().map(Vec::len).sum::<usize>();
                if self.caches.chains.len() >= CACHE_LIMIT
                    || self.caches.chains_bytes + bytes > self.chain_cache_bytes()
                {
                    self.caches.chains.clear();
                    self.caches.chains_bytes = 0;
                }
                self.caches.chains_bytes += bytes;
                if let Some((old, _)) = self
                    .caches
                    .chains
                    .insert(key, (ders, Arc::clone(&computed)))
                {
                    // A different chain with the same key: the newer one stays.
                    self.caches.chains_bytes -= 3 * old.iter().map(Vec::len).sum::<usize>();
                }
                computed
            }
        };

        let mut expired = Vec::new();
        let mut not_yet_valid = Vec::new();
        let mut expiring = Vec::new();
        for (index, cert) in chain_facts.certs.iter().enumerate() {
            let Some(cert) = cert else { continue };
            let entry = || CertTime {
                index,
                subject: cert.info.subject.clone(),
                not_before: cert.info.not_before.clone(),
                not_after: cert.info.not_after.clone(),
            };
            if (at.secs, at.nanos) > (cert.not_after, 0) {
                expired.push(entry());
            } else if at.secs < cert.not_before {
                not_yet_valid.push(entry());
            } else if cert.not_after.saturating_sub(at.secs) <= EXPIRING_WITHIN_SECS {
                expiring.push(entry());
            }
        }

        let mut revoked: Vec<Revoked> = chain_facts
            .crl_hits
            .iter()
            .filter(|hit| hit.revoked_at <= at.secs)
            .filter_map(|hit| {
                let cert = chain_facts.certs.get(hit.index)?.as_ref()?;
                Some(Revoked {
                    index: hit.index,
                    subject: cert.info.subject.clone(),
                    serial: cert.info.serial.clone(),
                    source: format!("CRL {}", hit.file),
                    revoked_at: rfc3339_secs(hit.revoked_at),
                    signature_verified: hit.signature_verified,
                })
            })
            .collect();

        let leaf = chain_facts.certs.first().and_then(Option::as_ref);
        let stapled = stapled_ocsp.map(|der| {
            let parsed = self.staple(der);
            ocsp_verdict(&parsed, leaf)
        });
        if let (Some(StapledOcsp::Revoked { revoked_at }), Some(leaf)) = (&stapled, leaf) {
            revoked.push(Revoked {
                index: 0,
                subject: leaf.info.subject.clone(),
                serial: leaf.info.serial.clone(),
                source: "stapled OCSP".to_string(),
                revoked_at: revoked_at.clone(),
                signature_verified: false,
            });
        }

        let leaf_fp = (!chain.is_empty()).then_some(&chain_facts.leaf_fingerprint);
        let hostname = name.map(|name| self.hostname(leaf_fp, leaf, name));

        ChainCheck {
            chain_len: chain.len(),
            path: chain_facts.path.clone(),
            path_indices: chain_facts.path_indices.clone(),
            anchor_subject: chain_facts.anchor_subject.clone(),
            checked_at: at.rfc3339(),
            expired,
            not_yet_valid,
            expiring,
            hostname,
            self_signed_leaf: chain_facts.self_signed_leaf,
            weak_signature: chain_facts.weak_signature.clone(),
            weak_key: chain_facts.weak_key.clone(),
            order_problems: chain_facts.order_problems.clone(),
            revoked,
            stapled_ocsp: stapled,
            unparsable: chain_facts.unparsable.clone(),
            store: Arc::clone(&self.trust.store),
            mozilla_roots: self.trust.mozilla_roots,
            root_in_os_store: if chain_facts.root_in_os_store {
                self.trust
                    .os_reference
                    .as_ref()
                    .map(|(path, _)| Arc::clone(path))
            } else {
                None
            },
            os_store_consulted: self.trust.os_reference.as_ref().map(|(p, _)| Arc::clone(p)),
            broken_signatures: chain_facts.broken_signatures.clone(),
        }
    }

    /// Decoded stapled OCSP response, cached by its SHA-256.
    fn staple(&mut self, der: &[u8]) -> Arc<Result<OcspResponse, String>> {
        let key: [u8; 32] = Sha256::digest(der).into();
        if let Some(found) = self.caches.staples.get(&key) {
            return Arc::clone(found);
        }
        let parsed = Arc::new(parse_ocsp_response(der).map_err(|e| e.to_string()));
        let bytes = 2 * der.len();
        if self.caches.staples.len() >= CACHE_LIMIT
            || self.caches.staples_bytes + bytes > self.small_cache_bytes()
        {
            self.caches.staples.clear();
            self.caches.staples_bytes = 0;
        }
        self.caches.staples_bytes += bytes;
        self.caches.staples.insert(key, Arc::clone(&parsed));
        parsed
    }

    /// Name check against the leaf, cached by (leaf fingerprint, name).
    fn hostname(
        &mut self,
        leaf_fp: Option<&[u8; 32]>,
        leaf: Option<&CertFacts>,
        name: &str,
    ) -> HostnameCheck {
        let name = normalize_name(name);
        let key = (leaf_fp.copied().unwrap_or_default(), name.clone());
        if let Some(found) = self.caches.hostnames.get(&key) {
            return found.clone();
        }
        let result = match leaf {
            Some(leaf) => match_name(leaf, &name),
            None => HostnameCheck {
                name: name.clone(),
                matched: false,
                cert_names: Vec::new(),
                via_common_name: false,
            },
        };
        self.remember_hostname(key, result.clone());
        result
    }

    /// Caches a name check, starting the cache over past [`CACHE_LIMIT`] entries or
    /// [`Validator::small_cache_bytes`].
    fn remember_hostname(&mut self, key: ([u8; 32], String), result: HostnameCheck) {
        let bytes = std::mem::size_of::<HostnameCheck>()
            + key.1.len()
            + result.name.len()
            + result
                .cert_names
                .iter()
                .map(|n| n.len() + std::mem::size_of::<String>())
                .sum::<usize>();
        if self.caches.hostnames.len() >= CACHE_LIMIT
            || self.caches.hostnames_bytes + bytes > self.small_cache_bytes()
        {
            self.caches.hostnames.clear();
            self.caches.hostnames_bytes = 0;
        }
        self.caches.hostnames_bytes += bytes;
        self.caches.hostnames.insert(key, result);
    }

    /// Everything about a chain that does not depend on the capture time.
    fn chain_facts<C: AsRef<[u8]>>(&self, chain: &[C]) -> ChainFacts {
        let mut unparsable = Vec::new();
        let certs: Vec<Option<CertFacts>> = chain
            .iter()
            .enumerate()
            .map(|(index, der)| match facts(der.as_ref()) {
                Ok(f) => Some(f),
                Err(e) => {
                    unparsable.push(UnparsableCert { index, reason: e.0 });
                    None
                }
            })
            .collect();
        let self_signed_leaf = certs
            .first()
            .and_then(Option::as_ref)
            .is_some_and(|leaf| leaf.info.self_signed);
        let mut weak_signature = Vec::new();
        let mut weak_key = Vec::new();
        for (index, cert) in certs.iter().enumerate() {
            let Some(cert) = cert else { continue };
            // A root's self-signature is never checked by clients, so its hash does not matter;
            // a self-signed leaf is the end of trust, so its signature is reported.
            if cert.weak_hash && (index == 0 || !cert.info.self_signed) {
                weak_signature.push(WeakSignature {
                    index,
                    subject: cert.info.subject.clone(),
                    algorithm: cert.info.signature.clone(),
                });
            }
            if cert.weak_key {
                weak_key.push(WeakKey {
                    index,
                    subject: cert.info.subject.clone(),
                    key: cert.info.key.clone(),
                });
            }
        }
        let order_problems = order_problems(&certs);
        let crl_hits = self.crl_hits(&certs);
        let (path, path_indices, anchor_subject) = self.build_path(chain, &certs);
        let root_in_os_store = matches!(path, PathStatus::Untrusted { .. })
            && chain_top(&certs).is_some_and(|top| {
                let root = if top.info.self_signed {
                    &top.subject_raw
                } else {
                    &top.issuer_raw
                };
                self.in_os_store(root)
            });
        let broken_signatures = broken_signatures(&certs);
        ChainFacts {
            leaf_fingerprint: chain
                .first()
                .map(|c| Sha256::digest(c.as_ref()).into())
                .unwrap_or_default(),
            certs,
            path,
            path_indices,
            anchor_subject,
            self_signed_leaf,
            weak_signature,
            weak_key,
            order_problems,
            crl_hits,
            unparsable,
            root_in_os_store,
            broken_signatures,
        }
    }

    /// The consulted OS store holds a root with this subject Name (full DER).
    fn in_os_store(&self, subject_raw: &[u8]) -> bool {
        self.trust
            .os_reference
            .as_ref()
            .is_some_and(|(_, subjects)| subjects.contains(subject_raw))
    }

    /// CRL entries for the chain's certificates whose CRL issuer equals the certificate's issuer.
    /// A CRL whose signature fails under every candidate issuer key is ignored.
    fn crl_hits(&self, certs: &[Option<CertFacts>]) -> Vec<CrlHit> {
        let mut hits = Vec::new();
        for (index, cert) in certs.iter().enumerate() {
            let Some(cert) = cert else { continue };
            for crl in self.trust.crls.for_issuer(&cert.issuer_raw) {
                let Some(revoked_at) = crl.revoked_at(&cert.serial) else {
                    continue;
                };
                let keys = self.issuer_keys(certs, &crl.issuer_raw);
                let signature_verified = if keys.is_empty() {
                    false
                } else if keys
                    .iter()
                    .any(|key| with_spki(key, |spki| crl.signed_by(spki)))
                {
                    true
                } else {
                    continue;
                };
                hits.push(CrlHit {
                    index,
                    file: crl.file.clone(),
                    revoked_at,
                    signature_verified,
                });
            }
        }
        hits
    }

    /// SubjectPublicKeyInfo DERs of every known certificate (sent or anchor) named `subject_raw`.
    fn issuer_keys(&self, certs: &[Option<CertFacts>], subject_raw: &[u8]) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        let sent = certs.iter().flatten().map(|c| c.der.as_slice());
        for der in sent.chain(self.trust.anchor_certs.iter().map(Vec::as_slice)) {
            if let Ok((_, cert)) = X509Certificate::from_der(der) {
                if cert.subject().as_raw() == subject_raw {
                    keys.push(cert.public_key().raw.to_vec());
                }
            }
        }
        for anchor in &self.trust.anchors {
            if wrap_sequence(anchor.subject.as_ref()) == subject_raw {
                keys.push(wrap_sequence(anchor.subject_public_key_info.as_ref()));
            }
        }
        keys
    }

    /// Runs webpki and classifies its verdict: (status, indices of the path, anchor subject).
    fn build_path<C: AsRef<[u8]>>(
        &self,
        chain: &[C],
        certs: &[Option<CertFacts>],
    ) -> (PathStatus, Vec<usize>, Option<String>) {
        let Some(leaf_der) = chain.first() else {
            return (PathStatus::Empty, Vec::new(), None);
        };
        let Some(Some(leaf)) = certs.first() else {
            let reason = InvalidPath::LeafUnparsable;
            return (PathStatus::Invalid { reason }, Vec::new(), None);
        };
        match self.run_webpki(chain, leaf_der.as_ref(), certs, leaf) {
            Ok((indices, anchor)) => (PathStatus::Trusted, indices, anchor),
            // When no path to an anchor can exist whatever else is wrong (the chain ends in an
            // untrusted self-signed root, or its top issuer is neither sent nor an anchor), that
            // is the diagnosis; webpki may have reported another problem it met first
            // (CaUsedAsEndEntity on a self-signed CA leaf, UnsupportedCertVersion on v1 leaves).
            Err(failure) => match self.no_path_by_names(certs) {
                Some(status) => (status, Vec::new(), None),
                None => (failure, Vec::new(), None),
            },
        }
    }

    /// webpki path building at candidate times inside the certificates' validity.
    fn run_webpki<C: AsRef<[u8]>>(
        &self,
        chain: &[C],
        leaf_der: &[u8],
        certs: &[Option<CertFacts>],
        leaf: &CertFacts,
    ) -> Result<(Vec<usize>, Option<String>), PathStatus> {
        let leaf_der = CertificateDer::from(leaf_der);
        let end_entity = EndEntityCert::try_from(&leaf_der).map_err(|e| PathStatus::Invalid {
            reason: InvalidPath::LeafRejected(e),
        })?;
        let intermediates: Vec<CertificateDer<'_>> = chain
            .iter()
            .skip(1)
            .map(|c| CertificateDer::from(c.as_ref()))
            .collect();
        let mut last_error = None;
        for secs in candidate_times(certs, leaf) {
            let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
            let verified = end_entity.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &self.trust.anchors,
                &intermediates,
                time,
                KeyUsage::server_auth(),
                None,
                None,
            );
            match verified {
                Ok(path) => {
                    let mut indices = vec![0];
                    for cert in path.intermediate_certificates() {
                        let der = cert.der();
                        if let Some(pos) = chain
                            .iter()
                            .skip(1)
                            .position(|c| c.as_ref() == der.as_ref())
                        {
                            indices.push(pos + 1);
                        }
                    }
                    return Ok((indices, anchor_subject_text(path.anchor())));
                }
                Err(e) if is_time_error(&e) => last_error = Some(e),
                Err(e) => return Err(self.classify(&e, certs)),
            }
        }
        Err(PathStatus::Invalid {
            reason: InvalidPath::NoCommonTime(last_error),
        })
    }

    /// `Untrusted`/`Incomplete` when names alone show no path to an anchor can exist.
    fn no_path_by_names(&self, certs: &[Option<CertFacts>]) -> Option<PathStatus> {
        let top = chain_top(certs)?;
        if top.info.self_signed {
            (!self.trust.anchor_subjects.contains(&top.subject_raw)).then(|| {
                PathStatus::Untrusted {
                    root_subject: top.info.subject.clone(),
                }
            })
        } else {
            (!self.trust.anchor_subjects.contains(&top.issuer_raw))
                .then(|| self.missing_issuer(certs, top))
        }
    }

    /// The status of a chain whose top certificate `top` (not self-signed) names an issuer that
    /// was neither sent nor is an anchor: a root the store lacks when `top` is a CA certificate
    /// other than the leaf (its issuer is then a root in all but rare cross-signed chains) or
    /// when the OS store holds that issuer as a root; otherwise a missing intermediate.
    fn missing_issuer(&self, certs: &[Option<CertFacts>], top: &CertFacts) -> PathStatus {
        let top_is_leaf = certs
            .first()
            .and_then(Option::as_ref)
            .map_or(true, |leaf| std::ptr::eq(leaf, top));
        if (!top_is_leaf && top.info.is_ca) || self.in_os_store(&top.issuer_raw) {
            PathStatus::Untrusted {
                root_subject: top.info.issuer.clone(),
            }
        } else {
            PathStatus::Incomplete {
                last_sent_issuer: top.info.issuer.clone(),
            }
        }
    }

    /// Turns a (non-time) webpki error into a [`PathStatus`].
    fn classify(&self, e: &webpki::Error, certs: &[Option<CertFacts>]) -> PathStatus {
        use webpki::Error as E;
        match e {
            E::UnknownIssuer => match chain_top(certs) {
                Some(top) if top.info.self_signed => PathStatus::Untrusted {
                    root_subject: top.info.subject.clone(),
                },
                Some(top) => self.missing_issuer(certs, top),
                None => PathStatus::Invalid {
                    reason: InvalidPath::Rejected(e.clone()),
                },
            },
            E::InvalidSignatureForPublicKey => PathStatus::BadSignature {
                reason: error_text(e),
            },
            _ => PathStatus::Invalid {
                reason: InvalidPath::Rejected(e.clone()),
            },
        }
    }
}

/// Certificates whose signature fails with the key of an issuer sent beside them. Algorithms
/// x509-parser (ring) cannot check are skipped: only a definite mismatch counts.
fn broken_signatures(certs: &[Option<CertFacts>]) -> Vec<BrokenSignature> {
    let certs = certs.get(..MAX_ORDER_ANALYSIS).unwrap_or(certs);
    let mut broken = Vec::new();
    for (index, cert) in certs.iter().enumerate() {
        let Some(cert) = cert else { continue };
        if cert.info.self_signed {
            continue;
        }
        let issuers: Vec<(usize, &CertFacts)> = certs
            .iter()
            .enumerate()
            .filter_map(|(j, c)| c.as_ref().map(|c| (j, c)))
            .filter(|(j, c)| issues(c, cert, *j, index))
            .collect();
        let Some(&(issuer_index, _)) = issuers.first() else {
            continue;
        };
        let Ok((_, parsed)) = X509Certificate::from_der(&cert.der) else {
            continue;
        };
        let verdicts: Vec<Result<(), x509_parser::error::X509Error>> = issuers
            .iter()
            .filter_map(|(_, issuer)| X509Certificate::from_der(&issuer.der).ok())
            .map(|(_, issuer)| parsed.verify_signature(Some(issuer.public_key())))
            .collect();
        // Broken only when no issuer of that name verifies it and one definitely fails.
        let any_ok = verdicts.iter().any(Result::is_ok);
        let failed = verdicts.iter().any(|v| {
            matches!(
                v,
                Err(x509_parser::error::X509Error::SignatureVerificationError)
            )
        });
        if !any_ok && failed {
            broken.push(BrokenSignature {
                index,
                subject: cert.info.subject.clone(),
                issuer_index,
            });
        }
    }
    broken
}

/// Times to run path building at, best first: inside the common validity window of all the
/// certificates sent; then each certificate's own notBefore/notAfter (so a chain whose extra
/// certificates do not overlap is still judged at a time its actual path is valid).
fn candidate_times(certs: &[Option<CertFacts>], leaf: &CertFacts) -> Vec<u64> {
    let parsed: Vec<&CertFacts> = certs.iter().flatten().collect();
    let latest_start = parsed.iter().map(|c| c.not_before).max().unwrap_or(0);
    let earliest_end = parsed.iter().map(|c| c.not_after).min().unwrap_or(0);
    let mut times = Vec::new();
    if latest_start <= earliest_end {
        times.push(latest_start);
    }
    times.push(leaf.not_before);
    for cert in &parsed {
        times.push(cert.not_before);
        times.push(cert.not_after);
    }
    let mut unique: Vec<u64> = Vec::new();
    for t in times {
        let t = u64::try_from(t).unwrap_or(0);
        if !unique.contains(&t) {
            unique.push(t);
        }
        if unique.len() >= MAX_TIME_CANDIDATES {
            break;
        }
    }
    unique
}

fn is_time_error(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }
    )
}

/// The last certificate reached from the leaf by following issuer names through the
/// certificates sent (so a misordered but complete chain still ends at its root).
fn chain_top(certs: &[Option<CertFacts>]) -> Option<&CertFacts> {
    let certs = certs.get(..MAX_ORDER_ANALYSIS).unwrap_or(certs);
    let mut current_index = 0;
    let mut current = certs.first()?.as_ref()?;
    let mut visited = vec![0usize];
    while !current.info.self_signed {
        let next = certs.iter().enumerate().find_map(|(j, c)| {
            let c = c.as_ref()?;
            (!visited.contains(&j) && issues(c, current, j, current_index)).then_some((j, c))
        });
        match next {
            Some((j, c)) => {
                visited.push(j);
                current_index = j;
                current = c;
            }
            None => break,
        }
    }
    Some(current)
}

/// `issuer` (at `issuer_index`) names itself as `cert`'s issuer and the key identifiers agree.
fn issues(issuer: &CertFacts, cert: &CertFacts, issuer_index: usize, cert_index: usize) -> bool {
    if issuer_index == cert_index || issuer.subject_raw != cert.issuer_raw {
        return false;
    }
    match (&cert.aki, &issuer.ski) {
        (Some(aki), Some(ski)) => aki == ski,
        _ => true,
    }
}

/// Duplicates, misordered issuers and certificates that issue nothing sent.
fn order_problems(certs: &[Option<CertFacts>]) -> Vec<OrderProblem> {
    let certs = certs.get(..MAX_ORDER_ANALYSIS).unwrap_or(certs);
    let mut problems = Vec::new();
    let mut duplicate = vec![false; certs.len()];
    for (index, cert) in certs.iter().enumerate() {
        let Some(cert) = cert else { continue };
        let first = certs.iter().take(index).position(|c| {
            c.as_ref()
                .is_some_and(|c| c.fingerprint == cert.fingerprint)
        });
        if let Some(first_index) = first {
            if let Some(flag) = duplicate.get_mut(index) {
                *flag = true;
            }
            problems.push(OrderProblem::Duplicate {
                index,
                first_index,
                subject: cert.info.subject.clone(),
            });
        }
    }
    let distinct = |j: usize| !duplicate.get(j).copied().unwrap_or(true);
    for (index, cert) in certs.iter().enumerate() {
        let Some(cert) = cert else { continue };
        if !distinct(index) || cert.info.self_signed {
            continue;
        }
        let issuers: Vec<usize> = certs
            .iter()
            .enumerate()
            .filter(|(j, c)| distinct(*j) && c.as_ref().is_some_and(|c| issues(c, cert, *j, index)))
            .map(|(j, _)| j)
            .collect();
        if let Some(first_issuer) = issuers.first() {
            if !issuers.contains(&(index + 1)) {
                problems.push(OrderProblem::OutOfOrder {
                    index,
                    subject: cert.info.subject.clone(),
                    issuer_index: *first_issuer,
                });
            }
        }
    }
    for (index, cert) in certs.iter().enumerate().skip(1) {
        let Some(cert) = cert else { continue };
        if !distinct(index) {
            continue;
        }
        let issues_something = certs
            .iter()
            .enumerate()
            .any(|(k, c)| distinct(k) && c.as_ref().is_some_and(|c| issues(cert, c, index, k)));
        if !issues_something {
            problems.push(OrderProblem::Unrelated {
                index,
                subject: cert.info.subject.clone(),
            });
        }
    }
    problems
}

/// Lower-case, one trailing dot removed, IPv6 brackets removed.
fn normalize_name(name: &str) -> String {
    let name = name.trim();
    let name = name.strip_suffix('.').unwrap_or(name);
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    name.to_ascii_lowercase()
}

/// RFC 6125 match of `name` against the leaf: webpki on the SANs; the commonName when the leaf
/// has no subjectAltName at all.
fn match_name(leaf: &CertFacts, name: &str) -> HostnameCheck {
    if !leaf.has_san {
        let matched = !is_ip_literal(name)
            && leaf
                .info
                .common_name
                .as_deref()
                .is_some_and(|cn| dns_name_matches(cn, name));
        return HostnameCheck {
            name: name.to_string(),
            matched,
            cert_names: leaf.info.common_name.iter().cloned().collect(),
            via_common_name: true,
        };
    }
    let cert_names: Vec<String> = leaf
        .info
        .san_dns
        .iter()
        .chain(leaf.info.san_ip.iter())
        .cloned()
        .collect();
    let leaf_der = CertificateDer::from(leaf.der.as_slice());
    let by_webpki = match (
        EndEntityCert::try_from(&leaf_der),
        ServerName::try_from(name),
    ) {
        (Ok(ee), Ok(server_name)) => {
            Some(ee.verify_is_valid_for_subject_name(&server_name).is_ok())
        }
        _ => None,
    };
    // webpki cannot parse some leaves (v1, odd extensions) or names (underscores): then apply
    // the same rules to the SANs x509-parser read.
    let matched = by_webpki.unwrap_or_else(|| match name.parse::<IpAddr>() {
        Ok(ip) => leaf
            .info
            .san_ip
            .iter()
            .any(|s| s.parse::<IpAddr>().is_ok_and(|s| s == ip)),
        Err(_) => leaf.info.san_dns.iter().any(|p| dns_name_matches(p, name)),
    });
    HostnameCheck {
        name: name.to_string(),
        matched,
        cert_names,
        via_common_name: false,
    }
}

fn ocsp_verdict(parsed: &Result<OcspResponse, String>, leaf: Option<&CertFacts>) -> StapledOcsp {
    let response = match parsed {
        Ok(r) => r,
        Err(reason) => {
            return StapledOcsp::Unparsable {
                reason: reason.clone(),
            }
        }
    };
    if response.response_status != "successful" {
        return StapledOcsp::Unsuccessful {
            response_status: response.response_status.clone(),
        };
    }
    match leaf.and_then(|leaf| response.status_of(&leaf.serial)) {
        Some(OcspCertStatus::Good) => StapledOcsp::Good,
        Some(OcspCertStatus::Revoked { revoked_at, .. }) => StapledOcsp::Revoked {
            revoked_at: revoked_at.clone(),
        },
        Some(OcspCertStatus::Unknown) => StapledOcsp::Unknown,
        None => StapledOcsp::NotListed,
    }
}

/// Certificates in a PEM file (`CERTIFICATE` blocks) or a single DER certificate.
fn read_certificates(path: &Path) -> Result<Vec<Vec<u8>>, CertsError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| CertsError::Read {
        path: file.clone(),
        source,
    })?;
    if looks_like_pem(&bytes) {
        Ok(Pem::iter_from_buffer(&bytes)
            .filter_map(Result::ok)
            .filter(|pem| pem.label == "CERTIFICATE" || pem.label == "TRUSTED CERTIFICATE")
            .map(|pem| pem.contents)
            .collect())
    } else if X509Certificate::from_der(&bytes).is_ok() {
        Ok(vec![bytes])
    } else {
        Err(CertsError::NoCertificate { path: file })
    }
}

fn anchor_from_der(der: &[u8]) -> Result<TrustAnchor<'static>, String> {
    let cert = CertificateDer::from(der);
    webpki::anchor_from_trusted_cert(&cert)
        .map(|a| a.to_owned())
        .map_err(|e| error_text(&e))
}

/// TrustAnchor fields hold the contents of a SEQUENCE (no tag/length): put the header back.
fn wrap_sequence(content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![0x30];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let len_bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | len_bytes.len() as u8);
        out.extend_from_slice(&len_bytes);
    }
    out.extend_from_slice(content);
    out
}

fn anchor_subject_text(anchor: &TrustAnchor<'_>) -> Option<String> {
    let der = wrap_sequence(anchor.subject.as_ref());
    X509Name::from_der(&der)
        .ok()
        .map(|(_, name)| name_text(&name))
}

fn with_spki(spki_der: &[u8], check: impl FnOnce(&SubjectPublicKeyInfo<'_>) -> bool) -> bool {
    match SubjectPublicKeyInfo::from_der(spki_der) {
        Ok((_, spki)) => check(&spki),
        Err(_) => false,
    }
}

/// webpki error as text: the variant name, without the long context payloads.
fn error_text(e: &webpki::Error) -> String {
    let debug = format!("{e:?}");
    let name_end = debug.find([' ', '(', '{']).unwrap_or(debug.len());
    let name = debug.get(..name_end).unwrap_or(&debug);
    name.strip_suffix("Context").unwrap_or(name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_long_sequences() {
        assert_eq!(wrap_sequence(&[1, 2]), vec![0x30, 2, 1, 2]);
        let long = vec![0u8; 300];
        let wrapped = wrap_sequence(&long);
        assert_eq!(&wrapped[..4], &[0x30, 0x82, 0x01, 0x2c]);
        assert_eq!(wrapped.len(), 304);
    }

    #[test]
    fn named_webpki_roots_version_is_the_locked_one() {
        let lock = include_str!("../../Cargo.lock");
        let entry = format!("name = \"webpki-roots\"\nversion = \"{WEBPKI_ROOTS_VERSION}\"");
        assert!(lock.contains(&entry), "Cargo.lock has no {entry}");
    }

    #[test]
    fn error_names_are_short() {
        assert_eq!(error_text(&webpki::Error::UnknownIssuer), "UnknownIssuer");
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize_name("API.Example.Test."), "api.example.test");
        assert_eq!(normalize_name("[::1]"), "::1");
    }

    /// Name checks keep the leaf's names: the cache starts over by bytes, not only by count.
    /// Hand-built checks (one unit test of the bound), as a leaf with 1,000 names gives.
    #[test]
    fn hostname_cache_is_bounded_by_bytes() {
        let mut validator = Validator::new(&TrustOptions::default()).unwrap();
        let check = |name: &str| HostnameCheck {
            name: name.to_string(),
            matched: false,
            cert_names: (0..1000).map(|i| format!("host-{i:05}.example")).collect(),
            via_common_name: false,
        };
        let mut most = 0;
        for i in 0..1000u32 {
            let mut fp = [0u8; 32];
            fp[..4].copy_from_slice(&i.to_be_bytes());
            let name = format!("n{i:03}.test");
            validator.remember_hostname((fp, name.clone()), check(&name));
            most = most.max(validator.caches.hostnames.len());
            assert!(validator.caches.hostnames_bytes <= validator.small_cache_bytes());
        }
        // 1000 names of 18 bytes (+ 24 for each String), the 8-byte name twice and the
        // 56-byte check: 42,072 bytes a check, 199 of them in 8 MiB.
        assert_eq!(most, 199);
    }

    #[test]
    fn empty_and_garbage_chains_never_panic() {
        let mut validator = Validator::new(&TrustOptions::default()).unwrap();
        let empty: [Vec<u8>; 0] = [];
        let check = validator.check(&empty, Some("a.test"), Timestamp::default(), None);
        assert_eq!(check.path, PathStatus::Empty);
        assert!(!check.hostname.unwrap().matched);
        let check = validator.check(
            &[vec![0x30, 0x03, 0x02, 0x01, 0x00]],
            Some("a.test"),
            Timestamp::default(),
            Some(&[0xff]),
        );
        assert!(matches!(check.path, PathStatus::Invalid { .. }));
        assert_eq!(check.unparsable.len(), 1);
        assert!(matches!(
            check.stapled_ocsp,
            Some(StapledOcsp::Unparsable { .. })
        ));
    }
}
