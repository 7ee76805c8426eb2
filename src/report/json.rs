//! Connection records as JSON without serde: the hot part of `--format json`.
//!
//! serde_json escapes strings a byte at a time and escapes every key again for every record;
//! for connection records that was most of the output pass. This writer produces exactly the
//! bytes `serde_json::to_writer` produces for a [`ConnectionRecord`] (compact, fields in
//! declaration order, the same escapes), so the JSON contract does not change. The tests
//! compare the two on hand-built strings, on arbitrary strings and on every record of the
//! samples and the shared corpus.
//!
//! Every struct is destructured without `..`: a field added to a record fails to compile here
//! instead of silently missing from the output.

use crate::certs::CertInfo;
use crate::findings::{Finding, Severity};
use crate::flow::{CloseKind, Side};
use crate::model::{AlertRecord, ConnectionRecord, DecryptionRecord, HttpRecord, TcpRecord};
use std::sync::Arc;

/// Appends `r` as one compact JSON object, byte for byte what `serde_json::to_writer` writes
/// (no trailing newline).
pub fn write_connection(out: &mut Vec<u8>, r: &ConnectionRecord) {
    write_connection_with(out, r, &mut ChainCache::default());
}

/// Appends each record as a line of JSON ([`write_connection`] and a newline). Certificate
/// chains are rendered once per distinct chain of the run: records share their chains
/// (`Arc`), and a chain's JSON is ~1 KiB that would otherwise be escaped again for every
/// connection to the same server.
pub fn write_connections(out: &mut Vec<u8>, records: &[ConnectionRecord]) {
    let mut chains = ChainCache::default();
    for r in records {
        write_connection_with(out, r, &mut chains);
        out.push(b'\n');
    }
}

/// Chains rendered lately, each kept alive by its `Arc` so that pointer equality means the
/// same chain.
#[derive(Default)]
pub(crate) struct ChainCache {
    rendered: Vec<(Arc<[CertInfo]>, Vec<u8>)>,
}

/// Distinct chains remembered per run (a run's connections mostly go to a few servers).
const CACHED_CHAINS: usize = 16;

impl ChainCache {
    pub(crate) fn write(&mut self, out: &mut Vec<u8>, chain: Option<&Arc<[CertInfo]>>) {
        let Some(chain) = chain else {
            out.extend_from_slice(b"null");
            return;
        };
        if let Some((_, bytes)) = self.rendered.iter().find(|(c, _)| Arc::ptr_eq(c, chain)) {
            out.extend_from_slice(bytes);
            return;
        }
        let start = out.len();
        write_chain(out, Some(chain));
        if self.rendered.len() >= CACHED_CHAINS {
            self.rendered.remove(0);
        }
        self.rendered
            .push((Arc::clone(chain), out[start..].to_vec()));
    }
}

fn write_connection_with(out: &mut Vec<u8>, r: &ConnectionRecord, chains: &mut ChainCache) {
    let ConnectionRecord {
        record_type,
        file,
        index,
        first_packet,
        start,
        duration_s,
        client,
        server,
        sni,
        alpn_offered,
        alpn,
        versions_offered,
        version,
        cipher,
        resumed,
        hello_retry,
        cert_requested,
        client_cert_sent,
        server_chain,
        client_chain,
        ocsp_stapled,
        alerts,
        tcp,
        ja3,
        ja4,
        chain_status,
        status,
        findings,
        decryption,
        http,
    } = r;
    // Keys are fixed ASCII without anything to escape: written as literals, separators included.
    out.extend_from_slice(b"{\"type\":");
    write_str(out, record_type);
    out.extend_from_slice(b",\"file\":");
    write_str(out, file);
    out.extend_from_slice(b",\"index\":");
    write_u64(out, *index);
    out.extend_from_slice(b",\"first_packet\":");
    write_u64(out, *first_packet);
    out.extend_from_slice(b",\"start\":");
    write_str(out, start);
    out.extend_from_slice(b",\"duration_s\":");
    write_f64(out, *duration_s);
    out.extend_from_slice(b",\"client\":");
    write_str(out, client);
    out.extend_from_slice(b",\"server\":");
    write_str(out, server);
    out.extend_from_slice(b",\"sni\":");
    write_opt_str(out, sni.as_deref());
    out.extend_from_slice(b",\"alpn_offered\":");
    write_strs(out, alpn_offered);
    out.extend_from_slice(b",\"alpn\":");
    write_opt_str(out, alpn.as_deref());
    out.extend_from_slice(b",\"versions_offered\":");
    write_strs(out, versions_offered);
    out.extend_from_slice(b",\"version\":");
    write_opt_str(out, version.as_deref());
    out.extend_from_slice(b",\"cipher\":");
    write_opt_str(out, cipher.as_deref());
    out.extend_from_slice(b",\"resumed\":");
    write_bool(out, *resumed);
    out.extend_from_slice(b",\"hello_retry\":");
    write_bool(out, *hello_retry);
    out.extend_from_slice(b",\"cert_requested\":");
    write_opt_bool(out, *cert_requested);
    out.extend_from_slice(b",\"client_cert_sent\":");
    write_opt_bool(out, *client_cert_sent);
    out.extend_from_slice(b",\"server_chain\":");
    chains.write(out, server_chain.as_ref());
    out.extend_from_slice(b",\"client_chain\":");
    chains.write(out, client_chain.as_ref());
    out.extend_from_slice(b",\"ocsp_stapled\":");
    write_bool(out, *ocsp_stapled);
    out.extend_from_slice(b",\"alerts\":");
    write_list(out, alerts, write_alert);
    out.extend_from_slice(b",\"tcp\":");
    write_tcp(out, tcp);
    out.extend_from_slice(b",\"ja3\":");
    write_opt_str(out, ja3.as_deref());
    out.extend_from_slice(b",\"ja4\":");
    write_opt_str(out, ja4.as_deref());
    out.extend_from_slice(b",\"chain_status\":");
    write_opt_str(out, chain_status.as_deref());
    out.extend_from_slice(b",\"status\":");
    write_str(out, status);
    out.extend_from_slice(b",\"findings\":");
    write_list(out, findings, write_finding);
    // `skip_serializing_if` on these two: the key is left out, not written as null / [].
    if let Some(d) = decryption {
        out.extend_from_slice(b",\"decryption\":");
        write_decryption(out, d);
    }
    if !http.is_empty() {
        out.extend_from_slice(b",\"http\":");
        write_list(out, http, write_http);
    }
    out.push(b'}');
}

fn write_cert(out: &mut Vec<u8>, c: &CertInfo) {
    let CertInfo {
        subject,
        issuer,
        san_dns,
        san_ip,
        not_before,
        not_after,
        serial,
        sha256,
        key,
        signature,
        self_signed,
        is_ca,
        common_name,
        key_bits,
    } = c;
    out.extend_from_slice(b"{\"subject\":");
    write_str(out, subject);
    out.extend_from_slice(b",\"issuer\":");
    write_str(out, issuer);
    out.extend_from_slice(b",\"san_dns\":");
    write_strs(out, san_dns);
    out.extend_from_slice(b",\"san_ip\":");
    write_strs(out, san_ip);
    out.extend_from_slice(b",\"not_before\":");
    write_str(out, not_before);
    out.extend_from_slice(b",\"not_after\":");
    write_str(out, not_after);
    out.extend_from_slice(b",\"serial\":");
    write_str(out, serial);
    out.extend_from_slice(b",\"sha256\":");
    write_str(out, sha256);
    out.extend_from_slice(b",\"key\":");
    write_str(out, key);
    out.extend_from_slice(b",\"signature\":");
    write_str(out, signature);
    out.extend_from_slice(b",\"self_signed\":");
    write_bool(out, *self_signed);
    out.extend_from_slice(b",\"is_ca\":");
    write_bool(out, *is_ca);
    out.extend_from_slice(b",\"common_name\":");
    write_opt_str(out, common_name.as_deref());
    out.extend_from_slice(b",\"key_bits\":");
    write_u64(out, u64::from(*key_bits));
    out.push(b'}');
}

fn write_alert(out: &mut Vec<u8>, a: &AlertRecord) {
    let AlertRecord {
        from,
        level,
        description,
        encrypted,
        packet,
    } = a;
    write_alert_parts(
        out,
        *from,
        level.as_deref().map(str::as_bytes),
        description.as_deref().map(str::as_bytes),
        *encrypted,
        *packet,
    );
}

/// An alert's JSON from its parts (the spill's frames hold them as bytes of text; see
/// [`write_str_bytes`]).
pub(crate) fn write_alert_parts(
    out: &mut Vec<u8>,
    from: Side,
    level: Option<&[u8]>,
    description: Option<&[u8]>,
    encrypted: bool,
    packet: u64,
) {
    out.extend_from_slice(b"{\"from\":");
    write_side(out, from);
    out.extend_from_slice(b",\"level\":");
    write_opt_str_bytes(out, level);
    out.extend_from_slice(b",\"description\":");
    write_opt_str_bytes(out, description);
    out.extend_from_slice(b",\"encrypted\":");
    write_bool(out, encrypted);
    out.extend_from_slice(b",\"packet\":");
    write_u64(out, packet);
    out.push(b'}');
}

pub(crate) fn write_tcp(out: &mut Vec<u8>, t: &TcpRecord) {
    let TcpRecord {
        syn,
        syn_ack,
        established,
        client_bytes,
        server_bytes,
        closed_by,
        close,
        gaps,
        packets,
        retransmissions,
        midstream,
    } = t;
    out.extend_from_slice(b"{\"syn\":");
    write_u64(out, u64::from(*syn));
    out.extend_from_slice(b",\"syn_ack\":");
    write_bool(out, *syn_ack);
    out.extend_from_slice(b",\"established\":");
    write_bool(out, *established);
    out.extend_from_slice(b",\"client_bytes\":");
    write_u64(out, *client_bytes);
    out.extend_from_slice(b",\"server_bytes\":");
    write_u64(out, *server_bytes);
    out.extend_from_slice(b",\"closed_by\":");
    match closed_by {
        Some(side) => write_side(out, *side),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"close\":");
    out.extend_from_slice(match close {
        Some(CloseKind::Fin) => b"\"fin\"",
        Some(CloseKind::Rst) => b"\"rst\"",
        None => b"null",
    });
    out.extend_from_slice(b",\"gaps\":");
    write_u64(out, u64::from(*gaps));
    out.extend_from_slice(b",\"packets\":");
    write_u64(out, *packets);
    out.extend_from_slice(b",\"retransmissions\":");
    write_u64(out, u64::from(*retransmissions));
    out.extend_from_slice(b",\"midstream\":");
    write_bool(out, *midstream);
    out.push(b'}');
}

fn write_finding(out: &mut Vec<u8>, f: &Finding) {
    let Finding {
        id,
        severity,
        message,
        evidence,
        remediation,
    } = f;
    write_finding_parts(
        out,
        id.as_bytes(),
        *severity,
        message.as_bytes(),
        evidence.as_bytes(),
        Remedy::Raw(remediation.as_bytes()),
    );
}

/// A finding's remediation as [`write_finding_parts`] takes it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Remedy<'a> {
    /// Text to escape.
    Raw(&'a [u8]),
    /// Already a JSON string, quotes included (a rule's fixed text, escaped once).
    Escaped(&'a [u8]),
}

/// A finding's JSON from its parts (the spill's frames hold them as bytes of text; see
/// [`write_str_bytes`]).
pub(crate) fn write_finding_parts(
    out: &mut Vec<u8>,
    id: &[u8],
    severity: Severity,
    message: &[u8],
    evidence: &[u8],
    remediation: Remedy<'_>,
) {
    out.extend_from_slice(b"{\"id\":");
    write_str_bytes(out, id);
    out.extend_from_slice(b",\"severity\":");
    // `rename_all = "lowercase"` on Severity.
    out.extend_from_slice(match severity {
        Severity::Info => b"\"info\"",
        Severity::Warning => b"\"warning\"",
        Severity::Error => b"\"error\"",
    });
    out.extend_from_slice(b",\"message\":");
    write_str_bytes(out, message);
    out.extend_from_slice(b",\"evidence\":");
    write_str_bytes(out, evidence);
    out.extend_from_slice(b",\"remediation\":");
    match remediation {
        Remedy::Raw(text) => write_str_bytes(out, text),
        Remedy::Escaped(json) => out.extend_from_slice(json),
    }
    out.push(b'}');
}

pub(crate) fn write_decryption(out: &mut Vec<u8>, d: &DecryptionRecord) {
    let DecryptionRecord {
        status,
        reason,
        key_source,
    } = d;
    out.extend_from_slice(b"{\"status\":");
    write_str(out, status);
    out.extend_from_slice(b",\"reason\":");
    write_opt_str(out, reason.as_deref());
    out.extend_from_slice(b",\"key_source\":");
    write_opt_str(out, key_source.as_deref());
    out.push(b'}');
}

pub(crate) fn write_http(out: &mut Vec<u8>, h: &HttpRecord) {
    let HttpRecord {
        version,
        method,
        path,
        host,
        status,
        auth,
        request_packet,
        response_packet,
    } = h;
    out.extend_from_slice(b"{\"version\":");
    write_str(out, version);
    out.extend_from_slice(b",\"method\":");
    write_opt_str(out, method.as_deref());
    out.extend_from_slice(b",\"path\":");
    write_opt_str(out, path.as_deref());
    out.extend_from_slice(b",\"host\":");
    write_opt_str(out, host.as_deref());
    out.extend_from_slice(b",\"status\":");
    write_opt_u64(out, status.map(u64::from));
    out.extend_from_slice(b",\"auth\":");
    write_str(out, auth);
    out.extend_from_slice(b",\"request_packet\":");
    write_opt_u64(out, *request_packet);
    out.extend_from_slice(b",\"response_packet\":");
    write_opt_u64(out, *response_packet);
    out.push(b'}');
}

/// `rename_all = "lowercase"` on Side.
pub(crate) fn write_side(out: &mut Vec<u8>, side: Side) {
    out.extend_from_slice(match side {
        Side::Client => b"\"client\"",
        Side::Server => b"\"server\"",
    });
}

fn write_chain(out: &mut Vec<u8>, chain: Option<&[CertInfo]>) {
    match chain {
        Some(certs) => write_list(out, certs, write_cert),
        None => out.extend_from_slice(b"null"),
    }
}

pub(crate) fn write_list<T>(out: &mut Vec<u8>, items: &[T], write: fn(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(b']');
}

fn write_strs(out: &mut Vec<u8>, items: &[String]) {
    write_list(out, items, |out, s| write_str(out, s));
}

pub(crate) fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    write_opt_str_bytes(out, s.map(str::as_bytes));
}

/// [`write_opt_str`] for text held as bytes (see [`write_str_bytes`]).
pub(crate) fn write_opt_str_bytes(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => write_str_bytes(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

pub(crate) fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

pub(crate) fn write_opt_bool(out: &mut Vec<u8>, b: Option<bool>) {
    match b {
        Some(b) => write_bool(out, b),
        None => out.extend_from_slice(b"null"),
    }
}

pub(crate) fn write_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => write_u64(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// `v` in decimal, without `core::fmt` (most values are small: packet numbers, counts).
pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Goes through serde_json itself: the shortest round-trip form it prints comes from a
/// formatter this crate does not depend on directly, and one float per record is cheap.
pub(crate) fn write_f64(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        // serde_json writes NaN and infinities as null.
        out.extend_from_slice(b"null");
        return;
    }
    // Writing to a Vec cannot fail, and a finite f64 always serialises.
    let _ = serde_json::to_writer(&mut *out, &v);
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in exactly the bytes of `w` that need an escape: control bytes (< 0x20), `"`
/// and `\\`. Each byte is tested on its low seven bits, where adding at most 0x7F cannot
/// carry into the next byte (so bytes never disturb each other and any bytes may be masked
/// off); a byte with its own high bit set (UTF-8 beyond ASCII) never matches.
#[inline]
fn special_bytes(w: u64) -> u64 {
    let low = w & !HIGHS;
    // High bit set where the low seven bits are >= 0x20, != '"', != '\\' respectively.
    let not_control = low + ONES * 0x60;
    let not_quote = (low ^ (ONES * u64::from(b'"'))) + ONES * 0x7F;
    let not_backslash = (low ^ (ONES * u64::from(b'\\'))) + ONES * 0x7F;
    !((not_control & not_quote & not_backslash) | w) & HIGHS
}

/// Escapes the bytes marked in `special` (see [`special_bytes`]) of the word that starts at
/// `base`, copying the clean run before each; `run` is where the uncopied run starts.
#[inline]
fn escape_marked(out: &mut Vec<u8>, bytes: &[u8], base: usize, mut special: u64, run: &mut usize) {
    while special != 0 {
        let at = base + (special.trailing_zeros() / 8) as usize;
        out.extend_from_slice(&bytes[*run..at]);
        push_escape(out, bytes[at]);
        *run = at + 1;
        special &= special - 1;
    }
}

/// Appends `s` as a JSON string with serde_json's escapes: `\"`, `\\`, `\b`, `\t`, `\n`,
/// `\f`, `\r`, other bytes below 0x20 as `\u00xx` (lower-case hex); everything else, DEL and
/// non-ASCII included, as is.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_str_bytes(out, s.as_bytes());
}

/// [`write_str`] for text already known to be UTF-8 but held as bytes (a spill frame's, which
/// this process wrote from `&str`): the bytes are escaped and copied, not validated again.
pub(crate) fn write_str_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Eight bytes at a time: most strings need no escape at all, and a clean run is copied
    // with one `extend_from_slice`.
    let mut run = 0;
    // Two words per step while they last: one test for both halves the loop's overhead on
    // the long, clean findings text.
    let mut pairs = bytes.chunks_exact(16);
    for (k, pair) in pairs.by_ref().enumerate() {
        let (lo, hi) = pair.split_at(8);
        let lo = special_bytes(u64::from_le_bytes(lo.try_into().expect("8 bytes")));
        let hi = special_bytes(u64::from_le_bytes(hi.try_into().expect("8 bytes")));
        if lo | hi != 0 {
            escape_marked(out, bytes, k * 16, lo, &mut run);
            escape_marked(out, bytes, k * 16 + 8, hi, &mut run);
        }
    }
    let paired = bytes.len() - pairs.remainder().len();
    let mut words = bytes[paired..].chunks_exact(8);
    for (k, word) in words.by_ref().enumerate() {
        let special = special_bytes(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        if special != 0 {
            escape_marked(out, bytes, paired + k * 8, special, &mut run);
        }
    }
    let tail = words.remainder().len();
    if tail > 0 {
        if bytes.len() >= 8 {
            // The last eight bytes, overlapping ones already scanned: their marks are shifted
            // out (exact marks make that safe).
            let start = bytes.len() - 8;
            let special = special_bytes(u64::from_le_bytes(
                bytes[start..].try_into().expect("8 bytes"),
            ));
            escape_marked(
                out,
                bytes,
                bytes.len() - tail,
                special >> ((8 - tail) * 8),
                &mut run,
            );
        } else {
            // Shorter than a word: byte by byte (at most seven).
            for (at, &b) in bytes.iter().enumerate() {
                if b < 0x20 || b == b'"' || b == b'\\' {
                    out.extend_from_slice(&bytes[run..at]);
                    push_escape(out, b);
                    run = at + 1;
                }
            }
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// The escape of one byte that needs one (see [`special_bytes`]).
fn push_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0A => b'n',
        0x0C => b'f',
        0x0D => b'r',
        _ => {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xF)],
            ]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).expect("escaping keeps UTF-8")
    }

    fn check(s: &str) {
        assert_eq!(
            escaped(s),
            serde_json::to_string(s).unwrap(),
            "input {:?}",
            s.as_bytes()
        );
    }

    /// Hand-built bytes for one edge case each: every ASCII byte alone and inside clean text,
    /// the escape characters, multi-byte UTF-8 around them.
    #[test]
    fn escapes_like_serde_json() {
        for b in 0u8..=0x7F {
            let c = char::from(b);
            check(&c.to_string());
            check(&format!("abcdefg{c}hijklmnop"));
            check(&format!("{c}{c}{c}{c}{c}{c}{c}{c}{c}"));
        }
        let all: String = (0u8..=0x7F).map(char::from).collect();
        check(&all);
        for s in [
            "",
            "\"",
            "\\",
            "\"\\\"\\",
            "plain text without escapes, longer than one word",
            "C:\\Program Files\\\"x\"",
            "é",
            "日本語のテキスト",
            "emoji 🔒 lock",
            "\u{7f}\u{80}\u{ff}\u{100}\u{ffff}\u{10ffff}",
            "ü\"ü\\ü\nü\u{1}ü",
            "\u{2028}\u{2029}",
        ] {
            check(s);
        }
    }

    /// Hand-built bytes for one edge case: a special byte at every position of strings of
    /// lengths 1..=40 (word pairs, a lone word, word boundaries, short tail), the rest clean ASCII or a
    /// non-ASCII filler (high bytes must never look special).
    #[test]
    fn escape_at_every_position() {
        check("");
        // Up to 40: the two-word steps, a single word after them, and a short tail.
        for len in 1..=40usize {
            for at in 0..len {
                for special in [
                    '"', '\\', '\0', '\u{1f}', '\n', '\u{8}', '\u{c}', '\r', '\t',
                ] {
                    for fill in ['x', ' ', '~', '\u{7f}'] {
                        let s: String = (0..len)
                            .map(|i| if i == at { special } else { fill })
                            .collect();
                        check(&s);
                    }
                    // Two-byte characters around it: the special byte lands at odd offsets.
                    let s: String = (0..len)
                        .map(|i| {
                            if i == at {
                                special.to_string()
                            } else {
                                "é".into()
                            }
                        })
                        .collect();
                    check(&s);
                    // Bytes just above each special one (0x20, 0x23, 0x5D) must stay as is.
                    let s: String = (0..len)
                        .map(|i| {
                            if i == at {
                                special
                            } else {
                                [' ', '#', ']'][i % 3]
                            }
                        })
                        .collect();
                    check(&s);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_strings_escape_like_serde_json(s in any::<String>()) {
            prop_assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn ascii_heavy_strings_escape_like_serde_json(s in "[\\x00-\\x7f]{0,40}") {
            prop_assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap());
        }

        /// The marks are exact per byte (the tail path shifts some out and relies on it).
        #[test]
        fn special_bytes_marks_exactly_the_bytes_to_escape(w in any::<u64>()) {
            let want = w.to_le_bytes().iter().enumerate().fold(0u64, |m, (k, &b)| {
                if b < 0x20 || b == b'"' || b == b'\\' { m | 0x80 << (8 * k) } else { m }
            });
            prop_assert_eq!(special_bytes(w), want);
        }

        #[test]
        fn integers_like_serde_json(v in any::<u64>()) {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            prop_assert_eq!(out, serde_json::to_vec(&v).unwrap());
        }

        #[test]
        fn floats_like_serde_json(v in any::<f64>()) {
            let mut out = Vec::new();
            write_f64(&mut out, v);
            prop_assert_eq!(out, serde_json::to_vec(&v).unwrap());
        }
    }

    fn cert(n: u32) -> CertInfo {
        CertInfo {
            subject: format!("CN=host{n}.example, O=\"Quoted\\Org\""),
            issuer: "CN=Issuer\u{1}".into(),
            san_dns: vec![format!("host{n}.example"), "*.example".into()],
            san_ip: vec!["10.0.0.1".into()],
            not_before: "2024-01-01T00:00:00Z".into(),
            not_after: "2025-01-01T00:00:00Z".into(),
            serial: "01:02".into(),
            sha256: "ab".repeat(32),
            key: "RSA 2048".into(),
            signature: "sha256WithRSAEncryption".into(),
            self_signed: n == 0,
            is_ca: n > 0,
            common_name: (n > 0).then(|| "ü".into()),
            key_bits: 2048,
        }
    }

    /// A record with every optional part present (and one with every one absent), including
    /// non-finite durations that serde_json writes as null.
    fn records() -> Vec<ConnectionRecord> {
        let full = ConnectionRecord {
            record_type: "connection",
            file: "dir\\cap\"ture\".pcap".into(),
            index: u64::MAX,
            first_packet: 1,
            start: "2024-05-01T12:00:00.123456Z".into(),
            duration_s: 0.1 + 0.2,
            client: "[::1]:50000".into(),
            server: "10.0.0.2:443".into(),
            sni: Some("api.example.com".into()),
            alpn_offered: vec!["h2".into(), "http/1.1".into()],
            alpn: Some("h2".into()),
            versions_offered: vec!["TLS 1.3".into(), "TLS 1.2".into()],
            version: Some("TLS 1.3".into()),
            cipher: Some("TLS_AES_128_GCM_SHA256".into()),
            resumed: true,
            hello_retry: true,
            cert_requested: Some(true),
            client_cert_sent: Some(false),
            server_chain: Some(Arc::from(vec![cert(0), cert(1)])),
            client_chain: Some(Arc::from(Vec::new())),
            ocsp_stapled: true,
            alerts: vec![
                AlertRecord {
                    from: Side::Server,
                    level: Some("fatal".into()),
                    description: Some("unknown_ca".into()),
                    encrypted: false,
                    packet: 7,
                },
                AlertRecord {
                    from: Side::Client,
                    level: None,
                    description: None,
                    encrypted: true,
                    packet: 9,
                },
            ],
            tcp: TcpRecord {
                syn: 2,
                syn_ack: true,
                established: true,
                client_bytes: 1234,
                server_bytes: 0,
                closed_by: Some(Side::Client),
                close: Some(CloseKind::Rst),
                gaps: 1,
                packets: 42,
                retransmissions: 3,
                midstream: false,
            },
            ja3: Some("0123456789abcdef0123456789abcdef".into()),
            ja4: Some("t13d1516h2_8daaf6152771_02713d6af862".into()),
            chain_status: Some("invalid: \"bad\"\tdate".into()),
            status: "alert".into(),
            findings: [Severity::Info, Severity::Warning, Severity::Error]
                .into_iter()
                .map(|severity| Finding {
                    id: "tls-alert",
                    severity,
                    message: "server sent \"unknown_ca\"\n".into(),
                    evidence: "packet 7".into(),
                    remediation: "trust C:\\ca.pem".into(),
                })
                .collect(),
            decryption: Some(DecryptionRecord {
                status: "failed".into(),
                reason: Some("bad MAC".into()),
                key_source: None,
            }),
            http: vec![HttpRecord {
                version: "HTTP/1.1".into(),
                method: Some("GET".into()),
                path: Some("/a?token=<redacted>".into()),
                host: None,
                status: Some(401),
                auth: "bearer+api-key".into(),
                request_packet: Some(10),
                response_packet: None,
            }],
        };
        let mut empty = full.clone();
        empty.duration_s = 0.0;
        empty.sni = None;
        empty.alpn_offered.clear();
        empty.alpn = None;
        empty.versions_offered.clear();
        empty.version = None;
        empty.cipher = None;
        empty.cert_requested = None;
        empty.client_cert_sent = None;
        empty.server_chain = None;
        empty.client_chain = None;
        empty.alerts.clear();
        empty.tcp.closed_by = None;
        empty.tcp.close = None;
        empty.ja3 = None;
        empty.ja4 = None;
        empty.chain_status = None;
        empty.findings.clear();
        empty.decryption = None;
        empty.http.clear();
        let mut out = vec![full, empty];
        for d in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-7,
            12345.678,
            3.0,
        ] {
            let mut r = out[0].clone();
            r.duration_s = d;
            r.tcp.close = Some(CloseKind::Fin);
            r.tcp.closed_by = Some(Side::Server);
            out.push(r);
        }
        out
    }

    #[test]
    fn records_like_serde_json() {
        for r in records() {
            let mut ours = Vec::new();
            write_connection(&mut ours, &r);
            let theirs = serde_json::to_vec(&r).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }
}
