//! SigmaHQ rules, unchanged, from `../shared/corpus/rules/sigma` (read in place, never copied): every rule loads,
//! broken rules are listed failures, and hand-built events shaped like real Sysmon, Security, MSExchange Management,
//! Defender, IIS and HttpProxy records fire the rules they should, by id, and benign look-alikes fire nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use exhunt_detect::sigma::SigmaRules;
use exhunt_detect::{Event, SigmaHit};

fn corpus() -> PathBuf {
    exhunt_testkit::corpus().join("rules/sigma")
}

fn rules() -> &'static SigmaRules {
    static RULES: OnceLock<SigmaRules> = OnceLock::new();
    RULES.get_or_init(|| {
        let dir = corpus();
        assert!(dir.is_dir(), "missing corpus {}: set `EXHUNT_SHARED`", dir.display());
        let (rules, failures) = SigmaRules::load_dirs(&[&dir]);
        assert!(failures.is_empty(), "{failures:#?}");
        rules
    })
}

fn event(pairs: &[(&str, &str)]) -> Event {
    let mut e = Event::default();
    for (k, v) in pairs {
        e.push(*k, *v);
    }
    e
}

fn ids(hits: &[SigmaHit<'_>]) -> BTreeSet<String> {
    hits.iter().map(|h| h.rule.id.clone()).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";

// Rule ids of the corpus (SigmaHQ).
const SUSP_PROCESS_BY_WEB_SERVER: &str = "8202070f-edeb-4d31-a010-a26c72ac5600";
const WEBSHELL_RECON_KEYWORDS: &str = "bed2a484-9348-4143-8a8a-b801c979301c";
const COMSVCS_MINIDUMP: &str = "646ea171-dded-4578-8a4d-65e9822892e3";
const PROXYLOGON_OAB: &str = "550d3350-bb8a-4ff3-9533-2ba533f4a1c0";
const OAB_EXTERNALURL: &str = "9db37458-4df2-46a5-95ab-307e7f29e675";
const MAILBOX_EXPORT: &str = "516376b4-05cd-4122-bae0-ad7641c38d48";
const TRANSPORT_AGENT: &str = "4fe151c2-ecf9-4fae-95ae-b88ec9c2fca6";
const TRANSPORT_AGENT_FAILED: &str = "c7d16cae-aaf3-42e5-9c1c-fb8553faa6fa";
const AV_WEBSHELL: &str = "fdf135a2-9241-4f96-a114-bb404948f736";
const WEB_WEBSHELL_STRINGS: &str = "7ff9db12-1b94-4a79-ba68-a2402c5d6729";
const WEB_REGEORG: &str = "2ea44a60-cfda-11ea-87d0-0242ac130003";
const WEB_HAFNIUM: &str = "67bce556-312f-4c81-9162-c3c9ff2599b2";
const WEB_PROXYLOGON_RESET_VDIR: &str = "effee1f6-a932-4297-a81f-acb44064fa3a";

#[test]
fn all_corpus_rules_load() {
    let rules = rules();
    let files = count_yml(&corpus());
    assert_eq!(files, 49);
    // The two `category: proxy` rules compile but exhunt reads no forward-proxy log: listed, never evaluated.
    let unrouted: BTreeSet<_> = rules.unrouted().iter().map(|u| u.rule.id.as_str()).collect();
    assert_eq!(
        unrouted,
        ["1ddf4596-1908-43c9-add2-1d2c2fcc4797", "fdd7e904-7304-4616-a46a-e32f917c4be4"].into_iter().collect(),
        "{:#?}",
        rules.unrouted()
    );
    assert!(rules.unrouted().iter().all(|u| u.reason.contains("`category: proxy`")));
    assert_eq!(rules.len() + rules.unrouted().len(), files);
    let comsvcs = rules.rules().iter().find(|r| r.id == COMSVCS_MINIDUMP).expect("comsvcs rule");
    assert_eq!(comsvcs.severity, exhunt_model::Severity::High);
    assert!(comsvcs.path.ends_with("proc_creation_win_rundll32_process_dump_via_comsvcs.yml"));
    assert!(comsvcs.tags.iter().any(|t| t == "attack.credential-access"), "{:?}", comsvcs.tags);
}

fn count_yml(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("corpus folder")
        .map(|e| e.expect("entry").path())
        .map(|p| if p.is_dir() { count_yml(&p) } else { usize::from(p.extension().is_some_and(|x| x == "yml")) })
        .sum()
}

#[test]
fn broken_rules_are_listed_failures_with_reasons() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = "title: Good\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: windows, category: \
                process_creation}\ndetection:\n  sel:\n    CommandLine|contains: whoami\n  condition: sel\nlevel: low\n";
    std::fs::create_dir(dir.path().join("nested")).expect("mkdir");
    std::fs::write(dir.path().join("nested/good.yaml"), good).expect("write");
    std::fs::write(dir.path().join("broken.yml"), "title: Broken\ndetection: [unclosed\n  condition: sel\n")
        .expect("write");
    std::fs::write(
        dir.path().join("modifier.yml"),
        good.replace("Good", "Unknown modifier").replace("|contains", "|containz"),
    )
    .expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not a rule").expect("write");
    let correlation = "title: Many whoami\ncorrelation:\n  type: event_count\n  rules: [11111111-1111-1111-1111-111111111111]\n  \
                       group-by: [Computer]\n  timespan: 5m\n  condition: {gte: 3}\nlevel: high\n";
    std::fs::write(dir.path().join("correlation.yml"), correlation).expect("write");
    let (rules, failures) = SigmaRules::load_dirs(&[dir.path(), &dir.path().join("missing")]);
    assert_eq!(rules.len(), 1);
    assert_eq!(rules.rules()[0].id, "11111111-1111-1111-1111-111111111111");
    let listed: Vec<_> = failures.iter().map(|f| f.path.file_name().and_then(|n| n.to_str()).unwrap_or("")).collect();
    assert_eq!(listed, ["missing", "broken.yml", "correlation.yml", "modifier.yml"], "{failures:#?}");
    assert!(failures[0].reason.starts_with("cannot read folder"), "{}", failures[0]);
    assert!(failures[1].reason.starts_with("does not parse"), "{}", failures[1]);
    assert_eq!(failures[2].title.as_deref(), Some("Many whoami"));
    assert!(failures[2].reason.starts_with("correlation rule"), "{}", failures[2]);
    assert!(failures[3].reason.contains("containz"), "{}", failures[3]);
    for failure in &failures {
        println!("{failure}");
    }
}

#[test]
fn rule_without_id_is_named_by_its_file() {
    let rule = "title: No id\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    EventID: \
                4720\n  condition: sel\nlevel: informational\n";
    let (rules, failures) = SigmaRules::from_sources([(PathBuf::from("x/new_user.yml"), rule.to_string())]);
    assert!(failures.is_empty(), "{failures:?}");
    let hits = rules.eval_event(&event(&[("EventID", "4720"), ("Channel", "Security")]));
    assert_eq!(ids(&hits), set(&["new_user"]));
    assert_eq!(hits[0].rule.severity, exhunt_model::Severity::Info);
}

fn sysmon_process(image: &str, parent: &str, command_line: &str, original: &str) -> Event {
    event(&[
        ("EventID", "1"),
        ("Channel", SYSMON),
        ("Provider_Name", "Microsoft-Windows-Sysmon"),
        ("Computer", "EX01.contoso.test"),
        ("UtcTime", "2021-03-03 07:02:11.123"),
        ("ProcessGuid", "{5770385f-3e2a-603f-0000-0010a1b2c3d4}"),
        ("ProcessId", "4242"),
        ("Image", image),
        ("FileVersion", "10.0.17763.1 (WinBuild.160101.0800)"),
        ("OriginalFileName", original),
        ("CommandLine", command_line),
        ("CurrentDirectory", r"c:\windows\system32\inetsrv\"),
        ("User", r"NT AUTHORITY\SYSTEM"),
        ("IntegrityLevel", "System"),
        ("ParentImage", parent),
        ("ParentCommandLine", r"c:\windows\system32\inetsrv\w3wp.exe -ap MSExchangeOWAAppPool"),
    ])
}

const W3WP: &str = r"C:\Windows\System32\inetsrv\w3wp.exe";
const CMD: &str = r"C:\Windows\System32\cmd.exe";

#[test]
fn w3wp_spawning_cmd_whoami_fires_web_server_child_rules() {
    let hits = rules().eval_event(&sysmon_process(CMD, W3WP, r#""cmd.exe" /c whoami"#, "Cmd.Exe"));
    assert_eq!(ids(&hits), set(&[SUSP_PROCESS_BY_WEB_SERVER]), "{hits:#?}");
    let hit = &hits[0];
    assert_eq!(hit.rule.title, "Suspicious Process By Web Server Process");
    assert!(hit.fields.iter().any(|f| f.name == "ParentImage" && f.value == W3WP), "{:?}", hit.fields);
    // The same tree with whoami.exe itself also fires the recon rule.
    let whoami = rules().eval_event(&sysmon_process(r"C:\Windows\System32\whoami.exe", W3WP, "whoami", "whoami.exe"));
    assert_eq!(ids(&whoami), set(&[WEBSHELL_RECON_KEYWORDS]));
    // A benign look-alike: an administrator's shell.
    let benign = rules().eval_event(&sysmon_process(CMD, r"C:\Windows\explorer.exe", "cmd.exe /c whoami", "Cmd.Exe"));
    assert_eq!(ids(&benign), set(&[]));
}

fn security_4688(new_process: &str, parent: &str, command_line: &str) -> Event {
    event(&[
        ("EventID", "4688"),
        ("Channel", "Security"),
        ("Provider_Name", "Microsoft-Windows-Security-Auditing"),
        ("Computer", "EX01.contoso.test"),
        ("SubjectUserSid", "S-1-5-18"),
        ("SubjectUserName", "EX01$"),
        ("SubjectDomainName", "CONTOSO"),
        ("SubjectLogonId", "0x3e7"),
        ("NewProcessId", "0x1a2c"),
        ("NewProcessName", new_process),
        ("TokenElevationType", "%%1936"),
        ("ProcessId", "0x2f4"),
        ("CommandLine", command_line),
        ("TargetUserSid", "S-1-0-0"),
        ("TargetUserName", "-"),
        ("ParentProcessName", parent),
        ("MandatoryLabel", "S-1-16-16384"),
    ])
}

#[test]
fn security_4688_is_mapped_to_process_creation() {
    let hits = rules().eval_event(&security_4688(CMD, W3WP, r#""cmd.exe" /c whoami"#));
    assert_eq!(ids(&hits), set(&[SUSP_PROCESS_BY_WEB_SERVER]), "{hits:#?}");
    // Reported under Sigma's names.
    assert!(hits[0].fields.iter().any(|f| f.name == "Image" && f.value == CMD), "{:?}", hits[0].fields);
    let benign = rules().eval_event(&security_4688(CMD, r"C:\Windows\explorer.exe", "cmd.exe /c whoami"));
    assert_eq!(ids(&benign), set(&[]));
}

#[test]
fn process_creation_rules_do_not_see_other_events() {
    // A 4624 logon that happens to carry process-creation names: not a process_creation event.
    let logon = event(&[
        ("EventID", "4624"),
        ("Channel", "Security"),
        ("TargetUserName", "administrator"),
        ("LogonType", "3"),
        ("Image", CMD),
        ("ParentImage", W3WP),
        ("CommandLine", "cmd.exe /c whoami"),
        ("ProcessName", W3WP),
    ]);
    assert_eq!(ids(&rules().eval_event(&logon)), set(&[]));
    // Nor Sysmon 1 on another channel, nor Sysmon 3 (network_connection) with the same fields.
    let mut elsewhere = sysmon_process(CMD, W3WP, "cmd.exe /c whoami", "Cmd.Exe");
    elsewhere.fields[1].1 = "Application".to_string();
    assert_eq!(ids(&rules().eval_event(&elsewhere)), set(&[]));
    let mut network = sysmon_process(CMD, W3WP, "cmd.exe /c whoami", "Cmd.Exe");
    network.fields[0].1 = "3".to_string();
    assert_eq!(ids(&rules().eval_event(&network)), set(&[]));
}

#[test]
fn rundll32_comsvcs_minidump() {
    let hits = rules().eval_event(&sysmon_process(
        r"C:\Windows\System32\rundll32.exe",
        r"C:\Windows\System32\cmd.exe",
        r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\ProgramData\lsass.dmp full",
        "RUNDLL32.EXE",
    ));
    assert_eq!(ids(&hits), set(&[COMSVCS_MINIDUMP]), "{hits:#?}");
    let benign = rules().eval_event(&sysmon_process(
        r"C:\Windows\System32\rundll32.exe",
        r"C:\Windows\explorer.exe",
        r"rundll32.exe shell32.dll,Control_RunDLL desk.cpl",
        "RUNDLL32.EXE",
    ));
    assert_eq!(ids(&benign), set(&[]));
}

/// An MSExchange Management event 1 as the MSExchange CmdletLogs provider writes it: unnamed Data items (cmdlet,
/// parameters, caller, SIDs, origin, process), as the EVTX reader gives them.
fn cmdlet(name: &str, params: &str) -> Event {
    let items = [
        name,
        params,
        "contoso.test/Users/Administrator",
        "S-1-5-21-1004336348-1177238915-682003330-500",
        "S-1-5-21-1004336348-1177238915-682003330-500",
        "Remote-ManagementShell-Unknown",
        "7516 w3wp#MSExchangePowerShellFrontEndAppPool",
    ];
    let mut e = event(&[
        ("EventID", "1"),
        ("Channel", "MSExchange Management"),
        ("Provider_Name", "MSExchange CmdletLogs"),
        ("Computer", "EX01.contoso.test"),
    ]);
    for (i, item) in items.iter().enumerate() {
        e.push(format!("Data{}", i + 1), *item);
    }
    e.push("Data", items.join("\n"));
    e
}

#[test]
fn exchange_management_oab_external_url_with_script() {
    let hits = rules().eval_event(&cmdlet(
        "Set-OabVirtualDirectory",
        r#"-Identity "EX01\OAB (Default Web Site)" -ExternalUrl "http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["Ananas"],"unsafe");}</script>""#,
    ));
    assert_eq!(ids(&hits), set(&[PROXYLOGON_OAB, OAB_EXTERNALURL]), "{hits:#?}");
    let benign = rules().eval_event(&cmdlet(
        "Set-OabVirtualDirectory",
        r#"-Identity "EX01\OAB (Default Web Site)" -ExternalUrl "https://mail.contoso.test/OAB""#,
    ));
    assert_eq!(ids(&benign), set(&[]));
}

#[test]
fn exchange_management_mailbox_export_to_a_share() {
    let hits = rules().eval_event(&cmdlet(
        "New-MailboxExportRequest",
        r#"-Mailbox "administrator@contoso.test" -FilePath "\\127.0.0.1\C$\inetpub\wwwroot\aspnet_client\xx.aspx""#,
    ));
    assert_eq!(ids(&hits), set(&[MAILBOX_EXPORT]), "{hits:#?}");
    let benign = rules().eval_event(&cmdlet("Get-MailboxExportRequest", r#"-Mailbox "administrator@contoso.test""#));
    assert_eq!(ids(&benign), set(&[]));
}

#[test]
fn exchange_management_failed_transport_agent_uses_data() {
    let mut e = cmdlet("Install-TransportAgent", r#"-Name "Evil" -AssemblyPath ".\NetshHelperBeacon.dll""#);
    e.fields[0].1 = "6".to_string();
    // The keyword rule for any Install-TransportAgent fires too.
    assert_eq!(ids(&rules().eval_event(&e)), set(&[TRANSPORT_AGENT_FAILED, TRANSPORT_AGENT]));
}

#[test]
fn defender_detection_is_antivirus() {
    let detection = |threat: &str| {
        event(&[
            ("EventID", "1116"),
            ("Channel", "Microsoft-Windows-Windows Defender/Operational"),
            ("Threat Name", threat),
            ("Path", r"file:_C:\inetpub\wwwroot\aspnet_client\system_web\x.aspx"),
            ("Action Name", "Not Applicable"),
        ])
    };
    let hits = rules().eval_event(&detection("Backdoor:ASP/Chopper.F!dha"));
    assert_eq!(ids(&hits), set(&[AV_WEBSHELL]));
    assert!(hits[0].fields.iter().any(|f| f.name == "Signature"), "{:?}", hits[0].fields);
    assert_eq!(ids(&rules().eval_event(&detection("Trojan:Win32/Wacatac.B!ml"))), set(&[]));
}

fn iis(method: &str, stem: &str, query: &str, status: &str, user_agent: &str) -> Vec<(&'static str, String)> {
    vec![
        ("date", "2021-03-03".to_string()),
        ("time", "07:01:12".to_string()),
        ("s-ip", "10.0.0.10".to_string()),
        ("cs-method", method.to_string()),
        ("cs-uri-stem", stem.to_string()),
        ("cs-uri-query", query.to_string()),
        ("s-port", "443".to_string()),
        ("cs-username", "-".to_string()),
        ("c-ip", "203.0.113.7".to_string()),
        ("cs(User-Agent)", user_agent.to_string()),
        ("cs(Referer)", "-".to_string()),
        ("sc-status", status.to_string()),
        ("sc-substatus", "0".to_string()),
        ("sc-win32-status", "0".to_string()),
        ("time-taken", "15".to_string()),
    ]
}

const BROWSER: &str = "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/89.0";

#[test]
fn iis_records_fire_webserver_rules() {
    let rules = rules();
    let shell = iis("GET", "/aspnet_client/system_web/x.aspx", "cmd=whoami", "200", BROWSER);
    assert_eq!(ids(&rules.eval_web("iis", &shell)), set(&[WEB_WEBSHELL_STRINGS]));
    // reGeorg: POST with neither user agent nor referer (`-` in the log).
    let regeorg = iis("POST", "/aspnet_client/tunnel.aspx", "cmd=connect&target=10.0.0.5&port=3389", "200", "-");
    assert_eq!(ids(&rules.eval_web("iis", &regeorg)), set(&[WEB_REGEORG]));
    // HAFNIUM: the path is in `cs-uri-stem`; SigmaHQ looks for it under `cs-uri-query` (the request target here).
    let hafnium = iis("POST", "/owa/auth/Current/themes/resources/logon.css", "-", "200", BROWSER);
    assert_eq!(ids(&rules.eval_web("iis", &hafnium)), set(&[WEB_HAFNIUM]));
    let mut reset = iis(
        "POST",
        "/ecp/DDI/DDIService.svc/SetObject",
        "schema=ResetOABVirtualDirectory&msExchEcpCanary=x",
        "200",
        "python-requests/2.25.1",
    );
    reset[7].1 = "EX01$".to_string();
    // The python-requests POST to /ecp/ is also HAFNIUM's `selection_3`.
    assert_eq!(ids(&rules.eval_web("iis", &reset)), set(&[WEB_PROXYLOGON_RESET_VDIR, WEB_HAFNIUM]));
    // Benign: a user's logon page and an OWA GET.
    for benign in [
        iis("GET", "/owa/auth/logon.aspx", "url=https%3a%2f%2fmail.contoso.test%2fowa%2f&reason=0", "200", BROWSER),
        iis("POST", "/owa/auth.owa", "-", "302", BROWSER),
        iis("GET", "/ecp/default.aspx", "-", "200", BROWSER),
    ] {
        assert_eq!(ids(&rules.eval_web("iis", &benign)), set(&[]), "{benign:?}");
    }
    // Other sources are not web server logs.
    assert_eq!(ids(&rules.eval_web("ecp", &shell)), set(&[]));
}

#[test]
fn httpproxy_records_fire_webserver_rules() {
    let record = |method: &str, stem: &str, query: &str, agent: &str| {
        vec![
            ("DateTime", "2021-03-03T07:01:12.345Z".to_string()),
            ("Protocol", "Ecp".to_string()),
            ("UrlHost", "mail.contoso.test".to_string()),
            ("UrlStem", stem.to_string()),
            ("AuthenticatedUser", String::new()),
            ("AnchorMailbox", "ServerInfo~a]@EX01.contoso.test:444/autodiscover/autodiscover.xml?#".to_string()),
            ("UserAgent", agent.to_string()),
            ("ClientIpAddress", "203.0.113.7".to_string()),
            ("HttpStatus", "200".to_string()),
            ("Method", method.to_string()),
            ("TargetServer", "EX01.contoso.test".to_string()),
            ("UrlQuery", query.to_string()),
        ]
    };
    let hits = rules().eval_web("httpproxy", &record("POST", "/ecp/y.js", "", "ExchangeServicesClient/0.0.0.0"));
    assert_eq!(ids(&hits), set(&[WEB_HAFNIUM]));
    assert!(hits[0].fields.iter().any(|f| f.name == "cs-method" && f.value == "POST"), "{:?}", hits[0].fields);
    let benign = record("GET", "/ecp/default.aspx", "?ExchClientVer=15", "Mozilla/5.0 (Windows NT 10.0)");
    assert_eq!(ids(&rules().eval_web("httpproxy", &benign)), set(&[]));
}

#[test]
fn empty_rules_match_nothing() {
    let empty = SigmaRules::empty();
    assert!(empty.is_empty());
    assert!(empty.eval_event(&sysmon_process(CMD, W3WP, "cmd /c whoami", "Cmd.Exe")).is_empty());
}
