//! Recording batches: one conditional transaction per chunk of a batch's
//! issues, or for the small batches of one invocation together, re-read
//! and retried when a concurrent writer changed an issue meanwhile.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, TransactWriteItem};

use super::DynamoDbStore;
use super::bounds::MAX_TRANSACTION_ACTIONS;
use super::items::{
    ISSUE_SK, Item, StoredIssue, alias_item, entry_of, get_s, get_string_list, is_alias, issue_key,
    marker_item, marker_key, n, outbox_item, s,
};
use super::parts::{Day, day_key, days_read, is_day, sample_item};
use super::plan::{Days, PackRead, Part, plan_pack};
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

/// One chunk of one batch, to be recorded in a transaction with others.
pub(super) struct PackPart<'a> {
    pub batch: &'a BatchSummary,
    /// The chunk's issues, by position in the batch ([`super::bounds::chunk_ranges`]).
    pub range: std::ops::Range<usize>,
    pub chunk_no: usize,
    pub chunks: usize,
}

impl PackPart<'_> {
    fn is_last(&self) -> bool {
        self.chunk_no + 1 == self.chunks
    }
}

/// What recording a pack did.
pub(super) enum Packed {
    /// Per part, in order: what it did, or `None` when it was recorded
    /// before.
    Done(Vec<Option<ChunkOutcome>>),
    /// The parts together need more actions than one transaction takes:
    /// record fewer at once.
    TooBig,
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

    /// Records the parts of `pack` in one transaction each time it is
    /// tried; answers, per part, what it did (`None`: recorded before), or
    /// [`Packed::TooBig`] when the parts together need more actions than a
    /// transaction takes (a pack of one part always fits: see
    /// [`super::bounds::chunk_ranges`]).
    pub(super) async fn record_pack(
        &self,
        pack: &[PackPart<'_>],
        now: i64,
        policy: &Policy,
    ) -> Result<Packed, StoreError> {
        let chunks: Vec<BatchSummary> = pack
            .iter()
            .map(|p| BatchSummary {
                issues: p
                    .batch
                    .issues
                    .get(p.range.clone())
                    .unwrap_or_default()
                    .to_vec(),
                ..p.batch.clone()
            })
            .collect();
        let mut done: Vec<Option<Option<ChunkOutcome>>> = (0..pack.len()).map(|_| None).collect();
        let mut keys: Vec<Item> = Vec::new();
        let mut seen = HashSet::new();
        let mut day_keys: HashSet<(String, i64)> = HashSet::new();
        for (part, chunk) in pack.iter().zip(&chunks) {
            for delta in &chunk.issues {
                let id = issue_id(&delta.fingerprint);
                if seen.insert(id.clone()) {
                    keys.push(issue_key(&id));
                }
                // Read with the heads: a batch's issues are usually their
                // own, so routing rarely needs days of other issues.
                for day in days_read(delta, policy) {
                    if day_keys.insert((id.clone(), day)) {
                        keys.push(day_key(&id, day));
                    }
                }
            }
            if part.is_last() {
                // The earlier chunks' markers say which issues they created:
                // the last chunk queues the batch's new-issue alerts for all.
                keys.extend((0..part.chunk_no).map(|c| marker_key(&part.batch.batch_id, c)));
            }
        }
        let mut lost_race = false;
        for attempt in 0..MAX_CONTENDED_ATTEMPTS {
            // The parts not yet found recorded before.
            let open: Vec<usize> = (0..pack.len()).filter(|&i| done[i].is_none()).collect();
            if open.is_empty() {
                break;
            }
            if lost_race {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let mut items = self.read_items(&keys).await?;
            // Where the parts' issues really are (merges, aliases): usually
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
                let mut wanted: Vec<String> = Vec::new();
                for &i in &open {
                    for id in router.wanted(&chunks[i])? {
                        if !wanted.contains(&id) {
                            wanted.push(id);
                        }
                    }
                }
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
            let mut routed = Vec::with_capacity(open.len());
            for &i in &open {
                routed.push(router.route(&chunks[i])?);
            }
            let joins: Vec<_> = routed
                .iter()
                .flat_map(|r| r.joins.iter().cloned())
                .collect();
            if !joins.is_empty() {
                // Merged before the parts are recorded, then routed again
                // (see `route`): their aliases are written once they are done.
                self.join_issues(&joins).await?;
                continue;
            }
            // One alias per id, however many parts route through it.
            let mut aliases = Vec::new();
            let mut aliased = HashSet::new();
            for alias in routed.iter().flat_map(|r| &r.aliases) {
                if aliased.insert(alias.id.clone()) {
                    aliases.push(alias.clone());
                }
            }
            let mut missing = Vec::new();
            for delta in routed.iter().flat_map(|r| &r.batch.issues) {
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
            let by_sk: HashMap<(&str, &str), &Item> = items
                .iter()
                .filter_map(|i| Some(((get_s(i, "pk").ok()?, get_s(i, "sk").ok()?), i)))
                .filter(|((pk, _), _)| pk.starts_with("BATCH#"))
                .collect();
            let mut earlier_new: Vec<Vec<String>> = Vec::with_capacity(open.len());
            for &i in &open {
                let part = &pack[i];
                let mut found = Vec::new();
                if part.is_last() {
                    // In chunk order, so the digest lists issues in batch order.
                    let pk = format!("BATCH#{}", part.batch.batch_id);
                    let mut markers_found = 0;
                    for c in 0..part.chunk_no {
                        if let Some(marker) =
                            by_sk.get(&(pk.as_str(), format!("CHUNK#{c}").as_str()))
                        {
                            markers_found += 1;
                            found.extend(get_string_list(marker, "new_issues")?);
                        }
                    }
                    if markers_found < part.chunk_no {
                        // Every earlier chunk was committed (by this
                        // invocation or another) before this one is tried,
                        // and markers outlive every replay: a gap means the
                        // table was changed by hand.
                        return Err(StoreError::Corrupt(format!(
                            "batch {}: {} of its {} earlier chunk markers are missing",
                            part.batch.batch_id,
                            part.chunk_no - markers_found,
                            part.chunk_no
                        )));
                    }
                }
                earlier_new.push(found);
            }
            let parts: Vec<Part<'_>> = open
                .iter()
                .zip(&routed)
                .zip(&earlier_new)
                .map(|((&i, routed), earlier_new)| Part {
                    batch: pack[i].batch,
                    deltas: &routed.batch.issues,
                    is_last: pack[i].is_last(),
                    earlier_new,
                })
                .collect();
            let read = PackRead {
                current: &current,
                days: &days,
                aliases: aliases.len(),
            };
            let plan = plan_pack(&parts, &read, now, policy)?;
            if open.len() > 1 && plan.actions(aliases.len()) > MAX_TRANSACTION_ACTIONS {
                return Ok(Packed::TooBig);
            }
            let mut actions = Vec::with_capacity(plan.actions(aliases.len()));
            // The markers first: a cancellation reason at position `k`
            // names part `open[k]`.
            for (&i, part_plan) in open.iter().zip(&plan.parts) {
                let part = &pack[i];
                actions.push(self.put_action(
                    super::runs::with_changes(
                        marker_item(part.batch, part.chunk_no, &part_plan.marker_new, now),
                        &part_plan.new_issues,
                        &part_plan.regressions,
                    ),
                    Some("attribute_not_exists(pk)"),
                    None,
                )?);
            }
            for write in &plan.writes {
                actions.push(match write.read_ver {
                    None => self.put_action(
                        write.item.to_item(),
                        Some("attribute_not_exists(pk)"),
                        None,
                    )?,
                    Some(read) => {
                        self.put_action(write.item.to_item(), Some("#ver = :read"), Some(read))?
                    }
                });
            }
            for (id, day) in &plan.days {
                // Unconditional: the head written beside it is conditioned
                // on the version read, and every write to a day rewrites
                // its issue's head.
                actions.push(self.put_action(day.to_item(id), None, None)?);
            }
            for sample in &plan.samples {
                // Unconditional, as the days: the head records the slot.
                actions.push(self.put_action(
                    sample_item(&sample.id, sample.slot, sample.timestamp, &sample.json),
                    None,
                    None,
                )?);
            }
            for alias in &aliases {
                // Conditional, so that an issue or alias created at the same
                // id meanwhile cancels the transaction and the parts re-route.
                actions.push(self.put_action(
                    alias_item(&alias.id, &alias.target, now),
                    Some("attribute_not_exists(pk)"),
                    None,
                )?);
            }
            for alert in plan.parts.iter().flat_map(|p| &p.alerts) {
                actions.push(self.put_action(outbox_item(alert, now)?, None, None)?);
            }
            let first = &pack[open[0]];
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions))
                .client_request_token(request_token(
                    &first.batch.batch_id,
                    first.chunk_no,
                    attempt,
                ))
                .send()
                .await;
            let err = match sent {
                Ok(_) => {
                    for ((&i, part_plan), routed) in open.iter().zip(plan.parts).zip(routed) {
                        done[i] = Some(Some(ChunkOutcome {
                            alerts: part_plan.alerts.len(),
                            new_issues: part_plan.new_issues,
                            regressions: part_plan.regressions,
                            held_back: part_plan.held_back,
                            moved: routed.moved,
                        }));
                    }
                    break;
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
            // A part whose marker exists was recorded before (another
            // delivery of its batch): the others go on without it.
            let mut recorded_before = false;
            for (k, &i) in open.iter().enumerate() {
                if reasons.get(k).map(String::as_str) == Some("ConditionalCheckFailed") {
                    done[i] = Some(None);
                    recorded_before = true;
                }
            }
            if recorded_before {
                lost_race = false;
                continue;
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
            lost_race = reasons
                .iter()
                .any(|r| r == "ConditionalCheckFailed" || r == "TransactionConflict");
            if !lost_race {
                return Err(StoreError::Backend(format!(
                    "DynamoDB table {}: transaction cancelled for reasons [{}]",
                    self.table,
                    reasons.join(", ")
                )));
            }
            tracing::debug!(batch = %first.batch.batch_id, chunk = first.chunk_no, parts = open.len(), attempt, "issue changed under us; re-reading");
        }
        if done.iter().all(Option::is_some) {
            return Ok(Packed::Done(done.into_iter().flatten().collect()));
        }
        let first = &pack[0];
        Err(StoreError::Transient(format!(
            "DynamoDB table {}: issues of batch {} kept changing under concurrent writers ({MAX_CONTENDED_ATTEMPTS} attempts)",
            self.table, first.batch.batch_id
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
