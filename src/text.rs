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
pub(crate) struct Digits {
    buf: [u8; 20],
    len: usize,
}

impl Digits {
    /// The digits of `v`.
    pub(crate) fn of(v: u64) -> Self {
        let mut buf = [0u8; 20];
        let len = put_digits(&mut buf, v);
        Digits { buf, len }
    }

    /// The digits as text.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

/// Writes `v`'s decimal digits at the start of `out` (room for them checked by the caller:
/// 20 bytes hold any `u64`); returns how many.
fn put_digits(out: &mut [u8], v: u64) -> usize {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(v).as_bytes();
    match out.get_mut(..digits.len()) {
        Some(room) => {
            room.copy_from_slice(digits);
            digits.len()
        }
        None => 0,
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
    }

    #[test]
    fn digits_match_display() {
        for v in [0u64, 9, 10, 4865, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(Digits::of(v).as_str(), v.to_string());
        }
    }
}
