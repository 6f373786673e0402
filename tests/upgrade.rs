//! Upgrading faultline on a store the previous release wrote announces no
//! known issue again.
//!
//! `tests/fixtures/store-v2-release.sql` is the SQLite store (as
//! `sqlite3 .dump` prints it) that faultline wrote at commit dc2d5dc, the
//! last release whose fingerprints were version 2 (an issue keyed by its
//! masked message), after ingesting the real-runtime corpus
//! (tests/corpus/events.jsonl) as [`write_corpus_batches`] writes it. To
//! write it again, build faultline at that commit and run:
//!
//! ```sh
//! FAULTLINE_UPGRADE_INPUTS=/tmp/in cargo test --test upgrade -- --ignored write_upgrade_inputs
//! cd /tmp/fx && OLD/faultline ingest --notify none /tmp/in
//! sqlite3 .faultline/faultline.db 'DELETE FROM outbox; DELETE FROM batches'
//! sqlite3 .faultline/faultline.db .dump > tests/fixtures/store-v2-release.sql
//! ```
//!
//! (The sent alerts and the batch ids are left out: the test records the
//! same deliveries again, as a store sees the same errors on later days.)
//!
//! Today's faultline keys most of those errors differently (version 3: the
//! throw site), so without aliases every one of them would be a new issue.

mod common;

use std::path::Path;

use common::faultline;
use serde::Deserialize;
use serde_json::json;

/// 2025-11-23T12:00:00Z: the corpus's first event.
const T0: i64 = 1_763_899_200_000;

#[derive(Deserialize)]
struct Labelled {
    stream: String,
    #[serde(default)]
    batch: u32,
    message: String,
}

/// One DATA_MESSAGE file per delivery of each corpus stream, named so that
/// each stream's deliveries are read in order (a trace cut between two is
/// carried across).
fn write_corpus_batches(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let labelled: Vec<Labelled> = include_str!("corpus/events.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut start = 0;
    let mut file = 0;
    while start < labelled.len() {
        let (stream, batch) = (&labelled[start].stream, labelled[start].batch);
        let end = start
            + labelled[start..]
                .iter()
                .position(|l| &l.stream != stream || l.batch != batch)
                .unwrap_or(labelled.len() - start);
        let events: Vec<_> = (start..end)
            .map(|i| json!({"id": format!("{i:08}"), "timestamp": T0 + i as i64 * 1000, "message": labelled[i].message}))
            .collect();
        let message = json!({
            "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/corpus",
            "logStream": stream, "subscriptionFilters": ["faultline"], "logEvents": events,
        });
        std::fs::write(dir.join(format!("{file:04}.json")), message.to_string()).unwrap();
        file += 1;
        start = end;
    }
}

#[test]
#[ignore = "writes the inputs the fixture was made from; see the module doc"]
fn write_upgrade_inputs() {
    let dir = std::env::var("FAULTLINE_UPGRADE_INPUTS").expect("FAULTLINE_UPGRADE_INPUTS=DIR");
    write_corpus_batches(Path::new(&dir));
}

#[test]
fn the_same_errors_after_an_upgrade_count_into_the_issues_they_had() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    write_corpus_batches(&inputs);
    let db = dir.path().join(".faultline").join("faultline.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let old = rusqlite::Connection::open(&db).unwrap();
    old.execute_batch(include_str!("fixtures/store-v2-release.sql"))
        .unwrap();
    let totals = |conn: &rusqlite::Connection| -> (i64, i64) {
        conn.query_row(
            "SELECT count(*), sum(count) FROM issues WHERE status != 'merged'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (issues, occurrences) = totals(&old);
    assert_eq!((issues, occurrences), (64, 879), "the fixture as written");
    drop(old);

    let out = faultline(&["ingest", "--notify", "console", "in"], dir.path());
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains(" 0 new issues"), "{summary}");
    let errors: i64 = summary
        .split(" errors,")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no error count in {summary}"));
    // The corpus's runs are new to the store and get their digests; no
    // issue alert goes out.
    let alerts = String::from_utf8_lossy(&out.stdout);
    let announced: Vec<&str> = alerts
        .lines()
        .filter(|l| l.starts_with("[faultline]") && !l.starts_with("[faultline] run digest"))
        .collect();
    assert!(announced.is_empty(), "{announced:#?}");

    let upgraded = rusqlite::Connection::open(&db).unwrap();
    // Version 3 joins v2 issues that split one throw site by message (11
    // of the 64 when this was written): each is merged into another, its
    // count summed there.
    let joined: i64 = upgraded
        .query_row(
            "SELECT count(*) FROM issues WHERE status = 'merged'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(joined > 0, "no issue was joined: the test proves nothing");
    assert_eq!(
        totals(&upgraded),
        (issues - joined, occurrences + errors),
        "every occurrence counted, into the issues the store had"
    );
    let aliases: i64 = upgraded
        .query_row("SELECT count(*) FROM aliases", [], |r| r.get(0))
        .unwrap();
    // Errors keyed differently now (23 keys when this was written; version
    // 3 joins many of version 2's issues): without the aliases each would
    // have been announced as new.
    assert!(
        aliases > 0,
        "no error changed its key: the test proves nothing"
    );
}

/// The release fixture's two issues of one throw site, which version 2
/// split by the table name in the message (`customers-eu-prod`, 30
/// occurrences; `customers-prod`, 10).
const EU_PROD: &str = "e6bb08a04ff4";
const PROD: &str = "7e7ee76a9cc1";

/// The corpus's trace of that throw site, one log event per line as the
/// awslogs driver writes it, ending with `env`'s table.
fn lookup_trace(env: &str) -> Vec<String> {
    [
        "Traceback (most recent call last):",
        "  File \"/var/task/orders.py\", line 109, in <module>",
        "    main()",
        "  File \"/var/task/orders.py\", line 106, in main",
        "    process(bug, rng)",
        "  File \"/var/task/orders.py\", line 89, in process",
        "    return load_table(rng.choice(ENVIRONMENTS))",
        "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        "  File \"/var/task/orders.py\", line 59, in load_table",
        "    raise LookupError(f\"Table customers-{env} not found in region eu-west-1\")",
    ]
    .iter()
    .map(|l| l.to_string())
    .chain([format!(
        "LookupError: Table customers-{env} not found in region eu-west-1"
    )])
    .collect()
}

#[test]
fn the_v2_issues_version_3_joins_become_one_issue_and_nothing_is_announced() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".faultline").join("faultline.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let old = rusqlite::Connection::open(&db).unwrap();
    old.execute_batch(include_str!("fixtures/store-v2-release.sql"))
        .unwrap();
    old.execute_batch(&format!(
        "DELETE FROM issues WHERE id NOT IN ('{EU_PROD}', '{PROD}');
         DELETE FROM hours WHERE issue_id NOT IN ('{EU_PROD}', '{PROD}');
         DELETE FROM facets WHERE issue_id NOT IN ('{EU_PROD}', '{PROD}');
         DELETE FROM samples WHERE issue_id NOT IN ('{EU_PROD}', '{PROD}');"
    ))
    .unwrap();
    let before: Vec<(String, i64)> = old
        .prepare("SELECT id, count FROM issues ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        before,
        [(PROD.to_string(), 10), (EU_PROD.to_string(), 30)],
        "the fixture as written"
    );
    drop(old);

    // Each table's trace once, with a line between that is no error.
    let lines: Vec<String> = lookup_trace("eu-prod")
        .into_iter()
        .chain(["Processing batch 5 of 9".to_string()])
        .chain(lookup_trace("prod"))
        .collect();
    let events: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("{i:08}"), "timestamp": T0 + 86_400_000 + i as i64 * 1000, "message": m}))
        .collect();
    let message = json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/corpus",
        "logStream": "python/batch-python-awslogs/v1", "subscriptionFilters": ["faultline"],
        "logEvents": events,
    });
    std::fs::write(dir.path().join("in.json"), message.to_string()).unwrap();

    let out = faultline(&["ingest", "--notify", "console", "in.json"], dir.path());
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{summary}");
    assert!(summary.contains(" 0 new issues"), "{summary}");
    let alerts = String::from_utf8_lossy(&out.stdout);
    assert!(
        !alerts.lines().any(|l| l.starts_with("[faultline]")),
        "announced: {alerts}"
    );

    let out = faultline(&["issues", "--status", "all", "--json"], dir.path());
    assert!(out.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<(&str, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(listed.len(), 1, "listed once: {listed:?}");
    assert_eq!(listed[0].1, 30 + 10 + 2, "both counts and the new two");
    let other = if listed[0].0 == EU_PROD {
        PROD
    } else {
        EU_PROD
    };
    let shown = faultline(&["issues", "show", other], dir.path());
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains(&format!("merged into  {}", listed[0].0)),
        "{shown}"
    );
}
