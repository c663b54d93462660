//! Loading rules: the shipped `kb/` loads without a diagnostic about its rules, every broken-rule fixture's loader
//! diagnostics open its golden file (less K050: the fixtures have no scan packs; the rest of each golden file is compilation and self test, pinned by
//! `crates/exhunt-detect/tests/golden.rs`), and the loaded form keeps what the evaluators need.

use exhunt_kb::rules::{Condition, RuleBody, RuleType, TestOp};
use exhunt_kb::{Kb, KbFiles};
use std::path::{Path, PathBuf};

fn kb_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

#[test]
fn shipped_rules_load_without_diagnostics() {
    let (kb, diags) = Kb::load_dir(&kb_dir());
    let about_rules: Vec<String> = diags.iter().filter(|d| d.file.contains("/rules/")).map(|d| d.to_string()).collect();
    assert!(about_rules.is_empty(), "{}", about_rules.join("\n"));
    let rule_files = kb.files.matching("rules/", ".toml").count();
    assert_eq!(kb.rules.rules.len(), rule_files, "every rule file loads");
    for t in RuleType::ALL {
        assert!(kb.rules.of_type(t).count() >= 1, "no {t} rule shipped");
    }
    // The `.yar` file and the sample file are claimed, so lib.rs does not call them stray (K024).
    assert!(kb.rules.sample_files.contains("rules/file/exh-file-0001.yar"));
    assert!(kb.rules.sample_files.contains("rules/file/samples/exh-file-0001-benign-form.aspx"));
    for f in &kb.rules.sample_files {
        assert!(kb.files.get(f).is_some(), "{f} is named but missing");
    }
}

#[test]
fn loader_diagnostics_open_each_golden_file() {
    let root = fixtures();
    let prefix = format!("{}/", root.display());
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 11);
    for case in cases {
        let name = case.file_name().and_then(|n| n.to_str()).expect("name").to_string();
        let own = case.display().to_string();
        let (_, diags) = Kb::load_dir(&case);
        let got: String = diags
            .iter()
            .filter(|d| d.file.starts_with(&own) && d.code != "K050")
            .map(|d| format!("{d}\n").replace(&prefix, ""))
            .collect();
        let golden = std::fs::read_to_string(root.join(format!("{name}.expected"))).expect("golden file");
        assert!(golden.starts_with(&got), "{name}: loader diagnostics\n{got}\nare not the start of\n{golden}");
    }
}

#[test]
fn each_broken_fixture_shows_its_code() {
    let want = [
        ("toml-syntax", "K002"),
        ("unknown-key", "K003"),
        ("bad-id", "K005"),
        ("bad-severity", "K012"),
        ("bad-kind", "K013"),
        ("no-negative-sample", "K014"),
        ("missing-sample-file", "K015"),
        ("unknown-log-source", "K016"),
        ("prefilter-not-in-sample", "K017"),
        ("no-references", "K021"),
        ("wrong-folder", "K040"),
        ("prefilter-not-in-sample", "K041"),
        ("field-typo", "K042"),
        ("prefilter-not-in-sample", "K043"),
    ];
    for (case, code) in want {
        let (_, diags) = Kb::load_dir(&fixtures().join(case));
        // Every code comes with a position, except K040, which is about the whole file.
        assert!(diags.iter().any(|d| d.code == code && (d.line > 0 || code == "K040")), "{case}: no {code}");
    }
}

#[test]
fn a_log_rule_keeps_its_condition_and_positions() {
    let text = r#"id = "EXH-LOG-0009"
title = "t"
kind = "context"
severity = "info"
references = ["r"]
remediation = "x"

[log]
sources = ["iis"]
prefilter = ["/ecp/"]
condition = { all = [{ field = "cs-method", equals = "POST" }], any = [{ field = "cs-uri-stem", regex = ['^/ecp/\w{1,3}\.js$', 'default\.flt'], case_sensitive = true }, { none = [{ field = "sc-status", one_of = ["404", "500"] }] }] }

[[positive]]
record = { cs-method = "POST", cs-uri-stem = "/ecp/y.js", sc-status = "200" }

[[negative]]
name = "GET"
source = "iis"
record = { cs-method = "GET", cs-uri-stem = "/ecp/y.js" }
"#;
    let files = KbFiles {
        root: None,
        files: vec![exhunt_kb::KbFile {
            rel: "rules/log/exh-log-0009.toml".into(),
            display: "x.toml".into(),
            text: text.into(),
        }],
    };
    let mut diags = Vec::new();
    let set = exhunt_kb::rules::load(&files, &mut diags);
    assert!(diags.is_empty(), "{diags:?}");
    let rule = &set.rules[0];
    let RuleBody::Log(log) = &rule.body else { panic!("a log rule") };
    assert_eq!(log.sources, ["iis"]);
    assert_eq!(log.condition.all.len(), 1);
    assert_eq!(log.condition.any.len(), 2);
    let Condition::Test(t) = &log.condition.any[0] else { panic!("a test") };
    assert!(t.case_sensitive);
    let TestOp::Regex(res) = &t.op else { panic!("regex") };
    assert_eq!(res.len(), 2);
    assert_eq!(&text[res[0].offset..res[0].offset + 2], "'^");
    let Condition::Group(g) = &log.condition.any[1] else { panic!("a group") };
    assert!(matches!(&g.none[0], Condition::Test(t) if matches!(&t.op, TestOp::Equals(v) if v.len() == 2)));
    assert_eq!(log.negative[0].info.label(), "negative #1 (GET)");
    assert_eq!(log.positive[0].source, "iis");
    assert_eq!(log.positive[0].record[1], ("cs-uri-stem".to_string(), "/ecp/y.js".to_string()));
}

#[test]
fn inline_yara_positions_map_into_the_toml_file() {
    let (kb, _) = Kb::load_dir(&fixtures().join("bad-yara"));
    let rule = kb.rules.get("EXH-FILE-0001").expect("loads: the YARA error is found by compilation");
    let RuleBody::File(f) = &rule.body else { panic!("a file rule") };
    assert!(f.yara.exact);
    let file = kb.files.get(&f.yara.rel).expect("file");
    let at = f.yara.text.find("$b").expect("in source");
    assert_eq!(&file.text[f.yara.file_offset(at)..f.yara.file_offset(at) + 2], "$b");
    let rule = kb.rules.get("EXH-FILE-0002").expect("loads");
    let RuleBody::File(f) = &rule.body else { panic!("a file rule") };
    assert!(!f.yara.exact, "a basic string with escapes cannot be mapped byte for byte");
}
