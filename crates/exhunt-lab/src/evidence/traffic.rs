//! Background traffic: what a busy, healthy Exchange server logs, with the hard negatives that trip a careless hunt
//! (GETs of the static files attackers POSTed to, a mailbox called `serverinfo`, `Cmd=` in ActiveSync queries,
//! internet scanners' 404s, an administrator's ECP work, benign OAB download failures).

use super::clock::{self, DAY, HOUR, MINUTE};
use super::event::{Ecp, Event, Http, Oab, Proto};
use super::world::{AUTODISCOVER_HOST, DOMAIN, MAIL_HOST, NETBIOS, Phone, User, World};
use crate::rng::Rng;

/// User agents of the server's own monitoring (Managed Availability probes).
const PROBE_UAS: &[&str] = &["AMProbe/Local/ClientAccess", "AMProbe/Local/MailboxProbe"];
const IPHONE_UAS: &[&str] = &["Apple-iPhone12C1/1802.67", "Apple-iPhone11C8/1803.62", "Apple-iPhone13C2/1805.228"];
const ANDROID_UAS: &[&str] =
    &["Android-Mail/2021.01.31.355926183.Release", "Android/10-EAS-2.0", "SAMSUNG-SM-G973F/101.1002"];
const IOS_MAIL_AUTODISCOVER_UA: &str = "iOS/14.4 (18D52) dataaccessd/1.0";
/// A legitimate EWS client library version (only `ExchangeServicesClient/0.0.0.0` is an attacker indicator).
const EWS_APP_UAS: &[&str] = &["ExchangeServicesClient/15.00.0913.015", "ExchangeServicesClient/15.00.0847.030"];
const MAC_OUTLOOK_UA: &str = "Microsoft Office/16.0 (Macintosh; Mac OS X 10.15.7; Microsoft Outlook 16.46; Pro)";
/// Internet background noise: scanners looking for other products.
const SCANNER_UAS: &[&str] = &[
    "Mozilla/5.0 zgrab/0.x",
    "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
    "curl/7.64.1",
    "Go-http-client/1.1",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2228.0 Safari/537.36",
];
const SCAN_PATHS: &[&str] = &[
    "/wp-login.php",
    "/xmlrpc.php",
    "/phpmyadmin/index.php",
    "/pma/index.php",
    "/admin/config.php",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/index.php",
    "/.env",
    "/solr/admin/info/system",
    "/boaform/admin/formLogin",
    "/cgi-bin/login.cgi",
    "/shell.php",
    "/cmd.php",
    "/HNAP1/",
    "/api/jsonws/invoke",
];
const OWA_ACTIONS: &[&str] = &[
    "GetItem",
    "FindItem",
    "FindConversation",
    "GetConversationItems",
    "GetOwaUserConfiguration",
    "CreateItem",
    "UpdateItem",
    "GetCalendarView",
    "GetAttachmentPreviews",
    "SubscribeToNotification",
    "GetPeopleFilters",
    "FindPeople",
];
const EWS_ACTIONS: &[&str] =
    &["FindItem", "GetItem", "SyncFolderItems", "GetUserAvailability", "GetFolder", "Subscribe", "GetEvents"];
const EAS_CMDS: &[&str] = &["Sync", "Ping", "FolderSync", "GetItemEstimate", "Sync", "Ping", "Sync", "SendMail"];
const MAPI_ACTIONS: &[&str] = &["Execute", "Execute", "Execute", "NotificationWait", "Connect", "Disconnect"];
/// Static resources on the logon page (attackers POSTed to some of these; a GET is the browser loading the page).
const LOGON_RESOURCES: &[&str] = &[
    "themes/resources/logon.css",
    "themes/resources/owafont_ja.css",
    "themes/resources/lgnbotl.gif",
    "themes/resources/SegoeUI-SemiLight.ttf",
    "themes/resources/SegoeUI-SemiBold.eot",
    "themes/resources/favicon.ico",
    "scripts/premium/flogon.js",
];
const ECP_ADMIN_SCHEMAS: &[(&str, &str)] = &[
    ("GetList", "Mailboxes"),
    ("GetList", "DistributionGroups"),
    ("GetObject", "MailboxPropertiesService"),
    ("GetList", "MessageTrace"),
    ("GetObject", "RecipientService"),
    ("SetObject", "MailboxPropertiesService"),
    ("GetList", "QueueViewer"),
];
const ECP_USER_SCHEMAS: &[&str] = &["MailboxCalendarConfiguration", "InboxRules", "MessagingConfiguration"];

/// Relative weights of background activities, for office hours and off hours.
const KINDS: [(Kind, u32, u32); 18] = [
    (Kind::OwaService, 300, 40),
    (Kind::OwaNotify, 80, 15),
    (Kind::OwaLogon, 30, 4),
    (Kind::OwaAttachment, 30, 3),
    (Kind::OwaStatic, 20, 3),
    (Kind::Eas, 180, 110),
    (Kind::Ews, 80, 25),
    (Kind::Mapi, 260, 40),
    (Kind::Autodiscover, 45, 12),
    (Kind::Oab, 15, 3),
    (Kind::RpcHttp, 15, 3),
    (Kind::EcpUser, 15, 2),
    (Kind::EcpAdmin, 10, 1),
    (Kind::PowerShell, 5, 1),
    (Kind::Health, 40, 40),
    (Kind::Scan404, 12, 12),
    (Kind::LogonAspxPost, 2, 1),
    (Kind::Misc, 10, 3),
];

#[derive(Clone, Copy, Debug)]
enum Kind {
    OwaService,
    OwaNotify,
    OwaLogon,
    OwaAttachment,
    OwaStatic,
    Eas,
    Ews,
    Mapi,
    Autodiscover,
    Oab,
    RpcHttp,
    EcpUser,
    EcpAdmin,
    PowerShell,
    Health,
    Scan404,
    LogonAspxPost,
    Misc,
}

/// Relative amount of traffic in an hour (UTC; the organisation works 07:00-18:00 UTC, less at weekends).
pub fn hour_weight(t: i64) -> f64 {
    const DIURNAL: [f64; 24] = [
        1.0, 0.8, 0.8, 0.8, 1.0, 1.5, 3.5, 8.0, 11.0, 12.0, 11.5, 10.0, 9.0, 10.5, 11.5, 11.0, 9.0, 6.0, 4.0, 3.0, 2.5,
        2.0, 1.5, 1.2,
    ];
    let c = clock::civil(t);
    let w = DIURNAL[c.hour as usize];
    if c.weekday >= 5 { 1.0 + (w - 1.0) * 0.2 } else { w }
}

fn office_hours(t: i64) -> bool {
    let c = clock::civil(t);
    c.weekday < 5 && (7..18).contains(&c.hour)
}

/// Appends `n` background events with times in `[hour, hour + 1h)` (in no particular order).
pub fn hour(w: &World, rng: &mut Rng, hour: i64, n: u64, out: &mut Vec<Event>) {
    let weights_on: Vec<u32> = KINDS.iter().map(|k| k.1).collect();
    let weights_off: Vec<u32> = KINDS.iter().map(|k| k.2).collect();
    let office = office_hours(hour);
    for _ in 0..n {
        let t = hour + rng.below(HOUR as u64) as i64;
        let kind = KINDS[rng.weighted(if office { &weights_on } else { &weights_off })].0;
        let mut g = Gen { w, rng: &mut *rng, out: &mut *out, end: hour + HOUR };
        g.emit(kind, t);
    }
}

/// Scheduled events of a day that do not scale with traffic: OAB generation (every 8 hours) and health checks of
/// the ECP. Appends them to `out`; `day` is midnight UTC.
pub fn daily(w: &World, rng: &mut Rng, day: i64, first_day: bool, out: &mut Vec<Event>) {
    for (i, base) in [1, 9, 17].iter().enumerate() {
        let t = day + base * HOUR + rng.range(0, 40) as i64 * MINUTE + rng.below(60_000) as i64;
        // Benign failed download inside ClientAccess\OAB\Temp: on the second day always (so every folder has one),
        // otherwise now and then.
        let fail = (first_day && i == 1) || rng.chance(0.12);
        oab_generation(w, rng, t, fail, out);
    }
    // Every day has each kind of hard negative at least once, whatever the size.
    let mut g = Gen { w, rng: &mut *rng, out: &mut *out, end: day + DAY };
    let t = day + 8 * HOUR + g.rng.below(9 * HOUR as u64) as i64;
    g.hard_negatives(t);
    // The ECP availability probe signs in with a health mailbox and reads its regional settings a few times a day.
    for _ in 0..rng.range(2, 5) {
        let t = day + rng.below(DAY as u64) as i64;
        let mb = &w.health_mailboxes[rng.below(w.health_mailboxes.len() as u64) as usize];
        let sid = format!("{}-{}", w.domain_sid, 1000 + rng.below(50));
        let cmd = format!("Get-MailboxRegionalConfiguration.Identity=''{mb}@{DOMAIN}''");
        let data =
            ecp_event(rng, &sid, &cmd, "/ecp/DDI/DDIService.svc/GetObject", "schema=MailboxRegionalConfiguration");
        out.push(Event::Ecp(Ecp { t, event_data: data, plant: None }));
    }
}

fn oab_generation(w: &World, rng: &mut Rng, t: i64, fail: bool, out: &mut Vec<Event>) {
    let oab = "\\Default Offline Address Book";
    let temp = format!("C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess\\OAB\\Temp\\{}", rng.guid());
    let mut t = t;
    let mut line = |t: i64, message: String| out.push(Event::Oab(Oab { t, message, plant: None }));
    line(t, format!("OABGenerator work cycle started for offline address book '{oab}' ({}).", w.oab_guid));
    t += rng.range(200, 900) as i64;
    line(t, format!("Downloading the current version of offline address book '{oab}' to '{temp}'."));
    t += rng.range(800, 4000) as i64;
    if fail {
        let file = format!("{}-data-{}.lzx", w.oab_guid, rng.range(1, 400));
        line(t, format!("Download failed and temporary file '{temp}\\{file}' needs to be removed."));
        t += rng.range(10, 80) as i64;
        line(t, format!("Falling back to a full generation of offline address book '{oab}'."));
        t += rng.range(100, 900) as i64;
    }
    let entries = w.users.len() as u64 + 12 + rng.below(4);
    line(
        t,
        format!(
            "Processed {entries} address list entries for offline address book '{oab}' in {} ms.",
            rng.range(900, 4000)
        ),
    );
    t += rng.range(1000, 5000) as i64;
    line(
        t,
        format!(
            "Uploaded {} files for offline address book '{oab}' to the organization mailbox 'SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}'.",
            rng.range(3, 6)
        ),
    );
    t += rng.range(50, 400) as i64;
    line(t, format!("OABGenerator work cycle completed for offline address book '{oab}'."));
}

struct Gen<'a> {
    w: &'a World,
    rng: &'a mut Rng,
    out: &'a mut Vec<Event>,
    end: i64,
}

/// Where a user connects from at `t`.
fn client_ip(rng: &mut Rng, u: &User, t: i64, mobile: bool) -> String {
    if mobile {
        return if office_hours(t) && rng.chance(0.5) { u.office_ip.clone() } else { u.mobile_ip.clone() };
    }
    if office_hours(t) && rng.chance(0.8) { u.office_ip.clone() } else { u.home_ip.clone() }
}

fn is_internal(ip: &str) -> bool {
    ip.starts_with("10.")
}

impl<'a> Gen<'a> {
    fn pick_user(&mut self) -> &'a User {
        let w: &'a World = self.w;
        &w.users[self.rng.below(w.users.len() as u64) as usize]
    }

    fn guid(&mut self) -> String {
        self.rng.guid()
    }

    /// A request with the fields every request has.
    fn base(&mut self, t: i64, proto: Option<Proto>, method: &'static str, stem: impl Into<String>) -> Http {
        Http {
            t,
            proto,
            method,
            stem: stem.into(),
            port: 443,
            status: 200,
            url_host: MAIL_HOST.to_string(),
            cafe: proto.is_some(),
            request_id: self.rng.guid(),
            time_taken: self.rng.skewed(40) as u32 + 1,
            req_bytes: self.rng.skewed(900) as u32,
            resp_bytes: self.rng.skewed(3000) as u32,
            ..Http::default()
        }
    }

    /// Fills in a signed-in user's request proxied to the back end.
    fn as_user(&mut self, h: &mut Http, u: &User, auth: &'static str) {
        h.auth_user = u.upn.clone();
        h.auth_type = auth;
        h.iis_user = u.upn.clone();
        h.be_user = format!("{NETBIOS}\\{}", u.alias);
        h.be_status = Some(h.status);
        h.target = self.w.fqdn.clone();
        h.database_guid = u.database_guid.clone();
        h.user_guid = u.mailbox_guid.clone();
        h.anchor = match self.rng.below(10) {
            0..=4 => format!("Smtp~{}", u.upn),
            5 => format!("SMTP:{}", u.upn),
            6 | 7 => format!("Sid~{}", u.sid),
            8 => format!("MailboxGuidWithDomain~{}@{DOMAIN}", u.mailbox_guid),
            _ => format!("DatabaseGuid~{}", u.database_guid),
        };
        h.routing_type = "AnchorMailboxHeader";
        h.routing_hint = match self.rng.below(3) {
            0 => "X-AnchorMailbox",
            1 => "Cookie",
            _ => "Url-ServerVersion",
        };
        if self.rng.chance(0.35) {
            let mut c = String::from("Database~");
            c.push_str(&u.database_guid);
            c.push_str("~~");
            push_iso_seconds(&mut c, h.t - self.rng.below(DAY as u64) as i64);
            h.backend_cookie = c;
        } else if self.rng.chance(0.2) {
            let mut c = format!("Server~{}~{}~", self.w.fqdn, self.w.build_at(h.t).version_int());
            push_iso_seconds(&mut c, h.t - self.rng.below(DAY as u64) as i64);
            h.backend_cookie = c;
        }
        if self.rng.chance(0.3) {
            h.client_request_id = self.rng.guid();
        }
    }

    fn push(&mut self, h: Http) {
        if h.t < self.end + 5 * MINUTE {
            self.out.push(Event::Http(Box::new(h)));
        }
    }

    fn emit(&mut self, kind: Kind, t: i64) {
        match kind {
            Kind::OwaService => self.owa_service(t),
            Kind::OwaNotify => self.owa_notify(t),
            Kind::OwaLogon => self.owa_logon(t),
            Kind::OwaAttachment => self.owa_attachment(t),
            Kind::OwaStatic => self.owa_static(t),
            Kind::Eas => self.eas(t),
            Kind::Ews => self.ews(t),
            Kind::Mapi => self.mapi(t),
            Kind::Autodiscover => self.autodiscover(t),
            Kind::Oab => self.oab(t),
            Kind::RpcHttp => self.rpc(t),
            Kind::EcpUser => self.ecp_user(t),
            Kind::EcpAdmin => self.ecp_admin(t),
            Kind::PowerShell => self.powershell(t),
            Kind::Health => self.health(t),
            Kind::Scan404 => self.scan404(t),
            Kind::LogonAspxPost => self.logon_aspx_post(t),
            Kind::Misc => self.misc(t),
        }
    }

    /// One of each hard negative, minutes apart.
    fn hard_negatives(&mut self, t: i64) {
        let at = |base: i64, rng: &mut Rng| t + base + rng.below(600_000) as i64;
        self.owa_static_resource(t, "themes/resources/logon.css");
        let t1 = at(60_000, self.rng);
        self.logon_aspx_post(t1);
        let w = self.w;
        // The mailbox called `serverinfo` (users[0]).
        let t2 = at(120_000, self.rng);
        self.owa_service_as(t2, &w.users[0]);
        let t3 = at(180_000, self.rng);
        self.ecp_admin(t3);
        let t4 = at(240_000, self.rng);
        self.scan404(t4);
    }

    fn owa_service(&mut self, t: i64) {
        let u = self.pick_user();
        self.owa_service_as(t, u);
    }

    fn owa_service_as(&mut self, t: i64, u: &User) {
        let action = *self.rng.pick(OWA_ACTIONS);
        let mut h = self.base(t, Some(Proto::Owa), "POST", "/owa/service.svc");
        h.query = format!("action={action}&EP=1&ID=-{}&AC=1", self.rng.range(10, 400));
        h.action = action;
        h.client_ip = client_ip(self.rng, u, t, false);
        h.ua = u.browser_ua;
        h.referer = format!("https://{MAIL_HOST}/owa/");
        self.as_user(&mut h, u, "Negotiate");
        h.auth_type = "FBA";
        self.push(h);
    }

    fn owa_notify(&mut self, t: i64) {
        let u = self.pick_user();
        let mut h = self.base(t, Some(Proto::Owa), "POST", "/owa/ev.owa2");
        let ev = if self.rng.chance(0.7) { "PendingNotificationRequest" } else { "FinishNotificationRequest" };
        h.query = format!("ns=PendingRequest&ev={ev}&UA=0&cid={}&X-OWA-CANARY={}", self.guid(), self.canary());
        h.client_ip = client_ip(self.rng, u, t, false);
        h.ua = u.browser_ua;
        h.referer = format!("https://{MAIL_HOST}/owa/");
        h.time_taken = self.rng.range(5_000, 600_000) as u32;
        self.as_user(&mut h, u, "FBA");
        self.push(h);
    }

    /// A browser signing in to OWA: redirect, logon page and its static resources (GET), the form POST to
    /// `/owa/auth.owa`, then the mailbox.
    fn owa_logon(&mut self, t: i64) {
        let u = self.pick_user();
        let ip = client_ip(self.rng, u, t, false);
        let version = self.w.build_at(t);
        let mut t = t;
        let mut h = self.base(t, Some(Proto::Owa), "GET", "/owa/");
        h.status = 302;
        h.client_ip = ip.clone();
        h.ua = u.browser_ua;
        self.push(h);
        t += self.rng.range(30, 400) as i64;
        let mut h = self.base(t, Some(Proto::Owa), "GET", "/owa/auth/logon.aspx");
        h.query = format!("url=https%3a%2f%2f{MAIL_HOST}%2fowa%2f&reason=0");
        h.client_ip = ip.clone();
        h.ua = u.browser_ua;
        self.push(h);
        let folder = if self.rng.chance(0.5) {
            "Current".to_string()
        } else {
            format!("{}.{}.{}", version.major, version.minor, version.build)
        };
        for _ in 0..self.rng.range(2, 5) {
            t += self.rng.range(5, 120) as i64;
            let res = *self.rng.pick(LOGON_RESOURCES);
            let mut h = self.base(t, Some(Proto::Owa), "GET", format!("/owa/auth/{folder}/{res}"));
            h.client_ip = ip.clone();
            h.ua = u.browser_ua;
            h.referer =
                format!("https://{MAIL_HOST}/owa/auth/logon.aspx?url=https%3a%2f%2f{MAIL_HOST}%2fowa%2f&reason=0");
            h.status = if self.rng.chance(0.3) { 304 } else { 200 };
            h.time_taken = self.rng.range(0, 15) as u32;
            self.push(h);
        }
        t += self.rng.range(3_000, 20_000) as i64;
        let mut h = self.base(t, Some(Proto::Owa), "POST", "/owa/auth.owa");
        h.status = 302;
        h.client_ip = ip.clone();
        h.ua = u.browser_ua;
        h.referer =
            format!("https://{MAIL_HOST}/owa/auth/logon.aspx?replaceCurrent=1&url=https%3a%2f%2f{MAIL_HOST}%2fowa%2f");
        h.iis_user = if self.rng.chance(0.5) { format!("{NETBIOS}\\{}", u.alias) } else { u.upn.clone() };
        h.auth_type = "FBA";
        self.push(h);
        t += self.rng.range(100, 900) as i64;
        let mut h = self.base(t, Some(Proto::Owa), "GET", "/owa/");
        h.client_ip = ip;
        h.ua = u.browser_ua;
        self.as_user(&mut h, u, "FBA");
        self.push(h);
    }

    fn owa_attachment(&mut self, t: i64) {
        let u = self.pick_user();
        let mut h = self.base(t, Some(Proto::Owa), "GET", "/owa/service.svc/s/GetFileAttachment");
        let mut id = String::from("AAMkA");
        for _ in 0..60 {
            id.push(*self.rng.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") as char);
        }
        h.query = format!("id={id}%3D&X-OWA-CANARY={}&isImagePreview=True", self.canary());
        h.client_ip = client_ip(self.rng, u, t, false);
        h.ua = u.browser_ua;
        h.resp_bytes = self.rng.skewed(200_000) as u32;
        self.as_user(&mut h, u, "FBA");
        self.push(h);
    }

    /// A returning browser fetching logon-page resources only (GET, often 304).
    fn owa_static(&mut self, t: i64) {
        let res = *self.rng.pick(LOGON_RESOURCES);
        self.owa_static_resource(t, res);
    }

    fn owa_static_resource(&mut self, t: i64, res: &str) {
        let u = self.pick_user();
        let mut h = self.base(t, Some(Proto::Owa), "GET", format!("/owa/auth/Current/{res}"));
        h.client_ip = client_ip(self.rng, u, t, false);
        h.ua = u.browser_ua;
        h.status = if self.rng.chance(0.6) { 304 } else { 200 };
        h.time_taken = self.rng.range(0, 10) as u32;
        self.push(h);
    }

    fn eas(&mut self, t: i64) {
        let u = self.pick_user();
        let ua = match u.phone {
            Phone::Iphone => *self.rng.pick(IPHONE_UAS),
            Phone::Android => *self.rng.pick(ANDROID_UAS),
            Phone::None => return self.mapi(t),
        };
        let cmd = *self.rng.pick(EAS_CMDS);
        let device_type = if u.phone == Phone::Iphone { "iPhone" } else { "Android" };
        let mut h = self.base(t, Some(Proto::Eas), "POST", "/Microsoft-Server-ActiveSync/default.eas");
        // `Cmd=` is how every ActiveSync request names its command: not a command shell.
        h.query = format!("Cmd={cmd}&User={}&DeviceId={}&DeviceType={device_type}", u.alias, u.device_id);
        h.action = cmd;
        h.client_ip = client_ip(self.rng, u, t, true);
        h.ua = ua;
        if cmd == "Ping" {
            h.time_taken = self.rng.range(60_000, 1_740_000) as u32;
        }
        self.as_user(&mut h, u, "Basic");
        if self.rng.chance(0.03) {
            h.status = 401;
            h.be_status = None;
            h.target.clear();
            h.auth_user.clear();
        }
        self.push(h);
    }

    fn ews(&mut self, t: i64) {
        let u = self.pick_user();
        let action = *self.rng.pick(EWS_ACTIONS);
        let mut h = self.base(t, Some(Proto::Ews), "POST", "/EWS/Exchange.asmx");
        h.action = action;
        let ip = client_ip(self.rng, u, t, false);
        h.ua = match self.rng.below(4) {
            0 => MAC_OUTLOOK_UA,
            1 if is_internal(&ip) => *self.rng.pick(EWS_APP_UAS),
            _ => u.outlook_ua,
        };
        h.client_ip = ip;
        self.as_user(&mut h, u, "NTLM");
        if self.rng.chance(0.08) {
            h.status = 401;
            h.be_status = None;
            h.target.clear();
            h.auth_user.clear();
            h.iis_user.clear();
        }
        self.push(h);
    }

    fn mapi(&mut self, t: i64) {
        let u = self.pick_user();
        let action = *self.rng.pick(MAPI_ACTIONS);
        let path = if self.rng.chance(0.85) { "/mapi/emsmdb/" } else { "/mapi/nspi/" };
        let mut h = self.base(t, Some(Proto::Mapi), "POST", path);
        h.query = format!("MailboxId={}@{DOMAIN}", u.mailbox_guid);
        h.action = action;
        h.client_ip = client_ip(self.rng, u, t, false);
        h.ua = u.outlook_ua;
        if action == "NotificationWait" {
            h.time_taken = self.rng.range(30_000, 900_000) as u32;
        }
        self.as_user(&mut h, u, "Negotiate");
        h.anchor = format!("MailboxGuidWithDomain~{}@{DOMAIN}", u.mailbox_guid);
        self.push(h);
    }

    fn autodiscover(&mut self, t: i64) {
        let u = self.pick_user();
        let mobile = u.phone != Phone::None && self.rng.chance(0.4);
        let mut h = if mobile {
            let mut h = self.base(t, Some(Proto::Autodiscover), "GET", "/autodiscover/autodiscover.json");
            h.query = format!("Email={}%40{DOMAIN}&Protocol=ActiveSync&RedirectCount=1", u.alias);
            h.ua = IOS_MAIL_AUTODISCOVER_UA;
            h.client_ip = client_ip(self.rng, u, t, true);
            h
        } else {
            let mut h = self.base(t, Some(Proto::Autodiscover), "POST", "/Autodiscover/Autodiscover.xml");
            h.ua = u.outlook_ua;
            h.client_ip = client_ip(self.rng, u, t, false);
            h
        };
        h.url_host = if self.rng.chance(0.5) { AUTODISCOVER_HOST.to_string() } else { MAIL_HOST.to_string() };
        self.as_user(&mut h, u, if mobile { "Basic" } else { "Negotiate" });
        if self.rng.chance(0.1) {
            h.status = 401;
            h.be_status = None;
            h.target.clear();
            h.auth_user.clear();
            h.iis_user.clear();
        }
        self.push(h);
    }

    fn oab(&mut self, t: i64) {
        let u = self.pick_user();
        let full = self.rng.chance(0.15);
        let stem = if full {
            format!("/OAB/{}/{}-data-{}.lzx", self.w.oab_guid, self.w.oab_guid, self.rng.range(1, 400))
        } else {
            format!("/OAB/{}/oab.xml", self.w.oab_guid)
        };
        let mut h = self.base(t, Some(Proto::Oab), "GET", stem);
        h.ua = u.outlook_ua;
        h.client_ip = client_ip(self.rng, u, t, false);
        if full {
            h.resp_bytes = self.rng.skewed(2_000_000) as u32;
        }
        self.as_user(&mut h, u, "Negotiate");
        self.push(h);
    }

    fn rpc(&mut self, t: i64) {
        let u = self.pick_user();
        let method = if self.rng.chance(0.5) { "RPC_IN_DATA" } else { "RPC_OUT_DATA" };
        let mut h = self.base(t, Some(Proto::RpcHttp), method, "/rpc/rpcproxy.dll");
        h.query = format!("{}@{DOMAIN}:6001", u.mailbox_guid);
        h.ua = "MSRPC";
        h.client_ip = client_ip(self.rng, u, t, false);
        h.time_taken = self.rng.range(1_000, 900_000) as u32;
        self.as_user(&mut h, u, "Ntlm");
        self.push(h);
    }

    fn canary(&mut self) -> String {
        let mut s = String::with_capacity(76);
        for _ in 0..76 {
            s.push(*self.rng.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") as char);
        }
        s.push('.');
        s
    }

    fn ecp_user(&mut self, t: i64) {
        let u = self.pick_user();
        let schema = *self.rng.pick(ECP_USER_SCHEMAS);
        let ip = client_ip(self.rng, u, t, false);
        let canary = self.canary();
        let mut h = self.base(t, Some(Proto::Ecp), "POST", "/ecp/DDI/DDIService.svc/GetObject");
        h.query = format!("schema={schema}&msExchEcpCanary={canary}");
        h.client_ip = ip;
        h.ua = u.browser_ua;
        h.referer = format!("https://{MAIL_HOST}/ecp/PersonalSettings/HomePage.aspx?showhelp=false&");
        self.as_user(&mut h, u, "FBA");
        let cmd = match schema {
            "MailboxCalendarConfiguration" => "Get-MailboxCalendarConfiguration",
            "InboxRules" => "Get-InboxRule",
            _ => "Get-MailboxMessageConfiguration",
        };
        let data = ecp_event(self.rng, &u.sid, &format!("{cmd}.Identity=''{}''", u.upn), &h.stem, &h.query);
        self.out.push(Event::Ecp(Ecp { t: t + i64::from(h.time_taken / 2), event_data: data, plant: None }));
        self.push(h);
    }

    /// An Exchange administrator at work in the ECP: DDI requests and the cmdlets they run. Now and then a real
    /// change to a virtual directory's URL (a valid URI: the benign twin of CVE-2021-27065).
    fn ecp_admin(&mut self, t: i64) {
        if self.w.admins.is_empty() {
            return;
        }
        let w = self.w;
        let admin = &w.users[w.admins[self.rng.below(w.admins.len() as u64) as usize]];
        let canary = self.canary();
        let vdir_change = self.rng.chance(0.03);
        let (op, schema) =
            if vdir_change { ("SetObject", "OABVirtualDirectory") } else { *self.rng.pick(ECP_ADMIN_SCHEMAS) };
        let mut h = self.base(t, Some(Proto::Ecp), "POST", format!("/ecp/DDI/DDIService.svc/{op}"));
        h.query = format!("schema={schema}&msExchEcpCanary={canary}");
        h.client_ip = w.admin_ip.clone();
        h.ua = admin.browser_ua;
        h.referer = format!("https://{MAIL_HOST}/ecp/?ExchClientVer=15");
        self.as_user(&mut h, admin, "FBA");
        let target = &w.users[self.rng.below(w.users.len() as u64) as usize];
        let cmd = if vdir_change {
            format!(
                "Set-OabVirtualDirectory.ExternalUrl=''https://{MAIL_HOST}/OAB''.Identity=''{}\\OAB (Default Web Site)''",
                w.host
            )
        } else {
            match (op, schema) {
                ("GetList", "Mailboxes") => {
                    "Get-Recipient.ResultSize=''500''.RecipientTypeDetails=''UserMailbox''".to_string()
                }
                ("GetList", "DistributionGroups") => "Get-DistributionGroup.ResultSize=''500''".to_string(),
                ("GetList", "MessageTrace") => {
                    format!("Get-MessageTrackingLog.Recipients=''{}''.ResultSize=''1000''", target.upn)
                }
                ("GetList", "QueueViewer") => format!("Get-Queue.Server=''{}''", w.host),
                ("SetObject", _) => format!(
                    "Set-Mailbox.Identity=''{}''.ProhibitSendQuota=''{} GB''",
                    target.upn,
                    self.rng.range(2, 50)
                ),
                _ => format!("Get-Mailbox.Identity=''{}''", target.upn),
            }
        };
        let data = ecp_event(self.rng, &admin.sid, &cmd, &h.stem, &h.query);
        self.out.push(Event::Ecp(Ecp { t: t + i64::from(h.time_taken / 2), event_data: data, plant: None }));
        self.push(h);
    }

    fn powershell(&mut self, t: i64) {
        let w = self.w;
        if w.admins.is_empty() {
            return;
        }
        let admin = &w.users[w.admins[0]];
        let b = w.build_at(t);
        let mut h = self.base(t, Some(Proto::PowerShell), "POST", "/powershell");
        h.query = format!(
            "serializationLevel=Full;ExchClientVer={b};clientApplication=ManagementShell;TargetServer=;PSVersion=5.1.14393.4104"
        );
        h.url_host = w.fqdn.clone();
        h.client_ip = w.admin_ip.clone();
        h.ua = "Microsoft WinRM Client";
        self.as_user(&mut h, admin, "Kerberos");
        h.time_taken = self.rng.range(200, 60_000) as u32;
        self.push(h);
    }

    /// Managed Availability probes: health mailboxes signing in locally, on every protocol.
    fn health(&mut self, t: i64) {
        let w = self.w;
        let mb = &w.health_mailboxes[self.rng.below(w.health_mailboxes.len() as u64) as usize];
        let upn = format!("{mb}@{DOMAIN}");
        let (proto, method, stem, query): (Proto, &'static str, &str, String) = match self.rng.below(7) {
            0 => (Proto::Owa, "GET", "/owa/", String::new()),
            1 => (Proto::Ews, "POST", "/EWS/Exchange.asmx", String::new()),
            2 => (
                Proto::Eas,
                "POST",
                "/Microsoft-Server-ActiveSync/default.eas",
                format!("Cmd=FolderSync&User={mb}&DeviceId=AMProbe&DeviceType=AMProbe"),
            ),
            3 => (Proto::Ecp, "GET", "/ecp/", String::new()),
            4 => (
                Proto::Mapi,
                "POST",
                "/mapi/emsmdb/",
                format!("MailboxId={}@{DOMAIN}", mb.trim_start_matches("HealthMailbox")),
            ),
            5 => (Proto::Autodiscover, "POST", "/Autodiscover/Autodiscover.xml", String::new()),
            _ => (Proto::Oab, "GET", "/OAB/", String::new()),
        };
        let mut h = self.base(t, Some(proto), method, stem);
        h.query = query;
        h.url_host = "localhost".to_string();
        h.client_ip = if self.rng.chance(0.5) { "127.0.0.1".to_string() } else { "::1".to_string() };
        h.ua = *self.rng.pick(PROBE_UAS);
        h.auth_user = upn.clone();
        h.auth_type = "Negotiate";
        h.iis_user = upn;
        h.be_user = format!("{NETBIOS}\\{mb}");
        h.be_status = Some(200);
        h.target = w.fqdn.clone();
        h.anchor = format!("Smtp~{mb}@{DOMAIN}");
        h.routing_type = "AnchorMailboxHeader";
        h.routing_hint = "X-AnchorMailbox";
        self.push(h);
    }

    /// Internet scanners probing for other products: 404s, not Exchange attacks.
    fn scan404(&mut self, t: i64) {
        let ip = if self.rng.chance(0.5) {
            format!("203.0.113.{}", self.rng.range(130, 254))
        } else {
            format!("192.0.2.{}", self.rng.range(200, 254))
        };
        let ua = *self.rng.pick(SCANNER_UAS);
        let mut t = t;
        for _ in 0..self.rng.range(1, 6) {
            let path = *self.rng.pick(SCAN_PATHS);
            let method = if path.contains("formLogin") || path.contains("invoke") { "POST" } else { "GET" };
            let mut h = self.base(t, None, method, path);
            h.client_ip = ip.clone();
            h.ua = ua;
            h.status = 404;
            h.port = if self.rng.chance(0.3) { 80 } else { 443 };
            h.time_taken = self.rng.range(0, 20) as u32;
            self.push(h);
            t += self.rng.range(50, 3000) as i64;
        }
        if self.rng.chance(0.5) {
            let mut h = self.base(t, None, "GET", "/");
            h.client_ip = ip;
            h.ua = ua;
            h.status = 200;
            h.time_taken = self.rng.range(0, 5) as u32;
            self.push(h);
        }
    }

    /// `POST /owa/auth/logon.aspx?…`: a legitimate page (not a static resource) that some browsers post back to.
    fn logon_aspx_post(&mut self, t: i64) {
        let u = self.pick_user();
        let mut h = self.base(t, Some(Proto::Owa), "POST", "/owa/auth/logon.aspx");
        h.query = format!("replaceCurrent=1&url=https%3a%2f%2f{MAIL_HOST}%2fowa%2f&reason=2");
        h.client_ip = client_ip(self.rng, u, t, false);
        h.ua = u.browser_ua;
        h.status = 200;
        self.push(h);
    }

    fn misc(&mut self, t: i64) {
        let u = self.pick_user();
        let ip = client_ip(self.rng, u, t, false);
        match self.rng.below(4) {
            0 => {
                let mut h = self.base(t, Some(Proto::Owa), "GET", "/owa/logoff.owa");
                h.status = 302;
                h.client_ip = ip;
                h.ua = u.browser_ua;
                self.as_user(&mut h, u, "FBA");
                self.push(h);
            }
            1 => {
                let mut h = self.base(t, None, "GET", "/");
                h.status = 302;
                h.port = 80;
                h.client_ip = ip;
                h.ua = u.browser_ua;
                self.push(h);
            }
            2 => {
                let mut h = self.base(t, Some(Proto::Ecp), "GET", "/ecp/");
                h.query = "rfr=owa".to_string();
                h.client_ip = ip;
                h.ua = u.browser_ua;
                self.as_user(&mut h, u, "FBA");
                self.push(h);
            }
            _ => {
                let mut h = self.base(t, Some(Proto::Owa), "GET", "/owa/auth/errorFE.aspx");
                h.query = "httpCode=500".to_string();
                h.status = 200;
                h.client_ip = ip;
                h.ua = u.browser_ua;
                self.push(h);
            }
        }
    }
}

/// `2021-03-03T06:49:42` (back-end cookies: no slashes, which only a forged cookie carries).
fn push_iso_seconds(out: &mut String, t: i64) {
    let c = clock::civil(t);
    out.push_str(&format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second));
}

/// The `EventData` of an ECP request: timing, caller SID, the cmdlet with its parameters (`''` for quotes inside
/// the single-quoted value), the URL.
pub fn ecp_event(rng: &mut Rng, sid: &str, cmd: &str, stem: &str, query: &str) -> String {
    let cmd = if cmd.contains('\'') { format!("'S:CMD={cmd}'") } else { format!("S:CMD={cmd}") };
    let url = if query.is_empty() { stem.to_string() } else { format!("{stem}?{query}") };
    format!("S:TIME={};S:SID={sid};{cmd};S:REQID=;S:URL={url};S:EX=;S:ACTID={};S:RS=0", rng.skewed(60) + 3, rng.guid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_the_office_day() {
        let monday_10 = clock::ts(2021, 3, 1, 10, 0, 0);
        let monday_03 = clock::ts(2021, 3, 1, 3, 0, 0);
        let sunday_10 = clock::ts(2021, 2, 28, 10, 0, 0);
        assert!(hour_weight(monday_10) > hour_weight(sunday_10));
        assert!(hour_weight(sunday_10) > hour_weight(monday_03));
    }
}
