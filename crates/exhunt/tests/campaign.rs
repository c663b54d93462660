//! `exhunt campaign` through the binary, on real scans of the lab (started here, on loopback), into a SQLite file
//! and into a throw-away PostgreSQL cluster: records as documented, a `kill -9` during an ingest, exit codes.

use assert_cmd::Command;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn exhunt() -> Command {
    Command::cargo_bin("exhunt").expect("binary")
}

/// A copy of `docs/output.md` § ticket: a field added, removed or renamed fails here first.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Ticket {
    id: String,
    ip: String,
    port: u16,
    check: String,
    state: String,
    opened: String,
    last_seen: String,
    closed: Option<String>,
    detail: String,
    false_positive_until: Option<String>,
    false_positive_reason: Option<String>,
    owner: Option<String>,
    names: Vec<String>,
}

/// Scans a /26 of the lab at `epoch` (the lab as a child process on `port`, stopped after) into `out`.
fn scan_lab(range: &str, port: u16, epoch: u32, out: &Path) {
    let mut lab = std::process::Command::new(env!("CARGO_BIN_EXE_exhunt"))
        .args(["lab", "serve", "--hosts", range, "--bind", "per-address", "--seed", "9", "--port"])
        .arg(port.to_string())
        .arg("--epoch")
        .arg(epoch.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lab");
    let stderr = lab.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "the lab did not start");
        let line = lines.next().expect("the lab ended").expect("read");
        if line.contains(" on port ") {
            break;
        }
    }
    let run = exhunt()
        .args(["scan", range, "-p", &port.to_string(), "--allow-reserved", "--rate", "0", "--per-host-rate", "0"])
        .args(["--webshells", "--no-progress", "--read-timeout", "2", "--out"])
        .arg(out)
        .args(["--metadata"])
        .arg(out.with_extension("metadata.json"))
        .timeout(Duration::from_secs(300))
        .output()
        .expect("scan");
    let _ = lab.kill();
    let _ = lab.wait();
    assert!(matches!(run.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&run.stderr));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

fn tickets(db: &str) -> Vec<Ticket> {
    let out = exhunt().args(["campaign", "tickets", "--format", "jsonl", "--db", db]).output().expect("tickets");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            assert_eq!((v["type"].as_str(), v["v"].as_u64()), (Some("ticket"), Some(1)), "{l}");
            serde_json::from_value(v["data"].clone()).expect("a ticket as documented")
        })
        .collect()
}

fn status(db: &str) -> serde_json::Value {
    let out = exhunt().args(["campaign", "status", "--format", "json", "--db", db]).output().expect("status");
    serde_json::from_slice(&out.stdout).expect("status json")
}

/// Two scans of the lab a epoch apart, on one port: what each backend makes of them.
struct Scans {
    _dir: tempfile::TempDir,
    files: [PathBuf; 2],
}

fn scans() -> Scans {
    let dir = tempfile::tempdir().expect("tmp");
    let range = format!("127.{}.{}.0/26", 210, (std::process::id() % 63) * 4);
    let port = free_port();
    let files = [dir.path().join("epoch0.jsonl"), dir.path().join("epoch1.jsonl")];
    scan_lab(&range, port, 0, &files[0]);
    scan_lab(&range, port, 1, &files[1]);
    Scans { _dir: dir, files }
}

#[test]
fn both_backends_make_the_same_tickets_of_two_lab_scans() {
    let s = scans();
    let tmp = tempfile::tempdir().expect("tmp");
    let sqlite = tmp.path().join("c.sqlite").display().to_string();
    let pg = exhunt_testkit::postgres::Cluster::get().database();
    let mut results = Vec::new();
    for db in [&sqlite, &pg] {
        let out = exhunt().args(["campaign", "ingest", "--db", db]).args(&s.files).output().expect("ingest");
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let again = exhunt().args(["campaign", "ingest", "--db", db]).args(&s.files).output().expect("ingest");
        assert!(String::from_utf8_lossy(&again.stderr).contains("ingested before"));
        let t = tickets(db);
        assert!(t.iter().any(|t| t.state == "closed") && t.iter().any(|t| t.state == "open"), "{t:?}");
        let st = status(db);
        assert_eq!(st["runs"].as_array().map(Vec::len), Some(2));
        let share = |i: usize| st["runs"][i]["vulnerable_share"].as_f64().expect("share");
        assert!(share(1) < share(0), "the next epoch patched nothing: {st}");
        results.push((
            t.iter().map(|t| (t.id.clone(), t.state.clone(), t.detail.clone())).collect::<Vec<_>>(),
            st["open"].clone(),
        ));
    }
    assert_eq!(results[0], results[1], "SQLite and PostgreSQL disagree");
}

#[test]
fn an_ingest_killed_with_sigkill_and_run_again_loses_and_repeats_nothing() {
    let s = scans();
    // A bigger file than the lab's 64 hosts, so that the kill lands mid-way: the same observations at 40 more
    // addresses each (198.18.0.0/15, the benchmarking range), one batch per 10 lines.
    let tmp = tempfile::tempdir().expect("tmp");
    let big = tmp.path().join("big.jsonl");
    let mut text = String::new();
    for i in 0..40u32 {
        for line in std::fs::read_to_string(&s.files[0]).expect("read").lines() {
            let mut v: serde_json::Value = serde_json::from_str(line).expect("json");
            if v["type"] == "observation" {
                let ip: std::net::Ipv4Addr = v["data"]["ip"].as_str().expect("ip").parse().expect("ip");
                let last = u32::from(ip) & 0xff;
                v["data"]["ip"] =
                    serde_json::json!(std::net::Ipv4Addr::from(0xc612_0000 + (i << 8) + last).to_string());
            }
            text.push_str(&v.to_string());
            text.push('\n');
        }
    }
    std::fs::write(&big, text).expect("write");
    for db in [tmp.path().join("k.sqlite").display().to_string(), exhunt_testkit::postgres::Cluster::get().database()] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_exhunt"))
            .args(["campaign", "ingest", "--batch", "10", "--db", &db])
            .arg(&big)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ingest");
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            child.try_wait().expect("wait").is_none(),
            "{db}: the ingest ended before the kill: make the file bigger"
        );
        child.kill().expect("kill -9");
        child.wait().expect("wait");
        let partial = status(&db)["runs"][0]["observations"].as_u64().unwrap_or(0);
        assert!(partial < 2560, "{db}: {partial}");
        let out =
            exhunt().args(["campaign", "ingest", "--batch", "10", "--db", &db]).arg(&big).output().expect("again");
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        // The same as one ingest into a fresh campaign.
        let fresh = tmp.path().join(format!("fresh{}.sqlite", db.len())).display().to_string();
        let out = exhunt().args(["campaign", "ingest", "--db", &fresh]).arg(&big).output().expect("fresh");
        assert_eq!(out.status.code(), Some(0));
        let key = |t: &Ticket| (t.id.clone(), t.state.clone(), t.detail.clone(), t.opened.clone());
        assert_eq!(
            tickets(&db).iter().map(key).collect::<Vec<_>>(),
            tickets(&fresh).iter().map(key).collect::<Vec<_>>(),
            "{db}"
        );
        let (a, b) = (status(&db), status(&fresh));
        assert_eq!(a["runs"][0]["observations"], 2560, "{db}");
        assert_eq!(
            (&a["open"], &a["hosts"], &a["runs"][0]["opened"]),
            (&b["open"], &b["hosts"], &b["runs"][0]["opened"]),
            "{db}"
        );
    }
}

#[test]
fn bad_lines_and_unknown_files_are_errors_and_exit_2() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = tmp.path().join("c.sqlite").display().to_string();
    let unknown = tmp.path().join("notes.txt");
    std::fs::write(&unknown, "hello\n").expect("write");
    let out = exhunt().args(["campaign", "ingest", "--json", "--db", &db]).arg(&unknown).output().expect("ingest");
    assert_eq!(out.status.code(), Some(2));
    let line = String::from_utf8(out.stdout).expect("utf-8");
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("an error record");
    assert_eq!((v["type"].as_str(), v["data"]["code"].as_str()), (Some("error"), Some("C001")), "{line}");
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"type\":\"observation\",\"v\":1,\"data\":{}}\n{\"type\":\"observation\",\"v\":1,\"data\":{\"ip\":1}}\n",
    )
    .expect("w");
    let out = exhunt().args(["campaign", "ingest", "--json", "--db", &db]).arg(&bad).output().expect("ingest");
    assert_eq!(out.status.code(), Some(2));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).expect("utf-8").lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["data"]["locator"], serde_json::json!({"line": 2}));
    let out = exhunt()
        .args(["campaign", "fp", "--db", &db, "1.2.3.4:443/proxylogon#0", "--until", "2999-01-01", "--reason", "x"])
        .output()
        .expect("fp");
    assert_eq!(out.status.code(), Some(3), "no such ticket: {}", String::from_utf8_lossy(&out.stderr));
}
