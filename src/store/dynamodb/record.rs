//! Recording a batch: one conditional transaction per chunk of issues,
//! re-read and retried when a concurrent writer changed an issue meanwhile.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, TransactWriteItem};

use super::DynamoDbStore;
use super::items::{
    ISSUE_SK, Item, StoredIssue, alias_item, entry_of, get_s, get_string_list, is_alias, issue_key,
    marker_item, marker_key, n, outbox_item, s,
};
use super::parts::{Day, day_key, days_read, is_day, sample_item};
use super::plan::{ChunkRead, Days, plan_chunk};
use super::retry::{
    CONCURRENT_READS, KEYS_PER_READ, MAX_CONTENDED_ATTEMPTS, TRANSIENT_REASONS, backoff, classify,
    request_token,
};
use crate::model::{BatchSummary, HeldBack, issue_id};
use crate::policy::Policy;
use crate::store::StoreError;
use crate::store::route::Router;

/// Which items of a partition a Query returns, by sort key.
#[derive(Debug, Clone, Copy)]
pub(super) enum SortKeys<'a> {
    All,
    /// Those that sort before this key.
    Before(&'a str),
    /// Those that start with this.
    Prefix(&'a str),
}

/// What one committed chunk did.
#[derive(Debug, Default)]
pub(super) struct ChunkOutcome {
    pub new_issues: Vec<String>,
    pub regressions: Vec<String>,
    pub held_back: Vec<(String, HeldBack)>,
    pub alerts: usize,
    /// Fingerprints the chunk counted into other issues (merges, aliases),
    /// with where each went, for the batch's runs.
    pub moved: HashMap<String, String>,
}

impl DynamoDbStore {
    pub(super) async fn record_quiet(
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

    /// Records chunk `chunk_no` of `chunks` (the issues in `range`); `None`
    /// when it was recorded before.
    pub(super) async fn record_chunk(
        &self,
        batch: &BatchSummary,
        range: std::ops::Range<usize>,
        chunk_no: usize,
        chunks: usize,
        now: i64,
        policy: &Policy,
    ) -> Result<Option<ChunkOutcome>, StoreError> {
        let chunk = BatchSummary {
            issues: batch.issues.get(range).unwrap_or_default().to_vec(),
            ..batch.clone()
        };
        let is_last = chunk_no + 1 == chunks;
        let mut keys: Vec<Item> = Vec::new();
        let mut seen = HashSet::new();
        let mut day_keys: HashSet<(String, i64)> = HashSet::new();
        for delta in &chunk.issues {
            let id = issue_id(&delta.fingerprint);
            if seen.insert(id.clone()) {
                keys.push(issue_key(&id));
            }
            // Read with the heads: a batch's issues are usually their own,
            // so routing rarely needs days of other issues.
            for day in days_read(delta, policy) {
                if day_keys.insert((id.clone(), day)) {
                    keys.push(day_key(&id, day));
                }
            }
        }
        if is_last {
            // The earlier chunks' markers say which issues they created: the
            // last chunk queues the batch's new-issue alerts for all of them.
            keys.extend((0..chunk_no).map(|c| marker_key(&batch.batch_id, c)));
        }
        for attempt in 0..MAX_CONTENDED_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let mut items = self.read_items(&keys).await?;
            // Where the chunk's issues really are (merges, aliases): usually
            // nothing more to read, the issue items came with the first read.
            let mut router = Router::new();
            for item in &items {
                if get_s(item, "sk")? == ISSUE_SK {
                    let id = get_s(item, "pk")?.trim_start_matches("ISSUE#");
                    router.learn(id, Some(entry_of(item)?));
                }
            }
            for id in &seen {
                if !router.knows(id) {
                    router.learn(id, None);
                }
            }
            loop {
                let wanted: Vec<String> = router.wanted(&chunk)?;
                if wanted.is_empty() {
                    break;
                }
                let more = self
                    .read_items(&wanted.iter().map(|id| issue_key(id)).collect::<Vec<_>>())
                    .await?;
                for item in more {
                    let id = get_s(&item, "pk")?.trim_start_matches("ISSUE#");
                    router.learn(id, Some(entry_of(&item)?));
                    items.push(item);
                }
                for id in wanted {
                    if !router.knows(&id) {
                        router.learn(&id, None);
                    }
                }
            }
            let routed = router.route(&chunk)?;
            if !routed.joins.is_empty() {
                // Merged before the chunk is recorded, then routed again
                // (see `route`): its alias is written once they are done.
                self.join_issues(&routed.joins).await?;
                continue;
            }
            let mut missing = Vec::new();
            for delta in &routed.batch.issues {
                let id = issue_id(&delta.fingerprint);
                for day in days_read(delta, policy) {
                    if day_keys.insert((id.clone(), day)) {
                        missing.push(day_key(&id, day));
                    }
                }
            }
            if !missing.is_empty() {
                items.extend(self.read_items(&missing).await?);
            }
            let mut days = Days::new();
            let mut legacy = Vec::new();
            for item in &items {
                if is_day(item) {
                    let id = get_s(item, "pk")?.trim_start_matches("ISSUE#").to_string();
                    let day = Day::from_item(item)?;
                    days.insert((id, day.day), day);
                }
            }
            let mut current = HashMap::new();
            let mut earlier_new: Vec<String> = Vec::new();
            let mut markers_found = 0;
            for item in &items {
                if get_s(item, "sk")? == ISSUE_SK && !is_alias(item) {
                    let stored = StoredIssue::from_item(item)?;
                    if stored.legacy {
                        legacy.push(stored.issue.id.clone());
                    }
                    current.insert(stored.issue.id.clone(), stored);
                }
            }
            if !legacy.is_empty() {
                // Written by the layout before days and sample items (or by
                // a function of that version still running during a
                // deploy): convert, then read again.
                for id in legacy {
                    self.convert_legacy(&id).await?;
                }
                continue;
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
            let read = ChunkRead {
                current: &current,
                days: &days,
                aliases: routed.aliases.len(),
                earlier_new: &earlier_new,
            };
            let plan = plan_chunk(batch, &routed.batch.issues, &read, is_last, now, policy)?;
            let mut actions = Vec::with_capacity(1 + plan.writes.len() + plan.alerts.len());
            actions.push(
                TransactWriteItem::builder()
                    .put(self.put(
                        super::runs::with_changes(
                            marker_item(batch, chunk_no, &plan.marker_new, now),
                            &plan.new_issues,
                            &plan.regressions,
                        ),
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
            for (id, day) in &plan.days {
                // Unconditional: the head written beside it is conditioned
                // on the version read, and every write to a day rewrites
                // its issue's head.
                actions.push(
                    TransactWriteItem::builder()
                        .put(self.put(day.to_item(id), None, None)?)
                        .build(),
                );
            }
            for sample in &plan.samples {
                // Unconditional, as the days: the head records the slot.
                actions.push(
                    TransactWriteItem::builder()
                        .put(self.put(
                            sample_item(&sample.id, sample.slot, sample.timestamp, &sample.json),
                            None,
                            None,
                        )?)
                        .build(),
                );
            }
            for alias in &routed.aliases {
                // Conditional, so that an issue or alias created at the same
                // id meanwhile cancels the transaction and the chunk re-routes.
                actions.push(
                    TransactWriteItem::builder()
                        .put(self.put(
                            alias_item(&alias.id, &alias.target, now),
                            Some("attribute_not_exists(pk)"),
                            None,
                        )?)
                        .build(),
                );
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
                        held_back: plan.held_back,
                        alerts: plan.alerts.len(),
                        moved: routed.moved,
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

    /// A transaction's Put of `item` (see [`DynamoDbStore::put`]).
    pub(super) fn put_action(
        &self,
        item: Item,
        condition: Option<&str>,
        read_ver: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .put(self.put(item, condition, read_ver)?)
            .build())
    }

    /// Sends a transaction whose conditions guard what was read: `false`
    /// when another writer got there first (a condition failed or DynamoDB
    /// saw a conflict: read again); overload is a transient error, and any
    /// other cancellation a backend error.
    pub(super) async fn try_transaction(
        &self,
        actions: Vec<TransactWriteItem>,
        what: &str,
    ) -> Result<bool, StoreError> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        let err = match sent {
            Ok(_) => return Ok(true),
            Err(err) => err,
        };
        let reasons: Vec<String> = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_string())
                .collect(),
            _ => return Err(classify(what, &self.table, err)),
        };
        if let Some(reason) = reasons
            .iter()
            .find(|r| TRANSIENT_REASONS.contains(&r.as_str()))
        {
            return Err(StoreError::Transient(format!(
                "DynamoDB table {}: {what} cancelled ({reason})",
                self.table
            )));
        }
        if reasons
            .iter()
            .any(|r| r == "ConditionalCheckFailed" || r == "TransactionConflict")
        {
            return Ok(false);
        }
        Err(StoreError::Backend(format!(
            "DynamoDB table {}: {what} cancelled for reasons [{}]",
            self.table,
            reasons.join(", ")
        )))
    }

    /// A Put of `item`, optionally conditional; `read_ver` fills `:read` in
    /// a `#ver = :read` condition.
    pub(super) fn put(
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
        self.read_items_with(keys, true, None).await
    }

    /// Items by key, eventually consistent, [`CONCURRENT_READS`]
    /// BatchGetItem requests at a time: for listings, which read every
    /// issue head of a status.
    pub(super) async fn read_items_concurrently(
        &self,
        keys: &[Item],
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for wave in keys.chunks(KEYS_PER_READ * CONCURRENT_READS) {
            let mut reads = tokio::task::JoinSet::new();
            for group in wave.chunks(KEYS_PER_READ) {
                let store = self.clone();
                let group = group.to_vec();
                reads.spawn(async move { store.read_items_with(&group, false, None).await });
            }
            while let Some(read) = reads.join_next().await {
                let items =
                    read.map_err(|e| StoreError::Backend(format!("reading issue heads: {e}")))??;
                found.extend(items);
            }
        }
        Ok(found)
    }

    /// Items by key, as [`DynamoDbStore::read_items`], optionally eventually
    /// consistent (half the read units) and with only some attributes
    /// returned (which saves bandwidth, not units: DynamoDB bills the item).
    pub(super) async fn read_items_with(
        &self,
        keys: &[Item],
        consistent: bool,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for group in keys.chunks(KEYS_PER_READ) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(group.to_vec()))
                    .consistent_read(consistent)
                    .set_projection_expression(projection.map(str::to_string))
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

    pub(super) async fn get_issue(&self, id: &str) -> Result<Option<StoredIssue>, StoreError> {
        self.get_item(issue_key(id), "GetItem")
            .await?
            .filter(|item| !is_alias(item))
            .as_ref()
            .map(StoredIssue::from_item)
            .transpose()
    }

    /// One item by key, strongly consistent; `what` names the request in
    /// errors.
    pub(super) async fn get_item(&self, key: Item, what: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(what, &self.table, e))?;
        Ok(out.item().cloned())
    }

    /// Every item of a partition, strongly consistent, page by page; `what`
    /// names the request in errors.
    pub(super) async fn partition(&self, pk: &str, what: &str) -> Result<Vec<Item>, StoreError> {
        self.partition_where(pk, SortKeys::All, true, what).await
    }

    /// The items of a partition whose sort keys `keys` admits, page by page.
    pub(super) async fn partition_where(
        &self,
        pk: &str,
        keys: SortKeys<'_>,
        consistent: bool,
        what: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", s(pk))
                .consistent_read(consistent)
                .set_exclusive_start_key(start.take());
            query = match keys {
                SortKeys::All => query.key_condition_expression("pk = :pk"),
                SortKeys::Before(bound) => query
                    .key_condition_expression("pk = :pk AND sk < :sk")
                    .expression_attribute_values(":sk", s(bound)),
                SortKeys::Prefix(prefix) => query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :sk)")
                    .expression_attribute_values(":sk", s(prefix)),
            };
            let out = query
                .send()
                .await
                .map_err(|e| classify(what, &self.table, e))?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }
}
