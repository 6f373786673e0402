//! Extraction and grouping measured on real stack traces.
//!
//! tests/corpus/events.jsonl is built by scripts/make-corpus.sh from real
//! runs of buggy Python, Node.js and Java programs (two versions each, with
//! different line numbers and different values in the messages), wrapped in
//! the log shapes faultline reads and surrounded by lines that are not
//! errors. Each event says which bug it shows, if any.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use faultline::decode::LogEvent;
use faultline::extract::extract_events;
use faultline::fingerprint::fingerprint;
use faultline::model::Occurrence;
use serde::Deserialize;

const LOG_GROUP: &str = "/aws/corpus";

#[derive(Deserialize)]
struct Labelled {
    stream: String,
    message: String,
    bug: Option<String>,
    continuation: bool,
}

struct Judged {
    label: Labelled,
    found: Option<Occurrence>,
}

fn judged() -> Vec<Judged> {
    let text = include_str!("corpus/events.jsonl");
    let labelled: Vec<Labelled> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("corpus line"))
        .collect();
    assert!(
        labelled.len() > 1000,
        "corpus too small: {}",
        labelled.len()
    );
    // One batch per stream, in order, as a subscription delivers them.
    let mut out = Vec::with_capacity(labelled.len());
    let mut rest = labelled.into_iter().peekable();
    while let Some(first) = rest.next() {
        let mut batch = vec![first];
        while rest.peek().is_some_and(|l| l.stream == batch[0].stream) {
            batch.extend(rest.next());
        }
        let events: Vec<LogEvent<'_>> = batch
            .iter()
            .enumerate()
            .map(|(i, l)| LogEvent {
                id: Cow::Owned(i.to_string()),
                timestamp: i as i64,
                message: Cow::Borrowed(l.message.as_str()),
            })
            .collect();
        let found = extract_events(&events);
        assert_eq!(found.len(), events.len(), "one slot per event");
        drop(events);
        out.extend(
            batch
                .into_iter()
                .zip(found)
                .map(|(label, found)| Judged { label, found }),
        );
    }
    out
}

fn short(s: &str) -> String {
    s.chars()
        .take(160)
        .collect::<String>()
        .replace(['\n', '\r'], "⏎")
}

#[test]
fn error_detection_precision_and_recall() {
    let all = judged();
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for j in &all {
        match (&j.label.bug, &j.found) {
            (Some(_), Some(_)) => tp += 1,
            (None, Some(o)) => {
                fp += 1;
                let what = if j.label.continuation {
                    "continuation not folded"
                } else {
                    "false positive"
                };
                misses.push(format!(
                    "{what} [{}] {} -> {}:{}",
                    j.label.stream,
                    short(&j.label.message),
                    o.kind,
                    short(&o.message)
                ));
            }
            (Some(bug), None) => {
                fn_ += 1;
                misses.push(format!(
                    "missed {bug} [{}] {}",
                    j.label.stream,
                    short(&j.label.message)
                ));
            }
            (None, None) => {}
        }
    }
    let precision = tp as f64 / (tp + fp) as f64;
    let recall = tp as f64 / (tp + fn_) as f64;
    eprintln!(
        "corpus: {} events, {tp} true positives, {fp} false positives, {fn_} missed",
        all.len()
    );
    eprintln!("precision {precision:.4} recall {recall:.4}");
    for m in misses.iter().take(40) {
        eprintln!("  {m}");
    }
    assert!(precision >= 0.98, "precision {precision:.4}");
    assert!(recall >= 0.98, "recall {recall:.4}");
}

/// Grouping accuracy as Zhu et al. define it for log parsing: an error
/// event is grouped correctly when the events sharing its fingerprint are
/// exactly the events sharing its bug.
#[test]
fn grouping_accuracy() {
    let all = judged();
    let prints: Vec<Option<String>> = all
        .iter()
        .map(|j| j.found.as_ref().map(|o| fingerprint(LOG_GROUP, o)))
        .collect();
    let mut by_print: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, p) in prints.iter().enumerate() {
        if let Some(p) = p {
            by_print.entry(p).or_default().insert(i);
        }
    }
    let mut by_bug: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, j) in all.iter().enumerate() {
        if let Some(b) = &j.label.bug {
            by_bug.entry(b).or_default().insert(i);
        }
    }
    let mut correct = 0;
    let mut total = 0;
    for (i, j) in all.iter().enumerate() {
        let Some(bug) = &j.label.bug else { continue };
        total += 1;
        if let Some(p) = &prints[i]
            && by_print[p.as_str()] == by_bug[bug.as_str()]
        {
            correct += 1;
        }
    }
    let accuracy = correct as f64 / total as f64;
    eprintln!(
        "grouping accuracy {accuracy:.4} ({correct}/{total}), {} bugs, {} fingerprints",
        by_bug.len(),
        by_print.len()
    );
    for (bug, events) in &by_bug {
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in events {
            groups
                .entry(prints[i].as_deref().unwrap_or("<not detected>"))
                .or_default()
                .push(i);
        }
        if groups.len() > 1 {
            eprintln!("  {bug} split into {} groups:", groups.len());
            for (p, members) in &groups {
                let o = all[members[0]].found.as_ref();
                eprintln!(
                    "    {p} x{} [{}] kind={:?} message={:?} in-app frames={:?}",
                    members.len(),
                    all[members[0]].label.stream,
                    o.map(|o| o.kind.as_str()),
                    o.map(|o| short(&o.message)),
                    o.map(|o| o
                        .frames
                        .iter()
                        .filter(|f| f.in_app)
                        .map(|f| format!("{} {}", f.file, f.function))
                        .collect::<Vec<_>>())
                );
            }
        }
    }
    for (p, members) in &by_print {
        let bugs: BTreeSet<&str> = members
            .iter()
            .map(|&i| all[i].label.bug.as_deref().unwrap_or("<no bug>"))
            .collect();
        if bugs.len() > 1 {
            eprintln!("  {p} merges {bugs:?}");
        }
    }
    assert!(accuracy >= 0.95, "grouping accuracy {accuracy:.4}");
}

/// Messages cut anywhere (as CloudWatch truncates them at 256 KB, or a
/// writer crashing mid-line) must never make extraction panic; the Lambda
/// Python samples carry NO-BREAK SPACEs, so the cuts also fall next to
/// multi-byte characters.
#[test]
fn any_truncation_of_an_error_message_is_safe() {
    let text = include_str!("corpus/events.jsonl");
    let mut cuts = 0;
    for line in text.lines().step_by(3) {
        let l: Labelled = serde_json::from_str(line).expect("corpus line");
        if l.bug.is_none() {
            continue;
        }
        for (i, _) in l.message.char_indices().step_by(7) {
            let _ = faultline::extract::extract(&l.message[..i]);
            let _ = faultline::extract::extract(&l.message[i..]);
            cuts += 1;
        }
    }
    assert!(cuts > 10_000, "only {cuts} cuts");
}
