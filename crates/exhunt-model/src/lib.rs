//! The vocabulary every exhunt crate speaks.
//!
//! Pure data with serde: no I/O. A scan, a hunt and a notification campaign all describe what they saw with the
//! types here, so a finding produced by one can be stored, printed or replayed by another.
//!
//! * [`Build`]: an Exchange build number (`15.1.2176.9`, `15.01.2176.009` or the CU-level `15.1.2176`).
//! * [`BuildVerdict`] / [`ChainVerdict`]: what the knowledge base says about a build, per attack chain.
//! * [`Finding`] / [`Evidence`] / [`Locator`]: what a rule found and where.
//! * [`Incident`] / [`ActivityGroup`]: one host's compromise across sources; hosts that share an actor's traces.
//! * [`Observation`] / [`Fingerprint`]: what a scan saw of one target, and what that says.
//! * [`ErrorRecord`]: one item that could not be processed; it never aborts a run.
//! * [`Record`]: the trait that names each record type in the JSON Lines envelope.
//! * [`net::IpNet`]: an IPv4 or IPv6 address or network, for IOC packs, scan targets and the lab's ranges.
//! * [`winpath`]: Windows paths in the forms the hunt, the path rules and the IOC packs compare.

mod build;
mod campaign;
mod finding;
mod host;
pub mod net;
mod observation;
mod scan_run;
mod story;
mod time_fmt;
mod verdict;
pub mod winpath;

pub use build::{Build, BuildParseError};
pub use campaign::Ticket;
pub use finding::{ErrorRecord, Evidence, Finding, FindingKind, Locator, Severity};
pub use host::{BuildSpan, Coverage, Exposure, HostReport, HostVerdict};
pub use observation::{
    BuildSource, CertInfo, Class, Fingerprint, NtlmInfo, Observation, Probe, ScanStatus, TlsInfo, WebShellHit,
};
pub use scan_run::{ScanMetadata, Tally, TargetCounts};
pub use story::{ActivityGroup, GroupLink, Incident, IncidentStep, Stage};
pub use time_fmt::Timestamp;
pub use verdict::{BuildVerdict, Chain, ChainStatus, ChainVerdict, CveStatus};

/// A value that travels in the output envelope `{"type": TYPE, "v": VERSION, "data": …}`.
pub trait Record: serde::Serialize {
    /// The envelope's `type`.
    const TYPE: &'static str;
    /// The schema version of `data` for this type; bumped on any incompatible change.
    const VERSION: u32 = 1;
}

impl Record for Finding {
    const TYPE: &'static str = "finding";
}
impl Record for BuildVerdict {
    const TYPE: &'static str = "build-verdict";
}
impl Record for ErrorRecord {
    const TYPE: &'static str = "error";
}
impl Record for HostReport {
    const TYPE: &'static str = "host-report";
}
impl Record for Incident {
    const TYPE: &'static str = "incident";
}
impl Record for Observation {
    const TYPE: &'static str = "observation";
}
impl Record for Ticket {
    const TYPE: &'static str = "ticket";
}
impl Record for ActivityGroup {
    const TYPE: &'static str = "activity-group";
}
