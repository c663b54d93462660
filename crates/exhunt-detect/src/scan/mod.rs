//! What a scan observation says: pure functions of an [`exhunt_model::Observation`] and the knowledge base, so that
//! `exhunt detect --from` replays every verdict from saved observations with a newer knowledge base.
//!
//! * [`BodyAnchors`]: what the scanner keeps of a body (title, snippets around the scan pack's anchors).
//! * [`fingerprint`]: is it Exchange, which build and from where, the verdict per chain, the web shells.
//! * [`webshell_hits`]: web-shell paths judged against the host's per-folder soft-404 baseline.
//! * [`decode_type2`]: the NTLM Type-2 challenge, which names the server and its domain.
//! * [`findings`]: the observation's verdicts as [`exhunt_model::Finding`]s, the one finding type of scan and hunt.

mod body;
mod findings;
mod fingerprint;
mod ntlm;
mod webshell;

pub use body::{BodyAnchors, MAX_SNIPPETS, SNIPPET};
pub use exhunt_model::Tally;
pub use findings::{SCAN_RULES, findings};
pub use fingerprint::{exporttool_build, fingerprint, logon_build};
pub use ntlm::{NtlmError, decode_type2, type2_from_headers};
pub use webshell::{baseline_dirs, dir_of, webshell_hits};

/// The observation a scan would have saved had it received a fingerprint sample's responses: bodies cut to their
/// title and snippets by `anchors`, hashed and measured as the scanner does.
pub fn sample_observation(s: &exhunt_kb::scan::FingerprintSample, anchors: &BodyAnchors) -> exhunt_model::Observation {
    use sha2::{Digest, Sha256};
    let probes = s
        .probes
        .iter()
        .map(|p| {
            let (title, snippets) = anchors.extract(p.body.as_bytes());
            exhunt_model::Probe {
                name: p.name.clone(),
                path: p.path.clone(),
                status: p.status,
                headers: p.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect(),
                title,
                body_len: p.body.len() as u64,
                body_sha256: p.status.map(|_| hex::encode(Sha256::digest(p.body.as_bytes()))),
                truncated: false,
                snippets,
                redirected_from: None,
                error: p.status.is_none().then(|| "the request failed".to_string()),
            }
        })
        .collect::<Vec<_>>();
    observation_of(probes)
}

/// An observation of `127.0.0.1:443` at a fixed time made of `probes` alone, not yet fingerprinted: `success` when
/// the first request got an answer, else `protocol-error`. What a sample or a replay of canned bytes is judged on.
pub fn observation_of(probes: Vec<exhunt_model::Probe>) -> exhunt_model::Observation {
    use exhunt_model::ScanStatus;
    exhunt_model::Observation {
        seq: Some(0),
        ip: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 443,
        name: None,
        status: if probes.first().is_some_and(|p| p.status.is_some()) {
            ScanStatus::Success
        } else {
            ScanStatus::ProtocolError
        },
        phase: None,
        error: None,
        started: "2021-03-02T00:00:00Z".into(),
        elapsed_ms: 0,
        tls: None,
        probes,
        fingerprint: None,
    }
}

/// How a fingerprint differs from what a sample expects, one phrase per difference; empty when it agrees.
pub fn sample_differences(
    want: &exhunt_kb::scan::SampleExpect,
    got: Option<&exhunt_model::Fingerprint>,
) -> Vec<String> {
    let mut out = Vec::new();
    let class = got.map(|f| f.class.as_str()).unwrap_or("none (no answer)");
    if class != want.class {
        out.push(format!("class is {class}, the sample expects {}", want.class));
    }
    let build = got.and_then(|f| f.build).map(|b| b.to_string());
    if build != want.build {
        out.push(format!("build is {}, the sample expects {}", show(&build), show(&want.build)));
    }
    let source = got.and_then(|f| f.build_source).map(|s| s.as_str().to_string());
    if source != want.build_source {
        out.push(format!("build source is {}, the sample expects {}", show(&source), show(&want.build_source)));
    }
    if let Some(w) = &want.webshells {
        let shells: Vec<String> = got
            .map(|f| f.webshells.iter().map(|h| format!("{} {}", h.path, h.confidence)).collect())
            .unwrap_or_default();
        if &shells != w {
            out.push(format!("web shells are {shells:?}, the sample expects {w:?}"));
        }
    }
    out
}

fn show(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}
