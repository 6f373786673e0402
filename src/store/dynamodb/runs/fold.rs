//! Finishing a fold that one transaction could not hold: a part's links
//! moved into the job run's, a chunk per transaction.

use super::*;

impl DynamoDbStore {
    /// A run item as stored, with the version a write of it is conditioned
    /// on: what each chunk of a fold or a settlement starts from.
    pub(super) async fn run_item_at(&self, id: &str) -> Result<Option<(u64, RunItem)>, StoreError> {
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
    pub(super) async fn finish_folds(&self, id: &str, now: i64) -> Result<(), StoreError> {
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
                let added = target
                    .dirty_links
                    .iter()
                    .filter(|issue| !target.read_links.contains(*issue))
                    .count() as u64;
                item.nlinks = item.nlinks.map(|n| n.saturating_add(added));
            }
            let mut actions = Actions(Vec::new());
            actions.push_run(table, &item, Some(run_ver), now)?;
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
}
