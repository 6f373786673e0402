//! `faultline ingest`: decode inputs, record their errors, send the alerts.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use faultline::decode::text::TextBatches;
use faultline::decode::{DecodeError, LogBatch, Naming};
use faultline::model::{BatchSummary, EventType, HeldBack, Recorded};
use faultline::pipeline::{self, Ingested, Pipeline, Prepared};
use faultline::runs::RunConfig;
use faultline::stream::Streams;
use faultline::{notify, policy::Policy, store};

use super::input::{Opened, Source};
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
    pub notify: String,
    /// Alert policy file (TOML): new_issue, regression, threshold, cooldown,
    /// digest. Without it: alert on new issues and regressions.
    #[arg(long, env = "FAULTLINE_POLICY", value_name = "FILE")]
    pub policy: Option<String>,
    /// Without PATHs: read this log group's history through the CloudWatch
    /// Logs API. With PATHs: the log group of inputs that do not name one
    /// (plain text log files, `aws logs` output).
    #[arg(long, value_name = "NAME")]
    pub log_group: Option<String>,
    /// Reading a log group: from this long ago (30m, 24h, 7d) or this UTC
    /// date/time (2025-12-01, 2025-12-01T08:00:00Z) [default: 24h].
    #[arg(long, value_name = "WHEN", requires = "log_group")]
    pub since: Option<String>,
    /// Reading a log group: up to this long ago or this UTC date/time
    /// [default: now].
    #[arg(long, value_name = "WHEN", requires = "log_group")]
    pub until: Option<String>,
    /// Reading a log group: only events matching this CloudWatch Logs
    /// filter pattern (such as ERROR, or ?ERROR ?Exception).
    #[arg(long, value_name = "PATTERN", requires = "log_group")]
    pub filter_pattern: Option<String>,
    /// Reading a log group: its AWS region [default: AWS_REGION or the
    /// profile's].
    #[arg(long, value_name = "REGION", requires = "log_group")]
    pub region: Option<String>,
    /// Reading a log group that has a subscription filter: read the events
    /// it delivers too. Only for a subscription that does not feed this
    /// store, or the same events are counted twice.
    #[arg(long, requires = "log_group")]
    pub ignore_subscription: bool,
    /// Record the inputs that can be read and list the ones that cannot,
    /// instead of stopping before anything is recorded.
    #[arg(long)]
    skip_invalid: bool,
    /// Lambda input files, decoded DATA_MESSAGE files, `aws logs
    /// filter-log-events` / `get-log-events` output, plain text log files
    /// (with --log-group), any of them gzipped; directories of them (their
    /// *.json, *.log, *.txt and *.gz files, recursively); or - for standard
    /// input. Without PATHs, --log-group names a log group to read from
    /// CloudWatch Logs.
    #[arg(value_name = "PATH", required_unless_present = "log_group")]
    paths: Vec<PathBuf>,
}

/// Summaries are recorded in chunks of about this many bytes, so memory
/// stays bounded however many inputs a run has (one summary can hold a few
/// samples per issue of its batch).
const CHUNK_BYTES: usize = 16 * 1024 * 1024;

/// Summaries the checking pass may keep so that recording need not decode
/// those inputs again (about 64 MB of them; a typical batch's summary is a
/// few KB, so thousands of inputs are decoded only once).
const KEPT_BYTES: usize = 4 * CHUNK_BYTES;

pub async fn run(args: IngestArgs) -> Result<ExitCode, Error> {
    if args.paths.is_empty() {
        return super::backfill::run(args).await;
    }
    for (given, name) in [
        (args.since.is_some(), "--since"),
        (args.until.is_some(), "--until"),
        (args.filter_pattern.is_some(), "--filter-pattern"),
        (args.region.is_some(), "--region"),
        (args.ignore_subscription, "--ignore-subscription"),
    ] {
        if given {
            return Err(Error::Usage(format!(
                "{name} applies to reading a log group from CloudWatch Logs (--log-group NAME without PATHs), not to files"
            )));
        }
    }
    let sources = input::sources(&args.paths)?;
    let now = pipeline::system_clock();
    let namings: Vec<Naming> = sources
        .iter()
        .map(|s| s.naming(args.log_group.as_deref(), now))
        .collect();
    // First pass: check every input, so that without --skip-invalid a
    // broken input stops the run before anything is recorded. Documents are
    // summarised as they are checked while the summaries kept fit in
    // KEPT_BYTES, so a run of ordinary size decodes each input once; past
    // that, inputs are only checked and summarised again when recorded, and
    // memory stays bounded however many there are. Summaries carry traces
    // from one file of a stream to the next, so the inputs are summarised
    // in order: once one is left for the second pass, so are all after it.
    // The policy names the fields that tie events to runs, which summaries
    // need; a policy that cannot be read stops the run here.
    let mut streams = Streams::with_runs(load_policy(&args)?.run_config());
    let mut checked: Vec<Checked> = Vec::with_capacity(sources.len());
    let mut kept_bytes = 0;
    let mut keeping = true;
    for (i, source) in sources.iter().enumerate() {
        keeping &= kept_bytes < KEPT_BYTES;
        let keep = keeping.then_some(&mut streams);
        match check(source, &namings[i], keep) {
            Ok(c) => {
                if let Checked::Prepared(prepared) = &c {
                    kept_bytes += prepared.iter().map(prepared_size).sum::<usize>();
                } else {
                    keeping = false;
                }
                checked.push(c);
            }
            Err(e) => {
                eprintln!("faultline: {}: {e}", source.name());
                checked.push(Checked::Broken);
            }
        }
    }
    let broken = checked
        .iter()
        .filter(|c| matches!(c, Checked::Broken))
        .count();
    if broken > 0 && !args.skip_invalid {
        eprintln!(
            "faultline: {broken} of {} inputs could not be read; nothing was recorded (--skip-invalid records the others)",
            sources.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    let pipeline = open_pipeline(&args).await?;
    let mut run = Run::new(&pipeline);
    run.streams = streams;
    // Second pass: record, in bounded chunks.
    for (i, (source, checked)) in sources.iter().zip(checked).enumerate() {
        let recorded = match checked {
            Checked::Broken => continue,
            Checked::Prepared(prepared) => run.add_all(prepared).await,
            Checked::Readable => run.input(source, &namings[i]).await,
        };
        if let Err(e) = recorded {
            eprintln!("{}", run.totals.summary(i, &args.store.store));
            eprintln!(
                "faultline: stopped at {}: the batches counted above are recorded; run the same command again to record the rest (recorded batches are recognised and not counted twice)",
                source.name()
            );
            return Err(e);
        }
    }
    // Traces the last file of a stream left unfinished are judged as they
    // are: no file follows.
    for batch in run.streams.finish() {
        run.add(Prepared::Batch(batch)).await?;
    }
    run.flush().await?;
    let totals = run.totals;
    eprintln!(
        "{}",
        totals.summary(sources.len() - broken, &args.store.store)
    );
    if let Some(line) = totals.held_back(&pipeline.policy) {
        eprintln!("{line}");
    }
    if let Some(line) = leased_line(&pipeline).await? {
        eprintln!("{line}");
    }
    if broken > 0 {
        eprintln!("faultline: skipped {broken} inputs that could not be read (listed above)");
    }
    if totals.failed_alerts > 0 {
        eprintln!(
            "faultline: {} alerts could not be sent and stay queued; the next ingest retries them",
            totals.failed_alerts
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// One line about the alerts another run holds a lease on, if any: they
/// are that run's to send, and if it stopped, the first run after the
/// lease ends sends them.
pub async fn leased_line(pipeline: &Pipeline) -> Result<Option<String>, Error> {
    let leased = pipeline.store.leased_alerts((pipeline.clock)()).await?;
    let Some(last) = leased.iter().map(|a| a.lease_until).max() else {
        return Ok(None);
    };
    let issues: usize = leased.iter().map(|a| a.issues).sum();
    Ok(Some(format!(
        "faultline: {} queued alerts for {issues} issues are held by another run's lease until {}: that run is sending them; if it stopped, the first faultline run after then sends them",
        leased.len(),
        faultline::text::rfc3339(last)
    )))
}

/// The policy the arguments name, or the default.
fn load_policy(args: &IngestArgs) -> Result<Policy, Error> {
    Ok(match &args.policy {
        Some(path) => Policy::load(path)?,
        None => Policy::default(),
    })
}

/// The store, notifier and policy the arguments name.
pub async fn open_pipeline(args: &IngestArgs) -> Result<Pipeline, Error> {
    let policy = load_policy(args)?;
    let store = store::open(&args.store.store).await?;
    let notifier = notify::open(&args.notify).await?;
    Ok(Pipeline::new(store, notifier).with_policy(policy))
}

/// What the checking pass learnt of one input.
enum Checked {
    /// It cannot be read; the message has been printed.
    Broken,
    /// Readable, and already summarised: recorded without decoding again.
    Prepared(Vec<Prepared>),
    /// Readable; summarised when it is recorded.
    Readable,
}

/// Reads one input through to the end: a broken input is found before
/// anything is written. A document is summarised on the way, through the
/// run's streams, when they are given; text is only read through, since a
/// text file can hold any number of batches.
fn check(
    source: &Source,
    naming: &Naming,
    keep: Option<&mut Streams>,
) -> Result<Checked, DecodeError> {
    match (source.open()?, keep) {
        (Opened::Document(bytes), Some(streams)) => {
            Ok(Checked::Prepared(streams.prepare_document(&bytes, naming)?))
        }
        (Opened::Document(bytes), None) => {
            pipeline::check_document(&bytes, naming)?;
            source.keep(Opened::Document(bytes));
            Ok(Checked::Readable)
        }
        (Opened::Text(reader), _) => {
            TextBatches::new(std::io::empty(), naming)?;
            match source {
                // Text from standard input is read once, in the second pass.
                Source::Stdin(_) => source.keep(Opened::Text(reader)),
                // A gzipped file can be damaged halfway: read it through.
                Source::File(_) => {
                    std::io::copy(&mut { reader }, &mut std::io::sink())
                        .map_err(DecodeError::Gzip)?;
                }
            }
            Ok(Checked::Readable)
        }
    }
}

/// The recording pass: prepared batches gathered into bounded chunks.
pub struct Run<'a> {
    pipeline: &'a Pipeline,
    /// The run id and item count fields the policy names per log group.
    run_fields: RunConfig,
    chunk: Vec<BatchSummary>,
    chunk_bytes: usize,
    pub totals: IngestTotals,
    /// Traces a file ended inside, carried to the next file of the stream.
    pub streams: Streams,
}

impl<'a> Run<'a> {
    pub fn new(pipeline: &'a Pipeline) -> Run<'a> {
        Run {
            pipeline,
            run_fields: pipeline.policy.run_config(),
            chunk: Vec::new(),
            chunk_bytes: 0,
            totals: IngestTotals::default(),
            streams: Streams::with_runs(pipeline.policy.run_config()),
        }
    }

    async fn input(&mut self, source: &Source, naming: &Naming) -> Result<(), Error> {
        let opened = source.open().map_err(|e| Error::Decode(source.name(), e))?;
        match opened {
            Opened::Document(bytes) => {
                let prepared = self
                    .streams
                    .prepare_document(&bytes, naming)
                    .map_err(|e| Error::Decode(source.name(), e))?;
                drop(bytes);
                for p in prepared {
                    self.add(p).await?;
                }
            }
            Opened::Text(reader) => {
                let batches = TextBatches::new(reader, naming)
                    .map_err(|e| Error::Decode(source.name(), e))?;
                for batch in batches {
                    let batch = batch.map_err(|e| Error::Decode(source.name(), e))?;
                    for summary in self.streams.summarise(&batch) {
                        self.add(Prepared::Batch(summary)).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds inputs summarised earlier, in order.
    pub async fn add_all(&mut self, prepared: Vec<Prepared>) -> Result<(), Error> {
        for p in prepared {
            self.add(p).await?;
        }
        Ok(())
    }

    /// The pure stages over a batch decoded as a stream, with the policy's
    /// run fields.
    pub fn summarise(&self, batch: &LogBatch<'_>) -> BatchSummary {
        pipeline::summarise_with(batch, &self.run_fields)
    }

    pub async fn add(&mut self, prepared: Prepared) -> Result<(), Error> {
        match prepared {
            Prepared::Control => self.totals.controls += 1,
            Prepared::Batch(batch) => {
                self.chunk_bytes += approximate_size(&batch);
                self.chunk.push(batch);
                if self.chunk_bytes >= CHUNK_BYTES {
                    self.flush().await?;
                }
            }
        }
        Ok(())
    }

    /// Errors in the batches gathered but not yet recorded.
    pub fn pending_errors(&self) -> usize {
        self.chunk.iter().map(|b| b.errors).sum()
    }

    /// Records the chunk gathered so far and sends its alerts. When the
    /// alerts cannot be read after the chunk was recorded, the chunk still
    /// counts in the totals: the summary printed with the error says so.
    pub async fn flush(&mut self) -> Result<(), Error> {
        let Ingested { recorded, flushed } = self.pipeline.record(&self.chunk).await?;
        for (batch, recorded) in self.chunk.iter().zip(&recorded) {
            self.totals.add(batch, recorded);
        }
        self.chunk.clear();
        self.chunk_bytes = 0;
        let flushed = flushed?;
        self.totals.failed_alerts += flushed.failed.len();
        self.totals.alerts_sent += flushed.sent;
        self.totals.announced.extend(flushed.announced);
        self.totals.unsent.extend(flushed.unsent);
        Ok(())
    }
}

fn prepared_size(prepared: &Prepared) -> usize {
    match prepared {
        Prepared::Control => 0,
        Prepared::Batch(batch) => approximate_size(batch),
    }
}

/// About how many bytes a summary holds: what its samples and facets carry.
fn approximate_size(batch: &BatchSummary) -> usize {
    let sample = |s: &faultline::model::Sample| {
        s.message.len()
            + s.fields
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + s.log_stream.len()
            + 256
    };
    batch
        .issues
        .iter()
        .map(|i| {
            i.title.len()
                + i.fingerprint.len()
                + i.samples.iter().map(sample).sum::<usize>()
                + i.facets
                    .iter()
                    .map(|f| f.name.len() + f.value.len() + 64)
                    .sum::<usize>()
                + 512
        })
        .sum::<usize>()
        + 256
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
    pub failed_alerts: usize,
    pub alerts_sent: usize,
    /// Issues named by the alerts this run sent.
    pub announced: std::collections::HashSet<String>,
    /// Issues named by alerts this run could not send.
    pub unsent: std::collections::HashSet<String>,
    /// New issues and regressions this run recorded, in order.
    pub raised: Vec<(String, &'static str)>,
    /// Why recording queued no alert for some of them.
    pub held: std::collections::HashMap<String, HeldBack>,
    /// Errors past the limit of distinct issues per batch, the batches
    /// that had them, and the overflow issues that counted them.
    pub over_limit: u64,
    pub over_limit_batches: usize,
    pub overflow_issues: std::collections::BTreeSet<String>,
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
        self.raised.extend(
            recorded
                .new_issues
                .iter()
                .map(|id| (id.clone(), "new issue")),
        );
        self.raised.extend(
            recorded
                .regressions
                .iter()
                .map(|id| (id.clone(), "regression")),
        );
        self.held.extend(recorded.held_back.iter().cloned());
        if let Some(overflow) = batch.overflow() {
            self.over_limit += overflow.count;
            self.over_limit_batches += 1;
            self.overflow_issues
                .insert(faultline::model::issue_id(&overflow.fingerprint));
        }
    }

    pub fn summary(&self, inputs: usize, store: &str) -> String {
        format!("ingested {inputs} inputs into {store}: {}", self.counts())
    }

    /// What was recorded, in words.
    pub fn counts(&self) -> String {
        let mut text = format!(
            "{} batches, {} events, {} errors, {} new issues, {} regressions",
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
        if self.alerts_sent > 0 {
            text.push_str(&format!(
                "; {} alerts sent for {} issues",
                self.alerts_sent,
                self.announced.len()
            ));
        }
        if self.over_limit > 0 {
            let ids: Vec<&str> = self.overflow_issues.iter().map(String::as_str).collect();
            text.push_str(&format!(
                "; {} errors in {} batches were past the limit of {} distinct issues per batch and were counted into issue {} (`faultline issues show ID` lists their titles)",
                self.over_limit,
                self.over_limit_batches,
                faultline::limits::MAX_ISSUES_PER_BATCH,
                ids.join(", ")
            ));
        }
        text
    }

    /// One line about the new issues and regressions this run recorded but
    /// sent no alert for, if any, naming each and why: the alert policy
    /// held it back (an event type turned off, a regression inside the
    /// cooldown, a job run that decides), its alert could not be sent (it
    /// stays queued), or its alert is queued under another run's lease (that
    /// run sends it).
    pub fn held_back(&self, policy: &Policy) -> Option<String> {
        let held: Vec<String> = self
            .raised
            .iter()
            .filter(|(id, _)| !self.announced.contains(id))
            .map(|(id, what)| format!("{id} ({what}: {})", self.why_held(id, policy)))
            .collect();
        if held.is_empty() {
            return None;
        }
        let shown = held.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
        let more = held.len().saturating_sub(10);
        let more = if more > 0 {
            format!(", and {more} more (`faultline issues` lists them)")
        } else {
            String::new()
        };
        Some(format!(
            "faultline: no alert sent by this run for {} of the new issues and regressions: {shown}{more}",
            held.len()
        ))
    }

    /// Why the issue `id` that this run raised got no alert from it.
    fn why_held(&self, id: &str, policy: &Policy) -> String {
        match self.held.get(id) {
            Some(HeldBack::TurnedOff(EventType::NewIssue)) => {
                "the alert policy has new_issue = false".into()
            }
            Some(HeldBack::TurnedOff(_)) => "the alert policy has regression = false".into(),
            Some(HeldBack::Cooldown) => format!(
                "it alerted less than the policy's cooldown_minutes = {} ago",
                policy.cooldown_minutes
            ),
            Some(HeldBack::ByRuns) => format!(
                "its job runs decide: a retry got past it (alert_recovered = {}) or it has been in fewer than alert_after_runs = {} runs",
                policy.alert_recovered, policy.alert_after_runs
            ),
            None if self.unsent.contains(id) => {
                "its alert could not be sent; it stays queued and the next ingest retries it".into()
            }
            None => "its alert is queued under another run's lease; that run sends it".into(),
        }
    }
}
