//! Scan packs (`kb/scan/`): what the scanner probes and what its fingerprint reads, as data.
//!
//! * `scan/webshell-paths.toml`: the URL paths of known web shells, each with its source. The scanner probes them
//!   (`--webshells`) and the lab plants its shells at paths from the same list.
//! * `scan/fingerprint.toml`: the body anchors the scanner keeps the text around, the markers the fingerprint reads
//!   in that text, and samples (recorded responses with the fingerprint they must give) that `exhunt kb test` runs.
//!
//! The format is in `docs/kb-format.md` § Scan packs. Problems are diagnostics (K050–K052, and K002/K003/K009 as in
//! every file); a missing pack is an error, since a scan without it would read nothing.

use crate::diag::Diagnostic;
use crate::files::{KbFile, KbFiles};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

pub const WEBSHELL_PATHS: &str = "scan/webshell-paths.toml";
pub const FINGERPRINT: &str = "scan/fingerprint.toml";

/// The scan packs of a knowledge base.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanPack {
    pub markers: Markers,
    /// In file order: the order the scanner sends them in.
    pub webshell_paths: Vec<ShellPath>,
    pub samples: Vec<FingerprintSample>,
    /// The file the samples came from, for diagnostics.
    pub fingerprint_file: String,
}

/// What the fingerprint reads in response bodies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Markers {
    /// Texts whose surroundings the scanner keeps (each at most [`MAX_ANCHOR`] bytes).
    pub anchors: Vec<String>,
    /// The CU-level build of 2013 and later follows this in the logon page's resource paths.
    pub logon_build_after: String,
    /// The four-part build of 2010 follows this.
    pub legacy_build_after: String,
    pub owa_title: Vec<String>,
    pub owa_page: Vec<String>,
    pub exporttool_identity: String,
    pub shell_confirmed: Vec<String>,
}

/// Longest anchor: a snippet is 240 characters and must hold its anchor with room around it.
pub const MAX_ANCHOR: usize = 64;

/// One web-shell URL path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellPath {
    pub url: String,
    /// The key of the pack's `[sources]` it came from.
    pub source: String,
}

/// A recorded response set and what the fingerprint must say of it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintSample {
    pub name: String,
    pub probes: Vec<SampleProbe>,
    pub expect: SampleExpect,
}

/// One probe of a sample: a request of the ladder and the answer; no `status` means the request failed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleProbe {
    pub name: String,
    pub path: String,
    pub status: Option<u16>,
    #[serde(default)]
    pub headers: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub body: String,
}

/// The fingerprint a sample must give: the class always; build, its source and the web shells when given
/// (web shells as `PATH CONFIDENCE`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleExpect {
    pub class: String,
    pub build: Option<String>,
    pub build_source: Option<String>,
    pub webshells: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathsFile {
    #[allow(dead_code)] // required; its text is for people
    pack: PackHeader,
    sources: BTreeMap<String, String>,
    path: Vec<RawPath>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read for validation: a header is required; its text is for people
struct PackHeader {
    id: String,
    title: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    url: toml::Spanned<String>,
    source: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FingerprintFile {
    #[allow(dead_code)]
    pack: PackHeader,
    markers: toml::Spanned<Markers>,
    #[serde(default)]
    sample: Vec<FingerprintSample>,
}

/// Loads both scan packs; every problem becomes a diagnostic.
pub fn load(files: &KbFiles, diags: &mut Vec<Diagnostic>) -> ScanPack {
    let mut pack = ScanPack::default();
    match files.files.iter().find(|f| f.rel == WEBSHELL_PATHS) {
        Some(f) => {
            if let Some(p) = parse::<PathsFile>(f, diags) {
                pack.webshell_paths = check_paths(f, p, diags);
            }
        }
        None => diags.push(missing(WEBSHELL_PATHS, files)),
    }
    match files.files.iter().find(|f| f.rel == FINGERPRINT) {
        Some(f) => {
            if let Some(p) = parse::<FingerprintFile>(f, diags) {
                let at = p.markers.span().start;
                let markers = p.markers.into_inner();
                check_markers(f, at, &markers, diags);
                pack.markers = markers;
                pack.samples = p.sample;
                pack.fingerprint_file = f.display.clone();
            }
        }
        None => diags.push(missing(FINGERPRINT, files)),
    }
    pack
}

fn missing(rel: &str, files: &KbFiles) -> Diagnostic {
    let root = files.root.as_ref().map(|r| r.display().to_string()).unwrap_or_else(|| "<builtin>".into());
    Diagnostic::error("K050", format!("{root}/{rel}"), format!("the scan pack `{rel}` is missing"))
        .with_help("copy it from the shipped `kb/scan/` folder: the scanner and the lab read it")
}

fn parse<T: for<'de> Deserialize<'de>>(f: &KbFile, diags: &mut Vec<Diagnostic>) -> Option<T> {
    if let Err(e) = f.text.parse::<toml::Table>() {
        let at = e.span().map(|s| s.start).unwrap_or(0);
        diags.push(
            Diagnostic::error("K002", &f.display, format!("TOML syntax error: {}", one_line(e.message())))
                .at_offset(&f.text, at),
        );
        return None;
    }
    match toml::from_str::<T>(&f.text) {
        Ok(v) => Some(v),
        Err(e) => {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            diags.push(
                Diagnostic::error("K003", &f.display, one_line(e.message()))
                    .at_offset(&f.text, at)
                    .with_help("the format is in `docs/kb-format.md`, section \"Scan packs\""),
            );
            None
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_paths(f: &KbFile, p: PathsFile, diags: &mut Vec<Diagnostic>) -> Vec<ShellPath> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for raw in p.path {
        let at = raw.url.span().start;
        let url = raw.url.into_inner();
        let bad = if !url.starts_with('/') {
            Some("does not start with `/`")
        } else if url.contains(['?', '#', ' ', '%', '\\']) || !url.is_ascii() || url.contains("/../") {
            Some("holds a query, a fragment, an escape, a space or a backslash: the scanner sends a bare path")
        } else if !SCRIPT_EXTENSIONS.iter().any(|e| url.to_ascii_lowercase().ends_with(e)) {
            Some("does not name a script the web server runs (.aspx, .ashx, .asmx, .asp)")
        } else if !seen.insert(url.to_ascii_lowercase()) {
            Some("is listed twice (paths are compared without case, as IIS does)")
        } else {
            None
        };
        if let Some(why) = bad {
            diags.push(
                Diagnostic::error("K051", &f.display, format!("web-shell path `{url}` {why}")).at_offset(&f.text, at),
            );
            continue;
        }
        let src_at = raw.source.span().start;
        let source = raw.source.into_inner();
        if !p.sources.contains_key(&source) {
            diags.push(
                Diagnostic::error("K009", &f.display, format!("source `{source}` is not in the pack's `[sources]`"))
                    .at_offset(&f.text, src_at)
                    .with_help(format!("name one of: {}", p.sources.keys().cloned().collect::<Vec<_>>().join(", "))),
            );
            continue;
        }
        out.push(ShellPath { url, source });
    }
    out
}

const SCRIPT_EXTENSIONS: &[&str] = &[".aspx", ".ashx", ".asmx", ".asp"];

fn check_markers(f: &KbFile, at: usize, m: &Markers, diags: &mut Vec<Diagnostic>) {
    let mut push = |msg: String| diags.push(Diagnostic::error("K052", &f.display, msg).at_offset(&f.text, at));
    for a in &m.anchors {
        if a.len() < 3 || a.len() > MAX_ANCHOR {
            push(format!("anchor `{a}` is not 3 to {MAX_ANCHOR} bytes long"));
        }
    }
    let named = m
        .owa_page
        .iter()
        .chain(&m.shell_confirmed)
        .map(|s| ("a marker", s))
        .chain([("`logon_build_after`", &m.logon_build_after)]);
    for (what, s) in named {
        if !m.anchors.contains(s) {
            push(format!("{what} `{s}` is not one of the anchors: the scanner would not keep the text it is in"));
        }
    }
    for (what, s) in
        [("`legacy_build_after`", &m.legacy_build_after), ("`exporttool_identity`", &m.exporttool_identity)]
    {
        if s.trim().is_empty() {
            push(format!("{what} is empty"));
        }
    }
    if m.owa_title.iter().any(|t| t.trim().is_empty()) {
        push("an `owa_title` marker is empty".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &str, fingerprint: &str) -> KbFiles {
        let mut files = Vec::new();
        for (rel, text) in [(WEBSHELL_PATHS, paths), (FINGERPRINT, fingerprint)] {
            if !text.is_empty() {
                files.push(KbFile { rel: rel.into(), display: format!("kb/{rel}"), text: text.into() });
            }
        }
        KbFiles { root: None, files }
    }

    #[test]
    fn the_shipped_packs_load_clean() {
        let kb = KbFiles::embedded();
        let mut d = Vec::new();
        let p = load(&kb, &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(p.webshell_paths.len(), 46);
        assert!(p.markers.anchors.iter().any(|a| a == "OAB (Default Web Site)"));
        assert!(p.samples.len() >= 8);
    }

    #[test]
    fn bad_paths_and_markers_are_coded() {
        let paths = "[pack]\nid='x'\ntitle='t'\n[sources]\nm='u'\n[[path]]\nurl='/a/s.aspx'\nsource='m'\n\
                     [[path]]\nurl='/A/S.aspx'\nsource='m'\n[[path]]\nurl='a.aspx'\nsource='m'\n\
                     [[path]]\nurl='/x.txt'\nsource='m'\n[[path]]\nurl='/y.aspx?cmd=1'\nsource='m'\n\
                     [[path]]\nurl='/z.aspx'\nsource='nope'\n";
        let fp = "[pack]\nid='f'\ntitle='t'\n[markers]\nanchors=['/owa/auth/']\nlogon_build_after='/owa/auth/'\n\
                  legacy_build_after='/owa/'\nowa_title=['Outlook']\nowa_page=['OwaPage']\n\
                  exporttool_identity='x'\nshell_confirmed=['OAB']\n";
        let mut d = Vec::new();
        let p = load(&files(paths, fp), &mut d);
        let codes: Vec<(&str, usize)> = d.iter().map(|d| (d.code, d.line)).collect();
        assert_eq!(
            codes,
            [("K051", 10), ("K051", 13), ("K051", 16), ("K051", 19), ("K009", 23), ("K052", 4), ("K052", 4)]
        );
        assert_eq!(p.webshell_paths.len(), 1);
        assert!(d[5].message.contains("`OwaPage`"), "{}", d[5]);
        let mut d = Vec::new();
        load(&files("[pack]\nid='x'\ntitle='t'\n[sources]\n[[path]]\nurl='/a.aspx'\nsorce='m'\n", ""), &mut d);
        assert_eq!(d.iter().map(|d| d.code).collect::<Vec<_>>(), ["K003", "K050"]);
        assert_eq!(d[0].line, 7, "{}", d[0]);
    }
}
