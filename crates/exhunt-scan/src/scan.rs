//! The executor: walks one shard, applies the global rate, keeps at most `concurrency` targets in flight, and
//! writes each observation as one JSON line the moment it is done (append-only, one `write` per line).
//!
//! Resume: the output file is the checkpoint. On `--resume` it is read back, a torn last line (a kill -9 in the
//! middle of a write) is cut off, and the `seq` of every complete line goes into a [`Done`] set; the walk is then
//! replayed and every target already in the file is skipped. So no target is lost (a torn line is scanned again)
//! and none is repeated (a complete line is never rewritten). `Done` holds a low-water mark plus the few numbers
//! above it, so it stays as small as the number of targets in flight when the scan stopped.

use crate::blocklist::Blocklist;
use crate::error::ScanError;
use crate::ladder::{LadderConfig, scan};
use crate::observe::{Observation, ScanStatus};
use crate::target::{Item, ShardIter, TargetSet};
use exhunt_kb::Catalog;
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::{BufRead as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of one scan.
#[derive(Clone)]
pub struct ScanOptions {
    pub seed: u64,
    /// 0-based shard index and the number of shards.
    pub shard: (u64, u64),
    /// New targets per second (0: no limit).
    pub rate: u64,
    pub concurrency: usize,
    pub ladder: LadderConfig,
}

/// The sequence numbers already written, and the blocked targets already reported.
#[derive(Clone, Debug, Default)]
pub struct Done {
    below: u64,
    above: BTreeSet<u64>,
    blocked: BTreeSet<(std::net::IpAddr, u16)>,
}

impl Done {
    /// A blocked target already reported.
    pub fn insert_blocked(&mut self, ip: std::net::IpAddr, port: u16) {
        self.blocked.insert((ip, port));
    }
    pub fn contains_blocked(&self, ip: std::net::IpAddr, port: u16) -> bool {
        self.blocked.contains(&(ip, port))
    }
    pub fn insert(&mut self, seq: u64) {
        if seq < self.below {
            return;
        }
        self.above.insert(seq);
        while self.above.remove(&self.below) {
            self.below += 1;
        }
    }
    pub fn contains(&self, seq: u64) -> bool {
        seq < self.below || self.above.contains(&seq)
    }
    pub fn count(&self) -> u64 {
        self.below + self.above.len() as u64
    }
}

/// The envelope line of an observation.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    v: u32,
    data: &'a Observation,
}

/// Serialises an observation as one envelope line, newline included.
pub fn to_line(obs: &Observation) -> String {
    let mut s = serde_json::to_string(&Line { kind: "observation", v: 1, data: obs })
        .unwrap_or_else(|e| format!("{{\"type\":\"error\",\"v\":1,\"data\":{{\"message\":{:?}}}}}", e.to_string()));
    s.push('\n');
    s
}

/// Parses one envelope line back; `None` for other record types.
pub fn from_line(line: &str) -> Result<Option<Observation>, String> {
    #[derive(serde::Deserialize)]
    struct Env {
        #[serde(rename = "type")]
        kind: String,
        data: serde_json::Value,
    }
    let env: Env = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if env.kind != "observation" {
        return Ok(None);
    }
    serde_json::from_value(env.data).map(Some).map_err(|e| e.to_string())
}

/// Opens the output for appending; with `resume`, reads what it holds first and cuts a torn last line.
pub fn open_output(path: &Path, resume: bool) -> Result<(std::fs::File, Done), ScanError> {
    let werr = |source| ScanError::Write { path: path.to_path_buf(), source };
    let mut done = Done::default();
    if resume && path.exists() {
        let f = std::fs::File::open(path).map_err(|source| ScanError::Read { path: path.to_path_buf(), source })?;
        let mut r = std::io::BufReader::new(f);
        let mut good_len = 0u64;
        let mut line = String::new();
        loop {
            line.clear();
            let n = r.read_line(&mut line).map_err(|source| ScanError::Read { path: path.to_path_buf(), source })?;
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            good_len += n as u64;
            if let Ok(Some(o)) = from_line(line.trim_end()) {
                match o.seq {
                    Some(seq) => done.insert(seq),
                    None => done.insert_blocked(o.ip, o.port),
                }
            }
        }
        let f = std::fs::OpenOptions::new().write(true).open(path).map_err(werr)?;
        f.set_len(good_len).map_err(werr)?;
        let mut f = std::fs::OpenOptions::new().append(true).open(path).map_err(werr)?;
        f.seek(std::io::SeekFrom::End(0)).map_err(werr)?;
        return Ok((f, done));
    }
    if path.exists() && std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false) {
        return Err(ScanError::Option {
            name: "out",
            reason: format!(
                "`{}` already holds observations: pass `--resume` to continue that scan, or choose a new file",
                path.display()
            ),
        });
    }
    let f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(werr)?;
    Ok((f, done))
}

/// Counts of one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub scanned: u64,
    pub skipped_done: u64,
    pub blocked: u64,
    pub by_status: std::collections::BTreeMap<String, u64>,
    pub exchange: u64,
    pub elapsed_s: f64,
}

/// Scans one shard, writing each observation to `out` as it completes. `progress` is called after each target.
#[allow(clippy::too_many_arguments)] // the scan's inputs are distinct and each is needed; a struct would only rename them
pub async fn run(
    targets: Arc<TargetSet>,
    blocklist: Arc<Blocklist>,
    opts: ScanOptions,
    catalog: Arc<Catalog>,
    mut out: Box<dyn std::io::Write + Send>,
    out_path: PathBuf,
    done: Done,
    progress: Arc<dyn Fn(&Observation) + Send + Sync>,
) -> Result<Summary, ScanError> {
    let t0 = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Observation>(1024);
    let writer = tokio::task::spawn_blocking(move || -> Result<Summary, ScanError> {
        let mut s = Summary::default();
        while let Some(mut o) = rx.blocking_recv() {
            o.fingerprint = crate::detect::fingerprint(&o, &catalog);
            if o.fingerprint.as_ref().is_some_and(|f| f.class == crate::detect::Class::Exchange) {
                s.exchange += 1;
            }
            *s.by_status.entry(o.status.as_str().to_string()).or_default() += 1;
            if o.status != ScanStatus::Blocked {
                s.scanned += 1;
            }
            out.write_all(to_line(&o).as_bytes())
                .and_then(|_| out.flush())
                .map_err(|source| ScanError::Write { path: out_path.clone(), source })?;
            progress(&o);
        }
        Ok(s)
    });
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
    let ladder = Arc::new(opts.ladder.clone());
    let mut started = 0u64;
    let mut skipped = 0u64;
    let interval = (opts.rate > 0).then(|| Duration::from_secs_f64(1.0 / opts.rate as f64));
    let mut iter = ShardIter::new(&targets, &blocklist, opts.seed, opts.shard.0, opts.shard.1)?;
    let mut tasks = tokio::task::JoinSet::new();
    for item in iter.by_ref() {
        let (seq, target) = match item {
            Item::Blocked(t) => {
                if !done.contains_blocked(t.ip, t.port) {
                    let o = blocked(t);
                    if tx.send(o).await.is_err() {
                        break;
                    }
                }
                continue;
            }
            Item::Scan { seq, target } => (seq, target),
        };
        if done.contains(seq) {
            skipped += 1;
            continue;
        }
        if let Some(iv) = interval {
            let due = t0 + iv.mul_f64(started as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        started += 1;
        let permit = sem.clone().acquire_owned().await.expect("invariant: the semaphore is never closed");
        let (tx, ladder) = (tx.clone(), ladder.clone());
        tasks.spawn(async move {
            let o = scan(Some(seq), target, &ladder).await;
            let _ = tx.send(o).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    let blocked_count = iter.blocked;
    while tasks.join_next().await.is_some() {}
    drop(tx);
    let mut summary = writer.await.map_err(|e| ScanError::Option { name: "writer", reason: e.to_string() })??;
    summary.skipped_done = skipped;
    summary.blocked = blocked_count;
    summary.elapsed_s = t0.elapsed().as_secs_f64();
    Ok(summary)
}

/// What an observations file holds, counted: the exit code and `metadata.json` come from it, so a resumed scan
/// counts everything it wrote across runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Tally {
    /// Observation lines.
    pub observations: u64,
    /// Per status (`success`, `timeout`, …, `blocked`).
    pub statuses: std::collections::BTreeMap<String, u64>,
    pub exchange: u64,
    /// Exchange hosts with at least one chain `vulnerable`.
    pub vulnerable: u64,
    /// Exchange hosts where a chain is `indeterminate` and none `vulnerable`.
    pub indeterminate: u64,
    /// Hosts with at least one web shell found.
    pub webshell_hosts: u64,
    /// Lines that are not observations (a torn last line, or damage).
    pub bad_lines: u64,
}

impl Tally {
    pub fn add(&mut self, o: &Observation) {
        use exhunt_model::ChainStatus;
        self.observations += 1;
        *self.statuses.entry(o.status.as_str().to_string()).or_default() += 1;
        let Some(f) = &o.fingerprint else { return };
        if f.class == crate::detect::Class::Exchange {
            self.exchange += 1;
            if f.chains.values().any(|s| *s == ChainStatus::Vulnerable) {
                self.vulnerable += 1;
            } else if f.chains.values().any(|s| *s == ChainStatus::Indeterminate) {
                self.indeterminate += 1;
            }
        }
        if !f.webshells.is_empty() {
            self.webshell_hosts += 1;
        }
    }

    /// True when the scan found something to act on: a vulnerable Exchange host or a web shell.
    pub fn has_findings(&self) -> bool {
        self.vulnerable > 0 || self.webshell_hosts > 0
    }
}

/// Counts an observations file (see [`Tally`]).
pub fn tally_file(path: &Path) -> Result<Tally, ScanError> {
    let f = std::fs::File::open(path).map_err(|source| ScanError::Read { path: path.to_path_buf(), source })?;
    let mut t = Tally::default();
    for line in std::io::BufReader::new(f).lines() {
        let line = line.map_err(|source| ScanError::Read { path: path.to_path_buf(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        match from_line(&line) {
            Ok(Some(o)) => t.add(&o),
            Ok(None) => {}
            Err(_) => t.bad_lines += 1,
        }
    }
    Ok(t)
}

/// `metadata.json`, written beside `--out` when a scan starts and again when it ends: what was run, with which
/// knowledge base and blocklist, and what came of it.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub tool: String,
    pub version: String,
    /// The same hash `exhunt hunt` reports for the knowledge base it used.
    pub kb_hash: String,
    pub seed: u64,
    /// `I/N`, 0-based as zmap.
    pub shard: String,
    pub ports: Vec<u16>,
    /// New targets per second (0: no limit).
    pub rate: u64,
    pub per_host_rate: u64,
    pub concurrency: usize,
    pub webshells: bool,
    pub allow_reserved: bool,
    /// SHA-256 of the blocklist's entries, one per line ([`Blocklist::hash`]).
    pub blocklist_hash: String,
    pub blocklist_entries: usize,
    /// RFC 3339 UTC; the first run's start when the scan was resumed.
    pub start: String,
    /// `null` while the scan runs (or when it was killed).
    pub end: Option<String>,
    /// How many times the scan was resumed.
    pub resumes: u32,
    pub targets: TargetCounts,
    /// What the observations file holds at the end, across every run.
    pub results: Tally,
}

/// Targets counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetCounts {
    /// Addresses × ports named (all shards).
    pub space: u64,
    /// Removed by the blocklist in this shard (last run).
    pub blocked: u64,
    /// Scanned in the last run.
    pub scanned: u64,
    /// Skipped in the last run because the file already held them.
    pub resumed_skipped: u64,
}

/// The metadata file of an observations file: `scan.jsonl` → `scan.metadata.json`, in the same folder.
pub fn metadata_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "scan".into());
    out.with_file_name(format!("{stem}.metadata.json"))
}

/// Writes `metadata.json` whole (a temporary file renamed over it, so a kill never leaves half a file).
pub fn write_metadata(path: &Path, m: &Metadata) -> Result<(), ScanError> {
    let werr = |source| ScanError::Write { path: path.to_path_buf(), source };
    let tmp = path.with_extension("json.tmp");
    let mut text = serde_json::to_string_pretty(m).map_err(|e| werr(std::io::Error::other(e)))?;
    text.push('\n');
    std::fs::write(&tmp, text).map_err(werr)?;
    std::fs::rename(&tmp, path).map_err(werr)
}

/// Reads a metadata file back; `None` when absent or unreadable.
pub fn read_metadata(path: &Path) -> Option<Metadata> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn blocked(t: crate::target::Target) -> Observation {
    Observation {
        seq: None,
        ip: t.ip,
        port: t.port,
        name: t.name,
        status: ScanStatus::Blocked,
        phase: None,
        error: Some("in the blocklist: nothing was sent".into()),
        started: exhunt_model::Timestamp::new(time::OffsetDateTime::now_utc()).to_string(),
        elapsed_ms: 0,
        tls: None,
        probes: Vec::new(),
        fingerprint: None,
    }
}
