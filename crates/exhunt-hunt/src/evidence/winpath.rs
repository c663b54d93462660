//! Windows paths as the hunt names files: `C:\inetpub\logs\LogFiles\W3SVC1\u_ex210303.log`.
//!
//! A normalised path has a drive letter in upper case, `\` separators, no repeated or trailing separator (except in
//! the drive root `C:\`), no `.` components, and `..` resolved lexically (never above the drive root). Case is kept
//! as the evidence spells it; comparisons ignore case, as Windows does.

/// Normalises a Windows path (see the module documentation). `/` is read as `\`; `\\?\` and `\\.\` prefixes go.
/// A path without a drive letter is returned with its components normalised and no drive.
pub fn normalize(path: &str) -> String {
    let mut p = path.replace('/', "\\");
    for prefix in ["\\\\?\\", "\\\\.\\", "\\??\\"] {
        if p.len() > prefix.len() && p[..prefix.len()].eq_ignore_ascii_case(prefix) {
            p = p[prefix.len()..].to_string();
            break;
        }
    }
    let (drive, rest) = split_drive(&p);
    let mut parts: Vec<&str> = Vec::new();
    for c in rest.split('\\') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    match drive {
        Some(d) => format!("{}:\\{}", d, parts.join("\\")),
        None => parts.join("\\"),
    }
}

/// The drive letter (upper case) and the rest of the path.
fn split_drive(p: &str) -> (Option<char>, &str) {
    let b = p.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        (Some(char::from(b[0].to_ascii_uppercase())), &p[2..])
    } else {
        (None, p)
    }
}

/// The drive letter of a normalised path.
pub fn drive_of(path: &str) -> Option<char> {
    split_drive(path).0
}

/// The key under which paths compare: lower case (Unicode), `\` separators.
pub fn key(path: &str) -> String {
    path.to_lowercase()
}

/// Joins a relative part (either separator) to a Windows folder, normalising the result.
pub fn join(base: &str, rel: &str) -> String {
    normalize(&format!("{base}\\{rel}"))
}

/// True when `path` is `folder` or inside it (case-insensitive, both normalised).
pub fn is_within(path: &str, folder: &str) -> bool {
    let (p, f) = (key(path), key(folder));
    let f = f.trim_end_matches('\\');
    p == f || (p.len() > f.len() && p.starts_with(f) && p.as_bytes()[f.len()] == b'\\')
}

/// The last component of a path.
pub fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// Decodes `%XX` escapes (as Velociraptor writes path components). Invalid escapes are kept as written; bytes that
/// do not form UTF-8 are replaced.
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
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
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// How a folder name names a drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DriveName {
    pub letter: char,
    /// The name was percent-encoded (Velociraptor): names below it are percent-encoded too.
    pub encoded: bool,
}

/// Recognises a drive folder name: `C`, `C:`, `C%3A` and `%5C%5C.%5CC%3A` (`\\.\C:`, Velociraptor's ntfs accessor).
/// Shadow copies (`…HarddiskVolumeShadowCopy…`) are not drives.
pub(crate) fn drive_name(name: &str) -> Option<DriveName> {
    let b = name.as_bytes();
    let letter = |c: u8| c.is_ascii_alphabetic().then(|| char::from(c.to_ascii_uppercase()));
    match b.len() {
        1 => letter(b[0]).map(|letter| DriveName { letter, encoded: false }),
        2 if b[1] == b':' => letter(b[0]).map(|letter| DriveName { letter, encoded: false }),
        4 if name[1..].eq_ignore_ascii_case("%3A") => letter(b[0]).map(|letter| DriveName { letter, encoded: true }),
        14 if name[..10].eq_ignore_ascii_case("%5C%5C.%5C") && name[11..].eq_ignore_ascii_case("%3A") => {
            letter(b[10]).map(|letter| DriveName { letter, encoded: true })
        }
        _ => None,
    }
}

/// Top-level folders of a Windows system drive: a folder holding one of these is taken for a drive root.
pub(crate) const DRIVE_ROOT_MARKERS: &[&str] =
    &["Windows", "Program Files", "Program Files (x86)", "ProgramData", "inetpub", "Users", "ExchangeSetupLogs"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_separators_prefixes_and_dots() {
        assert_eq!(normalize("c:/inetpub//wwwroot/"), "C:\\inetpub\\wwwroot");
        assert_eq!(normalize("\\\\?\\C:\\Windows\\.\\System32\\..\\Temp"), "C:\\Windows\\Temp");
        assert_eq!(normalize("C:\\..\\..\\x"), "C:\\x");
        assert_eq!(normalize("C:"), "C:\\");
        assert_eq!(normalize("a/b"), "a\\b");
        assert_eq!(
            join("C:\\Program Files\\", "Microsoft/Exchange Server"),
            "C:\\Program Files\\Microsoft\\Exchange Server"
        );
    }

    #[test]
    fn within_is_component_wise_and_case_insensitive() {
        assert!(is_within("C:\\inetpub\\wwwroot\\x.aspx", "c:\\INETPUB\\wwwroot"));
        assert!(is_within("C:\\inetpub", "C:\\inetpub"));
        assert!(!is_within("C:\\inetpub2\\x", "C:\\inetpub"));
        assert!(is_within("C:\\x", "C:\\"));
    }

    #[test]
    fn drive_names() {
        assert_eq!(drive_name("C"), Some(DriveName { letter: 'C', encoded: false }));
        assert_eq!(drive_name("d:"), Some(DriveName { letter: 'D', encoded: false }));
        assert_eq!(drive_name("C%3A"), Some(DriveName { letter: 'C', encoded: true }));
        assert_eq!(drive_name("%5C%5C.%5CE%3a"), Some(DriveName { letter: 'E', encoded: true }));
        assert_eq!(drive_name("%5C%5C%3F%5CGLOBALROOT%5CDevice%5CHarddiskVolumeShadowCopy1"), None);
        assert_eq!(drive_name("CC"), None);
        assert_eq!(drive_name("1"), None);
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("C%3A"), "C:");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
    }
}
