//! IOC packs (`kb/ioc/*.toml`): indicators of compromise as data, each with the source that published it.
//!
//! One pack per source (a vendor report, a government alert, a community list). A pack is a `[pack]` header and
//! entries of six kinds: `[[path]]`, `[[file_name]]`, `[[hash]]`, `[[ip]]`, `[[user_agent]]` and `[[domain]]`. The
//! format, every key, and how to add a pack are in `docs/ioc-packs.md`.
//!
//! Loading validates every entry and turns each problem into a coded [`Diagnostic`] at its line and column. A bad
//! entry is dropped and the rest of its pack is kept; a pack whose header is bad is dropped whole, because its
//! entries inherit the header's source and date.
//!
//! [`IocSet`] then answers "is this known bad?" without I/O: exact values are hash-map lookups, wildcard paths and
//! file names one [`RegexSet`] pass, networks a scan of the (few) CIDR entries. Every answer is an [`IocHit`] that
//! names the pack, the entry and the line it was written on, so a finding can cite `kb/ioc/<pack>.toml:<line>`.

use crate::catalog::valid_date;
use crate::diag::{Diagnostic, Level};
use crate::files::{KbFile, KbFiles};
use exhunt_model::net::IpNet;
use exhunt_model::winpath;
use regex::RegexSet;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// Where IOC packs live under the kb root.
pub const IOC_DIR: &str = "ioc/";

/// The kind of an indicator; also the name of its array of tables in a pack (`[[file_name]]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IocKind {
    /// A file path, possibly with wildcards (`C:\inetpub\wwwroot\aspnet_client\system_web\*.aspx`).
    Path,
    /// A bare file name (`supp0rt.aspx`), wherever the file is.
    FileName,
    /// An MD5, SHA-1 or SHA-256 of a file.
    Hash,
    /// An IPv4 or IPv6 address or network.
    Ip,
    /// An HTTP User-Agent, as IIS logs it.
    UserAgent,
    /// A DNS name (command and control).
    Domain,
}

impl IocKind {
    pub const ALL: [IocKind; 6] =
        [IocKind::Path, IocKind::FileName, IocKind::Hash, IocKind::Ip, IocKind::UserAgent, IocKind::Domain];

    /// The table name in a pack, and the name in output.
    pub fn as_str(self) -> &'static str {
        match self {
            IocKind::Path => "path",
            IocKind::FileName => "file_name",
            IocKind::Hash => "hash",
            IocKind::Ip => "ip",
            IocKind::UserAgent => "user_agent",
            IocKind::Domain => "domain",
        }
    }

    fn from_table(name: &str) -> Option<IocKind> {
        IocKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The keys an entry of this kind may have (for help texts).
    fn keys(self) -> &'static str {
        match self {
            IocKind::Path => "value, location, except, source, published, first_seen, family, note",
            IocKind::Hash => "value, algo, name, source, published, first_seen, family, note",
            IocKind::UserAgent => "value, match, source, published, first_seen, family, note",
            IocKind::FileName | IocKind::Ip | IocKind::Domain => "value, source, published, first_seen, family, note",
        }
    }
}

impl fmt::Display for IocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The algorithm of a hash entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgo {
    Md5,
    Sha1,
    Sha256,
}

impl HashAlgo {
    /// Length of the hash in hex digits.
    pub fn hex_len(self) -> usize {
        match self {
            HashAlgo::Md5 => 32,
            HashAlgo::Sha1 => 40,
            HashAlgo::Sha256 => 64,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgo::Md5 => "md5",
            HashAlgo::Sha1 => "sha1",
            HashAlgo::Sha256 => "sha256",
        }
    }
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a user-agent entry is compared with a logged user agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UaMatch {
    /// The whole user agent, case-sensitive, after `+` and space are made equal.
    #[default]
    Exact,
    /// A fragment anywhere in the user agent, case-insensitive, after `+` and space are made equal. For sources
    /// that give fragments (or truncated strings) rather than whole user agents.
    Contains,
}

/// What an entry holds beyond the common fields, by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IocDetail {
    Path {
        /// The source names a place where web shells were dropped, not a known-bad file: a file that matches is a
        /// candidate to examine (for example against the Exchange baseline), not an indicator by itself.
        location: bool,
        /// File names (lower case) that the pattern does not cover (`TimeoutLogoff.aspx` in `ecp\auth`).
        except: Vec<String>,
    },
    FileName,
    Hash {
        algo: HashAlgo,
        /// The file name the source gives with the hash.
        file_name: Option<String>,
    },
    Ip(IpNet),
    UserAgent {
        mode: UaMatch,
    },
    Domain,
}

/// One indicator, with its provenance resolved (an entry without `source` or `published` has its pack's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IocEntry {
    /// The value as written in the pack; hashes and domains in lower case, networks in canonical form.
    pub value: String,
    pub detail: IocDetail,
    /// Where the value comes from: the entry's `source`, or the pack's.
    pub source: String,
    /// When the source published it (`YYYY-MM-DD`): the entry's `published`, or the pack's.
    pub published: String,
    /// When the source says it was first seen, when it says so.
    pub first_seen: Option<String>,
    /// Malware family or tool (`China Chopper`, `ShadowPad`).
    pub family: Option<String>,
    pub note: Option<String>,
    /// 1-based line of the entry's `value` in its pack file.
    pub line: usize,
}

impl IocEntry {
    pub fn kind(&self) -> IocKind {
        match self.detail {
            IocDetail::Path { .. } => IocKind::Path,
            IocDetail::FileName => IocKind::FileName,
            IocDetail::Hash { .. } => IocKind::Hash,
            IocDetail::Ip(_) => IocKind::Ip,
            IocDetail::UserAgent { .. } => IocKind::UserAgent,
            IocDetail::Domain => IocKind::Domain,
        }
    }

    /// The date to show: first seen when known, otherwise published.
    pub fn date(&self) -> &str {
        self.first_seen.as_deref().unwrap_or(&self.published)
    }
}

/// One pack: a header and its entries, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IocPack {
    /// Equal to the file name without `.toml`.
    pub id: String,
    pub title: String,
    /// URL or citation of the publication the pack transcribes.
    pub source: String,
    /// Further URLs: where the values were read from, mirrors, the report the source quotes.
    pub references: Vec<String>,
    /// When the source was published (`YYYY-MM-DD`).
    pub published: String,
    /// When the source was last updated, if it was.
    pub updated: Option<String>,
    /// Licence or terms of the source (TLP, licence of the repository).
    pub license: String,
    pub description: String,
    /// Path relative to the kb root (`ioc/mstic-exchange-2021-03.toml`).
    pub file: String,
    /// Path as shown in diagnostics.
    pub display: String,
    pub entries: Vec<IocEntry>,
}

impl IocPack {
    /// Number of entries of one kind.
    pub fn count(&self, kind: IocKind) -> usize {
        self.entries.iter().filter(|e| e.kind() == kind).count()
    }
}

/// An entry together with its pack: what every match returns.
#[derive(Clone, Copy, Debug)]
pub struct IocHit<'a> {
    pub pack: &'a IocPack,
    pub entry: &'a IocEntry,
}

impl<'a> IocHit<'a> {
    pub fn pack_id(&self) -> &'a str {
        &self.pack.id
    }

    pub fn kind(&self) -> IocKind {
        self.entry.kind()
    }

    pub fn value(&self) -> &'a str {
        &self.entry.value
    }

    pub fn source(&self) -> &'a str {
        &self.entry.source
    }

    /// First seen when known, otherwise published.
    pub fn date(&self) -> &'a str {
        self.entry.date()
    }

    pub fn note(&self) -> Option<&'a str> {
        self.entry.note.as_deref()
    }

    pub fn family(&self) -> Option<&'a str> {
        self.entry.family.as_deref()
    }

    /// True for a path entry that names a drop location rather than a known-bad file.
    pub fn is_location(&self) -> bool {
        matches!(self.entry.detail, IocDetail::Path { location: true, .. })
    }

    /// `kb/ioc/<pack>.toml:<line>`, for a finding's evidence.
    pub fn cite(&self) -> String {
        format!("kb/{}:{}", self.pack.file, self.entry.line)
    }
}

/// (pack index, entry index).
type Ref = (u32, u32);

/// All loaded packs, indexed for matching.
#[derive(Clone, Debug, Default)]
pub struct IocSet {
    packs: Vec<IocPack>,
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

impl IocSet {
    /// Indexes packs. Entries whose value does not compile (only possible for packs built by hand, since the
    /// loader drops them with a diagnostic) are kept in [`IocSet::packs`] but never match.
    pub fn new(packs: Vec<IocPack>) -> IocSet {
        let mut set = IocSet { packs, ..IocSet::default() };
        let mut path_globs = Vec::new();
        let mut name_globs = Vec::new();
        for (pi, pack) in set.packs.iter().enumerate() {
            for (ei, e) in pack.entries.iter().enumerate() {
                let r: Ref = (pi as u32, ei as u32);
                match &e.detail {
                    IocDetail::Path { .. } => match compile_path(&e.value) {
                        Ok(PathKey::Exact(k)) => set.paths.entry(k).or_default().push(r),
                        Ok(PathKey::Glob(re)) => path_globs.push((re, r)),
                        Err(_) => {}
                    },
                    IocDetail::FileName => {
                        let name = e.value.to_lowercase();
                        if has_wildcard(&name) {
                            name_globs.push((format!("^{}$", glob_segment(&name)), r));
                        } else {
                            set.names.entry(name).or_default().push(r);
                        }
                    }
                    IocDetail::Hash { .. } => set.hashes.entry(e.value.to_ascii_lowercase()).or_default().push(r),
                    IocDetail::Ip(net) if net.is_host() => set.hosts.entry(net.first()).or_default().push(r),
                    IocDetail::Ip(net) => set.nets.push((*net, r)),
                    IocDetail::UserAgent { mode: UaMatch::Exact } => {
                        set.ua_exact.entry(normalize_user_agent(&e.value).into_owned()).or_default().push(r)
                    }
                    IocDetail::UserAgent { mode: UaMatch::Contains } => {
                        set.ua_contains.push((normalize_user_agent(&e.value).to_lowercase(), r))
                    }
                    IocDetail::Domain => {
                        set.domains.entry(e.value.trim_end_matches('.').to_ascii_lowercase()).or_default().push(r)
                    }
                }
            }
        }
        set.path_globs = Globs::build(path_globs);
        set.name_globs = Globs::build(name_globs);
        set
    }

    /// The packs, in file order.
    pub fn packs(&self) -> &[IocPack] {
        &self.packs
    }

    /// The pack with this id.
    pub fn pack(&self, id: &str) -> Option<&IocPack> {
        self.packs.iter().find(|p| p.id == id)
    }

    /// Every entry of every pack, pack by pack in file order.
    pub fn entries(&self) -> impl Iterator<Item = IocHit<'_>> + '_ {
        self.packs.iter().flat_map(|pack| pack.entries.iter().map(move |entry| IocHit { pack, entry }))
    }

    /// Number of entries in all packs.
    pub fn len(&self) -> usize {
        self.packs.iter().map(|p| p.entries.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn hits(&self, mut refs: Vec<Ref>) -> Vec<IocHit<'_>> {
        refs.sort_unstable();
        refs.dedup();
        refs.into_iter()
            .map(|(p, e)| {
                let pack = &self.packs[p as usize];
                IocHit { pack, entry: &pack.entries[e as usize] }
            })
            .collect()
    }

    /// Path entries that match a file path. Case-insensitive; `/` and `\` are the same; the drive letter is not
    /// compared (sources give the default drive). Accepts `C:\…`, `C/…` and `C%3A/…` (a drive folder in a triage
    /// collection), `\\?\C:\…`, `\\host\c$\…` and drive-less paths; see [`winpath::without_drive`].
    pub fn match_path(&self, path: &str) -> Vec<IocHit<'_>> {
        let norm = winpath::without_drive(path);
        if norm.is_empty() {
            return Vec::new();
        }
        let mut refs: Vec<Ref> = self.paths.get(&norm).cloned().unwrap_or_default();
        let name = norm.rsplit('/').next().unwrap_or("");
        for r in self.path_globs.matches(&norm) {
            let excluded = match &self.packs[r.0 as usize].entries[r.1 as usize].detail {
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
    pub fn match_file_name(&self, name: &str) -> Vec<IocHit<'_>> {
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
    pub fn match_hash(&self, hex: &str) -> Vec<IocHit<'_>> {
        let h = hex.trim().to_ascii_lowercase();
        if !matches!(h.len(), 32 | 40 | 64) || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Vec::new();
        }
        self.hits(self.hashes.get(&h).cloned().unwrap_or_default())
    }

    /// IP entries equal to `ip` or networks containing it. IPv4-mapped IPv6 addresses are compared as IPv4.
    pub fn match_ip(&self, ip: IpAddr) -> Vec<IocHit<'_>> {
        let ip = ip.to_canonical();
        let mut refs: Vec<Ref> = self.hosts.get(&ip).cloned().unwrap_or_default();
        refs.extend(self.nets.iter().filter(|(n, _)| n.contains(ip)).map(|(_, r)| *r));
        self.hits(refs)
    }

    /// User-agent entries that match a user agent as logged. `+` and space are the same (IIS writes spaces as
    /// `+`, the HttpProxy logs do not). `exact` entries compare the whole string, case-sensitive; `contains`
    /// entries look for their text anywhere, case-insensitive.
    pub fn match_user_agent(&self, ua: &str) -> Vec<IocHit<'_>> {
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
    pub fn match_domain(&self, host: &str) -> Vec<IocHit<'_>> {
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

/// `+` and space are the same in a user agent (IIS logs spaces as `+`): both become a space; ends are trimmed.
pub fn normalize_user_agent(ua: &str) -> Cow<'_, str> {
    let t = ua.trim_matches(|c: char| c == ' ' || c == '+' || c == '\t');
    if t.contains('+') { Cow::Owned(t.replace('+', " ")) } else { Cow::Borrowed(t) }
}

/// A compiled path pattern: an exact key, or a regex over keys (keys are [`winpath::without_drive`] forms).
#[derive(Debug, PartialEq, Eq)]
enum PathKey {
    Exact(String),
    Glob(String),
}

impl PathKey {
    fn text(&self) -> &str {
        match self {
            PathKey::Exact(s) | PathKey::Glob(s) => s,
        }
    }
}

/// A problem with a path pattern: message and help.
struct PatternError(String, &'static str);

/// `%VARIABLE%`s a path may start with, and the folders they stand for (lower case; `**` is any folders).
const PATH_VARS: &[(&str, &[&str])] = &[
    ("%systemdrive%", &[]),
    ("%programfiles%", &["program files"]),
    ("%programfiles(x86)%", &["program files (x86)"]),
    ("%programdata%", &["programdata"]),
    ("%systemroot%", &["windows"]),
    ("%windir%", &["windows"]),
    ("%public%", &["users", "public"]),
    ("%exchangeinstallpath%", &["**"]),
];

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Regex for one path segment with `*` (any characters but `/`) and `?` (one character but `/`).
fn glob_segment(seg: &str) -> String {
    let mut out = String::new();
    for c in seg.chars() {
        match c {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out
}

/// Compiles a path pattern as written in a pack. The drive is dropped (any drive matches).
fn compile_path(raw: &str) -> Result<PathKey, PatternError> {
    const ABSOLUTE_HELP: &str = "start the path with a drive (`C:\\`), a `\\` (any drive), a `%VARIABLE%` such as `%ProgramFiles%` or `%ExchangeInstallPath%`, or `**\\` (any folder)";
    let parts: Vec<&str> = raw.split(['\\', '/']).collect();
    let (first, rest) = (parts[0], &parts[1..]);
    // The root: a drive or a leading separator (any drive: dropped), a `%VARIABLE%` (its folders), or `**`.
    let mut segs: Vec<String> = if first.len() == 2 && winpath::drive_of(first).is_some() {
        Vec::new()
    } else if first.is_empty() {
        if rest.first().is_some_and(|p| p.is_empty()) {
            return Err(PatternError(
                format!("`{raw}` is a UNC path"),
                "write the local path (`C:\\inetpub\\…`): a UNC path to this host matches as its local path",
            ));
        }
        Vec::new()
    } else if first.len() > 2 && first.starts_with('%') && first.ends_with('%') {
        let var = first.to_ascii_lowercase();
        match PATH_VARS.iter().find(|(v, _)| *v == var) {
            Some((_, expansion)) => expansion.iter().map(|s| (*s).to_string()).collect(),
            None => {
                return Err(PatternError(
                    format!("unknown variable `{first}` in path `{raw}`"),
                    "use one of %SystemDrive%, %ProgramFiles%, %ProgramFiles(x86)%, %ProgramData%, %SystemRoot%, %windir%, %Public%, %ExchangeInstallPath%",
                ));
            }
        }
    } else if first == "**" {
        vec!["**".to_string()]
    } else {
        return Err(PatternError(format!("path `{raw}` is not absolute"), ABSOLUTE_HELP));
    };
    if rest.is_empty() || rest.iter().all(|p| p.is_empty()) {
        return Err(PatternError(
            format!("path `{raw}` names a folder, not files"),
            "say which files: `…\\*` for the files in the folder, `…\\**\\*` for every file below it, `…\\**\\*.aspx` for pages below it",
        ));
    }
    for (i, seg) in rest.iter().enumerate() {
        let last = i + 1 == rest.len();
        if seg.is_empty() {
            return Err(if last {
                PatternError(
                    format!("path `{raw}` names a folder, not files"),
                    "say which files: `…\\*` for the files in the folder, `…\\**\\*` for every file below it, `…\\**\\*.aspx` for pages below it",
                )
            } else {
                PatternError(format!("path `{raw}` has an empty folder name"), "remove the doubled separator")
            });
        }
        if *seg == "." || *seg == ".." {
            return Err(PatternError(format!("path `{raw}` contains `{seg}`"), "write the path without `.` and `..`"));
        }
        if seg.contains('%') {
            return Err(PatternError(
                format!("`%` in the middle of path `{raw}`"),
                "a `%VARIABLE%` may only start a path; write other folders literally",
            ));
        }
        if seg.contains("**") && *seg != "**" {
            return Err(PatternError(
                format!("`**` is not a whole folder name in `{raw}`"),
                "`**` stands for any number of folders and must be alone between separators; use `*` within a name",
            ));
        }
        if let Some(c) = seg.chars().find(|c| matches!(c, '<' | '>' | '"' | '|' | ':') || c.is_control()) {
            return Err(PatternError(
                format!("path `{raw}` contains `{}`, which Windows does not allow in a file name", c.escape_debug()),
                "for a placeholder such as `<exchange install path>` write `%ExchangeInstallPath%`; for any folder write `*` or `**`",
            ));
        }
        segs.push(seg.to_lowercase());
    }
    if !segs.iter().any(|s| has_wildcard(s)) {
        return Ok(PathKey::Exact(segs.join("/")));
    }
    let mut re = String::from("^");
    let last = segs.len() - 1;
    let mut after_any = false;
    for (i, seg) in segs.iter().enumerate() {
        if seg == "**" {
            if i == last {
                re.push_str(if i == 0 { "[^/]+(?:/[^/]+)*" } else { "(?:/[^/]+)+" });
            } else {
                if i > 0 && !after_any {
                    re.push('/');
                }
                re.push_str("(?:[^/]+/)*");
                after_any = true;
            }
            continue;
        }
        if i > 0 && !after_any {
            re.push('/');
        }
        after_any = false;
        re.push_str(&glob_segment(seg));
    }
    re.push('$');
    Ok(PathKey::Glob(re))
}

// ---------------------------------------------------------------------------------------------------------------
// Loading

/// The `[pack]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: Spanned<String>,
    title: Spanned<String>,
    source: Option<Spanned<String>>,
    #[serde(default)]
    references: Vec<Spanned<String>>,
    published: Spanned<toml::Value>,
    updated: Option<Spanned<toml::Value>>,
    license: Spanned<String>,
    description: Spanned<String>,
}

/// One entry as written; keys that belong to other kinds are refused after parsing, with their position.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    value: Spanned<String>,
    source: Option<Spanned<String>>,
    published: Option<Spanned<toml::Value>>,
    first_seen: Option<Spanned<toml::Value>>,
    family: Option<Spanned<String>>,
    note: Option<Spanned<String>>,
    // path
    location: Option<Spanned<bool>>,
    except: Option<Spanned<Vec<Spanned<String>>>>,
    // hash
    algo: Option<Spanned<HashAlgo>>,
    name: Option<Spanned<String>>,
    // user_agent
    #[serde(rename = "match")]
    mode: Option<Spanned<UaMatch>>,
}

/// Loads every `ioc/**/*.toml` file. Problems become diagnostics; good packs and entries are kept.
pub fn load(files: &KbFiles, diags: &mut Vec<Diagnostic>) -> IocSet {
    let mut packs: Vec<IocPack> = Vec::new();
    for file in files.matching(IOC_DIR, ".toml") {
        let Some(pack) = parse_pack(file, diags) else { continue };
        if let Some(first) = packs.iter().find(|p| p.id == pack.id) {
            diags.push(
                Diagnostic::error(
                    "K004",
                    &file.display,
                    format!("pack id `{}` is also used by {}", pack.id, first.display),
                )
                .at(1, 1)
                .with_help("give every pack its own id (the file name without `.toml`)"),
            );
            continue;
        }
        packs.push(pack);
    }
    IocSet::new(packs)
}

/// Parses and validates one pack file. Returns `None` when the file or its header is unusable (the diagnostics say
/// why); otherwise the pack with every valid entry. The file's diagnostics are pushed in line order.
pub fn parse_pack(file: &KbFile, diags: &mut Vec<Diagnostic>) -> Option<IocPack> {
    let start = diags.len();
    let pack = parse_pack_unsorted(file, diags);
    diags[start..].sort_by_key(|d| (d.line, d.col));
    pack
}

fn parse_pack_unsorted(file: &KbFile, diags: &mut Vec<Diagnostic>) -> Option<IocPack> {
    let mut cx = Cx { file, diags, ok: true };
    let root = match DeTable::parse(&file.text) {
        Ok(t) => t,
        Err(e) => {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            let msg = one_line(e.message());
            let help = msg.contains("escaped value").then(|| {
                "in a double-quoted string `\\` starts an escape: write Windows paths in single quotes ('C:\\inetpub\\…')"
                    .to_string()
            });
            cx.push(Level::Error, "K002", at, format!("TOML syntax error: {msg}"), help);
            return None;
        }
    };
    let mut header: Option<Spanned<DeValue>> = None;
    let mut tables: Vec<(IocKind, Spanned<DeValue>)> = Vec::new();
    for (key, value) in root.into_inner() {
        let name: &str = key.get_ref();
        if name == "pack" {
            header = Some(value);
        } else if let Some(kind) = IocKind::from_table(name) {
            tables.push((kind, value));
        } else {
            let squash = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
            let guess = IocKind::ALL.into_iter().find(|k| {
                let (n, k) = (squash(name), squash(k.as_str()));
                n == k || n == format!("{k}s") || n == format!("{k}es")
            });
            let help = match guess {
                Some(k) => format!("did you mean `[[{k}]]`?"),
                None => "an IOC pack has a `[pack]` table and `[[path]]`, `[[file_name]]`, `[[hash]]`, `[[ip]]`, `[[user_agent]]`, `[[domain]]` entries".to_string(),
            };
            cx.push(
                Level::Error,
                "K003",
                key.span().start,
                format!("unknown table `{name}` in an IOC pack"),
                Some(help),
            );
        }
    }
    let Some(header) = header else {
        cx.push(
            Level::Error,
            "K003",
            0,
            "missing `[pack]` table".to_string(),
            Some("start the file with `[pack]` and its id, title, source, published, license and description".into()),
        );
        return None;
    };
    // A bad header drops the pack, but its entries are still checked so that one run reports every problem.
    let (mut pack, header_ok) = cx.header(header)?;
    let mut seen: HashMap<(IocKind, String), usize> = HashMap::new();
    for (kind, value) in tables {
        let span = value.span();
        let DeValue::Array(items) = value.into_inner() else {
            cx.push(
                Level::Error,
                "K003",
                span.start,
                format!("`{kind}` must be an array of tables"),
                Some(format!("write each entry as a `[[{kind}]]` table")),
            );
            continue;
        };
        for item in items.iter().cloned() {
            let Some((entry, key, at)) = cx.entry(kind, item, &pack) else { continue };
            if let Some(first) = seen.get(&(kind, key.clone())) {
                cx.push(
                    Level::Warning,
                    "K004",
                    at,
                    format!("duplicate {kind} `{}` in this pack (first on line {first})", entry.value),
                    Some("remove this entry; the first one is kept".into()),
                );
                continue;
            }
            seen.insert((kind, key), entry.line);
            pack.entries.push(entry);
        }
    }
    header_ok.then_some(pack)
}

/// Load context: the file being read, where diagnostics go, and whether the current item is still good.
struct Cx<'a> {
    file: &'a KbFile,
    diags: &'a mut Vec<Diagnostic>,
    ok: bool,
}

impl Cx<'_> {
    fn push(&mut self, level: Level, code: &'static str, offset: usize, msg: String, help: Option<String>) {
        let mut d = match level {
            Level::Error => Diagnostic::error(code, &self.file.display, msg),
            Level::Warning => Diagnostic::warning(code, &self.file.display, msg),
        }
        .at_offset(&self.file.text, offset);
        if let Some(h) = help {
            d = d.with_help(h);
        }
        if level == Level::Error {
            self.ok = false;
        }
        self.diags.push(d);
    }

    fn serde_error(&mut self, e: &toml::de::Error, fallback: usize, kind: Option<IocKind>) {
        let at = e.span().map(|s| s.start).unwrap_or(fallback);
        let msg = one_line(e.message());
        let (msg, help) = match msg.strip_prefix("unknown field `").and_then(|r| r.split_once('`')) {
            Some((name, _)) => match kind {
                Some(k) => (
                    format!("unknown key `{name}` in a `[[{k}]]` entry"),
                    Some(format!("a `[[{k}]]` entry has the keys {}", k.keys())),
                ),
                None => (
                    format!("unknown key `{name}` in `[pack]`"),
                    Some(
                        "`[pack]` has the keys id, title, source, references, published, updated, license, description"
                            .into(),
                    ),
                ),
            },
            None => (msg, None),
        };
        self.push(Level::Error, "K003", at, msg, help);
    }

    /// Text that must not be empty (K020).
    fn text(&mut self, v: &Spanned<String>, what: &str) -> String {
        if v.get_ref().trim().is_empty() {
            self.push(Level::Error, "K020", v.span().start, format!("`{what}` is empty"), None);
        }
        v.get_ref().clone()
    }

    fn opt_text(&mut self, v: &Option<Spanned<String>>, what: &str) -> Option<String> {
        v.as_ref().map(|v| self.text(v, what))
    }

    /// A `YYYY-MM-DD` date, quoted or as a bare TOML date.
    fn date(&mut self, v: &Spanned<toml::Value>, what: &str) -> String {
        let text = match v.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(d) => d.to_string(),
            other => {
                self.push(
                    Level::Error,
                    "K003",
                    v.span().start,
                    format!("`{what}` must be a date, not {}", with_article(other.type_str())),
                    Some("write it as \"YYYY-MM-DD\"".into()),
                );
                return String::new();
            }
        };
        if !valid_date(&text, false) {
            self.push(
                Level::Error,
                "K006",
                v.span().start,
                format!("`{what}` is `{text}`, not a YYYY-MM-DD date"),
                Some("give the day the source published (or first saw) it, e.g. \"2021-03-02\"".into()),
            );
        }
        text
    }

    /// The pack (without entries) and whether its header is valid. `None` when the header cannot be read at all.
    fn header(&mut self, value: Spanned<DeValue>) -> Option<(IocPack, bool)> {
        let span = value.span();
        if !value.get_ref().is_table() {
            self.push(Level::Error, "K003", span.start, "`pack` must be a table".into(), Some("write `[pack]`".into()));
            return None;
        }
        let raw = match RawHeader::deserialize(ValueDeserializer::from(value)) {
            Ok(r) => r,
            Err(e) => {
                self.serde_error(&e, span.start, None);
                return None;
            }
        };
        self.ok = true;
        let id = self.text(&raw.id, "id");
        if !id.is_empty() && !valid_id(&id) {
            self.push(
                Level::Error,
                "K005",
                raw.id.span().start,
                format!("pack id `{id}` is not lower-case words joined by `-`"),
                Some("use letters a-z, digits and `-`, e.g. `mstic-exchange-2021-03`".into()),
            );
        } else if !id.is_empty() && id != file_stem(&self.file.rel) {
            self.push(
                Level::Error,
                "K005",
                raw.id.span().start,
                format!("pack id `{id}` does not match the file name `{}`", file_name(&self.file.rel)),
                Some(format!("name the file `{id}.toml`, or change the id")),
            );
        }
        let title = self.text(&raw.title, "title");
        let source = match &raw.source {
            Some(s) if !s.get_ref().trim().is_empty() => s.get_ref().clone(),
            Some(s) => {
                self.push(
                    Level::Error,
                    "K009",
                    s.span().start,
                    "the pack's `source` is empty".into(),
                    Some("name the publication: its URL, or a citation".into()),
                );
                String::new()
            }
            None => {
                self.push(
                    Level::Error,
                    "K009",
                    span.start,
                    "the pack has no `source`".into(),
                    Some("add `source = \"<URL or citation>\"` to `[pack]`: every indicator must say where it comes from".into()),
                );
                String::new()
            }
        };
        let references = raw.references.iter().map(|r| self.text(r, "references")).collect();
        let published = self.date(&raw.published, "published");
        let updated = raw.updated.as_ref().map(|u| self.date(u, "updated"));
        let license = self.text(&raw.license, "license");
        let description = self.text(&raw.description, "description");
        let pack = IocPack {
            id,
            title,
            source,
            references,
            published,
            updated,
            license,
            description,
            file: self.file.rel.clone(),
            display: self.file.display.clone(),
            entries: Vec::new(),
        };
        Some((pack, self.ok))
    }

    /// Validates one entry; returns it with its duplicate key and the offset of its value.
    fn entry(&mut self, kind: IocKind, item: Spanned<DeValue>, pack: &IocPack) -> Option<(IocEntry, String, usize)> {
        let span = item.span();
        if !item.get_ref().is_table() {
            self.push(
                Level::Error,
                "K003",
                span.start,
                format!("a `{kind}` entry must be a table"),
                Some(format!("write each entry as a `[[{kind}]]` table with `value = …`")),
            );
            return None;
        }
        let raw = match RawEntry::deserialize(ValueDeserializer::from(item)) {
            Ok(r) => r,
            Err(e) => {
                self.serde_error(&e, span.start, Some(kind));
                return None;
            }
        };
        self.ok = true;
        // Keys of other kinds.
        let foreign: [(&str, Option<Range<usize>>, IocKind); 5] = [
            ("location", raw.location.as_ref().map(Spanned::span), IocKind::Path),
            ("except", raw.except.as_ref().map(Spanned::span), IocKind::Path),
            ("algo", raw.algo.as_ref().map(Spanned::span), IocKind::Hash),
            ("name", raw.name.as_ref().map(Spanned::span), IocKind::Hash),
            ("match", raw.mode.as_ref().map(Spanned::span), IocKind::UserAgent),
        ];
        for (key, at, owner) in foreign {
            if let Some(at) = at.filter(|_| owner != kind) {
                self.push(
                    Level::Error,
                    "K003",
                    at.start,
                    format!("`{key}` is not a key of `[[{kind}]]` entries (only of `[[{owner}]]`)"),
                    Some(format!("a `[[{kind}]]` entry has the keys {}", kind.keys())),
                );
            }
        }
        let value_at = raw.value.span().start;
        let raw_value = raw.value.get_ref().clone();
        if raw_value.trim().is_empty() {
            self.push(Level::Error, "K020", value_at, format!("empty `value` in a `[[{kind}]]` entry"), None);
            return None;
        }
        let source = match &raw.source {
            Some(s) if s.get_ref().trim().is_empty() => {
                self.push(
                    Level::Error,
                    "K009",
                    s.span().start,
                    "the entry's `source` is empty".into(),
                    Some("remove `source` to use the pack's, or name where this value comes from".into()),
                );
                String::new()
            }
            Some(s) => s.get_ref().clone(),
            None => pack.source.clone(),
        };
        let published = match &raw.published {
            Some(p) => self.date(p, "published"),
            None => pack.published.clone(),
        };
        let first_seen = raw.first_seen.as_ref().map(|d| self.date(d, "first_seen"));
        let family = self.opt_text(&raw.family, "family");
        let note = self.opt_text(&raw.note, "note");
        let (value, detail, key) = match kind {
            IocKind::Path => self.path_entry(&raw, &raw_value, value_at)?,
            IocKind::FileName => {
                if raw_value.contains(['\\', '/']) {
                    self.push(
                        Level::Error,
                        "K031",
                        value_at,
                        format!("file name `{raw_value}` contains a folder"),
                        Some("put full paths in a `[[path]]` entry; a `[[file_name]]` is the name alone".into()),
                    );
                }
                let key = raw_value.to_lowercase();
                (raw_value, IocDetail::FileName, key)
            }
            IocKind::Hash => {
                let Some(algo) = raw.algo.as_ref() else {
                    self.push(
                        Level::Error,
                        "K003",
                        span.start,
                        "a `[[hash]]` entry needs `algo`".into(),
                        Some("add `algo = \"sha256\"` (or \"sha1\", \"md5\")".into()),
                    );
                    return None;
                };
                let algo = *algo.get_ref();
                let hex = raw_value.to_ascii_lowercase();
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    self.push(Level::Error, "K007", value_at, format!("{algo} hash `{raw_value}` is not hex"), None);
                } else if hex.len() != algo.hex_len() {
                    let other = [HashAlgo::Md5, HashAlgo::Sha1, HashAlgo::Sha256]
                        .into_iter()
                        .find(|a| a.hex_len() == hex.len())
                        .map(|a| format!("; {} hex digits is {a}: is `algo` right?", hex.len()))
                        .unwrap_or_default();
                    self.push(
                        Level::Error,
                        "K007",
                        value_at,
                        format!("{algo} hash `{raw_value}` has {} hex digits, not {}", hex.len(), algo.hex_len()),
                        Some(format!("{} hash is {} hex digits{other}", with_article(algo.as_str()), algo.hex_len())),
                    );
                }
                let file_name = self.opt_text(&raw.name, "name");
                (hex.clone(), IocDetail::Hash { algo, file_name }, hex)
            }
            IocKind::Ip => match IpNet::parse(raw_value.trim()) {
                Ok(net) if raw_value.trim() == raw_value => {
                    let text = net.to_string();
                    (text.clone(), IocDetail::Ip(net), text)
                }
                Ok(_) => {
                    self.push(Level::Error, "K008", value_at, format!("IP `{raw_value}` has spaces around it"), None);
                    return None;
                }
                Err(e) => {
                    let help = if raw_value.contains("[.]") || raw_value.contains("[:]") {
                        "write the address without defanging: `[.]` as `.`"
                    } else {
                        "write an IPv4 or IPv6 address, optionally with a /prefix (`203.0.113.0/24`)"
                    };
                    self.push(Level::Error, "K008", value_at, e.to_string(), Some(help.into()));
                    return None;
                }
            },
            IocKind::UserAgent => {
                if raw_value.contains(' ') {
                    self.push(
                        Level::Warning,
                        "K031",
                        value_at,
                        format!("user agent `{raw_value}` contains a space"),
                        Some(
                            "IIS logs write spaces in the user agent as `+`; write the user agent as it is logged"
                                .into(),
                        ),
                    );
                }
                let mode = raw.mode.as_ref().map(|m| *m.get_ref()).unwrap_or_default();
                let key = format!("{mode:?}:{}", normalize_user_agent(&raw_value));
                (raw_value, IocDetail::UserAgent { mode }, key)
            }
            IocKind::Domain => {
                let d = raw_value.to_ascii_lowercase();
                if let Err(why) = check_domain(&d) {
                    let help = if d.contains("[.]") {
                        "write the domain without defanging: `[.]` as `.`"
                    } else {
                        "write a host name such as `evil.example`, without scheme, port or path"
                    };
                    self.push(Level::Error, "K031", value_at, format!("domain `{raw_value}` {why}"), Some(help.into()));
                }
                (d.clone(), IocDetail::Domain, d)
            }
        };
        if !self.ok {
            return None;
        }
        let line = crate::diag::line_col(&self.file.text, value_at).0;
        Some((IocEntry { value, detail, source, published, first_seen, family, note, line }, key, value_at))
    }

    fn path_entry(&mut self, raw: &RawEntry, value: &str, at: usize) -> Option<(String, IocDetail, String)> {
        let key = match compile_path(value) {
            Ok(k) => k,
            Err(PatternError(msg, help)) => {
                self.push(Level::Error, "K030", at, msg, Some(help.into()));
                return None;
            }
        };
        let mut except = Vec::new();
        if let Some(list) = &raw.except {
            if matches!(key, PathKey::Exact(_)) {
                self.push(
                    Level::Error,
                    "K030",
                    list.span().start,
                    "`except` on a path without a wildcard".into(),
                    Some("`except` lists file names that a wildcard path does not cover; remove it".into()),
                );
            }
            for name in list.get_ref() {
                let n = self.text(name, "except");
                if n.contains(['\\', '/']) || has_wildcard(&n) {
                    self.push(
                        Level::Error,
                        "K031",
                        name.span().start,
                        format!("`except` entry `{n}` is not a plain file name"),
                        Some("list file names only, such as \"TimeoutLogoff.aspx\"".into()),
                    );
                }
                except.push(n.to_lowercase());
            }
        }
        let location = raw.location.as_ref().is_some_and(|l| *l.get_ref());
        let dup = format!("{}|{}", key.text(), except.join(","));
        Some((value.to_string(), IocDetail::Path { location, except }, dup))
    }
}

fn check_domain(d: &str) -> Result<(), &'static str> {
    if d.len() > 253 {
        return Err("is longer than 253 characters");
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return Err("has no dot");
    }
    for l in labels {
        if l.is_empty() || l.len() > 63 {
            return Err("has an empty or over-long label");
        }
        if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err("has a character that a host name cannot have");
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err("has a label that starts or ends with `-`");
        }
    }
    Ok(())
}

/// "an integer", "an md5", "a string".
fn with_article(word: &str) -> String {
    let an = word.starts_with(['a', 'e', 'i', 'o', 'u']) || word == "md5";
    format!("{} {word}", if an { "an" } else { "a" })
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

fn file_stem(rel: &str) -> &str {
    let n = file_name(rel);
    n.strip_suffix(".toml").unwrap_or(n)
}

/// toml's messages can span lines ("unexpected x\nexpected y"); a diagnostic message is one line.
fn one_line(msg: &str) -> String {
    msg.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> KbFile {
        KbFile { rel: "ioc/test-pack.toml".into(), display: "kb/ioc/test-pack.toml".into(), text: text.into() }
    }

    const HEADER: &str = r#"[pack]
id = "test-pack"
title = "test"
source = "https://example.invalid/report"
published = "2021-03-02"
license = "test data"
description = "test"
"#;

    fn load_text(body: &str) -> (IocSet, Vec<Diagnostic>) {
        let text = format!("{HEADER}{body}");
        let files = KbFiles { root: None, files: vec![file(&text)] };
        let mut diags = Vec::new();
        let set = load(&files, &mut diags);
        (set, diags)
    }

    fn render(diags: &[Diagnostic]) -> String {
        diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn compile_path_globs() {
        let re = |p: &str| match compile_path(p) {
            Ok(PathKey::Glob(r)) => regex::Regex::new(&r).expect("compiles"),
            Ok(PathKey::Exact(e)) => panic!("{p} compiled to exact {e}"),
            Err(PatternError(m, _)) => panic!("{p}: {m}"),
        };
        let r = re(r"C:\inetpub\wwwroot\aspnet_client\**\*.aspx");
        assert!(r.is_match("inetpub/wwwroot/aspnet_client/x.aspx"));
        assert!(r.is_match("inetpub/wwwroot/aspnet_client/system_web/x.aspx"));
        assert!(r.is_match("inetpub/wwwroot/aspnet_client/a/b/x.aspx"));
        assert!(!r.is_match("inetpub/wwwroot/aspnet_client/x.aspx.txt"));
        assert!(!r.is_match("inetpub/wwwroot/x.aspx"));
        let r = re(r"%ExchangeInstallPath%\FrontEnd\HttpProxy\owa\auth\*");
        assert!(r.is_match("program files/microsoft/exchange server/v15/frontend/httpproxy/owa/auth/x.aspx"));
        assert!(r.is_match("exchange/frontend/httpproxy/owa/auth/x.aspx"));
        assert!(!r.is_match("exchange/frontend/httpproxy/owa/auth/current/x.aspx"));
        let r = re(r"C:\inetpub\**");
        assert!(r.is_match("inetpub/a"));
        assert!(r.is_match("inetpub/a/b"));
        assert!(!r.is_match("inetpub"));
        let r = re(r"**\aspnet_client\system_web\s?ell.aspx");
        assert!(r.is_match("aspnet_client/system_web/shell.aspx"));
        assert!(r.is_match("x/y/aspnet_client/system_web/shell.aspx"));
        assert!(!r.is_match("x/yaspnet_client/system_web/shell.aspx"));
        assert_eq!(
            compile_path(r"%ProgramFiles%\Microsoft\x.aspx").ok(),
            Some(PathKey::Exact("program files/microsoft/x.aspx".into()))
        );
    }

    #[test]
    fn compile_path_refuses() {
        for (p, words) in [
            (r"inetpub\x.aspx", "not absolute"),
            (r"C:\inetpub\", "names a folder"),
            (r"%TEMP%\x.exe", "unknown variable"),
            (r"C:\a\\b.aspx", "empty folder"),
            (r"C:\a\..\b.aspx", "contains `..`"),
            (r"C:\a\x**\b.aspx", "`**`"),
            (r"\<exchange install path>\FrontEnd\x.aspx", "does not allow"),
            (r"\\host\share\x.aspx", "UNC"),
            (r"C:\a\%windir%\b", "`%`"),
        ] {
            match compile_path(p) {
                Err(PatternError(m, _)) => assert!(m.contains(words), "{p}: {m}"),
                Ok(k) => panic!("{p} compiled to {k:?}"),
            }
        }
    }

    #[test]
    fn user_agent_normalization() {
        assert_eq!(normalize_user_agent("antSword/v2.1"), "antSword/v2.1");
        assert_eq!(
            normalize_user_agent("Mozilla/5.0+(compatible;+Bingbot/2.0)"),
            normalize_user_agent("Mozilla/5.0 (compatible; Bingbot/2.0)")
        );
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
    fn bad_entries_are_dropped_with_positions_and_the_rest_kept() {
        let (set, diags) = load_text(
            r#"
[[hash]]
algo = "md5"
value = "b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0"

[[hash]]
algo = "sha1"
value = "a75fa74ae35ce20c9cfc273c219ef58f1c4714a6"

[[ip]]
value = "34.90.207[.]23"
algo = "md5"

[[domain]]
value = "yolkish[.]com"

[[user_agent]]
value = "Mozilla/5.0 (X11)"

[[file_name]]
value = "a\\b.aspx"
"#,
        );
        let text = render(&diags);
        assert!(text.contains("error[K007]: md5 hash `b75f"), "{text}");
        assert!(text.contains("test-pack.toml:11:9"), "{text}");
        assert!(text.contains("sha256: is `algo` right?"), "{text}");
        assert!(text.contains("error[K008]"), "{text}");
        assert!(text.contains("defanging"), "{text}");
        assert!(text.contains("error[K003]: `algo` is not a key of `[[ip]]` entries"), "{text}");
        assert!(text.contains("error[K031]: domain `yolkish[.]com`"), "{text}");
        assert!(text.contains("warning[K031]: user agent `Mozilla/5.0 (X11)` contains a space"), "{text}");
        assert!(text.contains("error[K031]: file name `a\\b.aspx` contains a folder"), "{text}");
        // The sha1 entry and the user agent (a warning only) survive.
        assert_eq!(set.len(), 2, "{text}");
    }

    #[test]
    fn duplicate_in_a_pack_is_a_warning_and_across_packs_is_fine() {
        let (set, diags) = load_text(
            r#"
[[hash]]
algo = "sha256"
value = "b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0"

[[hash]]
algo = "sha256"
value = "B75F163CA9B9240BF4B37AD92BC7556B40A17E27C2B8ED5C8991385FE07D17D0"

[[path]]
value = 'C:\inetpub\wwwroot\aspnet_client\shell.aspx'

[[path]]
value = 'c:/INETPUB/wwwroot/aspnet_client/shell.aspx'
"#,
        );
        assert_eq!(diags.len(), 2, "{}", render(&diags));
        assert!(diags.iter().all(|d| d.code == "K004" && !d.is_error()));
        assert_eq!(diags[0].line, 15);
        assert_eq!(
            diags[0].message,
            "duplicate hash `b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0` in this pack (first on line 11)"
        );
        assert_eq!(set.len(), 2);

        let other = HEADER.replace("test-pack", "other-pack")
            + "\n[[ip]]\nvalue = \"1.2.3.4\"\n\n[[hash]]\nalgo = \"sha256\"\nvalue = \"b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0\"\n";
        let first = HEADER.to_string() + "\n[[ip]]\nvalue = \"1.2.3.4\"\n";
        let files = KbFiles {
            root: None,
            files: vec![
                KbFile { rel: "ioc/other-pack.toml".into(), display: "other".into(), text: other },
                KbFile { rel: "ioc/test-pack.toml".into(), display: "test".into(), text: first },
            ],
        };
        let mut diags = Vec::new();
        let set = load(&files, &mut diags);
        assert!(diags.is_empty(), "{}", render(&diags));
        let hits = set.match_ip("1.2.3.4".parse().expect("ip"));
        assert_eq!(hits.iter().map(|h| h.pack_id()).collect::<Vec<_>>(), ["other-pack", "test-pack"]);
    }

    #[test]
    fn header_problems() {
        let files = |text: &str| KbFiles { root: None, files: vec![file(text)] };
        let mut diags = Vec::new();
        let set = load(&files(&HEADER.replace("id = \"test-pack\"", "id = \"Test_Pack\"")), &mut diags);
        assert!(set.is_empty());
        assert_eq!(
            render(&diags),
            "error[K005]: pack id `Test_Pack` is not lower-case words joined by `-`\n  --> kb/ioc/test-pack.toml:2:6\n   = help: use letters a-z, digits and `-`, e.g. `mstic-exchange-2021-03`"
        );

        let mut diags = Vec::new();
        load(&files(&HEADER.replace("id = \"test-pack\"", "id = \"other\"")), &mut diags);
        assert!(diags[0].message.contains("does not match the file name `test-pack.toml`"), "{}", render(&diags));

        let mut diags = Vec::new();
        load(&files("[[ip]]\nvalue = \"1.2.3.4\"\n"), &mut diags);
        assert_eq!(diags[0].message, "missing `[pack]` table");

        let mut diags = Vec::new();
        load(&files(&(HEADER.to_string() + "\n[[hashes]]\nvalue = \"x\"\n")), &mut diags);
        assert_eq!(diags[0].message, "unknown table `hashes` in an IOC pack");
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `[[hash]]`?"));
        assert_eq!((diags[0].line, diags[0].col), (9, 3));

        let mut diags = Vec::new();
        load(&files(&HEADER.replace("published = \"2021-03-02\"", "published = 2021-03-02")), &mut diags);
        assert!(diags.is_empty(), "a bare TOML date is accepted: {}", render(&diags));

        let mut diags = Vec::new();
        load(&files(&HEADER.replace("published = \"2021-03-02\"", "published = 2021-03-02T10:00:00Z")), &mut diags);
        assert_eq!(diags[0].code, "K006", "{}", render(&diags));
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
        assert!(set.match_path("not absolute").is_empty());
        assert_eq!(set.entries().count(), 1);
    }
}
