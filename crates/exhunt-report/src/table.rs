use crate::text::{escape_terminal, truncate_chars};
use exhunt_model::{BuildVerdict, ChainStatus, Finding};
use std::io::{self, Write};

/// A plain aligned table. Cells are escaped for the terminal and cut to a width per column.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    max_width: Vec<usize>,
}

impl Table {
    /// A table with these column headers; `max_width` per column (0 means no limit).
    pub fn new(headers: &[&str], max_width: &[usize]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            max_width: (0..headers.len()).map(|i| max_width.get(i).copied().unwrap_or(0)).collect(),
        }
    }

    pub fn push(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let c = escape_terminal(&c);
                match self.max_width.get(i) {
                    Some(&w) if w > 0 => truncate_chars(&c, w),
                    _ => c,
                }
            })
            .collect();
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let line = |cells: &[String], out: &mut dyn Write| -> io::Result<()> {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate().take(n) {
                if i + 1 == n {
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    s.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count() + 2));
                }
            }
            writeln!(out, "{}", s.trim_end())
        };
        line(&self.headers, out)?;
        for r in &self.rows {
            line(r, out)?;
        }
        Ok(())
    }
}

fn status_cell(s: ChainStatus) -> String {
    s.as_str().to_string()
}

/// The table of `exhunt kb verdict`: one row per build, one column per chain, then the reasons worth reading.
pub fn verdict_table(verdicts: &[BuildVerdict], out: &mut dyn Write) -> io::Result<()> {
    let mut t = Table::new(&["BUILD", "PRODUCT", "NAME", "PROXYLOGON", "PROXYSHELL", "PROXYNOTSHELL"], &[32, 8, 44]);
    for v in verdicts {
        let mut row = vec![
            v.input.clone(),
            v.product.clone().unwrap_or_else(|| "-".into()),
            v.name.clone().unwrap_or_else(|| "-".into()),
        ];
        row.extend(v.chains.iter().map(|c| status_cell(c.status)));
        t.push(row);
    }
    t.write(out)?;
    // Reasons for every status a reader would ask "why?" about; once per build when all chains share it.
    let mut notes: Vec<String> = Vec::new();
    for v in verdicts {
        let interesting = |c: &&exhunt_model::ChainVerdict| {
            matches!(c.status, ChainStatus::Indeterminate | ChainStatus::Unknown | ChainStatus::NotAffected)
                || v.matched == "inferred"
        };
        let shown: Vec<&exhunt_model::ChainVerdict> = v.chains.iter().filter(interesting).collect();
        let input = escape_terminal(&v.input);
        if shown.len() == v.chains.len() && shown.windows(2).all(|w| w[0].reason == w[1].reason) {
            if let Some(c) = shown.first() {
                notes.push(format!("{input} (every chain): {}", escape_terminal(&c.reason)));
            }
            continue;
        }
        for c in shown {
            notes.push(format!("{input} {}: {}", c.chain.name(), escape_terminal(&c.reason)));
        }
    }
    if !notes.is_empty() {
        writeln!(out)?;
        for n in notes {
            writeln!(out, "  {n}")?;
        }
    }
    Ok(())
}

/// The table of findings: most severe first, then by time.
pub fn findings_table(findings: &[Finding], out: &mut dyn Write) -> io::Result<()> {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.time.cmp(&b.time)).then(a.id.cmp(&b.id)));
    let mut t = Table::new(&["SEVERITY", "KIND", "TIME", "RULE", "TITLE", "EVIDENCE"], &[0, 0, 0, 16, 60, 80]);
    for f in sorted {
        let ev = f
            .evidence
            .first()
            .map(|e| match e.locator {
                Some(exhunt_model::Locator::Line(n)) => format!("{}:{n}", e.path),
                Some(exhunt_model::Locator::Record(n)) => format!("{}#{n}", e.path),
                Some(exhunt_model::Locator::Offset(n)) => format!("{}@{n}", e.path),
                None => e.path.clone(),
            })
            .unwrap_or_default();
        t.push(vec![
            f.severity.to_string(),
            f.kind.to_string(),
            f.time.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
            f.rule.clone(),
            f.title.clone(),
            ev,
        ]);
    }
    t.write(out)
}
