//! Delivers alerts: to the terminal locally, through SNS on AWS.

use async_trait::async_trait;

use crate::model::Alert;

pub mod chat;
pub mod console;
pub mod digest;
pub mod sns;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{0}")]
    Url(String),
    /// The alert stays in the outbox and is sent by a later run.
    #[error("could not deliver alert {alert_id}: {reason}")]
    Delivery { alert_id: String, reason: String },
}

/// Sends one alert. Delivery is at least once: the pipeline marks an alert
/// sent only after `send` returns `Ok`.
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn send(&self, alert: &Alert) -> Result<(), NotifyError>;
}

/// Drops alerts on purpose (`--notify none`), for benchmarks and for users who
/// only want the counts.
pub struct Discard;

#[async_trait]
impl Notifier for Discard {
    async fn send(&self, _alert: &Alert) -> Result<(), NotifyError> {
        Ok(())
    }
}

/// Opens the notifier a URL names: `console`, `none` or `sns://TOPIC_ARN`.
pub async fn open(url: &str) -> Result<Box<dyn Notifier>, NotifyError> {
    match url {
        "console" => Ok(Box::new(console::Console::stdout())),
        "none" => Ok(Box::new(Discard)),
        _ if url.starts_with("sns://") => {
            let topic_arn = url.trim_start_matches("sns://");
            Ok(Box::new(sns::SnsNotifier::from_env(topic_arn).await?))
        }
        _ => Err(NotifyError::Url(format!(
            "unknown notifier URL {url:?}; expected console, none or sns://TOPIC_ARN"
        ))),
    }
}
