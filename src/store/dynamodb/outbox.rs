//! Claiming queued alerts in the DynamoDB table: one Query of the outbox
//! partition, then a conditional UpdateItem per alert (its lease), a few
//! at a time.
//!
//! The Query brings back each alert's key, age and lease, not its payload:
//! the lease's answer carries the payload of the alerts claimed. DynamoDB
//! still reads (and bills, and pages by 1 MB) whole items, so this saves
//! only the transfer and decoding of the payloads a flush leaves queued.
//!
//! Every lease is its own request, and a flush sends what it claimed one
//! alert after another. Leased one at a time, 2,000 queued alerts took
//! longer to claim than the Lambda's timeout allows for the whole
//! invocation (BENCHMARKS.md, "Claiming queued alerts"): an invocation
//! that dies after sending some of them, before marking them sent, sends
//! them again once their lease runs out. So the leases go out
//! [`LEASE_CONCURRENCY`] at a time, and a flush claims at most the limit
//! its caller gives, oldest first; the rest stay queued, unleased, for the
//! next flush.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::ReturnValue;
use futures_util::stream::{self, StreamExt};

use super::DynamoDbStore;
use super::items::{Item, OUTBOX_PK, get_n, get_opt_n, get_s, n, outbox_key, s};
use super::retry::{classify, lease_token};
use crate::model::Alert;
use crate::store::StoreError;

/// How many leases are in flight at once: enough that a flush's claims
/// take a fraction of the requests' round trips laid end to end, few
/// enough that a burst of them stays far from a table's throttling (a
/// partition takes 1,000 writes a second) and from the SDK's connection
/// pool.
pub const LEASE_CONCURRENCY: usize = 16;

/// A queued alert whose lease was free when the outbox was read.
struct Candidate {
    created_at: i64,
    alert_id: String,
}

impl DynamoDbStore {
    /// Leases up to `limit` queued alerts whose lease is free at `now`,
    /// oldest first, `concurrency` leases at a time (1 is how it was done
    /// before; BENCHMARKS.md compares the two).
    pub async fn claim_alerts_with(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
        concurrency: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        let mut candidates = Vec::new();
        for item in self.outbox_leases().await? {
            if get_n::<i64>(&item, "lease_until")? <= now {
                candidates.push(Candidate {
                    created_at: get_opt_n::<i64>(&item, "created_at")?.unwrap_or(0),
                    alert_id: get_s(&item, "sk")?.to_string(),
                });
            }
        }
        // Oldest first, as SQLite claims them: a queue longer than one
        // flush drains in the order it filled.
        candidates.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.alert_id.cmp(&b.alert_id))
        });
        // A token of this claim: if the answer to a lease is lost and the SDK
        // resends it, the resend finds its own token and succeeds instead of
        // reading the lease as someone else's (which would hold the alert
        // back for a whole lease, and longer where batches are rare).
        let token = lease_token(now);
        let mut claimed = Vec::new();
        let mut queue = candidates.into_iter();
        // Leases another claimer won are not ours: the next round tries as
        // many more as are still wanted, so a flush never holds more than
        // `limit` leases, and none it will not send.
        while claimed.len() < limit {
            let round: Vec<Candidate> = queue.by_ref().take(limit - claimed.len()).collect();
            if round.is_empty() {
                break;
            }
            let results: Vec<(Candidate, Result<Option<Item>, StoreError>)> = stream::iter(round)
                .map(|candidate| {
                    let token = &token;
                    async move {
                        let leased = self.lease(&candidate.alert_id, now, lease_ms, token).await;
                        (candidate, leased)
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            for (candidate, leased) in results {
                if let Some(item) = leased? {
                    let alert: Alert =
                        serde_json::from_str(get_s(&item, "payload")?).map_err(|e| {
                            StoreError::Corrupt(format!("queued alert {}: {e}", candidate.alert_id))
                        })?;
                    claimed.push(alert);
                }
            }
        }
        claimed.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(claimed)
    }

    /// Every queued alert's key, age and lease.
    async fn outbox_leases(&self) -> Result<Vec<Item>, StoreError> {
        self.partition_projected(OUTBOX_PK, "sk, created_at, lease_until", "Query (outbox)")
            .await
    }

    /// Leases one alert until `now + lease_ms`, answering with the alert's
    /// item: `None` when another claimer leased or delivered it since the
    /// outbox was read.
    async fn lease(
        &self,
        alert_id: &str,
        now: i64,
        lease_ms: i64,
        token: &str,
    ) -> Result<Option<Item>, StoreError> {
        let lease = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(outbox_key(alert_id)))
            .update_expression("SET lease_until = :until, lease_owner = :token ADD attempts :one")
            .condition_expression(
                "attribute_exists(pk) AND (lease_until <= :now OR lease_owner = :token)",
            )
            .expression_attribute_values(":until", n(now + lease_ms))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match lease {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(e) => Err(classify("UpdateItem (alert lease)", &self.table, e)),
        }
    }
}
