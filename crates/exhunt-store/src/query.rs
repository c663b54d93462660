//! What the campaign holds, for `campaign status`, `campaign tickets` and the operator's false-positive marks.

use crate::tickets::{HostKey, parse_ticket_id, recompute, ticket_id};
use crate::{Store, StoreError};
use exhunt_campaign::check::{Check, chain_checks};
use exhunt_model::{Ticket, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One run in the status: what it saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunStatus {
    pub id: String,
    pub kind: String,
    pub label: String,
    /// Unix seconds; the first observation's time when the run did not say.
    pub started: Option<i64>,
    pub ended: Option<i64>,
    /// Observations (targets reached or not).
    pub observations: u64,
    /// Hosts that answered.
    pub answered: u64,
    /// Exchange hosts seen.
    pub exchange: u64,
    /// Exchange hosts vulnerable to each chain.
    pub vulnerable: BTreeMap<String, u64>,
    /// Exchange hosts vulnerable to at least one chain.
    pub vulnerable_any: u64,
    /// Exchange hosts with no chain vulnerable.
    pub fixed: u64,
    /// Hosts where a web shell answered.
    pub backdoor: u64,
    /// The share of vulnerable among the Exchange hosts the run saw (the patch curve), 0 when none were seen.
    pub vulnerable_share: f64,
    /// The share of Exchange hosts with a back door.
    pub backdoor_share: f64,
    /// Ticket events this run caused.
    pub opened: u64,
    pub closed: u64,
}

/// The whole campaign.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Status {
    pub runs: Vec<RunStatus>,
    /// Tickets open now (false positives left out), per check.
    pub open: BTreeMap<String, u64>,
    pub closed: u64,
    pub false_positive: u64,
    pub hosts: u64,
}

/// Which tickets to list.
#[derive(Clone, Debug, Default)]
pub struct TicketFilter {
    /// `open`, `closed` or `false-positive`.
    pub state: Option<String>,
    pub check: Option<Check>,
    pub owner: Option<String>,
}

impl Store {
    /// Every run with what it saw, oldest first, and the tickets now.
    pub async fn status(&self, now: i64) -> Result<Status, StoreError> {
        type RunRow = (String, String, String, Option<i64>, Option<i64>);
        let runs: Vec<RunRow> =
            sqlx::query_as("SELECT id, kind, label, started, ended FROM runs").fetch_all(&self.pool).await?;
        let mut by_id: BTreeMap<String, RunStatus> = runs
            .into_iter()
            .map(|(id, kind, label, started, ended)| {
                (id.clone(), RunStatus { id, kind, label, started, ended, ..RunStatus::default() })
            })
            .collect();
        let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT run_id, COUNT(*), \
             SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), \
             SUM(CASE WHEN class = 'exchange' THEN 1 ELSE 0 END), MIN(time) \
             FROM observations GROUP BY run_id",
        )
        .fetch_all(&self.pool)
        .await?;
        for (run, n, answered, exchange, first) in rows {
            if let Some(r) = by_id.get_mut(&run) {
                r.observations = n as u64;
                r.answered = answered as u64;
                r.exchange = exchange as u64;
                r.started = r.started.or(Some(first));
            }
        }
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT run_id, check_name, COUNT(*) FROM sightings WHERE present = 1 GROUP BY run_id, check_name",
        )
        .fetch_all(&self.pool)
        .await?;
        for (run, check, n) in rows {
            if let Some(r) = by_id.get_mut(&run) {
                if check == Check::Backdoor.as_str() {
                    r.backdoor = n as u64;
                } else {
                    r.vulnerable.insert(check, n as u64);
                }
            }
        }
        let chains: Vec<&str> = chain_checks().map(|c| c.as_str()).collect();
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT run_id, COUNT(DISTINCT record_id) FROM sightings \
             WHERE present = 1 AND check_name IN ($1, $2, $3) GROUP BY run_id",
        )
        .bind(chains[0])
        .bind(chains[1])
        .bind(chains[2])
        .fetch_all(&self.pool)
        .await?;
        for (run, n) in rows {
            if let Some(r) = by_id.get_mut(&run) {
                r.vulnerable_any = n as u64;
            }
        }
        let rows: Vec<(Option<String>, String, i64)> = sqlx::query_as(
            "SELECT run_id, kind, COUNT(*) FROM ticket_events WHERE run_id IS NOT NULL GROUP BY run_id, kind",
        )
        .fetch_all(&self.pool)
        .await?;
        for (run, kind, n) in rows {
            if let Some(r) = run.and_then(|run| by_id.get_mut(&run)) {
                match kind.as_str() {
                    "opened" | "reopened" => r.opened += n as u64,
                    "closed" => r.closed += n as u64,
                    _ => {}
                }
            }
        }
        let mut runs: Vec<RunStatus> = by_id.into_values().collect();
        for r in &mut runs {
            for c in &chains {
                r.vulnerable.entry((*c).to_string()).or_insert(0);
            }
            r.fixed = r.exchange.saturating_sub(r.vulnerable_any);
            if r.exchange > 0 {
                r.vulnerable_share = r.vulnerable_any as f64 / r.exchange as f64;
                r.backdoor_share = r.backdoor as f64 / r.exchange as f64;
            }
        }
        runs.sort_by(|a, b| (a.started, &a.id).cmp(&(b.started, &b.id)));
        let mut status = Status { runs, ..Status::default() };
        for t in self.tickets(&TicketFilter::default(), now).await? {
            match t.state.as_str() {
                "open" => *status.open.entry(t.check).or_default() += 1,
                "closed" => status.closed += 1,
                _ => status.false_positive += 1,
            }
        }
        let (hosts,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM hosts").fetch_one(&self.pool).await?;
        status.hosts = hosts as u64;
        Ok(status)
    }

    /// Tickets, by address, port and check.
    pub async fn tickets(&self, filter: &TicketFilter, now: i64) -> Result<Vec<Ticket>, StoreError> {
        type Row = (
            String,
            i64,
            String,
            i64,
            i64,
            i64,
            i64,
            Option<i64>,
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT t.ip, t.port, t.check_name, t.ticket, t.open, t.opened, t.last_seen, t.closed, t.detail, \
             t.fp_until, t.fp_reason, h.owner_key, h.names \
             FROM tickets t LEFT JOIN hosts h ON h.ip = t.ip AND h.port = t.port \
             ORDER BY t.ip, t.port, t.check_name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for (ip, port, check, ticket, open, opened, last_seen, closed, detail, fp_until, fp_reason, owner, names) in
            rows
        {
            let state = exhunt_campaign::State {
                ticket: ticket as u32,
                open: open != 0,
                opened,
                last_seen,
                closed,
                detail: detail.clone(),
                false_positive_until: fp_until,
                false_positive_reason: fp_reason.clone(),
                sightings: 0,
            };
            let row = Ticket {
                id: ticket_id(&ip, port as u16, &check, ticket as u32),
                ip,
                port: port as u16,
                state: state.name(now).to_string(),
                check,
                opened: time(opened),
                last_seen: time(last_seen),
                closed: closed.map(time),
                detail,
                false_positive_until: fp_until.map(time),
                false_positive_reason: fp_reason,
                owner,
                names: names.and_then(|n| serde_json::from_str(&n).ok()).unwrap_or_default(),
            };
            if filter.state.as_ref().is_some_and(|s| *s != row.state)
                || filter.check.is_some_and(|c| c.as_str() != row.check)
                || filter.owner.as_ref().is_some_and(|o| Some(o) != row.owner.as_ref())
            {
                continue;
            }
            out.push(row);
        }
        Ok(out)
    }

    /// Every ticket event, by ticket and order: (ticket id, event, time, run).
    pub async fn events(&self) -> Result<Vec<(String, String, i64, Option<String>)>, StoreError> {
        type Row = (String, i64, String, i64, String, i64, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT ip, port, check_name, ticket, kind, time, run_id FROM ticket_events ORDER BY ip, port, check_name, seq",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(ip, port, check, ticket, kind, time, run)| {
                (ticket_id(&ip, port as u16, &check, ticket as u32), kind, time, run)
            })
            .collect())
    }

    /// Marks an open ticket a false positive until `until` (Unix seconds), with the operator's reason.
    pub async fn mark_false_positive(
        &self,
        id: &str,
        until: i64,
        reason: &str,
        now: i64,
    ) -> Result<Ticket, StoreError> {
        let (ip, port, check, ticket) = parse_ticket_id(id).ok_or_else(|| StoreError::BadTicketId(id.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let cur: Option<(i64, i64)> =
            sqlx::query_as("SELECT ticket, open FROM tickets WHERE ip = $1 AND port = $2 AND check_name = $3")
                .bind(&ip)
                .bind(i64::from(port))
                .bind(check.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        match cur {
            Some((t, open)) if t == i64::from(ticket) && open != 0 => {}
            _ => return Err(StoreError::NoTicket(format!("{id} (open)"))),
        }
        sqlx::query(
            "INSERT INTO fp_marks (ip, port, check_name, time, until, reason) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (ip, port, check_name, time) DO UPDATE SET until = excluded.until, reason = excluded.reason",
        )
        .bind(&ip)
        .bind(i64::from(port))
        .bind(check.as_str())
        .bind(now)
        .bind(until)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        let hosts: BTreeSet<HostKey> = [HostKey { ip: ip.clone(), port }].into();
        recompute(&mut tx, self.backend, &hosts).await?;
        tx.commit().await?;
        let filter = TicketFilter { check: Some(check), ..TicketFilter::default() };
        self.tickets(&filter, now)
            .await?
            .into_iter()
            .find(|t| t.ip == ip && t.port == port)
            .ok_or_else(|| StoreError::NoTicket(id.to_string()))
    }
}

/// A stored time (Unix seconds) as a record's time; out of range (only by damage) is the epoch.
fn time(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs).or_else(|| Timestamp::from_unix(0)).expect("invariant: the epoch is a time")
}
