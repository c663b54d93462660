//! File rules: the YARA source of every file rule compiled once with yara-x, each rule in its own namespace (named
//! after the exhunt rule id), scanned over bytes.

use crate::error::DetectError;
use crate::locate;
use exhunt_kb::rules::{FileRule, RuleBody, YaraSource};
use exhunt_kb::{Diagnostic, Kb};
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::time::Duration;

/// How long one scan may take before it fails with [`DetectError::Scan`].
pub const SCAN_TIMEOUT: Duration = Duration::from_secs(30);

/// Compiled file rules.
pub struct FileRules {
    rules: yara_x::Rules,
    meta: Vec<Meta>,
    /// YARA namespace (= exhunt rule id) → index into `meta`.
    by_namespace: HashMap<String, usize>,
}

impl std::fmt::Debug for FileRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRules").field("rules", &self.meta).finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Meta {
    id: String,
    extensions: Vec<String>,
    max_size: Option<u64>,
}

impl Meta {
    fn applies(&self, path: Option<&str>, size: u64) -> bool {
        if self.max_size.is_some_and(|m| size > m) {
            return false;
        }
        match path {
            Some(p) if !self.extensions.is_empty() => {
                let name = p.rsplit(['/', '\\']).next().unwrap_or(p);
                name.rsplit_once('.')
                    .is_some_and(|(_, ext)| self.extensions.iter().any(|e| e.eq_ignore_ascii_case(ext)))
            }
            _ => true,
        }
    }
}

/// One exhunt file rule that matched, with the YARA matches behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHit<'r> {
    /// The exhunt rule id.
    pub rule: &'r str,
    pub matches: Vec<PatternMatch>,
}

/// One match of one YARA pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternMatch {
    /// The YARA rule's identifier.
    pub yara_rule: String,
    /// The pattern's identifier (`$a`).
    pub pattern: String,
    /// Byte range in the scanned data.
    pub range: Range<usize>,
}

impl FileRules {
    /// Compiles every file rule of `kb`. A rule whose YARA source does not compile is left out and reported (K011,
    /// positioned in the TOML file or the `.yar` file); YARA warnings become K044 warnings.
    pub fn new(kb: &Kb) -> (FileRules, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let mut compiler = yara_x::Compiler::new();
        compiler.enable_includes(false).error_on_slow_pattern(true).error_on_slow_loop(true);
        let mut meta = Vec::new();
        let mut failed = BTreeSet::new();
        for rule in &kb.rules.rules {
            let RuleBody::File(f) = &rule.body else { continue };
            compiler.new_namespace(&rule.id);
            let (errors_before, warnings_before) = (compiler.errors().len(), compiler.warnings().len());
            let src = yara_x::SourceCode::from(f.yara.text.as_str()).with_origin(f.yara.display.as_str());
            let ok = compiler.add_source(src).is_ok();
            for e in &compiler.errors()[errors_before..] {
                let span = e.labels().next().map(|l| l.span().start());
                let label = e.labels().next().map(|l| l.text().to_string()).unwrap_or_default();
                let msg = yara_message(e.code(), e.title(), &label);
                diags.push(yara_diag(kb, &f.yara, Diagnostic::error("K011", &f.yara.display, msg), span));
            }
            for w in &compiler.warnings()[warnings_before..] {
                let span = w.labels().next().map(|l| l.span().start());
                let label = w.labels().next().map(|l| l.text().to_string()).unwrap_or_default();
                let msg = yara_message(w.code(), w.title(), &label);
                diags.push(yara_diag(kb, &f.yara, Diagnostic::warning("K044", &f.yara.display, msg), span));
            }
            if ok {
                meta.push(meta_of(&rule.id, f));
            } else {
                failed.insert(rule.id.clone());
            }
        }
        let rules = compiler.build();
        let by_namespace = meta.iter().enumerate().map(|(i, m)| (m.id.clone(), i)).collect();
        (FileRules { rules, meta, by_namespace }, diags)
    }

    pub fn len(&self) -> usize {
        self.meta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// True when the rule with this id compiled.
    pub fn has(&self, id: &str) -> bool {
        self.by_namespace.contains_key(id)
    }

    /// True when some rule applies to a file with this path and size (by its scope): a caller can skip reading
    /// files no rule wants.
    pub fn wants(&self, path: Option<&str>, size: u64) -> bool {
        self.meta.iter().any(|m| m.applies(path, size))
    }

    /// A scanner that can be reused across files (one per thread).
    pub fn scanner(&self) -> FileScanner<'_> {
        let mut scanner = yara_x::Scanner::new(&self.rules);
        scanner.set_timeout(SCAN_TIMEOUT);
        FileScanner { rules: self, scanner }
    }

    /// Scans `data` (the content of the file at `path`, if known) with a fresh scanner.
    pub fn scan(&self, path: Option<&str>, data: &[u8]) -> Result<Vec<FileHit<'_>>, DetectError> {
        self.scanner().scan(path, data)
    }
}

/// A reusable yara-x scanner over [`FileRules`].
pub struct FileScanner<'r> {
    rules: &'r FileRules,
    scanner: yara_x::Scanner<'r>,
}

impl<'r> FileScanner<'r> {
    /// The exhunt rules that match `data`, with their YARA matches. When `path` is given, rules whose scope leaves
    /// out its extension are not reported; `max_size` always applies.
    pub fn scan(&mut self, path: Option<&str>, data: &[u8]) -> Result<Vec<FileHit<'r>>, DetectError> {
        let size = data.len() as u64;
        if !self.rules.wants(path, size) {
            return Ok(Vec::new());
        }
        let results = self
            .scanner
            .scan(data)
            .map_err(|source| DetectError::Scan { path: path.unwrap_or("<bytes>").to_string(), source })?;
        let mut hits: Vec<FileHit<'r>> = Vec::new();
        for m in results.matching_rules() {
            let Some(&i) = self.rules.by_namespace.get(m.namespace()) else { continue };
            let meta = &self.rules.meta[i];
            if !meta.applies(path, size) {
                continue;
            }
            let mut matches = Vec::new();
            for p in m.patterns() {
                for pm in p.matches() {
                    matches.push(PatternMatch {
                        yara_rule: m.identifier().to_string(),
                        pattern: p.identifier().to_string(),
                        range: pm.range(),
                    });
                }
            }
            match hits.iter_mut().find(|h| h.rule == meta.id) {
                Some(h) => h.matches.extend(matches),
                None => hits.push(FileHit { rule: meta.id.as_str(), matches }),
            }
        }
        Ok(hits)
    }
}

fn meta_of(id: &str, f: &FileRule) -> Meta {
    Meta { id: id.to_string(), extensions: f.extensions.clone(), max_size: f.max_size }
}

fn yara_message(code: &str, title: &str, label: &str) -> String {
    if label.is_empty() || label == title {
        format!("YARA {code}: {title}")
    } else {
        format!("YARA {code}: {title}: {label}")
    }
}

/// Positions a YARA diagnostic: byte `span` of the source, mapped into the file that holds it.
fn yara_diag(kb: &Kb, src: &YaraSource, d: Diagnostic, span: Option<usize>) -> Diagnostic {
    let off = src.file_offset(span.unwrap_or(0));
    locate::at(d, kb, &src.rel, off)
}
