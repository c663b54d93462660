//! From an observation to a fingerprint: is it Exchange, which build, from where, and what the knowledge base says.
//! A pure function of the observation and the knowledge base (its catalog and its scan pack's markers).

use super::ntlm::{decode_type2, type2_from_headers};
use super::webshell::webshell_hits;
use exhunt_kb::Kb;
use exhunt_kb::scan::Markers;
use exhunt_model::{Build, BuildSource, Class, Fingerprint, Observation, Probe, ScanStatus};

/// Reads a build after `prefix` up to a non-build character.
fn build_after(s: &str, prefix: &str) -> Option<Build> {
    if prefix.is_empty() {
        return None;
    }
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

/// The build in a logon page snippet: the CU level of 2013 and later, or the four-part build of 2010.
pub fn logon_build(snippet: &str, m: &Markers) -> Option<Build> {
    let b = build_after(snippet, &m.logon_build_after).filter(|b| b.major >= 15 && b.revision.is_none());
    b.or_else(|| build_after(snippet, &m.legacy_build_after).filter(|b| b.major < 15 && b.is_exact()))
}

/// The build in an exporttool manifest's `assemblyIdentity`.
pub fn exporttool_build(snippet: &str, m: &Markers) -> Option<Build> {
    let i = snippet.find(m.exporttool_identity.as_str()).filter(|_| !m.exporttool_identity.is_empty())?;
    build_after(&snippet[i..], "version=\"").filter(Build::is_exact)
}

/// The fingerprint of an observation; `None` unless the host answered. Pure.
pub fn fingerprint(obs: &Observation, kb: &Kb) -> Option<Fingerprint> {
    if obs.status != ScanStatus::Success {
        return None;
    }
    let m = &kb.scan.markers;
    let x_owa = obs.header_values("x-owa-version").find_map(|v| Build::parse(v).ok().filter(Build::is_exact));
    let feserver = obs.header_values("x-feserver").next().cloned();
    let ok = |p: &&Probe| p.status == Some(200);
    let exporttool = obs
        .probes
        .iter()
        .filter(|p| p.name == "exporttool")
        .filter(ok)
        .flat_map(|p| p.snippets.iter())
        .find_map(|s| exporttool_build(s, m));
    let logon_probes = || obs.probes.iter().filter(|p| p.name == "logon").filter(ok);
    let logon = logon_probes().flat_map(|p| p.snippets.iter()).find_map(|s| logon_build(s, m));
    let owa_markers = logon_probes().any(|p| {
        p.title.as_deref().is_some_and(|t| m.owa_title.iter().any(|w| t.contains(w.as_str())))
            || p.snippets.iter().any(|s| m.owa_page.iter().any(|w| s.contains(w.as_str())))
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
    let verdict = build.map(|b| kb.catalog.verdict(&b));
    let chains = verdict
        .as_ref()
        .map(|v| v.chains.iter().map(|c| (c.chain.as_str().to_string(), c.status)).collect())
        .unwrap_or_default();
    Some(Fingerprint {
        class,
        build,
        build_source: source,
        product: verdict.as_ref().and_then(|v| v.product.clone()),
        chains,
        verdict,
        feserver: if exchange { feserver } else { None },
        ntlm: if exchange { ntlm } else { None },
        webshells: webshell_hits(obs, m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_from_paths_and_manifests() {
        let m = &Kb::builtin().scan.markers;
        assert_eq!(logon_build("href=\"/owa/auth/15.1.2176/themes/r\"", m), Some(Build::cu(15, 1, 2176)));
        assert_eq!(logon_build("href=\"/owa/14.3.123.3/themes/r\"", m), Some(Build::new(14, 3, 123, 3)));
        assert_eq!(logon_build("href=\"/owa/auth/logon.aspx\"", m), None);
        let s =
            "<assemblyIdentity name=\"microsoft.exchange.ediscovery.exporttool.application\" version=\"15.2.986.5\"";
        assert_eq!(exporttool_build(s, m), Some(Build::new(15, 2, 986, 5)));
    }
}
