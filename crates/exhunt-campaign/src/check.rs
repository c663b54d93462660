//! What one record says about each ticket check of one host: present, absent, or unknown.
//!
//! A ticket closes only on a proof of absence: a later run covered that address, port and check, the host answered,
//! and the finding was not there (CISA Cyber Hygiene's rule; `../shared/reference/notify-anchors.md` §9). The
//! observation itself is the proof of coverage: an address a run did not reach has no observation in it, a host
//! that did not answer has a status other than `success`, and a check that did not run (web shells without
//! `--webshells`, a chain the build cannot decide) is [`Seen::Unknown`]. So nothing here needs the run's target list
//! to decide; the run's declared coverage is kept for the status and the curve.

use exhunt_model::{Chain, ChainStatus, Class, HostReport, HostVerdict, Observation};
use serde::{Deserialize, Serialize};

/// What a ticket is about. One ticket per (owner, ip, port, check).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The build is vulnerable to ProxyLogon (CVE-2021-26855, -26857, -26858, -27065).
    Proxylogon,
    /// The build is vulnerable to ProxyShell.
    Proxyshell,
    /// The build is vulnerable to ProxyNotShell.
    Proxynotshell,
    /// A web shell answered at a probed path (the scan's `EXH-SCAN-0010`).
    Backdoor,
    /// A hunt of the host's evidence found a back door on disk or its use (`compromised`, `backdoor-used`).
    Compromised,
}

impl Check {
    pub const ALL: [Check; 5] =
        [Check::Proxylogon, Check::Proxyshell, Check::Proxynotshell, Check::Backdoor, Check::Compromised];

    pub fn as_str(&self) -> &'static str {
        match self {
            Check::Proxylogon => "proxylogon",
            Check::Proxyshell => "proxyshell",
            Check::Proxynotshell => "proxynotshell",
            Check::Backdoor => "backdoor",
            Check::Compromised => "compromised",
        }
    }

    pub fn parse(s: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The chain of a vulnerability check.
    pub fn chain(&self) -> Option<Chain> {
        match self {
            Check::Proxylogon => Some(Chain::ProxyLogon),
            Check::Proxyshell => Some(Chain::ProxyShell),
            Check::Proxynotshell => Some(Chain::ProxyNotShell),
            Check::Backdoor | Check::Compromised => None,
        }
    }

    fn of_chain(c: Chain) -> Check {
        match c {
            Chain::ProxyLogon => Check::Proxylogon,
            Chain::ProxyShell => Check::Proxyshell,
            Chain::ProxyNotShell => Check::Proxynotshell,
        }
    }

    /// The checks a scan observation can speak to.
    pub const SCAN: [Check; 4] = [Check::Proxylogon, Check::Proxyshell, Check::Proxynotshell, Check::Backdoor];
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one record says about one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "seen", rename_all = "kebab-case")]
pub enum Seen {
    /// The finding is there; `detail` says what was seen (the build, the shell's paths), so that a change in it is
    /// a `changed` event rather than a plain `verified`.
    Present { detail: String },
    /// The check ran on a host that answered, and the finding was not there: the only thing that closes a ticket.
    Absent,
    /// Nothing can be said: the host did not answer, or the check did not run or could not decide.
    Unknown,
}

/// What a scan observation says about `check` (the hunt-only check [`Check::Compromised`] is always unknown here).
pub fn from_observation(o: &Observation, check: Check) -> Seen {
    if !o.status.answered() {
        return Seen::Unknown;
    }
    let fp = o.fingerprint.as_ref();
    match check {
        Check::Compromised => Seen::Unknown,
        Check::Backdoor => {
            // The web-shell check ran when the ladder sent its soft-404 baseline; without it (no `--webshells`, or a
            // host the ladder stopped at) nothing is known.
            if !o.probes.iter().any(|p| p.name == "baseline") {
                return Seen::Unknown;
            }
            let Some(fp) = fp else { return Seen::Unknown };
            if fp.webshells.is_empty() {
                Seen::Absent
            } else {
                let mut paths: Vec<&str> = fp.webshells.iter().map(|w| w.path.as_str()).collect();
                paths.sort_unstable();
                Seen::Present { detail: paths.join(" ") }
            }
        }
        _ => {
            let chain = check.chain().expect("invariant: a vulnerability check has a chain");
            let Some(fp) = fp else { return Seen::Unknown };
            match fp.class {
                // The host answered and is not Exchange (any more): the vulnerable build is gone from this address.
                Class::NotExchange | Class::Lookalike => Seen::Absent,
                Class::Exchange => match fp.chains.get(chain.as_str()) {
                    Some(ChainStatus::Vulnerable) => Seen::Present {
                        detail: fp.build.map(|b| b.to_string()).unwrap_or_else(|| "unknown build".into()),
                    },
                    Some(ChainStatus::Fixed | ChainStatus::NotAffected) => Seen::Absent,
                    _ => Seen::Unknown,
                },
            }
        }
    }
}

/// Every check a scan observation speaks to, with what it says (unknowns left out).
pub fn scan_checks(o: &Observation) -> Vec<(Check, Seen)> {
    Check::SCAN.into_iter().map(|c| (c, from_observation(o, c))).filter(|(_, s)| *s != Seen::Unknown).collect()
}

/// What a hunt's host report says about [`Check::Compromised`]: present for `compromised` and `backdoor-used`;
/// absent only when the hunt read the server's files (a `files` coverage entry with files in it), since a verdict
/// from logs alone cannot prove that no back door is on disk; else unknown.
pub fn from_host_report(r: &HostReport) -> Seen {
    match r.verdict {
        HostVerdict::Compromised | HostVerdict::BackdoorUsed => Seen::Present { detail: r.verdict.as_str().into() },
        _ if r.coverage.iter().any(|c| c.source == "files" && c.files > 0) => Seen::Absent,
        _ => Seen::Unknown,
    }
}

/// The chain checks in a fixed order, for callers that walk chains.
pub fn chain_checks() -> impl Iterator<Item = Check> {
    Chain::ALL.into_iter().map(Check::of_chain)
}
