//! The listing query in SQL: filters in the WHERE clause, the order and the
//! page in ORDER BY / LIMIT, the trend from each issue's hourly rows of the
//! last two days (the `hours` primary key serves those lookups), context
//! fields through the `facets_by_value` index, and the sparklines of the
//! page's issues in one more query. `cargo bench --bench listing` times it
//! on 50,000 issues (BENCHMARKS.md).

use std::collections::HashMap;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::{ISSUE_COLUMNS, issue_from_row};
use crate::model::{
    HourCount, IssuePage, IssueQuery, IssueSort, LISTING_HOURS, ListedIssue, Status, StatusFilter,
    hour_of,
};

/// Ids per `IN (...)` list when reading the page's hours.
const IDS_PER_QUERY: usize = 500;

pub(super) fn list(conn: &Connection, query: &IssueQuery) -> Result<IssuePage, rusqlite::Error> {
    let (filters, args) = where_clause(query, 1);
    // The newest occurrence and the total in one pass over the filter: a
    // text search reads each issue's newest sample, and every pass repeats
    // that (three passes made `--grep` 4 times a plain listing).
    let (newest, total): (Option<i64>, i64) = conn
        .prepare_cached(&format!(
            "SELECT MAX(last_seen), COUNT(*) FROM issues WHERE {filters}"
        ))?
        .query_row(params_from_iter(args.iter()), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    let at = query.at.unwrap_or(newest.unwrap_or(0));
    let at_hour = hour_of(at);
    let span = LISTING_HOURS as i64 * 3_600_000;
    let first_hour = at_hour.saturating_sub(span - 3_600_000);

    let order = match query.sort {
        IssueSort::Last => "last_seen DESC, id",
        IssueSort::Count => "count DESC, last_seen DESC, id",
        IssueSort::First => "first_seen DESC, last_seen DESC, id",
        IssueSort::Trend => "last_day - day_before DESC, last_day DESC, last_seen DESC, id",
    };
    // The trend's sums only where the order needs them: the page's issues
    // get theirs from the sparkline query below.
    // An issue last seen before both days has nothing in them: it is not
    // looked up (most of a large store, whose issues are mostly old).
    let trend = if query.sort == IssueSort::Trend {
        ", CASE WHEN last_seen < ?3 THEN 0 ELSE (SELECT COALESCE(SUM(count), 0) FROM hours h
              WHERE h.issue_id = issues.id AND h.hour BETWEEN ?1 AND ?2) END AS last_day,
           CASE WHEN last_seen < ?3 THEN 0 ELSE (SELECT COALESCE(SUM(count), 0) FROM hours h
              WHERE h.issue_id = issues.id AND h.hour BETWEEN ?3 AND ?4) END AS day_before"
    } else {
        ", 0 AS last_day, 0 AS day_before"
    };
    let mut page_args: Vec<Value> = vec![
        Value::Integer(first_hour),
        Value::Integer(at_hour),
        Value::Integer(first_hour.saturating_sub(span)),
        Value::Integer(first_hour.saturating_sub(3_600_000)),
    ];
    page_args.extend(args.iter().cloned());
    page_args.push(Value::Integer(
        query
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)),
    ));
    page_args.push(Value::Integer(
        i64::try_from(query.offset).unwrap_or(i64::MAX),
    ));
    // The trend's four values come first, so the filters count from ?5.
    let (filters, _) = where_clause(query, 5);
    let n = args.len();
    let sql = format!(
        "SELECT {ISSUE_COLUMNS}{trend} FROM issues WHERE {filters}
         ORDER BY {order} LIMIT ?{} OFFSET ?{}",
        n + 5,
        n + 6
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let issues = stmt
        .query_map(params_from_iter(page_args.iter()), issue_from_row)?
        .collect::<Result<Vec<_>, _>>()?;

    let ids: Vec<&str> = issues.iter().map(|i| i.id.as_str()).collect();
    let mut hours: HashMap<String, Vec<HourCount>> = HashMap::new();
    for group in ids.chunks(IDS_PER_QUERY) {
        let marks = vec!["?"; group.len()].join(", ");
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT issue_id, hour, count FROM hours
             WHERE hour BETWEEN ? AND ? AND issue_id IN ({marks})"
        ))?;
        let mut values: Vec<Value> = vec![
            Value::Integer(first_hour.saturating_sub(span)),
            Value::Integer(at_hour),
        ];
        values.extend(group.iter().map(|id| Value::Text(id.to_string())));
        let rows = stmt.query_map(params_from_iter(values.iter()), |row| {
            Ok((
                row.get::<_, String>(0)?,
                HourCount {
                    hour: row.get(1)?,
                    count: row.get::<_, i64>(2)?.max(0) as u64,
                },
            ))
        })?;
        for row in rows {
            let (id, hour) = row?;
            hours.entry(id).or_default().push(hour);
        }
    }
    let issues = issues
        .into_iter()
        .map(|issue| {
            let kept = hours.remove(&issue.id).unwrap_or_default();
            ListedIssue::new(issue, &kept, at_hour)
        })
        .collect();
    Ok(IssuePage {
        issues,
        total: usize::try_from(total).unwrap_or(0),
        at_hour,
    })
}

/// The query's filters as SQL over `issues`, with `?N` placeholders
/// numbered from `first`, and their values.
fn where_clause(query: &IssueQuery, first: usize) -> (String, Vec<Value>) {
    let mut conditions: Vec<String> = vec!["1".into()];
    let mut args: Vec<Value> = Vec::new();
    let arg = |args: &mut Vec<Value>, value: Value| {
        args.push(value);
        format!("?{}", first + args.len() - 1)
    };
    match query.status {
        StatusFilter::All => {
            let p = arg(&mut args, Value::Text(Status::Merged.as_str().into()));
            conditions.push(format!("status != {p}"));
        }
        filter => {
            for status in filter.statuses() {
                let p = arg(&mut args, Value::Text(status.as_str().into()));
                conditions.push(format!("status = {p}"));
            }
        }
    }
    if let Some(group) = &query.log_group {
        let p = arg(&mut args, Value::Text(group.clone()));
        conditions.push(format!("log_group = {p}"));
    }
    if let Some(kind) = &query.kind {
        let p = arg(&mut args, Value::Text(kind.clone()));
        conditions.push(format!("kind = {p}"));
    }
    if let Some(text) = &query.text {
        // SQLite's lower() folds ASCII only, as IssueQuery::admits does.
        // For issues whose title and kind miss, the newest kept sample's
        // message is looked at (found through the samples' primary key):
        // one message per issue however many samples it keeps, so the cost
        // stays one JSON read per issue (BENCHMARKS.md, listing).
        let p = arg(&mut args, Value::Text(text.to_ascii_lowercase()));
        conditions.push(format!(
            "(instr(lower(title), {p}) > 0 OR instr(lower(kind), {p}) > 0
              OR instr(lower((SELECT json_extract(s.sample, '$.message') FROM samples s
                              WHERE s.issue_id = issues.id ORDER BY s.timestamp DESC LIMIT 1)), {p}) > 0)"
        ));
    }
    if let Some(since) = query.since {
        let p = arg(&mut args, Value::Integer(since));
        conditions.push(format!("last_seen >= {p}"));
    }
    if let Some(until) = query.until {
        let p = arg(&mut args, Value::Integer(until));
        conditions.push(format!("first_seen <= {p}"));
    }
    for (name, value) in &query.fields {
        let n = arg(&mut args, Value::Text(name.clone()));
        let v = arg(&mut args, Value::Text(value.clone()));
        // Served by the facets_by_value index: the issues carrying a value
        // are looked up, not every issue's facets scanned.
        conditions.push(format!(
            "id IN (SELECT issue_id FROM facets WHERE name = {n} AND value = {v})"
        ));
    }
    (conditions.join(" AND "), args)
}
