//! One suite, every store: the semantics DESIGN.md promises, pinned once.
//!
//! Each case takes a fresh, empty store. `conformance!` instantiates every
//! case for one backend; the SQLite backend runs everywhere, the DynamoDB one
//! against the emulator (see tests/support).

use faultline::aggregate::{BatchSummary, IssueDelta, Sample};
use faultline::alert::EventType;
use faultline::store::{MAX_SAMPLES, Status, StatusFilter, Store};

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
        }
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
        }
    }

    fn id_of(fingerprint: &str) -> String {
        faultline::aggregate::issue_id(fingerprint)
    }

    pub async fn a_batch_creates_its_issues_with_counts(store: &dyn Store) {
        let recorded = store
            .record(
                &batch("b1", vec![delta("fp-a", 4, 1000), delta("fp-b", 1, 2000)]),
                NOW,
            )
            .await
            .unwrap();
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
        store.record(&b, NOW).await.unwrap();
        let before = store.issue(&id_of("fp-a")).await.unwrap().unwrap();
        for _ in 0..3 {
            let again = store.record(&b, NOW + 5).await.unwrap();
            assert!(again.duplicate);
            assert!(again.new_issues.is_empty());
        }
        let after = store.issue(&id_of("fp-a")).await.unwrap().unwrap();
        assert_eq!(before, after);
        let alerts = store.claim_alerts(NOW + 10, LEASE).await.unwrap();
        assert_eq!(alerts.len(), 1, "a replay must not queue a second alert");
    }

    pub async fn later_batches_add_to_counts_and_widen_seen_times(store: &dyn Store) {
        store
            .record(&batch("b1", vec![delta("fp-a", 4, 5000)]), NOW)
            .await
            .unwrap();
        let r = store
            .record(&batch("b2", vec![delta("fp-a", 3, 1000)]), NOW + 1)
            .await
            .unwrap();
        assert!(r.new_issues.is_empty());
        store
            .record(&batch("b3", vec![delta("fp-a", 2, 9000)]), NOW + 2)
            .await
            .unwrap();
        let a = store.issue(&id_of("fp-a")).await.unwrap().unwrap().issue;
        assert_eq!(a.count, 9);
        assert_eq!(a.first_seen, 1000);
        assert_eq!(a.last_seen, 9010);
    }

    pub async fn a_new_issue_queues_one_alert_until_sent(store: &dyn Store) {
        store
            .record(
                &batch("b1", vec![delta("fp-a", 1, 1000), delta("fp-b", 2, 1000)]),
                NOW,
            )
            .await
            .unwrap();
        store
            .record(&batch("b2", vec![delta("fp-a", 1, 2000)]), NOW)
            .await
            .unwrap();
        let alerts = store.claim_alerts(NOW, LEASE).await.unwrap();
        assert_eq!(alerts.len(), 1, "one digest for the batch's new issues");
        let alert = &alerts[0];
        assert_eq!(alert.event_type, EventType::NewIssue);
        assert_eq!(alert.log_group, "/aws/lambda/f");
        let mut ids: Vec<_> = alert.issues.iter().map(|i| i.id.clone()).collect();
        ids.sort();
        let mut expected = vec![id_of("fp-a"), id_of("fp-b")];
        expected.sort();
        assert_eq!(ids, expected);
        assert!(alert.issues.iter().all(|i| i.sample.is_some()));

        // Leased: nobody else gets it while the lease runs.
        assert!(store.claim_alerts(NOW + 1, LEASE).await.unwrap().is_empty());
        // Not sent before the lease ran out: handed out again.
        let again = store.claim_alerts(NOW + LEASE + 1, LEASE).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, alert.id);
        store.alert_sent(&alert.id, NOW + LEASE + 2).await.unwrap();
        assert!(
            store
                .claim_alerts(NOW + 10 * LEASE, LEASE)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn a_resolved_issue_that_recurs_regresses(store: &dyn Store) {
        store
            .record(&batch("b1", vec![delta("fp-a", 1, 1000)]), NOW)
            .await
            .unwrap();
        for alert in store.claim_alerts(NOW, LEASE).await.unwrap() {
            store.alert_sent(&alert.id, NOW).await.unwrap();
        }
        let id = id_of("fp-a");
        let resolved = store.set_status(&id, Status::Resolved).await.unwrap();
        assert_eq!(resolved.status, Status::Resolved);
        assert!(store.issues(StatusFilter::Open).await.unwrap().is_empty());

        let r = store
            .record(&batch("b2", vec![delta("fp-a", 2, 5000)]), NOW + 100)
            .await
            .unwrap();
        assert_eq!(r.regressions, vec![id.clone()]);
        let issue = store.issue(&id).await.unwrap().unwrap().issue;
        assert_eq!(issue.status, Status::Open);
        assert_eq!(issue.regressed_at, Some(NOW + 100));
        assert_eq!(issue.count, 3);
        let alerts = store.claim_alerts(NOW + 200, LEASE).await.unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].event_type, EventType::Regression);
        assert_eq!(alerts[0].issues[0].id, id);
    }

    pub async fn an_ignored_issue_counts_but_never_alerts(store: &dyn Store) {
        store
            .record(&batch("b1", vec![delta("fp-a", 1, 1000)]), NOW)
            .await
            .unwrap();
        for alert in store.claim_alerts(NOW, LEASE).await.unwrap() {
            store.alert_sent(&alert.id, NOW).await.unwrap();
        }
        let id = id_of("fp-a");
        store.set_status(&id, Status::Ignored).await.unwrap();
        store
            .record(&batch("b2", vec![delta("fp-a", 5, 2000)]), NOW)
            .await
            .unwrap();
        let issue = store.issue(&id).await.unwrap().unwrap().issue;
        assert_eq!(issue.status, Status::Ignored);
        assert_eq!(issue.count, 6);
        assert!(store.claim_alerts(NOW + 1, LEASE).await.unwrap().is_empty());
        assert_eq!(store.issues(StatusFilter::Ignored).await.unwrap().len(), 1);
        assert!(store.issues(StatusFilter::Open).await.unwrap().is_empty());
        let reopened = store.set_status(&id, Status::Open).await.unwrap();
        assert_eq!(reopened.status, Status::Open);
    }

    pub async fn samples_stay_bounded_newest_first(store: &dyn Store) {
        for i in 0..(MAX_SAMPLES as i64 + 5) {
            store
                .record(
                    &batch(&format!("b{i}"), vec![delta("fp-a", 1, 1000 * i)]),
                    NOW + i,
                )
                .await
                .unwrap();
        }
        let detail = store.issue(&id_of("fp-a")).await.unwrap().unwrap();
        assert_eq!(detail.samples.len(), MAX_SAMPLES);
        assert_eq!(detail.samples[0].timestamp, 1000 * (MAX_SAMPLES as i64 + 4));
        assert!(
            detail
                .samples
                .windows(2)
                .all(|w| w[0].timestamp > w[1].timestamp)
        );
        assert_eq!(
            detail.samples[0].fields,
            vec![("requestId".into(), "r-1".into())]
        );
    }

    pub async fn unknown_ids_are_reported(store: &dyn Store) {
        assert!(store.issue("000000000000").await.unwrap().is_none());
        let err = store
            .set_status("000000000000", Status::Resolved)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no issue with id"), "{err}");
    }
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
            conformance!(@case $make, later_batches_add_to_counts_and_widen_seen_times);
            conformance!(@case $make, a_new_issue_queues_one_alert_until_sent);
            conformance!(@case $make, a_resolved_issue_that_recurs_regresses);
            conformance!(@case $make, an_ignored_issue_counts_but_never_alerts);
            conformance!(@case $make, samples_stay_bounded_newest_first);
            conformance!(@case $make, unknown_ids_are_reported);
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

async fn sqlite_store() -> (Box<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("faultline.db").display());
    let store = faultline::store::open(&url).await.unwrap();
    store.init().await.unwrap();
    (store, dir)
}

conformance!(sqlite, sqlite_store());
