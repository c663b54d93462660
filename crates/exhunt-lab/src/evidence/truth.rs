//! `truth.jsonl`: the ground truth of a lab folder, one JSON object per line (format in `docs/lab.md`).

use exhunt_model::{FindingKind, Severity};
use serde::Serialize;

/// The first line: what was simulated and the verdict a correct hunt reaches.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub scenario: &'static str,
    pub seed: u64,
    pub host: String,
    pub fqdn: String,
    pub verdict: &'static str,
    pub product: &'static str,
    pub builds: Vec<BuildRecord>,
    pub window: Window,
    /// Requested size of the logs in bytes.
    pub size: u64,
    pub actor_ips: Vec<String>,
    pub actor_user_agents: Vec<String>,
    pub scanner_ips: Vec<String>,
    pub shells: Vec<ShellRecord>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BuildRecord {
    pub build: String,
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Window {
    pub from: String,
    pub to: String,
}

/// A web shell the chain wrote, on disk or not.
#[derive(Clone, Debug, Serialize)]
pub struct ShellRecord {
    pub path: String,
    pub windows_path: String,
    pub url: String,
    pub family: &'static str,
    pub written: String,
    pub on_disk: bool,
}

/// One planted trace.
#[derive(Clone, Debug, Serialize)]
pub struct ExpectRecord {
    #[serde(rename = "type")]
    pub kind_tag: &'static str,
    pub id: String,
    pub kind: FindingKind,
    pub check: &'static str,
    pub path: String,
    pub line: Option<u64>,
    pub time: Option<String>,
    pub min_severity: Severity,
    pub required: bool,
    pub indicators: Vec<&'static str>,
    #[serde(rename = "match")]
    pub matches: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<&'static str>,
    pub note: &'static str,
}

/// The last line: what was written.
#[derive(Clone, Debug, Serialize)]
pub struct StatsRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub files: u64,
    pub bytes: u64,
    pub log_bytes: u64,
    pub lines: u64,
    pub expects: u64,
}
