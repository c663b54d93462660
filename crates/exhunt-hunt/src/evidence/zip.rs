//! A `.zip` of a triage folder, read in place.
//!
//! The central directory is read once when the source opens; each entry is then streamed from its own handle on the
//! archive (so files can be read in parallel), decompressed on the fly, never written to disk. The archive is
//! refused whole when it looks like a zip bomb, and single entries are refused when their names would escape the
//! archive:
//!
//! * more than [`MAX_ZIP_ENTRIES`] entries, or more than [`MAX_ZIP_TOTAL_UNCOMPRESSED`] bytes declared in all, or
//!   entries whose data overlap (the "better zip bomb" reuses one compressed block for many entries): archive refused;
//! * an entry larger than [`ZIP_RATIO_FLOOR`] that declares more than [`MAX_ZIP_RATIO`] times its compressed size:
//!   entry refused. Text logs compress about 40:1 (the Tunna IIS log of the corpus: 38:1); deflate tops out near
//!   1032:1, which is what bombs use;
//! * an entry that decompresses to more than its declared size, or whose CRC-32 does not match: the read fails at
//!   that point, so declared sizes bound the work and every byte handed out was checked;
//! * names such as `../x`, `/x`, `\x` or `C:\x`: entry refused (zip slip). Nothing is extracted, but such a name
//!   would also map to a Windows path outside the evidence.
//!
//! Encrypted entries and compression methods other than stored and deflate are reported and skipped.

use super::folder::{no_drive, split};
use super::layout::{DirTree, DriveRoot, LayoutKind, MAX_SEARCH_DEPTH, find_drives};

/// How many entries of a zip without a drive layout are looked into for loose evidence.
const LOOSE_MAX_ENTRIES: usize = 10_000;
use super::{EvidenceFile, EvidenceSource, Handle, OpenOptions, WalkItem};
use crate::error::HuntError;
use exhunt_model::ErrorRecord;
use exhunt_model::winpath::{self, percent_decode};
use flate2::read::DeflateDecoder;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zip::CompressionMethod;

/// At most this many entries in one archive (a full KAPE triage of a busy Exchange server has a few 100,000).
pub const MAX_ZIP_ENTRIES: usize = 1_000_000;
/// At most this many uncompressed bytes declared by all entries together (256 GiB).
pub const MAX_ZIP_TOTAL_UNCOMPRESSED: u64 = 256 << 30;
/// At most this ratio of declared to compressed size, for entries larger than [`ZIP_RATIO_FLOOR`].
pub const MAX_ZIP_RATIO: u64 = 200;
/// Entries up to this size (1 MiB) are not held to [`MAX_ZIP_RATIO`].
pub const ZIP_RATIO_FLOOR: u64 = 1 << 20;

/// Zip bomb limits; the defaults are the constants of this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZipLimits {
    pub max_entries: usize,
    pub max_total_uncompressed: u64,
    pub max_ratio: u64,
    pub ratio_floor: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_entries: MAX_ZIP_ENTRIES,
            max_total_uncompressed: MAX_ZIP_TOTAL_UNCOMPRESSED,
            max_ratio: MAX_ZIP_RATIO,
            ratio_floor: ZIP_RATIO_FLOOR,
        }
    }
}

/// Where the archive's bytes are.
#[derive(Debug)]
enum Backing {
    File(PathBuf),
    Bytes(Arc<[u8]>),
}

#[derive(Clone, Debug)]
struct Shared(Arc<[u8]>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

impl Backing {
    fn reader(&self) -> io::Result<Box<dyn ReadSeek>> {
        match self {
            Backing::File(p) => Ok(Box::new(std::fs::File::open(p)?)),
            Backing::Bytes(b) => Ok(Box::new(Cursor::new(Shared(b.clone())))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Stored,
    Deflated,
}

#[derive(Debug)]
struct Entry {
    /// The name as stored, `/` separators.
    name: String,
    windows_path: String,
    size: u64,
    compressed: u64,
    method: Method,
    header_start: u64,
    crc32: u32,
}

/// A zip archive of evidence.
#[derive(Debug)]
pub struct ZipSource {
    name: String,
    backing: Backing,
    /// Sorted by `keys`.
    entries: Vec<Entry>,
    /// Walk keys: lower-cased Windows path components joined by NUL (so that sorting is depth-first order).
    keys: Vec<String>,
    infos: Vec<DriveRoot>,
    errors: Vec<ErrorRecord>,
}

struct NameTree(BTreeMap<String, BTreeSet<String>>);

impl DirTree for NameTree {
    fn sub_dirs(&mut self, rel: &[String]) -> Vec<String> {
        self.0.get(&rel.join("/")).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }
}

/// The walk key of Windows path components.
fn walk_key(letter: char, comps: &[&str]) -> String {
    let mut k = format!("{}:", letter.to_ascii_lowercase());
    for c in comps {
        k.push('\0');
        k.push_str(&c.to_lowercase());
    }
    k
}

/// Why an entry name would escape the archive, if it would.
fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.contains('\0') {
        return Some("the name holds a NUL byte");
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("the name is an absolute path");
    }
    let first = name.split(['/', '\\']).next().unwrap_or("");
    if first.contains(':') {
        return Some("the name starts with a drive (`C:`)");
    }
    if name.split(['/', '\\']).any(|c| c == "..") {
        return Some("the name climbs out of the archive with `..`");
    }
    None
}

impl ZipSource {
    /// Opens a zip file.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<ZipSource, HuntError> {
        let name = path.display().to_string();
        let own = path.file_stem().and_then(|n| n.to_str()).map(str::to_string);
        ZipSource::build(name, Backing::File(path.to_path_buf()), own.as_deref(), opts)
    }

    /// Reads a zip held in memory (`name` is how the user sees it).
    pub fn from_bytes(name: &str, bytes: impl Into<Arc<[u8]>>, opts: &OpenOptions) -> Result<ZipSource, HuntError> {
        ZipSource::build(name.to_string(), Backing::Bytes(bytes.into()), None, opts)
    }

    fn build(name: String, backing: Backing, own: Option<&str>, opts: &OpenOptions) -> Result<ZipSource, HuntError> {
        let limits = opts.zip;
        let zerr = |m: String| HuntError::Zip { path: name.clone(), message: m };
        let reader = backing.reader().map_err(|e| HuntError::io(&name, e))?;
        let archive = zip::ZipArchive::new(io::BufReader::new(reader)).map_err(|e| zerr(e.to_string()))?;
        if archive.len() > limits.max_entries {
            return Err(HuntError::ZipBomb {
                path: name,
                reason: format!("{} entries, more than the limit of {}", archive.len(), limits.max_entries),
            });
        }
        let mut errors = Vec::new();
        let mut total: u64 = 0;
        // (name, comps, size, compressed, method, header_start, crc)
        let mut files: Vec<(String, Vec<String>, Entry)> = Vec::new();
        let mut tree: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        // (start of the local header, least end of the entry's header and data): for the overlap check.
        let mut spans: Vec<(u64, u64)> = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let e = archive.by_index_data(i).map_err(|e| zerr(e.to_string()))?;
            let least_end = e
                .header_start()
                .saturating_add(30)
                .saturating_add(e.name_raw().len() as u64)
                .saturating_add(e.compressed_size());
            spans.push((e.header_start(), least_end));
            let entry_name = match e.name() {
                Ok(n) => n.replace('\\', "/"),
                Err(err) => {
                    errors.push(
                        HuntError::Entry { path: name.clone(), name: format!("#{i}"), reason: err.to_string() }
                            .to_record(),
                    );
                    continue;
                }
            };
            total = total.saturating_add(e.size());
            if total > limits.max_total_uncompressed {
                return Err(HuntError::ZipBomb {
                    path: name,
                    reason: format!(
                        "its entries declare more than {} bytes uncompressed in all",
                        limits.max_total_uncompressed
                    ),
                });
            }
            if let Some(reason) = unsafe_name(&entry_name) {
                errors.push(
                    HuntError::UnsafeEntry { path: name.clone(), name: entry_name, reason: reason.into() }.to_record(),
                );
                continue;
            }
            let comps: Vec<String> =
                entry_name.split('/').filter(|c| !c.is_empty() && *c != ".").map(str::to_string).collect();
            let dir_depth = if e.is_dir() { comps.len() } else { comps.len().saturating_sub(1) };
            for d in 0..dir_depth.min(MAX_SEARCH_DEPTH + 1) {
                tree.entry(comps[..d].join("/")).or_default().insert(comps[d].clone());
            }
            if e.is_dir() || e.is_symlink() || comps.is_empty() {
                continue;
            }
            if e.size() > limits.ratio_floor && e.size() / e.compressed_size().max(1) > limits.max_ratio {
                errors.push(
                    HuntError::ZipBomb {
                        path: format!("{name}!{entry_name}"),
                        reason: format!(
                            "the entry declares {} bytes for {} compressed, more than {}:1",
                            e.size(),
                            e.compressed_size(),
                            limits.max_ratio
                        ),
                    }
                    .to_record(),
                );
                continue;
            }
            let unreadable =
                |reason: String| HuntError::Entry { path: name.clone(), name: entry_name.clone(), reason }.to_record();
            if e.encrypted() {
                errors.push(unreadable("it is encrypted; decrypt the archive first".into()));
                continue;
            }
            let method = match e.compression() {
                CompressionMethod::Stored => Method::Stored,
                CompressionMethod::Deflated => Method::Deflated,
                other => {
                    errors.push(unreadable(format!(
                        "compression method {other:?} is not supported (stored and deflate are); extract the archive \
                         and pass the folder"
                    )));
                    continue;
                }
            };
            let entry = Entry {
                name: entry_name.clone(),
                windows_path: String::new(),
                size: e.size(),
                compressed: e.compressed_size(),
                method,
                header_start: e.header_start(),
                crc32: e.crc32(),
            };
            files.push((entry_name, comps, entry));
        }
        if overlapping(&mut spans) {
            return Err(HuntError::ZipBomb {
                path: name,
                reason: "entries share compressed data (overlapping entries)".into(),
            });
        }
        drop(archive);

        let mut infos = find_drives(&mut NameTree(tree), own, opts.drive);
        // No drive layout: loose evidence when an entry is recognised by its content (checked below, once the
        // entries can be read).
        let loose = infos.is_empty();
        if loose {
            infos.push(DriveRoot { letter: 'C', display: String::new(), kind: LayoutKind::Loose, encoded: false });
        }
        let root_comps: Vec<Vec<&str>> =
            infos.iter().map(|r| r.display.split('/').filter(|c| !c.is_empty()).collect()).collect();
        // (key, root index, entry)
        let mut mapped: Vec<(String, usize, Entry)> = Vec::new();
        for (_, comps, mut entry) in files {
            let Some(ri) = root_comps.iter().position(|rc| comps.len() > rc.len() && comps[..rc.len()] == rc[..])
            else {
                continue; // not below a drive: collection metadata such as Velociraptor's `results/`
            };
            let root = &infos[ri];
            let below: Vec<String> = comps[root_comps[ri].len()..]
                .iter()
                .map(|c| if root.encoded { percent_decode(c).into_owned() } else { c.clone() })
                .collect();
            let below_ref: Vec<&str> = below.iter().map(String::as_str).collect();
            entry.windows_path = format!("{}:\\{}", root.letter, below.join("\\"));
            mapped.push((walk_key(root.letter, &below_ref), ri, entry));
        }
        mapped.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        mapped.dedup_by(|later, first| later.0 == first.0);
        let (keys, entries): (Vec<String>, Vec<Entry>) = mapped.into_iter().map(|(k, _, e)| (k, e)).unzip();
        let src = ZipSource { name, backing, entries, keys, infos, errors };
        if loose && !src.holds_loose_evidence() {
            return Err(no_drive(&src.name));
        }
        Ok(src)
    }

    /// True when an entry (of the first [`LOOSE_MAX_ENTRIES`]) is recognised by its name and first bytes
    /// ([`super::folder::recognised`]).
    fn holds_loose_evidence(&self) -> bool {
        self.entries.iter().take(LOOSE_MAX_ENTRIES).any(|e| {
            let mut head = [0u8; super::folder::LOOSE_HEAD];
            self.open_entry(e)
                .and_then(|mut r| super::read_up_to(&mut r, &mut head))
                .is_ok_and(|n| super::folder::recognised(&e.name, &head[..n]))
        })
    }

    fn file(&self, i: usize) -> Option<EvidenceFile> {
        let e = self.entries.get(i)?;
        Some(EvidenceFile {
            windows_path: e.windows_path.clone(),
            display: e.name.clone(),
            size: e.size,
            mtime: None,
            handle: Handle::Zip(i),
        })
    }

    /// Index range of the keys at or below `pk`.
    fn range(&self, pk: &str) -> std::ops::Range<usize> {
        let start = self.keys.partition_point(|k| k.as_str() < pk);
        let mut end = start;
        while end < self.keys.len() && is_at_or_below(&self.keys[end], pk) {
            end += 1;
        }
        start..end
    }

    fn open_entry(&self, e: &Entry) -> io::Result<Box<dyn Read + Send>> {
        let mut r = self.backing.reader()?;
        r.seek(SeekFrom::Start(e.header_start))?;
        let mut h = [0u8; 30];
        r.read_exact(&mut h)?;
        if h[..4] != *b"PK\x03\x04" {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "no local file header where the directory says"));
        }
        let name_len = u64::from(u16::from_le_bytes([h[26], h[27]]));
        let extra_len = u64::from(u16::from_le_bytes([h[28], h[29]]));
        r.seek(SeekFrom::Start(e.header_start + 30 + name_len + extra_len))?;
        let raw = r.take(e.compressed);
        let inner: Box<dyn Read + Send> = match e.method {
            Method::Stored => Box::new(raw),
            Method::Deflated => Box::new(DeflateDecoder::new(raw)),
        };
        Ok(Box::new(Checked {
            inner,
            declared: e.size,
            read: 0,
            crc: crc32fast::Hasher::new(),
            expected: e.crc32,
            done: false,
        }))
    }
}

/// True when some entry starts inside another (header, name and compressed data; the local extra field, unknown
/// without reading the local header, is left out, which can only miss an overlap, never invent one). This is what
/// the "better zip bomb" does to make many entries out of one compressed block; found from the central directory
/// alone, without reading the archive.
fn overlapping(spans: &mut [(u64, u64)]) -> bool {
    spans.sort_unstable();
    spans.windows(2).any(|w| w[1].0 < w[0].1 || w[1].0 == w[0].0)
}

fn is_at_or_below(key: &str, pk: &str) -> bool {
    key.starts_with(pk) && (key.len() == pk.len() || key.as_bytes()[pk.len()] == 0)
}

/// Cuts an entry at its declared size and checks its CRC-32 at the end.
struct Checked {
    inner: Box<dyn Read + Send>,
    declared: u64,
    read: u64,
    crc: crc32fast::Hasher,
    expected: u32,
    done: bool,
}

impl Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        // One byte more than what is left, to notice an entry larger than declared.
        let left = self.declared.saturating_sub(self.read).saturating_add(1);
        let max = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            self.done = true;
            if self.read != self.declared {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the entry ends after {} of its {} bytes", self.read, self.declared),
                ));
            }
            let crc = std::mem::take(&mut self.crc).finalize();
            if crc != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("CRC-32 mismatch (stored {:08x}, computed {crc:08x})", self.expected),
                ));
            }
            return Ok(0);
        }
        self.read += n as u64;
        if self.read > self.declared {
            self.done = true;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the entry is larger than its declared {} bytes", self.declared),
            ));
        }
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

impl EvidenceSource for ZipSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn drives(&self) -> &[DriveRoot] {
        &self.infos
    }

    fn walk<'a>(&'a self, prefix: &str) -> Box<dyn Iterator<Item = WalkItem> + 'a> {
        let p = winpath::normalize(prefix);
        let Some((letter, comps)) = split(&p) else { return Box::new(std::iter::empty()) };
        let range = self.range(&walk_key(letter, &comps));
        Box::new(range.filter_map(move |i| self.file(i)).map(Ok))
    }

    fn find(&self, windows_path: &str) -> Option<EvidenceFile> {
        let p = winpath::normalize(windows_path);
        let (letter, comps) = split(&p)?;
        let i = self.keys.binary_search(&walk_key(letter, &comps)).ok()?;
        self.file(i)
    }

    fn is_dir(&self, windows_path: &str) -> bool {
        let p = winpath::normalize(windows_path);
        let Some((letter, comps)) = split(&p) else { return false };
        let pk = walk_key(letter, &comps);
        let r = self.range(&pk);
        self.keys[r].iter().any(|k| k.len() > pk.len())
    }

    fn open(&self, file: &EvidenceFile) -> Result<Box<dyn Read + Send>, HuntError> {
        let entry = match file.handle {
            Handle::Zip(i) => self.entries.get(i),
            Handle::Host(_) => None,
        };
        let Some(e) = entry else {
            return Err(HuntError::NotEvidence {
                path: file.display.clone(),
                reason: "belongs to another evidence source".into(),
            });
        };
        self.open_entry(e).map_err(|err| HuntError::Entry {
            path: self.name.clone(),
            name: e.name.clone(),
            reason: err.to_string(),
        })
    }

    fn errors(&self) -> &[ErrorRecord] {
        &self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names() {
        assert!(unsafe_name("../x").is_some());
        assert!(unsafe_name("C/../../x").is_some());
        assert!(unsafe_name("/etc/passwd").is_some());
        assert!(unsafe_name("\\Windows\\x").is_some());
        assert!(unsafe_name("C:\\Windows\\x").is_some());
        assert!(unsafe_name("C:/x").is_some());
        assert!(unsafe_name("C/inetpub/x..y/..z").is_none());
        assert!(unsafe_name("uploads/auto/C%3A/x").is_none());
    }

    #[test]
    fn overlaps_from_the_central_directory() {
        assert!(!overlapping(&mut [(0, 40), (40, 90), (90, 100)]));
        assert!(overlapping(&mut [(40, 90), (0, 41)]));
        assert!(overlapping(&mut [(0, 30), (0, 30)]), "two entries on one local header");
    }

    #[test]
    fn walk_keys_sort_depth_first() {
        let mut keys = [walk_key('C', &["a.txt"]), walk_key('C', &["a", "b"]), walk_key('C', &["A0"])];
        keys.sort();
        assert_eq!(keys[0], walk_key('C', &["a", "b"]));
        assert!(is_at_or_below(&walk_key('C', &["a", "b"]), &walk_key('C', &["A"])));
        assert!(!is_at_or_below(&walk_key('C', &["a0"]), &walk_key('C', &["a"])));
    }
}
