//! Lambda platform failures: timeouts, crashed runtimes, failed inits.
//!
//! One failure must give one occurrence. In the text log format the
//! platform writes a dedicated line (`Task timed out after 5.01 seconds`,
//! `Runtime exited with error: signal: killed`) and repeats it as
//! `Status: timeout` on the REPORT line: the dedicated line is taken, REPORT
//! lines never. In the JSON log format there is no dedicated line, and the
//! status appears on both `platform.runtimeDone` and `platform.report`:
//! `platform.report` (and `platform.initReport` for init failures) is taken,
//! because the platform writes a report for every invocation, even one whose
//! runtime died before it could report done, while `runtimeDone` is skipped.
//! Timeouts from both formats get the same kind and message template, so a
//! function switching log format keeps its issue.

use serde_json::{Map, Value};

use super::lines::first_line;
use super::occurrence::{Fields, occurrence};
use crate::model::{Level, Occurrence};

pub(crate) const TIMEOUT_KIND: &str = "Sandbox.Timedout";
pub(crate) const EXIT_KIND: &str = "Runtime.ExitError";

/// Lambda platform lines that report on an invocation rather than fail it.
/// A timeout or crash has its own line ("Task timed out...", "Runtime
/// exited..."); the REPORT line that follows repeats it as `Status:`, and is
/// skipped so one failure is one occurrence.
const PLATFORM_PREFIXES: [&str; 10] = [
    "START RequestId:",
    "END RequestId:",
    "REPORT RequestId:",
    "INIT_START ",
    "INIT_REPORT ",
    "INIT_RUNTIME_DONE",
    "EXTENSION ",
    "TELEMETRY ",
    "RESTORE_START",
    "RESTORE_REPORT",
];

/// Whether a line is one of the platform's reports on an invocation
/// ([`PLATFORM_PREFIXES`]), which never hold an error of their own.
pub(crate) fn is_report_line(line: &str) -> bool {
    matches!(
        line.as_bytes().first(),
        Some(b'S' | b'E' | b'R' | b'I' | b'T')
    ) && PLATFORM_PREFIXES.iter().any(|p| line.starts_with(p))
}

/// A platform failure in a text line without a level.
pub(crate) fn text(line: &str) -> Option<Occurrence> {
    let first = first_line(line);
    let (at, kind, level) = if let Some(at) = first.find("Task timed out after ") {
        (at, TIMEOUT_KIND, Level::Error)
    } else if let Some(at) = first
        .find("Runtime exited with error")
        .or_else(|| first.find("Runtime exited without providing a reason"))
    {
        (at, EXIT_KIND, Level::Fatal)
    } else if let Some(at) = first.find("Process exited before completing request") {
        (at, EXIT_KIND, Level::Fatal)
    } else if is_bare_runtime_error(first) {
        return Some(occurrence(
            first,
            "",
            Vec::new(),
            Level::Fatal,
            "lambda-platform-text",
            Fields::default(),
        ));
    } else {
        return None;
    };
    let mut fields = Fields::default();
    if let Some(id) = request_id_before(&first[..at]) {
        fields.push("requestId", id);
    }
    Some(occurrence(
        kind,
        &first[at..],
        Vec::new(),
        level,
        "lambda-platform-text",
        fields,
    ))
}

/// `Runtime.ExitError` on a line of its own, as Lambda writes it after the
/// line that says why the runtime exited.
pub(crate) fn is_bare_runtime_error(line: &str) -> bool {
    let t = line.trim();
    t.len() < 64
        && t.strip_prefix("Runtime.")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The request id in `<time> <id> Task timed out...` or
/// `RequestId: <id> Error: Runtime exited...`.
fn request_id_before(prefix: &str) -> Option<&str> {
    prefix
        .split_whitespace()
        .find(|t| t.len() == 36 && t.bytes().filter(|&b| b == b'-').count() == 4)
}

/// Which JSON platform records may report a failure: the reports.
pub(crate) fn is_report_type(t: &str) -> bool {
    matches!(
        t,
        "platform.report" | "platform.initReport" | "platform.restoreReport"
    )
}

/// A failure reported by a `platform.*` JSON record.
pub(crate) fn from_json(obj: &Map<String, Value>) -> Option<Occurrence> {
    let kind_of_record = obj.get("type")?.as_str()?;
    if !is_report_type(kind_of_record) {
        return None;
    }
    let record = obj.get("record")?.as_object()?;
    let status = record.get("status")?.as_str()?;
    if !matches!(status, "timeout" | "error" | "failure") {
        return None;
    }
    let error_type = record.get("errorType").and_then(Value::as_str);
    let duration_ms = record
        .get("metrics")
        .and_then(|m| m.get("durationMs"))
        .and_then(Value::as_f64);
    let (kind, message) = if status == "timeout" {
        let message = match duration_ms {
            Some(ms) => format!("Task timed out after {:.2} seconds", ms / 1000.0),
            None => "Task timed out".to_string(),
        };
        (error_type.unwrap_or(TIMEOUT_KIND), message)
    } else {
        let phase = if kind_of_record == "platform.report" {
            "Invocation"
        } else {
            "Init"
        };
        (
            error_type.unwrap_or(""),
            format!("{phase} ended with status {status}"),
        )
    };
    let mut fields = Fields::default();
    fields.push("type", kind_of_record);
    for (k, v) in record {
        match v {
            Value::String(s) if k != "errorType" => fields.push(k, s),
            Value::Object(m) => {
                for (mk, mv) in m {
                    if mv.is_number() {
                        fields.push(&format!("{k}.{mk}"), &mv.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Some(occurrence(
        kind,
        &message,
        Vec::new(),
        Level::Error,
        "lambda-platform-json",
        fields,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::extract;

    #[test]
    fn timeout_text_line() {
        let o = extract("2024-05-01T10:00:03.010Z 0d9c1f6e-4b8a-4c2e-9a51-2f6e8d7c3b10 Task timed out after 3.00 seconds\n\n").unwrap();
        assert_eq!(o.kind, TIMEOUT_KIND);
        assert_eq!(o.message, "Task timed out after 3.00 seconds");
        assert_eq!(
            o.fields,
            [(
                "requestId".into(),
                "0d9c1f6e-4b8a-4c2e-9a51-2f6e8d7c3b10".into()
            )]
        );
    }

    #[test]
    fn runtime_exit_lines() {
        let o = extract("RequestId: 0d9c1f6e-4b8a-4c2e-9a51-2f6e8d7c3b10 Error: Runtime exited with error: signal: killed").unwrap();
        assert_eq!((o.kind.as_str(), o.level), (EXIT_KIND, Level::Fatal));
        assert_eq!(o.message, "Runtime exited with error: signal: killed");
        assert_eq!(
            extract("Runtime.ExitError").unwrap().kind,
            "Runtime.ExitError"
        );
        assert_eq!(
            extract("Runtime.ExitError is documented here, see link"),
            None
        );
    }

    #[test]
    fn json_report_with_failure_status() {
        let o = extract(r#"{"time":"2024-05-01T10:00:03.100Z","type":"platform.report","record":{"requestId":"r-9","metrics":{"durationMs":3000.0,"billedDurationMs":3000,"memorySizeMB":128,"maxMemoryUsedMB":60},"status":"timeout"}}"#).unwrap();
        assert_eq!(o.kind, TIMEOUT_KIND);
        assert_eq!(o.message, "Task timed out after 3.00 seconds");
        assert!(o.fields.contains(&("requestId".into(), "r-9".into())));
        assert!(
            o.fields
                .contains(&("metrics.maxMemoryUsedMB".into(), "60".into()))
        );
        let o = extract(r#"{"time":"t","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","status":"error","errorType":"Runtime.ExitError","metrics":{"durationMs":80.1}}}"#).unwrap();
        assert_eq!(o.kind, "Runtime.ExitError");
        assert_eq!(o.message, "Init ended with status error");
    }

    #[test]
    fn json_runtime_done_and_successes_are_skipped() {
        for line in [
            r#"{"time":"t","type":"platform.runtimeDone","record":{"requestId":"r-9","status":"timeout","metrics":{"durationMs":3000.2}}}"#,
            r#"{"time":"t","type":"platform.report","record":{"requestId":"r-9","status":"success","metrics":{"durationMs":3.2}}}"#,
            r#"{"time":"t","type":"platform.start","record":{"requestId":"r-9","version":"$LATEST"}}"#,
            r#"{"time":"t","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init"}}"#,
        ] {
            assert_eq!(extract(line), None, "{line}");
        }
    }

    #[test]
    fn platform_report_lines_are_not_errors() {
        for line in [
            "START RequestId: 6b9b0c6e-1111-4222-8333-944455556666 Version: $LATEST",
            "END RequestId: 6b9b0c6e-1111-4222-8333-944455556666",
            "REPORT RequestId: 6b9b0c6e-1111-4222-8333-944455556666\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: timeout",
            "INIT_START Runtime Version: python:3.12.v30\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:abc",
        ] {
            assert_eq!(extract(line), None, "{line}");
        }
    }
}
