//! Discovery on synthetic triage folders, then the whole input half: log files found, read in parallel, rules run.

use crate::common::corpus;
use crate::evidence::{write, zip_folder};
use crate::exchange_csv::{RuleSink, httpproxy_log, rules};
use crate::hive_writer::software_hive;
use exhunt_hunt::discover::{FoundBy, LogFolder, discover};
use exhunt_hunt::evidence::{self, EvidenceSource, OpenOptions};
use exhunt_hunt::readers::{LogKind, ReadOptions, scan};
use exhunt_model::Build;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

const X: &str = "C/Program Files/Microsoft/Exchange Server/V15";
const XW: &str = "C:\\Program Files\\Microsoft\\Exchange Server\\V15";

const IIS: &str = "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-03 00:00:00\r\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n2021-03-03 02:11:09 10.0.0.5 POST /ecp/y.js &CorrelationID=<empty>;&cafeReqId=1; 443 - 167.99.168.251 ExchangeServicesClient/0.0.0.0 - 200 0 0 31\r\n";

fn ecp_server() -> String {
    let event = "S:TIME=10;'S:CMD=Set-OabVirtualDirectory.ExternalUrl=''http://f/<script language=\"JScript\" runat=\"server\">x</script>''.Identity=''x''';S:RS=0";
    format!(
        "#Fields: TimeStamp,ServerName,EventId,EventData\r\n2021-03-03T02:20:00.000Z,EX01,ECP.Request,{}\r\n",
        crate::exchange_csv::csv_value(event)
    )
}

/// A KAPE-style triage of an Exchange 2016 server.
fn triage(base: &Path, hive: Option<Vec<u8>>) {
    if let Some(h) = hive {
        write(base, "C/Windows/System32/config/SOFTWARE", &h);
    }
    let config =
        std::fs::read(corpus("benign/exchange/iis_config/E16_NotConfigured_ApplicationHost.config")).expect("corpus");
    write(base, "C/Windows/System32/inetsrv/config/applicationHost.config", &config);
    write(base, "C/Windows/System32/winevt/Logs/Application.evtx", b"ElfFile\0");
    write(base, "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", IIS.as_bytes());
    write(base, "C/inetpub/logs/LogFiles/W3SVC2/u_ex210303.log", IIS.as_bytes());
    write(base, "C/inetpub/wwwroot/aspnet_client/system_web/discover.aspx", b"<%@ Page Language=\"Jscript\"%>");
    write(base, &format!("{X}/Logging/HttpProxy/Ecp/HttpProxy_2021030302-1.LOG"), httpproxy_log().as_bytes());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(httpproxy_log().as_bytes()).expect("in memory");
    write(base, &format!("{X}/Logging/HttpProxy/Owa/HttpProxy_2021030302-1.LOG.gz"), &gz.finish().expect("gzip"));
    write(base, &format!("{X}/Logging/ECP/Server/ECPServer2021030302-1.LOG"), ecp_server().as_bytes());
    write(base, &format!("{X}/FrontEnd/HttpProxy/owa/auth/logon.aspx"), b"<%@ Page %>");
}

/// Names, sizes, modification times and SHA-256 of every file under `dir`.
fn fingerprint(dir: &Path) -> Vec<(String, u64, std::time::SystemTime, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let m = std::fs::metadata(&p).expect("metadata");
            if m.is_dir() {
                stack.push(p);
            } else {
                let hash = hex::encode(Sha256::digest(std::fs::read(&p).expect("read")));
                out.push((p.display().to_string(), m.len(), m.modified().expect("mtime"), hash));
            }
        }
    }
    out.sort();
    out
}

/// Per file: display path, kind, records, records past the prefilter, rule hits (line, rule id).
type Outcome = Vec<(String, LogKind, u64, u64, Vec<(u64, String)>)>;

/// Per file: display path, kind, records, hits of the rules under test.
type Pinned = (String, LogKind, u64, Vec<(u64, String)>);

/// The outcome without what depends on the knowledge base's other rules: the count of records past the prefilter,
/// and hits of rules other than those this test is about.
fn pinned(o: &Outcome) -> Vec<Pinned> {
    const ABOUT: &[&str] = &["EXH-LOG-0001", "EXH-LOG-0004"];
    o.iter()
        .map(|(p, k, records, _, hits)| {
            let hits = hits.iter().filter(|(_, id)| ABOUT.contains(&id.as_str())).cloned().collect();
            (p.clone(), *k, *records, hits)
        })
        .collect()
}

/// Discovery, log files, parallel scan with the built-in rules.
fn hunt_input(src: &dyn EvidenceSource) -> (exhunt_hunt::discover::Layout, Outcome) {
    let d = discover(src);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    let (files, errors) = d.layout.log_files(src);
    assert!(errors.is_empty(), "{errors:?}");
    let rules = rules();
    let results = scan(src, files, &ReadOptions::default(), |_| RuleSink::new(&rules));
    let outcome = results
        .into_iter()
        .map(|r| {
            assert!(r.stats.error.is_none(), "{:?}", r.stats.error);
            (r.file.file.display.clone(), r.file.kind, r.stats.records, r.stats.delivered, r.sink.hits)
        })
        .collect();
    (d.layout, outcome)
}

#[test]
fn full_triage_from_registry_to_rule_hits() {
    let t = tempfile::tempdir().expect("tempdir");
    let base = t.path().join("EX01");
    triage(&base, Some(software_hive("C:\\Program Files\\Microsoft\\Exchange Server\\V15\\", [15, 1, 2176, 2])));
    let before = fingerprint(&base);

    let src = evidence::open(&base, &OpenOptions::default()).expect("opens");
    let (layout, outcome) = hunt_input(&*src);
    let x = layout.exchange.clone().expect("exchange found");
    assert_eq!((x.path.as_str(), x.found_by, x.build), (XW, FoundBy::Registry, Some(Build::new(15, 1, 2176, 2))));
    assert_eq!(x.registry.as_ref().map(|r| r.0.as_str()), Some("C/Windows/System32/config/SOFTWARE"));
    assert_eq!(layout.system_drive, 'C');
    let (cfg, shown) = layout.iis.clone().expect("iis config");
    assert_eq!((cfg.sites.len(), shown.as_str()), (2, "C/Windows/System32/inetsrv/config/applicationHost.config"));
    assert_eq!(layout.vdirs.len(), 34);
    assert!(
        layout
            .vdirs
            .iter()
            .any(|v| v.site_id == 2 && v.url == "/ecp" && v.physical_path == format!("{XW}\\ClientAccess\\ecp"))
    );
    assert_eq!(
        layout.web_roots,
        [
            "C:\\inetpub\\wwwroot".to_string(),
            format!("{XW}\\ClientAccess"),
            format!("{XW}\\FrontEnd\\HttpProxy"),
            "C:\\Windows\\System32\\RpcProxy".to_string(),
        ]
    );
    let folders: Vec<(LogKind, &str, Option<u32>)> =
        layout.log_folders.iter().map(|f: &LogFolder| (f.kind, f.path.as_str(), f.site)).collect();
    let xl = |rel: &str| format!("{XW}\\Logging\\{rel}");
    let (hp, es, ea, oab, ci) =
        (xl("HttpProxy"), xl("ECP\\Server"), xl("ECP\\Activity"), xl("OABGeneratorLog"), xl("CmdletInfra"));
    assert_eq!(
        folders,
        [
            (LogKind::HttpProxy, hp.as_str(), None),
            (LogKind::EcpServer, es.as_str(), None),
            (LogKind::EcpActivity, ea.as_str(), None),
            (LogKind::OabGenerator, oab.as_str(), None),
            (LogKind::CmdletInfra, ci.as_str(), None),
            (LogKind::Iis, "C:\\inetpub\\logs\\LogFiles", None),
            (LogKind::Iis, "C:\\inetpub\\logs\\LogFiles\\W3SVC1", Some(1)),
            (LogKind::Iis, "C:\\inetpub\\logs\\LogFiles\\W3SVC2", Some(2)),
        ]
    );
    assert_eq!(layout.event_logs.as_deref(), Some("C:\\Windows\\System32\\winevt\\Logs"));

    let hit = |line: u64, id: &str| vec![(line, id.to_string())];
    let x = "C/Program Files/Microsoft/Exchange Server/V15/Logging";
    let expected: Vec<Pinned> = vec![
        (format!("{x}/ECP/Server/ECPServer2021030302-1.LOG"), LogKind::EcpServer, 1, hit(2, "EXH-LOG-0004")),
        (format!("{x}/HttpProxy/Ecp/HttpProxy_2021030302-1.LOG"), LogKind::HttpProxy, 2, hit(7, "EXH-LOG-0001")),
        (format!("{x}/HttpProxy/Owa/HttpProxy_2021030302-1.LOG.gz"), LogKind::HttpProxy, 2, hit(7, "EXH-LOG-0001")),
        ("C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log".into(), LogKind::Iis, 1, vec![]),
        ("C/inetpub/logs/LogFiles/W3SVC2/u_ex210303.log".into(), LogKind::Iis, 1, vec![]),
    ];
    assert_eq!(pinned(&outcome), expected);
    // Of the two HttpProxy records only the one with `ServerInfo~` passes the prefilter.
    assert_eq!(outcome[1].3, 1);

    // The same results whatever the number of threads.
    for threads in [1, 4] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        let (_, again) = pool.install(|| hunt_input(&*src));
        assert_eq!(again, outcome, "{threads} threads");
    }

    // The same from a zip of the folder, read in place.
    let zip_path = t.path().join("EX01.zip");
    std::fs::write(&zip_path, zip_folder(&base)).expect("write zip");
    let zip_before = fingerprint(t.path());
    let zipped = evidence::open(&zip_path, &OpenOptions::default()).expect("zip opens");
    let (zlayout, zoutcome) = hunt_input(&*zipped);
    assert_eq!(zlayout, layout);
    assert_eq!(zoutcome, outcome);

    // Evidence is never changed.
    assert_eq!(fingerprint(&base), before);
    assert_eq!(fingerprint(t.path()), zip_before);
}

#[test]
fn unreadable_hive_is_a_warning_and_the_usual_path_is_used() {
    let t = tempfile::tempdir().expect("tempdir");
    triage(t.path(), Some(b"regf and then nothing useful".to_vec()));
    let src = evidence::open(t.path(), &OpenOptions::default()).expect("opens");
    let d = discover(&*src);
    assert_eq!(d.warnings.len(), 1);
    assert_eq!(d.warnings[0].code.as_deref(), Some("H008"));
    assert!(d.warnings[0].message.contains("falling back"), "{}", d.warnings[0].message);
    let x = d.layout.exchange.expect("found anyway");
    assert_eq!((x.path.as_str(), x.found_by, x.build), (XW, FoundBy::KnownPath, None));
}

#[test]
fn install_found_from_its_httpproxy_logs() {
    let t = tempfile::tempdir().expect("tempdir");
    write(t.path(), "D/Exch/V15/Logging/HttpProxy/Mapi/HttpProxy_2021030302-1.LOG", httpproxy_log().as_bytes());
    write(t.path(), "C/Windows/System32/drivers/etc/hosts", b"127.0.0.1 localhost");
    let src = evidence::open(t.path(), &OpenOptions::default()).expect("opens");
    let d = discover(&*src);
    let x = d.layout.exchange.clone().expect("found");
    assert_eq!((x.path.as_str(), x.found_by), ("D:\\Exch\\V15", FoundBy::LogFolder));
    assert_eq!(d.layout.system_drive, 'C');
    assert!(d.layout.iis.is_none());
    assert_eq!(
        d.layout.web_roots,
        ["C:\\inetpub\\wwwroot", "D:\\Exch\\V15\\ClientAccess", "D:\\Exch\\V15\\FrontEnd\\HttpProxy"]
    );
    let (files, _) = d.layout.log_files(&*src);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].kind, LogKind::HttpProxy);
}

#[test]
fn a_hive_with_a_different_install_path_wins_over_the_usual_one() {
    let t = tempfile::tempdir().expect("tempdir");
    triage(t.path(), Some(software_hive("E:\\Exchange\\V15\\", [15, 2, 858, 5])));
    let src = evidence::open(t.path(), &OpenOptions::default()).expect("opens");
    let d = discover(&*src);
    let x = d.layout.exchange.expect("found");
    assert_eq!((x.path.as_str(), x.build), ("E:\\Exchange\\V15", Some(Build::new(15, 2, 858, 5))));
    assert!(d.layout.web_roots.contains(&"E:\\Exchange\\V15\\FrontEnd\\HttpProxy".to_string()));
}
