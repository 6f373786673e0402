//! When an issue changes status and when it alerts.
//!
//! Both stores read an issue's prior state, fold the batch into it through
//! `store::fold` (which calls [`decide`]), and write the result in one
//! atomic step, so the rules live here once and the backends differ only in
//! how they make that step atomic. Which messages a batch's
//! decisions become ([`alerts_for_batch`]) is decided here too: alerts are
//! built by the store in the same write that creates or reopens their issues,
//! and kept in its outbox until a notifier has delivered them, which is what
//! makes "announced once, never lost" hold across crashes and concurrent
//! invocations.
//!
//! The policy is a small TOML file (all keys optional):
//!
//! ```toml
//! new_issue = true        # alert when an issue is first seen
//! regression = true       # alert when a resolved issue occurs again
//! cooldown_minutes = 60   # at most one regression/threshold alert per issue per hour
//! digest_over = 3         # more new issues than this in one batch: one digest
//!
//! [threshold]             # alert once when an issue occurs this often
//! count = 100
//! window_hours = 1
//! ```
//!
//! and, for the runs of batch jobs ([`crate::runs`]):
//!
//! ```toml
//! run_digest = "failed"         # one message when a run ends: failed | always | never
//! auto_resolve_after_runs = 3   # resolve an issue after 3 consecutive runs of its job without it
//! alert_after_runs = 2          # hold a new issue's alert until it was in 2 consecutive runs
//! alert_recovered = false       # alert on new issues a retry got past
//! run_quiet_minutes = 30        # a run with no end event ends after 30 quiet minutes
//! run_settle_minutes = 5        # the Lambda waits 5 minutes after a run's end for its last logs
//! held_trace_minutes = 2        # the Lambda waits 2 minutes for the rest of a trace a batch cut
//!
//! [run_fields."/aws/lambda/nightly-fanout"]   # a log group (or a prefix ending in *)
//! id = "run_id"                 # the field holding the run id
//! items = "items_total"         # how many items the run processed
//! failed_items = "items_failed" # and how many failed
//! ```

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{
    Alert, AlertIssue, BatchSummary, EventType, HeldBack, IssueDelta, IssueState, Status, issue_id,
};
use crate::runs::RunConfig;
use crate::runs::RunFields;
use crate::runs::lifecycle::{DigestMode, RunRules};

/// The alert rules, from a TOML file or the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub new_issue: bool,
    pub regression: bool,
    pub cooldown_minutes: u64,
    pub digest_over: usize,
    pub threshold: Option<Threshold>,
    /// Which ended runs send a digest.
    pub run_digest: DigestMode,
    /// Resolve an open issue once this many consecutive runs of its job did
    /// not have it.
    pub auto_resolve_after_runs: Option<u32>,
    /// Hold a new issue's alert until it has appeared in this many
    /// consecutive runs of its job.
    pub alert_after_runs: u32,
    /// Alert on a new issue even when a retry got past every occurrence.
    pub alert_recovered: bool,
    /// A run without an end event (a run id field's, or a container whose
    /// job events are not subscribed) ends after this many quiet minutes.
    pub run_quiet_minutes: u64,
    /// Per log group (or prefix ending in `*`): the fields naming a run and
    /// its item counts.
    pub run_fields: BTreeMap<String, RunFields>,
    /// How long the Lambda waits after a run's end before settling it, so
    /// that its last logs (CloudWatch Logs delivers within minutes) count.
    /// `faultline ingest` has all its inputs when it settles, and does not
    /// wait.
    pub run_settle_minutes: u64,
    /// How long the Lambda waits for the next batch of a stream whose last
    /// batch ended inside a trace before judging the trace as it is
    /// ([`crate::carry`]); the settling schedule's tick does it, so the
    /// wait ends at the first tick after this.
    pub held_trace_minutes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub count: u64,
    #[serde(default = "one")]
    pub window_hours: u32,
}

fn one() -> u32 {
    1
}

impl Default for Policy {
    /// New issues and regressions alert; a batch of more than three new
    /// issues sends one digest, so a bad deploy does not flood a channel.
    fn default() -> Self {
        Policy {
            new_issue: true,
            regression: true,
            cooldown_minutes: 60,
            digest_over: 3,
            threshold: None,
            run_digest: DigestMode::Failed,
            auto_resolve_after_runs: None,
            alert_after_runs: 1,
            alert_recovered: false,
            run_quiet_minutes: 30,
            run_fields: BTreeMap::new(),
            run_settle_minutes: 5,
            held_trace_minutes: 2,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("policy {path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

impl Policy {
    pub fn parse(text: &str, path: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError::Invalid {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        if policy
            .threshold
            .as_ref()
            .is_some_and(|t| t.count == 0 || t.window_hours == 0)
        {
            return Err(PolicyError::Invalid {
                path: path.to_string(),
                message: "threshold count and window_hours must be at least 1".into(),
            });
        }
        if policy.alert_after_runs == 0
            || policy.auto_resolve_after_runs == Some(0)
            || policy.run_quiet_minutes == 0
        {
            return Err(PolicyError::Invalid {
                path: path.to_string(),
                message: "alert_after_runs, auto_resolve_after_runs and run_quiet_minutes must be at least 1".into(),
            });
        }
        Ok(policy)
    }

    /// What the policy says about runs, for [`crate::runs::lifecycle`].
    pub fn run_rules(&self) -> RunRules {
        RunRules {
            auto_resolve_after: self.auto_resolve_after_runs,
            alert_after: self.alert_after_runs.max(1),
            digest: self.run_digest,
            alert_recovered: self.alert_recovered,
            quiet_ms: (self.run_quiet_minutes as i64).saturating_mul(60_000),
        }
    }

    /// The run fields per log group, for [`crate::runs::identify`].
    pub fn run_config(&self) -> RunConfig {
        RunConfig {
            fields: self
                .run_fields
                .iter()
                .map(|(group, fields)| (group.clone(), fields.clone()))
                .collect(),
        }
    }

    /// A policy from a setting that is either a file path or, where no such
    /// file exists and the text looks like TOML, the TOML itself (handy in a
    /// Lambda environment variable).
    ///
    /// A setting of one line may separate its entries with `;`, because a
    /// CloudFormation parameter cannot hold a newline:
    /// `new_issue=true;cooldown_minutes=30;threshold.count=100` is the TOML
    /// of those three lines (TOML's dotted keys fill the `[threshold]` table).
    pub fn from_setting(setting: &str) -> Result<Policy, PolicyError> {
        if !std::path::Path::new(setting).exists() && setting.contains('=') {
            if setting.contains('\n') {
                return Policy::parse(setting, "FAULTLINE_POLICY");
            }
            return Policy::parse(&setting.replace(';', "\n"), "FAULTLINE_POLICY");
        }
        Policy::load(setting)
    }

    pub fn load(path: &str) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_string(),
            source,
        })?;
        Policy::parse(&text, path)
    }
}

/// The outcome of applying one batch's delta to one issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub state: IssueState,
    /// Set when this batch reopened a resolved issue.
    pub regressed: bool,
    pub alert: Option<EventType>,
    /// Why a new issue, a regression or a threshold crossing alerts not.
    pub held_back: Option<HeldBack>,
}

/// Applies `delta` to an issue's prior state (`None`: the issue is new).
///
/// `window_count` is the issue's count within the threshold window after this
/// batch, as the store's hourly buckets give it; `now` is processing time.
pub fn decide(
    prior: Option<&IssueState>,
    delta: &IssueDelta,
    window_count: u64,
    policy: &Policy,
    now: i64,
) -> Decision {
    let Some(prior) = prior else {
        // The first alert starts no cooldown: a fix that fails within the
        // hour is worth hearing about.
        let state = IssueState {
            count: delta.count,
            ..IssueState::default()
        };
        return Decision {
            state,
            regressed: false,
            alert: policy.new_issue.then_some(EventType::NewIssue),
            held_back: (!policy.new_issue).then_some(HeldBack::TurnedOff(EventType::NewIssue)),
        };
    };
    let mut state = prior.clone();
    state.count = prior.count + delta.count;
    let mut regressed = false;
    let mut alert = None;
    let mut held_back = None;
    match prior.status {
        Status::Resolved if regresses(prior.resolved_in.as_deref(), &delta.versions) => {
            state.status = Status::Open;
            state.resolved_in = None;
            state.threshold_alerted_at = None;
            regressed = true;
            if policy.regression {
                alert = Some(EventType::Regression);
            } else {
                held_back = Some(HeldBack::TurnedOff(EventType::Regression));
            }
        }
        Status::Ignored => {
            // An ignore with a limit lapses silently: the issue is listed as
            // open again, and the next regression or threshold alerts.
            let time_up = prior.ignored_until.is_some_and(|t| delta.last_seen >= t);
            let count_up = prior.ignored_until_count.is_some_and(|c| state.count >= c);
            if time_up || count_up {
                state.status = Status::Open;
                state.ignored_until = None;
                state.ignored_until_count = None;
            }
        }
        _ => {}
    }
    if alert.is_none() && state.status == Status::Open {
        if let Some(threshold) = &policy.threshold {
            if state.threshold_alerted_at.is_none() && window_count >= threshold.count {
                alert = Some(EventType::Threshold);
                state.threshold_alerted_at = Some(now);
            }
        }
    }
    // The cooldown holds back repeat alerts about one issue; a threshold
    // crossing that is held back is not retried.
    if alert.is_some() {
        let cooled = prior
            .last_alert_at
            .is_none_or(|t| now - t >= policy.cooldown_minutes as i64 * 60_000);
        if cooled {
            state.last_alert_at = Some(now);
        } else {
            alert = None;
            held_back = Some(HeldBack::Cooldown);
        }
    }
    Decision {
        state,
        regressed,
        alert,
        held_back,
    }
}

/// Why a new issue or a regression that a store recorded queued no alert:
/// `alert` is what the decision raised once the issue's runs had their say
/// (`None` when they hold it). `None` when it alerts, or when the issue is
/// neither new nor regressed (its repeats are not expected to alert).
pub fn held_back(created: bool, decision: &Decision, alert: Option<EventType>) -> Option<HeldBack> {
    if !(created || decision.regressed) || alert.is_some() {
        return None;
    }
    Some(decision.held_back.unwrap_or(HeldBack::ByRuns))
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
pub fn alerts_for_batch(
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
        run: None,
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

/// Whether occurrences of `versions` reopen an issue resolved in `resolved_in`.
/// Without a resolved version, or when the occurrences carry none, any
/// occurrence regresses: an unknown version may be the new one.
fn regresses(resolved_in: Option<&str>, versions: &[String]) -> bool {
    match resolved_in {
        None => true,
        Some(fixed) => {
            versions.is_empty()
                || versions
                    .iter()
                    .any(|v| compare_versions(v, fixed) != Ordering::Less)
        }
    }
}

/// Orders version strings the way people read them: `12` after `9`,
/// `1.10.0` after `1.9.2`, `$LATEST` after every number.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(v: &str) -> Vec<Result<u64, &str>> {
        v.trim_start_matches(['v', 'V'])
            .split(['.', '-', '+', '_'])
            .map(|p| p.parse::<u64>().map_err(|_| p))
            .collect()
    }
    if a == b {
        return Ordering::Equal;
    }
    if a == "$LATEST" {
        return Ordering::Greater;
    }
    if b == "$LATEST" {
        return Ordering::Less;
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let order = match (x, y) {
            (Ok(x), Ok(y)) => x.cmp(y),
            (Ok(_), Err(_)) => Ordering::Greater,
            (Err(_), Ok(_)) => Ordering::Less,
            (Err(x), Err(y)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    pa.len().cmp(&pb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(count: u64, versions: &[&str]) -> IssueDelta {
        IssueDelta {
            fingerprint: "fp".into(),
            kind: "E".into(),
            title: "E: x".into(),
            count,
            first_seen: 1_000,
            last_seen: 2_000,
            samples: Vec::new(),
            hours: Vec::new(),
            facets: Vec::new(),
            versions: versions.iter().map(|v| v.to_string()).collect(),
            previous: Vec::new(),
        }
    }

    const NOW: i64 = 10_000_000;

    #[test]
    fn a_new_issue_alerts_unless_switched_off() {
        let d = decide(None, &delta(3, &[]), 3, &Policy::default(), NOW);
        assert_eq!(d.alert, Some(EventType::NewIssue));
        assert_eq!(d.state.count, 3);
        let quiet = Policy {
            new_issue: false,
            ..Policy::default()
        };
        assert_eq!(decide(None, &delta(3, &[]), 3, &quiet, NOW).alert, None);
    }

    #[test]
    fn resolved_in_a_version_regresses_only_from_that_version_on() {
        let prior = IssueState {
            status: Status::Resolved,
            count: 5,
            resolved_in: Some("12".into()),
            ..IssueState::default()
        };
        let old = decide(Some(&prior), &delta(1, &["11"]), 1, &Policy::default(), NOW);
        assert!(!old.regressed);
        assert_eq!(old.state.status, Status::Resolved);
        assert_eq!(old.state.count, 6);
        assert_eq!(old.alert, None);
        let new = decide(
            Some(&prior),
            &delta(1, &["11", "12"]),
            1,
            &Policy::default(),
            NOW,
        );
        assert!(new.regressed);
        assert_eq!(new.state.status, Status::Open);
        assert_eq!(new.alert, Some(EventType::Regression));
        let unknown = decide(Some(&prior), &delta(1, &[]), 1, &Policy::default(), NOW);
        assert!(unknown.regressed, "an unknown version may be the new one");
    }

    #[test]
    fn ignores_with_limits_lapse() {
        let until_time = IssueState {
            status: Status::Ignored,
            count: 5,
            ignored_until: Some(1_500),
            ..IssueState::default()
        };
        let d = decide(
            Some(&until_time),
            &delta(1, &[]),
            1,
            &Policy::default(),
            NOW,
        );
        assert_eq!(d.state.status, Status::Open);
        assert_eq!(d.alert, None);
        let until_count = IssueState {
            status: Status::Ignored,
            count: 5,
            ignored_until_count: Some(10),
            ..IssueState::default()
        };
        let still = decide(
            Some(&until_count),
            &delta(4, &[]),
            4,
            &Policy::default(),
            NOW,
        );
        assert_eq!(still.state.status, Status::Ignored);
        let lapsed = decide(
            Some(&still.state),
            &delta(1, &[]),
            1,
            &Policy::default(),
            NOW,
        );
        assert_eq!(lapsed.state.status, Status::Open);
    }

    #[test]
    fn a_threshold_alerts_once_and_respects_the_cooldown() {
        let policy = Policy {
            threshold: Some(Threshold {
                count: 10,
                window_hours: 1,
            }),
            ..Policy::default()
        };
        let prior = IssueState {
            count: 5,
            last_alert_at: Some(NOW - 2 * 3_600_000),
            ..IssueState::default()
        };
        assert_eq!(
            decide(Some(&prior), &delta(4, &[]), 9, &policy, NOW).alert,
            None
        );
        let crossed = decide(Some(&prior), &delta(5, &[]), 10, &policy, NOW);
        assert_eq!(crossed.alert, Some(EventType::Threshold));
        let again = decide(Some(&crossed.state), &delta(50, &[]), 60, &policy, NOW + 1);
        assert_eq!(again.alert, None, "once");

        let recent = IssueState {
            count: 5,
            last_alert_at: Some(NOW - 60_000),
            ..IssueState::default()
        };
        let held = decide(Some(&recent), &delta(5, &[]), 10, &policy, NOW);
        assert_eq!(held.alert, None, "within the cooldown");
    }

    #[test]
    fn a_new_issue_or_regression_without_an_alert_says_what_held_it() {
        let quiet = Policy {
            new_issue: false,
            regression: false,
            ..Policy::default()
        };
        let new = decide(None, &delta(1, &[]), 1, &quiet, NOW);
        assert_eq!(
            held_back(true, &new, new.alert),
            Some(HeldBack::TurnedOff(EventType::NewIssue))
        );
        let resolved = IssueState {
            status: Status::Resolved,
            count: 1,
            ..IssueState::default()
        };
        let off = decide(Some(&resolved), &delta(1, &[]), 1, &quiet, NOW);
        assert_eq!(
            held_back(false, &off, off.alert),
            Some(HeldBack::TurnedOff(EventType::Regression))
        );
        let alerted = IssueState {
            last_alert_at: Some(NOW - 60_000),
            ..resolved
        };
        let cooling = decide(Some(&alerted), &delta(1, &[]), 1, &Policy::default(), NOW);
        assert!(cooling.regressed);
        assert_eq!(
            held_back(false, &cooling, cooling.alert),
            Some(HeldBack::Cooldown)
        );
        // A new-issue alert its runs took back.
        let loud = decide(None, &delta(1, &[]), 1, &Policy::default(), NOW);
        assert_eq!(held_back(true, &loud, loud.alert), None);
        assert_eq!(held_back(true, &loud, None), Some(HeldBack::ByRuns));
        // Repeats of an open issue are not expected to alert.
        let open = IssueState {
            count: 1,
            ..IssueState::default()
        };
        let repeat = decide(Some(&open), &delta(1, &[]), 1, &Policy::default(), NOW);
        assert_eq!(held_back(false, &repeat, repeat.alert), None);
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("12", "9"), Ordering::Greater);
        assert_eq!(compare_versions("1.10.0", "1.9.2"), Ordering::Greater);
        assert_eq!(compare_versions("v2.0", "2.0"), Ordering::Equal);
        assert_eq!(compare_versions("$LATEST", "40"), Ordering::Greater);
        assert_eq!(compare_versions("1.2", "1.2.1"), Ordering::Less);
    }

    #[test]
    fn policy_files_are_checked() {
        let p = Policy::parse("digest_over = 5\n[threshold]\ncount = 100\n", "p.toml").unwrap();
        assert_eq!(p.digest_over, 5);
        assert_eq!(p.threshold.unwrap().window_hours, 1);
        assert!(p.new_issue);
        let err = Policy::parse("new_isue = true", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.toml") && err.contains("new_isue"), "{err}");
        assert!(Policy::parse("[threshold]\ncount = 0", "p.toml").is_err());
    }

    #[test]
    fn run_settings_are_read_and_checked() {
        let p = Policy::parse(
            "run_digest = \"always\"\nauto_resolve_after_runs = 3\nalert_after_runs = 2\n\
             [run_fields.\"/aws/lambda/fanout-*\"]\nid = \"run_id\"\nitems = \"items_total\"\n",
            "p.toml",
        )
        .unwrap();
        let rules = p.run_rules();
        assert_eq!(rules.digest, DigestMode::Always);
        assert_eq!(rules.auto_resolve_after, Some(3));
        assert_eq!(rules.alert_after, 2);
        assert_eq!(rules.quiet_ms, 30 * 60_000);
        let config = p.run_config();
        let fields = config.for_group("/aws/lambda/fanout-eu").unwrap();
        assert_eq!(fields.id.as_deref(), Some("run_id"));
        assert_eq!(fields.items.as_deref(), Some("items_total"));
        assert_eq!(Policy::default().run_rules().digest, DigestMode::Failed);
        let one_line = Policy::from_setting(
            "run_digest=\"never\";run_fields.\"/aws/lambda/x\".id=\"job_run_id\"",
        )
        .unwrap();
        assert_eq!(one_line.run_digest, DigestMode::Never);
        assert!(one_line.run_config().for_group("/aws/lambda/x").is_some());
        for bad in [
            "alert_after_runs = 0",
            "auto_resolve_after_runs = 0",
            "run_digest = \"sometimes\"",
            "[run_fields.\"/g\"]\nrun = \"x\"",
        ] {
            assert!(Policy::parse(bad, "p.toml").is_err(), "{bad}");
        }
    }

    #[test]
    fn a_one_line_setting_separates_entries_with_semicolons() {
        let line = Policy::from_setting(
            "new_issue=false;cooldown_minutes=30;threshold.count=100;threshold.window_hours=2",
        )
        .unwrap();
        let toml = Policy::parse(
            "new_issue = false\ncooldown_minutes = 30\n[threshold]\ncount = 100\nwindow_hours = 2\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(line, toml);
        assert_eq!(
            Policy::from_setting("digest_over=5;").unwrap().digest_over,
            5
        );
        for bad in [
            "threshold.count=0",
            "new_isue=true",
            "digest_over=5;digest_over=6",
            "regression=yes",
        ] {
            let err = Policy::from_setting(bad).unwrap_err().to_string();
            assert!(
                err.contains("FAULTLINE_POLICY is not valid"),
                "{bad}: {err}"
            );
        }
    }
}
