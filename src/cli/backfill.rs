//! `faultline ingest --log-group NAME` without files: read the log group's
//! history through the CloudWatch Logs API and record it as a subscription
//! would have.
//!
//! How it meets a store the Lambda also writes: from the moment a log group
//! has a subscription filter, CloudWatch Logs delivers every new event to
//! its destination, so the window read is clipped to end where the oldest
//! subscription filter began (said in one line), and the same event is
//! never counted by both. Batches are cut per stream and clock minute, so
//! reading an overlapping window again records nothing twice either.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use faultline::aws::logs::LogReader;
use faultline::decode::cloudwatch::{Assembler, whole_minutes};
use faultline::pipeline::{self, Prepared};
use faultline::text::{parse_ago, rfc3339};

use super::Error;
use super::ingest::{IngestArgs, Run, open_pipeline};

pub async fn run(args: IngestArgs) -> Result<ExitCode, Error> {
    let Some(log_group) = args.log_group.clone() else {
        return Err(Error::Usage(
            "give PATHs to read, or --log-group NAME to read a log group from CloudWatch Logs"
                .into(),
        ));
    };
    let now = pipeline::system_clock();
    let when = |text: &Option<String>, default: i64| -> Result<i64, Error> {
        match text {
            Some(t) => parse_ago(t, now)
                .ok_or_else(|| Error::Change(faultline::change::ChangeError::Time(t.clone()))),
            None => Ok(default),
        }
    };
    let since = when(&args.since, now - 24 * 3_600_000)?;
    let until = when(&args.until, now)?.min(now);
    if since >= until {
        return Err(Error::Usage(format!(
            "--since ({}) must be before --until ({})",
            rfc3339(since),
            rfc3339(until)
        )));
    }
    let (start, mut end) = whole_minutes(since, until);
    let probe = LogReader::new(
        args.region.as_deref(),
        &log_group,
        start,
        end,
        args.filter_pattern.as_deref(),
    )
    .await;
    if !args.ignore_subscription {
        let subscriptions = probe.subscriptions().await?;
        if let Some(first) = subscriptions.iter().min_by_key(|s| s.created) {
            if first.created < until {
                let (_, from) = whole_minutes(0, first.created);
                eprintln!(
                    "faultline: {log_group} has subscription filter {:?} (to {}) since {}: it delivers the events from then on, so this reads only those before it (--ignore-subscription reads them too, for a subscription that does not feed this store)",
                    first.name,
                    first.destination,
                    rfc3339(first.created)
                );
                end = end.min(from);
            }
        }
    }
    let mut reader = LogReader::new(
        args.region.as_deref(),
        &log_group,
        start,
        end,
        args.filter_pattern.as_deref(),
    )
    .await;
    let pipeline = open_pipeline(&args).await?;
    let mut run = Run::new(&pipeline);
    let mut assembler = Assembler::new(&log_group);
    let progress = std::io::stderr().is_terminal();
    let mut read = 0usize;
    let outcome: Result<(), Error> = async {
        while let Some(page) = reader.next_page().await? {
            for event in page {
                read += 1;
                for batch in assembler.push(event) {
                    let summary = run.summarise(&batch);
                    run.add(Prepared::Batch(summary)).await?;
                }
            }
            if progress {
                let errors = run.totals.errors + run.pending_errors();
                eprint!("\r\x1b[Kreading {log_group}: {read} events, {errors} errors");
                let _ = std::io::stderr().flush();
            }
        }
        for batch in std::mem::replace(&mut assembler, Assembler::new(&log_group)).finish() {
            let summary = run.summarise(&batch);
            run.add(Prepared::Batch(summary)).await?;
        }
        run.flush().await
    }
    .await;
    if progress {
        eprint!("\r\x1b[K");
    }
    let window = format!("{} to {}", rfc3339(start), rfc3339(end));
    if let Err(e) = outcome {
        eprintln!(
            "faultline: stopped after reading {read} events of {log_group} ({window}): {}; the batches counted here are recorded, and running the same command again records the rest without counting any twice",
            run.totals.counts()
        );
        return Err(e);
    }
    eprintln!(
        "read {read} events of {log_group} ({window}) into {}: {}",
        args.store.store,
        run.totals.counts()
    );
    if let Some(line) = run.totals.held_back(&pipeline.policy) {
        eprintln!("{line}");
    }
    if run.totals.failed_alerts > 0 {
        eprintln!(
            "faultline: {} alerts could not be sent and stay queued; the next ingest retries them",
            run.totals.failed_alerts
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
