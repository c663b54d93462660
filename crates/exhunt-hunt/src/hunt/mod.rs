//! The hunt of one host: discovery → logs → files → correlation → verdict, coverage and next steps. Every log is
//! read once: the correlation works from the web-log requests the log pass kept.
//!
//! [`Engines`] holds everything compiled once per run (log, path and file rules, the IOC index and its prefilter) and is shared by
//! every host. [`hunt_host`] reads one [`EvidenceSource`] and returns a [`HostResult`]: the findings, the host report
//! and the error records. Detection itself is in `exhunt-detect`; this module only reads evidence, asks the engines,
//! and turns their answers into findings with evidence that a person can go and look at.

mod baseline;
mod correlate;
mod coverage;
mod events;
mod files;
mod findings;
mod logs;
mod requests;
mod story;

pub use baseline::{Baseline, BaselineSet};
pub use files::check_bytes;
pub use findings::finding_id;
pub(crate) use logs::parse_ip as parse_client_ip;
pub use story::{incident, stage_of};

use crate::discover::{self, Layout};
use crate::evidence::EvidenceSource;
use crate::readers::ReadOptions;
use crate::verdict;
use exhunt_detect::{FileRules, IocIndex, LogRules, PathRules, SigmaRules};
use exhunt_kb::{Diagnostic, Kb};
use exhunt_model::{BuildSpan, ErrorRecord, Finding, HostReport, HostVerdict, Incident, Severity, Timestamp};
use std::collections::BTreeMap;

/// Everything compiled once per run.
pub struct Engines<'k> {
    pub kb: &'k Kb,
    pub log: LogRules,
    pub path: PathRules,
    pub file: FileRules,
    /// Sigma rules from `--sigma` folders (none built in: SigmaHQ's rules are the user's to bring).
    pub sigma: SigmaRules,
    /// The IOC packs indexed for matching, with the log lines' prefilter.
    pub ioc: IocIndex<'k>,
}

impl<'k> Engines<'k> {
    /// Compiles the rules of `kb`; what does not compile is returned (and left out).
    pub fn new(kb: &'k Kb) -> (Engines<'k>, Vec<Diagnostic>) {
        let (log, mut d) = LogRules::new(kb);
        let (path, d2) = PathRules::new(kb);
        let (file, d3) = FileRules::new(kb);
        d.extend(d2);
        d.extend(d3);
        let ioc = IocIndex::new(&kb.iocs);
        (Engines { kb, log, path, file, sigma: SigmaRules::empty(), ioc }, d)
    }
}

/// How to hunt.
#[derive(Clone, Debug)]
pub struct HuntOptions {
    /// The window of interest: coverage is judged against it (default 2020-12-01 to now).
    pub window: [Timestamp; 2],
    /// The host's name; default: the name the logs give, else the evidence folder's name.
    pub host: Option<String>,
    pub read: ReadOptions,
    /// Microsoft's known-good hashes per build (`--baseline`).
    pub baselines: BaselineSet,
    /// Largest file whose content is scanned; larger files are only checked by path and name.
    pub max_scan_bytes: u64,
}

impl Default for HuntOptions {
    fn default() -> Self {
        let start = Timestamp::parse_rfc3339("2020-12-01T00:00:00Z").expect("invariant: a valid constant");
        let now_s = time::OffsetDateTime::now_utc().unix_timestamp();
        let now = Timestamp::new(
            time::OffsetDateTime::from_unix_timestamp(now_s).expect("invariant: the current time is representable"),
        );
        HuntOptions {
            window: [start, now],
            host: None,
            read: ReadOptions::default(),
            baselines: BaselineSet::default(),
            max_scan_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What the hunt of one host produced.
#[derive(Clone, Debug)]
pub struct HostResult {
    pub report: HostReport,
    /// Sorted by severity (worst first), then time, then id.
    pub findings: Vec<Finding>,
    /// The host's compromise told across sources, when its findings tell one.
    pub incident: Option<Incident>,
    pub errors: Vec<ErrorRecord>,
}

/// Progress events, for a progress bar.
#[derive(Clone, Debug)]
pub enum Progress {
    Phase(&'static str),
    /// Bytes of log or file content read so far in the current phase, and the total expected.
    Bytes {
        done: u64,
        total: u64,
    },
}

/// Hunts one host's evidence.
pub fn hunt_host(
    source: &dyn EvidenceSource,
    engines: &Engines<'_>,
    opts: &HuntOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> HostResult {
    let mut errors: Vec<ErrorRecord> = source.errors().to_vec();
    progress(Progress::Phase("discovering"));
    let disc = discover::discover(source);
    errors.extend(disc.warnings.iter().cloned());
    let layout: Layout = disc.layout;

    progress(Progress::Phase("reading logs"));
    let log_out = logs::hunt_logs(source, &layout, engines, opts, progress);
    errors.extend(log_out.errors.iter().cloned());

    progress(Progress::Phase("reading events"));
    let event_out = events::hunt_events(source, &layout, engines, progress);
    errors.extend(event_out.errors.iter().cloned());
    let host = opts
        .host
        .clone()
        .or_else(|| log_out.host_name.clone())
        .or_else(|| event_out.host_name.as_ref().map(|c| c.split('.').next().unwrap_or(c).to_uppercase()))
        .unwrap_or_else(|| host_from_path(source.name()));

    progress(Progress::Phase("checking files"));
    let builds = build_spans(&layout, &log_out);
    let newest_build = builds.iter().max_by_key(|b| b.last_seen).map(|b| b.build);
    let mut file_out = files::hunt_files(source, &layout, engines, opts, newest_build, progress);
    errors.extend(file_out.errors.iter().cloned());

    progress(Progress::Phase("correlating"));
    let mut findings: Vec<Finding> = Vec::new();
    findings.extend(log_out.findings);
    findings.append(&mut file_out.findings);
    findings.extend(event_out.findings);
    let corr = correlate::correlate(source, &layout, engines, &findings, &log_out.requests);
    errors.extend(corr.errors.iter().cloned());
    findings.extend(corr.findings);
    grade_by_context(&mut findings);
    for f in &mut findings {
        f.host = Some(host.clone());
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.time.cmp(&b.time)).then(a.id.cmp(&b.id)));
    findings.dedup_by(|b, a| a.id == b.id);

    let tags = |id: &str| engines.kb.rules.get(id).map(|r| r.tags.clone()).unwrap_or_default();
    let incident = story::incident(&host, &findings, &tags);
    let (mut v, mut reason, mut deciding) = verdict::decide(&findings, &builds, &engines.kb.catalog);
    if let Some(inc) = incident.as_ref().filter(|i| i.used && v != HostVerdict::BackdoorUsed) {
        // The story shows use that no single finding decides: a back door in place, then activity after it.
        let stages: Vec<&str> = inc.stages.iter().map(|s| s.as_str()).collect();
        reason = format!("the attack chain across sources shows the back door in use ({})", stages.join(" → "));
        deciding = inc.steps.iter().flat_map(|s| s.findings.iter().take(3).cloned()).collect();
        v = HostVerdict::BackdoorUsed;
    }
    let build_verdict = newest_build.map(|b| engines.kb.catalog.verdict(&b));
    let patched = build_verdict.as_ref().map(|bv| {
        bv.chains
            .iter()
            .all(|c| matches!(c.status, exhunt_model::ChainStatus::Fixed | exhunt_model::ChainStatus::NotAffected))
    });
    let mut counts: BTreeMap<Severity, u64> = BTreeMap::new();
    for f in &findings {
        *counts.entry(f.severity).or_default() += 1;
    }
    let coverage = coverage::coverage(&layout, &log_out.stats, &file_out, &event_out.stats, opts);
    let exposure = exposure(&builds, &engines.kb.catalog);
    let report = HostReport {
        host,
        evidence: vec![source.name().to_string()],
        verdict: v,
        reason,
        deciding,
        builds,
        exposure,
        build_verdict,
        window: opts.window,
        coverage,
        counts,
        errors: errors.len() as u64,
        next_steps: verdict::next_steps(v, &findings, patched),
    };
    HostResult { report, findings, incident, errors }
}

fn host_from_path(name: &str) -> String {
    let p = std::path::Path::new(name);
    let stem = p.file_stem().or_else(|| p.file_name()).map(|s| s.to_string_lossy().to_string());
    stem.filter(|s| !s.is_empty() && s != ".").unwrap_or_else(|| "host".to_string())
}

/// Builds over time: from the HttpProxy version columns (every line records it) and from the registry.
fn build_spans(layout: &Layout, logs: &logs::LogOutput) -> Vec<BuildSpan> {
    let mut by_build: BTreeMap<exhunt_model::Build, BuildSpan> = BTreeMap::new();
    for s in &logs.stats {
        for b in &s.builds {
            let e = by_build.entry(b.build).or_insert_with(|| BuildSpan {
                build: b.build,
                source: "httpproxy-log".into(),
                first_seen: None,
                last_seen: None,
            });
            if let Some(t) = b.first
                && e.first_seen.is_none_or(|f| t < f)
            {
                e.first_seen = Some(t);
            }
            if let Some(t) = b.last
                && e.last_seen.is_none_or(|l| t > l)
            {
                e.last_seen = Some(t);
            }
        }
    }
    let mut spans: Vec<BuildSpan> = by_build.into_values().collect();
    if let Some(b) = layout.exchange.as_ref().and_then(|x| x.build) {
        match spans.iter_mut().find(|s| s.build == b) {
            Some(s) => s.source.push_str("+registry"),
            None => spans.push(BuildSpan { build: b, source: "registry".into(), first_seen: None, last_seen: None }),
        }
    }
    spans.sort_by_key(|s| (s.first_seen.is_none(), s.first_seen, s.build));
    spans
}

/// Per chain: the first time a vulnerable build was seen and the first time a fixed build followed it.
fn exposure(builds: &[BuildSpan], catalog: &exhunt_kb::Catalog) -> Vec<exhunt_model::Exposure> {
    use exhunt_model::{Chain, ChainStatus, Exposure};
    let timed: Vec<(&BuildSpan, Timestamp)> = {
        let mut v: Vec<(&BuildSpan, Timestamp)> = builds.iter().filter_map(|b| b.first_seen.map(|t| (b, t))).collect();
        v.sort_by_key(|(_, t)| *t);
        v
    };
    if timed.is_empty() {
        return Vec::new();
    }
    Chain::ALL
        .iter()
        .map(|chain| {
            let status = |b: &BuildSpan| catalog.verdict(&b.build).chain(*chain).map(|c| c.status);
            let vulnerable_from = timed.iter().find(|(b, _)| status(b) == Some(ChainStatus::Vulnerable)).map(|(_, t)| *t);
            let fixed_at = vulnerable_from.and_then(|v| {
                timed.iter().find(|(b, t)| *t > v && status(b) == Some(ChainStatus::Fixed)).map(|(_, t)| *t)
            });
            let last = timed.last().and_then(|(b, _)| status(b));
            let summary = match (vulnerable_from, fixed_at) {
                (Some(v), Some(f)) => {
                    let days = (f.unix() - v.unix()) as f64 / 86400.0;
                    format!("{chain}: vulnerable from at least {v} until it was patched at {f} ({days:.1} days seen exposed)")
                }
                (Some(v), None) => format!("{chain}: vulnerable from at least {v} and still vulnerable at the last record"),
                (None, _) if last == Some(ChainStatus::Fixed) => format!("{chain}: fixed in every build seen"),
                (None, _) if last == Some(ChainStatus::NotAffected) => format!("{chain}: not affected"),
                (None, _) => format!("{chain}: the builds seen do not say"),
            };
            Exposure { chain: *chain, vulnerable_from, fixed_at, summary }
        })
        .collect()
}

/// Staging traces (archives and dumps in ProgramData, Temp, …) are `low` alone: backup agents, antivirus and
/// monitoring tools leave the same files. On a host where exploitation or a web shell was found at `high` or above,
/// the same traces are part of the story: they are raised to `medium`, saying why.
fn grade_by_context(findings: &mut [Finding]) {
    use exhunt_model::FindingKind;
    let compromised = findings
        .iter()
        .any(|f| f.severity >= Severity::High && matches!(f.kind, FindingKind::Exploitation | FindingKind::Webshell));
    if !compromised {
        return;
    }
    for f in findings.iter_mut() {
        let staging = matches!(f.kind, FindingKind::PostExploitation | FindingKind::CredentialAccess)
            && f.severity == Severity::Low
            && f.details.get("check").and_then(|v| v.as_str()) == Some("path");
        if staging {
            f.severity = Severity::Medium;
            f.details.insert(
                "graded".into(),
                serde_json::json!("raised from low: other findings on this host show exploitation or a web shell"),
            );
        }
    }
}
