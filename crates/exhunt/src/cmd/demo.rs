//! `exhunt demo`: the main job on built-in defaults, loopback only. A lab server's evidence is written and hunted
//! (HTML report and timeline beside it); then a lab of 256 simulated HTTPS hosts is started on loopback, scanned
//! with web-shell probing, and compared with its own truth.

use crate::exit::Code;
use exhunt_kb::Kb;
use std::path::Path;

/// `exhunt demo`: lab evidence, then a hunt of it with an HTML report and a timeline beside it; then a scan of a
/// small loopback lab ([`demo_scan`]).
pub fn run(dir: Option<std::path::PathBuf>, scenario: &str, seed: u64, size: &str) -> anyhow::Result<Code> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("exhunt-demo-{}", std::process::id())),
    };
    let evidence = dir.join("evidence");
    super::lab::run(crate::cli::LabCommand::Evidence {
        dir: evidence.clone(),
        seed,
        size: size.to_string(),
        scenario: scenario.to_string(),
        host: None,
    })?;
    let args = crate::cli::HuntArgs {
        paths: vec![evidence],
        timeline: Some(dir.join("timeline.csv")),
        html: Some(dir.join("report.html")),
        host: None,
        since: "2021-01-01".into(),
        until: None,
        baseline: Vec::new(),
        drive: None,
        sigma: Vec::new(),
        no_progress: false,
        kb: crate::cli::KbArgs { kb: None },
        out: crate::cli::OutputArgs { format: "table".into(), json: false },
    };
    let code = super::hunt::run(args)?;
    let scan_dir = dir.join("scan");
    let (_, port) = demo_scan(&scan_dir, seed, 0, 0)?;
    #[cfg(feature = "campaign")]
    demo_campaign(&scan_dir, seed, port)?;
    #[cfg(not(feature = "campaign"))]
    let _ = port;
    eprintln!(
        "exhunt demo: open {} in a browser; the lab's ground truth is in {}",
        dir.join("report.html").display(),
        dir.join("evidence/truth.jsonl").display()
    );
    // The demo worked when the hunt ran: findings are its point, not a failure.
    Ok(if code == Code::Findings { Code::Clean } else { code })
}

/// The loopback range of the demo's scan lab (256 simulated hosts).
const DEMO_SCAN_RANGE: &str = "127.203.0.0/24";

/// The scan half of the demo: a lab of 256 simulated HTTPS hosts on loopback, started here and stopped after,
/// scanned with web-shell probing (only the requests of `docs/scanning.md`, only to the lab); observations,
/// `metadata.json` and the lab's truth in `dir`, and how many addresses differ from the truth.
fn demo_scan(dir: &Path, seed: u64, epoch: u32, port: u16) -> anyhow::Result<(std::path::PathBuf, u16)> {
    use exhunt_lab::serve::{Bind, ServeOptions, parse_range, start};
    std::fs::create_dir_all(dir)?;
    let range = parse_range(DEMO_SCAN_RANGE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rt = super::runtime()?;
    let opts = ServeOptions { ranges: vec![range], port, seed, epoch, bind: Bind::PerAddress };
    let lab = rt.block_on(start(opts, Kb::builtin())).map_err(|e| anyhow::anyhow!("the scan lab: {e}"))?;
    let name = |what: &str| if epoch == 0 { format!("{what}.jsonl") } else { format!("{what}-epoch{epoch}.jsonl") };
    let truth = dir.join(name("truth"));
    lab.write_truth(&mut std::fs::File::create(&truth)?)?;
    let out = dir.join(name("observations"));
    let meta = dir.join(if epoch == 0 { "metadata.json".to_string() } else { format!("epoch{epoch}.metadata.json") });
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&meta);
    // The lab's tasks run on its runtime's workers while the scan runs on its own.
    let args = crate::cli::ScanArgs {
        targets: vec![DEMO_SCAN_RANGE.to_string()],
        ports: lab.port.to_string(),
        targets_file: Vec::new(),
        exclude: Vec::new(),
        allow_reserved: true,
        rate: 0,
        per_host_rate: 0,
        concurrency: 1000,
        shard: "0/1".into(),
        seed,
        out: Some(out.clone()),
        resume: false,
        metadata: Some(meta),
        webshells: true,
        format: "jsonl".into(),
        no_progress: true,
        connect_timeout: 5.0,
        tls_timeout: 5.0,
        read_timeout: 5.0,
        kb: crate::cli::KbArgs { kb: None },
    };
    let lab_port = lab.port;
    let scanned = super::scan::scan(args);
    let differ = scanned.as_ref().ok().map(|_| differ_from_truth(&out, &lab)).transpose();
    rt.block_on(lab.shutdown());
    scanned?;
    let differ = differ?.unwrap_or_default();
    eprintln!(
        "exhunt demo: scanned the 256 lab hosts on loopback (epoch {epoch}): {differ} differ from the lab's truth \
         (status, class, build); observations in {}",
        out.display()
    );
    Ok((out, lab_port))
}

/// The campaign half of the demo: the first scan into a fresh campaign, then the lab's next epoch (about half the
/// vulnerable hosts patched, some keeping their web shells) scanned and ingested; the status shows the curve move
/// and the tickets that the second scan closed, and the back doors that stay open.
#[cfg(feature = "campaign")]
fn demo_campaign(dir: &Path, seed: u64, port: u16) -> anyhow::Result<()> {
    use crate::cli::{CampaignCommand, DbArgs, OutputArgs};
    let db = dir.join("campaign.sqlite");
    for f in ["campaign.sqlite", "campaign.sqlite-wal", "campaign.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let first = dir.join("observations.jsonl");
    // The same port as the first scan: a ticket is a host (address and port) and a check.
    let (second, _) = demo_scan(dir, seed, 1, port)?;
    let db_args = || DbArgs { db: db.display().to_string() };
    super::campaign::run(CampaignCommand::Ingest {
        db: db_args(),
        kind: None,
        batch: exhunt_store::BATCH,
        files: vec![first, second],
        out: OutputArgs { format: "table".into(), json: false },
    })?;
    super::campaign::run(CampaignCommand::Status { db: db_args(), format: "table".into() })?;
    eprintln!(
        "exhunt demo: the campaign is {}: `exhunt campaign tickets --db {}` lists its tickets",
        db.display(),
        db.display()
    );
    Ok(())
}

/// Addresses of the lab whose observation differs from the lab's own truth ([`exhunt_lab::serve::compare`]:
/// status, class, build and its source, chains, web shells, names), with web-shell probing on.
fn differ_from_truth(observations: &Path, lab: &exhunt_lab::serve::LabServer) -> anyhow::Result<usize> {
    let seen = super::lab::read_observations(observations)?;
    Ok(exhunt_lab::serve::compare(lab.addrs().map(|a| (a, lab.truth_of(a))), &seen, true).differ.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo's comparison counts what differs: nothing observed is all different, and a closed host observed as
    /// refused (what its truth says) is the one that agrees. Loopback only: the lab is started here.
    #[test]
    fn the_demo_counts_addresses_that_differ_from_the_truth() {
        use exhunt_lab::serve::{Bind, ServeOptions, parse_range, start};
        use exhunt_model::{Observation, ScanStatus};
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        let range = parse_range("127.204.7.0/28").expect("range");
        let opts = ServeOptions { ranges: vec![range], port: 0, seed: 3, epoch: 0, bind: Bind::PerAddress };
        let lab = rt.block_on(start(opts, Kb::builtin())).expect("lab");
        let dir = tempfile::tempdir().expect("tmp");
        let obs = dir.path().join("observations.jsonl");
        std::fs::write(&obs, "").expect("write");
        assert_eq!(differ_from_truth(&obs, &lab).expect("compare"), 16);
        let closed = lab.addrs().find(|a| lab.truth_of(*a).expect.status == "refused").expect("a closed host in 16");
        let o = Observation {
            seq: Some(0),
            ip: std::net::IpAddr::V4(closed),
            port: lab.port,
            name: None,
            status: ScanStatus::Refused,
            phase: Some("connect".into()),
            error: None,
            started: "2026-11-22T00:00:00Z".into(),
            elapsed_ms: 0,
            tls: None,
            probes: Vec::new(),
            fingerprint: None,
        };
        std::fs::write(&obs, exhunt_report::to_line(&o)).expect("write");
        assert_eq!(differ_from_truth(&obs, &lab).expect("compare"), 15);
        rt.block_on(lab.shutdown());
    }
}
