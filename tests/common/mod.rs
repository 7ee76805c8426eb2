//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus` beside the clone, or None (with a skip notice) when it is absent.
pub fn corpus(test: &str) -> Option<PathBuf> {
    for rel in ["../shared/corpus", "../../shared/corpus"] {
        let p = root().join(rel);
        if p.join("MANIFEST.tsv").is_file() {
            return Some(p);
        }
    }
    eprintln!("SKIP {test}: ../shared/corpus not found beside the project");
    None
}

/// A file under samples/.
pub fn sample(name: &str) -> PathBuf {
    root().join("samples").join(name)
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Capture paths listed in the corpus MANIFEST (relative to the corpus dir).
pub fn manifest_paths(corpus: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .map(str::to_owned)
        .collect()
}
