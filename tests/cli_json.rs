//! JSON is one contract (README, "JSON output"), and triage inputs that mean
//! nothing are refused.

use std::path::Path;

mod common;

use common::{faultline, ok};

const BATCH: &str = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/t","logStream":"s","logEvents":[{"id":"1","timestamp":1763900000000,"message":"{\"level\":\"error\",\"msg\":\"boom\",\"error\":{\"kind\":\"KeyError\",\"message\":\"x\"},\"service\":\"orders\",\"version\":\"1.2\"}"}]}"#;

fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.json"), BATCH).unwrap();
    ok(&["ingest", "--notify", "none", "in.json"], dir.path());
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&["issues", "--json"], dir.path())).unwrap();
    let id = listed[0]["id"].as_str().unwrap().to_string();
    (dir, id)
}

fn json(args: &[&str], cwd: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(args, cwd)).unwrap()
}

fn is_timestamp(value: &serde_json::Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let b = text.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[23] == b'Z'
        && text.chars().filter(char::is_ascii_digit).count() == 17
}

const ISSUE_KEYS: [&str; 14] = [
    "id",
    "fingerprint",
    "log_group",
    "title",
    "kind",
    "status",
    "count",
    "first_seen",
    "last_seen",
    "regressed_at",
    "resolved_in",
    "ignored_until",
    "ignored_until_count",
    "merged_into",
];

fn issue_part(value: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    let object = value.as_object().unwrap();
    for key in ISSUE_KEYS {
        assert!(object.contains_key(key), "{key} missing from {value}");
    }
    ISSUE_KEYS
        .iter()
        .map(|k| (k.to_string(), object[*k].clone()))
        .collect()
}

#[test]
fn every_command_prints_the_same_issue_shape_with_one_timestamp_format() {
    let (dir, id) = setup();
    let dir = dir.path();
    let listed = json(&["issues", "--json"], dir)[0].clone();
    let shown = json(&["issues", "show", &id, "--json"], dir);
    assert_eq!(issue_part(&listed), issue_part(&shown));
    for key in [
        "regressed_at",
        "resolved_in",
        "ignored_until",
        "ignored_until_count",
        "merged_into",
    ] {
        assert!(listed[key].is_null(), "absent {key} is null: {listed}");
    }
    for key in ["first_seen", "last_seen"] {
        assert!(is_timestamp(&listed[key]), "{key}: {}", listed[key]);
    }
    let sample = &shown["samples"][0];
    assert!(is_timestamp(&sample["timestamp"]), "{sample}");
    assert!(
        sample["fields"].is_object(),
        "context fields are an object: {sample}"
    );
    assert_eq!(sample["fields"]["service"], "orders", "{sample}");
    assert!(is_timestamp(&shown["hours"][0]["hour"]), "{shown}");
    assert!(shown["facets"].is_array());
    assert_eq!(shown["merged_from"], serde_json::json!([]), "{shown}");

    let resolved = json(
        &["issues", "resolve", &id, "--in-version", "1.3", "--json"],
        dir,
    );
    let resolved = issue_part(&resolved);
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved_in"], "1.3");
    let ignored = json(&["issues", "ignore", &id, "--until", "7d", "--json"], dir);
    assert!(
        is_timestamp(&issue_part(&ignored)["ignored_until"]),
        "{ignored}"
    );
    let reopened = issue_part(&json(&["issues", "reopen", &id, "--json"], dir));
    assert_eq!(reopened["status"], "open");
    let listed_after = json(&["issues", "--json"], dir)[0].clone();
    assert_eq!(issue_part(&listed_after), reopened);
}

#[test]
fn triage_inputs_that_mean_nothing_are_refused() {
    let (dir, id) = setup();
    let dir = dir.path();
    for (args, says) in [
        (
            vec!["ignore", &id, "--until", "2020-01-01"],
            "not in the future",
        ),
        (vec!["ignore", &id, "--until", "0d"], "not in the future"),
        (vec!["ignore", &id, "--for", "0"], "--for 0"),
        (
            vec!["resolve", &id, "--in-version", ""],
            "--in-version needs",
        ),
        (
            vec!["resolve", &id, "--in-version", "  "],
            "--in-version needs",
        ),
    ] {
        let mut full = vec!["issues"];
        full.extend(args.iter());
        let out = faultline(&full, dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{full:?}: {stderr}");
        assert!(stderr.contains(says), "{full:?}: {stderr}");
        assert_eq!(
            json(&["issues", "--json"], dir)[0]["status"],
            "open",
            "{full:?} changed the issue"
        );
    }
    let reopen = ok(&["issues", "reopen", &id], dir);
    assert!(reopen.contains("already open"), "{reopen}");
}

fn batch_with(id: &str, ts: i64) -> String {
    BATCH
        .replace("\"id\":\"1\"", &format!("\"id\":\"{id}\""))
        .replace("1763900000000", &ts.to_string())
}

#[test]
fn alerts_held_back_are_said_and_the_summary_counts_the_alerts_sent() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for (name, id, at) in [
        ("a.json", "1", now - 3_000),
        ("b.json", "2", now - 2_000),
        ("c.json", "3", now - 1_000),
    ] {
        std::fs::write(dir.join(name), batch_with(id, at)).unwrap();
    }
    let first = common::faultline(&["ingest", "a.json"], dir);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("1 alerts sent for 1 issues"), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&first.stdout).lines().count(),
        1,
        "one alert line"
    );
    assert!(!stderr.contains("no alert sent"), "{stderr}");
    let id = json(&["issues", "--json"], dir)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    ok(&["issues", "resolve", &id], dir);
    let regressed = common::faultline(&["ingest", "b.json"], dir);
    assert!(String::from_utf8_lossy(&regressed.stdout).contains("regression"));
    // A second regression within the hour is inside the cooldown.
    ok(&["issues", "resolve", &id], dir);
    let held = common::faultline(&["ingest", "c.json"], dir);
    let stderr = String::from_utf8_lossy(&held.stderr);
    assert!(held.status.success(), "{stderr}");
    assert!(held.stdout.is_empty(), "no alert line");
    assert!(
        stderr.contains(&format!(
            "no alert sent by this run for 1 of the new issues and regressions: {id} (regression: it alerted less than the policy's cooldown_minutes = 60 ago)"
        )),
        "{stderr}"
    );

    // A policy that turns new-issue alerts off: each new issue is named
    // with the setting that held it.
    std::fs::write(dir.join("quiet.toml"), "new_issue = false\n").unwrap();
    std::fs::write(
        dir.join("d.json"),
        batch_with("4", now).replace("KeyError", "ValueError"),
    )
    .unwrap();
    let quiet = common::faultline(&["ingest", "--policy", "quiet.toml", "d.json"], dir);
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(quiet.status.success(), "{stderr}");
    assert!(
        stderr.contains("(new issue: the alert policy has new_issue = false)"),
        "{stderr}"
    );
}
