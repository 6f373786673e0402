//! The one pipeline the CLI and the Lambda both run.
//!
//! It is split into a pure half ([`prepare`] and [`prepare_document`] for
//! whole inputs, [`summarise`] for batches a caller decoded as a stream:
//! decode, extract, scrub, fingerprint, aggregate, each stage taking the
//! previous one's output) and a writing half, [`Pipeline::record`] (record
//! the batches exactly once, then send the alerts they queued), so the CLI
//! can check every input before it writes anything and the Lambda can tell
//! a bad payload (never retry) from a failed write (retry). Both binaries
//! write through [`Pipeline::record`] and nothing else.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::aggregate::{self, Keyed};
use crate::decode::eventbridge::Event;
use crate::decode::{self, DecodeError, LogBatch, Naming};
use crate::limits::{FLUSH_ROUND_RESERVE_MS, MAX_ALERTS_PER_FLUSH};
use crate::model::{Alert, BatchSummary, Occurrence, Recorded};
use crate::notify::Notifier;
use crate::policy::Policy;
use crate::runs::RunConfig;
use crate::store::{Store, StoreError, UnsettledRun};
use crate::{extract, fingerprint, runs, scrub};

/// How long a claimed alert is reserved for the claimer. Long enough for a
/// slow SNS call, short enough that an alert whose sender died goes out with
/// the next run.
pub const ALERT_LEASE_MS: i64 = 60_000;

/// A decoded and summarised input, ready to be recorded.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// A CONTROL_MESSAGE, or a schedule's tick: acknowledged, nothing to
    /// record.
    Control,
    Batch(BatchSummary),
}

/// Decodes and summarises one input. Pure: touches no store.
pub fn prepare(input: &[u8]) -> Result<Prepared, DecodeError> {
    prepare_with(input, &RunConfig::default())
}

/// [`prepare`], with the run id and item count fields the policy names
/// per log group. An EventBridge job event is read as a batch of runs.
pub fn prepare_with(input: &[u8], runs: &RunConfig) -> Result<Prepared, DecodeError> {
    if let Some(prepared) = prepare_job_event(input) {
        return prepared;
    }
    prepare_message_with(&decode::payload(input)?, runs)
}

/// An EventBridge input read as a batch of runs; `None` when the input is
/// not one. Pure: touches no store.
pub fn prepare_job_event(input: &[u8]) -> Option<Result<Prepared, DecodeError>> {
    let event = decode::eventbridge::parse(input)?;
    Some(event.map(|event| match event {
        // A schedule's tick only asks to settle runs and send alerts.
        Event::Scheduled => Prepared::Control,
        Event::Job(job) => Prepared::Batch(runs::jobevent::summary(&job)),
    }))
}

/// Summarises one decompressed DATA_MESSAGE (or CONTROL_MESSAGE), as a
/// subscription envelope or a Kinesis record carries it once the Lambda has
/// decoded its data. Pure: touches no store.
pub fn prepare_message(message: &[u8]) -> Result<Prepared, DecodeError> {
    prepare_message_with(message, &RunConfig::default())
}

/// [`prepare_message`], with the run fields the policy names.
pub fn prepare_message_with(message: &[u8], runs: &RunConfig) -> Result<Prepared, DecodeError> {
    let batch = decode::parse(message)?;
    if batch.is_control() {
        return Ok(Prepared::Control);
    }
    Ok(Prepared::Batch(summarise_with(&batch, runs)))
}

/// Decodes and summarises one whole input of any JSON shape: a Lambda input,
/// a DATA_MESSAGE, or what `aws logs filter-log-events` and `get-log-events`
/// print (named by `naming`). Pure: touches no store.
pub fn prepare_document(input: &[u8], naming: &Naming) -> Result<Vec<Prepared>, DecodeError> {
    prepare_document_with(input, naming, &RunConfig::default())
}

/// [`prepare_document`], with the run fields the policy names.
pub fn prepare_document_with(
    input: &[u8],
    naming: &Naming,
    runs: &RunConfig,
) -> Result<Vec<Prepared>, DecodeError> {
    if let Some(prepared) = prepare_job_event(input) {
        return prepared.map(|p| vec![p]);
    }
    let mut prepared = Vec::new();
    decode::each_batch(input, naming, |batch| {
        prepared.push(if batch.is_control() {
            Prepared::Control
        } else {
            Prepared::Batch(summarise_with(batch, runs))
        });
        Ok::<_, DecodeError>(())
    })?;
    Ok(prepared)
}

/// Checks a whole input as [`prepare_document`] reads it, without the
/// costly stages: decoding is the only one that can fail.
pub fn check_document(input: &[u8], naming: &Naming) -> Result<(), DecodeError> {
    if let Some(event) = decode::eventbridge::parse(input) {
        return event.map(|_| ());
    }
    decode::each_batch(input, naming, |_| Ok::<_, DecodeError>(()))
}

/// The pure stages over one decoded batch, in order: extract the errors,
/// scrub each one whole, fingerprint it, and fold them into one delta per
/// issue. Scrubbing comes before fingerprinting so that neither the key nor
/// anything kept can depend on a secret the line carried. Beside them, the
/// runs the events belong to are identified, and each error is counted in
/// its run.
pub fn summarise(batch: &LogBatch<'_>) -> BatchSummary {
    summarise_with(batch, &RunConfig::default())
}

/// [`summarise`], with the run fields the policy names.
pub fn summarise_with(batch: &LogBatch<'_>, runs: &RunConfig) -> BatchSummary {
    let found = extract::errors_in(&batch.log_events);
    let keyed = key_all(&batch.log_group, found);
    aggregate::fold(batch, keyed, runs::identify(batch, runs))
}

/// Scrubs and fingerprints the errors extraction found, each with the
/// index of its event: scrubbing first, so neither the key nor anything kept
/// depends on a secret the line carried.
///
/// Each stage runs over all of the batch's errors before the next starts,
/// rather than all stages over one error after another: the scrubber, the
/// v3 key and the v2 key are each more code than the CPU's instruction cache
/// holds beside the others, and taking them in turn per error fetched them
/// again for every error.
pub(crate) fn key_all(log_group: &str, mut errors: Vec<(usize, Occurrence)>) -> Vec<Keyed> {
    for (_, occurrence) in &mut errors {
        scrub::occurrence(occurrence);
    }
    let keys: Vec<String> = errors
        .iter()
        .map(|(_, occurrence)| fingerprint::fingerprint(log_group, occurrence))
        .collect();
    errors
        .into_iter()
        .zip(keys)
        .map(|((event, occurrence), fingerprint)| Keyed {
            event,
            fingerprint,
            previous: fingerprint::v2::fingerprint(log_group, &occurrence),
            occurrence,
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What recording some batches did.
#[derive(Debug)]
pub struct Ingested {
    /// One per batch, in order.
    pub recorded: Vec<Recorded>,
    /// The alerts sent afterwards (those the batches queued, and any left
    /// by an earlier run), or why the outbox could not be read. The batches
    /// are recorded either way: a caller reports them before this, since a
    /// retry of the same batches is a duplicate that reports nothing.
    pub flushed: Result<Flushed, StoreError>,
}

/// What flushing the outbox did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Flushed {
    pub sent: usize,
    /// Alerts that could not be delivered; they stay queued.
    pub failed: Vec<String>,
    /// The issues the sent alerts named, so a caller can say which of the
    /// issues it recorded went out and which were held back.
    pub announced: Vec<String>,
    /// The runs settled before sending.
    pub settled: Vec<String>,
    /// The runs whose settlement failed for good: the alerts went out all
    /// the same, and each was logged with what to do.
    pub unsettled: Vec<UnsettledRun>,
    /// The issues the failed alerts named (not delivered, or delivered
    /// but not marked sent: either way still queued).
    pub unsent: Vec<String>,
}

pub struct Pipeline {
    pub store: Box<dyn Store>,
    pub notifier: Box<dyn Notifier>,
    pub policy: Policy,
    pub clock: fn() -> i64,
    /// How long after a run's end it is settled (digest, lifecycle), so
    /// that the delivery of its last logs can arrive first. The CLI's
    /// inputs are complete when it records them: 0. The Lambda waits.
    pub run_settle_ms: i64,
    /// When the caller must be done, in epoch milliseconds (0: no
    /// deadline). A flush claims up to [`MAX_ALERTS_PER_FLUSH`] alerts at a
    /// time and claims again while the outbox has more: the CLI until it is
    /// empty, the Lambda only while its invocation has time left for a
    /// whole round ([`Pipeline::finish_by`]).
    deadline: AtomicI64,
}

/// Milliseconds since the epoch from the system clock.
pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Pipeline {
    pub fn new(store: Box<dyn Store>, notifier: Box<dyn Notifier>) -> Pipeline {
        Pipeline {
            store,
            notifier,
            policy: Policy::default(),
            clock: system_clock,
            run_settle_ms: 0,
            deadline: AtomicI64::new(0),
        }
    }

    /// Says when the work the pipeline does next must be done (epoch
    /// milliseconds; `None`: never). The Lambda sets its invocation's
    /// deadline before each invocation: a flush then sends its first round
    /// of alerts whatever the time, and another only while a round, as
    /// long as the longest one so far and at least
    /// [`FLUSH_ROUND_RESERVE_MS`], still fits. With one round an
    /// invocation, a backlog of 2,000 alerts would wait for ten invocations
    /// (ten settling ticks, fifty minutes, where batches are rare).
    pub fn finish_by(&self, deadline: Option<i64>) {
        self.deadline
            .store(deadline.unwrap_or(0).max(0), Ordering::Relaxed);
    }

    /// Whether a round taking `round_ms` still fits before the deadline.
    fn time_for_a_round(&self, round_ms: i64) -> bool {
        match self.deadline.load(Ordering::Relaxed) {
            0 => true,
            // Wall time, not `self.clock`: it is the invocation's time
            // that runs out, whatever time the records are stamped with.
            deadline => system_clock() + round_ms.max(FLUSH_ROUND_RESERVE_MS) <= deadline,
        }
    }

    /// Settles runs only this long after they ended.
    pub fn with_run_settle_ms(mut self, ms: i64) -> Pipeline {
        self.run_settle_ms = ms;
        self
    }

    pub fn with_policy(mut self, policy: Policy) -> Pipeline {
        self.policy = policy;
        self
    }

    /// Records a summarised batch exactly once.
    pub async fn apply(&self, batch: &BatchSummary) -> Result<Recorded, StoreError> {
        self.store.record(batch, (self.clock)(), &self.policy).await
    }

    /// Records several batches, each exactly once, in as few writes as the
    /// store allows.
    pub async fn apply_all(&self, batches: &[BatchSummary]) -> Result<Vec<Recorded>, StoreError> {
        self.store
            .record_all(batches, (self.clock)(), &self.policy)
            .await
    }

    /// Settles the runs that are done (their digests and lifecycle queue
    /// alerts), then sends every queued alert whose lease is free, marking
    /// each sent only after the notifier accepted it: at least once, and
    /// once in practice. A run whose settlement fails for good is logged
    /// and reported in [`Flushed::unsettled`], not returned: every flush
    /// would meet it again, and no alert of any job would go out. A
    /// temporary failure is returned, so that the caller retries.
    pub async fn flush_alerts(&self) -> Result<Flushed, StoreError> {
        let now = (self.clock)();
        let settled = self
            .store
            .settle_runs(now, self.run_settle_ms, &self.policy)
            .await?;
        for failed in &settled.failed {
            tracing::warn!(
                run = %failed.run,
                error = %failed.error,
                "run not settled; every other run was, and alerts go out. Its digest, its job's streaks and the held alerts it would release wait until it settles, which is tried at every flush: `faultline runs show {}` shows it, and the error says what to repair; `faultline runs forget {}` removes it if it cannot be repaired",
                failed.run,
                failed.run
            );
        }
        let mut flushed = Flushed {
            settled: settled.runs,
            unsettled: settled.failed,
            ..Flushed::default()
        };
        let mut longest_round_ms = 0;
        for round in 0usize.. {
            if round > 0 && !self.time_for_a_round(longest_round_ms) {
                tracing::info!(
                    sent = flushed.sent,
                    "more alerts are queued than this invocation has time to send; the next flush sends them"
                );
                break;
            }
            let started = std::time::Instant::now();
            // Each round's leases start when it claims: a round is sent
            // well inside them, however many rounds came before.
            let at = if round == 0 { now } else { (self.clock)() };
            let claimed = match self
                .store
                .claim_alerts(at, ALERT_LEASE_MS, MAX_ALERTS_PER_FLUSH)
                .await
            {
                Ok(claimed) => claimed,
                Err(e) if round == 0 => return Err(e),
                // What the earlier rounds sent stands; the rest stays
                // queued, unleased or under leases that run out.
                Err(e) => {
                    tracing::warn!(error = %e, sent = flushed.sent, "could not claim more queued alerts; the next flush sends them");
                    return Ok(flushed);
                }
            };
            let full = claimed.len() == MAX_ALERTS_PER_FLUSH;
            self.send_claimed(claimed, &mut flushed).await;
            if !full {
                break;
            }
            let took = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            longest_round_ms = longest_round_ms.max(took);
        }
        Ok(flushed)
    }

    /// Sends claimed alerts one by one, marking each sent once the notifier
    /// took it.
    async fn send_claimed(&self, claimed: Vec<Alert>, flushed: &mut Flushed) {
        for alert in claimed {
            if let Err(e) = self.notifier.send(&alert).await {
                tracing::warn!(alert = %alert.id, error = %e, "alert kept for a later run");
                flushed
                    .unsent
                    .extend(alert.issues.iter().map(|i| i.id.clone()));
                flushed.failed.push(alert.id);
                continue;
            }
            // Sent, but not yet marked: a failure here must not hold back the
            // alerts leased behind it. It is reported as a failure so the
            // run is retried; that retry sends this one again (at least
            // once; the alert id lets readers drop the repeat).
            match self.store.alert_sent(&alert, (self.clock)()).await {
                Ok(()) => {
                    flushed.sent += 1;
                    flushed
                        .announced
                        .extend(alert.issues.iter().map(|i| i.id.clone()));
                }
                Err(e) => {
                    tracing::warn!(alert = %alert.id, error = %e, "alert sent but not marked; it may be sent again");
                    flushed
                        .unsent
                        .extend(alert.issues.iter().map(|i| i.id.clone()));
                    flushed.failed.push(alert.id);
                }
            }
        }
    }

    /// The one way both binaries write: records prepared batches, each
    /// exactly once and in as few writes as the store allows, then sends
    /// the alerts waiting in the outbox. An error is a failed write: nothing
    /// of these batches was recorded. A failure after the write is in
    /// [`Ingested::flushed`], beside what was recorded.
    pub async fn record(&self, batches: &[BatchSummary]) -> Result<Ingested, StoreError> {
        let recorded = if batches.is_empty() {
            Vec::new()
        } else {
            self.apply_all(batches).await?
        };
        let flushed = self.flush_alerts().await;
        Ok(Ingested { recorded, flushed })
    }

    /// Decodes, records and alerts for one input.
    pub async fn ingest(&self, input: &[u8]) -> Result<(Option<Recorded>, Flushed), PipelineError> {
        let batch = match prepare(input)? {
            Prepared::Control => None,
            Prepared::Batch(batch) => Some(batch),
        };
        let ingested = self.record(batch.as_slice()).await?;
        let flushed = ingested.flushed?;
        Ok((ingested.recorded.into_iter().next(), flushed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Queues `count` alerts straight into a SQLite store's outbox, as a
    /// burst of recorded batches would leave them.
    fn queue_alerts(path: &std::path::Path, from: usize, count: usize) {
        let conn = rusqlite::Connection::open(path).unwrap();
        for i in from..from + count {
            let alert = Alert {
                id: format!("b{i}:new_issue"),
                event_type: crate::model::EventType::NewIssue,
                log_group: "/g".into(),
                created_at: i as i64,
                issues: Vec::new(),
                run: None,
            };
            conn.execute(
                "INSERT INTO outbox (alert_id, payload, created_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![alert.id, serde_json::to_string(&alert).unwrap(), i as i64],
            )
            .unwrap();
        }
    }

    #[tokio::test]
    async fn a_flush_claims_again_while_its_deadline_leaves_time_for_a_round() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.db");
        let store = crate::store::sqlite::SqliteStore::open(path.to_str().unwrap()).unwrap();
        let pipeline = Pipeline::new(Box::new(store), Box::new(crate::notify::Discard));
        let over = 5;

        queue_alerts(&path, 0, MAX_ALERTS_PER_FLUSH + over);
        pipeline.finish_by(Some(system_clock() + FLUSH_ROUND_RESERVE_MS / 2));
        assert_eq!(
            pipeline.flush_alerts().await.unwrap().sent,
            MAX_ALERTS_PER_FLUSH,
            "the first round goes whatever the time; no time is left for another"
        );
        assert_eq!(
            pipeline.flush_alerts().await.unwrap().sent,
            over,
            "the rest waited for the next flush"
        );

        queue_alerts(&path, 1_000, 2 * MAX_ALERTS_PER_FLUSH + over);
        pipeline.finish_by(Some(system_clock() + 10 * FLUSH_ROUND_RESERVE_MS));
        assert_eq!(
            pipeline.flush_alerts().await.unwrap().sent,
            2 * MAX_ALERTS_PER_FLUSH + over,
            "time for every round: claim after claim until none is left"
        );

        queue_alerts(&path, 2_000, 2 * MAX_ALERTS_PER_FLUSH + over);
        pipeline.finish_by(None);
        assert_eq!(
            pipeline.flush_alerts().await.unwrap().sent,
            2 * MAX_ALERTS_PER_FLUSH + over,
            "the CLI has no deadline"
        );
    }

    fn batch_json(message: &str) -> String {
        serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/g", "logStream": "s",
            "logEvents": [{"id": "1", "timestamp": 1_700_000_000_000i64, "message": message}],
        })
        .to_string()
    }

    #[test]
    fn secrets_in_log_lines_do_not_reach_titles_samples_or_keys() {
        let line = "[ERROR] AccessDenied: key AKIAIOSFODNN7EXAMPLE cannot read s3://b/k (password=hunter2)";
        let json = batch_json(line);
        let summary = summarise(&decode::parse(json.as_bytes()).unwrap());
        let text = serde_json::to_string(&summary).unwrap();
        assert!(!text.contains("AKIAIOSFODNN7EXAMPLE"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(summary.issues[0].title.contains("[redacted]"));
        let other_key = batch_json(&line.replace("AKIAIOSFODNN7EXAMPLE", "AKIAJ7Q2EXAMPLE7KEY2"));
        let other = summarise(&decode::parse(other_key.as_bytes()).unwrap());
        assert_eq!(
            other.issues[0].fingerprint, summary.issues[0].fingerprint,
            "the key is computed after scrubbing, so a secret cannot split an issue"
        );
    }

    #[test]
    fn a_secret_at_the_cut_of_a_long_field_is_scrubbed_before_the_cut() {
        let value = format!("{} AKIAIOSFODNN7EXAMPLE tail", "x".repeat(1010));
        let line = serde_json::json!({"level": "error", "msg": "boom", "detail": value});
        let json = batch_json(&line.to_string());
        let summary = summarise(&decode::parse(json.as_bytes()).unwrap());
        let text = serde_json::to_string(&summary).unwrap();
        assert!(text.contains("xxxxxxxx"), "the field is kept: {text}");
        assert!(!text.contains("AKIAIOSF"), "no fragment of the key: {text}");
    }
}
