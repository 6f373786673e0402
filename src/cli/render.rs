//! How issues look on a terminal and as JSON.
//!
//! Everything a log line carried goes through [`printable`] before it reaches
//! the terminal, so a hostile message cannot inject escape sequences.

use std::io::Write;

use serde::Serialize;

use faultline::links;
use faultline::model::{HourCount, Issue, IssueDetail, Status};
use faultline::text::{printable, rfc3339, sparkline};

use super::Error;
use super::terminal::{Style, ago, link, paint};

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
    merged_into: Option<&'a str>,
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
            merged_into: issue.merged_into.as_deref(),
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
    merged_from: &'a [String],
    /// The runs it appeared in, and how often in its job's recent runs;
    /// left out where the store records no runs (DynamoDB, for now).
    #[serde(flatten)]
    runs: Option<&'a IssueRuns>,
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

pub fn issue_detail_json(
    detail: &IssueDetail,
    runs: Option<&IssueRuns>,
    out: &mut impl Write,
) -> Result<(), Error> {
    let view = DetailView {
        runs,
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
        merged_from: &detail.merged_from,
    };
    json(&view, out)
}

pub fn json(value: &impl Serialize, out: &mut impl Write) -> Result<(), Error> {
    faultline::sanitize::json_pretty(&mut *out, value)
        .map_err(|e| Error::Output(std::io::Error::from(e)))?;
    writeln!(out).map_err(Error::Output)
}

const TITLE_WIDTH: usize = 60;

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
    if let Some(into) = &issue.merged_into {
        line.push_str(&format!(" into {into}"));
    }
    line.push_str(&format!(": {}", printable(&issue.title)));
    line
}

/// What `issues merge` did, in one line per merged issue.
pub fn merged_line(into: &Issue, from: &str) -> String {
    format!(
        "{from} merged into {}: its later occurrences count there ({} in all now; `faultline issues unmerge {from}` undoes it): {}",
        into.id,
        into.count,
        printable(&into.title)
    )
}

/// Which columns the listing shows, and how wide.
struct Layout {
    /// LAST 24H: 24 hourly bars, 12 two-hour bars, or none.
    spark: usize,
    /// LAST SEEN: 19 (absolute, for pipes), 10 ("3 h ago") or 28 (both).
    seen: usize,
    /// LOG GROUP, unless the terminal is too narrow for it.
    group: Option<usize>,
    title: usize,
}

/// ID, STATUS and COUNT with the gaps after them: always shown.
const ALWAYS: usize = 12 + 2 + 8 + 2 + 7 + 2;

impl Layout {
    /// The layout for a terminal `width` columns wide (`None`: a pipe),
    /// with log group names up to `natural_group` long. The title is what a
    /// reader scans the list for, so a narrow terminal gives up the day's
    /// sparkline and the log group (which `issues show` names and
    /// `--log-group` filters by) rather than cut the title to a word: below
    /// 100 columns, the title gets all the room the ID, status, count and
    /// last-seen time leave.
    fn of(width: Option<usize>, natural_group: usize) -> Layout {
        let Some(width) = width else {
            return Layout {
                spark: 24,
                seen: 19,
                group: Some(natural_group),
                title: TITLE_WIDTH,
            };
        };
        let (spark, seen, group_share) = match width {
            w if w < 100 => (0, 10, None),
            w if w < 160 => (12, 10, Some((1, 3))),
            _ => (24, 16 + 2 + 10, Some((2, 5))),
        };
        let spark_gap = if spark > 0 { spark + 2 } else { 0 };
        let rest = width.saturating_sub(ALWAYS + spark_gap + seen + 2);
        let group = group_share.map(|(n, d)| natural_group.min((rest * n / d).max(9)));
        let title = rest.saturating_sub(group.map_or(0, |g| g + 2)).max(10);
        Layout {
            spark,
            seen,
            group,
            title,
        }
    }
}

/// The listing as a table. On a terminal it fits the width: titles are
/// cut, and below 100 columns the LAST 24H and LOG GROUP columns are left
/// out so the title keeps its room (see [`Layout::of`]); statuses are
/// coloured and the last-seen time says how long ago. In a pipe every row
/// is the same fixed, time-independent text with every column.
pub fn issues_table(
    issues: &[Issue],
    sparklines: &[String],
    style: &Style,
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
    let natural_group = issues
        .iter()
        .map(|i| i.log_group.chars().count())
        .max()
        .unwrap_or(9)
        .clamp(9, 40);
    let layout = Layout::of(style.width, natural_group);
    let row = |status: &str, count: &str, spark: &str, seen: &str, group: &str, title: &str| {
        let mut line = format!("{status}  {count:>7}  ");
        if layout.spark > 0 {
            line.push_str(&format!("{spark:<w$}  ", w = layout.spark));
        }
        line.push_str(&format!("{seen:<w$}  ", w = layout.seen));
        if let Some(w) = layout.group {
            line.push_str(&format!("{group:<w$}  "));
        }
        line.push_str(title);
        line
    };
    let header = format!(
        "{:<12}  {}",
        "ID",
        row(
            &format!("{:<8}", "STATUS"),
            "COUNT",
            "LAST 24H",
            "LAST SEEN",
            "LOG GROUP",
            "TITLE"
        )
    );
    writeln!(out, "{}", paint(style, "1", &header)).map_err(Error::Output)?;
    for (i, issue) in issues.iter().enumerate() {
        let absolute = rfc3339(issue.last_seen);
        let relative = ago(style.now, issue.last_seen);
        let seen = match layout.seen {
            19 => absolute[..19].to_string(),
            10 => relative,
            _ => format!("{}  {relative:>10}", absolute[..16].replace('T', " ")),
        };
        let spark = sparklines.get(i).map(String::as_str).unwrap_or("");
        let spark = if layout.spark == 12 {
            halve(spark)
        } else {
            spark.to_string()
        };
        let status = format!("{:<8}", issue.status.as_str());
        let status = match issue.status {
            Status::Open => paint(style, "31", &status),
            Status::Resolved => paint(style, "32", &status),
            Status::Ignored | Status::Merged => paint(style, "2", &status),
        };
        let line = row(
            &status,
            &issue.count.to_string(),
            &spark,
            &seen,
            &clip(&printable(&issue.log_group), layout.group.unwrap_or(0)),
            &clip(&printable(&issue.title), layout.title),
        );
        writeln!(out, "{:<12}  {line}", issue.id).map_err(Error::Output)?;
    }
    Ok(())
}

pub fn issue_detail(
    detail: &IssueDetail,
    style: &Style,
    out: &mut impl Write,
) -> Result<(), Error> {
    let issue = &detail.issue;
    let mut text = String::new();
    text.push_str(&format!("{}  {}\n", issue.id, printable(&issue.title)));
    text.push_str(&format!("  status       {}\n", issue.status.as_str()));
    if let Some(into) = &issue.merged_into {
        text.push_str(&format!(
            "  merged into  {into}  (its occurrences count there; `faultline issues unmerge {}` undoes it)\n",
            issue.id
        ));
    }
    if !detail.merged_from.is_empty() {
        text.push_str(&format!(
            "  merged from  {}\n",
            detail.merged_from.join(", ")
        ));
    }
    if let Some(at) = issue.regressed_at {
        text.push_str(&format!("  regressed    {}\n", rfc3339(at)));
    }
    text.push_str(&format!("  kind         {}\n", printable(&issue.kind)));
    text.push_str(&format!("  log group    {}\n", printable(&issue.log_group)));
    text.push_str(&format!("  count        {}\n", issue.count));
    text.push_str(&format!(
        "  first seen   {}  ({})\n",
        rfc3339(issue.first_seen),
        ago(style.now, issue.first_seen)
    ));
    text.push_str(&format!(
        "  last seen    {}  ({})\n",
        rfc3339(issue.last_seen),
        ago(style.now, issue.last_seen)
    ));
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
            link(
                style,
                &links::log_event(&region, sample),
                "the event in CloudWatch"
            )
        ));
        text.push_str(&format!(
            "    insights: {}\n",
            link(
                style,
                &links::insights(&region, sample),
                "the stream around it in Logs Insights"
            )
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

/// A sparkline at half the resolution: each pair of bars as the higher one
/// (the bar characters rise with their code points, above the space).
fn halve(spark: &str) -> String {
    let bars: Vec<char> = spark.chars().collect();
    bars.chunks(2)
        .map(|pair| pair.iter().copied().max().unwrap_or(' '))
        .collect()
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

/// How many recent runs of an issue's job `issues show` looks at.
const RECENT_RUNS: usize = 10;

/// The runs an issue appeared in, and how often it appears in its job's
/// recent runs.
#[derive(Serialize)]
pub struct IssueRuns {
    /// Newest first, at most [`RECENT_RUNS`].
    pub runs: Vec<IssueRun>,
    /// "Seen in N of the last M runs of its job", for the job of the
    /// newest run it appeared in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen_in: Option<SeenIn>,
}

#[derive(Serialize)]
pub struct IssueRun {
    pub id: String,
    pub job: String,
    pub name: String,
    pub started: Option<String>,
    pub outcome: &'static str,
    pub count: u64,
    pub recovered: u64,
    pub new: bool,
    pub regressed: bool,
}

#[derive(Serialize)]
pub struct SeenIn {
    pub job: String,
    pub runs: usize,
    pub of: usize,
}

impl IssueRuns {
    /// The runs `issue` appeared in, newest first, and how many of its
    /// job's latest settled runs had it.
    pub async fn of(store: &dyn faultline::store::Store, issue: &str) -> Result<IssueRuns, Error> {
        let appeared = store.issue_runs(issue, RECENT_RUNS).await?;
        let seen_in = match appeared.first() {
            Some(newest) => {
                let recent = store
                    .runs(&faultline::store::RunFilter {
                        job: Some(newest.job.clone()),
                        settled: true,
                        limit: Some(RECENT_RUNS),
                        ..Default::default()
                    })
                    .await?;
                let with = recent
                    .iter()
                    .filter(|r| r.issues.iter().any(|i| i.id == issue))
                    .count();
                (!recent.is_empty()).then(|| SeenIn {
                    job: newest.job.clone(),
                    runs: with,
                    of: recent.len(),
                })
            }
            None => None,
        };
        let runs = appeared
            .iter()
            .map(|r| {
                let mine = r.issues.iter().find(|i| i.id == issue);
                IssueRun {
                    id: r.id.clone(),
                    job: r.job.clone(),
                    name: r.name.clone(),
                    started: r.started.map(rfc3339),
                    outcome: r.outcome.as_str(),
                    count: mine.map_or(0, |i| i.count),
                    recovered: mine.map_or(0, |i| i.recovered),
                    new: mine.is_some_and(|i| i.new),
                    regressed: mine.is_some_and(|i| i.regressed),
                }
            })
            .collect();
        Ok(IssueRuns { runs, seen_in })
    }
}

/// The runs section of `issues show`.
pub fn issue_runs(runs: &IssueRuns, out: &mut impl Write) -> Result<(), Error> {
    if runs.runs.is_empty() {
        return Ok(());
    }
    let mut text = String::from("\nruns");
    if let Some(seen) = &runs.seen_in {
        text.push_str(&format!(
            " (seen in {} of the last {} runs of {})",
            seen.runs,
            seen.of,
            printable(&seen.job)
        ));
    }
    text.push_str(", newest first\n");
    for r in &runs.runs {
        let mut notes = Vec::new();
        if r.new {
            notes.push("new".to_string());
        }
        if r.regressed {
            notes.push("regressed".to_string());
        }
        if r.recovered > 0 {
            notes.push(format!("{} recovered", r.recovered));
        }
        text.push_str(&format!(
            "  {}  {:<10}  {:>6}  {} {}{}\n",
            r.id,
            r.outcome,
            r.count,
            printable(&r.job),
            printable(&r.name),
            if notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", notes.join(", "))
            }
        ));
    }
    out.write_all(text.as_bytes()).map_err(Error::Output)
}
