//! Items as the table holds them: keys, the issue item, batch markers,
//! queued alerts, and reading attributes back.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::bounds::MAX_STORED_KIND_BYTES;
use super::{BATCH_RETENTION_MS, TTL_ATTRIBUTE};
use crate::limits::truncate;
use crate::model::{
    Alert, BatchSummary, Facet, FacetCount, HourCount, Issue, IssueDelta, IssueState, Status,
    issue_id,
};
use crate::store::route::Entry;
use crate::store::{StoreError, fold};

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) const OUTBOX_PK: &str = "OUTBOX";
pub(super) const ISSUE_SK: &str = "ISSUE";

pub(super) fn issue_key(id: &str) -> Item {
    HashMap::from([
        ("pk".to_string(), s(format!("ISSUE#{id}"))),
        ("sk".to_string(), s(ISSUE_SK)),
    ])
}

pub(super) fn marker_key(batch_id: &str, chunk_no: usize) -> Item {
    HashMap::from([
        ("pk".to_string(), s(format!("BATCH#{batch_id}"))),
        ("sk".to_string(), s(format!("CHUNK#{chunk_no}"))),
    ])
}

/// Sort keys of alerts queued by layout 5 start with this: it sorts after
/// every alert id (ids are hex batch ids and `run:...`), so the alerts an
/// earlier layout queued under their bare id come first in the partition
/// (outbox.rs).
pub(super) const QUEUED_PREFIX: &str = "~";

/// The sort key of a queued alert: its age, then its id, so that the
/// partition reads oldest first (outbox.rs). A pure function of the alert,
/// so whoever holds the alert finds its item.
pub fn queued_alert_sk(created_at: i64, alert_id: &str) -> String {
    format!("{QUEUED_PREFIX}{:020}#{alert_id}", created_at.max(0))
}

/// The alert id in a queued alert's sort key, of either layout.
pub(super) fn alert_id_in(sk: &str) -> &str {
    match sk.strip_prefix(QUEUED_PREFIX) {
        Some(rest) => rest.split_once('#').map_or(rest, |(_, id)| id),
        None => sk,
    }
}

/// Where an alert is queued (layout 5).
pub(super) fn outbox_key(alert: &Alert) -> Item {
    outbox_sk_key(queued_alert_sk(alert.created_at, &alert.id))
}

/// Where layouts before 4 queued an alert: under its bare id.
pub(super) fn earlier_outbox_key(alert_id: &str) -> Item {
    outbox_sk_key(alert_id.to_string())
}

pub(super) fn outbox_sk_key(sk: String) -> Item {
    HashMap::from([("pk".to_string(), s(OUTBOX_PK)), ("sk".to_string(), s(sk))])
}

/// An issue's facets: values and counts per facet name.
pub(super) type Facets = BTreeMap<String, Vec<(String, u64)>>;

/// An issue's head item (`ISSUE#<id>` / `ISSUE`) as read from or written to
/// the table: what every batch that touches the issue reads and rewrites,
/// kept under a kilobyte so that rewriting it costs 2 write units. Its days
/// and samples are items of their own ([`super::parts`]).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StoredIssue {
    pub(super) issue: Issue,
    pub(super) created_at: i64,
    pub(super) ver: u64,
    pub(super) last_alert_at: Option<i64>,
    pub(super) threshold_alerted_at: Option<i64>,
    /// The timestamp of the sample in each slot (`None`: empty), so a batch
    /// chooses the slot to write without reading any sample.
    pub(super) slots: Vec<Option<i64>>,
    /// Its new-issue alert is held until a run settles or an occurrence no
    /// retry got past announces it ([`crate::store::run_fold::hold`]).
    pub(super) held: bool,
    /// Ids of the issues merged into this one (a string set in the item).
    pub(super) merged_from: Vec<String>,
    /// A user unmerged it: no join takes it again ([`KEPT_APART_ATTRIBUTE`]).
    pub(super) kept_apart: bool,
    /// The item still holds its samples, hours and facets itself, as the
    /// layout before [`super::parts`] kept them: it must be converted
    /// ([`super::layout`]) before a batch writes it.
    pub(super) legacy: bool,
}

impl StoredIssue {
    pub(super) fn new(batch: &BatchSummary, delta: &IssueDelta, now: i64) -> StoredIssue {
        StoredIssue {
            issue: Issue {
                id: issue_id(&delta.fingerprint),
                fingerprint: delta.fingerprint.clone(),
                log_group: batch.log_group.clone(),
                title: delta.title.clone(),
                kind: truncate(&delta.kind, MAX_STORED_KIND_BYTES),
                status: Status::Open,
                count: 0,
                first_seen: delta.first_seen,
                last_seen: delta.last_seen,
                regressed_at: None,
                resolved_in: None,
                ignored_until: None,
                ignored_until_count: None,
                merged_into: None,
            },
            created_at: now,
            ver: 0,
            last_alert_at: None,
            threshold_alerted_at: None,
            slots: Vec::new(),
            held: false,
            merged_from: Vec::new(),
            kept_apart: false,
            legacy: false,
        }
    }

    /// What [`crate::policy::decide`] needs to know.
    pub(super) fn state(&self) -> IssueState {
        IssueState {
            status: self.issue.status,
            count: self.issue.count,
            resolved_in: self.issue.resolved_in.clone(),
            ignored_until: self.issue.ignored_until,
            ignored_until_count: self.issue.ignored_until_count,
            last_alert_at: self.last_alert_at,
            threshold_alerted_at: self.threshold_alerted_at,
        }
    }

    pub(super) fn from_item(item: &Item) -> Result<StoredIssue, StoreError> {
        let issue = issue_from_item(item)?;
        let slots = match item.get("slots") {
            None => Vec::new(),
            Some(AttributeValue::L(stamps)) => stamps
                .iter()
                .map(|stamp| match stamp {
                    AttributeValue::N(ms) => ms.parse().map(Some).map_err(|_| ()),
                    AttributeValue::Null(_) => Ok(None),
                    _ => Err(()),
                })
                .collect::<Result<_, ()>>()
                .map_err(|()| {
                    StoreError::Corrupt(format!("issue {}: a sample slot is not a time", issue.id))
                })?,
            Some(_) => {
                return Err(StoreError::Corrupt(format!(
                    "issue {}: slots is not a list",
                    issue.id
                )));
            }
        };
        Ok(StoredIssue {
            created_at: get_n(item, "created_at")?,
            ver: get_n(item, "ver")?,
            last_alert_at: get_opt_n(item, "last_alert_at")?,
            threshold_alerted_at: get_opt_n(item, "threshold_alerted_at")?,
            slots,
            held: matches!(item.get("held"), Some(AttributeValue::Bool(true))),
            merged_from: match item.get("merged_from") {
                Some(AttributeValue::Ss(ids)) => ids.clone(),
                _ => Vec::new(),
            },
            kept_apart: matches!(
                item.get(KEPT_APART_ATTRIBUTE),
                Some(AttributeValue::Bool(true))
            ),
            legacy: LEGACY_ATTRIBUTES
                .iter()
                .any(|name| item.contains_key(*name)),
            issue,
        })
    }

    /// The whole head: every write replaces it (conditioned on `ver`), so
    /// an attribute that is `None` is simply left out, and so are the
    /// attributes of the older layout once the issue is converted.
    pub(super) fn to_item(&self) -> Item {
        let issue = &self.issue;
        let mut item = issue_key(&issue.id);
        item.insert("issue_id".into(), s(&issue.id));
        item.insert("fingerprint".into(), s(&issue.fingerprint));
        item.insert("log_group".into(), s(&issue.log_group));
        item.insert("title".into(), s(&issue.title));
        item.insert("kind".into(), s(&issue.kind));
        item.insert("status".into(), s(issue.status.as_str()));
        item.insert("count".into(), n(issue.count));
        item.insert("first_seen".into(), n(issue.first_seen));
        item.insert("last_seen".into(), n(issue.last_seen));
        item.insert("created_at".into(), n(self.created_at));
        item.insert("ver".into(), n(self.ver));
        if !self.slots.is_empty() {
            let stamps = self
                .slots
                .iter()
                .map(|stamp| stamp.map_or(AttributeValue::Null(true), n))
                .collect();
            item.insert("slots".into(), AttributeValue::L(stamps));
        }
        let optional = [
            ("regressed_at", issue.regressed_at.map(n)),
            ("resolved_in", issue.resolved_in.as_deref().map(s)),
            ("ignored_until", issue.ignored_until.map(n)),
            ("ignored_until_count", issue.ignored_until_count.map(n)),
            ("last_alert_at", self.last_alert_at.map(n)),
            ("threshold_alerted_at", self.threshold_alerted_at.map(n)),
            ("merged_into", issue.merged_into.as_deref().map(s)),
            (
                "merged_from",
                (!self.merged_from.is_empty())
                    .then(|| AttributeValue::Ss(self.merged_from.clone())),
            ),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                item.insert(name.to_string(), value);
            }
        }
        if self.held {
            item.insert("held".into(), AttributeValue::Bool(true));
        }
        if self.kept_apart {
            item.insert(KEPT_APART_ATTRIBUTE.into(), AttributeValue::Bool(true));
        }
        item
    }
}

/// JSON of plain data (numbers, strings, maps of them), which cannot fail
/// to encode.
pub(super) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Attributes only an issue item of the layout before [`super::parts`] has.
pub(super) const LEGACY_ATTRIBUTES: [&str; 3] = ["samples", "hours", "facets"];

/// The hourly counts an issue item of the older layout holds.
pub(super) fn decode_hours(item: &Item) -> Result<Vec<HourCount>, StoreError> {
    match item.get("hours") {
        None => Ok(Vec::new()),
        Some(AttributeValue::S(text)) => serde_json::from_str::<Vec<(i64, u64)>>(text)
            .map(|pairs| {
                pairs
                    .into_iter()
                    .map(|(hour, count)| HourCount { hour, count })
                    .collect()
            })
            .map_err(|e| StoreError::Corrupt(format!("hourly counts: {e}"))),
        Some(_) => Err(StoreError::Corrupt("hourly counts are not a string".into())),
    }
}

/// The facets as `issue()` shows them, through the shared summary.
pub(super) fn facets_of(facets: &Facets) -> Vec<Facet> {
    fold::summarise_facets(facets.iter().flat_map(|(name, values)| {
        values
            .iter()
            .map(move |(value, count)| (name.as_str(), value.as_str(), *count))
    }))
}

/// A facet count admitted by the fold ([`fold::FacetBook::admit`]) added to
/// the issue's facets.
pub(super) fn add_facet(facets: &mut Facets, counted: &FacetCount) {
    let values = facets.entry(counted.name.clone()).or_default();
    match values.iter_mut().find(|(v, _)| *v == counted.value) {
        Some(entry) => entry.1 = entry.1.saturating_add(counted.count),
        None => values.push((counted.value.clone(), counted.count)),
    }
}

/// A chunk's marker; `new_issues` (fingerprints) tells the batch's last
/// chunk which issues this one created, so it can announce them.
pub(super) fn marker_item(
    batch: &BatchSummary,
    chunk_no: usize,
    new_issues: &[String],
    now: i64,
) -> Item {
    let mut item = marker_key(&batch.batch_id, chunk_no);
    item.insert("log_group".into(), s(&batch.log_group));
    item.insert("log_stream".into(), s(&batch.log_stream));
    item.insert("events".into(), n(batch.events));
    item.insert("errors".into(), n(batch.errors));
    item.insert("processed_at".into(), n(now));
    item.insert(
        TTL_ATTRIBUTE.into(),
        n((now.saturating_add(BATCH_RETENTION_MS)).div_euclid(1000)),
    );
    if !new_issues.is_empty() {
        item.insert(
            "new_issues".into(),
            AttributeValue::L(new_issues.iter().map(s).collect()),
        );
    }
    item
}

pub(super) fn outbox_item(alert: &Alert, now: i64) -> Result<Item, StoreError> {
    let payload = serde_json::to_string(alert)
        .map_err(|e| StoreError::Corrupt(format!("encoding alert {}: {e}", alert.id)))?;
    let mut item = outbox_key(alert);
    item.insert("payload".into(), s(payload));
    item.insert("created_at".into(), n(now));
    item.insert("lease_until".into(), n(0));
    item.insert("attempts".into(), n(0));
    Ok(item)
}

pub(super) fn issue_from_item(item: &Item) -> Result<Issue, StoreError> {
    let status = get_s(item, "status")?;
    Ok(Issue {
        id: get_s(item, "issue_id")?.to_string(),
        fingerprint: get_s(item, "fingerprint")?.to_string(),
        log_group: get_s(item, "log_group")?.to_string(),
        title: get_s(item, "title")?.to_string(),
        kind: get_s(item, "kind")?.to_string(),
        status: Status::parse(status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown issue status {status:?}")))?,
        count: get_n(item, "count")?,
        first_seen: get_n(item, "first_seen")?,
        last_seen: get_n(item, "last_seen")?,
        regressed_at: get_opt_n(item, "regressed_at")?,
        resolved_in: match item.get("resolved_in") {
            None | Some(AttributeValue::Null(_)) => None,
            Some(_) => Some(get_s(item, "resolved_in")?.to_string()),
        },
        ignored_until: get_opt_n(item, "ignored_until")?,
        ignored_until_count: get_opt_n(item, "ignored_until_count")?,
        merged_into: match item.get("merged_into") {
            Some(AttributeValue::S(into)) => Some(into.clone()),
            _ => None,
        },
    })
}

/// An alias item: the issue id `id` (a fingerprint's) counts into `target`
/// ([`crate::store::route`]). It sits where an issue with that id would, so
/// reading a batch's issues reads it, and it has no `status`, so it never
/// enters the listing index.
pub(super) fn alias_item(id: &str, target: &str, now: i64) -> Item {
    let mut item = issue_key(id);
    item.insert(ALIAS_ATTRIBUTE.into(), s(target));
    item.insert("created_at".into(), n(now));
    item
}

/// The attribute `unmerge` sets on an issue's head (`true`): no change of
/// fingerprint algorithm joins the issue again ([`crate::store::route`]).
/// Kept by [`StoredIssue`]'s round trip.
pub(super) const KEPT_APART_ATTRIBUTE: &str = "kept_apart";

/// The attribute that makes an item at `ISSUE#<id>` an alias.
pub(super) const ALIAS_ATTRIBUTE: &str = "alias_of";

/// What an item at `ISSUE#<id>` is to the router: an issue (merged or not)
/// or an alias.
pub(super) fn entry_of(item: &Item) -> Result<Entry, StoreError> {
    if let Some(AttributeValue::S(target)) = item.get(ALIAS_ATTRIBUTE) {
        return Ok(Entry::Alias {
            target: target.clone(),
        });
    }
    let issue = issue_from_item(item)?;
    Ok(Entry::of_issue(
        issue.status,
        &issue.fingerprint,
        issue.merged_into.as_deref(),
        matches!(
            item.get(KEPT_APART_ATTRIBUTE),
            Some(AttributeValue::Bool(true))
        ),
    ))
}

/// Whether an item at `ISSUE#<id>` is an alias rather than an issue.
pub(super) fn is_alias(item: &Item) -> bool {
    item.contains_key(ALIAS_ATTRIBUTE)
}
pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!(
            "item lacks string attribute {name}"
        ))),
    }
}

pub(super) fn get_n<T: std::str::FromStr>(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<T, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| {
            StoreError::Corrupt(format!("attribute {name} is not a valid number: {v}"))
        }),
        _ => Err(StoreError::Corrupt(format!(
            "item lacks number attribute {name}"
        ))),
    }
}

pub(super) fn get_opt_n<T: std::str::FromStr>(
    item: &Item,
    name: &str,
) -> Result<Option<T>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => get_n(item, name).map(Some),
    }
}

/// A list of strings; absent means empty.
pub(super) fn get_string_list(item: &Item, name: &str) -> Result<Vec<String>, StoreError> {
    match item.get(name) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| match v {
                AttributeValue::S(text) => Ok(text.clone()),
                _ => Err(StoreError::Corrupt(format!("{name} holds a non-string"))),
            })
            .collect(),
        Some(_) => Err(StoreError::Corrupt(format!("{name} is not a list"))),
    }
}
