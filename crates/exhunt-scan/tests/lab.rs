//! The scanner against the loopback lab, started in-process on 127.x addresses. No other traffic.

use exhunt_kb::Kb;
use exhunt_lab::serve::{self, Bind, Hostile, Kind, Range, ServeOptions};
use exhunt_scan::http::{Limits, tls_config};
use exhunt_scan::ladder::LadderConfig;
use exhunt_scan::rate::HostLimiter;
use exhunt_scan::scan::{Done, ScanOptions, from_line, open_output, run};
use exhunt_scan::{Blocklist, Observation, TargetSet};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

/// Short read deadlines keep the slowloris hosts cheap; connect and TLS keep the default 5 s, because three labs
/// and three scans share the test machine's cores here and a starved handshake must not read as a timeout
/// (docs/scanning.md, "Timeouts under load").
fn limits() -> Limits {
    Limits {
        connect: Duration::from_secs(5),
        tls: Duration::from_secs(5),
        headers: Duration::from_secs(2),
        body: Duration::from_secs(2),
        ..Limits::default()
    }
}

fn options(seed: u64) -> ScanOptions {
    ScanOptions {
        seed,
        shard: (0, 1),
        rate: 0,
        concurrency: 64,
        ladder: LadderConfig {
            limits: limits(),
            tls: tls_config(),
            per_host: Arc::new(HostLimiter::unlimited()),
            webshells: false,
            seed,
        },
    }
}

/// A /24 of loopback unlikely to be used by another test run at the same time.
fn net(salt: u32) -> String {
    let n = (std::process::id().wrapping_mul(31).wrapping_add(salt)) % 200 + 20;
    format!("127.{}.{}.0/24", 100 + salt % 50, n)
}

async fn scan_lab(range: &str, port: u16, seed: u64, webshells: bool) -> (Vec<Observation>, tempfile::TempDir) {
    let mut targets = TargetSet::new(vec![port]);
    targets.add(range).expect("range");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("obs.jsonl");
    let (file, done, before) = open_output(&path, false).expect("open");
    assert_eq!(before, exhunt_scan::scan::Tally::default());
    let mut opts = options(seed);
    opts.ladder.webshells = webshells;
    let summary = run(
        Arc::new(targets),
        Arc::new(Blocklist::new(true)),
        opts,
        Arc::new(Kb::builtin().catalog),
        Box::new(file),
        path.clone(),
        done,
        Arc::new(|_| {}),
    )
    .await
    .expect("scan");
    assert_eq!(summary.scanned, 256);
    let text = std::fs::read_to_string(&path).expect("read");
    let obs = text.lines().map(|l| from_line(l).expect("line").expect("observation")).collect();
    (obs, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanning_the_lab_gives_its_truth_exactly() {
    let range = net(1);
    let opts =
        ServeOptions { ranges: vec![Range::parse(&range).expect("r")], port: 0, seed: 5, bind: Bind::PerAddress };
    let lab = serve::start(opts, Kb::builtin().catalog).await.expect("lab");
    let (obs, _dir) = scan_lab(&range, lab.port, 5, true).await;
    let by_ip: BTreeMap<String, &Observation> = obs.iter().map(|o| (o.ip.to_string(), o)).collect();
    let mut kinds = BTreeMap::new();
    let mut exchange = 0;
    for a in lab.addrs() {
        let truth = lab.truth_of(a);
        *kinds.entry(format!("{:?}", truth.host.kind)).or_insert(0) += 1;
        let o = by_ip.get(&a.to_string()).unwrap_or_else(|| panic!("no observation for {a}"));
        assert_eq!(o.status.as_str(), truth.expect.status, "{a}: {:?} {:?}", truth.host, o);
        let fp = o.fingerprint.as_ref();
        let class = fp.map(|f| serde_json::to_value(f.class).expect("class").as_str().expect("s").to_string());
        assert_eq!(class.as_deref(), truth.expect.class, "{a}: {:?}", truth.host);
        if truth.expect.class == Some("exchange") {
            exchange += 1;
            let f = fp.expect("fingerprint");
            assert_eq!(f.build.map(|b| b.to_string()), truth.expect.build, "{a}");
            let src = f.build_source.map(|s| serde_json::to_value(s).expect("s").as_str().expect("s").to_string());
            assert_eq!(src.as_deref(), truth.expect.build_source, "{a}");
            let chains: BTreeMap<&str, _> = f.chains.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            assert_eq!(chains, truth.expect.chains, "{a}");
            assert_eq!(f.feserver, truth.host.feserver, "{a}");
            let names = f.ntlm.as_ref().map(|n| (n.netbios_domain.clone(), n.dns_computer.clone()));
            let want = truth.host.ntlm.as_ref().map(|n| (Some(n.netbios_domain.clone()), Some(n.dns_computer.clone())));
            assert_eq!(names, want, "{a}");
            let cert = o.tls.as_ref().and_then(|t| t.cert.as_ref()).and_then(|c| c.subject_cn.clone());
            assert_eq!(cert.as_deref(), Some(truth.host.hostname.as_str()), "{a}");
            let mut shells: Vec<&str> = f.webshells.iter().map(|w| w.path.as_str()).collect();
            let mut want: Vec<&str> = truth.expect.webshells.iter().map(String::as_str).collect();
            shells.sort_unstable();
            want.sort_unstable();
            assert_eq!(shells, want, "{a}: soft-404 {:?}", truth.host.soft404);
        }
    }
    assert!(exchange > 100, "{kinds:?}");
    assert!(kinds.len() >= 5, "{kinds:?}");
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_behaviour_ends_typed_within_its_deadline() {
    let range = net(2);
    let r = Range::parse(&range).expect("r");
    let catalog = Kb::builtin().catalog;
    let opts = ServeOptions { ranges: vec![r], port: 0, seed: 11, bind: Bind::PerAddress };
    let lab = serve::start(opts, catalog).await.expect("lab");
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let (obs, _dir) = scan_lab(&range, lab.port, 11, false).await;
    let l = limits();
    let budget = (l.connect + l.tls + l.headers + l.body).as_millis() as u64 * 7 + 1000;
    for o in &obs {
        let Some(a) = (match o.ip {
            std::net::IpAddr::V4(a) => Some(a),
            _ => None,
        }) else {
            continue;
        };
        let host = lab.host(a);
        if host.kind == Kind::Hostile || host.kind == Kind::Closed {
            let truth = lab.truth_of(a);
            assert_eq!(o.status.as_str(), truth.expect.status, "{a} {:?}", host.hostile);
            assert!(o.elapsed_ms <= budget, "{a} {:?} took {} ms", host.hostile, o.elapsed_ms);
            if host.hostile == Some(Hostile::Slowloris) {
                assert_eq!(o.phase.as_deref(), Some("headers"));
            }
            if matches!(host.hostile, Some(Hostile::GzipBomb | Hostile::EndlessBody)) {
                assert!(o.probes.iter().all(|p| p.truncated && p.body_len <= 256 * 1024), "{a}");
            }
            *seen.entry(format!("{:?}", host.hostile.map_or("closed".into(), |h| format!("{h:?}")))).or_default() += 1;
        }
    }
    assert!(seen.len() >= 6, "hostile kinds covered: {seen:?}");
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_an_interrupted_scan_loses_none_and_repeats_none() {
    let range = net(3);
    let r = Range::parse(&range).expect("r");
    let opts = ServeOptions { ranges: vec![r], port: 0, seed: 3, bind: Bind::PerAddress };
    let lab = serve::start(opts, Kb::builtin().catalog).await.expect("lab");
    let (_, dir) = scan_lab(&range, lab.port, 3, false).await;
    let path = dir.path().join("obs.jsonl");
    // As after a kill -9: keep the first 100 lines and half of the 101st.
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let mut cut = lines[..100].join("\n");
    cut.push('\n');
    cut.push_str(&lines[100][..lines[100].len() / 2]);
    std::fs::write(&path, cut).expect("write");
    let (file, done, before) = open_output(&path, true).expect("resume");
    assert_eq!(done.count(), 100);
    // The count a resumed scan goes on from is what the (cut) file holds: its 100 whole lines, the torn one cut.
    assert_eq!(before.observations, 100);
    assert_eq!(before.statuses.values().sum::<u64>(), 100);
    assert_eq!(before.bad_lines, 0);
    let mut targets = TargetSet::new(vec![lab.port]);
    targets.add(&range).expect("range");
    let summary = run(
        Arc::new(targets),
        Arc::new(Blocklist::new(true)),
        options(3),
        Arc::new(Kb::builtin().catalog),
        Box::new(file),
        path.clone(),
        done,
        Arc::new(|_| {}),
    )
    .await
    .expect("resume");
    assert_eq!(summary.skipped_done, 100);
    assert_eq!(summary.scanned, 156);
    let text = std::fs::read_to_string(&path).expect("read");
    let mut seqs: Vec<u64> =
        text.lines().map(|l| from_line(l).expect("whole line").expect("obs").seq.expect("seq")).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..256).collect::<Vec<_>>());
    let _ = Done::default();
    lab.shutdown().await;
}

#[test]
fn the_lab_refuses_addresses_outside_loopback() {
    assert!(Range::parse("10.0.0.0/24").is_err());
    assert!(Range::parse("127.0.0.0/7").is_err());
    assert!(Range::parse("127.1.0.0/16").is_ok());
    let _ = Ipv4Addr::LOCALHOST;
}
