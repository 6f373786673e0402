//! A load test through the emulator: many batches, four concurrent
//! ingesters on one table, exact totals and one alert per new issue.
//!
//! The batches are generated in-process from a fixed seed: each a
//! DATA_MESSAGE of [`EVENTS_PER_BATCH`] events, about 3% of them errors drawn
//! (skewed, so a few issues are hot) from [`ISSUE_SHAPES`] shapes in three
//! log groups. Four ingesters, each a pipeline with its own DynamoDB and SNS
//! clients, take batches from one shared queue, as concurrent Lambda
//! invocations would, and race on the same hot issues.
//!
//! Throughput is printed, not asserted (timing assertions would be flaky):
//! batches and events per second through moto, and the same batches through
//! the SQLite store in the same run as a baseline, so the ratio means
//! something on any machine. moto serves one request at a time at several
//! milliseconds each, so the moto figure measures the emulator far more than
//! faultline; it says how long this test takes, and that requests per batch
//! stay few. BENCHMARKS-load.md records a run.
//!
//! Run it with its output:
//! `cargo test --release --test aws_load -- --nocapture`

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use faultline::notify::Discard;
use faultline::notify::sns::SnsNotifier;
use faultline::pipeline::{self, Pipeline, Prepared};
use faultline::store::dynamodb::DynamoDbStore;
use support::{RequestLog, snapshot};

/// Sized so the test takes about half a minute on 2 cores (moto is the
/// bottleneck: one request at a time).
const BATCHES: usize = 200;
const EVENTS_PER_BATCH: usize = 300;
/// Errors per thousand events.
const ERRORS_PER_MILLE: u64 = 30;
const ISSUE_SHAPES: usize = 30;
const INGESTERS: usize = 4;
/// Attempts per batch before the test gives up on it (Lambda makes 3; a
/// failure here is a transient store error after losing many races).
const MAX_ATTEMPTS: usize = 5;

/// splitmix64, so the batches are the same on every run without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LOG_GROUPS: [&str; 3] = ["/aws/batch/etl", "/aws/lambda/orders", "/aws/ecs/reports"];

/// One error line of shape `shape`, in one of the formats Lambda runtimes
/// write. The message is fixed per shape: an issue's title is its first
/// recorded occurrence's, and which batch commits first depends on the race
/// between ingesters, so varying text would make titles differ from the
/// sequential reference for reasons that are not bugs. The request id and
/// timestamp around it vary.
fn error_line(shape: usize, rng: &mut Rng) -> String {
    let kind = support::kind_name(shape);
    let item = 1000 + shape * 37;
    match shape % 3 {
        0 => format!("[ERROR] {kind}: failed on item {item}"),
        1 => format!(
            "[ERROR]\t2025-11-23T12:00:00.{:03}Z\t{:08x}-1111-2222-3333-444455556666\t{kind}: row {item} rejected",
            rng.below(1000),
            rng.next() as u32
        ),
        _ => format!("[ERROR] {kind}: upstream returned {item} after retries"),
    }
}

/// The load: `BATCHES` DATA_MESSAGEs, each in one log group (the shape
/// decides which, so an issue lives in one group) and its own stream.
fn batches() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x10ad);
    (0..BATCHES)
        .map(|b| {
            let group = LOG_GROUPS[b % LOG_GROUPS.len()];
            let messages: Vec<String> = (0..EVENTS_PER_BATCH)
                .map(|i| {
                    if rng.below(1000) < ERRORS_PER_MILLE {
                        // The smaller of two draws: low shapes are hot.
                        let shape = rng
                            .below(ISSUE_SHAPES as u64)
                            .min(rng.below(ISSUE_SHAPES as u64));
                        // Keep the shape's group fixed: shapes of other
                        // groups are not errors here, only noise.
                        let shape = shape as usize - (shape as usize % LOG_GROUPS.len())
                            + b % LOG_GROUPS.len();
                        error_line(shape.min(ISSUE_SHAPES - 1), &mut rng)
                    } else {
                        format!("INFO processed record {i} in {} ms", rng.below(500))
                    }
                })
                .collect();
            support::data_message(
                group,
                &format!("job-{b}"),
                (b * EVENTS_PER_BATCH) as u64,
                &messages,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_ingesters_under_load_count_exactly_and_announce_each_issue_once() {
    let Some(moto) = support::moto() else { return };
    let inputs = Arc::new(batches());
    let events = BATCHES * EVENTS_PER_BATCH;
    let errors: usize = inputs
        .iter()
        .map(|i| match pipeline::prepare(i) {
            Ok(Prepared::Batch(b)) => b.errors,
            _ => panic!("a generated batch does not decode"),
        })
        .sum();

    // Baseline: the same batches, one invocation each, into SQLite.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Pipeline::new(
        faultline::store::open(&format!("sqlite:{}", dir.path().join("load.db").display()))
            .await
            .unwrap(),
        Box::new(Discard),
    );
    let started = Instant::now();
    for input in inputs.iter() {
        sqlite.ingest(input).await.unwrap();
    }
    let sqlite_secs = started.elapsed().as_secs_f64();
    let reference = snapshot(sqlite.store.as_ref()).await;

    let (topic, queue) = moto.topic_with_queue("load").await;
    let table = moto.fresh_store("load", None).await.table().to_string();
    let log = RequestLog::default();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..INGESTERS {
        let store = DynamoDbStore::new(moto.dynamodb(Some(&log)).await, &table).unwrap();
        let notifier = SnsNotifier::new(moto.sns().await, &topic).unwrap();
        let (inputs, next) = (Arc::clone(&inputs), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let pipeline = Pipeline::new(Box::new(store), Box::new(notifier));
            let mut retried = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(input) = inputs.get(i) else {
                    return retried;
                };
                // Lambda-style: a failed invocation is tried again.
                let mut attempt = 1;
                while let Err(e) = pipeline.ingest(input).await {
                    assert!(
                        attempt < MAX_ATTEMPTS,
                        "batch {i} failed {attempt} times: {e}"
                    );
                    retried.push(format!("batch {i}: {e}"));
                    attempt += 1;
                }
            }
        }));
    }
    let mut retried = Vec::new();
    for task in tasks {
        retried.extend(task.await.unwrap());
    }
    let moto_secs = started.elapsed().as_secs_f64();
    let requests = log.take();
    let transactions = requests
        .iter()
        .filter(|op| *op == "TransactWriteItems")
        .count();

    let store = DynamoDbStore::new(moto.dynamodb(None).await, &table).unwrap();
    let counted = snapshot(&store).await;
    assert_eq!(counted, reference, "exact totals under concurrent load");
    assert_eq!(
        counted.iter().map(|i| i.1).sum::<u64>(),
        errors as u64,
        "every error counted once"
    );
    support::assert_each_issue_announced_once(moto, &queue, &store, &counted).await;

    let rate = |secs: f64| (BATCHES as f64 / secs, events as f64 / secs);
    let (moto_bps, moto_eps) = rate(moto_secs);
    let (sqlite_bps, sqlite_eps) = rate(sqlite_secs);
    eprintln!(
        "load: {BATCHES} batches x {EVENTS_PER_BATCH} events ({errors} errors, {} issues)",
        counted.len()
    );
    eprintln!(
        "  moto, {INGESTERS} ingesters: {moto_secs:.2} s, {moto_bps:.1} batches/s, {moto_eps:.0} events/s, \
         {} DynamoDB requests ({:.2}/batch), {transactions} transactions ({} beyond one per batch: lost races), \
         {} invocations retried",
        requests.len(),
        requests.len() as f64 / BATCHES as f64,
        transactions.saturating_sub(BATCHES),
        retried.len()
    );
    eprintln!(
        "  sqlite, 1 ingester: {sqlite_secs:.2} s, {sqlite_bps:.1} batches/s, {sqlite_eps:.0} events/s"
    );
    eprintln!("  moto / sqlite throughput: {:.3}", moto_bps / sqlite_bps);
    for r in &retried {
        eprintln!("  retried: {r}");
    }
}

/// Concurrent invocations on one hot issue (issue 11).
const HOT_INVOCATIONS: usize = 64;
/// Events of the hot issue in each invocation's batch.
const HOT_EVENTS: usize = 20;
/// Attempts Lambda gives an asynchronous invocation (the first and two
/// retries).
const LAMBDA_ATTEMPTS: usize = 3;

/// A large batch job hitting one throttling error from many tasks at once:
/// 64 invocations start together, each with a batch of the same error,
/// through the fault proxy failing 3% of DynamoDB requests at random
/// (throttles, server errors, answers lost after moto applied the request).
/// Every event is counted once, the issue is announced once, and no
/// invocation fails all of Lambda's attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_invocations_on_one_hot_issue_count_exactly_and_none_fails() {
    use support::proxy::{Fault, Proxy};
    let Some(moto) = support::moto() else { return };
    let table = moto.fresh_store("hot", None).await.table().to_string();
    let (topic, queue) = moto.topic_with_queue("hot").await;
    let proxy = Proxy::start(&moto.endpoint);
    proxy.fail_randomly(
        11,
        30,
        &[
            "BatchGetItem",
            "TransactWriteItems",
            "Query",
            "UpdateItem",
            "DeleteItem",
        ],
        &[
            Fault::Throttle,
            Fault::ProvisionedThroughputExceeded,
            Fault::ServerError,
            Fault::DropAfterForward,
        ],
    );
    let inputs: Vec<Vec<u8>> = (0..HOT_INVOCATIONS)
        .map(|i| {
            let errors: Vec<String> = (0..HOT_EVENTS)
                .map(|e| {
                    format!("[ERROR] ThrottlingException: Rate exceeded (task {i}, record {e})")
                })
                .collect();
            support::data_message(
                "/aws/batch/hot",
                &format!("task-{i}"),
                (i * HOT_EVENTS) as u64,
                &errors,
            )
        })
        .collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(HOT_INVOCATIONS));
    let sdk = moto.sdk_config_at(&proxy.endpoint).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for input in inputs {
        let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&sdk), &table).unwrap();
        let notifier = SnsNotifier::new(moto.sns().await, &topic).unwrap();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let pipeline = Pipeline::new(Box::new(store), Box::new(notifier));
            barrier.wait().await;
            let mut failures = Vec::new();
            for _ in 0..LAMBDA_ATTEMPTS {
                match pipeline.ingest(&input).await {
                    Ok(_) => return (failures, true),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (failures, false)
        }));
    }
    let mut retried = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (failures, succeeded) = task.await.unwrap();
        retried.extend(failures);
        failed += usize::from(!succeeded);
    }
    let secs = started.elapsed().as_secs_f64();
    proxy.heal();
    eprintln!(
        "hot issue: {HOT_INVOCATIONS} invocations in {secs:.1} s; faults: {}; {} attempts failed",
        proxy.summary(),
        retried.len()
    );
    for r in retried.iter().take(10) {
        eprintln!("  retried: {r}");
    }
    assert_eq!(
        failed, 0,
        "invocations that failed all of Lambda's attempts"
    );

    let store = DynamoDbStore::new(moto.dynamodb(None).await, &table).unwrap();
    let counted = snapshot(&store).await;
    assert_eq!(counted.len(), 1, "one issue: {counted:?}");
    assert_eq!(
        counted[0].1,
        (HOT_INVOCATIONS * HOT_EVENTS) as u64,
        "every event once"
    );
    // Alerts a lost answer left leased are sent by a later invocation.
    let mut last = Pipeline::new(
        Box::new(DynamoDbStore::new(moto.dynamodb(None).await, &table).unwrap()),
        Box::new(SnsNotifier::new(moto.sns().await, &topic).unwrap()),
    );
    last.clock = || faultline::pipeline::system_clock() + 10 * faultline::pipeline::ALERT_LEASE_MS;
    last.flush_alerts().await.unwrap();
    support::assert_each_issue_announced_once(moto, &queue, &store, &counted).await;
}

/// Alerts queued for the claiming measurement: about what a burst of new
/// issues leaves when SNS is down for a while, or a settlement releasing
/// held alerts one by one across many runs.
const QUEUED_ALERTS: usize = 2_000;

/// What claiming [`QUEUED_ALERTS`] queued alerts costs on the emulator:
/// one lease at a time (as before), [`LEASE_CONCURRENCY`] at a time, and
/// one flush's worth ([`MAX_ALERTS_PER_FLUSH`]) at a time, each on a fresh
/// table with the same alerts. Prints wall time and requests; asserts
/// only that each alert is claimed once. moto serves one request at a
/// time, so overlapping leases gains little there: the figure that moves
/// with the cap is how much one flush holds. BENCHMARKS.md records a run:
/// `CI=true cargo test --test aws_load claiming -- --ignored --nocapture`
///
/// [`LEASE_CONCURRENCY`]: faultline::store::dynamodb::LEASE_CONCURRENCY
/// [`MAX_ALERTS_PER_FLUSH`]: faultline::limits::MAX_ALERTS_PER_FLUSH
#[tokio::test]
#[ignore = "a measurement: prints wall time and requests; about a minute on the emulator"]
async fn claiming_queued_alerts() {
    use faultline::limits::MAX_ALERTS_PER_FLUSH;
    use faultline::store::dynamodb::LEASE_CONCURRENCY;
    let Some(moto) = support::moto() else { return };
    let now = pipeline::system_clock();
    let lease = pipeline::ALERT_LEASE_MS;
    let mut baseline = None;
    for (how, concurrency, limit) in [
        ("one lease at a time, all (before)", 1, QUEUED_ALERTS),
        ("16 leases at a time, all", LEASE_CONCURRENCY, QUEUED_ALERTS),
        (
            "16 leases at a time, one flush",
            LEASE_CONCURRENCY,
            MAX_ALERTS_PER_FLUSH,
        ),
    ] {
        let log = RequestLog::default();
        let store = moto.fresh_store("claims", Some(&log)).await;
        support::queue_alerts(
            &moto.dynamodb(None).await,
            store.table(),
            QUEUED_ALERTS,
            now,
            support::AlertKeys::ByAge,
        )
        .await;
        log.take();
        let started = Instant::now();
        let claimed = store
            .claim_alerts_with(now, lease, limit, concurrency)
            .await
            .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let requests = log.take();
        let mut ids: Vec<&str> = claimed.iter().map(|a| a.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            limit.min(QUEUED_ALERTS),
            "{how}: each claimed once"
        );
        let count = |op: &str| requests.iter().filter(|r| r.as_str() == op).count();
        let ratio = baseline.get_or_insert(seconds).max(f64::EPSILON);
        println!(
            "claiming {QUEUED_ALERTS} queued alerts, {how}: {} claimed in {seconds:.2} s ({:.2} of the first line), {} Query, {} UpdateItem, {} requests in all",
            claimed.len(),
            seconds / ratio,
            count("Query"),
            count("UpdateItem"),
            requests.len()
        );
    }
}
