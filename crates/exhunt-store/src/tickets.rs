//! Tickets in the store: a key's events are [`exhunt_campaign::ticket::replay`] of every sighting and
//! false-positive mark the store holds of it, written in the same transaction as the records that moved them.
//!
//! Events are append-only while runs arrive in time order: the stored events are then a prefix of the replay and
//! only the new ones are added. A run older than one already ingested (a late file) can change a key's history;
//! the key's events are then rewritten from the replay, so the result equals ingesting the files in time order.

use crate::Backend;
use exhunt_campaign::check::{Check, Seen};
use exhunt_campaign::ticket::{Event, EventKind, FalsePositiveMark, Sighting, fold, replay};
use sqlx::{Any, Transaction};
use std::collections::{BTreeMap, BTreeSet};

/// A host: address and port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostKey {
    pub ip: String,
    pub port: u16,
}

type Tx<'a> = Transaction<'a, Any>;

/// Replays the tickets of `hosts` (in their order: every writer locks in the same order) and writes what changed.
/// Returns the number of events written.
pub async fn recompute(tx: &mut Tx<'_>, backend: Backend, hosts: &BTreeSet<HostKey>) -> Result<u64, sqlx::Error> {
    let mut written = 0u64;
    for h in hosts {
        let port = i64::from(h.port);
        if backend.is_postgres() {
            // Two ingests touching one host take turns on its tickets (released at commit).
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(h)).execute(&mut **tx).await?;
        }
        let rows: Vec<(String, i64, String, i64, String)> = sqlx::query_as(
            "SELECT check_name, time, run_id, present, detail FROM sightings WHERE ip = $1 AND port = $2",
        )
        .bind(&h.ip)
        .bind(port)
        .fetch_all(&mut **tx)
        .await?;
        let mut sightings: BTreeMap<String, Vec<Sighting>> = BTreeMap::new();
        for (check, time, run, present, detail) in rows {
            let seen = if present != 0 { Seen::Present { detail } } else { Seen::Absent };
            sightings.entry(check).or_default().push(Sighting { time, run, seen });
        }
        let rows: Vec<(String, i64, i64, String)> =
            sqlx::query_as("SELECT check_name, time, until, reason FROM fp_marks WHERE ip = $1 AND port = $2")
                .bind(&h.ip)
                .bind(port)
                .fetch_all(&mut **tx)
                .await?;
        let mut marks: BTreeMap<String, Vec<FalsePositiveMark>> = BTreeMap::new();
        for (check, time, until, reason) in rows {
            marks.entry(check).or_default().push(FalsePositiveMark { time, until, reason });
        }
        let stored = stored_events(tx, h).await?;
        let checks: BTreeSet<&String> = sightings.keys().chain(marks.keys()).chain(stored.keys()).collect();
        for check in checks {
            let want = replay(
                sightings.get(check).map(Vec::as_slice).unwrap_or(&[]),
                marks.get(check).map(Vec::as_slice).unwrap_or(&[]),
            );
            let have = stored.get(check).map(Vec::as_slice).unwrap_or(&[]);
            if want.as_slice() == have {
                continue;
            }
            let from = if want.starts_with(have) {
                have.len()
            } else {
                sqlx::query("DELETE FROM ticket_events WHERE ip = $1 AND port = $2 AND check_name = $3")
                    .bind(&h.ip)
                    .bind(port)
                    .bind(check)
                    .execute(&mut **tx)
                    .await?;
                0
            };
            for (seq, e) in want.iter().enumerate().skip(from) {
                sqlx::query(
                    "INSERT INTO ticket_events (ip, port, check_name, seq, ticket, kind, time, run_id, detail, until) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&h.ip)
                .bind(port)
                .bind(check)
                .bind(seq as i64)
                .bind(i64::from(e.ticket))
                .bind(e.kind.as_str())
                .bind(e.time)
                .bind(e.run.clone())
                .bind(e.detail.clone())
                .bind(e.until)
                .execute(&mut **tx)
                .await?;
                written += 1;
            }
            match fold(&want) {
                Some(s) => {
                    sqlx::query(
                        "INSERT INTO tickets (ip, port, check_name, ticket, open, opened, last_seen, closed, detail, fp_until, fp_reason) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT (ip, port, check_name) DO UPDATE SET ticket = excluded.ticket, open = excluded.open, \
                         opened = excluded.opened, last_seen = excluded.last_seen, closed = excluded.closed, \
                         detail = excluded.detail, fp_until = excluded.fp_until, fp_reason = excluded.fp_reason",
                    )
                    .bind(&h.ip)
                    .bind(port)
                    .bind(check)
                    .bind(i64::from(s.ticket))
                    .bind(i64::from(s.open))
                    .bind(s.opened)
                    .bind(s.last_seen)
                    .bind(s.closed)
                    .bind(s.detail)
                    .bind(s.false_positive_until)
                    .bind(s.false_positive_reason)
                    .execute(&mut **tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM tickets WHERE ip = $1 AND port = $2 AND check_name = $3")
                        .bind(&h.ip)
                        .bind(port)
                        .bind(check)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
    }
    Ok(written)
}

async fn stored_events(tx: &mut Tx<'_>, h: &HostKey) -> Result<BTreeMap<String, Vec<Event>>, sqlx::Error> {
    type Row = (String, i64, String, i64, Option<String>, Option<String>, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT check_name, ticket, kind, time, run_id, detail, until FROM ticket_events \
         WHERE ip = $1 AND port = $2 ORDER BY check_name, seq",
    )
    .bind(&h.ip)
    .bind(i64::from(h.port))
    .fetch_all(&mut **tx)
    .await?;
    let mut out: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for (check, ticket, kind, time, run, detail, until) in rows {
        let Some(kind) = EventKind::parse(&kind) else { continue };
        out.entry(check).or_default().push(Event { ticket: ticket as u32, kind, time, run, detail, until });
    }
    Ok(out)
}

/// A host's advisory-lock number: the first 8 bytes of a hash of its key (collisions only make two hosts take
/// turns).
fn lock_key(h: &HostKey) -> i64 {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(format!("{}|{}", h.ip, h.port).as_bytes());
    i64::from_be_bytes(d[..8].try_into().expect("invariant: a SHA-256 has 8 bytes"))
}

/// A ticket's id as people see it: `192.0.2.7:443/proxylogon#0` (`[2001:db8::1]:443/…` for IPv6).
pub fn ticket_id(ip: &str, port: u16, check: &str, ticket: u32) -> String {
    if ip.contains(':') { format!("[{ip}]:{port}/{check}#{ticket}") } else { format!("{ip}:{port}/{check}#{ticket}") }
}

/// The parts of a ticket id.
pub fn parse_ticket_id(id: &str) -> Option<(String, u16, Check, u32)> {
    let (host, rest) = id.rsplit_once('/')?;
    let (check, n) = rest.split_once('#')?;
    let (ip, port) = host.rsplit_once(':')?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = ip.parse().ok()?;
    Some((ip.to_string(), port.parse().ok()?, Check::parse(check)?, n.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_round_trip() {
        for (ip, port) in [("192.0.2.7", 443), ("2001:db8::1", 8443)] {
            let id = ticket_id(ip, port, "backdoor", 2);
            assert_eq!(parse_ticket_id(&id), Some((ip.to_string(), port, Check::Backdoor, 2)), "{id}");
        }
        assert_eq!(ticket_id("2001:db8::1", 443, "proxylogon", 0), "[2001:db8::1]:443/proxylogon#0");
        for bad in ["", "1.2.3.4:443/nope#0", "1.2.3.4/proxylogon#0", "x:1/proxylogon#0", "1.2.3.4:443/proxylogon"] {
            assert_eq!(parse_ticket_id(bad), None, "{bad}");
        }
    }
}
