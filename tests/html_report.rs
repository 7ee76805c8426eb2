//! `--format html` and `--format md` on samples/: the HTML page opened in a real headless
//! browser (Debian's `chromium`, installed by .ci/run), its DOM checked for values seen in the
//! samples, and its network log checked for requests (there must be none). The browser runs in
//! a new network namespace when `unshare` can make one, so that its own update checks cannot
//! leave the machine either.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn tlscap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tlscap"))
}

/// Where the test leaves its report, DOM and screenshot (CI keeps `target/` as artifacts).
fn out_dir() -> PathBuf {
    let d = common::root().join("target").join("html-report");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The report of samples/ in `format`, written with `-o` to `file`.
fn report(format: &str, file: &Path) -> String {
    let out = tlscap()
        .arg(common::root().join("samples"))
        .args(["--format", format, "-q", "-o"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(file).unwrap()
}

/// The page's text as a browser lays it out, roughly: inline tags dropped, block tags as
/// white space, entities of the escaper decoded, white space collapsed.
fn text_of(html: &str) -> String {
    const BLOCKS: &[&str] = &[
        "p", "div", "li", "ul", "td", "th", "tr", "table", "h1", "h2", "h3", "h4", "dt", "dd",
        "dl", "br", "summary", "details", "section", "title", "style", "g",
    ];
    let mut text = String::new();
    let mut tag: Option<String> = None;
    for c in html.chars() {
        match (&mut tag, c) {
            (None, '<') => tag = Some(String::new()),
            (Some(t), '>') => {
                let name = t.trim_start_matches('/');
                let name = name.split([' ', '/']).next().unwrap_or("");
                if BLOCKS.contains(&name) {
                    text.push(' ');
                }
                tag = None;
            }
            (Some(t), c) => t.push(c),
            (None, c) => text.push(c),
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The browser on PATH, if any.
fn browser() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| common::have(b))
}

/// Runs the headless browser on a page: its DOM after load, and the URLs the page asked the
/// network for (from Chromium's net log: requests made on behalf of a `file://` page).
fn open_in_browser(browser: &str, page: &Path, extra: &[&str]) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let netlog = dir.path().join("net.json");
    let isolated = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let mut cmd = if isolated {
        let mut c = Command::new("unshare");
        c.args(["-n", browser]);
        c
    } else {
        Command::new(browser)
    };
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-pings",
        "--disable-domain-reliability",
    ])
    .arg(format!(
        "--user-data-dir={}",
        dir.path().join("profile").display()
    ))
    .arg(format!("--log-net-log={}", netlog.display()))
    .args(extra)
    .arg(format!("file://{}", page.display()));
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{browser}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&netlog).unwrap()).expect("net log is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    let mut urls: Vec<String> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == start_job)
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("file://"))
        })
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_owned))
        .collect();
    urls.sort();
    urls.dedup();
    (String::from_utf8(out.stdout).unwrap(), urls)
}

#[test]
fn html_report_of_samples_in_a_browser() {
    let Some(browser) = browser() else {
        eprintln!(
            "SKIP html_report_of_samples_in_a_browser: no chromium on PATH \
             (apt-get install chromium; .ci/run installs it)"
        );
        return;
    };
    let dir = out_dir();
    let page = dir.join("samples.html");
    report("html", &page);

    // The check below can fail: a page that loads an image and a style sheet shows both.
    let control = dir.join("control.html");
    std::fs::write(
        &control,
        "<html><body><img src=\"http://127.0.0.1:9/x.png\">\
         <link rel=stylesheet href=\"https://example.invalid/a.css\"></body></html>",
    )
    .unwrap();
    let (_, control_urls) = open_in_browser(browser, &control, &["--dump-dom"]);
    assert_eq!(
        control_urls,
        ["http://127.0.0.1:9/x.png", "https://example.invalid/a.css"]
    );

    let (dom, urls) = open_in_browser(browser, &page, &["--dump-dom"]);
    assert_eq!(urls, Vec::<String>::new(), "the report fetched something");
    std::fs::write(dir.join("samples.dom.html"), &dom).unwrap();

    // The timeline: a mark per connection, the 75 failed ones linked to their sections.
    assert!(dom.contains("data-connections=\"178\""));
    assert_eq!(dom.matches("<rect class=\"tick failed\"").count(), 75);
    assert!(dom.contains("<a href=\"#conn-cert-expired-pcap-0\"><rect class=\"tick failed\""));
    // One section per failing connection, and the summary's counts.
    assert_eq!(dom.matches("<section class=\"conn\"").count(), 75);
    let text = text_of(&dom);
    let summary = &text[text.find("Summary").unwrap()..];
    assert!(summary.starts_with("Summary 178 connections 75 failed 95 ok 8 unknown"));
    // Verdict sentences, with values seen in the captures.
    for verdict in [
        "(no SNI) (127.0.0.1:8412) — Client certificate requested only with SNI \
         (sni-gated-client-auth): 2 of 2 connections failed",
        "api.tlscap.test (127.0.0.1:8420) — Certificate expired (cert-expired): 1 of 1 \
         connection failed",
        // Through tinyproxy: the server is the tunnel's target, the proxy its carrier.
        "api.tlscap.test (api.tlscap.test:8463 via HTTP proxy 127.0.0.1:8464) — HTTP 401 or \
         403 (http-unauthorized): 1 of 1 connection failed",
    ] {
        assert!(text.contains(verdict), "no verdict {verdict:?}");
    }
    // cert-expired.pcap #0: its ladder has 7 events, the client's fatal alert in packet 10
    // marked as the failing step; its findings give evidence and fix.
    let start = dom.find("id=\"conn-cert-expired-pcap-0\"").unwrap();
    let section = &dom[start..start + dom[start..].find("</section>").unwrap()];
    assert!(section.contains("data-events=\"7\""));
    let failing = section.find("class=\"event fail\"").unwrap();
    assert!(section[failing..].starts_with("class=\"event fail\" data-packet=\"10\""));
    let section_text = text_of(section);
    assert!(section_text.contains("✗ Alert fatal certificate_expired"));
    assert!(section_text.contains("failed at handshake: cert-expired — Certificate expired"));
    assert!(section_text.contains(
        "Evidence Alert (fatal, certificate_expired) from the client in packet 10 on \
         127.0.0.1:36852 → 127.0.0.1:8420."
    ));
    assert!(section_text.contains(
        "Fix Server: renew the certificate and deploy it (with its current intermediates) on \
         every node."
    ));
    assert!(section_text.contains("CN=api.tlscap.test, O=tlscap tests"));
    // The healthy connections are collapsed.
    let others = &dom[dom.find("id=\"others\"").unwrap()..];
    assert!(others.contains("<details>"));
    assert!(text_of(&format!("<{others}")).starts_with("Other connections (103) 95 ok, 8 unknown"));

    // A screenshot for people (CI artifact).
    let shot = dir.join("samples.png");
    let shot_arg = format!("--screenshot={}", shot.display());
    open_in_browser(browser, &page, &[&shot_arg, "--window-size=1100,1800"]);
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
}

#[test]
fn markdown_report_of_samples() {
    let md = report("md", &out_dir().join("samples.md"));
    assert!(md.starts_with("# TLS connection report\n"));
    assert!(
        md.contains("178 connections: **75 failed**, 95 ok, 8 unknown (the capture cannot tell).")
    );
    assert!(md.contains(
        "- **api.tlscap.test** (127.0.0.1:8420) — Certificate expired (cert-expired): 1 of 1 \
         connection failed"
    ));
    assert_eq!(
        md.matches("\n### ").count(),
        75 + 3,
        "75 connections, 3 summary headings"
    );
    // An ICMP error that is the cause is drawn from the server's side, where it failed.
    assert!(md.contains(
        "     #18  client ← server  ICMP host-unreachable from 127.0.0.1  ✗ failed here"
    ));
    assert!(
        md.contains("     #10  client → server  Alert fatal certificate_expired  ✗ failed here")
    );
}
