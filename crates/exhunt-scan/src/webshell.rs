//! Web-shell probing (`--webshells`): the public path lists, judged against a per-directory soft-404 baseline
//! (random names: status, length and body hash), confirmed only from content. Bare GETs only: never a command, a
//! parameter or a POST.

use crate::detect::WebShellHit;
use crate::observe::Observation;

/// Paths from MSTIC's March 2021 IOC feed and PwnDefend's honeypot list (scan-anchors §4.1).
pub const PATHS: &[&str] = &[
    "/aspnet_client/shell.aspx",
    "/aspnet_client/Server.aspx",
    "/aspnet_client/aspnet_client.aspx",
    "/aspnet_client/aspnet_iisstart.aspx",
    "/aspnet_client/aspnet_pages.aspx",
    "/aspnet_client/aspnet_www.aspx",
    "/aspnet_client/default1.aspx",
    "/aspnet_client/errorcheck.aspx",
    "/aspnet_client/iispage.aspx",
    "/aspnet_client/s.aspx",
    "/aspnet_client/session.aspx",
    "/aspnet_client/xclkmcfldfi948398430fdjkfdkj.aspx",
    "/aspnet_client/xx.aspx",
    "/aspnet_client/discover.aspx",
    "/aspnet_client/HttpProxy.aspx",
    "/aspnet_client/OutlookEN.aspx",
    "/aspnet_client/supp0rt.aspx",
    "/aspnet_client/services.aspx",
    "/aspnet_client/help.aspx",
    "/aspnet_client/0QWYSEXe.aspx",
    "/aspnet_client/sol.aspx",
    "/aspnet_client/aspnettest.aspx",
    "/aspnet_client/shellex.aspx",
    "/aspnet_client/error_page.aspx",
    "/aspnet_client/load.aspx",
    "/aspnet_client/system_web/log.aspx",
    "/aspnet_client/system_web/error.aspx",
    "/owa/auth/8Lw7tAhF9i1pJnRo.aspx",
    "/owa/auth/OutlookZH.aspx",
    "/owa/auth/authhead.aspx",
    "/owa/auth/bob.aspx",
    "/owa/auth/errorPage.aspx",
    "/owa/auth/errorPages.aspx",
    "/owa/auth/fatal-erro.aspx",
    "/owa/auth/log.aspx",
    "/owa/auth/logg.aspx",
    "/owa/auth/logout.aspx",
    "/owa/auth/one.aspx",
    "/owa/auth/one1.aspx",
    "/owa/auth/shel.aspx",
    "/owa/auth/shel2.aspx",
    "/owa/auth/shel90.aspx",
    "/owa/auth/a.aspx",
    "/owa/auth/babydraco.aspx",
    "/owa/auth/Current/one1.aspx",
    "/OAB/log.aspx",
];

/// The directory of a path, lower case, with its trailing slash.
pub fn dir_of(path: &str) -> String {
    let p = path.to_ascii_lowercase();
    match p.rfind('/') {
        Some(i) => p[..=i].to_string(),
        None => "/".to_string(),
    }
}

/// Directories that get a baseline.
pub fn dirs() -> Vec<String> {
    let mut d: Vec<String> = PATHS.iter().map(|p| dir_of(p)).collect();
    d.sort();
    d.dedup();
    d
}

/// The web-shell hits of an observation: pure, from its `webshell` and `baseline` probes.
pub fn hits(obs: &Observation) -> Vec<WebShellHit> {
    let baselines: Vec<_> = obs.probes.iter().filter(|p| p.name == "baseline").collect();
    let mut out = Vec::new();
    for p in obs.probes.iter().filter(|p| p.name == "webshell") {
        if p.snippets.iter().any(|s| s.contains("OAB (Default Web Site)")) {
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
        // No baseline for the directory (it failed): say nothing rather than guess.
        let has_baseline = baselines.iter().any(|b| dir_of(&b.path) == dir && b.status.is_some());
        if has_baseline && !like_baseline {
            out.push(WebShellHit { path: p.path.clone(), confidence: "suspected".into() });
        }
    }
    out
}
