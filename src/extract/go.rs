//! Go: panics as the Go runtime prints them on stderr (AWS Batch and ECS
//! jobs), zap's `stacktrace` field, which uses the same `function(args)` /
//! `\t/path/file.go:12 +0x1d` line pairs, the standard `log` prefix that
//! aws-lambda-go writes its error reports behind, and how zap and logrus
//! JSON lines are recognised.

use serde_json::{Map, Value};

use super::frames::go_frame;
use super::lines::lines;
use super::trace::Trace;
use crate::limits::MAX_FRAMES;
use crate::model::Frame;

/// `panic: message` (or `fatal error: message`), then
/// `goroutine 1 [running]:` and the frames of that goroutine. Only the first
/// goroutine is read: it is the one that panicked.
pub(crate) fn parse_panic(text: &str) -> Option<Trace> {
    let mut all = lines(text);
    let mut header = None;
    for line in all.by_ref() {
        let t = line.trim();
        if let Some(m) = t.strip_prefix("panic: ") {
            let m = m.strip_suffix(" [recovered]").unwrap_or(m);
            header = Some(("panic".to_string(), m.to_string()));
            break;
        }
        if let Some(m) = t.strip_prefix("fatal error: ") {
            header = Some(("fatal error".to_string(), m.to_string()));
            break;
        }
    }
    let header = header?;
    let after_goroutine = all.skip_while(|l| !l.starts_with("goroutine "));
    let frames = stack_frames(after_goroutine.skip(1));
    Some(Trace {
        header: Some(header),
        frames,
        cause: None,
        shape: "go-panic",
        definite: true,
    })
}

/// Frames from `function(args)` / `\tfile:line +0x..` pairs, innermost
/// last, up to the next goroutine.
pub(crate) fn stack_frames<'a>(stack: impl Iterator<Item = &'a str>) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut function: Option<&str> = None;
    for line in stack {
        if line.starts_with("goroutine ") {
            break;
        }
        if let Some(location) = line.strip_prefix('\t') {
            if let Some(f) = function.take() {
                let location = location.split(" +0x").next().unwrap_or(location);
                let (file, line_no) = match location.rsplit_once(':') {
                    Some((file, n)) => (file, n.trim().parse().ok()),
                    None => (location, None),
                };
                if frames.len() < MAX_FRAMES {
                    frames.push(go_frame(file, line_no, f));
                }
            }
        } else if !line.starts_with("created by ") {
            // `main.(*T).m(0x1, ...)` in a panic; zap writes no arguments.
            let line = line.trim();
            let without_args = match line.strip_suffix(')') {
                Some(_) => line.rfind('(').map_or(line, |i| &line[..i]),
                None => line,
            };
            function = Some(without_args);
        }
    }
    frames.reverse();
    frames
}

/// Go's standard `log` prefix `2024/01/31 22:12:58 ` (optionally with
/// microseconds), as aws-lambda-go writes its error reports.
pub(crate) fn strip_log_prefix(line: &str) -> Option<&str> {
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

/// zap's JSON encoder: `caller` and `stacktrace` keys.
pub(crate) fn is_zap(obj: &Map<String, Value>) -> bool {
    obj.contains_key("stacktrace") || obj.contains_key("caller")
}

/// logrus's JSON formatter: `msg`, and the error as a string under `error`.
pub(crate) fn is_logrus(obj: &Map<String, Value>) -> bool {
    obj.contains_key("msg") && obj.get("error").is_some_and(Value::is_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_panic_stack() {
        let t = parse_panic("panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:\nmain.lookup(...)\n\t/app/main.go:12\nmain.main()\n\t/app/main.go:20 +0x1d\nexit status 2").unwrap();
        assert_eq!(
            t.header,
            Some((
                "panic".into(),
                "runtime error: index out of range [5] with length 3".into()
            ))
        );
        let f: Vec<_> = t
            .frames
            .iter()
            .map(|f| (f.function.as_str(), f.line))
            .collect();
        assert_eq!(f, [("main.main", Some(20)), ("main.lookup", Some(12))]);
    }

    #[test]
    fn zap_stacktrace_field() {
        let f = stack_frames(lines(
            "main.(*Syncer).run\n\t/app/sync.go:40\nmain.main\n\t/app/main.go:9",
        ));
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].function, "main.(*Syncer).run");
    }

    #[test]
    fn go_log_prefix_json() {
        let o = crate::extract::extract("2024/05/01 10:00:00 {\"errorMessage\":\"record 12 missing\",\"errorType\":\"errorString\"}").unwrap();
        assert_eq!((o.kind.as_str(), o.shape), ("errorString", "go-json"));
        assert_eq!(
            crate::extract::extract("2024/05/01 10:00:00 listening on :8080"),
            None
        );
    }

    #[test]
    fn go_panic_json_frames() {
        let o = crate::extract::extract(r#"{"errorMessage":"runtime error: invalid memory address or nil pointer dereference","errorType":"runtimeError","stackTrace":[{"path":"github.com/aws/aws-lambda-go@v1.47.0/lambda/errors.go","line":39,"label":"lambdaPanicResponse"},{"path":"/build/main.go","line":31,"label":"handle"}]}"#).unwrap();
        assert_eq!(o.kind, "runtimeError");
        assert_eq!(o.frames.last().unwrap().function, "lambdaPanicResponse");
        assert!(o.frames[0].in_app);
    }
}
