//! The small items an issue keeps beside its head: one per day of hourly
//! counts and facets, and one per sample slot.
//!
//! DynamoDB bills a write by the size of the whole item (the larger of
//! before and after, twice inside a transaction), not by what changed. So
//! what grows with an issue's age or traffic lives in items that a batch
//! writes only when it touches them, and each stays around a kilobyte:
//!
//! - a **day** (`ISSUE#<id>` / `DAY#yyyy-mm-dd`) holds that day's 24 hourly
//!   counts (`h00`..`h23`) and the facet values counted that day (JSON
//!   `{"name": [[value, count], ...]}`, deflated past
//!   [`PACK_FACETS_OVER_BYTES`], admitted through the shared
//!   [`fold::FacetBook`] with a budget of [`MAX_DAY_FACET_BYTES`]). A batch
//!   rewrites the days its events fall in, usually one. Days expire
//!   [`DAY_RETENTION_MS`] after they end, so an issue's facets read as
//!   "the last 30 days" and its timeline as the last 30 days of hours;
//! - a **sample** (`ISSUE#<id>` / `SAMPLE#<slot>`) holds one stored sample.
//!   The head keeps each slot's timestamp, so choosing the slot to replace
//!   ([`fold::choose_sample`]) never reads a sample.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;

use super::TTL_ATTRIBUTE;
use super::items::{Facets, Item, get_n, get_s, json, n, s};
use super::packing::{deflate, inflate};
use crate::limits::{HOURS_RETENTION_MS, MAX_SAMPLES};
use crate::model::{FacetCount, HourCount, IssueDelta, hour_of};
use crate::policy::Policy;
use crate::store::{StoreError, fold};

const DAY_MS: i64 = 24 * 3_600_000;

/// Bytes of facet values one day of an issue keeps (as
/// [`fold::facet_entry_bytes`] counts them); past it, values count as
/// `(other)`. 2 KB keep the day item under 3 KB (6 write units in a
/// transaction) even for a field with a new value per event, and hold the
/// 50 values a name may keep when they are short (ids, stream names).
pub const MAX_DAY_FACET_BYTES: usize = 2 * 1024;

/// A day's facets as JSON longer than this are stored deflated
/// ([`PACKED_FACETS`]). Every batch of an issue rewrites its day, and the
/// facets are most of it once a field has many values: a hot issue logged
/// from 20 or more Lambda containers names each one's stream (32 random
/// hex digits), and its day item crossed a kilobyte, 4 write units a batch
/// instead of 2 (BENCHMARKS.md, "from 200 streams").
const PACK_FACETS_OVER_BYTES: usize = 256;

/// The attribute of a day's deflated facets (layout 4); `facets` holds
/// them as plain JSON when they are short, and in days written before.
const PACKED_FACETS: &str = "fz";

/// The most a day's facets inflate to: what an item could hold plain
/// (DynamoDB's 400 KB), so that a damaged item cannot inflate without
/// bound; a day holds a few kilobytes.
const MAX_DAY_FACETS_JSON_BYTES: usize = 400 * 1024;

/// How long a day item outlives its last hour: the hours' retention and a
/// day, so the 30 days the timeline shows are always there.
pub const DAY_RETENTION_MS: i64 = HOURS_RETENTION_MS + DAY_MS;

/// The sort key prefix of day items.
pub(super) const DAY_PREFIX: &str = "DAY#";
/// The sort key prefix of sample items.
pub(super) const SAMPLE_PREFIX: &str = "SAMPLE#";

/// Midnight UTC of the day `ms` falls in.
pub(super) fn day_of(ms: i64) -> i64 {
    ms.saturating_sub(ms.rem_euclid(DAY_MS))
}

/// `DAY#yyyy-mm-dd`: sorts by date, and reads as one.
pub(super) fn day_sk(day: i64) -> String {
    let date = crate::text::rfc3339(day);
    format!("{DAY_PREFIX}{}", date.get(..10).unwrap_or(&date))
}

pub(super) fn issue_pk(id: &str) -> String {
    format!("ISSUE#{id}")
}

pub(super) fn day_key(id: &str, day: i64) -> Item {
    Item::from([
        ("pk".to_string(), s(issue_pk(id))),
        ("sk".to_string(), s(day_sk(day))),
    ])
}

pub(super) fn sample_key(id: &str, slot: usize) -> Item {
    Item::from([
        ("pk".to_string(), s(issue_pk(id))),
        ("sk".to_string(), s(format!("{SAMPLE_PREFIX}{slot}"))),
    ])
}

/// One day of an issue.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Day {
    /// Midnight UTC.
    pub day: i64,
    /// Count per hour of the day (0-23); hours without events are absent.
    pub hours: BTreeMap<u8, u64>,
    pub facets: Facets,
}

impl Day {
    pub fn new(day: i64) -> Day {
        Day {
            day,
            ..Day::default()
        }
    }

    pub fn add_hour(&mut self, hour: &HourCount) {
        let h = (hour.hour.saturating_sub(self.day) / 3_600_000).clamp(0, 23) as u8;
        let kept = self.hours.entry(h).or_default();
        *kept = kept.saturating_add(hour.count);
    }

    pub fn hour_counts(&self) -> impl Iterator<Item = HourCount> + '_ {
        self.hours.iter().map(|(h, count)| HourCount {
            hour: self.day + i64::from(*h) * 3_600_000,
            count: *count,
        })
    }

    /// What admitting facet values to this day needs to know of it.
    pub fn facet_book(&self) -> fold::FacetBook {
        let mut book = fold::FacetBook::with_budget(MAX_DAY_FACET_BYTES);
        for (name, values) in &self.facets {
            for (value, _) in values {
                book.keep(name, value);
            }
        }
        book
    }

    /// Adds a count the day's [`Day::facet_book`] admitted.
    pub fn add_facet(&mut self, counted: &FacetCount) {
        super::items::add_facet(&mut self.facets, counted);
    }

    pub fn to_item(&self, id: &str) -> Item {
        let mut item = day_key(id, self.day);
        item.insert("day".into(), n(self.day));
        for (h, count) in &self.hours {
            item.insert(format!("h{h:02}"), n(count));
        }
        if !self.facets.is_empty() {
            let text = json(&self.facets);
            // Deflated only when that can take the item under a kilobyte
            // line: a few short values gain nothing and cost the CPU.
            if text.len() > PACK_FACETS_OVER_BYTES {
                item.insert(
                    PACKED_FACETS.into(),
                    AttributeValue::B(deflate(&text).into()),
                );
            } else {
                item.insert("facets".into(), s(text));
            }
        }
        let expires = self.day.saturating_add(DAY_MS + DAY_RETENTION_MS);
        item.insert(TTL_ATTRIBUTE.into(), n(expires.div_euclid(1000)));
        item
    }

    pub fn from_item(item: &Item) -> Result<Day, StoreError> {
        let mut day = Day::new(get_n(item, "day")?);
        for h in 0..24u8 {
            if let Some(AttributeValue::N(_)) = item.get(&format!("h{h:02}")) {
                day.hours.insert(h, get_n(item, &format!("h{h:02}"))?);
            }
        }
        let text = match (item.get("facets"), item.get(PACKED_FACETS)) {
            (Some(AttributeValue::S(text)), _) => Some(text.clone()),
            (_, Some(AttributeValue::B(packed))) => Some(
                inflate(packed.as_ref(), MAX_DAY_FACETS_JSON_BYTES)
                    .map_err(|e| StoreError::Corrupt(format!("facets of a day item: {e}")))?,
            ),
            _ => None,
        };
        if let Some(text) = text {
            day.facets = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("facets of a day item: {e}")))?;
        }
        Ok(day)
    }
}

/// Whether an item of an issue's partition is one of its days.
pub(super) fn is_day(item: &Item) -> bool {
    get_s(item, "sk").is_ok_and(|sk| sk.starts_with(DAY_PREFIX))
}

/// Whether an item of an issue's partition is one of its samples.
pub(super) fn is_sample(item: &Item) -> bool {
    get_s(item, "sk").is_ok_and(|sk| sk.starts_with(SAMPLE_PREFIX))
}

/// The days a delta writes: those of its hours still within retention, and
/// the day of its last occurrence, which takes its facets.
pub(super) fn days_written(delta: &IssueDelta) -> BTreeSet<i64> {
    let oldest = fold::oldest_hour_kept(delta);
    let mut days: BTreeSet<i64> = delta
        .hours
        .iter()
        .filter(|h| h.hour >= oldest)
        .map(|h| day_of(h.hour))
        .collect();
    days.insert(day_of(hour_of(delta.last_seen)));
    days
}

/// The days a delta must read before it is folded: those it writes, and
/// those of the policy's threshold window.
pub(super) fn days_read(delta: &IssueDelta, policy: &Policy) -> BTreeSet<i64> {
    let mut days = days_written(delta);
    if let Some(window) = fold::threshold_window(delta, policy) {
        let mut day = day_of(*window.start());
        while day <= *window.end() {
            days.insert(day);
            day = day.saturating_add(DAY_MS);
        }
    }
    days
}

/// A stored sample (its JSON, bounded by
/// [`super::bounds::stored_sample_json`]) in its slot, deflated: a sample
/// is written inside its batch's transaction, at twice the units of its
/// kilobytes, and a 2.5 KB stack trace deflates to under 1 KB.
pub(super) fn sample_item(id: &str, slot: usize, timestamp: i64, json: &str) -> Item {
    let mut item = sample_key(id, slot);
    item.insert("ts".into(), n(timestamp));
    item.insert("z".into(), AttributeValue::B(deflate(json).into()));
    item
}

/// The JSON of a sample item.
pub(super) fn sample_json(item: &Item) -> Result<String, StoreError> {
    let Some(AttributeValue::B(packed)) = item.get("z") else {
        return Err(StoreError::Corrupt("a sample item lacks its sample".into()));
    };
    inflate(packed.as_ref(), 2 * super::bounds::MAX_STORED_SAMPLE_BYTES)
        .map_err(|e| StoreError::Corrupt(format!("a sample item: {e}")))
}

/// The sort key of the facets an issue of the older layout had counted
/// before it was converted ([`super::layout`]): kept apart, read with the
/// days, never rewritten by a batch, and kept as long as the issue (layout 1
/// kept facets for the issue's life; one item per converted issue).
pub(super) const EARLIER_FACETS_SK: &str = "FACETS#earlier";

pub(super) fn earlier_facets_item(id: &str, facets: &Facets) -> Item {
    let mut item = Item::from([
        ("pk".to_string(), s(issue_pk(id))),
        ("sk".to_string(), s(EARLIER_FACETS_SK)),
    ]);
    item.insert("facets".into(), s(json(facets)));
    item
}

/// The facets of an item that holds them as JSON (a day, the earlier
/// facets, an issue of the older layout); absent means none.
pub(super) fn facets_in(item: &Item) -> Result<Facets, StoreError> {
    match item.get("facets") {
        None => Ok(Facets::new()),
        Some(AttributeValue::S(text)) => serde_json::from_str(text)
            .map_err(|e| StoreError::Corrupt(format!("facets of an issue: {e}"))),
        Some(_) => Err(StoreError::Corrupt("facets are not a string".into())),
    }
}

/// Adds `more` to `into`, value by value.
pub(super) fn sum_facets(into: &mut Facets, more: &Facets) {
    for (name, values) in more {
        for (value, count) in values {
            super::items::add_facet(
                into,
                &FacetCount {
                    name: name.clone(),
                    value: value.clone(),
                    count: *count,
                },
            );
        }
    }
}

/// Places samples kept elsewhere (an older head, a merged issue) into an
/// issue's slots, so that the slots end up holding the newest
/// [`MAX_SAMPLES`] of both: each takes a free slot, else the oldest, if it
/// is newer. Returns what to write: slot, time and JSON.
pub(super) fn place_samples(
    slots: &mut Vec<Option<i64>>,
    incoming: &mut [(i64, String)],
) -> Vec<(usize, i64, String)> {
    incoming.sort_by_key(|(t, _)| *t);
    let stamp = |slots: &[Option<i64>], i: usize| slots.get(i).copied().flatten();
    let mut writes: Vec<(usize, i64, String)> = Vec::new();
    for (timestamp, json) in incoming.iter() {
        let slot = match (0..MAX_SAMPLES).find(|&i| stamp(slots, i).is_none()) {
            Some(free) => free,
            None => match (0..MAX_SAMPLES).min_by_key(|&i| (stamp(slots, i), i)) {
                Some(oldest) if stamp(slots, oldest) < Some(*timestamp) => oldest,
                _ => continue,
            },
        };
        if slots.len() <= slot {
            slots.resize(slot + 1, None);
        }
        slots[slot] = Some(*timestamp);
        writes.retain(|(s, _, _)| *s != slot);
        writes.push((slot, *timestamp, json.clone()));
    }
    writes
}

/// What moving history into an issue writes besides its head (converting it
/// from the older layout, merging another issue into it): its changed days,
/// its earlier facets, and samples for its slots.
#[derive(Debug, Default)]
pub(super) struct HistoryWrites {
    pub days: Vec<Day>,
    pub earlier_facets: Option<Facets>,
    /// Slot, time and JSON of each sample.
    pub samples: Vec<(usize, i64, String)>,
}

impl HistoryWrites {
    /// The day `day` as this write will leave it: already changed here,
    /// else as the issue had it (`kept`), else new; so only the days
    /// changed are written.
    pub fn day(&mut self, kept: &[Day], day: i64) -> &mut Day {
        let at = match self.days.iter().position(|d| d.day == day) {
            Some(at) => at,
            None => {
                let before = kept.iter().find(|d| d.day == day).cloned();
                self.days.push(before.unwrap_or_else(|| Day::new(day)));
                self.days.len() - 1
            }
        };
        &mut self.days[at]
    }

    /// The items to Put for issue `id` (unconditionally: the head written
    /// beside them is conditioned on the version they were computed from).
    pub fn items(&self, id: &str) -> Vec<Item> {
        let days = self.days.iter().map(|day| day.to_item(id));
        let earlier = self
            .earlier_facets
            .iter()
            .map(|facets| earlier_facets_item(id, facets));
        let samples = self
            .samples
            .iter()
            .map(|(slot, timestamp, json)| sample_item(id, *slot, *timestamp, json));
        days.chain(earlier).chain(samples).collect()
    }
}
