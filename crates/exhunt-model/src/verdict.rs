use crate::Build;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An attack chain against Exchange that the knowledge base tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    /// CVE-2021-26855 (SSRF), -26857, -26858, -27065; fixed by the March 2021 security updates.
    ProxyLogon,
    /// CVE-2021-34473, -34523 (April 2021 SUs) and CVE-2021-31207 (May 2021 SUs).
    ProxyShell,
    /// CVE-2022-41040, -41082; fixed by the November 2022 SUs.
    ProxyNotShell,
}

impl Chain {
    pub const ALL: [Chain; 3] = [Chain::ProxyLogon, Chain::ProxyShell, Chain::ProxyNotShell];

    pub fn as_str(&self) -> &'static str {
        match self {
            Chain::ProxyLogon => "proxylogon",
            Chain::ProxyShell => "proxyshell",
            Chain::ProxyNotShell => "proxynotshell",
        }
    }

    /// Display name.
    pub fn name(&self) -> &'static str {
        match self {
            Chain::ProxyLogon => "ProxyLogon",
            Chain::ProxyShell => "ProxyShell",
            Chain::ProxyNotShell => "ProxyNotShell",
        }
    }

    /// The CVEs of the chain.
    pub fn cves(&self) -> &'static [&'static str] {
        match self {
            Chain::ProxyLogon => &["CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858", "CVE-2021-27065"],
            Chain::ProxyShell => &["CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207"],
            Chain::ProxyNotShell => &["CVE-2022-41040", "CVE-2022-41082"],
        }
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The state of one chain on one build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChainStatus {
    /// Every fix of the chain is in this build.
    Fixed,
    /// At least one fix of the chain is missing.
    Vulnerable,
    /// A CU-level build where some builds of the CU are fixed and some are not.
    Indeterminate,
    /// The product does not contain the vulnerable code (Exchange 2010 and older).
    NotAffected,
    /// The knowledge base cannot say (newer than the catalog, malformed, not Exchange): see `reason`.
    Unknown,
}

impl ChainStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ChainStatus::Fixed => "fixed",
            ChainStatus::Vulnerable => "vulnerable",
            ChainStatus::Indeterminate => "indeterminate",
            ChainStatus::NotAffected => "not-affected",
            ChainStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ChainStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of one CVE of a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CveStatus {
    pub cve: String,
    pub status: ChainStatus,
}

/// The verdict for one chain on one build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainVerdict {
    pub chain: Chain,
    pub status: ChainStatus,
    /// Why, in one sentence (e.g. "every build of Exchange 2016 CU19 before 15.1.2176.9 is vulnerable").
    pub reason: String,
    /// Per-CVE states, when they differ within the chain or are worth showing.
    pub cves: Vec<CveStatus>,
}

/// What the knowledge base says about one build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildVerdict {
    /// The build exactly as given.
    pub input: String,
    /// The parsed build in short form; `null` when it did not parse.
    pub build: Option<Build>,
    /// `2010`, `2013`, `2016`, `2019`, `SE`; `null` when not known.
    pub product: Option<String>,
    /// Microsoft's name for the build (e.g. "Exchange Server 2016 CU19 Mar21SU"), or the CU for a CU-level build.
    pub name: Option<String>,
    pub cu: Option<String>,
    /// The security or hotfix update on top of the CU (e.g. `Mar21SU`).
    pub update: Option<String>,
    pub kb: Option<String>,
    /// Release date, `YYYY-MM-DD` or `YYYY-MM` when only the month is known.
    pub release_date: Option<String>,
    /// How the build was matched: `exact`, `cu` (CU level), `product` (only the product is known), `none`.
    pub matched: String,
    /// One per chain, in the order ProxyLogon, ProxyShell, ProxyNotShell.
    pub chains: Vec<ChainVerdict>,
}

impl BuildVerdict {
    /// The verdict for one chain.
    pub fn chain(&self, chain: Chain) -> Option<&ChainVerdict> {
        self.chains.iter().find(|c| c.chain == chain)
    }
}
