//! Pieces of the `faultline` command that are not argument parsing.

use std::io::Read;
use std::path::{Path, PathBuf};

use faultline::model::{BatchSummary, Recorded};
use faultline::notify::NotifyError;
use faultline::store::StoreError;

pub mod fingerprint;
pub mod render;

/// Everything the command reports to the user as `faultline: <message>`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: no *.json files in this directory")]
    EmptyDir(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Notify(#[from] NotifyError),
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
    #[error(
        "cannot read the time {0:?}: use a duration (30m, 12h, 7d, 2w) or a UTC date (2025-12-01 or 2025-12-01T08:00:00Z)"
    )]
    Time(String),
}

/// One input file's name (for messages) and contents.
pub struct Input {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Where one input comes from.
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".into(),
            Source::File(path) => path.display().to_string(),
        }
    }

    pub fn read(&self) -> Result<Input, Error> {
        let name = self.name();
        let bytes = match self {
            Source::Stdin => {
                let mut bytes = Vec::new();
                std::io::stdin().read_to_end(&mut bytes).map(|_| bytes)
            }
            Source::File(path) => std::fs::read(path),
        }
        .map_err(|source| Error::Read {
            path: name.clone(),
            source,
        })?;
        Ok(Input { name, bytes })
    }
}

/// Expands the paths a user gave: files as they are, directories as their
/// `*.json` files in name order (recursively), `-` as standard input.
/// Nothing is read yet, so a long list costs no memory until it is used.
pub fn sources(paths: &[PathBuf]) -> Result<Vec<Source>, Error> {
    let mut sources = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            sources.push(Source::Stdin);
        } else if path.is_dir() {
            let mut files = Vec::new();
            collect_json(path, &mut files)?;
            if files.is_empty() {
                return Err(Error::EmptyDir(path.display().to_string()));
            }
            files.sort();
            sources.extend(files.into_iter().map(Source::File));
        } else {
            sources.push(Source::File(path.clone()));
        }
    }
    Ok(sources)
}

fn collect_json(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Error> {
    let read_err = |source| Error::Read {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_json(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    Ok(())
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
