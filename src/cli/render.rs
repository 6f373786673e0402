//! How issues look on a terminal and as JSON.
//!
//! Everything a log line carried goes through [`printable`] before it reaches
//! the terminal, so a hostile message cannot inject escape sequences.

use std::io::Write;

use serde::Serialize;

use faultline::links;
use faultline::model::{HourCount, Issue, IssueDetail, hour_of};
use faultline::text::{printable, rfc3339, sparkline};

use super::Error;

/// An issue as every `--json` prints it (the contract in the README):
/// timestamps as RFC 3339 UTC strings with milliseconds, every field always
/// present, absent values as null.
#[derive(Serialize)]
struct IssueView<'a> {
    id: &'a str,
    fingerprint: &'a str,
    log_group: &'a str,
    title: &'a str,
    kind: &'a str,
    status: &'a str,
    count: u64,
    first_seen: String,
    last_seen: String,
    regressed_at: Option<String>,
    resolved_in: Option<&'a str>,
    ignored_until: Option<String>,
    ignored_until_count: Option<u64>,
}

impl<'a> From<&'a Issue> for IssueView<'a> {
    fn from(issue: &'a Issue) -> Self {
        IssueView {
            id: &issue.id,
            fingerprint: &issue.fingerprint,
            log_group: &issue.log_group,
            title: &issue.title,
            kind: &issue.kind,
            status: issue.status.as_str(),
            count: issue.count,
            first_seen: rfc3339(issue.first_seen),
            last_seen: rfc3339(issue.last_seen),
            regressed_at: issue.regressed_at.map(rfc3339),
            resolved_in: issue.resolved_in.as_deref(),
            ignored_until: issue.ignored_until.map(rfc3339),
            ignored_until_count: issue.ignored_until_count,
        }
    }
}

/// `issues show --json`: the issue's fields, then what is kept about it.
#[derive(Serialize)]
struct DetailView<'a> {
    #[serde(flatten)]
    issue: IssueView<'a>,
    samples: Vec<SampleView<'a>>,
    hours: Vec<HourView>,
    facets: Vec<FacetView<'a>>,
}

#[derive(Serialize)]
struct SampleView<'a> {
    timestamp: String,
    log_group: &'a str,
    log_stream: &'a str,
    event_id: &'a str,
    kind: &'a str,
    message: &'a str,
    shape: &'a str,
    /// Context fields as an object (a later field of the same name wins).
    fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct HourView {
    hour: String,
    count: u64,
}

#[derive(Serialize)]
struct FacetView<'a> {
    name: &'a str,
    distinct: u64,
    capped: bool,
    top: Vec<FacetValueView<'a>>,
}

#[derive(Serialize)]
struct FacetValueView<'a> {
    value: &'a str,
    count: u64,
}

pub fn issues_json(issues: &[Issue], out: &mut impl Write) -> Result<(), Error> {
    let views: Vec<IssueView<'_>> = issues.iter().map(IssueView::from).collect();
    json(&views, out)
}

pub fn issue_json(issue: &Issue, out: &mut impl Write) -> Result<(), Error> {
    json(&IssueView::from(issue), out)
}

pub fn issue_detail_json(detail: &IssueDetail, out: &mut impl Write) -> Result<(), Error> {
    let view = DetailView {
        issue: IssueView::from(&detail.issue),
        samples: detail
            .samples
            .iter()
            .map(|s| SampleView {
                timestamp: rfc3339(s.timestamp),
                log_group: &s.log_group,
                log_stream: &s.log_stream,
                event_id: &s.event_id,
                kind: &s.kind,
                message: &s.message,
                shape: &s.shape,
                fields: s
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            })
            .collect(),
        hours: detail
            .hours
            .iter()
            .map(|h| HourView {
                hour: rfc3339(h.hour),
                count: h.count,
            })
            .collect(),
        facets: detail
            .facets
            .iter()
            .map(|f| FacetView {
                name: &f.name,
                distinct: f.distinct,
                capped: f.capped,
                top: f
                    .top
                    .iter()
                    .map(|(value, count)| FacetValueView {
                        value,
                        count: *count,
                    })
                    .collect(),
            })
            .collect(),
    };
    json(&view, out)
}

pub fn json(value: &impl Serialize, out: &mut impl Write) -> Result<(), Error> {
    faultline::sanitize::json_pretty(&mut *out, value)
        .map_err(|e| Error::Output(std::io::Error::from(e)))?;
    writeln!(out).map_err(Error::Output)
}

const TITLE_WIDTH: usize = 60;

/// Hourly counts of the 24 hours ending with the hour of `end`, as a sparkline.
pub fn last_day(hours: &[HourCount], end: i64) -> String {
    let last = hour_of(end);
    let mut counts = [0u64; 24];
    for h in hours {
        let back = (last - h.hour) / 3_600_000;
        if (0..24).contains(&back) {
            counts[23 - back as usize] += h.count;
        }
    }
    sparkline(&counts)
}

/// One line saying a reopened issue was open already.
pub fn already_open_line(issue: &Issue) -> String {
    format!(
        "{} is already open; nothing changed: {}",
        issue.id,
        printable(&issue.title)
    )
}

/// One line saying what an issue's status now is.
pub fn status_line(issue: &Issue) -> String {
    let mut line = format!("{} is now {}", issue.id, issue.status.as_str());
    if let Some(v) = &issue.resolved_in {
        line.push_str(&format!(" in version {}", printable(v)));
    }
    if let Some(t) = issue.ignored_until {
        line.push_str(&format!(" until {}", rfc3339(t)));
    }
    if let Some(c) = issue.ignored_until_count {
        line.push_str(&format!(" until its count reaches {c}"));
    }
    line.push_str(&format!(": {}", printable(&issue.title)));
    line
}

pub fn issues_table(
    issues: &[Issue],
    sparklines: &[String],
    out: &mut impl Write,
) -> Result<(), Error> {
    if issues.is_empty() {
        writeln!(
            out,
            "no issues (try --status all, or ingest some logs first)"
        )
        .map_err(Error::Output)?;
        return Ok(());
    }
    let group_width = issues
        .iter()
        .map(|i| i.log_group.chars().count())
        .max()
        .unwrap_or(9)
        .clamp(9, 40);
    writeln!(
        out,
        "{:<12}  {:<8}  {:>7}  {:<24}  {:<20}  {:<gw$}  TITLE",
        "ID",
        "STATUS",
        "COUNT",
        "LAST 24H",
        "LAST SEEN",
        "LOG GROUP",
        gw = group_width
    )
    .map_err(Error::Output)?;
    for (i, issue) in issues.iter().enumerate() {
        let last_seen = rfc3339(issue.last_seen);
        let spark = sparklines.get(i).map(String::as_str).unwrap_or("");
        writeln!(
            out,
            "{:<12}  {:<8}  {:>7}  {:<24}  {:<20}  {:<gw$}  {}",
            issue.id,
            issue.status.as_str(),
            issue.count,
            spark,
            &last_seen[..19.min(last_seen.len())],
            clip(&printable(&issue.log_group), group_width),
            clip(&printable(&issue.title), TITLE_WIDTH),
            gw = group_width
        )
        .map_err(Error::Output)?;
    }
    Ok(())
}

pub fn issue_detail(detail: &IssueDetail, out: &mut impl Write) -> Result<(), Error> {
    let issue = &detail.issue;
    let mut text = String::new();
    text.push_str(&format!("{}  {}\n", issue.id, printable(&issue.title)));
    text.push_str(&format!("  status       {}\n", issue.status.as_str()));
    if let Some(at) = issue.regressed_at {
        text.push_str(&format!("  regressed    {}\n", rfc3339(at)));
    }
    text.push_str(&format!("  kind         {}\n", printable(&issue.kind)));
    text.push_str(&format!("  log group    {}\n", printable(&issue.log_group)));
    text.push_str(&format!("  count        {}\n", issue.count));
    text.push_str(&format!("  first seen   {}\n", rfc3339(issue.first_seen)));
    text.push_str(&format!("  last seen    {}\n", rfc3339(issue.last_seen)));
    text.push_str(&format!("  fingerprint  {}\n", issue.fingerprint));
    if let Some(v) = &issue.resolved_in {
        text.push_str(&format!("  resolved in  {}\n", printable(v)));
    }
    text.push_str(&timeline(&detail.hours));
    if !detail.facets.is_empty() {
        text.push_str("\ncontext (distinct values, most frequent)\n");
        for facet in &detail.facets {
            let more = if facet.capped { "+" } else { "" };
            let top: Vec<String> = facet
                .top
                .iter()
                .map(|(v, c)| format!("{} ({c})", printable(v)))
                .collect();
            text.push_str(&format!(
                "  {:<17} {:>4}{more:<1}  {}\n",
                printable(&facet.name),
                facet.distinct,
                top.join(", ")
            ));
        }
    }
    text.push_str(&format!(
        "\nsamples ({}, newest first)\n",
        detail.samples.len()
    ));
    let region = links::region();
    for sample in &detail.samples {
        text.push_str(&format!(
            "\n  {}  {}  event {}\n",
            rfc3339(sample.timestamp),
            printable(&sample.log_stream),
            printable(&sample.event_id)
        ));
        for line in sample
            .message
            .split(['\n', '\r'])
            .filter(|l| !l.is_empty())
            .take(20)
        {
            text.push_str(&format!("    | {}\n", printable(line)));
        }
        text.push_str(&format!(
            "    console:  {}\n",
            links::log_event(&region, sample)
        ));
        text.push_str(&format!(
            "    insights: {}\n",
            links::insights(&region, sample)
        ));
        for (key, value) in &sample.fields {
            let mut lines = value.lines();
            text.push_str(&format!(
                "    {}: {}\n",
                printable(key),
                printable(lines.next().unwrap_or(""))
            ));
            for line in lines.take(30) {
                text.push_str(&format!("      {}\n", printable(line)));
            }
        }
    }
    out.write_all(text.as_bytes()).map_err(Error::Output)
}

/// The issue's days with occurrences, one sparkline of 24 hours per day,
/// newest last, at most the last 14 days that had any.
fn timeline(hours: &[HourCount]) -> String {
    let mut days: Vec<(i64, [u64; 24])> = Vec::new();
    for h in hours {
        let day = h.hour - h.hour.rem_euclid(86_400_000);
        let slot = ((h.hour - day) / 3_600_000) as usize;
        match days.last_mut() {
            Some((d, counts)) if *d == day => counts[slot] += h.count,
            _ => {
                let mut counts = [0; 24];
                counts[slot] = h.count;
                days.push((day, counts));
            }
        }
    }
    let mut text = String::from("\ntimeline (UTC hours 00-23)\n");
    for (day, counts) in days.iter().skip(days.len().saturating_sub(14)) {
        let total: u64 = counts.iter().sum();
        text.push_str(&format!(
            "  {}  {}  {total}\n",
            &rfc3339(*day)[..10],
            sparkline(counts)
        ));
    }
    text
}

/// At most `width` characters, with an ellipsis when cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(width.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}
