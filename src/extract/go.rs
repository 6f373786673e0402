//! Go: panics as the Go runtime prints them on stderr (AWS Batch and ECS
//! jobs), zap's `stacktrace` field, which uses the same `function(args)` /
//! `\t/path/file.go:12 +0x1d` line pairs, the standard `log` prefix that
//! aws-lambda-go writes its error reports behind, and how zap and logrus
//! JSON lines are recognised.

use serde_json::{Map, Value};

use super::frames::go_frame;
use super::lines::lines;
use super::occurrence::{Fields, occurrence};
use super::trace::Trace;
use crate::limits::MAX_FRAMES;
use crate::model::{Frame, Level, Occurrence};

/// `panic: message` (or `fatal error: message`), then
/// `goroutine 1 [running]:` and the frames of that goroutine. Only the first
/// goroutine is read: it is the one that panicked.
///
/// What people paste and what the awslogs driver splits is read too: a
/// re-panic after `recover` (`panic: x [recovered]` then `\tpanic: x`), the
/// `[signal SIGSEGV ...]` line, and frames without the goroutine header or
/// with spaces for the location's tab.
pub(crate) fn parse_panic(text: &str) -> Option<Trace> {
    let mut all = lines(text).peekable();
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
    let frames = stack_frames(all);
    Some(Trace {
        header: Some(header),
        frames,
        cause: None,
        shape: "go-panic",
        definite: true,
    })
}

/// The frames of a goroutine dump that has no `panic:` header, as
/// `debug.Stack()` writes it into a log line after a `recover`.
pub(crate) fn parse_goroutine(text: &str) -> Option<Trace> {
    let start = text.find("goroutine ")?;
    let frames = stack_frames(lines(&text[start..]));
    (!frames.is_empty()).then_some(Trace {
        header: None,
        frames,
        cause: None,
        shape: "go-stack",
        definite: true,
    })
}

/// `path/file.go:12` or `path/file.go:12 +0x1d`, however indented.
pub(crate) fn is_location_line(line: &str) -> bool {
    let t = line.trim();
    let t = t.split(" +0x").next().unwrap_or(t);
    t.rsplit_once(':').is_some_and(|(file, n)| {
        (file.ends_with(".go") || file.ends_with(".s"))
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Frames from `function(args)` / `\tfile:line +0x..` pairs, innermost
/// last, up to the next goroutine after the first.
///
/// Frames printed above a `panic(...)` frame are the deferred calls that ran
/// while the goroutine was panicking (a `recover` handler that logs or
/// panics again); the panic was raised by the frame below it, so the frames
/// above are dropped: with them, every panic recovered by one handler would
/// look alike.
pub(crate) fn stack_frames<'a>(stack: impl Iterator<Item = &'a str>) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut function: Option<&str> = None;
    let mut in_goroutine = false;
    for line in stack {
        if line.starts_with("goroutine ") {
            if in_goroutine || !frames.is_empty() {
                break;
            }
            in_goroutine = true;
            continue;
        }
        let t = line.trim();
        if is_location_line(t) {
            if let Some(f) = function.take() {
                let location = t.split(" +0x").next().unwrap_or(t);
                let (file, line_no) = match location.rsplit_once(':') {
                    Some((file, n)) => (file, n.trim().parse().ok()),
                    None => (location, None),
                };
                if frames.len() < MAX_FRAMES {
                    frames.push(go_frame(file, line_no, f));
                }
            }
            continue;
        }
        if t.is_empty()
            || t == "..."
            || t.starts_with("created by ")
            || t.starts_with("[signal ")
            || t.starts_with("panic: ")
            || t.starts_with("fatal error: ")
            || t.starts_with("exit status ")
        {
            // `created by` names the goroutine's creator, not a caller.
            function = None;
            continue;
        }
        // `main.(*T).m(0x1, ...)` in a panic; zap writes no arguments.
        let without_args = match t.strip_suffix(')') {
            Some(_) => t.rfind('(').map_or(t, |i| &t[..i]),
            None => t,
        };
        function = Some(without_args);
    }
    if let Some(last_panic) = frames.iter().rposition(|f| f.function == "panic") {
        frames.drain(..=last_panic);
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

/// The go1.x Lambda runtime's report of an error the handler returned or
/// of a failure to start it: `<message>: <error type>` and, on the next
/// line, the stack, `null` when there is none (`fork/exec /var/task/main:
/// permission denied: PathError` / `null`). No level is written.
pub(crate) fn go1x_report(message: &str) -> Option<Occurrence> {
    let t = message.trim_end();
    let (first, rest) = t.split_once('\n')?;
    if rest.trim() != "null" {
        return None;
    }
    let (text, kind) = first.trim_end().rsplit_once(": ")?;
    // Go's error types say so in their names: `PathError`, `errorString`,
    // `*url.Error`, `SyntaxError`.
    let is_type = kind
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'*')
        && kind.contains("rror")
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'*'));
    is_type.then(|| {
        occurrence(
            kind,
            text,
            Vec::new(),
            Level::Error,
            "go1x-text",
            Fields::default(),
        )
    })
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

    /// aws-nuke's re-panic (nuke3-rdssnapshot-properties in the real
    /// corpus): the recover handler and the runtime's panic frame come
    /// first; the throw site is the frame below them, and dependency frames
    /// (module versions in their paths) are not the app's.
    #[test]
    fn re_panic_after_recover_keeps_the_frame_that_panicked() {
        let t = parse_panic("panic: runtime error: invalid memory address or nil pointer dereference [recovered]\n\tpanic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x43557ff]\n\ngoroutine 1 [running]:\nmain.main.func1()\n\tgithub.com/ekristen/aws-nuke/v3/main.go:26 +0x54\npanic({0x52a3820?, 0xa7d6a30?})\n\truntime/panic.go:914 +0x21f\ngithub.com/ekristen/aws-nuke/v3/resources.(*RDSSnapshot).Properties(0xc002baa1b0)\n\tgithub.com/ekristen/aws-nuke/v3/resources/rds-snapshots.go:103 +0x13f\ngithub.com/ekristen/libnuke/pkg/queue.(*Item).GetProperty(0xc000afb860, {0xc0001f9400, 0x9})\n\tgithub.com/ekristen/libnuke@v0.18.0/pkg/queue/item.go:76 +0x12e").unwrap();
        let names: Vec<_> = t
            .frames
            .iter()
            .map(|f| (f.function.as_str(), f.in_app))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "github.com/ekristen/libnuke/pkg/queue.(*Item).GetProperty",
                    false
                ),
                (
                    "github.com/ekristen/aws-nuke/v3/resources.(*RDSSnapshot).Properties",
                    true
                ),
            ]
        );
    }

    /// A hand-edited paste (nuke3-athena-filter-elided): no goroutine line,
    /// spaces instead of the location's tab, a location without indent.
    #[test]
    fn frames_without_goroutine_header_or_tabs() {
        let t = parse_panic("panic: runtime error: invalid memory address or nil pointer dereference [recovered]\npanic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x612df45]\ngithub.com/ekristen/aws-nuke/v3/resources.(*AthenaWorkGroup).Filter(...)\n    github.com/ekristen/aws-nuke/v3/resources/athena-work-group.go:164 +0x145\ngithub.com/ekristen/libnuke/pkg/nuke.(*Nuke).Filter(...)\ngithub.com/ekristen/libnuke/pkg/nuke/nuke.go:463 +0x3ba\n...").unwrap();
        assert_eq!(t.frames.len(), 2);
        assert_eq!(
            t.frames[1].function,
            "github.com/ekristen/aws-nuke/v3/resources.(*AthenaWorkGroup).Filter"
        );
    }

    #[test]
    fn standard_library_frames_are_not_in_app() {
        for (file, function) in [
            ("runtime/debug/stack.go", "runtime/debug.Stack"),
            (
                "/usr/local/go/src/net/http/server.go",
                "net/http.(*conn).serve",
            ),
            ("sync/once.go", "sync.(*Once).Do"),
            ("runtime/panic.go", "panic"),
        ] {
            assert!(!go_frame(file, Some(1), function).in_app, "{function}");
        }
        assert!(go_frame("/app/main.go", Some(1), "main.main").in_app);
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

    /// go1x-perm-denied-* in the real corpus: the go1.x runtime's
    /// `<message>: <type>` and a `null` stack, no level.
    #[test]
    fn go1x_runtime_report() {
        let o = crate::extract::extract(
            "fork/exec /var/task/main: permission denied: PathError\nnull\n",
        )
        .unwrap();
        assert_eq!(
            (o.kind.as_str(), o.message.as_str()),
            ("PathError", "fork/exec /var/task/main: permission denied")
        );
        assert_eq!(crate::extract::extract("loaded: config\nnull"), None);
    }
}
