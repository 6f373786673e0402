//! Text lines in no particular format: a level word among the first tokens
//! (`2024-05-01 10:00:00,123 ERROR [main] com.acme.Job - failed`, Python's
//! default `ERROR:root:...`, logfmt's `level=error`), or no level at all, in
//! which case only a stack trace, an uncaught-exception header, a panic or a
//! platform failure makes the line an error.
//!
//! The format readers of particular runtimes (`lambda_python`,
//! `lambda_node`, `go`) strip their framing and end here with the body.

use super::level::{LevelToken, Severity, scan_level};
use super::lines::first_line;
use super::occurrence::{Fields, occurrence};
use super::trace::{exception_line, looks_like_exception_type};
use super::{logfmt, platform, rust, stack};
use crate::model::{Level, Occurrence};

/// The error in a line that states a level among its first tokens:
/// `Some(None)` when the level is below ERROR, `None` when the line states
/// no level at all (and [`unleveled`] or a runtime's own wording decides).
pub(crate) fn leveled(line: &str, fields: Fields) -> Option<Option<Occurrence>> {
    let found = scan_level(line)?;
    Some(match found {
        LevelToken {
            severity: Severity::Below,
            ..
        } => None,
        LevelToken {
            severity: Severity::At(level),
            logfmt: true,
            ..
        } => {
            let mut occ = logfmt::logfmt_error(level, line);
            if occ.message.contains('\n')
                && let Some(t) = stack::parse(&occ.message)
            {
                occ.frames = t.frames;
            }
            Some(occ)
        }
        LevelToken {
            severity: Severity::At(level),
            message_start,
            ..
        } => {
            let body = line[message_start..].trim_start_matches([' ', '\t', '-', ':', '|']);
            Some(leveled_text(level, body, fields))
        }
    })
}

/// Text after the level word, with tracing's span prefix
/// (`Lambda runtime invoke{requestId="..." xrayTraceId="..."}: `) and
/// target (`my_app::jobs: `) read into fields.
fn leveled_text(level: Level, body: &str, mut fields: Fields) -> Occurrence {
    if let Some(rest) = rust::tracing_spans(body, &mut fields) {
        let rest = rust::tracing_target(rest, &mut fields);
        return text_error(level, rest, fields, "rust-text");
    }
    let rest = rust::tracing_target(body, &mut fields);
    text_error(level, rest, fields, "text-level")
}

/// An error whose text (after any level and prefix) is `body`: the stack
/// trace in it, when there is one, gives the type and message; otherwise a
/// first line like `ValueError: bad` does; otherwise the text is the message
/// and the type stays empty.
pub(crate) fn text_error(
    level: Level,
    body: &str,
    mut fields: Fields,
    shape: &'static str,
) -> Occurrence {
    let first = first_line(body);
    let parsed = if first.len() < body.len() {
        stack::parse(body)
    } else {
        None
    };
    match parsed {
        Some(t) => {
            t.push_fields(&mut fields);
            let (kind, message) = match t.header {
                Some((k, m)) => {
                    if exception_line(first).is_none_or(|(fk, _)| fk != k) {
                        fields.push("message", first.trim());
                    }
                    (k, m)
                }
                None => exception_line(first).unwrap_or_else(|| (String::new(), first.to_string())),
            };
            occurrence(&kind, &message, t.frames, level, shape, fields)
        }
        None => match exception_line(first).filter(|(k, _)| looks_like_exception_type(k)) {
            Some((kind, message)) => occurrence(&kind, &message, Vec::new(), level, shape, fields),
            None => occurrence("", body, Vec::new(), level, shape, fields),
        },
    }
}

/// A line without any level: an error only when it shows one (a platform
/// failure, a stack trace, an uncaught-exception header, a panic).
pub(crate) fn unleveled(line: &str) -> Option<Occurrence> {
    let bytes = line.as_bytes();
    let multi_line = bytes.contains(&b'\n') || bytes.contains(&b'\r');
    if !multi_line && !has_single_line_marker(line) {
        return None;
    }
    if let Some(occ) = platform::text(line) {
        return Some(occ);
    }
    if multi_line {
        let t = stack::parse(line)?;
        if !t.definite {
            return None;
        }
        let first = first_line(line);
        let mut fields = Fields::default();
        t.push_fields(&mut fields);
        let (kind, message) = t
            .header
            .unwrap_or_else(|| (String::new(), first.to_string()));
        let level = if t.shape == "go-panic" || t.shape == "rust-panic" {
            Level::Fatal
        } else {
            Level::Error
        };
        return Some(occurrence(
            &kind, &message, t.frames, level, t.shape, fields,
        ));
    }
    if line.starts_with("Exception in thread \"")
        && let Some((kind, message)) = exception_line(line)
    {
        return Some(occurrence(
            &kind,
            &message,
            Vec::new(),
            Level::Error,
            "java-trace",
            Fields::default(),
        ));
    }
    if line.starts_with("panic: ") || line.contains("panicked at ") {
        let t = stack::parse(line)?;
        let (kind, message) = t.header?;
        return Some(occurrence(
            &kind,
            &message,
            t.frames,
            Level::Fatal,
            t.shape,
            Fields::default(),
        ));
    }
    None
}

/// Whether a one-line message holds any of the markers the checks below
/// look for; most lines hold none, and `contains` is a vectorised search.
fn has_single_line_marker(line: &str) -> bool {
    [
        "Runtime",
        "imed out",
        "exited",
        "xception in thread",
        "panic",
        "RequestId: ",
    ]
    .iter()
    .any(|m| line.contains(m))
}

#[cfg(test)]
mod tests {
    use crate::extract::extract;
    use crate::model::Level;

    fn kind_message(msg: &str) -> (String, String) {
        let o = extract(msg).unwrap_or_else(|| panic!("no error in {msg:?}"));
        (o.kind, o.message)
    }

    #[test]
    fn common_text_level_formats() {
        assert_eq!(
            kind_message("ERROR:root:could not open file").1,
            "root:could not open file"
        );
        assert_eq!(
            kind_message("2024-05-01 10:00:00,123 ERROR [main] com.acme.Job - failed").1,
            "[main] com.acme.Job - failed"
        );
        assert_eq!(
            extract("2024-05-01 10:00:00,123 FATAL out of memory")
                .unwrap()
                .level,
            Level::Fatal
        );
        assert_eq!(
            extract("2024-05-01 10:00:00,123 INFO retrying after error"),
            None
        );
        assert_eq!(
            extract("2024-05-01 10:00:00,123 WARN upstream error, retrying"),
            None
        );
    }

    #[test]
    fn lines_that_merely_mention_errors() {
        for line in [
            "processed 120 records, 0 errors",
            "error_rate=0",
            "Retrying after error (attempt 2)",
            "Error: could not resolve host",
            "ValueError: bad input",
            "the handler raised no exception",
        ] {
            assert_eq!(extract(line), None, "{line}");
        }
    }

    #[test]
    fn free_text_traces() {
        let o = extract("Traceback (most recent call last):\n  File \"/app/job.py\", line 4, in <module>\n    run()\nValueError: bad row 7").unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("ValueError", "bad row 7")
        );
        assert_eq!(o.shape, "python-traceback");
        let o = extract("Exception in thread \"main\" java.lang.IllegalStateException: closed\n\tat com.acme.Main.main(Main.java:3)").unwrap();
        assert_eq!(o.kind, "java.lang.IllegalStateException");
        assert_eq!(o.frames[0].line, Some(3));
        let o = extract("Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space")
            .unwrap();
        assert_eq!(o.kind, "java.lang.OutOfMemoryError");
        let o = extract("panic: assignment to entry in nil map").unwrap();
        assert_eq!((o.kind.as_str(), o.level), ("panic", Level::Fatal));
    }

    #[test]
    fn multi_byte_characters_anywhere_do_not_panic() {
        for line in [
            "lev\u{e9}=error x",
            "levél=error",
            "level\u{e9}=error",
            "lvl\u{e9}",
            "[\u{e9}RROR] x",
            "\u{a0}ERROR\u{a0}: x",
            "2024/01/01 00:00:0\u{e9} x",
            "2024-01-01T00:00:00Z\t\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\tERROR\tx",
            "ERROR Lambda runtime invoke{requestId=\"\u{e9}\u{1f600}}: x",
            "thread 'main' panicked at \u{e9}:\u{e9}:",
            "{\"level\u{e9}\":\"ERROR\"}",
        ] {
            let _ = extract(line);
        }
    }

    #[test]
    fn indented_prose_is_not_a_trace() {
        assert_eq!(
            extract("Summary:\n    at the moment nothing failed\n    at all"),
            None
        );
    }
}
