use crate::cli::HuntArgs;
use crate::exit::{Code, UsageError};
use exhunt_hunt::evidence::{self, OpenOptions};
use exhunt_hunt::groups::{HostTraces, activity_groups};
use exhunt_hunt::hunt::{BaselineSet, Engines, HostResult, HuntOptions, Progress, hunt_host};
use exhunt_model::{Finding, HostVerdict, Severity, Timestamp};
use exhunt_report::{
    JsonlWriter, error_line, escape_terminal, render_html, write_activity_groups, write_host_report, write_timeline,
};
use std::io::Write;
use std::path::{Path, PathBuf};

fn parse_time(s: &str, what: &str) -> anyhow::Result<Timestamp> {
    let full = if s.len() == 10 { format!("{s}T00:00:00Z") } else { s.to_string() };
    Timestamp::parse_rfc3339(&full)
        .map_err(|_| UsageError(format!("{what} `{s}` is not a date: use YYYY-MM-DD or RFC 3339")).into())
}

pub fn run(args: HuntArgs) -> anyhow::Result<Code> {
    // A folder of collections is one host per entry.
    let targets: Vec<PathBuf> = args
        .paths
        .iter()
        .flat_map(|p| {
            if args.drive.is_some() { None } else { evidence::collections(p) }.unwrap_or_else(|| vec![p.clone()])
        })
        .collect();
    if args.host.is_some() && targets.len() > 1 {
        return Err(UsageError("`--host` names one host: give it with a single PATH of one host".into()).into());
    }
    let kb = super::load_kb(args.kb.kb.as_deref())?;
    let (mut engines, diags) = Engines::new(&kb);
    if diags.iter().any(|d| d.is_error()) {
        for d in diags.iter().filter(|d| d.is_error()) {
            eprintln!("{d}");
        }
        return Err(UsageError("the knowledge base's rules do not compile; run `exhunt kb check`".into()).into());
    }
    // Sigma folders: every rule that cannot load is listed with its reason (an `error` record; exit code 2).
    let mut sigma_failures: Vec<exhunt_model::ErrorRecord> = Vec::new();
    if !args.sigma.is_empty() {
        let dirs: Vec<&Path> = args.sigma.iter().map(PathBuf::as_path).collect();
        let (rules, failures) = exhunt_detect::SigmaRules::load_dirs(&dirs);
        if rules.is_empty() && failures.is_empty() {
            return Err(UsageError("no Sigma rule (*.yml, *.yaml) in the `--sigma` folder(s)".into()).into());
        }
        eprintln!(
            "exhunt: {} Sigma rule(s) loaded from {}{}",
            rules.len(),
            args.sigma.iter().map(|p| escape_terminal(&p.display().to_string())).collect::<Vec<_>>().join(", "),
            if failures.is_empty() { String::new() } else { format!("; {} could not be loaded:", failures.len()) }
        );
        for f in failures {
            sigma_failures.push(exhunt_model::ErrorRecord {
                code: Some("S001".into()),
                message: format!("Sigma rule not loaded: {f}"),
                path: Some(f.path.display().to_string()),
                locator: None,
            });
        }
        for u in rules.unrouted() {
            eprintln!(
                "exhunt: Sigma rule {} ({}) loads but has no log source here: {}",
                escape_terminal(&u.rule.id),
                escape_terminal(&u.rule.path.display().to_string()),
                escape_terminal(&u.reason)
            );
        }
        engines.sigma = rules;
    }
    let mut opts = HuntOptions::default();
    opts.window[0] = parse_time(&args.since, "--since")?;
    if let Some(u) = &args.until {
        opts.window[1] = parse_time(u, "--until")?;
    }
    if opts.window[0] >= opts.window[1] {
        return Err(UsageError("`--since` must be before `--until`".into()).into());
    }
    opts.host = args.host.clone();
    let (baselines, berrs) = BaselineSet::load(&args.baseline);
    if !args.baseline.is_empty() && baselines.baselines.is_empty() {
        return Err(UsageError("no baseline could be read from `--baseline`".into()).into());
    }
    opts.baselines = baselines;
    let json = args.out.is_json();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut hosts_done: Vec<(String, PathBuf, Vec<Finding>)> = Vec::new();
    let mut code = Code::Clean;
    let mut any_errors = !berrs.is_empty() || !sigma_failures.is_empty();
    for e in berrs.iter().chain(&sigma_failures) {
        emit_error(json, &mut out, e)?;
    }
    let open_opts = OpenOptions { drive: args.drive.map(|c| c.to_ascii_uppercase()), ..Default::default() };
    let n_hosts = targets.len();
    for path in &targets {
        let source = match evidence::open(path, &open_opts) {
            Ok(s) => s,
            Err(e) => {
                any_errors = true;
                emit_error(json, &mut out, &e.to_record())?;
                continue;
            }
        };
        let bar = progress_bar(args.no_progress, path);
        let cb = |p: Progress| match p {
            Progress::Phase(s) => {
                bar.set_message(s);
                bar.set_position(0);
            }
            Progress::Bytes { done, total } => {
                bar.set_length(total.max(1));
                bar.set_position(done.min(total));
            }
        };
        let result = hunt_host(source.as_ref(), &engines, &opts, &cb);
        bar.finish_and_clear();
        if !result.errors.is_empty() {
            any_errors = true;
        }
        if json {
            // Each record is flushed as it is written: a killed run keeps every host finished before the kill.
            let mut jw = JsonlWriter::new(&mut out);
            for f in &result.findings {
                jw.write(f)?;
            }
            if let Some(inc) = &result.incident {
                jw.write(inc)?;
            }
            jw.write(&result.report)?;
            for e in &result.errors {
                jw.write(e)?;
            }
        } else {
            write_host_report(&mut out, &result.report, &result.findings, result.incident.as_ref())?;
        }
        if let Some(html) = &args.html {
            let file = if n_hosts > 1 { per_host(html, &result.report.host) } else { html.clone() };
            let page = render_html(
                &result.report,
                &result.findings,
                result.incident.as_ref(),
                env!("CARGO_PKG_VERSION"),
                &kb.content_hash(),
            );
            std::fs::write(&file, page).map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", file.display()))?;
            eprintln!("exhunt: wrote the report for {} to {}", escape_terminal(&result.report.host), file.display());
        }
        code = code.max(host_code(&result));
        hosts_done.push((result.report.host, path.clone(), result.findings));
    }
    if hosts_done.len() >= 2 {
        let names: Vec<String> = hosts_done
            .iter()
            .map(|(_, path, _)| path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default())
            .collect();
        let traces: Vec<HostTraces<'_>> = hosts_done
            .iter()
            .zip(&names)
            .map(|((host, _, findings), evidence)| HostTraces { host, evidence, findings })
            .collect();
        let groups = activity_groups(&traces);
        if json {
            let mut jw = JsonlWriter::new(&mut out);
            for g in &groups {
                jw.write(g)?;
            }
        } else {
            write_activity_groups(&mut out, &groups, hosts_done.len())?;
        }
    }
    if let Some(t) = &args.timeline {
        let all_findings: Vec<Finding> = hosts_done.into_iter().flat_map(|(_, _, f)| f).collect();
        let f = std::fs::File::create(t).map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", t.display()))?;
        write_timeline(&all_findings, std::io::BufWriter::new(f))?;
        eprintln!("exhunt: wrote the timeline ({} findings) to {}", all_findings.len(), t.display());
    }
    // A compromise outranks "finished with errors": the exit code must not hide it.
    Ok(if code == Code::Findings {
        Code::Findings
    } else if any_errors {
        Code::Errors
    } else {
        code
    })
}

fn host_code(r: &HostResult) -> Code {
    if r.report.verdict != HostVerdict::Clean || r.findings.iter().any(|f| f.severity >= Severity::Medium) {
        Code::Findings
    } else {
        Code::Clean
    }
}

fn emit_error(json: bool, out: &mut dyn Write, e: &exhunt_model::ErrorRecord) -> anyhow::Result<()> {
    if json {
        let mut w = JsonlWriter::new(out);
        w.write(e)?;
    } else {
        eprintln!("exhunt: {}", error_line(e));
    }
    Ok(())
}

fn per_host(html: &Path, host: &str) -> PathBuf {
    let safe: String =
        host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let stem = html.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "report".into());
    let ext = html.extension().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "html".into());
    html.with_file_name(format!("{stem}-{safe}.{ext}"))
}

fn progress_bar(disabled: bool, path: &Path) -> indicatif::ProgressBar {
    if disabled {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(1), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{prefix} {msg:16} [{bar:30}] {bytes}/{total_bytes} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(escape_terminal(&path.display().to_string()));
    bar
}
