//! The campaign store on both backends: every test runs on a fresh SQLite file and on a fresh database of a
//! throw-away PostgreSQL cluster (`exhunt_testkit::postgres`), and must give the same answers on both.
//!
//! The observations are built here as `exhunt scan` writes them (observation lines, each followed by its finding
//! lines), for hosts whose story across runs is known: patched, patched with the back door left, unreachable,
//! not covered, moved away.

use exhunt_model::{Build, Class, Fingerprint, Observation, Probe, ScanStatus, WebShellHit};
use exhunt_store::{Kind, Store, TicketFilter};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DAY: i64 = 86_400;
const T0: i64 = 1_615_000_000; // 2021-03-06

/// One fresh store per backend.
async fn stores(dir: &Path) -> Vec<(&'static str, Store)> {
    let sqlite = Store::open(&dir.join("campaign.sqlite").display().to_string()).await.expect("sqlite");
    let pg = Store::open(&exhunt_testkit::postgres::Cluster::get().database()).await.expect("postgres");
    vec![("sqlite", sqlite), ("postgres", pg)]
}

fn rfc3339(t: i64) -> String {
    exhunt_model::Timestamp::new(time_at(t)).to_string()
}

fn time_at(t: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t).expect("time")
}

/// What a host is in one run.
#[derive(Clone, Copy)]
enum Host<'a> {
    /// Exchange at this build; web shells at these paths (the web-shell check ran).
    Exchange(&'a str, &'a [&'a str]),
    /// Exchange, probed without `--webshells`.
    ExchangeNoShellCheck(&'a str),
    Timeout,
    NotExchange,
}

fn observation(ip: &str, seq: u64, t: i64, host: Host<'_>) -> Observation {
    let kb = exhunt_kb_catalog();
    let mut o = Observation {
        seq: Some(seq),
        ip: ip.parse().expect("ip"),
        port: 443,
        name: None,
        status: ScanStatus::Success,
        phase: None,
        error: None,
        started: rfc3339(t),
        elapsed_ms: 120,
        tls: None,
        probes: vec![Probe {
            name: "logon".into(),
            path: "/owa/auth/logon.aspx".into(),
            status: Some(200),
            ..Probe::default()
        }],
        fingerprint: None,
    };
    let exchange = |build: &str, shells: &[&str]| {
        let b = Build::parse(build).expect("build");
        let verdict = kb.verdict(&b);
        let chains = exhunt_model::Chain::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), verdict.chain(*c).map(|v| v.status).expect("chain")))
            .collect();
        Fingerprint {
            class: Class::Exchange,
            build: Some(b),
            build_source: Some(exhunt_model::BuildSource::XOwaVersion),
            product: verdict.product.clone(),
            chains,
            verdict: Some(verdict),
            feserver: None,
            ntlm: None,
            webshells: shells
                .iter()
                .map(|p| WebShellHit { path: (*p).into(), confidence: "suspected".into() })
                .collect(),
        }
    };
    match host {
        Host::Exchange(build, shells) => {
            o.probes.push(Probe {
                name: "baseline".into(),
                path: "/aspnet_client/x1.aspx".into(),
                status: Some(404),
                ..Probe::default()
            });
            o.fingerprint = Some(exchange(build, shells));
        }
        Host::ExchangeNoShellCheck(build) => o.fingerprint = Some(exchange(build, &[])),
        Host::Timeout => {
            o.status = ScanStatus::Timeout;
            o.phase = Some("connect".into());
            o.probes.clear();
        }
        Host::NotExchange => {
            o.fingerprint = Some(Fingerprint {
                class: Class::NotExchange,
                build: None,
                build_source: None,
                product: None,
                chains: BTreeMap::new(),
                verdict: None,
                feserver: None,
                ntlm: None,
                webshells: Vec::new(),
            })
        }
    }
    o
}

fn exhunt_kb_catalog() -> &'static exhunt_kb::Catalog {
    static KB: std::sync::OnceLock<exhunt_kb::Kb> = std::sync::OnceLock::new();
    &KB.get_or_init(exhunt_kb::Kb::builtin).catalog
}

/// A scan file as `exhunt scan` writes it: each observation followed by its findings (a stand-in line here; the
/// binary's tests ingest real scans of the lab).
fn write_scan(path: &Path, obs: &[Observation]) -> PathBuf {
    let mut text = String::new();
    for o in obs {
        text.push_str(&exhunt_report::to_line(o));
        // `exhunt scan` follows an observation with its findings: the store reads observations only.
        text.push_str("{\"type\":\"finding\",\"v\":1,\"data\":{\"rule\":\"EXH-SCAN-0001\"}}\n");
    }
    std::fs::write(path, text).expect("write");
    path.to_path_buf()
}

const VULNERABLE: &str = "15.1.2176.2"; // Exchange 2016 CU19 before the March 2021 update: all three chains
const PATCHED: &str = "15.1.2507.16"; // CU23 Nov22SU: fixed for all three chains

/// Four runs a week apart over five hosts:
/// .1 patched in run 2, its shell left behind (the back-door ticket stays open);
/// .2 vulnerable, unreachable in run 2, not covered in run 3, patched in run 4;
/// .3 vulnerable, then no Exchange any more (answered: closed);
/// .4 vulnerable, scanned without the shell check, then patched;
/// .5 patched from the start (no ticket ever).
fn runs(dir: &Path) -> Vec<PathBuf> {
    let shell: &[&str] = &["/aspnet_client/shell.aspx"];
    let t = |week: i64, i: i64| T0 + week * 7 * DAY + i * 10;
    vec![
        write_scan(
            &dir.join("run1.jsonl"),
            &[
                observation("192.0.2.1", 0, t(0, 1), Host::Exchange(VULNERABLE, shell)),
                observation("192.0.2.2", 1, t(0, 2), Host::Exchange(VULNERABLE, &[])),
                observation("192.0.2.3", 2, t(0, 3), Host::Exchange(VULNERABLE, &[])),
                observation("192.0.2.4", 3, t(0, 4), Host::ExchangeNoShellCheck(VULNERABLE)),
                observation("192.0.2.5", 4, t(0, 5), Host::Exchange(PATCHED, &[])),
            ],
        ),
        write_scan(
            &dir.join("run2.jsonl"),
            &[
                observation("192.0.2.1", 0, t(1, 1), Host::Exchange(PATCHED, shell)),
                observation("192.0.2.2", 1, t(1, 2), Host::Timeout),
                observation("192.0.2.3", 2, t(1, 3), Host::NotExchange),
                observation("192.0.2.4", 3, t(1, 4), Host::ExchangeNoShellCheck(PATCHED)),
                observation("192.0.2.5", 4, t(1, 5), Host::Exchange(PATCHED, &[])),
            ],
        ),
        write_scan(
            &dir.join("run3.jsonl"),
            &[
                observation("192.0.2.1", 0, t(2, 1), Host::Exchange(PATCHED, shell)),
                observation("192.0.2.5", 1, t(2, 5), Host::Exchange(PATCHED, &[])),
            ],
        ),
        write_scan(
            &dir.join("run4.jsonl"),
            &[
                observation("192.0.2.1", 0, t(3, 1), Host::Exchange(PATCHED, shell)),
                observation("192.0.2.2", 1, t(3, 2), Host::Exchange(PATCHED, &[])),
            ],
        ),
    ]
}

/// Every ticket, as (id, state, detail).
async fn tickets(s: &Store) -> Vec<(String, String, String)> {
    let now = T0 + 60 * DAY;
    s.tickets(&TicketFilter::default(), now)
        .await
        .expect("tickets")
        .into_iter()
        .map(|t| (t.id, t.state, t.detail))
        .collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

#[test]
fn tickets_close_only_on_a_covered_answered_absence() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = runs(dir.path());
    rt().block_on(async {
        for (backend, s) in stores(dir.path()).await {
            for f in &files {
                let r = s.ingest(f, None, T0 + 30 * DAY).await.expect("ingest");
                assert_eq!(r.kind, Some(Kind::Scan), "{backend}");
                assert!(r.errors.is_empty(), "{backend}: {:?}", r.errors);
            }
            let mut want = vec![(
                "192.0.2.1:443/backdoor#0".to_string(),
                "open".to_string(),
                "/aspnet_client/shell.aspx".to_string(),
            )];
            for host in 1..=4 {
                for chain in ["proxylogon", "proxynotshell", "proxyshell"] {
                    want.push((format!("192.0.2.{host}:443/{chain}#0"), "closed".into(), VULNERABLE.into()));
                }
            }
            want.sort();
            let mut got = tickets(&s).await;
            got.sort();
            assert_eq!(got, want, "{backend}");
            // .2 closed by run 4 (the first run that reached it after it timed out), not by runs 2 and 3.
            let status = s.status(T0 + 60 * DAY).await.expect("status");
            assert_eq!(status.runs.len(), 4, "{backend}");
            let closed: Vec<u64> = status.runs.iter().map(|r| r.closed).collect();
            assert_eq!(closed, [0, 9, 0, 3], "{backend}: closed per run (three chains a host)");
            let share: Vec<f64> = status.runs.iter().map(|r| r.vulnerable_share).collect();
            assert_eq!(share, [0.8, 0.0, 0.0, 0.0], "{backend}: the patch curve");
            let exchange: Vec<u64> = status.runs.iter().map(|r| r.exchange).collect();
            assert_eq!(exchange, [5, 3, 2, 2], "{backend}");
            let backdoor: Vec<u64> = status.runs.iter().map(|r| r.backdoor).collect();
            assert_eq!(backdoor, [1, 1, 1, 1], "{backend}");
            assert_eq!(status.open.get("backdoor"), Some(&1), "{backend}");
            assert_eq!(status.open.get("proxylogon"), None, "{backend}");
            assert_eq!(status.hosts, 5, "{backend}");
        }
    });
}

#[test]
fn the_same_file_twice_or_an_observation_in_two_files_changes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = runs(dir.path());
    // A second file holding run 1's first two observations again and one new host.
    let text = std::fs::read_to_string(&files[0]).expect("read");
    let mut lines: Vec<&str> = text.lines().filter(|l| l.contains("\"observation\"")).take(2).collect();
    let extra = exhunt_report::to_line(&observation("192.0.2.9", 9, T0 + 99, Host::Exchange(VULNERABLE, &[])));
    lines.push(extra.trim_end());
    let again = dir.path().join("again.jsonl");
    std::fs::write(&again, lines.join("\n") + "\n").expect("write");
    rt().block_on(async {
        for (backend, s) in stores(dir.path()).await {
            let first = s.ingest(&files[0], None, T0).await.expect("ingest");
            assert_eq!((first.records, first.new, first.already), (5, 5, false), "{backend}");
            let before = tickets(&s).await;
            let twice = s.ingest(&files[0], None, T0).await.expect("ingest");
            assert!(twice.already && twice.records == 0, "{backend}: {twice:?}");
            let overlap = s.ingest(&again, None, T0).await.expect("ingest");
            assert_eq!((overlap.records, overlap.new), (3, 1), "{backend}");
            let after = tickets(&s).await;
            assert_eq!(after.len(), before.len() + 3, "{backend}: the new host's three chains");
            assert!(before.iter().all(|t| after.contains(t)), "{backend}");
            let status = s.status(T0).await.expect("status");
            assert_eq!(status.runs.iter().map(|r| r.observations).sum::<u64>(), 6, "{backend}");
        }
    });
}

#[test]
fn files_in_any_order_give_the_tickets_of_time_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = runs(dir.path());
    rt().block_on(async {
        let mut results = Vec::new();
        for order in [[0, 1, 2, 3], [3, 1, 0, 2]] {
            let sub = tempfile::tempdir_in(dir.path()).expect("tmp");
            for (backend, s) in stores(sub.path()).await {
                for i in order {
                    s.ingest(&files[i], None, T0).await.expect("ingest");
                }
                let events = s.events().await.expect("events");
                results.push((backend, order, tickets(&s).await, events));
            }
        }
        let (_, _, t0, e0) = &results[0];
        for (backend, order, t, e) in &results[1..] {
            assert_eq!(t, t0, "{backend} {order:?}: tickets");
            assert_eq!(e, e0, "{backend} {order:?}: events");
        }
    });
}

#[test]
fn concurrent_ingests_into_postgres_equal_one_after_another() {
    // Two scanner shards and a repeat of one of them, ingested at once by three stores (three pools: as three
    // processes would), against the same files one after another.
    let dir = tempfile::tempdir().expect("tmp");
    let shard = |name: &str, base: u8, n: u64, week: i64| {
        let obs: Vec<Observation> = (0..n)
            .map(|i| {
                let ip = format!("198.51.{base}.{}", i % 250 + 1);
                let host = if (i + week as u64).is_multiple_of(3) {
                    Host::Exchange(PATCHED, &[])
                } else {
                    Host::Exchange(VULNERABLE, &[])
                };
                observation(&ip, i, T0 + week * 7 * DAY + i as i64, host)
            })
            .collect();
        write_scan(&dir.path().join(name), &obs)
    };
    let files = [shard("a1.jsonl", 100, 1_200, 0), shard("b1.jsonl", 101, 1_200, 0), shard("a2.jsonl", 100, 1_200, 1)];
    rt().block_on(async {
        let cluster = exhunt_testkit::postgres::Cluster::get();
        let together = cluster.database();
        let mut tasks = Vec::new();
        for f in files.iter().chain([&files[0]]) {
            let (db, f) = (together.clone(), f.clone());
            tasks.push(tokio::spawn(async move {
                // Small batches, so that the three ingests interleave transaction by transaction.
                let s = Store::open(&db).await.expect("open").with_batch(100);
                s.ingest(&f, None, T0).await.expect("ingest")
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let one_by_one = Store::open(&cluster.database()).await.expect("open");
        for f in &files {
            one_by_one.ingest(f, None, T0).await.expect("ingest");
        }
        let s = Store::open(&together).await.expect("open");
        assert_eq!(tickets(&s).await, tickets(&one_by_one).await);
        assert_eq!(s.events().await.expect("events"), one_by_one.events().await.expect("events"));
        let a = s.status(T0).await.expect("status");
        let b = one_by_one.status(T0).await.expect("status");
        assert_eq!(a, b);
        // 250 hosts per shard, each seen several times a run (more than one batch per file).
        assert_eq!(a.runs.iter().map(|r| r.observations).sum::<u64>(), 3_600);
        assert_eq!(a.hosts, 500);
    });
}

#[test]
fn a_broken_line_is_an_error_with_its_line_and_the_rest_goes_in() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = runs(dir.path());
    let text = std::fs::read_to_string(&files[0]).expect("read");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.insert(1, "{\"type\":\"observation\",\"v\":1,\"data\":{\"ip\":\"not an ip\"}}".into());
    lines.insert(3, "\u{1b}[31mgarbage".into());
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(&broken, lines.join("\n") + "\n").expect("write");
    let unknown = dir.path().join("unknown.txt");
    std::fs::write(&unknown, "hello\nworld\n").expect("write");
    rt().block_on(async {
        for (backend, s) in stores(dir.path()).await {
            let r = s.ingest(&broken, None, T0).await.expect("ingest");
            assert_eq!(r.records, 5, "{backend}");
            let at: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
            assert_eq!(at, [2, 4], "{backend}: {:?}", r.errors);
            let before = tickets(&s).await;
            let err = s.ingest(&unknown, None, T0).await.expect_err("unknown kind");
            assert!(err.to_string().contains("--kind"), "{backend}: {err}");
            assert_eq!(tickets(&s).await, before, "{backend}");
        }
    });
}

#[test]
fn a_false_positive_stops_counting_until_it_expires() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = runs(dir.path());
    rt().block_on(async {
        for (backend, s) in stores(dir.path()).await {
            s.ingest(&files[0], None, T0).await.expect("ingest");
            let t = s
                .mark_false_positive("192.0.2.2:443/proxylogon#0", T0 + 20 * DAY, "our own honeypot", T0 + DAY)
                .await
                .expect("fp");
            assert_eq!(t.state, "false-positive", "{backend}");
            assert_eq!(t.false_positive_reason.as_deref(), Some("our own honeypot"));
            let later = s
                .tickets(&TicketFilter { state: Some("open".into()), ..TicketFilter::default() }, T0 + 21 * DAY)
                .await
                .expect("tickets");
            assert!(later.iter().any(|t| t.id == "192.0.2.2:443/proxylogon#0"), "{backend}: expired, it counts again");
            let err =
                s.mark_false_positive("192.0.2.5:443/proxylogon#0", T0, "x", T0).await.expect_err("no such ticket");
            assert!(err.to_string().contains("no ticket"), "{backend}: {err}");
            assert!(s.mark_false_positive("nonsense", T0, "x", T0).await.is_err());
        }
    });
}
