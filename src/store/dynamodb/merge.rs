//! Merging one issue into another, and undoing it, as conditional writes.
//!
//! A merge reads both issue items, sums the history into the target in
//! memory through the shared fold ([`fold::merged_hours`],
//! [`fold::merged_samples`], [`fold::FacetBook`]) and writes both items in
//! one transaction, each conditional on the `ver` it was read at: a batch
//! recorded into either meanwhile cancels it, and it is tried again on what
//! that batch wrote. Once merged, the source item carries `status = merged`
//! and `merged_into`, which every later batch's routing reads along with it
//! ([`crate::store::route`]).

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::DynamoDbStore;
use super::items::{
    StoredIssue, add_facet, entry_of, facet_book, issue_from_item, issue_key, n, s,
};
use super::retry::{MAX_CONTENDED_ATTEMPTS, backoff, classify};
use crate::limits::MAX_MERGED_FROM_KEPT;
use crate::model::{FacetCount, Issue, Status};
use crate::store::route::{self, not_merged_refusal};
use crate::store::{StoreError, fold};

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
            let (merged, marked) = merged_pair(target.clone(), source.clone())?;
            let actions = vec![
                TransactWriteItem::builder()
                    .put(self.put(merged.to_item(), Some("#ver = :read"), Some(target.ver))?)
                    .build(),
                TransactWriteItem::builder()
                    .put(self.put(marked.to_item(), Some("#ver = :read"), Some(source.ver))?)
                    .build(),
            ];
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions))
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(merged.issue),
                Err(err) => match err.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(_)) => {
                        tracing::debug!(
                            into,
                            from,
                            attempt,
                            "issues changed under the merge; re-reading"
                        );
                    }
                    _ => return Err(classify("TransactWriteItems (merge)", &self.table, err)),
                },
            }
        }
        Err(StoreError::Transient(format!(
            "DynamoDB table {}: issues {into} and {from} kept changing under concurrent writers; try the merge again",
            self.table
        )))
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
            .update_expression("SET #s = :open REMOVE merged_into ADD #ver :one")
            .condition_expression("#s = :merged AND merged_into = :into")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#ver", "ver")
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

/// The target with the source's history summed in, and the source marked
/// merged; both with `ver` bumped.
fn merged_pair(
    mut target: StoredIssue,
    mut source: StoredIssue,
) -> Result<(StoredIssue, StoredIssue), StoreError> {
    let t = &mut target.issue;
    let from = &source.issue;
    t.count = t.count.saturating_add(from.count);
    t.first_seen = t.first_seen.min(from.first_seen);
    t.last_seen = t.last_seen.max(from.last_seen);
    target.hours = fold::merged_hours(&target.hours, &source.hours, t.last_seen);
    let mut book = facet_book(&target.facets);
    for (name, values) in &source.facets {
        for (value, count) in values {
            let facet = FacetCount {
                name: name.clone(),
                value: value.clone(),
                count: *count,
            };
            if let Some(counted) = book.admit(&facet) {
                add_facet(&mut target.facets, &counted);
            }
        }
    }
    let stamped = target
        .samples
        .iter()
        .chain(&source.samples)
        .map(|json| super::plan::sample_timestamp(json).map(|t| (t, json.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    target.samples = fold::merged_samples(stamped);
    if target.merged_from.len() < MAX_MERGED_FROM_KEPT
        && !target.merged_from.contains(&source.issue.id)
    {
        target.merged_from.push(source.issue.id.clone());
    }
    target.ver = target.ver.saturating_add(1);
    source.issue.status = Status::Merged;
    source.issue.merged_into = Some(target.issue.id.clone());
    source.ver = source.ver.saturating_add(1);
    Ok((target, source))
}
