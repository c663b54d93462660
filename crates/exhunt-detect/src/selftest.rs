//! The sample-based self test (`exhunt kb test`): every rule against its own positive and negative samples, through
//! the same compiled evaluators a hunt uses (prefilter included).

use crate::file::FileRules;
use crate::log::LogRules;
use crate::path::PathRules;
use exhunt_kb::rules::{RuleBody, SampleInfo};
use exhunt_kb::{Diagnostic, Kb, Rule};

/// The outcome of running every rule over its samples.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelfTest {
    pub results: Vec<SampleResult>,
    /// Rules that were not tested because they do not compile (`exhunt kb check` reports why).
    pub skipped: Vec<String>,
}

/// One sample of one rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleResult {
    pub rule: String,
    /// `positive #1`, or `positive #1 (name)`.
    pub sample: String,
    /// True for a positive sample: the rule must match it.
    pub expected: bool,
    /// Whether the rule matched.
    pub got: bool,
    /// Set when the sample could not be evaluated (a YARA scan error); the sample then fails.
    pub error: Option<String>,
    /// The rule file and the sample's position in it.
    pub file: String,
    pub line: usize,
    pub col: usize,
}

impl SampleResult {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.expected == self.got
    }
}

impl SelfTest {
    /// Number of samples that gave the expected result.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
    }

    /// A K023 error for every sample that did not give the expected result, at the sample's line in the rule file.
    pub fn failures(&self) -> Vec<Diagnostic> {
        self.results.iter().filter(|r| !r.passed()).map(SampleResult::failure).collect()
    }
}

impl SampleResult {
    fn failure(&self) -> Diagnostic {
        let d = match (&self.error, self.expected) {
            (Some(e), _) => Diagnostic::error(
                "K023",
                &self.file,
                format!("`{}` could not be evaluated on its {} sample: {e}", self.rule, self.sample),
            ),
            (None, true) => Diagnostic::error(
                "K023",
                &self.file,
                format!("`{}` does not match its {} sample", self.rule, self.sample),
            )
            .with_help("a rule must match every positive sample: fix the rule, or the sample if it is wrong"),
            (None, false) => {
                Diagnostic::error("K023", &self.file, format!("`{}` matches its {} sample", self.rule, self.sample))
                    .with_help("a rule must not match any negative sample: narrow the rule, or fix the sample")
            }
        };
        d.at(self.line, self.col)
    }
}

/// Runs every rule of `kb` over its samples.
pub fn selftest(kb: &Kb) -> SelfTest {
    let (logs, _) = LogRules::new(kb);
    let (paths, _) = PathRules::new(kb);
    let (files, _) = FileRules::new(kb);
    let log_ids: Vec<&str> = logs.ids().collect();
    let mut out = SelfTest::default();
    let mut scanner = files.scanner();
    for rule in &kb.rules.rules {
        match &rule.body {
            RuleBody::Log(l) => {
                if !log_ids.contains(&rule.id.as_str()) {
                    out.skipped.push(rule.id.clone());
                    continue;
                }
                for s in l.positive.iter().chain(&l.negative) {
                    // The raw record is the values one per line: a literal cannot span two values (literals hold no
                    // control characters), so the prefilter sees what it would see in a real line.
                    let raw: Vec<&str> = s.record.iter().map(|(_, v)| v.as_str()).collect();
                    let got = logs.matches(&s.source, raw.join("\n").as_bytes(), &s.record).contains(&rule.id.as_str());
                    out.results.push(result(kb, rule, &s.info, got, None));
                }
            }
            RuleBody::Path(p) => {
                if !paths.ids().any(|id| id == rule.id) {
                    out.skipped.push(rule.id.clone());
                    continue;
                }
                for s in p.positive.iter().chain(&p.negative) {
                    let got = paths.matches(&s.path).contains(&rule.id.as_str());
                    out.results.push(result(kb, rule, &s.info, got, None));
                }
            }
            RuleBody::File(f) => {
                if !files.has(&rule.id) {
                    out.skipped.push(rule.id.clone());
                    continue;
                }
                for s in f.positive.iter().chain(&f.negative) {
                    let r = match scanner.scan(s.path.as_deref(), &s.content) {
                        Ok(hits) => result(kb, rule, &s.info, hits.iter().any(|h| h.rule == rule.id), None),
                        Err(e) => result(kb, rule, &s.info, false, Some(e.to_string())),
                    };
                    out.results.push(r);
                }
            }
        }
    }
    fingerprint_samples(kb, &mut out);
    out
}

/// The scan pack's fingerprint samples: each body cut to its snippets as the scanner cuts it, the fingerprint
/// computed, and every difference from the sample's `expect` reported.
fn fingerprint_samples(kb: &Kb, out: &mut SelfTest) {
    let anchors = crate::scan::BodyAnchors::new(&kb.scan.markers);
    let file = &kb.scan.fingerprint_file;
    let text = kb.files.files.iter().find(|f| &f.display == file).map(|f| f.text.as_str()).unwrap_or("");
    let mut from = 0;
    for (i, s) in kb.scan.samples.iter().enumerate() {
        // The sample's line: the i-th `[[sample]]` header.
        let at = text[from..].find("[[sample]]").map(|o| from + o).unwrap_or(0);
        from = at + 1;
        let (line, col) = exhunt_kb::diag::line_col(text, at);
        let obs = crate::scan::sample_observation(s, &anchors);
        let got = crate::scan::fingerprint(&obs, kb);
        let differences = crate::scan::sample_differences(&s.expect, got.as_ref());
        out.results.push(SampleResult {
            rule: "fingerprint".into(),
            sample: format!("#{} ({})", i + 1, s.name),
            expected: true,
            got: differences.is_empty(),
            error: (!differences.is_empty()).then(|| differences.join("; ")),
            file: file.clone(),
            line,
            col,
        });
    }
}

fn result(kb: &Kb, rule: &Rule, info: &SampleInfo, got: bool, error: Option<String>) -> SampleResult {
    let (line, col) =
        kb.files.get(&rule.rel).map(|f| exhunt_kb::diag::line_col(&f.text, info.offset)).unwrap_or((0, 0));
    SampleResult {
        rule: rule.id.clone(),
        sample: info.label(),
        expected: info.positive,
        got,
        error,
        file: rule.display.clone(),
        line,
        col,
    }
}
