//! Event log readers: every `.evtx` of the corpus read in place with its record count pinned (damaged ones with
//! their exact skipped counts), the JSON export forms giving the same fields, hostile lines counted, truncated files
//! read without panic, and discovery of event logs in a triage folder and a zip.

use exhunt_detect::{Event, Fields};
use exhunt_hunt::discover::{discover, sniff_event_json};
use exhunt_hunt::evidence::{self, OpenOptions};
use exhunt_hunt::readers::events::flatten::{from_evtx_json, from_export};
use exhunt_hunt::readers::events::{EventFormat, EventOptions, EventSink, EventStats, evtx, json, scan_events};
use exhunt_model::Locator;
use exhunt_testkit::shared;
use std::io::Write;
use std::path::{Path, PathBuf};

fn corpus(rel: &str) -> PathBuf {
    let p = shared().join("corpus").join(rel);
    assert!(p.is_file(), "corpus file missing: {}", p.display());
    p
}

fn read_evtx(path: &Path) -> (EventStats, Vec<(Event, Locator)>) {
    let mut events = Vec::new();
    let f = std::fs::File::open(path).expect("open");
    let stats = evtx::read_seekable(&path.display().to_string(), f, &mut |e: &Event, l: Locator| {
        events.push((e.clone(), l));
    });
    (stats, events)
}

fn read_json(bytes: &[u8], opts: &EventOptions) -> (EventStats, Vec<(Event, Locator)>) {
    let mut events = Vec::new();
    let stats = json::read("export.jsonl", bytes, opts, &mut |e: &Event, l: Locator| events.push((e.clone(), l)));
    (stats, events)
}

/// (file under `corpus/evtx`, records read, records or chunks skipped), measured with `evtx` 0.15.1.
const EVTX_COUNTS: &[(&str, u64, u64)] = &[
    ("benign/omerbenamram_Application_no_crc32.evtx", 17, 0),
    ("benign/omerbenamram_new-user-security.evtx", 4, 0),
    ("benign/omerbenamram_security.evtx", 2261, 0),
    // 358 records, then chunks 9 to 16 have a bad header magic: one skipped chunk each.
    ("benign/omerbenamram_sysmon_partial_corrupt.evtx", 358, 8),
    ("benign/omerbenamram_system.evtx", 1881, 0),
    ("exchange/MSExchange_Management_wec.evtx", 1, 0),
    ("malicious/mdecrevoisier/ID11-Exchange_transport_config_modified.evtx", 1, 0),
    ("malicious/mdecrevoisier/ID4720-Local_user_created.evtx", 2, 0),
    ("malicious/mdecrevoisier/ID4732-User_added_to_local_admin_groups.evtx", 3, 0),
    ("malicious/mdecrevoisier/ID4756-Exchange_admin_group_change.evtx", 15, 0),
    ("malicious/mdecrevoisier/ID6-Failed_to_install_an_Exchange_transport_agent.evtx", 4, 0),
    ("malicious/sbousseaden/LM_typical_IIS_webshell_sysmon_1_10_traces.evtx", 4, 0),
    ("malicious/sbousseaden/Powershell_4104_MiniDumpWriteDump_Lsass.evtx", 4, 0),
    ("malicious/sbousseaden/privesc_rotten_potato_from_webshell_metasploit_sysmon_1_8_3.evtx", 13, 0),
    ("malicious/sbousseaden/privexchange_dirkjan.evtx", 8, 0),
    ("malicious/sbousseaden/sysmon_10_11_lsass_memdump.evtx", 4, 0),
    ("malicious/sbousseaden/sysmon_10_1_memdump_comsvcs_minidump.evtx", 6, 0),
    ("malicious/sbousseaden/sysmon_local_account_creation_and_added_admingroup_12_13.evtx", 17, 0),
    ("malicious/sbousseaden/tunna_iis_rdp_smb_tunneling_sysmon_3.evtx", 12, 0),
];

#[test]
fn every_corpus_evtx_is_read_with_its_record_count() {
    let root = shared().join("corpus/evtx");
    let mut on_disk = Vec::new();
    walk(&root, &mut on_disk);
    on_disk.sort();
    let mut pinned: Vec<&str> = EVTX_COUNTS.iter().map(|(p, _, _)| *p).collect();
    pinned.sort_unstable();
    assert_eq!(on_disk, pinned, "every corpus .evtx has a pinned count");
    for (rel, records, skipped) in EVTX_COUNTS {
        let (stats, events) = read_evtx(&root.join(rel));
        assert_eq!((stats.records, stats.skipped), (*records, *skipped), "{rel}");
        assert_eq!(events.len() as u64, stats.records, "{rel}");
        assert!(stats.error.is_none(), "{rel}: {:?}", stats.error);
        assert_eq!(stats.untimed, 0, "{rel}");
        for (e, loc) in &events {
            let Locator::Record(id) = loc else { panic!("{rel}: locator {loc:?}") };
            assert_eq!(e.get("EventRecordID"), Some(id.to_string().as_str()), "{rel}");
            assert!(e.event_id().is_some() && !e.channel().is_empty() && !e.computer().is_empty(), "{rel}: {e:?}");
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "evtx") {
            let rel = p.strip_prefix(shared().join("corpus/evtx")).expect("below");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn the_corrupt_sysmon_chunk_is_counted_and_reading_goes_on_to_the_end() {
    let (stats, events) = read_evtx(&corpus("evtx/benign/omerbenamram_sysmon_partial_corrupt.evtx"));
    assert_eq!(stats.records, 358);
    assert_eq!(stats.skipped, 8);
    assert_eq!(stats.warnings_total, 8);
    assert!(stats.warnings[0].message.contains("chunk number 9"), "{}", stats.warnings[0].message);
    assert_eq!(stats.channels.get("Microsoft-Windows-Sysmon/Operational"), Some(&358));
    assert!(events.iter().any(|(e, _)| e.event_id() == Some(1) && e.get("Image").is_some()));
}

#[test]
fn records_without_crc32_are_all_read_with_warnings() {
    let (stats, events) = read_evtx(&corpus("evtx/benign/omerbenamram_Application_no_crc32.evtx"));
    assert_eq!(stats.records, 17);
    assert_eq!(stats.skipped, 0);
    // The file header's flags say "no CRC32" (0x4) and chunk 0's checksums are zero: one warning, for the chunk
    // (the evtx crate accepts the header); the 17 records are read anyway.
    assert_eq!(stats.warnings_total, 1, "{:?}", stats.warnings);
    assert!(stats.warnings.iter().all(|w| w.message.contains("CRC32")), "{:?}", stats.warnings);
    // Unnamed Data items: `Data1..N` and `Data`.
    let wsearch = events.iter().find(|(e, _)| e.get("Data1") == Some("WSearch")).expect("event 6000");
    assert_eq!(wsearch.0.get("Data"), Some("WSearch"));
    assert_eq!(wsearch.0.get("Binary"), Some("D9060000"));
}

#[test]
fn exchange_management_cmdlet_fields() {
    let (stats, events) = read_evtx(&corpus("evtx/exchange/MSExchange_Management_wec.evtx"));
    assert_eq!(stats.computers, ["WEC.ave.local"]);
    let (e, loc) = &events[0];
    assert_eq!(*loc, Locator::Record(3229));
    assert_eq!(e.log_source(), "exchange-management");
    assert_eq!(e.event_id(), Some(1));
    assert_eq!(e.get("Data1"), Some("Set-Mailbox"));
    assert!(e.get("Data").is_some_and(|d| d.starts_with("Set-Mailbox\n-Identity \"Administrateur\"")));
    assert_eq!(e.time.map(|t| t.to_string()).as_deref(), Some("2021-11-19T16:52:33.833733500Z"));
    assert_eq!(e.get("TimeCreated"), Some("2021-11-19T16:52:33.833733500Z"));
}

#[test]
fn sysmon_named_fields_and_system_values() {
    let (_, events) = read_evtx(&corpus("evtx/malicious/sbousseaden/LM_typical_IIS_webshell_sysmon_1_10_traces.evtx"));
    let spawn = events
        .iter()
        .map(|(e, _)| e)
        .find(|e| e.event_id() == Some(1) && e.get("ParentImage").is_some_and(|p| p.ends_with("w3wp.exe")))
        .expect("w3wp spawning a process");
    assert!(spawn.get("CommandLine").is_some_and(|c| c.contains("net user")), "{spawn:?}");
    assert_eq!(spawn.provider(), "Microsoft-Windows-Sysmon");
    assert_eq!(spawn.get("UserID"), Some("S-1-5-18"));
    assert!(spawn.get("Level").is_some() && spawn.get("Keywords").is_some());
}

/// One Security 4720 as each shipper writes it.
const WINLOGBEAT: &str = r#"{"@timestamp":"2021-03-03T02:11:09.123Z","host":{"name":"ex01"},"winlog":{"event_id":4720,"channel":"Security","provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"EX01.corp.local","record_id":5012,"event_data":{"TargetUserName":"support","SubjectUserName":"EX01$","SamAccountName":"support"}},"event":{"code":"4720"}}"#;
const NXLOG_ZONED: &str = r#"{"EventTime":"2021-03-03 03:11:09.123+01:00","EventReceivedTime":"2021-03-03 03:11:10","Hostname":"EX01.corp.local","SourceName":"Microsoft-Windows-Security-Auditing","Channel":"Security","EventID":4720,"RecordNumber":5012,"Severity":"INFO","SeverityValue":2,"SourceModuleName":"eventlog","SourceModuleType":"im_msvistalog","Message":"A user account was created.","TargetUserName":"support","SubjectUserName":"EX01$","SamAccountName":"support"}"#;
const NXLOG_LOCAL: &str = r#"{"EventTime":"2021-03-03 03:11:09","EventReceivedTime":"2021-03-03 03:11:10","Hostname":"EX01.corp.local","SourceName":"Microsoft-Windows-Security-Auditing","Channel":"Security","EventID":4720,"RecordNumber":5012,"TargetUserName":"support","SubjectUserName":"EX01$","SamAccountName":"support"}"#;
const FLAT: &str = r#"{"@timestamp":"2021-03-03T02:11:09.123Z","Hostname":"EX01.corp.local","Channel":"Security","SourceName":"Microsoft-Windows-Security-Auditing","EventID":"4720","EventRecordID":"5012","TimeCreated":"2021-03-03T02:11:09.123Z","TargetUserName":"support","SubjectUserName":"EX01$","SamAccountName":"support","Message":"A user account was created.","Task":"13824"}"#;
const EVTX_DUMP: &str = r##"{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing","Guid":"{54849625-5478-4994-a5ba-3e3b0328c30d}"}},"EventID":4720,"TimeCreated":{"#attributes":{"SystemTime":"2021-03-03T02:11:09.1230000Z"}},"EventRecordID":5012,"Correlation":null,"Execution":{"#attributes":{"ProcessID":508,"ThreadID":1032}},"Channel":"Security","Computer":"EX01.corp.local","Security":null},"EventData":{"TargetUserName":"support","SubjectUserName":"EX01$","SamAccountName":"support"}}}"##;

fn parse(line: &str) -> Event {
    from_export(&serde_json::from_str(line).expect("json")).expect("event")
}

#[test]
fn every_export_form_gives_the_same_fields() {
    let reference = parse(EVTX_DUMP);
    let names: Vec<&str> = reference.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names[..6], ["EventID", "Channel", "Provider_Name", "Computer", "EventRecordID", "TimeCreated"]);
    assert_eq!(names.len(), 9, "{names:?}");
    assert_eq!(reference.get("TimeCreated"), Some("2021-03-03T02:11:09.123Z"));
    assert_eq!(parse(WINLOGBEAT), reference, "winlogbeat");
    assert_eq!(parse(NXLOG_ZONED), reference, "nxlog with a zone");
    let mut flat = parse(FLAT);
    assert_eq!(flat.get("Task"), Some("13824"));
    flat.fields.retain(|(k, _)| k != "Task");
    assert_eq!(flat, reference, "flat (OTRF)");
    // NXLog's default `EventTime` is the shipper's local time: no time rather than a wrong one.
    let local = parse(NXLOG_LOCAL);
    let mut without_time = reference.clone();
    without_time.time = None;
    without_time.fields.retain(|(k, _)| k != "TimeCreated");
    assert_eq!(local, without_time, "nxlog local time");
    // evtx_dump lines are the form the `.evtx` reader maps.
    assert_eq!(from_evtx_json(&serde_json::from_str(EVTX_DUMP).expect("json")), reference);
}

#[test]
fn unnamed_data_in_every_form() {
    let winlogbeat = parse(
        r#"{"@timestamp":"2021-03-03T02:11:09Z","winlog":{"event_id":1,"channel":"MSExchange Management","provider_name":"MSExchange CmdletLogs","computer_name":"EX01","event_data":{"param2":"-Identity x","param10":"z","param1":"Set-OabVirtualDirectory"}}}"#,
    );
    let dump = parse(
        r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"MSExchange CmdletLogs"}},"EventID":{"#attributes":{"Qualifiers":16384},"#text":1},"TimeCreated":{"#attributes":{"SystemTime":"2021-03-03T02:11:09Z"}},"Channel":"MSExchange Management","Computer":"EX01"},"EventData":{"Data":{"#text":["Set-OabVirtualDirectory","-Identity x","z"]}}}}"##,
    );
    let flat = parse(
        r#"{"@timestamp":"2021-03-03T02:11:09Z","EventID":1,"Channel":"MSExchange Management","SourceName":"MSExchange CmdletLogs","Hostname":"EX01","Data1":"Set-OabVirtualDirectory","Data3":"z","Data2":"-Identity x"}"#,
    );
    assert_eq!(dump.get("Data"), Some("Set-OabVirtualDirectory\n-Identity x\nz"));
    assert_eq!(dump.get("Data3"), Some("z"));
    assert_eq!(winlogbeat, dump);
    assert_eq!(flat, dump);
    assert_eq!(dump.log_source(), "exchange-management");
}

#[test]
fn hostile_lines_are_counted_never_fatal() {
    let mut input = Vec::new();
    let mut line = |b: &[u8]| {
        input.extend_from_slice(b);
        input.push(b'\n');
    };
    line(WINLOGBEAT.as_bytes()); // 1: event
    line(format!("{}1{}", "[".repeat(200), "]".repeat(200)).as_bytes()); // 2: too deep
    line(format!(r#"{{"EventID":1,"x":{}1{}}}"#, r#"{"a":"#.repeat(300), "}".repeat(300)).as_bytes()); // 3: too deep
    line(br#"{"EventID":1e999}"#); // 4: number out of range
    line(br#"{"EventID":123456789012345678901234567890,"Channel":"Security"}"#); // 5: event (a float id)
    line(b"{\"EventID\":4624,\"TargetUserName\":\"\xff\xfe\"}"); // 6: invalid UTF-8
    line(&[b'x'; 2 << 20]); // 7: 2 MiB, cut
    line(b"[1,2,3]"); // 8: not an object
    line(b"\"EventID\""); // 9: not an object
    line(b"null"); // 10: not an object
    line(b""); // 11: blank, ignored
    line(br#"{"foo":"bar"}"#); // 12: no event id
    line(b"{\"EventID\":"); // 13: truncated
    line(FLAT.as_bytes()); // 14: event
    let (stats, events) = read_json(&input, &EventOptions::default());
    assert_eq!(stats.records, 3);
    assert_eq!(stats.skipped, 10);
    assert_eq!(stats.cut, 1);
    assert_eq!(stats.warnings_total, 10);
    assert!(stats.error.is_none());
    let lines: Vec<Locator> = events.iter().map(|(_, l)| *l).collect();
    assert_eq!(lines, [Locator::Line(1), Locator::Line(5), Locator::Line(14)]);
    let warned: Vec<Option<Locator>> = stats.warnings.iter().map(|w| w.locator).collect();
    let expected: Vec<Option<Locator>> =
        [2, 3, 4, 6, 7, 8, 9, 10, 12, 13].into_iter().map(|n| Some(Locator::Line(n))).collect();
    assert_eq!(warned, expected);
    assert_eq!(stats.channels.get("Security"), Some(&3));
}

#[test]
fn gzip_exports_are_read() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    writeln!(gz, "{WINLOGBEAT}\n{NXLOG_ZONED}").expect("write");
    let bytes = gz.finish().expect("gzip");
    let (stats, events) = read_json(&bytes, &EventOptions::default());
    assert!(stats.gzip);
    assert_eq!(stats.records, 2);
    assert_eq!(events[0].0, events[1].0);
    assert_eq!(stats.first_time.map(|t| t.to_string()).as_deref(), Some("2021-03-03T02:11:09.123Z"));
}

#[test]
fn truncated_evtx_files_read_without_panic() {
    let bytes = std::fs::read(corpus("evtx/benign/omerbenamram_security.evtx")).expect("read");
    let dir = tempfile::tempdir().expect("tempdir");
    // (length, records read): nothing before the first chunk is complete; each complete 64 KiB chunk is read.
    for (len, want) in [(0, None), (7, None), (100, None), (4096, Some((0, 0))), (4096 + 30_000, Some((0, 1)))] {
        let p = dir.path().join(format!("cut-{len}.evtx"));
        std::fs::write(&p, &bytes[..len]).expect("write");
        let (stats, _) = read_evtx(&p);
        match want {
            None => assert!(stats.error.is_some(), "{len}: {stats:?}"),
            Some(n) => assert_eq!((stats.records, stats.skipped), n, "{len}"),
        }
    }
    // (length, records, skipped): a partial last chunk is one skipped chunk.
    let half = 4096 + 16 * 65_536 + 100;
    let mut seen = Vec::new();
    for len in [4096 + 65_536, 4096 + 65_536 + 12_345, half, bytes.len() - 1] {
        let p = dir.path().join(format!("cut-{len}.evtx"));
        std::fs::write(&p, &bytes[..len]).expect("write");
        let (stats, _) = read_evtx(&p);
        assert!(stats.error.is_none(), "{len}: {:?}", stats.error);
        seen.push((stats.records, stats.skipped));
        // The same bytes through a reader that cannot seek (a zip entry) give the same count.
        let mut n = 0u64;
        let spooled = evtx::read("cut.evtx", &bytes[..len], &EventOptions::default(), &mut |_: &Event, _| n += 1);
        assert_eq!((spooled.records, spooled.skipped, n), (stats.records, stats.skipped, stats.records), "{len}");
    }
    assert_eq!(seen, [(91, 0), (91, 1), (1414, 1), (2261, 1)]);
    let opts = EventOptions { max_spool: 10_000, ..EventOptions::default() };
    let refused = evtx::read("big.evtx", &bytes[..], &opts, &mut |_: &Event, _| {});
    assert!(refused.error.as_ref().is_some_and(|e| e.message.contains("extract it")), "{refused:?}");
    let not_evtx =
        evtx::read("x.evtx", &b"PK\x03\x04 not an evtx"[..], &EventOptions::default(), &mut |_: &Event, _| {});
    assert!(not_evtx.error.is_some());
}

#[test]
fn sniffing_json_exports() {
    assert!(sniff_event_json(format!("\n\n{WINLOGBEAT}\n").as_bytes()));
    assert!(sniff_event_json(EVTX_DUMP.as_bytes()));
    assert!(sniff_event_json(NXLOG_LOCAL.as_bytes()));
    assert!(!sniff_event_json(br#"{"name":"package.json"}"#));
    assert!(!sniff_event_json(b"[{\"EventID\":1}]"));
    assert!(!sniff_event_json(b""));
}

/// A triage folder with an `.evtx` renamed `.dat` in `winevt\Logs`, a loose Winlogbeat export, and files that are
/// not event logs.
fn triage(dir: &Path) {
    let logs = dir.join("C/Windows/System32/winevt/Logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let evtx = std::fs::read(corpus("evtx/benign/omerbenamram_new-user-security.evtx")).expect("read");
    std::fs::write(logs.join("Security.dat"), &evtx).expect("write");
    std::fs::create_dir_all(dir.join("C/triage")).expect("mkdir");
    std::fs::write(dir.join("C/triage/winlogbeat.ndjson"), format!("{WINLOGBEAT}\n{WINLOGBEAT}\n")).expect("write");
    std::fs::write(dir.join("C/triage/package.json"), r#"{"name":"x","version":"1"}"#).expect("write");
    std::fs::write(dir.join("C/triage/big.bin"), vec![7u8; 8192]).expect("write");
}

#[test]
fn discovery_finds_renamed_evtx_and_json_exports_in_a_folder_and_a_zip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("triage");
    triage(&folder);
    let zip_path = dir.path().join("triage.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("create"));
    for (rel, method) in [
        ("C/Windows/System32/winevt/Logs/Security.dat", zip::CompressionMethod::Deflated),
        ("C/triage/winlogbeat.ndjson", zip::CompressionMethod::Stored),
        ("C/triage/package.json", zip::CompressionMethod::Stored),
        ("C/triage/big.bin", zip::CompressionMethod::Deflated),
    ] {
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        w.start_file(rel, opts).expect("entry");
        w.write_all(&std::fs::read(folder.join(rel)).expect("read")).expect("write");
    }
    w.finish().expect("finish");

    for path in [&folder, &zip_path] {
        let source = evidence::open(path, &OpenOptions::default()).expect("open");
        let layout = discover(source.as_ref()).layout;
        let (files, errors) = layout.event_files(source.as_ref());
        assert!(errors.is_empty(), "{errors:?}");
        let found: Vec<(&str, EventFormat)> = files.iter().map(|f| (f.file.windows_path.as_str(), f.format)).collect();
        assert_eq!(
            found,
            [
                ("C:\\triage\\winlogbeat.ndjson", EventFormat::Json),
                ("C:\\Windows\\System32\\winevt\\Logs\\Security.dat", EventFormat::Evtx),
            ],
            "{}",
            path.display()
        );
        let scans = scan_events(source.as_ref(), files, &EventOptions::default(), |_| Counter(0));
        let counts: Vec<(u64, u64, bool)> =
            scans.iter().map(|s| (s.sink.0, s.stats.skipped, s.stats.error.is_none())).collect();
        // Sorted by display path: `C/Windows/…` before `C/triage/…`.
        assert_eq!(counts, [(4, 0, true), (2, 0, true)], "{}", path.display());
    }
}

/// Counts the events it is given.
struct Counter(u64);

impl EventSink for Counter {
    fn event(&mut self, _: &Event, _: Locator) {
        self.0 += 1;
    }
}
