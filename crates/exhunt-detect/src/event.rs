//! One Windows event as every rule sees it, whether it was read from an `.evtx` file or from a JSON export
//! (Winlogbeat, NXLog, `evtx_dump`, research datasets): a flat list of fields by name.
//!
//! # Field names
//!
//! The names follow the convention of Sigma and of the tools that read EVTX (Chainsaw, Hayabusa), so that rules
//! written for them read naturally here:
//!
//! | field | from |
//! |---|---|
//! | `EventID` | `System/EventID` (decimal) |
//! | `Channel` | `System/Channel` (`Security`, `Microsoft-Windows-Sysmon/Operational`, `MSExchange Management`, …) |
//! | `Provider_Name` | `System/Provider/@Name` |
//! | `Computer` | `System/Computer` |
//! | `EventRecordID` | `System/EventRecordID` |
//! | `TimeCreated` | `System/TimeCreated/@SystemTime`, as RFC 3339 UTC |
//! | `Level`, `Task`, `Opcode`, `Keywords`, `UserID` | the `System` values of those names (`UserID` from `Security/@UserID`) |
//! | *name* | `EventData/Data[@Name=name]`: `Image`, `ParentImage`, `CommandLine`, `TargetFilename`, `SubjectUserName`, … |
//! | `Data1`, `Data2`, … | unnamed `EventData/Data` items, in order (Application and MSExchange Management events) |
//! | `Data` | every unnamed `EventData/Data` item, joined with `\n` |
//! | *leaf* | the leaf elements of `UserData` by their own name (the first of a name wins) |
//!
//! Values are strings. A field the event does not carry is absent ([`Fields::get`] gives `None`).
//!
//! Log rules also see `_raw`, as with every other reader: here every value, one per line ([`Event::raw`]), given by
//! [`Event::with_raw`] next to the fields.

use std::fmt::Write as _;

use exhunt_model::Timestamp;

use crate::Fields;

/// Field names the readers always set when the event has the value.
pub mod field {
    pub const EVENT_ID: &str = "EventID";
    pub const CHANNEL: &str = "Channel";
    pub const PROVIDER: &str = "Provider_Name";
    pub const COMPUTER: &str = "Computer";
    pub const RECORD_ID: &str = "EventRecordID";
    pub const TIME_CREATED: &str = "TimeCreated";
    /// Every unnamed `EventData/Data` item joined with `\n`.
    pub const DATA: &str = "Data";
}

/// The channel of MSExchange Management events (provider `MSExchange CmdletLogs`): the log source
/// `exchange-management` of the rule format.
pub const EXCHANGE_MANAGEMENT_CHANNEL: &str = "MSExchange Management";

/// One Windows event: its time and its fields by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// `System/TimeCreated/@SystemTime` (or the export's timestamp), when the event has a valid one.
    pub time: Option<Timestamp>,
    /// (name, value) pairs in reading order; the first pair of a name wins a lookup.
    pub fields: Vec<(String, String)>,
}

impl Event {
    /// Appends a field (a later field of the same name is shadowed by the first).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.fields.push((name.into(), value.into()));
    }

    /// `EventID` as a number, when present and numeric.
    pub fn event_id(&self) -> Option<u32> {
        self.get(field::EVENT_ID)?.trim().parse().ok()
    }

    /// `Channel`, or `""`.
    pub fn channel(&self) -> &str {
        self.get(field::CHANNEL).unwrap_or("")
    }

    /// `Provider_Name`, or `""`.
    pub fn provider(&self) -> &str {
        self.get(field::PROVIDER).unwrap_or("")
    }

    /// `Computer`, or `""`.
    pub fn computer(&self) -> &str {
        self.get(field::COMPUTER).unwrap_or("")
    }

    /// The log source of the rule format this event belongs to: `exchange-management` for the MSExchange Management
    /// channel (or its provider `MSExchange CmdletLogs`), `evtx` for every other event.
    pub fn log_source(&self) -> &'static str {
        if self.channel().eq_ignore_ascii_case(EXCHANGE_MANAGEMENT_CHANNEL)
            || self.provider().eq_ignore_ascii_case("MSExchange CmdletLogs")
        {
            "exchange-management"
        } else {
            "evtx"
        }
    }

    /// The event as the log-rule prefilter sees it: every value, one per line (the form `exhunt kb test` builds
    /// from a rule's samples).
    pub fn raw(&self) -> String {
        let mut raw = String::with_capacity(self.fields.iter().map(|(_, v)| v.len() + 1).sum());
        self.write_raw(&mut raw);
        raw
    }

    /// [`Event::raw`] into a reused buffer (cleared first).
    pub fn write_raw(&self, raw: &mut String) {
        raw.clear();
        for (_, value) in &self.fields {
            let _ = writeln!(raw, "{value}");
        }
    }
}

/// An event with its `_raw` text beside it (see [`Event::with_raw`]).
pub struct WithRaw<'a> {
    event: &'a Event,
    raw: &'a str,
}

impl Fields for WithRaw<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        if name == "_raw" { Some(self.raw) } else { self.event.get(name) }
    }
}

impl Event {
    /// The event's fields plus `_raw` = `raw` (which the caller built with [`Event::write_raw`] for the prefilter).
    pub fn with_raw<'a>(&'a self, raw: &'a str) -> WithRaw<'a> {
        WithRaw { event: self, raw }
    }
}

impl Fields for Event {
    fn get(&self, name: &str) -> Option<&str> {
        Fields::get(self.fields.as_slice(), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_and_source() {
        let mut e = Event::default();
        e.push("EventID", "1");
        e.push("Channel", "MSExchange Management");
        e.push("Data", "Set-OabVirtualDirectory\n-ExternalUrl 'http://x/'");
        e.push("EventID", "2");
        assert_eq!(e.event_id(), Some(1));
        assert_eq!(e.log_source(), "exchange-management");
        assert_eq!(e.raw(), "1\nMSExchange Management\nSet-OabVirtualDirectory\n-ExternalUrl 'http://x/'\n2\n");
        let raw = e.raw();
        assert_eq!(e.with_raw(&raw).get("_raw"), Some(raw.as_str()));
        assert_eq!(e.with_raw(&raw).get("Channel"), Some("MSExchange Management"));
        let mut other = Event::default();
        other.push("Channel", "Security");
        assert_eq!(other.log_source(), "evtx");
        assert_eq!(other.event_id(), None);
        assert_eq!(other.computer(), "");
    }
}
