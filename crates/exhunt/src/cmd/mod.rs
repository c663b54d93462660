use crate::cli::{Cli, Command, LabTop};
use crate::exit::{Code, UsageError};
use exhunt_kb::{Diagnostic, Kb};
use std::path::Path;

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
        Command::Lab(LabTop::Serve(args)) => scan::lab_serve(args),
        Command::Scan(args) => scan::scan(args),
        Command::Detect(args) => detect::run(args),
        Command::Demo { dir, scenario, seed, size } => demo(dir, &scenario, seed, &size),
    }
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

/// `exhunt demo`: lab evidence, then a hunt of it with an HTML report and a timeline beside it.
fn demo(dir: Option<std::path::PathBuf>, scenario: &str, seed: u64, size: &str) -> anyhow::Result<Code> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("exhunt-demo-{}", std::process::id())),
    };
    let evidence = dir.join("evidence");
    lab::run(crate::cli::LabCommand::Evidence {
        dir: evidence.clone(),
        seed,
        size: size.to_string(),
        scenario: scenario.to_string(),
        host: None,
    })?;
    let args = crate::cli::HuntArgs {
        paths: vec![evidence],
        timeline: Some(dir.join("timeline.csv")),
        html: Some(dir.join("report.html")),
        host: None,
        since: "2021-01-01".into(),
        until: None,
        baseline: Vec::new(),
        drive: None,
        sigma: Vec::new(),
        no_progress: false,
        kb: crate::cli::KbArgs { kb: None },
        out: crate::cli::OutputArgs { format: "table".into(), json: false },
    };
    let code = hunt::run(args)?;
    eprintln!(
        "exhunt demo: open {} in a browser; the lab's ground truth is in {}",
        dir.join("report.html").display(),
        dir.join("evidence/truth.jsonl").display()
    );
    // The demo worked when the hunt ran: findings are its point, not a failure.
    Ok(if code == Code::Findings { Code::Clean } else { code })
}
