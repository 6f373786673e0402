//! Alerts through an SNS topic (`sns://TOPIC_ARN`): email, and chat through
//! AWS Chatbot (Amazon Q Developer in chat applications), from one topic.
//!
//! # Message structure: JSON, with attributes
//!
//! Every alert is published with `MessageStructure=json`: `default` is the
//! Chatbot custom-notification JSON (what Chatbot, SQS, Lambda and HTTPS
//! subscribers receive) and `email` a plain-text body, so one topic serves
//! people reading mail and a chat channel. A String message would have to
//! pick one: Chatbot drops what is not its JSON, and people should not read
//! JSON in their mail.
//!
//! The publish also carries the MessageAttributes `event_type`, `log_group`
//! and `issue_ids` that DESIGN.md promises. The SNS guide notes that
//! "message attributes are sent only when the message structure is String,
//! not JSON": that sentence is about what an endpoint *receives*. Subscription
//! filter policies (scope `MessageAttributes`) are evaluated by SNS on the
//! published message before delivery, which is what the attributes are for
//! here (routing regressions to one channel, new issues to another). moto
//! evaluates them the same way and also delivers them in the SQS envelope
//! (tests/aws_notify.rs); real SNS may leave them out of a JSON-structured
//! delivery, so consumers must not rely on reading them there. They do not
//! need to: the same three values are in the Chatbot JSON's
//! `metadata.eventType` and `metadata.additionalContext`, for a subscriber
//! that wants them from the body. Verify the filter-policy behaviour on a
//! real topic before depending on it (README.md, "Deploy on AWS").
//!
//! # Failures
//!
//! Every failure is a [`NotifyError::Delivery`]: the alert stays in the
//! store's outbox and a later invocation sends it. The Lambda fails an
//! invocation whose alerts could not all be sent, so Lambda retries it soon
//! (a duplicate batch, so nothing is counted twice).

use aws_sdk_sns::Client;

use aws_sdk_sns::types::MessageAttributeValue;

use super::chat;
use super::{Notifier, NotifyError};
use crate::model::Alert;

pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
    /// For console links: the topic's region, which is the Lambda's and so
    /// that of the log groups it is subscribed to.
    region: String,
}

impl SnsNotifier {
    /// A notifier publishing to `topic_arn` through an already configured
    /// client.
    pub fn new(client: Client, topic_arn: &str) -> Result<SnsNotifier, NotifyError> {
        let region = topic_region(topic_arn)?;
        Ok(SnsNotifier {
            client,
            topic_arn: topic_arn.to_string(),
            region,
        })
    }

    /// A notifier with a client from the standard AWS environment.
    pub async fn from_env(topic_arn: &str) -> Result<SnsNotifier, NotifyError> {
        topic_region(topic_arn)?;
        let config = crate::aws::sdk_config().await;
        SnsNotifier::new(Client::new(&config), topic_arn)
    }
}

/// The region of `arn:PARTITION:sns:REGION:ACCOUNT:NAME`.
fn topic_region(topic_arn: &str) -> Result<String, NotifyError> {
    let parts: Vec<&str> = topic_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "sns", region, account, name]
            if !region.is_empty() && !account.is_empty() && !name.is_empty() =>
        {
            Ok(region.to_string())
        }
        _ => Err(NotifyError::Url(format!(
            "{topic_arn:?} is not an SNS topic ARN; expected sns://arn:aws:sns:REGION:ACCOUNT:TOPIC"
        ))),
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, String> {
    // SNS rejects empty attribute values.
    let value = if value.is_empty() { "-" } else { value };
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| format!("building a message attribute: {e}"))
}

#[async_trait::async_trait]
impl Notifier for SnsNotifier {
    async fn send(&self, alert: &Alert) -> Result<(), NotifyError> {
        let failed = |reason: String| NotifyError::Delivery {
            alert_id: alert.id.clone(),
            reason,
        };
        let message = chat::render(alert, &self.region);
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&message.subject)
            .message_structure("json")
            .message(&message.structured)
            .message_attributes(
                "event_type",
                attribute(alert.event_type.as_str()).map_err(failed)?,
            )
            .message_attributes("log_group", attribute(&alert.log_group).map_err(failed)?)
            .message_attributes("issue_ids", attribute(&alert.issue_ids()).map_err(failed)?)
            .send()
            .await
            .map_err(|e| {
                let resource = format!("SNS topic {}", self.topic_arn);
                let call = crate::aws::Call {
                    action: "sns:Publish",
                    resource: &resource,
                    when_missing: "check the topic ARN in --notify sns://TOPIC_ARN (or FAULTLINE_NOTIFY)",
                };
                failed(crate::aws::describe(&call, &e).line)
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_arns_are_checked_and_give_the_region() {
        assert_eq!(
            topic_region("arn:aws:sns:eu-west-1:123456789012:alerts").unwrap(),
            "eu-west-1"
        );
        assert!(topic_region("alerts").is_err());
        assert!(topic_region("arn:aws:sqs:eu-west-1:123456789012:alerts").is_err());
    }
}
