//! Evidence sources: where the hunt reads a Windows host's files from.
//!
//! `exhunt hunt PATH...` takes three kinds of PATH, all read through one trait, [`EvidenceSource`]:
//!
//! | PATH | layout | example of a file |
//! |---|---|---|
//! | a triage folder with drive folders | `C/…`, `C%3A/…`, KAPE `<target>/C/…`, Velociraptor `uploads/auto/C%3A/…` and `uploads/ntfs/%5C%5C.%5CC%3A/…` | `uploads/auto/C%3A/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log` |
//! | a `.zip` of such a folder | the same, read in place: entries are streamed, never extracted | the same, as an entry name |
//! | a live root or a mounted image | the drive itself: `Windows`, `Program Files`, `inetpub`… (letter `C`, or `--drive D`) | `inetpub/logs/LogFiles/W3SVC1/u_ex210303.log` |
//!
//! Every file gets a normalised Windows path (`C:\inetpub\logs\LogFiles\W3SVC1\u_ex210303.log`, see
//! [`exhunt_model::winpath::normalize`])
//! under which rules and discovery look it up, and a display path: where it is relative to the PATH given, with `/`
//! separators, as findings show it. Velociraptor's percent-encoded names (`C%3A`, `%2E`) are decoded in the Windows
//! path and kept as written in the display path, so that the user can find the file.
//!
//! Evidence is only ever opened for reading. A folder or entry that cannot be read becomes an error
//! ([`HuntError`], turned into an `error` record by [`HuntError::to_record`]); the rest is still read.

mod folder;
mod layout;
mod zip;

pub use folder::FolderSource;
pub use layout::{DriveRoot, LayoutKind};
pub use zip::{MAX_ZIP_ENTRIES, MAX_ZIP_RATIO, MAX_ZIP_TOTAL_UNCOMPRESSED, ZIP_RATIO_FLOOR, ZipLimits, ZipSource};

use crate::error::HuntError;
use exhunt_model::winpath;
use exhunt_model::{ErrorRecord, Evidence, Locator, Timestamp};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One file of the evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceFile {
    /// Normalised Windows path: `C:\inetpub\logs\LogFiles\W3SVC1\u_ex210303.log`.
    pub windows_path: String,
    /// Where the file is relative to the PATH given, `/` separators, names as written in the evidence.
    pub display: String,
    /// Size in bytes (the uncompressed size for a zip entry).
    pub size: u64,
    /// Last modification time, when the source records it in UTC (folders do; zip entries keep a local time
    /// without a zone, so `None`).
    pub mtime: Option<Timestamp>,
    pub(crate) handle: Handle,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Handle {
    /// A file on the host.
    Host(PathBuf),
    /// An entry of a zip source, by index into its sorted entries.
    Zip(usize),
}

impl EvidenceFile {
    /// The file's name (last component of the Windows path).
    pub fn file_name(&self) -> &str {
        winpath::file_name(&self.windows_path)
    }

    /// Evidence pointing into this file; `locator` is e.g. `Some(Locator::Line(12))`.
    pub fn evidence(&self, locator: Option<Locator>) -> Evidence {
        Evidence { path: self.display.clone(), locator, sha256: None, excerpt: None }
    }
}

/// Items of a walk: a file, or a folder or entry that could not be read.
pub type WalkItem = Result<EvidenceFile, HuntError>;

/// Where the hunt reads a host's files from. Implementations open everything read-only.
pub trait EvidenceSource: Send + Sync {
    /// The PATH as the user gave it.
    fn name(&self) -> &str;

    /// The drives found, in the order they are searched.
    fn drives(&self) -> &[DriveRoot];

    /// Every file at or under the Windows path `prefix` (`C:\inetpub\logs`, or `C:\` for a whole drive), matched
    /// case-insensitively, recursively. Order: depth first, the entries of each folder sorted by lower-cased name;
    /// the same for every kind of source. When two drive folders map to the same drive (e.g. Velociraptor's `auto`
    /// and `ntfs` accessors), a Windows path is produced once, from the first.
    fn walk<'a>(&'a self, prefix: &str) -> Box<dyn Iterator<Item = WalkItem> + 'a>;

    /// The file at a Windows path (case-insensitive), if the evidence has it.
    fn find(&self, windows_path: &str) -> Option<EvidenceFile>;

    /// True when the evidence has a folder at the Windows path (case-insensitive).
    fn is_dir(&self, windows_path: &str) -> bool;

    /// Opens a file of this source for reading. The reader yields the file's bytes as stored (a zip entry
    /// decompressed, its size and CRC checked at the end).
    fn open(&self, file: &EvidenceFile) -> Result<Box<dyn Read + Send>, HuntError>;

    /// Problems met while opening the source (e.g. zip entries refused): one record each.
    fn errors(&self) -> &[ErrorRecord];

    /// Every file of every drive.
    fn files<'a>(&'a self) -> Box<dyn Iterator<Item = WalkItem> + 'a> {
        let mut letters: Vec<char> = self.drives().iter().map(|d| d.letter).collect();
        letters.dedup();
        Box::new(letters.into_iter().flat_map(move |l| self.walk(&format!("{l}:\\"))))
    }
}

/// How to open a PATH.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Read the PATH as the root of this drive (`--drive D`), whatever it holds.
    pub drive: Option<char>,
    /// Zip bomb limits.
    pub zip: ZipLimits,
}

/// Opens a PATH: a folder (triage folder or drive root) or a `.zip` file (recognised by its magic bytes).
pub fn open(path: &Path, opts: &OpenOptions) -> Result<Box<dyn EvidenceSource>, HuntError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| HuntError::io(&shown, e))?;
    if meta.is_dir() {
        return Ok(Box::new(FolderSource::open(path, opts)?));
    }
    if meta.is_file() {
        let mut magic = [0u8; 4];
        let n = std::fs::File::open(path)
            .and_then(|mut f| read_up_to(&mut f, &mut magic))
            .map_err(|e| HuntError::io(&shown, e))?;
        if n == 4 && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06") {
            return Ok(Box::new(ZipSource::open(path, opts)?));
        }
        // One log or export file: loose evidence, that file alone.
        return Ok(Box::new(FolderSource::open_file(path)?));
    }
    Err(HuntError::NotEvidence { path: shown, reason: "is not a folder or a file".into() })
}

/// A folder of collections: when PATH holds no drive of its own but two or more entries (sub-folders with a drive
/// layout, or `.zip` files) that each are one host's evidence, those entries, sorted by name. `None` otherwise: the
/// PATH is one host (or not evidence at all, which [`open`] reports).
pub fn collections(path: &Path) -> Option<Vec<std::path::PathBuf>> {
    use layout::{LayoutKind, find_drives};
    if !std::fs::metadata(path).ok()?.is_dir() {
        return None;
    }
    let own = path.file_name().and_then(|n| n.to_str());
    let drives = find_drives(&mut folder::HostTree { base: path }, own, None);
    if drives.iter().any(|d| d.kind == LayoutKind::DriveRoot || !d.display.contains('/')) {
        return None;
    }
    let mut entries: Vec<std::path::PathBuf> =
        std::fs::read_dir(path).ok()?.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    let hosts: Vec<std::path::PathBuf> = entries
        .into_iter()
        .filter(|p| {
            let Ok(meta) = std::fs::symlink_metadata(p) else { return false };
            if meta.is_dir() {
                let own = p.file_name().and_then(|n| n.to_str());
                !find_drives(&mut folder::HostTree { base: p }, own, None).is_empty()
            } else if meta.is_file() {
                let mut magic = [0u8; 4];
                std::fs::File::open(p).and_then(|mut f| read_up_to(&mut f, &mut magic)).ok() == Some(4)
                    && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06")
            } else {
                false
            }
        })
        .collect();
    (hosts.len() >= 2).then_some(hosts)
}

/// Reads until `buf` is full or the input ends; returns the number of bytes read.
pub(crate) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
