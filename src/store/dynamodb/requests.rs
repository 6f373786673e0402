//! The requests the rest of the store is built on: reads by key and by
//! partition, conditional Puts, and transactions that tell a lost race
//! (read again) from overload (fail, so the caller is retried).

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, TransactWriteItem};

use super::DynamoDbStore;
use super::items::{Item, StoredIssue, is_alias, issue_key, n, s};
use super::retry::{CONCURRENT_READS, KEYS_PER_READ, TRANSIENT_REASONS, backoff, classify};
use crate::store::StoreError;

/// Which items of a partition a Query returns, by sort key.
#[derive(Debug, Clone, Copy)]
pub(super) enum SortKeys<'a> {
    All,
    /// Those that sort before this key.
    Before(&'a str),
    /// Those that start with this.
    Prefix(&'a str),
}

/// How a transaction that DynamoDB took ended.
pub(super) enum Transacted {
    Committed,
    /// Cancelled, with each action's reason in order (`None` for an action
    /// that had none).
    Cancelled(Vec<String>),
}

impl DynamoDbStore {
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
        match self.transact(actions, None, what).await? {
            Transacted::Committed => Ok(true),
            Transacted::Cancelled(reasons) => {
                self.lost_race(&reasons, what)?;
                Ok(false)
            }
        }
    }

    /// Sends a transaction, with `token` as its `ClientRequestToken` (so
    /// the SDK's resend of it is answered with the first outcome); a
    /// cancellation comes back with its reasons, anything else that failed
    /// as the store's error.
    pub(super) async fn transact(
        &self,
        actions: Vec<TransactWriteItem>,
        token: Option<String>,
        what: &str,
    ) -> Result<Transacted, StoreError> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .set_client_request_token(token)
            .send()
            .await;
        let err = match sent {
            Ok(_) => return Ok(Transacted::Committed),
            Err(err) => err,
        };
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                Ok(Transacted::Cancelled(
                    c.cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_string())
                        .collect(),
                ))
            }
            _ => Err(classify(what, &self.table, err)),
        }
    }

    /// What a cancellation's reasons say: `Ok` when another writer got
    /// there first (read again); overload is a transient error, anything
    /// else a backend error.
    pub(super) fn lost_race(&self, reasons: &[String], what: &str) -> Result<(), StoreError> {
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
            return Ok(());
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
    pub(super) async fn read_items(&self, keys: &[Item]) -> Result<Vec<Item>, StoreError> {
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
        self.query_pages(pk, keys, consistent, None, what).await
    }

    /// The attributes `projection` names of every item of a partition,
    /// strongly consistent, page by page. DynamoDB reads (and bills, and
    /// pages by 1 MB) whole items all the same: this saves the transfer and
    /// the decoding of what is left out.
    pub(super) async fn partition_projected(
        &self,
        pk: &str,
        projection: &str,
        what: &str,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_pages(pk, SortKeys::All, true, Some(projection), what)
            .await
    }

    async fn query_pages(
        &self,
        pk: &str,
        keys: SortKeys<'_>,
        consistent: bool,
        projection: Option<&str>,
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
                .set_projection_expression(projection.map(str::to_string))
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
