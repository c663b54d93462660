//! Reading IOC pack files: TOML into raw tables, each table to its kind, entries through validation
//! ([`super::validate`]), duplicates, and the diagnostics in line order.

use super::IOC_DIR;
use super::types::{HashAlgo, IocKind, IocPack, IocSet, UaMatch};
use crate::diag::{Diagnostic, Level};
use crate::files::{KbFile, KbFiles};
use serde::Deserialize;
use std::collections::HashMap;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The `[pack]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeader {
    pub(super) id: Spanned<String>,
    pub(super) title: Spanned<String>,
    pub(super) source: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) references: Vec<Spanned<String>>,
    pub(super) published: Spanned<toml::Value>,
    pub(super) updated: Option<Spanned<toml::Value>>,
    pub(super) license: Spanned<String>,
    pub(super) description: Spanned<String>,
}

/// One entry as written; keys that belong to other kinds are refused after parsing, with their position.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntry {
    pub(super) value: Spanned<String>,
    pub(super) source: Option<Spanned<String>>,
    pub(super) published: Option<Spanned<toml::Value>>,
    pub(super) first_seen: Option<Spanned<toml::Value>>,
    pub(super) family: Option<Spanned<String>>,
    pub(super) note: Option<Spanned<String>>,
    // path
    pub(super) location: Option<Spanned<bool>>,
    pub(super) except: Option<Spanned<Vec<Spanned<String>>>>,
    // hash
    pub(super) algo: Option<Spanned<HashAlgo>>,
    pub(super) name: Option<Spanned<String>>,
    // user_agent
    #[serde(rename = "match")]
    pub(super) mode: Option<Spanned<UaMatch>>,
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
pub(super) struct Cx<'a> {
    pub(super) file: &'a KbFile,
    pub(super) diags: &'a mut Vec<Diagnostic>,
    pub(super) ok: bool,
}

impl Cx<'_> {
    pub(super) fn push(&mut self, level: Level, code: &'static str, offset: usize, msg: String, help: Option<String>) {
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

    pub(super) fn serde_error(&mut self, e: &toml::de::Error, fallback: usize, kind: Option<IocKind>) {
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
}

/// toml's messages can span lines ("unexpected x\nexpected y"); a diagnostic message is one line.
pub(super) fn one_line(msg: &str) -> String {
    msg.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::super::testing::{HEADER, file, load_text, render};
    use super::*;

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
        let ips: Vec<&str> = set.entries().filter(|h| h.kind() == IocKind::Ip).map(|h| h.pack_id()).collect();
        assert_eq!(ips, ["other-pack", "test-pack"], "the same value in two packs is kept in both");
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
}
