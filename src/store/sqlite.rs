//! The embedded store: one SQLite file, so faultline runs without AWS.
//!
//! Every batch is applied in one `BEGIN IMMEDIATE` transaction that first
//! claims the batch id: a replayed batch finds its id taken and changes
//! nothing, and concurrent ingesters queue on SQLite's write lock instead of
//! interleaving their read-modify-write cycles.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Issue, IssueDetail, MAX_SAMPLES, Recorded, Status, StatusFilter, Store, StoreError};
use crate::aggregate::{BatchSummary, IssueDelta, Sample, issue_id};
use crate::alert::{self, Alert};

/// Batch ids are kept this long. Lambda retries an async event for up to six
/// hours and CloudWatch Logs retries delivery for up to 24; a week covers both
/// with room to spare while keeping the table small.
const BATCH_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

const SCHEMA: &str = "
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
    created_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS issues_last_seen ON issues (last_seen);
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
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (sent_at, lease_until);
";

pub struct SqliteStore {
    path: String,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and its folder.
    pub fn open(path: &str) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let err = |source| StoreError::Sqlite {
            path: path.to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        // Several ingesters may share one file: wait for the write lock
        // rather than failing, and let readers run beside a writer.
        conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(SqliteStore {
            path: path.to_string(),
            conn: Mutex::new(conn),
        })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| StoreError::Backend("the SQLite connection was poisoned".into()))?;
        f(&mut conn)
    }

    fn record_sync(&self, batch: &BatchSummary, now: i64) -> Result<Recorded, StoreError> {
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            let claimed = tx
                .execute(
                    "INSERT OR IGNORE INTO batches (batch_id, log_group, log_stream, events, errors, processed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        batch.batch_id,
                        batch.log_group,
                        batch.log_stream,
                        batch.events as i64,
                        batch.errors as i64,
                        now
                    ],
                )
                .map_err(|e| self.err(e))?;
            if claimed == 0 {
                return Ok(Recorded {
                    duplicate: true,
                    ..Recorded::default()
                });
            }
            let mut new_issues: Vec<&IssueDelta> = Vec::new();
            let mut regressions: Vec<&IssueDelta> = Vec::new();
            for delta in &batch.issues {
                match apply_delta(&tx, batch, delta, now).map_err(|e| self.err(e))? {
                    Change::Created => new_issues.push(delta),
                    Change::Regressed => regressions.push(delta),
                    Change::Counted => {}
                }
            }
            for alert in alert::for_batch(batch, &new_issues, &regressions, now) {
                let payload = serde_json::to_string(&alert)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                tx.execute(
                    "INSERT OR IGNORE INTO outbox (alert_id, payload, created_at) VALUES (?1, ?2, ?3)",
                    params![alert.id, payload, now],
                )
                .map_err(|e| self.err(e))?;
            }
            tx.execute(
                "DELETE FROM batches WHERE processed_at < ?1",
                params![now - BATCH_RETENTION_MS],
            )
            .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
            Ok(Recorded {
                duplicate: false,
                new_issues: new_issues.iter().map(|d| issue_id(&d.fingerprint)).collect(),
                regressions: regressions.iter().map(|d| issue_id(&d.fingerprint)).collect(),
            })
        })
    }
}

enum Change {
    Created,
    Counted,
    Regressed,
}

fn apply_delta(
    tx: &rusqlite::Transaction<'_>,
    batch: &BatchSummary,
    delta: &IssueDelta,
    now: i64,
) -> Result<Change, rusqlite::Error> {
    let id = issue_id(&delta.fingerprint);
    let status: Option<String> = tx
        .query_row(
            "SELECT status FROM issues WHERE id = ?1",
            params![id],
            |row| row.get(0),
        )
        .optional()?;
    let change = match status.as_deref() {
        None => {
            tx.execute(
                "INSERT INTO issues (id, fingerprint, log_group, title, kind, status, count, first_seen, last_seen, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?8, ?9)",
                params![
                    id,
                    delta.fingerprint,
                    batch.log_group,
                    delta.title,
                    delta.kind,
                    delta.count as i64,
                    delta.first_seen,
                    delta.last_seen,
                    now
                ],
            )?;
            Change::Created
        }
        Some(status) => {
            let regressed = status == Status::Resolved.as_str();
            tx.execute(
                "UPDATE issues SET count = count + ?2,
                     first_seen = MIN(first_seen, ?3), last_seen = MAX(last_seen, ?4),
                     status = CASE WHEN ?5 THEN 'open' ELSE status END,
                     regressed_at = CASE WHEN ?5 THEN ?6 ELSE regressed_at END
                 WHERE id = ?1",
                params![
                    id,
                    delta.count as i64,
                    delta.first_seen,
                    delta.last_seen,
                    regressed,
                    now
                ],
            )?;
            if regressed {
                Change::Regressed
            } else {
                Change::Counted
            }
        }
    };
    for sample in &delta.samples {
        let json = serde_json::to_string(sample).unwrap_or_default();
        tx.execute(
            "INSERT INTO samples (issue_id, sample) VALUES (?1, ?2)",
            params![id, json],
        )?;
    }
    tx.execute(
        "DELETE FROM samples WHERE issue_id = ?1 AND seq NOT IN
            (SELECT seq FROM samples WHERE issue_id = ?1 ORDER BY seq DESC LIMIT ?2)",
        params![id, MAX_SAMPLES as i64],
    )?;
    Ok(change)
}

fn issue_from_row(row: &rusqlite::Row<'_>) -> Result<Issue, rusqlite::Error> {
    let status: String = row.get(5)?;
    Ok(Issue {
        id: row.get(0)?,
        fingerprint: row.get(1)?,
        log_group: row.get(2)?,
        title: row.get(3)?,
        kind: row.get(4)?,
        status: Status::parse(&status).unwrap_or(Status::Open),
        count: row.get::<_, i64>(6)?.max(0) as u64,
        first_seen: row.get(7)?,
        last_seen: row.get(8)?,
        regressed_at: row.get(9)?,
    })
}

const ISSUE_COLUMNS: &str =
    "id, fingerprint, log_group, title, kind, status, count, first_seen, last_seen, regressed_at";

#[async_trait]
impl Store for SqliteStore {
    async fn init(&self) -> Result<(), StoreError> {
        // The schema is created on open; nothing more to do.
        Ok(())
    }

    async fn record(&self, batch: &BatchSummary, now: i64) -> Result<Recorded, StoreError> {
        self.record_sync(batch, now)
    }

    async fn issues(&self, filter: StatusFilter) -> Result<Vec<Issue>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {ISSUE_COLUMNS} FROM issues ORDER BY last_seen DESC, id"
                ))
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], issue_from_row)
                .map_err(|e| self.err(e))?;
            let mut out = Vec::new();
            for row in rows {
                let issue = row.map_err(|e| self.err(e))?;
                if filter.admits(issue.status) {
                    out.push(issue);
                }
            }
            Ok(out)
        })
    }

    async fn issue(&self, id: &str) -> Result<Option<IssueDetail>, StoreError> {
        self.with_conn(|conn| {
            let issue = conn
                .query_row(
                    &format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE id = ?1"),
                    params![id],
                    issue_from_row,
                )
                .optional()
                .map_err(|e| self.err(e))?;
            let Some(issue) = issue else {
                return Ok(None);
            };
            let mut stmt = conn
                .prepare_cached("SELECT sample FROM samples WHERE issue_id = ?1 ORDER BY seq DESC")
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map(params![id], |row| row.get::<_, String>(0))
                .map_err(|e| self.err(e))?;
            let mut samples = Vec::new();
            for row in rows {
                let json = row.map_err(|e| self.err(e))?;
                let sample: Sample = serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("sample of issue {id}: {e}")))?;
                samples.push(sample);
            }
            Ok(Some(IssueDetail { issue, samples }))
        })
    }

    async fn set_status(&self, id: &str, status: Status) -> Result<Issue, StoreError> {
        self.with_conn(|conn| {
            let changed = conn
                .execute(
                    "UPDATE issues SET status = ?2 WHERE id = ?1",
                    params![id, status.as_str()],
                )
                .map_err(|e| self.err(e))?;
            if changed == 0 {
                return Err(StoreError::NotFound(id.to_string()));
            }
            conn.query_row(
                &format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE id = ?1"),
                params![id],
                issue_from_row,
            )
            .map_err(|e| self.err(e))
        })
    }

    async fn claim_alerts(&self, now: i64, lease_ms: i64) -> Result<Vec<Alert>, StoreError> {
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            let mut claimed = Vec::new();
            {
                let mut stmt = tx
                    .prepare_cached(
                        "UPDATE outbox SET lease_until = ?2, attempts = attempts + 1
                         WHERE sent_at IS NULL AND lease_until <= ?1
                         RETURNING payload",
                    )
                    .map_err(|e| self.err(e))?;
                let rows = stmt
                    .query_map(params![now, now + lease_ms], |row| row.get::<_, String>(0))
                    .map_err(|e| self.err(e))?;
                for row in rows {
                    let payload = row.map_err(|e| self.err(e))?;
                    let alert: Alert = serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Corrupt(format!("queued alert: {e}")))?;
                    claimed.push(alert);
                }
            }
            tx.commit().map_err(|e| self.err(e))?;
            claimed.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
            Ok(claimed)
        })
    }

    async fn alert_sent(&self, alert_id: &str, now: i64) -> Result<(), StoreError> {
        self.with_conn(|conn| {
            conn.execute(
                "UPDATE outbox SET sent_at = ?2 WHERE alert_id = ?1",
                params![alert_id, now],
            )
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }
}
