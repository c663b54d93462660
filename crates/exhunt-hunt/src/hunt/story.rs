//! One story per host: the findings of every source (web logs, Exchange logs, files, Windows events) placed on the
//! attack chain of 2021 and ordered by time — exploit request → back door planted → file written → requests to it →
//! commands under the web server → credential theft, staging, persistence.
//!
//! A finding's stage comes from, in order:
//! 1. a rule tag `stage:<stage>` (`stage:staging`, …; see [`Stage::as_str`]);
//! 2. its `check`: `webshell-written` and `webshell-file` are [`Stage::FileWritten`], `webshell-request` and web-shell
//!    traffic in a log (`log:*` on a `webshell` finding) are [`Stage::ShellUsed`];
//! 3. its kind and source: `exploitation` from the ECP server log, the OAB generator log or MSExchange Management
//!    events is [`Stage::Plant`], other `exploitation` is [`Stage::Exploit`]; a `webshell` finding from an event log
//!    of a process or connection (`check = event`) is [`Stage::Execution`], one of a file (`check = event-file`:
//!    a web file written, an antivirus detection) is [`Stage::FileWritten`]; `credential-access` and `persistence`
//!    are their own stages; `post-exploitation` on a file path (archives, dumps) is [`Stage::Staging`], otherwise
//!    [`Stage::Execution`].
//!
//! `info` findings and `vulnerable`/`context` kinds have no stage. A host has an incident when one of its staged
//! findings is `medium` or worse; `low` findings join an existing story but never start one.

use crate::verdict::check_of;
use exhunt_model::{Finding, FindingKind, Incident, IncidentStep, Severity, Stage, Timestamp};
use std::collections::BTreeMap;

/// Sources whose `exploitation` findings are the back door being planted rather than the exploit request.
const PLANT_SOURCES: [&str; 3] = ["ecp-server", "oab-generator", "exchange-management"];

/// Findings kept per step (the count of all is in the summary).
const MAX_STEP_FINDINGS: usize = 200;

/// The stage of one finding, or `None` when it is not part of an attack chain. `tags` gives a rule's tags.
pub fn stage_of(f: &Finding, tags: &dyn Fn(&str) -> Vec<String>) -> Option<Stage> {
    if f.severity < Severity::Low || matches!(f.kind, FindingKind::Vulnerable | FindingKind::Context) {
        return None;
    }
    for t in tags(&f.rule) {
        if let Some(s) = t.strip_prefix("stage:")
            && let Some(stage) = Stage::ALL.iter().find(|x| x.as_str() == s)
        {
            return Some(*stage);
        }
    }
    let check = check_of(f).unwrap_or("");
    let source = f.details.get("source").and_then(|v| v.as_str()).unwrap_or("");
    Some(match (f.kind, check) {
        (_, "webshell-written" | "webshell-file") => Stage::FileWritten,
        (_, "webshell-request") => Stage::ShellUsed,
        (_, "webshell-probe") => return None,
        (FindingKind::Webshell, c) if c.starts_with("log:") => Stage::ShellUsed,
        // From an event: the shell's file (Sysmon 11, antivirus) is on disk; a process or connection is it running.
        (FindingKind::Webshell, "event") => Stage::Execution,
        (FindingKind::Webshell, _) => Stage::FileWritten,
        (FindingKind::Exploitation, _) if PLANT_SOURCES.contains(&source) => Stage::Plant,
        (FindingKind::Exploitation, _) => Stage::Exploit,
        (FindingKind::CredentialAccess, _) => Stage::CredentialAccess,
        (FindingKind::Persistence, _) => Stage::Persistence,
        (FindingKind::PostExploitation, "path") => Stage::Staging,
        (FindingKind::PostExploitation, _) => Stage::Execution,
        _ => return None,
    })
}

/// The host's incident, when its findings tell one.
pub fn incident(host: &str, findings: &[Finding], tags: &dyn Fn(&str) -> Vec<String>) -> Option<Incident> {
    let mut by_stage: BTreeMap<Stage, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        if let Some(s) = stage_of(f, tags) {
            by_stage.entry(s).or_default().push(f);
        }
    }
    if !by_stage.values().flatten().any(|f| f.severity >= Severity::Medium) {
        return None;
    }
    let mut steps: Vec<IncidentStep> = by_stage
        .iter()
        .map(|(stage, fs)| {
            let mut fs = fs.clone();
            fs.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.time.cmp(&b.time)).then(a.id.cmp(&b.id)));
            let times: Vec<Timestamp> = fs.iter().filter_map(|f| f.time).collect();
            let mut sources: Vec<String> = fs.iter().map(|f| source_of(f)).collect();
            sources.sort();
            sources.dedup();
            let worst = fs[0];
            let summary = if fs.len() == 1 {
                format!("{}: {}", stage.describe(), worst.title)
            } else {
                format!("{}: {} (and {} more finding(s))", stage.describe(), worst.title, fs.len() - 1)
            };
            IncidentStep {
                stage: *stage,
                time: times.iter().min().copied(),
                last: times.iter().max().copied(),
                summary,
                sources,
                findings: fs.iter().take(MAX_STEP_FINDINGS).map(|f| f.id.clone()).collect(),
            }
        })
        .collect();
    steps.sort_by_key(|s| (s.time.is_none(), s.time, s.stage));
    let stages: Vec<Stage> = by_stage.keys().copied().collect();
    // Use: a use stage at medium or worse once a back door is known (planted, written, or requested).
    let backdoor = stages.iter().any(|s| matches!(s, Stage::Plant | Stage::FileWritten | Stage::ShellUsed));
    let used = by_stage.iter().any(|(s, fs)| {
        s.is_use() && (backdoor || *s == Stage::ShellUsed) && fs.iter().any(|f| f.severity >= Severity::Medium)
    });
    let times: Vec<Timestamp> = steps.iter().flat_map(|s| [s.time, s.last]).flatten().collect();
    let ids: Vec<&str> = steps.iter().flat_map(|s| s.findings.iter().map(String::as_str)).collect();
    Some(Incident {
        id: super::finding_id("incident", &[&[host][..], &ids[..]].concat()),
        host: host.to_string(),
        first: times.iter().min().copied(),
        last: times.iter().max().copied(),
        used,
        stages,
        steps,
    })
}

fn source_of(f: &Finding) -> String {
    if let Some(s) = f.details.get("source").and_then(|v| v.as_str()) {
        return s.to_string();
    }
    match check_of(f) {
        Some("webshell-file" | "path" | "file") => "files".into(),
        Some("webshell-request" | "webshell-probe") => "web logs".into(),
        _ if f.rule.starts_with("EXH-FILE") || f.rule.starts_with("EXH-PATH") => "files".into(),
        _ => "correlation".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exhunt_model::FindingKind as K;

    fn f(id: &str, kind: K, sev: Severity, check: &str, source: &str, t: &str) -> Finding {
        let mut details = BTreeMap::new();
        if !check.is_empty() {
            details.insert("check".into(), serde_json::json!(check));
        }
        if !source.is_empty() {
            details.insert("source".into(), serde_json::json!(source));
        }
        Finding {
            id: id.into(),
            rule: format!("R-{id}"),
            kind,
            severity: sev,
            title: format!("title {id}"),
            time: (!t.is_empty()).then(|| Timestamp::parse_rfc3339(t).expect("time")),
            host: None,
            evidence: Vec::new(),
            remediation: String::new(),
            details,
        }
    }

    fn no_tags(_: &str) -> Vec<String> {
        Vec::new()
    }

    #[test]
    fn the_2021_chain_is_ordered_by_time_and_used() {
        let fs = vec![
            f(
                "e",
                K::CredentialAccess,
                Severity::High,
                "",
                "evtx:Microsoft-Windows-Sysmon/Operational",
                "2021-03-03T10:00:00Z",
            ),
            f("a", K::Exploitation, Severity::Critical, "log:httpproxy", "httpproxy", "2021-03-03T07:00:00Z"),
            f("b", K::Exploitation, Severity::Critical, "", "exchange-management", "2021-03-03T07:05:00Z"),
            f("c", K::Webshell, Severity::Critical, "webshell-file", "", "2021-03-03T07:06:00Z"),
            f("d", K::Webshell, Severity::High, "webshell-request", "", "2021-03-03T08:00:00Z"),
            f("x", K::Context, Severity::Info, "", "", "2021-03-03T06:00:00Z"),
        ];
        let inc = incident("ex01", &fs, &no_tags).expect("an incident");
        let order: Vec<Stage> = inc.steps.iter().map(|s| s.stage).collect();
        assert_eq!(
            order,
            [Stage::Exploit, Stage::Plant, Stage::FileWritten, Stage::ShellUsed, Stage::CredentialAccess]
        );
        assert!(inc.used);
        assert_eq!(inc.first.map(|t| t.to_string()).as_deref(), Some("2021-03-03T07:00:00Z"));
        assert_eq!(inc.steps[4].sources, ["evtx:Microsoft-Windows-Sysmon/Operational"]);
    }

    #[test]
    fn low_findings_alone_tell_no_story_and_exploits_alone_are_not_use() {
        let low = vec![f("n", K::Persistence, Severity::Low, "", "evtx:Security", "2021-03-03T07:00:00Z")];
        assert!(incident("h", &low, &no_tags).is_none());
        let probe = vec![f("a", K::Exploitation, Severity::Medium, "log:iis", "iis", "2021-03-03T07:00:00Z")];
        let inc = incident("h", &probe, &no_tags).expect("an incident");
        assert!(!inc.used);
        // Execution without any back door known is not counted as use of one.
        let exec = vec![f("x", K::PostExploitation, Severity::High, "", "evtx:Security", "")];
        assert!(!incident("h", &exec, &no_tags).expect("incident").used);
    }

    #[test]
    fn a_stage_tag_overrides() {
        let fs = [f("s", K::PostExploitation, Severity::Medium, "", "evtx:Security", "")];
        let tags = |_: &str| vec!["stage:staging".to_string()];
        assert_eq!(stage_of(&fs[0], &tags), Some(Stage::Staging));
        assert_eq!(stage_of(&fs[0], &no_tags), Some(Stage::Execution));
    }
}
