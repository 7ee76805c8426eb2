//! `tlscap.toml` beside the captures: samples/tlscap.toml makes the first run show the
//! failures the samples were made to show; the nearest file wins; bad files are usage errors
//! that name the file and line and quote no value.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn tlscap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(args)
        .output()
        .expect("run tlscap")
}

fn connections(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .filter(|r| r["type"] == "connection")
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `tlscap samples/` with no option trusts the samples' CA as `--ca-file` does, and gives
/// cert-revoked-crl.pcap its CRL: every record is the one the explicit options give.
#[test]
fn samples_settings_give_the_same_records_as_the_options() {
    let by_settings = tlscap(&["--format", "json", "samples/"]);
    assert_eq!(by_settings.status.code(), Some(0));
    assert!(
        stderr(&by_settings)
            .starts_with("tlscap: using settings samples/tlscap.toml for 120 captures (`--no-settings` ignores it)\n"),
        "{}",
        stderr(&by_settings)
    );
    let by_options = tlscap(&[
        "--format",
        "json",
        "-q",
        "--no-settings",
        "--ca-file",
        "samples/pki/root.pem",
        "samples/",
    ]);
    let crl = tlscap(&[
        "--format",
        "json",
        "-q",
        "--no-settings",
        "--ca-file",
        "samples/pki/root.pem",
        "--crl",
        "samples/pki/revoked.crl.pem",
        "samples/cert-revoked-crl.pcap",
    ]);
    let mut want = connections(&by_options);
    let crl = connections(&crl);
    assert_eq!(crl.len(), 1);
    let at = want
        .iter()
        .position(|r| r["file"] == "samples/cert-revoked-crl.pcap")
        .unwrap();
    want[at] = crl[0].clone();
    let got = connections(&by_settings);
    assert_eq!(got.len(), 178);
    assert_eq!(got, want);
    let ids: Vec<&str> = got[at]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cert-revoked", "tls-alert"]);
    // Without the settings the CA is not trusted: the samples' chains fail.
    let bare = connections(&tlscap(&["--format", "json", "--no-settings", "samples/"]));
    let untrusted = |rs: &[Value]| {
        rs.iter()
            .filter(|r| r["chain_status"] == "untrusted" || r["chain_status"] == "incomplete")
            .count()
    };
    assert_eq!(untrusted(&got), 7);
    assert_eq!(untrusted(&bare), 127);
}

/// A temporary case folder: captures linked from samples/ (not copied) and settings files.
fn case(files: &[(&str, &str)], links: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    for (name, sample) in links {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(common::sample(sample), p).unwrap();
    }
    dir
}

fn chain_status_by_file(dir: &Path, extra: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["--format", "json", "-q"];
    args.extend(extra);
    let d = dir.to_str().unwrap();
    args.push(d);
    connections(&tlscap(&args))
        .iter()
        .map(|r| {
            let file = r["file"].as_str().unwrap();
            (
                file.strip_prefix(d).unwrap_or(file).to_string(),
                r["chain_status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The nearest settings file wins whole (an empty one below trusts nothing more), relative
/// paths start at the file's directory, and the command line adds to the file's lists.
#[test]
fn the_nearest_settings_file_wins_and_the_command_line_adds() {
    let root = common::sample("pki/root.pem");
    let dir = case(
        &[
            ("tlscap.toml", "ca_file = [\"pki/root.pem\"]\n"),
            ("sub/tlscap.toml", "# nothing trusted here\n"),
        ],
        &[
            ("a.pcap", "tls12-openssl-sni.pcap"),
            ("deeper/b.pcap", "tls12-openssl-sni.pcap"),
            ("sub/c.pcap", "tls12-openssl-sni.pcap"),
            ("pki/root.pem", "pki/root.pem"),
        ],
    );
    let status = |s: &str| s.to_string();
    assert_eq!(
        chain_status_by_file(dir.path(), &[]),
        [
            ("/a.pcap".into(), status("trusted")),
            ("/deeper/b.pcap".into(), status("trusted")),
            ("/sub/c.pcap".into(), status("untrusted")),
        ]
    );
    assert_eq!(
        chain_status_by_file(dir.path(), &["--ca-file", root.to_str().unwrap()]),
        [
            ("/a.pcap".into(), status("trusted")),
            ("/deeper/b.pcap".into(), status("trusted")),
            ("/sub/c.pcap".into(), status("trusted")),
        ]
    );
    assert_eq!(
        chain_status_by_file(dir.path(), &["--no-settings"]),
        [
            ("/a.pcap".into(), status("untrusted")),
            ("/deeper/b.pcap".into(), status("untrusted")),
            ("/sub/c.pcap".into(), status("untrusted")),
        ]
    );
    // A capture named on the command line uses its own directory's settings only.
    let out = tlscap(&[
        "--format",
        "json",
        dir.path().join("deeper/b.pcap").to_str().unwrap(),
    ]);
    assert_eq!(connections(&out)[0]["chain_status"], "untrusted");
    assert_eq!(stderr(&out), "");
}

/// A bad settings file is a usage error naming the file, line and column; a value typed under
/// the wrong key (a secret, say) is not quoted back.
#[test]
fn bad_settings_are_usage_errors_that_quote_no_value() {
    for (text, want) in [
        (
            "ca_file = []\nsystem_roots = \"k1=hunter2\"\n",
            "tlscap.toml:2:16: invalid type: string \"…\", expected a boolean\n",
        ),
        (
            "\ncafile = [\"x\"]\n",
            "tlscap.toml:2:1: unknown field `cafile`, expected one of `ca_file`, `system_roots`, `crl`, `expect_client_auth`, `expect_host`, `keylog`, `hmac_secrets`, `files`\n",
        ),
        (
            "expect_client_auth = [\"not a server\"]\n",
            "tlscap.toml:1:22: not an ip, ip:port or SNI pattern: \"…\"\n",
        ),
        (
            "hmac_secrets = \"secrets\"\n",
            "tlscap.toml: DIR/secrets:1: expected KEYID=SECRET\n",
        ),
    ] {
        let dir = case(
            &[("tlscap.toml", text), ("secrets", "hunter2\n")],
            &[("a.pcap", "tls12-openssl-sni.pcap")],
        );
        let d = dir.path().display().to_string();
        let out = tlscap(&[&d]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert_eq!(
            stderr(&out),
            format!("tlscap: {d}/{}", want.replace("DIR", &d)),
            "{text}"
        );
        assert!(!stderr(&out).contains("hunter2"));
        assert!(out.stdout.is_empty());
        // --no-settings runs anyway.
        assert_eq!(tlscap(&["-q", "--no-settings", &d]).status.code(), Some(0));
    }
}
