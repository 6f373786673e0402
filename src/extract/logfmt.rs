//! logfmt (`time=... level=error msg="failed" err="..."`), as logrus and
//! Go's slog text handler write it, and the key/value pairs that tracing's
//! span prefix uses too.

use super::lines::first_line;
use super::occurrence::{Fields, occurrence};
use crate::model::{Level, Occurrence};

/// logfmt (`time=... level=error msg="failed" err="..."`), as logrus and
/// slog text handlers write it.
pub(crate) fn logfmt_error(level: Level, line: &str) -> Occurrence {
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
                    // Go's %q escapes (logrus, slog): a logged stack keeps
                    // its lines.
                    v.push(match c {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
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

#[cfg(test)]
mod tests {
    use crate::extract::extract;

    /// nuke3-secrets-lister-logged in the real corpus: logrus writes a
    /// recovered panic's goroutine dump inside `msg="..."` with `\n` and
    /// `\t` escapes; the dump's frames are read from it.
    #[test]
    fn a_stack_logged_inside_an_escaped_value_keeps_its_frames() {
        let o = extract(r#"time="2024-07-30T12:41:31Z" level=error msg="Listing failed:\n    runtime error: invalid memory address or nil pointer dereference\n\n    goroutine 4283 [running]:\n    runtime/debug.Stack()\n    \truntime/debug/stack.go:24 +0x5e\n    panic({0x521a3e0?, 0xa6b0a30?})\n    \truntime/panic.go:914 +0x21f\n    github.com/acme/app/resources.(*Lister).List(0x5386720?)\n    \tgithub.com/acme/app/resources/lister.go:50 +0x203\n""#).unwrap();
        assert_eq!(o.message.lines().next(), Some("Listing failed:"));
        assert_eq!(o.frames.len(), 1);
        assert_eq!(
            o.frames[0].function,
            "github.com/acme/app/resources.(*Lister).List"
        );
        assert!(o.frames[0].in_app);
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
}
