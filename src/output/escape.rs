//! The one way a value reaches a page: every `{{ value }}` in a template goes
//! through [`Html`] (askama.toml names it as the escaper for `.html`
//! templates), which is [`crate::sanitize::html`], so markup, quotes and
//! invisible characters from a log line arrive as text in element content
//! and quoted attribute values alike.

use std::fmt::{self, Write};

pub use crate::sanitize::html;

/// The askama escaper for every `.html` template.
#[derive(Debug, Clone, Copy)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        // Most values (ids, counts, times) need no change: skip the copy.
        if string
            .chars()
            .all(|c| !matches!(c, '&' | '<' | '>' | '"' | '\'') && !crate::sanitize::is_hidden(c))
        {
            return dest.write_str(string);
        }
        dest.write_str(&html(string))
    }
}

#[cfg(test)]
mod tests {
    use askama::Template;

    #[derive(Template)]
    #[template(source = "<p title=\"{{ value }}\">{{ value }}</p>", ext = "html")]
    struct Probe<'a> {
        value: &'a str,
    }

    #[test]
    fn templates_escape_markup_quotes_and_hidden_characters() {
        let page = Probe {
            value: "<a href='x' title=\"y\">&</a>\u{1b}[31m\u{202e}\tok",
        }
        .render()
        .unwrap();
        let escaped =
            "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;&lt;/a&gt;\u{FFFD}[31m\u{FFFD}\tok";
        assert_eq!(page, format!("<p title=\"{escaped}\">{escaped}</p>"));
    }
}
