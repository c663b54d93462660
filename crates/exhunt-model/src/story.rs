//! The story of one host's compromise across sources ([`Incident`]) and the groups of hosts that share an actor's
//! traces ([`ActivityGroup`]).

use crate::Timestamp;
use serde::{Deserialize, Serialize};

/// A stage of the 2021 attack chain on Exchange, in the order an intruder goes through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Exploit requests: the SSRF and its follow-up requests in HttpProxy/IIS logs.
    Exploit,
    /// The back door being planted: `Set-*VirtualDirectory` with a script, an OAB virtual directory reset, the
    /// OAB generator writing a file to a web folder.
    Plant,
    /// A web shell on disk, or a web file written by the Exchange or web server processes.
    FileWritten,
    /// Requests to the web shell.
    ShellUsed,
    /// Commands run by the web server process (`w3wp.exe`, `UMWorkerProcess.exe`) and other execution.
    Execution,
    /// Credential theft: lsass dumps, registry hive exports.
    CredentialAccess,
    /// Data or tools staged for exfiltration: archives, dumps, mailbox exports.
    Staging,
    /// A foothold that survives a reboot or a patch: accounts, group membership, tasks, services, transport agents.
    Persistence,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Exploit,
        Stage::Plant,
        Stage::FileWritten,
        Stage::ShellUsed,
        Stage::Execution,
        Stage::CredentialAccess,
        Stage::Staging,
        Stage::Persistence,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Stage::Exploit => "exploit",
            Stage::Plant => "plant",
            Stage::FileWritten => "file-written",
            Stage::ShellUsed => "shell-used",
            Stage::Execution => "execution",
            Stage::CredentialAccess => "credential-access",
            Stage::Staging => "staging",
            Stage::Persistence => "persistence",
        }
    }

    /// The stage in words, for a report.
    pub fn describe(&self) -> &'static str {
        match self {
            Stage::Exploit => "Exploit requests reached the server",
            Stage::Plant => "A back door was planted through Exchange itself",
            Stage::FileWritten => "A web shell file was written",
            Stage::ShellUsed => "The web shell was requested",
            Stage::Execution => "Commands or tools ran on the server",
            Stage::CredentialAccess => "Credentials were stolen",
            Stage::Staging => "Data or tools were staged",
            Stage::Persistence => "A lasting foothold was added",
        }
    }

    /// True for the stages that show the back door being used once it is in place.
    pub fn is_use(&self) -> bool {
        matches!(
            self,
            Stage::ShellUsed | Stage::Execution | Stage::CredentialAccess | Stage::Staging | Stage::Persistence
        )
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of an incident: the findings of one stage that happened together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentStep {
    pub stage: Stage,
    /// The earliest time of the step's findings (`null` when none of them has a time).
    pub time: Option<Timestamp>,
    /// The latest time of the step's findings.
    pub last: Option<Timestamp>,
    /// One line: what happened. Contains attacker-controlled text: escape before display.
    pub summary: String,
    /// Where it was seen: `httpproxy`, `iis`, `files`, `evtx:Microsoft-Windows-Sysmon/Operational`, …
    pub sources: Vec<String>,
    /// Ids of the findings behind the step.
    pub findings: Vec<String>,
}

/// The compromise of one host told as one story across every source examined: steps ordered by time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// Stable id: the same evidence gives the same id.
    pub id: String,
    pub host: String,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// True when steps after the back door was in place show it being used.
    pub used: bool,
    /// The stages seen, in attack-chain order.
    pub stages: Vec<Stage>,
    /// Ordered by time; steps without a time come last, in attack-chain order.
    pub steps: Vec<IncidentStep>,
}

/// One trace that hosts of a group share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupLink {
    /// `sha256`, `shell-name`, `client-ip`, `user-agent`, `path-family` (a web-shell location pattern with its
    /// content family).
    pub kind: String,
    /// The shared value. Attacker-controlled: escape before display.
    pub value: String,
    /// The hosts that share it, sorted.
    pub hosts: Vec<String>,
}

/// Hosts that share an actor's traces: the same web shell content or name, the same client addresses or user
/// agents, the same shell location pattern with the same family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityGroup {
    /// Stable id over the member hosts and links.
    pub id: String,
    /// Sorted.
    pub hosts: Vec<String>,
    /// What joins them, strongest kinds first.
    pub links: Vec<GroupLink>,
    /// Web-shell or tool families seen on the member hosts.
    pub families: Vec<String>,
    /// The earliest and latest exploitation or web-shell time on the member hosts.
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// One sentence for a report.
    pub summary: String,
}
