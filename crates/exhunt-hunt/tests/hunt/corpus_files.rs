//! The corpus's web shells and benign look-alikes through the hunt's own file check (path rules, IOC names and
//! hashes, YARA), as if each were found in a site's web folder: every shell is reported at `high` or above, no
//! benign file above `info`. Files are read in place from `shared/corpus` (override with `EXHUNT_SHARED`).

use exhunt_hunt::hunt::{Engines, check_bytes};
use exhunt_kb::Kb;
use exhunt_model::Severity;
use exhunt_testkit::shared;

/// Manifest entries that are not server-side shells: the most the hunt may say about them.
const BORDERLINE: &[(&str, Severity)] = &[
    // A client-side HTML form for driving a one-liner: an attacker tool, not something IIS runs.
    ("webshells/other_aspx/xl7dev_ASPX_one_line_client_amxku.html", Severity::Medium),
];

#[test]
fn every_shell_is_found_and_no_benign_file_is_raised() {
    let corpus = shared().join("corpus");
    let kb = Kb::builtin();
    let (engines, diags) = Engines::new(&kb);
    assert!(diags.iter().all(|d| !d.is_error()));
    let manifest = std::fs::read_to_string(corpus.join("manifest.jsonl")).expect("manifest");
    let (mut shells, mut benign, mut problems) = (0, 0, Vec::new());
    for line in manifest.lines() {
        let e: serde_json::Value = serde_json::from_str(line).expect("json");
        let dest = e["dest"].as_str().expect("dest");
        let is_shell = dest.starts_with("webshells/");
        if !is_shell && !dest.starts_with("benign/") {
            continue;
        }
        let bytes = std::fs::read(corpus.join(dest)).expect("corpus file");
        let name = dest.rsplit('/').next().expect("name");
        let at = format!("C:\\inetpub\\wwwroot\\site\\{name}");
        let findings = check_bytes(&engines, &at, dest, &bytes);
        let max = findings.iter().map(|f| f.severity).max();
        let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
        if let Some((_, cap)) = BORDERLINE.iter().find(|(d, _)| *d == dest) {
            if max.is_some_and(|m| m > *cap) {
                problems.push(format!("{dest}: borderline raised to {max:?} by {rules:?}"));
            }
        } else if is_shell {
            shells += 1;
            if max.is_none_or(|m| m < Severity::High) {
                problems.push(format!("{dest}: shell reported at {max:?} ({rules:?})"));
            }
        } else {
            benign += 1;
            if max.is_some_and(|m| m > Severity::Info) {
                problems.push(format!("{dest}: benign file raised to {max:?} by {rules:?}"));
            }
        }
    }
    assert!(shells >= 27 && benign >= 18, "corpus shrank: {shells} shells, {benign} benign");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
