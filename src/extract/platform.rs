//! Lambda platform failures: timeouts, crashed runtimes, failed inits.
//!
//! One failure must give one occurrence, and the platform often reports one
//! failure on several lines. In the text log format it writes a dedicated
//! line (`Task timed out after 5.01 seconds`, `RequestId: <id> Error:
//! Runtime exited with error: signal: killed` with the error type on the
//! next line) and repeats it as `Status: timeout` / `Status: error` on the
//! REPORT and INIT_REPORT lines; since 2025 a timeout may have only the
//! `Status:` on its REPORT line. So status lines are read as failures too
//! (shape [`STATUS_SHAPE`]) and `multiline` drops each one whose failure a
//! dedicated line of the same batch already reports. In the JSON log format
//! there is no dedicated line, and the status appears on both
//! `platform.runtimeDone` and `platform.report`: `platform.report` (and
//! `platform.initReport` for init failures) is taken, because the platform
//! writes a report for every invocation, even one whose runtime died before
//! it could report done, while `runtimeDone` is skipped. Timeouts from all
//! of these get the same kind and message template, so a function switching
//! log format keeps its issue.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde_json::{Map, Value};

use super::lines::first_line;
use super::occurrence::{Fields, occurrence};
use crate::model::{Level, Occurrence};

pub(crate) const TIMEOUT_KIND: &str = "Sandbox.Timedout";
pub(crate) const EXIT_KIND: &str = "Runtime.ExitError";
/// The shape of a failure read from a REPORT or INIT_REPORT status, text or
/// JSON: it may repeat a failure another line reports.
pub(crate) const STATUS_SHAPE: &str = "lambda-platform-report";
/// The shape of a failure the platform states on a line of its own.
pub(crate) const TEXT_SHAPE: &str = "lambda-platform-text";
/// The shape of a failure read from a JSON `platform.*Report` record.
pub(crate) const JSON_SHAPE: &str = "lambda-platform-json";

/// Whether an occurrence is a platform status report, which may repeat a
/// failure that another line states.
pub(crate) fn is_status(o: &Occurrence) -> bool {
    o.shape == STATUS_SHAPE || o.shape == JSON_SHAPE
}

/// Lambda platform lines that report on an invocation rather than fail it;
/// only a failure `Status:` on a report makes one of them an error.
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

/// Whether a line is one of the platform's lines about an invocation
/// ([`PLATFORM_PREFIXES`]).
pub(crate) fn is_report_line(line: &str) -> bool {
    matches!(
        line.as_bytes().first(),
        Some(b'S' | b'E' | b'R' | b'I' | b'T')
    ) && PLATFORM_PREFIXES.iter().any(|p| line.starts_with(p))
}

/// The failure a REPORT, INIT_REPORT or RESTORE_REPORT line states in its
/// `Status:` field (`timeout`, `error`, with `Error Type: Runtime.X`), or
/// `None` for every other platform line and for successes.
pub(crate) fn report_status(line: &str) -> Option<Occurrence> {
    if !line.contains("Status: ") {
        return None;
    }
    let report = if line.starts_with("REPORT ") {
        "Invocation"
    } else if line.starts_with("INIT_REPORT ") {
        "Init"
    } else if line.starts_with("RESTORE_REPORT") {
        "Restore"
    } else {
        return None;
    };
    let first = first_line(line);
    let mut status = None;
    let mut error_type = None;
    let mut duration_ms = None;
    let mut fields = Fields::default();
    for part in first.split('\t') {
        let part = part.trim();
        let (key, value) = match part.split_once(": ") {
            Some((k, v)) => (
                k.trim_start_matches("REPORT ")
                    .trim_start_matches("INIT_REPORT "),
                v.trim(),
            ),
            None => continue,
        };
        match key {
            "Status" => status = Some(value),
            "Error Type" => error_type = Some(value),
            "RequestId" => fields.push("requestId", value),
            _ => {
                if key == "Duration" {
                    duration_ms = value.trim_end_matches(" ms").parse::<f64>().ok();
                }
                fields.push(key, value);
            }
        }
    }
    let status = status?;
    if status == "success" {
        return None;
    }
    let (kind, message) = if status == "timeout" {
        (
            error_type.unwrap_or(TIMEOUT_KIND),
            timeout_message(duration_ms),
        )
    } else {
        (
            error_type.unwrap_or(""),
            format!("{report} ended with status {status}"),
        )
    };
    Some(occurrence(
        kind,
        &message,
        Vec::new(),
        Level::Error,
        STATUS_SHAPE,
        fields,
    ))
}

/// How a timeout reads, whichever line reported it: the words of the
/// platform's own `Task timed out` line.
fn timeout_message(duration_ms: Option<f64>) -> String {
    match duration_ms {
        Some(ms) => format!("Task timed out after {:.2} seconds", ms / 1000.0),
        None => "Task timed out".to_string(),
    }
}

/// The dedicated lines' words, as searchers built once: every text line
/// that may hold an error is probed, and `str::find` with a string pattern
/// sets up a new searcher on each call.
static PLATFORM_WORDS: LazyLock<[Finder<'static>; 4]> = LazyLock::new(|| {
    [
        "Task timed out after ",
        "Runtime exited with error",
        "Runtime exited without providing a reason",
        "Process exited before completing request",
    ]
    .map(Finder::new)
});

/// A platform failure in a text line without a level: `<time> <id> Task
/// timed out after N seconds`, or `RequestId: <id> Error: <what>` followed by
/// the error type on a line of its own (`Runtime.ExitError`,
/// `Runtime.InvalidEntrypoint`, `Extension.Crash`...), or that type alone.
pub(crate) fn text(line: &str) -> Option<Occurrence> {
    let first = first_line(line);
    let typed = line
        .get(first.len()..)
        .and_then(|rest| {
            rest.split(['\n', '\r'])
                .map(str::trim)
                .find(|l| !l.is_empty())
        })
        .filter(|t| is_error_type(t));
    let [timeout, exits @ ..] = &*PLATFORM_WORDS;
    let (at, kind, level) = if let Some(at) = timeout.find(first.as_bytes()) {
        (at, TIMEOUT_KIND, Level::Error)
    } else if let Some(at) = exits.iter().find_map(|f| f.find(first.as_bytes())) {
        (at, EXIT_KIND, Level::Fatal)
    } else if let Some(rest) = first.strip_prefix("RequestId: ")
        && let Some(error) = rest.find(" Error: ")
    {
        // The kind the platform states on the next line wins; without one,
        // the runtime failed in a way it names no type for.
        let at = "RequestId: ".len() + error + " Error: ".len();
        (at, typed.unwrap_or("Runtime.Unknown"), Level::Fatal)
    } else if is_bare_runtime_error(first) {
        return Some(occurrence(
            first,
            "",
            Vec::new(),
            Level::Fatal,
            TEXT_SHAPE,
            Fields::default(),
        ));
    } else {
        return None;
    };
    let kind = match (kind, typed) {
        (EXIT_KIND, Some(t)) => t,
        (k, _) => k,
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
        TEXT_SHAPE,
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

/// An error type as the platform names it on the line after its message:
/// `Runtime.ExitError`, `Extension.Crash`, `Sandbox.Timedout`.
fn is_error_type(t: &str) -> bool {
    t.len() < 64
        && t.split_once('.').is_some_and(|(family, name)| {
            matches!(family, "Runtime" | "Extension" | "Sandbox" | "Function")
                && !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric())
        })
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
        (
            error_type.unwrap_or(TIMEOUT_KIND),
            timeout_message(duration_ms),
        )
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
        JSON_SHAPE,
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
            "REPORT RequestId: 6b9b0c6e-1111-4222-8333-944455556666\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t",
            "INIT_START Runtime Version: python:3.12.v30\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:abc",
        ] {
            assert_eq!(extract(line), None, "{line}");
        }
    }

    /// timeout-report-status-azul-8140 and oom-report-browse-show in the
    /// real corpus: since 2025 a timeout may leave only `Status: timeout`
    /// on its REPORT line, and an out-of-memory kill only `Status: error`
    /// with its error type. A timeout reads as the `Task timed out` line it
    /// replaces, so both wordings make one issue.
    #[test]
    fn status_on_a_report_line_is_a_failure() {
        let o = extract("REPORT RequestId: 4725a167-21a7-5731-99c2-c3d0e3dfd770\tDuration: 180000.00 ms\tBilled Duration: 180000 ms\tMemory Size: 1280 MB\tMax Memory Used: 1201 MB\tStatus: timeout\n").unwrap();
        assert_eq!(o.kind, TIMEOUT_KIND);
        assert_eq!(o.message, "Task timed out after 180.00 seconds");
        assert_eq!(o.shape, STATUS_SHAPE);
        let o = extract("REPORT RequestId: 806ab12b-e660-4a4a-8d9a-eee01e457f98\tDuration: 376256.59 ms\tBilled Duration: 376257 ms\tMemory Size: 10239 MB\tMax Memory Used: 10239 MB\tInit Duration: 551.73 ms\tStatus: error\tError Type: Runtime.OutOfMemory\n").unwrap();
        assert_eq!(o.kind, "Runtime.OutOfMemory");
        let o = extract("INIT_REPORT Init Duration: 60.90 ms\tPhase: init\tStatus: error\tError Type: Extension.Crash\n").unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("Extension.Crash", "Init ended with status error")
        );
    }

    /// The `RequestId: <id> Error: <what>` line, with the error type on the
    /// next line (platform-bootstrap-* and ext-crash-* in the real corpus).
    #[test]
    fn platform_error_lines_take_the_type_from_the_next_line() {
        let o = extract("RequestId: 13feb01b-dbcb-4f19-3b1c-84ebcc5a1037 Error: fork/exec /var/task/bootstrap: exec format error\nRuntime.InvalidEntrypoint\n").unwrap();
        assert_eq!(o.kind, "Runtime.InvalidEntrypoint");
        assert_eq!(
            o.message,
            "fork/exec /var/task/bootstrap: exec format error"
        );
        let o = extract(
            "RequestId: e635172c-2624-0bc6-1711-0e6af03a752b Error: exit code 0\nExtension.Crash\n",
        )
        .unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("Extension.Crash", "exit code 0")
        );
        let o = extract("RequestId: 22649496-f719-11e8-b4b6-c796ae152b7e Error: Runtime failed to start: fork/exec /var/task/bootstrap: exec format error\nRuntime.ExitError\n").unwrap();
        assert_eq!(o.kind, "Runtime.ExitError");
    }
}
