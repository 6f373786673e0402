//! The `faultline` command: the pipeline on local files and the embedded store.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use faultline::model::{StatusChange, StatusFilter};
use faultline::store::{self, DEFAULT_URL};
use faultline::{notify, pipeline};

mod cli;

/// mimalloc keeps freed memory for reuse instead of returning it to the
/// kernel after every batch: with the system allocator, each 1 MB batch
/// buffer was mapped and faulted in anew (55,000 page faults per 100 batches,
/// 15% of the CPU time; BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "faultline",
    version,
    about = "Error tracking for the logs of batch jobs on AWS",
    long_about = "Error tracking for the logs of batch jobs on AWS.\n\n\
        faultline reads CloudWatch Logs subscription payloads, finds the errors in them, \
        groups them into issues by fingerprint, counts them in a store and alerts when a \
        new kind of error appears.\n\nStart with:\n  faultline ingest events/\n  faultline issues"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode log batches, record their errors as issues and alert on new ones.
    ///
    /// Every input is checked before anything is written: one broken input
    /// fails the whole run and leaves the store as it was. Replaying a batch
    /// changes no count.
    Ingest(IngestArgs),
    /// Print the fingerprint of every log event, one JSON object per line.
    Fingerprint(FingerprintArgs),
    /// List issues, or show, resolve, ignore or reopen one.
    Issues(IssuesArgs),
    /// Write one self-contained HTML page with the issues, their charts,
    /// samples and links (no network requests; safe to share).
    Report(ReportArgs),
    /// Manage the store itself.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Args, Clone)]
struct StoreArg {
    /// Where issues are kept: sqlite:PATH or dynamodb://TABLE.
    #[arg(long, env = "FAULTLINE_STORE", default_value = DEFAULT_URL, value_name = "URL")]
    store: String,
}

#[derive(Args)]
struct IngestArgs {
    #[command(flatten)]
    store: StoreArg,
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

#[derive(Args)]
struct FingerprintArgs {
    /// Treat every message as an error message (for template-grouping
    /// benchmarks), skipping error detection.
    #[arg(long)]
    every_line: bool,
    /// Add what went into each fingerprint (kind, masked message, frames).
    #[arg(long)]
    explain: bool,
    /// Inputs, as for `ingest`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Args)]
struct IssuesArgs {
    #[command(subcommand)]
    action: Option<IssuesAction>,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(Args, Clone)]
struct ListArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Which issues to list.
    #[arg(long, value_enum, default_value = "open")]
    status: StatusFilter,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum IssuesAction {
    /// List issues (the default).
    List(ListArgs),
    /// Show one issue with its samples and context.
    Show(IdArgs),
    /// Mark an issue resolved; it regresses (reopens and alerts) if it occurs again.
    Resolve {
        #[command(flatten)]
        id: IdArgs,
        /// The version with the fix: occurrences from older versions (still
        /// running during a deploy) do not regress the issue.
        #[arg(long, value_name = "VERSION")]
        in_version: Option<String>,
    },
    /// Mark an issue ignored: it is still counted but does not alert.
    Ignore {
        #[command(flatten)]
        id: IdArgs,
        /// Only until then: a duration (7d, 12h) or a UTC date/time
        /// (2025-12-01, 2025-12-01T08:00:00Z).
        #[arg(long, value_name = "WHEN")]
        until: Option<String>,
        /// Only for this many more occurrences.
        #[arg(long = "for", value_name = "N")]
        for_count: Option<u64>,
    },
    /// Mark an issue open again.
    Reopen(IdArgs),
}

#[derive(Args)]
struct IdArgs {
    /// The issue id, or a unique prefix of it.
    id: String,
    #[command(flatten)]
    store: StoreArg,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ReportArgs {
    /// Where to write the page.
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
    #[command(flatten)]
    store: StoreArg,
    /// Which issues to include.
    #[arg(long, value_enum, default_value = "all")]
    status: StatusFilter,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Create the store's tables (idempotent).
    Init(StoreArg),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FAULTLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("faultline: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("faultline: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, cli::Error> {
    match cli.command {
        Command::Ingest(args) => ingest(args).await,
        Command::Fingerprint(args) => {
            let inputs = cli::sources(&args.paths)?;
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let failed =
                cli::fingerprint::print_all(&inputs, args.every_line, args.explain, &mut out)
                    .map_err(cli::Error::Output)?;
            out.flush().map_err(cli::Error::Output)?;
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Issues(args) => issues(args).await,
        Command::Report(args) => {
            let store = store::open(&args.store.store).await?;
            let mut details = Vec::new();
            for issue in store.issues(args.status).await? {
                if let Some(detail) = store.issue(&issue.id).await? {
                    details.push(detail);
                }
            }
            let page = faultline::report::html(
                &details,
                pipeline::system_clock(),
                &faultline::links::region(),
            );
            std::fs::write(&args.html, page).map_err(|source| cli::Error::Write {
                path: args.html.display().to_string(),
                source,
            })?;
            eprintln!("wrote {} issues to {}", details.len(), args.html.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Store {
            command: StoreCommand::Init(arg),
        } => {
            let store = store::open(&arg.store).await?;
            store.init().await?;
            println!("store ready: {}", arg.store);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn ingest(args: IngestArgs) -> Result<ExitCode, cli::Error> {
    let sources = cli::sources(&args.paths)?;
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
        Some(path) => faultline::policy::Policy::load(path)?,
        None => faultline::policy::Policy::default(),
    };
    let store = store::open(&args.store.store).await?;
    let notifier = notify::open(&args.notify).await?;
    let pipeline = pipeline::Pipeline::new(store, notifier).with_policy(policy);
    let mut totals = cli::IngestTotals {
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

async fn issues(args: IssuesArgs) -> Result<ExitCode, cli::Error> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let action = args.action.unwrap_or(IssuesAction::List(args.list));
    match action {
        IssuesAction::List(list) => {
            let store = store::open(&list.store.store).await?;
            let issues = store.issues(list.status).await?;
            if list.json {
                cli::render::issues_json(&issues, &mut out)?;
            } else {
                // The sparkline covers the 24 hours up to the newest
                // occurrence listed: batch jobs are looked at the morning
                // after, and replayed logs keep their own times.
                let end = issues.iter().map(|i| i.last_seen).max().unwrap_or(0);
                let mut lines = Vec::with_capacity(issues.len());
                for issue in &issues {
                    let hours = store.hours(&issue.id, end - 24 * 3_600_000).await?;
                    lines.push(cli::render::last_day(&hours, end));
                }
                cli::render::issues_table(&issues, &lines, &mut out)?;
            }
        }
        IssuesAction::Show(id) => {
            let store = store::open(&id.store.store).await?;
            let resolved = store::resolve_id(store.as_ref(), &id.id).await?;
            let detail = store
                .issue(&resolved)
                .await?
                .ok_or_else(|| store::StoreError::NotFound(id.id.clone()))?;
            if id.json {
                cli::render::json(&detail, &mut out)?;
            } else {
                cli::render::issue_detail(&detail, &mut out)?;
            }
        }
        IssuesAction::Resolve { id, in_version } => {
            set_status(id, StatusChange::Resolved { in_version }, &mut out).await?
        }
        IssuesAction::Ignore {
            id,
            until,
            for_count,
        } => {
            let until = match until {
                Some(text) => Some(
                    faultline::text::parse_time(&text, pipeline::system_clock())
                        .ok_or(cli::Error::Time(text))?,
                ),
                None => None,
            };
            set_status(id, StatusChange::Ignored { until, for_count }, &mut out).await?
        }
        IssuesAction::Reopen(id) => set_status(id, StatusChange::Open, &mut out).await?,
    }
    out.flush().map_err(cli::Error::Output)?;
    Ok(ExitCode::SUCCESS)
}

async fn set_status(
    id: IdArgs,
    change: StatusChange,
    out: &mut impl Write,
) -> Result<(), cli::Error> {
    let store = store::open(&id.store.store).await?;
    let resolved = store::resolve_id(store.as_ref(), &id.id).await?;
    let issue = store.set_status(&resolved, &change).await?;
    if id.json {
        cli::render::json(&issue, out)
    } else {
        writeln!(out, "{}", cli::render::status_line(&issue)).map_err(cli::Error::Output)
    }
}
