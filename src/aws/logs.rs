//! Reading a log group's history through the CloudWatch Logs API, for
//! `faultline ingest --log-group NAME`.

use aws_config::Region;
use aws_config::retry::RetryConfig;
use aws_sdk_cloudwatchlogs::Client;

use super::errors::{AwsError, Call, describe};
use crate::decode::cloudwatch::ApiEvent;

/// FilterLogEvents is limited to a few requests a second per account and
/// region: the SDK backs off and retries a throttled call this many times
/// before giving up.
const MAX_ATTEMPTS: u32 = 10;

/// A subscription filter of a log group: from `created` on, its
/// destination receives every event of the group.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub name: String,
    pub destination: String,
    pub created: i64,
}

/// Pages through the events of one log group in a time window.
pub struct LogReader {
    client: Client,
    log_group: String,
    start: i64,
    end: i64,
    pattern: Option<String>,
    next_token: Option<String>,
    done: bool,
}

impl LogReader {
    /// A reader of `[start, end)` (epoch ms) of `log_group`, with the
    /// standard AWS environment (and `region` if given).
    pub async fn new(
        region: Option<&str>,
        log_group: &str,
        start: i64,
        end: i64,
        pattern: Option<&str>,
    ) -> LogReader {
        let mut loader =
            super::loader().retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(region) = region {
            loader = loader.region(Region::new(region.to_string()));
        }
        LogReader::with_config(&loader.load().await, log_group, start, end, pattern)
    }

    pub fn with_config(
        config: &aws_config::SdkConfig,
        log_group: &str,
        start: i64,
        end: i64,
        pattern: Option<&str>,
    ) -> LogReader {
        LogReader {
            client: Client::new(config),
            log_group: log_group.to_string(),
            start,
            end,
            pattern: pattern.map(str::to_string),
            next_token: None,
            done: start >= end,
        }
    }

    fn call<'a>(&'a self, action: &'a str, resource: &'a str) -> Call<'a> {
        Call {
            action,
            resource,
            when_missing: "check its name with `aws logs describe-log-groups` and the region with --region or AWS_REGION",
        }
    }

    /// The next page of events, or `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ApiEvent>>, AwsError> {
        if self.done {
            return Ok(None);
        }
        let resource = format!("log group {}", self.log_group);
        let answer = self
            .client
            .filter_log_events()
            .log_group_name(&self.log_group)
            .start_time(self.start)
            // endTime is inclusive; the window is not.
            .end_time(self.end - 1)
            .set_filter_pattern(self.pattern.clone())
            .set_next_token(self.next_token.clone())
            .send()
            .await
            .map_err(|e| describe(&self.call("logs:FilterLogEvents", &resource), &e))?;
        let next = answer.next_token().map(str::to_string);
        // An unchanged token would loop forever; the API ends with none.
        self.done = next.is_none() || next == self.next_token;
        self.next_token = next;
        let events = answer
            .events()
            .iter()
            .map(|e| ApiEvent {
                log_stream: e.log_stream_name().unwrap_or_default().to_string(),
                id: e.event_id().unwrap_or_default().to_string(),
                timestamp: e.timestamp().unwrap_or_default(),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect();
        Ok(Some(events))
    }

    /// The log group's subscription filters.
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, AwsError> {
        let resource = format!("log group {}", self.log_group);
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let answer = self
                .client
                .describe_subscription_filters()
                .log_group_name(&self.log_group)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    describe(
                        &self.call("logs:DescribeSubscriptionFilters", &resource),
                        &e,
                    )
                })?;
            found.extend(answer.subscription_filters().iter().map(|f| Subscription {
                name: f.filter_name().unwrap_or_default().to_string(),
                destination: f.destination_arn().unwrap_or_default().to_string(),
                created: f.creation_time().unwrap_or_default(),
            }));
            match answer.next_token() {
                Some(next) if Some(next) != token.as_deref() => token = Some(next.to_string()),
                _ => return Ok(found),
            }
        }
    }
}
