//! The issues list's filters, sort and page, as the URL carries them: every
//! view of the list is a link that can be shared or bookmarked.

use serde::Deserialize;

use crate::model::StatusFilter;
use crate::output::chart::Range;
use crate::text::parse_time;

/// Issues per page.
pub const PAGE_SIZE: usize = 50;

/// The query string as it arrives: text, read by [`ListQuery::parse`] so a
/// bad value gets a message that says what to write instead.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    status: Option<String>,
    group: Option<String>,
    kind: Option<String>,
    q: Option<String>,
    seen: Option<String>,
    from: Option<String>,
    to: Option<String>,
    field: Option<String>,
    value: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Most recently seen first.
    #[default]
    Last,
    /// Most occurrences first.
    Count,
    /// Newest issues first.
    First,
    /// Most grown first: the last 24 hours against the 24 before.
    Trend,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Last, Sort::Count, Sort::First, Sort::Trend];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Last => "last",
            Sort::Count => "count",
            Sort::First => "first",
            Sort::Trend => "trend",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Last => "last seen",
            Sort::Count => "count",
            Sort::First => "first seen",
            Sort::Trend => "trend (24 h)",
        }
    }

    fn parse(text: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

pub const STATUSES: [StatusFilter; 5] = [
    StatusFilter::Open,
    StatusFilter::Resolved,
    StatusFilter::Ignored,
    StatusFilter::Merged,
    StatusFilter::All,
];

pub fn status_str(status: StatusFilter) -> &'static str {
    match status {
        StatusFilter::Open => "open",
        StatusFilter::Resolved => "resolved",
        StatusFilter::Ignored => "ignored",
        StatusFilter::Merged => "merged",
        StatusFilter::All => "all",
    }
}

/// Which issues the list shows, in which order, which page of them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    pub status: Option<StatusFilter>,
    pub log_group: Option<String>,
    pub kind: Option<String>,
    /// Words in the title or the message.
    pub text: Option<String>,
    /// Seen within this range before the newest occurrence in the store.
    pub seen: Option<Range>,
    /// Seen from, and before, these times, as typed (kept for the URL).
    pub from: Option<String>,
    pub to: Option<String>,
    /// One context field's value, such as `environment` = `prod`.
    pub field: Option<(String, String)>,
    pub sort: Sort,
    /// From 1.
    pub page: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("unknown status {0:?}: use open, resolved, ignored, merged or all")]
    Status(String),
    #[error("unknown range {0:?}: use 24h, 7d or 30d")]
    Range(String),
    #[error(
        "cannot read the time {0:?}: use a UTC date such as 2025-12-01 or 2025-12-01T08:00:00Z"
    )]
    Time(String),
    #[error("unknown sort {0:?}: use last, count, first or trend")]
    Sort(String),
    #[error("cannot read the page {0:?}: use a number from 1")]
    Page(String),
    #[error("a field filter needs both a field name and a value")]
    Field,
}

fn given(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl ListQuery {
    pub fn parse(params: ListParams) -> Result<ListQuery, QueryError> {
        let status = match given(params.status) {
            None => None,
            Some(s) => Some(
                STATUSES
                    .into_iter()
                    .find(|f| status_str(*f) == s)
                    .ok_or(QueryError::Status(s))?,
            ),
        };
        let seen = match given(params.seen) {
            None => None,
            Some(s) => Some(Range::parse(&s).ok_or(QueryError::Range(s))?),
        };
        let from = given(params.from);
        let to = given(params.to);
        for time in [&from, &to].into_iter().flatten() {
            if bound(time, false).is_none() {
                return Err(QueryError::Time(time.clone()));
            }
        }
        let sort = match given(params.sort) {
            None => Sort::default(),
            Some(s) => Sort::parse(&s).ok_or(QueryError::Sort(s))?,
        };
        let page = match given(params.page) {
            None => 1,
            Some(p) => match p.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => return Err(QueryError::Page(p)),
            },
        };
        // A field name alone, from a half-filled form, filters nothing.
        let field = match (given(params.field), params.value.filter(|v| !v.is_empty())) {
            (Some(name), Some(value)) => Some((name, value)),
            (None, None) | (Some(_), None) => None,
            (None, Some(_)) => return Err(QueryError::Field),
        };
        Ok(ListQuery {
            status,
            log_group: given(params.group),
            kind: given(params.kind),
            text: given(params.q),
            seen,
            from,
            to,
            field,
            sort,
            page,
        })
    }

    /// The status filter in force: open issues unless the URL says otherwise.
    pub fn status(&self) -> StatusFilter {
        self.status.unwrap_or(StatusFilter::Open)
    }

    /// Epoch ms the `from` and `to` boundaries stand for; a `to` date
    /// includes its whole day.
    pub fn from_ms(&self) -> Option<i64> {
        self.from.as_deref().and_then(|t| bound(t, false))
    }

    pub fn to_ms(&self) -> Option<i64> {
        self.to.as_deref().and_then(|t| bound(t, true))
    }

    /// This view's address: `/` and the parameters that differ from the
    /// defaults.
    pub fn url(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(status) = self.status {
            pairs.push(("status", status_str(status).to_string()));
        }
        let texts = [
            ("group", &self.log_group),
            ("kind", &self.kind),
            ("q", &self.text),
        ];
        for (key, value) in texts {
            if let Some(v) = value {
                pairs.push((key, v.clone()));
            }
        }
        if let Some(seen) = self.seen {
            pairs.push(("seen", seen.as_str().to_string()));
        }
        for (key, value) in [("from", &self.from), ("to", &self.to)] {
            if let Some(v) = value {
                pairs.push((key, v.clone()));
            }
        }
        if let Some((name, value)) = &self.field {
            pairs.push(("field", name.clone()));
            pairs.push(("value", value.clone()));
        }
        if self.sort != Sort::default() {
            pairs.push(("sort", self.sort.as_str().to_string()));
        }
        if self.page > 1 {
            pairs.push(("page", self.page.to_string()));
        }
        match serde_urlencoded::to_string(&pairs) {
            Ok(q) if !q.is_empty() => format!("/?{q}"),
            _ => "/".to_string(),
        }
    }

    /// The same view on another page.
    pub fn page(&self, page: usize) -> String {
        ListQuery {
            page,
            ..self.clone()
        }
        .url()
    }

    /// The same view sorted otherwise, from its first page.
    pub fn sorted(&self, sort: Sort) -> String {
        ListQuery {
            sort,
            page: 1,
            ..self.clone()
        }
        .url()
    }

    /// The same view without its field filter.
    pub fn without_field(&self) -> String {
        ListQuery {
            field: None,
            page: 1,
            ..self.clone()
        }
        .url()
    }

    /// The open issues of one log group.
    pub fn for_group(group: &str) -> String {
        ListQuery {
            log_group: Some(group.to_string()),
            page: 1,
            ..ListQuery::default()
        }
        .url()
    }

    /// The list of every issue, whatever its status, that carries one value
    /// of one context field: where a facet value on an issue page leads.
    pub fn for_field(name: &str, value: &str) -> String {
        ListQuery {
            status: Some(StatusFilter::All),
            field: Some((name.to_string(), value.to_string())),
            page: 1,
            ..ListQuery::default()
        }
        .url()
    }
}

/// A time typed as a boundary. Only dates and times: a bare duration such as
/// `7d` reads as a time from now, which a boundary in the past cannot be.
fn bound(text: &str, end_of_day: bool) -> Option<i64> {
    if !text.contains('-') {
        return None;
    }
    let at = parse_time(text, 0)?;
    Some(if end_of_day && !text.contains('T') {
        at.saturating_add(86_400_000)
    } else {
        at
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let q = serde_urlencoded::to_string(pairs).unwrap();
        serde_urlencoded::from_str(&q).unwrap()
    }

    #[test]
    fn the_clis_since_reads_back_as_the_same_instant() {
        // `faultline issues --since` prints its view's address with the
        // boundary as faultline writes times (milliseconds, UTC).
        let since = 1_763_900_123_456;
        let q = ListQuery::parse(params(&[("from", &crate::text::rfc3339(since))])).unwrap();
        assert_eq!(q.from_ms(), Some(since));
    }

    #[test]
    fn a_view_survives_its_own_url() {
        let q = ListQuery::parse(params(&[
            ("status", "all"),
            ("group", "/aws/lambda/orders"),
            ("q", "timeout & retry"),
            ("seen", "7d"),
            ("field", "environment"),
            ("value", "prod"),
            ("sort", "trend"),
            ("page", "3"),
        ]))
        .unwrap();
        let url = q.url();
        assert_eq!(
            url,
            "/?status=all&group=%2Faws%2Flambda%2Forders&q=timeout+%26+retry&seen=7d\
             &field=environment&value=prod&sort=trend&page=3"
        );
        let back: ListParams = serde_urlencoded::from_str(&url[2..]).unwrap();
        assert_eq!(ListQuery::parse(back).unwrap(), q);
        assert_eq!(ListQuery::parse(params(&[])).unwrap().url(), "/");
    }

    #[test]
    fn bad_values_say_what_to_write() {
        let err = |pairs: &[(&str, &str)]| ListQuery::parse(params(pairs)).unwrap_err();
        assert_eq!(
            err(&[("status", "closed")]),
            QueryError::Status("closed".into())
        );
        assert_eq!(err(&[("page", "0")]), QueryError::Page("0".into()));
        assert_eq!(err(&[("from", "7d")]), QueryError::Time("7d".into()));
        assert_eq!(err(&[("value", "prod")]), QueryError::Field);
    }

    #[test]
    fn a_to_date_includes_its_day() {
        let q = ListQuery::parse(params(&[("from", "2025-12-01"), ("to", "2025-12-01")])).unwrap();
        assert_eq!(q.to_ms().unwrap() - q.from_ms().unwrap(), 86_400_000);
    }
}
