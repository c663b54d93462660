//! IIS W3C extended logs.
//!
//! * `#Fields:` is read again at each occurrence: a file may hold several blocks with different fields (after a
//!   logging configuration change, or files concatenated). Records are split on single spaces (IIS writes spaces in
//!   values as `+`, and values are kept exactly as logged).
//! * A value `-` reads as empty through [`exhunt_detect::Fields`]; `_raw` keeps it.
//! * `date` and `time` give the record's time, in UTC as the W3C format always is; without a `date` field the date
//!   of the block's `#Date:` directive is used.
//! * A record is malformed when its field count differs from its header's, or its date/time does not parse, or a
//!   typed field holds a value of the wrong type (`s-ip`, `c-ip`: an IP address; `s-port`, `sc-status`,
//!   `sc-substatus`, `sc-win32-status`, `sc-bytes`, `cs-bytes`, `time-taken`: digits). Malformed records are counted
//!   and still delivered (see [`super::Record::malformed`] for which fields they keep).

use super::lines::Lines;
use super::time::{parse_w3c, w3c_directive_date};
use super::{FileStats, Header, LogKind, ReadOptions, Record, RecordSink};
use std::io::{self, Read};
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Ip,
    Number,
}

const CHECKS: &[(&str, Check)] = &[
    ("s-ip", Check::Ip),
    ("c-ip", Check::Ip),
    ("s-port", Check::Number),
    ("sc-status", Check::Number),
    ("sc-substatus", Check::Number),
    ("sc-win32-status", Check::Number),
    ("sc-bytes", Check::Number),
    ("cs-bytes", Check::Number),
    ("time-taken", Check::Number),
];

impl Check {
    fn ok(self, v: &str) -> bool {
        if v == "-" {
            return true;
        }
        match self {
            Check::Number => !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()),
            Check::Ip => {
                let v = v.split_once('%').map_or(v, |(ip, _zone)| ip);
                v.parse::<IpAddr>().is_ok()
            }
        }
    }
}

struct Block {
    header: Header,
    date: Option<usize>,
    time: Option<usize>,
    checks: Vec<(usize, Check)>,
}

impl Block {
    fn new(names: Vec<String>) -> Block {
        let header = Header::new(names);
        let checks = CHECKS.iter().filter_map(|(n, c)| header.index_of(n).map(|i| (i, *c))).collect();
        Block { date: header.index_of("date"), time: header.index_of("time"), checks, header }
    }
}

fn blank(b: &[u8]) -> bool {
    b.iter().all(|&c| c == 0 || c.is_ascii_whitespace())
}

fn directive<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    let head = text.get(..name.len())?;
    head.eq_ignore_ascii_case(name).then(|| &text[name.len()..])
}

/// Reads an IIS W3C log into `sink`, counting into `stats`.
pub(crate) fn read<S: RecordSink + ?Sized>(
    input: Box<dyn Read + '_>,
    opts: &ReadOptions,
    sink: &mut S,
    stats: &mut FileStats,
) -> io::Result<()> {
    let kind = LogKind::Iis;
    let path = stats.path.clone();
    let max = opts.max_line.max(1);
    let mut lines = Lines::new(input);
    let mut rec: Vec<u8> = Vec::with_capacity(1024);
    let mut lossy: String;
    let mut values: Vec<(u32, u32)> = Vec::with_capacity(32);
    let mut block: Option<Block> = None;
    let mut directive_date: Option<String> = None;
    let result = loop {
        rec.clear();
        let cut = match lines.next_into(&mut rec, max) {
            Ok(Some(c)) => c,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        stats.cut += u64::from(cut);
        let line = lines.line_no;
        if line == 1 && rec.starts_with(b"\xEF\xBB\xBF") {
            rec.drain(..3);
        }
        while rec.last() == Some(&b' ') {
            rec.pop();
        }
        if blank(&rec) {
            continue;
        }
        if rec[0] == b'#' {
            let text = String::from_utf8_lossy(&rec);
            if let Some(rest) = directive(&text, "#Fields:") {
                let names: Vec<String> = rest.split_ascii_whitespace().map(str::to_string).collect();
                if !names.is_empty() {
                    stats.see_header(&names, line);
                    block = Some(Block::new(names));
                }
            } else if let Some(rest) = directive(&text, "#Version:") {
                stats.see_version(rest);
            } else if let Some(rest) = directive(&text, "#Date:") {
                directive_date = w3c_directive_date(rest).map(str::to_string);
            }
            continue;
        }
        let text: &str = match std::str::from_utf8(&rec) {
            Ok(t) => t,
            Err(_) => {
                lossy = String::from_utf8_lossy(&rec).into_owned();
                &lossy
            }
        };
        stats.records += 1;
        values.clear();
        let mut start = 0usize;
        for i in memchr::memchr_iter(b' ', text.as_bytes()) {
            values.push((start as u32, i as u32));
            start = i + 1;
        }
        values.push((start as u32, text.len() as u32));
        let val = |i: usize| values.get(i).and_then(|(s, e)| text.get(*s as usize..*e as usize));

        let mut malformed = false;
        let mut usable = true;
        let mut time = None;
        match &block {
            Some(b) => {
                malformed = values.len() != b.header.len();
                usable = values.len() == b.header.len() || (cut && values.len() < b.header.len());
                let date = b.date.and_then(val).or(directive_date.as_deref());
                if let (Some(d), Some(t)) = (date, b.time.and_then(val)) {
                    time = parse_w3c(d, t);
                    match time {
                        Some(t) => stats.see_time(t),
                        None => malformed = true,
                    }
                }
                if !malformed {
                    malformed = b.checks.iter().any(|(i, c)| val(*i).is_some_and(|v| !c.ok(v)));
                }
            }
            None => stats.headerless += 1,
        }
        if malformed {
            stats.see_malformed(line);
        }
        if sink.want(kind, &rec) {
            stats.delivered += 1;
            if !usable {
                values.clear();
            }
            sink.record(&Record {
                kind,
                file: &path,
                line,
                raw: text,
                time,
                malformed,
                header: block.as_ref().map(|b| &b.header),
                values: &values,
                text,
                dash_is_empty: true,
            });
        }
    };
    stats.lines = lines.line_no;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_checks() {
        assert!(Check::Ip.ok("10.0.2.17"));
        assert!(Check::Ip.ok("2001:cdba:0000:0000:0000:0000:3257:9652"));
        assert!(Check::Ip.ok("fe80::1%12"));
        assert!(Check::Ip.ok("-"));
        assert!(!Check::Ip.ok("[10.100.220.70](http://10.100.220.70)"));
        assert!(Check::Number.ok("200"));
        assert!(!Check::Number.ok("20x"));
        assert!(!Check::Number.ok(""));
    }
}
