//! The embedded store: one SQLite file, so faultline runs without AWS.
//!
//! Every batch is applied in one `BEGIN IMMEDIATE` transaction that first
//! claims the batch id: a replayed batch finds its id taken and changes
//! nothing, and concurrent ingesters queue on SQLite's write lock instead of
//! interleaving their read-modify-write cycles.

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

mod listing;
mod pending;
mod runs;
mod schema;
mod stats;
mod writer;

use super::fold::{self, FacetBook, Folded, Prior};
use super::route::{self, Entry, Router, merged_refusal, not_merged_refusal};
use super::{Forgotten, RunFilter, RunName, Store, StoreError, outbox, run_fold};
use crate::limits::{BATCH_RETENTION_MS, MAX_SAMPLES};
use crate::model::{
    Alert, BatchSummary, EventType, Facet, HourCount, Issue, IssueDelta, IssueDetail, IssuePage,
    IssueQuery, IssueState, LeasedAlert, Migrated, Recorded, Run, Sample, Status, StatusChange,
    StatusFilter, StoreStats, issue_id,
};
use crate::policy::{self, Policy};

pub struct SqliteStore {
    path: String,
    conn: Mutex<Connection>,
    /// The layout of the file ([`schema::VERSION`] once opened for writing;
    /// a file opened read-only is read in its own).
    version: i64,
    /// The layout the file had when it was opened (0: a new file).
    opened_from: i64,
}

/// A SQLite failure on the file at `path` as the store's: a write lock
/// that another process kept past the wait says who holds it ([`writer`]).
fn sqlite_error(path: &str, source: rusqlite::Error) -> StoreError {
    if matches!(
        source.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    ) {
        return StoreError::Busy(writer::busy(path));
    }
    StoreError::Sqlite {
        path: path.to_string(),
        source,
    }
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
        let err = |source| sqlite_error(path, source);
        let mut conn = Connection::open(path).map_err(err)?;
        // Several ingesters may share one file: wait for the write lock
        // rather than failing (and say who held it past the wait), and let
        // readers run beside a writer.
        conn.busy_timeout(writer::wait()).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        let opened_from = schema::prepare(&mut conn, path)?;
        Ok(SqliteStore {
            path: path.to_string(),
            conn: Mutex::new(conn),
            version: schema::VERSION,
            opened_from,
        })
    }

    /// Opens an existing database for reading only: it creates nothing and
    /// writes nothing, so a store file (or folder) that cannot be written
    /// can still be listed. A WAL database in a folder it cannot write to
    /// has no shared-memory file to read beside a writer; it is then read
    /// as immutable, as it is when nothing can be writing it.
    pub fn open_read_only(path: &str) -> Result<SqliteStore, StoreError> {
        let err = |source| sqlite_error(path, source);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let readable = |conn: &Connection| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
                row.get::<_, i64>(0)
            })
        };
        let conn = Connection::open_with_flags(path, flags).map_err(err)?;
        conn.busy_timeout(writer::wait()).map_err(err)?;
        let conn = match readable(&conn) {
            Ok(_) => conn,
            Err(_) => {
                let escaped: String = path
                    .chars()
                    .map(|c| match c {
                        '%' => "%25".to_string(),
                        '?' => "%3f".to_string(),
                        '#' => "%23".to_string(),
                        c => c.to_string(),
                    })
                    .collect();
                let conn =
                    Connection::open_with_flags(format!("file:{escaped}?immutable=1"), flags)
                        .map_err(err)?;
                readable(&conn).map_err(err)?;
                conn
            }
        };
        let version = schema::version_of(&conn).map_err(err)?;
        if version > schema::VERSION {
            return Err(schema::newer(path, version));
        }
        if (1..schema::VERSION).contains(&version) {
            conn.execute_batch(schema::READ_OLDER).map_err(err)?;
        }
        Ok(SqliteStore {
            path: path.to_string(),
            conn: Mutex::new(conn),
            version,
            opened_from: version,
        })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        sqlite_error(&self.path, source)
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

    /// Records batches in one transaction: each is still claimed by its own
    /// batch id (a duplicate inside or across calls changes nothing), but
    /// the pages they touch are written to the WAL once, not once per batch.
    fn record_sync(
        &self,
        batches: &[BatchSummary],
        now: i64,
        policy: &Policy,
    ) -> Result<Vec<Recorded>, StoreError> {
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            writer::note(&self.path, now);
            let mut recorded = Vec::with_capacity(batches.len());
            for batch in batches {
                recorded.push(self.record_in(&tx, batch, now, policy)?);
            }
            tx.prepare_cached("DELETE FROM batches WHERE processed_at < ?1")
                .and_then(|mut prune| {
                    prune.execute(params![now.saturating_sub(BATCH_RETENTION_MS)])
                })
                .map_err(|e| self.err(e))?;
            runs::prune(&tx, now).map_err(|e| self.err(e))?;
            // Sent alerts an older faultline kept (it marked them sent).
            tx.prepare_cached("DELETE FROM outbox WHERE sent_at IS NOT NULL")
                .and_then(|mut prune| prune.execute([]))
                .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
            Ok(recorded)
        })
    }

    fn record_in(
        &self,
        tx: &rusqlite::Transaction<'_>,
        batch: &BatchSummary,
        now: i64,
        policy: &Policy,
    ) -> Result<Recorded, StoreError> {
        let claimed = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO batches (batch_id, log_group, log_stream, events, errors, processed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut claim| {
                claim.execute(params![
                    batch.batch_id,
                    batch.log_group,
                    batch.log_stream,
                    batch.events as i64,
                    batch.errors as i64,
                    now
                ])
            })
            .map_err(|e| self.err(e))?;
        if claimed == 0 {
            return Ok(Recorded {
                duplicate: true,
                ..Recorded::default()
            });
        }
        let routed = self.route(tx, batch)?;
        for alias in &routed.aliases {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO aliases (id, target, created_at) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut insert| insert.execute(params![alias.id, alias.target, now]))
            .map_err(|e| self.err(e))?;
        }
        let batch = &routed.batch;
        let mut raised: Vec<(EventType, &IssueDelta)> = Vec::new();
        let mut recorded = Recorded::default();
        let rules = policy.run_rules();
        let unsampled = runs::unsampled(tx, batch).map_err(|e| self.err(e))?;
        for delta in &batch.issues {
            let id = issue_id(&delta.fingerprint);
            let folded = apply_delta(tx, batch, delta, unsampled.contains(&id), now, policy)
                .map_err(|e| self.err(e))?;
            let held = !folded.created && runs::is_held(tx, &id).map_err(|e| self.err(e))?;
            let (alert, held_after) =
                run_fold::hold(folded.decision.alert, held, delta, batch, &rules);
            if held_after != held {
                runs::set_held(tx, &id, held_after, now).map_err(|e| self.err(e))?;
            }
            if let Some(why) = policy::held_back(folded.created, &folded.decision, alert) {
                recorded.held_back.push((id.clone(), why));
            }
            if folded.created {
                recorded.new_issues.push(id.clone());
            }
            if folded.decision.regressed {
                recorded.regressions.push(id);
            }
            if let Some(event_type) = alert {
                raised.push((event_type, delta));
            }
        }
        runs::record(tx, batch, &recorded, now, &|e| self.err(e))?;
        for mut alert in policy::alerts_for_batch(batch, &raised, policy.digest_over, now) {
            outbox::bound_alert(&mut alert);
            let payload =
                serde_json::to_string(&alert).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO outbox (alert_id, payload, created_at) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut insert| insert.execute(params![alert.id, payload, now]))
            .map_err(|e| self.err(e))?;
            recorded.alerts += 1;
        }
        Ok(recorded)
    }

    /// The batch pointed at the issues that take its occurrences
    /// ([`route`]): what the file holds at each id the router asks for.
    /// The issues a new fingerprint joins are merged first, in the batch's
    /// transaction, and the batch routed again on what that left.
    fn route<'b>(
        &self,
        tx: &rusqlite::Transaction<'_>,
        batch: &'b BatchSummary,
    ) -> Result<route::Routed<'b>, StoreError> {
        // Each round merges at least one pair of issues or ends; the bound
        // only guards against a store edited into a state routing misreads.
        for _ in 0..=route::MAX_HOPS {
            let mut router = Router::new();
            loop {
                let wanted = router.wanted(batch)?;
                if wanted.is_empty() {
                    break;
                }
                for id in wanted {
                    let entry = entry_at(tx, &id).map_err(|e| self.err(e))?;
                    router.learn(&id, entry);
                }
            }
            let routed = router.route(batch)?;
            if routed.joins.is_empty() {
                return Ok(routed);
            }
            for join in &routed.joins {
                self.join_in(tx, join)?;
            }
        }
        Err(StoreError::Corrupt(format!(
            "batch {}: its issues were still to be joined after {} rounds",
            batch.batch_id,
            route::MAX_HOPS + 1
        )))
    }

    /// Merges what `join` still needs merged ([`Router::join_step`]), in
    /// `tx`; nothing when its issues already count into one.
    fn join_in(
        &self,
        tx: &rusqlite::Transaction<'_>,
        join: &route::Join,
    ) -> Result<(), StoreError> {
        let mut router = Router::new();
        loop {
            match router.join_step(join)? {
                route::JoinStep::Read(ids) => {
                    for id in ids {
                        let entry = entry_at(tx, &id).map_err(|e| self.err(e))?;
                        router.learn(&id, entry);
                    }
                }
                route::JoinStep::Merge { into, from } => {
                    tracing::info!(into = %into, from = %from, "a new fingerprint joins two issues");
                    return self.merge_in(tx, &into, &from).map_err(|e| self.err(e));
                }
                route::JoinStep::Done => return Ok(()),
            }
        }
    }

    /// Sums `from`'s history into `into` and marks `from` merged, in `tx`.
    fn merge_in(
        &self,
        tx: &rusqlite::Transaction<'_>,
        into: &str,
        from: &str,
    ) -> Result<(), rusqlite::Error> {
        let seen = |id: &str| {
            tx.query_row(
                "SELECT count, first_seen, last_seen FROM issues WHERE id = ?1",
                params![id],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                },
            )
        };
        let (into_count, into_first, into_last) = seen(into)?;
        let (from_count, from_first, from_last) = seen(from)?;
        let last_seen = into_last.max(from_last);
        tx.execute(
            "UPDATE issues SET count = ?2, first_seen = ?3, last_seen = ?4 WHERE id = ?1",
            params![
                into,
                into_count.saturating_add(from_count),
                into_first.min(from_first),
                last_seen
            ],
        )?;
        let hours = fold::merged_hours(
            &hours_since(tx, into, i64::MIN)?,
            &hours_since(tx, from, i64::MIN)?,
            last_seen,
        );
        tx.execute("DELETE FROM hours WHERE issue_id = ?1", params![into])?;
        for h in hours {
            tx.execute(
                "INSERT INTO hours (issue_id, hour, count) VALUES (?1, ?2, ?3)",
                params![into, h.hour, h.count as i64],
            )?;
        }
        let facets = |id: &str| -> Result<Vec<(String, String, i64)>, rusqlite::Error> {
            tx.prepare("SELECT name, value, count FROM facets WHERE issue_id = ?1")?
                .query_map(params![id], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect()
        };
        let mut book = FacetBook::new();
        for (name, value, _) in facets(into)? {
            book.keep(&name, &value);
        }
        for (name, value, count) in facets(from)? {
            let facet = crate::model::FacetCount {
                name,
                value,
                count: count.max(0) as u64,
            };
            if let Some(counted) = book.admit(&facet) {
                tx.execute(
                    "INSERT INTO facets (issue_id, name, value, count) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (issue_id, name, value) DO UPDATE SET count = count + excluded.count",
                    params![into, counted.name, counted.value, counted.count as i64],
                )?;
            }
        }
        let samples: Vec<(i64, String)> = tx
            .prepare("SELECT timestamp, sample FROM samples WHERE issue_id IN (?1, ?2)")?
            .query_map(params![into, from], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let kept = fold::merged_samples(samples.into_iter().map(|(t, s)| (t, (t, s))).collect());
        tx.execute("DELETE FROM samples WHERE issue_id = ?1", params![into])?;
        for (slot, (timestamp, sample)) in kept.into_iter().enumerate() {
            tx.execute(
                "INSERT INTO samples (issue_id, slot, timestamp, sample) VALUES (?1, ?2, ?3, ?4)",
                params![into, slot as i64, timestamp, sample],
            )?;
        }
        tx.execute(
            "UPDATE issues SET status = 'merged', merged_into = ?2 WHERE id = ?1",
            params![from, into],
        )?;
        Ok(())
    }
}

/// What the file holds at an issue id, for [`route`]: an issue (merged or
/// not), an alias, or nothing.
fn entry_at(conn: &Connection, id: &str) -> Result<Option<Entry>, rusqlite::Error> {
    let issue = conn
        .prepare_cached(
            "SELECT status, fingerprint, merged_into,
                    EXISTS (SELECT 1 FROM kept_apart WHERE kept_apart.id = issues.id)
             FROM issues WHERE id = ?1",
        )?
        .query_row(params![id], |row| {
            let status: String = row.get(0)?;
            let fingerprint: String = row.get(1)?;
            let merged_into: Option<String> = row.get(2)?;
            Ok(Entry::of_issue(
                Status::parse(&status).unwrap_or_default(),
                &fingerprint,
                merged_into.as_deref(),
                row.get(3)?,
            ))
        })
        .optional()?;
    if issue.is_some() {
        return Ok(issue);
    }
    conn.prepare_cached("SELECT target FROM aliases WHERE id = ?1")?
        .query_row(params![id], |row| {
            Ok(Entry::Alias {
                target: row.get(0)?,
            })
        })
        .optional()
}

/// Applies one issue's delta inside the batch's transaction: reads what the
/// fold needs, folds ([`fold::fold`]), and writes the result: counters and
/// status, hours (with retention), facets through the issue's
/// [`FacetBook`], samples (none when `in_its_runs`: see
/// [`fold::choose_sample`]). Returns the fold.
fn apply_delta(
    tx: &rusqlite::Transaction<'_>,
    batch: &BatchSummary,
    delta: &IssueDelta,
    in_its_runs: bool,
    now: i64,
    policy: &Policy,
) -> Result<Folded, rusqlite::Error> {
    let id = issue_id(&delta.fingerprint);
    // Cached like every statement a batch runs per issue: `query_row`
    // would compile it again for every delta.
    let prior: Option<Prior> = tx
        .prepare_cached(
            "SELECT status, count, resolved_in, ignored_until, ignored_until_count,
                    last_alert_at, threshold_alerted_at, first_seen, last_seen
             FROM issues WHERE id = ?1",
        )?
        .query_row(params![id], |row| {
            let status: String = row.get(0)?;
            Ok(Prior {
                state: IssueState {
                    status: Status::parse(&status).unwrap_or_default(),
                    count: row.get::<_, i64>(1)?.max(0) as u64,
                    resolved_in: row.get(2)?,
                    ignored_until: row.get(3)?,
                    ignored_until_count: row.get::<_, Option<i64>>(4)?.map(|c| c.max(0) as u64),
                    last_alert_at: row.get(5)?,
                    threshold_alerted_at: row.get(6)?,
                },
                first_seen: row.get(7)?,
                last_seen: row.get(8)?,
            })
        })
        .optional()?;
    let stored_in_window = match fold::threshold_window(delta, policy) {
        Some(window) => tx
            .prepare_cached(
                "SELECT COALESCE(SUM(count), 0) FROM hours WHERE issue_id = ?1 AND hour BETWEEN ?2 AND ?3",
            )?
            .query_row(params![id, window.start(), window.end()], |row| {
                row.get::<_, i64>(0)
            })?
            .max(0) as u64,
        None => 0,
    };
    let folded = fold::fold(prior.as_ref(), delta, stored_in_window, policy, now);
    let state = &folded.decision.state;
    if folded.created {
        tx.prepare_cached(
            "INSERT INTO issues (id, fingerprint, log_group, title, kind, status, count, first_seen,
                                 last_seen, created_at, last_alert_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            id,
            delta.fingerprint,
            batch.log_group,
            delta.title,
            delta.kind,
            state.status.as_str(),
            state.count as i64,
            folded.first_seen,
            folded.last_seen,
            now,
            state.last_alert_at
        ])?;
    } else {
        tx.prepare_cached(
            "UPDATE issues SET count = ?2, first_seen = ?3, last_seen = ?4, status = ?5,
                 resolved_in = ?6, ignored_until = ?7, ignored_until_count = ?8,
                 last_alert_at = ?9, threshold_alerted_at = ?10,
                 regressed_at = COALESCE(?11, regressed_at)
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            state.count as i64,
            folded.first_seen,
            folded.last_seen,
            state.status.as_str(),
            state.resolved_in,
            state.ignored_until,
            state.ignored_until_count.map(|c| c as i64),
            state.last_alert_at,
            state.threshold_alerted_at,
            folded.regressed_at
        ])?;
    }
    for h in &delta.hours {
        tx.prepare_cached(
            "INSERT INTO hours (issue_id, hour, count) VALUES (?1, ?2, ?3)
             ON CONFLICT (issue_id, hour) DO UPDATE SET count = count + excluded.count",
        )?
        .execute(params![id, h.hour, h.count as i64])?;
    }
    tx.prepare_cached("DELETE FROM hours WHERE issue_id = ?1 AND hour < ?2")?
        .execute(params![id, fold::oldest_hour_kept(delta)])?;
    if !delta.facets.is_empty() {
        let mut book = FacetBook::new();
        if !folded.created {
            let mut kept =
                tx.prepare_cached("SELECT name, value FROM facets WHERE issue_id = ?1")?;
            let rows = kept.query_map(params![id], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            for row in rows {
                let (name, value) = row?;
                book.keep(&name, &value);
            }
        }
        for facet in &delta.facets {
            if let Some(counted) = book.admit(facet) {
                tx.prepare_cached(
                    "INSERT INTO facets (issue_id, name, value, count) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (issue_id, name, value) DO UPDATE SET count = count + excluded.count",
                )?
                .execute(params![id, counted.name, counted.value, counted.count as i64])?;
            }
        }
    }
    let mut kept = vec![None; MAX_SAMPLES];
    if !folded.created {
        let mut slots =
            tx.prepare_cached("SELECT slot, timestamp FROM samples WHERE issue_id = ?1")?;
        let rows = slots.query_map(params![id], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (slot, timestamp) = row?;
            if let Some(k) = usize::try_from(slot).ok().and_then(|s| kept.get_mut(s)) {
                *k = Some(timestamp);
            }
        }
    }
    if let Some((slot, sample)) = fold::choose_sample(&kept, delta, in_its_runs) {
        let json = serde_json::to_string(sample).unwrap_or_default();
        tx.prepare_cached(
            "INSERT OR REPLACE INTO samples (issue_id, slot, timestamp, sample) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, slot as i64, sample.timestamp, json])?;
    }
    Ok(folded)
}

fn hours_since(conn: &Connection, id: &str, since: i64) -> Result<Vec<HourCount>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT hour, count FROM hours WHERE issue_id = ?1 AND hour >= ?2 ORDER BY hour",
    )?;
    let rows = stmt.query_map(params![id, since], |row| {
        Ok(HourCount {
            hour: row.get(0)?,
            count: row.get::<_, i64>(1)?.max(0) as u64,
        })
    })?;
    rows.collect()
}

fn facets_of(conn: &Connection, id: &str) -> Result<Vec<Facet>, rusqlite::Error> {
    let mut stmt =
        conn.prepare_cached("SELECT name, value, count FROM facets WHERE issue_id = ?1")?;
    let rows = stmt.query_map(params![id], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?.max(0) as u64,
        ))
    })?;
    let kept = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(fold::summarise_facets(
        kept.iter().map(|(n, v, c)| (n.as_str(), v.as_str(), *c)),
    ))
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
        resolved_in: row.get(10)?,
        ignored_until: row.get(11)?,
        ignored_until_count: row.get::<_, Option<i64>>(12)?.map(|c| c.max(0) as u64),
        merged_into: row.get(13)?,
    })
}

const ISSUE_COLUMNS: &str = "id, fingerprint, log_group, title, kind, status, count, first_seen,
     last_seen, regressed_at, resolved_in, ignored_until, ignored_until_count, merged_into";

#[async_trait]
impl Store for SqliteStore {
    async fn init(&self) -> Result<(), StoreError> {
        // The schema is created on open; nothing more to do.
        Ok(())
    }

    fn held(&self) -> Option<&dyn super::pending::HeldTails> {
        Some(self)
    }

    async fn record(
        &self,
        batch: &BatchSummary,
        now: i64,
        policy: &Policy,
    ) -> Result<Recorded, StoreError> {
        let mut recorded = self.record_sync(std::slice::from_ref(batch), now, policy)?;
        recorded
            .pop()
            .ok_or_else(|| StoreError::Backend("no result for the batch".into()))
    }

    async fn record_all(
        &self,
        batches: &[BatchSummary],
        now: i64,
        policy: &Policy,
    ) -> Result<Vec<Recorded>, StoreError> {
        self.record_sync(batches, now, policy)
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

    async fn list(&self, query: &IssueQuery) -> Result<IssuePage, StoreError> {
        self.with_conn(|conn| listing::list(conn, query).map_err(|e| self.err(e)))
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
                .prepare_cached(if self.version < 2 {
                    "SELECT sample FROM samples WHERE issue_id = ?1 ORDER BY seq DESC"
                } else {
                    "SELECT sample FROM samples WHERE issue_id = ?1 ORDER BY timestamp DESC, slot"
                })
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
            let hours = hours_since(conn, id, i64::MIN).map_err(|e| self.err(e))?;
            let facets = facets_of(conn, id).map_err(|e| self.err(e))?;
            let merged_from = conn
                .prepare_cached("SELECT id FROM issues WHERE merged_into = ?1 ORDER BY id")
                .and_then(|mut stmt| {
                    stmt.query_map(params![id], |row| row.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(|e| self.err(e))?;
            Ok(Some(IssueDetail {
                issue,
                samples,
                hours,
                facets,
                merged_from,
            }))
        })
    }

    async fn issues_by_id(&self, ids: &[String]) -> Result<Vec<Issue>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE id = ?1"))
                .map_err(|e| self.err(e))?;
            let mut issues = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(issue) = stmt
                    .query_row(params![id], issue_from_row)
                    .optional()
                    .map_err(|e| self.err(e))?
                {
                    issues.push(issue);
                }
            }
            Ok(issues)
        })
    }

    async fn hours(&self, id: &str, since: i64) -> Result<Vec<HourCount>, StoreError> {
        self.with_conn(|conn| hours_since(conn, id, since).map_err(|e| self.err(e)))
    }

    async fn set_status(&self, id: &str, change: &StatusChange) -> Result<Issue, StoreError> {
        let (resolved_in, until, for_count) = match change {
            StatusChange::Open => (None, None, None),
            StatusChange::Resolved { in_version } => (in_version.clone(), None, None),
            StatusChange::Ignored { until, for_count } => (None, *until, *for_count),
        };
        self.with_conn(|conn| {
            if let Some(Entry::Merged { into }) = entry_at(conn, id).map_err(|e| self.err(e))? {
                return Err(merged_refusal(id, &into));
            }
            // Resolving clears the threshold mark: a fixed issue that comes
            // back and crosses the threshold again deserves a new alert.
            let changed = conn
                .execute(
                    "UPDATE issues SET status = ?2, resolved_in = ?3, ignored_until = ?4,
                         ignored_until_count = CASE WHEN ?5 IS NULL THEN NULL ELSE count + ?5 END,
                         threshold_alerted_at = CASE WHEN ?2 = 'resolved' THEN NULL ELSE threshold_alerted_at END
                     WHERE id = ?1 AND status != 'merged'",
                    params![
                        id,
                        change.status().as_str(),
                        resolved_in,
                        until,
                        for_count.map(|c| c as i64)
                    ],
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

    async fn merge(&self, into: &str, from: &str) -> Result<Issue, StoreError> {
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            let into_entry = entry_at(&tx, into).map_err(|e| self.err(e))?;
            let from_entry = entry_at(&tx, from).map_err(|e| self.err(e))?;
            route::check_merge(into, into_entry.as_ref(), from, from_entry.as_ref())?;
            self.merge_in(&tx, into, from).map_err(|e| self.err(e))?;
            let merged = tx
                .query_row(
                    &format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE id = ?1"),
                    params![into],
                    issue_from_row,
                )
                .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
            Ok(merged)
        })
    }

    async fn unmerge(&self, id: &str) -> Result<Issue, StoreError> {
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            let changed = tx
                .execute(
                    "UPDATE issues SET status = 'open', merged_into = NULL
                     WHERE id = ?1 AND status = 'merged'",
                    params![id],
                )
                .map_err(|e| self.err(e))?;
            if changed > 0 {
                tx.execute(
                    "INSERT OR IGNORE INTO kept_apart (id) VALUES (?1)",
                    params![id],
                )
                .map_err(|e| self.err(e))?;
            }
            let issue = tx
                .query_row(
                    &format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE id = ?1"),
                    params![id],
                    issue_from_row,
                )
                .optional()
                .map_err(|e| self.err(e))?
                .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
            if changed == 0 {
                return Err(not_merged_refusal(id));
            }
            tx.commit().map_err(|e| self.err(e))?;
            Ok(issue)
        })
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.with_conn(|conn| stats::stats(conn).map_err(|e| self.err(e)))
    }

    /// Opening a file for writing already migrated it, in one transaction
    /// (see `schema::prepare`): this says what that did.
    async fn migrate(&self, _swap_indexes: bool) -> Result<Migrated, StoreError> {
        Ok(Migrated {
            from: self.opened_from.clamp(0, i64::from(u32::MAX)) as u32,
            to: schema::VERSION as u32,
            converted: None,
            notes: Vec::new(),
        })
    }

    async fn claim_alerts(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        // SQLite takes no LIMIT on UPDATE ... RETURNING without a compile
        // option: the oldest `limit` are chosen by a subquery.
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            let mut claimed = Vec::new();
            {
                let mut stmt = tx
                    .prepare_cached(
                        "UPDATE outbox SET lease_until = ?2, attempts = attempts + 1
                         WHERE alert_id IN (
                             SELECT alert_id FROM outbox
                             WHERE sent_at IS NULL AND lease_until <= ?1
                             ORDER BY created_at, alert_id LIMIT ?3)
                         RETURNING payload",
                    )
                    .map_err(|e| self.err(e))?;
                let rows = stmt
                    .query_map(params![now, now + lease_ms, limit], |row| {
                        row.get::<_, String>(0)
                    })
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

    async fn leased_alerts(&self, now: i64) -> Result<Vec<LeasedAlert>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT alert_id, payload, lease_until, attempts FROM outbox
                     WHERE sent_at IS NULL AND lease_until > ?1
                     ORDER BY lease_until, alert_id",
                )
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map(params![now], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                })
                .map_err(|e| self.err(e))?;
            let mut leased = Vec::new();
            for row in rows {
                let (id, payload, lease_until, attempts) = row.map_err(|e| self.err(e))?;
                leased.push(super::leased(id, &payload, lease_until, attempts)?);
            }
            Ok(leased)
        })
    }

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<Run>, StoreError> {
        self.with_conn(|conn| runs::list(conn, filter).map_err(|e| self.err(e)))
    }

    async fn run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        self.with_conn(|conn| runs::by_id(conn, id).map_err(|e| self.err(e)))
    }

    async fn run_names(&self) -> Result<Vec<RunName>, StoreError> {
        self.with_conn(|conn| runs::names(conn).map_err(|e| self.err(e)))
    }

    async fn has_run(&self, id: &str) -> Result<bool, StoreError> {
        self.with_conn(|conn| runs::exists(conn, id).map_err(|e| self.err(e)))
    }

    async fn forget_run(&self, id: &str) -> Result<Option<Forgotten>, StoreError> {
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            let forgotten = runs::forget(&tx, id).map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
            Ok(forgotten)
        })
    }

    async fn issue_runs(&self, issue_id: &str, limit: usize) -> Result<Vec<Run>, StoreError> {
        self.with_conn(|conn| runs::of_issue(conn, issue_id, limit).map_err(|e| self.err(e)))
    }

    async fn settle_runs(
        &self,
        now: i64,
        settle_ms: i64,
        policy: &Policy,
    ) -> Result<crate::store::Settled, StoreError> {
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            let settled = runs::settle(&tx, now, settle_ms, policy, &|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
            Ok(settled)
        })
    }

    /// A sent alert is deleted, as on DynamoDB: nothing reads it again (a
    /// replayed batch is refused by its batch id before it could queue the
    /// alert twice), and kept, sent alerts were most of a busy store's bytes.
    async fn alert_sent(&self, alert: &Alert, _now: i64) -> Result<(), StoreError> {
        self.with_conn(|conn| {
            conn.execute("DELETE FROM outbox WHERE alert_id = ?1", params![alert.id])
                .map_err(|e| self.err(e))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file an older faultline wrote: one issue, its samples queued in
    /// the order they came (not by time).
    fn layout_1_file(dir: &Path) -> String {
        let path = dir.join("old.db").display().to_string();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::LAYOUT_1).unwrap();
        conn.execute(
            "INSERT INTO issues (id, fingerprint, log_group, title, kind, count, first_seen, last_seen, created_at)
             VALUES ('i1', 'fp', '/g', 'KeyError', 'KeyError', 3, 5, 9, 9)",
            [],
        )
        .unwrap();
        for t in [5, 9, 7] {
            let sample = Sample {
                log_group: "/g".into(),
                log_stream: "s".into(),
                event_id: t.to_string(),
                timestamp: t,
                kind: "KeyError".into(),
                message: "m".into(),
                shape: "text".into(),
                fields: Vec::new(),
            };
            conn.execute(
                "INSERT INTO samples (issue_id, sample) VALUES ('i1', ?1)",
                [serde_json::to_string(&sample).unwrap()],
            )
            .unwrap();
        }
        path
    }

    async fn sample_times(store: &SqliteStore) -> Vec<i64> {
        let detail = store.issue("i1").await.unwrap().unwrap();
        detail.samples.iter().map(|s| s.timestamp).collect()
    }

    #[tokio::test]
    async fn a_layout_1_file_is_read_as_it_is_and_migrated_when_opened_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = layout_1_file(dir.path());
        let reader = SqliteStore::open_read_only(&path).unwrap();
        assert_eq!(
            sample_times(&reader).await,
            [7, 9, 5],
            "newest queued first"
        );
        drop(reader);
        let version = |path: &str| {
            let conn = Connection::open(path).unwrap();
            schema::version_of(&conn).unwrap()
        };
        assert_eq!(version(&path), 1, "reading changed nothing");
        let writer = SqliteStore::open(&path).unwrap();
        assert_eq!(
            sample_times(&writer).await,
            [9, 7, 5],
            "newest first, by time"
        );
        drop(writer);
        assert_eq!(version(&path), schema::VERSION);
    }

    #[tokio::test]
    async fn sent_alerts_leave_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.db").display().to_string();
        let store = SqliteStore::open(&path).unwrap();
        let json = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s","logEvents":[{"id":"1","timestamp":1700000000000,"message":"[ERROR] KeyError: 'x'"}]}"#;
        let batch = crate::pipeline::summarise(&crate::decode::parse(json.as_bytes()).unwrap());
        let policy = Policy::default();
        store.record(&batch, 1, &policy).await.unwrap();
        let rows = |store: &SqliteStore| {
            store
                .with_conn(|conn| {
                    conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))
                        .map_err(|e| store.err(e))
                })
                .unwrap()
        };
        let alerts = store.claim_alerts(2, 60_000, usize::MAX).await.unwrap();
        assert_eq!((alerts.len(), rows(&store)), (1, 1));
        store.alert_sent(&alerts[0], 3).await.unwrap();
        assert_eq!(rows(&store), 0);

        // What an older faultline left: a row marked sent, pruned on the
        // next write.
        store
            .with_conn(|conn| {
                conn.execute(
                    "INSERT INTO outbox (alert_id, payload, created_at, sent_at) VALUES ('old', '{}', 0, 1)",
                    [],
                )
                .map_err(|e| store.err(e))
            })
            .unwrap();
        let mut later = batch.clone();
        later.batch_id = "later".into();
        store.record(&later, 4, &policy).await.unwrap();
        assert_eq!(rows(&store), 0);
    }

    /// A job keeps the records later settlements need (here, without
    /// auto-resolution, the last run's issues), not every issue it had.
    #[tokio::test]
    async fn a_job_keeps_its_last_runs_issues_not_all_it_ever_had() {
        use crate::model::{Outcome, RunDelta, RunIssueDelta, RunSource};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("f.db").display().to_string()).unwrap();
        let policy = Policy::default();
        let t = 1_700_000_000_000i64;
        for run in 0..10i64 {
            let start = t + run * 600_000;
            let lines: String = (0..5)
                .map(|k| {
                    format!(
                        r#"{{"id":"{run}-{k}","timestamp":{start},"message":"[ERROR] Kind{run}x{k}Error: boom"}}"#
                    )
                })
                .collect::<Vec<_>>()
                .join(",");
            let json = format!(
                r#"{{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s","logEvents":[{lines}]}}"#
            );
            let mut batch =
                crate::pipeline::summarise(&crate::decode::parse(json.as_bytes()).unwrap());
            let mut delta = RunDelta::new(
                format!("field:/g:r{run}"),
                RunSource::Field,
                "nightly".into(),
                format!("r{run}"),
            );
            delta.log_group = "/g".into();
            delta.errors = 5;
            delta.started = Some(start);
            delta.ended = Some((start + 60_000, Outcome::Failed));
            delta.last_event = Some(start + 60_000);
            delta.issues = batch
                .issues
                .iter()
                .map(|d| RunIssueDelta {
                    fingerprint: d.fingerprint.clone(),
                    count: d.count,
                    recovered: 0,
                })
                .collect();
            batch.runs = vec![delta];
            store.record(&batch, start, &policy).await.unwrap();
            store
                .settle_runs(start + 300_000, 0, &policy)
                .await
                .unwrap();
        }
        let kept: i64 = store
            .with_conn(|conn| {
                conn.query_row("SELECT count(*) FROM job_issues", [], |r| r.get(0))
                    .map_err(|e| store.err(e))
            })
            .unwrap();
        assert_eq!(kept, 5, "the last run's five, not fifty");
    }
}
