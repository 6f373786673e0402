//! Where issues live: their counters, status, samples and pending alerts.
//!
//! One trait, two implementations (SQLite locally, DynamoDB on AWS) with the
//! same semantics, held to them by one conformance suite
//! (`tests/store_conformance.rs`).

use async_trait::async_trait;

use crate::model::{
    Alert, BatchSummary, HourCount, Issue, IssueDetail, IssuePage, IssueQuery, LeasedAlert,
    Migrated, Recorded, Run, StatusChange, StatusFilter, StoreStats,
};
use crate::policy::Policy;

pub mod dynamodb;
pub mod fold;
pub mod outbox;
pub mod pending;
pub mod route;
pub mod run_book;
pub mod run_fold;
pub mod sqlite;

/// The default store URL for local use.
pub const DEFAULT_URL: &str = "sqlite:.faultline/faultline.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Url(String),
    #[error("SQLite store {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the store's folder {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no issue with id {0} (run `faultline issues --status all` to list them)")]
    NotFound(String),
    #[error("issue id {0} is ambiguous: {1}")]
    Ambiguous(String, String),
    #[error("no run with id {0} (run `faultline runs` to list them)")]
    RunNotFound(String),
    #[error("run {0} is ambiguous: {1}")]
    RunAmbiguous(String, String),
    /// The change asked for cannot be made as asked; the message says why
    /// and what to do instead.
    #[error("{0}")]
    Refused(String),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// The store's layout is one this faultline cannot use as it is (written
    /// by a newer one, or an older one that must be migrated first).
    #[error("{0}")]
    Schema(String),
    /// A failure that a later attempt may not meet (throttling, a 5xx, a
    /// dropped connection): the Lambda fails the invocation so it is retried.
    #[error("{0} (temporary; retrying may succeed)")]
    Transient(String),
    /// Another process kept the store's write lock past the wait; the
    /// message names it where it can.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Backend(String),
}

/// Whether a SQLite row did not read as what was written (a value of the
/// wrong type or range): [`StoreError::is_damaged`] for one row.
pub(crate) fn is_damaged_row(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
    )
}

/// Says that run `id` is left out of a listing because its stored record
/// does not read (`error`), and how to remove it: one damaged run hides
/// no other from `faultline runs`, `issues show` or the web UI, and each
/// listing names it again until it is repaired or forgotten.
pub(crate) fn warn_damaged_run(id: &str, error: &dyn std::fmt::Display) {
    tracing::warn!(
        run = id,
        error = %error,
        "run {id} is left out: its stored record is damaged ({error}); repair it, or remove it with `faultline runs forget {id}`"
    );
}

impl StoreError {
    /// Whether stored data did not read as what was written (a damaged
    /// item or row): no retry cures it, repairing or removing the record
    /// does.
    pub fn is_damaged(&self) -> bool {
        match self {
            StoreError::Corrupt(_) => true,
            StoreError::Sqlite { source, .. } => is_damaged_row(source),
            _ => false,
        }
    }

    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Transient(_) | StoreError::Busy(_) => true,
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }
}

/// What settling the runs that were due did.
#[derive(Debug, Default)]
pub struct Settled {
    /// The ids of the runs settled.
    pub runs: Vec<String>,
    /// The runs whose settlement failed for a reason a retry does not cure
    /// (damaged data, an item DynamoDB refuses): each is left as it was,
    /// and tried again at the next settling, while the others settle.
    pub failed: Vec<UnsettledRun>,
}

/// A run whose settlement failed, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsettledRun {
    pub run: String,
    pub error: String,
}

impl Settled {
    /// What settling run `run` came to: its value, or `None` once a lasting
    /// failure is noted. A temporary one is returned: the whole settling
    /// is retried (the Lambda's invocation fails), as it would succeed.
    pub fn isolate<T>(
        &mut self,
        run: &str,
        result: Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.is_transient() => Err(e),
            Err(e) => {
                self.failed.push(UnsettledRun {
                    run: run.to_string(),
                    error: e.to_string(),
                });
                Ok(None)
            }
        }
    }
}

/// What forgetting a run removed ([`Store::forget_run`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Forgotten {
    pub run: String,
    /// How many of its links to issues went (the issues stay).
    pub links: usize,
    /// Whether it had settled: its job's streaks counted it then, and
    /// keep it.
    pub settled: bool,
}

/// A run as what a user types names it ([`Store::run_names`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RunName {
    pub id: String,
    /// Its key (`sfn:ARN`, `batch:JOB ID`, ...), `None` when it does not
    /// read.
    pub key: Option<String>,
    /// Its name, `None` when it does not read.
    pub name: Option<String>,
}

/// A leased alert as a store reports it, from its queued payload.
fn leased(
    id: String,
    payload: &str,
    lease_until: i64,
    attempts: i64,
) -> Result<LeasedAlert, StoreError> {
    let alert: Alert = serde_json::from_str(payload)
        .map_err(|e| StoreError::Corrupt(format!("queued alert {id}: {e}")))?;
    Ok(LeasedAlert {
        id,
        issues: alert.issues.len(),
        lease_until,
        attempts: u64::try_from(attempts).unwrap_or(0),
    })
}

/// The contract every store meets.
#[async_trait]
pub trait Store: Send + Sync {
    /// Creates tables (or checks they exist). Idempotent.
    async fn init(&self) -> Result<(), StoreError>;

    /// Where the store keeps the events a stream's batch left unfinished
    /// for the stream's next batch ([`pending`]); `None` when it keeps none,
    /// and every batch is judged whole.
    fn held(&self) -> Option<&dyn pending::HeldTails> {
        None
    }

    /// Applies a batch exactly once: counts, first/last seen, samples, status
    /// changes, and the alerts they raise (queued in the outbox in the same
    /// atomic write). A batch already recorded changes nothing.
    /// Status changes and alerts follow `policy` ([`crate::policy::decide`]).
    async fn record(
        &self,
        batch: &BatchSummary,
        now: i64,
        policy: &Policy,
    ) -> Result<Recorded, StoreError>;

    /// Records several batches, each exactly as [`Store::record`] would. A
    /// store may do it in fewer writes (SQLite: one transaction), which is
    /// what makes `faultline ingest DIR` cheap; the default records them one
    /// by one.
    async fn record_all(
        &self,
        batches: &[BatchSummary],
        now: i64,
        policy: &Policy,
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut recorded = Vec::with_capacity(batches.len());
        for batch in batches {
            recorded.push(self.record(batch, now, policy).await?);
        }
        Ok(recorded)
    }

    /// Issues admitted by `filter`, most recently seen first.
    async fn issues(&self, filter: StatusFilter) -> Result<Vec<Issue>, StoreError>;

    /// One page of the issues a query selects, in its order, each with its
    /// hourly counts of the last day and its trend, in one read of the store
    /// (SQLite: a few SQL queries; DynamoDB: its listing index, filtered and
    /// sorted in memory, see the DynamoDB store's documentation).
    async fn list(&self, query: &IssueQuery) -> Result<IssuePage, StoreError>;

    /// One issue by exact id.
    async fn issue(&self, id: &str) -> Result<Option<IssueDetail>, StoreError>;

    /// The issues of `ids` that are there (a merged one with its
    /// `merged_into`, as [`Store::issue`] has it), in no particular order,
    /// without their samples or counts by hour: what a run's listing
    /// shows beside each of its issues, read in a few requests however
    /// many issues the run had (one [`Store::issue`] each took seconds for
    /// a run of thousands on SQLite, minutes on DynamoDB).
    async fn issues_by_id(&self, ids: &[String]) -> Result<Vec<Issue>, StoreError>;

    /// Occurrences per hour of one issue from `since` (epoch ms) on.
    async fn hours(&self, id: &str, since: i64) -> Result<Vec<HourCount>, StoreError>;

    /// Changes an issue's status by exact id and returns it. A merged
    /// issue is refused: its occurrences count into another.
    async fn set_status(&self, id: &str, change: &StatusChange) -> Result<Issue, StoreError>;

    /// Merges issue `from` into issue `into` (exact ids), atomically: later
    /// occurrences of `from`'s fingerprint, and of everything merged into
    /// it, count into `into`; `into` takes `from`'s history (count, first
    /// and last seen, hours, context fields, samples); `from` keeps its own
    /// and gets status merged. Nothing is alerted, now or for those later
    /// occurrences as such. Both must be issues that count their own
    /// occurrences ([`route::check_merge`]). Returns `into` after.
    async fn merge(&self, into: &str, from: &str) -> Result<Issue, StoreError>;

    /// Undoes a merge for later occurrences: issue `id` counts its own
    /// again, open, and is kept apart: no join of a new fingerprint takes
    /// it again ([`route`]). What the merge summed into the other issue
    /// stays there. Returns the issue after.
    async fn unmerge(&self, id: &str) -> Result<Issue, StoreError>;

    /// What the store holds, part by part, and how big each part is.
    async fn stats(&self) -> Result<StoreStats, StoreError>;

    /// Brings what the store holds to the layout this faultline writes
    /// (`faultline store migrate`). Safe to run again, and beside ingests.
    /// `swap_indexes`: also replace indexes of an older layout, where the
    /// store owns them (a DynamoDB table no CloudFormation stack manages).
    async fn migrate(&self, swap_indexes: bool) -> Result<Migrated, StoreError>;

    /// Takes at most `limit` of the alerts waiting to be sent, oldest
    /// first, leasing them to the caller until `now + lease_ms` so that
    /// concurrent callers do not send them twice; the rest wait, unleased,
    /// for the next claim. An alert whose lease expired unsent is handed out
    /// again.
    async fn claim_alerts(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError>;

    /// Marks an alert delivered; it is never handed out again. It is given
    /// the alert as claimed: DynamoDB keys a queued alert by its age and
    /// id.
    async fn alert_sent(&self, alert: &Alert, now: i64) -> Result<(), StoreError>;

    /// The alerts waiting under a lease that has not run out at `now`:
    /// another run is sending them, or it stopped while it was, and they
    /// go out with the first flush after their lease ends. Oldest lease
    /// first.
    async fn leased_alerts(&self, now: i64) -> Result<Vec<LeasedAlert>, StoreError>;

    /// Runs admitted by `filter`, newest first (by start, else by their
    /// latest log event), each with its issues.
    async fn runs(&self, filter: &RunFilter) -> Result<Vec<Run>, StoreError>;

    /// One run by exact id.
    async fn run(&self, id: &str) -> Result<Option<Run>, StoreError>;

    /// Every run not folded into another, by id, with its key and name
    /// where they read: what resolving a prefix or a name needs
    /// ([`resolve_run`]), in no particular order. Nothing else of a run is
    /// read, so a run whose record is damaged elsewhere neither hides the
    /// others nor is hidden: it can be named to be forgotten.
    async fn run_names(&self) -> Result<Vec<RunName>, StoreError>;

    /// Whether a run (not folded into another) is recorded under exact id
    /// `id`. Only its key is read, so a run too damaged to read whole is
    /// found, to be forgotten.
    async fn has_run(&self, id: &str) -> Result<bool, StoreError>;

    /// Removes run `id` (exact) and its links to issues, so that it is no
    /// longer listed nor settled: the way out for a run whose settlement
    /// fails for good. It is found and removed by its keys, reading
    /// nothing else of it, so a damaged run goes too. The issues, their
    /// counts and holds stay as they are: an alert held for runs of its
    /// job waits for the next run that settles it. A run not settled
    /// yet never counts in its job's lifecycle; a settled one already
    /// did. A later batch naming the run records it anew. `None` when
    /// there is no such run.
    async fn forget_run(&self, id: &str) -> Result<Option<Forgotten>, StoreError>;

    /// The runs an issue appeared in, newest first, at most `limit`.
    async fn issue_runs(&self, issue_id: &str, limit: usize) -> Result<Vec<Run>, StoreError>;

    /// Settles the runs that are done ([`crate::runs::lifecycle`]): each
    /// run that ended at least `settle_ms` ago (so the delivery of its last
    /// logs could arrive), and each run without an end whose log has been
    /// quiet for the policy's `run_quiet_minutes` (it ends as `unknown`).
    /// Settling a run counts it in its job's lifecycle, resolves the issues
    /// K clean runs did not have, releases held new-issue alerts and queues
    /// its digest, in one atomic step per run: exactly once, however many
    /// callers settle at the same moment. Returns the ids of the runs
    /// settled, and the runs whose settlement failed for good (the others
    /// settle all the same); a temporary failure is an error.
    async fn settle_runs(
        &self,
        now: i64,
        settle_ms: i64,
        policy: &Policy,
    ) -> Result<Settled, StoreError>;
}

/// Which runs a listing shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    /// Only runs with log events in this log group.
    pub log_group: Option<String>,
    /// Only runs of this job.
    pub job: Option<String>,
    /// Only settled runs (ended, with their lifecycle counted).
    pub settled: bool,
    /// At most this many.
    pub limit: Option<usize>,
}

/// Opens the store a URL names: `sqlite:PATH` or `dynamodb://TABLE`.
pub async fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        if path.is_empty() {
            return Err(StoreError::Url(format!(
                "store URL {url:?} has no path; try {DEFAULT_URL}"
            )));
        }
        return Ok(Box::new(sqlite::SqliteStore::open(path)?));
    }
    if let Some(table) = url.strip_prefix("dynamodb://") {
        let store = dynamodb::DynamoDbStore::from_env(table).await?;
        store.check_on_open().await?;
        return Ok(Box::new(store));
    }
    Err(StoreError::Url(format!(
        "unknown store URL {url:?}; expected sqlite:PATH (for example {DEFAULT_URL}) or dynamodb://TABLE"
    )))
}

/// Opens the store a URL names for reading only: a SQLite file is neither
/// created nor written (so a read-only one can be listed); DynamoDB opens as
/// [`open`] does.
pub async fn open_read_only(url: &str) -> Result<Box<dyn Store>, StoreError> {
    match url.strip_prefix("sqlite:") {
        Some(path) if !path.is_empty() => Ok(Box::new(sqlite::SqliteStore::open_read_only(path)?)),
        _ => open(url).await,
    }
}

/// Resolves what a user typed to a run id: an id, a unique prefix of one,
/// or a run's key or name (an execution ARN or name, a Batch job id, an
/// ECS task id, a run id value).
pub async fn resolve_run(store: &dyn Store, typed: &str) -> Result<String, StoreError> {
    if typed.is_empty() {
        return Err(StoreError::RunNotFound(typed.to_string()));
    }
    if store.has_run(typed).await? {
        return Ok(typed.to_string());
    }
    // What users copy from the console (an execution ARN, a Batch job id,
    // an ECS task id) is the tail of a run's key, and a run's id is its
    // key's hash: one read each, where the listing below reads every run.
    for kind in ["sfn:", "batch:", "task:"] {
        let key = format!("{kind}{typed}");
        let id = crate::model::run_id(&key);
        match store.run(&id).await {
            Ok(Some(run)) if run.key == key => return Ok(run.id),
            Ok(_) => {}
            // A run too damaged to read is still named by its key's hash,
            // so that it can be forgotten.
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                return if store.has_run(&id).await? {
                    Ok(id)
                } else {
                    Err(e)
                };
            }
        }
    }
    // Names and keys only: a listing of whole runs fails on any run
    // whose record is damaged, and reads every run's issues besides.
    let mut runs = store.run_names().await?;
    runs.sort_by(|a, b| a.id.cmp(&b.id));
    let exact: Vec<&RunName> = runs
        .iter()
        .filter(|r| {
            r.name.as_deref() == Some(typed)
                || r.key
                    .as_deref()
                    .and_then(|k| k.split_once(':'))
                    .is_some_and(|(_, k)| k == typed)
        })
        .collect();
    let matches: Vec<&RunName> = if exact.is_empty() {
        runs.iter().filter(|r| r.id.starts_with(typed)).collect()
    } else {
        exact
    };
    match matches.as_slice() {
        [] => Err(StoreError::RunNotFound(typed.to_string())),
        [one] => Ok(one.id.clone()),
        many => Err(StoreError::RunAmbiguous(
            typed.to_string(),
            many.iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

/// Resolves what a user typed (an id or a unique prefix of one) to an id,
/// merged issues included.
pub async fn resolve_id(store: &dyn Store, typed: &str) -> Result<String, StoreError> {
    if store.issue(typed).await?.is_some() {
        return Ok(typed.to_string());
    }
    let mut matches: Vec<String> = Vec::new();
    for filter in [StatusFilter::All, StatusFilter::Merged] {
        matches.extend(
            store
                .issues(filter)
                .await?
                .into_iter()
                .map(|i| i.id)
                .filter(|id| !typed.is_empty() && id.starts_with(typed)),
        );
    }
    match matches.len() {
        0 => Err(StoreError::NotFound(typed.to_string())),
        1 => Ok(matches.into_iter().next().unwrap_or_default()),
        _ => Err(StoreError::Ambiguous(typed.to_string(), matches.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lasting_settling_failure_is_noted_and_a_temporary_one_returned() {
        let mut settled = Settled::default();
        let damaged = settled.isolate::<()>("r1", Err(StoreError::Corrupt("a run item".into())));
        assert!(matches!(damaged, Ok(None)));
        assert_eq!(
            settled.failed,
            vec![UnsettledRun {
                run: "r1".into(),
                error: "stored data is damaged: a run item".into(),
            }]
        );
        let throttled = settled.isolate::<()>("r2", Err(StoreError::Transient("throttled".into())));
        assert!(throttled.is_err(), "the caller retries the whole settling");
        assert!(matches!(settled.isolate("r3", Ok(7)), Ok(Some(7))));
        assert_eq!(settled.failed.len(), 1);
    }
}
