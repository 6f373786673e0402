//! One sanitiser per medium a log-derived value is shown in: the terminal,
//! HTML, chat (and plain-text email), and JSON.
//!
//! Anyone who can make a job log something controls these values, and each
//! medium has its own way to be turned against its reader: escape sequences
//! that retitle a window or clear a screen, markup that runs script, chat
//! mentions and links, and in every medium the invisible characters (bidi
//! overrides and marks, zero-width characters) that make text read
//! differently from what it is. Every value printed goes through the
//! function for its medium here, so the rules live in one place.
//!
//! A leaf: depends on nothing in the crate.

use std::io;

/// Characters that are never shown as they are in any medium: C0 and C1
/// controls, DEL, and the format characters that change how the text around
/// them reads without being seen (bidi embeddings, overrides, isolates and
/// marks, zero-width characters, the byte-order mark, interlinear annotation,
/// line and paragraph separators).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'              // soft hyphen
            | '\u{061C}'            // Arabic letter mark (ALM)
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
            | '\u{180E}'            // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}' // line/paragraph separators, embeddings, overrides
            | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, isolates, deprecated formats
            | '\u{FEFF}'            // byte-order mark / zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
            | '\u{E0000}'..='\u{E007F}' // tag characters
        )
}

/// What a hidden character becomes where it cannot be kept: visible, one
/// column wide, and meaning "something was here".
const REPLACEMENT: char = '\u{FFFD}';

/// One line for a terminal: whitespace controls (tab, newline, carriage
/// return, vertical tab, form feed) become spaces, every other hidden
/// character becomes `�`, so no escape sequence reaches the terminal and
/// nothing invisible reorders what is shown.
pub fn terminal(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' | '\u{0B}' | '\u{0C}' => ' ',
            c if is_hidden(c) => REPLACEMENT,
            c => c,
        })
        .collect()
}

/// Text for HTML element content and quoted attribute values: the five
/// markup characters as entities, newlines and tabs kept (inside `<pre>`
/// they matter), every other hidden character as `�`.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if is_hidden(c) => out.push(REPLACEMENT),
            c => out.push(c),
        }
    }
    out
}

/// Whether a plain-text value keeps its line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Keep,
    Join,
}

/// Plain text (an email body, the base of chat text): tabs and hidden
/// characters become spaces, newlines stay only with [`Lines::Keep`], so a
/// value cannot forge lines of the message around it.
pub fn plain(text: &str, lines: Lines) -> String {
    text.chars()
        .map(|c| match c {
            '\n' if lines == Lines::Keep => '\n',
            c if is_hidden(c) || c == '\t' => ' ',
            c => c,
        })
        .collect()
}

/// Text for chat (`client-markdown` in AWS Chatbot, read by Slack, Teams
/// and Chime): [`plain`], then `&`, `<`, `>` as entities, so Slack cannot
/// read `<!channel>` or `<url|text>` out of a log line. Markdown's own
/// characters are the renderer's to escape or fence.
pub fn chat(text: &str, lines: Lines) -> String {
    let mut out = String::with_capacity(text.len());
    for c in plain(text, lines).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes `value` as pretty JSON in which every hidden character is a
/// `\uXXXX` escape: a JSON reader gets the exact value back, while the raw
/// output, when it lands on a terminal or in a log viewer, carries no C1
/// control, bidi override or zero-width character. (serde_json itself
/// escapes only C0 controls.)
pub fn json_pretty<W: io::Write, T: serde::Serialize + ?Sized>(
    out: W,
    value: &T,
) -> Result<(), serde_json::Error> {
    let mut serializer =
        serde_json::Serializer::with_formatter(out, JsonFormatter(Default::default()));
    value.serialize(&mut serializer)
}

/// Like [`json_pretty`], on one line (for line-oriented outputs).
pub fn json_line<W: io::Write, T: serde::Serialize + ?Sized>(
    out: W,
    value: &T,
) -> Result<(), serde_json::Error> {
    let mut serializer = serde_json::Serializer::with_formatter(out, CompactEscaping);
    value.serialize(&mut serializer)
}

/// Writes a string fragment with the hidden characters serde_json passes
/// through (C1 controls, DEL and the format characters) as `\u` escapes.
fn write_fragment<W: ?Sized + io::Write>(writer: &mut W, fragment: &str) -> io::Result<()> {
    let mut start = 0;
    for (at, c) in fragment.char_indices() {
        if is_hidden(c) {
            writer.write_all(&fragment.as_bytes()[start..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = at + c.len_utf8();
        }
    }
    writer.write_all(&fragment.as_bytes()[start..])
}

struct JsonFormatter<'a>(serde_json::ser::PrettyFormatter<'a>);

impl serde_json::ser::Formatter for JsonFormatter<'_> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_fragment(writer, fragment)
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

struct CompactEscaping;

impl serde_json::ser::Formatter for CompactEscaping {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_fragment(writer, fragment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value that tries everything: a window-title OSC, a screen clear, a
    /// C1 CSI, a right-to-left override, RLM, ALM, zero-width space and
    /// joiner, a BOM and an isolate.
    const HOSTILE: &str = "id\x1b]0;pwned\x07\x1b[2J\u{9b}31m \u{202e}fdp.exe\u{200f}\u{61c}a\u{200b}b\u{200d}c\u{feff}\u{2067}d";

    fn has_hidden(text: &str) -> bool {
        text.chars().any(is_hidden)
    }

    #[test]
    fn the_terminal_gets_no_control_or_invisible_character() {
        let out = terminal(HOSTILE);
        assert!(!has_hidden(&out), "{out:?}");
        assert!(out.starts_with("id\u{FFFD}]0;pwned"), "{out:?}");
        assert_eq!(terminal("a\tb\r\nc"), "a b  c");
        assert_eq!(
            terminal("naïve 日本 ✓"),
            "naïve 日本 ✓",
            "ordinary text is kept"
        );
    }

    #[test]
    fn html_gets_entities_and_no_invisible_character() {
        let out = html(&format!("<script>'&\"</script>{HOSTILE}\nnext\tcol"));
        assert!(!has_hidden(&out.replace(['\n', '\t'], "")), "{out:?}");
        assert!(out.starts_with("&lt;script&gt;&#39;&amp;&quot;&lt;/script&gt;id"));
        assert!(out.ends_with("\nnext\tcol"), "{out:?}");
    }

    #[test]
    fn chat_gets_entities_no_invisible_character_and_lines_only_when_asked() {
        let out = chat(
            &format!("<!channel> <http://x|y> & {HOSTILE}\nnext"),
            Lines::Join,
        );
        assert!(!has_hidden(&out), "{out:?}");
        assert!(out.starts_with("&lt;!channel&gt; &lt;http://x|y&gt; &amp; id"));
        assert!(!out.contains('\n'));
        assert_eq!(chat("a\nb", Lines::Keep), "a\nb");
        assert_eq!(plain("a\u{200f}b\u{61c}c\u{200b}d", Lines::Join), "a b c d");
    }

    #[test]
    fn json_escapes_what_serde_passes_through_and_reads_back_exactly() {
        let mut out = Vec::new();
        json_pretty(&mut out, &serde_json::json!({"event_id": HOSTILE})).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!has_hidden(&text.replace('\n', "")), "{text:?}");
        assert!(text.contains("\\u009b") && text.contains("\\u202e") && text.contains("\\u001b"));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["event_id"], HOSTILE, "the value survives whole");
        assert!(text.contains("\n  \"event_id\""), "still pretty: {text}");

        let mut line = Vec::new();
        json_line(
            &mut line,
            &serde_json::json!(["\u{85}\u{2028}x", "\u{E0041}"]),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(line).unwrap(),
            r#"["\u0085\u2028x","\udb40\udc41"]"#
        );
    }
}
