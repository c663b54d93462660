//! Synthetic Exchange triage folders with ground truth (the evidence half of the lab).
//!
//! [`generate`] writes a KAPE-style collection of drive C of one Exchange server over 2021-02-20 → 2021-03-20:
//! HttpProxy, ECP server, OAB generator and IIS logs full of ordinary traffic and hard negatives, the web roots and
//! IIS configuration, and — by [`Scenario`] — scanner probes, the ProxyLogon chain, web shells and their use.
//! `truth.jsonl` at the folder root lists every planted trace with its file and line. Output is a pure function of
//! the options: the same seed writes the same bytes. Logs are streamed, so gigabytes take no more memory than
//! megabytes. Layout, scenarios and the truth format: `docs/lab.md`.

mod attack;
mod clock;
mod event;
mod files;
mod out;
mod traffic;
mod truth;
mod world;

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use exhunt_model::{FindingKind, HostVerdict, Severity};

use crate::LabError;
use crate::rng::Rng;
use clock::{DAY, HOUR};
use event::{Event, Expect, Proto};
use out::{Family, Stream};
use truth::{BuildRecord, ExpectRecord, ScenarioRecord, ShellRecord, StatsRecord, Window};
use world::{WINDOW_END, WINDOW_START, World};

pub use attack::ACTOR_IPS;

/// Default size of the logs: about 20 MB.
pub const DEFAULT_SIZE: u64 = 20_000_000;
/// Smallest size accepted (below it the fixed daily events alone exceed the target).
pub const MIN_SIZE: u64 = 256 * 1024;

/// What the simulated server went through. Each scenario adds to the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Scenario {
    /// Background traffic only.
    #[default]
    Clean,
    /// Plus internet-wide scanners probing CVE-2021-26855.
    Probed,
    /// Plus a successful ProxyLogon chain from an actor address (CVE-2021-26855, -27065, -26858); the web shells it
    /// wrote are gone.
    Exploited,
    /// Plus web shells on disk where the chain wrote them, never requested.
    Backdoored,
    /// Plus China Chopper requests to the shells from actor addresses.
    Used,
}

impl Scenario {
    pub const ALL: [Scenario; 5] =
        [Scenario::Clean, Scenario::Probed, Scenario::Exploited, Scenario::Backdoored, Scenario::Used];

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Clean => "clean",
            Scenario::Probed => "probed",
            Scenario::Exploited => "exploited",
            Scenario::Backdoored => "backdoored",
            Scenario::Used => "used",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = LabError;
    fn from_str(s: &str) -> Result<Scenario, LabError> {
        Scenario::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| LabError::UnknownScenario(s.to_string()))
    }
}

/// Options of [`generate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceOptions {
    pub seed: u64,
    /// Target size of the logs in bytes (the folder's other files add a few tens of kilobytes).
    pub size: u64,
    pub scenario: Scenario,
    /// NetBIOS name of the server; chosen from the seed when `None`.
    pub host: Option<String>,
    /// The campaign's actor group attacking this server, `(i, n)`: group `i` of `n`; each group draws addresses,
    /// shell names and web-shell clients from its own share of the public lists (see [`campaign`]). `None`: any.
    pub actor: Option<(u32, u32)>,
}

impl Default for EvidenceOptions {
    fn default() -> EvidenceOptions {
        EvidenceOptions { seed: 0, size: DEFAULT_SIZE, scenario: Scenario::Clean, host: None, actor: None }
    }
}

/// A build and the time span it was installed (RFC 3339 UTC, `to` exclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledBuild {
    pub build: String,
    pub from: String,
    pub to: String,
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceSummary {
    pub dir: PathBuf,
    pub scenario: Scenario,
    pub seed: u64,
    pub host: String,
    /// The verdict a correct hunt reaches (`exhunt_model::HostVerdict`).
    pub verdict: HostVerdict,
    pub builds: Vec<InstalledBuild>,
    /// Files under `C/` (logs and others; `truth.jsonl` not included).
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Bytes of the logs alone (what `size` aims at).
    pub log_bytes: u64,
    /// Lines of the logs, headers included.
    pub lines: u64,
    /// `expect` records in `truth.jsonl`.
    pub expects: u64,
    pub truth: PathBuf,
}

const HTTPPROXY: &str = "C/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy";

/// Writes a synthetic triage folder into `dir` (created if missing; it must be empty).
pub fn generate(dir: &Path, opts: &EvidenceOptions) -> Result<EvidenceSummary, LabError> {
    if opts.size < MIN_SIZE {
        return Err(LabError::InvalidOption {
            name: "size",
            reason: format!("{} bytes is below the minimum of {MIN_SIZE}", opts.size),
        });
    }
    if let Some(h) = &opts.host
        && (h.is_empty() || h.len() > 15 || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(LabError::InvalidOption {
            name: "host",
            reason: format!("`{h}` is not a NetBIOS name (1-15 letters, digits or `-`)"),
        });
    }
    prepare_dir(dir)?;

    let times = attack::times(opts.seed);
    let world = World::new(opts.seed, opts.scenario, opts.host.as_deref(), times.end);
    let plan = attack::plan(&world, opts.scenario, opts.seed, times, opts.actor);

    let mut expects: Vec<ExpectRecord> = Vec::new();
    let mut statics = files::Written::default();
    files::write_static(dir, &world, &mut statics)?;
    for s in plan.shells.iter().filter(|s| s.on_disk) {
        let rel = s.loc.rel();
        files::write_file(dir, &rel, &s.content, s.written, &mut statics)?;
        expects.push(ExpectRecord {
            kind_tag: "expect",
            id: String::new(),
            kind: FindingKind::Webshell,
            check: "webshell-file",
            path: rel,
            line: None,
            time: Some(clock::rfc3339(s.written)),
            min_severity: Severity::High,
            required: true,
            indicators: Vec::new(),
            matches: if s.family == "oab-export" { "ExternalUrl".into() } else { "eval(Request.Item[".into() },
            family: Some(s.family),
            note: if s.family == "oab-export" {
                "OAB virtual directory export with a JScript page in ExternalUrl (CVE-2021-27065)"
            } else {
                "China Chopper one-liner (written through CVE-2021-26858)"
            },
        });
    }

    let mut logs = Logs::new(dir, &world);
    let mut rng = Rng::new(opts.seed, 4);
    let total_weight: f64 = hours().map(traffic::hour_weight).sum();
    let mut weight_left = total_weight;
    let mut bg_events: u64 = 0;
    let mut bg_bytes: u64 = 0;
    let mut carry = 0.0f64;
    let mut planted = plan.events.iter().peekable();
    let mut scheduled: std::collections::VecDeque<Event> = std::collections::VecDeque::new();
    let mut batch: Vec<Event> = Vec::new();
    for h in hours() {
        batch.clear();
        if (h - WINDOW_START) % DAY == 0 {
            let mut day = Vec::new();
            traffic::daily(&world, &mut rng, h, h == WINDOW_START + DAY, &mut day);
            day.sort_by_key(Event::time);
            scheduled.extend(day);
        }
        while scheduled.front().is_some_and(|e| e.time() < h + HOUR) {
            batch.extend(scheduled.pop_front());
        }
        let weight = traffic::hour_weight(h);
        let left = opts.size.saturating_sub(logs.bytes()) as f64;
        let avg = if bg_events > 200 { bg_bytes as f64 / bg_events as f64 } else { 1300.0 };
        let want = left * weight / weight_left / avg + carry;
        let n = want.floor().max(0.0);
        carry = want - n;
        weight_left -= weight;
        let before = logs.bytes();
        traffic::hour(&world, &mut rng, h, n as u64, &mut batch);
        while let Some(e) = planted.next_if(|e| e.time() < h + HOUR) {
            batch.push(e.clone());
        }
        batch.sort_by_key(Event::time);
        for e in &batch {
            logs.write(e, &world, &mut expects)?;
        }
        bg_events += n as u64;
        bg_bytes += logs.bytes() - before;
    }
    logs.close()?;

    // Number the expectations in the order they were written (shell files first).
    for (i, e) in expects.iter_mut().enumerate() {
        e.id = format!("exp-{:04}", i + 1);
    }
    let verdict = verdict(&world, opts.scenario, &plan);
    let builds: Vec<InstalledBuild> = world
        .builds
        .iter()
        .map(|p| InstalledBuild { build: p.build.to_string(), from: clock::rfc3339(p.from), to: clock::rfc3339(p.to) })
        .collect();
    let scenario = ScenarioRecord {
        kind: "scenario",
        scenario: opts.scenario.as_str(),
        seed: opts.seed,
        host: world.host.clone(),
        fqdn: world.fqdn.clone(),
        verdict: verdict.as_str(),
        product: world.line.name,
        builds: builds
            .iter()
            .map(|b| BuildRecord { build: b.build.clone(), from: b.from.clone(), to: b.to.clone() })
            .collect(),
        window: Window { from: clock::rfc3339(WINDOW_START), to: clock::rfc3339(WINDOW_END) },
        size: opts.size,
        actor_ips: plan.actor_ips.clone(),
        actor_user_agents: plan.actor_uas.clone(),
        scanner_ips: plan.scanner_ips.clone(),
        shells: plan
            .shells
            .iter()
            .map(|s| ShellRecord {
                path: s.loc.rel(),
                windows_path: s.loc.unc().replace("\\\\127.0.0.1\\c$", "C:"),
                url: s.loc.url(),
                family: s.family,
                written: clock::rfc3339(s.written),
                on_disk: s.on_disk,
            })
            .collect(),
    };
    let stats = StatsRecord {
        kind: "stats",
        files: statics.files + logs.files(),
        bytes: statics.bytes + logs.bytes(),
        log_bytes: logs.bytes(),
        lines: logs.lines(),
        expects: expects.len() as u64,
    };
    let truth = dir.join("truth.jsonl");
    write_truth(&truth, &scenario, &expects, &stats)?;
    Ok(EvidenceSummary {
        dir: dir.to_path_buf(),
        scenario: opts.scenario,
        seed: opts.seed,
        host: world.host.clone(),
        verdict,
        builds,
        files: stats.files,
        bytes: stats.bytes,
        log_bytes: stats.log_bytes,
        lines: stats.lines,
        expects: stats.expects,
        truth,
    })
}

fn hours() -> impl Iterator<Item = i64> {
    (WINDOW_START..WINDOW_END).step_by(HOUR as usize)
}

/// The verdict, as `HostVerdict` defines it: a server that ran, at any time in the window, a build the knowledge
/// base calls vulnerable to any chain (ProxyLogon, ProxyShell or ProxyNotShell: the March 2021 update still lacks the
/// later fixes) is `vulnerable-not-exploited`, even if it was patched later.
fn verdict(w: &World, scenario: Scenario, plan: &attack::Plan) -> HostVerdict {
    let catalog = &exhunt_kb::Kb::builtin().catalog;
    let vulnerable = w.builds.iter().any(|p| {
        exhunt_model::Build::parse(&p.build.to_string())
            .is_ok_and(|b| catalog.verdict(&b).chains.iter().any(|c| c.status == exhunt_model::ChainStatus::Vulnerable))
    });
    match scenario {
        Scenario::Clean if vulnerable => HostVerdict::VulnerableNotExploited,
        Scenario::Clean => HostVerdict::Clean,
        Scenario::Probed | Scenario::Exploited => HostVerdict::ExploitationAttempted,
        Scenario::Backdoored => HostVerdict::Compromised,
        Scenario::Used if plan.shells.iter().any(|s| s.on_disk) => HostVerdict::BackdoorUsed,
        Scenario::Used => HostVerdict::Compromised,
    }
}

fn prepare_dir(dir: &Path) -> Result<(), LabError> {
    fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
    let mut entries = fs::read_dir(dir).map_err(|e| LabError::io(dir, e))?;
    if entries.next().is_some() {
        return Err(LabError::NotEmpty { path: dir.to_path_buf() });
    }
    Ok(())
}

fn write_truth(
    path: &Path,
    scenario: &ScenarioRecord,
    expects: &[ExpectRecord],
    stats: &StatsRecord,
) -> Result<(), LabError> {
    let mut out = Vec::new();
    let mut line = |v: &dyn erased::Ser| -> Result<(), LabError> {
        v.to_json(&mut out).map_err(|e| LabError::io(path, std::io::Error::other(e)))?;
        out.push(b'\n');
        Ok(())
    };
    line(scenario)?;
    for e in expects {
        line(e)?;
    }
    line(stats)?;
    let mut f = fs::File::create(path).map_err(|e| LabError::io(path, e))?;
    f.write_all(&out).map_err(|e| LabError::io(path, e))
}

/// Serialising records of different types through one closure.
mod erased {
    pub trait Ser {
        fn to_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
            serde_json::to_writer(out, self)
        }
    }
}

/// The log streams of the folder.
struct Logs {
    httpproxy: Vec<Stream>,
    ecp: Stream,
    oab: Stream,
    iis_fe: Stream,
    iis_be: Stream,
    drop: u128,
    buf: Vec<u8>,
}

impl Logs {
    fn new(root: &Path, w: &World) -> Logs {
        let drop = out::drop_mask(w.line.vulnerable);
        Logs {
            httpproxy: Proto::ALL
                .iter()
                .map(|p| Stream::new(root, &format!("{HTTPPROXY}/{}", p.as_str()), Family::HttpProxy { drop }))
                .collect(),
            ecp: Stream::new(
                root,
                "C/Program Files/Microsoft/Exchange Server/V15/Logging/ECP/Server",
                Family::EcpServer,
            ),
            oab: Stream::new(
                root,
                "C/Program Files/Microsoft/Exchange Server/V15/Logging/OABGeneratorLog",
                Family::OabGenerator,
            ),
            iis_fe: Stream::new(root, "C/inetpub/logs/LogFiles/W3SVC1", Family::Iis),
            iis_be: Stream::new(root, "C/inetpub/logs/LogFiles/W3SVC2", Family::Iis),
            drop,
            buf: Vec::with_capacity(4096),
        }
    }

    fn streams(&self) -> impl Iterator<Item = &Stream> {
        self.httpproxy.iter().chain([&self.ecp, &self.oab, &self.iis_fe, &self.iis_be])
    }

    fn bytes(&self) -> u64 {
        self.streams().map(|s| s.bytes).sum()
    }

    fn lines(&self) -> u64 {
        self.streams().map(|s| s.lines).sum()
    }

    fn files(&self) -> u64 {
        self.streams().map(|s| s.files).sum()
    }

    fn write(&mut self, e: &Event, w: &World, expects: &mut Vec<ExpectRecord>) -> Result<(), LabError> {
        match e {
            Event::Http(h) => {
                let build = w.build_at(h.t);
                self.buf.clear();
                event::iis_line(&mut self.buf, h, false);
                let pos = self.iis_fe.write(h.t, build, &self.buf)?;
                record(expects, h.plant_fe.as_ref(), pos, h.t);
                if let Some(proto) = h.proto {
                    self.buf.clear();
                    event::httpproxy_row(&mut self.buf, h, proto, build, self.drop, w);
                    let pos = self.httpproxy[proto.index()].write(h.t, build, &self.buf)?;
                    record(expects, h.plant_proxy.as_ref(), pos, h.t);
                }
                if h.be_status.is_some() {
                    self.buf.clear();
                    event::iis_line(&mut self.buf, h, true);
                    let pos = self.iis_be.write(h.t, build, &self.buf)?;
                    record(expects, h.plant_be.as_ref(), pos, h.t);
                }
            }
            Event::Ecp(x) => {
                self.buf.clear();
                event::ecp_line(&mut self.buf, x, w);
                let pos = self.ecp.write(x.t, w.build_at(x.t), &self.buf)?;
                record(expects, x.plant.as_ref(), pos, x.t);
            }
            Event::Oab(x) => {
                self.buf.clear();
                event::oab_line(&mut self.buf, x);
                let pos = self.oab.write(x.t, w.build_at(x.t), &self.buf)?;
                record(expects, x.plant.as_ref(), pos, x.t);
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), LabError> {
        for s in self.httpproxy.iter_mut().chain([&mut self.ecp, &mut self.oab, &mut self.iis_fe, &mut self.iis_be]) {
            s.close()?;
        }
        Ok(())
    }
}

fn record(expects: &mut Vec<ExpectRecord>, plant: Option<&Expect>, pos: out::Pos, t: i64) {
    let Some(x) = plant else { return };
    expects.push(ExpectRecord {
        kind_tag: "expect",
        id: String::new(),
        kind: x.kind,
        check: x.check,
        path: pos.rel,
        line: Some(pos.line),
        time: Some(clock::rfc3339(t)),
        min_severity: x.min_severity,
        required: x.required,
        indicators: x.indicators.clone(),
        matches: x.matches.clone(),
        family: None,
        note: x.note,
    });
}

/// Options of [`campaign`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignOptions {
    pub seed: u64,
    /// Servers (each a triage folder `host-NN/`).
    pub hosts: u32,
    /// Actor groups; the attacked servers are dealt to them in turn.
    pub groups: u32,
    /// Size of each server's logs.
    pub size: u64,
}

/// One server of a campaign, as `campaign.jsonl` lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CampaignHost {
    /// The folder under the campaign's folder (`host-03`).
    pub folder: String,
    /// NetBIOS name (`EXC03`), unique in the campaign.
    pub host: String,
    pub scenario: &'static str,
    /// The actor group that attacked it; `null` for servers no group exploited (clean, probed).
    pub group: Option<u32>,
    /// The verdict a correct hunt reaches.
    pub verdict: &'static str,
}

/// Writes a campaign: `hosts` triage folders `host-NN/` attacked by `groups` actor groups, and `campaign.jsonl`
/// with each server's group. Every fifth server is only probed and every seventh is clean; the others are dealt to
/// the groups in turn with the scenarios `used`, `backdoored`, `exploited` in turn. A group's servers share the
/// group's first address (its infrastructure); groups share no address, shell name or web-shell client, so a
/// correct hunt of the folder finds exactly one activity group per group with two or more servers (see
/// `docs/lab.md`).
pub fn campaign(dir: &Path, opts: &CampaignOptions) -> Result<Vec<CampaignHost>, LabError> {
    if opts.hosts == 0 || opts.hosts > 999 || opts.groups == 0 || opts.groups > 9 {
        return Err(LabError::InvalidOption {
            name: "hosts",
            reason: format!("{} hosts in {} groups: use 1-999 hosts and 1-9 groups", opts.hosts, opts.groups),
        });
    }
    prepare_dir(dir)?;
    let mut out = Vec::new();
    let mut attacked = 0u32;
    for k in 0..opts.hosts {
        let folder = format!("host-{k:02}");
        let host = format!("EXC{k:02}");
        let (scenario, group) = if k % 7 == 6 {
            (Scenario::Clean, None)
        } else if k % 5 == 4 {
            (Scenario::Probed, None)
        } else {
            let g = attacked % opts.groups;
            let s =
                [Scenario::Used, Scenario::Backdoored, Scenario::Exploited][((attacked / opts.groups) % 3) as usize];
            attacked += 1;
            (s, Some(g))
        };
        let o = EvidenceOptions {
            seed: opts.seed.wrapping_mul(1000).wrapping_add(u64::from(k)),
            size: opts.size,
            scenario,
            host: Some(host.clone()),
            actor: group.map(|g| (g, opts.groups)),
        };
        let s = generate(&dir.join(&folder), &o)?;
        out.push(CampaignHost { folder, host, scenario: scenario.as_str(), group, verdict: s.verdict.as_str() });
    }
    let mut text = Vec::new();
    for h in &out {
        serde_json::to_writer(&mut text, h).map_err(|e| LabError::io(dir, std::io::Error::other(e)))?;
        text.push(b'\n');
    }
    let path = dir.join("campaign.jsonl");
    fs::write(&path, text).map_err(|e| LabError::io(&path, e))?;
    Ok(out)
}
