//! EventBridge job events: what AWS says about the runs of batch jobs.
//!
//! Three shapes, as the Step Functions, AWS Batch and ECS guides document
//! them (`events/` holds samples written from those): "Step Functions
//! Execution Status Change" (source `aws.states`), "Batch Job State
//! Change" (`aws.batch`; its `detail` resembles a DescribeJobs JobDetail)
//! and "ECS Task State Change" (`aws.ecs`; a DescribeTasks Task, with ISO
//! times where the API has epoch ones). EventBridge's own "Scheduled Event"
//! (`aws.events`) is read too: it only asks the Lambda to settle runs and
//! send what is due. Unknown fields are ignored, as the guides ask: AWS
//! adds fields over time.

use serde::Deserialize;
use serde_json::Value;

use super::DecodeError;

/// One job event.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    StepFunctions {
        id: String,
        time: i64,
        detail: SfnExecution,
    },
    Batch {
        id: String,
        time: i64,
        detail: BatchJob,
    },
    Ecs {
        id: String,
        time: i64,
        detail: EcsTask,
    },
}

/// What an EventBridge input asks for.
// One per input, never held in bulk: boxing the job would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Job(JobEvent),
    /// A schedule's tick: nothing to record.
    Scheduled,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SfnExecution {
    pub execution_arn: String,
    pub state_machine_arn: Option<String>,
    pub name: Option<String>,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED (PENDING_REDRIVE...).
    pub status: String,
    pub start_date: Option<i64>,
    pub stop_date: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BatchJob {
    /// `ID`, or `PARENT:INDEX` for an array child.
    pub job_id: String,
    pub job_name: String,
    pub job_definition: String,
    pub job_queue: Option<String>,
    /// SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED.
    pub status: String,
    pub created_at: Option<i64>,
    pub started_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub attempts: Vec<Attempt>,
    /// The current attempt's task and log stream (`container`).
    pub task_arn: Option<String>,
    pub log_stream_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub task_arn: Option<String>,
    pub log_stream_name: Option<String>,
    pub exit_code: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EcsTask {
    pub task_arn: String,
    pub cluster_arn: Option<String>,
    pub task_definition_arn: Option<String>,
    pub group: Option<String>,
    /// PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING,
    /// DEPROVISIONING, STOPPED.
    pub last_status: String,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub started_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub containers: Vec<EcsContainer>,
    /// Incremented with each change: a repeated event repeats it.
    pub version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EcsContainer {
    pub name: Option<String>,
    pub exit_code: Option<i64>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    detail: Value,
}

/// Whether `input` looks like an EventBridge event (a JSON object with a
/// `detail-type`), without reading it.
pub fn looks_like(input: &[u8]) -> bool {
    let trimmed = input.trim_ascii();
    trimmed.starts_with(b"{") && memchr::memmem::find(trimmed, b"\"detail-type\"").is_some()
}

/// Reads an EventBridge event: `None` when `input` is not one, an error
/// when it is one faultline does not read or is broken.
pub fn parse(input: &[u8]) -> Option<Result<Event, DecodeError>> {
    if !looks_like(input) {
        return None;
    }
    let envelope: Envelope = match serde_json::from_slice(input.trim_ascii()) {
        Ok(e) => e,
        // A `detail-type` inside some other JSON (a log line that quotes
        // one): not an event.
        Err(e) if e.is_data() => return None,
        Err(e) => return Some(Err(DecodeError::NotJson(e))),
    };
    let time = envelope.time.as_deref().and_then(iso_ms).unwrap_or(0);
    let d = &envelope.detail;
    let id = envelope.id.clone();
    let broken = |what: &str| {
        Some(Err(DecodeError::Event(format!(
            "{} event {id:?} has no {what}",
            envelope.detail_type
        ))))
    };
    let event = match (envelope.source.as_str(), envelope.detail_type.as_str()) {
        ("aws.events", "Scheduled Event") => Event::Scheduled,
        ("aws.states", "Step Functions Execution Status Change") => {
            let Some(execution_arn) = text(d, "executionArn") else {
                return broken("detail.executionArn");
            };
            Event::Job(JobEvent::StepFunctions {
                id,
                time,
                detail: SfnExecution {
                    execution_arn,
                    state_machine_arn: text(d, "stateMachineArn"),
                    name: text(d, "name"),
                    status: text(d, "status").unwrap_or_default(),
                    start_date: millis(d.get("startDate")),
                    stop_date: millis(d.get("stopDate")),
                },
            })
        }
        ("aws.batch", "Batch Job State Change") => {
            let Some(job_id) = text(d, "jobId") else {
                return broken("detail.jobId");
            };
            let container = d.get("container");
            Event::Job(JobEvent::Batch {
                id,
                time,
                detail: BatchJob {
                    job_id,
                    job_name: text(d, "jobName").unwrap_or_default(),
                    job_definition: text(d, "jobDefinition").unwrap_or_default(),
                    job_queue: text(d, "jobQueue"),
                    status: text(d, "status").unwrap_or_default(),
                    created_at: millis(d.get("createdAt")),
                    started_at: millis(d.get("startedAt")),
                    stopped_at: millis(d.get("stoppedAt")),
                    attempts: d
                        .get("attempts")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .map(|attempt| {
                                    let c = attempt.get("container").unwrap_or(&Value::Null);
                                    Attempt {
                                        task_arn: text(c, "taskArn"),
                                        log_stream_name: text(c, "logStreamName"),
                                        exit_code: c.get("exitCode").and_then(Value::as_i64),
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    task_arn: container.and_then(|c| text(c, "taskArn")),
                    log_stream_name: container.and_then(|c| text(c, "logStreamName")),
                },
            })
        }
        ("aws.ecs", "ECS Task State Change") => {
            let Some(task_arn) = text(d, "taskArn") else {
                return broken("detail.taskArn");
            };
            Event::Job(JobEvent::Ecs {
                id,
                time,
                detail: EcsTask {
                    task_arn,
                    cluster_arn: text(d, "clusterArn"),
                    task_definition_arn: text(d, "taskDefinitionArn"),
                    group: text(d, "group"),
                    last_status: text(d, "lastStatus").unwrap_or_default(),
                    stop_code: text(d, "stopCode"),
                    stopped_reason: text(d, "stoppedReason"),
                    started_at: millis(d.get("startedAt")),
                    stopped_at: millis(d.get("stoppedAt")),
                    containers: d
                        .get("containers")
                        .and_then(Value::as_array)
                        .map(|cs| {
                            cs.iter()
                                .map(|c| EcsContainer {
                                    name: text(c, "name"),
                                    exit_code: c.get("exitCode").and_then(Value::as_i64),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    version: d.get("version").and_then(Value::as_i64),
                },
            })
        }
        (source, detail_type) => {
            return Some(Err(DecodeError::Event(format!(
                "{detail_type:?} from {source:?} is not a job event faultline reads \
                 (it reads Step Functions Execution Status Change, Batch Job State Change, \
                 ECS Task State Change and Scheduled Event)"
            ))));
        }
    };
    Some(Ok(event))
}

/// A string field, if present and not empty.
fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A time given as epoch milliseconds (Step Functions, Batch) or as an
/// ISO 8601 string (ECS).
fn millis(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => iso_ms(s),
        _ => None,
    }
}

/// `2020-01-23T17:57:58.103Z` as epoch milliseconds.
fn iso_ms(text: &str) -> Option<i64> {
    crate::text::parse_time(text, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_keep_their_milliseconds() {
        assert_eq!(iso_ms("2020-01-23T17:57:58.103Z"), Some(1_579_802_278_103));
        assert_eq!(iso_ms("2019-02-26T19:42:21Z"), Some(1_551_210_141_000));
        assert_eq!(iso_ms("2020-01-23T17:57:58.1Z"), Some(1_579_802_278_100));
        assert_eq!(iso_ms("yesterday"), None);
    }

    #[test]
    fn other_inputs_are_not_events_and_unknown_events_are_named() {
        assert!(parse(br#"{"messageType":"DATA_MESSAGE","logEvents":[]}"#).is_none());
        assert!(parse(b"[ERROR] boom").is_none());
        assert!(
            parse(br#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":"{\"detail-type\":1}"}]}"#)
                .is_none()
        );
        let err = parse(br#"{"id":"1","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}"#)
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("EC2 Instance State-change Notification")
                && err.contains("Batch Job State Change"),
            "{err}"
        );
        let broken = parse(br#"{"id":"1","detail-type":"Batch Job State Change","source":"aws.batch","detail":{}}"#)
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(broken.contains("jobId"), "{broken}");
        assert_eq!(
            parse(br#"{"id":"1","detail-type":"Scheduled Event","source":"aws.events","time":"2025-11-23T00:00:00Z","detail":{}}"#)
                .unwrap()
                .unwrap(),
            Event::Scheduled
        );
    }
}
