//! `faultline report --html FILE`: one self-contained page of the issues.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use faultline::model::StatusFilter;
use faultline::output::format::plural;
use faultline::pipeline;

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
    let store = super::open_existing(&args.store.store, super::Access::Read).await?;
    let mut details = Vec::new();
    for issue in store.issues(args.status).await? {
        if let Some(detail) = store.issue(&issue.id).await? {
            details.push(detail);
        }
    }
    let runs = store
        .runs(&faultline::store::RunFilter {
            limit: Some(500),
            ..Default::default()
        })
        .await?;
    // Console links point where each event came from, or to the region the
    // user configured; with neither, samples go without links, not with
    // links to a guessed region.
    let region = faultline::links::configured_region();
    let page = faultline::output::report::html_with_runs(
        &details,
        &runs,
        pipeline::system_clock(),
        region.as_deref(),
    );
    write_atomically(&args.html, page.as_bytes()).map_err(|source| Error::Write {
        path: args.html.display().to_string(),
        source,
    })?;
    eprintln!(
        "wrote {} to {}",
        plural(details.len() as u64, "issue", "issues"),
        args.html.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over
/// `path`: a full disk or a crash leaves the previous report whole, never a
/// cut or empty one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&temp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}
