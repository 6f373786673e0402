//! Size bounds: what keeps every item and transaction within DynamoDB's
//! limits whatever the input.

use std::ops::Range;

use super::items::json;
use crate::limits::truncate;
use crate::model::{Alert, BatchSummary, IssueDelta, Sample};
use crate::store::StoreError;

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

/// The most new-issue alerts one batch queues separately; more make a digest
/// whatever the policy's `digest_over` (see the module doc).
pub const MAX_SEPARATE_NEW_ISSUE_ALERTS: usize = 48;

/// The most bytes one stored sample may take as JSON. Samples arrive with
/// messages and stacks of up to 4 KB each; 6 KB keeps the useful start of
/// both while bounding the issue item (and the cost of rewriting it).
pub const MAX_STORED_SAMPLE_BYTES: usize = 6 * 1024;

/// The longest version an issue can be resolved in (`1.2.3-rc.4+build.5`,
/// a git sha, a Lambda version): the item bound counts on it.
pub const MAX_VERSION_BYTES: usize = 128;

/// Kinds are short class names; a longer one is cut so the item stays bounded.
pub(super) const MAX_STORED_KIND_BYTES: usize = 256;

/// Issues a notifier details in one message (`notify::chat`'s
/// `MAX_DETAILED_ISSUES`); the rest of a digest is listed by id, so their
/// samples are not stored.
pub const DETAILED_ALERT_ISSUES: usize = 20;

/// The most bytes one queued alert's payload may take: what fits in one
/// item (400 KB) with its key and lease attributes.
pub const MAX_ALERT_BYTES: usize = 384 * 1024;

/// What an issue's head can grow to (measured by the unit tests): typical
/// heads take 400-700 bytes; a long log group, kind and version and a
/// hundred merged ids take it to about 2.5 KB.
pub const MAX_HEAD_BYTES: usize = 4 * 1024;

/// What one day of an issue can grow to (measured by the unit tests): its
/// hours and `MAX_DAY_FACET_BYTES` (parts.rs) of facets.
pub const MAX_DAY_BYTES: usize = 4 * 1024;

/// Cuts what a queued alert carries to what a message can show, so its
/// outbox item stays under [`MAX_ALERT_BYTES`] even for a digest of a
/// batch with thousands of new issues (SNS could not carry a message about
/// many more: its 256 KB hold about 9,000 ids, listed twice).
pub(super) fn bound_alert(alert: &mut Alert) {
    for (i, issue) in alert.issues.iter_mut().enumerate() {
        let sample = issue.sample.take();
        if i < DETAILED_ALERT_ISSUES {
            issue.sample = sample.map(bounded_sample);
        }
    }
    let size = |a: &Alert| json(a).len();
    if size(alert) > MAX_ALERT_BYTES {
        // Messages list these issues by id only. What stays is about 100
        // bytes per issue: a digest of up to ~3,500 new issues fits.
        for issue in alert.issues.iter_mut().skip(DETAILED_ALERT_ISSUES) {
            issue.title.clear();
            issue.kind.clear();
            issue.fingerprint.clear();
        }
    }
    if size(alert) > MAX_ALERT_BYTES {
        for issue in &mut alert.issues {
            issue.sample = None;
        }
    }
}

/// A sample cut until its JSON fits [`MAX_STORED_SAMPLE_BYTES`]: first the
/// message and each field to 2 KB / 1 KB, then trailing fields dropped.
pub fn bounded_sample(mut sample: Sample) -> Sample {
    let size = |s: &Sample| {
        serde_json::to_string(s)
            .map(|j| j.len())
            .unwrap_or(usize::MAX)
    };
    if size(&sample) <= MAX_STORED_SAMPLE_BYTES {
        return sample;
    }
    sample.message = truncate(&sample.message, 2048);
    for (_, value) in &mut sample.fields {
        *value = truncate(value, 1024);
    }
    while size(&sample) > MAX_STORED_SAMPLE_BYTES && sample.fields.pop().is_some() {}
    if size(&sample) > MAX_STORED_SAMPLE_BYTES {
        // Only pathological group/stream/kind strings get here.
        sample.message = truncate(&sample.message, 256);
        sample.kind = truncate(&sample.kind, 256);
        sample.log_stream = truncate(&sample.log_stream, 512);
        sample.event_id = truncate(&sample.event_id, 128);
        sample.shape = truncate(&sample.shape, 64);
    }
    sample
}

pub(super) fn stored_sample_json(sample: &Sample) -> Result<String, StoreError> {
    serde_json::to_string(&bounded_sample(sample.clone()))
        .map_err(|e| StoreError::Corrupt(format!("encoding a sample: {e}")))
}
