//! Rust: panics as the standard library prints them, and the text format of
//! `tracing-subscriber` as the Lambda Rust runtime writes it (span prefix
//! `Lambda runtime invoke{requestId="..."}: ` and the event's target
//! `my_app::jobs: `). Its JSON format is read by `structured`.

use super::frames;
use super::lines::lines;
use super::logfmt::logfmt_pairs;
use super::occurrence::Fields;
use super::trace::Trace;
use crate::model::Frame;

/// A Rust panic: `thread 'main' panicked at src/main.rs:5:10:` followed by
/// the message (Rust 1.73 and later), or the older
/// `thread 'main' panicked at 'message', src/main.rs:5:10`.
pub(crate) fn panic(text: &str) -> Option<Trace> {
    let start = text.find("panicked at ")?;
    let rest = &text[start + "panicked at ".len()..];
    let (head, tail) = rest.split_once(['\n', '\r']).unwrap_or((rest, ""));
    let (message, location) = if let Some(old) = head.strip_prefix('\'') {
        match old.rsplit_once("', ") {
            Some((m, loc)) => (m.to_string(), loc),
            None => (old.to_string(), ""),
        }
    } else {
        let loc = head.trim_end().strip_suffix(':').unwrap_or(head);
        let message = lines(tail)
            .find(|l| !l.starts_with("note: "))
            .unwrap_or("")
            .to_string();
        (message, loc)
    };
    let mut parts = location.rsplitn(3, ':');
    let (_col, line, file) = (parts.next(), parts.next(), parts.next());
    let frames = match (file, line.and_then(|l| l.parse().ok())) {
        (Some(file), Some(line)) => vec![Frame {
            function: String::new(),
            file: file.to_string(),
            line: Some(line),
            in_app: frames::in_app(file, ""),
        }],
        _ => Vec::new(),
    };
    Some(Trace {
        header: Some(("panic".to_string(), message)),
        frames,
        cause: None,
        shape: "rust-panic",
        definite: true,
    })
}

/// The span prefix of tracing's text format, read into fields; the rest
/// of the line when there was one.
pub(crate) fn tracing_spans<'a>(body: &'a str, fields: &mut Fields) -> Option<&'a str> {
    let mut rest = body;
    let mut spans = 0;
    loop {
        let open = rest.find('{')?;
        let name = &rest[..open];
        if name.len() > 80 || name.contains(": ") {
            return None;
        }
        let close = open + rest[open..].find('}')?;
        for (k, v) in logfmt_pairs(&rest[open + 1..close]) {
            fields.push(k, &v);
        }
        rest = &rest[close + 1..];
        spans += 1;
        if let Some(r) = rest.strip_prefix(": ") {
            return Some(r);
        }
        rest = rest.strip_prefix(':')?;
        if spans >= 8 {
            return None;
        }
    }
}

pub(crate) fn tracing_target<'a>(body: &'a str, fields: &mut Fields) -> &'a str {
    if let Some((target, rest)) = body.split_once(": ")
        && target.contains("::")
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
    {
        fields.push("target", target);
        return rest;
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Occurrence;

    fn field<'a>(o: &'a Occurrence, key: &str) -> Option<&'a str> {
        o.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn rust_panics_old_and_new() {
        let t = panic("thread 'main' panicked at src/main.rs:5:10:\nindex out of bounds\nnote: run with `RUST_BACKTRACE=1`").unwrap();
        assert_eq!(
            t.header,
            Some(("panic".into(), "index out of bounds".into()))
        );
        assert_eq!(t.frames[0].file, "src/main.rs");
        assert_eq!(t.frames[0].line, Some(5));
        let t = panic("thread 'main' panicked at 'boom', src/lib.rs:2:3").unwrap();
        assert_eq!(t.header, Some(("panic".into(), "boom".into())));
        assert_eq!(t.frames[0].line, Some(2));
    }

    #[test]
    fn rust_runtime_text() {
        let o = crate::extract::extract("ERROR Lambda runtime invoke{requestId=\"r-1\" xrayTraceId=\"Root=1-2-3\"}: Custom { kind: Other, error: \"no rows\" }").unwrap();
        assert_eq!(o.shape, "rust-text");
        assert_eq!(o.message, "Custom { kind: Other, error: \"no rows\" }");
        assert_eq!(o.fields[0], ("requestId".into(), "r-1".into()));
        assert_eq!(o.fields[1], ("xrayTraceId".into(), "Root=1-2-3".into()));
        let o = crate::extract::extract(
            "2024-05-01T10:00:00.123456Z ERROR billing::sync: upstream returned 503",
        )
        .unwrap();
        assert_eq!(o.message, "upstream returned 503");
        assert!(
            o.fields
                .contains(&("target".into(), "billing::sync".into()))
        );
        assert_eq!(
            crate::extract::extract(
                "2024-05-01T10:00:00.123456Z  INFO billing::sync: error_rate=0"
            ),
            None
        );
    }

    #[test]
    fn rust_tracing_json() {
        let o = crate::extract::extract(r#"{"level":"ERROR","fields":{"message":"Custom { kind: Other, error: \"no rows\" }"},"span":{"requestId":"r-6","name":"Lambda runtime invoke"},"spans":[{"requestId":"r-6","name":"Lambda runtime invoke"}]}"#).unwrap();
        assert_eq!(o.shape, "tracing-json");
        assert_eq!(o.message, "Custom { kind: Other, error: \"no rows\" }");
        assert_eq!(field(&o, "span.requestId"), Some("r-6"));
        let o = crate::extract::extract(r#"{"timestamp":"2024-05-01T10:00:00Z","level":"ERROR","fields":{"message":"sync failed","job":7},"target":"etl::sync"}"#).unwrap();
        assert_eq!(field(&o, "target"), Some("etl::sync"));
        assert_eq!(field(&o, "fields.job"), Some("7"));
    }
}
