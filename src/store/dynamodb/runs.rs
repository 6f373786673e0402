//! Runs in the DynamoDB store: recorded exactly once beside the batch that
//! brings them, settled exactly once, read for `faultline runs`.
//!
//! The decisions and the bookkeeping are the shared ones
//! ([`crate::store::run_fold`], [`crate::store::run_book`],
//! [`crate::runs::lifecycle`]), as in the SQLite store; this file reads
//! what they need into the shared working set ([`Book`]) and writes what
//! changed in one conditional transaction.
//!
//! # Items
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | run | `RUNS` | `<run id>` | `key source job name log_group outcome last_event errors recovered ver`, and when set `started ended ended_at items failed_items seq settled_at merged_into hint expires_at rest at folds tally` |
//! | a run's issue | `RUN#<run id>` | `I#<issue id>` | `count recovered new regressed expires_at` (the run item's `tally` adds to the counts) |
//! | a run by time | `RUNS#AT` | `<at, 13 digits>#<run id>` | `job log_group settled expires_at` |
//! | an issue's run | `ISSUERUNS#<issue id>` | `<at, 13 digits>#<run id>` | `expires_at` (the key is the link) |
//! | part of a run | `PART#<part key>` | `PART` | `run_key ver expires_at`, `recovered` once known, `pending` (JSON `{issue id: count}`) while not |
//! | unsettled run | `UNSETTLED` | `<run id>` | `last_event`, `ended_at` once ended, `folding` while a fold into the run is unfinished |
//! | runs indexed | `UNSETTLED` | `!indexed` | (none: its presence says every run is in `RUNS#AT`) |
//! | job | `JOB#<job>` | `JOB` | `settled ver issues` (JSON `[[issue id, last run, streak], ...]`) |
//! | runs marker | `BATCH#<batch id>` | `RUN#<n>#<chunk>` | `processed_at expires_at` (only for runs written on their own) |
//! | issue chunk marker | `BATCH#<batch id>` | `CHUNK#0` | `runs` when the batch's runs were written with it |
//!
//! Every item is small (a run item about 0.3-0.6 KB and kept under 1 KB
//! when it holds a tally, the others under 0.2 KB, a job item 30 bytes per
//! issue the job ever had), because DynamoDB bills a write by the size of
//! the item written. A batch of a run already seen, with issues the run
//! already has, writes the run item only (2 units in a transaction): its
//! issues' counts go to the run item's `tally` ([`Tally`]), the unsettled
//! entry is not moved (see Settling), no part is checked
//! ([`part_implied`]), and no marker of its own is needed (below)
//! (BENCHMARKS.md). Run items share one partition so that listing them is
//! one Query; none of them carries `status`, so the issue index never
//! sees them.
//!
//! # Why each batch's runs count exactly once
//!
//! A batch recorded in one transaction (one issue chunk, or none: a batch
//! without errors, a job event) writes its runs in that transaction
//! ([`DynamoDbStore::inline_runs`]): the batch's marker, conditional on
//! `attribute_not_exists(pk)`, guards the run writes as it guards the
//! issues, and says so (`runs`), so a later delivery that finds it
//! recorded knows its runs are too. The small batches of a stream
//! invocation that share a transaction share one read and one write of a
//! run they all belong to. A batch of several issue chunks, or whose runs
//! do not fit beside its issues in 100 actions, writes each run delta (in
//! chunks of [`ISSUES_PER_RUN_WRITE`] of its issues) after its issue
//! chunks, in a `TransactWriteItems` of its own: a runs marker conditional
//! on `attribute_not_exists(pk)` and the items the shared fold changed.
//! Either way the run item is the lock of everything
//! under it: every write of a run's issues also writes the run item,
//! conditioned on the `ver` it was read at, so two batches of one run
//! cannot both write from the same state; the loser re-reads and folds
//! again. Items read but not changed (a part that is not there, a run
//! recorded under a part's key) are checked in the same transaction
//! (`ConditionCheck`), so a decision made on them holds when it commits;
//! a part that is not there goes unchecked when its own run, read live, is
//! written or checked at the version read, which a job event naming the
//! part would have changed (see [`part_implied`]).
//!
//! When the runs are written after the batch's issue chunks, in
//! transactions of their own, an invocation that dies between the two
//! leaves the runs to
//! its retry, which finds the issue chunks recorded (duplicates): which
//! issues the batch created or reopened, which a run's issues are marked
//! with, is then read from the issue chunks' markers (`created`,
//! `regressed`), and the runs markers already there are skipped without a
//! write (a refused conditional write is billed as one). Only a batch
//! delivered before pays for that read.
//!
//! # Folding a part
//!
//! A job event that names a part whose run was recorded under the part's
//! key (a Batch attempt's task logged before the event came) folds that
//! run into the job's. When the part's issues fit the event's transaction
//! beside the rest (three actions each: the job run's link, its reverse
//! link, the deletion of the part's link), they move in it. When they do
//! not, the event's transaction moves the part's counts only: the job run
//! gets the part's errors and recovered counts and a `folds` list naming
//! the part (and whether it recovered), the part's run is marked merged
//! (no longer listed), and the job run's unsettled entry gets `folding`.
//! The part's links stay where they were, and are what is left to move.
//! Then [`FOLD_ISSUES_PER_WRITE`] of them move per transaction, each
//! conditioned on the job run item's `ver`, which it writes (so a chunk
//! moves once however many writers finish the fold at once); the last
//! clears `folds` and rewrites the entry. Until then a reader sees the job
//! run with all the part's occurrences and part of its issues, never an
//! issue in both runs.
//!
//! Whoever finds a fold unfinished finishes it before anything else: a
//! batch whose run reads the job run (the writer of the event died between
//! chunks), settling (a run is not settled with its issues half moved), and
//! the settling tick, which finds the entry's `folding`. So while a fold
//! is under way only its chunks write the job run's links, each adding the
//! part's counts to the link as it is then.
//!
//! # Settling
//!
//! The `UNSETTLED` partition lists the runs not yet settled, with what
//! says when they are due: the end's processing time once the run ended,
//! else a `last_event` no later than the run's. A batch writes the entry
//! when the run is first seen, ends (again), settles, is merged or gets a
//! fold, not as its log goes on: the run item's `hint` is the `last_event`
//! the batch wrote it with. An entry whose `last_event` is older than the
//! run's makes the settling tick read the run item early; the tick finds
//! it not quiet yet and moves the entry's `last_event` up to the run's (an
//! update conditioned on the entry being there and older), so a run that
//! logs for hours costs the tick a write every `run_quiet_minutes` instead
//! of its batches one every few minutes. Settling a run is one
//! transaction: the run (settled, conditioned on its `ver`),
//! its job (the next sequence number and the issues' streaks, conditioned
//! on the job's `ver`), the issues it resolves or announces (conditioned on
//! theirs), the alerts, and the entry's deletion. Concurrent settlers
//! cannot both commit; the loser re-reads and finds the run settled.
//!
//! A run whose settlement sends more held alerts and resolves more issues
//! than fit beside them in one transaction (100 actions: about 45 alerts,
//! or 95 resolutions) keeps the rest in its run item (`rest`) and its
//! unsettled entry: further transactions each take a chunk off the rest,
//! conditioned on the run item's `ver` (so each chunk is written once), and
//! the last one deletes the entry. A settler that dies between them leaves
//! the rest to the next settling tick, which finds the entry.
//!
//! # Listing
//!
//! `RUNS#AT` holds an entry per live run, its sort key the run's time
//! (start, else end, else latest log event; a run still going without a
//! start stays at its first, see [`index_at`]), and an
//! issue's links to runs are keyed the same way: a listing Queries either
//! newest first and stops at its limit, reading the run items of that page
//! only. The index entry carries what listings filter on (job, log group,
//! settled), so a filtered listing reads the run items it shows. An entry
//! is rewritten only when its time, job, log group or settledness changes,
//! mostly when the run is first seen and when it settles. Runs written
//! before the index existed join it when the store is initialised or at
//! the first settling ([`DynamoDbStore::index_runs`]); until the
//! `!indexed` marker says so, listings read the whole `RUNS` partition and
//! every link, as before.
//!
//! # Retention
//!
//! A settled run item expires (TTL on `expires_at`) [`RUN_RETENTION_MS`]
//! after it settled; a run not settled yet has no `expires_at`, so its
//! unsettled entry always finds it. Links, reverse links and parts expire
//! [`RUN_RETENTION_MS`] + [`RUN_LINK_GRACE_MS`] after their last write:
//! each item expires on its own, and this keeps a run's links at least as
//! long as the run item for any run that settles within the grace of its
//! issues' last occurrences. Listings read the run items, so a link left
//! behind by an expired run is never shown. Job items do not expire: they
//! hold the streaks `auto_resolve_after_runs` and `alert_after_runs` decide
//! on, which no longer need the runs they came from. Readers do not filter
//! on `expires_at`: DynamoDB deletes expired items within days, and a run
//! shown a few days past its retention harms nothing.
//!
//! # Limits
//!
//! - One transaction takes at most 100 actions: a run delta's issues are
//!   written [`ISSUES_PER_RUN_WRITE`] to a transaction, a folded part's
//!   [`FOLD_ISSUES_PER_WRITE`], and a settlement's alerts and resolutions
//!   as many as fit, the rest in further transactions. A part with more
//!   issues than the event's transaction holds (about 30) costs one more
//!   transaction per [`FOLD_ISSUES_PER_WRITE`] of them, and the job run
//!   item is rewritten with each (one or two write units).
//! - Run items share the `RUNS` partition and unsettled entries share
//!   `UNSETTLED`: DynamoDB serves one partition 1,000 write units a second,
//!   about 500 run writes a second for the whole table; `RUNS#AT` takes
//!   a write when a run is first seen and when it settles. A listing
//!   without a limit (resolving what a user typed to a run) still reads the
//!   whole `RUNS` partition, of the runs kept.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use super::bounds::bound_alert;
use super::items::{ISSUE_SK, Item, get_n, get_opt_n, get_s, issue_key, json, n, outbox_item, s};
use super::requests::Transacted;
use super::retry::{MAX_CONTENDED_ATTEMPTS, backoff, classify, request_token};
use super::{BATCH_RETENTION_MS, DynamoDbStore, TTL_ATTRIBUTE};
use crate::limits::{RUN_LINK_GRACE_MS, RUN_RETENTION_MS};
use crate::model::{
    BatchSummary, Outcome, Recorded, Run, RunDelta, RunIssue, RunSource, Sample, Status, run_id,
};
use crate::policy::Policy;
use crate::runs::lifecycle::{self, IssueNow, JobIssue};
use crate::store::run_book::{self, Book, BookPart, BookRun, Fold, PartSlot, RunSlot};
use crate::store::run_fold::{self, IssueInfo, StoredRun};
use crate::store::{RunFilter, StoreError};

/// A run delta's issues are written this many to a transaction: with the
/// run, its marker, an issue's two link items each and a part's items,
/// that stays under DynamoDB's 100 actions.
pub const ISSUES_PER_RUN_WRITE: usize = 40;

/// A fold's issues are moved this many to a transaction: each is the
/// run's link, its reverse link and the deletion of the part's link, beside
/// the run item and its unsettled entry.
pub const FOLD_ISSUES_PER_WRITE: usize = 32;

/// DynamoDB's bound on the actions of one transaction.
const MAX_ACTIONS: usize = 100;

const RUNS_PK: &str = "RUNS";
/// The partition that orders runs by time, for listings that stop at
/// their limit.
const BY_TIME_PK: &str = "RUNS#AT";
const UNSETTLED_PK: &str = "UNSETTLED";
/// The item, in the `UNSETTLED` partition (which every settling reads
/// whole), that says every run is in the time index and every issue's
/// links to runs are keyed by time; `!` sorts before every run id.
const INDEXED_SK: &str = "!indexed";
const JOB_SK: &str = "JOB";
const PART_SK: &str = "PART";
const LINK_PREFIX: &str = "I#";

fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn run_item_key(id: &str) -> Item {
    key(RUNS_PK.into(), id.into())
}

fn link_key(run: &str, issue: &str) -> Item {
    key(format!("RUN#{run}"), format!("{LINK_PREFIX}{issue}"))
}

/// The sort key of a run at `at` in a partition ordered by time: the
/// time zero-padded, so that text order is time order, then the run id.
fn by_time(at: i64, id: &str) -> String {
    format!("{:013}#{id}", at.max(0))
}

/// The run id a time-ordered sort key (or, before the runs were indexed,
/// a bare run id) names.
fn run_of(sk: &str) -> &str {
    sk.rsplit_once('#').map_or(sk, |(_, id)| id)
}

fn index_key(at: i64, id: &str) -> Item {
    key(BY_TIME_PK.into(), by_time(at, id))
}

fn reverse_key(issue: &str, at: i64, run: &str) -> Item {
    key(format!("ISSUERUNS#{issue}"), by_time(at, run))
}

/// An issue's link to a run as written before runs were indexed.
fn unindexed_reverse_key(issue: &str, run: &str) -> Item {
    key(format!("ISSUERUNS#{issue}"), run.into())
}

fn indexed_marker_key() -> Item {
    key(UNSETTLED_PK.into(), INDEXED_SK.into())
}

/// The TTL value (seconds) of an item to expire `after` ms past `at`.
fn expiry(at: i64, after: i64) -> AttributeValue {
    n(at.saturating_add(after).div_euclid(1000))
}

/// The TTL value of a run's link, reverse link or part written at `now`:
/// kept past the run item, whose retention starts when the run settles.
fn link_expiry(now: i64) -> AttributeValue {
    expiry(now, RUN_RETENTION_MS.saturating_add(RUN_LINK_GRACE_MS))
}

/// An issue's link to a run it appeared in, the run indexed at `at`.
fn reverse_item(issue: &str, at: i64, run: &str, now: i64) -> Item {
    let mut item = reverse_key(issue, at, run);
    item.insert(TTL_ATTRIBUTE.into(), link_expiry(now));
    item
}

fn part_item_key(part: &str) -> Item {
    key(format!("PART#{part}"), PART_SK.into())
}

fn job_key(job: &str) -> Item {
    key(format!("JOB#{job}"), JOB_SK.into())
}

fn unsettled_key(id: &str) -> Item {
    key(UNSETTLED_PK.into(), id.into())
}

fn marker_key(batch_id: &str, delta_no: usize, chunk: usize) -> Item {
    key(
        format!("BATCH#{batch_id}"),
        format!("RUN#{delta_no}#{chunk}"),
    )
}

/// An issue chunk's marker with the issues the chunk created and reopened
/// (ids), for the batch's runs to read should they be written by a later
/// delivery; nothing is added for a chunk that did neither.
pub(super) fn with_changes(mut marker: Item, created: &[String], regressed: &[String]) -> Item {
    for (name, ids) in [("created", created), ("regressed", regressed)] {
        if !ids.is_empty() {
            marker.insert(name.into(), AttributeValue::L(ids.iter().map(s).collect()));
        }
    }
    marker
}

/// An issue chunk's marker for a batch whose runs are written in the
/// chunk's own transaction: a later delivery that finds the marker finds
/// the runs recorded with it.
pub(super) fn with_runs(mut marker: Item) -> Item {
    marker.insert(RUNS_INLINE.into(), AttributeValue::Bool(true));
    marker
}

/// The marker attribute [`with_runs`] sets.
const RUNS_INLINE: &str = "runs";

/// The run writes of batches recorded in their issue chunk's transaction
/// (see [`DynamoDbStore::inline_runs`]).
pub(super) struct InlineRuns {
    pub actions: Vec<TransactWriteItem>,
    /// Runs with folds left to finish once the transaction committed.
    pub folding: Vec<String>,
}

/// A run item as read or to be written.
#[derive(Debug, Clone, PartialEq)]
struct RunItem {
    stored: StoredRun,
    merged_into: Option<String>,
    /// The `last_event` the run's unsettled entry holds.
    hint: Option<i64>,
    /// What settling the run still has to write.
    rest: Option<Rest>,
    /// The time its entry in the time index is at (`None`: it has none,
    /// written before the index existed, or folded into another run).
    at: Option<i64>,
    /// Parts' runs folded into this run whose issues are not all moved.
    folds: Vec<Fold>,
    /// Counts to add to its issues' link items (see [`Tally`]).
    tally: Tally,
}

/// Occurrences of a run's issues not yet in their link items, by issue
/// id: `[count, recovered]` to add to what the link item says. A batch
/// that adds to an issue the run already has puts its counts here, in the
/// run item it writes anyway, instead of rewriting the link (2 write units
/// in a transaction, on every batch of a hot issue); the link is rewritten
/// whole, and its entry dropped, when its flags change or the run item
/// would no longer fit in [`RUN_ITEM_BYTES`]. Every write of a run's links
/// writes the run item (conditioned on its version), so the two never
/// disagree; readers add the tally to the links they read.
type Tally = BTreeMap<String, (u64, u64)>;

/// The size a run item is kept under when it takes a tally: DynamoDB bills
/// a write 1 unit per KB (2 in a transaction).
const RUN_ITEM_BYTES: usize = 1024;

/// Adds the run's `tally` to its `links` as their items say.
fn apply_tally(links: &mut BTreeMap<String, RunIssue>, tally: &Tally) {
    for (id, (count, recovered)) in tally {
        if let Some(link) = links.get_mut(id) {
            link.count = link.count.saturating_add(*count);
            link.recovered = link.recovered.saturating_add(*recovered);
        }
    }
}

/// What a link item at `stored` needs added to say `link`, if a tally can
/// say it (same flags, no count going down).
fn tally_of(stored: &RunIssue, link: &RunIssue) -> Option<(u64, u64)> {
    if stored.new != link.new || stored.regressed != link.regressed {
        return None;
    }
    Some((
        link.count.checked_sub(stored.count)?,
        link.recovered.checked_sub(stored.recovered)?,
    ))
}

/// About the bytes DynamoDB bills `item` by (attribute names and values;
/// a number counted by its digits, which is at least what it is billed).
fn approx_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(v) | AttributeValue::N(v) => v.len(),
                    _ => 1,
                }
        })
        .sum()
}

/// What a settled run's settlement still has to write when it did not fit
/// one transaction: the held alerts to send and the issues to resolve. The
/// run item holds it, and its unsettled entry stays until it is written,
/// so a settler that dies between chunks leaves it to the next tick.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Rest {
    announce: Vec<String>,
    resolve: Vec<String>,
}

impl Rest {
    fn is_empty(&self) -> bool {
        self.announce.is_empty() && self.resolve.is_empty()
    }
}

fn opt_s(item: &Item, name: &str) -> Result<Option<String>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => get_s(item, name).map(|v| Some(v.to_string())),
    }
}

fn get_bool(item: &Item, name: &str) -> Option<bool> {
    match item.get(name) {
        Some(AttributeValue::Bool(b)) => Some(*b),
        _ => None,
    }
}

impl RunItem {
    fn from_item(item: &Item) -> Result<RunItem, StoreError> {
        let source = get_s(item, "source")?;
        let outcome = get_s(item, "outcome")?;
        Ok(RunItem {
            stored: StoredRun {
                run: Run {
                    id: get_s(item, "sk")?.to_string(),
                    key: get_s(item, "key")?.to_string(),
                    source: RunSource::parse(source).ok_or_else(|| {
                        StoreError::Corrupt(format!("unknown run source {source:?}"))
                    })?,
                    job: get_s(item, "job")?.to_string(),
                    name: get_s(item, "name")?.to_string(),
                    log_group: get_s(item, "log_group")?.to_string(),
                    started: get_opt_n(item, "started")?,
                    ended: get_opt_n(item, "ended")?,
                    outcome: Outcome::parse(outcome).ok_or_else(|| {
                        StoreError::Corrupt(format!("unknown run outcome {outcome:?}"))
                    })?,
                    last_event: get_n(item, "last_event")?,
                    errors: get_n(item, "errors")?,
                    recovered: get_n(item, "recovered")?,
                    items: get_opt_n(item, "items")?,
                    failed_items: get_opt_n(item, "failed_items")?,
                    issues: Vec::new(),
                    settled_at: get_opt_n(item, "settled_at")?,
                },
                ended_at: get_opt_n(item, "ended_at")?,
                seq: get_opt_n(item, "seq")?,
            },
            merged_into: opt_s(item, "merged_into")?,
            hint: get_opt_n(item, "hint")?,
            rest: match opt_s(item, "rest")? {
                Some(text) => Some(
                    serde_json::from_str(&text)
                        .map_err(|e| StoreError::Corrupt(format!("a run's unsettled rest: {e}")))?,
                ),
                None => None,
            },
            at: get_opt_n(item, "at")?,
            folds: match opt_s(item, "folds")? {
                Some(text) => serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("a run's unfinished folds: {e}")))?,
                None => Vec::new(),
            },
            tally: match opt_s(item, "tally")? {
                Some(text) => serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("a run's issue tally: {e}")))?,
                None => Tally::new(),
            },
        })
    }

    /// The item at `ver`, written at `now`. A settled run expires
    /// [`RUN_RETENTION_MS`] after it settled, a run folded into another as
    /// its links do; a run not settled yet never expires (its unsettled
    /// entry would point at nothing).
    fn to_item(&self, ver: u64, now: i64) -> Item {
        let r = &self.stored.run;
        let mut item = run_item_key(&r.id);
        item.insert("key".into(), s(&r.key));
        item.insert("source".into(), s(r.source.as_str()));
        item.insert("job".into(), s(&r.job));
        item.insert("name".into(), s(&r.name));
        item.insert("log_group".into(), s(&r.log_group));
        item.insert("outcome".into(), s(r.outcome.as_str()));
        item.insert("last_event".into(), n(r.last_event));
        item.insert("errors".into(), n(r.errors));
        item.insert("recovered".into(), n(r.recovered));
        item.insert("ver".into(), n(ver));
        let optional = [
            ("started", r.started.map(n)),
            ("ended", r.ended.map(n)),
            ("ended_at", self.stored.ended_at.map(n)),
            ("items", r.items.map(n)),
            ("failed_items", r.failed_items.map(n)),
            ("seq", self.stored.seq.map(n)),
            ("settled_at", r.settled_at.map(n)),
            ("merged_into", self.merged_into.as_deref().map(s)),
            ("hint", self.hint.map(n)),
            ("rest", self.rest.as_ref().map(|r| s(json(r)))),
            ("at", self.at.map(n)),
            (
                "folds",
                (!self.folds.is_empty()).then(|| s(json(&self.folds))),
            ),
            (
                "tally",
                (!self.tally.is_empty()).then(|| s(json(&self.tally))),
            ),
            (TTL_ATTRIBUTE, self.expires_at(now)),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                item.insert(name.to_string(), value);
            }
        }
        item
    }

    fn live(&self) -> bool {
        self.merged_into.is_none()
    }

    fn expires_at(&self, now: i64) -> Option<AttributeValue> {
        if !self.live() {
            return Some(link_expiry(now));
        }
        let settled = self.stored.run.settled_at?;
        Some(expiry(settled, RUN_RETENTION_MS))
    }
}

fn link_from_item(item: &Item) -> Result<RunIssue, StoreError> {
    let sk = get_s(item, "sk")?;
    Ok(RunIssue {
        id: sk.strip_prefix(LINK_PREFIX).unwrap_or(sk).to_string(),
        count: get_n(item, "count")?,
        recovered: get_n(item, "recovered")?,
        new: get_bool(item, "new").unwrap_or(false),
        regressed: get_bool(item, "regressed").unwrap_or(false),
    })
}

fn link_item(run: &str, issue: &RunIssue, now: i64) -> Item {
    let mut item = link_key(run, &issue.id);
    item.insert(TTL_ATTRIBUTE.into(), link_expiry(now));
    item.insert("count".into(), n(issue.count));
    item.insert("recovered".into(), n(issue.recovered));
    item.insert("new".into(), AttributeValue::Bool(issue.new));
    item.insert("regressed".into(), AttributeValue::Bool(issue.regressed));
    item
}

fn part_from_item(item: &Item) -> Result<BookPart, StoreError> {
    let pending = match opt_s(item, "pending")? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("a part's pending counts: {e}")))?,
        None => BTreeMap::new(),
    };
    Ok(BookPart {
        run_key: get_s(item, "run_key")?.to_string(),
        recovered: get_bool(item, "recovered"),
        pending,
    })
}

fn part_to_item(part: &BookPart, key: &str, ver: u64, now: i64) -> Item {
    let mut item = part_item_key(key);
    item.insert(TTL_ATTRIBUTE.into(), link_expiry(now));
    item.insert("run_key".into(), s(&part.run_key));
    item.insert("ver".into(), n(ver));
    if let Some(recovered) = part.recovered {
        item.insert("recovered".into(), AttributeValue::Bool(recovered));
    }
    if !part.pending.is_empty() {
        item.insert("pending".into(), s(json(&part.pending)));
    }
    item
}

/// A run's entry in the time index: what listings filter on before they
/// read the run item.
#[derive(Debug, Clone, PartialEq)]
struct IndexEntry {
    at: i64,
    job: String,
    log_group: String,
    settled_at: Option<i64>,
}

impl IndexEntry {
    /// The entry of `run` at `at` (`None`: a run folded into another has
    /// none).
    fn of(run: &StoredRun, live: bool, at: i64) -> Option<IndexEntry> {
        live.then(|| IndexEntry {
            at,
            job: run.run.job.clone(),
            log_group: run.run.log_group.clone(),
            settled_at: run.run.settled_at,
        })
    }

    fn to_item(&self, id: &str) -> Item {
        let mut item = index_key(self.at, id);
        item.insert("job".into(), s(&self.job));
        item.insert("log_group".into(), s(&self.log_group));
        item.insert(
            "settled".into(),
            AttributeValue::Bool(self.settled_at.is_some()),
        );
        if let Some(settled) = self.settled_at {
            item.insert(TTL_ATTRIBUTE.into(), expiry(settled, RUN_RETENTION_MS));
        }
        item
    }

    fn admits(item: &Item, filter: &RunFilter) -> Result<bool, StoreError> {
        Ok(filter
            .log_group
            .as_ref()
            .map_or(Ok(true), |g| get_s(item, "log_group").map(|v| v == g))?
            && filter
                .job
                .as_ref()
                .map_or(Ok(true), |j| get_s(item, "job").map(|v| v == j))?
            && (!filter.settled || get_bool(item, "settled").unwrap_or(false)))
    }
}

/// The time a run is indexed at, `indexed` the one it is at now: its start
/// (else end, else latest log event), except that a run known only by its
/// log events stays where it was first indexed (its first batch's latest
/// event) until it ends or settles: moving it with every batch would cost
/// a delete and a put each time. So a run still going without a stated
/// start lists by when it was first seen (SQLite lists it by its latest
/// event).
fn index_at(run: &Run, indexed: Option<i64>) -> i64 {
    match indexed {
        Some(at) if run.started.is_none() && run.ended.is_none() => at,
        _ => when(run),
    }
}

/// What one run chunk read: the shared book, and the `hint` of each run
/// item read (the `last_event` its unsettled entry holds).
#[derive(Debug, Default, Clone)]
struct Read {
    book: Book,
    hints: HashMap<String, i64>,
    /// The settlement rest of each run item read, written back unchanged.
    rests: HashMap<String, Rest>,
    /// The index time of each run item read that has one.
    ats: HashMap<String, i64>,
    /// The ids of the runs read with a fold not finished: they are
    /// finished before anything else is written to them.
    folding: Vec<String>,
    /// The tally of each run item read, and its links as their items say
    /// (the book's links have the tally added).
    tallies: HashMap<String, Tally>,
    link_items: HashMap<String, BTreeMap<String, RunIssue>>,
}

/// The chunk `chunk` of a run delta: the first carries the run and its
/// parts, the others only more of its issues.
fn delta_chunk(delta: &RunDelta, chunk: usize) -> RunDelta {
    let start = chunk * ISSUES_PER_RUN_WRITE;
    let end = (start + ISSUES_PER_RUN_WRITE).min(delta.issues.len());
    let issues = delta.issues.get(start..end).unwrap_or_default().to_vec();
    if chunk == 0 {
        return RunDelta {
            issues,
            ..delta.clone()
        };
    }
    let mut more = RunDelta::new(
        delta.key.clone(),
        delta.source,
        delta.job.clone(),
        delta.name.clone(),
    );
    more.log_group = delta.log_group.clone();
    more.issues = issues;
    more
}

/// Whether a run is due for settling at `now`, as the SQLite store's
/// settling query says.
fn is_due(run: &StoredRun, now: i64, settle_ms: i64, quiet_ms: i64) -> bool {
    if run.run.settled_at.is_some() {
        return false;
    }
    match run.run.ended {
        Some(_) => run
            .ended_at
            .is_some_and(|at| at <= now.saturating_sub(settle_ms)),
        None => run.run.last_event > 0 && run.run.last_event <= now.saturating_sub(quiet_ms),
    }
}

/// Whether `filter` admits `run`.
fn admits(filter: &RunFilter, run: &Run) -> bool {
    filter
        .log_group
        .as_ref()
        .is_none_or(|g| *g == run.log_group)
        && filter.job.as_ref().is_none_or(|j| *j == run.job)
        && (!filter.settled || run.settled_at.is_some())
}

/// The order runs are listed and settled in: by start (else end, else
/// latest log event), then key.
fn when(run: &Run) -> i64 {
    run.started.or(run.ended).unwrap_or(run.last_event)
}

/// A transaction's actions, and what to call it in errors.
struct Actions(Vec<TransactWriteItem>);

impl Actions {
    fn push_put(
        &mut self,
        table: &str,
        item: Item,
        condition: Option<(&str, Vec<(&str, AttributeValue)>)>,
    ) -> Result<(), StoreError> {
        let mut put = Put::builder().table_name(table).set_item(Some(item));
        if let Some((expression, values)) = condition {
            put = put.condition_expression(expression);
            for (name, value) in values {
                put = put.expression_attribute_values(name, value);
            }
            if expression.contains("#ver") {
                put = put.expression_attribute_names("#ver", "ver");
            }
        }
        let put = put
            .build()
            .map_err(|e| StoreError::Backend(format!("building a DynamoDB Put: {e}")))?;
        self.0.push(TransactWriteItem::builder().put(put).build());
        Ok(())
    }

    /// A Put conditioned on the item being as read: at `read_ver`, or not
    /// there.
    fn push_versioned(
        &mut self,
        table: &str,
        item: Item,
        read_ver: Option<u64>,
    ) -> Result<(), StoreError> {
        match read_ver {
            None => self.push_put(table, item, Some(("attribute_not_exists(pk)", Vec::new()))),
            Some(ver) => {
                self.push_put(table, item, Some(("#ver = :read", vec![(":read", n(ver))])))
            }
        }
    }

    /// A check that an item read but not written is still as read.
    fn push_check(
        &mut self,
        table: &str,
        key: Item,
        read_ver: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut check = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(key));
        check = match read_ver {
            None => check.condition_expression("attribute_not_exists(pk)"),
            Some(ver) => check
                .condition_expression("#ver = :read")
                .expression_attribute_names("#ver", "ver")
                .expression_attribute_values(":read", n(ver)),
        };
        let check = check
            .build()
            .map_err(|e| StoreError::Backend(format!("building a DynamoDB ConditionCheck: {e}")))?;
        self.0
            .push(TransactWriteItem::builder().condition_check(check).build());
        Ok(())
    }

    fn push_delete(&mut self, table: &str, key: Item) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(table)
            .set_key(Some(key))
            .build()
            .map_err(|e| StoreError::Backend(format!("building a DynamoDB Delete: {e}")))?;
        self.0
            .push(TransactWriteItem::builder().delete(delete).build());
        Ok(())
    }
}

/// How a transaction ended.
enum Sent {
    Committed,
    /// Its first action's condition failed (the marker exists: recorded
    /// before; or the run was settled meanwhile).
    FirstFailed,
    /// Another writer changed something it read: read again.
    LostRace,
}

impl DynamoDbStore {
    async fn send(&self, actions: Actions, token: String) -> Result<Sent, StoreError> {
        if actions.0.len() > MAX_ACTIONS {
            return Err(StoreError::Backend(format!(
                "DynamoDB table {}: a run write needs {} actions, more than a transaction's {MAX_ACTIONS}",
                self.table,
                actions.0.len()
            )));
        }
        let what = "TransactWriteItems (runs)";
        let reasons = match self.transact(actions.0, Some(token), what).await? {
            Transacted::Committed => return Ok(Sent::Committed),
            Transacted::Cancelled(reasons) => reasons,
        };
        if reasons.first().map(String::as_str) == Some("ConditionalCheckFailed") {
            return Ok(Sent::FirstFailed);
        }
        self.lost_race(&reasons, what)?;
        Ok(Sent::LostRace)
    }

    /// Every issue of a run, by a Query of its partition.
    async fn links_of(&self, id: &str) -> Result<BTreeMap<String, RunIssue>, StoreError> {
        let mut links = BTreeMap::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(format!("RUN#{id}")))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Query (a run's issues)", &self.table, e))?;
            for item in out.items() {
                let link = link_from_item(item)?;
                links.insert(link.id.clone(), link);
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(links),
            }
        }
    }

    /// Reads the runs (by key) and parts into `read`, with every issue of
    /// each run that is there.
    async fn read_into(
        &self,
        read: &mut Read,
        runs: &[String],
        parts: &[String],
    ) -> Result<(), StoreError> {
        let book = &mut read.book;
        let runs: Vec<&String> = runs
            .iter()
            .filter(|k| !book.runs.contains_key(*k))
            .collect();
        let parts: Vec<&String> = parts
            .iter()
            .filter(|k| !book.parts.contains_key(*k))
            .collect();
        let mut keys: Vec<Item> = runs.iter().map(|k| run_item_key(&run_id(k))).collect();
        keys.extend(parts.iter().map(|k| part_item_key(k)));
        let found = self.read_items_with(&keys, true, None).await?;
        let mut by_key: HashMap<(String, String), &Item> = HashMap::new();
        for item in &found {
            by_key.insert(
                (
                    get_s(item, "pk")?.to_string(),
                    get_s(item, "sk")?.to_string(),
                ),
                item,
            );
        }
        for key in runs {
            let id = run_id(key);
            let slot = match by_key.get(&(RUNS_PK.to_string(), id.clone())) {
                Some(item) => {
                    let found = RunItem::from_item(item)?;
                    let mut links = if found.live() {
                        self.links_of(&id).await?
                    } else {
                        BTreeMap::new()
                    };
                    read.link_items.insert(key.clone(), links.clone());
                    if !found.tally.is_empty() {
                        apply_tally(&mut links, &found.tally);
                        read.tallies.insert(key.clone(), found.tally);
                    }
                    if let Some(hint) = found.hint {
                        read.hints.insert(key.clone(), hint);
                    }
                    if let Some(rest) = found.rest {
                        read.rests.insert(key.clone(), rest);
                    }
                    if let Some(at) = found.at {
                        read.ats.insert(key.clone(), at);
                    }
                    if !found.folds.is_empty() {
                        read.folding.push(id.clone());
                    }
                    let run = BookRun {
                        stored: found.stored,
                        merged_into: found.merged_into,
                    };
                    RunSlot::read(Some(get_n(item, "ver")?), Some(run), links)
                }
                None => RunSlot::read(None, None, BTreeMap::new()),
            };
            read.book.runs.insert(key.clone(), slot);
        }
        for key in parts {
            let slot = match by_key.get(&(format!("PART#{key}"), PART_SK.to_string())) {
                Some(item) => {
                    PartSlot::read(Some(get_n(item, "ver")?), Some(part_from_item(item)?))
                }
                None => PartSlot::read(None, None),
            };
            read.book.parts.insert(key.clone(), slot);
        }
        Ok(())
    }

    /// Records what `batch` says about runs, after its issues (`recorded`
    /// says which of them it created or reopened; `delivered_before`: some
    /// of its issue chunks were recorded before, by an earlier delivery).
    /// Returns whether any of it was new (not recorded before).
    pub(super) async fn record_runs(
        &self,
        batch: &BatchSummary,
        recorded: &Recorded,
        delivered_before: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let chunks_of = |delta: &RunDelta| delta.issues.len().div_ceil(ISSUES_PER_RUN_WRITE).max(1);
        let mut done: HashSet<(usize, usize)> = HashSet::new();
        let mut recorded = recorded.clone();
        if delivered_before {
            // A batch without errors has one marker too (`CHUNK#0`).
            let issue_chunks = super::chunk_ranges(batch).len().max(1);
            let mut keys: Vec<Item> = (0..issue_chunks)
                .map(|c| super::items::marker_key(&batch.batch_id, c))
                .collect();
            for (delta_no, delta) in batch.runs.iter().enumerate() {
                keys.extend(
                    (0..chunks_of(delta)).map(|c| marker_key(&batch.batch_id, delta_no, c)),
                );
            }
            let markers = self.read_items_with(&keys, true, None).await?;
            if markers
                .iter()
                .any(|m| get_bool(m, RUNS_INLINE) == Some(true))
            {
                // Written with its issue chunk, which this delivery found
                // recorded.
                return Ok(false);
            }
            for marker in markers {
                let sk = get_s(&marker, "sk")?;
                if let Some(rest) = sk.strip_prefix("RUN#") {
                    if let Some((d, c)) = rest.split_once('#') {
                        if let (Ok(d), Ok(c)) = (d.parse(), c.parse()) {
                            done.insert((d, c));
                        }
                    }
                    continue;
                }
                for (name, ids) in [
                    ("created", &mut recorded.new_issues),
                    ("regressed", &mut recorded.regressions),
                ] {
                    for id in super::items::get_string_list(&marker, name)? {
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                }
            }
        }
        let mut wrote = false;
        for (delta_no, delta) in batch.runs.iter().enumerate() {
            for chunk in 0..chunks_of(delta) {
                if done.contains(&(delta_no, chunk)) {
                    continue;
                }
                let part = delta_chunk(delta, chunk);
                wrote |= self
                    .record_run_chunk(batch, &part, delta_no, chunk, &recorded, now)
                    .await?;
            }
        }
        Ok(wrote)
    }

    /// The writes that record the runs of `batches` (each batch's run
    /// deltas, rerouted, and what its issue chunk created and reopened),
    /// to go into the transaction of the batches' issue chunk, whose
    /// markers then guard them: the run markers of
    /// [`DynamoDbStore::record_runs`] are not needed, nor a transaction of
    /// their own. `None` when they need more than `room` actions (a delta
    /// with more issues than one run write takes, a fold too big to start
    /// beside the issues): they are then written after, on their own.
    pub(super) async fn inline_runs(
        &self,
        batches: &[(&[RunDelta], Recorded)],
        room: usize,
        now: i64,
    ) -> Result<Option<InlineRuns>, StoreError> {
        let deltas: Vec<(&RunDelta, &Recorded)> = batches
            .iter()
            .flat_map(|(deltas, recorded)| deltas.iter().map(move |d| (d, recorded)))
            .collect();
        if deltas
            .iter()
            .any(|(d, _)| d.issues.len() > ISSUES_PER_RUN_WRITE)
        {
            return Ok(None);
        }
        let read = loop {
            let mut read = Read::default();
            let (mut runs, mut parts) = (Vec::new(), Vec::new());
            for (delta, _) in &deltas {
                let (more_runs, more_parts) = run_book::to_read(delta);
                for (keys, more) in [(&mut runs, more_runs), (&mut parts, more_parts)] {
                    for key in more {
                        if !keys.contains(&key) {
                            keys.push(key);
                        }
                    }
                }
            }
            self.read_into(&mut read, &runs, &parts).await?;
            let targets: Vec<String> = deltas
                .iter()
                .filter_map(|(d, _)| read.book.redirect(d))
                .collect::<BTreeSet<String>>()
                .into_iter()
                .collect();
            if !targets.is_empty() {
                self.read_into(&mut read, &targets, &[]).await?;
            }
            if read.folding.is_empty() {
                break read;
            }
            // As for a run chunk of its own: a fold left unfinished is
            // finished first.
            for id in &read.folding {
                self.finish_folds(id, now).await?;
            }
        };
        let record = |fold_limit: Option<usize>| -> Result<(Read, Actions), StoreError> {
            let mut recording = read.clone();
            recording.book.fold_limit = fold_limit;
            for (delta, recorded) in &deltas {
                recording.book.record(delta, recorded, now)?;
            }
            let mut actions = Actions(Vec::new());
            self.write_book(&mut actions, &recording, now)?;
            Ok((recording, actions))
        };
        let (mut recording, mut actions) = record(None)?;
        if actions.0.len() > room {
            // Too many folded issues to move beside the issue chunk: the
            // fold is marked under way, and its issues move after.
            (recording, actions) = record(Some(0))?;
            if actions.0.len() > room {
                return Ok(None);
            }
        }
        let folding: BTreeSet<String> = recording
            .book
            .folds
            .iter()
            .map(|f| run_id(&f.run_key))
            .collect();
        Ok(Some(InlineRuns {
            actions: actions.0,
            folding: folding.into_iter().collect(),
        }))
    }

    /// Finishes the folds an inline run write left under way.
    pub(super) async fn finish_inline_folds(
        &self,
        runs: &InlineRuns,
        now: i64,
    ) -> Result<(), StoreError> {
        for id in &runs.folding {
            self.finish_folds(id, now).await?;
        }
        Ok(())
    }

    async fn record_run_chunk(
        &self,
        batch: &BatchSummary,
        delta: &RunDelta,
        delta_no: usize,
        chunk: usize,
        recorded: &Recorded,
        now: i64,
    ) -> Result<bool, StoreError> {
        for attempt in 0..MAX_CONTENDED_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let read = loop {
                let mut read = Read::default();
                let (runs, parts) = run_book::to_read(delta);
                self.read_into(&mut read, &runs, &parts).await?;
                if let Some(target) = read.book.redirect(delta) {
                    self.read_into(&mut read, &[target], &[]).await?;
                }
                if read.folding.is_empty() {
                    break read;
                }
                // A fold left unfinished (its writer died, or is still at
                // it) is finished first, so the fold's issues and this
                // delta's never meet in one run half moved.
                for id in &read.folding {
                    self.finish_folds(id, now).await?;
                }
            };
            let unrecorded = read.clone();
            let mut recording = read;
            recording.book.record(delta, recorded, now)?;
            let mut actions = self.run_chunk_actions(batch, delta_no, chunk, &recording, now)?;
            if actions.0.len() > MAX_ACTIONS {
                // Too many folded issues to move with the delta: it marks
                // the folds as under way, and they move in chunks after.
                recording = unrecorded;
                recording.book.fold_limit = Some(0);
                recording.book.record(delta, recorded, now)?;
                actions = self.run_chunk_actions(batch, delta_no, chunk, &recording, now)?;
            }
            let token = request_token(&batch.batch_id, 1000 + delta_no * 100 + chunk, attempt);
            match self.send(actions, token).await? {
                Sent::Committed => {
                    let targets: BTreeSet<&String> =
                        recording.book.folds.iter().map(|f| &f.run_key).collect();
                    for target in targets {
                        self.finish_folds(&run_id(target), now).await?;
                    }
                    return Ok(true);
                }
                Sent::FirstFailed => return Ok(false),
                Sent::LostRace => {
                    tracing::debug!(batch = %batch.batch_id, run = %delta.key, attempt, "run changed under us; re-reading");
                }
            }
        }
        Err(StoreError::Transient(format!(
            "DynamoDB table {}: run {} kept changing under concurrent writers ({MAX_CONTENDED_ATTEMPTS} attempts)",
            self.table, delta.key
        )))
    }

    /// The transaction of one run chunk: its marker, then what the book
    /// changed.
    fn run_chunk_actions(
        &self,
        batch: &BatchSummary,
        delta_no: usize,
        chunk: usize,
        read: &Read,
        now: i64,
    ) -> Result<Actions, StoreError> {
        let mut actions = Actions(Vec::new());
        let mut marker = marker_key(&batch.batch_id, delta_no, chunk);
        marker.insert("processed_at".into(), n(now));
        marker.insert(
            TTL_ATTRIBUTE.into(),
            n(now.saturating_add(BATCH_RETENTION_MS).div_euclid(1000)),
        );
        actions.push_put(
            &self.table,
            marker,
            Some(("attribute_not_exists(pk)", Vec::new())),
        )?;
        self.write_book(&mut actions, read, now)?;
        Ok(actions)
    }

    /// A run item as stored, with the version a write of it is conditioned
    /// on: what each chunk of a fold or a settlement starts from.
    async fn run_item_at(&self, id: &str) -> Result<Option<(u64, RunItem)>, StoreError> {
        let Some(read) = self.get_item(run_item_key(id), "GetItem (run)").await? else {
            return Ok(None);
        };
        Ok(Some((get_n(&read, "ver")?, RunItem::from_item(&read)?)))
    }

    /// Moves the issues of the parts' runs folded into run `id` whose
    /// folds are not finished (see [`Fold`]), a transaction of
    /// [`FOLD_ISSUES_PER_WRITE`] at a time: each writes the run item,
    /// conditioned on the version it read (so each chunk moves once however
    /// many writers finish the fold at once), the run's links with the
    /// part's counts added, and deletes the part's links it moved. The one
    /// that moves the last clears the fold, and the run's unsettled entry
    /// says no fold is under way.
    async fn finish_folds(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let table = self.table.as_str();
        let mut attempt = 0;
        loop {
            let Some((run_ver, mut item)) = self.run_item_at(id).await? else {
                return Ok(());
            };
            let Some(fold) = item.folds.first().cloned() else {
                return Ok(());
            };
            let part_id = run_id(&fold.part_key);
            let (mut moving, more) = self.links_page(&part_id, FOLD_ISSUES_PER_WRITE).await?;
            if let Some((_, part)) = self.run_item_at(&part_id).await? {
                apply_tally(&mut moving, &part.tally);
            }
            let keys: Vec<Item> = moving.keys().map(|issue| link_key(id, issue)).collect();
            let mut links = BTreeMap::new();
            for found in self.read_items_with(&keys, true, None).await? {
                let link = link_from_item(&found)?;
                links.insert(link.id.clone(), link);
            }
            apply_tally(&mut links, &item.tally);
            let run = BookRun {
                stored: item.stored.clone(),
                merged_into: None,
            };
            let mut book = Book::default();
            book.runs.insert(
                fold.run_key.clone(),
                RunSlot::read(Some(run_ver), Some(run), links),
            );
            book.runs
                .insert(fold.part_key.clone(), RunSlot::read(None, None, moving));
            book.folds.push(fold.clone());
            book.move_folds(None)?;
            if !more {
                item.folds.remove(0);
            }
            if let Some(target) = book.runs.get(&fold.run_key) {
                // Written whole below, with what the tally held.
                for issue in &target.dirty_links {
                    item.tally.remove(issue);
                }
            }
            let mut actions = Actions(Vec::new());
            actions.push_versioned(
                table,
                item.to_item(run_ver.saturating_add(1), now),
                Some(run_ver),
            )?;
            if item.folds.is_empty() {
                if item.stored.run.settled_at.is_some() {
                    actions.push_delete(table, unsettled_key(id))?;
                } else {
                    actions.push_put(table, unsettled_entry(&item, false), None)?;
                }
            }
            let (Some(target), Some(part)) =
                (book.runs.get(&fold.run_key), book.runs.get(&fold.part_key))
            else {
                return Err(StoreError::Backend(format!(
                    "run {id}: the fold of {} lost its run while moving its issues",
                    fold.part_key
                )));
            };
            for issue in &target.dirty_links {
                if let Some(link) = target.links.get(issue) {
                    actions.push_put(table, link_item(id, link, now), None)?;
                    if let Some(at) = item.at.filter(|_| !target.read_links.contains(issue)) {
                        actions.push_put(table, reverse_item(issue, at, id, now), None)?;
                    }
                }
            }
            for issue in &part.dropped_links {
                actions.push_delete(table, link_key(&part_id, issue))?;
            }
            match self.send(actions, request_token(id, 3, attempt)).await? {
                Sent::Committed => attempt = 0,
                Sent::FirstFailed | Sent::LostRace => {
                    attempt += 1;
                    if attempt >= MAX_CONTENDED_ATTEMPTS {
                        return Err(StoreError::Transient(format!(
                            "DynamoDB table {table}: run {id} kept changing while a part's issues were folded into it ({MAX_CONTENDED_ATTEMPTS} attempts); the next write to the run or the next settling tick goes on with it"
                        )));
                    }
                    tracing::debug!(run = %id, attempt, "run changed under a fold; re-reading");
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
    }

    /// Up to `limit` of a run's issues, in key order, and whether it has
    /// more.
    async fn links_page(
        &self,
        id: &str,
        limit: usize,
    ) -> Result<(BTreeMap<String, RunIssue>, bool), StoreError> {
        let page = i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("RUN#{id}")))
            .consistent_read(true)
            .limit(page)
            .send()
            .await
            .map_err(|e| classify("Query (a run's issues)", &self.table, e))?;
        let mut links = BTreeMap::new();
        for item in out.items().iter().take(limit) {
            let link = link_from_item(item)?;
            links.insert(link.id.clone(), link);
        }
        Ok((links, out.items().len() > limit))
    }

    /// The actions that write what `book` changed, and check what it read.
    fn write_book(&self, actions: &mut Actions, read: &Read, now: i64) -> Result<(), StoreError> {
        let table = self.table.as_str();
        let book = &read.book;
        for (run_key, slot) in &book.runs {
            let id = run_id(run_key);
            let Some(run) = slot.run.as_ref().filter(|_| slot.dirty) else {
                actions.push_check(table, run_item_key(&id), slot.read_ver)?;
                continue;
            };
            let folds: Vec<Fold> = book
                .folds
                .iter()
                .filter(|f| f.run_key == *run_key)
                .cloned()
                .collect();
            let mut item = RunItem {
                stored: run.stored.clone(),
                merged_into: run.merged_into.clone(),
                hint: read.hints.get(run_key).copied(),
                rest: read.rests.get(run_key).cloned(),
                at: None,
                folds,
                tally: Tally::new(),
            };
            let before = slot.read.as_ref();
            let read_at = read.ats.get(run_key).copied();
            let was = before
                .zip(read_at)
                .and_then(|(b, at)| IndexEntry::of(&b.stored, b.live(), at));
            let should = IndexEntry::of(
                &item.stored,
                item.live(),
                index_at(&item.stored.run, read_at),
            );
            item.at = should.as_ref().map(|e| e.at);
            let settled = item.stored.run.settled_at.is_some();
            let entry = if !item.live() {
                Entry::Delete
            } else if !item.folds.is_empty() {
                // The settling tick finds an unfinished fold by its entry.
                item.hint = Some(item.hint.unwrap_or(item.stored.run.last_event));
                Entry::Write
            } else if settled {
                Entry::Keep
            } else {
                let last = item.stored.run.last_event;
                // An entry written before the run had a log event (a job
                // event came first) would never make it due when quiet.
                let changed = before.is_none_or(|b| {
                    b.stored.ended_at != item.stored.ended_at
                        || b.stored.run.settled_at.is_some()
                        || b.merged_into.is_some()
                        || item.hint.is_none_or(|h| h <= 0 && last > 0)
                });
                if changed {
                    item.hint = Some(last);
                    Entry::Write
                } else {
                    Entry::Keep
                }
            };
            let whole = tally_links(&mut item, slot, read, run_key);
            let ver = slot.read_ver.map_or(1, |v| v.saturating_add(1));
            actions.push_versioned(table, item.to_item(ver, now), slot.read_ver)?;
            push_index(actions, table, &id, was, should)?;
            match entry {
                Entry::Write => {
                    let folding = !item.folds.is_empty();
                    actions.push_put(table, unsettled_entry(&item, folding), None)?;
                }
                Entry::Delete => actions.push_delete(table, unsettled_key(&id))?,
                Entry::Keep => {}
            }
            for link in whole {
                actions.push_put(table, link_item(&id, link, now), None)?;
                if let Some(at) = item.at.filter(|_| !slot.read_links.contains(&link.id)) {
                    actions.push_put(table, reverse_item(&link.id, at, &id, now), None)?;
                }
            }
            for issue in &slot.dropped_links {
                if slot.read_links.contains(issue) {
                    actions.push_delete(table, link_key(&id, issue))?;
                }
            }
        }
        for (part_key, slot) in &book.parts {
            match slot.part.as_ref().filter(|_| slot.dirty) {
                Some(part) => {
                    let ver = slot.read_ver.map_or(1, |v| v.saturating_add(1));
                    actions.push_versioned(
                        table,
                        part_to_item(part, part_key, ver, now),
                        slot.read_ver,
                    )?;
                }
                None if part_implied(book, part_key, slot) => {}
                None => actions.push_check(table, part_item_key(part_key), slot.read_ver)?,
            }
        }
        Ok(())
    }

    /// Settles every run that is due (see [`crate::store::Store::settle_runs`]),
    /// after finishing what earlier settlements left to write.
    pub(super) async fn settle_due(
        &self,
        now: i64,
        settle_ms: i64,
        policy: &Policy,
    ) -> Result<Vec<String>, StoreError> {
        let rules = policy.run_rules();
        let mut candidates = Vec::new();
        let entries = self
            .partition(UNSETTLED_PK, "Query (unsettled runs)")
            .await?;
        let indexed = entries
            .first()
            .is_some_and(|e| get_s(e, "sk").is_ok_and(|sk| sk == INDEXED_SK));
        if !indexed {
            self.index_runs(now).await?;
        }
        for entry in entries.iter().skip(usize::from(indexed)) {
            if get_bool(entry, "folding") == Some(true) {
                self.finish_folds(get_s(entry, "sk")?, now).await?;
            }
            let ended_at: Option<i64> = get_opt_n(entry, "ended_at")?;
            let last: i64 = get_opt_n(entry, "last_event")?.unwrap_or(0);
            let due = match ended_at {
                Some(at) => at <= now.saturating_sub(settle_ms),
                None => last > 0 && last <= now.saturating_sub(rules.quiet_ms),
            };
            if due {
                candidates.push(run_item_key(get_s(entry, "sk")?));
            }
        }
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let mut due: Vec<StoredRun> = Vec::new();
        for item in self.read_items_with(&candidates, true, None).await? {
            let read = RunItem::from_item(&item)?;
            if read.rest.is_some() {
                self.settle_rest(&read.stored.run.id, now).await?;
            } else if read.live() && is_due(&read.stored, now, settle_ms, rules.quiet_ms) {
                due.push(read.stored);
            } else if read.live()
                && read.stored.run.ended.is_none()
                && read.stored.run.settled_at.is_none()
            {
                // Its entry's `last_event` lags the run's log.
                self.catch_up_entry(&read.stored.run.id, read.stored.run.last_event)
                    .await?;
            }
        }
        due.sort_by(|a, b| {
            a.run
                .ended
                .unwrap_or(a.run.last_event)
                .cmp(&b.run.ended.unwrap_or(b.run.last_event))
                .then_with(|| a.run.key.cmp(&b.run.key))
        });
        let mut settled = Vec::new();
        for run in due {
            if self.settle_one(&run.run.id, now, settle_ms, policy).await? {
                settled.push(run.run.id);
            }
        }
        Ok(settled)
    }

    /// Moves the unsettled entry of run `id` up to the run's `last_event`,
    /// if the entry is still there and older; a write that finds it gone
    /// (the run settled meanwhile) or newer does nothing.
    async fn catch_up_entry(&self, id: &str, last_event: i64) -> Result<(), StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(unsettled_key(id)))
            .update_expression("SET last_event = :last")
            .condition_expression("attribute_exists(pk) AND last_event < :last")
            .expression_attribute_values(":last", n(last_event))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(classify("UpdateItem (an unsettled run)", &self.table, e)),
        }
    }

    /// The current state of `ids` (issue ids), for settling: what the
    /// lifecycle decides on, what alerts say, and the version each was read at.
    async fn issue_states(&self, ids: &BTreeSet<String>) -> Result<IssueStates, StoreError> {
        let keys: Vec<Item> = ids.iter().map(|i| issue_key(i)).collect();
        let mut states = IssueStates::default();
        for issue in self.read_items_with(&keys, true, None).await? {
            if get_s(&issue, "sk")? != ISSUE_SK {
                continue;
            }
            let issue_id = get_s(&issue, "issue_id")?.to_string();
            let status = get_s(&issue, "status")?;
            states.now.insert(
                issue_id.clone(),
                IssueNow {
                    status: Status::parse(status).ok_or_else(|| {
                        StoreError::Corrupt(format!("unknown issue status {status:?}"))
                    })?,
                    last_seen: get_n(&issue, "last_seen")?,
                    held: get_bool(&issue, "held").unwrap_or(false),
                },
            );
            states.vers.insert(issue_id.clone(), get_n(&issue, "ver")?);
            states.infos.insert(issue_id, issue_info(&issue)?);
        }
        Ok(states)
    }

    /// The update that sends an issue's held alert (`resolving`: and
    /// resolves it), conditioned on the version it was read at.
    fn issue_update(
        &self,
        issue: &str,
        ver: u64,
        resolving: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut expression = String::from("REMOVE held");
        if resolving {
            expression = "SET #s = :resolved REMOVE held, resolved_in, ignored_until, ignored_until_count, threshold_alerted_at".into();
        }
        expression.push_str(" ADD #ver :one");
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(issue_key(issue)))
            .update_expression(expression)
            .condition_expression("#ver = :read")
            .expression_attribute_names("#ver", "ver")
            .expression_attribute_values(":read", n(ver))
            .expression_attribute_values(":one", n(1));
        if resolving {
            update = update
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":resolved", s(Status::Resolved.as_str()));
        }
        let update = update
            .build()
            .map_err(|e| StoreError::Backend(format!("building a DynamoDB Update: {e}")))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Settles one run if it is still due; whether this call settled it.
    ///
    /// One transaction settles the run: the run, its job, its digest, and
    /// as many of the alerts it sends and the issues it resolves as fit;
    /// the rest ([`Rest`]) is written by [`Self::settle_rest`] in further
    /// transactions, each conditional on the run item.
    async fn settle_one(
        &self,
        id: &str,
        now: i64,
        settle_ms: i64,
        policy: &Policy,
    ) -> Result<bool, StoreError> {
        let rules = policy.run_rules();
        let table = self.table.as_str();
        for attempt in 0..MAX_CONTENDED_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let out = self
                .client
                .get_item()
                .table_name(table)
                .set_key(Some(run_item_key(id)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| classify("GetItem (run)", table, e))?;
            let Some(read) = out.item() else {
                return Ok(false);
            };
            let run_ver: u64 = get_n(read, "ver")?;
            let mut item = RunItem::from_item(read)?;
            if item.rest.is_some() {
                // Redriven before its last settlement was written out.
                self.settle_rest(id, now).await?;
                continue;
            }
            if !item.folds.is_empty() {
                // Settled with a part's issues half moved, its digest and
                // streaks would miss them.
                self.finish_folds(id, now).await?;
                continue;
            }
            if !item.live() || !is_due(&item.stored, now, settle_ms, rules.quiet_ms) {
                return Ok(false);
            }
            let was = item
                .at
                .and_then(|at| IndexEntry::of(&item.stored, true, at));
            let stored = &mut item.stored;
            if stored.run.ended.is_none() {
                stored.run.ended = Some(stored.run.last_event);
                stored.run.outcome = Outcome::Unknown;
                stored.ended_at = Some(now);
            }
            let mut links = self.links_of(id).await?;
            apply_tally(&mut links, &item.tally);
            let stored = &mut item.stored;
            stored.run.issues = run_book::listed(stored.run.outcome, links.into_values());
            let job = stored.run.job.clone();
            let job_read = self
                .client
                .get_item()
                .table_name(table)
                .set_key(Some(job_key(&job)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| classify("GetItem (job)", table, e))?;
            let (job_ver, settled_before, known) = match job_read.item() {
                Some(j) => (
                    Some(get_n::<u64>(j, "ver")?),
                    get_n::<u64>(j, "settled")?,
                    job_issues(j)?,
                ),
                None => (None, 0, Vec::new()),
            };
            let seq = settled_before.saturating_add(1);
            let mut ids: Vec<String> = stored.run.issues.iter().map(|i| i.id.clone()).collect();
            if rules.auto_resolve_after.is_some() {
                ids.extend(known.iter().map(|j| j.issue_id.clone()));
            }
            let ids: BTreeSet<String> = ids.into_iter().collect();
            let states = self.issue_states(&ids).await?;
            let settlement = lifecycle::settle(&stored.run, seq, &known, &states.now, &rules);

            let mut alerts = Vec::new();
            if settlement.digest {
                alerts.push(run_fold::digest_alert(&stored.run, &states.infos, now));
            }
            // The run, its index entry (a delete and a put when its time
            // moved), its job and its unsettled entry's deletion, beside the
            // digest: what is left of a transaction goes to the held alerts
            // (an update and an alert each) and the resolutions.
            let room = MAX_ACTIONS.saturating_sub(5 + alerts.len());
            let announced: HashSet<&String> = settlement.announce.iter().collect();
            let mut rest = Rest {
                announce: settlement.announce.clone(),
                resolve: settlement
                    .resolve
                    .iter()
                    .filter(|id| !announced.contains(id))
                    .cloned()
                    .collect(),
            };
            let announce: Vec<String> = rest
                .announce
                .drain(..rest.announce.len().min(room / 2))
                .collect();
            let resolve_room = room.saturating_sub(announce.len() * 2);
            let resolve: Vec<String> = rest
                .resolve
                .drain(..rest.resolve.len().min(resolve_room))
                .collect();

            let mut actions = Actions(Vec::new());
            stored.seq = Some(seq);
            stored.run.settled_at = Some(now);
            let more = !rest.is_empty();
            item.rest = more.then_some(rest);
            let at = when(&item.stored.run);
            item.at = Some(at);
            let should = IndexEntry::of(&item.stored, true, at);
            let run_item = item.to_item(run_ver.saturating_add(1), now);
            actions.push_versioned(table, run_item, Some(run_ver))?;
            push_index(&mut actions, table, id, was, should)?;
            let stored = &item.stored;
            let mut streaks: BTreeMap<String, JobIssue> =
                known.into_iter().map(|j| (j.issue_id.clone(), j)).collect();
            for j in &settlement.job_issues {
                streaks.insert(j.issue_id.clone(), j.clone());
            }
            let mut job_item = job_key(&job);
            job_item.insert("settled".into(), n(seq));
            job_item.insert("ver".into(), n(job_ver.map_or(1, |v| v.saturating_add(1))));
            let rows: Vec<(&str, u64, u32)> = streaks
                .values()
                .map(|j| (j.issue_id.as_str(), j.last_run, j.streak))
                .collect();
            job_item.insert("issues".into(), s(json(&rows)));
            actions.push_versioned(table, job_item, job_ver)?;
            if !more {
                actions.push_delete(table, unsettled_key(id))?;
            }
            for issue in &announce {
                if let Some(info) = states.infos.get(issue) {
                    alerts.push(run_fold::announce_alert(
                        &stored.run,
                        issue,
                        info,
                        &stored.run.log_group,
                        now,
                    ));
                }
            }
            for issue in announce.iter().chain(resolve.iter()) {
                let Some(ver) = states.vers.get(issue) else {
                    continue;
                };
                let resolving = settlement.resolve.contains(issue);
                actions.0.push(self.issue_update(issue, *ver, resolving)?);
            }
            for mut alert in alerts {
                bound_alert(&mut alert);
                actions.push_put(table, outbox_item(&alert, now)?, None)?;
            }
            match self.send(actions, request_token(id, 0, attempt)).await? {
                Sent::Committed => {
                    if more {
                        self.settle_rest(id, now).await?;
                    }
                    return Ok(true);
                }
                Sent::FirstFailed | Sent::LostRace => {
                    tracing::debug!(run = %id, attempt, "run or job changed under us; re-reading");
                }
            }
        }
        Err(StoreError::Transient(format!(
            "DynamoDB table {}: run {id} kept changing under concurrent settlers ({MAX_CONTENDED_ATTEMPTS} attempts)",
            self.table
        )))
    }

    /// Writes what a settled run's settlement left ([`Rest`]), a
    /// transaction at a time. Each takes a chunk off the run item's rest,
    /// conditioned on the version it read, so a chunk is written once
    /// however many settlers race; the last deletes the unsettled entry.
    /// What changed since the run settled is checked again: an issue that
    /// occurred since its run started is not resolved, and a held alert
    /// that went out meanwhile is not sent twice.
    async fn settle_rest(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let table = self.table.as_str();
        let mut attempt = 0;
        loop {
            let Some((run_ver, mut item)) = self.run_item_at(id).await? else {
                return Ok(());
            };
            let Some(mut rest) = item.rest.take() else {
                return Ok(());
            };
            // The run item and the entry's deletion, then an update and
            // an alert per held alert, an update per resolution.
            let room = MAX_ACTIONS - 2;
            let announce: Vec<String> = rest
                .announce
                .drain(..rest.announce.len().min(room / 2))
                .collect();
            let resolve_room = room - announce.len() * 2;
            let resolve: Vec<String> = rest
                .resolve
                .drain(..rest.resolve.len().min(resolve_room))
                .collect();
            let ids: BTreeSet<String> = announce.iter().chain(&resolve).cloned().collect();
            let states = self.issue_states(&ids).await?;
            let done = rest.is_empty();
            item.rest = (!done).then_some(rest);
            let mut actions = Actions(Vec::new());
            actions.push_versioned(
                table,
                item.to_item(run_ver.saturating_add(1), now),
                Some(run_ver),
            )?;
            if done {
                actions.push_delete(table, unsettled_key(id))?;
            }
            let run = &item.stored.run;
            let since = run.started.or(run.ended).unwrap_or(i64::MAX);
            for issue in &announce {
                let (Some(state), Some(ver), Some(info)) = (
                    states.now.get(issue),
                    states.vers.get(issue),
                    states.infos.get(issue),
                ) else {
                    continue;
                };
                if !state.held {
                    continue;
                }
                actions.0.push(self.issue_update(issue, *ver, false)?);
                let mut alert = run_fold::announce_alert(run, issue, info, &run.log_group, now);
                bound_alert(&mut alert);
                actions.push_put(table, outbox_item(&alert, now)?, None)?;
            }
            for issue in &resolve {
                let (Some(state), Some(ver)) = (states.now.get(issue), states.vers.get(issue))
                else {
                    continue;
                };
                if state.status == Status::Open && state.last_seen < since {
                    actions.0.push(self.issue_update(issue, *ver, true)?);
                }
            }
            match self.send(actions, request_token(id, 1, attempt)).await? {
                Sent::Committed => attempt = 0,
                Sent::FirstFailed | Sent::LostRace => {
                    attempt += 1;
                    if attempt >= MAX_CONTENDED_ATTEMPTS {
                        return Err(StoreError::Transient(format!(
                            "DynamoDB table {}: run {id}'s settlement kept changing under concurrent settlers ({MAX_CONTENDED_ATTEMPTS} attempts); the next settling tick goes on with it",
                            self.table
                        )));
                    }
                    tracing::debug!(run = %id, attempt, "run or an issue changed under us; re-reading");
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
    }

    /// Whether every run is in the time index (see [`Self::index_runs`]).
    async fn indexed(&self) -> Result<bool, StoreError> {
        Ok(self
            .get_item(indexed_marker_key(), "GetItem (runs index marker)")
            .await?
            .is_some())
    }

    /// Brings runs written before the time index existed into it: each
    /// live run gets its index entry (and `at`, conditioned on its `ver`:
    /// a writer that got there first wrote both itself), each of its
    /// issues' links to it is keyed by time, and its links get the TTL
    /// they lacked. Then the marker says listings may read the index. Every
    /// step is idempotent: a settler that dies half way starts again.
    pub(super) async fn index_runs(&self, now: i64) -> Result<(), StoreError> {
        let table = self.table.as_str();
        for item in self.partition(RUNS_PK, "Query (runs)").await? {
            let mut read = RunItem::from_item(&item)?;
            if !read.live() {
                continue;
            }
            let id = read.stored.run.id.clone();
            let at = match read.at {
                Some(at) => at,
                None => {
                    let at = when(&read.stored.run);
                    let ver: u64 = get_n(&item, "ver")?;
                    read.at = Some(at);
                    let mut actions = Actions(Vec::new());
                    actions.push_versioned(
                        table,
                        read.to_item(ver.saturating_add(1), now),
                        Some(ver),
                    )?;
                    push_index(
                        &mut actions,
                        table,
                        &id,
                        None,
                        IndexEntry::of(&read.stored, true, at),
                    )?;
                    match self.send(actions, request_token(&id, 2, 0)).await? {
                        Sent::Committed => at,
                        // Written meanwhile, by code that indexes it.
                        Sent::FirstFailed | Sent::LostRace => {
                            match self.get_item(run_item_key(&id), "GetItem (run)").await? {
                                Some(again) => match RunItem::from_item(&again)?.at {
                                    Some(at) => at,
                                    None => {
                                        return Err(StoreError::Transient(format!(
                                            "DynamoDB table {table}: run {id} changed while it was being indexed; the next settling goes on"
                                        )));
                                    }
                                },
                                None => continue,
                            }
                        }
                    }
                }
            };
            for issue in self.links_of(&id).await?.into_keys() {
                self.client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(reverse_item(&issue, at, &id, now)))
                    .send()
                    .await
                    .map_err(|e| classify("PutItem (an issue's run)", table, e))?;
                self.client
                    .delete_item()
                    .table_name(table)
                    .set_key(Some(unindexed_reverse_key(&issue, &id)))
                    .send()
                    .await
                    .map_err(|e| classify("DeleteItem (an issue's run)", table, e))?;
                self.client
                    .update_item()
                    .table_name(table)
                    .set_key(Some(link_key(&id, &issue)))
                    .update_expression("SET #e = if_not_exists(#e, :e)")
                    .expression_attribute_names("#e", TTL_ATTRIBUTE)
                    .expression_attribute_values(":e", link_expiry(now))
                    .send()
                    .await
                    .map_err(|e| classify("UpdateItem (a run's issue)", table, e))?;
            }
        }
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(indexed_marker_key()))
            .send()
            .await
            .map_err(|e| classify("PutItem (runs index marker)", table, e))?;
        Ok(())
    }

    /// Up to `limit` run items whose keys a Query of `pk` in descending
    /// time order gives, `admit` choosing among its items before the runs
    /// are read; pages on until `limit` live runs are found or the
    /// partition ends, so merged or expired runs cost a little more. Each
    /// page asks for the runs still missing, plus `slack` when `admit`
    /// filters (fewer requests for a listing of one job among many).
    async fn newest(
        &self,
        pk: &str,
        limit: usize,
        slack: usize,
        admit: impl Fn(&Item) -> Result<bool, StoreError>,
        filter: &RunFilter,
    ) -> Result<Vec<(Run, Tally)>, StoreError> {
        let mut runs = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let missing = limit.saturating_sub(runs.len()).max(1);
            let page = i32::try_from(missing.saturating_add(slack)).unwrap_or(i32::MAX);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk >= :zero")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":zero", s("0"))
                .scan_index_forward(false)
                .limit(page)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Query (newest runs)", &self.table, e))?;
            let mut keys = Vec::new();
            for entry in out.items() {
                if admit(entry)? {
                    keys.push(run_item_key(run_of(get_s(entry, "sk")?)));
                }
            }
            for item in self.read_items_with(&keys, true, None).await? {
                let read = RunItem::from_item(&item)?;
                if read.live() && admits(filter, &read.stored.run) {
                    runs.push((read.stored.run, read.tally));
                }
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() && runs.len() < limit => start = Some(key.clone()),
                _ => return Ok(runs),
            }
        }
    }

    /// Runs admitted by `filter`, newest first, with their issues: the
    /// newest entries of the time index, as many as the limit asks, once
    /// every run is in it; the whole `RUNS` partition for a listing without
    /// a limit or before then.
    pub(super) async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<Run>, StoreError> {
        if let Some(limit) = filter.limit {
            if self.indexed().await? {
                let filtered = filter.log_group.is_some() || filter.job.is_some() || filter.settled;
                let slack = if filtered { 25 } else { 0 };
                let runs = self
                    .newest(
                        BY_TIME_PK,
                        limit,
                        slack,
                        |e| IndexEntry::admits(e, filter),
                        filter,
                    )
                    .await?;
                return self.finish_listing(runs, Some(limit)).await;
            }
        }
        let mut runs = Vec::new();
        for item in self.partition(RUNS_PK, "Query (runs)").await? {
            let read = RunItem::from_item(&item)?;
            if read.live() && admits(filter, &read.stored.run) {
                runs.push((read.stored.run, read.tally));
            }
        }
        self.finish_listing(runs, filter.limit).await
    }

    /// Sorts newest first, keeps `limit`, and reads each run's issues.
    async fn finish_listing(
        &self,
        mut runs: Vec<(Run, Tally)>,
        limit: Option<usize>,
    ) -> Result<Vec<Run>, StoreError> {
        runs.sort_by(|(a, _), (b, _)| when(b).cmp(&when(a)).then_with(|| a.key.cmp(&b.key)));
        if let Some(limit) = limit {
            runs.truncate(limit);
        }
        let mut listed = Vec::with_capacity(runs.len());
        for (mut run, tally) in runs {
            let mut links = self.links_of(&run.id).await?;
            apply_tally(&mut links, &tally);
            run.issues = run_book::listed(run.outcome, links.into_values());
            listed.push(run);
        }
        Ok(listed)
    }

    /// One run by exact id.
    pub(super) async fn run_by_id(&self, id: &str) -> Result<Option<Run>, StoreError> {
        let Some(item) = self.get_item(run_item_key(id), "GetItem (run)").await? else {
            return Ok(None);
        };
        let read = RunItem::from_item(&item)?;
        if !read.live() {
            return Ok(None);
        }
        let mut links = self.links_of(id).await?;
        apply_tally(&mut links, &read.tally);
        let mut run = read.stored.run;
        run.issues = run_book::listed(run.outcome, links.into_values());
        Ok(Some(run))
    }

    /// The runs an issue appeared in, newest first: the newest of its
    /// links, keyed by time, once every run is indexed; all of them before.
    pub(super) async fn runs_of_issue(
        &self,
        issue: &str,
        limit: usize,
    ) -> Result<Vec<Run>, StoreError> {
        let pk = format!("ISSUERUNS#{issue}");
        let all = RunFilter::default();
        if self.indexed().await? {
            let runs = self.newest(&pk, limit, 0, |_| Ok(true), &all).await?;
            return self.finish_listing(runs, Some(limit)).await;
        }
        let keys: Vec<Item> = self
            .partition(&pk, "Query (an issue's runs)")
            .await?
            .iter()
            .map(|link| get_s(link, "sk").map(|sk| run_item_key(run_of(sk))))
            .collect::<Result<_, _>>()?;
        let mut runs = Vec::new();
        for item in self.read_items_with(&keys, true, None).await? {
            let read = RunItem::from_item(&item)?;
            if read.live() {
                runs.push((read.stored.run, read.tally));
            }
        }
        self.finish_listing(runs, Some(limit)).await
    }
}

/// Issues as settling reads them, by id.
#[derive(Debug, Default)]
struct IssueStates {
    now: HashMap<String, IssueNow>,
    infos: HashMap<String, IssueInfo>,
    vers: HashMap<String, u64>,
}

/// The actions that move a run's index entry from `was` to `should`: none
/// when it did not change, a delete when its time did, a put of the new.
fn push_index(
    actions: &mut Actions,
    table: &str,
    id: &str,
    was: Option<IndexEntry>,
    should: Option<IndexEntry>,
) -> Result<(), StoreError> {
    if was == should {
        return Ok(());
    }
    if let Some(was) = &was {
        if should.as_ref().is_none_or(|s| s.at != was.at) {
            actions.push_delete(table, index_key(was.at, id))?;
        }
    }
    if let Some(should) = should {
        actions.push_put(table, should.to_item(id), None)?;
    }
    Ok(())
}

/// A run's unsettled entry: the `last_event` its item's `hint` says (else
/// its own), its end once ended, and whether a fold into it is unfinished.
fn unsettled_entry(item: &RunItem, folding: bool) -> Item {
    let run = &item.stored.run;
    let mut e = unsettled_key(&run.id);
    e.insert("last_event".into(), n(item.hint.unwrap_or(run.last_event)));
    if let Some(at) = item.stored.ended_at.filter(|_| run.ended.is_some()) {
        e.insert("ended_at".into(), n(at));
    }
    if folding {
        e.insert("folding".into(), AttributeValue::Bool(true));
    }
    e
}

/// Sets `item`'s tally for what `slot` changed of its links (read as
/// `read` says), and answers the links to write whole: those the run did
/// not have, those whose flags changed, and, when the item would outgrow
/// [`RUN_ITEM_BYTES`], every one it changed.
fn tally_links<'a>(
    item: &mut RunItem,
    slot: &'a RunSlot,
    read: &Read,
    run_key: &str,
) -> Vec<&'a RunIssue> {
    let stored = read.link_items.get(run_key);
    // Entries of links still there and not changed now stay as read.
    let mut tally: Tally = read
        .tallies
        .get(run_key)
        .map(|t| {
            t.iter()
                .filter(|(id, _)| slot.links.contains_key(*id) && !slot.dirty_links.contains(*id))
                .map(|(id, add)| (id.clone(), *add))
                .collect()
        })
        .unwrap_or_default();
    let kept = tally.clone();
    let mut whole = Vec::new();
    let mut tallied = Vec::new();
    for issue in &slot.dirty_links {
        let Some(link) = slot.links.get(issue) else {
            continue;
        };
        match stored
            .and_then(|l| l.get(issue))
            .and_then(|s| tally_of(s, link))
        {
            Some((0, 0)) => {}
            Some(add) => {
                tally.insert(issue.clone(), add);
                tallied.push(link);
            }
            None => whole.push(link),
        }
    }
    item.tally = tally;
    if !tallied.is_empty() && approx_size(&item.to_item(u64::MAX, 0)) > RUN_ITEM_BYTES {
        item.tally = kept;
        whole.extend(tallied);
    }
    whole
}

/// Whether a part read as not there needs no check: its own run was read
/// live, and the transaction writes or checks that run at the version
/// read. A job event that made it a part since then folded that run (a
/// new version); one that made it a part before the run was first written
/// would have been seen by that write, or refused by its check. So a
/// container task's run (a part of nothing, most of them) checks its part
/// on its first batch only.
fn part_implied(book: &Book, part_key: &str, part: &PartSlot) -> bool {
    part.read_ver.is_none()
        && book.runs.get(part_key).is_some_and(|run| {
            run.read_ver.is_some() && run.read.as_ref().is_some_and(BookRun::live)
        })
}

/// What [`DynamoDbStore::write_book`] does with a run's unsettled entry.
enum Entry {
    Write,
    Delete,
    Keep,
}

fn job_issues(item: &Item) -> Result<Vec<JobIssue>, StoreError> {
    let Some(text) = opt_s(item, "issues")? else {
        return Ok(Vec::new());
    };
    let rows: Vec<(String, u64, u32)> = serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("a job's issues: {e}")))?;
    Ok(rows
        .into_iter()
        .map(|(issue_id, last_run, streak)| JobIssue {
            issue_id,
            last_run,
            streak,
        })
        .collect())
}

/// What an alert about an issue says of it, from its item: the newest of
/// its samples by time.
fn issue_info(item: &Item) -> Result<IssueInfo, StoreError> {
    let samples = super::items::get_string_list(item, "samples")?;
    let sample = samples
        .iter()
        .filter_map(|json| serde_json::from_str::<Sample>(json).ok())
        .max_by_key(|s| s.timestamp);
    Ok(IssueInfo {
        fingerprint: get_s(item, "fingerprint")?.to_string(),
        kind: get_s(item, "kind")?.to_string(),
        title: get_s(item, "title")?.to_string(),
        count: get_n(item, "count")?,
        first_seen: get_n(item, "first_seen")?,
        sample,
    })
}
