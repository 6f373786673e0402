//! The SQLite store's tables and their versions.
//!
//! `PRAGMA user_version` holds the version of the layout a file was written
//! in. Opening a file for writing migrates an older one in one transaction
//! (a failure leaves it as it was); a file written by a newer faultline is
//! refused (its layout may hold what this one would misread or lose). A
//! file opened read-only is read in its own layout. Version 0 with tables is
//! the layout before versions were recorded (version 1); without tables, a
//! new file.

use rusqlite::{Connection, TransactionBehavior};

use crate::store::StoreError;

/// The layout this faultline writes: 2 keeps samples in slots (the fold's
/// `choose_sample`) instead of a queue of every sample seen; 3 adds merges
/// (`issues.merged_into`, status `merged`) and aliases
/// ([`crate::store::route`]), which an older faultline would count past.
pub const VERSION: i64 = 3;

pub const TABLES: &str = "
CREATE TABLE IF NOT EXISTS issues (
    id           TEXT PRIMARY KEY,
    fingerprint  TEXT NOT NULL UNIQUE,
    log_group    TEXT NOT NULL,
    title        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open',
    count        INTEGER NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    regressed_at INTEGER,
    created_at   INTEGER NOT NULL,
    resolved_in  TEXT,
    ignored_until INTEGER,
    ignored_until_count INTEGER,
    last_alert_at INTEGER,
    threshold_alerted_at INTEGER,
    merged_into  TEXT
);
CREATE INDEX IF NOT EXISTS issues_merged_into ON issues (merged_into) WHERE merged_into IS NOT NULL;
CREATE TABLE IF NOT EXISTS aliases (
    id         TEXT PRIMARY KEY,
    target     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Issues a user unmerged: no change of fingerprint algorithm joins them
-- again (store::route). Only ever added, as the runs' tables.
CREATE TABLE IF NOT EXISTS kept_apart (
    id TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hours (
    issue_id TEXT NOT NULL,
    hour     INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (issue_id, hour)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS facets (
    issue_id TEXT NOT NULL,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (issue_id, name, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS issues_last_seen ON issues (last_seen);
CREATE INDEX IF NOT EXISTS facets_by_value ON facets (name, value);
CREATE TABLE IF NOT EXISTS samples (
    issue_id  TEXT NOT NULL,
    slot      INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    sample    TEXT NOT NULL,
    PRIMARY KEY (issue_id, slot)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    batch_id     TEXT PRIMARY KEY,
    log_group    TEXT NOT NULL,
    log_stream   TEXT NOT NULL,
    events       INTEGER NOT NULL,
    errors       INTEGER NOT NULL,
    processed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_processed ON batches (processed_at);
CREATE TABLE IF NOT EXISTS outbox (
    alert_id    TEXT PRIMARY KEY,
    payload     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    sent_at     INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (sent_at, lease_until);
";

/// Version 1 to 2: samples move from a queue (`seq`) into slots; the ten
/// newest kept become slots 0 to 9.
const FROM_1: &str = "
ALTER TABLE samples RENAME TO samples_v1;
DROP INDEX IF EXISTS samples_issue;
CREATE TABLE samples (
    issue_id  TEXT NOT NULL,
    slot      INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    sample    TEXT NOT NULL,
    PRIMARY KEY (issue_id, slot)
) WITHOUT ROWID;
INSERT INTO samples (issue_id, slot, timestamp, sample)
    SELECT issue_id, n - 1, COALESCE(json_extract(sample, '$.timestamp'), 0), sample
    FROM (SELECT issue_id, sample,
                 ROW_NUMBER() OVER (PARTITION BY issue_id ORDER BY seq DESC) AS n
          FROM samples_v1)
    WHERE n <= 10;
DROP TABLE samples_v1;
";

/// Version 2 to 3: issues can be merged (the aliases table is created with
/// the others).
const FROM_2: &str = "ALTER TABLE issues ADD COLUMN merged_into TEXT;";

/// What a file of an older layout lacks, shown to a read-only connection as
/// temporary objects (which shadow the file's own for unqualified names), so
/// every query reads it as if it were current: no merges, no aliases.
pub const READ_OLDER: &str = "
CREATE TEMP VIEW issues AS SELECT *, NULL AS merged_into FROM main.issues;
CREATE TEMP TABLE aliases (id TEXT PRIMARY KEY, target TEXT NOT NULL, created_at INTEGER NOT NULL);
";

/// The version a file was written in: 0 for a new file, 1 for one written
/// before versions were recorded.
pub fn version_of(conn: &Connection) -> Result<i64, rusqlite::Error> {
    let recorded: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if recorded > 0 {
        return Ok(recorded);
    }
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'issues'",
        [],
        |row| row.get(0),
    )?;
    Ok(if tables > 0 { 1 } else { 0 })
}

/// The refusal of a file this faultline cannot read.
pub fn newer(path: &str, version: i64) -> StoreError {
    StoreError::Schema(format!(
        "{path} was written by a newer faultline (store layout {version}; this one reads up to {VERSION}): upgrade faultline to use it; nothing was changed"
    ))
}

/// Brings a file to [`VERSION`]: creates the tables of a new one, migrates
/// an older one, refuses a newer one. One transaction, so a failure leaves
/// the file as it was. Returns the layout the file had.
pub fn prepare(conn: &mut Connection, path: &str) -> Result<i64, StoreError> {
    let err = |source| super::sqlite_error(path, source);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let version = version_of(&tx).map_err(err)?;
    if version > VERSION {
        return Err(newer(path, version));
    }
    if version == 1 {
        tx.execute_batch(FROM_1).map_err(err)?;
    }
    if (1..=2).contains(&version) {
        tx.execute_batch(FROM_2).map_err(err)?;
        tracing::info!(%path, "store migrated from layout {version} to {VERSION}");
    }
    tx.execute_batch(TABLES).map_err(err)?;
    // The runs' tables are only ever added: a file without them is one no
    // run was recorded in, and a faultline that predates them ignores them,
    // so they need no layout version of their own.
    tx.execute_batch(super::runs::SCHEMA).map_err(err)?;
    tx.execute_batch(super::pending::SCHEMA).map_err(err)?;
    if version < VERSION {
        tx.pragma_update(None, "user_version", VERSION)
            .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(version)
}

/// The tables faultline created before versions were recorded, for tests
/// that open a file an older faultline wrote.
#[cfg(test)]
pub(super) const LAYOUT_1: &str = "
    CREATE TABLE IF NOT EXISTS issues (
        id           TEXT PRIMARY KEY,
        fingerprint  TEXT NOT NULL UNIQUE,
        log_group    TEXT NOT NULL,
        title        TEXT NOT NULL,
        kind         TEXT NOT NULL,
        status       TEXT NOT NULL DEFAULT 'open',
        count        INTEGER NOT NULL,
        first_seen   INTEGER NOT NULL,
        last_seen    INTEGER NOT NULL,
        regressed_at INTEGER,
        created_at   INTEGER NOT NULL,
        resolved_in  TEXT,
        ignored_until INTEGER,
        ignored_until_count INTEGER,
        last_alert_at INTEGER,
        threshold_alerted_at INTEGER
    );
    CREATE TABLE IF NOT EXISTS hours (
        issue_id TEXT NOT NULL,
        hour     INTEGER NOT NULL,
        count    INTEGER NOT NULL,
        PRIMARY KEY (issue_id, hour)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS facets (
        issue_id TEXT NOT NULL,
        name     TEXT NOT NULL,
        value    TEXT NOT NULL,
        count    INTEGER NOT NULL,
        PRIMARY KEY (issue_id, name, value)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS issues_last_seen ON issues (last_seen);
    CREATE INDEX IF NOT EXISTS facets_by_value ON facets (name, value);
    CREATE TABLE IF NOT EXISTS samples (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        issue_id  TEXT NOT NULL,
        sample    TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS samples_issue ON samples (issue_id, seq);
    CREATE TABLE IF NOT EXISTS batches (
        batch_id     TEXT PRIMARY KEY,
        log_group    TEXT NOT NULL,
        log_stream   TEXT NOT NULL,
        events       INTEGER NOT NULL,
        errors       INTEGER NOT NULL,
        processed_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS batches_processed ON batches (processed_at);
    CREATE TABLE IF NOT EXISTS outbox (
        alert_id    TEXT PRIMARY KEY,
        payload     TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        lease_until INTEGER NOT NULL DEFAULT 0,
        attempts    INTEGER NOT NULL DEFAULT 0,
        sent_at     INTEGER
    );
    CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (sent_at, lease_until);";

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(conn: &Connection) -> Vec<(String, i64, i64)> {
        let mut stmt = conn
            .prepare("SELECT issue_id, slot, timestamp FROM samples ORDER BY issue_id, slot")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_layout_1_file_keeps_its_ten_newest_samples_in_slots() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(LAYOUT_1).unwrap();
        for t in 0..12 {
            conn.execute(
                "INSERT INTO samples (issue_id, sample) VALUES ('a', ?1)",
                [format!("{{\"timestamp\": {}}}", 1000 + t)],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO samples (issue_id, sample) VALUES ('b', '{\"timestamp\": 7}')",
            [],
        )
        .unwrap();
        assert_eq!(version_of(&conn).unwrap(), 1);
        prepare(&mut conn, ":memory:").unwrap();
        assert_eq!(version_of(&conn).unwrap(), VERSION);
        let kept = slots(&conn);
        let a: Vec<i64> = kept.iter().filter(|k| k.0 == "a").map(|k| k.2).collect();
        assert_eq!(
            a,
            (1002..1012).rev().collect::<Vec<i64>>(),
            "newest in slot 0"
        );
        assert!(kept.contains(&("b".into(), 0, 7)));
        prepare(&mut conn, ":memory:").unwrap();
        assert_eq!(slots(&conn), kept, "a second open changes nothing");
    }

    #[test]
    fn a_file_of_a_newer_layout_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE issues (id TEXT PRIMARY KEY); PRAGMA user_version = {};",
            VERSION + 1
        ))
        .unwrap();
        let refused = prepare(&mut conn, "f.db").unwrap_err().to_string();
        assert!(refused.contains("newer faultline"), "{refused}");
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 1);
    }
}
