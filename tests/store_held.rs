//! Traces cut by a batch boundary, carried through the store between
//! invocations ([`faultline::carry`]), on every store: the same pattern as
//! tests/store_conformance.rs (SQLite file, DynamoDB through the emulator).
//!
//! Each case drives the Lambda's path (`carry::record_batch`, the tick's
//! `carry::judge_stale`) over a fresh store and checks that every trace is
//! counted exactly once, with its whole identity when the batches come in
//! order.

mod support;

use faultline::carry;
use faultline::decode::{self, LogBatch};
use faultline::model::StatusFilter;
use faultline::pipeline::{self, Pipeline};
use faultline::runs::RunConfig;
use faultline::store::Store;
use faultline::store::pending::TAKE_LEASE_MS;

pub mod cases {
    use super::*;

    const GROUP: &str = "/aws/batch/job";

    pub const TRACE: [&str; 6] = [
        "2024-05-01 10:00:00,001 ERROR could not load shard 3",
        "Traceback (most recent call last):",
        "  File \"/app/load.py\", line 8, in load",
        "    raise KeyError(name)",
        "KeyError: 'shard-3'",
        "done",
    ];

    /// The DATA_MESSAGE of lines `from..to` of the trace on stream `stream`,
    /// each event with its place in the stream as its id.
    fn message(stream: &str, from: usize, to: usize) -> Vec<u8> {
        let lines: Vec<String> = TRACE[from..to].iter().map(|l| l.to_string()).collect();
        support::data_message(GROUP, stream, from as u64 + 1, &lines)
    }

    fn parse(bytes: &[u8]) -> LogBatch<'_> {
        decode::parse(bytes).unwrap()
    }

    fn pipeline(store: Box<dyn Store>) -> Pipeline {
        Pipeline::new(store, Box::new(faultline::notify::Discard))
    }

    async fn deliver(pipeline: &Pipeline, bytes: &[u8]) -> carry::Carried {
        carry::record_batch(pipeline, &parse(bytes), &RunConfig::default())
            .await
            .unwrap()
    }

    async fn tick(pipeline: &Pipeline, wait_ms: i64) -> usize {
        carry::judge_stale(pipeline, &RunConfig::default(), wait_ms)
            .await
            .unwrap()
    }

    /// Every issue's (fingerprint, count).
    async fn counted(pipeline: &Pipeline) -> Vec<(String, u64)> {
        let mut issues: Vec<(String, u64)> = pipeline
            .store
            .issues(StatusFilter::All)
            .await
            .unwrap()
            .into_iter()
            .map(|i| (i.fingerprint, i.count))
            .collect();
        issues.sort();
        issues
    }

    /// The fingerprint of the trace judged in one batch.
    fn whole() -> String {
        let bytes = message("s", 0, TRACE.len());
        pipeline::summarise(&parse(&bytes)).issues[0]
            .fingerprint
            .clone()
    }

    /// The errors a batch judged alone, everything in it, counts.
    fn alone(bytes: &[u8]) -> u64 {
        pipeline::summarise(&parse(bytes)).errors as u64
    }

    pub async fn a_trace_cut_across_two_batches_counts_once_whole(store: Box<dyn Store>) {
        let p = pipeline(store);
        for cut in [1, 2, 4] {
            let stream = format!("s{cut}");
            let first = deliver(&p, &message(&stream, 0, cut)).await;
            assert_eq!(first.summary.errors, 0, "cut after {cut}: the head waits");
            assert!(first.left > 0);
            let second = deliver(&p, &message(&stream, cut, TRACE.len())).await;
            assert_eq!(second.carried, first.left, "cut after {cut}");
            assert_eq!(second.summary.errors, 1, "cut after {cut}");
            assert_eq!(second.summary.issues[0].fingerprint, whole());
        }
        assert_eq!(tick(&p, 0).await, 0, "nothing is left to judge");
        assert_eq!(counted(&p).await, [(whole(), 3)]);
    }

    pub async fn a_redelivered_batch_neither_loses_nor_doubles_a_held_trace(store: Box<dyn Store>) {
        let p = pipeline(store);
        let head = message("s", 0, 2);
        let rest = message("s", 2, TRACE.len());
        deliver(&p, &head).await;
        deliver(&p, &head).await;
        let completed = deliver(&p, &rest).await;
        assert_eq!(completed.summary.errors, 1);
        assert!(completed.ingested.recorded[0].new_issues.len() == 1);
        let again = deliver(&p, &rest).await;
        assert!(again.ingested.recorded[0].duplicate);
        // The head delivered once more after its tail was taken and
        // released: it must not leave the tail again for the tick to count.
        let late = deliver(&p, &head).await;
        assert!(late.ingested.recorded[0].duplicate);
        assert_eq!(tick(&p, 0).await, 0);
        assert_eq!(counted(&p).await, [(whole(), 1)]);
    }

    pub async fn batches_out_of_order_count_each_error_once(store: Box<dyn Store>) {
        let p = pipeline(store);
        let head = message("s", 0, 2);
        let rest = message("s", 2, TRACE.len());
        deliver(&p, &rest).await;
        let first = deliver(&p, &head).await;
        assert_eq!(first.carried, 0, "a later batch's tail is not its to take");
        // What each left (the head, and the last lines of the rest, which
        // might have begun another trace) waits for the tick.
        assert_eq!(tick(&p, 0).await, 2);
        let total: u64 = counted(&p).await.iter().map(|(_, c)| c).sum();
        assert_eq!(total, alone(&head) + alone(&rest));
        assert!(total >= 1);
    }

    pub async fn of_two_takers_one_wins(store: Box<dyn Store>) {
        let p = pipeline(store);
        deliver(&p, &message("s", 0, 2)).await;
        let held = p.store.held().unwrap();
        let tails = held.tails(GROUP, "s").await.unwrap();
        assert_eq!(tails.len(), 1);
        let now = (p.clock)();
        // Both read the tail untaken; the second loses.
        assert!(held.take(&tails[0], "x", now).await.unwrap());
        assert!(!held.take(&tails[0], "y", now).await.unwrap());
        let read_again = held.tails(GROUP, "s").await.unwrap();
        assert_eq!(read_again[0].taken_by.as_deref(), Some("x"));
        assert!(!held.take(&read_again[0], "y", now).await.unwrap());
        assert!(
            held.take(&read_again[0], "x", now + 1).await.unwrap(),
            "x renews"
        );
    }

    pub async fn the_tick_judges_an_orphaned_tail_once(store: Box<dyn Store>) {
        let p = pipeline(store);
        let head = message("s", 0, 2);
        deliver(&p, &head).await;
        assert_eq!(tick(&p, 60_000).await, 0, "not held long enough yet");
        assert_eq!(tick(&p, 0).await, 1);
        assert_eq!(tick(&p, 0).await, 0, "judged once");
        assert_eq!(counted(&p).await.iter().map(|(_, c)| c).sum::<u64>(), 1);
        // Its continuation, after the wait: judged alone, the head not again.
        let rest = message("s", 2, TRACE.len());
        assert_eq!(deliver(&p, &rest).await.carried, 0);
        tick(&p, 0).await;
        let total: u64 = counted(&p).await.iter().map(|(_, c)| c).sum();
        assert_eq!(total, 1 + alone(&rest));
    }

    pub async fn a_tail_its_taker_abandoned_is_judged_after_the_lease(store: Box<dyn Store>) {
        let p = pipeline(store);
        deliver(&p, &message("s", 0, 2)).await;
        let held = p.store.held().unwrap();
        let tails = held.tails(GROUP, "s").await.unwrap();
        let long_ago = (p.clock)() - TAKE_LEASE_MS - 1_000;
        assert!(held.take(&tails[0], "died", long_ago).await.unwrap());
        assert_eq!(tick(&p, 0).await, 1, "its taker never recorded it");
        assert_eq!(counted(&p).await.iter().map(|(_, c)| c).sum::<u64>(), 1);
    }

    pub async fn a_tail_taken_within_its_lease_waits(store: Box<dyn Store>) {
        let p = pipeline(store);
        deliver(&p, &message("s", 0, 2)).await;
        let held = p.store.held().unwrap();
        let tails = held.tails(GROUP, "s").await.unwrap();
        assert!(held.take(&tails[0], "busy", (p.clock)()).await.unwrap());
        assert_eq!(tick(&p, 0).await, 0, "its taker may still record it");
        assert!(counted(&p).await.is_empty());
    }

    pub async fn a_crash_between_steps_loses_and_doubles_nothing(store: Box<dyn Store>) {
        let p = pipeline(store);
        let head = message("s", 0, 2);
        let rest = message("s", 2, TRACE.len());
        deliver(&p, &head).await;
        let held = p.store.held().unwrap();
        let rest_id = faultline::aggregate::batch_id(&parse(&rest));
        // The invocation of `rest` took the tail and recorded the batch
        // with it, then died before releasing it.
        let tails = held.tails(GROUP, "s").await.unwrap();
        assert!(held.take(&tails[0], &rest_id, (p.clock)()).await.unwrap());
        let (summary, _) = faultline::stream::stitch(
            &tails[0].events,
            &parse(&rest),
            &RunConfig::default(),
            false,
        );
        p.record(std::slice::from_ref(&summary)).await.unwrap();
        // Lambda's retry: a duplicate that releases the tail.
        let retry = deliver(&p, &rest).await;
        assert!(retry.ingested.recorded[0].duplicate);
        assert_eq!(retry.carried, 2, "it carries the tail it took, again");
        assert!(held.tails(GROUP, "s").await.unwrap().is_empty());
        assert_eq!(tick(&p, 0).await, 0);
        assert_eq!(counted(&p).await, [(whole(), 1)]);
    }

    pub async fn a_recorded_batch_takes_no_tail_left_after_it(store: Box<dyn Store>) {
        let p = pipeline(store);
        let head = message("s", 0, 2);
        let rest = message("s", 2, TRACE.len());
        deliver(&p, &rest).await;
        deliver(&p, &head).await;
        // `rest` delivered again: it follows the head's tail, but was
        // recorded without it, and must stay recorded as it was.
        let again = deliver(&p, &rest).await;
        assert_eq!(again.carried, 0);
        assert!(again.ingested.recorded[0].duplicate);
        assert_eq!(tick(&p, 0).await, 2, "what each left the first time, once");
        let total: u64 = counted(&p).await.iter().map(|(_, c)| c).sum();
        assert_eq!(total, alone(&head) + alone(&rest));
    }
}

macro_rules! held_conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;
            held_conformance!(@case $make, a_trace_cut_across_two_batches_counts_once_whole);
            held_conformance!(@case $make, a_redelivered_batch_neither_loses_nor_doubles_a_held_trace);
            held_conformance!(@case $make, batches_out_of_order_count_each_error_once);
            held_conformance!(@case $make, of_two_takers_one_wins);
            held_conformance!(@case $make, the_tick_judges_an_orphaned_tail_once);
            held_conformance!(@case $make, a_tail_its_taker_abandoned_is_judged_after_the_lease);
            held_conformance!(@case $make, a_tail_taken_within_its_lease_waits);
            held_conformance!(@case $make, a_crash_between_steps_loses_and_doubles_nothing);
            held_conformance!(@case $make, a_recorded_batch_takes_no_tail_left_after_it);
        }
    };
    (@case $make:expr, $name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (store, _guard) = $make.await;
            cases::$name(store).await;
        }
    };
}

async fn sqlite_store() -> (Box<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("faultline.db").display());
    let store = faultline::store::open(&url).await.unwrap();
    store.init().await.unwrap();
    (store, dir)
}

held_conformance!(sqlite, sqlite_store());

// On the emulator (tests/support); each case returns early when it is not
// installed.
held_conformance!(
    dynamodb,
    match support::dynamodb_store().await {
        Some(made) => std::future::ready(made),
        None => return,
    }
);
