//! Ingest: a file of records into the campaign, streaming, idempotent, resumable after a kill.
//!
//! - The file's SHA-256 is taken first; a file ingested to its end before is skipped at once.
//! - Every row has a natural key and is written with `ON CONFLICT DO NOTHING` (or an update that only widens), so
//!   the same observation in two files, or the same file again after a `kill -9`, changes nothing.
//! - Lines go in batches of [`BATCH`], each in one transaction with the tickets of the hosts it touched, replayed
//!   from every sighting the store holds of them (so the order in which files arrive does not change the tickets).
//!   Memory holds one batch, whatever the size of the file; a line longer than [`MAX_LINE`] is an error record and
//!   is skipped.

use crate::tickets::{HostKey, recompute};
use crate::{Store, StoreError};
use exhunt_campaign::check::{self, Seen};
use exhunt_model::{Observation, ScanMetadata};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};

/// Lines per transaction.
pub const BATCH: usize = 2_000;
/// The longest line read (a longer one is an error record).
pub const MAX_LINE: usize = 8 << 20;

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `exhunt scan` JSON Lines: observations, each followed by its findings.
    Scan,
    /// `exhunt hunt` JSON Lines: a host's findings, incident and host report.
    Hunt,
    /// Shadowserver's `scan_exchange` CSV.
    Shadowserver,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "scan" => Some(Kind::Scan),
            "hunt" => Some(Kind::Hunt),
            "shadowserver" => Some(Kind::Shadowserver),
            _ => None,
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Scan => "scan",
            Kind::Hunt => "hunt",
            Kind::Shadowserver => "shadowserver",
        }
    }
}

/// One line that could not be ingested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IngestError {
    pub path: PathBuf,
    /// 1-based.
    pub line: u64,
    pub message: String,
}

/// What one ingest did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IngestReport {
    pub path: PathBuf,
    pub kind: Option<Kind>,
    pub run: Option<String>,
    /// The file was ingested to its end before: nothing was read.
    pub already: bool,
    /// Records read (observations, reports).
    pub records: u64,
    /// Of them, new to the campaign.
    pub new: u64,
    /// Ticket events written.
    pub events: u64,
    pub errors: Vec<IngestError>,
}

impl Store {
    /// Ingests one file; `kind` forces what it is (else it is told from its content). `now` is the ingest time
    /// (Unix seconds).
    pub async fn ingest(&self, path: &Path, kind: Option<Kind>, now: i64) -> Result<IngestReport, StoreError> {
        let read_err = |source| StoreError::Read { path: path.to_path_buf(), source };
        let sha = file_sha256(path).map_err(read_err)?;
        let mut report = IngestReport { path: path.to_path_buf(), ..IngestReport::default() };
        let done: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT kind, run_id FROM ingests WHERE sha256 = $1")
                .bind(&sha)
                .fetch_optional(&self.pool)
                .await?;
        if let Some((k, run)) = done {
            report.already = true;
            report.kind = Kind::parse(&k);
            report.run = run;
            return Ok(report);
        }
        let kind = match kind {
            Some(k) => k,
            None => detect_kind(path)?,
        };
        report.kind = Some(kind);
        match kind {
            Kind::Scan => self.ingest_scan(path, now, &mut report).await?,
            Kind::Hunt | Kind::Shadowserver => {
                return Err(StoreError::BadFile {
                    path: path.to_path_buf(),
                    why: format!("ingest of {} files is not built yet (docs/STATUS.md)", kind.as_str()),
                });
            }
        }
        sqlx::query(
            "INSERT INTO ingests (sha256, path, kind, run_id, records, errors, finished) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&sha)
        .bind(path.display().to_string())
        .bind(kind.as_str())
        .bind(report.run.clone())
        .bind(report.records as i64)
        .bind(report.errors.len() as i64)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(report)
    }

    async fn ingest_scan(&self, path: &Path, now: i64, report: &mut IngestReport) -> Result<(), StoreError> {
        let read_err = |source| StoreError::Read { path: path.to_path_buf(), source };
        let meta = find_metadata(path);
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut lines = Lines::new(BufReader::with_capacity(1 << 20, file));
        let mut run: Option<String> = None;
        let mut batch: Vec<(u64, Observation, String)> = Vec::with_capacity(self.batch);
        loop {
            let next = lines.next().map_err(read_err)?;
            let end = next.is_none();
            if let Some((no, line)) = next {
                match parse_observation(&line) {
                    Ok(Some(o)) => {
                        if run.is_none() {
                            let id = self.ensure_scan_run(path, meta.as_ref(), &line, now).await?;
                            run = Some(id);
                        }
                        batch.push((no, o, line));
                    }
                    Ok(None) => {}
                    Err(message) => report.errors.push(IngestError { path: path.to_path_buf(), line: no, message }),
                }
            }
            if batch.len() >= self.batch || (end && !batch.is_empty()) {
                let run = run.as_deref().expect("invariant: a run exists once an observation was read");
                let (new, events) = self.write_scan_batch(run, &batch).await?;
                report.records += batch.len() as u64;
                report.new += new;
                report.events += events;
                batch.clear();
            }
            if end {
                break;
            }
        }
        for e in lines.errors.drain(..) {
            report.errors.push(IngestError { path: path.to_path_buf(), line: e.0, message: e.1 });
        }
        report.run = run;
        Ok(())
    }

    /// The run a scan file belongs to, recorded with what it covered: from its `metadata.json` when one names this
    /// file (seed, shard, ports, checks, start and end), else from the file's first observation.
    async fn ensure_scan_run(
        &self,
        path: &Path,
        meta: Option<&ScanMetadata>,
        first_line: &str,
        now: i64,
    ) -> Result<String, StoreError> {
        let t = |s: &str| exhunt_model::Timestamp::parse_rfc3339(s).ok().map(|t| t.unix());
        let mut checks: Vec<&str> = check::chain_checks().map(|c| c.as_str()).collect();
        let (id, label, started, ended, seed, shard, ports, targets) = match meta {
            Some(m) => {
                if m.webshells {
                    checks.push("backdoor");
                }
                let id = format!("scan:{}:{}:{}", m.seed, m.shard, m.start);
                let targets = serde_json::to_string(&m.targets).unwrap_or_default();
                let start = exhunt_model::Timestamp::parse_rfc3339(&m.start).map(|t| t.to_seconds_string());
                let label = format!("scan {} shard {}", start.unwrap_or_else(|_| m.start.clone()), m.shard);
                (
                    id,
                    label,
                    t(&m.start),
                    m.end.as_deref().and_then(t),
                    Some(m.seed as i64),
                    Some(m.shard.clone()),
                    serde_json::to_string(&m.ports).unwrap_or_default(),
                    targets,
                )
            }
            None => {
                checks.push("backdoor");
                let digest = hex::encode(&Sha256::digest(first_line.as_bytes())[..8]);
                let id = format!("scan:file:{digest}");
                let label =
                    format!("scan {}", path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
                (id, label, None, None, None, None, "[]".to_string(), "null".to_string())
            }
        };
        sqlx::query(
            "INSERT INTO runs (id, kind, label, source, started, ended, seed, shard, ports, targets, checks, ingested) \
             VALUES ($1, 'scan', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (id) DO UPDATE SET ended = COALESCE(excluded.ended, runs.ended), targets = excluded.targets",
        )
        .bind(&id)
        .bind(label)
        .bind(path.display().to_string())
        .bind(started)
        .bind(ended)
        .bind(seed)
        .bind(shard)
        .bind(ports)
        .bind(targets)
        .bind(serde_json::to_string(&checks).unwrap_or_default())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// One batch in one transaction: observations, their sightings, hosts, then the tickets of the hosts touched.
    /// Returns (new observations, ticket events written).
    async fn write_scan_batch(
        &self,
        run: &str,
        batch: &[(u64, Observation, String)],
    ) -> Result<(u64, u64), StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut new = 0u64;
        let mut hosts: BTreeSet<HostKey> = BTreeSet::new();
        // One order for every writer (address, port), so that concurrent ingests into PostgreSQL never deadlock.
        let mut order: Vec<&(u64, Observation, String)> = batch.iter().collect();
        // The order of `tickets::HostKey` (address as text, port), the order the tickets are locked in.
        order.sort_by_cached_key(|a| (a.1.ip.to_string(), a.1.port));
        for (_, o, line) in order {
            let id = observation_id(o);
            let ip = o.ip.to_string();
            let time = exhunt_model::Timestamp::parse_rfc3339(&o.started).map(|t| t.unix()).unwrap_or(0);
            let fp = o.fingerprint.as_ref();
            let inserted = sqlx::query(
                "INSERT INTO observations (id, run_id, ip, port, time, status, class, build, data) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&id)
            .bind(run)
            .bind(&ip)
            .bind(i64::from(o.port))
            .bind(time)
            .bind(o.status.as_str())
            .bind(fp.map(|f| f.class.as_str()))
            .bind(fp.and_then(|f| f.build).map(|b| b.to_string()))
            .bind(line.trim_end())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                continue;
            }
            new += 1;
            for (c, seen) in check::scan_checks(o) {
                let (present, detail) = match seen {
                    Seen::Present { detail } => (1i64, detail),
                    _ => (0, String::new()),
                };
                sqlx::query(
                    "INSERT INTO sightings (record_id, check_name, ip, port, run_id, time, present, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (record_id, check_name) DO NOTHING",
                )
                .bind(&id)
                .bind(c.as_str())
                .bind(&ip)
                .bind(i64::from(o.port))
                .bind(run)
                .bind(time)
                .bind(present)
                .bind(detail)
                .execute(&mut *tx)
                .await?;
            }
            let names = serde_json::to_string(&o.names()).unwrap_or_default();
            sqlx::query(
                "INSERT INTO hosts (ip, port, first_seen, last_seen, names) VALUES ($1, $2, $3, $3, $4) \
                 ON CONFLICT (ip, port) DO UPDATE SET \
                 first_seen = CASE WHEN excluded.first_seen < hosts.first_seen THEN excluded.first_seen ELSE hosts.first_seen END, \
                 last_seen = CASE WHEN excluded.last_seen > hosts.last_seen THEN excluded.last_seen ELSE hosts.last_seen END, \
                 names = CASE WHEN excluded.last_seen >= hosts.last_seen AND excluded.names <> '[]' THEN excluded.names ELSE hosts.names END",
            )
            .bind(&ip)
            .bind(i64::from(o.port))
            .bind(time)
            .bind(names)
            .execute(&mut *tx)
            .await?;
            hosts.insert(HostKey { ip, port: o.port });
        }
        let events = recompute(&mut tx, self.backend, &hosts).await?;
        tx.commit().await?;
        Ok((new, events))
    }
}

/// An observation's identity: where and when it was made (the same observation in two files is one).
fn observation_id(o: &Observation) -> String {
    let key = format!("{}|{}|{}|{}", o.ip, o.port, o.started, o.seq.map(|s| s.to_string()).unwrap_or_default());
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

/// An observation line, `None` for another record type, an error for a line that is no record.
fn parse_observation(line: &str) -> Result<Option<Observation>, String> {
    exhunt_report::from_line::<Observation>(line).map_err(|e| format!("not a record: {e}"))
}

fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// What a file is, from its first lines: an observation makes it a scan file, a host report, incident or hunt
/// finding a hunt file, a CSV header with `timestamp` and `ip` a Shadowserver report.
pub fn detect_kind(path: &Path) -> Result<Kind, StoreError> {
    let read_err = |source| StoreError::Read { path: path.to_path_buf(), source };
    let unknown = |why: &str| StoreError::UnknownKind { path: path.to_path_buf(), why: why.to_string() };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut lines = Lines::new(BufReader::new(file));
    let mut seen_json = false;
    for _ in 0..200 {
        let Some((_, line)) = lines.next().map_err(read_err)? else { break };
        let line = line.trim_start_matches('\u{feff}');
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with('{') {
            let header: Vec<String> =
                line.split(',').map(|c| c.trim().trim_matches('"').to_ascii_lowercase()).collect();
            if !seen_json && header.iter().any(|c| c == "timestamp") && header.iter().any(|c| c == "ip") {
                return Ok(Kind::Shadowserver);
            }
            return Err(unknown("its first line is neither a JSON record nor a Shadowserver CSV header"));
        }
        seen_json = true;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        match v.get("type").and_then(|t| t.as_str()) {
            Some("observation") => return Ok(Kind::Scan),
            Some("host-report" | "incident" | "activity-group") => return Ok(Kind::Hunt),
            Some("finding") => {
                let rule = v.pointer("/data/rule").and_then(|r| r.as_str()).unwrap_or("");
                if !rule.starts_with("EXH-SCAN-") {
                    return Ok(Kind::Hunt);
                }
            }
            _ => {}
        }
    }
    Err(unknown("no observation, host report or hunt finding in its first 200 lines"))
}

/// The scan metadata that names `path` as its observations file: `metadata.json` beside it, or any
/// `*.metadata.json` there (shards writing to one folder), as `exhunt scan` writes them.
fn find_metadata(path: &Path) -> Option<ScanMetadata> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name()?.to_string_lossy().into_owned();
    let absolute = std::path::absolute(path).ok().map(|p| p.display().to_string());
    let mut candidates = vec![dir.join("metadata.json")];
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut more: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".metadata.json")))
            .collect();
        more.sort();
        candidates.extend(more);
    }
    candidates.into_iter().find_map(|p| {
        let text = std::fs::read_to_string(&p).ok()?;
        if text.len() > 16 << 20 {
            return None;
        }
        let m: ScanMetadata = serde_json::from_str(&text).ok()?;
        (m.tool == "exhunt" && (m.observations == name || Some(&m.observations) == absolute.as_ref())).then_some(m)
    })
}

/// Lines of at most [`MAX_LINE`] bytes, numbered from 1; a longer one is skipped to its end and noted in `errors`;
/// invalid UTF-8 is an error too, not a crash.
struct Lines<R> {
    r: R,
    no: u64,
    buf: Vec<u8>,
    errors: Vec<(u64, String)>,
}

impl<R: BufRead> Lines<R> {
    fn new(r: R) -> Self {
        Lines { r, no: 0, buf: Vec::new(), errors: Vec::new() }
    }

    fn next(&mut self) -> std::io::Result<Option<(u64, String)>> {
        loop {
            self.buf.clear();
            let n = (&mut self.r).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut self.buf)?;
            if n == 0 {
                return Ok(None);
            }
            self.no += 1;
            if self.buf.len() > MAX_LINE && self.buf.last() != Some(&b'\n') {
                // Skip the rest of the overlong line.
                loop {
                    let (done, used) = {
                        let avail = self.r.fill_buf()?;
                        if avail.is_empty() {
                            (true, 0)
                        } else if let Some(i) = avail.iter().position(|b| *b == b'\n') {
                            (true, i + 1)
                        } else {
                            (false, avail.len())
                        }
                    };
                    self.r.consume(used);
                    if done {
                        break;
                    }
                }
                self.errors.push((self.no, format!("a line longer than {MAX_LINE} bytes, skipped")));
                continue;
            }
            while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                self.buf.pop();
            }
            match std::str::from_utf8(&self.buf) {
                Ok(s) => return Ok(Some((self.no, s.to_string()))),
                Err(_) => {
                    self.errors.push((self.no, "not UTF-8, skipped".into()));
                    continue;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlong_and_broken_lines_are_errors_not_memory() {
        let mut data = b"a\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        data.extend(b"\nb\n\xff\xfe\nc");
        let mut l = Lines::new(BufReader::new(&data[..]));
        let mut got = Vec::new();
        while let Some((n, s)) = l.next().expect("read") {
            got.push((n, s));
        }
        assert_eq!(got, [(1, "a".to_string()), (3, "b".into()), (5, "c".into())]);
        assert_eq!(l.errors.iter().map(|e| e.0).collect::<Vec<_>>(), [2, 4]);
    }
}
