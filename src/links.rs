//! Links from an occurrence to the AWS console, to drill down from an alert.
//!
//! The CloudWatch console keeps its state in the URL fragment with its own
//! escaping: names are URI-encoded twice and `%` becomes `$`; Logs Insights
//! query details use a JSURL-like form where `%` becomes `*`. Both are
//! pinned by the tests below against URLs the console itself produces.

use crate::model::Sample;
use crate::text::rfc3339;

/// How far around an occurrence the links look, in milliseconds: enough to
/// see what the same stream logged just before and after.
const CONTEXT_MS: i64 = 5 * 60_000;

/// The region the links point to: the Lambda's own, or the user's default.
pub fn region() -> String {
    std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .ok()
        .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .unwrap_or_else(|| "us-east-1".to_string())
}

/// The region the user configured (`AWS_REGION`, then `AWS_DEFAULT_REGION`),
/// if any: for readers that must not guess one.
pub fn configured_region() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|r| is_region(r))
}

/// The region an ARN among the sample's fields names (`function_arn`, a
/// Step Functions execution, a Batch job): where the event came from.
pub fn event_region(sample: &Sample) -> Option<&str> {
    sample
        .fields
        .iter()
        .find_map(|(_, value)| arn_region(value))
}

fn arn_region(value: &str) -> Option<&str> {
    // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE; global ARNs (IAM, S3)
    // leave REGION empty and say nothing about where the event ran.
    let mut parts = value.trim().strip_prefix("arn:")?.splitn(4, ':');
    let (_partition, _service, region) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next()?;
    is_region(region).then_some(region)
}

/// Whether `region` reads as an AWS region name (`eu-west-1`), and so can
/// stand in a console host name.
pub fn is_region(region: &str) -> bool {
    (4..=32).contains(&region.len())
        && region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `encodeURIComponent`, with `escape` in place of `%`: upper-case hex as
/// browsers write it, lower-case where the console's JSURL form wants it.
fn uri_component(text: &str, escape: char, lower: bool) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        // The JSURL form reserves ' ~ ( ) ! * for its own syntax.
        let kept: &[u8] = if lower { b"-_." } else { b"-_.!~*'()" };
        if b.is_ascii_alphanumeric() || kept.contains(&b) {
            out.push(b as char);
        } else if lower {
            out.push_str(&format!("{escape}{b:02x}"));
        } else {
            out.push_str(&format!("{escape}{b:02X}"));
        }
    }
    out
}

/// `encodeURIComponent(encodeURIComponent(name))` with `%` as `$`.
fn console_name(name: &str) -> String {
    uri_component(&uri_component(name, '%', false), '$', false)
}

/// A JSURL string value: `'` then the URI-encoded text with `%` as `*`.
fn jsurl_string(text: &str) -> String {
    format!("'{}", uri_component(text, '*', true))
}

/// The console's address for a region; anything that is not a region name
/// (it may come from configuration) falls back rather than naming a host.
fn console_base(region: &str) -> String {
    let valid = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let region = if valid { region } else { "us-east-1" };
    format!("https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}")
}

/// The log group's page, when no occurrence is at hand.
pub fn log_group(region: &str, group: &str) -> String {
    format!(
        "{}#logsV2:log-groups/log-group/{}",
        console_base(region),
        console_name(group)
    )
}

/// The log stream opened at the occurrence, with five minutes around it.
pub fn log_event(region: &str, sample: &Sample) -> String {
    format!(
        "{}#logsV2:log-groups/log-group/{}/log-events/{}$3Fstart$3D{}$26end$3D{}",
        console_base(region),
        console_name(&sample.log_group),
        console_name(&sample.log_stream),
        sample.timestamp - CONTEXT_MS,
        sample.timestamp + CONTEXT_MS,
    )
}

/// A Logs Insights query over the stream around the occurrence.
pub fn insights(region: &str, sample: &Sample) -> String {
    let stream = sample.log_stream.replace('\'', "\\'");
    let query = format!(
        "fields @timestamp, @message\n| filter @logStream = '{stream}'\n| sort @timestamp asc\n| limit 500"
    );
    format!(
        "{}#logsV2:logs-insights$3FqueryDetail$3D~(end~{}~start~{}~timeType~'ABSOLUTE~tz~'UTC~editorString~{}~source~(~{}))",
        console_base(region),
        jsurl_string(&rfc3339(sample.timestamp + CONTEXT_MS)),
        jsurl_string(&rfc3339(sample.timestamp - CONTEXT_MS)),
        jsurl_string(&query),
        jsurl_string(&sample.log_group),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sample {
        Sample {
            log_group: "/aws/lambda/orders-enrich".into(),
            log_stream: "2025/11/23/[$LATEST]8e1f".into(),
            event_id: "1".into(),
            timestamp: 1_700_000_000_000,
            kind: "KeyError".into(),
            message: "'x'".into(),
            shape: "python-text".into(),
            fields: Vec::new(),
        }
    }

    #[test]
    fn log_event_links_use_the_consoles_double_escaping() {
        assert_eq!(
            log_event("eu-west-1", &sample()),
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1\
             #logsV2:log-groups/log-group/$252Faws$252Flambda$252Forders-enrich\
             /log-events/2025$252F11$252F23$252F$255B$2524LATEST$255D8e1f\
             $3Fstart$3D1699999700000$26end$3D1700000300000"
        );
    }

    #[test]
    fn insights_links_carry_the_query_and_the_window() {
        let link = insights("us-east-1", &sample());
        assert!(
            link.contains(
                "#logsV2:logs-insights$3FqueryDetail$3D~(end~'2023-11-14T22*3a18*3a20.000Z"
            )
        );
        assert!(link.contains("~start~'2023-11-14T22*3a08*3a20.000Z"));
        assert!(
            link.contains(
                "editorString~'fields*20*40timestamp*2c*20*40message*0a*7c*20filter*20\
                 *40logStream*20*3d*20*272025*2f11*2f23*2f*5b*24LATEST*5d8e1f*27"
            ),
            "{link}"
        );
        assert!(
            link.ends_with("~source~(~'*2faws*2flambda*2forders-enrich))"),
            "{link}"
        );
    }

    #[test]
    fn the_region_comes_from_an_arn_the_event_carried() {
        let mut s = sample();
        assert_eq!(event_region(&s), None);
        s.fields = vec![
            ("bucket".into(), "arn:aws:s3:::my-bucket".into()),
            (
                "function_arn".into(),
                "arn:aws:lambda:eu-central-1:123456789012:function:orders".into(),
            ),
        ];
        assert_eq!(event_region(&s), Some("eu-central-1"));
        s.fields = vec![("x".into(), "arn:aws:lambda:evil.com/x:1:function:f".into())];
        assert_eq!(event_region(&s), None, "not a region name");
    }

    #[test]
    fn a_bad_region_cannot_name_another_host() {
        assert!(log_group("evil.com/x", "g").starts_with("https://us-east-1.console"));
        assert_eq!(
            log_group("eu-west-1", "a_b-c.d#e"),
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1\
             #logsV2:log-groups/log-group/a_b-c.d$2523e"
        );
    }

    #[test]
    fn hostile_names_cannot_break_out_of_the_url() {
        let mut s = sample();
        s.log_stream = "x\" onmouseover=\"alert(1)<script>".into();
        let link = log_event("us-east-1", &s);
        assert!(
            !link.contains('"') && !link.contains('<') && !link.contains(' '),
            "{link}"
        );
        let link = insights("us-east-1", &s);
        assert!(
            !link.contains('"') && !link.contains('<') && !link.contains(' '),
            "{link}"
        );
    }
}
