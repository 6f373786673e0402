//! JSON log lines: Lambda's JSON log format (Python, Node.js, Java), Go's
//! error reports, structured loggers (pino, logstash/logback, Powertools,
//! structlog, zap, logrus, tracing-subscriber), Datadog's `error.*`
//! convention, Lambda platform records and Step Functions events.
//!
//! Parsing is the expensive part, so a line is parsed only when its level,
//! read in place, is ERROR or above, or, for JSON without a level, when it
//! holds an error key at all. Loggers disagree on every key name, so the
//! error is looked for in the places each of them uses, most specific first.

use serde_json::{Map, Value};

use super::frames::{go_frame, stack_element, trim_indent};
use super::trace::{self, Trace, exception_line, lines};
use super::{
    Fields, Level, MAX_FRAMES, Occurrence, Severity, go, occurrence, platform, severity_number,
    severity_word, stepfunctions,
};

/// Where a JSON object sits and what its surroundings already said.
pub(crate) struct Context {
    /// The level of an enclosing text format (Node.js's `INFO\t{...}`); the
    /// object's own level, when it has one, wins.
    pub outer: Option<Severity>,
    /// The shape name when the surroundings identify it (`node-text`).
    pub shape: Option<&'static str>,
    /// Fields read from the surroundings (the request id of a text prefix).
    pub fields: Fields,
}

impl Context {
    pub(crate) fn top() -> Self {
        Context {
            outer: None,
            shape: None,
            fields: Fields::default(),
        }
    }
}

pub(crate) enum Outcome {
    Found(Box<Occurrence>),
    NotError,
    /// Not valid JSON; the level it seemed to state, for the text fallback.
    Unparsed(Option<Severity>),
}

/// Keys that carry a level, in the order they are believed.
const LEVEL_KEYS: [&str; 8] = [
    "level",
    "log_level",
    "levelname",
    "loglevel",
    "severity",
    "@l",
    "lvl",
    "status",
];

/// Keys never kept as context: when it happened is the event's own
/// timestamp, and the level is [`Occurrence::level`].
const SKIPPED_KEYS: [&str; 6] = ["timestamp", "time", "ts", "@timestamp", "@t", "spans"];

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

/// The level a JSON line states, read without parsing it: the first
/// level-like key followed by a level word (any case) or a pino number.
pub(crate) fn probe_level(text: &str) -> Option<Severity> {
    // `contains` is vectorised, `find` is not: most JSON lines hold `level`,
    // the others are rejected without a scan per key.
    if text.contains("level") {
        if let Some(sev) = probe_level_keys(text) {
            return Some(sev);
        }
    }
    for key in ["\"severity\"", "\"@l\"", "\"status\""] {
        if text.contains(key)
            && let Some(p) = text.find(key)
            && let Some(sev) = value_severity(&text[p + key.len()..], false)
        {
            return Some(sev);
        }
    }
    None
}

/// `"level"`, `"log_level"`, `"loglevel"`, `"levelname"`: one search for
/// the common part, then a look at what surrounds it.
fn probe_level_keys(text: &str) -> Option<Severity> {
    let mut from = 0;
    for _ in 0..8 {
        let Some(pos) = text.get(from..).and_then(|t| t.find("level")) else {
            break;
        };
        let at = from + pos;
        from = at + 5;
        let before = &text[..at];
        let key_starts =
            before.ends_with('"') || before.ends_with("\"log_") || before.ends_with("\"log");
        if !key_starts {
            continue;
        }
        let after = &text[at + 5..];
        let rest = after
            .strip_prefix('"')
            .or_else(|| after.strip_prefix("name\""));
        if let Some(rest) = rest
            && let Some(sev) = value_severity(rest, true)
        {
            return Some(sev);
        }
    }
    None
}

/// The severity of the value after a key: `: "ERROR"`, or `: 50` when
/// `numeric` (pino's level; an HTTP `status` of 502 is not a level).
fn value_severity(after_key: &str, numeric: bool) -> Option<Severity> {
    let s = after_key.trim_start().strip_prefix(':')?.trim_start();
    if let Some(rest) = s.strip_prefix('"') {
        let end = rest.as_bytes().iter().take(16).position(|&b| b == b'"')?;
        return severity_word(&rest[..end]);
    }
    if !numeric {
        return None;
    }
    let end = s
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let n: f64 = s.get(..end)?.parse().ok()?;
    Some(severity_number(n))
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

/// The string value of the first occurrence of a key, read in place.
fn string_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let p = text.find(key)?;
    let s = text[p + key.len()..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let s = s.strip_prefix('"')?;
    Some(&s[..s.find('"')?])
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
    structured(obj, ctx)
}

/// What an error object says, wherever it was found.
#[derive(Default)]
struct ErrorParts<'a> {
    kind: Option<&'a str>,
    message: Option<&'a str>,
    stack: Option<&'a Value>,
    fingerprint: Option<String>,
    /// The key paths taken, so they are not repeated as context.
    consumed: Vec<String>,
}

impl<'a> ErrorParts<'a> {
    /// Reads an error object's members under `prefix` (empty for the top
    /// level), filling only what is still missing.
    fn read(&mut self, obj: &'a Map<String, Value>, prefix: &str, names: &Names) {
        let path = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        if self.kind.is_none()
            && let Some((k, v)) = first_string(obj, names.kind)
        {
            self.kind = Some(v);
            self.consumed.push(path(k));
        }
        if self.message.is_none()
            && let Some((k, v)) = first_string(obj, names.message)
        {
            self.message = Some(v);
            self.consumed.push(path(k));
        }
        if self.stack.is_none()
            && let Some((k, v)) = names.stack.iter().find_map(|k| {
                obj.get(*k)
                    .filter(|v| v.is_array() || v.is_string())
                    .map(|v| (*k, v))
            })
        {
            self.stack = Some(v);
            self.consumed.push(path(k));
        }
        if self.fingerprint.is_none()
            && let Some(key) = names.fingerprint
            && let Some(s) = obj.get(key).and_then(scalar_string)
        {
            self.fingerprint = Some(s);
            self.consumed.push(path(key));
        }
    }
}

/// The member names one family of loggers uses for an error's parts.
struct Names {
    kind: &'static [&'static str],
    message: &'static [&'static str],
    stack: &'static [&'static str],
    fingerprint: Option<&'static str>,
}

/// Datadog's flat `error.kind` keys.
const DATADOG_FLAT: Names = Names {
    kind: &["error.kind"],
    message: &["error.message"],
    stack: &["error.stack"],
    fingerprint: Some("error.fingerprint"),
};
/// Members of a nested error object: Datadog `{kind,message,stack}`, pino
/// `{type,message,stack}`, Powertools TypeScript `{name,message,stack}`,
/// Lambda `{errorType,errorMessage,stackTrace}`.
const ERROR_OBJECT: Names = Names {
    kind: &["kind", "type", "name", "errorType", "class"],
    message: &["message", "errorMessage", "msg", "reason"],
    stack: &["stack", "stackTrace", "stack_trace", "backtrace"],
    fingerprint: Some("fingerprint"),
};
/// Lambda runtimes' top-level error keys (Python, Node.js hoisted, Go).
const LAMBDA_TOP: Names = Names {
    kind: &["errorType", "exception_name", "error_type"],
    message: &["errorMessage", "error_message"],
    stack: &[
        "stackTrace",
        "stack_trace",
        "exception",
        "stacktrace",
        "stack",
        "traceback",
        "exc_info",
        "backtrace",
    ],
    fingerprint: None,
};

fn first_string<'a>(
    obj: &'a Map<String, Value>,
    keys: &[&'static str],
) -> Option<(&'static str, &'a str)> {
    keys.iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str).map(|v| (*k, v)))
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The level an object states at its top, and under which key.
fn object_level(obj: &Map<String, Value>) -> Option<(&'static str, Severity)> {
    LEVEL_KEYS.iter().find_map(|k| {
        let sev = match obj.get(*k)? {
            Value::String(s) => severity_word(s)?,
            Value::Number(n) if *k != "status" => severity_number(n.as_f64()?),
            _ => return None,
        };
        Some((*k, sev))
    })
}

fn structured(obj: &Map<String, Value>, ctx: Context) -> Option<Occurrence> {
    let stated = object_level(obj);
    let severity = stated.map(|(_, s)| s).or(ctx.outer);
    if severity == Some(Severity::Below) {
        return None;
    }
    let mut parts = ErrorParts::default();
    if let Some((key, _)) = stated {
        parts.consumed.push(key.to_string());
    }
    let datadog = obj.contains_key("error.kind") || obj.contains_key("error.stack");
    parts.read(obj, "", &DATADOG_FLAT);
    let mut error_object = None;
    for key in ["error", "err", "exception", "exc"] {
        if let Some(Value::Object(eo)) = obj.get(key) {
            parts.read(eo, key, &ERROR_OBJECT);
            error_object = Some(key);
            break;
        }
    }
    parts.read(obj, "", &LAMBDA_TOP);
    // Node.js JSON format with `console.error(err)`: the error is the message.
    let mut nested_in_message = false;
    let mut log_message: Option<(String, &str)> = None;
    for key in ["message", "msg", "event", "@m", "@mt"] {
        match obj.get(key) {
            Some(Value::Object(mo)) => {
                if ["errorType", "errorMessage", "stackTrace", "stack"]
                    .iter()
                    .any(|k| mo.contains_key(*k))
                {
                    parts.read(mo, key, &ERROR_OBJECT);
                    nested_in_message = true;
                } else if let Some((k, v)) = first_string(mo, &["message", "msg"]) {
                    log_message = Some((format!("{key}.{k}"), v));
                }
                break;
            }
            Some(Value::String(s)) => {
                log_message = Some((key.to_string(), s));
                break;
            }
            _ => {}
        }
    }
    let mut tracing_fields = false;
    if log_message.is_none()
        && let Some(Value::Object(f)) = obj.get("fields")
        && let Some(Value::String(s)) = f.get("message")
    {
        log_message = Some(("fields.message".to_string(), s));
        tracing_fields = true;
    }

    let mut found = parts.stack.map(stack_frames).unwrap_or_default();
    // Java's JSON format, and messages that simply contain a stack trace.
    if parts.kind.is_none()
        && parts.stack.is_none()
        && let Some((key, msg)) = &log_message
        && msg.contains(['\n', '\r'])
        && let Some(t) = trace::parse(msg)
        && (t.definite || matches!(severity, Some(Severity::At(_))))
    {
        found = t;
        parts.consumed.push(key.clone());
        log_message = None;
    }
    let Trace {
        header,
        frames,
        cause,
        ..
    } = found;

    let has_error = parts.kind.is_some() || parts.stack.is_some() || header.is_some();
    let level = match severity {
        Some(Severity::At(level)) => level,
        _ if has_error => Level::Error,
        _ => return None,
    };
    let (header_kind, header_message) = header.unzip();
    let kind = parts
        .kind
        .map(str::to_string)
        .or(header_kind)
        .unwrap_or_default();
    let message = match parts.message.map(str::to_string).or(header_message) {
        Some(m) => m,
        None => match log_message {
            Some((key, m)) => {
                parts.consumed.push(key);
                m.to_string()
            }
            None => String::new(),
        },
    };

    let shape = ctx.shape.unwrap_or_else(|| {
        shape_of(
            obj,
            &parts,
            ShapeHints {
                datadog,
                error_object,
                nested_in_message,
                tracing_fields,
            },
        )
    });
    let mut fields = ctx.fields;
    if let Some((kind, message)) = &cause {
        fields.push("cause.kind", kind);
        fields.push("cause.message", message);
    }
    let consumed: Vec<&str> = parts.consumed.iter().map(String::as_str).collect();
    flatten(obj, "", &consumed, &mut fields, 0);
    let mut occ = occurrence(&kind, &message, frames, level, shape, fields);
    occ.fingerprint = parts.fingerprint;
    Some(occ)
}

struct ShapeHints {
    datadog: bool,
    error_object: Option<&'static str>,
    nested_in_message: bool,
    tracing_fields: bool,
}

/// A name for the producer, from the keys its format is known by. Only
/// informational: nothing downstream branches on it.
fn shape_of(obj: &Map<String, Value>, parts: &ErrorParts<'_>, h: ShapeHints) -> &'static str {
    let has = |k: &str| obj.contains_key(k);
    if h.datadog
        || (h.error_object == Some("error") && parts.consumed.iter().any(|c| c == "error.kind"))
    {
        "datadog"
    } else if h.nested_in_message {
        "node-json"
    } else if has("log_level") {
        "python-json"
    } else if h.error_object == Some("err") || obj.get("level").is_some_and(Value::is_number) {
        "pino"
    } else if h.tracing_fields {
        "tracing-json"
    } else if has("exception_name") || (has("exception") && has("location")) {
        "powertools-python"
    } else if has("exception") && has("event") {
        "structlog"
    } else if has("stack_trace") || has("logger_name") {
        "logstash"
    } else if has("stacktrace") || has("caller") {
        "zap"
    } else if h.error_object == Some("error") && parts.consumed.iter().any(|c| c == "error.name") {
        "powertools-ts"
    } else if has("AWSRequestId") {
        "java-json"
    } else if has("errorType") && has("requestId") && has("logger") {
        "python-logging-json"
    } else if has("errorType")
        && has("requestId")
        && obj.get("message").is_some_and(Value::is_string)
    {
        "node-json"
    } else if has("errorType") {
        "lambda-json"
    } else if has("msg") && obj.get("error").is_some_and(Value::is_string) {
        "logrus"
    } else {
        "json-level"
    }
}

/// Frames, innermost last, and the exception line when the stack has one,
/// from a stack written as an array (Lambda's `stackTrace`, Go's
/// `{path,line,label}` entries) or as one string.
pub(crate) fn stack_frames(stack: &Value) -> Trace {
    match stack {
        Value::Array(items) => {
            let mut frames = Vec::new();
            let mut header = None;
            let mut python = false;
            for item in items.iter().take(MAX_FRAMES * 2) {
                if frames.len() >= MAX_FRAMES {
                    break;
                }
                match item {
                    Value::String(s) => {
                        if let Some(f) = stack_element(s) {
                            python |= trim_indent(s).starts_with("File \"");
                            frames.push(f);
                        } else if frames.is_empty() && header.is_none() {
                            header = exception_line(super::text::first_line(s));
                        }
                    }
                    Value::Object(o) => {
                        let path = o.get("path").and_then(Value::as_str).unwrap_or("");
                        let label = o.get("label").and_then(Value::as_str).unwrap_or("");
                        let line = o
                            .get("line")
                            .and_then(Value::as_u64)
                            .and_then(|n| u32::try_from(n).ok());
                        frames.push(go_frame(path, line, label));
                    }
                    _ => {}
                }
            }
            // Python lists frames innermost last; Node.js, Java and Go
            // innermost first.
            if !python {
                frames.reverse();
            }
            Trace {
                header,
                frames,
                ..Trace::default()
            }
        }
        Value::String(s) => match trace::parse(s) {
            Some(t) => t,
            None if s.contains(".go:") => Trace {
                frames: go::stack_frames(lines(s)),
                ..Trace::default()
            },
            None => Trace {
                header: exception_line(super::text::first_line(s)),
                ..Trace::default()
            },
        },
        _ => Trace::default(),
    }
}

/// Context fields from an object: nested objects flattened to `a.b` keys,
/// scalars as strings, arrays and the `consumed` paths left out.
pub(crate) fn flatten(
    obj: &Map<String, Value>,
    prefix: &str,
    consumed: &[&str],
    fields: &mut Fields,
    depth: usize,
) {
    for (k, v) in obj {
        if fields.is_full() {
            return;
        }
        if depth == 0 && (SKIPPED_KEYS.contains(&k.as_str()) || LEVEL_KEYS.contains(&k.as_str())) {
            continue;
        }
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if consumed.contains(&path.as_str()) {
            continue;
        }
        match v {
            Value::Object(m) if depth < 8 => flatten(m, &path, consumed, fields, depth + 1),
            Value::String(s) => fields.push(&path, s),
            Value::Number(_) | Value::Bool(_) => fields.push(&path, &v.to_string()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::extract;
    use super::*;

    fn field<'a>(o: &'a Occurrence, key: &str) -> Option<&'a str> {
        o.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn level_probe_reads_in_place() {
        assert_eq!(
            probe_level(r#"{"level":"INFO","message":"x"}"#),
            Some(Severity::Below)
        );
        assert_eq!(
            probe_level(r#"{"log_level": "ERROR"}"#),
            Some(Severity::At(Level::Error))
        );
        assert_eq!(
            probe_level(r#"{"levelname":"CRITICAL"}"#),
            Some(Severity::At(Level::Fatal))
        );
        assert_eq!(
            probe_level(r#"{"level":50,"msg":"x"}"#),
            Some(Severity::At(Level::Error))
        );
        assert_eq!(
            probe_level(r#"{"level_value":40000,"level":"warn"}"#),
            Some(Severity::Below)
        );
        assert_eq!(probe_level(r#"{"msg":"the level is high"}"#), None);
        assert_eq!(
            probe_level(r#"{"status":"error","message":"x"}"#),
            Some(Severity::At(Level::Error))
        );
    }

    #[test]
    fn python_uncaught_json_uses_log_level() {
        let o = extract(r#"{"timestamp": "2024-05-01T10:00:00Z", "log_level": "ERROR", "errorMessage": "'sku'", "errorType": "KeyError", "requestId": "r-1", "stackTrace": ["  File \"/var/task/app.py\", line 9, in handler\n    sku = event['sku']\n"]}"#).unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str(), o.shape),
            ("KeyError", "'sku'", "python-json")
        );
        assert_eq!(o.frames[0].line, Some(9));
        assert_eq!(o.fields, [("requestId".into(), "r-1".into())]);
    }

    #[test]
    fn python_logging_json() {
        let o = extract(r#"{"timestamp": "2024-05-01T10:00:00Z", "level": "ERROR", "message": "could not price order", "logger": "root", "stackTrace": ["  File \"/var/task/app.py\", line 20, in price\n    return a / b\n"], "errorType": "ZeroDivisionError", "errorMessage": "division by zero", "requestId": "r-2", "location": "/var/task/app.py:price:22"}"#).unwrap();
        assert_eq!(o.kind, "ZeroDivisionError");
        assert_eq!(o.message, "division by zero");
        assert_eq!(o.shape, "python-logging-json");
        assert_eq!(field(&o, "message"), Some("could not price order"));
        assert_eq!(field(&o, "logger"), Some("root"));
        assert_eq!(field(&o, "errorType"), None);
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

    #[test]
    fn java_json_message_holds_the_trace() {
        let o = extract(r#"{"timestamp":"2024-05-01T10:00:00.000Z","message":"index 3: java.lang.ArrayIndexOutOfBoundsException\njava.lang.ArrayIndexOutOfBoundsException: index 3\n\tat com.acme.Rows.get(Rows.java:14)\n","level":"ERROR","AWSRequestId":"r-5"}"#).unwrap();
        assert_eq!(o.kind, "java.lang.ArrayIndexOutOfBoundsException");
        assert_eq!(o.message, "index 3");
        assert_eq!(o.shape, "java-json");
        assert_eq!(field(&o, "AWSRequestId"), Some("r-5"));
    }

    #[test]
    fn go_panic_json_frames() {
        let o = extract(r#"{"errorMessage":"runtime error: invalid memory address or nil pointer dereference","errorType":"runtimeError","stackTrace":[{"path":"github.com/aws/aws-lambda-go@v1.47.0/lambda/errors.go","line":39,"label":"lambdaPanicResponse"},{"path":"/build/main.go","line":31,"label":"handle"}]}"#).unwrap();
        assert_eq!(o.kind, "runtimeError");
        assert_eq!(o.frames.last().unwrap().function, "lambdaPanicResponse");
        assert!(o.frames[0].in_app);
    }

    #[test]
    fn rust_tracing_json() {
        let o = extract(r#"{"level":"ERROR","fields":{"message":"Custom { kind: Other, error: \"no rows\" }"},"span":{"requestId":"r-6","name":"Lambda runtime invoke"},"spans":[{"requestId":"r-6","name":"Lambda runtime invoke"}]}"#).unwrap();
        assert_eq!(o.shape, "tracing-json");
        assert_eq!(o.message, "Custom { kind: Other, error: \"no rows\" }");
        assert_eq!(field(&o, "span.requestId"), Some("r-6"));
        let o = extract(r#"{"timestamp":"2024-05-01T10:00:00Z","level":"ERROR","fields":{"message":"sync failed","job":7},"target":"etl::sync"}"#).unwrap();
        assert_eq!(field(&o, "target"), Some("etl::sync"));
        assert_eq!(field(&o, "fields.job"), Some("7"));
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

    #[test]
    fn logstash_powertools_structlog_zap_logrus() {
        let o = extract(r#"{"@timestamp":"2024-05-01T10:00:00.000Z","@version":"1","message":"job failed","logger_name":"com.acme.Job","thread_name":"main","level":"ERROR","level_value":40000,"stack_trace":"java.lang.IllegalStateException: not ready\n\tat com.acme.Job.run(Job.java:10)\n"}"#).unwrap();
        assert_eq!(
            (o.kind.as_str(), o.shape),
            ("java.lang.IllegalStateException", "logstash")
        );
        let o = extract(r#"{"level":"ERROR","location":"handler:14","message":"failed","timestamp":"2024-05-01 10:00:00,000+0000","service":"orders","exception":"Traceback (most recent call last):\n  File \"/var/task/app.py\", line 14, in handler\n    raise ValueError(\"bad order\")\nValueError: bad order","exception_name":"ValueError"}"#).unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str(), o.shape),
            ("ValueError", "bad order", "powertools-python")
        );
        let o = extract(r#"{"event":"load failed","level":"error","timestamp":"2024-05-01T10:00:00Z","exception":"Traceback (most recent call last):\n  File \"/app/load.py\", line 3, in load\n    open(p)\nFileNotFoundError: [Errno 2] No such file"}"#).unwrap();
        assert_eq!(
            (o.kind.as_str(), o.shape),
            ("FileNotFoundError", "structlog")
        );
        let o = extract(r#"{"level":"error","ts":1714557600.1,"logger":"sync","caller":"sync/run.go:40","msg":"sync failed","error":"context deadline exceeded","stacktrace":"main.sync\n\t/app/sync/run.go:40\nmain.main\n\t/app/main.go:9"}"#).unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str(), o.shape),
            ("", "sync failed", "zap")
        );
        assert_eq!(o.frames.len(), 2);
        assert_eq!(field(&o, "error"), Some("context deadline exceeded"));
        let o = extract(r#"{"level":"error","msg":"upload failed","error":"403 Forbidden","time":"2024-05-01T10:00:00Z"}"#).unwrap();
        assert_eq!(o.shape, "logrus");
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
    fn hostile_fields_are_capped() {
        let mut line = String::from(r#"{"level":"ERROR","message":"x""#);
        for i in 0..500 {
            line.push_str(&format!(r#","k{i}":"{}""#, "v".repeat(3000)));
        }
        line.push('}');
        let o = extract(&line).unwrap();
        assert_eq!(o.fields.len(), super::super::MAX_FIELDS);
        assert!(
            o.fields
                .iter()
                .all(|(_, v)| v.len() <= crate::limits::MAX_FIELD_READ_LEN)
        );
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
