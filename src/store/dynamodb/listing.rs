//! The listing query on DynamoDB: the status index gives every candidate
//! (one Query per admitted status, a few bytes per issue), the filters and
//! the order apply in memory, and only what the index lacks is read from the
//! issue items: every candidate's facets when the query filters on context
//! fields, every candidate's hours when it sorts by trend, and otherwise
//! only the page's hours for its sparklines. Those come from each issue's
//! days (one Query per issue, up to 30 small items), so a facet filter or a
//! trend order over many issues reads much more than a plain listing; the
//! SQLite store answers the same query in SQL.

use std::collections::HashMap;

use super::DynamoDbStore;
use super::items::{Facets, get_n};
use super::retry::CONCURRENT_READS;
use crate::model::{
    HourCount, Issue, IssuePage, IssueQuery, IssueSort, ListedIssue, hour_of, sort_listing,
};
use crate::store::StoreError;

impl DynamoDbStore {
    pub(super) async fn list_issues(&self, query: &IssueQuery) -> Result<IssuePage, StoreError> {
        let mut candidates: Vec<Issue> = Vec::new();
        for status in query.status.statuses() {
            candidates.extend(self.query_status(status).await?);
        }
        candidates.retain(|issue| query.admits(issue));
        let mut hours: HashMap<String, Vec<HourCount>> = HashMap::new();
        if !query.fields.is_empty() || query.sort == IssueSort::Trend {
            let ids: Vec<&str> = candidates.iter().map(|i| i.id.as_str()).collect();
            let (read_hours, facets) = self.hours_and_facets(&ids).await?;
            candidates.retain(|issue| {
                let kept = facets.get(&issue.id);
                query.fields.iter().all(|(name, value)| {
                    kept.and_then(|f| f.get(name))
                        .is_some_and(|values| values.iter().any(|(v, _)| v == value))
                })
            });
            hours = read_hours;
        }
        let at = query
            .at
            .unwrap_or_else(|| candidates.iter().map(|i| i.last_seen).max().unwrap_or(0));
        let at_hour = hour_of(at);
        let mut listed: Vec<ListedIssue> = candidates
            .into_iter()
            .map(|issue| {
                let kept = hours.get(&issue.id).map(Vec::as_slice).unwrap_or_default();
                ListedIssue::new(issue, kept, at_hour)
            })
            .collect();
        sort_listing(&mut listed, query.sort);
        let total = listed.len();
        let mut page: Vec<ListedIssue> = listed
            .into_iter()
            .skip(query.offset)
            .take(query.limit.unwrap_or(usize::MAX))
            .collect();
        if hours.is_empty() && !page.is_empty() {
            let ids: Vec<&str> = page.iter().map(|l| l.issue.id.as_str()).collect();
            let (read_hours, _) = self.hours_and_facets(&ids).await?;
            for listed in &mut page {
                let kept = read_hours
                    .get(&listed.issue.id)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                *listed = ListedIssue::new(listed.issue.clone(), kept, at_hour);
            }
        }
        Ok(IssuePage {
            issues: page,
            total,
            at_hour,
        })
    }

    /// The hours and facets of these issues, from their days (eventually
    /// consistent, as the index they were listed from): one Query per
    /// issue, [`CONCURRENT_READS`] at a time.
    async fn hours_and_facets(
        &self,
        ids: &[&str],
    ) -> Result<(HashMap<String, Vec<HourCount>>, HashMap<String, Facets>), StoreError> {
        let mut hours = HashMap::new();
        let mut facets = HashMap::new();
        for group in ids.chunks(CONCURRENT_READS) {
            let mut reads = tokio::task::JoinSet::new();
            for id in group {
                let store = self.clone();
                let id = id.to_string();
                reads.spawn(async move {
                    let history = store.history_with(&id, false, false).await;
                    (id, history)
                });
            }
            while let Some(read) = reads.join_next().await {
                let (id, history) =
                    read.map_err(|e| StoreError::Backend(format!("reading an issue's days: {e}")))?;
                let history = history?;
                let Some(head) = history.head.as_ref() else {
                    continue;
                };
                let last_seen = get_n(head, "last_seen")?;
                hours.insert(id.clone(), history.hours(last_seen)?);
                facets.insert(id, history.facets);
            }
        }
        Ok((hours, facets))
    }
}
