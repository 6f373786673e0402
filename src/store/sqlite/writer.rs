//! Who holds a SQLite store's write lock, for what a busy store says.
//!
//! SQLite only says "database is locked" once its wait runs out, and a user
//! who started two ingests on one file then has to guess which process to
//! wait for. A faultline process that holds the write lock to record
//! batches notes itself in a small file beside the database
//! (`<database>-writer`: its pid, when it first took the lock, its command
//! line); a process that gives up waiting names it, if it is still running.
//! The note is best effort: it is never read for anything but this
//! message, and a note left by a process that has ended is ignored.

use std::sync::OnceLock;
use std::time::Duration;

/// How long a writer waits for another one's write lock before it gives
/// up, unless `FAULTLINE_SQLITE_WAIT_SECONDS` says otherwise: a chunk of an
/// ingest commits within seconds, so a longer wait means a stuck writer.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// The environment variable that sets the wait, in seconds.
pub const WAIT_VARIABLE: &str = "FAULTLINE_SQLITE_WAIT_SECONDS";

/// The wait for another writer's lock.
pub(super) fn wait() -> Duration {
    std::env::var(WAIT_VARIABLE)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_WAIT, Duration::from_secs)
}

fn note_path(database: &str) -> String {
    format!("{database}-writer")
}

/// When this process first held a store's write lock.
static SINCE: OnceLock<i64> = OnceLock::new();

/// Notes this process as the holder of `database`'s write lock: call it
/// with the lock held.
pub(super) fn note(database: &str, now: i64) {
    let since = *SINCE.get_or_init(|| now);
    let command: Vec<String> = std::env::args().collect();
    let text = format!("{}\n{since}\n{}\n", std::process::id(), command.join(" "));
    // Best effort: a store in a folder that takes no new file still works.
    let _ = std::fs::write(note_path(database), text);
}

/// What a writer that gave up waiting tells its user.
pub(super) fn busy(database: &str) -> String {
    let waited = wait().as_secs();
    let holder = std::fs::read_to_string(note_path(database))
        .ok()
        .and_then(|text| holder(&text));
    match holder {
        Some((pid, since, command)) => format!(
            "SQLite store {database} is busy: {} (pid {pid}, writing since {}) holds its write lock, and this run waited {waited} s for it. Run again once it has finished ({WAIT_VARIABLE} sets the wait)",
            crate::sanitize::terminal(&command),
            crate::text::rfc3339(since),
        ),
        None => format!(
            "SQLite store {database} is busy: another process holds its write lock, and this run waited {waited} s for it. Run again once it has finished ({WAIT_VARIABLE} sets the wait)"
        ),
    }
}

/// The holder a note names, if it is another process that is still running.
fn holder(text: &str) -> Option<(u32, i64, String)> {
    let mut lines = text.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let since: i64 = lines.next()?.trim().parse().ok()?;
    let mut command: String = lines.next().unwrap_or("").chars().take(200).collect();
    if command.is_empty() {
        command = "a faultline process".into();
    }
    let running = pid != std::process::id() && is_running(pid);
    running.then_some((pid, since, command))
}

/// Whether process `pid` is running, where the system can say (Linux's
/// /proc); elsewhere a note is taken at its word.
fn is_running(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_names_a_running_process_and_not_an_ended_one() {
        let parent = std::os::unix::process::parent_id();
        let note = format!("{parent}\n1763900000000\nfaultline ingest big/\n");
        let (pid, since, command) = holder(&note).expect("the test's parent runs");
        assert_eq!((pid, since), (parent, 1_763_900_000_000));
        assert_eq!(command, "faultline ingest big/");
        assert_eq!(
            holder(&format!("{}\n1\nx\n", std::process::id())),
            None,
            "not itself"
        );
        assert_eq!(holder("4194304999\n1\nx\n"), None, "no such process");
        assert_eq!(holder("garbage"), None);
    }
}
