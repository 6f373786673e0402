//! Held tails in the DynamoDB table ([`crate::store::pending`]).
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | held tail | `HELD#<shard>` | `<stream key>#<left_by>` | `log_group log_stream left_by events held_at expires_at`, and while taken `taken_by taken_at` |
//! | left mark | `HELD#LEFT#<left_by>` | `LEFT` | `expires_at` |
//!
//! The stream key is a hash of the log group and stream; its first hex
//! digit is the shard, so a batch reads its stream's tails with one Query
//! of one of 16 partitions (1 read unit when it holds nothing), and the
//! tick reads every live tail with 16 Queries. Only live tails are in those
//! partitions: a tail is deleted when released, and the left mark, its own
//! item, is what stops a redelivered batch from leaving it again.
//!
//! Costs: a batch that holds nothing and takes nothing costs that one
//! Query and no write. Taking is a transaction (the Update of the tail and
//! a ConditionCheck that the taker's batch marker does not exist); leaving
//! is a transaction of the tail's Put and its left mark's; releasing is a
//! conditional DeleteItem.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};

use super::items::{Item, get_n, get_opt_n, get_s, marker_key, n, s};
use super::requests::SortKeys;
use super::retry::classify;
use super::{DynamoDbStore, TTL_ATTRIBUTE};
use crate::store::StoreError;
use crate::store::pending::{
    HELD_RETENTION_MS, HeldTails, Tail, TakeRule, decode_events, encode_events, stream_key,
};

const SHARDS: &str = "0123456789abcdef";

fn shard_pk(shard: char) -> String {
    format!("HELD#{shard}")
}

fn tail_key(tail: &Tail) -> Item {
    let stream = stream_key(&tail.log_group, &tail.log_stream);
    let shard = stream.chars().next().unwrap_or('0');
    Item::from([
        ("pk".to_string(), s(shard_pk(shard))),
        ("sk".to_string(), s(format!("{stream}#{}", tail.left_by))),
    ])
}

fn left_key(left_by: &str) -> Item {
    Item::from([
        ("pk".to_string(), s(format!("HELD#LEFT#{left_by}"))),
        ("sk".to_string(), s("LEFT")),
    ])
}

fn expires_at(held_at: i64) -> AttributeValue {
    n(held_at.saturating_add(HELD_RETENTION_MS) / 1000)
}

fn tail_from_item(item: &Item) -> Result<Tail, StoreError> {
    Ok(Tail {
        log_group: get_s(item, "log_group")?.to_string(),
        log_stream: get_s(item, "log_stream")?.to_string(),
        left_by: get_s(item, "left_by")?.to_string(),
        events: decode_events(get_s(item, "events")?)?,
        held_at: get_n(item, "held_at")?,
        taken_by: match item.get("taken_by") {
            Some(AttributeValue::S(by)) => Some(by.clone()),
            _ => None,
        },
        taken_at: get_opt_n(item, "taken_at")?,
    })
}

impl DynamoDbStore {
    fn unrecorded(&self, batch_id: &str) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(marker_key(batch_id, 0)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Backend(format!("building a ConditionCheck: {e}")))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    async fn query_held(
        &self,
        pk: &str,
        prefix: Option<&str>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let keys = match prefix {
            Some(prefix) => SortKeys::Prefix(prefix),
            None => SortKeys::All,
        };
        self.partition_where(pk, keys, consistent, "Query (held tails)")
            .await
    }
}

#[async_trait]
impl HeldTails for DynamoDbStore {
    async fn tails(&self, log_group: &str, log_stream: &str) -> Result<Vec<Tail>, StoreError> {
        let stream = stream_key(log_group, log_stream);
        let shard = stream.chars().next().unwrap_or('0');
        self.query_held(&shard_pk(shard), Some(&format!("{stream}#")), true)
            .await?
            .iter()
            .map(tail_from_item)
            .collect()
    }

    async fn take(&self, tail: &Tail, taker: &str, now: i64) -> Result<bool, StoreError> {
        let rule = tail.take_rule(taker, now);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(tail_key(tail)))
            .update_expression("SET taken_by = :me, taken_at = :now")
            .expression_attribute_values(":me", s(taker))
            .expression_attribute_values(":now", n(now));
        let (update, others) = match &rule {
            TakeRule::Refused => return Ok(false),
            TakeRule::Renew { at } => (
                update
                    .condition_expression("taken_by = :me AND taken_at = :at")
                    .expression_attribute_values(":at", n(at)),
                Vec::new(),
            ),
            TakeRule::Free => (
                update.condition_expression(
                    "attribute_exists(pk) AND attribute_not_exists(taken_by)",
                ),
                vec![self.unrecorded(taker)?],
            ),
            TakeRule::Abandoned { by, at } => (
                update
                    .condition_expression("taken_by = :by AND taken_at = :at")
                    .expression_attribute_values(":by", s(by))
                    .expression_attribute_values(":at", n(at)),
                vec![self.unrecorded(taker)?, self.unrecorded(by)?],
            ),
        };
        let update = update
            .build()
            .map_err(|e| StoreError::Backend(format!("building a DynamoDB Update: {e}")))?;
        let mut actions = vec![TransactWriteItem::builder().update(update).build()];
        actions.extend(others);
        self.try_transaction(actions, "TransactWriteItems (take a held tail)")
            .await
    }

    async fn leave(&self, tail: &Tail) -> Result<bool, StoreError> {
        let mut item = tail_key(tail);
        item.extend([
            ("log_group".to_string(), s(&tail.log_group)),
            ("log_stream".to_string(), s(&tail.log_stream)),
            ("left_by".to_string(), s(&tail.left_by)),
            ("events".to_string(), s(encode_events(&tail.events))),
            ("held_at".to_string(), n(tail.held_at)),
            (TTL_ATTRIBUTE.to_string(), expires_at(tail.held_at)),
        ]);
        let mut mark = left_key(&tail.left_by);
        mark.insert(TTL_ATTRIBUTE.to_string(), expires_at(tail.held_at));
        // A batch leaves its tail before it is recorded: once recorded,
        // whatever it left was decided (a redelivery judged without the
        // tail the first delivery carried may end differently).
        let mut actions = vec![self.unrecorded(&tail.left_by)?];
        for item in [item, mark] {
            actions.push(self.put_action(item, Some("attribute_not_exists(pk)"), None)?);
        }
        self.try_transaction(actions, "TransactWriteItems (leave a held tail)")
            .await
    }

    async fn release(&self, tail: &Tail, taker: &str) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(tail_key(tail)))
            .condition_expression("taken_by = :me")
            .expression_attribute_values(":me", s(taker))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(classify("DeleteItem (release a held tail)", &self.table, e)),
        }
    }

    async fn stale_tails(&self, held_until: i64, limit: usize) -> Result<Vec<Tail>, StoreError> {
        let mut tails = Vec::new();
        for shard in SHARDS.chars() {
            // Eventually consistent: half the units, and taking a tail is
            // conditional on it being as read anyway.
            for item in self.query_held(&shard_pk(shard), None, false).await? {
                let tail = tail_from_item(&item)?;
                if tail.held_at <= held_until {
                    tails.push(tail);
                }
            }
        }
        tails.sort_by_key(|t| t.held_at);
        tails.truncate(limit);
        Ok(tails)
    }
}
