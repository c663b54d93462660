//! Microsoft's known-good file hashes per Exchange build (`--baseline FILE|DIR`), as published with CSS-Exchange's
//! CompareExchangeHashes: CSV lines `SHA256,build,\relative\path` (path relative to the install folder). exhunt does
//! not ship these lists; the user points at them.

use exhunt_model::{Build, ErrorRecord};
use std::collections::HashMap;
use std::path::Path;

/// The known-good hashes of one build.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub build: Build,
    /// Where it was read from.
    pub source: String,
    /// Lower-cased relative path (leading `\`) → upper-case SHA-256.
    files: HashMap<String, String>,
}

impl Baseline {
    /// The known-good hash of a path relative to the install folder (`\FrontEnd\HttpProxy\owa\auth\logon.aspx`).
    pub fn get(&self, rel: &str) -> Option<&str> {
        let mut k = rel.replace('/', "\\").to_lowercase();
        if !k.starts_with('\\') {
            k.insert(0, '\\');
        }
        self.files.get(&k).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Baselines by build.
#[derive(Clone, Debug, Default)]
pub struct BaselineSet {
    pub baselines: Vec<Baseline>,
}

impl BaselineSet {
    /// Reads baseline CSV files, or every `*.csv` in folders. Bad lines are reported and skipped.
    pub fn load(paths: &[impl AsRef<Path>]) -> (BaselineSet, Vec<ErrorRecord>) {
        let mut set = BaselineSet::default();
        let mut errors = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let files: Vec<std::path::PathBuf> = if p.is_dir() {
                match std::fs::read_dir(p) {
                    Ok(rd) => {
                        let mut v: Vec<_> = rd
                            .filter_map(Result::ok)
                            .map(|e| e.path())
                            .filter(|f| f.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
                            .collect();
                        v.sort();
                        v
                    }
                    Err(e) => {
                        errors.push(err(&p.display().to_string(), 0, &format!("cannot read folder: {e}")));
                        continue;
                    }
                }
            } else {
                vec![p.to_path_buf()]
            };
            for f in files {
                let shown = f.display().to_string();
                match std::fs::read_to_string(&f) {
                    Ok(text) => {
                        let (bs, errs) = parse(&text, &shown);
                        errors.extend(errs);
                        for b in bs {
                            match set.baselines.iter_mut().find(|x| x.build == b.build) {
                                Some(x) => x.files.extend(b.files),
                                None => set.baselines.push(b),
                            }
                        }
                    }
                    Err(e) => errors.push(err(&shown, 0, &format!("cannot read: {e}"))),
                }
            }
        }
        (set, errors)
    }

    /// The baseline of exactly this build.
    pub fn for_build(&self, build: &Build) -> Option<&Baseline> {
        self.baselines.iter().find(|b| b.build == *build)
    }

    pub fn builds(&self) -> Vec<Build> {
        self.baselines.iter().map(|b| b.build).collect()
    }
}

fn err(path: &str, line: u64, msg: &str) -> ErrorRecord {
    ErrorRecord {
        code: Some("H030".into()),
        message: format!("baseline: {msg}"),
        path: Some(path.to_string()),
        locator: (line > 0).then_some(exhunt_model::Locator::Line(line)),
    }
}

fn parse(text: &str, shown: &str) -> (Vec<Baseline>, Vec<ErrorRecord>) {
    let mut out: Vec<Baseline> = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ',');
        let (Some(hash), Some(build), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            errors.push(err(shown, n, "expected `SHA256,build,path`"));
            continue;
        };
        let hash = hash.trim().trim_matches('"');
        if hash.eq_ignore_ascii_case("sha256") || hash.eq_ignore_ascii_case("hash") {
            continue; // a header row
        }
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            errors.push(err(shown, n, "the first column is not a SHA-256"));
            continue;
        }
        let Ok(build) = Build::parse(build.trim().trim_matches('"')) else {
            errors.push(err(shown, n, "the second column is not a build number"));
            continue;
        };
        let mut key = path.trim().trim_matches('"').replace('/', "\\").to_lowercase();
        if !key.starts_with('\\') {
            key.insert(0, '\\');
        }
        let b = match out.iter_mut().find(|b| b.build == build) {
            Some(b) => b,
            None => {
                out.push(Baseline { build, source: shown.to_string(), files: HashMap::new() });
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        b.files.insert(key, hash.to_ascii_uppercase());
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_css_exchange_lines() {
        let (bs, errs) = parse(
            "A816D124957C75F3F491F8A2A2E7BB9BFA1BE9FA72B6D06C0DFB7A0E7128AAB1,15.1.2176.9,\\FrontEnd\\HttpProxy\\ecp\\auth\\TimeoutLogout.aspx\nbad\n",
            "x.csv",
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(bs.len(), 1);
        assert_eq!(bs[0].build, Build::new(15, 1, 2176, 9));
        assert!(bs[0].get("\\frontend\\httpproxy\\ECP\\auth\\timeoutlogout.aspx").is_some());
    }
}
