use crate::cli::{Cli, Command, LabTop};
use crate::exit::{Code, UsageError};
use exhunt_kb::{Diagnostic, Kb};
use std::path::Path;

#[cfg(feature = "campaign")]
mod campaign;
mod demo;
mod detect;
mod hunt;
mod kb;
mod lab;
mod scan;

pub fn run(cli: Cli) -> anyhow::Result<Code> {
    match cli.command {
        Command::Kb(cmd) => kb::run(cmd),
        Command::Hunt(args) => hunt::run(args),
        Command::Lab(LabTop::Evidence(cmd)) => lab::run(cmd),
        Command::Lab(LabTop::Serve(args)) => lab::lab_serve(args),
        Command::Lab(LabTop::Compare(args)) => lab::compare(args),
        Command::Scan(args) => scan::scan(args),
        Command::Detect(args) => detect::run(args),
        #[cfg(feature = "campaign")]
        Command::Campaign(cmd) => campaign::run(cmd),
        Command::Demo { dir, scenario, seed, size } => demo::run(dir, &scenario, seed, &size),
    }
}

/// The one tokio runtime of a command that does network or database work (scan, lab, campaign, demo).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Loads the knowledge base named by `--kb`, or the built-in one. A knowledge base with errors is a configuration
/// error: its diagnostics are printed and the command stops with exit 3.
pub fn load_kb(dir: Option<&Path>) -> anyhow::Result<Kb> {
    let Some(dir) = dir else { return Ok(Kb::builtin()) };
    if !dir.is_dir() {
        return Err(UsageError(format!("knowledge base `{}` is not a folder", dir.display())).into());
    }
    let (kb, diags) = Kb::load_dir(dir);
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        for d in &errors {
            eprintln!("{d}");
        }
        return Err(UsageError(format!(
            "knowledge base `{}` has {} error(s); run `exhunt kb check {}` for details",
            dir.display(),
            errors.len(),
            dir.display()
        ))
        .into());
    }
    Ok(kb)
}
