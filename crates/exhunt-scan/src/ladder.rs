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
//!
//! Without a per-host rate (`--per-host-rate 0`), the requests of one step are pipelined on the one connection
//! (2 and 3 together; 4, 5 and 6 together; the web-shell paths 16 at a time): the same requests, in the same
//! order, in fewer round trips. With a per-host rate they go one at a time, spaced by it.

use crate::http::{Conn, Failure, Limits};
use crate::rate::{HostGuard, HostLimiter};
use crate::target::Target;
use exhunt_detect::scan::{BodyAnchors, baseline_dirs, logon_build, type2_from_headers};
use exhunt_kb::scan::{Markers, ScanPack};
use exhunt_model::{Observation, Probe, ScanStatus};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

pub const EXPORTTOOL: &str = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application";

/// nmap's `http-ntlm-info` Type-1 (NEGOTIATE_MESSAGE), base64: the server answers with a Type-2 that names it.
pub const TYPE1_B64: &str = "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==";

/// What the ladder takes from the knowledge base's scan pack (`kb/scan/`), prepared once per scan: the body
/// anchors, the markers, the web-shell paths and their folders.
pub struct PackProbes {
    pub anchors: BodyAnchors,
    pub markers: Markers,
    /// In the pack's order: the order they are sent in.
    pub webshell_paths: Vec<String>,
    /// One random name in each is the soft-404 baseline.
    pub baseline_dirs: Vec<String>,
}

impl PackProbes {
    pub fn new(pack: &ScanPack) -> PackProbes {
        PackProbes {
            anchors: BodyAnchors::new(&pack.markers),
            markers: pack.markers.clone(),
            webshell_paths: pack.webshell_paths.iter().map(|p| p.url.clone()).collect(),
            baseline_dirs: baseline_dirs(&pack.webshell_paths),
        }
    }
}

/// What the ladder needs.
#[derive(Clone)]
pub struct LadderConfig {
    pub limits: Limits,
    pub tls: Arc<rustls::ClientConfig>,
    /// `--per-host-rate`: requests to one address, spaced across every port and target of the scan (share one
    /// limiter between all ladders of a scan; [`HostLimiter::unlimited`] for none).
    pub per_host: Arc<HostLimiter>,
    pub webshells: bool,
    pub seed: u64,
    pub probes: Arc<PackProbes>,
}

impl LadderConfig {
    /// The ladder with the scanner's TLS configuration, the knowledge base's scan pack, no per-host rate and no
    /// web-shell probing; set the fields to change them.
    pub fn new(pack: &ScanPack, limits: Limits, seed: u64) -> LadderConfig {
        LadderConfig {
            limits,
            tls: crate::http::tls_config(),
            per_host: Arc::new(HostLimiter::unlimited()),
            webshells: false,
            seed,
            probes: Arc::new(PackProbes::new(pack)),
        }
    }
}

struct Session<'a> {
    cfg: &'a LadderConfig,
    addr: SocketAddr,
    target: &'a Target,
    host: String,
    conn: Option<Conn>,
    /// Requests already written on `conn` with its handshake ([`crate::http::connect`]'s `early`), not yet read:
    /// the next pipelined step does not write them again.
    sent: usize,
    /// This target's hold on its address's request schedule.
    turn: HostGuard<'a>,
}

/// One request of the ladder: probe name, path, `Authorization` value.
type Req<'r> = (&'r str, &'r str, Option<&'r str>);

impl Session<'_> {
    async fn get(&mut self, name: &str, path: &str, auth: Option<&str>) -> Result<Probe, Failure> {
        let probe = self.get_once(name, path, auth).await?;
        self.follow(name, path, auth, probe).await
    }

    /// Several requests. Without a per-host rate they are pipelined (HTTP/1.1 §9.3.2: one write of every request,
    /// then the responses in order), which halves the round trips of a fingerprint; with one, they go one at a
    /// time, spaced. Either way each answer then follows its one same-host redirect, and each request ends in its
    /// own result; with `stop`, the first failure ends the list (the requests after it are not answered).
    async fn get_all(&mut self, reqs: &[Req<'_>], stop: bool) -> Vec<Result<Probe, Failure>> {
        let mut out = Vec::with_capacity(reqs.len());
        let pipelined =
            if reqs.len() < 2 || !self.cfg.per_host.gap().is_zero() { Vec::new() } else { self.pipeline(reqs).await };
        for ((name, path, auth), first) in reqs.iter().zip(pipelined) {
            out.push(match first {
                Ok(p) => self.follow(name, path, *auth, p).await,
                Err(e) => Err(e),
            });
            if stop && out.last().is_some_and(Result::is_err) {
                return out;
            }
        }
        // One at a time: without pipelining, or the rest after a pipelined request failed.
        for (name, path, auth) in &reqs[out.len()..] {
            out.push(self.get(name, path, *auth).await);
            if stop && out.last().is_some_and(Result::is_err) {
                break;
            }
        }
        out
    }

    /// The pipelined exchange of [`Session::get_all`]. A server that closes the connection part way (after a
    /// `Connection: close` answer, or by dropping the pipelined requests) gets the unanswered rest again on a new
    /// connection; a request that fails otherwise ends the list with its failure (the caller decides whether the
    /// rest go on, one at a time, as they would have without pipelining).
    async fn pipeline(&mut self, reqs: &[Req<'_>]) -> Vec<Result<Probe, Failure>> {
        let mut results: Vec<Result<Probe, Failure>> = Vec::with_capacity(reqs.len());
        let mut bytes = Vec::with_capacity(256 * reqs.len());
        while results.len() < reqs.len() {
            let rest = &reqs[results.len()..];
            let fresh = self.conn.as_ref().is_none_or(|c| !c.reusable);
            if fresh {
                match crate::http::connect(self.addr, self.target.name.as_deref(), &self.cfg.limits, &self.cfg.tls, &[])
                    .await
                {
                    Ok((c, _)) => self.conn = Some(c),
                    Err(e) => {
                        results.extend(rest.iter().map(|_| Err(e.clone())));
                        break;
                    }
                }
            }
            // Requests the handshake already carried are not written again (a new connection carries none).
            let carried = std::mem::take(&mut self.sent);
            let sent = if fresh { 0 } else { carried.min(rest.len()) };
            bytes.clear();
            for (_, path, auth) in &rest[sent..] {
                crate::http::request(&mut bytes, &self.host, path, *auth);
            }
            let limits = self.cfg.limits;
            let conn = self.conn.as_mut().expect("invariant: connected above");
            let mut answered = 0;
            let mut failed = if bytes.is_empty() { None } else { conn.send(&bytes, &limits).await.err() };
            if failed.is_none() {
                for (name, path, _) in rest {
                    match conn.recv(&limits).await {
                        Ok(resp) => {
                            results.push(Ok(probe_from_response(name, path, resp, &self.cfg.probes.anchors)));
                            answered += 1;
                            if !conn.reusable {
                                break;
                            }
                        }
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
            }
            let Some(e) = failed else { continue };
            self.conn = None;
            let closed = matches!(e.status, ScanStatus::Reset | ScanStatus::Unreachable);
            // Closed under us: try the rest again if that can make progress (something was answered, or the
            // connection was an old one); otherwise the first unanswered request ends with the failure.
            if closed && (answered > 0 || !fresh) {
                continue;
            }
            results.push(Err(e));
            break;
        }
        results
    }

    /// Follows one same-host redirect of `probe`, as [`Session::get`] does.
    async fn follow(&mut self, name: &str, path: &str, auth: Option<&str>, probe: Probe) -> Result<Probe, Failure> {
        let mut probe = probe;
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
        let mut reused = true;
        let resp = loop {
            if self.conn.as_ref().is_none_or(|c| !c.reusable) {
                let (c, _) =
                    crate::http::connect(self.addr, self.target.name.as_deref(), &self.cfg.limits, &self.cfg.tls, &[])
                        .await?;
                self.conn = Some(c);
                reused = false;
            }
            // The address's next free instant, taken once connected so that a handshake does not eat into the gap
            // between two requests (each attempt is a request: a retry after a reset reserves again).
            self.turn.wait().await;
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
        Ok(probe_from_response(name, path, resp, &self.cfg.probes.anchors))
    }
}

/// What an observation keeps of a response: the kept headers, title, body length and hash, the anchors' snippets.
pub fn probe_from_response(name: &str, path: &str, resp: crate::http::Response, anchors: &BodyAnchors) -> Probe {
    use sha2::Digest as _;
    let (title, snippets) = anchors.extract(&resp.body);
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

/// Anything of Exchange in a first answer: its headers, a 401, OWA's title, or a resource path under OWA.
fn hints_exchange(p: &Probe, m: &Markers) -> bool {
    p.headers.contains_key("x-owa-version")
        || p.headers.contains_key("x-feserver")
        || p.status == Some(401)
        || p.title.as_deref().is_some_and(|t| m.owa_title.iter().any(|w| t.contains(w.as_str())))
        || p.snippets.iter().any(|s| s.contains(m.legacy_build_after.as_str()))
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
    // Steps 2 and 3 (pipelined when no per-host rate applies: then written with the handshake's last flight).
    let firsts: [Req<'_>; 2] = [("logon", "/owa/auth/logon.aspx", None), ("ews", "/EWS/Exchange.asmx", None)];
    let mut early = Vec::new();
    if cfg.per_host.gap().is_zero() {
        for (_, path, auth) in &firsts {
            crate::http::request(&mut early, &host, path, *auth);
        }
    }
    let (conn, tls) = match crate::http::connect(addr, target.name.as_deref(), &cfg.limits, &cfg.tls, &early).await {
        Ok(x) => x,
        Err(f) => {
            let mut o = fail_obs(obs, f);
            o.elapsed_ms = t0.elapsed().as_millis() as u64;
            return o;
        }
    };
    obs.tls = Some(tls);
    let turn = cfg.per_host.enter(target.ip);
    let sent = if early.is_empty() { 0 } else { firsts.len() };
    let mut s = Session { cfg, addr, target: &target, host, conn: Some(conn), sent, turn };
    // A failed logon request ends the target.
    let mut firsts = s.get_all(&firsts, true).await;
    let ews = (firsts.len() == 2).then(|| firsts.pop()).flatten();
    let first = match firsts.pop() {
        Some(Ok(p)) => p,
        Some(Err(f)) => {
            let mut o = fail_obs(obs, f);
            o.elapsed_ms = t0.elapsed().as_millis() as u64;
            return o;
        }
        None => unreachable!("invariant: get_all answers the first request"),
    };
    let mut hints = hints_exchange(&first, &cfg.probes.markers);
    obs.probes.push(first);
    match ews {
        Some(Ok(p)) => {
            hints |= hints_exchange(&p, &cfg.probes.markers);
            obs.probes.push(p);
        }
        Some(Err(f)) => obs.probes.push(failed_probe("ews", "/EWS/Exchange.asmx", &f)),
        None => {}
    }
    if hints {
        let auth = format!("NTLM {TYPE1_B64}");
        let mut reqs: Vec<Req<'_>> = Vec::with_capacity(3);
        if !obs.probes.iter().any(|p| p.headers.contains_key("x-owa-version")) {
            reqs.push(("activesync", "/Microsoft-Server-ActiveSync", None));
        }
        let legacy = obs
            .probes
            .iter()
            .flat_map(|p| p.snippets.iter())
            .any(|x| logon_build(x, &cfg.probes.markers).is_some_and(|b| b.major < 15));
        if !legacy {
            reqs.push(("exporttool", EXPORTTOOL, None));
        }
        reqs.push(("ntlm", "/rpc/", Some(&auth)));
        push_all(&mut s, &mut obs, &reqs).await;
        let got = obs.probes.iter().any(|p| {
            p.name == "ntlm" && type2_from_headers(p.headers.get("www-authenticate").into_iter().flatten()).is_some()
        });
        if !got {
            push_all(&mut s, &mut obs, &[("ntlm", "/EWS/", Some(&auth))]).await;
        }
        if cfg.webshells {
            let mut rng = cfg.seed ^ u64::from(target.port) ^ exhunt_model::net::to_u128(target.ip) as u64;
            let baselines: Vec<String> = cfg
                .probes
                .baseline_dirs
                .iter()
                .map(|dir| {
                    rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    format!("{dir}{:016x}.aspx", rng)
                })
                .collect();
            let mut reqs: Vec<Req<'_>> = baselines.iter().map(|p| ("baseline", p.as_str(), None)).collect();
            reqs.extend(cfg.probes.webshell_paths.iter().map(|p| ("webshell", p.as_str(), None)));
            for chunk in reqs.chunks(WEBSHELL_BATCH) {
                push_all(&mut s, &mut obs, chunk).await;
            }
        }
    }
    if let Some(c) = s.conn.take() {
        c.abort();
    }
    obs.elapsed_ms = t0.elapsed().as_millis() as u64;
    obs
}

/// Web-shell paths pipelined at once: a bounded batch, so that a slow host holds few unanswered requests.
const WEBSHELL_BATCH: usize = 16;

async fn push_all(s: &mut Session<'_>, obs: &mut Observation, reqs: &[Req<'_>]) {
    for ((name, path, _), r) in reqs.iter().zip(s.get_all(reqs, false).await) {
        match r {
            Ok(p) => obs.probes.push(p),
            Err(f) => obs.probes.push(failed_probe(name, path, &f)),
        }
    }
}
