//! What the SNS notifier publishes, read back through SQS queues subscribed
//! to the topic on the emulator (tests/support).

mod support;

use faultline::model::Sample;
use faultline::model::{Alert, AlertIssue, EventType};
use faultline::notify::Notifier;
use faultline::notify::sns::SnsNotifier;

fn alert(event_type: EventType, ids: &[&str]) -> Alert {
    Alert {
        id: format!("batch-1:{}", event_type.as_str()),
        event_type,
        log_group: "/aws/lambda/orders".into(),
        created_at: 1_763_900_000_000,
        issues: ids
            .iter()
            .map(|id| AlertIssue {
                id: id.to_string(),
                fingerprint: format!("fp-{id}"),
                kind: "KeyError".into(),
                title: "KeyError: 'action' <!channel>".into(),
                count: 4,
                first_seen: 1_763_900_000_123,
                sample: Some(Sample {
                    log_group: "/aws/lambda/orders".into(),
                    log_stream: "2025/11/23/[$LATEST]abc".into(),
                    event_id: "1".into(),
                    timestamp: 1_763_900_000_123,
                    kind: "KeyError".into(),
                    message: format!("KeyError: 'action'\n{}", "x".repeat(300_000)),
                    shape: "python-text".into(),
                    fields: vec![],
                }),
            })
            .collect(),
        run: None,
    }
}

#[tokio::test]
async fn alerts_arrive_with_subject_attributes_and_chatbot_json_and_filter_by_event_type() {
    let Some(moto) = support::moto() else { return };
    let (topic, everything) = moto.topic_with_queue("notify").await;
    let regressions_only = moto
        .subscribe_queue(&topic, Some(r#"{"event_type":["regression"]}"#))
        .await;
    let notifier = SnsNotifier::new(moto.sns().await, &topic).unwrap();

    notifier
        .send(&alert(
            EventType::NewIssue,
            &["0000000000aa", "0000000000bb"],
        ))
        .await
        .unwrap();
    notifier
        .send(&alert(EventType::Regression, &["0000000000cc"]))
        .await
        .unwrap();

    let all = moto.drain(&everything).await;
    assert_eq!(all.len(), 2);
    let new = &all[0];
    assert_eq!(
        new["Subject"],
        "[faultline] 2 new issues in /aws/lambda/orders"
    );
    let attributes = &new["MessageAttributes"];
    assert_eq!(attributes["event_type"]["Value"], "new_issue");
    assert_eq!(attributes["log_group"]["Value"], "/aws/lambda/orders");
    assert_eq!(
        attributes["issue_ids"]["Value"],
        "0000000000aa,0000000000bb"
    );

    // SQS gets `default`: the Chatbot custom notification, size-bounded
    // although each sample carried 300 KB.
    let body = new["Message"].as_str().unwrap();
    assert!(body.len() < 256 * 1024);
    let chatbot: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(chatbot["version"], "1.0");
    assert_eq!(chatbot["source"], "custom");
    assert_eq!(chatbot["content"]["textType"], "client-markdown");
    assert_eq!(chatbot["metadata"]["eventType"], "new_issue");
    assert_eq!(
        chatbot["metadata"]["additionalContext"]["issue_ids"],
        "0000000000aa,0000000000bb"
    );
    let description = chatbot["content"]["description"].as_str().unwrap();
    assert!(description.contains("&lt;!channel&gt;"), "{description}");
    assert!(
        description
            .contains("#logsV2:log-groups/log-group/$252Faws$252Flambda$252Forders/log-events/")
    );

    let regression = &all[1];
    assert_eq!(
        regression["Subject"],
        "[faultline] Regression: KeyError: 'action' <!channel> in /aws/lambda/orders"
    );
    assert_eq!(
        regression["MessageAttributes"]["event_type"]["Value"],
        "regression"
    );

    let filtered = moto.drain(&regressions_only).await;
    assert_eq!(filtered.len(), 1, "the filter policy routes on event_type");
    assert_eq!(
        filtered[0]["MessageAttributes"]["issue_ids"]["Value"],
        "0000000000cc"
    );
}

#[tokio::test]
async fn a_publish_that_fails_is_reported_for_the_alert() {
    let Some(moto) = support::moto() else { return };
    let notifier = SnsNotifier::new(
        moto.sns().await,
        "arn:aws:sns:us-east-1:123456789012:faultline-no-such-topic",
    )
    .unwrap();
    let err = notifier
        .send(&alert(EventType::NewIssue, &["0000000000aa"]))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("could not deliver alert batch-1:new_issue"),
        "{text}"
    );
    assert!(text.contains("NotFound"), "{text}");
}
