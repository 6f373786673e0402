//! `faultline fingerprint --explain`: which rule decided each fingerprint,
//! the issue id it maps to (the one `faultline issues` lists), and for an
//! event that is not an error, why not.

mod common;

use common::ok;
use serde_json::Value;

fn input() -> String {
    let events = [
        "START RequestId: 6b9b0c6e-1111-4222-8333-944455556666 Version: $LATEST",
        "[INFO]\t2024-05-01T10:00:00.000Z\t6b9b0c6e-1111-4222-8333-944455556666\tloading order 12",
        "[ERROR] KeyError: 'sku'\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/app.py\", line 9, in handler\n\u{a0}\u{a0}\u{a0}\u{a0}sku = event['sku']",
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'yaml'\nTraceback (most recent call last):",
        "processed 3 records, 0 errors",
        "Traceback (most recent call last):",
        "  File \"/app/job.py\", line 4, in run",
        "ValueError: bad row",
    ];
    let events: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, m)| serde_json::json!({"id": format!("e{i}"), "timestamp": 1_714_557_600_000i64 + i as i64, "message": m}))
        .collect();
    serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/orders",
        "logStream": "2024/05/01/[$LATEST]abc", "logEvents": events,
    })
    .to_string()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn explain_names_the_rule_the_issue_id_and_why_not() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.json"), input()).unwrap();
    let out = lines(&ok(&["fingerprint", "--explain", "in.json"], dir.path()));
    assert_eq!(out.len(), 8);

    let reason = |i: usize| out[i]["not_an_error"].as_str().unwrap_or("").to_string();
    assert!(reason(0).contains("platform line"), "{}", reason(0));
    assert!(reason(1).contains("below ERROR"), "{}", reason(1));
    assert!(reason(4).contains("no level"), "{}", reason(4));
    assert!(
        reason(6).contains("continues the trace of event e5"),
        "{}",
        reason(6)
    );

    assert_eq!(out[2]["explain"]["rule"], "throw_site");
    assert_eq!(out[2]["explain"]["frames"][0], "app.py handler");
    assert_eq!(out[3]["explain"]["rule"], "runtime");
    assert_eq!(out[3]["explain"]["identity"], "No module named yaml");
    assert_eq!(out[5]["explain"]["rule"], "throw_site");
    for i in [2, 3, 5] {
        assert!(out[i]["not_an_error"].is_null());
        assert_eq!(out[i]["explain"]["fingerprint"], out[i]["fingerprint"]);
        assert!(
            out[i]["explain"]["previous"]
                .as_str()
                .unwrap()
                .starts_with("v2:")
        );
    }

    // The ids it prints are the ids `issues` lists.
    ok(
        &[
            "ingest",
            "--store",
            "sqlite:s.db",
            "--notify",
            "none",
            "in.json",
        ],
        dir.path(),
    );
    let issues: Value = serde_json::from_str(&ok(
        &["issues", "--store", "sqlite:s.db", "--json"],
        dir.path(),
    ))
    .unwrap();
    let mut listed: Vec<(String, String)> = issues
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["fingerprint"].as_str().unwrap().to_string(),
                i["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    listed.sort();
    let mut explained: Vec<(String, String)> = [2, 3, 5]
        .iter()
        .map(|&i| {
            (
                out[i]["fingerprint"].as_str().unwrap().to_string(),
                out[i]["explain"]["issue_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    explained.sort();
    assert_eq!(explained, listed);
}
