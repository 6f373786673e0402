//! `faultline store`: manage the store itself.

use std::process::ExitCode;

use std::io::{BufWriter, Write};

use clap::{Args, Subcommand};

use faultline::model::StoreStats;
use faultline::store::{self, DEFAULT_URL};

use super::{Access, Error, render};

#[derive(Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
    /// Where issues are kept: sqlite:PATH or dynamodb://TABLE. Before or
    /// after the action alike.
    #[arg(
        long,
        global = true,
        env = "FAULTLINE_STORE",
        default_value = DEFAULT_URL,
        value_name = "URL"
    )]
    store: String,
}

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Create the store's tables (idempotent).
    Init,
    /// What the store holds and how big each part of it is.
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Bring the store to the layout this faultline writes. DynamoDB: moves
    /// each issue's samples, hours and facets out of its item into small
    /// items of their own (a batch converts an issue it touches anyway;
    /// this converts the rest, then records the layout). SQLite: a file is
    /// migrated whenever this faultline opens it for writing. Safe to run
    /// again and while the Lambda runs.
    Migrate {
        /// Also replace the listing index of an older DynamoDB table
        /// (by_status, which every batch writes) with by_status_id. Only for
        /// a table no CloudFormation stack manages: a SAM stack does it
        /// through its KeepLegacyListingIndex parameter (README).
        #[arg(long)]
        indexes: bool,
    },
}

pub async fn run(args: StoreArgs) -> Result<ExitCode, Error> {
    match args.command {
        StoreCommand::Init => {
            let store = store::open(&args.store).await?;
            store.init().await?;
            println!("store ready: {}", args.store);
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Migrate { indexes } => {
            let store = super::open_existing(&args.store, Access::Write).await?;
            let migrated = store.migrate(indexes).await?;
            let converted = match migrated.converted {
                Some(n) => format!(", {n} issues converted"),
                None => String::new(),
            };
            if migrated.from == migrated.to {
                println!("{}: layout {} already{converted}", args.store, migrated.to);
            } else {
                println!(
                    "{}: layout {} -> {}{converted}",
                    args.store, migrated.from, migrated.to
                );
            }
            for note in &migrated.notes {
                println!("  {note}");
            }
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Stats { json } => {
            let store = super::open_existing(&args.store, Access::Read).await?;
            let stats = store.stats().await?;
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            if json {
                render::json(&stats, &mut out)?;
            } else {
                write_stats(&args.store, &stats, &mut out).map_err(Error::Output)?;
            }
            out.flush().map_err(Error::Output)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn write_stats(url: &str, stats: &StoreStats, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "{url}")?;
    let width = stats.parts.iter().map(|p| p.name.len()).max().unwrap_or(0);
    writeln!(
        out,
        "  {:<width$}  {:>10}  {:>10}  WHAT",
        "PART", "ROWS", "SIZE"
    )?;
    for part in &stats.parts {
        writeln!(
            out,
            "  {:<width$}  {:>10}  {:>10}  {}",
            part.name,
            part.rows,
            part.bytes.map_or_else(|| "?".to_string(), size),
            part.what
        )?;
    }
    if let Some(total) = stats.total_bytes {
        writeln!(
            out,
            "  {:<width$}  {:>10}  {:>10}",
            "total",
            "",
            size(total)
        )?;
    }
    if let Some(note) = &stats.note {
        writeln!(out, "{note}")?;
    }
    Ok(())
}

/// Bytes as a person reads them: 512 B, 3.4 KB, 12 MB (powers of 1,000).
fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1_000 => format!("{b} B"),
        b if b < 1_000_000 => format!("{:.1} KB", b as f64 / 1e3),
        b if b < 1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b => format!("{:.1} GB", b as f64 / 1e9),
    }
}
