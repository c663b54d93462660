-- The campaign store, version 1. One text for SQLite and PostgreSQL: portable types only (TEXT, BIGINT), natural
-- keys instead of generated ids, times as Unix seconds. Schema described in docs/campaign.md.

-- One scan (one shard of one), one hunt report batch, or one Shadowserver file: what it covered.
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    source TEXT NOT NULL,
    started BIGINT,
    ended BIGINT,
    seed BIGINT,
    shard TEXT,
    ports TEXT NOT NULL,
    targets TEXT NOT NULL,
    checks TEXT NOT NULL,
    ingested BIGINT NOT NULL
);

-- Every observation once: the same one in two files, or a file ingested twice, is one row.
CREATE TABLE observations (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id),
    ip TEXT NOT NULL,
    port BIGINT NOT NULL,
    time BIGINT NOT NULL,
    status TEXT NOT NULL,
    class TEXT,
    build TEXT,
    data TEXT NOT NULL
);
CREATE INDEX observations_host ON observations (ip, port);
CREATE INDEX observations_run ON observations (run_id);

-- What each record said about each check of its host (unknowns are not stored: they move nothing).
CREATE TABLE sightings (
    record_id TEXT NOT NULL,
    check_name TEXT NOT NULL,
    ip TEXT NOT NULL,
    port BIGINT NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs (id),
    time BIGINT NOT NULL,
    present BIGINT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (record_id, check_name)
);
CREATE INDEX sightings_key ON sightings (ip, port, check_name);

-- A host (address and port) as the campaign knows it.
CREATE TABLE hosts (
    ip TEXT NOT NULL,
    port BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    names TEXT NOT NULL,
    owner_key TEXT,
    PRIMARY KEY (ip, port)
);

-- Ticket events, append-only while runs arrive in time order; a key's events are the replay of its sightings and
-- false-positive marks (exhunt_campaign::ticket::replay).
CREATE TABLE ticket_events (
    ip TEXT NOT NULL,
    port BIGINT NOT NULL,
    check_name TEXT NOT NULL,
    seq BIGINT NOT NULL,
    ticket BIGINT NOT NULL,
    kind TEXT NOT NULL,
    time BIGINT NOT NULL,
    run_id TEXT,
    detail TEXT,
    until BIGINT,
    PRIMARY KEY (ip, port, check_name, seq)
);

-- The current state of each key's newest ticket (a cache of folding its events).
CREATE TABLE tickets (
    ip TEXT NOT NULL,
    port BIGINT NOT NULL,
    check_name TEXT NOT NULL,
    ticket BIGINT NOT NULL,
    open BIGINT NOT NULL,
    opened BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    closed BIGINT,
    detail TEXT NOT NULL,
    fp_until BIGINT,
    fp_reason TEXT,
    PRIMARY KEY (ip, port, check_name)
);

-- An operator's false-positive marks.
CREATE TABLE fp_marks (
    ip TEXT NOT NULL,
    port BIGINT NOT NULL,
    check_name TEXT NOT NULL,
    time BIGINT NOT NULL,
    until BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (ip, port, check_name, time)
);

-- Files ingested to their end, by content hash: the same file again is skipped at once.
CREATE TABLE ingests (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    run_id TEXT,
    records BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    finished BIGINT NOT NULL
);
