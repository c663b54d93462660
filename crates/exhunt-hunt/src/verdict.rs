//! One verdict per host, from the findings and the builds seen, with the findings that decided it and the steps a
//! non-expert admin should take next.
//!
//! | verdict | decided by |
//! |---|---|
//! | `backdoor-used` | requests to a web shell (`check = webshell-request`), web-shell traffic in a log (`kind = webshell`, `check = log:*`), a web shell running in the event logs (`kind = webshell`, `check = event`) or post-exploitation (`post-exploitation`, `credential-access`, `persistence`) at `high`+ |
//! | `compromised` | a web shell on disk (`kind = webshell`, `check = webshell-file`) at `high`+ |
//! | `exploitation-attempted` | an `exploitation` finding at `medium`+ (scanner probes are `medium`) |
//! | `vulnerable-not-exploited` | a build seen in the window is vulnerable to a chain, and nothing above |
//! | `clean` | none of the above |

use exhunt_kb::Catalog;
use exhunt_model::{BuildSpan, ChainStatus, Finding, FindingKind, HostVerdict, Severity};

/// The `details.check` values the verdict reads. Rules and correlation set them.
pub mod checks {
    pub const WEBSHELL_FILE: &str = "webshell-file";
    pub const WEBSHELL_REQUEST: &str = "webshell-request";
    /// A finding from a Windows event of a process or a connection (a web shell running, for a `webshell` finding).
    pub const EVENT: &str = "event";
    /// A finding from a Windows event that shows a file (Sysmon 11, antivirus detections): the shell on disk.
    pub const EVENT_FILE: &str = "event-file";
}

/// The `check` detail of a finding, when set.
pub fn check_of(f: &Finding) -> Option<&str> {
    f.details.get("check").and_then(|v| v.as_str())
}

/// The verdict, its reason, and the ids of the deciding findings.
pub fn decide(findings: &[Finding], builds: &[BuildSpan], catalog: &Catalog) -> (HostVerdict, String, Vec<String>) {
    let ids = |fs: &[&Finding]| fs.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
    let used: Vec<&Finding> = findings
        .iter()
        .filter(|f| {
            f.severity >= Severity::High
                && (check_of(f) == Some(checks::WEBSHELL_REQUEST)
                    || (f.kind == FindingKind::Webshell && check_of(f).is_some_and(|c| c.starts_with("log:")))
                    || (f.kind == FindingKind::Webshell && check_of(f) == Some(checks::EVENT))
                    || matches!(
                        f.kind,
                        FindingKind::PostExploitation | FindingKind::CredentialAccess | FindingKind::Persistence
                    ))
        })
        .collect();
    let shells: Vec<&Finding> = findings
        .iter()
        .filter(|f| {
            f.severity >= Severity::High
                && f.kind == FindingKind::Webshell
                && !check_of(f)
                    .is_some_and(|c| c == checks::WEBSHELL_REQUEST || c == checks::EVENT || c.starts_with("log:"))
        })
        .collect();
    let shell_files = |fs: &[&Finding]| {
        let mut p: Vec<String> = fs
            .iter()
            .filter_map(|f| f.details.get("windows_path").and_then(|v| v.as_str()).map(str::to_string))
            .collect();
        p.sort();
        p.dedup();
        p
    };
    if !used.is_empty() {
        let reason = format!(
            "{} finding(s) show the back door being used or follow-on activity{}",
            used.len(),
            if shell_files(&shells).is_empty() {
                " (no web shell file was found in the evidence examined)".to_string()
            } else {
                format!("; web shell file(s) on disk: {}", shell_files(&shells).join(", "))
            }
        );
        let mut d = ids(&used);
        d.extend(ids(&shells));
        return (HostVerdict::BackdoorUsed, reason, d);
    }
    if !shells.is_empty() {
        let paths = shell_files(&shells);
        return (
            HostVerdict::Compromised,
            format!(
                "{} web shell file(s) on disk: {}; no request to them was found in the logs examined",
                paths.len(),
                paths.join(", ")
            ),
            ids(&shells),
        );
    }
    let exploits: Vec<&Finding> =
        findings.iter().filter(|f| f.kind == FindingKind::Exploitation && f.severity >= Severity::Medium).collect();
    if !exploits.is_empty() {
        let first = exploits.iter().filter_map(|f| f.time).min();
        return (
            HostVerdict::ExploitationAttempted,
            format!(
                "{} exploitation finding(s){}; no back door was found on disk",
                exploits.len(),
                first.map(|t| format!(", the first at {t}")).unwrap_or_default()
            ),
            ids(&exploits),
        );
    }
    let vulnerable: Vec<String> = builds
        .iter()
        .filter_map(|b| {
            let v = catalog.verdict(&b.build);
            let chains: Vec<&str> =
                v.chains.iter().filter(|c| c.status == ChainStatus::Vulnerable).map(|c| c.chain.name()).collect();
            (!chains.is_empty()).then(|| format!("{} ({})", b.build, chains.join(", ")))
        })
        .collect();
    if !vulnerable.is_empty() {
        return (
            HostVerdict::VulnerableNotExploited,
            format!("the server ran vulnerable build(s) {}, but no exploitation was found", vulnerable.join("; ")),
            Vec::new(),
        );
    }
    (HostVerdict::Clean, "no finding above low and no vulnerable build seen".to_string(), Vec::new())
}

/// What to do next, in order, for a non-expert admin.
/// `patched`: the newest build seen is fixed for every chain (`Some(true)`), is not (`Some(false)`), or no build was seen.
pub fn next_steps(verdict: HostVerdict, findings: &[Finding], patched: Option<bool>) -> Vec<String> {
    let mut shell_paths: Vec<&str> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Webshell && check_of(f) == Some(checks::WEBSHELL_FILE))
        .filter(|f| f.severity >= Severity::High)
        .filter_map(|f| f.details.get("windows_path").and_then(|v| v.as_str()))
        .collect();
    shell_paths.sort_unstable();
    shell_paths.dedup();
    let post = findings.iter().any(|f| {
        matches!(f.kind, FindingKind::PostExploitation | FindingKind::CredentialAccess | FindingKind::Persistence)
            && f.severity >= Severity::High
    });
    let patch = if patched == Some(true) {
        "Keep the server on the latest Cumulative Update and Security Update; the build seen last is fixed for the three chains."
            .to_string()
    } else if patched.is_none() {
        "Check that the server runs the latest Cumulative Update and Security Update for its Exchange version (the evidence did not show its build; `exhunt kb verdict BUILD` says what a build is exposed to).".to_string()
    } else {
        "Install the latest Cumulative Update and Security Update for your Exchange version now (the March 2021 update alone closes ProxyLogon; later ones close ProxyShell and ProxyNotShell).".to_string()
    };
    let mut s = Vec::new();
    match verdict {
        HostVerdict::BackdoorUsed | HostVerdict::Compromised => {
            s.push("Isolate the server: block inbound HTTPS (443) from the internet at the firewall, but do not switch it off or wipe it yet.".into());
            s.push("Preserve evidence before changing anything: copy this report, the web shell files, the IIS and Exchange logs and the Windows event logs to a safe place, and take a disk and memory image if you can.".into());
            if !shell_paths.is_empty() {
                s.push(format!("Remove the web shell file(s) after they are preserved: {}.", shell_paths.join(", ")));
            }
            if verdict == HostVerdict::BackdoorUsed {
                s.push("Assume the attacker ran commands as SYSTEM: reset the passwords of every administrator and service account that has logged on to this server, and of the Exchange server's computer account.".into());
            }
            if post || verdict == HostVerdict::BackdoorUsed {
                s.push("Because the back door was used, rebuild the server from clean media (or restore a backup from before the first finding) rather than cleaning it in place, and check the domain controllers for new accounts and group changes.".into());
            }
            s.push(patch);
            s.push("Report the incident to your national CERT or incident response provider, and re-run `exhunt hunt` after the clean-up.".into());
        }
        HostVerdict::ExploitationAttempted => {
            s.push(patch);
            s.push("Check the exploitation findings' times: if any was successful (HTTP 200) before you patched, treat the server as possibly compromised and ask an incident responder to review it.".into());
            s.push("Keep the logs listed under \"What was examined\"; re-run `exhunt hunt` with any older logs or backups you still have.".into());
        }
        HostVerdict::VulnerableNotExploited => {
            s.push(patch);
            s.push("Re-run `exhunt hunt` after patching, and with older logs if you have them: a clean result covers only the logs examined.".into());
        }
        HostVerdict::Clean => {
            s.push(patch);
            s.push(
                "Nothing to clean up. Keep your logs for at least 90 days so a future check can see further back."
                    .into(),
            );
        }
    }
    s
}
