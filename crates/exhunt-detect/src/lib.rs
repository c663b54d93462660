//! Evaluation without I/O: the knowledge base's rules compiled once, then run over records, paths and bytes that the
//! caller read.
//!
//! * [`LogRules`]: log rules over [`Fields`] of one record, behind an Aho-Corasick prefilter over the raw record.
//! * [`PathRules`]: globs and regexes over Windows paths and file names in `/` form
//!   ([`exhunt_model::winpath::slashed`]).
//! * [`FileRules`]: YARA source compiled with yara-x, scanned over bytes; hits carry the matching offsets.
//! * [`IocIndex`]: the IOC packs indexed for lookups of paths, file names, hashes, addresses, user agents and
//!   domains, with a literal prefilter for log lines.
//! * [`scan`]: a scan observation's fingerprint, web shells, NTLM names and findings.
//!
//! [`check`] compiles every rule and returns what does not compile (the part of `exhunt kb check` that needs a
//! compiler; the loader's own diagnostics come from [`exhunt_kb::Kb::load`]). [`selftest`] runs every rule over its
//! own positive and negative samples (`exhunt kb test`).
//!
//! ```
//! use exhunt_detect::{LogRules, PathRules};
//! let kb = exhunt_kb::Kb::builtin();
//! let (logs, _) = LogRules::new(&kb);
//! let record = [("AnchorMailbox", "ServerInfo~a]@ex01.contoso.test:444/ecp/proxyLogon.ecp?#")];
//! let raw = b"...,ServerInfo~a]@ex01.contoso.test:444/ecp/proxyLogon.ecp?#,...";
//! assert!(logs.matches("httpproxy", raw, &record[..]).contains(&"EXH-LOG-0001"));
//! let (paths, _) = PathRules::new(&kb);
//! assert!(!paths.matches(r"C:\inetpub\wwwroot\aspnet_client\shell.aspx").is_empty());
//! ```

mod error;
pub mod event;
mod fields;
mod file;
pub mod ioc;
mod locate;
mod log;
mod path;
pub mod scan;
mod selftest;
pub mod sigma;

pub use error::DetectError;
pub use event::Event;
pub use fields::Fields;
pub use file::{FileHit, FileRules, FileScanner, PatternMatch, SCAN_TIMEOUT};
pub use ioc::IocIndex;
pub use log::{Candidates, LogRules};
pub use path::PathRules;
pub use selftest::{SampleResult, SelfTest, selftest};
pub use sigma::{SigmaHit, SigmaLoadFailure, SigmaRuleInfo, SigmaRules};

use exhunt_kb::{Diagnostic, Kb};

/// A stable finding id: the first 16 hex digits of SHA-256 over the rule id and the parts that locate the evidence.
/// The same evidence gives the same id on every run and every machine; scan and hunt findings both use it.
pub fn finding_id(rule: &str, parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

/// Compiles every rule of `kb` and returns what does not compile: K010 (log rule regex), K011 (YARA, positioned in
/// the TOML or `.yar` file), K022 (path rule glob or regex), and K044 warnings (YARA compiler warnings).
///
/// Diagnostics come in rule-file order. The loader's diagnostics are not repeated here.
pub fn check(kb: &Kb) -> Vec<Diagnostic> {
    let (_, file) = FileRules::new(kb);
    let (_, log) = LogRules::new(kb);
    let (_, path) = PathRules::new(kb);
    let mut all: Vec<Diagnostic> = file.into_iter().chain(log).chain(path).collect();
    // Stable: diagnostics of one file keep the order in which they were found.
    all.sort_by(|a, b| a.file.cmp(&b.file));
    all
}
