//! What the output is read on: a terminal's width, whether it takes colour
//! and hyperlinks, and the clock relative times are told against.
//!
//! Decided once per command from standard output and the environment, and
//! handed to the renderers, which stay pure.

use std::io::IsTerminal;

/// How the output will be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Columns to fit, when the output is a terminal that says.
    pub width: Option<usize>,
    /// ANSI colour (a terminal, and `NO_COLOR` unset).
    pub color: bool,
    /// OSC 8 hyperlinks instead of printed URLs (a terminal known to
    /// support them).
    pub links: bool,
    /// Epoch ms that relative times ("3 h ago") count back from.
    pub now: i64,
}

impl Style {
    /// Plain output, as for a pipe or a file.
    pub fn plain(now: i64) -> Style {
        Style {
            width: None,
            color: false,
            links: false,
            now,
        }
    }

    /// The style standard output calls for.
    pub fn of_stdout(now: i64) -> Style {
        if !std::io::stdout().is_terminal() {
            return Style::plain(now);
        }
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let dumb = env("TERM").is_some_and(|t| t == "dumb");
        let width = terminal_size::terminal_size()
            .map(|(w, _)| usize::from(w.0))
            .filter(|&w| w > 0)
            .or_else(|| env("COLUMNS").and_then(|c| c.parse().ok()))
            .or(Some(80));
        Style {
            width,
            // https://no-color.org: any non-empty NO_COLOR turns colour off.
            color: env("NO_COLOR").is_none() && !dumb,
            links: !dumb && supports_hyperlinks(&env),
            now,
        }
    }
}

/// Terminals that render OSC 8 hyperlinks, by what they announce about
/// themselves; `FORCE_HYPERLINK=1` or `0` overrides.
fn supports_hyperlinks(env: &dyn Fn(&str) -> Option<String>) -> bool {
    if let Some(force) = env("FORCE_HYPERLINK") {
        return force != "0";
    }
    if env("WT_SESSION").is_some() || env("KONSOLE_VERSION").is_some() {
        return true;
    }
    if env("VTE_VERSION")
        .and_then(|v| v.parse::<u32>().ok())
        .is_some_and(|v| v >= 5000)
    {
        return true;
    }
    let program = env("TERM_PROGRAM").unwrap_or_default();
    let term = env("TERM").unwrap_or_default();
    ["iTerm.app", "WezTerm", "vscode", "ghostty", "Hyper"]
        .iter()
        .any(|p| program == *p)
        || [
            "xterm-kitty",
            "alacritty",
            "foot",
            "wezterm",
            "xterm-ghostty",
        ]
        .iter()
        .any(|t| term.starts_with(t))
}

/// `text` in an SGR colour when the style allows.
pub fn paint(style: &Style, sgr: &str, text: &str) -> String {
    if style.color {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A link: OSC 8 around `label` where the terminal renders it, else the URL.
pub fn link(style: &Style, url: &str, label: &str) -> String {
    // The URL is faultline's own (console links it built, percent-encoded);
    // it still may not carry a control character that ends the sequence.
    if style.links && !url.chars().any(char::is_control) {
        format!("\x1b]8;;{url}\x1b\\{label}\x1b]8;;\x1b\\")
    } else {
        url.to_string()
    }
}

/// How long before `now` an epoch-ms time was, in a few characters:
/// `just now`, `42 min ago`, `3 h ago`, `12 d ago`.
pub fn ago(now: i64, at: i64) -> String {
    let minutes = (now - at) / 60_000;
    match minutes {
        m if m < 1 => "just now".into(),
        m if m < 60 => format!("{m} min ago"),
        m if m < 48 * 60 => format!("{} h ago", m / 60),
        m => format!("{} d ago", m / (24 * 60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_are_short() {
        let now = 10 * 86_400_000;
        assert_eq!(ago(now, now + 5_000), "just now");
        assert_eq!(ago(now, now - 42 * 60_000), "42 min ago");
        assert_eq!(ago(now, now - 3 * 3_600_000 - 5), "3 h ago");
        assert_eq!(ago(now, now - 47 * 3_600_000), "47 h ago");
        assert_eq!(ago(now, now - 9 * 86_400_000), "9 d ago");
    }

    #[test]
    fn links_and_colour_only_where_the_style_allows() {
        let mut style = Style::plain(0);
        assert_eq!(link(&style, "https://x", "open"), "https://x");
        assert_eq!(paint(&style, "31", "open"), "open");
        style.links = true;
        style.color = true;
        assert_eq!(
            link(&style, "https://x", "open"),
            "\x1b]8;;https://x\x1b\\open\x1b]8;;\x1b\\"
        );
        assert_eq!(link(&style, "https://x\x07", "open"), "https://x\x07");
        assert_eq!(paint(&style, "31", "open"), "\x1b[31mopen\x1b[0m");
    }

    #[test]
    fn hyperlink_support_is_read_from_the_environment() {
        let with = |vars: &'static [(&'static str, &'static str)]| {
            supports_hyperlinks(&move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
        };
        assert!(!with(&[("TERM", "xterm-256color")]));
        assert!(with(&[("TERM_PROGRAM", "iTerm.app")]));
        assert!(with(&[("VTE_VERSION", "7200")]));
        assert!(!with(&[("VTE_VERSION", "4000")]));
        assert!(!with(&[
            ("TERM_PROGRAM", "iTerm.app"),
            ("FORCE_HYPERLINK", "0")
        ]));
        assert!(with(&[("FORCE_HYPERLINK", "1")]));
    }
}
