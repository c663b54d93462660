//! Diagnostics that point into knowledge-base files.

use exhunt_kb::{Diagnostic, Kb};

/// A diagnostic at byte `offset` of the kb file `rel` (shown as `display`).
pub(crate) fn at(d: Diagnostic, kb: &Kb, rel: &str, offset: usize) -> Diagnostic {
    match kb.files.get(rel) {
        Some(f) => d.at_offset(&f.text, offset),
        None => d,
    }
}

/// A diagnostic at byte `inner` of the string value `value` whose TOML token starts at `token` in the kb file `rel`.
pub(crate) fn in_string(d: Diagnostic, kb: &Kb, rel: &str, token: usize, value: &str, inner: usize) -> Diagnostic {
    match kb.files.get(rel) {
        Some(f) => {
            let off = exhunt_kb::rules::offset_in_string(&f.text, token, value, inner);
            d.at_offset(&f.text, off)
        }
        None => d,
    }
}

/// What is wrong with a regular expression that did not compile, and the byte in the pattern where it is (when
/// the parser knows).
pub(crate) fn regex_problem(pattern: &str, err: &regex::Error) -> (String, Option<usize>) {
    match regex_syntax::Parser::new().parse(pattern) {
        Err(regex_syntax::Error::Parse(e)) => (e.kind().to_string(), Some(e.span().start.offset)),
        Err(regex_syntax::Error::Translate(e)) => (e.kind().to_string(), Some(e.span().start.offset)),
        _ => {
            let text = err.to_string();
            let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim();
            (last.strip_prefix("error: ").unwrap_or(last).to_string(), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_problems_have_positions() {
        // Built at run time so that clippy's compile-time regex check does not object to the deliberate error.
        let pattern = String::from("ab(c");
        let err = regex::Regex::new(&pattern).expect_err("unclosed group");
        let (msg, at) = regex_problem(&pattern, &err);
        assert_eq!(msg, "unclosed group");
        assert_eq!(at, Some(2));
    }
}
