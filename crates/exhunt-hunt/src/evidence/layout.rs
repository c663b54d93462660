//! Finding the drives in a PATH: the same rules for a folder and for a zip.
//!
//! 1. `--drive L` given: the PATH is the root of drive `L`.
//! 2. The PATH holds a folder a system drive has at its top (`Windows`, `Program Files`, `inetpub`, … see
//!    `DRIVE_ROOT_MARKERS`): it is a drive root (a live root or a mounted image). The letter is the PATH's own name
//!    when that names a drive (`…/C`, `…/C%3A`), else `C`.
//! 3. Otherwise folders are searched breadth first, at most [`MAX_SEARCH_DEPTH`] levels down, for drive folder
//!    names: `C`, `C:`, `C%3A` (Velociraptor `auto`), `%5C%5C.%5CC%3A` (Velociraptor `ntfs`). A drive folder is not
//!    searched further; neither are folders named like a drive root's top folders. Velociraptor shadow copies are
//!    not drives and are left out.
//! 4. None of these, but a folder or a zip holds event logs, event exports or W3C/Exchange logs (recognised by
//!    content, see [`super::folder`]): it is read as loose evidence, the root of `C:` ([`LayoutKind::Loose`]).

use std::collections::VecDeque;

/// How deep below the PATH drive folders are searched: `<collection>/uploads/auto/C%3A` is at depth 4.
pub const MAX_SEARCH_DEPTH: usize = 4;
/// At most this many folders are listed while searching for drive folders.
const MAX_SEARCH_DIRS: usize = 10_000;

/// What kind of layout a drive was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayoutKind {
    /// The PATH is the drive itself (live root, mounted image).
    DriveRoot,
    /// A drive folder named by its letter: `C/…` (KAPE and most triage scripts), `C%3A/…`.
    DriveFolder,
    /// A Velociraptor collection: `uploads/<accessor>/C%3A/…` or `uploads/<accessor>/%5C%5C.%5CC%3A/…`.
    Velociraptor,
    /// No drive layout, but logs or event exports somewhere in the folder (a SIEM export, a folder of `.evtx`
    /// files): the folder is read as the root of `C:`, and only what is recognised by content is used.
    Loose,
}

impl LayoutKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            LayoutKind::DriveRoot => "drive-root",
            LayoutKind::DriveFolder => "drive-folder",
            LayoutKind::Velociraptor => "velociraptor",
            LayoutKind::Loose => "loose",
        }
    }
}

/// A drive found in the evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriveRoot {
    /// Upper-case drive letter.
    pub letter: char,
    /// The drive folder relative to the PATH, `/` separators; empty when the PATH is the drive.
    pub display: String,
    pub kind: LayoutKind,
    /// Names below this folder are percent-encoded (Velociraptor).
    pub encoded: bool,
}

/// A tree of folders to search: folders of a PATH, or the folder prefixes of a zip's entry names.
pub(crate) trait DirTree {
    /// Names of the sub-folders of the folder at `rel` (components below the PATH).
    fn sub_dirs(&mut self, rel: &[String]) -> Vec<String>;
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
    // `get`, not indexing: a name of the right length in bytes may still have a character across the cut.
    let is = |range: std::ops::Range<usize>, text: &str| name.get(range).is_some_and(|s| s.eq_ignore_ascii_case(text));
    match b.len() {
        1 => letter(b[0]).map(|letter| DriveName { letter, encoded: false }),
        2 if b[1] == b':' => letter(b[0]).map(|letter| DriveName { letter, encoded: false }),
        4 if is(1..4, "%3A") => letter(b[0]).map(|letter| DriveName { letter, encoded: true }),
        14 if is(0..10, "%5C%5C.%5C") && is(11..14, "%3A") => {
            letter(b[10]).map(|letter| DriveName { letter, encoded: true })
        }
        _ => None,
    }
}

/// Top-level folders of a Windows system drive: a folder holding one of these is taken for a drive root.
pub(crate) const DRIVE_ROOT_MARKERS: &[&str] =
    &["Windows", "Program Files", "Program Files (x86)", "ProgramData", "inetpub", "Users", "ExchangeSetupLogs"];

fn is_marker(name: &str) -> bool {
    DRIVE_ROOT_MARKERS.iter().any(|m| m.eq_ignore_ascii_case(name))
}

/// Finds the drives of a PATH (see the module documentation). `own_name` is the PATH's last component.
pub(crate) fn find_drives(tree: &mut dyn DirTree, own_name: Option<&str>, forced: Option<char>) -> Vec<DriveRoot> {
    let own = own_name.and_then(drive_name);
    if let Some(letter) = forced {
        let encoded = own.is_some_and(|d| d.encoded);
        return vec![DriveRoot {
            letter: letter.to_ascii_uppercase(),
            display: String::new(),
            kind: LayoutKind::DriveRoot,
            encoded,
        }];
    }
    let top = tree.sub_dirs(&[]);
    if top.iter().any(|n| is_marker(n)) {
        return vec![DriveRoot {
            letter: own.map_or('C', |d| d.letter),
            display: String::new(),
            kind: LayoutKind::DriveRoot,
            encoded: own.is_some_and(|d| d.encoded),
        }];
    }
    let mut roots = Vec::new();
    let mut queue: VecDeque<(Vec<String>, Vec<String>)> = VecDeque::new();
    queue.push_back((Vec::new(), top));
    let mut listed = 1usize;
    while let Some((rel, children)) = queue.pop_front() {
        for name in children {
            let mut path = rel.clone();
            path.push(name.clone());
            if let Some(d) = drive_name(&name) {
                let velociraptor = rel.len() >= 2 && rel[rel.len() - 2].eq_ignore_ascii_case("uploads");
                roots.push(DriveRoot {
                    letter: d.letter,
                    display: path.join("/"),
                    kind: if velociraptor { LayoutKind::Velociraptor } else { LayoutKind::DriveFolder },
                    encoded: d.encoded,
                });
                continue;
            }
            if path.len() < MAX_SEARCH_DEPTH && !is_marker(&name) && listed < MAX_SEARCH_DIRS {
                listed += 1;
                let sub = tree.sub_dirs(&path);
                queue.push_back((path, sub));
            }
        }
    }
    // Shallowest first, then by letter; a stable sort keeps the search order (sorted names) among equals.
    roots.sort_by_key(|r| (r.letter, r.display.matches('/').count()));
    roots
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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
    fn a_drive_name_check_does_not_split_a_character() {
        // Regression: a four-byte name starting with a two-byte character was sliced at byte 1, which panicked.
        assert_eq!(drive_name("éab"), None);
        assert_eq!(drive_name("%5C%5C.%5Cé%3"), None);
        assert_eq!(drive_name("%5C%5C.%5é%3A"), None);
    }

    struct Fake(BTreeMap<String, Vec<String>>);

    impl DirTree for Fake {
        fn sub_dirs(&mut self, rel: &[String]) -> Vec<String> {
            self.0.get(&rel.join("/")).cloned().unwrap_or_default()
        }
    }

    fn fake(dirs: &[&str]) -> Fake {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in dirs {
            let parts: Vec<&str> = d.split('/').collect();
            for i in 0..parts.len() {
                let parent = parts[..i].join("/");
                let e = m.entry(parent).or_default();
                if !e.iter().any(|x| x == parts[i]) {
                    e.push(parts[i].to_string());
                    e.sort();
                }
            }
        }
        Fake(m)
    }

    #[test]
    fn kape_and_plain_drive_folders() {
        let mut t = fake(&["C/Windows/System32", "D/Exchange/Logging", "Console"]);
        let roots = find_drives(&mut t, Some("kape-out"), None);
        let got: Vec<(char, &str, LayoutKind)> = roots.iter().map(|r| (r.letter, r.display.as_str(), r.kind)).collect();
        assert_eq!(got, [('C', "C", LayoutKind::DriveFolder), ('D', "D", LayoutKind::DriveFolder)]);
        let mut t = fake(&["HOST01/C/inetpub/logs"]);
        assert_eq!(find_drives(&mut t, None, None)[0].display, "HOST01/C");
    }

    #[test]
    fn velociraptor_accessors() {
        let mut t = fake(&[
            "uploads/auto/C%3A/Windows",
            "uploads/ntfs/%5C%5C.%5CC%3A/inetpub",
            "uploads/ntfs/%5C%5C%3F%5CGLOBALROOT%5CDevice%5CHarddiskVolumeShadowCopy1/inetpub",
            "results",
        ]);
        let roots = find_drives(&mut t, Some("Collection-EX01"), None);
        assert_eq!(roots.len(), 2);
        assert!(roots.iter().all(|r| r.kind == LayoutKind::Velociraptor && r.encoded && r.letter == 'C'));
        assert_eq!(roots[0].display, "uploads/auto/C%3A");
        assert_eq!(roots[1].display, "uploads/ntfs/%5C%5C.%5CC%3A");
    }

    #[test]
    fn drive_roots_take_their_letter_from_the_path_or_the_option() {
        let mut t = fake(&["Windows/System32", "Program Files/Microsoft"]);
        assert_eq!(find_drives(&mut t, Some("mnt"), None)[0].letter, 'C');
        assert_eq!(find_drives(&mut t, Some("E"), None)[0].letter, 'E');
        assert!(find_drives(&mut t, Some("E%3A"), None)[0].encoded);
        let mut t = fake(&["Exchange Server/V15"]);
        let r = find_drives(&mut t, Some("mnt"), Some('d'));
        assert_eq!((r[0].letter, r[0].kind), ('D', LayoutKind::DriveRoot));
        assert!(find_drives(&mut t, Some("mnt"), None).is_empty());
    }
}
