//! The run bookkeeping of one run delta, written once for both stores.
//!
//! A store reads the runs and parts a delta needs ([`to_read`], then the
//! run a part redirects to, [`Book::redirect`]) into a [`Book`], lets
//! [`Book::record`] do what the delta says, and writes what changed in its
//! own atomic way (SQLite in the batch's transaction, DynamoDB in a
//! conditional one). What it does, with [`super::run_fold`]'s decisions:
//!
//! - a delta logged under a part's key (a Batch attempt's task) counts in
//!   the run the part belongs to, and its counts wait for the job event
//!   that says whether a later attempt recovered them;
//! - a job event names a run's parts: a run recorded under a part's key
//!   before (its logs came first) is folded into the job's run and marked
//!   merged, and a part whose outcome becomes known settles its pending
//!   counts. The folded run's counts move at once, its issues by
//!   [`Book::move_folds`]: all of them with the rest of the delta, or (a
//!   store whose transactions are bounded) some now and the rest later, as
//!   [`Book::folds`] says;
//! - a run that succeeded got past every error, so its issues read as
//!   recovered ([`listed`]) without each being rewritten.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Outcome, Recorded, RunDelta, RunIssue};
use crate::store::StoreError;
use crate::store::run_fold::{self, IssueAdd, StoredRun};

/// The key prefix of a container task's run ([`crate::runs::container::key`]):
/// only a task can be a part of another run.
pub const TASK_PREFIX: &str = "task:";

/// A run as a store keeps it, for the book.
#[derive(Debug, Clone, PartialEq)]
pub struct BookRun {
    pub stored: StoredRun,
    /// The run this one was folded into, once it was.
    pub merged_into: Option<String>,
}

impl BookRun {
    pub fn live(&self) -> bool {
        self.merged_into.is_none()
    }
}

/// A part as a store keeps it: the run it belongs to, whether it recovered
/// once that is known, and until then the counts waiting for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BookPart {
    pub run_key: String,
    pub recovered: Option<bool>,
    pub pending: BTreeMap<String, u64>,
}

/// The runs and parts (by key) to read before recording `delta`; the run a
/// part redirects to comes after ([`Book::redirect`]).
pub fn to_read(delta: &RunDelta) -> (Vec<String>, Vec<String>) {
    let mut runs = vec![delta.key.clone()];
    // Only a task can be a part of another run: other runs need no part
    // read (nor, on DynamoDB, its check, billed as a write).
    let mut parts = Vec::new();
    if delta.key.starts_with(TASK_PREFIX) {
        parts.push(delta.key.clone());
    }
    for part in &delta.parts {
        runs.push(part.key.clone());
        parts.push(part.key.clone());
    }
    (runs, parts)
}

/// The issues a batch whose run deltas are `deltas` takes no sample of
/// ([`crate::store::fold::choose_sample`]): those that every run the batch
/// counts them in already had, as `book` read them (each delta's runs and
/// parts, and the run a part redirects to).
pub fn unsampled(book: &Book, deltas: &[RunDelta]) -> BTreeSet<String> {
    let mut had = BTreeSet::new();
    let mut new = BTreeSet::new();
    for delta in deltas {
        let before = book.had(delta);
        for add in run_fold::issue_adds(delta) {
            if before.contains(&add.issue_id) {
                had.insert(add.issue_id);
            } else {
                new.insert(add.issue_id);
            }
        }
    }
    had.difference(&new).cloned().collect()
}

/// A run's issues as listed: most occurrences first; all recovered once the
/// run succeeded, also those counted before its end.
pub fn listed(run_outcome: Outcome, links: impl IntoIterator<Item = RunIssue>) -> Vec<RunIssue> {
    let succeeded = run_outcome == Outcome::Succeeded;
    let mut issues: Vec<RunIssue> = links
        .into_iter()
        .map(|mut i| {
            if succeeded {
                i.recovered = i.count;
            }
            i
        })
        .collect();
    issues.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
    issues
}

impl RunSlot {
    /// A run as read: `run` (`None`: not there) with its issues.
    pub fn read(
        read_ver: Option<u64>,
        run: Option<BookRun>,
        links: BTreeMap<String, RunIssue>,
    ) -> RunSlot {
        RunSlot {
            read_ver,
            read: run.clone(),
            run,
            read_links: links.keys().cloned().collect(),
            links,
            dirty: false,
            dirty_links: BTreeSet::new(),
            dropped_links: BTreeSet::new(),
        }
    }
}

impl PartSlot {
    /// A part as read (`None`: not there).
    pub fn read(read_ver: Option<u64>, part: Option<BookPart>) -> PartSlot {
        PartSlot {
            read_ver,
            part,
            dirty: false,
        }
    }
}

/// A run as read into the working set, with its issues: all of them, or
/// at least those the deltas recorded into it touch when none of them
/// links parts (a fold moves a part's run's issues whole).
#[derive(Debug, Clone)]
pub struct RunSlot {
    /// The version the store read the run at (`None`: not there, or a
    /// store that keeps no versions).
    pub read_ver: Option<u64>,
    pub run: Option<BookRun>,
    /// The run's issues as read (empty for a run not there or merged
    /// away).
    pub links: BTreeMap<String, RunIssue>,
    /// The item as read.
    pub read: Option<BookRun>,
    /// The issue ids that had a link item when read.
    pub read_links: BTreeSet<String>,
    pub dirty: bool,
    pub dirty_links: BTreeSet<String>,
    /// Link items to delete (a part's, once folded into its run).
    pub dropped_links: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct PartSlot {
    pub read_ver: Option<u64>,
    pub part: Option<BookPart>,
    pub dirty: bool,
}

/// A run recorded under a part's key, folded into `run_key`, whose issues
/// (the links the part's run still has) are not all moved yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fold {
    pub run_key: String,
    pub part_key: String,
    /// The part was known to have recovered when it was folded: all of
    /// its issues' occurrences count as recovered in the run.
    pub recovered: bool,
}

/// What recording one run delta reads and changes of runs: the runs (by
/// key) and parts it needs, as the store read them, changed in place.
#[derive(Debug, Default, Clone)]
pub struct Book {
    pub runs: BTreeMap<String, RunSlot>,
    pub parts: BTreeMap<String, PartSlot>,
    /// How many of the folded parts' issues [`Book::record`] moves into
    /// their runs (`None`: all of them).
    pub fold_limit: Option<usize>,
    /// The folds whose issues are not all moved yet: until they are, the
    /// run they go to counts the part's occurrences but does not list
    /// all of the part's issues, and the part's run is not listed.
    pub folds: Vec<Fold>,
}

fn unread(what: &str, key: &str) -> StoreError {
    StoreError::Backend(format!(
        "the {what} {key} was used without being read first"
    ))
}

impl Book {
    pub fn run(&self, key: &str) -> Option<&StoredRun> {
        self.runs
            .get(key)
            .and_then(|slot| slot.run.as_ref())
            .filter(|item| item.live())
            .map(|item| &item.stored)
    }

    fn run_slot(&mut self, key: &str) -> Result<&mut RunSlot, StoreError> {
        self.runs.get_mut(key).ok_or_else(|| unread("run", key))
    }

    fn part_slot(&mut self, key: &str) -> Result<&mut PartSlot, StoreError> {
        self.parts.get_mut(key).ok_or_else(|| unread("part", key))
    }

    /// Folds `delta` into its run and adds `adds` to the run's issues.
    fn apply(
        &mut self,
        delta: &RunDelta,
        adds: &[IssueAdd],
        recorded: Option<&Recorded>,
        now: i64,
    ) -> Result<(), StoreError> {
        let slot = self.run_slot(&delta.key)?;
        let prior = slot.run.as_ref().filter(|i| i.live()).map(|i| &i.stored);
        let (stored, change) = run_fold::fold_run(prior, delta, now);
        if change.succeeded_now {
            // A run that succeeded got past every error: its issues read as
            // recovered whatever their items say ([`listed`]), so
            // they are not rewritten (a run with many issues would not fit
            // one transaction, and each rewrite is billed).
            for link in slot.links.values_mut() {
                link.recovered = link.count;
            }
        }
        slot.run = Some(BookRun {
            stored,
            merged_into: None,
        });
        slot.dirty = true;
        self.add_links(&delta.key, adds, recorded)
    }

    /// Adds `adds` to the issues of the live run `run_key`.
    fn add_links(
        &mut self,
        run_key: &str,
        adds: &[IssueAdd],
        recorded: Option<&Recorded>,
    ) -> Result<(), StoreError> {
        let slot = self.run_slot(run_key)?;
        let succeeded = slot
            .run
            .as_ref()
            .is_some_and(|r| r.stored.run.outcome == Outcome::Succeeded);
        for add in adds {
            let is = |ids: Option<&Vec<String>>| ids.is_some_and(|ids| ids.contains(&add.issue_id));
            let link = slot
                .links
                .entry(add.issue_id.clone())
                .or_insert_with(|| RunIssue {
                    id: add.issue_id.clone(),
                    ..RunIssue::default()
                });
            link.count = link.count.saturating_add(add.count);
            link.recovered = link
                .recovered
                .saturating_add(run_fold::recovered_of(add, succeeded));
            link.new |= is(recorded.map(|r| &r.new_issues));
            link.regressed |= is(recorded.map(|r| &r.regressions));
            slot.dirty_links.insert(add.issue_id.clone());
            slot.dropped_links.remove(&add.issue_id);
        }
        Ok(())
    }

    fn add_pending(&mut self, part_key: &str, adds: &[IssueAdd]) -> Result<(), StoreError> {
        let slot = self.part_slot(part_key)?;
        let Some(part) = slot.part.as_mut() else {
            return Err(unread("part", part_key));
        };
        for add in adds {
            let pending = run_fold::pending_of(add);
            let entry = part.pending.entry(add.issue_id.clone()).or_insert(0);
            *entry = entry.saturating_add(pending);
        }
        slot.dirty = true;
        Ok(())
    }

    /// What one chunk of a batch's run delta does.
    pub fn record(
        &mut self,
        delta: &RunDelta,
        recorded: &Recorded,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut adds = run_fold::issue_adds(delta);
        let part = self
            .parts
            .get(&delta.key)
            .and_then(|slot| slot.part.clone());
        match part {
            Some(part) => {
                let to_run = run_fold::part_to_run(delta, &part.run_key, part.recovered, &mut adds);
                self.apply(&to_run, &adds, Some(recorded), now)?;
                if part.recovered.is_none() {
                    self.add_pending(&delta.key, &adds)?;
                }
            }
            None => self.apply(delta, &adds, Some(recorded), now)?,
        }
        for part in &delta.parts {
            self.link(&delta.key, &part.key, part.recovered, now)?;
        }
        self.move_folds(self.fold_limit)
    }

    /// Moves up to `limit` (`None`: all) issues of the folded parts' runs
    /// into the runs they were folded into, in the order of [`Book::folds`];
    /// a fold whose part's run has no issue left in the book is done. Each
    /// issue moves whole: the run's link gains the part's counts (all
    /// recovered if the part was), the part's link is dropped.
    pub fn move_folds(&mut self, limit: Option<usize>) -> Result<(), StoreError> {
        let mut room = limit.unwrap_or(usize::MAX);
        let mut left = Vec::new();
        for fold in std::mem::take(&mut self.folds) {
            let part_slot = self.run_slot(&fold.part_key)?;
            let ids: Vec<String> = part_slot.links.keys().take(room).cloned().collect();
            let mut moving = Vec::new();
            for id in ids {
                if let Some(link) = part_slot.links.remove(&id) {
                    moving.push(link);
                }
                part_slot.dirty_links.remove(&id);
                part_slot.dropped_links.insert(id);
            }
            if !part_slot.links.is_empty() {
                left.push(fold.clone());
            }
            room -= moving.len();
            let adds = run_fold::part_adds(&moving, fold.recovered);
            self.add_links(&fold.run_key, &adds, None)?;
            let target = self.run_slot(&fold.run_key)?;
            // What the part was new or regressed in, it was in the run.
            for part_link in &moving {
                if let Some(link) = target.links.get_mut(&part_link.id) {
                    link.new |= part_link.new;
                    link.regressed |= part_link.regressed;
                }
            }
        }
        self.folds = left;
        Ok(())
    }

    /// Makes `part_key` a part of `run_key`: a run recorded under the
    /// part's own key is folded in, and once the part's outcome is known
    /// its pending counts are recovered (a later attempt succeeded) or
    /// dropped.
    fn link(
        &mut self,
        run_key: &str,
        part_key: &str,
        recovered: Option<bool>,
        now: i64,
    ) -> Result<(), StoreError> {
        if part_key == run_key {
            return Ok(());
        }
        let slot = self.part_slot(part_key)?;
        let before = slot.part.as_ref().map(|p| p.recovered);
        let known = recovered.or(before.flatten());
        let pending = slot
            .part
            .as_ref()
            .map(|p| p.pending.clone())
            .unwrap_or_default();
        slot.part = Some(BookPart {
            run_key: run_key.to_string(),
            recovered: known,
            pending: if known.is_none() {
                pending.clone()
            } else {
                BTreeMap::new()
            },
        });
        slot.dirty = true;
        if let Some(part_run) = self.run(part_key).cloned() {
            // Its logs came before the job event: fold that run into the
            // job, its counts now and its issues by `move_folds`.
            let part_slot = self.run_slot(part_key)?;
            let part_links: Vec<RunIssue> = part_slot.links.values().cloned().collect();
            let (to_run, adds) = run_fold::merge_part(&part_run.run, &part_links, run_key, known);
            self.apply(&to_run, &[], None, now)?;
            if known.is_none() {
                self.add_pending(part_key, &adds)?;
            }
            let part_slot = self.run_slot(part_key)?;
            if let Some(item) = part_slot.run.as_mut() {
                item.merged_into = Some(run_key.to_string());
            }
            part_slot.dirty = true;
            self.folds.push(Fold {
                run_key: run_key.to_string(),
                part_key: part_key.to_string(),
                recovered: known == Some(true),
            });
            return Ok(());
        }
        if before.flatten().is_none() {
            if let Some(outcome) = known {
                self.settle_part(run_key, outcome, &pending)?;
            }
        }
        Ok(())
    }

    /// A part's outcome became known: its pending counts become recovered
    /// when a later attempt succeeded, and stay failures if not. A run
    /// already settled keeps what it was settled with.
    fn settle_part(
        &mut self,
        run_key: &str,
        recovered: bool,
        pending: &BTreeMap<String, u64>,
    ) -> Result<(), StoreError> {
        if !recovered || pending.is_empty() {
            return Ok(());
        }
        let slot = self.run_slot(run_key)?;
        let Some(item) = slot.run.as_mut().filter(|i| i.live()) else {
            return Ok(());
        };
        if item.stored.run.settled_at.is_some() {
            return Ok(());
        }
        let mut total = 0u64;
        for (issue, count) in pending {
            if let Some(link) = slot.links.get_mut(issue) {
                link.recovered = link.count.min(link.recovered.saturating_add(*count));
                slot.dirty_links.insert(issue.clone());
            }
            total = total.saturating_add(*count);
        }
        let run = &mut item.stored.run;
        run.recovered = run.errors.min(run.recovered.saturating_add(total));
        slot.dirty = true;
        Ok(())
    }
}

impl Book {
    /// The issues of `delta` that the run it counts in (its part's run, for
    /// a delta logged under a part's key) already had when it was read.
    pub fn had(&self, delta: &RunDelta) -> BTreeSet<String> {
        let key = self
            .parts
            .get(&delta.key)
            .and_then(|slot| slot.part.as_ref())
            .map_or(delta.key.as_str(), |part| part.run_key.as_str());
        let Some(slot) = self
            .runs
            .get(key)
            .filter(|slot| slot.read.as_ref().is_some_and(BookRun::live))
        else {
            return BTreeSet::new();
        };
        run_fold::issue_adds(delta)
            .into_iter()
            .map(|add| add.issue_id)
            .filter(|id| slot.read_links.contains(id))
            .collect()
    }

    /// The run a delta logged under a part's key counts in, once the part
    /// is read: it must be read too.
    pub fn redirect(&self, delta: &RunDelta) -> Option<String> {
        self.parts
            .get(&delta.key)
            .and_then(|slot| slot.part.as_ref())
            .map(|p| p.run_key.clone())
            .filter(|key| !self.runs.contains_key(key))
    }
}
