use std::path::PathBuf;

/// What stops a store operation. One bad line of a file is not one of these: it is an [`crate::IngestError`] in
/// the report, and the rest of the file is ingested.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the campaign `{db}`: {source}")]
    Open { db: String, source: sqlx::Error },
    #[error("cannot bring the campaign `{db}` to the current schema: {source}")]
    Migrate { db: String, source: sqlx::migrate::MigrateError },
    #[error("campaign database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("cannot read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("`{path}` is not a file exhunt can ingest: {why}; use `--kind scan|hunt|shadowserver` to say what it is")]
    UnknownKind { path: PathBuf, why: String },
    #[error("`{path}`: {why}")]
    BadFile { path: PathBuf, why: String },
    #[error("no ticket `{0}`: `exhunt campaign tickets` lists them")]
    NoTicket(String),
    #[error("`{0}` is not a ticket id: they look like `192.0.2.7:443/proxylogon#0`")]
    BadTicketId(String),
}
