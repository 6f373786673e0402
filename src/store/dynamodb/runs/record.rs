//! Recording a batch's runs: reading them and their issues into the
//! shared working set, and writing what the fold changed, inside the
//! batch's own transaction or after its issue chunks.

use super::*;

impl DynamoDbStore {
    /// Every issue of a run, by a Query of its partition.
    pub(super) async fn links_of(
        &self,
        id: &str,
    ) -> Result<BTreeMap<String, RunIssue>, StoreError> {
        self.partition(&format!("RUN#{id}"), "Query (a run's issues)")
            .await?
            .iter()
            .map(|item| link_from_item(item).map(|link| (link.id.clone(), link)))
            .collect()
    }

    /// The links of run `id` to the issues `ids` that it has.
    async fn links_by_key(
        &self,
        id: &str,
        ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, RunIssue>, StoreError> {
        let keys: Vec<Item> = ids.iter().map(|issue| link_key(id, issue)).collect();
        self.read_items_with(&keys, true, None)
            .await?
            .iter()
            .map(|item| link_from_item(item).map(|link| (link.id.clone(), link)))
            .collect()
    }

    /// Reads the runs (by key) and parts into `read`, with the issues of
    /// each run that is there: those in `wanted` (the issues the deltas
    /// touch) when reading them by key costs less than the run's whole
    /// partition, else all of them. `None` wants them all: a delta that
    /// links parts may fold a part's run, whose issues all move.
    async fn read_into(
        &self,
        read: &mut Read,
        runs: &[String],
        parts: &[String],
        wanted: Option<&BTreeSet<String>>,
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
                    let by_key = wanted
                        .zip(found.nlinks)
                        .filter(|(ids, nlinks)| links_by_key(ids.len(), *nlinks));
                    let mut links = if !found.live() {
                        BTreeMap::new()
                    } else if let Some((ids, nlinks)) = by_key {
                        read.partial.insert(key.clone());
                        read.nlinks.insert(key.clone(), nlinks);
                        self.links_by_key(&id, ids).await?
                    } else {
                        let links = self.links_of(&id).await?;
                        read.nlinks.insert(key.clone(), links.len() as u64);
                        links
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
    pub(in crate::store::dynamodb) async fn record_runs(
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
            let issue_chunks = super::super::chunk_ranges(batch).len().max(1);
            let mut keys: Vec<Item> = (0..issue_chunks)
                .map(|c| super::super::items::marker_key(&batch.batch_id, c))
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
                    for id in super::super::items::get_string_list(&marker, name)? {
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

    /// Reads the runs the run deltas `deltas` count in, with their parts,
    /// into one working set, after finishing any fold left unfinished in
    /// them. Links as [`Self::read_into`] reads them: of the issues `only`
    /// names when given (enough to say which issues the runs had, not to
    /// record them), else of those the deltas touch, or all.
    pub(in crate::store::dynamodb) async fn read_runs(
        &self,
        deltas: &[&RunDelta],
        only: Option<&BTreeSet<String>>,
        now: i64,
    ) -> Result<RunsRead, StoreError> {
        let wanted = match only {
            Some(ids) => Some(ids.clone()),
            None => wanted_links(deltas.iter().copied()),
        };
        loop {
            let mut read = Read::default();
            let (mut runs, mut parts) = (Vec::new(), Vec::new());
            for delta in deltas {
                let (more_runs, more_parts) = run_book::to_read(delta);
                for (keys, more) in [(&mut runs, more_runs), (&mut parts, more_parts)] {
                    for key in more {
                        if !keys.contains(&key) {
                            keys.push(key);
                        }
                    }
                }
            }
            self.read_into(&mut read, &runs, &parts, wanted.as_ref())
                .await?;
            let targets: Vec<String> = deltas
                .iter()
                .filter_map(|d| read.book.redirect(d))
                .collect::<BTreeSet<String>>()
                .into_iter()
                .collect();
            if !targets.is_empty() {
                self.read_into(&mut read, &targets, &[], wanted.as_ref())
                    .await?;
            }
            if read.folding.is_empty() {
                return Ok(RunsRead {
                    read,
                    whole: only.is_none(),
                });
            }
            // As for a run chunk of its own: a fold left unfinished is
            // finished first.
            for id in &read.folding {
                self.finish_folds(id, now).await?;
            }
        }
    }

    /// The writes that record the runs of `batches` (each batch's run
    /// deltas, rerouted, and what its issue chunk created and reopened),
    /// as `read` ([`Self::read_runs`] of those deltas) found them, to go
    /// into the transaction of the batches' issue chunk, whose markers
    /// then guard them: the run markers of [`DynamoDbStore::record_runs`]
    /// are not needed, nor a transaction of their own. `None` when they
    /// need more than `room` actions (a delta with more issues than one
    /// run write takes, a fold too big to start beside the issues), or
    /// `read` holds only some links: they are then written after, on their
    /// own.
    pub(in crate::store::dynamodb) fn inline_runs(
        &self,
        read: &RunsRead,
        batches: &[(&[RunDelta], Recorded)],
        room: usize,
        now: i64,
    ) -> Result<Option<InlineRuns>, StoreError> {
        let deltas: Vec<(&RunDelta, &Recorded)> = batches
            .iter()
            .flat_map(|(deltas, recorded)| deltas.iter().map(move |d| (d, recorded)))
            .collect();
        if !read.whole
            || deltas
                .iter()
                .any(|(d, _)| d.issues.len() > ISSUES_PER_RUN_WRITE)
        {
            return Ok(None);
        }
        let read = &read.read;
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
    pub(in crate::store::dynamodb) async fn finish_inline_folds(
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
        let wanted = wanted_links([delta]);
        for attempt in 0..MAX_CONTENDED_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let read = loop {
                let mut read = Read::default();
                let (runs, parts) = run_book::to_read(delta);
                self.read_into(&mut read, &runs, &parts, wanted.as_ref())
                    .await?;
                if let Some(target) = read.book.redirect(delta) {
                    self.read_into(&mut read, &[target], &[], wanted.as_ref())
                        .await?;
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

    /// The actions that write what `book` changed, and check what it read.
    pub(super) fn write_book(
        &self,
        actions: &mut Actions,
        read: &Read,
        now: i64,
    ) -> Result<(), StoreError> {
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
                nlinks: None,
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
            item.nlinks = Some(nlinks_after(read, slot, run_key, &whole));
            actions.push_run(table, &item, slot.read_ver, now)?;
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
    // Entries of links still there and not changed now stay as read, and
    // so do those of links not read (the batch did not touch them).
    let partial = read.partial.contains(run_key);
    let kept = |id: &String| {
        !slot.dirty_links.contains(id)
            && (slot.links.contains_key(id) || (partial && !slot.read_links.contains(id)))
    };
    let mut tally: Tally = read
        .tallies
        .get(run_key)
        .map(|t| {
            t.iter()
                .filter(|(id, _)| kept(id))
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

/// How many link items run `run_key` has once `whole` links are written
/// and its dropped links deleted: as read (see [`Read::nlinks`]), plus the
/// links it did not have, less those it loses.
fn nlinks_after(read: &Read, slot: &RunSlot, run_key: &str, whole: &[&RunIssue]) -> u64 {
    let had = read.nlinks.get(run_key).copied().unwrap_or(0);
    let added = whole
        .iter()
        .filter(|link| !slot.read_links.contains(&link.id))
        .count() as u64;
    let dropped = slot
        .dropped_links
        .iter()
        .filter(|issue| slot.read_links.contains(*issue))
        .count() as u64;
    had.saturating_add(added).saturating_sub(dropped)
}

/// The issues whose links recording `deltas` needs: those they touch, or
/// `None` (all of each run's) when one links parts, whose runs' issues a
/// fold moves whole.
fn wanted_links<'a>(deltas: impl IntoIterator<Item = &'a RunDelta>) -> Option<BTreeSet<String>> {
    let mut wanted = BTreeSet::new();
    for delta in deltas {
        if !delta.parts.is_empty() {
            return None;
        }
        wanted.extend(
            run_fold::issue_adds(delta)
                .into_iter()
                .map(|add| add.issue_id),
        );
    }
    Some(wanted)
}

/// Whether a part read as not there needs no check: its own run was read
/// live, and the transaction writes or checks that run at the version
/// read. A job event that made it a part since then folded that run (a
/// new version); one that made it a part before the run was first written
/// would have been seen by that write, or refused by its check. So a
/// container task's run (a part of nothing, most of them) checks its part
/// on its first batch only.
pub(super) fn part_implied(book: &Book, part_key: &str, part: &PartSlot) -> bool {
    part.read_ver.is_none()
        && book.runs.get(part_key).is_some_and(|run| {
            run.read_ver.is_some() && run.read.as_ref().is_some_and(BookRun::live)
        })
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
