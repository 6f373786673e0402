//! The one pipeline the CLI and the Lambda both run.
//!
//! It is split into a pure half ([`prepare`]: decode, extract, fingerprint,
//! aggregate) and a writing half ([`Pipeline::apply`], then
//! [`Pipeline::flush_alerts`]), so the CLI can check every input before it
//! writes anything and the Lambda can tell a bad payload (never retry) from a
//! failed write (retry).

use crate::aggregate::{self, BatchSummary};
use crate::decode::{self, DecodeError};
use crate::notify::Notifier;
use crate::policy::Policy;
use crate::store::{Recorded, Store, StoreError};

/// How long a claimed alert is reserved for the claimer. Long enough for a
/// slow SNS call, short enough that an alert whose sender died goes out with
/// the next run.
pub const ALERT_LEASE_MS: i64 = 60_000;

/// A decoded and summarised input, ready to be recorded.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// A CONTROL_MESSAGE: acknowledged, nothing to record.
    Control,
    Batch(BatchSummary),
}

/// Decodes and summarises one input. Pure: touches no store.
pub fn prepare(input: &[u8]) -> Result<Prepared, DecodeError> {
    let payload = decode::payload(input)?;
    let batch = decode::parse(&payload)?;
    if batch.is_control() {
        return Ok(Prepared::Control);
    }
    Ok(Prepared::Batch(aggregate::summarise(&batch)))
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What flushing the outbox did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Flushed {
    pub sent: usize,
    /// Alerts that could not be delivered; they stay queued.
    pub failed: Vec<String>,
}

pub struct Pipeline {
    pub store: Box<dyn Store>,
    pub notifier: Box<dyn Notifier>,
    pub policy: Policy,
    pub clock: fn() -> i64,
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
        }
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

    /// Sends every queued alert whose lease is free, marking each sent only
    /// after the notifier accepted it: at least once, and once in practice.
    pub async fn flush_alerts(&self) -> Result<Flushed, StoreError> {
        let now = (self.clock)();
        let mut flushed = Flushed::default();
        for alert in self.store.claim_alerts(now, ALERT_LEASE_MS).await? {
            if let Err(e) = self.notifier.send(&alert).await {
                tracing::warn!(alert = %alert.id, error = %e, "alert kept for a later run");
                flushed.failed.push(alert.id);
                continue;
            }
            // Sent, but not yet marked: a failure here must not hold back the
            // alerts leased behind it. It is reported as a failure so the
            // run is retried; that retry sends this one again (at least
            // once; the alert id lets readers drop the repeat).
            match self.store.alert_sent(&alert.id, (self.clock)()).await {
                Ok(()) => flushed.sent += 1,
                Err(e) => {
                    tracing::warn!(alert = %alert.id, error = %e, "alert sent but not marked; it may be sent again");
                    flushed.failed.push(alert.id);
                }
            }
        }
        Ok(flushed)
    }

    /// Decodes, records and alerts for one input.
    pub async fn ingest(&self, input: &[u8]) -> Result<(Option<Recorded>, Flushed), PipelineError> {
        let recorded = match prepare(input)? {
            Prepared::Control => None,
            Prepared::Batch(batch) => Some(self.apply(&batch).await?),
        };
        let flushed = self.flush_alerts().await?;
        Ok((recorded, flushed))
    }
}
