//! The event half of the hunt: every Windows event log in the evidence (`.evtx` and JSON exports) read once, in
//! parallel; each event goes through the built-in log rules of its source (`evtx`, `exchange-management`, behind
//! their literal prefilter) and through the Sigma rules given with `--sigma`. One finding per matching event, with its
//! record as evidence, so that every step of the story keeps its own time; at most [`MAX_PER_RULE_FILE`] per rule
//! and file and [`MAX_PER_RULE_HOST`] per rule and host, so that memory stays bounded whatever the input's size (the
//! matches left out are counted in `details.more` of the rule's last finding).

use super::findings::{custom, from_rule, from_sigma, put, sigma_id};
use super::{Engines, Progress};
use crate::discover::Layout;
use crate::evidence::EvidenceSource;
use crate::readers::events::{EventFile, EventOptions, EventSink, EventStats, scan_events};
use crate::verdict::checks;
use exhunt_detect::{Event, Fields, SigmaRuleInfo};
use exhunt_model::{ErrorRecord, Evidence, Finding, FindingKind, Locator, Severity};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Findings kept per (rule, file); further matches are counted.
pub const MAX_PER_RULE_FILE: usize = 50;
/// Events that show a file itself rather than a process running: Sysmon 11 (file created) and Defender's
/// detections (1006, 1015, 1116, 1117). Their findings get `check = event-file`; every other event's `check = event`.
const FILE_EVENT_IDS: [u32; 5] = [11, 1006, 1015, 1116, 1117];

/// Findings kept per rule for the whole host.
pub const MAX_PER_RULE_HOST: u64 = 200;

/// Counts shared by the files read in parallel: findings kept and matches left out, per rule.
#[derive(Default)]
struct Shared {
    kept: Mutex<HashMap<String, u64>>,
    dropped: Mutex<HashMap<String, u64>>,
}
/// Longest value copied into a finding's details.
const MAX_DETAIL: usize = 2000;

/// Event fields worth showing in a finding, in this order.
const SHOWN: [&str; 24] = [
    "Image",
    "CommandLine",
    "ParentImage",
    "ParentCommandLine",
    "User",
    "TargetFilename",
    "SourceImage",
    "TargetImage",
    "GrantedAccess",
    "DestinationIp",
    "DestinationPort",
    "TargetObject",
    "Details",
    "NewProcessName",
    "ParentProcessName",
    "SubjectUserName",
    "TargetUserName",
    "MemberName",
    "TaskName",
    "ServiceName",
    "ImagePath",
    "Threat Name",
    "Path",
    "ScriptBlockText",
];

pub(crate) struct EventOutput {
    pub findings: Vec<Finding>,
    pub stats: Vec<EventStats>,
    pub errors: Vec<ErrorRecord>,
    /// The most frequent `Computer` of the events, for the host name.
    pub host_name: Option<String>,
}

struct Hit<'e> {
    rule: String,
    /// The Sigma rule and the selections that matched, for a Sigma hit.
    sigma: Option<(&'e SigmaRuleInfo, Vec<String>)>,
    event: Event,
    locator: Locator,
}

struct Sink<'e> {
    engines: &'e Engines<'e>,
    shared: &'e Shared,
    raw: String,
    hits: Vec<Hit<'e>>,
    per_rule: HashMap<String, u64>,
    computers: HashMap<String, u64>,
}

impl Sink<'_> {
    fn keep(&mut self, rule: &str) -> bool {
        let n = self.per_rule.entry(rule.to_string()).or_default();
        *n += 1;
        let keep = *n as usize <= MAX_PER_RULE_FILE && {
            let mut kept = self.shared.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let k = kept.entry(rule.to_string()).or_default();
            *k += 1;
            *k <= MAX_PER_RULE_HOST
        };
        if !keep {
            let mut dropped = self.shared.dropped.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *dropped.entry(rule.to_string()).or_default() += 1;
        }
        keep
    }
}

impl<'e> EventSink for Sink<'e> {
    fn event(&mut self, event: &Event, locator: Locator) {
        let computer = event.computer();
        if !computer.is_empty() && self.computers.len() < 256 {
            *self.computers.entry(computer.to_string()).or_default() += 1;
        }
        let source = event.log_source();
        let mut rules: Vec<String> = Vec::new();
        if self.engines.log.wants(source) {
            event.write_raw(&mut self.raw);
            let candidates = self.engines.log.prefilter(source, self.raw.as_bytes());
            if !candidates.is_empty() {
                let record = event.with_raw(&self.raw);
                rules = self.engines.log.eval(&candidates, &record).into_iter().map(str::to_string).collect();
            }
        }
        for rule in rules {
            if self.keep(&rule) {
                self.hits.push(Hit { rule, sigma: None, event: event.clone(), locator });
            }
        }
        let engines: &'e Engines<'e> = self.engines;
        for h in engines.sigma.eval_event(event) {
            let rule = sigma_id(h.rule);
            if self.keep(&rule) {
                self.hits.push(Hit { rule, sigma: Some((h.rule, h.selections)), event: event.clone(), locator });
            }
        }
    }
}

pub(crate) fn hunt_events(
    source: &dyn EvidenceSource,
    layout: &Layout,
    engines: &Engines<'_>,
    progress: &(dyn Fn(Progress) + Sync),
) -> EventOutput {
    let (files, mut errors) = layout.event_files(source);
    let total: u64 = files.iter().map(|f| f.file.size).sum();
    progress(Progress::Bytes { done: 0, total });
    let shared = Shared::default();
    let scans = scan_events(source, files, &EventOptions::default(), |_f: &EventFile| Sink {
        engines,
        shared: &shared,
        raw: String::new(),
        hits: Vec::new(),
        per_rule: HashMap::new(),
        computers: HashMap::new(),
    });
    progress(Progress::Bytes { done: total, total });
    let mut findings = Vec::new();
    let mut stats = Vec::new();
    let mut computers: HashMap<String, u64> = HashMap::new();
    for scan in scans {
        let display = scan.file.file.display.clone();
        for (c, n) in &scan.sink.computers {
            *computers.entry(c.clone()).or_default() += n;
        }
        let mut by_rule: BTreeMap<&str, Vec<&Hit>> = BTreeMap::new();
        for h in &scan.sink.hits {
            by_rule.entry(h.rule.as_str()).or_default().push(h);
        }
        for hits in by_rule.into_values() {
            findings.extend(hits.iter().map(|h| finding(engines, h, &display)));
        }
        errors.extend(scan.stats.warnings.iter().cloned());
        errors.extend(scan.stats.error.iter().cloned());
        stats.push(scan.stats);
    }
    // Matches left out by the caps: counted on the rule's last finding (in time order).
    let dropped = shared.dropped.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    for (rule, n) in dropped {
        if let Some(f) = findings.iter_mut().filter(|f| f.rule == rule).max_by_key(|f| f.time) {
            f.details.insert("more".into(), serde_json::json!(n));
        }
    }
    let host_name = computers.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|(c, _)| c);
    EventOutput { findings, stats, errors, host_name }
}

fn details_of(event: &Event, display_source: &str) -> BTreeMap<String, serde_json::Value> {
    let mut d = BTreeMap::new();
    put(&mut d, "source", display_source);
    let file_event = event.event_id().is_some_and(|id| FILE_EVENT_IDS.contains(&id));
    d.insert("check".into(), serde_json::json!(if file_event { checks::EVENT_FILE } else { checks::EVENT }));
    if let Some(id) = event.event_id() {
        d.insert("event_id".into(), serde_json::json!(id));
    }
    put(&mut d, "channel", event.channel());
    put(&mut d, "provider", event.provider());
    put(&mut d, "computer", event.computer());
    for name in SHOWN {
        if let Some(v) = event.get(name).filter(|v| !v.is_empty() && *v != "-") {
            put(&mut d, &name.to_lowercase().replace(' ', "_"), &truncate(v, MAX_DETAIL));
        }
    }
    if event.log_source() == "exchange-management"
        && let Some(v) = event.get("Data")
    {
        put(&mut d, "cmdlet", &truncate(&v.replace('\n', " "), MAX_DETAIL));
    }
    d
}

fn excerpt(event: &Event) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(id) = event.event_id() {
        parts.push(format!("EventID {id} {}", event.channel()));
    }
    for name in SHOWN {
        if let Some(v) = event.get(name).filter(|v| !v.is_empty() && *v != "-") {
            parts.push(format!("{name}={v}"));
        }
    }
    if event.log_source() == "exchange-management"
        && let Some(v) = event.get("Data")
    {
        parts.push(v.replace('\n', " "));
    }
    truncate(&parts.join(" | "), crate::readers::MAX_EXCERPT)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn finding(engines: &Engines<'_>, h: &Hit, display: &str) -> Finding {
    let source = match h.event.log_source() {
        "exchange-management" => "exchange-management".to_string(),
        _ => format!("evtx:{}", h.event.channel()),
    };
    let loc = match h.locator {
        Locator::Record(n) => format!("r{n}"),
        Locator::Line(n) => format!("l{n}"),
        Locator::Offset(n) => format!("o{n}"),
    };
    let evidence = vec![Evidence {
        path: display.to_string(),
        locator: Some(h.locator),
        sha256: None,
        excerpt: Some(excerpt(&h.event)),
    }];
    let mut details = details_of(&h.event, &source);
    match (&h.sigma, engines.kb.rules.get(&h.rule)) {
        (None, Some(rule)) => from_rule(rule, &[display, &loc], h.event.time, evidence, details),
        (Some((rule, selections)), _) => {
            if !selections.is_empty() {
                details.insert("sigma_selections".into(), serde_json::json!(selections));
            }
            from_sigma(rule, &[display, &loc], h.event.time, evidence, details)
        }
        (None, None) => custom(
            &h.rule,
            &[display, &loc],
            FindingKind::Context,
            Severity::Info,
            format!("Rule {} matched", h.rule),
            h.event.time,
            evidence,
            "",
            details,
        ),
    }
}
