//! Handshake negotiation: `no-common-version`, `no-common-cipher`, `no-common-group`,
//! `no-common-sigalg` and `alpn-mismatch`.
//!
//! A server that refuses a ClientHello says little: an alert, or a reset. What it would have
//! accepted shows on its other connections. So each connection keeps what its server chose
//! ([`Chosen`]) or, when the server refused it right after the ClientHello, what the client
//! offered ([`Refused`]); [`ServerChoices`] gathers the choices of every server of the batch
//! (its size follows the servers, not the connections), and the output pass compares.
//! `alpn-mismatch` needs nothing from other connections and runs with the connection's own rules.

use super::{finding, Finding, FindingKind, Severity};
use crate::certs::KeyFamily;
use crate::flow::{Direction, Side, TcpSummary};
use crate::record::ConnectionRecord;
use crate::tls::names::{
    alert_name, cipher_name, group_name, is_grease, signature_scheme_name, version_name,
};
use crate::tls::{version_rank, HandshakeSummary};
use std::net::SocketAddr;
use tls_parser::{TlsCipherAu, TlsCipherKx, TlsCipherMac, TlsCipherSuite};

const PROTOCOL_VERSION: u8 = 70;
const HANDSHAKE_FAILURE: u8 = 40;
const INSUFFICIENT_SECURITY: u8 = 71;
const NO_APPLICATION_PROTOCOL: u8 = 120;

/// Distinct (version, suite) choices remembered per server. A server seen choosing more is
/// not used to judge a client's suites (what it accepts is then too broad to list).
const MAX_CHOICES: usize = 32;

/// Suites listed in an evidence text before "and N more".
const LISTED_SUITES: usize = 6;

/// What a server chose for one connection (its ServerHello).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Chosen {
    /// Negotiated version.
    pub version: u16,
    /// Negotiated cipher suite.
    pub cipher: u16,
    /// TLS 1.3: the key exchange group of the server's key share.
    pub group: Option<u16>,
    /// The kind of key its certificate holds, when the handshake shows it (a TLS 1.2 suite
    /// names it; a TLS 1.3 certificate is readable with the key log).
    pub key: Option<ServerKey>,
}

/// The kind of key a server certificate holds: it decides which signature algorithms the
/// server can sign its handshake with, so a client must offer one of them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum ServerKey {
    /// rsaEncryption.
    Rsa,
    /// id-ecPublicKey.
    Ecdsa,
    /// Ed25519.
    Ed25519,
    /// Ed448.
    Ed448,
}

impl ServerKey {
    const ALL: [ServerKey; 4] = [
        ServerKey::Rsa,
        ServerKey::Ecdsa,
        ServerKey::Ed25519,
        ServerKey::Ed448,
    ];

    /// From the family of the certificate's key (an RSA-PSS key is not one RSA suites use).
    pub fn of_family(family: KeyFamily) -> Option<ServerKey> {
        match family {
            KeyFamily::Rsa => Some(ServerKey::Rsa),
            KeyFamily::Ec => Some(ServerKey::Ecdsa),
            KeyFamily::Ed25519 => Some(ServerKey::Ed25519),
            KeyFamily::Ed448 => Some(ServerKey::Ed448),
            KeyFamily::RsaPss | KeyFamily::Dsa | KeyFamily::Other => None,
        }
    }

    /// From a TLS ≤ 1.2 suite's authentication (TLS 1.3 suites name none).
    fn of_suite(cipher: u16) -> Option<ServerKey> {
        match TlsCipherSuite::from_id(cipher)?.au {
            TlsCipherAu::Rsa => Some(ServerKey::Rsa),
            TlsCipherAu::Ecdsa => Some(ServerKey::Ecdsa),
            _ => None,
        }
    }

    /// Whether a server with this key can sign with `scheme` (a TLS 1.3 SignatureScheme or
    /// a TLS 1.2 (hash, signature) pair).
    fn signs_with(self, scheme: u16) -> bool {
        let tls12_pair = |sig: u16| scheme & 0xff == sig && (1..=6).contains(&(scheme >> 8));
        match self {
            // rsa_pkcs1_*, rsa_pss_rsae_* (rsa_pss_pss_* needs an RSASSA-PSS key).
            ServerKey::Rsa => tls12_pair(1) || (0x0804..=0x0806).contains(&scheme),
            // ecdsa_*, ecdsa_brainpool*_tls13.
            ServerKey::Ecdsa => tls12_pair(3) || (0x081a..=0x081c).contains(&scheme),
            ServerKey::Ed25519 => scheme == 0x0807,
            ServerKey::Ed448 => scheme == 0x0808,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ServerKey::Rsa => "RSA",
            ServerKey::Ecdsa => "ECDSA",
            ServerKey::Ed25519 => "Ed25519",
            ServerKey::Ed448 => "Ed448",
        }
    }

    /// A scheme a client can add to sign-verify with this key.
    fn example_scheme(self) -> &'static str {
        match self {
            ServerKey::Rsa => "rsa_pss_rsae_sha256, rsa_pkcs1_sha256",
            ServerKey::Ecdsa => "ecdsa_secp256r1_sha256",
            ServerKey::Ed25519 => "ed25519",
            ServerKey::Ed448 => "ed448",
        }
    }
}

/// The kind of key the server's certificate holds, when the handshake shows it.
fn server_key(hs: &HandshakeSummary, sh: &crate::tls::ServerHello) -> Option<ServerKey> {
    if version_rank(sh.version) < 0x0304 {
        if let Some(k) = ServerKey::of_suite(sh.cipher) {
            return Some(k);
        }
    }
    // TLS 1.3 names no key in its suites: read the leaf, when its Certificate was decrypted.
    let leaf = hs.server_certificate.as_ref()?.certs.first()?;
    crate::certs::key_family(leaf).and_then(ServerKey::of_family)
}

/// The alert that ended a refused handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefusalAlert {
    /// Sent by the server (else the client).
    pub from_server: bool,
    /// Alert description.
    pub description: u8,
    /// Packet of the alert.
    pub packet: u64,
}

/// A ClientHello the server refused before choosing anything (or whose chosen version the
/// client refused): what the client offered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refused {
    /// Packet of the (last) ClientHello.
    pub client_hello_packet: u64,
    /// The highest version the client offered (supported_versions, else legacy_version).
    pub client_max: u16,
    /// The fatal alert, when one ended the handshake (none: the server may have closed).
    pub alert: Option<RefusalAlert>,
    /// The version the server chose and the packet of its ServerHello, when the client
    /// refused that version.
    pub server_version: Option<(u16, u64)>,
    /// The offered cipher suites, kept only when the server answered handshake_failure or
    /// insufficient_security (empty otherwise: no allocation).
    pub suites: Box<[u16]>,
    /// The offered supported_groups (GREASE left out), kept like `suites`.
    pub groups: Box<[u16]>,
    /// The offered signature_algorithms, kept like `suites`.
    pub sigalgs: Box<[u16]>,
}

/// The negotiation facts of a handshake: `(chosen, refused)`.
pub fn facts(hs: &HandshakeSummary) -> (Option<Chosen>, Option<Refused>) {
    let chosen = hs.server_hello.as_ref().map(|sh| Chosen {
        version: sh.version,
        cipher: sh.cipher,
        group: sh
            .key_share_group
            .filter(|_| version_rank(sh.version) >= 0x0304),
        key: server_key(hs, sh),
    });
    let Some(ch) = hs.second_client_hello.as_ref().or(hs.client_hello.as_ref()) else {
        return (chosen, None);
    };
    let fatal = hs.alerts.iter().find(|a| !a.encrypted && a.level == 2);
    let alert = fatal.map(|a| RefusalAlert {
        from_server: a.from == Side::Server,
        description: a.description,
        packet: a.meta.packet,
    });
    let refused = match (&hs.server_hello, alert) {
        // The client refused the version the server chose.
        (Some(sh), Some(a)) if !a.from_server && a.description == PROTOCOL_VERSION => {
            Some((Some(a), Some((sh.version, sh.meta.packet))))
        }
        (Some(_), _) => None,
        (None, Some(a))
            if a.from_server
                && matches!(
                    a.description,
                    PROTOCOL_VERSION | HANDSHAKE_FAILURE | INSUFFICIENT_SECURITY
                ) =>
        {
            Some((Some(a), None))
        }
        (None, Some(_)) => None,
        // No answer at all may be a server closing on a version it refuses: decided in the
        // output pass, from the record's TCP facts and the server's other connections.
        (None, None)
            if hs.non_tls[Direction::ToClient.idx()].is_none()
                && !hs.alerts.iter().any(|a| a.from == Side::Server) =>
        {
            Some((None, None))
        }
        (None, None) => None,
    };
    let refused = refused.map(|(alert, server_version)| {
        let client_max = if ch.supported_versions.is_empty() {
            ch.legacy_version
        } else {
            ch.supported_versions
                .iter()
                .copied()
                .filter(|v| !is_grease(*v))
                .max_by_key(|v| version_rank(*v))
                .unwrap_or(ch.legacy_version)
        };
        let keep = alert.is_some_and(|a| {
            a.from_server && matches!(a.description, HANDSHAKE_FAILURE | INSUFFICIENT_SECURITY)
        });
        let (suites, groups, sigalgs) = if keep {
            (
                ch.ciphers.clone().into_boxed_slice(),
                ch.groups
                    .iter()
                    .copied()
                    .filter(|g| !is_grease(*g))
                    .collect(),
                ch.signature_algorithms.clone().into_boxed_slice(),
            )
        } else {
            Default::default()
        };
        Refused {
            client_hello_packet: ch.meta.packet,
            client_max,
            alert,
            server_version,
            suites,
            groups,
            sigalgs,
        }
    });
    (chosen, refused)
}

/// A connection a finding cites as what the server chose elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Example {
    file_pos: usize,
    file: String,
    index: u64,
    chosen: Chosen,
}

impl Example {
    /// The highest version first, then the first connection (by file, then index): the same
    /// example whatever order connections arrive in.
    fn better_than(&self, other: &Example) -> bool {
        let key = |e: &Example| {
            (
                std::cmp::Reverse(version_rank(e.chosen.version)),
                e.file_pos,
                e.index,
            )
        };
        key(self) < key(other)
    }
}

/// What one server chose across the batch.
#[derive(Debug, Clone)]
struct Choices {
    /// Distinct (version, suite) pairs, sorted; at most [`MAX_CHOICES`].
    pairs: Vec<(u16, u16)>,
    /// More distinct pairs than [`MAX_CHOICES`] were seen.
    overflow: bool,
    example: Example,
    /// TLS 1.3 key exchange groups chosen, sorted, at most [`MAX_CHOICES`].
    groups: Vec<u16>,
    /// The first connection (by index) that showed a group, and that group.
    group_example: Option<(u64, u16)>,
    /// Kinds of certificate key seen, sorted.
    keys: Vec<ServerKey>,
    /// The first connection (by index) that showed the certificate's key, and its kind.
    key_example: Option<(u64, ServerKey)>,
}

impl Choices {
    fn new(file_pos: usize, file: &str, index: u64, chosen: Chosen) -> Choices {
        let mut c = Choices {
            pairs: Vec::new(),
            overflow: false,
            example: Example {
                file_pos,
                file: file.to_string(),
                index,
                chosen,
            },
            groups: Vec::new(),
            group_example: None,
            keys: Vec::new(),
            key_example: None,
        };
        c.note(index, chosen);
        c
    }

    /// Adds what connection `index` shows (the example is the caller's business).
    fn note(&mut self, index: u64, chosen: Chosen) {
        self.add((chosen.version, chosen.cipher));
        if let Some(g) = chosen.group {
            self.add_group(index, g);
        }
        if let Some(k) = chosen.key {
            self.add_key(index, k);
        }
    }

    fn add(&mut self, pair: (u16, u16)) {
        if let Err(at) = self.pairs.binary_search(&pair) {
            if self.pairs.len() < MAX_CHOICES {
                self.pairs.insert(at, pair);
            } else {
                self.overflow = true;
            }
        }
    }

    fn add_group(&mut self, index: u64, g: u16) {
        if let Err(at) = self.groups.binary_search(&g) {
            if self.groups.len() < MAX_CHOICES {
                self.groups.insert(at, g);
            }
        }
        if self.group_example.map_or(true, |(i, _)| index < i) {
            self.group_example = Some((index, g));
        }
    }

    fn add_key(&mut self, index: u64, k: ServerKey) {
        if let Err(at) = self.keys.binary_search(&k) {
            self.keys.insert(at, k);
        }
        if self.key_example.map_or(true, |(i, _)| index < i) {
            self.key_example = Some((index, k));
        }
    }

    /// The oldest version chosen.
    fn lowest_version(&self) -> Option<u16> {
        self.pairs.iter().map(|p| version_rank(p.0)).min()
    }

    /// Versions chosen, lowest first, without repeats (a TLS 1.3 draft named as TLS 1.3).
    fn versions(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self
            .pairs
            .iter()
            .map(|p| if p.0 >> 8 == 0x7f { 0x0304 } else { p.0 })
            .collect();
        v.sort_unstable_by_key(|&v| (version_rank(v), v));
        v.dedup();
        v
    }
}

/// Per server (`ip:port`): the versions and suites it chose on the batch's connections.
#[derive(Debug, Clone, Default)]
pub struct ServerChoices {
    /// Per server address, one entry per capture it was seen in: evidence comes only from the
    /// refused connection's own capture, since unrelated captures reuse addresses (every lab
    /// capture's 127.0.0.1:443, a NAT's public address) for different servers.
    servers: crate::FastMap<SocketAddr, Vec<Choices>>,
}

impl ServerChoices {
    /// Notes what `server` chose on connection `index` of `file`.
    pub fn observe(
        &mut self,
        file_pos: usize,
        file: &str,
        index: u64,
        server: SocketAddr,
        chosen: Chosen,
    ) {
        let captures = self.servers.entry(server).or_default();
        match captures.iter_mut().find(|c| c.example.file == file) {
            Some(c) => {
                c.note(index, chosen);
                let better = version_rank(chosen.version) > version_rank(c.example.chosen.version)
                    || (version_rank(chosen.version) == version_rank(c.example.chosen.version)
                        && (file_pos, index) < (c.example.file_pos, c.example.index));
                if better {
                    c.example = Example {
                        file_pos,
                        file: file.to_string(),
                        index,
                        chosen,
                    };
                }
            }
            None => captures.push(Choices::new(file_pos, file, index, chosen)),
        }
    }

    /// Adds another file's choices (any order gives the same result).
    pub fn merge(&mut self, other: ServerChoices) {
        for (server, captures) in other.servers {
            let ours_all = self.servers.entry(server).or_default();
            for theirs in captures {
                match ours_all
                    .iter_mut()
                    .find(|c| c.example.file == theirs.example.file)
                {
                    Some(ours) => {
                        for p in theirs.pairs {
                            ours.add(p);
                        }
                        ours.overflow |= theirs.overflow;
                        for &g in &theirs.groups {
                            ours.add_group(u64::MAX, g);
                        }
                        if let Some((i, g)) = theirs.group_example {
                            ours.add_group(i, g);
                        }
                        for &k in &theirs.keys {
                            ours.add_key(u64::MAX, k);
                        }
                        if let Some((i, k)) = theirs.key_example {
                            ours.add_key(i, k);
                        }
                        if theirs.example.better_than(&ours.example) {
                            ours.example = theirs.example;
                        }
                    }
                    None => ours_all.push(theirs),
                }
            }
        }
    }

    /// The negotiation findings of a record whose server refused its ClientHello.
    pub fn findings(&self, r: &ConnectionRecord, refused: &Refused, out: &mut Vec<Finding>) {
        if r.quic.is_some() {
            return;
        }
        let choices = self
            .servers
            .get(&r.server)
            .and_then(|captures| captures.iter().find(|c| c.example.file == r.file))
            .filter(|c| c.example.index != r.index);
        let client_max = version_rank(refused.client_max);
        // Every version the server chose elsewhere is newer than anything this client offered.
        let above = choices.filter(|c| c.lowest_version().is_some_and(|v| v > client_max));
        match refused.alert {
            // A client's protocol_version counts only against an older version than it offered.
            Some(a)
                if a.description == PROTOCOL_VERSION
                    && (a.from_server
                        || refused
                            .server_version
                            .is_some_and(|(v, _)| version_rank(v) < client_max)) =>
            {
                out.push(no_common_version(r, refused, a, choices));
            }
            Some(a) if a.description == PROTOCOL_VERSION => {}
            Some(a) => {
                // The certificate's key is a fact this server showed; a version refusal by
                // handshake_failure only an inference from the versions it chose.
                let f = no_common_sigalg(r, refused, a, choices)
                    .or_else(|| above.map(|c| no_common_version(r, refused, a, Some(c))))
                    .or_else(|| no_common_cipher(r, refused, a, choices))
                    .or_else(|| no_common_group(r, refused, a, choices));
                out.extend(f);
            }
            None => {
                // The server closed right after the ClientHello without a byte of TLS: a
                // version refusal only when its other clients show it speaks only newer ones.
                let t = &r.tcp;
                if t.established && t.server_bytes == 0 && t.closed_by == Some(Side::Server) {
                    if let Some(c) = above {
                        out.push(closed_on_version(r, refused, c));
                    }
                }
            }
        }
    }
}

/// "TLS 1.2 and TLS 1.3".
fn versions_text(versions: &[u16]) -> String {
    let names: Vec<String> = versions.iter().map(|v| version_name(*v)).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => [rest.join(", ").as_str(), " and ", last].concat(),
        None => String::new(),
    }
}

/// "connection #0" or "connection #0 in other.pcap".
fn where_(r: &ConnectionRecord, e: &Example) -> String {
    if e.file == r.file {
        format!("connection #{}", e.index)
    } else {
        format!("connection #{} in {}", e.index, e.file)
    }
}

/// "; connection #0 negotiated TLS 1.3 (TLS_AES_256_GCM_SHA384) with this server".
fn elsewhere_evidence(r: &ConnectionRecord, c: &Choices) -> String {
    let e = &c.example;
    let mut text = format!(
        "; {} negotiated {} ({}) with this server",
        where_(r, e),
        version_name(e.chosen.version),
        cipher_name(e.chosen.cipher)
    );
    let versions = c.versions();
    if versions.len() > 1 {
        text.push_str(&format!(
            "; versions it negotiated in the capture: {}",
            versions_text(&versions)
        ));
    }
    text
}

fn offered_versions(r: &ConnectionRecord, refused: &Refused) -> String {
    if r.versions_offered.len() > 1 {
        format!(
            "at most {} ({})",
            version_name(refused.client_max),
            r.versions_offered
                .iter()
                .map(|v| v.name())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!("at most {}", version_name(refused.client_max))
    }
}

/// `no-common-version` from an alert: protocol_version from the server (or handshake_failure
/// where its other clients show only newer versions), or protocol_version from a client that
/// refuses the version the server chose.
fn no_common_version(
    r: &ConnectionRecord,
    refused: &Refused,
    a: RefusalAlert,
    choices: Option<&Choices>,
) -> Finding {
    let server = crate::text::AddrText::of(r.server);
    let server = server.as_str();
    let name = alert_name(a.description);
    let offered = offered_versions(r, refused);
    if let (false, Some((chosen, sh_packet))) = (a.from_server, refused.server_version) {
        let chosen = version_name(chosen);
        return finding(
            FindingKind::NoCommonVersion,
            Severity::Error,
            format!("{server} chose {chosen}, the newest version it speaks, although the client offered {offered}; the client refuses {chosen} (alert {name}), so client and server share no TLS version."),
            format!(
                "ClientHello in packet {} offers {offered}; ServerHello in packet {sh_packet} selects {chosen}; alert {name} from the client in packet {}{}.",
                refused.client_hello_packet,
                a.packet,
                choices.map(|c| elsewhere_evidence(r, c)).unwrap_or_default()
            ),
        )
        .with_fix(format!("Server: enable TLS 1.2 and TLS 1.3 (it speaks only {chosen} and older, deprecated by RFC 8996); client: re-enable {chosen} only as a stopgap, if policy allows."));
    }
    let speaks = match choices {
        Some(c) => format!(
            "; the server speaks {} (it negotiated {} with other clients in this capture)",
            versions_text(&c.versions()),
            if c.versions().len() > 1 { "them" } else { "it" }
        ),
        None => String::new(),
    };
    let f = finding(
        FindingKind::NoCommonVersion,
        Severity::Error,
        format!("{server} refused every TLS version this client offered with alert {name}: the client offered {offered}{speaks}."),
        format!(
            "ClientHello in packet {} offers {offered}; alert {name} from the server in packet {}{}.",
            refused.client_hello_packet,
            a.packet,
            choices.map(|c| elsewhere_evidence(r, c)).unwrap_or_default()
        ),
    );
    match choices {
        Some(c) => f.with_fix(client_fix(refused, c)),
        None => f,
    }
}

/// The fix when the server's other connections show the versions it speaks.
fn client_fix(refused: &Refused, c: &Choices) -> String {
    let versions = c.versions();
    let java = versions
        .iter()
        .map(|v| match v {
            0x0301 => "TLSv1".to_string(),
            0x0302 => "TLSv1.1".to_string(),
            0x0303 => "TLSv1.2".to_string(),
            0x0304 => "TLSv1.3".to_string(),
            other => version_name(*other),
        })
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "Client: enable {} (what this server negotiated with other clients): Java -Dhttps.protocols={java} (and jdk.tls.client.protocols), .NET Framework the SchUseStrongCrypto and SystemDefaultTlsVersions registry values, an old OpenSSL or curl upgraded; server: only if policy allows, also accept {}.",
        versions_text(&versions),
        version_name(refused.client_max)
    )
}

/// `no-common-version` from a server that closed the connection right after the ClientHello.
fn closed_on_version(r: &ConnectionRecord, refused: &Refused, c: &Choices) -> Finding {
    let offered = offered_versions(r, refused);
    let how = match r.tcp.close {
        Some(crate::flow::CloseKind::Rst) => "reset",
        _ => "closed",
    };
    finding(
        FindingKind::NoCommonVersion,
        Severity::Error,
        format!(
            "{} {how} the connection right after the ClientHello, which offered {offered}, without answering a byte of TLS, while it negotiated {} with other clients in this capture: it accepts none of the versions this client offers.",
            r.server,
            versions_text(&c.versions()),
        ),
        format!(
            "ClientHello in packet {} offers {offered}; no TLS data from the server, which {how} the connection{}.",
            refused.client_hello_packet,
            elsewhere_evidence(r, c)
        ),
    )
    .with_fix(client_fix(refused, c))
}

/// Why a current server refuses every suite of `suites`, or None when one of them is a suite
/// current servers accept (ECDHE or DHE with AES-GCM, AES-CCM or ChaCha20-Poly1305; a TLS 1.3
/// suite).
fn legacy_only(suites: &[u16]) -> Option<String> {
    let known: Vec<&TlsCipherSuite> = suites
        .iter()
        .filter(|s| !signalling(**s))
        .filter_map(|s| TlsCipherSuite::from_id(*s))
        .collect();
    if known.is_empty() {
        return None;
    }
    let forward_secret = |cs: &TlsCipherSuite| {
        matches!(
            cs.kx,
            TlsCipherKx::Ecdhe | TlsCipherKx::Dhe | TlsCipherKx::Tls13
        )
    };
    let aead = |cs: &TlsCipherSuite| cs.mac == TlsCipherMac::Aead;
    if known.iter().any(|cs| forward_secret(cs) && aead(cs)) {
        return None;
    }
    if known
        .iter()
        .all(|cs| super::ciphers::weak_cipher_use(cs.id.0).is_some())
    {
        return Some("only broken suites (NULL, anonymous, EXPORT, RC4 or DES/3DES)".to_string());
    }
    let mut why = Vec::new();
    if !known.iter().any(|cs| forward_secret(cs)) {
        why.push("RSA key exchange only (no ECDHE or DHE)");
    }
    if !known.iter().any(|cs| aead(cs)) {
        why.push("CBC or stream ciphers only (no AES-GCM or ChaCha20-Poly1305)");
    }
    if why.is_empty() {
        why.push("no suite combining ECDHE or DHE with AES-GCM or ChaCha20-Poly1305");
    }
    Some(why.join(", "))
}

/// Not a suite: GREASE, or a signalling value (renegotiation info, fallback).
fn signalling(s: u16) -> bool {
    is_grease(s) || s == 0x00ff || s == 0x5600
}

/// "TLS_A, TLS_B and 3 more".
fn suites_text(suites: &[u16]) -> String {
    let real: Vec<u16> = suites.iter().copied().filter(|s| !signalling(*s)).collect();
    let mut text = real
        .iter()
        .take(LISTED_SUITES)
        .map(|s| cipher_name(*s))
        .collect::<Vec<_>>()
        .join(", ");
    if real.len() > LISTED_SUITES {
        text.push_str(&format!(" and {} more", real.len() - LISTED_SUITES));
    }
    text
}

/// `no-common-cipher`: handshake_failure or insufficient_security right after the ClientHello,
/// when the client offered none of the suites the server chose for other clients at the
/// versions this client offered, or (no other client seen) only suites current servers refuse.
fn no_common_cipher(
    r: &ConnectionRecord,
    refused: &Refused,
    a: RefusalAlert,
    choices: Option<&Choices>,
) -> Option<Finding> {
    if !a.from_server || refused.suites.is_empty() {
        return None;
    }
    let legacy = legacy_only(&refused.suites);
    let client_max = version_rank(refused.client_max);
    // Suites the server chose for clients at a version this one offers too.
    let accepted: Option<Vec<u16>> = choices.filter(|c| !c.overflow).map(|c| {
        let mut s: Vec<u16> = c
            .pairs
            .iter()
            .filter(|(v, _)| version_rank(*v) <= client_max)
            .map(|(_, s)| *s)
            .collect();
        s.dedup();
        s
    });
    let name = alert_name(a.description);
    let server = r.server;
    let n = refused.suites.iter().filter(|s| !signalling(**s)).count();
    let offered = suites_text(&refused.suites);
    let quality = legacy
        .as_deref()
        .map(|l| format!("; the client offers only legacy suites: {l}"))
        .unwrap_or_default();
    let (message, elsewhere, fix) = match (&accepted, &legacy) {
        (Some(acc), _) if !acc.is_empty() => {
            if refused.suites.iter().any(|s| acc.contains(s)) {
                // The client offered a suite the server accepts: the refusal is about
                // something else.
                return None;
            }
            let c = choices?;
            let acc_text = acc
                .iter()
                .map(|s| cipher_name(*s))
                .collect::<Vec<_>>()
                .join(", ");
            (
                format!(
                    "{server} refused the ClientHello with alert {name}: {} the server chose for other clients in this capture ({acc_text}){quality}.",
                    if n == 1 {
                        "the one cipher suite the client offered is not one".to_string()
                    } else {
                        format!("none of the {n} cipher suites the client offered is one")
                    }
                ),
                format!("{}; suites it chose in the capture at the versions this client offers: {acc_text}", elsewhere_evidence(r, c)),
                format!("Client: enable one of the suites this server accepts ({acc_text}) in the client's cipher list, or update its TLS library (old Java, .NET and OpenSSL releases lack ECDHE with AES-GCM); server: if policy allows, also accept one of the suites the client offers."),
            )
        }
        (_, Some(l)) => (
            format!("{server} refused the ClientHello with alert {name}, and the client offers only suites current servers refuse: {l}."),
            String::new(),
            FindingKind::NoCommonCipher.fix().to_string(),
        ),
        _ => return None,
    };
    Some(
        finding(
            FindingKind::NoCommonCipher,
            Severity::Error,
            message,
            format!(
                "ClientHello in packet {} offers {n} suite{}: {offered}; alert {name} from the server in packet {}{elsewhere}.",
                refused.client_hello_packet,
                if n == 1 { "" } else { "s" },
                a.packet
            ),
        )
        .with_fix(fix),
    )
}

/// "x25519, secp256r1".
fn groups_text(groups: &[u16]) -> String {
    groups
        .iter()
        .map(|g| group_name(*g))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The evidence both refusal rules open with: what the ClientHello offered (`extension`,
/// `offered`), the server's alert, and where the example connection `index` of `c` worked
/// (the caller says what it got there).
fn refusal_evidence(
    r: &ConnectionRecord,
    refused: &Refused,
    a: RefusalAlert,
    (extension, offered): (&str, &str),
    c: &Choices,
    index: u64,
) -> String {
    let example = Example {
        index,
        ..c.example.clone()
    };
    format!(
        "ClientHello in packet {} offers {extension} {offered}; alert {} from the server in packet {}; {}",
        refused.client_hello_packet,
        alert_name(a.description),
        a.packet,
        where_(r, &example)
    )
}

/// `no-common-group`: handshake_failure or insufficient_security right after a TLS 1.3
/// ClientHello whose supported_groups hold none of the groups the server chose for other
/// TLS 1.3 clients in the capture.
fn no_common_group(
    r: &ConnectionRecord,
    refused: &Refused,
    a: RefusalAlert,
    choices: Option<&Choices>,
) -> Option<Finding> {
    if !a.from_server || refused.groups.is_empty() || version_rank(refused.client_max) < 0x0304 {
        return None;
    }
    let c = choices?;
    let (index, group) = c.group_example?;
    if refused.groups.iter().any(|g| c.groups.contains(g)) {
        return None;
    }
    let name = alert_name(a.description);
    let offered = groups_text(&refused.groups);
    let accepted = groups_text(&c.groups);
    let server = crate::text::AddrText::of(r.server);
    Some(
        finding(
            FindingKind::NoCommonGroup,
            Severity::Error,
            format!(
                "{} refused the TLS 1.3 ClientHello with alert {name}: none of the key exchange groups the client offered ({offered}) is one the server chose for other clients in this capture ({accepted}).",
                server.as_str()
            ),
            format!(
                "{} negotiated {} with this server; groups it chose in the capture: {accepted}.",
                refusal_evidence(r, refused, a, ("supported_groups", &offered), c, index),
                group_name(group)
            ),
        )
        .with_fix(format!("Client: offer {accepted} in supported_groups (OpenSSL -groups or SSL_CTX_set1_groups_list, Java jdk.tls.namedGroups, curl --curves), or update its TLS library; server: if policy allows, also accept one of the client's groups (OpenSSL -groups, nginx ssl_ecdh_curve).")),
    )
}

/// `no-common-sigalg`: handshake_failure or insufficient_security right after a ClientHello
/// whose signature_algorithms hold no scheme the server's certificate key (seen on other
/// connections in the capture) can sign with.
fn no_common_sigalg(
    r: &ConnectionRecord,
    refused: &Refused,
    a: RefusalAlert,
    choices: Option<&Choices>,
) -> Option<Finding> {
    if !a.from_server || refused.sigalgs.is_empty() {
        return None;
    }
    let c = choices?;
    let (index, key) = c.key_example?;
    let usable = |k: &ServerKey| refused.sigalgs.iter().any(|s| k.signs_with(*s));
    if c.keys.iter().any(usable) {
        return None;
    }
    let name = alert_name(a.description);
    let n = refused.sigalgs.len();
    let mut offered = refused
        .sigalgs
        .iter()
        .take(LISTED_SUITES)
        .map(|s| signature_scheme_name(*s))
        .collect::<Vec<_>>()
        .join(", ");
    if n > LISTED_SUITES {
        offered.push_str(&format!(" and {} more", n - LISTED_SUITES));
    }
    let keys = c
        .keys
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(" or ");
    let client_keys: Vec<&str> = ServerKey::ALL
        .iter()
        .filter(|k| usable(k))
        .map(|k| k.name())
        .collect();
    let server_fix = match client_keys.as_slice() {
        [] => String::new(),
        kinds => format!(
            "; server: if such clients must be served, add a certificate with an {} key beside this one (nginx: a second ssl_certificate and ssl_certificate_key)",
            kinds.join(" or ")
        ),
    };
    let server = crate::text::AddrText::of(r.server);
    Some(
        finding(
            FindingKind::NoCommonSigalg,
            Severity::Error,
            format!(
                "{} refused the ClientHello with alert {name}: its certificate has an {keys} key, and none of the {n} signature algorithms the client offered ({offered}) can sign with it.",
                server.as_str()
            ),
            format!(
                "{} got this server's certificate, with an {} key.",
                refusal_evidence(r, refused, a, ("signature_algorithms", &offered), c, index),
                key.name()
            ),
        )
        .with_fix(format!(
            "Client: offer signature algorithms for {keys} keys ({}) in signature_algorithms (OpenSSL -sigalgs, Java jdk.tls.client.SignatureSchemes), or update its TLS library{server_fix}.",
            c.keys
                .iter()
                .map(|k| k.example_scheme())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    )
}

/// `alpn-mismatch`: alert no_application_protocol, or a client that offered only h2, got no
/// protocol and left without a request (TLS 1.2: the ServerHello shows the server's choice;
/// in TLS 1.3 it is encrypted).
pub fn alpn_rules(
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    tcp: &TcpSummary,
    out: &mut Vec<Finding>,
) {
    let Some(ch) = hs.second_client_hello.as_ref().or(hs.client_hello.as_ref()) else {
        return;
    };
    if ch.alpn.is_empty() {
        return;
    }
    let h2_only = ch.alpn.iter().all(|p| p == "h2");
    let server_text = || crate::text::AddrText::of(r.server);
    let alert = hs
        .alerts
        .iter()
        .find(|a| !a.encrypted && a.level == 2 && a.description == NO_APPLICATION_PROTOCOL);
    if let Some(a) = alert {
        let server = server_text();
        let server = server.as_str();
        let offered = ch.alpn.join(", ");
        let name = alert_name(a.description);
        let (message, fix) = if a.from == Side::Server {
            (
                format!("{server} speaks none of the application protocols the client offered in ALPN ({offered}) and refused the handshake (alert {name})."),
                if h2_only {
                    "Server: enable HTTP/2 on this listener (nginx: http2 on, or listen ... http2; a proxy in front must offer h2 too); client: also offer http/1.1 if it can speak it."
                } else {
                    "Server: add one of the client's ALPN protocols to the listener's configuration; client: offer a protocol the server speaks (e.g. http/1.1)."
                },
            )
        } else {
            let chosen = hs
                .server_hello
                .as_ref()
                .and_then(|sh| sh.alpn.as_deref())
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            (
                format!("The client refused the application protocol {server} selected{chosen}: it offered {offered} in ALPN (alert {name})."),
                "Server: select only a protocol the client offers in ALPN (or none); client: offer the protocol the server requires.",
            )
        };
        out.push(
            finding(
                FindingKind::AlpnMismatch,
                Severity::Error,
                message,
                format!(
                    "ClientHello in packet {} offers ALPN {offered}; alert {name} from the {} in packet {}.",
                    ch.meta.packet,
                    if a.from == Side::Server { "server" } else { "client" },
                    a.meta.packet
                ),
            )
            .with_fix(fix),
        );
        return;
    }
    let Some(sh) = hs.server_hello.as_ref() else {
        return;
    };
    // A client offering h2 and http/1.1 and getting no ALPN falls back to HTTP/1.1: healthy.
    let negotiated_none = h2_only
        && version_rank(sh.version) < 0x0304
        && sh.alpn.is_none()
        && super::handshake_done(hs)
        && hs.application_data_records[Direction::ToServer.idx()] == 0;
    if !negotiated_none {
        return;
    }
    // The client left first: its alert (close_notify) before any of the server's, or its
    // FIN or RST first.
    let client_alert = hs.alerts.iter().find(|a| a.from == Side::Client);
    let server_alert = hs.alerts.iter().find(|a| a.from == Side::Server);
    let closed = match (client_alert, server_alert) {
        (Some(c), s) if s.map_or(true, |s| s.meta.packet > c.meta.packet) => {
            format!("with an alert in packet {}", c.meta.packet)
        }
        _ if tcp.closed_by == Some(Side::Client) => match tcp.close {
            Some(crate::flow::CloseKind::Rst) => "with a RST".to_string(),
            _ => "with a FIN".to_string(),
        },
        _ => return,
    };
    let server = server_text();
    let server = server.as_str();
    out.push(finding(
        FindingKind::AlpnMismatch,
        Severity::Error,
        format!("The client offered only h2 (HTTP/2) in ALPN and {server} selected no protocol, so the client closed the connection without a request: HTTP/2-only clients (gRPC, for one) require h2."),
        format!(
            "ClientHello in packet {} offers ALPN h2 only; ServerHello in packet {} has no ALPN extension; the client sent no application data and closed the connection {closed}.",
            ch.meta.packet, sh.meta.packet
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Suite ids from the IANA registry: what current servers refuse, and what they accept.
    #[test]
    fn legacy_offers_are_named() {
        // TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_256_CBC_SHA, the renegotiation SCSV.
        assert_eq!(
            legacy_only(&[0x002f, 0x0035, 0x00ff]).as_deref(),
            Some("RSA key exchange only (no ECDHE or DHE), CBC or stream ciphers only (no AES-GCM or ChaCha20-Poly1305)")
        );
        // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA.
        assert_eq!(
            legacy_only(&[0xc013]).as_deref(),
            Some("CBC or stream ciphers only (no AES-GCM or ChaCha20-Poly1305)")
        );
        // TLS_RSA_WITH_AES_128_GCM_SHA256.
        assert_eq!(
            legacy_only(&[0x009c]).as_deref(),
            Some("RSA key exchange only (no ECDHE or DHE)")
        );
        // TLS_RSA_WITH_3DES_EDE_CBC_SHA, TLS_RSA_WITH_RC4_128_SHA.
        assert_eq!(
            legacy_only(&[0x000a, 0x0005]).as_deref(),
            Some("only broken suites (NULL, anonymous, EXPORT, RC4 or DES/3DES)")
        );
        // RSA-kex GCM plus ECDHE CBC: each half sound, no suite with both.
        assert_eq!(
            legacy_only(&[0x009c, 0xc013]).as_deref(),
            Some("no suite combining ECDHE or DHE with AES-GCM or ChaCha20-Poly1305")
        );
        // TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256, GREASE alone.
        assert_eq!(legacy_only(&[0xcca8]), None);
        assert_eq!(legacy_only(&[0x1301, 0x002f]), None);
        assert_eq!(legacy_only(&[0x0a0a]), None);
    }
}
