//! Validating IOC pack entries: every value checked for its kind (hashes, networks, paths, names, user agents,
//! domains), provenance resolved from the pack, and each problem a coded diagnostic at its position.

use super::load::{Cx, RawEntry, RawHeader};
use super::pattern::{PathKey, PatternError, compile_path, has_wildcard};
use super::types::{HashAlgo, IocDetail, IocEntry, IocKind, IocPack, normalize_user_agent};
use crate::catalog::valid_date;
use crate::diag::Level;
use exhunt_model::net::IpNet;
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

impl Cx<'_> {
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
    pub(super) fn header(&mut self, value: Spanned<DeValue>) -> Option<(IocPack, bool)> {
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
    pub(super) fn entry(
        &mut self,
        kind: IocKind,
        item: Spanned<DeValue>,
        pack: &IocPack,
    ) -> Option<(IocEntry, String, usize)> {
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

#[cfg(test)]
mod tests {
    use super::super::testing::{load_text, render};

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
}
