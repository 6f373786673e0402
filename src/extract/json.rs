//! A log line that is a JSON object: read its level in place, parse it only
//! when it may hold an error, and hand it to the reader of its kind (Step
//! Functions events, Lambda platform records, or any structured logger).
//!
//! Parsing is the expensive part, so a line is parsed only when its level,
//! read in place, is ERROR or above, or, for JSON without a level, when it
//! holds an error key at all.

use serde_json::{Map, Value};

use super::json_value::{probe_level, string_value};
use super::level::Severity;
use super::structured::{self, Context};
use super::{platform, stepfunctions};
use crate::model::Occurrence;

pub(crate) enum Outcome {
    Found(Box<Occurrence>),
    NotError,
    /// Not valid JSON; the level it seemed to state, for the text fallback.
    Unparsed(Option<Severity>),
}

pub(crate) fn extract(text: &str, ctx: Context) -> Outcome {
    let stated = probe_level(text);
    let worth_parsing = match stated.or(ctx.outer) {
        Some(Severity::Below) => return Outcome::NotError,
        Some(Severity::At(_)) => true,
        None => levelless_hint(text),
    };
    if !worth_parsing {
        return Outcome::NotError;
    }
    let obj = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(obj)) => obj,
        _ => return Outcome::Unparsed(stated.or(ctx.outer)),
    };
    match from_object(&obj, ctx) {
        Some(occ) => Outcome::Found(Box::new(occ)),
        None => Outcome::NotError,
    }
}

/// Whether a JSON line without a level may still be an error: a Step
/// Functions failure, a Lambda platform report, or any error-ish key.
fn levelless_hint(text: &str) -> bool {
    if text.contains("\"execution_arn\"") {
        return string_value(text, "\"type\"")
            .is_some_and(|t| stepfunctions::error_level(t).is_some());
    }
    if text.contains("\"platform.") {
        return string_value(text, "\"type\"").is_some_and(platform::is_report_type)
            && !text.contains("\"status\":\"success\"");
    }
    text.contains("rror") || text.contains("xception") || text.contains("Traceback")
}

fn from_object(obj: &Map<String, Value>, ctx: Context) -> Option<Occurrence> {
    if let Some(Value::String(t)) = obj.get("type") {
        if obj.contains_key("execution_arn") {
            return stepfunctions::extract(obj);
        }
        if t.starts_with("platform.") {
            return platform::from_json(obj);
        }
    }
    structured::structured(obj, ctx)
}

#[cfg(test)]
mod tests {
    use crate::extract::extract;

    #[test]
    fn json_that_is_not_an_error() {
        for line in [
            r#"{"level":"INFO","message":"done","errors":[]}"#,
            r#"{"level":"warn","msg":"retrying after error","err":{"type":"Error","message":"x"}}"#,
            r#"{"bytes":2678,"status":502,"request":"/a/b"}"#,
            r#"{"errors":[],"error_rate":0}"#,
            r#"{"message":"error budget fine","error":"none"}"#,
        ] {
            assert_eq!(extract(line), None, "{line}");
        }
    }

    #[test]
    fn truncated_json_falls_back_to_text() {
        let o = extract(r#"{"level":"ERROR","message":"upload failed for bat"#).unwrap();
        assert_eq!(o.shape, "json-unparsed");
        assert_eq!(extract(r#"{"level":"INFO","message":"ok"#), None);
    }

    #[test]
    fn deep_nesting_does_not_crash() {
        let line = format!(
            r#"{{"level":"ERROR","a":{}1{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        // serde_json's recursion limit rejects it; the text fallback keeps the level.
        let o = extract(&line).unwrap();
        assert_eq!(o.shape, "json-unparsed");
    }
}
