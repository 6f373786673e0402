//! Unit tests of the DynamoDB store's pure parts: bounds, planning, tokens.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use super::admin::validate_table_name;
use super::bounds::*;
use super::items::*;
use super::parts::{Day, MAX_DAY_FACET_BYTES};
use super::plan::*;
use super::retry::*;
use crate::limits::MAX_TITLE_BYTES;
use crate::limits::{HOURS_RETENTION_MS, MAX_FACET_VALUES, MAX_MERGED_FROM_KEPT, MAX_SAMPLES};
use crate::model::{
    BatchSummary, EventType, FacetCount, HourCount, IssueDelta, OTHER, Sample, issue_id,
};
use crate::policy::{self, Policy};

/// A batch whose runs had none of its issues before.
static NONE_UNSAMPLED: BTreeSet<String> = BTreeSet::new();

fn sample(message: &str, fields: usize) -> Sample {
    Sample {
        log_group: "/g".into(),
        log_stream: "s".into(),
        event_id: "1".into(),
        timestamp: 1,
        kind: "E".into(),
        message: message.into(),
        shape: "text".into(),
        fields: (0..fields)
            .map(|i| (format!("f{i}"), "v".repeat(3000)))
            .collect(),
    }
}

#[test]
fn stored_samples_are_bounded_whatever_their_input() {
    let huge = bounded_sample(sample(&"x".repeat(4096), 40));
    let size = serde_json::to_string(&huge).unwrap().len();
    assert!(size <= MAX_STORED_SAMPLE_BYTES, "{size}");
    assert!(huge.message.starts_with("xxx"));
    let small = sample("short", 1);
    let mut small_fields = small.clone();
    small_fields.fields[0].1 = "v".into();
    assert_eq!(bounded_sample(small_fields.clone()), small_fields);
}

#[test]
fn table_names_follow_dynamodb_rules() {
    assert!(validate_table_name("faultline-issues_1.x").is_ok());
    assert!(validate_table_name("ab").is_err());
    assert!(validate_table_name("a/b/c").is_err());
    assert!(validate_table_name(&"a".repeat(256)).is_err());
}

#[test]
fn backoff_grows_and_stays_bounded() {
    assert!(backoff(1) <= Duration::from_millis(40));
    assert!(backoff(30) <= Duration::from_millis(1000));
    assert!(backoff(30) >= Duration::from_millis(500));
}

#[test]
fn request_tokens_fit_dynamodb_and_differ_per_attempt() {
    let a = request_token("b", 0, 0);
    assert_eq!(a.len(), 32);
    assert_ne!(a, request_token("b", 0, 0));
}

/// DynamoDB's item size rule, rounded up: attribute names plus values;
/// numbers counted as their decimal length (DynamoDB needs less).
fn item_size(item: &Item) -> usize {
    fn value_size(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(text) | AttributeValue::N(text) => text.len(),
            AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
            AttributeValue::M(map) => {
                3 + map
                    .iter()
                    .map(|(k, v)| k.len() + 1 + value_size(v))
                    .sum::<usize>()
            }
            _ => 1,
        }
    }
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn summary(issues: Vec<IssueDelta>) -> BatchSummary {
    BatchSummary {
        batch_id: "b".into(),
        owner: "1".into(),
        log_group: "/g".into(),
        log_stream: "s".into(),
        events: issues.len(),
        errors: issues.len(),
        issues,
        runs: Vec::new(),
    }
}

fn delta(fingerprint: &str, count: u64) -> IssueDelta {
    IssueDelta {
        fingerprint: fingerprint.into(),
        kind: "E".into(),
        title: format!("E: {fingerprint}"),
        count,
        first_seen: 1_000,
        last_seen: 2_000,
        samples: vec![sample("m", 1)],
        hours: vec![HourCount { hour: 0, count }],
        facets: Vec::new(),
        versions: Vec::new(),
        previous: Vec::new(),
    }
}

#[test]
fn worst_case_items_fit_their_bounds() {
    // The largest head the store can write: every bound at its limit.
    let nasty = |len: usize| "\u{1}".repeat(len);
    let mut head = StoredIssue::new(
        &BatchSummary {
            log_group: "g".repeat(512),
            ..summary(Vec::new())
        },
        &IssueDelta {
            fingerprint: "f".repeat(32),
            kind: "K".repeat(10_000),
            title: "T".repeat(MAX_TITLE_BYTES),
            ..delta("x", 1)
        },
        i64::MAX,
    );
    head.issue.count = u64::MAX;
    head.issue.resolved_in = Some("v".repeat(MAX_VERSION_BYTES));
    head.issue.regressed_at = Some(i64::MIN);
    head.issue.ignored_until = Some(i64::MIN);
    head.issue.ignored_until_count = Some(u64::MAX);
    head.issue.merged_into = Some("i".repeat(12));
    head.last_alert_at = Some(i64::MIN);
    head.threshold_alerted_at = Some(i64::MIN);
    head.ver = u64::MAX;
    head.slots = vec![Some(i64::MIN); MAX_SAMPLES];
    head.merged_from = (0..MAX_MERGED_FROM_KEPT)
        .map(|i| format!("{i:012}"))
        .collect();
    let size = item_size(&head.to_item());
    eprintln!("worst-case issue head: {size} bytes");
    assert!(size <= MAX_HEAD_BYTES, "{size}");

    // The largest day: every hour counted, facets to the day's budget in
    // characters that JSON escapes six-fold.
    let mut day = Day::new(0);
    for h in 0..24 {
        day.add_hour(&HourCount {
            hour: h * 3_600_000,
            count: u64::MAX,
        });
    }
    let mut book = day.facet_book();
    for name in 0..100 {
        for value in 0..200 {
            let facet = FacetCount {
                name: format!("{name}{}", nasty(200)),
                value: format!("{value}{}", nasty(250)),
                count: u64::MAX,
            };
            if let Some(counted) = book.admit(&facet) {
                day.add_facet(&counted);
            }
        }
    }
    assert!(book.bytes() <= MAX_DAY_FACET_BYTES, "{}", book.bytes());
    let size = item_size(&day.to_item(&"i".repeat(12)));
    eprintln!("worst-case day: {size} bytes");
    assert!(size <= MAX_DAY_BYTES, "{size}");

    // The largest sample item.
    let mut huge = sample(&nasty(4096), 40);
    huge.kind = nasty(4096);
    let json = stored_sample_json(&huge).unwrap();
    let size = item_size(&super::parts::sample_item(
        &"i".repeat(12),
        9,
        i64::MIN,
        &json,
    ));
    eprintln!("worst-case sample item: {size} bytes");
    assert!(size <= MAX_STORED_SAMPLE_BYTES + 100, "{size}");
    let back = super::parts::sample_json(&super::parts::sample_item("i", 0, 0, &json)).unwrap();
    assert_eq!(back, json, "a sample reads back as it was stored");

    // A transaction: the chunking keeps every chunk of the worst batch
    // (each issue writing a month of days) within DynamoDB's 100 actions
    // and 4 MB, with an alert per issue and the batch's new-issue alerts.
    let month: Vec<HourCount> = (0..=HOURS_RETENTION_MS / 3_600_000)
        .map(|h| HourCount {
            hour: h * 3_600_000,
            count: 1,
        })
        .collect();
    let worst = summary(
        (0..200)
            .map(|i| IssueDelta {
                hours: if i % 3 == 0 {
                    month.clone()
                } else {
                    Vec::new()
                },
                last_seen: HOURS_RETENTION_MS,
                ..delta(&format!("fp-{i}"), 1)
            })
            .collect(),
    );
    let big = summary(vec![IssueDelta {
        title: nasty(MAX_TITLE_BYTES),
        kind: nasty(256),
        samples: vec![sample(&nasty(4096), 40)],
        ..delta(&"f".repeat(32), 1)
    }]);
    let mut one = policy::alerts_for_batch(&big, &[(EventType::Regression, &big.issues[0])], 0, 0);
    bound_alert(&mut one[0]);
    let alert_size = item_size(&outbox_item(&one[0], i64::MAX).unwrap());
    eprintln!("largest single-issue alert: {alert_size} bytes");
    let ranges = chunk_ranges(&worst);
    assert_eq!(
        ranges.iter().map(|r| r.len()).sum::<usize>(),
        worst.issues.len()
    );
    for range in ranges {
        let issues = &worst.issues[range];
        let days: usize = issues
            .iter()
            .map(|d| super::parts::days_written(d).len())
            .sum();
        // Marker, heads, days, an alias and an alert per issue, a digest.
        let actions = 1 + issues.len() * 3 + days + 1;
        assert!(actions <= 100, "{actions} actions");
        let bytes =
            issues.len() * (MAX_HEAD_BYTES + alert_size) + days * MAX_DAY_BYTES + MAX_ALERT_BYTES;
        assert!(bytes < 4_000_000, "{bytes} bytes");
    }
}

#[test]
fn a_transaction_holds_19_issues_seen_on_one_day() {
    let batch = summary((0..30).map(|i| delta(&format!("fp-{i}"), 1)).collect());
    let ranges = chunk_ranges(&batch);
    assert_eq!(ranges, vec![0..19, 19..30]);
}

#[test]
fn a_digest_of_many_new_issues_stays_bounded() {
    let deltas: Vec<IssueDelta> = (0..3000)
        .map(|i| IssueDelta {
            samples: vec![sample(&"x".repeat(4096), 40)],
            title: "T".repeat(MAX_TITLE_BYTES),
            ..delta(&format!("{i:032x}"), 1)
        })
        .collect();
    let batch = summary(deltas);
    let raised: Vec<(EventType, &IssueDelta)> = batch
        .issues
        .iter()
        .map(|d| (EventType::NewIssue, d))
        .collect();
    let mut alerts = policy::alerts_for_batch(&batch, &raised, 3, 0);
    assert_eq!(alerts.len(), 1);
    bound_alert(&mut alerts[0]);
    let size = json(&alerts[0]).len();
    assert!(size <= MAX_ALERT_BYTES, "{size}");
    assert_eq!(alerts[0].issues.len(), 3000, "every issue is still named");
    assert_eq!(alerts[0].issues[0].title.len(), MAX_TITLE_BYTES);
    assert!(alerts[0].issues.iter().all(|i| i.sample.is_none()));

    let mut fewer = policy::alerts_for_batch(&batch, &raised[..100], 3, 0);
    bound_alert(&mut fewer[0]);
    assert!(fewer[0].issues[DETAILED_ALERT_ISSUES - 1].sample.is_some());
    assert!(fewer[0].issues[DETAILED_ALERT_ISSUES].sample.is_none());
    assert_eq!(fewer[0].issues[99].title.len(), MAX_TITLE_BYTES);
}

#[test]
fn facets_fold_into_other_past_the_value_cap_and_sort_like_sqlite() {
    let mut day = Day::new(0);
    let add = |day: &mut Day, value: &str, count| {
        let facet = FacetCount {
            name: "request_id".into(),
            value: value.into(),
            count,
        };
        if let Some(counted) = day.facet_book().admit(&facet) {
            day.add_facet(&counted);
        }
    };
    for i in 0..MAX_FACET_VALUES + 3 {
        add(&mut day, &format!("r-{i:02}"), 1);
    }
    add(&mut day, "r-07", 4);
    add(&mut day, "r-03", 4);
    let shown = facets_of(&day.facets);
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].distinct as usize, MAX_FACET_VALUES);
    assert!(shown[0].capped);
    assert_eq!(
        shown[0].top,
        vec![
            ("r-03".to_string(), 5),
            ("r-07".to_string(), 5),
            (OTHER.to_string(), 3),
            ("r-00".to_string(), 1),
            ("r-01".to_string(), 1),
        ]
    );
}

#[test]
fn new_issue_alerts_of_a_multi_chunk_batch_wait_for_its_last_chunk() {
    let batch = summary((0..30).map(|i| delta(&format!("fp-{i}"), 1)).collect());
    let policy = Policy::default();
    let read = PackRead {
        current: &HashMap::new(),
        days: &Days::new(),
        aliases: 0,
    };
    let part = |deltas, is_last, earlier_new| Part {
        batch: &batch,
        deltas,
        is_last,
        earlier_new,
        unsampled: &NONE_UNSAMPLED,
    };
    let first = plan_pack(
        &[part(&batch.issues[..ISSUES_PER_WRITE], false, &[])],
        &read,
        7,
        &policy,
    )
    .unwrap()
    .parts
    .remove(0);
    assert!(first.alerts.is_empty());
    assert_eq!(first.new_issues.len(), ISSUES_PER_WRITE);
    assert_eq!(first.marker_new.len(), ISSUES_PER_WRITE);
    let last = plan_pack(
        &[part(
            &batch.issues[ISSUES_PER_WRITE..],
            true,
            &first.marker_new,
        )],
        &read,
        7,
        &policy,
    )
    .unwrap()
    .parts
    .remove(0);
    assert!(last.marker_new.is_empty());
    assert_eq!(last.alerts.len(), 1, "one digest for the whole batch");
    let digest = &last.alerts[0];
    assert_eq!(digest.id, "b:new_issue:digest");
    let ids: Vec<String> = batch
        .issues
        .iter()
        .map(|d| issue_id(&d.fingerprint))
        .collect();
    assert_eq!(digest.issue_ids(), ids.join(","), "in batch order");
}

#[test]
fn a_write_is_conditioned_on_the_version_it_was_decided_from() {
    let batch = summary(vec![delta("fp", 2), delta("fp", 3)]);
    let id = issue_id("fp");
    let mut days = Days::new();
    let (existing, _, _) = apply_delta(
        None,
        &id,
        &mut days,
        &mut Default::default(),
        &batch,
        &batch.issues[0],
        false,
        1,
        &Policy::default(),
    )
    .unwrap();
    let current = HashMap::from([(
        existing.issue.id.clone(),
        StoredIssue {
            ver: 41,
            ..existing
        },
    )]);
    let plan = plan_pack(
        &[Part {
            batch: &batch,
            deltas: &batch.issues,
            is_last: true,
            earlier_new: &[],
            unsampled: &NONE_UNSAMPLED,
        }],
        &PackRead {
            current: &current,
            days: &Days::new(),
            aliases: 0,
        },
        2,
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(plan.writes.len(), 1, "one write per issue");
    assert_eq!(plan.writes[0].read_ver, Some(41));
    assert_eq!(plan.writes[0].item.ver, 42);
    assert_eq!(plan.writes[0].item.issue.count, 7);
    assert_eq!(plan.days.len(), 1, "one day written");
    assert_eq!(
        plan.days[0].1.hour_counts().collect::<Vec<_>>(),
        vec![HourCount { hour: 0, count: 5 }],
        "the day as read (none) plus both deltas"
    );
    assert!(plan.parts[0].alerts.is_empty() && plan.parts[0].new_issues.is_empty());
    let back = StoredIssue::from_item(&plan.writes[0].item.to_item()).unwrap();
    assert_eq!(back, plan.writes[0].item);
}

/// DynamoDB deletes a marker once `expires_at` passes: it must outlive a
/// payload's stay in the failed-events queue and Lambda's retries before it.
#[test]
fn a_batch_marker_outlives_the_failed_events_queue() {
    let batch = BatchSummary {
        batch_id: "b".into(),
        owner: "1".into(),
        log_group: "/g".into(),
        log_stream: "s".into(),
        events: 1,
        errors: 0,
        issues: Vec::new(),
        runs: Vec::new(),
    };
    let now = 1_763_900_000_000;
    let item = marker_item(&batch, 0, &[], now);
    let Some(AttributeValue::N(expires)) = item.get("expires_at") else {
        panic!("no expires_at: {item:?}");
    };
    let expires_ms = expires.parse::<i64>().unwrap() * 1000;
    let retries = 6 * 3_600_000;
    assert!(
        expires_ms >= now + crate::limits::FAILED_EVENTS_RETENTION_MS + retries,
        "expires {} days after it was written",
        (expires_ms - now) / 86_400_000
    );
}

/// A hot issue logged from many Lambda containers counts each one's stream
/// in its day: stored as plain JSON, the 26 such names its budget keeps
/// made the day that every batch rewrites about 2 KB, 4 write units in a
/// transaction; deflated, it stays under the kilobyte of 2 units.
#[test]
fn a_day_of_many_stream_names_is_stored_deflated_under_a_kilobyte() {
    let mut day = Day::new(1_763_856_000_000);
    for h in 0..24 {
        day.add_hour(&HourCount {
            hour: 1_763_856_000_000 + h * 3_600_000,
            count: 1_000_000 + h as u64,
        });
    }
    let mut book = day.facet_book();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for container in 0..200u64 {
        // 32 random hex digits, as Lambda names a container's stream.
        let mut hex = String::new();
        for _ in 0..2 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            hex.push_str(&format!("{state:016x}"));
        }
        let facet = FacetCount {
            name: "log_stream".into(),
            value: format!("2025/11/23/[$LATEST]{hex}"),
            count: 1_000 + container,
        };
        if let Some(counted) = book.admit(&facet) {
            day.add_facet(&counted);
        }
    }
    let kept = day.facets["log_stream"].len();
    assert!(kept >= 20, "the budget keeps {kept} names");
    let item = day.to_item(&"i".repeat(12));
    assert!(!item.contains_key("facets") && item.contains_key("fz"));
    let size = item_size(&item);
    assert!(
        size <= 1024,
        "{kept} stream names in a day item of {size} bytes"
    );
    assert_eq!(Day::from_item(&item).unwrap(), day);
}

#[test]
fn a_day_item_reads_back_as_written_and_is_keyed_by_its_date() {
    let mut day = Day::new(1_763_856_000_000); // 2025-11-23T00:00Z
    day.add_hour(&HourCount {
        hour: 1_763_856_000_000 + 7 * 3_600_000,
        count: 3,
    });
    day.add_facet(&FacetCount {
        name: "env".into(),
        value: "prod".into(),
        count: 3,
    });
    let item = day.to_item("abc");
    assert_eq!(get_s(&item, "sk").unwrap(), "DAY#2025-11-23");
    assert!(item.contains_key("h07"));
    assert!(item.contains_key("facets"), "a short facet stays plain");
    assert_eq!(Day::from_item(&item).unwrap(), day);
    // It expires a month after the day ends, not after it is written.
    let expires: i64 = get_n(&item, "expires_at").unwrap();
    assert_eq!(
        expires * 1000,
        day.day + 24 * 3_600_000 + super::parts::DAY_RETENTION_MS
    );
}

#[test]
fn a_delta_reads_the_days_of_its_threshold_window() {
    let mut d = delta("fp", 1);
    d.hours = vec![HourCount {
        hour: 3 * 86_400_000 + 3_600_000,
        count: 1,
    }];
    d.last_seen = 3 * 86_400_000 + 3_600_000;
    let plain = super::parts::days_read(&d, &Policy::default());
    assert_eq!(plain.into_iter().collect::<Vec<_>>(), vec![3 * 86_400_000]);
    let policy: Policy = toml::from_str("[threshold]\ncount = 10\nwindow_hours = 48").unwrap();
    let windowed = super::parts::days_read(&d, &policy);
    assert_eq!(
        windowed.into_iter().collect::<Vec<_>>(),
        vec![86_400_000, 2 * 86_400_000, 3 * 86_400_000]
    );
}

#[test]
fn samples_placed_from_elsewhere_keep_the_newest_ten() {
    use super::parts::place_samples;
    let mut slots: Vec<Option<i64>> = (0..8).map(|i| Some(100 + i)).collect();
    // Two free slots, then the oldest kept, each only by a newer sample.
    let mut incoming: Vec<(i64, String)> = [50, 200, 300, 400, 90]
        .iter()
        .map(|t| (*t, format!("s{t}")))
        .collect();
    let writes = place_samples(&mut slots, &mut incoming);
    let mut kept: Vec<i64> = slots.iter().flatten().copied().collect();
    kept.sort();
    assert_eq!(
        kept,
        vec![101, 102, 103, 104, 105, 106, 107, 200, 300, 400],
        "the newest ten of both"
    );
    let mut written: Vec<(usize, i64)> = writes.iter().map(|(s, t, _)| (*s, *t)).collect();
    written.sort();
    assert_eq!(
        written,
        vec![(0, 400), (8, 200), (9, 300)],
        "one write per slot, the sample it ends with"
    );
}

/// A stream invocation's small batches share a transaction: the issue they
/// all hit is written once, with the sum of their counts, and announced by
/// the batch that created it only.
#[test]
fn batches_sharing_a_transaction_write_each_issue_once_and_announce_it_once() {
    let first = BatchSummary {
        batch_id: "b1".into(),
        ..summary(vec![delta("fp-hot", 2), delta("fp-once", 1)])
    };
    let mut later = delta("fp-hot", 3);
    later.samples[0].timestamp = 1_900;
    let second = BatchSummary {
        batch_id: "b2".into(),
        ..summary(vec![later])
    };
    fn whole(batch: &BatchSummary) -> Part<'_> {
        Part {
            batch,
            deltas: &batch.issues,
            is_last: true,
            earlier_new: &[],
            unsampled: &NONE_UNSAMPLED,
        }
    }
    let plan = plan_pack(
        &[whole(&first), whole(&second)],
        &PackRead {
            current: &HashMap::new(),
            days: &Days::new(),
            aliases: 0,
        },
        2,
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(plan.writes.len(), 2, "one write per issue, not per batch");
    let hot = plan
        .writes
        .iter()
        .find(|w| w.item.issue.id == issue_id("fp-hot"))
        .unwrap();
    assert_eq!(hot.item.issue.count, 5);
    assert_eq!(plan.days.len(), 2, "one day per issue");
    assert_eq!(
        plan.parts[0].new_issues,
        vec![issue_id("fp-hot"), issue_id("fp-once")]
    );
    assert!(plan.parts[1].new_issues.is_empty());
    assert_eq!(plan.parts[0].alerts.len(), 2);
    assert!(plan.parts[1].alerts.is_empty(), "not announced twice");
    let mut slots = std::collections::HashSet::new();
    for sample in &plan.samples {
        assert!(
            slots.insert((sample.id.clone(), sample.slot)),
            "a transaction may write one item once"
        );
        let head = plan
            .writes
            .iter()
            .find(|w| w.item.issue.id == sample.id)
            .unwrap();
        assert_eq!(head.item.slots[sample.slot], Some(sample.timestamp));
    }
    assert_eq!(
        plan.actions(0),
        2 + 2 + 2 + plan.samples.len() + 2,
        "markers, heads, days, samples, alerts"
    );
}
