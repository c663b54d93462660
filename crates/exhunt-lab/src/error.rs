//! Errors of the lab.

use std::path::PathBuf;

/// Why generating a lab folder failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// Reading or writing a file or folder failed.
    #[error("cannot write `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The output folder already holds files; the lab never mixes its output with other data.
    #[error("`{}` is not empty: choose a new or empty folder", path.display())]
    NotEmpty { path: PathBuf },
    /// An option is out of range.
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption { name: &'static str, reason: String },
    /// A scenario name that does not exist.
    #[error("unknown scenario `{0}`: use one of clean, probed, exploited, backdoored, used")]
    UnknownScenario(String),
}

impl LabError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> LabError {
        LabError::Io { path: path.into(), source }
    }
}
