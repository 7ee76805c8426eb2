//! Input discovery: special files met while walking a directory are skipped unopened (a FIFO
//! with no writer used to hang the batch forever); a FIFO named explicitly is read as a stream.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SAMPLE: &str = "samples/tls12-no-sni.pcap";

/// Runs tlscap with `args`; fails the test (rather than hanging it) after 60 s.
fn tlscap_within_a_minute(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlscap"))
        .current_dir(common::root())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tlscap");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("tlscap {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn fifo_in_a_directory_is_skipped_and_the_batch_finishes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(common::root().join(SAMPLE), dir.path().join("a.pcap")).unwrap();
    // Named like a capture, so only its file type can keep it from being opened.
    mkfifo(&dir.path().join("b.pcap"));
    let dir_arg = dir.path().to_str().unwrap();
    let out = tlscap_within_a_minute(&["--quiet", "--format", "json", "--view", "files", dir_arg]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("\"packets\":19,\"bytes\":4223,"),
        "{text}"
    );
    assert_eq!(
        lines[1],
        format!(
            "{{\"type\":\"skipped\",\"file\":\"{dir_arg}/b.pcap\",\
             \"reason\":\"a FIFO (name it explicitly to read it)\"}}"
        )
    );
    // In process too (after the run above, which cannot hang the test).
    let walked = tlscap::app::expand_inputs(&[dir.path().to_path_buf()]);
    assert_eq!(walked.files, [dir.path().join("a.pcap")]);
    assert_eq!(
        walked.skipped,
        [(
            dir.path().join("b.pcap"),
            "a FIFO (name it explicitly to read it)".to_string()
        )]
    );
    assert!(walked.problems.is_empty(), "{:?}", walked.problems);
}

#[cfg(unix)]
#[test]
fn fifo_named_explicitly_is_read_as_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("live.pcap");
    mkfifo(&fifo);
    let bytes = std::fs::read(common::root().join(SAMPLE)).unwrap();
    let writer = {
        let fifo = fifo.clone();
        // Opening a FIFO for writing blocks until tlscap opens it for reading.
        std::thread::spawn(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .and_then(|mut f| f.write_all(&bytes))
        })
    };
    let fifo_arg = fifo.to_str().unwrap();
    let out = tlscap_within_a_minute(&["--quiet", "--format", "json", "--view", "files", fifo_arg]);
    writer
        .join()
        .unwrap()
        .expect("write the sample into the FIFO");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim_end(),
        format!(
            "{{\"type\":\"file\",\"file\":\"{fifo_arg}\",\"packets\":19,\"bytes\":4223,\
             \"first\":\"2026-11-23T02:18:47.800622Z\",\"last\":\"2026-11-23T02:18:47.802927Z\",\
             \"span_s\":0.002305,\"link_types\":[\"ethernet\"],\"connections\":1,\
             \"tcp_connections\":1,\"findings\":2,\"warnings\":0,\"error\":null}}"
        )
    );
}

#[cfg(unix)]
#[test]
fn a_link_back_to_an_ancestor_is_walked_once() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(common::root().join(SAMPLE), sub.join("a.pcap")).unwrap();
    std::os::unix::fs::symlink(dir.path(), sub.join("up")).unwrap();
    let walked = tlscap::app::expand_inputs(&[dir.path().to_path_buf()]);
    assert_eq!(walked.files, [sub.join("a.pcap")]);
    assert_eq!(
        walked.skipped,
        [(
            sub.join("up"),
            format!("a link back to {} (walked already)", dir.path().display())
        )]
    );
    assert!(walked.problems.is_empty(), "{:?}", walked.problems);
}
