//! The shipped log rules against the lab's synthetic evidence (`exhunt-lab`), scenario by scenario.
//!
//! For each scenario and seed the test writes a small triage folder, reads every HttpProxy, ECP server, OAB
//! generator and IIS log in it with the small splitters below (the hunt's real readers live in `exhunt-hunt`; this
//! test must not depend on them), runs [`LogRules`] over every record and compares with `truth.jsonl`:
//!
//! * every `required` expect of a log check the rules cover is matched, on its own line, by some rule at or above
//!   the expect's `min_severity`;
//! * no line that `truth.jsonl` does not list is matched by a rule above `low` (the background's hard negatives:
//!   GETs of the logon resources, `POST /owa/auth/logon.aspx`, `Cmd=Sync`, a mailbox called `serverinfo`, scanners'
//!   404s, an administrator's ECP work and benign OAB download failures).
//!
//! `cargo test -p exhunt-detect --test lab_rules -- --nocapture` prints one line per folder.

use exhunt_detect::{FileRules, LogRules, PathRules};
use exhunt_kb::Kb;
use exhunt_lab::{EvidenceOptions, Scenario};
use exhunt_model::Severity;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Checks whose planted lines are log records the log rules are meant to find.
const LOG_CHECKS: [&str; 5] =
    ["cve-2021-26855", "cve-2021-26855-probe", "cve-2021-27065", "cve-2021-26858", "webshell-request"];

/// Small folders (the lab's minimum is 256 KiB of logs), several seeds: seed 9 puts a shell in owa\auth.
const SIZE: u64 = 300_000;
const SEEDS: [u64; 4] = [1, 7, 9, 11];

fn kb_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb")
}

/// One planted trace from `truth.jsonl`.
#[derive(Debug)]
struct Expect {
    id: String,
    check: String,
    path: String,
    line: Option<u64>,
    min_severity: Severity,
    required: bool,
}

fn read_truth(dir: &Path) -> Vec<Expect> {
    let text = std::fs::read_to_string(dir.join("truth.jsonl")).expect("the lab writes truth.jsonl");
    let mut out = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("truth.jsonl holds JSON lines");
        if v["type"] != "expect" {
            continue;
        }
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        out.push(Expect {
            id: s("id"),
            check: s("check"),
            path: s("path"),
            line: v["line"].as_u64(),
            min_severity: Severity::from_str(&s("min_severity")).expect("a known severity"),
            required: v["required"].as_bool().unwrap_or(true),
        });
    }
    out
}

/// Which log source a file under the triage folder is, by its path (`/` separators, relative to the folder).
fn source_of(rel: &str) -> Option<&'static str> {
    let lower = rel.to_ascii_lowercase();
    if lower.contains("/logging/httpproxy/") {
        Some("httpproxy")
    } else if lower.contains("/logging/ecp/server/") {
        Some("ecp-server")
    } else if lower.contains("/logging/oabgeneratorlog/") {
        Some("oab-generator")
    } else if lower.contains("/inetpub/logs/logfiles/") {
        Some("iis")
    } else {
        None
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("readable folder").map(|e| e.expect("readable entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Splits one CSV record (RFC 4180 quoting, no line breaks inside fields, which the lab never writes).
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

/// A record as the rules see it: fields by header name, then `_raw`.
type Record = Vec<(String, String)>;

/// The records of one log file with their 1-based line numbers (header lines counted, as `truth.jsonl` counts).
fn records(source: &str, text: &str) -> Vec<(u64, String, Record)> {
    let mut header: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if let Some(names) = line.strip_prefix("#Fields: ") {
            header = if source == "iis" { names.split(' ').map(str::to_string).collect() } else { split_csv(names) };
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let values = if source == "iis" { line.split(' ').map(str::to_string).collect() } else { split_csv(line) };
        let mut rec: Record = header.iter().cloned().zip(values).collect();
        rec.push(("_raw".to_string(), line.to_string()));
        out.push((i as u64 + 1, line.to_string(), rec));
    }
    out
}

/// What the rules said about one line.
#[derive(Debug, Default)]
struct Hit {
    severity: Option<Severity>,
    /// `EXH-LOG-0001 (high)`, …
    rules: Vec<String>,
    ids: Vec<String>,
}

/// Rules that the lab's planted traces exercise: each must match somewhere over the scenarios and seeds, so that a
/// rule broken into matching nothing cannot hide behind an overlapping one.
const EXERCISED: [&str; 18] = [
    "EXH-LOG-0001", // SSRF to mapi / proxyLogon.ecp / DDIService
    "EXH-LOG-0003", // autodiscover-only and localhost probes
    "EXH-LOG-0004", // Set-OabVirtualDirectory with a script tag
    "EXH-LOG-0005", // OAB download outside ClientAccess\OAB
    "EXH-LOG-0006", // the reset through the SSRF
    "EXH-LOG-0007", // POST /ecp/<x>.js answered with success
    "EXH-LOG-0009", // the back end's reset as the machine account
    "EXH-LOG-0011", // the back end's other DDI calls as the machine account
    "EXH-LOG-0012", // commands in the query of a shell request
    "EXH-LOG-0014", // requests to a shell under aspnet_client
    "EXH-LOG-0016", // requests to a shell in owa/auth (IIS and HttpProxy)
    "EXH-LOG-0017", // the AntSword user agent
    "EXH-LOG-0019", // cookie-routed POST to a static resource
    "EXH-LOG-0020", // cookie-routed request to localhost
    "EXH-LOG-0021", // proxyLogon.ecp 241 and DDIService 200
    "EXH-LOG-0022", // script words in a vdir property
    "EXH-LOG-0023", // a vdir URL that is not a valid URI
    "EXH-LOG-0025", // OAB download of a script file
];

/// Runs every log rule over every log record of `dir`; returns the hits by (relative path, line) and the number of
/// records read.
fn hunt(dir: &Path, kb: &Kb, rules: &LogRules) -> (BTreeMap<(String, u64), Hit>, u64) {
    let severity: HashMap<&str, Severity> = kb.rules.rules.iter().map(|r| (r.id.as_str(), r.severity)).collect();
    let mut files = Vec::new();
    walk(dir, &mut files);
    let mut hits: BTreeMap<(String, u64), Hit> = BTreeMap::new();
    let mut n = 0;
    for file in files {
        let rel = file.strip_prefix(dir).expect("walked under dir").to_string_lossy().replace('\\', "/");
        let Some(source) = source_of(&rel) else { continue };
        let bytes = std::fs::read(&file).expect("readable log");
        let text = String::from_utf8_lossy(&bytes);
        for (line_no, raw, rec) in records(source, &text) {
            n += 1;
            let matched = rules.matches(source, raw.as_bytes(), &rec);
            if matched.is_empty() {
                continue;
            }
            let hit = hits.entry((rel.clone(), line_no)).or_default();
            for id in matched {
                let s = severity[id];
                hit.severity = hit.severity.max(Some(s));
                hit.rules.push(format!("{id} ({})", s.as_str()));
                hit.ids.push(id.to_string());
            }
        }
    }
    (hits, n)
}

fn line_of(dir: &Path, rel: &str, line: u64) -> String {
    let text = std::fs::read_to_string(dir.join(rel)).unwrap_or_default();
    text.lines().nth(line as usize - 1).unwrap_or_default().chars().take(300).collect()
}

#[test]
fn log_rules_find_every_planted_log_trace_and_nothing_else() {
    let (kb, diags) = Kb::load_dir(&kb_dir());
    assert!(diags.iter().all(|d| !d.is_error()), "kb does not load: {diags:?}");
    let (rules, errs) = LogRules::new(&kb);
    assert!(errs.is_empty(), "log rules do not compile: {errs:?}");

    let mut failures = Vec::new();
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    for scenario in [Scenario::Clean, Scenario::Probed, Scenario::Exploited, Scenario::Backdoored, Scenario::Used] {
        for seed in SEEDS {
            let tmp = tempfile::tempdir().expect("a temporary folder");
            let dir = tmp.path().join("ex");
            let opts = EvidenceOptions { seed, size: SIZE, scenario, host: None, actor: None };
            exhunt_lab::generate(&dir, &opts).expect("the lab writes a folder");
            let expects = read_truth(&dir);
            let (hits, records) = hunt(&dir, &kb, &rules);

            let mut wanted = 0;
            let mut found = 0;
            for e in expects.iter().filter(|e| e.required && LOG_CHECKS.contains(&e.check.as_str())) {
                let Some(line) = e.line else { continue };
                wanted += 1;
                let got = hits.get(&(e.path.clone(), line)).and_then(|h| h.severity);
                if got.is_some_and(|s| s >= e.min_severity) {
                    found += 1;
                } else {
                    failures.push(format!(
                        "{scenario:?} seed {seed}: {} ({}, min {}) at {}:{line} matched at {:?}\n    {}",
                        e.id,
                        e.check,
                        e.min_severity.as_str(),
                        e.path,
                        got.map(|s| s.as_str()),
                        line_of(&dir, &e.path, line),
                    ));
                }
            }
            let listed: std::collections::HashSet<(&str, u64)> =
                expects.iter().filter_map(|e| e.line.map(|l| (e.path.as_str(), l))).collect();
            let mut false_positives = 0;
            for ((path, line), hit) in &hits {
                if hit.severity > Some(Severity::Low) && !listed.contains(&(path.as_str(), *line)) {
                    false_positives += 1;
                    failures.push(format!(
                        "{scenario:?} seed {seed}: background line {path}:{line} matched by {}\n    {}",
                        hit.rules.join(", "),
                        line_of(&dir, path, *line),
                    ));
                }
            }
            for id in hits.values().flat_map(|h| &h.ids) {
                *tally.entry(id.clone()).or_default() += 1;
            }
            let low = hits.values().filter(|h| h.severity <= Some(Severity::Low)).count();
            eprintln!(
                "{scenario:?} seed {seed}: {records} records, expects matched {found}/{wanted}, \
                 false positives above low {false_positives}, low/info hits {low}"
            );
        }
    }
    eprintln!("lines matched per rule: {tally:?}");
    for id in EXERCISED {
        if !tally.contains_key(id) {
            failures.push(format!("{id} matched no line of any folder"));
        }
    }
    assert!(failures.is_empty(), "{} problem(s):\n{}", failures.len(), failures.join("\n"));
}

/// The post-exploitation path rules (EXH-PATH-0004 and up) and file rules (EXH-FILE-0100 and up) written with these
/// log rules: the lab plants no post-exploitation files, so over every file of every folder they must stay at `low`
/// or below (the stock OWA pages, the OAB and ECP folders, applicationHost.config, the logs themselves).
fn post_exploitation_rule(id: &str) -> bool {
    let num = |p: &str| id.strip_prefix(p).and_then(|n| n.parse::<u32>().ok());
    num("EXH-PATH-").is_some_and(|n| n >= 4) || num("EXH-FILE-").is_some_and(|n| n >= 100)
}

#[test]
fn post_exploitation_path_and_file_rules_stay_quiet_on_the_lab() {
    let (kb, _) = Kb::load_dir(&kb_dir());
    let severity: HashMap<&str, Severity> = kb.rules.rules.iter().map(|r| (r.id.as_str(), r.severity)).collect();
    let (paths, errs) = PathRules::new(&kb);
    assert!(errs.is_empty(), "path rules do not compile: {errs:?}");
    let (files, _) = FileRules::new(&kb);
    let mut scanner = files.scanner();
    let mut failures = Vec::new();
    for scenario in [Scenario::Clean, Scenario::Used] {
        for seed in [1, 9] {
            let tmp = tempfile::tempdir().expect("a temporary folder");
            let dir = tmp.path().join("ex");
            exhunt_lab::generate(&dir, &EvidenceOptions { seed, size: SIZE, scenario, host: None, actor: None })
                .expect("the lab writes a folder");
            let mut all = Vec::new();
            walk(&dir, &mut all);
            for file in all {
                let rel = file.strip_prefix(&dir).expect("walked under dir").to_string_lossy().replace('\\', "/");
                // `C/inetpub/…` in the folder is `C:\inetpub\…` on the server.
                let Some(on_server) = rel.strip_prefix("C/") else { continue };
                let windows = format!("C:\\{}", on_server.replace('/', "\\"));
                let data = std::fs::read(&file).expect("readable file");
                let mut ids: Vec<String> = paths.matches(&windows).into_iter().map(str::to_string).collect();
                if files.wants(Some(&windows), data.len() as u64) {
                    let hits = scanner.scan(Some(&windows), &data).expect("scan");
                    ids.extend(hits.iter().map(|h| h.rule.to_string()));
                }
                for id in ids.iter().filter(|id| post_exploitation_rule(id)) {
                    if severity[id.as_str()] > Severity::Low {
                        failures.push(format!("{scenario:?} seed {seed}: {id} matched {windows}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn csv_splitter_unquotes_doubled_quotes() {
    let f = split_csv(r#"a,"S:CMD=Set-X.Url=''http://f/<script language=""JScript"">''",c"#);
    assert_eq!(f, vec!["a", r#"S:CMD=Set-X.Url=''http://f/<script language="JScript">''"#, "c"]);
    assert_eq!(split_csv(",,"), vec!["", "", ""]);
}
