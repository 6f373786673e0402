//! The text a reader would see once `%XX` and `\u00XX` escapes are undone,
//! and where each of its bytes came from.
//!
//! A secret inside a percent-encoded URL (`redirect_uri=https%3A%2F%2F...
//! %26token%3Dghp_...`, a query value that is itself a connection string)
//! or a .NET JSON string (`\u0022password\u0022:\u0022...`) has its
//! delimiters escaped, so neither its name nor its format match as
//! written, yet anyone reading the stored text can undo the escapes. The
//! rules run on this view too, and what they find is mapped back onto the
//! escaped bytes.

use std::ops::Range;

/// `text` with its ASCII `%XX` and `\u00XX` escapes undone, and for each
/// byte of that, the range of `text` it came from; `None` when `text`
/// holds no such escape. Only ASCII is decoded, so the view stays UTF-8.
pub fn unescaped(text: &str) -> Option<(String, Vec<Range<usize>>)> {
    let bytes = text.as_bytes();
    let escaped_at = |i: usize| -> Option<(u8, usize)> {
        let hex = |a: u8, b: u8| {
            let digit = |c: u8| (c as char).to_digit(16);
            Some((digit(a)? * 16 + digit(b)?) as u8)
        };
        match bytes.get(i..) {
            Some([b'%', a @ b'0'..=b'7', b, ..]) => Some((hex(*a, *b)?, 3)),
            Some([b'\\', b'u', b'0', b'0', a @ b'0'..=b'7', b, ..]) => Some((hex(*a, *b)?, 6)),
            _ => None,
        }
    };
    // Most text has no escape at all: find the first before copying.
    let first =
        (0..bytes.len()).find(|&i| matches!(bytes[i], b'%' | b'\\') && escaped_at(i).is_some())?;
    let mut view = Vec::with_capacity(text.len());
    let mut from = Vec::with_capacity(text.len());
    view.extend_from_slice(&bytes[..first]);
    from.extend((0..first).map(|i| i..i + 1));
    let mut i = first;
    while i < bytes.len() {
        match escaped_at(i) {
            Some((b, len)) => {
                view.push(b);
                from.push(i..i + len);
                i += len;
            }
            None => {
                view.push(bytes[i]);
                from.push(i..i + 1);
                i += 1;
            }
        }
    }
    // Only ASCII bytes replaced ASCII escapes, so the view is UTF-8.
    let view = String::from_utf8(view).ok()?;
    Some((view, from))
}

/// A range of the view as the range of the original text it came from.
pub fn original(from: &[Range<usize>], span: &Range<usize>) -> Option<Range<usize>> {
    let start = from.get(span.start)?.start;
    let end = from.get(span.end.checked_sub(1)?)?.end;
    Some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_undone_and_mapped_back() {
        let text = r"a%3Db\u0022c d";
        let (view, from) = unescaped(text).expect("escapes");
        assert_eq!(view, "a=b\"c d");
        assert_eq!(original(&from, &(1..2)), Some(1..4));
        assert_eq!(original(&from, &(3..5)), Some(5..12));
        assert!(unescaped("100% sure, C:\\path").is_none());
    }
}
