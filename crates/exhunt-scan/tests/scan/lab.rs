//! The scanner against the loopback lab, started in-process on 127.x addresses. No other traffic.

use exhunt_kb::Kb;
use exhunt_lab::serve::{self, Bind, Hostile, Kind, ServeOptions, parse_range};
use exhunt_model::Observation;
use exhunt_scan::http::Limits;
use exhunt_scan::ladder::LadderConfig;
use exhunt_scan::rate::HostLimiter;
use exhunt_scan::scan::{Done, ScanOptions, from_line, open_output, run};
use exhunt_scan::{Blocklist, TargetSet};
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
        ladder: {
            let mut c = LadderConfig::new(&Kb::builtin().scan, limits(), seed);
            c.per_host = Arc::new(HostLimiter::unlimited());
            c
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
        Arc::new(Kb::builtin()),
        Box::new(file),
        path.clone(),
        done,
        Arc::new(|_| {}),
    )
    .await
    .expect("scan");
    assert_eq!(summary.scanned, 256);
    let text = std::fs::read_to_string(&path).expect("read");
    // Each observation line is followed by its findings (the scan's verdicts as `finding` records), nothing else.
    let mut obs: Vec<Observation> = Vec::new();
    let mut finding_lines = 0;
    for l in text.lines() {
        match from_line(l).expect("line") {
            Some(o) => obs.push(o),
            None => {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                assert_eq!(v["type"], "finding", "{l}");
                finding_lines += 1;
            }
        }
    }
    let want: usize = obs.iter().map(|o| exhunt_detect::scan::findings(o).len()).sum();
    assert_eq!(finding_lines, want, "finding lines");
    (obs, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanning_the_lab_gives_its_truth_exactly() {
    let range = net(1);
    let opts = ServeOptions {
        ranges: vec![parse_range(&range).expect("r")],
        port: 0,
        seed: 5,
        epoch: 0,
        bind: Bind::PerAddress,
    };
    let lab = serve::start(opts, Kb::builtin()).await.expect("lab");
    let (obs, _dir) = scan_lab(&range, lab.port, 5, true).await;
    let by_ip: BTreeMap<String, &Observation> = obs.iter().map(|o| (o.ip.to_string(), o)).collect();
    let mut kinds = BTreeMap::new();
    let mut exchange = 0;
    for a in lab.addrs() {
        let truth = lab.truth_of(a);
        *kinds.entry(format!("{:?}", truth.host.kind)).or_insert(0) += 1;
        let o = by_ip.get(&a.to_string()).copied();
        let differences = truth.differences(o, true);
        assert!(differences.is_empty(), "{a}: {differences:?}; host {:?}", truth.host);
        if truth.expect.class == Some("exchange") {
            exchange += 1;
        }
    }
    assert!(exchange > 100, "{kinds:?}");
    assert!(kinds.len() >= 5, "{kinds:?}");
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_behaviour_ends_typed_within_its_deadline() {
    let range = net(2);
    let r = parse_range(&range).expect("r");
    let opts = ServeOptions { ranges: vec![r], port: 0, seed: 11, epoch: 0, bind: Bind::PerAddress };
    let lab = serve::start(opts, Kb::builtin()).await.expect("lab");
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
    let r = parse_range(&range).expect("r");
    let opts = ServeOptions { ranges: vec![r], port: 0, seed: 3, epoch: 0, bind: Bind::PerAddress };
    let lab = serve::start(opts, Kb::builtin()).await.expect("lab");
    let (_, dir) = scan_lab(&range, lab.port, 3, false).await;
    let path = dir.path().join("obs.jsonl");
    // As after a kill -9: keep the first 100 observation lines and half of the line after the 100th (a finding of
    // it or the next observation), so that the torn line and any findings of the 100th still to come are lost.
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let hundredth = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| from_line(l).expect("line").is_some())
        .nth(99)
        .map(|(i, _)| i)
        .expect("100 observations");
    let mut cut = lines[..=hundredth].join("\n");
    cut.push('\n');
    let next = lines[hundredth + 1];
    cut.push_str(&next[..next.len() / 2]);
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
        Arc::new(Kb::builtin()),
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
    let obs: Vec<Observation> = text.lines().filter_map(|l| from_line(l).expect("whole line")).collect();
    let mut seqs: Vec<u64> = obs.iter().map(|o| o.seq.expect("seq")).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..256).collect::<Vec<_>>());
    // Every observation's findings once: the ones cut with the torn line written again, none twice.
    let mut want: Vec<String> = obs.iter().flat_map(exhunt_detect::scan::findings).map(|f| f.id.clone()).collect();
    let mut got: Vec<String> = text
        .lines()
        .filter(|l| from_line(l).expect("line").is_none())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["data"]["id"].as_str().expect("id").into())
        .collect();
    want.sort();
    got.sort();
    assert!(!want.is_empty(), "the lab has vulnerable hosts");
    assert_eq!(got, want);
    let _ = Done::default();
    lab.shutdown().await;
}

#[test]
fn the_lab_refuses_addresses_outside_loopback() {
    assert!(parse_range("10.0.0.0/24").is_err());
    assert!(parse_range("127.0.0.0/7").is_err());
    assert!(parse_range("127.1.0.0/16").is_ok());
    let _ = Ipv4Addr::LOCALHOST;
}
