//! The Lambda's half of traces split across batches: a stream's unfinished
//! events carried through the store to the invocation that gets the
//! stream's next batch.
//!
//! The awslogs driver (AWS Batch, ECS) writes one event per line, so a
//! subscription's delivery can end inside a stack trace. [`crate::stream`]
//! judges a batch together with what its stream's previous batch left
//! ([`stream::stitch`]); here that leftover lives in the store as a held
//! tail ([`crate::store::pending`]) between invocations.
//!
//! # One batch, step by step
//!
//! 1. Read the stream's tails. Choose the one this batch took before (a
//!    retry), else the newest one whose last event comes before this
//!    batch's first event.
//! 2. Take it, conditionally ([`HeldTails::take`]): of two invocations
//!    reaching for one tail, one wins; the loser judges its batch without
//!    it. A batch already recorded takes no new tail.
//! 3. Judge the batch with the taken events ([`stream::stitch`]). What this
//!    batch leaves unfinished is scrubbed and left as its own tail, once
//!    per batch ([`HeldTails::leave`]).
//! 4. Record the batch (exactly once, by its id, which does not depend on
//!    what it carried).
//! 5. Release the taken tail.
//!
//! Why a crash between any two steps loses and doubles nothing, and each
//! step is safe to do again:
//!
//! - after 2: the tail is this batch's. Its retry finds it taken by itself,
//!   renews the lease and carries the same events, so it judges the batch
//!   the same way. If no retry comes, the tick takes the tail from it once
//!   its lease ([`TAKE_LEASE_MS`]) is over, provided the batch was never
//!   recorded (so the tail was never counted), and judges it alone.
//! - after 3: the tail left is there, marked as left by this batch; the
//!   retry leaves nothing again, even if the next batch took and released
//!   the tail meanwhile (no tail comes back from the dead).
//! - after 4: the batch is recorded with the tail's trace; the retry is a
//!   duplicate (its id is known), carries the same tail (still its own),
//!   and releases it. A batch recorded in part (DynamoDB writes a large one
//!   in chunks) is completed by its retry with the same tail, so every
//!   chunk is judged the same way.
//! - after 5: done; a redelivery finds no tail of its own, may take none
//!   and leave none (it was recorded: what it carries and leaves was
//!   decided by the delivery that recorded it, and a delivery judged
//!   without that tail may end differently), and is a duplicate.
//!
//! # Order and concurrency
//!
//! Two copies of one batch at once (Lambda may deliver one twice) carry
//! the same tail: a copy that loses the take reads the tails again and,
//! finding the tail taken by its own batch id, carries it too; the store
//! records whichever copy comes first, and both are the same summary.
//!
//! CloudWatch Logs promises no order between deliveries. A tail is taken by
//! the first batch to take it whose first event follows the tail's last
//! event, not necessarily the batch right after it (an event id says where
//! it stands, not which batch holds its neighbour). So with deliveries out
//! of order, or several of one stream at once, a trace may be judged with
//! a later batch's events or, when its continuation was judged first,
//! alone: each event is still counted exactly once, and the trace's
//! identity is what a batch judged alone gives (the behaviour before tails
//! were carried). In order, which is what a stream's deliveries nearly
//! always are, the trace has the identity it has whole.
//!
//! # The wait
//!
//! A tail no batch takes (the stream ended inside a trace, or its next
//! batch came before it) is judged as it is by the settling schedule's tick
//! (template.yaml `SettleRunsSchedule`, every 5 minutes) once it was held
//! `held_trace_minutes` (2): so between 2 and 7 minutes after it was left.
//! Its judgement is a batch of its own ([`judge_id`]), taken, recorded and
//! released by the same steps, so a tick that dies midway or two ticks at
//! once count it once.
//!
//! [`TAKE_LEASE_MS`]: crate::store::pending::TAKE_LEASE_MS

use std::borrow::Cow;

use crate::aggregate;
use crate::decode::{LogBatch, LogEvent};
use crate::model::{BatchSummary, HeldEvent};
use crate::pipeline::{Ingested, Pipeline};
use crate::runs::RunConfig;
use crate::store::StoreError;
use crate::store::pending::{HeldTails, Tail, TakeRule, position};
use crate::{extract, scrub, stream};

/// At most this many tails judged per tick, so a tick stays short after an
/// outage; the rest wait for the next tick.
pub const MAX_JUDGED_PER_TICK: usize = 200;

/// What recording one batch did.
#[derive(Debug)]
pub struct Carried {
    /// The batch as recorded, with any trace it completed.
    pub summary: BatchSummary,
    pub ingested: Ingested,
    /// Events of the previous batch it carried (0 when it took no tail).
    pub carried: usize,
    /// Events it left for the stream's next batch.
    pub left: usize,
}

/// A batch judged with what its stream's previous batch left unfinished,
/// what it leaves itself already in the store (steps 1 to 3): all it needs
/// to be recorded ([`Stitched::record`]) is its own. The decoded batch can
/// go before then: on a payload of many distinct errors the decompressed
/// text and its events are 40 MB, a third of the Lambda's peak.
#[derive(Debug)]
pub struct Stitched {
    summary: BatchSummary,
    batch_id: String,
    /// The tail it took (`None`: none, or a store that keeps none).
    taken: Option<Tail>,
    left: usize,
}

/// Judges one decoded batch of a stream with what the stream's previous
/// batch left unfinished, and leaves what this one leaves. A store that
/// keeps no tails judges the batch whole.
pub async fn stitch_batch(
    pipeline: &Pipeline,
    batch: &LogBatch<'_>,
    runs: &RunConfig,
) -> Result<Stitched, StoreError> {
    let batch_id = aggregate::batch_id(batch);
    let Some(held) = pipeline.store.held() else {
        let (summary, _) = stream::stitch(&[], batch, runs, true);
        return Ok(Stitched {
            summary,
            batch_id,
            taken: None,
            left: 0,
        });
    };
    let now = (pipeline.clock)();
    let taken = take_tail(held, batch, &batch_id, now).await?;
    let carried: &[HeldEvent] = taken.as_ref().map_or(&[], |t| t.events.as_slice());
    let (mut summary, mut next) = stream::stitch(carried, batch, runs, false);
    if !Tail::within_bounds(&next) || !worth_holding(&next) {
        // Past what a store keeps, or not worth a write: judged now. The
        // first summary goes before the second is made (on a batch of
        // many distinct errors it is tens of megabytes).
        drop(summary);
        (summary, next) = stream::stitch(carried, batch, runs, true);
    }
    let left = next.len();
    if !next.is_empty() {
        for event in &mut next {
            // Stored text is scrubbed text, held events included.
            if let std::borrow::Cow::Owned(clean) = scrub::scrub(&event.message) {
                event.message = clean;
            }
        }
        held.leave(&Tail {
            log_group: batch.log_group.to_string(),
            log_stream: batch.log_stream.to_string(),
            left_by: batch_id.clone(),
            events: next,
            held_at: now,
            taken_by: None,
            taken_at: None,
        })
        .await?;
    }
    Ok(Stitched {
        summary,
        batch_id,
        taken,
        left,
    })
}

impl Stitched {
    /// Records the batch and releases the tail it took (steps 4 and 5);
    /// then sends the alerts queued, as [`Pipeline::record`] does.
    pub async fn record(self, pipeline: &Pipeline) -> Result<Carried, StoreError> {
        let carried = self.taken.as_ref().map_or(0, |t| t.events.len());
        let taken: Vec<(Tail, String)> =
            self.taken.map(|t| (t, self.batch_id)).into_iter().collect();
        let ingested =
            record_and_release(pipeline, std::slice::from_ref(&self.summary), &taken).await?;
        Ok(Carried {
            summary: self.summary,
            ingested,
            carried,
            left: self.left,
        })
    }
}

/// What recording several stitched batches together did.
#[derive(Debug)]
pub struct CarriedAll {
    /// The batches as recorded, in order.
    pub summaries: Vec<BatchSummary>,
    pub ingested: Ingested,
    /// Events they carried from earlier batches, and left for later ones.
    pub carried: usize,
    pub left: usize,
}

/// Records batches judged by [`stitch_batch`] in one call, as a stream
/// invocation's records are (the store writes each issue once for all of
/// them), then releases the tails they took and sends the alerts queued.
/// A batch of the call may have taken the tail an earlier one left: the
/// take only needs the tail to be in the store, not its leaver recorded.
/// On an error, the caller retries every batch: each carries again the
/// tail it holds, and those recorded are duplicates that release theirs.
pub async fn record_stitched(
    pipeline: &Pipeline,
    stitched: Vec<Stitched>,
) -> Result<CarriedAll, StoreError> {
    let mut summaries = Vec::with_capacity(stitched.len());
    let mut taken = Vec::new();
    let (mut carried, mut left) = (0, 0);
    for batch in stitched {
        left += batch.left;
        if let Some(tail) = batch.taken {
            carried += tail.events.len();
            taken.push((tail, batch.batch_id));
        }
        summaries.push(batch.summary);
    }
    let ingested = record_and_release(pipeline, &summaries, &taken).await?;
    Ok(CarriedAll {
        summaries,
        ingested,
        carried,
        left,
    })
}

/// Steps 4 and 5 for batches of one call: record them, then release the
/// tails they took (each with the id of the batch that took it).
async fn record_and_release(
    pipeline: &Pipeline,
    summaries: &[BatchSummary],
    taken: &[(Tail, String)],
) -> Result<Ingested, StoreError> {
    let ingested = pipeline.record(summaries).await?;
    if let Some(held) = pipeline.store.held() {
        for (tail, by) in taken {
            held.release(tail, by).await?;
        }
    }
    Ok(ingested)
}

/// Records one decoded batch of a stream: [`stitch_batch`], then
/// [`Stitched::record`] (the Lambda calls the two itself, to let the
/// decoded batch go in between).
pub async fn record_batch(
    pipeline: &Pipeline,
    batch: &LogBatch<'_>,
    runs: &RunConfig,
) -> Result<Carried, StoreError> {
    stitch_batch(pipeline, batch, runs)
        .await?
        .record(pipeline)
        .await
}

/// Whether what a batch leaves unfinished is worth holding in the store.
/// Several events are a trace begun. A lone last line is held when it is
/// an error alone (the logging line a trace follows: `ERROR failed to
/// load`, then the traceback) or opens a trace itself (`Traceback ...`,
/// `Error: order 7 not found` before Node's frames). The extractor also
/// waits on a last INFO or WARN line (a trace after it would be logged
/// below ERROR), but most batches end with such a line, and holding them
/// would cost writes on nearly every batch to spare a rare miscount.
fn worth_holding(next: &[HeldEvent]) -> bool {
    let [one] = next else {
        return true;
    };
    extract::opens_a_trace(&one.message)
        || extract::extract_events(&[LogEvent {
            id: Cow::Borrowed(one.id.as_str()),
            timestamp: one.timestamp,
            message: Cow::Borrowed(one.message.as_str()),
        }])
        .first()
        .is_some_and(Option::is_some)
}

/// The tail this batch carries, taken; `None` when there is none to take.
async fn take_tail(
    held: &dyn HeldTails,
    batch: &LogBatch<'_>,
    batch_id: &str,
    now: i64,
) -> Result<Option<Tail>, StoreError> {
    let Some(first) = batch.log_events.first() else {
        return Ok(None);
    };
    let first = position(first.timestamp, &first.id);
    // Lambda may run two copies of one batch at once. When the other copy
    // takes the tail between this one's read and its take, this one must
    // carry the same tail (the store keeps whichever copy records first),
    // so a lost take reads again to see whether the winner was this batch.
    let mut lost_a_take = false;
    for _ in 0..3 {
        let tails = held.tails(&batch.log_group, &batch.log_stream).await?;
        let mine = tails
            .iter()
            .find(|t| t.taken_by.as_deref() == Some(batch_id));
        let candidate = match mine {
            Some(mine) => mine,
            // Lost to another batch, or refused because this batch was
            // recorded already, or released by a copy of this batch that
            // recorded it: this one goes on without a tail.
            None if lost_a_take => return Ok(None),
            None => {
                let newest = tails
                    .iter()
                    .filter(|t| t.left_by != batch_id && t.precedes(first))
                    .max_by(|a, b| a.last().cmp(&b.last()));
                match newest {
                    Some(newest) => newest,
                    None => return Ok(None),
                }
            }
        };
        if candidate.take_rule(batch_id, now) == TakeRule::Refused {
            return Ok(None);
        }
        if held.take(candidate, batch_id, now).await? {
            return Ok(Some(candidate.clone()));
        }
        lost_a_take = true;
    }
    // A copy of this batch keeps the tail (its lease renewed under us):
    // going on without it could record this copy first, without the trace,
    // and let the other release the tail uncounted. Lambda retries.
    Err(StoreError::Transient(format!(
        "the held tail of log stream {} kept changing while this batch took it",
        batch.log_stream
    )))
}

/// The id under which a tail judged alone is recorded: derived from the
/// batch that left it, so every tick that judges it names the same batch.
pub fn judge_id(tail: &Tail) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(b"held trace judged as it is\0");
    hasher.update(tail.left_by.as_bytes());
    format!("{:032x}", hasher.digest128())
}

/// Judges the tails held at least `wait_ms` as they are (the tick's work):
/// each taken, recorded as a batch of its own and released. Returns how
/// many it judged; alerts they queued go out with the next flush.
pub async fn judge_stale(
    pipeline: &Pipeline,
    runs: &RunConfig,
    wait_ms: i64,
) -> Result<usize, StoreError> {
    let Some(held) = pipeline.store.held() else {
        return Ok(0);
    };
    let now = (pipeline.clock)();
    let mut judged = 0;
    for tail in held
        .stale_tails(now.saturating_sub(wait_ms), MAX_JUDGED_PER_TICK)
        .await?
    {
        let judge = judge_id(&tail);
        if tail.take_rule(&judge, now) == TakeRule::Refused
            || !held.take(&tail, &judge, now).await?
        {
            continue;
        }
        let summary = stream::judge_held(
            &tail.log_group,
            &tail.log_stream,
            &tail.events,
            runs,
            judge.clone(),
        );
        pipeline.apply(&summary).await?;
        held.release(&tail, &judge).await?;
        judged += 1;
    }
    Ok(judged)
}
