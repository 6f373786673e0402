//! Size bounds: what keeps every item and transaction within DynamoDB's
//! limits whatever the input.

use std::ops::Range;

use crate::model::{BatchSummary, IssueDelta, Sample};
use crate::store::StoreError;
// Shared with the SQLite store's outbox since the cap on issues per batch.
pub use crate::store::outbox::{
    DETAILED_ALERT_ISSUES, MAX_ALERT_BYTES, MAX_STORED_SAMPLE_BYTES, bound_alert, bounded_sample,
};

/// The most distinct issues one transaction writes.
pub const ISSUES_PER_WRITE: usize = 25;

/// The most actions one `TransactWriteItems` may carry.
pub(super) const MAX_TRANSACTION_ACTIONS: usize = 100;

/// The actions of a transaction that a chunk's issues
/// may take: one is the chunk's marker, and one is kept for the batch's
/// new-issue alerts, which the last chunk queues as a single digest when
/// separate alerts would not fit ([`super::plan`]).
const ISSUE_ACTIONS_PER_WRITE: usize = MAX_TRANSACTION_ACTIONS - 2;

/// What one issue may add to its chunk's transaction: its head, the days
/// it writes ([`super::parts::days_written`]), a sample, an alias (an
/// upgraded fingerprint counting into the issue its older key named) and a
/// regression or threshold alert.
fn actions_of(delta: &IssueDelta) -> usize {
    4 + super::parts::days_written(delta).len()
}

/// How a batch's issues are split into transactions: consecutive ranges of
/// at most [`ISSUES_PER_WRITE`] issues whose actions fit one transaction.
/// A pure function of the batch's content, so every delivery of a batch
/// chunks it the same way (the chunk markers rely on it).
pub fn chunk_ranges(batch: &BatchSummary) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut actions = 0;
    for (i, delta) in batch.issues.iter().enumerate() {
        let cost = actions_of(delta);
        if i > start && (i - start == ISSUES_PER_WRITE || actions + cost > ISSUE_ACTIONS_PER_WRITE)
        {
            ranges.push(start..i);
            start = i;
            actions = 0;
        }
        actions += cost;
    }
    if start < batch.issues.len() {
        ranges.push(start..batch.issues.len());
    }
    ranges
}

// Shared with run settlement, which folds announcements past it on both stores.
pub use crate::limits::MAX_SEPARATE_NEW_ISSUE_ALERTS;

/// The longest version an issue can be resolved in (`1.2.3-rc.4+build.5`,
/// a git sha, a Lambda version): the item bound counts on it.
pub const MAX_VERSION_BYTES: usize = 128;

/// Kinds are short class names; a longer one is cut so the item stays bounded.
pub(super) const MAX_STORED_KIND_BYTES: usize = 256;

/// What an issue's head can grow to (measured by the unit tests): typical
/// heads take 400-700 bytes; a long log group, kind and version and a
/// hundred merged ids take it to about 2.5 KB.
pub const MAX_HEAD_BYTES: usize = 4 * 1024;

/// What one day of an issue can grow to (measured by the unit tests): its
/// hours and `MAX_DAY_FACET_BYTES` (parts.rs) of facets.
pub const MAX_DAY_BYTES: usize = 4 * 1024;

pub(super) fn stored_sample_json(sample: &Sample) -> Result<String, StoreError> {
    serde_json::to_string(&bounded_sample(sample.clone()))
        .map_err(|e| StoreError::Corrupt(format!("encoding a sample: {e}")))
}
