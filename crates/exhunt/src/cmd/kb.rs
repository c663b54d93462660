use crate::cli::KbCommand;
use crate::exit::Code;
use exhunt_kb::{Diagnostic, Kb, KbFiles};
use exhunt_model::ErrorRecord;
use exhunt_report::{JsonlWriter, verdict_table};
use std::io::Write;
use std::path::Path;

pub fn run(cmd: KbCommand) -> anyhow::Result<Code> {
    match cmd {
        KbCommand::Check { dir, out } => check(dir.as_deref(), out.is_json()),
        KbCommand::Test { dir, out } => test(dir.as_deref(), out.is_json()),
        KbCommand::Verdict { builds, kb, out } => verdict(&builds, kb.kb.as_deref(), out.is_json()),
    }
}

/// Loads a folder (or the built-in files) without refusing it on errors: `check` and `test` report them.
fn load_for_check(dir: Option<&Path>) -> anyhow::Result<(Kb, Vec<Diagnostic>, String)> {
    match dir {
        Some(d) => {
            if !d.is_dir() {
                return Err(crate::exit::UsageError(format!("`{}` is not a folder", d.display())).into());
            }
            let (kb, diags) = Kb::load_dir(d);
            Ok((kb, diags, d.display().to_string()))
        }
        None => {
            let (kb, diags) = Kb::load(KbFiles::embedded());
            Ok((kb, diags, "<builtin>".to_string()))
        }
    }
}

fn print_diags(diags: &[Diagnostic], json: bool) -> anyhow::Result<()> {
    if json {
        let stdout = std::io::stdout();
        let mut w = JsonlWriter::new(stdout.lock());
        for d in diags {
            w.write(&d.to_record())?;
        }
    } else {
        let stderr = std::io::stderr();
        let mut e = stderr.lock();
        for d in diags {
            writeln!(e, "{d}\n")?;
        }
    }
    Ok(())
}

fn check(dir: Option<&Path>, json: bool) -> anyhow::Result<Code> {
    let (kb, mut diags, name) = load_for_check(dir)?;
    diags.extend(exhunt_detect::check(&kb));
    print_diags(&diags, json)?;
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    eprintln!(
        "kb check {name}: {} builds, {} IOC entries in {} packs, {} rules; {errors} error(s), {warnings} warning(s)",
        kb.catalog.rows().len(),
        kb.iocs.len(),
        kb.iocs.packs().len(),
        kb.rules.rules.len(),
    );
    Ok(if errors > 0 { Code::Findings } else { Code::Clean })
}

fn test(dir: Option<&Path>, json: bool) -> anyhow::Result<Code> {
    let (kb, mut diags, name) = load_for_check(dir)?;
    diags.extend(exhunt_detect::check(&kb));
    let load_errors: Vec<Diagnostic> = diags.into_iter().filter(|d| d.is_error()).collect();
    let st = exhunt_detect::selftest(&kb);
    let failures = st.failures();
    print_diags(&load_errors, json)?;
    print_diags(&failures, json)?;
    let passed = st.results.len() - failures.len();
    eprintln!(
        "kb test {name}: {} rules, {} samples: {passed} passed, {} failed; {} rule(s) could not load",
        kb.rules.rules.len(),
        st.results.len(),
        failures.len(),
        load_errors.len()
    );
    Ok(if failures.is_empty() && load_errors.is_empty() { Code::Clean } else { Code::Findings })
}

fn verdict(builds: &[String], kb_dir: Option<&Path>, json: bool) -> anyhow::Result<Code> {
    let kb = super::load_kb(kb_dir)?;
    let mut code = Code::Clean;
    let mut verdicts = Vec::with_capacity(builds.len());
    for (i, input) in builds.iter().enumerate() {
        if let Err(e) = exhunt_model::Build::parse(input) {
            let d = Diagnostic::error(
                "B001",
                format!("argument {}", i + 1),
                format!("malformed build `{}`", escape(input)),
            )
            .at(0, e.column)
            .with_help(format!("{}; a build looks like 15.1.2176.9, 15.01.2176.009 or 15.1.2176", e.reason));
            if json {
                JsonlWriter::new(std::io::stdout().lock()).write(&ErrorRecord {
                    code: Some("B001".into()),
                    message: format!("malformed build `{input}` at column {}: {}", e.column, e.reason),
                    path: Some(format!("argument {}", i + 1)),
                    locator: None,
                })?;
            } else {
                eprintln!("{d}\n");
            }
            code = Code::Errors;
        }
        verdicts.push(kb.catalog.verdict_str(input));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let mut w = JsonlWriter::new(&mut out);
        for v in &verdicts {
            w.write(v)?;
        }
    } else {
        verdict_table(&verdicts, &mut out)?;
    }
    Ok(code)
}

fn escape(s: &str) -> String {
    exhunt_report::escape_terminal(s)
}
