//! Log rules: a condition over the named fields of one log record, with the literals a prefilter can use.

use super::read::{self, Reader, Value};
use super::{Located, SampleInfo, read_samples};
use toml::de::{DeTable, DeValue};

/// The log sources that exhunt's readers produce, with what each is. A log rule's `sources` must name these (K016).
///
/// Every reader also exposes the field `_raw`: the record exactly as read (the whole line of a text log).
pub const LOG_SOURCES: &[(&str, &str)] = &[
    ("httpproxy", "Exchange HttpProxy logs, `Logging\\HttpProxy\\<protocol>\\*.log` (CSV)"),
    (
        "ecp-server",
        "Exchange ECP server log, `Logging\\ECP\\Server\\*.log` (CSV: TimeStamp, ServerName, EventId, EventData)",
    ),
    ("ecp-activity", "Exchange ECP activity log, `Logging\\ECP\\Activity\\*.log` (CSV)"),
    ("oab-generator", "Exchange OAB generator log, `Logging\\OABGeneratorLog\\**` (text lines; match `_raw`)"),
    ("cmdlet-infra", "Exchange cmdlet logs, `Logging\\CmdletInfra\\**` (CSV)"),
    ("iis", "IIS W3C logs, `inetpub\\logs\\LogFiles\\W3SVC*\\*.log` (fields named as in `#Fields:`)"),
    ("exchange-management", "`MSExchange Management.evtx` (provider MSExchange CmdletLogs)"),
    ("evtx", "any other Windows event log (Application, Security, System, Sysmon, Defender)"),
];

/// The field every reader provides: the record as read.
pub const RAW_FIELD: &str = "_raw";

/// The HttpProxy log columns of Exchange 2016 CU19 and later, in order (hunt-anchors §2.0; older CUs lack some).
/// The lab writes these; rules are checked against them.
pub const HTTPPROXY_FIELDS: &[&str] = &[
    "DateTime",
    "RequestId",
    "MajorVersion",
    "MinorVersion",
    "BuildVersion",
    "RevisionVersion",
    "ClientRequestId",
    "Protocol",
    "UrlHost",
    "UrlStem",
    "ProtocolAction",
    "AuthenticationType",
    "IsAuthenticated",
    "AuthenticatedUser",
    "Organization",
    "AnchorMailbox",
    "UserAgent",
    "ClientIpAddress",
    "ServerHostName",
    "HttpStatus",
    "BackEndStatus",
    "ErrorCode",
    "Method",
    "ProxyAction",
    "TargetServer",
    "TargetServerVersion",
    "RoutingType",
    "RoutingHint",
    "BackEndCookie",
    "ServerLocatorHost",
    "ServerLocatorLatency",
    "RequestBytes",
    "ResponseBytes",
    "TargetOutstandingRequests",
    "AuthModulePerfContext",
    "HttpPipelineLatency",
    "CalculateTargetBackEndLatency",
    "GlsLatencyBreakup",
    "TotalGlsLatency",
    "AccountForestLatencyBreakup",
    "TotalAccountForestLatency",
    "ResourceForestLatencyBreakup",
    "TotalResourceForestLatency",
    "ADLatency",
    "SharedCacheLatencyBreakup",
    "TotalSharedCacheLatency",
    "ActivityContextLifeTime",
    "ModuleToHandlerSwitchingLatency",
    "ClientReqStreamLatency",
    "BackendReqInitLatency",
    "BackendReqStreamLatency",
    "BackendProcessingLatency",
    "BackendRespInitLatency",
    "BackendRespStreamLatency",
    "ClientRespStreamLatency",
    "KerberosAuthHeaderLatency",
    "HandlerCompletionLatency",
    "RequestHandlerLatency",
    "HandlerToModuleSwitchingLatency",
    "ProxyTime",
    "CoreLatency",
    "RoutingLatency",
    "HttpProxyOverhead",
    "TotalRequestTime",
    "RouteRefresherLatency",
    "UrlQuery",
    "BackEndGenericInfo",
    "GenericInfo",
    "GenericErrors",
    "EdgeTraceId",
    "DatabaseGuid",
    "UserADObjectGuid",
    "PartitionEndpointLookupLatency",
    "RoutingStatus",
];

const ECP_SERVER_FIELDS: &[&str] = &["TimeStamp", "ServerName", "EventId", "EventData"];

const IIS_FIELDS: &[&str] = &[
    "date",
    "time",
    "s-sitename",
    "s-computername",
    "s-ip",
    "cs-method",
    "cs-uri-stem",
    "cs-uri-query",
    "s-port",
    "cs-username",
    "c-ip",
    "cs-version",
    "cs(User-Agent)",
    "cs(Cookie)",
    "cs(Referer)",
    "cs-host",
    "sc-status",
    "sc-substatus",
    "sc-win32-status",
    "sc-bytes",
    "cs-bytes",
    "time-taken",
];

/// The fields a source is known to have, when its schema is fixed (`None` for sources whose fields vary, such as
/// event logs). `_raw` is always available and not listed.
pub fn known_fields(source: &str) -> Option<&'static [&'static str]> {
    match source {
        "httpproxy" => Some(HTTPPROXY_FIELDS),
        "ecp-server" => Some(ECP_SERVER_FIELDS),
        "iis" => Some(IIS_FIELDS),
        _ => None,
    }
}

/// A log rule (the `[log]` table and its samples).
#[derive(Clone, Debug)]
pub struct LogRule {
    /// Names from [`LOG_SOURCES`].
    pub sources: Vec<String>,
    /// Literals of which every matching record contains at least one (ASCII case-insensitive).
    pub prefilter: Vec<Located>,
    pub condition: Group,
    pub positive: Vec<LogSample>,
    pub negative: Vec<LogSample>,
}

/// `all`, `any` and `none` lists: the group holds when every item of `all` holds, at least one item of `any` holds
/// (when `any` is not empty), and no item of `none` holds.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub all: Vec<Condition>,
    pub any: Vec<Condition>,
    pub none: Vec<Condition>,
    pub offset: usize,
}

#[derive(Clone, Debug)]
pub enum Condition {
    Test(FieldTest),
    Group(Group),
}

/// One test of one field.
#[derive(Clone, Debug)]
pub struct FieldTest {
    pub field: String,
    pub op: TestOp,
    /// Off by default: comparisons ignore case.
    pub case_sensitive: bool,
    /// Byte offset of the test in the rule file.
    pub offset: usize,
}

/// A test operator and its operands. A list of operands holds when any of them does.
#[derive(Clone, Debug)]
pub enum TestOp {
    /// `equals` / `one_of`: the whole value equals one of these.
    Equals(Vec<Located>),
    Contains(Vec<Located>),
    StartsWith(Vec<Located>),
    EndsWith(Vec<Located>),
    /// PowerShell `-like` wildcards over the whole value: `*` any run of characters, `?` one character.
    Like(Vec<Located>),
    /// Regular expressions (Rust `regex` syntax), searched anywhere in the value unless anchored.
    Regex(Vec<Located>),
    /// `exists = true`: the record has the field (possibly empty); `false`: it has not.
    Exists(bool),
}

impl TestOp {
    /// The TOML key of the operator.
    pub fn key(&self) -> &'static str {
        match self {
            TestOp::Equals(_) => "equals",
            TestOp::Contains(_) => "contains",
            TestOp::StartsWith(_) => "startswith",
            TestOp::EndsWith(_) => "endswith",
            TestOp::Like(_) => "like",
            TestOp::Regex(_) => "regex",
            TestOp::Exists(_) => "exists",
        }
    }
}

/// A sample record for a log rule.
#[derive(Clone, Debug)]
pub struct LogSample {
    pub info: SampleInfo,
    /// The source the record is read as (the rule's first source unless the sample names one).
    pub source: String,
    /// Field name → value, in file order.
    pub record: Vec<(String, String)>,
}

const LOG_KEYS: &[&str] = &["sources", "prefilter", "condition"];
const GROUP_KEYS: &[&str] = &["all", "any", "none"];
const TEST_KEYS: &[&str] =
    &["field", "equals", "one_of", "contains", "startswith", "endswith", "like", "regex", "exists", "case_sensitive"];
const OP_KEYS: &[&str] = &["equals", "one_of", "contains", "startswith", "endswith", "like", "regex", "exists"];
const SAMPLE_KEYS: &[&str] = &["name", "source", "record"];

/// Characters a prefilter literal may not contain: each is changed by one of the encodings the readers see (CSV
/// quote doubling, JSON and XML escaping), so a literal holding one could miss a record that matches.
pub const PREFILTER_FORBIDDEN: &[char] = &['"', '\'', ',', '\\', '<', '>', '&'];

pub(super) fn read(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<LogRule> {
    let Some(v) = read::get(root, "log") else {
        r.missing(0, "log", "a log rule");
        let _ = read_samples(r, root, |_, _, _| Some(()));
        return None;
    };
    let t = r.table(v, "`log`")?;
    let at = v.span().start;
    r.check_keys(t, LOG_KEYS, "`[log]`");

    let sources = read_sources(r, t, at);
    let prefilter = read_prefilter(r, t, at);
    let condition = match read::get(t, "condition") {
        Some(c) => r.table(c, "`condition`").and_then(|ct| read_group(r, ct, c.span().start)),
        None => {
            r.missing(at, "condition", "`[log]`");
            None
        }
    };
    if let (Some(sources), Some(cond)) = (&sources, &condition) {
        lint_fields(r, sources, cond);
    }

    let first_source = sources.as_ref().and_then(|s| s.first().cloned()).unwrap_or_default();
    let samples = read_samples(r, root, |r, v, info| read_sample(r, v, info, sources.as_deref(), &first_source));

    if let (Some((positive, _)), Some(prefilter)) = (&samples, &prefilter) {
        check_prefilter_in_samples(r, prefilter, positive);
    }
    let (positive, negative) = samples?;
    Some(LogRule { sources: sources?, prefilter: prefilter?, condition: condition?, positive, negative })
}

fn read_sources(r: &mut Reader<'_>, t: &DeTable<'_>, at: usize) -> Option<Vec<String>> {
    let Some(v) = read::get(t, "sources") else {
        r.missing(at, "sources", "`[log]`");
        return None;
    };
    let list = r.strings(v, "`sources`")?;
    if list.is_empty() {
        r.error("K016", v.span().start, "`sources` is empty").help = Some(source_help());
        return None;
    }
    let mut ok = true;
    for s in &list {
        if !LOG_SOURCES.iter().any(|(name, _)| *name == s.value) {
            r.error("K016", s.offset, format!("unknown log source `{}`", s.value)).help = Some(source_help());
            ok = false;
        }
    }
    ok.then(|| list.into_iter().map(|s| s.value).collect())
}

fn source_help() -> String {
    let names: Vec<&str> = LOG_SOURCES.iter().map(|(n, _)| *n).collect();
    format!("use one of {}", names.join(", "))
}

fn read_prefilter(r: &mut Reader<'_>, t: &DeTable<'_>, at: usize) -> Option<Vec<Located>> {
    let Some(v) = read::get(t, "prefilter") else {
        r.error("K017", at, "the log rule has no `prefilter` literals").help = Some(
            "list literals of which every record the rule matches contains one, e.g. `prefilter = [\"ServerInfo~\"]`"
                .into(),
        );
        return None;
    };
    let list = r.strings(v, "`prefilter`")?;
    if list.is_empty() {
        r.error("K017", v.span().start, "`prefilter` is empty").help =
            Some("list at least one literal that every record the rule matches contains".into());
        return None;
    }
    let mut ok = true;
    for lit in &list {
        if lit.value.is_empty() {
            r.error("K020", lit.offset, "a prefilter literal is empty");
            ok = false;
        } else if let Some(c) = lit.value.chars().find(|c| PREFILTER_FORBIDDEN.contains(c) || c.is_control()) {
            r.error("K041", lit.offset, format!("prefilter literal `{}` contains {c:?}", lit.value)).help = Some(
                "log encodings (CSV quoting, JSON and XML escaping) change this character; use a literal without it"
                    .into(),
            );
            ok = false;
        } else if lit.value.len() < 3 {
            r.warning("K043", lit.offset, format!("prefilter literal `{}` is shorter than 3 bytes", lit.value)).help =
                Some("a short literal occurs in most records and skips few; use a longer one".into());
        }
    }
    ok.then_some(list)
}

/// K017 for each positive sample that contains no prefilter literal in any field value.
fn check_prefilter_in_samples(r: &mut Reader<'_>, prefilter: &[Located], positive: &[LogSample]) {
    for s in positive {
        let found =
            s.record.iter().any(|(_, value)| prefilter.iter().any(|lit| contains_ignore_ascii_case(value, &lit.value)));
        if !found {
            let lits: Vec<String> = prefilter.iter().map(|l| format!("`{}`", l.value)).collect();
            r.error("K017", s.info.offset, format!("{} contains no prefilter literal", s.info.label())).help = Some(
                format!(
                    "a record without any of {} is skipped before the condition is evaluated; add a literal this record contains",
                    lits.join(", ")
                ),
            );
        }
    }
}

/// ASCII case-insensitive substring test (what the prefilter does).
pub fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

fn read_group(r: &mut Reader<'_>, t: &DeTable<'_>, offset: usize) -> Option<Group> {
    r.check_keys(t, GROUP_KEYS, "a condition group");
    let mut g = Group { offset, ..Group::default() };
    let mut ok = true;
    let mut present = false;
    for key in GROUP_KEYS {
        let Some(v) = read::get(t, key) else { continue };
        present = true;
        let Some(items) = r.tables(v, &format!("`{key}`")) else {
            ok = false;
            continue;
        };
        if items.is_empty() {
            r.error("K020", v.span().start, format!("`{key}` is empty"));
            ok = false;
        }
        for item in items {
            match read_condition(r, item) {
                Some(c) => match *key {
                    "all" => g.all.push(c),
                    "any" => g.any.push(c),
                    _ => g.none.push(c),
                },
                None => ok = false,
            }
        }
    }
    if !present {
        r.error("K003", offset, "a condition group has none of `all`, `any`, `none`").help =
            Some("write e.g. `all = [{ field = \"AnchorMailbox\", like = \"ServerInfo~*/*\" }]`".into());
        return None;
    }
    ok.then_some(g)
}

fn read_condition(r: &mut Reader<'_>, v: &Value<'_>) -> Option<Condition> {
    let t = v.get_ref().as_table()?;
    if read::get(t, "field").is_some() {
        read_test(r, t, v.span().start).map(Condition::Test)
    } else if GROUP_KEYS.iter().any(|k| read::get(t, k).is_some()) {
        read_group(r, t, v.span().start).map(Condition::Group)
    } else {
        r.error("K003", v.span().start, "a condition is neither a field test nor a group").help =
            Some("a field test has `field` and one operator; a group has `all`, `any` or `none`".into());
        None
    }
}

fn read_test(r: &mut Reader<'_>, t: &DeTable<'_>, offset: usize) -> Option<FieldTest> {
    r.check_keys(t, TEST_KEYS, "a field test");
    let field = read::get(t, "field").and_then(|v| r.text(v, "`field`"));
    let case_sensitive = match read::get(t, "case_sensitive") {
        Some(v) => r.boolean(v, "`case_sensitive`"),
        None => Some(false),
    };
    let ops: Vec<&str> = OP_KEYS.iter().copied().filter(|k| read::get(t, k).is_some()).collect();
    let op = match ops.as_slice() {
        [key] => read::get(t, key).and_then(|v| read_op(r, key, v)),
        [] => {
            r.error("K003", offset, "a field test has no operator").help =
                Some(format!("add one of {}", OP_KEYS.join(", ")));
            None
        }
        [_, second, ..] => {
            let off = read::key_offset(t, second).unwrap_or(offset);
            r.error("K003", off, format!("a field test has more than one operator ({})", ops.join(", "))).help =
                Some("write one test per operator and combine them in `all` or `any`".into());
            None
        }
    };
    Some(FieldTest { field: field?.value, op: op?, case_sensitive: case_sensitive?, offset })
}

fn read_op(r: &mut Reader<'_>, key: &str, v: &Value<'_>) -> Option<TestOp> {
    let what = format!("`{key}`");
    if key == "exists" {
        return r.boolean(v, &what).map(TestOp::Exists);
    }
    let values = match key {
        "one_of" => {
            if !v.get_ref().is_array() {
                r.error("K003", v.span().start, "`one_of` must be an array of strings").help =
                    Some("use `equals` for a single value".into());
                return None;
            }
            r.strings(v, &what)?
        }
        "equals" => r.strings(v, &what)?,
        _ => r.strings(v, &what)?,
    };
    if values.is_empty() {
        r.error("K020", v.span().start, format!("{what} has no value"));
        return None;
    }
    if key != "equals" && key != "one_of" {
        for s in &values {
            if s.value.is_empty() {
                r.error("K020", s.offset, format!("an empty {what} value matches everything"));
                return None;
            }
        }
    }
    Some(match key {
        "equals" | "one_of" => TestOp::Equals(values),
        "contains" => TestOp::Contains(values),
        "startswith" => TestOp::StartsWith(values),
        "endswith" => TestOp::EndsWith(values),
        "like" => TestOp::Like(values),
        _ => TestOp::Regex(values),
    })
}

/// K042 (warning) for a field that none of the rule's sources has, when every source has a fixed schema.
fn lint_fields(r: &mut Reader<'_>, sources: &[String], g: &Group) {
    let schemas: Vec<&[&str]> = sources.iter().filter_map(|s| known_fields(s)).collect();
    if schemas.len() != sources.len() {
        return;
    }
    let mut tests = Vec::new();
    collect_tests(g, &mut tests);
    for t in tests {
        if t.field == RAW_FIELD || schemas.iter().any(|fields| fields.contains(&t.field.as_str())) {
            continue;
        }
        let near: Vec<&str> =
            schemas.iter().flat_map(|f| f.iter().copied()).filter(|f| f.eq_ignore_ascii_case(&t.field)).collect();
        let help = match near.first() {
            Some(n) => format!("field names are exact: did you mean `{n}`?"),
            None => format!("the field is not in the schema of {}", sources.join(", ")),
        };
        r.warning("K042", t.offset, format!("field `{}` is not a field of the rule's sources", t.field)).help =
            Some(help);
    }
}

fn collect_tests<'g>(g: &'g Group, out: &mut Vec<&'g FieldTest>) {
    for c in g.all.iter().chain(&g.any).chain(&g.none) {
        match c {
            Condition::Test(t) => out.push(t),
            Condition::Group(inner) => collect_tests(inner, out),
        }
    }
}

fn read_sample(
    r: &mut Reader<'_>,
    v: &Value<'_>,
    mut info: SampleInfo,
    sources: Option<&[String]>,
    first_source: &str,
) -> Option<LogSample> {
    let Some(t) = v.get_ref().as_table() else {
        let ty = v.get_ref().type_str();
        r.error("K003", v.span().start, format!("a log rule sample must be a table, not {ty}")).help =
            Some("write `[[positive]]` with `record = { Field = \"value\", … }`".into());
        return None;
    };
    r.check_keys(t, SAMPLE_KEYS, "a log sample");
    info.name = read::get(t, "name").and_then(|n| r.text(n, "`name`")).map(|n| n.value);
    let source = match read::get(t, "source") {
        Some(sv) => {
            let s = r.string(sv, "`source`")?;
            if let Some(sources) = sources
                && !sources.contains(&s.value)
            {
                r.error("K003", s.offset, format!("sample source `{}` is not one of the rule's sources", s.value));
                return None;
            }
            s.value
        }
        None => first_source.to_string(),
    };
    let Some(rv) = read::get(t, "record") else {
        r.missing(info.offset, "record", "a log sample");
        return None;
    };
    let rt = r.table(rv, "`record`")?;
    let mut record = Vec::with_capacity(rt.len());
    let mut ok = true;
    for (k, fv) in rt.iter() {
        let name: &str = k.get_ref();
        match fv.get_ref() {
            DeValue::String(s) => record.push((name.to_string(), s.to_string())),
            other => {
                let ty = other.type_str();
                r.error(
                    "K003",
                    fv.span().start,
                    format!("field `{name}` of a sample record must be a string, not {ty}"),
                );
                ok = false;
            }
        }
    }
    if record.is_empty() {
        r.error("K020", rv.span().start, "a sample record has no field");
        ok = false;
    }
    ok.then_some(LogSample { info, source, record })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_case_insensitive_contains() {
        assert!(contains_ignore_ascii_case("xxSERVERINFO~a", "serverinfo~"));
        assert!(!contains_ignore_ascii_case("Server~a", "serverinfo~"));
        assert!(contains_ignore_ascii_case("", ""));
    }

    #[test]
    fn source_names_are_unique() {
        let mut names: Vec<&str> = LOG_SOURCES.iter().map(|(n, _)| *n).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
