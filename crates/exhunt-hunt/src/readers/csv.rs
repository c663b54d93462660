//! Exchange's CSV logs (HttpProxy, ECP server and activity, OAB generator, CmdletInfra).
//!
//! * The header comes from a `#Fields: a,b,c` line or from a plain CSV header line (as `Import-Csv` reads these
//!   files); whichever comes last applies. A header may change part-way through a file (a CU changed the schema and
//!   the log was appended to): fields are always looked up by name, never by position.
//! * Other `#` lines are metadata (`#Software`, `#Version`, `#Log-type`, `#Date`); `#Version:` values are kept in
//!   [`FileStats::versions`].
//! * RFC 4180 quoting: a field that starts with `"` runs to the next lone `"`, `""` inside it is one `"`, and commas
//!   and line breaks inside it are data (a record can span lines; its line number is that of its first line). A `"`
//!   elsewhere in a field is taken literally. A record is cut at the length cap even inside quotes.
//! * Times are parsed explicitly as UTC ISO 8601 ([`super::time::parse_iso_utc`]), from the first column named
//!   `DateTime`, `TimeStamp`, `date-time` or `Time` (any case).
//! * HttpProxy's `MajorVersion, MinorVersion, BuildVersion, RevisionVersion` give the builds that served requests.

use super::lines::Lines;
use super::time::parse_iso_utc;
use super::{FileStats, Header, LogKind, ReadOptions, Record, RecordSink};
use exhunt_model::Build;
use std::borrow::Cow;
use std::io::{self, Read};

/// Names of time columns, compared ignoring case; the first column with one of them is the record's time.
const TIME_COLUMNS: &[&str] = &["DateTime", "TimeStamp", "date-time", "Time"];
/// HttpProxy's build columns.
const BUILD_COLUMNS: [&str; 4] = ["MajorVersion", "MinorVersion", "BuildVersion", "RevisionVersion"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// A field's raw span in the record and whether it starts with a quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
    quoted: bool,
}

/// Splits a record into fields; resumable, so that a record continued on the next line is not scanned again.
#[derive(Debug)]
struct Splitter {
    fields: Vec<Span>,
    state: State,
    field_start: usize,
    pos: usize,
    quoted: bool,
}

impl Splitter {
    fn new() -> Self {
        Splitter { fields: Vec::with_capacity(96), state: State::FieldStart, field_start: 0, pos: 0, quoted: false }
    }

    fn reset(&mut self) {
        self.fields.clear();
        self.state = State::FieldStart;
        self.field_start = 0;
        self.pos = 0;
        self.quoted = false;
    }

    fn push(&mut self, end: usize) {
        // Records are capped far below 4 GiB, so the offsets fit.
        self.fields.push(Span { start: self.field_start as u32, end: end as u32, quoted: self.quoted });
    }

    /// Scans `b` from where the last call stopped.
    fn feed(&mut self, b: &[u8]) {
        if self.pos == 0 && self.state == State::FieldStart && memchr::memchr(b'"', b).is_none() {
            // The common case: no quote anywhere, so every comma ends a field.
            for i in memchr::memchr_iter(b',', b) {
                self.push(i);
                self.field_start = i + 1;
            }
            self.state = State::Unquoted;
            self.pos = b.len();
            return;
        }
        let mut i = self.pos;
        while i < b.len() {
            match self.state {
                State::FieldStart => {
                    if b[i] == b'"' {
                        self.quoted = true;
                        self.state = State::Quoted;
                        i += 1;
                    } else {
                        self.state = State::Unquoted;
                    }
                }
                State::Unquoted => match memchr::memchr(b',', &b[i..]) {
                    Some(k) => {
                        self.push(i + k);
                        i += k + 1;
                        self.field_start = i;
                        self.quoted = false;
                        self.state = State::FieldStart;
                    }
                    None => i = b.len(),
                },
                State::Quoted => match memchr::memchr(b'"', &b[i..]) {
                    Some(k) => {
                        i += k + 1;
                        self.state = State::QuoteInQuoted;
                    }
                    None => i = b.len(),
                },
                State::QuoteInQuoted => match b[i] {
                    b'"' => {
                        self.state = State::Quoted;
                        i += 1;
                    }
                    b',' => {
                        self.push(i);
                        i += 1;
                        self.field_start = i;
                        self.quoted = false;
                        self.state = State::FieldStart;
                    }
                    _ => self.state = State::Unquoted,
                },
            }
        }
        self.pos = b.len();
    }

    fn in_quotes(&self) -> bool {
        self.state == State::Quoted
    }

    /// Closes the last field.
    fn finish(&mut self, b: &[u8]) {
        self.push(b.len());
    }
}

/// The value of a quoted field whose only quotes are the outer pair, without copying.
fn simple_quoted(text: &str, f: Span) -> Option<&str> {
    let raw = text.get(f.start as usize..f.end as usize)?;
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('"')).then_some(inner)
}

/// A field's value: quotes removed, `""` read as `"`.
fn value(text: &str, f: Span) -> Cow<'_, str> {
    let raw = text.get(f.start as usize..f.end as usize).unwrap_or("");
    if !f.quoted {
        return Cow::Borrowed(raw);
    }
    if let Some(v) = simple_quoted(text, f) {
        return Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(raw.len());
    let mut in_quotes = false;
    let mut chars = raw.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        if first {
            first = false;
            if c == '"' {
                in_quotes = true;
                continue;
            }
        }
        if c == '"' && in_quotes {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                in_quotes = false;
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A plain CSV header line: at least two fields, each a name (a letter, then letters, digits, `_-.()`).
fn looks_like_header(text: &str, fields: &[Span]) -> bool {
    fields.len() >= 2
        && fields.iter().all(|f| {
            let Some(v) = text.get(f.start as usize..f.end as usize) else { return false };
            !f.quoted
                && v.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.()".contains(&b))
        })
}

#[derive(Debug, Default)]
struct Columns {
    time: Option<usize>,
    build: Option<[usize; 4]>,
}

impl Columns {
    fn of(h: &Header, kind: LogKind) -> Columns {
        let time = h.names().iter().position(|n| TIME_COLUMNS.iter().any(|t| t.eq_ignore_ascii_case(n)));
        let build = if kind == LogKind::HttpProxy {
            match BUILD_COLUMNS.map(|c| h.index_of(c)) {
                [Some(a), Some(b), Some(c), Some(d)] => Some([a, b, c, d]),
                _ => None,
            }
        } else {
            None
        };
        Columns { time, build }
    }
}

fn blank(b: &[u8]) -> bool {
    b.iter().all(|&c| c == 0 || c.is_ascii_whitespace())
}

/// Reads an Exchange CSV log into `sink`, counting into `stats`.
pub(crate) fn read<S: RecordSink + ?Sized>(
    kind: LogKind,
    input: Box<dyn Read + '_>,
    opts: &ReadOptions,
    sink: &mut S,
    stats: &mut FileStats,
) -> io::Result<()> {
    let path = stats.path.clone();
    let max = opts.max_line.max(1);
    let mut lines = Lines::new(input);
    let mut rec: Vec<u8> = Vec::with_capacity(4096);
    let mut lossy: String;
    let mut scratch = String::new();
    let mut values: Vec<(u32, u32)> = Vec::with_capacity(96);
    let mut sp = Splitter::new();
    let mut header: Option<Header> = None;
    let mut cols = Columns::default();
    let result = loop {
        rec.clear();
        let mut cut = match lines.next_into(&mut rec, max) {
            Ok(Some(c)) => c,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let line = lines.line_no;
        if line == 1 && rec.starts_with(b"\xEF\xBB\xBF") {
            rec.drain(..3);
        }
        if blank(&rec) {
            stats.cut += u64::from(cut);
            continue;
        }
        if rec[0] == b'#' {
            stats.cut += u64::from(cut);
            let text = String::from_utf8_lossy(&rec);
            if let Some(rest) = strip_directive(&text, "#Fields:") {
                let names: Vec<String> =
                    rest.split(',').map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
                if !names.is_empty() {
                    stats.see_header(&names, line);
                    let h = Header::new(names);
                    cols = Columns::of(&h, kind);
                    header = Some(h);
                }
            } else if let Some(rest) = strip_directive(&text, "#Version:") {
                stats.see_version(rest);
            }
            continue;
        }
        sp.reset();
        sp.feed(&rec);
        let mut io_err = None;
        while sp.in_quotes() && !cut && rec.len() < max {
            rec.push(b'\n');
            match lines.next_into(&mut rec, max) {
                Ok(Some(c)) => cut |= c,
                Ok(None) => break,
                Err(e) => {
                    io_err = Some(e);
                    break;
                }
            }
            sp.feed(&rec);
        }
        sp.finish(&rec);
        stats.cut += u64::from(cut);
        let text: &str = match std::str::from_utf8(&rec) {
            Ok(t) => t,
            Err(_) => {
                lossy = String::from_utf8_lossy(&rec).into_owned();
                sp.reset();
                sp.feed(lossy.as_bytes());
                sp.finish(lossy.as_bytes());
                &lossy
            }
        };

        let is_header = match &header {
            None => true,
            Some(h) => sp.fields.first().is_some_and(|f| {
                !f.quoted && h.names().first().map(String::as_str) == text.get(f.start as usize..f.end as usize)
            }),
        } && looks_like_header(text, &sp.fields);
        if is_header {
            let names: Vec<String> = sp.fields.iter().map(|f| value(text, *f).into_owned()).collect();
            stats.see_header(&names, line);
            let h = Header::new(names);
            cols = Columns::of(&h, kind);
            header = Some(h);
        } else {
            stats.records += 1;
            let mut malformed = false;
            let mut usable = true;
            let mut time = None;
            if let Some(h) = &header {
                let n = sp.fields.len();
                malformed = n != h.len();
                usable = n == h.len() || (cut && n < h.len());
                if let Some(f) = cols.time.and_then(|i| sp.fields.get(i)) {
                    let v = value(text, *f);
                    time = parse_iso_utc(&v);
                    match time {
                        Some(t) => stats.see_time(t),
                        None => malformed |= !v.is_empty(),
                    }
                }
                if let Some(idx) = cols.build
                    && usable
                    && let Some(b) = build_of(text, &sp.fields, idx)
                {
                    stats.see_build(b, time);
                }
            } else {
                stats.headerless += 1;
            }
            if malformed {
                stats.see_malformed(line);
            }
            if sink.want(kind, &rec) {
                stats.delivered += 1;
                values.clear();
                scratch.clear();
                let complex = sp.fields.iter().any(|f| f.quoted && simple_quoted(text, *f).is_none());
                let vtext: &str = if complex {
                    for f in &sp.fields {
                        let s = scratch.len() as u32;
                        scratch.push_str(&value(text, *f));
                        values.push((s, scratch.len() as u32));
                    }
                    &scratch
                } else {
                    for f in &sp.fields {
                        values.push(if f.quoted { (f.start + 1, f.end - 1) } else { (f.start, f.end) });
                    }
                    text
                };
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
                    header: header.as_ref(),
                    values: &values,
                    text: vtext,
                    dash_is_empty: false,
                });
            }
        }
        if let Some(e) = io_err {
            break Err(e);
        }
    };
    stats.lines = lines.line_no;
    result
}

/// The rest of a `#Name:` directive line (name compared ignoring case).
fn strip_directive<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    let head = text.get(..name.len())?;
    head.eq_ignore_ascii_case(name).then(|| &text[name.len()..])
}

fn build_of(text: &str, fields: &[Span], idx: [usize; 4]) -> Option<Build> {
    let part = |i: usize| -> Option<u32> { value(text, *fields.get(i)?).trim().parse().ok() };
    Some(Build::new(part(idx[0])?, part(idx[1])?, part(idx[2])?, part(idx[3])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        let mut sp = Splitter::new();
        sp.feed(s.as_bytes());
        sp.finish(s.as_bytes());
        sp.fields.iter().map(|f| value(s, *f).into_owned()).collect()
    }

    #[test]
    fn rfc4180_fields() {
        assert_eq!(split("a,b,,c,"), ["a", "b", "", "c", ""]);
        assert_eq!(split(r#""x,y","say ""hi""",z"#), ["x,y", r#"say "hi""#, "z"]);
        assert_eq!(split(r#"a"b,"c"d"#), [r#"a"b"#, "cd"], "a quote inside an unquoted field is literal");
        assert_eq!(split("\"multi\nline\",2"), ["multi\nline", "2"]);
        assert_eq!(split(""), [""]);
    }

    #[test]
    fn resumable_split_knows_when_quotes_are_open() {
        let mut sp = Splitter::new();
        let mut b = b"1,\"open".to_vec();
        sp.feed(&b);
        assert!(sp.in_quotes());
        b.extend_from_slice(b"\nclosed\",3");
        sp.feed(&b);
        assert!(!sp.in_quotes());
        sp.finish(&b);
        assert_eq!(sp.fields.len(), 3);
    }

    #[test]
    fn header_lines() {
        let t = "DateTime,RequestId,cs(User-Agent)";
        let mut sp = Splitter::new();
        sp.feed(t.as_bytes());
        sp.finish(t.as_bytes());
        assert!(looks_like_header(t, &sp.fields));
        let t = "2021-03-07T15:04:04.546Z,abc";
        sp.reset();
        sp.feed(t.as_bytes());
        sp.finish(t.as_bytes());
        assert!(!looks_like_header(t, &sp.fields));
    }
}
