//! The error in a structured logger's JSON object, whichever logger wrote
//! it: Lambda's JSON log format (Python, Node.js, Java), Go's error reports,
//! pino, logstash/logback, Powertools, structlog, zap, logrus,
//! tracing-subscriber and Datadog's `error.*` convention.
//!
//! Loggers disagree on every key name, so the error is looked for in the
//! places each of them uses, most specific first; the modules named after
//! each logger say which keys are theirs and recognise their lines.

use serde_json::{Map, Value};

use super::json_value::{Names, ShapeHints, first_string, flatten, object_level, scalar_string};
use super::level::Severity;
use super::occurrence::{Fields, occurrence};
use super::stack::stack_frames;
use super::trace::Trace;
use super::{datadog, go, java, lambda_python, logback, pino, powertools, python, stack};
use crate::model::{Level, Occurrence};

/// What the surroundings of a JSON object already said.
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
    message: &["errorMessage", "error_message", "ErrorMessage"],
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

pub(crate) fn structured(obj: &Map<String, Value>, ctx: Context) -> Option<Occurrence> {
    let stated = object_level(obj);
    let severity = stated.map(|(_, s)| s).or(ctx.outer);
    if severity == Some(Severity::Below) {
        return None;
    }
    let mut parts = ErrorParts::default();
    if let Some((key, _)) = stated {
        parts.consumed.push(key.to_string());
    }
    let datadog = datadog::has_flat_keys(obj);
    parts.read(obj, "", &datadog::FLAT);
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
        && let Some(t) = stack::parse(msg)
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

    // An error message under one of the Lambda error keys is an error even
    // without a type: Embedded Metric Format lines and extensions write
    // `ErrorMessage` beside their metrics and no level at all.
    let has_error = parts.kind.is_some()
        || parts.stack.is_some()
        || header.is_some()
        || parts.message.is_some_and(|m| !m.trim().is_empty());
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
        let consumed = |k: &str| parts.consumed.iter().any(|c| c == k);
        shape_of(
            obj,
            &ShapeHints {
                datadog,
                error_object,
                nested_in_message,
                tracing_fields,
                error_kind_key: consumed("error.kind"),
                error_name_key: consumed("error.name"),
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

/// A name for the producer, from the keys its format is known by. Only
/// informational: nothing downstream branches on it. The order matters:
/// several loggers share keys, and the most specific test comes first.
fn shape_of(obj: &Map<String, Value>, h: &ShapeHints) -> &'static str {
    let has = |k: &str| obj.contains_key(k);
    if datadog::is_datadog(h) {
        "datadog"
    } else if h.nested_in_message {
        // Lambda's Node.js JSON format with `console.error(err)`.
        "node-json"
    } else if lambda_python::is_json(obj) {
        "python-json"
    } else if pino::is_pino(obj, h) {
        "pino"
    } else if h.tracing_fields {
        "tracing-json"
    } else if powertools::is_python(obj) {
        "powertools-python"
    } else if python::is_structlog(obj) {
        "structlog"
    } else if logback::is_logstash(obj) {
        "logstash"
    } else if go::is_zap(obj) {
        "zap"
    } else if powertools::is_typescript(h) {
        "powertools-ts"
    } else if java::is_lambda_json(obj) {
        "java-json"
    } else if lambda_python::is_logging_json(obj) {
        "python-logging-json"
    } else if has("errorType")
        && has("requestId")
        && obj.get("message").is_some_and(Value::is_string)
    {
        // Lambda's Node.js JSON format with the error hoisted to the top.
        "node-json"
    } else if has("errorType") {
        "lambda-json"
    } else if go::is_logrus(obj) {
        "logrus"
    } else {
        "json-level"
    }
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
    fn hostile_fields_are_capped() {
        let mut line = String::from(r#"{"level":"ERROR","message":"x""#);
        for i in 0..500 {
            line.push_str(&format!(r#","k{i}":"{}""#, "v".repeat(3000)));
        }
        line.push('}');
        let o = extract(&line).unwrap();
        assert_eq!(o.fields.len(), crate::limits::MAX_FIELDS);
        assert!(
            o.fields
                .iter()
                .all(|(_, v)| v.len() <= crate::limits::MAX_FIELD_READ_LEN)
        );
    }
}
