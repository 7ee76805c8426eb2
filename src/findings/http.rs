//! Rules on the HTTP exchanges read from decrypted (or cleartext) application data.

use super::{finding, Finding, FindingKind, Severity};
use crate::http::{is_credential_param, is_sensitive_param, query_names};
use crate::record::{ConnectionRecord, HttpRecord};
use crate::tls::HandshakeSummary;

fn request_text(h: &HttpRecord) -> String {
    format!(
        "{} {}",
        h.method.as_deref().unwrap_or("?"),
        h.path.as_deref().unwrap_or("?")
    )
}

fn packets(h: &HttpRecord) -> String {
    let req = h
        .request_packet
        .map(|p| format!("request in packet {p}"))
        .unwrap_or_else(|| "request not seen".to_string());
    match h.response_packet {
        Some(p) => format!("{req}, response in packet {p}"),
        None => req,
    }
}

/// `http-unauthorized`, `credentials-in-url`, `cleartext-credentials`, `sensitive-get`.
pub(super) fn http_rules(r: &ConnectionRecord, hs: &HandshakeSummary, out: &mut Vec<Finding>) {
    if let Some(h) = r
        .http
        .iter()
        .find(|h| matches!(h.status, Some(401) | Some(403)))
    {
        unauthorized(r, hs, h, out);
        // A 401/403 to a request with no credentials of its own, on a handshake without a
        // CertificateRequest: the certificate the server expects was never asked for. A
        // resumed session carries none by design, so it proves nothing there.
        if h.auth.is_none()
            && hs.client_hello.is_some()
            && hs.cert_requested() == Some(false)
            && !hs.resumed()
        {
            let done = match hs.server_hello_done {
                Some(m) => format!(
                    "ServerHelloDone in packet {} with no CertificateRequest before it",
                    m.packet
                ),
                None => "no CertificateRequest in the handshake".to_string(),
            };
            // Through a CONNECT or SOCKS tunnel the server sees the proxy's address, so an
            // address allow-list refusing the proxy explains the refusal as well.
            let (severity, via) = match r.tunnel_target() {
                Some(_) => (
                    Severity::Warning,
                    format!(" The request came through the {}, so the server saw the proxy's address: an address rule refusing the proxy is as likely a cause as a missing client certificate.", r.proxy_named()),
                ),
                None => (Severity::Error, String::new()),
            };
            out.push(finding(
                FindingKind::ClientCertNotRequested,
                severity,
                format!(
                    "{} completed the handshake without asking for a client certificate, then answered {} with HTTP {} although the request carried no other credentials.{via}",
                    r.server_named(),
                    request_text(h),
                    h.status.unwrap_or(0)
                ),
                format!(
                    "ClientHello in packet {} (SNI {}); {done}; {}.",
                    hs.client_hello.as_ref().map_or(0, |c| c.meta.packet),
                    r.sni.as_deref().unwrap_or("none"),
                    packets(h)
                ),
            ));
        }
    }
    let tls = hs.client_hello.is_some();
    for h in &r.http {
        let names = h.path.as_deref().map(query_names).unwrap_or_default();
        let creds: Vec<&String> = names.iter().filter(|n| is_credential_param(n)).collect();
        if !creds.is_empty() {
            let list = creds
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            out.push(finding(
                FindingKind::CredentialsInUrl,
                Severity::Warning,
                format!("The request {} to {} carries credentials in its URL ({list}); URLs land in proxy, server and browser logs.", request_text(h), r.server_named()),
                format!("{}; query parameter{} {list} (values not shown).", packets(h), if creds.len() == 1 { "" } else { "s" }),
            ));
            break;
        }
    }
    if !tls {
        if let Some(h) = r.http.iter().find(|h| h.auth.in_request()) {
            out.push(finding(
                FindingKind::CleartextCredentials,
                Severity::Error,
                format!("The request {} to {} sends {} credentials over plain HTTP, readable by anyone on the path.", request_text(h), r.server, h.auth),
                format!("{}; no TLS on this connection.", packets(h)),
            ));
        }
    }
    for h in &r.http {
        if h.method.as_deref() != Some("GET") {
            continue;
        }
        let names = h.path.as_deref().map(query_names).unwrap_or_default();
        // Passwords and secrets, and also tokens, keys and signatures: in a GET they travel in
        // the URL, where a POST would carry them in the body.
        let secret: Vec<&String> = names
            .iter()
            .filter(|n| is_sensitive_param(n) || is_credential_param(n))
            .collect();
        if secret.is_empty() {
            continue;
        }
        let list = secret
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        out.push(finding(
            FindingKind::SensitiveGet,
            Severity::Warning,
            format!("A GET request to {} sends secrets as query parameters ({list}); they belong in a POST body or a header.", r.server_named()),
            format!("{}: {} (values not shown).", packets(h), request_text(h)),
        ));
        break;
    }
}

fn unauthorized(
    r: &ConnectionRecord,
    hs: &HandshakeSummary,
    h: &HttpRecord,
    out: &mut Vec<Finding>,
) {
    let code = h.status.unwrap_or(0);
    let ch_packet = hs.client_hello.as_ref().map(|c| c.meta.packet);
    let no_sni = hs.client_hello.as_ref().is_some_and(|c| c.sni.is_none());
    let sent_credentials = h.auth.in_request();
    let (why, fix) = match (hs.cert_requested(), hs.client_cert_sent()) {
        _ if sent_credentials && !no_sni => (
            format!(": the request's {} credentials were rejected", h.auth),
            "Client: check that the credentials (key id, secret, signature algorithm and timestamp for HMAC; token expiry for bearer) are valid and meant for this endpoint; server: check its logs for the reason.",
        ),
        (Some(false), _) if no_sni => (
            format!(" after a handshake in which no client certificate was requested because the ClientHello had no SNI (packet {})", ch_packet.unwrap_or(0)),
            "Client: connect with the host name so that SNI is sent and the server's client-auth virtual host is selected; server: request client certificates on the default host too.",
        ),
        (Some(false), _) => (
            " after a handshake in which the server did not request a client certificate".to_string(),
            "Server: enable client-certificate requests for this host if clients authenticate with certificates; client: otherwise send the credentials the API expects (e.g. an Authorization header).",
        ),
        (Some(true), Some(false)) => (
            format!(" after the server asked for a client certificate (packet {}) and the client sent none", hs.certificate_request.map(|m| m.packet).unwrap_or(0)),
            "Client: configure the client certificate and key for this endpoint.",
        ),
        (_, Some(true)) => (
            " although the client presented a certificate: the server did not accept it for this resource".to_string(),
            "Server: map the client certificate's subject to an authorised identity; client: use the certificate the API expects.",
        ),
        _ if h.auth.is_none() => (
            ": the request carried no credentials".to_string(),
            "Client: send the credentials the API expects (Authorization header or client certificate).",
        ),
        _ => (
            format!(": the request's {} credentials were rejected", h.auth),
            "Client: check that the credentials are valid, unexpired and meant for this endpoint.",
        ),
    };
    out.push(
        finding(
            FindingKind::HttpUnauthorized,
            Severity::Error,
            format!(
                "{} answered {} with HTTP {code}{why}.",
                r.server_named(),
                request_text(h)
            ),
            format!("{}; auth {}; HTTP {code}.", packets(h), h.auth),
        )
        .with_fix(fix),
    );
}
