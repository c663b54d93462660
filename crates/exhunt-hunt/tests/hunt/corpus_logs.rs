//! The real IIS logs of the corpus, hunted as a folder of logs (`--drive C`): the Tunna tunnel's traffic to
//! `/erp/conn.aspx` is reported and decides the verdict; the benign logs give nothing above `low`.

use exhunt_hunt::evidence::{self, OpenOptions};
use exhunt_hunt::hunt::{Engines, HuntOptions, hunt_host};
use exhunt_kb::Kb;
use exhunt_model::{HostVerdict, Locator, Severity};
use exhunt_testkit::shared;
use std::path::Path;

fn hunt(dir: &Path) -> exhunt_hunt::hunt::HostResult {
    let kb = Kb::builtin();
    let (engines, _) = Engines::new(&kb);
    let source = evidence::open(dir, &OpenOptions { drive: Some('C'), ..Default::default() }).expect("open");
    let mut opts = HuntOptions::default();
    opts.window[0] = exhunt_model::Timestamp::parse_rfc3339("2019-01-01T00:00:00Z").expect("t");
    hunt_host(source.as_ref(), &engines, &opts, &|_| {})
}

#[test]
fn tunna_traffic_to_erp_conn_aspx_is_reported() {
    let r = hunt(&shared().join("corpus/logs/iis/malicious"));
    assert_eq!(r.report.verdict, HostVerdict::BackdoorUsed, "{}", r.report.reason);
    let tunnel: Vec<_> = r
        .findings
        .iter()
        .filter(|f| {
            f.severity >= Severity::High && f.details.get("url").and_then(|v| v.as_str()) == Some("/erp/conn.aspx")
        })
        .collect();
    assert!(!tunnel.is_empty(), "no finding names /erp/conn.aspx");
    let count: u64 = tunnel.iter().filter_map(|f| f.details.get("count").and_then(|v| v.as_u64())).sum();
    // 2,558 GET + 1,737 POST `proxy` requests and 3 `proxy&port=3389&ip=127.0.0.1` connects.
    assert_eq!(count, 4298, "every tunnel request counted");
    let first = tunnel.iter().filter_map(|f| f.time).min().expect("time");
    assert_eq!(first.to_string(), "2019-09-03T10:13:36Z");
    assert!(tunnel[0].evidence.iter().any(
        |e| e.path.ends_with("sbousseaden_Tunna_rdp_tunnel_IIS.log") && matches!(e.locator, Some(Locator::Line(_)))
    ));
    let iis = r.report.coverage.iter().find(|c| c.source == "iis").expect("iis coverage");
    assert_eq!(iis.files, 1);
}

#[test]
fn the_benign_iis_logs_give_nothing_above_low() {
    let r = hunt(&shared().join("corpus/logs/iis/benign"));
    let above: Vec<String> =
        r.findings.iter().filter(|f| f.severity > Severity::Low).map(|f| format!("{} {}", f.rule, f.title)).collect();
    assert!(above.is_empty(), "{above:?}");
    assert_eq!(r.report.verdict, HostVerdict::Clean);
    let iis = r.report.coverage.iter().find(|c| c.source == "iis").expect("iis coverage");
    assert_eq!(iis.files, 2, "both benign logs were read");
    assert!(iis.records > 0);
}
