//! Creating the table: its keys, the listing index and TTL.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::retry::classify;
use super::{DynamoDbStore, LISTING_INDEX, TTL_ATTRIBUTE};
use crate::model::{StorePart, StoreStats};
use crate::store::StoreError;

impl DynamoDbStore {
    /// Creates the table (on-demand, with the status index) unless it exists,
    /// waits for it to become active and enables TTL on `expires_at`.
    /// A table it creates records the layout it is in; an existing one is
    /// checked not to be newer than this code.
    pub(super) async fn ensure_table(&self) -> Result<(), StoreError> {
        let created = self.describe_status().await?.is_none();
        if created {
            self.create_table().await?;
        }
        for attempt in 0..120u32 {
            match self.describe_status().await? {
                Some(TableStatus::Active) => {
                    self.enable_ttl().await?;
                    return if created {
                        self.record_layout().await
                    } else {
                        self.check_layout().await
                    };
                }
                _ if attempt == 119 => break,
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        Err(StoreError::Backend(format!(
            "DynamoDB table {} did not become ACTIVE within a minute",
            self.table
        )))
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

    /// The table's and its index's item counts and sizes, as DescribeTable
    /// reports them: DynamoDB refreshes them about every six hours, and
    /// counting item by item would read the whole table.
    pub(super) async fn table_stats(&self) -> Result<StoreStats, StoreError> {
        let out = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| classify("DescribeTable", &self.table, e))?;
        let Some(table) = out.table() else {
            return Err(StoreError::Backend(format!(
                "DynamoDB table {}: DescribeTable described nothing",
                self.table
            )));
        };
        let count = |n: Option<i64>| n.unwrap_or(0).max(0) as u64;
        let mut parts = vec![StorePart {
            name: self.table.clone(),
            what: "issues, aliases, runs, batch ids and queued alerts".into(),
            rows: count(table.item_count()),
            bytes: table.table_size_bytes().map(|b| b.max(0) as u64),
        }];
        for index in table.global_secondary_indexes() {
            parts.push(StorePart {
                name: index.index_name().unwrap_or_default().to_string(),
                what: if index.index_name() == Some(LISTING_INDEX) {
                    "the listing index (issue ids by status)".into()
                } else {
                    "the listing index of older tables (drop it: README)".into()
                },
                rows: count(index.item_count()),
                bytes: index.index_size_bytes().map(|b| b.max(0) as u64),
            });
        }
        let total = parts.iter().filter_map(|p| p.bytes).sum();
        Ok(StoreStats {
            parts,
            total_bytes: Some(total),
            note: Some(
                "DynamoDB refreshes these figures about every six hours; items expired by TTL are counted until they are deleted".into(),
            ),
        })
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
            .index_name(LISTING_INDEX)
            .key_schema(key("status", KeyType::Hash).map_err(build)?)
            .key_schema(key("issue_id", KeyType::Range).map_err(build)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
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
            .attribute_definitions(attr("issue_id", ScalarAttributeType::S).map_err(build)?)
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

/// DynamoDB's rule: 3 to 255 of `a-z A-Z 0-9 _ - .`.
pub(super) fn validate_table_name(table: &str) -> Result<(), StoreError> {
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
