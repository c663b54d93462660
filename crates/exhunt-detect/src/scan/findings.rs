//! An observation's verdicts as findings: one per vulnerable chain and one per web shell, so that the campaign,
//! notifications and exports handle one finding type from scan and hunt alike. Pure: replayed by `exhunt detect
//! --from` with the observation's fingerprint.
//!
//! Ids are stable ([`crate::finding_id`] over the rule, `ip:port` and the chain or path): the same host seen again
//! gives the same id, and the finding's `time` (the observation's start) tells the sightings apart.

use exhunt_model::{Chain, ChainStatus, Class, Evidence, Finding, FindingKind, Observation, Severity, Timestamp};
use std::collections::BTreeMap;

/// The scan's finding rules: id, what it says. `EXH-SCAN-0001`..`0003` a vulnerable chain (ProxyLogon, ProxyShell,
/// ProxyNotShell), `EXH-SCAN-0010` a web shell answering at a known path.
pub const SCAN_RULES: &[(&str, &str)] = &[
    ("EXH-SCAN-0001", "Exchange build vulnerable to ProxyLogon"),
    ("EXH-SCAN-0002", "Exchange build vulnerable to ProxyShell"),
    ("EXH-SCAN-0003", "Exchange build vulnerable to ProxyNotShell"),
    ("EXH-SCAN-0010", "Web shell answering at a known path"),
];

fn chain_rule(c: Chain) -> &'static str {
    match c {
        Chain::ProxyLogon => SCAN_RULES[0].0,
        Chain::ProxyShell => SCAN_RULES[1].0,
        Chain::ProxyNotShell => SCAN_RULES[2].0,
    }
}

/// The findings of one fingerprinted observation (none for a host that is not Exchange or not vulnerable).
pub fn findings(obs: &Observation) -> Vec<Finding> {
    let Some(fp) = obs.fingerprint.as_ref().filter(|f| f.class == Class::Exchange) else { return Vec::new() };
    let authority = obs.authority();
    let time = Timestamp::parse_rfc3339(&obs.started).ok();
    let names = obs.names();
    let base = |d: &mut BTreeMap<String, serde_json::Value>| {
        d.insert("ip".into(), serde_json::json!(obs.ip.to_string()));
        d.insert("port".into(), serde_json::json!(obs.port));
        if !names.is_empty() {
            d.insert("names".into(), serde_json::json!(names));
        }
        if let Some(b) = fp.build {
            d.insert("build".into(), serde_json::json!(b.to_string()));
        }
        if let Some(s) = fp.build_source {
            d.insert("build_source".into(), serde_json::json!(s.as_str()));
        }
        if let Some(p) = &fp.product {
            d.insert("product".into(), serde_json::json!(p));
        }
    };
    let mut out = Vec::new();
    // Where the build was read: the first probe that says it, as a URL.
    let build_probe = obs
        .probes
        .iter()
        .find(|p| p.headers.contains_key("x-owa-version"))
        .or_else(|| obs.probes.iter().find(|p| p.name == "exporttool" && p.status == Some(200)))
        .or_else(|| obs.probes.iter().find(|p| p.name == "logon"));
    let build_name = fp
        .verdict
        .as_ref()
        .and_then(|v| v.name.clone())
        .or_else(|| fp.build.map(|b| format!("Exchange {b}")))
        .unwrap_or_else(|| "Exchange".into());
    for chain in Chain::ALL {
        if fp.chains.get(chain.as_str()) != Some(&ChainStatus::Vulnerable) {
            continue;
        }
        let rule = chain_rule(chain);
        let mut d = BTreeMap::new();
        base(&mut d);
        d.insert("check".into(), serde_json::json!(chain.as_str()));
        d.insert("cve".into(), serde_json::json!(chain.cves()));
        if let Some(reason) = fp.verdict.as_ref().and_then(|v| v.chain(chain)).map(|c| c.reason.clone()) {
            d.insert("reason".into(), serde_json::json!(reason));
        }
        out.push(Finding {
            id: crate::finding_id(rule, &[&authority, chain.as_str()]),
            rule: rule.into(),
            kind: FindingKind::Vulnerable,
            severity: Severity::Critical,
            title: format!(
                "{build_name} at {authority} is vulnerable to {} ({})",
                chain.name(),
                chain.cves().join(", ")
            ),
            time,
            host: Some(obs.ip.to_string()),
            evidence: build_probe.map(|p| evidence(&authority, p, excerpt_build(p))).into_iter().collect(),
            remediation: format!(
                "Install the latest Cumulative Update and Security Update for this Exchange version, then hunt the \
                 server for what may already have happened: {} was exploited at scale before patches were applied, \
                 and patching does not remove web shells. Collect its logs and web folders and run `exhunt hunt`.",
                chain.name()
            ),
            details: d,
        });
    }
    for w in &fp.webshells {
        let rule = SCAN_RULES[3].0;
        let mut d = BTreeMap::new();
        base(&mut d);
        d.insert("check".into(), serde_json::json!("webshell"));
        d.insert("path".into(), serde_json::json!(w.path));
        d.insert("confidence".into(), serde_json::json!(w.confidence));
        let probe = obs.probes.iter().find(|p| p.name == "webshell" && p.path == w.path);
        let confirmed = w.confidence == "confirmed";
        out.push(Finding {
            id: crate::finding_id(rule, &[&authority, &w.path.to_ascii_lowercase()]),
            rule: rule.into(),
            kind: FindingKind::Webshell,
            severity: if confirmed { Severity::Critical } else { Severity::High },
            title: if confirmed {
                format!("Web shell at https://{authority}{} (its answer is an exported OAB virtual directory)", w.path)
            } else {
                format!("Possible web shell at https://{authority}{} (it answers unlike a missing page)", w.path)
            },
            time,
            host: Some(obs.ip.to_string()),
            evidence: probe.map(|p| evidence(&authority, p, p.snippets.first().cloned())).into_iter().collect(),
            remediation: "Treat the server as compromised: a web shell survives patching. Do not just delete the \
                          file: collect the server's logs, web folders and event logs first, run `exhunt hunt` on \
                          them to learn what was done through it, then remove the shell, patch, and reset the \
                          credentials used on the server."
                .into(),
            details: d,
        });
    }
    out
}

fn evidence(authority: &str, p: &exhunt_model::Probe, excerpt: Option<String>) -> Evidence {
    Evidence {
        path: format!("https://{authority}{}", p.path),
        locator: None,
        sha256: p.body_sha256.clone(),
        excerpt: excerpt.map(|e| e.chars().take(240).collect()),
    }
}

fn excerpt_build(p: &exhunt_model::Probe) -> Option<String> {
    if let Some(v) = p.headers.get("x-owa-version").and_then(|v| v.first()) {
        return Some(format!("X-OWA-Version: {v}"));
    }
    p.snippets.first().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use exhunt_model::{Build, Fingerprint, Probe, ScanStatus, WebShellHit};

    fn obs(chains: &[(&str, ChainStatus)], shells: &[(&str, &str)]) -> Observation {
        let mut headers = BTreeMap::new();
        headers.insert("x-owa-version".to_string(), vec!["15.1.2176.2".to_string()]);
        Observation {
            seq: Some(1),
            ip: "127.0.0.9".parse().expect("ip"),
            port: 8443,
            name: None,
            status: ScanStatus::Success,
            phase: None,
            error: None,
            started: "2021-03-09T10:11:12Z".into(),
            elapsed_ms: 3,
            tls: None,
            probes: vec![Probe {
                name: "ews".into(),
                path: "/EWS/Exchange.asmx".into(),
                status: Some(401),
                headers,
                ..Probe::default()
            }],
            fingerprint: Some(Fingerprint {
                class: Class::Exchange,
                build: Some(Build::new(15, 1, 2176, 2)),
                build_source: Some(exhunt_model::BuildSource::XOwaVersion),
                product: Some("2016".into()),
                chains: chains.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                verdict: None,
                feserver: None,
                ntlm: None,
                webshells: shells
                    .iter()
                    .map(|(p, c)| WebShellHit { path: p.to_string(), confidence: c.to_string() })
                    .collect(),
            }),
        }
    }

    #[test]
    fn one_finding_per_vulnerable_chain_and_per_shell_with_stable_ids() {
        let o = obs(
            &[
                ("proxylogon", ChainStatus::Vulnerable),
                ("proxyshell", ChainStatus::Fixed),
                ("proxynotshell", ChainStatus::Vulnerable),
            ],
            &[("/aspnet_client/shell.aspx", "confirmed"), ("/owa/auth/x.aspx", "suspected")],
        );
        let f = findings(&o);
        let rules: Vec<&str> = f.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["EXH-SCAN-0001", "EXH-SCAN-0003", "EXH-SCAN-0010", "EXH-SCAN-0010"]);
        assert_eq!(f[0].kind, FindingKind::Vulnerable);
        assert_eq!(f[0].details["cve"], serde_json::json!(Chain::ProxyLogon.cves()));
        assert_eq!(f[0].evidence[0].path, "https://127.0.0.9:8443/EWS/Exchange.asmx");
        assert_eq!(f[0].evidence[0].excerpt.as_deref(), Some("X-OWA-Version: 15.1.2176.2"));
        assert_eq!((f[2].severity, f[3].severity), (Severity::Critical, Severity::High));
        assert_eq!(f[2].time.map(|t| t.to_string()).as_deref(), Some("2021-03-09T10:11:12Z"));
        let again = findings(&o);
        assert_eq!(f.iter().map(|f| &f.id).collect::<Vec<_>>(), again.iter().map(|f| &f.id).collect::<Vec<_>>());
        let ids: std::collections::BTreeSet<&String> = f.iter().map(|f| &f.id).collect();
        assert_eq!(ids.len(), 4, "distinct");
        let mut other = o.clone();
        other.port = 443;
        assert_ne!(findings(&other)[0].id, f[0].id, "another port is another finding");
    }

    #[test]
    fn nothing_for_fixed_indeterminate_or_non_exchange_hosts() {
        assert!(findings(&obs(&[("proxylogon", ChainStatus::Indeterminate)], &[])).is_empty());
        let mut o = obs(&[("proxylogon", ChainStatus::Vulnerable)], &[]);
        if let Some(f) = o.fingerprint.as_mut() {
            f.class = Class::Lookalike;
        }
        assert!(findings(&o).is_empty());
        o.fingerprint = None;
        assert!(findings(&o).is_empty());
    }
}
