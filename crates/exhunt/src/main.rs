//! `exhunt`: find, fingerprint, hunt and notify. This file only parses arguments and maps outcomes to exit codes;
//! the work is in the library crates.

mod cli;
mod cmd;
mod exit;

use clap::Parser;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are not errors; every other parse failure is a usage error (exit 3, not clap's 2).
            let code = if e.use_stderr() { exit::Code::Usage } else { exit::Code::Clean };
            let _ = e.print();
            std::process::exit(code.into());
        }
    };
    let code = match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => exit::report_error(&err),
    };
    std::process::exit(code.into());
}
