//! Every EVTX of `shared/corpus/evtx` gets what its manifest `expect` says, through the whole hunt (readers, built-in
//! event rules, the corpus's SigmaHQ rules loaded unchanged, the story): the named behaviour at the named time for
//! the malicious ones, nothing above `low` on the benign ones. The corpus is read in place, as a drive root.

use exhunt_detect::SigmaRules;
use exhunt_hunt::evidence::{self, OpenOptions};
use exhunt_hunt::hunt::{Engines, HostResult, HuntOptions, hunt_host};
use exhunt_kb::Kb;
use exhunt_model::{Finding, Severity, Stage};
use exhunt_testkit::shared;
use std::sync::OnceLock;

fn result() -> &'static (HostResult, usize) {
    static R: OnceLock<(HostResult, usize)> = OnceLock::new();
    R.get_or_init(|| {
        let kb: &'static Kb = Box::leak(Box::new(Kb::builtin()));
        let (mut engines, diags) = Engines::new(kb);
        assert!(!diags.iter().any(|d| d.is_error()), "{diags:?}");
        let (sigma, failures) = SigmaRules::load_dirs(&[&shared().join("corpus/rules/sigma")]);
        assert!(failures.is_empty(), "{failures:?}");
        let loaded = sigma.len();
        engines.sigma = sigma;
        let root = shared().join("corpus/evtx");
        let src = evidence::open(&root, &OpenOptions { drive: Some('C'), ..OpenOptions::default() }).expect("open");
        let mut opts = HuntOptions::default();
        opts.window[0] = exhunt_model::Timestamp::parse_rfc3339("2013-01-01T00:00:00Z").expect("t");
        (hunt_host(src.as_ref(), &engines, &opts, &|_| {}), loaded)
    })
}

fn of_file<'a>(name: &str) -> Vec<&'a Finding> {
    result().0.findings.iter().filter(|f| f.evidence.iter().any(|e| e.path.ends_with(name))).collect()
}

/// A finding of `rule` (an exhunt id, or the start of a Sigma id after `SIGMA-`) on `file` whose time starts with
/// `time` (RFC 3339, as precise as the manifest says), at `severity` or worse.
fn expect(file: &str, rule: &str, time: &str, severity: Severity) {
    let fs = of_file(file);
    let found = fs.iter().any(|f| {
        f.rule.starts_with(rule) && f.severity >= severity && f.time.is_some_and(|t| t.to_string().starts_with(time))
    });
    let seen: Vec<String> =
        fs.iter().map(|f| format!("{} {} {:?}", f.rule, f.severity, f.time.map(|t| t.to_string()))).collect();
    assert!(found, "{file}: no {rule} at {time} ({severity}+); found: {seen:#?}");
}

#[test]
fn web_shell_command_execution_from_w3wp() {
    let f = "LM_typical_IIS_webshell_sysmon_1_10_traces.evtx";
    expect(f, "EXH-LOG-0115", "2019-05-24T01:33:53.112", Severity::High);
    expect(f, "EXH-LOG-0117", "2019-05-24T01:33:53.18", Severity::High);
    expect(f, "EXH-LOG-0117", "2019-05-24T01:33:53.19", Severity::High);
    // The SigmaHQ rule for a shell spawned by a web server, loaded unchanged.
    expect(f, "SIGMA-8202070f", "2019-05-24T01:33:53.112", Severity::High);
}

#[test]
fn rotten_potato_from_a_web_shell() {
    let f = "privesc_rotten_potato_from_webshell_metasploit_sysmon_1_8_3.evtx";
    expect(f, "EXH-LOG-0116", "2019-05-26T15:47:56.667", Severity::Medium);
    expect(f, "EXH-LOG-0120", "2019-05-26T15:47:57.628", Severity::High);
}

#[test]
fn tunna_tunnel_connections_from_w3wp() {
    let f = "tunna_iis_rdp_smb_tunneling_sysmon_3.evtx";
    expect(f, "EXH-LOG-0119", "2019-09-03T11:0", Severity::High);
    expect(f, "EXH-LOG-0119", "2019-09-03T11:3", Severity::High);
}

#[test]
fn comsvcs_minidump_is_a_dump_but_not_of_lsass() {
    let f = "sysmon_10_1_memdump_comsvcs_minidump.evtx";
    expect(f, "EXH-LOG-0123", "2019-08-30T12:54:08.354", Severity::High);
    expect(f, "SIGMA-646ea171", "2019-08-30T12:54:08.354", Severity::High);
    // The target is notepad: nothing may call it an LSASS dump.
    for x in of_file(f) {
        assert!(!x.title.to_lowercase().contains("lsass"), "{f}: {} {}", x.rule, x.title);
    }
}

#[test]
fn lsass_dumps_by_procdump_taskmgr_and_powershell() {
    let f = "sysmon_10_11_lsass_memdump.evtx";
    expect(f, "EXH-LOG-0121", "2019-03-17T19:09:41.328", Severity::High);
    expect(f, "EXH-LOG-0128", "2019-03-17T19:10:03.991", Severity::Medium);
    expect("Powershell_4104_MiniDumpWriteDump_Lsass.evtx", "EXH-LOG-0126", "2020-06-30T14:24:08", Severity::High);
}

#[test]
fn exchange_and_directory_persistence() {
    let f = "ID6-Failed_to_install_an_Exchange_transport_agent.evtx";
    expect(f, "EXH-LOG-0112", "2021-06-04T08:41:47.982", Severity::High);
    expect(f, "EXH-LOG-0112", "2021-06-04T08:43:08.476", Severity::High);
    expect(f, "SIGMA-c7d16cae", "2021-06-04T08:41:47.982", Severity::High);
    expect("ID11-Exchange_transport_config_modified.evtx", "EXH-LOG-0143", "2021-06-04T09:30:48.170", Severity::High);
    expect("ID4756-Exchange_admin_group_change.evtx", "EXH-LOG-0137", "2021-02-02T16:20:48", Severity::Medium);
    expect("privexchange_dirkjan.evtx", "EXH-LOG-0144", "2019-02-02T09:1", Severity::High);
}

#[test]
fn accounts_are_context_at_low() {
    expect("ID4720-Local_user_created.evtx", "EXH-LOG-0135", "2020-07-12T05:12:58.295", Severity::Low);
    expect("ID4732-User_added_to_local_admin_groups.evtx", "EXH-LOG-0136", "2020-07-12T05:14:30.976", Severity::Low);
    expect(
        "sysmon_local_account_creation_and_added_admingroup_12_13.evtx",
        "EXH-LOG-0138",
        "2020-09-04",
        Severity::Low,
    );
}

#[test]
fn the_real_exchange_management_event_is_forwarding_not_oab() {
    let f = "MSExchange_Management_wec.evtx";
    expect(f, "EXH-LOG-0113", "2021-11-19T16:52:33.833", Severity::Medium);
    for x in of_file(f) {
        assert!(
            !x.title.contains("VirtualDirectory")
                && !x.details.get("cve").is_some_and(|c| c.to_string().contains("27065")),
            "{f}: an OAB/ProxyLogon rule fired: {} {}",
            x.rule,
            x.title
        );
    }
}

#[test]
fn benign_logs_give_nothing_above_low() {
    let benign: Vec<&Finding> =
        result().0.findings.iter().filter(|f| f.evidence.iter().any(|e| e.path.starts_with("benign/"))).collect();
    for f in &benign {
        assert!(f.severity <= Severity::Low, "benign: {} {} {}", f.rule, f.severity, f.title);
    }
    // The manifest's documented context: the new-user log lists IEUser's creation.
    expect("omerbenamram_new-user-security.evtx", "EXH-LOG-0135", "2013-10-23T16:22:39.973", Severity::Low);
}

#[test]
fn coverage_counts_damage_and_the_story_is_told() {
    let (r, loaded) = result();
    assert_eq!(*loaded, 47, "the corpus's 49 Sigma files: 47 rules routed, 2 proxy rules not (docs/sigma.md)");
    let ev = r.report.coverage.iter().find(|c| c.source == "event-logs").expect("event-logs coverage");
    assert_eq!(ev.files, 19);
    assert!(ev.malformed > 0, "the damaged Sysmon log's unreadable chunk is counted");
    assert!(r.report.coverage.iter().any(|c| c.source == "evtx:Microsoft-Windows-Sysmon/Operational"));
    let inc = r.incident.as_ref().expect("an incident");
    for s in [Stage::Execution, Stage::CredentialAccess, Stage::Persistence] {
        assert!(inc.stages.contains(&s), "{:?}", inc.stages);
    }
    assert_eq!(r.report.verdict, exhunt_model::HostVerdict::BackdoorUsed);
}
