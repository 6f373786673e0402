//! Java on Lambda: the runtime's uncaught-exception formats.
//!
//! In the text format the runtime writes a summary line `message: Type`
//! and then the printed trace (read by `at_trace`, which skips the summary
//! since its type comes last); in the JSON format the same text is the
//! `message` of a record carrying `AWSRequestId`. The JSON a failed Java
//! function returns (in a Step Functions cause) is
//! `{errorMessage, errorType, stackTrace: ["pkg.Class.method(File.java:12)"]}`.
//!
//! When the handler class cannot be loaded, the runtime's summary line is
//! all the event may hold (`Class not found: example.Hello:
//! java.lang.ClassNotFoundException`, `Error loading class X: Y: class
//! java.lang.NoClassDefFoundError`), often followed by frames that lost
//! their tab in a console copy.

use serde_json::{Map, Value};

use super::at_trace;
use super::lines::first_line;
use super::occurrence::{Fields, occurrence};
use crate::model::{Level, Occurrence};

/// How the Lambda Java runtimes begin the line of a handler that cannot be
/// loaded.
const INIT_WORDS: [&str; 4] = [
    "Class not found: ",
    "Error loading class ",
    "Error loading method ",
    "Error loading handler ",
];

/// A handler-loading failure: `<what>: <java type>`, and the frames after it.
pub(crate) fn init_failure(message: &str) -> Option<Occurrence> {
    let first = first_line(message);
    if !INIT_WORDS.iter().any(|w| first.starts_with(w)) {
        return None;
    }
    let (text, kind) = first.rsplit_once(": ")?;
    let kind = kind.strip_prefix("class ").unwrap_or(kind);
    if !is_java_type(kind) {
        return None;
    }
    let frames = at_trace::parse(message)
        .map(|t| t.frames)
        .unwrap_or_default();
    Some(occurrence(
        kind,
        text,
        frames,
        Level::Fatal,
        "java-init-text",
        Fields::default(),
    ))
}

/// A qualified JVM exception class: `java.lang.ClassNotFoundException`.
fn is_java_type(s: &str) -> bool {
    let last = s.rsplit('.').next().unwrap_or(s);
    s.contains('.')
        && (last.ends_with("Exception") || last.ends_with("Error"))
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$'))
}

/// The Lambda Java runtime's JSON log format.
pub(crate) fn is_lambda_json(obj: &Map<String, Value>) -> bool {
    obj.contains_key("AWSRequestId")
}

#[cfg(test)]
mod tests {
    use crate::extract::extract;
    use crate::model::Occurrence;

    fn field<'a>(o: &'a Occurrence, key: &str) -> Option<&'a str> {
        o.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn java_json_message_holds_the_trace() {
        let o = extract(r#"{"timestamp":"2024-05-01T10:00:00.000Z","message":"index 3: java.lang.ArrayIndexOutOfBoundsException\njava.lang.ArrayIndexOutOfBoundsException: index 3\n\tat com.acme.Rows.get(Rows.java:14)\n","level":"ERROR","AWSRequestId":"r-5"}"#).unwrap();
        assert_eq!(o.kind, "java.lang.ArrayIndexOutOfBoundsException");
        assert_eq!(o.message, "index 3");
        assert_eq!(o.shape, "java-json");
        assert_eq!(field(&o, "AWSRequestId"), Some("r-5"));
    }

    /// java-cnf-example-hello-a and java-cnf-kvs-typo-noindent in the real
    /// corpus: the summary line alone, or with frames that lost their tab.
    #[test]
    fn handler_class_not_found() {
        let o =
            extract("Class not found: example.Hello: java.lang.ClassNotFoundException\n").unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            (
                "java.lang.ClassNotFoundException",
                "Class not found: example.Hello"
            )
        );
        let o = extract("Class not found: om.acme.Handler: java.lang.ClassNotFoundException\njava.lang.ClassNotFoundException: om.acme.Handler\nat java.net.URLClassLoader.findClass(URLClassLoader.java:381)\nat java.lang.ClassLoader.loadClass(ClassLoader.java:424)\n").unwrap();
        assert_eq!(o.frames.len(), 2);
        let o = extract("Error loading class com.blah.LambdaHandler: com/blah/DynamoDBInsertHandler: class java.lang.NoClassDefFoundError\n").unwrap();
        assert_eq!(o.kind, "java.lang.NoClassDefFoundError");
    }

    /// java-cnf-unicorn-unknown-source: newer runtimes print `(Unknown
    /// Source)` frames; a trace of them is still a trace.
    #[test]
    fn unknown_source_frames_make_a_trace() {
        let o = extract("java.lang.ClassNotFoundException: com.unicorn.store.StreamLambdaHandler\n\tat java.base/java.net.URLClassLoader.findClass(Unknown Source)\n\tat java.base/java.lang.Class.forName0(Native Method)\n").unwrap();
        assert_eq!(o.kind, "java.lang.ClassNotFoundException");
        assert_eq!(o.frames.len(), 2);
    }
}
