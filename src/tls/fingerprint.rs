//! JA3 and JA4 client fingerprints.

use super::names::is_grease;
use super::ClientHello;
use md5::{Digest as _, Md5};
use sha2::Sha256;

/// JA3 (Salesforce): MD5 of `version,ciphers,extensions,groups,point_formats` without GREASE.
pub fn ja3(ch: &ClientHello) -> String {
    hex::encode(Md5::digest(ja3_string(ch).as_bytes()))
}

/// JA3 before hashing.
pub fn ja3_string(ch: &ClientHello) -> String {
    let dashed = |vals: &[u16]| {
        vals.iter()
            .filter(|v| !is_grease(**v))
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join("-")
    };
    let point_formats = ch
        .ec_point_formats
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join("-");
    format!(
        "{},{},{},{},{}",
        ch.legacy_version,
        dashed(&ch.ciphers),
        dashed(&ch.extensions),
        dashed(&ch.groups),
        point_formats
    )
}

/// FoxIO JA4 for TLS over TCP, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`.
pub fn ja4(ch: &ClientHello) -> String {
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
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
    let ciphers: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let extensions: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|e| !is_grease(*e))
        .collect();
    let alpn = ja4_alpn(ch.alpn_first_raw.as_deref().unwrap_or_default());

    let mut sorted_ciphers = ciphers.clone();
    sorted_ciphers.sort_unstable();
    let cipher_hash = truncated_sha256(&hex_list(&sorted_ciphers));

    let mut sorted_exts: Vec<u16> = extensions
        .iter()
        .copied()
        .filter(|e| *e != 0x0000 && *e != 0x0010)
        .collect();
    sorted_exts.sort_unstable();
    let ext_hash = if sorted_exts.is_empty() {
        truncated_sha256("")
    } else {
        let sig_algs: Vec<u16> = ch
            .signature_algorithms
            .iter()
            .copied()
            .filter(|s| !is_grease(*s))
            .collect();
        let mut text = hex_list(&sorted_exts);
        if !sig_algs.is_empty() {
            text.push('_');
            text.push_str(&hex_list(&sig_algs));
        }
        truncated_sha256(&text)
    };

    format!(
        "t{version}{sni}{:02}{:02}{alpn}_{cipher_hash}_{ext_hash}",
        ciphers.len().min(99),
        extensions.len().min(99)
    )
}

/// JA4's two ALPN characters from the first protocol: its first and last byte when both are
/// ASCII alphanumeric; when both are ASCII but one is not alphanumeric, the first and last hex
/// digit of the whole value (spec); a non-ASCII byte becomes `9`, as the FoxIO reference
/// implementations do (their snapshot for tls-non-ascii-alpn.pcapng is `99`); `00` when absent.
fn ja4_alpn(first: &[u8]) -> String {
    let (Some(&a), Some(&b)) = (first.first(), first.last()) else {
        return "00".to_string();
    };
    if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() {
        return format!("{}{}", char::from(a), char::from(b));
    }
    if a.is_ascii() && b.is_ascii() {
        let hex = hex::encode(first);
        let a = hex.chars().next().unwrap_or('0');
        let b = hex.chars().last().unwrap_or('0');
        return format!("{a}{b}");
    }
    let ascii_or_9 = |c: u8| if c.is_ascii() { char::from(c) } else { '9' };
    format!("{}{}", ascii_or_9(a), ascii_or_9(b))
}

/// `0a0a,1301,...` lower-case 4-digit hex, comma separated.
fn hex_list(vals: &[u16]) -> String {
    vals.iter()
        .map(|v| format!("{v:04x}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// First 12 hex digits of SHA-256; `000000000000` for an empty list.
fn truncated_sha256(text: &str) -> String {
    if text.is_empty() {
        return "000000000000".to_string();
    }
    let mut h = hex::encode(Sha256::digest(text.as_bytes()));
    h.truncate(12);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_chars() {
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
}
