//! What exhunt's tests share (a dev-dependency only, never in a shipped binary):
//!
//! - [`shared`]: the third-party corpus beside the repository (`../shared`, or `EXHUNT_SHARED`), read in place; a
//!   missing corpus fails the test, never skips it;
//! - [`golden`]: a file that pins output, rewritten with `UPDATE_GOLDEN=1` for review;
//! - [`postgres::Cluster`]: a throw-away PostgreSQL cluster from Debian's package, started on loopback by the test
//!   that needs it and stopped when the test process ends.

pub mod postgres;

use std::path::{Path, PathBuf};

/// The shared folder beside the repository (`corpus/`, `reference/`): `EXHUNT_SHARED`, else `../shared` from the
/// workspace root. Panics when its `corpus/` is missing: a test never skips for a missing part.
pub fn shared() -> PathBuf {
    let p = std::env::var_os("EXHUNT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    assert!(p.join("corpus").is_dir(), "the shared corpus is missing at {}", p.display());
    p
}

/// `shared()/corpus`.
pub fn corpus() -> PathBuf {
    shared().join("corpus")
}

/// Compares `actual` with the golden file at `path`; with `UPDATE_GOLDEN` set, writes it first.
#[track_caller]
pub fn golden(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, actual).unwrap_or_else(|e| panic!("cannot write golden {}: {e}", path.display()));
    }
    let want = std::fs::read_to_string(path).unwrap_or_else(|_| panic!("missing golden {}", path.display()));
    assert_eq!(actual, want, "golden {} differs; rerun with UPDATE_GOLDEN=1 and review", path.display());
}
