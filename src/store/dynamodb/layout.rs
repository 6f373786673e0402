//! The table's layout version, and converting issues written by the layout
//! before it.
//!
//! Layout 1 kept an issue's samples, hours and facets in its one item,
//! which every batch rewrote whole: a month-old hot issue weighed 26 KB and
//! cost 52 write units a batch. Layout 2 keeps them in small items of their
//! own ([`super::parts`]). An issue of layout 1 is converted when a batch
//! or a merge first touches it, or by `faultline store migrate`, which
//! converts every issue and then records the layout in the table's
//! `META`/`LAYOUT` item. The conversion is one transaction per issue,
//! conditional on the version it read, so it is safe to retry and to run
//! beside batches: a batch that wrote the issue meanwhile cancels it, and
//! it converts again from what that batch wrote. A function of the older
//! version still running during a deploy may write the issue back with
//! layout-1 attributes (counting only its own batch in them); converting
//! again adds those to the days and slots, so nothing is counted twice or
//! lost.

use super::DynamoDbStore;
use super::history::History;
use super::items::{Item, StoredIssue, decode_hours, get_opt_n, get_s, get_string_list, n, s};
use super::parts::{HistoryWrites, day_of, facets_in, place_samples, sum_facets};
use super::plan::sample_timestamp;
use super::retry::{MAX_CONTENDED_ATTEMPTS, backoff, classify};
use crate::limits::HOURS_RETENTION_MS;
use crate::model::{HourCount, hour_of};
use crate::store::{Migrated, StoreError};

/// The layout this code writes. Layout 3 keeps issues as layout 2 does
/// (nothing to convert) and writes a batch's runs in the batch's own
/// transaction: its chunk marker says `runs`, and a run item holds a
/// `tally` of counts its issue links do not have yet. Code of layout 2
/// would count a replayed batch's runs again and drop the tallies of the
/// runs it rewrites, so it must not write such a table (the `written_by` mark).
/// Layout 4 stores a day's facets deflated once they are long
/// ([`super::parts`]); code of layout 3 would read such a day as having
/// none and drop them when it rewrites the day. Nothing to convert: days
/// written before are read as they are, and packed when next written.
/// Layout 5 keys queued alerts by their age, then id (outbox.rs): code of
/// layout 4 would lease such an alert, send it, delete only its bare id
/// and send it again every lease, so the mark keeps it off too. Nothing is
/// converted: alerts queued under their bare id are still claimed and
/// deleted.
pub const LAYOUT: u32 = 5;

const META_PK: &str = "META";
const LAYOUT_SK: &str = "LAYOUT";

/// The layout item's attribute naming the newest layout any faultline has
/// opened the table with. `layout` says more (every issue is in it) and is
/// recorded only once that holds; this one is what keeps an older
/// faultline off a table a newer one writes, tables made by CloudFormation
/// (which record no `layout`) included.
const WRITTEN_BY: &str = "written_by";

fn layout_key() -> Item {
    Item::from([
        ("pk".to_string(), s(META_PK)),
        ("sk".to_string(), s(LAYOUT_SK)),
    ])
}

impl DynamoDbStore {
    /// The layout the table records; 1 when it records none (tables
    /// created before the marker existed, or by CloudFormation).
    pub(super) async fn recorded_layout(&self) -> Result<u32, StoreError> {
        match self.get_item(layout_key(), "GetItem (layout)").await? {
            None => Ok(1),
            Some(item) => Ok(get_opt_n(&item, "layout")?.unwrap_or(1)),
        }
    }

    /// Refuses a table a newer faultline laid out or wrote: this code would
    /// misread it, or write items that code does not expect.
    pub(super) async fn check_layout(&self) -> Result<(), StoreError> {
        let item = self.get_item(layout_key(), "GetItem (layout)").await?;
        self.refuse_newer(item.as_ref()).map(|_| ())
    }

    /// The newest layout `item` (the layout item, if any) names, or the
    /// refusal of a table newer than this code.
    fn refuse_newer(&self, item: Option<&Item>) -> Result<u32, StoreError> {
        let (layout, written_by) = match item {
            None => (1, 0),
            Some(item) => (
                get_opt_n(item, "layout")?.unwrap_or(1),
                get_opt_n(item, WRITTEN_BY)?.unwrap_or(0),
            ),
        };
        let newest = layout.max(written_by);
        if newest > LAYOUT {
            return Err(StoreError::Schema(format!(
                "DynamoDB table {} has layout {newest}, written by a newer faultline; this one \
                 knows layouts up to {LAYOUT}: upgrade faultline (the function and the CLI) to \
                 use it",
                self.table
            )));
        }
        Ok(written_by)
    }

    /// What opening the store checks, once per process (the Lambda's cold
    /// start, each CLI command): a table a newer faultline wrote is
    /// refused before anything reads or writes it, and the table is marked
    /// as written by this layout so that an older faultline refuses it from
    /// now on. A table not there yet passes (`faultline store init` makes
    /// it). The mark is best effort: a reader without write access still
    /// reads. A table that cannot be reached passes too (see below).
    pub(crate) async fn check_on_open(&self) -> Result<(), StoreError> {
        let item = match self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(layout_key()))
            .consistent_read(true)
            .send()
            .await
        {
            Ok(out) => out.item().cloned(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(());
            }
            Err(e) => {
                let e = classify("GetItem (layout)", &self.table, e);
                if !e.is_transient() {
                    return Err(e);
                }
                // The store cannot be reached now: what the caller does next
                // fails with this same error, where the Lambda counts it as
                // the invocation's (and retries), rather than failing the
                // function's start. The check comes again with the next one.
                tracing::warn!(table = %self.table, error = %e, "the table's layout could not be read");
                return Ok(());
            }
        };
        if self.refuse_newer(item.as_ref())? >= LAYOUT {
            return Ok(());
        }
        let marked = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(layout_key()))
            .update_expression("SET #w = :l")
            .condition_expression("attribute_not_exists(#w) OR #w < :l")
            .expression_attribute_names("#w", WRITTEN_BY)
            .expression_attribute_values(":l", n(LAYOUT))
            .send()
            .await;
        if let Err(e) = marked {
            tracing::debug!(table = %self.table, error = %classify("UpdateItem (layout)", &self.table, e), "the table was not marked with this faultline's layout");
        }
        Ok(())
    }

    /// Records that every issue is in this layout (only once they are: a
    /// table created empty by this code, or after `migrate`).
    pub(super) async fn record_layout(&self) -> Result<(), StoreError> {
        let mut item = layout_key();
        item.insert("layout".into(), n(LAYOUT));
        item.insert(WRITTEN_BY.into(), n(LAYOUT));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #l <= :l")
            .expression_attribute_names("#l", "layout")
            .expression_attribute_values(":l", n(LAYOUT))
            .send()
            .await
            .map_err(|e| classify("PutItem (layout)", &self.table, e))?;
        Ok(())
    }

    /// Converts every issue of the older layout, then records the layout.
    pub(super) async fn migrate_table(&self) -> Result<Migrated, StoreError> {
        self.check_layout().await?;
        let from = self.recorded_layout().await?;
        let mut converted = 0;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(
                    "sk = :issue AND (attribute_exists(samples) OR attribute_exists(hours) \
                     OR attribute_exists(facets))",
                )
                .expression_attribute_values(":issue", s(super::items::ISSUE_SK))
                .projection_expression("issue_id")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Scan (migrate)", &self.table, e))?;
            for item in out.items() {
                self.convert_legacy(get_s(item, "issue_id")?).await?;
                converted += 1;
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        self.record_layout().await?;
        Ok(Migrated {
            from,
            to: LAYOUT,
            converted: Some(converted),
            notes: Vec::new(),
        })
    }

    /// Converts issue `id` from the older layout, if it still is in it.
    pub(super) async fn convert_legacy(&self, id: &str) -> Result<(), StoreError> {
        for attempt in 0..MAX_CONTENDED_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let history = self.history(id, true).await?;
            let Some(head) = &history.head else {
                return Ok(());
            };
            let stored = StoredIssue::from_item(head)?;
            if !stored.legacy {
                return Ok(());
            }
            let conversion = convert(stored, head, &history)?;
            let mut actions = vec![self.put_action(
                conversion.head.to_item(),
                Some("#ver = :read"),
                Some(conversion.read_ver),
            )?];
            for item in conversion.writes.items(id) {
                actions.push(self.put_action(item, None, None)?);
            }
            if self
                .try_transaction(actions, "TransactWriteItems (convert)")
                .await?
            {
                return Ok(());
            }
            tracing::debug!(id, attempt, "issue changed while converting; re-reading");
        }
        Err(StoreError::Transient(format!(
            "DynamoDB table {}: issue {id} kept changing while it was converted to layout {LAYOUT}",
            self.table
        )))
    }
}

/// What converting one issue writes.
#[derive(Debug)]
pub(super) struct Conversion {
    pub read_ver: u64,
    pub head: StoredIssue,
    pub writes: HistoryWrites,
}

/// The pure half of a conversion: the head without the older attributes,
/// their hours added to the days, their facets to the earlier facets, their
/// samples into slots ([`place_samples`]).
pub(super) fn convert(
    mut head: StoredIssue,
    item: &Item,
    history: &History,
) -> Result<Conversion, StoreError> {
    let read_ver = head.ver;
    let oldest = hour_of(head.issue.last_seen).saturating_sub(HOURS_RETENTION_MS);
    let mut writes = HistoryWrites::default();
    let hours: Vec<HourCount> = decode_hours(item)?;
    for hour in hours.iter().filter(|h| h.hour >= oldest) {
        writes.day(&history.days, day_of(hour.hour)).add_hour(hour);
    }
    let facets = facets_in(item)?;
    writes.earlier_facets = if facets.is_empty() {
        None
    } else {
        // What an earlier conversion kept, plus what the head counted
        // since (an older function still running during a deploy).
        let mut earlier = history.earlier.clone().unwrap_or_default();
        sum_facets(&mut earlier, &facets);
        Some(earlier)
    };
    let mut kept: Vec<(i64, String)> = get_string_list(item, "samples")?
        .into_iter()
        .map(|json| sample_timestamp(&json).map(|t| (t, json)))
        .collect::<Result<_, _>>()?;
    writes.samples = place_samples(&mut head.slots, &mut kept);
    head.legacy = false;
    head.ver = read_ver.saturating_add(1);
    Ok(Conversion {
        read_ver,
        head,
        writes,
    })
}
