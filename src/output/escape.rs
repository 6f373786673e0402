//! The one way a value reaches a page: every `{{ value }}` in a template goes
//! through [`Html`] (askama.toml names it as the escaper for `.html`
//! templates), so markup, quotes and invisible characters from a log line
//! arrive as text in element content and quoted attribute values alike.

use std::fmt::{self, Write};

/// Text made safe for HTML element content and quoted attribute values:
/// the five markup characters as entities, newlines and tabs kept (inside
/// `<pre>` they matter), every other control character as `�`.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Writing to a String cannot fail.
    let _ = write_html(&mut out, text);
    out
}

fn write_html<W: Write>(mut out: W, text: &str) -> fmt::Result {
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let entity = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            '\n' | '\t' => continue,
            c if c.is_control() => "\u{FFFD}",
            _ => continue,
        };
        out.write_str(&text[start..i])?;
        out.write_str(entity)?;
        start = i + c.len_utf8();
    }
    out.write_str(&text[start..])
}

/// The askama escaper for every `.html` template.
#[derive(Debug, Clone, Copy)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: Write>(&self, dest: W, string: &str) -> fmt::Result {
        write_html(dest, string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_quotes_and_controls_become_text() {
        assert_eq!(
            html("<a href='x' title=\"y\">&</a>\u{1b}[31m\r\n\tok"),
            "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;&lt;/a&gt;\u{FFFD}[31m\u{FFFD}\n\tok"
        );
    }
}
