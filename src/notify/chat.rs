//! What an alert says in SNS: the email subject and text, the AWS Chatbot
//! (Amazon Q Developer in chat applications) custom notification, and the
//! CloudWatch console link to an occurrence. Pure: no AWS, no I/O.
//!
//! Everything shown comes from log lines, which anyone who can make a job log
//! something controls. So:
//! - the subject is printable ASCII only, under 100 characters (SNS's rule
//!   for email subjects);
//! - chat text is `client-markdown`: log-derived text goes into code spans
//!   and code blocks (where Markdown is not interpreted), with backticks
//!   neutralised so it cannot close them, and `&`, `<`, `>` written as
//!   entities, so Slack cannot read `<!channel>` or `<url|text>` out of a log
//!   line; free text outside code is backslash-escaped;
//! - the email is plain text (SNS email is `text/plain`), with control
//!   characters removed so nothing can forge extra lines of the alert's own;
//! - samples are cut so the whole message stays well under SNS's 256 KB.

use serde_json::json;

use super::digest;
use crate::links;
use crate::model::{Alert, AlertIssue, EventType, RunDigest};
use crate::sanitize::{self, Lines};
use crate::text::rfc3339;

/// SNS allows 262,144 bytes for the message plus its attributes; this leaves
/// room for the attributes and the JSON envelope.
pub const MAX_MESSAGE_BYTES: usize = 240 * 1024;

/// Subjects must be under 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;

/// Issues described in full in one message; the rest of a digest is listed
/// by id (the `issue_ids` attribute still names them all).
pub const MAX_DETAILED_ISSUES: usize = 20;

/// A rendered alert: what the SNS notifier publishes.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub subject: String,
    /// The `MessageStructure=json` body: `{"default": <chatbot json>, "email": <text>}`.
    pub structured: String,
    pub chatbot: String,
    pub email: String,
}

/// Renders an alert for SNS, shrinking samples until it fits.
pub fn render(alert: &Alert, region: &str) -> Message {
    let mut sample_bytes = 2048;
    loop {
        let message = render_with(alert, region, sample_bytes);
        if message.structured.len() <= MAX_MESSAGE_BYTES || sample_bytes == 0 {
            return message;
        }
        sample_bytes /= 4;
    }
}

fn render_with(alert: &Alert, region: &str, sample_bytes: usize) -> Message {
    if let Some(run) = &alert.run {
        return render_digest(alert, run);
    }
    let subject = subject(alert);
    let chatbot = chatbot_json(alert, region, &subject, sample_bytes);
    let email = email_text(alert, region, sample_bytes);
    let structured = json!({"default": chatbot, "email": email}).to_string();
    Message {
        subject,
        structured,
        chatbot,
        email,
    }
}

/// A run digest: its own subject, chat text and email ([`super::digest`]).
fn render_digest(alert: &Alert, run: &RunDigest) -> Message {
    let subject = digest::subject(run);
    let chatbot = json!({
        "version": "1.0",
        "source": "custom",
        "id": alert.id,
        "content": {
            "textType": "client-markdown",
            "title": digest::chat_title(run),
            "description": digest::chat_description(run),
            "keywords": ["faultline", alert.event_type.as_str(), run.outcome.as_str()],
        },
        "metadata": {
            "eventType": alert.event_type.as_str(),
            "threadId": format!("faultline-job-{}", ascii_line(&run.job, 200).replace(' ', "_")),
            "summary": subject,
            "additionalContext": {
                "log_group": alert.log_group,
                "run_id": run.run_id,
                "outcome": run.outcome.as_str(),
                "issue_ids": alert.issue_ids(),
            },
        },
    })
    .to_string();
    let email = digest::email(alert, run);
    let structured = json!({"default": chatbot, "email": email}).to_string();
    Message {
        subject,
        structured,
        chatbot,
        email,
    }
}

fn headline(alert: &Alert) -> String {
    let n = alert.issues.len();
    match (alert.event_type, n) {
        (EventType::NewIssue, 1) => "New issue".to_string(),
        (EventType::NewIssue, _) => format!("{n} new issues"),
        (EventType::Regression, 1) => "Regression".to_string(),
        (EventType::Regression, _) => format!("{n} regressions"),
        (EventType::Threshold, 1) => "Threshold crossed".to_string(),
        (EventType::Threshold, _) => format!("{n} issues crossed their threshold"),
        (EventType::RunDigest, _) => "Run digest".to_string(),
    }
}

/// `[faultline] New issue: KeyError: 'x' in /aws/lambda/f`, printable ASCII,
/// at most [`MAX_SUBJECT_CHARS`].
pub fn subject(alert: &Alert) -> String {
    let what = match alert.issues.as_slice() {
        [one] => format!("{}: {}", headline(alert), one.title),
        _ => headline(alert),
    };
    let text = format!("[faultline] {what} in {}", alert.log_group);
    ascii_line(&text, MAX_SUBJECT_CHARS)
}

/// `text` on one line of printable ASCII (anything else becomes `?`, runs of
/// whitespace one space), cut to `max` characters with `...`.
pub fn ascii_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut last_space = false;
    for c in text.chars() {
        let c = if c.is_whitespace() {
            ' '
        } else if c.is_ascii_graphic() {
            c
        } else {
            '?'
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    let out = out.trim().to_string();
    if out.len() <= max {
        return out;
    }
    format!("{}...", &out[..max.saturating_sub(3)])
}

/// Plain text for the email ([`sanitize::plain`]): hidden characters made
/// spaces, newlines kept only if `lines`.
fn plain(text: &str, lines: bool) -> String {
    sanitize::plain(text, if lines { Lines::Keep } else { Lines::Join })
}

fn cut(text: &str, max: usize) -> String {
    crate::limits::truncate(text, max)
}

/// Free text for `client-markdown`: entities plus a backslash before every
/// character Markdown gives meaning to.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in sanitize::chat(text, Lines::Join).chars() {
        if "\\`*_{}[]()#+-.!|~>".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An inline code span holding `text` literally, on one line.
pub fn code_span(text: &str) -> String {
    let inner = sanitize::chat(text, Lines::Join).replace('`', "'");
    format!("`{}`", if inner.is_empty() { " ".into() } else { inner })
}

/// A fenced code block holding `text` literally.
pub fn code_block(text: &str) -> String {
    let inner = sanitize::chat(text, Lines::Keep).replace('`', "'");
    format!("```\n{}\n```", inner.trim_end())
}

fn issue_link(region: &str, alert: &Alert, issue: &AlertIssue) -> String {
    match &issue.sample {
        Some(sample) => links::log_event(region, sample),
        None => links::log_group(region, &alert.log_group),
    }
}

fn thread_id(alert: &Alert) -> String {
    // One issue: its alerts (new, then any regression) share a thread.
    // A digest: threaded per log group.
    match alert.issues.as_slice() {
        [one] => format!("faultline-issue-{}", one.id),
        _ => format!(
            "faultline-group-{}",
            ascii_line(&alert.log_group, 200).replace(' ', "_")
        ),
    }
}

/// The Chatbot custom-notification JSON (`version` 1.0, `source` custom).
pub fn chatbot_json(alert: &Alert, region: &str, subject: &str, sample_bytes: usize) -> String {
    let mut description = String::new();
    for (i, issue) in alert.issues.iter().enumerate() {
        if i == MAX_DETAILED_ISSUES {
            let rest: Vec<String> = alert.issues[i..].iter().map(|i| i.id.clone()).collect();
            description.push_str(&format!(
                "\nand {} more: {}\n",
                rest.len(),
                code_span(&rest.join(", "))
            ));
            break;
        }
        description.push_str(&format!(
            "{} {} {}\n{} in this batch, first seen {}\n",
            code_span(&issue.id),
            code_span(&issue.kind),
            code_span(&issue.title),
            issue.count,
            rfc3339(issue.first_seen)
        ));
        if let Some(sample) = issue.sample.as_ref().filter(|_| sample_bytes > 0) {
            description.push_str(&code_block(&cut(&sample.message, sample_bytes)));
            description.push('\n');
        }
        description.push_str(&issue_link(region, alert, issue));
        description.push_str("\n\n");
    }
    let title = format!(
        "{} in {}",
        headline(alert),
        escape_markdown(&cut(&alert.log_group, 512))
    );
    json!({
        "version": "1.0",
        "source": "custom",
        "id": alert.id,
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": description.trim_end(),
            "keywords": ["faultline", alert.event_type.as_str()],
        },
        "metadata": {
            "eventType": alert.event_type.as_str(),
            "threadId": thread_id(alert),
            "summary": subject,
            "additionalContext": {
                "log_group": alert.log_group,
                "issue_ids": alert.issue_ids(),
            },
        },
    })
    .to_string()
}

/// The plain-text email body.
pub fn email_text(alert: &Alert, region: &str, sample_bytes: usize) -> String {
    let group = plain(&alert.log_group, false);
    let happened = match (alert.event_type, alert.issues.len()) {
        (EventType::NewIssue, 1) => "a new kind of error".to_string(),
        (EventType::NewIssue, n) => format!("{n} new kinds of error"),
        (EventType::Regression, 1) => "an error you had resolved happening again".to_string(),
        (EventType::Regression, n) => format!("{n} errors you had resolved happening again"),
        (EventType::Threshold, 1) => "an error crossing its alert threshold".to_string(),
        (EventType::Threshold, n) => format!("{n} errors crossing their alert threshold"),
        (EventType::RunDigest, n) => format!("a run that ended with {n} issues"),
    };
    let mut text = format!("faultline found {happened} in log group {group}.\n");
    for (i, issue) in alert.issues.iter().enumerate() {
        if i == MAX_DETAILED_ISSUES {
            let rest: Vec<&str> = alert.issues[i..].iter().map(|i| i.id.as_str()).collect();
            text.push_str(&format!(
                "\n...and {} more issues: {}\n",
                rest.len(),
                rest.join(", ")
            ));
            break;
        }
        text.push_str(&format!(
            "\nIssue {}\n  Kind:        {}\n  Title:       {}\n  Count:       {} in this batch\n  First seen:  {}\n",
            issue.id,
            plain(&issue.kind, false),
            plain(&issue.title, false),
            issue.count,
            rfc3339(issue.first_seen)
        ));
        if let Some(sample) = issue.sample.as_ref().filter(|_| sample_bytes > 0) {
            let body = plain(&cut(&sample.message, sample_bytes), true);
            text.push_str("  Sample:\n");
            for line in body.lines() {
                text.push_str("    | ");
                text.push_str(line);
                text.push('\n');
            }
            text.push_str(&format!(
                "  Log stream:  {}\n",
                plain(&sample.log_stream, false)
            ));
        }
        text.push_str(&format!(
            "  In CloudWatch: {}\n",
            issue_link(region, alert, issue)
        ));
    }
    text.push_str(&format!(
        "\nTo stop alerts for an issue: faultline issues ignore ID --store dynamodb://TABLE\n(alert {}, event type {})\n",
        alert.id,
        alert.event_type.as_str()
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    fn alert(event_type: EventType, titles: &[&str], message: &str) -> Alert {
        Alert {
            id: "b1:new_issue".into(),
            event_type,
            log_group: "/aws/lambda/orders".into(),
            created_at: 1_700_000_000_000,
            issues: titles
                .iter()
                .enumerate()
                .map(|(i, t)| AlertIssue {
                    id: format!("00000000000{i}"),
                    fingerprint: format!("fp{i}"),
                    kind: "KeyError".into(),
                    title: t.to_string(),
                    count: 3,
                    first_seen: 1_700_000_000_123,
                    sample: Some(Sample {
                        log_group: "/aws/lambda/orders".into(),
                        log_stream: "2025/11/23/[$LATEST]abc".into(),
                        event_id: "1".into(),
                        timestamp: 1_700_000_000_123,
                        kind: "KeyError".into(),
                        message: message.into(),
                        shape: "python-text".into(),
                        fields: vec![],
                    }),
                })
                .collect(),
            run: None,
        }
    }

    #[test]
    fn subjects_are_short_printable_ascii() {
        let a = alert(
            EventType::NewIssue,
            &["KeyError: 'caf\u{e9}'\r\nBcc: x@example.com \u{1b}[31m"],
            "m",
        );
        let s = subject(&a);
        assert!(s.len() < 100);
        assert!(s.chars().all(|c| c.is_ascii_graphic() || c == ' '), "{s}");
        assert!(
            s.starts_with("[faultline] New issue: KeyError: 'caf?' Bcc:"),
            "{s}"
        );
        let long = alert(EventType::Regression, &[&"x".repeat(500)], "m");
        assert_eq!(subject(&long).len(), MAX_SUBJECT_CHARS);
        assert!(subject(&long).ends_with("..."));
        let digest = alert(EventType::NewIssue, &["a", "b"], "m");
        assert_eq!(
            subject(&digest),
            "[faultline] 2 new issues in /aws/lambda/orders"
        );
    }

    #[test]
    fn chat_text_cannot_carry_markup_or_mentions() {
        let a = alert(
            EventType::NewIssue,
            &["`<!channel>` *bold* [x](http://evil)"],
            "```\n<!here> <http://evil|click>\n```",
        );
        let chatbot: serde_json::Value =
            serde_json::from_str(&chatbot_json(&a, "us-east-1", "s", 2048)).unwrap();
        assert_eq!(chatbot["version"], "1.0");
        assert_eq!(chatbot["source"], "custom");
        assert_eq!(chatbot["content"]["textType"], "client-markdown");
        assert_eq!(chatbot["metadata"]["eventType"], "new_issue");
        assert_eq!(
            chatbot["metadata"]["threadId"],
            "faultline-issue-000000000000"
        );
        let description = chatbot["content"]["description"].as_str().unwrap();
        assert!(!description.contains('<'), "{description}");
        assert!(!description.contains("<!"), "{description}");
        // Exactly the fences we opened: the log's own fences are neutralised.
        assert_eq!(description.matches("```").count(), 2, "{description}");
        assert!(
            description.contains("`'&lt;!channel&gt;' *bold* [x](http://evil)`"),
            "{description}"
        );
        assert_eq!(escape_markdown("a_b*c <x>"), "a\\_b\\*c &lt;x&gt;");
    }

    #[test]
    fn email_says_what_happened_where_with_a_link() {
        let a = alert(
            EventType::NewIssue,
            &["KeyError: 'action'"],
            "KeyError: 'action'\n\u{1b}[2Jforged line",
        );
        let text = email_text(&a, "eu-west-1", 2048);
        for needle in [
            "new kind of error in log group /aws/lambda/orders",
            "Issue 000000000000",
            "Kind:        KeyError",
            "Title:       KeyError: 'action'",
            "Count:       3 in this batch",
            "First seen:  2023-11-14T22:13:20.123Z",
            "    | KeyError: 'action'\n    |  [2Jforged line",
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn huge_digests_stay_under_the_sns_limit() {
        let titles: Vec<String> = (0..60)
            .map(|i| format!("E{i}: {}", "t".repeat(150)))
            .collect();
        let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
        let a = alert(EventType::NewIssue, &titles, &"\u{1f4a5}<".repeat(2000));
        let m = render(&a, "us-east-1");
        assert!(
            m.structured.len() <= MAX_MESSAGE_BYTES,
            "{}",
            m.structured.len()
        );
        let body: serde_json::Value = serde_json::from_str(&m.structured).unwrap();
        assert!(body["default"].as_str().unwrap().contains("and 40 more"));
        assert!(
            body["email"]
                .as_str()
                .unwrap()
                .contains("and 40 more issues")
        );
    }
}
