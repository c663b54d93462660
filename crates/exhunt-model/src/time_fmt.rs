use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A point in time, always held and printed in UTC as RFC 3339 (`2021-03-03T07:12:09.123Z`).
///
/// Sub-second digits are printed only when non-zero (milliseconds, or more when the source had them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Converts any offset to UTC.
    pub fn new(t: OffsetDateTime) -> Self {
        Timestamp(t.to_offset(UtcOffset::UTC))
    }

    /// Parses RFC 3339 (any offset; converted to UTC).
    pub fn parse_rfc3339(s: &str) -> Result<Self, time::error::Parse> {
        OffsetDateTime::parse(s, &Rfc3339).map(Self::new)
    }

    /// The time `secs` seconds after the Unix epoch; `None` out of range.
    pub fn from_unix(secs: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(secs).ok().map(Self::new)
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The inner UTC time.
    pub fn get(&self) -> OffsetDateTime {
        self.0
    }
}

impl Timestamp {
    /// `YYYY-MM-DD HH:MM:SS` (UTC, whole seconds): the form of SQL and of Shadowserver's reports.
    pub fn to_seconds_string(&self) -> String {
        let mut s = String::with_capacity(19);
        let _ = self.write_seconds(&mut s, ' ');
        s
    }

    fn write_seconds(&self, f: &mut dyn fmt::Write, sep: char) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        self.write_seconds(f, 'T')?;
        let nanos = t.nanosecond();
        if nanos != 0 {
            if nanos.is_multiple_of(1_000_000) {
                write!(f, ".{:03}", nanos / 1_000_000)?;
            } else {
                write!(f, ".{:09}", nanos)?;
            }
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_utc_with_z_and_trims_zero_fraction() {
        let t = Timestamp::parse_rfc3339("2021-03-03T09:12:09+02:00").expect("valid");
        assert_eq!(t.to_string(), "2021-03-03T07:12:09Z");
        let t = Timestamp::parse_rfc3339("2021-03-03T07:12:09.120Z").expect("valid");
        assert_eq!(t.to_string(), "2021-03-03T07:12:09.120Z");
        let json = serde_json::to_string(&t).expect("serialize");
        let back: Timestamp = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back.to_seconds_string(), "2021-03-03 07:12:09");
        assert_eq!(back, t);
    }
}
