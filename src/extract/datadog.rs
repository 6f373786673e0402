//! Datadog's error convention: `error.kind`, `error.message`,
//! `error.stack` (flat keys, as the Datadog loggers and the Lambda extension
//! write them, or nested under `error`), and `error.fingerprint`, a key the
//! producer chose that replaces faultline's own.

use serde_json::{Map, Value};

use super::json_value::{Names, ShapeHints};

/// Datadog's flat `error.kind` keys.
pub(crate) const FLAT: Names = Names {
    kind: &["error.kind"],
    message: &["error.message"],
    stack: &["error.stack"],
    fingerprint: Some("error.fingerprint"),
};

/// Whether an object uses the flat keys, read before anything else.
pub(crate) fn has_flat_keys(obj: &Map<String, Value>) -> bool {
    obj.contains_key("error.kind") || obj.contains_key("error.stack")
}

/// A Datadog line: flat keys, or an `error` object with a `kind`.
pub(crate) fn is_datadog(hints: &ShapeHints) -> bool {
    hints.datadog || (hints.error_object == Some("error") && hints.error_kind_key)
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
    fn datadog_flat_and_nested() {
        let o = extract(r#"{"status":"error","message":"export failed","service":"exporter","error.kind":"TimeoutError","error.message":"deadline exceeded","error.stack":"TimeoutError: deadline exceeded\n    at run (/app/export.js:8:11)","error.fingerprint":"export-timeout"}"#).unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str(), o.shape),
            ("TimeoutError", "deadline exceeded", "datadog")
        );
        assert_eq!(o.fingerprint.as_deref(), Some("export-timeout"));
        assert_eq!(o.frames.len(), 1);
        assert_eq!(field(&o, "service"), Some("exporter"));
        let o = extract(r#"{"level":"error","message":"export failed","error":{"kind":"IOError","message":"disk full","stack":"Traceback (most recent call last):\n  File \"/app/x.py\", line 2, in w\n    f.write(b)\nIOError: disk full"}}"#).unwrap();
        assert_eq!((o.kind.as_str(), o.shape), ("IOError", "datadog"));
        assert_eq!(o.frames[0].function, "w");
    }
}
