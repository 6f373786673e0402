//! Runs in the SQLite store: recorded in the transaction of the batch that
//! brings them, settled in one transaction, read for `faultline runs`.
//!
//! The decisions and the bookkeeping are the shared ones
//! ([`crate::store::run_fold`], [`crate::store::run_book`],
//! [`crate::runs::lifecycle`]); this file only reads and writes. A Batch
//! job's attempts are first known by their ECS task (`task:ID`, from the
//! log stream name) and are folded into the job when a job event names
//! them: `run_parts` maps such a part to its run, and `part_issues` keeps a
//! part's counts until the job event says whether a later attempt
//! recovered it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, Transaction, params};

use crate::limits::RUN_RETENTION_MS;
use crate::model::{BatchSummary, Outcome, Recorded, Run, RunIssue, RunSource, Sample, Status};
use crate::policy::Policy;
use crate::runs::lifecycle::{self, IssueNow, JobIssue};
use crate::store::run_book::{self, Book, BookPart, BookRun, PartSlot, RunSlot};
use crate::store::run_fold::{self, IssueInfo, StoredRun};
use crate::store::{self, Forgotten, RunFilter, RunName, Settled, StoreError, outbox};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    key          TEXT PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    source       TEXT NOT NULL,
    job          TEXT NOT NULL,
    name         TEXT NOT NULL,
    log_group    TEXT NOT NULL,
    started      INTEGER,
    ended        INTEGER,
    outcome      TEXT NOT NULL,
    ended_at     INTEGER,
    last_event   INTEGER NOT NULL,
    errors       INTEGER NOT NULL,
    recovered    INTEGER NOT NULL,
    items        INTEGER,
    failed_items INTEGER,
    seq          INTEGER,
    settled_at   INTEGER,
    merged_into  TEXT
);
CREATE INDEX IF NOT EXISTS runs_unsettled ON runs (settled_at, ended_at);
CREATE INDEX IF NOT EXISTS runs_job ON runs (job, seq);
-- Listings read the newest runs first and stop at their limit.
CREATE INDEX IF NOT EXISTS runs_when ON runs (COALESCE(started, ended, last_event) DESC, key);
CREATE INDEX IF NOT EXISTS runs_merged ON runs (merged_into) WHERE merged_into IS NOT NULL;
CREATE TABLE IF NOT EXISTS run_issues (
    run_key   TEXT NOT NULL,
    issue_id  TEXT NOT NULL,
    count     INTEGER NOT NULL,
    recovered INTEGER NOT NULL,
    new       INTEGER NOT NULL,
    regressed INTEGER NOT NULL,
    PRIMARY KEY (run_key, issue_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_issues_issue ON run_issues (issue_id);
CREATE TABLE IF NOT EXISTS run_parts (
    part_key  TEXT PRIMARY KEY,
    run_key   TEXT NOT NULL,
    recovered INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS part_issues (
    part_key TEXT NOT NULL,
    issue_id TEXT NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (part_key, issue_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_parts_run ON run_parts (run_key);
CREATE TABLE IF NOT EXISTS jobs (
    job     TEXT PRIMARY KEY,
    settled INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_issues (
    job      TEXT NOT NULL,
    issue_id TEXT NOT NULL,
    last_run INTEGER NOT NULL,
    streak   INTEGER NOT NULL,
    PRIMARY KEY (job, issue_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS held_alerts (
    issue_id TEXT PRIMARY KEY,
    held_at  INTEGER NOT NULL
) WITHOUT ROWID;
";

const RUN_COLUMNS: &str =
    "key, id, source, job, name, log_group, started, ended, outcome, ended_at,
     last_event, errors, recovered, items, failed_items, seq, settled_at";

fn count(n: i64) -> u64 {
    n.max(0) as u64
}

fn stored_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRun> {
    let source: String = row.get(2)?;
    let outcome: String = row.get(8)?;
    Ok(StoredRun {
        run: Run {
            key: row.get(0)?,
            id: row.get(1)?,
            source: RunSource::parse(&source).unwrap_or(RunSource::Field),
            job: row.get(3)?,
            name: row.get(4)?,
            log_group: row.get(5)?,
            started: row.get(6)?,
            ended: row.get(7)?,
            outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Unknown),
            last_event: row.get(10)?,
            errors: count(row.get(11)?),
            recovered: count(row.get(12)?),
            items: row.get::<_, Option<i64>>(13)?.map(count),
            failed_items: row.get::<_, Option<i64>>(14)?.map(count),
            issues: Vec::new(),
            settled_at: row.get(16)?,
        },
        ended_at: row.get(9)?,
        seq: row.get::<_, Option<i64>>(15)?.map(count),
    })
}

/// The run recorded under `key`, if it is not folded into another.
fn load(tx: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<StoredRun>> {
    tx.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE key = ?1 AND merged_into IS NULL"
    ))?
    .query_row(params![key], stored_from_row)
    .optional()
}

fn save(tx: &Transaction<'_>, stored: &StoredRun) -> rusqlite::Result<()> {
    let r = &stored.run;
    tx.prepare_cached(
        "INSERT INTO runs (key, id, source, job, name, log_group, started, ended, outcome, ended_at,
                           last_event, errors, recovered, items, failed_items, seq, settled_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (key) DO UPDATE SET source = ?3, job = ?4, name = ?5, log_group = ?6,
             started = ?7, ended = ?8, outcome = ?9, ended_at = ?10, last_event = ?11,
             errors = ?12, recovered = ?13, items = ?14, failed_items = ?15, seq = ?16,
             settled_at = ?17",
    )?
    .execute(params![
        r.key,
        r.id,
        r.source.as_str(),
        r.job,
        r.name,
        r.log_group,
        r.started,
        r.ended,
        r.outcome.as_str(),
        stored.ended_at,
        r.last_event,
        r.errors as i64,
        r.recovered as i64,
        r.items.map(|n| n as i64),
        r.failed_items.map(|n| n as i64),
        stored.seq.map(|n| n as i64),
        r.settled_at,
    ])?;
    Ok(())
}

fn issues_of(tx: &rusqlite::Connection, key: &str) -> rusqlite::Result<Vec<RunIssue>> {
    let mut stmt = tx.prepare_cached(
        "SELECT issue_id, count, recovered, new, regressed FROM run_issues
         WHERE run_key = ?1 ORDER BY count DESC, issue_id",
    )?;
    let rows = stmt.query_map(params![key], issue_from_row)?;
    rows.collect()
}

/// A run's issue from a row of `issue_id, count, recovered, new, regressed`.
fn issue_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunIssue> {
    Ok(RunIssue {
        id: row.get(0)?,
        count: count(row.get(1)?),
        recovered: count(row.get(2)?),
        new: row.get(3)?,
        regressed: row.get(4)?,
    })
}

/// The issues `ids` of run `key`, those it has.
fn issues_among(
    tx: &rusqlite::Connection,
    key: &str,
    ids: &BTreeSet<String>,
) -> rusqlite::Result<Vec<RunIssue>> {
    let mut stmt = tx.prepare_cached(
        "SELECT issue_id, count, recovered, new, regressed FROM run_issues
         WHERE run_key = ?1 AND issue_id = ?2",
    )?;
    let mut found = Vec::new();
    for id in ids {
        found.extend(
            stmt.query_row(params![key, id], issue_from_row)
                .optional()?,
        );
    }
    Ok(found)
}

/// Reads the runs (by key, merged or not) and parts into `book`, with
/// every issue of each run that is there, or only those of `only` (enough
/// to say which of them a run had, not to record into it).
fn read_into(
    tx: &Transaction<'_>,
    book: &mut Book,
    runs: &[String],
    parts: &[String],
    only: Option<&BTreeSet<String>>,
) -> rusqlite::Result<()> {
    for key in runs {
        if book.runs.contains_key(key) {
            continue;
        }
        let row = tx
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS}, merged_into FROM runs WHERE key = ?1"
            ))?
            .query_row(params![key], |row| {
                Ok(BookRun {
                    stored: stored_from_row(row)?,
                    merged_into: row.get(17)?,
                })
            })
            .optional()?;
        let links = match (&row, only) {
            (Some(run), None) if run.live() => issues_of(tx, key)?,
            (Some(run), Some(ids)) if run.live() => issues_among(tx, key, ids)?,
            _ => Vec::new(),
        };
        let links = links.into_iter().map(|i| (i.id.clone(), i)).collect();
        book.runs
            .insert(key.clone(), RunSlot::read(None, row, links));
    }
    for key in parts {
        if book.parts.contains_key(key) {
            continue;
        }
        let row: Option<(String, Option<bool>)> = tx
            .prepare_cached("SELECT run_key, recovered FROM run_parts WHERE part_key = ?1")?
            .query_row(params![key], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let part = match row {
            Some((run_key, recovered)) => {
                let mut stmt = tx.prepare_cached(
                    "SELECT issue_id, count FROM part_issues WHERE part_key = ?1",
                )?;
                let pending = stmt
                    .query_map(params![key], |row| Ok((row.get(0)?, count(row.get(1)?))))?
                    .collect::<rusqlite::Result<BTreeMap<String, u64>>>()?;
                Some(BookPart {
                    run_key,
                    recovered,
                    pending,
                })
            }
            None => None,
        };
        book.parts.insert(key.clone(), PartSlot::read(None, part));
    }
    Ok(())
}

/// Writes what `book` changed.
fn write_book(tx: &Transaction<'_>, book: &Book) -> rusqlite::Result<()> {
    for (key, slot) in &book.runs {
        if let Some(run) = slot.run.as_ref().filter(|_| slot.dirty) {
            save(tx, &run.stored)?;
            tx.prepare_cached("UPDATE runs SET merged_into = ?2 WHERE key = ?1")?
                .execute(params![key, run.merged_into])?;
        }
        for issue in &slot.dirty_links {
            if let Some(link) = slot.links.get(issue) {
                tx.prepare_cached(
                    "INSERT INTO run_issues (run_key, issue_id, count, recovered, new, regressed)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (run_key, issue_id) DO UPDATE SET count = excluded.count,
                         recovered = excluded.recovered, new = excluded.new,
                         regressed = excluded.regressed",
                )?
                .execute(params![
                    key,
                    issue,
                    link.count as i64,
                    link.recovered as i64,
                    link.new,
                    link.regressed
                ])?;
            }
        }
        for issue in &slot.dropped_links {
            tx.prepare_cached("DELETE FROM run_issues WHERE run_key = ?1 AND issue_id = ?2")?
                .execute(params![key, issue])?;
        }
    }
    for (key, slot) in &book.parts {
        let Some(part) = slot.part.as_ref().filter(|_| slot.dirty) else {
            continue;
        };
        tx.prepare_cached(
            "INSERT INTO run_parts (part_key, run_key, recovered) VALUES (?1, ?2, ?3)
             ON CONFLICT (part_key) DO UPDATE SET run_key = ?2, recovered = ?3",
        )?
        .execute(params![key, part.run_key, part.recovered])?;
        tx.prepare_cached("DELETE FROM part_issues WHERE part_key = ?1")?
            .execute(params![key])?;
        for (issue, pending) in &part.pending {
            tx.prepare_cached(
                "INSERT INTO part_issues (part_key, issue_id, count) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![key, issue, *pending as i64])?;
        }
    }
    Ok(())
}

/// The issues `batch` takes no sample of, as its runs are before it is
/// recorded ([`run_book::unsampled`]).
pub(super) fn unsampled(
    tx: &Transaction<'_>,
    batch: &BatchSummary,
) -> rusqlite::Result<BTreeSet<String>> {
    let ids: BTreeSet<String> = batch
        .runs
        .iter()
        .flat_map(run_fold::issue_adds)
        .map(|add| add.issue_id)
        .collect();
    let mut book = Book::default();
    for delta in &batch.runs {
        let (runs, parts) = run_book::to_read(delta);
        read_into(tx, &mut book, &runs, &parts, Some(&ids))?;
        if let Some(target) = book.redirect(delta) {
            read_into(tx, &mut book, &[target], &[], Some(&ids))?;
        }
    }
    Ok(run_book::unsampled(&book, &batch.runs))
}

/// Records what `batch` says about runs, in the batch's transaction, after
/// its issues (`recorded` says which it created or reopened), through the
/// shared bookkeeping ([`run_book`]). `err` names a SQLite failure.
pub(super) fn record(
    tx: &Transaction<'_>,
    batch: &BatchSummary,
    recorded: &Recorded,
    now: i64,
    err: &dyn Fn(rusqlite::Error) -> StoreError,
) -> Result<(), StoreError> {
    for delta in &batch.runs {
        let mut book = Book::default();
        let (runs, parts) = run_book::to_read(delta);
        read_into(tx, &mut book, &runs, &parts, None).map_err(err)?;
        if let Some(target) = book.redirect(delta) {
            read_into(tx, &mut book, &[target], &[], None).map_err(err)?;
        }
        book.record(delta, recorded, now)?;
        write_book(tx, &book).map_err(err)?;
    }
    Ok(())
}

/// The most expired runs one write removes: a store opened after a long
/// pause catches up over a few writes instead of making one of them slow.
const PRUNED_PER_WRITE: i64 = 100;

/// Removes the runs settled more than [`RUN_RETENTION_MS`] before `now`,
/// with their issues, their parts and the runs folded into them. Their
/// job's record stays: it holds the streaks the run-counted policies
/// decide on. Returns how many runs went.
pub(super) fn prune(tx: &Transaction<'_>, now: i64) -> rusqlite::Result<usize> {
    let expired: Vec<String> = tx
        .prepare_cached(
            "SELECT key FROM runs WHERE settled_at < ?1 AND merged_into IS NULL LIMIT ?2",
        )?
        .query_map(
            params![now.saturating_sub(RUN_RETENTION_MS), PRUNED_PER_WRITE],
            |row| row.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    for key in &expired {
        remove(tx, key)?;
    }
    Ok(expired.len())
}

/// Deletes the run recorded under `key`: its issues, its parts and the
/// runs folded into it; returns how many issues it had.
fn remove(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<usize> {
    for sql in [
        "DELETE FROM part_issues WHERE part_key IN (SELECT part_key FROM run_parts WHERE run_key = ?1)",
        "DELETE FROM run_parts WHERE run_key = ?1",
        "DELETE FROM run_issues WHERE run_key IN (SELECT key FROM runs WHERE merged_into = ?1)",
        "DELETE FROM runs WHERE merged_into = ?1",
    ] {
        tx.prepare_cached(sql)?.execute(params![key])?;
    }
    let links = tx
        .prepare_cached("DELETE FROM run_issues WHERE run_key = ?1")?
        .execute(params![key])?;
    tx.prepare_cached("DELETE FROM runs WHERE key = ?1")?
        .execute(params![key])?;
    Ok(links)
}

/// Forgets run `id` ([`crate::store::Store::forget_run`]). Only its key
/// and whether it settled are read, so a row whose other columns are
/// damaged goes too. Its job's rows are left: a run not settled yet never
/// counted in them, and a settled one did.
pub(super) fn forget(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Option<Forgotten>> {
    if !has_runs(tx)? {
        return Ok(None);
    }
    let row: Option<(String, bool)> = tx
        .prepare_cached(
            "SELECT key, settled_at IS NOT NULL FROM runs WHERE id = ?1 AND merged_into IS NULL",
        )?
        .query_row(params![id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((key, settled)) = row else {
        return Ok(None);
    };
    let links = remove(tx, &key)?;
    Ok(Some(Forgotten {
        run: id.to_string(),
        links,
        settled,
    }))
}

/// Every run not folded into another by id, with its key and name where
/// they read as text ([`crate::store::Store::run_names`]); a row whose id
/// does not is left out, as nothing typed can name it.
pub(super) fn names(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<RunName>> {
    if !has_runs(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt =
        conn.prepare_cached("SELECT id, key, name FROM runs WHERE merged_into IS NULL")?;
    let rows = stmt.query_map([], |row| {
        Ok((
            text(row.get_ref(0)?),
            text(row.get_ref(1)?),
            text(row.get_ref(2)?),
        ))
    })?;
    let mut names = Vec::new();
    for row in rows {
        if let (Some(id), key, name) = row? {
            names.push(RunName { id, key, name });
        }
    }
    Ok(names)
}

/// A column's value if it is text.
fn text(value: ValueRef<'_>) -> Option<String> {
    value.as_str().ok().map(str::to_string)
}

/// Whether a run not folded into another is recorded under `id`, its
/// other columns unread.
pub(super) fn exists(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<bool> {
    if !has_runs(conn)? {
        return Ok(false);
    }
    conn.prepare_cached("SELECT 1 FROM runs WHERE id = ?1 AND merged_into IS NULL")?
        .query_row(params![id], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

/// Whether an issue's new-issue alert is held.
pub(super) fn is_held(tx: &Transaction<'_>, issue: &str) -> rusqlite::Result<bool> {
    tx.prepare_cached("SELECT 1 FROM held_alerts WHERE issue_id = ?1")?
        .query_row(params![issue], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

pub(super) fn set_held(
    tx: &Transaction<'_>,
    issue: &str,
    held: bool,
    now: i64,
) -> rusqlite::Result<()> {
    if held {
        tx.prepare_cached("INSERT OR IGNORE INTO held_alerts (issue_id, held_at) VALUES (?1, ?2)")?
            .execute(params![issue, now])?;
    } else {
        tx.prepare_cached("DELETE FROM held_alerts WHERE issue_id = ?1")?
            .execute(params![issue])?;
    }
    Ok(())
}

/// What an alert says of an issue; its newest sample only `with_sample`:
/// a run digest names thousands of issues and shows none of their
/// samples, so reading them was a query and a parse per issue for nothing.
fn info(
    tx: &Transaction<'_>,
    issue: &str,
    with_sample: bool,
) -> rusqlite::Result<Option<IssueInfo>> {
    let row = tx
        .prepare_cached(
            "SELECT fingerprint, kind, title, count, first_seen FROM issues WHERE id = ?1",
        )?
        .query_row(params![issue], |row| {
            Ok(IssueInfo {
                fingerprint: row.get(0)?,
                kind: row.get(1)?,
                title: row.get(2)?,
                count: count(row.get(3)?),
                first_seen: row.get(4)?,
                sample: None,
            })
        })
        .optional()?;
    let Some(mut info) = row else {
        return Ok(None);
    };
    if !with_sample {
        return Ok(Some(info));
    }
    info.sample = tx
        .prepare_cached(
            "SELECT sample FROM samples WHERE issue_id = ?1 ORDER BY timestamp DESC, slot LIMIT 1",
        )?
        .query_row(params![issue], |row| row.get::<_, String>(0))
        .optional()?
        .and_then(|json| serde_json::from_str::<Sample>(&json).ok());
    Ok(Some(info))
}

/// Settles every run that is done (see [`crate::store::Store::settle_runs`]) and
/// queues the alerts that raises. Each run settles under a savepoint of its
/// own: one whose settlement fails (`err` names the SQLite failure) is left
/// as it was and reported, and the others settle, so that one damaged run
/// does not hold back every job's alerts.
pub(super) fn settle(
    tx: &Transaction<'_>,
    now: i64,
    settle_ms: i64,
    policy: &Policy,
    err: &dyn Fn(rusqlite::Error) -> StoreError,
) -> Result<Settled, StoreError> {
    let rules = policy.run_rules();
    let due = || -> rusqlite::Result<Vec<(String, String)>> {
        let mut stmt = tx.prepare_cached(
            "SELECT key, id FROM runs WHERE merged_into IS NULL AND settled_at IS NULL AND (
                     (ended IS NOT NULL AND ended_at <= ?1) OR
                     (ended IS NULL AND last_event > 0 AND last_event <= ?2))
                 ORDER BY COALESCE(ended, last_event), key",
        )?;
        let rows = stmt.query_map(
            params![
                now.saturating_sub(settle_ms),
                now.saturating_sub(rules.quiet_ms)
            ],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        rows.collect()
    };
    let mut settled = Settled::default();
    for (key, id) in due().map_err(err)? {
        tx.execute_batch("SAVEPOINT settle_run").map_err(err)?;
        let result = settle_run(tx, &key, now, &rules).map_err(err);
        // What a failing run wrote before it failed (its job's count) goes
        // with it, so the next settling starts it from where it was.
        let end = match result {
            Ok(_) => "RELEASE settle_run",
            Err(_) => "ROLLBACK TO settle_run; RELEASE settle_run",
        };
        tx.execute_batch(end).map_err(err)?;
        if let Some(Some(id)) = settled.isolate(&id, result)? {
            settled.runs.push(id);
        }
    }
    Ok(settled)
}

/// Settles the run recorded under `key`, if it is still there; its id.
fn settle_run(
    tx: &Transaction<'_>,
    key: &str,
    now: i64,
    rules: &lifecycle::RunRules,
) -> rusqlite::Result<Option<String>> {
    let Some(mut stored) = load(tx, key)? else {
        return Ok(None);
    };
    if stored.run.ended.is_none() {
        stored.run.ended = Some(stored.run.last_event);
        stored.run.outcome = Outcome::Unknown;
        stored.ended_at = Some(now);
    }
    stored.run.issues = run_book::listed(stored.run.outcome, issues_of(tx, key)?);
    let job = stored.run.job.clone();
    let seq: i64 = tx
        .prepare_cached(
            "INSERT INTO jobs (job, settled) VALUES (?1, 1)
             ON CONFLICT (job) DO UPDATE SET settled = settled + 1 RETURNING settled",
        )
        .and_then(|mut s| s.query_row(params![job], |row| row.get(0)))?;
    let known: Vec<JobIssue> = {
        let mut stmt =
            tx.prepare_cached("SELECT issue_id, last_run, streak FROM job_issues WHERE job = ?1")?;
        let rows = stmt.query_map(params![job], |row| {
            Ok(JobIssue {
                issue_id: row.get(0)?,
                last_run: count(row.get(1)?),
                streak: count(row.get(2)?) as u32,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let ids: HashSet<String> = known
        .iter()
        .map(|j| j.issue_id.clone())
        .chain(stored.run.issues.iter().map(|i| i.id.clone()))
        .collect();
    let mut now_state: HashMap<String, IssueNow> = HashMap::new();
    for id in &ids {
        let state = tx
            .prepare_cached("SELECT status, last_seen FROM issues WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row(params![id], |row| {
                    let status: String = row.get(0)?;
                    Ok((
                        Status::parse(&status).unwrap_or_default(),
                        row.get::<_, i64>(1)?,
                    ))
                })
                .optional()
            })?;
        if let Some((status, last_seen)) = state {
            let held = is_held(tx, id)?;
            now_state.insert(
                id.clone(),
                IssueNow {
                    status,
                    last_seen,
                    held,
                },
            );
        }
    }
    let settlement = lifecycle::settle(&stored.run, count(seq), &known, &now_state, rules);
    for j in &settlement.job_issues {
        tx.prepare_cached(
            "INSERT INTO job_issues (job, issue_id, last_run, streak) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (job, issue_id) DO UPDATE SET last_run = ?3, streak = ?4",
        )
        .and_then(|mut s| s.execute(params![job, j.issue_id, j.last_run as i64, j.streak]))?;
    }
    for id in &settlement.forget {
        tx.prepare_cached("DELETE FROM job_issues WHERE job = ?1 AND issue_id = ?2")
            .and_then(|mut s| s.execute(params![job, id]))?;
    }
    for id in &settlement.resolve {
        tx.prepare_cached(
            "UPDATE issues SET status = 'resolved', resolved_in = NULL, ignored_until = NULL,
                 ignored_until_count = NULL, threshold_alerted_at = NULL
             WHERE id = ?1 AND status = 'open'",
        )
        .and_then(|mut s| s.execute(params![id]))?;
    }
    let mut alerts = Vec::new();
    let mut announced = HashMap::new();
    for id in &settlement.announce {
        if let Some(info) = info(tx, id, true)? {
            if settlement.announce_folded {
                announced.insert(id.clone(), info);
            } else {
                alerts.push(run_fold::announce_alert(
                    &stored.run,
                    id,
                    &info,
                    &stored.run.log_group,
                    now,
                ));
            }
        }
        set_held(tx, id, false, now)?;
    }
    if settlement.announce_folded {
        alerts.push(run_fold::announced_alert(
            &stored.run,
            &settlement.announce,
            &announced,
            rules.alert_after,
            now,
        ));
    }
    if settlement.digest {
        let mut infos = HashMap::new();
        for issue in &stored.run.issues {
            if let Some(info) = info(tx, &issue.id, false)? {
                infos.insert(issue.id.clone(), info);
            }
        }
        alerts.push(run_fold::digest_alert(&stored.run, &infos, now));
    }
    for mut alert in alerts {
        outbox::bound_alert(&mut alert);
        // An alert is plain data: serialising it cannot fail.
        let payload = serde_json::to_string(&alert).unwrap_or_default();
        tx.prepare_cached(
            "INSERT OR IGNORE INTO outbox (alert_id, payload, created_at) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![alert.id, payload, now]))?;
    }
    tx.prepare_cached(
        "DELETE FROM part_issues WHERE part_key IN (SELECT part_key FROM run_parts WHERE run_key = ?1)",
    )
    .and_then(|mut s| s.execute(params![key]))
    ?;
    stored.seq = Some(count(seq));
    stored.run.settled_at = Some(now);
    save(tx, &stored)?;
    Ok(Some(stored.run.id))
}

/// Whether the store has run tables: a store file written before runs
/// existed, opened read-only, has none (and so no runs).
fn has_runs(conn: &rusqlite::Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'")?
        .query_row([], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

/// Runs admitted by `filter`, newest first, with their issues.
pub(super) fn list(conn: &rusqlite::Connection, filter: &RunFilter) -> rusqlite::Result<Vec<Run>> {
    if !has_runs(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs
         WHERE merged_into IS NULL AND (?1 IS NULL OR log_group = ?1) AND (?2 IS NULL OR job = ?2)
             AND (?3 = 0 OR settled_at IS NOT NULL)
         ORDER BY COALESCE(started, ended, last_event) DESC, key
         LIMIT ?4"
    ))?;
    let limit = filter.limit.map_or(-1, |n| n as i64);
    let rows = stmt.query_map(
        params![filter.log_group, filter.job, filter.settled, limit],
        id_and_run,
    )?;
    readable_runs(conn, rows)
}

/// A listed row's run id (when it reads) and its run, apart: a row that
/// does not read as a run is still named.
fn id_and_run(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(Option<String>, rusqlite::Result<StoredRun>)> {
    Ok((row.get::<_, String>(1).ok(), stored_from_row(row)))
}

/// The runs of listed `rows` ([`id_and_run`]) with their issues, leaving
/// out, with a warning, each whose row is damaged
/// ([`store::warn_damaged_run`]).
fn readable_runs(
    conn: &rusqlite::Connection,
    rows: impl Iterator<Item = rusqlite::Result<(Option<String>, rusqlite::Result<StoredRun>)>>,
) -> rusqlite::Result<Vec<Run>> {
    let mut runs = Vec::new();
    for row in rows {
        let (id, stored) = row?;
        let mut run = match stored {
            Ok(stored) => stored.run,
            Err(e) if store::is_damaged_row(&e) => {
                store::warn_damaged_run(id.as_deref().unwrap_or("?"), &e);
                continue;
            }
            Err(e) => return Err(e),
        };
        run.issues = run_book::listed(run.outcome, issues_of(conn, &run.key)?);
        runs.push(run);
    }
    Ok(runs)
}

/// One run by exact id.
pub(super) fn by_id(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<Run>> {
    if !has_runs(conn)? {
        return Ok(None);
    }
    let row = conn
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1 AND merged_into IS NULL"
        ))?
        .query_row(params![id], stored_from_row)
        .optional()?;
    let Some(stored) = row else {
        return Ok(None);
    };
    let mut run = stored.run;
    run.issues = run_book::listed(run.outcome, issues_of(conn, &run.key)?);
    Ok(Some(run))
}

/// The runs an issue appeared in, newest first.
pub(super) fn of_issue(
    conn: &rusqlite::Connection,
    issue: &str,
    limit: usize,
) -> rusqlite::Result<Vec<Run>> {
    if !has_runs(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM runs r JOIN run_issues ri ON ri.run_key = r.key
         WHERE ri.issue_id = ?1 AND r.merged_into IS NULL
         ORDER BY COALESCE(r.started, r.ended, r.last_event) DESC, r.key LIMIT ?2",
        RUN_COLUMNS
            .split(',')
            .map(|c| format!("r.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let rows = stmt.query_map(params![issue, limit as i64], id_and_run)?;
    readable_runs(conn, rows)
}
