//! Hostile and broken inputs: each gives a clear error or a correct result,
//! never a panic, a hang or a stack overflow.
//!
//! (That a failed input leaves the store unchanged is pinned end to end in
//! tests/cli.rs.)

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use flate2::Compression;
use flate2::write::GzEncoder;

use faultline::pipeline::{Prepared, prepare};

fn lambda_input(json: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(json).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#).into_bytes()
}

fn message_with(events: &[(String, String)]) -> Vec<u8> {
    let events: Vec<serde_json::Value> = events
        .iter()
        .enumerate()
        .map(|(i, (id, m))| {
            serde_json::json!({"id": id, "timestamp": 1_763_900_000_000i64 + i as i64, "message": m})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/g", "logStream": "s",
        "subscriptionFilters": [], "logEvents": events,
    }))
    .unwrap()
}

/// Runs `prepare` on another thread (with a small stack, as a Lambda's worker
/// might have) and fails if it panics, overflows or takes too long.
fn prepare_in_time(input: Vec<u8>) -> Result<Prepared, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let result = prepare(&input).map_err(|e| e.to_string());
            let _ = tx.send(result);
        })
        .unwrap();
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(result) => result,
        Err(_) => panic!("prepare panicked or hung"),
    }
}

#[test]
fn deep_nesting_in_the_envelope_is_a_clear_error() {
    let mut input = "{\"awslogs\":".repeat(100_000).into_bytes();
    input.extend("}".repeat(100_000).into_bytes());
    let err = prepare_in_time(input).unwrap_err();
    assert!(err.contains("not JSON") || err.contains("neither"), "{err}");

    let deep = format!(
        r#"{{"messageType":"DATA_MESSAGE","logEvents":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let err = prepare_in_time(lambda_input(deep.as_bytes())).unwrap_err();
    assert!(
        err.contains("CloudWatch Logs message") || err.contains("not JSON"),
        "{err}"
    );
}

#[test]
fn deep_nesting_inside_a_message_is_read_as_text() {
    let nested = format!(
        "{}\"level\":\"error\"{}",
        "{\"a\":".repeat(100_000),
        "}".repeat(100_000)
    );
    let input = lambda_input(&message_with(&[("1".into(), nested)]));
    match prepare_in_time(input) {
        Ok(Prepared::Batch(batch)) => assert_eq!(batch.events, 1),
        other => panic!("expected a batch, got {other:?}"),
    }
}

#[test]
fn invalid_utf8_is_a_clear_error() {
    let mut json = message_with(&[("1".into(), "[ERROR] x".into())]);
    let at = json.windows(9).position(|w| w == b"[ERROR] x").unwrap();
    json[at + 8] = 0xff;
    let err = prepare_in_time(lambda_input(&json)).unwrap_err();
    assert!(err.contains("not a valid CloudWatch Logs message"), "{err}");
}

#[test]
fn a_one_megabyte_message_is_kept_bounded() {
    let mut message = String::from("[ERROR] ValueError: ");
    message.push_str(&"x".repeat(1024 * 1024));
    let input = lambda_input(&message_with(&[("1".into(), message)]));
    let Ok(Prepared::Batch(batch)) = prepare_in_time(input) else {
        panic!("a large message is still a batch");
    };
    assert_eq!(batch.errors, 1);
    let issue = &batch.issues[0];
    assert!(issue.title.len() <= faultline::limits::MAX_TITLE_BYTES);
    assert!(issue.samples[0].message.len() <= faultline::limits::MAX_MESSAGE_BYTES);
}

#[test]
fn ten_thousand_events_are_all_counted() {
    let events: Vec<(String, String)> = (0..10_000)
        .map(|i| {
            let m = match i % 4 {
                0 => format!("[ERROR] KeyError: 'k{}'", i % 3),
                1 => "[ERROR] ValueError: bad row".to_string(),
                _ => format!("[INFO] row {i} fine"),
            };
            (format!("{i:056}"), m)
        })
        .collect();
    let Ok(Prepared::Batch(batch)) = prepare_in_time(lambda_input(&message_with(&events))) else {
        panic!("10,000 events are one batch");
    };
    assert_eq!(batch.events, 10_000);
    assert_eq!(batch.errors, 5_000);
    let total: u64 = batch.issues.iter().map(|i| i.count).sum();
    assert_eq!(total, 5_000);
    assert!(batch.issues.len() <= 4, "{} issues", batch.issues.len());
}

#[test]
fn odd_but_valid_messages_do_not_panic() {
    let odd = [
        "",
        "\u{0}",
        "[ERROR]",
        "[ERROR] :",
        "{",
        "{\"level\":",
        "{\"level\":\"error\"}",
        "{\"level\":50}",
        "{\"level\":null,\"msg\":[1,2]}",
        "Traceback (most recent call last):",
        "\tat ",
        "é\u{a0}\r\r\n\u{202e}",
        "[ERROR] \u{1F4A5}: 💥 boom",
        "2024/01/31 22:12:58 {\"errorMessage\":",
        "{\"type\":\"TaskFailed\",\"details\":{\"cause\":\"{\\\"errorType\\\":\"}}",
    ];
    let events: Vec<(String, String)> = odd
        .iter()
        .enumerate()
        .map(|(i, m)| (i.to_string(), m.to_string()))
        .collect();
    assert!(matches!(
        prepare_in_time(lambda_input(&message_with(&events))),
        Ok(Prepared::Batch(_))
    ));
}
