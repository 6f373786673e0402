//! Options mean the same wherever they stand on the command line, or the
//! parser refuses them: never silently dropped. Every option of `issues`
//! is tried before and after every action.

use std::path::Path;

mod common;

use common::{faultline, ok};

fn batch(kind: &str, id: &str) -> String {
    serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/t", "logStream": "s",
        "logEvents": [{"id": id, "timestamp": 1_763_900_000_000i64, "message": format!("[ERROR] {kind}: 'x'\n")}],
    })
    .to_string()
}

/// Two stores with different issues: `other.db` holds KeyError (open) and
/// ValueError (resolved); the default store holds only TypeError. Whichever
/// store a command really used shows in its effect.
fn two_stores(dir: &Path) -> (String, String) {
    std::fs::write(dir.join("a.json"), batch("KeyError", "1")).unwrap();
    std::fs::write(dir.join("b.json"), batch("ValueError", "2")).unwrap();
    std::fs::write(dir.join("c.json"), batch("TypeError", "3")).unwrap();
    let other = "sqlite:other.db";
    ok(
        &[
            "ingest", "--notify", "none", "--store", other, "a.json", "b.json",
        ],
        dir,
    );
    ok(&["ingest", "--notify", "none", "c.json"], dir);
    let all: serde_json::Value = serde_json::from_str(&ok(
        &[
            "issues", "list", "--store", other, "--status", "all", "--json",
        ],
        dir,
    ))
    .unwrap();
    let id_of = |kind: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == kind)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (key, value) = (id_of("KeyError"), id_of("ValueError"));
    ok(&["issues", "resolve", &value, "--store", other], dir);
    (key, value)
}

fn statuses(dir: &Path, store: &str) -> Vec<(String, String)> {
    let all: serde_json::Value = serde_json::from_str(&ok(
        &["issues", "--store", store, "--status", "all", "--json"],
        dir,
    ))
    .unwrap();
    let mut pairs: Vec<(String, String)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn every_issues_option_means_the_same_before_and_after_every_action_or_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (key, _) = two_stores(dir);
    let default_before = statuses(dir, "sqlite:.faultline/faultline.db");
    let actions: Vec<Vec<&str>> = vec![
        vec![],
        vec!["list"],
        vec!["show", &key],
        vec!["resolve", &key],
        vec!["ignore", &key],
        vec!["reopen", &key],
    ];
    let options: [&[&str]; 3] = [
        &["--store", "sqlite:other.db"],
        &["--json"],
        &["--status", "all"],
    ];
    for action in &actions {
        for option in options {
            let mut outcomes = Vec::new();
            for before in [true, false] {
                let mut args = vec!["issues"];
                if before {
                    args.extend_from_slice(option);
                    args.extend_from_slice(action);
                } else {
                    args.extend_from_slice(action);
                    args.extend_from_slice(option);
                }
                // The store is named wherever the option under test is not
                // --store, so each run touches other.db only through it.
                let names_store = option[0] == "--store";
                if !names_store {
                    args.extend_from_slice(&["--store", "sqlite:other.db"]);
                }
                let out = faultline(&args, dir);
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                let outcome = match out.status.code() {
                    Some(2) => "refused".to_string(),
                    Some(0) => {
                        match option[0] {
                            "--store" => {
                                // Done on other.db: it lists or shows KeyError.
                                assert!(
                                    stdout.contains("KeyError") || stdout.contains(&key),
                                    "{args:?} did not use other.db:\n{stdout}"
                                );
                            }
                            "--json" => {
                                serde_json::from_str::<serde_json::Value>(&stdout).unwrap_or_else(
                                    |e| panic!("{args:?} printed no JSON ({e}):\n{stdout}"),
                                );
                            }
                            "--status" => assert!(
                                stdout.contains("ValueError"),
                                "{args:?} did not list the resolved issue:\n{stdout}"
                            ),
                            _ => assert!(
                                stdout.contains("KeyError"),
                                "{args:?} did not list KeyError:\n{stdout}"
                            ),
                        }
                        "done".to_string()
                    }
                    _ => panic!("{args:?} failed: {stderr}"),
                };
                assert_eq!(
                    statuses(dir, "sqlite:.faultline/faultline.db"),
                    default_before,
                    "{args:?} changed the default store"
                );
                outcomes.push(outcome);
                // Each action starts from KeyError open.
                ok(
                    &["issues", "reopen", &key, "--store", "sqlite:other.db"],
                    dir,
                );
            }
            assert_eq!(
                outcomes[0], outcomes[1],
                "issues {action:?} with {option:?}: before and after differ"
            );
            let lists = action.is_empty() || action[0] == "list";
            let list_only = !matches!(option[0], "--store" | "--json");
            if list_only {
                let expected = if lists { "done" } else { "refused" };
                assert_eq!(outcomes[0], expected, "issues {action:?} {option:?}");
            } else {
                assert_eq!(outcomes[0], "done", "issues {action:?} {option:?}");
            }
        }
    }
}

#[test]
fn the_action_took_effect_in_the_store_named_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (key, _) = two_stores(dir);
    ok(
        &["issues", "--store", "sqlite:other.db", "resolve", &key],
        dir,
    );
    assert!(statuses(dir, "sqlite:other.db").contains(&("KeyError".into(), "resolved".into())));
    ok(&["store", "--store", "sqlite:third.db", "init"], dir);
    assert!(dir.join("third.db").exists());
}

#[test]
fn reading_never_creates_a_store_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["issues"],
        vec!["issues", "--store", "sqlite:typo/x.db"],
        vec!["issues", "show", "abc", "--store", "sqlite:typo.db"],
        vec!["issues", "resolve", "abc", "--store", "sqlite:typo.db"],
        vec!["report", "--html", "r.html", "--store", "sqlite:typo.db"],
    ] {
        let out = faultline(&args, dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        let named = args
            .iter()
            .find_map(|a| a.strip_prefix("sqlite:"))
            .unwrap_or(".faultline/faultline.db");
        assert!(
            stderr.contains(&format!("no store at {named}")),
            "{args:?}: {stderr}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "{args:?} created {left:?}");
    }
}

#[test]
fn a_read_only_store_can_be_listed_shown_and_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = two_stores(dir.path());
    // The store in a folder nobody may write, the file itself read-only;
    // the reader is an unprivileged user (root would write regardless).
    let shelf = dir.path().join("shelf");
    std::fs::create_dir(&shelf).unwrap();
    std::fs::copy(dir.path().join("other.db"), shelf.join("ro.db")).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    for (path, mode) in [
        (shelf.join("ro.db"), 0o444),
        (shelf.clone(), 0o555),
        (out_dir.clone(), 0o777),
        (dir.path().to_path_buf(), 0o755),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let store = format!("sqlite:{}", shelf.join("ro.db").display());
    let report = out_dir.join("r.html");
    let report = report.to_str().unwrap();
    let as_reader = |args: &[&str]| {
        let mut command = if running_as_root() {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_faultline"));
            c
        } else {
            std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        };
        command
            .args(args)
            .current_dir(&out_dir)
            .env_remove("FAULTLINE_STORE")
            .output()
            .unwrap()
    };
    for args in [
        vec!["issues", "--store", &store, "--status", "all"],
        vec!["issues", "show", &key, "--store", &store],
        vec!["report", "--html", report, "--store", &store],
    ] {
        let out = as_reader(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&key) || args[0] == "report",
            "{args:?}"
        );
    }
    let changed = as_reader(&["issues", "resolve", &key, "--store", &store]);
    assert!(!changed.status.success(), "a change is refused, not lost");
    assert!(
        String::from_utf8_lossy(&changed.stderr).contains("readonly"),
        "{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    std::fs::set_permissions(&shelf, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether this process runs as root (whom file modes do not stop).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn the_listing_finds_what_you_look_for() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let hour = 3_600_000;
    // (log group, kind, occurrences at these hours ago)
    let plan: [(&str, &str, &[i64]); 4] = [
        ("/aws/lambda/orders", "KeyError", &[30, 30, 30, 30]),
        ("/aws/lambda/orders", "TimeoutError", &[1, 2, 3]),
        ("/aws/lambda/billing", "KeyError", &[200]),
        ("/aws/batch/nightly", "ValueError", &[5, 40]),
    ];
    let mut n = 0;
    for (group, kind, ages) in plan {
        for age in ages {
            n += 1;
            let batch = serde_json::json!({
                "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": group, "logStream": format!("s{n}"),
                "logEvents": [{"id": n.to_string(), "timestamp": now - age * hour,
                    "message": format!("[ERROR] {kind}: 'x'\n")}],
            });
            std::fs::write(dir.join(format!("{n}.json")), batch.to_string()).unwrap();
        }
    }
    ok(&["ingest", "--notify", "none", "."], dir);
    let list = |args: &[&str]| -> Vec<(String, String)> {
        let mut full = vec!["issues", "--json"];
        full.extend_from_slice(args);
        let listed: serde_json::Value = serde_json::from_str(&ok(&full, dir)).unwrap();
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["log_group"]
                        .as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_string(),
                    i["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let pair = |g: &str, k: &str| (g.to_string(), k.to_string());
    assert_eq!(
        list(&["--log-group", "/aws/lambda/orders", "--sort", "count"]),
        vec![pair("orders", "KeyError"), pair("orders", "TimeoutError")]
    );
    assert_eq!(
        list(&["--kind", "KeyError", "--sort", "first"]),
        vec![pair("orders", "KeyError"), pair("billing", "KeyError")]
    );
    assert_eq!(
        list(&["--grep", "VALUEerr"]),
        vec![pair("nightly", "ValueError")]
    );
    let recent = list(&["--since", "24h"]);
    assert_eq!(
        recent,
        vec![
            pair("orders", "TimeoutError"),
            pair("nightly", "ValueError")
        ]
    );
    assert_eq!(
        list(&["--sort", "last", "--limit", "1"]),
        vec![pair("orders", "TimeoutError")]
    );
    // Trend: TimeoutError grew by 3 in the last day; ValueError by 1 - 1;
    // KeyError (orders) fell by 4.
    let trend = list(&["--sort", "trend"]);
    assert_eq!(trend[0], pair("orders", "TimeoutError"), "{trend:?}");
    assert_eq!(
        trend.last().unwrap(),
        &pair("orders", "KeyError"),
        "{trend:?}"
    );
}

/// `--grep` on a SQLite store also finds what only a kept sample says: a
/// word past the end of the title, cut at 160 bytes.
#[test]
fn grep_finds_words_of_the_message_that_the_title_cuts_off() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let long = format!(
        "[ERROR] KeyError: {} while reading shard-7f3e\n",
        "the order had no such field ".repeat(8)
    );
    for (n, message) in [long.as_str(), "[ERROR] ValueError: bad row\n"]
        .iter()
        .enumerate()
    {
        let batch = serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/orders",
            "logStream": "s", "logEvents": [{"id": n.to_string(), "timestamp": 1_763_900_000_000i64 + n as i64, "message": message}],
        });
        std::fs::write(dir.join(format!("{n}.json")), batch.to_string()).unwrap();
    }
    ok(&["ingest", "--notify", "none", "."], dir);
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&["issues", "--json", "--grep", "SHARD-7F3E"], dir)).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["kind"], "KeyError");
    assert!(
        !listed[0]["title"].as_str().unwrap().contains("shard-7f3e"),
        "the word is past the title: {}",
        listed[0]["title"]
    );
}
