//! Errors of the scanner's setup. A target that fails is never an error: it is an observation with a status.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// A target that is not an address, a CIDR range or a host name.
    #[error("target `{target}`: {reason}")]
    Target { target: String, reason: String },
    /// A line of a targets or exclude file.
    #[error("{}:{line}: `{text}`: {reason}", path.display())]
    FileLine { path: PathBuf, line: usize, text: String, reason: String },
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An option out of range (`--shard 3/2`, a target space too large, …).
    #[error("invalid option `{name}`: {reason}")]
    Option { name: &'static str, reason: String },
    /// The metadata file a scan would write holds another scan's: never overwritten.
    #[error(
        "`{}` holds the metadata of another scan ({differs}): name this scan's with `--metadata FILE`, or write its observations to another folder",
        path.display()
    )]
    MetadataTaken { path: PathBuf, differs: String },
    /// Nothing to scan, or a flag's value that is not allowed; the message names the flag.
    #[error("{0}")]
    Usage(String),
    /// A line of an observations file that is not an observation.
    #[error("{}:{line}: not an observation: {reason}", path.display())]
    Observation { path: PathBuf, line: usize, reason: String },
}
