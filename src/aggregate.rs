//! Folds a batch's occurrences into one change per issue.
//!
//! A batch of 10,000 events with 300 errors of 2 kinds becomes 2 issue
//! deltas, so the store is written once per issue per batch, not once per
//! log event: the cost of a batch grows with its distinct issues.

use crate::decode::LogBatch;
use crate::hashing::FastMap;
use crate::limits::{
    FACET_VALUES_PER_BATCH, MAX_FACET_VALUE_BYTES, MAX_FIELD_LEN, MAX_ISSUES_PER_BATCH,
    MAX_MESSAGE_BYTES, MAX_TITLE_BYTES, PREVIOUS_KEYS_PER_BATCH, SAMPLES_PER_BATCH,
    VERSIONS_PER_BATCH, cut_stack, truncate,
};
use crate::model::{
    BatchSummary, FacetCount, HourCount, IssueDelta, OTHER, OVERFLOW_FACET, OVERFLOW_KIND,
    Occurrence, Sample, hour_of, overflow_fingerprint,
};
use crate::runs::BatchRuns;

/// One error of a batch, ready to be counted: which event it came from, the
/// issue key it was given, and the (already scrubbed) occurrence.
#[derive(Debug, Clone)]
pub struct Keyed {
    /// Index of the event in the batch's `log_events`.
    pub event: usize,
    pub fingerprint: String,
    /// The key the previous algorithm gave the occurrence (see
    /// [`IssueDelta::previous`]).
    pub previous: String,
    pub occurrence: Occurrence,
}

/// Folds the keyed errors of a decoded batch into one delta per issue, and
/// counts each in the run its event belongs to (`runs`, from
/// [`crate::runs::identify`]).
///
/// `errors` must be in event order, each event at most once; the batch gives
/// the events' ids and timestamps and the stream the facets come from.
///
/// The first [`MAX_ISSUES_PER_BATCH`] fingerprints (in event order, so
/// every delivery of a batch keeps the same ones) get a delta each; the
/// errors of any later fingerprint count into the log group's overflow
/// issue, under their titles: memory, store writes and alerts stay bounded
/// by the cap however many distinct errors a payload holds.
pub fn fold(
    batch: &LogBatch<'_>,
    errors: impl IntoIterator<Item = Keyed>,
    mut runs: BatchRuns,
) -> BatchSummary {
    let stream = stream_facets(batch);
    let mut index: FastMap<String, usize> = FastMap::default();
    let mut issues: Vec<IssueDelta> = Vec::new();
    let mut count = 0;
    let overflow = overflow_fingerprint(&batch.log_group);
    for Keyed {
        event,
        fingerprint: fp,
        previous,
        occurrence,
    } in errors
    {
        let kept = issues.len() - usize::from(index.contains_key(&overflow));
        let over = !index.contains_key(&fp) && kept >= MAX_ISSUES_PER_BATCH;
        let (fp, over_title) = if over {
            (overflow.clone(), Some(title(&occurrence)))
        } else {
            (fp, None)
        };
        runs.count(event, &fp);
        let Some(event) = batch.log_events.get(event) else {
            continue;
        };
        count += 1;
        let slot = match index.get(&fp) {
            Some(&i) => &mut issues[i],
            None => {
                index.insert(fp.clone(), issues.len());
                let (kind, title) = match over_title {
                    Some(_) => (OVERFLOW_KIND.to_string(), overflow_title()),
                    None => (occurrence.kind.clone(), title(&occurrence)),
                };
                issues.push(IssueDelta {
                    fingerprint: fp,
                    kind,
                    title,
                    count: 0,
                    first_seen: event.timestamp,
                    last_seen: event.timestamp,
                    samples: Vec::new(),
                    hours: Vec::new(),
                    facets: Vec::new(),
                    versions: Vec::new(),
                    previous: Vec::new(),
                });
                let last = issues.len() - 1;
                &mut issues[last]
            }
        };
        slot.count += 1;
        if let Some(over_title) = &over_title {
            count_facet(&mut slot.facets, OVERFLOW_FACET, over_title);
        } else if previous != slot.fingerprint
            && slot.previous.len() < PREVIOUS_KEYS_PER_BATCH
            && !slot.previous.contains(&previous)
        {
            slot.previous.push(previous);
        }
        slot.first_seen = slot.first_seen.min(event.timestamp);
        slot.last_seen = slot.last_seen.max(event.timestamp);
        count_hour(&mut slot.hours, hour_of(event.timestamp));
        let fields = field_facets(&occurrence);
        let facets = stream.iter().map(|(n, v)| (*n, v.as_str()));
        for (name, value) in facets.chain(fields.iter().map(|(n, v)| (*n, *v))) {
            let is_version = name == "version" || name == "function_version";
            if is_version
                && slot.versions.len() < VERSIONS_PER_BATCH
                && !slot.versions.iter().any(|v| v == value)
            {
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
        errors: count,
        issues,
        runs: runs.into_deltas(),
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
/// across hand-made test inputs. An event without an id (a hand-made file)
/// is known by its message too: two different batches of id-less events
/// with the same timestamps are not a replay of each other.
///
/// The bytes are gathered first and hashed in one call: XXH3 gives the same
/// digest either way, and feeding the streaming hasher three or four small
/// pieces per event cost 2 % of `faultline ingest`'s instructions.
pub fn batch_id(batch: &LogBatch<'_>) -> String {
    let mut bytes: Vec<u8> = Vec::with_capacity(
        batch.owner.len()
            + batch.log_group.len()
            + batch.log_stream.len()
            + 3
            + batch
                .log_events
                .iter()
                .map(|e| {
                    e.id.len()
                        + 9
                        + if e.id.is_empty() {
                            8 + e.message.len()
                        } else {
                            0
                        }
                })
                .sum::<usize>(),
    );
    for part in [&batch.owner, &batch.log_group, &batch.log_stream] {
        bytes.extend_from_slice(part.as_bytes());
        bytes.push(0);
    }
    for event in &batch.log_events {
        bytes.extend_from_slice(event.id.as_bytes());
        bytes.extend_from_slice(&event.timestamp.to_le_bytes());
        if event.id.is_empty() {
            bytes.extend_from_slice(&(event.message.len() as u64).to_le_bytes());
            bytes.extend_from_slice(event.message.as_bytes());
        }
        bytes.push(0);
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}

/// The overflow issue's title: what it is, and where its errors' own
/// titles are.
fn overflow_title() -> String {
    format!(
        "errors past {MAX_ISSUES_PER_BATCH} distinct issues in one batch, counted here (titles in field {OVERFLOW_FACET})"
    )
}

/// A one-line title: `Kind: message`, first line only, bounded.
pub fn title(occurrence: &Occurrence) -> String {
    let first_line = occurrence.message.lines().next().unwrap_or("").trim();
    let text = match (occurrence.kind.is_empty(), first_line.is_empty()) {
        (true, _) => first_line.to_string(),
        (false, true) => occurrence.kind.clone(),
        (false, false) => format!("{}: {}", occurrence.kind, first_line),
    };
    truncate(&text, MAX_TITLE_BYTES)
}

/// What a sample's stack cut to [`MAX_MESSAGE_BYTES`] says was its bound.
const STACK_CUT_WHY: &str = "4 KB sample stack bound";
const _: () = assert!(MAX_MESSAGE_BYTES == 4096, "STACK_CUT_WHY names the bound");

fn sample(batch: &LogBatch<'_>, event_id: &str, timestamp: i64, occurrence: Occurrence) -> Sample {
    let mut fields: Vec<(String, String)> = occurrence
        .fields
        .iter()
        // Cut only now: the value was scrubbed at its extracted length.
        .map(|(k, v)| (k.clone(), truncate(v, MAX_FIELD_LEN)))
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
        // Frames are innermost last: a long stack keeps the frames nearest
        // where the error was thrown, whole, and says how many outer ones
        // (servlet filters, framework dispatch) it left out.
        fields.push((
            "stack".to_string(),
            cut_stack(&stack.join("\n"), MAX_MESSAGE_BYTES, STACK_CUT_WHY),
        ));
    }
    Sample {
        log_group: batch.log_group.to_string(),
        log_stream: batch.log_stream.to_string(),
        event_id: event_id.to_string(),
        timestamp,
        kind: occurrence.kind,
        // The occurrence was scrubbed whole, before this cut, so a cut
        // cannot leave a fragment of a secret the rules no longer recognise.
        message: truncate(&occurrence.message, MAX_MESSAGE_BYTES),
        shape: occurrence.shape.to_string(),
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;
    use crate::pipeline::summarise;

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
    fn errors_past_the_cap_of_distinct_issues_count_into_one_overflow_issue() {
        let over = 30;
        let mut messages: Vec<String> = (0..MAX_ISSUES_PER_BATCH + over)
            .map(|i| format!("[ERROR] Kind{i}Error: boom"))
            .collect();
        // A kept fingerprint again, and an overflowed one again.
        messages.push("[ERROR] Kind0Error: boom".into());
        messages.push(format!("[ERROR] Kind{MAX_ISSUES_PER_BATCH}Error: boom"));
        let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
        let json = batch_json(&refs);
        let summary = summarise(&decode::parse(json.as_bytes()).unwrap());
        assert_eq!(summary.errors, MAX_ISSUES_PER_BATCH + over + 2);
        assert_eq!(summary.issues.len(), MAX_ISSUES_PER_BATCH + 1);
        assert_eq!(summary.issues[0].count, 2, "a kept issue counts its own");
        let overflow = &summary.issues[MAX_ISSUES_PER_BATCH];
        assert!(overflow.is_overflow(), "{overflow:?}");
        assert_eq!(overflow.fingerprint, overflow_fingerprint("/g"));
        assert_eq!(overflow.count, over as u64 + 1);
        assert!(overflow.previous.is_empty());
        assert_eq!(
            overflow.samples[0].kind,
            format!("Kind{MAX_ISSUES_PER_BATCH}Error")
        );
        let titles: Vec<(&str, u64)> = overflow
            .facets
            .iter()
            .filter(|f| f.name == OVERFLOW_FACET)
            .map(|f| (f.value.as_str(), f.count))
            .collect();
        assert_eq!(titles.len(), FACET_VALUES_PER_BATCH + 1);
        assert_eq!(
            titles[0],
            (format!("Kind{MAX_ISSUES_PER_BATCH}Error: boom").as_str(), 2)
        );
        assert_eq!(
            titles[FACET_VALUES_PER_BATCH],
            (OTHER, (over - FACET_VALUES_PER_BATCH) as u64)
        );
    }

    #[test]
    fn the_same_events_give_the_same_batch_id_and_others_do_not() {
        let a = batch_json(&["[ERROR] x", "[ERROR] y"]);
        let b = batch_json(&["[ERROR] x"]);
        let id = |j: &str| summarise(&decode::parse(j.as_bytes()).unwrap()).batch_id;
        assert_eq!(id(&a), id(&a));
        assert_ne!(id(&a), id(&b));
        // Without ids, the same timestamps carry other messages.
        let idless = |m: &str| {
            format!(
                r#"{{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s","logEvents":[{{"timestamp":1700000000000,"message":"{m}"}}]}}"#
            )
        };
        assert_eq!(id(&idless("[ERROR] x")), id(&idless("[ERROR] x")));
        assert_ne!(id(&idless("[ERROR] x")), id(&idless("[ERROR] y")));
    }

    /// Stores know a batch by this id: a faultline that computed it
    /// differently would count every replayed batch a second time. These
    /// values were computed by the id as it was first written.
    #[test]
    fn batch_ids_do_not_change_between_versions() {
        let with_ids = batch_json(&["[ERROR] x", "INFO fine", "[ERROR] y"]);
        let idless = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s","logEvents":[{"timestamp":1700000000000,"message":"[ERROR] x"},{"timestamp":1700000000001,"message":"plain"}]}"#;
        let id = |j: &str| batch_id(&decode::parse(j.as_bytes()).unwrap());
        assert_eq!(id(&with_ids), "e187c5885974350c6c46d494695d3659");
        assert_eq!(id(idless), "285829c19ee81fa41f6103309d3d5654");
        // A batch of many events: the hash's path for long inputs.
        let lines: Vec<String> = (0..300).map(|i| format!("INFO line {i}")).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(id(&batch_json(&lines)), "50d22959872a8a57d0c03bba3eab70d9");
        let idless_events: Vec<String> = (0..100)
            .map(|i| format!(r#"{{"timestamp":{i},"message":"[ERROR] number {i}"}}"#))
            .collect();
        let long_idless = idless.replace(
            r#"{"timestamp":1700000000000,"message":"[ERROR] x"},{"timestamp":1700000000001,"message":"plain"}"#,
            &idless_events.join(","),
        );
        assert_eq!(id(&long_idless), "3d5982c7e8106de9d34d51f916ee446f");
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

    /// One v3 issue carries the v2 keys of its occurrences, so a store that
    /// knows only v2 issues finds the one to land it in; v2 split this
    /// throw site by message, v3 does not.
    #[test]
    fn a_delta_carries_the_previous_keys_of_its_occurrences() {
        let line = |m: &str| {
            format!(
                "[ERROR] ValueError: {m}\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 3, in handler\n    parse(x)"
            )
        };
        let json = batch_json(&[
            &line("bad row in customers-prod"),
            &line("bad row in customers-staging"),
            &line("bad row in customers-prod"),
        ]);
        let summary = summarise(&decode::parse(json.as_bytes()).unwrap());
        assert_eq!(summary.issues.len(), 1);
        let issue = &summary.issues[0];
        assert_eq!(issue.count, 3);
        assert_eq!(issue.previous.len(), 2, "{:?}", issue.previous);
        assert!(issue.previous.iter().all(|k| k.starts_with("v2:")));
    }
}
