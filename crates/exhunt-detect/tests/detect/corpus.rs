//! The shipped rules over the real corpus in `../shared/corpus`, read in place (never copied into the repository).
//! Each assertion follows the file's `expect` in the corpus manifest.

use exhunt_detect::FileRules;
use exhunt_detect::scan::{BodyAnchors, fingerprint};
use exhunt_kb::Kb;
use exhunt_model::{Build, BuildSource, Chain, ChainStatus, Class, Observation, Probe, ScanStatus};
use std::path::Path;

use exhunt_testkit::corpus;

fn shipped() -> Kb {
    Kb::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb")).0
}

/// Ids of the file rules that match the corpus file at `rel`.
fn file_hits(rules: &FileRules, rel: &str) -> Vec<String> {
    let path = corpus().join(rel);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("corpus file {}: {e}", path.display()));
    let hits = rules.scan(Some(rel), &data).expect("scan");
    hits.iter().map(|h| h.rule.to_string()).collect()
}

#[test]
fn china_chopper_rule_matches_the_chopper_one_liners() {
    let kb = shipped();
    let (rules, diags) = FileRules::new(&kb);
    assert!(diags.is_empty(), "{diags:?}");
    for rel in [
        // "webshell: China Chopper (canonical one-liner)"
        "webshells/chopper/tennc_aspx_editor.aspx",
        // "webshell: China Chopper (JScript eval/unsafe); note GIF89a header before page directive"
        "webshells/chopper/tennc_caidao-shell_ice.aspx",
        // "webshell: dropper (ASHX) embedding China Chopper string" (split into concatenated strings)
        "webshells/chopper/xl7dev_Ashx_write_aspx_file.ashx",
        // "webshell component: XSLT msxsl:script payload": its script is eval(Request.Item['a'],'unsafe')
        "webshells/other_aspx/xl7dev_xml_xml.aspx",
    ] {
        // Other rules may match the same file too (EXH-FILE-0013 names the XSLT payload, EXH-FILE-0017 is the
        // generic request-eval net); this test is about EXH-FILE-0001.
        let hits = file_hits(&rules, rel);
        assert!(hits.iter().any(|h| h == "EXH-FILE-0001"), "{rel}: {hits:?}");
    }
}

#[test]
fn china_chopper_offsets_point_at_the_eval() {
    let kb = shipped();
    let (rules, _) = FileRules::new(&kb);
    let rel = "webshells/chopper/tennc_caidao-shell_ice.aspx";
    let data = std::fs::read(corpus().join(rel)).expect("corpus file");
    let hits = rules.scan(Some(rel), &data).expect("scan");
    let hit = hits.iter().find(|h| h.rule == "EXH-FILE-0001").expect("EXH-FILE-0001 matches");
    let m = &hit.matches[0];
    assert_eq!(m.yara_rule, "EXH_China_Chopper_ASPX");
    assert!(data[m.range.clone()].starts_with(b"eval(Request.Item[\"ice\"]"), "{:?}", m.range);
}

#[test]
fn no_file_rule_matches_benign_aspnet_pages() {
    let kb = shipped();
    let (rules, _) = FileRules::new(&kb);
    let mut files = Vec::new();
    for app in ["benign/aspnet/blogengine", "benign/aspnet/mono-xsp"] {
        for e in std::fs::read_dir(corpus().join(app)).expect("benign folder").filter_map(Result::ok) {
            files.push(format!("{app}/{}", e.file_name().to_string_lossy()));
        }
    }
    files.sort();
    assert_eq!(files.len(), 10, "{files:?}");
    for rel in &files {
        assert!(file_hits(&rules, rel).is_empty(), "{rel} matched");
    }
}

// The real OWA logon page in `corpus/fingerprint/owa/` is recognised with its CU, as the scanner keeps it.

fn obs(body: &[u8], feserver: bool) -> Observation {
    let (title, snippets) = BodyAnchors::new(&Kb::builtin().scan.markers).extract(body);
    let mut headers = std::collections::BTreeMap::new();
    if feserver {
        headers.insert("x-feserver".to_string(), vec!["EX16".to_string()]);
    }
    Observation {
        seq: Some(0),
        ip: "127.0.0.1".parse().expect("ip"),
        port: 443,
        name: None,
        status: ScanStatus::Success,
        phase: None,
        error: None,
        started: "2021-03-03T00:00:00Z".into(),
        elapsed_ms: 1,
        tls: None,
        probes: vec![Probe {
            name: "logon".into(),
            path: "/owa/auth/logon.aspx".into(),
            status: Some(200),
            headers,
            title,
            snippets,
            ..Probe::default()
        }],
        fingerprint: None,
    }
}

#[test]
fn the_real_logon_page_is_recognised_with_its_cu() {
    let page = std::fs::read(corpus().join("fingerprint/owa/joda32_outlook_web_15.1.1466.html")).expect("corpus page");
    let kb = Kb::builtin();
    // Alone (as the honeypot serves it): an OWA look-alike.
    let fp = fingerprint(&obs(&page, false), &kb).expect("fp");
    assert_eq!(fp.class, Class::Lookalike);
    // From a server that also answers as Exchange: 2016 CU9 family, ProxyLogon indeterminate (CU9 got the Mar21SU).
    let fp = fingerprint(&obs(&page, true), &kb).expect("fp");
    assert_eq!(fp.class, Class::Exchange);
    assert_eq!(fp.build, Some(Build::cu(15, 1, 1466)));
    assert_eq!(fp.build_source, Some(BuildSource::LogonPath));
    assert_eq!(fp.product.as_deref(), Some("2016"));
    assert_eq!(
        fp.verdict.as_ref().and_then(|v| v.chain(Chain::ProxyLogon)).map(|c| c.status),
        Some(ChainStatus::Indeterminate)
    );
}

#[test]
fn the_iis_error_pages_are_not_exchange() {
    let kb = Kb::builtin();
    for f in ["joda32_401.html", "joda32_403.html", "joda32_404.html"] {
        let page = std::fs::read(corpus().join("fingerprint/owa").join(f)).expect("corpus page");
        let fp = fingerprint(&obs(&page, false), &kb).expect("fp");
        assert_eq!(fp.class, Class::NotExchange, "{f}");
    }
}
