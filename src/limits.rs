//! Every size and count bound that shapes what faultline keeps, in one place.
//!
//! Log lines are written by programs that fail, and sometimes by attackers:
//! a message can be 256 KB, a JSON line can carry thousands of keys, a stack
//! can recurse ten thousand frames deep. Each bound below says what it keeps
//! small and why its value suffices; [`truncate`] and [`cut`] are the only
//! ways the crate shortens text, so a cut never splits a character.
//!
//! Backend-specific bounds (DynamoDB's item and transaction sizes, chat
//! message sizes) live beside the code that meets them, and are derived from
//! these where they overlap.

// ---- Decoding ------------------------------------------------------------------

/// The most bytes a payload may decompress to.
///
/// CloudWatch Logs caps one PutLogEvents batch at 1 MiB of messages plus 26
/// bytes per event, and one Lambda payload at 1 MB compressed; 32 MiB leaves
/// room for JSON escaping of the largest real batch while turning a gzip bomb
/// into an error long before it can exhaust a 128 MB Lambda.
pub const MAX_DECOMPRESSED: u64 = 32 * 1024 * 1024;

// ---- Extraction ----------------------------------------------------------------

/// The most context fields kept per occurrence: a hostile line with
/// thousands of keys must not turn into thousands of allocations.
pub const MAX_FIELDS: usize = 32;
/// The longest field name kept, in bytes.
pub const MAX_FIELD_NAME_LEN: usize = 128;
/// The longest field value kept, in bytes (cut on a character boundary).
pub const MAX_FIELD_LEN: usize = 1024;
/// The longest field value extraction reads: more than is kept, so that
/// scrubbing sees a secret whole before the value is cut to
/// [`MAX_FIELD_LEN`] (a key cut first would survive as a fragment the rules
/// no longer recognise).
pub const MAX_FIELD_READ_LEN: usize = 4 * MAX_FIELD_LEN;
/// The longest message kept, in bytes: Lambda logs up to 256 KB of an error
/// object, and the fingerprint only needs the start of it.
pub const MAX_MESSAGE_LEN: usize = 8 * 1024;
/// The longest error kind kept, in bytes.
pub const MAX_KIND_LEN: usize = 512;
/// The most stack frames kept: deep recursion prints thousands of identical
/// frames, and grouping needs only a few.
pub const MAX_FRAMES: usize = 200;

// ---- Aggregation ---------------------------------------------------------------

/// How many sample occurrences one batch keeps per issue. The store keeps its
/// own bounded ring across batches; a batch needs no more than that.
pub const SAMPLES_PER_BATCH: usize = 3;
/// Longest message kept in a sample, in bytes. Log events can be 1 MB; a
/// DynamoDB item is at most 400 KB and an alert must stay readable.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Longest issue title, in bytes: one line in a table, a subject, a chat line.
pub const MAX_TITLE_BYTES: usize = 160;
/// Distinct values one batch records per facet and issue; the rest are
/// counted under [`crate::model::OTHER`], so a field with a new value per line
/// (request ids) cannot grow an issue without bound.
pub const FACET_VALUES_PER_BATCH: usize = 20;
/// Longest facet value kept, in bytes.
pub const MAX_FACET_VALUE_BYTES: usize = 256;
/// Distinct versions one batch records per issue.
pub const VERSIONS_PER_BATCH: usize = 16;
/// Distinct previous-algorithm keys one batch records per issue: one throw
/// site may cover several v2 issues (v2 split it by message), and a store
/// joins those it finds (`store::route`); a later batch carrying others
/// joins those then.
pub const PREVIOUS_KEYS_PER_BATCH: usize = 8;
/// The most distinct issues one batch counts on their own; the errors of
/// any further fingerprint are counted into one overflow issue of the
/// batch's log group ([`crate::model::OVERFLOW_KIND`]), which says so and
/// keeps their titles (its `error` field) and a few samples.
///
/// Each distinct issue costs a batch about 1.5 KB of summary and 0.6 KB of
/// its new-issue digest in memory, and on DynamoDB about 6 write units in
/// one of its 25-issue transactions. A payload of 10,000 distinct errors
/// (under 1 MB compressed) made 10,000 issues, a 5.7 MB digest and a
/// bootstrap within 3 MB of its 128 MB. Real batches carry tens of
/// distinct errors (the real-runtime corpus at most a dozen per delivery):
/// 1,000 is far above them, and bounds the worst batch to 1,000 issues,
/// 40 transactions and one digest that SNS and chat can carry.
pub const MAX_ISSUES_PER_BATCH: usize = 1000;

// ---- Storage -------------------------------------------------------------------

/// How many samples an issue keeps, newest first. Bounded so that an issue
/// seen a million times stays as small as one seen once.
pub const MAX_SAMPLES: usize = 10;
/// Distinct values an issue keeps per facet; later values count as
/// [`crate::model::OTHER`].
pub const MAX_FACET_VALUES: usize = 50;

/// The most merged issues an issue lists as merged into it (DynamoDB keeps
/// the list in the issue item, which every batch rewrites). Merging more
/// still works: routing reads the merged issue, not this list.
pub const MAX_MERGED_FROM_KEPT: usize = 100;
/// The most issue records a job keeps for its streaks
/// (`alert_after_runs`) and auto-resolution (`auto_resolve_after_runs`),
/// applied when a run settles ([`crate::runs::lifecycle::settle`]).
///
/// DynamoDB keeps all of a job's records in one item, refused above
/// 400 KB: a run with more distinct issues than that item holds (errors
/// carrying data the grouping does not mask, every record its own issue)
/// would otherwise fail its settlement on every attempt, and every
/// settlement after it. Each record is at most 49 bytes there (a 12-digit
/// issue id and the largest numbers their types hold, in JSON), so 7,000
/// records and the longest job key take at most 345,112 bytes, 84% of the
/// limit (the DynamoDB store's tests build that item). Real jobs have tens of issues a run: a job past
/// this bound loses only the records settling needs least (see
/// `lifecycle::settle`), and both stores keep the same ones.
pub const MAX_JOB_ISSUES: usize = 7_000;
/// The most new-issue alerts one write queues separately; more make one
/// alert that lists them. DynamoDB's ingest folds a batch's new issues past
/// it whatever the policy's `digest_over` (its transaction has room for this
/// many alerts beside the issues), and both stores fold a run settlement's
/// announcements past it (`lifecycle::settle`): a job whose errors do not
/// group well can release thousands of held alerts in one settlement.
pub const MAX_SEPARATE_NEW_ISSUE_ALERTS: usize = 48;
/// The most queued alerts one round of a flush claims and sends. The CLI
/// claims round after round until none is left; the Lambda while its
/// invocation has time for another ([`FLUSH_ROUND_RESERVE_MS`]), and the
/// rest wait, unleased, for the next flush (the next invocation, or the
/// settling tick within 5 minutes). A round sends its alerts one after
/// another and must be done, alerts marked sent, well inside its leases
/// (`pipeline::ALERT_LEASE_MS`, 60 s) and the Lambda's 60 s timeout:
/// otherwise a lease ends while its alert is still to be sent, or the
/// invocation dies with alerts sent and not marked, and they go out
/// twice. 200 sends at SNS's tens of milliseconds each take a few seconds.
pub const MAX_ALERTS_PER_FLUSH: usize = 200;
/// How much of a Lambda invocation must be left for a flush to claim
/// another [`MAX_ALERTS_PER_FLUSH`] alerts after its first round (or the
/// time its longest round took, when that is more). A round claimed is a
/// round to send and mark inside its leases: one cut off by the timeout
/// sends its alerts twice. 200 sends take a few seconds; 20 s leaves room
/// for a slow SNS, out of the template's 60 s timeout.
pub const FLUSH_ROUND_RESERVE_MS: i64 = 20_000;
/// How long hourly counts are kept: the timeline covers the last 30 days.
pub const HOURS_RETENTION_MS: i64 = 30 * 24 * 3_600_000;

/// How long the Lambda's failed-events queue keeps a payload:
/// `FailedEventsQueue.MessageRetentionPeriod` in template.yaml, 14 days, the
/// longest SQS keeps a message (tests/template.rs checks the two agree).
pub const FAILED_EVENTS_RETENTION_MS: i64 = 14 * 24 * 3_600_000;

/// How long a recorded batch's id is kept, so that a batch delivered again
/// counts once. A payload replayed from the failed-events queue may have
/// been half recorded before it failed, and it can sit in the queue for
/// [`FAILED_EVENTS_RETENTION_MS`] after Lambda's retries (up to 6 hours)
/// gave up on it; CloudWatch Logs' own retries (up to 24 hours) come before
/// either. A day on top of the queue's retention covers all of it: with a
/// week, a payload replayed after its eighth day counted twice.
pub const BATCH_RETENTION_MS: i64 = FAILED_EVENTS_RETENTION_MS + 24 * 3_600_000;
const _: () = assert!(BATCH_RETENTION_MS > FAILED_EVENTS_RETENTION_MS + 6 * 3_600_000);

/// How long a settled run is kept, with its issues and the list of runs
/// each issue appeared in: `faultline runs`, `issues show` and the report
/// show the runs of the last quarter, enough to read a weekly or monthly
/// job's pattern, while an hourly job's runs (2,000 a quarter) stop
/// growing the store. No decision reads a run once it is settled:
/// `auto_resolve_after_runs` and `alert_after_runs` keep their streaks in
/// the job's own record, which is kept without end, so retention only caps
/// what "seen in N of the last M runs" can count (M is then at most the
/// job's runs of this window).
pub const RUN_RETENTION_MS: i64 = 90 * 24 * 3_600_000;

/// How long after its last write a run's issue link (and a Batch part) is
/// kept beyond [`RUN_RETENTION_MS`] on DynamoDB, where each item expires on
/// its own: a link written while its run was still going must outlive the
/// run item, which starts its retention only when the run settles, and
/// settling reads the links. Runs end, or go quiet, long before this: only
/// a run still logging more than [`RUN_RETENTION_MS`] plus this after an
/// issue's last occurrence in it would settle without that issue (its job
/// would count the run as clean for it).
pub const RUN_LINK_GRACE_MS: i64 = 30 * 24 * 3_600_000;
const _: () = assert!(RUN_RETENTION_MS > HOURS_RETENTION_MS);

// ---- Cutting text --------------------------------------------------------------

/// The longest prefix of `s` of at most `max` bytes that ends on a character
/// boundary, so cutting a hostile value can never panic.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the
/// cut with `...` so a reader knows there was more.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    format!("{}...", cut(text, max.saturating_sub(3)))
}

// ---- Cutting stacks ------------------------------------------------------------

/// A sample's stack as text, one frame per line, innermost last (the frame
/// that threw is the last line), after the note line of an earlier cut if
/// one left outer frames out. A stack is cut only from its outer end and
/// only by whole lines, so what stays is where the error was thrown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackText<'a> {
    text: &'a str,
    /// Outer frames an earlier cut left out (its note line's count).
    earlier: usize,
    frames: Vec<&'a str>,
}

impl<'a> StackText<'a> {
    /// The frames `text` holds, its note line (if any) read, not counted.
    pub fn parse(text: &'a str) -> Self {
        let mut frames: Vec<&str> = text.lines().collect();
        let earlier = frames.first().and_then(|l| outer_frames_left_out(l));
        if earlier.is_some() {
            frames.remove(0);
        }
        StackText {
            text,
            earlier: earlier.unwrap_or(0),
            frames,
        }
    }

    /// How many frames the text holds (its note line not counted).
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The innermost `kept` frames after a note line saying how many outer
    /// frames are not kept (those this cut leaves out and those an earlier
    /// one did) and `why`; the text unchanged when it keeps every frame.
    pub fn innermost(&self, kept: usize, why: &str) -> String {
        if kept >= self.frames.len() {
            return self.text.to_string();
        }
        let left_out = self.frames.len() - kept;
        let mut lines = Vec::with_capacity(kept + 1);
        let note = outer_frames_note(self.earlier + left_out, why);
        lines.push(note.as_str());
        lines.extend_from_slice(&self.frames[left_out..]);
        lines.join("\n")
    }
}

/// The note line that starts a cut stack: `... N outer frames not kept (why)`.
fn outer_frames_note(left_out: usize, why: &str) -> String {
    format!("... {left_out} outer frames not kept ({why})")
}

/// How many outer frames a cut stack's note line says were left out, or
/// `None` when `line` is not such a note (a frame, say).
pub fn outer_frames_left_out(line: &str) -> Option<usize> {
    let rest = line.strip_prefix("... ")?;
    let (count, rest) = rest.split_once(' ')?;
    rest.starts_with("outer frames not kept")
        .then(|| count.parse().ok())
        .flatten()
}

/// Cuts a stack (one frame per line, innermost last) to at most `max`
/// bytes by leaving out its outer frames, whole lines only: it keeps the
/// most innermost frames that fit after a first line saying how many outer
/// frames were left out and `why` ([`StackText::innermost`]). Only when not
/// even the innermost frame fits beside that line (a frame of kilobytes,
/// which no runtime prints) is that frame itself cut, marked with `...`.
pub fn cut_stack(text: &str, max: usize, why: &str) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let stack = StackText::parse(text);
    let total = stack.len();
    // Grow from the innermost end while the note, the frames and their
    // line breaks fit.
    let mut kept = 0;
    let mut frame_bytes = 0;
    for frame in stack.frames.iter().rev() {
        let next = kept + 1;
        let note = outer_frames_note(stack.earlier + total - next, why).len();
        if note + next + frame_bytes + frame.len() > max {
            break;
        }
        kept = next;
        frame_bytes += frame.len();
    }
    if kept == total && total > 0 {
        // Every frame fits: only an earlier cut's longer note did not.
        let note = outer_frames_note(stack.earlier, why);
        return [note.as_str()]
            .into_iter()
            .chain(stack.frames.iter().copied())
            .collect::<Vec<_>>()
            .join("\n");
    }
    if kept > 0 {
        return stack.innermost(kept, why);
    }
    let note = outer_frames_note(stack.earlier + total.saturating_sub(1), why);
    match stack.frames.last() {
        Some(innermost) if note.len() + 1 + 3 < max => {
            format!("{note}\n{}", truncate(innermost, max - note.len() - 1))
        }
        // `truncate` marks a cut with 3 bytes: below that, nothing fits.
        _ if max >= 3 => truncate(&note, max),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting_never_splits_a_character() {
        let s = "aé€😀";
        for max in 0..=s.len() + 1 {
            let c = cut(s, max);
            assert!(c.len() <= max && s.starts_with(c));
        }
    }

    #[test]
    fn truncation_marks_the_cut_and_respects_characters() {
        assert_eq!(truncate("ééééé", 6), "é...");
        assert_eq!(truncate("ééééé", 100), "ééééé");
    }

    /// Ten frames, `f0 (a.py:0)` outermost to `f9 (a.py:9)` innermost.
    fn ten_frames() -> String {
        (0..10)
            .map(|i| format!("f{i} (a.py:{i})"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_stack_that_fits_is_kept_as_it_is() {
        let stack = ten_frames();
        assert_eq!(cut_stack(&stack, stack.len(), "test bound"), stack);
    }

    #[test]
    fn a_cut_stack_keeps_whole_innermost_frames_after_a_note_of_what_it_left_out() {
        let stack = ten_frames();
        for max in 0..stack.len() {
            let cut = cut_stack(&stack, max, "test bound");
            assert!(cut.len() <= max, "{max}: {cut:?}");
            let mut lines = cut.lines();
            let Some(note) = lines.next() else { continue };
            let kept: Vec<&str> = lines.collect();
            if kept.is_empty() {
                // Too small for the note and a frame beside it.
                assert!(note.starts_with("..."), "{max}: {cut:?}");
                continue;
            }
            assert_eq!(
                note,
                format!("... {} outer frames not kept (test bound)", 10 - kept.len()),
                "{max}"
            );
            assert_eq!(outer_frames_left_out(note), Some(10 - kept.len()));
            // Whole frames once the note and one frame fit (52 bytes); below
            // that the innermost frame itself, cut.
            let innermost = *kept.last().unwrap();
            if max >= 52 {
                assert!(stack.ends_with(&kept.join("\n")), "{max}: {cut:?}");
            } else {
                assert!(innermost.ends_with("..."), "{max}: {cut:?}");
                assert!(
                    "f9 (a.py:9)".starts_with(innermost.trim_end_matches("...")),
                    "{max}: {cut:?}"
                );
            }
        }
        assert_eq!(
            cut_stack(&stack, 80, "test bound"),
            "... 7 outer frames not kept (test bound)\nf7 (a.py:7)\nf8 (a.py:8)\nf9 (a.py:9)"
        );
    }

    #[test]
    fn a_second_cut_counts_the_frames_the_first_left_out() {
        let stack = ten_frames();
        let first = cut_stack(&stack, 100, "first bound");
        let held = StackText::parse(&first);
        assert_eq!(held.len() + held.earlier, 10);
        assert_eq!(held.innermost(held.len(), "second bound"), first);
        let second = held.innermost(2, "second bound");
        assert_eq!(
            second,
            "... 8 outer frames not kept (second bound)\nf8 (a.py:8)\nf9 (a.py:9)"
        );
        assert_eq!(cut_stack(&first, 66, "second bound"), second);
        // Only the earlier note was too long: every frame stays.
        assert_eq!(
            cut_stack(&first, first.len() - 1, "second"),
            first.replace("(first bound)", "(second)")
        );
    }

    #[test]
    fn a_frame_too_long_for_any_bound_is_itself_cut_after_the_note() {
        let stack = format!("f0 (a.py:0)\n{} (a.py:1)", "g".repeat(500));
        let cut = cut_stack(&stack, 100, "test bound");
        assert!(cut.len() <= 100);
        assert!(cut.starts_with("... 1 outer frames not kept (test bound)\nggg"));
        assert!(cut.ends_with("..."), "{cut}");
    }
}
