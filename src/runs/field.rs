//! Runs and item counts from fields the user names per log group.
//!
//! Jobs that AWS does not identify (a Lambda fan-out, a cron container)
//! usually log a run id anyway: `run_id`, `job_run_id`, `correlation_id`.
//! The user names the field for the log group ([`super::RunFields`]); a
//! JSON line carries it as a key (`a.b` for a nested one), a text line as
//! `name=value`. Such a run has no end event: it ends when it has been
//! quiet for a while (the store's part). Item counts (`items_total=120000`)
//! are read the same way, for whichever run the line belongs to.

use std::collections::HashMap;

use serde_json::Value;

use super::{BatchRuns, RunFields};
use crate::decode::LogBatch;
use crate::limits::{MAX_FACET_VALUE_BYTES, truncate};
use crate::model::{RunDelta, RunSource};

/// The run key of the run `value` of a log group.
pub fn key(log_group: &str, value: &str) -> String {
    format!("field:{log_group}:{value}")
}

/// The runs of a batch whose events carry the run id field, or `None` if
/// none does.
pub(super) fn identify(batch: &LogBatch<'_>, fields: &RunFields) -> Option<BatchRuns> {
    let name = fields.id.as_deref().filter(|n| !n.is_empty())?;
    let mut runs: Vec<RunDelta> = Vec::new();
    let mut by_value: HashMap<String, u32> = HashMap::new();
    let mut event_run = vec![None; batch.log_events.len()];
    for (i, event) in batch.log_events.iter().enumerate() {
        let Some(value) = field(&event.message, name) else {
            continue;
        };
        let value = truncate(&value, MAX_FACET_VALUE_BYTES);
        let run = match by_value.get(&value) {
            Some(&r) => r,
            None => {
                let r = runs.len() as u32;
                let mut d = RunDelta::new(
                    key(&batch.log_group, &value),
                    RunSource::Field,
                    batch.log_group.to_string(),
                    value.clone(),
                );
                d.log_group = batch.log_group.to_string();
                runs.push(d);
                by_value.insert(value, r);
                r
            }
        };
        event_run[i] = Some(run);
        if let Some(d) = runs.get_mut(run as usize) {
            d.last_event = Some(
                d.last_event
                    .map_or(event.timestamp, |t| t.max(event.timestamp)),
            );
        }
    }
    if runs.is_empty() {
        return None;
    }
    let recovered = Vec::new();
    Some(BatchRuns::per_event(runs, event_run, recovered))
}

/// Adds the item counts the batch's lines state to their runs: the largest
/// value seen, since jobs log running totals.
pub(super) fn count_items(batch: &LogBatch<'_>, fields: &RunFields, runs: &mut BatchRuns) {
    let names = [fields.items.as_deref(), fields.failed_items.as_deref()];
    if names.iter().all(Option::is_none) {
        return;
    }
    for (i, event) in batch.log_events.iter().enumerate() {
        let Some(run) = runs.run_of(i) else {
            continue;
        };
        let counts = names.map(|name| {
            name.and_then(|n| field(&event.message, n))
                .and_then(|v| v.trim().replace(['_', ','], "").parse::<u64>().ok())
        });
        if let Some(d) = runs.runs_mut().get_mut(run) {
            if let Some(items) = counts[0] {
                d.items = Some(d.items.map_or(items, |n| n.max(items)));
            }
            if let Some(failed) = counts[1] {
                d.failed_items = Some(d.failed_items.map_or(failed, |n| n.max(failed)));
            }
        }
    }
}

/// The value of field `name` in a log line: a key of the JSON object the
/// line holds (after any text prefix), or `name=value` in text.
pub fn field(message: &str, name: &str) -> Option<String> {
    let leaf = name.rsplit('.').next().unwrap_or(name);
    memchr::memmem::find(message.as_bytes(), leaf.as_bytes())?;
    if let Some(start) = message.find('{') {
        if let Ok(Value::Object(object)) =
            serde_json::from_str::<Value>(message[start..].trim_end())
        {
            let mut value = object.get(name);
            if value.is_none() {
                let mut path = name.split('.');
                let first = path.next().and_then(|p| object.get(p));
                value = path.try_fold(first?, |v, p| v.get(p));
            }
            return match value? {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
        }
    }
    text_field(message, name)
}

/// `name=value` or `name="value"` in a text line, at a word boundary.
fn text_field(message: &str, name: &str) -> Option<String> {
    let pattern = format!("{name}=");
    let mut from = 0;
    while let Some(at) = message.get(from..)?.find(&pattern) {
        let start = from + at;
        let boundary = message[..start]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == ',' || c == ';');
        let rest = &message[start + pattern.len()..];
        if boundary {
            let value = match rest.strip_prefix('"') {
                Some(quoted) => quoted.split('"').next().unwrap_or(""),
                None => rest
                    .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
                    .next()
                    .unwrap_or(""),
            };
            return (!value.is_empty()).then(|| value.to_string());
        }
        from = start + pattern.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    #[test]
    fn a_field_is_read_from_json_nested_json_and_text() {
        assert_eq!(
            field(r#"{"level":"info","run_id":"r-7"}"#, "run_id").as_deref(),
            Some("r-7")
        );
        assert_eq!(
            field(
                "2025-11-23T01:00:00Z\treq\tINFO\t{\"job\":{\"run\":42}}",
                "job.run"
            )
            .as_deref(),
            Some("42")
        );
        assert_eq!(
            field("INFO start run_id=r-8 items=3", "run_id").as_deref(),
            Some("r-8")
        );
        assert_eq!(
            field(r#"msg="x" run_id="r 9""#, "run_id").as_deref(),
            Some("r 9")
        );
        assert_eq!(
            field("INFO my_run_id=r-1", "run_id"),
            None,
            "not at a word boundary"
        );
        assert_eq!(field("nothing here", "run_id"), None);
    }

    #[test]
    fn events_are_grouped_by_run_id_and_counts_are_added() {
        let json = serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/fanout", "logStream": "s",
            "logEvents": [
                {"id": "1", "timestamp": 10, "message": "{\"run_id\":\"a\",\"msg\":\"start\",\"items_total\":1200}"},
                {"id": "2", "timestamp": 11, "message": "[ERROR] no run here"},
                {"id": "3", "timestamp": 12, "message": "{\"run_id\":\"b\",\"msg\":\"start\"}"},
                {"id": "4", "timestamp": 13, "message": "run_id=a level=error msg=boom items_failed=12"},
            ],
        })
        .to_string();
        let batch = decode::parse(json.as_bytes()).unwrap();
        let fields = RunFields {
            id: Some("run_id".into()),
            items: Some("items_total".into()),
            failed_items: Some("items_failed".into()),
        };
        let mut runs = identify(&batch, &fields).unwrap();
        count_items(&batch, &fields, &mut runs);
        let keys: Vec<&str> = runs.runs().iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            keys,
            ["field:/aws/lambda/fanout:a", "field:/aws/lambda/fanout:b"]
        );
        assert_eq!(
            (0..4).map(|i| runs.run_of(i)).collect::<Vec<_>>(),
            [Some(0), None, Some(1), Some(0)]
        );
        let a = &runs.runs()[0];
        assert_eq!(
            (a.items, a.failed_items, a.last_event),
            (Some(1200), Some(12), Some(13))
        );
        assert_eq!(a.job, "/aws/lambda/fanout");
    }
}
