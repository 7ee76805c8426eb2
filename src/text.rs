//! Numbers and addresses as text without `core::fmt`, for fields built once per connection.
//!
//! `format!`/`to_string` go through `core::fmt`'s dynamic dispatch and padding logic; for the
//! few values every record carries that was a visible share of a whole run.

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
}
