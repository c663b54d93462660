//! Errors of evaluation. Compilation problems are not errors here: they are coded diagnostics (see [`crate::check`]).

/// Something that stopped one evaluation; the caller records it and goes on with the next item.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    /// The YARA scanner gave up on one input (timeout, or an error inside a module).
    #[error("yara scan of `{path}` failed: {source}")]
    Scan {
        /// The path the caller named, or `<bytes>` when none.
        path: String,
        #[source]
        source: yara_x::ScanError,
    },
}
