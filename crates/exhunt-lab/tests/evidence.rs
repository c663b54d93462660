//! The lab's evidence folders against their own ground truth: determinism, exact line numbers, a background free of
//! attack traces (checked with the knowledge base's IOC packs), build columns, size.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use exhunt_detect::IocIndex;
use exhunt_lab::{EvidenceOptions, LabError, Scenario, generate};
use serde_json::Value;

fn kb() -> exhunt_kb::Kb {
    exhunt_kb::Kb::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb")).0
}

fn opts(seed: u64, size: u64, scenario: Scenario) -> EvidenceOptions {
    EvidenceOptions { seed, size, scenario, host: None, actor: None }
}

/// Every file under `dir`, relative with `/`, sorted.
fn walk(dir: &Path) -> Vec<String> {
    fn go(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = fs::read_dir(dir).expect("readable").map(|e| e.expect("entry").path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                go(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out);
    out
}

struct Truth {
    scenario: Value,
    expects: Vec<Value>,
    stats: Value,
}

fn truth(dir: &Path) -> Truth {
    let text = fs::read_to_string(dir.join("truth.jsonl")).expect("truth.jsonl");
    let recs: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(recs.first().expect("records")["type"], "scenario");
    assert_eq!(recs.last().expect("records")["type"], "stats");
    let expects: Vec<Value> = recs.iter().filter(|r| r["type"] == "expect").cloned().collect();
    assert_eq!(expects.len() + 2, recs.len(), "only scenario, expect and stats records");
    Truth { scenario: recs[0].clone(), stats: recs[recs.len() - 1].clone(), expects }
}

/// The lines of a log file (CRLF line ends).
fn lines(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).expect("utf-8 log");
    let mut v: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    assert_eq!(v.pop().as_deref(), Some(""), "{} ends with CRLF", path.display());
    v
}

/// RFC 4180 fields of one line.
fn csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if cur.is_empty() => quoted = true,
            (false, ',') => out.push(std::mem::take(&mut cur)),
            (_, c) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[test]
fn same_seed_same_bytes_and_other_seeds_differ() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    let c = tempfile::tempdir().expect("tmp");
    let o = opts(11, 1_000_000, Scenario::Used);
    let sa = generate(a.path(), &o).expect("generate a");
    let sb = generate(b.path(), &o).expect("generate b");
    generate(c.path(), &opts(12, 1_000_000, Scenario::Used)).expect("generate c");
    assert_eq!(sa.bytes, sb.bytes);
    let files = walk(a.path());
    assert_eq!(files, walk(b.path()));
    for f in &files {
        assert!(fs::read(a.path().join(f)).expect("a") == fs::read(b.path().join(f)).expect("b"), "{f} differs");
    }
    assert_ne!(
        fs::read(a.path().join("truth.jsonl")).expect("a"),
        fs::read(c.path().join("truth.jsonl")).expect("c"),
        "another seed gives another folder"
    );
}

#[test]
fn every_expect_points_at_its_planted_line() {
    for scenario in Scenario::ALL {
        for seed in [1u64, 2, 3] {
            let dir = tempfile::tempdir().expect("tmp");
            let s = generate(dir.path(), &opts(seed, 600_000, scenario)).expect("generate");
            let t = truth(dir.path());
            assert_eq!(t.scenario["verdict"], s.verdict.as_str());
            assert_eq!(t.stats["expects"], t.expects.len());
            let mut ids = BTreeSet::new();
            for e in &t.expects {
                assert!(ids.insert(e["id"].as_str().expect("id").to_string()), "unique ids");
                let path = dir.path().join(e["path"].as_str().expect("path"));
                let m = e["match"].as_str().expect("match");
                match e["line"].as_u64() {
                    Some(n) => {
                        let ls = lines(&path);
                        let line = &ls[n as usize - 1];
                        assert!(!line.starts_with('#'), "{e} points at a header");
                        assert!(
                            line.contains(m),
                            "{scenario} seed {seed}: line {n} of {} lacks {m:?}: {line}",
                            path.display()
                        );
                    }
                    None => {
                        let body = fs::read_to_string(&path).expect("shell file");
                        assert!(body.contains(m), "{} lacks {m:?}", path.display());
                        assert_eq!(e["check"], "webshell-file");
                        assert!(e["family"].is_string());
                    }
                }
            }
            let checks: BTreeSet<&str> = t.expects.iter().filter_map(|e| e["check"].as_str()).collect();
            let has = |c: &str| checks.contains(c);
            match scenario {
                Scenario::Clean => assert!(t.expects.is_empty(), "clean has nothing planted"),
                Scenario::Probed => {
                    assert!(has("cve-2021-26855-probe") && !has("cve-2021-26855"));
                    assert_eq!(s.verdict.as_str(), "exploitation-attempted");
                }
                Scenario::Exploited => {
                    assert!(has("cve-2021-26855") && has("cve-2021-27065") && has("cve-2021-26858"));
                    assert!(!has("webshell-file") && !has("webshell-request"));
                    assert_eq!(s.verdict.as_str(), "exploitation-attempted");
                }
                Scenario::Backdoored => {
                    assert!(has("webshell-file") && !has("webshell-request"));
                    assert_eq!(s.verdict.as_str(), "compromised");
                }
                Scenario::Used => {
                    assert!(has("webshell-file") && has("webshell-request"));
                    assert_eq!(s.verdict.as_str(), "backdoor-used");
                }
            }
            // Shells on disk are exactly the webshell-file expectations.
            let on_disk: BTreeSet<String> = t.scenario["shells"]
                .as_array()
                .expect("shells")
                .iter()
                .filter(|s| s["on_disk"] == true)
                .map(|s| s["path"].as_str().expect("path").to_string())
                .collect();
            let expected: BTreeSet<String> = t
                .expects
                .iter()
                .filter(|e| e["check"] == "webshell-file")
                .map(|e| e["path"].as_str().expect("path").to_string())
                .collect();
            assert_eq!(on_disk, expected);
            for p in &on_disk {
                assert!(dir.path().join(p).is_file());
            }
            for sh in t.scenario["shells"].as_array().expect("shells").iter().filter(|s| s["on_disk"] == false) {
                assert!(!dir.path().join(sh["path"].as_str().expect("path")).exists(), "removed shell is absent");
            }
        }
    }
}

fn is_static_resource(stem: &str) -> bool {
    let s = stem.to_ascii_lowercase();
    (s.starts_with("/owa/") || s.starts_with("/ecp/"))
        && [".js", ".css", ".gif", ".flt", ".ttf", ".eot", ".png", ".ico", ".woff"].iter().any(|x| s.ends_with(x))
}

/// Checks one unplanted line for anything a hunt would rightly flag.
fn assert_benign(iocs: &IocIndex<'_>, rel: &str, n: usize, line: &str, fields: &[String], header: &[String]) {
    let at = || format!("{rel}:{n}: {line}");
    assert!(!line.to_ascii_lowercase().contains("serverinfo~"), "ServerInfo~ in background at {}", at());
    if let Some(i) = line.find("Download failed and temporary file '") {
        let path = &line[i + "Download failed and temporary file '".len()..];
        assert!(
            path.starts_with("C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess\\OAB\\Temp\\"),
            "benign download failure outside ClientAccess\\OAB at {}",
            at()
        );
    }
    assert!(!line.contains("<script") && !line.contains("runat="), "script in background at {}", at());
    let get = |name: &str| header.iter().position(|h| h == name).and_then(|i| fields.get(i)).map(String::as_str);
    let (method, stem, ip, ua) = if rel.contains("/W3SVC") {
        (get("cs-method"), get("cs-uri-stem"), get("c-ip"), get("cs(User-Agent)"))
    } else if rel.contains("/HttpProxy/") {
        (get("Method"), get("UrlStem"), get("ClientIpAddress"), get("UserAgent"))
    } else {
        (None, None, None, None)
    };
    if let (Some("POST"), Some(stem)) = (method, stem) {
        assert!(!is_static_resource(stem), "POST to a static OWA/ECP resource at {}", at());
    }
    if let Some(ip) = ip.filter(|ip| *ip != "-") {
        let addr: IpAddr = ip.parse().unwrap_or_else(|_| panic!("address {ip:?} at {}", at()));
        assert!(iocs.match_ip(addr).is_empty(), "actor IP in background at {}", at());
    }
    if let Some(ua) = ua {
        assert!(iocs.match_user_agent(ua).is_empty(), "actor user agent in background at {}", at());
    }
}

#[test]
fn background_carries_no_attack_traces_and_hard_negatives_are_there() {
    let kb = kb();
    let iocs = IocIndex::new(&kb.iocs);
    assert!(!iocs.match_ip("192.81.208.169".parse().expect("ip")).is_empty(), "IOC packs loaded");
    for (scenario, seed) in
        [(Scenario::Clean, 5u64), (Scenario::Clean, 6), (Scenario::Used, 5), (Scenario::Exploited, 9)]
    {
        let dir = tempfile::tempdir().expect("tmp");
        generate(dir.path(), &opts(seed, 2_000_000, scenario)).expect("generate");
        let t = truth(dir.path());
        let planted: BTreeSet<(String, u64)> =
            t.expects.iter().filter_map(|e| Some((e["path"].as_str()?.to_string(), e["line"].as_u64()?))).collect();
        let mut seen = BTreeMap::<&str, usize>::new();
        for rel in walk(dir.path()) {
            if !rel.ends_with(".LOG") && !rel.ends_with(".log") {
                continue;
            }
            let ls = lines(&dir.path().join(&rel));
            let iis = rel.contains("/W3SVC");
            let mut header: Vec<String> = Vec::new();
            for (i, line) in ls.iter().enumerate() {
                if let Some(f) = line.strip_prefix("#Fields: ") {
                    header = if iis { f.split(' ').map(str::to_string).collect() } else { csv(f) };
                    continue;
                }
                if line.starts_with('#') {
                    continue;
                }
                let fields: Vec<String> = if iis { line.split(' ').map(str::to_string).collect() } else { csv(line) };
                assert_eq!(fields.len(), header.len(), "{rel}:{}: field count", i + 1);
                for (name, needle) in [
                    ("logon.css GET", "GET /owa/auth/Current/themes/resources/logon.css"),
                    ("ActiveSync Cmd=", "Cmd=Sync&User="),
                    ("serverinfo mailbox", "serverinfo@contoso.example"),
                    ("php scan 404", ".php - "),
                    ("logon.aspx POST", "POST /owa/auth/logon.aspx replaceCurrent=1"),
                    ("ECP admin", "/ecp/DDI/DDIService.svc/"),
                    ("benign OAB download failure", "ClientAccess\\OAB\\Temp\\"),
                    ("health probe", "AMProbe/"),
                ] {
                    if line.contains(needle) {
                        *seen.entry(name).or_default() += 1;
                    }
                }
                if planted.contains(&(rel.clone(), i as u64 + 1)) {
                    continue;
                }
                assert_benign(&iocs, &rel, i + 1, line, &fields, &header);
            }
        }
        for name in [
            "logon.css GET",
            "ActiveSync Cmd=",
            "serverinfo mailbox",
            "php scan 404",
            "ECP admin",
            "benign OAB download failure",
            "health probe",
        ] {
            assert!(seen.get(name).copied().unwrap_or(0) > 0, "{scenario} seed {seed}: no {name} in the background");
        }
    }
}

#[test]
fn httpproxy_headers_and_build_columns_follow_the_build_in_force() {
    let kb = kb();
    let mut products = BTreeSet::new();
    let mut patched = 0;
    for seed in 0..24u64 {
        let scenario = if seed % 2 == 0 { Scenario::Exploited } else { Scenario::Clean };
        let dir = tempfile::tempdir().expect("tmp");
        let s = generate(dir.path(), &opts(seed, 300_000, scenario)).expect("generate");
        let t = truth(dir.path());
        products.insert(t.scenario["product"].as_str().expect("product").to_string());
        let builds: Vec<(String, String, String)> = t.scenario["builds"]
            .as_array()
            .expect("builds")
            .iter()
            .map(|b| {
                let g = |k: &str| b[k].as_str().expect("field").to_string();
                (g("build"), g("from"), g("to"))
            })
            .collect();
        // Builds come from the catalog with the verdicts the scenario needs.
        let status = |b: &str| {
            let v = kb.catalog.verdict_str(b);
            assert_eq!(v.matched, "exact", "{b} is a catalog row");
            v.chains.iter().find(|c| c.chain == exhunt_model::Chain::ProxyLogon).expect("proxylogon").status
        };
        use exhunt_model::ChainStatus::{Fixed, Vulnerable};
        if builds.len() == 2 {
            patched += 1;
            assert_eq!((status(&builds[0].0), status(&builds[1].0)), (Vulnerable, Fixed));
            assert_eq!(builds[0].2, builds[1].1);
        }
        if scenario != Scenario::Clean {
            assert_eq!(status(&builds[0].0), Vulnerable, "attacks need a vulnerable server");
        } else {
            // Any chain counts, as for the hunt's verdict: March 2021 builds still lack the ProxyShell fixes.
            let ever_vulnerable =
                builds.iter().any(|b| kb.catalog.verdict_str(&b.0).chains.iter().any(|c| c.status == Vulnerable));
            let want = if ever_vulnerable { "vulnerable-not-exploited" } else { "clean" };
            assert_eq!(s.verdict.as_str(), want);
        }
        let build_at = |time: &str| -> &str {
            // RFC 3339 UTC strings of one format compare in time order.
            builds.iter().find(|b| time < b.2.as_str()).map_or(builds[builds.len() - 1].0.as_str(), |b| b.0.as_str())
        };
        let long = |b: &str| {
            let p: Vec<u32> = b.split('.').map(|x| x.parse().expect("number")).collect();
            format!("{}.{:02}.{:04}.{:03}", p[0], p[1], p[2], p[3])
        };
        for rel in walk(dir.path()).into_iter().filter(|r| r.contains("/Logging/HttpProxy/")) {
            let ls = lines(&dir.path().join(&rel));
            assert_eq!(ls[0], "#Software: Microsoft Exchange Server");
            assert_eq!(ls[2], "#Log-type: HttpProxy Logs");
            let date = ls[3].strip_prefix("#Date: ").expect("#Date");
            assert_eq!(ls[1], format!("#Version: {}", long(build_at(date))), "{rel}");
            let header = csv(ls[4].strip_prefix("#Fields: ").expect("#Fields"));
            let is_2013 = builds[0].0.starts_with("15.0.");
            assert_eq!(header.contains(&"RouteRefresherLatency".to_string()), !is_2013, "{rel}: header fits the build");
            let col = |name: &str| header.iter().position(|h| h == name).expect("column");
            let (dt, ma, mi, bu, re) = (
                col("DateTime"),
                col("MajorVersion"),
                col("MinorVersion"),
                col("BuildVersion"),
                col("RevisionVersion"),
            );
            for line in &ls[5..] {
                let f = csv(line);
                assert_eq!(f.len(), header.len(), "{rel}: {line}");
                let b = format!("{}.{}.{}.{}", f[ma], f[mi], f[bu], f[re]);
                assert_eq!(b, build_at(&f[dt]), "{rel}: build columns at {}", f[dt]);
            }
        }
    }
    assert_eq!(products.len(), 3, "2013, 2016 and 2019 all occur: {products:?}");
    assert!(patched > 0, "some seeds patch mid-window");
}

#[test]
fn size_is_roughly_honoured() {
    for (size, seed) in [(1_000_000u64, 3u64), (exhunt_lab::DEFAULT_SIZE, 4)] {
        let dir = tempfile::tempdir().expect("tmp");
        let s = generate(dir.path(), &opts(seed, size, Scenario::Used)).expect("generate");
        let ratio = s.log_bytes as f64 / size as f64;
        assert!((0.9..=1.1).contains(&ratio), "{} log bytes for a target of {size}", s.log_bytes);
        let on_disk: u64 = walk(dir.path())
            .iter()
            .filter(|f| f.starts_with("C/"))
            .map(|f| fs::metadata(dir.path().join(f)).expect("meta").len())
            .sum();
        assert_eq!(on_disk, s.bytes, "stats count every byte under C/");
        assert_eq!(walk(dir.path()).len() as u64, s.files + 1, "stats count every file (plus truth.jsonl)");
    }
}

/// Streaming: 200 MB are written without holding a log in memory (the test only checks the result exists).
#[test]
fn two_hundred_megabytes() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = generate(dir.path(), &opts(21, 200_000_000, Scenario::Used)).expect("generate");
    assert!(s.log_bytes > 180_000_000);
    assert!(dir.path().join("truth.jsonl").is_file());
    assert!(dir.path().join("C/inetpub/logs/LogFiles/W3SVC1/u_ex210301.log").is_file());
    assert!(dir.path().join("C/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Owa").is_dir());
}

#[test]
fn layout_and_options() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = EvidenceOptions { host: Some("EXMBX7".into()), ..opts(1, 300_000, Scenario::Clean) };
    let s = generate(dir.path(), &o).expect("generate");
    assert_eq!(s.host, "EXMBX7");
    let files = walk(dir.path());
    for want in [
        "C/Windows/System32/inetsrv/config/applicationHost.config",
        "C/inetpub/wwwroot/iisstart.htm",
        "C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/logon.aspx",
        "C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/ecp/auth/TimeoutLogout.aspx",
        "truth.jsonl",
    ] {
        assert!(files.iter().any(|f| f == want), "{want} written");
    }
    assert!(dir.path().join("C/inetpub/wwwroot/aspnet_client/system_web/4_0_30319").is_dir());
    assert!(!files.iter().any(|f| f.contains("aspnet_client/")), "aspnet_client holds no files when clean");
    let config = fs::read_to_string(dir.path().join("C/Windows/System32/inetsrv/config/applicationHost.config"))
        .expect("config");
    assert!(config.contains("<site name=\"Default Web Site\" id=\"1\""));
    assert!(config.contains("<site name=\"Exchange Back End\" id=\"2\""));
    assert!(config.contains("bindingInformation=\"*:444:\""));
    for family in [
        "HttpProxy/Owa/HttpProxy_",
        "ECP/Server/ECPServer",
        "OABGeneratorLog/OABGeneratorLog_",
        "W3SVC1/u_ex",
        "W3SVC2/u_ex",
    ] {
        assert!(files.iter().any(|f| f.contains(family)), "{family} written");
    }
    let ecp = files.iter().find(|f| f.contains("ECP/Server/")).expect("ecp log");
    assert!(lines(&dir.path().join(ecp))[4] == "#Fields: TimeStamp,ServerName,EventId,EventData");
    let iis = files.iter().find(|f| f.contains("W3SVC1/")).expect("iis log");
    let iis = lines(&dir.path().join(iis));
    assert_eq!(iis[0], "#Software: Microsoft Internet Information Services 10.0");
    assert_eq!(
        iis[3],
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
    );

    // A folder that holds anything is refused, as are bad options.
    assert!(matches!(generate(dir.path(), &o), Err(LabError::NotEmpty { .. })));
    let fresh = tempfile::tempdir().expect("tmp");
    let bad_host = EvidenceOptions { host: Some("not a host".into()), ..o.clone() };
    assert!(matches!(generate(fresh.path(), &bad_host), Err(LabError::InvalidOption { name: "host", .. })));
    let tiny = EvidenceOptions { size: 10, ..o };
    assert!(matches!(generate(fresh.path(), &tiny), Err(LabError::InvalidOption { name: "size", .. })));
    assert!(matches!("bogus".parse::<Scenario>(), Err(LabError::UnknownScenario(_))));
    assert_eq!("backdoored".parse::<Scenario>().expect("scenario"), Scenario::Backdoored);
    let _: PathBuf = s.truth;
}
