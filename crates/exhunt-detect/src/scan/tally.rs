//! What an observations file holds, counted: the scan's exit code and `metadata.json` come from it.

use exhunt_model::{ChainStatus, Class, Observation};
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
