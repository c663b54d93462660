//! Sigma rules, unchanged, on Windows events and on IIS / Exchange HttpProxy logs, evaluated by
//! [rsigma](https://github.com/timescale/rsigma) (`rsigma-parser` + `rsigma-eval`).
//!
//! * Loading: [`SigmaRules::load_dirs`] reads every `*.yml`/`*.yaml` below the given folders;
//!   [`SigmaRules::from_sources`] takes text the caller read. Every document that does not parse or compile, and
//!   every correlation or filter rule, is a [`SigmaLoadFailure`] with its reason: nothing is skipped silently.
//! * Routing: each rule goes to one bucket by its `logsource` (`category:process_creation`, `service:security`,
//!   `category:webserver`, …), each bucket an rsigma [`Engine`] with its own candidate index. An event is evaluated
//!   only against the buckets its channel and event id belong to; a rule whose log source exhunt never reads
//!   (`category: proxy`, `product: linux`, …) loads but is listed by [`SigmaRules::unrouted`] and never evaluated.
//! * Field mapping: rules keep Sigma's names; a view over the event answers them from exhunt's names (Security
//!   4688's `NewProcessName` as `Image`, IIS's `cs(User-Agent)` as `cs-user-agent`, HttpProxy's `UrlStem` as
//!   `cs-uri-stem`, …). The tables are in `mapping.rs` and `docs/sigma.md`.
//!
//! ```
//! use exhunt_detect::{Event, sigma::SigmaRules};
//! let rule = r"
//! title: Whoami from a web server
//! id: 00000000-0000-0000-0000-000000000001
//! logsource: {product: windows, category: process_creation}
//! detection:
//!     selection:
//!         ParentImage|endswith: '\w3wp.exe'
//!         CommandLine|contains: 'whoami'
//!     condition: selection
//! level: high
//! ";
//! let (rules, failures) = SigmaRules::from_sources([("doc.yml".into(), rule.to_string())]);
//! assert!(failures.is_empty());
//! let mut event = Event::default();
//! for (k, v) in [("EventID", "4688"), ("Channel", "Security"), ("NewProcessName", r"C:\Windows\System32\cmd.exe"),
//!     ("ParentProcessName", r"c:\windows\system32\inetsrv\w3wp.exe"), ("CommandLine", "cmd /c whoami")] {
//!     event.push(k, v);
//! }
//! let hits = rules.eval_event(&event);
//! assert_eq!(hits[0].rule.id, "00000000-0000-0000-0000-000000000001");
//! ```

mod mapping;
mod view;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use exhunt_model::Severity;
use rsigma_eval::{Engine, EvaluationResult};
use rsigma_parser::{Level, SigmaRule};

use crate::{Event, Fields};
use mapping::View;
use view::{WebView, WinView};

/// The custom attribute that carries a compiled rule's index into [`SigmaRules::rules`] through rsigma's results.
const INDEX_ATTRIBUTE: &str = "exhunt.rule";

/// One loaded Sigma rule: what a hit reports about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaRuleInfo {
    /// Sigma `id`, or the file stem when the rule has none.
    pub id: String,
    pub title: String,
    /// From `level` (`informational` → [`Severity::Info`]); `medium` when the rule has no level.
    pub severity: Severity,
    /// `level` as the rule spells it, when present.
    pub level: Option<&'static str>,
    /// The file the rule was read from.
    pub path: PathBuf,
    pub tags: Vec<String>,
    /// The rule's `logsource` as `category:…`, `service:…`, `product:…`.
    pub logsource: String,
}

/// One field that took part in a match, as the engine reports it (keyword matches are not reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaField {
    /// The Sigma name (`Image`, `cs-uri-query`), not the record's own name.
    pub name: String,
    pub value: String,
}

/// A rule that matched one event or record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaHit<'r> {
    pub rule: &'r SigmaRuleInfo,
    /// The selections (named detections) that matched.
    pub selections: Vec<String>,
    pub fields: Vec<SigmaField>,
}

/// A rule file, or a document of one, that did not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaLoadFailure {
    pub path: PathBuf,
    /// The rule's title, when the document got far enough to have one.
    pub title: Option<String>,
    pub reason: String,
}

impl fmt::Display for SigmaLoadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(title) = &self.title {
            write!(f, " (`{title}`)")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A rule that loaded but whose log source exhunt never reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaUnrouted {
    pub rule: SigmaRuleInfo,
    pub reason: String,
}

/// Sigma rules compiled once, routed by log source.
#[derive(Default)]
pub struct SigmaRules {
    rules: Vec<SigmaRuleInfo>,
    buckets: HashMap<&'static str, Engine>,
    unrouted: Vec<SigmaUnrouted>,
}

impl fmt::Debug for SigmaRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigmaRules")
            .field("rules", &self.rules.len())
            .field("buckets", &self.buckets.keys().collect::<Vec<_>>())
            .field("unrouted", &self.unrouted.len())
            .finish()
    }
}

impl SigmaRules {
    /// No rules: every evaluation returns nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Rules that loaded and are evaluated (routed to a log source exhunt reads).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The routed rules, in load order.
    pub fn rules(&self) -> &[SigmaRuleInfo] {
        &self.rules
    }

    /// Rules that compiled but are never evaluated, with the reason (their log source is not one exhunt reads).
    pub fn unrouted(&self) -> &[SigmaUnrouted] {
        &self.unrouted
    }

    /// Loads every `*.yml` and `*.yaml` file below each folder (recursively, in path order; symbolic links are not
    /// followed). A folder or file that cannot be read is a failure like a rule that does not parse.
    pub fn load_dirs(dirs: &[&Path]) -> (SigmaRules, Vec<SigmaLoadFailure>) {
        let mut failures = Vec::new();
        let mut files = Vec::new();
        for dir in dirs {
            collect_yaml(dir, &mut files, &mut failures);
        }
        files.sort();
        let mut sources = Vec::with_capacity(files.len());
        for path in files {
            match std::fs::read_to_string(&path) {
                Ok(text) => sources.push((path, text)),
                Err(e) => failures.push(SigmaLoadFailure { path, title: None, reason: format!("cannot read: {e}") }),
            }
        }
        let (rules, more) = Self::from_sources(sources);
        failures.extend(more);
        (rules, failures)
    }

    /// Compiles rules from (path, YAML text) pairs; a file may hold several documents (`---`).
    pub fn from_sources(sources: impl IntoIterator<Item = (PathBuf, String)>) -> (SigmaRules, Vec<SigmaLoadFailure>) {
        let mut failures = Vec::new();
        let mut rules = Vec::new();
        let mut unrouted = Vec::new();
        let mut compiled: HashMap<&'static str, Vec<rsigma_eval::CompiledRule>> = HashMap::new();
        for (path, text) in sources {
            let fail = |title: Option<&str>, reason: String| SigmaLoadFailure {
                path: path.clone(),
                title: title.map(str::to_string),
                reason,
            };
            let collection = match rsigma_parser::parse_sigma_yaml(&text) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(fail(None, format!("does not parse: {e}")));
                    continue;
                }
            };
            for e in &collection.errors {
                failures.push(fail(None, format!("does not parse: {e}")));
            }
            for c in &collection.correlations {
                failures.push(fail(
                    Some(&c.title),
                    "correlation rule: exhunt evaluates each event on its own (no time windows)".to_string(),
                ));
            }
            for f in &collection.filters {
                failures.push(fail(Some(&f.title), "filter rule: Sigma filters are not applied".to_string()));
            }
            if collection.rules.is_empty()
                && collection.errors.is_empty()
                && collection.correlations.is_empty()
                && collection.filters.is_empty()
            {
                failures.push(fail(None, "no Sigma rule in the file".to_string()));
            }
            for rule in &collection.rules {
                let fixed = keyword_all_contains(rule);
                let mut c = match rsigma_eval::compile_rule(fixed.as_ref().unwrap_or(rule)) {
                    Ok(c) => c,
                    Err(e) => {
                        failures.push(fail(Some(&rule.title), format!("does not compile: {e}")));
                        continue;
                    }
                };
                let info = info(rule, &path);
                match mapping::bucket_of(&rule.logsource) {
                    Ok(bucket) => {
                        Arc::make_mut(&mut c.custom_attributes)
                            .insert(INDEX_ATTRIBUTE.to_string(), serde_json::Value::from(rules.len()));
                        rules.push(info);
                        compiled.entry(bucket).or_default().push(c);
                    }
                    Err(reason) => unrouted.push(SigmaUnrouted { rule: info, reason }),
                }
            }
        }
        let buckets = compiled
            .into_iter()
            .map(|(bucket, rules)| {
                let mut engine = Engine::new();
                engine.extend_compiled_rules(rules);
                (bucket, engine)
            })
            .collect();
        (SigmaRules { rules, buckets, unrouted }, failures)
    }

    /// The rules that match a Windows event, routed by its channel and event id (see `docs/sigma.md`).
    pub fn eval_event(&self, event: &Event) -> Vec<SigmaHit<'_>> {
        let mut hits = Vec::new();
        if self.buckets.is_empty() {
            return hits;
        }
        let (routes, n) = mapping::win_routes(event);
        for &(bucket, view) in &routes[..n] {
            let Some(engine) = self.buckets.get(bucket) else { continue };
            if bucket == mapping::EXCHANGE_MANAGEMENT {
                LINE.with_borrow_mut(|line| {
                    cmdlet_line(event, line);
                    self.collect(engine.evaluate(&WinView { event, view, line: Some(line) }), &mut hits);
                });
            } else {
                self.collect(engine.evaluate(&WinView { event, view, line: None }), &mut hits);
            }
        }
        hits
    }

    /// The `category: webserver` rules that match one web log record. `source` is the log kind: `iis` (fields
    /// named as in `#Fields:`) or `httpproxy` (Exchange HttpProxy CSV columns); other sources are not web server
    /// access logs and match nothing.
    pub fn eval_web(&self, source: &str, record: &dyn Fields) -> Vec<SigmaHit<'_>> {
        let mut hits = Vec::new();
        let view = match source {
            "iis" => View::Iis,
            "httpproxy" => View::HttpProxy,
            _ => return hits,
        };
        if let Some(engine) = self.buckets.get(mapping::WEBSERVER) {
            LINE.with_borrow_mut(|target| {
                view::request_target(record, view, target);
                self.collect(engine.evaluate(&WebView { record, view, target }), &mut hits);
            });
        }
        hits
    }

    fn collect<'r>(&'r self, results: Vec<EvaluationResult>, hits: &mut Vec<SigmaHit<'r>>) {
        for result in results {
            let Some(rule) = result
                .header
                .custom_attributes
                .get(INDEX_ATTRIBUTE)
                .and_then(serde_json::Value::as_u64)
                .and_then(|i| self.rules.get(usize::try_from(i).ok()?))
            else {
                continue;
            };
            let (selections, fields) = match result.as_detection() {
                Some(d) => (
                    d.matched_selections.clone(),
                    d.matched_fields
                        .iter()
                        .map(|m| SigmaField {
                            name: m.field.clone(),
                            value: match &m.value {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            },
                        })
                        .collect(),
                ),
                None => (Vec::new(), Vec::new()),
            };
            hits.push(SigmaHit { rule, selections, fields });
        }
    }
}

/// Field-less `'|all':` items (`keywords: {'|all': [a, b]}`) as the Sigma specification reads them: every keyword
/// is searched for as a substring, like the values of a plain keyword list. rsigma 0.23 lowers such an item with
/// the default exact match, so that SigmaHQ's MSExchange Management rules could never fire; the parsed rule (never
/// the file) gets the `contains` modifier. A value must still hold every keyword of the item (rsigma evaluates a
/// field-less item against one value at a time); see `cmdlet_line` for the value that makes that hold.
fn keyword_all_contains(rule: &SigmaRule) -> Option<SigmaRule> {
    use rsigma_parser::{Detection, DetectionItem, Modifier};
    fn wants(i: &DetectionItem) -> bool {
        i.field.name.is_none()
            && i.field.modifiers.contains(&Modifier::All)
            && !i
                .field
                .modifiers
                .iter()
                .any(|m| matches!(m, Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith | Modifier::Re))
    }
    fn needs(d: &Detection) -> bool {
        match d {
            Detection::AllOf(items) => items.iter().any(wants),
            Detection::AnyOf(ds) => ds.iter().any(needs),
            _ => false,
        }
    }
    fn fix(d: &mut Detection) {
        match d {
            Detection::AllOf(items) => {
                for i in items.iter_mut().filter(|i| wants(i)) {
                    i.field.modifiers.insert(0, Modifier::Contains);
                }
            }
            Detection::AnyOf(ds) => ds.iter_mut().for_each(fix),
            _ => {}
        }
    }
    if !rule.detection.named.values().any(needs) {
        return None;
    }
    let mut rule = rule.clone();
    rule.detection.named.values_mut().filter(|d| needs(d)).for_each(fix);
    Some(rule)
}

thread_local! {
    /// The one string a web record or an MSExchange Management event needs built, reused so that evaluation
    /// allocates nothing of its own.
    static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// An MSExchange Management event's cmdlet as typed: `Data1` (the cmdlet) and `Data2` (its parameters) joined by
/// a space (`New-MailboxExportRequest -Mailbox "x" -FilePath …`), as the event's rendered message shows it.
fn cmdlet_line(event: &Event, out: &mut String) {
    out.clear();
    out.push_str(event.get("Data1").unwrap_or(""));
    if let Some(params) = event.get("Data2") {
        out.push(' ');
        out.push_str(params);
    }
}

fn info(rule: &SigmaRule, path: &Path) -> SigmaRuleInfo {
    let id = rule
        .id
        .clone()
        .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let ls = &rule.logsource;
    let logsource = [("category", &ls.category), ("service", &ls.service), ("product", &ls.product)]
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| format!("{k}:{v}")))
        .collect::<Vec<_>>()
        .join(" ");
    SigmaRuleInfo {
        id,
        title: rule.title.clone(),
        severity: severity(rule.level),
        level: rule.level.map(|l| l.as_str()),
        path: path.to_path_buf(),
        tags: rule.tags.clone(),
        logsource,
    }
}

/// Sigma `level` → exhunt's severity; a rule without a level is `medium` (Sigma's own default for triage).
pub fn severity(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Informational) => Severity::Info,
        Some(Level::Low) => Severity::Low,
        None | Some(Level::Medium) => Severity::Medium,
        Some(Level::High) => Severity::High,
        Some(Level::Critical) => Severity::Critical,
    }
}

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|x| x.eq_ignore_ascii_case("yml") || x.eq_ignore_ascii_case("yaml"))
}

fn collect_yaml(dir: &Path, files: &mut Vec<PathBuf>, failures: &mut Vec<SigmaLoadFailure>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            failures.push(SigmaLoadFailure {
                path: dir.to_path_buf(),
                title: None,
                reason: format!("cannot read folder: {e}"),
            });
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                failures.push(SigmaLoadFailure {
                    path: dir.to_path_buf(),
                    title: None,
                    reason: format!("cannot read folder: {e}"),
                });
                continue;
            }
        };
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect_yaml(&path, files, failures),
            Ok(t) if t.is_file() && is_yaml(&path) => files.push(path),
            _ => {}
        }
    }
}
