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
/// argument, while `concat` sizes the string once and copies each piece (round 13: `format!`
/// was ~5 % of a run's instructions).
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

/// `addr` as `Display` writes it (`1.2.3.4:443`, `[::1]:443`).
pub(crate) fn socket_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => {
            // Built as bytes and turned into a `String` once: `String::push` per digit was
            // ~500 instructions per address, two addresses per connection.
            let mut out = [0u8; 22]; // the longest, 255.255.255.255:65535, and a spare byte
            let mut len = 0;
            let mut put = |digits: &[u8], sep: u8| {
                out[len..len + digits.len()].copy_from_slice(digits);
                out[len + digits.len()] = sep;
                len += digits.len() + 1;
            };
            let mut buf = [0u8; 20];
            let [a0, a1, a2, a3] = a.ip().octets();
            put(decimal(&mut buf, u64::from(a0)), b'.');
            put(decimal(&mut buf, u64::from(a1)), b'.');
            put(decimal(&mut buf, u64::from(a2)), b'.');
            put(decimal(&mut buf, u64::from(a3)), b':');
            put(decimal(&mut buf, u64::from(a.port())), 0);
            // ASCII digits and separators only.
            std::str::from_utf8(&out[..len - 1])
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
