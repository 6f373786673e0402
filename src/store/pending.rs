//! Held tails: the events a batch of a log stream left unfinished (the start
//! of a trace its boundary cut), kept in the store for the invocation that
//! gets the stream's next batch. What both stores share: the tail, the rule
//! for who may take one, and the contract [`HeldTails`] each store meets.
//! The protocol that uses them, and why every step of it is safe to retry,
//! is in [`crate::carry`].
//!
//! A tail is left once per batch (its `left_by`), taken by at most one
//! batch at a time (`taken_by`, conditionally: of two takers one wins),
//! released (deleted) once its taker is recorded, or judged as it is by the
//! schedule's tick after the policy's `held_trace_minutes`.
//!
//! Held text is scrubbed before it is stored (as every stored string is),
//! and a tail is bounded: at most [`MAX_HELD_EVENTS`] events and
//! [`MAX_HELD_BYTES`] of messages; a batch that would leave more judges
//! everything now instead. Tails carry a TTL ([`HELD_RETENTION_MS`]) as a
//! backstop for a deployment whose tick does not run.

use async_trait::async_trait;

use super::StoreError;
use crate::limits::BATCH_RETENTION_MS;
use crate::model::HeldEvent;

/// At most this many held events per tail. The pure half already ends a
/// trace at 200 lines ([`crate::extract`]); this bounds what a store keeps
/// whatever the extractor does.
pub const MAX_HELD_EVENTS: usize = 256;

/// At most this many bytes of held messages per tail: well inside
/// DynamoDB's 400 KB item, and twice the 64 KB the pure half folds into one
/// trace, so a trace it would fold whole is never cut here.
pub const MAX_HELD_BYTES: usize = 128 * 1024;

/// How long a taker may hold a tail before another may take it from it,
/// if the taker was never recorded: longer than the longest Lambda
/// invocation (15 minutes), so a taker still running is never robbed.
pub const TAKE_LEASE_MS: i64 = 20 * 60_000;
const _: () = assert!(TAKE_LEASE_MS > 15 * 60_000);

/// How long a tail and the mark that a batch left one are kept: as long as
/// a batch's id ([`BATCH_RETENTION_MS`]), so a batch delivered again at any
/// time its id is known still finds the mark and does not leave its tail
/// twice.
pub const HELD_RETENTION_MS: i64 = BATCH_RETENTION_MS;

/// The events one batch of a stream left unfinished.
#[derive(Debug, Clone, PartialEq)]
pub struct Tail {
    pub log_group: String,
    pub log_stream: String,
    /// The id of the batch that left it: a batch leaves at most one tail,
    /// so this names it.
    pub left_by: String,
    /// In stream order; never empty.
    pub events: Vec<HeldEvent>,
    /// When it was left (epoch ms), for the wait before it is judged alone.
    pub held_at: i64,
    /// The batch (or the tick's judgement) that took it and when, until
    /// that one is recorded and releases it.
    pub taken_by: Option<String>,
    pub taken_at: Option<i64>,
}

/// Where an event stands in its stream: by timestamp, then by id
/// (CloudWatch Logs ids are decimal strings of one length; a shorter one
/// sorts first so that numeric order holds).
pub fn position(timestamp: i64, id: &str) -> (i64, usize, &str) {
    (timestamp, id.len(), id)
}

impl Tail {
    /// The position of its last event.
    pub fn last(&self) -> (i64, usize, &str) {
        self.events
            .last()
            .map(|e| position(e.timestamp, &e.id))
            .unwrap_or((i64::MIN, 0, ""))
    }

    /// Whether an event at `first` comes after every event of the tail: only
    /// a batch whose first event does may take it.
    pub fn precedes(&self, first: (i64, usize, &str)) -> bool {
        self.last() < first
    }

    /// Messages in bytes, for the bound.
    pub fn bytes(&self) -> usize {
        self.events
            .iter()
            .map(|e| e.message.len() + e.id.len())
            .sum()
    }

    /// Whether a store may keep it as it is.
    pub fn within_bounds(events: &[HeldEvent]) -> bool {
        events.len() <= MAX_HELD_EVENTS
            && events
                .iter()
                .map(|e| e.message.len() + e.id.len())
                .sum::<usize>()
                <= MAX_HELD_BYTES
    }

    /// What a store must check to let `taker` take it at `now`.
    pub fn take_rule(&self, taker: &str, now: i64) -> TakeRule {
        match (&self.taken_by, self.taken_at) {
            (Some(by), Some(at)) if by == taker => TakeRule::Renew { at },
            (None, _) => TakeRule::Free,
            (Some(by), Some(at)) if at.saturating_add(TAKE_LEASE_MS) <= now => {
                TakeRule::Abandoned { by: by.clone(), at }
            }
            _ => TakeRule::Refused,
        }
    }
}

/// Who may take a tail, as [`Tail::take_rule`] decides it from what was
/// read; the store applies it conditionally on the tail being still as read.
#[derive(Debug, Clone, PartialEq)]
pub enum TakeRule {
    /// The taker has it already (a retry of the same batch): it keeps it,
    /// its lease renewed, provided it still has it.
    Renew { at: i64 },
    /// Nobody has it: the taker gets it, provided nobody took it meanwhile
    /// and the taker was never recorded (a batch decides once, at its first
    /// recording, what it carries; a redelivery must not pick up a tail the
    /// first delivery did not have).
    Free,
    /// Its taker took it more than [`TAKE_LEASE_MS`] ago: that invocation
    /// is over. If it was never recorded, it never counted the tail, and
    /// the taker gets it (same conditions as [`TakeRule::Free`], plus the
    /// other still holding it as read and still unrecorded). If it was
    /// recorded, its retry will release the tail: refused.
    Abandoned { by: String, at: i64 },
    /// Another batch has it, within its lease.
    Refused,
}

/// The held tails of one store. Every method is one atomic step, so that
/// [`crate::carry`] can tell exactly what survived a crash between them.
#[async_trait]
pub trait HeldTails: Send + Sync {
    /// The tails one stream holds now (usually none, rarely more than one),
    /// read consistently.
    async fn tails(&self, log_group: &str, log_stream: &str) -> Result<Vec<Tail>, StoreError>;

    /// Takes `tail` (as read) for `taker` at `now`, by [`Tail::take_rule`],
    /// conditionally on the tail being still as read. True when the taker
    /// has it; false when another has it, it is gone, or the rule refuses.
    async fn take(&self, tail: &Tail, taker: &str, now: i64) -> Result<bool, StoreError>;

    /// Leaves a tail for its stream's next batch, once per `left_by`: a
    /// batch that left one before (even one taken and released since), or
    /// that was recorded already, leaves nothing (false). A batch leaves
    /// its tail before it is recorded, so what it leaves is decided once, by
    /// the delivery that records it.
    async fn leave(&self, tail: &Tail) -> Result<bool, StoreError>;

    /// Deletes a tail `taker` took and has recorded; nothing when it is
    /// gone or another has it.
    async fn release(&self, tail: &Tail, taker: &str) -> Result<(), StoreError>;

    /// Tails left at or before `held_until`, taken or not, at most `limit`,
    /// oldest first: what the tick judges.
    async fn stale_tails(&self, held_until: i64, limit: usize) -> Result<Vec<Tail>, StoreError>;
}

/// A stream's key in a store: its log group and name hashed, since the two
/// together may be 1,024 bytes and contain any character.
pub fn stream_key(log_group: &str, log_stream: &str) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(log_group.as_bytes());
    hasher.update(&[0]);
    hasher.update(log_stream.as_bytes());
    format!("{:032x}", hasher.digest128())
}

/// The events as a store keeps them: JSON, one string.
pub fn encode_events(events: &[HeldEvent]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".into())
}

pub fn decode_events(json: &str) -> Result<Vec<HeldEvent>, StoreError> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("a held tail's events do not read back: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(taken: Option<(&str, i64)>) -> Tail {
        Tail {
            log_group: "g".into(),
            log_stream: "s".into(),
            left_by: "b1".into(),
            events: vec![HeldEvent {
                id: "0005".into(),
                timestamp: 10,
                message: "Traceback (most recent call last):".into(),
            }],
            held_at: 0,
            taken_by: taken.map(|(b, _)| b.to_string()),
            taken_at: taken.map(|(_, t)| t),
        }
    }

    #[test]
    fn only_a_batch_that_starts_after_the_tail_follows_it() {
        let t = tail(None);
        assert!(t.precedes(position(10, "0006")));
        assert!(t.precedes(position(11, "0001")));
        assert!(!t.precedes(position(10, "0005")), "its own last event");
        assert!(!t.precedes(position(9, "0009")));
        assert!(position(10, "999") < position(10, "1000"), "numeric order");
    }

    #[test]
    fn a_taker_keeps_its_tail_until_its_lease_is_over() {
        assert_eq!(tail(None).take_rule("b2", 5), TakeRule::Free);
        assert_eq!(
            tail(Some(("b2", 5))).take_rule("b2", 6),
            TakeRule::Renew { at: 5 }
        );
        assert_eq!(tail(Some(("b2", 5))).take_rule("b3", 6), TakeRule::Refused);
        assert_eq!(
            tail(Some(("b2", 5))).take_rule("b3", 5 + TAKE_LEASE_MS),
            TakeRule::Abandoned {
                by: "b2".into(),
                at: 5
            }
        );
    }
}
