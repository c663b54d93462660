//! exhunt's scanner: safe fingerprinting of on-premises Exchange at internet scale.
//!
//! `TargetSet` (host names resolved together, [`target::TargetSet::resolve`]) → [`target::ShardIter`] (ZMap-style
//! permuted walk, shards, blocklist first) → [`scan::run`] (global rate, bounded concurrency) → [`ladder::scan`] per
//! target (the safe request ladder only, every step under a deadline, bodies capped, requests to one address spaced
//! across all its ports by [`rate::HostLimiter`]) → [`Observation`] written as one JSON line →
//! [`detect::fingerprint`] (pure: the build, its source and the knowledge base's verdict per chain, replayable by
//! `exhunt detect --from`).
//!
//! What is sent, and why it is safe, is in `docs/scanning.md` and [`ladder`]. Tests send traffic to loopback only.

pub mod blocklist;
pub mod detect;
pub mod error;
pub mod http;
pub mod ladder;
pub mod ntlm;
pub mod observe;
pub mod permute;
pub mod rate;
pub mod replay;
pub mod scan;
pub mod shadowserver;
pub mod target;
pub mod webshell;

pub use blocklist::Blocklist;
pub use detect::{BuildSource, Class, Fingerprint, fingerprint};
pub use error::ScanError;
pub use observe::{Observation, Probe, ScanStatus};
pub use target::{Target, TargetSet};
