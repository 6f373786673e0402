//! Where the inputs of `ingest` and `fingerprint` come from: files,
//! directories of them, or standard input.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::Error;

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
