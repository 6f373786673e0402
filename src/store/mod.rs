//! Where issues live: their counters, status, samples and pending alerts.
//!
//! One trait, two implementations (SQLite locally, DynamoDB on AWS) with the
//! same semantics, held to them by one conformance suite
//! (`tests/store_conformance.rs`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aggregate::{BatchSummary, HourCount, Sample};
use crate::alert::Alert;
use crate::policy::Policy;

pub mod dynamodb;
pub mod sqlite;

/// How many samples an issue keeps, newest first. Bounded so that an issue
/// seen a million times stays as small as one seen once.
pub const MAX_SAMPLES: usize = 10;

/// Distinct values an issue keeps per facet; later values count as
/// `(other)`.
pub const MAX_FACET_VALUES: usize = 50;

/// How long hourly counts are kept: the timeline covers the last 30 days.
pub const HOURS_RETENTION_MS: i64 = 30 * 24 * 3_600_000;

/// The default store URL for local use.
pub const DEFAULT_URL: &str = "sqlite:.faultline/faultline.db";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Open,
    Resolved,
    Ignored,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Resolved => "resolved",
            Status::Ignored => "ignored",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "open" => Some(Status::Open),
            "resolved" => Some(Status::Resolved),
            "ignored" => Some(Status::Ignored),
            _ => None,
        }
    }
}

/// Which issues a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFilter {
    Open,
    Resolved,
    Ignored,
    All,
}

impl StatusFilter {
    pub fn admits(self, status: Status) -> bool {
        match self {
            StatusFilter::All => true,
            StatusFilter::Open => status == Status::Open,
            StatusFilter::Resolved => status == Status::Resolved,
            StatusFilter::Ignored => status == Status::Ignored,
        }
    }
}

/// An issue as listed: one group of occurrences with one fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: String,
    pub fingerprint: String,
    pub log_group: String,
    pub title: String,
    pub kind: String,
    pub status: Status,
    pub count: u64,
    /// Epoch milliseconds of the earliest and latest occurrence.
    pub first_seen: i64,
    pub last_seen: i64,
    /// When a resolved issue last came back, if it ever did.
    pub regressed_at: Option<i64>,
    /// Resolved in this version: older versions do not regress it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_in: Option<String>,
    /// Ignored until this time (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored_until: Option<i64>,
    /// Ignored until the count reaches this total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored_until_count: Option<u64>,
}

/// How a user changes an issue's status.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusChange {
    Open,
    /// Resolved; with a version, only occurrences from it on regress.
    Resolved {
        in_version: Option<String>,
    },
    /// Ignored for good, until a time (epoch ms), or for N more occurrences.
    Ignored {
        until: Option<i64>,
        for_count: Option<u64>,
    },
}

impl StatusChange {
    pub fn status(&self) -> Status {
        match self {
            StatusChange::Open => Status::Open,
            StatusChange::Resolved { .. } => Status::Resolved,
            StatusChange::Ignored { .. } => Status::Ignored,
        }
    }
}

/// The values one context field took across an issue's occurrences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facet {
    pub name: String,
    /// Distinct values seen (at most [`MAX_FACET_VALUES`]; `capped` says
    /// there were more).
    pub distinct: u64,
    pub capped: bool,
    /// Most frequent first, at most 5.
    pub top: Vec<(String, u64)>,
}

/// An issue with what is kept to investigate it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueDetail {
    #[serde(flatten)]
    pub issue: Issue,
    /// Newest first, at most [`MAX_SAMPLES`].
    pub samples: Vec<Sample>,
    /// Occurrences per hour, oldest first, over the retained 30 days.
    pub hours: Vec<HourCount>,
    /// Context fields worth a look, by name.
    pub facets: Vec<Facet>,
}

/// What recording a batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    /// The batch had been recorded before: nothing changed.
    pub duplicate: bool,
    /// Ids of the issues this batch created.
    pub new_issues: Vec<String>,
    /// Ids of resolved issues this batch reopened.
    pub regressions: Vec<String>,
    /// How many alerts the batch queued.
    pub alerts: usize,
}

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
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// A failure that a later attempt may not meet (throttling, a 5xx, a
    /// dropped connection): the Lambda fails the invocation so it is retried.
    #[error("{0} (temporary; retrying may succeed)")]
    Transient(String),
    #[error("{0}")]
    Backend(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Transient(_) => true,
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }
}

/// The contract every store meets.
#[async_trait]
pub trait Store: Send + Sync {
    /// Creates tables (or checks they exist). Idempotent.
    async fn init(&self) -> Result<(), StoreError>;

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

    /// One issue by exact id.
    async fn issue(&self, id: &str) -> Result<Option<IssueDetail>, StoreError>;

    /// Occurrences per hour of one issue from `since` (epoch ms) on.
    async fn hours(&self, id: &str, since: i64) -> Result<Vec<HourCount>, StoreError>;

    /// Changes an issue's status by exact id and returns it.
    async fn set_status(&self, id: &str, change: &StatusChange) -> Result<Issue, StoreError>;

    /// Takes the alerts waiting to be sent, leasing them to the caller until
    /// `now + lease_ms` so that concurrent callers do not send them twice.
    /// An alert whose lease expired unsent is handed out again.
    async fn claim_alerts(&self, now: i64, lease_ms: i64) -> Result<Vec<Alert>, StoreError>;

    /// Marks an alert delivered; it is never handed out again.
    async fn alert_sent(&self, alert_id: &str, now: i64) -> Result<(), StoreError>;
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
        return Ok(Box::new(dynamodb::DynamoDbStore::from_env(table).await?));
    }
    Err(StoreError::Url(format!(
        "unknown store URL {url:?}; expected sqlite:PATH (for example {DEFAULT_URL}) or dynamodb://TABLE"
    )))
}

/// Resolves what a user typed (an id or a unique prefix of one) to an id.
pub async fn resolve_id(store: &dyn Store, typed: &str) -> Result<String, StoreError> {
    if store.issue(typed).await?.is_some() {
        return Ok(typed.to_string());
    }
    let matches: Vec<String> = store
        .issues(StatusFilter::All)
        .await?
        .into_iter()
        .map(|i| i.id)
        .filter(|id| !typed.is_empty() && id.starts_with(typed))
        .collect();
    match matches.len() {
        0 => Err(StoreError::NotFound(typed.to_string())),
        1 => Ok(matches.into_iter().next().unwrap_or_default()),
        _ => Err(StoreError::Ambiguous(typed.to_string(), matches.join(", "))),
    }
}
