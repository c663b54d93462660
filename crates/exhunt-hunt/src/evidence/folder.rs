//! A folder as evidence: a triage folder with drive folders, or a drive root (live or mounted).

use super::layout::{DirTree, DriveRoot, LayoutKind, find_drives};
use super::{EvidenceFile, EvidenceSource, Handle, OpenOptions, WalkItem};
use crate::error::HuntError;
use exhunt_model::winpath::{self, percent_decode};
use exhunt_model::{ErrorRecord, Timestamp};
use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// A folder of evidence. Files are opened read-only; symbolic links are not followed (a junction such as
/// `Documents and Settings` on a mounted drive would loop, and a link could point outside the evidence).
#[derive(Debug)]
pub struct FolderSource {
    name: String,
    infos: Vec<DriveRoot>,
    roots: Vec<Root>,
    errors: Vec<ErrorRecord>,
    /// When the PATH was one file (loose evidence): its name; the source is then that file alone, as `C:\<name>`.
    only: Option<String>,
}

#[derive(Debug)]
struct Root {
    info: DriveRoot,
    dir: PathBuf,
}

pub(crate) struct HostTree<'a> {
    pub(crate) base: &'a Path,
}

impl DirTree for HostTree<'_> {
    fn sub_dirs(&mut self, rel: &[String]) -> Vec<String> {
        let mut dir = self.base.to_path_buf();
        dir.extend(rel);
        let Ok(rd) = fs::read_dir(&dir) else { return Vec::new() };
        let mut names: Vec<String> = rd
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }
}

impl FolderSource {
    /// Opens a folder: finds its drives (see [`crate::evidence`]). Fails when it has none.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<FolderSource, HuntError> {
        let name = path.display().to_string();
        fs::read_dir(path).map_err(|e| HuntError::io(&name, e))?;
        let own = path.file_name().and_then(|n| n.to_str());
        let mut drives = find_drives(&mut HostTree { base: path }, own, opts.drive);
        if drives.is_empty() && holds_loose_evidence(path) {
            drives.push(DriveRoot { letter: 'C', display: String::new(), kind: LayoutKind::Loose, encoded: false });
        }
        if drives.is_empty() {
            return Err(no_drive(&name));
        }
        let infos = drives.clone();
        let roots = drives
            .into_iter()
            .map(|info| {
                let mut dir = path.to_path_buf();
                dir.extend(info.display.split('/').filter(|c| !c.is_empty()));
                Root { info, dir }
            })
            .collect();
        Ok(FolderSource { name, infos, roots, errors: Vec::new(), only: None })
    }

    /// Opens one file as loose evidence (an `.evtx`, an event export, a W3C or Exchange log, recognised by
    /// content): a source holding that file alone, as `C:\<name>`; nothing else of its folder is read.
    pub fn open_file(path: &Path) -> Result<FolderSource, HuntError> {
        let name = path.display().to_string();
        let not = |reason: &str| HuntError::NotEvidence { path: name.clone(), reason: reason.into() };
        let file = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| not("has no usable file name"))?;
        if !recognised_by_content(path) {
            return Err(not(
                "is neither a folder nor a `.zip` file, nor an `.evtx`, JSON-lines event export or W3C/Exchange \
                 log; pass a triage folder, a `.zip` of one, a drive root, or a folder of logs",
            ));
        }
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        let info = DriveRoot { letter: 'C', display: String::new(), kind: LayoutKind::Loose, encoded: false };
        Ok(FolderSource {
            name,
            infos: vec![info.clone()],
            roots: vec![Root { info, dir }],
            errors: Vec::new(),
            only: Some(file.to_string()),
        })
    }

    /// With [`FolderSource::open_file`]: whether `comps` (below `C:`) may be looked at — the root, or the file.
    fn allowed(&self, letter: char, comps: &[&str]) -> bool {
        match &self.only {
            None => true,
            Some(only) => {
                letter == 'C' && (comps.is_empty() || (comps.len() == 1 && comps[0].eq_ignore_ascii_case(only)))
            }
        }
    }

    /// Resolves Windows path components below a root, case-insensitively (and percent-decoding names when the root
    /// is encoded). Returns the host path, the Windows path as the evidence spells it, and the display path.
    fn resolve(&self, root: &Root, comps: &[&str]) -> Option<(PathBuf, String, String)> {
        // One file opened alone: its folder's other entries do not exist for the hunt.
        if !self.allowed(root.info.letter, comps) {
            return None;
        }
        let mut host = root.dir.clone();
        let mut win = format!("{}:", root.info.letter);
        let mut disp = root.info.display.clone();
        for want in comps {
            let want_key = want.to_lowercase();
            let mut found: Option<(OsString, String)> = None;
            for e in fs::read_dir(&host).ok()?.filter_map(Result::ok) {
                let raw = e.file_name();
                let shown = raw.to_string_lossy().into_owned();
                let decoded = if root.info.encoded { percent_decode(&shown).into_owned() } else { shown };
                if decoded == *want {
                    found = Some((raw, decoded));
                    break;
                }
                if found.is_none() && decoded.to_lowercase() == want_key {
                    found = Some((raw, decoded));
                }
            }
            let (raw, decoded) = found?;
            push_display(&mut disp, &raw.to_string_lossy());
            host.push(raw);
            win.push('\\');
            win.push_str(&decoded);
        }
        if comps.is_empty() {
            win.push('\\');
        }
        Some((host, win, disp))
    }

    fn roots_for(&self, letter: char) -> impl Iterator<Item = &Root> {
        self.roots.iter().filter(move |r| r.info.letter == letter)
    }
}

fn push_display(disp: &mut String, name: &str) {
    if !disp.is_empty() {
        disp.push('/');
    }
    disp.push_str(name);
}

/// How many files and how deep [`holds_loose_evidence`] looks.
const LOOSE_MAX_FILES: usize = 10_000;
const LOOSE_MAX_DEPTH: usize = 6;

/// True when a folder without a drive layout holds something the hunt reads by content: an EVTX file (`ElfFile`
/// magic), a JSON-lines export (`.json`, `.jsonl`, `.ndjson` starting with `{`), or a W3C or Exchange log
/// (`#Fields:` in its head). Bounded: at most [`LOOSE_MAX_FILES`] files, [`LOOSE_MAX_DEPTH`] levels; symbolic
/// links are not followed.
pub(crate) fn holds_loose_evidence(path: &Path) -> bool {
    let mut stack = vec![(path.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    while let Some((dir, depth)) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.filter_map(Result::ok) {
            seen += 1;
            if seen > LOOSE_MAX_FILES {
                return false;
            }
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() && depth + 1 < LOOSE_MAX_DEPTH {
                stack.push((e.path(), depth + 1));
            } else if t.is_file() && recognised_by_content(&e.path()) {
                return true;
            }
        }
    }
    false
}

pub(crate) fn recognised_by_content(file: &Path) -> bool {
    let mut head = [0u8; LOOSE_HEAD];
    let Ok(n) = fs::File::open(file).and_then(|mut f| super::read_up_to(&mut f, &mut head)) else { return false };
    recognised(&file.to_string_lossy(), &head[..n])
}

/// How much of a file [`recognised`] looks at.
pub(crate) const LOOSE_HEAD: usize = 1024;

/// Whether a file, by its name and its first bytes, is something the hunt reads by content: an EVTX file
/// (`ElfFile` magic), a JSON-lines export (`.json`, `.jsonl`, `.ndjson` starting with `{`), or a W3C or Exchange
/// log (`.log`, `.csv`, `.txt` with `#Fields:` in its head).
pub(crate) fn recognised(name: &str, head: &[u8]) -> bool {
    if head.starts_with(b"ElfFile\0") {
        return true;
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("json" | "jsonl" | "ndjson") => head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
        Some("log" | "csv" | "txt") => memchr::memmem::find(head, b"#Fields:").is_some(),
        _ => false,
    }
}

pub(crate) fn no_drive(name: &str) -> HuntError {
    HuntError::NotEvidence {
        path: name.to_string(),
        reason: "has no drive folder: expected `C/…`, `C%3A/…`, `<target>/C/…` (KAPE), `uploads/auto/C%3A/…` \
                 (Velociraptor), a drive root holding `Windows`, `Program Files` or `inetpub`, or (loose evidence) \
                 `.evtx` files, JSON-lines event exports or W3C/Exchange logs; pass `--drive C` to read a folder as \
                 the root of a drive"
            .into(),
    }
}

/// Splits a normalised Windows path into its drive letter and components.
pub(crate) fn split(windows_path: &str) -> Option<(char, Vec<&str>)> {
    let letter = winpath::drive_of(windows_path)?;
    let comps = windows_path.get(2..)?.split('\\').filter(|c| !c.is_empty()).collect();
    Some((letter, comps))
}

fn mtime(meta: &fs::Metadata) -> Option<Timestamp> {
    meta.modified().ok().map(|t| Timestamp::new(OffsetDateTime::from(t)))
}

impl EvidenceSource for FolderSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn drives(&self) -> &[DriveRoot] {
        &self.infos
    }

    fn walk<'a>(&'a self, prefix: &str) -> Box<dyn Iterator<Item = WalkItem> + 'a> {
        let prefix = winpath::normalize(prefix);
        let Some((letter, comps)) = split(&prefix) else { return Box::new(std::iter::empty()) };
        if let Some(only) = &self.only {
            // One file: the walk of the root, or of the file itself, is that file; any other prefix is empty.
            let one = if self.allowed(letter, &comps) { self.find(&format!("C:\\{only}")) } else { None };
            return Box::new(one.map(Ok).into_iter());
        }
        let roots: Vec<&Root> = self.roots_for(letter).collect();
        let seen = (roots.len() > 1).then(HashSet::new);
        let mut starts = VecDeque::new();
        for root in roots {
            if let Some((host, win, disp)) = self.resolve(root, &comps) {
                starts.push_back(Start { host, win, disp, encoded: root.info.encoded });
            }
        }
        Box::new(Walk { starts, stack: Vec::new(), seen })
    }

    fn find(&self, windows_path: &str) -> Option<EvidenceFile> {
        let p = winpath::normalize(windows_path);
        let (letter, comps) = split(&p)?;
        for root in self.roots_for(letter) {
            if let Some((host, win, display)) = self.resolve(root, &comps)
                && let Ok(meta) = fs::symlink_metadata(&host)
                && meta.is_file()
            {
                return Some(EvidenceFile {
                    windows_path: win,
                    display,
                    size: meta.len(),
                    mtime: mtime(&meta),
                    handle: Handle::Host(host),
                });
            }
        }
        None
    }

    fn is_dir(&self, windows_path: &str) -> bool {
        let p = winpath::normalize(windows_path);
        let Some((letter, comps)) = split(&p) else { return false };
        self.roots_for(letter).any(|root| {
            self.resolve(root, &comps).is_some_and(|(host, _, _)| fs::symlink_metadata(host).is_ok_and(|m| m.is_dir()))
        })
    }

    fn open(&self, file: &EvidenceFile) -> Result<Box<dyn Read + Send>, HuntError> {
        match &file.handle {
            // `File::open` opens read-only.
            Handle::Host(p) => Ok(Box::new(fs::File::open(p).map_err(|e| HuntError::io(&file.display, e))?)),
            Handle::Zip(_) => Err(HuntError::NotEvidence {
                path: file.display.clone(),
                reason: "belongs to another evidence source".into(),
            }),
        }
    }

    fn errors(&self) -> &[ErrorRecord] {
        &self.errors
    }
}

struct Start {
    host: PathBuf,
    win: String,
    disp: String,
    encoded: bool,
}

struct Frame {
    host: PathBuf,
    win: String,
    disp: String,
    encoded: bool,
    entries: std::vec::IntoIter<(OsString, String)>,
}

struct Walk {
    starts: VecDeque<Start>,
    stack: Vec<Frame>,
    seen: Option<HashSet<String>>,
}

impl Walk {
    fn frame(host: PathBuf, win: String, disp: String, encoded: bool) -> Result<Frame, HuntError> {
        let rd = fs::read_dir(&host).map_err(|e| HuntError::io(&disp, e))?;
        let mut entries = Vec::new();
        for e in rd {
            let e = e.map_err(|e| HuntError::io(&disp, e))?;
            let raw = e.file_name();
            let shown = raw.to_string_lossy().into_owned();
            let decoded = if encoded { percent_decode(&shown).into_owned() } else { shown };
            entries.push((raw, decoded));
        }
        entries.sort_by_cached_key(|(raw, decoded)| (decoded.to_lowercase(), raw.clone()));
        Ok(Frame { host, win, disp, encoded, entries: entries.into_iter() })
    }

    /// Visits one host path: a file is returned, a folder pushed; links and other kinds are skipped.
    fn visit(&mut self, host: PathBuf, win: String, disp: String, encoded: bool) -> Option<WalkItem> {
        let meta = match fs::symlink_metadata(&host) {
            Ok(m) => m,
            Err(e) => return Some(Err(HuntError::io(&disp, e))),
        };
        if meta.is_dir() {
            match Walk::frame(host, win, disp, encoded) {
                Ok(f) => self.stack.push(f),
                Err(e) => return Some(Err(e)),
            }
            return None;
        }
        if !meta.is_file() {
            return None;
        }
        if let Some(seen) = &mut self.seen
            && !seen.insert(winpath::key(&win))
        {
            return None;
        }
        Some(Ok(EvidenceFile {
            windows_path: win,
            display: disp,
            size: meta.len(),
            mtime: mtime(&meta),
            handle: Handle::Host(host),
        }))
    }
}

impl Iterator for Walk {
    type Item = WalkItem;

    fn next(&mut self) -> Option<WalkItem> {
        loop {
            if let Some(top) = self.stack.last_mut() {
                let Some((raw, decoded)) = top.entries.next() else {
                    self.stack.pop();
                    continue;
                };
                let host = top.host.join(&raw);
                let mut win = top.win.clone();
                if !win.ends_with('\\') {
                    win.push('\\');
                }
                win.push_str(&decoded);
                let mut disp = top.disp.clone();
                push_display(&mut disp, &raw.to_string_lossy());
                let encoded = top.encoded;
                if let Some(item) = self.visit(host, win, disp, encoded) {
                    return Some(item);
                }
                continue;
            }
            let s = self.starts.pop_front()?;
            if let Some(item) = self.visit(s.host, s.win, s.disp, s.encoded) {
                return Some(item);
            }
        }
    }
}
