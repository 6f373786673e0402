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
    /// An issue that counts its own occurrences, with its fingerprint.
    Issue { fingerprint: String },
    /// An issue merged into `into` (status [`Status::Merged`]).
    Merged { into: String },
    /// An alias: a fingerprint the store knows under another issue.
    Alias { target: String },
}

impl Entry {
    /// The entry of a stored issue, from its status, fingerprint and
    /// `merged_into`.
    pub fn of_issue(status: Status, fingerprint: &str, merged_into: Option<&str>) -> Entry {
        match (status, merged_into) {
            (Status::Merged, Some(into)) => Entry::Merged { into: into.into() },
            _ => Entry::Issue {
                fingerprint: fingerprint.into(),
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
    /// An issue: its id and fingerprint.
    Issue(String, String),
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
            match self.walk(&issue_id(&delta.fingerprint))? {
                Walk::Unknown(id) => want(id),
                Walk::Issue(..) => {}
                Walk::Absent => {
                    for previous in &delta.previous {
                        match self.walk(&issue_id(previous))? {
                            Walk::Unknown(id) => want(id),
                            Walk::Issue(..) => break,
                            Walk::Absent => {}
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
        // Where each delta goes, `None` for its own issue: the batch is
        // copied only when one goes elsewhere (rarely), since it can hold
        // thousands of issues with their samples.
        let mut targets: Vec<Option<String>> = Vec::with_capacity(batch.issues.len());
        for delta in &batch.issues {
            let own = issue_id(&delta.fingerprint);
            let target = match self.walk(&own)? {
                Walk::Issue(_, fingerprint) => fingerprint,
                Walk::Absent | Walk::Unknown(_) => match self.previous_issue(delta)? {
                    Some((target, fingerprint)) => {
                        if aliased.insert(own.clone()) {
                            aliases.push(NewAlias { id: own, target });
                        }
                        fingerprint
                    }
                    None => delta.fingerprint.clone(),
                },
            };
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
        })
    }

    /// The first issue one of `delta`'s previous keys leads to.
    fn previous_issue(&self, delta: &IssueDelta) -> Result<Option<(String, String)>, StoreError> {
        for previous in &delta.previous {
            if let Walk::Issue(id, fingerprint) = self.walk(&issue_id(previous))? {
                return Ok(Some((id, fingerprint)));
            }
        }
        Ok(None)
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
                Some(Some(Entry::Issue { fingerprint })) => {
                    return Ok(Walk::Issue(id.to_string(), fingerprint.clone()));
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
