//! `exhunt campaign …`: assembles the store (`exhunt-store`) and the printers. Exit codes as every command: 1 when
//! the listing holds open tickets (`tickets`, `status`), 2 when some lines of a file could not be ingested (each an
//! `error` record on stdout with `--json`, a line on stderr otherwise), 3 when the campaign cannot be opened or a
//! file is of no known kind.

use crate::cli::CampaignCommand;
use crate::exit::{Code, UsageError};
use exhunt_model::{ErrorRecord, Locator, Timestamp};
use exhunt_report::{JsonlWriter, Table, escape_terminal};
use exhunt_store::{Kind, Status, Store, StoreError, TicketFilter};
use std::io::Write as _;

pub fn run(cmd: CampaignCommand) -> anyhow::Result<Code> {
    let rt = super::runtime()?;
    rt.block_on(run_async(cmd))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn open(db: &str) -> anyhow::Result<Store> {
    Store::open(db).await.map_err(|e| UsageError(e.to_string()).into())
}

async fn run_async(cmd: CampaignCommand) -> anyhow::Result<Code> {
    match cmd {
        CampaignCommand::Ingest { db, kind, batch, files, out } => {
            let kind = kind.as_deref().and_then(Kind::parse);
            let store = open(&db.db).await?.with_batch(batch);
            let mut stdout = JsonlWriter::new(std::io::BufWriter::new(std::io::stdout().lock()));
            let mut code = Code::Clean;
            for f in &files {
                let report = match store.ingest(f, kind, now()).await {
                    Ok(r) => r,
                    Err(
                        e @ (StoreError::UnknownKind { .. } | StoreError::Read { .. } | StoreError::BadFile { .. }),
                    ) => {
                        // Nothing of this file went in; the others still do.
                        eprintln!("exhunt campaign ingest: {e}");
                        code = code.max(Code::Errors);
                        if out.is_json() {
                            stdout.write(&ErrorRecord {
                                code: Some("C001".into()),
                                message: e.to_string(),
                                path: Some(f.display().to_string()),
                                locator: None,
                            })?;
                        }
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                for e in &report.errors {
                    code = code.max(Code::Errors);
                    if out.is_json() {
                        stdout.write(&ErrorRecord {
                            code: Some("C002".into()),
                            message: e.message.clone(),
                            path: Some(e.path.display().to_string()),
                            locator: Some(Locator::Line(e.line)),
                        })?;
                    } else {
                        eprintln!("{}:{}: {}", e.path.display(), e.line, escape_terminal(&e.message));
                    }
                }
                if report.already {
                    eprintln!("exhunt campaign ingest: `{}` was ingested before: nothing to do", f.display());
                } else {
                    eprintln!(
                        "exhunt campaign ingest: `{}`: {} {} records ({} new), {} ticket events, {} errors; run `{}`",
                        f.display(),
                        report.records,
                        report.kind.map(|k| k.as_str()).unwrap_or("?"),
                        report.new,
                        report.events,
                        report.errors.len(),
                        report.run.as_deref().unwrap_or("-"),
                    );
                }
            }
            stdout.into_inner().flush()?;
            store.close().await;
            Ok(code)
        }
        CampaignCommand::Status { db, format } => {
            let store = open(&db.db).await?;
            let status = store.status(now()).await?;
            store.close().await;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if format == "json" {
                serde_json::to_writer_pretty(&mut out, &status)?;
                writeln!(out)?;
            } else {
                status_table(&status, &mut out)?;
            }
            out.flush()?;
            Ok(if status.open.values().any(|n| *n > 0) { Code::Findings } else { Code::Clean })
        }
        CampaignCommand::Tickets { db, state, check, owner, out: fmt } => {
            let store = open(&db.db).await?;
            let filter = TicketFilter { state, check: check.as_deref().and_then(exhunt_campaign::Check::parse), owner };
            let tickets = store.tickets(&filter, now()).await?;
            store.close().await;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if fmt.is_json() {
                let mut w = JsonlWriter::new(&mut out);
                for t in &tickets {
                    w.write(t)?;
                }
            } else {
                let mut table = Table::new(
                    &["TICKET", "STATE", "OPENED", "LAST SEEN", "CLOSED", "SEEN", "NAMES"],
                    &[48, 14, 20, 20, 20, 40, 40],
                );
                for t in &tickets {
                    table.push(vec![
                        t.id.clone(),
                        t.state.clone(),
                        t.opened.to_string(),
                        t.last_seen.to_string(),
                        t.closed.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                        t.detail.clone(),
                        t.names.join(" "),
                    ]);
                }
                table.write(&mut out)?;
            }
            out.flush()?;
            Ok(if tickets.iter().any(|t| t.state == "open") { Code::Findings } else { Code::Clean })
        }
        CampaignCommand::Fp { db, ticket, until, reason } => {
            let until = parse_until(&until)
                .ok_or_else(|| UsageError(format!("`{until}` is not a date: use YYYY-MM-DD or an RFC 3339 time")))?;
            let store = open(&db.db).await?;
            let now = now();
            if until <= now {
                return Err(UsageError(format!("`--until` must be in the future (it is {})", show(until))).into());
            }
            let t = store.mark_false_positive(&ticket, until, &reason, now).await.map_err(|e| match e {
                StoreError::NoTicket(_) | StoreError::BadTicketId(_) => anyhow::Error::from(UsageError(e.to_string())),
                e => e.into(),
            })?;
            store.close().await;
            eprintln!("exhunt campaign fp: `{}` is a false positive until {}", t.id, show(until));
            Ok(Code::Clean)
        }
    }
}

fn show(secs: i64) -> String {
    Timestamp::from_unix(secs).map(|t| t.to_string()).unwrap_or_else(|| secs.to_string())
}

/// `YYYY-MM-DD` (UTC midnight) or RFC 3339.
fn parse_until(s: &str) -> Option<i64> {
    if let Ok(t) = Timestamp::parse_rfc3339(s) {
        return Some(t.unix());
    }
    Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z")).ok().map(|t| t.unix())
}

/// One row per run, oldest first: the curve in numbers.
fn status_table(s: &Status, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut table = Table::new(
        &[
            "RUN",
            "STARTED",
            "SEEN",
            "EXCHANGE",
            "VULNERABLE",
            "PROXYLOGON",
            "PROXYSHELL",
            "PROXYNOTSHELL",
            "FIXED",
            "BACK DOOR",
            "OPENED",
            "CLOSED",
        ],
        &[40, 20, 8, 8, 16, 10, 10, 13, 8, 9, 7, 7],
    );
    for r in &s.runs {
        let v = |c: &str| r.vulnerable.get(c).copied().unwrap_or(0).to_string();
        table.push(vec![
            r.label.clone(),
            r.started.map(show).unwrap_or_else(|| "-".into()),
            r.observations.to_string(),
            r.exchange.to_string(),
            format!("{} ({:.1}%)", r.vulnerable_any, r.vulnerable_share * 100.0),
            v("proxylogon"),
            v("proxyshell"),
            v("proxynotshell"),
            r.fixed.to_string(),
            r.backdoor.to_string(),
            r.opened.to_string(),
            r.closed.to_string(),
        ]);
    }
    table.write(out)?;
    let open: Vec<String> = s.open.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(
        out,
        "\n{} hosts; tickets open: {}; closed {}; false positive {}",
        s.hosts,
        if open.is_empty() { "none".to_string() } else { open.join(", ") },
        s.closed,
        s.false_positive
    )
}
