//! The `faultline` command: one module per subcommand, each holding its
//! arguments and its handler; `main.rs` only starts it.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use faultline::notify::NotifyError;
use faultline::store::{DEFAULT_URL, Store, StoreError};

pub mod backfill;
pub mod fingerprint;
pub mod ingest;
pub mod input;
pub mod issues;
pub mod render;
pub mod report;
pub mod runs;
pub mod serve;
pub mod store;
pub mod terminal;

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
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Decode log batches, record their errors as issues and alert on new ones.
    ///
    /// Every input is checked before anything is written: without
    /// --skip-invalid one broken input stops the run and nothing is recorded.
    /// Inputs are then recorded in bounded chunks, each batch exactly once;
    /// if the run fails while recording (the store unreachable, a file
    /// unreadable halfway), the batches recorded before the failure stay
    /// recorded, the summary counts them, and running the same command again
    /// records the rest: a replayed batch changes no count.
    Ingest(ingest::IngestArgs),
    /// Print the fingerprint of every log event, one JSON object per line.
    Fingerprint(fingerprint::FingerprintArgs),
    /// List issues, or show, resolve, ignore or reopen one.
    Issues(issues::IssuesArgs),
    /// List the runs of batch jobs (Step Functions executions, Batch jobs,
    /// ECS tasks, runs named by a log field), or show one with its issues.
    Runs(runs::RunsArgs),
    /// Write one self-contained HTML page with the issues, their charts,
    /// samples and links (no network requests; safe to share).
    Report(report::ReportArgs),
    /// Serve a web UI to investigate issues: filter, drill down, resolve.
    ///
    /// Listens on 127.0.0.1:7878 by default; nothing leaves the machine.
    Serve(serve::ServeArgs),
    /// Manage the store itself.
    Store(store::StoreArgs),
}

#[derive(Args, Clone)]
pub struct StoreArg {
    /// Where issues are kept: sqlite:PATH or dynamodb://TABLE.
    #[arg(long, env = "FAULTLINE_STORE", default_value = DEFAULT_URL, value_name = "URL")]
    pub store: String,
}

/// What a command does with an existing store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Lists or shows: opened read-only, so a read-only file works.
    Read,
    /// Changes an issue's status.
    Write,
}

/// Opens a store that must already exist: commands that only read or change
/// recorded issues never create one, so a mistyped path is an error naming
/// it instead of an empty store that reports "no issues".
pub async fn open_existing(url: &str, access: Access) -> Result<Box<dyn Store>, Error> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        if !path.is_empty() && !std::path::Path::new(path).exists() {
            return Err(Error::NoStore(path.to_string()));
        }
    }
    Ok(match access {
        Access::Read => faultline::store::open_read_only(url).await?,
        Access::Write => faultline::store::open(url).await?,
    })
}

/// Runs the command the user asked for.
pub async fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Ingest(args) => ingest::run(args).await,
        Command::Fingerprint(args) => fingerprint::run(args),
        Command::Issues(args) => issues::run(args).await,
        Command::Report(args) => report::run(args).await,
        Command::Runs(args) => runs::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Store(args) => store::run(args).await,
    }
}

impl Error {
    /// 2 for a usage error, as clap exits for its own; 1 for the rest.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }

    /// The reader went away (`faultline issues | head`): not worth a word.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Everything the command reports to the user as `faultline: <message>`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: {1}")]
    Decode(String, faultline::decode::DecodeError),
    #[error("{0}: no *.json, *.log, *.txt or *.gz files in this directory")]
    EmptyDir(String),
    #[error(
        "no store at {0}: ingest some logs first (`faultline ingest events/`), or name the store with --store sqlite:PATH"
    )]
    NoStore(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A run's record (`run`, or one of those listed) does not read.
    #[error(
        "{source}: a run's stored record is damaged; repair it, or remove the run with `faultline runs forget {run}` (the settling warning names each run that cannot settle)"
    )]
    DamagedRun {
        run: String,
        #[source]
        source: StoreError,
    },
    #[error("{0}")]
    Aws(#[from] faultline::aws::AwsError),
    #[error("{0}")]
    Notify(#[from] NotifyError),
    #[error("{0}")]
    Serve(#[from] faultline::serve::ServeError),
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Policy(#[from] faultline::policy::PolicyError),
    /// A combination of options that means nothing; exits with 2, as
    /// clap's own usage errors do.
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Change(#[from] faultline::change::ChangeError),
    #[error("{}", faultline::change::ChangeError::Time(.0.clone()))]
    Time(String),
}
