//! Input discovery: the paths given expanded into the captures to analyse (directories walked
//! with `walkdir`), and the `--glob` selection of those.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

/// Inputs expanded into the captures to analyse.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// Files to analyse: every file named on the command line, and in directories every file
    /// whose first bytes look like a capture or whose name says it is one (`.pcap`, `.pcapng`,
    /// `.cap`, optionally `.gz`) — those are reported as errors if they cannot be read.
    pub files: Vec<PathBuf>,
    /// Inputs that could not be used at all (missing, unreadable, a directory without captures).
    pub problems: Vec<String>,
    /// Files met while walking directories that are not captures (path, reason); key logs
    /// beside captures and settings files are used, not listed. FIFOs, sockets and devices met while walking are
    /// listed here unopened: opening a FIFO with no writer would block the batch forever.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Expands the inputs: files as given (a FIFO named explicitly is read as a stream),
/// directories walked recursively (hidden entries skipped, symbolic links followed).
pub fn expand_inputs(inputs: &[PathBuf]) -> Inputs {
    let mut found = Inputs::default();
    for input in inputs {
        if input.as_os_str() == "-" {
            found.files.push(input.clone());
            continue;
        }
        match std::fs::metadata(input) {
            Err(e) => found.problems.push(format!("{}: {e}", input.display())),
            Ok(m) if m.is_dir() => {
                let before = found.files.len();
                walk(input, &mut found);
                if found.files.len() == before {
                    found.problems.push(format!(
                        "{}: no capture files in this directory",
                        input.display()
                    ));
                }
            }
            Ok(_) => found.files.push(input.clone()),
        }
    }
    found
}

/// File names that say "capture" (a file so named that is not one is an error, not skipped).
fn named_like_capture(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".pcap", ".pcapng", ".cap", ".ntar"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Key logs are companions of captures, used automatically (see [`super::keylog_beside`]).
fn is_key_log(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("keys" | "keylog")
    )
}

fn is_hidden(entry: &walkdir::DirEntry) -> bool {
    // The root is walked whatever its name (`.` and `..` are roots too).
    entry.depth() > 0
        && entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with('.'))
}

fn walk(dir: &Path, found: &mut Inputs) {
    // Sorted by name within each directory, depth first: the order of `skipped` and
    // `problems` is stable. Links are followed; walkdir reports a link back to an ancestor
    // instead of recursing forever.
    let walker = WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !is_hidden(e));
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                match (e.loop_ancestor(), e.io_error()) {
                    (Some(ancestor), _) => found.skipped.push((
                        path,
                        format!("a link back to {} (walked already)", ancestor.display()),
                    )),
                    (None, Some(io)) => found.problems.push(format!("{}: {io}", path.display())),
                    (None, None) => found.problems.push(format!("{}: {e}", path.display())),
                }
                continue;
            }
        };
        let kind = entry.file_type();
        if kind.is_dir() {
            continue;
        }
        let p = entry.into_path();
        if !kind.is_file() {
            found.skipped.push((p, special_file_reason(kind)));
            continue;
        }
        match sniff_file(&p) {
            Sniff::Capture => found.files.push(p),
            _ if named_like_capture(&p) => found.files.push(p),
            _ if is_key_log(&p) => {}
            _ if p.file_name() == Some(std::ffi::OsStr::new(super::settings::FILE_NAME)) => {}
            Sniff::Empty => found.skipped.push((p, "empty file".into())),
            Sniff::Other(magic) => found
                .skipped
                .push((p, format!("not a capture (starts with {magic})"))),
            Sniff::Unreadable(e) => found.problems.push(format!("{}: {e}", p.display())),
        }
    }
}

/// Why a file that is neither regular nor a directory is not read.
fn special_file_reason(kind: std::fs::FileType) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let what = if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else {
            "not a regular file"
        };
        format!("{what} (name it explicitly to read it)")
    }
    #[cfg(not(unix))]
    {
        let _ = kind;
        "not a regular file (name it explicitly to read it)".to_string()
    }
}

enum Sniff {
    Capture,
    Empty,
    Other(String),
    Unreadable(std::io::Error),
}

fn sniff_file(p: &Path) -> Sniff {
    use std::io::Read;
    let mut buf = [0u8; 4];
    match std::fs::File::open(p).and_then(|mut f| f.read(&mut buf)) {
        Ok(0) => Sniff::Empty,
        Ok(n) if crate::capture::looks_like_capture(&buf[..n]) => Sniff::Capture,
        Ok(n) => Sniff::Other(format!(
            "{} ({})",
            hex::encode(&buf[..n]),
            buf[..n]
                .iter()
                .map(|b| if b.is_ascii_graphic() {
                    *b as char
                } else {
                    '.'
                })
                .collect::<String>()
        )),
        Err(e) => Sniff::Unreadable(e),
    }
}

/// Orders the pieces of a rotated capture by the time of their first packet (the order
/// `tcpdump -C/-G` and `dumpcap -b` wrote them in, whatever their names); a piece without
/// packets or that cannot be read goes last, in name order.
pub(crate) fn by_first_packet(files: Vec<PathBuf>) -> Vec<PathBuf> {
    let first_ts = |p: &Path| {
        let mut reader = crate::capture::CaptureReader::open(p).ok()?;
        let ts = reader.next_packet().ok()??.ts;
        Some((ts.secs, ts.nanos))
    };
    let mut keyed: Vec<_> = files.into_iter().map(|p| (first_ts(&p), p)).collect();
    keyed.sort_by(|(a, pa), (b, pb)| match (a, b) {
        (Some(a), Some(b)) => a.cmp(b).then_with(|| pa.cmp(pb)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => pa.cmp(pb),
    });
    keyed.into_iter().map(|(_, p)| p).collect()
}
