//! Explicit UTC time parsing for log fields: never the host's locale or time zone.

use exhunt_model::Timestamp;
use time::{Date, Month, PrimitiveDateTime, Time};

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// `YYYY-MM-DD`.
fn date(b: &[u8]) -> Option<Date> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = i32::try_from(digits(&b[..4])?).ok()?;
    let m = Month::try_from(u8::try_from(digits(&b[5..7])?).ok()?).ok()?;
    let d = u8::try_from(digits(&b[8..10])?).ok()?;
    Date::from_calendar_date(y, m, d).ok()
}

/// `HH:MM:SS` with an optional fraction of 1 to 9 digits.
fn clock(b: &[u8]) -> Option<Time> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let h = u8::try_from(digits(&b[..2])?).ok()?;
    let mi = u8::try_from(digits(&b[3..5])?).ok()?;
    let s = u8::try_from(digits(&b[6..8])?).ok()?;
    let nanos = match &b[8..] {
        [] => 0,
        [b'.', frac @ ..] if !frac.is_empty() && frac.len() <= 9 => {
            let v = digits(frac)?;
            v * 10u32.pow(9 - u32::try_from(frac.len()).ok()?)
        }
        _ => return None,
    };
    Time::from_hms_nano(h, mi, s, nanos).ok()
}

/// Exchange's ISO 8601 UTC times: `2021-03-07T15:04:04.546Z` (fraction optional; `Z` or `+00:00` required, since a
/// time without a zone is not known to be UTC).
pub fn parse_iso_utc(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20 || (b[10] != b'T' && b[10] != b't') {
        return None;
    }
    let d = date(&b[..10])?;
    let rest = &b[11..];
    let body = rest.strip_suffix(b"Z").or_else(|| rest.strip_suffix(b"z")).or_else(|| rest.strip_suffix(b"+00:00"))?;
    let t = clock(body)?;
    Some(Timestamp::new(PrimitiveDateTime::new(d, t).assume_utc()))
}

/// IIS W3C `date` and `time` fields (`2021-03-03`, `07:12:09`), always UTC in the W3C format.
pub fn parse_w3c(date_field: &str, time_field: &str) -> Option<Timestamp> {
    let d = date(date_field.as_bytes())?;
    let t = clock(time_field.as_bytes())?;
    Some(Timestamp::new(PrimitiveDateTime::new(d, t).assume_utc()))
}

/// The date part of a W3C `#Date: 2019-09-03 10:04:35` directive.
pub(crate) fn w3c_directive_date(value: &str) -> Option<&str> {
    let v = value.trim();
    let d = v.get(..10)?;
    date(d.as_bytes()).map(|_| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_times() {
        let t = parse_iso_utc("2021-03-07T15:04:04.546Z").expect("valid");
        assert_eq!(t.to_string(), "2021-03-07T15:04:04.546Z");
        assert_eq!(parse_iso_utc("2021-03-07T15:04:04Z").expect("valid").to_string(), "2021-03-07T15:04:04Z");
        assert_eq!(
            parse_iso_utc("2021-03-07T15:04:04.1234567Z").expect("valid").to_string(),
            "2021-03-07T15:04:04.123456700Z"
        );
        assert!(parse_iso_utc("2021-03-07T15:04:04.546").is_none(), "no zone");
        assert!(parse_iso_utc("07/03/2021 15:04:04").is_none(), "locale formats are refused");
        assert!(parse_iso_utc("2021-02-30T15:04:04Z").is_none());
        assert!(parse_iso_utc("2021-03-07T25:04:04Z").is_none());
        assert!(parse_iso_utc("2021-03-07T15:04:04.Z").is_none());
    }

    #[test]
    fn w3c_times() {
        assert_eq!(parse_w3c("2019-09-03", "10:13:36").expect("valid").to_string(), "2019-09-03T10:13:36Z");
        assert_eq!(parse_w3c("2019-09-03", "10:13:36.25").expect("valid").to_string(), "2019-09-03T10:13:36.250Z");
        assert!(parse_w3c("2019-9-3", "10:13:36").is_none());
        assert_eq!(w3c_directive_date(" 2019-09-03 10:04:35"), Some("2019-09-03"));
    }
}
