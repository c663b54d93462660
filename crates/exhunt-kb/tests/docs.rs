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
