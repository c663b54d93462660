//! The file half of the hunt: sweep the web roots and the known drop folders; every file is checked by path (path
//! rules, IOC paths and names), and files a content rule wants (or that a path check flagged) are read once: hashed
//! (IOC hashes, Microsoft's known-good baseline) and scanned with the YARA rules.

use super::findings::{custom, from_rule, put};
use super::{Engines, HuntOptions, Progress};
use crate::discover::Layout;
use crate::evidence::{EvidenceFile, EvidenceSource};
use exhunt_model::winpath;
use exhunt_model::{Build, ErrorRecord, Evidence, Finding, FindingKind, Locator, Severity, Timestamp};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::io::Read;

/// Extensions of files IIS executes or that configure execution: new or changed ones under Exchange's web roots
/// matter.
pub(crate) const SCRIPT_EXTENSIONS: &[&str] = &[
    "aspx", "ashx", "asmx", "asax", "ascx", "asp", "cshtml", "vbhtml", "soap", "rem", "cs", "vb", "config", "php",
    "jsp",
];

/// Bytes of context kept around a content match in an evidence excerpt.
const EXCERPT_CONTEXT: usize = 120;

pub(crate) struct FileOutput {
    pub findings: Vec<Finding>,
    pub errors: Vec<ErrorRecord>,
    /// Folders swept.
    pub roots: Vec<String>,
    pub files_seen: u64,
    pub files_read: u64,
    pub bytes_read: u64,
    /// Files larger than the content-scan cap that a content rule wanted.
    pub too_large: u64,
    /// The baseline build compared against, when one matched the server's build.
    pub baseline: Option<Build>,
    pub newest_mtime: Option<exhunt_model::Timestamp>,
    pub oldest_mtime: Option<exhunt_model::Timestamp>,
}

/// The folders to sweep: the web roots found by discovery, and the drop and staging folders of the public reports.
fn sweep_roots(layout: &Layout) -> Vec<String> {
    let s = layout.system_drive;
    let mut roots: Vec<String> = layout.web_roots.clone();
    for extra in [
        "inetpub\\wwwroot",
        "ProgramData",
        "Windows\\Temp",
        "root",
        "PerfLogs",
        "Users\\Public",
        // Only `<version>\\Temporary ASP.NET Files` below these is kept (see `hunt_files`).
        "Windows\\Microsoft.NET\\Framework64",
        "Windows\\Microsoft.NET\\Framework",
    ] {
        roots.push(format!("{s}:\\{extra}"));
    }
    crate::discover::outermost(roots)
}

fn ext_of(name: &str) -> String {
    name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default()
}

/// One file as the checks see it: where it is, what the walk knows of it, and where it stands in the host's layout.
/// No reader: the bytes, when the checks want them, are the caller's to get.
struct FileFacts<'a> {
    windows_path: &'a str,
    display: &'a str,
    size: u64,
    mtime: Option<Timestamp>,
    /// Under one of the sites' web roots.
    in_web_root: bool,
    /// The path relative to the install folder, with a leading `\`, when the file is inside Exchange's.
    in_exchange: Option<&'a str>,
}

/// Whether to read a file's bytes for the checks.
enum Bytes {
    /// Nothing wants them.
    No,
    /// Wanted, but larger than the content-scan cap; `counted` when a content rule or a path check wanted them
    /// (the coverage's `too_large`), not only the hashing of a drop folder or a web root.
    TooLarge {
        counted: bool,
    },
    Yes,
}

/// The checks of one file: what its path alone triggers (path rules, IOC paths and names), then, given its bytes
/// when they were wanted, the content checks (YARA, IOC hashes, the known-good baseline) and every finding. The
/// sweep and [`check_bytes`] both go through here; how the bytes are got is the caller's business.
struct FileCheck<'a> {
    facts: FileFacts<'a>,
    name: &'a str,
    is_script: bool,
    path_rules: Vec<String>,
    ioc_paths: Vec<(String, String, bool)>, // (pack, value/cite, is_location)
    ioc_names: Vec<(String, String)>,
}

impl<'a> FileCheck<'a> {
    fn new(engines: &Engines<'_>, facts: FileFacts<'a>) -> FileCheck<'a> {
        let name = winpath::file_name(facts.windows_path);
        let iocs = &engines.ioc;
        FileCheck {
            name,
            is_script: SCRIPT_EXTENSIONS.contains(&ext_of(name).as_str()),
            path_rules: engines.path.matches(facts.windows_path).into_iter().map(str::to_string).collect(),
            ioc_paths: iocs
                .match_path(facts.windows_path)
                .into_iter()
                .map(|h| (h.pack_id().to_string(), h.cite(), h.is_location()))
                .collect(),
            ioc_names: if facts.in_web_root {
                iocs.match_file_name(name).into_iter().map(|h| (h.pack_id().to_string(), h.cite())).collect()
            } else {
                Vec::new()
            },
            facts,
        }
    }

    /// A path check flagged the file: its content is wanted even when no content rule asks for it.
    fn flagged(&self) -> bool {
        !self.path_rules.is_empty() || self.ioc_paths.iter().any(|p| !p.2) || !self.ioc_names.is_empty()
    }

    /// Whether to read the file's bytes: a content rule wants them, a path check flagged the file, the baseline
    /// compares Exchange's script files, or the file is a script in a web root or anything in a drop folder (hashed
    /// for the IOC hashes). `cap` is the content-scan limit.
    fn read(&self, engines: &Engines<'_>, with_baseline: bool, cap: u64) -> Bytes {
        let f = &self.facts;
        let rule_wants = engines.file.wants(Some(f.windows_path), f.size);
        let baseline_wants = with_baseline && f.in_exchange.is_some() && self.is_script;
        let outside_exchange = f.in_exchange.is_none();
        let wants = rule_wants
            || self.flagged()
            || baseline_wants
            || (f.in_web_root && self.is_script)
            || (outside_exchange && !f.in_web_root); // drop folders: hash everything for the IOC hashes
        if !wants {
            Bytes::No
        } else if f.size > cap {
            Bytes::TooLarge { counted: rule_wants || self.flagged() }
        } else {
            Bytes::Yes
        }
    }

    /// Every finding for the file, given its bytes when they were read (`None`: not wanted, too large or
    /// unreadable), and the content scan's error if it failed.
    fn findings(
        &self,
        engines: &Engines<'_>,
        baseline: Option<&super::baseline::Baseline>,
        content: Option<&[u8]>,
        scanner: &mut exhunt_detect::FileScanner<'_>,
    ) -> (Vec<Finding>, Option<ErrorRecord>) {
        let f = &self.facts;
        let (name, is_script) = (self.name, self.is_script);
        let iocs = &engines.ioc;
        let mut findings = Vec::new();
        let mut error = None;
        let sha = content.map(|bytes| hex::encode(Sha256::digest(bytes)));
        let base_ev = |locator: Option<Locator>, excerpt: Option<String>| Evidence {
            path: f.display.to_string(),
            locator,
            sha256: sha.clone(),
            excerpt,
        };
        let mut details_base: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        put(&mut details_base, "windows_path", f.windows_path);
        details_base.insert("size".into(), serde_json::json!(f.size));
        if let Some(t) = f.mtime {
            details_base.insert("modified".into(), serde_json::json!(t.to_string()));
        }

        // Content rules.
        let mut content_hit = false;
        if let Some(bytes) = content {
            if engines.file.wants(Some(f.windows_path), f.size) {
                match scanner.scan(Some(f.windows_path), bytes) {
                    Ok(hits) => {
                        for h in hits {
                            let Some(rule) = engines.kb.rules.get(h.rule) else { continue };
                            content_hit = true;
                            let first = h.matches.first();
                            let excerpt = first.map(|m| excerpt_around(bytes, m.range.clone()));
                            let mut d = details_base.clone();
                            let pats: Vec<String> =
                                h.matches.iter().take(8).map(|m| format!("{}:{}", m.yara_rule, m.pattern)).collect();
                            d.insert("yara".into(), serde_json::json!(pats));
                            if rule.kind == FindingKind::Webshell {
                                d.insert("check".into(), serde_json::json!(crate::verdict::checks::WEBSHELL_FILE));
                            } else {
                                d.insert("check".into(), serde_json::json!("file"));
                            }
                            let ev = base_ev(first.map(|m| Locator::Offset(m.range.start as u64)), excerpt);
                            findings.push(from_rule(rule, &[f.display], f.mtime, vec![ev], d));
                        }
                    }
                    Err(e) => {
                        error = Some(ErrorRecord {
                            code: Some("H020".into()),
                            message: format!("content scan failed: {e}"),
                            path: Some(f.display.to_string()),
                            locator: None,
                        })
                    }
                }
            }
            // IOC hashes.
            if let Some(s) = &sha {
                for h in iocs.match_hash(s) {
                    let mut d = details_base.clone();
                    put(&mut d, "ioc", &format!("{}: {} ({})", h.pack_id(), h.value(), h.cite()));
                    if let Some(fam) = h.family() {
                        put(&mut d, "family", fam);
                    }
                    let script = is_script;
                    d.insert(
                        "check".into(),
                        serde_json::json!(if script { crate::verdict::checks::WEBSHELL_FILE } else { "file" }),
                    );
                    findings.push(custom(
                        "EXH-IOC-HASH",
                        &[f.display, h.value()],
                        if script { FindingKind::Webshell } else { FindingKind::PostExploitation },
                        Severity::Critical,
                        format!("File with a known-bad hash: {name}"),
                        f.mtime,
                        vec![base_ev(None, None)],
                        "This exact file was published as malicious. Preserve a copy for the investigation, then \
                         remove it and treat the server as compromised.",
                        d,
                    ));
                }
            }
        }

        // Path rules.
        for id in &self.path_rules {
            let Some(rule) = engines.kb.rules.get(id) else { continue };
            let mut d = details_base.clone();
            let check = if rule.kind == FindingKind::Webshell { crate::verdict::checks::WEBSHELL_FILE } else { "path" };
            d.insert("check".into(), serde_json::json!(check));
            let excerpt = content.map(|b| excerpt_around(b, 0..b.len().min(200)));
            findings.push(from_rule(rule, &[f.display], f.mtime, vec![base_ev(None, excerpt)], d));
        }
        // IOC paths (known-bad files; drop locations are context for the other checks, not findings).
        for (pack, cite, location) in &self.ioc_paths {
            if *location {
                continue;
            }
            let mut d = details_base.clone();
            put(&mut d, "ioc", &format!("{pack} ({cite})"));
            d.insert("check".into(), serde_json::json!(crate::verdict::checks::WEBSHELL_FILE));
            findings.push(custom(
                "EXH-IOC-PATH",
                &[f.display, cite],
                FindingKind::Webshell,
                Severity::High,
                format!("File at a path published as a web-shell location: {name}"),
                f.mtime,
                vec![base_ev(None, None)],
                "A file at exactly this path was a web shell on compromised servers. Open it (as text, never in a \
                 browser from the server) and compare it with a clean Exchange server; preserve it, then remove it \
                 if it is not part of Exchange.",
                d,
            ));
        }
        for (pack, cite) in &self.ioc_names {
            let mut d = details_base.clone();
            put(&mut d, "ioc", &format!("{pack} ({cite})"));
            d.insert("check".into(), serde_json::json!("name"));
            findings.push(custom(
                "EXH-IOC-NAME",
                &[f.display, cite],
                FindingKind::Webshell,
                if content_hit { Severity::High } else { Severity::Medium },
                format!("File in a web root with a name used by published web shells: {name}"),
                f.mtime,
                vec![base_ev(None, None)],
                "Web shells of the 2021 campaign used this name. Compare the file with a clean Exchange server of \
                 the same build; if it is not Exchange's own, preserve and remove it.",
                d,
            ));
        }
        // Known-good baseline.
        if let (Some(b), Some(rel), Some(s)) = (baseline, f.in_exchange, &sha)
            && is_script
        {
            match b.get(rel) {
                Some(good) if good.eq_ignore_ascii_case(s) => {}
                Some(_) => {
                    let mut d = details_base.clone();
                    put(&mut d, "baseline", &b.build.to_string());
                    d.insert("check".into(), serde_json::json!("baseline-modified"));
                    findings.push(custom(
                        "EXH-BASELINE-MODIFIED",
                        &[f.display],
                        FindingKind::Webshell,
                        if content_hit { Severity::High } else { Severity::Medium },
                        format!("Exchange file differs from Microsoft's known-good copy for {}: {name}", b.build),
                        f.mtime,
                        vec![base_ev(None, None)],
                        "An Exchange web file was changed after installation. Compare it with the file from a clean \
                         server of the same build; a changed logon page is a common way to steal passwords.",
                        d,
                    ));
                }
                None => {
                    let mut d = details_base.clone();
                    put(&mut d, "baseline", &b.build.to_string());
                    d.insert("check".into(), serde_json::json!("baseline-new"));
                    findings.push(custom(
                        "EXH-BASELINE-NEW",
                        &[f.display],
                        FindingKind::Webshell,
                        if content_hit { Severity::High } else { Severity::Medium },
                        format!(
                            "Script file in Exchange's web folders that Exchange {} does not install: {name}",
                            b.build
                        ),
                        f.mtime,
                        vec![base_ev(None, None)],
                        "Exchange does not ship this file. Unless your organisation added it on purpose (a \
                         customisation you can name), treat it as a web shell: preserve it and remove it.",
                        d,
                    ));
                }
            }
        }
        (findings, error)
    }
}

pub(crate) fn hunt_files(
    source: &dyn EvidenceSource,
    layout: &Layout,
    engines: &Engines<'_>,
    opts: &HuntOptions,
    newest_build: Option<Build>,
    progress: &(dyn Fn(Progress) + Sync),
) -> FileOutput {
    let roots = sweep_roots(layout);
    let mut errors = Vec::new();
    let mut files: Vec<EvidenceFile> = Vec::new();
    let mut seen = HashSet::new();
    for root in &roots {
        for item in source.walk(root) {
            match item {
                Ok(f) => {
                    let key = winpath::key(&f.windows_path);
                    // Of the .NET framework folders only the compiled pages matter; the framework's own
                    // thousands of DLLs would be read and hashed for nothing.
                    if key.contains("\\microsoft.net\\framework") && !key.contains("\\temporary asp.net files\\") {
                        continue;
                    }
                    if seen.insert(key) {
                        files.push(f);
                    }
                }
                Err(e) => errors.push(e.to_record()),
            }
        }
    }
    let install = layout.exchange.as_ref().map(|x| x.path.clone());
    let baseline = newest_build.and_then(|b| opts.baselines.for_build(&b));
    let total: u64 = files.iter().map(|f| f.size).sum();
    let done = std::sync::atomic::AtomicU64::new(0);

    let results: Vec<(Vec<Finding>, Option<ErrorRecord>, u64, bool)> = files
        .par_iter()
        .map_init(
            || engines.file.scanner(),
            |scanner, f| {
                let d = done.fetch_add(f.size, std::sync::atomic::Ordering::Relaxed) + f.size;
                progress(Progress::Bytes { done: d, total });
                check_file(source, layout, engines, opts, install.as_deref(), baseline, scanner, f)
            },
        )
        .collect();
    let mut findings = Vec::new();
    let (mut files_read, mut bytes_read, mut too_large) = (0u64, 0u64, 0u64);
    for (fs, err, bytes, large) in results {
        findings.extend(fs);
        if let Some(e) = err {
            errors.push(e);
        }
        if bytes > 0 {
            files_read += 1;
            bytes_read += bytes;
        }
        too_large += u64::from(large);
    }
    let newest_mtime = files.iter().filter_map(|f| f.mtime).max();
    let oldest_mtime = files.iter().filter_map(|f| f.mtime).min();
    FileOutput {
        findings,
        errors,
        roots,
        files_seen: files.len() as u64,
        files_read,
        bytes_read,
        too_large,
        baseline: baseline.map(|b| b.build),
        newest_mtime,
        oldest_mtime,
    }
}

/// One file of the sweep: placed in the host's layout, read from the evidence when the checks want its bytes, then
/// checked. Returns the findings, an error, the bytes read and whether it was too large to scan.
#[allow(clippy::too_many_arguments)]
fn check_file(
    source: &dyn EvidenceSource,
    layout: &Layout,
    engines: &Engines<'_>,
    opts: &HuntOptions,
    install: Option<&str>,
    baseline: Option<&super::baseline::Baseline>,
    scanner: &mut exhunt_detect::FileScanner<'_>,
    f: &EvidenceFile,
) -> (Vec<Finding>, Option<ErrorRecord>, u64, bool) {
    let facts = FileFacts {
        windows_path: &f.windows_path,
        display: &f.display,
        size: f.size,
        mtime: f.mtime,
        in_web_root: layout.web_roots.iter().any(|r| winpath::is_within(&f.windows_path, r)),
        in_exchange: install.filter(|i| winpath::is_within(&f.windows_path, i)).map(|i| &f.windows_path[i.len()..]),
    };
    let check = FileCheck::new(engines, facts);
    let (mut content, mut read_error, mut too_large) = (None, None, false);
    match check.read(engines, baseline.is_some(), opts.max_scan_bytes) {
        Bytes::No => {}
        Bytes::TooLarge { counted } => too_large = counted,
        Bytes::Yes => match read_all(source, f, opts.max_scan_bytes) {
            Ok(bytes) => content = Some(bytes),
            Err(e) => read_error = Some(e),
        },
    }
    let (findings, scan_error) = check.findings(engines, baseline, content.as_deref(), scanner);
    let read = content.map(|b| b.len() as u64).unwrap_or(0);
    (findings, scan_error.or(read_error), read, too_large)
}

/// Checks one file given by content, as the sweep checks a file found at `windows_path` in a site's web folder
/// (path rules, IOC paths, names and hashes, content rules), without a baseline. For checking collected files
/// outside a triage folder, and for tests over corpora.
pub fn check_bytes(engines: &Engines<'_>, windows_path: &str, display: &str, bytes: &[u8]) -> Vec<Finding> {
    let windows_path = winpath::normalize(windows_path);
    let folder = windows_path.rsplit_once('\\').map(|(p, _)| p).unwrap_or_default();
    let facts = FileFacts {
        windows_path: &windows_path,
        display,
        size: bytes.len() as u64,
        mtime: None,
        in_web_root: winpath::is_within(&windows_path, folder),
        in_exchange: None,
    };
    let check = FileCheck::new(engines, facts);
    let content = match check.read(engines, false, HuntOptions::default().max_scan_bytes) {
        Bytes::Yes => Some(bytes),
        Bytes::No | Bytes::TooLarge { .. } => None,
    };
    let mut scanner = engines.file.scanner();
    check.findings(engines, None, content, &mut scanner).0
}

fn read_all(source: &dyn EvidenceSource, f: &EvidenceFile, cap: u64) -> Result<Vec<u8>, ErrorRecord> {
    let r = source.open(f).map_err(|e| e.to_record())?;
    let mut buf = Vec::with_capacity(f.size.min(cap) as usize);
    r.take(cap + 1).read_to_end(&mut buf).map_err(|e| ErrorRecord {
        code: Some("H021".into()),
        message: format!("cannot read: {e}"),
        path: Some(f.display.clone()),
        locator: None,
    })?;
    Ok(buf)
}

/// The matched bytes with some context, as text (invalid UTF-8 and NULs made visible; UTF-16LE text is narrowed).
pub(crate) fn excerpt_around(bytes: &[u8], range: std::ops::Range<usize>) -> String {
    let start = range.start.saturating_sub(EXCERPT_CONTEXT).min(bytes.len());
    let end = (range.end + EXCERPT_CONTEXT).min(bytes.len()).max(start);
    let slice = &bytes[start..end];
    let narrowed: Vec<u8> = if slice.len() > 8 && slice.iter().skip(1).step_by(2).take(32).all(|b| *b == 0) {
        slice.iter().step_by(2).copied().collect()
    } else {
        slice.to_vec()
    };
    String::from_utf8_lossy(&narrowed).replace('\0', "\\0")
}
