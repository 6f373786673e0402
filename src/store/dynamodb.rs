//! The AWS store: one DynamoDB table (`dynamodb://TABLE`), same semantics as
//! the SQLite store, held to them by `tests/store_conformance.rs`.
//!
//! # Table layout
//!
//! One table, on-demand, key `pk` (S, hash) + `sk` (S, range), TTL on
//! `expires_at` (epoch seconds):
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | issue | `ISSUE#<id>` | `ISSUE` | `issue_id fingerprint log_group title kind status count first_seen last_seen created_at ver samples hours facets`, and when set `regressed_at resolved_in ignored_until ignored_until_count last_alert_at threshold_alerted_at` |
//! | batch marker | `BATCH#<batch id>` | `CHUNK#<n>` | `log_group log_stream events errors processed_at expires_at`, and `new_issues` on all but a batch's last chunk |
//! | queued alert | `OUTBOX` | `<alert id>` | `payload created_at lease_until lease_owner attempts` |
//!
//! Everything the SQLite store keeps in side tables lives in the issue item,
//! because every batch that touches an issue rewrites the item anyway:
//!
//! - `samples`: a list of at most [`MAX_SAMPLES`] JSON strings, newest first,
//!   each cut to [`MAX_STORED_SAMPLE_BYTES`].
//! - `hours`: JSON `[[hour_ms, count], ...]`, oldest first, at most the 721
//!   hours of [`HOURS_RETENTION_MS`] before the issue's latest occurrence.
//! - `facets`: JSON `{"name": [[value, count], ...]}` with at most
//!   [`MAX_FACET_VALUES`] distinct values per name plus `(other)`, like
//!   SQLite, and additionally at most [`MAX_FACET_BYTES`] of names and
//!   values in all (a value that would pass it counts as `(other)` too).
//!
//! So an issue item is bounded whatever its input: at most
//! [`MAX_ISSUE_ITEM_BYTES`] (100 KB; the unit test
//! `worst_case_items_fit_their_bounds` builds the worst case and measures
//! it), a quarter of DynamoDB's 400 KB item limit, and 25 of them plus a
//! chunk's alerts stay under the 4 MB a transaction may carry. Typical
//! issues take 5-30 KB.
//!
//! - `ver` counts writes to the issue; every write is conditional on it.
//! - Global secondary index `by_status` (hash `status`, range `last_seen`,
//!   projecting [`LISTING_ATTRIBUTES`], not the samples, hours or facets)
//!   serves `issues`: one Query per status, newest first. Only issue items
//!   carry `status`, so markers and alerts never enter the index. Index reads
//!   are eventually consistent: a listing may lag a write by a moment;
//!   `issue(id)` reads the base table and never does.
//! - Batch markers expire after [`BATCH_RETENTION_MS`] (a week: Lambda retries
//!   an async event for up to 6 hours, CloudWatch Logs delivery for up to 24).
//! - Queued alerts live in the `OUTBOX` partition until delivered, then are
//!   deleted, so claiming reads only what is pending (usually nothing: one
//!   0.5-RCU Query per invocation).
//!
//! # Why each batch counts exactly once
//!
//! A batch's issues are written in chunks of at most [`ISSUES_PER_WRITE`],
//! split by position in the batch (a pure function of its content, so every
//! delivery of a batch chunks it the same way). Each chunk is one
//! `TransactWriteItems`: a Put of the chunk's batch marker conditional on
//! `attribute_not_exists(pk)`, one Put per issue conditional on the issue
//! being exactly as read (`ver = :read`, or `attribute_not_exists(pk)` for an
//! issue not yet there), and the Puts of the alerts the chunk raises.
//! DynamoDB applies all of it or none of it:
//!
//! - **Redelivery.** The marker exists, its condition fails, the transaction
//!   is cancelled with `ConditionalCheckFailed` at the marker: nothing is
//!   written and the chunk is reported as a duplicate.
//! - **Crash midway.** Chunks that committed carry their markers; a retry
//!   skips them as duplicates and applies only the rest. A chunk never half
//!   applies, so no count is lost or doubled.
//! - **Concurrent invocations.** Two writers of the same batch cannot both
//!   create a marker. Two writers of *different* batches touching the same
//!   issue read the same `ver`; only one conditional write can succeed, the
//!   other is cancelled and re-reads, recomputes and tries again (bounded,
//!   with jittered backoff; after that the invocation fails as transient and
//!   Lambda retries it). Counts are therefore computed from the value they
//!   replace, never from a stale copy.
//! - **SDK retries.** A transaction resent after a lost response carries the
//!   same `ClientRequestToken`, so DynamoDB reports the first outcome rather
//!   than a spurious duplicate.
//!
//! # How policy decisions stay atomic
//!
//! For each issue the chunk reads the whole item (status, count, the
//! resolve/ignore settings, `last_alert_at`, `threshold_alerted_at`, hours),
//! adds the batch's hours, sums the threshold window, and calls
//! [`policy::decide`] exactly as the SQLite store does; the decided state is
//! part of the item Put conditioned on the `ver` it was decided from. A
//! decision made on a state that changed meanwhile (another batch, or
//! `set_status`, which bumps `ver` too) can never be written: the
//! transaction is cancelled and the chunk decides again from the new state.
//!
//! # Why each alert is queued exactly once
//!
//! Alerts come from [`policy::alerts_for_batch`] with ids derived from the batch id,
//! and each is Put in the same transaction as the decision that raised it:
//!
//! - Regression and threshold alerts name one issue: they go into the
//!   transaction of the chunk holding that issue.
//! - New-issue alerts depend on the whole batch (more than
//!   `digest_over` make one digest), so they all go into the transaction of
//!   the batch's *last* chunk. Every earlier chunk records in its marker
//!   (`new_issues`, fingerprints in batch order) which issues it created with
//!   a new-issue decision; the last chunk reads those markers along with its
//!   issues (same BatchGetItem), so it sees every chunk's decisions, also
//!   those committed by a crashed or concurrent invocation, and calls
//!   `for_batch` over all of them. The last chunk commits exactly once, so
//!   the digest (or the single alerts) is queued exactly once. A batch of up
//!   to 25 issues is one chunk: one transaction with exactly what the SQLite
//!   store writes.
//! - The writer whose `attribute_not_exists` condition held is the only one
//!   that created an issue, so only its decision says "new": one alert per
//!   new issue, never one for an issue that was not written.
//!
//! To keep a transaction within DynamoDB's 100 actions (a marker, 25
//! issues, their alerts), the store separates at most
//! [`MAX_SEPARATE_NEW_ISSUE_ALERTS`] new-issue alerts per batch: a policy
//! with a larger `digest_over` gets a digest beyond that (SQLite honours any
//! `digest_over`). Stored alerts keep samples only for the issues a message
//! details ([`DETAILED_ALERT_ISSUES`]) and stay under [`MAX_ALERT_BYTES`].
//!
//! # Cost
//!
//! Per batch: one `BatchGetItem` and one `TransactWriteItems` per chunk (2
//! requests for up to 25 distinct issues, however many events; the last
//! chunk's read also fetches the earlier markers, adding a request only past
//! 76 chunks, i.e. 1,900 issues), plus one Query of the outbox when alerts
//! are flushed. A batch without errors writes only its marker (one
//! conditional PutItem), so replays of it are recognised like any other.
//! Transactional writes cost 2 WCU per KB of each item written, and an issue
//! item is rewritten whole on every batch that touches it: about 10-60 WCU
//! per issue per batch, at most ~200 at the item bound.
//!
//! Alert delivery: `claim_alerts` leases each pending alert with a
//! conditional UpdateItem (`lease_until <= now`), so concurrent invocations
//! do not both send it; `alert_sent` deletes it. An alert whose sender died
//! is claimed again once its lease has run out. Each claim writes its own
//! token (`lease_owner`) and its condition also accepts that token, so an
//! SDK resend of a lease whose answer was lost still counts as the claimer's
//! (tests/aws_faults.rs).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType,
    TableStatus, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem,
};

use super::{Store, StoreError};
use crate::limits::{HOURS_RETENTION_MS, MAX_FACET_VALUES, MAX_SAMPLES, truncate};
use crate::model::{
    Alert, BatchSummary, EventType, Facet, FacetCount, HourCount, Issue, IssueDelta, IssueDetail,
    IssueState, OTHER, Recorded, Sample, Status, StatusChange, StatusFilter, hour_of, issue_id,
};
use crate::policy::{self, Decision, Policy};

/// Batch markers are kept this long (the same retention as the SQLite store).
pub const BATCH_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

/// Distinct issues per transaction. With 1 marker, 25 issues, at most one
/// regression or threshold alert per issue and the batch's new-issue alerts
/// ([`MAX_SEPARATE_NEW_ISSUE_ALERTS`]) a transaction stays within DynamoDB's
/// 100 actions, and 25 items of at most [`MAX_ISSUE_ITEM_BYTES`] plus those
/// alerts within its 4 MB.
pub const ISSUES_PER_WRITE: usize = 25;

/// The most new-issue alerts one batch queues separately; more make a digest
/// whatever the policy's `digest_over` (see the module doc).
pub const MAX_SEPARATE_NEW_ISSUE_ALERTS: usize = 48;

/// The most bytes one stored sample may take as JSON. Samples arrive with
/// messages and stacks of up to 4 KB each; 6 KB keeps the useful start of
/// both while bounding the issue item (and the cost of rewriting it).
pub const MAX_STORED_SAMPLE_BYTES: usize = 6 * 1024;

/// The most bytes of facet names and values an issue keeps. Real facets
/// (stream names, request ids, ARNs) take a few KB; this only stops ten
/// facets of fifty 256-byte values from tripling the item (SQLite has no
/// such bound because it pays per row touched, not per item rewritten).
pub const MAX_FACET_BYTES: usize = 32 * 1024;

/// The longest version an issue can be resolved in (`1.2.3-rc.4+build.5`,
/// a git sha, a Lambda version): the item bound counts on it.
pub const MAX_VERSION_BYTES: usize = 128;

/// Kinds are short class names; a longer one is cut so the item stays bounded.
const MAX_STORED_KIND_BYTES: usize = 256;

/// Issues a notifier details in one message (`notify::chat`'s
/// `MAX_DETAILED_ISSUES`); the rest of a digest is listed by id, so their
/// samples are not stored.
pub const DETAILED_ALERT_ISSUES: usize = 20;

/// The most bytes one queued alert's payload may take: what fits in one
/// item (400 KB) with its key and lease attributes.
pub const MAX_ALERT_BYTES: usize = 384 * 1024;

/// What an issue item can grow to (measured by the unit tests).
pub const MAX_ISSUE_ITEM_BYTES: usize = 100 * 1024;

/// How often a chunk is re-read and retried after losing a race on an issue
/// before the invocation gives up and leaves it to Lambda's retry.
const MAX_CONTENDED_ATTEMPTS: u32 = 12;

/// BatchGetItem takes at most this many keys per request.
const KEYS_PER_READ: usize = 100;

/// The index `issues` lists from.
pub const STATUS_INDEX: &str = "by_status";

/// The TTL attribute.
pub const TTL_ATTRIBUTE: &str = "expires_at";

const OUTBOX_PK: &str = "OUTBOX";
const ISSUE_SK: &str = "ISSUE";

/// Attributes the status index carries besides its keys (template.yaml
/// declares the same list; tests/template.rs checks they agree): everything
/// an [`Issue`] holds, nothing more.
pub const LISTING_ATTRIBUTES: [&str; 11] = [
    "issue_id",
    "fingerprint",
    "log_group",
    "title",
    "kind",
    "count",
    "first_seen",
    "regressed_at",
    "resolved_in",
    "ignored_until",
    "ignored_until_count",
];

/// Error codes after which trying again later may succeed.
const TRANSIENT_CODES: [&str; 10] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    "LimitExceededException",
];

/// Cancellation reasons of a transaction that mean "overloaded, try later".
const TRANSIENT_REASONS: [&str; 4] = [
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
    "InternalServerError",
];

type Item = HashMap<String, AttributeValue>;

pub struct DynamoDbStore {
    client: Client,
    table: String,
}

/// What one committed chunk did.
#[derive(Debug, Default)]
struct ChunkOutcome {
    new_issues: Vec<String>,
    regressions: Vec<String>,
    alerts: usize,
}

impl DynamoDbStore {
    /// A store on `table` through an already configured client (tests pass
    /// one pointed at the emulator).
    pub fn new(client: Client, table: &str) -> Result<DynamoDbStore, StoreError> {
        validate_table_name(table)?;
        Ok(DynamoDbStore {
            client,
            table: table.to_string(),
        })
    }

    /// A store on `table` with a client from the standard AWS environment.
    pub async fn from_env(table: &str) -> Result<DynamoDbStore, StoreError> {
        validate_table_name(table)?;
        let config = crate::aws::sdk_config().await;
        DynamoDbStore::new(Client::new(&config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn issue_key(id: &str) -> Item {
        HashMap::from([
            ("pk".to_string(), s(format!("ISSUE#{id}"))),
            ("sk".to_string(), s(ISSUE_SK)),
        ])
    }

    fn marker_key(batch_id: &str, chunk_no: usize) -> Item {
        HashMap::from([
            ("pk".to_string(), s(format!("BATCH#{batch_id}"))),
            ("sk".to_string(), s(format!("CHUNK#{chunk_no}"))),
        ])
    }

    fn outbox_key(alert_id: &str) -> Item {
        HashMap::from([
            ("pk".to_string(), s(OUTBOX_PK)),
            ("sk".to_string(), s(alert_id)),
        ])
    }

    /// Records a batch without issues: a plain conditional Put of its marker
    /// (1 WCU, not 2) still recognises a replay. `None` when it was recorded
    /// before.
    async fn record_quiet(
        &self,
        batch: &BatchSummary,
        now: i64,
    ) -> Result<Option<ChunkOutcome>, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(marker_item(batch, 0, &[], now)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(Some(ChunkOutcome::default())),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(e) => Err(classify("PutItem (batch marker)", &self.table, e)),
        }
    }

    /// Records chunk `chunk_no` of `chunks`; `None` when it was recorded
    /// before.
    async fn record_chunk(
        &self,
        batch: &BatchSummary,
        chunk_no: usize,
        chunks: usize,
        now: i64,
        policy: &Policy,
    ) -> Result<Option<ChunkOutcome>, StoreError> {
        let start = chunk_no * ISSUES_PER_WRITE;
        let end = (start + ISSUES_PER_WRITE).min(batch.issues.len());
        let deltas = batch.issues.get(start..end).unwrap_or_default();
        let is_last = chunk_no + 1 == chunks;
        let mut keys: Vec<Item> = Vec::new();
        let mut seen = HashSet::new();
        for delta in deltas {
            let id = issue_id(&delta.fingerprint);
            if seen.insert(id.clone()) {
                keys.push(DynamoDbStore::issue_key(&id));
            }
        }
        if is_last {
            // The earlier chunks' markers say which issues they created: the
            // last chunk queues the batch's new-issue alerts for all of them.
            keys.extend((0..chunk_no).map(|c| DynamoDbStore::marker_key(&batch.batch_id, c)));
        }
        for attempt in 0..MAX_CONTENDED_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let items = self.read_items(&keys).await?;
            let mut current = HashMap::new();
            let mut earlier_new: Vec<String> = Vec::new();
            let mut markers_found = 0;
            for item in &items {
                if get_s(item, "sk")? == ISSUE_SK {
                    let stored = StoredIssue::from_item(item)?;
                    current.insert(stored.issue.id.clone(), stored);
                }
            }
            if is_last {
                // In chunk order, so the digest lists issues in batch order.
                let by_sk: HashMap<&str, &Item> = items
                    .iter()
                    .filter(|i| get_s(i, "pk").is_ok_and(|pk| pk.starts_with("BATCH#")))
                    .filter_map(|i| get_s(i, "sk").ok().map(|sk| (sk, i)))
                    .collect();
                for c in 0..chunk_no {
                    if let Some(marker) = by_sk.get(format!("CHUNK#{c}").as_str()) {
                        markers_found += 1;
                        earlier_new.extend(get_string_list(marker, "new_issues")?);
                    }
                }
                if markers_found < chunk_no {
                    // Every earlier chunk was committed (by this invocation or
                    // another) before this one is tried, and markers live a
                    // week: a gap means the table was changed by hand.
                    return Err(StoreError::Corrupt(format!(
                        "batch {}: {} of its {chunk_no} earlier chunk markers are missing",
                        batch.batch_id,
                        chunk_no - markers_found
                    )));
                }
            }
            let plan = plan_chunk(batch, deltas, &current, &earlier_new, is_last, now, policy)?;
            let mut actions = Vec::with_capacity(1 + plan.writes.len() + plan.alerts.len());
            actions.push(
                TransactWriteItem::builder()
                    .put(self.put(
                        marker_item(batch, chunk_no, &plan.marker_new, now),
                        Some("attribute_not_exists(pk)"),
                        None,
                    )?)
                    .build(),
            );
            for write in &plan.writes {
                let put = match write.read_ver {
                    None => {
                        self.put(write.item.to_item(), Some("attribute_not_exists(pk)"), None)?
                    }
                    Some(read) => {
                        self.put(write.item.to_item(), Some("#ver = :read"), Some(read))?
                    }
                };
                actions.push(TransactWriteItem::builder().put(put).build());
            }
            for alert in &plan.alerts {
                actions.push(
                    TransactWriteItem::builder()
                        .put(self.put(outbox_item(alert, now)?, None, None)?)
                        .build(),
                );
            }
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions))
                .client_request_token(request_token(&batch.batch_id, chunk_no, attempt))
                .send()
                .await;
            let err = match sent {
                Ok(_) => {
                    return Ok(Some(ChunkOutcome {
                        new_issues: plan.new_issues,
                        regressions: plan.regressions,
                        alerts: plan.alerts.len(),
                    }));
                }
                Err(err) => err,
            };
            let reasons: Vec<String> = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_string())
                    .collect(),
                _ => return Err(classify("TransactWriteItems", &self.table, err)),
            };
            if reasons.first().map(String::as_str) == Some("ConditionalCheckFailed") {
                return Ok(None);
            }
            if let Some(reason) = reasons
                .iter()
                .find(|r| TRANSIENT_REASONS.contains(&r.as_str()))
            {
                return Err(StoreError::Transient(format!(
                    "DynamoDB table {}: transaction cancelled ({reason})",
                    self.table
                )));
            }
            let lost_race = reasons
                .iter()
                .any(|r| r == "ConditionalCheckFailed" || r == "TransactionConflict");
            if !lost_race {
                return Err(StoreError::Backend(format!(
                    "DynamoDB table {}: transaction cancelled for reasons [{}]",
                    self.table,
                    reasons.join(", ")
                )));
            }
            tracing::debug!(batch = %batch.batch_id, chunk = chunk_no, attempt, "issue changed under us; re-reading");
        }
        Err(StoreError::Transient(format!(
            "DynamoDB table {}: issues of batch {} kept changing under concurrent writers ({MAX_CONTENDED_ATTEMPTS} attempts)",
            self.table, batch.batch_id
        )))
    }

    /// A Put of `item`, optionally conditional; `read_ver` fills `:read` in
    /// a `#ver = :read` condition.
    fn put(
        &self,
        item: Item,
        condition: Option<&str>,
        read_ver: Option<u64>,
    ) -> Result<Put, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string));
        if let Some(read) = read_ver {
            put = put
                .expression_attribute_names("#ver", "ver")
                .expression_attribute_values(":read", n(read));
        }
        put.build()
            .map_err(|e| StoreError::Backend(format!("building a DynamoDB Put: {e}")))
    }

    /// Items by key, strongly consistent, in as few BatchGetItem requests as
    /// DynamoDB allows (100 keys each); absent items are simply not returned.
    async fn read_items(&self, keys: &[Item]) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for group in keys.chunks(KEYS_PER_READ) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(group.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| {
                        StoreError::Backend(format!("building a DynamoDB BatchGetItem: {e}"))
                    })?,
            );
            let mut rounds = 0;
            while let Some(request) = pending.take() {
                if rounds > 0 {
                    // Unprocessed keys mean throttling: back off before asking again.
                    if rounds > 5 {
                        return Err(StoreError::Transient(format!(
                            "DynamoDB table {}: BatchGetItem kept leaving keys unprocessed",
                            self.table
                        )));
                    }
                    tokio::time::sleep(backoff(rounds)).await;
                }
                rounds += 1;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| classify("BatchGetItem", &self.table, e))?;
                found.extend(
                    out.responses()
                        .and_then(|r| r.get(&self.table))
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
                pending = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
            }
        }
        Ok(found)
    }

    async fn get_issue(&self, id: &str) -> Result<Option<StoredIssue>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(DynamoDbStore::issue_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", &self.table, e))?;
        out.item().map(StoredIssue::from_item).transpose()
    }
    async fn query_status(&self, status: Status) -> Result<Vec<Issue>, StoreError> {
        let mut issues = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(STATUS_INDEX)
                .key_condition_expression("#s = :s")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":s", s(status.as_str()))
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Query (status index)", &self.table, e))?;
            for item in out.items() {
                issues.push(issue_from_item(item)?);
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(issues),
            }
        }
    }

    async fn describe_status(&self) -> Result<Option<TableStatus>, StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(out) => Ok(out.table().and_then(|t| t.table_status()).cloned()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(classify("DescribeTable", &self.table, e)),
        }
    }

    async fn create_table(&self) -> Result<(), StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| {
            StoreError::Backend(format!("building CreateTable: {e}"))
        };
        let attr = |name: &str, kind: ScalarAttributeType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(STATUS_INDEX)
            .key_schema(key("status", KeyType::Hash).map_err(build)?)
            .key_schema(key("last_seen", KeyType::Range).map_err(build)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::Include)
                    .set_non_key_attributes(Some(
                        LISTING_ATTRIBUTES.iter().map(|a| a.to_string()).collect(),
                    ))
                    .build(),
            )
            .build()
            .map_err(build)?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk", ScalarAttributeType::S).map_err(build)?)
            .attribute_definitions(attr("sk", ScalarAttributeType::S).map_err(build)?)
            .attribute_definitions(attr("status", ScalarAttributeType::S).map_err(build)?)
            .attribute_definitions(attr("last_seen", ScalarAttributeType::N).map_err(build)?)
            .key_schema(key("pk", KeyType::Hash).map_err(build)?)
            .key_schema(key("sk", KeyType::Range).map_err(build)?)
            .global_secondary_indexes(index)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // Someone else created it meanwhile: fine, init is idempotent.
            Err(e) if e.code() == Some("ResourceInUseException") => Ok(()),
            Err(e) => Err(classify("CreateTable", &self.table, e)),
        }
    }

    async fn enable_ttl(&self) -> Result<(), StoreError> {
        let described = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| classify("DescribeTimeToLive", &self.table, e))?;
        let status = described
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(|e| StoreError::Backend(format!("building UpdateTimeToLive: {e}")))?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| classify("UpdateTimeToLive", &self.table, e))?;
        Ok(())
    }
}

#[async_trait]
impl Store for DynamoDbStore {
    /// Creates the table (on-demand, with the status index) unless it exists,
    /// waits for it to become active and enables TTL on `expires_at`.
    async fn init(&self) -> Result<(), StoreError> {
        if self.describe_status().await?.is_none() {
            self.create_table().await?;
        }
        for attempt in 0..120u32 {
            match self.describe_status().await? {
                Some(TableStatus::Active) => return self.enable_ttl().await,
                _ if attempt == 119 => break,
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        Err(StoreError::Backend(format!(
            "DynamoDB table {} did not become ACTIVE within a minute",
            self.table
        )))
    }

    async fn record(
        &self,
        batch: &BatchSummary,
        now: i64,
        policy: &Policy,
    ) -> Result<Recorded, StoreError> {
        let mut recorded = Recorded {
            duplicate: true,
            ..Recorded::default()
        };
        let mut outcomes = Vec::new();
        if batch.issues.is_empty() {
            outcomes.extend(self.record_quiet(batch, now).await?);
        } else {
            // In order: the last chunk relies on every earlier marker existing.
            let chunks = batch.issues.len().div_ceil(ISSUES_PER_WRITE);
            for chunk_no in 0..chunks {
                outcomes.extend(
                    self.record_chunk(batch, chunk_no, chunks, now, policy)
                        .await?,
                );
            }
        }
        for outcome in outcomes {
            recorded.duplicate = false;
            recorded.new_issues.extend(outcome.new_issues);
            recorded.regressions.extend(outcome.regressions);
            recorded.alerts += outcome.alerts;
        }
        Ok(recorded)
    }

    async fn issues(&self, filter: StatusFilter) -> Result<Vec<Issue>, StoreError> {
        let mut issues = Vec::new();
        for status in [Status::Open, Status::Resolved, Status::Ignored] {
            if filter.admits(status) {
                issues.extend(self.query_status(status).await?);
            }
        }
        issues.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.id.cmp(&b.id)));
        Ok(issues)
    }

    async fn issue(&self, id: &str) -> Result<Option<IssueDetail>, StoreError> {
        let Some(stored) = self.get_issue(id).await? else {
            return Ok(None);
        };
        let samples = stored
            .samples
            .iter()
            .map(|json| {
                serde_json::from_str::<Sample>(json)
                    .map_err(|e| StoreError::Corrupt(format!("sample of issue {id}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let facets = facets_of(&stored.facets);
        Ok(Some(IssueDetail {
            issue: stored.issue,
            samples,
            hours: stored.hours,
            facets,
        }))
    }

    async fn hours(&self, id: &str, since: i64) -> Result<Vec<HourCount>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(DynamoDbStore::issue_key(id)))
            .projection_expression("hours")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem (hours)", &self.table, e))?;
        let Some(item) = out.item() else {
            return Ok(Vec::new());
        };
        let mut hours = decode_hours(item)?;
        hours.retain(|h| h.hour >= since);
        Ok(hours)
    }

    /// One UpdateItem, so it needs no read: the ignore limit is computed from
    /// the stored count by the expression itself. Bumping `ver` makes a
    /// concurrent record() that read the old state fail its condition and
    /// decide again, so a batch never applies a decision made on the old
    /// status.
    async fn set_status(&self, id: &str, change: &StatusChange) -> Result<Issue, StoreError> {
        let mut sets = vec!["#s = :s"];
        let mut removes = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(DynamoDbStore::issue_key(id)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#ver", "ver")
            .expression_attribute_values(":s", s(change.status().as_str()))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew);
        let (resolved_in, until, for_count) = match change {
            StatusChange::Open => (None, None, None),
            StatusChange::Resolved { in_version } => (in_version.as_deref(), None, None),
            StatusChange::Ignored { until, for_count } => (None, *until, *for_count),
        };
        match resolved_in {
            Some(version) if version.len() > MAX_VERSION_BYTES => {
                return Err(StoreError::Backend(format!(
                    "version {:?}... is too long for a version (at most {MAX_VERSION_BYTES} bytes)",
                    truncate(version, 40)
                )));
            }
            Some(version) => {
                sets.push("resolved_in = :r");
                update = update.expression_attribute_values(":r", s(version));
            }
            None => removes.push("resolved_in"),
        }
        match until {
            Some(t) => {
                sets.push("ignored_until = :u");
                update = update.expression_attribute_values(":u", n(t));
            }
            None => removes.push("ignored_until"),
        }
        match for_count {
            Some(more) => {
                sets.push("ignored_until_count = #c + :more");
                update = update
                    .expression_attribute_names("#c", "count")
                    .expression_attribute_values(":more", n(more));
            }
            None => removes.push("ignored_until_count"),
        }
        if matches!(change, StatusChange::Resolved { .. }) {
            // A fixed issue that comes back and crosses the threshold again
            // deserves a new alert.
            removes.push("threshold_alerted_at");
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        expression.push_str(" ADD #ver :one");
        let updated = update.update_expression(expression).send().await;
        match updated {
            Ok(out) => match out.attributes() {
                Some(item) => issue_from_item(item),
                None => Err(StoreError::Backend(format!(
                    "DynamoDB table {}: UpdateItem returned no attributes",
                    self.table
                ))),
            },
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(StoreError::NotFound(id.to_string()))
            }
            Err(e) => Err(classify("UpdateItem (status)", &self.table, e)),
        }
    }
    async fn claim_alerts(&self, now: i64, lease_ms: i64) -> Result<Vec<Alert>, StoreError> {
        let mut candidates = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(OUTBOX_PK))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Query (outbox)", &self.table, e))?;
            for item in out.items() {
                if get_n::<i64>(item, "lease_until")? <= now {
                    candidates.push((
                        get_s(item, "sk")?.to_string(),
                        get_s(item, "payload")?.to_string(),
                    ));
                }
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        // A token of this claim: if the answer to a lease is lost and the SDK
        // resends it, the resend finds its own token and succeeds instead of
        // reading the lease as someone else's (which would hold the alert
        // back for a whole lease, and longer where batches are rare).
        let token = lease_token(now);
        let mut claimed = Vec::new();
        for (alert_id, payload) in candidates {
            let lease = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(DynamoDbStore::outbox_key(&alert_id)))
                .update_expression(
                    "SET lease_until = :until, lease_owner = :token ADD attempts :one",
                )
                .condition_expression(
                    "attribute_exists(pk) AND (lease_until <= :now OR lease_owner = :token)",
                )
                .expression_attribute_values(":until", n(now + lease_ms))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":token", s(&token))
                .expression_attribute_values(":one", n(1))
                .send()
                .await;
            match lease {
                Ok(_) => {
                    let alert: Alert = serde_json::from_str(&payload).map_err(|e| {
                        StoreError::Corrupt(format!("queued alert {alert_id}: {e}"))
                    })?;
                    claimed.push(alert);
                }
                // Another invocation leased or delivered it since the Query.
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => {}
                Err(e) => return Err(classify("UpdateItem (alert lease)", &self.table, e)),
            }
        }
        claimed.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(claimed)
    }

    async fn alert_sent(&self, alert_id: &str, _now: i64) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(DynamoDbStore::outbox_key(alert_id)))
            .send()
            .await
            .map_err(|e| classify("DeleteItem (sent alert)", &self.table, e))?;
        Ok(())
    }
}

/// An issue's facets: values and counts per facet name.
type Facets = BTreeMap<String, Vec<(String, u64)>>;

/// What a chunk's transaction writes, decided from what was read.
struct ChunkPlan {
    writes: Vec<IssueWrite>,
    alerts: Vec<Alert>,
    new_issues: Vec<String>,
    regressions: Vec<String>,
    /// Fingerprints of the issues this chunk created with a new-issue
    /// decision, for the batch's last chunk (empty in the last chunk).
    marker_new: Vec<String>,
}

struct IssueWrite {
    /// `None`: the issue did not exist and this write creates it.
    read_ver: Option<u64>,
    item: StoredIssue,
}

/// An issue item as read from or written to the table.
#[derive(Debug, Clone, PartialEq)]
struct StoredIssue {
    issue: Issue,
    created_at: i64,
    ver: u64,
    last_alert_at: Option<i64>,
    threshold_alerted_at: Option<i64>,
    /// JSON of each sample, newest first.
    samples: Vec<String>,
    /// Oldest first.
    hours: Vec<HourCount>,
    facets: Facets,
}

impl StoredIssue {
    fn new(batch: &BatchSummary, delta: &IssueDelta, now: i64) -> StoredIssue {
        StoredIssue {
            issue: Issue {
                id: issue_id(&delta.fingerprint),
                fingerprint: delta.fingerprint.clone(),
                log_group: batch.log_group.clone(),
                title: delta.title.clone(),
                kind: truncate(&delta.kind, MAX_STORED_KIND_BYTES),
                status: Status::Open,
                count: 0,
                first_seen: delta.first_seen,
                last_seen: delta.last_seen,
                regressed_at: None,
                resolved_in: None,
                ignored_until: None,
                ignored_until_count: None,
            },
            created_at: now,
            ver: 0,
            last_alert_at: None,
            threshold_alerted_at: None,
            samples: Vec::new(),
            hours: Vec::new(),
            facets: Facets::new(),
        }
    }

    /// What [`policy::decide`] needs to know.
    fn state(&self) -> IssueState {
        IssueState {
            status: self.issue.status,
            count: self.issue.count,
            resolved_in: self.issue.resolved_in.clone(),
            ignored_until: self.issue.ignored_until,
            ignored_until_count: self.issue.ignored_until_count,
            last_alert_at: self.last_alert_at,
            threshold_alerted_at: self.threshold_alerted_at,
        }
    }

    fn from_item(item: &Item) -> Result<StoredIssue, StoreError> {
        let issue = issue_from_item(item)?;
        let samples = get_string_list(item, "samples")
            .map_err(|e| StoreError::Corrupt(format!("issue {}: {e}", issue.id)))?;
        let facets = match item.get("facets") {
            None => Facets::new(),
            Some(AttributeValue::S(json)) => serde_json::from_str(json)
                .map_err(|e| StoreError::Corrupt(format!("facets of issue {}: {e}", issue.id)))?,
            Some(_) => {
                return Err(StoreError::Corrupt(format!(
                    "issue {}: facets is not a string",
                    issue.id
                )));
            }
        };
        Ok(StoredIssue {
            created_at: get_n(item, "created_at")?,
            ver: get_n(item, "ver")?,
            last_alert_at: get_opt_n(item, "last_alert_at")?,
            threshold_alerted_at: get_opt_n(item, "threshold_alerted_at")?,
            samples,
            hours: decode_hours(item)?,
            facets,
            issue,
        })
    }

    /// The whole item: every write replaces it (conditioned on `ver`), so
    /// an attribute that is `None` is simply left out.
    fn to_item(&self) -> Item {
        let issue = &self.issue;
        let mut item = DynamoDbStore::issue_key(&issue.id);
        item.insert("issue_id".into(), s(&issue.id));
        item.insert("fingerprint".into(), s(&issue.fingerprint));
        item.insert("log_group".into(), s(&issue.log_group));
        item.insert("title".into(), s(&issue.title));
        item.insert("kind".into(), s(&issue.kind));
        item.insert("status".into(), s(issue.status.as_str()));
        item.insert("count".into(), n(issue.count));
        item.insert("first_seen".into(), n(issue.first_seen));
        item.insert("last_seen".into(), n(issue.last_seen));
        item.insert("created_at".into(), n(self.created_at));
        item.insert("ver".into(), n(self.ver));
        item.insert(
            "samples".into(),
            AttributeValue::L(self.samples.iter().map(s).collect()),
        );
        let hours: Vec<(i64, u64)> = self.hours.iter().map(|h| (h.hour, h.count)).collect();
        item.insert("hours".into(), s(json(&hours)));
        item.insert("facets".into(), s(json(&self.facets)));
        let optional = [
            ("regressed_at", issue.regressed_at.map(n)),
            ("resolved_in", issue.resolved_in.as_deref().map(s)),
            ("ignored_until", issue.ignored_until.map(n)),
            ("ignored_until_count", issue.ignored_until_count.map(n)),
            ("last_alert_at", self.last_alert_at.map(n)),
            ("threshold_alerted_at", self.threshold_alerted_at.map(n)),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                item.insert(name.to_string(), value);
            }
        }
        item
    }
}

/// JSON of plain data (numbers, strings, maps of them), which cannot fail
/// to encode.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn decode_hours(item: &Item) -> Result<Vec<HourCount>, StoreError> {
    match item.get("hours") {
        None => Ok(Vec::new()),
        Some(AttributeValue::S(text)) => serde_json::from_str::<Vec<(i64, u64)>>(text)
            .map(|pairs| {
                pairs
                    .into_iter()
                    .map(|(hour, count)| HourCount { hour, count })
                    .collect()
            })
            .map_err(|e| StoreError::Corrupt(format!("hourly counts: {e}"))),
        Some(_) => Err(StoreError::Corrupt("hourly counts are not a string".into())),
    }
}

/// Applies a chunk's deltas to the issues as read, in batch order, each
/// through [`apply_delta`]: the same steps as the SQLite store's.
fn plan_chunk(
    batch: &BatchSummary,
    deltas: &[IssueDelta],
    current: &HashMap<String, StoredIssue>,
    earlier_new: &[String],
    is_last: bool,
    now: i64,
    policy: &Policy,
) -> Result<ChunkPlan, StoreError> {
    let mut working: HashMap<String, StoredIssue> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut raised: Vec<(EventType, &IssueDelta)> = Vec::new();
    let mut new_issues = Vec::new();
    let mut regressions = Vec::new();
    for delta in deltas {
        let id = issue_id(&delta.fingerprint);
        // A batch normally has one delta per issue; two fingerprints sharing
        // an id (a 48-bit collision) apply one after the other, as in SQLite.
        let prior = match working.remove(&id) {
            Some(item) => Some(item),
            None => {
                order.push(id.clone());
                current.get(&id).cloned()
            }
        };
        let created = prior.is_none();
        let (item, decision) = apply_delta(prior, batch, delta, now, policy)?;
        if created {
            new_issues.push(id.clone());
        }
        if decision.regressed {
            regressions.push(id.clone());
        }
        if let Some(event_type) = decision.alert {
            raised.push((event_type, delta));
        }
        working.insert(id, item);
    }
    let mut writes = Vec::with_capacity(order.len());
    for id in order {
        if let Some(mut item) = working.remove(&id) {
            let read_ver = current.get(&id).map(|c| c.ver);
            item.ver = read_ver.map_or(1, |v| v.saturating_add(1));
            writes.push(IssueWrite { read_ver, item });
        }
    }

    // New-issue alerts wait for the last chunk (see the module doc); the
    // others are queued with the decision that raised them.
    let mut queued: Vec<(EventType, &IssueDelta)> = Vec::new();
    let mut marker_new = Vec::new();
    if is_last {
        if !earlier_new.is_empty() {
            let by_fingerprint: HashMap<&str, &IssueDelta> = batch
                .issues
                .iter()
                .map(|d| (d.fingerprint.as_str(), d))
                .collect();
            for fingerprint in earlier_new {
                match by_fingerprint.get(fingerprint.as_str()) {
                    Some(delta) => queued.push((EventType::NewIssue, delta)),
                    // Only if the batch was summarised differently when the
                    // earlier chunk was written (a deploy in between): the
                    // issue exists, only its announcement is lost.
                    None => tracing::warn!(batch = %batch.batch_id, %fingerprint,
                        "an earlier chunk's new issue is not in this batch; not announced"),
                }
            }
        }
        queued.extend(raised);
    } else {
        for (event_type, delta) in raised {
            if event_type == EventType::NewIssue {
                marker_new.push(delta.fingerprint.clone());
            } else {
                queued.push((event_type, delta));
            }
        }
    }
    let digest_over = policy.digest_over.min(MAX_SEPARATE_NEW_ISSUE_ALERTS);
    let mut alerts = policy::alerts_for_batch(batch, &queued, digest_over, now);
    for alert in &mut alerts {
        bound_alert(alert);
    }
    Ok(ChunkPlan {
        writes,
        alerts,
        new_issues,
        regressions,
        marker_new,
    })
}

/// One delta on one issue (`prior`: as read, `None` if it does not exist):
/// hours first (the threshold reads them), then the policy's decision,
/// facets, samples. The order and arithmetic are the SQLite store's.
fn apply_delta(
    prior: Option<StoredIssue>,
    batch: &BatchSummary,
    delta: &IssueDelta,
    now: i64,
    policy: &Policy,
) -> Result<(StoredIssue, Decision), StoreError> {
    let prior_state = prior.as_ref().map(StoredIssue::state);
    let mut item = match prior {
        Some(mut item) => {
            item.issue.first_seen = item.issue.first_seen.min(delta.first_seen);
            item.issue.last_seen = item.issue.last_seen.max(delta.last_seen);
            item
        }
        None => StoredIssue::new(batch, delta, now),
    };
    for h in &delta.hours {
        match item.hours.iter_mut().find(|kept| kept.hour == h.hour) {
            Some(kept) => kept.count = kept.count.saturating_add(h.count),
            None => item.hours.push(*h),
        }
    }
    // Retention follows each issue's own latest hour, not the clock, so
    // replayed old logs keep their timeline.
    let oldest = hour_of(delta.last_seen).saturating_sub(HOURS_RETENTION_MS);
    item.hours.retain(|h| h.hour >= oldest);
    item.hours.sort_by_key(|h| h.hour);
    let window_count = match &policy.threshold {
        Some(t) => {
            let end = hour_of(delta.last_seen);
            let start =
                end.saturating_sub((i64::from(t.window_hours) - 1).saturating_mul(3_600_000));
            item.hours
                .iter()
                .filter(|h| (start..=end).contains(&h.hour))
                .fold(0u64, |sum, h| sum.saturating_add(h.count))
        }
        None => 0,
    };
    let decision = policy::decide(prior_state.as_ref(), delta, window_count, policy, now);
    let state = &decision.state;
    item.issue.status = state.status;
    item.issue.count = state.count;
    item.issue.resolved_in = state.resolved_in.clone();
    item.issue.ignored_until = state.ignored_until;
    item.issue.ignored_until_count = state.ignored_until_count;
    item.last_alert_at = state.last_alert_at;
    item.threshold_alerted_at = state.threshold_alerted_at;
    if decision.regressed {
        item.issue.regressed_at = Some(now);
    }
    let mut facet_bytes = facets_size(&item.facets);
    for facet in &delta.facets {
        add_facet(&mut item.facets, &mut facet_bytes, facet);
    }
    let mut samples = Vec::with_capacity(MAX_SAMPLES);
    for sample in delta.samples.iter().rev().take(MAX_SAMPLES) {
        samples.push(stored_sample_json(sample)?);
    }
    samples.append(&mut item.samples);
    samples.truncate(MAX_SAMPLES);
    item.samples = samples;
    Ok((item, decision))
}

/// What one facet value adds to the stored JSON: the value encoded, and
/// room for brackets, separators and a 20-digit count.
fn facet_value_size(value: &str) -> usize {
    json(&value).len() + 24
}

fn facets_size(facets: &Facets) -> usize {
    facets
        .iter()
        .map(|(name, values)| {
            facet_value_size(name)
                + values
                    .iter()
                    .map(|(v, _)| facet_value_size(v))
                    .sum::<usize>()
        })
        .sum()
}

/// Counts a facet value, folding values past [`MAX_FACET_VALUES`] (or past
/// [`MAX_FACET_BYTES`]) into `(other)`, as SQLite's `add_facet` does; a new
/// facet name that does not even fit as `(other)` is not kept.
fn add_facet(facets: &mut Facets, used: &mut usize, facet: &FacetCount) {
    let (known_name, distinct) = match facets.get_mut(&facet.name) {
        Some(values) => {
            if let Some(entry) = values.iter_mut().find(|(v, _)| *v == facet.value) {
                entry.1 = entry.1.saturating_add(facet.count);
                return;
            }
            (true, values.iter().filter(|(v, _)| v != OTHER).count())
        }
        None => (false, 0),
    };
    let name_cost = if known_name {
        0
    } else {
        facet_value_size(&facet.name)
    };
    let fits = *used + name_cost + facet_value_size(&facet.value) <= MAX_FACET_BYTES;
    let value = if distinct >= MAX_FACET_VALUES || !fits {
        OTHER
    } else {
        facet.value.as_str()
    };
    let values = facets.entry(facet.name.clone()).or_default();
    match values.iter_mut().find(|(v, _)| v == value) {
        Some(entry) => entry.1 = entry.1.saturating_add(facet.count),
        None => {
            let cost = name_cost + facet_value_size(value);
            if *used + cost > MAX_FACET_BYTES {
                if values.is_empty() {
                    facets.remove(&facet.name);
                }
                return;
            }
            *used += cost;
            values.push((value.to_string(), facet.count));
        }
    }
}

/// The facets as `issue()` shows them: by name, each value most frequent
/// first (ties by value), like SQLite's `facets_of`.
fn facets_of(facets: &Facets) -> Vec<Facet> {
    facets
        .iter()
        .map(|(name, values)| {
            let mut sorted: Vec<&(String, u64)> = values.iter().collect();
            sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            Facet {
                name: name.clone(),
                distinct: values.iter().filter(|(v, _)| v != OTHER).count() as u64,
                capped: values.iter().any(|(v, _)| v == OTHER),
                top: sorted.into_iter().take(5).cloned().collect(),
            }
        })
        .collect()
}

/// Cuts what a queued alert carries to what a message can show, so its
/// outbox item stays under [`MAX_ALERT_BYTES`] even for a digest of a
/// batch with thousands of new issues (SNS could not carry a message about
/// many more: its 256 KB hold about 9,000 ids, listed twice).
fn bound_alert(alert: &mut Alert) {
    for (i, issue) in alert.issues.iter_mut().enumerate() {
        let sample = issue.sample.take();
        if i < DETAILED_ALERT_ISSUES {
            issue.sample = sample.map(bounded_sample);
        }
    }
    let size = |a: &Alert| json(a).len();
    if size(alert) > MAX_ALERT_BYTES {
        // Messages list these issues by id only. What stays is about 100
        // bytes per issue: a digest of up to ~3,500 new issues fits.
        for issue in alert.issues.iter_mut().skip(DETAILED_ALERT_ISSUES) {
            issue.title.clear();
            issue.kind.clear();
            issue.fingerprint.clear();
        }
    }
    if size(alert) > MAX_ALERT_BYTES {
        for issue in &mut alert.issues {
            issue.sample = None;
        }
    }
}

/// A sample cut until its JSON fits [`MAX_STORED_SAMPLE_BYTES`]: first the
/// message and each field to 2 KB / 1 KB, then trailing fields dropped.
pub fn bounded_sample(mut sample: Sample) -> Sample {
    let size = |s: &Sample| {
        serde_json::to_string(s)
            .map(|j| j.len())
            .unwrap_or(usize::MAX)
    };
    if size(&sample) <= MAX_STORED_SAMPLE_BYTES {
        return sample;
    }
    sample.message = truncate(&sample.message, 2048);
    for (_, value) in &mut sample.fields {
        *value = truncate(value, 1024);
    }
    while size(&sample) > MAX_STORED_SAMPLE_BYTES && sample.fields.pop().is_some() {}
    if size(&sample) > MAX_STORED_SAMPLE_BYTES {
        // Only pathological group/stream/kind strings get here.
        sample.message = truncate(&sample.message, 256);
        sample.kind = truncate(&sample.kind, 256);
        sample.log_stream = truncate(&sample.log_stream, 512);
        sample.event_id = truncate(&sample.event_id, 128);
        sample.shape = truncate(&sample.shape, 64);
    }
    sample
}

fn stored_sample_json(sample: &Sample) -> Result<String, StoreError> {
    serde_json::to_string(&bounded_sample(sample.clone()))
        .map_err(|e| StoreError::Corrupt(format!("encoding a sample: {e}")))
}

/// A chunk's marker; `new_issues` (fingerprints) tells the batch's last
/// chunk which issues this one created, so it can announce them.
fn marker_item(batch: &BatchSummary, chunk_no: usize, new_issues: &[String], now: i64) -> Item {
    let mut item = DynamoDbStore::marker_key(&batch.batch_id, chunk_no);
    item.insert("log_group".into(), s(&batch.log_group));
    item.insert("log_stream".into(), s(&batch.log_stream));
    item.insert("events".into(), n(batch.events));
    item.insert("errors".into(), n(batch.errors));
    item.insert("processed_at".into(), n(now));
    item.insert(
        TTL_ATTRIBUTE.into(),
        n((now.saturating_add(BATCH_RETENTION_MS)).div_euclid(1000)),
    );
    if !new_issues.is_empty() {
        item.insert(
            "new_issues".into(),
            AttributeValue::L(new_issues.iter().map(s).collect()),
        );
    }
    item
}

fn outbox_item(alert: &Alert, now: i64) -> Result<Item, StoreError> {
    let payload = serde_json::to_string(alert)
        .map_err(|e| StoreError::Corrupt(format!("encoding alert {}: {e}", alert.id)))?;
    let mut item = DynamoDbStore::outbox_key(&alert.id);
    item.insert("payload".into(), s(payload));
    item.insert("created_at".into(), n(now));
    item.insert("lease_until".into(), n(0));
    item.insert("attempts".into(), n(0));
    Ok(item)
}

fn issue_from_item(item: &Item) -> Result<Issue, StoreError> {
    let status = get_s(item, "status")?;
    Ok(Issue {
        id: get_s(item, "issue_id")?.to_string(),
        fingerprint: get_s(item, "fingerprint")?.to_string(),
        log_group: get_s(item, "log_group")?.to_string(),
        title: get_s(item, "title")?.to_string(),
        kind: get_s(item, "kind")?.to_string(),
        status: Status::parse(status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown issue status {status:?}")))?,
        count: get_n(item, "count")?,
        first_seen: get_n(item, "first_seen")?,
        last_seen: get_n(item, "last_seen")?,
        regressed_at: get_opt_n(item, "regressed_at")?,
        resolved_in: match item.get("resolved_in") {
            None | Some(AttributeValue::Null(_)) => None,
            Some(_) => Some(get_s(item, "resolved_in")?.to_string()),
        },
        ignored_until: get_opt_n(item, "ignored_until")?,
        ignored_until_count: get_opt_n(item, "ignored_until_count")?,
    })
}
fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!(
            "item lacks string attribute {name}"
        ))),
    }
}

fn get_n<T: std::str::FromStr>(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<T, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| {
            StoreError::Corrupt(format!("attribute {name} is not a valid number: {v}"))
        }),
        _ => Err(StoreError::Corrupt(format!(
            "item lacks number attribute {name}"
        ))),
    }
}

fn get_opt_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<Option<T>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => get_n(item, name).map(Some),
    }
}

/// A list of strings; absent means empty.
fn get_string_list(item: &Item, name: &str) -> Result<Vec<String>, StoreError> {
    match item.get(name) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| match v {
                AttributeValue::S(text) => Ok(text.clone()),
                _ => Err(StoreError::Corrupt(format!("{name} holds a non-string"))),
            })
            .collect(),
        Some(_) => Err(StoreError::Corrupt(format!("{name} is not a list"))),
    }
}

/// DynamoDB's rule: 3 to 255 of `a-z A-Z 0-9 _ - .`.
fn validate_table_name(table: &str) -> Result<(), StoreError> {
    let valid = (3..=255).contains(&table.len())
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(StoreError::Url(format!(
            "{table:?} is not a DynamoDB table name (3-255 characters of a-z, A-Z, 0-9, _ - .); expected dynamodb://TABLE"
        )))
    }
}

/// Jittered exponential backoff: 20 ms, 40 ms, ... capped at 1 s.
fn backoff(attempt: u32) -> Duration {
    let base = 20u64.saturating_mul(1 << attempt.min(6)).min(1000);
    let jitter = unique_u64() % (base / 2 + 1);
    Duration::from_millis(base / 2 + jitter)
}

/// Distinct per call within a process and (through the clock) across
/// processes: enough for jitter and for idempotency tokens, no RNG needed.
fn unique_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    xxhash_rust::xxh3::xxh3_64(
        &[
            nanos.to_le_bytes(),
            count.to_le_bytes(),
            u64::from(std::process::id()).to_le_bytes(),
        ]
        .concat(),
    )
}

/// A `ClientRequestToken` for one attempt of one chunk. The SDK resends the
/// same token when it retries the request, which is what makes that retry
/// idempotent; a fresh attempt after re-reading gets a fresh token, because it
/// carries different writes.
fn request_token(batch_id: &str, chunk_no: usize, attempt: u32) -> String {
    let digest = xxhash_rust::xxh3::xxh3_128(
        format!("{batch_id}/{chunk_no}/{attempt}/{}", unique_u64()).as_bytes(),
    );
    format!("{digest:032x}")
}

/// Maps an SDK error to the store's: throttling, 5xx, timeouts and dropped
/// connections are transient (the Lambda fails so the event is retried);
/// everything else is reported as it is.
pub(crate) fn classify<E>(
    operation: &str,
    table: &str,
    err: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
    let message = format!("DynamoDB {operation} on table {table}: {detail}");
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Transient(message)
        }
        SdkError::ServiceError(service) => {
            let code = err.code().unwrap_or("");
            let status = service.raw().status().as_u16();
            if TRANSIENT_CODES.contains(&code) || status >= 500 || status == 429 {
                StoreError::Transient(message)
            } else if code == "ResourceNotFoundException" {
                StoreError::Backend(format!(
                    "{message} (does the table exist? create it with `faultline store init --store dynamodb://{table}`)"
                ))
            } else {
                StoreError::Backend(message)
            }
        }
        _ => StoreError::Backend(message),
    }
}

/// A value no other claim uses: the time, the process, and a per-process
/// random key (std's hasher seeds are random per process).
fn lease_token(now: i64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_i64(now);
    hasher.write_u32(std::process::id());
    format!("{now:x}-{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_TITLE_BYTES;

    fn sample(message: &str, fields: usize) -> Sample {
        Sample {
            log_group: "/g".into(),
            log_stream: "s".into(),
            event_id: "1".into(),
            timestamp: 1,
            kind: "E".into(),
            message: message.into(),
            shape: "text".into(),
            fields: (0..fields)
                .map(|i| (format!("f{i}"), "v".repeat(3000)))
                .collect(),
        }
    }

    #[test]
    fn stored_samples_are_bounded_whatever_their_input() {
        let huge = bounded_sample(sample(&"x".repeat(4096), 40));
        let size = serde_json::to_string(&huge).unwrap().len();
        assert!(size <= MAX_STORED_SAMPLE_BYTES, "{size}");
        assert!(huge.message.starts_with("xxx"));
        let small = sample("short", 1);
        let mut small_fields = small.clone();
        small_fields.fields[0].1 = "v".into();
        assert_eq!(bounded_sample(small_fields.clone()), small_fields);
    }

    #[test]
    fn table_names_follow_dynamodb_rules() {
        assert!(validate_table_name("faultline-issues_1.x").is_ok());
        assert!(validate_table_name("ab").is_err());
        assert!(validate_table_name("a/b/c").is_err());
        assert!(validate_table_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(1) <= Duration::from_millis(40));
        assert!(backoff(30) <= Duration::from_millis(1000));
        assert!(backoff(30) >= Duration::from_millis(500));
    }

    #[test]
    fn request_tokens_fit_dynamodb_and_differ_per_attempt() {
        let a = request_token("b", 0, 0);
        assert_eq!(a.len(), 32);
        assert_ne!(a, request_token("b", 0, 0));
    }

    /// DynamoDB's item size rule, rounded up: attribute names plus values;
    /// numbers counted as their decimal length (DynamoDB needs less).
    fn item_size(item: &Item) -> usize {
        fn value_size(v: &AttributeValue) -> usize {
            match v {
                AttributeValue::S(text) | AttributeValue::N(text) => text.len(),
                AttributeValue::L(list) => {
                    3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>()
                }
                AttributeValue::M(map) => {
                    3 + map
                        .iter()
                        .map(|(k, v)| k.len() + 1 + value_size(v))
                        .sum::<usize>()
                }
                _ => 1,
            }
        }
        item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
    }

    fn summary(issues: Vec<IssueDelta>) -> BatchSummary {
        BatchSummary {
            batch_id: "b".into(),
            owner: "1".into(),
            log_group: "/g".into(),
            log_stream: "s".into(),
            events: issues.len(),
            errors: issues.len(),
            issues,
        }
    }

    fn delta(fingerprint: &str, count: u64) -> IssueDelta {
        IssueDelta {
            fingerprint: fingerprint.into(),
            kind: "E".into(),
            title: format!("E: {fingerprint}"),
            count,
            first_seen: 1_000,
            last_seen: 2_000,
            samples: vec![sample("m", 1)],
            hours: vec![HourCount { hour: 0, count }],
            facets: Vec::new(),
            versions: Vec::new(),
        }
    }

    #[test]
    fn worst_case_items_fit_their_bounds() {
        // The largest issue the store can hold: every bound at its limit,
        // with characters that JSON escapes six-fold where that costs most.
        let nasty = |len: usize| "\u{1}".repeat(len);
        let mut item = StoredIssue::new(
            &BatchSummary {
                log_group: "g".repeat(512),
                ..summary(Vec::new())
            },
            &IssueDelta {
                fingerprint: "f".repeat(32),
                kind: "K".repeat(10_000),
                title: "T".repeat(MAX_TITLE_BYTES),
                ..delta("x", 1)
            },
            i64::MAX,
        );
        item.issue.count = u64::MAX;
        item.issue.resolved_in = Some("v".repeat(MAX_VERSION_BYTES));
        item.issue.regressed_at = Some(i64::MIN);
        item.issue.ignored_until = Some(i64::MIN);
        item.issue.ignored_until_count = Some(u64::MAX);
        item.last_alert_at = Some(i64::MIN);
        item.threshold_alerted_at = Some(i64::MIN);
        item.ver = u64::MAX;
        item.samples = (0..MAX_SAMPLES)
            .map(|_| {
                let mut huge = sample(&nasty(4096), 40);
                huge.kind = nasty(4096);
                stored_sample_json(&huge).unwrap()
            })
            .collect();
        item.hours = (0..=HOURS_RETENTION_MS / 3_600_000)
            .map(|h| HourCount {
                hour: i64::MIN + h,
                count: u64::MAX,
            })
            .collect();
        let mut used = 0;
        for name in 0..100 {
            for value in 0..200 {
                let facet = FacetCount {
                    name: format!("{name}{}", nasty(200)),
                    value: format!("{value}{}", nasty(250)),
                    count: u64::MAX,
                };
                add_facet(&mut item.facets, &mut used, &facet);
            }
        }
        assert!(used <= MAX_FACET_BYTES, "{used}");
        assert_eq!(used, facets_size(&item.facets));
        assert!(json(&item.facets).len() <= MAX_FACET_BYTES);
        let size = item_size(&item.to_item());
        eprintln!("worst-case issue item: {size} bytes");
        assert!(size <= MAX_ISSUE_ITEM_BYTES, "{size}");

        // A transaction: 25 such issues, one alert each for them and the
        // most separate new-issue alerts the last chunk may carry.
        let mut one = policy::alerts_for_batch(
            &summary(vec![IssueDelta {
                title: nasty(MAX_TITLE_BYTES),
                samples: vec![sample(&nasty(4096), 40)],
                ..delta(&"f".repeat(32), 1)
            }]),
            &[],
            0,
            0,
        );
        assert!(one.is_empty());
        let big = summary(vec![IssueDelta {
            title: nasty(MAX_TITLE_BYTES),
            kind: nasty(256),
            samples: vec![sample(&nasty(4096), 40)],
            ..delta(&"f".repeat(32), 1)
        }]);
        one = policy::alerts_for_batch(&big, &[(EventType::Regression, &big.issues[0])], 0, 0);
        bound_alert(&mut one[0]);
        let alert_size = item_size(&outbox_item(&one[0], i64::MAX).unwrap());
        eprintln!("largest single-issue alert: {alert_size} bytes");
        let actions = 1 + ISSUES_PER_WRITE + ISSUES_PER_WRITE + MAX_SEPARATE_NEW_ISSUE_ALERTS;
        assert!(actions <= 100, "{actions} actions");
        let singles = (ISSUES_PER_WRITE + MAX_SEPARATE_NEW_ISSUE_ALERTS) * alert_size;
        let with_digest = ISSUES_PER_WRITE * alert_size + MAX_ALERT_BYTES;
        let transaction = ISSUES_PER_WRITE * MAX_ISSUE_ITEM_BYTES + singles.max(with_digest);
        eprintln!("largest transaction: {transaction} bytes");
        assert!(transaction < 4_000_000, "{transaction} bytes");
    }

    #[test]
    fn a_digest_of_many_new_issues_stays_bounded() {
        let deltas: Vec<IssueDelta> = (0..3000)
            .map(|i| IssueDelta {
                samples: vec![sample(&"x".repeat(4096), 40)],
                title: "T".repeat(MAX_TITLE_BYTES),
                ..delta(&format!("{i:032x}"), 1)
            })
            .collect();
        let batch = summary(deltas);
        let raised: Vec<(EventType, &IssueDelta)> = batch
            .issues
            .iter()
            .map(|d| (EventType::NewIssue, d))
            .collect();
        let mut alerts = policy::alerts_for_batch(&batch, &raised, 3, 0);
        assert_eq!(alerts.len(), 1);
        bound_alert(&mut alerts[0]);
        let size = json(&alerts[0]).len();
        assert!(size <= MAX_ALERT_BYTES, "{size}");
        assert_eq!(alerts[0].issues.len(), 3000, "every issue is still named");
        assert_eq!(alerts[0].issues[0].title.len(), MAX_TITLE_BYTES);
        assert!(alerts[0].issues.iter().all(|i| i.sample.is_none()));

        let mut fewer = policy::alerts_for_batch(&batch, &raised[..100], 3, 0);
        bound_alert(&mut fewer[0]);
        assert!(fewer[0].issues[DETAILED_ALERT_ISSUES - 1].sample.is_some());
        assert!(fewer[0].issues[DETAILED_ALERT_ISSUES].sample.is_none());
        assert_eq!(fewer[0].issues[99].title.len(), MAX_TITLE_BYTES);
    }

    #[test]
    fn facets_fold_into_other_past_the_value_cap_and_sort_like_sqlite() {
        let mut facets = Facets::new();
        let mut used = 0;
        let add = |facets: &mut Facets, used: &mut usize, value: &str, count| {
            let facet = FacetCount {
                name: "request_id".into(),
                value: value.into(),
                count,
            };
            add_facet(facets, used, &facet)
        };
        for i in 0..MAX_FACET_VALUES + 3 {
            add(&mut facets, &mut used, &format!("r-{i:02}"), 1);
        }
        add(&mut facets, &mut used, "r-07", 4);
        add(&mut facets, &mut used, "r-03", 4);
        let shown = facets_of(&facets);
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].distinct as usize, MAX_FACET_VALUES);
        assert!(shown[0].capped);
        assert_eq!(
            shown[0].top,
            vec![
                ("r-03".to_string(), 5),
                ("r-07".to_string(), 5),
                (OTHER.to_string(), 3),
                ("r-00".to_string(), 1),
                ("r-01".to_string(), 1),
            ]
        );
    }

    #[test]
    fn new_issue_alerts_of_a_multi_chunk_batch_wait_for_its_last_chunk() {
        let batch = summary((0..30).map(|i| delta(&format!("fp-{i}"), 1)).collect());
        let policy = Policy::default();
        let first = plan_chunk(
            &batch,
            &batch.issues[..ISSUES_PER_WRITE],
            &HashMap::new(),
            &[],
            false,
            7,
            &policy,
        )
        .unwrap();
        assert!(first.alerts.is_empty());
        assert_eq!(first.new_issues.len(), ISSUES_PER_WRITE);
        assert_eq!(first.marker_new.len(), ISSUES_PER_WRITE);
        let last = plan_chunk(
            &batch,
            &batch.issues[ISSUES_PER_WRITE..],
            &HashMap::new(),
            &first.marker_new,
            true,
            7,
            &policy,
        )
        .unwrap();
        assert!(last.marker_new.is_empty());
        assert_eq!(last.alerts.len(), 1, "one digest for the whole batch");
        let digest = &last.alerts[0];
        assert_eq!(digest.id, "b:new_issue:digest");
        let ids: Vec<String> = batch
            .issues
            .iter()
            .map(|d| issue_id(&d.fingerprint))
            .collect();
        assert_eq!(digest.issue_ids(), ids.join(","), "in batch order");
    }

    #[test]
    fn a_write_is_conditioned_on_the_version_it_was_decided_from() {
        let batch = summary(vec![delta("fp", 2), delta("fp", 3)]);
        let (existing, _) =
            apply_delta(None, &batch, &batch.issues[0], 1, &Policy::default()).unwrap();
        let current = HashMap::from([(
            existing.issue.id.clone(),
            StoredIssue {
                ver: 41,
                ..existing
            },
        )]);
        let plan = plan_chunk(
            &batch,
            &batch.issues,
            &current,
            &[],
            true,
            2,
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(plan.writes.len(), 1, "one write per issue");
        assert_eq!(plan.writes[0].read_ver, Some(41));
        assert_eq!(plan.writes[0].item.ver, 42);
        assert_eq!(plan.writes[0].item.issue.count, 7);
        assert_eq!(
            plan.writes[0].item.hours,
            vec![HourCount { hour: 0, count: 7 }]
        );
        assert!(plan.alerts.is_empty() && plan.new_issues.is_empty());
        let back = StoredIssue::from_item(&plan.writes[0].item.to_item()).unwrap();
        assert_eq!(back, plan.writes[0].item);
    }
}
