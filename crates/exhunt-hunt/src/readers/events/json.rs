//! JSON exports of Windows events, one event per line (Winlogbeat, NXLog, OTRF/Mordor, `evtx_dump -o jsonl`),
//! plain or gzip'd (recognised by the magic bytes, whatever the name).
//!
//! Lines are streamed with one reused buffer and capped at [`EventOptions::max_line`]: a longer line is skipped and
//! counted (in [`EventStats::cut`] and [`EventStats::skipped`]). A line that is not JSON (bad syntax, invalid UTF-8,
//! nesting deeper than `serde_json`'s limit of 128, a number out of range) or not an event (not an object, no event
//! id) is a warning with its line number and counts in [`EventStats::skipped`]. Blank lines are ignored.

use super::super::lines::Lines;
use super::flatten;
use super::{EventFormat, EventOptions, EventSink, EventStats};
use crate::evidence::read_up_to;
use exhunt_model::Locator;
use std::io::Read;

/// Reads a JSON export. Never fails: a read error ends the file and is kept in [`EventStats::error`].
pub fn read<R: Read, S: EventSink + ?Sized>(path: &str, input: R, opts: &EventOptions, sink: &mut S) -> EventStats {
    let mut stats = EventStats::new(path, EventFormat::Json);
    let mut input = input;
    let mut magic = [0u8; 2];
    let n = match read_up_to(&mut input, &mut magic) {
        Ok(n) => n,
        Err(e) => {
            stats.fail(e.to_string());
            return stats;
        }
    };
    let joined = std::io::Cursor::new(magic[..n].to_vec()).chain(input);
    let decoded: Box<dyn Read + '_> = if magic[..n] == [0x1f, 0x8b] {
        stats.gzip = true;
        Box::new(flate2::read::MultiGzDecoder::new(joined))
    } else {
        Box::new(joined)
    };
    let mut lines = Lines::new(decoded);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // One byte over the cap tells a line of exactly `max_line` bytes from a longer one.
        let cut = match lines.next_into(&mut buf, opts.max_line) {
            Ok(Some(cut)) => cut,
            Ok(None) => break,
            Err(e) => {
                stats.error = Some(
                    crate::error::HuntError::Log {
                        path: path.to_string(),
                        line: lines.line_no,
                        message: e.to_string(),
                    }
                    .to_record(),
                );
                break;
            }
        };
        let line = lines.line_no;
        let at = Some(Locator::Line(line));
        if cut {
            stats.cut += 1;
            stats.warn(at, format!("line {line} is longer than {} bytes and is skipped", opts.max_line), true);
            continue;
        }
        let text = trim(&buf);
        if text.is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_slice(text) {
            Ok(v) => v,
            Err(e) => {
                stats.warn(at, format!("line {line} is not JSON: {e}"), true);
                continue;
            }
        };
        match flatten::from_export(&value) {
            Ok(event) => stats.deliver(&event, Locator::Line(line), sink),
            Err(why) => stats.warn(at, format!("line {line}: {why}"), true),
        }
    }
    stats
}

/// Without ASCII white space and a UTF-8 byte order mark at the start.
fn trim(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    b.trim_ascii()
}
