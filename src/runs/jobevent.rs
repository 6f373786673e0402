//! What a job event says about a run: EventBridge's "Step Functions
//! Execution Status Change", "Batch Job State Change" and "ECS Task State
//! Change" (decoded by [`crate::decode::eventbridge`]), as a batch of one
//! [`RunDelta`] that the store records exactly once, like a log batch.
//!
//! - Step Functions: the execution's start, and its end with its status.
//! - AWS Batch: the job (an array child `PARENT:INDEX` speaks for its
//!   parent, which is the run); every attempt's ECS task is a part of the
//!   run ([`RunDelta::parts`]), so the errors its log stream had count in
//!   the job. When a job (or array child) ends, its attempts' outcome is
//!   known: all recovered if it succeeded (a later attempt got past the
//!   earlier failures), none if it failed. Only the parent's, or a plain
//!   job's, end ends the run.
//! - ECS: the task, ending when it stops: succeeded when every container
//!   exited 0, aborted when a person or a scheduler stopped it, failed
//!   otherwise. Tasks that AWS Batch runs (in its `AWSBatch-` clusters) are
//!   Batch's attempts and are left to Batch's events; a service's tasks
//!   (`group` `service:NAME`) are not runs of a job.

use crate::decode::eventbridge::{BatchJob, EcsTask, JobEvent, SfnExecution};
use crate::model::{BatchSummary, Outcome, RunDelta, RunPart, RunSource};
use crate::runs::{container, sfn};

/// The batch a job event makes: one run delta (none for an event about
/// nothing faultline tracks), identified so that a redelivered event is
/// recognised.
pub fn summary(event: &JobEvent) -> BatchSummary {
    let (batch_id, delta) = match event {
        JobEvent::StepFunctions { id, detail, time } => {
            (format!("eventbridge:{id}"), Some(execution(detail, *time)))
        }
        JobEvent::Batch { id, detail, time } => (format!("eventbridge:{id}"), batch(detail, *time)),
        JobEvent::Ecs { detail, time, id } => {
            // ECS may send one change twice, with the same `detail.version`.
            let batch_id = match detail.version {
                Some(v) => format!("ecs:{}:{v}", detail.task_arn),
                None => format!("eventbridge:{id}"),
            };
            (batch_id, task(detail, *time))
        }
    };
    BatchSummary {
        batch_id,
        owner: String::new(),
        log_group: String::new(),
        log_stream: String::new(),
        events: 1,
        errors: 0,
        issues: Vec::new(),
        runs: delta.into_iter().collect(),
    }
}

fn execution(detail: &SfnExecution, time: i64) -> RunDelta {
    let mut delta = sfn::delta(&detail.execution_arn);
    if let Some(machine) = detail
        .state_machine_arn
        .as_deref()
        .and_then(|arn| arn.rsplit(':').next())
        .filter(|m| !m.is_empty())
    {
        delta.job = machine.to_string();
    }
    if let Some(name) = detail.name.as_deref().filter(|n| !n.is_empty()) {
        delta.name = name.to_string();
    }
    delta.started = detail.start_date;
    let outcome = match detail.status.as_str() {
        "SUCCEEDED" => Some(Outcome::Succeeded),
        "FAILED" => Some(Outcome::Failed),
        "TIMED_OUT" => Some(Outcome::TimedOut),
        "ABORTED" => Some(Outcome::Aborted),
        _ => None,
    };
    delta.ended = outcome.map(|o| (detail.stop_date.unwrap_or(time), o));
    delta
}

/// `arn:aws:batch:REGION:ACCOUNT:job-definition/NAME:REVISION` -> `NAME`,
/// the first segment of the job's log stream names too.
fn definition_name(arn: &str) -> &str {
    let tail = arn.rsplit_once('/').map_or(arn, |(_, t)| t);
    tail.split(':').next().unwrap_or(tail)
}

fn batch(detail: &BatchJob, time: i64) -> Option<RunDelta> {
    // `PARENT:INDEX` is an array child, `PARENT#NODE` a multi-node
    // parallel job's node: both are parts of the parent's run.
    let parent = detail
        .job_id
        .split([':', '#'])
        .next()
        .filter(|p| !p.is_empty())?;
    let is_child = parent.len() < detail.job_id.len();
    let mut delta = RunDelta::new(
        format!("batch:{parent}"),
        RunSource::Batch,
        definition_name(&detail.job_definition).to_string(),
        detail.job_name.clone(),
    );
    let outcome = match detail.status.as_str() {
        "SUCCEEDED" => Some(Outcome::Succeeded),
        "FAILED" => Some(Outcome::Failed),
        _ => None,
    };
    if !is_child {
        delta.started = detail.started_at.or(detail.created_at);
        delta.ended = outcome.map(|o| (detail.stopped_at.unwrap_or(time), o));
    }
    // The attempts' outcome is known once this job or child has ended.
    let recovered = outcome.map(|o| o == Outcome::Succeeded);
    let mut tasks: Vec<&str> = Vec::new();
    let streams = detail
        .attempts
        .iter()
        .map(|a| (a.task_arn.as_deref(), a.log_stream_name.as_deref()))
        .chain([(
            detail.task_arn.as_deref(),
            detail.log_stream_name.as_deref(),
        )]);
    for (task_arn, stream) in streams {
        let task = task_arn.and_then(container::task_id_of_arn).or_else(|| {
            stream
                .and_then(|s| s.rsplit('/').next())
                .filter(|t| container::is_task_id(t))
        });
        if let Some(task) = task.filter(|t| !tasks.contains(t)) {
            tasks.push(task);
        }
    }
    delta.parts = tasks
        .into_iter()
        .map(|t| RunPart {
            key: container::key(t),
            recovered,
        })
        .collect();
    Some(delta)
}

fn task(detail: &EcsTask, time: i64) -> Option<RunDelta> {
    if detail
        .cluster_arn
        .as_deref()
        .is_some_and(|c| c.contains(":cluster/AWSBatch-"))
    {
        return None;
    }
    // A service's tasks come and go with deployments and scaling: they are
    // not runs of a job.
    if detail
        .group
        .as_deref()
        .is_some_and(|g| g.starts_with("service:"))
    {
        return None;
    }
    let id = container::task_id_of_arn(&detail.task_arn)?;
    let family = detail
        .task_definition_arn
        .as_deref()
        .map(definition_name)
        .filter(|f| !f.is_empty())
        .or_else(|| {
            detail
                .group
                .as_deref()
                .and_then(|g| g.strip_prefix("family:"))
        })
        .unwrap_or(id);
    let mut delta = RunDelta::new(
        container::key(id),
        RunSource::Ecs,
        family.to_string(),
        id.to_string(),
    );
    delta.started = detail.started_at;
    if detail.last_status == "STOPPED" {
        let stopped_by_someone = matches!(
            detail.stop_code.as_deref(),
            Some(
                "UserInitiated"
                    | "ServiceSchedulerInitiated"
                    | "SpotInterruption"
                    | "TerminationNotice"
            )
        );
        let exits: Vec<Option<i64>> = detail.containers.iter().map(|c| c.exit_code).collect();
        let outcome = if stopped_by_someone {
            Outcome::Aborted
        } else if !exits.is_empty() && exits.iter().all(|e| *e == Some(0)) {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        };
        delta.ended = Some((detail.stopped_at.unwrap_or(time), outcome));
    }
    Some(delta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::eventbridge::{Event, parse};

    const TASK_1: &str = "0f5b9a1c2d3e4f5061728394a5b6c7d8";
    const TASK_2: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f809";

    fn batch_event(
        job_id: &str,
        status: &str,
        attempts: &[(&str, i64)],
        array: serde_json::Value,
    ) -> Vec<u8> {
        let attempts: Vec<serde_json::Value> = attempts
            .iter()
            .map(|(task, exit)| serde_json::json!({
                "container": {"taskArn": format!("arn:aws:ecs:eu-west-1:123456789012:task/AWSBatch-ce-1/{task}"),
                              "exitCode": exit, "logStreamName": format!("resize-images/default/{task}")},
                "startedAt": 1_763_856_000_000i64, "stoppedAt": 1_763_856_060_000i64, "statusReason": "Essential container in task exited"}))
            .collect();
        serde_json::json!({
            "version": "0", "id": format!("evt-{job_id}-{status}"), "detail-type": "Batch Job State Change", "source": "aws.batch",
            "account": "123456789012", "time": "2025-11-23T00:05:00Z", "region": "eu-west-1", "resources": [],
            "detail": {"jobArn": "arn", "jobName": "resize-2025-11-23", "jobId": job_id, "jobQueue": "arn:aws:batch:eu-west-1:123456789012:job-queue/nightly",
                       "status": status, "attempts": attempts, "createdAt": 1_763_855_900_000i64, "startedAt": 1_763_856_000_000i64,
                       "stoppedAt": 1_763_856_300_000i64, "arrayProperties": array,
                       "jobDefinition": "arn:aws:batch:eu-west-1:123456789012:job-definition/resize-images:3", "container": {}}
        })
        .to_string()
        .into_bytes()
    }

    fn job(input: &[u8]) -> JobEvent {
        match parse(input) {
            Some(Ok(Event::Job(event))) => event,
            other => panic!("not a job event: {other:?}"),
        }
    }

    fn run_of(input: &[u8]) -> RunDelta {
        summary(&job(input)).runs.into_iter().next().expect("a run")
    }

    #[test]
    fn an_array_child_speaks_for_its_parent_and_its_attempts() {
        let child = run_of(&batch_event(
            "4c7599ae-0a82-49aa-ba5a-4727fcce14a8:2",
            "SUCCEEDED",
            &[(TASK_1, 1), (TASK_2, 0)],
            serde_json::json!({"index": 2}),
        ));
        assert_eq!(child.key, "batch:4c7599ae-0a82-49aa-ba5a-4727fcce14a8");
        assert_eq!(child.job, "resize-images");
        assert_eq!(child.ended, None, "a child's end is not the run's");
        assert_eq!(
            child.parts,
            vec![
                RunPart {
                    key: format!("task:{TASK_1}"),
                    recovered: Some(true)
                },
                RunPart {
                    key: format!("task:{TASK_2}"),
                    recovered: Some(true)
                },
            ]
        );
        let parent = run_of(&batch_event(
            "4c7599ae-0a82-49aa-ba5a-4727fcce14a8",
            "FAILED",
            &[],
            serde_json::json!({"size": 3, "statusSummary": {"SUCCEEDED": 2, "FAILED": 1}}),
        ));
        assert_eq!(parent.ended, Some((1_763_856_300_000, Outcome::Failed)));
        assert_eq!(parent.name, "resize-2025-11-23");
        let failed_child = run_of(&batch_event(
            "4c7599ae-0a82-49aa-ba5a-4727fcce14a8:1",
            "FAILED",
            &[(TASK_1, 1)],
            serde_json::json!({"index": 1}),
        ));
        assert_eq!(failed_child.parts[0].recovered, Some(false));
        let running = run_of(&batch_event(
            "4c7599ae-0a82-49aa-ba5a-4727fcce14a8:0",
            "RUNNING",
            &[(TASK_1, 1)],
            serde_json::json!({"index": 0}),
        ));
        assert_eq!(
            running.parts[0].recovered, None,
            "a later attempt may still succeed"
        );
    }

    #[test]
    fn an_execution_status_change_starts_and_ends_its_execution() {
        let event = serde_json::json!({
            "version": "0", "id": "315c1398-40ff-a850-213b-158f73e60175", "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states", "account": "123456789012", "time": "2025-11-23T01:10:00Z", "region": "eu-west-1",
            "resources": [], "detail": {
                "executionArn": "arn:aws:states:eu-west-1:123456789012:execution:nightly-billing:2025-11-23",
                "stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:nightly-billing",
                "name": "2025-11-23", "status": "TIMED_OUT", "startDate": 1_763_859_600_000i64, "stopDate": 1_763_863_200_000i64,
                "input": "{}", "output": null}
        })
        .to_string();
        let run = run_of(event.as_bytes());
        assert_eq!(
            run.key,
            "sfn:arn:aws:states:eu-west-1:123456789012:execution:nightly-billing:2025-11-23"
        );
        assert_eq!(
            (run.job.as_str(), run.name.as_str()),
            ("nightly-billing", "2025-11-23")
        );
        assert_eq!(run.started, Some(1_763_859_600_000));
        assert_eq!(run.ended, Some((1_763_863_200_000, Outcome::TimedOut)));
        let summary = summary(&job(event.as_bytes()));
        assert_eq!(
            summary.batch_id,
            "eventbridge:315c1398-40ff-a850-213b-158f73e60175"
        );
        assert!(summary.log_group.is_empty() && summary.issues.is_empty());
    }

    #[test]
    fn a_stopped_task_ends_by_its_exit_codes_and_stop_code() {
        let task = |containers: serde_json::Value, stop_code: &str, cluster: &str| {
            serde_json::json!({
                "version": "0", "id": "3317b2af", "detail-type": "ECS Task State Change", "source": "aws.ecs",
                "account": "123456789012", "time": "2025-11-23T02:00:00Z", "region": "eu-west-1", "resources": [],
                "detail": {"clusterArn": format!("arn:aws:ecs:eu-west-1:123456789012:cluster/{cluster}"),
                           "taskArn": format!("arn:aws:ecs:eu-west-1:123456789012:task/{cluster}/{TASK_1}"),
                           "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/nightly-export:7",
                           "group": "family:nightly-export", "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
                           "startedAt": "2025-11-23T01:00:00.250Z", "stoppedAt": "2025-11-23T01:59:59.750Z",
                           "stopCode": stop_code, "stoppedReason": "Essential container in task exited",
                           "containers": containers, "version": 5}
            })
            .to_string()
        };
        let failed = run_of(
            task(
                serde_json::json!([{"name": "app", "exitCode": 1}]),
                "EssentialContainerExited",
                "nightly",
            )
            .as_bytes(),
        );
        assert_eq!(failed.key, format!("task:{TASK_1}"));
        assert_eq!(failed.job, "nightly-export");
        assert_eq!(failed.started, Some(1_763_859_600_250));
        assert_eq!(failed.ended, Some((1_763_863_199_750, Outcome::Failed)));
        let ok = run_of(
            task(
                serde_json::json!([{"name": "app", "exitCode": 0}]),
                "EssentialContainerExited",
                "nightly",
            )
            .as_bytes(),
        );
        assert_eq!(ok.ended.map(|e| e.1), Some(Outcome::Succeeded));
        let stopped = run_of(
            task(
                serde_json::json!([{"name": "app"}]),
                "UserInitiated",
                "nightly",
            )
            .as_bytes(),
        );
        assert_eq!(stopped.ended.map(|e| e.1), Some(Outcome::Aborted));
        let service_task = task(
            serde_json::json!([{"name": "app", "exitCode": 143}]),
            "ServiceSchedulerInitiated",
            "web",
        )
        .replace("family:nightly-export", "service:web");
        assert!(
            summary(&job(service_task.as_bytes())).runs.is_empty(),
            "a service's task is no run"
        );
        let batch_task = task(
            serde_json::json!([]),
            "EssentialContainerExited",
            "AWSBatch-ce-1-1234",
        );
        let summary = summary(&job(batch_task.as_bytes()));
        assert!(
            summary.runs.is_empty(),
            "Batch's own tasks are its attempts"
        );
        assert_eq!(
            summary.batch_id,
            format!("ecs:arn:aws:ecs:eu-west-1:123456789012:task/AWSBatch-ce-1-1234/{TASK_1}:5")
        );
    }
}
