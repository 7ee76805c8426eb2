//! Numbers and addresses as text without `core::fmt`, for fields built once per connection.
//!
//! `format!`/`to_string` go through `core::fmt`'s dynamic dispatch and padding logic; for the
//! few values every record carries that was a visible share of a whole run.

use std::net::SocketAddr;

/// Appends `v` in decimal.
pub(crate) fn push_decimal(out: &mut String, v: u32) {
    let mut buf = [0u8; 20];
    for &d in decimal(&mut buf, u64::from(v)) {
        out.push(char::from(d));
    }
}

/// `v`'s decimal digits, written into the end of `buf`.
pub(crate) fn decimal(buf: &mut [u8; 20], mut v: u64) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[at..]
}

/// A number's decimal digits held on the stack, for text joined with `[..].concat()`.
///
/// Findings build a few sentences per connection; `format!` walks `core::fmt` for each
/// argument, while `concat` sizes the string once and copies each piece (`format!` there cost
/// ~5 % of a run's instructions).
pub(crate) struct Digits {
    buf: [u8; 20],
    at: usize,
}

impl Digits {
    /// The digits of `v`.
    pub(crate) fn of(v: u64) -> Self {
        let mut buf = [0u8; 20];
        let at = 20 - decimal(&mut buf, v).len();
        Digits { buf, at }
    }

    /// The digits as text.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[self.at..]).unwrap_or("?")
    }
}

/// Writes `v` (at most five digits: an octet or a port) at the start of `out`; returns the
/// digits written.
fn put_digits(out: &mut [u8], v: u32) -> usize {
    let n = match v {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    };
    let mut rest = v;
    for slot in out[..n].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    n
}

/// `addr` as `Display` writes it (`1.2.3.4:443`, `[::1]:443`).
pub(crate) fn socket_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => {
            // Digits written straight into one buffer, turned into a `String` once: pushing
            // them one `char` at a time was ~500 instructions per address, two per connection.
            let mut out = [0u8; 21]; // the longest: 255.255.255.255:65535
            let mut len = 0;
            for (i, octet) in a.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out[len] = b'.';
                    len += 1;
                }
                len += put_digits(&mut out[len..], u32::from(octet));
            }
            out[len] = b':';
            len += 1;
            len += put_digits(&mut out[len..], u32::from(a.port()));
            // ASCII digits and separators only.
            std::str::from_utf8(&out[..len])
                .unwrap_or_default()
                .to_owned()
        }
        // Rare on the hot path, and the compressed form has rules of its own.
        SocketAddr::V6(_) => addr.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-picked edge values (0, one digit, powers of ten, the largest u16 and u32).
    #[test]
    fn decimal_matches_display() {
        for v in [
            0u32,
            7,
            9,
            10,
            99,
            100,
            769,
            4865,
            65535,
            1_000_000,
            u32::MAX,
        ] {
            let mut out = String::new();
            push_decimal(&mut out, v);
            assert_eq!(out, v.to_string());
        }
        let mut buf = [0u8; 20];
        assert_eq!(decimal(&mut buf, u64::MAX), u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn digits_match_display() {
        for v in [0u64, 9, 10, 4865, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(Digits::of(v).as_str(), v.to_string());
        }
    }

    #[test]
    fn socket_addr_matches_display() {
        for a in [
            "0.0.0.0:0",
            "127.0.0.1:443",
            "255.255.255.255:65535",
            "10.0.200.9:8080",
            "[::1]:443",
            "[fe80::1%2]:22",
            "[::ffff:1.2.3.4]:80",
        ] {
            let addr: SocketAddr = a.parse().unwrap_or_else(|e| panic!("{a}: {e}"));
            assert_eq!(socket_addr(addr), addr.to_string());
        }
    }
}
