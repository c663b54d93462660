//! Log rules compiled for evaluation.
//!
//! Evaluating a record takes two steps. [`LogRules::prefilter`] runs one Aho-Corasick automaton per log source
//! (ASCII case-insensitive, over every prefilter literal of the source's rules) over the raw record and returns the
//! rules that could match; when there are none, the caller skips the record without parsing it. [`LogRules::eval`]
//! then evaluates those rules' conditions over the parsed fields.

use crate::fields::Fields;
use crate::locate;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use exhunt_kb::rules::{Condition, FieldTest, Group, LogRule, RuleBody, TestOp};
use exhunt_kb::{Diagnostic, Kb, Rule};
use regex::{Regex, RegexBuilder};

/// Compiled log rules.
#[derive(Debug)]
pub struct LogRules {
    rules: Vec<Compiled>,
    sources: Vec<SourceIndex>,
}

#[derive(Debug)]
struct Compiled {
    id: String,
    condition: CGroup,
}

/// The rules of one log source and the automaton over their literals.
#[derive(Debug)]
struct SourceIndex {
    name: String,
    /// Indices into `LogRules::rules`.
    rules: Vec<u32>,
    automaton: AhoCorasick,
    /// Pattern id → index into `LogRules::rules`.
    owner: Vec<u32>,
}

#[derive(Debug, Default)]
struct CGroup {
    all: Vec<CCond>,
    any: Vec<CCond>,
    none: Vec<CCond>,
}

#[derive(Debug)]
enum CCond {
    Test(CTest),
    Group(CGroup),
}

#[derive(Debug)]
struct CTest {
    field: String,
    matcher: Matcher,
}

#[derive(Debug)]
enum Matcher {
    Exists(bool),
    Equals { values: Vec<String>, case_sensitive: bool },
    StartsWith { values: Vec<String>, case_sensitive: bool },
    EndsWith { values: Vec<String>, case_sensitive: bool },
    Contains(AhoCorasick),
    Regex(Vec<Regex>),
}

/// The rules that passed the prefilter for one record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Candidates {
    /// Indices into the compiled rules, ascending.
    rules: Vec<u32>,
}

impl Candidates {
    /// True when no rule can match: the record can be skipped without parsing it.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }
}

/// Regexes larger than this (compiled) are refused with K010, so that one rule cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 4 * 1024 * 1024;

impl LogRules {
    /// Compiles every log rule of `kb`. A rule that does not compile is left out and reported (K010).
    pub fn new(kb: &Kb) -> (LogRules, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let mut rules = Vec::new();
        let mut kept: Vec<&LogRule> = Vec::new();
        for rule in &kb.rules.rules {
            let RuleBody::Log(log) = &rule.body else { continue };
            let before = diags.len();
            let condition = compile_group(kb, rule, &log.condition, &mut diags);
            if diags.len() == before {
                rules.push(Compiled { id: rule.id.clone(), condition });
                kept.push(log);
            }
        }
        let mut names: Vec<&str> = kept.iter().flat_map(|l| l.sources.iter().map(String::as_str)).collect();
        names.sort_unstable();
        names.dedup();
        let mut sources = Vec::new();
        for name in names {
            let mut literals = Vec::new();
            let mut owner = Vec::new();
            let mut members = Vec::new();
            for (i, log) in kept.iter().enumerate() {
                if log.sources.iter().any(|s| s == name) {
                    let i = u32::try_from(i).expect("invariant: fewer than 2^32 rules");
                    members.push(i);
                    for lit in &log.prefilter {
                        literals.push(lit.value.as_str());
                        owner.push(i);
                    }
                }
            }
            // A DFA: the automaton runs over every byte of every log line, and the literal sets are small.
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .match_kind(MatchKind::Standard)
                .build(&literals)
                .expect("invariant: an automaton over a few thousand literals builds");
            sources.push(SourceIndex { name: name.to_string(), rules: members, automaton, owner });
        }
        (LogRules { rules, sources }, diags)
    }

    /// Number of compiled rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Ids of the compiled rules.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    /// True when some rule applies to the log source (a reader can skip a source no rule wants).
    pub fn wants(&self, source: &str) -> bool {
        self.sources.iter().any(|s| s.name == source)
    }

    /// The rules of `source` whose prefilter literals occur in the raw record (ASCII case-insensitive).
    pub fn prefilter(&self, source: &str, raw: &[u8]) -> Candidates {
        let Some(index) = self.sources.iter().find(|s| s.name == source) else {
            return Candidates::default();
        };
        // Most records contain no literal at all: answer them with one unanchored search (which uses the
        // automaton's memchr-based prefilter) and no allocation; only records with a hit pay for the overlapping pass.
        if !index.automaton.is_match(raw) {
            return Candidates::default();
        }
        let mut rules = Vec::new();
        for m in index.automaton.find_overlapping_iter(raw) {
            let rule = index.owner[m.pattern().as_usize()];
            if !rules.contains(&rule) {
                rules.push(rule);
                if rules.len() == index.rules.len() {
                    break;
                }
            }
        }
        rules.sort_unstable();
        Candidates { rules }
    }

    /// Ids of the candidate rules whose condition holds for `record`.
    pub fn eval<F: Fields + ?Sized>(&self, candidates: &Candidates, record: &F) -> Vec<&str> {
        candidates
            .rules
            .iter()
            .filter_map(|i| self.rules.get(*i as usize))
            .filter(|r| eval_group(&r.condition, record))
            .map(|r| r.id.as_str())
            .collect()
    }

    /// [`prefilter`](Self::prefilter) then [`eval`](Self::eval).
    pub fn matches<F: Fields + ?Sized>(&self, source: &str, raw: &[u8], record: &F) -> Vec<&str> {
        let candidates = self.prefilter(source, raw);
        if candidates.is_empty() { Vec::new() } else { self.eval(&candidates, record) }
    }
}

fn eval_group<F: Fields + ?Sized>(g: &CGroup, record: &F) -> bool {
    g.all.iter().all(|c| eval_cond(c, record))
        && (g.any.is_empty() || g.any.iter().any(|c| eval_cond(c, record)))
        && !g.none.iter().any(|c| eval_cond(c, record))
}

fn eval_cond<F: Fields + ?Sized>(c: &CCond, record: &F) -> bool {
    match c {
        CCond::Group(g) => eval_group(g, record),
        CCond::Test(t) => {
            let value = record.get(&t.field);
            match (&t.matcher, value) {
                (Matcher::Exists(want), v) => v.is_some() == *want,
                (_, None) => false,
                (Matcher::Equals { values, case_sensitive }, Some(v)) => {
                    values.iter().any(|x| if *case_sensitive { v == x } else { v.eq_ignore_ascii_case(x) })
                }
                (Matcher::StartsWith { values, case_sensitive }, Some(v)) => values
                    .iter()
                    .any(|x| v.len() >= x.len() && eq_bytes(&v.as_bytes()[..x.len()], x.as_bytes(), *case_sensitive)),
                (Matcher::EndsWith { values, case_sensitive }, Some(v)) => values.iter().any(|x| {
                    v.len() >= x.len() && eq_bytes(&v.as_bytes()[v.len() - x.len()..], x.as_bytes(), *case_sensitive)
                }),
                (Matcher::Contains(ac), Some(v)) => ac.is_match(v),
                (Matcher::Regex(res), Some(v)) => res.iter().any(|re| re.is_match(v)),
            }
        }
    }
}

fn eq_bytes(a: &[u8], b: &[u8], case_sensitive: bool) -> bool {
    if case_sensitive { a == b } else { a.eq_ignore_ascii_case(b) }
}

fn compile_group(kb: &Kb, rule: &Rule, g: &Group, diags: &mut Vec<Diagnostic>) -> CGroup {
    let mut out = CGroup::default();
    for (src, dst) in [(&g.all, &mut out.all), (&g.any, &mut out.any), (&g.none, &mut out.none)] {
        for c in src {
            dst.push(match c {
                Condition::Group(inner) => CCond::Group(compile_group(kb, rule, inner, diags)),
                Condition::Test(t) => CCond::Test(compile_test(kb, rule, t, diags)),
            });
        }
    }
    out
}

fn compile_test(kb: &Kb, rule: &Rule, t: &FieldTest, diags: &mut Vec<Diagnostic>) -> CTest {
    let cs = t.case_sensitive;
    let texts = |v: &Vec<exhunt_kb::rules::Located>| v.iter().map(|l| l.value.clone()).collect::<Vec<_>>();
    let matcher = match &t.op {
        TestOp::Exists(b) => Matcher::Exists(*b),
        TestOp::Equals(v) => Matcher::Equals { values: texts(v), case_sensitive: cs },
        TestOp::StartsWith(v) => Matcher::StartsWith { values: texts(v), case_sensitive: cs },
        TestOp::EndsWith(v) => Matcher::EndsWith { values: texts(v), case_sensitive: cs },
        TestOp::Contains(v) => Matcher::Contains(
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(!cs)
                .build(v.iter().map(|l| l.value.as_str()))
                .expect("invariant: an automaton over a few literals builds"),
        ),
        TestOp::Like(v) => {
            let mut res = Vec::new();
            for l in v {
                match build_regex(&like_to_regex(&l.value), cs) {
                    Ok(re) => res.push(re),
                    Err(e) => diags.push(locate::at(
                        Diagnostic::error("K010", &rule.display, format!("`like` pattern does not compile: {e}")),
                        kb,
                        &rule.rel,
                        l.offset,
                    )),
                }
            }
            Matcher::Regex(res)
        }
        TestOp::Regex(v) => {
            let mut res = Vec::new();
            for l in v {
                match build_regex(&l.value, cs) {
                    Ok(re) => res.push(re),
                    Err(e) => {
                        let (what, inner) = locate::regex_problem(&l.value, &e);
                        let d = Diagnostic::error("K010", &rule.display, format!("regex does not compile: {what}"))
                            .with_help(
                                "the syntax is that of the Rust `regex` crate (no look-around, no backreferences)",
                            );
                        diags.push(match inner {
                            Some(i) => locate::in_string(d, kb, &rule.rel, l.offset, &l.value, i),
                            None => locate::at(d, kb, &rule.rel, l.offset),
                        });
                    }
                }
            }
            Matcher::Regex(res)
        }
    };
    CTest { field: t.field.clone(), matcher }
}

fn build_regex(pattern: &str, case_sensitive: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(!case_sensitive)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// A PowerShell `-like` pattern as an anchored regex: `*` is any run of characters, `?` one character, everything
/// else literal.
pub(crate) fn like_to_regex(pattern: &str) -> String {
    let mut re = String::from("(?s)^");
    let mut lit = String::new();
    for c in pattern.chars() {
        if c == '*' || c == '?' {
            re.push_str(&regex::escape(&lit));
            lit.clear();
            re.push_str(if c == '*' { ".*" } else { "." });
        } else {
            lit.push(c);
        }
    }
    re.push_str(&regex::escape(&lit));
    re.push('$');
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_is_anchored_and_literal() {
        let re = Regex::new(&like_to_regex("ServerInfo~*/*")).expect("compiles");
        assert!(re.is_match("ServerInfo~a]@x:444/ecp/y.js?#"));
        assert!(!re.is_match("xServerInfo~a/b"));
        assert!(!re.is_match("ServerInfo~ab"));
        let re = Regex::new(&like_to_regex("a.b?")).expect("compiles");
        assert!(re.is_match("a.bc"));
        assert!(!re.is_match("axbc"));
    }
}

#[cfg(test)]
mod semantics {
    use super::*;
    use exhunt_kb::{KbFile, KbFiles};

    fn rules(condition: &str) -> LogRules {
        let text = format!(
            "id = \"EXH-LOG-0001\"\ntitle = \"t\"\nkind = \"context\"\nseverity = \"info\"\nreferences = [\"r\"]\n\
             remediation = \"x\"\n[[positive]]\nrecord = {{ A = \"lit\" }}\n[[negative]]\nrecord = {{ A = \"b\" }}\n\
             [log]\nsources = [\"oab-generator\"]\nprefilter = [\"lit\"]\ncondition = {condition}\n"
        );
        let files = KbFiles {
            root: None,
            files: vec![KbFile { rel: "rules/log/exh-log-0001.toml".into(), display: "t.toml".into(), text }],
        };
        let (kb, diags) = Kb::load(files);
        assert!(diags.iter().all(|d| matches!(d.code, "K018" | "K050")), "{diags:?}");
        let (r, diags) = LogRules::new(&kb);
        assert!(diags.is_empty(), "{diags:?}");
        r
    }

    fn hit(r: &LogRules, rec: &[(&str, &str)]) -> bool {
        let raw: Vec<&str> = rec.iter().map(|(_, v)| *v).collect();
        !r.matches("oab-generator", raw.join("\n").as_bytes(), rec).is_empty()
    }

    #[test]
    fn operators_ignore_ascii_case_unless_told() {
        let r = rules(r#"{ all = [{ field = "A", startswith = "LIT" }, { field = "B", endswith = ["x", "Y"] }] }"#);
        assert!(hit(&r, &[("A", "lit-1"), ("B", "ay")]));
        assert!(!hit(&r, &[("A", "lit-1"), ("B", "az")]));
        let r = rules(r#"{ all = [{ field = "A", equals = "Lit", case_sensitive = true }] }"#);
        assert!(!hit(&r, &[("A", "lit")]));
        assert!(hit(&r, &[("A", "Lit")]));
    }

    #[test]
    fn missing_fields_fail_every_test_but_exists_false() {
        let r = rules(r#"{ all = [{ field = "A", contains = "lit" }], none = [{ field = "C", exists = true }] }"#);
        assert!(hit(&r, &[("A", "xlitx")]));
        assert!(!hit(&r, &[("A", "xlitx"), ("C", "")]));
        let r = rules(r#"{ all = [{ field = "A", contains = "lit" }], any = [{ field = "Missing", regex = ".*" }] }"#);
        assert!(!hit(&r, &[("A", "lit")]));
    }

    #[test]
    fn the_prefilter_gates_evaluation() {
        let r = rules(r#"{ all = [{ field = "A", like = "*" }] }"#);
        assert!(r.prefilter("oab-generator", b"nothing to see").is_empty());
        assert!(!r.prefilter("oab-generator", b"a LIT b").is_empty());
        assert!(r.prefilter("iis", b"lit").is_empty(), "another source has no rules");
        assert!(r.wants("oab-generator") && !r.wants("iis"));
    }
}
