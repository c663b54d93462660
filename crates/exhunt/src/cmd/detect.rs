//! `exhunt detect --from observations.jsonl`: recompute every fingerprint and verdict with the current knowledge
//! base, without rescanning.

use crate::cli::DetectArgs;
use crate::exit::{Code, UsageError};
use exhunt_scan::scan::{from_line, to_line};
use std::io::{BufRead as _, Write as _};

pub fn run(args: DetectArgs) -> anyhow::Result<Code> {
    let kb = super::load_kb(args.kb.kb.as_deref())?;
    let f = std::fs::File::open(&args.from)
        .map_err(|e| UsageError(format!("cannot read `{}`: {e}", args.from.display())))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut code = Code::Clean;
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match from_line(&line) {
            Ok(Some(mut o)) => {
                o.fingerprint = exhunt_scan::fingerprint(&o, &kb.catalog);
                out.write_all(to_line(&o).as_bytes())?;
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("exhunt detect: {}:{}: not an observation: {e}", args.from.display(), i + 1);
                code = Code::Errors;
            }
        }
    }
    out.flush()?;
    Ok(code)
}
