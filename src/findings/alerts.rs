//! What a TLS alert most likely means, given who sent it.

use crate::flow::Side;

/// The likely cause of an alert `description` sent by `from`, and what to do.
pub fn explain(from: Side, description: &str) -> (&'static str, &'static str) {
    use Side::*;
    match (from, description) {
        (Client, "unknown_ca") => (
            "the client does not trust the server's certificate chain (its root or a missing intermediate is not in the client's trust store)",
            "Server: send the complete chain (leaf + intermediates). Client: add the issuing root CA to the client's trust store if it is a private CA.",
        ),
        (Client, "bad_certificate") | (Client, "certificate_unknown") => (
            "the client rejected the server's certificate (untrusted chain, wrong hostname, or an unacceptable certificate)",
            "Check the server's chain, its SAN against the name the client uses, and its validity; fix on the server side or trust the CA on the client.",
        ),
        (Client, "certificate_expired") => (
            "the client found an expired certificate in the server's chain",
            "Server: renew the certificate and redeploy the chain.",
        ),
        (Client, "certificate_revoked") => (
            "the client found a revoked certificate in the server's chain",
            "Server: replace the revoked certificate.",
        ),
        (Client, "decrypt_error") | (Server, "decrypt_error") => (
            "a handshake signature or Finished check failed (wrong key pair, or a middlebox altered the handshake)",
            "Check that the certificate and private key match, and that nothing intercepts the connection.",
        ),
        (Server, "certificate_required") => (
            "the server requires a client certificate and the client sent none",
            "Client: configure the client certificate and key (and make sure the client sends SNI if the server asks for certificates only on named hosts).",
        ),
        (Server, "handshake_failure") => (
            "the server could not agree on parameters (no common cipher suite, version or group) or rejected the client's authentication (e.g. no client certificate when one is required)",
            "Compare the client's offered versions and cipher suites with the server's configuration; if the server requires a client certificate, configure one on the client.",
        ),
        (Server, "bad_certificate") | (Server, "unknown_ca") | (Server, "certificate_unknown") | (Server, "unsupported_certificate") => (
            "the server rejected the client's certificate (not issued by a CA the server trusts for client authentication, or unusable)",
            "Client: present a certificate issued by a CA the server trusts; Server: add the client CA to the list of trusted client-certificate issuers.",
        ),
        (Server, "certificate_expired") => (
            "the server rejected an expired client certificate",
            "Client: renew the client certificate.",
        ),
        (Server, "access_denied") => (
            "the server accepted the client certificate as valid but denies access to its subject",
            "Server: authorise the client certificate's subject (or map it to a user).",
        ),
        (_, "protocol_version") => (
            "the peers share no TLS version (one side requires a version the other does not offer)",
            "Enable a common TLS version (TLS 1.2 or 1.3) on both sides.",
        ),
        (_, "insufficient_security") => (
            "the cipher suites offered are weaker than the peer requires",
            "Offer modern cipher suites (AEAD, forward secrecy) on the client.",
        ),
        (Server, "unrecognized_name") => (
            "the server has no virtual host for the SNI the client sent",
            "Client: use the hostname the server is configured for; Server: add the name to its configuration.",
        ),
        (_, "no_application_protocol") => (
            "no ALPN protocol in common (e.g. the server only speaks h2 or http/1.1)",
            "Align the ALPN protocols offered by the client with those the server supports.",
        ),
        (_, "illegal_parameter") | (_, "decode_error") | (_, "unexpected_message") => (
            "the peer received a malformed or unexpected handshake message (an interoperability bug or a middlebox interfering)",
            "Capture on both sides of any proxy or inspection device; update the TLS library on the failing side.",
        ),
        (_, "bad_record_mac") => (
            "a record failed integrity checks (corruption in transit, or a middlebox altering traffic)",
            "Look for devices rewriting the traffic between the peers.",
        ),
        (_, "internal_error") => (
            "the sender hit an internal error unrelated to the peer's messages",
            "Check the sending side's logs.",
        ),
        (_, "user_canceled") => (
            "the sender cancelled the handshake",
            "Check why the sending application aborted (timeout, user action).",
        ),
        (_, "no_renegotiation") => (
            "the sender refused a renegotiation",
            "Avoid renegotiation, or enable it on the refusing side if certificate authentication depends on it.",
        ),
        _ => (
            "the sender aborted the TLS session",
            "Check the sending side's logs for the reason.",
        ),
    }
}
