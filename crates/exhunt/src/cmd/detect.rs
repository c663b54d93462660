//! `exhunt detect --from observations.jsonl`: recompute every fingerprint, verdict and finding with the current
//! knowledge base, without rescanning (the findings in the file are dropped and written again from their
//! observations). Exit codes as `exhunt scan`: 1 when an Exchange host is vulnerable or a web shell was
//! found, 2 when a line was not an observation (each reported on stderr; the others are still processed).

use crate::cli::DetectArgs;
use crate::exit::{Code, UsageError};
use exhunt_detect::scan::{Tally, findings, fingerprint};
use exhunt_model::Observation;
use exhunt_report::{from_line, shadowserver, to_line};
use std::io::{BufRead as _, Write as _};

pub fn run(args: DetectArgs) -> anyhow::Result<Code> {
    let kb = super::load_kb(args.kb.kb.as_deref())?;
    let f = std::fs::File::open(&args.from)
        .map_err(|e| UsageError(format!("cannot read `{}`: {e}", args.from.display())))?;
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut out = if args.format == "shadowserver" {
        Out::Csv(Box::new(shadowserver::Writer::new(out)?))
    } else {
        Out::Jsonl(out)
    };
    let mut tally = Tally::default();
    let mut bad = 0u64;
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match from_line::<Observation>(&line) {
            Ok(Some(mut o)) => {
                o.fingerprint = fingerprint(&o, &kb);
                tally.add(&o);
                match &mut out {
                    Out::Csv(w) => w.write(&o)?,
                    Out::Jsonl(w) => {
                        w.write_all(to_line(&o).as_bytes())?;
                        for f in findings(&o) {
                            w.write_all(to_line(&f).as_bytes())?;
                        }
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("exhunt detect: {}:{}: not an observation: {e}", args.from.display(), i + 1);
                bad += 1;
            }
        }
    }
    if let Out::Jsonl(w) = &mut out {
        w.flush()?;
    }
    eprintln!(
        "exhunt detect: {} observations, {} Exchange, {} vulnerable, {} with web shells{}",
        tally.observations,
        tally.exchange,
        tally.vulnerable,
        tally.webshell_hosts,
        if bad > 0 { format!("; {bad} lines were not observations") } else { String::new() }
    );
    Ok(if tally.has_findings() {
        Code::Findings
    } else if bad > 0 {
        Code::Errors
    } else {
        Code::Clean
    })
}

enum Out<W: std::io::Write> {
    Jsonl(W),
    Csv(Box<shadowserver::Writer<W>>),
}
