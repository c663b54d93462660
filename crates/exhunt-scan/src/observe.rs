//! What the scanner saw, saved as it is: one [`Observation`] per target, written as a JSON line the moment the
//! target is done. Bodies are not kept; their hash, length, title and the lines around a fixed set of anchors
//! ([`ANCHORS`]) are, which is everything [`crate::detect`] reads, so verdicts can be recomputed later.

use crate::detect::Fingerprint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// How a target ended. zgrab2's taxonomy, narrowed to what an HTTPS fingerprint meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanStatus {
    /// At least the first request got an HTTP response.
    Success,
    /// The connection was refused (nothing listens).
    Refused,
    /// The connection was reset before anything was exchanged.
    Reset,
    /// A deadline passed (connect, TLS, headers or body: see `phase`).
    Timeout,
    /// The TLS handshake failed.
    TlsError,
    /// The server answered something that is not HTTP, or headers over the cap.
    ProtocolError,
    /// No route, host unreachable, or another network error.
    Unreachable,
    /// The blocklist removed the target; nothing was sent.
    Blocked,
}

impl ScanStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ScanStatus::Success => "success",
            ScanStatus::Refused => "refused",
            ScanStatus::Reset => "reset",
            ScanStatus::Timeout => "timeout",
            ScanStatus::TlsError => "tls-error",
            ScanStatus::ProtocolError => "protocol-error",
            ScanStatus::Unreachable => "unreachable",
            ScanStatus::Blocked => "blocked",
        }
    }
}

/// The server's certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertInfo {
    pub subject: String,
    pub subject_cn: Option<String>,
    pub issuer: String,
    pub sans: Vec<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub self_signed: bool,
    pub sha256: String,
}

/// The TLS session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
    pub cert: Option<CertInfo>,
}

/// One request of the ladder and its response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// `logon`, `ews`, `activesync`, `exporttool`, `ntlm`, `webshell`, `baseline`.
    pub name: String,
    pub path: String,
    /// HTTP status; `null` when the request failed (see `error`).
    pub status: Option<u16>,
    /// The headers that matter, names lower case ([`KEPT_HEADERS`]).
    pub headers: BTreeMap<String, Vec<String>>,
    pub title: Option<String>,
    pub body_len: u64,
    pub body_sha256: Option<String>,
    /// The body went past the cap (or inflated past it).
    pub truncated: bool,
    /// Lines around the [`ANCHORS`] in the body, each at most 240 characters.
    pub snippets: Vec<String>,
    /// The `Location` followed (one redirect at most, same host).
    pub redirected_from: Option<String>,
    pub error: Option<String>,
}

/// Response headers saved in observations.
pub const KEPT_HEADERS: &[&str] = &[
    "server",
    "x-owa-version",
    "x-feserver",
    "x-beserver",
    "x-calculatedbetarget",
    "x-diaginfo",
    "www-authenticate",
    "location",
    "content-type",
    "content-encoding",
    "content-length",
    "x-powered-by",
    "x-aspnet-version",
];

/// Body anchors whose surroundings are saved (the fingerprint reads only these).
pub const ANCHORS: &[&str] = &[
    "/owa/auth/",
    "/owa/1",
    "/owa/8.",
    "assemblyIdentity",
    "OwaPage",
    "IsOwaPremiumBrowser",
    "To use Outlook",
    "Outlook Web A",
    "OAB (Default Web Site)",
    "lm_auth_proxy",
];

const MAX_SNIPPETS: usize = 12;
const SNIPPET: usize = 240;

/// Title and snippets of a body, searched as bytes (a body is up to 256 KiB of anything, hostile hosts included):
/// the snippets in anchor order, each anchor's matches in body order and not overlapping one another, as many as
/// [`MAX_SNIPPETS`]; only the snippets and the title are decoded (lossily) as text.
pub fn extract(body: &[u8]) -> (Option<String>, Vec<String>) {
    use memchr::memmem::Finder;
    use std::sync::OnceLock;
    static FINDERS: OnceLock<Vec<Finder<'static>>> = OnceLock::new();
    static TITLE: OnceLock<aho_corasick::AhoCorasick> = OnceLock::new();
    let finders = FINDERS.get_or_init(|| ANCHORS.iter().map(|a| Finder::new(a.as_bytes())).collect());
    let title_ac = TITLE.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["<title", "</title"])
            .expect("invariant: two short literals")
    });
    let title = title_ac.find_iter(body).find(|m| m.pattern().as_usize() == 0).and_then(|m| {
        let rest = &body[m.start()..];
        let start = memchr::memchr(b'>', rest)? + 1;
        let end = title_ac
            .find_iter(rest)
            .find(|c| c.pattern().as_usize() == 1)
            .map(|c| c.start())
            .unwrap_or(rest.len().min(start + 400));
        let t = String::from_utf8_lossy(rest.get(start..end)?);
        Some(t.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect())
    });
    let mut snippets: Vec<String> = Vec::new();
    'anchors: for f in finders {
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

/// `i`, moved back to the start of the UTF-8 sequence it falls in (at most 3 bytes).
fn char_start(b: &[u8], mut i: usize) -> usize {
    let floor = i.saturating_sub(3);
    while i > floor && i < b.len() && (b[i] & 0xC0) == 0x80 {
        i -= 1;
    }
    i
}

/// Everything seen of one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// The target's place in its shard's walk (what `--resume` counts); `null` for blocked targets.
    pub seq: Option<u64>,
    pub ip: IpAddr,
    pub port: u16,
    pub name: Option<String>,
    pub status: ScanStatus,
    /// Where it failed: `connect`, `tls`, `headers`, `body`.
    pub phase: Option<String>,
    pub error: Option<String>,
    /// RFC 3339 UTC.
    pub started: String,
    pub elapsed_ms: u64,
    pub tls: Option<TlsInfo>,
    pub probes: Vec<Probe>,
    /// Computed from the fields above by [`crate::detect::fingerprint`]; `exhunt detect --from` recomputes it.
    pub fingerprint: Option<Fingerprint>,
}

impl Observation {
    /// All values of one kept header across the probes, in probe order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.probes.iter().flat_map(move |p| p.headers.get(name).into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_and_snippets() {
        let (t, s) = extract(b"<html><head><TITLE>\r\n Outlook </title><link href=\"/owa/auth/15.1.2176/themes/x\">");
        assert_eq!(t.as_deref(), Some("Outlook"));
        assert_eq!(s.len(), 1);
        assert!(s[0].contains("15.1.2176"));
        let (t, s) = extract("é".repeat(300).as_bytes());
        assert!(t.is_none() && s.is_empty());
    }
}
