//! Finding the stack trace in a message or in a structured stack value,
//! whatever runtime wrote it: the per-runtime parsers are tried where the
//! text carries their markers.
//!
//! Called only for messages already judged errors, or for multi-line
//! messages without any level, so it may scan every line.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde_json::Value;

use super::frames::{go_frame, python_tuple_frame, stack_element};
use super::lines::{first_line, lines, trim_indent};
use super::trace::{Trace, exception_line};
use super::{at_trace, go, python, rust};
use crate::limits::MAX_FRAMES;

/// The runtimes' markers, as searchers built once: `str::contains` with a
/// string pattern sets up a new searcher on each call, and this runs on
/// every error message, six markers deep for one with no trace.
struct Markers {
    traceback: Finder<'static>,
    python_file: Finder<'static>,
    at: Finder<'static>,
    go_panic: Finder<'static>,
    go_fatal: Finder<'static>,
    rust_panic: Finder<'static>,
    goroutine: Finder<'static>,
}

static MARKERS: LazyLock<Markers> = LazyLock::new(|| Markers {
    traceback: Finder::new("Traceback (most recent call last)"),
    python_file: Finder::new("File \""),
    at: Finder::new("at "),
    go_panic: Finder::new("panic: "),
    go_fatal: Finder::new("fatal error: "),
    rust_panic: Finder::new("panicked at "),
    goroutine: Finder::new("goroutine "),
});

/// The stack trace in a message, if it holds one.
pub(crate) fn parse(text: &str) -> Option<Trace> {
    let m = &*MARKERS;
    let has = |marker: &Finder<'_>| marker.find(text.as_bytes()).is_some();
    if (has(&m.traceback) || has(&m.python_file))
        && let Some(t) = python::parse(text)
    {
        return Some(t);
    }
    if has(&m.at)
        && let Some(t) = at_trace::parse(text)
    {
        return Some(t);
    }
    if has(&m.go_panic) || has(&m.go_fatal) {
        if let Some(t) = go::parse_panic(text) {
            return Some(t);
        }
    }
    if has(&m.rust_panic) {
        return rust::panic(text);
    }
    if has(&m.goroutine) {
        return go::parse_goroutine(text);
    }
    None
}

/// Frames, innermost last, and the exception line when the stack has one,
/// from a stack written as an array (Lambda's `stackTrace`, Go's
/// `{path,line,label}` entries) or as one string.
pub(crate) fn stack_frames(stack: &Value) -> Trace {
    match stack {
        Value::Array(items) => {
            let mut frames = Vec::new();
            let mut header = None;
            let mut python = false;
            for item in items.iter().take(MAX_FRAMES * 2) {
                if frames.len() >= MAX_FRAMES {
                    break;
                }
                match item {
                    Value::String(s) => {
                        if let Some(f) = stack_element(s) {
                            python |= trim_indent(s).starts_with("File \"");
                            frames.push(f);
                        } else if frames.is_empty() && header.is_none() {
                            header = exception_line(first_line(s));
                        }
                    }
                    // Python 2.7's `[file, line, function, code]` tuples, as
                    // its runtime serialised `stackTrace` (kept in Step
                    // Functions causes and invoke responses).
                    Value::Array(tuple) => {
                        if let [Value::String(file), line, Value::String(function), ..] =
                            tuple.as_slice()
                        {
                            let line = line.as_u64().and_then(|n| u32::try_from(n).ok());
                            python = true;
                            frames.push(python_tuple_frame(file, line, function));
                        }
                    }
                    Value::Object(o) => {
                        let path = o.get("path").and_then(Value::as_str).unwrap_or("");
                        let label = o.get("label").and_then(Value::as_str).unwrap_or("");
                        let line = o
                            .get("line")
                            .and_then(Value::as_u64)
                            .and_then(|n| u32::try_from(n).ok());
                        frames.push(go_frame(path, line, label));
                    }
                    _ => {}
                }
            }
            // Python lists frames innermost last; Node.js, Java and Go
            // innermost first.
            if !python {
                frames.reverse();
            }
            Trace {
                header,
                frames,
                ..Trace::default()
            }
        }
        Value::String(s) => match parse(s) {
            Some(t) => t,
            None if s.contains(".go:") => Trace {
                frames: go::stack_frames(lines(s)),
                ..Trace::default()
            },
            None => Trace {
                header: exception_line(first_line(s)),
                ..Trace::default()
            },
        },
        _ => Trace::default(),
    }
}
