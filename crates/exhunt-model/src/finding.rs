use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// An attempt to exploit the server (e.g. a CVE-2021-26855 request).
    Exploitation,
    /// A web shell or other server-side back door.
    Webshell,
    /// What an intruder did once in (commands run, files staged).
    PostExploitation,
    /// A way back in that survives a patch (accounts, tasks, transport agents).
    Persistence,
    /// Credential theft (lsass dumps, SAM/NTDS access).
    CredentialAccess,
    /// The server runs a build vulnerable to a chain.
    Vulnerable,
    /// Background that helps a reader judge other findings; never a finding of compromise alone.
    Context,
}

impl FindingKind {
    pub const ALL: [FindingKind; 7] = [
        FindingKind::Exploitation,
        FindingKind::Webshell,
        FindingKind::PostExploitation,
        FindingKind::Persistence,
        FindingKind::CredentialAccess,
        FindingKind::Vulnerable,
        FindingKind::Context,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            FindingKind::Exploitation => "exploitation",
            FindingKind::Webshell => "webshell",
            FindingKind::PostExploitation => "post-exploitation",
            FindingKind::Persistence => "persistence",
            FindingKind::CredentialAccess => "credential-access",
            FindingKind::Vulnerable => "vulnerable",
            FindingKind::Context => "context",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FindingKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        FindingKind::ALL.into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

/// Where in a piece of evidence the finding points. Serialized as exactly one key: `{"line": 12}`,
/// `{"record": 4711}` (an event log record id) or `{"offset": 1024}` (a byte offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Locator {
    /// 1-based line number in a text file.
    Line(u64),
    /// Event record id in an event log.
    Record(u64),
    /// 0-based byte offset in a file.
    Offset(u64),
}

/// One piece of evidence behind a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The file (or URL, for a scan) where the evidence is, as the source names it.
    pub path: String,
    /// Where in that file; `null` when the whole file is the evidence.
    pub locator: Option<Locator>,
    /// SHA-256 of the whole file, lower-case hex; `null` when not computed (e.g. a live stream).
    pub sha256: Option<String>,
    /// The matching text, truncated to a few hundred characters. Attacker-controlled: escape before display.
    pub excerpt: Option<String>,
}

/// Something a rule found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Stable id of this finding: the same evidence gives the same id on every run.
    pub id: String,
    /// The id of the rule (or IOC pack entry) that produced it.
    pub rule: String,
    pub kind: FindingKind,
    pub severity: Severity,
    pub title: String,
    /// When the thing happened (not when it was found), RFC 3339 UTC; `null` when unknown.
    pub time: Option<Timestamp>,
    /// The host it concerns (server name, address, or collection name).
    pub host: Option<String>,
    pub evidence: Vec<Evidence>,
    /// What to do about it, in words a non-expert can follow.
    pub remediation: String,
    /// Extra facts by name (e.g. `client_ip`, `family`, `cve`). Values are attacker-controlled strings as often as not.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
}

/// One item that could not be processed. A run goes on after it; the exit code says errors happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRecord {
    /// A stable code such as `K012` or `B001`, when the error has one.
    pub code: Option<String>,
    /// What went wrong and what to do next.
    pub message: String,
    /// The file, argument or target it concerns.
    pub path: Option<String>,
    pub locator: Option<Locator>,
}
