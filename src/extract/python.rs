//! Python tracebacks, and how structlog's JSON lines are recognised.
//!
//! Python prints the exception line *last*, after the frames; with chained
//! exceptions ("During handling of the above exception...") the last
//! traceback is the one that was raised, so each `Traceback` line starts
//! over.

use serde_json::{Map, Value};

use super::frames::python_frame;
use super::lines::{lines, trim_indent};
use super::trace::{Trace, exception_line};
use crate::limits::MAX_FRAMES;

pub(crate) fn parse(text: &str) -> Option<Trace> {
    let mut frames = Vec::new();
    let mut header = None;
    let mut saw_traceback = false;
    let mut awaiting_exception = false;
    let mut previous: Option<&str> = None;
    let mut summary = None;
    for line in lines(text) {
        let t = trim_indent(line);
        let indented = t.len() != line.len();
        if t.starts_with("Traceback (most recent call last)") {
            frames.clear();
            header = None;
            saw_traceback = true;
            awaiting_exception = true;
            summary = previous.and_then(uncaught_summary);
            continue;
        }
        previous = Some(t);
        if t.starts_with("File \"")
            && let Some(frame) = python_frame(t)
        {
            // Python prints the outermost frame first: a traceback past
            // the bound keeps its innermost frames, where it was raised
            // (dropped in halves, so a deep one costs no quadratic shifting).
            frames.push(frame);
            if frames.len() == 2 * MAX_FRAMES {
                frames.drain(..MAX_FRAMES);
            }
            awaiting_exception = true;
            continue;
        }
        // Source lines and 3.11+ caret lines are indented; they say where,
        // not what.
        if indented {
            continue;
        }
        if awaiting_exception
            && !frames.is_empty()
            && let Some(h) = exception_line(t)
        {
            header = Some(h);
            awaiting_exception = false;
        }
    }
    if frames.is_empty() && !saw_traceback {
        return None;
    }
    if frames.len() > MAX_FRAMES {
        frames.drain(..frames.len() - MAX_FRAMES);
    }
    // A traceback cut before its exception line (a truncated event) still
    // has the python2.7/3.6 runtimes' summary line above it.
    let header = header.or(summary);
    Some(Trace {
        definite: saw_traceback && !frames.is_empty(),
        header,
        frames,
        cause: None,
        shape: "python-traceback",
    })
}

/// The python2.7 and python3.6 Lambda runtimes' first line for an uncaught
/// exception, `<message>: <Type>` (`'Records': KeyError`), as a type and a
/// message.
fn uncaught_summary(line: &str) -> Option<(String, String)> {
    let (message, kind) = line.rsplit_once(": ")?;
    let identifier = kind.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    identifier.then(|| (kind.to_string(), message.trim().to_string()))
}

/// structlog's JSON renderer: the message is `event`, the traceback
/// `exception`.
pub(crate) fn is_structlog(obj: &Map<String, Value>) -> bool {
    obj.contains_key("exception") && obj.contains_key("event")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_comes_last_and_frames_keep_order() {
        let t = parse(
            "Traceback (most recent call last):\n  File \"/app/job.py\", line 9, in <module>\n    main()\n  File \"/app/job.py\", line 5, in main\n    x = d['k']\n        ~^^^^^\nKeyError: 'k'",
        )
        .unwrap();
        assert_eq!(t.header, Some(("KeyError".into(), "'k'".into())));
        let names: Vec<_> = t.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["<module>", "main"]);
    }

    /// A RecursionError through two functions calling each other: Python
    /// collapses only identical consecutive lines, so every frame prints.
    #[test]
    fn a_deep_traceback_keeps_its_innermost_frames() {
        let mut text = String::from(
            "Traceback (most recent call last):\n  File \"/app/job.py\", line 40, in <module>\n    main()\n",
        );
        for i in 0..600 {
            let (function, line) = if i % 2 == 0 {
                ("walk", 12)
            } else {
                ("visit", 20)
            };
            text.push_str(&format!(
                "  File \"/app/tree.py\", line {line}, in {function}\n    return step(node)\n"
            ));
        }
        text.push_str("  File \"/app/tree.py\", line 3, in depth\n    return len(node)\nRecursionError: maximum recursion depth exceeded while calling a Python object");
        let t = parse(&text).unwrap();
        assert_eq!(t.frames.len(), MAX_FRAMES);
        let last = t.frames.last().unwrap();
        assert_eq!(last.function, "depth", "the frame that raised");
        assert!(
            t.frames.iter().all(|f| f.function != "<module>"),
            "the outermost went"
        );
        assert_eq!(t.header.map(|h| h.0), Some("RecursionError".to_string()));
    }

    #[test]
    fn chained_exceptions_keep_the_last_one() {
        let t = parse(
            "Traceback (most recent call last):\n  File \"/app/a.py\", line 2, in f\n    int(x)\nValueError: bad\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"/app/a.py\", line 4, in g\n    raise RuntimeError('wrapped')\nRuntimeError: wrapped",
        )
        .unwrap();
        assert_eq!(t.header, Some(("RuntimeError".into(), "wrapped".into())));
        assert_eq!(t.frames.len(), 1);
        assert_eq!(t.frames[0].function, "g");
    }

    /// ddns-execution-mode-b in the real corpus: a python2.7 event cut in
    /// the middle of its only frame.
    #[test]
    fn a_cut_traceback_takes_its_type_from_the_summary_line() {
        let t = parse("'execution_mode': KeyError\nTraceback (most recent call last):\nFile \"/var/task/lambda_function.py\", line 220, in l").unwrap();
        assert_eq!(
            t.header,
            Some(("KeyError".into(), "'execution_mode'".into()))
        );
    }

    #[test]
    fn lambda_indentation_and_carriage_returns() {
        let t = parse("Traceback (most recent call last):\r\u{a0}\u{a0}File \"/var/task/f.py\", line 3, in h\r\u{a0}\u{a0}\u{a0}\u{a0}x()\r").unwrap();
        assert_eq!(t.frames.len(), 1);
        assert_eq!(t.frames[0].line, Some(3));
        assert_eq!(t.header, None);
    }
}
