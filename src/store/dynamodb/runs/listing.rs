//! Listing runs newest first from the time index, a run by id, an
//! issue's runs, and indexing the runs written before the index existed.

use super::*;
use crate::store::RunName;

impl DynamoDbStore {
    /// Whether every run is in the time index (see [`Self::index_runs`]).
    pub(super) async fn indexed(&self) -> Result<bool, StoreError> {
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
    ///
    /// A run whose records do not read is left out, with a warning naming
    /// `faultline runs forget`, and the others are indexed. The marker is
    /// written all the same. Without it, every settling tick would read
    /// the whole `RUNS` partition and rewrite every run's links again,
    /// until someone forgets the run, and listings would stay on the
    /// unbounded path. Writing it loses nothing: the run left out is
    /// still in `RUNS` and, while unsettled, in `UNSETTLED`, whose
    /// settling warns about it at every tick. Listings could not show it
    /// anyway. Once repaired, its next write (its settlement, a batch)
    /// gives it its index entry, as every writer does, and `faultline
    /// store init` indexes it whole, its issues' links to it too, since
    /// `init` runs this whatever the marker says.
    pub(in crate::store::dynamodb) async fn index_runs(&self, now: i64) -> Result<(), StoreError> {
        for item in self.partition(RUNS_PK, "Query (runs)").await? {
            match self.index_run(&item, now).await {
                Err(e) if e.is_damaged() => {
                    let id = get_s(&item, "sk").unwrap_or("?");
                    tracing::warn!(
                        table = %self.table,
                        run = id,
                        error = %e,
                        "run {id} is left out of the runs' time index: its stored record is damaged; remove it with `faultline runs forget {id}`, or repair it and run `faultline store init`"
                    );
                }
                other => other?,
            }
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(indexed_marker_key()))
            .send()
            .await
            .map_err(|e| classify("PutItem (runs index marker)", &self.table, e))?;
        Ok(())
    }

    /// Brings the run `item` into the time index ([`Self::index_runs`]).
    async fn index_run(&self, item: &Item, now: i64) -> Result<(), StoreError> {
        let table = self.table.as_str();
        let mut read = RunItem::from_item(item)?;
        if !read.live() {
            return Ok(());
        }
        let id = read.stored.run.id.clone();
        let at = match read.at {
            Some(at) => at,
            None => {
                let at = when(&read.stored.run);
                let ver: u64 = get_n(item, "ver")?;
                read.at = Some(at);
                let mut actions = Actions(Vec::new());
                actions.push_run(table, &read, Some(ver), now)?;
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
                            None => return Ok(()),
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
        Ok(())
    }

    /// Up to `limit` run items whose keys a Query of `pk` in descending
    /// time order gives, `admit` choosing among its items before the runs
    /// are read; pages on until `limit` live runs are found or the
    /// partition ends, so merged or expired runs cost a little more. Each
    /// page asks for the runs still missing, plus `slack` when `admit`
    /// filters (fewer requests for a listing of one job among many).
    pub(super) async fn newest(
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
                let Some(read) = listable(&item)? else {
                    continue;
                };
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
    pub(in crate::store::dynamodb) async fn list_runs(
        &self,
        filter: &RunFilter,
    ) -> Result<Vec<Run>, StoreError> {
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
            let Some(read) = listable(&item)? else {
                continue;
            };
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

    /// Every run not folded into another, by id, with its key and name
    /// where they read ([`crate::store::Store::run_names`]): the whole
    /// `RUNS` partition (a Query per MB of run items), and none of the
    /// runs' links.
    pub(in crate::store::dynamodb) async fn names_of_runs(
        &self,
    ) -> Result<Vec<RunName>, StoreError> {
        let text = |item: &Item, name: &str| match item.get(name) {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        };
        Ok(self
            .partition(RUNS_PK, "Query (runs)")
            .await?
            .iter()
            .filter(|item| !folded(item))
            .filter_map(|item| {
                Some(RunName {
                    id: text(item, "sk")?,
                    key: text(item, "key"),
                    name: text(item, "name"),
                })
            })
            .collect())
    }

    /// One run by exact id.
    pub(in crate::store::dynamodb) async fn run_by_id(
        &self,
        id: &str,
    ) -> Result<Option<Run>, StoreError> {
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
    pub(in crate::store::dynamodb) async fn runs_of_issue(
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
            let Some(read) = listable(&item)? else {
                continue;
            };
            if read.live() {
                runs.push((read.stored.run, read.tally));
            }
        }
        self.finish_listing(runs, Some(limit)).await
    }
}

/// A run item as a listing reads it: `None`, with a warning, when it is
/// damaged ([`crate::store::warn_damaged_run`]).
fn listable(item: &Item) -> Result<Option<RunItem>, StoreError> {
    match RunItem::from_item(item) {
        Ok(read) => Ok(Some(read)),
        Err(e) if e.is_damaged() => {
            crate::store::warn_damaged_run(get_s(item, "sk").unwrap_or("?"), &e);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Whether `filter` admits `run`.
pub(super) fn admits(filter: &RunFilter, run: &Run) -> bool {
    filter
        .log_group
        .as_ref()
        .is_none_or(|g| *g == run.log_group)
        && filter.job.as_ref().is_none_or(|j| *j == run.job)
        && (!filter.settled || run.settled_at.is_some())
}
