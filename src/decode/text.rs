//! Plain text log files: one event per line, or multi-line events (a stack
//! trace under the line that logged it) that start with a timestamp.
//!
//! Read as a stream, in batches of at most [`BATCH_EVENTS`] events and about
//! [`BATCH_BYTES`], so a file of any size takes bounded memory: one line is
//! read up to [`MAX_EVENT_BYTES`] and the rest of it skipped, as CloudWatch
//! Logs bounds one event.

use std::borrow::Cow;
use std::io::{self, BufRead};

use super::{BATCH_BYTES, BATCH_EVENTS, DecodeError, LogBatch, LogEvent, Naming, content_id};

/// CloudWatch Logs' largest event: longer events are cut here.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Batches of the events of a plain text stream.
pub struct TextBatches<R> {
    reader: R,
    log_group: String,
    log_stream: String,
    /// Timestamp of lines that carry none: the last one seen, at first the
    /// file's time.
    time: i64,
    /// Bytes consumed so far: the position of the next line.
    offset: u64,
    pending: Option<Pending>,
    line: Vec<u8>,
    done: bool,
}

struct Pending {
    start: u64,
    timestamp: i64,
    message: String,
    /// Started with a timestamp: lines without one continue it.
    timestamped: bool,
}

impl<R: BufRead> TextBatches<R> {
    /// Needs a log group: plain text does not carry one.
    pub fn new(reader: R, naming: &Naming) -> Result<TextBatches<R>, DecodeError> {
        let log_group = naming
            .log_group
            .clone()
            .ok_or(DecodeError::NeedsLogGroup("not JSON; plain text log lines"))?;
        Ok(TextBatches {
            reader,
            log_group,
            log_stream: naming.log_stream.clone(),
            time: naming.default_time,
            offset: 0,
            pending: None,
            line: Vec::new(),
            done: false,
        })
    }

    fn batch(&self, events: Vec<LogEvent<'static>>) -> LogBatch<'static> {
        LogBatch {
            message_type: Cow::Borrowed("DATA_MESSAGE"),
            owner: Cow::Borrowed(""),
            log_group: Cow::Owned(self.log_group.clone()),
            log_stream: Cow::Owned(self.log_stream.clone()),
            log_events: events,
        }
    }

    /// Reads the next event that is complete (the one after it has begun,
    /// or the input ended), or `None` at the end.
    fn next_event(&mut self) -> io::Result<Option<LogEvent<'static>>> {
        loop {
            let start = self.offset;
            let Some(consumed) =
                read_line_bounded(&mut self.reader, &mut self.line, MAX_EVENT_BYTES)?
            else {
                return Ok(self.pending.take().map(finish));
            };
            self.offset += consumed as u64;
            let text = String::from_utf8_lossy(&self.line);
            let text = text.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            let stamp = leading_timestamp(text);
            if stamp.is_none() {
                if let Some(pending) = self.pending.as_mut().filter(|p| p.timestamped) {
                    if pending.message.len() + text.len() < MAX_EVENT_BYTES {
                        pending.message.push('\n');
                        pending.message.push_str(text);
                    }
                    continue;
                }
            }
            if let Some(t) = stamp {
                self.time = t;
            }
            let next = Pending {
                start,
                timestamp: self.time,
                message: text.to_string(),
                timestamped: stamp.is_some(),
            };
            if let Some(done) = self.pending.replace(next) {
                return Ok(Some(finish(done)));
            }
        }
    }
}

fn finish(pending: Pending) -> LogEvent<'static> {
    LogEvent {
        id: Cow::Owned(content_id(pending.start, &pending.message)),
        timestamp: pending.timestamp,
        message: Cow::Owned(pending.message),
    }
}

impl<R: BufRead> Iterator for TextBatches<R> {
    type Item = Result<LogBatch<'static>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut events = Vec::new();
        let mut bytes = 0;
        while events.len() < BATCH_EVENTS && bytes < BATCH_BYTES {
            match self.next_event() {
                Ok(Some(event)) => {
                    bytes += event.message.len();
                    events.push(event);
                }
                Ok(None) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(DecodeError::Io(e.to_string())));
                }
            }
        }
        (!events.is_empty()).then(|| Ok(self.batch(events)))
    }
}

/// Reads one line (with its newline) into `line`, keeping at most `max`
/// bytes and skipping the rest of a longer one. Returns the bytes consumed
/// from the reader, or `None` at the end.
fn read_line_bounded(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<usize>> {
    line.clear();
    let mut consumed = 0;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok((consumed > 0).then_some(consumed));
        }
        let (take, end) = match memchr::memchr(b'\n', buf) {
            Some(at) => (at + 1, true),
            None => (buf.len(), false),
        };
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&buf[..take.min(room)]);
        reader.consume(take);
        consumed += take;
        if end {
            return Ok(Some(consumed));
        }
    }
}

/// The epoch ms of a timestamp that starts `line`, optionally after a
/// `[LEVEL]` tag (as the Lambda runtimes write): `2025-11-24T08:19:30.123Z`,
/// `2025-11-24 08:19:30,123`, with an optional `Z` or `+hh:mm` offset (no
/// offset is UTC).
pub fn leading_timestamp(line: &str) -> Option<i64> {
    let mut text = line.trim_start();
    if text.starts_with('[') {
        let close = text.find(']').filter(|&at| at <= 12)?;
        text = text[close + 1..].trim_start();
    }
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' '))
    {
        return None;
    }
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (h, min, s) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || s > 60 {
        return None;
    }
    let mut ms = (crate::text::days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60 + s) * 1000;
    let mut at = 19;
    if matches!(b.get(at), Some(b'.' | b',')) {
        at += 1;
        let mut scale = 100;
        while let Some(d) = b.get(at).filter(|d| d.is_ascii_digit()) {
            ms += i64::from(d - b'0') * scale;
            scale /= 10;
            at += 1;
        }
    }
    if let Some(sign @ (b'+' | b'-')) = b.get(at) {
        let hours = digits(at + 1..at + 3)?;
        let minutes = match b.get(at + 3) {
            Some(b':') => digits(at + 4..at + 6)?,
            _ => digits(at + 3..at + 5).unwrap_or(0),
        };
        let offset = (hours * 60 + minutes) * 60_000;
        ms += if *sign == b'+' { -offset } else { offset };
    }
    Some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming() -> Naming {
        Naming {
            log_group: Some("/batch/nightly".into()),
            log_stream: "app.log".into(),
            default_time: 1_000,
        }
    }

    fn events(text: &str) -> Vec<(i64, String)> {
        TextBatches::new(text.as_bytes(), &naming())
            .unwrap()
            .flat_map(|b| b.unwrap().log_events)
            .map(|e| (e.timestamp, e.message.into_owned()))
            .collect()
    }

    #[test]
    fn timestamps_of_the_usual_shapes_are_read() {
        let t = 1_763_972_370_000; // 2025-11-24T08:19:30Z
        assert_eq!(leading_timestamp("2025-11-24T08:19:30Z boom"), Some(t));
        assert_eq!(
            leading_timestamp("2025-11-24T08:19:30.123Z\tx"),
            Some(t + 123)
        );
        assert_eq!(
            leading_timestamp("2025-11-24 08:19:30,5 ERROR x"),
            Some(t + 500)
        );
        assert_eq!(leading_timestamp("2025-11-24T10:19:30+02:00 x"), Some(t));
        assert_eq!(
            leading_timestamp("[ERROR]\t2025-11-24T08:19:30.000Z\treq\tx"),
            Some(t)
        );
        assert_eq!(leading_timestamp("ERROR 2025-11-24T08:19:30Z"), None);
        assert_eq!(leading_timestamp("2025-13-24T08:19:30Z"), None);
        assert_eq!(leading_timestamp("  File \"x.py\", line 3"), None);
    }

    #[test]
    fn lines_under_a_timestamped_line_belong_to_its_event() {
        let text = "2025-11-24T08:19:30Z ERROR failed\nTraceback (most recent call last):\n  File \"a.py\", line 1\nKeyError: 'x'\n\n2025-11-24T08:19:31Z INFO next\n";
        let got = events(text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].1.ends_with("KeyError: 'x'"), "{got:?}");
        assert_eq!(got[1].0, 1_763_972_371_000);
    }

    #[test]
    fn without_timestamps_every_line_is_an_event_at_the_files_time() {
        let got = events("one\r\ntwo\nthree");
        assert_eq!(
            got,
            vec![
                (1_000, "one".into()),
                (1_000, "two".into()),
                (1_000, "three".into())
            ]
        );
    }

    #[test]
    fn ids_follow_position_and_content_so_a_replay_gives_the_same_batches() {
        let ids = |text: &str| -> Vec<String> {
            TextBatches::new(text.as_bytes(), &naming())
                .unwrap()
                .flat_map(|b| b.unwrap().log_events)
                .map(|e| e.id.into_owned())
                .collect()
        };
        assert_eq!(ids("a\nb\n"), ids("a\nb\n"));
        assert_ne!(ids("a\nb\n")[1], ids("a\nc\n")[1]);
        assert_ne!(ids("a\na\n")[0], ids("a\na\n")[1]);
    }

    #[test]
    fn a_huge_line_is_cut_and_batches_stay_bounded() {
        let mut text = "x".repeat(3 * MAX_EVENT_BYTES);
        text.push('\n');
        for i in 0..BATCH_EVENTS + 10 {
            text.push_str(&format!("line {i}\n"));
        }
        let batches: Vec<LogBatch<'static>> = TextBatches::new(text.as_bytes(), &naming())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(batches[0].log_events[0].message.len(), MAX_EVENT_BYTES);
        assert!(batches.iter().all(|b| b.log_events.len() <= BATCH_EVENTS));
        let total: usize = batches.iter().map(|b| b.log_events.len()).sum();
        assert_eq!(total, BATCH_EVENTS + 11);
    }

    #[test]
    fn plain_text_needs_a_log_group() {
        let err = TextBatches::new(&b"x"[..], &Naming::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("--log-group"), "{err}");
    }
}
