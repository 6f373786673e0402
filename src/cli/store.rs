//! `faultline store`: manage the store itself.

use std::process::ExitCode;

use clap::Subcommand;

use faultline::store;

use super::{Error, StoreArg};

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Create the store's tables (idempotent).
    Init(StoreArg),
}

pub async fn run(command: StoreCommand) -> Result<ExitCode, Error> {
    match command {
        StoreCommand::Init(arg) => {
            let store = store::open(&arg.store).await?;
            store.init().await?;
            println!("store ready: {}", arg.store);
            Ok(ExitCode::SUCCESS)
        }
    }
}
