//! What an alert says, independent of how it is delivered.
//!
//! Alerts are built by the store in the same write that creates or reopens
//! their issues, and kept in its outbox until a notifier has delivered them:
//! that is what makes "announced once, never lost" hold across crashes and
//! concurrent invocations.

use serde::{Deserialize, Serialize};

use crate::aggregate::{BatchSummary, IssueDelta, Sample, issue_id};

/// Why an alert goes out. The wire names are a contract: SNS subscription
/// filter policies match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    NewIssue,
    Regression,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::NewIssue => "new_issue",
            EventType::Regression => "regression",
        }
    }
}

/// One alert: one event type, one log group, one or more issues (several new
/// issues of one batch make one digest, not a message each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic: the batch id and event type, so a redelivered batch
    /// cannot queue the same alert twice.
    pub id: String,
    pub event_type: EventType,
    pub log_group: String,
    pub created_at: i64,
    pub issues: Vec<AlertIssue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertIssue {
    pub id: String,
    pub fingerprint: String,
    pub kind: String,
    pub title: String,
    /// Occurrences in the batch that raised the alert.
    pub count: u64,
    pub first_seen: i64,
    pub sample: Option<Sample>,
}

impl Alert {
    /// The issue ids, comma-separated, as the `issue_ids` message attribute.
    pub fn issue_ids(&self) -> String {
        self.issues
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The alerts a recorded batch raises: one digest of its new issues and one of
/// its regressions, each only if non-empty.
///
/// Both stores call this inside the write that records the batch, so the
/// alert exists exactly when the issue's creation (or reopening) does.
pub fn for_batch(
    batch: &BatchSummary,
    new_issues: &[&IssueDelta],
    regressions: &[&IssueDelta],
    now: i64,
) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for (event_type, deltas) in [
        (EventType::NewIssue, new_issues),
        (EventType::Regression, regressions),
    ] {
        if deltas.is_empty() {
            continue;
        }
        alerts.push(Alert {
            id: format!("{}:{}", batch.batch_id, event_type.as_str()),
            event_type,
            log_group: batch.log_group.clone(),
            created_at: now,
            issues: deltas
                .iter()
                .map(|d| AlertIssue {
                    id: issue_id(&d.fingerprint),
                    fingerprint: d.fingerprint.clone(),
                    kind: d.kind.clone(),
                    title: d.title.clone(),
                    count: d.count,
                    first_seen: d.first_seen,
                    sample: d.samples.first().cloned(),
                })
                .collect(),
        });
    }
    alerts
}
