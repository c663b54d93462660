//! From an observation to a fingerprint: is it Exchange, which build, from where, and what the knowledge base says.
//! A pure function of the observation and the catalog: no I/O, so `exhunt detect --from` replays it with a newer
//! knowledge base without rescanning.

use crate::ntlm::{NtlmInfo, decode_type2, type2_from_headers};
use crate::observe::{Observation, ScanStatus};
use exhunt_kb::Catalog;
use exhunt_model::{Build, BuildVerdict, ChainStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// `confirmed` (the exported OAB virtual directory of CVE-2021-27065) or `suspected`.
    pub confidence: String,
}

/// Reads a build after `prefix` up to a non-build character.
fn build_after(s: &str, prefix: &str) -> Option<Build> {
    let mut from = 0;
    while let Some(i) = s[from..].find(prefix) {
        let rest = &s[from + i + prefix.len()..];
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if let Ok(b) = Build::parse(rest[..end].trim_end_matches('.')) {
            return Some(b);
        }
        from += i + prefix.len();
    }
    None
}

/// The build from the logon page's resource paths.
pub fn logon_build(snippet: &str) -> Option<Build> {
    let b = build_after(snippet, "/owa/auth/").filter(|b| b.major >= 15 && b.revision.is_none());
    b.or_else(|| build_after(snippet, "/owa/").filter(|b| b.major < 15 && b.is_exact()))
}

/// The build in an exporttool manifest's `assemblyIdentity`.
pub fn exporttool_build(snippet: &str) -> Option<Build> {
    let i = snippet.find("microsoft.exchange.ediscovery.exporttool")?;
    build_after(&snippet[i..], "version=\"").filter(Build::is_exact)
}

/// The fingerprint of an observation. Pure.
pub fn fingerprint(obs: &Observation, catalog: &Catalog) -> Option<Fingerprint> {
    if obs.status != ScanStatus::Success {
        return None;
    }
    let x_owa = obs.header_values("x-owa-version").find_map(|v| Build::parse(v).ok().filter(Build::is_exact));
    let feserver = obs.header_values("x-feserver").next().cloned();
    let ok = |p: &&crate::observe::Probe| p.status == Some(200);
    let exporttool = obs
        .probes
        .iter()
        .filter(|p| p.name == "exporttool")
        .filter(ok)
        .flat_map(|p| p.snippets.iter())
        .find_map(|s| exporttool_build(s));
    let logon_probes = || obs.probes.iter().filter(|p| p.name == "logon").filter(ok);
    let logon = logon_probes().flat_map(|p| p.snippets.iter()).find_map(|s| logon_build(s));
    let owa_markers = logon_probes().any(|p| {
        p.title.as_deref().is_some_and(|t| t.contains("Outlook"))
            || p.snippets.iter().any(|s| s.contains("OwaPage") || s.contains("IsOwaPremiumBrowser"))
    });
    let ntlm = obs
        .probes
        .iter()
        .filter(|p| p.status == Some(401))
        .find_map(|p| type2_from_headers(p.headers.get("www-authenticate").into_iter().flatten()))
        .and_then(|raw| decode_type2(&raw).ok());
    let exchange = x_owa.is_some() || exporttool.is_some() || feserver.is_some() || ntlm.is_some();
    let class = if exchange {
        Class::Exchange
    } else if owa_markers || logon.is_some() {
        Class::Lookalike
    } else {
        Class::NotExchange
    };
    let (build, source) = if !exchange {
        (None, None)
    } else if let Some(b) = x_owa {
        (Some(b), Some(BuildSource::XOwaVersion))
    } else if let Some(b) = exporttool {
        (Some(b), Some(BuildSource::Exporttool))
    } else if let Some(b) = logon {
        (Some(b), Some(BuildSource::LogonPath))
    } else {
        (None, None)
    };
    let verdict = build.map(|b| catalog.verdict(&b));
    let chains = verdict
        .as_ref()
        .map(|v| v.chains.iter().map(|c| (c.chain.as_str().to_string(), c.status)).collect())
        .unwrap_or_default();
    let webshells = crate::webshell::hits(obs);
    Some(Fingerprint {
        class,
        build,
        build_source: source,
        product: verdict.as_ref().and_then(|v| v.product.clone()),
        chains,
        verdict,
        feserver: if exchange { feserver } else { None },
        ntlm: if exchange { ntlm } else { None },
        webshells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_from_paths_and_manifests() {
        assert_eq!(logon_build("href=\"/owa/auth/15.1.2176/themes/r\""), Some(Build::cu(15, 1, 2176)));
        assert_eq!(logon_build("href=\"/owa/14.3.123.3/themes/r\""), Some(Build::new(14, 3, 123, 3)));
        assert_eq!(logon_build("href=\"/owa/auth/logon.aspx\""), None);
        let m =
            "<assemblyIdentity name=\"microsoft.exchange.ediscovery.exporttool.application\" version=\"15.2.986.5\"";
        assert_eq!(exporttool_build(m), Some(Build::new(15, 2, 986, 5)));
    }
}
