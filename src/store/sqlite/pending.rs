//! Held tails in the SQLite file ([`crate::store::pending`]): one row per
//! tail, and one per batch that ever left one (so a redelivered batch does
//! not leave its tail again). Each step is one `BEGIN IMMEDIATE`
//! transaction, so its checks and its write see the same file.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::pending::{
    HELD_RETENTION_MS, HeldTails, Tail, TakeRule, decode_events, encode_events, stream_key,
};

/// Added to any file opened for writing; only ever added, like the runs'
/// tables, so it needs no layout version of its own.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS held_tails (
    left_by    TEXT PRIMARY KEY,
    stream_key TEXT NOT NULL,
    log_group  TEXT NOT NULL,
    log_stream TEXT NOT NULL,
    events     TEXT NOT NULL,
    held_at    INTEGER NOT NULL,
    taken_by   TEXT,
    taken_at   INTEGER
);
CREATE INDEX IF NOT EXISTS held_tails_by_stream ON held_tails (stream_key);
CREATE INDEX IF NOT EXISTS held_tails_by_age ON held_tails (held_at);
CREATE TABLE IF NOT EXISTS held_left (
    left_by TEXT PRIMARY KEY,
    at      INTEGER NOT NULL
);
";

const COLUMNS: &str = "log_group, log_stream, left_by, events, held_at, taken_by, taken_at";

fn tail_from_row(row: &rusqlite::Row<'_>) -> Result<(Tail, String), rusqlite::Error> {
    Ok((
        Tail {
            log_group: row.get(0)?,
            log_stream: row.get(1)?,
            left_by: row.get(2)?,
            events: Vec::new(),
            held_at: row.get(4)?,
            taken_by: row.get(5)?,
            taken_at: row.get(6)?,
        },
        row.get(3)?,
    ))
}

fn with_events(rows: Vec<(Tail, String)>) -> Result<Vec<Tail>, StoreError> {
    rows.into_iter()
        .map(|(mut tail, events)| {
            tail.events = decode_events(&events)?;
            Ok(tail)
        })
        .collect()
}

fn recorded(tx: &rusqlite::Transaction<'_>, batch_id: &str) -> Result<bool, rusqlite::Error> {
    tx.query_row(
        "SELECT 1 FROM batches WHERE batch_id = ?1",
        params![batch_id],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
}

#[async_trait]
impl HeldTails for SqliteStore {
    async fn tails(&self, log_group: &str, log_stream: &str) -> Result<Vec<Tail>, StoreError> {
        let key = stream_key(log_group, log_stream);
        let rows = self.with_conn(|conn| {
            let mut select = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM held_tails WHERE stream_key = ?1"
                ))
                .map_err(|e| self.err(e))?;
            let rows = select
                .query_map(params![key], tail_from_row)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| self.err(e))?;
            Ok(rows)
        })?;
        with_events(rows)
    }

    async fn take(&self, tail: &Tail, taker: &str, now: i64) -> Result<bool, StoreError> {
        let rule = tail.take_rule(taker, now);
        if rule == TakeRule::Refused {
            return Ok(false);
        }
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            let current: Option<(Option<String>, Option<i64>)> = tx
                .query_row(
                    "SELECT taken_by, taken_at FROM held_tails WHERE left_by = ?1",
                    params![tail.left_by],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            let Some((taken_by, taken_at)) = current else {
                return Ok(false);
            };
            let as_read = taken_by == tail.taken_by && taken_at == tail.taken_at;
            let allowed = as_read
                && match &rule {
                    TakeRule::Renew { .. } => true,
                    TakeRule::Free => !recorded(&tx, taker).map_err(|e| self.err(e))?,
                    TakeRule::Abandoned { by, .. } => {
                        !recorded(&tx, by).map_err(|e| self.err(e))?
                            && !recorded(&tx, taker).map_err(|e| self.err(e))?
                    }
                    TakeRule::Refused => false,
                };
            if !allowed {
                return Ok(false);
            }
            tx.execute(
                "UPDATE held_tails SET taken_by = ?2, taken_at = ?3 WHERE left_by = ?1",
                params![tail.left_by, taker, now],
            )
            .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
            Ok(true)
        })
    }

    async fn leave(&self, tail: &Tail) -> Result<bool, StoreError> {
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            // A batch leaves its tail before it is recorded: once recorded,
            // whatever it left was decided.
            let first = !recorded(&tx, &tail.left_by).map_err(|e| self.err(e))?
                && tx
                    .execute(
                        "INSERT OR IGNORE INTO held_left (left_by, at) VALUES (?1, ?2)",
                        params![tail.left_by, tail.held_at],
                    )
                    .map_err(|e| self.err(e))?
                    == 1;
            if first {
                tx.execute(
                    "INSERT INTO held_tails (left_by, stream_key, log_group, log_stream, events, held_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        tail.left_by,
                        stream_key(&tail.log_group, &tail.log_stream),
                        tail.log_group,
                        tail.log_stream,
                        encode_events(&tail.events),
                        tail.held_at
                    ],
                )
                .map_err(|e| self.err(e))?;
            }
            // The marks outlive any redelivery of their batch, and tails
            // any wait for a tick: past that they are only weight.
            let expired = tail.held_at.saturating_sub(HELD_RETENTION_MS);
            tx.execute("DELETE FROM held_left WHERE at < ?1", params![expired])
                .and_then(|_| {
                    tx.execute("DELETE FROM held_tails WHERE held_at < ?1", params![expired])
                })
                .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
            Ok(first)
        })
    }

    async fn release(&self, tail: &Tail, taker: &str) -> Result<(), StoreError> {
        self.with_conn(|conn| {
            conn.execute(
                "DELETE FROM held_tails WHERE left_by = ?1 AND taken_by = ?2",
                params![tail.left_by, taker],
            )
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    async fn stale_tails(&self, held_until: i64, limit: usize) -> Result<Vec<Tail>, StoreError> {
        let rows = self.with_conn(|conn| {
            let mut select = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM held_tails WHERE held_at <= ?1 ORDER BY held_at LIMIT ?2"
                ))
                .map_err(|e| self.err(e))?;
            let rows = select
                .query_map(
                    params![held_until, i64::try_from(limit).unwrap_or(i64::MAX)],
                    tail_from_row,
                )
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| self.err(e))?;
            Ok(rows)
        })?;
        with_events(rows)
    }
}
