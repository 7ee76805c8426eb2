//! Capture timestamps.

use serde::Serialize;

/// A capture timestamp: seconds and nanoseconds since the Unix epoch, as recorded by the capturer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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

    /// RFC 3339 in UTC with microsecond precision, e.g. `2024-05-01T12:00:00.123456Z`.
    pub fn rfc3339(self) -> String {
        match time::OffsetDateTime::from_unix_timestamp(self.secs) {
            Ok(t) => {
                let t = t.replace_nanosecond(self.nanos).unwrap_or(t);
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second(),
                    t.microsecond()
                )
            }
            Err(_) => format!("@{}.{:09}", self.secs, self.nanos),
        }
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
