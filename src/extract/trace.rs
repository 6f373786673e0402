//! What a stack trace says, whatever runtime printed it, and how an
//! exception line (`Type: message`) is recognised. The parsers of each
//! runtime's traces fill a [`Trace`]; `stack` picks the parser.

use super::occurrence::Fields;
use crate::model::Frame;

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

impl Trace {
    /// Context that the occurrence keeps besides kind, message and frames.
    pub(crate) fn push_fields(&self, fields: &mut Fields) {
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
}
