//! Reading an issue back from its partition: the head, its days, its
//! samples, and what an issue of the older layout still holds in its head.
//!
//! One Query per issue: the partition `ISSUE#<id>` holds exactly one issue's
//! items, and its sort keys order them `DAY#...`, `FACETS#earlier`, `ISSUE`,
//! `SAMPLE#...`, so a read that needs no samples stops before them.

use std::collections::HashMap;

use super::DynamoDbStore;
use super::items::{
    Facets, ISSUE_SK, Item, StoredIssue, decode_hours, facets_of, get_s, get_string_list, is_alias,
};
use super::parts::{
    Day, EARLIER_FACETS_SK, SAMPLE_PREFIX, facets_in, is_day, is_sample, issue_pk, sample_json,
    sum_facets,
};
use super::requests::SortKeys;
use crate::limits::{HOURS_RETENTION_MS, MAX_SAMPLES};
use crate::model::{HourCount, IssueDetail, Sample, hour_of};
use crate::store::StoreError;

/// An issue as its partition holds it.
#[derive(Debug, Default)]
pub(super) struct History {
    pub head: Option<Item>,
    pub days: Vec<Day>,
    /// Every facet count: the days', the earlier facets' and an older
    /// head's.
    pub facets: Facets,
    /// The facets kept when the issue was converted from the older layout.
    pub earlier: Option<Facets>,
    pub samples: Vec<Item>,
}

impl History {
    pub fn from_items(items: Vec<Item>) -> Result<History, StoreError> {
        let mut history = History::default();
        for item in items {
            let sk = get_s(&item, "sk")?;
            if sk == ISSUE_SK {
                history.head = Some(item);
            } else if is_day(&item) {
                let day = Day::from_item(&item)?;
                sum_facets(&mut history.facets, &day.facets);
                history.days.push(day);
            } else if sk == EARLIER_FACETS_SK {
                let earlier = facets_in(&item)?;
                sum_facets(&mut history.facets, &earlier);
                history.earlier = Some(earlier);
            } else if is_sample(&item) {
                history.samples.push(item);
            }
        }
        if let Some(head) = &history.head {
            // An issue not yet converted from the older layout.
            sum_facets(&mut history.facets, &facets_in(head)?);
        }
        Ok(history)
    }

    /// The issue's hourly counts, oldest first, within the hours' retention
    /// before its latest occurrence (days past it wait for their TTL).
    pub fn hours(&self, last_seen: i64) -> Result<Vec<HourCount>, StoreError> {
        let mut sum: HashMap<i64, u64> = HashMap::new();
        let mut add = |h: HourCount| {
            let kept = sum.entry(h.hour).or_default();
            *kept = kept.saturating_add(h.count);
        };
        for day in &self.days {
            day.hour_counts().for_each(&mut add);
        }
        if let Some(head) = &self.head {
            decode_hours(head)?.into_iter().for_each(&mut add);
        }
        let oldest = hour_of(last_seen).saturating_sub(HOURS_RETENTION_MS);
        let mut hours: Vec<HourCount> = sum
            .into_iter()
            .filter(|(hour, _)| *hour >= oldest)
            .map(|(hour, count)| HourCount { hour, count })
            .collect();
        hours.sort_by_key(|h| h.hour);
        Ok(hours)
    }

    /// The issue as `issue()` shows it; `None` when the partition holds no
    /// issue (or an alias).
    pub fn detail(self) -> Result<Option<IssueDetail>, StoreError> {
        let Some(head) = self.head.as_ref().filter(|h| !is_alias(h)) else {
            return Ok(None);
        };
        let stored = StoredIssue::from_item(head)?;
        let id = &stored.issue.id;
        let mut texts: Vec<String> = get_string_list(head, "samples")?;
        for item in &self.samples {
            texts.push(sample_json(item)?);
        }
        let mut samples = texts
            .iter()
            .map(|json| {
                serde_json::from_str::<Sample>(json)
                    .map_err(|e| StoreError::Corrupt(format!("sample of issue {id}: {e}")))
            })
            .collect::<Result<Vec<Sample>, _>>()?;
        // Slots hold samples in the order they were replaced, not by time.
        samples.sort_by_key(|s| std::cmp::Reverse(s.timestamp));
        samples.truncate(MAX_SAMPLES);
        let hours = self.hours(stored.issue.last_seen)?;
        let mut merged_from = stored.merged_from;
        merged_from.sort();
        Ok(Some(IssueDetail {
            facets: facets_of(&self.facets),
            issue: stored.issue,
            samples,
            hours,
            merged_from,
        }))
    }
}

impl DynamoDbStore {
    /// The items of issue `id`'s partition, strongly consistent; without its
    /// samples unless `samples` (they are most of its bytes, and reads are
    /// billed by the byte).
    pub(super) async fn history(&self, id: &str, samples: bool) -> Result<History, StoreError> {
        self.history_with(id, samples, true).await
    }

    /// As [`DynamoDbStore::history`], optionally eventually consistent (half
    /// the read units; listings read the index, which is too).
    pub(super) async fn history_with(
        &self,
        id: &str,
        samples: bool,
        consistent: bool,
    ) -> Result<History, StoreError> {
        let keys = match samples {
            true => SortKeys::All,
            false => SortKeys::Before(SAMPLE_PREFIX),
        };
        let items = self
            .partition_where(&issue_pk(id), keys, consistent, "Query (issue)")
            .await?;
        History::from_items(items)
    }
}
