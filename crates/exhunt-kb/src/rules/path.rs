//! Path rules: globs or regular expressions over normalised Windows paths and file names.

use super::read::{self, Reader, Value};
use super::{Located, SampleInfo, read_samples};
use toml::de::DeTable;

/// A path rule (the `[path]` table and its samples). It matches a path when any `match` pattern does and no
/// `exclude` pattern does.
#[derive(Clone, Debug)]
pub struct PathRule {
    pub matches: Vec<PathPattern>,
    pub excludes: Vec<PathPattern>,
    pub positive: Vec<PathSample>,
    pub negative: Vec<PathSample>,
}

/// What a pattern is matched against, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternKind {
    /// `glob`: a glob over the whole normalised path.
    Glob,
    /// `regex`: a regular expression searched in the whole normalised path.
    Regex,
    /// `name_glob`: a glob over the file name (the last path component).
    NameGlob,
    /// `name_regex`: a regular expression searched in the file name.
    NameRegex,
}

impl PatternKind {
    pub const ALL: [PatternKind; 4] =
        [PatternKind::Glob, PatternKind::Regex, PatternKind::NameGlob, PatternKind::NameRegex];

    pub fn key(&self) -> &'static str {
        match self {
            PatternKind::Glob => "glob",
            PatternKind::Regex => "regex",
            PatternKind::NameGlob => "name_glob",
            PatternKind::NameRegex => "name_regex",
        }
    }

    pub fn is_glob(&self) -> bool {
        matches!(self, PatternKind::Glob | PatternKind::NameGlob)
    }

    pub fn on_name(&self) -> bool {
        matches!(self, PatternKind::NameGlob | PatternKind::NameRegex)
    }
}

#[derive(Clone, Debug)]
pub struct PathPattern {
    pub kind: PatternKind,
    pub pattern: Located,
}

/// A sample path: a string, or a table with `path` and an optional `name`.
#[derive(Clone, Debug)]
pub struct PathSample {
    pub info: SampleInfo,
    pub path: String,
}

const PATH_KEYS: &[&str] = &["match", "exclude"];
const SAMPLE_KEYS: &[&str] = &["name", "path"];

pub(super) fn read(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<PathRule> {
    let Some(v) = read::get(root, "path") else {
        r.missing(0, "path", "a path rule");
        return None;
    };
    let t = r.table(v, "`path`")?;
    r.check_keys(t, PATH_KEYS, "`[path]`");
    let matches = match read::get(t, "match") {
        Some(m) => read_patterns(r, m, "`match`"),
        None => {
            r.missing(v.span().start, "match", "`[path]`");
            None
        }
    };
    let excludes = match read::get(t, "exclude") {
        Some(e) => read_patterns(r, e, "`exclude`"),
        None => Some(Vec::new()),
    };
    let (positive, negative) = read_samples(r, root, read_sample)?;
    Some(PathRule { matches: matches?, excludes: excludes?, positive, negative })
}

fn read_patterns(r: &mut Reader<'_>, v: &Value<'_>, what: &str) -> Option<Vec<PathPattern>> {
    let items = r.tables(v, what)?;
    if items.is_empty() {
        r.error("K020", v.span().start, format!("{what} has no pattern"));
        return None;
    }
    let keys: Vec<&str> = PatternKind::ALL.iter().map(|k| k.key()).collect();
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        let Some(t) = item.get_ref().as_table() else { continue };
        r.check_keys(t, &keys, "a path pattern");
        let present: Vec<PatternKind> =
            PatternKind::ALL.into_iter().filter(|k| read::get(t, k.key()).is_some()).collect();
        let [kind] = present.as_slice() else {
            r.error(
                "K003",
                item.span().start,
                "a path pattern needs exactly one of `glob`, `regex`, `name_glob`, `name_regex`",
            );
            ok = false;
            continue;
        };
        match read::get(t, kind.key()).and_then(|p| r.text(p, &format!("`{}`", kind.key()))) {
            Some(pattern) => out.push(PathPattern { kind: *kind, pattern }),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_sample(r: &mut Reader<'_>, v: &Value<'_>, mut info: SampleInfo) -> Option<PathSample> {
    match v.get_ref().as_table() {
        None => {
            let s = r.text(v, "a path rule sample")?;
            Some(PathSample { info, path: s.value })
        }
        Some(t) => {
            r.check_keys(t, SAMPLE_KEYS, "a path sample");
            info.name = read::get(t, "name").and_then(|n| r.text(n, "`name`")).map(|n| n.value);
            let Some(p) = read::get(t, "path") else {
                r.missing(info.offset, "path", "a path sample");
                return None;
            };
            let path = r.text(p, "`path`")?;
            Some(PathSample { info, path: path.value })
        }
    }
}
