//! Step Functions executions, from their execution log (a state machine's
//! LoggingConfiguration to CloudWatch Logs).
//!
//! Every event carries `execution_arn`, so a batch may hold several
//! executions. At log level ALL the log also says when an execution started
//! and how it ended (`ExecutionStarted`, `ExecutionSucceeded`,
//! `ExecutionFailed`, `ExecutionTimedOut`, `ExecutionAborted`); at ERROR and
//! FATAL only the failures are logged, and an execution's clean end comes
//! from its EventBridge event instead.
//!
//! Recovered: a task failure (`TaskFailed`, `LambdaFunctionTimedOut`...)
//! followed, in the same execution and before any state is entered, by a
//! success of the same resource is a `Retry` that worked. The log's
//! `previous_event_id` is not relied on (it reads `0` where the execution
//! history has a real predecessor), only the order of the event ids. A
//! retry that lands in a later delivery is not seen here; an execution that
//! succeeds counts every error it had as recovered when it ends (the
//! store's part).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;

use super::BatchRuns;
use crate::decode::LogBatch;
use crate::model::{Outcome, RunDelta, RunSource};

/// An execution log event, as far as runs need it.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    execution_arn: Cow<'a, str>,
    #[serde(default, borrow)]
    event_timestamp: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    details: Option<Details<'a>>,
}

#[derive(Deserialize, Default)]
struct Details<'a> {
    #[serde(default, borrow)]
    resource: Option<Cow<'a, str>>,
    #[serde(default, rename = "resourceType", borrow)]
    resource_type: Option<Cow<'a, str>>,
}

/// The state machine and execution names of an execution ARN:
/// `arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME`, or
/// `...:express:MACHINE:NAME:ID` for an Express workflow.
pub fn names(execution_arn: &str) -> Option<(&str, &str)> {
    let mut parts = execution_arn.split(':');
    if parts.next() != Some("arn") {
        return None;
    }
    let mut parts = parts.skip(4);
    match parts.next() {
        Some("execution" | "express") => {}
        _ => return None,
    }
    let machine = parts.next().filter(|m| !m.is_empty())?;
    let name = parts.next().filter(|n| !n.is_empty())?;
    Some((machine, name))
}

/// The run key of an execution.
pub fn key(execution_arn: &str) -> String {
    format!("sfn:{execution_arn}")
}

/// A delta for the execution `execution_arn`, named after its ARN.
pub fn delta(execution_arn: &str) -> RunDelta {
    let (job, name) = names(execution_arn).unwrap_or((execution_arn, execution_arn));
    RunDelta::new(
        key(execution_arn),
        RunSource::StepFunctions,
        job.to_string(),
        name.to_string(),
    )
}

fn looks_like_event(message: &str) -> bool {
    let m = message.trim_start();
    m.starts_with('{') && memchr::memmem::find(m.as_bytes(), b"\"execution_arn\"").is_some()
}

/// The executions of a batch of execution log events, or `None` when the
/// batch is not an execution log: its first event must be one, so other
/// log groups pay for one look at one message.
pub(super) fn identify(batch: &LogBatch<'_>) -> Option<BatchRuns> {
    if !batch
        .log_events
        .first()
        .is_some_and(|e| looks_like_event(&e.message))
    {
        return None;
    }
    let mut runs: Vec<RunDelta> = Vec::new();
    let mut by_arn: HashMap<String, u32> = HashMap::new();
    let mut event_run = vec![None; batch.log_events.len()];
    // Per run: (event index, numeric id, type, resource) for the recovery scan.
    let mut steps: Vec<Vec<Step>> = Vec::new();
    for (i, log_event) in batch.log_events.iter().enumerate() {
        if !looks_like_event(&log_event.message) {
            continue;
        }
        let Ok(event) = serde_json::from_str::<Event<'_>>(log_event.message.trim()) else {
            continue;
        };
        if event.execution_arn.is_empty() {
            continue;
        }
        let run = match by_arn.get(event.execution_arn.as_ref()) {
            Some(&r) => r,
            None => {
                let r = runs.len() as u32;
                let mut d = delta(&event.execution_arn);
                d.log_group = batch.log_group.to_string();
                runs.push(d);
                steps.push(Vec::new());
                by_arn.insert(event.execution_arn.to_string(), r);
                r
            }
        };
        event_run[i] = Some(run);
        let at = event
            .event_timestamp
            .as_deref()
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(log_event.timestamp);
        let Some(d) = runs.get_mut(run as usize) else {
            continue;
        };
        d.last_event = Some(
            d.last_event
                .map_or(log_event.timestamp, |t| t.max(log_event.timestamp)),
        );
        match event.kind.as_ref() {
            "ExecutionStarted" => d.started = Some(d.started.map_or(at, |t| t.min(at))),
            kind => {
                if let Some(outcome) = end_outcome(kind) {
                    d.ended = Some((at, outcome));
                }
            }
        }
        let details = event.details.unwrap_or_default();
        let resource = match (details.resource_type, details.resource) {
            (None, None) => None,
            (t, r) => Some(format!(
                "{}:{}",
                t.as_deref().unwrap_or(""),
                r.as_deref().unwrap_or("")
            )),
        };
        let id = event
            .id
            .as_deref()
            .and_then(|id| id.parse::<u64>().ok())
            .unwrap_or(u64::MAX);
        if let Some(s) = steps.get_mut(run as usize) {
            s.push((i, id, event.kind.into_owned(), resource));
        }
    }
    let mut recovered = vec![false; batch.log_events.len()];
    for mut events in steps {
        events.sort_by_key(|(i, id, _, _)| (*id, *i));
        mark_recovered(&events, &mut recovered);
    }
    Some(BatchRuns::per_event(runs, event_run, recovered))
}

/// One event of an execution, for the recovery scan: its index in the
/// batch, its numeric id, its type and the resource it names.
type Step = (usize, u64, String, Option<String>);

/// How an execution ended, from the event type that says so.
pub fn end_outcome(event_type: &str) -> Option<Outcome> {
    match event_type {
        "ExecutionSucceeded" => Some(Outcome::Succeeded),
        "ExecutionFailed" => Some(Outcome::Failed),
        "ExecutionTimedOut" => Some(Outcome::TimedOut),
        "ExecutionAborted" => Some(Outcome::Aborted),
        _ => None,
    }
}

/// Failures of one attempt of a task, which a `Retry` may repeat.
const RETRYABLE: [&str; 11] = [
    "ActivityFailed",
    "ActivityScheduleFailed",
    "ActivityTimedOut",
    "LambdaFunctionFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut",
    "TaskFailed",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "TaskTimedOut",
];

const SUCCEEDED: [&str; 3] = [
    "ActivitySucceeded",
    "LambdaFunctionSucceeded",
    "TaskSucceeded",
];

/// Marks the failures of one execution (its events in id order) that a
/// later attempt of the same resource succeeded past, before any state was
/// entered: a state entered after a failure means it was caught or ended
/// the run, not retried.
fn mark_recovered(events: &[Step], recovered: &mut [bool]) {
    let mut pending: Vec<(usize, Option<&str>)> = Vec::new();
    for (index, _, kind, resource) in events {
        let kind = kind.as_str();
        if RETRYABLE.contains(&kind) {
            pending.push((*index, resource.as_deref()));
        } else if SUCCEEDED.contains(&kind) {
            pending.retain(|(failed, failed_resource)| {
                let same = failed_resource.is_none()
                    || resource.is_none()
                    || *failed_resource == resource.as_deref();
                if same {
                    if let Some(slot) = recovered.get_mut(*failed) {
                        *slot = true;
                    }
                }
                !same
            });
        } else if kind.ends_with("StateEntered") || end_outcome(kind).is_some() {
            pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    const ARN_A: &str =
        "arn:aws:states:eu-west-1:123456789012:execution:nightly-billing:2025-11-23";
    const ARN_B: &str =
        "arn:aws:states:eu-west-1:123456789012:execution:nightly-billing:2025-11-24";

    fn line(id: u32, kind: &str, arn: &str, details: serde_json::Value) -> String {
        serde_json::json!({
            "id": id.to_string(), "type": kind, "details": details,
            "previous_event_id": (id - 1).to_string(),
            "event_timestamp": (1_763_900_000_000i64 + i64::from(id) * 1000).to_string(),
            "execution_arn": arn, "redrive_count": "0",
        })
        .to_string()
    }

    fn batch(lines: &[String]) -> String {
        let events: Vec<serde_json::Value> = lines
            .iter()
            .enumerate()
            .map(|(i, m)| serde_json::json!({"id": i.to_string(), "timestamp": 1_763_900_000_000i64 + i as i64, "message": m}))
            .collect();
        serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/vendedlogs/states/nightly-billing",
            "logStream": "states/nightly-billing/2025-11-23/abc", "logEvents": events})
        .to_string()
    }

    fn lambda(extra: serde_json::Value) -> serde_json::Value {
        let mut d = serde_json::json!({"resourceType": "lambda", "resource": "invoke"});
        if let (Some(d), Some(extra)) = (d.as_object_mut(), extra.as_object()) {
            d.extend(extra.clone());
        }
        d
    }

    #[test]
    fn executions_are_named_after_their_arn() {
        assert_eq!(names(ARN_A), Some(("nightly-billing", "2025-11-23")));
        assert_eq!(
            names("arn:aws:states:us-east-1:1:express:ingest:run-7:4f2c"),
            Some(("ingest", "run-7"))
        );
        assert_eq!(
            names("arn:aws:states:us-east-1:1:stateMachine:ingest"),
            None
        );
        assert_eq!(names("not an arn"), None);
    }

    #[test]
    fn each_event_belongs_to_its_execution_with_its_start_and_end() {
        let json = batch(&[
            line(1, "ExecutionStarted", ARN_A, serde_json::json!({})),
            line(1, "ExecutionStarted", ARN_B, serde_json::json!({})),
            line(
                2,
                "TaskStateEntered",
                ARN_A,
                serde_json::json!({"name": "Bill"}),
            ),
            line(3, "ExecutionSucceeded", ARN_A, serde_json::json!({})),
            line(
                2,
                "ExecutionFailed",
                ARN_B,
                serde_json::json!({"error": "States.Runtime"}),
            ),
        ]);
        let b = decode::parse(json.as_bytes()).unwrap();
        let runs = identify(&b).unwrap();
        assert_eq!(runs.runs().len(), 2);
        let a = &runs.runs()[0];
        assert_eq!(a.key, format!("sfn:{ARN_A}"));
        assert_eq!(
            (a.job.as_str(), a.name.as_str()),
            ("nightly-billing", "2025-11-23")
        );
        assert_eq!(a.started, Some(1_763_900_001_000));
        assert_eq!(a.ended, Some((1_763_900_003_000, Outcome::Succeeded)));
        assert_eq!(a.log_group, "/aws/vendedlogs/states/nightly-billing");
        assert_eq!(runs.runs()[1].ended.map(|e| e.1), Some(Outcome::Failed));
        assert_eq!(
            (0..5).map(|i| runs.run_of(i)).collect::<Vec<_>>(),
            vec![Some(0), Some(1), Some(0), Some(0), Some(1)]
        );
    }

    #[test]
    fn a_failure_that_a_retry_of_the_same_task_got_past_is_recovered() {
        let json = batch(&[
            line(
                2,
                "TaskStateEntered",
                ARN_A,
                serde_json::json!({"name": "Bill"}),
            ),
            line(3, "TaskScheduled", ARN_A, lambda(serde_json::json!({}))),
            line(
                4,
                "TaskFailed",
                ARN_A,
                lambda(serde_json::json!({"error": "Lambda.TooManyRequestsException"})),
            ),
            line(5, "TaskScheduled", ARN_A, lambda(serde_json::json!({}))),
            line(6, "TaskSucceeded", ARN_A, lambda(serde_json::json!({}))),
            line(
                7,
                "TaskStateEntered",
                ARN_A,
                serde_json::json!({"name": "Ship"}),
            ),
            line(
                8,
                "TaskFailed",
                ARN_A,
                lambda(serde_json::json!({"error": "States.TaskFailed"})),
            ),
            line(
                9,
                "PassStateEntered",
                ARN_A,
                serde_json::json!({"name": "Notify"}),
            ),
            line(10, "TaskSucceeded", ARN_A, lambda(serde_json::json!({}))),
        ]);
        let b = decode::parse(json.as_bytes()).unwrap();
        let runs = identify(&b).unwrap();
        assert!(runs.is_recovered(2), "retried and succeeded");
        assert!(
            !runs.is_recovered(6),
            "caught: a state was entered before the next success"
        );
        assert!(!runs.is_recovered(4) && !runs.is_recovered(8));
    }

    #[test]
    fn other_log_groups_are_not_read_as_executions() {
        let json = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/f","logStream":"s","logEvents":[{"id":"1","timestamp":1,"message":"[ERROR] boom"}]}"#;
        assert!(identify(&decode::parse(json.as_bytes()).unwrap()).is_none());
    }
}
