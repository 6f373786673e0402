//! Lambda's Python runtime, text format: the runtime's report of an
//! uncaught exception (`[ERROR] KeyError: 'x'` then the traceback, with
//! `\r` for newlines on the stdout sink and NO-BREAK SPACEs for
//! indentation), `logging` records (`[ERROR]\t<time>\t<request id>\t<msg>`),
//! and in the JSON format, how its records are recognised (`log_level` for
//! the runtime's own, `logger` beside the error keys for `logging`).
//!
//! The python2.7 and python3.6 runtimes wrote their failures without any
//! level: an uncaught exception as `<message>: <Type>` then the traceback
//! (read by `python`), and init failures as plain lines, `Unable to import
//! module 'm': No module named requests` and `Handler 'h' missing on module
//! 'm': ...`. The same `Unable to import module` words, followed by a
//! Node.js stack, are how the Node.js 0.10-6.10 runtimes reported theirs.
//! Such lines get the error type today's runtimes name, so one failure keeps
//! one kind across runtime versions.

use serde_json::{Map, Value};

use super::level::{Severity, severity_word};
use super::lines::{first_line, looks_like_timestamp};
use super::occurrence::{Fields, message_string, occurrence};
use super::stack;
use super::text::text_error;
use crate::model::{Level, Occurrence};

/// The type today's runtimes give a module that fails to import.
pub(crate) const IMPORT_KIND: &str = "Runtime.ImportModuleError";
/// ... and a handler the module does not define.
pub(crate) const HANDLER_KIND: &str = "Runtime.HandlerNotFound";
/// The shape of an init failure written without a level.
pub(crate) const INIT_SHAPE: &str = "lambda-init-text";

/// An init failure written as a plain line: `Unable to import module ...`
/// or `Handler '...' missing on module '...'`.
pub(crate) fn init_failure(message: &str) -> Option<Occurrence> {
    let first = first_line(message);
    let kind = if first.starts_with("Unable to import module '") {
        IMPORT_KIND
    } else if first.starts_with("Handler '") && first.contains("' missing on module '") {
        HANDLER_KIND
    } else {
        return None;
    };
    // The old Node.js runtimes put the loader's stack after the line; its
    // frames say whether the app's own code asked for the missing module.
    let frames = stack::parse(message).map(|t| t.frames).unwrap_or_default();
    // Python's import failures may run over many lines (numpy's advice
    // text), and the cause is often on the last: the message keeps them all.
    let text = if frames.is_empty() { message } else { first };
    Some(occurrence(
        kind,
        text,
        frames,
        Level::Fatal,
        INIT_SHAPE,
        Fields::default(),
    ))
}

/// The level word of a `[LEVEL]` prefix, if the line starts with one.
pub(crate) fn bracketed_word(line: &str) -> Option<&str> {
    let close = line.as_bytes().iter().take(12).position(|&b| b == b']')?;
    let word = line.get(1..close)?;
    severity_word(word).is_some().then_some(word)
}

/// `[ERROR] KeyError: 'x'` (Lambda Python uncaught, also the Java logger
/// prefix) and `[ERROR]\t<ts>\t<request id>\t<msg>` (Python `logging` in
/// Lambda's text format). `None` when the brackets hold no level.
pub(crate) fn bracketed_level(line: &str) -> Option<Option<Occurrence>> {
    let close = line.as_bytes().iter().take(12).position(|&b| b == b']')?;
    let severity = severity_word(&line[1..close])?;
    let Severity::At(level) = severity else {
        return Some(None);
    };
    let rest = &line[close + 1..];
    let mut fields = Fields::default();
    if let Some(logged) = rest.strip_prefix('\t') {
        let mut parts = logged.splitn(3, '\t');
        let body = match (parts.next(), parts.next(), parts.next()) {
            (Some(ts), Some(request_id), Some(msg)) if looks_like_timestamp(ts) => {
                fields.push("requestId", request_id);
                msg
            }
            _ => logged,
        };
        return Some(Some(text_error(level, body, fields, "python-logging-text")));
    }
    let body = rest.trim_start();
    let Some(traceback) = body.find("Traceback (most recent call last)") else {
        return Some(Some(text_error(level, body, fields, "level-prefix")));
    };
    let mut occ = text_error(level, body, fields, "python-text");
    // The runtime writes `[ERROR] <Type>: <str(exception)>` and then the
    // traceback, and the exception's text may run over several lines (numpy's
    // import advice ends with the original error): all of it is the message.
    let head = body[..traceback].trim_end();
    if let Some(text) = head
        .strip_prefix(occ.kind.as_str())
        .and_then(|r| r.strip_prefix(": "))
        && text.len() > occ.message.len()
    {
        occ.message = message_string(text);
    }
    Some(Some(occ))
}

/// The runtime's own JSON record of an uncaught exception.
pub(crate) fn is_json(obj: &Map<String, Value>) -> bool {
    obj.contains_key("log_level")
}

/// A `logging` record in the JSON format: the error keys beside `logger`.
pub(crate) fn is_logging_json(obj: &Map<String, Value>) -> bool {
    obj.contains_key("errorType") && obj.contains_key("requestId") && obj.contains_key("logger")
}

#[cfg(test)]
mod tests {
    use crate::extract::extract;
    use crate::model::{Level, Occurrence};

    fn kind_message(msg: &str) -> (String, String) {
        let o = extract(msg).unwrap_or_else(|| panic!("no error in {msg:?}"));
        (o.kind, o.message)
    }

    fn field<'a>(o: &'a Occurrence, key: &str) -> Option<&'a str> {
        o.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn python_uncaught_text_with_newlines() {
        let o = extract("[ERROR] KeyError: 'order_id'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 12, in handler\n    order = event['order_id']\n").unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("KeyError", "'order_id'")
        );
        assert_eq!(o.shape, "python-text");
        assert_eq!(o.frames.len(), 1);
        assert_eq!(o.frames[0].function, "handler");
        assert_eq!(o.frames[0].line, Some(12));
    }

    #[test]
    fn python_uncaught_text_with_carriage_returns_and_nbsp() {
        let o = extract("[ERROR] ZeroDivisionError: division by zero\rTraceback (most recent call last):\r\u{a0}\u{a0}File \"/var/task/app.py\", line 3, in handler\r\u{a0}\u{a0}\u{a0}\u{a0}return 1 / 0\n").unwrap();
        assert_eq!(o.kind, "ZeroDivisionError");
        assert_eq!(o.message, "division by zero");
        assert_eq!(o.frames[0].file, "/var/task/app.py");
    }

    #[test]
    fn python_import_error_keeps_runtime_type() {
        let (k, m) = kind_message(
            "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'yaml'\rTraceback (most recent call last):",
        );
        assert_eq!(k, "Runtime.ImportModuleError");
        assert_eq!(m, "Unable to import module 'app': No module named 'yaml'");
    }

    #[test]
    fn python_logging_text() {
        let o = extract("[ERROR]\t2024-05-01T10:00:00.123Z\t1f2e3d4c-0000-4000-8000-000000000001\tcould not reach the ledger\n").unwrap();
        assert_eq!(o.kind, "");
        assert_eq!(o.message, "could not reach the ledger");
        assert_eq!(o.shape, "python-logging-text");
        assert_eq!(
            o.fields,
            [(
                "requestId".to_string(),
                "1f2e3d4c-0000-4000-8000-000000000001".to_string()
            )]
        );
    }

    #[test]
    fn python_logging_exception_uses_the_traceback() {
        let o = extract("[ERROR]\t2024-05-01T10:00:00.123Z\tabc\tfailed to settle\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 8, in settle\n    total = a / b\nZeroDivisionError: division by zero").unwrap();
        assert_eq!(o.kind, "ZeroDivisionError");
        assert!(
            o.fields
                .contains(&("message".into(), "failed to settle".into()))
        );
    }

    #[test]
    fn bracketed_levels_below_error_are_not_errors() {
        assert_eq!(
            extract("[INFO]\t2024-05-01T10:00:00.123Z\tabc\tstarted"),
            None
        );
        assert_eq!(
            extract("[WARNING]\t2024-05-01T10:00:00.123Z\tabc\tslow"),
            None
        );
        assert_eq!(
            extract(
                "[DEBUG] Traceback (most recent call last):\n  File \"a.py\", line 1, in f\nValueError: x"
            ),
            None
        );
        assert_eq!(extract("[CRITICAL] disk full").unwrap().level, Level::Fatal);
        assert_eq!(
            extract("[ERROR] First test message").unwrap().message,
            "First test message"
        );
    }

    #[test]
    fn python_uncaught_json_uses_log_level() {
        let o = extract(r#"{"timestamp": "2024-05-01T10:00:00Z", "log_level": "ERROR", "errorMessage": "'sku'", "errorType": "KeyError", "requestId": "r-1", "stackTrace": ["  File \"/var/task/app.py\", line 9, in handler\n    sku = event['sku']\n"]}"#).unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str(), o.shape),
            ("KeyError", "'sku'", "python-json")
        );
        assert_eq!(o.frames[0].line, Some(9));
        assert_eq!(o.fields, [("requestId".into(), "r-1".into())]);
    }

    #[test]
    fn python_logging_json() {
        let o = extract(r#"{"timestamp": "2024-05-01T10:00:00Z", "level": "ERROR", "message": "could not price order", "logger": "root", "stackTrace": ["  File \"/var/task/app.py\", line 20, in price\n    return a / b\n"], "errorType": "ZeroDivisionError", "errorMessage": "division by zero", "requestId": "r-2", "location": "/var/task/app.py:price:22"}"#).unwrap();
        assert_eq!(o.kind, "ZeroDivisionError");
        assert_eq!(o.message, "division by zero");
        assert_eq!(o.shape, "python-logging-json");
        assert_eq!(field(&o, "message"), Some("could not price order"));
        assert_eq!(field(&o, "logger"), Some("root"));
        assert_eq!(field(&o, "errorType"), None);
    }

    /// The python2.7 and python3.6 runtimes' init failures carry no level
    /// (py-import-requests-py27-a, handler-module-missing-py36,
    /// py27-hnf-index-handler in the real corpus); they get the type today's
    /// runtimes name.
    /// numpy-multiarray-py38-pandas: the exception's text runs over many
    /// lines before the traceback, and its cause is on the last of them.
    #[test]
    fn a_multi_line_exception_text_is_the_whole_message() {
        let o = extract("[ERROR] Runtime.ImportModuleError: Unable to import module 'lambda': \nIMPORTANT: PLEASE READ THIS\nOriginal error was: No module named 'numpy.core._multiarray_umath'\nTraceback (most recent call last):").unwrap();
        assert_eq!(o.kind, "Runtime.ImportModuleError");
        assert!(
            o.message
                .ends_with("No module named 'numpy.core._multiarray_umath'"),
            "{:?}",
            o.message
        );
    }

    #[test]
    fn old_runtime_init_failures_without_a_level() {
        let o = extract(
            "Unable to import module 'process_cert_manager_mail': No module named requests\n",
        )
        .unwrap();
        assert_eq!(o.kind, super::IMPORT_KIND);
        assert_eq!(
            o.message,
            "Unable to import module 'process_cert_manager_mail': No module named requests"
        );
        let o = extract("Handler 'handler' missing on module 'index': 'module' object has no attribute 'handler'\n").unwrap();
        assert_eq!(o.kind, super::HANDLER_KIND);
        // The Node.js 6.10 runtime's words, with the loader's frames.
        let o = extract("Unable to import module 'index': Error\n    at Function.Module._resolveFilename (module.js:469:15)\n    at Object.<anonymous> (/var/task/index.js:2:1)\n").unwrap();
        assert_eq!(o.kind, super::IMPORT_KIND);
        assert_eq!(o.frames.len(), 2);
        assert!(o.frames[0].in_app);
        // Saying it is not failing it.
        assert_eq!(extract("Unable to restore the state from file"), None);
    }
}
