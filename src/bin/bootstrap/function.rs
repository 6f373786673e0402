//! The function: its settings, and what one invocation does with a
//! subscription's batch, a stream's records, or an EventBridge event: a
//! job's state change is recorded as a batch of runs, and the settling
//! schedule's tick settles the runs that are due and sends what is queued
//! (every invocation does that after recording; the tick is for the hours
//! when nothing else arrives).
//!
//! A subscription's batch is judged with what its stream's previous batch
//! left unfinished (a trace the delivery boundary cut), carried through the
//! store ([`carry`]); the tick also judges, as they are, the traces whose
//! stream's next batch did not come within `held_trace_minutes`. A
//! stream's records (Kinesis) are judged the same way, one after the
//! other, and then recorded together.
//!
//! Batches from this function's own log group are refused (logged, not
//! failed): processing them would feed every alert back into itself.

use serde::Serialize;

use faultline::decode::kinesis::{Base64Data, KinesisEventRecord};
use faultline::decode::{self, DecodeError};
use faultline::model::{BatchSummary, Recorded};
use faultline::pipeline::{self, Flushed, Pipeline, Prepared};
use faultline::policy::Policy;
use faultline::runs::RunConfig;
use faultline::{carry, metrics, notify, store};

use crate::error::{Failure, InitError};
use crate::event::Invocation;

/// Inside Lambda only /tmp is writable; the real deployment sets a DynamoDB URL.
const DEFAULT_STORE: &str = "sqlite:/tmp/faultline/faultline.db";

pub struct Function {
    pub pipeline: Pipeline,
    pub own_log_group: Option<String>,
    /// The run id and item count fields the policy names per log group.
    pub run_fields: RunConfig,
    /// How long a trace a batch left unfinished waits for the stream's
    /// next batch before the tick judges it as it is ([`carry`]).
    pub held_wait_ms: i64,
    /// The function's name (Lambda's `AWS_LAMBDA_FUNCTION_NAME`): the
    /// dimension of its `RunsNotSettled` metric, which its stack's alarm
    /// watches.
    pub function_name: Option<String>,
}

/// What an invocation answers: for a subscription, what it did; for a
/// stream, the partial batch response.
#[derive(Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Output {
    Subscription(Response),
    Stream(BatchResponse),
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Response {
    Recorded(Counts),
    /// Delivered before (Lambda retries, and may deliver twice): not counted again.
    Duplicate(Counts),
    ControlMessage,
    OwnLogGroupSkipped,
    /// The schedule's tick: the runs it settled and the alerts it sent.
    Settled {
        runs: usize,
        alerts_sent: usize,
        /// Traces whose stream's next batch never came, judged as they are.
        #[serde(skip_serializing_if = "is_zero")]
        held_traces_judged: usize,
        /// Runs whose settlement failed for good (the log says why and
        /// what to do); the others settled and the alerts went out.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        runs_not_settled: Vec<String>,
    },
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Counts {
    pub events: usize,
    pub errors: usize,
    pub new_issues: Vec<String>,
    pub alerts_sent: usize,
    /// Errors past the limit of distinct issues per batch, counted into
    /// the issue `overflow_issue` (absent when there were none).
    #[serde(skip_serializing_if = "is_zero")]
    pub errors_past_issue_limit: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overflow_issue: Option<String>,
    /// Runs whose settlement failed for good, as for the schedule's tick.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs_not_settled: Vec<String>,
}

/// The answer `ReportBatchItemFailures` asks for: Lambda retries from the
/// first record named (by sequence number), and takes the rest as done.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

impl Function {
    pub async fn from_env() -> Result<Function, InitError> {
        let setting = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let policy = match setting("FAULTLINE_POLICY") {
            Some(policy) => Policy::from_setting(&policy)?,
            None => Policy::default(),
        };
        let store_url = setting("FAULTLINE_STORE").unwrap_or_else(|| DEFAULT_STORE.into());
        let notify_url = setting("FAULTLINE_NOTIFY").unwrap_or_else(|| "none".into());
        let run_fields = policy.run_config();
        let held_wait_ms = (policy.held_trace_minutes as i64).saturating_mul(60_000);
        // A run's last logs may reach the function after its end: wait
        // before settling it (digest, lifecycle).
        let settle_ms = (policy.run_settle_minutes as i64).saturating_mul(60_000);
        let pipeline = Pipeline::new(
            store::open(&store_url).await?,
            notify::open(&notify_url).await?,
        )
        .with_policy(policy)
        .with_run_settle_ms(settle_ms);
        // template.yaml names the group; Lambda's variable is the fallback.
        let own_log_group =
            setting("FAULTLINE_OWN_LOG_GROUP").or_else(|| setting("AWS_LAMBDA_LOG_GROUP_NAME"));
        Ok(Function {
            pipeline,
            own_log_group,
            run_fields,
            held_wait_ms,
            function_name: setting("AWS_LAMBDA_FUNCTION_NAME"),
        })
    }

    /// The invocation about to start must end by `deadline` (epoch
    /// milliseconds, from the Runtime API): its flush sends queued alerts
    /// round after round only while another round fits.
    pub fn finish_by(&self, deadline: u64) {
        self.pipeline
            .finish_by(i64::try_from(deadline).ok().filter(|d| *d > 0));
    }

    /// One invocation: its failures are logged and counted by type before
    /// Lambda hears of them.
    pub async fn invoke(&self, invocation: Invocation) -> Result<Output, Failure> {
        let result = match invocation {
            Invocation::Subscription(data) => {
                self.subscription(data).await.map(Output::Subscription)
            }
            Invocation::Stream(records) => self.stream(records).await.map(Output::Stream),
            Invocation::EventBridge(event) => {
                self.eventbridge(&event).await.map(Output::Subscription)
            }
            Invocation::Unrecognised(what) => Err(Failure::UndecodablePayload(what.into())),
        };
        if let Err(failure) = &result {
            tracing::error!(error_type = failure.error_type(), error = %failure, "invocation failed");
            self.count(failure.error_type());
        }
        result
    }

    async fn subscription(&self, data: Base64Data) -> Result<Response, Failure> {
        let payload = data
            .awslogs_payload()
            .map_err(|e| Failure::UndecodablePayload(e.to_string()))?;
        let log =
            decode::parse(&payload).map_err(|e| Failure::UndecodablePayload(e.to_string()))?;
        if log.is_control() {
            return Ok(Response::ControlMessage);
        }
        if self.is_own(&log.log_group) {
            return Ok(Response::OwnLogGroupSkipped);
        }
        // Judged with what the stream's previous batch left unfinished,
        // and leaving what this one leaves, through the store.
        let log_group = log.log_group.to_string();
        let events = log.log_events.len();
        let not_recorded = |e: store::StoreError| {
            // Nothing was recorded, so no metrics line (Lambda's retry
            // prints it once recorded); the log says what was lost.
            tracing::error!(%log_group, events, "batch not recorded; Lambda retries it");
            e
        };
        let stitched = carry::stitch_batch(&self.pipeline, &log, &self.run_fields)
            .await
            .map_err(not_recorded)?;
        // The summary owns all it needs: the decompressed payload and its
        // events (40 MB on a payload of 10,000 distinct errors) go before
        // the store's writes and the alerts add theirs (BENCHMARKS.md,
        // "Peak memory of the Lambda bootstrap").
        drop(log);
        drop(payload);
        let carried = stitched
            .record(&self.pipeline)
            .await
            .map_err(not_recorded)?;
        if carried.carried > 0 || carried.left > 0 {
            tracing::info!(
                carried = carried.carried,
                left = carried.left,
                "a trace cut by a batch boundary"
            );
        }
        let batch = carried.summary;
        let ingested = carried.ingested;
        let recorded = ingested.recorded.into_iter().next().unwrap_or_default();
        // The batch is recorded whatever happens to the alerts below, and
        // the retry a failure there causes is a duplicate that prints
        // nothing: its metrics line goes out now or never.
        self.emit(&batch, &recorded);
        let flushed = ingested.flushed?;
        self.count_unsettled(&flushed);
        answer(&batch, recorded, flushed)
    }

    /// An EventBridge event: a job's state change recorded exactly once
    /// (its event id, or an ECS task's version, is its batch id), or the
    /// schedule's tick. Runs are settled `run_settle_minutes` after their
    /// end, whichever invocation comes then.
    async fn eventbridge(&self, event: &[u8]) -> Result<Response, Failure> {
        let batch = match pipeline::prepare_job_event(event) {
            Some(Ok(Prepared::Batch(batch))) => batch,
            Some(Ok(Prepared::Control)) => {
                // Before the flush, so the alerts the traces raise go with it.
                let held_traces_judged =
                    carry::judge_stale(&self.pipeline, &self.run_fields, self.held_wait_ms).await?;
                let flushed = self.pipeline.flush_alerts().await?;
                self.count_unsettled(&flushed);
                let runs = flushed.settled.len();
                if !flushed.failed.is_empty() {
                    return Err(Failure::AlertsPending(flushed.failed.len()));
                }
                tracing::info!(
                    runs,
                    alerts_sent = flushed.sent,
                    held_traces_judged,
                    runs_not_settled = flushed.unsettled.len(),
                    "scheduled tick"
                );
                return Ok(Response::Settled {
                    runs,
                    alerts_sent: flushed.sent,
                    held_traces_judged,
                    runs_not_settled: not_settled(&flushed),
                });
            }
            Some(Err(e)) => return Err(Failure::UndecodablePayload(e.to_string())),
            None => {
                return Err(Failure::UndecodablePayload(
                    "an EventBridge event that is not valid JSON".into(),
                ));
            }
        };
        let ingested = self.pipeline.record(std::slice::from_ref(&batch)).await?;
        let recorded = ingested.recorded.into_iter().next().unwrap_or_default();
        let flushed = ingested.flushed?;
        self.count_unsettled(&flushed);
        answer(&batch, recorded, flushed)
    }

    /// A stream's records: each one CloudWatch Logs batch, judged in order
    /// with what its log stream's previous batch left unfinished (as a
    /// subscription's batch is, [`carry`]), then all recorded in one go.
    /// Lambda retries from the first record the answer names and takes the
    /// ones before it as done, so a record is named when:
    /// - it cannot be read: the records after it are recorded now, and are
    ///   duplicates when Lambda delivers them again;
    /// - the store failed while judging it: the records before it are
    ///   recorded now, and it and the ones after it come again;
    /// - the store failed while recording: the write covered every batch
    ///   and which of them the store kept is not known, so the first record
    ///   with a batch is named and all of them come again (each is counted
    ///   once however often it comes, and carries the same tail);
    /// - alerts could not be sent: the last record, whose retry (a
    ///   duplicate) sends them.
    ///
    /// Only a record without a sequence number fails the whole invocation:
    /// there is nothing to name it by.
    async fn stream(&self, records: Vec<KinesisEventRecord>) -> Result<BatchResponse, Failure> {
        let count = records.len();
        let mut stitched = Vec::with_capacity(count);
        // The record each batch came from, by position and sequence number.
        let mut sources = Vec::with_capacity(count);
        let mut failed: Vec<(usize, String)> = Vec::new();
        let mut last = None;
        for (position, record) in records.into_iter().enumerate() {
            let record = record.kinesis;
            let Some(sequence_number) = record.sequence_number.clone() else {
                return Err(Failure::UndecodablePayload(
                    "a Kinesis record without a sequenceNumber".into(),
                ));
            };
            last = Some((position, sequence_number.clone()));
            // The record's bytes go once it is judged: only summaries stay.
            let payload = match record.payload() {
                Ok(payload) => payload,
                Err(e) => {
                    self.undecodable(&sequence_number, &e);
                    failed.push((position, sequence_number));
                    continue;
                }
            };
            let log = match decode::parse(&payload) {
                Ok(log) => log,
                Err(e) => {
                    self.undecodable(&sequence_number, &e);
                    failed.push((position, sequence_number));
                    continue;
                }
            };
            if log.is_control() || self.is_own(&log.log_group) {
                continue;
            }
            match carry::stitch_batch(&self.pipeline, &log, &self.run_fields).await {
                Ok(batch) => {
                    stitched.push(batch);
                    sources.push((position, sequence_number));
                }
                Err(e) => {
                    let failure = Failure::from(e);
                    tracing::error!(%sequence_number, error_type = failure.error_type(), error = %failure, "stream record not judged; recording the ones before it and asking Lambda to retry from it");
                    self.count(failure.error_type());
                    failed.push((position, sequence_number));
                    break;
                }
            }
        }
        let judged = stitched.len();
        let (sent, duplicates) = match carry::record_stitched(&self.pipeline, stitched).await {
            Ok(all) => {
                if all.carried > 0 || all.left > 0 {
                    tracing::info!(
                        carried = all.carried,
                        left = all.left,
                        "traces cut by batch boundaries"
                    );
                }
                // Recorded: their metrics go out now, whatever happens to
                // the alerts (a retry of a recorded batch prints nothing).
                for (batch, recorded) in all.summaries.iter().zip(&all.ingested.recorded) {
                    self.emit(batch, recorded);
                }
                let duplicates = all.ingested.recorded.iter().filter(|r| r.duplicate).count();
                match all.ingested.flushed {
                    Ok(flushed) => {
                        self.count_unsettled(&flushed);
                        if !flushed.failed.is_empty() {
                            tracing::warn!(
                                alerts = flushed.failed.len(),
                                "alerts could not be sent; asking Lambda to retry the last record"
                            );
                            self.count("AlertsPending");
                            failed.extend(last);
                        }
                        (flushed.sent, duplicates)
                    }
                    Err(e) => {
                        let failure = Failure::from(e);
                        tracing::error!(error_type = failure.error_type(), error = %failure, "stream records recorded, but queued alerts could not be read; asking Lambda to retry the last record");
                        self.count(failure.error_type());
                        failed.extend(last);
                        (0, duplicates)
                    }
                }
            }
            Err(e) => {
                let failure = Failure::from(e);
                tracing::error!(
                    error_type = failure.error_type(),
                    error = %failure,
                    batches = judged,
                    "stream records not recorded; asking Lambda to retry from the first batch"
                );
                self.count(failure.error_type());
                // With no batch, what failed was sending queued alerts.
                failed.extend(sources.first().cloned().or(last));
                (0, 0)
            }
        };
        failed.sort();
        failed.dedup();
        tracing::info!(
            records = count,
            batches = judged,
            duplicates,
            failed = failed.len(),
            alerts_sent = sent,
            "stream records processed"
        );
        Ok(BatchResponse {
            batch_item_failures: failed
                .into_iter()
                .map(|(_, item_identifier)| ItemFailure { item_identifier })
                .collect(),
        })
    }

    /// A record that is not a CloudWatch Logs batch: logged and counted.
    fn undecodable(&self, sequence_number: &str, e: &DecodeError) {
        tracing::error!(%sequence_number, error = %e, "Kinesis record is not a CloudWatch Logs batch");
        self.count("UndecodablePayload");
    }

    /// Whether a batch comes from this function's own log group (then it is
    /// refused, and the log says so).
    fn is_own(&self, log_group: &str) -> bool {
        let own = self.own_log_group.as_deref() == Some(log_group);
        if own {
            tracing::error!(%log_group, "refusing to process this function's own log group; remove its subscription filter");
        }
        own
    }

    /// The batch's metrics: standard output of a Lambda goes to CloudWatch
    /// Logs, which turns Embedded Metric Format lines into metrics.
    fn emit(&self, batch: &BatchSummary, recorded: &faultline::model::Recorded) {
        if let Some(line) = metrics::emf(batch, recorded, (self.pipeline.clock)()) {
            println!("{line}");
            if let Some(overflow) = batch.overflow() {
                tracing::warn!(
                    log_group = %batch.log_group,
                    errors = overflow.count,
                    issue = %faultline::model::issue_id(&overflow.fingerprint),
                    limit = faultline::limits::MAX_ISSUES_PER_BATCH,
                    "errors past the limit of distinct issues per batch were counted into the log group's overflow issue; `faultline issues show ISSUE` lists their titles"
                );
            }
        }
    }

    /// Counts the runs this invocation's flush could not settle (the
    /// `RunsNotSettled` metric), before any failure to send alerts can end
    /// the invocation: the runs were tried whatever happens next.
    fn count_unsettled(&self, flushed: &Flushed) {
        // Every invocation flushes: a line of zeros each time would be
        // noise, and an alarm treats the missing data as not breaching.
        if !flushed.unsettled.is_empty() {
            println!(
                "{}",
                metrics::runs_not_settled_emf(
                    flushed.unsettled.len(),
                    self.function_name.as_deref(),
                    (self.pipeline.clock)()
                )
            );
        }
    }

    /// Counts a failure under its type (the `InvocationFailures` metric).
    fn count(&self, error_type: &str) {
        println!(
            "{}",
            metrics::failure_emf(error_type, (self.pipeline.clock)())
        );
    }
}

/// For `skip_serializing_if`: a count that is nought is not said.
fn is_zero<N: Default + PartialEq>(n: &N) -> bool {
    *n == N::default()
}

/// The ids of the runs a flush could not settle.
fn not_settled(flushed: &Flushed) -> Vec<String> {
    flushed.unsettled.iter().map(|u| u.run.clone()).collect()
}

/// What the function answers for a recorded batch: its counts, as recorded
/// or as a duplicate, once every alert it raised is sent (otherwise the
/// invocation fails so that Lambda retries it and the alerts go out).
fn answer(batch: &BatchSummary, recorded: Recorded, flushed: Flushed) -> Result<Response, Failure> {
    if !flushed.failed.is_empty() {
        return Err(Failure::AlertsPending(flushed.failed.len()));
    }
    let counts = Counts {
        events: batch.events,
        errors: batch.errors,
        new_issues: recorded.new_issues,
        alerts_sent: flushed.sent,
        errors_past_issue_limit: batch.errors_past_issue_limit(),
        overflow_issue: batch
            .overflow()
            .map(|d| faultline::model::issue_id(&d.fingerprint)),
        runs_not_settled: not_settled(&flushed),
    };
    Ok(if recorded.duplicate {
        Response::Duplicate(counts)
    } else {
        Response::Recorded(counts)
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use faultline::decode::kinesis::{KinesisEventRecord, KinesisRecord};
    use faultline::model::StatusFilter;

    use super::*;

    /// A batch of `text`, then the runtime's END line: an error on a
    /// batch's last line would wait for the stream's next batch, which
    /// may carry a trace it heads.
    fn message(log_group: &str, id: &str, text: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": log_group,
            "logStream": "s",
            "subscriptionFilters": ["f"],
            "logEvents": [
                {"id": id, "timestamp": 1_763_900_000_000i64, "message": text},
                {"id": format!("{id}-end"), "timestamp": 1_763_900_000_001i64, "message": "END RequestId: 8f5e"},
            ],
        }))
        .unwrap()
    }

    fn gzip(bytes: &[u8]) -> Base64Data {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bytes).unwrap();
        Base64Data::Bytes(gz.finish().unwrap())
    }

    fn record(sequence_number: &str, data: Base64Data) -> KinesisEventRecord {
        KinesisEventRecord {
            kinesis: KinesisRecord {
                sequence_number: Some(sequence_number.into()),
                data,
            },
        }
    }

    async fn local(own_log_group: Option<&str>) -> (Function, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("f.db").display());
        let pipeline = Pipeline::new(store::open(&url).await.unwrap(), Box::new(notify::Discard));
        let function = Function {
            pipeline,
            own_log_group: own_log_group.map(str::to_string),
            run_fields: RunConfig::default(),
            held_wait_ms: 0,
            function_name: None,
        };
        (function, dir)
    }

    async fn total_count(function: &Function) -> u64 {
        let issues = function
            .pipeline
            .store
            .issues(StatusFilter::All)
            .await
            .unwrap();
        issues.iter().map(|i| i.count).sum()
    }

    const OWN: &str = "/aws/lambda/stack-faultline";

    #[tokio::test]
    async fn its_own_log_group_is_refused_without_recording() {
        let (function, _dir) = local(Some(OWN)).await;
        let out = function
            .invoke(Invocation::Subscription(gzip(&message(
                OWN,
                "1",
                "[ERROR] KeyError: 'x'",
            ))))
            .await
            .unwrap();
        assert_eq!(out, Output::Subscription(Response::OwnLogGroupSkipped));
        assert_eq!(total_count(&function).await, 0);
    }

    #[tokio::test]
    async fn other_log_groups_are_recorded_and_replays_recognised() {
        let (function, _dir) = local(Some(OWN)).await;
        let data = gzip(&message("/aws/lambda/orders", "1", "[ERROR] KeyError: 'x'"));
        let Output::Subscription(Response::Recorded(counts)) = function
            .invoke(Invocation::Subscription(data.clone()))
            .await
            .unwrap()
        else {
            panic!("the first delivery is recorded");
        };
        assert_eq!(counts.new_issues.len(), 1);
        assert!(matches!(
            function
                .invoke(Invocation::Subscription(data))
                .await
                .unwrap(),
            Output::Subscription(Response::Duplicate(_))
        ));
    }

    #[tokio::test]
    async fn the_answer_says_how_many_errors_went_past_the_issue_limit() {
        use faultline::limits::MAX_ISSUES_PER_BATCH;
        let (function, _dir) = local(None).await;
        let over = 3;
        let events: Vec<serde_json::Value> = (0..MAX_ISSUES_PER_BATCH + over)
            .map(|i| {
                serde_json::json!({
                    "id": format!("{i}"),
                    "timestamp": 1_763_900_000_000i64 + i as i64,
                    "message": format!("[ERROR] Kind{i}Error: boom"),
                })
            })
            .chain([serde_json::json!({"id": "end", "timestamp": 1_763_900_100_000i64, "message": "END RequestId: 8f5e"})])
            .collect();
        let payload = serde_json::to_vec(&serde_json::json!({
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": "/aws/lambda/flood",
            "logStream": "s",
            "subscriptionFilters": ["f"],
            "logEvents": events,
        }))
        .unwrap();
        let Output::Subscription(Response::Recorded(counts)) = function
            .invoke(Invocation::Subscription(gzip(&payload)))
            .await
            .unwrap()
        else {
            panic!("the batch is recorded");
        };
        assert_eq!(counts.errors, MAX_ISSUES_PER_BATCH + over);
        assert_eq!(counts.errors_past_issue_limit, over as u64);
        let overflow = faultline::model::issue_id(&faultline::model::overflow_fingerprint(
            "/aws/lambda/flood",
        ));
        assert_eq!(counts.overflow_issue.as_deref(), Some(overflow.as_str()));
        assert!(counts.new_issues.contains(&overflow));
    }

    #[tokio::test]
    async fn an_undecodable_payload_fails_with_its_own_type() {
        let (function, _dir) = local(None).await;
        let not_gzip = Base64Data::Bytes(b"plain text".to_vec());
        let err = function
            .invoke(Invocation::Subscription(not_gzip))
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), "UndecodablePayload");
        assert!(err.to_string().contains("not gzip"), "{err}");
        let err = function
            .invoke(Invocation::Unrecognised("something else"))
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), "UndecodablePayload");
    }

    #[tokio::test]
    async fn a_stream_batch_names_only_the_records_it_could_not_read() {
        let (function, _dir) = local(Some(OWN)).await;
        let control = br#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}"#;
        let records = || {
            vec![
                record(
                    "100",
                    gzip(&message("/aws/lambda/a", "1", "[ERROR] KeyError: 'x'")),
                ),
                record("101", Base64Data::Bytes(b"not gzip".to_vec())),
                record(
                    "102",
                    gzip(&message("/aws/lambda/b", "2", "[ERROR] ValueError: bad")),
                ),
                record("103", gzip(control)),
                record("104", gzip(&message(OWN, "3", "[ERROR] KeyError: 'x'"))),
            ]
        };
        let first = function
            .invoke(Invocation::Stream(records()))
            .await
            .unwrap();
        let expected = Output::Stream(BatchResponse {
            batch_item_failures: vec![ItemFailure {
                item_identifier: "101".into(),
            }],
        });
        assert_eq!(first, expected);
        assert_eq!(total_count(&function).await, 2, "a and b, once each");
        // Lambda retries from the named record: those after it were
        // recorded already and count nothing again.
        let retry: Vec<KinesisEventRecord> = records().into_iter().skip(1).collect();
        let again = function.invoke(Invocation::Stream(retry)).await.unwrap();
        assert_eq!(again, expected);
        assert_eq!(total_count(&function).await, 2);
    }

    #[tokio::test]
    async fn a_tick_settles_and_alerts_past_a_run_that_cannot_settle_and_names_it() {
        use faultline::model::{Outcome, RunDelta, RunSource};
        let (function, dir) = local(None).await;
        let run_of = |name: &str, end: i64| {
            let mut run = RunDelta::new(
                format!("sfn:arn:aws:states:eu-west-1:1:execution:nightly:{name}"),
                RunSource::StepFunctions,
                "nightly".into(),
                name.into(),
            );
            run.log_group = "/aws/lambda/orders".into();
            run.ended = Some((end, Outcome::Failed));
            run.last_event = Some(end);
            run
        };
        let runs = vec![run_of("damaged", 1_000), run_of("later", 2_000)];
        let damaged = faultline::model::run_id(&runs[0].key);
        let batch = BatchSummary {
            batch_id: "job-events".into(),
            owner: "123456789012".into(),
            log_group: "/aws/lambda/orders".into(),
            log_stream: "s".into(),
            events: 0,
            errors: 0,
            issues: Vec::new(),
            runs,
        };
        function
            .pipeline
            .store
            .record(&batch, 0, &Policy::default())
            .await
            .unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("f.db")).unwrap();
        conn.execute("UPDATE runs SET errors = 'many' WHERE id = ?1", [&damaged])
            .unwrap();

        let tick = br#"{"id":"1","detail-type":"Scheduled Event","source":"aws.events","time":"2025-11-23T00:00:00Z","detail":{}}"#;
        let out = function
            .invoke(Invocation::EventBridge(tick.to_vec()))
            .await
            .unwrap();
        assert_eq!(
            out,
            Output::Subscription(Response::Settled {
                runs: 1,
                alerts_sent: 1,
                held_traces_judged: 0,
                runs_not_settled: vec![damaged],
            }),
            "the later run settled and its digest went out"
        );
    }

    #[test]
    fn answers_have_the_shapes_lambda_reads() {
        let json = serde_json::to_value(Output::Subscription(Response::Recorded(Counts {
            events: 3,
            errors: 1,
            new_issues: vec!["a".into()],
            alerts_sent: 1,
            errors_past_issue_limit: 0,
            overflow_issue: None,
            runs_not_settled: Vec::new(),
        })))
        .unwrap();
        assert_eq!(json["status"], "recorded");
        assert_eq!(json["errors"], 1);
        // Said only when it happened.
        assert!(json.get("errors_past_issue_limit").is_none(), "{json}");
        assert!(json.get("overflow_issue").is_none(), "{json}");
        assert!(json.get("runs_not_settled").is_none(), "{json}");
        assert_eq!(
            serde_json::to_value(Output::Subscription(Response::OwnLogGroupSkipped)).unwrap()["status"],
            "own_log_group_skipped"
        );
        let partial = serde_json::to_value(Output::Stream(BatchResponse {
            batch_item_failures: vec![ItemFailure {
                item_identifier: "49590338271490256608559692538361571095921575989136588898".into(),
            }],
        }))
        .unwrap();
        assert_eq!(
            partial,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "49590338271490256608559692538361571095921575989136588898"}]})
        );
        assert_eq!(
            serde_json::to_value(Output::Stream(BatchResponse::default())).unwrap(),
            serde_json::json!({"batchItemFailures": []})
        );
    }
}
