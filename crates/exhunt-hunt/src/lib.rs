//! Host evidence for `exhunt hunt`: where the files are, where Exchange and IIS are, and the logs read as records.
//!
//! * [`evidence`]: a PATH (triage folder, `.zip` read in place, live root or mounted image) as an
//!   [`evidence::EvidenceSource`] of files named by normalised Windows paths, opened read-only.
//! * [`discover`]: Exchange's install path and build (SOFTWARE hive, usual paths, `Logging\HttpProxy`), IIS sites,
//!   virtual directories and log folders (`applicationHost.config`), as a [`discover::Layout`].
//! * [`readers`]: streaming readers of Exchange CSV logs and IIS W3C logs that push records with named fields
//!   ([`exhunt_detect::Fields`]) to a [`readers::RecordSink`], behind a raw-bytes prefilter, with coverage statistics.
//!
//! Problems with one item are [`error::HuntError`]s, turned into `error` records: they never stop the hunt.
//!
//! ```
//! use exhunt_hunt::readers::{LogKind, ReadOptions, Record, read_log};
//! use exhunt_detect::Fields;
//! let log = "#Fields: date time cs-method cs-uri-stem c-ip\n2021-03-03 02:11:09 POST /ecp/y.js 167.99.168.251\n";
//! let mut stems = Vec::new();
//! let stats = read_log(LogKind::Iis, "u_ex210303.log", log.as_bytes(), &ReadOptions::default(), &mut |r: &Record<'_>| {
//!     stems.push(r.get("cs-uri-stem").unwrap_or_default().to_string());
//! });
//! assert_eq!(stems, ["/ecp/y.js"]);
//! assert_eq!(stats.first_time.map(|t| t.to_string()).as_deref(), Some("2021-03-03T02:11:09Z"));
//! ```

pub mod discover;
pub mod error;
pub mod evidence;
pub mod groups;
pub mod hunt;
pub mod readers;
pub mod verdict;
