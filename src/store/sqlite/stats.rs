//! What a SQLite store holds: rows per table and the bytes each table takes
//! with its indexes, from SQLite's own page accounting (`dbstat`), so the
//! figures are what the file really spends, free pages included in the
//! total.

use rusqlite::{Connection, OptionalExtension};

use crate::model::{StorePart, StoreStats};

/// The tables worth naming, in the order they are shown, with what each
/// holds. Tables a file lacks (an older layout, read-only) are left out.
const PARTS: [(&str, &str); 15] = [
    ("issues", "issues, merged ones included"),
    ("aliases", "fingerprints counted into another issue"),
    (
        "kept_apart",
        "unmerged issues no fingerprint change joins again",
    ),
    ("hours", "hourly counts (30 days per issue)"),
    ("facets", "context field values per issue"),
    ("samples", "kept samples (10 per issue)"),
    ("batches", "batch ids, so a replay counts once"),
    ("outbox", "alerts waiting to be sent"),
    ("runs", "job runs"),
    ("run_issues", "issues per run"),
    ("run_parts", "attempts and tasks of runs"),
    ("part_issues", "issues per part of a run"),
    ("jobs", "jobs, with their lifecycle"),
    ("job_issues", "issues per job"),
    ("held_alerts", "new-issue alerts held for runs"),
];

pub(super) fn stats(conn: &Connection) -> Result<StoreStats, rusqlite::Error> {
    let bytes_of = |table: &str| -> Result<Option<u64>, rusqlite::Error> {
        // The table's pages and those of its indexes.
        conn.query_row(
            "SELECT SUM(pgsize) FROM dbstat WHERE name IN
               (SELECT name FROM sqlite_master WHERE tbl_name = ?1)",
            [table],
            |r| r.get::<_, Option<i64>>(0),
        )
        .map(|b| b.map(|b| b.max(0) as u64))
    };
    let mut parts = Vec::new();
    for (table, what) in PARTS {
        let exists: Option<String> = conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            continue;
        }
        let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
            r.get(0)
        })?;
        parts.push(StorePart {
            name: table.to_string(),
            what: what.to_string(),
            rows: rows.max(0) as u64,
            bytes: bytes_of(table)?,
        });
    }
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    Ok(StoreStats {
        parts,
        total_bytes: Some((pages.max(0) as u64) * (page_size.max(0) as u64)),
        note: (free > 0).then(|| {
            format!(
                "{} bytes are free pages the file keeps for later writes",
                free.max(0) * page_size.max(0)
            )
        }),
    })
}
