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
//! | issue head | `ISSUE#<id>` | `ISSUE` | `issue_id fingerprint log_group title kind status count first_seen last_seen created_at ver slots`, and when set `regressed_at resolved_in ignored_until ignored_until_count last_alert_at threshold_alerted_at held merged_into merged_from kept_apart` |
//! | issue day | `ISSUE#<id>` | `DAY#yyyy-mm-dd` | `day h00..h23 expires_at`, and `facets` (JSON) or `fz` (the same deflated, when long) (parts.rs) |
//! | issue sample | `ISSUE#<id>` | `SAMPLE#<slot>` | `z`: the sample, deflated (parts.rs) |
//! | held tail | `HELD#<shard>` | `<stream key>#<left_by>` | a trace a batch left unfinished (pending.rs) |
//! | left mark | `HELD#LEFT#<left_by>` | `LEFT` | that batch left its tail (pending.rs) |
//! | earlier facets | `ISSUE#<id>` | `FACETS#earlier` | `facets`: what an issue of layout 1 had counted, kept for its life (layout.rs) |
//! | alias | `ISSUE#<id>` | `ISSUE` | `alias_of created_at`: a fingerprint the store knows under another issue ([`crate::store::route`]) |
//! | batch marker | `BATCH#<batch id>` | `CHUNK#<n>` | `log_group log_stream events errors processed_at expires_at`, and `new_issues` on all but a batch's last chunk |
//! | queued alert | `OUTBOX` | `~<created_at, 20 digits>#<alert id>` (layout 5; earlier layouts: `<alert id>`) | `payload created_at lease_until lease_owner attempts` (outbox.rs) |
//! | leased run | `OUTBOX#SKIP` | `SKIP` | `after until`: alerts up to `after` are leased until `until` (outbox.rs) |
//! | layout | `META` | `LAYOUT` | `layout`, `written_by` (layout.rs) |
//!
//! Runs ([`crate::runs`]) have items of their own, written in the batch's
//! own transaction when it has one, else after its issue chunks in
//! transactions of their own with their own markers: see runs/mod.rs for
//! their layout and why they too count exactly once. An issue
//! head's `held` says its new-issue alert waits for runs
//! ([`crate::store::run_fold::hold`]).
//!
//! An alias sits where an issue head with its id would, so the read a
//! batch makes of its issues finds it; it has no `status`, so it never
//! enters the listing index. A merged issue keeps its head with `status =
//! merged` and `merged_into`; its target lists it in `merged_from` (a
//! string set). A batch whose issues are merged or aliased reads their
//! targets in a second `BatchGetItem`; the usual batch, whose issues are
//! their own, does not.
//!
//! # Why an issue is several items (layout 2)
//!
//! DynamoDB bills a write by the size of the whole item, the larger of
//! before and after, twice inside a transaction: not by what changed. So
//! the head, which every batch that touches the issue rewrites, holds only
//! what decisions need (counters, status, policy state, `ver`, and the time
//! of the sample in each slot) and stays under a kilobyte (at most
//! [`MAX_HEAD_BYTES`]). What grows lives in items a batch writes only when
//! it changes them (parts.rs): the day its events fall in (24 hourly
//! counts and that day's facets, under [`MAX_DAY_BYTES`], expiring after 31
//! days), and a sample item when [`fold::choose_sample`] picks a slot (one
//! per batch until 10, then at most one every 5 minutes). A batch on a hot
//! issue writes its marker, the head and one day: 2 + 2 + 2 write units in
//! its transaction, and now and then a sample (2, deflated); in a run the
//! issue is already in, the run item instead of a sample (runs/mod.rs), so
//! 8 either way. Layout 1 rewrote a 26 KB item: 52.
//!
//! [`fold::choose_sample`]: crate::store::fold::choose_sample
//!
//! - `ver` counts writes to the issue; every write is conditional on it.
//! - Global secondary index [`LISTING_INDEX`] (hash `status`, range
//!   `issue_id`, keys only) serves `issues`: one Query per status for the
//!   ids, then their heads. A batch never changes an entry's key, so it
//!   writes nothing to the index (the legacy [`STATUS_INDEX`], keyed on
//!   `last_seen`, cost 2 units a batch). Only issue heads carry `status`, so markers and alerts never enter the index. Index reads
//!   are eventually consistent: a listing may lag a write by a moment;
//!   `issue(id)` reads the base table and never does.
//! - Batch markers expire after [`BATCH_RETENTION_MS`] (15 days: a payload
//!   can wait 14 days in the failed-events queue before it is replayed).
//! - Queued alerts live in the `OUTBOX` partition until delivered, then are
//!   deleted, keyed by age so that a flush reads the oldest it claims and
//!   not the whole queue (outbox.rs); usually there is nothing: one 1-RCU
//!   Query per invocation.
//!
//! # Why each batch counts exactly once
//!
//! A batch's issues are written in chunks of at most [`ISSUES_PER_WRITE`],
//! split by position in the batch and the days each writes
//! ([`chunk_ranges`]: a pure function of its content, so every delivery of
//! a batch chunks it the same way). Each chunk is one
//! `TransactWriteItems`: a Put of the chunk's batch marker conditional on
//! `attribute_not_exists(pk)`, one Put per issue head conditional on the
//! issue being exactly as read (`ver = :read`, or `attribute_not_exists(pk)`
//! for an issue not yet there), the Puts of the days it changed, and the
//! Puts of the alerts the chunk raises.
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
//! - **Batches together.** The small batches of one call (a stream
//!   invocation's records, [`Store::record_all`]) share transactions, so an
//!   issue they all touch is written once (`pack.rs`). Each batch keeps its
//!   own conditional marker in the transaction, the same item it has when
//!   recorded alone: a cancellation at one batch's marker says that batch
//!   was recorded before, and the transaction is tried again without it. A
//!   batch repeated within one call counts once.
//!
//! # How policy decisions stay atomic
//!
//! For each issue the chunk reads its head (status, count, the
//! resolve/ignore settings, `last_alert_at`, `threshold_alerted_at`) and the
//! days it writes or its threshold window covers, and folds the delta into
//! them through the shared fold
//! ([`crate::store::fold`], which calls [`crate::policy::decide`]), as the
//! SQLite store does; the decided state is part of the item Put conditioned
//! on the `ver` it was decided from; the days are Put beside it (every
//! write to a day rewrites its issue's head, so the head's condition guards
//! them too). A decision made on a state that changed meanwhile (another batch, or
//! `set_status`, which bumps `ver` too) can never be written: the
//! transaction is cancelled and the chunk decides again from the new state.
//!
//! # Why each alert is queued exactly once
//!
//! Alerts come from [`crate::policy::alerts_for_batch`] with ids derived from the batch id,
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
//! Per batch: one `BatchGetItem` (heads, the days they need, earlier
//! markers) and one `TransactWriteItems` per chunk, plus a `BatchGetItem`
//! for merged or aliased issues and one for days of issues the routing
//! found elsewhere; one Query of the outbox when alerts are flushed (a page of the oldest when some are queued). A
//! chunk holds up to 19 issues seen on one day ([`chunk_ranges`] keeps each transaction within DynamoDB's
//! 100 actions whatever the days a batch spans). A batch without errors
//! writes only its marker (one conditional PutItem), so replays of it are
//! recognised like any other. BENCHMARKS.md prices each scenario by
//! DynamoDB's billing rules (`tests/aws_capacity.rs`).
//!
//! Samples are deflated (a 2.5 KB stack trace takes under 1 KB), so the one
//! a batch writes now and then costs 2 units in its transaction.
//!
//! Alert delivery: `claim_alerts` reads the oldest queued alerts, about as
//! many as it claims, and leases each with a conditional UpdateItem
//! (`lease_until <= now`), so concurrent invocations do not both send it,
//! several at a time and at most the caller's limit per flush
//! ([`outbox`]); `alert_sent` deletes it by the key the alert's age and id
//! make. An alert whose sender died
//! is claimed again once its lease has run out. Each claim writes its own
//! token (`lease_owner`) and its condition also accepts that token, so an
//! SDK resend of a lease whose answer was lost still counts as the claimer's
//! (tests/aws_faults.rs).

mod admin;
mod bounds;
mod history;
mod items;
mod layout;
mod listing;
mod merge;
mod outbox;
mod pack;
mod packing;
mod parts;
mod pending;
mod plan;
mod record;
mod requests;
mod retry;
mod runs;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::route::merged_refusal;
use super::{Migrated, RunFilter, Store, StoreError};
use crate::limits::truncate;
use crate::model::{
    Alert, BatchSummary, HourCount, Issue, IssueDetail, IssuePage, IssueQuery, LeasedAlert,
    Recorded, Run, Status, StatusChange, StatusFilter, StoreStats,
};
use crate::policy::Policy;

pub use bounds::{
    DETAILED_ALERT_ISSUES, ISSUES_PER_WRITE, MAX_ALERT_BYTES, MAX_DAY_BYTES, MAX_HEAD_BYTES,
    MAX_SEPARATE_NEW_ISSUE_ALERTS, MAX_STORED_SAMPLE_BYTES, MAX_VERSION_BYTES, bounded_sample,
    chunk_ranges,
};
use items::{OUTBOX_PK, StoredIssue, get_n, get_s, issue_from_item, issue_key, n, s};
use pack::Pack;
use record::PackPart;
use retry::classify;

/// Batch markers are kept this long (the same retention as the SQLite store).
pub use crate::limits::BATCH_RETENTION_MS;
pub use items::queued_alert_sk;
pub use layout::LAYOUT;
pub use outbox::LEASE_CONCURRENCY;

/// The index `issues` lists from: issue heads by status, keys only. Its
/// key (`status`, `issue_id`) changes only when an issue's status does, so
/// the batches that rewrite a head write nothing to it; the listing reads
/// the heads it names.
pub const LISTING_INDEX: &str = "by_status_id";

/// The index tables made before [`LISTING_INDEX`] list from (hash `status`,
/// range `last_seen`, projecting [`LISTING_ATTRIBUTES`]). Every batch moved
/// an issue's entry in it (2 write units: `last_seen` is its key), so it is
/// only read where [`LISTING_INDEX`] does not exist yet, and template.yaml
/// keeps it only while `KeepLegacyListingIndex` says so (README, "Upgrading
/// the store's layout").
pub const STATUS_INDEX: &str = "by_status";

/// The TTL attribute.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// Attributes the legacy [`STATUS_INDEX`] carries besides its keys
/// (template.yaml declares the same list; tests/template.rs checks they
/// agree): everything an [`Issue`] holds, nothing more.
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

#[derive(Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    /// A store on `table` through an already configured client (tests pass
    /// one pointed at the emulator).
    pub fn new(client: Client, table: &str) -> Result<DynamoDbStore, StoreError> {
        admin::validate_table_name(table)?;
        Ok(DynamoDbStore {
            client,
            table: table.to_string(),
        })
    }

    /// A store on `table` with a client from the standard AWS environment.
    pub async fn from_env(table: &str) -> Result<DynamoDbStore, StoreError> {
        admin::validate_table_name(table)?;
        let config = crate::aws::sdk_config().await;
        DynamoDbStore::new(Client::new(&config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The issues of one status: their ids from [`LISTING_INDEX`], then
    /// their heads (eventually consistent, as the index is); from the
    /// legacy [`STATUS_INDEX`] on a table that has not got the new one.
    pub(super) async fn query_status(&self, status: Status) -> Result<Vec<Issue>, StoreError> {
        let entries = match self.index_entries(LISTING_INDEX, status).await {
            Err(e) if missing_index(&e) => {
                return self
                    .index_entries(STATUS_INDEX, status)
                    .await
                    .map_err(|e| classify("Query (status index)", &self.table, e))?
                    .iter()
                    .map(issue_from_item)
                    .collect();
            }
            entries => entries.map_err(|e| classify("Query (listing index)", &self.table, e))?,
        };
        let keys: Vec<items::Item> = entries
            .iter()
            .filter_map(|entry| match entry.get("issue_id") {
                Some(AttributeValue::S(id)) => Some(issue_key(id)),
                _ => None,
            })
            .collect();
        let mut issues = Vec::with_capacity(keys.len());
        // Whole heads: a head is under a kilobyte, and DynamoDB bills the
        // item whatever a projection returns.
        for head in self.read_items_concurrently(&keys).await? {
            let issue = issue_from_item(&head)?;
            // The index lags a status change by a moment; the head is newer.
            if issue.status == status {
                issues.push(issue);
            }
        }
        Ok(issues)
    }

    /// Every entry of `index` under `status`, page by page; the raw error,
    /// so that a missing index can be told apart.
    async fn index_entries(
        &self,
        index: &str,
        status: Status,
    ) -> Result<
        Vec<items::Item>,
        aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::query::QueryError>,
    > {
        let mut entries = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#s = :s")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":s", s(status.as_str()))
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            entries.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(entries),
            }
        }
    }
}

/// Whether a Query failed because the table has no such index (a table
/// made before it, whose stack has not been updated yet): DynamoDB says
/// `ValidationException` ("The table does not have the specified index"),
/// moto `ResourceNotFoundException` ("Invalid index").
fn missing_index<E: ProvideErrorMetadata>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> bool {
    e.as_service_error().is_some_and(|s| {
        matches!(
            s.code(),
            Some("ValidationException" | "ResourceNotFoundException")
        ) && s.message().is_some_and(|m| m.contains("index"))
    })
}

#[async_trait]
impl Store for DynamoDbStore {
    /// Creates the table (on-demand, with the status index) unless it exists,
    /// waits for it to become active and enables TTL on `expires_at`.
    async fn init(&self) -> Result<(), StoreError> {
        self.ensure_table().await?;
        // Runs an older faultline wrote join the time index that bounded
        // listings read (the settling tick does it too, for tables made
        // by CloudFormation); their links' retention starts now.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.index_runs(now).await
    }

    fn held(&self) -> Option<&dyn crate::store::pending::HeldTails> {
        Some(self)
    }

    async fn record(
        &self,
        batch: &BatchSummary,
        now: i64,
        policy: &Policy,
    ) -> Result<Recorded, StoreError> {
        let ranges = chunk_ranges(batch);
        let chunks = ranges.len();
        let mut outcomes = Vec::new();
        if batch.issues.is_empty() {
            outcomes.push(self.record_quiet(batch, now).await?);
        } else {
            // In order: the last chunk relies on every earlier marker existing.
            for (chunk_no, range) in ranges.into_iter().enumerate() {
                let part = PackPart {
                    batch,
                    range,
                    chunk_no,
                    chunks,
                };
                outcomes.extend(
                    self.record_parts(std::slice::from_ref(&part), now, policy)
                        .await?,
                );
            }
        }
        self.finish_batch(batch, outcomes, now).await
    }

    /// Records the batches of a stream invocation. Batches whose issues
    /// fit one transaction share transactions, so an issue that several of
    /// them touch is written once for all (a hot issue's head and day are
    /// billed by their size on every write); each batch keeps its own
    /// marker in the transaction, so it counts exactly once whether it
    /// comes again alone, with other batches, or twice in one call.
    /// Larger batches are recorded alone, in order.
    async fn record_all(
        &self,
        batches: &[BatchSummary],
        now: i64,
        policy: &Policy,
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut recorded: Vec<Option<Recorded>> = (0..batches.len()).map(|_| None).collect();
        let mut first: HashSet<&str> = HashSet::new();
        let mut pack = Pack::default();
        for (i, batch) in batches.iter().enumerate() {
            if !first.insert(batch.batch_id.as_str()) {
                // Repeated in this call: the first copy counts.
                recorded[i] = Some(Recorded {
                    duplicate: true,
                    ..Recorded::default()
                });
                continue;
            }
            let chunks = chunk_ranges(batch).len();
            if batch.issues.is_empty() || chunks > 1 {
                self.record_packed(batches, &mut pack, &mut recorded, now, policy)
                    .await?;
                recorded[i] = Some(self.record(batch, now, policy).await?);
                continue;
            }
            if !pack.admits(batch) {
                self.record_packed(batches, &mut pack, &mut recorded, now, policy)
                    .await?;
            }
            pack.add(i, batch);
        }
        self.record_packed(batches, &mut pack, &mut recorded, now, policy)
            .await?;
        recorded
            .into_iter()
            .map(|r| {
                r.ok_or_else(|| StoreError::Backend("a batch of the call was not recorded".into()))
            })
            .collect()
    }

    async fn issues(&self, filter: StatusFilter) -> Result<Vec<Issue>, StoreError> {
        let mut issues = Vec::new();
        for status in filter.statuses() {
            issues.extend(self.query_status(status).await?);
        }
        issues.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.id.cmp(&b.id)));
        Ok(issues)
    }

    async fn list(&self, query: &IssueQuery) -> Result<IssuePage, StoreError> {
        self.list_issues(query).await
    }

    async fn issue(&self, id: &str) -> Result<Option<IssueDetail>, StoreError> {
        self.history(id, true).await?.detail()
    }

    /// The heads alone, a hundred to a `BatchGetItem` (an issue's head
    /// holds everything an [`Issue`] says); an alias's head is left out.
    async fn issues_by_id(&self, ids: &[String]) -> Result<Vec<Issue>, StoreError> {
        let keys: Vec<items::Item> = ids.iter().map(|id| issue_key(id)).collect();
        self.read_items_concurrently(&keys)
            .await?
            .iter()
            .filter(|head| !items::is_alias(head))
            .map(issue_from_item)
            .collect()
    }

    async fn hours(&self, id: &str, since: i64) -> Result<Vec<HourCount>, StoreError> {
        let history = self.history(id, false).await?;
        let Some(head) = history.head.as_ref().filter(|h| !items::is_alias(h)) else {
            return Ok(Vec::new());
        };
        let last_seen = get_n(head, "last_seen")?;
        let mut hours = history.hours(last_seen)?;
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
            .set_key(Some(issue_key(id)))
            .condition_expression("attribute_exists(#s) AND #s <> :merged")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#ver", "ver")
            .expression_attribute_values(":merged", s(Status::Merged.as_str()))
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
                match self.get_issue(id).await? {
                    Some(StoredIssue {
                        issue:
                            Issue {
                                merged_into: Some(into),
                                ..
                            },
                        ..
                    }) => Err(merged_refusal(id, &into)),
                    _ => Err(StoreError::NotFound(id.to_string())),
                }
            }
            Err(e) => Err(classify("UpdateItem (status)", &self.table, e)),
        }
    }
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.table_stats().await
    }

    async fn migrate(&self, swap_indexes: bool) -> Result<Migrated, StoreError> {
        let mut migrated = self.migrate_table().await?;
        migrated.notes = self.listing_index_upgrade(swap_indexes).await?;
        Ok(migrated)
    }

    async fn merge(&self, into: &str, from: &str) -> Result<Issue, StoreError> {
        self.merge_issues(into, from).await
    }

    async fn unmerge(&self, id: &str) -> Result<Issue, StoreError> {
        self.unmerge_issue(id).await
    }

    async fn claim_alerts(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        self.claim_alerts_with(now, lease_ms, limit, outbox::LEASE_CONCURRENCY)
            .await
    }

    async fn leased_alerts(&self, now: i64) -> Result<Vec<LeasedAlert>, StoreError> {
        let mut leased = Vec::new();
        for item in self.partition(OUTBOX_PK, "Query (outbox)").await? {
            let lease_until = get_n::<i64>(&item, "lease_until")?;
            if lease_until > now {
                leased.push(super::leased(
                    items::alert_id_in(get_s(&item, "sk")?).to_string(),
                    get_s(&item, "payload")?,
                    lease_until,
                    items::get_opt_n::<i64>(&item, "attempts")?.unwrap_or(0),
                )?);
            }
        }
        leased.sort_by(|a, b| {
            a.lease_until
                .cmp(&b.lease_until)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(leased)
    }

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<Run>, StoreError> {
        self.list_runs(filter).await
    }

    async fn run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        self.run_by_id(id).await
    }

    async fn run_names(&self) -> Result<Vec<crate::store::RunName>, StoreError> {
        self.names_of_runs().await
    }

    async fn has_run(&self, id: &str) -> Result<bool, StoreError> {
        self.run_exists(id).await
    }

    async fn forget_run(&self, id: &str) -> Result<Option<crate::store::Forgotten>, StoreError> {
        self.forget(id).await
    }

    async fn issue_runs(&self, issue_id: &str, limit: usize) -> Result<Vec<Run>, StoreError> {
        self.runs_of_issue(issue_id, limit).await
    }

    async fn settle_runs(
        &self,
        now: i64,
        settle_ms: i64,
        policy: &Policy,
    ) -> Result<crate::store::Settled, StoreError> {
        self.settle_due(now, settle_ms, policy).await
    }

    async fn alert_sent(&self, alert: &Alert, _now: i64) -> Result<(), StoreError> {
        self.delete_sent(alert).await
    }
}
