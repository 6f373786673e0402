//! The `faultline` command against the emulator through nothing but the
//! standard AWS environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials):
//! what a user does with `store init`, `ingest` and `issues` on AWS.

mod support;

fn faultline(moto: &support::Moto, args: &[&str]) -> std::process::Output {
    moto.faultline(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn ok(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "faultline failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn store_init_ingest_and_list_on_dynamodb_and_sns_from_the_environment() {
    let Some(moto) = support::moto() else { return };
    let (topic, queue) = moto.topic_with_queue("cli").await;
    let store = format!("dynamodb://{}", support::unique("cli"));

    ok(faultline(moto, &["store", "init", "--store", &store]));
    // Idempotent: a second init finds the table and its TTL in place.
    ok(faultline(moto, &["store", "init", "--store", &store]));
    let ttl = moto
        .dynamodb(None)
        .await
        .describe_time_to_live()
        .table_name(store.trim_start_matches("dynamodb://"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some("expires_at")
    );

    let notify = format!("sns://{topic}");
    ok(faultline(
        moto,
        &["ingest", "--store", &store, "--notify", &notify, "events"],
    ));
    let listed: serde_json::Value = serde_json::from_str(&ok(faultline(
        moto,
        &["issues", "--store", &store, "--status", "all", "--json"],
    )))
    .unwrap();
    let issues = listed.as_array().unwrap();
    assert!(!issues.is_empty(), "{listed}");
    let mut ids: Vec<String> = issues
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let sent = moto.drain(&queue).await;
    assert_eq!(support::announced_issue_ids(&sent), ids);
    // The failed Step Functions execution among the events gets its digest.
    assert!(
        sent.iter()
            .any(|e| e["MessageAttributes"]["event_type"]["Value"] == "run_digest"),
        "{sent:?}"
    );

    let id = ids[0].clone();
    ok(faultline(
        moto,
        &["issues", "resolve", &id, "--store", &store],
    ));
    let shown = ok(faultline(moto, &["issues", "show", &id, "--store", &store]));
    assert!(shown.contains("resolved"), "{shown}");
    // What the table holds, as DynamoDB counts it: the issues at least, and
    // the listing index beside it.
    let stats: serde_json::Value = serde_json::from_str(&ok(faultline(
        moto,
        &["store", "stats", "--store", &store, "--json"],
    )))
    .unwrap();
    let parts = stats["parts"].as_array().unwrap();
    assert!(
        parts[0]["rows"].as_u64().unwrap() >= ids.len() as u64,
        "{stats}"
    );
    assert!(parts.iter().any(|p| p["name"] == "by_status_id"), "{stats}");
    // The events hold a Step Functions execution's log: its run is listed.
    let runs: serde_json::Value =
        serde_json::from_str(&ok(faultline(moto, &["runs", "--store", &store, "--json"]))).unwrap();
    assert!(runs.as_array().is_some_and(|r| !r.is_empty()), "{runs}");

    let bad = faultline(moto, &["issues", "--store", "dynamodb://no"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a DynamoDB table name"));
}

/// A table CloudFormation made records no layout; the first faultline
/// that opens it marks it with its own, and a table a newer faultline
/// marked is refused before anything reads or writes it, by every command
/// (and the Lambda, which opens the store the same way).
#[tokio::test]
async fn a_table_a_newer_faultline_wrote_is_refused_on_open() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use faultline::store::dynamodb::LAYOUT;
    let Some(moto) = support::moto() else { return };
    let table = moto.fresh_store("opened", None).await.table().to_string();
    let store = format!("dynamodb://{table}");
    let client = moto.dynamodb(None).await;
    let key = |c: aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder| {
        c.table_name(&table)
            .key("pk", AttributeValue::S("META".into()))
            .key("sk", AttributeValue::S("LAYOUT".into()))
    };
    key(client.delete_item()).send().await.unwrap();
    let written_by = || async {
        let item = client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("META".into()))
            .key("sk", AttributeValue::S("LAYOUT".into()))
            .send()
            .await
            .unwrap()
            .item()
            .cloned()
            .unwrap_or_default();
        (item.get("written_by").cloned(), item.contains_key("layout"))
    };

    ok(faultline(moto, &["issues", "--store", &store]));
    assert_eq!(
        written_by().await,
        (Some(AttributeValue::N(LAYOUT.to_string())), false),
        "marked as written by this layout; `layout` (all issues converted) left to migrate"
    );

    client
        .update_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("META".into()))
        .key("sk", AttributeValue::S("LAYOUT".into()))
        .update_expression("SET written_by = :v")
        .expression_attribute_values(":v", AttributeValue::N((LAYOUT + 1).to_string()))
        .send()
        .await
        .unwrap();
    for args in [
        vec!["issues", "--store", store.as_str()],
        vec![
            "ingest",
            "--store",
            store.as_str(),
            "--notify",
            "none",
            "events",
        ],
    ] {
        let out = faultline(moto, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} ran on a newer table");
        assert!(stderr.contains("newer faultline"), "{stderr}");
    }
}
