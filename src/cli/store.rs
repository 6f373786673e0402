//! `faultline store`: manage the store itself.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use faultline::store::{self, DEFAULT_URL};

use super::Error;

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
}

pub async fn run(args: StoreArgs) -> Result<ExitCode, Error> {
    match args.command {
        StoreCommand::Init => {
            let store = store::open(&args.store).await?;
            store.init().await?;
            println!("store ready: {}", args.store);
            Ok(ExitCode::SUCCESS)
        }
    }
}
