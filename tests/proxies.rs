//! Proxy preambles in real captures: HTTP CONNECT, SOCKS4/4a/5 and the PROXY protocol give the
//! proxy, the tunnel's target and (PROXY) the original client. Expected values are the bytes
//! of each capture as tshark shows them (`http.request.uri` of the CONNECT, `proxy.src.ipv4`
//! and friends for haproxy.pcap; the SOCKS requests read from `tcp.payload`).

mod common;

use tlscap::app::{analyze_file, Options};

/// (proxy kind, proxy, target, original client, SNI) of each reported connection.
type Proxied = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// With `--all`: socks4-https.pcap misses the client's ClientHello (bytes 39-239, never
/// captured; tshark: "ACKed unseen segment"), so its connection is listed only then.
fn proxied(path: &std::path::Path) -> Vec<Proxied> {
    let opts = Options {
        all: true,
        ..Options::default()
    };
    analyze_file(path, &opts)
        .connections
        .iter()
        .map(|r| {
            (
                r.proxy_kind.map(|k| k.name().to_string()),
                r.proxy.clone(),
                r.target.clone(),
                r.original_client.map(|a| a.to_string()),
                r.sni.clone(),
            )
        })
        .collect()
}

fn row(
    kind: &str,
    proxy: &str,
    target: &str,
    original: Option<&str>,
    sni: Option<&str>,
) -> Proxied {
    (
        Some(kind.into()),
        Some(proxy.into()),
        Some(target.into()),
        original.map(Into::into),
        sni.map(Into::into),
    )
}

#[test]
fn socks4_socks4a_and_socks5_targets() {
    let Some(corpus) = common::corpus("socks4_socks4a_and_socks5_targets") else {
        return;
    };
    let p = "10.180.156.249:1080";
    assert_eq!(
        proxied(&corpus.join("ja4/pcap/socks-https-example.pcap")),
        [
            row(
                "socks4",
                p,
                "93.184.216.119:443",
                None,
                Some("www.example.com")
            ),
            row(
                "socks4a",
                p,
                "www.example.com:443",
                None,
                Some("www.example.com")
            ),
            row(
                "socks5",
                p,
                "93.184.216.119:443",
                None,
                Some("www.example.com")
            ),
        ]
    );
    assert_eq!(
        proxied(&corpus.join("ja4/pcap/socks4-https.pcap")),
        [row(
            "socks4a",
            "10.0.0.2:9901",
            "login.live.com:443",
            None,
            None
        )]
    );
}

#[test]
fn http_connect_target_and_proxy_protocol_client() {
    let Some(corpus) = common::corpus("http_connect_target_and_proxy_protocol_client") else {
        return;
    };
    assert_eq!(
        proxied(&corpus.join("ja4/pcap/https-connect.pcap")),
        [row(
            "http-connect",
            "10.9.8.7:8080",
            "ts01-b.cloudsink.net:443",
            None,
            None
        )]
    );
    assert_eq!(
        proxied(&corpus.join("nDPI/tests/cfgs/default/pcap/haproxy.pcap")),
        [row(
            "proxy-v1",
            "1.1.1.1:48502",
            "222.222.222.22:443",
            Some("11.111.11.111:52176"),
            Some("aaaaaaaaaaaaaaaa.xx")
        )]
    );
}

/// tinyproxy on loopback (samples/proxy-connect-auth.pcap): the CONNECT carries a planted
/// Proxy-Authorization, which must not leak into the target.
#[test]
fn connect_through_tinyproxy_sample() {
    assert_eq!(
        proxied(&common::sample("proxy-connect-auth.pcap")),
        [row(
            "http-connect",
            "127.0.0.1:8446",
            "localhost:8443",
            None,
            Some("localhost")
        )]
    );
}

/// Directly sent TLS has none of the proxy fields.
#[test]
fn direct_tls_names_no_proxy() {
    assert_eq!(
        proxied(&common::sample("tls12-openssl-sni.pcap")),
        [(None, None, None, None, Some("api.tlscap.test".into()))]
    );
}

/// tinyproxy asking for Basic credentials the client did not send
/// (samples/proxy-connect-407.pcap; tshark: `HTTP/1.0 407 Proxy Authentication Required`
/// in packet 6).
#[test]
fn refused_connect_is_a_finding_with_the_scheme() {
    let a = analyze_file(
        &common::sample("proxy-connect-407.pcap"),
        &Options::default(),
    );
    assert_eq!(a.connections.len(), 1);
    let r = &a.connections[0];
    assert_eq!(r.target.as_deref(), Some("localhost:8443"));
    assert_eq!(r.cause.as_deref(), Some("proxy-refused"));
    let f = &r.findings[0];
    assert_eq!(f.kind.id(), "proxy-refused");
    assert_eq!(
        f.message,
        "The proxy 127.0.0.1:8447 refused the tunnel to localhost:8443: HTTP 407 Proxy \
         Authentication Required (Proxy-Authenticate: Basic)."
    );
}
