//! One failure, one occurrence, when the platform reports it on several
//! lines of a batch.
//!
//! Lambda states a failure on a line of its own (`Task timed out after ...`,
//! `RequestId: <id> Error: ...` with the error type under it) and repeats it
//! as the `Status:` of the invocation's REPORT line and of the INIT_REPORT
//! lines of a failed init (one for the init phase, one more when the init is
//! retried at the first invoke); a runtime that dies after printing why is
//! followed by the platform's `Runtime exited` line. Each of these lines is
//! an occurrence when it stands alone (a 2025 timeout has only the REPORT
//! status; an extension crash at init may have only INIT_REPORT). Within a
//! batch the repeats are dropped here:
//!
//! - a status report, when a failure of the same type is stated on its own
//!   line for the same request (or either line names none);
//! - the invoke-phase INIT_REPORT of an init whose init-phase INIT_REPORT
//!   was kept, when both name the same type;
//! - a `Runtime exited` line, when the invocation it belongs to (back to the
//!   previous request's END or REPORT) already holds an error that ends a
//!   runtime: a fatal error, a runtime failure type, or an uncaught
//!   exception report.
//!
//! Across batches the repeats are counted twice, under one issue: both
//! lines of a failure get the same type and message template.

use std::collections::HashMap;

use super::multiline::Slot;
use super::platform;
use crate::model::{Level, Occurrence};

/// How far back a `Runtime exited` line looks for the error it repeats.
const EXIT_LOOKBACK: usize = 64;

pub(crate) fn mark_repeats(messages: &[&str], slots: &mut [Slot]) {
    let out: Vec<Option<&Occurrence>> = slots
        .iter()
        .map(|s| match s {
            Slot::Found(o) => Some(&**o),
            _ => None,
        })
        .collect();
    let repeats = repeats(messages, &out);
    for (i, why) in repeats {
        slots[i] = Slot::Repeat(why);
    }
}

fn repeats(messages: &[&str], out: &[Option<&Occurrence>]) -> Vec<(usize, &'static str)> {
    let mut stated: HashMap<&str, Vec<Option<&str>>> = HashMap::new();
    for o in out.iter().flatten() {
        if !platform::is_status(o) {
            stated
                .entry(o.kind.as_str())
                .or_default()
                .push(field(o, "requestId"));
        }
    }
    let mut repeats = Vec::new();
    let mut init_kind: Option<&str> = None;
    for (i, o) in out.iter().enumerate() {
        let Some(o) = o else { continue };
        if !platform::is_status(o) {
            continue;
        }
        let rid = field(o, "requestId");
        let stated_too = stated.get(o.kind.as_str()).is_some_and(|rids| {
            rids.iter()
                .any(|r| r.is_none() || rid.is_none() || *r == rid)
        });
        let phase = field(o, "Phase");
        let retried_init = phase == Some("invoke") && init_kind == Some(o.kind.as_str());
        if phase == Some("init") {
            init_kind = Some(o.kind.as_str());
        } else if phase == Some("invoke") {
            init_kind = None;
        }
        if stated_too {
            repeats.push((
                i,
                "a status line repeating a failure another line of the batch states",
            ));
        } else if retried_init {
            repeats.push((
                i,
                "the retry of an init whose failure the batch already holds",
            ));
        }
    }
    for (i, o) in out.iter().enumerate() {
        let Some(o) = o else { continue };
        if o.shape == platform::TEXT_SHAPE
            && o.kind == platform::EXIT_KIND
            && o.message.starts_with("Runtime exited")
            && follows_runtime_end(messages, out, i, field(o, "requestId"))
        {
            repeats.push((
                i,
                "the platform's exit line after the runtime said why it died",
            ));
        }
    }
    repeats
}

fn field<'a>(o: &'a Occurrence, name: &str) -> Option<&'a str> {
    o.fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether an error that ends a runtime comes before event `at` within the
/// same invocation.
fn follows_runtime_end(
    messages: &[&str],
    out: &[Option<&Occurrence>],
    at: usize,
    request_id: Option<&str>,
) -> bool {
    for k in (at.saturating_sub(EXIT_LOOKBACK)..at).rev() {
        let m = messages[k];
        let other_request = ["END RequestId: ", "REPORT RequestId: "]
            .iter()
            .find_map(|p| m.strip_prefix(p))
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|rid| request_id.is_some_and(|r| r != rid));
        if other_request {
            return false;
        }
        if let Some(p) = out[k]
            && ends_runtime(p)
        {
            return true;
        }
    }
    false
}

fn ends_runtime(o: &Occurrence) -> bool {
    if platform::is_status(o) || o.kind == platform::EXIT_KIND {
        return false;
    }
    o.level == Level::Fatal
        || o.kind.starts_with("Runtime.")
        || field(o, "runtime.label")
            .is_some_and(|l| l == "Uncaught Exception" || l == "Unhandled Promise Rejection")
}

#[cfg(test)]
mod tests {
    use crate::extract::multiline::extract_messages;

    fn kinds(messages: &[&str]) -> Vec<Option<String>> {
        extract_messages(messages)
            .into_iter()
            .map(|o| o.map(|o| o.kind))
            .collect()
    }

    /// platform-bootstrap-execformat-go554 in the real corpus: two
    /// INIT_REPORT lines and the RequestId line report one failure.
    #[test]
    fn init_reports_repeat_the_platform_error_line() {
        let got = kinds(&[
            "INIT_REPORT Init Duration: 1.57 ms\tPhase: init\tStatus: error\tError Type: Runtime.InvalidEntrypoint\n",
            "INIT_REPORT Init Duration: 1.80 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.InvalidEntrypoint\n",
            "START RequestId: d515bace-9d56-4982-bd7c-0b5d3dfdd550 Version: $LATEST\n",
            "RequestId: d515bace-9d56-4982-bd7c-0b5d3dfdd550 Error: fork/exec /var/task/bootstrap: exec format error\nRuntime.InvalidEntrypoint\n",
            "END RequestId: d515bace-9d56-4982-bd7c-0b5d3dfdd550\n",
        ]);
        assert_eq!(got.iter().flatten().count(), 1, "{got:?}");
        assert_eq!(got[3].as_deref(), Some("Runtime.InvalidEntrypoint"));
    }

    /// ext-crash-dd-v62-java: an init that failed twice (init, then invoke
    /// phase) with no other line is one failure.
    #[test]
    fn a_retried_init_is_one_failure() {
        let got = kinds(&[
            "INIT_REPORT Init Duration: 60.90 ms\tPhase: init\tStatus: error\tError Type: Extension.Crash\n",
            "INIT_REPORT Init Duration: 61.20 ms\tPhase: invoke\tStatus: error\tError Type: Extension.Crash\n",
        ]);
        assert_eq!(got, [Some("Extension.Crash".to_string()), None]);
    }

    /// A timeout's REPORT status repeats the `Task timed out` line of the
    /// same request, before or after it; another request's timeout stays.
    #[test]
    fn a_timeout_status_repeats_the_timeout_line_of_its_request() {
        let got = kinds(&[
            "REPORT RequestId: fb63a8b6-599d-11e8-a437-911ac44bc0b4\tDuration: 18018.26 ms\tBilled Duration: 18000 ms\tMemory Size: 512 MB\tMax Memory Used: 82 MB\tStatus: timeout\n",
            "2018-05-17T06:46:28.161Z fb63a8b6-599d-11e8-a437-911ac44bc0b4 Task timed out after 18.02 seconds\n",
            "REPORT RequestId: 0c9d1f6e-4b8a-4c2e-9a51-2f6e8d7c3b10\tDuration: 3000.26 ms\tBilled Duration: 3000 ms\tMemory Size: 512 MB\tMax Memory Used: 82 MB\tStatus: timeout\n",
        ]);
        assert_eq!(
            got,
            [
                None,
                Some("Sandbox.Timedout".into()),
                Some("Sandbox.Timedout".into())
            ]
        );
    }

    /// coreclr-80004005-lambda-480: the host's failure, then the
    /// platform's exit line for the same crash.
    #[test]
    fn the_exit_of_a_runtime_that_said_why_it_died_is_a_repeat() {
        let got = kinds(&[
            "START RequestId: d88fc138-1756-4e8f-b887-d44851c12b84 Version: $LATEST\n",
            "Failed to initialize CoreCLR, HRESULT: 0x80004005\n",
            "END RequestId: d88fc138-1756-4e8f-b887-d44851c12b84\n",
            "REPORT RequestId: d88fc138-1756-4e8f-b887-d44851c12b84\tDuration: 631.51 ms\tBilled Duration: 700 ms\tMemory Size: 256 MB\tMax Memory Used: 18 MB\t\n",
            "RequestId: d88fc138-1756-4e8f-b887-d44851c12b84 Error: Runtime exited with error: exit status 137\nRuntime.ExitError\n",
        ]);
        assert_eq!(got.iter().flatten().count(), 1, "{got:?}");
        // An out-of-memory kill after ordinary log lines is its own failure.
        let got = kinds(&[
            "START RequestId: 7102cad9-db37-4b26-b9c9-123665f50123 Version: $LATEST\n",
            "[INFO]\t2024-09-10T13:32:01.979Z\t7102cad9-db37-4b26-b9c9-123665f50123\tCollecting\n",
            "RequestId: 7102cad9-db37-4b26-b9c9-123665f50123 Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n",
        ]);
        assert_eq!(got[2].as_deref(), Some("Runtime.ExitError"));
        // A fatal error of an earlier request does not hide this one's exit.
        let got = kinds(&[
            "Failed to initialize CoreCLR, HRESULT: 0x80004005\n",
            "END RequestId: 11111111-1111-4111-8111-111111111111\n",
            "RequestId: 22222222-2222-4222-8222-222222222222 Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n",
        ]);
        assert_eq!(got[2].as_deref(), Some("Runtime.ExitError"));
    }
}
