//! template.yaml: cfn-lint finds no error, and what cfn-lint does not check
//! holds: every reference names something that exists, the function gets the
//! settings and only the permissions the code needs, and the table is the one
//! src/store/dynamodb.rs expects.
//!
//! The template is read as text, not as YAML: CloudFormation's short tags
//! (`!Ref`, `!Sub`, `!GetAtt`) trip generic YAML parsers, and the checks
//! below only need names and indentation.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use faultline::store::dynamodb::{LISTING_ATTRIBUTES, STATUS_INDEX, TTL_ATTRIBUTE};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn template() -> String {
    std::fs::read_to_string(root().join("template.yaml")).expect("read template.yaml")
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The lines nested under the first line whose trimmed text is `header`,
/// searching from the first line containing `after`.
fn block<'a>(text: &'a str, after: &str, header: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains(after))
        .unwrap_or_else(|| panic!("no {after:?} in template"));
    let at = lines[start..]
        .iter()
        .position(|l| l.trim() == header)
        .map(|i| i + start)
        .unwrap_or_else(|| panic!("no {header:?} after {after:?}"));
    let base = indent(lines[at]);
    lines[at + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || indent(l) > base)
        .copied()
        .collect()
}

/// Names declared at two spaces under a top-level section, with the `Type`
/// each declares (if any).
fn declared(text: &str, section: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in block(text, &format!("{section}:"), &format!("{section}:")) {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if indent(line) == 2 && line.contains(':') {
            let name = line
                .trim()
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string();
            names.insert(name.clone(), String::new());
            current = Some(name);
        } else if indent(line) == 4 && line.trim().starts_with("Type:") {
            if let Some(name) = &current {
                names.insert(
                    name.clone(),
                    line.trim()["Type:".len()..].trim().to_string(),
                );
            }
        }
    }
    names
}

#[test]
fn cfn_lint_finds_no_error() {
    let cfn_lint = root().join(".venv/bin/cfn-lint");
    if !cfn_lint.exists() {
        let why = "cfn-lint is not installed in .venv (run scripts/setup-test-env.sh)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true and {why}");
        }
        // Straight to stderr: libtest hides eprintln! of passing tests.
        let _ = writeln!(std::io::stderr(), "\n*** SKIPPING cfn-lint: {why} ***\n");
        return;
    }
    let out = Command::new(&cfn_lint)
        .arg(root().join("template.yaml"))
        .output()
        .expect("run cfn-lint");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 notes; 1 a crash.
    let code = out.status.code().unwrap_or(1);
    assert!(
        code & 0b11 == 0,
        "cfn-lint reports errors (exit {code}):\n{report}"
    );
    if code != 0 {
        eprintln!("cfn-lint warnings/notes (exit {code}):\n{report}");
    }
}

#[test]
fn every_reference_names_a_parameter_resource_or_condition() {
    let text = template();
    let parameters = declared(&text, "Parameters");
    let resources = declared(&text, "Resources");
    let conditions = declared(&text, "Conditions");
    assert!(resources.contains_key("FaultlineFunction"));
    let known = |name: &str| {
        name.starts_with("AWS::") || parameters.contains_key(name) || resources.contains_key(name)
    };
    let reference = regex::Regex::new(
        r"!Ref\s+([A-Za-z0-9:]+)|!GetAtt\s+([A-Za-z0-9]+)\.|\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z]+)?\}",
    )
    .unwrap();
    let mut seen = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        for caps in reference.captures_iter(line) {
            let name = caps.iter().skip(1).flatten().next().unwrap().as_str();
            assert!(
                known(name),
                "line {}: {name:?} is neither a parameter nor a resource: {line}",
                n + 1
            );
            seen.insert(name.to_string());
        }
        if let Some(condition) = line.trim().strip_prefix("Condition: ") {
            assert!(
                conditions.contains_key(condition),
                "line {}: no condition {condition:?}",
                n + 1
            );
        }
    }
    // The function's settings point at the right kinds of thing.
    let environment = block(&text, "FaultlineFunction:", "Variables:").join("\n");
    assert!(
        environment.contains(r#"FAULTLINE_STORE: !Sub "dynamodb://${IssuesTable}""#),
        "{environment}"
    );
    assert!(
        environment.contains(r#"FAULTLINE_NOTIFY: !Sub "sns://${AlertTopic}""#),
        "{environment}"
    );
    assert_eq!(resources["IssuesTable"], "AWS::DynamoDB::Table");
    assert_eq!(resources["AlertTopic"], "AWS::SNS::Topic");
    assert_eq!(resources["FailedEventsQueue"], "AWS::SQS::Queue");
    for name in [
        "IssuesTable",
        "AlertTopic",
        "FailedEventsQueue",
        "LogGroupName",
        "FilterPattern",
    ] {
        assert!(seen.contains(name), "{name} is never referenced");
    }
}

#[test]
fn the_function_gets_only_what_its_code_uses() {
    let text = template();
    let policies = block(&text, "FaultlineFunction:", "Policies:");
    let actions: BTreeSet<&str> = policies
        .iter()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .chain(
            policies
                .iter()
                .filter_map(|l| l.trim().strip_prefix("Action: ")),
        )
        .filter(|a| a.contains(':') && !a.contains(' '))
        .collect();
    // record: BatchGetItem + TransactWriteItems (= PutItem, UpdateItem) and
    // PutItem for error-free batches; claim_alerts: Query + UpdateItem;
    // alert_sent: DeleteItem. Nothing else runs in the Lambda.
    let expected: BTreeSet<&str> = [
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "sns:Publish",
        "sqs:SendMessage",
    ]
    .into();
    assert_eq!(actions, expected);
    let joined = policies.join("\n");
    assert!(
        !joined.contains('*'),
        "no wildcards in the function's policy:\n{joined}"
    );
    assert!(joined.contains("Resource: !GetAtt IssuesTable.Arn"));
    assert!(joined.contains("Resource: !Ref AlertTopic"));
    assert!(joined.contains("Resource: !GetAtt FailedEventsQueue.Arn"));

    let function = block(&text, "FaultlineFunction:", "Properties:").join("\n");
    for setting in [
        "Runtime: provided.al2023",
        "Handler: bootstrap",
        "- arm64",
        "Type: CloudWatchLogs",
        "LogGroupName: !Ref LogGroupName",
        "FilterPattern: !Ref FilterPattern",
        "MaximumRetryAttempts: 2",
        "Destination: !GetAtt FailedEventsQueue.Arn",
    ] {
        assert!(function.contains(setting), "function lacks {setting:?}");
    }
    let metadata = block(&text, "FaultlineFunction:", "Metadata:").join("\n");
    assert!(metadata.contains("BuildMethod: rust-cargolambda"));
    assert!(metadata.contains("Binary: bootstrap"));
}

#[test]
fn the_table_is_the_one_the_store_expects() {
    let text = template();
    let table = block(&text, "IssuesTable:", "Properties:").join("\n");
    assert!(table.contains("BillingMode: PAY_PER_REQUEST"));
    assert!(
        table.contains(&format!(
            "AttributeName: {TTL_ATTRIBUTE}\n        Enabled: true"
        )),
        "{table}"
    );
    assert!(table.contains(&format!("IndexName: {STATUS_INDEX}")));
    let projected: Vec<String> = block(&text, "IssuesTable:", "NonKeyAttributes:")
        .iter()
        .map(|l| l.trim().trim_start_matches("- ").to_string())
        .collect();
    assert_eq!(projected, LISTING_ATTRIBUTES);
    for (name, kind) in [
        ("pk", "S"),
        ("sk", "S"),
        ("status", "S"),
        ("last_seen", "N"),
    ] {
        assert!(
            table.contains(&format!(
                "- AttributeName: {name}\n          AttributeType: {kind}"
            )),
            "attribute {name} {kind}"
        );
    }
    let email = block(&text, "AlertEmailSubscription:", "Properties:").join("\n");
    assert!(email.contains("Protocol: email"));
    assert!(text.contains(
        "  AlertEmailSubscription:\n    Type: AWS::SNS::Subscription\n    Condition: HasAlertEmail"
    ));
    let alarm = block(&text, "FailedEventsAlarm:", "Properties:").join("\n");
    assert!(alarm.contains("MetricName: ApproximateNumberOfMessagesVisible"));
    assert!(alarm.contains("Value: !GetAtt FailedEventsQueue.QueueName"));
}

#[test]
fn the_dashboard_charts_the_metrics_the_function_emits() {
    let text = template();
    let dashboard = block(&text, "Dashboard:", "Properties:").join("\n");
    assert!(dashboard.contains("DashboardBody: !Sub |"));
    for metric in ["ErrorOccurrences", "NewIssues", "Regressions"] {
        assert!(faultline::metrics::METRICS.contains(&metric));
        let search = format!(
            "{{{},LogGroup}} MetricName=\\\"{metric}\\\"",
            faultline::metrics::NAMESPACE
        );
        assert!(dashboard.contains(&search), "the dashboard lacks {search}");
    }
    // The body is JSON once CloudFormation substitutes ${...}.
    let body: String = dashboard
        .lines()
        .skip_while(|l| !l.contains("DashboardBody"))
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n")
        .replace("${AWS::Region}", "us-east-1")
        .replace("${FaultlineFunction}", "f")
        .replace("${FailedEventsQueue.QueueName}", "q");
    let parsed: serde_json::Value = serde_json::from_str(&body).expect("dashboard body is JSON");
    assert_eq!(parsed["widgets"].as_array().map(Vec::len), Some(4));
    let function = block(&text, "FaultlineFunction:", "Properties:").join("\n");
    assert!(function.contains("FAULTLINE_POLICY: !Ref AlertPolicy"));
}
