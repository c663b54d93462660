//! The executor: walks one shard, applies the global rate, keeps at most `concurrency` targets in flight, and
//! writes each observation as one JSON line the moment it is done (append-only, one `write` per target), followed
//! by its findings (`finding` records: a vulnerable chain, a web shell), which are a pure function of it.
//!
//! Resume: the output file is the checkpoint. On `--resume` it is read back, a torn last line (a kill -9 in the
//! middle of a write) is cut off, and the `seq` of every complete line goes into a [`Done`] set; the walk is then
//! replayed and every target already in the file is skipped. So no target is lost (a torn line is scanned again)
//! and none is repeated (a complete line is never rewritten). `Done` holds a low-water mark plus the few numbers
//! above it, so it stays as small as the number of targets in flight when the scan stopped. The findings after the
//! last complete observation are written again from it on resume (they may have been torn), so each observation
//! is followed by exactly its findings.

use crate::blocklist::Blocklist;
use crate::error::ScanError;
use crate::ladder::{LadderConfig, scan};
use crate::target::{Item, ShardIter, TargetSet};
use exhunt_detect::scan::{findings, fingerprint};
use exhunt_kb::Kb;
use exhunt_model::{Class, Observation, ScanStatus};
pub use exhunt_model::{ScanMetadata, Tally, TargetCounts};
use exhunt_report::to_line;
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

/// A fingerprinted observation's lines: the observation, then its findings.
pub fn lines_of(obs: &Observation) -> String {
    let mut s = to_line(obs);
    for f in findings(obs) {
        s.push_str(&to_line(&f));
    }
    s
}

/// Reads an observation line back; `None` for other record types.
pub fn from_line(line: &str) -> Result<Option<Observation>, String> {
    exhunt_report::from_line::<Observation>(line)
}

/// Opens the output for appending; with `resume`, reads what it holds first, cuts a torn last line, and counts
/// what it holds (the [`Tally`] a resumed scan goes on from).
pub fn open_output(path: &Path, resume: bool) -> Result<(std::fs::File, Done, Tally), ScanError> {
    let werr = |source| ScanError::Write { path: path.to_path_buf(), source };
    let mut done = Done::default();
    let mut tally = Tally::default();
    if resume && path.exists() {
        let f = std::fs::File::open(path).map_err(|source| ScanError::Read { path: path.to_path_buf(), source })?;
        let mut r = std::io::BufReader::new(f);
        let mut good_len = 0u64;
        // The end of the last complete observation line, and that observation.
        let mut last: Option<(u64, Observation)> = None;
        let mut line = String::new();
        loop {
            line.clear();
            let n = r.read_line(&mut line).map_err(|source| ScanError::Read { path: path.to_path_buf(), source })?;
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            good_len += n as u64;
            if line.trim().is_empty() {
                continue;
            }
            match from_line(line.trim_end()) {
                Ok(Some(o)) => {
                    tally.add(&o);
                    match o.seq {
                        Some(seq) => done.insert(seq),
                        None => done.insert_blocked(o.ip, o.port),
                    }
                    last = Some((good_len, o));
                }
                Ok(None) => {}
                Err(_) => tally.bad_lines += 1,
            }
        }
        // The last observation's findings may be torn or missing: cut them and write them again from it.
        let cut = last.as_ref().map(|(end, _)| *end).unwrap_or(good_len);
        let f = std::fs::OpenOptions::new().write(true).open(path).map_err(werr)?;
        f.set_len(cut).map_err(werr)?;
        let mut f = std::fs::OpenOptions::new().append(true).open(path).map_err(werr)?;
        f.seek(std::io::SeekFrom::End(0)).map_err(werr)?;
        if let Some((_, o)) = &last {
            let again: String = findings(o).iter().map(to_line).collect();
            f.write_all(again.as_bytes()).and_then(|_| f.flush()).map_err(werr)?;
        }
        return Ok((f, done, tally));
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
    Ok((f, done, tally))
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
    kb: Arc<Kb>,
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
            o.fingerprint = fingerprint(&o, &kb);
            if o.fingerprint.as_ref().is_some_and(|f| f.class == Class::Exchange) {
                s.exchange += 1;
            }
            *s.by_status.entry(o.status.as_str().to_string()).or_default() += 1;
            if o.status != ScanStatus::Blocked {
                s.scanned += 1;
            }
            out.write_all(lines_of(&o).as_bytes())
                .and_then(|_| out.flush())
                .map_err(|source| ScanError::Write { path: out_path.clone(), source })?;
            progress(&o);
        }
        Ok(s)
    });
    // Targets in flight (at most 2^24: far beyond any descriptor limit).
    let slots = opts.concurrency.clamp(1, 1 << 24) as u32;
    let sem = Arc::new(tokio::sync::Semaphore::new(slots as usize));
    let ladder = Arc::new(opts.ladder.clone());
    let interval = (opts.rate > 0).then(|| Duration::from_secs_f64(1.0 / opts.rate as f64));
    // The walk runs as a task of the runtime, not on the thread that waits for the scan: each target that ends
    // hands its permit to the walk, and that wake-up stays inside the runtime's workers.
    let walk = tokio::spawn(async move {
        let mut started = 0u64;
        let mut skipped = 0u64;
        let mut iter = ShardIter::new(&targets, &blocklist, opts.seed, opts.shard.0, opts.shard.1)?;
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
            // Detached: the semaphore is the count of targets in flight, and taking every permit back below is
            // the wait for the last of them (a JoinSet kept a handle per task for nothing).
            tokio::spawn(async move {
                let o = scan(Some(seq), target, &ladder).await;
                let _ = tx.send(o).await;
                drop(permit);
            });
        }
        let _all = sem.acquire_many(slots).await;
        drop(tx);
        Ok::<_, ScanError>((skipped, iter.blocked))
    });
    let (skipped, blocked_count) =
        walk.await.map_err(|e| ScanError::Option { name: "walk", reason: e.to_string() })??;
    let mut summary = writer.await.map_err(|e| ScanError::Option { name: "writer", reason: e.to_string() })??;
    summary.skipped_done = skipped;
    summary.blocked = blocked_count;
    summary.elapsed_s = t0.elapsed().as_secs_f64();
    Ok(summary)
}

/// The default metadata file of an observations file: `metadata.json` in its folder.
pub fn metadata_path(out: &Path) -> PathBuf {
    match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("metadata.json"),
        _ => PathBuf::from("metadata.json"),
    }
}

/// How a metadata file names its observations file: the file name when both are in one folder (so the folder can
/// be moved), else the absolute path.
pub fn observations_ref(out: &Path, metadata: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (out, metadata) = (absolute(out), absolute(metadata));
    match out.file_name() {
        Some(name) if out.parent() == metadata.parent() => name.to_string_lossy().into_owned(),
        _ => out.display().to_string(),
    }
}

/// What tells `old` from the metadata of the scan of `observations`, `seed` and `shard`; `None` when it is that
/// same scan (a resumed or restarted run).
fn differs(old: &ScanMetadata, observations: &str, seed: u64, shard: &str) -> Option<String> {
    let mut d = Vec::new();
    if old.observations != observations {
        d.push(format!("observations `{}`, not `{observations}`", old.observations));
    }
    if old.seed != seed {
        d.push(format!("seed {}, not {seed}", old.seed));
    }
    if old.shard != shard {
        d.push(format!("shard {}, not {shard}", old.shard));
    }
    (!d.is_empty()).then(|| d.join("; "))
}

/// Checks that `path` may hold the metadata of the scan of `observations` ([`observations_ref`]), `seed` and
/// `shard`: absent, or that same scan's (returned, so that a resumed scan keeps its first start and counts its
/// resumes). Another scan's metadata, or a file that is not scan metadata, is [`ScanError::MetadataTaken`].
pub fn check_metadata(
    path: &Path,
    observations: &str,
    seed: u64,
    shard: &str,
) -> Result<Option<ScanMetadata>, ScanError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ScanError::Read { path: path.to_path_buf(), source }),
    };
    let taken = |differs: String| ScanError::MetadataTaken { path: path.to_path_buf(), differs };
    let old: ScanMetadata =
        serde_json::from_str(&text).map_err(|e| taken(format!("not readable as this version's scan metadata: {e}")))?;
    match differs(&old, observations, seed, shard) {
        None => Ok(Some(old)),
        Some(d) => Err(taken(d)),
    }
}

/// A temporary file beside `path`, of this process.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "metadata.json".into());
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

fn metadata_text(path: &Path, m: &ScanMetadata) -> Result<String, ScanError> {
    let mut text = serde_json::to_string_pretty(m)
        .map_err(|e| ScanError::Write { path: path.to_path_buf(), source: std::io::Error::other(e) })?;
    text.push('\n');
    Ok(text)
}

/// Writes the first metadata of a run. An absent file is created whole in one step (a hard link to a temporary
/// file written first), so that of two scans starting at once in one folder only one takes it; a present one must
/// be this scan's ([`check_metadata`]) and is replaced.
pub fn create_metadata(path: &Path, m: &ScanMetadata) -> Result<(), ScanError> {
    let werr = |source| ScanError::Write { path: path.to_path_buf(), source };
    let tmp = tmp_path(path);
    std::fs::write(&tmp, metadata_text(path, m)?).map_err(werr)?;
    if std::fs::hard_link(&tmp, path).is_ok() {
        let _ = std::fs::remove_file(&tmp);
        return Ok(());
    }
    // Present: checked. Another error (a file system without hard links): checked too, then renamed, which leaves
    // a moment in which a second scan could take the file as well.
    if let Err(e) = check_metadata(path, &m.observations, m.seed, &m.shard) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(werr)
}

/// Writes `metadata.json` whole (a temporary file renamed over it, so a kill never leaves half a file).
pub fn write_metadata(path: &Path, m: &ScanMetadata) -> Result<(), ScanError> {
    let werr = |source| ScanError::Write { path: path.to_path_buf(), source };
    let tmp = tmp_path(path);
    std::fs::write(&tmp, metadata_text(path, m)?).map_err(werr)?;
    std::fs::rename(&tmp, path).map_err(werr)
}

/// Reads a metadata file back; `None` when absent or unreadable.
pub fn read_metadata(path: &Path) -> Option<ScanMetadata> {
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

#[cfg(test)]
mod metadata_tests {
    use super::*;

    fn meta(observations: &str, seed: u64, shard: &str) -> ScanMetadata {
        ScanMetadata {
            tool: "exhunt".into(),
            version: "0".into(),
            observations: observations.into(),
            kb_hash: String::new(),
            seed,
            shard: shard.into(),
            ports: vec![443],
            rate: 0,
            per_host_rate: 0,
            concurrency: 1,
            webshells: false,
            allow_reserved: false,
            blocklist_hash: String::new(),
            blocklist_entries: 0,
            start: "2026-01-01T00:00:00Z".into(),
            end: None,
            resumes: 0,
            targets: TargetCounts::default(),
            results: Tally::default(),
        }
    }

    #[test]
    fn metadata_json_sits_in_the_folder_of_out() {
        assert_eq!(metadata_path(Path::new("/data/scan/obs.jsonl")), Path::new("/data/scan/metadata.json"));
        assert_eq!(metadata_path(Path::new("obs.jsonl")), Path::new("metadata.json"));
        let dir = tempfile::tempdir().expect("tmp");
        let (out, mp) = (dir.path().join("a.jsonl"), dir.path().join("metadata.json"));
        assert_eq!(observations_ref(&out, &mp), "a.jsonl");
        let elsewhere = dir.path().join("meta").join("shard0.json");
        assert_eq!(observations_ref(&out, &elsewhere), out.display().to_string());
    }

    #[test]
    fn a_scan_never_takes_another_scans_metadata() {
        let dir = tempfile::tempdir().expect("tmp");
        let mp = dir.path().join("metadata.json");
        let first = meta("shard0.jsonl", 7, "0/2");
        create_metadata(&mp, &first).expect("absent: created");
        assert_eq!(check_metadata(&mp, "shard0.jsonl", 7, "0/2").expect("same scan"), Some(first.clone()));
        // The same scan again (resumed or restarted): replaced.
        let mut again = first.clone();
        again.resumes = 1;
        create_metadata(&mp, &again).expect("same scan");
        assert_eq!(read_metadata(&mp).expect("read").resumes, 1);
        // Another shard, seed or observations file: refused, the file untouched.
        for other in [meta("shard1.jsonl", 7, "1/2"), meta("shard0.jsonl", 8, "0/2"), meta("b.jsonl", 7, "0/2")] {
            match create_metadata(&mp, &other) {
                Err(ScanError::MetadataTaken { path, differs }) => {
                    assert_eq!(path, mp);
                    assert!(!differs.is_empty());
                }
                r => panic!("{other:?}: {r:?}"),
            }
            assert_eq!(read_metadata(&mp), Some(again.clone()));
        }
        let msg = create_metadata(&mp, &meta("shard1.jsonl", 7, "1/2")).expect_err("taken").to_string();
        assert!(msg.contains("shard 0/2, not 1/2") && msg.contains("--metadata FILE"), "{msg}");
        // A file that is not scan metadata is not overwritten either.
        std::fs::write(&mp, "{}").expect("write");
        assert!(matches!(create_metadata(&mp, &first), Err(ScanError::MetadataTaken { .. })));
        assert_eq!(std::fs::read_to_string(&mp).expect("read"), "{}");
        // No temporary file is left behind.
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).expect("dir").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, ["metadata.json"]);
    }
}
