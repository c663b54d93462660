use crate::{Build, BuildVerdict, Severity, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The one-word answer for a host, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostVerdict {
    /// Not vulnerable (as far as the evidence shows) and no sign of exploitation.
    Clean,
    /// The build was vulnerable at some time in the window, but no exploitation was seen.
    VulnerableNotExploited,
    /// Exploitation requests were seen (probes or a full chain), but no back door is present.
    ExploitationAttempted,
    /// A back door (web shell) is present on disk.
    Compromised,
    /// A back door is present or was present, and requests show it was used.
    BackdoorUsed,
}

impl HostVerdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            HostVerdict::Clean => "clean",
            HostVerdict::VulnerableNotExploited => "vulnerable-not-exploited",
            HostVerdict::ExploitationAttempted => "exploitation-attempted",
            HostVerdict::Compromised => "compromised",
            HostVerdict::BackdoorUsed => "backdoor-used",
        }
    }

    /// One sentence for a non-expert.
    pub fn headline(&self) -> &'static str {
        match self {
            HostVerdict::Clean => "No sign of compromise was found in the evidence examined.",
            HostVerdict::VulnerableNotExploited => {
                "The server ran a vulnerable build, but no exploitation was found in the evidence examined."
            }
            HostVerdict::ExploitationAttempted => {
                "Attackers tried to exploit this server; no back door was found on disk."
            }
            HostVerdict::Compromised => "This server is compromised: a back door (web shell) is on disk.",
            HostVerdict::BackdoorUsed => "This server is compromised and the back door was used by an attacker.",
        }
    }
}

impl fmt::Display for HostVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A build the server ran, and when the evidence shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSpan {
    pub build: Build,
    /// Where the build was read: `httpproxy-log`, `registry`, `x-owa-version`, …
    pub source: String,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
}

/// How much of one evidence source was examined, and over which time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// The source kind: `httpproxy`, `ecp-server`, `oab-generator`, `iis`, `files`, `evtx:Application`, …
    pub source: String,
    pub files: u64,
    pub records: u64,
    /// Records that could not be parsed.
    pub malformed: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Periods inside the window of interest with no record at all (longer than a day), oldest first.
    pub gaps: Vec<[Timestamp; 2]>,
    /// What the absence or shortness of this source means, in words (`null` when coverage is complete).
    pub note: Option<String>,
}

/// How long the server was exposed to one chain, from the builds seen over time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exposure {
    pub chain: crate::Chain,
    /// The first time a build vulnerable to the chain was seen (`null` if none was).
    pub vulnerable_from: Option<Timestamp>,
    /// The first time a fixed build was seen after a vulnerable one (`null` while still vulnerable, or if never).
    pub fixed_at: Option<Timestamp>,
    /// The sentence for the report.
    pub summary: String,
}

/// Everything the hunt concluded about one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostReport {
    pub host: String,
    /// The evidence path(s) given.
    pub evidence: Vec<String>,
    pub verdict: HostVerdict,
    /// Why, in one or two sentences.
    pub reason: String,
    /// Ids of the findings that decided the verdict.
    pub deciding: Vec<String>,
    /// Builds seen over time, oldest first.
    pub builds: Vec<BuildSpan>,
    /// The verdict of the newest build seen, when one was seen.
    pub build_verdict: Option<BuildVerdict>,
    /// Per chain: when the server was vulnerable and when it was patched, as far as the builds seen show.
    pub exposure: Vec<Exposure>,
    /// The window of interest examined.
    pub window: [Timestamp; 2],
    pub coverage: Vec<Coverage>,
    /// Findings per severity.
    pub counts: BTreeMap<Severity, u64>,
    /// Items that could not be processed.
    pub errors: u64,
    /// Ordered steps to take, for a non-expert.
    pub next_steps: Vec<String>,
}
