//! What was examined, over which time, and what its absence means.

use super::HuntOptions;
use super::files::FileOutput;
use crate::discover::Layout;
use crate::readers::events::EventStats;
use crate::readers::{FileStats, LogKind};
use exhunt_model::{Coverage, Timestamp};

/// A stretch without any record longer than this is a gap.
const GAP_SECONDS: i64 = 24 * 3600;

const KINDS: &[(LogKind, &str)] = &[
    (
        LogKind::HttpProxy,
        "no HttpProxy logs: CVE-2021-26855 (the request forgery that starts ProxyLogon) cannot be ruled out",
    ),
    (
        LogKind::EcpServer,
        "no ECP server logs: CVE-2021-27065 (the file write through Set-*VirtualDirectory) cannot be ruled out",
    ),
    (
        LogKind::OabGenerator,
        "no OABGenerator logs: CVE-2021-26858 (the file write through the OAB generator) cannot be ruled out",
    ),
    (LogKind::Iis, "no IIS logs: requests to web shells and POSTs to static OWA/ECP files cannot be seen"),
    (LogKind::EcpActivity, ""),
    (LogKind::CmdletInfra, ""),
];

pub(crate) fn coverage(
    layout: &Layout,
    stats: &[FileStats],
    files: &FileOutput,
    events: &[EventStats],
    opts: &HuntOptions,
) -> Vec<Coverage> {
    let [w0, w1] = opts.window;
    let mut out = Vec::new();
    for (kind, missing) in KINDS {
        let of: Vec<&FileStats> = stats.iter().filter(|s| s.kind == *kind).collect();
        if of.is_empty() {
            if !missing.is_empty() {
                out.push(absent(kind.as_str(), missing));
            }
            continue;
        }
        let records: u64 = of.iter().map(|s| s.records).sum();
        let malformed: u64 = of.iter().map(|s| s.malformed).sum();
        let first = of.iter().filter_map(|s| s.first_time).min();
        let last = of.iter().filter_map(|s| s.last_time).max();
        let mut spans: Vec<(Timestamp, Timestamp)> =
            of.iter().filter_map(|s| Some((s.first_time?, s.last_time?))).collect();
        spans.sort();
        let mut gaps = Vec::new();
        let mut reach: Option<Timestamp> = None;
        for (a, b) in spans {
            if let Some(r) = reach
                && a.unix() - r.unix() > GAP_SECONDS
                && a > w0
                && r < w1
            {
                gaps.push([r.max(w0), a.min(w1)]);
            }
            reach = Some(reach.map_or(b, |r| r.max(b)));
        }
        let mut notes = Vec::new();
        match first {
            Some(f) if f.unix() - w0.unix() > GAP_SECONDS => notes.push(format!(
                "the oldest record is from {f}, after the start of the window ({w0}): activity before it cannot be ruled out"
            )),
            None if records > 0 => notes.push("no record has a time that could be read".to_string()),
            _ => {}
        }
        if !gaps.is_empty() {
            notes.push(format!("{} gap(s) of more than a day", gaps.len()));
        }
        if malformed > 0 {
            notes.push(format!("{malformed} record(s) could not be parsed"));
        }
        let failed = of.iter().filter(|s| s.error.is_some()).count();
        if failed > 0 {
            notes.push(format!("{failed} file(s) could not be read to the end"));
        }
        out.push(Coverage {
            source: kind.as_str().to_string(),
            files: of.len() as u64,
            records,
            malformed,
            first,
            last,
            gaps,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        });
    }
    let mut notes = vec![format!(
        "swept {}; read {} file(s), {} bytes",
        files.roots.join(", "),
        files.files_read,
        files.bytes_read
    )];
    match (files.baseline, &layout.exchange) {
        (Some(b), _) => notes.push(format!("Exchange web files compared with Microsoft's known-good hashes for {b}")),
        (None, Some(_)) if !opts.baselines.baselines.is_empty() => notes.push(format!(
            "no known-good baseline for the server's build among those given ({}): new and changed Exchange files were not compared",
            opts.baselines.builds().iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ")
        )),
        (None, Some(_)) => notes.push(
            "no known-good baseline given (--baseline): new and changed Exchange files were not compared".to_string(),
        ),
        (None, None) => notes.push("Exchange's install folder was not found in the evidence".to_string()),
    }
    if files.too_large > 0 {
        notes.push(format!("{} file(s) larger than the content-scan limit were checked by name only", files.too_large));
    }
    out.push(Coverage {
        source: "files".to_string(),
        files: files.files_seen,
        records: files.files_read,
        malformed: 0,
        first: files.oldest_mtime,
        last: files.newest_mtime,
        gaps: Vec::new(),
        note: Some(notes.join("; ")),
    });
    out.extend(event_coverage(events));
    out
}

/// The channels whose absence leaves a part of the attack unseen.
const KEY_CHANNELS: &[(&str, &str)] = &[
    ("Security", "no Security log: new accounts, group changes and logons cannot be seen"),
    (
        "Microsoft-Windows-Sysmon/Operational",
        "no Sysmon log: processes started by the web server and files it wrote are seen only through Security 4688 \
         process auditing, if enabled",
    ),
    (
        "MSExchange Management",
        "no MSExchange Management log: Set-*VirtualDirectory (CVE-2021-27065), mailbox exports and transport agents \
         are judged from the ECP logs only",
    ),
    ("Application", "no Application log: the Unified Messaging crashes of CVE-2021-26857 cannot be seen"),
    (
        "Microsoft-Windows-PowerShell/Operational",
        "no PowerShell Operational log: script blocks (4104) run by the intruders cannot be seen",
    ),
];

/// Event logs: one summary (`event-logs`) with the key channels missing, and one entry per channel (`evtx:<channel>`).
fn event_coverage(events: &[EventStats]) -> Vec<Coverage> {
    if events.is_empty() {
        return vec![absent(
            "event-logs",
            "no Windows event logs in the evidence (.evtx under Windows\\System32\\winevt\\Logs, or a JSON export): \
             CVE-2021-26857 (Unified Messaging) and what was run through a web shell are judged from the web logs and \
             files only",
        )];
    }
    // channel → (files, records, first, last)
    type Span = (u64, u64, Option<Timestamp>, Option<Timestamp>);
    let mut channels: std::collections::BTreeMap<&str, Span> = std::collections::BTreeMap::new();
    for s in events {
        for (c, n) in &s.channels {
            let e = channels.entry(c.as_str()).or_insert((0, 0, None, None));
            e.0 += 1;
            e.1 += n;
            e.2 = match (e.2, s.first_time) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            e.3 = match (e.3, s.last_time) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
    }
    let mut notes: Vec<String> = KEY_CHANNELS
        .iter()
        .filter(|(c, _)| !channels.keys().any(|k| k.eq_ignore_ascii_case(c)))
        .map(|(_, note)| note.to_string())
        .collect();
    let skipped: u64 = events.iter().map(|s| s.skipped).sum();
    if skipped > 0 {
        notes.push(format!("{skipped} record(s) or chunk(s) could not be read (damaged or cut files)"));
    }
    let failed = events.iter().filter(|s| s.error.is_some()).count();
    if failed > 0 {
        notes.push(format!("{failed} file(s) could not be read to the end"));
    }
    let mut out = vec![Coverage {
        source: "event-logs".to_string(),
        files: events.len() as u64,
        records: events.iter().map(|s| s.records).sum(),
        malformed: skipped,
        first: events.iter().filter_map(|s| s.first_time).min(),
        last: events.iter().filter_map(|s| s.last_time).max(),
        gaps: Vec::new(),
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }];
    for (c, (files, records, first, last)) in channels {
        out.push(Coverage {
            source: format!("evtx:{}", if c.is_empty() { "(no channel)" } else { c }),
            files,
            records,
            malformed: 0,
            first,
            last,
            gaps: Vec::new(),
            note: None,
        });
    }
    out
}

/// A source with nothing examined, and what that means.
fn absent(source: &str, note: &str) -> Coverage {
    Coverage {
        source: source.to_string(),
        files: 0,
        records: 0,
        malformed: 0,
        first: None,
        last: None,
        gaps: Vec::new(),
        note: Some(note.to_string()),
    }
}
