//! exhunt's scanner: safe fingerprinting of on-premises Exchange at internet scale.
//!
//! `TargetSet` (host names resolved together, [`target::TargetSet::resolve`]) → [`target::ShardIter`] (ZMap-style
//! permuted walk, shards, blocklist first) → [`scan::run`] (global rate, bounded concurrency) → [`ladder::scan`] per
//! target (the safe request ladder only, every step under a deadline, bodies capped, requests to one address spaced
//! across all its ports by [`rate::HostLimiter`]) → [`exhunt_model::Observation`] → `exhunt_detect::scan`
//! (pure: the fingerprint and the findings, replayable by `exhunt detect --from`) → one JSON line per record.
//! The records and their detection are not here: this crate is the network.
//!
//! What is sent, and why it is safe, is in `docs/scanning.md` and [`ladder`]. Tests send traffic to loopback only.

pub mod blocklist;
pub mod error;
pub mod http;
pub mod job;
pub mod ladder;
pub mod observe;
pub mod permute;
pub mod rate;
pub mod replay;
pub mod scan;
pub mod target;

pub use blocklist::Blocklist;
pub use error::ScanError;
pub use job::{JobError, ScanJob, ScanOutcome, ScanSpec};
pub use target::{Target, TargetSet};
