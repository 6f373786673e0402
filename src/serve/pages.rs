//! The pages people read: the issues list and an issue.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::change::ChangeError;
use crate::model::{HourCount, ListedIssue, StatusFilter};
use crate::output::chart::{self, Range, Spark, Window};
use crate::output::format::{self, Time, plural};
use crate::output::report::STYLE;
use crate::output::view::{IssueView, ViewOptions};
use crate::store::{self, StoreError};

use super::AppState;
use super::listing;
use super::query::{self, ListParams, ListQuery, PAGE_SIZE, QueryError, Sort};

/// Samples an issue page shows: all the store keeps.
const SAMPLES_SHOWN: usize = crate::limits::MAX_SAMPLES;

/// Everything a page can fail with, each answered with a page that says
/// what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0}")]
    Query(#[from] QueryError),
    #[error("{}", .0.describe(""))]
    Change(#[from] ChangeError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("no issue with id {0}")]
    NotFound(String),
    #[error("no such page")]
    NoPage,
    #[error("give the id of the issue to merge this one into")]
    MissingInto,
    #[error(
        "this form is out of date (the server was restarted since it was loaded): go back, reload the page and try again"
    )]
    Csrf,
    #[error("the page could not be rendered: {0}")]
    Render(#[from] askama::Error),
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            PageError::Query(_) | PageError::Change(_) | PageError::MissingInto => {
                StatusCode::BAD_REQUEST
            }
            PageError::Store(StoreError::Refused(_)) => StatusCode::CONFLICT,
            PageError::Store(StoreError::NotFound(_)) | PageError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            PageError::NoPage => StatusCode::NOT_FOUND,
            PageError::Store(StoreError::Ambiguous(..)) => StatusCode::BAD_REQUEST,
            PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::Store(_) | PageError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: String,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status();
        let page = ErrorPage {
            status: status.to_string(),
            message: self.to_string(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, self.to_string()).into_response(),
        }
    }
}

pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

pub async fn not_found() -> PageError {
    PageError::NoPage
}

// ---- The list ---------------------------------------------------------------

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct Link {
    pub label: &'static str,
    pub href: String,
    pub on: bool,
}

pub struct Row {
    pub href: String,
    /// The list of this issue's log group.
    pub group_href: String,
    pub title: String,
    pub kind: String,
    pub log_group: String,
    pub status: &'static str,
    pub count: String,
    pub last: Time,
    pub last_ago: String,
    pub first: Time,
    pub spark: Spark,
    /// `+12`, `−3`, `±0`: the last 24 hours against the 24 before.
    pub trend: String,
    pub trend_title: String,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    query: ListQuery,
    statuses: Vec<Choice>,
    /// Log groups to suggest in the filter.
    groups: Vec<String>,
    seen: Vec<Choice>,
    sorts: Vec<Link>,
    rows: Vec<Row>,
    heading: String,
    showing: String,
    previous: Option<String>,
    next: Option<String>,
    as_of: Option<Time>,
    field: Option<(String, String, String)>,
}

pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Html<String>, PageError> {
    let query = ListQuery::parse(params)?;
    let listing = listing::list(state.store.as_ref(), &query).await?;
    let as_of = listing.as_of.unwrap_or(listing.at_hour);
    let rows: Vec<Row> = listing
        .issues
        .iter()
        .map(|l| row(l, listing.at_hour, as_of))
        .collect();
    let first = (query.page - 1) * PAGE_SIZE;
    let shown = listing.issues.len();
    let status = query.status();
    // The log groups on this page, to pick from as the filter's suggestions.
    let mut groups: Vec<String> = listing
        .issues
        .iter()
        .map(|l| l.issue.log_group.clone())
        .collect();
    groups.sort();
    groups.dedup();
    let page = ListPage {
        statuses: query::STATUSES
            .iter()
            .map(|s| Choice {
                value: query::status_str(*s).to_string(),
                label: query::status_str(*s).to_string(),
                selected: *s == status,
            })
            .collect(),
        groups,
        seen: Range::ALL
            .iter()
            .map(|r| Choice {
                value: r.as_str().to_string(),
                label: format!("last {}", r.label()),
                selected: query.seen == Some(*r),
            })
            .collect(),
        sorts: Sort::ALL
            .iter()
            .map(|s| Link {
                label: s.label(),
                href: query.sorted(*s),
                on: *s == query.sort,
            })
            .collect(),
        rows,
        heading: format!(
            "{} {}",
            plural(listing.total as u64, "issue", "issues"),
            match status {
                StatusFilter::All => "in any status".to_string(),
                other => query::status_str(other).to_string(),
            }
        ),
        showing: if listing.total > shown {
            format!(
                "showing {}–{} of {}",
                format::count(first as u64 + 1),
                format::count((first + shown) as u64),
                format::count(listing.total as u64)
            )
        } else {
            String::new()
        },
        previous: (query.page > 1).then(|| query.page(query.page - 1)),
        next: (first + shown < listing.total).then(|| query.page(query.page + 1)),
        as_of: listing.as_of.map(Time::at),
        field: query
            .field
            .as_ref()
            .map(|(n, v)| (n.clone(), v.clone(), query.without_field())),
        query,
    };
    Ok(Html(page.render()?))
}

fn row(listed: &ListedIssue, at_hour: i64, as_of: i64) -> Row {
    let issue = &listed.issue;
    let (last, before) = (listed.last_day, listed.day_before);
    let trend = match last.cmp(&before) {
        std::cmp::Ordering::Greater => format!("+{}", format::count(last - before)),
        std::cmp::Ordering::Less => format!("−{}", format::count(before - last)),
        std::cmp::Ordering::Equal => "±0".to_string(),
    };
    // The listing's hours, oldest first, end with the hour `at_hour`.
    let hours: Vec<HourCount> = listed
        .hourly
        .iter()
        .enumerate()
        .map(|(i, &count)| HourCount {
            hour: at_hour - (listed.hourly.len() - 1 - i) as i64 * 3_600_000,
            count,
        })
        .collect();
    Row {
        href: format!("/issues/{}", issue.id),
        group_href: ListQuery::for_group(&issue.log_group),
        title: issue.title.clone(),
        kind: issue.kind.clone(),
        log_group: issue.log_group.clone(),
        status: issue.status.as_str(),
        count: format::count(issue.count),
        last: Time::at(issue.last_seen),
        last_ago: format::ago(issue.last_seen, as_of),
        first: Time::at(issue.first_seen),
        spark: chart::spark(&hours, at_hour),
        trend,
        trend_title: format!(
            "{} in the last 24 hours, {} in the 24 before",
            format::count(last),
            format::count(before)
        ),
    }
}

// ---- One issue ------------------------------------------------------------------

#[derive(Deserialize)]
pub struct IssueParams {
    range: Option<String>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "issue.html")]
struct IssuePage {
    view: IssueView,
    csrf: String,
    ranges: Vec<Link>,
    done: Option<&'static str>,
    back: String,
    is_open: bool,
    /// The issue this one is merged into, if it is.
    merged_into: Option<String>,
    merged_from: Vec<String>,
    /// The runs it appeared in, newest first, at most [`RUNS_SHOWN`].
    runs: Vec<RunRow>,
    as_of: Time,
}

/// The runs an issue page lists.
const RUNS_SHOWN: usize = 20;

/// One run on an issue's page: which, how it ended, and this issue in it.
struct RunRow {
    name: String,
    job: String,
    outcome: &'static str,
    started: Option<Time>,
    /// This issue's occurrences in the run, and how many a retry got past.
    count: u64,
    recovered: u64,
    new: bool,
}

pub async fn issue(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<IssueParams>,
) -> Result<Response, PageError> {
    let range = match params.range.as_deref().filter(|r| !r.is_empty()) {
        None => Range::default(),
        Some(r) => Range::parse(r).ok_or_else(|| QueryError::Range(r.to_string()))?,
    };
    let Some(detail) = state.store.issue(&id).await? else {
        // A prefix, as the CLI accepts: send the browser to the full id.
        let full = store::resolve_id(state.store.as_ref(), &id).await?;
        return Ok(Redirect::to(&format!("/issues/{full}")).into_response());
    };
    // The chart ends at the newest occurrence in the store, as the list's
    // sparklines do, so both count back from the same hour.
    let as_of = listing::newest(state.store.as_ref())
        .await?
        .unwrap_or(detail.issue.last_seen);
    let runs: Vec<RunRow> = state
        .store
        .issue_runs(&detail.issue.id, RUNS_SHOWN)
        .await?
        .into_iter()
        .map(|run| {
            let here = run.issues.iter().find(|i| i.id == detail.issue.id);
            RunRow {
                outcome: run.outcome.as_str(),
                started: run.started.map(Time::at),
                count: here.map_or(0, |i| i.count),
                recovered: here.map_or(0, |i| i.recovered),
                new: here.is_some_and(|i| i.new),
                name: run.name,
                job: run.job,
            }
        })
        .collect();
    let facet_link = |name: &str, value: &str| Some(ListQuery::for_field(name, value));
    let options = ViewOptions {
        window: Window::ending_at(as_of, range),
        now: as_of,
        region: state.region.as_deref(),
        max_samples: SAMPLES_SHOWN,
        facet_link: &facet_link,
    };
    let done = params.done.as_deref().and_then(|d| match d {
        "resolved" => Some("Resolved."),
        "ignored" => Some("Ignored."),
        "reopened" => Some("Reopened."),
        "merged" => Some("Merged: its later occurrences count here."),
        "unmerged" => Some("Unmerged: it counts its own occurrences again."),
        _ => None,
    });
    let page = IssuePage {
        is_open: detail.issue.status == crate::model::Status::Open,
        view: IssueView::new(&detail, &options),
        csrf: state.csrf.to_string(),
        ranges: Range::ALL
            .iter()
            .map(|r| Link {
                label: r.label(),
                href: format!("/issues/{}?range={}", detail.issue.id, r.as_str()),
                on: *r == range,
            })
            .collect(),
        done,
        back: ListQuery::default().url(),
        merged_into: detail.issue.merged_into.clone(),
        merged_from: detail.merged_from.clone(),
        runs,
        as_of: Time::at(as_of),
    };
    Ok(Html(page.render()?).into_response())
}
