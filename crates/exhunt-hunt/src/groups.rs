//! Activity groups across hosts: which compromised servers share an actor's traces — the "second group" question of
//! March 2021, answered from evidence.
//!
//! Each host contributes traces from its findings at `medium` or worse:
//!
//! | link kind | trace | from |
//! |---|---|---|
//! | `sha256` | the content hash of a web shell | web-shell file findings |
//! | `shell-name` | a web shell's file name (lower case; `web.config` left out) | web-shell file findings and files the exploit wrote |
//! | `client-ip` | a public client address (private, loopback and link-local addresses identify nothing across organisations) | web-shell findings at `high` or worse and `critical` exploitation (probes come from mass scanners that hit every server) |
//! | `user-agent` | an exact user agent (`-`, empty, and common libraries, tools, crawlers and scanners left out) | the same findings |
//! | `path-family` | a web-shell location pattern (its folder below the web root and the shape of its name) with its content family, when the hosts' first activity is within [`WAVE_SECONDS`] of each other | web-shell file findings |
//!
//! Hosts that share a *joining* trace (`sha256`, `shell-name`, `client-ip`) are joined (union-find); every group of
//! two or more hosts is reported with its traces. `user-agent` and `path-family` are *supporting* traces: listed when
//! hosts of a group share them, never joining on their own — tool agents (AntSword, the EWS client name every 2021
//! group sent) and shell locations (China Chopper in `aspnet_client`) were common to many groups, and joining on them
//! merges actors that the evidence tells apart. A trace shared by every host of a large run (more than [`MAX_SHARE`] of at least 10 hosts) is too
//! common to tell actors apart, and is dropped as a link.

use crate::verdict::check_of;
use exhunt_model::{ActivityGroup, Finding, FindingKind, GroupLink, Severity, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Hosts whose first activity is this close (48 hours) form one wave of a `path-family` link.
pub const WAVE_SECONDS: i64 = 48 * 3600;
/// A trace shared by more than this share of the hosts (with at least 10 hosts) is not a link.
pub const MAX_SHARE: f64 = 0.8;

/// One host's findings, as the grouping sees them.
pub struct HostTraces<'a> {
    pub host: &'a str,
    /// The evidence's name (a collection's folder or zip name): tells apart hosts that share a name.
    pub evidence: &'a str,
    pub findings: &'a [Finding],
}

/// The hosts' names as groups show them: many organisations call their server EX01, so a name that repeats in the
/// run is followed by its evidence's name (`EX01 (case-7)`).
fn labels(hosts: &[HostTraces<'_>]) -> Vec<String> {
    hosts
        .iter()
        .map(|h| {
            if hosts.iter().filter(|o| o.host == h.host).count() > 1 {
                format!("{} ({})", h.host, h.evidence)
            } else {
                h.host.to_string()
            }
        })
        .collect()
}

const KIND_ORDER: [&str; 5] = ["sha256", "shell-name", "client-ip", "user-agent", "path-family"];

/// The activity groups of a run (groups of two or more hosts), largest first.
pub fn activity_groups(hosts: &[HostTraces<'_>]) -> Vec<ActivityGroup> {
    let n = hosts.len();
    if n < 2 {
        return Vec::new();
    }
    let names_of = labels(hosts);
    // (kind, value) → host indexes
    let mut traces: BTreeMap<(&'static str, String), BTreeSet<usize>> = BTreeMap::new();
    let mut firsts: Vec<Option<Timestamp>> = Vec::with_capacity(n);
    let mut lasts: Vec<Option<Timestamp>> = Vec::with_capacity(n);
    let mut families: Vec<BTreeSet<String>> = Vec::with_capacity(n);
    let mut patterns: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, h) in hosts.iter().enumerate() {
        let mut fam = BTreeSet::new();
        let mut times = Vec::new();
        for f in h.findings.iter().filter(|f| f.severity >= Severity::Medium) {
            let check = check_of(f).unwrap_or("");
            let relevant = matches!(f.kind, FindingKind::Exploitation | FindingKind::Webshell);
            if relevant && let Some(t) = f.time {
                times.push(t);
            }
            if let Some(family) = f.details.get("family").and_then(|v| v.as_str()) {
                fam.insert(family.to_string());
            }
            let shell_file = f.kind == FindingKind::Webshell && check == "webshell-file";
            let written = check == "webshell-written";
            if shell_file || written {
                if let Some(p) = f.details.get("windows_path").and_then(|v| v.as_str()) {
                    let name = file_name(p).to_lowercase();
                    if !name.is_empty() && name != "web.config" {
                        traces.entry(("shell-name", name)).or_default().insert(i);
                    }
                    if shell_file && let Some(family) = f.details.get("family").and_then(|v| v.as_str()) {
                        let key = format!("{} [{family}]", location_pattern(p));
                        patterns.entry(key).or_default().push(i);
                    }
                }
                for e in &f.evidence {
                    if let Some(h) = &e.sha256 {
                        traces.entry(("sha256", h.clone())).or_default().insert(i);
                    }
                }
            }
            // Addresses and user agents only from shell use and successful exploitation (`critical`): mass scanners
            // probe every server and would join them all.
            let actor =
                (f.kind == FindingKind::Webshell && f.severity >= Severity::High) || f.severity >= Severity::Critical;
            if relevant && actor {
                let ip = f.details.get("client_ip").and_then(|v| v.as_str()).unwrap_or("");
                if let Some(ip) = public_ip(ip) {
                    traces.entry(("client-ip", ip.to_string())).or_default().insert(i);
                }
                let mut uas: Vec<String> = Vec::new();
                if let Some(u) = f.details.get("user_agent").and_then(|v| v.as_str()) {
                    uas.push(u.to_string());
                }
                if let Some(list) = f.details.get("user_agents").and_then(|v| v.as_array()) {
                    uas.extend(list.iter().filter_map(|v| v.as_str()).map(str::to_string));
                }
                for u in uas.into_iter().filter(|u| !generic_user_agent(u)) {
                    traces.entry(("user-agent", u)).or_default().insert(i);
                }
            }
        }
        firsts.push(times.iter().min().copied());
        lasts.push(times.iter().max().copied());
        families.push(fam);
    }
    // Location pattern + family: joined only within one wave of first activity.
    for (key, mut members) in patterns {
        members.sort_unstable();
        members.dedup();
        members.sort_by_key(|&i| firsts[i].map(|t| t.unix()).unwrap_or(i64::MAX));
        let mut wave: Vec<usize> = Vec::new();
        let mut flush = |wave: &mut Vec<usize>| {
            if wave.len() >= 2 {
                let label = match firsts[wave[0]] {
                    Some(t) => format!("{key} from {t}"),
                    None => key.clone(),
                };
                traces.entry(("path-family", label)).or_default().extend(wave.iter().copied());
            }
            wave.clear();
        };
        for i in members {
            let close = match (wave.last().and_then(|&j| firsts[j]), firsts[i]) {
                (Some(a), Some(b)) => b.unix() - a.unix() <= WAVE_SECONDS,
                _ => false,
            };
            if !close {
                flush(&mut wave);
            }
            wave.push(i);
        }
        flush(&mut wave);
    }
    traces.retain(|_, hs| hs.len() >= 2 && !(n >= 10 && hs.len() as f64 > MAX_SHARE * n as f64));
    const JOINING: [&str; 3] = ["sha256", "shell-name", "client-ip"];

    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for hs in traces.iter().filter(|((kind, _), _)| JOINING.contains(kind)).map(|(_, hs)| hs) {
        let mut it = hs.iter();
        if let Some(&first) = it.next() {
            for &other in it {
                let (a, b) = (root(&mut parent, first), root(&mut parent, other));
                if a != b {
                    parent[b] = a;
                }
            }
        }
    }
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        members.entry(r).or_default().push(i);
    }
    let mut groups: Vec<ActivityGroup> = members
        .into_values()
        .filter(|m| m.len() >= 2)
        .map(|m| {
            let set: BTreeSet<usize> = m.iter().copied().collect();
            let mut links: Vec<GroupLink> = traces
                .iter()
                .filter(|(_, hs)| hs.iter().filter(|i| set.contains(i)).count() >= 2)
                .map(|((kind, value), hs)| {
                    let mut names: Vec<String> =
                        hs.iter().filter(|i| set.contains(i)).map(|&i| names_of[i].clone()).collect();
                    names.sort();
                    GroupLink { kind: kind.to_string(), value: value.clone(), hosts: names }
                })
                .collect();
            links.sort_by_key(|l| {
                (
                    KIND_ORDER.iter().position(|k| *k == l.kind).unwrap_or(KIND_ORDER.len()),
                    std::cmp::Reverse(l.hosts.len()),
                )
            });
            let mut names: Vec<String> = m.iter().map(|&i| names_of[i].clone()).collect();
            names.sort();
            let fams: BTreeSet<String> = m.iter().flat_map(|&i| families[i].iter().cloned()).collect();
            let first = m.iter().filter_map(|&i| firsts[i]).min();
            let last = m.iter().filter_map(|&i| lasts[i]).max();
            let what: Vec<String> = links.iter().take(3).map(|l| format!("{} {}", l.kind, l.value)).collect();
            let summary = format!(
                "{} hosts share {}{}",
                names.len(),
                what.join("; "),
                if links.len() > 3 { format!(" and {} more trace(s)", links.len() - 3) } else { String::new() }
            );
            let id_parts: Vec<&str> =
                names.iter().map(String::as_str).chain(links.iter().map(|l| l.value.as_str())).collect();
            ActivityGroup {
                id: crate::hunt::finding_id("activity-group", &id_parts),
                hosts: names,
                links,
                families: fams.into_iter().collect(),
                first,
                last,
                summary,
            }
        })
        .collect();
    groups.sort_by(|a, b| b.hosts.len().cmp(&a.hosts.len()).then(a.first.cmp(&b.first)).then(a.id.cmp(&b.id)));
    groups
}

/// User agents of common libraries, command-line tools, crawlers and scanners: every actor and every scanner sends
/// them, so they tell no one apart. Matched on the start of the agent, case-insensitively, with `+` read as a space
/// (IIS logs write spaces as `+`).
const GENERIC_AGENTS: [&str; 14] = [
    "curl/",
    "wget/",
    "python-requests/",
    "python-urllib/",
    "go-http-client/",
    "java/",
    "libwww-perl/",
    "okhttp/",
    "axios/",
    "node-fetch/",
    "powershell/",
    "mozilla/5.0 (compatible; googlebot",
    "mozilla/5.0 (compatible; bingbot",
    "mozilla/5.0 (compatible; baiduspider",
];
/// … and anywhere in the agent: scanners, crawlers, and the EWS client name that every 2021 group sent (Volexity,
/// MSTIC), which tells no group from another.
const GENERIC_WORDS: [&str; 10] = [
    "nmap",
    "zgrab",
    "masscan",
    "censys",
    "shodan",
    "expanse",
    "googlebot",
    "bingbot",
    "baiduspider",
    "exchangeservicesclient",
];

fn generic_user_agent(ua: &str) -> bool {
    let u = ua.trim().replace('+', " ").to_ascii_lowercase();
    u.is_empty()
        || u == "-"
        || GENERIC_AGENTS.iter().any(|g| u.starts_with(g))
        || GENERIC_WORDS.iter().any(|w| u.contains(w))
}

fn file_name(p: &str) -> &str {
    p.rsplit(['\\', '/']).next().unwrap_or(p)
}

/// A public address, or `None` for private, loopback, link-local, unspecified and unparsable ones.
fn public_ip(s: &str) -> Option<IpAddr> {
    let ip = crate::hunt::parse_client_ip(s)?;
    let private = match ip {
        IpAddr::V4(a) => {
            a.is_private() || a.is_loopback() || a.is_link_local() || a.is_unspecified() || a.is_broadcast()
        }
        IpAddr::V6(a) => {
            a.is_loopback()
                || a.is_unspecified()
                || (a.segments()[0] & 0xfe00) == 0xfc00
                || (a.segments()[0] & 0xffc0) == 0xfe80
        }
    };
    (!private).then_some(ip)
}

/// Where a web shell sits, as a pattern: the folder below the web or Exchange root, and the shape of its name.
/// `C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\Ab3dE7xQ.aspx` →
/// `owa\auth\<8 alnum>.aspx`; `C:\inetpub\wwwroot\aspnet_client\system_web\x.aspx` →
/// `aspnet_client\system_web\<1 alnum>.aspx`.
pub fn location_pattern(windows_path: &str) -> String {
    let lower = windows_path.replace('/', "\\").to_lowercase();
    let comps: Vec<&str> = lower.split('\\').filter(|c| !c.is_empty()).collect();
    let Some((name, dirs)) = comps.split_last() else { return String::new() };
    let anchors = ["httpproxy", "wwwroot", "clientaccess", "inetpub"];
    let start = dirs.iter().rposition(|d| anchors.contains(d)).map(|i| i + 1).unwrap_or(dirs.len().saturating_sub(2));
    let folder = dirs[start..].join("\\");
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s, e),
        None => (*name, ""),
    };
    let class = if stem.chars().all(|c| c.is_ascii_alphanumeric()) { "alnum" } else { "mixed" };
    let shape =
        format!("<{} {class}>{}", stem.chars().count(), if ext.is_empty() { String::new() } else { format!(".{ext}") });
    if folder.is_empty() { shape } else { format!("{folder}\\{shape}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exhunt_model::Evidence;

    fn shell(path: &str, sha: &str, family: &str, t: &str) -> Finding {
        let mut details = BTreeMap::new();
        details.insert("check".into(), serde_json::json!("webshell-file"));
        details.insert("windows_path".into(), serde_json::json!(path));
        details.insert("family".into(), serde_json::json!(family));
        Finding {
            id: format!("f-{path}"),
            rule: "EXH-FILE-0001".into(),
            kind: FindingKind::Webshell,
            severity: Severity::Critical,
            title: "shell".into(),
            time: Some(Timestamp::parse_rfc3339(t).expect("time")),
            host: None,
            evidence: vec![Evidence { path: path.into(), locator: None, sha256: Some(sha.into()), excerpt: None }],
            remediation: String::new(),
            details,
        }
    }

    fn request(ip: &str, ua: &str, t: &str) -> Finding {
        let mut details = BTreeMap::new();
        details.insert("check".into(), serde_json::json!("log:httpproxy"));
        details.insert("client_ip".into(), serde_json::json!(ip));
        details.insert("user_agent".into(), serde_json::json!(ua));
        Finding {
            id: format!("r-{ip}-{t}"),
            rule: "EXH-LOG-0001".into(),
            kind: FindingKind::Exploitation,
            severity: Severity::Critical,
            title: "ssrf".into(),
            time: Some(Timestamp::parse_rfc3339(t).expect("time")),
            host: None,
            evidence: Vec::new(),
            remediation: String::new(),
            details,
        }
    }

    const OWA: &str = r"C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\";

    #[test]
    fn hosts_join_on_shared_traces_and_not_on_private_addresses() {
        let a = vec![shell(&format!("{OWA}errorEE.aspx"), "aa", "china-chopper", "2021-03-03T01:00:00Z")];
        let b = vec![
            shell(&format!("{OWA}ERROREE.aspx"), "bb", "china-chopper", "2021-03-04T01:00:00Z"),
            request("10.0.0.5", "antSword/v2.1", "2021-03-04T00:00:00Z"),
        ];
        let c = vec![request("203.0.113.7", "ExchangeServicesClient/0.0.0.0", "2021-03-05T00:00:00Z")];
        let d = vec![
            request("203.0.113.7", "Mozilla/5.0 x", "2021-03-06T00:00:00Z"),
            request("10.0.0.5", "antSword/v2.1", "2021-03-06T00:00:00Z"),
        ];
        // e and f share only a private address and generic tools' agents: no link.
        let e = vec![request("10.0.0.5", "curl/7.68.0", "2021-03-06T00:00:00Z")];
        let f = vec![
            request("10.0.0.5", "curl/7.68.0", "2021-03-06T00:00:00Z"),
            request("192.0.2.1", "Mozilla/5.0+(compatible;+Nmap+Scripting+Engine)", "2021-03-06T00:00:00Z"),
        ];
        let hosts = [
            HostTraces { host: "a", evidence: "a", findings: &a },
            HostTraces { host: "b", evidence: "b", findings: &b },
            HostTraces { host: "c", evidence: "c", findings: &c },
            HostTraces { host: "d", evidence: "d", findings: &d },
            HostTraces { host: "e", evidence: "e", findings: &e },
            HostTraces { host: "f", evidence: "f", findings: &f },
        ];
        let g = activity_groups(&hosts);
        let sets: Vec<Vec<String>> = g.iter().map(|g| g.hosts.clone()).collect();
        // a–b by shell name; c–d by address; b and d share only an agent (supporting, not joining) and a private
        // address (no trace at all).
        assert_eq!(sets, [vec!["a", "b"], vec!["c", "d"]]);
        let kinds = |g: &ActivityGroup| -> Vec<(String, String)> {
            g.links.iter().map(|l| (l.kind.clone(), l.value.clone())).collect()
        };
        assert!(kinds(&g[0]).contains(&("shell-name".into(), "erroree.aspx".into())), "{g:?}");
        assert!(kinds(&g[1]).contains(&("client-ip".into(), "203.0.113.7".into())), "{g:?}");
        assert!(!g.iter().any(|g| kinds(g).iter().any(|(_, v)| v == "10.0.0.5" || v == "antSword/v2.1")), "{g:?}");
        assert_eq!(g[0].families, ["china-chopper"]);
        assert_eq!(g[0].first.map(|t| t.to_string()).as_deref(), Some("2021-03-03T01:00:00Z"));
        // A shared agent is listed as a supporting trace inside a group.
        let b2 = vec![request("203.0.113.7", "antSword/v2.1", "2021-03-05T00:00:00Z")];
        let d2 = vec![request("203.0.113.7", "antSword/v2.1", "2021-03-06T00:00:00Z")];
        let g = activity_groups(&[
            HostTraces { host: "b", evidence: "b", findings: &b2 },
            HostTraces { host: "d", evidence: "d", findings: &d2 },
        ]);
        assert!(kinds(&g[0]).contains(&("user-agent".into(), "antSword/v2.1".into())), "{g:?}");
    }

    #[test]
    fn location_patterns_support_but_do_not_join() {
        let a = vec![shell(&format!("{OWA}Ab3dE7xQ.aspx"), "1", "china-chopper", "2021-03-03T01:00:00Z")];
        let b = vec![shell(&format!("{OWA}Zz9yX8wV.aspx"), "2", "china-chopper", "2021-03-04T01:00:00Z")];
        let c = vec![shell(&format!("{OWA}Qq1wE2rT.aspx"), "3", "china-chopper", "2021-03-20T01:00:00Z")];
        let d = vec![shell(&format!("{OWA}Pp0oI9uY.aspx"), "4", "aspxspy", "2021-03-03T02:00:00Z")];
        let hosts = [
            HostTraces { host: "a", evidence: "a", findings: &a },
            HostTraces { host: "b", evidence: "b", findings: &b },
            HostTraces { host: "c", evidence: "c", findings: &c },
            HostTraces { host: "d", evidence: "d", findings: &d },
        ];
        assert!(activity_groups(&hosts).is_empty());
        // With a shared address, a and b form a group, and their common location pattern (same family, same wave)
        // is listed; c (weeks later) and d (another family) share neither.
        let mut a = a.clone();
        let mut b = b.clone();
        a.push(request("198.51.100.4", "x", "2021-03-03T00:00:00Z"));
        b.push(request("198.51.100.4", "x", "2021-03-04T00:00:00Z"));
        let hosts = [
            HostTraces { host: "a", evidence: "a", findings: &a },
            HostTraces { host: "b", evidence: "b", findings: &b },
            HostTraces { host: "c", evidence: "c", findings: &c },
            HostTraces { host: "d", evidence: "d", findings: &d },
        ];
        let g = activity_groups(&hosts);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].hosts, ["a", "b"]);
        let pf: Vec<&GroupLink> = g[0].links.iter().filter(|l| l.kind == "path-family").collect();
        assert_eq!(pf.len(), 1, "{:?}", g[0].links);
        assert!(pf[0].value.starts_with(r"owa\auth\<8 alnum>.aspx [china-chopper]"), "{pf:?}");
    }

    #[test]
    fn repeated_host_names_are_told_apart_by_their_evidence() {
        let a = vec![request("203.0.113.7", "x", "2021-03-05T00:00:00Z")];
        let hosts = [
            HostTraces { host: "EX01", evidence: "case-1", findings: &a },
            HostTraces { host: "EX01", evidence: "case-2", findings: &a },
            HostTraces { host: "MAIL", evidence: "case-3", findings: &a },
        ];
        let g = activity_groups(&hosts);
        assert_eq!(g[0].hosts, ["EX01 (case-1)", "EX01 (case-2)", "MAIL"]);
    }

    #[test]
    fn patterns() {
        assert_eq!(location_pattern(&format!("{OWA}Ab3dE7xQ.aspx")), r"owa\auth\<8 alnum>.aspx");
        assert_eq!(
            location_pattern(r"C:\inetpub\wwwroot\aspnet_client\system_web\x-1.aspx"),
            r"aspnet_client\system_web\<3 mixed>.aspx"
        );
    }
}
