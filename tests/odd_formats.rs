//! Old and odd formats seen in real captures (issue 22): directory strings of every ASN.1
//! string type are read as text, not shown as `#hex`.

mod common;

use tlscap::app::{analyze_file, Options};

fn leaf(rel: &str, index: u64) -> Option<tlscap::certs::CertInfo> {
    let corpus = common::corpus("odd_formats")?;
    let a = analyze_file(&corpus.join(rel), &Options::default());
    let r = a
        .connections
        .iter()
        .find(|r| r.index == index)
        .expect("connection");
    Some(r.server_chain.as_deref().expect("server chain")[0].clone())
}

/// wechat.pcap #8: web.wechat.com's subject is in TeletexStrings (read as Latin-1).
#[test]
fn teletex_names_are_text() {
    let Some(leaf) = leaf("nDPI/tests/cfgs/default/pcap/wechat.pcap", 8) else {
        return;
    };
    assert_eq!(
        leaf.subject,
        "CN=web.wechat.com, O=Tencent Mobility Limited, L=Wan Chai, ST=HongKong, C=HK"
    );
    assert_eq!(leaf.common_name.as_deref(), Some("web.wechat.com"));
}

/// KakaoTalk_chat.pcap #4: a TeletexString subject whose commonName is the wildcard
/// `*.kakao.com` (before, shown as `CN=#2a2e6b616b616f2e636f6d` with no common name).
#[test]
fn a_teletex_wildcard_common_name_is_read() {
    let Some(leaf) = leaf("nDPI/tests/cfgs/default/pcap/KakaoTalk_chat.pcap", 4) else {
        return;
    };
    assert_eq!(
        leaf.subject,
        "CN=*.kakao.com, O=Kakao Corp., L=Seongnam-si, ST=Gyeonggi-do, C=KR"
    );
    assert_eq!(leaf.common_name.as_deref(), Some("*.kakao.com"));
}

/// badcurveball.pcap (CVE-2020-0601 test): the root's key spells its curve out (explicit
/// parameters) instead of naming it; before, shown as the parameters' hex.
#[test]
fn explicit_curve_parameters_are_named() {
    let Some(corpus) = common::corpus("odd_formats") else {
        return;
    };
    let a = analyze_file(
        &corpus.join("ja4/pcap/badcurveball.pcap"),
        &Options::default(),
    );
    let chain = a.connections[0].server_chain.as_deref().expect("chain");
    assert_eq!(chain[1].key, "EC explicit parameters");
    assert_eq!(chain[1].key_bits, 384);
}
