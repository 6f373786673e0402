//! A trace cut by a batch boundary, through `faultline ingest`: consecutive
//! files of one stream are read in order, and the trace is counted once,
//! with the identity it has whole.

mod common;

use common::ok;
use serde_json::Value;

const TRACE: [&str; 7] = [
    "Processing batch 7 of 9",
    "2024-05-01 10:00:00,001 ERROR could not load shard 3",
    "Traceback (most recent call last):",
    "  File \"/app/load.py\", line 8, in load",
    "    raise KeyError(name)",
    "KeyError: 'shard-3'",
    "done",
];

fn data_message(stream: &str, first: usize, messages: &[&str]) -> String {
    let events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::json!({"id": format!("{}", first + i), "timestamp": 1_714_557_600_000i64 + (first + i) as i64, "message": m})
        })
        .collect();
    serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/batch/job",
        "logStream": stream, "logEvents": events,
    })
    .to_string()
}

fn issues(dir: &std::path::Path) -> Vec<Value> {
    let text = ok(&["issues", "--store", "sqlite:s.db", "--json"], dir);
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_trace_cut_between_two_files_is_one_error_with_its_whole_identity() {
    let whole_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        whole_dir.path().join("a.json"),
        data_message("job/default/1", 0, &TRACE),
    )
    .unwrap();
    ok(
        &[
            "ingest",
            "--store",
            "sqlite:s.db",
            "--notify",
            "none",
            "a.json",
        ],
        whole_dir.path(),
    );
    let whole = issues(whole_dir.path());
    assert_eq!(whole.len(), 1);

    for cut in [2, 3, 5] {
        let dir = tempfile::tempdir().unwrap();
        // Another stream's file in between is read on its own.
        std::fs::write(
            dir.path().join("1.json"),
            data_message("job/default/1", 0, &TRACE[..cut]),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("2.json"),
            data_message("job/default/2", 100, &["INFO other job"]),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("3.json"),
            data_message("job/default/1", cut, &TRACE[cut..]),
        )
        .unwrap();
        ok(
            &["ingest", "--store", "sqlite:s.db", "--notify", "none", "."],
            dir.path(),
        );
        let split = issues(dir.path());
        assert_eq!(split.len(), 1, "cut after {cut}: {split:?}");
        assert_eq!(split[0]["count"], 1, "cut after {cut}");
        assert_eq!(split[0]["kind"], "KeyError", "cut after {cut}");
        assert_eq!(
            split[0]["fingerprint"], whole[0]["fingerprint"],
            "cut after {cut}"
        );
    }
}

/// A head whose stream has no next file is judged as it is at the end of
/// the run, not lost.
#[test]
fn a_head_left_at_the_end_of_the_run_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1.json"),
        data_message("job/default/1", 0, &TRACE[..2]),
    )
    .unwrap();
    ok(
        &[
            "ingest",
            "--store",
            "sqlite:s.db",
            "--notify",
            "none",
            "1.json",
        ],
        dir.path(),
    );
    let found = issues(dir.path());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["count"], 1);
}
