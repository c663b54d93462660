//! Each lab address's personality, a pure function of (seed, address), and its ground truth.

use crate::rng::Rng;
use exhunt_kb::{Catalog, Kb};
use exhunt_model::{Build, Chain, ChainStatus, Observation};
use serde::Serialize;
use std::net::Ipv4Addr;

/// What a lab address is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Exchange,
    /// IIS showing its default page.
    Iis,
    /// nginx showing its default page.
    Nginx,
    /// An OWA look-alike: the logon page of a real 2016 CU9 server, nothing behind it (like joda32/owa-honeypot).
    Honeypot,
    /// Nothing listens (refused, or reset at once when the lab listens on the whole loopback interface).
    Closed,
    /// A server that misbehaves on purpose.
    Hostile,
}

/// How a hostile host misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hostile {
    /// Sends its response head one byte every two seconds.
    Slowloris,
    /// A body without end.
    EndlessBody,
    /// A small gzip body that inflates to 64 MiB of zeros.
    GzipBomb,
    /// Answers the TLS ClientHello with bytes that are not TLS.
    BrokenTls,
    /// Redirects every path to another path, forever.
    RedirectLoop,
    /// One megabyte of response headers.
    HugeHeaders,
    /// Answers an HTTP request with random bytes.
    Garbage,
}

pub const HOSTILES: [Hostile; 7] = [
    Hostile::Slowloris,
    Hostile::EndlessBody,
    Hostile::GzipBomb,
    Hostile::BrokenTls,
    Hostile::RedirectLoop,
    Hostile::HugeHeaders,
    Hostile::Garbage,
];

/// What an Exchange host does with a path it does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Soft404 {
    /// The IIS 404 page with status 404.
    NotFound,
    /// Status 200 and the same page for everything.
    Ok200,
    /// A 302 to the OWA logon page.
    RedirectLogon,
    /// Status 404 with the organisation's own page.
    Custom404,
}

/// The AD names an Exchange host leaks in its NTLM Type-2 challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdNames {
    pub netbios_domain: String,
    pub netbios_computer: String,
    pub dns_domain: String,
    pub dns_computer: String,
    pub dns_tree: String,
}

/// A planted web shell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shell {
    pub path: String,
    /// `oab-export` (the ProxyLogon CVE-2021-27065 file: an exported OAB virtual directory) or `empty` (a China
    /// Chopper page answering a bare GET with nothing).
    pub style: &'static str,
}

/// One simulated host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Host {
    pub addr: Ipv4Addr,
    pub kind: Kind,
    /// The name in the host's certificate.
    pub hostname: String,
    pub product: Option<String>,
    pub build: Option<Build>,
    pub x_owa_version: bool,
    pub exporttool: bool,
    /// `X-FEServer` (Exchange 2013 and later).
    pub feserver: Option<String>,
    pub ntlm: Option<AdNames>,
    pub soft404: Option<Soft404>,
    pub webshells: Vec<Shell>,
    pub hostile: Option<Hostile>,
}

/// The chance that a vulnerable Exchange host of the lab is patched at each later epoch ([`Host::at`]).
pub const PATCH_CHANCE: f64 = 0.5;
/// The chance that a host patched at an epoch also has its web shells removed.
pub const CLEAN_CHANCE: f64 = 0.4;

const ORGS: &[&str] = &["contoso", "fabrikam", "northwind", "tailspin", "woodgrove", "adatum", "litware", "proseware"];

impl Host {
    /// The personality of `addr` under `seed`. Builds come from the knowledge base's catalog (Exchange 2010, 2013,
    /// 2016, 2019); web shells are planted at paths of its scan pack (`kb/scan/webshell-paths.toml`), the list the
    /// scanner probes.
    pub fn new(seed: u64, addr: Ipv4Addr, kb: &Kb) -> Host {
        Host::at(seed, 0, addr, kb)
    }

    /// The host at `addr` in a later epoch of the lab's world: epoch 0 is [`Host::new`]; at each later epoch every
    /// Exchange host still vulnerable to a chain is patched with chance [`PATCH_CHANCE`] to the newest build of its
    /// product in the catalog, and a patched host's web shells are cleaned up with chance [`CLEAN_CHANCE`]: the
    /// others keep their back doors, as in 2021 ("patching does not remove web shells"). Everything else stays.
    pub fn at(seed: u64, epoch: u32, addr: Ipv4Addr, kb: &Kb) -> Host {
        let mut host = Host::genesis(seed, addr, kb);
        for e in 1..=epoch {
            host.patch_in(seed, e, kb);
        }
        host
    }

    fn patch_in(&mut self, seed: u64, epoch: u32, kb: &Kb) {
        let Some(build) = self.build.filter(|_| self.kind == Kind::Exchange) else { return };
        let catalog = &kb.catalog;
        let vulnerable = |b: &Build| {
            let v = catalog.verdict(b);
            Chain::ALL.iter().any(|c| v.chain(*c).is_some_and(|x| x.status == ChainStatus::Vulnerable))
        };
        if !vulnerable(&build) {
            return;
        }
        let mut rng = Rng::new(seed, u64::from(u32::from(self.addr)) | (u64::from(epoch) << 40) | 0xe0_0000_0000_0000);
        if !rng.chance(PATCH_CHANCE) {
            return;
        }
        let product = self.product.as_deref().unwrap_or("");
        let newest = catalog.rows().iter().filter(|r| r.product == product && r.build > build).map(|r| r.build).max();
        let Some(newest) = newest else { return };
        self.build = Some(newest);
        if rng.chance(CLEAN_CHANCE) {
            self.webshells.clear();
        }
    }

    fn genesis(seed: u64, addr: Ipv4Addr, kb: &Kb) -> Host {
        let mut rng = Rng::new(seed, u64::from(u32::from(addr)) | 0x5ca0_0000_0000);
        let n = u32::from(addr) & 0xffff;
        let org = format!("{}{}", rng.pick(ORGS), n);
        let mut host = Host {
            addr,
            kind: Kind::Exchange,
            hostname: format!("mail.{org}.lab"),
            product: None,
            build: None,
            x_owa_version: false,
            exporttool: false,
            feserver: None,
            ntlm: None,
            soft404: None,
            webshells: Vec::new(),
            hostile: None,
        };
        // closed, hostile, iis, nginx, honeypot, exchange
        host.kind = match rng.weighted(&[4, 8, 6, 5, 4, 73]) {
            0 => Kind::Closed,
            1 => Kind::Hostile,
            2 => Kind::Iis,
            3 => Kind::Nginx,
            4 => Kind::Honeypot,
            _ => Kind::Exchange,
        };
        match host.kind {
            Kind::Hostile => host.hostile = Some(*rng.pick(&HOSTILES)),
            Kind::Honeypot => host.hostname = format!("owa.{org}.lab"),
            Kind::Exchange => host.exchange(&mut rng, &org, n, kb),
            _ => host.hostname = format!("www.{org}.lab"),
        }
        host
    }

    fn exchange(&mut self, rng: &mut Rng, org: &str, n: u32, kb: &Kb) {
        let catalog = &kb.catalog;
        let product = ["2010", "2013", "2016", "2019"][rng.weighted(&[10, 20, 40, 30])];
        let rows: Vec<_> = catalog.rows().iter().filter(|r| r.product == product).collect();
        if rows.is_empty() {
            self.kind = Kind::Iis;
            return;
        }
        let row = rows[rng.below(rows.len() as u64) as usize];
        let modern = product != "2010";
        let short = format!("EX{}-{:02}", &product[2..], n % 100);
        let netbios_domain = org.to_uppercase().chars().take(15).collect::<String>();
        self.product = Some(product.to_string());
        self.build = Some(row.build);
        self.x_owa_version = rng.chance(0.7);
        self.exporttool = modern && rng.chance(0.6);
        self.feserver = modern.then(|| short.clone());
        // Exchange 2010 always offers Windows authentication on EWS: without it the lab could not tell it from a
        // look-alike, and neither could a scanner.
        if !modern || rng.chance(0.85) {
            self.ntlm = Some(AdNames {
                netbios_domain,
                netbios_computer: short.clone(),
                dns_domain: format!("{org}.corp"),
                dns_computer: format!("{}.{org}.corp", short.to_lowercase()),
                dns_tree: format!("{org}.corp"),
            });
        }
        self.soft404 = Some(match rng.weighted(&[55, 15, 15, 15]) {
            0 => Soft404::NotFound,
            1 => Soft404::Ok200,
            2 => Soft404::RedirectLogon,
            _ => Soft404::Custom404,
        });
        if rng.chance(0.15) {
            let k = rng.range(1, 3) as usize;
            let mut paths: Vec<&str> = kb.scan.webshell_paths.iter().map(|p| p.url.as_str()).collect();
            for _ in 0..k.min(paths.len()) {
                let i = rng.below(paths.len() as u64) as usize;
                let path = paths.swap_remove(i);
                let style = if rng.chance(0.6) { "oab-export" } else { "empty" };
                self.webshells.push(Shell { path: path.to_string(), style });
            }
            self.webshells.sort_by(|a, b| a.path.cmp(&b.path));
        }
    }

    /// The build a correct scanner reads, and from where: `X-OWA-Version` first, then the exporttool manifest, then
    /// the logon page's resource path (CU level on 2013 and later, the full build on 2010).
    pub fn visible_build(&self) -> Option<(Build, &'static str)> {
        let build = self.build?;
        if self.x_owa_version {
            Some((build, "x-owa-version"))
        } else if self.exporttool {
            Some((build, "exporttool"))
        } else if build.major >= 15 {
            Some((build.cu_prefix(), "logon-path"))
        } else {
            Some((build, "logon-path"))
        }
    }

    /// This host's ground truth, with what a correct scan reports for it.
    pub fn truth(&self, port: u16, catalog: &Catalog, wildcard: bool) -> Truth {
        let (status, class) = match (self.kind, self.hostile) {
            (Kind::Closed, _) => (if wildcard { "reset" } else { "refused" }, None),
            (Kind::Hostile, Some(Hostile::Slowloris)) => ("timeout", None),
            (Kind::Hostile, Some(Hostile::BrokenTls)) => ("tls-error", None),
            (Kind::Hostile, Some(Hostile::HugeHeaders | Hostile::Garbage)) => ("protocol-error", None),
            (Kind::Hostile, _) => ("success", Some("not-exchange")),
            (Kind::Exchange, _) => ("success", Some("exchange")),
            (Kind::Honeypot, _) => ("success", Some("lookalike")),
            _ => ("success", Some("not-exchange")),
        };
        let visible = self.visible_build();
        let chains = visible
            .map(|(b, _)| {
                let v = catalog.verdict(&b);
                Chain::ALL
                    .iter()
                    .map(|c| (c.as_str(), v.chain(*c).map(|x| x.status).unwrap_or(ChainStatus::Unknown)))
                    .collect()
            })
            .unwrap_or_default();
        Truth {
            addr: self.addr.to_string(),
            port,
            host: self.clone(),
            expect: Expect {
                status,
                class,
                build: visible.map(|(b, _)| b.to_string()),
                build_source: visible.map(|(_, s)| s),
                chains,
                webshells: self.webshells.iter().map(|s| s.path.clone()).collect(),
            },
        }
    }
}

/// One line of `truth.jsonl`.
#[derive(Clone, Debug, Serialize)]
pub struct Truth {
    pub addr: String,
    pub port: u16,
    pub host: Host,
    pub expect: Expect,
}

impl Truth {
    /// How an observation of this host differs from what a correct scan reports, one phrase per difference; empty
    /// when it agrees. Status and class always; for Exchange also the build and its source, every chain's verdict,
    /// the web shells (when the scan probed for them: `webshells`), `X-FEServer`, the NTLM names and the
    /// certificate's name. The one comparison of tests, the demo and the scan benchmark.
    pub fn differences(&self, o: Option<&Observation>, webshells: bool) -> Vec<String> {
        let e = &self.expect;
        let Some(o) = o else { return vec!["not observed".into()] };
        let mut out = Vec::new();
        let mut differ = |what: &str, got: String, want: String| {
            if got != want {
                out.push(format!("{what}: {got}, the truth says {want}"));
            }
        };
        differ("status", o.status.as_str().into(), e.status.into());
        let fp = o.fingerprint.as_ref();
        differ("class", show(fp.map(|f| f.class.as_str())), show(e.class));
        let Some(f) = fp.filter(|_| e.class == Some("exchange")) else { return out };
        differ("build", show(f.build.map(|b| b.to_string()).as_deref()), show(e.build.as_deref()));
        differ("build source", show(f.build_source.map(|s| s.as_str())), show(e.build_source));
        let chains: Vec<String> = f.chains.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let want: Vec<String> = e.chains.iter().map(|(k, v)| format!("{k} {v}")).collect();
        differ("chains", chains.join(", "), want.join(", "));
        let mut shells: Vec<String> = f.webshells.iter().map(|w| w.path.clone()).collect();
        let mut want: Vec<String> = if webshells { e.webshells.clone() } else { Vec::new() };
        shells.sort_unstable();
        want.sort_unstable();
        differ("web shells", shells.join(" "), want.join(" "));
        differ("X-FEServer", show(f.feserver.as_deref()), show(self.host.feserver.as_deref()));
        let names = f
            .ntlm
            .as_ref()
            .map(|n| format!("{} {}", show(n.netbios_domain.as_deref()), show(n.dns_computer.as_deref())));
        let want = self.host.ntlm.as_ref().map(|n| format!("{} {}", n.netbios_domain, n.dns_computer));
        differ("NTLM names", show(names.as_deref()), show(want.as_deref()));
        let cert = o.tls.as_ref().and_then(|t| t.cert.as_ref()).and_then(|c| c.subject_cn.as_deref());
        differ("certificate name", show(cert), self.host.hostname.clone());
        out
    }
}

fn show(v: Option<&str>) -> String {
    v.unwrap_or("none").to_string()
}

/// What a correct scan of the host reports.
#[derive(Clone, Debug, Serialize)]
pub struct Expect {
    /// The scan status: `success`, `refused`, `reset`, `timeout`, `tls-error`, `protocol-error`.
    pub status: &'static str,
    /// `exchange`, `lookalike` or `not-exchange`; `null` when the scan cannot get that far.
    pub class: Option<&'static str>,
    pub build: Option<String>,
    pub build_source: Option<&'static str>,
    /// Chain → status from the knowledge base for the visible build.
    pub chains: std::collections::BTreeMap<&'static str, ChainStatus>,
    pub webshells: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A later epoch patches about half of the still-vulnerable Exchange hosts each time, to a build of the same
    /// product that is newer, keeps the back doors of some of them, and changes nothing else.
    #[test]
    fn later_epochs_patch_a_share_and_keep_some_back_doors() {
        let kb = Kb::builtin();
        let vulnerable = |h: &Host| {
            h.build.is_some_and(|b| {
                let v = kb.catalog.verdict(&b);
                Chain::ALL.iter().any(|c| v.chain(*c).is_some_and(|x| x.status == ChainStatus::Vulnerable))
            })
        };
        let (mut was, mut patched, mut kept_shells, mut cleaned) = (0, 0, 0, 0);
        for i in 0..4096u32 {
            let addr = Ipv4Addr::from(0x7f40_0000 + i);
            let (h0, h1, h2) = (Host::at(7, 0, addr, &kb), Host::at(7, 1, addr, &kb), Host::at(7, 2, addr, &kb));
            assert_eq!((h0.kind, &h0.hostname, h0.ntlm.is_some()), (h1.kind, &h1.hostname, h1.ntlm.is_some()));
            if !vulnerable(&h0) {
                assert_eq!(h0.build, h1.build, "{addr}: not vulnerable, so not patched");
                continue;
            }
            was += 1;
            if h1.build != h0.build {
                patched += 1;
                assert!(h1.build > h0.build && h1.product == h0.product, "{addr}");
                assert_eq!(h2.build, h1.build, "{addr}: the newest build stays");
                if !h0.webshells.is_empty() {
                    if h1.webshells == h0.webshells { kept_shells += 1 } else { cleaned += 1 }
                }
            } else {
                assert_eq!(h1.webshells, h0.webshells, "{addr}: unpatched hosts keep everything");
            }
        }
        let share = patched as f64 / was as f64;
        assert!((0.4..0.6).contains(&share), "{patched} of {was} patched at epoch 1");
        assert!(kept_shells > 0 && cleaned > 0, "patched with shells kept {kept_shells}, cleaned {cleaned}");
    }
}
