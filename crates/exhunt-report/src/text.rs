//! Text for people: escaping of attacker strings for the terminal, and the text report of `exhunt hunt` (one host's
//! verdict, findings, story, next steps and coverage; the activity groups across hosts; an error as a log line).
//! Every string that came from the evidence goes through [`escape_terminal`], here or in the findings table.

use crate::table::findings_table;
use exhunt_model::{ActivityGroup, ErrorRecord, Finding, HostReport, Incident, Severity};
use std::io::{self, Write};

/// Makes an attacker-controlled string safe to print on a terminal: control characters (including ESC, CR, and the
/// C1 range), bidirectional overrides and other invisible format characters become `\u{…}` escapes, and a backslash
/// stays a backslash. Everything else, including non-ASCII letters, is kept.
pub fn escape_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0x200B..=0x200F   // zero-width and LRM/RLM
            | 0x202A..=0x202E // bidi embeddings and overrides
            | 0x2060..=0x2069 // word joiner, bidi isolates
            | 0xFEFF          // BOM / zero-width no-break space
        )
}

/// At most `max` characters of `s`, with `…` in place of the cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One host's text report: the verdict and why, builds and exposure, counts, the findings above `info`, the attack
/// step by step, what to do now and what was examined.
pub fn write_host_report(
    out: &mut dyn Write,
    rep: &HostReport,
    findings: &[Finding],
    incident: Option<&Incident>,
) -> io::Result<()> {
    writeln!(out, "{}  {}", escape_terminal(&rep.host), rep.verdict.as_str().to_uppercase())?;
    for p in &rep.evidence {
        writeln!(out, "  evidence: {}", escape_terminal(p))?;
    }
    writeln!(out, "  {}", rep.verdict.headline())?;
    writeln!(out, "  {}", escape_terminal(&rep.reason))?;
    if !rep.builds.is_empty() {
        let b: Vec<String> = rep
            .builds
            .iter()
            .map(|b| {
                let span = match (b.first_seen, b.last_seen) {
                    (Some(a), Some(z)) => format!(" {a} .. {z}"),
                    _ => String::new(),
                };
                format!("{}{span} ({})", b.build, b.source)
            })
            .collect();
        writeln!(out, "  builds: {}", b.join("; "))?;
    }
    for x in &rep.exposure {
        writeln!(out, "  {}", escape_terminal(&x.summary))?;
    }
    if let Some(v) = &rep.build_verdict {
        let c: Vec<String> = v.chains.iter().map(|c| format!("{} {}", c.chain.name(), c.status)).collect();
        writeln!(out, "  newest build {}: {}", v.input, c.join(", "))?;
    }
    let counts: Vec<String> =
        Severity::ALL.iter().filter_map(|s| rep.counts.get(s).map(|n| format!("{n} {s}"))).collect();
    writeln!(
        out,
        "  findings: {}; errors: {}",
        if counts.is_empty() { "none".into() } else { counts.join(", ") },
        rep.errors
    )?;
    writeln!(out)?;
    let shown: Vec<Finding> = findings.iter().filter(|f| f.severity > Severity::Info).cloned().collect();
    if !shown.is_empty() {
        findings_table(&shown, out)?;
        writeln!(out)?;
    }
    if let Some(inc) = incident {
        writeln!(out, "The attack, step by step{}:", if inc.used { " (the back door was used)" } else { "" })?;
        for st in &inc.steps {
            let when = st.time.map(|t| t.to_string()).unwrap_or_else(|| "time unknown".into());
            writeln!(out, "  {when:<20}  {:<17} {}", st.stage.as_str(), escape_terminal(&st.summary))?;
            writeln!(out, "  {:<20}  {:<17} seen in: {}", "", "", escape_terminal(&st.sources.join(", ")))?;
        }
        writeln!(out)?;
    }
    writeln!(out, "What to do now:")?;
    for (i, s) in rep.next_steps.iter().enumerate() {
        writeln!(out, "  {}. {}", i + 1, escape_terminal(s))?;
    }
    writeln!(out)?;
    writeln!(out, "What was examined:")?;
    for c in &rep.coverage {
        let span = match (c.first, c.last) {
            (Some(a), Some(z)) => format!(" {a} .. {z}"),
            _ => String::new(),
        };
        writeln!(
            out,
            "  {:<14} {} files, {} records{span}{}",
            c.source,
            c.files,
            c.records,
            c.note.as_deref().map(|n| format!(": {}", escape_terminal(n))).unwrap_or_default()
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// The activity groups found across `hosts` hosts hunted together.
pub fn write_activity_groups(out: &mut dyn Write, groups: &[ActivityGroup], hosts: usize) -> io::Result<()> {
    writeln!(out, "Activity groups across the {hosts} hosts hunted:")?;
    if groups.is_empty() {
        writeln!(out, "  none: no two hosts share a web shell, a client address or a user agent")?;
    }
    for (i, g) in groups.iter().enumerate() {
        let span = match (g.first, g.last) {
            (Some(a), Some(z)) => format!(", active {a} .. {z}"),
            _ => String::new(),
        };
        writeln!(out, "  group {} ({}){span}: {}", i + 1, g.id, escape_terminal(&g.hosts.join(", ")))?;
        if !g.families.is_empty() {
            writeln!(out, "    families: {}", escape_terminal(&g.families.join(", ")))?;
        }
        for l in g.links.iter().take(10) {
            writeln!(
                out,
                "    {:<12} {}  ({})",
                l.kind,
                escape_terminal(&l.value),
                escape_terminal(&l.hosts.join(", "))
            )?;
        }
        if g.links.len() > 10 {
            writeln!(out, "    … and {} more shared trace(s) (see --json)", g.links.len() - 10)?;
        }
    }
    writeln!(out)?;
    Ok(())
}

/// An `error` record as one line for the log (stderr): `[code] path: message`, escaped.
pub fn error_line(e: &ErrorRecord) -> String {
    format!(
        "{}{}{}",
        e.code.as_deref().map(|c| format!("[{c}] ")).unwrap_or_default(),
        e.path.as_deref().map(|p| format!("{}: ", escape_terminal(p))).unwrap_or_default(),
        escape_terminal(&e.message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_control_and_bidi() {
        assert_eq!(escape_terminal("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(escape_terminal("x\r\ny"), "x\\u{d}\\u{a}y");
        assert_eq!(escape_terminal("evil\u{202e}txt.aspx"), "evil\\u{202e}txt.aspx");
        assert_eq!(escape_terminal("Zürich"), "Zürich");
    }

    #[test]
    fn error_lines_are_escaped() {
        let e = ErrorRecord {
            code: Some("H009".into()),
            message: "cannot read log \x1b[2J".into(),
            path: Some("C/x\u{202e}.log".into()),
            locator: None,
        };
        assert_eq!(error_line(&e), "[H009] C/x\\u{202e}.log: cannot read log \\u{1b}[2J");
    }

    /// Every string of a host's text report that came from the evidence is escaped: the host name, the reason, the
    /// coverage notes, the next steps and the findings' cells.
    #[test]
    fn a_host_report_escapes_what_the_evidence_wrote() {
        let t = exhunt_model::Timestamp::parse_rfc3339("2021-03-03T08:00:00Z").expect("time");
        let rep = HostReport {
            host: "EX01\x1b]0;owned\x07".into(),
            evidence: vec!["/cases/ex01\u{202e}piz.zip".into()],
            verdict: exhunt_model::HostVerdict::Clean,
            reason: "nothing found\r\nFAKE LINE".into(),
            deciding: Vec::new(),
            builds: Vec::new(),
            build_verdict: None,
            exposure: Vec::new(),
            window: [t, t],
            coverage: vec![exhunt_model::Coverage {
                source: "iis".into(),
                files: 1,
                records: 2,
                malformed: 0,
                first: None,
                last: None,
                gaps: Vec::new(),
                note: Some("note \x1b[2J".into()),
            }],
            counts: Default::default(),
            errors: 0,
            next_steps: vec!["block \u{200b}203.0.113.5".into()],
        };
        let mut out = Vec::new();
        write_host_report(&mut out, &rep, &[], None).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(!text.chars().any(|c| c != '\n' && needs_escape(c)), "{text:?}");
        for shown in [
            "EX01\\u{1b}]0;owned\\u{7}  CLEAN",
            "evidence: /cases/ex01\\u{202e}piz.zip",
            "nothing found\\u{d}\\u{a}FAKE LINE",
            "1. block \\u{200b}203.0.113.5",
            "iis            1 files, 2 records: note \\u{1b}[2J",
            "findings: none; errors: 0",
        ] {
            assert!(text.contains(shown), "{shown:?} not in {text}");
        }
    }

    #[test]
    fn truncates_by_characters() {
        assert_eq!(truncate_chars("ééééé", 3), "éé…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }
}
