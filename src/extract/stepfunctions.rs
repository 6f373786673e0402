//! Step Functions execution log events (LoggingConfiguration to CloudWatch
//! Logs): `{"id":"3","type":"TaskFailed","details":{"error":...,"cause":...},
//! "execution_arn":...}`.
//!
//! The error-level event types are the ones the developer guide lists for
//! log level ERROR; the three execution-ending ones are logged at FATAL.
//! `details.cause` of a failed Lambda task is the escaped JSON of the
//! function's error, whose type, message and stack say far more than
//! `Lambda.Unknown` or `States.TaskFailed`, so it wins when present.
//!
//! `FailStateEntered` is logged at ERROR too, but it only says that a Fail
//! state was entered: the failure that state raises is the
//! `ExecutionFailed` (or `MapIterationFailed`...) event that follows, with
//! the state's error and cause. Counting both made every Fail state two
//! issues, one of them titled by the state's name; the entry is skipped.

use serde_json::{Map, Value};

use super::json_value::flatten;
use super::occurrence::{Fields, occurrence};
use super::stack::stack_frames;
use crate::model::{Level, Occurrence};

const ERROR_TYPES: [&str; 24] = [
    "ActivityFailed",
    "ActivityScheduleFailed",
    "ActivityTimedOut",
    "ExecutionAborted",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "LambdaFunctionFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut",
    "MapIterationAborted",
    "MapIterationFailed",
    "MapRunAborted",
    "MapRunFailed",
    "MapStateAborted",
    "MapStateFailed",
    "ParallelStateAborted",
    "ParallelStateFailed",
    "TaskFailed",
    "TaskStartFailed",
    "TaskStateAborted",
    "TaskSubmitFailed",
    "TaskTimedOut",
    "WaitStateAborted",
];

/// The level an event type is logged at, or `None` for the event types
/// that are not failures (TaskStateEntered, ExecutionSucceeded...).
pub(crate) fn error_level(event_type: &str) -> Option<Level> {
    if !ERROR_TYPES.contains(&event_type) {
        return None;
    }
    Some(
        if matches!(
            event_type,
            "ExecutionAborted" | "ExecutionFailed" | "ExecutionTimedOut"
        ) {
            Level::Fatal
        } else {
            Level::Error
        },
    )
}

/// Payloads an execution carries: user data that can be large and secret,
/// and says nothing about the failure.
const PAYLOAD_KEYS: [&str; 6] = [
    "details.input",
    "details.output",
    "details.parameters",
    "details.inputDetails",
    "details.outputDetails",
    "details.taskCredentials",
];

pub(crate) fn extract(obj: &Map<String, Value>) -> Option<Occurrence> {
    let event_type = obj.get("type")?.as_str()?;
    let level = error_level(event_type)?;
    let details = obj.get("details").and_then(Value::as_object);
    let detail = |k: &str| details.and_then(|d| d.get(k)).and_then(Value::as_str);
    let error = detail("error");
    let cause = detail("cause");
    let mut consumed: Vec<&str> = PAYLOAD_KEYS.to_vec();
    consumed.push("event_timestamp");

    let mut kind = error.unwrap_or(event_type).to_string();
    let mut message = cause.or(detail("name")).unwrap_or("").to_string();
    let mut frames = Vec::new();
    let mut root_cause = None;
    if error.is_some() {
        consumed.push("details.error");
    }
    if let Some(cause) = cause {
        consumed.push("details.cause");
        if let Some(lambda_error) = lambda_error(cause) {
            if let Some(t) = lambda_error.get("errorType").and_then(Value::as_str) {
                kind = t.to_string();
                // The Step Functions error name stays as context.
                consumed.retain(|k| *k != "details.error");
            }
            if let Some(m) = lambda_error.get("errorMessage").and_then(Value::as_str) {
                message = m.to_string();
            }
            // Node.js reports its stack as `trace`, the others as `stackTrace`.
            if let Some(stack) = lambda_error.get("stackTrace").or(lambda_error.get("trace")) {
                frames = stack_frames(stack).frames;
            }
            root_cause = lambda_error
                .get("cause")
                .and_then(Value::as_object)
                .and_then(|c| {
                    Some((
                        c.get("errorType")?.as_str()?.to_string(),
                        c.get("errorMessage")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    ))
                });
        }
    }
    let mut fields = Fields::default();
    if let Some((kind, message)) = &root_cause {
        fields.push("cause.kind", kind);
        fields.push("cause.message", message);
    }
    flatten(obj, "", &consumed, &mut fields, 0);
    Some(occurrence(
        &kind,
        &message,
        frames,
        level,
        "stepfunctions",
        fields,
    ))
}

/// The Lambda error object a cause holds as escaped JSON, if it does.
fn lambda_error(cause: &str) -> Option<Map<String, Value>> {
    let cause = cause.trim();
    if !cause.starts_with('{') || !cause.contains("\"error") {
        return None;
    }
    match serde_json::from_str::<Value>(cause) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::extract as extract_line;

    #[test]
    fn task_failed_with_lambda_cause() {
        let cause = r#"{"errorMessage":"'sku'","errorType":"KeyError","requestId":"r-1","stackTrace":["  File \"/var/task/app.py\", line 9, in handler\n    sku = event['sku']\n"]}"#;
        let line = serde_json::json!({
            "id": "7", "type": "TaskFailed",
            "details": {"resource": "invoke", "resourceType": "lambda", "error": "KeyError", "cause": cause},
            "previous_event_id": "6", "event_timestamp": "1714557600000",
            "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:orders:run-1",
            "redrive_count": "0"
        })
        .to_string();
        let o = extract_line(&line).unwrap();
        assert_eq!(o.kind, "KeyError");
        assert_eq!(o.message, "'sku'");
        assert_eq!(o.shape, "stepfunctions");
        assert_eq!(o.level, Level::Error);
        assert_eq!(o.frames[0].function, "handler");
        assert!(
            o.fields
                .contains(&("details.error".into(), "KeyError".into()))
        );
        assert!(o.fields.contains(&(
            "execution_arn".into(),
            "arn:aws:states:eu-west-1:123456789012:execution:orders:run-1".into()
        )));
        assert!(o.fields.contains(&("type".into(), "TaskFailed".into())));
        assert!(!o.fields.iter().any(|(k, _)| k == "details.cause"));
    }

    #[test]
    fn execution_failed_plain_cause_is_fatal() {
        let o = extract_line(r#"{"id":"3","type":"ExecutionFailed","details":{"cause":"no route for 'x'","error":"States.Runtime"},"previous_event_id":"2","event_timestamp":"1714557600000","execution_arn":"arn:aws:states:eu-west-1:1:execution:sm:e","redrive_count":"0"}"#).unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("States.Runtime", "no route for 'x'")
        );
        assert_eq!(o.level, Level::Fatal);
    }

    /// A Fail state is one failure: its entry is not counted beside the
    /// `ExecutionFailed` that carries its error and cause.
    #[test]
    fn a_fail_state_is_counted_once_by_the_failure_it_raises() {
        let entered = r#"{"id":"2","type":"FailStateEntered","details":{"name":"RejectOrder","input":"{\"card\":\"4111\"}"},"previous_event_id":"1","event_timestamp":"1","execution_arn":"arn:aws:states:r:1:execution:sm:e","redrive_count":"0"}"#;
        assert_eq!(extract_line(entered), None);
        let failed = extract_line(r#"{"id":"3","type":"ExecutionFailed","details":{"error":"OrderRejected","cause":"card declined"},"previous_event_id":"2","event_timestamp":"1","execution_arn":"arn:aws:states:r:1:execution:sm:e","redrive_count":"0"}"#).unwrap();
        assert_eq!(
            (failed.kind.as_str(), failed.message.as_str()),
            ("OrderRejected", "card declined")
        );
    }

    #[test]
    fn non_error_event_types_are_not_errors() {
        for t in [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskSucceeded",
            "ExecutionSucceeded",
            "TaskScheduled",
        ] {
            let line = format!(
                r#"{{"id":"1","type":"{t}","details":{{"name":"x"}},"previous_event_id":"0","event_timestamp":"1","execution_arn":"arn:aws:states:r:1:execution:sm:e","redrive_count":"0"}}"#
            );
            assert_eq!(extract_line(&line), None, "{t}");
        }
    }
}
