//! The real OWA logon page in `../shared/corpus/fingerprint/owa/` (read in place) is recognised with its CU.

use exhunt_kb::Kb;
use exhunt_model::{Build, Chain, ChainStatus};
use exhunt_scan::observe::{Probe, extract};
use exhunt_scan::{BuildSource, Class, Observation, ScanStatus, fingerprint};
use std::path::PathBuf;

fn shared() -> PathBuf {
    std::env::var_os("EXHUNT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

fn obs(body: &[u8], feserver: bool) -> Observation {
    let (title, snippets) = extract(body);
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
    let page =
        std::fs::read(shared().join("corpus/fingerprint/owa/joda32_outlook_web_15.1.1466.html")).expect("corpus page");
    let catalog = Kb::builtin().catalog;
    // Alone (as the honeypot serves it): an OWA look-alike.
    let fp = fingerprint(&obs(&page, false), &catalog).expect("fp");
    assert_eq!(fp.class, Class::Lookalike);
    // From a server that also answers as Exchange: 2016 CU9 family, ProxyLogon indeterminate (CU9 got the Mar21SU).
    let fp = fingerprint(&obs(&page, true), &catalog).expect("fp");
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
    let catalog = Kb::builtin().catalog;
    for f in ["joda32_401.html", "joda32_403.html", "joda32_404.html"] {
        let page = std::fs::read(shared().join("corpus/fingerprint/owa").join(f)).expect("corpus page");
        let fp = fingerprint(&obs(&page, false), &catalog).expect("fp");
        assert_eq!(fp.class, Class::NotExchange, "{f}");
    }
}
