//! Rules (`kb/rules/<type>/<id>.toml`): log rules, file rules (YARA) and path rules, each with its own positive and
//! negative samples.
//!
//! This module reads and validates the format; it compiles nothing. Regular expressions, globs and YARA source are
//! compiled by `exhunt-detect` (`exhunt_detect::check`), which reports what does not compile with the positions
//! recorded here. The format is specified in `docs/rule-format.md`.
//!
//! A rule file that has any error is reported and left out of the [`RuleSet`]; warnings do not drop a rule.

mod file;
mod log;
pub use log::HTTPPROXY_FIELDS;
mod path;
mod read;

pub use file::{FileRule, FileSample, YaraSource};
pub use log::{
    Condition, FieldTest, Group, LOG_SOURCES, LogRule, LogSample, PREFILTER_FORBIDDEN, RAW_FIELD, TestOp,
    contains_ignore_ascii_case, known_fields,
};
pub use path::{PathPattern, PathRule, PathSample, PatternKind};

use crate::diag::Diagnostic;
use crate::files::{KbFile, KbFiles};
use exhunt_model::{FindingKind, Severity};
use read::Reader;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// Where rule files live under the kb root.
pub const RULES_DIR: &str = "rules/";

/// A string from a rule file and the byte offset of its TOML token (the opening quote) in that file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub value: String,
    pub offset: usize,
}

/// The three types of rule; each has its own folder and id prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleType {
    /// Conditions over the named fields of one log record.
    Log,
    /// YARA source run over file contents.
    File,
    /// Globs or regular expressions over file paths.
    Path,
}

impl RuleType {
    pub const ALL: [RuleType; 3] = [RuleType::Log, RuleType::File, RuleType::Path];

    /// The folder under `rules/` and the rule's own table (`[log]`, `[file]`, `[path]`).
    pub fn as_str(&self) -> &'static str {
        match self {
            RuleType::Log => "log",
            RuleType::File => "file",
            RuleType::Path => "path",
        }
    }

    /// The id prefix: `EXH-LOG-`, `EXH-FILE-`, `EXH-PATH-`.
    pub fn id_prefix(&self) -> &'static str {
        match self {
            RuleType::Log => "EXH-LOG-",
            RuleType::File => "EXH-FILE-",
            RuleType::Path => "EXH-PATH-",
        }
    }
}

impl fmt::Display for RuleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule looks at, with its samples.
#[derive(Clone, Debug)]
pub enum RuleBody {
    Log(LogRule),
    File(FileRule),
    Path(PathRule),
}

impl RuleBody {
    pub fn rule_type(&self) -> RuleType {
        match self {
            RuleBody::Log(_) => RuleType::Log,
            RuleBody::File(_) => RuleType::File,
            RuleBody::Path(_) => RuleType::Path,
        }
    }
}

/// Where a sample sits in its rule file, for results and K023 diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleInfo {
    /// `true` for a positive sample (the rule must match it), `false` for a negative one.
    pub positive: bool,
    /// 0-based index among the rule's positive (or negative) samples.
    pub index: usize,
    /// The sample's optional `name`.
    pub name: Option<String>,
    /// Byte offset of the sample in the rule file (its `[[positive]]` header, inline table or string).
    pub offset: usize,
}

impl SampleInfo {
    /// `positive #1`, or `positive #1 (name)`.
    pub fn label(&self) -> String {
        let which = if self.positive { "positive" } else { "negative" };
        match &self.name {
            Some(n) => format!("{which} #{} ({n})", self.index + 1),
            None => format!("{which} #{}", self.index + 1),
        }
    }
}

/// One rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// `EXH-LOG-0001`, `EXH-FILE-0001`, `EXH-PATH-0001`.
    pub id: String,
    pub title: String,
    pub kind: FindingKind,
    pub severity: Severity,
    /// CVE ids the rule is evidence of (`CVE-2021-26855`).
    pub cve: Vec<String>,
    pub tags: Vec<String>,
    /// At least one URL or citation.
    pub references: Vec<String>,
    pub remediation: String,
    pub description: Option<String>,
    /// The malware or tool family a match identifies (`china-chopper`, `aspxspy`, …), when the rule names one.
    pub family: Option<String>,
    pub body: RuleBody,
    /// The rule file, relative to the kb root (`rules/log/exh-log-0001.toml`).
    pub rel: String,
    /// The rule file as shown to the user.
    pub display: String,
}

impl Rule {
    pub fn rule_type(&self) -> RuleType {
        self.body.rule_type()
    }
}

/// All rules of a knowledge base, in file order.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// Relative paths (under the kb root) of every sample file and `.yar` file a rule names.
    pub sample_files: BTreeSet<String>,
}

impl RuleSet {
    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Rules of one type.
    pub fn of_type(&self, t: RuleType) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |r| r.rule_type() == t)
    }
}

/// Loads every `rules/**/*.toml` file. Problems become diagnostics; rules without errors are kept.
pub fn load(files: &KbFiles, diags: &mut Vec<Diagnostic>) -> RuleSet {
    let mut set = RuleSet::default();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for file in files.matching(RULES_DIR, ".toml") {
        if let Some(rule) = load_file(file, files, &mut set.sample_files, diags) {
            if let Some(first) = seen.get(&rule.id) {
                let off = file.text.find(&rule.id).unwrap_or(0);
                diags.push(
                    Diagnostic::error("K004", &file.display, format!("rule id `{}` is already used", rule.id))
                        .at_offset(&file.text, off)
                        .with_help(format!("`{first}` has the same id; give this rule the next free number")),
                );
                continue;
            }
            seen.insert(rule.id.clone(), file.display.clone());
            set.rules.push(rule);
        }
    }
    set
}

const ROOT_KEYS: &[&str] = &[
    "id",
    "title",
    "kind",
    "severity",
    "cve",
    "tags",
    "references",
    "remediation",
    "description",
    "family",
    "log",
    "file",
    "path",
    "positive",
    "negative",
];

/// The rule type from the folder a rule file is in: `rules/<type>/…/<id>.toml`.
fn type_of(rel: &str) -> Option<RuleType> {
    let folder = rel.strip_prefix(RULES_DIR)?.split('/').next()?;
    RuleType::ALL.into_iter().find(|t| t.as_str() == folder)
}

/// Parses and validates one rule file.
fn load_file(
    file: &KbFile,
    files: &KbFiles,
    sample_files: &mut BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Rule> {
    let Some(rtype) = type_of(&file.rel) else {
        diags.push(
            Diagnostic::error(
                "K040",
                &file.display,
                "a rule file must be in `rules/log/`, `rules/file/` or `rules/path/`",
            )
            .with_help("move it to the folder of its rule type; the folder decides how the rule is read"),
        );
        return None;
    };
    let doc = match toml::de::DeTable::parse(&file.text) {
        Ok(doc) => doc,
        Err(e) => {
            let off = e.span().map(|s| s.start).unwrap_or(0);
            diags.push(
                Diagnostic::error("K002", &file.display, e.message().trim_end().to_string()).at_offset(&file.text, off),
            );
            return None;
        }
    };
    let root = doc.get_ref();
    let mut r = Reader::new(file, diags);
    r.check_keys(root, ROOT_KEYS, "a rule");

    let id = read_id(&mut r, root, rtype);
    let title = req_text(&mut r, root, "title");
    let kind = req_text(&mut r, root, "kind").and_then(|k| match FindingKind::from_str(&k.value) {
        Ok(kind) => Some(kind),
        Err(()) => {
            let all: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
            r.error("K013", k.offset, format!("unknown finding kind `{}`", k.value)).help =
                Some(format!("use one of {}", all.join(", ")));
            None
        }
    });
    let severity = req_text(&mut r, root, "severity").and_then(|s| match Severity::from_str(&s.value) {
        Ok(sev) => Some(sev),
        Err(()) => {
            let all: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
            r.error("K012", s.offset, format!("unknown severity `{}`", s.value)).help =
                Some(format!("use one of {}", all.join(", ")));
            None
        }
    });
    let cve = read::get(root, "cve").and_then(|v| r.strings(v, "`cve`")).unwrap_or_default();
    for c in &cve {
        if !is_cve_id(&c.value) {
            r.error("K005", c.offset, format!("`{}` is not a CVE id", c.value)).help =
                Some("write CVE ids as `CVE-YYYY-NNNN`".into());
        }
    }
    let tags = read::get(root, "tags").and_then(|v| r.strings(v, "`tags`")).unwrap_or_default();
    let references = read_references(&mut r, root);
    let remediation = match read::get(root, "remediation") {
        Some(v) => r.string(v, "`remediation`").and_then(|s| {
            if s.value.trim().is_empty() {
                r.error("K021", s.offset, "`remediation` is empty").help =
                    Some("say what a responder should do when the rule matches".into());
                None
            } else {
                Some(s.value)
            }
        }),
        None => {
            r.error("K021", 0, "the rule has no `remediation`").help =
                Some("add `remediation = \"…\"`: what a responder should do when the rule matches".into());
            None
        }
    };
    let description = read::get(root, "description").and_then(|v| r.text(v, "`description`")).map(|s| s.value);
    let family = read::get(root, "family").and_then(|v| r.text(v, "`family`")).map(|s| s.value);

    for other in RuleType::ALL.into_iter().filter(|t| *t != rtype) {
        if let Some(off) = read::key_offset(root, other.as_str()) {
            r.error("K003", off, format!("a `[{other}]` table in a {rtype} rule")).help =
                Some(format!("a rule under `rules/{rtype}/` is described by a `[{rtype}]` table"));
        }
    }
    let body = match rtype {
        RuleType::Log => log::read(&mut r, root).map(RuleBody::Log),
        RuleType::File => file::read(&mut r, root, files, sample_files).map(RuleBody::File),
        RuleType::Path => path::read(&mut r, root).map(RuleBody::Path),
    };

    if r.errors > 0 {
        return None;
    }
    Some(Rule {
        id: id?.value,
        title: title?.value,
        kind: kind?,
        severity: severity?,
        cve: cve.into_iter().map(|c| c.value).collect(),
        tags: tags.into_iter().map(|t| t.value).collect(),
        references,
        remediation: remediation?,
        description,
        family,
        body: body?,
        rel: file.rel.clone(),
        display: file.display.clone(),
    })
}

fn req_text(r: &mut Reader<'_>, root: &toml::de::DeTable<'_>, key: &str) -> Option<Located> {
    match read::get(root, key) {
        Some(v) => r.text(v, &format!("`{key}`")),
        None => {
            r.missing(0, key, "a rule");
            None
        }
    }
}

fn read_id(r: &mut Reader<'_>, root: &toml::de::DeTable<'_>, rtype: RuleType) -> Option<Located> {
    let id = req_text(r, root, "id")?;
    if !is_rule_id(&id.value) {
        r.error("K005", id.offset, format!("rule id `{}` does not follow the naming scheme", id.value)).help = Some(
            format!("a {rtype} rule id is `{}` and four digits, e.g. `{}0001`", rtype.id_prefix(), rtype.id_prefix()),
        );
        return None;
    }
    if !id.value.starts_with(rtype.id_prefix()) {
        r.error("K005", id.offset, format!("rule id `{}` is not a {rtype} rule id", id.value)).help = Some(format!(
            "a rule under `rules/{rtype}/` has an id starting with `{}`; move the file or change the id",
            rtype.id_prefix()
        ));
        return None;
    }
    let stem = r.file.rel.rsplit('/').next().and_then(|n| n.strip_suffix(".toml")).unwrap_or_default();
    let want = id.value.to_ascii_lowercase();
    if stem != want {
        r.error("K005", id.offset, format!("rule `{}` is in a file named `{stem}.toml`", id.value)).help =
            Some(format!("name the file `{want}.toml`, so that an id finds its file"));
        return None;
    }
    Some(id)
}

fn read_references(r: &mut Reader<'_>, root: &toml::de::DeTable<'_>) -> Vec<String> {
    let Some(v) = read::get(root, "references") else {
        r.error("K021", 0, "the rule has no `references`").help =
            Some("add `references = [\"https://…\"]`: the public sources the rule is built on".into());
        return Vec::new();
    };
    let Some(refs) = r.strings(v, "`references`") else { return Vec::new() };
    if refs.is_empty() {
        r.error("K021", v.span().start, "`references` is empty").help =
            Some("name at least one public source the rule is built on".into());
    }
    let mut out = Vec::new();
    for s in refs {
        if s.value.trim().is_empty() {
            r.error("K020", s.offset, "a reference is empty");
        } else {
            out.push(s.value);
        }
    }
    out
}

/// Where the content of the TOML string token at `token` in `text` starts, and whether its bytes are the value's
/// bytes one for one (a literal string, or a basic string without escapes). Used to point a diagnostic at a byte
/// inside a string value (a regex or YARA error).
pub fn string_content(text: &str, token: usize, value: &str) -> (usize, bool) {
    let raw = text.get(token..).unwrap_or_default();
    let (delim, literal) = if raw.starts_with("'''") {
        (3, true)
    } else if raw.starts_with("\"\"\"") {
        (3, false)
    } else if raw.starts_with('\'') {
        (1, true)
    } else if raw.starts_with('"') {
        (1, false)
    } else {
        return (token, false);
    };
    let mut start = token + delim;
    if delim == 3 {
        // A newline right after the opening delimiter is not part of the string.
        let rest = text.get(start..).unwrap_or_default();
        if rest.starts_with("\r\n") {
            start += 2;
        } else if rest.starts_with('\n') {
            start += 1;
        }
    }
    let body = text.get(start..start + value.len());
    let exact = body == Some(value) && (literal || !value.contains('\\'));
    (start, exact)
}

/// The byte offset in `text` of byte `inner` of the string value whose token starts at `token`; the token itself
/// when the string has escapes (positions inside it cannot be mapped one for one).
pub fn offset_in_string(text: &str, token: usize, value: &str, inner: usize) -> usize {
    match string_content(text, token, value) {
        (start, true) => start + inner.min(value.len()),
        _ => token,
    }
}

/// `EXH-LOG-0001`, `EXH-FILE-0001`, `EXH-PATH-0001`.
pub fn is_rule_id(s: &str) -> bool {
    RuleType::ALL
        .iter()
        .any(|t| s.strip_prefix(t.id_prefix()).is_some_and(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit())))
}

/// `CVE-YYYY-NNNN` (four or more digits after the year).
pub fn is_cve_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else { return false };
    let Some((year, num)) = rest.split_once('-') else { return false };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && num.len() >= 4
        && num.bytes().all(|b| b.is_ascii_digit())
}

/// Reads the `positive` and `negative` arrays (K014 when either is missing or empty) with `read_one` for each item.
pub(crate) fn read_samples<T>(
    r: &mut Reader<'_>,
    root: &toml::de::DeTable<'_>,
    mut read_one: impl FnMut(&mut Reader<'_>, &read::Value<'_>, SampleInfo) -> Option<T>,
) -> Option<(Vec<T>, Vec<T>)> {
    let mut out = (Vec::new(), Vec::new());
    let mut ok = true;
    for (key, positive) in [("positive", true), ("negative", false)] {
        let Some(v) = read::get(root, key) else {
            r.error("K014", 0, format!("the rule has no {key} sample")).help = Some(format!(
                "add at least one `[[{key}]]` sample: the self test (`exhunt kb test`) checks that the rule {} it",
                if positive { "matches" } else { "does not match" }
            ));
            ok = false;
            continue;
        };
        let Some(items) = v.get_ref().as_array() else {
            let ty = v.get_ref().type_str();
            r.error("K003", v.span().start, format!("`{key}` must be an array, not {ty}"));
            ok = false;
            continue;
        };
        if items.is_empty() {
            r.error("K014", v.span().start, format!("`{key}` has no sample"));
            ok = false;
        }
        for (index, item) in items.iter().enumerate() {
            let info = SampleInfo { positive, index, name: None, offset: item.span().start };
            match read_one(r, item, info) {
                Some(s) if positive => out.0.push(s),
                Some(s) => out.1.push(s),
                None => ok = false,
            }
        }
    }
    ok.then_some(out)
}

/// Resolves a path written in a rule file (relative to the rule file's folder) to a kb-root-relative path.
/// `None` for absolute paths and paths that leave the kb root.
pub(crate) fn resolve_relative(rule_rel: &str, path: &str) -> Option<String> {
    let path = path.replace('\\', "/");
    if path.starts_with('/') || path.contains(':') {
        return None;
    }
    let mut parts: Vec<&str> = rule_rel.split('/').collect();
    parts.pop();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_cves() {
        assert!(is_rule_id("EXH-LOG-0001"));
        assert!(is_rule_id("EXH-PATH-9999"));
        assert!(!is_rule_id("EXH-LOG-001"));
        assert!(!is_rule_id("exh-log-0001"));
        assert!(!is_rule_id("EXH-NET-0001"));
        assert!(is_cve_id("CVE-2021-26855"));
        assert!(is_cve_id("CVE-2021-123456"));
        assert!(!is_cve_id("CVE-21-26855"));
        assert!(!is_cve_id("cve-2021-26855"));
    }

    #[test]
    fn relative_paths_stay_in_the_kb() {
        assert_eq!(resolve_relative("rules/file/x.toml", "x.yar").as_deref(), Some("rules/file/x.yar"));
        assert_eq!(
            resolve_relative("rules/file/x.toml", "samples\\a.aspx").as_deref(),
            Some("rules/file/samples/a.aspx")
        );
        assert_eq!(resolve_relative("rules/file/x.toml", "../../a").as_deref(), Some("a"));
        assert_eq!(resolve_relative("rules/file/x.toml", "../../../a"), None);
        assert_eq!(resolve_relative("rules/file/x.toml", "/etc/passwd"), None);
        assert_eq!(resolve_relative("rules/file/x.toml", "C:\\x"), None);
    }

    #[test]
    fn string_content_maps_literal_and_plain_strings() {
        let text = "a = 'x(y'\nb = '''\nline1\n(z'''\nc = \"p\\\\q(\"\nd = \"plain(\"\n";
        let a = text.find("'x").expect("a");
        assert_eq!(offset_in_string(text, a, "x(y", 1), a + 2);
        let b = text.find("'''").expect("b");
        let off = offset_in_string(text, b, "line1\n(z", 6);
        assert_eq!(&text[off..off + 2], "(z");
        let c = text.find("\"p").expect("c");
        assert_eq!(string_content(text, c, "p\\q("), (c + 1, false), "escapes: no byte-for-byte mapping");
        assert_eq!(offset_in_string(text, c, "p\\q(", 3), c);
        let d = text.find("\"plain").expect("d");
        assert_eq!(offset_in_string(text, d, "plain(", 5), d + 6);
    }

    #[test]
    fn rule_type_comes_from_the_folder() {
        assert_eq!(type_of("rules/log/exh-log-0001.toml"), Some(RuleType::Log));
        assert_eq!(type_of("rules/file/sub/exh-file-0001.toml"), Some(RuleType::File));
        assert_eq!(type_of("rules/exh-log-0001.toml"), None);
        assert_eq!(type_of("rules/net/exh-net-0001.toml"), None);
    }
}
