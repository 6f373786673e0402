//! Merging one issue into another, and undoing it, as conditional writes.
//!
//! A merge reads both issues (heads, days, the source's samples), sums the
//! source's history into the target's days and slots in memory, and writes
//! both heads and the target's changed days and samples in one
//! transaction, each head conditional on the `ver` it was read at: a batch
//! recorded into either meanwhile cancels it, and it is tried again on what
//! that batch wrote (a batch that writes a day rewrites its head too). Once merged, the source item carries `status = merged`
//! and `merged_into`, which every later batch's routing reads along with it
//! ([`crate::store::route`]).

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::DynamoDbStore;
use super::history::History;
use super::items::{KEPT_APART_ATTRIBUTE, StoredIssue, entry_of, issue_from_item, issue_key, n, s};
use super::parts::{HistoryWrites, place_samples, sample_json, sum_facets};
use super::plan::sample_timestamp;
use super::retry::{MAX_CONTENDED_ATTEMPTS, backoff, classify};
use crate::limits::{HOURS_RETENTION_MS, MAX_MERGED_FROM_KEPT};
use crate::model::{FacetCount, Issue, Status, hour_of};
use crate::store::StoreError;
use crate::store::route::{self, not_merged_refusal};

impl DynamoDbStore {
    pub(super) async fn merge_issues(&self, into: &str, from: &str) -> Result<Issue, StoreError> {
        for attempt in 0..MAX_CONTENDED_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let target_item = self.get_item(issue_key(into), "GetItem").await?;
            let source_item = self.get_item(issue_key(from), "GetItem").await?;
            route::check_merge(
                into,
                target_item.as_ref().map(entry_of).transpose()?.as_ref(),
                from,
                source_item.as_ref().map(entry_of).transpose()?.as_ref(),
            )?;
            let (Some(target_item), Some(source_item)) = (target_item, source_item) else {
                return Err(StoreError::NotFound(into.to_string()));
            };
            let target = StoredIssue::from_item(&target_item)?;
            let source = StoredIssue::from_item(&source_item)?;
            if target.legacy || source.legacy {
                for stored in [&target, &source].into_iter().filter(|s| s.legacy) {
                    self.convert_legacy(&stored.issue.id).await?;
                }
                continue;
            }
            let target_history = self.history(into, false).await?;
            let source_history = self.history(from, true).await?;
            let merged = merged_pair(target, source, &target_history, &source_history)?;
            let mut actions = vec![
                self.put_action(
                    merged.target.to_item(),
                    Some("#ver = :read"),
                    Some(merged.target_ver),
                )?,
                self.put_action(
                    merged.source.to_item(),
                    Some("#ver = :read"),
                    Some(merged.source_ver),
                )?,
            ];
            for item in merged.writes.items(into) {
                actions.push(self.put_action(item, None, None)?);
            }
            if self
                .try_transaction(actions, "TransactWriteItems (merge)")
                .await?
            {
                return Ok(merged.target.issue);
            }
            tracing::debug!(
                into,
                from,
                attempt,
                "issues changed under the merge; re-reading"
            );
        }
        Err(StoreError::Transient(format!(
            "DynamoDB table {}: issues {into} and {from} kept changing under concurrent writers; try the merge again",
            self.table
        )))
    }

    /// Merges what each join still needs merged ([`route::Router::join_step`]),
    /// each in its own merge transaction, before the batch that found them
    /// is recorded. A join a concurrent batch did meanwhile (either way
    /// round) is walked again and found done.
    pub(super) async fn join_issues(&self, joins: &[route::Join]) -> Result<(), StoreError> {
        'joins: for join in joins {
            for attempt in 0..MAX_CONTENDED_ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                let mut router = route::Router::new();
                let (into, from) = loop {
                    match router.join_step(join)? {
                        route::JoinStep::Read(ids) => {
                            for id in ids {
                                let item = self.get_item(issue_key(&id), "GetItem").await?;
                                router.learn(&id, item.as_ref().map(entry_of).transpose()?);
                            }
                        }
                        route::JoinStep::Merge { into, from } => break (into, from),
                        route::JoinStep::Done => continue 'joins,
                    }
                };
                tracing::info!(into = %into, from = %from, "a new fingerprint joins two issues");
                match self.merge_issues(&into, &from).await {
                    Ok(_) => continue 'joins,
                    // Merged or joined by another writer since they were
                    // read: walk them again.
                    Err(StoreError::Refused(_) | StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            return Err(StoreError::Transient(format!(
                "DynamoDB table {}: issues {} and {} kept changing while a new fingerprint joined them",
                self.table, join.into, join.from
            )));
        }
        Ok(())
    }

    /// One conditional UpdateItem on the merged issue and one on its target
    /// (dropping it from `merged_from`), in a transaction; `ver` is bumped on
    /// both so that a batch decided on the old state is re-decided.
    pub(super) async fn unmerge_issue(&self, id: &str) -> Result<Issue, StoreError> {
        let Some(item) = self.get_item(issue_key(id), "GetItem").await? else {
            return Err(StoreError::NotFound(id.to_string()));
        };
        let issue = match entry_of(&item)? {
            route::Entry::Alias { .. } => return Err(StoreError::NotFound(id.to_string())),
            route::Entry::Issue { .. } => return Err(not_merged_refusal(id)),
            route::Entry::Merged { .. } => issue_from_item(&item)?,
        };
        let into = issue.merged_into.clone().unwrap_or_default();
        let source = Update::builder()
            .table_name(&self.table)
            .set_key(Some(issue_key(id)))
            .update_expression("SET #s = :open, #apart = :true REMOVE merged_into ADD #ver :one")
            .condition_expression("#s = :merged AND merged_into = :into")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#ver", "ver")
            .expression_attribute_names("#apart", KEPT_APART_ATTRIBUTE)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":open", s(Status::Open.as_str()))
            .expression_attribute_values(":merged", s(Status::Merged.as_str()))
            .expression_attribute_values(":into", s(&into))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(|e| StoreError::Backend(format!("building a DynamoDB Update: {e}")))?;
        let target = Update::builder()
            .table_name(&self.table)
            .set_key(Some(issue_key(&into)))
            .update_expression("DELETE merged_from :id ADD #ver :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#ver", "ver")
            .expression_attribute_values(":id", AttributeValue::Ss(vec![id.to_string()]))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(|e| StoreError::Backend(format!("building a DynamoDB Update: {e}")))?;
        let sent = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(source).build())
            .transact_items(TransactWriteItem::builder().update(target).build())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Issue {
                status: Status::Open,
                merged_into: None,
                ..issue
            }),
            Err(err) if err.code() == Some("TransactionCanceledException") => {
                Err(StoreError::Transient(format!(
                    "DynamoDB table {}: issue {id} changed while it was being unmerged; try again",
                    self.table
                )))
            }
            Err(err) => Err(classify("TransactWriteItems (unmerge)", &self.table, err)),
        }
    }
}

/// What a merge writes.
struct Merged {
    target_ver: u64,
    source_ver: u64,
    /// With the source's count, times and id summed in.
    target: StoredIssue,
    /// Marked merged into the target.
    source: StoredIssue,
    /// The target's days with the source's summed in, its earlier facets
    /// with the source's, and source samples that take target slots.
    writes: HistoryWrites,
}

/// The target with the source's history summed in (through the shared
/// fold's rules: [`crate::store::fold::FacetBook`], the newest samples), and the source
/// marked merged; both with `ver` bumped.
fn merged_pair(
    mut target: StoredIssue,
    mut source: StoredIssue,
    target_history: &History,
    source_history: &History,
) -> Result<Merged, StoreError> {
    let (target_ver, source_ver) = (target.ver, source.ver);
    let t = &mut target.issue;
    let from = &source.issue;
    t.count = t.count.saturating_add(from.count);
    t.first_seen = t.first_seen.min(from.first_seen);
    t.last_seen = t.last_seen.max(from.last_seen);
    let oldest = hour_of(t.last_seen).saturating_sub(HOURS_RETENTION_MS);
    let mut writes = HistoryWrites::default();
    for from_day in &source_history.days {
        let day = writes.day(&target_history.days, from_day.day);
        for hour in from_day.hour_counts().filter(|h| h.hour >= oldest) {
            day.add_hour(&hour);
        }
        let mut book = day.facet_book();
        for (name, values) in &from_day.facets {
            for (value, count) in values {
                let facet = FacetCount {
                    name: name.clone(),
                    value: value.clone(),
                    count: *count,
                };
                if let Some(counted) = book.admit(&facet) {
                    day.add_facet(&counted);
                }
            }
        }
    }
    writes.earlier_facets = source_history.earlier.as_ref().map(|from_earlier| {
        let mut earlier = target_history.earlier.clone().unwrap_or_default();
        sum_facets(&mut earlier, from_earlier);
        earlier
    });
    let mut incoming = source_history
        .samples
        .iter()
        .map(|item| {
            let json = sample_json(item)?;
            sample_timestamp(&json).map(|t| (t, json))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    writes.samples = place_samples(&mut target.slots, &mut incoming);
    if target.merged_from.len() < MAX_MERGED_FROM_KEPT
        && !target.merged_from.contains(&source.issue.id)
    {
        target.merged_from.push(source.issue.id.clone());
    }
    target.ver = target_ver.saturating_add(1);
    source.issue.status = Status::Merged;
    source.issue.merged_into = Some(target.issue.id.clone());
    source.ver = source_ver.saturating_add(1);
    Ok(Merged {
        target_ver,
        source_ver,
        target,
        source,
        writes,
    })
}
