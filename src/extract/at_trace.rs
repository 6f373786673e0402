//! `at`-style stack traces: Java (`\tat pkg.Class.method(File.java:12)`,
//! `Caused by:` chains, `... N more`) and Node.js (`    at f (file:1:2)`).
//!
//! Both print the exception line first and the innermost frame first;
//! frames are reversed here so every runtime yields innermost last.
//!
//! Only the outermost exception's frames are kept; its root cause is kept
//! as [`Trace::cause`]. The cause's printed frames end in `... N more`, while
//! the same error serialised by the Lambda Java runtime (in a Step Functions
//! cause, say) lists them all: frames from the cause would give one bug two
//! fingerprints depending on where it was logged.

use super::frames::at_frame;
use super::lines::{lines, trim_indent};
use super::trace::{Trace, exception_line, looks_like_exception_type};
use crate::limits::MAX_FRAMES;
use crate::model::Frame;

struct Block {
    header: Option<(String, String)>,
    frames: Vec<Frame>,
}

pub(crate) fn parse(text: &str) -> Option<Trace> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut pending: Option<(String, String)> = None;
    let mut java = false;
    let mut in_suppressed = false;
    let mut total = 0;
    let mut last_unframed: Option<&str> = None;
    for line in lines(text) {
        let t = trim_indent(line);
        let indented = t.len() != line.len();
        // Pasted and console-copied traces lose their indentation; an
        // unindented `at` line is taken only when it has a frame's location.
        let at_line = t.strip_prefix("at ").and_then(|rest| {
            let (frame, is_java) = at_frame(rest)?;
            (indented || has_location(&frame)).then_some((frame, is_java))
        });
        if let Some((frame, is_java)) = at_line {
            if in_suppressed {
                continue;
            }
            java |= is_java;
            if blocks.is_empty() || pending.is_some() {
                // `console.error("could not sync", err)` prints the logging
                // text and the error's first line on one line: the error's
                // type starts after the text.
                let header = pending.take().or_else(|| {
                    blocks
                        .is_empty()
                        .then(|| last_unframed.and_then(embedded_header))
                        .flatten()
                });
                blocks.push(Block {
                    header,
                    frames: Vec::new(),
                });
            }
            if total < MAX_FRAMES
                && let Some(block) = blocks.last_mut()
            {
                block.frames.push(frame);
                total += 1;
            }
            continue;
        }
        if let Some(rest) = t
            .strip_prefix("Caused by: ")
            .or_else(|| t.strip_prefix("[cause]: "))
        {
            pending = exception_line(rest);
            in_suppressed = false;
            continue;
        }
        if t.starts_with("Suppressed: ") {
            in_suppressed = true;
            continue;
        }
        if t.starts_with("...") && t.ends_with(" more") {
            continue;
        }
        if (!indented || blocks.is_empty())
            && let Some(h) = exception_line(t)
        {
            pending = Some(h);
        }
        last_unframed = Some(t);
    }
    let first = blocks.first()?;
    let header = first.header.clone();
    let frames: Vec<Frame> = first.frames.iter().rev().cloned().collect();
    let cause = blocks.iter().skip(1).rev().find_map(|b| b.header.clone());
    // Real frames carry a location; prose lines starting with "at" do not.
    let definite = header.is_some() && frames.iter().any(has_location);
    Some(Trace {
        header,
        frames,
        cause,
        shape: if java { "java-trace" } else { "node-trace" },
        definite,
    })
}

/// Whether a frame names where its code is: a line number, or the JVM's
/// `Native Method` / `Unknown Source` (classes compiled without debug
/// information, which newer Lambda Java runtimes print).
fn has_location(frame: &Frame) -> bool {
    frame.line.is_some() || matches!(frame.file.as_str(), "Native Method" | "Unknown Source")
}

/// The exception at the end of a line that starts with other text:
/// `could not sync account 8812 Error: boom` gives `Error`, `boom`. Only a
/// type that reads like one on its own counts (see
/// [`looks_like_exception_type`]), so prose with a colon does not.
pub(crate) fn embedded_header(line: &str) -> Option<(String, String)> {
    let mut search = line;
    while let Some(colon) = search.find(": ") {
        let before = &search[..colon];
        let start = before.rfind(' ').map_or(0, |i| i + 1);
        let candidate = &search[start..];
        if start > 0
            && let Some((kind, message)) = exception_line(candidate)
            && looks_like_exception_type(&kind)
        {
            return Some((kind, message));
        }
        search = &search[colon + 2..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_trace_with_cause() {
        let t = parse(
            "java.lang.RuntimeException: wrapped\n\tat com.acme.Job.run(Job.java:20)\n\tat com.acme.Main.main(Main.java:5)\nCaused by: java.io.IOException: disk\n\tat com.acme.Store.write(Store.java:9)\n\t... 2 more",
        )
        .unwrap();
        assert_eq!(t.shape, "java-trace");
        assert_eq!(
            t.header,
            Some(("java.lang.RuntimeException".into(), "wrapped".into()))
        );
        let f: Vec<_> = t.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(f, ["com.acme.Main.main", "com.acme.Job.run"]);
        assert_eq!(t.cause, Some(("java.io.IOException".into(), "disk".into())));
    }

    #[test]
    fn lambda_java_uncaught_has_summary_line_first() {
        let t = parse("/ by zero: java.lang.ArithmeticException\njava.lang.ArithmeticException: / by zero\n\tat example.Div.handle(Div.java:28)").unwrap();
        assert_eq!(
            t.header,
            Some(("java.lang.ArithmeticException".into(), "/ by zero".into()))
        );
    }

    #[test]
    fn node_trace() {
        let t = parse("TypeError: Cannot read properties of undefined (reading 'id')\n    at handler (/var/task/index.js:4:20)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)").unwrap();
        assert_eq!(t.shape, "node-trace");
        assert_eq!(t.header.as_ref().unwrap().0, "TypeError");
        assert_eq!(t.frames.len(), 2);
        assert_eq!(t.frames[1].function, "handler");
        assert!(t.frames[1].in_app);
        assert!(!t.frames[0].in_app);
    }

    #[test]
    fn suppressed_frames_are_skipped() {
        let t = parse("java.lang.Exception: a\n\tat A.a(A.java:1)\n\tSuppressed: java.lang.Exception: b\n\t\tat B.b(B.java:2)").unwrap();
        assert_eq!(t.frames.len(), 1);
    }
}
