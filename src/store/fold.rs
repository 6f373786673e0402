//! The fold of one batch's change into one issue, written once for both
//! stores.
//!
//! A store reads what it keeps of an issue, asks this module what the batch
//! does to it, and writes the answer atomically in its own way (SQLite in one
//! transaction, DynamoDB in conditional writes). Everything that decides a
//! value lives here: the policy's decision ([`policy::decide`]) and the
//! threshold window it is given, first and last seen, when a regression is
//! stamped, which hours the timeline keeps, which facet values an issue
//! keeps, and which samples ([`choose_sample`]). The stores differ only in how they read and
//! write, and `tests/store_conformance.rs` is what says they agree.

use std::collections::{BTreeMap, HashSet};
use std::ops::RangeInclusive;

use crate::limits::{HOURS_RETENTION_MS, MAX_FACET_VALUES, MAX_SAMPLES};
use crate::model::{Facet, FacetCount, HourCount, IssueDelta, IssueState, OTHER, Sample, hour_of};
use crate::policy::{self, Decision, Policy};

/// The most bytes of facet names and values one issue keeps, counted as
/// [`facet_entry_bytes`] does. Real facets (stream names, request ids, ARNs)
/// take a few KB; the bound stops ten facets of fifty 256-byte values from
/// making an issue expensive to keep (on DynamoDB a write costs what the
/// written item weighs). A value past it counts as [`OTHER`].
pub const MAX_FACET_BYTES: usize = 32 * 1024;

/// What a store knows of an issue before a batch touches it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prior {
    pub state: IssueState,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// What one batch does to one issue's counters and status.
#[derive(Debug, Clone, PartialEq)]
pub struct Folded {
    /// The issue did not exist: this batch creates it.
    pub created: bool,
    /// The policy's decision; `decision.state` is the state to write.
    pub decision: Decision,
    pub first_seen: i64,
    pub last_seen: i64,
    /// `Some(now)` when this batch reopened a resolved issue; the stored
    /// `regressed_at` is left alone otherwise.
    pub regressed_at: Option<i64>,
}

/// The hours (epoch ms of their start) whose counts the threshold decision
/// sums for this delta: the policy's window ending at the delta's latest
/// hour. `None` without a threshold, so a store reads nothing for it.
pub fn threshold_window(delta: &IssueDelta, policy: &Policy) -> Option<RangeInclusive<i64>> {
    let threshold = policy.threshold.as_ref()?;
    let end = hour_of(delta.last_seen);
    let start =
        end.saturating_sub((i64::from(threshold.window_hours) - 1).saturating_mul(3_600_000));
    Some(start..=end)
}

/// The oldest hour an issue's timeline keeps once this delta is applied.
/// Retention follows each issue's own latest hour, not the clock, so
/// replayed old logs keep their timeline.
pub fn oldest_hour_kept(delta: &IssueDelta) -> i64 {
    hour_of(delta.last_seen).saturating_sub(HOURS_RETENTION_MS)
}

/// Folds `delta` into an issue (`prior`: as read, `None` if it does not
/// exist). `stored_in_window` is the issue's count, before this batch, over
/// the hours of [`threshold_window`] (0 without a threshold); the delta's
/// own hours in the window are added here. `now` is processing time.
pub fn fold(
    prior: Option<&Prior>,
    delta: &IssueDelta,
    stored_in_window: u64,
    policy: &Policy,
    now: i64,
) -> Folded {
    let window_count = match threshold_window(delta, policy) {
        Some(window) => delta
            .hours
            .iter()
            .filter(|h| window.contains(&h.hour))
            .fold(stored_in_window, |sum, h| sum.saturating_add(h.count)),
        None => 0,
    };
    let decision = policy::decide(prior.map(|p| &p.state), delta, window_count, policy, now);
    let (first_seen, last_seen) = match prior {
        Some(p) => (
            p.first_seen.min(delta.first_seen),
            p.last_seen.max(delta.last_seen),
        ),
        None => (delta.first_seen, delta.last_seen),
    };
    Folded {
        created: prior.is_none(),
        regressed_at: decision.regressed.then_some(now),
        decision,
        first_seen,
        last_seen,
    }
}

/// A kept sample is replaced by a newer one only when that one is at least
/// this much newer than every sample kept: a hot issue changes its samples
/// a few times an hour, not on every batch (on DynamoDB each change is a
/// write that costs what the sample weighs).
pub const SAMPLE_INTERVAL_MS: i64 = 5 * 60_000;

/// The sample a batch keeps, and in which of an issue's [`MAX_SAMPLES`]
/// slots (`kept`: the timestamp of each slot's sample, `None` or past the
/// end while empty). One sample per batch at most, its newest: into the
/// first empty slot while there is one, then in place of the oldest kept
/// sample, and only when it is at least [`SAMPLE_INTERVAL_MS`] newer than
/// the newest kept. So an issue keeps its newest samples, a few an hour,
/// however hot it runs, and a replayed old batch never pushes out new ones.
///
/// None at all when every run the batch counts the issue in had it already
/// (`in_its_runs`, [`crate::store::run_book::unsampled`]): within a run, an
/// issue keeps what the batch that brought it into the run sampled. On
/// DynamoDB a batch of a run already seen writes its marker, the issue's
/// head and day, and the run item in one transaction: 8 write units, the
/// most a batch on one issue may cost, and a sample would make it 10. Each
/// run still leaves a sample of each issue it had (when due), and batches
/// outside runs sample as above.
pub fn choose_sample<'a>(
    kept: &[Option<i64>],
    delta: &'a IssueDelta,
    in_its_runs: bool,
) -> Option<(usize, &'a Sample)> {
    if in_its_runs {
        return None;
    }
    let newest = delta.samples.iter().max_by_key(|s| s.timestamp)?;
    let slot = |i: usize| kept.get(i).copied().flatten();
    if let Some(empty) = (0..MAX_SAMPLES).find(|&i| slot(i).is_none()) {
        return Some((empty, newest));
    }
    let latest = (0..MAX_SAMPLES).filter_map(slot).max()?;
    if newest.timestamp < latest.saturating_add(SAMPLE_INTERVAL_MS) {
        return None;
    }
    let oldest = (0..MAX_SAMPLES).min_by_key(|&i| (slot(i), i))?;
    Some((oldest, newest))
}

/// The samples an issue keeps once another is merged into it: the newest
/// [`MAX_SAMPLES`] of both (`(timestamp, sample)`), newest first, which is
/// also the slot order they are written in.
pub fn merged_samples<T>(mut both: Vec<(i64, T)>) -> Vec<T> {
    both.sort_by_key(|(timestamp, _)| std::cmp::Reverse(*timestamp));
    both.into_iter().take(MAX_SAMPLES).map(|(_, s)| s).collect()
}

/// Two issues' hourly counts summed, oldest first, keeping the hours
/// [`HOURS_RETENTION_MS`] before `last_seen` (the merged issue's latest
/// occurrence), as [`oldest_hour_kept`] does for a batch.
pub fn merged_hours(a: &[HourCount], b: &[HourCount], last_seen: i64) -> Vec<HourCount> {
    let oldest = hour_of(last_seen).saturating_sub(HOURS_RETENTION_MS);
    let mut sum: BTreeMap<i64, u64> = BTreeMap::new();
    for h in a.iter().chain(b).filter(|h| h.hour >= oldest) {
        let count = sum.entry(h.hour).or_default();
        *count = count.saturating_add(h.count);
    }
    sum.into_iter()
        .map(|(hour, count)| HourCount { hour, count })
        .collect()
}

/// What one kept facet value weighs against [`MAX_FACET_BYTES`]: the value
/// JSON-encoded and room for a 20-digit count and separators.
pub fn facet_entry_bytes(text: &str) -> usize {
    serde_json::to_string(text).map_or(text.len() * 6 + 2, |j| j.len()) + 24
}

/// The facet values an issue keeps, as far as admitting new ones needs: a
/// store fills it with what it holds, then passes each of the batch's facet
/// counts through [`FacetBook::admit`] and counts what comes out.
#[derive(Debug, Clone)]
pub struct FacetBook {
    names: BTreeMap<String, HashSet<String>>,
    bytes: usize,
    budget: usize,
}

impl Default for FacetBook {
    fn default() -> FacetBook {
        FacetBook::with_budget(MAX_FACET_BYTES)
    }
}

impl FacetBook {
    /// A book that keeps at most [`MAX_FACET_BYTES`] of values.
    pub fn new() -> FacetBook {
        FacetBook::default()
    }

    /// A book that keeps at most `budget` bytes of values (the DynamoDB
    /// store keeps facets per day, in items it rewrites whole).
    pub fn with_budget(budget: usize) -> FacetBook {
        FacetBook {
            names: BTreeMap::new(),
            bytes: 0,
            budget,
        }
    }

    /// Records a value the issue already keeps.
    pub fn keep(&mut self, name: &str, value: &str) {
        let values = match self.names.get_mut(name) {
            Some(values) => values,
            None => {
                self.bytes += facet_entry_bytes(name);
                self.names.entry(name.to_string()).or_default()
            }
        };
        if values.insert(value.to_string()) {
            self.bytes += facet_entry_bytes(value);
        }
    }

    /// Bytes of names and values kept, as counted against [`MAX_FACET_BYTES`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The count to record for `facet`: its own value while the issue keeps
    /// fewer than [`MAX_FACET_VALUES`] values of that name and the bytes
    /// allow, else [`OTHER`]; `None` when not even `(other)` of a new name
    /// fits. The book is updated as if the result had been recorded.
    pub fn admit(&mut self, facet: &FacetCount) -> Option<FacetCount> {
        let counted = |value: &str| FacetCount {
            name: facet.name.clone(),
            value: value.to_string(),
            count: facet.count,
        };
        let (known_name, distinct) = match self.names.get(&facet.name) {
            Some(values) if values.contains(&facet.value) => return Some(counted(&facet.value)),
            Some(values) => (true, values.iter().filter(|v| *v != OTHER).count()),
            None => (false, 0),
        };
        let name_cost = if known_name {
            0
        } else {
            facet_entry_bytes(&facet.name)
        };
        let fits = self.bytes + name_cost + facet_entry_bytes(&facet.value) <= self.budget;
        let value = if distinct >= MAX_FACET_VALUES || !fits {
            OTHER
        } else {
            facet.value.as_str()
        };
        let known_value = self
            .names
            .get(&facet.name)
            .is_some_and(|values| values.contains(value));
        if !known_value && self.bytes + name_cost + facet_entry_bytes(value) > self.budget {
            return None;
        }
        self.keep(&facet.name, value);
        Some(counted(value))
    }
}

/// The facets as an issue shows them: by name, each name's values most
/// frequent first (ties by value), at most five, with the number of
/// distinct values kept and whether more were folded into [`OTHER`].
pub fn summarise_facets<'a>(kept: impl IntoIterator<Item = (&'a str, &'a str, u64)>) -> Vec<Facet> {
    let mut by_name: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    for (name, value, count) in kept {
        by_name.entry(name).or_default().push((value, count));
    }
    by_name
        .into_iter()
        .map(|(name, mut values)| {
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            Facet {
                name: name.to_string(),
                distinct: values.iter().filter(|(v, _)| *v != OTHER).count() as u64,
                capped: values.iter().any(|(v, _)| *v == OTHER),
                top: values
                    .iter()
                    .take(5)
                    .map(|(v, c)| (v.to_string(), *c))
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use crate::policy::Threshold;

    fn delta(count: u64, hour: i64) -> IssueDelta {
        IssueDelta {
            fingerprint: "fp".into(),
            kind: "E".into(),
            title: "E: x".into(),
            count,
            first_seen: hour + 10,
            last_seen: hour + 20,
            samples: Vec::new(),
            hours: vec![HourCount { hour, count }],
            facets: Vec::new(),
            versions: Vec::new(),
            previous: Vec::new(),
        }
    }

    const H: i64 = 1_763_899_200_000;

    #[test]
    fn seen_times_widen_and_a_new_issue_takes_the_deltas() {
        let new = fold(None, &delta(2, H), 0, &Policy::default(), 1);
        assert!(new.created);
        assert_eq!((new.first_seen, new.last_seen), (H + 10, H + 20));
        let prior = Prior {
            state: new.decision.state.clone(),
            first_seen: H + 15,
            last_seen: H + 15,
        };
        let later = fold(Some(&prior), &delta(3, H), 0, &Policy::default(), 2);
        assert!(!later.created);
        assert_eq!((later.first_seen, later.last_seen), (H + 10, H + 20));
        assert_eq!(later.decision.state.count, 5);
    }

    #[test]
    fn the_threshold_window_adds_the_deltas_own_hours_to_what_was_stored() {
        let policy = Policy {
            threshold: Some(Threshold {
                count: 10,
                window_hours: 2,
            }),
            ..Policy::default()
        };
        let d = delta(4, H);
        assert_eq!(threshold_window(&d, &policy), Some(H - 3_600_000..=H));
        assert_eq!(threshold_window(&d, &Policy::default()), None);
        let prior = Prior {
            state: IssueState {
                count: 100,
                ..IssueState::default()
            },
            ..Prior::default()
        };
        let below = fold(Some(&prior), &d, 5, &policy, 1);
        assert_eq!(below.decision.alert, None, "5 stored + 4 new < 10");
        let crossed = fold(Some(&prior), &d, 6, &policy, 1);
        assert_eq!(
            crossed.decision.alert,
            Some(crate::model::EventType::Threshold)
        );
    }

    #[test]
    fn a_regression_is_stamped_with_processing_time() {
        let prior = Prior {
            state: IssueState {
                status: Status::Resolved,
                count: 1,
                ..IssueState::default()
            },
            ..Prior::default()
        };
        let folded = fold(Some(&prior), &delta(1, H), 0, &Policy::default(), 77);
        assert_eq!(folded.regressed_at, Some(77));
        assert_eq!(folded.decision.state.status, Status::Open);
    }

    #[test]
    fn facet_values_past_the_cap_count_as_other() {
        let mut book = FacetBook::new();
        let facet = |value: &str| FacetCount {
            name: "request_id".into(),
            value: value.into(),
            count: 2,
        };
        for i in 0..MAX_FACET_VALUES {
            assert_eq!(
                book.admit(&facet(&format!("r-{i}"))).unwrap().value,
                format!("r-{i}")
            );
        }
        assert_eq!(book.admit(&facet("late")).unwrap().value, OTHER);
        assert_eq!(
            book.admit(&facet("r-3")).unwrap().value,
            "r-3",
            "known values still count"
        );
        assert_eq!(book.admit(&facet("later")).unwrap().value, OTHER);
    }

    #[test]
    fn facet_bytes_are_bounded_and_a_name_that_does_not_fit_is_dropped() {
        let mut book = FacetBook::new();
        let mut names = 0;
        for n in 0..1000 {
            let facet = FacetCount {
                name: format!("name-{n}-{}", "x".repeat(200)),
                value: "v".repeat(250),
                count: 1,
            };
            match book.admit(&facet) {
                Some(_) => names += 1,
                None => break,
            }
        }
        assert!(names > 10 && names < 1000, "{names}");
        assert!(book.bytes() <= MAX_FACET_BYTES, "{}", book.bytes());
    }

    fn sampled(timestamps: &[i64]) -> IssueDelta {
        IssueDelta {
            samples: timestamps
                .iter()
                .map(|&t| Sample {
                    log_group: "/g".into(),
                    log_stream: "s".into(),
                    event_id: t.to_string(),
                    timestamp: t,
                    kind: "E".into(),
                    message: "m".into(),
                    shape: "text".into(),
                    fields: Vec::new(),
                })
                .collect(),
            ..delta(1, H)
        }
    }

    #[test]
    fn a_batch_keeps_its_newest_sample_in_the_first_empty_slot() {
        let mut kept = vec![None; MAX_SAMPLES];
        kept[0] = Some(H);
        let d = sampled(&[H + 3, H + 9, H + 5]);
        let (slot, sample) = choose_sample(&kept, &d, false).unwrap();
        assert_eq!((slot, sample.timestamp), (1, H + 9));
        assert_eq!(choose_sample(&[], &d, false).map(|(slot, _)| slot), Some(0));
        assert_eq!(
            choose_sample(&kept, &sampled(&[]), false),
            None,
            "nothing to keep"
        );
    }

    #[test]
    fn a_full_issue_replaces_its_oldest_sample_a_few_times_an_hour() {
        let kept: Vec<Option<i64>> = (0..MAX_SAMPLES as i64).map(|i| Some(H + 10 - i)).collect();
        assert_eq!(
            choose_sample(&kept, &sampled(&[H + 10 + SAMPLE_INTERVAL_MS - 1]), false),
            None,
            "too soon after the newest kept"
        );
        let (slot, _) =
            choose_sample(&kept, &sampled(&[H + 10 + SAMPLE_INTERVAL_MS]), false).unwrap();
        assert_eq!(slot, MAX_SAMPLES - 1, "the oldest kept goes");
        assert_eq!(
            choose_sample(&kept, &sampled(&[H - 100]), false),
            None,
            "an old one never"
        );
    }

    #[test]
    fn a_batch_takes_no_sample_of_an_issue_its_runs_had_already() {
        let d = sampled(&[H + 3]);
        assert_eq!(
            choose_sample(&[], &d, true),
            None,
            "even into an empty slot"
        );
        let kept: Vec<Option<i64>> = (0..MAX_SAMPLES as i64).map(|i| Some(H - i)).collect();
        let due = sampled(&[H + SAMPLE_INTERVAL_MS]);
        assert!(choose_sample(&kept, &due, false).is_some());
        assert_eq!(
            choose_sample(&kept, &due, true),
            None,
            "nor when one is due"
        );
    }

    #[test]
    fn a_merge_keeps_the_newest_samples_of_both_and_sums_the_hours_it_retains() {
        let kept = merged_samples((0..15).map(|t| (t, t)).collect());
        assert_eq!(kept.len(), MAX_SAMPLES);
        assert_eq!(kept.first(), Some(&14));
        assert_eq!(kept.last(), Some(&(15 - MAX_SAMPLES as i64)));
        let h = |hour: i64, count: u64| HourCount { hour, count };
        let ancient = H - HOURS_RETENTION_MS - 3_600_000;
        let sum = merged_hours(
            &[h(H, 2), h(ancient, 9)],
            &[h(H, 3), h(H - 3_600_000, 1)],
            H + 5,
        );
        assert_eq!(sum, vec![h(H - 3_600_000, 1), h(H, 5)]);
    }

    #[test]
    fn facets_show_most_frequent_first_with_ties_by_value() {
        let shown = summarise_facets([
            ("a", "x", 1),
            ("a", "y", 4),
            ("a", "w", 4),
            ("a", OTHER, 2),
            ("b", "z", 1),
        ]);
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0].distinct, 3);
        assert!(shown[0].capped);
        assert_eq!(
            shown[0].top,
            vec![
                ("w".to_string(), 4),
                ("y".to_string(), 4),
                (OTHER.to_string(), 2),
                ("x".to_string(), 1)
            ]
        );
        assert!(!shown[1].capped);
    }
}
