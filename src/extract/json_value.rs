//! Reading JSON log lines: a level read in place before parsing, and the
//! small helpers over parsed objects that every JSON format reader shares
//! (key lookups, context flattening, the names a logger gives an error's
//! parts).

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde_json::{Map, Value};

use super::level::{Severity, severity_number, severity_word};
use super::occurrence::Fields;

/// Keys that carry a level, in the order they are believed.
pub(crate) const LEVEL_KEYS: [&str; 9] = [
    "level",
    // Elastic Common Schema (ecs-logging).
    "log.level",
    "log_level",
    "levelname",
    "loglevel",
    "severity",
    "@l",
    "lvl",
    "status",
];

/// Keys never kept as context: when it happened is the event's own
/// timestamp, and the level is `Occurrence::level`.
const SKIPPED_KEYS: [&str; 6] = ["timestamp", "time", "ts", "@timestamp", "@t", "spans"];

/// The level a JSON line states, read without parsing it: the first
/// level-like key followed by a level word (any case) or a pino number.
pub(crate) fn probe_level(text: &str) -> Option<Severity> {
    if let Some(sev) = probe_level_keys(text) {
        return Some(sev);
    }
    for (key, finder) in OTHER_LEVEL_KEYS.iter() {
        if let Some(p) = finder.find(text.as_bytes())
            && let Some(sev) = value_severity(&text[p + key.len()..], false)
        {
            return Some(sev);
        }
    }
    None
}

/// Searchers built once: every JSON line is probed, and `str::find` or
/// `contains` with a string pattern sets up a new searcher on each call
/// (about 2% of `ingest`'s instructions).
static LEVEL: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("level"));
static OTHER_LEVEL_KEYS: LazyLock<[(&str, Finder<'static>); 3]> =
    LazyLock::new(|| ["\"severity\"", "\"@l\"", "\"status\""].map(|key| (key, Finder::new(key))));

/// `"level"`, `"log_level"`, `"loglevel"`, `"levelname"`: one search for
/// the common part, then a look at what surrounds it.
fn probe_level_keys(text: &str) -> Option<Severity> {
    let mut from = 0;
    for _ in 0..8 {
        let Some(pos) = text.get(from..).and_then(|t| LEVEL.find(t.as_bytes())) else {
            break;
        };
        let at = from + pos;
        from = at + 5;
        let before = &text[..at];
        let key_starts = before.ends_with('"')
            || before.ends_with("\"log_")
            || before.ends_with("\"log")
            || before.ends_with("\"log.");
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

/// The string value of the first occurrence of a key, read in place.
pub(crate) fn string_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let p = text.find(key)?;
    let s = text[p + key.len()..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let s = s.strip_prefix('"')?;
    Some(&s[..s.find('"')?])
}

/// The level an object states at its top, and under which key.
pub(crate) fn object_level(obj: &Map<String, Value>) -> Option<(&'static str, Severity)> {
    LEVEL_KEYS.iter().find_map(|k| {
        let sev = match obj.get(*k)? {
            Value::String(s) => severity_word(s)?,
            Value::Number(n) if *k != "status" => severity_number(n.as_f64()?),
            _ => return None,
        };
        Some((*k, sev))
    })
}

pub(crate) fn first_string<'a>(
    obj: &'a Map<String, Value>,
    keys: &[&'static str],
) -> Option<(&'static str, &'a str)> {
    keys.iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str).map(|v| (*k, v)))
}

pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
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

/// The member names one family of loggers uses for an error's parts.
pub(crate) struct Names {
    pub kind: &'static [&'static str],
    pub message: &'static [&'static str],
    pub stack: &'static [&'static str],
    pub fingerprint: Option<&'static str>,
}

/// What reading an object found out about its producer, beyond its keys:
/// each format module's recognizer looks at these and the object.
pub(crate) struct ShapeHints {
    /// Datadog's flat `error.kind` / `error.stack` keys were present.
    pub datadog: bool,
    /// The key of the nested error object read (`error`, `err`...).
    pub error_object: Option<&'static str>,
    /// The error object was the `message` (Node.js `console.error(err)`).
    pub nested_in_message: bool,
    /// The message came from tracing's `fields.message`.
    pub tracing_fields: bool,
    /// The kind was read from `error.kind` / from `error.name`.
    pub error_kind_key: bool,
    pub error_name_key: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

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
            probe_level(r#"{"@timestamp":"t","log.level":"info","message":"x"}"#),
            Some(Severity::Below)
        );
        assert_eq!(
            probe_level(r#"{"status":"error","message":"x"}"#),
            Some(Severity::At(Level::Error))
        );
    }
}
