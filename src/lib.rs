//! faultline: error tracking for the logs of batch jobs on AWS.
//!
//! The pipeline runs `decode -> extract -> fingerprint -> aggregate -> store ->
//! notify`. The first four stages are pure (bytes in, values out); the store
//! and notifier are traits with a local and an AWS implementation. The CLI and
//! the Lambda are thin shells over [`pipeline`].

pub mod aggregate;
pub mod alert;
pub mod aws;
pub mod decode;
pub mod extract;
pub mod fingerprint;
pub mod links;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod policy;
pub mod report;
pub mod scrub;
pub mod store;
pub mod text;
