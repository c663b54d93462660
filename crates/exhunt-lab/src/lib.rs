//! exhunt's simulated world.
//!
//! The evidence half ([`evidence`]) writes synthetic triage folders of Exchange servers — logs, web roots, IIS
//! configuration and, by scenario, the traces of the March 2021 ProxyLogon campaign — each with a `truth.jsonl`
//! that says what a correct hunt must report. The hunt's tests and benchmarks run on them. Everything is a pure
//! function of a seed, drawn from the crate's own generator ([`rng`]) so that output never changes with a
//! dependency update.
//!
//! The folders contain web-shell-shaped files and attacker strings: never put one under a web server's root.

mod error;
pub mod evidence;
pub mod rng;
pub mod serve;

pub use error::LabError;
pub use evidence::{
    CampaignHost, CampaignOptions, DEFAULT_SIZE, EvidenceOptions, EvidenceSummary, InstalledBuild, MIN_SIZE, Scenario,
    campaign, generate,
};
pub use exhunt_model::HostVerdict;
