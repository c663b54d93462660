//! Helpers shared by the tests.

use exhunt_detect::Fields;
use exhunt_hunt::readers::{FileStats, LogKind, ReadOptions, Record, read_log};
use exhunt_model::Timestamp;
use std::path::PathBuf;

pub use exhunt_testkit::shared;

/// A corpus file, which must exist.
pub fn corpus(rel: &str) -> PathBuf {
    let p = shared().join("corpus").join(rel);
    assert!(p.is_file(), "corpus file missing: {} (set EXHUNT_SHARED)", p.display());
    p
}

/// A record copied out of the reader's buffers.
#[derive(Clone, Debug)]
pub struct Owned {
    pub line: u64,
    pub time: Option<Timestamp>,
    pub malformed: bool,
    pub raw: String,
    pub fields: Vec<(String, String)>,
}

impl Owned {
    pub fn from(r: &Record<'_>) -> Owned {
        Owned {
            line: r.line,
            time: r.time,
            malformed: r.malformed,
            raw: r.raw.to_string(),
            fields: r.fields().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        if name == "_raw" {
            return Some(&self.raw);
        }
        Fields::get(&self.fields, name)
    }
}

/// Reads bytes as a log of `kind`, keeping every record.
pub fn read_all(kind: LogKind, path: &str, bytes: &[u8], opts: &ReadOptions) -> (FileStats, Vec<Owned>) {
    let mut out = Vec::new();
    let stats = read_log(kind, path, bytes, opts, &mut |r: &Record<'_>| {
        // Fields seen through the trait agree with the iterator.
        for (k, _) in r.fields() {
            assert!(Fields::get(r, k).is_some(), "field {k} of line {}", r.line);
        }
        out.push(Owned::from(r));
    });
    (stats, out)
}

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).expect("valid test time")
}
