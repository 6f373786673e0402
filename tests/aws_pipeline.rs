//! The pipeline on DynamoDB and SNS (the emulator, see tests/support):
//! exactly-once counting under replays and concurrency, alerts that survive
//! a failed send, and what a batch costs in DynamoDB requests.

mod support;

use faultline::notify::Discard;
use faultline::notify::sns::SnsNotifier;
use faultline::pipeline::{self, ALERT_LEASE_MS, Pipeline, Prepared, system_clock};
use faultline::store::dynamodb::{DynamoDbStore, ISSUES_PER_WRITE, chunk_ranges};
use support::{RequestLog, announced_issue_ids, reference, snapshot};

#[tokio::test]
async fn every_batch_replayed_changes_no_count_and_sends_no_second_alert() {
    let Some(moto) = support::moto() else { return };
    let (topic, queue) = moto.topic_with_queue("replay").await;
    let pipeline = Pipeline::new(
        Box::new(moto.fresh_store("replay", None).await),
        Box::new(SnsNotifier::new(moto.sns().await, &topic).unwrap()),
    );
    let mut inputs = support::shipped_events();
    inputs.extend(support::overlapping_batches("/aws/batch/replay", 4));

    for input in &inputs {
        pipeline.ingest(input).await.unwrap();
    }
    let counted = snapshot(pipeline.store.as_ref()).await;
    assert_eq!(
        counted,
        reference(&inputs).await,
        "DynamoDB and SQLite agree"
    );
    let (sqlite, _dir) = support::reference_store(&inputs).await;
    assert_eq!(
        support::details(pipeline.store.as_ref()).await,
        support::details(sqlite.store.as_ref()).await,
        "samples, hours and facets agree too"
    );
    let announced = announced_issue_ids(&moto.drain(&queue).await);
    let ids: Vec<String> = counted.iter().map(|i| i.0.clone()).collect();
    assert_eq!(announced, ids, "every issue announced once");

    for input in &inputs {
        let (recorded, flushed) = pipeline.ingest(input).await.unwrap();
        if let Some(recorded) = recorded {
            assert!(recorded.duplicate, "a replay is recognised");
            assert!(recorded.new_issues.is_empty());
        }
        assert_eq!(flushed.sent, 0);
    }
    assert_eq!(snapshot(pipeline.store.as_ref()).await, counted);
    assert!(moto.drain(&queue).await.is_empty(), "no second alert");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_concurrent_ingesters_count_every_batch_once_and_announce_each_issue_once() {
    let Some(moto) = support::moto() else { return };
    let (topic, queue) = moto.topic_with_queue("concurrent").await;
    let table = moto
        .fresh_store("concurrent", None)
        .await
        .table()
        .to_string();
    // Batches that share issues, so the ingesters race on the same items
    // (not only on batch markers), plus the shipped events.
    let mut inputs = support::overlapping_batches("/aws/batch/nightly", 12);
    inputs.extend(support::shipped_events());

    let log = RequestLog::default();
    let mut tasks = Vec::new();
    for ingester in 0..4 {
        let store = DynamoDbStore::new(moto.dynamodb(Some(&log)).await, &table).unwrap();
        let notifier = SnsNotifier::new(moto.sns().await, &topic).unwrap();
        let mut order = inputs.clone();
        order.rotate_left(ingester * 3);
        tasks.push(tokio::spawn(async move {
            let pipeline = Pipeline::new(Box::new(store), Box::new(notifier));
            let mut recorded = 0;
            for input in &order {
                if let (Some(r), _) = pipeline.ingest(input).await.unwrap() {
                    recorded += usize::from(!r.duplicate);
                }
            }
            recorded
        }));
    }
    let mut recorded = 0;
    for task in tasks {
        recorded += task.await.unwrap();
    }

    let batches = inputs
        .iter()
        .filter(|i| matches!(pipeline::prepare(i), Ok(Prepared::Batch(_))))
        .count();
    assert_eq!(
        recorded, batches,
        "each batch recorded by exactly one ingester"
    );
    // Each ingester sends at least one transaction per batch with errors (a
    // replay's is refused); more means a lost race on an issue, re-read and
    // retried.
    let with_errors = inputs
        .iter()
        .filter(|i| matches!(pipeline::prepare(i), Ok(Prepared::Batch(b)) if !b.issues.is_empty()))
        .count();
    let transactions = log
        .take()
        .iter()
        .filter(|op| *op == "TransactWriteItems")
        .count();
    eprintln!(
        "{with_errors} batches with errors x 4 ingesters: {transactions} transactions, {} retried after losing a race",
        transactions - 4 * with_errors
    );
    let store = DynamoDbStore::new(moto.dynamodb(None).await, &table).unwrap();
    let counted = snapshot(&store).await;
    assert_eq!(counted, reference(&inputs).await, "exact totals");
    support::assert_each_issue_announced_once(moto, &queue, &store, &counted).await;
}

/// `count` batches of `size` distinct errors each, every batch sharing
/// `size - step` of its errors with the next: several transactions per
/// batch, racing with other batches on the same issues.
fn wide_batches(count: usize, size: usize, step: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|b| {
            let messages: Vec<String> = (b * step..b * step + size)
                .map(|i| format!("[ERROR] {}: failed", support::kind_name(i)))
                .collect();
            support::data_message(
                "/aws/batch/wide",
                &format!("wide-{b}"),
                (b as u64) * 10_000,
                &messages,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_of_several_transactions_count_once_and_announce_each_issue_once() {
    let Some(moto) = support::moto() else { return };
    let (topic, queue) = moto.topic_with_queue("wide").await;
    let table = moto.fresh_store("wide", None).await.table().to_string();
    let inputs = wide_batches(4, 2 * ISSUES_PER_WRITE + 10, 20);
    let mut tasks = Vec::new();
    for ingester in 0..4 {
        let store = DynamoDbStore::new(moto.dynamodb(None).await, &table).unwrap();
        let notifier = SnsNotifier::new(moto.sns().await, &topic).unwrap();
        let mut order = inputs.clone();
        order.rotate_left(ingester);
        tasks.push(tokio::spawn(async move {
            let pipeline = Pipeline::new(Box::new(store), Box::new(notifier));
            for input in &order {
                pipeline.ingest(input).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let store = DynamoDbStore::new(moto.dynamodb(None).await, &table).unwrap();
    let counted = snapshot(&store).await;
    assert_eq!(counted.len(), 3 * 20 + 2 * ISSUES_PER_WRITE + 10);
    assert_eq!(counted, reference(&inputs).await, "exact totals");
    let ids: Vec<String> = counted.iter().map(|i| i.0.clone()).collect();
    let envelopes = moto.drain(&queue).await;
    assert_eq!(
        announced_issue_ids(&envelopes),
        ids,
        "exactly one announcement per new issue"
    );
    assert!(
        envelopes.len() <= inputs.len(),
        "at most one digest per batch, not one per transaction: {}",
        envelopes.len()
    );
}

fn after_one_lease() -> i64 {
    system_clock() + ALERT_LEASE_MS + 1_000
}

fn after_two_leases() -> i64 {
    system_clock() + 2 * (ALERT_LEASE_MS + 1_000)
}

#[tokio::test]
async fn an_alert_that_could_not_be_sent_is_delivered_by_a_later_invocation() {
    let Some(moto) = support::moto() else { return };
    let (topic, queue) = moto.topic_with_queue("retry").await;
    let table = moto.fresh_store("retry", None).await.table().to_string();
    let store =
        || async { Box::new(DynamoDbStore::new(moto.dynamodb(None).await, &table).unwrap()) };
    let batches = support::overlapping_batches("/aws/lambda/flaky", 3);

    // SNS unreachable: nothing listens on that port.
    let dead = format!("http://127.0.0.1:{}", support_dead_port());
    let unreachable = aws_sdk_sns::Client::new(&moto.sdk_config_at(&dead).await);
    let first = Pipeline::new(
        store().await,
        Box::new(SnsNotifier::new(unreachable, &topic).unwrap()),
    );
    let (recorded, flushed) = first.ingest(&batches[0]).await.unwrap();
    assert_eq!(recorded.unwrap().new_issues.len(), 4);
    assert_eq!((flushed.sent, flushed.failed.len()), (0, 1));

    // A topic that does not exist (deleted, or a wrong ARN), once the first
    // sender's lease has run out.
    let missing = topic.replace("retry-", "deleted-");
    let mut second = Pipeline::new(
        store().await,
        Box::new(SnsNotifier::new(moto.sns().await, &missing).unwrap()),
    );
    second.clock = after_one_lease;
    let (_, flushed) = second.ingest(&batches[1]).await.unwrap();
    assert_eq!(
        (flushed.sent, flushed.failed.len()),
        (0, 2),
        "both queued alerts still fail"
    );
    assert!(moto.drain(&queue).await.is_empty());

    // A later invocation with a working topic delivers what was kept.
    let mut third = Pipeline::new(
        store().await,
        Box::new(SnsNotifier::new(moto.sns().await, &topic).unwrap()),
    );
    third.clock = after_two_leases;
    let (_, flushed) = third.ingest(&batches[2]).await.unwrap();
    assert_eq!((flushed.sent, flushed.failed.len()), (3, 0));
    let delivered = moto.drain(&queue).await;
    assert_eq!(delivered.len(), 3);
    assert_eq!(announced_issue_ids(&delivered).len(), 4 + 1 + 1);
    assert_eq!(
        third.flush_alerts().await.unwrap().sent,
        0,
        "sent alerts are gone"
    );
}

fn support_dead_port() -> u16 {
    // Bound and released: nothing listens there afterwards.
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// One batch of `issues` distinct errors, each logged `repeats` times.
fn batch(stream: &str, issues: usize, repeats: usize) -> Vec<u8> {
    let mut messages = Vec::new();
    for r in 0..repeats {
        for i in 0..issues {
            messages.push(format!(
                "[ERROR] {}: failed on item {r}",
                support::kind_name(i)
            ));
        }
    }
    support::data_message(&format!("/aws/batch/costs-{stream}"), stream, 0, &messages)
}

#[tokio::test]
async fn dynamodb_requests_per_batch_grow_with_distinct_issues_not_events() {
    let Some(moto) = support::moto() else { return };
    let log = RequestLog::default();
    let pipeline = Pipeline::new(
        Box::new(moto.fresh_store("requests", Some(&log)).await),
        Box::new(Discard),
    );
    log.take();
    for (stream, issues, repeats) in [
        ("a", 1, 1),
        ("b", 1, 1000),
        ("c", 5, 200),
        ("d", 25, 4),
        ("e", 30, 10),
    ] {
        let input = batch(stream, issues, repeats);
        let Ok(Prepared::Batch(summary)) = pipeline::prepare(&input) else {
            panic!("not a batch")
        };
        assert_eq!(summary.issues.len(), issues);

        let recorded = pipeline.apply(&summary).await.unwrap();
        assert_eq!(recorded.new_issues.len(), issues);
        let record_ops = log.take();
        let flushed = pipeline.flush_alerts().await.unwrap();
        let flush_ops = log.take();
        let replay = pipeline.apply(&summary).await.unwrap();
        assert!(replay.duplicate);
        let replay_ops = log.take();
        eprintln!(
            "{issues:>2} issues x {repeats:>4} events each: record {record_ops:?}, flush {} alerts {flush_ops:?}, replay {} requests",
            flushed.sent,
            replay_ops.len()
        );
        // A chunk that creates issues looks up the keys the previous
        // fingerprint algorithm gave them (src/store/route.rs) in a second
        // read; once they exist, their own read finds them.
        let ranges = chunk_ranges(&summary);
        assert_eq!(
            ranges.len(),
            issues.div_ceil(19),
            "19 issues of a day a chunk"
        );
        let creating: Vec<&str> = ranges
            .iter()
            .flat_map(|_| ["BatchGetItem", "BatchGetItem", "TransactWriteItems"])
            .collect();
        assert_eq!(record_ops, creating, "{issues} issues");
        let expected: Vec<&str> = ranges
            .iter()
            .flat_map(|_| ["BatchGetItem", "TransactWriteItems"])
            .collect();
        assert_eq!(
            replay_ops, expected,
            "a replay reads and is refused per chunk"
        );
        // Settling: one Query of the runs not settled (none here).
        // Claiming: one Query, then a lease and a delete per alert.
        assert_eq!(flush_ops.len(), 2 + 2 * flushed.sent, "{flush_ops:?}");
        // One alert per new issue, or one digest for the whole batch (also
        // when it spans several transactions).
        let digest_over = pipeline.policy.digest_over;
        let alerts = if issues > digest_over { 1 } else { issues };
        assert_eq!(flushed.sent, alerts);
        assert_eq!(recorded.alerts, alerts);
    }

    // A batch without errors writes only its marker.
    let quiet = support::data_message(
        "/aws/batch/costs",
        "quiet",
        0,
        &vec!["INFO ok".to_string(); 50],
    );
    pipeline.ingest(&quiet).await.unwrap();
    assert_eq!(log.take(), ["PutItem", "Query", "Query"]);
    let (again, _) = pipeline.ingest(&quiet).await.unwrap();
    assert!(again.unwrap().duplicate);
}
