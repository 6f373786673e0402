//! `faultline report --html FILE`: one self-contained page of the issues.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use faultline::model::StatusFilter;
use faultline::{pipeline, store};

use super::{Error, StoreArg};

#[derive(Args)]
pub struct ReportArgs {
    /// Where to write the page.
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
    #[command(flatten)]
    store: StoreArg,
    /// Which issues to include.
    #[arg(long, value_enum, default_value = "all")]
    status: StatusFilter,
}

pub async fn run(args: ReportArgs) -> Result<ExitCode, Error> {
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
    std::fs::write(&args.html, page).map_err(|source| Error::Write {
        path: args.html.display().to_string(),
        source,
    })?;
    eprintln!("wrote {} issues to {}", details.len(), args.html.display());
    Ok(ExitCode::SUCCESS)
}
