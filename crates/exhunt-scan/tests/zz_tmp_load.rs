// TEMPORARY experiment (deleted after the measurement): in-process lab + scanner under load.
use exhunt_kb::Kb;
use exhunt_lab::serve::{self, Bind, Range, ServeOptions};
use exhunt_scan::http::{Limits, tls_config};
use exhunt_scan::ladder::LadderConfig;
use exhunt_scan::scan::{ScanOptions, from_line, open_output, run};
use exhunt_scan::{Blocklist, TargetSet};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn load_1024_hosts_concurrency_1000() {
    let range = "127.89.0.0/22";
    let opts = ServeOptions { ranges: vec![Range::parse(range).expect("r")], port: 0, seed: 1, bind: Bind::PerAddress };
    let lab = serve::start(opts, Kb::builtin().catalog).await.expect("lab");
    let mut targets = TargetSet::new(vec![lab.port]);
    targets.add(range).expect("range");
    let path = std::path::PathBuf::from("/tmp/exh-exp/obs.jsonl");
    let _ = std::fs::remove_file(&path);
    let (file, done) = open_output(&path, false).expect("open");
    let so = ScanOptions { seed: 1, shard: (0, 1), rate: 0, concurrency: 1000, ladder: LadderConfig { limits: Limits::default(), tls: tls_config(), per_host_gap: Duration::ZERO, webshells: false, seed: 1 } };
    let s = run(Arc::new(targets), Arc::new(Blocklist::new(true)), so, Arc::new(Kb::builtin().catalog), Box::new(file), path.clone(), done, Arc::new(|_| {})).await.expect("scan");
    let mut by = std::collections::BTreeMap::new();
    for l in std::fs::read_to_string(&path).expect("r").lines() {
        let o = from_line(l).expect("l").expect("o");
        if o.status == exhunt_scan::ScanStatus::Timeout {
            *by.entry(format!("{:?} {:?}", o.phase, o.error)).or_insert(0) += 1;
        }
    }
    eprintln!("{:?} in {:.1}s; timeouts {by:?}", s.by_status, s.elapsed_s);
    lab.shutdown().await;
}
