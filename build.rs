//! Build script: the commit `--version` names. A build from a tarball (no `.git`, or no
//! `git`) says only the crate version.

use std::path::PathBuf;
use std::process::Command;

/// `git ARGS` in the package directory, its trimmed output when it succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = env!("CARGO_PKG_VERSION");
    let commit = git(&["rev-parse", "--short=12", "HEAD"])
        .filter(|c| c.bytes().all(|b| b.is_ascii_hexdigit()));
    let long = match &commit {
        Some(c) => format!("{version} (commit {c})"),
        None => version.to_owned(),
    };
    println!("cargo:rustc-env=TLSCAP_LONG_VERSION={long}");
    if commit.is_none() {
        return;
    }
    // A commit or checkout moves HEAD or the branch it names (a worktree keeps HEAD in its own
    // git dir, branches in the common one). Only paths that exist are watched: a missing one
    // would rerun this script on every build.
    let mut watched: Vec<PathBuf> = Vec::new();
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        watched.push(PathBuf::from(&dir).join("HEAD"));
    }
    if let (Some(common), Some(branch)) = (
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
        git(&["symbolic-ref", "-q", "HEAD"]),
    ) {
        watched.push(PathBuf::from(&common).join(branch));
        watched.push(PathBuf::from(&common).join("packed-refs"));
    }
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
