//! Runs on DynamoDB are listed from a time index that stops at the
//! listing's limit, and the runs an older faultline wrote join it.
//!
//! `tests/fixtures/dynamodb-runs-unindexed.json` holds the run items that
//! faultline wrote just before the index (the commit "DynamoDB: a run whose
//! settlement sends more held alerts ... settles in chunks"): three settled
//! runs of a Step Functions job, one still going without a start, and a
//! Batch attempt's task folded into its job. They were recorded through
//! `Store::record` and `Store::settle_runs` with the default policy and
//! dumped from moto by a scan; the issue items, batch markers and alerts
//! were left out (the runs do not need them, and their layout is not the
//! runs' to pin).

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use faultline::model::{
    BatchSummary, HourCount, IssueDelta, Outcome, RunDelta, RunIssueDelta, RunSource, issue_id,
};
use faultline::policy::Policy;
use faultline::store::dynamodb::DynamoDbStore;
use faultline::store::{RunFilter, Store};
use support::capacity::Meter;
use support::proxy::Proxy;

const T: i64 = 1_763_900_000_000;
const MINUTE: i64 = 60_000;

fn delta(fingerprint: &str, t: i64) -> IssueDelta {
    IssueDelta {
        fingerprint: fingerprint.to_string(),
        kind: "KeyError".into(),
        title: format!("KeyError: {fingerprint}"),
        count: 1,
        first_seen: t,
        last_seen: t,
        samples: Vec::new(),
        hours: vec![HourCount {
            hour: t - t.rem_euclid(3_600_000),
            count: 1,
        }],
        facets: Vec::new(),
        versions: Vec::new(),
        previous: Vec::new(),
    }
}

/// A batch of the execution `name` of the state machine `nightly`, which
/// started at `start`, failed a minute later and logged `fp-a`.
fn ended_run(name: &str, start: i64) -> BatchSummary {
    let mut d = RunDelta::new(
        format!("sfn:arn:aws:states:eu-west-1:1:execution:nightly:{name}"),
        RunSource::StepFunctions,
        "nightly".into(),
        name.into(),
    );
    d.log_group = "/aws/lambda/f".into();
    d.errors = 1;
    d.started = Some(start);
    d.ended = Some((start + MINUTE, Outcome::Failed));
    d.last_event = Some(start + MINUTE);
    d.issues = vec![RunIssueDelta {
        fingerprint: "fp-a".into(),
        count: 1,
        recovered: 0,
    }];
    BatchSummary {
        batch_id: name.into(),
        owner: "123456789012".into(),
        log_group: "/aws/lambda/f".into(),
        log_stream: "s".into(),
        events: 1,
        errors: 1,
        issues: vec![delta("fp-a", start)],
        runs: vec![d],
    }
}

fn names(runs: &[faultline::model::Run]) -> Vec<String> {
    runs.iter().map(|r| r.name.clone()).collect()
}

#[tokio::test]
async fn listing_the_newest_runs_reads_as_much_among_many_runs_as_among_few() {
    let Some(moto) = support::moto() else {
        return;
    };
    let policy = Policy::default();
    let mut bills = Vec::new();
    for count in [6, 48] {
        let table = moto
            .fresh_store("runsindex", None)
            .await
            .table()
            .to_string();
        let meter = Arc::new(Meter::new());
        let proxy = Proxy::metered(&moto.endpoint, Arc::clone(&meter));
        let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config_at(&proxy.endpoint).await);
        let store = DynamoDbStore::new(client, &table).unwrap();
        for i in 0..count {
            let start = T + i * 10 * MINUTE;
            store
                .record(&ended_run(&format!("r{i:02}"), start), start, &policy)
                .await
                .unwrap();
        }
        store
            .settle_runs(T + count * 10 * MINUTE, 0, &policy)
            .await
            .unwrap();
        let newest: Vec<String> = (count - 5..count)
            .rev()
            .map(|i| format!("r{i:02}"))
            .collect();

        meter.take();
        let listed = store
            .runs(&RunFilter {
                limit: Some(5),
                ..RunFilter::default()
            })
            .await
            .unwrap();
        let listing = meter.take();
        assert_eq!(names(&listed), newest);
        let appeared = store.issue_runs(&issue_id("fp-a"), 5).await.unwrap();
        let issue_page = meter.take();
        assert_eq!(names(&appeared), newest);
        eprintln!(
            "{count} runs: newest 5 read {} units in {} requests; an issue's newest 5 runs {} in {}",
            listing.reads, listing.requests, issue_page.reads, issue_page.requests
        );
        // `runs show` with what the console shows: one read, not a listing.
        let arn = "arn:aws:states:eu-west-1:1:execution:nightly:r03";
        let shown = faultline::store::resolve_run(&store, arn).await.unwrap();
        let lookup = meter.take();
        assert_eq!(shown, faultline::model::run_id(&format!("sfn:{arn}")));
        eprintln!(
            "{count} runs: `runs show ARN` read {} units in {} requests",
            lookup.reads, lookup.requests
        );
        bills.push((listing.reads, issue_page.reads, lookup.reads));
        // A run's name reads every run item (the whole partition), not
        // every run's links as a listing does.
        let named = faultline::store::resolve_run(&store, "r03").await.unwrap();
        let by_name = meter.take();
        assert_eq!(named, shown);
        eprintln!(
            "{count} runs: `runs show NAME` read {} units in {} requests",
            by_name.reads, by_name.requests
        );
        assert!(
            by_name.requests <= 6,
            "one Query of the runs, beside the reads by key: {by_name:?}"
        );
    }
    assert_eq!(
        bills[0], bills[1],
        "the newest five runs, an issue's and `runs show ARN` cost the same reads among 6 runs and among 48"
    );
}

/// A job's item keeps what later settlements need, not every issue the
/// job ever had: without auto-resolution, the last run's issues (which a
/// streak may go on from). Ten runs of five issues each, none twice.
#[tokio::test]
async fn a_jobs_item_keeps_its_last_runs_issues_not_all_it_ever_had() {
    let Some(moto) = support::moto() else {
        return;
    };
    let store = moto.fresh_store("jobitem", None).await;
    let table = store.table().to_string();
    let policy = Policy::default();
    for i in 0..10 {
        let start = T + i * 10 * MINUTE;
        let mut batch = ended_run(&format!("r{i:02}"), start);
        let fingerprints: Vec<String> = (0..5).map(|k| format!("fp-{i}-{k}")).collect();
        batch.issues = fingerprints.iter().map(|f| delta(f, start)).collect();
        batch.runs[0].issues = fingerprints
            .iter()
            .map(|f| RunIssueDelta {
                fingerprint: f.clone(),
                count: 1,
                recovered: 0,
            })
            .collect();
        batch.errors = 5;
        batch.runs[0].errors = 5;
        store.record(&batch, start, &policy).await.unwrap();
        store
            .settle_runs(start + 5 * MINUTE, 0, &policy)
            .await
            .unwrap();
    }
    let client = moto.dynamodb(None).await;
    let items = support::scan(&client, &table).await;
    let job = items
        .iter()
        .find(|i| text(i, "pk") == "JOB#nightly")
        .expect("the job's item");
    let kept: Vec<(String, u64, u32)> = serde_json::from_str(text(job, "issues")).unwrap();
    let mut ids: Vec<String> = kept.into_iter().map(|(id, _, _)| id).collect();
    ids.sort();
    let mut last: Vec<String> = (0..5).map(|k| issue_id(&format!("fp-9-{k}"))).collect();
    last.sort();
    assert_eq!(ids, last, "the last run's five, not fifty");
}

type Item = HashMap<String, AttributeValue>;

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v,
        _ => "",
    }
}

/// The newest ten runs, and the runs `fp-a` appeared in, by name.
async fn listed(store: &DynamoDbStore) -> (Vec<String>, Vec<String>) {
    let newest = RunFilter {
        limit: Some(10),
        ..RunFilter::default()
    };
    let runs = names(&store.runs(&newest).await.unwrap());
    let of_a = names(&store.issue_runs(&issue_id("fp-a"), 10).await.unwrap());
    (runs, of_a)
}

/// A table as the older faultline left it (the fixture's items, no
/// marker), its client, name and store.
async fn older_table(moto: &support::Moto) -> (aws_sdk_dynamodb::Client, String, DynamoDbStore) {
    let client = moto.dynamodb(None).await;
    let table = support::unique("unindexed");
    let store = DynamoDbStore::new(client.clone(), &table).unwrap();
    store.init().await.unwrap();
    // The table as the older faultline left it: its items, and no marker.
    for item in support::scan(&client, &table).await {
        let key: Item = ["pk", "sk"]
            .iter()
            .map(|k| (k.to_string(), item[*k].clone()))
            .collect();
        client
            .delete_item()
            .table_name(&table)
            .set_key(Some(key))
            .send()
            .await
            .unwrap();
    }
    let fixture: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("fixtures/dynamodb-runs-unindexed.json")).unwrap();
    for item in &fixture {
        let item: Item = support::item_from_json(item);
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    (client, table, store)
}

#[tokio::test]
async fn runs_an_older_faultline_wrote_are_listed_before_and_after_they_are_indexed() {
    let Some(moto) = support::moto() else {
        return;
    };
    let (client, table, store) = older_table(moto).await;
    let before = listed(&store).await;
    assert_eq!(
        before.0,
        ["n4", "resize-1", "n3", "n2", "n1"],
        "the runs as the older faultline listed them"
    );
    assert_eq!(before.1, ["n4", "n3", "n1"]);

    // The first settling indexes them (the runs are long quiet by now).
    store
        .settle_runs(T + 1000 * MINUTE, 0, &Policy::default())
        .await
        .unwrap();
    assert_eq!(listed(&store).await, before);
    let items = support::scan(&client, &table).await;
    // A run folded into another lost its links; its issues' links to it
    // lead to a merged run, which listings pass over until they expire.
    let live: Vec<&str> = items
        .iter()
        .filter(|i| text(i, "pk") == "RUNS" && !i.contains_key("merged_into"))
        .map(|i| text(i, "sk"))
        .collect();
    let unindexed: Vec<&Item> = items
        .iter()
        .filter(|i| text(i, "pk").starts_with("ISSUERUNS#") && live.contains(&text(i, "sk")))
        .collect();
    assert!(unindexed.is_empty(), "links left unindexed: {unindexed:?}");
    let runs_at = items.iter().filter(|i| text(i, "pk") == "RUNS#AT").count();
    assert_eq!(runs_at, 5, "one index entry per live run");
    let links_without_ttl = items
        .iter()
        .filter(|i| text(i, "pk").starts_with("RUN#") && !i.contains_key("expires_at"))
        .count();
    assert_eq!(links_without_ttl, 0, "every link of a run expires");
}

/// One run item among those an older faultline wrote does not read: the
/// others are indexed all the same, the warning names the command that
/// removes it, and the run, once repaired, is indexed by `store init`.
#[tokio::test]
async fn a_damaged_run_is_left_out_of_the_index_and_the_others_go_in() {
    let Some(moto) = support::moto() else {
        return;
    };
    let (client, table, store) = older_table(moto).await;
    let before = listed(&store).await;
    let n2 = faultline::model::run_id("sfn:arn:aws:states:eu-west-1:1:execution:nightly:n2");
    let run_key: Item = HashMap::from([
        ("pk".to_string(), AttributeValue::S("RUNS".into())),
        ("sk".to_string(), AttributeValue::S(n2.clone())),
    ]);
    let errors = client
        .get_item()
        .table_name(&table)
        .set_key(Some(run_key.clone()))
        .send()
        .await
        .unwrap()
        .item()
        .unwrap()["errors"]
        .clone();
    let set_errors = |update: &str| {
        client
            .update_item()
            .table_name(&table)
            .set_key(Some(run_key.clone()))
            .update_expression(update)
            .condition_expression("attribute_exists(pk)")
    };
    set_errors("REMOVE errors").send().await.unwrap();

    let store_url = format!("dynamodb://{table}");
    let init = moto.faultline(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        &["store", "init", "--store", &store_url],
    );
    let said = String::from_utf8_lossy(&init.stderr);
    assert!(init.status.success(), "{said}");
    assert!(
        said.contains(&format!("`faultline runs forget {n2}`")),
        "{said}"
    );
    let items = support::scan(&client, &table).await;
    assert!(
        items
            .iter()
            .any(|i| text(i, "pk") == "UNSETTLED" && text(i, "sk") == "!indexed"),
        "the marker is written: the damaged run is not scanned for at every settling"
    );
    let without_n2: Vec<String> = before.0.iter().filter(|n| *n != "n2").cloned().collect();
    assert_eq!(listed(&store).await, (without_n2, before.1.clone()));

    set_errors("SET errors = :e")
        .expression_attribute_values(":e", errors)
        .send()
        .await
        .unwrap();
    store.init().await.unwrap();
    assert_eq!(listed(&store).await, before, "repaired, it is listed again");
}
