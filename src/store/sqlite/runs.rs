//! Runs in the SQLite store: recorded in the transaction of the batch that
//! brings them, settled in one transaction, read for `faultline runs`.
//!
//! The decisions are the shared ones ([`crate::store::run_fold`],
//! [`crate::runs::lifecycle`]); this file only reads and writes. A Batch
//! job's attempts are first known by their ECS task (`task:ID`, from the
//! log stream name) and are folded into the job when a job event names
//! them: `run_parts` maps such a part to its run, and `part_issues` keeps a
//! part's counts until the job event says whether a later attempt
//! recovered it.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, Transaction, params};

use crate::model::{
    BatchSummary, Outcome, Recorded, Run, RunDelta, RunIssue, RunSource, Sample, Status,
};
use crate::policy::Policy;
use crate::runs::lifecycle::{self, IssueNow, JobIssue};
use crate::store::RunFilter;
use crate::store::run_fold::{self, IssueAdd, IssueInfo, StoredRun};

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
    let rows = stmt.query_map(params![key], |row| {
        Ok(RunIssue {
            id: row.get(0)?,
            count: count(row.get(1)?),
            recovered: count(row.get(2)?),
            new: row.get(3)?,
            regressed: row.get(4)?,
        })
    })?;
    rows.collect()
}

/// Folds `delta` into its run and adds `issues` to the run's issues.
fn apply(
    tx: &Transaction<'_>,
    delta: &RunDelta,
    issues: &[IssueAdd],
    recorded: Option<&Recorded>,
    now: i64,
) -> rusqlite::Result<StoredRun> {
    let prior = load(tx, &delta.key)?;
    let (stored, change) = run_fold::fold_run(prior.as_ref(), delta, now);
    save(tx, &stored)?;
    if change.succeeded_now {
        tx.prepare_cached("UPDATE run_issues SET recovered = count WHERE run_key = ?1")?
            .execute(params![delta.key])?;
    }
    let succeeded = stored.run.outcome == Outcome::Succeeded;
    for added in issues {
        let is = |ids: Option<&Vec<String>>| ids.is_some_and(|ids| ids.contains(&added.issue_id));
        tx.prepare_cached(
            "INSERT INTO run_issues (run_key, issue_id, count, recovered, new, regressed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (run_key, issue_id) DO UPDATE SET count = count + excluded.count,
                 recovered = recovered + excluded.recovered, new = MAX(new, excluded.new),
                 regressed = MAX(regressed, excluded.regressed)",
        )?
        .execute(params![
            delta.key,
            added.issue_id,
            added.count as i64,
            run_fold::recovered_of(added, succeeded) as i64,
            is(recorded.map(|r| &r.new_issues)),
            is(recorded.map(|r| &r.regressions)),
        ])?;
    }
    Ok(stored)
}

/// Records what `batch` says about runs, in the batch's transaction, after
/// its issues (`recorded` says which it created or reopened).
pub(super) fn record(
    tx: &Transaction<'_>,
    batch: &BatchSummary,
    recorded: &Recorded,
    now: i64,
) -> rusqlite::Result<()> {
    for delta in &batch.runs {
        let mut issues = run_fold::issue_adds(delta);
        let part: Option<(String, Option<bool>)> = tx
            .prepare_cached("SELECT run_key, recovered FROM run_parts WHERE part_key = ?1")?
            .query_row(params![delta.key], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        match part {
            Some((run_key, recovered)) => {
                let to_run = run_fold::part_to_run(delta, &run_key, recovered, &mut issues);
                apply(tx, &to_run, &issues, Some(recorded), now)?;
                if recovered.is_none() {
                    add_part_issues(tx, &delta.key, &issues)?;
                }
            }
            None => {
                apply(tx, delta, &issues, Some(recorded), now)?;
            }
        }
        for part in &delta.parts {
            link(tx, &delta.key, &part.key, part.recovered, now)?;
        }
    }
    Ok(())
}

fn add_part_issues(
    tx: &Transaction<'_>,
    part_key: &str,
    issues: &[IssueAdd],
) -> rusqlite::Result<()> {
    for added in issues {
        tx.prepare_cached(
            "INSERT INTO part_issues (part_key, issue_id, count) VALUES (?1, ?2, ?3)
             ON CONFLICT (part_key, issue_id) DO UPDATE SET count = count + excluded.count",
        )?
        .execute(params![
            part_key,
            added.issue_id,
            run_fold::pending_of(added) as i64
        ])?;
    }
    Ok(())
}

/// Makes `part_key` a part of `run_key`: a run recorded under the part's
/// own key is folded in, and once the part's outcome is known its pending
/// counts are recovered (a later attempt succeeded) or dropped.
fn link(
    tx: &Transaction<'_>,
    run_key: &str,
    part_key: &str,
    recovered: Option<bool>,
    now: i64,
) -> rusqlite::Result<()> {
    if part_key == run_key {
        return Ok(());
    }
    let before: Option<Option<bool>> = tx
        .prepare_cached("SELECT recovered FROM run_parts WHERE part_key = ?1")?
        .query_row(params![part_key], |row| row.get(0))
        .optional()?;
    let known = recovered.or(before.flatten());
    tx.prepare_cached(
        "INSERT INTO run_parts (part_key, run_key, recovered) VALUES (?1, ?2, ?3)
         ON CONFLICT (part_key) DO UPDATE SET run_key = ?2, recovered = ?3",
    )?
    .execute(params![part_key, run_key, known])?;
    if let Some(part) = load(tx, part_key)? {
        // Its logs came before the job event: fold that run into the job.
        let (to_run, issues) =
            run_fold::merge_part(&part.run, &issues_of(tx, part_key)?, run_key, known);
        apply(tx, &to_run, &issues, None, now)?;
        // What the part was new or regressed in, it was in the run.
        tx.prepare_cached(
            "UPDATE run_issues SET new = MAX(new, (SELECT p.new FROM run_issues p WHERE p.run_key = ?2 AND p.issue_id = run_issues.issue_id)),
                 regressed = MAX(regressed, (SELECT p.regressed FROM run_issues p WHERE p.run_key = ?2 AND p.issue_id = run_issues.issue_id))
             WHERE run_key = ?1 AND issue_id IN (SELECT issue_id FROM run_issues WHERE run_key = ?2)",
        )?
        .execute(params![run_key, part_key])?;
        if known.is_none() {
            add_part_issues(tx, part_key, &issues)?;
        }
        tx.prepare_cached("DELETE FROM run_issues WHERE run_key = ?1")?
            .execute(params![part_key])?;
        tx.prepare_cached("UPDATE runs SET merged_into = ?2 WHERE key = ?1")?
            .execute(params![part_key, run_key])?;
        return Ok(());
    }
    if before.flatten().is_none() {
        if let Some(outcome) = known {
            settle_part(tx, run_key, part_key, outcome)?;
        }
    }
    Ok(())
}

/// A part's outcome became known: its pending counts become recovered when
/// a later attempt succeeded, and are dropped (they stay failures) if not.
fn settle_part(
    tx: &Transaction<'_>,
    run_key: &str,
    part_key: &str,
    recovered: bool,
) -> rusqlite::Result<()> {
    if recovered {
        let pending: Vec<(String, i64)> = {
            let mut stmt =
                tx.prepare_cached("SELECT issue_id, count FROM part_issues WHERE part_key = ?1")?;
            let rows = stmt.query_map(params![part_key], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut total = 0;
        for (issue, n) in &pending {
            tx.prepare_cached(
                "UPDATE run_issues SET recovered = MIN(count, recovered + ?3) WHERE run_key = ?1 AND issue_id = ?2",
            )?
            .execute(params![run_key, issue, n])?;
            total += n;
        }
        tx.prepare_cached(
            "UPDATE runs SET recovered = MIN(errors, recovered + ?2) WHERE key = ?1",
        )?
        .execute(params![run_key, total])?;
    }
    tx.prepare_cached("DELETE FROM part_issues WHERE part_key = ?1")?
        .execute(params![part_key])?;
    Ok(())
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

fn info(tx: &Transaction<'_>, issue: &str) -> rusqlite::Result<Option<IssueInfo>> {
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
/// queues the alerts that raises. Returns the settled runs' ids.
pub(super) fn settle(
    tx: &Transaction<'_>,
    now: i64,
    settle_ms: i64,
    policy: &Policy,
) -> rusqlite::Result<Vec<String>> {
    let rules = policy.run_rules();
    let due: Vec<String> = {
        let mut stmt = tx.prepare_cached(
            "SELECT key FROM runs WHERE merged_into IS NULL AND settled_at IS NULL AND (
                     (ended IS NOT NULL AND ended_at <= ?1) OR
                     (ended IS NULL AND last_event > 0 AND last_event <= ?2))
                 ORDER BY COALESCE(ended, last_event), key",
        )?;
        let rows = stmt.query_map(
            params![
                now.saturating_sub(settle_ms),
                now.saturating_sub(rules.quiet_ms)
            ],
            |row| row.get(0),
        )?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut settled = Vec::with_capacity(due.len());
    for key in due {
        let Some(mut stored) = load(tx, &key)? else {
            continue;
        };
        if stored.run.ended.is_none() {
            stored.run.ended = Some(stored.run.last_event);
            stored.run.outcome = Outcome::Unknown;
            stored.ended_at = Some(now);
        }
        stored.run.issues = issues_of(tx, &key)?;
        let job = stored.run.job.clone();
        let seq: i64 = tx
            .prepare_cached(
                "INSERT INTO jobs (job, settled) VALUES (?1, 1)
                 ON CONFLICT (job) DO UPDATE SET settled = settled + 1 RETURNING settled",
            )
            .and_then(|mut s| s.query_row(params![job], |row| row.get(0)))?;
        let known: Vec<JobIssue> = {
            let mut stmt = tx.prepare_cached(
                "SELECT issue_id, last_run, streak FROM job_issues WHERE job = ?1",
            )?;
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
        let settlement = lifecycle::settle(&stored.run, count(seq), &known, &now_state, &rules);
        for j in &settlement.job_issues {
            tx.prepare_cached(
                "INSERT INTO job_issues (job, issue_id, last_run, streak) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (job, issue_id) DO UPDATE SET last_run = ?3, streak = ?4",
            )
            .and_then(|mut s| s.execute(params![job, j.issue_id, j.last_run as i64, j.streak]))?;
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
        for id in &settlement.announce {
            if let Some(info) = info(tx, id)? {
                alerts.push(run_fold::announce_alert(
                    &stored.run,
                    id,
                    &info,
                    &stored.run.log_group,
                    now,
                ));
            }
            set_held(tx, id, false, now)?;
        }
        if settlement.digest {
            let mut infos = HashMap::new();
            for issue in &stored.run.issues {
                if let Some(info) = info(tx, &issue.id)? {
                    infos.insert(issue.id.clone(), info);
                }
            }
            alerts.push(run_fold::digest_alert(&stored.run, &infos, now));
        }
        for alert in alerts {
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
        settled.push(stored.run.id.clone());
    }
    Ok(settled)
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
        stored_from_row,
    )?;
    let mut runs = Vec::new();
    for row in rows {
        let mut run = row?.run;
        run.issues = issues_of(conn, &run.key)?;
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
    run.issues = issues_of(conn, &run.key)?;
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
    let rows = stmt.query_map(params![issue, limit as i64], stored_from_row)?;
    let mut runs = Vec::new();
    for row in rows {
        let mut run = row?.run;
        run.issues = issues_of(conn, &run.key)?;
        runs.push(run);
    }
    Ok(runs)
}
