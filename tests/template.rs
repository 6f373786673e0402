//! template.yaml: cfn-lint finds no error, and what cfn-lint does not check
//! holds: every reference names something that exists, the function gets the
//! settings and only the permissions the code needs, the table is the one
//! src/store/dynamodb.rs expects, the AlertPolicy parameter admits exactly
//! the policies the function accepts, and every alarm reaches the alert
//! topic with the attributes subscriptions filter on (run in moto).
//!
//! The template is read as text, not as YAML: CloudFormation's short tags
//! (`!Ref`, `!Sub`, `!GetAtt`) trip generic YAML parsers, and the checks
//! below only need names and indentation.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use faultline::limits::FAILED_EVENTS_RETENTION_MS;
use faultline::store::dynamodb::{LISTING_ATTRIBUTES, LISTING_INDEX, STATUS_INDEX, TTL_ATTRIBUTE};

mod support;

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
    // A `!Sub` with a variable map names its own variables (`- Name: ...`).
    let sub_variable = |name: &str| {
        text.lines()
            .any(|l| l.trim().starts_with(&format!("- {name}: ")))
    };
    let known = |name: &str| {
        name.starts_with("AWS::")
            || parameters.contains_key(name)
            || resources.contains_key(name)
            || sub_variable(name)
    };
    let reference = regex::Regex::new(
        r"!Ref\s+([A-Za-z0-9:]+)|!GetAtt\s+([A-Za-z0-9]+)\.|\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z]+)?\}",
    )
    .unwrap();
    let inline_if = regex::Regex::new(r"!If \[\s*([A-Za-z0-9]+)").unwrap();
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
        let trimmed = line.trim().trim_start_matches("- ");
        let next = || text.lines().nth(n + 1).unwrap_or("").trim();
        let condition = if let Some(name) = trimmed.strip_prefix("Condition: ") {
            Some(name)
        } else if let Some(caps) = inline_if.captures(line) {
            caps.get(1).map(|m| m.as_str())
        } else if trimmed == "!If" || trimmed.ends_with(": !If") {
            // `- !If` or `key: !If` ending a line names its condition on
            // the next.
            Some(next().trim_start_matches("- "))
        } else {
            None
        };
        if let Some(condition) = condition {
            seen.insert(condition.to_string());
            assert!(
                conditions.contains_key(condition),
                "line {}: no condition {condition:?}",
                n + 1
            );
        }
    }
    for condition in conditions.keys() {
        assert!(
            seen.contains(condition),
            "condition {condition} is never used"
        );
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
    assert!(
        environment.contains("FAULTLINE_OWN_LOG_GROUP: !Ref FunctionLogGroup"),
        "{environment}"
    );
    assert_eq!(resources["FailedEventsQueue"], "AWS::SQS::Queue");
    assert_eq!(resources["FunctionLogGroup"], "AWS::Logs::LogGroup");
    for name in [
        "IssuesTable",
        "AlertTopic",
        "FailedEventsQueue",
        "FunctionLogGroup",
        "FunctionRole",
        "LogGroupName",
        "FilterPattern",
        "AlertPolicy",
        "ReservedConcurrency",
        "AlertTopicKmsKeyArn",
    ] {
        assert!(seen.contains(name), "{name} is never referenced");
    }
}

/// moto does not check IAM, so a request the function's policy does not
/// grant passes every emulator test and fails on AWS (GetItem once did:
/// the settling tick and v3 joins would have been refused). Every DynamoDB
/// request the source makes is granted to the function, except those only
/// the CLI makes (creating and describing the table, its TTL and indexes,
/// and `store migrate`'s Scan).
#[test]
fn every_dynamodb_request_in_the_source_is_granted_to_the_function() {
    let cli_only = [
        "create_table",
        "describe_table",
        "update_table",
        "update_time_to_live",
        "describe_time_to_live",
        "scan",
    ];
    let granted: BTreeSet<String> = support::function_actions().into_iter().collect();
    let mut sources = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    let mut requests = BTreeSet::new();
    while let Some(path) = sources.pop() {
        if path.is_dir() {
            sources.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // The SDK's fluent calls, one per line: `.get_item()`.
        for line in text.lines() {
            let line = line.trim();
            if let Some(op) = line.strip_prefix('.').and_then(|l| l.strip_suffix("()")) {
                if text.contains("aws_sdk_dynamodb") || path.to_string_lossy().contains("dynamodb")
                {
                    requests.insert(op.to_string());
                }
            }
        }
    }
    let needs = |op: &str| -> Option<Vec<&'static str>> {
        Some(match op {
            "get_item" => vec!["dynamodb:GetItem"],
            "batch_get_item" => vec!["dynamodb:BatchGetItem"],
            "put_item" => vec!["dynamodb:PutItem"],
            "update_item" => vec!["dynamodb:UpdateItem"],
            "delete_item" => vec!["dynamodb:DeleteItem"],
            "query" => vec!["dynamodb:Query"],
            "transact_write_items" => vec![
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
            ],
            "batch_write_item" => vec!["dynamodb:BatchWriteItem"],
            "transact_get_items" => vec!["dynamodb:GetItem"],
            _ => return None,
        })
    };
    let mut seen = 0;
    for op in &requests {
        if cli_only.contains(&op.as_str()) {
            continue;
        }
        let Some(actions) = needs(op) else { continue };
        seen += 1;
        for action in actions {
            assert!(
                granted.contains(action),
                "the source calls DynamoDB's {op}, which needs {action}: grant it in FunctionRole or make the call the CLI's"
            );
        }
    }
    assert!(
        seen >= 6,
        "found only {seen} DynamoDB requests in the source: {requests:?}"
    );
}

/// The IAM actions a policy block grants, whether listed or single.
fn actions(policies: &[&str]) -> BTreeSet<String> {
    policies
        .iter()
        .map(|l| l.trim())
        .filter_map(|l| l.strip_prefix("- ").or_else(|| l.strip_prefix("Action: ")))
        .filter(|a| a.contains(':') && !a.contains(' '))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_function_gets_only_what_its_code_uses() {
    let text = template();
    let policies = block(&text, "FunctionRole:", "Policies:");
    // logs: its own group; the store's layout, a run to settle, issues to
    // join: GetItem; record: BatchGetItem + TransactWriteItems (=
    // PutItem, UpdateItem) and PutItem for error-free batches;
    // claim_alerts: Query + UpdateItem, GetItem + PutItem for the run of
    // leased alerts it skips; alert_sent: DeleteItem; alerts:
    // Publish, and the topic's key when it has one; held traces: Query,
    // TransactWriteItems with a ConditionCheck (ConditionCheckItem),
    // DeleteItem; the on-failure
    // destination: SendMessage; with a stream, what the event source
    // mapping reads it with. Nothing else runs in the Lambda.
    let expected: BTreeSet<String> = [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:ConditionCheckItem",
        "sns:Publish",
        "sqs:SendMessage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
    ]
    .map(String::from)
    .into();
    assert_eq!(actions(&policies), expected);
    // What the IAM-enforcing Lambda test (tests/lambda.rs) grants its user.
    let granted: BTreeSet<String> = support::function_actions().into_iter().collect();
    assert_eq!(granted, expected);
    let joined = policies.join("\n");
    assert!(
        !joined.contains('*'),
        "no wildcards in the function's policy:\n{joined}"
    );
    for resource in [
        "Resource: !GetAtt FunctionLogGroup.Arn",
        "Resource: !GetAtt IssuesTable.Arn",
        "Resource: !Ref AlertTopic",
        "Resource: !GetAtt FailedEventsQueue.Arn",
        "Resource: !Ref AlertTopicKmsKeyArn",
        "Resource: !If [UseExistingStream, !Ref ExistingStreamArn, !GetAtt LogStream.Arn]",
    ] {
        assert_eq!(
            policies.iter().filter(|l| l.trim() == resource).count(),
            1,
            "{resource} once:\n{joined}"
        );
    }
    assert!(
        joined.contains("- !If\n                - HasTopicKey"),
        "the key is granted only when there is one:\n{joined}"
    );
    assert!(
        joined.contains("- !If\n                - UseStream"),
        "the stream is read only when there is one:\n{joined}"
    );
    let role = block(&text, "FunctionRole:", "Properties:").join("\n");
    assert!(
        !role.contains("ManagedPolicyArns"),
        "no managed policy: AWSLambdaBasicExecutionRole writes to every log group"
    );

    let function = block(&text, "FaultlineFunction:", "Properties:").join("\n");
    for setting in [
        "Runtime: provided.al2023",
        "Handler: bootstrap",
        "- arm64",
        "Role: !GetAtt FunctionRole.Arn",
        "LogGroup: !Ref FunctionLogGroup",
        "MaximumRetryAttempts: 2",
        "Destination: !GetAtt FailedEventsQueue.Arn",
        "ReservedConcurrentExecutions: !If [HasReservedConcurrency, !Ref ReservedConcurrency, !Ref AWS::NoValue]",
    ] {
        assert!(function.contains(setting), "function lacks {setting:?}");
    }
    // With a role of its own, SAM would ignore Policies (and a second grant
    // of the queue is what the role replaced).
    assert!(!function.contains("Policies:"), "{function}");
    let metadata = block(&text, "FaultlineFunction:", "Metadata:").join("\n");
    assert!(metadata.contains("BuildMethod: rust-cargolambda"));
    assert!(metadata.contains("Binary: bootstrap"));

    let topic = block(&text, "AlertTopic:", "Properties:").join("\n");
    assert!(
        topic.contains(
            "KmsMasterKeyId: !If [HasTopicKey, !Ref AlertTopicKmsKeyArn, !Ref AWS::NoValue]"
        ),
        "{topic}"
    );
    let relay = block(&text, "AlarmRelay:", "Policies:");
    let expected: BTreeSet<String> = ["sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"]
        .map(String::from)
        .into();
    assert_eq!(actions(&relay), expected);
    assert!(relay.join("\n").contains("Resource: !Ref AlertTopic"));
}

/// A parameter's AllowedPattern, as the regex CloudFormation applies.
fn allowed_pattern(text: &str, parameter: &str) -> regex::Regex {
    let line = block(text, &format!("  {parameter}:"), &format!("{parameter}:"))
        .into_iter()
        .find_map(|l| l.trim().strip_prefix("AllowedPattern: "))
        .unwrap_or_else(|| panic!("{parameter} has an AllowedPattern"));
    // A YAML double-quoted string; `\\` is the only escape used.
    let pattern = line.trim_matches('"').replace(r"\\", r"\");
    regex::Regex::new(&pattern).expect("the pattern is a regex")
}

#[test]
fn the_alert_policy_parameter_admits_the_policies_the_function_accepts() {
    let text = template();
    let pattern = allowed_pattern(&text, "AlertPolicy");
    let every_key = "new_issue=false;regression=true;cooldown_minutes=30;digest_over=5;threshold.count=100;threshold.window_hours=2";
    let run_keys = [
        "run_digest=\"always\"",
        "auto_resolve_after_runs=3",
        "alert_after_runs=2",
        "alert_recovered=true",
        "run_quiet_minutes=45",
        "run_settle_minutes=0",
        "held_trace_minutes=0",
        "run_fields.\"/aws/lambda/fanout\".id=\"run_id\"",
    ];
    let policy = faultline::policy::Policy::from_setting(every_key).unwrap();
    // Every key the policy has is one the pattern knows, so a new key
    // cannot be added to the code and forgotten here.
    let serialised = serde_json::to_value(&policy).unwrap();
    for (key, value) in serialised.as_object().unwrap() {
        let keys: Vec<String> = match value.as_object() {
            Some(table) => table.keys().map(|k| format!("{key}.{k}")).collect(),
            None => vec![key.clone()],
        };
        for key in keys {
            assert!(
                every_key.contains(&format!("{key}="))
                    || run_keys.iter().any(|r| r.starts_with(&format!("{key}="))),
                "{key} is not in the sample"
            );
        }
    }
    let all_run_keys = run_keys.join(";");
    for good in [
        "",
        every_key,
        "new_issue=true",
        "digest_over=0;",
        "threshold.count=1",
        &all_run_keys,
        "run_digest=\"never\";run_fields.\"/aws/batch/*\".items=\"items_total\"",
    ]
    .into_iter()
    .chain(run_keys)
    {
        assert!(pattern.is_match(good), "the parameter refuses {good:?}");
        if !good.is_empty() {
            faultline::policy::Policy::from_setting(good)
                .unwrap_or_else(|e| panic!("{good:?} passes the deploy but not the function: {e}"));
        }
    }
    for bad in [
        "threshold.count=0",
        "new_issues=true",
        "new_issue=yes",
        "digest_over = 5",
        "new_issue=true\nregression=false",
        "new_issue=true;;regression=false",
        "[threshold]",
        "cooldown_minutes=-1",
        "alert_after_runs=0",
        "run_quiet_minutes=0",
        "run_digest=always",
        "run_digest=\"sometimes\"",
        "run_fields.\"/g\".run=\"x\"",
        "run_fields.\"/g\".id=\"a;b\"",
    ] {
        assert!(!pattern.is_match(bad), "the parameter admits {bad:?}");
    }

    let concurrency = allowed_pattern(&text, "ReservedConcurrency");
    assert!(concurrency.is_match("") && concurrency.is_match("10"));
    assert!(
        !concurrency.is_match("0"),
        "0 would stop the function and drop its events"
    );
    let key = allowed_pattern(&text, "AlertTopicKmsKeyArn");
    assert!(key.is_match(""));
    assert!(
        key.is_match("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    );
    assert!(
        !key.is_match("alias/aws/sns"),
        "IAM grants on a key need its ARN"
    );
}

/// The queue's retention in the template is the one the batch markers are
/// sized for: a longer queue would let a replay count twice.
#[test]
fn the_failed_events_queue_keeps_payloads_as_long_as_the_store_expects() {
    let text = template();
    let (queue, _) = resource(&text, "FailedEventsQueue");
    let seconds: i64 = queue
        .lines()
        .find_map(|l| l.trim().strip_prefix("MessageRetentionPeriod: "))
        .expect("FailedEventsQueue sets MessageRetentionPeriod")
        .parse()
        .expect("a number of seconds");
    assert_eq!(seconds * 1000, FAILED_EVENTS_RETENTION_MS);
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
    assert!(table.contains(&format!(
        "- IndexName: {LISTING_INDEX}\n          KeySchema:\n            - AttributeName: status\n              KeyType: HASH\n            - AttributeName: issue_id\n              KeyType: RANGE\n          Projection:\n            ProjectionType: KEYS_ONLY"
    )));
    // The index of older stacks, only while an upgrade keeps it.
    assert!(table.contains(&format!(
        "- !If\n          - KeepLegacyListingIndex\n          - IndexName: {STATUS_INDEX}"
    )));
    let projected: Vec<String> = block(&text, "IssuesTable:", "NonKeyAttributes:")
        .iter()
        .map(|l| l.trim().trim_start_matches("- ").to_string())
        .collect();
    assert_eq!(projected, LISTING_ATTRIBUTES);
    for (name, kind) in [("pk", "S"), ("sk", "S"), ("status", "S"), ("issue_id", "S")] {
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
    for metric in [
        "ErrorOccurrences",
        "NewIssues",
        "Regressions",
        "ErrorsPastIssueLimit",
    ] {
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
    assert_eq!(parsed["widgets"].as_array().map(Vec::len), Some(6));
    let failures = format!(
        "{{{},ErrorType}} MetricName=\\\"{}\\\"",
        faultline::metrics::NAMESPACE,
        faultline::metrics::FAILURES
    );
    // By the function's name, as the function prints it and its alarm
    // watches it.
    let unsettled = format!(
        "[\"{}\", \"{}\", \"FunctionName\", \"${{FaultlineFunction}}\"",
        faultline::metrics::NAMESPACE,
        faultline::metrics::RUNS_NOT_SETTLED
    );
    for metric in [failures, unsettled] {
        assert!(dashboard.contains(&metric), "the dashboard lacks {metric}");
    }
    let function = block(&text, "FaultlineFunction:", "Properties:").join("\n");
    assert!(function.contains("FAULTLINE_POLICY: !Ref AlertPolicy"));
}

/// The alarms the template declares, by logical name.
fn alarms(text: &str) -> Vec<String> {
    declared(text, "Resources")
        .into_iter()
        .filter(|(_, kind)| kind == "AWS::CloudWatch::Alarm")
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn every_alarm_watches_the_function_or_its_queue_and_goes_through_the_relay() {
    let text = template();
    let alarms = alarms(&text);
    let mut metrics = BTreeSet::new();
    for alarm in &alarms {
        let properties = block(&text, &format!("  {alarm}:"), "Properties:").join("\n");
        // CloudWatch's own SNS actions publish without message attributes,
        // which filtered subscriptions never see; the relay sends them.
        for action in ["AlarmActions", "OKActions", "InsufficientDataActions"] {
            assert!(!properties.contains(action), "{alarm} has {action}");
        }
        assert!(
            properties.contains("AlarmDescription: >-"),
            "{alarm} says what to do"
        );
        assert!(
            properties.contains("Value: !Ref FaultlineFunction")
                || properties.contains("Value: !GetAtt FailedEventsQueue.QueueName"),
            "{alarm} watches something of this stack:\n{properties}"
        );
        let metric = properties
            .lines()
            .find_map(|l| l.trim().strip_prefix("MetricName: "))
            .unwrap_or_else(|| panic!("{alarm} names its metric"));
        metrics.insert(metric.to_string());
    }
    let expected: BTreeSet<String> = [
        "ApproximateNumberOfMessagesVisible",
        "Errors",
        "Throttles",
        "DestinationDeliveryFailures",
        "IteratorAge",
        faultline::metrics::RUNS_NOT_SETTLED,
    ]
    .map(String::from)
    .into();
    assert_eq!(metrics, expected);

    let rule = block(&text, "AlarmStateChanged:", "resources:").join("\n");
    let arn = regex::Regex::new(r"!GetAtt ([A-Za-z]+)\.Arn").unwrap();
    let watched: BTreeSet<String> = arn.captures_iter(&rule).map(|c| c[1].to_string()).collect();
    assert!(
        rule.contains("- !If [UseStream, !GetAtt StreamLagAlarm.Arn, !Ref AWS::NoValue]"),
        "the stream's alarm exists only with the stream:\n{rule}"
    );
    assert_eq!(
        watched,
        alarms.into_iter().collect(),
        "the relay hears every alarm"
    );
    let relay = block(&text, "AlarmRelay:", "Properties:").join("\n");
    for setting in [
        "Type: EXPRESS",
        "DefinitionUri: statemachine/alarm-relay.asl.json",
        "AlertTopic: !Ref AlertTopic",
        "FunctionLogGroup: !Ref FunctionLogGroup",
        "Type: EventBridgeRule",
    ] {
        assert!(relay.contains(setting), "relay lacks {setting:?}");
    }
}

#[test]
fn the_relay_definition_substitutes_only_what_the_template_provides() {
    let text = template();
    let provided: BTreeSet<String> = block(&text, "AlarmRelay:", "DefinitionSubstitutions:")
        .iter()
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_string()))
        .collect();
    let definition =
        std::fs::read_to_string(root().join("statemachine/alarm-relay.asl.json")).unwrap();
    let parsed: serde_json::Value =
        serde_json::from_str(&definition).expect("the definition is JSON");
    assert_eq!(parsed["StartAt"], "Render");
    let used: BTreeSet<String> = regex::Regex::new(r"\$\{([A-Za-z0-9]+)\}")
        .unwrap()
        .captures_iter(&definition)
        .map(|c| c[1].to_string())
        .collect();
    assert_eq!(used, provided);
}

/// Runs the template's alarm relay in moto: its EventBridge rule (the
/// pattern as written in template.yaml) decides which alarm state changes
/// reach the state machine (the definition as written in statemachine/),
/// which publishes to a topic with two SQS subscribers, one filtered on
/// `event_type` `alarm` and one on `new_issue`.
const RELAY_IN_MOTO: &str = r#"
import json, sys, time
import boto3
from cfnlint.decode import decode_str
from moto import mock_aws

root, cases = sys.argv[1], json.loads(sys.argv[2])
template, problems = decode_str(open(f"{root}/template.yaml").read())
assert not problems, problems
relay = template["Resources"]["AlarmRelay"]["Properties"]
region, account = "us-east-1", "123456789012"

def alarm_arn(name):
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"

def resolve(value, names):
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            return alarm_arn(value["Fn::GetAtt"][0])
        if "Fn::If" in value:  # as deployed with every optional part
            return resolve(value["Fn::If"][1], names)
        if "Ref" in value:
            return names[value["Ref"]]
        return {k: resolve(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, names) for v in value]
    return value

def change(alarm, state, previous):
    return {"version": "0", "id": f"{alarm}-{state}", "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch", "account": account, "time": "2026-11-30T00:00:00Z",
            "region": region, "resources": [alarm_arn(alarm)],
            "detail": {"alarmName": alarm,
                       "configuration": {"description": f"What {alarm} means."},
                       "state": {"value": state, "reason": f"Threshold crossed (\"{state}\")"},
                       "previousState": {"value": previous, "reason": "before"}}}

out = {"relayed": [], "executions": [], "deliveries": {}}
with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
    sns, sqs = boto3.client("sns", region_name=region), boto3.client("sqs", region_name=region)
    sfn, events = boto3.client("stepfunctions", region_name=region), boto3.client("events", region_name=region)
    def queue(name):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    names = {"AlertTopic": topic, "FunctionLogGroup": "/aws/lambda/stack-faultline"}
    subscribers = {}
    for name in ["alarm", "new_issue"]:
        url, arn = queue(name)
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"FilterPolicy": json.dumps({"event_type": [name]})})
        subscribers[name] = url
    matched_url, matched_arn = queue("matched")
    events.put_rule(Name="relay", EventPattern=json.dumps(
        resolve(relay["Events"]["AlarmStateChanged"]["Properties"]["Pattern"], names)))
    events.put_targets(Rule="relay", Targets=[{"Id": "matched", "Arn": matched_arn}])
    definition = open(f"{root}/{relay['DefinitionUri']}").read()
    for key, value in resolve(relay["DefinitionSubstitutions"], names).items():
        definition = definition.replace("${" + key + "}", value)
    machine = sfn.create_state_machine(name="relay", definition=definition, type="EXPRESS",
                                       roleArn=f"arn:aws:iam::{account}:role/relay")["stateMachineArn"]
    for alarm, state, previous in cases:
        event = change(alarm, state, previous)
        events.put_events(Entries=[{"Source": event["source"], "DetailType": event["detail-type"],
                                     "Resources": event["resources"], "Detail": json.dumps(event["detail"])}])
        matched = sqs.receive_message(QueueUrl=matched_url, MaxNumberOfMessages=10).get("Messages", [])
        for m in matched:
            sqs.delete_message(QueueUrl=matched_url, ReceiptHandle=m["ReceiptHandle"])
        if not matched:
            continue
        out["relayed"].append([alarm, state, previous])
        run = sfn.start_execution(stateMachineArn=machine, name=f"run{len(out['executions'])}",
                                  input=json.dumps(event))["executionArn"]
        for _ in range(500):
            described = sfn.describe_execution(executionArn=run)
            if described["status"] != "RUNNING":
                break
            time.sleep(0.02)
        out["executions"].append([described["status"], described.get("cause")])
    for name, url in subscribers.items():
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                  MessageAttributeNames=["All"]).get("Messages", [])
        out["deliveries"][name] = [json.loads(m["Body"]) for m in got]
print(json.dumps(out))
"#;

#[test]
fn alarm_state_changes_reach_subscribers_filtered_on_event_type() {
    let python = root().join(".venv/bin/python");
    if !python.exists() {
        let why = "the venv with moto is not installed (run scripts/setup-test-env.sh)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true and {why}");
        }
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPING the alarm relay: {why} ***\n"
        );
        return;
    }
    let cases = serde_json::json!([
        ["FunctionErrorsAlarm", "ALARM", "OK"],
        ["FunctionErrorsAlarm", "OK", "ALARM"],
        ["StreamLagAlarm", "ALARM", "OK"],
        // A new alarm's first evaluation, and other stacks' alarms: silence.
        ["FailedEventsAlarm", "OK", "INSUFFICIENT_DATA"],
        ["SomeoneElsesAlarm", "ALARM", "OK"],
    ]);
    let out = Command::new(&python)
        .args(["-c", RELAY_IN_MOTO])
        .arg(root())
        .arg(cases.to_string())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        result["relayed"],
        serde_json::json!([
            ["FunctionErrorsAlarm", "ALARM", "OK"],
            ["FunctionErrorsAlarm", "OK", "ALARM"],
            ["StreamLagAlarm", "ALARM", "OK"]
        ]),
        "into ALARM and back to OK, for this stack's alarms only"
    );
    for execution in result["executions"].as_array().unwrap() {
        assert_eq!(execution[0], "SUCCEEDED", "{execution}");
    }
    assert_eq!(
        result["deliveries"]["new_issue"],
        serde_json::json!([]),
        "a subscriber to new issues hears no alarms"
    );
    let delivered = result["deliveries"]["alarm"].as_array().unwrap();
    assert_eq!(delivered.len(), 3, "{delivered:#?}");
    let mut states = Vec::new();
    for message in delivered {
        let attributes = &message["MessageAttributes"];
        assert_eq!(attributes["event_type"]["Value"], "alarm");
        assert_eq!(
            attributes["log_group"]["Value"],
            "/aws/lambda/stack-faultline"
        );
        assert_eq!(attributes["issue_ids"]["Value"], "-");
        states.push(
            attributes["alarm_state"]["Value"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        assert!(message["Subject"].as_str().unwrap().len() < 100);
        // What Chatbot and other JSON subscribers get: its custom format.
        let chat: serde_json::Value =
            serde_json::from_str(message["Message"].as_str().unwrap()).unwrap();
        assert_eq!(chat["version"], "1.0");
        assert_eq!(chat["source"], "custom");
        assert_eq!(chat["metadata"]["eventType"], "alarm");
        let alarm = chat["metadata"]["relatedResources"][0]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap();
        let title = chat["content"]["title"].as_str().unwrap();
        assert!(title.contains(alarm), "{title}");
        let description = chat["content"]["description"].as_str().unwrap();
        assert!(
            description.contains(&format!("What {alarm} means."))
                && description.contains("Threshold crossed"),
            "the alarm's own description and CloudWatch's reason: {description}"
        );
    }
    states.sort();
    assert_eq!(states, ["ALARM", "ALARM", "OK"]);
}

/// The settings nested under a resource's `Properties:`, and its condition.
fn resource(text: &str, name: &str) -> (String, Option<String>) {
    let head = block(text, "Resources:", &format!("{name}:"));
    let condition = head
        .iter()
        .filter(|l| indent(l) == 4)
        .find_map(|l| l.trim().strip_prefix("Condition: "))
        .map(String::from);
    let properties = block(text, &format!("  {name}:"), "Properties:").join("\n");
    (properties, condition)
}

#[test]
fn the_ingestion_parameter_chooses_a_subscription_or_a_stream() {
    let text = template();
    let stream = "!If [UseExistingStream, !Ref ExistingStreamArn, !GetAtt LogStream.Arn]";
    let expectations: &[(&str, &str, &[&str])] = &[
        (
            "FaultlineFunctionLogsPermission",
            "UseSubscription",
            &[
                "Principal: logs.amazonaws.com",
                "FunctionName: !Ref FaultlineFunction",
                "SourceAccount: !Ref AWS::AccountId",
            ],
        ),
        (
            "FaultlineFunctionLogs",
            "UseSubscription",
            &[
                "LogGroupName: !Ref LogGroupName",
                "FilterPattern: !Ref FilterPattern",
                "DestinationArn: !GetAtt FaultlineFunction.Arn",
            ],
        ),
        (
            "LogStream",
            "CreateStream",
            &["ShardCount: !Ref StreamShardCount", "EncryptionType: KMS"],
        ),
        (
            "LogGroupToStream",
            "UseStream",
            &[
                "LogGroupName: !Ref LogGroupName",
                "FilterPattern: !Ref FilterPattern",
                "RoleArn: !GetAtt LogsToStreamRole.Arn",
            ],
        ),
        (
            "StreamReader",
            "UseStream",
            &[
                "FunctionName: !Ref FaultlineFunction",
                "MaximumBatchingWindowInSeconds: !Ref StreamBatchingWindowSeconds",
                "- ReportBatchItemFailures",
                "StartingPosition: TRIM_HORIZON",
                "Destination: !GetAtt FailedEventsQueue.Arn",
            ],
        ),
        (
            "LogsDestination",
            "HasSourceAccounts",
            &[
                "RoleArn: !GetAtt LogsToStreamRole.Arn",
                "TargetArn: !GetAtt LogStream.Arn",
            ],
        ),
    ];
    for (name, condition, settings) in expectations {
        let (properties, declared) = resource(&text, name);
        assert_eq!(declared.as_deref(), Some(*condition), "{name}'s condition");
        for setting in *settings {
            assert!(
                properties.contains(setting),
                "{name} lacks {setting:?}:\n{properties}"
            );
        }
    }
    for name in ["LogGroupToStream", "StreamReader"] {
        let (properties, _) = resource(&text, name);
        assert!(
            properties.contains(stream),
            "{name} reads the chosen stream"
        );
    }
    // The subscription's permission names the watched group, as SAM's did.
    let (permission, _) = resource(&text, "FaultlineFunctionLogsPermission");
    assert!(permission.contains(
        r#"SourceArn: !Sub "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroupName}:*""#
    ));

    // CloudWatch Logs may only put records into the stream.
    let writer = block(&text, "LogsToStreamRole:", "Policies:");
    let only_put: BTreeSet<String> = ["kinesis:PutRecord".to_string()].into();
    assert_eq!(actions(&writer), only_put);
    assert!(writer.join("\n").contains(&format!("Resource: {stream}")));

    // The destination's access policy is JSON once CloudFormation fills it in.
    let (destination, _) = resource(&text, "LogsDestination");
    let policy: String = destination
        .lines()
        .skip_while(|l| !l.contains("DestinationPolicy: !Sub"))
        .skip(2)
        .take_while(|l| !l.trim_start().starts_with("- Accounts:"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
        .replace("${Accounts}", r#"111111111111", "222222222222"#)
        .replace("${AWS::Partition}", "aws")
        .replace("${AWS::Region}", "us-east-1")
        .replace("${AWS::AccountId}", "999999999999")
        .replace("${AWS::StackName}", "faultline");
    let policy: serde_json::Value =
        serde_json::from_str(&policy).unwrap_or_else(|e| panic!("{e}: {policy}"));
    let statement = &policy["Statement"][0];
    assert_eq!(
        statement["Principal"]["AWS"],
        serde_json::json!(["111111111111", "222222222222"])
    );
    assert_eq!(
        statement["Resource"],
        "arn:aws:logs:us-east-1:999999999999:destination:faultline-faultline"
    );
    assert!(destination.contains(r#"DestinationName: !Sub "${AWS::StackName}-faultline""#));
}

/// A sample event's top-level string `key`, and `detail.key`.
fn sample(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("events").join(name)).expect("sample event");
    serde_json::from_str(&text).expect("sample event is JSON")
}

#[test]
fn job_events_and_the_settling_schedule_invoke_the_function() {
    let text = template();
    // (rule, its permission, condition, sample, the detail keys it narrows
    // by and filters on, the parameter that narrows it)
    let rules = [
        (
            "StateMachineRunsRule",
            "StateMachineRunsPermission",
            "FollowStateMachines",
            "eventbridge-sfn-execution-failed.json",
            "stateMachineArn",
            "status",
            "RunStateMachineArns",
        ),
        (
            "BatchRunsRule",
            "BatchRunsPermission",
            "FollowJobQueues",
            "eventbridge-batch-job-succeeded.json",
            "jobQueue",
            "status",
            "RunJobQueueArns",
        ),
        (
            "EcsRunsRule",
            "EcsRunsPermission",
            "FollowClusters",
            "eventbridge-ecs-task-stopped.json",
            "clusterArn",
            "lastStatus",
            "RunClusterArns",
        ),
    ];
    for (rule, permission, condition, file, narrowed_by, state, parameter) in rules {
        let (properties, on) = resource(&text, rule);
        assert_eq!(on.as_deref(), Some(condition), "{rule}");
        assert!(
            properties.contains("Arn: !GetAtt FaultlineFunction.Arn"),
            "{rule} invokes the function"
        );
        assert!(
            properties.contains(&format!("{narrowed_by}: !Ref {parameter}")),
            "{parameter} narrows {rule}"
        );
        // The sample of what the rule lets through matches its source,
        // detail type and states, and the function reads it as a run.
        let event = sample(file);
        for key in ["source", "detail-type"] {
            let value = event[key].as_str().unwrap();
            assert!(
                properties.contains(&format!("- {value}")),
                "{rule} lets {key} {value} through"
            );
        }
        let status = event["detail"][state].as_str().unwrap();
        let states = properties
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("- {state}: [")))
            .unwrap_or_else(|| panic!("{rule} filters on {state}"));
        assert!(states.contains(status), "{rule} lets {status} through");
        let bytes = serde_json::to_vec(&event).unwrap();
        match faultline::pipeline::prepare_job_event(&bytes) {
            Some(Ok(faultline::pipeline::Prepared::Batch(batch))) => {
                assert!(!batch.runs.is_empty(), "{file} is a run's event")
            }
            other => panic!("{file}: {other:?}"),
        }
        let (granted, granted_on) = resource(&text, permission);
        assert_eq!(granted_on.as_deref(), Some(condition), "{permission}");
        assert!(granted.contains("Principal: events.amazonaws.com"));
        assert!(
            granted.contains(&format!("SourceArn: !GetAtt {rule}.Arn")),
            "{permission} lets only {rule} invoke the function"
        );
        // Empty follows everything, off nothing, ARNs narrow.
        let pattern = allowed_pattern(&text, parameter);
        let arn = event["detail"][narrowed_by].as_str().unwrap();
        for good in ["", "off", arn] {
            assert!(pattern.is_match(good), "{parameter} refuses {good:?}");
        }
        for bad in ["all", "*", "nightly", &format!("{arn} ")] {
            assert!(!pattern.is_match(bad), "{parameter} admits {bad:?}");
        }
    }
    let (schedule, always) = resource(&text, "SettleRunsSchedule");
    assert_eq!(always, None, "runs are settled whatever is followed");
    assert!(schedule.contains("ScheduleExpression: rate(5 minutes)"));
    assert!(schedule.contains("Arn: !GetAtt FaultlineFunction.Arn"));
    let (granted, _) = resource(&text, "SettleRunsPermission");
    assert!(granted.contains("SourceArn: !GetAtt SettleRunsSchedule.Arn"));
    let tick = serde_json::to_vec(&sample("eventbridge-scheduled.json")).unwrap();
    assert!(matches!(
        faultline::pipeline::prepare_job_event(&tick),
        Some(Ok(faultline::pipeline::Prepared::Control))
    ));
}

/// Puts each case's event on a bus in moto whose one rule is the
/// template's, as deployed with the case's `Run*` parameter, and says
/// whether the rule let it through.
const JOB_RULES_IN_MOTO: &str = r#"
import json, sys
import boto3
from cfnlint.decode import decode_str
from moto import mock_aws

root, cases = sys.argv[1], json.loads(sys.argv[2])
template, problems = decode_str(open(f"{root}/template.yaml").read())
assert not problems, problems
resources, conditions = template["Resources"], template["Conditions"]
region = "eu-west-1"

def resolve(value, params, narrowed):
    if isinstance(value, dict):
        if "Fn::If" in value:
            name, then, otherwise = value["Fn::If"]
            return resolve(then if name in narrowed else otherwise, params, narrowed)
        if "Ref" in value:
            return params[value["Ref"]]
        return {k: resolve(v, params, narrowed) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, params, narrowed) for v in value]
    return value

out = []
with mock_aws():
    sqs, events = boto3.client("sqs", region_name=region), boto3.client("events", region_name=region)
    for n, (rule, parameter, narrowed_by, condition, event) in enumerate(cases):
        url = sqs.create_queue(QueueName=f"q{n}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        narrowed = {condition} if narrowed_by else set()
        pattern = resolve(resources[rule]["Properties"]["EventPattern"], {parameter: narrowed_by}, narrowed)
        events.put_rule(Name=f"r{n}", EventPattern=json.dumps(pattern))
        events.put_targets(Rule=f"r{n}", Targets=[{"Id": "q", "Arn": arn}])
        events.put_events(Entries=[{"Source": event["source"], "DetailType": event["detail-type"],
                                     "Resources": event.get("resources", []), "Detail": json.dumps(event["detail"])}])
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        events.remove_targets(Rule=f"r{n}", Ids=["q"])
        events.delete_rule(Name=f"r{n}")
        out.append(len(got))
print(json.dumps(out))
"#;

#[test]
fn the_job_event_rules_let_through_what_the_function_reads() {
    let python = root().join(".venv/bin/python");
    if !python.exists() {
        let why = "the venv with moto is not installed (run scripts/setup-test-env.sh)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true and {why}");
        }
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPING the job-event rules: {why} ***\n"
        );
        return;
    }
    let with = |file: &str, change: &dyn Fn(&mut serde_json::Value)| {
        let mut event = sample(file);
        change(&mut event);
        event
    };
    let sfn = "eventbridge-sfn-execution-failed.json";
    let batch = "eventbridge-batch-job-succeeded.json";
    let ecs = "eventbridge-ecs-task-stopped.json";
    let machine = sample(sfn)["detail"]["stateMachineArn"].clone();
    let queue = sample(batch)["detail"]["jobQueue"].clone();
    let cluster = sample(ecs)["detail"]["clusterArn"].clone();
    let other =
        |arn: &serde_json::Value| serde_json::json!([format!("{}-other", arn.as_str().unwrap())]);
    let same = |arn: &serde_json::Value| serde_json::json!([arn]);
    let none = serde_json::json!([""]);
    let sfn_rule = (
        "StateMachineRunsRule",
        "RunStateMachineArns",
        "NarrowStateMachines",
    );
    let batch_rule = ("BatchRunsRule", "RunJobQueueArns", "NarrowJobQueues");
    let ecs_rule = ("EcsRunsRule", "RunClusterArns", "NarrowClusters");
    // (rule, the parameter's value, the event, whether it gets through)
    let cases = [
        (sfn_rule, none.clone(), sample(sfn), true),
        (sfn_rule, same(&machine), sample(sfn), true),
        (sfn_rule, other(&machine), sample(sfn), false),
        (
            sfn_rule,
            none.clone(),
            with(sfn, &|e| e["detail"]["status"] = "RUNNING".into()),
            false,
        ),
        (batch_rule, none.clone(), sample(batch), true),
        (batch_rule, same(&queue), sample(batch), true),
        (batch_rule, other(&queue), sample(batch), false),
        (
            batch_rule,
            none.clone(),
            with(batch, &|e| e["detail"]["status"] = "RUNNING".into()),
            true,
        ),
        (
            batch_rule,
            none.clone(),
            with(batch, &|e| e["detail"]["status"] = "RUNNABLE".into()),
            false,
        ),
        (ecs_rule, none.clone(), sample(ecs), true),
        (ecs_rule, same(&cluster), sample(ecs), true),
        (ecs_rule, other(&cluster), sample(ecs), false),
        (
            ecs_rule,
            none.clone(),
            with(ecs, &|e| e["detail"]["group"] = "service:web".into()),
            false,
        ),
        (
            ecs_rule,
            none,
            with(ecs, &|e| e["detail"]["lastStatus"] = "RUNNING".into()),
            false,
        ),
    ];
    let argument: Vec<serde_json::Value> = cases
        .iter()
        .map(|((rule, parameter, condition), value, event, _)| {
            let narrowed = if value[0] == "" {
                serde_json::Value::Null
            } else {
                value.clone()
            };
            serde_json::json!([rule, parameter, narrowed, condition, event])
        })
        .collect();
    let out = Command::new(&python)
        .args(["-c", JOB_RULES_IN_MOTO])
        .arg(root())
        .arg(serde_json::Value::from(argument).to_string())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let delivered: Vec<u64> = serde_json::from_slice(&out.stdout).unwrap();
    for (case, got) in cases.iter().zip(&delivered) {
        let ((rule, _, _), value, event, expected) = case;
        assert_eq!(
            *got > 0,
            *expected,
            "{rule} with {value}: {}",
            serde_json::to_string(&event["detail"]).unwrap()
        );
    }
}
