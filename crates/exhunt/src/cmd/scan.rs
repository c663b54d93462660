//! `exhunt scan` and `exhunt lab serve`: argument glue around `exhunt-scan` (its [`ScanJob`]) and
//! `exhunt-lab::serve`.

use crate::cli::ScanArgs;
use crate::exit::{Code, UsageError};
use exhunt_report::shadowserver;
use exhunt_scan::scan::from_line;
use exhunt_scan::{JobError, ScanJob, ScanSpec};
use std::sync::{Arc, Mutex};

pub fn scan(args: ScanArgs) -> anyhow::Result<Code> {
    let kb = super::load_kb(args.kb.kb.as_deref())?;
    let csv = args.format == "shadowserver";
    let spec = ScanSpec {
        targets: args.targets.clone(),
        targets_files: args.targets_file.clone(),
        ports: args.ports.clone(),
        exclude: args.exclude.clone(),
        allow_reserved: args.allow_reserved,
        rate: args.rate,
        per_host_rate: args.per_host_rate,
        concurrency: args.concurrency,
        shard: args.shard.clone(),
        seed: args.seed,
        out: args.out.clone(),
        resume: args.resume,
        metadata: args.metadata.clone(),
        webshells: args.webshells,
        connect_timeout: args.connect_timeout,
        tls_timeout: args.tls_timeout,
        read_timeout: args.read_timeout,
        tool: ("exhunt".into(), env!("CARGO_PKG_VERSION").into()),
    };
    let job = ScanJob::prepare(spec, kb).map_err(|e| match e {
        JobError::Usage(e) => anyhow::Error::from(UsageError(e.to_string())),
        JobError::Failed(e) => e.into(),
    })?;
    for u in job.unresolved() {
        eprintln!("exhunt scan: target `{}` not scanned: {} (check the name, or give its address)", u.name, u.reason);
    }
    let (expected, done) = job.expected();
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
    bar.set_position(done);
    // Without `--out`, the records go to stdout as they come: JSON Lines, or the Shadowserver CSV.
    let stream = args.out.is_none();
    let out: Arc<Mutex<Option<Stream>>> = Arc::new(Mutex::new(match (stream, csv) {
        (false, _) => None,
        (true, true) => Some(Stream::Csv(Box::new(shadowserver::Writer::new(std::io::stdout())?))),
        (true, false) => Some(Stream::Jsonl(std::io::stdout())),
    }));
    let failed = Arc::new(Mutex::new(None::<std::io::Error>));
    let each = {
        let (out, failed, bar) = (out.clone(), failed.clone(), bar.clone());
        Arc::new(move |o: &exhunt_model::Observation| {
            if let Some(w) = lock(&out).as_mut()
                && let Err(e) = w.write(o)
            {
                lock(&failed).get_or_insert(e);
            }
            bar.inc(1);
        })
    };
    let outcome = job.run(each)?;
    bar.finish_and_clear();
    if let Some(e) = lock(&failed).take() {
        return Err(e.into());
    }
    if let (true, Some(p)) = (csv, &args.out) {
        let mut w = shadowserver::Writer::new(std::io::stdout().lock())?;
        let f = std::fs::File::open(p)?;
        for line in std::io::BufRead::lines(std::io::BufReader::new(f)) {
            if let Ok(Some(o)) = from_line(&line?) {
                w.write(&o)?;
            }
        }
    }
    let (summary, tally) = (&outcome.summary, &outcome.tally);
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
    } else if !outcome.unresolved.is_empty() {
        Code::Errors
    } else {
        Code::Clean
    })
}

/// Where streamed records go without `--out`.
enum Stream {
    Jsonl(std::io::Stdout),
    Csv(Box<shadowserver::Writer<std::io::Stdout>>),
}

impl Stream {
    fn write(&mut self, o: &exhunt_model::Observation) -> std::io::Result<()> {
        use std::io::Write as _;
        match self {
            Stream::Jsonl(w) => {
                let mut w = w.lock();
                w.write_all(exhunt_scan::scan::lines_of(o).as_bytes())?;
                w.flush()
            }
            Stream::Csv(w) => w.write(o),
        }
    }
}

/// A lock that a panicked holder did not poison for good (the data is a writer).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
