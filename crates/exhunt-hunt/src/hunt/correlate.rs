//! Following each hit: exploit request → written path → is the file there, what is it → requests to it → client
//! IPs, user agents, first and last use.

use super::findings::{custom, put};
use super::logs::{field_names, parse_ip};
use super::{Engines, HuntOptions};
use crate::discover::Layout;
use crate::evidence::EvidenceSource;
use crate::readers::{self, LogFile, LogKind, Record, RecordSink};
use crate::verdict::{check_of, checks};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder};
use exhunt_detect::Fields;
use exhunt_model::winpath;
use exhunt_model::{ErrorRecord, Evidence, Finding, FindingKind, Severity, Timestamp};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

pub(crate) struct CorrOutput {
    pub findings: Vec<Finding>,
    pub errors: Vec<ErrorRecord>,
}

/// A file an exploit wrote, or a web shell found on disk, and the URL it is served at.
#[derive(Clone, Debug)]
struct Shell {
    windows_path: String,
    /// Lower-cased URL path (`/aspnet_client/shell.aspx`), when a site serves the folder.
    url: Option<String>,
    /// Lower-cased file name.
    name: String,
    /// The finding that named it.
    origin: String,
}

fn path_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // UNC to an administrative share (`\\127.0.0.1\c$\…`) or a drive path, ending in a file with an extension.
        Regex::new(r#"(?i)(\\\\[A-Za-z0-9._-]+\\[A-Za-z]\$|[A-Za-z]:)((?:\\[^\\/:*?"<>|'\r\n]+)+\.[A-Za-z0-9]{1,6})"#)
            .expect("invariant: a valid constant regex")
    })
}

/// Windows paths written by exploitation, extracted from the evidence of CVE-2021-26858/27065 findings.
fn written_paths(findings: &[Finding]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in findings {
        if f.kind != FindingKind::Exploitation || !check_of(f).is_some_and(|c| c.starts_with("log:")) {
            continue;
        }
        let cves = f.details.get("cve").map(|v| v.to_string()).unwrap_or_default();
        if !(cves.contains("26858") || cves.contains("27065")) {
            continue;
        }
        for e in &f.evidence {
            let Some(x) = &e.excerpt else { continue };
            for c in path_regex().captures_iter(x) {
                let root = &c[1];
                let drive = if root.starts_with("\\\\") {
                    root.chars().rev().nth(1).map(|d| d.to_ascii_uppercase()).unwrap_or('C')
                } else {
                    root.chars().next().map(|d| d.to_ascii_uppercase()).unwrap_or('C')
                };
                let p = winpath::normalize(&format!("{drive}:{}", &c[2]));
                let ext = p.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
                if super::files::SCRIPT_EXTENSIONS.contains(&ext.as_str()) {
                    out.push((p, f.id.clone()));
                }
            }
        }
    }
    out.sort();
    out.dedup_by(|b, a| winpath::key(&a.0) == winpath::key(&b.0));
    out
}

/// The URL path a file is served at, from the IIS virtual directories, else Exchange's and IIS's usual folders.
fn url_of(layout: &Layout, windows_path: &str) -> Option<String> {
    let best = layout
        .vdirs
        .iter()
        .filter(|v| !v.physical_path.is_empty() && winpath::is_within(windows_path, &v.physical_path))
        .max_by_key(|v| v.physical_path.len());
    let join = |base: &str, rel: &str| {
        let rel = rel.trim_start_matches('\\').replace('\\', "/");
        let base = base.trim_end_matches('/');
        format!("{base}/{rel}").to_lowercase()
    };
    if let Some(v) = best {
        return Some(join(&v.url, &windows_path[v.physical_path.len()..]));
    }
    let sys = layout.system_drive;
    let wwwroot = format!("{sys}:\\inetpub\\wwwroot");
    if winpath::is_within(windows_path, &wwwroot) {
        return Some(join("", &windows_path[wwwroot.len()..]));
    }
    if let Some(x) = &layout.exchange {
        for sub in ["FrontEnd\\HttpProxy", "ClientAccess"] {
            let base = format!("{}\\{sub}", x.path);
            if winpath::is_within(windows_path, &base) {
                return Some(join("", &windows_path[base.len()..]));
            }
        }
    }
    None
}

struct UseHit {
    shell: usize,
    line: u64,
    time: Option<Timestamp>,
    evidence: Evidence,
    ip: String,
    ua: String,
    status: String,
    method: String,
}

struct ShellSink<'a> {
    ac: &'a AhoCorasick,
    shells: &'a [Shell],
    kind: LogKind,
    hits: Vec<UseHit>,
}

impl RecordSink for ShellSink<'_> {
    fn want(&mut self, _kind: LogKind, raw: &[u8]) -> bool {
        self.ac.is_match(raw)
    }

    fn record(&mut self, r: &Record<'_>) {
        let Some(n) = field_names(self.kind) else { return };
        let url = r.get(n.url).unwrap_or("").to_lowercase();
        if url.is_empty() {
            return;
        }
        for (i, s) in self.shells.iter().enumerate() {
            let hit = match &s.url {
                Some(u) => url == *u,
                None => url.rsplit('/').next() == Some(s.name.as_str()),
            };
            if hit {
                self.hits.push(UseHit {
                    shell: i,
                    line: r.line,
                    time: r.time,
                    evidence: r.evidence(),
                    ip: r.get(n.ip).unwrap_or("").to_string(),
                    ua: r.get(n.ua).unwrap_or("").to_string(),
                    status: r.get(n.status).unwrap_or("").to_string(),
                    method: r.get(n.method).unwrap_or("").to_string(),
                });
            }
        }
    }
}

pub(crate) fn correlate(
    source: &dyn EvidenceSource,
    layout: &Layout,
    engines: &Engines<'_>,
    opts: &HuntOptions,
    findings: &[Finding],
    web_logs: &[LogFile],
) -> CorrOutput {
    let mut out = Vec::new();
    let errors = Vec::new();
    let mut shells: Vec<Shell> = Vec::new();
    let on_disk: BTreeSet<String> = findings
        .iter()
        .filter(|f| check_of(f) == Some(checks::WEBSHELL_FILE) && f.severity >= Severity::High)
        .filter_map(|f| f.details.get("windows_path").and_then(|v| v.as_str()).map(winpath::key))
        .collect();

    // Files written by the exploit: still there?
    for (p, origin) in written_paths(findings) {
        let present = source.find(&p);
        let mut d = BTreeMap::new();
        put(&mut d, "windows_path", &p);
        put(&mut d, "written_by", &origin);
        match present {
            None => {
                d.insert("check".into(), serde_json::json!("webshell-written"));
                out.push(custom(
                    "EXH-CORR-0001",
                    &[&p],
                    FindingKind::Exploitation,
                    Severity::High,
                    format!("The exploit wrote a script file that is no longer on disk: {p}"),
                    None,
                    Vec::new(),
                    "The exploitation succeeded in writing a file the web server can run. It has been removed since \
                     (by an admin, an antivirus, or the attacker). Find out who removed it and when; look for other \
                     new script files and for requests to this one in the IIS logs.",
                    d,
                ));
            }
            Some(f) if !on_disk.contains(&winpath::key(&f.windows_path)) => {
                d.insert("check".into(), serde_json::json!(checks::WEBSHELL_FILE));
                out.push(custom(
                    "EXH-CORR-0002",
                    &[&p],
                    FindingKind::Webshell,
                    Severity::High,
                    format!("A script file written by the exploit is on disk: {p}"),
                    f.mtime,
                    vec![Evidence { path: f.display.clone(), locator: None, sha256: None, excerpt: None }],
                    "The exploit wrote this file and it is still there: treat it as a web shell. Preserve a copy, \
                     remove it, and follow the steps for a compromised server.",
                    d,
                ));
            }
            Some(_) => {}
        }
        let name = winpath::file_name(&p).to_lowercase();
        shells.push(Shell { url: url_of(layout, &p), windows_path: p, name, origin });
    }
    // Web shells found on disk.
    for f in findings {
        if check_of(f) != Some(checks::WEBSHELL_FILE) || f.severity < Severity::High {
            continue;
        }
        let Some(p) = f.details.get("windows_path").and_then(|v| v.as_str()) else { continue };
        if shells.iter().any(|s| winpath::key(&s.windows_path) == winpath::key(p)) {
            continue;
        }
        let name = winpath::file_name(p).to_lowercase();
        shells.push(Shell { url: url_of(layout, p), windows_path: p.to_string(), name, origin: f.id.clone() });
    }
    if shells.is_empty() || web_logs.is_empty() {
        return CorrOutput { findings: out, errors };
    }

    // Requests to them: one more pass over the web logs, behind a prefilter on the file names.
    let names: Vec<&str> = shells.iter().map(|s| s.name.as_str()).collect();
    let ac = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .build(&names)
        .expect("invariant: an automaton over a few file names builds");
    let scans = readers::scan(source, web_logs.to_vec(), &opts.read, |f| ShellSink {
        ac: &ac,
        shells: &shells,
        kind: f.kind,
        hits: Vec::new(),
    });
    let mut by_shell: BTreeMap<(usize, String, bool), Vec<UseHit>> = BTreeMap::new();
    for s in scans {
        for h in s.sink.hits {
            let ok = h.status.starts_with('2');
            by_shell.entry((h.shell, h.ip.clone(), ok)).or_default().push(h);
        }
    }
    for ((i, ip, ok), mut hs) in by_shell {
        hs.sort_by_key(|h| (h.time, h.line));
        let shell = &shells[i];
        let times: Vec<Timestamp> = hs.iter().filter_map(|h| h.time).collect();
        let (t0, t1) = (times.first().copied(), times.last().copied());
        let mut d = BTreeMap::new();
        put(&mut d, "windows_path", &shell.windows_path);
        if let Some(u) = &shell.url {
            put(&mut d, "url", u);
        }
        put(&mut d, "client_ip", &ip);
        let mut uas: Vec<&str> = hs.iter().map(|h| h.ua.as_str()).filter(|u| !u.is_empty()).collect();
        uas.sort_unstable();
        uas.dedup();
        d.insert("user_agents".into(), serde_json::json!(uas));
        let mut methods: Vec<&str> = hs.iter().map(|h| h.method.as_str()).filter(|u| !u.is_empty()).collect();
        methods.sort_unstable();
        methods.dedup();
        d.insert("methods".into(), serde_json::json!(methods));
        d.insert("count".into(), serde_json::json!(hs.len()));
        if let Some(t) = t1 {
            d.insert("last_time".into(), serde_json::json!(t.to_string()));
        }
        put(&mut d, "shell_finding", &shell.origin);
        let ioc_ip = parse_ip(&ip).is_some_and(|a| !engines.ioc.match_ip(a).is_empty());
        if ioc_ip {
            d.insert("actor_ip".into(), serde_json::json!(true));
        }
        d.insert("check".into(), serde_json::json!(if ok { checks::WEBSHELL_REQUEST } else { "webshell-probe" }));
        let first_line = hs[0].line.to_string();
        let evidence: Vec<Evidence> =
            hs.iter().take(super::logs::MAX_EVIDENCE_PER_FINDING).map(|h| h.evidence.clone()).collect();
        let (sev, title) = if ok {
            (
                Severity::High,
                format!("The web shell {} was used: {} successful request(s) from {ip}", shell.name, hs.len()),
            )
        } else {
            (
                Severity::Medium,
                format!("Requests for the web shell path {} that did not succeed ({} from {ip})", shell.name, hs.len()),
            )
        };
        out.push(custom(
            "EXH-CORR-0003",
            &[&shell.windows_path, &ip, &ok.to_string(), &first_line],
            FindingKind::Webshell,
            sev,
            title,
            t0,
            evidence,
            if ok {
                "Someone ran the web shell. Everything it was used for ran with the server's own rights: preserve the \
                 logs, block the client addresses, reset credentials that were on the server, and follow the steps \
                 for a compromised server."
            } else {
                "Someone looked for this web shell. If the requests are from before the file existed, they may come \
                 from another group scanning for known shells; block the addresses."
            },
            d,
        ));
    }
    CorrOutput { findings: out, errors }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_unc_and_drive_paths() {
        let f = Finding {
            id: "x".into(),
            rule: "EXH-LOG-0005".into(),
            kind: FindingKind::Exploitation,
            severity: Severity::High,
            title: String::new(),
            time: None,
            host: None,
            evidence: vec![Evidence {
                path: "a".into(),
                locator: None,
                sha256: None,
                excerpt: Some(
                    r"Download failed and temporary file '\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\a.aspx' needs to be removed; D:\x\b.ASPX"
                        .into(),
                ),
            }],
            remediation: String::new(),
            details: [
                ("check".to_string(), serde_json::json!("log:oab-generator")),
                ("cve".to_string(), serde_json::json!(["CVE-2021-26858"])),
            ]
            .into(),
        };
        let p: Vec<String> = written_paths(&[f]).into_iter().map(|x| x.0).collect();
        assert_eq!(p, vec![r"C:\inetpub\wwwroot\aspnet_client\a.aspx".to_string(), r"D:\x\b.ASPX".to_string()]);
    }
}
