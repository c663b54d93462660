//! `exhunt scan`, `exhunt detect --from` and `exhunt lab serve` through the binary. Every packet goes to loopback:
//! to the lab these tests start themselves (`127.2xx.y.0/26`), or to a loopback port nobody listens on.

use assert_cmd::Command;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn exhunt() -> Command {
    Command::cargo_bin("exhunt").expect("binary")
}

/// A `/26` of loopback that other test runs (and the crate's own lab tests, on 127.100–149) are unlikely to use.
fn net(salt: u32) -> String {
    format!("127.{}.{}.0/26", 200 + salt, (std::process::id() % 63) * 4)
}

/// `exhunt lab serve` as a child process, killed when dropped (also when a test panics).
struct Lab {
    child: Child,
    port: u16,
    seed: u64,
    kb: exhunt_kb::Kb,
    /// The lab's `truth.jsonl`, by address.
    truth: BTreeMap<String, Value>,
    _dir: tempfile::TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Lab {
    fn start(range: &str, seed: u64) -> Lab {
        let dir = tempfile::tempdir().expect("tmp");
        let truth_path = dir.path().join("truth.jsonl");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_exhunt"))
            .args(["lab", "serve", "--hosts", range, "--port", "0", "--bind", "per-address", "--seed"])
            .arg(seed.to_string())
            .arg("--truth")
            .arg(&truth_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the lab");
        let mut lab = Lab { child, port: 0, seed, kb: exhunt_kb::Kb::builtin(), truth: BTreeMap::new(), _dir: dir };
        // The lab writes its truth, then says which port it listens on.
        let stderr = lab.child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        while lab.port == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("the lab did not say its port in time");
            if let Some(rest) = line.split(" on port ").nth(1) {
                lab.port = rest.split_whitespace().next().and_then(|p| p.parse().ok()).expect("port");
            }
        }
        let text = std::fs::read_to_string(&truth_path).expect("truth");
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).expect("truth line");
            lab.truth.insert(v["addr"].as_str().expect("addr").to_string(), v);
        }
        lab
    }

    /// The lab's truth for one address, computed in process (a host is a pure function of seed and address): the
    /// one comparison [`Truth::differences`](exhunt_lab::serve::Truth::differences), and it must be the line the
    /// child wrote to `truth.jsonl`.
    fn truth_of(&self, addr: &str) -> exhunt_lab::serve::Truth {
        let a: std::net::Ipv4Addr = addr.parse().expect("IPv4");
        let t = exhunt_lab::serve::Host::new(self.seed, a, &self.kb).truth(self.port, &self.kb.catalog, false);
        assert_eq!(serde_json::to_value(&t).expect("json"), self.truth[addr], "{addr}: truth.jsonl");
        t
    }

    /// Asserts that an observation agrees with the lab's truth for its address.
    fn assert_matches_truth(&self, addr: &str, o: &Value, webshells: bool) {
        let o: exhunt_model::Observation = serde_json::from_value(o.clone()).expect("an observation");
        let d = self.truth_of(addr).differences(Some(&o), webshells);
        assert!(d.is_empty(), "{addr}: {d:?}; host {}", self.truth[addr]["host"]);
    }

    fn expects_findings(&self, skip: &BTreeSet<String>, webshells: bool) -> bool {
        self.truth.iter().filter(|(a, _)| !skip.contains(*a)).any(|(_, t)| {
            let e = &t["expect"];
            (webshells && e["webshells"].as_array().is_some_and(|w| !w.is_empty()))
                || e["chains"].as_object().is_some_and(|c| c.values().any(|s| s == "vulnerable"))
        })
    }
}

/// The scan options every test uses: no rate limits, no progress bar, short read deadlines (a slowloris host costs
/// two seconds), handshakes given the default five seconds (the lab signs a certificate per connection).
fn scan_args(lab: &Lab, target: &str) -> Vec<String> {
    [
        "scan",
        target,
        "-p",
        &lab.port.to_string(),
        "--allow-reserved",
        "--seed",
        "7",
        "--rate",
        "0",
        "--per-host-rate",
        "0",
        "--concurrency",
        "64",
        "--connect-timeout",
        "5",
        "--tls-timeout",
        "5",
        "--read-timeout",
        "2",
        "--no-progress",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The observations of a scan's output. Each is followed by its findings (the scan's verdicts as `finding` records,
/// exactly those that detection derives from it) and nothing else.
fn observations(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("observations");
    let mut obs = Vec::new();
    let mut findings: Vec<Value> = Vec::new();
    let mut want: Vec<Value> = Vec::new();
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).expect("a whole JSON line");
        match v["type"].as_str() {
            Some("observation") => {
                let o: exhunt_model::Observation = serde_json::from_value(v["data"].clone()).expect("observation");
                want.extend(exhunt_detect::scan::findings(&o).iter().map(|f| serde_json::to_value(f).expect("json")));
                obs.push(v["data"].clone());
            }
            Some("finding") => {
                assert!(!obs.is_empty(), "a finding before any observation: {l}");
                findings.push(v["data"].clone());
            }
            _ => panic!("neither an observation nor a finding: {l}"),
        }
    }
    assert_eq!(findings, want, "the finding lines are not those of the observations");
    obs
}

fn by_ip(obs: &[Value]) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    for o in obs {
        let ip = o["ip"].as_str().expect("ip").to_string();
        assert!(m.insert(ip.clone(), o.clone()).is_none(), "{ip} observed twice");
    }
    m
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn scanning_the_lab_gives_its_truth_and_detect_replays_it() {
    let lab = Lab::start(&net(1), 5);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("obs.jsonl");
    // One address excluded by the operator: never contacted, never reported.
    let excluded = lab.truth.keys().nth(5).expect("an address").clone();
    let exclude = dir.path().join("exclude.txt");
    std::fs::write(&exclude, format!("# opt-out\n{excluded}\n")).expect("exclude");
    let mut args = scan_args(&lab, &net(1));
    args.extend(["--webshells".to_string(), "--out".into(), out.display().to_string(), "--exclude".into()]);
    args.push(exclude.display().to_string());
    let run = exhunt().args(&args).timeout(Duration::from_secs(300)).output().expect("scan");
    let skip: BTreeSet<String> = [excluded.clone()].into();
    let want_code = if lab.expects_findings(&skip, true) { 1 } else { 0 };
    assert_eq!(run.status.code(), Some(want_code), "stderr: {}", String::from_utf8_lossy(&run.stderr));
    assert!(run.stdout.is_empty(), "observations go to --out, not stdout");

    let obs = observations(&out);
    let seen = by_ip(&obs);
    assert!(!seen.contains_key(&excluded), "the excluded address was scanned");
    assert_eq!(seen.len(), lab.truth.len() - 1);
    let mut kinds = BTreeSet::new();
    for (addr, t) in &lab.truth {
        if *addr == excluded {
            continue;
        }
        kinds.insert(t["host"]["kind"].as_str().expect("kind").to_string());
        lab.assert_matches_truth(addr, &seen[addr], true);
    }
    assert!(kinds.len() >= 4, "the lab range covers too few kinds: {kinds:?}");

    // `lab compare` (the comparison the scan benchmark prints) finds exactly the excluded address, never observed.
    let compare = |webshells: bool| {
        let mut c = exhunt();
        c.args(["lab", "compare", "--hosts", &net(1), "--port", &lab.port.to_string(), "--bind", "per-address"]);
        c.args(["--seed", &lab.seed.to_string()]).arg(&out);
        if webshells {
            c.arg("--webshells");
        }
        c.output().expect("lab compare")
    };
    let c = compare(true);
    let text = String::from_utf8_lossy(&c.stdout);
    assert_eq!(c.status.code(), Some(1), "{text}");
    assert_eq!(text, format!("1 of 64 addresses differ from the lab's truth\n  {excluded}: not observed\n"));
    // Told that the scan did not probe for shells, the web shells it found are differences.
    let shells = lab.truth.values().filter(|t| t["expect"]["webshells"].as_array().is_some_and(|w| !w.is_empty()));
    let with_shells = shells.filter(|t| t["addr"] != excluded.as_str()).count();
    assert!(with_shells > 0, "no web shell in the lab range");
    let text = String::from_utf8_lossy(&compare(false).stdout).into_owned();
    assert!(text.starts_with(&format!("{} of 64 addresses differ", 1 + with_shells)), "{text}");

    // metadata.json in the folder of --out.
    let meta_path = dir.path().join("metadata.json");
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(&meta_path).expect("metadata")).expect("json");
    assert_eq!(meta["tool"], "exhunt");
    assert_eq!(meta["observations"], "obs.jsonl");
    assert_eq!(meta["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(meta["seed"], 7);
    assert_eq!(meta["shard"], "0/1");
    assert_eq!(meta["rate"], 0);
    assert_eq!(meta["ports"], serde_json::json!([lab.port]));
    assert_eq!(meta["blocklist_hash"], sha256_hex(&format!("{excluded}\n")));
    assert_eq!(meta["blocklist_entries"], 1);
    // The knowledge base's hash as `exhunt hunt` gives it (16 hex digits).
    let kb_hash = meta["kb_hash"].as_str().expect("kb_hash");
    assert!(kb_hash.len() == 16 && kb_hash.chars().all(|c| c.is_ascii_hexdigit()), "{meta}");
    assert!(meta["start"].as_str().is_some_and(|s| s.ends_with('Z')) && meta["end"].as_str().is_some());
    assert_eq!(meta["resumes"], 0);
    assert_eq!(meta["targets"]["space"], 64);
    assert_eq!(meta["targets"]["blocked"], 1);
    assert_eq!(meta["targets"]["scanned"], 63);
    assert_eq!(meta["results"]["observations"], 63);
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for o in &obs {
        *statuses.entry(o["status"].as_str().expect("s").to_string()).or_default() += 1;
    }
    assert_eq!(meta["results"]["statuses"], serde_json::to_value(&statuses).expect("json"));

    // detect --from recomputes the same fingerprints, and the same exit code.
    // (The observations and their findings, byte for byte what the scan wrote.)
    let replay = exhunt().args(["detect", "--from"]).arg(&out).output().expect("detect");
    assert_eq!(replay.status.code(), Some(want_code));
    let scanned = std::fs::read_to_string(&out).expect("read");
    assert_eq!(String::from_utf8(replay.stdout).expect("utf-8"), scanned, "detect --from changed a line");
    assert!(scanned.contains("\"type\":\"finding\"") == (want_code == 1), "finding lines and exit code disagree");

    // Shadowserver rows: one per vulnerable Exchange host, one per web shell.
    let csv = exhunt().args(["detect", "--format", "shadowserver", "--from"]).arg(&out).output().expect("detect csv");
    assert_eq!(csv.status.code(), Some(want_code));
    let text = String::from_utf8(csv.stdout).expect("utf-8");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "timestamp,severity,ip,protocol,port,hostname,tag,asn,geo,region,city,naics,hostname_source,sector,version,servername,url"
        )
    );
    let mut want_rows = 0;
    for t in lab.truth.iter().filter(|(a, _)| **a != excluded).map(|(_, t)| t) {
        let e = &t["expect"];
        if e["chains"].as_object().is_some_and(|c| c.values().any(|s| s == "vulnerable")) {
            want_rows += 1;
        }
        want_rows += e["webshells"].as_array().map_or(0, Vec::len);
    }
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), want_rows, "{text}");
    for r in &rows {
        let cells: Vec<&str> = r.split(',').collect();
        assert_eq!(cells.len(), 17, "{r}");
        let t = &lab.truth[cells[2]];
        assert_eq!(t["expect"]["class"], "exchange", "{r}");
        assert_eq!(cells[4], lab.port.to_string());
        assert!(cells[6] == "exchange;webshell" || cells[6].starts_with("exchange;cve-"), "{r}");
        assert_eq!(cells[5], t["host"]["hostname"].as_str().expect("h"), "{r}");
    }

    // --format shadowserver without --out streams the rows of what it scans.
    let vulnerable = lab
        .truth
        .iter()
        .find(|(a, t)| {
            **a != excluded && t["expect"]["chains"].as_object().is_some_and(|c| c.values().any(|s| s == "vulnerable"))
        })
        .map(|(a, _)| a.clone());
    if let Some(addr) = vulnerable {
        let mut args = scan_args(&lab, &addr);
        args.extend(["--format".to_string(), "shadowserver".into()]);
        let one = exhunt().args(&args).timeout(Duration::from_secs(60)).output().expect("scan csv");
        assert_eq!(one.status.code(), Some(1));
        let text = String::from_utf8(one.stdout).expect("utf-8");
        assert!(text.lines().nth(1).is_some_and(|r| r.contains(&format!(",{addr},tcp,"))), "{text}");
        // With --out, the observations go to the file and the CSV (of the whole file) to stdout. Another scan in
        // the same folder: the first scan's metadata.json is not taken; it needs its own `--metadata`.
        let out2 = dir.path().join("one.jsonl");
        let meta_before = std::fs::read(&meta_path).expect("metadata");
        args.extend(["--out".to_string(), out2.display().to_string()]);
        let taken = exhunt().args(&args).timeout(Duration::from_secs(60)).output().expect("scan csv --out");
        assert_eq!(taken.status.code(), Some(3), "{}", String::from_utf8_lossy(&taken.stderr));
        let stderr = String::from_utf8_lossy(&taken.stderr);
        assert!(stderr.contains("`--metadata FILE`") && stderr.contains("observations `obs.jsonl`"), "{stderr}");
        assert!(!out2.exists(), "a refused scan created its observations file");
        assert_eq!(std::fs::read(&meta_path).expect("metadata"), meta_before, "another scan's metadata changed");
        let meta2 = dir.path().join("one.metadata.json");
        args.extend(["--metadata".to_string(), meta2.display().to_string()]);
        let two = exhunt().args(&args).timeout(Duration::from_secs(60)).output().expect("scan csv --out");
        assert_eq!(two.status.code(), Some(1));
        let m2: Value = serde_json::from_str(&std::fs::read_to_string(&meta2).expect("metadata")).expect("json");
        assert_eq!((m2["observations"].as_str(), m2["results"]["observations"].as_u64()), (Some("one.jsonl"), Some(1)));
        assert_eq!(String::from_utf8(two.stdout).expect("utf-8").lines().count(), text.lines().count());
        assert_eq!(observations(&out2).len(), 1);
    }
}

#[test]
fn resume_after_kill_9_loses_no_target_and_repeats_none() {
    let lab = Lab::start(&net(2), 9);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("obs.jsonl");
    let mut args = scan_args(&lab, &net(2));
    // Slow enough to be killed mid-way: 64 targets at 8 per second.
    for (k, v) in [("--rate", "8"), ("--concurrency", "4")] {
        let i = args.iter().position(|a| a == k).expect("arg");
        args[i + 1] = v.to_string();
    }
    args.extend(["--out".to_string(), out.display().to_string()]);
    let mut scan = std::process::Command::new(env!("CARGO_BIN_EXE_exhunt"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("scan");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = std::fs::read_to_string(&out).map(|t| t.lines().count()).unwrap_or(0);
        if n >= 12 {
            break;
        }
        assert!(Instant::now() < deadline, "the scan wrote {n} lines in 120 s");
        assert!(scan.try_wait().expect("wait").is_none(), "the scan ended before it could be killed");
        std::thread::sleep(Duration::from_millis(50));
    }
    scan.kill().expect("SIGKILL");
    scan.wait().expect("reaped");
    // Whole observation lines only: an observation torn by the kill is scanned again (its findings, torn or not,
    // are written again from it).
    let text = std::fs::read_to_string(&out).expect("read");
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    let before = whole.lines().filter(|l| l.starts_with("{\"type\":\"observation\"")).count() as u64;
    assert!(before < 64, "the scan finished before the kill ({before} observations)");

    let mut resume = args.clone();
    for (k, v) in [("--rate", "0"), ("--concurrency", "64")] {
        let i = resume.iter().position(|a| a == k).expect("arg");
        resume[i + 1] = v.to_string();
    }
    resume.push("--resume".into());
    let run = exhunt().args(&resume).timeout(Duration::from_secs(300)).output().expect("resume");
    let want_code = if lab.expects_findings(&BTreeSet::new(), false) { 1 } else { 0 };
    assert_eq!(run.status.code(), Some(want_code), "{}", String::from_utf8_lossy(&run.stderr));
    let obs = observations(&out);
    let seen = by_ip(&obs); // panics on a repeat
    assert_eq!(seen.keys().collect::<Vec<_>>(), lab.truth.keys().collect::<Vec<_>>(), "a target was lost");
    let mut seqs: Vec<u64> = obs.iter().map(|o| o["seq"].as_u64().expect("seq")).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..64).collect::<Vec<_>>());
    for addr in lab.truth.keys() {
        lab.assert_matches_truth(addr, &seen[addr], false);
    }
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("metadata.json")).expect("metadata"))
            .expect("json");
    assert_eq!(meta["observations"], "obs.jsonl");
    assert_eq!(meta["resumes"], 1);
    assert_eq!(meta["results"]["observations"], 64);
    assert_eq!(meta["targets"]["resumed_skipped"], before);
    assert_eq!(meta["targets"]["scanned"], 64 - before);
}

/// A loopback port nobody listens on (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[test]
fn exit_codes_clean_blocked_errors_and_usage() {
    let port = free_port().to_string();
    let dir = tempfile::tempdir().expect("tmp");
    // 0: nothing listens, so nothing is found.
    let target = format!("127.{}.{}.9", 230 + std::process::id() % 20, std::process::id() % 250);
    let out = exhunt()
        .args(["scan", &target, "-p", &port, "--allow-reserved", "--no-progress", "--connect-timeout", "2"])
        .output()
        .expect("scan");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let line: Value = serde_json::from_slice(&out.stdout).expect("one observation");
    assert_eq!(line["data"]["status"], "refused");

    // Loopback without --allow-reserved: blocked, nothing sent, exit 0.
    let out = exhunt().args(["scan", "127.0.0.1", "-p", &port, "--no-progress"]).output().expect("scan");
    assert_eq!(out.status.code(), Some(0));
    let line: Value = serde_json::from_slice(&out.stdout).expect("one observation");
    assert_eq!(line["data"]["status"], "blocked");
    assert!(line["data"]["seq"].is_null());

    // 2: the run could not write its output.
    // (`--out` a link to /dev/full, so that `metadata.json` still lands in the temporary folder.)
    let full = dir.path().join("full.jsonl");
    if std::os::unix::fs::symlink("/dev/full", &full).is_ok() {
        let out = exhunt()
            .args(["scan", &target, "-p", &port, "--allow-reserved", "--no-progress", "--out"])
            .arg(&full)
            .output()
            .expect("scan");
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("full.jsonl"));
    }
    // 2: detect meets a line that is not an observation (and still handles the others).
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"type\":\"observation\",\"v\":1,\"data\":{\"nope\":1}}\n").expect("write");
    let out = exhunt().args(["detect", "--from"]).arg(&bad).output().expect("detect");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.jsonl:1"));

    // 3: usage.
    let used = dir.path().join("used.jsonl");
    std::fs::write(&used, "x\n").expect("write");
    let usage: Vec<Vec<String>> = vec![
        vec!["scan".into(), target.clone(), "--shard".into(), "4/4".into()],
        vec!["scan".into(), target.clone(), "--format".into(), "xml".into()],
        vec!["scan".into()],
        vec!["scan".into(), target.clone(), "--resume".into()],
        vec!["scan".into(), "10.0.0.0/33".into()],
        vec!["scan".into(), target.clone(), "-p".into(), "0".into()],
        vec!["scan".into(), target.clone(), "--out".into(), used.display().to_string()],
        vec!["scan".into(), target.clone(), "--read-timeout".into(), "-1".into()],
        vec!["lab".into(), "serve".into(), "--hosts".into(), "10.0.0.0/24".into(), "--port".into(), "0".into()],
    ];
    for args in usage {
        let out = exhunt().args(&args).output().expect("run");
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(std::fs::read_to_string(&used).expect("read"), "x\n", "a scan overwrote observations without --resume");
}

/// A loopback address of this test run, on which nothing listens.
fn quiet_net() -> String {
    format!("127.{}.{}.12/30", 230 + std::process::id() % 20, std::process::id() % 250)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

#[test]
fn shards_in_one_folder_need_their_own_metadata_and_resume_finds_it() {
    let port = free_port().to_string();
    let dir = tempfile::tempdir().expect("tmp");
    let net = quiet_net();
    let shard = |i: u32, extra: &[&str]| {
        let out = dir.path().join(format!("shard{i}.jsonl"));
        let mut args: Vec<String> = ["scan", &net, "-p", &port, "--allow-reserved", "--no-progress", "--rate", "0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["--connect-timeout".into(), "2".into(), "--shard".into(), format!("{i}/2"), "--out".into()]);
        args.push(out.display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        exhunt().args(&args).timeout(Duration::from_secs(60)).output().expect("scan")
    };
    let meta_path = dir.path().join("metadata.json");
    let first = shard(0, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    let m0 = read_json(&meta_path);
    assert_eq!((m0["shard"].as_str(), m0["observations"].as_str()), (Some("0/2"), Some("shard0.jsonl")));
    assert_eq!(m0["targets"]["unresolved"], serde_json::json!({}));

    // Shard 1 into the same folder: refused (exit 3), nothing written, shard 0's metadata untouched.
    let before = std::fs::read(&meta_path).expect("metadata");
    let second = shard(1, &[]);
    assert_eq!(second.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("metadata.json") && stderr.contains("shard 0/2, not 1/2"), "{stderr}");
    assert!(stderr.contains("`--metadata FILE`"), "{stderr}");
    assert!(!dir.path().join("shard1.jsonl").exists());
    assert_eq!(std::fs::read(&meta_path).expect("metadata"), before);
    // With its own --metadata it runs; a resume must name it again, and finds it.
    let m1_path = dir.path().join("shard1.metadata.json");
    let m1 = m1_path.display().to_string();
    let second = shard(1, &["--metadata", &m1]);
    assert_eq!(second.status.code(), Some(0), "{}", String::from_utf8_lossy(&second.stderr));
    let m1_start = read_json(&m1_path)["start"].clone();
    assert!(m1_start.is_string());
    assert_eq!(shard(1, &["--resume"]).status.code(), Some(3), "a resume of shard 1 took shard 0's metadata.json");
    let resumed = shard(1, &["--metadata", &m1, "--resume"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
    let m1 = read_json(&m1_path);
    assert_eq!((m1["shard"].as_str(), m1["resumes"].as_u64()), (Some("1/2"), Some(1)));
    assert_eq!(m1["start"], m1_start);
    // Shard 0 resumed: its metadata.json, updated in place.
    let resumed = shard(0, &["--resume"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
    let m0_again = read_json(&meta_path);
    assert_eq!(m0_again["resumes"], 1);
    assert_eq!(m0_again["start"], m0["start"], "a resumed scan keeps its first start");
    // Together the shards hold every target once (4 addresses, nothing listening).
    let mut ips = BTreeSet::new();
    for i in 0..2 {
        for o in observations(&dir.path().join(format!("shard{i}.jsonl"))) {
            assert_eq!(o["status"], "refused", "{o}");
            assert!(ips.insert(o["ip"].as_str().expect("ip").to_string()), "{o} twice");
        }
    }
    assert_eq!(ips.len(), 4);
    // `--metadata` describes an observations file: without `--out` it is a usage error.
    let alone = exhunt().args(["scan", "192.0.2.1", "--metadata", "m.json"]).output().expect("run");
    assert_eq!(alone.status.code(), Some(3));
}

#[test]
fn host_names_resolve_and_one_that_does_not_is_reported() {
    let port = free_port().to_string();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("obs.jsonl");
    // `localhost` resolves through /etc/hosts; a name under `.invalid` never resolves (RFC 6761).
    let run = exhunt()
        .args(["scan", "localhost", "exhunt-test.invalid", "-p", &port, "--allow-reserved", "--no-progress"])
        .args(["--connect-timeout", "2", "--out"])
        .arg(&out)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("scan");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "a name that gave no address is an error: {stderr}");
    assert!(stderr.contains("target `exhunt-test.invalid` not scanned"), "{stderr}");
    let obs = observations(&out);
    assert!(!obs.is_empty());
    for o in &obs {
        assert_eq!((o["name"].as_str(), o["status"].as_str()), (Some("localhost"), Some("refused")), "{o}");
        assert!(o["ip"].as_str().expect("ip").parse::<std::net::IpAddr>().expect("ip").is_loopback(), "{o}");
    }
    assert!(obs.iter().any(|o| o["ip"] == "127.0.0.1"));
    let meta = read_json(&dir.path().join("metadata.json"));
    let unresolved = meta["targets"]["unresolved"].as_object().expect("unresolved");
    assert_eq!(unresolved.keys().collect::<Vec<_>>(), ["exhunt-test.invalid"]);
    assert_eq!(meta["targets"]["space"], obs.len() as u64);

    // The blocklist applies to a name's addresses as to addresses given directly: blocked, nothing sent.
    let run = exhunt().args(["scan", "localhost", "-p", &port, "--no-progress"]).output().expect("scan");
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let text = String::from_utf8(run.stdout).expect("utf-8");
    assert!(!text.is_empty());
    for line in text.lines() {
        let o: Value = serde_json::from_str(line).expect("observation");
        assert_eq!((o["data"]["name"].as_str(), o["data"]["status"].as_str()), (Some("localhost"), Some("blocked")));
    }

    // Only names, none resolving: nothing to scan, a usage error.
    let run = exhunt().args(["scan", "exhunt-test.invalid", "--no-progress"]).output().expect("scan");
    assert_eq!(run.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&run.stderr).contains("no host name resolved"));
}
