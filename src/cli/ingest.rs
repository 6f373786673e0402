//! `faultline ingest`: decode inputs, record their errors, send the alerts.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use faultline::model::{BatchSummary, Recorded};
use faultline::{notify, pipeline, policy::Policy, store};

use super::{Error, StoreArg, input};

#[derive(Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Where alerts go: console, none or sns://TOPIC_ARN.
    #[arg(
        long,
        env = "FAULTLINE_NOTIFY",
        default_value = "console",
        value_name = "URL"
    )]
    notify: String,
    /// Alert policy file (TOML): new_issue, regression, threshold, cooldown,
    /// digest. Without it: alert on new issues and regressions.
    #[arg(long, env = "FAULTLINE_POLICY", value_name = "FILE")]
    policy: Option<String>,
    /// Lambda input files, decoded DATA_MESSAGE files, directories of them
    /// (their *.json files, recursively), or - for standard input.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub async fn run(args: IngestArgs) -> Result<ExitCode, Error> {
    let sources = input::sources(&args.paths)?;
    // Decode everything first: a broken input must leave the store untouched.
    // Only the (small) summaries are kept, not the inputs themselves.
    let mut batches = Vec::new();
    let mut broken = 0;
    let mut controls = 0;
    for source in &sources {
        let input = source.read()?;
        match pipeline::prepare(&input.bytes) {
            Ok(pipeline::Prepared::Batch(batch)) => batches.push(batch),
            Ok(pipeline::Prepared::Control) => controls += 1,
            Err(e) => {
                eprintln!("faultline: {}: {e}", input.name);
                broken += 1;
            }
        }
    }
    if broken > 0 {
        eprintln!(
            "faultline: {broken} of {} inputs could not be read; nothing was recorded",
            sources.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    let policy = match &args.policy {
        Some(path) => Policy::load(path)?,
        None => Policy::default(),
    };
    let store = store::open(&args.store.store).await?;
    let notifier = notify::open(&args.notify).await?;
    let pipeline = pipeline::Pipeline::new(store, notifier).with_policy(policy);
    let mut totals = IngestTotals {
        controls,
        ..Default::default()
    };
    for (batch, recorded) in batches.iter().zip(pipeline.apply_all(&batches).await?) {
        totals.add(batch, &recorded);
    }
    let flushed = pipeline.flush_alerts().await?;
    eprintln!("{}", totals.summary(sources.len(), &args.store.store));
    if !flushed.failed.is_empty() {
        eprintln!(
            "faultline: {} alerts could not be sent and stay queued; the next ingest retries them",
            flushed.failed.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Running totals of an ingest, for its closing summary.
#[derive(Default)]
pub struct IngestTotals {
    pub batches: usize,
    pub duplicates: usize,
    pub controls: usize,
    pub events: usize,
    pub errors: usize,
    pub new_issues: usize,
    pub regressions: usize,
}

impl IngestTotals {
    pub fn add(&mut self, batch: &BatchSummary, recorded: &Recorded) {
        if recorded.duplicate {
            self.duplicates += 1;
            return;
        }
        self.batches += 1;
        self.events += batch.events;
        self.errors += batch.errors;
        self.new_issues += recorded.new_issues.len();
        self.regressions += recorded.regressions.len();
    }

    pub fn summary(&self, inputs: usize, store: &str) -> String {
        let mut text = format!(
            "ingested {inputs} inputs into {store}: {} batches, {} events, {} errors, {} new issues, {} regressions",
            self.batches, self.events, self.errors, self.new_issues, self.regressions
        );
        if self.duplicates > 0 {
            text.push_str(&format!(
                "; {} batches were already recorded and were skipped",
                self.duplicates
            ));
        }
        if self.controls > 0 {
            text.push_str(&format!(
                "; {} control messages acknowledged",
                self.controls
            ));
        }
        text
    }
}
