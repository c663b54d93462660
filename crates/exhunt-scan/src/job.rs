//! One scan from its options to its results: [`ScanJob::prepare`] checks every option, parses targets and
//! exclusions, claims the metadata file, resolves host names and opens the output (resuming it when asked);
//! [`ScanJob::run`] scans the shard and writes `metadata.json` at the end. The command line only maps its flags to
//! a [`ScanSpec`] and prints.

use crate::blocklist::Blocklist;
use crate::error::ScanError;
use crate::http::Limits;
use crate::ladder::LadderConfig;
use crate::rate::HostLimiter;
use crate::scan::{
    Done, ScanMetadata, ScanOptions, Summary, Tally, TargetCounts, check_metadata, create_metadata, metadata_path,
    observations_ref, open_output, run, write_metadata,
};
use crate::target::{RESOLVE_CONCURRENCY, RESOLVE_DEADLINE, TargetSet, Unresolved, parse_ports};
use exhunt_kb::Kb;
use exhunt_model::Observation;
use exhunt_model::net::IpNet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything a scan is asked to do, as the command line gives it.
#[derive(Clone, Debug)]
pub struct ScanSpec {
    pub targets: Vec<String>,
    pub targets_files: Vec<PathBuf>,
    /// `443`, `443,8443`, `8000-8010`.
    pub ports: String,
    /// Files of networks not to scan, one per line, `#` comments.
    pub exclude: Vec<PathBuf>,
    pub allow_reserved: bool,
    pub rate: u64,
    pub per_host_rate: u64,
    pub concurrency: usize,
    /// `I/N`, 0-based.
    pub shard: String,
    pub seed: u64,
    pub out: Option<PathBuf>,
    pub resume: bool,
    pub metadata: Option<PathBuf>,
    pub webshells: bool,
    /// Seconds.
    pub connect_timeout: f64,
    pub tls_timeout: f64,
    pub read_timeout: f64,
    /// The program writing the metadata (`tool`, `version`).
    pub tool: (String, String),
}

/// Why a job did not run: the options (a usage error) or the machine (a failure).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Usage(ScanError),
    #[error("{0}")]
    Failed(ScanError),
}

/// A scan ready to run.
pub struct ScanJob {
    targets: TargetSet,
    block: Blocklist,
    opts: ScanOptions,
    kb: Arc<Kb>,
    out: Box<dyn std::io::Write + Send>,
    out_path: PathBuf,
    done: Done,
    before: Tally,
    meta: ScanMetadata,
    meta_path: Option<PathBuf>,
    unresolved: Vec<Unresolved>,
}

/// What a finished job gives.
#[derive(Clone, Debug)]
pub struct ScanOutcome {
    pub summary: Summary,
    /// What the observations file holds now, across every run.
    pub tally: Tally,
    /// Host names that gave no address (not scanned).
    pub unresolved: Vec<Unresolved>,
}

/// `I/N`, 0-based `I` as in zmap.
pub fn parse_shard(s: &str) -> Result<(u64, u64), ScanError> {
    let bad = || ScanError::Usage(format!("`--shard {s}` is not I/N with 0 <= I < N (e.g. 0/4)"));
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

fn seconds(name: &'static str, v: f64) -> Result<Duration, ScanError> {
    if !(v.is_finite() && v > 0.0 && v <= 3600.0) {
        return Err(ScanError::Usage(format!("`--{name} {v}`: give seconds between 0 and 3600")));
    }
    Ok(Duration::from_secs_f64(v))
}

fn now() -> String {
    exhunt_model::Timestamp::new(time::OffsetDateTime::now_utc()).to_string()
}

impl ScanJob {
    /// Checks the spec and prepares the scan. Host names are resolved here (each one that gives no address is in
    /// [`ScanJob::unresolved`]); the metadata file is claimed before anything is looked up or written, so a scan
    /// never takes another's.
    pub fn prepare(spec: ScanSpec, kb: Kb) -> Result<ScanJob, JobError> {
        use JobError::Usage;
        let ports = parse_ports(&spec.ports).map_err(Usage)?;
        let mut targets = TargetSet::new(ports.clone());
        for t in &spec.targets {
            targets.add(t).map_err(Usage)?;
        }
        for f in &spec.targets_files {
            targets.add_file(f).map_err(Usage)?;
        }
        if targets.is_empty() && targets.pending() == 0 {
            return Err(Usage(ScanError::Usage(
                "no targets: name addresses, CIDR ranges or host names, or `--targets-file F`".into(),
            )));
        }
        let mut block = Blocklist::new(spec.allow_reserved);
        for f in &spec.exclude {
            let text =
                std::fs::read_to_string(f).map_err(|source| Usage(ScanError::Read { path: f.clone(), source }))?;
            for (i, line) in text.lines().enumerate() {
                let t = line.split('#').next().unwrap_or("").trim();
                if t.is_empty() {
                    continue;
                }
                let net = IpNet::parse_truncating(t).map_err(|e| {
                    Usage(ScanError::FileLine { path: f.clone(), line: i + 1, text: t.into(), reason: e.to_string() })
                })?;
                block.add(net, t);
            }
        }
        let shard = parse_shard(&spec.shard).map_err(Usage)?;
        let limits = Limits {
            connect: seconds("connect-timeout", spec.connect_timeout).map_err(Usage)?,
            tls: seconds("tls-timeout", spec.tls_timeout).map_err(Usage)?,
            headers: seconds("read-timeout", spec.read_timeout).map_err(Usage)?,
            body: seconds("read-timeout", spec.read_timeout).map_err(Usage)?,
            ..Limits::default()
        };
        let shard_name = format!("{}/{}", shard.0, shard.1);
        let meta_path = spec.metadata.clone().or_else(|| spec.out.as_deref().map(metadata_path));
        let observations = match (&spec.out, &meta_path) {
            (Some(out), Some(mp)) => observations_ref(out, mp),
            _ => String::new(),
        };
        let old_meta = match &meta_path {
            Some(mp) => check_metadata(mp, &observations, spec.seed, &shard_name).map_err(Usage)?,
            None => None,
        };
        let unresolved = resolve(&mut targets).map_err(JobError::Failed)?;
        if targets.is_empty() {
            return Err(Usage(ScanError::Usage("no targets: no host name resolved, and no address was given".into())));
        }
        let mut ladder = LadderConfig::new(&kb.scan, limits, spec.seed);
        ladder.per_host = Arc::new(HostLimiter::per_second(spec.per_host_rate));
        ladder.webshells = spec.webshells;
        let opts = ScanOptions { seed: spec.seed, shard, rate: spec.rate, concurrency: spec.concurrency, ladder };
        let (out, out_path, done, before): (Box<dyn std::io::Write + Send>, _, _, _) = match &spec.out {
            Some(p) => {
                let (f, done, before) = open_output(p, spec.resume).map_err(Usage)?;
                (Box::new(f), p.clone(), done, before)
            }
            None if spec.resume => {
                return Err(Usage(ScanError::Usage("`--resume` needs `--out FILE`".into())));
            }
            None => (Box::new(std::io::sink()), "-".into(), Done::default(), Tally::default()),
        };
        let mut meta = ScanMetadata {
            tool: spec.tool.0.clone(),
            version: spec.tool.1.clone(),
            observations,
            kb_hash: kb.content_hash(),
            seed: spec.seed,
            shard: shard_name,
            ports,
            rate: spec.rate,
            per_host_rate: spec.per_host_rate,
            concurrency: spec.concurrency,
            webshells: spec.webshells,
            allow_reserved: spec.allow_reserved,
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
            if spec.resume
                && let Some(old) = old_meta
            {
                meta.start = old.start;
                meta.resumes = old.resumes + 1;
            }
            create_metadata(mp, &meta).map_err(|e| match e {
                ScanError::MetadataTaken { .. } => Usage(e),
                e => JobError::Failed(e),
            })?;
        }
        Ok(ScanJob { targets, block, opts, kb: Arc::new(kb), out, out_path, done, before, meta, meta_path, unresolved })
    }

    /// Host names that gave no address.
    pub fn unresolved(&self) -> &[Unresolved] {
        &self.unresolved
    }

    /// Targets this shard will walk (for a progress bar), and how many of them the output already holds.
    pub fn expected(&self) -> (u64, u64) {
        ((self.targets.len() / self.opts.shard.1).max(1), self.done.count())
    }

    /// Scans the shard on a runtime of its own. `each` is called after every observation is written (fingerprinted,
    /// its findings beside it); the metadata file gets the results at the end.
    pub fn run(self, each: Arc<dyn Fn(&Observation) + Send + Sync>) -> Result<ScanOutcome, ScanError> {
        let tally = Arc::new(Mutex::new(self.before));
        let progress = {
            let tally = tally.clone();
            Arc::new(move |o: &Observation| {
                lock(&tally).add(o);
                each(o);
            })
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| ScanError::Option { name: "runtime", reason: e.to_string() })?;
        let summary = rt.block_on(run(
            Arc::new(self.targets),
            Arc::new(self.block),
            self.opts,
            self.kb,
            self.out,
            self.out_path,
            self.done,
            progress,
        ))?;
        let tally = lock(&tally).clone();
        let mut meta = self.meta;
        if let Some(mp) = &self.meta_path {
            meta.end = Some(now());
            meta.targets.blocked = summary.blocked;
            meta.targets.scanned = summary.scanned;
            meta.targets.resumed_skipped = summary.skipped_done;
            meta.results = tally.clone();
            write_metadata(mp, &meta)?;
        }
        Ok(ScanOutcome { summary, tally, unresolved: self.unresolved })
    }
}

/// Resolves the host names among the targets, all together (bounded, each under a deadline).
fn resolve(targets: &mut TargetSet) -> Result<Vec<Unresolved>, ScanError> {
    if targets.pending() == 0 {
        return Ok(Vec::new());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ScanError::Option { name: "runtime", reason: e.to_string() })?;
    let unresolved = rt.block_on(targets.resolve(RESOLVE_CONCURRENCY, RESOLVE_DEADLINE));
    // A lookup past its deadline may still hold a resolver thread: do not wait for it.
    rt.shutdown_background();
    Ok(unresolved)
}

/// A lock that a panicked holder did not poison for good (the data is counters).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
