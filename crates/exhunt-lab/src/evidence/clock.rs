//! UTC time as milliseconds since the Unix epoch, and the few formats the logs use. Written out by hand (civil-date
//! arithmetic after Howard Hinnant's `civil_from_days`) because it runs once per log line.

pub const SECOND: i64 = 1000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// Days since 1970-01-01 for a proleptic Gregorian date.
pub const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Milliseconds since the epoch for a UTC date and time.
pub const fn ts(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    days_from_civil(y, mo, d) * DAY + h as i64 * HOUR + mi as i64 * MINUTE + s as i64 * SECOND
}

/// The broken-down parts of a timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub milli: u32,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u32,
}

pub fn civil(t: i64) -> Civil {
    let days = t.div_euclid(DAY);
    let ms = t.rem_euclid(DAY);
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (ms / HOUR) as u32,
        minute: (ms % HOUR / MINUTE) as u32,
        second: (ms % MINUTE / SECOND) as u32,
        milli: (ms % SECOND) as u32,
        weekday: (days + 3).rem_euclid(7) as u32,
    }
}

fn push_num(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = buf.len() - i;
    for _ in digits..width {
        out.push(b'0');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends an unsigned integer in decimal.
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    push_num(out, v, 1);
}

/// `2021-03-03T06:49:42.162Z` (Exchange logs, RFC 3339).
pub fn push_iso_ms(out: &mut Vec<u8>, t: i64) {
    let c = push_date_time(out, t, b'T');
    out.push(b'.');
    push_num(out, u64::from(c.milli), 3);
    out.push(b'Z');
}

/// `2021-03-03 06:49:42` (IIS W3C `date time`).
pub fn push_w3c(out: &mut Vec<u8>, t: i64) {
    push_date_time(out, t, b' ');
}

/// `YYYY-MM-DD<sep>hh:mm:ss`; returns the civil time for what follows.
fn push_date_time(out: &mut Vec<u8>, t: i64, sep: u8) -> Civil {
    let c = civil(t);
    push_num(out, c.year as u64, 4);
    out.push(b'-');
    push_num(out, u64::from(c.month), 2);
    out.push(b'-');
    push_num(out, u64::from(c.day), 2);
    out.push(sep);
    push_num(out, u64::from(c.hour), 2);
    out.push(b':');
    push_num(out, u64::from(c.minute), 2);
    out.push(b':');
    push_num(out, u64::from(c.second), 2);
    c
}

/// `2021-03-03T06:00:00Z` (truth file, RFC 3339 UTC, whole seconds).
pub fn rfc3339(t: i64) -> String {
    let c = civil(t);
    let mut s = format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second);
    if c.milli != 0 {
        s.push_str(&format!(".{:03}", c.milli));
    }
    s.push('Z');
    s
}

/// `yyyyMMddHH` (HttpProxy file names).
pub fn stamp_hour(t: i64) -> String {
    let c = civil(t);
    format!("{:04}{:02}{:02}{:02}", c.year, c.month, c.day, c.hour)
}

/// `yyyyMMdd` (ECP server and OAB generator file names).
pub fn stamp_day(t: i64) -> String {
    let c = civil(t);
    format!("{:04}{:02}{:02}", c.year, c.month, c.day)
}

/// `yyMMdd` (IIS `u_ex` file names).
pub fn stamp_iis(t: i64) -> String {
    let c = civil(t);
    format!("{:02}{:02}{:02}", c.year % 100, c.month, c.day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_formats() {
        let t = ts(2021, 3, 3, 6, 49, 42) + 162;
        let mut v = Vec::new();
        push_iso_ms(&mut v, t);
        assert_eq!(v, b"2021-03-03T06:49:42.162Z");
        v.clear();
        push_w3c(&mut v, t);
        assert_eq!(v, b"2021-03-03 06:49:42");
        assert_eq!(rfc3339(ts(2021, 2, 20, 0, 0, 0)), "2021-02-20T00:00:00Z");
        assert_eq!(stamp_hour(t), "2021030306");
        assert_eq!(stamp_iis(t), "210303");
        // 2021-03-03 was a Wednesday; the epoch is 1970-01-01 00:00.
        assert_eq!(civil(t).weekday, 2);
        assert_eq!(ts(1970, 1, 1, 0, 0, 0), 0);
        assert_eq!(ts(2021, 3, 1, 0, 0, 0) - ts(2021, 2, 28, 0, 0, 0), DAY);
        for d in [0i64, 18_000, 18_700, 20_000] {
            let c = civil(d * DAY);
            assert_eq!(days_from_civil(c.year, c.month, c.day), d);
        }
    }

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        push_u64(&mut v, 0);
        v.push(b',');
        push_u64(&mut v, 18_446_744_073_709_551_615);
        assert_eq!(v, b"0,18446744073709551615");
    }
}
