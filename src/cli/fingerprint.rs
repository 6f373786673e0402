//! `faultline fingerprint`: one JSON object per log event, in input order.
//!
//! The output is a contract (benchmarks and scripts read it): at least `id`,
//! `log_group` and `fingerprint` (null when the event holds no error).

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use serde::Serialize;

use faultline::decode::{self, DecodeError};
use faultline::extract;
use faultline::fingerprint::{self, Explanation};
use faultline::model::{Level, Occurrence};
use faultline::scrub;

use super::Error;
use super::input::{self, Source};

#[derive(Args)]
pub struct FingerprintArgs {
    /// Treat every message as an error message (for template-grouping
    /// benchmarks), skipping error detection.
    #[arg(long)]
    every_line: bool,
    /// Add which rule decided each fingerprint and what went into it (type,
    /// throw site, masked message), the issue id it maps to (as `faultline
    /// issues` shows it), and for an event that is not an error, why not.
    #[arg(long)]
    explain: bool,
    /// Inputs, as for `ingest`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(args: FingerprintArgs) -> Result<ExitCode, Error> {
    let inputs = input::sources(&args.paths)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let failed =
        print_all(&inputs, args.every_line, args.explain, &mut out).map_err(Error::Output)?;
    out.flush().map_err(Error::Output)?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    log_group: &'a str,
    fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<Explanation>,
    /// With `--explain`, why an event is not an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_an_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Prints every input's fingerprints in input order, working on several
/// inputs at once (one thread per core): big benchmark runs are many files.
/// Returns whether any input could not be read; those are reported on
/// stderr and the others still printed.
pub fn print_all(
    inputs: &[Source],
    every_line: bool,
    explain: bool,
    out: &mut impl Write,
) -> std::io::Result<bool> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(inputs.len().max(1));
    let mut failed = false;
    std::thread::scope(|scope| -> std::io::Result<()> {
        // Bounded, so a fast worker cannot buffer the whole output.
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<(usize, Vec<u8>, Option<String>)>(workers * 2);
        for worker in 0..workers {
            let tx = tx.clone();
            scope.spawn(move || {
                for (i, source) in inputs.iter().enumerate().skip(worker).step_by(workers) {
                    // Each worker reads its own files: only the inputs in
                    // flight are in memory, not the whole run.
                    let (buffer, error) = match source.read() {
                        Ok(input) => {
                            let mut buffer = Vec::with_capacity(input.bytes.len());
                            let error = print(&input.bytes, every_line, explain, &mut buffer)
                                .err()
                                .map(|e| format!("{}: {e}", input.name));
                            (buffer, error)
                        }
                        Err(e) => (Vec::new(), Some(e.to_string())),
                    };
                    if tx.send((i, buffer, error)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut next = 0;
        let mut waiting = std::collections::BTreeMap::new();
        for (i, buffer, error) in rx {
            waiting.insert(i, (buffer, error));
            while let Some((buffer, error)) = waiting.remove(&next) {
                out.write_all(&buffer)?;
                if let Some(error) = error {
                    eprintln!("faultline: {error}");
                    failed = true;
                }
                next += 1;
            }
        }
        Ok(())
    })?;
    Ok(failed)
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
    if every_line && !explain {
        return print_every_line(&batch, out);
    }
    let verdicts: Vec<extract::Verdict> = if every_line {
        batch
            .log_events
            .iter()
            .map(|e| extract::Verdict::Error(every_line_occurrence(&e.message)))
            .collect()
    } else {
        // Scrubbed as ingest scrubs them, so the keys printed here are the
        // keys ingest stores.
        let mut verdicts = extract::explain_events(&batch.log_events);
        for v in &mut verdicts {
            if let extract::Verdict::Error(o) = v {
                scrub::occurrence(o);
            }
        }
        verdicts
    };
    for (event, verdict) in batch.log_events.iter().zip(&verdicts) {
        let occurrence = match verdict {
            extract::Verdict::Error(o) => Some(o),
            _ => None,
        };
        let explanation = occurrence
            .filter(|_| explain)
            .map(|o| fingerprint::explain(&batch.log_group, o));
        let key = match (&explanation, occurrence) {
            (Some(e), _) => Some(e.fingerprint.clone()),
            (None, Some(o)) => Some(fingerprint::fingerprint(&batch.log_group, o)),
            (None, None) => None,
        };
        let not_an_error = match verdict {
            _ if !explain => None,
            extract::Verdict::Error(_) => None,
            extract::Verdict::Continuation(head) => Some(format!(
                "continues the trace of event {}",
                batch.log_events.get(*head).map_or("?", |e| e.id.as_ref())
            )),
            extract::Verdict::LoggedBelowError(head) => Some(format!(
                "part of a trace logged below ERROR (a handled failure) by event {}",
                batch.log_events.get(*head).map_or("?", |e| e.id.as_ref())
            )),
            extract::Verdict::Repeat(why) => Some(format!("repeats a failure: {why}")),
            extract::Verdict::NotError(why) => Some((*why).to_string()),
        };
        let line = Line {
            id: &event.id,
            log_group: &batch.log_group,
            fingerprint: key,
            kind: occurrence.map(|o| o.kind.as_str()),
            explain: explanation,
            not_an_error,
        };
        serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The `--every-line` fast path: a million-line benchmark input should cost
/// masking and hashing, not an `Occurrence` and an `Explanation` per line.
/// Writes the same objects as the general path.
fn print_every_line(batch: &decode::LogBatch<'_>, out: &mut impl Write) -> Result<(), PrintError> {
    let group = serde_json::to_string(batch.log_group.as_ref()).map_err(std::io::Error::from)?;
    let mut scratch = String::new();
    for event in &batch.log_events {
        let key = fingerprint::line_key(&batch.log_group, &event.message, &mut scratch);
        out.write_all(b"{\"id\":")?;
        serde_json::to_writer(&mut *out, event.id.as_ref()).map_err(std::io::Error::from)?;
        writeln!(
            out,
            ",\"log_group\":{group},\"fingerprint\":\"{key}\",\"kind\":\"\"}}"
        )?;
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
