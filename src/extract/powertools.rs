//! Powertools for AWS Lambda loggers.
//!
//! Python: `location`, `exception` (the formatted traceback) and
//! `exception_name`. TypeScript: the error under `error` as `{name,
//! location, message, stack}`. Both are read by the generic reader in
//! `structured`; this file only says which of them wrote a line.

use serde_json::{Map, Value};

use super::json_value::ShapeHints;

pub(crate) fn is_python(obj: &Map<String, Value>) -> bool {
    obj.contains_key("exception_name")
        || (obj.contains_key("exception") && obj.contains_key("location"))
}

pub(crate) fn is_typescript(hints: &ShapeHints) -> bool {
    hints.error_object == Some("error") && hints.error_name_key
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
    fn powertools_typescript_error_object() {
        let o = extract(r#"{"level":"ERROR","message":"cannot save","timestamp":"2024-05-01T10:00:00.000Z","service":"cart","function_request_id":"r-7","error":{"name":"ConditionalCheckFailedException","location":"/var/task/index.js:40","message":"The conditional request failed","stack":"ConditionalCheckFailedException: The conditional request failed\n    at save (/var/task/index.js:40:9)"}}"#).unwrap();
        assert_eq!(
            (o.kind.as_str(), o.shape),
            ("ConditionalCheckFailedException", "powertools-ts")
        );
        assert_eq!(field(&o, "error.location"), Some("/var/task/index.js:40"));
        assert_eq!(field(&o, "function_request_id"), Some("r-7"));
    }
}
