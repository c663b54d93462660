//! Path rules compiled for evaluation.
//!
//! Paths are normalised first ([`winpath::slashed`]): `\` becomes `/`, repeated separators collapse, and the `\\?\`
//! prefix goes. Globs (with `\` in the pattern read as `/`) and regular expressions then match case-insensitively;
//! in a glob `*` stays inside one path component and `**` crosses components.

use crate::locate;
use exhunt_kb::rules::{PathPattern, RuleBody};
use exhunt_kb::{Diagnostic, Kb, Rule};
use exhunt_model::winpath;
use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};
use regex::{Regex, RegexBuilder};

/// Compiled path rules.
#[derive(Debug)]
pub struct PathRules {
    ids: Vec<String>,
    /// Every rule's `match` patterns in one set per target, each pattern owned by a rule.
    include: PatternSet,
    /// Per rule, its `exclude` patterns.
    excludes: Vec<PatternSet>,
}

/// Globs and regexes over the path and over the file name; `owner[i]` is the rule of pattern `i` of each kind.
#[derive(Debug, Default)]
struct PatternSet {
    path_globs: GlobSet,
    path_glob_owner: Vec<usize>,
    name_globs: GlobSet,
    name_glob_owner: Vec<usize>,
    path_regexes: Vec<(Regex, usize)>,
    name_regexes: Vec<(Regex, usize)>,
}

impl PatternSet {
    /// Rules (owners) with at least one pattern matching.
    fn owners(&self, path: &str, name: &str, out: &mut Vec<usize>) {
        let cand = Candidate::new(path);
        for i in self.path_globs.matches_candidate(&cand) {
            out.push(self.path_glob_owner[i]);
        }
        let cand = Candidate::new(name);
        for i in self.name_globs.matches_candidate(&cand) {
            out.push(self.name_glob_owner[i]);
        }
        out.extend(self.path_regexes.iter().filter(|(re, _)| re.is_match(path)).map(|(_, o)| *o));
        out.extend(self.name_regexes.iter().filter(|(re, _)| re.is_match(name)).map(|(_, o)| *o));
    }

    fn any(&self, path: &str, name: &str) -> bool {
        let mut v = Vec::new();
        self.owners(path, name, &mut v);
        !v.is_empty()
    }
}

struct SetBuilder {
    path_globs: GlobSetBuilder,
    path_glob_owner: Vec<usize>,
    name_globs: GlobSetBuilder,
    name_glob_owner: Vec<usize>,
    path_regexes: Vec<(Regex, usize)>,
    name_regexes: Vec<(Regex, usize)>,
}

impl Default for SetBuilder {
    fn default() -> Self {
        SetBuilder {
            path_globs: GlobSetBuilder::new(),
            path_glob_owner: Vec::new(),
            name_globs: GlobSetBuilder::new(),
            name_glob_owner: Vec::new(),
            path_regexes: Vec::new(),
            name_regexes: Vec::new(),
        }
    }
}

impl SetBuilder {
    /// Compiles one pattern for rule `owner`; a pattern that does not compile becomes a K022 diagnostic.
    fn add(&mut self, kb: &Kb, rule: &Rule, p: &PathPattern, owner: usize, diags: &mut Vec<Diagnostic>) -> bool {
        let text = &p.pattern.value;
        let fail = |msg: String| {
            Diagnostic::error("K022", &rule.display, msg).with_help(
                "a glob uses `*`, `?`, `**`, `[…]`, `{a,b}`; a regex uses Rust `regex` syntax over `/`-separated paths",
            )
        };
        if p.kind.is_glob() {
            let normalised = text.replace('\\', "/");
            match GlobBuilder::new(&normalised)
                .case_insensitive(true)
                .literal_separator(true)
                .backslash_escape(false)
                .build()
            {
                Ok(g) => {
                    if p.kind.on_name() {
                        self.name_globs.add(g);
                        self.name_glob_owner.push(owner);
                    } else {
                        self.path_globs.add(g);
                        self.path_glob_owner.push(owner);
                    }
                    true
                }
                Err(e) => {
                    let msg = format!("`{}` is not a valid glob: {}", p.kind.key(), e.kind());
                    diags.push(locate::at(fail(msg), kb, &rule.rel, p.pattern.offset));
                    false
                }
            }
        } else {
            match RegexBuilder::new(text).case_insensitive(true).size_limit(4 * 1024 * 1024).build() {
                Ok(re) => {
                    if p.kind.on_name() {
                        self.name_regexes.push((re, owner));
                    } else {
                        self.path_regexes.push((re, owner));
                    }
                    true
                }
                Err(e) => {
                    let (what, inner) = locate::regex_problem(text, &e);
                    let d = fail(format!("`{}` is not a valid regex: {what}", p.kind.key()));
                    diags.push(match inner {
                        Some(i) => locate::in_string(d, kb, &rule.rel, p.pattern.offset, text, i),
                        None => locate::at(d, kb, &rule.rel, p.pattern.offset),
                    });
                    false
                }
            }
        }
    }

    fn build(self) -> PatternSet {
        PatternSet {
            path_globs: self.path_globs.build().unwrap_or_default(),
            path_glob_owner: self.path_glob_owner,
            name_globs: self.name_globs.build().unwrap_or_default(),
            name_glob_owner: self.name_glob_owner,
            path_regexes: self.path_regexes,
            name_regexes: self.name_regexes,
        }
    }
}

impl PathRules {
    /// Compiles every path rule of `kb`. A rule with a pattern that does not compile is left out and reported (K022).
    pub fn new(kb: &Kb) -> (PathRules, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let mut ids = Vec::new();
        let mut include = SetBuilder::default();
        let mut excludes = Vec::new();
        for rule in &kb.rules.rules {
            let RuleBody::Path(p) = &rule.body else { continue };
            // Compile into scratch builders first so that a rule with one bad pattern leaves nothing behind.
            let owner = ids.len();
            let mut inc = SetBuilder::default();
            let mut exc = SetBuilder::default();
            let mut ok = true;
            for pat in &p.matches {
                ok &= inc.add(kb, rule, pat, owner, &mut diags);
            }
            for pat in &p.excludes {
                ok &= exc.add(kb, rule, pat, owner, &mut diags);
            }
            if !ok {
                continue;
            }
            for pat in &p.matches {
                include.add(kb, rule, pat, owner, &mut diags);
            }
            ids.push(rule.id.clone());
            excludes.push(exc.build());
        }
        (PathRules { ids, include: include.build(), excludes }, diags)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Ids of the compiled rules.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }

    /// Ids of the rules that match `path` (any Windows or `/` spelling; it is normalised here).
    pub fn matches(&self, path: &str) -> Vec<&str> {
        let path = winpath::slashed(path);
        let name = path.rsplit('/').next().unwrap_or(&path);
        let mut owners = Vec::new();
        self.include.owners(&path, name, &mut owners);
        owners.sort_unstable();
        owners.dedup();
        owners
            .into_iter()
            .filter(|o| !self.excludes.get(*o).is_some_and(|e| e.any(&path, name)))
            .filter_map(|o| self.ids.get(o).map(String::as_str))
            .collect()
    }
}
