//! exhunt's records as rsigma sees them: borrowed views that answer Sigma's field names, with no copy of the record.

use std::borrow::Cow;

use rsigma_eval::event::{Event as SigmaEvent, EventValue};
use serde_json::Value;

use super::mapping::{HTTPPROXY_VALUES, IIS_VALUES, View};
use crate::{Event, Fields};

/// A Windows event under a [`View`] (plain names, Security 4688, Defender).
pub(crate) struct WinView<'a> {
    pub(crate) event: &'a Event,
    pub(crate) view: View,
    /// One more value for keyword rules, under no field name: an MSExchange Management event's cmdlet line
    /// (`Data1 Data2`, the cmdlet and its parameters as typed), which SigmaHQ's keyword rules expect in one piece.
    pub(crate) line: Option<&'a str>,
}

impl WinView<'_> {
    fn lookup(&self, name: &str) -> Option<&str> {
        let source = self.view.aliases().iter().find(|(sigma, _)| *sigma == name).map_or(name, |(_, source)| source);
        self.event.get(source)
    }
}

fn str_value(s: &str) -> EventValue<'_> {
    EventValue::Str(Cow::Borrowed(s))
}

impl SigmaEvent for WinView<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        self.lookup(path).map(str_value)
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.event.fields.iter().any(|(_, v)| pred(v)) || self.line.is_some_and(pred)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        self.event.fields.iter().map(|(_, v)| v.as_str()).chain(self.line).map(Cow::Borrowed).collect()
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        for (_, v) in &self.event.fields {
            visit(v);
        }
        if let Some(line) = self.line {
            visit(line);
        }
    }

    fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (name, value) in &self.event.fields {
            map.entry(name.clone()).or_insert_with(|| Value::String(value.clone()));
        }
        for (sigma, _) in self.view.aliases() {
            if let Some(value) = self.lookup(sigma) {
                map.insert((*sigma).to_string(), Value::String(value.to_string()));
            }
        }
        Value::Object(map)
    }

    fn visit_top_level_keys(&self, visit: &mut dyn FnMut(&str)) -> bool {
        // Every name get_field can answer: the event's own names and the Sigma names whose source is present.
        for (name, _) in &self.event.fields {
            visit(name);
        }
        for (sigma, source) in self.view.aliases() {
            if self.event.get(source).is_some() {
                visit(sigma);
            }
        }
        true
    }

    fn top_level_keys(&self) -> Option<Vec<Cow<'_, str>>> {
        let mut keys = Vec::new();
        self.visit_top_level_keys(&mut |k| keys.push(Cow::Owned(k.to_string())));
        Some(keys)
    }
}

/// A web log record (IIS W3C or Exchange HttpProxy) under its [`View`].
///
/// IIS writes `-` for an empty value: it reads as null (Sigma's `field: null` matches it, `contains` does not).
/// `cs-uri-query` reads as the whole request target, path and query (see [`request_target`]).
pub(crate) struct WebView<'a> {
    pub(crate) record: &'a dyn Fields,
    pub(crate) view: View,
    /// [`request_target`] of the record.
    pub(crate) target: &'a str,
}

/// Writes the request target (`/ecp/x.js?a=b`: stem, then `?` and the query when there is one) into `out`.
///
/// SigmaHQ's webserver rules use `cs-uri-query` for the whole URI: ten of the twelve corpus rules that name it
/// look for paths in it (`'/owa/auth/Current/'`, `'/autodiscover.json'`), so it answers the stem and the query
/// together; a `contains` on the query alone still matches. `cs-uri-stem` stays the path alone.
pub(crate) fn request_target(record: &dyn Fields, view: View, out: &mut String) {
    out.clear();
    let (stem, query) = if view == View::HttpProxy { ("UrlStem", "UrlQuery") } else { ("cs-uri-stem", "cs-uri-query") };
    out.push_str(record.get(stem).filter(|s| *s != "-").unwrap_or(""));
    let query = record.get(query).unwrap_or("");
    let query = query.strip_prefix('?').unwrap_or(query);
    if !query.is_empty() && query != "-" {
        out.push('?');
        out.push_str(query);
    }
}

impl WebView<'_> {
    fn names(&self) -> &'static [&'static str] {
        if self.view == View::HttpProxy { HTTPPROXY_VALUES } else { IIS_VALUES }
    }

    fn raw(&self, name: &str) -> Option<&str> {
        let value = self.record.get(name)?;
        if self.view == View::Iis && value == "-" { Some("") } else { Some(value) }
    }
}

impl SigmaEvent for WebView<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        if path == "cs-uri-query" {
            return if self.target.is_empty() { None } else { Some(str_value(self.target)) };
        }
        let alias = self.view.aliases().iter().find(|(sigma, _)| *sigma == path);
        let value = self.raw(alias.map_or(path, |(_, source)| source))?;
        if self.view == View::Iis && value.is_empty() {
            return Some(EventValue::Null);
        }
        Some(str_value(value))
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.names().iter().filter_map(|n| self.raw(n)).any(|v| !v.is_empty() && pred(v))
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        self.names().iter().filter_map(|n| self.raw(n)).filter(|v| !v.is_empty()).map(Cow::Borrowed).collect()
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        for value in self.names().iter().filter_map(|n| self.raw(n)) {
            if !value.is_empty() {
                visit(value);
            }
        }
    }

    fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for name in self.names() {
            if let Some(value) = self.raw(name) {
                map.insert((*name).to_string(), Value::String(value.to_string()));
            }
        }
        for (sigma, source) in self.view.aliases() {
            if let Some(value) = self.raw(source) {
                map.insert((*sigma).to_string(), Value::String(value.to_string()));
            }
        }
        Value::Object(map)
    }
    // `visit_top_level_keys` keeps its default (unknown shape): a `Fields` record cannot list its names, so the
    // candidate index probes every field its rules name.
}
