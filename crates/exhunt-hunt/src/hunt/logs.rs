//! The log half of the hunt: every log file read once, in parallel, behind the rules' literal prefilter and an IOC
//! prefilter; hits become findings grouped by (rule, file, client IP). The web logs' requests that could be to a web
//! shell are kept on the way ([`KeptRequests`]) for the correlation, which never reads a log again.

use super::findings::{custom, from_rule, from_sigma, put, sigma_id};
use super::requests::{FileRequests, KeptRequests, Limits};
use super::{Engines, HuntOptions, Progress};
use crate::discover::Layout;
use crate::evidence::EvidenceSource;
use crate::readers::{self, FileStats, LogFile, LogKind, Record, RecordSink};
use exhunt_detect::{Candidates, Fields, SigmaRuleInfo};
use exhunt_kb::ioc::{IocKind, normalize_user_agent};
use exhunt_model::{ErrorRecord, Evidence, Finding, FindingKind, Severity, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::AtomicUsize;

/// Evidence items kept per grouped finding; the count of all is in `details.count`.
pub const MAX_EVIDENCE_PER_FINDING: usize = 1000;

/// Field names of the facts a finding reports, per log kind.
pub(crate) struct FieldNames {
    pub ip: &'static str,
    pub ua: &'static str,
    pub url: &'static str,
    pub query: &'static str,
    pub status: &'static str,
    pub method: &'static str,
    pub user: &'static str,
}

pub(crate) fn field_names(kind: LogKind) -> Option<FieldNames> {
    match kind {
        LogKind::Iis => Some(FieldNames {
            ip: "c-ip",
            ua: "cs(User-Agent)",
            url: "cs-uri-stem",
            query: "cs-uri-query",
            status: "sc-status",
            method: "cs-method",
            user: "cs-username",
        }),
        LogKind::HttpProxy => Some(FieldNames {
            ip: "ClientIpAddress",
            ua: "UserAgent",
            url: "UrlStem",
            query: "UrlQuery",
            status: "HttpStatus",
            method: "Method",
            user: "AuthenticatedUser",
        }),
        _ => None,
    }
}

/// Parses a client address as logs write it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:443`, `::1`, with spaces or a
/// list (`a, b`: the first is taken).
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.split([',', ';']).next()?.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, _port) = s.rsplit_once(':')?;
    host.parse().ok()
}

/// One line that matched something.
#[derive(Clone, Debug)]
pub(crate) struct LogHit {
    pub rules: Vec<String>,
    pub line: u64,
    pub time: Option<Timestamp>,
    pub evidence: Evidence,
    pub ip: String,
    pub ua: String,
    pub url: String,
    pub query: String,
    pub status: String,
    pub method: String,
    pub user: String,
    /// IOC matches on the line: (kind, pack id, value, cite).
    pub iocs: Vec<(IocKind, String, String, String)>,
}

struct Sink<'e> {
    engines: &'e Engines<'e>,
    source: &'static str,
    candidates: Candidates,
    ioc_candidate: bool,
    hits: Vec<LogHit>,
    /// `ServerHostName` / `ServerName` values seen, for the host name.
    servers: HashMap<String, u64>,
    /// Records still to sample for the server's name (counts down to 0; checked on every line, so kept as a number).
    server_samples: u32,
    server_field: Option<&'static str>,
    kind: LogKind,
    /// Sigma `webserver` rules run on this file's records: every record is parsed (no literal prefilter).
    sigma_web: bool,
    /// Each Sigma rule that matched, by `SIGMA-<id>`.
    sigma_info: HashMap<String, &'e SigmaRuleInfo>,
    /// Web logs: the requests kept for the correlation (every record is handed over for them).
    requests: Option<FileRequests<'e>>,
    /// The current record is wanted by a rule, the IOC prefilter, Sigma or the server-name sampling, not only for
    /// the kept requests.
    for_rules: bool,
}

impl<'e> RecordSink for Sink<'e> {
    fn want(&mut self, _kind: LogKind, raw: &[u8]) -> bool {
        self.candidates = self.engines.log.prefilter(self.source, raw);
        self.ioc_candidate = field_names(self.kind).is_some() && self.engines.ioc.may_match_line(raw);
        // The first records of a file name the server; cheap to take them all (they are few per file).
        let want_server = self.server_samples > 0;
        self.for_rules = !self.candidates.is_empty() || self.ioc_candidate || want_server || self.sigma_web;
        self.for_rules || self.requests.is_some()
    }

    fn record(&mut self, r: &Record<'_>) {
        if let Some(kept) = &mut self.requests {
            kept.see(r);
        }
        if !self.for_rules {
            return;
        }
        if self.server_samples > 0 {
            // Counted whether or not the field is there, so that a log without it stops being sampled.
            self.server_samples -= 1;
            if let Some(v) = self.server_field.and_then(|f| r.get(f)).filter(|v| !v.is_empty()) {
                *self.servers.entry(v.to_string()).or_default() += 1;
            }
        }
        let mut rules: Vec<String> = if self.candidates.is_empty() {
            Vec::new()
        } else {
            self.engines.log.eval(&self.candidates, r).into_iter().map(str::to_string).collect()
        };
        if self.sigma_web {
            let engines: &'e Engines<'e> = self.engines;
            for h in engines.sigma.eval_web(self.source, r) {
                let id = sigma_id(h.rule);
                self.sigma_info.entry(id.clone()).or_insert(h.rule);
                rules.push(id);
            }
        }
        let names = field_names(self.kind);
        let get =
            |f: fn(&FieldNames) -> &'static str| names.as_ref().and_then(|n| r.get(f(n))).unwrap_or("").to_string();
        let mut iocs = Vec::new();
        if self.ioc_candidate {
            let iocset = &self.engines.ioc;
            if let Some(ip) = parse_ip(&get(|n| n.ip)) {
                for h in iocset.match_ip(ip) {
                    iocs.push((IocKind::Ip, h.pack_id().to_string(), h.value().to_string(), h.cite()));
                }
            }
            let ua = get(|n| n.ua);
            if !ua.is_empty() {
                for h in iocset.match_user_agent(&normalize_user_agent(&ua)) {
                    iocs.push((IocKind::UserAgent, h.pack_id().to_string(), h.value().to_string(), h.cite()));
                }
            }
        }
        if rules.is_empty() && iocs.is_empty() {
            return;
        }
        self.hits.push(LogHit {
            rules,
            line: r.line,
            time: r.time,
            evidence: r.evidence(),
            ip: get(|n| n.ip),
            ua: get(|n| n.ua),
            url: get(|n| n.url),
            query: get(|n| n.query),
            status: get(|n| n.status),
            method: get(|n| n.method),
            user: get(|n| n.user),
            iocs,
        });
    }
}

/// What the log half produced.
pub(crate) struct LogOutput {
    pub findings: Vec<Finding>,
    pub stats: Vec<FileStats>,
    pub errors: Vec<ErrorRecord>,
    pub host_name: Option<String>,
    /// The web logs' requests that could be to a web shell, for the correlation.
    pub requests: KeptRequests,
}

pub(crate) fn hunt_logs(
    source: &dyn EvidenceSource,
    layout: &Layout,
    engines: &Engines<'_>,
    opts: &HuntOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> LogOutput {
    let (files, mut errors) = layout.log_files(source);
    let total: u64 = files.iter().map(|f| f.file.size).sum();
    let done = std::sync::atomic::AtomicU64::new(0);
    let limits = Limits::default();
    let held = AtomicUsize::new(0);
    let sigma_web = engines.sigma.rules().iter().any(|r| r.logsource.contains("category:webserver"));
    let scans = readers::scan(source, files, &opts.read, |f| {
        let d = done.fetch_add(f.file.size, std::sync::atomic::Ordering::Relaxed) + f.file.size;
        progress(Progress::Bytes { done: d, total });
        Sink {
            engines,
            source: f.kind.as_str(),
            candidates: Candidates::default(),
            ioc_candidate: false,
            hits: Vec::new(),
            servers: HashMap::new(),
            server_samples: if matches!(f.kind, LogKind::HttpProxy | LogKind::EcpServer) { 8 } else { 0 },
            server_field: match f.kind {
                LogKind::HttpProxy => Some("ServerHostName"),
                LogKind::EcpServer => Some("ServerName"),
                _ => None,
            },
            kind: f.kind,
            sigma_web: sigma_web && matches!(f.kind, LogKind::Iis | LogKind::HttpProxy),
            sigma_info: HashMap::new(),
            requests: FileRequests::new(f.kind, limits, &held),
            for_rules: false,
        }
    });
    let mut findings = Vec::new();
    let mut stats = Vec::new();
    let mut servers: HashMap<String, u64> = HashMap::new();
    let mut requests = Vec::new();
    for mut scan in scans {
        requests.extend(scan.sink.requests.take());
        if let Some(e) = &scan.stats.error {
            errors.push(e.clone());
        }
        for (k, v) in scan.sink.servers {
            *servers.entry(k).or_default() += v;
        }
        findings.extend(group_hits(engines, &scan.file, scan.sink.hits, &scan.sink.sigma_info));
        stats.push(scan.stats);
    }
    let host_name = servers.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|(k, _)| {
        // `EX01.contoso.local` → `EX01`: the short name is what admins call the server.
        k.split('.').next().unwrap_or(&k).to_string()
    });
    let requests = KeptRequests::join(requests, limits);
    LogOutput { findings, stats, errors, host_name, requests }
}

/// Groups a file's hits into findings: one per (rule, client IP); IOC-only lines one per (IOC kind, client IP).
fn group_hits(
    engines: &Engines<'_>,
    file: &LogFile,
    hits: Vec<LogHit>,
    sigma: &HashMap<String, &SigmaRuleInfo>,
) -> Vec<Finding> {
    let mut groups: BTreeMap<(String, String), Vec<&LogHit>> = BTreeMap::new();
    for h in &hits {
        if h.rules.is_empty() {
            let kind = if h.iocs.iter().any(|i| i.0 == IocKind::Ip) { "EXH-IOC-IP" } else { "EXH-IOC-UA" };
            groups.entry((kind.to_string(), h.ip.clone())).or_default().push(h);
        }
        for r in &h.rules {
            groups.entry((r.clone(), h.ip.clone())).or_default().push(h);
        }
    }
    let mut out = Vec::new();
    for ((rule_id, ip), hs) in groups {
        let first = hs[0];
        let times: Vec<Timestamp> = hs.iter().filter_map(|h| h.time).collect();
        let (t0, t1) = (times.iter().min().copied(), times.iter().max().copied());
        let evidence: Vec<Evidence> = hs.iter().take(MAX_EVIDENCE_PER_FINDING).map(|h| h.evidence.clone()).collect();
        let mut details: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        put(&mut details, "source", file.kind.as_str());
        details.insert("check".into(), serde_json::json!(format!("log:{}", file.kind.as_str())));
        put(&mut details, "client_ip", &ip);
        put(&mut details, "user_agent", &first.ua);
        put(&mut details, "url", &first.url);
        put(&mut details, "query", &first.query);
        put(&mut details, "status", &first.status);
        put(&mut details, "method", &first.method);
        put(&mut details, "user", &first.user);
        details.insert("count".into(), serde_json::json!(hs.len()));
        if let Some(t) = t1 {
            details.insert("last_time".into(), serde_json::json!(t.to_string()));
        }
        let mut iocs: Vec<String> =
            hs.iter().flat_map(|h| h.iocs.iter().map(|i| format!("{}: {} ({})", i.1, i.2, i.3))).collect();
        iocs.sort();
        iocs.dedup();
        if !iocs.is_empty() {
            details.insert("ioc".into(), serde_json::json!(iocs));
        }
        let first_line = first.line.to_string();
        let parts = [file.file.display.as_str(), ip.as_str(), first_line.as_str()];
        if let Some(rule) = sigma.get(&rule_id) {
            out.push(from_sigma(rule, &parts, t0, evidence, details));
            continue;
        }
        match engines.kb.rules.get(&rule_id) {
            Some(rule) => out.push(from_rule(rule, &parts, t0, evidence, details)),
            None => {
                let (title, what) = if rule_id == "EXH-IOC-IP" {
                    (format!("Requests from an address in a published IOC list ({ip})"), "address")
                } else {
                    (format!("Requests with a user agent from a published IOC list ({})", first.ua), "user agent")
                };
                out.push(custom(
                    &rule_id,
                    &parts,
                    FindingKind::Exploitation,
                    Severity::Medium,
                    title,
                    t0,
                    evidence,
                    &format!(
                        "This {what} was used by the groups that exploited Exchange in 2021. Check what it requested \
                         (the evidence lines) and whether any request succeeded; block it at the firewall."
                    ),
                    details,
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses_as_logs_write_them() {
        assert_eq!(parse_ip("203.0.113.9"), "203.0.113.9".parse().ok());
        assert_eq!(parse_ip("203.0.113.9:4431"), "203.0.113.9".parse().ok());
        assert_eq!(parse_ip("[2001:db8::1]:443"), "2001:db8::1".parse().ok());
        assert_eq!(parse_ip("2001:db8::1"), "2001:db8::1".parse().ok());
        assert_eq!(parse_ip("198.51.100.1, 10.0.0.1"), "198.51.100.1".parse().ok());
        assert_eq!(parse_ip("-"), None);
    }
}
