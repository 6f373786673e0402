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
//! | run | `RUNS` | `<run id>` | `key source job name log_group outcome last_event errors recovered ver`, and when set `started ended ended_at items failed_items seq settled_at merged_into hint expires_at rest at folds tally nlinks` |
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
//! issue of its last run and per open issue waiting for auto-resolution,
//! see [`crate::runs::lifecycle::Settlement::forget`], and at most
//! [`crate::limits::MAX_JOB_ISSUES`] of them), because DynamoDB bills a write by the size of
//! the item written. A batch of a run already seen, with issues the run
//! already has, writes the run item only (2 units in a transaction): its
//! issues' counts go to the run item's `tally` ([`Tally`]), the unsettled
//! entry is not moved (see Settling), no part is checked
//! ([`record::part_implied`]), and no marker of its own is needed (below)
//! (BENCHMARKS.md). It reads the run item, its part, and the links of the
//! issues it touches: by key when that costs less than a `Query` of the
//! run's whole link partition, as the run item's `nlinks` says
//! ([`links_by_key`]), so a hot issue's batch reads no more in a run of
//! hundreds of issues than in a run of one. That read comes before the
//! issues are planned ([`DynamoDbStore::read_runs`]): an issue the run
//! already has takes no sample ([`crate::store::fold::choose_sample`]), so
//! such a batch writes its marker, the issue's head and day and the run
//! item, 8 units, never a sample beside them. Run items share one partition so that listing them is
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
//! part would have changed (see [`record::part_implied`]).
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
//! the rest to the next settling tick, which finds the entry. A settlement
//! that folds its announcements into one alert
//! ([`crate::runs::lifecycle::Settlement::announce_folded`]) queues it in
//! the first transaction, beside the run it settles, so no later chunk can
//! queue it again; its rest only clears holds (one action each).
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
//! every link, as before. A run whose item does not read is left out with
//! a warning naming `faultline runs forget`, and the marker is written all
//! the same (why: [`DynamoDbStore::index_runs`]).
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
//! on, which no longer need the runs they came from; settling drops the
//! records of issues no later settlement needs (not in the run, and not
//! open and waiting for auto-resolution), so a job item does not grow with
//! every issue the job ever had. Readers do not filter
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
//!   without a limit, and resolving a prefix or a name a user typed to a
//!   run ([`DynamoDbStore::names_of_runs`], which reads no links), still
//!   read the whole `RUNS` partition, of the runs kept.

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

mod fold;
mod forget;
mod listing;
mod record;
mod settle;

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

/// The runs of a transaction's batches as read before their issues are
/// planned ([`DynamoDbStore::read_runs`]): what the runs had already
/// decides which issues take no sample, and the same read records the
/// runs inline.
pub(super) struct RunsRead {
    read: Read,
    /// Whether it read every link recording the runs needs, or only those
    /// of some issues (enough to say which the runs had).
    whole: bool,
}

impl RunsRead {
    /// The issues of a batch with run deltas `deltas` that take no sample
    /// ([`run_book::unsampled`]).
    pub fn unsampled(&self, deltas: &[RunDelta]) -> BTreeSet<String> {
        run_book::unsampled(&self.read.book, deltas)
    }
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
    /// About how many link items the run has (`None`: written before it
    /// was kept). Only chooses how a batch reads the links it needs (see
    /// [`links_by_key`]): a wrong figure costs read units, never a count.
    nlinks: Option<u64>,
}

/// About the bytes of a run's link item as DynamoDB sizes it (keys of a
/// 12-digit run id and an issue id, counts, flags, expiry: about 100).
const LINK_ITEM_BYTES: u64 = 128;

/// Whether reading `wanted` links of a run with about `nlinks` of them one
/// by one (a `BatchGetItem`, each item billed at least a read unit, even
/// when it is not there) costs fewer units than a `Query` of the run's
/// whole partition (billed by the bytes it returns, a unit per 4 KB).
/// A batch of a hot issue wants one link: in a run of hundreds of issues
/// the `Query` read them all on every batch.
fn links_by_key(wanted: usize, nlinks: u64) -> bool {
    let query_units = nlinks.saturating_mul(LINK_ITEM_BYTES).div_ceil(4096).max(1);
    (wanted as u64) < query_units
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
    /// The announcements' one alert went out with the run's settlement:
    /// `announce` only has holds left to clear.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    folded: bool,
}

impl Rest {
    fn is_empty(&self) -> bool {
        self.announce.is_empty() && self.resolve.is_empty()
    }
}

/// Whether a run item is folded into another run: not a run of its own.
/// Only `merged_into` is read, so this holds of a damaged item too.
fn folded(item: &Item) -> bool {
    matches!(item.get("merged_into"), Some(AttributeValue::S(_)))
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
            nlinks: get_opt_n(item, "nlinks")?,
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
            ("nlinks", self.nlinks.map(n)),
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
    /// How many link items each live run read has: counted when its
    /// partition was read whole, as its item says when only some links
    /// were read.
    nlinks: HashMap<String, u64>,
    /// The runs whose links were read by key, only those the batch
    /// touches: the book does not hold their other issues.
    partial: HashSet<String>,
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

    /// The run item `run`, read at `read_ver` (`None`: not there), written
    /// at the next version (1 for a new run) on the condition that it is
    /// still as read: the run item is the lock of everything under it, so
    /// every write of a run goes through here.
    fn push_run(
        &mut self,
        table: &str,
        run: &RunItem,
        read_ver: Option<u64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let ver = read_ver.map_or(1, |v| v.saturating_add(1));
        self.push_versioned(table, run.to_item(ver, now), read_ver)
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
}

/// What [`DynamoDbStore::write_book`] does with a run's unsettled entry.
enum Entry {
    Write,
    Delete,
    Keep,
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

/// The order runs are listed and settled in: by start (else end, else
/// latest log event), then key.
fn when(run: &Run) -> i64 {
    run.started.or(run.ended).unwrap_or(run.last_event)
}
