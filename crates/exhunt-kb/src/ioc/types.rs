//! The IOC packs as data: kinds, entries with their provenance, packs, and the set of all loaded packs.

use exhunt_model::net::IpNet;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// The kind of an indicator; also the name of its array of tables in a pack (`[[file_name]]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IocKind {
    /// A file path, possibly with wildcards (`C:\inetpub\wwwroot\aspnet_client\system_web\*.aspx`).
    Path,
    /// A bare file name (`supp0rt.aspx`), wherever the file is.
    FileName,
    /// An MD5, SHA-1 or SHA-256 of a file.
    Hash,
    /// An IPv4 or IPv6 address or network.
    Ip,
    /// An HTTP User-Agent, as IIS logs it.
    UserAgent,
    /// A DNS name (command and control).
    Domain,
}

impl IocKind {
    pub const ALL: [IocKind; 6] =
        [IocKind::Path, IocKind::FileName, IocKind::Hash, IocKind::Ip, IocKind::UserAgent, IocKind::Domain];

    /// The table name in a pack, and the name in output.
    pub fn as_str(self) -> &'static str {
        match self {
            IocKind::Path => "path",
            IocKind::FileName => "file_name",
            IocKind::Hash => "hash",
            IocKind::Ip => "ip",
            IocKind::UserAgent => "user_agent",
            IocKind::Domain => "domain",
        }
    }

    pub(super) fn from_table(name: &str) -> Option<IocKind> {
        IocKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The keys an entry of this kind may have (for help texts).
    pub(super) fn keys(self) -> &'static str {
        match self {
            IocKind::Path => "value, location, except, source, published, first_seen, family, note",
            IocKind::Hash => "value, algo, name, source, published, first_seen, family, note",
            IocKind::UserAgent => "value, match, source, published, first_seen, family, note",
            IocKind::FileName | IocKind::Ip | IocKind::Domain => "value, source, published, first_seen, family, note",
        }
    }
}

impl fmt::Display for IocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The algorithm of a hash entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgo {
    Md5,
    Sha1,
    Sha256,
}

impl HashAlgo {
    /// Length of the hash in hex digits.
    pub fn hex_len(self) -> usize {
        match self {
            HashAlgo::Md5 => 32,
            HashAlgo::Sha1 => 40,
            HashAlgo::Sha256 => 64,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgo::Md5 => "md5",
            HashAlgo::Sha1 => "sha1",
            HashAlgo::Sha256 => "sha256",
        }
    }
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a user-agent entry is compared with a logged user agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UaMatch {
    /// The whole user agent, case-sensitive, after `+` and space are made equal.
    #[default]
    Exact,
    /// A fragment anywhere in the user agent, case-insensitive, after `+` and space are made equal. For sources
    /// that give fragments (or truncated strings) rather than whole user agents.
    Contains,
}

/// What an entry holds beyond the common fields, by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IocDetail {
    Path {
        /// The source names a place where web shells were dropped, not a known-bad file: a file that matches is a
        /// candidate to examine (for example against the Exchange baseline), not an indicator by itself.
        location: bool,
        /// File names (lower case) that the pattern does not cover (`TimeoutLogoff.aspx` in `ecp\auth`).
        except: Vec<String>,
    },
    FileName,
    Hash {
        algo: HashAlgo,
        /// The file name the source gives with the hash.
        file_name: Option<String>,
    },
    Ip(IpNet),
    UserAgent {
        mode: UaMatch,
    },
    Domain,
}

/// One indicator, with its provenance resolved (an entry without `source` or `published` has its pack's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IocEntry {
    /// The value as written in the pack; hashes and domains in lower case, networks in canonical form.
    pub value: String,
    pub detail: IocDetail,
    /// Where the value comes from: the entry's `source`, or the pack's.
    pub source: String,
    /// When the source published it (`YYYY-MM-DD`): the entry's `published`, or the pack's.
    pub published: String,
    /// When the source says it was first seen, when it says so.
    pub first_seen: Option<String>,
    /// Malware family or tool (`China Chopper`, `ShadowPad`).
    pub family: Option<String>,
    pub note: Option<String>,
    /// 1-based line of the entry's `value` in its pack file.
    pub line: usize,
}

impl IocEntry {
    pub fn kind(&self) -> IocKind {
        match self.detail {
            IocDetail::Path { .. } => IocKind::Path,
            IocDetail::FileName => IocKind::FileName,
            IocDetail::Hash { .. } => IocKind::Hash,
            IocDetail::Ip(_) => IocKind::Ip,
            IocDetail::UserAgent { .. } => IocKind::UserAgent,
            IocDetail::Domain => IocKind::Domain,
        }
    }

    /// The date to show: first seen when known, otherwise published.
    pub fn date(&self) -> &str {
        self.first_seen.as_deref().unwrap_or(&self.published)
    }
}

/// One pack: a header and its entries, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IocPack {
    /// Equal to the file name without `.toml`.
    pub id: String,
    pub title: String,
    /// URL or citation of the publication the pack transcribes.
    pub source: String,
    /// Further URLs: where the values were read from, mirrors, the report the source quotes.
    pub references: Vec<String>,
    /// When the source was published (`YYYY-MM-DD`).
    pub published: String,
    /// When the source was last updated, if it was.
    pub updated: Option<String>,
    /// Licence or terms of the source (TLP, licence of the repository).
    pub license: String,
    pub description: String,
    /// Path relative to the kb root (`ioc/mstic-exchange-2021-03.toml`).
    pub file: String,
    /// Path as shown in diagnostics.
    pub display: String,
    pub entries: Vec<IocEntry>,
}

impl IocPack {
    /// Number of entries of one kind.
    pub fn count(&self, kind: IocKind) -> usize {
        self.entries.iter().filter(|e| e.kind() == kind).count()
    }
}

/// An entry together with its pack: what [`IocSet::entries`] yields and every match (`exhunt_detect::ioc`) returns.
#[derive(Clone, Copy, Debug)]
pub struct IocHit<'a> {
    pub pack: &'a IocPack,
    pub entry: &'a IocEntry,
}

impl<'a> IocHit<'a> {
    pub fn pack_id(&self) -> &'a str {
        &self.pack.id
    }

    pub fn kind(&self) -> IocKind {
        self.entry.kind()
    }

    pub fn value(&self) -> &'a str {
        &self.entry.value
    }

    pub fn source(&self) -> &'a str {
        &self.entry.source
    }

    /// First seen when known, otherwise published.
    pub fn date(&self) -> &'a str {
        self.entry.date()
    }

    pub fn note(&self) -> Option<&'a str> {
        self.entry.note.as_deref()
    }

    pub fn family(&self) -> Option<&'a str> {
        self.entry.family.as_deref()
    }

    /// True for a path entry that names a drop location rather than a known-bad file.
    pub fn is_location(&self) -> bool {
        matches!(self.entry.detail, IocDetail::Path { location: true, .. })
    }

    /// `kb/ioc/<pack>.toml:<line>`, for a finding's evidence.
    pub fn cite(&self) -> String {
        format!("kb/{}:{}", self.pack.file, self.entry.line)
    }
}

/// All loaded packs, in file order. Matching them is detection: `exhunt_detect::ioc::IocIndex` indexes a set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IocSet {
    packs: Vec<IocPack>,
}

impl IocSet {
    pub fn new(packs: Vec<IocPack>) -> IocSet {
        IocSet { packs }
    }

    /// The packs, in file order.
    pub fn packs(&self) -> &[IocPack] {
        &self.packs
    }

    /// The pack with this id.
    pub fn pack(&self, id: &str) -> Option<&IocPack> {
        self.packs.iter().find(|p| p.id == id)
    }

    /// Every entry of every pack, pack by pack in file order.
    pub fn entries(&self) -> impl Iterator<Item = IocHit<'_>> + '_ {
        self.packs.iter().flat_map(|pack| pack.entries.iter().map(move |entry| IocHit { pack, entry }))
    }

    /// Number of entries in all packs.
    pub fn len(&self) -> usize {
        self.packs.iter().map(|p| p.entries.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `+` and space are the same in a user agent (IIS logs spaces as `+`): both become a space; ends are trimmed.
pub fn normalize_user_agent(ua: &str) -> Cow<'_, str> {
    let t = ua.trim_matches(|c: char| c == ' ' || c == '+' || c == '\t');
    if t.contains('+') { Cow::Owned(t.replace('+', " ")) } else { Cow::Borrowed(t) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_normalization() {
        assert_eq!(normalize_user_agent("antSword/v2.1"), "antSword/v2.1");
        assert_eq!(
            normalize_user_agent("Mozilla/5.0+(compatible;+Bingbot/2.0)"),
            normalize_user_agent("Mozilla/5.0 (compatible; Bingbot/2.0)")
        );
    }
}
