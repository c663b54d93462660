//! Coded diagnostics, printed the way rustc and yara-x print theirs:
//!
//! ```text
//! error[K012]: unknown severity `hihg`
//!   --> kb/rules/log/exh-log-0001.toml:5:12
//!    = help: use one of critical, high, medium, low, info
//! ```
//!
//! Every code is listed in [`CODES`] and in `docs/kb-format.md`; a code never changes meaning once shipped.

use std::fmt;

/// How bad a diagnostic is. Errors fail `exhunt kb check`; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Warning,
    Error,
}

/// One problem in the knowledge base (or in an input the knowledge base parses, such as a build number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    /// `K001`… for knowledge-base files, `B001`… for build numbers.
    pub code: &'static str,
    pub message: String,
    /// The file (as the user named it) or a pseudo-location such as `argument 2`.
    pub file: String,
    /// 1-based line and column; 0 when the problem is about the whole file. A one-line input (a command-line
    /// argument) has line 0 and a column.
    pub line: usize,
    pub col: usize,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Error,
            code,
            message: message.into(),
            file: file.into(),
            line: 0,
            col: 0,
            help: None,
        }
    }

    pub fn warning(code: &'static str, file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { level: Level::Warning, ..Diagnostic::error(code, file, message) }
    }

    /// Sets the position from 1-based line and column.
    pub fn at(mut self, line: usize, col: usize) -> Self {
        self.line = line;
        self.col = col;
        self
    }

    /// Sets the position from a byte offset into `text`.
    pub fn at_offset(self, text: &str, offset: usize) -> Self {
        let (l, c) = line_col(text, offset);
        self.at(l, c)
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        writeln!(f, "{level}[{}]: {}", self.code, self.message)?;
        if self.line > 0 {
            write!(f, "  --> {}:{}:{}", self.file, self.line, self.col)?;
        } else if self.col > 0 {
            write!(f, "  --> {}, column {}", self.file, self.col)?;
        } else {
            write!(f, "  --> {}", self.file)?;
        }
        if let Some(h) = &self.help {
            write!(f, "\n   = help: {h}")?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of a byte offset. Offsets past the end point after the last character.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Every diagnostic code, with what it means. Kept in step with `docs/kb-format.md` by a test.
pub const CODES: &[(&str, &str)] = &[
    ("B001", "a build number does not parse"),
    ("K001", "a file cannot be read or is not UTF-8"),
    ("K002", "TOML syntax error"),
    ("K003", "a key that the format does not know, a missing key, or a value of the wrong type"),
    ("K004", "two entries share one id"),
    ("K005", "an id does not follow the naming scheme"),
    ("K006", "a date is not YYYY-MM-DD (or YYYY-MM where allowed)"),
    ("K007", "a hash is not hex of the right length for its algorithm"),
    ("K008", "an IP address or network does not parse"),
    ("K009", "an entry has no source"),
    ("K010", "a regular expression does not compile"),
    ("K011", "YARA source does not compile"),
    ("K012", "unknown severity"),
    ("K013", "unknown finding kind"),
    ("K014", "a rule has no positive or no negative sample"),
    ("K015", "a sample file named by a rule does not exist"),
    ("K016", "a log rule names a log source the readers do not produce"),
    ("K017", "a prefilter literal does not occur in a positive sample, or a rule has none"),
    ("K018", "build catalog: a row does not parse or contradicts itself"),
    ("K019", "build catalog: a fix flag is not yes, no or n/a"),
    ("K020", "an empty value where text is required"),
    ("K021", "a rule has no remediation text or no reference"),
    ("K022", "a path rule pattern is not a valid glob or regex"),
    ("K023", "a rule's sample does not give the expected result (kb test)"),
    ("K024", "a file in the knowledge base folder that no loader reads"),
    ("K030", "an IOC path is not absolute, names a folder, uses an unknown `%VARIABLE%` or misuses a wildcard"),
    (
        "K031",
        "an IOC value does not have the form its kind needs (a file name with a folder, a malformed domain, a user agent not written as logged)",
    ),
    ("K040", "a rule file is not in `rules/log/`, `rules/file/` or `rules/path/`"),
    (
        "K041",
        "a prefilter literal holds a character that log encodings change (quote, comma, backslash, `<`, `>`, `&`, control)",
    ),
    ("K042", "a log rule tests a field that none of its sources has (warning)"),
    ("K043", "a prefilter literal is shorter than 3 bytes (warning)"),
    ("K044", "a YARA compiler warning (warning)"),
    ("K050", "a scan pack (`scan/webshell-paths.toml`, `scan/fingerprint.toml`) is missing"),
    ("K051", "a web-shell URL path is not a bare absolute path to a script, or is listed twice"),
    ("K052", "a fingerprint marker is not one of the anchors the scanner keeps, or an anchor is too short or long"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rustc_style() {
        let text = "a = 1\nseverity = \"hihg\"\n";
        let d = Diagnostic::error("K012", "kb/x.toml", "unknown severity `hihg`")
            .at_offset(text, text.find("\"hihg").expect("present"))
            .with_help("use one of critical, high, medium, low, info");
        assert_eq!(
            d.to_string(),
            "error[K012]: unknown severity `hihg`\n  --> kb/x.toml:2:12\n   = help: use one of critical, high, medium, low, info"
        );
    }

    #[test]
    fn line_col_counts_characters_not_bytes() {
        assert_eq!(line_col("é=1", 2), (1, 2));
        assert_eq!(line_col("a\nb", 2), (2, 1));
        assert_eq!(line_col("a", 99), (1, 2));
    }

    #[test]
    fn codes_are_unique_and_sorted() {
        let mut seen: Vec<&str> = CODES.iter().map(|(c, _)| *c).collect();
        let n = seen.len();
        seen.dedup();
        assert_eq!(seen.len(), n);
    }
}

/// The JSON Lines form of a diagnostic (`"type": "diagnostic"`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnosticRecord {
    /// `error` or `warning`.
    pub level: String,
    pub code: String,
    pub message: String,
    pub file: String,
    /// 1-based; 0 when the diagnostic is about a whole file.
    pub line: usize,
    pub col: usize,
    pub help: Option<String>,
}

impl exhunt_model::Record for DiagnosticRecord {
    const TYPE: &'static str = "diagnostic";
}

impl Diagnostic {
    /// The record printed by `--format jsonl`.
    pub fn to_record(&self) -> DiagnosticRecord {
        DiagnosticRecord {
            level: match self.level {
                Level::Error => "error".into(),
                Level::Warning => "warning".into(),
            },
            code: self.code.to_string(),
            message: self.message.clone(),
            file: self.file.clone(),
            line: self.line,
            col: self.col,
            help: self.help.clone(),
        }
    }
}
