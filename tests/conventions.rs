//! Conventions of a command-line tool: `--version` names the commit, shell completions and the
//! man page are generated from the argument definitions.

use std::process::Command;

fn tlscap(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// The version line: the commit when the crate is built inside its git repository (build.rs
/// ran `git rev-parse` there), else the crate version alone (a tarball).
#[test]
fn version_names_the_commit() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_owned());
    let expected = match commit {
        Some(c) => format!("tlscap {} (commit {c})\n", env!("CARGO_PKG_VERSION")),
        None => format!("tlscap {}\n", env!("CARGO_PKG_VERSION")),
    };
    assert_eq!(tlscap(&["--version"]), (0, expected));
}

#[test]
fn completions_for_each_shell() {
    for (shell, start, option) in [
        ("bash", "_tlscap() {\n", "--format"),
        ("zsh", "#compdef tlscap\n", "'--format=[Output format]"),
        (
            "fish",
            "# Print an optspec",
            "complete -c tlscap -n \"__fish_tlscap_needs_command\" -l format -d 'Output format'",
        ),
    ] {
        let (code, text) = tlscap(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(text.starts_with(start), "{shell}: {}", &text[..80]);
        assert!(text.contains(option), "{shell}");
        // Subcommands and the report formats are completed too.
        for word in ["explain", "compare", "schema", "html"] {
            assert!(text.contains(word), "{shell} lacks {word}");
        }
    }
    assert_eq!(tlscap(&["completions", "tcsh"]).0, 2);
}

#[test]
fn man_page_from_the_cli_definition() {
    let (code, man) = tlscap(&["man"]);
    assert_eq!(code, 0);
    assert!(man.contains(".TH tlscap 1"));
    assert!(man.contains(
        "tlscap \\- Read packet captures and explain why the TLS connections in them failed"
    ));
    assert!(man.contains(
        "html: One self\\-contained HTML report of the whole run (use with `\\-o FILE.html`)"
    ));
    assert!(man.contains("\\fB\\-\\-ca\\-file\\fR"));
}
