//! The operator's contacts: who to tell about a network, an AS, a domain or an organisation, from a CSV or TOML
//! file the operator writes (`exhunt campaign contacts import --db DB FILE`). They override every other source of
//! contacts. The format is in `docs/campaign.md` ("Contacts"); in short:
//!
//! ```text
//! match,email,name,language,country
//! 192.0.2.0/24,it@cu.example,Example Credit Union,en,US
//! AS64500,abuse@isp.example,Example ISP,de,DE
//! town.example,helpdesk@town.example,Town of Example,pt-BR,BR
//! org:Example Hosting Ltd,noc@hosting.example,,,
//! ```
//!
//! ```toml
//! [[contact]]
//! match = "192.0.2.0/24"
//! email = "it@cu.example"
//! name = "Example Credit Union"
//! language = "en"
//! country = "US"
//! ```
//!
//! A file with any error imports nothing, and every error is reported with its line. [`Contacts::find`] answers
//! which contacts hold for an address, most precise first: the most specific network, then the most specific
//! domain, then the AS, then the organisation.
//!
//! Nothing here reads a file: the caller passes the bytes and the import time.

use crate::error::{ContactError, ContactProblem, quote};
use exhunt_model::net::{IpNet, NetError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

/// Longest `match` (bytes).
pub const MAX_MATCH_LEN: usize = 255;
/// Longest `email` (bytes): RFC 5321's limit on a path.
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest `name` (bytes).
pub const MAX_NAME_LEN: usize = 256;
/// Longest `language` (bytes).
pub const MAX_LANGUAGE_LEN: usize = 35;
/// At most this many errors are listed; the rest are counted in a last [`ContactProblem::More`].
pub const MAX_ERRORS: usize = 100;

/// Where a contact came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The operator's contacts file: overrides every other source.
    Operator,
    /// The RDAP `abuse` entity of the address's network.
    Rdap,
    /// The national CERT configured for the address's country, as the recipient of last resort.
    NationalCert,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Operator => "operator",
            Source::Rdap => "rdap",
            Source::NationalCert => "national-cert",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure exhunt is that a contact reaches the people who run the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// The operator said so.
    High,
    /// The registry's abuse contact for the network: it reaches the network's holder, maybe not the host's admin.
    Medium,
    /// A forwarder (a national CERT) that passes the report on.
    Low,
}

impl Confidence {
    pub fn as_str(&self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a `match` network with the model's one network type, in this file's words (operator text quoted).
fn parse_net(s: &str) -> Result<IpNet, String> {
    IpNet::parse(s).map_err(|e| match e {
        NetError::Address(a) => format!("`{}` is not an IPv4 or IPv6 address", quote(&a)),
        NetError::Prefix { prefix, max }
            if !prefix.is_empty() && prefix.len() <= 3 && prefix.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("has prefix length /{prefix}; it runs from 0 to {max}")
        }
        NetError::Prefix { prefix, max } => format!("has prefix length `/{}`; it runs from 0 to {max}", quote(&prefix)),
        NetError::HostBits { prefix, network, .. } => {
            format!("has host bits set under its /{prefix}; the network is `{}/{}`", network.first(), network.prefix())
        }
        other => other.to_string(),
    })
}

/// The network of `ip` at `prefix` (the index's lookup key).
fn network(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

/// What a contact is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Match {
    /// Addresses in a network (`192.0.2.0/24`, `2001:db8::/48`, one address).
    Net(IpNet),
    /// Addresses the AS announces (`AS64500`).
    Asn(u32),
    /// Hosts named the domain or under it (`example.org` covers `mail.example.org`), lower case.
    Domain(String),
    /// An organisation, by name (`org:Example Credit Union`), compared case-insensitively: `key` is
    /// [`name_key`] of `name`.
    Organisation { name: String, key: String },
}

impl Match {
    /// Parses a `match` field: `org:` and a name; `AS` and a number; an address or network; else a domain.
    pub fn parse(text: &str) -> Result<Match, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("is empty".into());
        }
        if t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("org:")) {
            let name = t[4..].trim();
            if name.is_empty() {
                return Err("names no organisation after `org:`".into());
            }
            return Ok(Match::Organisation { name: name.to_owned(), key: name_key(name) });
        }
        if t.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("as"))
            && t.len() > 2
            && t.bytes().skip(2).all(|b| b.is_ascii_digit())
        {
            return match t[2..].parse::<u32>() {
                Ok(0) => Err("is AS0, which is reserved and announces nothing".into()),
                Ok(n) => Ok(Match::Asn(n)),
                Err(_) => Err("is not an AS number from 1 to 4294967295".into()),
            };
        }
        if t.contains('/') || t.parse::<IpAddr>().is_ok() {
            return parse_net(t).map(Match::Net);
        }
        if t.contains(':') {
            return Err(
                "is not a network, `AS` number, domain or `org:` name; an organisation is written `org:NAME`".into()
            );
        }
        domain(t).map(Match::Domain)
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Match::Net(n) => write!(f, "{}/{}", n.first(), n.prefix()),
            Match::Asn(n) => write!(f, "AS{n}"),
            Match::Domain(d) => f.write_str(d),
            Match::Organisation { name, .. } => write!(f, "org:{name}"),
        }
    }
}

impl Serialize for Match {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Match {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Match, D::Error> {
        let text = String::deserialize(d)?;
        Match::parse(&text).map_err(|e| serde::de::Error::custom(format!("match `{}` {e}", quote(&text))))
    }
}

/// A lower-case host name of two or more labels, without a trailing dot.
fn domain(t: &str) -> Result<String, String> {
    if let Some(parent) = t.strip_prefix("*.") {
        return Err(format!("is a wildcard; write `{}`: a domain covers its subdomains", quote(parent)));
    }
    if !t.is_ascii() {
        return Err("is not ASCII; write the domain in its `xn--` form".into());
    }
    let d = t.strip_suffix('.').unwrap_or(t).to_ascii_lowercase();
    if !is_host_name(&d) {
        return Err(
            "is not a network, `AS` number, domain or `org:` name (a domain has two or more labels of letters, \
             digits and hyphens)"
                .into(),
        );
    }
    Ok(d)
}

/// Two or more dot-separated labels of 1 to 63 ASCII letters, digits and hyphens, no hyphen first or last, 253
/// bytes at most.
fn is_host_name(d: &str) -> bool {
    d.len() <= 253
        && d.split('.').count() >= 2
        && d.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The key organisation names are compared and grouped by: trimmed, lower case, runs of white space as one space.
/// Owner keys are this key, so that re-runs group the same.
pub fn name_key(name: &str) -> String {
    name.split_whitespace().map(|w| w.to_lowercase()).collect::<Vec<_>>().join(" ")
}

/// Why `email` is not an address exhunt sends to, or `None` when it is. A plain RFC 5322 addr-spec: one `@`, a
/// dot-atom local part (letters, digits, ``!#$%&'*+-/=?^_`{|}~``, non-ASCII letters; dots between) of at most 64
/// bytes, and a host-name domain in ASCII. No display names, angle brackets, quotes, commas or white space: the
/// address goes into a mail header as it is.
pub fn email_problem(email: &str) -> Option<&'static str> {
    if email.len() > MAX_EMAIL_LEN {
        return Some("is longer than 254 bytes");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("holds white space or a control character");
    }
    if email.contains(['<', '>']) {
        return Some("holds an angle bracket; give the bare address, such as `noc@example.org`");
    }
    let Some((local, host)) = email.split_once('@') else { return Some("has no `@`") };
    if host.contains('@') {
        return Some("has more than one `@`");
    }
    if local.is_empty() {
        return Some("has nothing before the `@`");
    }
    if host.is_empty() {
        return Some("has nothing after the `@`");
    }
    if local.len() > 64 {
        return Some("has more than 64 bytes before the `@`");
    }
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if !local.split('.').all(|part| !part.is_empty() && part.chars().all(atext)) {
        return Some("has a character or a dot placement before the `@` that a plain address cannot have");
    }
    if !host.is_ascii() {
        return Some("has a domain that is not ASCII; write it in its `xn--` form");
    }
    if !is_host_name(host.strip_suffix('.').unwrap_or(host)) {
        return Some("has a domain that is not a host name such as `example.org`");
    }
    None
}

/// The address with its domain in lower case (the local part is kept as written).
fn normal_email(email: &str) -> String {
    match email.split_once('@') {
        Some((l, h)) => format!("{l}@{}", h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase()),
        None => email.to_owned(),
    }
}

/// A BCP 47 language tag of the usual shape, normalised: a 2–3 letter language, then optionally a 4-letter script
/// and a 2-letter or 3-digit region (`en`, `de`, `pt-BR`, `zh-Hant-TW`, `es-419`).
fn language(t: &str) -> Option<String> {
    let mut parts = t.split('-');
    let lang = parts.next()?;
    if !(2..=3).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let mut out = lang.to_ascii_lowercase();
    let mut rest: Vec<&str> = parts.collect();
    if let Some(script) = rest.first()
        && script.len() == 4
        && script.bytes().all(|b| b.is_ascii_alphabetic())
    {
        out.push('-');
        out.push_str(&script[..1].to_ascii_uppercase());
        out.push_str(&script[1..].to_ascii_lowercase());
        rest.remove(0);
    }
    match rest.as_slice() {
        [] => Some(out),
        [region] if region.len() == 2 && region.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Some(format!("{out}-{}", region.to_ascii_uppercase()))
        }
        [region] if region.len() == 3 && region.bytes().all(|b| b.is_ascii_digit()) => Some(format!("{out}-{region}")),
        _ => None,
    }
}

/// One operator contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// What it is for.
    #[serde(rename = "match")]
    pub matcher: Match,
    /// The address, its domain in lower case.
    pub email: String,
    /// The organisation's name: the owner that hosts it match are grouped under.
    pub name: Option<String>,
    /// The language notifications to it are written in (`en`, `pt-BR`).
    pub language: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    /// Always [`Source::Operator`] for a contact of the file.
    pub source: Source,
    /// Always [`Confidence::High`] for a contact of the file.
    pub confidence: Confidence,
    /// Unix seconds: when the operator imported the file (given by the caller).
    pub imported: i64,
    /// The line of the file it came from.
    pub line: u64,
}

/// The format of a contacts file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Toml,
}

impl Format {
    /// By the file's extension (`.csv`, `.toml`); else TOML when the first line that is not blank or a `#`
    /// comment starts with `[`, CSV otherwise.
    pub fn guess(file_name: &str, bytes: &[u8]) -> Format {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            return Format::Csv;
        }
        if lower.ends_with(".toml") {
            return Format::Toml;
        }
        let first = bytes
            .split(|&b| b == b'\n')
            .map(|l| l.trim_ascii())
            .find(|l| !l.is_empty() && !l.starts_with(b"#"))
            .unwrap_or_default();
        if first.starts_with(b"[") { Format::Toml } else { Format::Csv }
    }
}

/// The operator's contacts, indexed for [`Contacts::find`].
#[derive(Clone, Debug, Default)]
pub struct Contacts {
    contacts: Vec<Contact>,
    nets: HashMap<(IpAddr, u8), Vec<usize>>,
    /// Prefix lengths in use, longest first: IPv4, IPv6.
    prefixes: (Vec<u8>, Vec<u8>),
    domains: HashMap<String, Vec<usize>>,
    asns: HashMap<u32, Vec<usize>>,
    orgs: HashMap<String, Vec<usize>>,
}

/// The fields of one row or entry as written, each with its line.
#[derive(Default)]
struct Raw<'a> {
    matcher: Option<(&'a str, u64)>,
    email: Option<(&'a str, u64)>,
    name: Option<(&'a str, u64)>,
    language: Option<(&'a str, u64)>,
    country: Option<(&'a str, u64)>,
    /// The line the entry is reported at (the CSV row; the TOML entry's `match`).
    line: u64,
}

/// Collects errors up to [`MAX_ERRORS`], then counts.
#[derive(Default)]
struct Errors {
    list: Vec<ContactError>,
    more: u64,
}

impl Errors {
    fn push(&mut self, line: u64, problem: ContactProblem) {
        if self.list.len() < MAX_ERRORS {
            self.list.push(ContactError { line, problem });
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Vec<ContactError> {
        if self.more > 0 {
            self.list.push(ContactError { line: 0, problem: ContactProblem::More { count: self.more } });
        }
        self.list
    }
}

/// The CSV columns, in the order the documentation gives them.
pub const COLUMNS: [&str; 5] = ["match", "email", "name", "language", "country"];

impl Contacts {
    /// Parses a contacts file. `imported` (Unix seconds) is stamped on every contact. Any error rejects the whole
    /// file; the errors come back in line order, at most [`MAX_ERRORS`] of them and a count of the rest.
    pub fn parse(bytes: &[u8], format: Format, imported: i64) -> Result<Contacts, Vec<ContactError>> {
        let mut errors = Errors::default();
        let mut contacts = Vec::new();
        let mut accept = |raw: Raw<'_>, errors: &mut Errors| {
            if let Some(c) = validate(&raw, imported, errors) {
                contacts.push(c);
            }
        };
        match format {
            Format::Csv => parse_csv(bytes, &mut errors, &mut accept),
            Format::Toml => parse_toml(bytes, &mut errors, &mut accept),
        }
        check_duplicates(&contacts, &mut errors);
        if !errors.list.is_empty() {
            let mut list = errors.finish();
            list.sort_by_key(|e| if e.line == 0 { u64::MAX } else { e.line });
            return Err(list);
        }
        Ok(Contacts::from_vec(contacts))
    }

    /// Contacts already validated (read back from the store), indexed.
    pub fn from_vec(contacts: Vec<Contact>) -> Contacts {
        let mut c = Contacts { contacts, ..Contacts::default() };
        for (i, contact) in c.contacts.iter().enumerate() {
            match &contact.matcher {
                Match::Net(n) => {
                    c.nets.entry((n.first(), n.prefix())).or_default().push(i);
                    let list = if n.is_ipv4() { &mut c.prefixes.0 } else { &mut c.prefixes.1 };
                    if !list.contains(&n.prefix()) {
                        list.push(n.prefix());
                    }
                }
                Match::Domain(d) => c.domains.entry(d.clone()).or_default().push(i),
                Match::Asn(n) => c.asns.entry(*n).or_default().push(i),
                Match::Organisation { key, .. } => c.orgs.entry(key.clone()).or_default().push(i),
            }
        }
        c.prefixes.0.sort_unstable_by(|a, b| b.cmp(a));
        c.prefixes.1.sort_unstable_by(|a, b| b.cmp(a));
        c
    }

    pub fn len(&self) -> usize {
        self.contacts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
    }

    /// The contacts in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Contact> {
        self.contacts.iter()
    }

    /// The contacts that hold for an address, most precise first: networks holding `ip`, longest prefix first;
    /// then domains that are one of `names` (TLS and reverse-DNS names; a `*.` wildcard counts as its parent) or
    /// hold it, most labels first; then the AS `asn`; then organisations named in `orgs` (the RDAP and AS names
    /// known for the address, in that order). Contacts of one match keep their file order; each appears once.
    pub fn find(&self, ip: IpAddr, asn: Option<u32>, names: &[&str], orgs: &[&str]) -> Vec<&Contact> {
        let mut out: Vec<usize> = Vec::new();
        let ip = ip.to_canonical();
        let prefixes = if ip.is_ipv4() { &self.prefixes.0 } else { &self.prefixes.1 };
        for &p in prefixes {
            if let Some(list) = self.nets.get(&(network(ip, p), p)) {
                out.extend(list);
            }
        }
        let mut domain_hits: Vec<(usize, usize, &[usize])> = Vec::new();
        for (order, name) in names.iter().enumerate() {
            let name = name.trim().trim_start_matches("*.").trim_end_matches('.').to_ascii_lowercase();
            let mut suffix = name.as_str();
            loop {
                if let Some(list) = self.domains.get(suffix) {
                    domain_hits.push((suffix.split('.').count(), order, list));
                }
                match suffix.split_once('.') {
                    Some((_, rest)) => suffix = rest,
                    None => break,
                }
            }
        }
        domain_hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, _, list) in domain_hits {
            out.extend(list);
        }
        if let Some(list) = asn.and_then(|n| self.asns.get(&n)) {
            out.extend(list);
        }
        for org in orgs {
            if let Some(list) = self.orgs.get(&name_key(org)) {
                out.extend(list);
            }
        }
        let mut seen = vec![false; self.contacts.len()];
        out.into_iter().filter(|&i| !std::mem::replace(&mut seen[i], true)).map(|i| &self.contacts[i]).collect()
    }
}

fn parse_csv(bytes: &[u8], errors: &mut Errors, accept: &mut impl FnMut(Raw<'_>, &mut Errors)) {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut columns: Option<Vec<usize>> = None;
    loop {
        let line = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // In-memory input: only a malformed record, never I/O.
                let line = e.position().map_or(line, |p| p.line());
                errors.push(line, ContactProblem::Header { message: format!("cannot split the row: {e}") });
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let Some(cols) = &columns else {
            match header(&record) {
                Ok(c) => columns = Some(c),
                Err(problem) => {
                    errors.push(line, problem);
                    return;
                }
            }
            continue;
        };
        if record.len() != cols.len() {
            errors.push(line, ContactProblem::FieldCount { expected: cols.len(), found: record.len() });
            continue;
        }
        let mut raw = Raw { line, ..Raw::default() };
        let mut utf8 = true;
        for (field, &col) in record.iter().zip(cols) {
            let Ok(text) = std::str::from_utf8(field) else {
                utf8 = false;
                continue;
            };
            if text.is_empty() {
                continue;
            }
            let slot = match col {
                0 => &mut raw.matcher,
                1 => &mut raw.email,
                2 => &mut raw.name,
                3 => &mut raw.language,
                _ => &mut raw.country,
            };
            *slot = Some((text, line));
        }
        if !utf8 {
            errors.push(line, ContactProblem::Utf8);
            continue;
        }
        accept(raw, errors);
    }
    if columns.is_none() {
        errors.push(
            1,
            ContactProblem::Header {
                message: format!("the file is empty; its first line names the columns: `{}`", COLUMNS.join(",")),
            },
        );
    }
}

/// The column of each header field, as an index into [`COLUMNS`].
fn header(record: &csv::ByteRecord) -> Result<Vec<usize>, ContactProblem> {
    let mut cols = Vec::new();
    for field in record {
        let name = std::str::from_utf8(field).map_err(|_| ContactProblem::Utf8)?.to_ascii_lowercase();
        let Some(i) = COLUMNS.iter().position(|c| *c == name) else {
            return Err(ContactProblem::Header {
                message: format!(
                    "unknown column `{}`; the first line names the columns, of `{}`",
                    quote(&name),
                    COLUMNS.join(",")
                ),
            });
        };
        if cols.contains(&i) {
            return Err(ContactProblem::Header { message: format!("column `{name}` is named twice") });
        }
        cols.push(i);
    }
    for required in [0, 1] {
        if !cols.contains(&required) {
            return Err(ContactProblem::Header {
                message: format!(
                    "no `{}` column; the first line names the columns, at least `match,email`",
                    COLUMNS[required]
                ),
            });
        }
    }
    Ok(cols)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(default)]
    contact: Vec<TomlContact>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlContact {
    #[serde(rename = "match")]
    matcher: toml::Spanned<String>,
    email: toml::Spanned<String>,
    name: Option<toml::Spanned<String>>,
    language: Option<toml::Spanned<String>>,
    country: Option<toml::Spanned<String>>,
}

fn parse_toml(bytes: &[u8], errors: &mut Errors, accept: &mut impl FnMut(Raw<'_>, &mut Errors)) {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            errors.push(line_of(bytes, e.valid_up_to()), ContactProblem::Utf8);
            return;
        }
    };
    let file: TomlFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let line = e.span().map_or(0, |s| line_of(bytes, s.start));
            let message = e.message().trim_end().to_owned();
            errors.push(line, ContactProblem::Toml { message: format!("{message}; see docs/campaign.md, Contacts") });
            return;
        }
    };
    let field = |s: &toml::Spanned<String>| -> (String, u64) { (s.get_ref().clone(), line_of(bytes, s.span().start)) };
    for c in &file.contact {
        let m = field(&c.matcher);
        let e = field(&c.email);
        let name = c.name.as_ref().map(field);
        let language = c.language.as_ref().map(field);
        let country = c.country.as_ref().map(field);
        let raw = Raw {
            line: m.1,
            matcher: Some((m.0.trim(), m.1)).filter(|(t, _)| !t.is_empty()),
            email: Some((e.0.trim(), e.1)).filter(|(t, _)| !t.is_empty()),
            name: non_empty(&name),
            language: non_empty(&language),
            country: non_empty(&country),
        };
        accept(raw, errors);
    }
}

/// An optional TOML field, trimmed; an empty one is absent.
fn non_empty(f: &Option<(String, u64)>) -> Option<(&str, u64)> {
    f.as_ref().map(|(t, l)| (t.trim(), *l)).filter(|(t, _)| !t.is_empty())
}

/// One field through the checks every field has: present when required, under its cap, no control character.
fn checked<'a>(
    errors: &mut Errors,
    entry_line: u64,
    field: &'static str,
    value: Option<(&'a str, u64)>,
    max: usize,
    required: bool,
) -> Option<(&'a str, u64)> {
    let Some((text, line)) = value else {
        if required {
            errors.push(entry_line, ContactProblem::Missing { field });
        }
        return None;
    };
    if text.len() > max {
        errors.push(line, ContactProblem::TooLong { field, max });
        return None;
    }
    if text.chars().any(char::is_control) {
        errors.push(line, ContactProblem::Control { field });
        return None;
    }
    Some((text, line))
}

/// The 1-based line of a byte offset.
fn line_of(bytes: &[u8], offset: usize) -> u64 {
    1 + bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() as u64
}

/// Checks one entry's fields; every problem is recorded, and the contact returned only when there were none.
fn validate(raw: &Raw<'_>, imported: i64, errors: &mut Errors) -> Option<Contact> {
    let before = errors.list.len() as u64 + errors.more;
    let m = checked(errors, raw.line, "match", raw.matcher, MAX_MATCH_LEN, true);
    let e = checked(errors, raw.line, "email", raw.email, MAX_EMAIL_LEN, true);
    let n = checked(errors, raw.line, "name", raw.name, MAX_NAME_LEN, false);
    let l = checked(errors, raw.line, "language", raw.language, MAX_LANGUAGE_LEN, false);
    // A long country is a bad code, not a long field: its cap is only against floods.
    let c = checked(errors, raw.line, "country", raw.country, 64, false);
    let matcher = m.and_then(|(t, line)| match Match::parse(t) {
        Ok(m) => Some(m),
        Err(reason) => {
            errors.push(line, ContactProblem::Match { text: quote(t), reason });
            None
        }
    });
    let email = e.and_then(|(t, line)| match email_problem(t) {
        None => Some(normal_email(t)),
        Some(reason) => {
            errors.push(line, ContactProblem::Email { text: quote(t), reason });
            None
        }
    });
    let language = match l {
        None => None,
        Some((t, line)) => match language(t) {
            Some(tag) => Some(tag),
            None => {
                errors.push(line, ContactProblem::Language { text: quote(t) });
                None
            }
        },
    };
    let country = match c {
        None => None,
        Some((t, _)) if t.len() == 2 && t.bytes().all(|b| b.is_ascii_alphabetic()) => Some(t.to_ascii_uppercase()),
        Some((t, line)) => {
            errors.push(line, ContactProblem::Country { text: quote(t) });
            None
        }
    };
    if errors.list.len() as u64 + errors.more != before {
        return None;
    }
    Some(Contact {
        matcher: matcher?,
        email: email?,
        name: n.map(|(t, _)| t.to_owned()),
        language,
        country,
        source: Source::Operator,
        confidence: Confidence::High,
        imported,
        line: raw.line,
    })
}

/// The same match and address twice, or one match with two names.
fn check_duplicates(contacts: &[Contact], errors: &mut Errors) {
    let mut pairs: HashMap<(String, String), u64> = HashMap::new();
    let mut names: HashMap<String, (String, u64)> = HashMap::new();
    for c in contacts {
        let m = match &c.matcher {
            Match::Organisation { key, .. } => format!("org:{key}"),
            other => other.to_string(),
        };
        if let Some(&first_line) = pairs.get(&(m.clone(), c.email.to_lowercase())) {
            errors.push(c.line, ContactProblem::Duplicate { first_line });
        } else {
            pairs.insert((m.clone(), c.email.to_lowercase()), c.line);
        }
        if let Some(name) = &c.name {
            match names.get(&m) {
                Some((first, first_line)) if name_key(first) != name_key(name) => {
                    errors.push(c.line, ContactProblem::NameConflict { first_line: *first_line, first: quote(first) })
                }
                Some(_) => {}
                None => {
                    names.insert(m, (name.clone(), c.line));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_767_225_600;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn csv(text: &str) -> Contacts {
        Contacts::parse(text.as_bytes(), Format::Csv, T).expect("valid contacts")
    }

    fn errors(text: &[u8], format: Format) -> Vec<(u64, String)> {
        let e = Contacts::parse(text, format, T).expect_err("invalid contacts");
        e.iter().map(|e| (e.line, e.problem.to_string())).collect()
    }

    fn emails(found: &[&Contact]) -> Vec<String> {
        found.iter().map(|c| c.email.clone()).collect()
    }

    const FILE: &str = "\
# operator contacts for the 2021 campaign
match,email,name,language,country
192.0.2.0/24,it@cu.example,Example Credit Union,en,US
192.0.2.128/25,branch@cu.example,Example Credit Union,en,US
2001:db8::/32,v6@isp.example,Example ISP,de,de
AS64500,abuse@isp.example,Example ISP,de,DE
town.example,helpdesk@town.example,Town of Example,pt-br,BR
mail.town.example,mail@town.example,Town of Example,,
\"org:Example Hosting, Ltd\",noc@hosting.example,,,
";

    #[test]
    fn every_match_kind_parses_with_its_fields_and_provenance() {
        let c = csv(FILE);
        assert_eq!(c.len(), 7);
        let first = c.iter().next().expect("a contact");
        assert_eq!(first.matcher.to_string(), "192.0.2.0/24");
        assert_eq!(first.name.as_deref(), Some("Example Credit Union"));
        assert_eq!(
            (first.source, first.confidence, first.imported, first.line),
            (Source::Operator, Confidence::High, T, 3)
        );
        let kinds: Vec<String> = c.iter().map(|c| c.matcher.to_string()).collect();
        assert_eq!(
            kinds,
            [
                "192.0.2.0/24",
                "192.0.2.128/25",
                "2001:db8::/32",
                "AS64500",
                "town.example",
                "mail.town.example",
                "org:Example Hosting, Ltd"
            ]
        );
        let langs: Vec<Option<&str>> = c.iter().map(|c| c.language.as_deref()).collect();
        assert_eq!(langs, [Some("en"), Some("en"), Some("de"), Some("de"), Some("pt-BR"), None, None]);
        let countries: Vec<Option<&str>> = c.iter().map(|c| c.country.as_deref()).collect();
        assert_eq!(countries, [Some("US"), Some("US"), Some("DE"), Some("DE"), Some("BR"), None, None]);
    }

    #[test]
    fn a_network_matches_its_addresses_most_specific_first() {
        let c = csv(FILE);
        assert_eq!(emails(&c.find(ip("192.0.2.200"), None, &[], &[])), ["branch@cu.example", "it@cu.example"]);
        assert_eq!(emails(&c.find(ip("192.0.2.1"), None, &[], &[])), ["it@cu.example"]);
        assert_eq!(emails(&c.find(ip("::ffff:192.0.2.1"), None, &[], &[])), ["it@cu.example"]);
        assert_eq!(emails(&c.find(ip("2001:db8:1::25"), None, &[], &[])), ["v6@isp.example"]);
        assert!(c.find(ip("192.0.3.0"), None, &[], &[]).is_empty());
        assert!(c.find(ip("2001:db9::"), None, &[], &[]).is_empty());
    }

    #[test]
    fn a_single_address_is_a_full_length_network() {
        let c = csv("match,email\n198.51.100.7,host@x.example\n2001:db8::25,host6@x.example\n");
        assert_eq!(
            c.iter().map(|c| c.matcher.to_string()).collect::<Vec<_>>(),
            ["198.51.100.7/32", "2001:db8::25/128"]
        );
        assert_eq!(emails(&c.find(ip("198.51.100.7"), None, &[], &[])), ["host@x.example"]);
        assert!(c.find(ip("198.51.100.8"), None, &[], &[]).is_empty());
    }

    #[test]
    fn a_domain_matches_itself_and_names_under_it_not_lookalikes() {
        let c = csv(FILE);
        let find = |names: &[&str]| emails(&c.find(ip("203.0.113.1"), None, names, &[]));
        assert_eq!(find(&["town.example"]), ["helpdesk@town.example"]);
        assert_eq!(find(&["OWA.Town.Example."]), ["helpdesk@town.example"]);
        assert_eq!(find(&["mail.town.example"]), ["mail@town.example", "helpdesk@town.example"]);
        assert_eq!(find(&["*.mail.town.example"]), ["mail@town.example", "helpdesk@town.example"]);
        assert!(find(&["notthetown.example", "town.example.evil", "example"]).is_empty());
        // The most specific domain first, whichever name came first; each contact once.
        assert_eq!(find(&["town.example", "mail.town.example"]), ["mail@town.example", "helpdesk@town.example"]);
    }

    #[test]
    fn an_asn_matches_its_number() {
        let c = csv(FILE);
        assert_eq!(emails(&c.find(ip("203.0.113.1"), Some(64500), &[], &[])), ["abuse@isp.example"]);
        assert!(c.find(ip("203.0.113.1"), Some(64501), &[], &[]).is_empty());
        assert_eq!(Match::parse("as64500"), Ok(Match::Asn(64500)));
        // `as` and letters is a domain, not an AS.
        assert_eq!(Match::parse("asus.example"), Ok(Match::Domain("asus.example".into())));
    }

    #[test]
    fn an_organisation_matches_case_and_space_insensitively() {
        let c = csv(FILE);
        let find = |orgs: &[&str]| emails(&c.find(ip("203.0.113.1"), None, &[], orgs));
        assert_eq!(find(&["example hosting,  LTD"]), ["noc@hosting.example"]);
        assert_eq!(find(&["Other", " Example Hosting, Ltd "]), ["noc@hosting.example"]);
        assert!(find(&["Example Hosting"]).is_empty());
    }

    #[test]
    fn precedence_is_network_then_domain_then_asn_then_organisation() {
        let c = csv(FILE);
        let found = c.find(ip("192.0.2.200"), Some(64500), &["mail.town.example"], &["Example Hosting, Ltd"]);
        assert_eq!(
            emails(&found),
            [
                "branch@cu.example",
                "it@cu.example",
                "mail@town.example",
                "helpdesk@town.example",
                "abuse@isp.example",
                "noc@hosting.example"
            ]
        );
        let rank = |m: &Match| match m {
            Match::Net(_) => 0,
            Match::Domain(_) => 1,
            Match::Asn(_) => 2,
            Match::Organisation { .. } => 3,
        };
        assert!(found.iter().map(|c| rank(&c.matcher)).is_sorted());
    }

    #[test]
    fn toml_gives_the_same_contacts_as_csv() {
        let toml = r#"
# operator contacts
[[contact]]
match = "192.0.2.0/24"
email = "it@cu.example"
name = "Example Credit Union"
language = "en"
country = "US"

[[contact]]
match = "org:Example Hosting, Ltd"
email = "noc@HOSTING.example"
"#;
        let c = Contacts::parse(toml.as_bytes(), Format::Toml, T).expect("valid");
        let got: Vec<(String, String, u64)> =
            c.iter().map(|c| (c.matcher.to_string(), c.email.clone(), c.line)).collect();
        assert_eq!(
            got,
            [
                ("192.0.2.0/24".into(), "it@cu.example".into(), 4),
                ("org:Example Hosting, Ltd".into(), "noc@hosting.example".into(), 11)
            ]
        );
        assert_eq!(emails(&c.find(ip("192.0.2.9"), None, &[], &[])), ["it@cu.example"]);
        assert!(Contacts::parse(b"", Format::Toml, T).expect("no contacts is valid TOML").is_empty());
    }

    #[test]
    fn the_format_is_guessed_by_extension_then_content() {
        assert_eq!(Format::guess("c.CSV", b"[[contact]]"), Format::Csv);
        assert_eq!(Format::guess("c.toml", b"match,email"), Format::Toml);
        assert_eq!(Format::guess("contacts", b"# x\n\n  [[contact]]\n"), Format::Toml);
        assert_eq!(Format::guess("contacts", b"match,email\n"), Format::Csv);
    }

    #[test]
    fn csv_header_problems() {
        let cases: [(&str, &str); 5] = [
            ("", "line 1: the file is empty; its first line names the columns: `match,email,name,language,country`"),
            (
                "match,mail\n",
                "line 1: unknown column `mail`; the first line names the columns, of `match,email,name,language,country`",
            ),
            ("match,email,email\n", "line 1: column `email` is named twice"),
            ("email,name\n", "line 1: no `match` column; the first line names the columns, at least `match,email`"),
            ("match\n", "line 1: no `email` column; the first line names the columns, at least `match,email`"),
        ];
        for (text, want) in cases {
            let e = Contacts::parse(text.as_bytes(), Format::Csv, T).expect_err(text);
            assert_eq!(e.iter().map(|e| e.to_string()).collect::<Vec<_>>(), [want], "{text:?}");
        }
        // A byte-order mark (Excel's CSV) and columns in another order are fine.
        let c = Contacts::parse("\u{feff}Email,Match\nnoc@x.example,AS1\n".as_bytes(), Format::Csv, T).expect("valid");
        assert_eq!(c.iter().next().map(|c| c.matcher.clone()), Some(Match::Asn(1)));
    }

    #[test]
    fn every_field_error_is_reported_with_its_line() {
        let text = "\
match,email,name,language,country
,noc@x.example,,,
192.0.2.0/24,,,,
192.0.2.1/24,noc@x.example,,,
192.0.2.0/33,noc@x.example,,,
AS0,noc@x.example,,,
AS4294967296,noc@x.example,,,
*.x.example,noc@x.example,,,
localhost,noc@x.example,,,
bücher.example,noc@x.example,,,
org:,noc@x.example,,,
fe80::1%eth0,noc@x.example,,,
x.example,Admin <noc@x.example>,,,
x.example,noc@@x.example,,,
x.example,noc.x.example,,,
x.example,@x.example,,,
x.example,noc@,,,
x.example,no c@x.example,,,
x.example,\"a,b\"@x.example,,,
x.example,.noc@x.example,,,
x.example,noc@x,,,
x.example,noc@x.example,,english,
x.example,noc@x.example,,pt_BR,
x.example,noc@x.example,,,DEU
x.example,noc@x.example,,,1A
x.example,noc@x.example,,
";
        let got = errors(text.as_bytes(), Format::Csv);
        let want: Vec<(u64, &str)> = vec![
            (2, "`match` is missing or empty"),
            (3, "`email` is missing or empty"),
            (4, "match `192.0.2.1/24` has host bits set under its /24; the network is `192.0.2.0/24`"),
            (5, "match `192.0.2.0/33` has prefix length /33; it runs from 0 to 32"),
            (6, "match `AS0` is AS0, which is reserved and announces nothing"),
            (7, "match `AS4294967296` is not an AS number from 1 to 4294967295"),
            (8, "match `*.x.example` is a wildcard; write `x.example`: a domain covers its subdomains"),
            (
                9,
                "match `localhost` is not a network, `AS` number, domain or `org:` name (a domain has two or more labels of letters, digits and hyphens)",
            ),
            (10, "match `bücher.example` is not ASCII; write the domain in its `xn--` form"),
            (11, "match `org:` names no organisation after `org:`"),
            (
                12,
                "match `fe80::1%eth0` is not a network, `AS` number, domain or `org:` name; an organisation is written `org:NAME`",
            ),
            (13, "email `Admin <noc@x.example>` holds white space or a control character"),
            (14, "email `noc@@x.example` has more than one `@`"),
            (15, "email `noc.x.example` has no `@`"),
            (16, "email `@x.example` has nothing before the `@`"),
            (17, "email `noc@` has nothing after the `@`"),
            (18, "email `no c@x.example` holds white space or a control character"),
            (
                19,
                "email `a,b@x.example` has a character or a dot placement before the `@` that a plain address cannot have",
            ),
            (
                20,
                "email `.noc@x.example` has a character or a dot placement before the `@` that a plain address cannot have",
            ),
            (21, "email `noc@x` has a domain that is not a host name such as `example.org`"),
            (22, "language `english` is not a language tag such as `en`, `de` or `pt-BR`"),
            (23, "language `pt_BR` is not a language tag such as `en`, `de` or `pt-BR`"),
            (24, "country `DEU` is not a two-letter ISO 3166-1 code such as `DE`"),
            (25, "country `1A` is not a two-letter ISO 3166-1 code such as `DE`"),
            (26, "4 fields, the header has 5; quote a field that holds a comma"),
        ];
        let want: Vec<(u64, String)> = want.into_iter().map(|(l, m)| (l, m.to_owned())).collect();
        assert_eq!(got, want);
        assert_eq!(
            email_problem("<noc@x.example>"),
            Some("holds an angle bracket; give the bare address, such as `noc@example.org`")
        );
    }

    #[test]
    fn duplicates_and_conflicting_names_are_errors() {
        let text = "\
match,email,name
192.0.2.0/24,noc@x.example,Example
192.0.2.0/24,NOC@X.EXAMPLE,example
192.0.2.0/24,other@x.example,Other Name
org:Example  CU,a@x.example,
ORG:example cu,a@x.example,
";
        assert_eq!(
            errors(text.as_bytes(), Format::Csv),
            [
                (3, "the same match and email as line 2; remove one of them".to_owned()),
                (4, "the same match as line 2 with another name (`Example` there); give one name per match".to_owned()),
                (6, "the same match and email as line 5; remove one of them".to_owned()),
            ]
        );
        // Other addresses for one match, and one name written twice, are fine.
        let ok = csv("match,email,name\nAS1,a@x.example,ISP\nAS1,b@x.example,\nAS1,c@x.example,isp\n");
        assert_eq!(emails(&ok.find(ip("192.0.2.1"), Some(1), &[], &[])), ["a@x.example", "b@x.example", "c@x.example"]);
    }

    #[test]
    fn toml_errors_carry_the_line_of_the_key() {
        let cases: [(&str, u64, &str); 5] = [
            ("[[contact]]\nmatch = \"AS1\"\n", 1, "missing field `email`"),
            ("[[contact]]\nmatch = \"AS1\"\nemail = \"a@x.example\"\nphone = \"1\"\n", 4, "unknown field `phone`"),
            ("[[contact]]\nmatch = 64500\nemail = \"a@x.example\"\n", 2, "invalid type"),
            ("[[contact]\n", 1, ""),
            ("[contacts]\n", 1, "unknown field `contacts`"),
        ];
        for (text, line, fragment) in cases {
            let e = errors(text.as_bytes(), Format::Toml);
            assert_eq!(e.len(), 1, "{text:?}: {e:?}");
            assert_eq!(e[0].0, line, "{text:?}: {e:?}");
            assert!(e[0].1.contains(fragment), "{text:?}: {e:?}");
        }
        let text = "[[contact]]\nmatch = \"AS1\"\nemail = \"a@x.example\"\n\n[[contact]]\nmatch = \"x\"\nemail = \"nope\"\nlanguage = \"xx-yy-zz\"\n";
        assert_eq!(
            errors(text.as_bytes(), Format::Toml),
            [
                (6, "match `x` is not a network, `AS` number, domain or `org:` name (a domain has two or more labels of letters, digits and hyphens)".to_owned()),
                (7, "email `nope` has no `@`".to_owned()),
                (8, "language `xx-yy-zz` is not a language tag such as `en`, `de` or `pt-BR`".to_owned()),
            ]
        );
    }

    #[test]
    fn hostile_input_gives_errors_not_panics() {
        // Invalid UTF-8, at its line.
        assert_eq!(
            errors(b"match,email\nAS1,a@x.example\nAS2,\xff@x.example\n", Format::Csv),
            [(3, "not UTF-8; save the file as UTF-8".to_owned())]
        );
        assert_eq!(
            errors(b"[[contact]]\nmatch = \"AS1\"\nemail = \"\xc3\"\n", Format::Toml),
            [(3, "not UTF-8; save the file as UTF-8".to_owned())]
        );
        // Control characters, in a quoted CSV field and a TOML escape.
        assert_eq!(
            errors(b"match,email,name\nAS1,a@x.example,\"a\x1b[31mred\"\n", Format::Csv),
            [(2, "`name` holds a control character".to_owned())]
        );
        assert_eq!(
            errors(b"[[contact]]\nmatch = \"AS1\"\nemail = \"a@x.example\\r\\nBcc: b@y.example\"\n", Format::Toml),
            [(3, "`email` holds a control character".to_owned())]
        );
        // Huge fields: capped, and not echoed in full.
        let huge = format!(
            "match,email,name\nAS1,a@x.example,{}\n{},a@x.example,\n",
            "n".repeat(1 << 20),
            "m".repeat(1 << 20)
        );
        assert_eq!(
            errors(huge.as_bytes(), Format::Csv),
            [(2, "`name` is longer than 256 bytes".to_owned()), (3, "`match` is longer than 255 bytes".to_owned())]
        );
        let long_local = format!("match,email\nAS1,{}@x.example\n", "a".repeat(65));
        let quoted = format!("{}…", "a".repeat(64));
        assert_eq!(
            errors(long_local.as_bytes(), Format::Csv),
            [(2, format!("email `{quoted}` has more than 64 bytes before the `@`"))]
        );
        // Many bad rows: the first MAX_ERRORS, then a count.
        let many = "match,email\n".to_owned() + &"x,y\n".repeat(MAX_ERRORS);
        let e = Contacts::parse(many.as_bytes(), Format::Csv, T).expect_err("all bad");
        assert_eq!(e.len(), MAX_ERRORS + 1);
        assert_eq!(e[MAX_ERRORS].to_string(), format!("line 0: {} more errors not listed", MAX_ERRORS));
        // A pseudo-random walk over bytes that matter to both parsers.
        let alphabet = b"match,email\n\"[]=#@.:/AS0123org:\xff\x00 \r";
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..400 {
            let mut input = Vec::new();
            for _ in 0..(x % 120) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                input.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            for format in [Format::Csv, Format::Toml] {
                match Contacts::parse(&input, format, T) {
                    Ok(c) => drop(c.find(ip("192.0.2.1"), Some(1), &["a.example"], &["org"])),
                    Err(e) => assert!(!e.is_empty()),
                }
            }
        }
    }

    #[test]
    fn every_contact_is_found_by_its_own_match_and_prints_as_it_parses() {
        let c = csv(&(FILE.to_owned() + "::ffff:198.51.100.0/120,mapped@x.example,,,\n"));
        let elsewhere = ip("0.0.0.0");
        for contact in c.iter() {
            assert_eq!(Match::parse(&contact.matcher.to_string()).as_ref(), Ok(&contact.matcher));
            let found = match &contact.matcher {
                Match::Net(n) => c.find(n.first(), None, &[], &[]),
                Match::Domain(d) => c.find(elsewhere, None, &[d.as_str()], &[]),
                Match::Asn(n) => c.find(elsewhere, Some(*n), &[], &[]),
                Match::Organisation { name, .. } => c.find(elsewhere, None, &[], &[name.as_str()]),
            };
            assert!(found.contains(&contact), "{}", contact.matcher);
        }
        // An IPv4-mapped network is the IPv4 network.
        assert_eq!(c.iter().last().map(|c| c.matcher.to_string()), Some("198.51.100.0/24".into()));
    }

    #[test]
    fn a_contact_round_trips_through_json() {
        let c = csv(FILE);
        let json = serde_json::to_string(&c.iter().collect::<Vec<_>>()).expect("serialises");
        let back: Vec<Contact> = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, c.iter().cloned().collect::<Vec<_>>());
        assert!(json.contains(r#""match":"org:Example Hosting, Ltd""#), "{json}");
        assert!(json.contains(r#""source":"operator","confidence":"high""#), "{json}");
    }
}
