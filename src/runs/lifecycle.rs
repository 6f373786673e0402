//! What a run's end does: a lifecycle counted in runs, not in days.
//!
//! When a run has ended (or, without an end event, gone quiet) and the
//! delivery of its last logs had time to arrive, the store *settles* it, in
//! one atomic step per run, asking this module what settling does:
//!
//! - the run gets the next sequence number of its job's settled runs;
//! - each issue the run had extends (or restarts) its streak of
//!   consecutive runs, and a new issue whose alert was held
//!   (`alert_after_runs = N`) is announced once its streak reaches N: an
//!   alert each, or one alert for them all when they are more than
//!   [`MAX_SEPARATE_NEW_ISSUE_ALERTS`] (a job whose errors do not group
//!   well would otherwise release thousands of alerts at once);
//! - each open issue of the job that K consecutive settled runs did not
//!   have (`auto_resolve_after_runs = K`) is resolved: if it comes back,
//!   that is a regression, with its alert;
//! - the run's digest is sent when `run_digest` says so.
//!
//! Pure: the store reads what these functions need and writes what they
//! return.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_JOB_ISSUES, MAX_SEPARATE_NEW_ISSUE_ALERTS};
use crate::model::{DigestIssue, Outcome, Run, RunDigest, Status};

/// Which runs send a digest when they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestMode {
    /// Runs that failed, timed out or were aborted, and runs that ended
    /// without saying how but had errors no retry got past.
    #[default]
    Failed,
    Always,
    Never,
}

/// The policy's rules about runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRules {
    /// Resolve an open issue once this many consecutive settled runs of its
    /// job did not have it.
    pub auto_resolve_after: Option<u32>,
    /// Hold a new issue's alert until it has appeared in this many
    /// consecutive runs of its job (1: alert at once).
    pub alert_after: u32,
    pub digest: DigestMode,
    /// Alert on new issues whose every occurrence was recovered.
    pub alert_recovered: bool,
    /// A run without an end event ends when its log has been quiet this
    /// long (ms).
    pub quiet_ms: i64,
}

impl Default for RunRules {
    fn default() -> Self {
        RunRules {
            auto_resolve_after: None,
            alert_after: 1,
            digest: DigestMode::Failed,
            alert_recovered: false,
            quiet_ms: 30 * 60_000,
        }
    }
}

/// What the store keeps about one issue within one job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobIssue {
    pub issue_id: String,
    /// Sequence number of the latest settled run of the job that had it.
    pub last_run: u64,
    /// Consecutive settled runs, up to `last_run`, that had it.
    pub streak: u32,
}

/// What the store knows of an issue that settling a run may change.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueNow {
    pub status: Status,
    /// Its latest occurrence anywhere (epoch ms).
    pub last_seen: i64,
    /// Its new-issue alert is still owed.
    pub held: bool,
}

/// What settling one run does.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settlement {
    /// The run's sequence number within its job.
    pub seq: u64,
    /// The job-issue records to write (the run's issues).
    pub job_issues: Vec<JobIssue>,
    /// Issues whose held new-issue alert goes out now.
    pub announce: Vec<String>,
    /// `announce` goes out as one alert naming the run, not an alert per
    /// issue: the stores still clear every announced issue's hold.
    pub announce_folded: bool,
    /// Open issues of the job to resolve.
    pub resolve: Vec<String>,
    /// Job-issue records no later settlement needs, to delete. A record
    /// serves the issue's streak, which only the next run can continue,
    /// and auto-resolution, which only waits on issues still open: kept
    /// beyond that, a job's records grow by every issue it ever had (30
    /// bytes each in DynamoDB's one job item, which cannot pass 400 KB),
    /// and settling reads every one of those issues. Past
    /// [`MAX_JOB_ISSUES`], records settling needs least are forgotten too.
    pub forget: Vec<String>,
    pub digest: bool,
}

/// Settles `run`, the job's settled run number `seq`: `known` is what the
/// store keeps about every issue of the run's job, `issues` the current
/// state of those and of the run's own issues. The job keeps at most
/// [`MAX_JOB_ISSUES`] records (see [`keep_at_most`]).
pub fn settle(
    run: &Run,
    seq: u64,
    known: &[JobIssue],
    issues: &HashMap<String, IssueNow>,
    rules: &RunRules,
) -> Settlement {
    settle_within(run, seq, known, issues, rules, MAX_JOB_ISSUES)
}

fn settle_within(
    run: &Run,
    seq: u64,
    known: &[JobIssue],
    issues: &HashMap<String, IssueNow>,
    rules: &RunRules,
    max_records: usize,
) -> Settlement {
    let by_id: HashMap<&str, &JobIssue> = known.iter().map(|j| (j.issue_id.as_str(), j)).collect();
    let mut settlement = Settlement {
        seq,
        digest: wants_digest(run, rules.digest),
        ..Settlement::default()
    };
    for issue in &run.issues {
        let streak = match by_id.get(issue.id.as_str()) {
            Some(j) if j.last_run + 1 == seq => j.streak.saturating_add(1),
            Some(j) if j.last_run >= seq => j.streak,
            _ => 1,
        };
        settlement.job_issues.push(JobIssue {
            issue_id: issue.id.clone(),
            last_run: seq,
            streak,
        });
        let announced_now = issues.get(&issue.id).is_some_and(|i| i.held)
            && streak >= rules.alert_after
            && (issue.count > issue.recovered || rules.alert_recovered);
        if announced_now {
            settlement.announce.push(issue.id.clone());
        }
    }
    if let Some(k) = rules.auto_resolve_after.filter(|k| *k > 0) {
        // An occurrence since this run started (in a run still going, or
        // outside any run) means the issue is not gone.
        let since = run.started.or(run.ended).unwrap_or(i64::MAX);
        let in_run: HashSet<&str> = run.issues.iter().map(|i| i.id.as_str()).collect();
        for j in known {
            let Some(now) = issues.get(&j.issue_id) else {
                continue;
            };
            let clean = seq.saturating_sub(j.last_run);
            if !in_run.contains(j.issue_id.as_str())
                && j.last_run > 0
                && now.status == Status::Open
                && clean >= u64::from(k)
                && now.last_seen < since
            {
                settlement.resolve.push(j.issue_id.clone());
            }
        }
        settlement.resolve.sort();
    }
    let in_run: HashSet<&str> = run.issues.iter().map(|i| i.id.as_str()).collect();
    let auto_resolving = rules.auto_resolve_after.is_some_and(|k| k > 0);
    settlement.forget = known
        .iter()
        .map(|j| j.issue_id.as_str())
        .filter(|id| !in_run.contains(id))
        .filter(|id| {
            let waiting = auto_resolving
                && issues.get(*id).is_some_and(|i| i.status == Status::Open)
                && settlement
                    .resolve
                    .binary_search_by(|r| r.as_str().cmp(id))
                    .is_err();
            !waiting
        })
        .map(str::to_string)
        .collect();
    keep_at_most(&mut settlement, known, issues, rules, max_records);
    settlement.forget.sort();
    settlement.announce_folded = settlement.announce.len() > MAX_SEPARATE_NEW_ISSUE_ALERTS;
    settlement
}

/// Drops records from what `settlement` leaves the job until at most
/// `max_records` remain, those settling needs least first.
///
/// A dropped record costs its issue only what the record was for: its
/// streak restarts the next time a run has it (a held alert waits longer),
/// and, while it has none, it is not resolved by clean runs. So the job
/// keeps first the records of the run's issues whose new-issue alert is
/// still held (a missed alert is the worst loss, and holding is what
/// their streak is for), then those of open issues waiting for
/// auto-resolution (without their record they stay open, as with
/// auto-resolution off), then the run's other issues; within each, the
/// most recent, then the longest streak, so that an alert held by more
/// issues than the bound goes out for some of them each run instead of
/// restarting for all.
fn keep_at_most(
    settlement: &mut Settlement,
    known: &[JobIssue],
    issues: &HashMap<String, IssueNow>,
    rules: &RunRules,
    max_records: usize,
) {
    let in_run: HashSet<&str> = settlement
        .job_issues
        .iter()
        .map(|j| j.issue_id.as_str())
        .collect();
    let forgotten: HashSet<&str> = settlement.forget.iter().map(String::as_str).collect();
    let carried: Vec<&JobIssue> = known
        .iter()
        .filter(|j| {
            !in_run.contains(j.issue_id.as_str()) && !forgotten.contains(j.issue_id.as_str())
        })
        .collect();
    if settlement.job_issues.len() + carried.len() <= max_records {
        return;
    }
    let announced: HashSet<&str> = settlement.announce.iter().map(String::as_str).collect();
    let auto_resolving = rules.auto_resolve_after.is_some_and(|k| k > 0);
    let need = |j: &JobIssue, from_run: bool| {
        let now = issues.get(&j.issue_id);
        if from_run && now.is_some_and(|i| i.held) && !announced.contains(j.issue_id.as_str()) {
            0
        } else if auto_resolving && now.is_some_and(|i| i.status == Status::Open) {
            1
        } else {
            2
        }
    };
    let mut ranked: Vec<(u8, Reverse<u64>, Reverse<u32>, &str)> = settlement
        .job_issues
        .iter()
        .map(|j| (j, true))
        .chain(carried.iter().map(|j| (*j, false)))
        .map(|(j, from_run)| {
            (
                need(j, from_run),
                Reverse(j.last_run),
                Reverse(j.streak),
                j.issue_id.as_str(),
            )
        })
        .collect();
    ranked.sort_unstable();
    let dropped: HashSet<String> = ranked
        .get(max_records..)
        .unwrap_or_default()
        .iter()
        .map(|(.., id)| id.to_string())
        .collect();
    let known_ids: HashSet<&str> = known.iter().map(|j| j.issue_id.as_str()).collect();
    settlement.forget.extend(
        dropped
            .iter()
            .filter(|id| known_ids.contains(id.as_str()))
            .cloned(),
    );
    settlement
        .job_issues
        .retain(|j| !dropped.contains(&j.issue_id));
}

/// Whether a run that ended this way sends a digest.
pub fn wants_digest(run: &Run, mode: DigestMode) -> bool {
    match mode {
        DigestMode::Never => false,
        DigestMode::Always => true,
        DigestMode::Failed => {
            run.outcome.is_failure() || (run.outcome == Outcome::Unknown && run.unrecovered() > 0)
        }
    }
}

/// How many issues a digest names; the rest are counted. Chat and email
/// renderers show fewer still, but the stored digest stays small whatever
/// the run had.
pub const MAX_DIGEST_ISSUES: usize = 50;

/// The digest of a settled run: new issues first, then regressions, then
/// the known issues by unrecovered and total count. `titles` gives each
/// issue's kind and title.
pub fn digest(run: &Run, titles: &HashMap<String, (String, String)>) -> RunDigest {
    let mut issues: Vec<DigestIssue> = run
        .issues
        .iter()
        .map(|i| {
            let (kind, title) = titles.get(&i.id).cloned().unwrap_or_default();
            DigestIssue {
                id: i.id.clone(),
                kind,
                title,
                count: i.count,
                recovered: i.recovered,
                new: i.new,
                regressed: i.regressed,
            }
        })
        .collect();
    issues.sort_by_key(|i| {
        (
            Reverse(i.new),
            Reverse(i.regressed),
            Reverse(i.count - i.recovered.min(i.count)),
            Reverse(i.count),
            i.id.clone(),
        )
    });
    let more = issues.len().saturating_sub(MAX_DIGEST_ISSUES) as u64;
    issues.truncate(MAX_DIGEST_ISSUES);
    RunDigest {
        run_id: run.id.clone(),
        name: run.name.clone(),
        job: run.job.clone(),
        source: run.source,
        outcome: run.outcome,
        started: run.started,
        ended: run.ended,
        errors: run.errors,
        recovered: run.recovered,
        items: run.items,
        failed_items: run.failed_items,
        issues,
        more_issues: more,
        held_for_runs: None,
    }
}

/// The share of a run's items a count of failures is, as people read it:
/// `1.8% of 120,000 items`; `None` when the run did not say how many items
/// it had.
pub fn impact(failed: u64, items: Option<u64>) -> Option<String> {
    let items = items.filter(|n| *n > 0)?;
    Some(format!(
        "{} of {} items",
        share(failed, items)?,
        thousands(items)
    ))
}

/// `failed` as a percentage of `items`: `1.8%`, `30%`, `<0.1%`.
pub fn share(failed: u64, items: u64) -> Option<String> {
    if items == 0 {
        return None;
    }
    let share = failed as f64 * 100.0 / items as f64;
    Some(if share >= 10.0 || share == 0.0 {
        format!("{share:.0}%")
    } else if share >= 0.1 {
        format!("{share:.1}%")
    } else {
        "<0.1%".to_string()
    })
}

/// `120000` as `120,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RunIssue, RunSource};

    fn run(issues: &[(&str, u64, u64)], outcome: Outcome, started: i64) -> Run {
        Run {
            id: "r".into(),
            key: "sfn:x".into(),
            source: RunSource::StepFunctions,
            job: "nightly".into(),
            name: "x".into(),
            log_group: "/g".into(),
            started: Some(started),
            ended: Some(started + 100),
            outcome,
            last_event: started + 50,
            errors: issues.iter().map(|i| i.1).sum(),
            recovered: issues.iter().map(|i| i.2).sum(),
            items: None,
            failed_items: None,
            issues: issues
                .iter()
                .map(|(id, count, recovered)| RunIssue {
                    id: id.to_string(),
                    count: *count,
                    recovered: *recovered,
                    new: false,
                    regressed: false,
                })
                .collect(),
            settled_at: None,
        }
    }

    fn open(last_seen: i64, held: bool) -> IssueNow {
        IssueNow {
            status: Status::Open,
            last_seen,
            held,
        }
    }

    #[test]
    fn an_issue_absent_from_k_consecutive_runs_is_resolved() {
        let rules = RunRules {
            auto_resolve_after: Some(3),
            ..RunRules::default()
        };
        let known = vec![JobIssue {
            issue_id: "a".into(),
            last_run: 4,
            streak: 2,
        }];
        let issues = HashMap::from([("a".to_string(), open(1_000, false))]);
        let clean = run(&[], Outcome::Succeeded, 5_000);
        assert!(
            settle(&clean, 6, &known, &issues, &rules)
                .resolve
                .is_empty(),
            "2 clean runs"
        );
        assert_eq!(
            settle(&clean, 7, &known, &issues, &rules).resolve,
            vec!["a"]
        );
        let seen_since = HashMap::from([("a".to_string(), open(6_000, false))]);
        assert!(
            settle(&clean, 7, &known, &seen_since, &rules)
                .resolve
                .is_empty(),
            "it occurred after this run started, in another run or none"
        );
        let resolved = HashMap::from([(
            "a".to_string(),
            IssueNow {
                status: Status::Resolved,
                ..open(1_000, false)
            },
        )]);
        assert!(
            settle(&clean, 7, &known, &resolved, &rules)
                .resolve
                .is_empty()
        );
        let off = RunRules::default();
        assert!(settle(&clean, 9, &known, &issues, &off).resolve.is_empty());
    }

    #[test]
    fn streaks_count_consecutive_runs_and_release_held_alerts() {
        let rules = RunRules {
            alert_after: 3,
            ..RunRules::default()
        };
        let held = HashMap::from([("a".to_string(), open(1_000, true))]);
        let with_a = run(&[("a", 2, 0)], Outcome::Failed, 5_000);
        let first = settle(&with_a, 1, &[], &held, &rules);
        assert_eq!(first.job_issues[0].streak, 1);
        assert!(first.announce.is_empty());
        let second = settle(&with_a, 2, &first.job_issues, &held, &rules);
        assert_eq!(second.job_issues[0].streak, 2);
        let gap = settle(&with_a, 4, &second.job_issues, &held, &rules);
        assert_eq!(gap.job_issues[0].streak, 1, "run 3 did not have it");
        let third = settle(&with_a, 3, &second.job_issues, &held, &rules);
        assert_eq!(third.announce, vec!["a"]);
        let recovered_only = run(&[("a", 2, 2)], Outcome::Succeeded, 5_000);
        assert!(
            settle(&recovered_only, 3, &second.job_issues, &held, &rules)
                .announce
                .is_empty(),
            "recovered occurrences do not alert"
        );
        let not_held = HashMap::from([("a".to_string(), open(1_000, false))]);
        assert!(
            settle(&with_a, 3, &second.job_issues, &not_held, &rules)
                .announce
                .is_empty()
        );
    }

    #[test]
    fn announcements_past_the_separate_alert_bound_fold_into_one() {
        let ids: Vec<String> = (0..=MAX_SEPARATE_NEW_ISSUE_ALERTS)
            .map(|i| format!("i{i:03}"))
            .collect();
        let held: HashMap<String, IssueNow> = ids
            .iter()
            .map(|id| (id.clone(), open(1_000, true)))
            .collect();
        let settles = |n: usize| {
            let issues: Vec<(&str, u64, u64)> =
                ids[..n].iter().map(|id| (id.as_str(), 1, 0)).collect();
            settle(
                &run(&issues, Outcome::Failed, 5_000),
                1,
                &[],
                &held,
                &RunRules::default(),
            )
        };
        let at_bound = settles(MAX_SEPARATE_NEW_ISSUE_ALERTS);
        assert_eq!(at_bound.announce.len(), MAX_SEPARATE_NEW_ISSUE_ALERTS);
        assert!(!at_bound.announce_folded, "an alert each, as before");
        let past = settles(MAX_SEPARATE_NEW_ISSUE_ALERTS + 1);
        assert_eq!(past.announce, ids, "every issue is still announced");
        assert!(past.announce_folded);
    }

    #[test]
    fn a_job_keeps_the_records_of_its_last_run_and_of_open_issues_waiting_to_resolve() {
        let known: Vec<JobIssue> = ["in-run", "open", "resolved", "gone", "due"]
            .iter()
            .map(|id| JobIssue {
                issue_id: id.to_string(),
                last_run: if *id == "due" { 2 } else { 4 },
                streak: 1,
            })
            .collect();
        let issues = HashMap::from([
            ("in-run".to_string(), open(9_000, false)),
            ("open".to_string(), open(1_000, false)),
            (
                "resolved".to_string(),
                IssueNow {
                    status: Status::Resolved,
                    ..open(1_000, false)
                },
            ),
            ("due".to_string(), open(1_000, false)),
        ]);
        let with = run(&[("in-run", 1, 0)], Outcome::Failed, 5_000);
        // Without auto-resolution only a streak needs a record, and only
        // this run's issues can continue one.
        let off = settle(&with, 5, &known, &issues, &RunRules::default());
        assert_eq!(off.forget, ["due", "gone", "open", "resolved"]);
        assert_eq!(off.job_issues.len(), 1);
        // With it, open issues wait for their clean runs; one resolved now
        // needs its record no more.
        let rules = RunRules {
            auto_resolve_after: Some(3),
            ..RunRules::default()
        };
        let on = settle(&with, 5, &known, &issues, &rules);
        assert_eq!(on.resolve, ["due"]);
        assert_eq!(on.forget, ["due", "gone", "resolved"]);
    }

    fn record(id: &str, last_run: u64, streak: u32) -> JobIssue {
        JobIssue {
            issue_id: id.into(),
            last_run,
            streak,
        }
    }

    /// The job's records once the store wrote `s` over `known`.
    fn kept(s: &Settlement, known: &[JobIssue]) -> Vec<String> {
        let written = s.job_issues.iter().map(|j| &j.issue_id);
        let carried = known
            .iter()
            .map(|j| &j.issue_id)
            .filter(|id| !s.forget.contains(id));
        let ids: std::collections::BTreeSet<String> = written.chain(carried).cloned().collect();
        ids.into_iter().collect()
    }

    #[test]
    fn a_job_past_its_bound_keeps_held_alerts_then_issues_waiting_to_resolve_then_the_newest() {
        let rules = RunRules {
            auto_resolve_after: Some(5),
            alert_after: 3,
            ..RunRules::default()
        };
        let known = vec![
            record("held-on", 4, 1),
            record("waits-1", 4, 1),
            record("waits-2", 3, 1),
        ];
        let ignored = IssueNow {
            status: Status::Ignored,
            ..open(1_000, false)
        };
        let issues = HashMap::from([
            ("held-on".to_string(), open(9_000, true)),
            ("held-new".to_string(), open(9_000, true)),
            ("fresh-open".to_string(), open(9_000, false)),
            ("ignored-now".to_string(), ignored),
            ("waits-1".to_string(), open(1_000, false)),
            ("waits-2".to_string(), open(1_000, false)),
        ]);
        let with = run(
            &[
                ("held-on", 1, 0),
                ("held-new", 1, 0),
                ("fresh-open", 1, 0),
                ("ignored-now", 1, 0),
            ],
            Outcome::Failed,
            5_000,
        );
        let unbounded = settle(&with, 5, &known, &issues, &rules);
        assert_eq!(
            kept(&unbounded, &known).len(),
            6,
            "all six fit the real bound"
        );
        let at_4 = settle_within(&with, 5, &known, &issues, &rules, 4);
        assert_eq!(
            kept(&at_4, &known),
            ["fresh-open", "held-new", "held-on", "waits-1"]
        );
        let at_2 = settle_within(&with, 5, &known, &issues, &rules, 2);
        assert_eq!(kept(&at_2, &known), ["held-new", "held-on"]);
        assert_eq!(at_4.forget, ["waits-2"], "the older of the issues waiting");
        assert_eq!(at_4.job_issues[0].streak, 2, "kept records go on counting");
        let at_1 = settle_within(&with, 5, &known, &issues, &rules, 1);
        assert_eq!(kept(&at_1, &known), ["held-on"], "the longer streak");
        assert_eq!(at_1.forget, ["waits-1", "waits-2"]);
        // The cap drops records, never what settling this run decided.
        assert_eq!(at_1.announce, unbounded.announce);
        assert_eq!(at_1.resolve, unbounded.resolve);
    }

    #[test]
    fn alerts_held_by_more_issues_than_the_bound_go_out_a_bound_at_a_time() {
        let rules = RunRules {
            alert_after: 2,
            ..RunRules::default()
        };
        let ids = ["a", "b", "c", "x", "y"];
        let mut issues: HashMap<String, IssueNow> = ids
            .iter()
            .map(|id| (id.to_string(), open(9_000, true)))
            .collect();
        let every = run(&ids.map(|id| (id, 1, 0)), Outcome::Failed, 5_000);
        // Run 1 kept the records of x and y only.
        let known = vec![record("x", 1, 1), record("y", 1, 1)];
        let second = settle_within(&every, 2, &known, &issues, &rules, 2);
        assert_eq!(second.announce, ["x", "y"]);
        assert_eq!(
            kept(&second, &known),
            ["a", "b"],
            "announced, x and y need no streak; a and b start theirs"
        );
        for id in &second.announce {
            issues.insert(id.clone(), open(9_000, false));
        }
        let third = settle_within(&every, 3, &second.job_issues, &issues, &rules, 2);
        assert_eq!(third.announce, ["a", "b"]);
    }

    #[test]
    fn digests_go_out_as_the_mode_says() {
        let failed = run(&[("a", 1, 0)], Outcome::Failed, 0);
        let clean = run(&[], Outcome::Succeeded, 0);
        let quiet_with_errors = run(&[("a", 1, 0)], Outcome::Unknown, 0);
        let quiet_recovered = run(&[("a", 1, 1)], Outcome::Unknown, 0);
        assert!(wants_digest(&failed, DigestMode::Failed));
        assert!(!wants_digest(&clean, DigestMode::Failed));
        assert!(wants_digest(&quiet_with_errors, DigestMode::Failed));
        assert!(!wants_digest(&quiet_recovered, DigestMode::Failed));
        assert!(wants_digest(&clean, DigestMode::Always));
        assert!(!wants_digest(&failed, DigestMode::Never));
    }

    #[test]
    fn a_digest_puts_news_first_and_stays_bounded() {
        let mut r = run(&[], Outcome::Failed, 0);
        r.issues = (0..80)
            .map(|i| RunIssue {
                id: format!("i{i:02}"),
                count: i,
                recovered: 0,
                new: i == 3,
                regressed: i == 5,
            })
            .collect();
        let d = digest(&r, &HashMap::new());
        assert_eq!(d.issues.len(), MAX_DIGEST_ISSUES);
        assert_eq!(d.more_issues, 30);
        let ids: Vec<&str> = d.issues.iter().take(4).map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["i03", "i05", "i79", "i78"]);
    }

    #[test]
    fn impact_reads_as_a_share_of_the_items() {
        assert_eq!(
            impact(2160, Some(120_000)).as_deref(),
            Some("1.8% of 120,000 items")
        );
        assert_eq!(impact(36, Some(120)).as_deref(), Some("30% of 120 items"));
        assert_eq!(
            impact(1, Some(1_000_000)).as_deref(),
            Some("<0.1% of 1,000,000 items")
        );
        assert_eq!(impact(1, None), None);
        assert_eq!(impact(1, Some(0)), None);
    }
}
