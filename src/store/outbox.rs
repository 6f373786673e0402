//! What a queued alert may carry, for both stores' outboxes: a digest of a
//! batch's new issues lists up to [`crate::limits::MAX_ISSUES_PER_BATCH`]
//! (plus the overflow issue), and each store keeps it as one row or item
//! until it is sent, so it is cut to what a message can show before it is
//! queued.

use crate::limits::{cut_stack, truncate};
use crate::model::{Alert, Sample};

/// The most bytes one stored sample may take as JSON. Samples arrive with
/// messages and stacks of up to 4 KB each; 6 KB keeps the useful start of
/// the message and the innermost frames of the stack while bounding the
/// issue item (and the cost of rewriting it).
pub const MAX_STORED_SAMPLE_BYTES: usize = 6 * 1024;

/// Issues a notifier details in one message (`notify::chat`'s
/// `MAX_DETAILED_ISSUES`); the rest of a digest is listed by id, so their
/// samples are not stored.
pub const DETAILED_ALERT_ISSUES: usize = 20;

/// The most bytes one queued alert's payload may take: what fits in one
/// DynamoDB item (400 KB) with its key and lease attributes.
pub const MAX_ALERT_BYTES: usize = 384 * 1024;

/// Cuts what a queued alert carries to what a message can show, so its
/// outbox row or item stays under [`MAX_ALERT_BYTES`] even for a digest of
/// a batch with thousands of new issues (SNS could not carry a message
/// about many more: its 256 KB hold about 9,000 ids, listed twice).
pub fn bound_alert(alert: &mut Alert) {
    for (i, issue) in alert.issues.iter_mut().enumerate() {
        let sample = issue.sample.take();
        if i < DETAILED_ALERT_ISSUES {
            issue.sample = sample.map(bounded_sample);
        }
    }
    let size = |a: &Alert| serde_json::to_string(a).map_or(usize::MAX, |j| j.len());
    if size(alert) > MAX_ALERT_BYTES {
        // Messages list these issues by id only. What stays is about 100
        // bytes per issue: a digest of up to ~3,500 new issues fits.
        for issue in alert.issues.iter_mut().skip(DETAILED_ALERT_ISSUES) {
            issue.title.clear();
            issue.kind.clear();
            issue.fingerprint.clear();
        }
    }
    if size(alert) > MAX_ALERT_BYTES {
        for issue in &mut alert.issues {
            issue.sample = None;
        }
    }
}

/// A sample cut until its JSON fits [`MAX_STORED_SAMPLE_BYTES`]: first the
/// message and each field to 2 KB / 1 KB (the stack to its innermost whole
/// frames, [`cut_stack`]), then trailing fields dropped.
pub fn bounded_sample(mut sample: Sample) -> Sample {
    let size = |s: &Sample| {
        serde_json::to_string(s)
            .map(|j| j.len())
            .unwrap_or(usize::MAX)
    };
    if size(&sample) <= MAX_STORED_SAMPLE_BYTES {
        return sample;
    }
    sample.message = truncate(&sample.message, 2048);
    for (name, value) in &mut sample.fields {
        *value = if name == "stack" {
            cut_stack(value, 1024, "6 KB stored sample bound")
        } else {
            truncate(value, 1024)
        };
    }
    while size(&sample) > MAX_STORED_SAMPLE_BYTES && sample.fields.pop().is_some() {}
    if size(&sample) > MAX_STORED_SAMPLE_BYTES {
        // Only pathological group/stream/kind strings get here.
        sample.message = truncate(&sample.message, 256);
        sample.kind = truncate(&sample.kind, 256);
        sample.log_stream = truncate(&sample.log_stream, 512);
        sample.event_id = truncate(&sample.event_id, 128);
        sample.shape = truncate(&sample.shape, 64);
    }
    sample
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_cut_to_fit_keeps_its_stacks_innermost_frames_whole() {
        // 4 KB of message and a 4 KB stack of 200 frames, innermost last.
        let frames: Vec<String> = (0..200)
            .map(|i| format!("com.acme.F.f{i:03} (F.java:{i})"))
            .collect();
        let sample = Sample {
            log_group: "/aws/lambda/orders".into(),
            log_stream: "s".into(),
            event_id: "1".into(),
            timestamp: 1,
            kind: "E".into(),
            message: "m".repeat(4096),
            shape: "java-trace".into(),
            fields: vec![("stack".into(), frames.join("\n"))],
        };
        let bounded = bounded_sample(sample);
        assert!(serde_json::to_string(&bounded).unwrap().len() <= MAX_STORED_SAMPLE_BYTES);
        let stack = &bounded.fields[0].1;
        assert!(stack.len() <= 1024, "{}", stack.len());
        let (note, kept) = stack.split_once('\n').unwrap();
        let kept: Vec<&str> = kept.lines().collect();
        assert_eq!(kept, frames[200 - kept.len()..], "whole innermost frames");
        assert_eq!(
            note,
            format!(
                "... {} outer frames not kept (6 KB stored sample bound)",
                200 - kept.len()
            )
        );
    }
}
