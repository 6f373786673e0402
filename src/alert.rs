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
    /// An issue crossed the policy's occurrence threshold.
    Threshold,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::NewIssue => "new_issue",
            EventType::Regression => "regression",
            EventType::Threshold => "threshold",
        }
    }

    /// How people read it: "new issue", "regression", "threshold".
    pub fn label(self) -> &'static str {
        match self {
            EventType::NewIssue => "new issue",
            EventType::Regression => "regression",
            EventType::Threshold => "threshold",
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

/// The alerts a recorded batch raises, from the store's per-issue decisions.
///
/// New issues alert one message each, unless the batch brought more than
/// `digest_over` of them: then one digest lists them all, so a bad deploy
/// that breaks many things at once sends one message, not fifty. Regressions
/// and threshold crossings alert one message each. Ids derive from the batch
/// id, so a batch that is somehow applied twice cannot queue twice.
///
/// Both stores call this inside the write that records the batch, so an
/// alert exists exactly when the change it announces does.
pub fn for_batch(
    batch: &BatchSummary,
    raised: &[(EventType, &IssueDelta)],
    digest_over: usize,
    now: i64,
) -> Vec<Alert> {
    let alert = |id: String, event_type: EventType, deltas: &[&IssueDelta]| Alert {
        id,
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
    };
    let new: Vec<&IssueDelta> = raised
        .iter()
        .filter(|(t, _)| *t == EventType::NewIssue)
        .map(|(_, d)| *d)
        .collect();
    let mut alerts = Vec::new();
    if new.len() > digest_over {
        alerts.push(alert(
            format!("{}:new_issue:digest", batch.batch_id),
            EventType::NewIssue,
            &new,
        ));
    }
    for (event_type, delta) in raised {
        if *event_type == EventType::NewIssue && new.len() > digest_over {
            continue;
        }
        alerts.push(alert(
            format!(
                "{}:{}:{}",
                batch.batch_id,
                event_type.as_str(),
                issue_id(&delta.fingerprint)
            ),
            *event_type,
            &[delta],
        ));
    }
    alerts
}
