//! The catalogue of findings: every diagnosis tlscap can make, with its stable id, title, usual
//! severity and the fix it suggests unless its rule has a more specific one.
//!
//! Ids are part of the output contract (JSON `id`, `--finding ID`): they are never renamed.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Severity;

macro_rules! finding_kinds {
    ($($kind:ident = $id:literal, $severity:ident, $title:literal, $fix:literal;)*) => {
        /// One kind of diagnosis.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum FindingKind {
            $(
                #[doc = $title]
                $kind,
            )*
        }

        impl FindingKind {
            /// Every kind, in documentation order.
            pub const ALL: &'static [FindingKind] = &[$(FindingKind::$kind),*];

            /// Stable id, e.g. `missing-sni`.
            pub const fn id(self) -> &'static str {
                match self {
                    $(FindingKind::$kind => $id,)*
                }
            }

            /// A few words naming the problem, e.g. "ClientHello without SNI".
            pub const fn title(self) -> &'static str {
                match self {
                    $(FindingKind::$kind => $title,)*
                }
            }

            /// The severity the rule usually gives it (README's heading); a rule may judge a
            /// particular connection milder or worse and says why.
            pub const fn usual_severity(self) -> Severity {
                match self {
                    $(FindingKind::$kind => Severity::$severity,)*
                }
            }

            /// What to change, and on which side, unless the rule words a more specific fix.
            pub fn fix(self) -> &'static str {
                FIXES[self as usize]
            }
        }

        /// The fixes, by kind. Read from this one static, every caller gets the same pointer:
        /// the spill and the JSON writer recognise a catalogue fix by its address (a `match` of
        /// literals may give each inlined copy its own).
        static FIXES: &[&str] = &[$($fix,)*];
    };
}

finding_kinds! {
    MissingSni = "missing-sni", Warning, "ClientHello without SNI",
        "Client: connect with the server's host name rather than its IP address (or pin the IP with a resolver override such as curl --resolve), and make sure SNI is enabled in the TLS library.";
    SniGatedClientAuth = "sni-gated-client-auth", Error, "Client certificate requested only with SNI",
        "Client: send SNI by connecting with the host name (not an IP address); server: if clients without SNI must authenticate, request client certificates on the default virtual host too.";
    ClientCertNotRequested = "client-cert-not-requested", Error, "Client certificate not requested",
        "Client: send SNI with the host name the server's client-auth configuration is bound to; server: enable client-certificate requests (e.g. nginx ssl_verify_client optional/on) for this host and port.";
    ClientCertMissing = "client-cert-missing", Error, "Client certificate requested but not sent",
        "Client: configure the client certificate and private key for this endpoint (and check that its issuer is among the CAs the server accepts).";
    TlsAlert = "tls-alert", Error, "TLS alert",
        "The side that sent the alert rejected something: the message names what, and which side must change.";
    ChainIncomplete = "chain-incomplete", Error, "Server chain incomplete",
        "Server: send the full chain (leaf, then every intermediate up to the root). If the root is a private CA, add it to the client's trust store (tlscap: --ca-file).";
    ChainUntrusted = "chain-untrusted", Error, "Server chain ends in an untrusted root",
        "Client: add this root CA to the client's trust store if it is a legitimate private CA (tlscap: --ca-file); server: otherwise use a certificate from a publicly trusted CA.";
    ChainOrder = "chain-order", Warning, "Server chain out of order",
        "Server: send the leaf first, then each issuer in turn, and nothing else.";
    HostnameMismatch = "hostname-mismatch", Error, "Certificate not valid for the host name",
        "Client: connect with a name the certificate lists; server: reissue the certificate with this name in its subjectAltName (a wildcard covers exactly one left-most label).";
    CertExpired = "cert-expired", Error, "Certificate expired",
        "Server: renew the certificate and deploy it (with its current intermediates) on every node.";
    CertNotYetValid = "cert-not-yet-valid", Error, "Certificate not yet valid",
        "Check the clocks of the issuing system and of the capture host; deploy the certificate only once it is valid.";
    CertExpiring = "cert-expiring", Warning, "Certificate expiring soon",
        "Server: renew the certificate and deploy it (with its current intermediates) on every node before it expires; monitor the expiry dates of every certificate in the chain.";
    SelfSigned = "self-signed", Error, "Self-signed certificate",
        "Server: install a certificate issued by a trusted CA; or, for a private service, trust this certificate explicitly on the client.";
    WeakSignature = "weak-signature", Warning, "Weak certificate signature",
        "Reissue the certificate with a SHA-256 (or stronger) signature.";
    WeakKey = "weak-key", Warning, "Weak certificate key",
        "Reissue the certificate with an RSA key of at least 2048 bits or an EC key of at least P-256.";
    CertRevoked = "cert-revoked", Error, "Certificate revoked",
        "Server: replace the revoked certificate.";
    ObsoleteVersion = "obsolete-version", Warning, "Obsolete TLS version",
        "Enable TLS 1.2 and TLS 1.3 on both sides and disable older versions.";
    WeakCipher = "weak-cipher", Warning, "Weak cipher suite",
        "Server: remove NULL, anonymous, EXPORT, RC4 and DES/3DES suites; prefer ECDHE with AES-GCM or ChaCha20-Poly1305.";
    TcpConnectTimeout = "tcp-connect-timeout", Error, "TCP connect timed out",
        "Network: a firewall or security group silently drops traffic to this port, or the server address is wrong/unreachable; allow the client's source address to reach the port.";
    TcpRefused = "tcp-refused", Error, "TCP connection refused",
        "Server: check that the service listens on this address and port; network: check firewall rules that reject the port.";
    IcmpUnreachable = "icmp-unreachable", Error, "Destination unreachable (ICMP error)",
        "The ICMP error names who refused the packet and why: `port-unreachable` from the server's host: nothing listens there (start the service, or use the port it listens on); `prohibited`: a firewall rule rejects it (allow the client there); `host-unreachable` / `net-unreachable`: no way to the server (its address, DNS, routing); `ttl-exceeded`: a routing loop.";
    IcmpPacketTooBig = "icmp-packet-too-big", Info, "Path MTU smaller than the packets (ICMP packet too big)",
        "Nothing while the sender then sends smaller packets (path MTU discovery working). If the connection stalls anyway, clamp the TCP MSS on the path (iptables/nft `tcp option maxseg size set rt mtu`) or lower the sender's MTU.";
    TcpReset = "tcp-reset", Error, "TCP connection reset",
        "Check the logs of the side that reset the connection (crash, connection limit, a TLS or proxy layer rejecting the peer); network: look for a load balancer or IPS sending resets.";
    HandshakeStalled = "handshake-stalled", Error, "ClientHello never answered",
        "Server: check that the listener speaks TLS and is not overloaded; network: look for a proxy or IPS that holds TLS traffic (e.g. SNI filtering).";
    ClientAbandoned = "client-abandoned", Warning, "Client abandoned the handshake",
        "Client: check its logs for why it dropped the connection after the server's handshake (a certificate it rejected without an alert, a timeout, a cancelled request); the chain findings of the connection name what a client may have rejected.";
    NoClientHello = "no-client-hello", Info, "TCP connection without a ClientHello",
        "Nothing to fix in TLS: the client never started it. If this client was meant to use the connection, its logs say why it stopped (a cancelled request, another address that connected first).";
    ReadTimeout = "read-timeout", Error, "Request never answered",
        "Server: find why the request is not answered (slow backend, request waiting for a body, application hang); client: raise the read timeout only if the server is known to be slow.";
    NotTls = "not-tls", Error, "Server answered with something that is not TLS",
        "Client: use the TLS port of the service (or plain HTTP on this port); server: enable TLS on this listener if clients expect it.";
    ProxyRefused = "proxy-refused", Error, "Proxy refused the tunnel",
        "Client: give the proxy the credentials it asks for (the scheme named), or use a proxy that allows this target; proxy: allow the client and the target (ACL, CONNECT ports).";
    HttpUnauthorized = "http-unauthorized", Error, "HTTP 401 or 403",
        "Check the credentials the request carries and where the server expects them (client certificate, Authorization header, signature).";
    CredentialsInUrl = "credentials-in-url", Warning, "Credentials in the URL",
        "Client: send tokens, keys and signatures in headers (e.g. Authorization) instead of query parameters; server: stop accepting them in the URL and rotate the ones already logged.";
    CleartextCredentials = "cleartext-credentials", Error, "Credentials over plain HTTP",
        "Client: use https:// for this endpoint; server: redirect or refuse plain HTTP and rotate credentials already sent in clear.";
    SensitiveGet = "sensitive-get", Warning, "Secrets in a GET query",
        "Client: send the secret in a POST body or an Authorization header; server: reject secrets in GET query strings.";
    OneSidedCapture = "one-sided-capture", Info, "The capture shows one side of the connection only",
        "Capture where both directions pass (on the client or server host, or a SPAN of both directions); nothing is concluded from the unseen side's apparent silence.";
    TcpSynUnanswered = "tcp-syn-unanswered", Info, "A single SYN with no answer in the capture",
        "Nothing to fix on this evidence: the client did not retry, so the capture ended too soon or missed the answer; capture longer (or on the client) if connects fail.";
    TcpStaleState = "tcp-stale-state", Error, "SYN answered by a bare ACK (stale connection state)",
        "Server or network: the server (or a NAT/firewall in between) still holds an old connection on this 4-tuple; client: avoid reusing source ports quickly (e.g. enable TCP timestamps, widen the ephemeral port range); NAT: lengthen its port-reuse delay.";
    TcpSynAckUnanswered = "tcp-synack-unanswered", Error, "SYN-ACK never acknowledged by the client",
        "Network: the SYN-ACK does not reach the client (asymmetric routing, a client-side firewall or NAT dropping it); check the return path from the server to the client.";
    DecodeIncomplete = "decode-incomplete", Warning, "Part of a TLS stream could not be decoded",
        "Nothing to change on the network for this finding itself: it says which bytes tlscap did not read (a malformed or oversized record or message, bytes that are not TLS), so diagnoses that need them may be missing; if a peer sent them, that peer's TLS stack or a middlebox rewriting the stream is at fault.";
    Heartbleed = "heartbleed", Warning, "Heartbleed probe or leak",
        "Server: upgrade OpenSSL (1.0.1g or later) or disable the heartbeat extension, then replace the private key and certificate and revoke the old one, as memory may have leaked; network: block the source of the probes.";
    WeakKeyExchange = "weak-key-exchange", Warning, "Weak key exchange group",
        "Server: use finite-field DH groups of at least 2048 bits (RFC 7919 ffdhe2048 or larger) or, better, ECDHE with X25519 or P-256; drop curves under 256 bits.";
    ChainInvalid = "chain-invalid", Error, "Server chain does not validate",
        "Server: replace the certificate the validator names with one correctly issued by its CA (SHA-256 signatures, serverAuth usage, no unknown critical extensions); if a device re-signs traffic, fix or bypass it.";
    QuicBlocked = "quic-blocked", Warning, "QUIC Initials never answered",
        "Network: allow UDP to the server's port (443) through firewalls and security groups if HTTP/3 is wanted; otherwise nothing breaks, but every connection first waits for the QUIC attempt to time out before the client falls back to TCP.";
    QuicVersionNegotiation = "quic-version-negotiation", Error, "Server does not speak the client's QUIC version",
        "Client: enable a QUIC version the server offers (the message lists them; v1, RFC 9000, is the one every current stack speaks), or let it fall back to TCP; server: enable the client's version.";
    QuicInitialUnanswered = "quic-initial-unanswered", Info, "A single QUIC Initial with no answer in the capture",
        "Capture longer (and both directions) if QUIC connections to this server fail: a client repeats an unanswered Initial after about 1 s, and a blocked path shows as several Initials.";
    DtlsUnanswered = "dtls-unanswered", Error, "DTLS ClientHello never answered",
        "Network: allow UDP to the server's DTLS port through firewalls and security groups (and check no NAT drops the return path); server: check the service listens on that UDP port and answers this client.";
    DtlsRoleConflict = "dtls-role-conflict", Error, "Both DTLS peers acted as client",
        "Signalling: make exactly one side the DTLS client: in WebRTC one SDP must say a=setup:active and the other a=setup:passive (an offer says actpass; the answer must not echo actpass or copy active); check any gateway or SBC that rewrites SDP.";
    SynFlood = "syn-flood", Warning, "SYN flood or port scan",
        "Server side: this is an attack or a scan, not a client to fix: keep SYN cookies on (net.ipv4.tcp_syncookies), rate-limit or block the sources upstream; for a scan, block the scanning address and check what it found open.";
    MemoryBudget = "memory-budget", Info, "Analysis cut short by the memory budget",
        "Give tlscap more memory (--max-memory) or split the capture (editcap -i 60) so that fewer connections are open at once.";
    HmacLengthMismatch = "hmac-length-mismatch", Error, "HMAC signature length does not match its algorithm",
        "Client: sign with the algorithm the header or parameter names (HMAC-SHA256 gives 32 bytes, SHA-384 48, SHA-512 64), or send the signature under the name of the algorithm used; encode the raw MAC bytes once (base64 or hex, as the API documents), not the hex text again.";
    HmacInQuery = "hmac-in-query", Warning, "HMAC signature or key id in the query string",
        "Client: send the signature and key id in headers and the parameters in a POST body, as the API documentation advises: query strings are logged by every proxy and server; server: stop accepting signatures in the URL.";
    HmacClockSkew = "hmac-clock-skew", Error, "HMAC request timestamp far from the capture time",
        "Client: synchronise the clock (NTP/chrony) and sign with the current UTC time in the format the API expects; replay protection rejects timestamps more than a few minutes off. Check the capture host's clock too.";
    HmacRejected = "hmac-rejected", Error, "HMAC-signed request answered 401/403",
        "Check in order: the key id is the one the server holds for this client; the secret (no trailing newline, not base64-decoded twice); the algorithm the name promises; the canonical form (method, path, query, timestamp, body, byte for byte); the encoding (base64 or hex); the timestamp within the server's window.";
    MtuBlackHole = "mtu-black-hole", Error, "Full-size segments never get through (MTU black hole)",
        "Network: clamp the TCP MSS on the router or tunnel with the smaller MTU (iptables/nft `tcp option maxseg size set rt mtu`), allow ICMP \"fragmentation needed\" (type 3 code 4; ICMPv6 packet too big) back to the sender, or lower the interface MTU of the sender.";
    ClientCertRejected = "client-cert-rejected", Error, "Client certificate rejected",
        "Client: use a client certificate the server accepts: issued by one of the CAs its CertificateRequest names, with extendedKeyUsage clientAuth, valid at the time, signed with an algorithm it accepts, and sent with its intermediates; server: if the client's CA is legitimate, add it to the trusted client CAs.";
    CertInconsistent = "cert-inconsistent", Warning, "Same server, different certificate chains",
        "Server: deploy the same certificate and full chain on every node behind this name (load-balancer pool members, replicas); if a TLS-intercepting proxy sits on some paths, fix or bypass it.";
    NoCommonVersion = "no-common-version", Error, "No TLS version in common",
        "Client: enable TLS 1.2 (and 1.3) — Java 7/8: -Dhttps.protocols=TLSv1.2,TLSv1.3 (and jdk.tls.client.protocols); .NET Framework: the SchUseStrongCrypto and SystemDefaultTlsVersions registry values; old OpenSSL/curl: upgrade; server: only if policy allows, enable the client's version too.";
    NoCommonCipher = "no-common-cipher", Error, "No cipher suite in common",
        "Client: offer ECDHE suites with AES-GCM or ChaCha20-Poly1305 (and TLS 1.3), by updating its TLS library or its cipher list (old Java, .NET and OpenSSL releases offer only CBC or RSA key exchange); server: only if policy allows, also accept one of the suites the client offers.";
    AlpnMismatch = "alpn-mismatch", Error, "No application protocol (ALPN) in common",
        "Server: enable the protocol the client requires on this listener (for h2: nginx http2 on, or listen ... http2; a proxy in front must offer h2 too); client: also offer http/1.1 in ALPN if it can speak it.";
    ClientAuthOptionalUnused = "client-auth-optional-unused", Info, "Optional client authentication not used",
        "Nothing to fix if the application accepts clients without a certificate (nginx ssl_verify_client optional); if this client should authenticate, configure its certificate and key for this endpoint, and make the server require one (ssl_verify_client on) so that a missing certificate fails the handshake instead of a later request.";
    NoCommonGroup = "no-common-group", Error, "No key exchange group in common (TLS 1.3)",
        "Client: offer a key exchange group the server accepts (X25519 and P-256 are the usual pair) in supported_groups, or update its TLS library; server: if policy allows, also accept one of the client's groups.";
    NoCommonSigalg = "no-common-sigalg", Error, "No signature algorithm in common for the server's certificate",
        "Client: offer signature algorithms for the server certificate's key type (ECDSA: ecdsa_secp256r1_sha256; RSA: rsa_pss_rsae_sha256, rsa_pkcs1_sha256), or update its TLS library; server: if such clients must be served, add a certificate with a key type the client can verify beside the current one.";

    SplitAcrossFiles = "split-across-files", Info, "Connection continues in another file of the batch",
        "Nothing to fix on the network: the capture was rotated (tcpdump -C/-G, dumpcap -b) while this connection was open; read the pieces together with --continuous to see it as one connection.";
    CaptureCut = "capture-cut", Info, "The capture starts or ends inside this connection",
        "Nothing to fix on this evidence: start the capture before the connection opens and stop it after the connection closes (or give every piece of a rotated capture, with --continuous) to see how it went.";
}

impl FindingKind {
    /// The kind with this id.
    pub fn from_id(id: &str) -> Option<FindingKind> {
        FindingKind::ALL.iter().copied().find(|k| k.id() == id)
    }

    /// Position in [`FindingKind::ALL`] (a compact code for storage).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind at this position in [`FindingKind::ALL`].
    pub fn from_code(code: u8) -> Option<FindingKind> {
        FindingKind::ALL.get(usize::from(code)).copied()
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// An id that names no finding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown finding id {0:?} (known: {known})", known = FindingKind::ALL.iter().map(|k| k.id()).collect::<Vec<_>>().join(", "))]
pub struct UnknownFindingId(pub String);

impl std::str::FromStr for FindingKind {
    type Err = UnknownFindingId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FindingKind::from_id(s).ok_or_else(|| UnknownFindingId(s.to_string()))
    }
}

/// Its id in JSON and other text formats, its one-byte code in storage.
impl Serialize for FindingKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(self.id())
        } else {
            s.serialize_u8(self.code())
        }
    }
}

/// A finding id in the schema: one of the catalogue's ids (new ids may be added, none renamed).
impl schemars::JsonSchema for FindingKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FindingKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let ids: Vec<&str> = FindingKind::ALL.iter().map(|k| k.id()).collect();
        schemars::json_schema!({
            "description": "A finding id from the catalogue (README, Findings).",
            "type": "string",
            "enum": ids,
        })
    }
}

impl<'de> Deserialize<'de> for FindingKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            let code = u8::deserialize(d)?;
            return FindingKind::from_code(code).ok_or_else(|| {
                serde::de::Error::custom(format!("stored finding code {code} names no finding"))
            });
        }
        let id = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        FindingKind::from_id(&id)
            .ok_or_else(|| serde::de::Error::custom(UnknownFindingId(id.into_owned())))
    }
}

/// A failed connection's `cause`: the finding that explains it, or `unknown` when none does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// The finding that explains the failure.
    Finding(FindingKind),
    /// The connection failed and no finding explains why.
    Unknown,
}

impl Cause {
    /// The finding's id, or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Finding(kind) => kind.id(),
            Cause::Unknown => "unknown",
        }
    }

    /// The finding, unless the cause is unknown.
    pub fn kind(self) -> Option<FindingKind> {
        match self {
            Cause::Finding(kind) => Some(kind),
            Cause::Unknown => None,
        }
    }
}

/// Printers show a cause as its id.
impl std::ops::Deref for Cause {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cause::Finding(kind) => kind.serialize(s),
            Cause::Unknown if s.is_human_readable() => s.serialize_str("unknown"),
            // Codes are the catalogue's indexes, below 255 (checked at compile time below).
            Cause::Unknown => s.serialize_u8(u8::MAX),
        }
    }
}

const _: () = assert!(FindingKind::ALL.len() < u8::MAX as usize);

impl<'de> Deserialize<'de> for Cause {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            let code = u8::deserialize(d)?;
            if code == u8::MAX {
                return Ok(Cause::Unknown);
            }
            return FindingKind::from_code(code)
                .map(Cause::Finding)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("stored finding code {code} names no finding"))
                });
        }
        let id = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if id == "unknown" {
            return Ok(Cause::Unknown);
        }
        FindingKind::from_id(&id)
            .map(Cause::Finding)
            .ok_or_else(|| serde::de::Error::custom(UnknownFindingId(id.into_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_lowercase_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for (i, k) in FindingKind::ALL.iter().enumerate() {
            assert!(seen.insert(k.id()), "{k}");
            assert!(k
                .id()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            assert_eq!(k.id().parse::<FindingKind>(), Ok(*k));
            assert_eq!(FindingKind::from_code(k.code()), Some(*k));
            assert_eq!(usize::from(k.code()), i);
            assert!(!k.fix().is_empty() && !k.title().is_empty());
        }
        assert_eq!(FindingKind::from_code(FindingKind::ALL.len() as u8), None);
        assert!("missing-snl".parse::<FindingKind>().is_err());
    }

    /// The catalogue's pre-escaped fixes are what serialising the text gives.
    #[test]
    fn catalogue_fixes_serialise_as_their_text() {
        for k in FindingKind::ALL {
            let f = crate::record::Finding::new(*k, Severity::Info, "m".into(), "e".into());
            let json = serde_json::to_value(&f).unwrap();
            assert_eq!(json["remediation"], k.fix(), "{k}");
            let owned = f.clone().with_fix(k.fix().to_string());
            assert_eq!(
                serde_json::to_string(&owned).unwrap(),
                serde_json::to_string(&f).unwrap()
            );
        }
    }

    #[test]
    fn every_kind_is_documented_in_readme() {
        let readme = include_str!("../../README.md");
        for k in FindingKind::ALL {
            let heading = format!("### `{}` (", k.id());
            assert!(readme.contains(&heading), "README has no section {heading}");
        }
    }
}
