//! Windows paths: every spelling exhunt meets (`C:\…`, `c:/…`, `\\?\C:\…`, `\\host\c$\…`, a triage folder's
//! `C/…` or `C%3A/…`) and the forms that the hunt, the path rules and the IOC packs compare.
//!
//! One function per contract; each is pinned by the property tests at the end of this file.
//!
//! | function | `\\?\c:\InetPub\\.\x.aspx` gives | separators | drive | case | `.` / `..` |
//! |---|---|---|---|---|---|
//! | [`normalize`]: how the hunt names a file | `C:\InetPub\x.aspx` | `\` | kept, upper case | kept | resolved |
//! | [`key`]: comparing normal forms (sets, sorting, [`is_within`]) | `c:\inetpub\x.aspx` | as given | as given | folded | as given |
//! | [`slashed`]: what path-rule globs see | `c:/InetPub/./x.aspx` | `/` | as written | kept | kept |
//! | [`without_drive`]: what IOC path patterns are compared with | `inetpub/x.aspx` | `/` | dropped | folded | resolved |
//!
//! [`without_drive`] reads any collector's spelling (it decodes `%XX`, finds a drive component anywhere, drops a UNC
//! host and share) because IOC sources give the default drive and evidence arrives in every form; [`normalize`] is
//! for paths that the hunt built itself or read from Windows' own records. [`percent_decode`], [`drive_of`],
//! [`join`], [`is_within`] and [`file_name`] are the helpers they share with their callers.

use std::borrow::Cow;

/// The device prefixes [`normalize`] removes (after `/` became `\`).
const DEVICE_PREFIXES: [&str; 3] = [r"\\?\", r"\\.\", r"\??\"];

/// A path in the hunt's normal form: a drive letter in upper case, `\` separators, no repeated or trailing
/// separator (except in the drive root `C:\`), no `.` components, and `..` resolved lexically (never above the
/// root). `/` is read as `\`; one `\\?\`, `\\.\` or `\??\` prefix goes. Case is kept as the evidence spells it.
///
/// A path without a drive comes back with its components normalised and no leading separator (`\inetpub\x` →
/// `inetpub\x`; a UNC path `\\host\share\x` → `host\share\x`). Idempotent: `normalize(normalize(p)) ==
/// normalize(p)` for every string.
pub fn normalize(path: &str) -> String {
    let (once, had_drive) = normalize_once(path);
    // A drive-less path whose first component starts with `X:` (`\c:\x`, `a\..\c:\x`) has a drive once it is
    // normalised: normalising it again reads that drive, and then nothing changes any more.
    if !had_drive && has_drive(&once) {
        return normalize_once(&once).0;
    }
    once
}

/// One pass of [`normalize`], and whether the path had a drive.
fn normalize_once(path: &str) -> (String, bool) {
    let mut p = path.replace('/', "\\");
    for prefix in DEVICE_PREFIXES {
        // Bytes, not a `str` slice: the prefix is ASCII, so where it matches its end is a character boundary.
        if p.len() > prefix.len() && p.as_bytes()[..prefix.len()] == *prefix.as_bytes() {
            p.drain(..prefix.len());
            break;
        }
    }
    let (drive, rest) = split_drive(&p);
    let parts = resolve(rest.split('\\'));
    match drive {
        Some(d) => (format!("{d}:\\{}", parts.join("\\")), true),
        None => (parts.join("\\"), false),
    }
}

/// Components without empty and `.` ones, `..` taking the previous one away (none above the root).
fn resolve<'a>(components: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out = Vec::new();
    for c in components {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// True when `s` starts with a drive: an ASCII letter and `:`.
fn has_drive(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// The drive letter (upper case) and the rest of the path.
fn split_drive(p: &str) -> (Option<char>, &str) {
    if has_drive(p) { (Some(char::from(p.as_bytes()[0].to_ascii_uppercase())), &p[2..]) } else { (None, p) }
}

/// The drive letter (upper case) a path starts with: `C:\x` and `c:` give `C`; `\\?\C:\x` gives none (normalise
/// first).
pub fn drive_of(path: &str) -> Option<char> {
    split_drive(path).0
}

/// The key under which paths in normal form compare, as Windows compares them: the path in lower case (Unicode).
/// Two spellings of one path have one key once both are normalised: `key(&normalize(a)) == key(&normalize(b))`.
pub fn key(path: &str) -> String {
    path.to_lowercase()
}

/// Joins a relative part (either separator) to a Windows folder, normalising the result.
pub fn join(base: &str, rel: &str) -> String {
    normalize(&format!("{base}\\{rel}"))
}

/// True when `path` is `folder` or inside it, component by component and ignoring case (both in normal form).
pub fn is_within(path: &str, folder: &str) -> bool {
    let (p, f) = (key(path), key(folder));
    let f = f.trim_end_matches('\\');
    p == f || (p.len() > f.len() && p.starts_with(f) && p.as_bytes()[f.len()] == b'\\')
}

/// The last component of a path (either separator).
pub fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// The form path rules match against: `/` separators, repeated separators collapsed (a UNC path keeps its leading
/// `//`), no `\\?\` prefix (`\\?\UNC\srv\…` is `//srv/…`), no trailing separator. Case, the drive and `.`/`..`
/// are kept as written (rules match case-insensitively). Idempotent.
pub fn slashed(path: &str) -> String {
    let mut p = path.replace('\\', "/");
    // `//?/` (repeated, or with more leading slashes, it still is one): gone; `//?/UNC/` is the UNC `//`.
    loop {
        let t = p.trim_start_matches('/');
        let Some(rest) = t.strip_prefix("?/").filter(|_| p.len() - t.len() >= 2) else { break };
        p = match rest.get(..4) {
            Some(unc) if unc.eq_ignore_ascii_case("UNC/") => format!("//{}", &rest[4..]),
            _ => rest.to_string(),
        };
    }
    let unc = p.starts_with("//");
    let mut out = String::with_capacity(p.len());
    if unc {
        out.push('/');
    }
    let mut prev_slash = false;
    for c in p.chars() {
        if c == '/' {
            if !prev_slash {
                out.push('/');
            }
            prev_slash = true;
        } else {
            out.push(c);
            prev_slash = false;
        }
    }
    if out.len() > 1 && out.ends_with('/') && !(unc && out.len() == 2) {
        out.pop();
    }
    out
}

/// The path without its drive, lower case and `/`-separated, from any spelling: what IOC path patterns are
/// compared with (sources give the default drive, so any drive matches). Decodes `%XX`; understands `C:\…`, `C/…`
/// (a drive folder at the start of a triage path), `C%3A/…`, `\\?\C:\…`, `\\.\C:\…`, `\\host\c$\…` (host and
/// share go), and a `X:` component anywhere (`uploads/auto/C%3A/inetpub/…` from a collector). Empty and `.`
/// components go, `..` is resolved.
///
/// A key, not a path: it is not meant to be fed back (a `%` or a one-letter first folder in it would be read
/// again).
pub fn without_drive(path: &str) -> String {
    let decoded = percent_decode(path);
    let s = decoded.replace('\\', "/").to_lowercase();
    let mut body: &str = &s;
    let mut unc = false;
    if let Some(rest) = body.strip_prefix("//?/").or_else(|| body.strip_prefix("//./")) {
        body = rest;
        if let Some(rest) = body.strip_prefix("unc/") {
            body = rest;
            unc = true;
        }
    } else if let Some(rest) = body.strip_prefix("//") {
        body = rest;
        unc = true;
    }
    let mut segs: Vec<&str> = body.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if unc {
        // host, then share: `c$` is the admin share of drive C; any other share is a folder we cannot place.
        let skip = segs.len().min(2);
        segs.drain(..skip);
    } else if let Some(i) = segs.iter().position(|p| p.len() == 2 && has_drive(p)) {
        segs.drain(..=i);
    } else if segs.first().is_some_and(|p| p.len() == 1 && p.as_bytes()[0].is_ascii_alphabetic()) {
        segs.remove(0);
    }
    resolve(segs.into_iter()).join("/")
}

/// Decodes `%XX` escapes (a collector's encoding of path components, `C%3A`; Velociraptor's names). An escape
/// that is not two hex digits is kept as written; bytes that do not form UTF-8 are replaced.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_separators_prefixes_and_dots() {
        assert_eq!(normalize("c:/inetpub//wwwroot/"), "C:\\inetpub\\wwwroot");
        assert_eq!(normalize("\\\\?\\C:\\Windows\\.\\System32\\..\\Temp"), "C:\\Windows\\Temp");
        assert_eq!(normalize(r"\\.\C:\x"), r"C:\x");
        assert_eq!(normalize(r"\??\C:\x"), r"C:\x");
        assert_eq!(normalize("C:\\..\\..\\x"), "C:\\x");
        assert_eq!(normalize("C:"), "C:\\");
        assert_eq!(normalize("c:x"), "C:\\x");
        assert_eq!(normalize("a/b"), "a\\b");
        assert_eq!(normalize(r"\inetpub\x"), r"inetpub\x");
        assert_eq!(normalize(r"\\host\share\x"), r"host\share\x");
        assert_eq!(normalize(r"C:\Program Files\Microsoft"), r"C:\Program Files\Microsoft", "case is kept");
        assert_eq!(
            join("C:\\Program Files\\", "Microsoft/Exchange Server"),
            "C:\\Program Files\\Microsoft\\Exchange Server"
        );
    }

    #[test]
    fn normalize_does_not_split_a_character_after_a_prefix_look_alike() {
        // Regression: the device-prefix check sliced the string at byte 4, inside `é`, and panicked.
        assert_eq!(normalize("\\\\?é\\x"), "?é\\x");
        assert_eq!(normalize("\\\\é"), "é");
        assert_eq!(normalize("\\??é"), "??é");
    }

    #[test]
    fn normalize_gives_a_drive_found_after_the_first_pass() {
        // Once normalised these start with `c:`: the drive is read, so a second pass changes nothing.
        assert_eq!(normalize(r"\c:\x"), r"C:\x");
        assert_eq!(normalize(r"a\..\c:\x"), r"C:\x");
        assert_eq!(normalize(r"\c:..\x"), r"C:\x");
    }

    #[test]
    fn within_is_component_wise_and_case_insensitive() {
        assert!(is_within("C:\\inetpub\\wwwroot\\x.aspx", "c:\\INETPUB\\wwwroot"));
        assert!(is_within("C:\\inetpub", "C:\\inetpub"));
        assert!(!is_within("C:\\inetpub2\\x", "C:\\inetpub"));
        assert!(is_within("C:\\x", "C:\\"));
    }

    #[test]
    fn drives_and_file_names() {
        assert_eq!(drive_of(r"c:\x"), Some('C'));
        assert_eq!(drive_of("D:"), Some('D'));
        assert_eq!(drive_of(r"\\?\C:\x"), None);
        assert_eq!(drive_of("1:"), None);
        assert_eq!(file_name(r"C:\a\b.aspx"), "b.aspx");
        assert_eq!(file_name("a/b.aspx"), "b.aspx");
        assert_eq!(file_name("b.aspx"), "b.aspx");
        assert_eq!(file_name(r"C:\a\"), "");
    }

    #[test]
    fn slashed_windows_spellings() {
        assert_eq!(slashed(r"C:\inetpub\wwwroot\aspnet_client\x.aspx"), "C:/inetpub/wwwroot/aspnet_client/x.aspx");
        assert_eq!(slashed(r"\\?\C:\a\\b\"), "C:/a/b");
        assert_eq!(slashed(r"\\127.0.0.1\c$\inetpub"), "//127.0.0.1/c$/inetpub");
        assert_eq!(slashed(r"\\?\UNC\srv\share\a"), "//srv/share/a");
        assert_eq!(slashed(r"\\?\unc\srv"), "//srv");
        assert_eq!(slashed(r"\\?\UNC"), "UNC");
        assert_eq!(slashed("a//b/"), "a/b");
        assert_eq!(slashed("/"), "/");
        assert_eq!(slashed("//"), "//");
        assert_eq!(slashed(r"C:\a\.\..\b"), "C:/a/./../b", "dots are the rules' business");
        assert_eq!(slashed(r"\\?\\\?\C:\a"), "C:/a", "a doubled prefix goes too");
    }

    #[test]
    fn without_drive_reads_every_spelling() {
        let want = "inetpub/wwwroot/aspnet_client/shell.aspx";
        for p in [
            r"C:\inetpub\wwwroot\aspnet_client\shell.aspx",
            "C:/inetpub/wwwroot/aspnet_client/shell.aspx",
            "C/inetpub/wwwroot/aspnet_client/shell.aspx",
            "C%3A/inetpub/wwwroot/aspnet_client/shell.aspx",
            "c%3a/inetpub/wwwroot/aspnet_client/shell.aspx",
            r"D:\INETPUB\wwwroot\aspnet_client\Shell.aspx",
            r"\\?\C:\inetpub\wwwroot\aspnet_client\shell.aspx",
            r"\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\shell.aspx",
            r"\inetpub\wwwroot\aspnet_client\shell.aspx",
            "uploads/auto/C%3A/inetpub/wwwroot/aspnet_client/shell.aspx",
            r"C:\inetpub\wwwroot\aspnet_client\system_web\..\shell.aspx",
            r"C:\inetpub\\wwwroot\.\aspnet_client\shell.aspx",
        ] {
            assert_eq!(without_drive(p), want, "{p}");
        }
        assert_eq!(without_drive("C/Program%20Files/x.aspx"), "program files/x.aspx");
        assert_eq!(without_drive(r"\\?\UNC\srv\c$\x.aspx"), "x.aspx");
        assert_eq!(without_drive("100%"), "100%");
        assert_eq!(without_drive("a%zz"), "a%zz");
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("C%3A"), "C:");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41"), "A");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
        assert_eq!(percent_decode("%FF"), "\u{fffd}");
        assert!(matches!(percent_decode("no escapes"), Cow::Borrowed("no escapes")));
    }

    // Property tests: many generated spellings, the same contract for each. A fixed-seed generator (the model
    // takes no test dependencies), so a failure names its case and reproduces.

    /// xorshift64*: deterministic, good enough to pick pieces.
    struct Gen(u64);

    impl Gen {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }

        /// Any string made of the pieces that paths are made of, garbage included.
        fn anything(&mut self) -> String {
            const PIECES: &[&str] = &[
                "\\",
                "/",
                "\\\\",
                "//",
                ".",
                "..",
                "?",
                "C:",
                "c:",
                "d:",
                ":",
                "%",
                "%3A",
                "%5C",
                "%2e",
                "UNC",
                "unc",
                "c$",
                "a",
                "B",
                "inetpub",
                "Program Files",
                "x.aspx",
                "é",
                "İ",
                " ",
                "*",
            ];
            let n = self.below(9);
            (0..n).map(|_| self.pick(PIECES)).collect()
        }

        /// A plausible file path with a drive: components of letters, spaces and dots, no `%`.
        fn drive_path(&mut self) -> (char, Vec<&'static str>) {
            const NAMES: &[&str] =
                &["inetpub", "wwwroot", "aspnet_client", "Program Files", "Exchange Server", "V15", "x.aspx", "ab"];
            let drive = ['C', 'D', 'E'][self.below(3)];
            let n = 1 + self.below(5);
            (drive, (0..n).map(|_| self.pick(NAMES)).collect())
        }
    }

    /// Ways of writing one drive path that all four forms must read as it.
    fn spellings(drive: char, comps: &[&str]) -> Vec<String> {
        let lower = drive.to_ascii_lowercase();
        let back = comps.join("\\");
        let fwd = comps.join("/");
        vec![
            format!("{drive}:\\{back}"),
            format!("{lower}:/{fwd}"),
            format!("{drive}:\\\\{}", comps.join("\\\\")),
            format!("{drive}:\\.\\{back}\\"),
            format!("{drive}:\\{}\\..\\{back}", comps[0]),
            format!("\\\\?\\{drive}:\\{back}"),
        ]
    }

    const CASES: usize = 4000;

    #[test]
    fn property_normalize_is_idempotent_and_a_fixed_point_of_its_forms() {
        let mut g = Gen(0x5eed_0001);
        for _ in 0..CASES {
            let p = g.anything();
            let n = normalize(&p);
            assert_eq!(normalize(&n), n, "normalize is not idempotent on {p:?}");
            assert!(!n.contains('/') && !n.contains("\\\\"), "{p:?} → {n:?}");
            assert!(!n.ends_with('\\') || (n.len() == 3 && drive_of(&n).is_some()), "{p:?} → {n:?}");
            assert!(n.split('\\').all(|c| c != "." && c != ".."), "{p:?} → {n:?}");
            if let Some(d) = drive_of(&n) {
                assert!(d.is_ascii_uppercase() && n[2..].starts_with('\\'), "{p:?} → {n:?}");
            }
            assert_eq!(join(&n, ""), n, "joining nothing to a normal path is the path: {p:?}");
        }
    }

    #[test]
    fn property_slashed_is_idempotent() {
        let mut g = Gen(0x5eed_0002);
        for _ in 0..CASES {
            let p = g.anything();
            let s = slashed(&p);
            assert_eq!(slashed(&s), s, "slashed is not idempotent on {p:?}");
            assert!(!s.contains('\\'), "{p:?} → {s:?}");
            assert!(!s.strip_prefix("//").unwrap_or(&s).contains("//"), "{p:?} → {s:?}");
        }
    }

    #[test]
    fn property_spellings_of_one_path_agree_in_every_form() {
        let mut g = Gen(0x5eed_0003);
        for _ in 0..CASES {
            let (drive, comps) = g.drive_path();
            let canonical = format!("{drive}:\\{}", comps.join("\\"));
            for s in spellings(drive, &comps) {
                assert_eq!(normalize(&s), canonical, "{s:?}");
                assert_eq!(key(&normalize(&s)), key(&canonical), "{s:?}");
                assert_eq!(without_drive(&s), without_drive(&canonical), "{s:?}");
                assert_eq!(file_name(&normalize(&s)), *comps.last().expect("a component"), "{s:?}");
            }
            // The triage spellings that only `without_drive` reads.
            let fwd = comps.join("/");
            for s in [format!("{drive}/{fwd}"), format!("{drive}%3A/{fwd}"), format!("uploads/auto/{drive}%3A/{fwd}")] {
                assert_eq!(without_drive(&s), without_drive(&canonical), "{s:?}");
            }
            // The forms agree with each other: `without_drive` is the key without `x:\`, with `/`; `slashed` of a
            // normal path is the normal path with `/`.
            assert_eq!(without_drive(&canonical), key(&canonical)[3..].replace('\\', "/"));
            assert_eq!(slashed(&canonical), canonical.replace('\\', "/"));
            assert_eq!(drive_of(&canonical), Some(drive));
        }
    }

    #[test]
    fn property_key_ignores_case_only() {
        let mut g = Gen(0x5eed_0004);
        for _ in 0..CASES {
            let (drive, comps) = g.drive_path();
            let p = format!("{drive}:\\{}", comps.join("\\"));
            let flipped: String = p
                .chars()
                .map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect();
            assert_eq!(key(&p), key(&flipped), "{p:?}");
            assert_eq!(key(&key(&p)), key(&p));
            assert!(is_within(&p, &flipped) && is_within(&flipped, &p), "{p:?}");
            let longer = format!("{p}x");
            assert_ne!(key(&p), key(&longer));
            assert!(!is_within(&longer, &p), "{longer:?} is not inside {p:?}");
            let parent = normalize(&format!("{p}\\.."));
            assert!(is_within(&p, &parent), "{p:?} inside {parent:?}");
        }
    }

    #[test]
    fn property_percent_decode_of_an_encoding_is_the_text() {
        let mut g = Gen(0x5eed_0005);
        for _ in 0..CASES {
            let p = g.anything();
            let encoded: String = p.bytes().map(|b| format!("%{b:02X}")).collect();
            assert_eq!(percent_decode(&encoded), p, "{p:?}");
            if !p.contains('%') {
                assert_eq!(percent_decode(&p), p);
            }
        }
    }
}
