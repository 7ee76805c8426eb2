//! Numbers (itoa) and addresses as text without `core::fmt`, for fields built once per
//! connection.
//!
//! `format!`/`to_string` go through `core::fmt`'s dynamic dispatch and padding logic; for the
//! few values every record carries that was a visible share of a whole run.

/// Appends `v` in decimal.
pub(crate) fn push_decimal(out: &mut String, v: u32) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// A number's decimal digits held on the stack, for text joined with `[..].concat()`.
///
/// Findings build a few sentences per connection; `format!` walks `core::fmt` for each
/// argument, while `concat` sizes the string once and copies each piece (`format!` there cost
/// ~5 % of a run's instructions).
pub(crate) struct Digits(arrayvec::ArrayString<20>);

impl Digits {
    /// The digits of `v` (20 hold any `u64`).
    pub(crate) fn of(v: u64) -> Self {
        let mut text = arrayvec::ArrayString::new();
        let _ = text.try_push_str(itoa::Buffer::new().format(v));
        Digits(text)
    }

    /// The digits as text.
    pub(crate) fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// A socket address as text (`ip:port`, `[v6]:port`), exactly as `Display` writes it, held on
/// the stack. IPv4 (nearly every address in a capture) is written digit by digit: `Display`
/// goes through `core::fmt` once per octet, which showed at two addresses per record.
///
/// Held as an `ArrayString`: the text is known to be UTF-8 as it is written, so reading it
/// back costs no validation (two addresses a record).
pub(crate) struct AddrText(arrayvec::ArrayString<64>);

impl AddrText {
    /// The text of `addr` (64 bytes hold the longest form: `[` 45-byte address `%` scope
    /// `]:` port; should one not fit, the text is empty).
    pub(crate) fn of(addr: std::net::SocketAddr) -> Self {
        let mut text = arrayvec::ArrayString::new();
        match addr {
            std::net::SocketAddr::V4(v4) => {
                for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        let _ = text.try_push('.');
                    }
                    let _ = text.try_push_str(itoa::Buffer::new().format(octet));
                }
                let _ = text.try_push(':');
                let _ = text.try_push_str(itoa::Buffer::new().format(v4.port()));
            }
            std::net::SocketAddr::V6(_) => {
                use std::fmt::Write;
                if write!(text, "{addr}").is_err() {
                    text.clear();
                }
            }
        }
        AddrText(text)
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Display for AddrText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-picked addresses: the shortest and longest IPv4 forms, and IPv6 with and without
    /// a scope id and an embedded IPv4 address.
    #[test]
    fn addr_text_matches_display() {
        for a in [
            "0.0.0.0:0",
            "1.2.3.4:443",
            "255.255.255.255:65535",
            "[::1]:443",
            "[2001:db8::8a2e:370:7334]:8443",
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
            "[::ffff:192.168.1.1]:80",
        ] {
            let addr: std::net::SocketAddr = a.parse().unwrap();
            assert_eq!(AddrText::of(addr).as_str(), addr.to_string());
        }
        let scoped = std::net::SocketAddr::V6(std::net::SocketAddrV6::new(
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
            65535,
            0,
            u32::MAX,
        ));
        assert_eq!(AddrText::of(scoped).as_str(), scoped.to_string());
    }

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
    }

    #[test]
    fn digits_match_display() {
        for v in [0u64, 9, 10, 4865, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(Digits::of(v).as_str(), v.to_string());
        }
    }
}
