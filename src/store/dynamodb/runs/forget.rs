//! Forgetting a run: every item that names it deleted by key, so that a
//! run whose item no longer parses can be removed too.
//!
//! What is read to find the keys, and why:
//!
//! - the run item, raw: whether it is there and live, whether it settled,
//!   its `ver` (the final delete is conditioned on it) and its `at` (where
//!   its time-index entry is), each read on its own so that damage to
//!   another attribute does not matter;
//! - the run's link partition `RUN#<id>`: its links, and the issues whose
//!   reverse links name the run;
//! - each of those issues' `ISSUERUNS#<issue>` partition, keys only: a
//!   reverse link is keyed by the time the run was indexed at when the
//!   link was first written, which moves when the run ends or settles, so
//!   the run's current `at` does not find them all. This reads every link
//!   to a run the issue has (about 70 bytes each, kept for the runs'
//!   retention), one Query per issue, [`CONCURRENT_READS`] at a time;
//! - the `RUNS#AT` partition, keys only, only when the run item does not
//!   say where its entry is (`at` missing or damaged): one Query of every
//!   run kept, the entry found by the id its sort key ends with.
//!
//! The run item is deleted last: a forget that dies part way leaves the
//! run findable, and running it again finishes. Parts (`PART#<part key>`)
//! and runs folded into this one are left to expire with their TTL: they
//! are keyed by the run's key, which a damaged item may not give, and
//! nothing lists or settles them.

use super::*;
use crate::store::Forgotten;
use crate::store::dynamodb::retry::CONCURRENT_READS;

impl DynamoDbStore {
    /// Whether a live run item is stored under `id`, its attributes other
    /// than `merged_into` unread.
    pub(in crate::store::dynamodb) async fn run_exists(
        &self,
        id: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .get_item(run_item_key(id), "GetItem (run)")
            .await?
            .is_some_and(|item| !folded(&item)))
    }

    /// Forgets run `id` ([`crate::store::Store::forget_run`]).
    pub(in crate::store::dynamodb) async fn forget(
        &self,
        id: &str,
    ) -> Result<Option<Forgotten>, StoreError> {
        let Some(item) = self.get_item(run_item_key(id), "GetItem (run)").await? else {
            return Ok(None);
        };
        if folded(&item) {
            return Ok(None);
        }
        let settled = !matches!(item.get("settled_at"), None | Some(AttributeValue::Null(_)));
        let links: Vec<Item> = self
            .partition(&format!("RUN#{id}"), "Query (a run's issues)")
            .await?
            .iter()
            .map(item_key)
            .collect::<Result<_, _>>()?;
        let issues: Vec<String> = links
            .iter()
            .filter_map(|k| get_s(k, "sk").ok()?.strip_prefix(LINK_PREFIX))
            .map(str::to_string)
            .collect();
        let mut doomed = links.clone();
        doomed.extend(self.reverse_links(&issues, id).await?);
        match get_opt_n::<i64>(&item, "at") {
            Ok(Some(at)) => doomed.push(index_key(at, id)),
            Ok(None) | Err(_) => doomed.extend(
                self.keys_naming(BY_TIME_PK, id, "Query (runs by time)")
                    .await?,
            ),
        }
        doomed.push(unsettled_key(id));
        self.delete_keys(doomed).await?;
        self.delete_run_item(id, get_n::<u64>(&item, "ver").ok())
            .await?;
        Ok(Some(Forgotten {
            run: id.to_string(),
            links: links.len(),
            settled,
        }))
    }

    /// The keys of the reverse links of `issues` that name run `id`.
    async fn reverse_links(&self, issues: &[String], id: &str) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for wave in issues.chunks(CONCURRENT_READS) {
            let mut reads = tokio::task::JoinSet::new();
            for issue in wave {
                let store = self.clone();
                let (pk, id) = (format!("ISSUERUNS#{issue}"), id.to_string());
                reads.spawn(
                    async move { store.keys_naming(&pk, &id, "Query (an issue's runs)").await },
                );
            }
            while let Some(read) = reads.join_next().await {
                found.extend(
                    read.map_err(|e| {
                        StoreError::Backend(format!("reading an issue's runs: {e}"))
                    })??,
                );
            }
        }
        Ok(found)
    }

    /// The keys of the items of partition `pk` whose sort key names run
    /// `id` (`<at>#<id>`, or `<id>` as written before runs were indexed).
    /// DynamoDB filters on no key attribute, so the keys of the whole
    /// partition are read.
    async fn keys_naming(&self, pk: &str, id: &str, what: &str) -> Result<Vec<Item>, StoreError> {
        self.partition_projected(pk, "pk, sk", what)
            .await?
            .iter()
            .filter(|entry| get_s(entry, "sk").is_ok_and(|sk| run_of(sk) == id))
            .map(item_key)
            .collect()
    }

    /// Deletes the items at `keys`, [`MAX_ACTIONS`] to a transaction
    /// (the function's role grants transactions, not BatchWriteItem);
    /// deleting an item that is not there is no error.
    async fn delete_keys(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        let table = self.table.as_str();
        for group in keys.chunks(MAX_ACTIONS) {
            let mut attempt = 0;
            loop {
                let mut actions = Actions(Vec::new());
                for key in group {
                    actions.push_delete(table, key.clone())?;
                }
                let what = "TransactWriteItems (forget a run)";
                if self.try_transaction(actions.0, what).await? {
                    break;
                }
                // A writer of one of the items got there at the same moment.
                attempt += 1;
                if attempt >= MAX_CONTENDED_ATTEMPTS {
                    return Err(StoreError::Transient(format!(
                        "DynamoDB table {table}: the run's items kept changing while they were being deleted"
                    )));
                }
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
        Ok(())
    }

    /// Deletes the run item, on the condition that it is still at the
    /// `ver` read (when that is readable): a batch or a settlement that
    /// wrote it meanwhile may have written links or an index entry after
    /// they were deleted, and forgetting again removes those.
    async fn delete_run_item(&self, id: &str, ver: Option<u64>) -> Result<(), StoreError> {
        let mut delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(run_item_key(id)));
        delete = match ver {
            Some(ver) => delete
                .condition_expression("#ver = :read")
                .expression_attribute_names("#ver", "ver")
                .expression_attribute_values(":read", n(ver)),
            None => delete,
        };
        match delete.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Refused(format!(
                    "run {id} was written while it was being forgotten (a batch of its logs, or its settlement); run `faultline runs forget {id}` again"
                )))
            }
            Err(e) => Err(classify("DeleteItem (run)", &self.table, e)),
        }
    }
}

/// An item's key.
fn item_key(item: &Item) -> Result<Item, StoreError> {
    Ok(key(
        get_s(item, "pk")?.to_string(),
        get_s(item, "sk")?.to_string(),
    ))
}
