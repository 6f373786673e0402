//! Lambda's Node.js runtime, text format:
//! `<ISO time>\t<request id>\t<LEVEL>\t<payload>` for `console.*`, where
//! the payload may be text, a structured logger's JSON, or the runtime's
//! own report of an error that escaped the handler (`Invoke Error`,
//! `Uncaught Exception`, `Unhandled Promise Rejection`, each followed by the
//! error as JSON). Its JSON format is read by `structured`.
//!
//! The Node.js 4.3-6.10 runtimes wrote init failures as plain lines:
//! `Syntax error in module 'index': SyntaxError` and `Unable to import
//! module 'index': Error` (read by `lambda_python`, whose runtimes used the
//! same words), each followed by the loader's stack.

use super::json::{self, Outcome};
use super::level::{Severity, severity_word};
use super::lines::{first_line, looks_like_timestamp};
use super::occurrence::{Fields, occurrence};
use super::stack;
use super::structured::Context;
use super::text::text_error;
use crate::model::{Level, Occurrence};

/// The type today's runtimes give a handler module that does not parse.
pub(crate) const SYNTAX_KIND: &str = "Runtime.UserCodeSyntaxError";

/// `Syntax error in module 'index': SyntaxError`, then the loader's frames.
pub(crate) fn init_failure(message: &str) -> Option<Occurrence> {
    let first = first_line(message);
    if !first.starts_with("Syntax error in module '") {
        return None;
    }
    let frames = stack::parse(message).map(|t| t.frames).unwrap_or_default();
    Some(occurrence(
        SYNTAX_KIND,
        first,
        frames,
        Level::Fatal,
        "lambda-init-text",
        Fields::default(),
    ))
}

/// `<ISO time>\t<request id>\t<LEVEL>\t<payload>`: Node.js console output
/// in Lambda's text format.
pub(crate) fn tab_parts(line: &str) -> Option<(&str, &str, &str)> {
    let head = line.get(..line.len().min(48))?;
    if !head.contains('\t') {
        return None;
    }
    let mut parts = line.splitn(4, '\t');
    let ts = parts.next()?;
    let request_id = parts.next()?;
    let level = parts.next()?;
    if !looks_like_timestamp(ts) || request_id.len() > 64 || level.len() > 8 {
        return None;
    }
    Some((ts, request_id, level))
}

pub(crate) fn tab_format(line: &str) -> Option<Option<Occurrence>> {
    let (ts, request_id, level_word) = tab_parts(line)?;
    let severity = severity_word(level_word)?;
    let offset = ts.len() + request_id.len() + level_word.len() + 3;
    let payload = line.get(offset..).unwrap_or("");
    if severity == Severity::Below && !payload.starts_with('{') {
        return Some(None);
    }
    let mut fields = Fields::default();
    if request_id != "undefined" {
        fields.push("requestId", request_id);
    }
    // console.log of a structured logger's JSON: the logger's own level is
    // the producer's statement, the console method only the transport.
    if payload.starts_with('{') {
        let ctx = Context {
            outer: Some(severity),
            shape: None,
            fields,
        };
        return Some(match json::extract(payload, ctx) {
            Outcome::Found(occ) => Some(*occ),
            Outcome::NotError => None,
            Outcome::Unparsed(_) => match severity {
                Severity::At(level) => {
                    Some(text_error(level, payload, Fields::default(), "node-text"))
                }
                Severity::Below => None,
            },
        });
    }
    let Severity::At(level) = severity else {
        return Some(None);
    };
    // `Invoke Error \t{...}`, `Uncaught Exception \t{...}`,
    // `Unhandled Promise Rejection \t{...}`: the runtime's own report of an
    // error that escaped the handler, as JSON after a label.
    if let Some((label, object)) = payload.split_once('\t')
        && object.starts_with('{')
        && matches!(
            label.trim_end(),
            "Invoke Error" | "Uncaught Exception" | "Unhandled Promise Rejection"
        )
    {
        let mut fields = fields;
        fields.push("runtime.label", label.trim_end());
        let ctx = Context {
            outer: Some(severity),
            shape: Some("node-text"),
            fields,
        };
        return Some(match json::extract(object, ctx) {
            Outcome::Found(occ) => Some(*occ),
            _ => Some(text_error(level, payload, Fields::default(), "node-text")),
        });
    }
    Some(Some(text_error(level, payload, fields, "node-text")))
}

#[cfg(test)]
mod tests {
    use crate::extract::extract;

    #[test]
    fn node_text_invoke_error_with_and_without_space() {
        for sep in ["Invoke Error \t", "Invoke Error\t"] {
            let line = format!(
                "2024-05-01T10:00:00.123Z\tabc-123\tERROR\t{sep}{{\"errorType\":\"TypeError\",\"errorMessage\":\"x is not a function\",\"stack\":[\"TypeError: x is not a function\",\"    at Runtime.handler (file:///var/task/index.mjs:7:3)\",\"    at Runtime.handleOnceNonStreaming (file:///var/runtime/index.mjs:1:1)\"]}}\n"
            );
            let o = extract(&line).unwrap();
            assert_eq!(o.kind, "TypeError");
            assert_eq!(o.message, "x is not a function");
            assert_eq!(o.shape, "node-text");
            assert_eq!(o.frames.len(), 2);
            assert!(o.fields.contains(&("requestId".into(), "abc-123".into())));
        }
    }

    #[test]
    fn node_text_levels() {
        assert_eq!(
            extract("2024-05-01T10:00:00.123Z\tabc\tINFO\tprocessed 3 records, 0 errors"),
            None
        );
        assert_eq!(
            extract(
                "2024-05-01T10:00:00.123Z\tabc\tWARN\tTypeError: x\n    at f (/var/task/a.js:1:1)"
            ),
            None
        );
        let o = extract("2024-05-01T10:00:00.123Z\tabc\tERROR\tRangeError: bad size\n    at f (/var/task/a.js:1:1)").unwrap();
        assert_eq!(o.kind, "RangeError");
        assert_eq!(o.frames.len(), 1);
        let o = extract("2024-05-01T10:00:00.123Z\tabc\tERROR\tpayment declined").unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("", "payment declined")
        );
    }

    #[test]
    fn node_text_info_carrying_an_error_level_json() {
        let o = extract("2024-05-01T10:00:00.123Z\tabc\tINFO\t{\"level\":\"ERROR\",\"message\":{\"message\":\"quota exceeded\",\"tenant\":\"t1\"}}").unwrap();
        assert_eq!(o.message, "quota exceeded");
        assert_eq!(
            extract("2024-05-01T10:00:00.123Z\tabc\tINFO\t{\"level\":\"INFO\",\"message\":\"ok\"}"),
            None
        );
    }

    #[test]
    fn node_json_error_nested_in_message() {
        let o = extract(r#"{"timestamp":"2024-05-01T10:00:00.000Z","level":"ERROR","requestId":"r-3","message":{"errorType":"TypeError","errorMessage":"Cannot read properties of undefined (reading 'total')","stackTrace":["TypeError: Cannot read properties of undefined (reading 'total')","    at sum (/var/task/cart.js:12:20)","    at Runtime.handler (/var/task/index.js:5:10)"]}}"#).unwrap();
        assert_eq!(o.kind, "TypeError");
        assert_eq!(o.shape, "node-json");
        let f: Vec<_> = o.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(f, ["Runtime.handler", "sum"]);
    }

    #[test]
    fn node_json_error_hoisted_to_top() {
        let o = extract(r#"{"timestamp":"2024-05-01T10:00:00.000Z","level":"ERROR","requestId":"r-4","message":"charge failed Error: card declined\n    at charge (/var/task/pay.js:3:9)","errorType":"Error","errorMessage":"card declined","stackTrace":["Error: card declined","    at charge (/var/task/pay.js:3:9)"]}"#).unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("Error", "card declined")
        );
        assert_eq!(o.frames.len(), 1);
    }

    /// node43-syntax-error-old in the real corpus: no prefix, no message,
    /// frames without indentation.
    #[test]
    fn old_runtime_syntax_error() {
        let o = extract("Syntax error in module 'index': SyntaxError\nat Module._compile (module.js:373:25)\nat Object.Module._extensions..js (module.js:416:10)\n").unwrap();
        assert_eq!(o.kind, super::SYNTAX_KIND);
        assert_eq!(o.frames.len(), 2);
    }

    /// `console.error("could not sync account 8812", err)`: the logging text
    /// and the error's first line share a line; the error's type is read
    /// after the text, and the text is kept as context.
    #[test]
    fn console_error_with_a_message_and_an_error() {
        let o = extract("2024-05-01T10:00:00.123Z\tabc-123\tERROR\tcould not sync account 8812 TypeError: Cannot read properties of undefined (reading 'id')\n    at sync (/var/task/sync.js:14:11)\n    at Runtime.handler (/var/task/index.js:5:3)").unwrap();
        assert_eq!(o.kind, "TypeError");
        assert_eq!(
            o.message,
            "Cannot read properties of undefined (reading 'id')"
        );
        assert!(
            o.fields
                .iter()
                .any(|(k, v)| k == "message" && v.starts_with("could not sync account 8812"))
        );
    }
}
