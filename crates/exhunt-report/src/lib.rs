//! Printers: one writer per output format, shared by every command.
//!
//! # The JSON Lines envelope
//!
//! Every record a command emits with `--format jsonl` (or `--json`) is one line of JSON:
//!
//! ```json
//! {"type":"finding","v":1,"data":{"id":"…","rule":"EXH-LOG-0001","kind":"exploitation","severity":"high",…}}
//! ```
//!
//! * `type` names the record: `finding`, `observation`, `build-verdict`, `host-report`, `incident`, `error`, …
//!   A consumer must skip types it does not know.
//! * `v` is the schema version of `data` for that type. Fields may be added to `data` without a bump; removing or
//!   changing the meaning of a field bumps `v`.
//! * `data` is the record itself, as the types in `exhunt-model` serialize (RFC 3339 UTC times, `null` for unknown).
//!
//! Records are written and flushed as they are produced, so a killed run keeps everything up to the kill.
//! The full field reference is `docs/output.md`; the tests in `tests/envelope.rs` pin it with `deny_unknown_fields`.

mod html;
mod jsonl;
pub mod shadowserver;
mod table;
mod text;
mod timeline;

pub use html::{escape_html, render_html};
pub use jsonl::{Envelope, JsonlWriter, from_line, to_line};
pub use table::{Table, findings_table, verdict_table};
pub use text::{error_line, escape_terminal, truncate_chars, write_activity_groups, write_host_report};
pub use timeline::{TIMELINE_COLUMNS, csv_safe, write_timeline};

use std::str::FromStr;

/// The output formats a record-emitting command accepts with `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// The JSON Lines envelope for programs.
    Jsonl,
    /// Comma-separated values (RFC 4180) with a header row.
    Csv,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Format::Table),
            "jsonl" | "json" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            other => Err(format!("unknown format `{other}`: use table, jsonl or csv")),
        }
    }
}
