//! What a scan saw of one target, saved as it is: one [`Observation`] per target (envelope type `observation`),
//! written as a JSON line the moment the target is done, and the [`Fingerprint`] computed from it.
//!
//! Bodies are not kept; their hash, length, title and the lines around the knowledge base's body anchors are,
//! which is everything the fingerprint reads, so verdicts can be recomputed later (`exhunt detect --from`) by
//! `exhunt_detect::scan::fingerprint`. The wire format is pinned in `docs/output.md` § observation.

use crate::{Build, BuildVerdict, ChainStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// How a target ended. zgrab2's taxonomy, narrowed to what an HTTPS fingerprint meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanStatus {
    /// At least the first request got an HTTP response.
    Success,
    /// The connection was refused (nothing listens).
    Refused,
    /// The connection was reset before anything was exchanged.
    Reset,
    /// A deadline passed (connect, TLS, headers or body: see `phase`).
    Timeout,
    /// The TLS handshake failed.
    TlsError,
    /// The server answered something that is not HTTP, or headers over the cap.
    ProtocolError,
    /// No route, host unreachable, or another network error.
    Unreachable,
    /// The blocklist removed the target; nothing was sent.
    Blocked,
}

impl ScanStatus {
    pub const ALL: [ScanStatus; 8] = [
        ScanStatus::Success,
        ScanStatus::Refused,
        ScanStatus::Reset,
        ScanStatus::Timeout,
        ScanStatus::TlsError,
        ScanStatus::ProtocolError,
        ScanStatus::Unreachable,
        ScanStatus::Blocked,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ScanStatus::Success => "success",
            ScanStatus::Refused => "refused",
            ScanStatus::Reset => "reset",
            ScanStatus::Timeout => "timeout",
            ScanStatus::TlsError => "tls-error",
            ScanStatus::ProtocolError => "protocol-error",
            ScanStatus::Unreachable => "unreachable",
            ScanStatus::Blocked => "blocked",
        }
    }

    /// True when the host answered: the only status after which an absent finding means "not there".
    pub fn answered(&self) -> bool {
        *self == ScanStatus::Success
    }
}

impl std::fmt::Display for ScanStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The server's certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertInfo {
    pub subject: String,
    pub subject_cn: Option<String>,
    pub issuer: String,
    pub sans: Vec<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub self_signed: bool,
    pub sha256: String,
}

/// The TLS session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
    pub cert: Option<CertInfo>,
}

/// One request of the scan's ladder and its response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// `logon`, `ews`, `activesync`, `exporttool`, `ntlm`, `webshell`, `baseline`.
    pub name: String,
    pub path: String,
    /// HTTP status; `null` when the request failed (see `error`).
    pub status: Option<u16>,
    /// The headers that matter, names lower case (the scanner's kept set).
    pub headers: BTreeMap<String, Vec<String>>,
    pub title: Option<String>,
    pub body_len: u64,
    pub body_sha256: Option<String>,
    /// The body went past the cap (or inflated past it).
    pub truncated: bool,
    /// Lines around the knowledge base's body anchors, each at most 240 characters.
    pub snippets: Vec<String>,
    /// The `Location` followed (one redirect at most, same host).
    pub redirected_from: Option<String>,
    pub error: Option<String>,
}

/// Everything seen of one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// The target's place in its shard's walk (what `--resume` counts); `null` for blocked targets.
    pub seq: Option<u64>,
    pub ip: IpAddr,
    pub port: u16,
    pub name: Option<String>,
    pub status: ScanStatus,
    /// Where it failed: `connect`, `tls`, `headers`, `body`.
    pub phase: Option<String>,
    pub error: Option<String>,
    /// RFC 3339 UTC.
    pub started: String,
    pub elapsed_ms: u64,
    pub tls: Option<TlsInfo>,
    pub probes: Vec<Probe>,
    /// Computed from the fields above by the fingerprint; `exhunt detect --from` recomputes it.
    pub fingerprint: Option<Fingerprint>,
}

impl Observation {
    /// All values of one kept header across the probes, in probe order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.probes.iter().flat_map(move |p| p.headers.get(name).into_iter().flatten())
    }

    /// `ip:port`, with brackets around an IPv6 address: the authority of the host's URLs.
    pub fn authority(&self) -> String {
        match self.ip {
            IpAddr::V6(a) => format!("[{a}]:{}", self.port),
            IpAddr::V4(a) => format!("{a}:{}", self.port),
        }
    }

    /// The names the host gave for itself: the target name, the certificate's subject CN and SANs, the NTLM DNS
    /// computer and domain names, lower case, in that order, each once. Attacker-chosen: escape before display.
    pub fn names(&self) -> Vec<String> {
        let cert = self.tls.as_ref().and_then(|t| t.cert.as_ref());
        let ntlm = self.fingerprint.as_ref().and_then(|f| f.ntlm.as_ref());
        let all = self
            .name
            .iter()
            .chain(cert.and_then(|c| c.subject_cn.as_ref()))
            .chain(cert.into_iter().flat_map(|c| c.sans.iter()))
            .chain(ntlm.and_then(|n| n.dns_computer.as_ref()))
            .chain(ntlm.and_then(|n| n.dns_domain.as_ref()));
        let mut out: Vec<String> = Vec::new();
        for n in all {
            let n = n.trim().trim_end_matches('.').to_ascii_lowercase();
            if !n.is_empty() && !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }
}

/// What the host is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Exchange answered for itself: `X-OWA-Version`, `X-FEServer`, the exporttool manifest or an NTLM challenge
    /// on an Exchange path.
    Exchange,
    /// The OWA logon page with nothing of Exchange behind it (a honeypot, a copied page, a proxy's portal).
    Lookalike,
    NotExchange,
}

impl Class {
    pub fn as_str(&self) -> &'static str {
        match self {
            Class::Exchange => "exchange",
            Class::Lookalike => "lookalike",
            Class::NotExchange => "not-exchange",
        }
    }
}

/// Where the build was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuildSource {
    /// The `X-OWA-Version` header of a 401 (four parts).
    XOwaVersion,
    /// The ECP exporttool ClickOnce manifest (four parts).
    Exporttool,
    /// The OWA logon page's resource path: CU level on 2013 and later, four parts on 2010.
    LogonPath,
}

impl BuildSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            BuildSource::XOwaVersion => "x-owa-version",
            BuildSource::Exporttool => "exporttool",
            BuildSource::LogonPath => "logon-path",
        }
    }
}

/// The fingerprint of one observation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fingerprint {
    pub class: Class,
    pub build: Option<Build>,
    pub build_source: Option<BuildSource>,
    pub product: Option<String>,
    /// Chain → fixed / vulnerable / indeterminate / not-affected / unknown.
    pub chains: BTreeMap<String, ChainStatus>,
    pub verdict: Option<BuildVerdict>,
    pub feserver: Option<String>,
    pub ntlm: Option<NtlmInfo>,
    /// Web-shell paths confirmed or suspected (`--webshells`).
    pub webshells: Vec<WebShellHit>,
}

/// A web-shell path that answered unlike the host's soft-404 baseline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebShellHit {
    pub path: String,
    /// `confirmed` (the content says so, e.g. the exported OAB virtual directory of CVE-2021-27065) or `suspected`.
    pub confidence: String,
}

/// What an NTLM Type-2 tells about its server (MS-NLMP 2.2.1.2, AV pairs 2.2.2.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NtlmInfo {
    pub target_name: Option<String>,
    pub netbios_domain: Option<String>,
    pub netbios_computer: Option<String>,
    pub dns_domain: Option<String>,
    pub dns_computer: Option<String>,
    pub dns_tree: Option<String>,
    /// Windows version from the VERSION field, `major.minor.build`.
    pub os_version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_once_and_authority_brackets_v6() {
        let mut o = Observation {
            seq: None,
            ip: "2001:db8::1".parse().expect("ip"),
            port: 443,
            name: Some("Mail.Example.org.".into()),
            status: ScanStatus::Success,
            phase: None,
            error: None,
            started: String::new(),
            elapsed_ms: 0,
            tls: Some(TlsInfo {
                cert: Some(CertInfo {
                    subject_cn: Some("mail.example.org".into()),
                    sans: vec!["autodiscover.example.org".into(), " ".into()],
                    ..CertInfo::default()
                }),
                ..TlsInfo::default()
            }),
            probes: Vec::new(),
            fingerprint: None,
        };
        assert_eq!(o.authority(), "[2001:db8::1]:443");
        assert_eq!(o.names(), ["mail.example.org", "autodiscover.example.org"]);
        o.ip = "192.0.2.1".parse().expect("ip");
        assert_eq!(o.authority(), "192.0.2.1:443");
        for s in ScanStatus::ALL {
            let json = serde_json::to_value(s).expect("json");
            assert_eq!(json.as_str(), Some(s.as_str()));
        }
    }
}
