//! `tlscap.toml`: the environment the captures of a directory were taken in (trust anchors,
//! CRLs, key logs, servers that expect a client certificate...), read beside them so that a
//! ticket folder analyses the same way every time without a long command line.
//!
//! Which file applies: a capture uses the nearest `tlscap.toml` at or above its directory,
//! looking no higher than the directory given on the command line (for a file given by name,
//! its own directory only). The nearest file wins whole: files do not merge, so what applies
//! is always one file to read. Inside it, `[files."GLOB"]` sections add to the top-level keys
//! for the captures whose path below the settings file's directory (or whose name) matches.

use crate::findings::ServerPattern;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The settings file's name.
pub const FILE_NAME: &str = "tlscap.toml";

/// What a settings file (or one of its `[files."GLOB"]` sections) says about the environment
/// of its captures. Relative paths are relative to the settings file's directory.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Root CAs the client trusts, as `--ca-file`.
    #[serde(default)]
    pub ca_file: Vec<PathBuf>,
    /// Also trust the operating system's root store, as `--system-roots`.
    #[serde(default)]
    pub system_roots: Option<bool>,
    /// CRLs to check chains against, as `--crl`.
    #[serde(default)]
    pub crl: Vec<PathBuf>,
    /// Servers the client authenticates to with a certificate, as `--expect-client-auth`.
    #[serde(default, deserialize_with = "server_patterns")]
    pub expect_client_auth: Vec<ServerPattern>,
    /// Host name for connections without SNI, as `--expect-host`.
    #[serde(default)]
    pub expect_host: Option<String>,
    /// Key logs, as `--keylog`.
    #[serde(default)]
    pub keylog: Vec<PathBuf>,
    /// File of `KEYID=SECRET` lines, as `--hmac-secrets` (a path, so that the settings file
    /// itself holds no secret and can be attached to a ticket).
    #[serde(default)]
    pub hmac_secrets: Option<PathBuf>,
    /// Sections for some captures only, keyed by glob (top level only).
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, Environment>,
}

fn server_patterns<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ServerPattern>, D::Error> {
    let list: Vec<String> = Vec::deserialize(d)?;
    list.iter()
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

/// Why a settings file could not be used. Messages name the file (and line) but never quote
/// its values: a value typed under the wrong key may be a secret.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file exists but could not be read.
    #[error("{path}: cannot read settings: {source}")]
    Read {
        /// The settings file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a key or value tlscap does not know.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The settings file.
        path: String,
        /// 1-based line of the offending text (0: unknown).
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, with quoted values removed.
        message: String,
    },
}

/// A settings file that was found, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The file.
    pub path: PathBuf,
    /// Its directory: captures at or below it use it, and its relative paths start here.
    pub dir: PathBuf,
    /// What it says.
    pub environment: Environment,
}

impl Settings {
    /// Reads and checks one settings file.
    pub fn read(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses the text of the settings file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Settings, SettingsError> {
        let invalid = |span: Option<std::ops::Range<usize>>, message: &str| {
            let (line, column) = span.map_or((0, 0), |s| line_column(text, s.start));
            SettingsError::Invalid {
                path: path.display().to_string(),
                line,
                column,
                message: without_quoted_values(message),
            }
        };
        let environment: Environment =
            toml::from_str(text).map_err(|e| invalid(e.span(), e.message()))?;
        if let Some((glob, _)) = environment
            .files
            .iter()
            .find(|(_, section)| !section.files.is_empty())
        {
            // Its span is not kept by serde: point at the section's header.
            let at = text.find(glob.as_str()).map(|s| s..s);
            return Err(invalid(
                at,
                "a [files.\"GLOB\"] section cannot hold [files] sections of its own",
            ));
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Settings {
            path: path.to_path_buf(),
            dir,
            environment,
        })
    }

    /// What applies to `capture` (a path at or below [`Settings::dir`]): the top level plus
    /// every matching `[files."GLOB"]` section (lists added, values replaced), with paths made
    /// relative to the current directory.
    pub fn environment_for(&self, capture: &Path) -> Environment {
        let mut env = self.environment.clone();
        let sections = std::mem::take(&mut env.files);
        let below = capture.strip_prefix(&self.dir).unwrap_or(capture);
        let below = below.to_string_lossy();
        let name = capture
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        for (glob, section) in sections {
            if crate::findings::glob_match(&glob, &below)
                || crate::findings::glob_match(&glob, &name)
            {
                env.add(section);
            }
        }
        env.resolve_against(&self.dir);
        env
    }
}

impl Environment {
    /// Adds `other` to this environment: its lists after ours, its values instead of ours.
    pub fn add(&mut self, other: Environment) {
        self.ca_file.extend(other.ca_file);
        self.crl.extend(other.crl);
        self.expect_client_auth.extend(other.expect_client_auth);
        self.keylog.extend(other.keylog);
        self.system_roots = other.system_roots.or(self.system_roots);
        self.expect_host = other.expect_host.or(self.expect_host.take());
        self.hmac_secrets = other.hmac_secrets.or(self.hmac_secrets.take());
    }

    fn resolve_against(&mut self, dir: &Path) {
        for p in self
            .ca_file
            .iter_mut()
            .chain(self.crl.iter_mut())
            .chain(self.keylog.iter_mut())
            .chain(self.hmac_secrets.iter_mut())
        {
            *p = dir.join(&*p);
        }
    }
}

/// 1-based line and column of byte `at` in `text`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// `message` with every double-quoted run replaced by `"…"`: serde quotes the value it could
/// not use (`invalid type: string "k1=…", expected a boolean`), and a secret typed under the
/// wrong key must not reach stderr. Key names are quoted with backticks and stay.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let mut inside = true;
    for part in parts {
        if inside {
            out.push_str("\"…\"");
        } else {
            out.push_str(part);
        }
        inside = !inside;
    }
    out.trim_end().to_string()
}

/// The settings files that may apply to captures found from `inputs`: in each directory given
/// (and below it, hidden directories skipped as the capture walk does), and beside each file
/// given. Sorted by path, each once.
pub fn discover(inputs: &[PathBuf]) -> Result<Vec<Settings>, SettingsError> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            continue;
        }
        if input.is_dir() {
            let walker = walkdir::WalkDir::new(input)
                .follow_links(true)
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                });
            // Unreadable entries are reported by the capture walk.
            for entry in walker.flatten() {
                if entry.file_type().is_file() && entry.file_name() == FILE_NAME {
                    paths.push(entry.into_path());
                }
            }
        } else {
            let dir = input.parent().unwrap_or(Path::new(""));
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                paths.push(candidate);
            }
        }
    }
    paths.sort();
    paths.dedup();
    paths.iter().map(|p| Settings::read(p)).collect()
}

/// The settings file nearest to `capture` among `found` (the one whose directory is the
/// longest ancestor of it), if any.
pub fn nearest<'a>(found: &'a [Settings], capture: &Path) -> Option<&'a Settings> {
    found
        .iter()
        .filter(|s| capture.starts_with(&s.dir))
        .max_by_key(|s| s.dir.components().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_add_to_the_top_level_and_paths_resolve_beside_the_file() {
        let s = Settings::parse(
            Path::new("case/tlscap.toml"),
            "ca_file = [\"pki/root.pem\"]\n\
             expect_client_auth = [\"api.example.com\"]\n\
             [files.\"revoked-*.pcap\"]\n\
             crl = [\"pki/revoked.crl\"]\n\
             expect_host = \"api.example.com\"\n",
        )
        .unwrap();
        let plain = s.environment_for(Path::new("case/sub/ok.pcap"));
        assert_eq!(plain.ca_file, vec![PathBuf::from("case/pki/root.pem")]);
        assert!(plain.crl.is_empty());
        assert_eq!(plain.expect_host, None);
        let revoked = s.environment_for(Path::new("case/sub/revoked-1.pcap"));
        assert_eq!(revoked.crl, vec![PathBuf::from("case/pki/revoked.crl")]);
        assert_eq!(revoked.expect_host.as_deref(), Some("api.example.com"));
        assert_eq!(revoked.expect_client_auth.len(), 1);
    }

    #[test]
    fn errors_name_file_and_line_and_never_quote_values() {
        let e = Settings::parse(
            Path::new("t/tlscap.toml"),
            "ca_file = []\nsystem_roots = \"k1=hunter2\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("t/tlscap.toml:2:16: "), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = Settings::parse(Path::new("t/tlscap.toml"), "\n\ncafile = [\"x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t/tlscap.toml:3:1: unknown field `cafile`"),
            "{e}"
        );
    }

    #[test]
    fn the_nearest_file_wins() {
        let top = Settings::parse(Path::new("a/tlscap.toml"), "").unwrap();
        let sub = Settings::parse(Path::new("a/b/tlscap.toml"), "").unwrap();
        let found = [top.clone(), sub.clone()];
        assert_eq!(nearest(&found, Path::new("a/b/c/x.pcap")), Some(&sub));
        assert_eq!(nearest(&found, Path::new("a/x.pcap")), Some(&top));
        assert_eq!(nearest(&found, Path::new("ab/x.pcap")), None);
    }
}
