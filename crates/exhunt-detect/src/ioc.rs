//! IOC matching: the knowledge base's IOC packs ([`exhunt_kb::ioc`], data and validation) indexed once and asked
//! "is this known bad?" at hunt time, without I/O.
//!
//! Exact values are hash-map lookups, wildcard paths and file names one [`RegexSet`] pass each, networks a scan of
//! the (few) CIDR entries. Every answer is an [`IocHit`] that names the pack, the entry and the line it was
//! written on, so a finding can cite `kb/ioc/<pack>.toml:<line>`; hits come in pack order, then entry order.
//!
//! For log lines there is a prefilter in front of the parsing: [`IocIndex::may_match_line`] looks for the literal
//! addresses and user agents in the raw line (one ASCII-case-insensitive automaton), so that only the lines holding
//! one are split into fields and asked [`IocIndex::match_ip`] and [`IocIndex::match_user_agent`].

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use exhunt_kb::ioc::normalize_user_agent;
use exhunt_kb::ioc::{IocDetail, IocHit, IocSet, PathKey, UaMatch, compile_file_name, compile_path};
use exhunt_model::net::IpNet;
use exhunt_model::winpath;
use regex::RegexSet;
use std::collections::HashMap;
use std::net::IpAddr;

/// (pack index, entry index).
type Ref = (u32, u32);

/// The entries of an [`IocSet`], indexed for matching. Borrows the set: hits point into it.
#[derive(Clone, Debug)]
pub struct IocIndex<'k> {
    set: &'k IocSet,
    paths: HashMap<String, Vec<Ref>>,
    path_globs: Globs,
    names: HashMap<String, Vec<Ref>>,
    name_globs: Globs,
    hashes: HashMap<String, Vec<Ref>>,
    hosts: HashMap<IpAddr, Vec<Ref>>,
    nets: Vec<(IpNet, Ref)>,
    ua_exact: HashMap<String, Vec<Ref>>,
    ua_contains: Vec<(String, Ref)>,
    domains: HashMap<String, Vec<Ref>>,
    /// The line prefilter: the literal addresses and user agents.
    literals: Option<AhoCorasick>,
    /// Some IP entry is a network, not an address: every line may match.
    has_networks: bool,
}

/// Wildcard patterns compiled into one set, and the entry of each pattern.
#[derive(Clone, Debug, Default)]
struct Globs {
    set: Option<RegexSet>,
    refs: Vec<Ref>,
}

impl Globs {
    fn build(patterns: Vec<(String, Ref)>) -> Globs {
        if patterns.is_empty() {
            return Globs::default();
        }
        // Patterns were compiled one by one at load time; a set that fails to build (size limit) would drop every
        // wildcard entry, so fall back to the patterns that build on their own.
        match RegexSet::new(patterns.iter().map(|(p, _)| p)) {
            Ok(set) => Globs { set: Some(set), refs: patterns.into_iter().map(|(_, r)| r).collect() },
            Err(_) => {
                let good: Vec<(String, Ref)> =
                    patterns.into_iter().filter(|(p, _)| regex::Regex::new(p).is_ok()).collect();
                let set = RegexSet::new(good.iter().map(|(p, _)| p)).ok();
                Globs { set, refs: good.into_iter().map(|(_, r)| r).collect() }
            }
        }
    }

    fn matches<'s>(&'s self, text: &str) -> impl Iterator<Item = Ref> + 's {
        let hits = self.set.as_ref().map(|s| s.matches(text).into_iter().collect::<Vec<_>>()).unwrap_or_default();
        hits.into_iter().map(|i| self.refs[i])
    }
}

impl<'k> IocIndex<'k> {
    /// Indexes every entry of `set`. Entries whose value does not compile (only possible for sets built by hand,
    /// since the loader drops them with a diagnostic) stay in the set but never match.
    pub fn new(set: &'k IocSet) -> IocIndex<'k> {
        let mut ix = IocIndex {
            set,
            paths: HashMap::new(),
            path_globs: Globs::default(),
            names: HashMap::new(),
            name_globs: Globs::default(),
            hashes: HashMap::new(),
            hosts: HashMap::new(),
            nets: Vec::new(),
            ua_exact: HashMap::new(),
            ua_contains: Vec::new(),
            domains: HashMap::new(),
            literals: None,
            has_networks: false,
        };
        let mut path_globs = Vec::new();
        let mut name_globs = Vec::new();
        let mut literals: Vec<String> = Vec::new();
        for (pi, pack) in set.packs().iter().enumerate() {
            for (ei, e) in pack.entries.iter().enumerate() {
                let r: Ref = (pi as u32, ei as u32);
                match &e.detail {
                    IocDetail::Path { .. } => match compile_path(&e.value) {
                        Ok(PathKey::Exact(k)) => ix.paths.entry(k).or_default().push(r),
                        Ok(PathKey::Glob(re)) => path_globs.push((re, r)),
                        Err(_) => {}
                    },
                    IocDetail::FileName => match compile_file_name(&e.value) {
                        PathKey::Exact(k) => ix.names.entry(k).or_default().push(r),
                        PathKey::Glob(re) => name_globs.push((re, r)),
                    },
                    IocDetail::Hash { .. } => ix.hashes.entry(e.value.to_ascii_lowercase()).or_default().push(r),
                    IocDetail::Ip(net) if net.is_host() => {
                        ix.hosts.entry(net.first()).or_default().push(r);
                        literals.push(net.first().to_string());
                    }
                    IocDetail::Ip(net) => {
                        ix.nets.push((*net, r));
                        ix.has_networks = true;
                    }
                    IocDetail::UserAgent { mode } => {
                        let norm = normalize_user_agent(&e.value);
                        match mode {
                            UaMatch::Exact => ix.ua_exact.entry(norm.into_owned()).or_default().push(r),
                            UaMatch::Contains => ix.ua_contains.push((norm.to_lowercase(), r)),
                        }
                        // As IIS writes it (`+`) and as the HttpProxy logs do (spaces).
                        literals.push(e.value.replace(' ', "+"));
                        literals.push(e.value.replace('+', " "));
                    }
                    IocDetail::Domain => {
                        ix.domains.entry(e.value.trim_end_matches('.').to_ascii_lowercase()).or_default().push(r)
                    }
                }
            }
        }
        ix.path_globs = Globs::build(path_globs);
        ix.name_globs = Globs::build(name_globs);
        literals.retain(|l| l.len() >= 4);
        literals.sort();
        literals.dedup();
        ix.literals = (!literals.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .kind(Some(AhoCorasickKind::DFA))
                .match_kind(MatchKind::LeftmostFirst)
                .build(&literals)
                .expect("invariant: an automaton over a few hundred literals builds")
        });
        ix
    }

    /// The set this index answers for.
    pub fn set(&self) -> &'k IocSet {
        self.set
    }

    /// The prefilter for a raw log line: false when no IP or user-agent entry can match anything in it (no literal
    /// address or user agent is in the line, and no entry is a network). True does not mean a match.
    pub fn may_match_line(&self, raw: &[u8]) -> bool {
        self.has_networks || self.literals.as_ref().is_some_and(|ac| ac.is_match(raw))
    }

    fn hits(&self, mut refs: Vec<Ref>) -> Vec<IocHit<'k>> {
        refs.sort_unstable();
        refs.dedup();
        let packs = self.set.packs();
        refs.into_iter()
            .map(|(p, e)| {
                let pack = &packs[p as usize];
                IocHit { pack, entry: &pack.entries[e as usize] }
            })
            .collect()
    }

    /// Path entries that match a file path. Case-insensitive; `/` and `\` are the same; the drive letter is not
    /// compared (sources give the default drive). Accepts `C:\…`, `C/…` and `C%3A/…` (a drive folder in a triage
    /// collection), `\\?\C:\…`, `\\host\c$\…` and drive-less paths; see [`winpath::without_drive`].
    pub fn match_path(&self, path: &str) -> Vec<IocHit<'k>> {
        let norm = winpath::without_drive(path);
        if norm.is_empty() {
            return Vec::new();
        }
        let mut refs: Vec<Ref> = self.paths.get(&norm).cloned().unwrap_or_default();
        let name = norm.rsplit('/').next().unwrap_or("");
        let packs = self.set.packs();
        for r in self.path_globs.matches(&norm) {
            let excluded = match &packs[r.0 as usize].entries[r.1 as usize].detail {
                IocDetail::Path { except, .. } => except.iter().any(|x| x == name),
                _ => false,
            };
            if !excluded {
                refs.push(r);
            }
        }
        self.hits(refs)
    }

    /// File-name entries that match the last component of `name` (a bare name or a path). Case-insensitive.
    pub fn match_file_name(&self, name: &str) -> Vec<IocHit<'k>> {
        let norm = winpath::without_drive(name);
        let last = norm.rsplit('/').next().unwrap_or("");
        if last.is_empty() {
            return Vec::new();
        }
        let mut refs: Vec<Ref> = self.names.get(last).cloned().unwrap_or_default();
        refs.extend(self.name_globs.matches(last));
        self.hits(refs)
    }

    /// Hash entries equal to a hex digest of any of the three algorithms (told apart by length). Case-insensitive;
    /// surrounding white space is ignored.
    pub fn match_hash(&self, hex: &str) -> Vec<IocHit<'k>> {
        let h = hex.trim().to_ascii_lowercase();
        if !matches!(h.len(), 32 | 40 | 64) || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Vec::new();
        }
        self.hits(self.hashes.get(&h).cloned().unwrap_or_default())
    }

    /// IP entries equal to `ip` or networks containing it. IPv4-mapped IPv6 addresses are compared as IPv4.
    pub fn match_ip(&self, ip: IpAddr) -> Vec<IocHit<'k>> {
        let ip = ip.to_canonical();
        let mut refs: Vec<Ref> = self.hosts.get(&ip).cloned().unwrap_or_default();
        refs.extend(self.nets.iter().filter(|(n, _)| n.contains(ip)).map(|(_, r)| *r));
        self.hits(refs)
    }

    /// User-agent entries that match a user agent as logged. `+` and space are the same (IIS writes spaces as
    /// `+`, the HttpProxy logs do not). `exact` entries compare the whole string, case-sensitive; `contains`
    /// entries look for their text anywhere, case-insensitive.
    pub fn match_user_agent(&self, ua: &str) -> Vec<IocHit<'k>> {
        let norm = normalize_user_agent(ua);
        if norm.is_empty() {
            return Vec::new();
        }
        let mut refs: Vec<Ref> = self.ua_exact.get(norm.as_ref()).cloned().unwrap_or_default();
        if !self.ua_contains.is_empty() {
            let lower = norm.to_lowercase();
            refs.extend(self.ua_contains.iter().filter(|(f, _)| lower.contains(f.as_str())).map(|(_, r)| *r));
        }
        self.hits(refs)
    }

    /// Domain entries equal to `host` or of which `host` is a subdomain (`a.evil.example` matches `evil.example`).
    /// Case-insensitive; a trailing dot is ignored.
    pub fn match_domain(&self, host: &str) -> Vec<IocHit<'k>> {
        let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
        let mut refs = Vec::new();
        let mut rest = h.as_str();
        while !rest.is_empty() {
            if let Some(v) = self.domains.get(rest) {
                refs.extend_from_slice(v);
            }
            rest = match rest.split_once('.') {
                Some((_, r)) => r,
                None => "",
            };
        }
        self.hits(refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exhunt_kb::ioc::{IocEntry, IocKind, IocPack, load};
    use exhunt_kb::{Diagnostic, KbFile, KbFiles};

    const HEADER: &str = r#"[pack]
id = "test-pack"
title = "test"
source = "https://example.invalid/report"
published = "2021-03-02"
license = "test data"
description = "test"
"#;

    fn pack_file(rel: &str, text: String) -> KbFile {
        KbFile { rel: rel.into(), display: format!("kb/{rel}"), text }
    }

    fn load_text(body: &str) -> (IocSet, Vec<Diagnostic>) {
        let files = KbFiles { root: None, files: vec![pack_file("ioc/test-pack.toml", format!("{HEADER}{body}"))] };
        let mut diags = Vec::new();
        let set = load(&files, &mut diags);
        (set, diags)
    }

    fn render(diags: &[Diagnostic]) -> String {
        diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn loads_every_kind_and_matches() {
        let (set, diags) = load_text(
            r#"
[[path]]
value = 'C:\inetpub\wwwroot\aspnet_client\shell.aspx'
first_seen = 2021-01-06

[[path]]
value = '%ExchangeInstallPath%\FrontEnd\HttpProxy\ecp\auth\*'
location = true
except = ["TimeoutLogoff.aspx"]
source = "https://example.invalid/other"

[[file_name]]
value = "supp0rt.aspx"

[[file_name]]
value = "log_error_*.aspx"

[[hash]]
algo = "sha256"
value = "B75F163CA9B9240BF4B37AD92BC7556B40A17E27C2B8ED5C8991385FE07D17D0"
name = "x.aspx"
family = "China Chopper"

[[ip]]
value = "103.77.192.219"

[[ip]]
value = "198.51.100.0/24"

[[user_agent]]
value = "python-requests/2.19.1"

[[user_agent]]
value = "Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html"
match = "contains"

[[domain]]
value = "Yolkish.com"
"#,
        );
        assert!(diags.is_empty(), "{}", render(&diags));
        assert_eq!(set.len(), 10);
        let pack = set.pack("test-pack").expect("loaded");
        let set = IocIndex::new(&set);
        assert_eq!(pack.count(IocKind::Path), 2);
        assert_eq!(pack.count(IocKind::UserAgent), 2);

        let h = set.match_path("C%3A/inetpub/wwwroot/aspnet_client/SHELL.aspx");
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].pack_id(), "test-pack");
        assert_eq!(h[0].kind(), IocKind::Path);
        assert_eq!(h[0].date(), "2021-01-06");
        assert_eq!(h[0].source(), "https://example.invalid/report");
        assert_eq!(h[0].cite(), "kb/ioc/test-pack.toml:10");
        assert!(!h[0].is_location());

        let h = set.match_path(r"D:\Exchange Server\V15\FrontEnd\HttpProxy\ecp\auth\evil.aspx");
        assert_eq!(h.len(), 1);
        assert!(h[0].is_location());
        assert_eq!(h[0].source(), "https://example.invalid/other");
        assert_eq!(h[0].date(), "2021-03-02");
        assert!(set.match_path(r"D:\Exchange Server\V15\FrontEnd\HttpProxy\ecp\auth\TimeoutLogoff.aspx").is_empty());

        assert_eq!(set.match_file_name("SUPP0RT.aspx").len(), 1);
        assert_eq!(set.match_file_name(r"C:\x\supp0rt.aspx").len(), 1);
        assert_eq!(set.match_file_name("log_error_9e23efc3.aspx").len(), 1);
        assert!(set.match_file_name("supp0rt.aspx.bak").is_empty());

        let h = set.match_hash(" b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0 ");
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].value(), "b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0");
        assert_eq!(h[0].family(), Some("China Chopper"));
        assert!(set.match_hash("b75f").is_empty());

        assert_eq!(set.match_ip("103.77.192.219".parse().expect("ip")).len(), 1);
        assert_eq!(set.match_ip("::ffff:103.77.192.219".parse().expect("ip")).len(), 1);
        assert_eq!(set.match_ip("198.51.100.9".parse().expect("ip")).len(), 1);
        assert!(set.match_ip("198.51.101.9".parse().expect("ip")).is_empty());

        assert_eq!(set.match_user_agent("python-requests/2.19.1").len(), 1);
        assert!(set.match_user_agent("python-requests/2.19.10").is_empty());
        assert!(set.match_user_agent("Python-Requests/2.19.1").is_empty(), "exact is case-sensitive");
        let logged = "Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html)";
        assert_eq!(set.match_user_agent(logged).len(), 1);
        assert_eq!(
            set.match_user_agent("mozilla/5.0 (compatible; googlebot/2.1; +http://www.google.com/bot.html)").len(),
            1
        );

        assert_eq!(set.match_domain("yolkish.com").len(), 1);
        assert_eq!(set.match_domain("a.b.YOLKISH.com.").len(), 1);
        assert!(set.match_domain("notyolkish.com").is_empty());
    }

    #[test]
    fn hits_come_in_pack_order() {
        let other = HEADER.replace("test-pack", "other-pack") + "\n[[ip]]\nvalue = \"1.2.3.0/24\"\n";
        let first = HEADER.to_string() + "\n[[ip]]\nvalue = \"1.2.3.4\"\n";
        let files = KbFiles {
            root: None,
            files: vec![pack_file("ioc/other-pack.toml", other), pack_file("ioc/test-pack.toml", first)],
        };
        let mut diags = Vec::new();
        let set = load(&files, &mut diags);
        assert!(diags.is_empty(), "{}", render(&diags));
        let index = IocIndex::new(&set);
        let hits = index.match_ip("1.2.3.4".parse().expect("ip"));
        assert_eq!(hits.iter().map(|h| h.pack_id()).collect::<Vec<_>>(), ["other-pack", "test-pack"]);
        assert_eq!(hits[0].cite(), "kb/ioc/other-pack.toml:10");
    }

    #[test]
    fn the_line_prefilter_passes_lines_with_a_literal_and_every_line_with_a_network() {
        let (set, _) = load_text("\n[[ip]]\nvalue = \"103.77.192.219\"\n\n[[user_agent]]\nvalue = \"antSword/v2.1\"\n");
        let index = IocIndex::new(&set);
        assert!(index.may_match_line(b"2021-03-03 ... 103.77.192.219 ..."));
        assert!(index.may_match_line(b"... ANTSWORD/V2.1 ..."), "case-insensitive");
        assert!(!index.may_match_line(b"2021-03-03 GET /owa/ 198.51.100.7 Mozilla/5.0"));
        let (set, _) = load_text("\n[[ip]]\nvalue = \"198.51.100.0/24\"\n");
        assert!(IocIndex::new(&set).may_match_line(b"anything"), "a network is not a literal");
        let (set, _) = load_text("\n[[user_agent]]\nvalue = \"python-requests/2.19.1\"\n");
        let index = IocIndex::new(&set);
        assert!(index.may_match_line(b"python-requests/2.19.1"));
        assert!(!index.may_match_line(b"curl/7.68.0"));
        let empty = IocSet::default();
        assert!(!IocIndex::new(&empty).may_match_line(b"103.77.192.219"));
    }

    #[test]
    fn hand_built_set_with_a_bad_pattern_does_not_panic() {
        let entry = IocEntry {
            value: "not absolute".into(),
            detail: IocDetail::Path { location: false, except: vec![] },
            source: "s".into(),
            published: "2021-03-02".into(),
            first_seen: None,
            family: None,
            note: None,
            line: 1,
        };
        let pack = IocPack {
            id: "p".into(),
            title: "t".into(),
            source: "s".into(),
            references: vec![],
            published: "2021-03-02".into(),
            updated: None,
            license: "l".into(),
            description: "d".into(),
            file: "ioc/p.toml".into(),
            display: "p".into(),
            entries: vec![entry],
        };
        let set = IocSet::new(vec![pack]);
        assert_eq!(set.len(), 1);
        let index = IocIndex::new(&set);
        assert!(index.match_path("not absolute").is_empty());
        assert_eq!(index.set().entries().count(), 1);
    }
}
