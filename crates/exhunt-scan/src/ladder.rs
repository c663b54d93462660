//! The safe request ladder (scan-anchors §2.2), per target, all GET, no credentials, no parameters:
//!
//! 1. TLS handshake: the certificate is recorded.
//! 2. `GET /owa/auth/logon.aspx`: OWA markers and the CU-level build in resource paths (one same-host redirect).
//! 3. `GET /EWS/Exchange.asmx`: the 401 carrying `X-OWA-Version` and `X-FEServer`.
//!
//! Nothing about Exchange so far → stop. Otherwise:
//!
//! 4. `GET /Microsoft-Server-ActiveSync` when no `X-OWA-Version` was seen yet.
//! 5. `GET /ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application` (2013 and later).
//! 6. `GET /rpc/` with an NTLM Type-1 (nmap's `http-ntlm-info` message): the Type-2 names the server and its domain.
//! 7. With `--webshells`: a random name in each directory of the path list (the soft-404 baseline), then the paths.
//!
//! Never the SSRF cookie, never `autodiscover.json`, never credentials, never a POST.

use crate::http::{Conn, Failure, Limits};
use crate::ntlm::TYPE1_B64;
use crate::observe::{Observation, Probe, ScanStatus, extract};
use crate::target::Target;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const EXPORTTOOL: &str = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application";

/// What the ladder needs.
#[derive(Clone)]
pub struct LadderConfig {
    pub limits: Limits,
    pub tls: Arc<rustls::ClientConfig>,
    /// Least time between two requests to one host.
    pub per_host_gap: Duration,
    pub webshells: bool,
    pub seed: u64,
}

struct Session<'a> {
    cfg: &'a LadderConfig,
    addr: SocketAddr,
    target: &'a Target,
    host: String,
    conn: Option<Conn>,
    last: Option<Instant>,
}

impl Session<'_> {
    async fn get(&mut self, name: &str, path: &str, auth: Option<&str>) -> Result<Probe, Failure> {
        let mut probe = self.get_once(name, path, auth).await?;
        if let Some(status) = probe.status
            && (300..400).contains(&status)
            && let Some(loc) = probe.headers.get("location").and_then(|v| v.first()).cloned()
            && let Some(next) = same_host_path(&loc, &self.host, self.target)
        {
            let mut second = self.get_once(name, &next, auth).await?;
            second.redirected_from = Some(path.to_string());
            probe = second;
        }
        Ok(probe)
    }

    async fn get_once(&mut self, name: &str, path: &str, auth: Option<&str>) -> Result<Probe, Failure> {
        if let Some(last) = self.last {
            let wait = self.cfg.per_host_gap.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        self.last = Some(Instant::now());
        let mut reused = true;
        let resp = loop {
            if self.conn.as_ref().is_none_or(|c| !c.reusable) {
                let (c, _) =
                    crate::http::connect(self.addr, self.target.name.as_deref(), &self.cfg.limits, &self.cfg.tls)
                        .await?;
                self.conn = Some(c);
                reused = false;
            }
            let conn = self.conn.as_mut().expect("invariant: connected above");
            match conn.get(&self.host, path, auth, &self.cfg.limits).await {
                Ok(r) => break r,
                // A kept-alive connection the server had closed: open a new one, once.
                Err(e) if reused && matches!(e.status, ScanStatus::Reset | ScanStatus::Unreachable) => {
                    self.conn = None;
                    reused = false;
                    let _ = reused;
                }
                Err(e) => {
                    self.conn = None;
                    return Err(e);
                }
            }
        };
        Ok(probe_from_response(name, path, resp))
    }
}

/// What an observation keeps of a response: the kept headers, title, body length and hash, the anchors' snippets.
pub fn probe_from_response(name: &str, path: &str, resp: crate::http::Response) -> Probe {
    use sha2::Digest as _;
    let (title, snippets) = extract(&resp.body);
    Probe {
        name: name.to_string(),
        path: path.to_string(),
        status: Some(resp.status),
        headers: resp.headers,
        title,
        body_len: resp.body.len() as u64,
        body_sha256: Some(hex::encode(sha2::Sha256::digest(&resp.body))),
        truncated: resp.truncated,
        snippets,
        redirected_from: None,
        error: None,
    }
}

/// A `Location` on the same host, as a path; `None` for another host or scheme.
fn same_host_path(loc: &str, host: &str, target: &Target) -> Option<String> {
    if loc.starts_with('/') && !loc.starts_with("//") {
        return Some(loc.to_string());
    }
    let rest = loc.strip_prefix("https://").or_else(|| loc.strip_prefix("HTTPS://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let a = authority.to_ascii_lowercase();
    let same = a == host.to_ascii_lowercase()
        || a == format!("{}:{}", target.ip, target.port)
        || target.name.as_deref().is_some_and(|n| a == n || a == format!("{n}:{}", target.port));
    same.then(|| path.to_string())
}

/// The probe of a request that failed: no status, the failure in `error`.
pub fn failed_probe(name: &str, path: &str, f: &Failure) -> Probe {
    Probe {
        name: name.into(),
        path: path.into(),
        error: Some(format!("{}: {}", f.status.as_str(), f.detail)),
        ..Probe::default()
    }
}

fn hints_exchange(p: &Probe) -> bool {
    p.headers.contains_key("x-owa-version")
        || p.headers.contains_key("x-feserver")
        || p.status == Some(401)
        || p.title.as_deref().is_some_and(|t| t.contains("Outlook"))
        || p.snippets.iter().any(|s| s.contains("/owa/"))
}

/// Runs the ladder against one target; never fails, the observation says how it ended.
pub async fn scan(seq: Option<u64>, target: Target, cfg: &LadderConfig) -> Observation {
    let started = exhunt_model::Timestamp::new(time::OffsetDateTime::now_utc()).to_string();
    let t0 = Instant::now();
    let addr = SocketAddr::new(target.ip, target.port);
    let host = match &target.name {
        Some(n) if target.port == 443 => n.clone(),
        Some(n) => format!("{n}:{}", target.port),
        None => match target.ip {
            std::net::IpAddr::V6(a) => format!("[{a}]:{}", target.port),
            std::net::IpAddr::V4(a) => format!("{a}:{}", target.port),
        },
    };
    let mut obs = Observation {
        seq,
        ip: target.ip,
        port: target.port,
        name: target.name.clone(),
        status: ScanStatus::Success,
        phase: None,
        error: None,
        started,
        elapsed_ms: 0,
        tls: None,
        probes: Vec::new(),
        fingerprint: None,
    };
    let fail_obs = |mut obs: Observation, f: Failure| {
        obs.status = f.status;
        obs.phase = Some(f.phase.to_string());
        obs.error = Some(f.detail);
        obs
    };
    let (conn, tls) = match crate::http::connect(addr, target.name.as_deref(), &cfg.limits, &cfg.tls).await {
        Ok(x) => x,
        Err(f) => {
            let mut o = fail_obs(obs, f);
            o.elapsed_ms = t0.elapsed().as_millis() as u64;
            return o;
        }
    };
    obs.tls = Some(tls);
    let mut s = Session { cfg, addr, target: &target, host, conn: Some(conn), last: None };
    let first = match s.get("logon", "/owa/auth/logon.aspx", None).await {
        Ok(p) => p,
        Err(f) => {
            let mut o = fail_obs(obs, f);
            o.elapsed_ms = t0.elapsed().as_millis() as u64;
            return o;
        }
    };
    let mut hints = hints_exchange(&first);
    obs.probes.push(first);
    let steps: [(&str, &str, Option<String>); 1] = [("ews", "/EWS/Exchange.asmx", None)];
    for (name, path, auth) in steps {
        match s.get(name, path, auth.as_deref()).await {
            Ok(p) => {
                hints |= hints_exchange(&p);
                obs.probes.push(p);
            }
            Err(f) => obs.probes.push(failed_probe(name, path, &f)),
        }
    }
    if hints {
        if !obs.probes.iter().any(|p| p.headers.contains_key("x-owa-version")) {
            push(&mut s, &mut obs, "activesync", "/Microsoft-Server-ActiveSync", None).await;
        }
        let legacy = obs
            .probes
            .iter()
            .flat_map(|p| p.snippets.iter())
            .any(|x| crate::detect::logon_build(x).is_some_and(|b| b.major < 15));
        if !legacy {
            push(&mut s, &mut obs, "exporttool", EXPORTTOOL, None).await;
        }
        let auth = format!("NTLM {TYPE1_B64}");
        push(&mut s, &mut obs, "ntlm", "/rpc/", Some(&auth)).await;
        let got = obs.probes.iter().any(|p| {
            p.name == "ntlm"
                && crate::ntlm::type2_from_headers(p.headers.get("www-authenticate").into_iter().flatten()).is_some()
        });
        if !got {
            push(&mut s, &mut obs, "ntlm", "/EWS/", Some(&auth)).await;
        }
        if cfg.webshells {
            let mut rng = cfg.seed ^ u64::from(target.port) ^ crate::target::ip_to_u128(target.ip) as u64;
            for dir in crate::webshell::dirs() {
                rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let path = format!("{dir}{:016x}.aspx", rng);
                push(&mut s, &mut obs, "baseline", &path, None).await;
            }
            for path in crate::webshell::PATHS {
                push(&mut s, &mut obs, "webshell", path, None).await;
            }
        }
    }
    obs.elapsed_ms = t0.elapsed().as_millis() as u64;
    obs
}

async fn push(s: &mut Session<'_>, obs: &mut Observation, name: &str, path: &str, auth: Option<&str>) {
    match s.get(name, path, auth).await {
        Ok(p) => obs.probes.push(p),
        Err(f) => obs.probes.push(failed_probe(name, path, &f)),
    }
}
