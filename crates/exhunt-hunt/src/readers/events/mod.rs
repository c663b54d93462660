//! Windows event logs: `.evtx` files and JSON exports of them, read as [`exhunt_detect::Event`]s.
//!
//! | format ([`EventFormat`]) | read by | locator of an event |
//! |---|---|---|
//! | `.evtx` (magic `ElfFile\0`, whatever the name) | [`evtx`], through the `evtx` crate | `Record(EventRecordID)` |
//! | JSON, one event per line: Winlogbeat, NXLog, OTRF/Mordor, `evtx_dump` (plain or gzip'd) | [`json`] | `Line(n)` |
//!
//! Both give the field names of `exhunt_detect::event` ([`flatten`]). Each event goes to an [`EventSink`] with its
//! locator; [`EventStats`] keeps what the coverage report needs (records, skipped records, warnings, first and last
//! time, events per channel, computer names). Damage never stops a file early when more can be read: a chunk or a
//! record of an `.evtx` that cannot be read, a JSON line that is not an event, is counted in
//! [`EventStats::skipped`] and described in [`EventStats::warnings`], and reading goes on. What ends a file (not an
//! EVTX, an I/O error) is in [`EventStats::error`], with what was read before still counted.
//!
//! [`scan_events`] reads many files in parallel (rayon), one parser thread per file, results sorted by display path.

pub mod evtx;
pub mod flatten;
pub mod json;

use crate::error::HuntError;
use crate::evidence::{EvidenceFile, EvidenceSource, Handle};
use exhunt_detect::Event;
use exhunt_model::{ErrorRecord, Locator, Timestamp};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Warnings kept per file (the rest are only counted in [`EventStats::warnings_total`]).
pub const MAX_WARNINGS: usize = 16;
/// Distinct computer names kept per file.
pub const MAX_COMPUTERS: usize = 64;
/// Distinct channels counted per file (a hostile export could name millions); later ones go to `""`.
pub const MAX_CHANNELS: usize = 1024;

/// How an event log is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventFormat {
    /// A binary `.evtx` file.
    Evtx,
    /// JSON Lines: one event per line.
    Json,
}

impl EventFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventFormat::Evtx => "evtx",
            EventFormat::Json => "event-json",
        }
    }
}

/// An event log of the evidence and its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFile {
    pub file: EvidenceFile,
    pub format: EventFormat,
}

/// Receives the events of one file (push model).
pub trait EventSink {
    /// One event, with where it is in its file (`Record(EventRecordID)` in an `.evtx`, `Line(n)` in an export).
    fn event(&mut self, event: &Event, locator: Locator);
}

impl<F: FnMut(&Event, Locator)> EventSink for F {
    fn event(&mut self, event: &Event, locator: Locator) {
        self(event, locator)
    }
}

/// What reading one event log saw, for the coverage report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventStats {
    pub path: String,
    pub format: EventFormat,
    /// A gzip'd JSON export.
    pub gzip: bool,
    /// Events read and handed to the sink.
    pub records: u64,
    /// Records, chunks (EVTX) or lines (JSON) that could not be read as events.
    pub skipped: u64,
    /// JSON lines longer than the cap (also counted in `skipped`).
    pub cut: u64,
    /// Events without a time that is known to be UTC (see [`flatten`]).
    pub untimed: u64,
    /// The first [`MAX_WARNINGS`] warnings: damaged chunks and records, checksum failures, malformed lines.
    pub warnings: Vec<ErrorRecord>,
    /// Every warning, kept or not.
    pub warnings_total: u64,
    pub first_time: Option<Timestamp>,
    pub last_time: Option<Timestamp>,
    /// Events per `Channel` (`""` for events without one).
    pub channels: BTreeMap<String, u64>,
    /// Distinct `Computer` values, in order of first occurrence, at most [`MAX_COMPUTERS`].
    pub computers: Vec<String>,
    /// What stopped the file (not an EVTX, unreadable): what was read before counts.
    pub error: Option<ErrorRecord>,
}

impl EventStats {
    pub fn new(path: &str, format: EventFormat) -> EventStats {
        EventStats {
            path: path.to_string(),
            format,
            gzip: false,
            records: 0,
            skipped: 0,
            cut: 0,
            untimed: 0,
            warnings: Vec::new(),
            warnings_total: 0,
            first_time: None,
            last_time: None,
            channels: BTreeMap::new(),
            computers: Vec::new(),
            error: None,
        }
    }

    /// Counts an event and hands it to the sink.
    pub(crate) fn deliver<S: EventSink + ?Sized>(&mut self, event: &Event, locator: Locator, sink: &mut S) {
        self.records += 1;
        match event.time {
            Some(t) => {
                if self.first_time.is_none_or(|f| t < f) {
                    self.first_time = Some(t);
                }
                if self.last_time.is_none_or(|l| t > l) {
                    self.last_time = Some(t);
                }
            }
            None => self.untimed += 1,
        }
        let channel = event.channel();
        let full = self.channels.len() >= MAX_CHANNELS;
        match self.channels.get_mut(channel) {
            Some(n) => *n += 1,
            None if !full => {
                self.channels.insert(channel.to_string(), 1);
            }
            None => *self.channels.entry(String::new()).or_insert(0) += 1,
        }
        let computer = event.computer();
        if !computer.is_empty() && self.computers.len() < MAX_COMPUTERS && !self.computers.iter().any(|c| c == computer)
        {
            self.computers.push(computer.to_string());
        }
        sink.event(event, locator);
    }

    /// A warning about part of the file; `skipped` says whether it cost records.
    pub(crate) fn warn(&mut self, locator: Option<Locator>, message: String, skipped: bool) {
        if skipped {
            self.skipped += 1;
        }
        self.warnings_total += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(ErrorRecord {
                code: Some("H009".into()),
                message: format!("event log `{}`: {message}", self.path),
                path: Some(self.path.clone()),
                locator,
            });
        }
    }

    pub(crate) fn fail(&mut self, message: String) {
        self.error = Some(HuntError::Log { path: self.path.clone(), line: 0, message }.to_record());
    }
}

/// Options of the event readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventOptions {
    /// Longest JSON line read (longer ones are counted and skipped).
    pub max_line: usize,
    /// Largest `.evtx` spooled to a temporary file when its source cannot seek (a zip entry).
    pub max_spool: u64,
}

impl Default for EventOptions {
    fn default() -> Self {
        EventOptions { max_line: super::MAX_LINE, max_spool: evtx::MAX_SPOOL }
    }
}

/// Reads one event log of a source: an `.evtx` on disk is read in place (seeking from chunk to chunk), one in a
/// zip is spooled first ([`evtx::read`]); a JSON export is streamed ([`json::read`]). Never fails: problems are in
/// the stats.
pub fn read_event_file<S: EventSink + ?Sized>(
    source: &dyn EvidenceSource,
    file: &EventFile,
    opts: &EventOptions,
    sink: &mut S,
) -> EventStats {
    let shown = file.file.display.as_str();
    if let (EventFormat::Evtx, Handle::Host(path)) = (file.format, &file.file.handle) {
        return match std::fs::File::open(path) {
            Ok(f) => evtx::read_seekable(shown, f, sink),
            Err(e) => {
                let mut stats = EventStats::new(shown, file.format);
                stats.error = Some(HuntError::io(shown, e).to_record());
                stats
            }
        };
    }
    match source.open(&file.file) {
        Ok(r) => match file.format {
            EventFormat::Evtx => evtx::read(shown, r, opts, sink),
            EventFormat::Json => json::read(shown, r, opts, sink),
        },
        Err(e) => {
            let mut stats = EventStats::new(shown, file.format);
            stats.error = Some(e.to_record());
            stats
        }
    }
}

/// The result of reading one file in [`scan_events`].
#[derive(Debug)]
pub struct EventScan<S> {
    pub file: EventFile,
    pub stats: EventStats,
    /// The file's sink, after the last event.
    pub sink: S,
}

/// Reads event logs in parallel on the current rayon pool (one parser thread per file), one sink per file made by
/// `make_sink`. Results are sorted by display path (then Windows path), whatever the order of `files`.
pub fn scan_events<S, F>(
    source: &dyn EvidenceSource,
    mut files: Vec<EventFile>,
    opts: &EventOptions,
    make_sink: F,
) -> Vec<EventScan<S>>
where
    S: EventSink + Send,
    F: Fn(&EventFile) -> S + Sync,
{
    super::in_display_order(&mut files, |f| &f.file);
    files
        .into_par_iter()
        .map(|file| {
            let mut sink = make_sink(&file);
            let stats = read_event_file(source, &file, opts, &mut sink);
            EventScan { file, stats, sink }
        })
        .collect()
}
