//! The files of a knowledge base, from a folder on disk or from the copy embedded in the binary.

use crate::diag::Diagnostic;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// Largest knowledge-base file read; larger ones are refused with K001.
pub const MAX_FILE: u64 = 16 * 1024 * 1024;

/// One file of a knowledge base.
#[derive(Clone, Debug)]
pub struct KbFile {
    /// Path relative to the knowledge-base root, with `/` separators (`rules/log/exh-log-0001.toml`).
    pub rel: String,
    /// The path to show the user (`kb/rules/log/exh-log-0001.toml`, or `<builtin>/rules/…`).
    pub display: String,
    pub text: String,
}

/// All files of a knowledge base.
#[derive(Clone, Debug, Default)]
pub struct KbFiles {
    /// Where the files came from: a folder, or `None` for the embedded copy.
    pub root: Option<PathBuf>,
    pub files: Vec<KbFile>,
}

impl KbFiles {
    /// The knowledge base shipped inside the binary.
    pub fn embedded() -> KbFiles {
        KbFiles {
            root: None,
            files: EMBEDDED
                .iter()
                .map(|(rel, text)| KbFile {
                    rel: (*rel).to_string(),
                    display: format!("<builtin>/{rel}"),
                    text: (*text).to_string(),
                })
                .collect(),
        }
    }

    /// Reads every file under `root`. Unreadable or non-UTF-8 files become K001 diagnostics.
    pub fn read_dir(root: &Path) -> (KbFiles, Vec<Diagnostic>) {
        let mut paths = Vec::new();
        let mut diags = Vec::new();
        walk(root, &mut paths, &mut diags);
        paths.sort();
        let mut files = Vec::new();
        for p in paths {
            let display = p.display().to_string();
            let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().replace('\\', "/");
            match std::fs::metadata(&p) {
                Ok(m) if m.len() > MAX_FILE => {
                    diags.push(Diagnostic::error("K001", &display, format!("file is larger than {MAX_FILE} bytes")));
                    continue;
                }
                Err(e) => {
                    diags.push(Diagnostic::error("K001", &display, format!("cannot read: {e}")));
                    continue;
                }
                Ok(_) => {}
            }
            match std::fs::read(&p) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => files.push(KbFile { rel, display, text }),
                    Err(e) => diags.push(
                        Diagnostic::error("K001", &display, "file is not UTF-8")
                            .at_offset(&String::from_utf8_lossy(e.as_bytes()), e.utf8_error().valid_up_to()),
                    ),
                },
                Err(e) => diags.push(Diagnostic::error("K001", &display, format!("cannot read: {e}"))),
            }
        }
        (KbFiles { root: Some(root.to_path_buf()), files }, diags)
    }

    /// Files whose relative path starts with `prefix` and ends with `suffix`.
    pub fn matching<'a>(&'a self, prefix: &'a str, suffix: &'a str) -> impl Iterator<Item = &'a KbFile> + 'a {
        self.files.iter().filter(move |f| f.rel.starts_with(prefix) && f.rel.ends_with(suffix))
    }

    /// The file at a relative path.
    pub fn get(&self, rel: &str) -> Option<&KbFile> {
        self.files.iter().find(|f| f.rel == rel)
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            diags.push(Diagnostic::error("K001", dir.display().to_string(), format!("cannot read folder: {e}")));
            return;
        }
    };
    for entry in rd.flatten() {
        let p = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out, diags),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
}
