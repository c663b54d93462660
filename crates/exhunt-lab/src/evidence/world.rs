//! The simulated organisation and server: names, addresses, users, builds over time.

use super::Scenario;
use super::clock::{DAY, HOUR, MINUTE, ts};
use crate::rng::Rng;

/// Start of the simulated window (inclusive), UTC.
pub const WINDOW_START: i64 = ts(2021, 2, 20, 0, 0, 0);
/// End of the simulated window (exclusive), UTC.
pub const WINDOW_END: i64 = ts(2021, 3, 20, 0, 0, 0);
/// Microsoft's disclosure and the March 2021 security updates; internet-wide scanning followed.
pub const DISCLOSURE: i64 = ts(2021, 3, 2, 21, 0, 0);

/// The organisation's DNS domain and NetBIOS name.
pub const DOMAIN: &str = "contoso.example";
pub const NETBIOS: &str = "CONTOSO";
/// Public names of the server.
pub const MAIL_HOST: &str = "mail.contoso.example";
pub const AUTODISCOVER_HOST: &str = "autodiscover.contoso.example";
/// The server's address (front end and back end are the same machine).
pub const SERVER_IP: &str = "10.0.1.25";

/// An Exchange build `major.minor.build.revision`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Build {
    pub major: u16,
    pub minor: u16,
    pub build: u16,
    pub revision: u16,
}

impl Build {
    pub const fn new(major: u16, minor: u16, build: u16, revision: u16) -> Build {
        Build { major, minor, build, revision }
    }

    /// `15.01.2176.002`, as the `#Version` header of Exchange logs writes it.
    pub fn long(&self) -> String {
        format!("{}.{:02}.{:04}.{:03}", self.major, self.minor, self.build, self.revision)
    }

    /// The 32-bit server version Exchange puts in back-end cookies.
    pub fn version_int(&self) -> u32 {
        0x7000_0000 | (u32::from(self.major) << 22) | (u32::from(self.minor) << 16) | u32::from(self.build)
    }

    /// `Version 15.1 (Build 2176.2)`, as `AdminDisplayVersion` and `TargetServerVersion` show it.
    pub fn display_version(&self) -> String {
        format!("Version {}.{} (Build {}.{})", self.major, self.minor, self.build, self.revision)
    }

    /// Exchange 2013 CU23 logs fewer HttpProxy columns than 2016 CU19 and 2019 CU8.
    pub fn is_2013(&self) -> bool {
        self.minor == 0
    }
}

impl std::fmt::Display for Build {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}.{}", self.major, self.minor, self.build, self.revision)
    }
}

/// A product line with the build before and after the March 2021 security update (KB5000871). Every build here is
/// a row of `kb/builds/exchange-builds.csv`; a test checks their verdicts.
#[derive(Clone, Copy, Debug)]
pub struct Line {
    pub name: &'static str,
    pub vulnerable: Build,
    pub fixed: Build,
}

pub const LINES: [Line; 3] = [
    Line {
        name: "Exchange Server 2016 CU19",
        vulnerable: Build::new(15, 1, 2176, 2),
        fixed: Build::new(15, 1, 2176, 9),
    },
    Line { name: "Exchange Server 2019 CU8", vulnerable: Build::new(15, 2, 792, 3), fixed: Build::new(15, 2, 792, 10) },
    Line {
        name: "Exchange Server 2013 CU23",
        vulnerable: Build::new(15, 0, 1497, 10),
        fixed: Build::new(15, 0, 1497, 12),
    },
];

/// One build and the time span it was installed.
#[derive(Clone, Copy, Debug)]
pub struct BuildPeriod {
    pub build: Build,
    pub from: i64,
    pub to: i64,
}

/// A mailbox user.
#[derive(Clone, Debug)]
pub struct User {
    /// `alice.smith`
    pub alias: String,
    /// `alice.smith@contoso.example`
    pub upn: String,
    pub sid: String,
    pub mailbox_guid: String,
    pub database_guid: String,
    /// Works from the office (internal address) most of the time.
    pub office_ip: String,
    /// Address when at home or travelling.
    pub home_ip: String,
    pub mobile_ip: String,
    pub phone: Phone,
    pub device_id: String,
    pub outlook_ua: &'static str,
    pub browser_ua: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phone {
    None,
    Iphone,
    Android,
}

/// Everything fixed about the simulated server for one seed.
#[derive(Clone, Debug)]
pub struct World {
    pub host: String,
    /// `ex01.contoso.example`
    pub fqdn: String,
    pub line: Line,
    pub builds: Vec<BuildPeriod>,
    pub users: Vec<User>,
    /// Indexes into `users` of the Exchange administrators.
    pub admins: Vec<usize>,
    pub admin_ip: String,
    pub health_mailboxes: Vec<String>,
    pub oab_guid: String,
    pub oab_vdir_guid: String,
    pub domain_sid: String,
}

const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
    "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf", "zoe", "anna", "ben", "chloe", "daniel", "emma",
    "felix", "hannah", "jonas", "lea", "marco", "nina", "oskar", "paula", "sofia", "tom", "ursula", "vera", "wim",
];
const LAST: &[&str] = &[
    "smith",
    "jones",
    "miller",
    "garcia",
    "martin",
    "bernard",
    "rossi",
    "muller",
    "schmidt",
    "nowak",
    "kowalski",
    "jansen",
    "visser",
    "nielsen",
    "larsen",
    "berg",
    "lindqvist",
    "novak",
    "horvat",
    "silva",
    "costa",
    "dubois",
];

const OUTLOOK_UAS: &[&str] = &[
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13628; Pro)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13127; Pro)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5110; Pro)",
    "Microsoft Office/15.0 (Windows NT 6.1; Microsoft Outlook 15.0.5319; Pro)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13801; Pro)",
];
const BROWSER_UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.190 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.182 Safari/537.36 Edg/88.0.705.81",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:86.0) Gecko/20100101 Firefox/86.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0.3 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
];

/// Host names chosen when the caller gives none.
const HOSTS: &[&str] = &["EX01", "EX2016", "MAIL01", "EXCH01", "EXSRV1", "EX-MBX01"];

impl World {
    pub fn new(seed: u64, scenario: Scenario, host: Option<&str>, attack_end: i64) -> World {
        let mut rng = Rng::new(seed, 1);
        let host = match host {
            Some(h) => h.to_string(),
            None => (*rng.pick(HOSTS)).to_string(),
        };
        let fqdn = format!("{}.{DOMAIN}", host.to_ascii_lowercase());
        let line = LINES[rng.weighted(&[3, 2, 1])];
        let builds = build_timeline(&mut rng, line, scenario, attack_end);
        let domain_sid = format!(
            "S-1-5-21-{}-{}-{}",
            rng.range(1_000_000_000, 3_999_999_999),
            rng.range(1_000_000_000, 3_999_999_999),
            rng.range(100_000_000, 999_999_999)
        );
        let n_users = rng.range(40, 140) as usize;
        let mut users = Vec::with_capacity(n_users + 1);
        let mut seen = std::collections::BTreeSet::new();
        // A real mailbox called `serverinfo` (a hard negative: `ServerInfo~` is the SSRF marker, not this).
        users.push(make_user(&mut rng, "serverinfo".to_string(), &domain_sid, 1105));
        seen.insert("serverinfo".to_string());
        let mut rid = 1106;
        while users.len() < n_users {
            let alias = format!("{}.{}", rng.pick(FIRST), rng.pick(LAST));
            if seen.insert(alias.clone()) {
                users.push(make_user(&mut rng, alias, &domain_sid, rid));
                rid += 1 + rng.below(7);
            }
        }
        let n_admins = rng.range(1, 3) as usize;
        let admins: Vec<usize> = (0..n_admins).map(|i| 1 + i * 3 % (users.len() - 1)).collect();
        let admin_ip = format!("10.20.5.{}", rng.range(10, 60));
        let health_mailboxes = (0..rng.range(3, 6))
            .map(|_| {
                let mut s = String::from("HealthMailbox");
                rng.hex(&mut s, 32);
                s
            })
            .collect();
        World {
            host,
            fqdn,
            line,
            builds,
            users,
            admins,
            admin_ip,
            health_mailboxes,
            oab_guid: rng.guid(),
            oab_vdir_guid: rng.guid(),
            domain_sid,
        }
    }

    /// The build installed at `t`.
    pub fn build_at(&self, t: i64) -> Build {
        for p in &self.builds {
            if t < p.to {
                return p.build;
            }
        }
        self.builds.last().map_or(self.line.fixed, |p| p.build)
    }

    /// The time the server was patched, if it was during the window.
    pub fn patched_at(&self) -> Option<i64> {
        if self.builds.len() > 1 { self.builds.last().map(|p| p.from) } else { None }
    }
}

fn make_user(rng: &mut Rng, alias: String, domain_sid: &str, rid: u64) -> User {
    let phone = [Phone::None, Phone::Iphone, Phone::Android][rng.weighted(&[4, 4, 3])];
    let mut device_id = String::new();
    for _ in 0..32 {
        device_id.push(*rng.pick(b"0123456789ABCDEFGHIJKLMNOPQRSTUV") as char);
    }
    User {
        upn: format!("{alias}@{DOMAIN}"),
        alias,
        sid: format!("{domain_sid}-{rid}"),
        mailbox_guid: rng.guid(),
        database_guid: rng.guid(),
        office_ip: format!("10.20.{}.{}", rng.range(10, 40), rng.range(2, 250)),
        home_ip: external_client_ip(rng),
        mobile_ip: format!("100.{}.{}.{}", rng.range(64, 127), rng.range(0, 255), rng.range(1, 254)),
        phone,
        device_id,
        outlook_ua: OUTLOOK_UAS[rng.below(OUTLOOK_UAS.len() as u64) as usize],
        browser_ua: BROWSER_UAS[rng.below(BROWSER_UAS.len() as u64) as usize],
    }
}

/// A client address on the internet. The lab uses only the documentation ranges (RFC 5737) and carrier-grade NAT
/// space (RFC 6598) for people, so that no real party is named; attacker addresses are the published ones.
pub fn external_client_ip(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!("192.0.2.{}", rng.range(1, 254)),
        1 => format!("198.51.100.{}", rng.range(1, 199)),
        _ => format!("100.{}.{}.{}", rng.range(64, 127), rng.range(0, 255), rng.range(1, 254)),
    }
}

/// The builds over the window. `attack_end` is when the last planted exploitation step happens (the server must
/// still be vulnerable then); probes by scanners stop at the patch.
fn build_timeline(rng: &mut Rng, line: Line, scenario: Scenario, attack_end: i64) -> Vec<BuildPeriod> {
    let whole = |b| vec![BuildPeriod { build: b, from: WINDOW_START, to: WINDOW_END }];
    let patch_between = |rng: &mut Rng, lo: i64, hi: i64| {
        let t = lo + rng.below(((hi - lo) / MINUTE) as u64) as i64 * MINUTE;
        // Administrators patch outside office hours: move to 20:00-23:59 UTC of that day.
        let day = t - t.rem_euclid(DAY);
        day + 20 * HOUR + rng.below(4 * 60) as i64 * MINUTE
    };
    let split = |t: i64| {
        vec![
            BuildPeriod { build: line.vulnerable, from: WINDOW_START, to: t },
            BuildPeriod { build: line.fixed, from: t, to: WINDOW_END },
        ]
    };
    match scenario {
        Scenario::Clean => match rng.below(3) {
            0 => whole(line.fixed),
            1 => whole(line.vulnerable),
            _ => split(patch_between(rng, DISCLOSURE + DAY, DISCLOSURE + 10 * DAY)),
        },
        _ => {
            if rng.chance(0.5) {
                whole(line.vulnerable)
            } else {
                let lo = (attack_end + DAY).max(DISCLOSURE + 2 * DAY);
                split(patch_between(rng, lo, lo + 8 * DAY))
            }
        }
    }
}
