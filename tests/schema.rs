//! The JSON output contract: docs/schema.json is what `tlscap schema` generates from the serde
//! types, and every JSON line tlscap writes on samples/ (every view) and on the corpus
//! validates against it. Validation is Python's `jsonschema` (Debian `python3-jsonschema`,
//! installed by .ci/run); without it the validation tests SKIP loudly.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

fn tlscap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tlscap"))
}

#[test]
fn committed_schema_is_the_generated_one() {
    let out = tlscap().arg("schema").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(common::root().join("docs/schema.json")).unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == committed,
        "docs/schema.json is stale: run `cargo run -- schema > docs/schema.json`"
    );
}

/// Whether Python can validate (prints SKIP when not).
fn have_python_jsonschema(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "SKIP {test}: python3 with jsonschema not found (apt-get install python3-jsonschema)"
        );
    }
    ok
}

/// Validates JSON lines against docs/schema.json; the count of valid lines by `type`. Panics
/// with the first invalid line and why.
fn validate(lines: &[u8]) -> BTreeMap<String, u64> {
    const SCRIPT: &str = r#"
import json, sys, collections, jsonschema
schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft202012Validator(schema)
counts = collections.Counter()
for n, line in enumerate(sys.stdin, 1):
    record = json.loads(line)
    errors = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        print(f"line {n} ({record.get('type')}): {best.message} at {list(best.absolute_path)}", file=sys.stderr)
        sys.exit(1)
    counts[record["type"]] += 1
print(json.dumps(counts))
"#;
    let schema = common::root().join("docs/schema.json");
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&schema)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = lines.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(&input).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn json_of(input: &Path, view: &str) -> Vec<u8> {
    let out = tlscap()
        .arg(input)
        .args(["--format", "json", "-q", "--view", view])
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    out.stdout
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

#[test]
fn samples_json_validates_in_every_view() {
    if !have_python_jsonschema("samples_json_validates_in_every_view") {
        return;
    }
    let samples = common::root().join("samples");
    for (view, expected) in [
        (
            "connections",
            counts(&[("connection", 178), ("skipped", 170)]),
        ),
        // samples/tlscap.toml trusts the samples' CA: no chain finding on every sample.
        ("findings", counts(&[("finding", 207), ("skipped", 170)])),
        ("servers", counts(&[("server", 98), ("skipped", 170)])),
        ("summary", counts(&[("summary", 1), ("skipped", 170)])),
        ("files", counts(&[("file", 120), ("skipped", 170)])),
    ] {
        assert_eq!(validate(&json_of(&samples, view)), expected, "view {view}");
    }
}

/// `explain` (its events, its list of failing connections) and `compare` write records of
/// the contract too.
#[test]
fn explain_and_compare_json_validates() {
    if !have_python_jsonschema("explain_and_compare_json_validates") {
        return;
    }
    let run = |args: &[&str]| {
        let out = tlscap()
            .current_dir(common::root())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        out.stdout
    };
    let explain = |extra: &[&str]| {
        let mut args = vec!["explain", "-q", "--format", "json"];
        args.extend(extra);
        args.push("samples/cert-inconsistent-pool.pcap");
        validate(&run(&args))
    };
    assert_eq!(explain(&[]), counts(&[("failing", 2)]));
    assert_eq!(explain(&["--conn", "0,1,2,3"]), counts(&[("event", 56)]));
    let mut differences = 0;
    for name in ["client-cert", "pool", "proxy", "sni", "version"] {
        let good = format!("samples/compare/{name}-good.pcap");
        let bad = format!("samples/compare/{name}-bad.pcap");
        let by_type = validate(&run(&["compare", "-q", "--format", "json", &good, &bad]));
        assert_eq!(by_type.keys().collect::<Vec<_>>(), ["difference"], "{name}");
        differences += by_type["difference"];
    }
    assert_eq!(differences, 13);
}

/// The validation can fail: a connection line with an outcome outside the contract does.
#[test]
fn a_record_outside_the_contract_is_rejected() {
    if !have_python_jsonschema("a_record_outside_the_contract_is_rejected") {
        return;
    }
    let line = json_of(&common::sample("cert-expired.pcap"), "connections");
    let text = String::from_utf8(line).unwrap();
    assert!(text.contains("\"outcome\":\"failed\""));
    let bad = text.replace("\"outcome\":\"failed\"", "\"outcome\":\"maybe\"");
    let result = std::panic::catch_unwind(|| validate(bad.as_bytes()));
    let err = result.expect_err("an unknown outcome validated");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("'maybe' is not valid under any of the given schemas at ['outcome']"),
        "{msg}"
    );
}

#[test]
fn corpus_json_validates() {
    let Some(corpus) = common::corpus("corpus_json_validates") else {
        return;
    };
    if !have_python_jsonschema("corpus_json_validates") {
        return;
    }
    let by_type = validate(&json_of(&corpus, "connections"));
    assert!(by_type["connection"] > 1000, "{by_type:?}");
    let findings = validate(&json_of(&corpus, "findings"));
    assert!(findings["finding"] > 1000, "{findings:?}");
}
