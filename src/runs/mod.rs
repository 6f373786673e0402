//! Runs: which run of which batch job each log event belongs to.
//!
//! A batch job's run is what its users think in: a Step Functions
//! execution, an AWS Batch job (array children folded into the parent), an
//! ECS task, or, for anything else, a run id the job logs in a field the
//! user names. This module finds that identity in a decoded batch, one
//! source per file:
//!
//! - [`sfn`]: the `execution_arn` of every Step Functions execution log
//!   event, the execution's start and end, and which task failures a retry
//!   of the same step got past (recovered);
//! - [`container`]: the ECS task id that ends an awslogs stream name
//!   (`PREFIX/CONTAINER/TASK_ID`, and AWS Batch's `JOBDEF/default/TASK_ID`);
//! - [`field`]: a run id, and item counts, in fields the user names per log
//!   group.
//!
//! It is pure, like the stages around it: [`identify`] reads the batch and
//! [`BatchRuns::count`] places each error, and the result travels to the
//! store in [`BatchSummary::runs`](crate::model::BatchSummary::runs).
//! What a job event (EventBridge) says about a run is read by [`jobevent`];
//! what a run's end does to its issues (digests, resolution after clean
//! runs, held alerts) is decided by [`lifecycle`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::decode::LogBatch;
use crate::model::{RunDelta, RunIssueDelta};

pub mod container;
pub mod field;
pub mod jobevent;
pub mod lifecycle;
pub mod sfn;

/// Which fields carry what, per log group: a run id for jobs that AWS does
/// not identify (a Lambda fan-out, a cron container), and the item counts a
/// job states. Keys are log group names, or prefixes ending in `*`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFields {
    /// The field holding the run id (`run_id`, `job_run_id`,
    /// `correlation_id`); nested fields as `a.b`.
    pub id: Option<String>,
    /// The field holding how many items the run processed.
    pub items: Option<String>,
    /// The field holding how many of them failed.
    pub failed_items: Option<String>,
}

/// The run fields of every log group that has some.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunConfig {
    pub fields: Vec<(String, RunFields)>,
}

impl RunConfig {
    /// The fields named for `log_group`: an exact name wins over a prefix,
    /// a longer prefix over a shorter one.
    pub fn for_group(&self, log_group: &str) -> Option<&RunFields> {
        let mut best: Option<(usize, &RunFields)> = None;
        for (pattern, fields) in &self.fields {
            let rank = match pattern.strip_suffix('*') {
                None if pattern == log_group => usize::MAX,
                Some(prefix) if log_group.starts_with(prefix) => prefix.len(),
                _ => continue,
            };
            if best.is_none_or(|(r, _)| rank > r) {
                best = Some((rank, fields));
            }
        }
        best.map(|(_, fields)| fields)
    }
}

/// The runs of one decoded batch, and which run each event belongs to.
#[derive(Debug, Clone, Default)]
pub struct BatchRuns {
    runs: Vec<RunDelta>,
    /// Per event, the index of its run in `runs`; empty when every event
    /// belongs to `runs[0]` (a container's stream is one run).
    event_run: Vec<Option<u32>>,
    whole: bool,
    /// Events whose failure a retry of the same step got past.
    recovered: Vec<bool>,
    issue_index: Vec<HashMap<String, usize>>,
}

impl BatchRuns {
    /// Runs each event to one of `runs` as `event_run` says.
    pub fn per_event(
        runs: Vec<RunDelta>,
        event_run: Vec<Option<u32>>,
        recovered: Vec<bool>,
    ) -> Self {
        let issue_index = vec![HashMap::new(); runs.len()];
        BatchRuns {
            runs,
            event_run,
            whole: false,
            recovered,
            issue_index,
        }
    }

    /// Every event of the batch belongs to `run`.
    pub fn whole(run: RunDelta) -> Self {
        BatchRuns {
            runs: vec![run],
            event_run: Vec::new(),
            whole: true,
            recovered: Vec::new(),
            issue_index: vec![HashMap::new()],
        }
    }

    /// The index of the run event `event` belongs to, if any.
    pub fn run_of(&self, event: usize) -> Option<usize> {
        if self.whole {
            return Some(0);
        }
        self.event_run
            .get(event)
            .copied()
            .flatten()
            .map(|i| i as usize)
    }

    /// Whether the failure logged by `event` was recovered by a retry.
    pub fn is_recovered(&self, event: usize) -> bool {
        self.recovered.get(event).copied().unwrap_or(false)
    }

    pub fn runs(&self) -> &[RunDelta] {
        &self.runs
    }

    /// Counts one error of issue `fingerprint` logged by `event` in its run.
    pub fn count(&mut self, event: usize, fingerprint: &str) {
        let Some(run) = self.run_of(event) else {
            return;
        };
        let recovered = u64::from(self.is_recovered(event));
        let (Some(delta), Some(index)) = (self.runs.get_mut(run), self.issue_index.get_mut(run))
        else {
            return;
        };
        delta.errors += 1;
        delta.recovered += recovered;
        let slot = match index.get(fingerprint) {
            Some(&i) => i,
            None => {
                index.insert(fingerprint.to_string(), delta.issues.len());
                delta.issues.push(RunIssueDelta {
                    fingerprint: fingerprint.to_string(),
                    count: 0,
                    recovered: 0,
                });
                delta.issues.len() - 1
            }
        };
        if let Some(issue) = delta.issues.get_mut(slot) {
            issue.count += 1;
            issue.recovered += recovered;
        }
    }

    pub fn into_deltas(self) -> Vec<RunDelta> {
        self.runs
    }
}

/// Which runs a batch's events belong to, from the first source that
/// recognises them: Step Functions execution events (by content), a
/// container's stream name, then a run id field named for the log group.
/// Item counts named for the log group are added to whichever run the
/// events belong to.
pub fn identify(batch: &LogBatch<'_>, config: &RunConfig) -> BatchRuns {
    let fields = config.for_group(&batch.log_group);
    let mut runs = if let Some(runs) = sfn::identify(batch) {
        runs
    } else if let Some(run) = container::identify(&batch.log_group, &batch.log_stream) {
        let mut runs = BatchRuns::whole(run);
        if let (Some(delta), Some(last)) = (
            runs.runs.first_mut(),
            batch.log_events.iter().map(|e| e.timestamp).max(),
        ) {
            delta.log_group = batch.log_group.to_string();
            delta.last_event = Some(last);
        }
        runs
    } else if let Some(runs) = fields.and_then(|f| field::identify(batch, f)) {
        runs
    } else {
        return BatchRuns::default();
    };
    if let Some(fields) = fields {
        field::count_items(batch, fields, &mut runs);
    }
    runs
}

impl BatchRuns {
    pub(crate) fn runs_mut(&mut self) -> &mut [RunDelta] {
        &mut self.runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_log_groups_win_over_prefixes_and_long_prefixes_over_short() {
        let named = |id: &str| RunFields {
            id: Some(id.into()),
            ..RunFields::default()
        };
        let config = RunConfig {
            fields: vec![
                ("/aws/lambda/*".into(), named("a")),
                ("/aws/lambda/nightly-*".into(), named("b")),
                ("/aws/lambda/nightly-fanout".into(), named("c")),
            ],
        };
        let id = |g: &str| config.for_group(g).and_then(|f| f.id.clone());
        assert_eq!(id("/aws/lambda/nightly-fanout").as_deref(), Some("c"));
        assert_eq!(id("/aws/lambda/nightly-other").as_deref(), Some("b"));
        assert_eq!(id("/aws/lambda/orders").as_deref(), Some("a"));
        assert_eq!(id("/ecs/orders"), None);
    }
}
