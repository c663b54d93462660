//! `exhunt hunt` end to end through the binary: lab evidence as a folder and as a zip, the evidence left unchanged,
//! hostile strings escaped in every output, exit codes, the host-report schema.

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn exhunt() -> Command {
    Command::cargo_bin("exhunt").expect("binary")
}

fn lab(dir: &Path, scenario: &str, seed: u64) -> PathBuf {
    let root = dir.join(format!("{scenario}-{seed}"));
    let out = exhunt()
        .args(["lab", "evidence"])
        .arg(&root)
        .args(["--seed", &seed.to_string(), "--size", "600000", "--scenario", scenario])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    root
}

/// Path → SHA-256 of every file under `root`, and the folder list.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let meta = std::fs::symlink_metadata(&p).expect("meta");
            let rel = p.strip_prefix(root).expect("prefix").display().to_string();
            if meta.is_dir() {
                out.insert(rel + "/", String::new());
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read");
                let mtime = meta.modified().map(|t| format!("{t:?}")).unwrap_or_default();
                out.insert(rel, format!("{:x} {mtime}", Sha256::digest(&bytes)));
            }
        }
    }
    out
}

fn records(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout).lines().map(|l| serde_json::from_str(l).expect("jsonl")).collect()
}

#[test]
fn a_used_back_door_is_found_and_the_evidence_is_unchanged() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = lab(tmp.path(), "used", 5);
    let before = snapshot(&root);
    let html = tmp.path().join("report.html");
    let timeline = tmp.path().join("timeline.csv");
    let out = exhunt()
        .args(["hunt", "--json", "--no-progress", "--since", "2021-02-01"])
        .arg(&root)
        .arg("--html")
        .arg(&html)
        .arg("--timeline")
        .arg(&timeline)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(snapshot(&root), before, "the hunt changed the evidence");
    let recs = records(&out.stdout);
    let report = recs.iter().find(|r| r["type"] == "host-report").expect("host-report");
    assert_eq!(report["v"], 1);
    assert_eq!(report["data"]["verdict"], "backdoor-used");
    assert!(!report["data"]["deciding"].as_array().expect("deciding").is_empty());
    assert!(report["data"]["exposure"].as_array().is_some_and(|a| a.len() == 3));
    let findings: Vec<&serde_json::Value> = recs.iter().filter(|r| r["type"] == "finding").collect();
    assert!(findings.iter().any(|f| f["data"]["details"]["check"] == "webshell-request"));
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.contains("backdoor used") || page.contains("BACKDOOR USED"));
    let csv = std::fs::read_to_string(&timeline).expect("timeline");
    assert!(csv.starts_with("time,host,severity,kind,rule,title,path,locator,excerpt,finding_id\n"));
    assert!(csv.lines().count() > findings.len(), "one row per evidence item");
}

#[test]
fn a_zip_of_the_same_evidence_gives_the_same_findings() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = lab(tmp.path(), "backdoored", 3);
    let zip_path = tmp.path().join("collection.zip");
    {
        let f = std::fs::File::create(&zip_path).expect("zip");
        let mut z = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read_dir") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(&root).expect("prefix").to_string_lossy().replace('\\', "/");
                    z.start_file(rel, opts).expect("start");
                    std::io::Write::write_all(&mut z, &std::fs::read(&p).expect("read")).expect("write");
                }
            }
        }
        z.finish().expect("finish");
    }
    let run = |p: &Path| {
        let out = exhunt().args(["hunt", "--json", "--no-progress"]).arg(p).output().expect("run");
        let mut ids: Vec<String> = records(&out.stdout)
            .iter()
            .filter(|r| r["type"] == "finding")
            .map(|r| format!("{} {}", r["data"]["rule"], r["data"]["severity"]))
            .collect();
        ids.sort();
        (out.status.code(), ids)
    };
    let (c1, a) = run(&root);
    let (c2, b) = run(&zip_path);
    assert_eq!(c1, Some(1));
    assert_eq!(c2, Some(1));
    assert!(!a.is_empty());
    assert_eq!(a, b, "folder and zip disagree");
}

#[test]
fn hostile_names_and_user_agents_are_escaped_everywhere() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("hostile");
    let web = root.join("C/inetpub/wwwroot/aspnet_client");
    std::fs::create_dir_all(&web).expect("mkdir");
    let evil_name = "x<script>alert(1)<\u{1b}[31m>\u{202e}.aspx";
    std::fs::write(web.join(evil_name), "<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"z\"],\"unsafe\");%>")
        .expect("shell");
    let logs = root.join("C/inetpub/logs/LogFiles/W3SVC1");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(
        logs.join("u_ex210303.log"),
        "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2021-03-03 00:00:00\n\
         #Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n\
         2021-03-03 02:11:09 10.0.0.5 POST /ecp/y.js - 443 - 167.99.168.251 <script>alert('ua')</script>\u{1b}]0;pwned\u{7} - 200 0 0 12\n",
    )
    .expect("log");
    let html = tmp.path().join("r.html");
    let out = exhunt().args(["hunt", "--no-progress"]).arg(&root).arg("--html").arg(&html).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'), "raw ESC on the terminal");
    assert!(!stdout.contains('\u{202e}'), "raw bidi override on the terminal");
    assert!(stdout.contains("COMPROMISED") || stdout.contains("BACKDOOR"), "{stdout}");
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(!page.contains("<script"), "unescaped markup in the report");
    assert!(page.contains("&lt;script&gt;"), "the hostile text is shown, escaped");
    assert!(page.contains("Content-Security-Policy"));
}

#[test]
fn missing_evidence_is_an_error_not_a_crash() {
    let out = exhunt().args(["hunt", "--no-progress", "/nonexistent/evidence"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = exhunt().args(["hunt", "--no-progress", "--since", "yesterday", "/tmp"]).output().expect("run");
    assert_eq!(out.status.code(), Some(3));
}

/// The README's first command, on a small lab: evidence, verdict, report and timeline, exit 0.
#[test]
fn the_demo_runs_end_to_end() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("demo");
    let out =
        exhunt().args(["demo", "--size", "600000", "--dir"]).arg(&dir).env("NO_COLOR", "1").output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BACKDOOR-USED"), "{stdout}");
    assert!(dir.join("evidence/truth.jsonl").is_file());
    assert!(std::fs::read_to_string(dir.join("report.html")).expect("report").contains("id=\"verdict\""));
    assert!(std::fs::metadata(dir.join("timeline.csv")).expect("timeline").len() > 100);
    // The scan half: a loopback lab of 256 hosts the demo starts and stops itself, every host observed once, the
    // metadata beside, and the comparison with the lab's truth told (its exactness is pinned by the scan tests).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("scanned the 256 lab hosts on loopback") && stderr.contains("differ"), "{stderr}");
    let obs = std::fs::read_to_string(dir.join("scan/observations.jsonl")).expect("observations");
    assert_eq!(obs.lines().filter(|l| l.starts_with("{\"type\":\"observation\"")).count(), 256);
    // Beside them the scan's verdicts: the lab has vulnerable hosts, so there are finding lines.
    assert!(obs.lines().any(|l| l.starts_with("{\"type\":\"finding\"")), "no finding lines");
    assert!(dir.join("scan/metadata.json").is_file() && dir.join("scan/truth.jsonl").is_file());
    // The campaign half: the lab's next epoch scanned on the same port, both scans in one campaign. What the
    // campaign says must follow from the two truths: vulnerable hosts per run, the chain tickets the second scan
    // closed (vulnerable, then fixed), and the back doors still open (patching does not remove them).
    let truth = |name: &str| -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(dir.join("scan").join(name)).expect("truth");
        text.lines().map(|l| serde_json::from_str(l).expect("truth line")).collect()
    };
    let (t0, t1) = (truth("truth.jsonl"), truth("truth-epoch1.jsonl"));
    let chain = |t: &serde_json::Value, c: &str| t["expect"]["chains"][c].as_str().unwrap_or("").to_string();
    let vulnerable = |ts: &[serde_json::Value]| {
        ts.iter()
            .filter(|t| ["proxylogon", "proxyshell", "proxynotshell"].iter().any(|c| chain(t, c) == "vulnerable"))
            .count()
    };
    let mut closed = 0;
    for (a, b) in t0.iter().zip(&t1) {
        for c in ["proxylogon", "proxyshell", "proxynotshell"] {
            if chain(a, c) == "vulnerable" && ["fixed", "not-affected"].contains(&chain(b, c).as_str()) {
                closed += 1;
            }
        }
        let shells = |t: &serde_json::Value| t["expect"]["webshells"].as_array().map_or(0, Vec::len);
        if shells(a) > 0 && shells(b) == 0 && b["expect"]["status"] == "success" {
            closed += 1;
        }
    }
    let backdoors = t1.iter().filter(|t| t["expect"]["webshells"].as_array().is_some_and(|w| !w.is_empty())).count();
    let db = dir.join("scan/campaign.sqlite");
    let status = exhunt().args(["campaign", "status", "--format", "json", "--db"]).arg(&db).output().expect("status");
    assert_eq!(status.status.code(), Some(1), "open tickets: {}", String::from_utf8_lossy(&status.stderr));
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status json");
    let runs = s["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["vulnerable_any"], vulnerable(&t0));
    assert_eq!(runs[1]["vulnerable_any"], vulnerable(&t1));
    assert!(vulnerable(&t1) < vulnerable(&t0), "the next epoch patched nothing");
    assert_eq!(runs[1]["closed"], closed);
    assert!(closed > 0);
    assert_eq!(s["open"]["backdoor"], backdoors);
    assert!(stderr.contains("campaign"), "{stderr}");
}

#[test]
fn sigma_rules_run_on_web_logs_and_unloadable_rules_are_listed() {
    let shared = exhunt_testkit::shared();
    let tmp = tempfile::tempdir().expect("tmp");
    let root = lab(tmp.path(), "used", 5);
    let mine = tmp.path().join("my-rules");
    std::fs::create_dir_all(&mine).expect("mkdir");
    std::fs::write(mine.join("broken.yml"), "title: broken\ndetection: [unclosed\n").expect("write");
    let out = exhunt()
        .args(["hunt", "--json", "--no-progress", "--since", "2021-02-01", "--sigma"])
        .arg(shared.join("corpus/rules/sigma"))
        .arg("--sigma")
        .arg(&mine)
        .arg(&root)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "findings outrank errors: {}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out.stdout);
    // SigmaHQ's webserver rules, loaded unchanged, on IIS and on HttpProxy records (docs/sigma.md field mapping).
    let sigma = |id: &str, source: &str| {
        recs.iter().any(|r| {
            r["type"] == "finding"
                && r["data"]["rule"].as_str().is_some_and(|x| x.starts_with(id))
                && r["data"]["details"]["source"] == source
        })
    };
    assert!(sigma("SIGMA-67bce556", "iis"), "HAFNIUM web rule on IIS");
    assert!(sigma("SIGMA-67bce556", "httpproxy"), "HAFNIUM web rule on HttpProxy");
    assert!(sigma("SIGMA-effee1f6", "iis"), "ProxyLogon reset-vdir rule on IIS");
    // The broken rule is listed with its file and the reason, as an error record.
    let err = recs
        .iter()
        .find(|r| r["type"] == "error" && r["data"]["code"] == "S001")
        .expect("an S001 error record for the broken rule");
    assert!(err["data"]["path"].as_str().is_some_and(|p| p.ends_with("broken.yml")), "{err}");
}
