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

/// A Spring Boot trace as logback's default pattern prints it, every frame
/// followed by its jar and version (`~[spring-beans-5.1.7.RELEASE.jar:5.1.7.RELEASE]`),
/// logged again after the app was redeployed with upgraded dependencies:
/// new jar versions and the library's own line numbers moved. One bug, one
/// issue, keyed by the app's frame. (Before the packaging was dropped, the
/// whole frame line was taken for a file, the innermost Spring frame with its
/// version and line became the throw site, and the upgrade made a new issue.)
#[test]
fn a_spring_boot_trace_keeps_its_issue_across_a_dependency_upgrade() {
    let cases = [
        (
            "java-spring-boot-jms-jndi-chain.txt",
            [
                ("5.1.7.RELEASE", "5.1.8.RELEASE"),
                ("2.1.5.RELEASE", "2.1.6.RELEASE"),
                ("1.8.0_181", "1.8.0_191"),
            ],
            "VIF120080Controller.java biz.jal.crane.janet2.inf.VIF120080Controller.main",
        ),
        (
            "java-spring-boot-startup-nested.txt",
            [
                ("5.0.3.RELEASE", "5.0.4.RELEASE"),
                ("1.5.9.RELEASE", "1.5.10.RELEASE"),
                ("1.8.0_162", "1.8.0_171"),
            ],
            "SquareApplication.java square.app.SquareApplication.main",
        ),
    ];
    for (name, upgrades, site) in cases {
        let dir = tempfile::tempdir().unwrap();
        let before = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/long_traces")
                .join(name),
        )
        .unwrap();
        let after: Vec<String> = before
            .lines()
            .map(|line| {
                if !line.ends_with(']') || line.ends_with("[classes/:na]") || line.ends_with(":?]")
                {
                    return line.to_string();
                }
                let mut line = line.to_string();
                for (old, new) in upgrades {
                    line = line.replace(old, new);
                }
                // The library's line numbers move with its release.
                if let Some(at) = line.find(".java:")
                    && let Some(close) = line[at..].find(')')
                    && let Ok(n) = line[at + 6..at + close].parse::<u32>()
                {
                    line.replace_range(at + 6..at + close, &(n + 2).to_string());
                }
                line
            })
            .collect();
        let after = after.join("\n") + "\n";
        assert_ne!(before, after);
        std::fs::write(dir.path().join("before.log"), &before).unwrap();
        std::fs::write(dir.path().join("after.log"), &after).unwrap();

        let explained = lines(&ok(
            &[
                "fingerprint",
                "--explain",
                "--log-group",
                "/ecs/orders",
                "before.log",
                "after.log",
            ],
            dir.path(),
        ));
        let errors: Vec<&Value> = explained
            .iter()
            .filter(|l| l["not_an_error"].is_null())
            .collect();
        assert_eq!(errors.len(), 2, "{name}: {explained:?}");
        for e in &errors {
            assert_eq!(e["explain"]["rule"], "throw_site", "{name}");
            assert_eq!(e["explain"]["frames"], serde_json::json!([site]), "{name}");
        }
        assert_eq!(errors[0]["fingerprint"], errors[1]["fingerprint"], "{name}");

        for file in ["before.log", "after.log"] {
            ok(
                &[
                    "ingest",
                    "--store",
                    "sqlite:s.db",
                    "--notify",
                    "none",
                    "--log-group",
                    "/ecs/orders",
                    file,
                ],
                dir.path(),
            );
        }
        let issues: Value = serde_json::from_str(&ok(
            &["issues", "--store", "sqlite:s.db", "--json"],
            dir.path(),
        ))
        .unwrap();
        let issues = issues.as_array().unwrap();
        assert_eq!(issues.len(), 1, "{name}: {issues:?}");
        assert_eq!(issues[0]["count"], 2, "{name}");
    }
}
