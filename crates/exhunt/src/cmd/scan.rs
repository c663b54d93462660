//! `exhunt scan` and `exhunt lab serve`: argument glue around `exhunt-scan` and `exhunt-lab::serve`.

use crate::cli::{LabServeArgs, ScanArgs};
use crate::exit::{Code, UsageError};
use exhunt_scan::http::{Limits, tls_config};
use exhunt_scan::ladder::LadderConfig;
use exhunt_scan::scan::{ScanOptions, open_output, run};
use exhunt_scan::target::{parse_net, parse_ports};
use exhunt_scan::{Blocklist, TargetSet};
use std::sync::Arc;
use std::time::Duration;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// `I/N`, 0-based `I` as in zmap.
fn parse_shard(s: &str) -> anyhow::Result<(u64, u64)> {
    let bad = || UsageError(format!("`--shard {s}` is not I/N with 0 <= I < N (e.g. 0/4)"));
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad().into());
    }
    Ok((i, n))
}

pub fn scan(args: ScanArgs) -> anyhow::Result<Code> {
    if args.format != "jsonl" {
        return Err(UsageError(format!("`--format {}` is not available yet: use jsonl", args.format)).into());
    }
    let ports = parse_ports(&args.ports).map_err(|e| UsageError(e.to_string()))?;
    let mut targets = TargetSet::new(ports);
    for t in &args.targets {
        targets.add(t).map_err(|e| UsageError(e.to_string()))?;
    }
    for f in &args.targets_file {
        targets.add_file(f).map_err(|e| UsageError(e.to_string()))?;
    }
    if targets.is_empty() {
        return Err(
            UsageError("no targets: name addresses, CIDR ranges or host names, or `--targets-file F`".into()).into()
        );
    }
    let mut block = Blocklist::new(args.allow_reserved);
    for f in &args.exclude {
        let text = std::fs::read_to_string(f).map_err(|e| UsageError(format!("cannot read `{}`: {e}", f.display())))?;
        for (i, line) in text.lines().enumerate() {
            let t = line.split('#').next().unwrap_or("").trim();
            if t.is_empty() {
                continue;
            }
            let net = parse_net(t).map_err(|e| UsageError(format!("{}:{}: `{t}`: {e}", f.display(), i + 1)))?;
            block.add(net, t);
        }
    }
    let shard = parse_shard(&args.shard)?;
    let kb = super::load_kb(args.kb.kb.as_deref())?;
    let limits = Limits {
        connect: Duration::from_secs_f64(args.connect_timeout),
        tls: Duration::from_secs_f64(args.tls_timeout),
        headers: Duration::from_secs_f64(args.read_timeout),
        body: Duration::from_secs_f64(args.read_timeout),
        ..Limits::default()
    };
    let gap =
        if args.per_host_rate == 0 { Duration::ZERO } else { Duration::from_secs_f64(1.0 / args.per_host_rate as f64) };
    let opts = ScanOptions {
        seed: args.seed,
        shard,
        rate: args.rate,
        concurrency: args.concurrency,
        ladder: LadderConfig {
            limits,
            tls: tls_config(),
            per_host_gap: gap,
            webshells: args.webshells,
            seed: args.seed,
        },
    };
    let (out, out_path, done): (Box<dyn std::io::Write + Send>, _, _) = match &args.out {
        Some(p) => {
            let (f, done) = open_output(p, args.resume).map_err(|e| UsageError(e.to_string()))?;
            (Box::new(f), p.clone(), done)
        }
        None if args.resume => return Err(UsageError("`--resume` needs `--out FILE`".into()).into()),
        None => (Box::new(std::io::stdout()), "-".into(), Default::default()),
    };
    let rt = runtime()?;
    let summary = rt.block_on(run(
        Arc::new(targets),
        Arc::new(block),
        opts,
        Arc::new(kb.catalog),
        out,
        out_path,
        done,
        Arc::new(|_| {}),
    ))?;
    eprintln!(
        "exhunt scan: {} targets scanned ({} already done, {} blocked) in {:.1} s; {} Exchange; by status: {}",
        summary.scanned,
        summary.skipped_done,
        summary.blocked,
        summary.elapsed_s,
        summary.exchange,
        summary.by_status.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    );
    Ok(Code::Clean)
}

pub fn lab_serve(args: LabServeArgs) -> anyhow::Result<Code> {
    use exhunt_lab::serve::{Bind, Range, ServeOptions, start};
    let ranges = args
        .hosts
        .iter()
        .map(|h| Range::parse(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UsageError(e.to_string()))?;
    let bind = match args.bind.as_str() {
        "per-address" => Bind::PerAddress,
        "loopback" => Bind::Loopback,
        _ => Bind::Auto,
    };
    let opts = ServeOptions { ranges, port: args.port, seed: args.seed, bind };
    let rt = runtime()?;
    rt.block_on(async move {
        let lab = start(opts, exhunt_kb::Kb::builtin().catalog).await.map_err(|e| UsageError(e.to_string()))?;
        if let Some(path) = &args.truth {
            let mut f = std::fs::File::create(path)?;
            lab.write_truth(&mut f)?;
        }
        eprintln!(
            "exhunt lab serve: {} hosts on port {} ({}); Ctrl-C stops",
            lab.addrs().count(),
            lab.port,
            if lab.loopback_socket { "one socket on the loopback interface" } else { "one listener per address" }
        );
        tokio::signal::ctrl_c().await?;
        lab.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Code::Clean)
}
