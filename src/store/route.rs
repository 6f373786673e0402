//! Which issue a batch's occurrences count into, written once for both
//! stores.
//!
//! Normally an occurrence counts into the issue its fingerprint names
//! ([`issue_id`]). Two things send it elsewhere, and both are kept as one
//! kind of pointer at the fingerprint's issue id:
//!
//! - **A merge** (`faultline issues merge INTO FROM`): FROM stays in the
//!   store with status [`Status::Merged`] and `merged_into = INTO`, so later
//!   occurrences of FROM's fingerprint count into INTO, and `unmerge` only
//!   has to clear it.
//! - **A change of fingerprint algorithm**: a fingerprint the store has
//!   never seen, whose occurrences the previous algorithm keyed to an issue
//!   the store has ([`IssueDelta::previous`]), counts into that issue, and
//!   the store keeps an *alias* from the new fingerprint's id to it. Without
//!   it, upgrading faultline would announce every known issue again.
//!
//! When those previous keys lead to several issues (v2 split one throw
//! site by message, v3 does not), the new fingerprint *joins* them: the
//! first one found takes the occurrences, and each other one is merged
//! into it ([`Join`]), as `faultline issues merge` would (counts summed,
//! no alert). A batch rarely carries every message of a throw site, so the
//! previous keys of a fingerprint that is an alias are read too, in every
//! batch, and an issue they lead to that the alias's issue does not count
//! for is joined then. A store runs a batch's joins before it records the
//! batch, and then routes the batch again:
//!
//! - Each join walks both issues to the issues that count for them and
//!   merges only when those differ, so a join already done, or done by a
//!   concurrent batch, is a no-op, whichever of the issues it chose.
//! - Nothing is recorded before the joins are done, so a batch that dies
//!   between two joins, or between the joins and its record, leaves
//!   nothing half done: its retry, or the next batch with the same keys,
//!   finds the issues that are still apart and joins them.
//! - `unmerge` undoes a join as it undoes a merge, and marks the issue
//!   *kept apart*: no join takes it again (which would also sum its history
//!   into the other issue a second time).
//!
//! Pointers are followed until an issue that counts its own occurrences.
//! A merge only joins two such issues, so pointers form a forest, never a
//! cycle; [`MAX_HOPS`] still bounds the walk, so a table edited by hand
//! cannot make a batch loop.
//!
//! A store reads what it holds of the ids [`Router::wanted`] asks for, tells
//! the router with [`Router::learn`], and asks again until nothing is
//! wanted (at most [`MAX_HOPS`] + 2 rounds; usually one, since a batch's
//! own issue ids are what a store reads anyway). [`Router::route`] then
//! rewrites the batch so that each delta carries its target's fingerprint:
//! everything after it (the fold, alerts, runs) needs no notion of aliases.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::model::{BatchSummary, IssueDelta, RunDelta, RunIssueDelta, Status, issue_id};
use crate::store::StoreError;

/// The longest chain of pointers followed before the store is called
/// damaged. Merges of merges are rare; eight is far past any real chain.
pub const MAX_HOPS: usize = 8;

/// What a store holds at one issue id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An issue that counts its own occurrences, with its fingerprint;
    /// `kept_apart` once a user unmerged it, so no join takes it again.
    Issue {
        fingerprint: String,
        kept_apart: bool,
    },
    /// An issue merged into `into` (status [`Status::Merged`]).
    Merged { into: String },
    /// An alias: a fingerprint the store knows under another issue.
    Alias { target: String },
}

impl Entry {
    /// The entry of a stored issue, from its status, fingerprint,
    /// `merged_into` and whether it was unmerged.
    pub fn of_issue(
        status: Status,
        fingerprint: &str,
        merged_into: Option<&str>,
        kept_apart: bool,
    ) -> Entry {
        match (status, merged_into) {
            (Status::Merged, Some(into)) => Entry::Merged { into: into.into() },
            _ => Entry::Issue {
                fingerprint: fingerprint.into(),
                kept_apart,
            },
        }
    }
}

/// An alias a batch creates: `id` (a new fingerprint's issue id) counts
/// into `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlias {
    pub id: String,
    pub target: String,
}

/// An issue that a new fingerprint joins into another (both issue ids):
/// the previous algorithm's keys of one fingerprint led to both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub into: String,
    pub from: String,
}

/// What joining an issue into another still needs ([`Router::join_step`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinStep {
    /// These ids have to be read first.
    Read(Vec<String>),
    /// Merge issue `from` into issue `into` (both count their own
    /// occurrences, and differ).
    Merge { into: String, from: String },
    /// Nothing to do: both already count into one issue (or one is gone).
    Done,
}

/// A batch rewritten to count into the issues that take its occurrences.
#[derive(Debug, Clone)]
pub struct Routed<'b> {
    /// The batch, each delta carrying its target's fingerprint (deltas keep
    /// their positions, so a store that writes a batch in chunks by position
    /// chunks every delivery the same way).
    pub batch: Cow<'b, BatchSummary>,
    /// The aliases to write with the batch, in the same atomic write.
    pub aliases: Vec<NewAlias>,
    /// Each fingerprint sent elsewhere, with the one it went to.
    pub moved: HashMap<String, String>,
    /// Issues to merge before the batch is recorded; when there are any,
    /// the store runs them and routes the batch again.
    pub joins: Vec<Join>,
}

/// Points the runs' issues where [`Router::route`] sent their fingerprints
/// (`moved`), so a run counts its errors under the issues that took them,
/// each issue once.
pub fn reroute_runs(runs: &mut [RunDelta], moved: &HashMap<String, String>) {
    if moved.is_empty() {
        return;
    }
    for run in runs {
        let mut issues: Vec<RunIssueDelta> = Vec::with_capacity(run.issues.len());
        let mut at: HashMap<String, usize> = HashMap::new();
        for mut issue in std::mem::take(&mut run.issues) {
            if let Some(target) = moved.get(&issue.fingerprint) {
                issue.fingerprint = target.clone();
            }
            match at.get(&issue.fingerprint).and_then(|&i| issues.get_mut(i)) {
                Some(same) => {
                    same.count = same.count.saturating_add(issue.count);
                    same.recovered = same.recovered.saturating_add(issue.recovered);
                }
                None => {
                    at.insert(issue.fingerprint.clone(), issues.len());
                    issues.push(issue);
                }
            }
        }
        run.issues = issues;
    }
}

/// What is known of the ids a batch touches, learned in rounds of reads.
#[derive(Debug, Default)]
pub struct Router {
    /// `None`: read, and the store holds nothing at that id.
    known: HashMap<String, Option<Entry>>,
}

/// Where following one id's pointers got to.
enum Walk {
    /// An issue: its id, fingerprint, and whether it is kept apart.
    Issue(String, String, bool),
    /// Nothing is stored at the id the walk started from.
    Absent,
    /// This id has to be read first.
    Unknown(String),
}

impl Router {
    pub fn new() -> Router {
        Router::default()
    }

    /// Records what the store holds at `id` (`None`: nothing).
    pub fn learn(&mut self, id: &str, entry: Option<Entry>) {
        self.known.insert(id.to_string(), entry);
    }

    /// Whether `id` has been read.
    pub fn knows(&self, id: &str) -> bool {
        self.known.contains_key(id)
    }

    /// The ids to read next for `batch`, distinct, in batch order; empty
    /// when [`Router::route`] can answer.
    pub fn wanted(&self, batch: &BatchSummary) -> Result<Vec<String>, StoreError> {
        // A set beside the list: a batch may create thousands of issues,
        // and a search of the list for each was quadratic.
        let mut wanted: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut want = |id: String| {
            if seen.insert(id.clone()) {
                wanted.push(id);
            }
        };
        for delta in &batch.issues {
            let own = issue_id(&delta.fingerprint);
            match self.walk(&own)? {
                Walk::Unknown(id) => want(id),
                Walk::Issue(..) if !self.is_alias(&own) => {}
                Walk::Issue(..) | Walk::Absent => {
                    // Every one of them, not only the first found: each
                    // other issue they lead to is joined.
                    for previous in &delta.previous {
                        if let Walk::Unknown(id) = self.walk(&issue_id(previous))? {
                            want(id);
                        }
                    }
                }
            }
        }
        Ok(wanted)
    }

    /// The batch with each delta pointed at the issue that takes it, and
    /// the aliases that sends through. Call once [`Router::wanted`] is
    /// empty; an id not read yet is treated as absent.
    pub fn route<'b>(&self, batch: &'b BatchSummary) -> Result<Routed<'b>, StoreError> {
        let mut aliases: Vec<NewAlias> = Vec::new();
        let mut aliased: HashSet<String> = HashSet::new();
        let mut moved: HashMap<String, String> = HashMap::new();
        let mut joins: Vec<Join> = Vec::new();
        let mut joined: HashSet<String> = HashSet::new();
        // Where each delta goes, `None` for its own issue: the batch is
        // copied only when one goes elsewhere (rarely), since it can hold
        // thousands of issues with their samples.
        let mut targets: Vec<Option<String>> = Vec::with_capacity(batch.issues.len());
        for delta in &batch.issues {
            let own = issue_id(&delta.fingerprint);
            let (target, fingerprint) = match self.walk(&own)? {
                Walk::Issue(id, fingerprint, _) => (Some(id), fingerprint),
                Walk::Absent | Walk::Unknown(_) => {
                    match self.previous_issues(delta)?.into_iter().next() {
                        Some((target, fingerprint, _)) => {
                            if aliased.insert(own.clone()) {
                                aliases.push(NewAlias {
                                    id: own.clone(),
                                    target: target.clone(),
                                });
                            }
                            (Some(target), fingerprint)
                        }
                        None => (None, delta.fingerprint.clone()),
                    }
                }
            };
            // An issue of its own counts alone: the previous keys were not
            // read (a new fingerprint's or an alias's were).
            if let Some(into) = target.filter(|_| !self.knows_own_issue(&own)) {
                for (other, _, kept_apart) in self.previous_issues(delta)? {
                    if other != into && !kept_apart && joined.insert(other.clone()) {
                        joins.push(Join {
                            into: into.clone(),
                            from: other,
                        });
                    }
                }
            }
            let target = fingerprint;
            if target == delta.fingerprint {
                targets.push(None);
            } else {
                moved.insert(delta.fingerprint.clone(), target.clone());
                targets.push(Some(target));
            }
        }
        let batch = if moved.is_empty() {
            Cow::Borrowed(batch)
        } else {
            let mut routed = batch.clone();
            for (delta, target) in routed.issues.iter_mut().zip(targets) {
                if let Some(target) = target {
                    delta.fingerprint = target;
                }
            }
            reroute_runs(&mut routed.runs, &moved);
            Cow::Owned(routed)
        };
        Ok(Routed {
            batch,
            aliases,
            moved,
            joins,
        })
    }

    /// The distinct issues `delta`'s previous keys lead to, in the order of
    /// the keys, each with its fingerprint and whether it is kept apart.
    fn previous_issues(
        &self,
        delta: &IssueDelta,
    ) -> Result<Vec<(String, String, bool)>, StoreError> {
        let mut found: Vec<(String, String, bool)> = Vec::new();
        for previous in &delta.previous {
            if let Walk::Issue(id, fingerprint, kept_apart) = self.walk(&issue_id(previous))? {
                if !found.iter().any(|(known, ..)| *known == id) {
                    found.push((id, fingerprint, kept_apart));
                }
            }
        }
        Ok(found)
    }

    /// Whether the store holds an alias at `id`.
    fn is_alias(&self, id: &str) -> bool {
        matches!(self.known.get(id), Some(Some(Entry::Alias { .. })))
    }

    /// Whether `id` is an issue (merged or not): its fingerprint was seen
    /// before, and its previous keys are not read.
    fn knows_own_issue(&self, id: &str) -> bool {
        matches!(
            self.known.get(id),
            Some(Some(Entry::Issue { .. } | Entry::Merged { .. }))
        )
    }

    /// What `join` still needs, from what has been read: both of its issues
    /// are walked to the issues that count for them, so a join that is
    /// done already, or that a concurrent batch did the other way round,
    /// is [`JoinStep::Done`].
    pub fn join_step(&self, join: &Join) -> Result<JoinStep, StoreError> {
        let into = self.walk(&join.into)?;
        let from = self.walk(&join.from)?;
        Ok(match (into, from) {
            (Walk::Unknown(a), Walk::Unknown(b)) => JoinStep::Read(vec![a, b]),
            (Walk::Unknown(id), _) | (_, Walk::Unknown(id)) => JoinStep::Read(vec![id]),
            (Walk::Issue(into, ..), Walk::Issue(from, ..)) if into != from => {
                JoinStep::Merge { into, from }
            }
            _ => JoinStep::Done,
        })
    }

    fn walk(&self, start: &str) -> Result<Walk, StoreError> {
        let mut id = start;
        for _ in 0..=MAX_HOPS {
            let next = match self.known.get(id) {
                None => return Ok(Walk::Unknown(id.to_string())),
                Some(None) if id == start => return Ok(Walk::Absent),
                Some(None) => {
                    return Err(StoreError::Corrupt(format!(
                        "issue {start} points at issue {id}, which is not in the store"
                    )));
                }
                Some(Some(Entry::Issue {
                    fingerprint,
                    kept_apart,
                })) => {
                    return Ok(Walk::Issue(
                        id.to_string(),
                        fingerprint.clone(),
                        *kept_apart,
                    ));
                }
                Some(Some(Entry::Merged { into })) => into,
                Some(Some(Entry::Alias { target })) => target,
            };
            id = next;
        }
        Err(StoreError::Corrupt(format!(
            "issue {start} is merged or aliased through more than {MAX_HOPS} issues (a loop?)"
        )))
    }
}

/// Whether `from` may be merged into `into`, from what the store holds at
/// each (`None`: nothing): both issues that count their own occurrences,
/// and not the same one. So merges only ever join two roots, and pointers
/// never form a loop.
pub fn check_merge(
    into_id: &str,
    into: Option<&Entry>,
    from_id: &str,
    from: Option<&Entry>,
) -> Result<(), StoreError> {
    if into_id == from_id {
        return Err(StoreError::Refused(format!(
            "cannot merge issue {into_id} into itself"
        )));
    }
    for (id, entry) in [(into_id, into), (from_id, from)] {
        match entry {
            None | Some(Entry::Alias { .. }) => return Err(StoreError::NotFound(id.to_string())),
            Some(Entry::Merged { into: further }) if id == into_id => {
                return Err(StoreError::Refused(format!(
                    "issue {id} is itself merged into {further}: merge into {further} instead"
                )));
            }
            Some(Entry::Merged { into: already }) => {
                return Err(StoreError::Refused(format!(
                    "issue {id} is already merged into {already}; to move it, run `faultline issues unmerge {id}` first"
                )));
            }
            Some(Entry::Issue { .. }) => {}
        }
    }
    Ok(())
}

/// The refusal to change the status of an issue merged into another.
pub fn merged_refusal(id: &str, into: &str) -> StoreError {
    StoreError::Refused(format!(
        "issue {id} is merged into {into}, whose status counts for it: change {into}, or run `faultline issues unmerge {id}` first"
    ))
}

/// The refusal to unmerge an issue that is not merged.
pub fn not_merged_refusal(id: &str) -> StoreError {
    StoreError::Refused(format!("issue {id} is not merged into another issue"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BatchSummary, RunSource};

    fn batch(deltas: &[(&str, &[&str])]) -> BatchSummary {
        BatchSummary {
            batch_id: "b".into(),
            owner: "1".into(),
            log_group: "/g".into(),
            log_stream: "s".into(),
            events: deltas.len(),
            errors: deltas.len(),
            runs: Vec::new(),
            issues: deltas
                .iter()
                .map(|(fp, previous)| IssueDelta {
                    fingerprint: fp.to_string(),
                    kind: "E".into(),
                    title: "E".into(),
                    count: 1,
                    first_seen: 1,
                    last_seen: 1,
                    samples: Vec::new(),
                    hours: Vec::new(),
                    facets: Vec::new(),
                    versions: Vec::new(),
                    previous: previous.iter().map(|p| p.to_string()).collect(),
                })
                .collect(),
        }
    }

    fn issue(fp: &str) -> Option<Entry> {
        Some(Entry::Issue {
            fingerprint: fp.into(),
            kept_apart: false,
        })
    }

    /// Reads what `store` holds until the router wants nothing more.
    fn settle(router: &mut Router, store: &HashMap<String, Entry>, b: &BatchSummary) -> usize {
        let mut rounds = 0;
        loop {
            let wanted = router.wanted(b).unwrap();
            if wanted.is_empty() {
                return rounds;
            }
            rounds += 1;
            for id in wanted {
                router.learn(&id, store.get(&id).cloned());
            }
        }
    }

    #[test]
    fn a_known_fingerprint_counts_into_its_own_issue_after_one_read() {
        let b = batch(&[("v3:a", &["v2:a"])]);
        let store = HashMap::from([(issue_id("v3:a"), issue("v3:a").unwrap())]);
        let mut router = Router::new();
        assert_eq!(settle(&mut router, &store, &b), 1);
        assert!(!router.knows(&issue_id("v2:a")), "previous keys not read");
        let routed = router.route(&b).unwrap();
        assert_eq!(routed.batch.issues[0].fingerprint, "v3:a");
        assert!(routed.aliases.is_empty());
    }

    #[test]
    fn a_new_fingerprint_of_an_issue_the_previous_algorithm_made_counts_there_and_is_aliased() {
        let b = batch(&[("v3:a", &["v2:gone", "v2:a"])]);
        let store = HashMap::from([(issue_id("v2:a"), issue("v2:a").unwrap())]);
        let mut router = Router::new();
        settle(&mut router, &store, &b);
        let routed = router.route(&b).unwrap();
        assert_eq!(routed.batch.issues[0].fingerprint, "v2:a");
        assert_eq!(
            routed.aliases,
            vec![NewAlias {
                id: issue_id("v3:a"),
                target: issue_id("v2:a")
            }]
        );
    }

    #[test]
    fn a_fingerprint_nobody_knows_stays_a_new_issue() {
        let b = batch(&[("v3:new", &["v2:new"])]);
        let mut router = Router::new();
        settle(&mut router, &HashMap::new(), &b);
        let routed = router.route(&b).unwrap();
        assert_eq!(routed.batch.issues[0].fingerprint, "v3:new");
        assert!(routed.aliases.is_empty());
    }

    #[test]
    fn a_new_fingerprint_whose_previous_keys_lead_to_several_issues_joins_them_into_the_first() {
        let b = batch(&[("v3:a", &["v2:a", "v2:gone", "v2:b", "v2:c", "v2:b2"])]);
        let store = HashMap::from([
            (issue_id("v2:a"), issue("v2:a").unwrap()),
            (issue_id("v2:b"), issue("v2:b").unwrap()),
            (issue_id("v2:c"), issue("v2:c").unwrap()),
            // Merged by hand into b: joined with b, not on its own.
            (
                issue_id("v2:b2"),
                Entry::Merged {
                    into: issue_id("v2:b"),
                },
            ),
        ]);
        let mut router = Router::new();
        settle(&mut router, &store, &b);
        let routed = router.route(&b).unwrap();
        assert_eq!(routed.batch.issues[0].fingerprint, "v2:a");
        let join = |from: &str| Join {
            into: issue_id("v2:a"),
            from: issue_id(from),
        };
        assert_eq!(routed.joins, vec![join("v2:b"), join("v2:c")]);
        assert_eq!(routed.aliases.len(), 1);
    }

    #[test]
    fn once_joined_the_same_batch_routes_without_joins() {
        let b = batch(&[("v3:a", &["v2:b", "v2:a"])]);
        // b was merged into a by an earlier attempt of this batch, which
        // died before it recorded the batch.
        let store = HashMap::from([
            (issue_id("v2:a"), issue("v2:a").unwrap()),
            (
                issue_id("v2:b"),
                Entry::Merged {
                    into: issue_id("v2:a"),
                },
            ),
        ]);
        let mut router = Router::new();
        settle(&mut router, &store, &b);
        let routed = router.route(&b).unwrap();
        assert!(routed.joins.is_empty(), "{:?}", routed.joins);
        assert_eq!(routed.batch.issues[0].fingerprint, "v2:a");
        assert_eq!(routed.aliases[0].target, issue_id("v2:a"));
    }

    #[test]
    fn an_alias_joins_the_issues_later_batches_lead_to_except_those_kept_apart() {
        // v3:a was aliased to a in an earlier batch that carried only a's
        // messages; this one carries b's and c's. c was unmerged by a user.
        let b = batch(&[("v3:a", &["v2:b", "v2:c"])]);
        let store = HashMap::from([
            (
                issue_id("v3:a"),
                Entry::Alias {
                    target: issue_id("v2:a"),
                },
            ),
            (issue_id("v2:a"), issue("v2:a").unwrap()),
            (issue_id("v2:b"), issue("v2:b").unwrap()),
            (
                issue_id("v2:c"),
                Entry::Issue {
                    fingerprint: "v2:c".into(),
                    kept_apart: true,
                },
            ),
        ]);
        let mut router = Router::new();
        settle(&mut router, &store, &b);
        let routed = router.route(&b).unwrap();
        assert_eq!(routed.batch.issues[0].fingerprint, "v2:a");
        assert_eq!(
            routed.joins,
            vec![Join {
                into: issue_id("v2:a"),
                from: issue_id("v2:b")
            }]
        );
        assert!(routed.aliases.is_empty());
    }

    #[test]
    fn a_join_merges_the_issues_that_count_and_only_while_they_differ() {
        let read = |store: &HashMap<String, Entry>, join: &Join| {
            let mut router = Router::new();
            loop {
                match router.join_step(join).unwrap() {
                    JoinStep::Read(ids) => ids
                        .iter()
                        .for_each(|id| router.learn(id, store.get(id).cloned())),
                    step => return step,
                }
            }
        };
        let ab = Join {
            into: "a".into(),
            from: "b".into(),
        };
        let both = HashMap::from([
            ("a".to_string(), issue("x").unwrap()),
            ("b".to_string(), issue("y").unwrap()),
        ]);
        assert_eq!(
            read(&both, &ab),
            JoinStep::Merge {
                into: "a".into(),
                from: "b".into()
            }
        );
        // A concurrent batch joined them the other way round.
        let other_way = HashMap::from([
            ("a".to_string(), Entry::Merged { into: "b".into() }),
            ("b".to_string(), issue("y").unwrap()),
        ]);
        assert_eq!(read(&other_way, &ab), JoinStep::Done);
        // a was merged into c by hand: b joins c.
        let moved = HashMap::from([
            ("a".to_string(), Entry::Merged { into: "c".into() }),
            ("b".to_string(), issue("y").unwrap()),
            ("c".to_string(), issue("z").unwrap()),
        ]);
        assert_eq!(
            read(&moved, &ab),
            JoinStep::Merge {
                into: "c".into(),
                from: "b".into()
            }
        );
    }

    #[test]
    fn merges_and_aliases_are_followed_to_the_issue_that_counts() {
        // v3:a is an alias of v2:a, which was merged into c, merged into d.
        let mut b = batch(&[("v3:a", &[]), ("c", &[])]);
        let mut run = RunDelta::new(
            "field:/g:r1".into(),
            RunSource::Field,
            "/g".into(),
            "r1".into(),
        );
        run.issues = ["v3:a", "c"]
            .iter()
            .map(|fp| RunIssueDelta {
                fingerprint: fp.to_string(),
                count: 2,
                recovered: 1,
            })
            .collect();
        b.runs.push(run);
        let store = HashMap::from([
            (
                issue_id("v3:a"),
                Entry::Alias {
                    target: issue_id("v2:a"),
                },
            ),
            (
                issue_id("v2:a"),
                Entry::Merged {
                    into: issue_id("c"),
                },
            ),
            (
                issue_id("c"),
                Entry::Merged {
                    into: issue_id("d"),
                },
            ),
            (issue_id("d"), issue("d").unwrap()),
        ]);
        let mut router = Router::new();
        settle(&mut router, &store, &b);
        let routed = router.route(&b).unwrap();
        let fps: Vec<&str> = routed
            .batch
            .issues
            .iter()
            .map(|d| d.fingerprint.as_str())
            .collect();
        assert_eq!(fps, ["d", "d"]);
        assert!(
            routed.aliases.is_empty(),
            "no new alias: the pointers exist"
        );
    }

    #[test]
    fn a_loop_of_pointers_is_reported_not_followed_forever() {
        let b = batch(&[("a", &[])]);
        let store = HashMap::from([
            (
                issue_id("a"),
                Entry::Merged {
                    into: issue_id("b"),
                },
            ),
            (
                issue_id("b"),
                Entry::Merged {
                    into: issue_id("a"),
                },
            ),
        ]);
        let mut router = Router::new();
        let mut err = None;
        for _ in 0..MAX_HOPS + 3 {
            match router.wanted(&b) {
                Ok(wanted) if wanted.is_empty() => break,
                Ok(wanted) => wanted
                    .iter()
                    .for_each(|id| router.learn(id, store.get(id).cloned())),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert!(matches!(err, Some(StoreError::Corrupt(_))), "{err:?}");
    }

    #[test]
    fn a_merge_joins_two_live_issues_only() {
        let live = issue("x");
        let merged = Some(Entry::Merged { into: "z".into() });
        let alias = Some(Entry::Alias { target: "z".into() });
        assert!(check_merge("a", live.as_ref(), "b", live.as_ref()).is_ok());
        let refused = |into: &Option<Entry>, from_id: &str, from: &Option<Entry>| {
            check_merge("a", into.as_ref(), from_id, from.as_ref()).unwrap_err()
        };
        assert!(matches!(refused(&live, "a", &live), StoreError::Refused(_)));
        assert!(matches!(
            refused(&merged, "b", &live),
            StoreError::Refused(_)
        ));
        assert!(matches!(
            refused(&live, "b", &merged),
            StoreError::Refused(_)
        ));
        assert!(matches!(refused(&live, "b", &None), StoreError::NotFound(id) if id == "b"));
        assert!(matches!(refused(&alias, "b", &live), StoreError::NotFound(id) if id == "a"));
    }
}
