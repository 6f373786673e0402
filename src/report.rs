//! `faultline report --html`: one self-contained page about the issues.
//!
//! The page makes no network request (inline CSS and SVG, and a Content
//! Security Policy that forbids anything else), so it can be mailed,
//! attached to a ticket or opened offline. Everything that came from a log
//! line is HTML-escaped: a message holding `<script>` shows as text.

use std::fmt::Write;

use crate::links;
use crate::model::{HourCount, IssueDetail, hour_of};
use crate::text::rfc3339;

/// Days of hourly history each chart shows, ending at the issue's last hour.
const CHART_DAYS: i64 = 7;

/// Text made safe for HTML element content and quoted attribute values
/// ([`crate::sanitize::html`]).
pub fn escape(text: &str) -> String {
    crate::sanitize::html(text)
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
header{background:#1d232b;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b8c0cc}main{padding:16px 24px;max-width:1100px}
table.summary{border-collapse:collapse;width:100%;background:#fff;margin-bottom:24px}
.summary th,.summary td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e6ea;vertical-align:top}
.summary td.n{text-align:right;font-variant-numeric:tabular-nums}
section.issue{background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:12px 16px;margin-bottom:18px}
section.issue h2{font-size:16px;margin:0 0 6px;word-break:break-word}
.meta{color:#5b6673;font-size:13px}.status{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff}
.open{background:#c0392b}.resolved{background:#27ae60}.ignored{background:#7f8c8d}
pre{background:#f2f4f7;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-word;font-size:12px}
dl.fields{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:12px;margin:6px 0}
dl.fields dt{color:#5b6673}dl.fields dd{margin:0;word-break:break-all}
svg{display:block;margin:6px 0}a{color:#1f6feb}
";

/// The whole page for these issues, as of `generated_at` (epoch ms).
pub fn html(issues: &[IssueDetail], generated_at: i64, region: &str) -> String {
    let mut page = String::with_capacity(16 * 1024 + issues.len() * 8 * 1024);
    let total: u64 = issues.iter().map(|d| d.issue.count).sum();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>faultline report</title><style>{STYLE}</style></head><body>\
         <header><h1>faultline: {} issues, {} occurrences</h1><p>generated {}</p></header><main>",
        issues.len(),
        total,
        escape(&rfc3339(generated_at))
    );
    page.push_str(
        "<table class=\"summary\"><thead><tr><th>issue</th><th>status</th><th>count</th>\
         <th>last seen</th><th>log group</th><th>title</th></tr></thead><tbody>",
    );
    for detail in issues {
        let issue = &detail.issue;
        let _ = write!(
            page,
            "<tr><td><a href=\"#i-{id}\">{id}</a></td><td>{status}</td><td class=\"n\">{count}</td>\
             <td>{last}</td><td>{group}</td><td>{title}</td></tr>",
            id = escape(&issue.id),
            status = issue.status.as_str(),
            count = issue.count,
            last = escape(&rfc3339(issue.last_seen)),
            group = escape(&issue.log_group),
            title = escape(&issue.title),
        );
    }
    page.push_str("</tbody></table>");
    for detail in issues {
        issue_section(&mut page, detail, region);
    }
    page.push_str("</main></body></html>\n");
    page
}

fn issue_section(page: &mut String, detail: &IssueDetail, region: &str) {
    let issue = &detail.issue;
    let status = issue.status.as_str();
    let _ = write!(
        page,
        "<section class=\"issue\" id=\"i-{id}\"><h2>{title}</h2>\
         <div class=\"meta\"><span class=\"status {status}\">{status}</span> \
         {id} · {kind}{group} · {count} occurrences · first {first} · last {last}</div>",
        id = escape(&issue.id),
        title = escape(&issue.title),
        kind = if issue.kind.is_empty() {
            String::new()
        } else {
            format!("{} · ", escape(&issue.kind))
        },
        group = escape(&issue.log_group),
        count = issue.count,
        first = escape(&rfc3339(issue.first_seen)),
        last = escape(&rfc3339(issue.last_seen)),
    );
    page.push_str(&chart(&detail.hours, issue.last_seen));
    if !detail.facets.is_empty() {
        page.push_str("<dl class=\"fields\">");
        for facet in &detail.facets {
            let top: Vec<String> = facet
                .top
                .iter()
                .map(|(v, c)| format!("{} ({c})", escape(v)))
                .collect();
            let _ = write!(
                page,
                "<dt>{} ({}{})</dt><dd>{}</dd>",
                escape(&facet.name),
                facet.distinct,
                if facet.capped { "+" } else { "" },
                top.join(", ")
            );
        }
        page.push_str("</dl>");
    }
    for sample in detail.samples.iter().take(3) {
        let _ = write!(
            page,
            "<div class=\"meta\">{at} · {stream} · <a href=\"{console}\">log event</a> · \
             <a href=\"{insights}\">Logs Insights</a></div><pre>{message}</pre>",
            at = escape(&rfc3339(sample.timestamp)),
            stream = escape(&sample.log_stream),
            console = escape(&links::log_event(region, sample)),
            insights = escape(&links::insights(region, sample)),
            message = escape(&sample.message.replace('\r', "\n")),
        );
        if !sample.fields.is_empty() {
            page.push_str("<dl class=\"fields\">");
            for (key, value) in &sample.fields {
                let _ = write!(page, "<dt>{}</dt><dd>{}</dd>", escape(key), escape(value));
            }
            page.push_str("</dl>");
        }
    }
    page.push_str("</section>");
}

/// Hourly bars over the [`CHART_DAYS`] days ending at `end`, as inline SVG.
fn chart(hours: &[HourCount], end: i64) -> String {
    const W: i64 = 2;
    let slots = CHART_DAYS * 24;
    let last = hour_of(end);
    let first = last - (slots - 1) * 3_600_000;
    let max = hours
        .iter()
        .filter(|h| h.hour >= first)
        .map(|h| h.count)
        .max()
        .unwrap_or(0)
        .max(1);
    let width = slots * (W + 1);
    let mut svg = format!(
        "<svg width=\"{width}\" height=\"48\" viewBox=\"0 0 {width} 48\" role=\"img\" \
         aria-label=\"occurrences per hour, last {CHART_DAYS} days\">\
         <rect width=\"{width}\" height=\"48\" fill=\"#f2f4f7\"/>"
    );
    for day in 1..CHART_DAYS {
        let x = day * 24 * (W + 1);
        let _ = write!(
            svg,
            "<line x1=\"{x}\" y1=\"0\" x2=\"{x}\" y2=\"48\" stroke=\"#d5dae1\"/>"
        );
    }
    for h in hours.iter().filter(|h| h.hour >= first && h.hour <= last) {
        let slot = (h.hour - first) / 3_600_000;
        let height = ((h.count as f64 / max as f64) * 44.0).ceil().max(1.0) as i64;
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"{W}\" height=\"{height}\" fill=\"#c0392b\"><title>{}: {}</title></rect>",
            slot * (W + 1),
            48 - height,
            escape(&rfc3339(h.hour)),
            h.count
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Issue, Sample, Status};

    fn detail(title: &str, message: &str) -> IssueDetail {
        IssueDetail {
            issue: Issue {
                id: "abc123def456".into(),
                fingerprint: "v1:x".into(),
                log_group: "/aws/lambda/f".into(),
                title: title.into(),
                kind: "Error".into(),
                status: Status::Open,
                count: 7,
                first_seen: 1_700_000_000_000,
                last_seen: 1_700_003_600_000,
                regressed_at: None,
                resolved_in: None,
                ignored_until: None,
                ignored_until_count: None,
            },
            samples: vec![Sample {
                log_group: "/aws/lambda/f".into(),
                log_stream: "s".into(),
                event_id: "1".into(),
                timestamp: 1_700_000_000_000,
                kind: "Error".into(),
                message: message.into(),
                shape: "t".into(),
                fields: vec![("user".into(), "<b>bob</b>".into())],
            }],
            hours: vec![
                HourCount {
                    hour: 1_699_999_200_000,
                    count: 3,
                },
                HourCount {
                    hour: 1_700_002_800_000,
                    count: 4,
                },
            ],
            facets: Vec::new(),
        }
    }

    #[test]
    fn markup_from_log_lines_is_escaped() {
        let page = html(
            &[detail(
                "Error: <script>alert(1)</script>",
                "<img src=x onerror=alert(1)> & \"quoted\"",
            )],
            1_700_010_000_000,
            "us-east-1",
        );
        assert!(!page.contains("<script>alert"));
        assert!(!page.contains("<img"));
        assert!(!page.contains("<b>bob"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;"));
    }

    #[test]
    fn the_page_needs_no_network() {
        let page = html(&[detail("E", "m")], 1_700_010_000_000, "us-east-1");
        assert!(page.contains("default-src 'none'"));
        for forbidden in ["<script", "<link", "src=\"http", "url(", "@import"] {
            assert!(!page.contains(forbidden), "{forbidden}");
        }
        assert_eq!(
            page.matches("<rect x=").count(),
            2,
            "one bar per hour with occurrences"
        );
    }
}
