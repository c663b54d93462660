//! Exit codes, as in the house style:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | clean: nothing found, no errors (also when stdout was closed early: a broken pipe is not an error) |
//! | 1 | findings: the command found something (for `kb check`/`kb test`: problems in the knowledge base) |
//! | 2 | finished, but some items could not be processed (each one was reported as an `error` record) |
//! | 3 | usage or configuration error: nothing was done |

/// The process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    Clean = 0,
    Findings = 1,
    Errors = 2,
    Usage = 3,
}

impl From<Code> for i32 {
    fn from(c: Code) -> i32 {
        c as i32
    }
}

/// A configuration error: printed, exit 3.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Prints an error that ended the command and picks its exit code.
pub fn report_error(err: &anyhow::Error) -> Code {
    if is_broken_pipe(err) {
        return Code::Clean;
    }
    eprintln!("exhunt: error: {err:#}");
    if err.downcast_ref::<UsageError>().is_some() { Code::Usage } else { Code::Errors }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
