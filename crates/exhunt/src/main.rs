//! `exhunt`: find, fingerprint, hunt and notify. This file only parses arguments and maps outcomes to exit codes;
//! the work is in the library crates.

mod cli;
mod cmd;
mod exit;

use clap::Parser;

/// mimalloc rather than glibc's allocator: the scanner and the lab allocate per request from many threads, and
/// glibc's arena locks and consolidation were about a tenth of their CPU (`bench/scan_vs_nmap.sh`, perf).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
