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

/// The real-runtime corpus (tests/corpus, see tests/extract_corpus.rs) read
/// as the Lambda reads it: each stream's deliveries in order, one
/// invocation each, carried through the store, then the tick.
mod corpus {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use faultline::decode::LogEvent;
    use faultline::model::Occurrence;

    use super::*;

    const LOG_GROUP: &str = "/aws/corpus";

    #[derive(serde::Deserialize)]
    struct Labelled {
        stream: String,
        #[serde(default)]
        batch: u32,
        message: String,
        bug: Option<String>,
    }

    fn labelled() -> Vec<Labelled> {
        include_str!("corpus/events.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).expect("corpus line"))
            .collect()
    }

    /// The corpus's deliveries: (stream, first event's index, events), in
    /// stream order. An event's id and timestamp are its index.
    fn deliveries(all: &[Labelled]) -> Vec<LogBatch<'_>> {
        let mut out: Vec<LogBatch<'_>> = Vec::new();
        for (i, l) in all.iter().enumerate() {
            let event = LogEvent {
                id: Cow::Owned(format!("{i:056}")),
                timestamp: i as i64,
                message: Cow::Borrowed(l.message.as_str()),
            };
            let same = out
                .last()
                .is_some_and(|b| b.log_stream == l.stream && i > 0 && all[i - 1].batch == l.batch);
            if same {
                if let Some(b) = out.last_mut() {
                    b.log_events.push(event);
                }
            } else {
                out.push(LogBatch {
                    message_type: Cow::Borrowed("DATA_MESSAGE"),
                    owner: Cow::Borrowed("123456789012"),
                    log_group: Cow::Borrowed(LOG_GROUP),
                    log_stream: Cow::Borrowed(l.stream.as_str()),
                    log_events: vec![event],
                });
            }
        }
        out
    }

    /// Each bug's one fingerprint when a stream's batches are read in one
    /// process with what each left carried to the next (the reading whose
    /// grouping tests/extract_corpus.rs measures), and how many errors it
    /// has; `None` for a bug the reading splits or merges.
    fn reference(all: &[Labelled]) -> BTreeMap<String, (Option<String>, u64)> {
        let mut found: Vec<Option<Occurrence>> = (0..all.len()).map(|_| None).collect();
        let batches = deliveries(all);
        let mut held: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        let mut first = 0;
        for (n, batch) in batches.iter().enumerate() {
            let carried = held.remove(batch.log_stream.as_ref()).unwrap_or_default();
            let messages: Vec<&str> = carried.iter().map(|&i| all[i].message.as_str()).collect();
            let at_end = batches[n + 1..]
                .iter()
                .all(|b| b.log_stream != batch.log_stream);
            let got = faultline::extract::extract_stream(&messages, &batch.log_events, at_end);
            for (i, o) in got.carried {
                found[carried[i]] = Some(o);
            }
            let end = first + batch.log_events.len();
            for (i, o) in got.found {
                found[first + i] = Some(o);
            }
            let mut next: Vec<usize> = carried[carried.len() - got.pending_carried..].to_vec();
            next.extend(end - got.pending_events..end);
            held.insert(batch.log_stream.as_ref(), next);
            first = end;
        }
        let mut prints: BTreeMap<String, (Option<String>, u64)> = BTreeMap::new();
        let mut bugs_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (l, o) in all.iter().zip(found) {
            let (Some(bug), Some(mut o)) = (&l.bug, o) else {
                continue;
            };
            faultline::scrub::occurrence(&mut o);
            let print = faultline::fingerprint::fingerprint(LOG_GROUP, &o);
            bugs_of.entry(print.clone()).or_default().push(bug.clone());
            let entry = prints
                .entry(bug.clone())
                .or_insert((Some(print.clone()), 0));
            if entry.0.as_deref() != Some(print.as_str()) {
                entry.0 = None;
            }
            entry.1 += 1;
        }
        for entry in prints.values_mut() {
            let merged = entry
                .0
                .as_ref()
                .is_some_and(|p| bugs_of[p].iter().any(|b| Some(b) != bugs_of[p].first()));
            if merged {
                entry.0 = None;
            }
        }
        prints
    }

    /// Grouping accuracy read from a store: an error counts as grouped
    /// right when the issue of its bug's one fingerprint holds exactly the
    /// bug's errors (the corpus metric, at the granularity a store keeps).
    async fn grouping(
        store: &dyn Store,
        reference: &BTreeMap<String, (Option<String>, u64)>,
    ) -> (f64, u64, u64) {
        let counts: BTreeMap<String, u64> = store
            .issues(StatusFilter::All)
            .await
            .unwrap()
            .into_iter()
            .map(|i| (i.fingerprint, i.count))
            .collect();
        let total: u64 = reference.values().map(|(_, n)| n).sum();
        let correct: u64 = reference
            .values()
            .filter(|(print, n)| print.as_ref().is_some_and(|p| counts.get(p) == Some(n)))
            .map(|(_, n)| n)
            .sum();
        (correct as f64 / total as f64, correct, total)
    }

    /// Reads the corpus into `store` as the Lambda does, and into a second
    /// store with each batch judged alone; returns both groupings.
    async fn measure(store: Box<dyn Store>, other: Box<dyn Store>, name: &str) -> f64 {
        let all = labelled();
        let reference = reference(&all);
        assert!(
            reference.values().all(|(print, _)| print.is_some()),
            "the in-process reading groups every bug alone"
        );
        let batches = deliveries(&all);
        let carried = Pipeline::new(store, Box::new(faultline::notify::Discard));
        for batch in &batches {
            carry::record_batch(&carried, batch, &RunConfig::default())
                .await
                .unwrap();
        }
        let judged = carry::judge_stale(&carried, &RunConfig::default(), 0)
            .await
            .unwrap();
        let (through_store, correct, total) = grouping(carried.store.as_ref(), &reference).await;

        let alone = Pipeline::new(other, Box::new(faultline::notify::Discard));
        let summaries: Vec<_> = batches.iter().map(pipeline::summarise).collect();
        alone.record(&summaries).await.unwrap();
        let (judged_alone, _, _) = grouping(alone.store.as_ref(), &reference).await;
        let streams: std::collections::BTreeSet<&str> =
            batches.iter().map(|b| b.log_stream.as_ref()).collect();
        eprintln!(
            "{name}: {} deliveries in {} streams; carried through the store: grouping {through_store:.3} ({correct}/{total} errors), {judged} tails judged by the tick; each batch judged alone: grouping {judged_alone:.3}",
            batches.len(),
            streams.len(),
        );
        through_store
    }

    #[tokio::test]
    async fn the_real_runtime_corpus_cut_into_batches_groups_through_sqlite_as_it_does_whole() {
        let (store, _dir) = sqlite_store().await;
        let (other, _dir2) = sqlite_store().await;
        assert_eq!(measure(store, other, "SQLite").await, 1.0);
    }

    /// A measurement, not a check run on every change: about 100 s on the
    /// emulator (`cargo test --test store_held -- --ignored --nocapture`).
    #[tokio::test]
    #[ignore = "about 100 s on the emulator; run with --ignored to measure"]
    async fn the_real_runtime_corpus_cut_into_batches_groups_through_dynamodb_as_it_does_whole() {
        let Some((store, ())) = support::dynamodb_store().await else {
            return;
        };
        let (other, _dir) = sqlite_store().await;
        assert_eq!(measure(store, other, "DynamoDB").await, 1.0);
    }
}
