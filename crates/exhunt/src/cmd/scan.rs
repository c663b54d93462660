//! `exhunt scan` and `exhunt lab serve`: argument glue around `exhunt-scan` and `exhunt-lab::serve`.

use crate::cli::{LabServeArgs, ScanArgs};
use crate::exit::{Code, UsageError};
use exhunt_scan::http::{Limits, tls_config};
use exhunt_scan::ladder::LadderConfig;
use exhunt_scan::rate::HostLimiter;
use exhunt_scan::scan::{
    Metadata, ScanOptions, Tally, TargetCounts, check_metadata, create_metadata, from_line, metadata_path,
    observations_ref, open_output, run, write_metadata,
};
use exhunt_scan::shadowserver;
use exhunt_scan::target::{RESOLVE_CONCURRENCY, RESOLVE_DEADLINE, parse_net, parse_ports};
use exhunt_scan::{Blocklist, ScanError, TargetSet};
use std::sync::{Arc, Mutex};
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
    let ports = parse_ports(&args.ports).map_err(|e| UsageError(e.to_string()))?;
    let mut targets = TargetSet::new(ports.clone());
    for t in &args.targets {
        targets.add(t).map_err(|e| UsageError(e.to_string()))?;
    }
    for f in &args.targets_file {
        targets.add_file(f).map_err(|e| UsageError(e.to_string()))?;
    }
    if targets.is_empty() && targets.pending() == 0 {
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
    for (name, v) in [("connect-timeout", args.connect_timeout), ("tls-timeout", args.tls_timeout)] {
        if !(v.is_finite() && v > 0.0 && v <= 3600.0) {
            return Err(UsageError(format!("`--{name} {v}`: give seconds between 0 and 3600")).into());
        }
    }
    if !(args.read_timeout.is_finite() && args.read_timeout > 0.0 && args.read_timeout <= 3600.0) {
        return Err(
            UsageError(format!("`--read-timeout {}`: give seconds between 0 and 3600", args.read_timeout)).into()
        );
    }
    // The metadata file is claimed before anything is written or looked up: a scan never takes another's.
    let shard_name = format!("{}/{}", shard.0, shard.1);
    let meta_path = args.metadata.clone().or_else(|| args.out.as_deref().map(metadata_path));
    let observations = match (&args.out, &meta_path) {
        (Some(out), Some(mp)) => observations_ref(out, mp),
        _ => String::new(),
    };
    let old_meta = match &meta_path {
        Some(mp) => check_metadata(mp, &observations, args.seed, &shard_name).map_err(|e| UsageError(e.to_string()))?,
        None => None,
    };
    let unresolved = resolve(&mut targets)?;
    let kb = super::load_kb(args.kb.kb.as_deref())?;
    let limits = Limits {
        connect: Duration::from_secs_f64(args.connect_timeout),
        tls: Duration::from_secs_f64(args.tls_timeout),
        headers: Duration::from_secs_f64(args.read_timeout),
        body: Duration::from_secs_f64(args.read_timeout),
        ..Limits::default()
    };
    let opts = ScanOptions {
        seed: args.seed,
        shard,
        rate: args.rate,
        concurrency: args.concurrency,
        ladder: LadderConfig {
            limits,
            tls: tls_config(),
            per_host: Arc::new(HostLimiter::per_second(args.per_host_rate)),
            webshells: args.webshells,
            seed: args.seed,
        },
    };
    let csv = args.format == "shadowserver";
    let (out, out_path, done, before): (Box<dyn std::io::Write + Send>, _, _, _) = match &args.out {
        Some(p) => {
            let (f, done, before) = open_output(p, args.resume).map_err(|e| UsageError(e.to_string()))?;
            (Box::new(f), p.clone(), done, before)
        }
        None if args.resume => return Err(UsageError("`--resume` needs `--out FILE`".into()).into()),
        // Without `--out`, the CSV is the output and the observations are not kept.
        None if csv => (Box::new(std::io::sink()), "-".into(), Default::default(), Tally::default()),
        None => (Box::new(std::io::stdout()), "-".into(), Default::default(), Tally::default()),
    };
    let now = || exhunt_model::Timestamp::new(time::OffsetDateTime::now_utc()).to_string();
    let mut meta = Metadata {
        tool: "exhunt".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        observations,
        kb_hash: kb.content_hash(),
        seed: args.seed,
        shard: shard_name,
        ports,
        rate: args.rate,
        per_host_rate: args.per_host_rate,
        concurrency: args.concurrency,
        webshells: args.webshells,
        allow_reserved: args.allow_reserved,
        blocklist_hash: block.hash(),
        blocklist_entries: block.entries.len(),
        start: now(),
        end: None,
        resumes: 0,
        targets: TargetCounts {
            space: targets.len(),
            unresolved: unresolved.iter().map(|u| (u.name.clone(), u.reason.to_string())).collect(),
            ..TargetCounts::default()
        },
        results: Tally::default(),
    };
    if let Some(mp) = &meta_path {
        if args.resume
            && let Some(old) = old_meta
        {
            meta.start = old.start;
            meta.resumes = old.resumes + 1;
        }
        create_metadata(mp, &meta).map_err(|e| match e {
            ScanError::MetadataTaken { .. } => anyhow::Error::from(UsageError(e.to_string())),
            e => e.into(),
        })?;
    }
    let expected = (targets.len() / shard.1).max(1);
    let bar = if args.no_progress {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::with_draw_target(Some(expected), indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) = indicatif::ProgressStyle::with_template("scan [{bar:30}] {pos}/{len} {per_sec} {eta} {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    };
    bar.set_position(done.count());
    // What the file held before this run, then every observation as it is written: the file is never read again.
    let tally = Arc::new(Mutex::new(before));
    let stream_csv = csv && args.out.is_none();
    let csv_out: Arc<Mutex<Option<shadowserver::Writer<std::io::Stdout>>>> =
        Arc::new(Mutex::new(if stream_csv { Some(shadowserver::Writer::new(std::io::stdout())?) } else { None }));
    let csv_failed = Arc::new(Mutex::new(None::<std::io::Error>));
    let progress = {
        let (tally, csv_out, csv_failed, bar) = (tally.clone(), csv_out.clone(), csv_failed.clone(), bar.clone());
        Arc::new(move |o: &exhunt_scan::Observation| {
            lock(&tally).add(o);
            if let Some(w) = lock(&csv_out).as_mut()
                && let Err(e) = w.write(o)
            {
                lock(&csv_failed).get_or_insert(e);
            }
            bar.inc(1);
        })
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
        progress,
    ))?;
    bar.finish_and_clear();
    if let Some(e) = lock(&csv_failed).take() {
        return Err(e.into());
    }
    let tally = lock(&tally).clone();
    if let (true, Some(p)) = (csv, &args.out) {
        let mut w = shadowserver::Writer::new(std::io::stdout().lock())?;
        let f = std::fs::File::open(p)?;
        for line in std::io::BufRead::lines(std::io::BufReader::new(f)) {
            if let Ok(Some(o)) = from_line(&line?) {
                w.write(&o)?;
            }
        }
    }
    if let Some(mp) = &meta_path {
        meta.end = Some(now());
        meta.targets.blocked = summary.blocked;
        meta.targets.scanned = summary.scanned;
        meta.targets.resumed_skipped = summary.skipped_done;
        meta.results = tally.clone();
        write_metadata(mp, &meta)?;
    }
    eprintln!(
        "exhunt scan: {} targets scanned ({} already done, {} blocked) in {:.1} s; {} Exchange, {} vulnerable, {} with web shells; by status: {}",
        summary.scanned,
        summary.skipped_done,
        summary.blocked,
        summary.elapsed_s,
        tally.exchange,
        tally.vulnerable,
        tally.webshell_hosts,
        tally.statuses.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    );
    // A compromise outranks "finished with errors" (a host name that gave no address): the exit code must not hide it.
    Ok(if tally.has_findings() {
        Code::Findings
    } else if !unresolved.is_empty() {
        Code::Errors
    } else {
        Code::Clean
    })
}

/// Resolves the host names among the targets, all together (bounded, each under a deadline). A name that gives no
/// address is reported on stderr and in the metadata, and not scanned; the exit code says so (2, unless findings).
fn resolve(targets: &mut TargetSet) -> anyhow::Result<Vec<exhunt_scan::target::Unresolved>> {
    if targets.pending() == 0 {
        return Ok(Vec::new());
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let unresolved = rt.block_on(targets.resolve(RESOLVE_CONCURRENCY, RESOLVE_DEADLINE));
    // A lookup past its deadline may still hold a resolver thread: do not wait for it.
    rt.shutdown_background();
    for u in &unresolved {
        eprintln!("exhunt scan: target `{}` not scanned: {} (check the name, or give its address)", u.name, u.reason);
    }
    if targets.is_empty() {
        return Err(UsageError("no targets: no host name resolved, and no address was given".into()).into());
    }
    Ok(unresolved)
}

/// A lock that a panicked holder did not poison for good (the data is counters and a writer).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
