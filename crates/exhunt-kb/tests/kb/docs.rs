//! `docs/kb-format.md` lists every diagnostic code; this keeps the list equal to `diag::CODES`.

use exhunt_kb::diag::CODES;
use std::path::Path;

#[test]
fn the_documented_codes_are_the_codes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/kb-format.md");
    let doc = std::fs::read_to_string(&path).expect("docs/kb-format.md");
    let (start, end) = ("<!-- codes:start -->\n", "<!-- codes:end -->");
    let a = doc.find(start).expect("start marker") + start.len();
    let b = doc.find(end).expect("end marker");
    let mut table = String::from("| code | meaning |\n|---|---|\n");
    for (code, meaning) in CODES {
        table.push_str(&format!("| {code} | {meaning} |\n"));
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, format!("{}{}{}", &doc[..a], table, &doc[b..])).expect("write");
        return;
    }
    assert_eq!(&doc[a..b], table, "docs/kb-format.md's code table is stale: rerun with UPDATE_GOLDEN=1");
}

#[test]
fn the_rule_list_in_kb_rules_readme_is_the_rule_set() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb");
    let (kb, _) = exhunt_kb::Kb::load_dir(&root);
    let path = root.join("rules/README.md");
    let doc = std::fs::read_to_string(&path).expect("kb/rules/README.md");
    let (start, end) = ("<!-- rules:start -->\n", "<!-- rules:end -->");
    let a = doc.find(start).expect("start marker") + start.len();
    let b = doc.find(end).expect("end marker");
    let mut rules: Vec<&exhunt_kb::Rule> = kb.rules.rules.iter().collect();
    rules.sort_by(|x, y| x.id.cmp(&y.id));
    let mut table = String::from("| id | kind | severity | family | title |\n|---|---|---|---|---|\n");
    for r in rules {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.id,
            r.kind,
            r.severity,
            r.family.as_deref().unwrap_or(""),
            r.title.replace('|', "\\|")
        ));
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, format!("{}{}{}", &doc[..a], table, &doc[b..])).expect("write");
        return;
    }
    assert_eq!(&doc[a..b], table, "kb/rules/README.md's rule list is stale: rerun with UPDATE_GOLDEN=1");
}
