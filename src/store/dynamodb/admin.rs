//! Creating the table: its keys, the listing index and TTL.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    TableDescription, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::retry::classify;
use super::{DynamoDbStore, LISTING_INDEX, STATUS_INDEX, TTL_ATTRIBUTE};
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
        let table = self.describe().await?;
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
            .set_key_schema(Some(listing_key_schema().map_err(build)?))
            .projection(listing_projection())
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

/// The listing index's keys: `status`, then `issue_id`, which a batch never
/// changes (so it never writes the index).
fn listing_key_schema() -> Result<Vec<KeySchemaElement>, aws_sdk_dynamodb::error::BuildError> {
    Ok(vec![
        KeySchemaElement::builder()
            .attribute_name("status")
            .key_type(KeyType::Hash)
            .build()?,
        KeySchemaElement::builder()
            .attribute_name("issue_id")
            .key_type(KeyType::Range)
            .build()?,
    ])
}

fn listing_projection() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::KeysOnly)
        .build()
}

/// How long `migrate --indexes` waits for a new index to be built before
/// leaving the rest to a later run.
const INDEX_BUILD_WAIT: Duration = Duration::from_secs(600);

impl DynamoDbStore {
    /// The table as DescribeTable describes it.
    async fn describe(&self) -> Result<TableDescription, StoreError> {
        let out = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| classify("DescribeTable", &self.table, e))?;
        out.table().cloned().ok_or_else(|| {
            StoreError::Backend(format!(
                "DynamoDB table {}: DescribeTable described nothing",
                self.table
            ))
        })
    }

    /// The table's indexes and whether each is ACTIVE.
    async fn indexes(&self) -> Result<Vec<(String, bool)>, StoreError> {
        Ok(self
            .describe()
            .await?
            .global_secondary_indexes()
            .iter()
            .map(|index| {
                (
                    index.index_name().unwrap_or_default().to_string(),
                    index.index_status() == Some(&IndexStatus::Active),
                )
            })
            .collect())
    }

    /// Replaces the older listing index ([`super::STATUS_INDEX`], which
    /// every batch wrote) with [`LISTING_INDEX`], when `swap` says the
    /// table is the store's to change; otherwise says what to do. One index
    /// change at a time, as DynamoDB allows: create, wait until it is
    /// built, then drop the old one.
    pub(super) async fn listing_index_upgrade(
        &self,
        swap: bool,
    ) -> Result<Vec<String>, StoreError> {
        let mut notes = Vec::new();
        let indexes = self.indexes().await?;
        let has = |name: &str| indexes.iter().any(|(n, _)| n == name);
        if !has(STATUS_INDEX) {
            return Ok(notes);
        }
        if !swap {
            notes.push(format!(
                "the table still has the listing index {STATUS_INDEX}, which costs 2 write units \
                 on every batch: a SAM stack drops it by deploying with KeepLegacyListingIndex=true, \
                 then false (README); a table no stack manages: faultline store migrate --indexes"
            ));
            return Ok(notes);
        }
        let build = |e: aws_sdk_dynamodb::error::BuildError| {
            StoreError::Backend(format!("building UpdateTable: {e}"))
        };
        if !has(LISTING_INDEX) {
            let create = CreateGlobalSecondaryIndexAction::builder()
                .index_name(LISTING_INDEX)
                .set_key_schema(Some(listing_key_schema().map_err(build)?))
                .projection(listing_projection())
                .build()
                .map_err(build)?;
            let attr = |name: &str| {
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)
            };
            self.client
                .update_table()
                .table_name(&self.table)
                .attribute_definitions(attr("status")?)
                .attribute_definitions(attr("issue_id")?)
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder().create(create).build(),
                )
                .send()
                .await
                .map_err(|e| classify("UpdateTable (create index)", &self.table, e))?;
            notes.push(format!("created index {LISTING_INDEX}"));
        }
        let started = std::time::Instant::now();
        loop {
            let active = self
                .indexes()
                .await?
                .iter()
                .any(|(name, active)| name == LISTING_INDEX && *active);
            if active {
                break;
            }
            if started.elapsed() > INDEX_BUILD_WAIT {
                notes.push(format!(
                    "{LISTING_INDEX} is still being built; run faultline store migrate --indexes \
                     again later to drop {STATUS_INDEX} (listings use it until then)"
                ));
                return Ok(notes);
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        let delete = DeleteGlobalSecondaryIndexAction::builder()
            .index_name(STATUS_INDEX)
            .build()
            .map_err(build)?;
        self.client
            .update_table()
            .table_name(&self.table)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().delete(delete).build(),
            )
            .send()
            .await
            .map_err(|e| classify("UpdateTable (drop index)", &self.table, e))?;
        notes.push(format!("dropped index {STATUS_INDEX}"));
        Ok(notes)
    }
}
