//! How issues look on a terminal and as JSON.
//!
//! Everything a log line carried goes through [`printable`] before it reaches
//! the terminal, so a hostile message cannot inject escape sequences.

use std::io::Write;

use serde::Serialize;

use faultline::store::{Issue, IssueDetail};
use faultline::text::{printable, rfc3339};

use super::Error;

/// An issue as `--json` prints it: timestamps as RFC 3339 strings, which
/// people and `jq` read more easily than epoch milliseconds.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    regressed_at: Option<String>,
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
        }
    }
}

pub fn issues_json(issues: &[Issue], out: &mut impl Write) -> Result<(), Error> {
    let views: Vec<IssueView<'_>> = issues.iter().map(IssueView::from).collect();
    json(&views, out)
}

pub fn json(value: &impl Serialize, out: &mut impl Write) -> Result<(), Error> {
    serde_json::to_writer_pretty(&mut *out, value)
        .map_err(|e| Error::Output(std::io::Error::from(e)))?;
    writeln!(out).map_err(Error::Output)
}

const TITLE_WIDTH: usize = 60;

pub fn issues_table(issues: &[Issue], out: &mut impl Write) -> Result<(), Error> {
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
        "{:<12}  {:<8}  {:>7}  {:<20}  {:<gw$}  TITLE",
        "ID",
        "STATUS",
        "COUNT",
        "LAST SEEN",
        "LOG GROUP",
        gw = group_width
    )
    .map_err(Error::Output)?;
    for issue in issues {
        let last_seen = rfc3339(issue.last_seen);
        writeln!(
            out,
            "{:<12}  {:<8}  {:>7}  {:<20}  {:<gw$}  {}",
            issue.id,
            issue.status.as_str(),
            issue.count,
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
    text.push_str(&format!(
        "\nsamples ({}, newest first)\n",
        detail.samples.len()
    ));
    for sample in &detail.samples {
        text.push_str(&format!(
            "\n  {}  {}  event {}\n",
            rfc3339(sample.timestamp),
            printable(&sample.log_stream),
            sample.event_id
        ));
        for line in sample.message.lines().take(20) {
            text.push_str(&format!("    | {}\n", printable(line)));
        }
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

/// At most `width` characters, with an ellipsis when cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(width.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}
