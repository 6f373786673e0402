//! Where the inputs of `ingest` and `fingerprint` come from: files,
//! directories of them, or standard input; and what shape each one has.
//! Both commands read inputs only through here, so whatever `ingest` reads,
//! `fingerprint` reads too.

use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use faultline::decode::text::TextBatches;
use faultline::decode::{self, DecodeError, LogBatch, Naming};

use super::Error;

/// The largest JSON document read whole (a Lambda input, a DATA_MESSAGE,
/// saved `aws logs` output), after decompression. Plain text of any size
/// is streamed instead.
pub const MAX_DOCUMENT: u64 = 64 * 1024 * 1024;

/// Where one input comes from.
pub enum Source {
    /// Standard input can be read once: what a first look opened is kept
    /// for the next.
    Stdin(Mutex<Option<Opened>>),
    File(PathBuf),
}

/// An input opened and told apart: a JSON document read whole, or plain
/// text to stream (gzip already undone in both).
pub enum Opened {
    Document(Vec<u8>),
    Text(Box<dyn BufRead + Send>),
}

impl Source {
    pub fn name(&self) -> String {
        match self {
            Source::Stdin(_) => "<stdin>".into(),
            Source::File(path) => path.display().to_string(),
        }
    }

    /// How to name events of this input that do not name themselves.
    pub fn naming(&self, log_group: Option<&str>, now: i64) -> Naming {
        let (stream, time) = match self {
            Source::Stdin(_) => ("stdin".to_string(), now),
            Source::File(path) => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let stream = name.strip_suffix(".gz").unwrap_or(&name).to_string();
                let modified = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(now, |d| d.as_millis() as i64);
                (stream, modified)
            }
        };
        Naming {
            log_group: log_group.map(str::to_string),
            log_stream: stream,
            default_time: time,
        }
    }

    /// Opens the input and tells its shape; undoes gzip. An input that
    /// cannot be opened or decompressed is a broken input like any other.
    pub fn open(&self) -> Result<Opened, DecodeError> {
        let (reader, size): (Box<dyn BufRead + Send>, u64) = match self {
            Source::Stdin(kept) => {
                if let Some(opened) = kept.lock().ok().and_then(|mut k| k.take()) {
                    return Ok(opened);
                }
                (Box::new(BufReader::new(std::io::stdin())), 0)
            }
            Source::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| DecodeError::Io(e.to_string()))?;
                let size = file.metadata().map_or(0, |m| m.len());
                (Box::new(BufReader::new(file)), size)
            }
        };
        sniff(reader, size)
    }

    /// Hands `each` every log batch of this input in order, whatever its
    /// shape (as [`Source::open`] tells it and [`decode::each_batch`] reads
    /// a document): what `fingerprint` prints. Plain text is read as a
    /// stream, a batch at a time. A job event (EventBridge) has no log
    /// events and hands on nothing; a broken one is an error.
    pub fn each_batch<E: From<DecodeError>>(
        &self,
        naming: &Naming,
        mut each: impl FnMut(&LogBatch<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        match self.open()? {
            Opened::Document(bytes) => match decode::eventbridge::parse(&bytes) {
                Some(event) => event.map(|_| ()).map_err(E::from),
                None => decode::each_batch(&bytes, naming, each),
            },
            Opened::Text(reader) => {
                for batch in TextBatches::new(reader, naming)? {
                    each(&batch?)?;
                }
                Ok(())
            }
        }
    }

    /// Keeps what a first look at standard input opened, for the next one.
    pub fn keep(&self, opened: Opened) {
        if let Source::Stdin(kept) = self {
            if let Ok(mut kept) = kept.lock() {
                *kept = Some(opened);
            }
        }
    }
}

/// `size` is the file's size when known (0 when not): a document is read
/// into a buffer of that size at once instead of one grown by doubling.
fn sniff(mut reader: Box<dyn BufRead + Send>, size: u64) -> Result<Opened, DecodeError> {
    let io = |e: std::io::Error| DecodeError::Io(e.to_string());
    let gzipped = decode::gzip::is_gzip(reader.fill_buf().map_err(io)?);
    let io = |e: std::io::Error| {
        if gzipped {
            DecodeError::Gzip(e)
        } else {
            DecodeError::Io(e.to_string())
        }
    };
    if gzipped {
        reader = Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(reader)));
    }
    let head = reader.fill_buf().map_err(io)?;
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    if head.is_empty() {
        return Err(DecodeError::Empty);
    }
    if !matches!(first, Some(b'{' | b'[') | None) {
        return Ok(Opened::Text(reader));
    }
    // One byte more than the file, so that reading to its end needs no
    // growth to learn that it has ended.
    let mut bytes = Vec::with_capacity(size.min(MAX_DOCUMENT) as usize + 1);
    reader
        .take(MAX_DOCUMENT + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_DOCUMENT {
        return Err(DecodeError::TooLarge {
            limit: MAX_DOCUMENT,
        });
    }
    if decode::is_json_lines(&bytes) {
        return Ok(Opened::Text(Box::new(Cursor::new(bytes))));
    }
    Ok(Opened::Document(bytes))
}

/// The file names a directory is read for.
const EXTENSIONS: [&str; 4] = ["json", "log", "txt", "gz"];

/// Expands the paths a user gave: files as they are, directories as their
/// `*.json`, `*.log`, `*.txt` and `*.gz` files in name order (recursively),
/// `-` as standard input. Nothing is read yet, so a long list costs no
/// memory until it is used.
pub fn sources(paths: &[PathBuf]) -> Result<Vec<Source>, Error> {
    let mut sources = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            sources.push(Source::Stdin(Mutex::new(None)));
        } else if path.is_dir() {
            let mut files = Vec::new();
            collect(path, &mut files)?;
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

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Error> {
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
            collect(&path, files)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            files.push(path);
        }
    }
    Ok(())
}
