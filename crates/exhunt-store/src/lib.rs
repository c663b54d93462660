//! The campaign store: every run, observation, sighting and ticket of a campaign in one database, SQLite (one file,
//! WAL) by default or PostgreSQL at scale, through one code path (sqlx's Any driver, the same SQL text with `$N`
//! parameters, bound, never spliced) and the same versioned migrations (`migrations/`, run at open).
//!
//! The store is an adapter: it reads records of `exhunt-model` (observations, host reports) from the files it is
//! given, asks `exhunt-campaign` what they say and what the tickets become, and keeps the answers. It never reaches
//! into the scanner, the hunt or the lab. Schema and semantics: `docs/campaign.md`.

mod error;
mod ingest;
mod query;
mod tickets;

pub use error::StoreError;
pub use ingest::{BATCH, IngestError, IngestReport, Kind, MAX_LINE};
pub use query::{RunStatus, Status, TicketFilter};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor as _};

/// The default campaign database when `--db` is left out.
pub const DEFAULT_DB: &str = "exhunt-campaign.sqlite";

/// Which database a store is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn is_postgres(&self) -> bool {
        *self == Backend::Postgres
    }
}

/// An open campaign.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    batch: usize,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Opens (creating when needed) the campaign at `db`: a `postgres://` or `postgresql://` URL, or a file path
    /// (SQLite). Runs the migrations the database has not had yet.
    pub async fn open(db: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let (url, backend) = if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            (db.to_string(), Backend::Postgres)
        } else {
            (format!("sqlite://{db}?mode=rwc"), Backend::Sqlite)
        };
        let mut options = AnyPoolOptions::new().max_connections(if backend == Backend::Sqlite { 1 } else { 4 });
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await.map_err(|e| StoreError::Open { db: redact(db), source: e })?;
        MIGRATOR.run(&pool).await.map_err(|e| StoreError::Migrate { db: redact(db), source: e })?;
        Ok(Store { pool, backend, batch: ingest::BATCH })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Lines per ingest transaction ([`ingest::BATCH`] by default; at least 1).
    pub fn with_batch(mut self, lines: usize) -> Store {
        self.batch = lines.max(1);
        self
    }

    /// Closes every connection (a SQLite file is then whole on disk).
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// A database name fit for a message: a URL's password left out.
fn redact(db: &str) -> String {
    match (db.find("://"), db.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &db[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:…{}", &db[..s + 3], &db[at..]),
                None => db.to_string(),
            }
        }
        _ => db.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_left_out_of_messages() {
        assert_eq!(super::redact("postgres://u:secret@127.0.0.1:5/c"), "postgres://u:…@127.0.0.1:5/c");
        assert_eq!(super::redact("postgres://u@h/c"), "postgres://u@h/c");
        assert_eq!(super::redact("campaign.sqlite"), "campaign.sqlite");
    }
}
