//! The `faultline` command as a user runs it: real binary, real SQLite file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use flate2::Compression;
use flate2::write::GzEncoder;

mod common;

use common::{faultline, ok};

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn issues_json(cwd: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(&["issues", "--status", "all", "--json"], cwd)).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn lambda_input(compressed: &[u8]) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(compressed);
    format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#)
}

const GOOD: &str = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/t","logStream":"s","subscriptionFilters":[],"logEvents":[{"id":"1","timestamp":1763900000000,"message":"[ERROR] KeyError: 'x'\n"},{"id":"2","timestamp":1763900000001,"message":"INFO fine"}]}"#;

#[test]
fn ingesting_the_sample_events_finds_issues_and_a_replay_changes_no_count() {
    let dir = tempfile::tempdir().unwrap();
    let events = events_dir();
    let events = events.to_str().unwrap();
    let out = faultline(&["ingest", events], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = String::from_utf8_lossy(&out.stdout);
    let first = issues_json(dir.path());
    let issues = first.as_array().unwrap();
    assert!(!issues.is_empty(), "the sample events hold errors");
    for issue in issues {
        for key in [
            "id",
            "fingerprint",
            "log_group",
            "title",
            "kind",
            "status",
            "count",
            "first_seen",
            "last_seen",
        ] {
            assert!(issue.get(key).is_some(), "issue lacks {key}: {issue}");
        }
        let id = issue["id"].as_str().unwrap();
        assert!(
            alerts.contains(id),
            "no alert for new issue {id}:\n{alerts}"
        );
    }

    let replay = faultline(&["ingest", events, events], dir.path());
    assert!(replay.status.success());
    assert!(
        replay.stdout.is_empty(),
        "a replay alerts nothing: {}",
        String::from_utf8_lossy(&replay.stdout)
    );
    assert!(String::from_utf8_lossy(&replay.stderr).contains("already recorded"));
    assert_eq!(issues_json(dir.path()), first, "a replay changes no count");
}

/// A failed execution logs the failure twice: the task's `TaskFailed` and
/// the `ExecutionFailed` that AWS fills with the same error and cause. Both
/// are one failure, so one issue, and no issue is titled by a pointer.
#[test]
fn a_failed_execution_is_one_issue_with_the_task_failure_that_ended_it() {
    let dir = tempfile::tempdir().unwrap();
    let sample = events_dir().join("step-functions.json");
    ok(
        &["ingest", "--notify", "none", sample.to_str().unwrap()],
        dir.path(),
    );
    let listed = issues_json(dir.path());
    let mut counts: Vec<(String, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["count"].as_u64().unwrap(),
            )
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        [
            ("States.TaskFailed".to_string(), 2),
            ("ZeroDivisionError".to_string(), 1)
        ],
        "{listed}"
    );
}

#[test]
fn the_default_listing_is_a_readable_table() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.json"), GOOD).unwrap();
    ok(&["ingest", "in.json"], dir.path());
    let table = ok(&["issues"], dir.path());
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for column in ["ID", "STATUS", "COUNT", "LAST SEEN", "LOG GROUP", "TITLE"] {
        assert!(header.contains(column), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(
        row.contains("/aws/lambda/t") && row.contains("KeyError"),
        "{row}"
    );
    assert!(dir.path().join(".faultline/faultline.db").exists());
}

#[test]
fn broken_inputs_are_named_and_leave_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.json"), GOOD).unwrap();
    ok(&["ingest", "good.json"], dir.path());
    let before = issues_json(dir.path());

    let bomb = gzip(&vec![b' '; 40 * 1024 * 1024]);
    let message = GOOD.as_bytes();
    let truncated = gzip(message);
    let broken: Vec<(&str, Vec<u8>, &str)> =
        vec![
        ("empty.json", b"".to_vec(), "empty"),
        ("text.json", b"hello there".to_vec(), "not JSON"),
        ("other.json", br#"{"Records":[]}"#.to_vec(), "neither a Lambda input"),
        ("nodata.json", br#"{"awslogs":{}}"#.to_vec(), "awslogs.data"),
        ("b64.json", br#"{"awslogs":{"data":"***"}}"#.to_vec(), "base64"),
        ("notgz.json", lambda_input(b"plain bytes").into_bytes(), "not gzip"),
        (
            "cut.json",
            lambda_input(&truncated[..truncated.len() / 2]).into_bytes(),
            "not gzip",
        ),
        ("bomb.json", lambda_input(&bomb).into_bytes(), "gzip bomb"),
        (
            "events.json",
            br#"{"messageType":"DATA_MESSAGE","logEvents":"nope"}"#.to_vec(),
            "not a valid CloudWatch Logs message",
        ),
        (
            "number.json",
            br#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":7}]}"#
                .to_vec(),
            "not a valid CloudWatch Logs message",
        ),
    ];
    for (name, bytes, expected) in &broken {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let mut other = GOOD.replace("\"id\":\"1\"", "\"id\":\"99\"");
        other = other.replace("KeyError", "ValueError");
        std::fs::write(dir.path().join("new.json"), other).unwrap();
        // A good new input beside the broken one: it must not be recorded either.
        let out = faultline(&["ingest", "new.json", name], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} was accepted");
        let first_line = stderr.lines().next().unwrap_or("");
        assert!(
            first_line.contains(name) && first_line.contains(expected),
            "{name}: expected one line naming the file and {expected:?}, got {stderr}"
        );
        assert!(stderr.contains("nothing was recorded"), "{stderr}");
        assert!(out.stdout.is_empty(), "no alert for {name}");
        assert_eq!(issues_json(dir.path()), before, "{name} changed the store");
    }
}

#[test]
fn a_control_message_is_acknowledged_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let control = events_dir().join("control-message.json");
    let out = faultline(&["ingest", control.to_str().unwrap()], dir.path());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 control messages acknowledged"));
    assert_eq!(issues_json(dir.path()), serde_json::json!([]));
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["ingest", "-"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lambda_input(&gzip(GOOD.as_bytes())).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(issues_json(dir.path())[0]["count"], 1);
}

#[test]
fn fingerprint_prints_one_object_per_event_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.json"), GOOD).unwrap();
    let out = ok(&["fingerprint", "in.json"], dir.path());
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "1");
    assert_eq!(lines[0]["log_group"], "/aws/lambda/t");
    assert!(lines[0]["fingerprint"].as_str().unwrap().starts_with("v"));
    assert_eq!(lines[1]["id"], "2");
    assert!(
        lines[1]["fingerprint"].is_null(),
        "an INFO line is no error"
    );

    let every = ok(&["fingerprint", "--every-line", "in.json"], dir.path());
    assert!(every.lines().all(|l| !l.contains("\"fingerprint\":null")));
    // The fast path must agree with the general one, which --explain takes.
    let slow = ok(
        &["fingerprint", "--every-line", "--explain", "in.json"],
        dir.path(),
    );
    let keys = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["fingerprint"].clone())
            .collect()
    };
    assert_eq!(keys(&every), keys(&slow));
    assert_ne!(keys(&every)[0], keys(&every)[1]);

    let explained = ok(&["fingerprint", "--explain", "in.json"], dir.path());
    let first: serde_json::Value = serde_json::from_str(explained.lines().next().unwrap()).unwrap();
    assert_eq!(first["explain"]["fingerprint"], first["fingerprint"]);
    assert!(first["explain"]["template"].is_string());
}

#[test]
fn an_issue_is_shown_resolved_ignored_and_reopened_by_id_prefix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.json"), GOOD).unwrap();
    ok(&["ingest", "in.json"], dir.path());
    let id = issues_json(dir.path())[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let prefix = &id[..6];

    let shown = ok(&["issues", "show", prefix], dir.path());
    assert!(shown.contains(&id) && shown.contains("KeyError"), "{shown}");
    assert!(shown.contains("samples (1"), "{shown}");

    ok(&["issues", "resolve", prefix], dir.path());
    assert_eq!(issues_json(dir.path())[0]["status"], "resolved");
    assert!(ok(&["issues"], dir.path()).starts_with("no issues"));
    ok(&["issues", "ignore", &id], dir.path());
    assert_eq!(issues_json(dir.path())[0]["status"], "ignored");
    ok(&["issues", "reopen", &id], dir.path());
    assert_eq!(issues_json(dir.path())[0]["status"], "open");

    let missing = faultline(&["issues", "show", "ffffffffffff"], dir.path());
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no issue with id"));
}

/// Two issues that are one bug to the person reading them.
const TWO_ISSUES: &str = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/t","logStream":"s","subscriptionFilters":[],"logEvents":[{"id":"1","timestamp":1763900000000,"message":"[ERROR] KeyError: 'x'\n"},{"id":"2","timestamp":1763900000001,"message":"[ERROR] ValueError: bad x\n"}]}"#;

#[test]
fn issues_are_merged_and_unmerged_by_id_prefix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.json"), TWO_ISSUES).unwrap();
    ok(&["ingest", "--notify", "none", "in.json"], dir.path());
    let issues = issues_json(dir.path());
    let id = |kind: &str| {
        issues
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == kind)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (key, value) = (id("KeyError"), id("ValueError"));

    let said = ok(&["issues", "merge", &key[..6], &value[..6]], dir.path());
    assert!(
        said.contains(&format!("{value} merged into {key}")) && said.contains("unmerge"),
        "{said}"
    );
    let live = issues_json(dir.path());
    assert_eq!(live.as_array().unwrap().len(), 1);
    assert_eq!(live[0]["count"], 2);
    let merged: serde_json::Value =
        serde_json::from_str(&ok(&["issues", "--status", "merged", "--json"], dir.path())).unwrap();
    assert_eq!(merged[0]["id"], value.as_str());
    let shown = ok(&["issues", "show", &value], dir.path());
    assert!(shown.contains(&format!("merged into  {key}")), "{shown}");

    let refused = faultline(&["issues", "resolve", &value], dir.path());
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("unmerge"), "{stderr}");

    let said = ok(&["issues", "unmerge", &value], dir.path());
    assert!(said.contains(&format!("{value} is now open")), "{said}");
    assert_eq!(issues_json(dir.path()).as_array().unwrap().len(), 2);
}

#[test]
fn store_stats_says_what_each_part_holds_and_sent_alerts_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let missing = faultline(&["store", "stats"], dir.path());
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no store at"));

    std::fs::write(dir.path().join("in.json"), TWO_ISSUES).unwrap();
    ok(&["ingest", "in.json"], dir.path());
    let stats: serde_json::Value =
        serde_json::from_str(&ok(&["store", "stats", "--json"], dir.path())).unwrap();
    let rows = |name: &str| {
        stats["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no part {name}: {stats}"))["rows"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(rows("issues"), 2);
    assert!(rows("batches") >= 1, "{stats}");
    assert_eq!(rows("outbox"), 0, "the console sent both alerts: {stats}");
    let parts: u64 = stats["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["bytes"].as_u64().unwrap())
        .sum();
    assert!(parts <= stats["total_bytes"].as_u64().unwrap(), "{stats}");
    let table = ok(&["store", "stats"], dir.path());
    assert!(table.contains("issues") && table.contains("KB"), "{table}");
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["ingest", "--help"],
        vec!["fingerprint", "--help"],
        vec!["issues", "--help"],
        vec!["issues", "list", "--help"],
        vec!["issues", "show", "--help"],
        vec!["issues", "resolve", "--help"],
        vec!["issues", "ignore", "--help"],
        vec!["issues", "reopen", "--help"],
        vec!["issues", "merge", "--help"],
        vec!["issues", "unmerge", "--help"],
        vec!["store", "--help"],
        vec!["store", "init", "--help"],
        vec!["store", "stats", "--help"],
    ] {
        let out = ok(&args, dir.path());
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
}

#[test]
fn an_unknown_store_url_says_what_is_expected() {
    let dir = tempfile::tempdir().unwrap();
    let out = faultline(&["issues", "--store", "postgres://x"], dir.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sqlite:PATH") && stderr.contains("dynamodb://TABLE"),
        "{stderr}"
    );
}

/// A hand-made batch whose event id, stream, message and fields try to drive
/// whatever shows them: an OSC window title, a screen clear, a C1 CSI, a
/// right-to-left override, RLM, ALM and zero-width characters.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}gpj.exe\u{200f}\u{61c}\u{200b}";

fn hostile_batch() -> String {
    serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/t",
        "logStream": format!("s{HOSTILE}"),
        "logEvents": [{
            "id": format!("1{HOSTILE}"), "timestamp": 1_763_900_000_000i64,
            "message": format!("{{\"level\":\"error\",\"msg\":\"boom {HOSTILE}\",\"user{HOSTILE}\":\"v{HOSTILE}\"}}"),
        }],
    })
    .to_string()
}

fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for (c, name) in [
        ('\u{1b}', "ESC"),
        ('\u{7}', "BEL"),
        ('\u{9b}', "C1 CSI"),
        ('\u{202e}', "RLO"),
        ('\u{200f}', "RLM"),
        ('\u{61c}', "ALM"),
        ('\u{200b}', "ZWSP"),
    ] {
        assert!(!text.contains(c), "{what} carries a raw {name}:\n{text}");
    }
}

#[test]
fn nothing_a_log_line_carries_can_drive_the_terminal_or_the_page() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.json"), hostile_batch()).unwrap();
    let ingest = faultline(&["ingest", "in.json"], dir.path());
    assert!(
        ingest.status.success(),
        "{}",
        String::from_utf8_lossy(&ingest.stderr)
    );
    assert_inert("the console alert", &ingest.stdout);
    let id = issues_json(dir.path())[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for args in [
        vec!["issues"],
        vec!["issues", "--json"],
        vec!["issues", "show", &id],
        vec!["issues", "show", &id, "--json"],
    ] {
        let out = faultline(&args, dir.path());
        assert!(out.status.success(), "{args:?}");
        assert_inert(&format!("{args:?}"), &out.stdout);
    }
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["issues", "show", &id, "--json"], dir.path())).unwrap();
    assert_eq!(
        shown["samples"][0]["event_id"],
        format!("1{HOSTILE}"),
        "JSON escapes the value but keeps it exact"
    );
    ok(&["report", "--html", "r.html"], dir.path());
    assert_inert(
        "the report",
        &std::fs::read(dir.path().join("r.html")).unwrap(),
    );
}

#[test]
fn a_report_that_cannot_be_written_leaves_the_previous_one_whole() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<serde_json::Value> = (0..60)
        .map(|i| {
            serde_json::json!({"id": i.to_string(), "timestamp": 1_763_900_000_000i64 + i,
                "message": format!("[ERROR] Error{i}: {}", "x".repeat(2000))})
        })
        .collect();
    let batch = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "1",
        "logGroup": "/aws/lambda/t", "logStream": "s", "logEvents": events});
    std::fs::write(dir.path().join("in.json"), batch.to_string()).unwrap();
    ok(&["ingest", "--notify", "none", "in.json"], dir.path());
    ok(&["report", "--html", "r.html"], dir.path());
    let before = std::fs::read(dir.path().join("r.html")).unwrap();
    assert!(
        before.len() > 128 * 1024,
        "the page is larger than the limit below"
    );
    // A file-size limit of 64 KB (128 blocks of 512 bytes) makes the page's
    // write fail, as a full disk does, while the store (read here, not
    // written) still opens; the signal the limit raises is ignored so the
    // write returns an error instead of killing the process.
    let out = Command::new("sh")
        .args([
            "-c",
            "ulimit -f 128; trap '' XFSZ; exec \"$0\" report --html r.html",
        ])
        .arg(env!("CARGO_BIN_EXE_faultline"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the write failed");
    assert!(stderr.contains("cannot write r.html"), "{stderr}");
    let after = std::fs::read(dir.path().join("r.html")).unwrap();
    assert!(
        after == before,
        "the previous report was replaced by {} bytes",
        after.len()
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(
        left.is_empty(),
        "no temporary file is left behind: {left:?}"
    );
}

#[test]
fn a_closed_pipe_ends_the_listing_quietly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.json"), GOOD).unwrap();
    ok(&["ingest", "in.json"], dir.path());
    for args in [&["issues"][..], &["issues", "--json"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(args)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before faultline writes, as after `| head -0`.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}

#[test]
fn bootstrap_started_by_hand_says_what_it_is_in_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("AWS Lambda entry point") && stderr.contains("faultline ingest"),
        "{stderr}"
    );
}

/// A run that stopped while sending leaves its alerts leased for a minute.
/// The next run says how many and until when rather than nothing; once the
/// lease is over, the next run sends them, oldest first.
#[test]
fn alerts_a_stopped_run_left_leased_are_reported_then_sent_first() {
    use faultline::pipeline::{Prepared, prepare, system_clock};
    use faultline::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".faultline").join("faultline.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The stopped run: it recorded a new issue and leased its alert.
    runtime.block_on(async {
        let store = faultline::store::sqlite::SqliteStore::open(db.to_str().unwrap()).unwrap();
        let Ok(Prepared::Batch(batch)) = prepare(GOOD.as_bytes()) else {
            panic!("a batch");
        };
        let now = system_clock();
        store
            .record(&batch, now, &faultline::policy::Policy::default())
            .await
            .unwrap();
        assert_eq!(
            store
                .claim_alerts(now, 60_000, usize::MAX)
                .await
                .unwrap()
                .len(),
            1
        );
    });
    // Other batches (other event ids) with an issue of their own.
    let other = |name: &str, kind: &str| {
        let message = GOOD
            .replace("KeyError: 'x'", &format!("{kind}: y"))
            .replace(r#""id":""#, &format!(r#""id":"{kind}-"#));
        std::fs::write(dir.path().join(name), message).unwrap();
    };
    other("second.json", "ValueError");
    let second = faultline(&["ingest", "second.json"], dir.path());
    assert!(second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains("1 queued alerts for 1 issues are held by another run's lease until 20"),
        "{said}"
    );
    let sent = String::from_utf8_lossy(&second.stdout);
    assert!(
        sent.contains("ValueError") && !sent.contains("KeyError"),
        "the leased alert is the stopped run's: {sent}"
    );

    // A minute later the lease is over.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE outbox SET lease_until = 1 WHERE sent_at IS NULL",
        [],
    )
    .unwrap();
    drop(conn);
    other("third.json", "TypeError");
    let third = ok(&["ingest", "third.json"], dir.path());
    let (key, type_error) = (
        third
            .find("KeyError")
            .expect("the stopped run's alert is sent"),
        third.find("TypeError").expect("this run's alert"),
    );
    assert!(
        key < type_error,
        "the stopped run's alert goes first: {third}"
    );
}

/// Two writers on one file: the second waits for the first's write lock,
/// and when the wait runs out it says who holds the lock rather than only
/// "database is locked".
#[test]
fn a_busy_store_names_the_process_that_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.json"), GOOD).unwrap();
    ok(&["ingest", "in.json"], dir.path());
    let db = dir.path().join(".faultline").join("faultline.db");
    let note = dir.path().join(".faultline").join("faultline.db-writer");
    let noted = std::fs::read_to_string(&note).unwrap();
    assert!(
        noted.ends_with(" ingest in.json\n"),
        "a writer notes itself: {noted}"
    );
    // Another writer: this test, holding the lock as a stuck ingest would,
    // and noted as faultline notes a writer.
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    std::fs::write(
        &note,
        format!(
            "{}\n1763900000000\nfaultline ingest big/\n",
            std::process::id()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("more.json"),
        GOOD.replace(r#""id":""#, r#""id":"m-"#),
    )
    .unwrap();
    let waited = common::faultline_with(
        &["ingest", "more.json"],
        dir.path(),
        &[("FAULTLINE_SQLITE_WAIT_SECONDS".into(), "1".into())],
    );
    assert!(!waited.status.success());
    let said = String::from_utf8_lossy(&waited.stderr);
    assert!(
        said.contains(&format!(
            "is busy: faultline ingest big/ (pid {}, writing since 2025-11-23T12:13:20.000Z) holds its write lock, and this run waited 1 s for it",
            std::process::id()
        )),
        "{said}"
    );
    holder.execute_batch("COMMIT").unwrap();
    ok(&["ingest", "more.json"], dir.path());
}

#[test]
fn a_batch_past_the_limit_of_distinct_issues_creates_the_limit_and_one_overflow_issue() {
    let dir = tempfile::tempdir().unwrap();
    let limit = faultline::limits::MAX_ISSUES_PER_BATCH;
    let over = 50;
    let events: Vec<serde_json::Value> = (0..limit + over)
        .map(|i| {
            serde_json::json!({"id": format!("{i:08}"), "timestamp": 1_763_900_000_000i64 + i as i64,
                "message": format!("[ERROR] Kind{i}Error: row {i} is bad")})
        })
        // A last line that is no error: a last error would wait for the
        // stream's next batch.
        .chain([serde_json::json!({"id": "done", "timestamp": 1_763_900_100_000i64, "message": "INFO done"})])
        .collect();
    let message = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/flood",
        "logStream": "s", "subscriptionFilters": [], "logEvents": events,
    });
    std::fs::write(dir.path().join("flood.json"), message.to_string()).unwrap();

    let out = faultline(&["ingest", "--notify", "console", "flood.json"], dir.path());
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{summary}");
    assert!(
        summary.contains(&format!(
            "{over} errors in 1 batches were past the limit of {limit} distinct issues per batch"
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(" {} new issues", limit + 1)),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("1 alerts sent for {} issues", limit + 1)),
        "one digest: {summary}"
    );

    let listed = issues_json(dir.path());
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), limit + 1);
    let overflow: Vec<&serde_json::Value> = listed
        .iter()
        .filter(|i| i["kind"] == faultline::model::OVERFLOW_KIND)
        .collect();
    assert_eq!(overflow.len(), 1);
    assert_eq!(overflow[0]["count"], over as u64);
    let id = overflow[0]["id"].as_str().unwrap();
    let shown = ok(&["issues", "show", id], dir.path());
    assert!(
        shown.contains(&format!("Kind{limit}Error: row {limit} is bad")),
        "{shown}"
    );
}

/// A Java trace's outermost exception's frames as a sample stores them,
/// innermost last: `at java.base/f(File.java:12)` becomes `f (File.java:12)`; the
/// frames of its causes (after `Caused by:`) are not its own.
fn stored_java_frames(trace: &str) -> Vec<String> {
    let mut frames: Vec<String> = trace
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Caused by: ") && !l.starts_with("Suppressed: "))
        .filter_map(|l| l.strip_prefix("at "))
        .map(|at| {
            let (function, location) = at.rsplit_once('(').unwrap();
            // Without its Java module (`java.base/`).
            let function = function.rsplit_once('/').map_or(function, |(_, f)| f);
            format!("{function} ({location}")
        })
        .collect();
    frames.reverse();
    frames
}

#[test]
fn a_long_real_stack_keeps_the_frames_where_it_was_thrown_whole() {
    let dir_of = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/long_traces");
    // Real Java traces of 2-14 KB (provenance in SOURCES.md there), those
    // whose frames carry no `~[jar:version]` suffix; 137 and 111 frames in
    // the two OpenMRS ones, whose stacks pass the 4 KB a sample keeps.
    let mut cut = 0;
    for name in [
        "java-jetty-servlet-caused-by",
        "java-mockito-junit-caused-by",
        "java-openmrs-mysql-duplicate",
        "java-openmrs-spring-caused-by-chain",
        "java-smtp-nested-multiline-message",
        "java-spring-boot-aws-config-bean",
        "java-spring-test-context-failed",
    ] {
        let trace = std::fs::read_to_string(dir_of.join(format!("{name}.txt"))).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let batch = serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/orders",
            "logStream": "s", "subscriptionFilters": [],
            "logEvents": [
                {"id": "1", "timestamp": 1_763_900_000_000i64, "message": trace},
                // A last line that is no error: a last error would wait
                // for the stream's next batch.
                {"id": "2", "timestamp": 1_763_900_000_001i64, "message": "INFO done"},
            ],
        });
        std::fs::write(dir.path().join("in.json"), batch.to_string()).unwrap();
        ok(&["ingest", "--notify", "none", "in.json"], dir.path());
        let listed = issues_json(dir.path());
        assert_eq!(listed.as_array().unwrap().len(), 1, "{name}: {listed}");
        let id = listed[0]["id"].as_str().unwrap();
        let shown: serde_json::Value =
            serde_json::from_str(&ok(&["issues", "show", id, "--json"], dir.path())).unwrap();
        let stack = shown["samples"][0]["fields"]["stack"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no stack in {shown}"));

        if name == "java-openmrs-mysql-duplicate" {
            // Where MySQL threw, and the frame the JVM printed first.
            assert!(
                stack.contains(
                    "\ncom.mysql.jdbc.SQLError.createSQLException (SQLError.java:1041)\n"
                ),
                "{name}:\n{stack}"
            );
            assert!(
                stack.ends_with(
                    "\nsun.reflect.NativeConstructorAccessorImpl.newInstance0 (Native Method)"
                ),
                "{name}:\n{stack}"
            );
        }
        let frames = stored_java_frames(&trace);
        let whole = frames.join("\n");
        eprintln!(
            "{name}: {} frames, {} bytes; stored {} lines, {} bytes",
            frames.len(),
            whole.len(),
            stack.lines().count(),
            stack.len()
        );
        assert!(stack.len() <= 4096, "{name}: {} bytes", stack.len());
        if stack == whole {
            continue;
        }
        cut += 1;
        // Cut: the innermost frames, whole, after a line saying how many
        // outer ones were left out.
        let (note, kept) = stack.split_once('\n').unwrap();
        assert!(
            whole.ends_with(&format!("\n{kept}")),
            "{name}: not the innermost frames, whole:\n{stack}"
        );
        let left_out = frames.len() - kept.lines().count();
        assert_eq!(
            note,
            format!("... {left_out} outer frames not kept (4 KB sample stack bound)"),
            "{name}"
        );
        assert_eq!(
            kept.lines().last(),
            frames.last().map(String::as_str),
            "{name}"
        );
        // Kept as much as the bound allows: one more frame would not fit.
        assert!(
            stack.len() + frames[left_out - 1].len() + 1 > 4096,
            "{name}: {} bytes",
            stack.len()
        );
    }
    // Both OpenMRS traces' stacks pass 4 KB.
    assert!(cut >= 2, "{cut} stacks cut");
}
