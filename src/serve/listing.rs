//! The issues a list view shows, read from today's [`Store`] trait.
//!
//! The store's own listing query (filters, sorts and paging inside SQLite and
//! DynamoDB, with each issue's recent hours) replaces this file when it
//! lands; until then the filters run here, over every issue, so the pages
//! work on either store.

use std::collections::HashSet;

use crate::model::{HourCount, Issue, StatusFilter};
use crate::output::chart::{Window, last_two_days};
use crate::store::{Store, StoreError};

use super::query::{ListQuery, PAGE_SIZE, Sort};

const DAY: i64 = 86_400_000;

/// One page of a list view.
pub struct Listing {
    /// Issues matching the filters, over every page.
    pub total: usize,
    /// This page's issues with their hours of the last two days.
    pub issues: Vec<(Issue, Vec<HourCount>)>,
    /// The newest occurrence in the store: what "the last 24 hours" and the
    /// sparklines count back from (replayed logs keep their own times).
    pub as_of: Option<i64>,
    /// The log groups in the store, for the filter's choices.
    pub log_groups: Vec<String>,
}

pub async fn list(store: &dyn Store, query: &ListQuery) -> Result<Listing, StoreError> {
    let every = store.issues(StatusFilter::All).await?;
    let as_of = every.iter().map(|i| i.last_seen).max();
    let mut log_groups: Vec<String> = every
        .iter()
        .map(|i| i.log_group.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    log_groups.sort();
    let end = as_of.unwrap_or(0);
    let since = query.seen.map(|r| Window::ending_at(end, r).start());
    let (from, to) = (query.from_ms(), query.to_ms());
    let status = query.status();
    let text = query.text.as_deref().map(str::to_lowercase);
    let mut matching: Vec<Issue> = every
        .into_iter()
        .filter(|i| status.admits(i.status))
        .filter(|i| query.log_group.as_ref().is_none_or(|g| &i.log_group == g))
        .filter(|i| query.kind.as_ref().is_none_or(|k| &i.kind == k))
        .filter(|i| {
            text.as_ref()
                .is_none_or(|t| i.title.to_lowercase().contains(t.as_str()))
        })
        .filter(|i| since.is_none_or(|s| i.last_seen >= s))
        .filter(|i| from.is_none_or(|f| i.last_seen >= f))
        .filter(|i| to.is_none_or(|t| i.first_seen < t))
        .collect();
    if let Some((name, value)) = &query.field {
        let mut kept = Vec::with_capacity(matching.len());
        for issue in matching {
            let Some(detail) = store.issue(&issue.id).await? else {
                continue;
            };
            let carries = detail
                .facets
                .iter()
                .any(|f| &f.name == name && f.top.iter().any(|(v, _)| v == value));
            if carries {
                kept.push(issue);
            }
        }
        matching = kept;
    }
    let mut hours = Vec::with_capacity(matching.len());
    let two_days_ago = end.saturating_sub(2 * DAY);
    match query.sort {
        Sort::Last => matching.sort_by_key(|i| std::cmp::Reverse(i.last_seen)),
        Sort::Count => matching.sort_by_key(|i| std::cmp::Reverse(i.count)),
        Sort::First => matching.sort_by_key(|i| std::cmp::Reverse(i.first_seen)),
        Sort::Trend => {
            let mut growth = Vec::with_capacity(matching.len());
            for issue in &matching {
                let h = store.hours(&issue.id, two_days_ago).await?;
                let (last, before) = last_two_days(&h, end);
                growth.push(last as i128 - before as i128);
                hours.push(h);
            }
            let mut order: Vec<usize> = (0..matching.len()).collect();
            order.sort_by_key(|i| std::cmp::Reverse(growth[*i]));
            let mut issues: Vec<Option<Issue>> = matching.into_iter().map(Some).collect();
            let mut h: Vec<Option<Vec<HourCount>>> = hours.into_iter().map(Some).collect();
            matching = order.iter().filter_map(|i| issues[*i].take()).collect();
            hours = order.iter().filter_map(|i| h[*i].take()).collect();
        }
    }
    let total = matching.len();
    let skip = (query.page - 1).saturating_mul(PAGE_SIZE);
    let mut page = Vec::with_capacity(PAGE_SIZE);
    for (i, issue) in matching.into_iter().enumerate().skip(skip).take(PAGE_SIZE) {
        let h = match hours.get_mut(i) {
            Some(h) => std::mem::take(h),
            None => store.hours(&issue.id, two_days_ago).await?,
        };
        page.push((issue, h));
    }
    Ok(Listing {
        total,
        issues: page,
        as_of,
        log_groups,
    })
}
