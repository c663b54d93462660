//! `--html FILE`: one self-contained page a non-expert can follow. The verdict comes first, then what to do, then
//! the evidence, the timeline and what was (and was not) examined.
//!
//! Every string that came from evidence is attacker-controlled and goes through [`escape_html`]; the page also
//! carries a Content-Security-Policy that forbids scripts, so a missed escape still cannot run code. No external
//! resources: the page works offline and leaks nothing when opened.

// The page is built with `write!` calls whose strings end in `\n` on purpose (one element a line).
#![allow(clippy::write_with_newline)]

use exhunt_model::{ChainStatus, Finding, HostReport, HostVerdict, Locator, Severity};
use std::fmt::Write as _;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}' | '\u{feff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn e(s: &str) -> String {
    escape_html(s)
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.nowrap{white-space:nowrap}
.verdict{padding:1em 1.2em;border-radius:6px;margin:1em 0;border-left:8px solid}
.v-clean{background:#eef8ee;border-color:#2e7d32}.v-vulnerable-not-exploited{background:#fff8e1;border-color:#f9a825}
.v-exploitation-attempted{background:#fff3e0;border-color:#ef6c00}.v-compromised,.v-backdoor-used{background:#fdecea;border-color:#c62828}
.verdict .word{font-size:1.4em;font-weight:700;text-transform:uppercase;letter-spacing:.03em}
table{border-collapse:collapse;width:100%;margin:.5em 0;font-size:.92em}th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}code,pre{font-family:ui-monospace,Consolas,monospace;font-size:.9em}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.5em;white-space:pre-wrap;word-break:break-all;margin:.3em 0}
.sev{font-weight:700;padding:.05em .4em;border-radius:3px;color:#fff}.s-critical{background:#8e0000}.s-high{background:#c62828}
.s-medium{background:#ef6c00}.s-low{background:#1565c0}.s-info{background:#616161}
.finding{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}.finding h3{margin:.2em 0}
.todo{background:#eef4fb;border-left:4px solid #1565c0;padding:.4em .8em;margin:.5em 0}
.muted{color:#666;font-size:.9em}ol li{margin:.3em 0}
"#;

/// Renders the report for one host.
pub fn render_html(
    report: &HostReport,
    findings: &[Finding],
    incident: Option<&exhunt_model::Incident>,
    tool_version: &str,
    kb_hash: &str,
) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let verdict = report.verdict;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>exhunt report: {host}: {v}</title><style>{STYLE}</style></head><body>\n",
        host = e(&report.host),
        v = verdict.as_str()
    );
    let _ = write!(h, "<h1>Exchange compromise check: {}</h1>\n", e(&report.host));
    let _ = write!(
        h,
        "<p class=\"muted\">Evidence examined: {}. Window of interest: {} to {}.</p>\n",
        report.evidence.iter().map(|p| format!("<code>{}</code>", e(p))).collect::<Vec<_>>().join(", "),
        report.window[0],
        report.window[1]
    );
    let _ = write!(
        h,
        "<div class=\"verdict v-{cls}\" id=\"verdict\"><div class=\"word\">{word}</div><p><strong>{headline}</strong></p><p>{reason}</p></div>\n",
        cls = verdict.as_str(),
        word = e(&verdict.as_str().replace('-', " ")),
        headline = e(verdict.headline()),
        reason = e(&report.reason)
    );

    // What to do now.
    h.push_str("<h2 id=\"next-steps\">What to do now</h2>\n<ol>\n");
    for step in &report.next_steps {
        let _ = writeln!(h, "<li>{}</li>", e(step));
    }
    h.push_str("</ol>\n");

    // The story across sources.
    if let Some(inc) = incident {
        h.push_str("<h2 id=\"story\">The attack, step by step</h2>\n");
        if inc.used {
            h.push_str(
                "<p>The steps below show the back door <strong>in use</strong> after it was put in place.</p>\n",
            );
        }
        h.push_str(
            "<table><tr><th>when</th><th>stage</th><th>what happened</th><th>seen in</th><th>findings</th></tr>\n",
        );
        for s in &inc.steps {
            let when = match (s.time, s.last) {
                (Some(a), Some(z)) if a != z => format!("{a} to {z}"),
                (Some(a), _) => a.to_string(),
                _ => "time unknown".to_string(),
            };
            let _ = writeln!(
                h,
                "<tr><td class=\"nowrap\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&when),
                e(s.stage.as_str()),
                e(&s.summary),
                e(&s.sources.join(", ")),
                s.findings
                    .iter()
                    .take(5)
                    .map(|id| format!("<a href=\"#f-{0}\"><code>{0}</code></a>", e(id)))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        h.push_str("</table>\n");
    }

    // Counts.
    h.push_str("<h2 id=\"summary\">Summary</h2>\n<table><tr>");
    for s in Severity::ALL {
        let _ = write!(h, "<th><span class=\"sev s-{0}\">{0}</span></th>", s.as_str());
    }
    h.push_str("<th>errors</th></tr><tr>");
    for s in Severity::ALL {
        let _ = write!(h, "<td>{}</td>", report.counts.get(&s).copied().unwrap_or(0));
    }
    let _ = write!(h, "<td>{}</td></tr></table>\n", report.errors);

    // Builds.
    h.push_str("<h2 id=\"builds\">Exchange build and exposure</h2>\n");
    if report.builds.is_empty() {
        h.push_str("<p>The evidence did not show which Exchange build the server ran.</p>\n");
    } else {
        h.push_str("<table><tr><th>build</th><th>first seen</th><th>last seen</th><th>read from</th></tr>\n");
        for b in &report.builds {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                b.build,
                b.first_seen.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                b.last_seen.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                e(&b.source)
            );
        }
        h.push_str("</table>\n");
    }
    if !report.exposure.is_empty() {
        h.push_str("<ul>\n");
        for x in &report.exposure {
            let _ = writeln!(h, "<li>{}</li>", e(&x.summary));
        }
        h.push_str("</ul>\n");
    }
    if let Some(v) = &report.build_verdict {
        let _ = write!(
            h,
            "<p>Newest build seen: <code>{}</code> ({}).</p>\n<table><tr><th>attack chain</th><th>status</th><th>why</th></tr>\n",
            e(&v.input),
            e(v.name.as_deref().unwrap_or("unknown build"))
        );
        for c in &v.chains {
            let status = match c.status {
                ChainStatus::Vulnerable => "<strong>vulnerable</strong>".to_string(),
                s => s.as_str().to_string(),
            };
            let _ = writeln!(h, "<tr><td>{}</td><td>{status}</td><td>{}</td></tr>", c.chain.name(), e(&c.reason));
        }
        h.push_str("</table>\n");
    }

    // Findings, most severe first.
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.time.cmp(&b.time)).then(a.id.cmp(&b.id)));
    let _ = write!(h, "<h2 id=\"findings\">Findings ({})</h2>\n", sorted.len());
    if sorted.is_empty() {
        h.push_str("<p>None.</p>\n");
    }
    for f in &sorted {
        let _ = write!(
            h,
            "<div class=\"finding\" id=\"f-{id}\"><h3><span class=\"sev s-{sev}\">{sev}</span> {title}</h3>\
             <p class=\"muted\">{kind} · rule <code>{rule}</code> · {time}</p>\n",
            id = e(&f.id),
            sev = f.severity.as_str(),
            title = e(&f.title),
            kind = f.kind.as_str(),
            rule = e(&f.rule),
            time = f.time.map(|t| t.to_string()).unwrap_or_else(|| "time unknown".into())
        );
        for (k, v) in &f.details {
            let val = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(h, "<div class=\"muted\">{}: <code>{}</code></div>", e(k), e(&val));
        }
        for ev in f.evidence.iter().take(20) {
            let loc = match ev.locator {
                Some(Locator::Line(n)) => format!(" line {n}"),
                Some(Locator::Record(n)) => format!(" record {n}"),
                Some(Locator::Offset(n)) => format!(" offset {n}"),
                None => String::new(),
            };
            let _ = write!(h, "<div>Evidence: <code>{}</code>{loc}", e(&ev.path));
            if let Some(sha) = &ev.sha256 {
                let _ = write!(h, " <span class=\"muted\">sha256 {}</span>", e(sha));
            }
            h.push_str("</div>\n");
            if let Some(x) = &ev.excerpt {
                let _ = writeln!(h, "<pre>{}</pre>", e(x));
            }
        }
        if f.evidence.len() > 20 {
            let _ = writeln!(
                h,
                "<p class=\"muted\">… and {} more pieces of evidence (see the JSON output).</p>",
                f.evidence.len() - 20
            );
        }
        let _ = writeln!(h, "<div class=\"todo\"><strong>What to do:</strong> {}</div></div>", e(&f.remediation));
    }

    // Timeline.
    let mut timed: Vec<&Finding> =
        findings.iter().filter(|f| f.time.is_some() && f.severity > Severity::Info).collect();
    timed.sort_by_key(|f| f.time);
    h.push_str("<h2 id=\"timeline\">Timeline</h2>\n");
    if timed.is_empty() {
        h.push_str("<p>No timed findings.</p>\n");
    } else {
        h.push_str("<table><tr><th>time (UTC)</th><th>severity</th><th>what</th></tr>\n");
        for f in timed {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td><span class=\"sev s-{1}\">{1}</span></td><td><a href=\"#f-{3}\">{2}</a></td></tr>",
                f.time.map(|t| t.to_string()).unwrap_or_default(),
                f.severity.as_str(),
                e(&f.title),
                e(&f.id)
            );
        }
        h.push_str("</table>\n");
    }

    // Coverage.
    h.push_str("<h2 id=\"coverage\">What was examined</h2>\n<table><tr><th>source</th><th>files</th><th>records</th><th>unreadable</th><th>first</th><th>last</th><th>gaps</th><th>note</th></tr>\n");
    for c in &report.coverage {
        let gaps = if c.gaps.is_empty() {
            "-".to_string()
        } else {
            c.gaps.iter().map(|g| format!("{} – {}", g[0], g[1])).collect::<Vec<_>>().join("<br>")
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{gaps}</td><td>{}</td></tr>",
            e(&c.source),
            c.files,
            c.records,
            c.malformed,
            c.first.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
            c.last.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
            e(c.note.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table>\n");
    if verdict == HostVerdict::Clean || verdict == HostVerdict::VulnerableNotExploited {
        h.push_str("<p class=\"muted\">A clean result covers only the evidence and time listed above. Missing or rolled-over logs can hide activity.</p>\n");
    }
    let _ = write!(
        h,
        "<p class=\"muted\">Generated by exhunt {} (knowledge base {}). exhunt opened the evidence read-only and changed nothing.</p>\n</body></html>\n",
        e(tool_version),
        e(kb_hash)
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(escape_html("<script>alert('x')</script>"), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
        assert_eq!(escape_html("a\"b&c"), "a&quot;b&amp;c");
        assert_eq!(escape_html("x\u{1b}y\u{202e}"), "x\\u{1b}y\\u{202e}");
    }
}
