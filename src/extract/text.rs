//! Plain-text log lines: the Lambda runtimes' text formats, Go's `log`
//! prefix, tracing's text output, logfmt, and free text with a level word.
//!
//! Most lines are decided by reading their level in place: Lambda text
//! formats put it at a fixed position, other formats within the first few
//! tokens. Only lines without any level are searched for platform failures
//! and stack traces.

use super::frames::trim_indent;
use super::trace::{self, exception_line, looks_like_exception_type};
use super::{Fields, Level, Occurrence, Severity, json, occurrence, platform, severity_word};

/// How far into the first line a level word is looked for: timestamps,
/// request ids, thread names and pids come before it, the message after.
const LEVEL_SCAN_BYTES: usize = 160;
const LEVEL_SCAN_TOKENS: usize = 6;

/// Lambda platform lines that report on an invocation rather than fail it.
/// A timeout or crash has its own line ("Task timed out...", "Runtime
/// exited..."); the REPORT line that follows repeats it as `Status:`, and is
/// skipped so one failure is one occurrence.
const PLATFORM_PREFIXES: [&str; 10] = [
    "START RequestId:",
    "END RequestId:",
    "REPORT RequestId:",
    "INIT_START ",
    "INIT_REPORT ",
    "INIT_RUNTIME_DONE",
    "EXTENSION ",
    "TELEMETRY ",
    "RESTORE_START",
    "RESTORE_REPORT",
];

/// The error in a non-JSON line (end already trimmed, not empty).
pub(crate) fn extract(line: &str) -> Option<Occurrence> {
    let first_byte = line.as_bytes()[0];
    if matches!(first_byte, b'S' | b'E' | b'R' | b'I' | b'T')
        && PLATFORM_PREFIXES.iter().any(|p| line.starts_with(p))
    {
        return None;
    }
    if first_byte == b'['
        && let Some(decided) = bracketed_level(line)
    {
        return decided;
    }
    if first_byte.is_ascii_digit() {
        if let Some(rest) = strip_go_log_prefix(line) {
            return go_log_line(rest);
        }
        if let Some(decided) = lambda_tab_format(line) {
            return decided;
        }
    }
    leveled_or_free(line, Fields::default())
}

/// The fallback for a line that starts like JSON but does not parse: read
/// as text, and when that finds nothing, still an error if its level said
/// so (a truncated ERROR line is an error with an unknown type).
pub(crate) fn extract_unparsed_json(line: &str, level: Option<Severity>) -> Option<Occurrence> {
    if level == Some(Severity::Below) {
        return None;
    }
    if let Some(occ) = extract(line) {
        return Some(occ);
    }
    match level {
        Some(Severity::At(level)) => Some(occurrence(
            "",
            line,
            Vec::new(),
            level,
            "json-unparsed",
            Fields::default(),
        )),
        _ => None,
    }
}

/// The level word a text line states, if any, without extracting
/// anything: lets the multi-event folding tell "WARN retrying" (whose trace
/// is not an error) from a line with no level at all.
pub(crate) fn stated_level_word(line: &str) -> Option<&str> {
    let line = line.trim_end();
    let first = *line.as_bytes().first()?;
    if first == b'['
        && let Some(close) = line.as_bytes().iter().take(12).position(|&b| b == b']')
        && severity_word(&line[1..close]).is_some()
    {
        return Some(&line[1..close]);
    }
    if first.is_ascii_digit()
        && let Some((_, _, level)) = lambda_tab_parts(line)
        && severity_word(level).is_some()
    {
        return Some(level);
    }
    scan_level(line).map(|t| t.word)
}

/// `[ERROR] KeyError: 'x'` (Lambda Python uncaught, also the Java logger
/// prefix) and `[ERROR]\t<ts>\t<request id>\t<msg>` (Python `logging` in
/// Lambda's text format). `None` when the brackets hold no level.
fn bracketed_level(line: &str) -> Option<Option<Occurrence>> {
    let close = line.as_bytes().iter().take(12).position(|&b| b == b']')?;
    let severity = severity_word(&line[1..close])?;
    let Severity::At(level) = severity else {
        return Some(None);
    };
    let rest = &line[close + 1..];
    let mut fields = Fields::default();
    if let Some(logged) = rest.strip_prefix('\t') {
        let mut parts = logged.splitn(3, '\t');
        let body = match (parts.next(), parts.next(), parts.next()) {
            (Some(ts), Some(request_id), Some(msg)) if looks_like_timestamp(ts) => {
                fields.push("requestId", request_id);
                msg
            }
            _ => logged,
        };
        return Some(Some(text_error(level, body, fields, "python-logging-text")));
    }
    let body = rest.trim_start();
    let shape = if body.contains("Traceback (most recent call last)") {
        "python-text"
    } else {
        "level-prefix"
    };
    Some(Some(text_error(level, body, fields, shape)))
}

/// `<ISO time>\t<request id>\t<LEVEL>\t<payload>`: Node.js console output
/// in Lambda's text format.
fn lambda_tab_parts(line: &str) -> Option<(&str, &str, &str)> {
    let head = line.get(..line.len().min(48))?;
    if !head.contains('\t') {
        return None;
    }
    let mut parts = line.splitn(4, '\t');
    let ts = parts.next()?;
    let request_id = parts.next()?;
    let level = parts.next()?;
    if !looks_like_timestamp(ts) || request_id.len() > 64 || level.len() > 8 {
        return None;
    }
    Some((ts, request_id, level))
}

fn lambda_tab_format(line: &str) -> Option<Option<Occurrence>> {
    let (ts, request_id, level_word) = lambda_tab_parts(line)?;
    let severity = severity_word(level_word)?;
    let offset = ts.len() + request_id.len() + level_word.len() + 3;
    let payload = line.get(offset..).unwrap_or("");
    if severity == Severity::Below && !payload.starts_with('{') {
        return Some(None);
    }
    let mut fields = Fields::default();
    if request_id != "undefined" {
        fields.push("requestId", request_id);
    }
    // console.log of a structured logger's JSON: the logger's own level is
    // the producer's statement, the console method only the transport.
    if payload.starts_with('{') {
        let ctx = json::Context {
            outer: Some(severity),
            shape: None,
            fields,
        };
        return Some(match json::extract(payload, ctx) {
            json::Outcome::Found(occ) => Some(*occ),
            json::Outcome::NotError => None,
            json::Outcome::Unparsed(_) => match severity {
                Severity::At(level) => {
                    Some(text_error(level, payload, Fields::default(), "node-text"))
                }
                Severity::Below => None,
            },
        });
    }
    let Severity::At(level) = severity else {
        return Some(None);
    };
    // `Invoke Error \t{...}`, `Uncaught Exception \t{...}`,
    // `Unhandled Promise Rejection \t{...}`: the runtime's own report of an
    // error that escaped the handler, as JSON after a label.
    if let Some((label, object)) = payload.split_once('\t')
        && object.starts_with('{')
        && matches!(
            label.trim_end(),
            "Invoke Error" | "Uncaught Exception" | "Unhandled Promise Rejection"
        )
    {
        let mut fields = fields;
        fields.push("runtime.label", label.trim_end());
        let ctx = json::Context {
            outer: Some(severity),
            shape: Some("node-text"),
            fields,
        };
        return Some(match json::extract(object, ctx) {
            json::Outcome::Found(occ) => Some(*occ),
            _ => Some(text_error(level, payload, Fields::default(), "node-text")),
        });
    }
    Some(Some(text_error(level, payload, fields, "node-text")))
}

/// Go's standard `log` prefix `2024/01/31 22:12:58 ` (optionally with
/// microseconds), as aws-lambda-go writes its error reports.
fn strip_go_log_prefix(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shape_ok = digits(0..4)
        && b[4] == b'/'
        && digits(5..7)
        && b[7] == b'/'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape_ok {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    (b.get(i) == Some(&b' ')).then(|| &line[i + 1..])
}

fn go_log_line(rest: &str) -> Option<Occurrence> {
    if rest.starts_with('{') {
        let ctx = json::Context {
            outer: None,
            shape: Some("go-json"),
            fields: Fields::default(),
        };
        return match json::extract(rest, ctx) {
            json::Outcome::Found(occ) => Some(*occ),
            json::Outcome::NotError => None,
            json::Outcome::Unparsed(level) => extract_unparsed_json(rest, level),
        };
    }
    leveled_or_free(rest, Fields::default())
}

/// A level word found among the first tokens of a line.
struct LevelToken<'a> {
    word: &'a str,
    severity: Severity,
    /// Where the message starts, after the level word.
    message_start: usize,
    /// `level=error`: the line is logfmt and is read as key/value pairs.
    logfmt: bool,
}

fn leveled_or_free(line: &str, fields: Fields) -> Option<Occurrence> {
    match scan_level(line) {
        Some(LevelToken {
            severity: Severity::Below,
            ..
        }) => None,
        Some(LevelToken {
            severity: Severity::At(level),
            logfmt: true,
            ..
        }) => Some(logfmt_error(level, line)),
        Some(LevelToken {
            severity: Severity::At(level),
            message_start,
            ..
        }) => {
            let body = line[message_start..].trim_start_matches([' ', '\t', '-', ':', '|']);
            Some(leveled_text(level, body, fields))
        }
        None => unleveled(line),
    }
}

/// Text after the level word, with tracing's span prefix
/// (`Lambda runtime invoke{requestId="..." xrayTraceId="..."}: `) and
/// target (`my_app::jobs: `) read into fields.
fn leveled_text(level: Level, body: &str, mut fields: Fields) -> Occurrence {
    if let Some(rest) = tracing_spans(body, &mut fields) {
        let rest = tracing_target(rest, &mut fields);
        return text_error(level, rest, fields, "rust-text");
    }
    let rest = tracing_target(body, &mut fields);
    text_error(level, rest, fields, "text-level")
}

fn tracing_spans<'a>(body: &'a str, fields: &mut Fields) -> Option<&'a str> {
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

fn tracing_target<'a>(body: &'a str, fields: &mut Fields) -> &'a str {
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

/// An error whose text (after any level and prefix) is `body`: the stack
/// trace in it, when there is one, gives the type and message; otherwise a
/// first line like `ValueError: bad` does; otherwise the text is the message
/// and the type stays empty.
pub(crate) fn text_error(
    level: Level,
    body: &str,
    mut fields: Fields,
    shape: &'static str,
) -> Occurrence {
    let first = first_line(body);
    let parsed = if first.len() < body.len() {
        trace::parse(body)
    } else {
        None
    };
    match parsed {
        Some(t) => {
            t.push_fields(&mut fields);
            let (kind, message) = match t.header {
                Some((k, m)) => {
                    if exception_line(first).is_none_or(|(fk, _)| fk != k) {
                        fields.push("message", first.trim());
                    }
                    (k, m)
                }
                None => exception_line(first).unwrap_or_else(|| (String::new(), first.to_string())),
            };
            occurrence(&kind, &message, t.frames, level, shape, fields)
        }
        None => match exception_line(first).filter(|(k, _)| looks_like_exception_type(k)) {
            Some((kind, message)) => occurrence(&kind, &message, Vec::new(), level, shape, fields),
            None => occurrence("", body, Vec::new(), level, shape, fields),
        },
    }
}

/// A line without any level: an error only when it shows one.
fn unleveled(line: &str) -> Option<Occurrence> {
    let bytes = line.as_bytes();
    let multi_line = bytes.contains(&b'\n') || bytes.contains(&b'\r');
    if !multi_line && !has_single_line_marker(line) {
        return None;
    }
    if let Some(occ) = platform::text(line) {
        return Some(occ);
    }
    if multi_line {
        let t = trace::parse(line)?;
        if !t.definite {
            return None;
        }
        let first = first_line(line);
        let mut fields = Fields::default();
        t.push_fields(&mut fields);
        let (kind, message) = t
            .header
            .unwrap_or_else(|| (String::new(), first.to_string()));
        let level = if t.shape == "go-panic" || t.shape == "rust-panic" {
            Level::Fatal
        } else {
            Level::Error
        };
        return Some(occurrence(
            &kind, &message, t.frames, level, t.shape, fields,
        ));
    }
    if line.starts_with("Exception in thread \"")
        && let Some((kind, message)) = exception_line(line)
    {
        return Some(occurrence(
            &kind,
            &message,
            Vec::new(),
            Level::Error,
            "java-trace",
            Fields::default(),
        ));
    }
    if line.starts_with("panic: ") || line.contains("panicked at ") {
        let t = trace::parse(line)?;
        let (kind, message) = t.header?;
        return Some(occurrence(
            &kind,
            &message,
            t.frames,
            Level::Fatal,
            t.shape,
            Fields::default(),
        ));
    }
    None
}

/// Whether a one-line message holds any of the markers the checks below
/// look for; most lines hold none, and `contains` is a vectorised search.
fn has_single_line_marker(line: &str) -> bool {
    [
        "Runtime",
        "imed out",
        "exited",
        "xception in thread",
        "panic",
    ]
    .iter()
    .any(|m| line.contains(m))
}

/// The first non-empty line of a message (end trimmed).
pub(crate) fn first_line(s: &str) -> &str {
    let s = s.trim_start_matches(['\n', '\r']);
    // Two single-byte searches (memchr) rather than one search for a set of
    // characters, which decodes every character: this runs on most lines.
    let s = s.split_once('\n').map_or(s, |(first, _)| first);
    let s = s.split_once('\r').map_or(s, |(first, _)| first);
    s.trim_end()
}

/// `2024-01-31T22:12:58.534Z` and the like: starts with a 4-digit year.
fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b.len() <= 40 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

/// The first level word among the first tokens of the first line of `line`.
fn scan_level(line: &str) -> Option<LevelToken<'_>> {
    let bytes = line.as_bytes();
    let limit = bytes.len().min(LEVEL_SCAN_BYTES);
    let mut i = 0;
    for _ in 0..LEVEL_SCAN_TOKENS {
        while i < limit && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        if i >= limit {
            return None;
        }
        let start = i;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        // Separators are ASCII, so both ends are character boundaries.
        if let Some(found) = token_level(&line[start..i], start, i) {
            return Some(found);
        }
        if matches!(bytes.get(i), Some(b'\n' | b'\r')) {
            return None;
        }
    }
    None
}

fn token_level(token: &str, start: usize, end: usize) -> Option<LevelToken<'_>> {
    for key in ["level=", "lvl=", "severity="] {
        // Compared as bytes: the token may hold a multi-byte character
        // where the key would end.
        if token.len() > key.len()
            && token.as_bytes()[..key.len()].eq_ignore_ascii_case(key.as_bytes())
        {
            let value = token[key.len()..].trim_matches('"');
            return severity_word(value).map(|severity| LevelToken {
                word: value,
                severity,
                message_start: end,
                logfmt: true,
            });
        }
    }
    let lead = token.len() - token.trim_start_matches(['[', '(', '<']).len();
    let inner = &token[lead..];
    let word_len = inner.bytes().take_while(u8::is_ascii_uppercase).count();
    if !(3..=9).contains(&word_len) {
        return None;
    }
    let after = &inner[word_len..];
    // `ERROR`, `[ERROR]`, `<ERROR>`, `ERROR:`, and Python's default
    // `ERROR:root:message` (the message starts inside the token).
    let message_start = match after.as_bytes().first() {
        None => end,
        Some(b':') if after.len() > 1 => start + lead + word_len + 1,
        Some(_)
            if after
                .bytes()
                .all(|b| matches!(b, b']' | b')' | b'>' | b':' | b'|')) =>
        {
            end
        }
        Some(_) => return None,
    };
    let word = &inner[..word_len];
    let severity = severity_word(word)?;
    Some(LevelToken {
        word,
        severity,
        message_start,
        logfmt: false,
    })
}

/// logfmt (`time=... level=error msg="failed" err="..."`), as logrus and
/// slog text handlers write it.
fn logfmt_error(level: Level, line: &str) -> Occurrence {
    let mut fields = Fields::default();
    let mut message = None;
    for (k, v) in logfmt_pairs(first_line(line)) {
        match k {
            "msg" | "message" if message.is_none() => message = Some(v),
            "time" | "ts" | "level" | "lvl" | "severity" => {}
            _ => fields.push(k, &v),
        }
    }
    let message = message.unwrap_or_default();
    occurrence("", &message, Vec::new(), level, "logfmt", fields)
}

/// `key=value key="quoted \" value"` pairs; anything else is skipped.
pub(crate) fn logfmt_pairs(s: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() && out.len() < 64 {
        let key_end = rest.find(['=', ' ']).unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = &rest[key_end..];
        let Some(after_eq) = rest.strip_prefix('=') else {
            rest = rest.trim_start();
            continue;
        };
        let value;
        if let Some(quoted) = after_eq.strip_prefix('"') {
            let mut v = String::new();
            let mut end = quoted.len();
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                if escaped {
                    v.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = i + 1;
                    break;
                } else {
                    v.push(c);
                }
            }
            value = v;
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = after_eq.find(' ').unwrap_or(after_eq.len());
            value = after_eq[..end].to_string();
            rest = &after_eq[end..];
        }
        if !key.is_empty() {
            out.push((key, value));
        }
        rest = rest.trim_start();
    }
    out
}

/// Whether a line continues the indentation of a stack trace.
pub(crate) fn is_indented(line: &str) -> bool {
    trim_indent(line).len() != line.len()
}

#[cfg(test)]
mod tests {
    use super::super::extract;
    use super::*;

    fn kind_message(msg: &str) -> (String, String) {
        let o = extract(msg).unwrap_or_else(|| panic!("no error in {msg:?}"));
        (o.kind, o.message)
    }

    #[test]
    fn python_uncaught_text_with_newlines() {
        let o = extract("[ERROR] KeyError: 'order_id'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 12, in handler\n    order = event['order_id']\n").unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("KeyError", "'order_id'")
        );
        assert_eq!(o.shape, "python-text");
        assert_eq!(o.frames.len(), 1);
        assert_eq!(o.frames[0].function, "handler");
        assert_eq!(o.frames[0].line, Some(12));
    }

    #[test]
    fn python_uncaught_text_with_carriage_returns_and_nbsp() {
        let o = extract("[ERROR] ZeroDivisionError: division by zero\rTraceback (most recent call last):\r\u{a0}\u{a0}File \"/var/task/app.py\", line 3, in handler\r\u{a0}\u{a0}\u{a0}\u{a0}return 1 / 0\n").unwrap();
        assert_eq!(o.kind, "ZeroDivisionError");
        assert_eq!(o.message, "division by zero");
        assert_eq!(o.frames[0].file, "/var/task/app.py");
    }

    #[test]
    fn python_import_error_keeps_runtime_type() {
        let (k, m) = kind_message(
            "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'yaml'\rTraceback (most recent call last):",
        );
        assert_eq!(k, "Runtime.ImportModuleError");
        assert_eq!(m, "Unable to import module 'app': No module named 'yaml'");
    }

    #[test]
    fn python_logging_text() {
        let o = extract("[ERROR]\t2024-05-01T10:00:00.123Z\t1f2e3d4c-0000-4000-8000-000000000001\tcould not reach the ledger\n").unwrap();
        assert_eq!(o.kind, "");
        assert_eq!(o.message, "could not reach the ledger");
        assert_eq!(o.shape, "python-logging-text");
        assert_eq!(
            o.fields,
            [(
                "requestId".to_string(),
                "1f2e3d4c-0000-4000-8000-000000000001".to_string()
            )]
        );
    }

    #[test]
    fn python_logging_exception_uses_the_traceback() {
        let o = extract("[ERROR]\t2024-05-01T10:00:00.123Z\tabc\tfailed to settle\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 8, in settle\n    total = a / b\nZeroDivisionError: division by zero").unwrap();
        assert_eq!(o.kind, "ZeroDivisionError");
        assert!(
            o.fields
                .contains(&("message".into(), "failed to settle".into()))
        );
    }

    #[test]
    fn bracketed_levels_below_error_are_not_errors() {
        assert_eq!(
            extract("[INFO]\t2024-05-01T10:00:00.123Z\tabc\tstarted"),
            None
        );
        assert_eq!(
            extract("[WARNING]\t2024-05-01T10:00:00.123Z\tabc\tslow"),
            None
        );
        assert_eq!(
            extract(
                "[DEBUG] Traceback (most recent call last):\n  File \"a.py\", line 1, in f\nValueError: x"
            ),
            None
        );
        assert_eq!(extract("[CRITICAL] disk full").unwrap().level, Level::Fatal);
        assert_eq!(
            extract("[ERROR] First test message").unwrap().message,
            "First test message"
        );
    }

    #[test]
    fn node_text_invoke_error_with_and_without_space() {
        for sep in ["Invoke Error \t", "Invoke Error\t"] {
            let line = format!(
                "2024-05-01T10:00:00.123Z\tabc-123\tERROR\t{sep}{{\"errorType\":\"TypeError\",\"errorMessage\":\"x is not a function\",\"stack\":[\"TypeError: x is not a function\",\"    at Runtime.handler (file:///var/task/index.mjs:7:3)\",\"    at Runtime.handleOnceNonStreaming (file:///var/runtime/index.mjs:1:1)\"]}}\n"
            );
            let o = extract(&line).unwrap();
            assert_eq!(o.kind, "TypeError");
            assert_eq!(o.message, "x is not a function");
            assert_eq!(o.shape, "node-text");
            assert_eq!(o.frames.len(), 2);
            assert!(o.fields.contains(&("requestId".into(), "abc-123".into())));
        }
    }

    #[test]
    fn node_text_levels() {
        assert_eq!(
            extract("2024-05-01T10:00:00.123Z\tabc\tINFO\tprocessed 3 records, 0 errors"),
            None
        );
        assert_eq!(
            extract(
                "2024-05-01T10:00:00.123Z\tabc\tWARN\tTypeError: x\n    at f (/var/task/a.js:1:1)"
            ),
            None
        );
        let o = extract("2024-05-01T10:00:00.123Z\tabc\tERROR\tRangeError: bad size\n    at f (/var/task/a.js:1:1)").unwrap();
        assert_eq!(o.kind, "RangeError");
        assert_eq!(o.frames.len(), 1);
        let o = extract("2024-05-01T10:00:00.123Z\tabc\tERROR\tpayment declined").unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("", "payment declined")
        );
    }

    #[test]
    fn node_text_info_carrying_an_error_level_json() {
        let o = extract("2024-05-01T10:00:00.123Z\tabc\tINFO\t{\"level\":\"ERROR\",\"message\":{\"message\":\"quota exceeded\",\"tenant\":\"t1\"}}").unwrap();
        assert_eq!(o.message, "quota exceeded");
        assert_eq!(
            extract("2024-05-01T10:00:00.123Z\tabc\tINFO\t{\"level\":\"INFO\",\"message\":\"ok\"}"),
            None
        );
    }

    #[test]
    fn go_log_prefix_json() {
        let o = extract("2024/05/01 10:00:00 {\"errorMessage\":\"record 12 missing\",\"errorType\":\"errorString\"}").unwrap();
        assert_eq!((o.kind.as_str(), o.shape), ("errorString", "go-json"));
        assert_eq!(extract("2024/05/01 10:00:00 listening on :8080"), None);
    }

    #[test]
    fn rust_runtime_text() {
        let o = extract("ERROR Lambda runtime invoke{requestId=\"r-1\" xrayTraceId=\"Root=1-2-3\"}: Custom { kind: Other, error: \"no rows\" }").unwrap();
        assert_eq!(o.shape, "rust-text");
        assert_eq!(o.message, "Custom { kind: Other, error: \"no rows\" }");
        assert_eq!(o.fields[0], ("requestId".into(), "r-1".into()));
        assert_eq!(o.fields[1], ("xrayTraceId".into(), "Root=1-2-3".into()));
        let o = extract("2024-05-01T10:00:00.123456Z ERROR billing::sync: upstream returned 503")
            .unwrap();
        assert_eq!(o.message, "upstream returned 503");
        assert!(
            o.fields
                .contains(&("target".into(), "billing::sync".into()))
        );
        assert_eq!(
            extract("2024-05-01T10:00:00.123456Z  INFO billing::sync: error_rate=0"),
            None
        );
    }

    #[test]
    fn common_text_level_formats() {
        assert_eq!(
            kind_message("ERROR:root:could not open file").1,
            "root:could not open file"
        );
        assert_eq!(
            kind_message("2024-05-01 10:00:00,123 ERROR [main] com.acme.Job - failed").1,
            "[main] com.acme.Job - failed"
        );
        assert_eq!(
            extract("2024-05-01 10:00:00,123 FATAL out of memory")
                .unwrap()
                .level,
            Level::Fatal
        );
        assert_eq!(
            extract("2024-05-01 10:00:00,123 INFO retrying after error"),
            None
        );
        assert_eq!(
            extract("2024-05-01 10:00:00,123 WARN upstream error, retrying"),
            None
        );
    }

    #[test]
    fn logfmt_lines() {
        let o = extract("time=\"2024-05-01T10:00:00Z\" level=error msg=\"sync failed\" error=\"dial tcp: i/o timeout\" job=7").unwrap();
        assert_eq!(o.message, "sync failed");
        assert_eq!(o.shape, "logfmt");
        assert!(
            o.fields
                .contains(&("error".into(), "dial tcp: i/o timeout".into()))
        );
        assert_eq!(
            extract("time=\"2024-05-01T10:00:00Z\" level=info msg=\"0 errors\""),
            None
        );
    }

    #[test]
    fn lines_that_merely_mention_errors() {
        for line in [
            "processed 120 records, 0 errors",
            "error_rate=0",
            "Retrying after error (attempt 2)",
            "Error: could not resolve host",
            "ValueError: bad input",
            "the handler raised no exception",
        ] {
            assert_eq!(extract(line), None, "{line}");
        }
    }

    #[test]
    fn platform_report_lines_are_not_errors() {
        for line in [
            "START RequestId: 6b9b0c6e-1111-4222-8333-944455556666 Version: $LATEST",
            "END RequestId: 6b9b0c6e-1111-4222-8333-944455556666",
            "REPORT RequestId: 6b9b0c6e-1111-4222-8333-944455556666\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: timeout",
            "INIT_START Runtime Version: python:3.12.v30\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:abc",
        ] {
            assert_eq!(extract(line), None, "{line}");
        }
    }

    #[test]
    fn free_text_traces() {
        let o = extract("Traceback (most recent call last):\n  File \"/app/job.py\", line 4, in <module>\n    run()\nValueError: bad row 7").unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("ValueError", "bad row 7")
        );
        assert_eq!(o.shape, "python-traceback");
        let o = extract("Exception in thread \"main\" java.lang.IllegalStateException: closed\n\tat com.acme.Main.main(Main.java:3)").unwrap();
        assert_eq!(o.kind, "java.lang.IllegalStateException");
        assert_eq!(o.frames[0].line, Some(3));
        let o = extract("Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space")
            .unwrap();
        assert_eq!(o.kind, "java.lang.OutOfMemoryError");
        let o = extract("panic: assignment to entry in nil map").unwrap();
        assert_eq!((o.kind.as_str(), o.level), ("panic", Level::Fatal));
    }

    #[test]
    fn multi_byte_characters_anywhere_do_not_panic() {
        for line in [
            "lev\u{e9}=error x",
            "levél=error",
            "level\u{e9}=error",
            "lvl\u{e9}",
            "[\u{e9}RROR] x",
            "\u{a0}ERROR\u{a0}: x",
            "2024/01/01 00:00:0\u{e9} x",
            "2024-01-01T00:00:00Z\t\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\tERROR\tx",
            "ERROR Lambda runtime invoke{requestId=\"\u{e9}\u{1f600}}: x",
            "thread 'main' panicked at \u{e9}:\u{e9}:",
            "{\"level\u{e9}\":\"ERROR\"}",
        ] {
            let _ = extract(line);
        }
    }

    #[test]
    fn indented_prose_is_not_a_trace() {
        assert_eq!(
            extract("Summary:\n    at the moment nothing failed\n    at all"),
            None
        );
    }
}
