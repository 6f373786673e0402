//! The pure planner: what a chunk's transaction writes, decided from the
//! issues as read through the shared fold ([`crate::store::fold`]).

use std::collections::HashMap;

use super::bounds::{MAX_SEPARATE_NEW_ISSUE_ALERTS, bound_alert, stored_sample_json};
use super::items::{StoredIssue, add_facet, facet_book};
use crate::model::{Alert, BatchSummary, EventType, HeldBack, IssueDelta, issue_id};
use crate::policy::{self, Decision, Policy};
use crate::store::StoreError;
use crate::store::{fold, run_fold};

/// What a chunk's transaction writes, decided from what was read.
pub(super) struct ChunkPlan {
    pub writes: Vec<IssueWrite>,
    pub alerts: Vec<Alert>,
    pub new_issues: Vec<String>,
    pub regressions: Vec<String>,
    pub held_back: Vec<(String, HeldBack)>,
    /// Fingerprints of the issues this chunk created with a new-issue
    /// decision, for the batch's last chunk (empty in the last chunk).
    pub marker_new: Vec<String>,
}

pub(super) struct IssueWrite {
    /// `None`: the issue did not exist and this write creates it.
    pub read_ver: Option<u64>,
    pub item: StoredIssue,
}

/// Applies a chunk's deltas to the issues as read, in batch order, each
/// through [`apply_delta`]: the same steps as the SQLite store's.
pub(super) fn plan_chunk(
    batch: &BatchSummary,
    deltas: &[IssueDelta],
    current: &HashMap<String, StoredIssue>,
    earlier_new: &[String],
    is_last: bool,
    now: i64,
    policy: &Policy,
) -> Result<ChunkPlan, StoreError> {
    let mut working: HashMap<String, StoredIssue> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut raised: Vec<(EventType, &IssueDelta)> = Vec::new();
    let mut new_issues = Vec::new();
    let mut regressions = Vec::new();
    let rules = policy.run_rules();
    let mut held_back = Vec::new();
    for delta in deltas {
        let id = issue_id(&delta.fingerprint);
        // A batch normally has one delta per issue; two fingerprints sharing
        // an id (a 48-bit collision) apply one after the other, as in SQLite.
        let prior = match working.remove(&id) {
            Some(item) => Some(item),
            None => {
                order.push(id.clone());
                current.get(&id).cloned()
            }
        };
        let created = prior.is_none();
        let held = prior.as_ref().is_some_and(|p| p.held);
        let (mut item, decision) = apply_delta(prior, batch, delta, now, policy)?;
        // Runs may hold a new issue's alert back (all of it recovered, or
        // alert_after_runs counting), as in the SQLite store.
        let (alert, held_after) = run_fold::hold(decision.alert, held, delta, batch, &rules);
        item.held = held_after;
        if created {
            new_issues.push(id.clone());
        }
        if decision.regressed {
            regressions.push(id.clone());
        }
        if let Some(why) = policy::held_back(created, &decision, alert) {
            held_back.push((id.clone(), why));
        }
        if let Some(event_type) = alert {
            raised.push((event_type, delta));
        }
        working.insert(id, item);
    }
    let mut writes = Vec::with_capacity(order.len());
    for id in order {
        if let Some(mut item) = working.remove(&id) {
            let read_ver = current.get(&id).map(|c| c.ver);
            item.ver = read_ver.map_or(1, |v| v.saturating_add(1));
            writes.push(IssueWrite { read_ver, item });
        }
    }

    // New-issue alerts wait for the last chunk (see the module doc); the
    // others are queued with the decision that raised them.
    let mut queued: Vec<(EventType, &IssueDelta)> = Vec::new();
    let mut marker_new = Vec::new();
    if is_last {
        if !earlier_new.is_empty() {
            let by_fingerprint: HashMap<&str, &IssueDelta> = batch
                .issues
                .iter()
                .map(|d| (d.fingerprint.as_str(), d))
                .collect();
            for fingerprint in earlier_new {
                match by_fingerprint.get(fingerprint.as_str()) {
                    Some(delta) => queued.push((EventType::NewIssue, delta)),
                    // Only if the batch was summarised differently when the
                    // earlier chunk was written (a deploy in between): the
                    // issue exists, only its announcement is lost.
                    None => tracing::warn!(batch = %batch.batch_id, %fingerprint,
                        "an earlier chunk's new issue is not in this batch; not announced"),
                }
            }
        }
        queued.extend(raised);
    } else {
        for (event_type, delta) in raised {
            if event_type == EventType::NewIssue {
                marker_new.push(delta.fingerprint.clone());
            } else {
                queued.push((event_type, delta));
            }
        }
    }
    let digest_over = policy.digest_over.min(MAX_SEPARATE_NEW_ISSUE_ALERTS);
    let mut alerts = policy::alerts_for_batch(batch, &queued, digest_over, now);
    for alert in &mut alerts {
        bound_alert(alert);
    }
    Ok(ChunkPlan {
        writes,
        alerts,
        new_issues,
        regressions,
        held_back,
        marker_new,
    })
}

/// One delta on one issue (`prior`: as read, `None` if it does not exist),
/// through the shared fold, applied to the item in memory.
pub(super) fn apply_delta(
    prior: Option<StoredIssue>,
    batch: &BatchSummary,
    delta: &IssueDelta,
    now: i64,
    policy: &Policy,
) -> Result<(StoredIssue, Decision), StoreError> {
    let known = prior.as_ref().map(|item| fold::Prior {
        state: item.state(),
        first_seen: item.issue.first_seen,
        last_seen: item.issue.last_seen,
    });
    let mut item = prior.unwrap_or_else(|| StoredIssue::new(batch, delta, now));
    let stored_in_window = match fold::threshold_window(delta, policy) {
        Some(window) => item
            .hours
            .iter()
            .filter(|h| window.contains(&h.hour))
            .fold(0u64, |sum, h| sum.saturating_add(h.count)),
        None => 0,
    };
    let folded = fold::fold(known.as_ref(), delta, stored_in_window, policy, now);
    let state = &folded.decision.state;
    item.issue.first_seen = folded.first_seen;
    item.issue.last_seen = folded.last_seen;
    item.issue.status = state.status;
    item.issue.count = state.count;
    item.issue.resolved_in = state.resolved_in.clone();
    item.issue.ignored_until = state.ignored_until;
    item.issue.ignored_until_count = state.ignored_until_count;
    item.last_alert_at = state.last_alert_at;
    item.threshold_alerted_at = state.threshold_alerted_at;
    if folded.regressed_at.is_some() {
        item.issue.regressed_at = folded.regressed_at;
    }
    for h in &delta.hours {
        match item.hours.iter_mut().find(|kept| kept.hour == h.hour) {
            Some(kept) => kept.count = kept.count.saturating_add(h.count),
            None => item.hours.push(*h),
        }
    }
    let oldest = fold::oldest_hour_kept(delta);
    item.hours.retain(|h| h.hour >= oldest);
    item.hours.sort_by_key(|h| h.hour);
    let mut book = facet_book(&item.facets);
    for facet in &delta.facets {
        if let Some(counted) = book.admit(facet) {
            add_facet(&mut item.facets, &counted);
        }
    }
    let kept = item
        .samples
        .iter()
        .map(|json| sample_timestamp(json).map(Some))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((slot, sample)) = fold::choose_sample(&kept, delta) {
        let json = stored_sample_json(sample)?;
        match item.samples.get_mut(slot) {
            Some(kept) => *kept = json,
            None => item.samples.push(json),
        }
    }
    Ok((item, folded.decision))
}

/// When a stored sample happened: all [`fold::choose_sample`] needs of it.
pub(super) fn sample_timestamp(json: &str) -> Result<i64, StoreError> {
    #[derive(serde::Deserialize)]
    struct Stamp {
        timestamp: i64,
    }
    serde_json::from_str::<Stamp>(json)
        .map(|s| s.timestamp)
        .map_err(|e| StoreError::Corrupt(format!("a stored sample: {e}")))
}
