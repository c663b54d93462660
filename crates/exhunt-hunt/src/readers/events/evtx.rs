//! `.evtx` files through the `evtx` crate, chunk by chunk, one thread per file.
//!
//! A file is read where it is: the parser seeks from chunk to chunk (64 KiB each) and holds one chunk at a time.
//! A zip entry cannot seek, so [`read`] first copies it to a temporary file (at most [`EventOptions::max_spool`]
//! bytes, deleted when the file is read); a larger entry is an error that says to extract it.
//!
//! Damage is counted and read past: a file header that fails its CRC32 and a chunk that fails its CRC32 (or says it
//! has none) are warnings and their records are still read; a chunk that cannot be parsed (bad magic, truncated) or
//! a record that cannot be rendered is a warning and counts in [`EventStats::skipped`].
//!
//! # Record to fields
//!
//! Each record is rendered by the `evtx` crate as compact JSON bytes, parsed with `serde_json` and mapped by
//! [`flatten::from_evtx_json`], the function that also reads `evtx_dump` exports. Measured on
//! `omerbenamram_security.evtx` (2,261 records, 20 passes, release build, one thread, on a shared 2-core machine):
//! `into_json_value` (the crate's own `Value`, through a `String`) ≈ 46,000 records/s; JSON bytes +
//! `serde_json::from_slice` ≈ 54,000 records/s (kept: it skips a UTF-8 check and a copy); XML bytes tokenized by
//! `quick-xml` without building fields ≈ 75,000 records/s; the renderers alone ≈ 214,000 (JSON) and
//! 182,000 (XML) records/s. A direct XML-to-fields mapping could gain up to ~1.4x, at the price of a second
//! implementation of the field contract; building a `Value` is what costs, not the rendering.

use super::flatten;
use super::{EventOptions, EventSink, EventStats};
use crate::evidence::read_up_to;
use ::evtx::{ChunkFlags, EvtxParser, ParserSettings};
use exhunt_detect::Fields;
use exhunt_detect::event::field;
use exhunt_model::{Locator, Timestamp};
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;

/// The magic bytes an `.evtx` file starts with.
pub const MAGIC: &[u8; 8] = b"ElfFile\0";
/// Largest `.evtx` spooled from a source that cannot seek (Windows caps a log at 4 GiB less 64 KiB).
pub const MAX_SPOOL: u64 = 4 << 30;
/// The file header block, before the first chunk.
const HEADER_SIZE: u64 = 4096;
/// Every chunk's size.
const CHUNK_SIZE: u64 = 65536;

fn settings() -> ParserSettings {
    ParserSettings::new().num_threads(1).indent(false).validate_checksums(false)
}

/// Reads an `.evtx` from a reader that cannot seek: spools it to a temporary file (capped), then reads that.
pub fn read<R: Read, S: EventSink + ?Sized>(path: &str, input: R, opts: &EventOptions, sink: &mut S) -> EventStats {
    let mut stats = EventStats::new(path, super::EventFormat::Evtx);
    let mut input = input;
    let mut magic = [0u8; 8];
    match read_up_to(&mut input, &mut magic) {
        Ok(n) if n == 8 && &magic == MAGIC => {}
        Ok(_) => {
            stats.fail("not an EVTX file (no `ElfFile` magic)".into());
            return stats;
        }
        Err(e) => {
            stats.fail(e.to_string());
            return stats;
        }
    }
    let mut spool = match tempfile::tempfile() {
        Ok(f) => f,
        Err(e) => {
            stats.fail(format!("cannot create a temporary file to read it from: {e}"));
            return stats;
        }
    };
    let copied = spool
        .write_all(&magic)
        .and_then(|()| std::io::copy(&mut input.take(opts.max_spool.saturating_sub(8) + 1), &mut spool))
        .and_then(|n| spool.rewind().map(|()| n + 8));
    match copied {
        Ok(n) if n > opts.max_spool => {
            stats.fail(format!(
                "larger than {} bytes, the most read from an archive; extract it and hunt the folder",
                opts.max_spool
            ));
            stats
        }
        Ok(_) => read_into(spool, sink, stats),
        Err(e) => {
            stats.fail(e.to_string());
            stats
        }
    }
}

/// Reads an `.evtx` from a seekable reader (a file on disk), chunk by chunk.
pub fn read_seekable<R: Read + Seek, S: EventSink + ?Sized>(path: &str, input: R, sink: &mut S) -> EventStats {
    read_into(input, sink, EventStats::new(path, super::EventFormat::Evtx))
}

fn read_into<R: Read + Seek, S: EventSink + ?Sized>(input: R, sink: &mut S, mut stats: EventStats) -> EventStats {
    let mut input = input;
    let mut magic = [0u8; 8];
    let ok = read_up_to(&mut input, &mut magic).map(|n| n == 8 && &magic == MAGIC).unwrap_or(false);
    if !ok {
        stats.fail("not an EVTX file (no `ElfFile` magic)".into());
        return stats;
    }
    let len = match input.seek(SeekFrom::End(0)).and_then(|len| input.rewind().map(|()| len)) {
        Ok(len) => len,
        Err(e) => {
            stats.fail(e.to_string());
            return stats;
        }
    };
    let mut parser = match EvtxParser::from_read_seek(input) {
        Ok(p) => p.with_configuration(settings()),
        Err(e) => {
            stats.fail(format!("not a readable EVTX file: {e}"));
            return stats;
        }
    };
    if !parser.header().validate_checksum() {
        stats.warn(
            Some(Locator::Offset(0)),
            "the file header fails its CRC32 check; chunks are read anyway".into(),
            false,
        );
    }
    // The parser reads whole chunks only and stops quietly at a partial one: say so (a copy cut short).
    let partial = len.saturating_sub(HEADER_SIZE) % CHUNK_SIZE;
    if len > HEADER_SIZE && partial != 0 {
        let at = len - partial;
        let message = format!("the file ends {partial} bytes into a chunk at offset {at}; that chunk is skipped");
        stats.warn(Some(Locator::Offset(at)), message, true);
    }
    let shared = Arc::new(settings());
    for (i, chunk) in parser.chunks().enumerate() {
        let mut data = match chunk {
            Ok(d) => d,
            Err(e) => {
                stats.warn(None, format!("{e}; its records are skipped"), true);
                continue;
            }
        };
        let number = data.number.unwrap_or(i as u64);
        let offset = Some(Locator::Offset(HEADER_SIZE + number * CHUNK_SIZE));
        if data.header.flags.contains(ChunkFlags::NO_CRC32) {
            stats.warn(offset, format!("chunk {number} has no CRC32 (flag set); its records cannot be checked"), false);
        } else if !data.validate_checksum() {
            stats.warn(offset, format!("chunk {number} fails its CRC32 check; its records are read anyway"), false);
        }
        let mut chunk = match data.parse(Arc::clone(&shared)) {
            Ok(c) => c,
            Err(e) => {
                stats.warn(offset, format!("chunk {number} cannot be parsed: {e}; its records are skipped"), true);
                continue;
            }
        };
        for record in chunk.iter() {
            let rendered = record.and_then(|r| r.into_json_bytes());
            let rec = match rendered {
                Ok(r) => r,
                Err(e) => {
                    stats.warn(offset, format!("chunk {number}: {e}; the record is skipped"), true);
                    continue;
                }
            };
            let value: serde_json::Value = match serde_json::from_slice(&rec.data) {
                Ok(v) => v,
                Err(e) => {
                    let at = Some(Locator::Record(rec.event_record_id));
                    stats.warn(at, format!("record {} renders as bad JSON: {e}", rec.event_record_id), true);
                    continue;
                }
            };
            let mut event = flatten::from_evtx_json(&value);
            if event.time.is_none() {
                event.time = header_time(&rec.timestamp);
            }
            // `System/EventRecordID`, as Event Viewer shows it; a forwarded event keeps its source's id there, so
            // the record header's id (the position in this file) is only the fallback.
            let id = event.get(field::RECORD_ID).and_then(|v| v.parse().ok()).unwrap_or(rec.event_record_id);
            stats.deliver(&event, Locator::Record(id), sink);
        }
    }
    stats
}

/// The record header's time, for a record whose `TimeCreated` is missing or bad.
fn header_time(t: &::evtx::Timestamp) -> Option<Timestamp> {
    time::OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond()).ok().map(Timestamp::new)
}
