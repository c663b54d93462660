//! Pins the JSON Lines wire format of `docs/output.md`. The structures below are written from that document, not
//! imported from `exhunt-model`, and reject unknown fields: a change to the format fails here until the document
//! and these copies are updated together.

use assert_cmd::Command;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<T> {
    #[serde(rename = "type")]
    kind: String,
    v: u32,
    data: T,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CveStatus {
    cve: String,
    status: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainVerdict {
    chain: String,
    status: String,
    reason: String,
    cves: Vec<CveStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildVerdict {
    input: String,
    build: Option<String>,
    product: Option<String>,
    name: Option<String>,
    cu: Option<String>,
    update: Option<String>,
    kb: Option<String>,
    release_date: Option<String>,
    matched: String,
    chains: Vec<ChainVerdict>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorRec {
    code: Option<String>,
    message: String,
    path: Option<String>,
    locator: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiagnosticRec {
    level: String,
    code: String,
    message: String,
    file: String,
    line: usize,
    col: usize,
    help: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
enum Locator {
    #[serde(rename = "line")]
    Line(u64),
    #[serde(rename = "record")]
    Record(u64),
    #[serde(rename = "offset")]
    Offset(u64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceRec {
    path: String,
    locator: Option<Locator>,
    sha256: Option<String>,
    excerpt: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingRec {
    id: String,
    rule: String,
    kind: String,
    severity: String,
    title: String,
    time: Option<String>,
    host: Option<String>,
    evidence: Vec<EvidenceRec>,
    remediation: String,
    #[serde(default)]
    details: serde_json::Map<String, serde_json::Value>,
}

fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8(out.to_vec())
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}")))
        .collect()
}

#[test]
fn build_verdict_records_match_the_documented_schema() {
    let out = Command::cargo_bin("exhunt")
        .expect("binary")
        .args(["kb", "verdict", "--json", "15.1.2176.9", "15.1.2176", "14.3.123.4", "15.1.9999.1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let recs = lines(&out.stdout);
    assert_eq!(recs.len(), 4);
    let want = [
        ("15.1.2176.9", "exact", ["fixed", "vulnerable", "vulnerable"]),
        ("15.1.2176", "cu", ["indeterminate", "indeterminate", "vulnerable"]),
        ("14.3.123.4", "exact", ["not-affected", "not-affected", "not-affected"]),
        ("15.1.9999.1", "none", ["unknown", "unknown", "unknown"]),
    ];
    for (rec, (input, matched, statuses)) in recs.into_iter().zip(want) {
        let e: Envelope<BuildVerdict> = serde_json::from_value(rec).expect("schema");
        assert_eq!((e.kind.as_str(), e.v), ("build-verdict", 1));
        assert_eq!(e.data.input, input);
        assert_eq!(e.data.matched, matched);
        let chains: Vec<&str> = e.data.chains.iter().map(|c| c.chain.as_str()).collect();
        assert_eq!(chains, ["proxylogon", "proxyshell", "proxynotshell"]);
        let got: Vec<&str> = e.data.chains.iter().map(|c| c.status.as_str()).collect();
        assert_eq!(got, statuses, "{input}");
        assert!(e.data.chains.iter().all(|c| !c.reason.is_empty() && !c.cves.is_empty()));
        assert!(e.data.chains[0].cves.iter().any(|c| c.cve == "CVE-2021-26855" && c.status == got[0]));
        let _ = (&e.data.build, &e.data.product, &e.data.name, &e.data.cu, &e.data.update, &e.data.kb);
        let _ = &e.data.release_date;
    }
}

#[test]
fn a_malformed_build_is_an_error_record_and_exit_2() {
    let out = Command::cargo_bin("exhunt")
        .expect("binary")
        .args(["kb", "verdict", "--json", "15.1.2176.9", "15.1.21x6"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let recs = lines(&out.stdout);
    assert_eq!(recs.len(), 3, "one error and two verdicts");
    let err: Envelope<ErrorRec> = serde_json::from_value(recs[0].clone()).expect("error schema");
    assert_eq!(err.kind, "error");
    assert_eq!(err.data.code.as_deref(), Some("B001"));
    assert_eq!(err.data.path.as_deref(), Some("argument 2"));
    assert!(err.data.message.contains("column 8"), "{}", err.data.message);
    assert!(err.data.locator.is_none());
    let bad: Envelope<BuildVerdict> = serde_json::from_value(recs[2].clone()).expect("verdict schema");
    assert!(bad.data.build.is_none());
    assert!(bad.data.chains.iter().all(|c| c.status == "unknown" && c.reason.starts_with("malformed build")));
}

#[test]
fn diagnostic_records_match_the_documented_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("builds")).expect("mkdir");
    std::fs::write(
        dir.path().join("builds/exchange-builds.csv"),
        "product,name\n2016,x\n", // missing columns
    )
    .expect("write");
    let out = Command::cargo_bin("exhunt")
        .expect("binary")
        .args(["kb", "check", "--json"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let recs = lines(&out.stdout);
    assert!(!recs.is_empty());
    for r in recs {
        let d: Envelope<DiagnosticRec> = serde_json::from_value(r).expect("diagnostic schema");
        assert_eq!((d.kind.as_str(), d.v), ("diagnostic", 1));
        assert!(d.data.level == "error" || d.data.level == "warning");
        assert!(d.data.code.starts_with('K'));
        let _ = (&d.data.message, &d.data.file, d.data.line, d.data.col, &d.data.help);
    }
}

#[test]
fn finding_records_match_the_documented_schema() {
    use exhunt_model::{Evidence, Finding, FindingKind, Locator as L, Severity, Timestamp};
    let mut f = Finding {
        id: "f-1".into(),
        rule: "EXH-LOG-0001".into(),
        kind: FindingKind::CredentialAccess,
        severity: Severity::High,
        title: "t".into(),
        time: Some(Timestamp::parse_rfc3339("2021-03-03T07:12:09+01:00").expect("time")),
        host: Some("mail01".into()),
        evidence: vec![
            Evidence { path: "a.log".into(), locator: Some(L::Line(3)), sha256: Some("00".repeat(32)), excerpt: None },
            Evidence { path: "b.evtx".into(), locator: Some(L::Record(9)), sha256: None, excerpt: Some("x".into()) },
            Evidence { path: "c.aspx".into(), locator: Some(L::Offset(0)), sha256: None, excerpt: None },
            Evidence { path: "d".into(), locator: None, sha256: None, excerpt: None },
        ],
        remediation: "r".into(),
        details: Default::default(),
    };
    f.details.insert("client_ip".into(), serde_json::json!("203.0.113.9"));
    let mut w = exhunt_report::JsonlWriter::new(Vec::new());
    w.write(&f).expect("write");
    let text = String::from_utf8(w.into_inner()).expect("utf-8");
    assert!(text.contains(r#""time":"2021-03-03T06:12:09Z""#), "{text}");
    assert!(text.contains(r#""kind":"credential-access""#), "{text}");
    assert!(text.contains(r#""locator":{"line":3}"#), "{text}");
    let e: Envelope<FindingRec> = serde_json::from_str(text.trim_end()).expect("finding schema");
    assert_eq!((e.kind.as_str(), e.v), ("finding", 1));
    assert_eq!(e.data.evidence.len(), 4);
    assert!(matches!(e.data.evidence[1].locator, Some(Locator::Record(9))));
    assert_eq!(e.data.details["client_ip"], "203.0.113.9");
    let _ = (&e.data.id, &e.data.rule, &e.data.kind, &e.data.severity, &e.data.title, &e.data.time, &e.data.host);
    let _ = (&e.data.remediation, &e.data.evidence[0].path, &e.data.evidence[0].sha256, &e.data.evidence[0].excerpt);
    // Round trip through the model type too.
    let back: Envelope<Finding> = serde_json::from_str(text.trim_end()).expect("model");
    assert_eq!(back.data, f);
}
