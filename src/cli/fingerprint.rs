//! `faultline fingerprint`: one JSON object per log event, in input order.
//!
//! The output is a contract (benchmarks and scripts read it): at least `id`,
//! `log_group` and `fingerprint` (null when the event holds no error).

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use serde::Serialize;

use faultline::decode::{self, DecodeError, LogBatch, Naming};
use faultline::extract;
use faultline::fingerprint::{self, Explanation};
use faultline::model::{Level, Occurrence};
use faultline::pipeline;
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
    /// The log group of inputs that do not name one (plain text log files,
    /// `aws logs` output), as for `ingest`: it is part of every fingerprint.
    #[arg(long, value_name = "NAME")]
    log_group: Option<String>,
    /// Inputs, as for `ingest`: Lambda input files, DATA_MESSAGE files,
    /// `aws logs filter-log-events` / `get-log-events` output, plain text
    /// log files and JSON lines (with --log-group), any of them gzipped;
    /// directories of them; or - for standard input.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(args: FingerprintArgs) -> Result<ExitCode, Error> {
    let inputs = input::sources(&args.paths)?;
    let now = pipeline::system_clock();
    let inputs: Vec<(Source, Naming)> = inputs
        .into_iter()
        .map(|s| {
            let naming = s.naming(args.log_group.as_deref(), now);
            (s, naming)
        })
        .collect();
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
    /// The output side is gone (it failed and stopped reading): stop quietly,
    /// it reports its own error.
    #[error("output closed")]
    Closed,
}

/// What a worker sends about one input: its output a batch at a time, then
/// whether it ended with an error.
enum Piece {
    Output(Vec<u8>),
    End(Option<String>),
}

/// Prints every input's fingerprints in input order, working on several
/// inputs at once (one thread per core): big benchmark runs are many files.
/// Returns whether any input could not be read; those are reported on
/// stderr and the others still printed (an input broken halfway keeps
/// what was printed before the break).
pub fn print_all(
    inputs: &[(Source, Naming)],
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
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Piece)>(workers * 2);
        for worker in 0..workers {
            let tx = tx.clone();
            scope.spawn(move || {
                for (i, (source, naming)) in inputs.iter().enumerate().skip(worker).step_by(workers)
                {
                    // Each worker reads its own inputs, a batch at a time and
                    // sent as it is printed: a plain text file of any size
                    // costs one batch of memory here.
                    let printed = source.each_batch(naming, |batch| {
                        let mut buffer = Vec::new();
                        print(batch, every_line, explain, &mut buffer)?;
                        tx.send((i, Piece::Output(buffer)))
                            .map_err(|_| PrintError::Closed)
                    });
                    let error = match printed {
                        Ok(()) => None,
                        Err(PrintError::Closed) => return,
                        Err(e) => Some(format!("{}: {e}", source.name())),
                    };
                    if tx.send((i, Piece::End(error))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Pieces of the input due next are written as they come; the others
        // wait, whole, until their turn.
        let mut next = 0;
        let mut waiting: std::collections::BTreeMap<usize, Vec<Piece>> = Default::default();
        for (i, piece) in rx {
            if i != next {
                waiting.entry(i).or_default().push(piece);
                continue;
            }
            let mut due = vec![piece];
            while !due.is_empty() {
                let mut ended = false;
                for piece in due.drain(..) {
                    match piece {
                        Piece::Output(bytes) => out.write_all(&bytes)?,
                        Piece::End(error) => {
                            if let Some(error) = error {
                                eprintln!("faultline: {error}");
                                failed = true;
                            }
                            ended = true;
                        }
                    }
                }
                if ended {
                    next += 1;
                    due = waiting.remove(&next).unwrap_or_default();
                }
            }
        }
        Ok(())
    })?;
    Ok(failed)
}

/// Prints the fingerprint of every event of one batch.
pub fn print(
    batch: &LogBatch<'_>,
    every_line: bool,
    explain: bool,
    out: &mut impl Write,
) -> Result<(), PrintError> {
    if batch.is_control() {
        return Ok(());
    }
    if every_line && !explain {
        return print_every_line(batch, out);
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
