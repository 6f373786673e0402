//! What `aws logs filter-log-events` and `aws logs get-log-events` print:
//! `{"events":[{"logStreamName":..., "timestamp":..., "message":...,
//! "eventId":...}], ...}` (get-log-events names neither the stream nor the
//! event ids). Neither names the log group: the user does, with
//! `--log-group`.

use std::borrow::Cow;

use serde::Deserialize;

use super::{BATCH_EVENTS, DecodeError, LogBatch, LogEvent, Naming, content_id};

#[derive(Deserialize)]
struct Output<'a> {
    #[serde(borrow)]
    events: Option<Vec<CliEvent<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CliEvent<'a> {
    #[serde(default, borrow)]
    log_stream_name: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: i64,
    #[serde(borrow)]
    message: Cow<'a, str>,
    #[serde(default, borrow)]
    event_id: Option<Cow<'a, str>>,
}

/// The events of `aws logs` output as batches of one stream each, in the
/// order their streams first appear, at most [`BATCH_EVENTS`] events each.
/// [`DecodeError::UnknownShape`] when the JSON has no `events` array.
pub fn batches<'a>(document: &'a [u8], naming: &Naming) -> Result<Vec<LogBatch<'a>>, DecodeError> {
    let output: Output<'a> = serde_json::from_slice(document).map_err(|e| {
        if e.is_data() {
            DecodeError::UnknownShape
        } else {
            DecodeError::NotJson(e)
        }
    })?;
    let events = output.events.ok_or(DecodeError::UnknownShape)?;
    let log_group = naming
        .log_group
        .clone()
        .ok_or(DecodeError::NeedsLogGroup("`aws logs` JSON events"))?;
    let mut streams: Vec<(Cow<'a, str>, Vec<LogEvent<'a>>)> = Vec::new();
    for (position, event) in events.into_iter().enumerate() {
        let stream = event
            .log_stream_name
            .unwrap_or_else(|| Cow::Owned(naming.log_stream.clone()));
        let id = match event.event_id {
            Some(id) if !id.is_empty() => id,
            _ => Cow::Owned(content_id(position as u64, &event.message)),
        };
        let log_event = LogEvent {
            id,
            timestamp: event.timestamp,
            message: event.message,
        };
        match streams.iter_mut().find(|(name, _)| *name == stream) {
            Some((_, events)) => events.push(log_event),
            None => streams.push((stream, vec![log_event])),
        }
    }
    let mut batches = Vec::new();
    for (stream, events) in streams {
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            batches.push(LogBatch {
                message_type: Cow::Borrowed("DATA_MESSAGE"),
                owner: Cow::Borrowed(""),
                log_group: Cow::Owned(log_group.clone()),
                log_stream: stream.clone(),
                log_events: events.by_ref().take(BATCH_EVENTS).collect(),
            });
        }
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming() -> Naming {
        Naming {
            log_group: Some("/aws/lambda/orders".into()),
            log_stream: "saved".into(),
            default_time: 0,
        }
    }

    #[test]
    fn filter_log_events_output_gives_one_batch_per_stream() {
        let json = r#"{"events":[
            {"logStreamName":"a","timestamp":1,"message":"[ERROR] x","ingestionTime":2,"eventId":"e1"},
            {"logStreamName":"b","timestamp":3,"message":"y","ingestionTime":4,"eventId":"e2"},
            {"logStreamName":"a","timestamp":5,"message":"z","ingestionTime":6,"eventId":"e3"}],
            "searchedLogStreams":[],"nextToken":null}"#;
        let batches = batches(json.as_bytes(), &naming()).unwrap();
        let shape: Vec<(&str, Vec<&str>)> = batches
            .iter()
            .map(|b| {
                assert_eq!(b.log_group, "/aws/lambda/orders");
                let ids = b.log_events.iter().map(|e| e.id.as_ref()).collect();
                (b.log_stream.as_ref(), ids)
            })
            .collect();
        assert_eq!(shape, vec![("a", vec!["e1", "e3"]), ("b", vec!["e2"])]);
    }

    #[test]
    fn get_log_events_output_takes_the_files_stream_and_content_ids() {
        let json = r#"{"events":[{"timestamp":1,"message":"a","ingestionTime":2},
            {"timestamp":1,"message":"b","ingestionTime":2}],
            "nextForwardToken":"f/1","nextBackwardToken":"b/1"}"#;
        let batches = batches(json.as_bytes(), &naming()).unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].log_stream, "saved");
        let ids: Vec<&str> = batches[0]
            .log_events
            .iter()
            .map(|e| e.id.as_ref())
            .collect();
        assert_ne!(ids[0], ids[1], "same time, different text: different ids");
        assert_eq!(ids[0], content_id(0, "a"));
    }

    #[test]
    fn without_a_log_group_or_an_events_array_it_says_so() {
        let json = br#"{"events":[]}"#;
        let err = batches(json, &Naming::default()).unwrap_err();
        assert!(err.to_string().contains("--log-group"), "{err}");
        assert!(matches!(
            batches(br#"{"other":1}"#, &naming()),
            Err(DecodeError::UnknownShape)
        ));
    }

    #[test]
    fn a_long_stream_is_cut_into_bounded_batches() {
        let events: Vec<String> = (0..BATCH_EVENTS + 5)
            .map(|i| format!(r#"{{"timestamp":{i},"message":"m{i}"}}"#))
            .collect();
        let json = format!(r#"{{"events":[{}]}}"#, events.join(","));
        let batches = batches(json.as_bytes(), &naming()).unwrap();
        let sizes: Vec<usize> = batches.iter().map(|b| b.log_events.len()).collect();
        assert_eq!(sizes, vec![BATCH_EVENTS, 5]);
    }
}
