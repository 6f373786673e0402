//! The fold of a batch into its runs, written once for both stores.
//!
//! Like [`super::fold`] for issues: a store reads what it keeps of a run,
//! asks this module what a batch does to it, and writes the answer in its
//! own atomic way. What it decides:
//!
//! - a run's start is the earliest one stated, its end the latest (a
//!   redriven execution ends again), and the processing time an end was
//!   recorded at, from which the store waits before settling the run;
//! - a job event names the job and the run authoritatively, log events only
//!   name a run nothing else named;
//! - errors of a run that succeeded are recovered: it got past each of
//!   them, by a retry or a catch, including errors whose logs arrive after
//!   its end;
//! - a new issue's alert is held ([`hold`]) while every occurrence was
//!   recovered, or while `alert_after_runs` waits for more runs.

use std::collections::HashMap;

use crate::model::{
    Alert, AlertIssue, BatchSummary, EventType, IssueDelta, Outcome, Run, RunDelta, RunIssue,
    Sample, issue_id, run_id,
};
use crate::runs::lifecycle::{self, RunRules};

/// A run as a store keeps it, with what settling it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    /// The run; its `issues` are kept apart and may be left empty here.
    pub run: Run,
    /// Processing time its current end was recorded at.
    pub ended_at: Option<i64>,
    /// Its number among its job's settled runs, once settled.
    pub seq: Option<u64>,
}

/// What folding a delta into a run changed that needs more than the run's
/// own record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunChange {
    /// The run now counts as succeeded, and did not before: every error it
    /// had is recovered.
    pub succeeded_now: bool,
}

/// Folds `delta` into the run `prior` (`None`: the run is new). `now` is
/// processing time.
pub fn fold_run(prior: Option<&StoredRun>, delta: &RunDelta, now: i64) -> (StoredRun, RunChange) {
    let from_event = delta.log_group.is_empty();
    let mut stored = match prior {
        Some(p) => p.clone(),
        None => StoredRun {
            run: Run {
                id: run_id(&delta.key),
                key: delta.key.clone(),
                source: delta.source,
                job: delta.job.clone(),
                name: delta.name.clone(),
                log_group: String::new(),
                started: None,
                ended: None,
                outcome: Outcome::Running,
                last_event: 0,
                errors: 0,
                recovered: 0,
                items: None,
                failed_items: None,
                issues: Vec::new(),
                settled_at: None,
            },
            ended_at: None,
            seq: None,
        },
    };
    let was_succeeded = stored.run.outcome == Outcome::Succeeded;
    let run = &mut stored.run;
    if (from_event || run.job.is_empty()) && !delta.job.is_empty() {
        run.job = delta.job.clone();
        run.source = delta.source;
        if !delta.name.is_empty() {
            run.name = delta.name.clone();
        }
    }
    if run.log_group.is_empty() {
        run.log_group = delta.log_group.clone();
    }
    if let Some(started) = delta.started {
        run.started = Some(run.started.map_or(started, |s| s.min(started)));
    }
    if let Some((at, outcome)) = delta.ended {
        if run.ended.is_none_or(|e| at > e) {
            run.ended = Some(at);
            run.outcome = outcome;
            stored.ended_at = Some(now);
            if run.settled_at.is_some() {
                // Ended again (a redrive): it settles again.
                run.settled_at = None;
            }
        }
    }
    if let Some(last) = delta.last_event {
        run.last_event = run.last_event.max(last);
    }
    let succeeded = run.outcome == Outcome::Succeeded;
    run.errors += delta.errors;
    run.recovered += if succeeded {
        delta.errors
    } else {
        delta.recovered
    };
    if succeeded && !was_succeeded {
        run.recovered = run.errors;
    }
    if let Some(items) = delta.items {
        run.items = Some(run.items.map_or(items, |n| n.max(items)));
    }
    if let Some(failed) = delta.failed_items {
        run.failed_items = Some(run.failed_items.map_or(failed, |n| n.max(failed)));
    }
    (
        stored,
        RunChange {
            succeeded_now: succeeded && !was_succeeded,
        },
    )
}

/// What one batch adds to one issue of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueAdd {
    pub issue_id: String,
    pub count: u64,
    pub recovered: u64,
}

/// The issues a run delta adds to, by issue id.
pub fn issue_adds(delta: &RunDelta) -> Vec<IssueAdd> {
    delta
        .issues
        .iter()
        .map(|i| IssueAdd {
            issue_id: issue_id(&i.fingerprint),
            count: i.count,
            recovered: i.recovered,
        })
        .collect()
}

/// What a run's issue records as recovered when `add` comes in: all of it
/// once the run succeeded (it got past every error), else what the retry
/// scan found.
pub fn recovered_of(add: &IssueAdd, run_succeeded: bool) -> u64 {
    if run_succeeded {
        add.count
    } else {
        add.recovered
    }
}

/// The counts of a part (a Batch job's attempt, logged under its ECS task)
/// that wait for the job event saying whether a later attempt recovered
/// them: the occurrences no retry got past yet.
pub fn pending_of(add: &IssueAdd) -> u64 {
    add.count - add.recovered.min(add.count)
}

/// `delta`, logged under the key of a part of the run `run_key`, as that
/// run receives it: its counts only (a part's own start and end are an
/// attempt's, not the run's), all recovered when the part is known to have
/// been (`recovered`), as are `adds`.
pub fn part_to_run(
    delta: &RunDelta,
    run_key: &str,
    recovered: Option<bool>,
    adds: &mut [IssueAdd],
) -> RunDelta {
    let mut to_run = delta.clone();
    to_run.key = run_key.to_string();
    to_run.job = String::new();
    to_run.name = String::new();
    to_run.started = None;
    to_run.ended = None;
    to_run.parts = Vec::new();
    if recovered == Some(true) {
        to_run.recovered = to_run.errors;
        for add in adds.iter_mut() {
            add.recovered = add.count;
        }
    }
    to_run
}

/// A run recorded under a part's key before the job event named it a part
/// of `run_key` (its logs came first), as a delta and issue counts that
/// fold it into that run; `known`: whether the part recovered, if that is
/// known.
pub fn merge_part(
    part: &Run,
    issues: &[RunIssue],
    run_key: &str,
    known: Option<bool>,
) -> (RunDelta, Vec<IssueAdd>) {
    let recovered_all = known == Some(true);
    let adds = part_adds(issues, recovered_all);
    let mut to_run = RunDelta::new(
        run_key.to_string(),
        part.source,
        String::new(),
        String::new(),
    );
    to_run.log_group = part.log_group.clone();
    to_run.last_event = Some(part.last_event).filter(|t| *t > 0);
    to_run.errors = part.errors;
    to_run.recovered = if recovered_all {
        part.errors
    } else {
        part.recovered
    };
    to_run.items = part.items;
    to_run.failed_items = part.failed_items;
    (to_run, adds)
}

/// A folded part's issues as counts its run receives: all recovered when
/// the part is known to have recovered (`recovered_all`).
pub fn part_adds(issues: &[RunIssue], recovered_all: bool) -> Vec<IssueAdd> {
    issues
        .iter()
        .map(|i| IssueAdd {
            issue_id: i.id.clone(),
            count: i.count,
            recovered: if recovered_all { i.count } else { i.recovered },
        })
        .collect()
}

/// How many of an issue's occurrences in a batch belong to a run, and how
/// many of those a retry got past.
pub fn in_runs(batch: &BatchSummary, fingerprint: &str) -> (u64, u64) {
    batch
        .runs
        .iter()
        .flat_map(|r| r.issues.iter())
        .filter(|i| i.fingerprint == fingerprint)
        .fold((0, 0), |(c, r), i| (c + i.count, r + i.recovered))
}

/// Whether an issue's new-issue alert goes out now, is held, or stays
/// held. `alert` is the policy's decision for the batch, `held` whether the
/// alert was held before it. Returns the alert to raise and whether it is
/// held after the batch.
///
/// A new issue is held when a retry got past every occurrence (unless the
/// policy alerts on recovered errors), or when `alert_after_runs` > 1 and
/// every occurrence belongs to a run (settling runs releases it). A held
/// issue is announced by the first occurrence no retry got past, unless
/// runs are still being counted for it; one outside any run cannot be
/// counted, so it is announced.
pub fn hold(
    alert: Option<EventType>,
    held: bool,
    delta: &IssueDelta,
    batch: &BatchSummary,
    rules: &RunRules,
) -> (Option<EventType>, bool) {
    let (runs_count, recovered) = in_runs(batch, &delta.fingerprint);
    let all_recovered = recovered >= delta.count && !rules.alert_recovered;
    let counted_in_runs = rules.alert_after > 1 && runs_count >= delta.count && runs_count > 0;
    if alert == Some(EventType::NewIssue) {
        if all_recovered || counted_in_runs {
            return (None, true);
        }
        return (alert, false);
    }
    if held && !all_recovered && !counted_in_runs {
        // Held, and now an occurrence announces it; whatever else the
        // policy decided (a regression cannot happen to a held issue, a
        // threshold can) it is news first.
        return (Some(EventType::NewIssue), false);
    }
    (alert, held)
}

/// What an alert about an issue says of it, as a store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueInfo {
    pub fingerprint: String,
    pub kind: String,
    pub title: String,
    pub count: u64,
    pub first_seen: i64,
    pub sample: Option<Sample>,
}

/// The run digest of a settled run, as an alert: one message whatever the
/// run had, with every issue it names in `issue_ids`. Its id names the run
/// and its end, so settling twice cannot queue it twice, and a run that
/// ends again (a redrive) gets a digest of its own.
pub fn digest_alert(run: &Run, issues: &HashMap<String, IssueInfo>, now: i64) -> Alert {
    let titles: HashMap<String, (String, String)> = issues
        .iter()
        .map(|(id, i)| (id.clone(), (i.kind.clone(), i.title.clone())))
        .collect();
    let digest = lifecycle::digest(run, &titles);
    Alert {
        id: format!("run:{}:{}:digest", run.id, run.ended.unwrap_or(0)),
        event_type: EventType::RunDigest,
        log_group: run.log_group.clone(),
        created_at: now,
        issues: digest
            .issues
            .iter()
            .map(|d| AlertIssue {
                id: d.id.clone(),
                fingerprint: issues
                    .get(&d.id)
                    .map(|i| i.fingerprint.clone())
                    .unwrap_or_default(),
                kind: d.kind.clone(),
                title: d.title.clone(),
                count: d.count,
                first_seen: issues.get(&d.id).map_or(0, |i| i.first_seen),
                sample: None,
            })
            .collect(),
        run: Some(digest),
    }
}

/// The new-issue alert of an issue whose alert was held, released when a
/// run settled.
pub fn announce_alert(
    run: &Run,
    issue_id: &str,
    info: &IssueInfo,
    log_group: &str,
    now: i64,
) -> Alert {
    Alert {
        id: format!("run:{}:new_issue:{issue_id}", run.id),
        event_type: EventType::NewIssue,
        log_group: log_group.to_string(),
        created_at: now,
        issues: vec![AlertIssue {
            id: issue_id.to_string(),
            fingerprint: info.fingerprint.clone(),
            kind: info.kind.clone(),
            title: info.title.clone(),
            count: info.count,
            first_seen: info.first_seen,
            sample: info.sample.clone(),
        }],
        run: None,
    }
}

/// The one new-issue alert of a settlement whose announcements are folded
/// ([`lifecycle::Settlement::announce_folded`]): the run, as its digest
/// names it, with the announced issues listed as a digest lists them (at
/// most [`lifecycle::MAX_DIGEST_ISSUES`], the rest counted), counting
/// only their errors. `infos` needs only the listed issues. Its id names
/// the run and its end, like the digest's: the stores queue it in the
/// write that settles the run, so it cannot be queued twice, and a run
/// that ends again folds what it announces then into an alert of its own.
/// `alert_after` is the policy's `alert_after_runs`, which its text names.
pub fn announced_alert(
    run: &Run,
    announce: &[String],
    infos: &HashMap<String, IssueInfo>,
    alert_after: u32,
    now: i64,
) -> Alert {
    let announced: std::collections::HashSet<&str> = announce.iter().map(String::as_str).collect();
    let mut of_them = run.clone();
    of_them.issues = run
        .issues
        .iter()
        .filter(|i| announced.contains(i.id.as_str()))
        .map(|i| RunIssue {
            new: true,
            ..i.clone()
        })
        .collect();
    of_them.errors = of_them.issues.iter().map(|i| i.count).sum();
    of_them.recovered = of_them.issues.iter().map(|i| i.recovered).sum();
    // The run's items speak of all its errors, not of these.
    of_them.items = None;
    of_them.failed_items = None;
    let mut alert = digest_alert(&of_them, infos, now);
    alert.id = format!("run:{}:{}:new_issue:digest", run.id, run.ended.unwrap_or(0));
    alert.event_type = EventType::NewIssue;
    if let Some(digest) = &mut alert.run {
        digest.held_for_runs = Some(alert_after);
    }
    for issue in &mut alert.issues {
        if let Some(info) = infos.get(&issue.id) {
            issue.count = info.count;
            issue.sample = info.sample.clone();
        }
    }
    alert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RunIssueDelta, RunSource};

    fn delta(errors: u64, recovered: u64) -> RunDelta {
        let mut d = RunDelta::new(
            "sfn:arn".into(),
            RunSource::StepFunctions,
            "nightly".into(),
            "x".into(),
        );
        d.log_group = "/g".into();
        d.errors = errors;
        d.recovered = recovered;
        d
    }

    #[test]
    fn ends_are_kept_latest_and_a_success_recovers_every_error() {
        let (first, _) = fold_run(None, &delta(3, 1), 10);
        assert_eq!((first.run.errors, first.run.recovered), (3, 1));
        assert_eq!(first.run.outcome, Outcome::Running);
        let mut end = delta(0, 0);
        end.ended = Some((500, Outcome::Succeeded));
        end.log_group = String::new();
        end.job = "nightly-billing".into();
        let (ended, change) = fold_run(Some(&first), &end, 20);
        assert!(change.succeeded_now);
        assert_eq!((ended.run.errors, ended.run.recovered), (3, 3));
        assert_eq!(ended.ended_at, Some(20));
        assert_eq!(
            ended.run.job, "nightly-billing",
            "a job event names the job"
        );
        let (late, change) = fold_run(Some(&ended), &delta(2, 0), 30);
        assert!(!change.succeeded_now);
        assert_eq!(
            (late.run.errors, late.run.recovered),
            (5, 5),
            "late logs of a succeeded run"
        );
        let mut earlier = delta(0, 0);
        earlier.ended = Some((400, Outcome::Failed));
        let (kept, _) = fold_run(Some(&late), &earlier, 40);
        assert_eq!(
            (kept.run.ended, kept.run.outcome),
            (Some(500), Outcome::Succeeded)
        );
    }

    #[test]
    fn a_settled_run_that_ends_again_settles_again() {
        let mut end = delta(0, 0);
        end.ended = Some((500, Outcome::Failed));
        let (mut settled, _) = fold_run(None, &end, 10);
        settled.run.settled_at = Some(11);
        end.ended = Some((900, Outcome::Succeeded));
        let (redriven, _) = fold_run(Some(&settled), &end, 20);
        assert_eq!(redriven.run.settled_at, None);
        assert_eq!(redriven.run.outcome, Outcome::Succeeded);
    }

    #[test]
    fn new_issues_are_held_while_recovered_or_while_runs_are_counted() {
        let issue = IssueDelta {
            fingerprint: "fp".into(),
            kind: "E".into(),
            title: "E".into(),
            count: 2,
            first_seen: 1,
            last_seen: 2,
            samples: Vec::new(),
            hours: Vec::new(),
            facets: Vec::new(),
            versions: Vec::new(),
            previous: Vec::new(),
        };
        let batch_with = |count: u64, recovered: u64| {
            let mut run = delta(count, recovered);
            run.issues = vec![RunIssueDelta {
                fingerprint: "fp".into(),
                count,
                recovered,
            }];
            BatchSummary {
                batch_id: "b".into(),
                owner: "1".into(),
                log_group: "/g".into(),
                log_stream: "s".into(),
                events: 2,
                errors: 2,
                issues: vec![issue.clone()],
                runs: if count > 0 { vec![run] } else { Vec::new() },
            }
        };
        let rules = RunRules::default();
        let new = Some(EventType::NewIssue);
        assert_eq!(
            hold(new, false, &issue, &batch_with(2, 0), &rules),
            (new, false)
        );
        assert_eq!(
            hold(new, false, &issue, &batch_with(2, 2), &rules),
            (None, true)
        );
        assert_eq!(
            hold(None, true, &issue, &batch_with(2, 1), &rules),
            (new, false)
        );
        assert_eq!(
            hold(None, true, &issue, &batch_with(2, 2), &rules),
            (None, true)
        );
        let counting = RunRules {
            alert_after: 2,
            ..RunRules::default()
        };
        assert_eq!(
            hold(new, false, &issue, &batch_with(2, 0), &counting),
            (None, true)
        );
        assert_eq!(
            hold(None, true, &issue, &batch_with(2, 0), &counting),
            (None, true)
        );
        assert_eq!(
            hold(None, true, &issue, &batch_with(0, 0), &counting),
            (new, false),
            "occurrences outside any run cannot be counted in runs"
        );
        let recovered_alerts = RunRules {
            alert_recovered: true,
            ..RunRules::default()
        };
        assert_eq!(
            hold(new, false, &issue, &batch_with(2, 2), &recovered_alerts),
            (new, false)
        );
    }
}
