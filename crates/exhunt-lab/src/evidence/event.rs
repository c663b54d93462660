//! What happens on the server, one record per event, and how each event is written to the logs it touches.

use exhunt_model::{FindingKind, Severity};

use super::clock;
use super::out::{CsvRow, push_csv, push_w3c_field};
use super::world::{Build, SERVER_IP, World};

/// The HttpProxy protocol folders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Autodiscover,
    Eas,
    Ecp,
    Ews,
    Mapi,
    Oab,
    Owa,
    PowerShell,
    RpcHttp,
}

impl Proto {
    pub const ALL: [Proto; 9] = [
        Proto::Autodiscover,
        Proto::Eas,
        Proto::Ecp,
        Proto::Ews,
        Proto::Mapi,
        Proto::Oab,
        Proto::Owa,
        Proto::PowerShell,
        Proto::RpcHttp,
    ];

    /// The folder name under `Logging\HttpProxy` and the `Protocol` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Autodiscover => "Autodiscover",
            Proto::Eas => "Eas",
            Proto::Ecp => "Ecp",
            Proto::Ews => "Ews",
            Proto::Mapi => "Mapi",
            Proto::Oab => "Oab",
            Proto::Owa => "Owa",
            Proto::PowerShell => "PowerShell",
            Proto::RpcHttp => "RpcHttp",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A planted trace: what a correct hunt must (or may) report about the line it lands on.
#[derive(Clone, Debug)]
pub struct Expect {
    pub kind: FindingKind,
    pub check: &'static str,
    pub min_severity: Severity,
    /// A correct hunt must report this line; when false it may, at any severity, without that being a false
    /// positive (traces no published check keys on, such as the back-end half of an SSRF request).
    pub required: bool,
    /// Further indicators on the same line (`actor-ip`, `actor-user-agent`, `command-in-query`).
    pub indicators: Vec<&'static str>,
    /// Text that the planted line contains (tests re-read the line and look for it).
    pub matches: String,
    pub note: &'static str,
}

impl Expect {
    pub fn new(kind: FindingKind, check: &'static str, min: Severity, matches: impl Into<String>) -> Expect {
        Expect {
            kind,
            check,
            min_severity: min,
            required: true,
            indicators: Vec::new(),
            matches: matches.into(),
            note: "",
        }
    }

    pub fn optional(mut self) -> Expect {
        self.required = false;
        self
    }

    pub fn with(mut self, indicator: &'static str) -> Expect {
        if !self.indicators.contains(&indicator) {
            self.indicators.push(indicator);
        }
        self
    }

    pub fn note(mut self, note: &'static str) -> Expect {
        self.note = note;
        self
    }
}

/// One HTTP request as the front end (IIS site 1), the HttpProxy module and the back end (IIS site 2) log it.
#[derive(Clone, Debug, Default)]
pub struct Http {
    pub t: i64,
    /// The HttpProxy folder that logs it; `None` for requests outside Exchange's virtual directories.
    pub proto: Option<Proto>,
    pub method: &'static str,
    pub stem: String,
    /// Query without the leading `?`; empty when none.
    pub query: String,
    pub port: u16,
    /// Front-end status.
    pub status: u16,
    /// Proxied to the back end on port 444 with this status (a line in W3SVC2).
    pub be_status: Option<u16>,
    /// Back-end path when it differs from the front-end one (SSRF: `/ecp/y.js` becomes `/ecp/proxyLogon.ecp`).
    pub be_stem: Option<String>,
    pub be_query: Option<String>,
    /// `cs-username` in the front-end and back-end IIS logs.
    pub iis_user: String,
    pub be_user: String,
    pub auth_user: String,
    pub auth_type: &'static str,
    pub anchor: String,
    pub routing_type: &'static str,
    pub routing_hint: &'static str,
    pub backend_cookie: String,
    /// `TargetServer`; empty when the front end answered itself.
    pub target: String,
    pub url_host: String,
    pub client_ip: String,
    pub ua: &'static str,
    pub referer: String,
    pub action: &'static str,
    /// Exchange appends `&CorrelationID=<empty>;&cafeReqId=…;` to the IIS query of requests it handles.
    pub cafe: bool,
    pub request_id: String,
    pub client_request_id: String,
    pub time_taken: u32,
    pub req_bytes: u32,
    pub resp_bytes: u32,
    pub database_guid: String,
    pub user_guid: String,
    pub generic_info: String,
    pub plant_fe: Option<Expect>,
    pub plant_proxy: Option<Expect>,
    pub plant_be: Option<Expect>,
}

/// A line of the ECP server log.
#[derive(Clone, Debug)]
pub struct Ecp {
    pub t: i64,
    pub event_data: String,
    pub plant: Option<Expect>,
}

/// A line of the OAB generator log.
#[derive(Clone, Debug)]
pub struct Oab {
    pub t: i64,
    pub message: String,
    pub plant: Option<Expect>,
}

#[derive(Clone, Debug)]
pub enum Event {
    Http(Box<Http>),
    Ecp(Ecp),
    Oab(Oab),
}

impl Event {
    pub fn time(&self) -> i64 {
        match self {
            Event::Http(h) => h.t,
            Event::Ecp(e) => e.t,
            Event::Oab(o) => o.t,
        }
    }
}

/// Renders the HttpProxy row of a request.
pub fn httpproxy_row(buf: &mut Vec<u8>, h: &Http, proto: Proto, build: Build, drop: u128, w: &World) {
    let proxied = h.be_status.is_some();
    let lat = |x: u32| u64::from(x);
    let total = lat(h.time_taken);
    let mut r = CsvRow::new(buf, drop);
    r.time(h.t)
        .s(&h.request_id)
        .n(u64::from(build.major))
        .n(u64::from(build.minor))
        .n(u64::from(build.build))
        .n(u64::from(build.revision))
        .s(&h.client_request_id)
        .s(proto.as_str())
        .s(&h.url_host)
        .s(&h.stem)
        .s(h.action)
        .s(h.auth_type)
        .s(if h.auth_user.is_empty() { "false" } else { "true" })
        .s(&h.auth_user)
        .s("")
        .s(&h.anchor)
        .s(h.ua)
        .s(&h.client_ip)
        .s(&w.host)
        .n(u64::from(h.status))
        .s(&h.be_status.map(|s| s.to_string()).unwrap_or_default())
        .s("")
        .s(h.method)
        .s(if proxied { "Proxy" } else { "" })
        .s(&h.target)
        .s(&if h.target.is_empty() || h.target == "localhost" { String::new() } else { build.display_version() })
        .s(h.routing_type)
        .s(h.routing_hint)
        .s(&h.backend_cookie)
        .s(if proxied { &w.fqdn } else { "" })
        .n(if proxied { total % 3 } else { 0 })
        .n(u64::from(h.req_bytes))
        .n(u64::from(h.resp_bytes))
        .n(if proxied { (total / 7) % 4 } else { 0 })
        .s("")
        .n(total % 2)
        .n(if proxied { 1 } else { 0 })
        .s("")
        .s("")
        .s("")
        .s("")
        .s("")
        .s("")
        .n(total % 5)
        .s("")
        .s("")
        .n(total + 1)
        .n(0)
        .n(total % 3)
        .n(if proxied { 1 } else { 0 })
        .n(0)
        .n(if proxied { total * 8 / 10 } else { 0 })
        .n(if proxied { total * 8 / 10 + 1 } else { 0 })
        .n(if proxied { total % 7 } else { 0 })
        .n(total % 4)
        .n(0)
        .n(0)
        .n(total.saturating_sub(1))
        .n(0)
        .n(if proxied { total * 9 / 10 } else { 0 })
        .n(total % 6)
        .n(total % 3)
        .n(total / 10 + total % 5)
        .n(total)
        .n(0)
        .s(&if h.query.is_empty() { String::new() } else { format!("?{}", h.query) })
        .s("")
        .s(&h.generic_info)
        .s("")
        .s("")
        .s(&h.database_guid)
        .s(&h.user_guid)
        .s("")
        .s(if proxied { "Succeeded" } else { "" });
    debug_assert_eq!(r.count(), 74, "one value per HttpProxy column");
}

/// Renders the front-end (`be == false`) or back-end IIS line of a request.
pub fn iis_line(buf: &mut Vec<u8>, h: &Http, be: bool) {
    clock::push_w3c(buf, if be { h.t - i64::from(h.time_taken / 10).min(200) } else { h.t });
    buf.push(b' ');
    buf.extend_from_slice(SERVER_IP.as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(h.method.as_bytes());
    buf.push(b' ');
    let stem = if be { h.be_stem.as_deref().unwrap_or(&h.stem) } else { &h.stem };
    push_w3c_field(buf, stem);
    buf.push(b' ');
    let query = if be { h.be_query.as_deref().unwrap_or(&h.query) } else { &h.query };
    if h.cafe {
        buf.extend_from_slice(query.as_bytes());
        buf.extend_from_slice(b"&CorrelationID=<empty>;&cafeReqId=");
        buf.extend_from_slice(h.request_id.as_bytes());
        buf.push(b';');
        if !be && h.stem.starts_with("/owa/") {
            buf.extend_from_slice(b"&encoding=;");
        }
    } else {
        push_w3c_field(buf, query);
    }
    buf.push(b' ');
    clock::push_u64(buf, if be { 444 } else { u64::from(h.port) });
    buf.push(b' ');
    push_w3c_field(buf, if be { &h.be_user } else { &h.iis_user });
    buf.push(b' ');
    push_w3c_field(buf, if be { SERVER_IP } else { &h.client_ip });
    buf.push(b' ');
    push_w3c_field(buf, h.ua);
    buf.push(b' ');
    push_w3c_field(buf, if be { "" } else { &h.referer });
    buf.push(b' ');
    clock::push_u64(buf, u64::from(if be { h.be_status.unwrap_or(h.status) } else { h.status }));
    buf.extend_from_slice(b" 0 0 ");
    clock::push_u64(buf, u64::from(if be { h.time_taken * 8 / 10 } else { h.time_taken }));
}

/// Renders an ECP server log line.
pub fn ecp_line(buf: &mut Vec<u8>, e: &Ecp, w: &World) {
    clock::push_iso_ms(buf, e.t);
    buf.push(b',');
    push_csv(buf, &w.host);
    buf.extend_from_slice(b",ECP.Request,");
    push_csv(buf, &e.event_data);
}

/// Renders an OAB generator log line.
pub fn oab_line(buf: &mut Vec<u8>, o: &Oab) {
    clock::push_iso_ms(buf, o.t);
    buf.push(b',');
    push_csv(buf, &o.message);
}
