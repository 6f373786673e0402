//! Stack traces split over consecutive events.
//!
//! The awslogs driver (AWS Batch, ECS) ships every line of a container's
//! output as its own event, so one Python traceback becomes a dozen events.
//! A head event (an error line, `Traceback (most recent call last):`, an
//! exception line such as `java.lang.IllegalStateException: x`, a Go
//! `panic:`) followed by continuation events (frames, source lines,
//! `Caused by:`, Python's final `ValueError: x`) becomes one occurrence on the
//! head; the continuations get `None`.
//!
//! Deciding is cheap for ordinary events: only the first bytes of the *next*
//! event are looked at, and a head is considered only when that event opens a
//! continuation.

use super::at_trace::embedded_header;
use super::level::{Severity, severity_word};
use super::lines::{first_line, is_indented, trim_indent};
use super::message::{extract, stated_level_word};
use super::trace::{exception_line, looks_like_exception_type};
use super::{go, platform, repeats};
use crate::decode::LogEvent;
use crate::model::Occurrence;

/// At most this many continuation events are folded into one head, and at
/// most this many bytes of them: a runaway recursion trace must not build a
/// multi-megabyte string.
pub(crate) const MAX_FOLDED_EVENTS: usize = 200;
pub(crate) const MAX_FOLDED_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Frames, source lines, and the exception line *last*.
    Python,
    /// Java and Node.js: the exception line first, then `at` lines.
    At,
    /// Go: `goroutine N [running]:`, then function / location pairs.
    Go,
}

enum Head {
    /// The head starts the error: fold the continuations into it.
    Fold,
    /// The head is a WARN line directly followed by a trace: how a handled
    /// exception is logged (`logger.warning(..., exc_info=True)`), and a
    /// WARN with a trace is not an error (see the module doc of `extract`).
    ///
    /// Split over events, a WARN line followed by a trace is ambiguous: it
    /// may also be an unrelated warning right before a crash, and missing a
    /// crash costs more than an extra issue. So only the combinations a
    /// logger really writes swallow: a Python traceback after Python's own
    /// level name `WARNING`, and a Java or Node.js exception line after
    /// `WARN`/`WARNING` (an uncaught Java exception starts with `Exception in
    /// thread`, an uncaught Node.js one with its source excerpt, so neither
    /// directly follows a WARN line). A trace after an INFO line is always
    /// judged on its own.
    Swallow,
    /// Not a head: judge the event on its own.
    No,
}

/// What became of one event of a stream.
#[derive(Debug)]
pub(crate) enum Slot {
    /// Boxed: most events are not errors, and a slot per event the size of
    /// an occurrence made every batch's slots hundreds of kilobytes, copied
    /// as they were collected.
    Found(Box<Occurrence>),
    /// Folded into the occurrence of the event at this index.
    Continuation(usize),
    /// Part of a trace logged below ERROR, headed by the event at this index.
    Swallowed(usize),
    /// A failure another line of the batch already reports.
    Repeat(&'static str),
    /// Judged on its own: not an error.
    Alone,
    /// Part of a trace the batch ended inside: judged with the events that
    /// follow it in the stream.
    Pending,
}

impl Slot {
    pub(crate) fn into_occurrence(self) -> Option<Occurrence> {
        match self {
            Slot::Found(o) => Some(*o),
            _ => None,
        }
    }
}

/// The errors among `slots`, each with the index of its event.
pub(crate) fn errors(slots: Vec<Slot>) -> Vec<(usize, Occurrence)> {
    slots
        .into_iter()
        .enumerate()
        .filter_map(|(i, slot)| Some((i, slot.into_occurrence()?)))
        .collect()
}

pub(crate) fn extract_events(events: &[LogEvent<'_>]) -> Vec<Option<Occurrence>> {
    let messages: Vec<&str> = events.iter().map(|e| e.message.as_ref()).collect();
    extract_messages(&messages)
}

/// [`extract_events`] over bare messages.
pub(crate) fn extract_messages(messages: &[&str]) -> Vec<Option<Occurrence>> {
    fold(messages, true)
        .into_iter()
        .map(Slot::into_occurrence)
        .collect()
}

/// Judges the events of a stream in order. With `at_end` false, more
/// events of the stream may follow: a trace the last events start (or a
/// last event that may head one) is left [`Slot::Pending`] instead of being
/// judged without the rest of it.
pub(crate) fn fold(messages: &[&str], at_end: bool) -> Vec<Slot> {
    let mut out: Vec<Slot> = Vec::with_capacity(messages.len());
    let mut i = 0;
    while i < messages.len() {
        let message = messages[i];
        let next = messages.get(i + 1).map(|m| m.trim_end());
        let mode =
            next.and_then(|n| continuation_start(message, n, messages.get(i + 2).copied(), at_end));
        if let Some(mode) = mode {
            let (end, stop) = fold_end(messages, i + 1, mode);
            match head(message, next.unwrap_or(""), mode) {
                Head::Fold if stop == Stop::OutOfInput && !at_end => {
                    out.extend((i..end).map(|_| Slot::Pending));
                    i = end;
                    continue;
                }
                Head::Fold => {
                    let combined = messages[i..end]
                        .iter()
                        .map(|m| m.trim_end())
                        .collect::<Vec<_>>()
                        .join("\n");
                    out.push(found(extract(&combined)));
                    out.extend((i + 1..end).map(|_| Slot::Continuation(i)));
                    i = end;
                    continue;
                }
                Head::Swallow => {
                    out.extend((i..end).map(|_| Slot::Swallowed(i)));
                    i = end;
                    continue;
                }
                Head::No => {}
            }
        }
        if next.is_none() && !at_end && may_head(message) {
            out.push(Slot::Pending);
            i += 1;
            continue;
        }
        let occurrence = extract(message);
        // Lambda follows `Runtime exited with error: ...` with a bare
        // `Runtime.ExitError` line: the same failure, said twice.
        let exit_repeated = occurrence
            .as_ref()
            .is_some_and(|o| o.kind == platform::EXIT_KIND && !o.message.is_empty())
            && next.is_some_and(platform::is_bare_runtime_error);
        out.push(found(occurrence));
        i += 1;
        if exit_repeated {
            out.push(Slot::Repeat(
                "the error type under the platform's line before",
            ));
            i += 1;
        }
    }
    repeats::mark_repeats(messages, &mut out);
    out
}

fn found(occurrence: Option<Occurrence>) -> Slot {
    occurrence.map_or(Slot::Alone, |o| Slot::Found(Box::new(o)))
}

/// Whether an event could head a trace whose continuation is in the next
/// batch: a one-line text event that states a level (a WARN line may head a
/// trace that is then not an error), or starts a traceback, a panic or an
/// exception.
fn may_head(message: &str) -> bool {
    let t = message.trim_end();
    if !one_text_line(t) {
        return false;
    }
    stated_level_word(t).is_some() || opens_a_trace(t)
}

/// Whether a one-line text event starts a traceback, a panic or an
/// exception (so the lines after it are its trace), as opposed to a line
/// that only states a level.
pub(crate) fn opens_a_trace(message: &str) -> bool {
    let t = message.trim_end();
    one_text_line(t)
        && (t.starts_with("Traceback (most recent call last)")
            || t.starts_with("panic: ")
            || t.starts_with("fatal error: ")
            || (!is_indented(t)
                && (exception_line(t).is_some_and(|(kind, _)| looks_like_exception_type(&kind))
                    || embedded_header(t).is_some())))
}

fn one_text_line(t: &str) -> bool {
    !(t.is_empty() || t.starts_with('{') || t.contains(['\n', '\r']))
}

/// Whether an event opens a continuation, given the event after it (an
/// exception line is a continuation of an error line only when `at` frames
/// follow it).
fn continuation_start(
    current: &str,
    next: &str,
    after: Option<&str>,
    at_end: bool,
) -> Option<Mode> {
    if next.starts_with("Traceback (most recent call last)") {
        return Some(Mode::Python);
    }
    let t = trim_indent(next);
    if t.len() != next.len() {
        if t.starts_with("File \"") && t.contains("\", line ") {
            return Some(Mode::Python);
        }
        if t.starts_with("at ") {
            return Some(Mode::At);
        }
        // A panic raised again after `recover`: `\tpanic: ...`.
        if t.starts_with("panic: ") {
            return Some(Mode::Go);
        }
        return None;
    }
    if next.starts_with("Caused by: ") {
        return Some(Mode::At);
    }
    if (next.starts_with("goroutine ") && next.ends_with("]:"))
        || next.starts_with("[signal ")
        || (next.starts_with("panic: ") && current.trim_end().ends_with("[recovered]"))
    {
        return Some(Mode::Go);
    }
    // An exception line continues an error line when `at` frames follow it,
    // or may, when the batch ends right after it and more may come.
    let frames_follow = match after {
        Some(a) => is_at_line(a),
        None => !at_end,
    };
    if frames_follow && exception_line(next).is_some() {
        return Some(Mode::At);
    }
    None
}

fn is_at_line(line: &str) -> bool {
    is_indented(line) && trim_indent(line).starts_with("at ")
}

fn head(message: &str, next: &str, mode: Mode) -> Head {
    let t = message.trim_end();
    // A head is one line; an event that already holds a whole trace is
    // complete, and JSON cannot be glued to raw text lines.
    if t.is_empty() || t.starts_with('{') || t.contains(['\n', '\r']) {
        return Head::No;
    }
    if let Some(word) = stated_level_word(t) {
        return match severity_word(word) {
            Some(Severity::At(_)) => Head::Fold,
            Some(Severity::Below) if swallows(word, next, mode) => Head::Swallow,
            _ => Head::No,
        };
    }
    if t.starts_with("Traceback (most recent call last)")
        || t.starts_with("panic: ")
        || t.starts_with("fatal error: ")
        || (!is_indented(t) && exception_line(first_line(t)).is_some())
        // `console.error("could not sync", err)` on stderr: the text, then
        // the error's first line, then its frames.
        || (mode == Mode::At && embedded_header(t).is_some())
    {
        return Head::Fold;
    }
    Head::No
}

fn swallows(level_word: &str, next: &str, mode: Mode) -> bool {
    match mode {
        Mode::Python => level_word == "WARNING",
        Mode::At => {
            (level_word.eq_ignore_ascii_case("warn") || level_word.eq_ignore_ascii_case("warning"))
                && !next.starts_with("Exception in thread ")
        }
        Mode::Go => false,
    }
}

/// One past the last event that continues the trace starting at `start`.
/// Why a fold ended where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The trace's own last line (Python's exception line, Go's `exit
    /// status`).
    Closed,
    /// An event that does not continue it.
    Interrupted,
    /// The batch ended: the rest may be in the next batch of the stream.
    OutOfInput,
    /// The bounds on folded events and bytes.
    Bounded,
}

/// One past the last event that continues the trace starting at `start`,
/// and why it stops there.
fn fold_end(messages: &[&str], start: usize, mode: Mode) -> (usize, Stop) {
    let mut j = start;
    let mut bytes = 0;
    let mut seen_frame = false;
    loop {
        if j >= messages.len() {
            return (j, Stop::OutOfInput);
        }
        if j - start >= MAX_FOLDED_EVENTS || bytes >= MAX_FOLDED_BYTES {
            return (j, Stop::Bounded);
        }
        let line = messages[j].trim_end();
        let t = trim_indent(line);
        let indented = t.len() != line.len();
        let first = j == start;
        let (continues, ends) = match mode {
            Mode::Python => {
                if line.starts_with("Traceback (most recent call last)")
                    || line.starts_with("During handling of the above exception")
                    || line.starts_with("The above exception was the direct cause")
                {
                    (true, false)
                } else if indented {
                    seen_frame |= t.starts_with("File \"");
                    (true, false)
                } else if seen_frame && exception_line(line).is_some() {
                    // The exception line closes the traceback, unless a
                    // chained one follows.
                    let chained = messages.get(j + 1).is_some_and(|n| {
                        n.starts_with("During handling of the above exception")
                            || n.starts_with("The above exception was the direct cause")
                    });
                    (true, !chained)
                } else {
                    (false, false)
                }
            }
            Mode::At => {
                let continues = (indented
                    && (t.starts_with("at ")
                        || t.starts_with("... ")
                        || t.starts_with("Suppressed: ")
                        || t.starts_with("[cause]: ")))
                    || line.starts_with("Caused by: ")
                    || (first && exception_line(line).is_some());
                (continues, false)
            }
            Mode::Go => {
                if line.starts_with("exit status ") {
                    (true, true)
                } else {
                    (first || go_continues(line), false)
                }
            }
        };
        if !continues {
            return (j, Stop::Interrupted);
        }
        bytes += line.len();
        j += 1;
        if ends {
            return (j, Stop::Closed);
        }
    }
}

/// Whether a line belongs to a Go panic's dump: the signal line, goroutine
/// headers, `function(args)` lines, their locations (tab-indented as Go
/// prints them, or with spaces or none as pasted), `created by`, a re-panic
/// line and the `...` of an elided dump.
fn go_continues(line: &str) -> bool {
    let t = line.trim();
    let function_line = t.ends_with(')')
        && t.find('(')
            .is_some_and(|open| open > 0 && !t[..open].contains(' '));
    line.starts_with('\t')
        || t.is_empty()
        || t == "..."
        || t.starts_with("goroutine ")
        || t.starts_with("[signal ")
        || t.starts_with("created by ")
        || t.starts_with("panic: ")
        || go::is_location_line(t)
        || function_line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(messages: &[&str]) -> Vec<Option<(String, String)>> {
        extract_messages(messages)
            .into_iter()
            .map(|o| o.map(|o| (o.kind, o.message)))
            .collect()
    }

    fn some(k: &str, m: &str) -> Option<(String, String)> {
        Some((k.to_string(), m.to_string()))
    }

    #[test]
    fn python_traceback_split_over_events() {
        let events = [
            "starting batch 7",
            "Traceback (most recent call last):",
            "  File \"/app/job.py\", line 30, in <module>",
            "    main()",
            "  File \"/app/job.py\", line 12, in main",
            "    rate = total / count",
            "ZeroDivisionError: division by zero",
            "cleanup done",
        ];
        let out = extract_messages(&events);
        assert!(out[0].is_none());
        let o = out[1].as_ref().unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("ZeroDivisionError", "division by zero")
        );
        assert_eq!(o.frames.len(), 2);
        assert!(out[2..].iter().all(Option::is_none));
    }

    #[test]
    fn python_traceback_after_an_error_line_is_folded_into_it() {
        let got = kinds(&[
            "2024-05-01 10:00:00,001 ERROR could not load shard 3",
            "Traceback (most recent call last):",
            "  File \"/app/load.py\", line 8, in load",
            "    raise KeyError(name)",
            "KeyError: 'shard-3'",
        ]);
        assert_eq!(got[0], some("KeyError", "'shard-3'"));
        assert!(got[1..].iter().all(Option::is_none));
    }

    #[test]
    fn chained_python_traceback_is_one_occurrence() {
        let got = kinds(&[
            "Traceback (most recent call last):",
            "  File \"/app/a.py\", line 2, in f",
            "    int(x)",
            "ValueError: invalid literal",
            "During handling of the above exception, another exception occurred:",
            "Traceback (most recent call last):",
            "  File \"/app/a.py\", line 5, in g",
            "    raise RuntimeError('bad input')",
            "RuntimeError: bad input",
            "next line",
        ]);
        assert_eq!(got[0], some("RuntimeError", "bad input"));
        assert!(got[1..].iter().all(Option::is_none));
    }

    #[test]
    fn warn_with_traceback_is_not_an_error() {
        let got = kinds(&[
            "2024-05-01 10:00:00,001 WARNING retrying upload",
            "Traceback (most recent call last):",
            "  File \"/app/up.py\", line 8, in put",
            "    conn.send(b)",
            "ConnectionResetError: [Errno 104] Connection reset by peer",
        ]);
        assert!(got.iter().all(Option::is_none));
    }

    #[test]
    fn an_unrelated_warn_line_does_not_hide_a_crash() {
        let got = kinds(&[
            "2024-05-01 10:00:00,001 WARN [main] Orders - error budget at 80%",
            "Traceback (most recent call last):",
            "  File \"/app/a.py\", line 2, in f",
            "    int(x)",
            "ValueError: invalid literal",
        ]);
        assert_eq!(got[0], None);
        assert_eq!(got[1], some("ValueError", "invalid literal"));
        let got = kinds(&[
            "2024-05-01 10:00:00,001 WARN [main] Orders - slow",
            "Exception in thread \"main\" java.lang.IllegalStateException: closed",
            "\tat com.acme.Main.main(Main.java:3)",
        ]);
        assert_eq!(got[1], some("java.lang.IllegalStateException", "closed"));
        let got = kinds(&[
            "2024-05-01 10:00:00,001 WARN [main] Orders - retrying",
            "java.io.IOException: reset",
            "\tat com.acme.Io.read(Io.java:3)",
        ]);
        assert!(got.iter().all(Option::is_none));
    }

    #[test]
    fn java_trace_split_over_events() {
        let got = kinds(&[
            "Exception in thread \"main\" java.lang.IllegalStateException: ledger closed",
            "\tat com.acme.Ledger.post(Ledger.java:41)",
            "\tat com.acme.Main.main(Main.java:9)",
            "Caused by: java.io.IOException: broken pipe",
            "\tat com.acme.Io.write(Io.java:7)",
            "\t... 2 more",
            "job exited",
        ]);
        assert_eq!(
            got[0],
            some("java.lang.IllegalStateException", "ledger closed")
        );
        assert!(got[1..].iter().all(Option::is_none));
    }

    #[test]
    fn logged_java_exception_after_error_line() {
        let out = extract_messages(&[
            "2024-05-01 10:00:00.001 ERROR [main] com.acme.Job - batch failed",
            "java.lang.NumberFormatException: For input string: \"x1\"",
            "\tat java.base/java.lang.Integer.parseInt(Integer.java:652)",
            "\tat com.acme.Job.parse(Job.java:22)",
        ]);
        let o = out[0].as_ref().unwrap();
        assert_eq!(o.kind, "java.lang.NumberFormatException");
        assert_eq!(
            o.frames.last().unwrap().function,
            "java.lang.Integer.parseInt"
        );
        assert!(out[1..].iter().all(Option::is_none));
    }

    #[test]
    fn node_trace_split_over_events() {
        let got = kinds(&[
            "/app/worker.js:14",
            "    throw new TypeError(`bad id ${id}`);",
            "    ^",
            "TypeError: bad id 42",
            "    at process (/app/worker.js:14:11)",
            "    at main (/app/worker.js:30:3)",
            "Node.js v20.11.1",
        ]);
        assert_eq!(
            got,
            [
                None,
                None,
                None,
                some("TypeError", "bad id 42"),
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn go_panic_split_over_events() {
        let got = kinds(&[
            "panic: runtime error: index out of range [4] with length 2",
            "goroutine 1 [running]:",
            "main.pick(...)",
            "\t/app/main.go:11",
            "main.main()",
            "\t/app/main.go:20 +0x1d",
            "exit status 2",
            "next",
        ]);
        assert_eq!(
            got[0],
            some(
                "panic",
                "runtime error: index out of range [4] with length 2"
            )
        );
        assert!(got[1..].iter().all(Option::is_none));
    }

    /// The awslogs driver's split of a panic with its signal line, as
    /// nuke-s3-describebuckets-full in the real corpus shows it: the panic is
    /// one occurrence and its frames say where it happened.
    #[test]
    fn go_panic_with_signal_line_split_over_events() {
        let out = extract_messages(&[
            "panic: runtime error: invalid memory address or nil pointer dereference",
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x185dbf6]",
            "goroutine 29 [running]:",
            "github.com/rebuy-de/aws-nuke/resources.(*S3Nuke).DescribeBuckets(0xc420074240, 0x244fda0, 0x0, 0x0, 0x0, 0x0)",
            "\t/go/src/github.com/rebuy-de/aws-nuke/resources/s3-buckets.go:28 +0x166",
            "github.com/rebuy-de/aws-nuke/cmd.Scan.func1(0xc420138180, 0xc4204d0320, 0xc42019eae0)",
            "\t/go/src/github.com/rebuy-de/aws-nuke/cmd/scan.go:22 +0x77",
            "created by github.com/rebuy-de/aws-nuke/cmd.Scan",
            "next line",
        ]);
        let o = out[0].as_ref().unwrap();
        assert_eq!(o.kind, "panic");
        assert_eq!(
            o.frames.last().unwrap().function,
            "github.com/rebuy-de/aws-nuke/resources.(*S3Nuke).DescribeBuckets"
        );
        assert!(out[1..].iter().all(Option::is_none));
    }

    /// A re-panic after `recover`, split by the driver: both panic lines
    /// belong to one failure.
    #[test]
    fn re_panic_split_over_events_is_one_occurrence() {
        let got = kinds(&[
            "panic: runtime error: invalid memory address or nil pointer dereference [recovered]",
            "\tpanic: runtime error: invalid memory address or nil pointer dereference",
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x43557ff]",
            "goroutine 1 [running]:",
            "main.main.func1()",
            "\tgithub.com/ekristen/aws-nuke/v3/main.go:26 +0x54",
            "panic({0x52a3820?, 0xa7d6a30?})",
            "\truntime/panic.go:914 +0x21f",
        ]);
        assert_eq!(got.iter().flatten().count(), 1, "{got:?}");
    }

    #[test]
    fn runtime_exit_reported_once() {
        let got = kinds(&[
            "RequestId: 0d9c1f6e-4b8a-4c2e-9a51-2f6e8d7c3b10 Error: Runtime exited with error: signal: killed",
            "Runtime.ExitError",
        ]);
        assert_eq!(
            got[0],
            some(
                "Runtime.ExitError",
                "Runtime exited with error: signal: killed"
            )
        );
        assert_eq!(got[1], None);
    }

    #[test]
    fn folding_is_bounded() {
        let mut events = vec!["Traceback (most recent call last):".to_string()];
        for i in 0..1000 {
            events.push(format!("  File \"/app/r.py\", line {i}, in f"));
        }
        events.push("RecursionError: maximum recursion depth exceeded".to_string());
        let refs: Vec<&str> = events.iter().map(String::as_str).collect();
        let out = extract_messages(&refs);
        assert_eq!(out.len(), refs.len());
        assert!(out[0].is_some());
        assert!(out[1..=MAX_FOLDED_EVENTS].iter().all(Option::is_none));
    }

    #[test]
    fn unrelated_events_are_judged_alone() {
        let got = kinds(&["[ERROR] boom", "INFO fine", "[ERROR] again"]);
        assert_eq!(got, [some("", "boom"), None, some("", "again")]);
    }
}
