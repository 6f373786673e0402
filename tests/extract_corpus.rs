//! Extraction and grouping measured on real stack traces.
//!
//! tests/corpus/events.jsonl is built by scripts/make-corpus.sh from real
//! runs of buggy Python, Node.js and Java programs (two versions each, with
//! different line numbers and different values in the messages, names that
//! differ per environment, parser messages that depend on the input, and
//! both the logged and the uncaught form of some exceptions), wrapped in the
//! log shapes faultline reads and surrounded by lines that are not errors.
//! Each event says which bug it shows, if any, and which delivery of its
//! stream it came in: the awslogs streams arrive in several batches cut at
//! random places, inside traces too, and are read as a subscription reads
//! them, each batch carrying what the previous one left unfinished.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use faultline::decode::LogEvent;
use faultline::extract::extract_stream;
use faultline::fingerprint::fingerprint;
use faultline::model::Occurrence;
use serde::Deserialize;

const LOG_GROUP: &str = "/aws/corpus";

#[derive(Deserialize)]
struct Labelled {
    stream: String,
    #[serde(default)]
    batch: u32,
    message: String,
    bug: Option<String>,
    continuation: bool,
}

struct Judged {
    label: Labelled,
    found: Option<Occurrence>,
}

fn judged() -> Vec<Judged> {
    judged_with(true)
}

/// Every event with what extraction found in it. Each stream's batches are
/// read in order; with `stitch`, a batch is given what the previous one left
/// unfinished (as the CLI and a store carry it), without, every batch is
/// judged alone.
fn judged_with(stitch: bool) -> Vec<Judged> {
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
    let mut found: Vec<Option<Occurrence>> = (0..labelled.len()).map(|_| None).collect();
    let mut start = 0;
    while start < labelled.len() {
        let stream = &labelled[start].stream;
        let end = start
            + labelled[start..]
                .iter()
                .position(|l| &l.stream != stream)
                .unwrap_or(labelled.len() - start);
        let mut carried: Vec<usize> = Vec::new();
        let mut b = start;
        while b < end {
            let batch = labelled[b].batch;
            let e = b + labelled[b..end]
                .iter()
                .position(|l| l.batch != batch)
                .unwrap_or(end - b);
            let events: Vec<LogEvent<'_>> = (b..e)
                .map(|i| LogEvent {
                    id: Cow::Owned(i.to_string()),
                    timestamp: i as i64,
                    message: Cow::Borrowed(labelled[i].message.as_str()),
                })
                .collect();
            let carried_messages: Vec<&str> = carried
                .iter()
                .map(|&i| labelled[i].message.as_str())
                .collect();
            let at_end = e == end || !stitch;
            let got = extract_stream(&carried_messages, &events, at_end);
            assert!(
                got.found.iter().all(|(i, _)| *i < events.len()),
                "each error is one of the batch's events"
            );
            for (i, o) in got.carried {
                found[carried[i]] = Some(o);
            }
            for (i, o) in got.found {
                found[b + i] = Some(o);
            }
            let keep = carried.len() - got.pending_carried;
            carried.drain(..keep);
            carried.extend(e - got.pending_events..e);
            b = e;
        }
        assert!(
            carried.is_empty(),
            "a stream's last batch judges everything"
        );
        start = end;
    }
    labelled
        .into_iter()
        .zip(found)
        .map(|(label, found)| Judged { label, found })
        .collect()
}

fn short(s: &str) -> String {
    s.chars()
        .take(160)
        .collect::<String>()
        .replace(['\n', '\r'], "⏎")
}

/// Precision and recall of judging one list of events.
fn detection(all: &[Judged]) -> (f64, f64, Vec<String>) {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for j in all {
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
    (precision, recall, misses)
}

#[test]
fn error_detection_precision_and_recall() {
    let (precision, recall, misses) = detection(&judged());
    eprintln!("precision {precision:.4} recall {recall:.4}");
    for m in misses.iter().take(40) {
        eprintln!("  {m}");
    }
    let (alone_p, alone_r, _) = detection(&judged_with(false));
    eprintln!(
        "each batch judged alone, without the previous batch's unfinished trace: precision {alone_p:.4} recall {alone_r:.4}"
    );
    assert!(precision >= 0.98, "precision {precision:.4}");
    assert!(recall >= 0.98, "recall {recall:.4}");
}

/// Grouping accuracy as Zhu et al. define it for log parsing: an error
/// event is grouped correctly when the events sharing its fingerprint are
/// exactly the events sharing its bug.
#[test]
fn grouping_accuracy() {
    let accuracy = grouping(&judged(), true, fingerprint);
    let alone = grouping(&judged_with(false), false, fingerprint);
    eprintln!("each batch judged alone: grouping accuracy {alone:.4}");
    let v2 = grouping(&judged(), false, faultline::fingerprint::v2::fingerprint);
    eprintln!("the v2 keys of the same occurrences: grouping accuracy {v2:.4}");
    assert!(accuracy >= 0.95, "grouping accuracy {accuracy:.4}");
}

/// Grouping accuracy of one judgement, with what split or merged when
/// `verbose`.
fn grouping(all: &[Judged], verbose: bool, key: fn(&str, &Occurrence) -> String) -> f64 {
    let prints: Vec<Option<String>> = all
        .iter()
        .map(|j| j.found.as_ref().map(|o| key(LOG_GROUP, o)))
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
    if !verbose {
        return accuracy;
    }
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
    accuracy
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
