//! Batches of log streams read in order, with the traces a batch boundary
//! cuts carried to the next batch of the same stream.
//!
//! The awslogs driver (AWS Batch, ECS) writes one event per line, so a
//! delivery can end inside a stack trace. Judged alone, the head would be
//! counted with a truncated identity (its logging text, not the exception
//! and its frames) and the tail lost. Here the events a batch leaves
//! unfinished ([`extract::Stream`]) are kept, and judged with the next batch
//! of their stream: the trace is counted once, with the identity it has
//! whole, in the batch that completes it, as an event of that batch. When a
//! stream has no next batch, what it left is judged as it is
//! ([`Streams::finish`]).
//!
//! This is the pure half: [`Streams`] for readers that see a stream's
//! batches in order in one process (`faultline ingest` over consecutive
//! files), and [`stitch`] and [`judge_held`] for the Lambda, which sees one
//! batch per invocation and carries the pending events between invocations
//! through the store ([`crate::carry`]).
//!
//! The stages run in the pipeline's order: extract, scrub, fingerprint,
//! aggregate.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::aggregate;
use crate::decode::{self, DecodeError, LogBatch, LogEvent, Naming};
use crate::model::{BatchSummary, HeldEvent, Occurrence};
use crate::pipeline::{self, Prepared};
use crate::runs::RunConfig;
use crate::{extract, runs};

/// How many streams may hold unfinished traces at once; past it, the ones
/// held longest are judged as they are, so memory stays bounded however many
/// streams a run reads (each holds at most one bounded trace).
pub const MAX_PENDING_STREAMS: usize = 1024;

/// The unfinished traces of every stream read so far.
#[derive(Default)]
pub struct Streams {
    held: HashMap<(String, String), (u64, Vec<HeldEvent>)>,
    /// The run id and item count fields the policy names per log group.
    runs: RunConfig,
    /// Counts batches, to find the streams held longest.
    clock: u64,
}

impl Streams {
    pub fn new() -> Streams {
        Streams::default()
    }

    /// Streams whose events are counted in runs named by these fields.
    pub fn with_runs(runs: RunConfig) -> Streams {
        Streams {
            runs,
            ..Streams::default()
        }
    }

    /// Decodes and summarises one input of any JSON shape, as
    /// [`crate::pipeline::prepare_document`] does, with each batch judged
    /// together with what its stream's previous batch left unfinished.
    pub fn prepare_document(
        &mut self,
        input: &[u8],
        naming: &Naming,
    ) -> Result<Vec<Prepared>, DecodeError> {
        if let Some(prepared) = pipeline::prepare_job_event(input) {
            return prepared.map(|p| vec![p]);
        }
        let mut prepared = Vec::new();
        decode::each_batch(input, naming, |batch| {
            if batch.is_control() {
                prepared.push(Prepared::Control);
            } else {
                prepared.extend(self.summarise(batch).into_iter().map(Prepared::Batch));
            }
            Ok::<_, DecodeError>(())
        })?;
        Ok(prepared)
    }

    /// The summary of one batch of a stream. A trace its last events start
    /// is left for the next batch of the stream; a trace the previous batch
    /// left is completed and counted here. When too many streams hold
    /// unfinished traces, the summaries of the ones held longest, judged as
    /// they are, follow the batch's.
    pub fn summarise(&mut self, batch: &LogBatch<'_>) -> Vec<BatchSummary> {
        self.clock += 1;
        let key = (batch.log_group.to_string(), batch.log_stream.to_string());
        let held = self.held.remove(&key).map(|(_, h)| h).unwrap_or_default();
        let (summary, next) = stitch(&held, batch, &self.runs, false);
        let mut out = vec![summary];
        if !next.is_empty() {
            self.held.insert(key, (self.clock, next));
            if self.held.len() > MAX_PENDING_STREAMS {
                out.extend(self.evict_oldest());
            }
        }
        out
    }

    /// Judges the half of the held streams held longest.
    fn evict_oldest(&mut self) -> Vec<BatchSummary> {
        let mut ages: Vec<u64> = self.held.values().map(|(t, _)| *t).collect();
        ages.sort_unstable();
        let cut = ages[ages.len() / 2];
        let old: Vec<(String, String)> = self
            .held
            .iter()
            .filter(|(_, (t, _))| *t <= cut)
            .map(|(k, _)| k.clone())
            .collect();
        old.into_iter()
            .filter_map(|k| {
                let (_, events) = self.held.remove(&k)?;
                Some(judged_whole(&k.0, &k.1, &events, &self.runs))
            })
            .collect()
    }

    /// Summaries of what the streams left unfinished, judged as it is: the
    /// run is over, or no next batch is coming. One summary per stream that
    /// held anything, in no particular order.
    pub fn finish(&mut self) -> Vec<BatchSummary> {
        let held: Vec<_> = self.held.drain().collect();
        held.into_iter()
            .map(|((group, stream), (_, events))| {
                judged_whole(&group, &stream, &events, &self.runs)
            })
            .collect()
    }
}

/// One batch of a stream judged together with `held`, the events its
/// stream's previous batch left unfinished: the batch's summary, and the
/// events this batch leaves unfinished in turn (empty when none, or when
/// `at_end` says no batch will follow and everything is judged now).
///
/// A trace the held events start is counted here, as an event of this
/// batch, with the identity it has whole; the summary keeps the batch's own
/// id and event count, so a delivery of the same batch with or without what
/// came before it is recognised as the same batch.
pub fn stitch(
    held: &[HeldEvent],
    batch: &LogBatch<'_>,
    runs: &RunConfig,
    at_end: bool,
) -> (BatchSummary, Vec<HeldEvent>) {
    let carried: Vec<&str> = held.iter().map(|h| h.message.as_str()).collect();
    let got = extract::extract_stream(&carried, &batch.log_events, at_end);
    let mut next: Vec<HeldEvent> = held[held.len() - got.pending_carried..].to_vec();
    let first_pending = batch.log_events.len() - got.pending_events;
    next.extend(batch.log_events[first_pending..].iter().map(|e| HeldEvent {
        id: e.id.to_string(),
        timestamp: e.timestamp,
        message: e.message.to_string(),
    }));
    let summary = summarise_with(batch, held, got.carried, got.found, runs);
    (summary, next)
}

/// The summary of a batch whose events follow `held` (the events the
/// stream's previous batch left), given what extraction found in each.
fn summarise_with(
    batch: &LogBatch<'_>,
    held: &[HeldEvent],
    mut carried: Vec<(usize, Occurrence)>,
    found: Vec<(usize, Occurrence)>,
    runs: &RunConfig,
) -> BatchSummary {
    if held.is_empty() {
        let keyed = pipeline::key_all(&batch.log_group, found);
        return aggregate::fold(batch, keyed, runs::identify(batch, runs));
    }
    // The carried events that complete a trace are counted as events of
    // this batch: folded over the carried events followed by the batch's.
    let mut events: Vec<LogEvent<'_>> = held
        .iter()
        .map(|h| LogEvent {
            id: Cow::Borrowed(h.id.as_str()),
            timestamp: h.timestamp,
            message: Cow::Borrowed(h.message.as_str()),
        })
        .collect();
    events.extend(batch.log_events.iter().cloned());
    let combined = LogBatch {
        message_type: batch.message_type.clone(),
        owner: batch.owner.clone(),
        log_group: batch.log_group.clone(),
        log_stream: batch.log_stream.clone(),
        log_events: events,
    };
    carried.extend(found.into_iter().map(|(i, o)| (held.len() + i, o)));
    let keyed = pipeline::key_all(&batch.log_group, carried);
    let mut summary = aggregate::fold(&combined, keyed, runs::identify(&combined, runs));
    // The carried events were this stream's events in the batch before,
    // and the batch is still the batch its own events make: delivered again
    // (a replay of the same files, with or without what came before it), it
    // is recognised and not counted twice.
    summary.events = batch.log_events.len();
    summary.batch_id = aggregate::batch_id(batch);
    summary
}

/// A stream's held events judged as they are, as one batch of their own
/// whose id is `batch_id`: no batch of the stream came to complete them.
/// They count no events (the batches that delivered them counted those).
pub fn judge_held(
    log_group: &str,
    log_stream: &str,
    held: &[HeldEvent],
    runs: &RunConfig,
    batch_id: String,
) -> BatchSummary {
    let mut summary = judge_as_it_is(log_group, log_stream, held, runs);
    summary.events = 0;
    summary.batch_id = batch_id;
    summary
}

/// A stream's held events judged as they are, as one batch of their own.
fn judged_whole(
    log_group: &str,
    log_stream: &str,
    held: &[HeldEvent],
    runs: &RunConfig,
) -> BatchSummary {
    let mut summary = judge_as_it_is(log_group, log_stream, held, runs);
    // Counted as events with the batches that delivered them.
    summary.events = 0;
    // An id of its own: when the batch that delivered these events held
    // nothing else, the same events would give that batch's id, and the
    // store would take this for that batch delivered again and drop the
    // trace. Derived from it, so a replayed run still gives the same id.
    summary.batch_id = held_batch_id(&summary.batch_id);
    summary
}

fn judge_as_it_is(
    log_group: &str,
    log_stream: &str,
    held: &[HeldEvent],
    runs: &RunConfig,
) -> BatchSummary {
    let events: Vec<LogEvent<'_>> = held
        .iter()
        .map(|h| LogEvent {
            id: Cow::Borrowed(h.id.as_str()),
            timestamp: h.timestamp,
            message: Cow::Borrowed(h.message.as_str()),
        })
        .collect();
    let batch = LogBatch {
        message_type: Cow::Borrowed("DATA_MESSAGE"),
        owner: Cow::Borrowed(""),
        log_group: Cow::Borrowed(log_group),
        log_stream: Cow::Borrowed(log_stream),
        log_events: events,
    };
    let found = extract::errors_in(&batch.log_events);
    let keyed = pipeline::key_all(log_group, found);
    aggregate::fold(&batch, keyed, runs::identify(&batch, runs))
}

fn held_batch_id(delivered_as: &str) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(b"held to the end of its stream\0");
    hasher.update(delivered_as.as_bytes());
    format!("{:032x}", hasher.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch<'a>(stream: &'a str, first_id: usize, messages: &[&'a str]) -> LogBatch<'a> {
        LogBatch {
            message_type: Cow::Borrowed("DATA_MESSAGE"),
            owner: Cow::Borrowed("1"),
            log_group: Cow::Borrowed("/aws/batch/job"),
            log_stream: Cow::Borrowed(stream),
            log_events: messages
                .iter()
                .enumerate()
                .map(|(i, m)| LogEvent {
                    id: Cow::Owned(format!("{}", first_id + i)),
                    timestamp: (first_id + i) as i64,
                    message: Cow::Borrowed(m),
                })
                .collect(),
        }
    }

    const TRACE: [&str; 6] = [
        "2024-05-01 10:00:00,001 ERROR could not load shard 3",
        "Traceback (most recent call last):",
        "  File \"/app/load.py\", line 8, in load",
        "    raise KeyError(name)",
        "KeyError: 'shard-3'",
        "done",
    ];

    /// A trace cut by a batch boundary is counted once, in the batch that
    /// completes it, with the identity it has whole.
    #[test]
    fn a_trace_cut_by_a_batch_boundary_is_counted_once_whole() {
        let whole = crate::pipeline::summarise(&batch("s", 0, &TRACE));
        for cut in 1..TRACE.len() {
            let mut streams = Streams::new();
            let first = streams.summarise(&batch("s", 0, &TRACE[..cut]));
            let second = streams.summarise(&batch("s", cut, &TRACE[cut..]));
            let rest = streams.finish();
            let all: Vec<&BatchSummary> = first.iter().chain(&second).chain(&rest).collect();
            let errors: usize = all.iter().map(|s| s.errors).sum();
            assert_eq!(errors, 1, "cut after {cut}");
            let issue = all.iter().flat_map(|s| &s.issues).next().unwrap();
            assert_eq!(
                issue.fingerprint, whole.issues[0].fingerprint,
                "cut after {cut}"
            );
            assert_eq!(issue.first_seen, 0, "counted at its head event");
            let events: usize = all.iter().map(|s| s.events).sum();
            assert_eq!(events, TRACE.len(), "every event counted once");
        }
    }

    /// A stream read twice in one run (a replay of the same files) gives the
    /// same batch ids the second time, so a store counts it once.
    #[test]
    fn a_replayed_batch_keeps_its_id_whatever_was_carried_into_it() {
        let mut once = Streams::new();
        let alone = once.summarise(&batch("s", 2, &TRACE[2..]));
        let mut carried = Streams::new();
        carried.summarise(&batch("s", 0, &TRACE[..2]));
        let after_head = carried.summarise(&batch("s", 2, &TRACE[2..]));
        assert_eq!(alone[0].batch_id, after_head[0].batch_id);
        assert_eq!(after_head[0].errors, 1);
    }

    /// A batch that holds nothing but the start of a trace is recorded as
    /// it came, with no errors; the trace judged at the end of the run is
    /// another batch, not taken for that one delivered again.
    #[test]
    fn a_trace_held_to_the_end_is_not_the_batch_that_delivered_it() {
        // As `aws logs` output gives it: no owner.
        let mut head = batch("s", 0, &TRACE[..2]);
        head.owner = Cow::Borrowed("");
        let mut streams = Streams::new();
        let delivered = streams.summarise(&head);
        let rest = streams.finish();
        assert_eq!(delivered[0].errors, 0);
        assert_eq!(rest[0].errors, 1);
        assert_ne!(delivered[0].batch_id, rest[0].batch_id);

        let mut replay = Streams::new();
        replay.summarise(&head);
        assert_eq!(
            replay.finish()[0].batch_id,
            rest[0].batch_id,
            "stable on replay"
        );
    }

    /// Another stream's batch in between does not disturb a carried trace,
    /// and a head whose stream never continues is judged at the end.
    #[test]
    fn streams_are_carried_apart_and_finished_at_the_end() {
        let mut streams = Streams::new();
        let a = streams.summarise(&batch("a", 0, &TRACE[..2]));
        let b = streams.summarise(&batch("b", 100, &["2024-05-01 10:00:00,001 ERROR alone"]));
        assert_eq!(a[0].errors + b[0].errors, 0, "both left pending");
        let a2 = streams.summarise(&batch("a", 2, &TRACE[2..]));
        assert_eq!(a2[0].errors, 1);
        assert_eq!(a2[0].issues[0].kind, "KeyError");
        let rest = streams.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].errors, 1);
        assert_eq!(rest[0].log_stream, "b");
    }
}
