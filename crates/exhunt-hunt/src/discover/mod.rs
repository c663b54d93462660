//! Finding Exchange and IIS on the evidence: where Exchange is installed and which build, which IIS sites and
//! virtual directories serve which folders, and where the logs are.
//!
//! * Install path and build: the SOFTWARE hive (`<system drive>:\Windows\System32\config\SOFTWARE`, key
//!   `Microsoft\ExchangeServer\v15\Setup`, values `MsiInstallPath`, `MsiProductMajor`, `MsiProductMinor`,
//!   `MsiBuildMajor`, `MsiBuildMinor`; `v14` for Exchange 2010) when the evidence has it. A hive that cannot be read
//!   is a warning (`H008`), not an error. Else the usual paths (`<drive>:\Program Files\Microsoft\Exchange
//!   Server\V15`, then `V14`) on every drive. Else the folder holding a `Logging\HttpProxy` folder.
//! * IIS: `<system drive>:\Windows\System32\inetsrv\config\applicationHost.config` ([`apphost`]): sites, bindings,
//!   applications and virtual directories with their physical paths (`%SystemDrive%`, `%windir%`,
//!   `%ExchangeInstallPath%` expanded), and each site's log folder.
//! * No log folder with files: every file of the evidence is recognised by its first lines ([`sniff_kind`]), so a
//!   plain folder of logs can be hunted.
//! * Event logs ([`Layout::event_files`]): `.evtx` files anywhere in the evidence, recognised by their magic bytes
//!   (`ElfFile\0`) whatever their name, and JSON exports of events (`.json`, `.jsonl`, `.ndjson`, optionally
//!   `.gz`) whose first non-empty line is an object with an event id ([`sniff_event_json`]).
//! * The system drive is the first drive (in letter order) holding a `Windows` folder, else `C`.

pub mod apphost;
pub mod hive;

use crate::error::HuntError;
use crate::evidence::EvidenceSource;
use crate::readers::events::{EventFile, EventFormat};
use crate::readers::{LogFile, LogKind};
use apphost::{Env, IisConfig};
use exhunt_model::winpath;
use exhunt_model::{Build, ErrorRecord};
use std::collections::HashSet;
use std::io::Read;

/// Largest hive read (a SOFTWARE hive of an Exchange server is some 100 MiB).
pub const MAX_HIVE_BYTES: u64 = 1 << 30;
/// The HttpProxy fallback search looks at this many files at most.
pub const MAX_FALLBACK_FILES: usize = 2_000_000;

/// How Exchange's install path was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundBy {
    /// `MsiInstallPath` in the SOFTWARE hive.
    Registry,
    /// One of the usual install folders exists.
    KnownPath,
    /// The folder above a `Logging\HttpProxy` folder.
    LogFolder,
}

impl FoundBy {
    pub fn as_str(&self) -> &'static str {
        match self {
            FoundBy::Registry => "registry",
            FoundBy::KnownPath => "known-path",
            FoundBy::LogFolder => "log-folder",
        }
    }
}

/// Where Exchange is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeInstall {
    /// Normalised, without a trailing `\`: `C:\Program Files\Microsoft\Exchange Server\V15`.
    pub path: String,
    pub found_by: FoundBy,
    /// The build from the hive, when it was read.
    pub build: Option<Build>,
    /// The hive's display path and the key read, when the registry was used.
    pub registry: Option<(String, String)>,
}

/// A folder of logs of one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFolder {
    pub kind: LogKind,
    /// Normalised Windows path.
    pub path: String,
    /// The IIS site id, for IIS log folders of a configured site.
    pub site: Option<u32>,
}

/// A virtual directory with its resolved physical path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VdirPath {
    pub site: String,
    pub site_id: u32,
    /// URL path: `/owa`, `/aspnet_client`, `/Exchange`.
    pub url: String,
    /// Normalised Windows path.
    pub physical_path: String,
}

/// What discovery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub system_drive: char,
    pub exchange: Option<ExchangeInstall>,
    /// The IIS configuration as written, and the display path it was read from.
    pub iis: Option<(IisConfig, String)>,
    /// Every virtual directory, resolved.
    pub vdirs: Vec<VdirPath>,
    /// Folders to sweep for web shells: every physical path of a virtual directory, Exchange's FrontEnd and
    /// ClientAccess web roots, the default web root; none inside another (sweeps are recursive). Sorted.
    pub web_roots: Vec<String>,
    /// Log folders, by kind then path.
    pub log_folders: Vec<LogFolder>,
    /// `<system drive>:\Windows\System32\winevt\Logs`, when the evidence has it.
    pub event_logs: Option<String>,
}

/// Discovery's result: the layout and the warnings met (unreadable hive, unexpandable variables, …).
#[derive(Clone, Debug)]
pub struct Discovery {
    pub layout: Layout,
    pub warnings: Vec<ErrorRecord>,
}

/// Finds Exchange and IIS on the evidence (see the module documentation).
pub fn discover(source: &dyn EvidenceSource) -> Discovery {
    let mut warnings = Vec::new();
    let mut letters: Vec<char> = source.drives().iter().map(|d| d.letter).collect();
    letters.sort_unstable();
    letters.dedup();
    let system_drive = letters.iter().copied().find(|l| source.is_dir(&format!("{l}:\\Windows"))).unwrap_or('C');

    let exchange = from_registry(source, system_drive, &mut warnings)
        .or_else(|| from_known_paths(source, &letters))
        .or_else(|| from_log_folder(source, &letters));

    let env = Env { system_drive, exchange_install: exchange.as_ref().map(|x| x.path.clone()) };
    let config_path = format!("{system_drive}:\\Windows\\System32\\inetsrv\\config\\applicationHost.config");
    let iis = source.find(&config_path).and_then(|f| {
        let parsed = source.open(&f).and_then(|r| apphost::parse(&f.display, r));
        match parsed {
            Ok(cfg) => Some((cfg, f.display)),
            Err(e) => {
                warnings.push(e.to_record());
                None
            }
        }
    });

    let mut expand = |raw: &str, what: &str, path: &str| {
        let (p, unknown) = env.expand(raw);
        for name in unknown {
            warnings.push(ErrorRecord {
                code: Some("H007".into()),
                message: format!(
                    "{what} `{raw}` uses `%{name}%`, which exhunt cannot resolve offline; that folder is not searched"
                ),
                path: Some(path.to_string()),
                locator: None,
            });
        }
        p
    };

    let mut vdirs = Vec::new();
    let mut log_folders = Vec::new();
    let mut roots = Vec::new();
    if let Some((cfg, shown)) = &iis {
        for site in &cfg.sites {
            for app in &site.applications {
                for vd in &app.virtual_directories {
                    let physical_path = expand(&vd.physical_path, "the physical path", shown);
                    vdirs.push(VdirPath {
                        site: site.name.clone(),
                        site_id: site.id,
                        url: apphost::Site::url_path(app, vd),
                        physical_path,
                    });
                }
            }
            let folder = expand(&site.log_folder(cfg), "the log folder", shown);
            log_folders.push(LogFolder { kind: LogKind::Iis, path: folder, site: Some(site.id) });
        }
    }
    let default_logs = format!("{system_drive}:\\inetpub\\logs\\LogFiles");
    if iis.is_none() || source.is_dir(&default_logs) {
        // Without a configuration, and for logs written before a change of log folder.
        log_folders.push(LogFolder { kind: LogKind::Iis, path: default_logs, site: None });
    }
    roots.extend(vdirs.iter().filter(|v| !v.physical_path.contains('%')).map(|v| v.physical_path.clone()));
    roots.push(format!("{system_drive}:\\inetpub\\wwwroot"));
    if let Some(x) = &exchange {
        roots.push(format!("{}\\FrontEnd\\HttpProxy", x.path));
        roots.push(format!("{}\\ClientAccess", x.path));
        for (kind, rel) in [
            (LogKind::HttpProxy, "Logging\\HttpProxy"),
            (LogKind::EcpServer, "Logging\\ECP\\Server"),
            (LogKind::EcpActivity, "Logging\\ECP\\Activity"),
            (LogKind::OabGenerator, "Logging\\OABGeneratorLog"),
            (LogKind::CmdletInfra, "Logging\\CmdletInfra"),
        ] {
            log_folders.push(LogFolder { kind, path: winpath::join(&x.path, rel), site: None });
        }
    }
    let event_logs = Some(format!("{system_drive}:\\Windows\\System32\\winevt\\Logs")).filter(|p| source.is_dir(p));

    log_folders.retain(|f| !f.path.contains('%'));
    log_folders.sort_by_key(|f| (f.kind, winpath::key(&f.path)));
    log_folders.dedup_by(|b, a| a.kind == b.kind && winpath::key(&a.path) == winpath::key(&b.path));

    Discovery {
        layout: Layout { system_drive, exchange, iis, vdirs, web_roots: outermost(roots), log_folders, event_logs },
        warnings,
    }
}

/// Sorted, deduplicated, and without folders inside another of the list.
pub(crate) fn outermost(paths: Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = paths.into_iter().map(|p| winpath::normalize(&p)).collect();
    v.sort_by_cached_key(|p| winpath::key(p));
    let mut out: Vec<String> = Vec::new();
    for p in v {
        if !out.iter().any(|o| winpath::is_within(&p, o)) {
            out.push(p);
        }
    }
    out
}

fn read_capped(source: &dyn EvidenceSource, f: &crate::evidence::EvidenceFile) -> Result<Vec<u8>, HuntError> {
    let r = source.open(f)?;
    let mut bytes = Vec::new();
    r.take(MAX_HIVE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| HuntError::io(&f.display, e))?;
    if bytes.len() as u64 > MAX_HIVE_BYTES {
        return Err(HuntError::Hive {
            path: f.display.clone(),
            message: format!("the hive is larger than {MAX_HIVE_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

fn from_registry(source: &dyn EvidenceSource, sys: char, warnings: &mut Vec<ErrorRecord>) -> Option<ExchangeInstall> {
    let path = format!("{sys}:\\Windows\\System32\\config\\SOFTWARE");
    let f = source.find(&path)?;
    let hive = match read_capped(source, &f) {
        Ok(b) => b,
        Err(e) => {
            warnings.push(HuntError::Hive { path: f.display.clone(), message: e.to_string() }.to_record());
            return None;
        }
    };
    let logs: Vec<Vec<u8>> = ["SOFTWARE.LOG1", "SOFTWARE.LOG2"]
        .iter()
        .filter_map(|n| source.find(&format!("{sys}:\\Windows\\System32\\config\\{n}")))
        .filter_map(|lf| read_capped(source, &lf).ok())
        .filter(|b| !b.is_empty())
        .collect();
    match hive::read_setup(hive, logs) {
        Ok(Some(v)) => {
            let Some(p) = v.install_path.as_deref().filter(|p| !p.trim().is_empty()) else {
                warnings.push(
                    HuntError::Hive {
                        path: f.display.clone(),
                        message: format!("key `{}` has no `MsiInstallPath`", v.key),
                    }
                    .to_record(),
                );
                return None;
            };
            Some(ExchangeInstall {
                path: winpath::normalize(p),
                found_by: FoundBy::Registry,
                build: v.build,
                registry: Some((f.display.clone(), v.key)),
            })
        }
        Ok(None) => None,
        Err(message) => {
            warnings.push(HuntError::Hive { path: f.display.clone(), message }.to_record());
            None
        }
    }
}

fn from_known_paths(source: &dyn EvidenceSource, letters: &[char]) -> Option<ExchangeInstall> {
    for version in ["V15", "V14"] {
        for l in letters {
            let p = format!("{l}:\\Program Files\\Microsoft\\Exchange Server\\{version}");
            if source.is_dir(&p) {
                return Some(ExchangeInstall { path: p, found_by: FoundBy::KnownPath, build: None, registry: None });
            }
        }
    }
    None
}

fn from_log_folder(source: &dyn EvidenceSource, letters: &[char]) -> Option<ExchangeInstall> {
    for l in letters {
        let mut seen = 0usize;
        for item in source.walk(&format!("{l}:\\")) {
            seen += 1;
            if seen > MAX_FALLBACK_FILES {
                break;
            }
            let Ok(f) = item else { continue };
            let k = winpath::key(&f.windows_path);
            if let Some(i) = k.find("\\logging\\httpproxy\\") {
                let path = f.windows_path[..i].to_string();
                return Some(ExchangeInstall { path, found_by: FoundBy::LogFolder, build: None, registry: None });
            }
        }
    }
    None
}

impl Layout {
    /// The log files of every log folder, each with the kind of its folder (a file is listed once, under the first
    /// folder that holds it). Unreadable folders come back as error records.
    pub fn log_files(&self, source: &dyn EvidenceSource) -> (Vec<LogFile>, Vec<ErrorRecord>) {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        let mut seen = HashSet::new();
        for folder in &self.log_folders {
            for item in source.walk(&folder.path) {
                match item {
                    Ok(file) => {
                        if seen.insert(winpath::key(&file.windows_path)) {
                            files.push(LogFile { file, kind: folder.kind });
                        }
                    }
                    Err(e) => errors.push(e.to_record()),
                }
            }
        }
        if files.is_empty() {
            // No log where Exchange and IIS keep them: the evidence may be a plain folder of logs (what an IR firm
            // often receives). Recognise log files by their first lines.
            files = sniff_logs(source, &mut errors);
        }
        (files, errors)
    }
}

/// At most this many files are opened to recognise loose logs by content.
const MAX_SNIFFED: usize = 100_000;

/// The kind of log a file's first bytes show, if any.
pub fn sniff_kind(head: &[u8]) -> Option<LogKind> {
    let text = String::from_utf8_lossy(head);
    let has = |s: &str| text.lines().take(8).any(|l| l.starts_with(s));
    if has("#Software: Microsoft Internet Information Services") || has("#Fields: date time") {
        return Some(LogKind::Iis);
    }
    if has("#Fields: DateTime,RequestId,MajorVersion") || text.starts_with("DateTime,RequestId,MajorVersion") {
        return Some(LogKind::HttpProxy);
    }
    if has("#Fields: TimeStamp,ServerName,EventId,EventData")
        || text.starts_with("TimeStamp,ServerName,EventId,EventData")
    {
        return Some(LogKind::EcpServer);
    }
    if text.contains("OABGenerator") && has("#Fields:") {
        return Some(LogKind::OabGenerator);
    }
    None
}

/// The first `max` files of a source, in walk order; what cannot be listed goes to `errors`.
fn walk<'a>(
    source: &'a dyn EvidenceSource,
    max: usize,
    errors: &'a mut Vec<ErrorRecord>,
) -> impl Iterator<Item = crate::evidence::EvidenceFile> + 'a {
    source.files().take(max).filter_map(move |item| match item {
        Ok(f) => Some(f),
        Err(e) => {
            errors.push(e.to_record());
            None
        }
    })
}

fn sniff_logs(source: &dyn EvidenceSource, errors: &mut Vec<ErrorRecord>) -> Vec<LogFile> {
    use std::io::Read;
    let mut out = Vec::new();
    for f in walk(source, MAX_SNIFFED, errors) {
        if f.size == 0 {
            continue;
        }
        let Ok(r) = source.open(&f) else { continue };
        let mut head = Vec::with_capacity(1024);
        let mut r: Box<dyn Read> = r;
        let mut magic = [0u8; 2];
        if r.read_exact(&mut magic).is_err() {
            continue;
        }
        let joined = std::io::Cursor::new(magic.to_vec()).chain(r);
        let mut reader: Box<dyn Read> =
            if magic == [0x1f, 0x8b] { Box::new(flate2::read::MultiGzDecoder::new(joined)) } else { Box::new(joined) };
        if (&mut reader).take(1024).read_to_end(&mut head).is_err() {
            continue;
        }
        if let Some(kind) = sniff_kind(&head) {
            out.push(LogFile { file: f, kind });
        }
    }
    out
}

/// At most this many files are looked at for event logs.
pub const MAX_EVENT_CANDIDATES: usize = 2_000_000;
/// Bytes of a JSON export read to find its first line.
const EVENT_JSON_HEAD: u64 = 64 * 1024;

impl Layout {
    /// Event logs anywhere in the evidence (`Windows\System32\winevt\Logs` and loose files): every file that starts
    /// with `ElfFile\0` or is named `*.evtx` (a damaged one is listed, so that its reader reports it), and every
    /// `.json`/`.jsonl`/`.ndjson` file (plain or `.gz`) whose first non-empty line is a JSON object with an event
    /// id. Files are in walk order; unreadable folders come back as error records.
    pub fn event_files(&self, source: &dyn EvidenceSource) -> (Vec<EventFile>, Vec<ErrorRecord>) {
        let mut errors = Vec::new();
        let files = walk(source, MAX_EVENT_CANDIDATES, &mut errors)
            .filter_map(|f| event_format(source, &f).map(|format| EventFile { file: f, format }))
            .collect();
        (files, errors)
    }
}

fn event_format(source: &dyn EvidenceSource, f: &crate::evidence::EvidenceFile) -> Option<EventFormat> {
    let name = f.file_name().to_ascii_lowercase();
    let base = name.strip_suffix(".gz").unwrap_or(&name);
    let json_name = [".json", ".jsonl", ".ndjson"].iter().any(|x| base.ends_with(x));
    if name.ends_with(".evtx") {
        return Some(EventFormat::Evtx);
    }
    // The smallest `.evtx` is its 4 KiB header; smaller files are not opened unless their name says JSON.
    if f.size < 4096 && !json_name {
        return None;
    }
    let mut r = source.open(f).ok()?;
    let mut magic = [0u8; 8];
    let n = crate::evidence::read_up_to(&mut r, &mut magic).ok()?;
    if n == 8 && &magic == crate::readers::events::evtx::MAGIC {
        return Some(EventFormat::Evtx);
    }
    if !json_name {
        return None;
    }
    let joined = std::io::Cursor::new(magic[..n].to_vec()).chain(r);
    let reader: Box<dyn Read> = if magic[..n].starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(joined))
    } else {
        Box::new(joined)
    };
    let mut head = Vec::new();
    // A decompression error after some bytes still leaves a head to look at.
    let _ = reader.take(EVENT_JSON_HEAD).read_to_end(&mut head);
    sniff_event_json(&head).then_some(EventFormat::Json)
}

/// True when the first non-empty line of `head` is a JSON object with an event id (`EventID`, `winlog.event_id` or
/// `Event.System.EventID`). A first line longer than `head` is not recognised.
pub fn sniff_event_json(head: &[u8]) -> bool {
    let Some(line) = head.split(|b| *b == b'\n').map(|l| l.trim_ascii()).find(|l| !l.is_empty()) else {
        return false;
    };
    let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
    if !line.starts_with(b"{") {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else { return false };
    v.get("EventID").is_some()
        || v.get("EventId").is_some()
        || v.get("winlog").and_then(|w| w.get("event_id")).is_some()
        || v.get("Event").and_then(|e| e.get("System")).and_then(|s| s.get("EventID")).is_some()
}
