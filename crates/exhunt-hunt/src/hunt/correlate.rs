//! Following each hit: exploit request → written path → is the file there, what is it → requests to it → client
//! IPs, user agents, first and last use.
//!
//! The requests come from what the log pass kept ([`KeptRequests`], see `requests.rs` for which and why): the web
//! logs are not read again, and [`requests_to_shells`] gives the same answer from the same kept requests.

use super::Engines;
use super::findings::{custom, put};
use super::logs::parse_ip;
use super::requests::{KeptRequests, Request, unkept_could_match};
use crate::discover::Layout;
use crate::evidence::EvidenceSource;
use crate::verdict::{check_of, checks};
use exhunt_model::winpath;
use exhunt_model::{ErrorRecord, Evidence, Finding, FindingKind, Locator, Severity, Timestamp};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

pub(crate) struct CorrOutput {
    pub findings: Vec<Finding>,
    pub errors: Vec<ErrorRecord>,
}

/// A file an exploit wrote, or a web shell found on disk, and the URL it is served at.
#[derive(Clone, Debug)]
pub(crate) struct Shell {
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

pub(crate) fn correlate(
    source: &dyn EvidenceSource,
    layout: &Layout,
    engines: &Engines<'_>,
    findings: &[Finding],
    kept: &KeptRequests,
) -> CorrOutput {
    let mut out = Vec::new();
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
    let (uses, errors) = requests_to_shells(engines, &shells, kept);
    out.extend(uses);
    CorrOutput { findings: out, errors }
}

/// The requests to each shell among those the log pass kept: one finding per (shell, client IP, success), and an
/// `error` record for each shell whose requests may be incomplete (`H040`: a cap dropped requests it may have had;
/// `H041`: it sits where requests are not kept). A pure function of its inputs: the same kept requests give the
/// same findings.
pub(crate) fn requests_to_shells(
    engines: &Engines<'_>,
    shells: &[Shell],
    kept: &KeptRequests,
) -> (Vec<Finding>, Vec<ErrorRecord>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    if shells.is_empty() {
        return (out, errors);
    }
    // Requests in the order the files were read; the sort below is stable, so ties keep that order.
    let mut by_shell: BTreeMap<(usize, String, bool), Vec<&Request>> = BTreeMap::new();
    for h in &kept.requests {
        for (i, s) in shells.iter().enumerate() {
            let hit = match &s.url {
                Some(u) => h.url == *u,
                None => h.name() == s.name,
            };
            if hit {
                by_shell.entry((i, h.ip.clone(), h.ok())).or_default().push(h);
            }
        }
    }
    for s in shells {
        let dropped = kept.dropped_url.iter().filter(|(url, _)| match &s.url {
            Some(u) => *url == u,
            None => url.rsplit('/').next() == Some(s.name.as_str()),
        });
        for (url, d) in dropped {
            errors.push(ErrorRecord {
                code: Some("H040".into()),
                message: format!(
                    "the requests to web shell `{}` may be incomplete: only the first {} requests to `{url}` were \
                     kept for the correlation, {} more were not; count them in the web logs (`{}` and later)",
                    s.windows_path, kept.limits.per_url, d.count, d.path
                ),
                path: Some(d.path.clone()),
                locator: Some(Locator::Line(d.line)),
            });
        }
        if kept.files > 0 && unkept_could_match(s.url.as_deref(), &s.name) {
            errors.push(ErrorRecord {
                code: Some("H041".into()),
                message: format!(
                    "web shell `{}` is at a URL the log pass does not keep (one of Exchange's own endpoints or \
                     static resources): its requests are not in the findings; look for `{}` in the IIS logs",
                    s.windows_path,
                    s.url.as_deref().unwrap_or(&s.name)
                ),
                path: Some(s.windows_path.clone()),
                locator: None,
            });
        }
    }
    if let Some(d) = &kept.dropped_host {
        errors.push(ErrorRecord {
            code: Some("H040".into()),
            message: format!(
                "the requests to the web shells may be incomplete: {} requests were kept for the correlation on \
                 this host, the most it keeps, and {} more were not; search the web logs for the shells' names \
                 (`{}` and later)",
                kept.limits.per_host, d.count, d.path
            ),
            path: Some(d.path.clone()),
            locator: Some(Locator::Line(d.line)),
        });
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
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hunt::requests::{FileRequests, Limits};
    use crate::readers::{LogKind, ReadOptions, Record, read_log};
    use std::sync::atomic::AtomicUsize;

    const HEAD: &str = "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n\
        #Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) \
        cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n";

    fn line(t: &str, method: &str, url: &str, ip: &str, referer: &str, status: u16) -> String {
        format!("2021-03-03 {t} 10.0.0.1 {method} {url} - 443 - {ip} curl/7.68.0 {referer} {status} 0 0 12\n")
    }

    /// Reads IIS logs given as (display path, text) the way the log pass does, and joins what it kept.
    fn kept(files: &[(&str, String)], limits: Limits) -> KeptRequests {
        let held = AtomicUsize::new(0);
        let mut out = Vec::new();
        for (path, text) in files {
            let mut f = FileRequests::new(LogKind::Iis, limits, &held).expect("a web log");
            read_log(LogKind::Iis, path, text.as_bytes(), &ReadOptions::default(), &mut |r: &Record<'_>| f.see(r));
            out.push(f);
        }
        KeptRequests::join(out, limits)
    }

    fn shell(windows_path: &str, url: Option<&str>) -> Shell {
        Shell {
            windows_path: windows_path.into(),
            url: url.map(str::to_string),
            name: winpath::file_name(windows_path).to_lowercase(),
            origin: "f".into(),
        }
    }

    /// Every (shell, file, line) that the findings' evidence points at, in order.
    fn uses(findings: &[Finding]) -> Vec<(String, String, u64)> {
        let mut v = Vec::new();
        for f in findings {
            let p = f.details["windows_path"].as_str().unwrap_or_default().to_string();
            assert_eq!(f.details["count"], serde_json::json!(f.evidence.len()), "{}", f.title);
            for e in &f.evidence {
                let Some(Locator::Line(n)) = e.locator else { panic!("a line locator") };
                v.push((p.clone(), e.path.clone(), n));
            }
        }
        v.sort();
        v
    }

    #[test]
    fn every_request_to_a_shell_is_found_once() {
        let kb = exhunt_kb::Kb::builtin();
        let (engines, _) = Engines::new(&kb);
        let a = format!(
            "{HEAD}{}{}{}{}{}{}{}",
            line("08:00:00", "GET", "/aspnet_client/discover.aspx", "203.0.113.5", "-", 200), // 4
            line("08:00:01", "POST", "/aspnet_client/Discover.ASPX", "203.0.113.5", "-", 200), // 5
            line("08:00:02", "GET", "/aspnet_client/discover.aspx", "198.51.100.7", "-", 404), // 6
            line("08:00:03", "GET", "/owa/", "198.51.100.7", "/aspnet_client/discover.aspx", 200), // 7: only the referer
            line("08:00:04", "GET", "/x/beacon", "203.0.113.5", "-", 200),                         // 8: no extension
            line("08:00:05", "GET", "/aspnet_client/discover.aspx.bak", "203.0.113.5", "-", 200),  // 9: another file
            line("08:00:06", "POST", "/mapi/emsmdb/", "203.0.113.5", "-", 200),                    // 10
        );
        // The same request logged again in a second file counts again, as it did when the logs were read twice.
        let b = format!("{HEAD}{}", line("08:00:00", "GET", "/aspnet_client/discover.aspx", "203.0.113.5", "-", 200));
        let kept = kept(&[("C/logs/a.log", a), ("C/logs/b.log", b)], Limits::default());
        let shells = [
            shell(r"C:\inetpub\wwwroot\aspnet_client\discover.aspx", Some("/aspnet_client/discover.aspx")),
            shell(r"C:\ProgramData\beacon", None),
        ];
        let (findings, errors) = requests_to_shells(&engines, &shells, &kept);
        assert!(errors.is_empty(), "{errors:?}");
        let d = shells[0].windows_path.clone();
        let p = shells[1].windows_path.clone();
        let mut expect = vec![
            (d.clone(), "C/logs/a.log".to_string(), 4),
            (d.clone(), "C/logs/a.log".to_string(), 5),
            (d.clone(), "C/logs/a.log".to_string(), 6),
            (d, "C/logs/b.log".to_string(), 4),
            (p, "C/logs/a.log".to_string(), 8),
        ];
        expect.sort();
        assert_eq!(uses(&findings), expect);
        let checks: Vec<(&str, &str)> = findings
            .iter()
            .map(|f| (f.details["client_ip"].as_str().unwrap_or(""), f.details["check"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(checks.len(), 3, "{checks:?}");
        assert!(checks.contains(&("198.51.100.7", "webshell-probe")));
        // Replayed from the same kept requests, the answer is the same.
        assert_eq!(requests_to_shells(&engines, &shells, &kept).0, findings);
    }

    #[test]
    fn a_cap_that_drops_requests_to_a_shell_is_an_error_record() {
        let kb = exhunt_kb::Kb::builtin();
        let (engines, _) = Engines::new(&kb);
        let mut text = HEAD.to_string();
        for i in 0..5 {
            text.push_str(&line(&format!("08:00:0{i}"), "POST", "/aspnet_client/one.aspx", "203.0.113.5", "-", 200));
        }
        for i in 0..3 {
            text.push_str(&line(&format!("09:00:0{i}"), "GET", "/wp-login.php", "192.0.2.1", "-", 404));
        }
        let shells = [shell(r"C:\inetpub\wwwroot\aspnet_client\one.aspx", Some("/aspnet_client/one.aspx"))];

        let per_url = kept(&[("C/logs/a.log", text.clone())], Limits { per_url: 2, per_host: 100 });
        let (findings, errors) = requests_to_shells(&engines, &shells, &per_url);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].details["count"], serde_json::json!(2));
        // One record, for the shell's URL: the scanner's capped `/wp-login.php` concerns no shell.
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code.as_deref(), Some("H040"));
        assert_eq!(errors[0].path.as_deref(), Some("C/logs/a.log"));
        assert_eq!(errors[0].locator, Some(Locator::Line(6)), "the first request not kept");
        assert!(errors[0].message.contains("3 more"), "{}", errors[0].message);

        let per_host = kept(&[("C/logs/a.log", text)], Limits { per_url: 100, per_host: 4 });
        let (findings, errors) = requests_to_shells(&engines, &shells, &per_host);
        assert_eq!(findings[0].details["count"], serde_json::json!(4));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code.as_deref(), Some("H040"));
        assert_eq!(errors[0].locator, Some(Locator::Line(8)));
        assert!(errors[0].message.contains("4 more"), "{}", errors[0].message);

        // Nothing dropped, no record.
        let all = kept(&[("C/logs/a.log", HEAD.to_string())], Limits { per_url: 1, per_host: 1 });
        assert!(requests_to_shells(&engines, &shells, &all).1.is_empty());
    }

    #[test]
    fn a_shell_where_requests_are_not_kept_is_an_error_record() {
        let kb = exhunt_kb::Kb::builtin();
        let (engines, _) = Engines::new(&kb);
        let kept = kept(&[("C/logs/a.log", HEAD.to_string())], Limits::default());
        let shells = [shell(
            r"C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\Current\x.js",
            Some("/owa/auth/current/x.js"),
        )];
        let (_, errors) = requests_to_shells(&engines, &shells, &kept);
        assert_eq!(errors.iter().map(|e| e.code.as_deref()).collect::<Vec<_>>(), vec![Some("H041")]);
    }

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
