//! From a record as JSON to an [`Event`] with the field names of `exhunt_detect::event` (pure functions, no I/O).
//!
//! * [`from_evtx_json`]: the JSON form of the `evtx` crate and of `evtx_dump -o jsonl` (`{"Event":{"System":…,
//!   "EventData":…}}`, attributes under `#attributes`, element text under `#text` when the element also has
//!   attributes, named `Data` items as keys of `EventData`, unnamed ones as `EventData.Data.#text`, a string or an
//!   array).
//! * [`from_export`]: one line of a JSON export, whatever the shipper: `evtx_dump` (as above), Winlogbeat
//!   (`winlog.*`), or flat objects (NXLog `im_msvistalog` + `to_json()`, OTRF/Mordor research datasets) where the
//!   `System` values and the `EventData` fields sit side by side.
//!
//! Every form gives the `System` fields in one order (`EventID`, `Channel`, `Provider_Name`, `Computer`,
//! `EventRecordID`, `TimeCreated`, `Level`, `Task`, `Opcode`, `Keywords`, `UserID`), then the `EventData` fields,
//! then the `UserData` leaves, so the same event read from an `.evtx` and from an export gives the same fields.
//! Serde's JSON maps are ordered by key, so named `EventData` fields come in key order in every form.
//!
//! # Times
//!
//! `TimeCreated` is RFC 3339 UTC. A time without a zone is not known to be UTC and is not guessed: NXLog's
//! `EventTime` and `EventReceivedTime` (`2021-03-03 02:11:09`) are in the local time of the host that ran NXLog,
//! which the export does not record, so such an event has no time (`Event::time` is `None`, no `TimeCreated`) unless
//! the line also has a zoned time (`@timestamp`, `TimeCreated`, or an `EventTime` that NXLog was told to write with a
//! zone). The readers count such events ([`super::EventStats::untimed`]).

use exhunt_detect::event::field;
use exhunt_detect::{Event, Fields};
use exhunt_model::Timestamp;
use serde_json::{Map, Value};

/// Keys of a flat export (NXLog, OTRF) that describe the record or the shipper, not `EventData`.
const FLAT_META: &[&str] = &[
    "EventID",
    "EventId",
    "Channel",
    "Hostname",
    "Computer",
    "SourceName",
    "ProviderName",
    "Provider_Name",
    "ProviderGuid",
    "EventTime",
    "EventReceivedTime",
    "TimeCreated",
    "@timestamp",
    "@version",
    "RecordNumber",
    "EventRecordID",
    "Severity",
    "SeverityValue",
    "EventType",
    "SourceModuleName",
    "SourceModuleType",
    "Keywords",
    "Level",
    "Task",
    "Opcode",
    "OpcodeValue",
    "Version",
    "ExecutionProcessID",
    "ExecutionThreadID",
    "ProcessID",
    "ThreadID",
    "Category",
    "Message",
    "UserID",
    "AccountName",
    "AccountType",
    "Domain",
    "ActivityID",
    "RelatedActivityID",
];

/// The `System` values of an event, gathered before they are written in their fixed order.
#[derive(Default)]
struct System {
    event_id: Option<String>,
    channel: Option<String>,
    provider: Option<String>,
    computer: Option<String>,
    record_id: Option<String>,
    time: Option<Timestamp>,
    level: Option<String>,
    task: Option<String>,
    opcode: Option<String>,
    keywords: Option<String>,
    user_id: Option<String>,
}

impl System {
    fn into_event(self) -> Event {
        let mut e = Event { time: self.time, fields: Vec::with_capacity(16) };
        let time = self.time.map(|t| t.to_string());
        for (name, value) in [
            (field::EVENT_ID, self.event_id),
            (field::CHANNEL, self.channel),
            (field::PROVIDER, self.provider),
            (field::COMPUTER, self.computer),
            (field::RECORD_ID, self.record_id),
            (field::TIME_CREATED, time),
            ("Level", self.level),
            ("Task", self.task),
            ("Opcode", self.opcode),
            ("Keywords", self.keywords),
            ("UserID", self.user_id),
        ] {
            if let Some(v) = value {
                e.push(name, v);
            }
        }
        e
    }
}

/// A value as a field's text: strings as they are, numbers and booleans printed, `null` empty; an element with
/// attributes gives its `#text`; an array gives its items joined with `\n`; any other object gives `None`.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Object(o) => o.get("#text").and_then(text),
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(text).collect();
            parts.map(|p| p.join("\n"))
        }
    }
}

/// A scalar (or `#text`) that is not empty.
fn scalar(v: Option<&Value>) -> Option<String> {
    let v = v?;
    if v.is_array() {
        return None;
    }
    text(v).filter(|s| !s.is_empty())
}

fn attr<'a>(v: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    v?.get("#attributes")?.get(name)
}

/// A time with a zone: RFC 3339 (`T` or a space between date and time), any offset, converted to UTC.
pub fn parse_zoned_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = Timestamp::parse_rfc3339(s) {
        return Some(t);
    }
    if s.len() > 10 && s.as_bytes()[10] == b' ' {
        let mut fixed = s.to_string();
        fixed.replace_range(10..11, "T");
        return Timestamp::parse_rfc3339(&fixed).ok();
    }
    None
}

/// The `Event` of the `evtx` crate's JSON form: the whole record (`{"Event":{…}}`) or the `Event` object itself.
/// Unknown shapes give an event with the fields that could be found (possibly none).
pub fn from_evtx_json(value: &Value) -> Event {
    let event = value.get("Event").filter(|e| e.is_object()).unwrap_or(value);
    let sys = event.get("System");
    let get = |k: &str| sys.and_then(|s| s.get(k));
    let system = System {
        event_id: scalar(get("EventID")),
        channel: scalar(get("Channel")),
        provider: attr(get("Provider"), "Name").and_then(|v| scalar(Some(v))),
        computer: scalar(get("Computer")),
        record_id: scalar(get("EventRecordID")),
        time: attr(get("TimeCreated"), "SystemTime").and_then(Value::as_str).and_then(parse_zoned_time),
        level: scalar(get("Level")),
        task: scalar(get("Task")),
        opcode: scalar(get("Opcode")),
        keywords: scalar(get("Keywords")),
        user_id: attr(get("Security"), "UserID").and_then(|v| scalar(Some(v))),
    };
    let mut e = system.into_event();
    if let Some(Value::Object(data)) = event.get("EventData") {
        event_data(data, &mut e);
    }
    if let Some(user) = event.get("UserData") {
        let mut seen = Vec::new();
        leaves(user, None, &mut e, &mut seen, 0);
    }
    e
}

/// `EventData` of the evtx JSON form: named items as fields, unnamed `Data` items as `Data1..N` and `Data`, other
/// elements (`Binary`) by their name.
fn event_data(data: &Map<String, Value>, e: &mut Event) {
    let mut unnamed: Vec<String> = Vec::new();
    for (k, v) in data {
        match k.as_str() {
            "#attributes" => {}
            "Data" => match v {
                Value::Object(o) => match o.get("#text") {
                    Some(Value::Array(items)) => unnamed.extend(items.iter().map(|i| text(i).unwrap_or_default())),
                    Some(t) => unnamed.push(text(t).unwrap_or_default()),
                    None => unnamed.push(String::new()),
                },
                Value::Array(items) => unnamed.extend(items.iter().map(|i| text(i).unwrap_or_default())),
                other => unnamed.push(text(other).unwrap_or_default()),
            },
            _ => {
                if let Some(t) = text(v) {
                    e.push(k.as_str(), t);
                }
            }
        }
    }
    push_unnamed(unnamed, e);
}

fn push_unnamed(unnamed: Vec<String>, e: &mut Event) {
    if unnamed.is_empty() {
        return;
    }
    for (i, v) in unnamed.iter().enumerate() {
        e.push(format!("Data{}", i + 1), v.as_str());
    }
    e.push(field::DATA, unnamed.join("\n"));
}

/// Deepest `UserData` walked; deeper values are ignored (the JSON parser already bounds nesting).
const MAX_DEPTH: usize = 64;

/// Leaf elements of `UserData` by their own name, the first of a name winning.
fn leaves(v: &Value, name: Option<&str>, e: &mut Event, seen: &mut Vec<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Object(o) => {
            let children: Vec<(&String, &Value)> = o.iter().filter(|(k, _)| !k.starts_with('#')).collect();
            if children.is_empty() {
                if let (Some(n), Some(t)) = (name, o.get("#text").and_then(text)) {
                    leaf(n, t, e, seen);
                }
                return;
            }
            for (k, c) in children {
                leaves(c, Some(k), e, seen, depth + 1);
            }
        }
        Value::Array(items) => {
            for i in items {
                leaves(i, name, e, seen, depth + 1);
            }
        }
        scalar => {
            if let (Some(n), Some(t)) = (name, text(scalar)) {
                leaf(n, t, e, seen);
            }
        }
    }
}

fn leaf(name: &str, value: String, e: &mut Event, seen: &mut Vec<String>) {
    if !seen.iter().any(|s| s == name) {
        seen.push(name.to_string());
        e.push(name, value);
    }
}

/// One line of a JSON export as an [`Event`]: `evtx_dump` (`Event` key), Winlogbeat (`winlog` key) or a flat object
/// with an `EventID`. `Err` says why the value is not an event (not an object, no event id).
pub fn from_export(value: &Value) -> Result<Event, String> {
    let Value::Object(o) = value else {
        return Err(format!("a line is a JSON {}, not an object", kind(value)));
    };
    if let Some(Value::Object(ev)) = o.get("Event")
        && ev.get("System").is_some_and(Value::is_object)
    {
        let e = from_evtx_json(value);
        if e.get(field::EVENT_ID).is_none() {
            return Err("an `evtx_dump` event without `Event.System.EventID`".into());
        }
        return Ok(e);
    }
    if let Some(Value::Object(w)) = o.get("winlog") {
        return winlogbeat(o, w);
    }
    flat(o)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Winlogbeat: `winlog.event_id`, `winlog.channel`, `winlog.provider_name`, `winlog.computer_name` (else
/// `host.name`), `winlog.record_id`, `winlog.user.identifier`, `winlog.event_data.*` (unnamed items are
/// `param1..N` there), `winlog.user_data.*`, `@timestamp` (the event's time, UTC).
fn winlogbeat(o: &Map<String, Value>, w: &Map<String, Value>) -> Result<Event, String> {
    let event_id = scalar(w.get("event_id")).ok_or("a Winlogbeat event without `winlog.event_id`")?;
    let system = System {
        event_id: Some(event_id),
        channel: scalar(w.get("channel")),
        provider: scalar(w.get("provider_name")),
        computer: scalar(w.get("computer_name")).or_else(|| scalar(o.get("host").and_then(|h| h.get("name")))),
        record_id: scalar(w.get("record_id")),
        time: o
            .get("@timestamp")
            .and_then(Value::as_str)
            .and_then(parse_zoned_time)
            .or_else(|| w.get("time_created").and_then(Value::as_str).and_then(parse_zoned_time)),
        level: None,
        task: None,
        opcode: None,
        keywords: None,
        user_id: scalar(w.get("user").and_then(|u| u.get("identifier"))),
    };
    let mut e = system.into_event();
    if let Some(Value::Object(data)) = w.get("event_data") {
        let mut params: Vec<(u32, String)> = Vec::new();
        for (k, v) in data {
            let param = k.strip_prefix("param").and_then(|n| n.parse::<u32>().ok()).filter(|n| *n > 0);
            match (param, text(v)) {
                (Some(n), Some(t)) => params.push((n, t)),
                (None, Some(t)) => e.push(k.as_str(), t),
                _ => {}
            }
        }
        params.sort_by_key(|(n, _)| *n);
        push_unnamed(params.into_iter().map(|(_, t)| t).collect(), &mut e);
    }
    if let Some(user) = w.get("user_data") {
        let mut seen = Vec::new();
        leaves(user, None, &mut e, &mut seen, 0);
    }
    Ok(e)
}

/// NXLog and OTRF: `System` values and `EventData` fields side by side. Non-scalar values are not fields.
fn flat(o: &Map<String, Value>) -> Result<Event, String> {
    let event_id = scalar(o.get("EventID").or_else(|| o.get("EventId")))
        .ok_or("a JSON object without `EventID`, `winlog.event_id` or `Event.System.EventID`")?;
    let first = |keys: &[&str]| keys.iter().find_map(|k| scalar(o.get(*k)));
    let zoned = |k: &str| o.get(k).and_then(Value::as_str).and_then(parse_zoned_time);
    let system = System {
        event_id: Some(event_id),
        channel: first(&["Channel"]),
        provider: first(&["Provider_Name", "ProviderName", "SourceName"]),
        computer: first(&["Computer", "Hostname"]),
        record_id: first(&["EventRecordID", "RecordNumber"]),
        time: zoned("TimeCreated").or_else(|| zoned("@timestamp")).or_else(|| zoned("EventTime")),
        level: first(&["Level"]).filter(|l| l.bytes().all(|b| b.is_ascii_digit())),
        task: first(&["Task"]).filter(|l| l.bytes().all(|b| b.is_ascii_digit())),
        opcode: first(&["OpcodeValue", "Opcode"]).filter(|l| l.bytes().all(|b| b.is_ascii_digit())),
        keywords: first(&["Keywords"]),
        user_id: first(&["UserID"]),
    };
    let mut e = system.into_event();
    let mut unnamed: Vec<(u32, String)> = Vec::new();
    for (k, v) in o {
        if FLAT_META.contains(&k.as_str()) || v.is_object() || v.is_array() {
            continue;
        }
        let Some(t) = text(v) else { continue };
        // A flat export of an `.evtx` that has unnamed items writes them as `Data1..N` (and sometimes `Data`):
        // they are gathered and written again, so `Data` is always their join.
        if let Some(n) = k.strip_prefix("Data").and_then(|n| n.parse::<u32>().ok()).filter(|n| *n > 0) {
            unnamed.push((n, t));
        } else if k != field::DATA {
            e.push(k.as_str(), t);
        }
    }
    if unnamed.is_empty()
        && let Some(d) = o.get(field::DATA).and_then(text)
    {
        unnamed.extend(d.split('\n').zip(1u32..).map(|(s, i)| (i, s.to_string())));
    }
    unnamed.sort_by_key(|(n, _)| *n);
    push_unnamed(unnamed.into_iter().map(|(_, t)| t).collect(), &mut e);
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evtx_json_with_unnamed_data_and_qualifiers() {
        let v = json!({"Event":{"System":{"Provider":{"#attributes":{"Name":"MSExchange CmdletLogs"}},
            "EventID":{"#attributes":{"Qualifiers":"16384"},"#text":"1"},"Level":"4",
            "TimeCreated":{"#attributes":{"SystemTime":"2021-11-19T16:52:33.833733500Z"}},"EventRecordID":"3229",
            "Channel":"MSExchange Management","Computer":"WEC.ave.local","Security":null},
            "EventData":{"Data":{"#text":["Set-Mailbox","-Identity x"]},"Binary":"D906"}}});
        let e = from_evtx_json(&v);
        assert_eq!(e.event_id(), Some(1));
        assert_eq!(e.provider(), "MSExchange CmdletLogs");
        assert_eq!(e.get("Data2"), Some("-Identity x"));
        assert_eq!(e.get("Data"), Some("Set-Mailbox\n-Identity x"));
        assert_eq!(e.get("Binary"), Some("D906"));
        assert_eq!(e.get("TimeCreated"), Some("2021-11-19T16:52:33.833733500Z"));
        assert_eq!(e.log_source(), "exchange-management");
    }

    #[test]
    fn user_data_leaves_first_wins() {
        let v = json!({"Event":{"System":{"EventID":1102},"UserData":{"LogFileCleared":{
            "#attributes":{"xmlns":"x"},"SubjectUserName":"admin","Inner":{"SubjectUserName":"other","X":{"#text":"t"}}}}}});
        let e = from_evtx_json(&v);
        assert_eq!(e.get("SubjectUserName"), Some("admin"));
        assert_eq!(e.fields.iter().filter(|(k, _)| k == "SubjectUserName").count(), 1);
        assert_eq!(e.get("X"), Some("t"));
    }

    #[test]
    fn zone_less_times_are_not_guessed() {
        let e = from_export(&json!({"EventID":4624,"EventTime":"2021-03-03 02:11:09"})).expect("event");
        assert_eq!(e.time, None);
        assert_eq!(e.get("TimeCreated"), None);
        let e = from_export(&json!({"EventID":4624,"EventTime":"2021-03-03 02:11:09+01:00"})).expect("event");
        assert_eq!(e.get("TimeCreated"), Some("2021-03-03T01:11:09Z"));
    }

    #[test]
    fn non_events_are_errors() {
        assert!(from_export(&json!([1, 2])).is_err());
        assert!(from_export(&json!({"foo":"bar"})).is_err());
        assert!(from_export(&json!({"winlog":{"channel":"Security"}})).is_err());
    }
}
