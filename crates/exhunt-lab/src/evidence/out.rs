//! Streaming log writers: one per log folder, rotating files by hour or day (and by size), counting lines so that
//! planted records get exact line numbers. Nothing is buffered beyond a `BufWriter`.

use std::fs::{self, File, FileTimes};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::clock::{self, DAY, HOUR};
use super::world::Build;
use crate::LabError;

/// Exchange starts a new file of the same hour when one reaches its size limit.
const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// How a log family names and heads its files.
#[derive(Clone, Debug)]
pub enum Family {
    /// `HttpProxy_<yyyyMMddHH>-<n>.LOG` with Exchange CSV headers; `drop` lists columns this build does not log.
    HttpProxy { drop: u128 },
    /// `ECPServer<yyyyMMdd>-<n>.LOG`.
    EcpServer,
    /// `OABGeneratorLog_<yyyyMMdd>-<n>.LOG`.
    OabGenerator,
    /// `u_ex<yyMMdd>.log`, W3C extended format.
    Iis,
}

struct Open {
    bucket: i64,
    seq: u32,
    rel: String,
    path: PathBuf,
    w: BufWriter<File>,
    lines: u64,
    bytes: u64,
    last_t: i64,
}

/// One log folder being written.
pub struct Stream {
    family: Family,
    dir: PathBuf,
    rel_dir: String,
    cur: Option<Open>,
    pub files: u64,
    pub bytes: u64,
    pub lines: u64,
}

/// Where a written line landed.
pub struct Pos {
    pub rel: String,
    pub line: u64,
}

impl Stream {
    /// A stream writing under `root/rel_dir` (`rel_dir` uses `/`).
    pub fn new(root: &Path, rel_dir: &str, family: Family) -> Stream {
        let mut dir = root.to_path_buf();
        for part in rel_dir.split('/') {
            dir.push(part);
        }
        Stream { family, dir, rel_dir: rel_dir.to_string(), cur: None, files: 0, bytes: 0, lines: 0 }
    }

    fn bucket_of(&self, t: i64) -> i64 {
        match self.family {
            Family::HttpProxy { .. } => t.div_euclid(HOUR),
            _ => t.div_euclid(DAY),
        }
    }

    /// The file name for a bucket (named after the bucket's start, whatever record opens it).
    fn file_name(&self, bucket: i64, seq: u32) -> String {
        let t = match self.family {
            Family::HttpProxy { .. } => bucket * HOUR,
            _ => bucket * DAY,
        };
        match self.family {
            Family::HttpProxy { .. } => format!("HttpProxy_{}-{seq}.LOG", clock::stamp_hour(t)),
            Family::EcpServer => format!("ECPServer{}-{seq}.LOG", clock::stamp_day(t)),
            Family::OabGenerator => format!("OABGeneratorLog_{}-{seq}.LOG", clock::stamp_day(t)),
            Family::Iis => format!("u_ex{}.log", clock::stamp_iis(t)),
        }
    }

    fn header(&self, t: i64, build: Build, out: &mut Vec<u8>) -> u64 {
        let mut push = |s: &str| {
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(b"\r\n");
        };
        let mut date = Vec::new();
        match &self.family {
            Family::Iis => {
                clock::push_w3c(&mut date, t);
                push("#Software: Microsoft Internet Information Services 10.0");
                push("#Version: 1.0");
                push(&format!("#Date: {}", String::from_utf8_lossy(&date)));
                push(
                    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) \
                     cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
                );
            }
            fam => {
                clock::push_iso_ms(&mut date, t);
                let (log_type, fields) = match fam {
                    Family::HttpProxy { drop } => ("HttpProxy Logs", httpproxy_fields(*drop)),
                    Family::EcpServer => ("ECP Server Log", "TimeStamp,ServerName,EventId,EventData".to_string()),
                    _ => ("OABGenerator Log", "TimeStamp,Message".to_string()),
                };
                push("#Software: Microsoft Exchange Server");
                push(&format!("#Version: {}", build.long()));
                push(&format!("#Log-type: {log_type}"));
                push(&format!("#Date: {}", String::from_utf8_lossy(&date)));
                push(&format!("#Fields: {fields}"));
            }
        }
        if matches!(self.family, Family::Iis) { 4 } else { 5 }
    }

    /// Writes one record (without its line end) at time `t`; returns where it landed.
    pub fn write(&mut self, t: i64, build: Build, record: &[u8]) -> Result<Pos, LabError> {
        // Never back to an earlier file: a record a few milliseconds late joins the current one.
        let bucket = self.bucket_of(t).max(self.cur.as_ref().map_or(i64::MIN, |o| o.bucket));
        let need_new = match &self.cur {
            None => true,
            Some(o) => o.bucket != bucket || o.bytes + record.len() as u64 + 2 > MAX_FILE_BYTES,
        };
        if need_new {
            let seq = match &self.cur {
                Some(o) if o.bucket == bucket && !matches!(self.family, Family::Iis) => o.seq + 1,
                _ => 1,
            };
            self.close()?;
            self.open(t, bucket, seq, build)?;
        }
        let o = self.cur.as_mut().expect("invariant: open() leaves a file open");
        o.w.write_all(record).and_then(|()| o.w.write_all(b"\r\n")).map_err(|e| LabError::io(&o.path, e))?;
        o.lines += 1;
        o.bytes += record.len() as u64 + 2;
        o.last_t = t;
        self.lines += 1;
        self.bytes += record.len() as u64 + 2;
        Ok(Pos { rel: o.rel.clone(), line: o.lines })
    }

    fn open(&mut self, t: i64, bucket: i64, seq: u32, build: Build) -> Result<(), LabError> {
        fs::create_dir_all(&self.dir).map_err(|e| LabError::io(&self.dir, e))?;
        let name = self.file_name(bucket, seq);
        let path = self.dir.join(&name);
        let file = File::create(&path).map_err(|e| LabError::io(&path, e))?;
        let mut w = BufWriter::with_capacity(256 * 1024, file);
        let mut head = Vec::with_capacity(1024);
        let lines = self.header(t, build, &mut head);
        w.write_all(&head).map_err(|e| LabError::io(&path, e))?;
        self.files += 1;
        self.lines += lines;
        self.bytes += head.len() as u64;
        self.cur = Some(Open {
            bucket,
            seq,
            rel: format!("{}/{name}", self.rel_dir),
            path,
            w,
            lines,
            bytes: head.len() as u64,
            last_t: t,
        });
        Ok(())
    }

    /// Flushes and closes the current file, giving it the time of its last record as modification time.
    pub fn close(&mut self) -> Result<(), LabError> {
        if let Some(o) = self.cur.take() {
            let file = o.w.into_inner().map_err(|e| LabError::io(&o.path, e.into_error()))?;
            set_mtime(&file, o.last_t).map_err(|e| LabError::io(&o.path, e))?;
        }
        Ok(())
    }
}

/// Sets a file's modification time to `t` (ms since the epoch).
pub fn set_mtime(file: &File, t: i64) -> std::io::Result<()> {
    let when = SystemTime::UNIX_EPOCH + Duration::from_millis(t.max(0) as u64);
    file.set_times(FileTimes::new().set_modified(when).set_accessed(when))
}

/// The HttpProxy columns of Exchange 2016 CU19 and later, in order: the knowledge base's list.
pub use exhunt_kb::rules::HTTPPROXY_FIELDS;

/// Columns that Exchange 2013 CU23 does not log (the shared cache and route refresher arrived with 2016/2019 CUs).
/// An approximation: the lab needs the header to differ by build and to agree with the rows, which it does.
pub const COLUMNS_NOT_IN_2013: [&str; 5] = [
    "SharedCacheLatencyBreakup",
    "TotalSharedCacheLatency",
    "RouteRefresherLatency",
    "PartitionEndpointLookupLatency",
    "RoutingStatus",
];

/// The bit mask of dropped columns for a build.
pub fn drop_mask(build: Build) -> u128 {
    if !build.is_2013() {
        return 0;
    }
    let mut m = 0u128;
    for (i, f) in HTTPPROXY_FIELDS.iter().enumerate() {
        if COLUMNS_NOT_IN_2013.contains(f) {
            m |= 1 << i;
        }
    }
    m
}

fn httpproxy_fields(drop: u128) -> String {
    let kept: Vec<&str> =
        HTTPPROXY_FIELDS.iter().enumerate().filter(|(i, _)| drop & (1 << i) == 0).map(|(_, f)| *f).collect();
    kept.join(",")
}

/// Writes one CSV row field by field, quoting as RFC 4180 requires and skipping dropped columns.
pub struct CsvRow<'a> {
    pub buf: &'a mut Vec<u8>,
    idx: u32,
    written: u32,
    drop: u128,
}

impl<'a> CsvRow<'a> {
    pub fn new(buf: &'a mut Vec<u8>, drop: u128) -> CsvRow<'a> {
        CsvRow { buf, idx: 0, written: 0, drop }
    }

    fn begin(&mut self) -> bool {
        let keep = self.drop & (1u128 << self.idx) == 0;
        self.idx += 1;
        if keep {
            if self.written > 0 {
                self.buf.push(b',');
            }
            self.written += 1;
        }
        keep
    }

    pub fn s(&mut self, v: &str) -> &mut Self {
        if self.begin() {
            push_csv(self.buf, v);
        }
        self
    }

    pub fn n(&mut self, v: u64) -> &mut Self {
        if self.begin() {
            clock::push_u64(self.buf, v);
        }
        self
    }

    pub fn time(&mut self, t: i64) -> &mut Self {
        if self.begin() {
            clock::push_iso_ms(self.buf, t);
        }
        self
    }

    /// Columns written so far (dropped ones included).
    pub fn count(&self) -> u32 {
        self.idx
    }
}

/// Appends a CSV field, quoted when it holds a comma, a quote or a line break.
pub fn push_csv(out: &mut Vec<u8>, v: &str) {
    if v.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
        out.push(b'"');
        for b in v.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(v.as_bytes());
    }
}

/// Appends a W3C field: `-` when empty, spaces as `+` (IIS does this for user agents).
pub fn push_w3c_field(out: &mut Vec<u8>, v: &str) {
    if v.is_empty() {
        out.push(b'-');
        return;
    }
    for b in v.bytes() {
        out.push(if b == b' ' { b'+' } else { b });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        let mut v = Vec::new();
        push_csv(&mut v, "a,b");
        v.push(b'|');
        push_csv(&mut v, r#"say "hi""#);
        v.push(b'|');
        push_csv(&mut v, "plain");
        assert_eq!(String::from_utf8_lossy(&v), r#""a,b"|"say ""hi"""|plain"#);
    }

    #[test]
    fn header_drops_columns_for_2013() {
        let full = httpproxy_fields(0);
        assert!(full.starts_with("DateTime,RequestId,MajorVersion,"));
        assert!(full.ends_with(",PartitionEndpointLookupLatency,RoutingStatus"));
        let old = httpproxy_fields(drop_mask(Build::new(15, 0, 1497, 10)));
        assert!(!old.contains("RouteRefresherLatency") && !old.contains("SharedCache"));
        assert_eq!(old.split(',').count(), 74 - COLUMNS_NOT_IN_2013.len());
        assert_eq!(drop_mask(Build::new(15, 1, 2176, 2)), 0);
    }
}
