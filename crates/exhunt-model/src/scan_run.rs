//! What a scan was and what its observations file holds: `metadata.json` ([`ScanMetadata`]) and the counts of the
//! file ([`Tally`]). Written by the scanner, read by the campaign store to record what a run covered.

use crate::{ChainStatus, Class, Observation};
use serde::{Deserialize, Serialize};

/// What an observations file holds, counted: the exit code and `metadata.json` come from it, so a resumed scan
/// counts everything it wrote across runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
        self.observations += 1;
        *self.statuses.entry(o.status.as_str().to_string()).or_default() += 1;
        let Some(f) = &o.fingerprint else { return };
        if f.class == Class::Exchange {
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

/// `metadata.json`, written in the folder of `--out` (or to `--metadata FILE`) when a scan starts and again when
/// it ends: what was run, with which knowledge base and blocklist, and what came of it.
///
/// A metadata file belongs to one scan: one observations file, seed and shard. A scan never overwrites another's
/// (`exhunt_scan::scan::check_metadata`), so shards writing to one folder need a `--metadata FILE` each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanMetadata {
    pub tool: String,
    pub version: String,
    /// The observations file (`--out`): its name when it is in the metadata file's folder, else its absolute path
    /// (`exhunt_scan::scan::observations_ref`).
    pub observations: String,
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
    /// SHA-256 of the blocklist's entries, one per line .
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Host names that gave no address in the last run, with why: never scanned, so in no observation.
    pub unresolved: std::collections::BTreeMap<String, String>,
}
