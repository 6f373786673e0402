//! One suite, every store: the semantics DESIGN.md promises, pinned once.
//!
//! Each case takes a fresh, empty store. `conformance!` instantiates every
//! case for one backend; the SQLite backend runs everywhere, the DynamoDB one
//! against the emulator (see tests/support).

mod support;

use faultline::limits::MAX_SEPARATE_NEW_ISSUE_ALERTS;
use faultline::limits::{FAILED_EVENTS_RETENTION_MS, MAX_FACET_VALUES, MAX_SAMPLES};
use faultline::limits::{RUN_LINK_GRACE_MS, RUN_RETENTION_MS};
use faultline::model::{Alert, EventType};
use faultline::model::{BatchSummary, FacetCount, HourCount, IssueDelta, Sample};
use faultline::model::{IssueQuery, IssueSort, LISTING_HOURS, Status, StatusChange, StatusFilter};
use faultline::model::{Outcome, RunDelta, RunIssueDelta, RunPart, RunSource};
use faultline::policy::{Policy, Threshold};
use faultline::store::fold::SAMPLE_INTERVAL_MS;
use faultline::store::outbox::{DETAILED_ALERT_ISSUES, MAX_ALERT_BYTES};
use faultline::store::{RunFilter, Store, StoreError};

use aws_sdk_dynamodb::types::AttributeValue;

pub mod cases {
    use super::*;

    const NOW: i64 = 1_763_900_000_000;
    const LEASE: i64 = 60_000;

    pub fn delta(fingerprint: &str, count: u64, t: i64) -> IssueDelta {
        IssueDelta {
            fingerprint: fingerprint.to_string(),
            kind: "KeyError".into(),
            title: format!("KeyError: {fingerprint}"),
            count,
            first_seen: t,
            last_seen: t + 10,
            samples: (0..count.min(3))
                .map(|i| Sample {
                    log_group: "/aws/lambda/f".into(),
                    log_stream: "s".into(),
                    event_id: format!("{t}-{i}"),
                    timestamp: t + i as i64,
                    kind: "KeyError".into(),
                    message: format!("'{fingerprint}'"),
                    shape: "python-text".into(),
                    fields: vec![("requestId".into(), "r-1".into())],
                })
                .collect(),
            hours: vec![HourCount {
                hour: t - t.rem_euclid(3_600_000),
                count,
            }],
            facets: vec![FacetCount {
                name: "log_stream".into(),
                value: "s".into(),
                count,
            }],
            versions: Vec::new(),
            previous: Vec::new(),
        }
    }

    fn request(id: &str, count: u64) -> FacetCount {
        FacetCount {
            name: "request_id".into(),
            value: id.into(),
            count,
        }
    }

    fn policy() -> Policy {
        Policy::default()
    }

    async fn record(
        store: &dyn Store,
        batch: &BatchSummary,
        now: i64,
    ) -> faultline::model::Recorded {
        store.record(batch, now, &policy()).await.unwrap()
    }

    async fn drain(store: &dyn Store, now: i64) -> Vec<faultline::model::Alert> {
        let alerts = store.claim_alerts(now, LEASE, usize::MAX).await.unwrap();
        for alert in &alerts {
            store.alert_sent(alert, now).await.unwrap();
        }
        alerts
    }

    pub fn batch(id: &str, issues: Vec<IssueDelta>) -> BatchSummary {
        BatchSummary {
            batch_id: id.to_string(),
            owner: "123456789012".into(),
            log_group: "/aws/lambda/f".into(),
            log_stream: "s".into(),
            events: 100,
            errors: issues.iter().map(|d| d.count as usize).sum(),
            issues,
            runs: Vec::new(),
        }
    }

    fn id_of(fingerprint: &str) -> String {
        faultline::model::issue_id(fingerprint)
    }

    pub async fn a_batch_creates_its_issues_with_counts(store: &dyn Store) {
        let b = batch("b1", vec![delta("fp-a", 4, 1000), delta("fp-b", 1, 2000)]);
        let recorded = record(store, &b, NOW).await;
        assert!(!recorded.duplicate);
        assert_eq!(recorded.new_issues.len(), 2);
        let issues = store.issues(StatusFilter::All).await.unwrap();
        assert_eq!(issues.len(), 2);
        let a = issues.iter().find(|i| i.fingerprint == "fp-a").unwrap();
        assert_eq!(a.count, 4);
        assert_eq!(a.first_seen, 1000);
        assert_eq!(a.last_seen, 1010);
        assert_eq!(a.status, Status::Open);
        assert_eq!(a.id, id_of("fp-a"));
        assert_eq!(a.kind, "KeyError");
        assert_eq!(a.log_group, "/aws/lambda/f");
    }

    pub async fn replaying_a_batch_changes_nothing(store: &dyn Store) {
        let b = batch("b1", vec![delta("fp-a", 4, 1000)]);
        record(store, &b, NOW).await;
        let before = store.issue(&id_of("fp-a")).await.unwrap().unwrap();
        for _ in 0..3 {
            let again = record(store, &b, NOW + 5).await;
            assert!(again.duplicate);
            assert!(again.new_issues.is_empty());
            assert_eq!(again.alerts, 0);
        }
        let after = store.issue(&id_of("fp-a")).await.unwrap().unwrap();
        assert_eq!(before, after);
        let alerts = store
            .claim_alerts(NOW + 10, LEASE, usize::MAX)
            .await
            .unwrap();
        assert_eq!(alerts.len(), 1, "a replay must not queue a second alert");
    }

    pub async fn batches_recorded_together_count_as_recorded_one_by_one(store: &dyn Store) {
        let b1 = batch("b1", vec![delta("fp-a", 4, 1000)]);
        let b2 = batch("b2", vec![delta("fp-a", 3, 2000), delta("fp-b", 1, 2000)]);
        let recorded = store
            .record_all(&[b1.clone(), b2.clone(), b1.clone()], NOW, &policy())
            .await
            .unwrap();
        assert_eq!(recorded.len(), 3);
        assert!(!recorded[0].duplicate && !recorded[1].duplicate);
        assert!(
            recorded[2].duplicate,
            "a batch repeated in one call counts once"
        );
        assert_eq!(recorded[0].new_issues, vec![id_of("fp-a")]);
        assert_eq!(recorded[1].new_issues, vec![id_of("fp-b")]);
        let again = store.record_all(&[b2], NOW, &policy()).await.unwrap();
        assert!(again[0].duplicate);
        let a = store.issue(&id_of("fp-a")).await.unwrap().unwrap().issue;
        assert_eq!(a.count, 7);
        assert_eq!(
            store
                .claim_alerts(NOW, LEASE, usize::MAX)
                .await
                .unwrap()
                .len(),
            2
        );
    }

    /// A stream invocation records its batches together; Lambda may retry
    /// it from any record, deliver a record twice, or run two invocations
    /// whose records overlap. Each batch counts once however it comes.
    pub async fn batches_recorded_together_count_once_however_they_overlap(store: &dyn Store) {
        // Every batch hits one hot issue and one issue of its own.
        let b = |n: usize| {
            batch(
                &format!("b{n}"),
                vec![
                    delta("fp-hot", 2, 1000 + n as i64),
                    delta(&format!("fp-{n}"), 1, 1000 + n as i64),
                ],
            )
        };
        let alone = record(store, &b(5), NOW).await;
        assert!(!alone.duplicate);
        let first: Vec<BatchSummary> = (1..=6).map(b).collect();
        let second: Vec<BatchSummary> = (4..=9).map(b).collect();
        let policy = policy();
        let (x, y) = tokio::join!(
            store.record_all(&first, NOW, &policy),
            store.record_all(&second, NOW, &policy)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!(
            x[4].duplicate && y[1].duplicate,
            "b5 was recorded alone first"
        );
        for n in [4, 6] {
            assert!(
                x[n - 1].duplicate != y[n - 4].duplicate,
                "b{n}, in both calls, counts in exactly one"
            );
        }
        let hot = store.issue(&id_of("fp-hot")).await.unwrap().unwrap().issue;
        assert_eq!(hot.count, 2 * 9, "each of 9 batches once");
        for n in 1..=9 {
            let own = store
                .issue(&id_of(&format!("fp-{n}")))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(own.issue.count, 1, "fp-{n}");
        }
        let announced: Vec<String> = drain(store, NOW)
            .await
            .iter()
            .flat_map(|a| a.issues.iter().map(|i| i.id.clone()))
            .collect();
        assert_eq!(announced.len(), 10, "each new issue once: {announced:?}");
        assert_eq!(
            announced
                .iter()
                .filter(|id| **id == id_of("fp-hot"))
                .count(),
            1
        );
        let replay = store.record_all(&second, NOW, &policy).await.unwrap();
        assert!(replay.iter().all(|r| r.duplicate));
        assert_eq!(
            store
                .issue(&id_of("fp-hot"))
                .await
                .unwrap()
                .unwrap()
                .issue
                .count,
            18
        );
    }

    /// A run that claimed alerts and stopped leaves them leased: they are
    /// reported as held, with the lease's end, until it ends; then they are
    /// claimable again.
    pub async fn alerts_held_by_a_lease_are_reported_until_it_ends(store: &dyn Store) {
        record(store, &batch("b1", vec![delta("fp-a", 1, 1000)]), NOW).await;
        assert!(
            store.leased_alerts(NOW).await.unwrap().is_empty(),
            "queued, not leased"
        );
        assert_eq!(
            store
                .claim_alerts(NOW, LEASE, usize::MAX)
                .await
                .unwrap()
                .len(),
            1
        );
        let leased = store.leased_alerts(NOW + 1).await.unwrap();
        assert_eq!(leased.len(), 1, "{leased:?}");
        assert_eq!(leased[0].lease_until, NOW + LEASE);
        assert_eq!((leased[0].issues, leased[0].attempts), (1, 1));
        assert!(
            store
                .claim_alerts(NOW + 1, LEASE, usize::MAX)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store.leased_alerts(NOW + LEASE).await.unwrap().is_empty(),
            "the lease is over"
        );
        let again = store
            .claim_alerts(NOW + LEASE, LEASE, usize::MAX)
            .await
            .unwrap();
        store.alert_sent(&again[0], NOW + LEASE).await.unwrap();
        assert!(
            store
                .leased_alerts(NOW + LEASE + 1)
                .await
                .unwrap()
                .is_empty()
        );
    }

    /// A payload that failed can be replayed from the failed-events queue
    /// until the queue drops it, with other batches recorded meanwhile; its
    /// batch must still be known then, or its errors count twice.
    pub async fn a_batch_replayed_from_the_failed_events_queue_counts_once(store: &dyn Store) {
        let b = batch("b1", vec![delta("fp-a", 4, 1000)]);
        record(store, &b, NOW).await;
        let day = 24 * 3_600_000;
        let later = batch("b2", vec![delta("fp-b", 1, 2000)]);
        record(store, &later, NOW + 10 * day).await;
        let replay_at = NOW + FAILED_EVENTS_RETENTION_MS + 6 * 3_600_000;
        let replayed = record(store, &b, replay_at).await;
        assert!(replayed.duplicate, "replayed on day 14");
        let a = store.issue(&id_of("fp-a")).await.unwrap().unwrap();
        assert_eq!(a.issue.count, 4);
    }

    pub async fn later_batches_add_to_counts_and_widen_seen_times(store: &dyn Store) {
        record(store, &batch("b1", vec![delta("fp-a", 4, 5000)]), NOW).await;
        let r = record(store, &batch("b2", vec![delta("fp-a", 3, 1000)]), NOW + 1).await;
        assert!(r.new_issues.is_empty());
        record(store, &batch("b3", vec![delta("fp-a", 2, 9000)]), NOW + 2).await;
        let a = store.issue(&id_of("fp-a")).await.unwrap().unwrap().issue;
        assert_eq!(a.count, 9);
        assert_eq!(a.first_seen, 1000);
        assert_eq!(a.last_seen, 9010);
    }

    pub async fn each_new_issue_queues_one_alert_until_sent(store: &dyn Store) {
        let b = batch("b1", vec![delta("fp-a", 1, 1000), delta("fp-b", 2, 1000)]);
        record(store, &b, NOW).await;
        record(store, &batch("b2", vec![delta("fp-a", 1, 2000)]), NOW).await;
        let alerts = store.claim_alerts(NOW, LEASE, usize::MAX).await.unwrap();
        assert_eq!(
            alerts.len(),
            2,
            "one alert per new issue below the digest size"
        );
        let mut ids: Vec<_> = alerts.iter().map(|a| a.issues[0].id.clone()).collect();
        ids.sort();
        let mut expected = vec![id_of("fp-a"), id_of("fp-b")];
        expected.sort();
        assert_eq!(ids, expected);
        for alert in &alerts {
            assert_eq!(alert.event_type, EventType::NewIssue);
            assert_eq!(alert.log_group, "/aws/lambda/f");
            assert_eq!(alert.issues.len(), 1);
            assert!(alert.issues[0].sample.is_some());
        }

        // Leased: nobody else gets them while the lease runs.
        assert!(
            store
                .claim_alerts(NOW + 1, LEASE, usize::MAX)
                .await
                .unwrap()
                .is_empty()
        );
        // Not sent before the lease ran out: handed out again.
        let again = store
            .claim_alerts(NOW + LEASE + 1, LEASE, usize::MAX)
            .await
            .unwrap();
        assert_eq!(again.len(), 2);
        store.alert_sent(&again[0], NOW + LEASE + 2).await.unwrap();
        let last = store
            .claim_alerts(NOW + 3 * LEASE, LEASE, usize::MAX)
            .await
            .unwrap();
        assert_eq!(last.len(), 1, "a sent alert is never handed out again");
        assert_eq!(last[0].id, again[1].id);
    }

    /// A flush claims at most its limit, oldest first; the rest wait
    /// unleased for the next flush, and every alert goes out exactly once.
    pub async fn claims_past_the_limit_wait_for_the_next_flush(store: &dyn Store) {
        for (i, fp) in ["fp-a", "fp-b", "fp-c"].iter().enumerate() {
            let b = batch(&format!("b{i}"), vec![delta(fp, 1, 1000)]);
            record(store, &b, NOW + i as i64).await;
        }
        let ids = |alerts: &[Alert]| -> Vec<String> {
            alerts.iter().map(|a| a.issues[0].id.clone()).collect()
        };
        let first = store.claim_alerts(NOW + 10, LEASE, 2).await.unwrap();
        assert_eq!(
            ids(&first),
            [id_of("fp-a"), id_of("fp-b")],
            "the oldest two"
        );
        let next = store.claim_alerts(NOW + 11, LEASE, 2).await.unwrap();
        assert_eq!(
            ids(&next),
            [id_of("fp-c")],
            "left unleased for the next flush"
        );
        assert!(
            store
                .claim_alerts(NOW + 12, LEASE, 2)
                .await
                .unwrap()
                .is_empty(),
            "each is leased once"
        );
        for alert in first.iter().chain(&next) {
            store.alert_sent(alert, NOW + 13).await.unwrap();
        }
        assert!(
            store
                .claim_alerts(NOW + 3 * LEASE, LEASE, usize::MAX)
                .await
                .unwrap()
                .is_empty(),
            "sent ones never come back"
        );
    }

    pub async fn an_alert_claimed_and_never_sent_comes_back_when_its_lease_ends(store: &dyn Store) {
        // Claimed by a flush that died before sending, past the few seconds
        // in which a write may still land before older alerts (DynamoDB
        // then lets later flushes jump past the leased head of the queue).
        for (i, fp) in ["fp-a", "fp-b", "fp-c"].iter().enumerate() {
            let b = batch(&format!("b{i}"), vec![delta(fp, 1, 1000)]);
            record(store, &b, NOW + i as i64).await;
        }
        let ids = |alerts: &[Alert]| -> Vec<String> {
            alerts.iter().map(|a| a.issues[0].id.clone()).collect()
        };
        let t = NOW + MINUTE;
        let died = store.claim_alerts(t, LEASE, 2).await.unwrap();
        assert_eq!(ids(&died), [id_of("fp-a"), id_of("fp-b")]);
        let next = store.claim_alerts(t + 1, LEASE, 2).await.unwrap();
        assert_eq!(ids(&next), [id_of("fp-c")], "past the leased ones");
        store.alert_sent(&next[0], t + 2).await.unwrap();
        let again = store.claim_alerts(t + LEASE + 1, LEASE, 2).await.unwrap();
        assert_eq!(
            ids(&again),
            [id_of("fp-a"), id_of("fp-b")],
            "their lease ended: claimed again, oldest first"
        );
    }

    pub async fn many_new_issues_in_one_batch_make_one_digest(store: &dyn Store) {
        let deltas = (0..5).map(|i| delta(&format!("fp-{i}"), 1, 1000)).collect();
        let r = record(store, &batch("b1", deltas), NOW).await;
        assert_eq!(r.new_issues.len(), 5);
        assert_eq!(r.alerts, 1);
        let alerts = drain(store, NOW).await;
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].event_type, EventType::NewIssue);
        assert_eq!(alerts[0].issues.len(), 5);
        assert_eq!(alerts[0].issue_ids().split(',').count(), 5);
    }

    pub async fn a_digest_is_queued_cut_to_what_a_message_shows(store: &dyn Store) {
        let issues = 100;
        let deltas = (0..issues)
            .map(|i| {
                let mut d = delta(&format!("fp-{i}"), 1, 1000);
                d.samples[0].message = "x".repeat(4000);
                d
            })
            .collect();
        record(store, &batch("b1", deltas), NOW).await;
        let alerts = drain(store, NOW).await;
        assert_eq!(alerts.len(), 1);
        let digest = &alerts[0];
        assert_eq!(digest.issues.len(), issues, "every issue listed");
        let size = serde_json::to_string(digest).unwrap().len();
        assert!(size <= MAX_ALERT_BYTES, "{size} bytes queued");
        let detailed = digest.issues.iter().filter(|i| i.sample.is_some()).count();
        assert_eq!(
            detailed, DETAILED_ALERT_ISSUES,
            "samples only for those a message details"
        );
    }

    pub async fn a_resolved_issue_that_recurs_regresses(store: &dyn Store) {
        record(store, &batch("b1", vec![delta("fp-a", 1, 1000)]), NOW).await;
        drain(store, NOW).await;
        let id = id_of("fp-a");
        let resolved = store
            .set_status(&id, &StatusChange::Resolved { in_version: None })
            .await
            .unwrap();
        assert_eq!(resolved.status, Status::Resolved);
        assert!(store.issues(StatusFilter::Open).await.unwrap().is_empty());

        let r = record(store, &batch("b2", vec![delta("fp-a", 2, 5000)]), NOW + 100).await;
        assert_eq!(r.regressions, vec![id.clone()]);
        let issue = store.issue(&id).await.unwrap().unwrap().issue;
        assert_eq!(issue.status, Status::Open);
        assert_eq!(issue.regressed_at, Some(NOW + 100));
        assert_eq!(issue.count, 3);
        let alerts = store
            .claim_alerts(NOW + 200, LEASE, usize::MAX)
            .await
            .unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].event_type, EventType::Regression);
        assert_eq!(alerts[0].issues[0].id, id);
    }

    pub async fn resolved_in_a_version_ignores_older_versions(store: &dyn Store) {
        let mut first = delta("fp-a", 1, 1000);
        first.versions = vec!["11".into()];
        record(store, &batch("b1", vec![first.clone()]), NOW).await;
        drain(store, NOW).await;
        let id = id_of("fp-a");
        let issue = store
            .set_status(
                &id,
                &StatusChange::Resolved {
                    in_version: Some("12".into()),
                },
            )
            .await
            .unwrap();
        assert_eq!(issue.resolved_in.as_deref(), Some("12"));

        let r = record(store, &batch("b2", vec![first.clone()]), NOW + 1).await;
        assert!(
            r.regressions.is_empty(),
            "version 11 still runs during the deploy"
        );
        assert_eq!(
            store.issue(&id).await.unwrap().unwrap().issue.status,
            Status::Resolved
        );
        let mut fixed_version = first;
        fixed_version.versions = vec!["12".into()];
        let r = record(store, &batch("b3", vec![fixed_version]), NOW + 2).await;
        assert_eq!(r.regressions, vec![id.clone()]);
        let issue = store.issue(&id).await.unwrap().unwrap().issue;
        assert_eq!(issue.status, Status::Open);
        assert_eq!(issue.count, 3);
    }

    pub async fn an_ignored_issue_counts_but_never_alerts(store: &dyn Store) {
        record(store, &batch("b1", vec![delta("fp-a", 1, 1000)]), NOW).await;
        drain(store, NOW).await;
        let id = id_of("fp-a");
        let ignore = StatusChange::Ignored {
            until: None,
            for_count: None,
        };
        store.set_status(&id, &ignore).await.unwrap();
        record(store, &batch("b2", vec![delta("fp-a", 5, 2000)]), NOW).await;
        let issue = store.issue(&id).await.unwrap().unwrap().issue;
        assert_eq!(issue.status, Status::Ignored);
        assert_eq!(issue.count, 6);
        assert!(
            store
                .claim_alerts(NOW + 1, LEASE, usize::MAX)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.issues(StatusFilter::Ignored).await.unwrap().len(), 1);
        assert!(store.issues(StatusFilter::Open).await.unwrap().is_empty());
        let reopened = store.set_status(&id, &StatusChange::Open).await.unwrap();
        assert_eq!(reopened.status, Status::Open);
    }

    pub async fn an_ignore_for_n_occurrences_lapses(store: &dyn Store) {
        record(store, &batch("b1", vec![delta("fp-a", 2, 1000)]), NOW).await;
        let id = id_of("fp-a");
        let ignore = StatusChange::Ignored {
            until: None,
            for_count: Some(3),
        };
        let issue = store.set_status(&id, &ignore).await.unwrap();
        assert_eq!(issue.ignored_until_count, Some(5));
        record(store, &batch("b2", vec![delta("fp-a", 2, 2000)]), NOW).await;
        assert_eq!(
            store.issue(&id).await.unwrap().unwrap().issue.status,
            Status::Ignored
        );
        record(store, &batch("b3", vec![delta("fp-a", 1, 3000)]), NOW).await;
        assert_eq!(
            store.issue(&id).await.unwrap().unwrap().issue.status,
            Status::Open
        );
    }

    pub async fn a_threshold_alerts_once(store: &dyn Store) {
        let policy = Policy {
            threshold: Some(Threshold {
                count: 10,
                window_hours: 1,
            }),
            ..Policy::default()
        };
        let hour = 1_763_899_200_000;
        store
            .record(&batch("b1", vec![delta("fp-a", 4, hour)]), NOW, &policy)
            .await
            .unwrap();
        drain(store, NOW).await;
        let later = NOW + 2 * 3_600_000;
        let r = store
            .record(
                &batch("b2", vec![delta("fp-a", 5, hour + 60_000)]),
                later,
                &policy,
            )
            .await
            .unwrap();
        assert_eq!(r.alerts, 0, "9 in the hour");
        let r = store
            .record(
                &batch("b3", vec![delta("fp-a", 1, hour + 120_000)]),
                later,
                &policy,
            )
            .await
            .unwrap();
        assert_eq!(r.alerts, 1, "10 in the hour");
        let alerts = drain(store, later).await;
        assert_eq!(alerts[0].event_type, EventType::Threshold);
        let r = store
            .record(
                &batch("b4", vec![delta("fp-a", 30, hour + 180_000)]),
                later + 1,
                &policy,
            )
            .await
            .unwrap();
        assert_eq!(r.alerts, 0, "once");
    }

    pub async fn hours_and_facets_accumulate(store: &dyn Store) {
        let hour = 1_763_899_200_000;
        let mut d = delta("fp-a", 3, hour);
        d.facets.push(request("r-1", 2));
        d.facets.push(request("r-2", 1));
        record(store, &batch("b1", vec![d]), NOW).await;
        let mut d = delta("fp-a", 2, hour + 3_600_000);
        d.facets.push(request("r-1", 2));
        d.facets.push(request("r-0", 4));
        record(store, &batch("b2", vec![d]), NOW).await;
        let detail = store.issue(&id_of("fp-a")).await.unwrap().unwrap();
        assert_eq!(
            detail.hours,
            vec![
                HourCount { hour, count: 3 },
                HourCount {
                    hour: hour + 3_600_000,
                    count: 2
                }
            ]
        );
        let since = store.hours(&id_of("fp-a"), hour + 1).await.unwrap();
        assert_eq!(
            since,
            vec![HourCount {
                hour: hour + 3_600_000,
                count: 2
            }]
        );
        let requests = detail
            .facets
            .iter()
            .find(|f| f.name == "request_id")
            .unwrap();
        assert_eq!(requests.distinct, 3);
        assert!(!requests.capped);
        // Most frequent first, ties by value.
        assert_eq!(
            requests.top,
            vec![
                ("r-0".to_string(), 4),
                ("r-1".to_string(), 4),
                ("r-2".to_string(), 1)
            ]
        );
        let streams = detail
            .facets
            .iter()
            .find(|f| f.name == "log_stream")
            .unwrap();
        assert_eq!(streams.top, vec![("s".to_string(), 5)]);
    }

    pub async fn facets_stay_bounded(store: &dyn Store) {
        for chunk in 0..3 {
            let mut d = delta("fp-a", 1, 1000);
            d.facets = (0..(MAX_FACET_VALUES / 2 + 5))
                .map(|i| FacetCount {
                    name: "request_id".into(),
                    value: format!("r-{chunk}-{i}"),
                    count: 1,
                })
                .collect();
            record(store, &batch(&format!("b{chunk}"), vec![d]), NOW).await;
        }
        let detail = store.issue(&id_of("fp-a")).await.unwrap().unwrap();
        let requests = detail
            .facets
            .iter()
            .find(|f| f.name == "request_id")
            .unwrap();
        assert_eq!(requests.distinct as usize, MAX_FACET_VALUES);
        assert!(requests.capped);
    }

    /// An issue keeps a sample per batch while it has fewer than
    /// MAX_SAMPLES, then replaces its oldest with a batch's newest only a
    /// few times an hour; reads show them newest first.
    pub async fn samples_keep_the_newest_a_few_an_hour(store: &dyn Store) {
        let kept = |detail: &faultline::model::IssueDetail| -> Vec<i64> {
            detail.samples.iter().map(|s| s.timestamp).collect()
        };
        let full = MAX_SAMPLES as i64;
        for i in 0..full + 4 {
            let b = batch(&format!("b{i}"), vec![delta("fp-a", 3, 1000 * i)]);
            record(store, &b, NOW + i).await;
        }
        let detail = store.issue(&id_of("fp-a")).await.unwrap().unwrap();
        let first: Vec<i64> = (0..full).rev().map(|i| 1000 * i + 2).collect();
        assert_eq!(
            kept(&detail),
            first,
            "each batch's newest, until full; then none too soon"
        );
        assert_eq!(
            detail.samples[0].fields,
            vec![("requestId".into(), "r-1".into())]
        );

        let later = 1000 * (full - 1) + 2 + SAMPLE_INTERVAL_MS;
        let b = batch("later", vec![delta("fp-a", 1, later)]);
        record(store, &b, NOW + 100).await;
        let replayed = batch("replayed", vec![delta("fp-a", 1, 1)]);
        record(store, &replayed, NOW + 101).await;
        let detail = store.issue(&id_of("fp-a")).await.unwrap().unwrap();
        let mut then = vec![later];
        then.extend(first[..first.len() - 1].iter().copied());
        assert_eq!(
            kept(&detail),
            then,
            "the oldest went; an old batch replaces nothing"
        );
    }

    // ---- Listing -------------------------------------------------------------

    const HOUR: i64 = 3_600_000;
    /// The start of an hour, with a day of hours before it for trends.
    const T0: i64 = 1_763_899_200_000;

    /// A delta of another kind and title, in whichever hours `counts` says
    /// (hour offset from `T0`, count).
    fn shaped(fingerprint: &str, kind: &str, counts: &[(i64, u64)]) -> IssueDelta {
        let first = counts.iter().map(|c| c.0).min().unwrap_or(0);
        let last = counts.iter().map(|c| c.0).max().unwrap_or(0);
        let total = counts.iter().map(|c| c.1).sum();
        let mut d = delta(fingerprint, total, T0 + first * HOUR);
        d.kind = kind.to_string();
        d.title = format!("{kind}: {fingerprint} failed");
        d.last_seen = T0 + last * HOUR + 10;
        d.hours = counts
            .iter()
            .map(|&(h, count)| HourCount {
                hour: T0 + h * HOUR,
                count,
            })
            .collect();
        d.facets[0].count = total;
        d
    }

    fn in_group(group: &str, id: &str, issues: Vec<IssueDelta>) -> BatchSummary {
        BatchSummary {
            log_group: group.to_string(),
            ..batch(id, issues)
        }
    }

    fn query() -> IssueQuery {
        IssueQuery::status(StatusFilter::All)
    }

    async fn listed(store: &dyn Store, query: &IssueQuery) -> Vec<String> {
        store
            .list(query)
            .await
            .unwrap()
            .issues
            .into_iter()
            .map(|l| l.issue.fingerprint)
            .collect()
    }

    /// Four issues in two log groups, of two kinds, one resolved.
    async fn four_issues(store: &dyn Store) {
        let orders = vec![
            shaped("fp-timeout", "TimeoutError", &[(-30, 50), (0, 2)]),
            shaped("fp-key", "KeyError", &[(-1, 1), (0, 9)]),
        ];
        record(store, &in_group("/aws/lambda/orders", "b1", orders), NOW).await;
        let mut billing = shaped("fp-billing", "KeyError", &[(-45, 7)]);
        billing.facets.push(FacetCount {
            name: "environment".into(),
            value: "prod".into(),
            count: 7,
        });
        let mut staging = shaped("fp-staging", "ValueError", &[(-3, 4)]);
        staging.facets.push(FacetCount {
            name: "environment".into(),
            value: "staging".into(),
            count: 4,
        });
        record(
            store,
            &in_group("/aws/batch/billing", "b2", vec![billing, staging]),
            NOW,
        )
        .await;
        store
            .set_status(
                &id_of("fp-staging"),
                &StatusChange::Resolved { in_version: None },
            )
            .await
            .unwrap();
    }

    pub async fn listing_filters_by_status_log_group_kind_and_text(store: &dyn Store) {
        four_issues(store).await;
        assert_eq!(
            listed(store, &query()).await,
            ["fp-key", "fp-timeout", "fp-staging", "fp-billing"],
            "most recently seen first"
        );
        let open = IssueQuery::status(StatusFilter::Open);
        assert_eq!(store.list(&open).await.unwrap().total, 3);
        let resolved = IssueQuery::status(StatusFilter::Resolved);
        assert_eq!(listed(store, &resolved).await, ["fp-staging"]);
        let group = IssueQuery {
            log_group: Some("/aws/batch/billing".into()),
            ..query()
        };
        assert_eq!(listed(store, &group).await, ["fp-staging", "fp-billing"]);
        let kind = IssueQuery {
            kind: Some("KeyError".into()),
            ..query()
        };
        assert_eq!(listed(store, &kind).await, ["fp-key", "fp-billing"]);
        let text = IssueQuery {
            text: Some("BILLING fail".into()),
            ..query()
        };
        assert_eq!(listed(store, &text).await, ["fp-billing"], "any case");
        let by_kind_text = IssueQuery {
            text: Some("timeouterr".into()),
            ..open.clone()
        };
        assert_eq!(listed(store, &by_kind_text).await, ["fp-timeout"]);
        let none = IssueQuery {
            kind: Some("KeyError".into()),
            log_group: Some("/aws/batch/billing".into()),
            status: StatusFilter::Resolved,
            ..query()
        };
        let page = store.list(&none).await.unwrap();
        assert!(page.issues.is_empty());
        assert_eq!(page.total, 0);
    }

    pub async fn listing_filters_by_time_range(store: &dyn Store) {
        four_issues(store).await;
        let since = IssueQuery {
            since: Some(T0 - 3 * HOUR),
            ..query()
        };
        assert_eq!(
            listed(store, &since).await,
            ["fp-key", "fp-timeout", "fp-staging"],
            "seen in the last three hours"
        );
        let until = IssueQuery {
            until: Some(T0 - 31 * HOUR),
            ..query()
        };
        assert_eq!(
            listed(store, &until).await,
            ["fp-billing"],
            "already seen 31 hours ago"
        );
        let window = IssueQuery {
            since: Some(T0 - 40 * HOUR),
            until: Some(T0 - 2 * HOUR),
            ..query()
        };
        assert_eq!(
            listed(store, &window).await,
            ["fp-timeout", "fp-staging"],
            "seen at some time within the range (fp-key only after it)"
        );
    }

    pub async fn listing_filters_by_context_field_values(store: &dyn Store) {
        four_issues(store).await;
        let prod = IssueQuery {
            fields: vec![("environment".into(), "prod".into())],
            ..query()
        };
        assert_eq!(listed(store, &prod).await, ["fp-billing"]);
        let both = IssueQuery {
            fields: vec![
                ("environment".into(), "staging".into()),
                ("log_stream".into(), "s".into()),
            ],
            ..query()
        };
        assert_eq!(listed(store, &both).await, ["fp-staging"]);
        let stream = IssueQuery {
            fields: vec![("log_stream".into(), "s".into())],
            kind: Some("KeyError".into()),
            ..query()
        };
        assert_eq!(listed(store, &stream).await, ["fp-key", "fp-billing"]);
        let unknown = IssueQuery {
            fields: vec![("environment".into(), "dev".into())],
            ..query()
        };
        assert_eq!(store.list(&unknown).await.unwrap().total, 0);
    }

    pub async fn listing_sorts_by_count_last_first_and_trend(store: &dyn Store) {
        four_issues(store).await;
        let sorted = |sort| IssueQuery { sort, ..query() };
        assert_eq!(
            listed(store, &sorted(IssueSort::Count)).await,
            ["fp-timeout", "fp-key", "fp-billing", "fp-staging"]
        );
        assert_eq!(
            listed(store, &sorted(IssueSort::Last)).await,
            ["fp-key", "fp-timeout", "fp-staging", "fp-billing"]
        );
        assert_eq!(
            listed(store, &sorted(IssueSort::First)).await,
            ["fp-key", "fp-staging", "fp-timeout", "fp-billing"]
        );
        // As of T0's hour: fp-key 10 in the last day (0 before), fp-staging
        // 4 (0), fp-timeout 2 (50 the day before), fp-billing 0 (7).
        let trend = store.list(&sorted(IssueSort::Trend)).await.unwrap();
        let order: Vec<_> = trend
            .issues
            .iter()
            .map(|l| (l.issue.fingerprint.as_str(), l.last_day, l.day_before))
            .collect();
        assert_eq!(
            order,
            [
                ("fp-key", 10, 0),
                ("fp-staging", 4, 0),
                ("fp-billing", 0, 7),
                ("fp-timeout", 2, 50)
            ]
        );
    }

    pub async fn listing_pages_through_the_order_and_counts_the_total(store: &dyn Store) {
        four_issues(store).await;
        let page = |offset, limit| IssueQuery {
            sort: IssueSort::Count,
            offset,
            limit: Some(limit),
            ..query()
        };
        let first = store.list(&page(0, 3)).await.unwrap();
        assert_eq!(first.total, 4);
        assert_eq!(first.issues.len(), 3);
        assert_eq!(
            listed(store, &page(2, 3)).await,
            ["fp-billing", "fp-staging"]
        );
        let past = store.list(&page(4, 3)).await.unwrap();
        assert!(past.issues.is_empty());
        assert_eq!(past.total, 4);
    }

    pub async fn listed_issues_carry_their_last_day_by_hour(store: &dyn Store) {
        four_issues(store).await;
        let page = store.list(&query()).await.unwrap();
        assert_eq!(page.at_hour, T0, "by default the newest occurrence's hour");
        let key = &page.issues[0];
        assert_eq!(key.issue.fingerprint, "fp-key");
        assert_eq!(key.issue.count, 10);
        assert_eq!(key.hourly.len(), LISTING_HOURS);
        let mut expected = vec![0; LISTING_HOURS];
        expected[LISTING_HOURS - 1] = 9;
        expected[LISTING_HOURS - 2] = 1;
        assert_eq!(key.hourly, expected);
        let earlier = IssueQuery {
            at: Some(T0 - HOUR + 5),
            ..query()
        };
        let page = store.list(&earlier).await.unwrap();
        assert_eq!(page.at_hour, T0 - HOUR);
        let key = page
            .issues
            .iter()
            .find(|l| l.issue.fingerprint == "fp-key")
            .unwrap();
        assert_eq!(
            key.hourly[LISTING_HOURS - 1],
            1,
            "the hour ends the sparkline"
        );
        assert_eq!(key.last_day, 1);
    }

    // ---- Runs ----------------------------------------------------------------

    const MINUTE: i64 = 60_000;

    /// A run delta of the state machine `nightly`: `issues` are
    /// (fingerprint, count, recovered).
    pub fn run(name: &str, issues: &[(&str, u64, u64)]) -> RunDelta {
        let mut d = RunDelta::new(
            format!("sfn:arn:aws:states:eu-west-1:1:execution:nightly:{name}"),
            RunSource::StepFunctions,
            "nightly".into(),
            name.into(),
        );
        d.log_group = "/aws/lambda/f".into();
        d.errors = issues.iter().map(|i| i.1).sum();
        d.recovered = issues.iter().map(|i| i.2).sum();
        d.issues = issues
            .iter()
            .map(|(fp, count, recovered)| RunIssueDelta {
                fingerprint: fp.to_string(),
                count: *count,
                recovered: *recovered,
            })
            .collect();
        d
    }

    fn ended(mut d: RunDelta, started: i64, outcome: Outcome) -> RunDelta {
        d.started = Some(started);
        d.ended = Some((started + MINUTE, outcome));
        d.last_event = Some(started + MINUTE);
        d
    }

    /// A batch of the log events of run `d`, with its issues.
    pub fn run_batch(id: &str, d: RunDelta, t: i64) -> BatchSummary {
        let issues = d
            .issues
            .iter()
            .map(|i| delta(&i.fingerprint, i.count, t))
            .collect();
        BatchSummary {
            runs: vec![d],
            ..batch(id, issues)
        }
    }

    async fn runs_of(store: &dyn Store) -> Vec<faultline::model::Run> {
        store.runs(&RunFilter::default()).await.unwrap()
    }

    pub async fn a_run_is_recorded_once_however_often_its_batches_arrive(store: &dyn Store) {
        let b = run_batch("b1", run("r1", &[("fp-a", 3, 1), ("fp-b", 1, 0)]), 1000);
        for _ in 0..3 {
            record(store, &b, NOW).await;
        }
        let runs = runs_of(store).await;
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!((r.errors, r.recovered), (4, 1));
        assert_eq!(r.outcome, Outcome::Running);
        assert_eq!(r.id, faultline::model::run_id(&r.key));
        assert_eq!(r.issues.len(), 2);
        let a = r.issues.iter().find(|i| i.id == id_of("fp-a")).unwrap();
        assert_eq!((a.count, a.recovered, a.new), (3, 1, true));
        assert_eq!(store.run(&r.id).await.unwrap().as_ref(), Some(r));
    }

    pub async fn a_runs_hot_issue_adds_up_over_its_batches(store: &dyn Store) {
        // One issue in batch after batch of one run (DynamoDB keeps what
        // later batches add in the run item, not in the issue's link),
        // one batch delivered again, two at once, three recorded together
        // with one of them twice in the call, and another issue joining.
        let p = policy();
        let hot = |id: &str, t: i64| run_batch(id, run("r1", &[("fp-a", 2, 1)]), t);
        for i in 0..3 {
            record(store, &hot(&format!("b{i}"), 1000 + i), NOW).await;
        }
        record(store, &hot("b1", 1001), NOW).await;
        let (c0, c1) = (hot("c0", 2000), hot("c1", 2001));
        let (x, y) = tokio::join!(store.record(&c0, NOW, &p), store.record(&c1, NOW, &p));
        assert!(!x.unwrap().duplicate && !y.unwrap().duplicate);
        let together = [hot("d0", 3000), hot("d1", 3001), hot("d0", 3000)];
        store.record_all(&together, NOW, &p).await.unwrap();
        let joined = run_batch("e0", run("r1", &[("fp-a", 1, 0), ("fp-b", 3, 0)]), 4000);
        record(store, &joined, NOW).await;

        let runs = runs_of(store).await;
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!((r.errors, r.recovered), (2 * 7 + 4, 7));
        let count = |r: &faultline::model::Run, fp: &str| {
            let i = r.issues.iter().find(|i| i.id == id_of(fp)).unwrap();
            (i.count, i.recovered, i.new)
        };
        assert_eq!(count(r, "fp-a"), (15, 7, true));
        assert_eq!(count(r, "fp-b"), (3, 0, true));
        assert_eq!(store.run(&r.id).await.unwrap().as_ref(), Some(r));
        let appeared = store.issue_runs(&id_of("fp-a"), 10).await.unwrap();
        assert_eq!(appeared.as_slice(), std::slice::from_ref(r));

        // Many issues counted twice each: more than a run item holds beside
        // its other attributes in one KB on DynamoDB.
        let many: Vec<String> = (0..50).map(|i| format!("fp-m{i:02}")).collect();
        for (k, half) in many.chunks(25).enumerate() {
            for again in 0..2 {
                let issues: Vec<(&str, u64, u64)> =
                    half.iter().map(|fp| (fp.as_str(), 1, 0)).collect();
                let id = format!("m{k}-{again}");
                record(store, &run_batch(&id, run("r1", &issues), 5000), NOW).await;
            }
        }
        let end = ended(run("r1", &[("fp-a", 1, 0)]), 500, Outcome::Failed);
        record(store, &run_batch("end", end, 6000), NOW).await;
        assert_eq!(
            store.settle_runs(NOW, 0, &p).await.unwrap().runs,
            vec![r.id.clone()]
        );
        let settled = store.run(&r.id).await.unwrap().unwrap();
        assert_eq!(settled.errors, 2 * 7 + 4 + 100 + 1);
        assert_eq!(count(&settled, "fp-a"), (16, 7, true));
        for fp in &many {
            assert_eq!(count(&settled, fp), (2, 0, true), "{fp}");
        }
    }

    async fn sample_times(store: &dyn Store, fingerprint: &str) -> Vec<i64> {
        let detail = store.issue(&id_of(fingerprint)).await.unwrap().unwrap();
        detail.samples.iter().map(|s| s.timestamp).collect()
    }

    pub async fn a_run_keeps_the_samples_of_the_batches_that_brought_its_issues(store: &dyn Store) {
        // Within a run, an issue keeps what the batch that brought it into
        // the run sampled: later batches of the run take none, however due
        // (on DynamoDB a sample would make such a batch cost 10 write units
        // instead of 8). Another run, and batches outside runs, sample as
        // ever; so does a batch too big for one write, and a task's logs
        // once the task is a part of a job's run.
        let t0 = 1_000;
        record(
            store,
            &run_batch("b0", run("r1", &[("fp-a", 1, 0)]), t0),
            NOW,
        )
        .await;
        assert_eq!(sample_times(store, "fp-a").await, vec![t0]);
        let t1 = t0 + 2 * SAMPLE_INTERVAL_MS;
        let again = run("r1", &[("fp-a", 1, 0), ("fp-b", 1, 0)]);
        record(store, &run_batch("b1", again, t1), NOW).await;
        assert_eq!(sample_times(store, "fp-a").await, vec![t0], "r1 had it");
        assert_eq!(sample_times(store, "fp-b").await, vec![t1], "new to r1");
        let t2 = t1 + 1;
        record(
            store,
            &run_batch("c0", run("r2", &[("fp-a", 1, 0)]), t2),
            NOW,
        )
        .await;
        let t3 = t2 + 1;
        record(store, &batch("d0", vec![delta("fp-a", 1, t3)]), NOW).await;
        assert_eq!(
            sample_times(store, "fp-a").await,
            vec![t3, t2, t0],
            "another run, and a batch of no run"
        );

        // More issues than one DynamoDB transaction takes.
        let many: Vec<String> = (0..40).map(|i| format!("fp-m{i:02}")).collect();
        let issues: Vec<(&str, u64, u64)> = many.iter().map(|fp| (fp.as_str(), 1, 0)).collect();
        let t4 = t3 + 1;
        record(store, &run_batch("e0", run("r1", &issues), t4), NOW).await;
        let t5 = t4 + 2 * SAMPLE_INTERVAL_MS;
        record(store, &run_batch("e1", run("r1", &issues), t5), NOW).await;
        for fp in [&many[0], &many[39]] {
            assert_eq!(sample_times(store, fp).await, vec![t4], "{fp}");
        }

        // A task's logs count in the job's run once a job event made the
        // task a part of it: that run had what the task's own run had.
        let task = "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a02";
        let attempt = task_attempt(task, "fp-p", 1);
        record(store, &run_batch("p0", attempt.clone(), t0), NOW).await;
        let job = job_naming("batch:job-2", "resize-2025-11-24", task, None);
        let event = BatchSummary {
            runs: vec![job],
            ..batch("p1", Vec::new())
        };
        record(store, &event, NOW).await;
        record(store, &run_batch("p2", attempt, t1), NOW).await;
        assert_eq!(
            sample_times(store, "fp-p").await,
            vec![t0],
            "the job's run had it"
        );
    }

    pub async fn concurrent_batches_of_one_run_add_up(store: &dyn Store) {
        // Each batch has an issue of its own, so the writers do not queue
        // behind each other on a shared issue before they meet on the run.
        let own = ["fp-0", "fp-1", "fp-2", "fp-3"];
        let batches: Vec<BatchSummary> = (0..4)
            .map(|i| {
                let issues = [(own[i], 2, 0)];
                run_batch(&format!("b{i}"), run("r1", &issues), 1000 + i as i64)
            })
            .collect();
        let p = policy();
        let (a, b, c, d) = tokio::join!(
            store.record(&batches[0], NOW, &p),
            store.record(&batches[1], NOW, &p),
            store.record(&batches[2], NOW, &p),
            store.record(&batches[3], NOW, &p),
        );
        for r in [a, b, c, d] {
            assert!(!r.unwrap().duplicate);
        }
        let runs = runs_of(store).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].errors, 8);
        assert_eq!(runs[0].issues.len(), 4, "{:?}", runs[0].issues);
        for fp in own {
            let appeared = store.issue_runs(&id_of(fp), 10).await.unwrap();
            assert_eq!(appeared.len(), 1, "{fp}");
        }
    }

    pub async fn an_ended_run_settles_once_with_one_digest(store: &dyn Store) {
        let b = run_batch(
            "b1",
            ended(run("r1", &[("fp-a", 2, 0)]), 1000, Outcome::Failed),
            1000,
        );
        record(store, &b, NOW).await;
        drain(store, NOW).await;
        let settle = 5 * MINUTE;
        assert!(
            store
                .settle_runs(NOW + MINUTE, settle, &policy())
                .await
                .unwrap()
                .runs
                .is_empty(),
            "its last logs may still be on their way"
        );
        let p = policy();
        let (x, y) = tokio::join!(
            store.settle_runs(NOW + settle, settle, &p),
            store.settle_runs(NOW + settle, settle, &p),
        );
        let settled = x.unwrap().runs.len() + y.unwrap().runs.len();
        assert_eq!(settled, 1, "one of two concurrent settlers settles it");
        assert!(
            store
                .settle_runs(NOW + 2 * settle, settle, &policy())
                .await
                .unwrap()
                .runs
                .is_empty()
        );
        let alerts = drain(store, NOW + 2 * settle).await;
        assert_eq!(alerts.len(), 1);
        let digest = alerts[0].run.as_ref().unwrap();
        assert_eq!(alerts[0].event_type, EventType::RunDigest);
        assert_eq!(digest.outcome, Outcome::Failed);
        assert_eq!((digest.errors, digest.name.as_str()), (2, "r1"));
        assert_eq!(digest.issues[0].id, id_of("fp-a"));
        assert!(digest.issues[0].new);
        assert_eq!(alerts[0].issues[0].title, "KeyError: fp-a");
        let r = &runs_of(store).await[0];
        assert_eq!(r.settled_at, Some(NOW + settle));
        // A replay of its batch after settling changes nothing.
        record(store, &b, NOW + 3 * settle).await;
        assert_eq!(runs_of(store).await[0].errors, 2);
    }

    pub async fn a_run_without_an_end_ends_when_quiet(store: &dyn Store) {
        let mut d = run("r1", &[("fp-a", 1, 0)]);
        d.last_event = Some(NOW);
        record(store, &run_batch("b1", d, NOW), NOW).await;
        let quiet = policy().run_quiet_minutes as i64 * MINUTE;
        assert!(
            store
                .settle_runs(NOW + quiet - 1, 0, &policy())
                .await
                .unwrap()
                .runs
                .is_empty()
        );
        assert_eq!(
            store
                .settle_runs(NOW + quiet, 0, &policy())
                .await
                .unwrap()
                .runs
                .len(),
            1
        );
        let r = &runs_of(store).await[0];
        assert_eq!((r.outcome, r.ended), (Outcome::Unknown, Some(NOW)));
    }

    pub async fn a_job_event_counts_once_however_often_it_arrives(store: &dyn Store) {
        // A batch without errors (a job event, a run's quiet log) and its
        // run: delivered again alone and twice at once.
        let mut d = ended(run("r1", &[]), 1000, Outcome::Failed);
        d.items = Some(120);
        d.failed_items = Some(3);
        let event = BatchSummary {
            runs: vec![d],
            ..batch("e1", Vec::new())
        };
        let p = policy();
        assert!(!record(store, &event, NOW).await.duplicate);
        assert!(record(store, &event, NOW).await.duplicate);
        let (x, y) = tokio::join!(store.record(&event, NOW, &p), store.record(&event, NOW, &p));
        assert!(x.unwrap().duplicate && y.unwrap().duplicate);
        let runs = runs_of(store).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].outcome, runs[0].items, runs[0].failed_items),
            (Outcome::Failed, Some(120), Some(3))
        );
        assert_eq!(store.settle_runs(NOW, 0, &p).await.unwrap().runs.len(), 1);
        assert!(store.settle_runs(NOW, 0, &p).await.unwrap().runs.is_empty());
    }

    pub async fn a_run_that_logs_on_is_not_settled_as_quiet(store: &dyn Store) {
        // DynamoDB does not move the run's unsettled entry with every batch:
        // the settling tick finds it looking due and checks the run itself.
        let quiet = policy().run_quiet_minutes as i64 * MINUTE;
        let p = policy();
        let logged = |k: i64| {
            let mut d = run("r1", &[("fp-a", 1, 0)]);
            d.last_event = Some(NOW + k * quiet);
            run_batch(&format!("b{k}"), d, NOW + k * quiet)
        };
        record(store, &logged(0), NOW).await;
        for k in 1..=2 {
            record(store, &logged(k), NOW).await;
            let tick = NOW + k * quiet + quiet / 2;
            assert!(
                store
                    .settle_runs(tick, 0, &p)
                    .await
                    .unwrap()
                    .runs
                    .is_empty(),
                "tick {k}"
            );
        }
        let last = NOW + 2 * quiet;
        let early = store
            .settle_runs(last + quiet - 1, 0, &p)
            .await
            .unwrap()
            .runs;
        assert!(early.is_empty());
        assert_eq!(
            store
                .settle_runs(last + quiet, 0, &p)
                .await
                .unwrap()
                .runs
                .len(),
            1
        );
        let r = &runs_of(store).await[0];
        assert_eq!(
            (r.outcome, r.ended, r.errors),
            (Outcome::Unknown, Some(last), 3)
        );
    }

    pub async fn a_succeeded_run_recovered_every_error(store: &dyn Store) {
        record(
            store,
            &run_batch("b1", run("r1", &[("fp-a", 3, 0)]), 1000),
            NOW,
        )
        .await;
        let mut end = run("r1", &[]);
        end.log_group = String::new();
        let end = ended(end, 900, Outcome::Succeeded);
        record(store, &run_batch("b2", end, 1000), NOW).await;
        record(
            store,
            &run_batch("b3", run("r1", &[("fp-a", 1, 0)]), 2000),
            NOW,
        )
        .await;
        let r = &runs_of(store).await[0];
        assert_eq!(
            (r.errors, r.recovered, r.outcome),
            (4, 4, Outcome::Succeeded)
        );
        assert_eq!((r.issues[0].count, r.issues[0].recovered), (4, 4));
    }

    pub async fn k_clean_runs_resolve_an_issue_that_then_regresses(store: &dyn Store) {
        let k = Policy {
            auto_resolve_after_runs: Some(2),
            ..policy()
        };
        let step = |i: i64| NOW + i * 10 * MINUTE;
        let record_run =
            |name: &'static str, issues: &'static [(&'static str, u64, u64)], i: i64| {
                let k = k.clone();
                async move {
                    let b = run_batch(
                        name,
                        ended(run(name, issues), 1000 + i * MINUTE * 2, Outcome::Failed),
                        1000,
                    );
                    store.record(&b, step(i), &k).await.unwrap();
                    store.settle_runs(step(i), 0, &k).await.unwrap();
                }
            };
        record_run("r1", &[("fp-a", 1, 0)], 1).await;
        record_run("r2", &[("fp-b", 1, 0)], 2).await;
        let status = |fp: &'static str| async move {
            store.issue(&id_of(fp)).await.unwrap().unwrap().issue.status
        };
        assert_eq!(status("fp-a").await, Status::Open, "one clean run");
        record_run("r3", &[("fp-b", 1, 0)], 3).await;
        assert_eq!(status("fp-a").await, Status::Resolved, "two clean runs");
        assert_eq!(status("fp-b").await, Status::Open);
        drain(store, step(4)).await;
        let back = run_batch("b-back", run("r4", &[("fp-a", 1, 0)]), 1000 + 8 * MINUTE);
        let recorded = store.record(&back, step(5), &k).await.unwrap();
        assert_eq!(recorded.regressions, vec![id_of("fp-a")]);
        let alerts = drain(store, step(5)).await;
        assert!(alerts.iter().any(|a| a.event_type == EventType::Regression));
        let r4 = runs_of(store)
            .await
            .into_iter()
            .find(|r| r.name == "r4")
            .unwrap();
        assert!(r4.issues[0].regressed);
    }

    pub async fn recovered_and_run_counted_alerts_are_held(store: &dyn Store) {
        record(
            store,
            &run_batch("b1", run("r1", &[("fp-a", 2, 2)]), 1000),
            NOW,
        )
        .await;
        assert!(
            drain(store, NOW).await.is_empty(),
            "a retry got past every occurrence"
        );
        record(
            store,
            &run_batch("b2", run("r1", &[("fp-a", 1, 0)]), 2000),
            NOW,
        )
        .await;
        let alerts = drain(store, NOW).await;
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].event_type, EventType::NewIssue);
        record(
            store,
            &run_batch("b3", run("r1", &[("fp-a", 1, 0)]), 3000),
            NOW,
        )
        .await;
        assert!(drain(store, NOW).await.is_empty(), "announced once");

        let twice = Policy {
            alert_after_runs: 2,
            run_digest: faultline::runs::lifecycle::DigestMode::Never,
            ..policy()
        };
        for (i, name) in ["s1", "s2", "s3"].iter().enumerate() {
            let i = i as i64;
            let b = run_batch(
                name,
                ended(
                    run(name, &[("fp-b", 1, 0)]),
                    10_000 + i * MINUTE * 2,
                    Outcome::Failed,
                ),
                1000,
            );
            store.record(&b, NOW + i, &twice).await.unwrap();
            store.settle_runs(NOW + i, 0, &twice).await.unwrap();
            let alerts = drain(store, NOW + i).await;
            let expected = usize::from(i == 1);
            assert_eq!(alerts.len(), expected, "run {name}: {alerts:?}");
        }
    }

    /// The new-issue alert a settlement releases, as a queued alert says
    /// it: every store tells the same of the issue, its newest sample
    /// included (the runs' batches an hour apart each keep one).
    pub async fn a_held_alert_released_at_settle(store: &dyn Store) -> faultline::model::Alert {
        let p = Policy {
            alert_after_runs: 2,
            run_digest: faultline::runs::lifecycle::DigestMode::Never,
            ..policy()
        };
        for (i, name) in ["h1", "h2"].iter().enumerate() {
            let i = i as i64;
            let d = ended(
                run(name, &[("fp-h", 3, 0)]),
                10_000 + i * MINUTE * 2,
                Outcome::Failed,
            );
            let t = 1000 + i * 3_600_000;
            store
                .record(&run_batch(name, d, t), NOW + i, &p)
                .await
                .unwrap();
            assert_eq!(
                store.settle_runs(NOW + i, 0, &p).await.unwrap().runs.len(),
                1
            );
        }
        let mut alerts = drain(store, NOW + 2).await;
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let alert = alerts.remove(0);
        assert_eq!(alert.event_type, EventType::NewIssue);
        let detail = store.issue(&id_of("fp-h")).await.unwrap().unwrap();
        let newest = detail.samples.iter().max_by_key(|s| s.timestamp).cloned();
        assert_eq!(
            newest.as_ref().map(|s| s.timestamp),
            Some(1000 + 3_600_000 + 2)
        );
        assert_eq!(alert.issues.len(), 1);
        assert_eq!(alert.issues[0].sample, newest, "the issue's newest sample");
        alert
    }

    pub async fn a_held_alert_released_at_settle_carries_the_newest_sample(store: &dyn Store) {
        a_held_alert_released_at_settle(store).await;
    }

    pub async fn a_run_with_many_issues_settles_once(store: &dyn Store) {
        // More held alerts and resolutions than one DynamoDB transaction
        // holds (100 actions), settled by two settlers at once.
        let p = Policy {
            alert_after_runs: 2,
            auto_resolve_after_runs: Some(1),
            run_digest: faultline::runs::lifecycle::DigestMode::Never,
            ..policy()
        };
        let fps: Vec<String> = (0..120).map(|i| format!("fp-{i:03}")).collect();
        let many: Vec<(&str, u64, u64)> = fps.iter().map(|f| (f.as_str(), 1, 0)).collect();
        let settle_twice = |t: i64| {
            let p = p.clone();
            async move {
                let (x, y) = tokio::join!(store.settle_runs(t, 0, &p), store.settle_runs(t, 0, &p));
                x.unwrap().runs.len() + y.unwrap().runs.len()
            }
        };
        for (i, name) in ["m1", "m2"].iter().enumerate() {
            let i = i as i64;
            let d = ended(run(name, &many), 10_000 + i * MINUTE * 2, Outcome::Failed);
            store
                .record(&run_batch(name, d, 1000), NOW + i, &p)
                .await
                .unwrap();
            assert_eq!(settle_twice(NOW + i).await, 1, "{name} settles once");
        }
        let alerts = drain(store, NOW + 2).await;
        // Past the bound on separate alerts, and past the first
        // transaction's room for clearing holds (DynamoDB clears the rest
        // in further ones): one alert, queued once, when the second run
        // settled.
        let [folded] = alerts.as_slice() else {
            panic!("one alert for the 120 announced issues: {alerts:?}");
        };
        assert_eq!(folded.event_type, EventType::NewIssue);
        let digest = folded.run.as_ref().expect("the alert names its run");
        assert_eq!(digest.name, "m2");
        assert_eq!(digest.issues.len() as u64 + digest.more_issues, 120);
        assert!(digest.issues.iter().all(|i| i.new));
        let listed: Vec<String> = folded.issues.iter().map(|i| i.id.clone()).collect();
        let expected: Vec<String> = fps.iter().map(|f| id_of(f)).collect();
        assert!(listed.iter().all(|id| expected.contains(id)), "{listed:?}");
        assert!(
            folded.issues[..DETAILED_ALERT_ISSUES]
                .iter()
                .all(|i| i.sample.is_some()),
            "the issues a message details carry their samples"
        );
        // An issue whose hold a chunk left would be announced by its next
        // occurrence outside a run.
        let again = batch("later", fps.iter().map(|f| delta(f, 1, 5000)).collect());
        record(store, &again, NOW + 2).await;
        assert!(
            drain(store, NOW + 2).await.is_empty(),
            "no issue is left held"
        );

        // A run of the job without them resolves all of them.
        let clean = ended(
            run("m3", &[("fp-x", 1, 0)]),
            10_000 + 4 * MINUTE,
            Outcome::Failed,
        );
        store
            .record(&run_batch("m3", clean, 1000), NOW + 3, &p)
            .await
            .unwrap();
        assert_eq!(settle_twice(NOW + 3).await, 1);
        let resolved = store.issues(StatusFilter::Resolved).await.unwrap();
        assert_eq!(resolved.len(), 120);
        let open = store.issues(StatusFilter::Open).await.unwrap();
        assert_eq!(open.len(), 1);
        assert!(drain(store, NOW + 4).await.is_empty(), "nothing sent twice");
        assert!(
            store
                .settle_runs(NOW + 5, 0, &p)
                .await
                .unwrap()
                .runs
                .is_empty()
        );
    }

    /// Runs `r1` and `r2` of `fps`, each settled, under `alert_after_runs
    /// = 2`: what the second settlement queued.
    async fn announced_by_a_second_run(store: &dyn Store, fps: &[String]) -> Vec<Alert> {
        let p = Policy {
            alert_after_runs: 2,
            run_digest: faultline::runs::lifecycle::DigestMode::Never,
            ..policy()
        };
        let issues: Vec<(&str, u64, u64)> = fps.iter().map(|f| (f.as_str(), 1, 0)).collect();
        for (i, name) in ["r1", "r2"].iter().enumerate() {
            let i = i as i64;
            let d = ended(run(name, &issues), 10_000 + i * MINUTE * 2, Outcome::Failed);
            store
                .record(&run_batch(name, d, 1000), NOW + i, &p)
                .await
                .unwrap();
            assert_eq!(
                store.settle_runs(NOW + i, 0, &p).await.unwrap().runs.len(),
                1
            );
        }
        drain(store, NOW + 2).await
    }

    pub async fn a_settlement_announcing_past_the_bound_sends_one_alert(store: &dyn Store) {
        let fps: Vec<String> = (0..=MAX_SEPARATE_NEW_ISSUE_ALERTS)
            .map(|i| format!("fp-{i:03}"))
            .collect();
        let alerts = announced_by_a_second_run(store, &fps).await;
        let [folded] = alerts.as_slice() else {
            panic!("one alert for {} announced issues: {alerts:?}", fps.len());
        };
        assert_eq!(folded.event_type, EventType::NewIssue);
        let digest = folded.run.as_ref().expect("the alert names its run");
        assert_eq!(digest.name, "r2");
        assert_eq!(
            digest.held_for_runs,
            Some(2),
            "renderers say the issues were held for alert_after_runs"
        );
        assert_eq!(
            digest.issues.len() as u64 + digest.more_issues,
            fps.len() as u64
        );
        let mut listed: Vec<String> = folded.issues.iter().map(|i| i.id.clone()).collect();
        listed.sort();
        let mut expected: Vec<String> = fps.iter().map(|f| id_of(f)).collect();
        expected.sort();
        assert_eq!(listed, expected);
        // An issue still held would be announced by its next occurrence
        // outside a run.
        let again = batch("later", fps.iter().map(|f| delta(f, 1, 5000)).collect());
        record(store, &again, NOW + 3).await;
        assert!(
            drain(store, NOW + 3).await.is_empty(),
            "no issue is left held"
        );
    }

    pub async fn a_settlement_announcing_up_to_the_bound_sends_an_alert_each(store: &dyn Store) {
        let fps: Vec<String> = (0..MAX_SEPARATE_NEW_ISSUE_ALERTS)
            .map(|i| format!("fp-{i:03}"))
            .collect();
        let alerts = announced_by_a_second_run(store, &fps).await;
        assert_eq!(alerts.len(), fps.len(), "{alerts:?}");
        assert!(alerts.iter().all(|a| a.event_type == EventType::NewIssue
            && a.run.is_none()
            && a.issues.len() == 1));
    }

    /// The logs of an AWS Batch job's attempt, ECS task `task`, with
    /// `count` errors of `fingerprint`: a run of its own until a job event
    /// names the task.
    fn task_attempt(task: &str, fingerprint: &str, count: u64) -> RunDelta {
        let mut attempt = RunDelta::new(
            format!("task:{task}"),
            RunSource::Batch,
            "resize".into(),
            task.into(),
        );
        attempt.log_group = "/aws/batch/job".into();
        attempt.errors = count;
        attempt.issues = vec![RunIssueDelta {
            fingerprint: fingerprint.into(),
            count,
            recovered: 0,
        }];
        attempt
    }

    /// A Batch job event of job `key` (named `name`) that makes ECS task
    /// `task` one of its parts, recovered or not as known.
    fn job_naming(key: &str, name: &str, task: &str, recovered: Option<bool>) -> RunDelta {
        let mut job = RunDelta::new(key.into(), RunSource::Batch, "resize".into(), name.into());
        job.parts = vec![RunPart {
            key: format!("task:{task}"),
            recovered,
        }];
        job
    }

    pub async fn a_part_is_folded_into_its_run(store: &dyn Store) {
        let task = "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a01";
        let attempt = task_attempt(task, "fp-a", 2);
        record(store, &run_batch("b1", attempt.clone(), 1000), NOW).await;
        let job = job_naming("batch:job-1", "resize-2025-11-23", task, Some(true));
        record(
            store,
            &BatchSummary {
                runs: vec![job],
                ..batch("e1", Vec::new())
            },
            NOW,
        )
        .await;
        let runs = runs_of(store).await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(
            (runs[0].key.as_str(), runs[0].errors, runs[0].recovered),
            ("batch:job-1", 2, 2)
        );
        assert_eq!(
            (runs[0].issues[0].count, runs[0].issues[0].recovered),
            (2, 2)
        );
        // Later logs of the attempt count in the job.
        record(store, &run_batch("b2", attempt, 2000), NOW).await;
        let runs = runs_of(store).await;
        assert_eq!((runs.len(), runs[0].errors, runs[0].recovered), (1, 4, 4));
    }

    pub async fn a_part_with_many_issues_folds_in_once(store: &dyn Store) {
        // A Batch attempt whose task logged more distinct issues before its
        // job event than one DynamoDB transaction can move (100 actions),
        // the event delivered twice at once.
        let task = "0b0b0b0b0b0b4b0b8b0b0b0b0b0b0b02";
        let fps: Vec<String> = (0..70).map(|i| format!("fp-{i:03}")).collect();
        let logged: Vec<(&str, u64, u64)> = fps
            .iter()
            .enumerate()
            .map(|(i, f)| (f.as_str(), 1 + i as u64 % 3, i as u64 % 2))
            .collect();
        let mut attempt = run("unused", &logged);
        attempt.key = format!("task:{task}");
        attempt.source = RunSource::Batch;
        attempt.job = "resize".into();
        attempt.name = task.into();
        record(store, &run_batch("logs", attempt.clone(), 1000), NOW).await;
        // Later logs of the attempt hit three of its issues again (DynamoDB
        // keeps those counts in the attempt's run item until it is folded).
        let again: Vec<(&str, u64, u64)> = logged[..3].iter().map(|l| (l.0, 1, 0)).collect();
        let mut more = run("unused", &again);
        more.key = attempt.key.clone();
        more.source = RunSource::Batch;
        more.job = "resize".into();
        more.name = task.into();
        record(store, &run_batch("logs-2", more, 1100), NOW).await;
        let logged: Vec<(&str, u64, u64)> = logged
            .iter()
            .enumerate()
            .map(|(i, &(fp, count, rec))| (fp, count + u64::from(i < 3), rec))
            .collect();
        let mut job = RunDelta::new(
            "batch:job-7".into(),
            RunSource::Batch,
            "resize".into(),
            "resize-2025-11-30".into(),
        );
        job.ended = Some((5000, Outcome::Failed));
        job.parts = vec![RunPart {
            key: format!("task:{task}"),
            recovered: Some(false),
        }];
        let event = BatchSummary {
            runs: vec![job],
            ..batch("event", Vec::new())
        };
        let p = policy();
        let (a, b) = tokio::join!(store.record(&event, NOW, &p), store.record(&event, NOW, &p));
        a.unwrap();
        b.unwrap();

        let runs = runs_of(store).await;
        assert_eq!(runs.len(), 1, "the part is folded, not listed on its own");
        let r = &runs[0];
        let errors: u64 = logged.iter().map(|l| l.1).sum();
        let recovered: u64 = logged.iter().map(|l| l.2).sum();
        assert_eq!(
            (r.key.as_str(), r.errors, r.recovered),
            ("batch:job-7", errors, recovered)
        );
        let mut issues: Vec<(String, u64, u64)> = r
            .issues
            .iter()
            .map(|i| (i.id.clone(), i.count, i.recovered))
            .collect();
        issues.sort();
        let mut expected: Vec<(String, u64, u64)> = logged
            .iter()
            .map(|(fp, count, rec)| (id_of(fp), *count, *rec))
            .collect();
        expected.sort();
        assert_eq!(issues, expected, "every issue once, with its counts");
        for fp in &fps {
            let appeared = store.issue_runs(&id_of(fp), 10).await.unwrap();
            let ids: Vec<&str> = appeared.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(ids, [r.id.as_str()], "{fp} appeared in the job run");
        }
        let settled = store.settle_runs(NOW, 0, &p).await.unwrap().runs;
        assert_eq!(settled, vec![r.id.clone()]);
    }

    pub async fn a_run_counts_a_merged_issue_under_the_issue_it_went_to(store: &dyn Store) {
        let first = run_batch("r1", run("r1", &[("fp-a", 1, 0), ("fp-b", 1, 0)]), 1000);
        record(store, &first, NOW).await;
        let (a, b) = (id_of("fp-a"), id_of("fp-b"));
        store.merge(&a, &b).await.unwrap();
        let later = run_batch("r2", run("r2", &[("fp-a", 2, 1), ("fp-b", 3, 0)]), 2000);
        record(store, &later, NOW + 1).await;
        let r2 = store
            .runs(&RunFilter::default())
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.name == "r2")
            .unwrap();
        let issues: Vec<(String, u64, u64)> = r2
            .issues
            .iter()
            .map(|i| (i.id.clone(), i.count, i.recovered))
            .collect();
        assert_eq!(issues, vec![(a.clone(), 5, 1)], "one issue, both counts");
        let runs_of_a = store.issue_runs(&a, 10).await.unwrap();
        assert_eq!(runs_of_a.len(), 2);
    }

    pub async fn runs_are_listed_newest_first_and_by_issue(store: &dyn Store) {
        for (i, name) in ["r1", "r2", "r3"].iter().enumerate() {
            let issues: &[(&str, u64, u64)] = if i == 1 {
                &[("fp-b", 1, 0)]
            } else {
                &[("fp-a", 1, 0)]
            };
            let b = run_batch(
                name,
                ended(
                    run(name, issues),
                    1000 + i as i64 * MINUTE * 2,
                    Outcome::Failed,
                ),
                1000,
            );
            record(store, &b, NOW).await;
        }
        let names =
            |runs: Vec<faultline::model::Run>| runs.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(names(runs_of(store).await), ["r3", "r2", "r1"]);
        let limited = RunFilter {
            limit: Some(2),
            ..RunFilter::default()
        };
        assert_eq!(names(store.runs(&limited).await.unwrap()), ["r3", "r2"]);
        let elsewhere = RunFilter {
            log_group: Some("/other".into()),
            ..RunFilter::default()
        };
        assert!(store.runs(&elsewhere).await.unwrap().is_empty());
        let settled = RunFilter {
            settled: true,
            ..RunFilter::default()
        };
        assert!(store.runs(&settled).await.unwrap().is_empty());
        store.settle_runs(NOW, 0, &policy()).await.unwrap();
        assert_eq!(store.runs(&settled).await.unwrap().len(), 3);
        assert_eq!(
            names(store.issue_runs(&id_of("fp-a"), 10).await.unwrap()),
            ["r3", "r1"]
        );
        assert_eq!(
            names(store.issue_runs(&id_of("fp-a"), 1).await.unwrap()),
            ["r3"]
        );
    }

    /// Two failed runs of the job `nightly` recorded and their alerts
    /// drained: "damaged" with `issues` (to be damaged), then "later"
    /// with one issue. Returns the first's key and id, and the second's id.
    async fn a_run_and_a_later_one(
        store: &dyn Store,
        issues: &[(&str, u64, u64)],
    ) -> (String, String, String) {
        let damaged = ended(run("damaged", issues), 10_000, Outcome::Failed);
        let later = ended(run("later", &[("fp-l", 1, 0)]), 20_000, Outcome::Failed);
        let damaged_key = damaged.key.clone();
        let damaged_id = faultline::model::run_id(&damaged.key);
        let later_id = faultline::model::run_id(&later.key);
        record(store, &run_batch("d1", damaged, 1000), NOW).await;
        record(store, &run_batch("l1", later, 2000), NOW).await;
        drain(store, NOW).await;
        (damaged_key, damaged_id, later_id)
    }

    /// A run whose settlement fails every time (its record damaged) is
    /// reported, each time, and holds back neither the runs due after it
    /// nor their alerts.
    pub async fn a_run_that_cannot_settle_holds_back_no_other(
        store: &dyn Store,
        underneath: &super::Underneath,
    ) {
        let (_, damaged_id, later_id) = a_run_and_a_later_one(store, &[("fp-d", 1, 0)]).await;
        underneath.damage_run(&damaged_id).await;

        let settled = store.settle_runs(NOW + MINUTE, 0, &policy()).await.unwrap();
        assert_eq!(settled.runs, vec![later_id.clone()]);
        let failed: Vec<&str> = settled.failed.iter().map(|f| f.run.as_str()).collect();
        assert_eq!(failed, vec![damaged_id.as_str()]);
        let alerts = drain(store, NOW + MINUTE).await;
        let digests: Vec<&faultline::model::Alert> = alerts
            .iter()
            .filter(|a| a.event_type == EventType::RunDigest)
            .collect();
        assert_eq!(digests.len(), 1, "{alerts:?}");
        assert!(digests[0].id.starts_with(&format!("run:{later_id}:")));

        let again = store
            .settle_runs(NOW + 2 * MINUTE, 0, &policy())
            .await
            .unwrap();
        assert!(again.runs.is_empty(), "the later run settled once");
        assert_eq!(again.failed.len(), 1, "reported at every settling");
        assert_eq!(again.failed[0].run, damaged_id);
    }

    /// A run whose settlement failed part way (its job's record damaged)
    /// settles, once repaired, as if it had never been tried: a failed
    /// attempt leaves no count behind, so the job's runs stay consecutive
    /// and the alert they hold is released.
    pub async fn a_run_repaired_after_failed_settlings_settles_as_if_never_tried(
        store: &dyn Store,
        underneath: &super::Underneath,
    ) {
        let p = Policy {
            alert_after_runs: 2,
            run_digest: faultline::runs::lifecycle::DigestMode::Never,
            ..policy()
        };
        let first = ended(run("first", &[("fp-x", 1, 0)]), 10_000, Outcome::Failed);
        store
            .record(&run_batch("f1", first, 1000), NOW, &p)
            .await
            .unwrap();
        assert_eq!(store.settle_runs(NOW, 0, &p).await.unwrap().runs.len(), 1);
        assert!(drain(store, NOW).await.is_empty(), "held for a second run");

        let second = ended(run("second", &[("fp-x", 1, 0)]), 20_000, Outcome::Failed);
        let second_id = faultline::model::run_id(&second.key);
        store
            .record(&run_batch("s1", second, 2000), NOW + 1, &p)
            .await
            .unwrap();
        let kept = underneath.damage_job("nightly").await;
        for t in [NOW + 2, NOW + 3] {
            let settled = store.settle_runs(t, 0, &p).await.unwrap();
            assert!(settled.runs.is_empty());
            assert_eq!(settled.failed.len(), 1);
            assert_eq!(settled.failed[0].run, second_id);
        }
        underneath.repair_job("nightly", kept).await;
        let settled = store.settle_runs(NOW + 4, 0, &p).await.unwrap();
        assert_eq!(settled.runs, vec![second_id]);
        let alerts = drain(store, NOW + 4).await;
        assert_eq!(
            alerts.len(),
            1,
            "the second consecutive run releases it: {alerts:?}"
        );
        assert_eq!(alerts[0].issues[0].id, id_of("fp-x"));
    }

    /// A forgotten run is no longer listed, shown, linked from its issues
    /// nor settled; the issues keep their counts, and the other runs, one
    /// sharing an issue with it included, are as they were.
    pub async fn a_forgotten_run_is_neither_listed_nor_settled(store: &dyn Store) {
        let gone = ended(
            run("gone", &[("fp-g", 2, 0), ("fp-k", 1, 0)]),
            10_000,
            Outcome::Failed,
        );
        let kept = ended(run("kept", &[("fp-k", 3, 0)]), 20_000, Outcome::Failed);
        let gone_id = faultline::model::run_id(&gone.key);
        let kept_id = faultline::model::run_id(&kept.key);
        record(store, &run_batch("g1", gone, 1000), NOW).await;
        record(store, &run_batch("k1", kept, 2000), NOW).await;
        drain(store, NOW).await;

        let forgotten = store.forget_run(&gone_id).await.unwrap().unwrap();
        assert_eq!(
            forgotten,
            faultline::store::Forgotten {
                run: gone_id.clone(),
                links: 2,
                settled: false,
            }
        );
        let names =
            |runs: Vec<faultline::model::Run>| runs.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(names(runs_of(store).await), ["kept"]);
        let limited = RunFilter {
            limit: Some(10),
            ..RunFilter::default()
        };
        assert_eq!(names(store.runs(&limited).await.unwrap()), ["kept"]);
        assert!(store.run(&gone_id).await.unwrap().is_none());
        assert!(!store.has_run(&gone_id).await.unwrap());
        assert!(store.has_run(&kept_id).await.unwrap());
        assert_eq!(
            names(store.issue_runs(&id_of("fp-k"), 10).await.unwrap()),
            ["kept"]
        );
        assert!(
            store
                .issue_runs(&id_of("fp-g"), 10)
                .await
                .unwrap()
                .is_empty()
        );
        let issue = store.issue(&id_of("fp-g")).await.unwrap().unwrap();
        assert_eq!(issue.issue.count, 2, "the issue keeps its count");
        assert_eq!(store.run(&kept_id).await.unwrap().unwrap().issues.len(), 1);

        let settled = store.settle_runs(NOW + MINUTE, 0, &policy()).await.unwrap();
        assert_eq!(settled.runs, vec![kept_id.clone()]);
        assert!(settled.failed.is_empty());
        let alerts = drain(store, NOW + MINUTE).await;
        assert!(
            alerts.iter().all(|a| !a.id.contains(&gone_id)),
            "no digest of the forgotten run: {alerts:?}"
        );
        assert!(store.forget_run(&gone_id).await.unwrap().is_none());

        let settled_one = store.forget_run(&kept_id).await.unwrap().unwrap();
        assert!(settled_one.settled);
        assert_eq!(settled_one.links, 1);
        assert!(runs_of(store).await.is_empty());
    }

    /// A run whose record is damaged hides no other run from listings
    /// (`faultline runs`, an issue's runs) or from what users type (a
    /// prefix of its id, its name, its execution name): listings leave it
    /// out, warning with `runs forget` and its id, and it is itself still
    /// found by a prefix of its id or its name, to be forgotten.
    pub async fn a_damaged_run_hides_no_other_run_from_listings_prefixes_or_names(
        store: &dyn Store,
        underneath: &super::Underneath,
    ) {
        let (_, damaged_id, later_id) =
            a_run_and_a_later_one(store, &[("fp-d", 1, 0), ("fp-l", 1, 0)]).await;
        underneath.damage_run_badly(&damaged_id).await;
        // Listings leave it out (with a warning naming `runs forget`), by
        // time and by issue, limited or not; read by its id, it fails.
        let ids = |runs: Vec<faultline::model::Run>| -> Vec<String> {
            runs.into_iter().map(|r| r.id).collect()
        };
        for limit in [None, Some(5)] {
            let filter = RunFilter {
                limit,
                ..RunFilter::default()
            };
            let listed = store.runs(&filter).await.unwrap();
            assert_eq!(ids(listed), vec![later_id.clone()], "{limit:?}");
        }
        let by_issue = store.issue_runs(&id_of("fp-l"), 10).await.unwrap();
        assert_eq!(ids(by_issue), vec![later_id.clone()]);
        let err = store.run(&damaged_id).await.unwrap_err();
        assert!(err.is_damaged(), "{err}");

        // The shortest prefix of `id` that is not one of `other`'s.
        let prefix = |id: &str, other: &str| {
            let common = id.chars().zip(other.chars()).take_while(|(a, b)| a == b);
            id[..common.count() + 1].to_string()
        };
        for (typed, id) in [
            (prefix(&later_id, &damaged_id), &later_id),
            ("later".to_string(), &later_id),
            (
                "arn:aws:states:eu-west-1:1:execution:nightly:later".to_string(),
                &later_id,
            ),
            (prefix(&damaged_id, &later_id), &damaged_id),
            ("damaged".to_string(), &damaged_id),
        ] {
            let resolved = faultline::store::resolve_run(store, &typed).await;
            assert_eq!(resolved.unwrap(), *id, "{typed}");
        }
        let none = faultline::store::resolve_run(store, "nothing-like-it").await;
        assert!(
            matches!(none, Err(faultline::store::StoreError::RunNotFound(_))),
            "{none:?}"
        );
    }

    /// A run whose record is damaged, so that it fails to settle at every
    /// settling, is still found (by its id, as the warning names it, or
    /// by its execution ARN) and forgotten whole: the next settling has
    /// nothing left to fail on, and nothing in the store names it.
    pub async fn a_damaged_run_is_forgotten_and_settles_no_more(
        store: &dyn Store,
        underneath: &super::Underneath,
    ) {
        let (damaged_key, damaged_id, later_id) =
            a_run_and_a_later_one(store, &[("fp-d", 1, 0), ("fp-e", 1, 0)]).await;
        underneath.damage_run_badly(&damaged_id).await;
        let settled = store.settle_runs(NOW + MINUTE, 0, &policy()).await.unwrap();
        assert_eq!(settled.runs, vec![later_id.clone()]);
        assert_eq!(settled.failed.len(), 1);
        assert_eq!(settled.failed[0].run, damaged_id);

        for typed in [
            damaged_id.as_str(),
            "arn:aws:states:eu-west-1:1:execution:nightly:damaged",
        ] {
            assert_eq!(
                faultline::store::resolve_run(store, typed).await.unwrap(),
                damaged_id
            );
        }
        let forgotten = store.forget_run(&damaged_id).await.unwrap().unwrap();
        assert_eq!(forgotten.links, 2);
        assert!(!forgotten.settled);

        let again = store
            .settle_runs(NOW + 2 * MINUTE, 0, &policy())
            .await
            .unwrap();
        assert!(again.runs.is_empty());
        assert!(again.failed.is_empty(), "{:?}", again.failed);
        let listed: Vec<String> = runs_of(store).await.into_iter().map(|r| r.id).collect();
        assert_eq!(listed, vec![later_id]);
        assert_eq!(
            underneath.mentioning(&damaged_key, &damaged_id).await,
            0,
            "every record of the run is gone"
        );
        assert_eq!(
            store
                .issue(&id_of("fp-d"))
                .await
                .unwrap()
                .unwrap()
                .issue
                .count,
            1
        );
    }

    pub async fn settled_runs_expire_after_retention(store: &dyn Store, aging: &super::Aging) {
        const DAY: i64 = 24 * 60 * MINUTE;
        let p = Policy {
            auto_resolve_after_runs: Some(2),
            ..policy()
        };
        let record_at = |b: BatchSummary, t: i64| {
            let p = p.clone();
            async move {
                store.record(&b, t, &p).await.unwrap();
            }
        };
        let r1 = ended(
            run("r1", &[("fp-a", 1, 0), ("fp-b", 1, 0)]),
            NOW - MINUTE,
            Outcome::Failed,
        );
        let (r1_key, r1_id) = (r1.key.clone(), faultline::model::run_id(&r1.key));
        record_at(run_batch("b1", r1, NOW), NOW).await;
        store.settle_runs(NOW, 0, &p).await.unwrap();
        let second = NOW + RUN_RETENTION_MS - DAY;
        let r2 = ended(run("r2", &[("fp-a", 1, 0)]), second, Outcome::Failed);
        record_at(run_batch("b2", r2, second), second).await;
        store.settle_runs(second + MINUTE, 0, &p).await.unwrap();

        // r1 settled more than the retention ago.
        let later = NOW + RUN_RETENTION_MS + DAY;
        let r3 = ended(run("r3", &[("fp-a", 1, 0)]), later, Outcome::Failed);
        record_at(run_batch("b3", r3, later), later).await;
        let mut r4 = run("r4", &[("fp-c", 1, 0)]);
        r4.last_event = Some(later + MINUTE);
        record_at(run_batch("b4", r4, later), later).await;
        aging.pass(later + MINUTE).await;
        store.settle_runs(later + MINUTE, 0, &p).await.unwrap();
        let mut names: Vec<String> = runs_of(store).await.into_iter().map(|r| r.name).collect();
        names.sort();
        assert_eq!(names, ["r2", "r3", "r4"], "r1 expired");
        assert_eq!(store.run(&r1_id).await.unwrap(), None);
        let of_a: Vec<String> = store
            .issue_runs(&id_of("fp-a"), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(of_a, ["r3", "r2"]);
        let detail = store.issue(&id_of("fp-a")).await.unwrap().unwrap();
        assert_eq!(
            detail.issue.count, 3,
            "issues outlive the runs they were in"
        );
        // The job's streaks outlive its runs: r2 and r3 are fp-b's two
        // clean runs, though the run fp-b was last in expired.
        let b = store.issue(&id_of("fp-b")).await.unwrap().unwrap();
        assert_eq!(b.issue.status, Status::Resolved);

        // Once everything of r1 is past its time, nothing of it is left;
        // a run not settled yet (r4) never expires.
        let much_later = later + RUN_RETENTION_MS + RUN_LINK_GRACE_MS;
        record_at(batch("b5", vec![delta("fp-d", 1, much_later)]), much_later).await;
        aging.pass(much_later).await;
        // Queued alerts name runs too; they go once sent.
        drain(store, much_later).await;
        assert_eq!(
            aging.mentioning(&r1_key, &r1_id).await,
            0,
            "r1 left items behind"
        );
        let names: Vec<String> = runs_of(store).await.into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["r4"]);
    }

    /// A delta as the current algorithm keys it, carrying the key the
    /// previous one gave the same occurrences.
    fn upgraded(fingerprint: &str, previous: &str, count: u64, t: i64) -> IssueDelta {
        IssueDelta {
            previous: vec!["v2:unrelated".into(), previous.into()],
            ..delta(fingerprint, count, t)
        }
    }

    pub async fn a_new_fingerprint_algorithm_announces_no_known_issue_again(store: &dyn Store) {
        record(store, &batch("b1", vec![delta("v2:a", 2, 1000)]), NOW).await;
        drain(store, NOW).await;
        let old = id_of("v2:a");

        let b2 = batch(
            "b2",
            vec![
                upgraded("v3:a", "v2:a", 3, 2000),
                upgraded("v3:new", "v2:new", 1, 2000),
            ],
        );
        let r = record(store, &b2, NOW + 1).await;
        assert_eq!(
            r.new_issues,
            vec![id_of("v3:new")],
            "only the unknown one is new"
        );
        let alerts = drain(store, NOW + 1).await;
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].issues[0].id, id_of("v3:new"));
        assert_eq!(store.issue(&old).await.unwrap().unwrap().issue.count, 5);
        assert!(store.issue(&id_of("v3:a")).await.unwrap().is_none());

        // Later batches no longer carry the old key the alias was found by.
        let r = record(store, &batch("b3", vec![delta("v3:a", 4, 3000)]), NOW + 2).await;
        assert!(r.new_issues.is_empty());
        assert!(drain(store, NOW + 2).await.is_empty());
        let kept = store.issue(&old).await.unwrap().unwrap().issue;
        assert_eq!(kept.count, 9);
        assert_eq!(kept.last_seen, 3010);
        assert_eq!(store.issues(StatusFilter::All).await.unwrap().len(), 2);

        // Still the same issue for the policy: resolved, it regresses.
        store
            .set_status(&old, &StatusChange::Resolved { in_version: None })
            .await
            .unwrap();
        let r = record(store, &batch("b4", vec![delta("v3:a", 1, 4000)]), NOW + 3).await;
        assert_eq!(r.regressions, vec![old]);
    }

    /// Three issues the previous algorithm made, as a store holds them
    /// before an upgrade.
    async fn three_v2_issues(store: &dyn Store) -> [String; 3] {
        let b = batch(
            "b1",
            vec![
                delta("v2:a", 2, 1000),
                delta("v2:b", 3, 3_601_000),
                delta("v2:c", 1, 2000),
            ],
        );
        record(store, &b, NOW).await;
        drain(store, NOW).await;
        [id_of("v2:a"), id_of("v2:b"), id_of("v2:c")]
    }

    /// A delta as the current algorithm keys it, carrying the keys the
    /// previous one gave its occurrences.
    fn joining(fingerprint: &str, previous: &[&str], count: u64, t: i64) -> IssueDelta {
        IssueDelta {
            previous: previous.iter().map(|p| p.to_string()).collect(),
            ..delta(fingerprint, count, t)
        }
    }

    async fn live(store: &dyn Store) -> Vec<faultline::model::Issue> {
        store.issues(StatusFilter::All).await.unwrap()
    }

    pub async fn a_new_fingerprint_joining_previous_issues_makes_them_one_without_an_alert(
        store: &dyn Store,
    ) {
        let [a, b, c] = three_v2_issues(store).await;
        let b2 = batch(
            "b2",
            vec![joining("v3:a", &["v2:a", "v2:gone", "v2:b"], 4, 7_200_000)],
        );
        let r = record(store, &b2, NOW + 1).await;
        assert!(r.new_issues.is_empty(), "{:?}", r.new_issues);
        assert!(
            drain(store, NOW + 1).await.is_empty(),
            "a join alerts nothing"
        );

        let joined = store.issue(&a).await.unwrap().unwrap();
        assert_eq!(joined.issue.count, 2 + 3 + 4, "counts summed");
        assert_eq!(
            (joined.issue.first_seen, joined.issue.last_seen),
            (1000, 7_200_010)
        );
        assert_eq!(joined.merged_from, vec![b.clone()]);
        let hours: Vec<u64> = joined.hours.iter().map(|h| h.count).collect();
        assert_eq!(hours, [2, 3, 4]);
        let source = store.issue(&b).await.unwrap().unwrap().issue;
        assert_eq!(source.status, Status::Merged);
        assert_eq!(source.merged_into.as_deref(), Some(a.as_str()));
        let ids: Vec<String> = live(store).await.into_iter().map(|i| i.id).collect();
        assert_eq!(ids, vec![a.clone(), c.clone()], "c is not among the keys");

        // Delivered again: nothing changes.
        assert!(record(store, &b2, NOW + 2).await.duplicate);
        assert_eq!(store.issue(&a).await.unwrap().unwrap().issue.count, 9);

        // The join is undone as a merge is, and stays undone: the new
        // fingerprint's later occurrences count into a and b is not joined
        // (or summed into a) again.
        store.unmerge(&b).await.unwrap();
        let b3 = batch("b3", vec![joining("v3:a", &["v2:b"], 1, 7_300_000)]);
        let r = record(store, &b3, NOW + 3).await;
        assert!(r.new_issues.is_empty());
        assert!(drain(store, NOW + 3).await.is_empty());
        assert_eq!(store.issue(&a).await.unwrap().unwrap().issue.count, 10);
        let apart = store.issue(&b).await.unwrap().unwrap().issue;
        assert_eq!((apart.status, apart.count), (Status::Open, 3));

        // c's messages come only now, after the alias was written: c is
        // joined then.
        let b4 = batch("b4", vec![joining("v3:a", &["v2:c"], 1, 7_400_000)]);
        let r = record(store, &b4, NOW + 4).await;
        assert!(r.new_issues.is_empty());
        assert!(drain(store, NOW + 4).await.is_empty());
        assert_eq!(
            store.issue(&a).await.unwrap().unwrap().issue.count,
            10 + 1 + 1
        );
        let late = store.issue(&c).await.unwrap().unwrap().issue;
        assert_eq!(late.merged_into.as_deref(), Some(a.as_str()));
        let ids: Vec<String> = live(store).await.into_iter().map(|i| i.id).collect();
        assert_eq!(ids, vec![a.clone(), b.clone()]);
    }

    pub async fn a_join_cut_short_is_finished_by_the_next_batch_with_the_fingerprint(
        store: &dyn Store,
    ) {
        let [a, b, c] = three_v2_issues(store).await;
        // What a batch that died after the first of its joins left: b
        // merged into a, c not yet, the batch not recorded (no alias).
        store.merge(&a, &b).await.unwrap();
        let b2 = batch(
            "b2",
            vec![joining("v3:a", &["v2:b", "v2:c", "v2:a"], 4, 7_200_000)],
        );
        let r = record(store, &b2, NOW + 1).await;
        assert!(r.new_issues.is_empty());
        assert!(drain(store, NOW + 1).await.is_empty());
        let issues = live(store).await;
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].id, a);
        assert_eq!(issues[0].count, 2 + 3 + 1 + 4, "each counted once");
        for from in [&b, &c] {
            let merged = store.issue(from).await.unwrap().unwrap().issue;
            assert_eq!(merged.merged_into.as_deref(), Some(a.as_str()));
        }
    }

    pub async fn batches_joining_the_same_issues_at_once_count_each_occurrence_once(
        store: &dyn Store,
    ) {
        three_v2_issues(store).await;
        let p = policy();
        // The same fingerprint, its previous keys in different orders: each
        // batch picks another issue to join into.
        let orders: [&[&str]; 4] = [
            &["v2:a", "v2:b", "v2:c"],
            &["v2:c", "v2:b", "v2:a"],
            &["v2:b", "v2:a"],
            &["v2:c", "v2:a"],
        ];
        let batches: Vec<BatchSummary> = orders
            .iter()
            .enumerate()
            .map(|(i, keys)| {
                batch(
                    &format!("join-{i}"),
                    vec![joining("v3:a", keys, 1, 7_200_000 + i as i64)],
                )
            })
            .collect();
        let (r0, r1, r2, r3) = tokio::join!(
            store.record(&batches[0], NOW + 1, &p),
            store.record(&batches[1], NOW + 1, &p),
            store.record(&batches[2], NOW + 1, &p),
            store.record(&batches[3], NOW + 1, &p),
        );
        for r in [r0, r1, r2, r3] {
            let r = r.unwrap();
            assert!(!r.duplicate);
            assert!(r.new_issues.is_empty());
        }
        let issues = live(store).await;
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].count, 2 + 3 + 1 + 4);
        assert_eq!(store.issues(StatusFilter::Merged).await.unwrap().len(), 2);
        assert!(drain(store, NOW + 1).await.is_empty(), "nothing alerts");
    }

    async fn two_issues_to_merge(store: &dyn Store) -> (String, String) {
        let b = batch(
            "b1",
            vec![delta("fp-a", 2, 1000), delta("fp-b", 3, 3_601_000)],
        );
        record(store, &b, NOW).await;
        drain(store, NOW).await;
        (id_of("fp-a"), id_of("fp-b"))
    }

    pub async fn issues_read_by_id_are_those_one_by_one(store: &dyn Store) {
        let (a, b) = two_issues_to_merge(store).await;
        record(store, &batch("b2", vec![delta("fp-c", 1, 2000)]), NOW).await;
        store.merge(&a, &b).await.unwrap();
        let c = id_of("fp-c");
        let unknown = id_of("fp-never-seen");
        let asked = [c.clone(), unknown, a.clone(), b.clone()];
        let mut got = store.issues_by_id(&asked).await.unwrap();
        got.sort_by(|x, y| x.id.cmp(&y.id));
        let mut one_by_one = Vec::new();
        for id in &asked {
            if let Some(detail) = store.issue(id).await.unwrap() {
                one_by_one.push(detail.issue);
            }
        }
        one_by_one.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(got.len(), 3, "the unknown id is left out: {got:?}");
        assert_eq!(got, one_by_one);
        assert!(store.issues_by_id(&[]).await.unwrap().is_empty());
    }

    pub async fn a_merged_issue_counts_into_its_target_and_alerts_nothing(store: &dyn Store) {
        let (a, b) = two_issues_to_merge(store).await;
        let merged = store.merge(&a, &b).await.unwrap();
        assert_eq!(merged.id, a);
        assert_eq!(merged.count, 5, "the history is summed");
        assert_eq!((merged.first_seen, merged.last_seen), (1000, 3_601_010));
        let detail = store.issue(&a).await.unwrap().unwrap();
        assert_eq!(detail.merged_from, vec![b.clone()]);
        let hours: Vec<u64> = detail.hours.iter().map(|h| h.count).collect();
        assert_eq!(hours, [2, 3]);
        let kept: Vec<i64> = detail.samples.iter().map(|s| s.timestamp).collect();
        assert_eq!(kept, [3_601_002, 1001], "each one's sample, newest first");
        let stream = detail
            .facets
            .iter()
            .find(|f| f.name == "log_stream")
            .unwrap();
        assert_eq!(stream.top, vec![("s".to_string(), 5)]);

        let source = store.issue(&b).await.unwrap().unwrap().issue;
        assert_eq!(source.status, Status::Merged);
        assert_eq!(source.merged_into.as_deref(), Some(a.as_str()));
        let live: Vec<String> = store
            .issues(StatusFilter::All)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(
            live,
            vec![a.clone()],
            "a merged issue is not listed as live"
        );
        let merged_list = store.issues(StatusFilter::Merged).await.unwrap();
        assert_eq!(merged_list.len(), 1);
        assert_eq!(merged_list[0].id, b);
        assert!(
            store
                .claim_alerts(NOW, LEASE, usize::MAX)
                .await
                .unwrap()
                .is_empty()
        );

        let r = record(store, &batch("b2", vec![delta("fp-b", 4, 5000)]), NOW + 1).await;
        assert!(r.new_issues.is_empty());
        assert!(drain(store, NOW + 1).await.is_empty(), "nothing alerts");
        assert_eq!(store.issue(&a).await.unwrap().unwrap().issue.count, 9);
        assert_eq!(store.issue(&b).await.unwrap().unwrap().issue.count, 3);
    }

    pub async fn unmerge_lets_an_issue_count_its_own_again(store: &dyn Store) {
        let (a, b) = two_issues_to_merge(store).await;
        store.merge(&a, &b).await.unwrap();
        let refused = store
            .set_status(&b, &StatusChange::Resolved { in_version: None })
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::Refused(_)), "{refused}");
        assert!(refused.to_string().contains("unmerge"), "{refused}");

        let back = store.unmerge(&b).await.unwrap();
        assert_eq!((back.status, back.merged_into), (Status::Open, None));
        assert!(
            store
                .issue(&a)
                .await
                .unwrap()
                .unwrap()
                .merged_from
                .is_empty()
        );
        record(store, &batch("b2", vec![delta("fp-b", 4, 5000)]), NOW + 1).await;
        assert_eq!(store.issue(&b).await.unwrap().unwrap().issue.count, 7);
        assert_eq!(
            store.issue(&a).await.unwrap().unwrap().issue.count,
            5,
            "what the merge summed stays"
        );
        let again = store.unmerge(&b).await.unwrap_err();
        assert!(matches!(again, StoreError::Refused(_)), "{again}");
    }

    pub async fn a_merge_racing_batches_loses_no_occurrence(store: &dyn Store) {
        let (a, b) = two_issues_to_merge(store).await;
        let p = policy();
        let batches: Vec<BatchSummary> = (0..6)
            .map(|i| batch(&format!("race-{i}"), vec![delta("fp-b", 1, 5000 + i)]))
            .collect();
        // Each batch lands in fp-b before the merge (and is summed into a)
        // or after it (and is routed to a); none may be lost or doubled.
        let (merged, r0, r1, r2, r3, r4, r5) = tokio::join!(
            store.merge(&a, &b),
            store.record(&batches[0], NOW, &p),
            store.record(&batches[1], NOW, &p),
            store.record(&batches[2], NOW, &p),
            store.record(&batches[3], NOW, &p),
            store.record(&batches[4], NOW, &p),
            store.record(&batches[5], NOW, &p),
        );
        merged.unwrap();
        for r in [r0, r1, r2, r3, r4, r5] {
            assert!(!r.unwrap().duplicate);
        }
        let kept = store.issue(&a).await.unwrap().unwrap().issue;
        assert_eq!(kept.count, 2 + 3 + 6);
        let source = store.issue(&b).await.unwrap().unwrap().issue;
        assert_eq!(source.status, Status::Merged);
        assert!(drain(store, NOW).await.is_empty(), "nothing alerts");
    }

    pub async fn merges_join_live_issues_and_chains_are_followed(store: &dyn Store) {
        let (a, b) = two_issues_to_merge(store).await;
        record(store, &batch("b2", vec![delta("fp-c", 1, 1000)]), NOW).await;
        drain(store, NOW).await;
        let c = id_of("fp-c");
        let refusal = |e: StoreError| matches!(e, StoreError::Refused(_));
        assert!(refusal(store.merge(&a, &a).await.unwrap_err()));
        assert!(matches!(
            store.merge(&a, "000000000000").await.unwrap_err(),
            StoreError::NotFound(_)
        ));
        store.merge(&a, &b).await.unwrap();
        assert!(
            refusal(store.merge(&c, &b).await.unwrap_err()),
            "already merged"
        );
        assert!(
            refusal(store.merge(&b, &c).await.unwrap_err()),
            "into a merged one"
        );

        // b into a, then a into c: b's occurrences reach c.
        store.merge(&c, &a).await.unwrap();
        record(store, &batch("b3", vec![delta("fp-b", 10, 5000)]), NOW + 1).await;
        assert_eq!(store.issue(&c).await.unwrap().unwrap().issue.count, 16);
        // Undo the second merge only: b counts into a again.
        store.unmerge(&a).await.unwrap();
        record(store, &batch("b4", vec![delta("fp-b", 100, 6000)]), NOW + 2).await;
        assert_eq!(store.issue(&a).await.unwrap().unwrap().issue.count, 105);
        assert!(drain(store, NOW + 2).await.is_empty());
    }

    pub async fn unknown_ids_are_reported(store: &dyn Store) {
        assert!(store.issue("000000000000").await.unwrap().is_none());
        let err = store
            .set_status("000000000000", &StatusChange::Resolved { in_version: None })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no issue with id"), "{err}");
    }
}

/// Instantiates the run cases for one backend.
#[macro_export]
macro_rules! runs_conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;
            conformance!(@case $make, a_run_is_recorded_once_however_often_its_batches_arrive);
            conformance!(@case $make, concurrent_batches_of_one_run_add_up);
            conformance!(@case $make, a_runs_hot_issue_adds_up_over_its_batches);
            conformance!(@case $make, a_run_keeps_the_samples_of_the_batches_that_brought_its_issues);
            conformance!(@case $make, an_ended_run_settles_once_with_one_digest);
            conformance!(@case $make, a_run_without_an_end_ends_when_quiet);
            conformance!(@case $make, a_run_that_logs_on_is_not_settled_as_quiet);
            conformance!(@case $make, a_job_event_counts_once_however_often_it_arrives);
            conformance!(@case $make, a_succeeded_run_recovered_every_error);
            conformance!(@case $make, k_clean_runs_resolve_an_issue_that_then_regresses);
            conformance!(@case $make, recovered_and_run_counted_alerts_are_held);
            conformance!(@case $make, a_part_is_folded_into_its_run);
            conformance!(@case $make, a_part_with_many_issues_folds_in_once);
            conformance!(@case $make, a_run_with_many_issues_settles_once);
            conformance!(@case $make, a_settlement_announcing_past_the_bound_sends_one_alert);
            conformance!(@case $make, a_settlement_announcing_up_to_the_bound_sends_an_alert_each);
            conformance!(@case $make, a_held_alert_released_at_settle_carries_the_newest_sample);
            conformance!(@case $make, runs_are_listed_newest_first_and_by_issue);
            conformance!(@case $make, a_run_counts_a_merged_issue_under_the_issue_it_went_to);
            conformance!(@case $make, a_forgotten_run_is_neither_listed_nor_settled);
        }
    };
}

/// Instantiates every case for one backend. `$make` is an async expression
/// giving a fresh `Box<dyn Store>` (plus whatever must live as long as it).
#[macro_export]
macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;
            conformance!(@case $make, a_batch_creates_its_issues_with_counts);
            conformance!(@case $make, replaying_a_batch_changes_nothing);
            conformance!(@case $make, a_batch_replayed_from_the_failed_events_queue_counts_once);
            conformance!(@case $make, later_batches_add_to_counts_and_widen_seen_times);
            conformance!(@case $make, batches_recorded_together_count_as_recorded_one_by_one);
            conformance!(@case $make, batches_recorded_together_count_once_however_they_overlap);
            conformance!(@case $make, alerts_held_by_a_lease_are_reported_until_it_ends);
            conformance!(@case $make, each_new_issue_queues_one_alert_until_sent);
            conformance!(@case $make, claims_past_the_limit_wait_for_the_next_flush);
            conformance!(@case $make, an_alert_claimed_and_never_sent_comes_back_when_its_lease_ends);
            conformance!(@case $make, many_new_issues_in_one_batch_make_one_digest);
            conformance!(@case $make, a_digest_is_queued_cut_to_what_a_message_shows);
            conformance!(@case $make, a_resolved_issue_that_recurs_regresses);
            conformance!(@case $make, resolved_in_a_version_ignores_older_versions);
            conformance!(@case $make, an_ignored_issue_counts_but_never_alerts);
            conformance!(@case $make, an_ignore_for_n_occurrences_lapses);
            conformance!(@case $make, a_threshold_alerts_once);
            conformance!(@case $make, hours_and_facets_accumulate);
            conformance!(@case $make, facets_stay_bounded);
            conformance!(@case $make, samples_keep_the_newest_a_few_an_hour);
            conformance!(@case $make, unknown_ids_are_reported);
            conformance!(@case $make, listing_filters_by_status_log_group_kind_and_text);
            conformance!(@case $make, listing_filters_by_time_range);
            conformance!(@case $make, listing_filters_by_context_field_values);
            conformance!(@case $make, listing_sorts_by_count_last_first_and_trend);
            conformance!(@case $make, listing_pages_through_the_order_and_counts_the_total);
            conformance!(@case $make, listed_issues_carry_their_last_day_by_hour);
            conformance!(@case $make, a_new_fingerprint_algorithm_announces_no_known_issue_again);
            conformance!(@case $make, a_merged_issue_counts_into_its_target_and_alerts_nothing);
            conformance!(@case $make, issues_read_by_id_are_those_one_by_one);
            conformance!(@case $make, unmerge_lets_an_issue_count_its_own_again);
            conformance!(@case $make, merges_join_live_issues_and_chains_are_followed);
            conformance!(@case $make, a_merge_racing_batches_loses_no_occurrence);
            conformance!(@case $make, a_new_fingerprint_joining_previous_issues_makes_them_one_without_an_alert);
            conformance!(@case $make, a_join_cut_short_is_finished_by_the_next_batch_with_the_fingerprint);
            conformance!(@case $make, batches_joining_the_same_issues_at_once_count_each_occurrence_once);
        }
    };
    (@case $make:expr, $name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (store, _guard) = $make.await;
            cases::$name(store.as_ref()).await;
        }
    };
}

/// Time passing for a store's expiring records. DynamoDB deletes items
/// whose `expires_at` (seconds) has passed in a process of its own, which
/// moto does not run: [`Aging::pass`] does what it does. SQLite prunes on
/// write and needs nothing.
pub enum Aging {
    Sqlite(std::path::PathBuf),
    DynamoDb(aws_sdk_dynamodb::Client, String),
}

impl Aging {
    async fn items(
        client: &aws_sdk_dynamodb::Client,
        table: &str,
    ) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        support::scan(client, table).await
    }

    pub async fn pass(&self, now: i64) {
        let Aging::DynamoDb(client, table) = self else {
            return;
        };
        for item in Self::items(client, table).await {
            let expired = match item.get("expires_at") {
                Some(AttributeValue::N(at)) => at.parse::<i64>().unwrap() <= now / 1000,
                _ => false,
            };
            if expired {
                let key = ["pk", "sk"].map(|k| (k.to_string(), item[k].clone()));
                client
                    .delete_item()
                    .table_name(table)
                    .set_key(Some(key.into_iter().collect()))
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// How many stored records belong to the run `key` (`id`).
    pub async fn mentioning(&self, key: &str, id: &str) -> usize {
        match self {
            Aging::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.query_row(
                    "SELECT (SELECT count(*) FROM runs WHERE key = ?1 OR id = ?2 OR merged_into = ?1)
                          + (SELECT count(*) FROM run_issues WHERE run_key = ?1)
                          + (SELECT count(*) FROM run_parts WHERE run_key = ?1)",
                    rusqlite::params![key, id],
                    |row| row.get::<_, i64>(0),
                )
                .unwrap() as usize
            }
            Aging::DynamoDb(client, table) => Self::items(client, table)
                .await
                .iter()
                .filter(|item| {
                    ["pk", "sk"].iter().any(|k| match item.get(*k) {
                        Some(AttributeValue::S(v)) => v.contains(id),
                        _ => false,
                    })
                })
                .count(),
        }
    }
}

#[tokio::test]
async fn sqlite_settled_runs_expire_after_retention() {
    let (store, dir) = sqlite_store().await;
    let aging = Aging::Sqlite(dir.path().join("faultline.db"));
    cases::settled_runs_expire_after_retention(store.as_ref(), &aging).await;
}

#[tokio::test]
async fn dynamodb_settled_runs_expire_after_retention() {
    let Some(moto) = support::moto() else {
        return;
    };
    let client = moto.dynamodb(None).await;
    let table = support::unique("conformance");
    let store = faultline::store::dynamodb::DynamoDbStore::new(client.clone(), &table).unwrap();
    store.init().await.unwrap();
    let aging = Aging::DynamoDb(client, table);
    cases::settled_runs_expire_after_retention(&store, &aging).await;
}

/// What a settlement's released alert says is the same on both stores,
/// to the byte: readers of the outbox cannot tell the stores apart.
#[tokio::test]
async fn a_held_alert_released_at_settle_says_the_same_on_both_stores() {
    let Some((dynamodb, _moto)) = support::dynamodb_store().await else {
        return;
    };
    let (sqlite, _dir) = sqlite_store().await;
    let on_sqlite = cases::a_held_alert_released_at_settle(sqlite.as_ref()).await;
    let on_dynamodb = cases::a_held_alert_released_at_settle(dynamodb.as_ref()).await;
    assert_eq!(
        serde_json::to_value(&on_dynamodb).unwrap(),
        serde_json::to_value(&on_sqlite).unwrap()
    );
}

/// A store's records reached around it, to damage one as a bug, a hand
/// edit or an older writer could.
pub enum Underneath {
    Sqlite(std::path::PathBuf),
    DynamoDb(aws_sdk_dynamodb::Client, String),
}

/// What [`Underneath::damage_job`] replaced, for its repair.
pub enum KeptJob {
    Sqlite(Vec<(String, i64)>),
    DynamoDb(AttributeValue),
}

impl Underneath {
    /// How many stored records belong to the run `key` (`id`).
    pub async fn mentioning(&self, key: &str, id: &str) -> usize {
        let aging = match self {
            Underneath::Sqlite(path) => Aging::Sqlite(path.clone()),
            Underneath::DynamoDb(client, table) => Aging::DynamoDb(client.clone(), table.clone()),
        };
        aging.mentioning(key, id).await
    }

    /// Makes job `job`'s record of its issues unreadable.
    pub async fn damage_job(&self, job: &str) -> KeptJob {
        match self {
            Underneath::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let kept = conn
                    .prepare("SELECT issue_id, last_run FROM job_issues WHERE job = ?1")
                    .unwrap()
                    .query_map([job], |row| Ok((row.get(0)?, row.get(1)?)))
                    .unwrap()
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .unwrap();
                assert!(!kept.is_empty());
                conn.execute("UPDATE job_issues SET last_run = 'x' WHERE job = ?1", [job])
                    .unwrap();
                KeptJob::Sqlite(kept)
            }
            Underneath::DynamoDb(client, table) => {
                let key = Self::job_key(job);
                let read = client
                    .get_item()
                    .table_name(table)
                    .set_key(Some(key.clone()))
                    .send()
                    .await
                    .unwrap();
                let kept = read.item().unwrap()["issues"].clone();
                Self::set_job_issues(client, table, key, AttributeValue::S("[[".into())).await;
                KeptJob::DynamoDb(kept)
            }
        }
    }

    /// Puts back what [`Underneath::damage_job`] replaced.
    pub async fn repair_job(&self, job: &str, kept: KeptJob) {
        match (self, kept) {
            (Underneath::Sqlite(path), KeptJob::Sqlite(rows)) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                for (issue, last_run) in rows {
                    conn.execute(
                        "UPDATE job_issues SET last_run = ?3 WHERE job = ?1 AND issue_id = ?2",
                        rusqlite::params![job, issue, last_run],
                    )
                    .unwrap();
                }
            }
            (Underneath::DynamoDb(client, table), KeptJob::DynamoDb(issues)) => {
                Self::set_job_issues(client, table, Self::job_key(job), issues).await;
            }
            _ => panic!("repaired with what another store kept"),
        }
    }

    fn job_key(job: &str) -> std::collections::HashMap<String, AttributeValue> {
        std::collections::HashMap::from([
            ("pk".to_string(), AttributeValue::S(format!("JOB#{job}"))),
            ("sk".to_string(), AttributeValue::S("JOB".into())),
        ])
    }

    async fn set_job_issues(
        client: &aws_sdk_dynamodb::Client,
        table: &str,
        key: std::collections::HashMap<String, AttributeValue>,
        issues: AttributeValue,
    ) {
        client
            .update_item()
            .table_name(table)
            .set_key(Some(key))
            .update_expression("SET issues = :issues")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":issues", issues)
            .send()
            .await
            .unwrap();
    }

    /// Makes run `id`'s record unreadable and more: SQLite's as
    /// [`Underneath::damage_run`] does, DynamoDB's item left without its
    /// error count, its version and the time it is indexed at.
    pub async fn damage_run_badly(&self, id: &str) {
        match self {
            Underneath::Sqlite(_) => self.damage_run(id).await,
            Underneath::DynamoDb(client, table) => {
                client
                    .update_item()
                    .table_name(table)
                    .key("pk", AttributeValue::S("RUNS".into()))
                    .key("sk", AttributeValue::S(id.into()))
                    .update_expression("REMOVE #errors, #ver, #at")
                    .condition_expression("attribute_exists(#at)")
                    .expression_attribute_names("#errors", "errors")
                    .expression_attribute_names("#ver", "ver")
                    .expression_attribute_names("#at", "at")
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Makes run `id`'s record unreadable: its error count a word.
    pub async fn damage_run(&self, id: &str) {
        match self {
            Underneath::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let changed = conn
                    .execute("UPDATE runs SET errors = 'many' WHERE id = ?1", [id])
                    .unwrap();
                assert_eq!(changed, 1);
            }
            Underneath::DynamoDb(client, table) => {
                client
                    .update_item()
                    .table_name(table)
                    .key("pk", AttributeValue::S("RUNS".into()))
                    .key("sk", AttributeValue::S(id.into()))
                    .update_expression("SET errors = :word")
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_values(":word", AttributeValue::S("many".into()))
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// A case that reaches around the store (`Underneath`), as a test on each
/// store: `CASE::sqlite` and `CASE::dynamodb`.
macro_rules! underneath_case {
    ($case:ident) => {
        mod $case {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let (store, dir) = sqlite_store().await;
                let underneath = Underneath::Sqlite(dir.path().join("faultline.db"));
                cases::$case(store.as_ref(), &underneath).await;
            }

            #[tokio::test]
            async fn dynamodb() {
                let Some((store, underneath)) = dynamodb_underneath().await else {
                    return;
                };
                cases::$case(&store, &underneath).await;
            }
        }
    };
}

underneath_case!(a_run_that_cannot_settle_holds_back_no_other);
underneath_case!(a_run_repaired_after_failed_settlings_settles_as_if_never_tried);
underneath_case!(a_damaged_run_is_forgotten_and_settles_no_more);
underneath_case!(a_damaged_run_hides_no_other_run_from_listings_prefixes_or_names);

/// A fresh DynamoDB store on the emulator, and its table reached around it.
async fn dynamodb_underneath() -> Option<(faultline::store::dynamodb::DynamoDbStore, Underneath)> {
    let moto = support::moto()?;
    let client = moto.dynamodb(None).await;
    let table = support::unique("conformance");
    let store = faultline::store::dynamodb::DynamoDbStore::new(client.clone(), &table).unwrap();
    store.init().await.unwrap();
    Some((store, Underneath::DynamoDb(client, table)))
}

async fn sqlite_store() -> (Box<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("faultline.db").display());
    let store = faultline::store::open(&url).await.unwrap();
    store.init().await.unwrap();
    (store, dir)
}

conformance!(sqlite, sqlite_store());
runs_conformance!(sqlite_runs, sqlite_store());

// On the emulator (tests/support). When it is not installed each case
// returns early after saying so: `$make` is spliced into the test body, so
// this `return` leaves the test, not the match.
conformance!(
    dynamodb,
    match support::dynamodb_store().await {
        Some(made) => std::future::ready(made),
        None => return,
    }
);
runs_conformance!(
    dynamodb_runs,
    match support::dynamodb_store().await {
        Some(made) => std::future::ready(made),
        None => return,
    }
);
