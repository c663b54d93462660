//! What the scanner keeps of a response body: its title and the text around the scan pack's anchors. A body is up
//! to 256 KiB of anything (hostile hosts included), so it is searched as bytes; only the snippets and the title are
//! decoded (lossily) as text.

use exhunt_kb::scan::Markers;

/// Snippets kept per body.
pub const MAX_SNIPPETS: usize = 12;
/// Bytes of one snippet (before lossy decoding).
pub const SNIPPET: usize = 240;

/// The anchors of a scan pack, compiled once per scan.
pub struct BodyAnchors {
    finders: Vec<memchr::memmem::Finder<'static>>,
    title: aho_corasick::AhoCorasick,
}

impl BodyAnchors {
    pub fn new(markers: &Markers) -> BodyAnchors {
        BodyAnchors {
            finders: markers.anchors.iter().map(|a| memchr::memmem::Finder::new(a.as_bytes()).into_owned()).collect(),
            title: aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(["<title", "</title"])
                .expect("invariant: two short literals"),
        }
    }

    /// Title and snippets of a body: the snippets in anchor order, each anchor's matches in body order and not
    /// repeating one another, as many as [`MAX_SNIPPETS`].
    pub fn extract(&self, body: &[u8]) -> (Option<String>, Vec<String>) {
        let title = self.title.find_iter(body).find(|m| m.pattern().as_usize() == 0).and_then(|m| {
            let rest = &body[m.start()..];
            let start = memchr::memchr(b'>', rest)? + 1;
            let end = self
                .title
                .find_iter(rest)
                .find(|c| c.pattern().as_usize() == 1)
                .map(|c| c.start())
                .unwrap_or(rest.len().min(start + 400));
            let t = String::from_utf8_lossy(rest.get(start..end)?);
            Some(t.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect())
        });
        let mut snippets: Vec<String> = Vec::new();
        'anchors: for f in &self.finders {
            for at in f.find_iter(body) {
                let start = char_start(body, at.saturating_sub(SNIPPET / 3));
                let end = char_start(body, (at + SNIPPET * 2 / 3).min(body.len()));
                let s = String::from_utf8_lossy(&body[start..end]).replace(['\r', '\n'], " ");
                if !snippets.contains(&s) {
                    snippets.push(s);
                }
                if snippets.len() >= MAX_SNIPPETS {
                    break 'anchors;
                }
            }
        }
        (title, snippets)
    }
}

/// `i`, moved back to the start of the UTF-8 sequence it falls in (at most 3 bytes).
fn char_start(b: &[u8], mut i: usize) -> usize {
    let floor = i.saturating_sub(3);
    while i > floor && i < b.len() && (b[i] & 0xC0) == 0x80 {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_and_snippets() {
        let a = BodyAnchors::new(&exhunt_kb::Kb::builtin().scan.markers);
        let (t, s) = a.extract(b"<html><head><TITLE>\r\n Outlook </title><link href=\"/owa/auth/15.1.2176/themes/x\">");
        assert_eq!(t.as_deref(), Some("Outlook"));
        assert_eq!(s.len(), 1);
        assert!(s[0].contains("15.1.2176"));
        let (t, s) = a.extract("é".repeat(300).as_bytes());
        assert!(t.is_none() && s.is_empty());
    }
}
