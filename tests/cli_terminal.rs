//! The listing on a real terminal: a pseudo-terminal from `script(1)`, sized
//! with `stty`, as a person would see it.

use std::path::Path;
use std::process::Command;

mod common;

use common::ok;

/// Runs `faultline ARGS` on a pty of `cols` columns; what the terminal got.
fn on_terminal(cwd: &Path, cols: usize, env: &[(&str, &str)], args: &str) -> String {
    let binary = env!("CARGO_BIN_EXE_faultline");
    let mut command = Command::new("script");
    command
        .args([
            "-qec",
            &format!("stty cols {cols} rows 40; exec {binary} {args}"),
            "/dev/null",
        ])
        .current_dir(cwd)
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("FORCE_HYPERLINK")
        .env_remove("TERM_PROGRAM")
        .env_remove("VTE_VERSION")
        .env_remove("WT_SESSION")
        .env_remove("KONSOLE_VERSION")
        .env_remove("COLUMNS")
        .env_remove("FAULTLINE_STORE");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("script(1) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
}

/// The text without SGR colour sequences.
fn uncoloured(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn store_with_long_titles(dir: &Path) -> String {
    let events: Vec<serde_json::Value> = (0..3)
        .map(|i| {
            serde_json::json!({"id": i.to_string(), "timestamp": 1_763_900_000_000i64 + i,
                "message": format!("[ERROR] Error{i}: {}", "a very long explanation ".repeat(10))})
        })
        .collect();
    let batch = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "1",
        "logGroup": "/aws/lambda/a-function-with-a-long-name", "logStream": "s", "logEvents": events});
    std::fs::write(dir.join("in.json"), batch.to_string()).unwrap();
    ok(&["ingest", "--notify", "none", "in.json"], dir);
    let listed: serde_json::Value = serde_json::from_str(&ok(&["issues", "--json"], dir)).unwrap();
    listed[0]["id"].as_str().unwrap().to_string()
}

#[test]
fn the_table_fits_the_terminal_by_cutting_titles_and_says_how_long_ago() {
    let dir = tempfile::tempdir().unwrap();
    store_with_long_titles(dir.path());
    for cols in [80, 100, 140, 200] {
        let screen = on_terminal(dir.path(), cols, &[], "issues");
        let text = uncoloured(&screen);
        let (table, footer) = text.split_once("\n\n").unwrap_or((&text, ""));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "a header and three rows at {cols}:\n{text}");
        assert!(
            footer.contains("faultline serve") && footer.contains("\nhttp://127.0.0.1:7878/"),
            "where to look further: {footer}"
        );
        for line in lines
            .iter()
            .chain(footer.lines().take(1).collect::<Vec<_>>().iter())
        {
            assert!(
                line.chars().count() <= cols,
                "{} columns on a {cols}-column terminal: {line}",
                line.chars().count()
            );
        }
        assert!(lines[1].contains(" d ago"), "{}", lines[1]);
        assert!(lines[1].contains('…'), "the title is cut: {}", lines[1]);
        assert!(lines[0].ends_with("TITLE"), "{}", lines[0]);
    }
    // In a pipe the rows are fixed text: no colour, no relative time, no
    // advice.
    let piped = ok(&["issues"], dir.path());
    assert!(
        !piped.contains('\x1b') && !piped.contains(" ago") && !piped.contains("serve"),
        "{piped}"
    );
    // The view's filters are in the address.
    let filtered = uncoloured(&on_terminal(
        dir.path(),
        120,
        &[],
        "issues --status all --grep Error1 --sort count",
    ));
    assert!(
        filtered.contains("http://127.0.0.1:7878/?status=all&q=Error1&sort=count"),
        "{filtered}"
    );
}

/// What the title column shows of the row `line`: from the title's start
/// to the end of the line.
fn title_shown(line: &str) -> usize {
    line.find("Error")
        .map_or(0, |at| line[at..].chars().count())
}

#[test]
fn the_title_keeps_its_room_at_80_and_120_columns() {
    let dir = tempfile::tempdir().unwrap();
    store_with_long_titles(dir.path());

    let narrow = uncoloured(&on_terminal(dir.path(), 80, &[], "issues"));
    let lines: Vec<&str> = narrow.lines().filter(|l| !l.is_empty()).collect();
    // Below 100 columns the day's sparkline and the log group give way.
    assert!(
        !lines[0].contains("LAST 24H") && !lines[0].contains("LOG GROUP"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("LAST SEEN") && lines[0].contains("COUNT"));
    assert!(
        title_shown(lines[1]) >= 35,
        "title at 80 columns: {}",
        lines[1]
    );

    let wide = uncoloured(&on_terminal(dir.path(), 120, &[], "issues"));
    let lines: Vec<&str> = wide.lines().filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].contains("LAST 24H") && lines[0].contains("LOG GROUP"),
        "{}",
        lines[0]
    );
    assert!(
        title_shown(lines[1]) >= 35,
        "title at 120 columns: {}",
        lines[1]
    );
}

#[test]
fn colour_unless_no_color_and_hyperlinks_where_the_terminal_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let id = store_with_long_titles(dir.path());
    let coloured = on_terminal(dir.path(), 160, &[], "issues");
    assert!(coloured.contains("\x1b[31mopen"), "{coloured:?}");
    let plain = on_terminal(dir.path(), 160, &[("NO_COLOR", "1")], "issues");
    assert!(!plain.contains('\x1b'), "{plain:?}");

    let show = format!("issues show {id}");
    let urls = on_terminal(dir.path(), 160, &[], &show);
    assert!(urls.contains("console:  https://"), "{urls}");
    assert!(!urls.contains("\x1b]8;;"), "{urls:?}");
    let linked = on_terminal(dir.path(), 160, &[("TERM_PROGRAM", "WezTerm")], &show);
    assert!(
        linked.contains("console:  \x1b]8;;https://")
            && linked.contains("\x1b\\the event in CloudWatch\x1b]8;;\x1b\\"),
        "{linked:?}"
    );
    assert!(linked.contains(" ago)"), "{linked}");
}
