//! Building findings: stable ids, rule metadata, details.

use exhunt_kb::Rule;
use exhunt_model::{Evidence, Finding, FindingKind, Severity, Timestamp};
use std::collections::BTreeMap;

/// A stable finding id: one function for scan and hunt ([`exhunt_detect::finding_id`]).
pub use exhunt_detect::finding_id;

/// A finding from a kb rule.
pub(crate) fn from_rule(
    rule: &Rule,
    id_parts: &[&str],
    time: Option<Timestamp>,
    evidence: Vec<Evidence>,
    details: BTreeMap<String, serde_json::Value>,
) -> Finding {
    let mut details = details;
    if !rule.cve.is_empty() {
        details.insert("cve".into(), serde_json::json!(rule.cve));
    }
    if let Some(f) = &rule.family {
        details.entry("family".into()).or_insert_with(|| serde_json::json!(f));
    }
    Finding {
        id: finding_id(&rule.id, id_parts),
        rule: rule.id.clone(),
        kind: rule.kind,
        severity: rule.severity,
        title: rule.title.clone(),
        time,
        host: None,
        evidence,
        remediation: rule.remediation.clone(),
        details,
    }
}

/// A finding not backed by a kb rule (IOC matches, correlation), with an `EXH-…` pseudo-rule id.
#[allow(clippy::too_many_arguments)]
pub(crate) fn custom(
    rule: &str,
    id_parts: &[&str],
    kind: FindingKind,
    severity: Severity,
    title: String,
    time: Option<Timestamp>,
    evidence: Vec<Evidence>,
    remediation: &str,
    details: BTreeMap<String, serde_json::Value>,
) -> Finding {
    Finding {
        id: finding_id(rule, id_parts),
        rule: rule.to_string(),
        kind,
        severity,
        title,
        time,
        host: None,
        evidence,
        remediation: remediation.to_string(),
        details,
    }
}

/// What to do about a Sigma match: the rule is the user's, its meaning is in its file.
const SIGMA_REMEDIATION: &str = "A Sigma rule you supplied matched. Read the rule (its file is in the details) for \
     what it means and how to tell a false positive; confirm with the other findings of this host.";

/// The finding id of a Sigma rule (`SIGMA-<id>`), for grouping and caps.
pub(crate) fn sigma_id(rule: &exhunt_detect::SigmaRuleInfo) -> String {
    format!("SIGMA-{}", rule.id)
}

/// A finding from a Sigma rule supplied with `--sigma`, on an event or a web-log record: rule `SIGMA-<id>`, title
/// `Sigma: <title>`, the rule's severity, a kind from its ATT&CK tags, its file and tags in `details`.
pub(crate) fn from_sigma(
    rule: &exhunt_detect::SigmaRuleInfo,
    id_parts: &[&str],
    time: Option<Timestamp>,
    evidence: Vec<Evidence>,
    details: BTreeMap<String, serde_json::Value>,
) -> Finding {
    let mut details = details;
    put(&mut details, "sigma_rule", &rule.path.display().to_string());
    if !rule.tags.is_empty() {
        details.insert("tags".into(), serde_json::json!(rule.tags));
    }
    custom(
        &sigma_id(rule),
        id_parts,
        sigma_kind(&rule.tags),
        rule.severity,
        format!("Sigma: {}", rule.title),
        time,
        evidence,
        SIGMA_REMEDIATION,
        details,
    )
}

/// A finding kind from a Sigma rule's ATT&CK tags.
fn sigma_kind(tags: &[String]) -> FindingKind {
    let has = |t: &str| tags.iter().any(|x| x.eq_ignore_ascii_case(t));
    let prefixed = |p: &str| tags.iter().any(|x| x.to_ascii_lowercase().starts_with(p));
    if has("attack.t1505.003") {
        FindingKind::Webshell
    } else if has("attack.credential-access") || has("attack.credential_access") || prefixed("attack.t1003") {
        FindingKind::CredentialAccess
    } else if prefixed("cve.") || has("attack.initial-access") || has("attack.initial_access") || has("attack.t1190") {
        FindingKind::Exploitation
    } else if has("attack.persistence") || prefixed("attack.t1136") || prefixed("attack.t1098") {
        FindingKind::Persistence
    } else {
        FindingKind::PostExploitation
    }
}

/// Inserts a string detail when it is not empty.
pub(crate) fn put(details: &mut BTreeMap<String, serde_json::Value>, key: &str, value: &str) {
    if !value.is_empty() {
        details.insert(key.to_string(), serde_json::Value::String(value.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_separate_parts() {
        assert_eq!(finding_id("R", &["a", "b"]), finding_id("R", &["a", "b"]));
        assert_ne!(finding_id("R", &["ab", ""]), finding_id("R", &["a", "b"]));
        assert_eq!(finding_id("R", &["x"]).len(), 16);
    }
}
