//! A sample's stack as people read it: one frame per line, in the order
//! its runtime prints it, the user's own frames marked.
//!
//! Samples keep the stack as text, one `function (file:line)` per line,
//! innermost last whatever the runtime (see [`crate::model::Occurrence`]);
//! which frames are the user's is worked out again from each line with the
//! classifier extraction uses.

use crate::extract::{frame_in_app, jvm_frame_in_app};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub text: String,
    pub in_app: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub frames: Vec<Frame>,
    /// Java, Node.js, Go, Rust, .NET and Ruby print the innermost frame
    /// first; Python prints it last.
    pub innermost_first: bool,
}

impl Stack {
    pub fn order(&self) -> &'static str {
        if self.innermost_first {
            "innermost first"
        } else {
            "innermost last"
        }
    }
}

/// The stack a sample's `stack` field holds.
pub fn parse(text: &str) -> Stack {
    let mut lines: Vec<Frame> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| Frame {
            text: line.to_string(),
            in_app: in_app(line),
        })
        .collect();
    let innermost_first = lines
        .iter()
        .any(|f| prints_innermost_first(file_of(&f.text)));
    if innermost_first {
        lines.reverse();
    }
    Stack {
        frames: lines,
        innermost_first,
    }
}

/// `function (file:line)` -> (function, file).
fn split(line: &str) -> (&str, &str) {
    match line.rsplit_once(" (") {
        Some((function, rest)) => {
            let location = rest.strip_suffix(')').unwrap_or(rest);
            let file = match location.rsplit_once(':') {
                Some((file, n)) if n.bytes().all(|b| b.is_ascii_digit()) => file,
                _ => location,
            };
            (function, file)
        }
        None => (line, ""),
    }
}

fn file_of(line: &str) -> &str {
    split(line).1
}

fn in_app(line: &str) -> bool {
    // A cut stack's note line (`... 12 outer frames not kept (...)`) is
    // nobody's code.
    if crate::limits::outer_frames_left_out(line).is_some() {
        return false;
    }
    let (function, file) = split(line);
    if is_jvm(file) {
        jvm_frame_in_app(function)
    } else {
        frame_in_app(file, function)
    }
}

fn is_jvm(file: &str) -> bool {
    [".java", ".kt", ".scala", ".groovy"]
        .iter()
        .any(|e| file.ends_with(e))
}

fn prints_innermost_first(file: &str) -> bool {
    is_jvm(file)
        || [".js", ".mjs", ".cjs", ".ts", ".go", ".rs", ".cs", ".rb"]
            .iter()
            .any(|e| file.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_stays_innermost_last_with_library_frames_unmarked() {
        let s = parse(
            "lambda_handler (/var/task/app.py:12)\n\
             get (/var/lang/lib/python3.12/site-packages/requests/api.py:73)",
        );
        assert!(!s.innermost_first);
        assert_eq!(s.frames.len(), 2);
        assert!(s.frames[0].in_app);
        assert!(!s.frames[1].in_app);
        assert_eq!(
            s.frames[1].text,
            "get (/var/lang/lib/python3.12/site-packages/requests/api.py:73)"
        );
    }

    #[test]
    fn java_reads_innermost_first_as_the_jvm_prints_it() {
        let s = parse(
            "com.acme.Main.main (Main.java:5)\n\
             java.lang.Integer.parseInt (Integer.java:652)",
        );
        assert!(s.innermost_first);
        assert_eq!(
            s.frames[0].text,
            "java.lang.Integer.parseInt (Integer.java:652)"
        );
        assert!(!s.frames[0].in_app);
        assert!(s.frames[1].in_app);
        assert_eq!(s.order(), "innermost first");
    }

    #[test]
    fn a_cut_stacks_note_stays_at_the_outer_end_and_is_nobodys_code() {
        let s = parse(
            "... 40 outer frames not kept (4 KB sample stack bound)\n\
             com.acme.Main.main (Main.java:5)\n\
             java.lang.Integer.parseInt (Integer.java:652)",
        );
        assert!(s.innermost_first);
        assert_eq!(
            s.frames[2].text,
            "... 40 outer frames not kept (4 KB sample stack bound)"
        );
        assert!(!s.frames[2].in_app);
        assert!(s.frames[1].in_app);
    }
}
