//! Events read through the CloudWatch Logs API (`faultline ingest
//! --log-group`), assembled into batches the way a subscription delivers
//! them: the events of one stream, in time order.
//!
//! Each batch holds one stream's events of one clock minute (cut at
//! [`BATCH_EVENTS`]), whatever window was asked for and however the API
//! paged its answer. So reading an overlapping window again gives the same
//! batches for the overlap, and the store recognises them as replays
//! instead of counting their events twice.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{BATCH_EVENTS, LogBatch, LogEvent};

const MINUTE: i64 = 60_000;

/// Groups held open at most: past this, the oldest are sent as they are.
const MAX_BUFFERED_EVENTS: usize = 100_000;

/// One event as FilterLogEvents returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiEvent {
    pub log_stream: String,
    pub id: String,
    pub timestamp: i64,
    pub message: String,
}

/// Gathers events into per-stream, per-minute batches.
pub struct Assembler {
    log_group: String,
    /// (minute, stream) -> its events so far.
    open: BTreeMap<(i64, String), Vec<ApiEvent>>,
    buffered: usize,
    latest: i64,
}

impl Assembler {
    pub fn new(log_group: &str) -> Assembler {
        Assembler {
            log_group: log_group.to_string(),
            open: BTreeMap::new(),
            buffered: 0,
            latest: i64::MIN,
        }
    }

    /// Adds one event; returns the batches now complete. The API returns
    /// events in time order, give or take: a minute is complete once an
    /// event a full minute later has been seen.
    pub fn push(&mut self, event: ApiEvent) -> Vec<LogBatch<'static>> {
        let minute = event.timestamp.div_euclid(MINUTE);
        self.latest = self.latest.max(event.timestamp);
        let key = (minute, event.log_stream.clone());
        let group = self.open.entry(key.clone()).or_default();
        group.push(event);
        self.buffered += 1;
        let mut done = Vec::new();
        if group.len() >= BATCH_EVENTS {
            if let Some(events) = self.open.remove(&key) {
                self.buffered -= events.len();
                done.push(self.batch(key.1, events));
            }
        }
        let watermark = self.latest.div_euclid(MINUTE) - 1;
        while let Some(entry) = self.open.first_entry() {
            if entry.key().0 >= watermark && self.buffered <= MAX_BUFFERED_EVENTS {
                break;
            }
            let ((_, stream), events) = entry.remove_entry();
            self.buffered -= events.len();
            done.push(self.batch(stream, events));
        }
        done
    }

    /// Every batch still open, at the end of the read.
    pub fn finish(mut self) -> Vec<LogBatch<'static>> {
        let open = std::mem::take(&mut self.open);
        open.into_iter()
            .map(|((_, stream), events)| self.batch(stream, events))
            .collect()
    }

    fn batch(&self, stream: String, mut events: Vec<ApiEvent>) -> LogBatch<'static> {
        events.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
        LogBatch {
            message_type: Cow::Borrowed("DATA_MESSAGE"),
            owner: Cow::Borrowed(""),
            log_group: Cow::Owned(self.log_group.clone()),
            log_stream: Cow::Owned(stream),
            log_events: events
                .into_iter()
                .map(|e| LogEvent {
                    id: Cow::Owned(e.id),
                    timestamp: e.timestamp,
                    message: Cow::Owned(e.message),
                })
                .collect(),
        }
    }
}

/// A window's edges on whole minutes, so that two reads of overlapping
/// windows cut the same minutes into the same batches.
pub fn whole_minutes(start: i64, end: i64) -> (i64, i64) {
    (
        start.div_euclid(MINUTE) * MINUTE,
        end.div_euclid(MINUTE) * MINUTE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(stream: &str, id: u32, timestamp: i64) -> ApiEvent {
        ApiEvent {
            log_stream: stream.into(),
            id: format!("{id:04}"),
            timestamp,
            message: format!("m{id}"),
        }
    }

    fn assemble(events: &[ApiEvent]) -> Vec<(String, Vec<String>)> {
        let mut assembler = Assembler::new("/g");
        let mut batches = Vec::new();
        for e in events {
            batches.extend(assembler.push(e.clone()));
        }
        batches.extend(assembler.finish());
        let mut shape: Vec<(String, Vec<String>)> = batches
            .into_iter()
            .map(|b| {
                let ids = b.log_events.iter().map(|e| e.id.to_string()).collect();
                (b.log_stream.into_owned(), ids)
            })
            .collect();
        shape.sort();
        shape
    }

    #[test]
    fn batches_are_one_stream_and_one_minute_whatever_the_paging() {
        let events = vec![
            event("a", 1, 0),
            event("b", 2, 1_000),
            event("a", 3, 59_999),
            event("a", 4, 60_000),
            event("b", 5, 200_000),
        ];
        let expected = vec![
            (
                "a".to_string(),
                vec!["0001".to_string(), "0003".to_string()],
            ),
            ("a".to_string(), vec!["0004".to_string()]),
            ("b".to_string(), vec!["0002".to_string()]),
            ("b".to_string(), vec!["0005".to_string()]),
        ];
        assert_eq!(assemble(&events), expected);
        // A later window that starts at minute 1 gives the same batches there.
        assert_eq!(
            assemble(&events[3..]),
            expected[1..2]
                .iter()
                .chain(&expected[3..])
                .cloned()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_busy_minute_is_cut_at_the_batch_bound() {
        let events: Vec<ApiEvent> = (0..BATCH_EVENTS as u32 + 3)
            .map(|i| event("a", i, 5))
            .collect();
        let sizes: Vec<usize> = assemble(&events).iter().map(|(_, ids)| ids.len()).collect();
        assert_eq!(sizes, vec![BATCH_EVENTS, 3]);
    }

    #[test]
    fn windows_are_cut_on_whole_minutes() {
        assert_eq!(whole_minutes(61_000, 179_999), (60_000, 120_000));
    }
}
