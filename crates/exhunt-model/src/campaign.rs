//! The campaign's records: a remediation [`Ticket`] of one host and check, as the store keeps it
//! (`exhunt campaign tickets --format jsonl`; `docs/output.md` § ticket).

use crate::Timestamp;
use serde::{Deserialize, Serialize};

/// One ticket: the remediation state of one (ip, port, check), CISA Cyber Hygiene's semantics
/// (`docs/campaign.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    /// `192.0.2.7:443/proxylogon#0`: the host, the check, and the key's ticket number (a key seen again more than
    /// 90 days after its ticket closed gets a new one).
    pub id: String,
    pub ip: String,
    pub port: u16,
    /// `proxylogon`, `proxyshell`, `proxynotshell`, `backdoor` or `compromised`.
    pub check: String,
    /// `open`, `closed` or `false-positive` (an open ticket the operator marked, until its expiry).
    pub state: String,
    pub opened: Timestamp,
    pub last_seen: Timestamp,
    pub closed: Option<Timestamp>,
    /// What was last seen: the build, the web shells' paths. Server-chosen: escape before display.
    pub detail: String,
    pub false_positive_until: Option<Timestamp>,
    pub false_positive_reason: Option<String>,
    /// The owner the host is attributed to, when it is.
    pub owner: Option<String>,
    /// The names the host gave for itself (certificate, NTLM). Server-chosen: escape before display.
    pub names: Vec<String>,
}
