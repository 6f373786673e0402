//! A DynamoDB table written by the first layout keeps working, and
//! `faultline store migrate` moves it to the current one without changing
//! what any issue shows.
//!
//! `tests/fixtures/dynamodb-layout-1.json` is a table that faultline wrote
//! at 48dfc6c (layout 1: each issue item holds its samples, hours and
//! facets), as DescribeTable and a Scan returned it, with the issues it
//! held (`issues`: id, count, first and last seen, status, title).
//!
//! `tests/fixtures/dynamodb-outbox-layout-3.json` is the outbox that
//! faultline queued at 92ac264 (layout 3: each alert under its bare id) for
//! three batches' four new issues, as a Scan returned it.

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use faultline::model::{BatchSummary, HourCount, IssueDelta, IssueDetail, Sample, StatusFilter};
use faultline::policy::Policy;
use faultline::store::Store;
use faultline::store::dynamodb::{DynamoDbStore, LAYOUT};
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string("tests/fixtures/dynamodb-layout-1.json").unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A table as layout 1 created it (its keys and its one index, `by_status`,
/// from the fixture's DescribeTable) holding the fixture's items, and
/// recording no layout.
async fn layout_1_table(moto: &support::Moto) -> (DynamoDbStore, aws_sdk_dynamodb::Client, String) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let described = &fixture()["table"];
    assert_eq!(
        described["GlobalSecondaryIndexes"][0]["IndexName"],
        "by_status"
    );
    let table = support::unique("layout1");
    let client = moto.dynamodb(None).await;
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let mut create = client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_status")
                .key_schema(key("status", KeyType::Hash))
                .key_schema(key("last_seen", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .set_non_key_attributes(Some(
                            described["GlobalSecondaryIndexes"][0]["Projection"]
                                ["NonKeyAttributes"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|a| a.as_str().unwrap().to_string())
                                .collect(),
                        ))
                        .build(),
                )
                .build()
                .unwrap(),
        );
    for definition in described["AttributeDefinitions"].as_array().unwrap() {
        let kind = match definition["AttributeType"].as_str().unwrap() {
            "S" => ScalarAttributeType::S,
            _ => ScalarAttributeType::N,
        };
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(definition["AttributeName"].as_str().unwrap())
                .attribute_type(kind)
                .build()
                .unwrap(),
        );
    }
    create.send().await.unwrap();
    let store = DynamoDbStore::new(client.clone(), &table).unwrap();
    for item in fixture()["items"].as_array().unwrap() {
        let item = support::item_from_json(item);
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    (store, client, table)
}

fn fixture_ids() -> Vec<String> {
    fixture()["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[0].as_str().unwrap().to_string())
        .collect()
}

async fn details(store: &dyn Store, ids: &[String]) -> Vec<IssueDetail> {
    let mut out = Vec::new();
    for id in ids {
        out.push(
            store
                .issue(id)
                .await
                .unwrap()
                .expect("issue in the fixture"),
        );
    }
    out
}

/// Items at `sk = ISSUE` that still hold what layout 1 kept in them.
async fn items_in_layout_1(client: &aws_sdk_dynamodb::Client, table: &str) -> usize {
    support::scan(client, table)
        .await
        .iter()
        .filter(|item| item.get("sk") == Some(&AttributeValue::S("ISSUE".into())))
        .filter(|item| {
            ["samples", "hours", "facets"]
                .iter()
                .any(|name| item.contains_key(*name))
        })
        .count()
}

#[tokio::test]
async fn a_layout_1_table_reads_the_same_after_migrate() {
    let Some(moto) = support::moto() else { return };
    let (store, client, table) = layout_1_table(moto).await;
    let ids = fixture_ids();
    let before = details(&store, &ids).await;
    // Everything layout 1 kept is shown before any conversion.
    assert!(
        before
            .iter()
            .all(|d| !d.samples.is_empty() && !d.hours.is_empty())
    );
    let expected: Vec<(String, u64, i64, i64, String, String)> = fixture()["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| serde_json::from_value(i.clone()).unwrap())
        .collect();
    let shown: Vec<(String, u64, i64, i64, String, String)> = before
        .iter()
        .map(|d| {
            let i = &d.issue;
            (
                i.id.clone(),
                i.count,
                i.first_seen,
                i.last_seen,
                i.status.as_str().to_string(),
                i.title.clone(),
            )
        })
        .collect();
    assert_eq!(shown, expected);
    // Listed from the index layout 1 made, before and after migrating.
    let listed = |issues: Vec<faultline::model::Issue>| {
        let mut ids: Vec<String> = issues.into_iter().map(|i| i.id).collect();
        ids.sort();
        ids
    };
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        listed(store.issues(StatusFilter::All).await.unwrap()),
        sorted
    );

    let migrated = store.migrate(false).await.unwrap();
    assert_eq!((migrated.from, migrated.to), (1, LAYOUT));
    assert!(
        migrated.notes.iter().any(|n| n.contains("--indexes")),
        "says how to drop the index every batch writes: {:?}",
        migrated.notes
    );
    assert_eq!(migrated.converted, Some(ids.len()));
    assert_eq!(items_in_layout_1(&client, &table).await, 0);
    let after = details(&store, &ids).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "issue {} reads the same after migrate", b.issue.id);
    }

    assert_eq!(
        listed(store.issues(StatusFilter::All).await.unwrap()),
        sorted
    );

    let again = store.migrate(false).await.unwrap();
    assert_eq!(
        (again.from, again.to, again.converted),
        (LAYOUT, LAYOUT, Some(0))
    );

    // The table is the store's own (no stack): swap its listing index.
    let swapped = store.migrate(true).await.unwrap();
    assert_eq!(
        swapped.notes,
        ["created index by_status_id", "dropped index by_status"]
    );
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = described
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    assert_eq!(names, ["by_status_id"]);
    assert_eq!(
        listed(store.issues(StatusFilter::All).await.unwrap()),
        sorted,
        "listed from the new index"
    );
    assert!(
        store.migrate(true).await.unwrap().notes.is_empty(),
        "nothing left to do"
    );
}

#[tokio::test]
async fn a_batch_converts_a_layout_1_issue_it_touches_and_counts_into_it() {
    let Some(moto) = support::moto() else { return };
    let (store, client, table) = layout_1_table(moto).await;
    let ids = fixture_ids();
    let before = details(&store, &ids).await;
    let touched = before
        .iter()
        .max_by_key(|d| d.samples.len())
        .expect("issues")
        .clone();
    let at = touched.issue.last_seen + 600_000;
    let sample = Sample {
        timestamp: at,
        event_id: "e-new".into(),
        ..touched.samples[0].clone()
    };
    let delta = IssueDelta {
        fingerprint: touched.issue.fingerprint.clone(),
        kind: touched.issue.kind.clone(),
        title: touched.issue.title.clone(),
        count: 3,
        first_seen: at,
        last_seen: at,
        samples: vec![sample],
        hours: vec![HourCount {
            hour: at - at.rem_euclid(3_600_000),
            count: 3,
        }],
        facets: Vec::new(),
        versions: Vec::new(),
        previous: Vec::new(),
    };
    let batch = BatchSummary {
        batch_id: "after-upgrade".into(),
        owner: "1".into(),
        log_group: touched.issue.log_group.clone(),
        log_stream: "s".into(),
        events: 3,
        errors: 3,
        issues: vec![delta],
        runs: Vec::new(),
    };
    let recorded = store.record(&batch, at, &Policy::default()).await.unwrap();
    assert!(
        recorded.new_issues.is_empty(),
        "a known issue, not a new one"
    );
    let now = store.issue(&touched.issue.id).await.unwrap().unwrap();
    assert_eq!(now.issue.count, touched.issue.count + 3);
    assert_eq!(now.facets, touched.facets, "its facets came along");
    let hours: u64 = now.hours.iter().map(|h| h.count).sum();
    let hours_before: u64 = touched.hours.iter().map(|h| h.count).sum();
    assert_eq!(hours, hours_before + 3, "its hours came along");
    assert_eq!(now.samples[0].event_id, "e-new", "newest first");
    assert_eq!(
        (touched.samples.len(), now.samples.len()),
        (10, 10),
        "the newest replaced the oldest"
    );
    assert_eq!(
        items_in_layout_1(&client, &table).await,
        ids.len() - 1,
        "only the issue the batch touched was converted"
    );
}

#[tokio::test]
async fn a_table_of_a_newer_layout_is_refused() {
    let Some(moto) = support::moto() else { return };
    let store = moto.fresh_store("newer", None).await;
    let client = moto.dynamodb(None).await;
    client
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S("META".into()))
        .item("sk", AttributeValue::S("LAYOUT".into()))
        .item("layout", AttributeValue::N((LAYOUT + 1).to_string()))
        .send()
        .await
        .unwrap();
    let refused = store.init().await.unwrap_err().to_string();
    assert!(refused.contains("newer faultline"), "{refused}");
    let refused = store.migrate(false).await.unwrap_err().to_string();
    assert!(refused.contains("newer faultline"), "{refused}");
}

/// Alerts an earlier faultline queued under their bare ids are claimed
/// after the upgrade, oldest first (their keys are not in that order) and
/// before what this faultline queued since, each once, and deleted when
/// sent: the outbox ends empty.
#[tokio::test]
async fn alerts_queued_under_their_bare_ids_are_still_claimed_oldest_first_and_delivered() {
    let Some(moto) = support::moto() else { return };
    let store = moto.fresh_store("outbox3", None).await;
    let client = moto.dynamodb(None).await;
    let text = std::fs::read_to_string("tests/fixtures/dynamodb-outbox-layout-3.json").unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let mut earlier: Vec<(i64, String)> = Vec::new();
    for item in fixture["items"].as_array().unwrap() {
        let item = support::item_from_json(item);
        let (Some(AttributeValue::S(id)), Some(AttributeValue::N(at))) =
            (item.get("sk"), item.get("created_at"))
        else {
            panic!("a queued alert has its id and age");
        };
        earlier.push((at.parse().unwrap(), id.clone()));
        client
            .put_item()
            .table_name(store.table())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    earlier.sort();
    let later = 1_796_000_300_000;
    support::queue_alerts(&client, store.table(), 1, later, support::AlertKeys::ByAge).await;
    let lease = 60_000;
    let now = later + 1;
    let first = store.claim_alerts(now, lease, 2).await.unwrap();
    let ids = |alerts: &[faultline::model::Alert]| -> Vec<String> {
        alerts.iter().map(|a| a.id.clone()).collect()
    };
    assert_eq!(
        ids(&first),
        vec![earlier[0].1.clone(), earlier[1].1.clone()],
        "the oldest two, whatever their keys' order"
    );
    let leased: Vec<String> = store
        .leased_alerts(now)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(leased.len(), 2);
    assert!(
        leased.iter().all(|id| ids(&first).contains(id)),
        "{leased:?}"
    );
    let second = store.claim_alerts(now, lease, 2).await.unwrap();
    assert_eq!(
        ids(&second),
        vec![earlier[2].1.clone(), earlier[3].1.clone()]
    );
    let third = store.claim_alerts(now, lease, 2).await.unwrap();
    assert_eq!(ids(&third), vec!["b00000:new_issue".to_string()]);
    for alert in first.iter().chain(&second).chain(&third) {
        store.alert_sent(alert, now).await.unwrap();
    }
    let left: Vec<_> = support::scan(&client, store.table())
        .await
        .into_iter()
        .filter(|item| item.get("pk") == Some(&AttributeValue::S("OUTBOX".into())))
        .collect();
    assert!(left.is_empty(), "every sent alert is deleted: {left:?}");
    assert!(
        store
            .claim_alerts(now + 10 * lease, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "and none is sent again"
    );
}
