//! The pure planner: what a transaction writes, decided from the issues as
//! read through the shared fold ([`crate::store::fold`]).
//!
//! A transaction holds one or more *parts*: a chunk of one batch's issues
//! each. A batch too big for one transaction is recorded in several, one
//! part each; the small batches of a stream invocation share one, so that
//! an issue they all touch is written once for all of them (its head and
//! days are billed by size, not by what changed). Parts are applied in
//! order to one working copy of each issue, exactly as recording the
//! batches one after the other would.

use std::collections::{BTreeSet, HashMap};

use super::bounds::{
    MAX_SEPARATE_NEW_ISSUE_ALERTS, MAX_TRANSACTION_ACTIONS, bound_alert, stored_sample_json,
};
use super::items::StoredIssue;
use super::parts::{Day, day_of, days_written};
use crate::model::{Alert, BatchSummary, EventType, HeldBack, IssueDelta, issue_id};
use crate::policy::{self, Decision, Policy};
use crate::store::StoreError;
use crate::store::{fold, run_fold};

/// An issue's days as read (and, while planning, as changed): by issue id
/// and midnight of the day. A day not in it was not there.
pub(super) type Days = HashMap<(String, i64), Day>;

/// One batch's share of a transaction.
pub(super) struct Part<'a> {
    pub batch: &'a BatchSummary,
    /// The deltas of the batch's chunk, each carrying the fingerprint of
    /// the issue that takes it (routed).
    pub deltas: &'a [IssueDelta],
    /// Whether this is the batch's last chunk (the one that queues its
    /// new-issue alerts).
    pub is_last: bool,
    /// Fingerprints earlier chunks of the batch created (last chunk only).
    pub earlier_new: &'a [String],
    /// The issues the batch takes no sample of: its runs had them already
    /// ([`crate::store::run_book::unsampled`]).
    pub unsampled: &'a BTreeSet<String>,
}

/// What a transaction writes, decided from what was read.
pub(super) struct PackPlan {
    pub writes: Vec<IssueWrite>,
    /// The days the parts changed, whole (a Put each: the head's condition
    /// guards them, since every write to a day rewrites its issue's head).
    pub days: Vec<(String, Day)>,
    /// The samples chosen for slots, whole (a Put each, guarded by the
    /// head's condition as the days are); one per slot, the last chosen.
    pub samples: Vec<SampleWrite>,
    /// What each part decided, in part order.
    pub parts: Vec<PartPlan>,
}

impl PackPlan {
    /// The actions the transaction takes: a marker per part, the writes,
    /// `aliases`, and the alerts.
    pub fn actions(&self, aliases: usize) -> usize {
        self.parts.len()
            + self.writes.len()
            + self.days.len()
            + self.samples.len()
            + aliases
            + self.parts.iter().map(|p| p.alerts.len()).sum::<usize>()
    }
}

/// What one part decided: its alerts, and what its marker records.
#[derive(Debug, Default)]
pub(super) struct PartPlan {
    pub alerts: Vec<Alert>,
    pub new_issues: Vec<String>,
    pub regressions: Vec<String>,
    pub held_back: Vec<(String, HeldBack)>,
    /// Fingerprints of the issues this part created with a new-issue
    /// decision, for the batch's last chunk (empty in the last chunk).
    pub marker_new: Vec<String>,
}

pub(super) struct IssueWrite {
    /// `None`: the issue did not exist and this write creates it.
    pub read_ver: Option<u64>,
    pub item: StoredIssue,
}

/// A sample chosen for a slot ([`fold::choose_sample`]).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SampleWrite {
    pub id: String,
    pub slot: usize,
    pub timestamp: i64,
    pub json: String,
}

/// What a transaction read before it is planned.
pub(super) struct PackRead<'a> {
    /// The heads of its issues, by id.
    pub current: &'a HashMap<String, StoredIssue>,
    /// The days of theirs that exist.
    pub days: &'a Days,
    /// How many aliases the transaction writes (each an action).
    pub aliases: usize,
}

/// Applies each part's deltas to the issues as read, part after part and
/// in batch order within a part, each through [`apply_delta`]: the same
/// steps as the SQLite store's.
pub(super) fn plan_pack(
    parts: &[Part<'_>],
    read: &PackRead<'_>,
    now: i64,
    policy: &Policy,
) -> Result<PackPlan, StoreError> {
    let mut working: HashMap<String, StoredIssue> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut days: Days = Days::new();
    let mut touched: BTreeSet<(String, i64)> = BTreeSet::new();
    let mut samples: Vec<SampleWrite> = Vec::new();
    let rules = policy.run_rules();
    let mut decided: Vec<(PartPlan, Vec<(EventType, &IssueDelta)>)> = Vec::new();
    for part in parts {
        let batch = part.batch;
        let mut plan = PartPlan::default();
        let mut raised: Vec<(EventType, &IssueDelta)> = Vec::new();
        for delta in part.deltas {
            let id = issue_id(&delta.fingerprint);
            // A batch normally has one delta per issue; two fingerprints
            // sharing an id (a 48-bit collision), or two batches of one
            // transaction, apply one after the other, as in SQLite.
            let prior = match working.remove(&id) {
                Some(item) => Some(item),
                None => {
                    order.push(id.clone());
                    read.current.get(&id).cloned()
                }
            };
            let created = prior.is_none();
            let held = prior.as_ref().is_some_and(|p| p.held);
            for day in super::parts::days_read(delta, policy) {
                let key = (id.clone(), day);
                if let std::collections::hash_map::Entry::Vacant(slot) = days.entry(key) {
                    let stored = read.days.get(slot.key()).cloned();
                    slot.insert(stored.unwrap_or_else(|| Day::new(day)));
                }
            }
            let (mut item, decision, sample) = apply_delta(
                prior,
                &id,
                &mut days,
                &mut touched,
                batch,
                delta,
                part.unsampled.contains(&id),
                now,
                policy,
            )?;
            samples.extend(sample);
            // Runs may hold a new issue's alert back (all of it recovered, or
            // alert_after_runs counting), as in the SQLite store.
            let (alert, held_after) = run_fold::hold(decision.alert, held, delta, batch, &rules);
            item.held = held_after;
            if created {
                plan.new_issues.push(id.clone());
            }
            if decision.regressed {
                plan.regressions.push(id.clone());
            }
            if let Some(why) = policy::held_back(created, &decision, alert) {
                plan.held_back.push((id.clone(), why));
            }
            if let Some(event_type) = alert {
                raised.push((event_type, delta));
            }
            working.insert(id, item);
        }
        decided.push((plan, raised));
    }
    let mut writes = Vec::with_capacity(order.len());
    for id in order {
        if let Some(mut item) = working.remove(&id) {
            let read_ver = read.current.get(&id).map(|c| c.ver);
            item.ver = read_ver.map_or(1, |v| v.saturating_add(1));
            writes.push(IssueWrite { read_ver, item });
        }
    }
    let days: Vec<(String, Day)> = touched
        .into_iter()
        .filter_map(|key| days.remove(&key).map(|day| (key.0, day)))
        .collect();
    // A slot chosen twice (by two batches of the transaction) is written
    // once, with the sample the head now names: a transaction may not
    // touch one item twice.
    let mut slot_at: HashMap<(String, usize), usize> = HashMap::new();
    let mut kept: Vec<SampleWrite> = Vec::with_capacity(samples.len());
    for sample in samples {
        match slot_at.get(&(sample.id.clone(), sample.slot)) {
            Some(&at) => kept[at] = sample,
            None => {
                slot_at.insert((sample.id.clone(), sample.slot), kept.len());
                kept.push(sample);
            }
        }
    }
    let samples = kept;

    // New-issue alerts wait for the batch's last chunk (see the module
    // doc); the others are queued with the decision that raised them.
    let mut queued_by_part: Vec<Vec<(EventType, &IssueDelta)>> = Vec::with_capacity(parts.len());
    let mut plans: Vec<PartPlan> = Vec::with_capacity(parts.len());
    for (part, (mut plan, raised)) in parts.iter().zip(decided) {
        let mut queued: Vec<(EventType, &IssueDelta)> = Vec::new();
        if part.is_last {
            if !part.earlier_new.is_empty() {
                let by_fingerprint: HashMap<&str, &IssueDelta> = part
                    .batch
                    .issues
                    .iter()
                    .map(|d| (d.fingerprint.as_str(), d))
                    .collect();
                for fingerprint in part.earlier_new {
                    match by_fingerprint.get(fingerprint.as_str()) {
                        Some(delta) => queued.push((EventType::NewIssue, delta)),
                        // Only if the batch was summarised differently when
                        // the earlier chunk was written (a deploy in
                        // between): the issue exists, only its announcement
                        // is lost.
                        None => tracing::warn!(batch = %part.batch.batch_id, %fingerprint,
                            "an earlier chunk's new issue is not in this batch; not announced"),
                    }
                }
            }
            queued.extend(raised);
        } else {
            for (event_type, delta) in raised {
                if event_type == EventType::NewIssue {
                    plan.marker_new.push(delta.fingerprint.clone());
                } else {
                    queued.push((event_type, delta));
                }
            }
        }
        queued_by_part.push(queued);
        plans.push(plan);
    }
    // Separate new-issue alerts only while they fit the transaction beside
    // everything else it writes; past that, one digest per batch (the
    // chunking kept room for it: [`super::bounds::chunk_ranges`]).
    let others: usize = queued_by_part
        .iter()
        .flatten()
        .filter(|(t, _)| *t != EventType::NewIssue)
        .count();
    let mut room = MAX_TRANSACTION_ACTIONS.saturating_sub(
        parts.len() + writes.len() + days.len() + samples.len() + read.aliases + others,
    );
    let announcing =
        |queued: &[(EventType, &IssueDelta)]| queued.iter().any(|(t, _)| *t == EventType::NewIssue);
    for (i, (part, queued)) in parts.iter().zip(&queued_by_part).enumerate() {
        // Each later part that announces keeps at least its digest's room.
        let later = queued_by_part[i + 1..]
            .iter()
            .filter(|q| announcing(q))
            .count();
        let digest_over = policy
            .digest_over
            .min(MAX_SEPARATE_NEW_ISSUE_ALERTS)
            .min(room.saturating_sub(later));
        let mut alerts = policy::alerts_for_batch(part.batch, queued, digest_over, now);
        for alert in &mut alerts {
            bound_alert(alert);
        }
        let news = alerts
            .iter()
            .filter(|a| a.event_type == EventType::NewIssue)
            .count();
        room = room.saturating_sub(news);
        if let Some(plan) = plans.get_mut(i) {
            plan.alerts = alerts;
        }
    }
    Ok(PackPlan {
        writes,
        days,
        samples,
        parts: plans,
    })
}

/// One delta on one issue (`prior`: its head as read, `None` if it does not
/// exist), through the shared fold, applied in memory to its head and to
/// the days in `days` (which hold every day [`super::parts::days_read`]
/// names for it); the days it changed are added to `touched`. No sample
/// when `in_its_runs` ([`fold::choose_sample`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn apply_delta(
    prior: Option<StoredIssue>,
    id: &str,
    days: &mut Days,
    touched: &mut BTreeSet<(String, i64)>,
    batch: &BatchSummary,
    delta: &IssueDelta,
    in_its_runs: bool,
    now: i64,
    policy: &Policy,
) -> Result<(StoredIssue, Decision, Option<SampleWrite>), StoreError> {
    let known = prior.as_ref().map(|item| fold::Prior {
        state: item.state(),
        first_seen: item.issue.first_seen,
        last_seen: item.issue.last_seen,
    });
    let mut item = prior.unwrap_or_else(|| StoredIssue::new(batch, delta, now));
    let stored_in_window = match fold::threshold_window(delta, policy) {
        Some(window) => days
            .iter()
            .filter(|((of, _), _)| of == id)
            .flat_map(|(_, day)| day.hour_counts())
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
    // A day not read was not there (the caller read every day it writes).
    for day in days_written(delta) {
        days.entry((id.to_string(), day))
            .or_insert_with(|| Day::new(day));
    }
    let oldest = fold::oldest_hour_kept(delta);
    for h in delta.hours.iter().filter(|h| h.hour >= oldest) {
        let key = (id.to_string(), day_of(h.hour));
        if let Some(day) = days.get_mut(&key) {
            day.add_hour(h);
            touched.insert(key);
        }
    }
    // A batch's facets are counted on the day of its last occurrence.
    let facet_day = (id.to_string(), day_of(delta.last_seen));
    if !delta.facets.is_empty()
        && let Some(day) = days.get_mut(&facet_day)
    {
        let mut book = day.facet_book();
        for facet in &delta.facets {
            if let Some(counted) = book.admit(facet) {
                day.add_facet(&counted);
            }
        }
        touched.insert(facet_day);
    }
    let sample = match fold::choose_sample(&item.slots, delta, in_its_runs) {
        Some((slot, sample)) => {
            if item.slots.len() <= slot {
                item.slots.resize(slot + 1, None);
            }
            item.slots[slot] = Some(sample.timestamp);
            Some(SampleWrite {
                id: id.to_string(),
                slot,
                timestamp: sample.timestamp,
                json: stored_sample_json(sample)?,
            })
        }
        None => None,
    };
    Ok((item, folded.decision, sample))
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
