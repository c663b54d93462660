//! Tickets: the remediation state of one (owner, ip, port, check), as CISA Cyber Hygiene keeps it.
//!
//! The events of a key are a pure function of what the runs saw of it, in time order, and of the operator's
//! false-positive marks: [`replay`]. The store keeps the events (append-only while runs arrive in time order) and
//! calls [`replay`] again for a key when a run is ingested; nothing here touches a database. The rules:
//!
//! - seen (`Present`) with no ticket → `opened`;
//! - seen on an open ticket → `verified`, or `changed` when what was seen differs (another build, other shells);
//! - absent on an open ticket (the check ran on a host that answered) → `closed`; unknown → nothing;
//! - seen on a closed ticket within [`REOPEN_WITHIN`] of its closing → `reopened`; later → a new ticket `opened`;
//! - a false-positive mark on an open ticket → `false-positive` until its expiry; the ticket does not count as open
//!   until then, and counts again after it (a sighting after the expiry is `verified`). Absence still closes it.

use crate::check::Seen;
use serde::{Deserialize, Serialize};

/// A closed ticket seen again within this many seconds (90 days) is reopened, not a new ticket.
pub const REOPEN_WITHIN: i64 = 90 * 86_400;

/// What happened to a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Opened,
    Verified,
    Changed,
    Closed,
    Reopened,
    FalsePositive,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::Opened,
        EventKind::Verified,
        EventKind::Changed,
        EventKind::Closed,
        EventKind::Reopened,
        EventKind::FalsePositive,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Verified => "verified",
            EventKind::Changed => "changed",
            EventKind::Closed => "closed",
            EventKind::Reopened => "reopened",
            EventKind::FalsePositive => "false-positive",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One sighting of a key: what one run's record said of the check, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    /// Unix seconds: when the record was made (the observation's start, the report's end of window).
    pub time: i64,
    /// The run it belongs to.
    pub run: String,
    pub seen: Seen,
}

/// An operator's mark that a ticket is a false positive, until `until` (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FalsePositiveMark {
    pub time: i64,
    pub until: i64,
    pub reason: String,
}

/// One event of a key's tickets. `ticket` numbers the key's tickets from 0: a key seen again long after its ticket
/// closed gets a new one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub ticket: u32,
    pub kind: EventKind,
    pub time: i64,
    /// The run whose sighting caused it; `null` for an operator's mark.
    pub run: Option<String>,
    /// What was seen (`opened`, `verified`, `changed`, `reopened`), the reason (`false-positive`), or nothing.
    pub detail: Option<String>,
    /// The false positive's expiry.
    pub until: Option<i64>,
}

/// The state of a key's newest ticket, folded from its events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub ticket: u32,
    pub open: bool,
    pub opened: i64,
    pub last_seen: i64,
    pub closed: Option<i64>,
    /// What was last seen.
    pub detail: String,
    pub false_positive_until: Option<i64>,
    pub false_positive_reason: Option<String>,
    /// Sightings counted (`opened`, `verified`, `changed`, `reopened`).
    pub sightings: u32,
}

impl State {
    /// Open and not marked a false positive at `now`: what the status and notifications count.
    pub fn counts(&self, now: i64) -> bool {
        self.open && self.false_positive_until.is_none_or(|until| until <= now)
    }

    /// The state's one-word name at `now`: `open`, `false-positive` or `closed`.
    pub fn name(&self, now: i64) -> &'static str {
        if !self.open {
            "closed"
        } else if self.counts(now) {
            "open"
        } else {
            "false-positive"
        }
    }
}

/// Folds a key's events into the state of its newest ticket; `None` when there are none.
pub fn fold(events: &[Event]) -> Option<State> {
    let mut s: Option<State> = None;
    for e in events {
        match (&mut s, e.kind) {
            (_, EventKind::Opened) => {
                s = Some(State {
                    ticket: e.ticket,
                    open: true,
                    opened: e.time,
                    last_seen: e.time,
                    closed: None,
                    detail: e.detail.clone().unwrap_or_default(),
                    false_positive_until: None,
                    false_positive_reason: None,
                    sightings: 1,
                });
            }
            (Some(st), EventKind::Verified | EventKind::Changed | EventKind::Reopened) => {
                st.open = true;
                st.closed = None;
                st.last_seen = e.time;
                st.sightings += 1;
                if let Some(d) = &e.detail {
                    st.detail = d.clone();
                }
            }
            (Some(st), EventKind::Closed) => {
                st.open = false;
                st.closed = Some(e.time);
                st.false_positive_until = None;
                st.false_positive_reason = None;
            }
            (Some(st), EventKind::FalsePositive) => {
                st.false_positive_until = e.until;
                st.false_positive_reason = e.detail.clone();
            }
            (None, _) => {}
        }
    }
    s
}

/// The events of one key: its sightings (any order: they are sorted by time, then run) and its false-positive
/// marks (applied at their time; a mark while no ticket is open is ignored) replayed through the rules above.
pub fn replay(sightings: &[Sighting], marks: &[FalsePositiveMark]) -> Vec<Event> {
    enum Item<'a> {
        Sighting(&'a Sighting),
        Mark(&'a FalsePositiveMark),
    }
    let mut items: Vec<(i64, u8, &str, Item<'_>)> = sightings
        .iter()
        .map(|s| (s.time, 0, s.run.as_str(), Item::Sighting(s)))
        .chain(marks.iter().map(|m| (m.time, 1, m.reason.as_str(), Item::Mark(m))))
        .collect();
    items.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let mut events: Vec<Event> = Vec::new();
    let mut state: Option<State> = None;
    for (time, _, _, item) in items {
        let event = match item {
            Item::Sighting(s) => step(state.as_ref(), s),
            Item::Mark(m) => state.as_ref().filter(|st| st.open).map(|st| Event {
                ticket: st.ticket,
                kind: EventKind::FalsePositive,
                time,
                run: None,
                detail: Some(m.reason.clone()),
                until: Some(m.until),
            }),
        };
        if let Some(e) = event {
            events.push(e);
            state = fold(&events);
        }
    }
    events
}

/// The event one sighting causes on the key's current state, if any.
fn step(state: Option<&State>, s: &Sighting) -> Option<Event> {
    let event = |ticket, kind, detail: Option<&String>| Event {
        ticket,
        kind,
        time: s.time,
        run: Some(s.run.clone()),
        detail: detail.cloned(),
        until: None,
    };
    match (state, &s.seen) {
        (_, Seen::Unknown) => None,
        (None, Seen::Absent) => None,
        (None, Seen::Present { detail }) => Some(event(0, EventKind::Opened, Some(detail))),
        (Some(st), Seen::Present { detail }) if st.open => Some(event(
            st.ticket,
            if *detail == st.detail { EventKind::Verified } else { EventKind::Changed },
            Some(detail),
        )),
        (Some(st), Seen::Absent) if st.open => Some(event(st.ticket, EventKind::Closed, None)),
        (Some(_), Seen::Absent) => None,
        (Some(st), Seen::Present { detail }) => {
            let closed = st.closed.unwrap_or(st.last_seen);
            if s.time - closed <= REOPEN_WITHIN {
                Some(event(st.ticket, EventKind::Reopened, Some(detail)))
            } else {
                Some(event(st.ticket + 1, EventKind::Opened, Some(detail)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn seen(time: i64, run: &str, detail: &str) -> Sighting {
        Sighting { time, run: run.into(), seen: Seen::Present { detail: detail.into() } }
    }
    fn absent(time: i64, run: &str) -> Sighting {
        Sighting { time, run: run.into(), seen: Seen::Absent }
    }
    fn unknown(time: i64, run: &str) -> Sighting {
        Sighting { time, run: run.into(), seen: Seen::Unknown }
    }
    fn kinds(events: &[Event]) -> Vec<(u32, &'static str)> {
        events.iter().map(|e| (e.ticket, e.kind.as_str())).collect()
    }

    #[test]
    fn only_a_covered_absence_closes_and_a_change_is_told_apart() {
        let s = [
            seen(0, "r1", "15.1.2176.2"),
            seen(DAY, "r2", "15.1.2176.2"),
            unknown(2 * DAY, "r3"),
            seen(3 * DAY, "r4", "15.1.2242.4"),
            absent(4 * DAY, "r5"),
            absent(5 * DAY, "r6"),
        ];
        let e = replay(&s, &[]);
        assert_eq!(kinds(&e), [(0, "opened"), (0, "verified"), (0, "changed"), (0, "closed")]);
        let st = fold(&e).expect("a ticket");
        assert!(!st.open && st.closed == Some(4 * DAY) && st.detail == "15.1.2242.4" && st.sightings == 3);
        // Unknowns alone never close anything.
        let e = replay(&[seen(0, "r1", "b"), unknown(DAY, "r2"), unknown(2 * DAY, "r3")], &[]);
        assert!(fold(&e).expect("ticket").open);
    }

    #[test]
    fn seen_again_reopens_within_ninety_days_and_opens_a_new_ticket_after() {
        let e = replay(&[seen(0, "a", "x"), absent(DAY, "b"), seen(DAY + REOPEN_WITHIN, "c", "x")], &[]);
        assert_eq!(kinds(&e), [(0, "opened"), (0, "closed"), (0, "reopened")]);
        let e = replay(&[seen(0, "a", "x"), absent(DAY, "b"), seen(DAY + REOPEN_WITHIN + 1, "c", "x")], &[]);
        assert_eq!(kinds(&e), [(0, "opened"), (0, "closed"), (1, "opened")]);
        assert_eq!(fold(&e).expect("ticket").ticket, 1);
    }

    #[test]
    fn the_order_of_arrival_does_not_matter() {
        let s = vec![seen(0, "a", "x"), absent(2 * DAY, "c"), seen(DAY, "b", "y"), seen(3 * DAY, "d", "y")];
        let mut rev = s.clone();
        rev.reverse();
        assert_eq!(replay(&s, &[]), replay(&rev, &[]));
        assert_eq!(kinds(&replay(&s, &[])), [(0, "opened"), (0, "changed"), (0, "closed"), (0, "reopened")]);
    }

    #[test]
    fn a_false_positive_stops_counting_until_it_expires() {
        let mark = FalsePositiveMark { time: DAY, until: 10 * DAY, reason: "a honeypot of ours".into() };
        let e = replay(
            &[seen(0, "a", "x"), seen(2 * DAY, "b", "x"), seen(11 * DAY, "c", "x")],
            std::slice::from_ref(&mark),
        );
        assert_eq!(kinds(&e), [(0, "opened"), (0, "false-positive"), (0, "verified"), (0, "verified")]);
        let st = fold(&e[..3]).expect("ticket");
        assert!(st.open && !st.counts(5 * DAY) && st.counts(10 * DAY));
        assert_eq!((st.name(5 * DAY), st.name(10 * DAY)), ("false-positive", "open"));
        // A mark with no open ticket is ignored; an absence still closes a marked ticket.
        assert!(replay(&[], std::slice::from_ref(&mark)).is_empty());
        let e = replay(&[seen(0, "a", "x"), absent(2 * DAY, "b")], &[mark]);
        let st = fold(&e).expect("ticket");
        assert!(!st.open && st.false_positive_until.is_none());
    }

    #[test]
    fn absence_before_any_sighting_opens_nothing() {
        assert!(replay(&[absent(0, "a"), unknown(1, "b")], &[]).is_empty());
        assert_eq!(fold(&[]), None);
    }
}
