//! `faultline report --html`: one self-contained page about the issues.
//!
//! The page makes no network request (inline CSS and SVG, and a Content
//! Security Policy that forbids anything else), so it can be mailed,
//! attached to a ticket or opened offline. It shows each issue the way
//! `faultline serve` does ([`super::view`]), and every chart on it covers the
//! same window: the week up to the newest occurrence in the report.

use askama::Template;

use crate::model::{IssueDetail, Run};

use super::chart::{Range, Window};
use super::format::{Time, plural};
use super::view::{IssueView, ViewOptions};

/// The stylesheet the report inlines and `faultline serve` serves.
pub const STYLE: &str = include_str!("templates/style.css");

/// Samples shown per issue: the page stays readable with many issues.
const SAMPLES_SHOWN: usize = 3;

#[derive(Template)]
#[template(path = "report.html")]
struct Report {
    style: &'static str,
    summary: String,
    generated: Time,
    range: &'static str,
    window_end: Time,
    /// The runs section ([`super::runs`]), already rendered and escaped.
    runs: String,
    issues: Vec<IssueView>,
}

/// The whole page for these issues, as of `generated_at` (epoch ms).
/// `region` is where the console links of samples that name no region of
/// their own point; without one they get no links.
pub fn html(issues: &[IssueDetail], generated_at: i64, region: Option<&str>) -> String {
    html_with_runs(issues, &[], generated_at, region)
}

/// [`html`], with a timeline of the runs of each job before the issues.
pub fn html_with_runs(
    issues: &[IssueDetail],
    runs: &[Run],
    generated_at: i64,
    region: Option<&str>,
) -> String {
    let newest = issues
        .iter()
        .map(|d| d.issue.last_seen)
        .max()
        .unwrap_or(generated_at);
    let window = Window::ending_at(newest, Range::Week);
    let no_link = |_: &str, _: &str| None;
    let options = ViewOptions {
        window,
        now: generated_at,
        region,
        max_samples: SAMPLES_SHOWN,
        facet_link: &no_link,
    };
    let total = issues
        .iter()
        .fold(0u64, |sum, d| sum.saturating_add(d.issue.count));
    let page = Report {
        style: STYLE,
        summary: format!(
            "{}, {}",
            plural(issues.len() as u64, "issue", "issues"),
            plural(total, "occurrence", "occurrences")
        ),
        generated: Time::at(generated_at),
        range: Range::Week.label(),
        window_end: Time::at(window.end),
        runs: super::runs::section(runs, issues),
        issues: issues.iter().map(|d| IssueView::new(d, &options)).collect(),
    };
    // Rendering fails only if a value's Display fails; ours cannot.
    page.render().unwrap_or_else(|e| {
        format!(
            "<!DOCTYPE html><title>faultline report</title><p>{}</p>",
            super::escape::html(&format!("the report could not be rendered: {e}"))
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Facet, HourCount, Issue, Sample, Status};

    const NOW: i64 = 1_700_010_000_000;

    fn detail(id: &str, title: &str, message: &str, last_seen: i64) -> IssueDetail {
        IssueDetail {
            issue: Issue {
                id: id.into(),
                fingerprint: "v1:x".into(),
                log_group: "/aws/lambda/f".into(),
                title: title.into(),
                kind: "Error".into(),
                status: Status::Open,
                count: 1,
                first_seen: last_seen,
                last_seen,
                regressed_at: None,
                resolved_in: None,
                ignored_until: None,
                ignored_until_count: None,
                merged_into: None,
            },
            samples: vec![Sample {
                log_group: "/aws/lambda/f".into(),
                log_stream: "s".into(),
                event_id: "1".into(),
                timestamp: last_seen,
                kind: "Error".into(),
                message: message.into(),
                shape: "t".into(),
                fields: vec![
                    ("user".into(), "<b>bob</b>".into()),
                    (
                        "stack".into(),
                        "handler (/var/task/app.py:3)\nload (/var/task/db.py:9)".into(),
                    ),
                ],
            }],
            hours: vec![HourCount {
                hour: crate::model::hour_of(last_seen),
                count: 1,
            }],
            facets: vec![Facet {
                name: "env".into(),
                distinct: 1,
                capped: false,
                top: vec![("<i>prod</i>".into(), 1)],
            }],
            merged_from: Vec::new(),
        }
    }

    #[test]
    fn markup_from_log_lines_is_escaped() {
        let page = html(
            &[detail(
                "abc123def456",
                "Error: <script>alert(1)</script>",
                "<img src=x onerror=alert(1)> & \"quoted\"",
                NOW,
            )],
            NOW,
            Some("us-east-1"),
        );
        assert!(!page.contains("<script>alert"));
        assert!(!page.contains("<img"));
        assert!(!page.contains("<b>bob"));
        assert!(!page.contains("<i>prod"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;"));
    }

    #[test]
    fn the_page_needs_no_network() {
        let page = html(&[detail("a", "E", "m", NOW)], NOW, None);
        assert!(page.contains("default-src 'none'"));
        for forbidden in ["<script", "<link", "src=\"http", "url(", "@import"] {
            assert!(!page.contains(forbidden), "{forbidden}");
        }
    }

    #[test]
    fn every_chart_covers_the_same_week_so_lone_bars_sit_at_their_own_time() {
        let day = 24 * 3_600_000;
        let page = html(
            &[
                detail("a", "A", "m", NOW),
                detail("b", "B", "m", NOW - 3 * day),
            ],
            NOW,
            None,
        );
        let bars: Vec<&str> = page
            .match_indices("<rect x=\"")
            .map(|(i, _)| &page[i..i + 16])
            .filter(|r| !r.contains("\"44\""))
            .collect();
        assert_eq!(bars.len(), 2, "{bars:?}");
        assert_ne!(
            bars[0], bars[1],
            "three days apart, not both at the right edge"
        );
    }

    #[test]
    fn stacks_read_one_frame_per_line_and_counts_agree_with_their_nouns() {
        let page = html(&[detail("a", "A", "m", NOW)], NOW, None);
        assert!(page.contains("<li class=\"app\">handler (/var/task/app.py:3)</li>"));
        assert!(page.contains("<li class=\"app\">load (/var/task/db.py:9)</li>"));
        assert!(page.contains("1 issue, 1 occurrence"));
        assert!(!page.contains("1 occurrences"));
        assert!(
            page.contains("no console links"),
            "no region, no guessed links"
        );
    }
}
