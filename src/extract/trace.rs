//! Stack traces inside a message, whatever wrote them.
//!
//! Called only for messages already judged errors, or for multi-line
//! messages without any level, so it may scan every line.

use super::{Frame, frames, go, java, python};

/// What a stack trace says: the exception that ended it (when printed) and
/// its frames, innermost last.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    /// The exception's type and message, from the line that names it.
    pub header: Option<(String, String)>,
    pub frames: Vec<Frame>,
    /// The root cause of a chained exception (Java's last `Caused by:`).
    pub cause: Option<(String, String)>,
    pub shape: &'static str,
    /// Whether the text is certainly a stack trace and not prose that looks
    /// a little like one; a message with no level counts as an error only
    /// then.
    pub definite: bool,
}

/// The lines of a message: runtimes join them with `\n`, or with `\r` when
/// Lambda's stdout sink rewrites newlines.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', '\r']).filter(|l| !l.trim().is_empty())
}

/// The stack trace in a message, if it holds one.
pub(crate) fn parse(text: &str) -> Option<Trace> {
    if (text.contains("Traceback (most recent call last)") || text.contains("File \""))
        && let Some(t) = python::parse(text)
    {
        return Some(t);
    }
    if text.contains("at ")
        && let Some(t) = java::parse(text)
    {
        return Some(t);
    }
    if text.contains("panic: ") || text.contains("fatal error: ") {
        if let Some(t) = go::parse_panic(text) {
            return Some(t);
        }
    }
    if text.contains("panicked at ") {
        return rust_panic(text);
    }
    None
}

impl Trace {
    /// Context that the occurrence keeps besides kind, message and frames.
    pub(crate) fn push_fields(&self, fields: &mut super::Fields) {
        if let Some((kind, message)) = &self.cause {
            fields.push("cause.kind", kind);
            fields.push("cause.message", message);
        }
    }
}

/// `Type: message` (Python, Java, Node.js), `Type` alone, or Java's
/// `Exception in thread "main" Type: message`, as a type and a message.
///
/// The type must look like an identifier (dotted, `$` for nested Java
/// classes, an optional Node.js `[ERR_CODE]`), so prose such as
/// `Retrying in 5s: timeout` is not taken for an exception.
pub(crate) fn exception_line(t: &str) -> Option<(String, String)> {
    let t = t.trim();
    let t = match t.strip_prefix("Exception in thread \"") {
        Some(rest) => rest.split_once("\" ")?.1,
        None => t,
    };
    let (name, message) = match t.find(": ") {
        Some(i) => (&t[..i], &t[i + 2..]),
        None => (t.strip_suffix(':').unwrap_or(t), ""),
    };
    is_exception_name(name).then(|| (name.to_string(), message.trim().to_string()))
}

fn is_exception_name(name: &str) -> bool {
    let (ident, code) = match name.split_once(" [") {
        Some((ident, code)) => (ident, Some(code)),
        None => (name, None),
    };
    if let Some(code) = code {
        let Some(code) = code.strip_suffix(']') else {
            return false;
        };
        if code.is_empty()
            || !code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return false;
        }
    }
    let bytes = ident.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {}
        _ => return false,
    }
    ident.len() <= 200
        && !ident.ends_with('.')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$'))
}

/// Whether an exception type reads like one on its own, without a stack
/// trace to vouch for it (`ValueError`, `java.io.IOException`,
/// `Runtime.ImportModuleError`), rather than any word followed by a colon.
pub(crate) fn looks_like_exception_type(kind: &str) -> bool {
    let last = kind.rsplit('.').next().unwrap_or(kind);
    [
        "Error",
        "Exception",
        "Exit",
        "Interrupt",
        "Fault",
        "Failure",
        "Timeout",
        "Throwable",
    ]
    .iter()
    .any(|s| last.contains(s))
        || kind.starts_with("Runtime.")
        || kind.starts_with("Sandbox.")
}

/// A Rust panic: `thread 'main' panicked at src/main.rs:5:10:` followed by
/// the message (Rust 1.73 and later), or the older
/// `thread 'main' panicked at 'message', src/main.rs:5:10`.
fn rust_panic(text: &str) -> Option<Trace> {
    let start = text.find("panicked at ")?;
    let rest = &text[start + "panicked at ".len()..];
    let (head, tail) = rest.split_once(['\n', '\r']).unwrap_or((rest, ""));
    let (message, location) = if let Some(old) = head.strip_prefix('\'') {
        match old.rsplit_once("', ") {
            Some((m, loc)) => (m.to_string(), loc),
            None => (old.to_string(), ""),
        }
    } else {
        let loc = head.trim_end().strip_suffix(':').unwrap_or(head);
        let message = lines(tail)
            .find(|l| !l.starts_with("note: "))
            .unwrap_or("")
            .to_string();
        (message, loc)
    };
    let mut parts = location.rsplitn(3, ':');
    let (_col, line, file) = (parts.next(), parts.next(), parts.next());
    let frames = match (file, line.and_then(|l| l.parse().ok())) {
        (Some(file), Some(line)) => vec![Frame {
            function: String::new(),
            file: file.to_string(),
            line: Some(line),
            in_app: frames::in_app(file, ""),
        }],
        _ => Vec::new(),
    };
    Some(Trace {
        header: Some(("panic".to_string(), message)),
        frames,
        cause: None,
        shape: "rust-panic",
        definite: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_lines() {
        assert_eq!(
            exception_line("KeyError: 'action'"),
            Some(("KeyError".into(), "'action'".into()))
        );
        assert_eq!(
            exception_line("Exception in thread \"main\" java.lang.IllegalStateException: bad"),
            Some(("java.lang.IllegalStateException".into(), "bad".into()))
        );
        assert_eq!(
            exception_line("Error [ERR_INVALID_ARG_TYPE]: The \"path\" argument"),
            Some((
                "Error [ERR_INVALID_ARG_TYPE]".into(),
                "The \"path\" argument".into()
            ))
        );
        assert_eq!(
            exception_line("StopIteration"),
            Some(("StopIteration".into(), String::new()))
        );
        assert_eq!(exception_line("Retrying in 5s: timeout"), None);
        assert_eq!(
            exception_line("/ by zero: java.lang.ArithmeticException"),
            None
        );
        assert_eq!(exception_line("main.main()"), None);
    }

    #[test]
    fn rust_panics_old_and_new() {
        let t = parse("thread 'main' panicked at src/main.rs:5:10:\nindex out of bounds\nnote: run with `RUST_BACKTRACE=1`").unwrap();
        assert_eq!(
            t.header,
            Some(("panic".into(), "index out of bounds".into()))
        );
        assert_eq!(t.frames[0].file, "src/main.rs");
        assert_eq!(t.frames[0].line, Some(5));
        let t = parse("thread 'main' panicked at 'boom', src/lib.rs:2:3").unwrap();
        assert_eq!(t.header, Some(("panic".into(), "boom".into())));
        assert_eq!(t.frames[0].line, Some(2));
    }
}
