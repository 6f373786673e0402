//! Logback and Log4j, the Java loggers of AWS Batch and ECS jobs.
//!
//! Their text pattern (`2024-05-01 10:00:00,123 ERROR [main] com.acme.Job -
//! failed`, then the exception's trace on the next lines) is read by the
//! generic leveled-text reader in `text`, and split over events by the
//! awslogs driver it is folded back by `multiline`. Their JSON form is
//! logstash-logback-encoder's: `logger_name`, `thread_name`, `level_value`,
//! and the whole printed trace under `stack_trace`.

use serde_json::{Map, Value};

/// A logstash-logback-encoder line.
pub(crate) fn is_logstash(obj: &Map<String, Value>) -> bool {
    obj.contains_key("stack_trace") || obj.contains_key("logger_name")
}
