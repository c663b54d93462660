//! Where a Sigma rule's `logsource` meets exhunt's evidence, and how exhunt's field names become Sigma's.
//!
//! Rules are never rewritten. Routing picks, for each event, the buckets of rules whose log source the event
//! belongs to; field mapping is a view over the event that answers Sigma's names (`Image`) from the names the
//! event carries (`NewProcessName` in a Security 4688 event). The tables here are the whole of both; `docs/sigma.md`
//! prints them for people.

use rsigma_parser::LogSource;

/// Channel names, as `System/Channel` spells them.
pub(crate) mod channel {
    pub const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";
    pub const SECURITY: &str = "Security";
    pub const POWERSHELL: &str = "Microsoft-Windows-PowerShell/Operational";
    pub const POWERSHELL_CLASSIC: &str = "Windows PowerShell";
    pub const DEFENDER: &str = "Microsoft-Windows-Windows Defender/Operational";
    pub const EXCHANGE_MANAGEMENT: &str = crate::event::EXCHANGE_MANAGEMENT_CHANNEL;
}

/// Sigma `service` → the channels its events are read from (from the Sigma Windows taxonomy, as SigmaHQ's
/// `windows-logsources` pipeline spells it).
pub(crate) const SERVICES: &[(&str, &[&str])] = &[
    ("security", &[channel::SECURITY]),
    ("system", &["System"]),
    ("application", &["Application"]),
    ("sysmon", &[channel::SYSMON]),
    ("powershell", &[channel::POWERSHELL]),
    ("powershell-classic", &[channel::POWERSHELL_CLASSIC]),
    ("msexchange-management", &[channel::EXCHANGE_MANAGEMENT]),
    ("windefend", &[channel::DEFENDER]),
    ("taskscheduler", &["Microsoft-Windows-TaskScheduler/Operational"]),
    ("wmi", &["Microsoft-Windows-WMI-Activity/Operational"]),
    ("dns-server", &["DNS Server"]),
    ("driver-framework", &["Microsoft-Windows-DriverFrameworks-UserMode/Operational"]),
    ("ntlm", &["Microsoft-Windows-NTLM/Operational"]),
    ("dhcp", &["Microsoft-Windows-DHCP-Server/Operational"]),
    ("bits-client", &["Microsoft-Windows-Bits-Client/Operational"]),
    ("codeintegrity-operational", &["Microsoft-Windows-CodeIntegrity/Operational"]),
    ("firewall-as", &["Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"]),
    ("printservice-admin", &["Microsoft-Windows-PrintService/Admin"]),
    ("printservice-operational", &["Microsoft-Windows-PrintService/Operational"]),
    ("smbclient-security", &["Microsoft-Windows-SmbClient/Security"]),
    ("terminalservices-localsessionmanager", &["Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"]),
    ("openssh", &["OpenSSH/Operational"]),
    ("lsa-server", &["Microsoft-Windows-LSA/Operational"]),
    ("capi2", &["Microsoft-Windows-CAPI2/Operational"]),
    ("shell-core", &["Microsoft-Windows-Shell-Core/Operational"]),
    (
        "applocker",
        &[
            "Microsoft-Windows-AppLocker/MSI and Script",
            "Microsoft-Windows-AppLocker/EXE and DLL",
            "Microsoft-Windows-AppLocker/Packaged app-Deployment",
            "Microsoft-Windows-AppLocker/Packaged app-Execution",
        ],
    ),
];

/// How an event's own field names are turned into Sigma's before the rules see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// Names as they are (Sysmon, Security except 4688, MSExchange Management, …).
    Plain,
    /// Security 4688 as `process_creation` ([`AUDIT_4688`]).
    Audit4688,
    /// Defender 1116/1117 as `antivirus` ([`DEFENDER_AV`]).
    Defender,
    /// IIS W3C, names as in `#Fields:` ([`IIS`]).
    Iis,
    /// Exchange HttpProxy CSV ([`HTTPPROXY`]).
    HttpProxy,
}

impl View {
    /// (Sigma name, name in the record) pairs: a Sigma name listed here is read only from its source.
    pub(crate) fn aliases(self) -> &'static [(&'static str, &'static str)] {
        match self {
            View::Plain => &[],
            View::Audit4688 => AUDIT_4688,
            View::Defender => DEFENDER_AV,
            View::Iis => IIS,
            View::HttpProxy => HTTPPROXY,
        }
    }
}

/// Security 4688 → Sigma `process_creation` (Sysmon 1 names), as SigmaHQ's `windows-audit` pipeline maps them.
/// Values are not translated: `IntegrityLevel` keeps 4688's label SID, `ProcessId` its hexadecimal form.
pub(crate) const AUDIT_4688: &[(&str, &str)] = &[
    ("Image", "NewProcessName"),
    ("ParentImage", "ParentProcessName"),
    ("ProcessId", "NewProcessId"),
    ("ParentProcessId", "ProcessId"),
    ("User", "SubjectUserName"),
    ("LogonId", "SubjectLogonId"),
    ("IntegrityLevel", "MandatoryLabel"),
];

/// Defender 1116/1117 → Sigma `antivirus`.
pub(crate) const DEFENDER_AV: &[(&str, &str)] =
    &[("Signature", "Threat Name"), ("Filename", "Path"), ("Action", "Action Name"), ("User", "Detection User")];

/// IIS W3C `#Fields:` names → Sigma `webserver` names. The names not listed are the same in both (`cs-method`,
/// `cs-uri-stem`, `cs-uri-query`, `c-ip`, `sc-status`, `cs-host`, `s-ip`, `s-port`, `cs-username`, `time-taken`, …).
pub(crate) const IIS: &[(&str, &str)] =
    &[("cs-user-agent", "cs(User-Agent)"), ("cs-referer", "cs(Referer)"), ("cs-cookie", "cs(Cookie)")];

/// The IIS fields keyword rules search (a [`crate::Fields`] record cannot list its names).
pub(crate) const IIS_VALUES: &[&str] = &[
    "cs-method",
    "cs-uri-stem",
    "cs-uri-query",
    "cs-username",
    "c-ip",
    "cs(User-Agent)",
    "cs(Referer)",
    "cs(Cookie)",
    "cs-host",
    "sc-status",
];

/// Exchange HttpProxy CSV columns → Sigma `webserver` names. HttpProxy columns without a webserver equivalent
/// (`AnchorMailbox`, `TargetServer`, `BackEndCookie`, …) stay readable by their own names.
pub(crate) const HTTPPROXY: &[(&str, &str)] = &[
    ("cs-method", "Method"),
    ("cs-uri-stem", "UrlStem"),
    ("cs-uri-query", "UrlQuery"),
    ("c-ip", "ClientIpAddress"),
    ("cs-user-agent", "UserAgent"),
    ("sc-status", "HttpStatus"),
    ("cs-host", "UrlHost"),
    ("cs-username", "AuthenticatedUser"),
    ("s-computername", "ServerHostName"),
    ("cs-bytes", "RequestBytes"),
    ("sc-bytes", "ResponseBytes"),
    ("time-taken", "TotalRequestTime"),
];

/// The HttpProxy fields keyword rules search.
pub(crate) const HTTPPROXY_VALUES: &[&str] = &[
    "Method",
    "UrlStem",
    "UrlQuery",
    "ClientIpAddress",
    "UserAgent",
    "UrlHost",
    "AuthenticatedUser",
    "AnchorMailbox",
    "TargetServer",
    "BackEndCookie",
    "RoutingHint",
    "HttpStatus",
];

/// Windows `category` ← (channel, event id, view). Sysmon 12 is routed by its `EventType` (see [`win_routes`]).
const CATEGORIES: &[(&str, &str, u32, View)] = &[
    ("process_creation", channel::SYSMON, 1, View::Plain),
    ("process_creation", channel::SECURITY, 4688, View::Audit4688),
    ("file_change", channel::SYSMON, 2, View::Plain),
    ("network_connection", channel::SYSMON, 3, View::Plain),
    ("process_termination", channel::SYSMON, 5, View::Plain),
    ("driver_load", channel::SYSMON, 6, View::Plain),
    ("image_load", channel::SYSMON, 7, View::Plain),
    ("create_remote_thread", channel::SYSMON, 8, View::Plain),
    ("raw_access_thread", channel::SYSMON, 9, View::Plain),
    ("process_access", channel::SYSMON, 10, View::Plain),
    ("file_event", channel::SYSMON, 11, View::Plain),
    ("registry_event", channel::SYSMON, 12, View::Plain),
    ("registry_event", channel::SYSMON, 13, View::Plain),
    ("registry_set", channel::SYSMON, 13, View::Plain),
    ("registry_event", channel::SYSMON, 14, View::Plain),
    ("registry_rename", channel::SYSMON, 14, View::Plain),
    ("create_stream_hash", channel::SYSMON, 15, View::Plain),
    ("pipe_created", channel::SYSMON, 17, View::Plain),
    ("pipe_created", channel::SYSMON, 18, View::Plain),
    ("wmi_event", channel::SYSMON, 19, View::Plain),
    ("wmi_event", channel::SYSMON, 20, View::Plain),
    ("wmi_event", channel::SYSMON, 21, View::Plain),
    ("dns_query", channel::SYSMON, 22, View::Plain),
    ("file_delete", channel::SYSMON, 23, View::Plain),
    ("process_tampering", channel::SYSMON, 25, View::Plain),
    ("file_delete", channel::SYSMON, 26, View::Plain),
    ("ps_module", channel::POWERSHELL, 4103, View::Plain),
    ("ps_script", channel::POWERSHELL, 4104, View::Plain),
    ("ps_classic_start", channel::POWERSHELL_CLASSIC, 400, View::Plain),
    ("ps_classic_provider_start", channel::POWERSHELL_CLASSIC, 600, View::Plain),
    ("ps_classic_script", channel::POWERSHELL_CLASSIC, 800, View::Plain),
    ("antivirus", channel::DEFENDER, 1116, View::Defender),
    ("antivirus", channel::DEFENDER, 1117, View::Defender),
];

/// The bucket of rules for `product: windows` without a category or a service: every Windows event.
pub(crate) const ANY_WINDOWS: &str = "product:windows";
/// The bucket of `service: msexchange-management` rules.
pub(crate) const EXCHANGE_MANAGEMENT: &str = "service:msexchange-management";
/// The bucket of `category: webserver` rules.
pub(crate) const WEBSERVER: &str = "category:webserver";

/// The bucket a rule goes to, by its `logsource`; `Err` says why exhunt has no evidence for it.
pub(crate) fn bucket_of(ls: &LogSource) -> Result<&'static str, String> {
    let product = ls.product.as_deref().map(str::to_ascii_lowercase);
    let category = ls.category.as_deref().map(str::to_ascii_lowercase);
    let service = ls.service.as_deref().map(str::to_ascii_lowercase);
    let windows_or_none = matches!(product.as_deref(), None | Some("windows"));
    if let Some(category) = category.as_deref() {
        if category == "webserver" {
            return if matches!(product.as_deref(), None | Some("windows") | Some("iis")) {
                Ok(WEBSERVER)
            } else {
                Err(format!(
                    "`category: webserver` of product `{}`: exhunt reads IIS and Exchange logs",
                    show(&product)
                ))
            };
        }
        if let Some(bucket) = category_bucket(category)
            && windows_or_none
        {
            return Ok(bucket);
        }
        return Err(format!(
            "`category: {category}`{}: exhunt reads Windows events, IIS and Exchange logs, and has no event of this \
             category",
            product.as_deref().map(|p| format!(" of product `{p}`")).unwrap_or_default()
        ));
    }
    if let Some(service) = service.as_deref() {
        if windows_or_none && let Some((name, _)) = SERVICES.iter().find(|(name, _)| *name == service) {
            return Ok(service_bucket(name));
        }
        return Err(format!("`service: {service}` of product `{}`: no channel known for it", show(&product)));
    }
    match product.as_deref() {
        Some("windows") => Ok(ANY_WINDOWS),
        Some(other) => Err(format!("`product: {other}` without category or service: not a Windows event source")),
        None => Err("no `logsource` product, category or service".to_string()),
    }
}

fn show(product: &Option<String>) -> &str {
    product.as_deref().unwrap_or("(none)")
}

/// `category:<name>` for a category of [`CATEGORIES`] (or Sysmon 12's `registry_add`/`registry_delete`).
fn category_bucket(category: &str) -> Option<&'static str> {
    const EXTRA: &[&str] = &["category:registry_add", "category:registry_delete"];
    CATEGORY_BUCKETS.iter().chain(EXTRA).copied().find(|b| b.strip_prefix("category:") == Some(category))
}

/// `category:<name>` of every row of [`CATEGORIES`], in the same order.
const CATEGORY_BUCKETS: &[&str] = &[
    "category:process_creation",
    "category:file_change",
    "category:network_connection",
    "category:process_termination",
    "category:driver_load",
    "category:image_load",
    "category:create_remote_thread",
    "category:raw_access_thread",
    "category:process_access",
    "category:file_event",
    "category:registry_event",
    "category:registry_set",
    "category:registry_rename",
    "category:create_stream_hash",
    "category:pipe_created",
    "category:wmi_event",
    "category:dns_query",
    "category:file_delete",
    "category:process_tampering",
    "category:ps_module",
    "category:ps_script",
    "category:ps_classic_start",
    "category:ps_classic_provider_start",
    "category:ps_classic_script",
    "category:antivirus",
];

/// `service:<name>` for a name of [`SERVICES`].
fn service_bucket(name: &str) -> &'static str {
    SERVICE_BUCKETS
        .iter()
        .copied()
        .find(|b| b.strip_prefix("service:") == Some(name))
        .expect("invariant: SERVICE_BUCKETS names every service of SERVICES")
}

const SERVICE_BUCKETS: &[&str] = &[
    "service:security",
    "service:system",
    "service:application",
    "service:sysmon",
    "service:powershell",
    "service:powershell-classic",
    "service:msexchange-management",
    "service:windefend",
    "service:taskscheduler",
    "service:wmi",
    "service:dns-server",
    "service:driver-framework",
    "service:ntlm",
    "service:dhcp",
    "service:bits-client",
    "service:codeintegrity-operational",
    "service:firewall-as",
    "service:printservice-admin",
    "service:printservice-operational",
    "service:smbclient-security",
    "service:terminalservices-localsessionmanager",
    "service:openssh",
    "service:lsa-server",
    "service:capi2",
    "service:shell-core",
    "service:applocker",
];

/// The most buckets one event can be routed to (category ×2 for Sysmon 12–14, service, product).
pub(crate) const MAX_ROUTES: usize = 4;

/// The buckets a Windows event is evaluated against, each with the view that gives it Sigma's names.
///
/// Fills a fixed array: routing allocates nothing.
pub(crate) fn win_routes(event: &crate::Event) -> ([(&'static str, View); MAX_ROUTES], usize) {
    let mut out = [("", View::Plain); MAX_ROUTES];
    let mut n = 0;
    let mut push = |bucket: &'static str, view: View| {
        if n < MAX_ROUTES {
            out[n] = (bucket, view);
            n += 1;
        }
    };
    let channel = event.channel();
    let id = event.event_id();
    if let Some(id) = id {
        for (row, &(_, ch, eid, view)) in CATEGORIES.iter().enumerate() {
            if eid == id && ch.eq_ignore_ascii_case(channel) {
                push(category_row_bucket(row), view);
            }
        }
        if id == 12 && channel.eq_ignore_ascii_case(channel::SYSMON) {
            use crate::Fields as _;
            let kind = event.get("EventType").unwrap_or("");
            if kind.eq_ignore_ascii_case("CreateKey") {
                push("category:registry_add", View::Plain);
            } else if kind.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("Delete")) {
                push("category:registry_delete", View::Plain);
            }
        }
    }
    if event.log_source() == "exchange-management" {
        push(EXCHANGE_MANAGEMENT, View::Plain);
    } else if let Some((name, _)) =
        SERVICES.iter().find(|(_, channels)| channels.iter().any(|c| c.eq_ignore_ascii_case(channel)))
    {
        push(service_bucket(name), View::Plain);
    }
    push(ANY_WINDOWS, View::Plain);
    (out, n)
}

fn category_row_bucket(row: usize) -> &'static str {
    let category = CATEGORIES[row].0;
    category_bucket(category).expect("invariant: every category of CATEGORIES has a bucket")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_and_service_has_a_bucket() {
        for (category, ..) in CATEGORIES {
            assert!(category_bucket(category).is_some(), "{category}");
        }
        for (name, _) in SERVICES {
            service_bucket(name);
        }
        assert_eq!(SERVICE_BUCKETS.len(), SERVICES.len());
    }

    #[test]
    fn logsources_route_or_say_why_not() {
        let ls = |c: Option<&str>, p: Option<&str>, s: Option<&str>| LogSource {
            category: c.map(String::from),
            product: p.map(String::from),
            service: s.map(String::from),
            ..LogSource::default()
        };
        assert_eq!(bucket_of(&ls(Some("process_creation"), Some("windows"), None)), Ok("category:process_creation"));
        assert_eq!(bucket_of(&ls(Some("webserver"), None, None)), Ok(WEBSERVER));
        assert_eq!(
            bucket_of(&ls(None, Some("windows"), Some("msexchange-management"))),
            Ok("service:msexchange-management")
        );
        assert_eq!(bucket_of(&ls(None, Some("windows"), None)), Ok(ANY_WINDOWS));
        assert!(bucket_of(&ls(Some("proxy"), None, None)).expect_err("proxy is not routed").contains("proxy"));
        assert!(bucket_of(&ls(Some("process_creation"), Some("linux"), None)).is_err());
    }

    #[test]
    fn security_4688_is_process_creation_and_security() {
        let mut e = crate::Event::default();
        e.push("EventID", "4688");
        e.push("Channel", "Security");
        let (routes, n) = win_routes(&e);
        assert_eq!(
            &routes[..n],
            &[
                ("category:process_creation", View::Audit4688),
                ("service:security", View::Plain),
                (ANY_WINDOWS, View::Plain)
            ]
        );
    }
}
