//! File rules: YARA source (inline or in a `.yar` file beside the rule) with an optional scope.

use super::read::{self, Reader, Value};
use super::{SampleInfo, read_samples, resolve_relative};
use crate::files::KbFiles;
use std::collections::BTreeSet;
use toml::de::DeTable;

/// A file rule (the `[file]` table and its samples).
#[derive(Clone, Debug)]
pub struct FileRule {
    pub yara: YaraSource,
    /// File name extensions the rule applies to, lower case without the dot; empty means every file.
    pub extensions: Vec<String>,
    /// Largest file the rule applies to, in bytes.
    pub max_size: Option<u64>,
    pub positive: Vec<FileSample>,
    pub negative: Vec<FileSample>,
}

/// YARA source and where it sits, so that a compiler error can point into the rule file or the `.yar` file.
#[derive(Clone, Debug)]
pub struct YaraSource {
    pub text: String,
    /// The file that holds the source, relative to the kb root, and as shown to the user.
    pub rel: String,
    pub display: String,
    /// Byte offset in that file of the first byte of the source.
    pub base: usize,
    /// True when every byte of `text` is at `base + i` in the file (a `.yar` file, a literal TOML string, or a
    /// basic string without escapes). When false, positions inside the source point at the string's start.
    pub exact: bool,
}

impl YaraSource {
    /// The byte offset in the holding file of byte `offset` of the source.
    pub fn file_offset(&self, offset: usize) -> usize {
        if self.exact { self.base + offset.min(self.text.len()) } else { self.base }
    }
}

/// A sample for a file rule: its content, and the path it is scanned as (for the rule's scope).
#[derive(Clone, Debug)]
pub struct FileSample {
    pub info: SampleInfo,
    pub content: Vec<u8>,
    /// The file name the scope sees: the sample file's path, or the sample's `path` key. `None`: only `max_size`
    /// applies.
    pub path: Option<String>,
}

const FILE_KEYS: &[&str] = &["yara", "yara_file", "extensions", "max_size"];
const SAMPLE_KEYS: &[&str] = &["name", "content", "content_base64", "file", "path"];

pub(super) fn read(
    r: &mut Reader<'_>,
    root: &DeTable<'_>,
    files: &KbFiles,
    sample_files: &mut BTreeSet<String>,
) -> Option<FileRule> {
    let Some(v) = read::get(root, "file") else {
        r.missing(0, "file", "a file rule");
        return None;
    };
    let t = r.table(v, "`file`")?;
    let at = v.span().start;
    r.check_keys(t, FILE_KEYS, "`[file]`");

    let yara = match (read::get(t, "yara"), read::get(t, "yara_file")) {
        (Some(y), None) => inline_source(r, y),
        (None, Some(f)) => file_source(r, f, files, sample_files),
        (Some(_), Some(f)) => {
            r.error("K003", f.span().start, "a file rule has both `yara` and `yara_file`").help =
                Some("keep one: inline source or a `.yar` file beside the rule".into());
            None
        }
        (None, None) => {
            r.error("K003", at, "a file rule has neither `yara` nor `yara_file`").help =
                Some("add `yara = '''rule … { … }'''` or `yara_file = \"<id>.yar\"`".into());
            None
        }
    };
    let extensions = match read::get(t, "extensions") {
        Some(e) => r.strings(e, "`extensions`").map(|list| {
            list.into_iter().map(|s| s.value.trim_start_matches('.').to_ascii_lowercase()).collect::<Vec<_>>()
        }),
        None => Some(Vec::new()),
    };
    let max_size = match read::get(t, "max_size") {
        Some(m) => r.positive_integer(m, "`max_size`").map(Some),
        None => Some(None),
    };
    let (positive, negative) = read_samples(r, root, |r, v, info| read_sample(r, v, info, files, sample_files))?;
    Some(FileRule { yara: yara?, extensions: extensions?, max_size: max_size?, positive, negative })
}

/// Inline source: the offset of its first content byte in the rule file.
fn inline_source(r: &mut Reader<'_>, v: &Value<'_>) -> Option<YaraSource> {
    let s = r.text(v, "`yara`")?;
    let token = v.span().start;
    let (start, exact) = super::string_content(&r.file.text, token, &s.value);
    Some(YaraSource {
        text: s.value,
        rel: r.file.rel.clone(),
        display: r.file.display.clone(),
        base: if exact { start } else { token },
        exact,
    })
}

fn file_source(
    r: &mut Reader<'_>,
    v: &Value<'_>,
    files: &KbFiles,
    sample_files: &mut BTreeSet<String>,
) -> Option<YaraSource> {
    let s = r.text(v, "`yara_file`")?;
    let Some(rel) = resolve_relative(&r.file.rel, &s.value) else {
        r.error("K003", s.offset, format!("`{}` is not a path inside the knowledge base", s.value)).help =
            Some("name the file relative to the rule file, e.g. `exh-file-0001.yar`".into());
        return None;
    };
    sample_files.insert(rel.clone());
    let Some(f) = files.get(&rel) else {
        r.error("K015", s.offset, format!("YARA file `{}` does not exist", s.value)).help =
            Some(format!("expected it at `{rel}` under the knowledge-base root"));
        return None;
    };
    Some(YaraSource { text: f.text.clone(), rel, display: f.display.clone(), base: 0, exact: true })
}

fn read_sample(
    r: &mut Reader<'_>,
    v: &Value<'_>,
    mut info: SampleInfo,
    files: &KbFiles,
    sample_files: &mut BTreeSet<String>,
) -> Option<FileSample> {
    let Some(t) = v.get_ref().as_table() else {
        let ty = v.get_ref().type_str();
        r.error("K003", v.span().start, format!("a file rule sample must be a table, not {ty}")).help =
            Some("write `[[positive]]` with `content = '''…'''` or `file = \"samples/…\"`".into());
        return None;
    };
    r.check_keys(t, SAMPLE_KEYS, "a file sample");
    info.name = read::get(t, "name").and_then(|n| r.text(n, "`name`")).map(|n| n.value);
    let mut path = match read::get(t, "path") {
        Some(p) => Some(r.text(p, "`path`")?.value),
        None => None,
    };
    if let Some(b) = read::get(t, "content_base64") {
        if read::get(t, "content").is_some() || read::get(t, "file").is_some() {
            r.error("K003", b.span().start, "a sample has `content_base64` and also `content` or `file`");
            return None;
        }
        let s = r.string(b, "`content_base64`")?;
        let compact: String = s.value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        return match base64::Engine::decode(&base64::engine::general_purpose::STANDARD, compact.as_bytes()) {
            Ok(content) => Some(FileSample { info, content, path }),
            Err(e) => {
                r.error("K003", s.offset, format!("`content_base64` is not valid base64: {e}"));
                None
            }
        };
    }
    let content = match (read::get(t, "content"), read::get(t, "file")) {
        (Some(c), None) => r.string(c, "`content`")?.value.into_bytes(),
        (None, Some(f)) => {
            let s = r.text(f, "`file`")?;
            let Some(rel) = resolve_relative(&r.file.rel, &s.value) else {
                r.error("K003", s.offset, format!("`{}` is not a path inside the knowledge base", s.value));
                return None;
            };
            sample_files.insert(rel.clone());
            let Some(kf) = files.get(&rel) else {
                r.error("K015", s.offset, format!("sample file `{}` does not exist", s.value)).help =
                    Some(format!("expected it at `{rel}` under the knowledge-base root"));
                return None;
            };
            if path.is_none() {
                path = Some(rel);
            }
            kf.text.clone().into_bytes()
        }
        (Some(_), Some(f)) => {
            r.error("K003", f.span().start, "a sample has both `content` and `file`");
            return None;
        }
        (None, None) => {
            r.error("K015", info.offset, "a file sample has neither `content` nor `file`").help =
                Some("add `content = '''…'''` or `file = \"samples/…\"` (relative to the rule file)".into());
            return None;
        }
    };
    Some(FileSample { info, content, path })
}
