//! Detection and grouping on error text nobody on this project wrote:
//! tests/corpus/real/cases.jsonl, real tracebacks and runtime failures pasted
//! into public issue threads, labelled by bug (see its README for the
//! labelling rule and the shapes).
//!
//! Each case is one batch of one log stream, run through the same pure
//! stages `faultline ingest` runs (`pipeline::summarise`: extract, scrub,
//! fingerprint, aggregate), so the keys scored are the keys a store would
//! get. Measures, as the corpus README defines them:
//!
//! - detection recall: error cases that produced at least one issue;
//! - detection precision: of everything reported, how much was a labelled
//!   error: a negative line taken for an error, or a second issue out of one
//!   error case (one failure reported twice), each counts as a false
//!   positive;
//! - grouping accuracy (Zhu et al., as for Loghub): a case is grouped
//!   correctly when the cases sharing its key (the first issue of the case)
//!   are exactly the cases sharing its bug label; an undetected case is
//!   wrong.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use faultline::decode::{LogBatch, LogEvent};
use faultline::model::BatchSummary;
use faultline::pipeline::summarise;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    case: String,
    bug: Option<String>,
    shape: String,
    log_group: String,
    events: Vec<String>,
    expect: String,
}

struct Scored {
    case: Case,
    summary: BatchSummary,
}

fn cases() -> Vec<Case> {
    let text = include_str!("corpus/real/cases.jsonl");
    let cases: Vec<Case> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus line"))
        .collect();
    assert!(cases.len() >= 150, "corpus too small: {}", cases.len());
    cases
}

/// A stream name of the form the case's log group would have.
fn stream_for(log_group: &str) -> &'static str {
    if log_group.starts_with("/aws/lambda/") {
        "2025/01/15/[$LATEST]0123456789abcdef0123456789abcdef"
    } else if log_group.starts_with("/aws/batch/") {
        "job-definition/default/0123456789abcdef0123456789abcdef"
    } else {
        "app/container/0123456789abcdef0123456789abcdef"
    }
}

fn score(case: Case) -> Scored {
    let events: Vec<LogEvent<'_>> = case
        .events
        .iter()
        .enumerate()
        .map(|(i, m)| LogEvent {
            id: Cow::Owned(format!("{}-{i}", case.case)),
            timestamp: 1_736_900_000_000 + i as i64,
            message: Cow::Borrowed(m.as_str()),
        })
        .collect();
    let batch = LogBatch {
        message_type: Cow::Borrowed("DATA_MESSAGE"),
        owner: Cow::Borrowed("123456789012"),
        log_group: Cow::Borrowed(case.log_group.as_str()),
        log_stream: Cow::Borrowed(stream_for(&case.log_group)),
        log_events: events,
    };
    let summary = summarise(&batch);
    drop(batch);
    Scored { case, summary }
}

fn short(s: &str) -> String {
    s.chars()
        .take(150)
        .collect::<String>()
        .replace(['\n', '\r'], "⏎")
}

fn scored() -> Vec<Scored> {
    cases().into_iter().map(score).collect()
}

#[test]
fn runtime_failures_are_detected_and_mentions_are_not() {
    let scored = scored();
    let errors: Vec<&Scored> = scored.iter().filter(|s| s.case.expect == "error").collect();
    let negatives: Vec<&Scored> = scored.iter().filter(|s| s.case.expect != "error").collect();
    let mut report = Vec::new();
    let detected = errors
        .iter()
        .filter(|s| !s.summary.issues.is_empty())
        .count();
    let mut extra = 0;
    for s in &errors {
        if s.summary.issues.is_empty() {
            report.push(format!(
                "missed {} ({}) [{}] {}",
                s.case.case,
                s.case.bug.as_deref().unwrap_or("?"),
                s.case.shape,
                short(&s.case.events.join("⏎"))
            ));
        }
        if s.summary.issues.len() > 1 {
            extra += s.summary.issues.len() - 1;
            report.push(format!(
                "{} issues from one error {} [{}]: {:?}",
                s.summary.issues.len(),
                s.case.case,
                s.case.shape,
                s.summary
                    .issues
                    .iter()
                    .map(|i| i.title.as_str())
                    .collect::<Vec<_>>()
            ));
        }
    }
    let mut flagged_negatives = 0;
    for s in &negatives {
        if s.summary.errors > 0 {
            flagged_negatives += s.summary.errors;
            report.push(format!(
                "negative taken for an error {}: {:?}",
                s.case.case,
                s.summary
                    .issues
                    .iter()
                    .map(|i| i.title.as_str())
                    .collect::<Vec<_>>()
            ));
        }
    }
    let recall = detected as f64 / errors.len() as f64;
    let precision = detected as f64 / (detected + extra + flagged_negatives) as f64;
    eprintln!(
        "real corpus: {} error cases, {} negative cases ({} lines)",
        errors.len(),
        negatives.len(),
        negatives.iter().map(|s| s.case.events.len()).sum::<usize>()
    );
    eprintln!(
        "detection recall {recall:.3} ({detected}/{}), precision {precision:.3} ({extra} extra issues, {flagged_negatives} negative lines flagged)",
        errors.len()
    );
    for line in &report {
        eprintln!("  {line}");
    }
    assert!(recall >= 0.98, "detection recall {recall:.3}");
    assert!(precision >= 0.98, "detection precision {precision:.3}");
}

/// Grouping accuracy of the error cases under `key` (one key per case).
fn accuracy_of(errors: &[&Scored], key: impl Fn(&Scored) -> Option<String>) -> f64 {
    let mut by_key: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut by_bug: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in errors {
        if let Some(k) = key(s) {
            by_key.entry(k).or_default().insert(&s.case.case);
        }
        if let Some(bug) = &s.case.bug {
            by_bug.entry(bug).or_default().insert(&s.case.case);
        }
    }
    let correct = errors
        .iter()
        .filter(|s| match (key(s), &s.case.bug) {
            (Some(k), Some(bug)) => by_key[&k] == by_bug[bug.as_str()],
            _ => false,
        })
        .count();
    correct as f64 / errors.len() as f64
}

#[test]
fn real_errors_group_one_issue_per_bug() {
    let scored = scored();
    let errors: Vec<&Scored> = scored.iter().filter(|s| s.case.expect == "error").collect();
    // What the previous algorithm makes of the same extraction, for the
    // record: the v2 key of each case's first issue.
    let v2 = accuracy_of(&errors, |s| {
        s.summary
            .issues
            .first()
            .and_then(|i| i.previous.first().cloned())
    });
    eprintln!("grouping accuracy with the v2 keys of the same occurrences: {v2:.3}");
    // One key per case, scoped by log group as a store scopes it: the key
    // of the case's first issue (a case holds one failure).
    let key = |s: &Scored| s.summary.issues.first().map(|i| i.fingerprint.clone());
    let mut by_key: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut by_bug: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in &errors {
        if let Some(k) = key(s) {
            by_key.entry(k).or_default().insert(&s.case.case);
        }
        if let Some(bug) = &s.case.bug {
            by_bug.entry(bug).or_default().insert(&s.case.case);
        }
    }
    let mut correct = 0;
    for s in &errors {
        let (Some(k), Some(bug)) = (key(s), &s.case.bug) else {
            continue;
        };
        if by_key[&k] == by_bug[bug.as_str()] {
            correct += 1;
        }
    }
    let mut report = Vec::new();
    for (bug, members) in &by_bug {
        let keys: BTreeSet<String> = errors
            .iter()
            .filter(|s| members.contains(s.case.case.as_str()))
            .map(|s| key(s).unwrap_or_else(|| "<none>".into()))
            .collect();
        if keys.len() > 1 {
            let titles: Vec<String> = errors
                .iter()
                .filter(|s| members.contains(s.case.case.as_str()))
                .map(|s| {
                    format!(
                        "{} -> {}",
                        s.case.case,
                        s.summary
                            .issues
                            .first()
                            .map_or("<none>", |i| i.title.as_str())
                    )
                })
                .collect();
            report.push(format!(
                "{bug} split into {} issues: {titles:?}",
                keys.len()
            ));
        }
    }
    for members in by_key.values() {
        let bugs: BTreeSet<&str> = errors
            .iter()
            .filter(|s| members.contains(s.case.case.as_str()))
            .filter_map(|s| s.case.bug.as_deref())
            .collect();
        if bugs.len() > 1 {
            report.push(format!("one issue merges {bugs:?}: {members:?}"));
        }
    }
    let accuracy = correct as f64 / errors.len() as f64;
    let multi: Vec<&&str> = by_bug
        .iter()
        .filter(|(_, m)| m.len() > 1)
        .map(|(b, _)| b)
        .collect();
    let multi_whole = multi
        .iter()
        .filter(|b| {
            let members = &by_bug[***b];
            let keys: BTreeSet<Option<String>> = errors
                .iter()
                .filter(|s| members.contains(s.case.case.as_str()))
                .map(|s| key(s))
                .collect();
            keys.len() == 1 && keys.iter().all(Option::is_some)
        })
        .count();
    eprintln!(
        "grouping accuracy {accuracy:.3} ({correct}/{}), {} bugs, {} keys; bugs with 2+ occurrences in one issue: {multi_whole}/{}",
        errors.len(),
        by_bug.len(),
        by_key.len(),
        multi.len()
    );
    for line in &report {
        eprintln!("  {line}");
    }
    assert!(accuracy >= 0.95, "grouping accuracy {accuracy:.3}");
}
