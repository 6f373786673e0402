//! faultline on DynamoDB and SNS with faults injected between it and the
//! emulator (tests/support/proxy.rs): throttling, 500s, requests lost on the
//! way, and requests moto applied whose responses were lost.
//!
//! Each scenario plays Lambda: every batch is one async invocation (prepare,
//! apply, flush the outbox, fail if anything failed, as `bootstrap`'s
//! `handle` does), retried up to two more times when it fails, a minute or
//! more apart (the test's clock jumps past an alert lease between attempts,
//! as Lambda's retry delays do); then the whole set is delivered once more (a
//! duplicate delivery, which also replays what went to the on-failure
//! queue). Afterwards the counts must equal those of a SQLite store fed the
//! same batches once, every new issue must have been announced, and the
//! outbox must be empty.
//!
//! Alerts are at-least-once by construction: a Publish that SNS accepted but
//! whose answer was lost (or an outbox delete that failed after a delivered
//! Publish) cannot be told apart from one that failed, so the alert is sent
//! again once its lease runs out. The scenarios pin exactly that: each issue
//! announced at least once, and no more duplicates than such lost
//! acknowledgements; with none of them, exactly once.
//!
//! Faults are planned by operation and occurrence, so each run sees the same
//! faults; every scenario asserts that all its planned faults fired.
//!
//! The clients under test either have the SDK's retries switched off
//! (`Retries::Off`), so every fault reaches faultline's own handling and
//! Lambda's retry, or keep the SDK's standard retries (3 attempts) with a
//! 10 ms initial backoff instead of 1 s (`Retries::Sdk`), which is the
//! production behaviour, only faster.

mod support;

use std::cell::Cell;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use faultline::notify::sns::SnsNotifier;
use faultline::pipeline::{self, ALERT_LEASE_MS, Flushed, Pipeline, Prepared, system_clock};
use faultline::store::Store;
use faultline::store::dynamodb::{DynamoDbStore, ISSUES_PER_WRITE};
use support::proxy::{Fault, Proxy};
use support::{Moto, announced_issue_ids, snapshot};

thread_local! {
    /// How far the scenario's clock is ahead of the system's. Thread-local,
    /// because scenarios run in parallel, each on its own current-thread
    /// runtime.
    static SKEW: Cell<i64> = const { Cell::new(0) };
}

/// The clock of the pipelines under test.
fn scenario_clock() -> i64 {
    system_clock() + SKEW.with(Cell::get)
}

/// Lambda waits a minute, then two, between attempts of a failed async
/// invocation: longer than an alert lease, so a retry can claim what the
/// failed attempt leased.
fn wait_for_lambda_retry() {
    SKEW.with(|skew| skew.set(skew.get() + ALERT_LEASE_MS + 1_000));
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Retries {
    /// No SDK retries: every fault reaches faultline.
    Off,
    /// The SDK's standard mode (3 attempts), with a 10 ms initial backoff.
    Sdk,
}

impl Retries {
    fn config(self) -> RetryConfig {
        match self {
            Retries::Off => RetryConfig::disabled(),
            Retries::Sdk => RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(10)),
        }
    }
}

/// One scenario's world: a table and topic in moto, a queue subscribed to
/// the topic, and a pipeline whose clients talk to moto through the proxy.
struct Rig {
    moto: &'static Moto,
    proxy: Proxy,
    table: String,
    topic: String,
    queue: String,
    pipeline: Pipeline,
}

impl Rig {
    async fn new(prefix: &str, retries: Retries) -> Option<Rig> {
        let moto = support::moto()?;
        // Set up directly against moto: the proxy only sees the pipeline.
        let table = moto.fresh_store(prefix, None).await.table().to_string();
        let (topic, queue) = moto.topic_with_queue(prefix).await;
        let proxy = Proxy::start(&moto.endpoint);
        let sdk = moto.sdk_config_at(&proxy.endpoint).await;
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .retry_config(retries.config())
                .build(),
        );
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&sdk)
                .retry_config(retries.config())
                .build(),
        );
        let mut pipeline = Pipeline::new(
            Box::new(DynamoDbStore::new(dynamodb, &table).unwrap()),
            Box::new(SnsNotifier::new(sns, &topic).unwrap()),
        );
        pipeline.clock = scenario_clock;
        SKEW.with(|skew| skew.set(0));
        Some(Rig {
            moto,
            proxy,
            table,
            topic,
            queue,
            pipeline,
        })
    }

    /// A store on the same table that bypasses the proxy, for checking.
    async fn direct_store(&self) -> DynamoDbStore {
        DynamoDbStore::new(self.moto.dynamodb(None).await, &self.table).unwrap()
    }
}

/// What playing Lambda did.
#[derive(Debug, Default)]
struct Played {
    /// Failed invocations, with why.
    failures: Vec<String>,
    /// Batches whose three attempts all failed (Lambda's on-failure queue).
    dead_lettered: usize,
    /// Store errors that were not transient (the Lambda would log them as
    /// permanent): an injected fault must never look like one.
    permanent: Vec<String>,
    /// Input indexes in the order their batches were first applied
    /// successfully: the order they were committed in, as long as a batch
    /// whose write was applied without an answer is applied successfully by
    /// one of the same delivery's retries (or shares no issue with the
    /// batches after it). `None` when that is not known (random faults).
    committed: Option<Vec<usize>>,
}

/// One invocation, as `bootstrap`'s `handle`: a store error or an alert
/// that could not be sent fails it.
async fn invoke(
    pipeline: &Pipeline,
    index: usize,
    input: &[u8],
    played: &mut Played,
) -> Result<Flushed, ()> {
    let batch = match pipeline::prepare(input).expect("test inputs decode") {
        Prepared::Control => return Ok(Flushed::default()),
        Prepared::Batch(batch) => batch,
    };
    let mut fail = |why: String, transient: bool| {
        if !transient {
            played.permanent.push(why.clone());
        }
        played.failures.push(why);
    };
    if let Err(e) = pipeline.apply(&batch).await {
        fail(format!("apply: {e}"), e.is_transient());
        return Err(());
    }
    if let Some(order) = played.committed.as_mut().filter(|o| !o.contains(&index)) {
        order.push(index);
    }
    match pipeline.flush_alerts().await {
        Err(e) => {
            fail(format!("flush: {e}"), e.is_transient());
            Err(())
        }
        Ok(flushed) if !flushed.failed.is_empty() => {
            fail(format!("{} alerts not sent", flushed.failed.len()), true);
            Err(())
        }
        Ok(flushed) => Ok(flushed),
    }
}

/// Lambda's async delivery of one batch: up to three attempts. Whether
/// one succeeded.
async fn deliver(pipeline: &Pipeline, index: usize, input: &[u8], played: &mut Played) {
    for attempt in 0..3 {
        if attempt > 0 {
            wait_for_lambda_retry();
        }
        if invoke(pipeline, index, input, played).await.is_ok() {
            return;
        }
    }
    played.dead_lettered += 1;
}

/// Every batch delivered, then the whole set delivered again.
async fn play(rig: &Rig, inputs: &[Vec<u8>]) -> Played {
    let mut played = Played {
        committed: Some(Vec::new()),
        ..Played::default()
    };
    for round in 0..2 {
        for (i, input) in inputs.iter().enumerate() {
            deliver(&rig.pipeline, i, input, &mut played).await;
        }
        if round == 0 {
            wait_for_lambda_retry();
        }
    }
    played
}

/// The inputs of every scenario: batches sharing three issues and adding one
/// each, a batch of three transactions (two full chunks and a last one with
/// the digest), and a batch without errors (its marker is a plain PutItem).
fn inputs() -> Vec<Vec<u8>> {
    let mut inputs = support::overlapping_batches("/aws/batch/faults", 5);
    let wide: Vec<String> = (100..100 + 2 * ISSUES_PER_WRITE + 5)
        .map(|i| format!("[ERROR] {}: failed", support::kind_name(i)))
        .collect();
    inputs.insert(
        2,
        support::data_message("/aws/batch/wide", "wide", 50_000, &wide),
    );
    inputs.push(support::data_message(
        "/aws/batch/faults",
        "quiet",
        90_000,
        &vec!["INFO all good".to_string(); 20],
    ));
    inputs
}

/// Checks what must hold after the play, once any alert still leased has
/// had its lease run out and a final invocation has flushed the outbox:
/// counts, samples, hours and facets equal SQLite's; every issue announced
/// at least once and at most `lost_acks` times more in all; the outbox empty;
/// every planned fault fired; no fault surfaced as a permanent error.
async fn check(rig: &Rig, inputs: &[Vec<u8>], played: &Played, lost_acks: usize) {
    eprintln!(
        "faults: {}; {} failed invocations, {} batches dead-lettered",
        rig.proxy.summary(),
        played.failures.len(),
        played.dead_lettered
    );
    assert_eq!(rig.proxy.pending(), [], "every planned fault fired");
    assert!(
        played.permanent.is_empty(),
        "injected faults are transient: {:?}",
        played.permanent
    );

    wait_for_lambda_retry();
    let store = rig.direct_store().await;
    let mut last = Pipeline::new(
        Box::new(rig.direct_store().await),
        Box::new(SnsNotifier::new(rig.moto.sns().await, &rig.topic).unwrap()),
    );
    last.clock = scenario_clock;
    let flushed = last.flush_alerts().await.unwrap();
    assert!(flushed.failed.is_empty());
    if flushed.sent > 0 {
        eprintln!(
            "{} alerts were still queued for the next invocation",
            flushed.sent
        );
    }

    let counted = snapshot(&store).await;
    assert_eq!(
        counted,
        support::reference(inputs).await,
        "exact counts, however often the batches were tried"
    );
    // A sample recorded twice would show a double apply that counts cannot
    // (the counts are checked above).
    let recorded = support::details(&store).await;
    for issue in &recorded {
        let mut events: Vec<&str> = issue.samples.iter().map(|s| s.event_id.as_str()).collect();
        events.sort();
        let all = events.len();
        events.dedup();
        assert_eq!(
            events.len(),
            all,
            "a sample of {} recorded twice",
            issue.issue.id
        );
    }
    // Samples are kept newest-recorded first, so the reference records the
    // batches in the order they were committed here.
    if let Some(order) = &played.committed {
        let ordered: Vec<Vec<u8>> = order.iter().map(|&i| inputs[i].clone()).collect();
        let (sqlite, _dir) = support::reference_store(&ordered).await;
        assert_eq!(
            recorded,
            support::details(sqlite.store.as_ref()).await,
            "samples, hours and facets counted once too"
        );
    }

    // One SNS message per alert delivery; a resent alert repeats its
    // message, so messages are told apart by the issues they announce.
    let envelopes = rig.moto.drain(&rig.queue).await;
    let mut alerts: Vec<serde_json::Value> = envelopes.clone();
    alerts.sort_by_key(issue_ids_of);
    alerts.dedup_by_key(|e| issue_ids_of(e));
    let ids: Vec<String> = counted.iter().map(|i| i.0.clone()).collect();
    assert_eq!(
        announced_issue_ids(&alerts),
        ids,
        "every issue announced by exactly one alert, and only issues"
    );
    let extra = envelopes.len() - alerts.len();
    assert!(
        extra <= lost_acks,
        "{extra} alerts delivered twice, but only {lost_acks} acknowledgements were lost"
    );
    if lost_acks == 0 {
        assert_eq!(extra, 0, "exactly once");
    } else {
        eprintln!("{extra} duplicate deliveries for {lost_acks} lost acknowledgements");
    }
    assert!(
        store
            .claim_alerts(
                scenario_clock() + 10 * ALERT_LEASE_MS,
                ALERT_LEASE_MS,
                usize::MAX
            )
            .await
            .unwrap()
            .is_empty(),
        "nothing left in the outbox"
    );
}

#[tokio::test]
async fn throttled_reads_and_transactions_are_retried_and_count_once() {
    let Some(rig) = Rig::new("throttle", Retries::Off).await else {
        return;
    };
    rig.proxy
        .fail("BatchGetItem", 1, Fault::ProvisionedThroughputExceeded)
        .fail("BatchGetItem", 4, Fault::Throttle)
        .fail("TransactWriteItems", 2, Fault::Throttle)
        // The wide batch's second chunk, twice in a row: its first chunk
        // commits on the first attempt and is a duplicate on the later ones.
        .fail_each(
            "TransactWriteItems",
            &[5, 7],
            Fault::ProvisionedThroughputExceeded,
        )
        .fail("PutItem", 1, Fault::Throttle);
    let inputs = inputs();
    let played = play(&rig, &inputs).await;
    assert!(played.failures.len() >= 6, "{:?}", played.failures);
    check(&rig, &inputs, &played, 0).await;
}

#[tokio::test]
async fn server_errors_even_on_every_attempt_lose_and_double_nothing() {
    let Some(rig) = Rig::new("servererror", Retries::Off).await else {
        return;
    };
    // The first batch fails all three attempts (to the on-failure queue) and
    // is recorded by the second delivery; one more 500 in the middle.
    rig.proxy
        .fail_each("TransactWriteItems", &[1, 2, 3, 6], Fault::ServerError)
        .fail("Query", 2, Fault::ServerError);
    let inputs = inputs();
    let played = play(&rig, &inputs).await;
    assert_eq!(played.dead_lettered, 1);
    check(&rig, &inputs, &played, 0).await;
}

#[tokio::test]
async fn transactions_applied_but_unanswered_count_once_and_alert_once() {
    let Some(rig) = Rig::new("lostwrite", Retries::Off).await else {
        return;
    };
    // moto applies these transactions and the client never hears back: the
    // invocation fails, and its retry must find the batch recorded (and its
    // alerts queued) rather than record it again. Among them: the first
    // batch's only transaction (it carries the digest); the wide batch's
    // first chunk (TWI 5) and, on its second attempt, its last chunk (TWI 8,
    // which queues the digest from the earlier chunks' markers), so only
    // the third attempt hears that everything is recorded; and one
    // transaction lost before reaching moto (TWI 12).
    rig.proxy
        .fail_each("TransactWriteItems", &[1, 3, 5, 8], Fault::DropAfterForward)
        .fail("TransactWriteItems", 12, Fault::DropBeforeForward)
        .fail("PutItem", 1, Fault::DropAfterForward);
    let inputs = inputs();
    let played = play(&rig, &inputs).await;
    check(&rig, &inputs, &played, 0).await;
}

#[tokio::test]
async fn sdk_retries_of_unanswered_transactions_count_once_and_alert_once() {
    let Some(rig) = Rig::new("sdkretry", Retries::Sdk).await else {
        return;
    };
    // With the SDK's own retries a lost response is retried inside one
    // call. Real DynamoDB answers the resent transaction (same
    // ClientRequestToken) with the first outcome; moto ignores the token and
    // cancels it at the batch marker, which the store reads as a duplicate.
    // Either way the batch counts once and its alert is already queued.
    rig.proxy
        .fail_each("TransactWriteItems", &[1, 4, 7], Fault::DropAfterForward)
        .fail("BatchGetItem", 2, Fault::DropAfterForward)
        .fail("TransactWriteItems", 10, Fault::ServerError)
        .fail("TransactWriteItems", 12, Fault::Throttle);
    let inputs = inputs();
    let played = play(&rig, &inputs).await;
    assert_eq!(
        played.failures,
        Vec::<String>::new(),
        "one fault per request is absorbed by the SDK"
    );
    check(&rig, &inputs, &played, 0).await;
}

#[tokio::test]
async fn lost_publish_responses_cost_at_most_one_duplicate_alert_each() {
    let Some(rig) = Rig::new("lostpublish", Retries::Off).await else {
        return;
    };
    // SNS delivers Publish 1 and 3 but faultline hears nothing: the alerts
    // stay queued and go out again once their leases run out. Publish 5 and
    // 6 fail outright: delivered later, once.
    rig.proxy
        .fail_each("Publish", &[1, 3], Fault::DropAfterForward)
        .fail("Publish", 5, Fault::Throttle)
        .fail("Publish", 6, Fault::ServerError);
    let inputs = inputs();
    let played = play(&rig, &inputs).await;
    let lost = rig.proxy.injected("Publish", Fault::DropAfterForward);
    assert_eq!(lost, 2);
    check(&rig, &inputs, &played, lost).await;
}

#[tokio::test]
async fn failed_outbox_leases_and_deletes_never_lose_an_alert() {
    let Some(rig) = Rig::new("outbox", Retries::Off).await else {
        return;
    };
    // A failed lease or Query leaves the alert queued (leased or not): sent
    // later, once. A failed delete after a delivered Publish leaves a sent
    // alert queued: sent again, so each costs at most one duplicate.
    rig.proxy
        .fail("UpdateItem", 1, Fault::Throttle)
        .fail("UpdateItem", 3, Fault::ProvisionedThroughputExceeded)
        .fail("UpdateItem", 5, Fault::DropAfterForward)
        .fail("Query", 4, Fault::Throttle)
        .fail("DeleteItem", 2, Fault::Throttle)
        .fail("DeleteItem", 4, Fault::ServerError);
    let inputs = inputs();
    let played = play(&rig, &inputs).await;
    let failed_deletes = rig.proxy.injected("DeleteItem", Fault::Throttle)
        + rig.proxy.injected("DeleteItem", Fault::ServerError);
    check(&rig, &inputs, &played, failed_deletes).await;
}

#[tokio::test]
async fn throttled_outbox_requests_absorbed_by_sdk_retries_alert_exactly_once() {
    let Some(rig) = Rig::new("outboxsdk", Retries::Sdk).await else {
        return;
    };
    rig.proxy
        .fail_each("UpdateItem", &[1, 3], Fault::Throttle)
        .fail_each("DeleteItem", &[1, 4], Fault::ProvisionedThroughputExceeded)
        .fail("Query", 2, Fault::Throttle)
        .fail("Publish", 2, Fault::Throttle);
    let inputs = inputs();
    let played = play(&rig, &inputs).await;
    assert!(played.failures.is_empty(), "{:?}", played.failures);
    check(&rig, &inputs, &played, 0).await;
}

#[tokio::test]
async fn seeded_random_faults_on_every_operation_count_once() {
    let Some(rig) = Rig::new("random", Retries::Off).await else {
        return;
    };
    // 12% of all requests fail in any of the five ways, from a fixed seed
    // (FAULT_SEED=N explores others). Some batches may fail all their
    // attempts twice: they are replayed once more after the faults stop, as
    // an operator would replay the on-failure queue.
    let operations = [
        "BatchGetItem",
        "TransactWriteItems",
        "PutItem",
        "Query",
        "UpdateItem",
        "DeleteItem",
        "Publish",
    ];
    let faults = [
        Fault::Throttle,
        Fault::ProvisionedThroughputExceeded,
        Fault::ServerError,
        Fault::DropBeforeForward,
        Fault::DropAfterForward,
    ];
    const SEED: u64 = 25;
    let seed = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    rig.proxy.fail_randomly(seed, 120, &operations, &faults);
    // The hardest cases, a transaction and a publish that happen but whose
    // answers are lost, are planned on top of the random ones: left to the
    // seed, they came and went whenever a change moved the order of
    // requests (three seeds in one day).
    rig.proxy
        .fail("TransactWriteItems", 3, Fault::DropAfterForward)
        .fail("Publish", 1, Fault::DropAfterForward);
    let inputs = inputs();
    let mut played = play(&rig, &inputs).await;
    // A batch may commit in an attempt that then fails (a lost response)
    // and succeed only a round later: the commit order is not known.
    played.committed = None;
    rig.proxy.heal();
    for (i, input) in inputs.iter().enumerate() {
        deliver(&rig.pipeline, i, input, &mut played).await;
    }
    for operation in ["TransactWriteItems", "Publish"] {
        assert!(
            rig.proxy.injected(operation, Fault::DropAfterForward) > 0,
            "seed {seed} lost no {operation} response: {}",
            rig.proxy.summary()
        );
    }
    // A delivered Publish whose answer was lost, or a delete of a sent alert
    // that did not happen, may each cause one duplicate.
    let lost_acks = rig.proxy.injected("Publish", Fault::DropAfterForward)
        + rig
            .proxy
            .seen()
            .iter()
            .filter(|s| {
                s.operation == "DeleteItem" && s.fault.is_some_and(|f| f != Fault::DropAfterForward)
            })
            .count();
    check(&rig, &inputs, &played, lost_acks).await;
}

/// The `issue_ids` attribute of one SNS envelope.
fn issue_ids_of(envelope: &serde_json::Value) -> String {
    envelope["MessageAttributes"]["issue_ids"]["Value"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_lease_whose_answer_was_lost_is_still_the_claimers() {
    let Some(rig) = Rig::new("phantomlease", Retries::Sdk).await else {
        return;
    };
    // moto leases the alert, the answer is lost, and the SDK resends the
    // lease. The resend carries the same claim token, so it succeeds and the
    // alert goes out now, not after the lease runs out.
    rig.proxy.fail("UpdateItem", 1, Fault::DropAfterForward);
    let batches = support::overlapping_batches("/aws/batch/lease", 2);
    let mut played = Played::default();
    let flushed = invoke(&rig.pipeline, 0, &batches[0], &mut played)
        .await
        .expect("the invocation succeeds");
    assert_eq!(flushed.sent, 1, "sent in the same invocation");
    assert!(flushed.failed.is_empty());
    assert_eq!(rig.proxy.count("UpdateItem"), 2, "the SDK resent the lease");
    let delivered = rig.moto.drain(&rig.queue).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        announced_issue_ids(&delivered).len(),
        4,
        "the first batch's digest"
    );

    let flushed = invoke(&rig.pipeline, 1, &batches[1], &mut played)
        .await
        .unwrap();
    assert_eq!(flushed.sent, 1);
    assert_eq!(rig.moto.drain(&rig.queue).await.len(), 1);
    wait_for_lambda_retry();
    assert_eq!(
        rig.pipeline.flush_alerts().await.unwrap().sent,
        0,
        "nothing left"
    );
    assert!(played.failures.is_empty());
    assert_eq!(rig.proxy.pending(), []);
}

/// The TransactWriteItems requests the proxy has seen.
fn transactions(rig: &Rig) -> usize {
    rig.proxy
        .seen()
        .iter()
        .filter(|s| s.operation == "TransactWriteItems")
        .count()
}

/// A batch recorded in one transaction writes its run in it, guarded by the
/// batch's marker: a delivery whose transaction fails leaves neither the
/// issue nor the run, the retry counts both once (the issue new in the
/// run), and a third delivery is refused by the marker alone.
#[tokio::test]
async fn a_batch_and_its_run_are_recorded_together_once() {
    let Some(rig) = Rig::new("runinline", Retries::Off).await else {
        return;
    };
    rig.proxy.fail("TransactWriteItems", 1, Fault::ServerError);
    let input = support::data_message(
        "/ecs/importer",
        "importer/app/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        1,
        &["[ERROR] KeyError: 'sku'".to_string()],
    );
    let Ok(Prepared::Batch(batch)) = pipeline::prepare(&input) else {
        panic!("a log batch")
    };
    assert_eq!(batch.runs.len(), 1, "an ECS task's stream is its run");
    assert!(
        rig.pipeline.apply(&batch).await.is_err(),
        "the batch's write failed"
    );
    let store = &rig.pipeline.store;
    let all = faultline::store::RunFilter::default();
    assert!(
        store.runs(&all).await.unwrap().is_empty(),
        "no run without its batch"
    );
    let before = transactions(&rig);
    let retried = rig.pipeline.apply(&batch).await.unwrap();
    assert!(!retried.duplicate);
    assert_eq!(retried.new_issues.len(), 1);
    assert_eq!(
        transactions(&rig),
        before + 1,
        "the issue and the run in one transaction"
    );
    let runs = store.runs(&all).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].errors, runs[0].issues.len()), (1, 1));
    assert!(runs[0].issues[0].new, "new in this run: {runs:?}");
    let before = transactions(&rig);
    assert!(rig.pipeline.apply(&batch).await.unwrap().duplicate);
    assert_eq!(
        transactions(&rig),
        before + 1,
        "a replay tries the batch's transaction only (refused)"
    );
    assert_eq!(store.runs(&all).await.unwrap()[0].errors, 1);
}

/// A batch of more issues than one transaction takes writes its runs after
/// its issue chunks, in a transaction of their own: a delivery that dies
/// between the two leaves the runs to the retry, which counts them once
/// and still marks the run's issues new in it (read from the issue chunks'
/// markers), and a third delivery writes nothing.
#[tokio::test]
async fn runs_left_to_the_retry_still_know_which_issues_were_new_in_them() {
    let Some(rig) = Rig::new("runretry", Retries::Off).await else {
        return;
    };
    // Two issue chunks (25 issues each at most), then the run.
    rig.proxy.fail("TransactWriteItems", 3, Fault::ServerError);
    let errors: Vec<String> = (0..30)
        .map(|i| format!("[ERROR] {}: row rejected", support::kind_name(i)))
        .collect();
    let input = support::data_message(
        "/ecs/importer",
        "importer/app/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        1,
        &errors,
    );
    let Ok(Prepared::Batch(batch)) = pipeline::prepare(&input) else {
        panic!("a log batch")
    };
    assert_eq!(batch.runs.len(), 1, "an ECS task's stream is its run");
    assert_eq!(batch.issues.len(), 30);
    assert!(
        rig.pipeline.apply(&batch).await.is_err(),
        "the run's write failed"
    );
    let retried = rig.pipeline.apply(&batch).await.unwrap();
    assert!(!retried.duplicate, "the retry wrote the run");
    assert!(
        retried.new_issues.is_empty(),
        "the issues were recorded before"
    );
    let runs = rig
        .pipeline
        .store
        .runs(&faultline::store::RunFilter::default())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].errors, runs[0].issues.len()), (30, 30));
    assert!(
        runs[0].issues.iter().all(|i| i.new),
        "new in this run: {runs:?}"
    );
    let writes_before = transactions(&rig);
    assert!(rig.pipeline.apply(&batch).await.unwrap().duplicate);
    assert_eq!(
        transactions(&rig),
        writes_before + 2,
        "a replay tries the issue chunks only (refused), not the run"
    );
}

/// A Batch attempt's run with more issues than one transaction moves is
/// folded into its job run in chunks; an invocation that dies between them
/// leaves the job run counting the attempt's occurrences once (its issues
/// partly moved, the attempt's own run no longer listed), and the next
/// settling tick moves the rest before it settles the run.
#[tokio::test]
async fn a_fold_cut_short_is_finished_by_the_next_settling_tick() {
    use faultline::model::{BatchSummary, IssueDelta, Outcome, RunDelta, RunIssueDelta};
    use faultline::model::{RunPart, RunSource};
    use faultline::store::RunFilter;

    let Some(rig) = Rig::new("foldcut", Retries::Off).await else {
        return;
    };
    let now = system_clock();
    let task = "task:0c0c0c0c0c0c4c0c8c0c0c0c0c0c0c03";
    let fps: Vec<String> = (0..70).map(|i| format!("fp-{i:03}")).collect();
    let mut attempt = RunDelta::new(task.into(), RunSource::Batch, "resize".into(), "a".into());
    attempt.log_group = "/aws/batch/job".into();
    attempt.errors = 2 * fps.len() as u64;
    attempt.issues = fps
        .iter()
        .map(|fp| RunIssueDelta {
            fingerprint: fp.clone(),
            count: 2,
            recovered: 0,
        })
        .collect();
    let batch = |id: &str, issues: Vec<IssueDelta>, runs: Vec<RunDelta>| BatchSummary {
        batch_id: id.into(),
        owner: "123456789012".into(),
        log_group: "/aws/batch/job".into(),
        log_stream: "s".into(),
        events: 200,
        errors: issues.iter().map(|d| d.count as usize).sum(),
        issues,
        runs,
    };
    let issues = fps
        .iter()
        .map(|fp| IssueDelta {
            fingerprint: fp.clone(),
            kind: "KeyError".into(),
            title: fp.clone(),
            count: 2,
            first_seen: 1000,
            last_seen: 1000,
            samples: Vec::new(),
            hours: Vec::new(),
            facets: Vec::new(),
            versions: Vec::new(),
            previous: Vec::new(),
        })
        .collect();
    let direct = rig.direct_store().await;
    let policy = faultline::policy::Policy::default();
    direct
        .record(&batch("logs", issues, vec![attempt]), now, &policy)
        .await
        .unwrap();

    let mut job = RunDelta::new(
        "batch:job-9".into(),
        RunSource::Batch,
        "resize".into(),
        "resize-9".into(),
    );
    job.ended = Some((5000, Outcome::Failed));
    job.parts = vec![RunPart {
        key: task.into(),
        recovered: Some(false),
    }];
    // The event's first run transaction marks the fold as under way, the
    // next moves a chunk of its issues, the one after that fails.
    rig.proxy.fail("TransactWriteItems", 3, Fault::ServerError);
    let event = batch("event", Vec::new(), vec![job]);
    assert!(
        rig.pipeline
            .store
            .record(&event, now, &policy)
            .await
            .is_err()
    );
    assert_eq!(rig.proxy.pending(), [], "the planned fault fired");

    let runs = direct.runs(&RunFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "the attempt's run is folded: {runs:?}");
    let half = &runs[0];
    assert_eq!((half.key.as_str(), half.errors), ("batch:job-9", 140));
    assert!(
        !half.issues.is_empty() && half.issues.len() < fps.len(),
        "cut short after a chunk: {} issues moved",
        half.issues.len()
    );
    assert!(half.issues.iter().all(|i| i.count == 2), "each moved once");

    let settled = direct.settle_runs(now, 0, &policy).await.unwrap().runs;
    assert_eq!(
        settled,
        vec![half.id.clone()],
        "the tick finished the fold, then settled"
    );
    let run = direct.run(&half.id).await.unwrap().unwrap();
    assert_eq!(run.issues.len(), fps.len());
    assert!(run.issues.iter().all(|i| i.count == 2), "{:?}", run.issues);
    assert_eq!(run.issues.iter().map(|i| i.count).sum::<u64>(), run.errors);
}
