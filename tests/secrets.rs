//! No output of tlscap carries a secret. The samples hold real exchanges with planted values
//! (listed in samples/meta/NAME.txt: `secrets:` readable in the capture bytes, `secrets_hidden:`
//! inside TLS or encodings of them), and every key log beside them holds TLS secrets. Every view
//! in every format, with and without `--all` (and written with `-o`), `explain --conn N` for
//! every connection, the error records of cut or bogus captures and the warnings about a
//! malformed key log are grepped for all of them, stdout and stderr alike.
//! So that the test cannot pass by reading nothing, it also checks that each planted value is
//! really in its capture and that tlscap really read each planted exchange.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const VIEWS: &[&str] = &["connections", "findings", "servers", "summary", "files"];
const FORMATS: &[&str] = &["table", "json", "csv"];
/// Processes run at once (the debug binary is quick; these hide its start-up time).
const WORKERS: usize = 4;

/// A value that must never be printed, and where it comes from (for the failure message).
struct Secret {
    value: String,
    origin: String,
}

/// The planted values of one sample.
struct Planted {
    file: String,
    on_wire: Vec<String>,
    hidden: Vec<String>,
}

fn planted() -> Vec<Planted> {
    let dir = common::sample("meta");
    let mut out = Vec::new();
    let mut metas: Vec<_> = std::fs::read_dir(&dir)
        .expect("samples/meta")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    metas.sort();
    for meta in metas {
        let text = std::fs::read_to_string(&meta).unwrap();
        let field = |key: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| l.strip_prefix(key))
                .flat_map(|v| v.split_whitespace().map(str::to_string))
                .collect()
        };
        let (on_wire, hidden) = (field("secrets: "), field("secrets_hidden: "));
        if on_wire.is_empty() && hidden.is_empty() {
            continue;
        }
        let name = meta.file_stem().unwrap().to_string_lossy();
        out.push(Planted {
            file: format!("{name}.pcap"),
            on_wire,
            hidden,
        });
    }
    out
}

/// The secret column of every key-log line of every samples/*.keys.
fn keylog_secrets() -> Vec<Secret> {
    let mut out = Vec::new();
    let mut logs: Vec<_> = std::fs::read_dir(common::root().join("samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "keys"))
        .collect();
    logs.sort();
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if let [label, _random, secret] = cols[..] {
                assert!(
                    secret.len() >= 32 && secret.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{}: odd secret in {line}",
                    log.display()
                );
                out.push(Secret {
                    value: secret.to_string(),
                    origin: format!("{label} of {}", log.display()),
                });
            }
        }
    }
    out
}

fn all_secrets(planted: &[Planted]) -> Vec<Secret> {
    let mut out = keylog_secrets();
    for p in planted {
        for v in p.on_wire.iter().chain(&p.hidden) {
            out.push(Secret {
                value: v.clone(),
                origin: format!("planted in {}", p.file),
            });
        }
    }
    out
}

/// One run of the binary: stdout and stderr as text, and the exit code.
fn tlscap(args: &[String]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(args)
        .output()
        .expect("run tlscap");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Runs every command line (a few at a time) and returns the leaks found: which secret, in
/// which output of which command. Case is ignored, so a printer that changes case still fails.
fn leaks(jobs: &[Vec<String>], secrets: &[Secret]) -> Vec<String> {
    let lower: Vec<String> = secrets.iter().map(|s| s.value.to_lowercase()).collect();
    let next = AtomicUsize::new(0);
    let found = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(args) = jobs.get(i) else {
                    break;
                };
                let (stdout, stderr, code) = tlscap(args);
                // With `-o FILE` the listing is in the file.
                let file = args
                    .iter()
                    .position(|a| a == "-o")
                    .and_then(|i| args.get(i + 1))
                    .map(|f| std::fs::read_to_string(f).expect("the -o file"))
                    .unwrap_or_default();
                let mut here = Vec::new();
                if !(0..=2).contains(&code) {
                    here.push(format!("`tlscap {}` exited with {code}", args.join(" ")));
                }
                for (stream, text) in [("stdout", &stdout), ("stderr", &stderr), ("-o file", &file)]
                {
                    let text = text.to_lowercase();
                    for (s, l) in secrets.iter().zip(&lower) {
                        if text.contains(l.as_str()) {
                            here.push(format!(
                                "{} ({}) in the {stream} of `tlscap {}`",
                                s.value,
                                s.origin,
                                args.join(" ")
                            ));
                        }
                    }
                }
                found.lock().unwrap().extend(here);
            });
        }
    });
    found.into_inner().unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Trust and revocation inputs, so that chain findings (which quote certificates) are complete.
fn trust_args() -> Vec<String> {
    strings(&[
        "--ca-file",
        "samples/pki/root.pem",
        "--crl",
        "samples/pki/revoked.crl.pem",
    ])
}

/// JSON records of `tlscap --format json --all` on samples/.
fn json_records() -> Vec<Value> {
    let mut args = strings(&["--format", "json", "--quiet", "--all"]);
    args.extend(trust_args());
    args.push("samples/".into());
    let (stdout, stderr, code) = tlscap(&args);
    assert_eq!(code, 0, "stderr: {stderr}");
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

fn file_of(r: &Value) -> &str {
    r["file"]
        .as_str()
        .and_then(|f| f.rsplit('/').next())
        .unwrap_or("")
}

/// The planted values that went on the wire in clear really are in the capture bytes (else
/// the grep below would prove nothing), and the hidden ones are not (they are inside TLS, or
/// encodings that were never sent).
#[test]
fn planted_values_are_where_the_meta_files_say() {
    let planted = planted();
    let names: Vec<&str> = planted.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(
        names,
        [
            "ftp-login.pcap",
            "http-cleartext-credentials.pcap",
            "http-to-tls-port.pcap",
            "https-bearer-post-200.pcap",
            "https-hmac-query.pcap",
            "https-password-get.pcap",
            "https-planted-secrets.pcap",
            "imap-login.pcap",
            "not-tls-set-cookie.pcap",
            "pop3-login.pcap",
            "proxy-connect-auth.pcap",
            "smtp-auth.pcap",
        ]
    );
    for p in &planted {
        let bytes = std::fs::read(common::sample(&p.file)).expect("capture");
        let has = |v: &str| bytes.windows(v.len()).any(|w| w == v.as_bytes());
        for v in &p.on_wire {
            assert!(has(v), "{}: {v} is not in the capture", p.file);
        }
        for v in &p.hidden {
            assert!(!has(v), "{}: {v} is readable in the capture", p.file);
        }
    }
    // 177 lines: 5 per TLS 1.3 connection, 1 per TLS 1.2 (or 1.0) one, over every key log.
    assert_eq!(keylog_secrets().len(), 177);
}

/// tlscap really read every planted exchange: the decrypted HTTP requests (paths redacted),
/// the non-TLS answer, and the plain-TCP login connections (with `--all`).
#[test]
fn every_planted_exchange_is_read() {
    let records = json_records();
    let conns = |file: &str| -> Vec<&Value> {
        records
            .iter()
            .filter(|r| r["type"] == "connection" && file_of(r) == file)
            .collect()
    };
    let http = |file: &str| -> Vec<(String, String, String, String, i64)> {
        conns(file)
            .iter()
            .flat_map(|c| c["http"].as_array().cloned().unwrap_or_default())
            .map(|h| {
                let s = |k: &str| h[k].as_str().unwrap_or("").to_string();
                (
                    s("version"),
                    s("method"),
                    s("path"),
                    s("auth"),
                    h["status"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    };
    let t = |v: &str, m: &str, p: &str, a: &str, s: i64| {
        (
            v.to_string(),
            m.to_string(),
            p.to_string(),
            a.to_string(),
            s,
        )
    };
    let orders =
        "/api/v1/orders;jsessionid=<redacted>/items?access_token=<redacted>&page=<redacted>";
    let export = "/api/v1/export?<redacted>";
    assert_eq!(
        http("https-planted-secrets.pcap"),
        [
            t("HTTP/2", "POST", orders, "api-key+bearer", 200),
            t("HTTP/2", "POST", export, "api-key+bearer", 200),
            t("HTTP/1.1", "POST", orders, "api-key+bearer", 200),
            t("HTTP/1.1", "POST", export, "api-key+bearer", 200),
        ]
    );
    assert_eq!(
        http("http-cleartext-credentials.pcap"),
        [t(
            "HTTP/1.1",
            "GET",
            "/api/v1/records?api_key=<redacted>",
            "api-key+basic",
            200
        )]
    );
    // Through the proxy's CONNECT tunnel (the Proxy-Authorization is in the preamble).
    assert_eq!(
        http("proxy-connect-auth.pcap"),
        [t("HTTP/2", "POST", "/api/v1/records", "bearer", 200)]
    );
    assert_eq!(
        http("http-to-tls-port.pcap"),
        [t(
            "HTTP/1.1",
            "GET",
            "/v1?access_token=<redacted>",
            "bearer",
            400
        )]
    );
    assert_eq!(
        http("https-bearer-post-200.pcap"),
        [t("HTTP/1.1", "POST", "/api/v1/records", "bearer", 200)]
    );
    assert_eq!(
        http("https-password-get.pcap"),
        [t(
            "HTTP/1.1",
            "GET",
            "/api/v1/login?user=<redacted>&password=<redacted>",
            "none",
            200
        )]
    );
    assert_eq!(
        http("https-hmac-query.pcap"),
        [t(
            "HTTP/1.1",
            "GET",
            "/api/now/table/incident?x-sn-hmac-signature-256=<redacted>&x-sn-hmac-key-id=<redacted>&x-sn-hmac-timestamp=<redacted>",
            "hmac-query",
            401
        )]
    );
    let not_tls: Vec<&Value> = conns("not-tls-set-cookie.pcap")
        .iter()
        .flat_map(|c| c["findings"].as_array().unwrap().iter())
        .filter(|f| f["id"] == "not-tls")
        .collect();
    assert_eq!(not_tls.len(), 1);
    assert_eq!(
        not_tls[0]["message"],
        "127.0.0.1:8444 answered the ClientHello with something that is not TLS: \
         HTTP/1.1 400 Bad Request [headers: Server, Date]."
    );
    // The first bytes of the planted lines were read as non-TLS data and shown as structure.
    for (file, line) in [
        (
            "http-to-tls-port.pcap",
            "→   not TLS: GET /v1?access_token=<redacted> HTTP/1.1 [headers: Host]",
        ),
        (
            "ftp-login.pcap",
            "→   not TLS: text starting \"USER\" (rest not shown)",
        ),
        (
            "pop3-login.pcap",
            "→   not TLS: text starting \"USER\" (rest not shown)",
        ),
    ] {
        let args = strings(&["explain", "--conn", "0", &format!("samples/{file}")]);
        let (stdout, stderr, code) = tlscap(&args);
        assert_eq!(code, 0, "{file}: {stderr}");
        assert!(stdout.contains(line), "{file}: no `{line}` in\n{stdout}");
    }
    // The cleartext logins: every connection to the server port, with data both ways.
    for (file, port, n) in [
        ("ftp-login.pcap", "8439", 1),
        ("smtp-auth.pcap", "8440", 2),
        ("imap-login.pcap", "8441", 1),
        ("pop3-login.pcap", "8442", 1),
    ] {
        let cs = conns(file);
        assert_eq!(cs.len(), n, "{file}");
        for c in cs {
            assert_eq!(c["server"], format!("127.0.0.1:{port}"), "{file}");
            assert!(c["tcp"]["client_bytes"].as_u64() > Some(0), "{file}");
            assert!(c["tcp"]["server_bytes"].as_u64() > Some(0), "{file}");
        }
    }
}

/// Every view × format, with and without `--all`, on the whole samples/ directory (progress and
/// summary on stderr included), and `explain --conn N` for every connection of every capture:
/// no planted value and no key-log secret is printed.
#[test]
fn no_output_contains_a_secret() {
    let planted = planted();
    let secrets = all_secrets(&planted);
    let mut jobs = Vec::new();
    for view in VIEWS {
        for format in FORMATS {
            for all in [false, true] {
                let mut args = strings(&["--view", view, "--format", format]);
                args.extend(strings(&["--width", "1000", "--no-color"]));
                if all {
                    args.push("--all".into());
                }
                args.extend(trust_args());
                args.push("samples/".into());
                jobs.push(args);
            }
        }
    }
    // The same listings written with -o (a file per run).
    let out_dir = tempfile::tempdir().unwrap();
    let with_all: Vec<Vec<String>> = jobs
        .iter()
        .filter(|a| a.iter().any(|x| x == "--all"))
        .cloned()
        .collect();
    for (i, mut args) in with_all.into_iter().enumerate() {
        let file = out_dir.path().join(format!("out-{i}"));
        args.splice(0..0, ["-o".to_string(), file.display().to_string()]);
        jobs.push(args);
    }
    // explain: the planted samples' ladders in both of its formats.
    let planted_files: Vec<&str> = planted.iter().map(|p| p.file.as_str()).collect();
    let mut by_file: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in json_records().iter().filter(|r| r["type"] == "connection") {
        let path = r["file"].as_str().unwrap().to_string();
        by_file
            .entry(path)
            .or_default()
            .push(r["index"].as_u64().unwrap());
    }
    assert!(by_file.len() >= 45, "{} captures", by_file.len());
    let mut explained = 0;
    for (path, indexes) in &by_file {
        let name = Path::new(path).file_name().unwrap().to_string_lossy();
        // explain's own formats: the ladder as a table and as JSON events.
        let formats: &[&str] = if planted_files.contains(&name.as_ref()) {
            &["table", "json"]
        } else {
            &["table"]
        };
        for n in indexes {
            explained += 1;
            for format in formats {
                let mut args = strings(&["explain", "--conn", &n.to_string()]);
                args.extend(strings(&["--format", format]));
                args.extend(trust_args());
                args.push(path.clone());
                jobs.push(args);
            }
        }
        // Without --conn: the list of failing connections.
        for format in formats {
            let mut args = strings(&["explain", "--format", format]);
            args.push(path.clone());
            jobs.push(args);
        }
    }
    assert!(explained >= 50, "{explained} connections explained");
    let found = leaks(&jobs, &secrets);
    assert!(
        found.is_empty(),
        "{} leaks:\n{}",
        found.len(),
        found.join("\n")
    );
}

/// The grep finds what is printed: a value tlscap does print (the redacted path parameter of
/// the planted request) is reported, with the command line, once per output it is in.
#[test]
fn the_grep_finds_a_printed_value() {
    let printed = [Secret {
        value: "jsessionid=<redacted>".into(),
        origin: "printed on purpose".into(),
    }];
    let explain = strings(&[
        "explain",
        "--conn",
        "1",
        "samples/https-planted-secrets.pcap",
    ]);
    let found = leaks(&[explain], &printed);
    assert_eq!(
        found,
        [
            "jsessionid=<redacted> (printed on purpose) in the stdout of \
          `tlscap explain --conn 1 samples/https-planted-secrets.pcap`"
        ]
    );
}

/// Captures cut in the middle (error records, warnings) and text files posing as captures
/// (errors that might quote their first bytes) leak nothing either.
#[test]
fn error_records_contain_no_secret() {
    let planted = planted();
    let secrets = all_secrets(&planted);
    let dir = tempfile::tempdir().unwrap();
    let mut jobs = Vec::new();
    for p in &planted {
        let bytes = std::fs::read(common::sample(&p.file)).unwrap();
        // Cut inside the packet that carries the first planted value on the wire (or in the
        // middle of the file), so the last record read is damaged.
        let at = p
            .on_wire
            .first()
            .and_then(|v| bytes.windows(v.len()).position(|w| w == v.as_bytes()))
            .map_or(bytes.len() / 2, |i| i + 4);
        let cut = dir.path().join(format!("cut-{}", p.file));
        std::fs::write(&cut, &bytes[..at]).unwrap();
        // A text "capture" made of the secrets themselves.
        let bogus = dir.path().join(format!("bogus-{}", p.file));
        let text: Vec<&str> = p
            .on_wire
            .iter()
            .chain(&p.hidden)
            .map(String::as_str)
            .collect();
        std::fs::write(&bogus, text.join("\n")).unwrap();
        for f in [&cut, &bogus] {
            for format in FORMATS {
                let mut args = strings(&["--all", "--format", format, "--view", "files"]);
                args.push(f.display().to_string());
                jobs.push(args);
                let mut args = strings(&["--all", "--format", format]);
                args.push(f.display().to_string());
                jobs.push(args);
            }
            jobs.push(vec![
                "explain".into(),
                "--conn".into(),
                "0".into(),
                f.display().to_string(),
            ]);
        }
    }
    let found = leaks(&jobs, &secrets);
    assert!(
        found.is_empty(),
        "{} leaks:\n{}",
        found.len(),
        found.join("\n")
    );
    // The cut captures were read up to the damage, and each one's truncation reported.
    let mut args = strings(&["--all", "--format", "json"]);
    args.push(dir.path().display().to_string());
    let (stdout, _, _) = tlscap(&args);
    let records: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    for p in &planted {
        let cut = format!("cut-{}", p.file);
        let truncated = records.iter().any(|r| {
            r["type"] == "error"
                && file_of(r) == cut
                && r["reason"]
                    .as_str()
                    .is_some_and(|t| t.contains("truncated at byte offset"))
        });
        assert!(truncated, "{cut}: no truncation error in {stdout}");
    }
}

/// A key log given by hand with malformed lines: the warning names each line and what is wrong
/// with it, never its text. (Hand-written lines: malformed ones cannot come from a real client.)
#[test]
fn malformed_key_log_lines_are_reported_by_number_only() {
    let random = "11".repeat(32);
    let cut_short = "c0ffee".repeat(8)[..47].to_string();
    let unknown = "deadbeef".repeat(12);
    let bad_random = "abad1dea".repeat(12);
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("bad.keys");
    std::fs::write(
        &keys,
        format!(
            "CLIENT_RANDOM {random} {cut_short}\nBOGUS_LABEL {random} {unknown}\n\
             CLIENT_TRAFFIC_SECRET_0 abcd {bad_random}\n"
        ),
    )
    .unwrap();
    let keys = keys.display().to_string();
    let secrets: Vec<Secret> = [&cut_short, &unknown, &bad_random]
        .iter()
        .map(|v| Secret {
            value: v.to_string(),
            origin: "malformed key log line".into(),
        })
        .collect();
    let mut jobs = Vec::new();
    for view in VIEWS {
        for format in FORMATS {
            let mut args = strings(&["--keylog", &keys, "--view", view, "--format", format]);
            args.push("samples/https-planted-secrets.pcap".into());
            jobs.push(args);
        }
    }
    jobs.push(strings(&[
        "explain",
        "--keylog",
        &keys,
        "--conn",
        "0",
        "samples/https-planted-secrets.pcap",
    ]));
    let found = leaks(&jobs, &secrets);
    assert!(found.is_empty(), "{}", found.join("\n"));
    let (_, stderr, _) = tlscap(&jobs[0]);
    assert!(
        stderr.contains(
            "bad.keys: 3 malformed key log lines skipped (line 1 (secret is not hex), \
             2 (unknown label), 3 (client random is not 32 bytes))"
        ),
        "{stderr}"
    );
}
