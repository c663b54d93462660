//! The shipped knowledge base: it loads and compiles without errors, every rule passes its own samples, and the self
//! test does report a wrong sample.

use exhunt_detect::{FileRules, LogRules, PathRules, check, selftest};
use exhunt_kb::{Diagnostic, Kb};
use std::path::{Path, PathBuf};

fn kb_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb")
}

fn render(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("{d}\n")).collect()
}

#[test]
fn shipped_kb_checks_clean() {
    let (kb, load) = Kb::load_dir(&kb_dir());
    let mut all = load;
    all.extend(check(&kb));
    let errors: Vec<Diagnostic> = all.iter().filter(|d| d.is_error()).cloned().collect();
    assert!(errors.is_empty(), "kb check errors:\n{}", render(&errors));
    let rule_diags: Vec<Diagnostic> = all.into_iter().filter(|d| d.file.contains("rules")).collect();
    assert!(rule_diags.is_empty(), "rule warnings:\n{}", render(&rule_diags));
}

#[test]
fn shipped_kb_passes_its_self_test() {
    let (kb, _) = Kb::load_dir(&kb_dir());
    let t = selftest(&kb);
    assert!(t.skipped.is_empty(), "rules not compiled: {:?}", t.skipped);
    assert!(t.failures().is_empty(), "self test failures:\n{}", render(&t.failures()));
    // Every shipped rule has at least two positive and two negative samples.
    for rule in &kb.rules.rules {
        let pos = t.results.iter().filter(|r| r.rule == rule.id && r.expected).count();
        let neg = t.results.iter().filter(|r| r.rule == rule.id && !r.expected).count();
        assert!(pos >= 2 && neg >= 2, "{}: {pos} positive, {neg} negative samples", rule.id);
    }
}

#[test]
fn shipped_rules_are_the_expected_set() {
    let (kb, _) = Kb::load_dir(&kb_dir());
    let ids: Vec<&str> = kb.rules.rules.iter().map(|r| r.id.as_str()).collect();
    for want in ["EXH-LOG-0001", "EXH-LOG-0002", "EXH-LOG-0004", "EXH-LOG-0005", "EXH-FILE-0001", "EXH-PATH-0001"] {
        assert!(ids.contains(&want), "{want} missing from {ids:?}");
    }
    let (logs, _) = LogRules::new(&kb);
    let (paths, _) = PathRules::new(&kb);
    let (files, _) = FileRules::new(&kb);
    assert_eq!(logs.len() + paths.len() + files.len(), kb.rules.rules.len());
}

#[test]
fn builtin_kb_is_the_shipped_kb() {
    let builtin = Kb::builtin();
    let (disk, _) = Kb::load_dir(&kb_dir());
    let a: Vec<&str> = builtin.rules.rules.iter().map(|r| r.id.as_str()).collect();
    let b: Vec<&str> = disk.rules.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(a, b);
    assert!(selftest(&builtin).failures().is_empty());
}
