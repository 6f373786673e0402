//! faultline: error tracking for the logs of batch jobs on AWS.
//!
//! The pipeline runs `decode -> extract -> scrub -> fingerprint -> aggregate ->
//! store -> notify`. The first five stages are pure (bytes in, values out);
//! the store and notifier are traits with a local and an AWS implementation.
//! The CLI and the Lambda are thin shells over [`pipeline`].
//!
//! Imports run downward only: [`model`] and [`limits`] at the bottom, the
//! pure stages above them, [`policy`] over the model, the stores and
//! notifiers above those, and [`pipeline`] and the readers on top.

pub mod aggregate;
pub mod aws;
pub mod carry;
pub mod change;
pub mod decode;
pub mod extract;
pub mod fingerprint;
pub mod hashing;
pub mod limits;
pub mod links;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod output;
pub mod pipeline;
pub mod policy;
pub mod runs;
pub mod sanitize;
pub mod scrub;
pub mod serve;
pub mod store;
pub mod stream;
pub mod text;
