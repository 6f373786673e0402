//! Listing a large SQLite store: one page of the issue list, filtered and
//! sorted every way the CLI and the web UI ask for it.
//!
//!     cargo bench --bench listing
//!
//! Builds a store of 50,000 issues (in 10 log groups, 5 kinds, hours over
//! the last two days, a few context fields and one sample each), then times each query
//! (median of 9 runs) against a baseline measured in the same run: reading
//! every open issue the way `faultline issues` did before the listing query
//! (`Store::issues`, one row per issue, nothing else).

use std::time::{Duration, Instant};

use faultline::model::{
    BatchSummary, FacetCount, HourCount, IssueDelta, IssueQuery, IssueSort, Sample, StatusFilter,
};
use faultline::policy::Policy;

const ISSUES: usize = 50_000;
const PER_BATCH: usize = 500;
const RUNS: usize = 9;
const HOUR: i64 = 3_600_000;
const NOW: i64 = 1_763_899_200_000;

fn delta(i: usize) -> IssueDelta {
    let kind = [
        "KeyError",
        "TimeoutError",
        "ValueError",
        "NullPointerException",
        "ClientError",
    ][i % 5];
    let fingerprint = format!("bench-{i:06}");
    let hours: Vec<HourCount> = (0..3)
        .map(|h| HourCount {
            hour: NOW - ((i as i64 * 7 + h * 13) % 48) * HOUR,
            count: 1 + (i as u64 * 31 + h as u64) % 17,
        })
        .collect();
    let count = hours.iter().map(|h| h.count).sum();
    let facet = |name: &str, value: String| FacetCount {
        name: name.into(),
        value,
        count,
    };
    IssueDelta {
        title: format!("{kind}: record {fingerprint} could not be processed"),
        kind: kind.into(),
        fingerprint,
        count,
        first_seen: hours.iter().map(|h| h.hour).min().unwrap_or(NOW),
        last_seen: hours.iter().map(|h| h.hour).max().unwrap_or(NOW) + 1_000,
        // One kept sample each, whose message says more than the title:
        // `--grep` looks in it on SQLite.
        samples: vec![Sample {
            log_group: "/aws/lambda/app".into(),
            log_stream: "s".into(),
            event_id: i.to_string(),
            timestamp: NOW,
            kind: kind.into(),
            message: format!(
                "{kind}: record bench-{i:06} could not be processed: upstream answered 503 to request {i:08x} after 3 attempts"
            ),
            shape: "python-text".into(),
            fields: vec![(
                "stack".into(),
                "  File \"/var/task/app.py\", line 41, in handler".into(),
            )],
        }],
        hours,
        facets: vec![
            facet(
                "log_stream",
                format!("2025/11/23/[$LATEST]{:032x}", i % 997),
            ),
            facet("environment", ["prod", "staging", "dev"][i % 3].into()),
            facet("service", format!("service-{}", i % 40)),
        ],
        versions: Vec::new(),
        previous: Vec::new(),
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // `cargo test --all-targets` runs benches once as tests; stay quick there.
    let bench = std::env::args().any(|a| a == "--bench");
    let (issues, runs) = if bench { (ISSUES, RUNS) } else { (1_000, 1) };
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("listing.db").display());
    let store = faultline::store::open(&url).await.expect("open the store");
    let started = Instant::now();
    let batches: Vec<BatchSummary> = (0..issues.div_ceil(PER_BATCH))
        .map(|b| BatchSummary {
            batch_id: format!("batch-{b}"),
            owner: "123456789012".into(),
            log_group: format!("/aws/lambda/app-{}", b % 10),
            log_stream: "s".into(),
            events: PER_BATCH,
            errors: PER_BATCH,
            issues: (b * PER_BATCH..((b + 1) * PER_BATCH).min(issues))
                .map(delta)
                .collect(),
            runs: Vec::new(),
        })
        .collect();
    let policy = Policy {
        new_issue: false,
        ..Policy::default()
    };
    store
        .record_all(&batches, NOW, &policy)
        .await
        .expect("record the issues");
    eprintln!(
        "built a store of {issues} issues in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let page = |sort| IssueQuery {
        sort,
        limit: Some(50),
        ..IssueQuery::status(StatusFilter::Open)
    };
    let queries: Vec<(&str, IssueQuery)> = vec![
        ("page of 50, last seen", page(IssueSort::Last)),
        ("page of 50, count", page(IssueSort::Count)),
        ("page of 50, first seen", page(IssueSort::First)),
        ("page of 50, trend", page(IssueSort::Trend)),
        (
            "text 'record bench-04', count",
            IssueQuery {
                text: Some("record bench-04".into()),
                ..page(IssueSort::Count)
            },
        ),
        (
            "text only in sample messages 'request 0000c3', count",
            IssueQuery {
                text: Some("request 0000c3".into()),
                ..page(IssueSort::Count)
            },
        ),
        (
            "log group + kind, trend",
            IssueQuery {
                log_group: Some("/aws/lambda/app-3".into()),
                kind: Some("KeyError".into()),
                ..page(IssueSort::Trend)
            },
        ),
        (
            "environment: prod + service, last seen",
            IssueQuery {
                fields: vec![
                    ("environment".into(), "prod".into()),
                    ("service".into(), "service-7".into()),
                ],
                ..page(IssueSort::Last)
            },
        ),
        (
            "last 6 hours, page 20 of 50",
            IssueQuery {
                since: Some(NOW - 6 * HOUR),
                offset: 950,
                ..page(IssueSort::Last)
            },
        ),
    ];

    let mut baseline = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let all = store.issues(StatusFilter::Open).await.expect("issues");
        baseline.push(t.elapsed());
        assert_eq!(all.len(), issues);
    }
    let baseline = median(baseline);
    println!(
        "baseline: every open issue read (Store::issues): {:.1} ms",
        ms(baseline)
    );
    println!("| query ({issues} issues) | matches | median | / baseline |");
    println!("|---|---:|---:|---:|");
    for (name, query) in &queries {
        let mut times = Vec::new();
        let mut total = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let page = store.list(query).await.expect("list");
            times.push(t.elapsed());
            total = page.total;
        }
        let t = median(times);
        println!(
            "| {name} | {total} | {:.1} ms | {:.2} |",
            ms(t),
            t.as_secs_f64() / baseline.as_secs_f64()
        );
    }
}
