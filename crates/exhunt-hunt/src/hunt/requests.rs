//! The web-log requests that the log pass keeps for the correlation with web shells: the web logs are read once, and
//! the requests to every shell are found again in what was kept ([`KeptRequests`]), so the story can be replayed
//! from it.
//!
//! # Which requests are kept
//!
//! Which files are web shells is known only after the file sweep, and the sweep cannot run before the log pass: the
//! baseline it compares against is the newest build, which the HttpProxy log's version columns give. The paths an
//! exploit wrote come from findings of that same log pass (ECP, OAB generator, and the web logs themselves) and of
//! the event logs read after it. So the choice cannot wait for the shells, and reordering the phases would not make
//! it wait either. The correlation matches a request to a shell by its URL (the file's URL through the IIS virtual
//! directories) or, for a file that no site serves, by the last segment of the URL alone — whatever the name, with a
//! script extension or not. The criterion that covers every such match without knowing the names is about the
//! request only: every request of an IIS or HttpProxy log is kept, except
//!
//! 1. a URL that is empty or ends in `/` (a folder: no file's URL or name can match it), which loses nothing;
//! 2. Exchange's protocol handlers and services, which carry most of a server's traffic and are no file a site
//!    serves ([`EXCHANGE_ENDPOINTS`]: ActiveSync, MAPI, RPC, Autodiscover, PowerShell, OWA's `*.owa` handlers);
//! 3. Exchange's versioned static resources: a file with a static extension ([`STATIC_EXTENSIONS`]) below a build
//!    folder (`/owa/auth/15.1.2176/…`, `/owa/prem/15.2.986.5/…`, `/owa/auth/Current/…`, `/ecp/15.1.2176/…`) or an
//!    offline address book download (`/OAB/<guid>/…` with `.lzx` or `.xml`).
//!
//! A shell that sits at one of the URLs of 2. or 3., or a shell no site serves whose name such a URL could end in,
//! is the one case this cannot replay: the correlation says so with an `error` record (`H041`) rather than report
//! fewer requests in silence. Exchange's own pages that are files (`/owa/auth/logon.aspx`, `/EWS/Exchange.asmx`) are
//! kept like any other request: a changed logon page is a known way in, and the cap below bounds them.
//!
//! # Bounds
//!
//! At most [`Limits::per_url`] requests are kept per URL (the first ones, in the order the files are read: by
//! display path, then line) and [`Limits::per_host`] per host. A cap that dropped requests a shell may have had
//! becomes an `error` record (`H040`) in the correlation; caps hit by URLs no shell has change nothing and say
//! nothing.

use super::logs::field_names;
use crate::readers::{LogKind, Record};
use exhunt_detect::Fields;
use exhunt_model::{Evidence, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Exchange's protocol handlers and services (lower case, compared without case): no file of a site, and most of a
/// server's requests. Requests to them are not kept.
pub(crate) const EXCHANGE_ENDPOINTS: &[&str] = &[
    "/owa/auth.owa",
    "/owa/ev.owa2",
    "/owa/logoff.owa",
    "/owa/service.svc",
    "/owa/service.svc/s/getfileattachment",
    "/ecp/ddi/ddiservice.svc/getobject",
    "/ecp/ddi/ddiservice.svc/getlist",
    "/microsoft-server-activesync",
    "/microsoft-server-activesync/default.eas",
    "/mapi/emsmdb",
    "/mapi/nspi",
    "/rpc/rpcproxy.dll",
    "/autodiscover/autodiscover.xml",
    "/autodiscover/autodiscover.json",
    "/autodiscover/autodiscover.svc",
    "/powershell",
];

/// Extensions of the static files below Exchange's build folders (IIS serves them, never runs them).
pub(crate) const STATIC_EXTENSIONS: &[&str] = &[
    "css", "js", "png", "gif", "jpg", "jpeg", "svg", "ico", "ttf", "woff", "woff2", "eot", "htm", "html", "json",
    "map", "mp3", "wav", "xap", "manifest", "lzx", "xml",
];

/// How many requests are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Per URL (lower-cased), per host.
    pub per_url: usize,
    /// Per host, every URL together.
    pub per_host: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { per_url: 1_000, per_host: 100_000 }
    }
}

/// One web-log request kept for the correlation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    /// Lower-cased URL path (`/aspnet_client/shell.aspx`).
    pub url: String,
    pub line: u64,
    pub time: Option<Timestamp>,
    pub evidence: Evidence,
    pub ip: String,
    pub ua: String,
    pub status: String,
    pub method: String,
}

impl Request {
    /// The request succeeded (`2xx`).
    pub fn ok(&self) -> bool {
        self.status.starts_with('2')
    }

    /// The URL's last segment (the file name it asks for).
    pub fn name(&self) -> &str {
        self.url.rsplit('/').next().unwrap_or("")
    }
}

/// Requests a cap dropped: how many, and the first one's place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub count: u64,
    pub path: String,
    pub line: u64,
}

impl Dropped {
    fn add(slot: &mut Option<Dropped>, path: &str, line: u64, count: u64) {
        match slot {
            Some(d) => d.count += count,
            None => *slot = Some(Dropped { count, path: path.to_string(), line }),
        }
    }
}

/// The requests one log file gave, as its sink reads them. Bounded: at most `per_url` per URL, and the host's
/// `per_host` shared by every file read at the same time (`held`).
pub(crate) struct FileRequests<'a> {
    kind: LogKind,
    limits: Limits,
    held: &'a AtomicUsize,
    requests: Vec<Request>,
    per_url: HashMap<String, usize>,
    dropped_url: BTreeMap<String, Dropped>,
    dropped_host: Option<Dropped>,
}

impl<'a> FileRequests<'a> {
    /// For a file of `kind`; `None` for logs that are not web logs (IIS, HttpProxy).
    pub fn new(kind: LogKind, limits: Limits, held: &'a AtomicUsize) -> Option<FileRequests<'a>> {
        matches!(kind, LogKind::Iis | LogKind::HttpProxy).then(|| FileRequests {
            kind,
            limits,
            held,
            requests: Vec::new(),
            per_url: HashMap::new(),
            dropped_url: BTreeMap::new(),
            dropped_host: None,
        })
    }

    /// Keeps the record if it could be a request to a web shell (see the module documentation).
    pub fn see(&mut self, r: &Record<'_>) {
        let Some(n) = field_names(self.kind) else { return };
        let url = r.get(n.url).unwrap_or("");
        if !may_be_a_file(url) {
            return;
        }
        let url = url.to_lowercase();
        let at_url = self.per_url.get(&url).copied().unwrap_or(0);
        if at_url >= self.limits.per_url {
            let d =
                self.dropped_url.entry(url).or_insert_with(|| Dropped { count: 0, path: r.file.into(), line: r.line });
            d.count += 1;
            return;
        }
        let cap = self.limits.per_host;
        if self.held.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| (h < cap).then_some(h + 1)).is_err() {
            Dropped::add(&mut self.dropped_host, r.file, r.line, 1);
            return;
        }
        self.per_url.insert(url.clone(), at_url + 1);
        self.requests.push(Request {
            url,
            line: r.line,
            time: r.time,
            evidence: r.evidence(),
            ip: r.get(n.ip).unwrap_or("").to_string(),
            ua: r.get(n.ua).unwrap_or("").to_string(),
            status: r.get(n.status).unwrap_or("").to_string(),
            method: r.get(n.method).unwrap_or("").to_string(),
        });
    }
}

/// The requests kept on one host, in the order the files were read (by display path, then line), with what the caps
/// dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeptRequests {
    pub requests: Vec<Request>,
    /// The caps they were kept under.
    pub limits: Limits,
    /// Web-log files read (IIS and HttpProxy).
    pub files: usize,
    /// URLs that reached the per-URL cap, with the requests to them that were not kept.
    pub dropped_url: BTreeMap<String, Dropped>,
    /// Requests not kept because the host's cap was reached.
    pub dropped_host: Option<Dropped>,
}

impl KeptRequests {
    /// Joins the files' requests, given in the order the files were read, applying the per-URL cap across files.
    pub fn join<'a>(files: impl IntoIterator<Item = FileRequests<'a>>, limits: Limits) -> KeptRequests {
        let mut out = KeptRequests { limits, ..KeptRequests::default() };
        let mut per_url: HashMap<String, usize> = HashMap::new();
        for f in files {
            out.files += 1;
            for r in f.requests {
                let n = per_url.entry(r.url.clone()).or_default();
                if *n >= limits.per_url {
                    let d = out.dropped_url.entry(r.url).or_insert_with(|| Dropped {
                        count: 0,
                        path: r.evidence.path.clone(),
                        line: r.line,
                    });
                    d.count += 1;
                    continue;
                }
                *n += 1;
                out.requests.push(r);
            }
            for (url, d) in f.dropped_url {
                match out.dropped_url.get_mut(&url) {
                    Some(e) => e.count += d.count,
                    None => {
                        out.dropped_url.insert(url, d);
                    }
                }
            }
            if let Some(d) = f.dropped_host {
                Dropped::add(&mut out.dropped_host, &d.path, d.line, d.count);
            }
        }
        out
    }
}

/// The request could be to a file the sweep finds: its URL is not a folder, one of Exchange's endpoints, or one of
/// Exchange's versioned static resources (see the module documentation). Compares without case and without
/// allocating: it runs on every web-log record.
pub(crate) fn may_be_a_file(url: &str) -> bool {
    if url.is_empty() || url.ends_with('/') {
        return false;
    }
    if EXCHANGE_ENDPOINTS.iter().any(|e| e.eq_ignore_ascii_case(url)) {
        return false;
    }
    !is_static_resource(url)
}

/// `/owa|ecp/…/<build or Current>/…/<name>.<static ext>`, or `/oab/<guid>/<name>.lzx|xml`.
fn is_static_resource(url: &str) -> bool {
    let ext = url.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if ext.contains('/') || !STATIC_EXTENSIONS.iter().any(|s| s.eq_ignore_ascii_case(ext)) {
        return false;
    }
    let mut segs = url.trim_start_matches('/').split('/');
    let first = segs.next().unwrap_or("");
    let middle: Vec<&str> = segs.collect();
    let middle = &middle[..middle.len().saturating_sub(1)];
    if first.eq_ignore_ascii_case("oab") {
        let guid =
            middle.first().is_some_and(|g| g.len() == 36 && g.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
        return middle.len() == 1 && guid && (ext.eq_ignore_ascii_case("lzx") || ext.eq_ignore_ascii_case("xml"));
    }
    let versioned = |s: &&str| {
        s.eq_ignore_ascii_case("current")
            || (s.split('.').count() >= 3
                && s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    };
    (first.eq_ignore_ascii_case("owa") || first.eq_ignore_ascii_case("ecp")) && middle.iter().any(versioned)
}

/// A request the log pass did not keep could have been to this shell: its URL is one that is not kept, or (a file no
/// site serves, matched by name) a URL that is not kept could end in its name.
pub(crate) fn unkept_could_match(url: Option<&str>, name: &str) -> bool {
    match url {
        Some(u) => !may_be_a_file(u),
        None => {
            let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
            EXCHANGE_ENDPOINTS.iter().any(|e| e.rsplit('/').next().is_some_and(|last| last.eq_ignore_ascii_case(name)))
                || (!ext.is_empty() && STATIC_EXTENSIONS.iter().any(|s| s.eq_ignore_ascii_case(ext)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_endpoints_and_static_resources_are_not_kept() {
        for url in [
            "",
            "/",
            "/owa/",
            "/mapi/emsmdb/",
            "/Microsoft-Server-ActiveSync/default.eas",
            "/EWS/../rpc/RpcProxy.dll/",
            "/rpc/rpcproxy.dll",
            "/Autodiscover/Autodiscover.xml",
            "/owa/auth/15.1.2176/themes/resources/logon.css",
            "/owa/auth/Current/scripts/premium/flogon.js",
            "/owa/prem/15.2.986.5/scripts/boot.worldwide.0.mouse.js",
            "/OAB/8f1b8a49-1c4a-4f1e-9a5a-0a0b0c0d0e0f/oab.xml",
        ] {
            assert!(!may_be_a_file(url), "{url}");
        }
        for url in [
            "/aspnet_client/discover.aspx",
            "/owa/auth/errorEE.aspx",
            "/owa/auth/logon.aspx",
            "/EWS/Exchange.asmx",
            "/owa/auth/x.js",
            "/ecp/y.js",
            "/owa/auth/15.1.2176/shell.aspx",
            "/owa/auth/15.1.2176/noextension",
            "/OAB/8f1b8a49-1c4a-4f1e-9a5a-0a0b0c0d0e0f/x.aspx",
            "/OAB/x.xml",
            "/wp-login.php",
            "/shell",
        ] {
            assert!(may_be_a_file(url), "{url}");
        }
    }

    #[test]
    fn shells_that_unkept_requests_could_match() {
        assert!(!unkept_could_match(Some("/aspnet_client/a.aspx"), "a.aspx"));
        assert!(unkept_could_match(Some("/owa/auth/current/evil.js"), "evil.js"));
        assert!(!unkept_could_match(None, "shell"));
        assert!(!unkept_could_match(None, "a.aspx"));
        assert!(unkept_could_match(None, "RpcProxy.dll"));
        assert!(unkept_could_match(None, "x.js"));
    }
}
