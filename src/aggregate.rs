//! Folds a batch's occurrences into one change per issue.
//!
//! A batch of 10,000 events with 300 errors of 2 kinds becomes 2 issue
//! deltas, so the store is written once per issue per batch, not once per
//! log event: the cost of a batch grows with its distinct issues.

use std::collections::HashMap;

use serde::Serialize;

use crate::decode::LogBatch;
use crate::extract::{self, Occurrence};
use crate::fingerprint;
use crate::scrub;

/// How many sample occurrences one batch keeps per issue. The store keeps its
/// own bounded ring across batches; a batch needs no more than that.
pub const SAMPLES_PER_BATCH: usize = 3;

/// Longest message kept in a sample or a title, in bytes. Log events can be
/// 1 MB; a DynamoDB item is at most 400 KB and an alert must stay readable.
pub const MAX_MESSAGE_BYTES: usize = 4096;
pub const MAX_TITLE_BYTES: usize = 160;

/// Everything a batch changes, keyed so that a redelivery is recognised.
#[derive(Debug, Clone, Serialize)]
pub struct BatchSummary {
    /// Identifies the batch's content: the same events give the same id,
    /// however often Lambda delivers them.
    pub batch_id: String,
    pub owner: String,
    pub log_group: String,
    pub log_stream: String,
    pub events: usize,
    pub errors: usize,
    /// One entry per distinct fingerprint, in order of first appearance.
    pub issues: Vec<IssueDelta>,
}

/// What one batch adds to one issue.
#[derive(Debug, Clone, Serialize)]
pub struct IssueDelta {
    pub fingerprint: String,
    pub kind: String,
    pub title: String,
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub samples: Vec<Sample>,
    /// Occurrences per hour (by event time), for the timeline.
    pub hours: Vec<HourCount>,
    /// Occurrences per value of the context fields worth faceting on.
    pub facets: Vec<FacetCount>,
    /// Distinct versions the occurrences came from (`version` fields, the
    /// Lambda version in the stream name), for "resolved in version X".
    pub versions: Vec<String>,
}

/// Occurrences within one hour; `hour` is the epoch ms the hour starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HourCount {
    pub hour: i64,
    pub count: u64,
}

/// Occurrences carrying one value of one context field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FacetCount {
    pub name: String,
    pub value: String,
    pub count: u64,
}

/// The hour an epoch-ms timestamp falls in.
pub fn hour_of(timestamp: i64) -> i64 {
    // Saturating: a crafted timestamp near i64::MIN must not overflow.
    timestamp.saturating_sub(timestamp.rem_euclid(3_600_000))
}

/// Distinct values one batch records per facet and issue; the rest are
/// counted under [`OTHER`], so a field with a new value per line (request
/// ids) cannot grow an issue without bound.
pub const FACET_VALUES_PER_BATCH: usize = 20;
pub const OTHER: &str = "(other)";
const MAX_FACET_VALUE_BYTES: usize = 256;

/// One occurrence kept for investigation.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Sample {
    pub log_group: String,
    pub log_stream: String,
    pub event_id: String,
    pub timestamp: i64,
    pub kind: String,
    pub message: String,
    pub shape: String,
    /// Extracted context fields and the stack, as `name -> value`.
    pub fields: Vec<(String, String)>,
}

/// The issue id users type: short, derived from the fingerprint, so every
/// store and every concurrent writer agrees on it without a counter.
pub fn issue_id(fingerprint: &str) -> String {
    format!(
        "{:012x}",
        xxhash_rust::xxh3::xxh3_64(fingerprint.as_bytes()) >> 16
    )
}

/// Runs extract and fingerprint over a decoded batch and folds the result.
pub fn summarise(batch: &LogBatch<'_>) -> BatchSummary {
    let found = extract::extract_events(&batch.log_events);
    let stream = stream_facets(batch);
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut issues: Vec<IssueDelta> = Vec::new();
    let mut errors = 0;
    for (event, occurrence) in batch.log_events.iter().zip(found) {
        let Some(occurrence) = occurrence else {
            continue;
        };
        errors += 1;
        let fp = fingerprint::fingerprint(&batch.log_group, &occurrence);
        let slot = match index.get(&fp) {
            Some(&i) => &mut issues[i],
            None => {
                index.insert(fp.clone(), issues.len());
                issues.push(IssueDelta {
                    fingerprint: fp,
                    kind: occurrence.kind.clone(),
                    title: title(&occurrence),
                    count: 0,
                    first_seen: event.timestamp,
                    last_seen: event.timestamp,
                    samples: Vec::new(),
                    hours: Vec::new(),
                    facets: Vec::new(),
                    versions: Vec::new(),
                });
                let last = issues.len() - 1;
                &mut issues[last]
            }
        };
        slot.count += 1;
        slot.first_seen = slot.first_seen.min(event.timestamp);
        slot.last_seen = slot.last_seen.max(event.timestamp);
        count_hour(&mut slot.hours, hour_of(event.timestamp));
        let fields = field_facets(&occurrence);
        let facets = stream.iter().map(|(n, v)| (*n, v.as_str()));
        for (name, value) in facets.chain(fields.iter().map(|(n, v)| (*n, *v))) {
            let is_version = name == "version" || name == "function_version";
            if is_version && slot.versions.len() < 16 && !slot.versions.iter().any(|v| v == value) {
                slot.versions.push(value.to_string());
            }
            count_facet(&mut slot.facets, name, value);
        }
        if slot.samples.len() < SAMPLES_PER_BATCH {
            slot.samples
                .push(sample(batch, &event.id, event.timestamp, occurrence));
        }
    }
    BatchSummary {
        batch_id: batch_id(batch),
        owner: batch.owner.to_string(),
        log_group: batch.log_group.to_string(),
        log_stream: batch.log_stream.to_string(),
        events: batch.log_events.len(),
        errors,
        issues,
    }
}

fn count_hour(hours: &mut Vec<HourCount>, hour: i64) {
    match hours.iter_mut().find(|h| h.hour == hour) {
        Some(h) => h.count += 1,
        None => hours.push(HourCount { hour, count: 1 }),
    }
}

/// Counts one value; allocates only for a value the batch has not seen.
fn count_facet(facets: &mut Vec<FacetCount>, name: &str, value: &str) {
    if let Some(f) = facets
        .iter_mut()
        .find(|f| f.name == name && f.value == value)
    {
        f.count += 1;
        return;
    }
    let distinct = facets.iter().filter(|f| f.name == name).count();
    let value = if distinct >= FACET_VALUES_PER_BATCH {
        OTHER.to_string()
    } else {
        truncate(value, MAX_FACET_VALUE_BYTES)
    };
    match facets
        .iter_mut()
        .find(|f| f.name == name && f.value == value)
    {
        Some(f) => f.count += 1,
        None => facets.push(FacetCount {
            name: name.to_string(),
            value,
            count: 1,
        }),
    }
}

/// Field names that mean the same thing across runtimes and loggers.
const FACET_FIELDS: &[(&str, &[&str])] = &[
    (
        "request_id",
        &[
            "requestId",
            "AWSRequestId",
            "request_id",
            "aws_request_id",
            "function_request_id",
            "record.requestId",
            "span.requestId",
        ],
    ),
    ("execution", &["execution_arn", "executionArn"]),
    ("state", &["state_name", "stateName", "details.name"]),
    (
        "environment",
        &[
            "env",
            "environment",
            "stage",
            "deployment.environment",
            "dd.env",
        ],
    ),
    ("service", &["service", "service.name", "dd.service"]),
    (
        "version",
        &["version", "service.version", "dd.version", "app_version"],
    ),
];

/// The facets every occurrence of a batch shares, from where it was logged
/// (stream name conventions of Lambda, Batch and ECS): computed once per
/// batch, not once per error.
fn stream_facets(batch: &LogBatch<'_>) -> Vec<(&'static str, String)> {
    let stream: &str = &batch.log_stream;
    let mut out: Vec<(&'static str, String)> = vec![("log_stream", stream.to_string())];
    // Lambda: `2025/11/23/[12]0c9d...` or `[$LATEST]`.
    if let Some(version) = stream
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(v, _)| v)
        .filter(|v| !v.is_empty())
    {
        out.push(("function_version", version.to_string()));
    }
    // AWS Batch: `jobDefinition/default/taskId`; ECS: `prefix/container/taskId`.
    if batch.log_group.starts_with("/aws/batch") {
        if let Some(job) = stream.split('/').next().filter(|s| !s.is_empty()) {
            out.push(("job", job.to_string()));
        }
    } else if batch.log_group.starts_with("/ecs/") {
        if let Some(container) = stream.split('/').nth(1) {
            out.push(("job", container.to_string()));
        }
    }
    out
}

/// The facet values an occurrence's own context fields carry.
fn field_facets(occurrence: &Occurrence) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    for (facet, names) in FACET_FIELDS {
        if let Some((_, value)) = occurrence
            .fields
            .iter()
            .find(|(k, v)| !v.is_empty() && names.contains(&k.as_str()))
        {
            out.push((*facet, value.as_str()));
            if *facet == "execution" {
                // arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME
                if let Some(machine) = value.split(':').nth(6) {
                    out.push(("state_machine", machine));
                }
            }
        }
    }
    out
}

/// CloudWatch gives every log event a unique id, so the ids of a batch's
/// events identify the batch; the group and stream guard against ids reused
/// across hand-made test inputs.
fn batch_id(batch: &LogBatch<'_>) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for part in [&batch.owner, &batch.log_group, &batch.log_stream] {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    for event in &batch.log_events {
        hasher.update(event.id.as_bytes());
        hasher.update(&event.timestamp.to_le_bytes());
        hasher.update(&[0]);
    }
    format!("{:032x}", hasher.digest128())
}

/// A one-line title: `Kind: message`, first line only, bounded.
pub fn title(occurrence: &Occurrence) -> String {
    let first_line = occurrence.message.lines().next().unwrap_or("").trim();
    let text = match (occurrence.kind.is_empty(), first_line.is_empty()) {
        (true, _) => first_line.to_string(),
        (false, true) => occurrence.kind.clone(),
        (false, false) => format!("{}: {}", occurrence.kind, first_line),
    };
    truncate(&scrub::scrub(&text), MAX_TITLE_BYTES)
}

fn sample(batch: &LogBatch<'_>, event_id: &str, timestamp: i64, occurrence: Occurrence) -> Sample {
    let mut fields: Vec<(String, String)> = occurrence
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), scrub::scrub_field(k, v)))
        .collect();
    if !occurrence.frames.is_empty() {
        let stack: Vec<String> = occurrence
            .frames
            .iter()
            .map(|f| match f.line {
                Some(line) => format!("{} ({}:{})", f.function, f.file, line),
                None => format!("{} ({})", f.function, f.file),
            })
            .collect();
        fields.push((
            "stack".to_string(),
            truncate(&stack.join("\n"), MAX_MESSAGE_BYTES),
        ));
    }
    Sample {
        log_group: batch.log_group.to_string(),
        log_stream: batch.log_stream.to_string(),
        event_id: event_id.to_string(),
        timestamp,
        kind: occurrence.kind,
        // Truncate after scrubbing, so a cut cannot split a secret into a
        // fragment the rules no longer recognise.
        message: truncate(
            &scrub::scrub(&truncate(&occurrence.message, 4 * MAX_MESSAGE_BYTES)),
            MAX_MESSAGE_BYTES,
        ),
        shape: occurrence.shape.to_string(),
        fields,
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    fn batch_json(messages: &[&str]) -> String {
        let events: Vec<String> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                format!(
                    r#"{{"id":"{}","timestamp":{},"message":{}}}"#,
                    1000 + i,
                    1_700_000_000_000i64 + i as i64,
                    serde_json::to_string(m).unwrap()
                )
            })
            .collect();
        format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s","logEvents":[{}]}}"#,
            events.join(",")
        )
    }

    #[test]
    fn a_batch_is_folded_into_one_delta_per_issue() {
        let json = batch_json(&[
            "[ERROR] KeyError: 'action'",
            "INFO all good",
            "[ERROR] KeyError: 'action'",
            "[ERROR] ValueError: bad row 17",
            "[ERROR] KeyError: 'action'",
            "[ERROR] KeyError: 'action'",
        ]);
        let batch = decode::parse(json.as_bytes()).unwrap();
        let summary = summarise(&batch);
        assert_eq!(summary.events, 6);
        assert_eq!(summary.errors, 5);
        assert_eq!(summary.issues.len(), 2);
        let key_error = &summary.issues[0];
        assert_eq!(key_error.count, 4);
        assert_eq!(key_error.first_seen, 1_700_000_000_000);
        assert_eq!(key_error.last_seen, 1_700_000_000_005);
        assert_eq!(key_error.samples.len(), SAMPLES_PER_BATCH);
        assert_eq!(key_error.samples[0].event_id, "1000");
    }

    #[test]
    fn the_same_events_give_the_same_batch_id_and_others_do_not() {
        let a = batch_json(&["[ERROR] x", "[ERROR] y"]);
        let b = batch_json(&["[ERROR] x"]);
        let id = |j: &str| summarise(&decode::parse(j.as_bytes()).unwrap()).batch_id;
        assert_eq!(id(&a), id(&a));
        assert_ne!(id(&a), id(&b));
    }

    #[test]
    fn secrets_in_log_lines_do_not_reach_titles_or_samples() {
        let json = batch_json(&[
            "[ERROR] AccessDenied: key AKIAIOSFODNN7EXAMPLE cannot read s3://b/k (password=hunter2)",
        ]);
        let batch = decode::parse(json.as_bytes()).unwrap();
        let summary = summarise(&batch);
        let text = serde_json::to_string(&summary).unwrap();
        assert!(!text.contains("AKIAIOSFODNN7EXAMPLE"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(summary.issues[0].title.contains("[redacted]"));
    }

    #[test]
    fn facets_come_from_the_stream_name_and_the_context_fields() {
        let line = r#"{"level":"error","msg":"boom","requestId":"r-1","execution_arn":"arn:aws:states:eu-west-1:1:execution:nightly:run-7","version":"12"}"#;
        let json = batch_json(&[line, line])
            .replace(r#""logStream":"s""#, r#""logStream":"2025/11/23/[12]abc""#);
        let summary = summarise(&decode::parse(json.as_bytes()).unwrap());
        let issue = &summary.issues[0];
        let facet = |name: &str| -> Vec<(String, u64)> {
            issue
                .facets
                .iter()
                .filter(|f| f.name == name)
                .map(|f| (f.value.clone(), f.count))
                .collect()
        };
        assert_eq!(
            facet("log_stream"),
            vec![("2025/11/23/[12]abc".to_string(), 2)]
        );
        assert_eq!(facet("function_version"), vec![("12".to_string(), 2)]);
        assert_eq!(facet("request_id"), vec![("r-1".to_string(), 2)]);
        assert_eq!(facet("state_machine"), vec![("nightly".to_string(), 2)]);
        assert_eq!(
            issue.versions,
            vec!["12".to_string()],
            "one version, seen twice"
        );
        assert_eq!(issue.hours.iter().map(|h| h.count).sum::<u64>(), 2);
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        let s = "ééééé";
        assert_eq!(truncate(s, 6), "é...");
        assert_eq!(truncate(s, 100), s);
    }
}
