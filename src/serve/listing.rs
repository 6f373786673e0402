//! The issues a list view shows: the view's filters as the store's listing
//! query ([`IssueQuery`]), one page of it, each issue with its last day.

use crate::model::{IssueQuery, IssueSort, ListedIssue, StatusFilter};
use crate::output::chart::Window;
use crate::store::{Store, StoreError};

use super::query::{ListQuery, PAGE_SIZE, Sort};

/// One page of a list view.
pub struct Listing {
    /// Issues matching the filters, over every page.
    pub total: usize,
    /// This page's issues, each with its hourly counts of the last day.
    pub issues: Vec<ListedIssue>,
    /// The newest occurrence in the store: what "seen in the last 7 days",
    /// the sparklines and trends count back from (replayed logs keep their
    /// own times).
    pub as_of: Option<i64>,
    /// The start of the last hour each issue's hours cover.
    pub at_hour: i64,
}

/// The newest occurrence in the store, if it holds any issue.
pub async fn newest(store: &dyn Store) -> Result<Option<i64>, StoreError> {
    let query = IssueQuery {
        limit: Some(1),
        ..IssueQuery::status(StatusFilter::All)
    };
    Ok(store
        .list(&query)
        .await?
        .issues
        .first()
        .map(|i| i.issue.last_seen))
}

pub async fn list(store: &dyn Store, view: &ListQuery) -> Result<Listing, StoreError> {
    let as_of = newest(store).await?;
    let seen = view
        .seen
        .map(|range| Window::ending_at(as_of.unwrap_or(0), range).start());
    let query = IssueQuery {
        status: view.status(),
        log_group: view.log_group.clone(),
        kind: view.kind.clone(),
        text: view.text.clone(),
        since: seen.into_iter().chain(view.from_ms()).max(),
        // The view's `to` is exclusive, the query's `until` inclusive.
        until: view.to_ms().map(|t| t - 1),
        fields: view.field.iter().cloned().collect(),
        sort: match view.sort {
            Sort::Last => IssueSort::Last,
            Sort::Count => IssueSort::Count,
            Sort::First => IssueSort::First,
            Sort::Trend => IssueSort::Trend,
        },
        offset: (view.page - 1).saturating_mul(PAGE_SIZE),
        limit: Some(PAGE_SIZE),
        at: as_of,
    };
    let page = store.list(&query).await?;
    Ok(Listing {
        total: page.total,
        issues: page.issues,
        as_of,
        at_hour: page.at_hour,
    })
}
