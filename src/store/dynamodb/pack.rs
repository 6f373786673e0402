//! Which batches of one call share a transaction, and what each batch's
//! chunks add up to once written.
//!
//! A stream invocation brings many small batches, and a busy account's
//! batches keep hitting the same few issues. Recorded one by one, each
//! batch rewrites those issues' heads and days, and DynamoDB bills every
//! rewrite by the item's size; recorded together, an issue is written once
//! per transaction. What stays per batch is its marker, which is what
//! keeps each batch counted exactly once however it comes again.

use std::collections::{HashMap, HashSet};

use super::DynamoDbStore;
use super::bounds::{ISSUES_PER_WRITE, MAX_TRANSACTION_ACTIONS};
use super::parts::days_written;
use super::record::{ChunkOutcome, PackPart, Packed};
use crate::model::{BatchSummary, Recorded, issue_id};
use crate::policy::Policy;
use crate::store::StoreError;
use crate::store::route;

/// Single-chunk batches collected for one transaction, with what they are
/// expected to cost in actions (the plan has the last word: a pack that
/// turns out too big is split, see [`DynamoDbStore::record_parts`]).
#[derive(Debug, Default)]
pub(super) struct Pack {
    /// Positions of the batches in the call.
    members: Vec<usize>,
    issues: HashSet<String>,
    days: HashSet<(String, i64)>,
}

impl Pack {
    /// The actions expected: per batch its marker and room for a digest;
    /// per issue its head, a sample, an alias and an alert; and each day
    /// written (as [`super::bounds::chunk_ranges`] counts them).
    fn actions(&self) -> usize {
        2 * self.members.len() + 4 * self.issues.len() + self.days.len()
    }

    /// Whether `batch` (of one chunk) still fits beside the batches taken.
    pub fn admits(&self, batch: &BatchSummary) -> bool {
        let mut issues = 0;
        let mut days = HashSet::new();
        let mut ids = HashSet::new();
        for delta in &batch.issues {
            let id = issue_id(&delta.fingerprint);
            for day in days_written(delta) {
                if !self.days.contains(&(id.clone(), day)) {
                    days.insert((id.clone(), day));
                }
            }
            if !self.issues.contains(&id) && ids.insert(id) {
                issues += 1;
            }
        }
        self.members.is_empty()
            || (self.issues.len() + issues <= ISSUES_PER_WRITE
                && self.actions() + 2 + 4 * issues + days.len() <= MAX_TRANSACTION_ACTIONS)
    }

    pub fn add(&mut self, position: usize, batch: &BatchSummary) {
        self.members.push(position);
        for delta in &batch.issues {
            let id = issue_id(&delta.fingerprint);
            for day in days_written(delta) {
                self.days.insert((id.clone(), day));
            }
            self.issues.insert(id);
        }
    }
}

impl DynamoDbStore {
    /// Records the batches of `pack` (positions in `batches`) together and
    /// empties it; each batch's result goes to its position in `recorded`.
    pub(super) async fn record_packed(
        &self,
        batches: &[BatchSummary],
        pack: &mut Pack,
        recorded: &mut [Option<Recorded>],
        now: i64,
        policy: &Policy,
    ) -> Result<(), StoreError> {
        let members = std::mem::take(pack).members;
        let parts: Vec<PackPart<'_>> = members
            .iter()
            .filter_map(|&i| batches.get(i))
            .map(|batch| PackPart {
                batch,
                range: 0..batch.issues.len(),
                chunk_no: 0,
                chunks: 1,
            })
            .collect();
        if parts.is_empty() {
            return Ok(());
        }
        let outcomes = self.record_parts(&parts, now, policy).await?;
        for ((&i, part), outcome) in members.iter().zip(&parts).zip(outcomes) {
            let done = self.finish_batch(part.batch, vec![outcome], now).await?;
            if let Some(slot) = recorded.get_mut(i) {
                *slot = Some(done);
            }
        }
        Ok(())
    }

    /// Records `parts` in one transaction, or in halves (recursively) when
    /// together they need more actions than one takes.
    pub(super) async fn record_parts(
        &self,
        parts: &[PackPart<'_>],
        now: i64,
        policy: &Policy,
    ) -> Result<Vec<Option<ChunkOutcome>>, StoreError> {
        match self.record_pack(parts, now, policy).await? {
            Packed::Done(outcomes) => Ok(outcomes),
            Packed::TooBig => {
                let (front, back) = parts.split_at(parts.len() / 2);
                tracing::debug!(
                    parts = parts.len(),
                    "batches too big for one transaction together; halving"
                );
                let mut outcomes = Box::pin(self.record_parts(front, now, policy)).await?;
                outcomes.extend(Box::pin(self.record_parts(back, now, policy)).await?);
                Ok(outcomes)
            }
        }
    }

    /// What a batch did, from what each of its chunks did (`None`: recorded
    /// before); then its runs, under the issues that took their errors.
    pub(super) async fn finish_batch(
        &self,
        batch: &BatchSummary,
        outcomes: Vec<Option<ChunkOutcome>>,
        now: i64,
    ) -> Result<Recorded, StoreError> {
        let delivered_before = outcomes.iter().any(Option::is_none);
        let runs_written = outcomes.iter().flatten().any(|o| o.runs_written);
        let mut recorded = Recorded {
            duplicate: true,
            ..Recorded::default()
        };
        let mut moved = HashMap::new();
        for outcome in outcomes.into_iter().flatten() {
            recorded.duplicate = false;
            recorded.new_issues.extend(outcome.new_issues);
            recorded.regressions.extend(outcome.regressions);
            recorded.held_back.extend(outcome.held_back);
            recorded.alerts += outcome.alerts;
            moved.extend(outcome.moved);
        }
        if !batch.runs.is_empty() && !runs_written {
            // Runs count errors under the issues that took them. (Were the
            // invocation to die between the issue chunks and the runs, the
            // retry finds the chunks recorded: which issues were new or
            // regressed it reads from their markers (see `runs`), but where
            // a merged or aliased fingerprint went it knows no longer: its
            // run then names the fingerprint's own issue id.)
            let mut routed = batch.clone();
            route::reroute_runs(&mut routed.runs, &moved);
            if self
                .record_runs(&routed, &recorded, delivered_before, now)
                .await?
            {
                recorded.duplicate = false;
            }
        }
        Ok(recorded)
    }
}
