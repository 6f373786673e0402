//! `faultline fingerprint`: one JSON object per log event, in input order.
//!
//! The output is a contract (benchmarks and scripts read it): at least `id`,
//! `log_group` and `fingerprint` (null when the event holds no error).

use std::io::Write;

use serde::Serialize;

use faultline::decode::{self, DecodeError};
use faultline::extract::{self, Level, Occurrence};
use faultline::fingerprint::{self, Explanation};
use faultline::scrub;

#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    log_group: &'a str,
    fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<Explanation>,
}

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Prints the fingerprint of every event of one input.
pub fn print(
    input: &[u8],
    every_line: bool,
    explain: bool,
    out: &mut impl Write,
) -> Result<(), PrintError> {
    let payload = decode::payload(input)?;
    let batch = decode::parse(&payload)?;
    let found: Vec<Option<Occurrence>> = if every_line {
        batch
            .log_events
            .iter()
            .map(|e| Some(every_line_occurrence(&e.message)))
            .collect()
    } else {
        extract::extract_events(&batch.log_events)
    };
    for (event, occurrence) in batch.log_events.iter().zip(&found) {
        let explanation = occurrence
            .as_ref()
            .map(|o| fingerprint::explain(&batch.log_group, o));
        let line = Line {
            id: &event.id,
            log_group: &batch.log_group,
            fingerprint: explanation.as_ref().map(|e| e.fingerprint.clone()),
            kind: occurrence.as_ref().map(|o| o.kind.as_str()),
            explain: if explain {
                explanation.map(|mut e| {
                    // The template is shown to people: no secrets in it.
                    e.template = scrub::scrub(&e.template).into_owned();
                    e
                })
            } else {
                None
            },
        };
        serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn every_line_occurrence(message: &str) -> Occurrence {
    Occurrence {
        kind: String::new(),
        message: message.to_string(),
        frames: Vec::new(),
        level: Level::Error,
        shape: "every-line",
        fingerprint: None,
        fields: Vec::new(),
    }
}
