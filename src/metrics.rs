//! CloudWatch metrics through the Embedded Metric Format.
//!
//! The Lambda prints one EMF line per batch to standard output; Lambda ships
//! it to CloudWatch Logs, which turns it into metrics without a PutMetricData
//! call (no extra request, no extra IAM permission, no latency). The
//! dashboard in template.yaml charts them per source log group.

use serde_json::json;

use crate::model::{BatchSummary, Recorded};

/// The CloudWatch namespace of faultline's metrics.
pub const NAMESPACE: &str = "faultline";

/// The metrics of each batch (template.yaml's dashboard charts them).
/// `ErrorsPastIssueLimit` counts the errors a batch had past
/// [`crate::limits::MAX_ISSUES_PER_BATCH`] distinct issues, which went into
/// its log group's overflow issue: an alarm on it says that a flood of
/// distinct errors is being summed up rather than tracked one by one.
pub const METRICS: [&str; 5] = [
    "ErrorOccurrences",
    "NewIssues",
    "Regressions",
    "LogEvents",
    "ErrorsPastIssueLimit",
];

/// The metric of each failed invocation, with the dimension `ErrorType`
/// (template.yaml's dashboard charts it): Lambda's own `Errors` metric
/// counts failures but cannot tell a bad payload from a store outage.
pub const FAILURES: &str = "InvocationFailures";

/// The metric of the runs an invocation could not settle for good
/// (template.yaml's dashboard charts it, and its `RunsNotSettledAlarm`
/// fires on it). Such a run is tried again at every flush and warned about
/// each time; its held alerts and digest wait. The Kinesis answer has no
/// field for it, so the metric is what an operator can chart and alarm on,
/// whichever way the function was invoked.
pub const RUNS_NOT_SETTLED: &str = "RunsNotSettled";

/// The EMF line for `runs` runs an invocation of `function` (Lambda's
/// `AWS_LAMBDA_FUNCTION_NAME`) could not settle. The function's name is
/// its one dimension, so that the alarm of each stack in an account watches
/// its own function; a run id as a dimension would make one metric per
/// run (the warning lines name the runs). Without a name (not in Lambda)
/// the line has no dimension.
pub fn runs_not_settled_emf(runs: usize, function: Option<&str>, now: i64) -> String {
    let mut line = json!({
        "_aws": {
            "Timestamp": now,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [{"Name": RUNS_NOT_SETTLED, "Unit": "Count"}]
            }]
        },
        RUNS_NOT_SETTLED: runs,
    });
    if let Some(function) = function {
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([["FunctionName"]]);
        line["FunctionName"] = json!(function);
    }
    line.to_string()
}

/// The EMF line for one failed invocation of kind `error_type`.
pub fn failure_emf(error_type: &str, now: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": now,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["ErrorType"]],
                "Metrics": [{"Name": FAILURES, "Unit": "Count"}]
            }]
        },
        "ErrorType": error_type,
        FAILURES: 1,
    })
    .to_string()
}

/// The EMF line for one recorded batch, or `None` for a duplicate delivery
/// (its occurrences were counted when it first arrived).
pub fn emf(batch: &BatchSummary, recorded: &Recorded, now: i64) -> Option<String> {
    if recorded.duplicate {
        return None;
    }
    let line = json!({
        "_aws": {
            "Timestamp": now,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["LogGroup"]],
                "Metrics": METRICS.iter().map(|m| json!({"Name": m, "Unit": "Count"})).collect::<Vec<_>>()
            }]
        },
        "LogGroup": batch.log_group,
        METRICS[0]: batch.errors,
        METRICS[1]: recorded.new_issues.len(),
        METRICS[2]: recorded.regressions.len(),
        METRICS[3]: batch.events,
        METRICS[4]: batch.errors_past_issue_limit(),
    });
    Some(line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> BatchSummary {
        BatchSummary {
            batch_id: "b".into(),
            owner: "1".into(),
            log_group: "/aws/lambda/orders".into(),
            log_stream: "s".into(),
            events: 100,
            errors: 7,
            issues: Vec::new(),
            runs: Vec::new(),
        }
    }

    #[test]
    fn a_batch_becomes_one_emf_line_with_its_counts() {
        let recorded = Recorded {
            new_issues: vec!["a".into(), "b".into()],
            ..Recorded::default()
        };
        let line = emf(&batch(), &recorded, 1_700_000_000_000).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "faultline");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "LogGroup"
        );
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(v["LogGroup"], "/aws/lambda/orders");
        assert_eq!(v["ErrorOccurrences"], 7);
        assert_eq!(v["NewIssues"], 2);
        assert_eq!(v["ErrorsPastIssueLimit"], 0);
        assert!(!line.contains('\n'), "EMF is one line");
    }

    #[test]
    fn errors_past_the_issue_limit_are_a_metric_of_their_own() {
        let mut batch = batch();
        let mut overflow = crate::model::IssueDelta {
            fingerprint: crate::model::overflow_fingerprint(&batch.log_group),
            kind: crate::model::OVERFLOW_KIND.into(),
            title: "errors past the limit".into(),
            count: 40,
            first_seen: 0,
            last_seen: 0,
            samples: Vec::new(),
            hours: Vec::new(),
            facets: Vec::new(),
            versions: Vec::new(),
            previous: Vec::new(),
        };
        batch.issues.push(overflow.clone());
        let line = emf(&batch, &Recorded::default(), 0).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ErrorsPastIssueLimit"], 40);
        // An issue that merely looks like it is not the overflow issue.
        overflow.fingerprint = "v3:abc".into();
        batch.issues = vec![overflow];
        let line = emf(&batch, &Recorded::default(), 0).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ErrorsPastIssueLimit"], 0);
    }

    #[test]
    fn a_duplicate_delivery_emits_nothing() {
        let recorded = Recorded {
            duplicate: true,
            ..Recorded::default()
        };
        assert!(emf(&batch(), &recorded, 0).is_none());
    }

    #[test]
    fn a_failure_is_counted_under_its_type() {
        let line = failure_emf("StoreUnavailable", 1_700_000_000_000);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "ErrorType"
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            FAILURES
        );
        assert_eq!(v["ErrorType"], "StoreUnavailable");
        assert_eq!(v[FAILURES], 1);
    }

    #[test]
    fn runs_not_settled_are_one_count_by_function() {
        let line = runs_not_settled_emf(3, Some("faultline-prod"), 1_700_000_000_000);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["FunctionName"]])
        );
        assert_eq!(v["FunctionName"], "faultline-prod");
        assert_eq!(directive["Metrics"][0]["Name"], RUNS_NOT_SETTLED);
        assert_eq!(v[RUNS_NOT_SETTLED], 3);
        assert!(!line.contains('\n'), "EMF is one line");
    }

    #[test]
    fn runs_not_settled_outside_lambda_have_no_dimension() {
        let line = runs_not_settled_emf(1, None, 1_700_000_000_000);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], serde_json::json!([[]]));
        assert!(v.get("FunctionName").is_none(), "{line}");
    }
}
