//! Grouping accuracy and template throughput on Loghub-2k, when the data is
//! checked out beside the repository (`../shared/benchmarks/loghub2k`).
//!
//! The accuracy test guards the figure published in BENCHMARKS.md against
//! regressions; the authoritative measurement goes through the CLI
//! (`scripts/loghub-accuracy.py`). Both skip cleanly without the data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use faultline::fingerprint::{line_key, template_into};

const SETS: [&str; 16] = [
    "Android",
    "Apache",
    "BGL",
    "HDFS",
    "HPC",
    "Hadoop",
    "HealthApp",
    "Linux",
    "Mac",
    "OpenSSH",
    "OpenStack",
    "Proxifier",
    "Spark",
    "Thunderbird",
    "Windows",
    "Zookeeper",
];

fn root() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/benchmarks/loghub2k");
    dir.is_dir().then_some(dir)
}

/// The corrected structured CSV of a set: the Loghub 2.0 relabelling where
/// there is one, else the top-level corrected file.
fn csv_path(root: &Path, set: &str) -> PathBuf {
    let v2 = root
        .join(set)
        .join("loghub2.0")
        .join(format!("{set}_2k.log_structured_corrected.csv"));
    if v2.is_file() {
        v2
    } else {
        root.join(set)
            .join(format!("{set}_2k.log_structured_corrected.csv"))
    }
}

/// RFC 4180 records: quoted fields may hold commas, `""` and newlines.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// (Content, EventId) of every line of a set.
fn load(root: &Path, set: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(csv_path(root, set)).expect("readable CSV");
    let mut rows = parse_csv(&text).into_iter();
    let header = rows.next().expect("header");
    let col = |name: &str| header.iter().position(|h| h == name).expect("column");
    let (content, event) = (col("Content"), col("EventId"));
    rows.map(|r| (r[content].clone(), r[event].clone()))
        .collect()
}

/// Zhu et al. 2019: a line is correct when its predicted group holds exactly
/// the lines of its true group.
fn grouping_accuracy(pred: &[String], truth: &[String]) -> f64 {
    let mut by_pred: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_true: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (p, t)) in pred.iter().zip(truth).enumerate() {
        by_pred.entry(p).or_default().push(i);
        by_true.entry(t).or_default().push(i);
    }
    let correct: usize = by_true
        .values()
        .filter(|lines| by_pred[pred[lines[0]].as_str()] == **lines)
        .map(Vec::len)
        .sum();
    correct as f64 / pred.len() as f64
}

#[test]
fn accuracy_measure_agrees_with_its_definition() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    // Group a is split, b is exact, c and d are merged: only b's line counts.
    let truth = s(&["a", "a", "b", "c", "d"]);
    let pred = s(&["1", "2", "3", "4", "4"]);
    assert!((grouping_accuracy(&pred, &truth) - 0.2).abs() < 1e-9);
    assert_eq!(grouping_accuracy(&truth, &truth), 1.0);
}

#[test]
fn loghub_grouping_accuracy_stays_above_target() {
    let Some(root) = root() else {
        eprintln!("skipped: ../shared/benchmarks/loghub2k is absent");
        return;
    };
    let mut scratch = String::new();
    let mut total = 0.0;
    for set in SETS {
        let lines = load(&root, set);
        assert_eq!(lines.len(), 2000, "{set}");
        let pred: Vec<String> = lines
            .iter()
            .map(|(m, _)| line_key(set, m, &mut scratch).to_string())
            .collect();
        let truth: Vec<String> = lines.into_iter().map(|(_, e)| e).collect();
        let acc = grouping_accuracy(&pred, &truth);
        eprintln!("{set:12} {acc:.3}");
        total += acc;
    }
    let avg = total / SETS.len() as f64;
    eprintln!("average      {avg:.4}");
    assert!(
        avg >= 0.91,
        "average grouping accuracy {avg:.4} fell below 0.91"
    );
}

/// `cargo test --release --test fingerprint_loghub -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a check; run in release mode"]
fn template_throughput() {
    let Some(root) = root() else {
        eprintln!("skipped: ../shared/benchmarks/loghub2k is absent");
        return;
    };
    let lines: Vec<String> = SETS
        .iter()
        .flat_map(|s| load(&root, s))
        .map(|(m, _)| m)
        .collect();
    let bytes: usize = lines.iter().map(String::len).sum();
    let mut out = String::new();
    let mut sink = 0usize;
    // The machine may be shared: report the best and the median of many
    // short rounds rather than one long one.
    for (name, keyed) in [("template_into", false), ("line_key", true)] {
        let mut times: Vec<f64> = (0..40)
            .map(|_| {
                let start = Instant::now();
                for l in &lines {
                    if keyed {
                        sink ^= line_key("g", l, &mut out).hash as usize;
                    } else {
                        template_into(l, &mut out);
                        sink ^= out.len();
                    }
                }
                start.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let n = lines.len() as f64;
        let (best, median) = (times[0], times[times.len() / 2]);
        eprintln!(
            "{name}: {n} lines ({:.2} MB) per round; best {:.2} M lines/s ({:.0} ns/line, {:.0} MB/s), median {:.2} M lines/s",
            bytes as f64 / 1e6,
            n / best / 1e6,
            best * 1e9 / n,
            bytes as f64 / best / 1e6,
            n / median / 1e6
        );
    }
    assert!(sink != 1);
}
