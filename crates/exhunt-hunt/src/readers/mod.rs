//! Streaming log readers: Exchange CSV logs and IIS W3C logs, plain or gzip'd.
//!
//! Each file is read once, line by line, with one set of buffers reused for every record. For each record the
//! reader first hands the raw bytes to [`RecordSink::want`] (where a caller runs its literal prefilter, such as
//! `exhunt_detect::LogRules::prefilter`) and only builds the named fields of the records the sink wants. Coverage
//! statistics ([`FileStats`]) are kept for every record, wanted or not: first and last time, lines, malformed and cut
//! lines, header versions, and for HttpProxy logs the Exchange builds that served requests.
//!
//! | source ([`LogKind::as_str`]) | format | fields |
//! |---|---|---|
//! | `httpproxy`, `ecp-server`, `ecp-activity`, `oab-generator`, `cmdlet-infra` | CSV ([`csv`]) | as the header names them (`#Fields:` or a first-line header) |
//! | `iis` | W3C ([`w3c`]) | as `#Fields:` names them, re-read at every `#Fields:` |
//!
//! Every record also has `_raw`: the record as read (a line; several lines for a CSV record with line breaks inside
//! quotes). Lines longer than [`ReadOptions::max_line`] are cut and counted, never a reason to stop. Compressed files
//! are recognised by their magic bytes, whatever their name: gzip is read, other archives are reported.
//!
//! [`scan`] reads many files in parallel (rayon) and returns their results sorted by display path; within a file,
//! records come in line order.

pub mod csv;
pub mod events;
mod lines;
pub mod time;
pub mod w3c;

use crate::error::HuntError;
use crate::evidence::{EvidenceFile, EvidenceSource};
use exhunt_detect::Fields;
use exhunt_model::winpath;
use exhunt_model::{Build, ErrorRecord, Evidence, Locator, Timestamp};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::Read;

/// Longest record kept (1 MiB); longer ones are cut and counted in [`FileStats::cut`].
pub const MAX_LINE: usize = 1 << 20;
/// Malformed line numbers kept per file as examples.
pub const MAX_MALFORMED_EXAMPLES: usize = 16;
/// Longest `excerpt` of an [`Evidence`] made by [`Record::evidence`], in bytes.
pub const MAX_EXCERPT: usize = 400;

/// A kind of log, named as the rules' `sources` name it (`exhunt_kb::rules::LOG_SOURCES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogKind {
    /// `Logging\HttpProxy\<protocol>\*.log`.
    HttpProxy,
    /// `Logging\ECP\Server\*.log`.
    EcpServer,
    /// `Logging\ECP\Activity\*.log`.
    EcpActivity,
    /// `Logging\OABGeneratorLog\**`.
    OabGenerator,
    /// `Logging\CmdletInfra\**`.
    CmdletInfra,
    /// `inetpub\logs\LogFiles\W3SVC<id>\*.log`.
    Iis,
}

/// How a kind of log is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Exchange's CSV logs.
    ExchangeCsv,
    /// IIS W3C extended logs.
    W3c,
}

impl LogKind {
    pub const ALL: [LogKind; 6] = [
        LogKind::HttpProxy,
        LogKind::EcpServer,
        LogKind::EcpActivity,
        LogKind::OabGenerator,
        LogKind::CmdletInfra,
        LogKind::Iis,
    ];

    /// The log source name rules use.
    pub fn as_str(&self) -> &'static str {
        match self {
            LogKind::HttpProxy => "httpproxy",
            LogKind::EcpServer => "ecp-server",
            LogKind::EcpActivity => "ecp-activity",
            LogKind::OabGenerator => "oab-generator",
            LogKind::CmdletInfra => "cmdlet-infra",
            LogKind::Iis => "iis",
        }
    }

    pub fn format(&self) -> LogFormat {
        match self {
            LogKind::Iis => LogFormat::W3c,
            _ => LogFormat::ExchangeCsv,
        }
    }

    /// The kind of log a file is, from the folder it is in (its name does not matter: rotated and gzip'd files
    /// count). `None` for files outside the known log folders.
    pub fn from_path(windows_path: &str) -> Option<LogKind> {
        let k = winpath::key(&winpath::normalize(windows_path));
        let comps: Vec<&str> = k.split('\\').collect();
        let dirs = &comps[..comps.len().saturating_sub(1)];
        if let Some(i) = dirs.iter().position(|c| *c == "logging") {
            match (dirs.get(i + 1).copied(), dirs.get(i + 2).copied()) {
                (Some("httpproxy"), _) => return Some(LogKind::HttpProxy),
                (Some("ecp"), Some("server")) => return Some(LogKind::EcpServer),
                (Some("ecp"), Some("activity")) => return Some(LogKind::EcpActivity),
                (Some("oabgeneratorlog"), _) => return Some(LogKind::OabGenerator),
                (Some("cmdletinfra"), _) => return Some(LogKind::CmdletInfra),
                _ => {}
            }
        }
        let w3svc = |c: &&str| c.len() > 5 && c.starts_with("w3svc") && c[5..].bytes().all(|b| b.is_ascii_digit());
        if dirs.iter().any(w3svc) || dirs.windows(3).any(|w| w == ["inetpub", "logs", "logfiles"]) {
            return Some(LogKind::Iis);
        }
        None
    }
}

impl std::fmt::Display for LogKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Options of the readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Longest record kept, in bytes; longer ones are cut.
    pub max_line: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { max_line: MAX_LINE }
    }
}

/// Field names of a header, with an index by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Header {
    pub fn new(names: Vec<String>) -> Header {
        let mut index = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            index.entry(n.clone()).or_insert(i);
        }
        Header { names, index }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Index of a field (exact name; the first when a name repeats).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}

/// One record of a log, borrowed from the reader's buffers for the time of a [`RecordSink::record`] call.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    pub kind: LogKind,
    /// The file's display path.
    pub file: &'a str,
    /// 1-based number of the line where the record starts.
    pub line: u64,
    /// The record as read (invalid UTF-8 replaced).
    pub raw: &'a str,
    /// When it happened, when the record has a time that parses.
    pub time: Option<Timestamp>,
    /// The record does not fit its header (see [`FileStats::malformed`]). Its fields are still available when their
    /// count is the header's (a bad time or IP address) or when the record was cut at the length cap (its leading
    /// fields are genuine); otherwise only `_raw` is, since values cannot be matched to names: a line of another
    /// layout under the wrong header would give wrong values.
    pub malformed: bool,
    pub(crate) header: Option<&'a Header>,
    pub(crate) values: &'a [(u32, u32)],
    pub(crate) text: &'a str,
    /// W3C: a value `-` reads as empty.
    pub(crate) dash_is_empty: bool,
}

impl<'a> Record<'a> {
    /// The header the record was read with (`None` before any header).
    pub fn header(&self) -> Option<&'a Header> {
        self.header
    }

    /// Fields in header order, as [`Fields::get`] returns them (without `_raw`).
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        let names = self.header.map(Header::names).unwrap_or(&[]);
        names.iter().zip(self.values.iter()).map(|(n, (s, e))| {
            let v = self.text.get(*s as usize..*e as usize).unwrap_or("");
            (n.as_str(), if self.dash_is_empty && v == "-" { "" } else { v })
        })
    }

    /// Evidence pointing at this record: the file's display path, the line, and the raw record (cut to
    /// [`MAX_EXCERPT`] bytes) as the excerpt.
    pub fn evidence(&self) -> Evidence {
        let mut end = self.raw.len().min(MAX_EXCERPT);
        while !self.raw.is_char_boundary(end) {
            end -= 1;
        }
        Evidence {
            path: self.file.to_string(),
            locator: Some(Locator::Line(self.line)),
            sha256: None,
            excerpt: Some(self.raw[..end].to_string()),
        }
    }
}

impl Fields for Record<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        if name == "_raw" {
            return Some(self.raw);
        }
        let i = self.header?.index_of(name)?;
        let (s, e) = *self.values.get(i)?;
        let v = self.text.get(s as usize..e as usize)?;
        Some(if self.dash_is_empty && v == "-" { "" } else { v })
    }
}

/// Receives the records of one file (push model).
pub trait RecordSink {
    /// Called with each record's raw bytes before its fields are split: return `false` to skip it cheaply (e.g.
    /// when `LogRules::prefilter` finds no candidate rule). A sink may keep what it computed here for the
    /// [`record`](Self::record) call that follows for the same record.
    fn want(&mut self, kind: LogKind, raw: &[u8]) -> bool {
        let _ = (kind, raw);
        true
    }

    /// A record the sink wanted.
    fn record(&mut self, record: &Record<'_>);
}

impl<F: FnMut(&Record<'_>)> RecordSink for F {
    fn record(&mut self, record: &Record<'_>) {
        self(record)
    }
}

/// A header version seen in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderSeen {
    pub fields: Vec<String>,
    /// Line of its first occurrence.
    pub first_line: u64,
    /// How many times it was (re)declared.
    pub blocks: u64,
}

/// An Exchange build seen in the version columns of an HttpProxy log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildSeen {
    pub build: Build,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub records: u64,
}

/// What reading one file saw, for the coverage report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStats {
    pub path: String,
    pub kind: LogKind,
    /// The file was gzip'd.
    pub gzip: bool,
    /// Earliest record time.
    pub first_time: Option<Timestamp>,
    /// Latest record time.
    pub last_time: Option<Timestamp>,
    /// Physical lines read.
    pub lines: u64,
    /// Data records (not counting headers, `#` lines and blank lines).
    pub records: u64,
    /// Records handed to the sink (those its `want` accepted).
    pub delivered: u64,
    /// Records that do not fit their header: a field count other than the header's, a time that does not parse, or
    /// (W3C) a value of the wrong type in a typed field (`c-ip`, `sc-status`, …).
    pub malformed: u64,
    /// Line numbers of the first [`MAX_MALFORMED_EXAMPLES`] malformed records.
    pub malformed_lines: Vec<u64>,
    /// Records read before any header: their fields have no names, only `_raw` is available.
    pub headerless: u64,
    /// Records longer than the cap, cut.
    pub cut: u64,
    /// Header declarations (`#Fields:` lines, first-line CSV headers).
    pub blocks: u64,
    /// Distinct headers, in order of first occurrence.
    pub headers: Vec<HeaderSeen>,
    /// Distinct `#Version:` values (for Exchange logs: the build that wrote the log).
    pub versions: Vec<String>,
    /// HttpProxy: the builds in `MajorVersion, MinorVersion, BuildVersion, RevisionVersion`, by first time seen.
    pub builds: Vec<BuildSeen>,
    /// The file could not be read to its end: what was read before counts.
    pub error: Option<ErrorRecord>,
}

impl FileStats {
    pub fn new(path: &str, kind: LogKind) -> FileStats {
        FileStats {
            path: path.to_string(),
            kind,
            gzip: false,
            first_time: None,
            last_time: None,
            lines: 0,
            records: 0,
            delivered: 0,
            malformed: 0,
            malformed_lines: Vec::new(),
            headerless: 0,
            cut: 0,
            blocks: 0,
            headers: Vec::new(),
            versions: Vec::new(),
            builds: Vec::new(),
            error: None,
        }
    }

    pub(crate) fn see_time(&mut self, t: Timestamp) {
        if self.first_time.is_none_or(|f| t < f) {
            self.first_time = Some(t);
        }
        if self.last_time.is_none_or(|l| t > l) {
            self.last_time = Some(t);
        }
    }

    pub(crate) fn see_malformed(&mut self, line: u64) {
        self.malformed += 1;
        if self.malformed_lines.len() < MAX_MALFORMED_EXAMPLES {
            self.malformed_lines.push(line);
        }
    }

    pub(crate) fn see_header(&mut self, fields: &[String], line: u64) {
        self.blocks += 1;
        match self.headers.iter_mut().find(|h| h.fields == fields) {
            Some(h) => h.blocks += 1,
            None => self.headers.push(HeaderSeen { fields: fields.to_vec(), first_line: line, blocks: 1 }),
        }
    }

    pub(crate) fn see_version(&mut self, v: &str) {
        let v = v.trim();
        if !v.is_empty() && !self.versions.iter().any(|x| x == v) {
            self.versions.push(v.to_string());
        }
    }

    pub(crate) fn see_build(&mut self, build: Build, time: Option<Timestamp>) {
        let b = match self.builds.iter_mut().find(|b| b.build == build) {
            Some(b) => b,
            None => {
                self.builds.push(BuildSeen { build, first: None, last: None, records: 0 });
                let last = self.builds.len() - 1;
                &mut self.builds[last]
            }
        };
        b.records += 1;
        if let Some(t) = time {
            if b.first.is_none_or(|f| t < f) {
                b.first = Some(t);
            }
            if b.last.is_none_or(|l| t > l) {
                b.last = Some(t);
            }
        }
    }

    fn fail(&mut self, message: String) {
        self.error = Some(HuntError::Log { path: self.path.clone(), line: self.lines, message }.to_record());
    }
}

/// Reads one log file: detects gzip by its magic bytes, then reads it in the format of `kind`. Never fails: a read
/// error ends the file and is kept in [`FileStats::error`].
pub fn read_log<R: Read, S: RecordSink + ?Sized>(
    kind: LogKind,
    path: &str,
    input: R,
    opts: &ReadOptions,
    sink: &mut S,
) -> FileStats {
    let mut stats = FileStats::new(path, kind);
    let mut input = input;
    let mut magic = [0u8; 6];
    let n = match crate::evidence::read_up_to(&mut input, &mut magic) {
        Ok(n) => n,
        Err(e) => {
            stats.fail(e.to_string());
            return stats;
        }
    };
    let magic = &magic[..n];
    let joined = std::io::Cursor::new(magic.to_vec()).chain(input);
    let decoded: Box<dyn Read + '_> = if magic.starts_with(&[0x1f, 0x8b]) {
        stats.gzip = true;
        Box::new(flate2::read::MultiGzDecoder::new(joined))
    } else if let Some(what) = archive_magic(magic) {
        stats.fail(format!("the file is a {what} archive, not a log; extract it and hunt the extracted files"));
        return stats;
    } else {
        Box::new(joined)
    };
    let result = match kind.format() {
        LogFormat::ExchangeCsv => csv::read(kind, decoded, opts, sink, &mut stats),
        LogFormat::W3c => w3c::read(decoded, opts, sink, &mut stats),
    };
    if let Err(e) = result {
        stats.fail(e.to_string());
    }
    stats
}

fn archive_magic(m: &[u8]) -> Option<&'static str> {
    if m.starts_with(b"PK\x03\x04") {
        Some("zip")
    } else if m.starts_with(b"7z\xbc\xaf\x27\x1c") {
        Some("7-Zip")
    } else if m.starts_with(b"Rar!") {
        Some("RAR")
    } else if m.starts_with(b"BZh") {
        Some("bzip2")
    } else if m.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz")
    } else if m.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd")
    } else {
        None
    }
}

/// A log file of the evidence and its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFile {
    pub file: EvidenceFile,
    pub kind: LogKind,
}

/// Sorts files to read by display path, then Windows path: every reader's results come in this order, whatever the
/// order of discovery and of completion.
pub(crate) fn in_display_order<T>(files: &mut [T], file: impl Fn(&T) -> &EvidenceFile) {
    files.sort_by(|a, b| {
        let (a, b) = (file(a), file(b));
        (&a.display, &a.windows_path).cmp(&(&b.display, &b.windows_path))
    });
}

/// The result of reading one file in [`scan`].
#[derive(Debug)]
pub struct FileScan<S> {
    pub file: LogFile,
    pub stats: FileStats,
    /// The file's sink, after the last record.
    pub sink: S,
}

/// Reads files in parallel on the current rayon pool, one sink per file made by `make_sink`. Results are sorted
/// by display path (then Windows path), whatever the order of `files` and of completion; a file that cannot be
/// opened has its error in [`FileStats::error`].
pub fn scan<S, F>(
    source: &dyn EvidenceSource,
    mut files: Vec<LogFile>,
    opts: &ReadOptions,
    make_sink: F,
) -> Vec<FileScan<S>>
where
    S: RecordSink + Send,
    F: Fn(&LogFile) -> S + Sync,
{
    in_display_order(&mut files, |f| &f.file);
    files
        .into_par_iter()
        .map(|file| {
            let mut sink = make_sink(&file);
            let stats = match source.open(&file.file) {
                Ok(r) => read_log(file.kind, &file.file.display, r, opts, &mut sink),
                Err(e) => {
                    let mut s = FileStats::new(&file.file.display, file.kind);
                    s.error = Some(e.to_record());
                    s
                }
            };
            FileScan { file, stats, sink }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_folders() {
        let x = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Logging";
        assert_eq!(
            LogKind::from_path(&format!("{x}\\HttpProxy\\Ecp\\HttpProxy_2021030701-1.LOG")),
            Some(LogKind::HttpProxy)
        );
        assert_eq!(
            LogKind::from_path(&format!("{x}\\ECP\\Server\\ECPServer2021030701-1.LOG")),
            Some(LogKind::EcpServer)
        );
        assert_eq!(LogKind::from_path(&format!("{x}\\ECP\\Activity\\ECPActivity_1.LOG")), Some(LogKind::EcpActivity));
        assert_eq!(LogKind::from_path(&format!("{x}\\OABGeneratorLog\\OABGen.log.gz")), Some(LogKind::OabGenerator));
        assert_eq!(LogKind::from_path(&format!("{x}\\CmdletInfra\\Rps_Http\\x.log")), Some(LogKind::CmdletInfra));
        assert_eq!(LogKind::from_path("C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex210303.log"), Some(LogKind::Iis));
        assert_eq!(LogKind::from_path("D:\\IISLogs\\W3SVC2\\u_ex210303.log.1"), Some(LogKind::Iis));
        assert_eq!(LogKind::from_path("C:\\inetpub\\wwwroot\\aspnet_client\\x.aspx"), None);
        assert_eq!(LogKind::from_path(&format!("{x}\\HttpProxy")), None, "a folder name alone is not a log");
    }
}
