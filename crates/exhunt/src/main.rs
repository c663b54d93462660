//! `exhunt`: find, fingerprint, hunt and notify. This file only parses arguments and maps outcomes to exit codes;
//! the work is in the library crates.

mod cli;
mod cmd;
mod exit;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => exit::report_error(&err),
    };
    std::process::exit(code.into());
}
