//! Size bounds: what keeps every item and transaction within DynamoDB's
//! limits whatever the input.

use std::ops::Range;

use super::packing::deflate;
use crate::limits::{StackText, truncate};
use crate::model::{BatchSummary, IssueDelta, Sample};
use crate::store::StoreError;
// Shared with the SQLite store's outbox since the cap on issues per batch.
pub use crate::store::outbox::{
    DETAILED_ALERT_ISSUES, MAX_ALERT_BYTES, MAX_STORED_SAMPLE_BYTES, bound_alert, bounded_sample,
};

/// The most distinct issues one transaction writes.
pub const ISSUES_PER_WRITE: usize = 25;

/// The most actions one `TransactWriteItems` may carry.
pub(super) const MAX_TRANSACTION_ACTIONS: usize = 100;

/// The actions of a transaction that a chunk's issues
/// may take: one is the chunk's marker, and one is kept for the batch's
/// new-issue alerts, which the last chunk queues as a single digest when
/// separate alerts would not fit ([`super::plan`]).
const ISSUE_ACTIONS_PER_WRITE: usize = MAX_TRANSACTION_ACTIONS - 2;

/// What one issue may add to its chunk's transaction: its head, the days
/// it writes ([`super::parts::days_written`]), a sample, an alias (an
/// upgraded fingerprint counting into the issue its older key named) and a
/// regression or threshold alert.
fn actions_of(delta: &IssueDelta) -> usize {
    4 + super::parts::days_written(delta).len()
}

/// How a batch's issues are split into transactions: consecutive ranges of
/// at most [`ISSUES_PER_WRITE`] issues whose actions fit one transaction.
/// A pure function of the batch's content, so every delivery of a batch
/// chunks it the same way (the chunk markers rely on it).
pub fn chunk_ranges(batch: &BatchSummary) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut actions = 0;
    for (i, delta) in batch.issues.iter().enumerate() {
        let cost = actions_of(delta);
        if i > start && (i - start == ISSUES_PER_WRITE || actions + cost > ISSUE_ACTIONS_PER_WRITE)
        {
            ranges.push(start..i);
            start = i;
            actions = 0;
        }
        actions += cost;
    }
    if start < batch.issues.len() {
        ranges.push(start..batch.issues.len());
    }
    ranges
}

// Shared with run settlement, which folds announcements past it on both stores.
pub use crate::limits::MAX_SEPARATE_NEW_ISSUE_ALERTS;

/// The longest version an issue can be resolved in (`1.2.3-rc.4+build.5`,
/// a git sha, a Lambda version): the item bound counts on it.
pub const MAX_VERSION_BYTES: usize = 128;

/// Kinds are short class names; a longer one is cut so the item stays bounded.
pub(super) const MAX_STORED_KIND_BYTES: usize = 256;

/// What an issue's head can grow to (measured by the unit tests): typical
/// heads take 400-700 bytes; a long log group, kind and version and a
/// hundred merged ids take it to about 2.5 KB.
pub const MAX_HEAD_BYTES: usize = 4 * 1024;

/// What one day of an issue can grow to (measured by the unit tests): its
/// hours and `MAX_DAY_FACET_BYTES` (parts.rs) of facets.
pub const MAX_DAY_BYTES: usize = 4 * 1024;

/// The most one sample item may take: a transactional write costs 2 WCU
/// per started KB, and Issue 11's bound (a hot batch on one issue costs at
/// most 8 WCU) leaves 2 for its sample. Stored whole, three of the nine real
/// Java traces of 2-39 KB in `tests/data/long_traces/` made items of
/// 1,074-1,180 bytes.
pub const MAX_SAMPLE_ITEM_BYTES: usize = 1024;

/// What a sample item takes besides its deflated JSON, at most: `pk`
/// (`ISSUE#` and 12 hex digits), `sk` (`SAMPLE#` and a slot), `ts` (an
/// epoch millisecond, counted as its 20 decimal digits though DynamoDB
/// counts fewer) and the attribute name `z`; 54 bytes, rounded up.
const SAMPLE_ITEM_OVERHEAD: usize = 64;

/// How a sample that does not fit [`MAX_SAMPLE_ITEM_BYTES`] is cut, tried
/// in order until one fits: the longest message, the longest value of each
/// field but the stack, whether fields other than the stack and the root
/// cause (`cause.kind`, `cause.message`) stay, and the fewest frames the
/// stack may keep at that step (as many as fit are kept).
const SAMPLE_CUTS: [(usize, usize, bool, usize); 3] = [
    (usize::MAX, usize::MAX, true, 10),
    (1024, 256, true, 5),
    (256, 256, false, 0),
];

/// The sample as its item stores it (JSON, deflated by
/// [`super::parts::sample_item`]): [`bounded_sample`], as both stores keep
/// it, and on DynamoDB further cut when its item would pass
/// [`MAX_SAMPLE_ITEM_BYTES`]. The stack then keeps the innermost of the
/// frames the sample holds (samples hold frames innermost last, so these are
/// the nearest to where the error was thrown) and says how many outer ones
/// it left out; the message, the root cause and the
/// other fields are cut only when the stack's innermost 10 and 5 frames do
/// not fit beside them ([`SAMPLE_CUTS`]). Only a sample whose log group,
/// stream and kind alone fill the item stays larger, as small as it gets.
pub(super) fn stored_sample_json(sample: &Sample) -> Result<String, StoreError> {
    let encode = |s: &Sample| {
        serde_json::to_string(s).map_err(|e| StoreError::Corrupt(format!("encoding a sample: {e}")))
    };
    let bounded = bounded_sample(sample.clone());
    let whole = encode(&bounded)?;
    if sample_item_fits(&whole) {
        return Ok(whole);
    }
    let frames = StackText::parse(
        bounded
            .fields
            .iter()
            .find(|(name, _)| name == "stack")
            .map_or("", |(_, stack)| stack.as_str()),
    );
    let mut smallest = whole;
    for (message_max, field_max, other_fields, min_frames) in SAMPLE_CUTS {
        let mut cut = bounded.clone();
        cut.message = truncate(&cut.message, message_max);
        cut.fields
            .retain(|(name, _)| other_fields || name == "stack" || name.starts_with("cause."));
        for (name, value) in &mut cut.fields {
            if name != "stack" {
                *value = truncate(value, field_max);
            }
        }
        let with_frames = |kept: usize| -> Result<String, StoreError> {
            let mut s = cut.clone();
            if let Some((_, stack)) = s.fields.iter_mut().find(|(name, _)| name == "stack") {
                *stack = frames.innermost(kept, "DynamoDB sample item bound");
            }
            encode(&s)
        };
        // The most frames that fit, by bisection: fewer frames, fewer bytes.
        let (mut fits, mut over) = (None, frames.len() + 1);
        let mut low = min_frames.min(frames.len());
        while low < over {
            let mid = low + (over - low) / 2;
            let json = with_frames(mid)?;
            if sample_item_fits(&json) {
                fits = Some(json);
                low = mid + 1;
            } else {
                over = mid;
            }
        }
        match fits {
            Some(json) => return Ok(json),
            None => smallest = with_frames(min_frames.min(frames.len()))?,
        }
    }
    Ok(smallest)
}

/// Whether a sample item holding `json` stays within
/// [`MAX_SAMPLE_ITEM_BYTES`].
fn sample_item_fits(json: &str) -> bool {
    SAMPLE_ITEM_OVERHEAD + deflate(json).len() <= MAX_SAMPLE_ITEM_BYTES
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::super::items::Item;
    use super::super::parts::sample_item;
    use super::*;
    use crate::decode;
    use crate::limits::outer_frames_left_out;
    use crate::pipeline::summarise;

    macro_rules! trace {
        ($name:literal) => {
            (
                $name,
                include_str!(concat!("../../../tests/data/long_traces/", $name, ".txt")),
            )
        };
    }

    /// Real traces other people's programs printed, 0.7 to 39 KB
    /// (provenance in `tests/data/long_traces/SOURCES.md`).
    const LONG_TRACES: [(&str, &str); 13] = [
        trace!("java-jetty-servlet-caused-by"),
        trace!("java-mockito-junit-caused-by"),
        trace!("java-openmrs-mysql-duplicate"),
        trace!("java-openmrs-spring-caused-by-chain"),
        trace!("java-smtp-nested-multiline-message"),
        trace!("java-spring-boot-aws-config-bean"),
        trace!("java-spring-boot-jms-jndi-chain"),
        trace!("java-spring-boot-startup-nested"),
        trace!("java-spring-test-context-failed"),
        trace!("node-express-reference-error"),
        trace!("node-prisma-foreign-key"),
        trace!("python-pandas-nonunique-slice-bound"),
        trace!("python-sqlalchemy-alembic-duplicate-table"),
    ];

    /// The sample the pipeline keeps of `trace` logged by a Lambda function
    /// (a Node.js `console.error` line carries the runtime's prefix).
    fn sample_of(name: &str, trace: &str) -> Sample {
        let message = if name.starts_with("node") {
            format!(
                "2025-11-23T10:00:00.000Z\t3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f\tERROR\t{trace}"
            )
        } else {
            trace.to_string()
        };
        let batch = serde_json::json!({
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": "/aws/lambda/orders",
            "logStream": "2025/11/23/[$LATEST]5f3c9a1e07b24d6c8e91a4b2d7f06c3e",
            "logEvents": [{
                "id": "0".repeat(56),
                "timestamp": 1_763_900_000_000i64,
                "message": message,
            }],
        })
        .to_string();
        let summary = summarise(&decode::parse(batch.as_bytes()).unwrap());
        assert_eq!(summary.issues.len(), 1, "{name}: one issue");
        summary.issues[0].samples[0].clone()
    }

    /// DynamoDB's item size, numbers counted as their decimal length (it
    /// counts fewer bytes).
    fn item_size(item: &Item) -> usize {
        item.iter()
            .map(|(name, value)| {
                name.len()
                    + match value {
                        AttributeValue::S(text) | AttributeValue::N(text) => text.len(),
                        AttributeValue::B(bytes) => bytes.as_ref().len(),
                        other => panic!("a sample item holds no {other:?}"),
                    }
            })
            .sum()
    }

    fn field<'a>(sample: &'a Sample, name: &str) -> Option<&'a str> {
        sample
            .fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn real_long_traces_fit_a_one_kb_sample_item_keeping_message_cause_and_innermost_frames() {
        let mut cut = 0;
        for (name, trace) in LONG_TRACES {
            let sample = sample_of(name, trace);
            let json = stored_sample_json(&sample).unwrap();
            let item = sample_item(&"f".repeat(12), 9, 1_763_900_000_000, &json);
            let size = item_size(&item);
            let stored: Sample = serde_json::from_str(&json).unwrap();
            let whole = bounded_sample(sample.clone());
            let stack = field(&whole, "stack").unwrap_or_default();
            let kept = field(&stored, "stack").unwrap_or_default();
            eprintln!(
                "{name}: {} byte trace, item {size} bytes, stack {} of {} lines",
                trace.len(),
                kept.lines().count(),
                stack.lines().count()
            );
            assert!(size <= MAX_SAMPLE_ITEM_BYTES, "{name}: {size} bytes");
            // What the cut keeps: the message, the root cause and the
            // context fields whole, and the frame that threw.
            assert_eq!(stored.message, whole.message, "{name}");
            assert_eq!(stored.kind, whole.kind, "{name}");
            for (field_name, value) in &whole.fields {
                if field_name != "stack" {
                    assert_eq!(field(&stored, field_name), Some(value.as_str()), "{name}");
                }
            }
            assert_eq!(kept.lines().last(), stack.lines().last(), "{name}");
            if kept != stack {
                cut += 1;
                // Counting the outer frames the sample's own 4 KB bound
                // left out, if it did.
                let earlier = stack
                    .lines()
                    .next()
                    .and_then(outer_frames_left_out)
                    .unwrap_or(0);
                let left_out = earlier + StackText::parse(stack).len() + 1 - kept.lines().count();
                assert!(left_out > earlier, "{name}");
                assert_eq!(
                    kept.lines().next().unwrap(),
                    format!("... {left_out} outer frames not kept (DynamoDB sample item bound)"),
                    "{name}"
                );
                assert!(kept.lines().count() > 10, "{name}: {kept}");
                assert!(stack.ends_with(kept.split_once('\n').unwrap().1), "{name}");
            }
        }
        // Stored whole, three of them made items of 1,074-1,180 bytes.
        assert!(cut >= 3, "{cut} cut");
    }

    #[test]
    fn a_sample_that_fits_is_stored_as_both_stores_keep_it() {
        let (name, trace) = LONG_TRACES[0];
        let sample = sample_of(name, trace);
        let json = stored_sample_json(&sample).unwrap();
        assert_eq!(
            json,
            serde_json::to_string(&bounded_sample(sample)).unwrap()
        );
    }

    /// Text no compression shortens: hex digits of a xorshift sequence.
    fn noise(seed: u64, len: usize) -> String {
        let mut x = seed.max(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from_digit((x % 16) as u32, 16).unwrap()
            })
            .collect()
    }

    #[test]
    fn incompressible_messages_and_fields_are_cut_before_the_last_frames() {
        let (name, trace) = LONG_TRACES[4];
        let mut sample = sample_of(name, trace);
        sample.message = noise(1, 1500);
        let stack = field(&sample, "stack").unwrap().to_string();
        sample.fields = (0..3)
            .map(|i| (format!("field{i}"), noise(i + 2, 500)))
            .chain([
                (
                    "cause.kind".to_string(),
                    "java.sql.SQLException".to_string(),
                ),
                ("cause.message".to_string(), noise(99, 500)),
                ("stack".to_string(), stack.clone()),
            ])
            .collect();
        assert_eq!(
            bounded_sample(sample.clone()),
            sample,
            "within both stores' bound"
        );
        let json = stored_sample_json(&sample).unwrap();
        assert!(sample_item_fits(&json));
        let stored: Sample = serde_json::from_str(&json).unwrap();
        assert!(stored.message.len() <= 256, "{}", stored.message.len());
        assert!(
            sample
                .message
                .starts_with(stored.message.trim_end_matches("..."))
        );
        assert_eq!(field(&stored, "cause.kind"), Some("java.sql.SQLException"));
        assert!(field(&stored, "cause.message").unwrap().len() <= 256);
        assert!(field(&stored, "field0").is_none(), "other fields go first");
        let kept = field(&stored, "stack").unwrap();
        assert!(kept.lines().count() > 1, "{kept}");
        assert_eq!(kept.lines().last(), stack.lines().last());
    }

    #[test]
    fn a_sample_too_large_to_fit_is_stored_as_small_as_it_gets() {
        let (name, trace) = LONG_TRACES[3];
        let mut sample = sample_of(name, trace);
        sample.log_group = noise(3, 1000);
        sample.log_stream = noise(4, 512);
        sample.kind = noise(5, 256);
        let json = stored_sample_json(&sample).unwrap();
        let stored: Sample = serde_json::from_str(&json).unwrap();
        assert!(stored.message.len() <= 256);
        let kept = field(&stored, "stack").unwrap();
        assert_eq!(kept.lines().count(), 1, "only the note: {kept}");
        assert_eq!(stored.log_stream, sample.log_stream, "identity is kept");
    }
}
