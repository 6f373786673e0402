//! pino (and bunyan, whose JSON it follows): numeric levels (`50` error,
//! `60` fatal; read by `level::severity_number`), the message under `msg`,
//! and the error serialised under `err` as `{type, message, stack}`, which
//! the generic reader in `structured` takes like any nested error object.

use serde_json::{Map, Value};

use super::json_value::ShapeHints;

/// A pino line: its error under `err`, or its numeric level.
pub(crate) fn is_pino(obj: &Map<String, Value>, hints: &ShapeHints) -> bool {
    hints.error_object == Some("err") || obj.get("level").is_some_and(Value::is_number)
}

#[cfg(test)]
mod tests {
    use crate::extract::extract;
    use crate::model::{Level, Occurrence};

    fn field<'a>(o: &'a Occurrence, key: &str) -> Option<&'a str> {
        o.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn pino_numeric_levels() {
        let o = extract(r#"{"level":50,"time":1714557600000,"pid":7,"hostname":"h","err":{"type":"Error","message":"ECONNREFUSED","stack":"Error: ECONNREFUSED\n    at connect (/app/db.js:4:11)","code":"ECONNREFUSED"},"msg":"db down"}"#).unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str(), o.shape),
            ("Error", "ECONNREFUSED", "pino")
        );
        assert_eq!(field(&o, "err.code"), Some("ECONNREFUSED"));
        assert_eq!(field(&o, "msg"), Some("db down"));
        assert_eq!(
            extract(r#"{"level":60,"msg":"cannot start"}"#)
                .unwrap()
                .level,
            Level::Fatal
        );
        assert_eq!(
            extract(r#"{"level":30,"msg":"request errored 0 times","err":{"type":"Error"}}"#),
            None
        );
    }
}
