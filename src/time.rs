//! Capture timestamps.

use serde::{Deserialize, Serialize};

/// A capture timestamp: seconds and nanoseconds since the Unix epoch, as recorded by the capturer.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Nanoseconds within the second (0..1_000_000_000).
    pub nanos: u32,
}

impl Timestamp {
    /// Builds a timestamp, normalising `nanos` overflow into seconds.
    pub fn new(secs: i64, nanos: u64) -> Self {
        Timestamp {
            secs: secs + (nanos / 1_000_000_000) as i64,
            nanos: (nanos % 1_000_000_000) as u32,
        }
    }

    /// Seconds as a float (for durations and display).
    pub fn as_f64(self) -> f64 {
        self.secs as f64 + self.nanos as f64 / 1e9
    }

    /// `self - earlier` in seconds (negative when `earlier` is later).
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        (self.secs - earlier.secs) as f64 + (self.nanos as f64 - earlier.nanos as f64) / 1e9
    }

    /// [`Timestamp::rfc3339`] when it is RFC 3339 (years 0000 to 9999); None for a time
    /// outside them (a corrupt or zeroed clock field), which RFC 3339 cannot write.
    pub fn rfc3339_checked(self) -> Option<String> {
        let year = time::OffsetDateTime::from_unix_timestamp(self.secs)
            .ok()?
            .year();
        (0..=9999).contains(&year).then(|| self.rfc3339())
    }

    /// RFC 3339 in UTC with microsecond precision, e.g. `2024-05-01T12:00:00.123456Z`.
    ///
    /// Digits are written directly: through `format!` this costs ~1.5 % of a whole run (once per
    /// connection).
    pub fn rfc3339(self) -> String {
        let t = match time::OffsetDateTime::from_unix_timestamp(self.secs) {
            Ok(t) => t.replace_nanosecond(self.nanos).unwrap_or(t),
            Err(_) => return format!("@{}.{:09}", self.secs, self.nanos),
        };
        let year = t.year();
        if !(0..=9999).contains(&year) {
            return format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                year,
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.microsecond()
            );
        }
        let mut out = [0u8; 27];
        let fields: [(u32, usize); 7] = [
            (year as u32, 4),
            (u32::from(u8::from(t.month())), 2),
            (u32::from(t.day()), 2),
            (u32::from(t.hour()), 2),
            (u32::from(t.minute()), 2),
            (u32::from(t.second()), 2),
            (t.microsecond(), 6),
        ];
        let mut at = 0;
        for ((value, width), sep) in fields.into_iter().zip(*b"--T::.Z") {
            let mut v = value;
            for slot in out[at..at + width].iter_mut().rev() {
                *slot = b'0' + (v % 10) as u8;
                v /= 10;
            }
            out[at + width] = sep;
            at += width + 1;
        }
        // Only ASCII digits and separators were written (`from_utf8_lossy` walked them as
        // UTF-8 chunks, a visible cost once per connection).
        std::str::from_utf8(&out).unwrap_or_default().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(
            Timestamp::new(1_700_000_000, 123_456_789).rfc3339(),
            "2023-11-14T22:13:20.123456Z"
        );
    }

    /// Edge values against the `format!` rendering the fast path replaced: epoch, a leap day,
    /// the last microsecond of a year, and years outside 0..=9999 (the fallbacks).
    #[test]
    fn rfc3339_edges() {
        let cases = [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 999, "2000-02-29T00:00:00.000000Z"),
            (1_704_067_199, 999_999_999, "2023-12-31T23:59:59.999999Z"),
            (253_402_300_799, 0, "9999-12-31T23:59:59.000000Z"),
            (-62_135_596_801, 0, "0000-12-31T23:59:59.000000Z"),
            // Beyond the `time` crate's range: seconds as they are.
            (253_402_300_800, 0, "@253402300800.000000000"),
            // Year -1: the `format!` fallback (as before the fast path).
            (-62_167_219_201, 0, "-001-12-31T23:59:59.000000Z"),
        ];
        for (secs, nanos, want) in cases {
            assert_eq!(Timestamp::new(secs, nanos).rfc3339(), want, "{secs}");
        }
    }

    /// The largest pcapng time (2^64 - 1 microseconds) and years outside 0000-9999 have no
    /// RFC 3339 form.
    #[test]
    fn rfc3339_checked_is_none_out_of_range() {
        assert_eq!(
            Timestamp::new(18_446_744_073_709, 551_615_000).rfc3339_checked(),
            None
        );
        assert_eq!(Timestamp::new(-62_167_219_201, 0).rfc3339_checked(), None);
        assert_eq!(
            Timestamp::new(253_402_300_799, 0)
                .rfc3339_checked()
                .as_deref(),
            Some("9999-12-31T23:59:59.000000Z")
        );
        assert_eq!(
            Timestamp::new(0, 0).rfc3339_checked().as_deref(),
            Some("1970-01-01T00:00:00.000000Z")
        );
    }

    #[test]
    fn normalises_nanos() {
        assert_eq!(
            Timestamp::new(1, 2_500_000_000),
            Timestamp {
                secs: 3,
                nanos: 500_000_000
            }
        );
    }
}
