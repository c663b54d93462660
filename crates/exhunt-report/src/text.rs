/// Makes an attacker-controlled string safe to print on a terminal: control characters (including ESC, CR, and the
/// C1 range), bidirectional overrides and other invisible format characters become `\u{…}` escapes, and a backslash
/// stays a backslash. Everything else, including non-ASCII letters, is kept.
pub fn escape_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0x200B..=0x200F   // zero-width and LRM/RLM
            | 0x202A..=0x202E // bidi embeddings and overrides
            | 0x2060..=0x2069 // word joiner, bidi isolates
            | 0xFEFF          // BOM / zero-width no-break space
        )
}

/// At most `max` characters of `s`, with `…` in place of the cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_control_and_bidi() {
        assert_eq!(escape_terminal("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(escape_terminal("x\r\ny"), "x\\u{d}\\u{a}y");
        assert_eq!(escape_terminal("evil\u{202e}txt.aspx"), "evil\\u{202e}txt.aspx");
        assert_eq!(escape_terminal("Zürich"), "Zürich");
    }

    #[test]
    fn truncates_by_characters() {
        assert_eq!(truncate_chars("ééééé", 3), "éé…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }
}
