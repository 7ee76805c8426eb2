//! JA3 and JA4 client fingerprints.

use super::names::is_grease;
use super::ClientHello;
use crate::text::push_decimal;
use md5::{Digest as _, Md5};
use sha2::Sha256;

/// JA3 (Salesforce): MD5 of `version,ciphers,extensions,groups,point_formats` without GREASE.
pub fn ja3(ch: &ClientHello) -> String {
    hex::encode(Md5::digest(ja3_string(ch).as_bytes()))
}

/// JA3 before hashing. Built into one `String` (no per-element allocation: this runs once per
/// connection on the hot path).
pub fn ja3_string(ch: &ClientHello) -> String {
    let mut out = String::with_capacity(
        8 + 6 * (ch.ciphers.len() + ch.extensions.len() + ch.groups.len())
            + 4 * ch.ec_point_formats.len(),
    );
    push_decimal(&mut out, u32::from(ch.legacy_version));
    out.push(',');
    push_dashed(&mut out, no_grease(&ch.ciphers).map(u32::from));
    out.push(',');
    push_dashed(&mut out, no_grease(&ch.extensions).map(u32::from));
    out.push(',');
    push_dashed(&mut out, no_grease(&ch.groups).map(u32::from));
    out.push(',');
    push_dashed(&mut out, ch.ec_point_formats.iter().map(|v| u32::from(*v)));
    out
}

/// The values of a list that are not GREASE.
fn no_grease(vals: &[u16]) -> impl Iterator<Item = u16> + '_ {
    vals.iter().copied().filter(|v| !is_grease(*v))
}

/// Appends decimal values joined with `-`.
fn push_dashed(out: &mut String, vals: impl Iterator<Item = u32>) {
    for (i, v) in vals.enumerate() {
        if i > 0 {
            out.push('-');
        }
        push_decimal(out, v);
    }
}

/// FoxIO JA4 for TLS over TCP, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`. DTLS versions
/// are ordered beside the TLS versions they are built on.
///
/// Built into one `String`; the sorted lists are hashed as they are hex-encoded, so the only
/// allocations are the sort buffer and the result.
pub fn ja4(ch: &ClientHello) -> String {
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max_by_key(|v| super::tls_equivalent(*v))
        .unwrap_or(ch.legacy_version);
    let version = match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    };
    let sni = if ch.extensions.contains(&0x0000) {
        'd'
    } else {
        'i'
    };
    let n_ciphers = ch.ciphers.iter().filter(|c| !is_grease(**c)).count();
    let n_exts = ch.extensions.iter().filter(|e| !is_grease(**e)).count();

    let mut out = String::with_capacity(36);
    out.push('t');
    out.push_str(version);
    out.push(sni);
    push_2digits(&mut out, n_ciphers.min(99));
    push_2digits(&mut out, n_exts.min(99));
    push_ja4_alpn(&mut out, ch.alpn_first_raw.as_deref().unwrap_or_default());
    out.push('_');

    let mut sorted: Vec<u16> = Vec::with_capacity(ch.ciphers.len().max(ch.extensions.len()));
    sorted.extend(ch.ciphers.iter().copied().filter(|c| !is_grease(*c)));
    sorted.sort_unstable();
    let mut h = Sha256::new();
    hash_hex_list(&mut h, &sorted);
    push_truncated(&mut out, (!sorted.is_empty()).then_some(h));
    out.push('_');

    sorted.clear();
    sorted.extend(
        ch.extensions
            .iter()
            .copied()
            .filter(|e| !is_grease(*e) && *e != 0x0000 && *e != 0x0010),
    );
    sorted.sort_unstable();
    let ext_hash = if sorted.is_empty() {
        None
    } else {
        let mut h = Sha256::new();
        hash_hex_list(&mut h, &sorted);
        let mut sig_algs = ch
            .signature_algorithms
            .iter()
            .copied()
            .filter(|s| !is_grease(*s))
            .peekable();
        if sig_algs.peek().is_some() {
            h.update(b"_");
            let mut first = true;
            for v in sig_algs {
                if !first {
                    h.update(b",");
                }
                first = false;
                h.update(hex4(v));
            }
        }
        Some(h)
    };
    push_truncated(&mut out, ext_hash);
    out
}

/// JA3 and JA4 of ClientHellos already seen, keyed by exactly the fields the two fingerprints
/// read (GREASE removed, as both fingerprints remove it).
///
/// A capture's clients repeat a handful of ClientHello shapes over thousands of connections,
/// and building both strings (MD5, two SHA-256, sorting) costs ~7 % of a whole run.
#[derive(Debug, Default)]
pub struct FingerprintCache {
    map: crate::FastMap<Vec<u16>, (String, String)>,
    key: Vec<u16>,
}

/// Distinct ClientHello shapes remembered before the cache starts over.
const MAX_SHAPES: usize = 4096;

impl FingerprintCache {
    /// (JA3, JA4) of `ch`.
    pub fn get(&mut self, ch: &ClientHello) -> (String, String) {
        self.key.clear();
        shape_key(&mut self.key, ch);
        if let Some((ja3_hash, ja4_text)) = self.map.get(&self.key) {
            return (ja3_hash.clone(), ja4_text.clone());
        }
        let found = (ja3(ch), ja4(ch));
        if self.map.len() >= MAX_SHAPES {
            self.map.clear();
        }
        self.map.insert(self.key.clone(), found.clone());
        found
    }
}

/// Every input of [`ja3`] and [`ja4`], each list length-prefixed so that no two different
/// hellos share a key (lists are shorter than 2^16: a ClientHello's are u16-length-prefixed).
///
/// GREASE values are all replaced by one mark rather than left out: lists are copied whole
/// (filtering value by value was most of a lookup's cost), and hellos that differ only in
/// which GREASE values they drew (browsers draw them per connection) still share a key.
/// Hellos sharing a key have the same lists once GREASE is left out, hence the same JA3/JA4.
fn shape_key(key: &mut Vec<u16>, ch: &ClientHello) {
    key.push(ch.legacy_version);
    push_list(key, &ch.ciphers);
    push_list(key, &ch.extensions);
    push_list(key, &ch.groups);
    push_bytes(key, &ch.ec_point_formats);
    push_list(key, &ch.supported_versions);
    push_list(key, &ch.signature_algorithms);
    match &ch.alpn_first_raw {
        None => key.push(u16::MAX),
        Some(alpn) => push_bytes(key, alpn),
    }
}

/// Appends the number of values, then the values with every GREASE value as 0x0a0a.
fn push_list(key: &mut Vec<u16>, vals: &[u16]) {
    key.push(vals.len() as u16);
    let at = key.len();
    key.extend_from_slice(vals);
    for v in &mut key[at..] {
        if is_grease(*v) {
            *v = 0x0a0a;
        }
    }
}

/// Appends the number of bytes, then the bytes.
fn push_bytes(key: &mut Vec<u16>, bytes: &[u8]) {
    key.push(bytes.len() as u16);
    key.extend(bytes.iter().map(|b| u16::from(*b)));
}

fn push_2digits(out: &mut String, n: usize) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Lower-case 4-digit hex of a u16.
fn hex4(v: u16) -> [u8; 4] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = usize::from(v);
    [
        HEX[(n >> 12) & 0xf],
        HEX[(n >> 8) & 0xf],
        HEX[(n >> 4) & 0xf],
        HEX[n & 0xf],
    ]
}

/// Feeds `0a0a,1301,...` (lower-case 4-digit hex, comma separated) to the hash.
fn hash_hex_list(h: &mut Sha256, vals: &[u16]) {
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            h.update(b",");
        }
        h.update(hex4(*v));
    }
}

/// First 12 hex digits of the hash; `000000000000` for an empty list (None).
fn push_truncated(out: &mut String, h: Option<Sha256>) {
    match h {
        None => out.push_str("000000000000"),
        Some(h) => {
            let digest = h.finalize();
            let mut buf = [0u8; 12];
            // 6 bytes → 12 hex digits; the slice lengths match, so this cannot fail.
            if hex::encode_to_slice(digest.get(..6).unwrap_or_default(), &mut buf).is_ok() {
                out.push_str(std::str::from_utf8(&buf).unwrap_or("000000000000"));
            }
        }
    }
}

/// JA4's two ALPN characters from the first protocol: its first and last byte when both are
/// ASCII alphanumeric; when both are ASCII but one is not alphanumeric, the first and last hex
/// digit of the whole value (spec); a non-ASCII byte becomes `9`, as the FoxIO reference
/// implementations do (their snapshot for tls-non-ascii-alpn.pcapng is `99`); `00` when absent.
fn push_ja4_alpn(out: &mut String, first: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let (Some(&a), Some(&b)) = (first.first(), first.last()) else {
        out.push_str("00");
        return;
    };
    if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() {
        out.push(char::from(a));
        out.push(char::from(b));
    } else if a.is_ascii() && b.is_ascii() {
        // First hex digit of the first byte, last hex digit of the last byte.
        out.push(char::from(HEX[usize::from(a >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    } else {
        let ascii_or_9 = |c: u8| if c.is_ascii() { char::from(c) } else { '9' };
        out.push(ascii_or_9(a));
        out.push(ascii_or_9(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_chars() {
        let ja4_alpn = |b: &[u8]| {
            let mut s = String::new();
            push_ja4_alpn(&mut s, b);
            s
        };
        assert_eq!(ja4_alpn(b"h2"), "h2");
        assert_eq!(ja4_alpn(b"http/1.1"), "h1");
        assert_eq!(ja4_alpn(b""), "00");
        assert_eq!(ja4_alpn(b"h"), "hh");
        // Non-alphanumeric last byte: hex rule (0x68 .. 0x2f → "6" and "f").
        assert_eq!(ja4_alpn(b"h/"), "6f");
        assert_eq!(ja4_alpn(&[0xab, 0xcd]), "99");
    }

    #[test]
    fn empty_hello() {
        let ch = ClientHello {
            legacy_version: 0x0303,
            ..ClientHello::default()
        };
        assert_eq!(ja4(&ch), "t12i000000_000000000000_000000000000");
        assert_eq!(ja3_string(&ch), "771,,,,");
    }

    /// Hand-built hellos: the cache answers what `ja3`/`ja4` compute, the GREASE values drawn do not
    /// split a shape, and a change in any one input gives a new entry.
    #[test]
    fn cache_matches_direct_computation() {
        let base = ClientHello {
            legacy_version: 0x0303,
            ciphers: vec![0x1301, 0x1302, 0xc02f],
            extensions: vec![0x0000, 0x0010, 0x002b, 0x000d],
            groups: vec![0x001d, 0x0017],
            ec_point_formats: vec![0],
            supported_versions: vec![0x0304, 0x0303],
            signature_algorithms: vec![0x0403, 0x0804],
            alpn_first_raw: Some(b"h2".to_vec()),
            ..ClientHello::default()
        };
        let mut greased = base.clone();
        greased.ciphers.insert(0, 0x0a0a);
        greased.extensions.insert(0, 0x1a1a);
        greased.groups.insert(0, 0x2a2a);
        greased.supported_versions.insert(0, 0x3a3a);
        // The same hello with other GREASE values drawn.
        let mut regreased = greased.clone();
        for (list, grease) in [
            (&mut regreased.ciphers, 0x5a5a),
            (&mut regreased.extensions, 0x6a6a),
            (&mut regreased.groups, 0x7a7a),
            (&mut regreased.supported_versions, 0x8a8a),
        ] {
            list[0] = grease;
        }
        assert_eq!((ja3(&greased), ja4(&greased)), (ja3(&base), ja4(&base)));
        let mut variants = vec![base.clone(), greased, regreased];
        let changes: [fn(&mut ClientHello); 8] = [
            |c| c.legacy_version = 0x0301,
            |c| c.ciphers.swap(0, 1),
            |c| c.extensions.swap(2, 3),
            |c| c.groups.truncate(1),
            |c| c.ec_point_formats.push(1),
            |c| c.supported_versions = vec![0x0303],
            |c| c.signature_algorithms.swap(0, 1),
            |c| c.alpn_first_raw = None,
        ];
        for change in changes {
            let mut c = base.clone();
            change(&mut c);
            variants.push(c);
        }
        let mut cache = FingerprintCache::default();
        for _ in 0..2 {
            for ch in &variants {
                assert_eq!(cache.get(ch), (ja3(ch), ja4(ch)));
            }
        }
        // The two GREASE draws share a shape; every other variant is a shape of its own.
        assert_eq!(cache.map.len(), variants.len() - 1);
    }
}
