//! Settling runs once they are due: their lifecycle counted in their
//! job, issues resolved or announced, digests queued, in chunks when one
//! transaction cannot hold them.

use super::*;
use crate::model::Alert;
use crate::store::Settled;
use crate::store::dynamodb::items::StoredIssue;
use crate::store::dynamodb::parts::{sample_json, sample_key};
use crate::store::outbox::DETAILED_ALERT_ISSUES;

impl DynamoDbStore {
    /// Settles every run that is due (see [`crate::store::Store::settle_runs`]),
    /// after finishing what earlier settlements left to write. A run whose
    /// settlement fails for good is reported and the others settle: one
    /// damaged or oversized run must not hold back every job's alerts.
    pub(in crate::store::dynamodb) async fn settle_due(
        &self,
        now: i64,
        settle_ms: i64,
        policy: &Policy,
    ) -> Result<Settled, StoreError> {
        let rules = policy.run_rules();
        let mut settled = Settled::default();
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
            let id = get_s(entry, "sk")?;
            if get_bool(entry, "folding") == Some(true)
                && settled
                    .isolate(id, self.finish_folds(id, now).await)?
                    .is_none()
            {
                continue;
            }
            let times = get_opt_n::<i64>(entry, "ended_at")
                .and_then(|ended_at| Ok((ended_at, get_opt_n(entry, "last_event")?.unwrap_or(0))));
            let Some((ended_at, last)) = settled.isolate(id, times)? else {
                continue;
            };
            let due = match ended_at {
                Some(at) => at <= now.saturating_sub(settle_ms),
                None => last > 0 && last <= now.saturating_sub(rules.quiet_ms),
            };
            if due {
                candidates.push(run_item_key(id));
            }
        }
        if candidates.is_empty() {
            return Ok(settled);
        }
        let mut due: Vec<StoredRun> = Vec::new();
        for item in self.read_items_with(&candidates, true, None).await? {
            let id = get_s(&item, "sk")?;
            let Some(read) = settled.isolate(id, RunItem::from_item(&item))? else {
                continue;
            };
            if read.rest.is_some() {
                settled.isolate(id, self.settle_rest(id, now).await)?;
            } else if read.live() && is_due(&read.stored, now, settle_ms, rules.quiet_ms) {
                due.push(read.stored);
            } else if read.live()
                && read.stored.run.ended.is_none()
                && read.stored.run.settled_at.is_none()
            {
                // Its entry's `last_event` lags the run's log.
                settled.isolate(
                    id,
                    self.catch_up_entry(id, read.stored.run.last_event).await,
                )?;
            }
        }
        due.sort_by(|a, b| {
            a.run
                .ended
                .unwrap_or(a.run.last_event)
                .cmp(&b.run.ended.unwrap_or(b.run.last_event))
                .then_with(|| a.run.key.cmp(&b.run.key))
        });
        for run in due {
            let id = run.run.id;
            let done = self.settle_one(&id, now, settle_ms, policy).await;
            if settled.isolate(&id, done)? == Some(true) {
                settled.runs.push(id);
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
            if let Some(slot) = newest_slot(&issue)? {
                states.newest_slots.insert(issue_id.clone(), slot);
            }
            states.infos.insert(issue_id, issue_info(&issue)?);
        }
        Ok(states)
    }

    /// Adds to the infos of `announced` their newest sample, as SQLite's
    /// announcement carries it: one BatchGetItem of each issue's newest
    /// slot, since only the head's `slots` say which is newest and the
    /// samples themselves are items of their own ([`super::super::parts`]).
    /// A sample that does not decode leaves its alert without one, as on
    /// SQLite: the alert is what matters.
    async fn add_samples(
        &self,
        states: &mut IssueStates,
        announced: &[String],
    ) -> Result<(), StoreError> {
        let keys: Vec<Item> = announced
            .iter()
            .filter_map(|id| Some(sample_key(id, *states.newest_slots.get(id)?)))
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        for item in self.read_items_with(&keys, true, None).await? {
            let Some(id) = get_s(&item, "pk")?.strip_prefix("ISSUE#") else {
                continue;
            };
            let sample = sample_json(&item)
                .ok()
                .and_then(|json| serde_json::from_str::<Sample>(&json).ok());
            if let Some(info) = states.infos.get_mut(id) {
                info.sample = sample;
            }
        }
        Ok(())
    }

    /// The one alert of a settlement's folded announcements
    /// ([`run_fold::announced_alert`]), with the newest samples of the
    /// issues a message details, read as [`Self::add_samples`] reads them.
    async fn announced_alert(
        &self,
        run: &Run,
        announce: &[String],
        states: &mut IssueStates,
        alert_after: u32,
        now: i64,
    ) -> Result<Alert, StoreError> {
        let mut alert = run_fold::announced_alert(run, announce, &states.infos, alert_after, now);
        let detailed: Vec<String> = alert
            .issues
            .iter()
            .take(DETAILED_ALERT_ISSUES)
            .map(|i| i.id.clone())
            .collect();
        self.add_samples(states, &detailed).await?;
        for issue in alert.issues.iter_mut().take(DETAILED_ALERT_ISSUES) {
            if let Some(info) = states.infos.get(&issue.id) {
                issue.sample = info.sample.clone();
            }
        }
        Ok(alert)
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
            let mut states = self.issue_states(&ids).await?;
            let settlement = lifecycle::settle(&stored.run, seq, &known, &states.now, &rules);

            let mut alerts = Vec::new();
            if settlement.digest {
                alerts.push(run_fold::digest_alert(&stored.run, &states.infos, now));
            }
            let folded = settlement.announce_folded;
            if folded {
                alerts.push(
                    self.announced_alert(
                        &stored.run,
                        &settlement.announce,
                        &mut states,
                        rules.alert_after,
                        now,
                    )
                    .await?,
                );
            }
            // The run, its index entry (a delete and a put when its time
            // moved), its job and its unsettled entry's deletion, beside the
            // digest: what is left of a transaction goes to the held alerts
            // (an update and an alert each, or only the update when they
            // are folded) and the resolutions.
            let room = MAX_ACTIONS.saturating_sub(5 + alerts.len());
            let per_announce = if folded { 1 } else { 2 };
            let announced: HashSet<&String> = settlement.announce.iter().collect();
            let mut rest = Rest {
                announce: settlement.announce.clone(),
                resolve: settlement
                    .resolve
                    .iter()
                    .filter(|id| !announced.contains(id))
                    .cloned()
                    .collect(),
                folded,
            };
            let announce: Vec<String> = rest
                .announce
                .drain(..rest.announce.len().min(room / per_announce))
                .collect();
            if !folded {
                self.add_samples(&mut states, &announce).await?;
            }
            let resolve_room = room.saturating_sub(announce.len() * per_announce);
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
            actions.push_run(table, &item, Some(run_ver), now)?;
            push_index(&mut actions, table, id, was, should)?;
            let stored = &item.stored;
            let mut streaks: BTreeMap<String, JobIssue> =
                known.into_iter().map(|j| (j.issue_id.clone(), j)).collect();
            for j in &settlement.job_issues {
                streaks.insert(j.issue_id.clone(), j.clone());
            }
            for id in &settlement.forget {
                streaks.remove(id);
            }
            let job_item = job_item(
                &job,
                seq,
                job_ver.map_or(1, |v| v.saturating_add(1)),
                streaks.values(),
            );
            actions.push_versioned(table, job_item, job_ver)?;
            if !more {
                actions.push_delete(table, unsettled_key(id))?;
            }
            for issue in announce.iter().filter(|_| !folded) {
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
            // an alert per held alert (only the update when the alerts were
            // folded into the one the settlement queued), an update per
            // resolution.
            let room = MAX_ACTIONS - 2;
            let per_announce = if rest.folded { 1 } else { 2 };
            let folded = rest.folded;
            let announce: Vec<String> = rest
                .announce
                .drain(..rest.announce.len().min(room / per_announce))
                .collect();
            let resolve_room = room - announce.len() * per_announce;
            let resolve: Vec<String> = rest
                .resolve
                .drain(..rest.resolve.len().min(resolve_room))
                .collect();
            let ids: BTreeSet<String> = announce.iter().chain(&resolve).cloned().collect();
            let mut states = self.issue_states(&ids).await?;
            if !folded {
                self.add_samples(&mut states, &announce).await?;
            }
            let done = rest.is_empty();
            item.rest = (!done).then_some(rest);
            let mut actions = Actions(Vec::new());
            actions.push_run(table, &item, Some(run_ver), now)?;
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
                if folded {
                    continue;
                }
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
}

/// Issues as settling reads them, by id.
#[derive(Debug, Default)]
struct IssueStates {
    now: HashMap<String, IssueNow>,
    infos: HashMap<String, IssueInfo>,
    vers: HashMap<String, u64>,
    /// The slot of each issue's newest sample, where it has one.
    newest_slots: HashMap<String, usize>,
}

/// The item of `job` after its settled run `seq`, at `ver`, with its
/// issues' records: one item, so it holds at most
/// [`crate::limits::MAX_JOB_ISSUES`] of them (see the test below).
fn job_item<'a>(
    job: &str,
    seq: u64,
    ver: u64,
    records: impl Iterator<Item = &'a JobIssue>,
) -> Item {
    let mut item = job_key(job);
    item.insert("settled".into(), n(seq));
    item.insert("ver".into(), n(ver));
    let rows: Vec<(&str, u64, u32)> = records
        .map(|j| (j.issue_id.as_str(), j.last_run, j.streak))
        .collect();
    item.insert("issues".into(), s(json(&rows)));
    item
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

/// The slot of the newest sample an issue's head records, the lowest
/// of equally new ones (SQLite's order), if any.
fn newest_slot(head: &Item) -> Result<Option<usize>, StoreError> {
    let slots = StoredIssue::from_item(head)?.slots;
    Ok(slots
        .iter()
        .enumerate()
        .filter_map(|(slot, stamp)| Some((slot, (*stamp)?)))
        .max_by_key(|(slot, stamp)| (*stamp, std::cmp::Reverse(*slot)))
        .map(|(slot, _)| slot))
}

/// What an alert about an issue says of it, from its head: the newest of
/// the samples a head of the older layout holds; a head of the current
/// layout holds none, and [`DynamoDbStore::add_samples`] reads it.
fn issue_info(item: &Item) -> Result<IssueInfo, StoreError> {
    let samples = super::super::items::get_string_list(item, "samples")?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_JOB_ISSUES;
    use crate::model::issue_id;

    /// DynamoDB's bound on an item: 400 KB of attribute names and values.
    const MAX_ITEM_BYTES: usize = 400 * 1024;

    #[test]
    fn a_job_item_at_its_bound_stays_well_under_dynamodbs_400_kb() {
        // DynamoDB takes partition keys of up to 2,048 bytes; every issue
        // id is 12 hex digits (48 bits, zero-padded); the numbers are the
        // largest their types hold.
        let job = "j".repeat(2048 - "JOB#".len());
        let records: Vec<JobIssue> = (0..MAX_JOB_ISSUES)
            .map(|i| JobIssue {
                issue_id: issue_id(&format!("fingerprint {i}")),
                last_run: u64::MAX,
                streak: u32::MAX,
            })
            .collect();
        assert!(records.iter().all(|j| j.issue_id.len() == 12));
        let item = job_item(&job, u64::MAX, u64::MAX, records.iter());
        let size = approx_size(&item);
        assert!(
            size <= MAX_ITEM_BYTES * 9 / 10,
            "{MAX_JOB_ISSUES} records make a {size}-byte job item, over 90% of {MAX_ITEM_BYTES}"
        );
        let read = job_issues(&item).expect("the item reads back");
        assert_eq!(read, records);
    }
}
