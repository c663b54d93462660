//! Web-shell paths judged against the host's per-folder soft-404 baseline (random names: status, length and body
//! hash), confirmed only from content (scan-anchors §4.2). The scanner sends bare GETs only: never a command, a
//! parameter or a POST.

use exhunt_kb::scan::{Markers, ShellPath};
use exhunt_model::{Observation, WebShellHit};

/// The folder of a path, lower case, with its trailing slash.
pub fn dir_of(path: &str) -> String {
    let p = path.to_ascii_lowercase();
    match p.rfind('/') {
        Some(i) => p[..=i].to_string(),
        None => "/".to_string(),
    }
}

/// The folders that get a baseline: every folder of the pack's paths, once, sorted.
pub fn baseline_dirs(paths: &[ShellPath]) -> Vec<String> {
    let mut d: Vec<String> = paths.iter().map(|p| dir_of(&p.url)).collect();
    d.sort();
    d.dedup();
    d
}

/// The web-shell hits of an observation, from its `webshell` and `baseline` probes. Pure.
pub fn webshell_hits(obs: &Observation, m: &Markers) -> Vec<WebShellHit> {
    let baselines: Vec<_> = obs.probes.iter().filter(|p| p.name == "baseline").collect();
    let mut out = Vec::new();
    for p in obs.probes.iter().filter(|p| p.name == "webshell") {
        if p.snippets.iter().any(|s| m.shell_confirmed.iter().any(|c| s.contains(c.as_str()))) {
            out.push(WebShellHit { path: p.path.clone(), confidence: "confirmed".into() });
            continue;
        }
        if p.status != Some(200) {
            continue;
        }
        let dir = dir_of(&p.path);
        let like_baseline = baselines
            .iter()
            .filter(|b| dir_of(&b.path) == dir)
            .any(|b| b.status == p.status && (b.body_sha256 == p.body_sha256 || b.body_len == p.body_len));
        // No baseline for the folder (it failed): say nothing rather than guess.
        let has_baseline = baselines.iter().any(|b| dir_of(&b.path) == dir && b.status.is_some());
        if has_baseline && !like_baseline {
            out.push(WebShellHit { path: p.path.clone(), confidence: "suspected".into() });
        }
    }
    out
}
