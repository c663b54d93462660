//! Errors of the hunt's input half: opening evidence, discovering Exchange and IIS, reading logs.
//!
//! None of them aborts a hunt. Each becomes an `error` record ([`HuntError::to_record`]) with a stable code, the run
//! goes on with the next item, and the exit code says errors happened.
//!
//! The codes of the hunt's `error` records, these and the ones the later phases write, are [`CODES`]; the table in
//! `docs/output.md` is kept equal to it by a test, and a code never changes meaning once shipped.

use exhunt_model::{ErrorRecord, Locator};
use std::io;

/// Every code of the hunt's `error` records, with what it means (the table of `docs/output.md`).
pub const CODES: &[(&str, &str)] = &[
    ("H001", "a file or folder of the evidence cannot be read (permissions, I/O error, vanished)"),
    (
        "H002",
        "the PATH is not a folder, a `.zip` or a drive root, or it holds no drive folder and no loose evidence (event \
         logs, exports or logs recognised by content)",
    ),
    ("H003", "a `.zip` cannot be opened (not a zip, damaged central directory)"),
    ("H004", "a `.zip` is refused as a zip bomb (entry count, total size, ratio or overlapping entries)"),
    ("H005", "a zip entry is refused: its name escapes the archive (`../x`, `/x`, `C:\\x`)"),
    ("H006", "a zip entry cannot be read: encrypted, an unsupported compression method, or bad data"),
    (
        "H007",
        "`applicationHost.config` cannot be parsed, or a path in it uses a `%VARIABLE%` that cannot be resolved offline",
    ),
    ("H008", "a registry hive cannot be read (a warning: discovery falls back to the usual paths)"),
    (
        "H009",
        "a log file or event log cannot be read to its end (I/O or decompression error, archive inside a log folder, \
         damaged records)",
    ),
    ("H020", "a file's content scan (YARA) failed"),
    ("H021", "a file of the sweep cannot be read"),
    ("H030", "a `--baseline` file or one of its lines cannot be read"),
    (
        "H040",
        "the requests to a web shell may be incomplete: a cap on the web-log requests kept for the correlation (per \
         URL or per host) dropped requests it may have had",
    ),
    (
        "H041",
        "a web shell sits at one of Exchange's own endpoints or static resources, whose requests the log pass does not \
         keep: its requests are not in the findings",
    ),
];

/// Something that stopped one item of the evidence. The caller records it and goes on with the next item.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HuntError {
    /// A file or folder cannot be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path as the user sees it.
        path: String,
        #[source]
        source: io::Error,
    },
    /// The PATH given is not evidence exhunt can read.
    #[error("`{path}` {reason}")]
    NotEvidence { path: String, reason: String },
    /// A zip archive cannot be opened.
    #[error("cannot open zip `{path}`: {message}; check the file is a complete `.zip` (re-copy it if needed)")]
    Zip { path: String, message: String },
    /// A zip archive is refused as a zip bomb.
    #[error("zip `{path}` refused: {reason}; extract it with a trusted tool and pass the folder if it is genuine")]
    ZipBomb { path: String, reason: String },
    /// A zip entry whose name would escape the archive.
    #[error("zip entry `{name}` in `{path}` refused: {reason}")]
    UnsafeEntry { path: String, name: String, reason: String },
    /// A zip entry that cannot be read.
    #[error("zip entry `{name}` in `{path}` cannot be read: {reason}")]
    Entry { path: String, name: String, reason: String },
    /// `applicationHost.config` does not parse.
    #[error("cannot parse `{path}` at byte {offset}: {message}")]
    Xml { path: String, offset: u64, message: String },
    /// A registry hive cannot be read.
    #[error("cannot read registry hive `{path}`: {message}; falling back to the usual Exchange paths")]
    Hive { path: String, message: String },
    /// A log file stopped being readable part-way.
    #[error("cannot read log `{path}` after line {line}: {message}")]
    Log { path: String, line: u64, message: String },
}

impl HuntError {
    pub(crate) fn io(path: impl Into<String>, source: io::Error) -> Self {
        HuntError::Io { path: path.into(), source }
    }

    /// The stable code of the error (see [`CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            HuntError::Io { .. } => "H001",
            HuntError::NotEvidence { .. } => "H002",
            HuntError::Zip { .. } => "H003",
            HuntError::ZipBomb { .. } => "H004",
            HuntError::UnsafeEntry { .. } => "H005",
            HuntError::Entry { .. } => "H006",
            HuntError::Xml { .. } => "H007",
            HuntError::Hive { .. } => "H008",
            HuntError::Log { .. } => "H009",
        }
    }

    /// The path the error concerns, as the user sees it.
    pub fn path(&self) -> &str {
        match self {
            HuntError::Io { path, .. }
            | HuntError::NotEvidence { path, .. }
            | HuntError::Zip { path, .. }
            | HuntError::ZipBomb { path, .. }
            | HuntError::UnsafeEntry { path, .. }
            | HuntError::Entry { path, .. }
            | HuntError::Xml { path, .. }
            | HuntError::Hive { path, .. }
            | HuntError::Log { path, .. } => path,
        }
    }

    /// The error as an `error` record of the output.
    pub fn to_record(&self) -> ErrorRecord {
        let locator = match self {
            HuntError::Xml { offset, .. } => Some(Locator::Offset(*offset)),
            HuntError::Log { line, .. } if *line > 0 => Some(Locator::Line(*line)),
            _ => None,
        };
        ErrorRecord {
            code: Some(self.code().to_string()),
            message: self.to_string(),
            path: Some(self.path().to_string()),
            locator,
        }
    }
}

impl From<&HuntError> for ErrorRecord {
    fn from(e: &HuntError) -> Self {
        e.to_record()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// `docs/output.md` lists the codes of `CODES`, and every code the hunt's sources write is in it.
    #[test]
    fn the_documented_codes_are_the_codes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let path = root.join("../../docs/output.md");
        let doc = std::fs::read_to_string(&path).expect("docs/output.md");
        let (start, end) = ("<!-- hunt-codes:start -->\n", "<!-- hunt-codes:end -->");
        let a = doc.find(start).expect("start marker") + start.len();
        let b = doc.find(end).expect("end marker");
        let mut table = String::from("| code | meaning |\n|---|---|\n");
        for (code, meaning) in CODES {
            table.push_str(&format!("| {code} | {} |\n", meaning.replace('|', "\\|")));
        }
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, format!("{}{}{}", &doc[..a], table, &doc[b..])).expect("write");
        } else {
            assert_eq!(&doc[a..b], table, "docs/output.md's hunt code table is stale: rerun with UPDATE_GOLDEN=1");
        }

        let mut written = std::collections::BTreeSet::new();
        let mut dirs = vec![root.join("src")];
        while let Some(d) = dirs.pop() {
            for entry in std::fs::read_dir(&d).expect("src folder") {
                let p = entry.expect("entry").path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&p).expect("source");
                    for (i, _) in text.match_indices("\"H0") {
                        let code = &text[i + 1..(i + 5).min(text.len())];
                        if code.len() == 4 && code[1..].bytes().all(|b| b.is_ascii_digit()) {
                            written.insert(code.to_string());
                        }
                    }
                }
            }
        }
        let listed: std::collections::BTreeSet<String> = CODES.iter().map(|(c, _)| c.to_string()).collect();
        let missing: Vec<&String> = written.difference(&listed).collect();
        assert!(missing.is_empty(), "codes written by the hunt but not in `CODES`: {missing:?}");
    }

    #[test]
    fn records_carry_code_path_and_locator() {
        let e = HuntError::Log { path: "C/x.log".into(), line: 12, message: "corrupt deflate stream".into() };
        let r = e.to_record();
        assert_eq!(r.code.as_deref(), Some("H009"));
        assert_eq!(r.path.as_deref(), Some("C/x.log"));
        assert_eq!(r.locator, Some(Locator::Line(12)));
        assert!(r.message.starts_with("cannot read log `C/x.log` after line 12"));
    }
}
