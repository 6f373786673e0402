//! What a run digest says, on a terminal, in an email and in chat.
//!
//! One message per run, however many issues it had: the outcome, the new
//! issues (already announced when first seen, so listed as such, not as
//! news), the regressions, then the known issues by count, recovered
//! errors apart.
//!
//! The same shape carries the one alert that releases more held new-issue
//! alerts than get one each ([`RunDigest::held_for_runs`]): there the news
//! is the new issues, not how the run ended, so it has its own headline
//! and says why they were not alerted before. The stored digest names at most
//! [`crate::runs::lifecycle::MAX_DIGEST_ISSUES`] issues and counts the
//! rest; chat shows fewer ([`MAX_CHAT_LINES`]), since a channel is read at
//! a glance. Every value that came from a log line or a job's name goes
//! through the sanitiser of its medium.

use crate::model::{Alert, DigestIssue, Outcome, RunDigest, RunSource};
use crate::runs::lifecycle::{impact, thousands};
use crate::sanitize::{self, Lines};
use crate::text::{printable, rfc3339};

use super::chat::{ascii_line, code_span, escape_markdown};

/// Issues listed in a chat digest; the rest are counted.
pub const MAX_CHAT_LINES: usize = 15;

/// `failed`, `timed out`, ...
fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
        Outcome::TimedOut => "timed out",
        Outcome::Aborted => "was aborted",
        Outcome::Running => "is running",
        Outcome::Unknown => "ended",
    }
}

fn source_text(source: RunSource) -> &'static str {
    match source {
        RunSource::StepFunctions => "Step Functions execution",
        RunSource::Batch => "Batch job",
        RunSource::Ecs => "ECS task",
        RunSource::Field => "run",
    }
}

/// `7 errors (2 recovered) in 3 issues`, plus the failed share of the
/// run's items when it stated them.
fn counts(digest: &RunDigest) -> String {
    let issues = digest.issues.len() as u64 + digest.more_issues;
    let mut text = format!(
        "{} error{}",
        thousands(digest.errors),
        if digest.errors == 1 { "" } else { "s" }
    );
    if digest.recovered > 0 {
        text.push_str(&format!(" ({} recovered)", thousands(digest.recovered)));
    }
    text.push_str(&format!(
        " in {issues} issue{}",
        if issues == 1 { "" } else { "s" }
    ));
    let failed = digest
        .failed_items
        .unwrap_or(digest.errors.saturating_sub(digest.recovered));
    if let Some(share) = impact(failed, digest.items) {
        text.push_str(&format!("; {share} failed"));
    }
    text
}

fn label(issue: &DigestIssue) -> &'static str {
    if issue.new {
        "new"
    } else if issue.regressed {
        "regressed"
    } else if issue.recovered >= issue.count {
        "recovered"
    } else {
        "known"
    }
}

fn issue_counts(issue: &DigestIssue) -> String {
    if issue.recovered > 0 && issue.recovered < issue.count {
        format!("{} ({} recovered)", issue.count, issue.recovered)
    } else {
        issue.count.to_string()
    }
}

/// The digest's headline: `Run failed: nightly-billing 2025-11-23`. Held
/// new issues released at once: `49 new issues, held until seen in 3
/// consecutive runs of nightly-billing`, the job last so that a subject
/// cut to its limit loses the end of the job's name, not what happened.
pub fn headline(digest: &RunDigest) -> String {
    match digest.held_for_runs {
        Some(runs) => {
            let issues = digest.issues.len() as u64 + digest.more_issues;
            let plural = if issues == 1 { "" } else { "s" };
            if runs > 1 {
                format!(
                    "{issues} new issue{plural}, held until seen in {runs} consecutive runs of {}",
                    digest.job
                )
            } else {
                // Held because retries got past every error of theirs,
                // until this run.
                format!(
                    "{issues} new issue{plural} of {}, held while retries got past them",
                    digest.job
                )
            }
        }
        None => format!(
            "Run {}: {} {}",
            outcome_text(digest.outcome),
            digest.job,
            digest.name
        ),
    }
}

/// The email subject: printable ASCII under 100 characters.
pub fn subject(digest: &RunDigest) -> String {
    let issues = digest.issues.len() as u64 + digest.more_issues;
    let text = match digest.held_for_runs {
        // The headline counts them already.
        Some(_) => format!("[faultline] {}", headline(digest)),
        None => format!("[faultline] {} ({issues} issues)", headline(digest)),
    };
    ascii_line(&text, super::chat::MAX_SUBJECT_CHARS)
}

/// The run that released held new issues, and what they did in it:
/// `released by run 2025-11-23 (failed): 2,160 errors in 49 issues`.
fn released_by(digest: &RunDigest) -> String {
    format!(
        "released by run {} ({}): {}",
        digest.name,
        outcome_text(digest.outcome),
        counts(digest)
    )
}

/// The lines a digest prints as on a terminal.
pub fn console(digest: &RunDigest) -> String {
    let mut text = if digest.held_for_runs.is_some() {
        format!(
            "[faultline] {}  {}  {}\n",
            printable(&headline(digest)),
            digest.run_id,
            printable(&released_by(digest))
        )
    } else {
        format!(
            "[faultline] run digest {}  {}  {}\n",
            digest.run_id,
            printable(&headline(digest)),
            counts(digest)
        )
    };
    for issue in &digest.issues {
        text.push_str(&format!(
            "  {:<9}  {}  {:>9}  {}\n",
            label(issue),
            issue.id,
            issue_counts(issue),
            printable(&issue.title)
        ));
    }
    if digest.more_issues > 0 {
        text.push_str(&format!("  ...and {} more issues\n", digest.more_issues));
    }
    text
}

fn plain(text: &str) -> String {
    sanitize::plain(text, Lines::Join)
}

/// The plain-text email body.
/// A titled part of an email digest and the issues it lists.
type Section = (&'static str, fn(&DigestIssue) -> bool);

pub fn email(alert: &Alert, digest: &RunDigest) -> String {
    let mut text = match digest.held_for_runs {
        Some(runs) => {
            let why = if runs > 1 {
                format!(
                    "their alerts were held until they appeared in {runs} consecutive runs of {} (the policy's alert_after_runs)",
                    plain(&digest.job)
                )
            } else {
                format!(
                    "their alerts were held while retries got past every error of theirs in runs of {}",
                    plain(&digest.job)
                )
            };
            format!(
                "{} new issues are alerted now, in one message: {why}. The {} {}, which {}, released them: {}.\n\n",
                digest.issues.len() as u64 + digest.more_issues,
                source_text(digest.source),
                plain(&digest.name),
                outcome_text(digest.outcome),
                counts(digest)
            )
        }
        None => format!(
            "The {} {} of {} {}: {}.\n\n",
            source_text(digest.source),
            plain(&digest.name),
            plain(&digest.job),
            outcome_text(digest.outcome),
            counts(digest)
        ),
    };
    if let Some(started) = digest.started {
        text.push_str(&format!("  Started:  {}\n", rfc3339(started)));
    }
    if let Some(ended) = digest.ended {
        text.push_str(&format!("  Ended:    {}\n", rfc3339(ended)));
    }
    text.push_str(&format!("  Run:      {}\n", digest.run_id));
    let new_title = if digest.held_for_runs.is_some() {
        "New issues (not alerted before)"
    } else {
        "New in this run (each was alerted when first seen)"
    };
    let sections: [Section; 4] = [
        (new_title, |i| i.new),
        ("Regressions", |i| !i.new && i.regressed),
        ("Known issues", |i| {
            !i.new && !i.regressed && i.recovered < i.count
        }),
        ("Recovered (a retry got past them)", |i| {
            !i.new && !i.regressed && i.recovered >= i.count
        }),
    ];
    for (title, admits) in sections {
        let listed: Vec<&DigestIssue> = digest.issues.iter().filter(|i| admits(i)).collect();
        if listed.is_empty() {
            continue;
        }
        text.push_str(&format!("\n{title}:\n"));
        for issue in listed {
            text.push_str(&format!(
                "  {}  {:>9}  {}\n",
                issue.id,
                issue_counts(issue),
                plain(&issue.title)
            ));
        }
    }
    if digest.more_issues > 0 {
        text.push_str(&format!(
            "\n...and {} more issues (faultline runs show {})\n",
            digest.more_issues, digest.run_id
        ));
    }
    text.push_str(&format!(
        "\nDetails: faultline runs show {} --store dynamodb://TABLE\n(alert {}, event type {})\n",
        digest.run_id,
        alert.id,
        alert.event_type.as_str()
    ));
    text
}

/// The chat title, Markdown-escaped.
pub fn chat_title(digest: &RunDigest) -> String {
    escape_markdown(&crate::limits::truncate(&headline(digest), 512))
}

/// The chat description (`client-markdown`): log-derived text in code
/// spans, at most [`MAX_CHAT_LINES`] issues.
pub fn chat_description(digest: &RunDigest) -> String {
    let summary = match digest.held_for_runs {
        Some(_) => format!("Not alerted before; {}", released_by(digest)),
        None => counts(digest),
    };
    let mut text = format!("{}\n", escape_markdown(&summary));
    if let (Some(started), Some(ended)) = (digest.started, digest.ended) {
        text.push_str(&format!(
            "{} to {}\n",
            escape_markdown(&rfc3339(started)),
            escape_markdown(&rfc3339(ended))
        ));
    }
    text.push('\n');
    for issue in digest.issues.iter().take(MAX_CHAT_LINES) {
        text.push_str(&format!(
            "{} {} {} {}\n",
            escape_markdown(label(issue)),
            code_span(&issue.id),
            escape_markdown(&issue_counts(issue)),
            code_span(&crate::limits::truncate(&issue.title, 160))
        ));
    }
    let rest = (digest.issues.len().saturating_sub(MAX_CHAT_LINES)) as u64 + digest.more_issues;
    if rest > 0 {
        text.push_str(&format!("and {rest} more issues\n"));
    }
    text.push_str(&format!(
        "\n{}",
        code_span(&format!("faultline runs show {}", digest.run_id))
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn digest(issues: usize) -> RunDigest {
        RunDigest {
            run_id: "4f2c9a1b7d3e".into(),
            name: "2025-11-23".into(),
            job: "nightly-billing".into(),
            source: RunSource::StepFunctions,
            outcome: Outcome::Failed,
            started: Some(1_763_856_000_000),
            ended: Some(1_763_859_600_000),
            errors: 2160,
            recovered: 40,
            items: Some(120_000),
            failed_items: None,
            issues: (0..issues)
                .map(|i| DigestIssue {
                    id: format!("{i:012x}"),
                    kind: "KeyError".into(),
                    title: format!("KeyError: 'sku' <!channel> `{i}`"),
                    count: 10 + i as u64,
                    recovered: if i == 2 { 10 + i as u64 } else { 0 },
                    new: i == 0,
                    regressed: i == 1,
                })
                .collect(),
            more_issues: 0,
            held_for_runs: None,
        }
    }

    #[test]
    fn a_digest_says_how_the_run_ended_and_what_it_hit() {
        let d = digest(4);
        let line = counts(&d);
        assert_eq!(
            line,
            "2,160 errors (40 recovered) in 4 issues; 1.8% of 120,000 items failed"
        );
        assert_eq!(
            subject(&d),
            "[faultline] Run failed: nightly-billing 2025-11-23 (4 issues)"
        );
        let text = console(&d);
        assert!(text.contains("  new        000000000000"), "{text}");
        assert!(text.contains("  regressed  000000000001"), "{text}");
        assert!(text.contains("  recovered  000000000002"), "{text}");
        assert!(text.contains("  known      000000000003"), "{text}");
    }

    #[test]
    fn email_sections_keep_news_apart_from_known_and_recovered() {
        let d = digest(4);
        let alert = Alert {
            id: "run:4f2c9a1b7d3e:digest".into(),
            event_type: crate::model::EventType::RunDigest,
            log_group: "/aws/vendedlogs/states/nightly-billing".into(),
            created_at: 0,
            issues: Vec::new(),
            run: Some(d.clone()),
        };
        let text = email(&alert, &d);
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} in\n{text}"))
        };
        assert!(at("New in this run") < at("Regressions"));
        assert!(at("Regressions") < at("Known issues"));
        assert!(at("Known issues") < at("Recovered"));
        assert!(
            text.starts_with("The Step Functions execution 2025-11-23 of nightly-billing failed")
        );
    }

    /// The one alert releasing held new issues: every issue new, the
    /// run's items not its concern (as `run_fold::announced_alert` builds it).
    fn released(listed: usize, more: u64) -> RunDigest {
        let mut d = digest(listed);
        for issue in &mut d.issues {
            issue.new = true;
            issue.regressed = false;
            issue.recovered = 0;
        }
        d.more_issues = more;
        d.errors = d.issues.iter().map(|i| i.count).sum();
        d.recovered = 0;
        d.items = None;
        d.held_for_runs = Some(3);
        d
    }

    #[test]
    fn held_new_issues_released_at_once_say_so_not_how_the_run_ended() {
        let d = released(2, 47);
        assert_eq!(
            subject(&d),
            "[faultline] 49 new issues, held until seen in 3 consecutive runs of nightly-billing"
        );
        assert_eq!(
            console(&d),
            "[faultline] 49 new issues, held until seen in 3 consecutive runs of nightly-billing  \
             4f2c9a1b7d3e  released by run 2025-11-23 (failed): 21 errors in 49 issues\n\
             \x20 new        000000000000         10  KeyError: 'sku' <!channel> `0`\n\
             \x20 new        000000000001         11  KeyError: 'sku' <!channel> `1`\n\
             \x20 ...and 47 more issues\n"
        );
        let alert = Alert {
            id: "run:4f2c9a1b7d3e:1763859600000:new_issue:digest".into(),
            event_type: crate::model::EventType::NewIssue,
            log_group: "/aws/vendedlogs/states/nightly-billing".into(),
            created_at: 0,
            issues: Vec::new(),
            run: Some(d.clone()),
        };
        assert_eq!(
            email(&alert, &d),
            "49 new issues are alerted now, in one message: their alerts were held until they \
             appeared in 3 consecutive runs of nightly-billing (the policy's alert_after_runs). \
             The Step Functions execution 2025-11-23, which failed, released them: 21 errors in \
             49 issues.\n\
             \n\
             \x20 Started:  2025-11-23T00:00:00.000Z\n\
             \x20 Ended:    2025-11-23T01:00:00.000Z\n\
             \x20 Run:      4f2c9a1b7d3e\n\
             \n\
             New issues (not alerted before):\n\
             \x20 000000000000         10  KeyError: 'sku' <!channel> `0`\n\
             \x20 000000000001         11  KeyError: 'sku' <!channel> `1`\n\
             \n\
             ...and 47 more issues (faultline runs show 4f2c9a1b7d3e)\n\
             \n\
             Details: faultline runs show 4f2c9a1b7d3e --store dynamodb://TABLE\n\
             (alert run:4f2c9a1b7d3e:1763859600000:new_issue:digest, event type new_issue)\n"
        );
        assert_eq!(
            chat_title(&d),
            "49 new issues, held until seen in 3 consecutive runs of nightly\\-billing"
        );
        assert!(
            chat_description(&d).starts_with(
                "Not alerted before; released by run 2025\\-11\\-23 \\(failed\\): 21 errors in 49 issues\n"
            ),
            "{}",
            chat_description(&d)
        );
    }

    #[test]
    fn held_new_issues_released_with_alert_after_one_name_the_retries() {
        let mut d = released(49, 0);
        d.held_for_runs = Some(1);
        assert_eq!(
            subject(&d),
            "[faultline] 49 new issues of nightly-billing, held while retries got past them"
        );
    }

    #[test]
    fn a_long_job_name_is_what_the_subject_loses() {
        let mut d = released(49, 0);
        d.job = format!("nightly-{}", "x".repeat(120));
        let s = subject(&d);
        assert_eq!(s.len(), crate::notify::chat::MAX_SUBJECT_CHARS);
        assert!(
            s.starts_with(
                "[faultline] 49 new issues, held until seen in 3 consecutive runs of nightly-xxx"
            ),
            "{s}"
        );
    }

    #[test]
    fn chat_lists_a_bounded_number_of_issues_in_code_spans() {
        let mut d = digest(40);
        d.more_issues = 10;
        let text = chat_description(&d);
        assert_eq!(text.matches("KeyError").count(), MAX_CHAT_LINES);
        assert!(text.contains("and 35 more issues"), "{text}");
        assert!(!text.contains("<!channel>"), "{text}");
    }
}
