//! Recording batches: one conditional transaction per chunk of a batch's
//! issues, or for the small batches of one invocation together, re-read
//! and retried when a concurrent writer changed an issue meanwhile.

use std::collections::{BTreeSet, HashMap, HashSet};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

use super::DynamoDbStore;
use super::bounds::MAX_TRANSACTION_ACTIONS;
use super::items::{
    ISSUE_SK, Item, StoredIssue, alias_item, entry_of, get_s, get_string_list, is_alias, issue_key,
    marker_item, marker_key, outbox_item,
};
use super::parts::{Day, day_key, days_read, is_day, sample_item};
use super::plan::{Days, PackRead, Part, plan_pack};
use super::requests::Transacted;
use super::retry::{MAX_CONTENDED_ATTEMPTS, backoff, classify, request_token};
use super::runs::InlineRuns;
use crate::model::{BatchSummary, HeldBack, Recorded, RunDelta, issue_id};
use crate::policy::Policy;
use crate::store::StoreError;
use crate::store::route::Router;

/// One chunk of one batch, to be recorded in a transaction with others.
pub(super) struct PackPart<'a> {
    pub batch: &'a BatchSummary,
    /// The chunk's issues, by position in the batch ([`super::bounds::chunk_ranges`]).
    pub range: std::ops::Range<usize>,
    pub chunk_no: usize,
    pub chunks: usize,
}

impl PackPart<'_> {
    fn is_last(&self) -> bool {
        self.chunk_no + 1 == self.chunks
    }
}

/// What recording a pack did.
pub(super) enum Packed {
    /// Per part, in order: what it did, or `None` when it was recorded
    /// before.
    Done(Vec<Option<ChunkOutcome>>),
    /// The parts together need more actions than one transaction takes:
    /// record fewer at once.
    TooBig,
}

/// What one committed chunk did.
#[derive(Debug, Default)]
pub(super) struct ChunkOutcome {
    pub new_issues: Vec<String>,
    pub regressions: Vec<String>,
    pub held_back: Vec<(String, HeldBack)>,
    pub alerts: usize,
    /// Fingerprints the chunk counted into other issues (merges, aliases),
    /// with where each went, for the batch's runs.
    pub moved: HashMap<String, String>,
    /// Whether the batch's runs were written in the chunk's transaction.
    pub runs_written: bool,
}

impl DynamoDbStore {
    pub(super) async fn record_quiet(
        &self,
        batch: &BatchSummary,
        now: i64,
    ) -> Result<Option<ChunkOutcome>, StoreError> {
        if !batch.runs.is_empty() {
            if let Some(done) = self.record_quiet_runs(batch, now).await? {
                return Ok(done);
            }
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(marker_item(batch, 0, &[], now)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(Some(ChunkOutcome::default())),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(e) => Err(classify("PutItem (batch marker)", &self.table, e)),
        }
    }

    /// Records a batch without errors and its runs (a run's log going on,
    /// a job event) in one transaction, its marker guarding the runs as an
    /// issue chunk's does; `None` when the runs do not fit one transaction
    /// (they are then written after the marker, on their own).
    async fn record_quiet_runs(
        &self,
        batch: &BatchSummary,
        now: i64,
    ) -> Result<Option<Option<ChunkOutcome>>, StoreError> {
        let mut lost_race = false;
        for attempt in 0..MAX_CONTENDED_ATTEMPTS {
            if lost_race {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let input = [(batch.runs.as_slice(), Recorded::default())];
            let room = MAX_TRANSACTION_ACTIONS - 1;
            let deltas: Vec<&RunDelta> = batch.runs.iter().collect();
            let read = self.read_runs(&deltas, None, now).await?;
            let Some(runs) = self.inline_runs(&read, &input, room, now)? else {
                return Ok(None);
            };
            let mut actions = vec![self.put_action(
                super::runs::with_runs(marker_item(batch, 0, &[], now)),
                Some("attribute_not_exists(pk)"),
                None,
            )?];
            actions.extend(runs.actions.iter().cloned());
            let token = request_token(&batch.batch_id, 0, attempt);
            let what = "TransactWriteItems (a batch without errors, its runs)";
            match self.transact(actions, Some(token), what).await? {
                Transacted::Committed => {
                    self.finish_inline_folds(&runs, now).await?;
                    return Ok(Some(Some(ChunkOutcome {
                        runs_written: true,
                        ..ChunkOutcome::default()
                    })));
                }
                Transacted::Cancelled(reasons) => {
                    if reasons.first().map(String::as_str) == Some("ConditionalCheckFailed") {
                        return Ok(Some(None));
                    }
                    self.lost_race(&reasons, what)?;
                    lost_race = true;
                }
            }
        }
        Err(StoreError::Transient(format!(
            "DynamoDB table {}: the runs of batch {} kept changing under concurrent writers ({MAX_CONTENDED_ATTEMPTS} attempts)",
            self.table, batch.batch_id
        )))
    }

    /// Records the parts of `pack` in one transaction each time it is
    /// tried; answers, per part, what it did (`None`: recorded before), or
    /// [`Packed::TooBig`] when the parts together need more actions than a
    /// transaction takes (a pack of one part always fits: see
    /// [`super::bounds::chunk_ranges`]).
    pub(super) async fn record_pack(
        &self,
        pack: &[PackPart<'_>],
        now: i64,
        policy: &Policy,
    ) -> Result<Packed, StoreError> {
        let chunks: Vec<BatchSummary> = pack
            .iter()
            .map(|p| BatchSummary {
                issues: p
                    .batch
                    .issues
                    .get(p.range.clone())
                    .unwrap_or_default()
                    .to_vec(),
                ..p.batch.clone()
            })
            .collect();
        let mut done: Vec<Option<Option<ChunkOutcome>>> = (0..pack.len()).map(|_| None).collect();
        let mut keys: Vec<Item> = Vec::new();
        let mut seen = HashSet::new();
        let mut day_keys: HashSet<(String, i64)> = HashSet::new();
        for (part, chunk) in pack.iter().zip(&chunks) {
            for delta in &chunk.issues {
                let id = issue_id(&delta.fingerprint);
                if seen.insert(id.clone()) {
                    keys.push(issue_key(&id));
                }
                // Read with the heads: a batch's issues are usually their
                // own, so routing rarely needs days of other issues.
                for day in days_read(delta, policy) {
                    if day_keys.insert((id.clone(), day)) {
                        keys.push(day_key(&id, day));
                    }
                }
            }
            if part.is_last() {
                // The earlier chunks' markers say which issues they created:
                // the last chunk queues the batch's new-issue alerts for all.
                keys.extend((0..part.chunk_no).map(|c| marker_key(&part.batch.batch_id, c)));
            }
        }
        let mut lost_race = false;
        for attempt in 0..MAX_CONTENDED_ATTEMPTS {
            // The parts not yet found recorded before.
            let open: Vec<usize> = (0..pack.len()).filter(|&i| done[i].is_none()).collect();
            if open.is_empty() {
                break;
            }
            if lost_race {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let mut items = self.read_items(&keys).await?;
            // Where the parts' issues really are (merges, aliases): usually
            // nothing more to read, the issue items came with the first read.
            let mut router = Router::new();
            for item in &items {
                if get_s(item, "sk")? == ISSUE_SK {
                    let id = get_s(item, "pk")?.trim_start_matches("ISSUE#");
                    router.learn(id, Some(entry_of(item)?));
                }
            }
            for id in &seen {
                if !router.knows(id) {
                    router.learn(id, None);
                }
            }
            loop {
                let mut wanted: Vec<String> = Vec::new();
                for &i in &open {
                    for id in router.wanted(&chunks[i])? {
                        if !wanted.contains(&id) {
                            wanted.push(id);
                        }
                    }
                }
                if wanted.is_empty() {
                    break;
                }
                let more = self
                    .read_items(&wanted.iter().map(|id| issue_key(id)).collect::<Vec<_>>())
                    .await?;
                for item in more {
                    let id = get_s(&item, "pk")?.trim_start_matches("ISSUE#");
                    router.learn(id, Some(entry_of(&item)?));
                    items.push(item);
                }
                for id in wanted {
                    if !router.knows(&id) {
                        router.learn(&id, None);
                    }
                }
            }
            let mut routed = Vec::with_capacity(open.len());
            for &i in &open {
                routed.push(router.route(&chunks[i])?);
            }
            let joins: Vec<_> = routed
                .iter()
                .flat_map(|r| r.joins.iter().cloned())
                .collect();
            if !joins.is_empty() {
                // Merged before the parts are recorded, then routed again
                // (see `route`): their aliases are written once they are done.
                self.join_issues(&joins).await?;
                continue;
            }
            // One alias per id, however many parts route through it.
            let mut aliases = Vec::new();
            let mut aliased = HashSet::new();
            for alias in routed.iter().flat_map(|r| &r.aliases) {
                if aliased.insert(alias.id.clone()) {
                    aliases.push(alias.clone());
                }
            }
            let mut missing = Vec::new();
            for delta in routed.iter().flat_map(|r| &r.batch.issues) {
                let id = issue_id(&delta.fingerprint);
                for day in days_read(delta, policy) {
                    if day_keys.insert((id.clone(), day)) {
                        missing.push(day_key(&id, day));
                    }
                }
            }
            if !missing.is_empty() {
                items.extend(self.read_items(&missing).await?);
            }
            let mut days = Days::new();
            let mut legacy = Vec::new();
            for item in &items {
                if is_day(item) {
                    let id = get_s(item, "pk")?.trim_start_matches("ISSUE#").to_string();
                    let day = Day::from_item(item)?;
                    days.insert((id, day.day), day);
                }
            }
            let mut current = HashMap::new();
            for item in &items {
                if get_s(item, "sk")? == ISSUE_SK && !is_alias(item) {
                    let stored = StoredIssue::from_item(item)?;
                    if stored.legacy {
                        legacy.push(stored.issue.id.clone());
                    }
                    current.insert(stored.issue.id.clone(), stored);
                }
            }
            if !legacy.is_empty() {
                // Written by the layout before days and sample items (or by
                // a function of that version still running during a
                // deploy): convert, then read again.
                for id in legacy {
                    self.convert_legacy(&id).await?;
                }
                continue;
            }
            let by_sk: HashMap<(&str, &str), &Item> = items
                .iter()
                .filter_map(|i| Some(((get_s(i, "pk").ok()?, get_s(i, "sk").ok()?), i)))
                .filter(|((pk, _), _)| pk.starts_with("BATCH#"))
                .collect();
            let mut earlier_new: Vec<Vec<String>> = Vec::with_capacity(open.len());
            for &i in &open {
                let part = &pack[i];
                let mut found = Vec::new();
                if part.is_last() {
                    // In chunk order, so the digest lists issues in batch order.
                    let pk = format!("BATCH#{}", part.batch.batch_id);
                    let mut markers_found = 0;
                    for c in 0..part.chunk_no {
                        if let Some(marker) =
                            by_sk.get(&(pk.as_str(), format!("CHUNK#{c}").as_str()))
                        {
                            markers_found += 1;
                            found.extend(get_string_list(marker, "new_issues")?);
                        }
                    }
                    if markers_found < part.chunk_no {
                        // Every earlier chunk was committed (by this
                        // invocation or another) before this one is tried,
                        // and markers outlive every replay: a gap means the
                        // table was changed by hand.
                        return Err(StoreError::Corrupt(format!(
                            "batch {}: {} of its {} earlier chunk markers are missing",
                            part.batch.batch_id,
                            part.chunk_no - markers_found,
                            part.chunk_no
                        )));
                    }
                }
                earlier_new.push(found);
            }
            // What the parts' runs had before them: an issue they had
            // takes no sample (`fold::choose_sample`). The runs of a batch
            // recorded in one chunk go into the same transaction, guarded
            // by its marker (no marker, transaction or read of their own:
            // see `runs`), from this same read; a chunk of a bigger batch
            // reads only its issues' links, its runs are written after.
            let with_runs: Vec<usize> = (0..open.len())
                .filter(|&k| !routed[k].batch.runs.is_empty())
                .collect();
            let inline = with_runs.iter().all(|&k| pack[open[k]].chunks == 1);
            let run_read = if with_runs.is_empty() {
                None
            } else {
                let deltas: Vec<&RunDelta> = with_runs
                    .iter()
                    .flat_map(|&k| &routed[k].batch.runs)
                    .collect();
                let only: Option<BTreeSet<String>> = (!inline).then(|| {
                    with_runs
                        .iter()
                        .flat_map(|&k| &routed[k].batch.issues)
                        .map(|delta| issue_id(&delta.fingerprint))
                        .collect()
                });
                Some(self.read_runs(&deltas, only.as_ref(), now).await?)
            };
            let unsampled: Vec<BTreeSet<String>> = routed
                .iter()
                .map(|r| match &run_read {
                    Some(read) if !r.batch.runs.is_empty() => read.unsampled(&r.batch.runs),
                    _ => BTreeSet::new(),
                })
                .collect();
            let parts: Vec<Part<'_>> = open
                .iter()
                .zip(&routed)
                .zip(&earlier_new)
                .zip(&unsampled)
                .map(|(((&i, routed), earlier_new), unsampled)| Part {
                    batch: pack[i].batch,
                    deltas: &routed.batch.issues,
                    is_last: pack[i].is_last(),
                    earlier_new,
                    unsampled,
                })
                .collect();
            let read = PackRead {
                current: &current,
                days: &days,
                aliases: aliases.len(),
            };
            let plan = plan_pack(&parts, &read, now, policy)?;
            let issue_actions = plan.actions(aliases.len());
            if open.len() > 1 && issue_actions > MAX_TRANSACTION_ACTIONS {
                return Ok(Packed::TooBig);
            }
            let with_runs: Vec<usize> = with_runs
                .into_iter()
                .filter(|&k| pack[open[k]].chunks == 1)
                .collect();
            let mut runs = None;
            if let Some(read) = run_read.as_ref().filter(|_| !with_runs.is_empty()) {
                let input: Vec<(&[RunDelta], Recorded)> = with_runs
                    .iter()
                    .map(|&k| {
                        (
                            routed[k].batch.runs.as_slice(),
                            Recorded {
                                new_issues: plan.parts[k].new_issues.clone(),
                                regressions: plan.parts[k].regressions.clone(),
                                ..Recorded::default()
                            },
                        )
                    })
                    .collect();
                let room = MAX_TRANSACTION_ACTIONS.saturating_sub(issue_actions);
                runs = self.inline_runs(read, &input, room, now)?;
                if runs.is_none() && open.len() > 1 {
                    return Ok(Packed::TooBig);
                }
            }
            let runs_written = |k: usize| runs.is_some() && with_runs.contains(&k);
            let mut actions = Vec::with_capacity(
                issue_actions + runs.as_ref().map_or(0, |r: &InlineRuns| r.actions.len()),
            );
            // The markers first: a cancellation reason at position `k`
            // names part `open[k]`.
            for (k, (&i, part_plan)) in open.iter().zip(&plan.parts).enumerate() {
                let part = &pack[i];
                let mut marker = super::runs::with_changes(
                    marker_item(part.batch, part.chunk_no, &part_plan.marker_new, now),
                    &part_plan.new_issues,
                    &part_plan.regressions,
                );
                if runs_written(k) {
                    marker = super::runs::with_runs(marker);
                }
                actions.push(self.put_action(marker, Some("attribute_not_exists(pk)"), None)?);
            }
            for write in &plan.writes {
                actions.push(match write.read_ver {
                    None => self.put_action(
                        write.item.to_item(),
                        Some("attribute_not_exists(pk)"),
                        None,
                    )?,
                    Some(read) => {
                        self.put_action(write.item.to_item(), Some("#ver = :read"), Some(read))?
                    }
                });
            }
            for (id, day) in &plan.days {
                // Unconditional: the head written beside it is conditioned
                // on the version read, and every write to a day rewrites
                // its issue's head.
                actions.push(self.put_action(day.to_item(id), None, None)?);
            }
            for sample in &plan.samples {
                // Unconditional, as the days: the head records the slot.
                actions.push(self.put_action(
                    sample_item(&sample.id, sample.slot, sample.timestamp, &sample.json),
                    None,
                    None,
                )?);
            }
            for alias in &aliases {
                // Conditional, so that an issue or alias created at the same
                // id meanwhile cancels the transaction and the parts re-route.
                actions.push(self.put_action(
                    alias_item(&alias.id, &alias.target, now),
                    Some("attribute_not_exists(pk)"),
                    None,
                )?);
            }
            for alert in plan.parts.iter().flat_map(|p| &p.alerts) {
                actions.push(self.put_action(outbox_item(alert, now)?, None, None)?);
            }
            if let Some(runs) = &runs {
                actions.extend(runs.actions.iter().cloned());
            }
            let first = &pack[open[0]];
            let token = request_token(&first.batch.batch_id, first.chunk_no, attempt);
            let reasons = match self
                .transact(actions, Some(token), "TransactWriteItems")
                .await?
            {
                Transacted::Committed => {
                    for (k, ((&i, part_plan), routed)) in
                        open.iter().zip(plan.parts).zip(routed).enumerate()
                    {
                        done[i] = Some(Some(ChunkOutcome {
                            alerts: part_plan.alerts.len(),
                            new_issues: part_plan.new_issues,
                            regressions: part_plan.regressions,
                            held_back: part_plan.held_back,
                            moved: routed.moved,
                            runs_written: runs_written(k),
                        }));
                    }
                    if let Some(runs) = &runs {
                        self.finish_inline_folds(runs, now).await?;
                    }
                    break;
                }
                Transacted::Cancelled(reasons) => reasons,
            };
            // A part whose marker exists was recorded before (another
            // delivery of its batch): the others go on without it.
            let mut recorded_before = false;
            for (k, &i) in open.iter().enumerate() {
                if reasons.get(k).map(String::as_str) == Some("ConditionalCheckFailed") {
                    done[i] = Some(None);
                    recorded_before = true;
                }
            }
            if recorded_before {
                lost_race = false;
                continue;
            }
            self.lost_race(&reasons, "TransactWriteItems")?;
            lost_race = true;
            tracing::debug!(batch = %first.batch.batch_id, chunk = first.chunk_no, parts = open.len(), attempt, "issue changed under us; re-reading");
        }
        if done.iter().all(Option::is_some) {
            return Ok(Packed::Done(done.into_iter().flatten().collect()));
        }
        let first = &pack[0];
        Err(StoreError::Transient(format!(
            "DynamoDB table {}: issues of batch {} kept changing under concurrent writers ({MAX_CONTENDED_ATTEMPTS} attempts)",
            self.table, first.batch.batch_id
        )))
    }
}
