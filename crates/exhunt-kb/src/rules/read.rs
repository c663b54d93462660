//! Typed reads from a parsed TOML document. Every problem becomes a diagnostic with the position of the offending
//! key or value; a read that fails returns `None` and the caller goes on, so one file reports all of its problems.

use super::Located;
use crate::diag::Diagnostic;
use crate::files::KbFile;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Keys that belong at the top of a rule file; found in a sub-table they were written below a `[table]` header.
const TOP_LEVEL: &[&str] =
    &["positive", "negative", "references", "remediation", "tags", "cve", "description", "family"];

/// Reads values out of one rule file and records what went wrong.
pub(crate) struct Reader<'a> {
    pub file: &'a KbFile,
    pub diags: &'a mut Vec<Diagnostic>,
    /// Errors (not warnings) pushed through this reader: a rule with any is not loaded.
    pub errors: usize,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a KbFile, diags: &'a mut Vec<Diagnostic>) -> Self {
        Reader { file, diags, errors: 0 }
    }

    /// Records an error at a byte offset of the file and returns it so that the caller can add help.
    pub fn error(&mut self, code: &'static str, offset: usize, message: impl Into<String>) -> &mut Diagnostic {
        self.errors += 1;
        self.push(Diagnostic::error(code, &self.file.display, message).at_offset(&self.file.text, offset))
    }

    /// Records a warning at a byte offset of the file.
    pub fn warning(&mut self, code: &'static str, offset: usize, message: impl Into<String>) -> &mut Diagnostic {
        self.push(Diagnostic::warning(code, &self.file.display, message).at_offset(&self.file.text, offset))
    }

    fn push(&mut self, d: Diagnostic) -> &mut Diagnostic {
        self.diags.push(d);
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    /// Reports every key of `table` that is not in `known` (K003).
    pub fn check_keys(&mut self, table: &DeTable<'_>, known: &[&str], what: &str) {
        for (key, _) in table.iter() {
            let k: &str = key.get_ref();
            if !known.contains(&k) {
                let help = if TOP_LEVEL.contains(&k) && !known.contains(&"id") {
                    format!("`{k}` is a top-level key: move it above the first `[table]` header")
                } else {
                    format!("known keys: {}", known.join(", "))
                };
                self.error("K003", key.span().start, format!("unknown key `{k}` in {what}")).help = Some(help);
            }
        }
    }

    /// A string value, or K003 when the value has another type.
    pub fn string(&mut self, value: &Value<'_>, what: &str) -> Option<Located> {
        match value.get_ref().as_str() {
            Some(s) => Some(Located { value: s.to_string(), offset: value.span().start }),
            None => {
                let ty = value.get_ref().type_str();
                self.error("K003", value.span().start, format!("{what} must be a string, not {ty}"));
                None
            }
        }
    }

    /// A non-empty string (K020 when empty).
    pub fn text(&mut self, value: &Value<'_>, what: &str) -> Option<Located> {
        let s = self.string(value, what)?;
        if s.value.trim().is_empty() {
            self.error("K020", s.offset, format!("{what} is empty"));
            return None;
        }
        Some(s)
    }

    /// A string or an array of strings; `None` (after a K003) when anything else.
    pub fn strings(&mut self, value: &Value<'_>, what: &str) -> Option<Vec<Located>> {
        match value.get_ref() {
            DeValue::String(s) => Some(vec![Located { value: s.to_string(), offset: value.span().start }]),
            DeValue::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items.iter() {
                    match self.string(item, &format!("each item of {what}")) {
                        Some(s) => out.push(s),
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            }
            other => {
                let ty = other.type_str();
                self.error(
                    "K003",
                    value.span().start,
                    format!("{what} must be a string or an array of strings, not {ty}"),
                );
                None
            }
        }
    }

    /// An array whose items are inline or `[[…]]` tables.
    pub fn tables<'v, 'i>(&mut self, value: &'v Value<'i>, what: &str) -> Option<Vec<&'v Value<'i>>> {
        let Some(items) = value.get_ref().as_array() else {
            let ty = value.get_ref().type_str();
            self.error("K003", value.span().start, format!("{what} must be an array of tables, not {ty}"));
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items.iter() {
            if item.get_ref().is_table() {
                out.push(item);
            } else {
                let ty = item.get_ref().type_str();
                self.error("K003", item.span().start, format!("each item of {what} must be a table, not {ty}"));
                ok = false;
            }
        }
        ok.then_some(out)
    }

    pub fn table<'v, 'i>(&mut self, value: &'v Value<'i>, what: &str) -> Option<&'v DeTable<'i>> {
        match value.get_ref().as_table() {
            Some(t) => Some(t),
            None => {
                let ty = value.get_ref().type_str();
                self.error("K003", value.span().start, format!("{what} must be a table, not {ty}"));
                None
            }
        }
    }

    pub fn boolean(&mut self, value: &Value<'_>, what: &str) -> Option<bool> {
        match value.get_ref().as_bool() {
            Some(b) => Some(b),
            None => {
                let ty = value.get_ref().type_str();
                self.error("K003", value.span().start, format!("{what} must be true or false, not {ty}"));
                None
            }
        }
    }

    /// A positive integer.
    pub fn positive_integer(&mut self, value: &Value<'_>, what: &str) -> Option<u64> {
        let parsed = value
            .get_ref()
            .as_integer()
            .and_then(|i| u64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok())
            .filter(|n| *n > 0);
        if parsed.is_none() {
            self.error("K003", value.span().start, format!("{what} must be a positive integer"));
        }
        parsed
    }

    /// Reports a missing required key (K003) at `offset` (the start of the table that lacks it).
    pub fn missing(&mut self, offset: usize, key: &str, what: &str) {
        self.error("K003", offset, format!("missing key `{key}` in {what}"));
    }
}

/// The value of `key` in `table`.
pub(crate) fn get<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<&'t Value<'i>> {
    table.get(key)
}

/// The span start of a key in `table` (for diagnostics about the key itself).
pub(crate) fn key_offset(table: &DeTable<'_>, key: &str) -> Option<usize> {
    table.get_key_value(key).map(|(k, _)| k.span().start)
}
