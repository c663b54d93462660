//! `--timeline FILE.csv`: one sorted timeline of every finding and its evidence, for spreadsheets and Timesketch.

use exhunt_model::{Finding, Locator};
use std::io::{self, Write};

/// The timeline's columns, in order.
pub const TIMELINE_COLUMNS: &[&str] =
    &["time", "host", "severity", "kind", "rule", "title", "path", "locator", "excerpt", "finding_id"];

/// Keeps a spreadsheet from evaluating an attacker's string as a formula (CSV injection): a cell starting with
/// `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`.
pub fn csv_safe(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// Writes one row per (finding, evidence item), sorted by time (unknown times last), then host, then finding id.
pub fn write_timeline(findings: &[Finding], out: impl Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(TIMELINE_COLUMNS).map_err(io::Error::other)?;
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| (a.time.is_none(), a.time, &a.host, &a.id).cmp(&(b.time.is_none(), b.time, &b.host, &b.id)));
    for f in sorted {
        let time = f.time.map(|t| t.to_string()).unwrap_or_default();
        let host = f.host.clone().unwrap_or_default();
        let evidence: Vec<Option<&exhunt_model::Evidence>> =
            if f.evidence.is_empty() { vec![None] } else { f.evidence.iter().map(Some).collect() };
        for e in evidence {
            let (path, loc, excerpt) = match e {
                Some(e) => (
                    e.path.as_str(),
                    match e.locator {
                        Some(Locator::Line(n)) => format!("line {n}"),
                        Some(Locator::Record(n)) => format!("record {n}"),
                        Some(Locator::Offset(n)) => format!("offset {n}"),
                        None => String::new(),
                    },
                    e.excerpt.as_deref().unwrap_or(""),
                ),
                None => ("", String::new(), ""),
            };
            w.write_record([
                time.as_str(),
                &csv_safe(&host),
                f.severity.as_str(),
                f.kind.as_str(),
                &csv_safe(&f.rule),
                &csv_safe(&f.title),
                &csv_safe(path),
                &loc,
                &csv_safe(excerpt),
                &f.id,
            ])
            .map_err(io::Error::other)?;
        }
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(csv_safe("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_safe("-2+3"), "'-2+3");
        assert_eq!(csv_safe("/owa/auth/x.js"), "/owa/auth/x.js");
    }
}
