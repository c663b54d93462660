//! Golden diagnostics for broken rules: every folder in `crates/exhunt-kb/tests/fixtures/rules/` is a small
//! knowledge base, and what `exhunt kb check` and `exhunt kb test` would print for it (the loader's diagnostics, then
//! compilation's, then self-test failures, each rendered with `{}` and the fixture path made relative) must equal the
//! committed `<folder>.expected`. `UPDATE_GOLDEN=1 cargo test -p exhunt-detect --test golden` rewrites them.

use exhunt_detect::{check, selftest};
use exhunt_kb::Kb;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../exhunt-kb/tests/fixtures/rules")
}

/// The full report for one fixture folder.
fn report(case: &Path) -> String {
    let prefix = format!("{}/", fixtures().display());
    let own = case.display().to_string();
    let (kb, load) = Kb::load_dir(case);
    // The fixtures have no build catalog and no scan packs (K050); keep only what concerns the fixture's own rules.
    let mut diags: Vec<_> = load.into_iter().filter(|d| d.file.starts_with(&own) && d.code != "K050").collect();
    diags.extend(check(&kb));
    diags.extend(selftest(&kb).failures());
    diags.iter().map(|d| format!("{d}\n").replace(&prefix, "")).collect()
}

#[test]
fn broken_rules_give_the_golden_diagnostics() {
    let root = fixtures();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 11, "fixture folders: {cases:?}");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for case in &cases {
        let got = report(case);
        let name = case.file_name().and_then(|n| n.to_str()).expect("utf-8 fixture name");
        let expected_path = root.join(format!("{name}.expected"));
        assert!(!got.is_empty(), "{name}: a broken-rule fixture must produce diagnostics");
        if update {
            std::fs::write(&expected_path, &got).expect("write golden file");
            continue;
        }
        let want = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != want {
            stale.push(format!("--- {name}.expected\n{want}+++ got\n{got}"));
        }
    }
    assert!(stale.is_empty(), "golden files differ (UPDATE_GOLDEN=1 rewrites them):\n{}", stale.join("\n"));
}

#[test]
fn every_golden_file_has_its_fixture() {
    let root = fixtures();
    for entry in std::fs::read_dir(&root).expect("fixtures folder").filter_map(Result::ok) {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "expected") {
            assert!(p.with_extension("").is_dir(), "{} has no fixture folder", p.display());
        }
    }
}

#[test]
fn the_self_test_can_fail() {
    let (kb, _) = Kb::load_dir(&fixtures().join("wrong-sample"));
    let t = selftest(&kb);
    assert!(t.skipped.is_empty());
    let failed: Vec<(&str, &str)> =
        t.results.iter().filter(|r| !r.passed()).map(|r| (r.rule.as_str(), r.sample.as_str())).collect();
    assert_eq!(
        failed,
        [
            ("EXH-FILE-0001", "positive #2 (wrong: out of scope by extension)"),
            ("EXH-FILE-0001", "negative #1 (wrong: matches)"),
            ("EXH-LOG-0001", "positive #2 (wrong: localhost is excluded)"),
            ("EXH-LOG-0001", "negative #1 (wrong: this is an exploitation record)"),
            ("EXH-PATH-0001", "positive #2"),
            ("EXH-PATH-0001", "negative #2 (wrong)"),
        ]
    );
    assert_eq!(t.passed(), t.results.len() - 6);
    assert!(t.failures().iter().all(|d| d.code == "K023" && d.is_error() && d.line > 0));
}
