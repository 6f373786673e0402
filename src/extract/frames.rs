//! Stack frame lines of every runtime, and which frames belong to the app.
//!
//! Whether a frame is "in app" decides what the fingerprint keeps, so the
//! lists below name the places where code that is *not* the user's lives on
//! Lambda and in containers: the runtime interface clients, the language's
//! standard library, and installed dependencies.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use super::lines::trim_indent;
use crate::model::Frame;

/// Path fragments of runtime, standard library and dependency files.
const LIBRARY_PATHS: &[&str] = &[
    "/var/runtime/",
    "/var/lang/",
    "site-packages/",
    "dist-packages/",
    "/opt/python/",
    "/opt/nodejs/",
    "node_modules/",
    "/usr/lib/python",
    "/usr/local/lib/python",
    "/awslambdaric/",
    "/lib/python3.",
    // Red Hat family interpreters (Amazon Linux, the Batch AMIs).
    "/lib64/python",
    "/go/pkg/mod/",
    "/usr/local/go/src/",
    "/usr/lib/go/src/",
    "github.com/aws/aws-lambda-go",
    "/.cargo/registry/",
    // The Rust docker images' CARGO_HOME, and the standard library's own
    // sources as older toolchains printed them.
    "/cargo/registry/",
    "src/libstd/",
    "src/libcore/",
    "src/liballoc/",
    "/rustc/",
    "/root/.cargo/",
    "/usr/lib/jvm/",
    "/usr/share/java/",
];

/// [`LIBRARY_PATHS`] searched in one pass: every frame of every trace is
/// asked, and a `contains` per path set up a fresh substring searcher each
/// time (about 3% of `ingest`'s instructions).
static LIBRARY_PATH_MATCHER: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::new(LIBRARY_PATHS).unwrap_or_else(|e| panic!("library paths: {e}"))
});

/// File-name prefixes of runtime code that has no real path.
const LIBRARY_FILE_PREFIXES: [&str; 6] = [
    "node:",
    "internal/",
    "<frozen ",
    "<anonymous>",
    "native",
    "<string>",
];

/// Java (and other JVM) package prefixes of the platform and of common
/// dependencies.
const LIBRARY_PACKAGES: [&str; 24] = [
    "java.",
    "javax.",
    "jakarta.",
    "sun.",
    "jdk.",
    "com.sun.",
    "kotlin.",
    "kotlinx.",
    "scala.",
    "software.amazon.awssdk.",
    "com.amazonaws.",
    "lambdainternal.",
    "org.springframework.",
    "org.apache.",
    "org.hibernate.",
    "com.fasterxml.",
    "com.google.",
    "io.netty.",
    "reactor.",
    "okhttp3.",
    "okio.",
    "org.slf4j.",
    "ch.qos.logback.",
    "io.micronaut.",
];

/// Whether a frame with this file and function is the user's code.
pub(crate) fn in_app(file: &str, function: &str) -> bool {
    if LIBRARY_PATH_MATCHER.is_match(file)
        || LIBRARY_FILE_PREFIXES.iter().any(|p| file.starts_with(p))
    {
        return false;
    }
    // Go runtime functions (runtime.gopanic) and the Lambda Go library.
    if function.starts_with("runtime.") || function.starts_with("github.com/aws/aws-lambda-go") {
        return false;
    }
    // Rust's standard library and the backtrace machinery, by path when
    // the backtrace has one and by name when it does not.
    if RUST_LIBRARY_PREFIXES
        .iter()
        .any(|p| function.starts_with(p))
    {
        return false;
    }
    true
}

const RUST_LIBRARY_PREFIXES: [&str; 8] = [
    "std::",
    "core::",
    "alloc::",
    "backtrace::",
    "<std::",
    "<core::",
    "<alloc::",
    "__rust",
];

/// Top-level packages of Go's standard library, as the first element of a
/// function's package path (`runtime/debug.Stack`, `net/http.(*conn).serve`,
/// `sync.(*Once).Do`): a Go frame of these is never the user's code.
const GO_STD: [&str; 34] = [
    "archive",
    "bufio",
    "bytes",
    "cmp",
    "compress",
    "container",
    "context",
    "crypto",
    "database",
    "debug",
    "embed",
    "encoding",
    "errors",
    "expvar",
    "flag",
    "fmt",
    "hash",
    "html",
    "image",
    "internal",
    "io",
    "iter",
    "log",
    "maps",
    "math",
    "mime",
    "net",
    "os",
    "path",
    "reflect",
    "regexp",
    "runtime",
    "slices",
    "sort",
];
const GO_STD_MORE: [&str; 8] = [
    "strconv", "strings", "sync", "syscall", "testing", "text", "time", "unicode",
];

/// Whether a Go frame is the user's code. Besides the paths every runtime
/// shares: the standard library (by package, since `-trimpath` builds
/// print `runtime/panic.go` without GOROOT), the `panic` frame itself, and
/// dependencies, whose paths carry their module version (`libnuke@v0.18.0/`)
/// when they come from the module cache, trimmed or not.
pub(crate) fn go_in_app(file: &str, function: &str) -> bool {
    if function == "panic" || !in_app(file, function) {
        return false;
    }
    if let Some(at) = file.find("@v")
        && file[at + 2..].starts_with(|c: char| c.is_ascii_digit())
    {
        return false;
    }
    let package = function.split(['/', '.']).next().unwrap_or(function);
    !(GO_STD.contains(&package) || GO_STD_MORE.contains(&package))
}

/// Whether a JVM frame's function (`pkg.Class.method`) is platform or
/// dependency code.
pub(crate) fn java_in_app(function: &str) -> bool {
    !LIBRARY_PACKAGES.iter().any(|p| function.starts_with(p))
}

/// A Python frame line `File "path", line N, in function` (indentation
/// already removed).
pub(crate) fn python_frame(t: &str) -> Option<Frame> {
    let rest = t.strip_prefix("File \"")?;
    let (file, rest) = rest.split_once("\", line ")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let line = rest.get(..digits).and_then(|d| d.parse().ok());
    let function = rest
        .get(digits..)
        .and_then(|r| r.strip_prefix(", in "))
        .unwrap_or("")
        .trim_end();
    Some(Frame {
        function: function.to_string(),
        file: file.to_string(),
        line,
        in_app: in_app(file, function),
    })
}

/// A Python frame from its parts, as Python 2.7's runtime listed them.
pub(crate) fn python_tuple_frame(file: &str, line: Option<u32>, function: &str) -> Frame {
    Frame {
        function: function.to_string(),
        file: file.to_string(),
        line,
        in_app: in_app(file, function),
    }
}

/// An `at ...` frame of Java or Node.js (indentation and the `at ` already
/// removed), telling which of the two it was.
///
/// Java writes `pkg.Class.method(File.java:12)` with no space before the
/// parenthesis; Node.js writes `function (file:line:col)` or a bare
/// `file:line:col`.
pub(crate) fn at_frame(s: &str) -> Option<(Frame, bool)> {
    // Node.js opens the error's own properties after the last frame: `... {`.
    let s = s.trim_end();
    let s = s.strip_suffix(" {").unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    if let Some(inner) = without_packaging(s).and_then(|f| f.strip_suffix(')'))
        && !inner.contains(" (")
        && let Some((function, location)) = inner.split_once('(')
        && !function.is_empty()
        && !function.contains(' ')
    {
        return Some((java_frame(function, location), true));
    }
    if let Some(inner) = s.strip_suffix(')') {
        if let Some(open) = inner.rfind(" (") {
            let function = &inner[..open];
            return Some((node_frame(function, &inner[open + 2..]), false));
        }
        if let Some(open) = inner.find('(') {
            let function = &inner[..open];
            if !function.contains(' ') {
                return Some((java_frame(function, &inner[open + 1..]), true));
            }
        }
    }
    Some((node_frame("", s), false))
}

/// A Java frame without the packaging logback's `%xEx` (Spring Boot's
/// default pattern) prints after its location: ` ~[spring-beans-5.1.7.RELEASE.jar:5.1.7.RELEASE]`,
/// ` [na:1.8.0_181]`, ` ~[?:?]`, ` [classes/:na]` (`~` when the jar was
/// guessed). The jar and its version change with every dependency upgrade
/// and name no code site. Only a `[name:version]` right after the closing
/// parenthesis of a Java frame is taken off; `None` for anything else.
fn without_packaging(s: &str) -> Option<&str> {
    let body = s.strip_suffix(']')?;
    let open = body.rfind('[')?;
    if !body[open + 1..].contains(':') {
        return None;
    }
    let before = &body[..open];
    let frame = before
        .strip_suffix('~')
        .unwrap_or(before)
        .strip_suffix(' ')?;
    frame.ends_with(')').then_some(frame)
}

/// A Java frame from its function and the text between its parentheses
/// (`Handler.java:28`, `Native Method`, `Unknown Source`).
pub(crate) fn java_frame(function: &str, location: &str) -> Frame {
    // `java.base/java.util.X.m` and `app//com.x.Y.m` name a module or class
    // loader before the class; the class is what identifies the code.
    let function = function.rsplit('/').next().unwrap_or(function);
    let (file, line) = match location.rsplit_once(':') {
        Some((file, n)) => match n.parse() {
            Ok(n) => (file, Some(n)),
            Err(_) => (location, None),
        },
        None => (location, None),
    };
    Frame {
        function: function.to_string(),
        file: file.to_string(),
        line,
        in_app: java_in_app(function),
    }
}

/// A Node.js frame from its function (possibly empty) and its location
/// (`file:///var/task/index.mjs:2:9`, `node:internal/x:95:5`, `native`).
fn node_frame(function: &str, location: &str) -> Frame {
    let (file, line) = split_line_col(location);
    // Node.js up to 10 named its core modules by bare file name
    // (`module.js:338:15`, `internal/module.js`); a module of the app is
    // always named by its absolute path.
    let core_module = !file.contains('/') && file.ends_with(".js");
    Frame {
        function: function.to_string(),
        in_app: !core_module && in_app(file, function),
        file: file.to_string(),
        line,
    }
}

/// `file:line:col` or `file:line` into the file and the line.
fn split_line_col(location: &str) -> (&str, Option<u32>) {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((head, last)) = location.rsplit_once(':')
        && numeric(last)
    {
        if let Some((file, line)) = head.rsplit_once(':')
            && numeric(line)
        {
            return (file, line.parse().ok());
        }
        return (head, last.parse().ok());
    }
    (location, None)
}

/// One element of a `stackTrace` array as Lambda runtimes write it: Python
/// (`  File "x", line N, in f\n    code\n`), Node.js (`    at f (x:1:2)`, or
/// the `Error: msg` head which is not a frame), Java
/// (`pkg.Class.method(File.java:12)`).
pub(crate) fn stack_element(element: &str) -> Option<Frame> {
    let first = element.lines().find(|l| !trim_indent(l).is_empty())?;
    let t = trim_indent(first);
    if t.starts_with("File \"") {
        return python_frame(t);
    }
    if let Some(rest) = t.strip_prefix("at ") {
        return at_frame(rest).map(|(f, _)| f);
    }
    // A Node.js frame without its `at`, as the nodejs8.10-era runtime wrote
    // `stackTrace` entries: `Module.require (module.js:596:17)`.
    if let Some(inner) = t.strip_suffix(')')
        && let Some(open) = inner.rfind(" (")
        && split_line_col(&inner[open + 2..]).1.is_some()
    {
        return Some(node_frame(&inner[..open], &inner[open + 2..]));
    }
    // A bare Java frame, as aws-lambda-java-libs serialises StackTraceElement.
    let inner = t.strip_suffix(')')?;
    let (function, location) = inner.split_once('(')?;
    if function.is_empty() || function.contains(' ') || !function.contains('.') {
        return None;
    }
    Some(java_frame(function, location))
}

/// A Go frame from aws-lambda-go's `{path, line, label}` panic stack entry.
pub(crate) fn go_frame(path: &str, line: Option<u32>, label: &str) -> Frame {
    Frame {
        function: label.to_string(),
        file: path.to_string(),
        line,
        in_app: go_in_app(path, label),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_frame_line() {
        let f = python_frame("File \"/var/task/app.py\", line 36, in handler").unwrap();
        assert_eq!(f.file, "/var/task/app.py");
        assert_eq!(f.line, Some(36));
        assert_eq!(f.function, "handler");
        assert!(f.in_app);
        let lib = python_frame(
            "File \"/var/lang/lib/python3.12/site-packages/botocore/client.py\", line 1, in _api_call",
        )
        .unwrap();
        assert!(!lib.in_app);
        let frozen =
            python_frame("File \"<frozen importlib._bootstrap>\", line 1, in _call").unwrap();
        assert!(!frozen.in_app);
    }

    #[test]
    fn node_frames_with_and_without_function() {
        let (f, java) = at_frame("Runtime.handler (file:///var/task/index.mjs:2:9)").unwrap();
        assert!(!java);
        assert_eq!(f.function, "Runtime.handler");
        assert_eq!(f.file, "file:///var/task/index.mjs");
        assert_eq!(f.line, Some(2));
        assert!(f.in_app);
        let (f, _) = at_frame("Function.Module._resolveFilename (module.js:338:15)").unwrap();
        assert!(!f.in_app, "an old Node.js core module");
        let (f, _) = at_frame("/var/task/lib/db.js:40:7").unwrap();
        assert_eq!(f.function, "");
        assert_eq!(f.file, "/var/task/lib/db.js");
        assert_eq!(f.line, Some(40));
        let (f, _) =
            at_frame("process.processTicksAndRejections (node:internal/process/task_queues:95:5)")
                .unwrap();
        assert!(!f.in_app);
        let (f, _) = at_frame("Runtime.http [as handler] (/var/task/index.js:25:11)").unwrap();
        assert_eq!(f.function, "Runtime.http [as handler]");
        let (f, _) = at_frame("async Promise.all (index 0)").unwrap();
        assert_eq!(f.line, None);
    }

    #[test]
    fn java_frames() {
        let (f, java) = at_frame("example.Handler.handleRequest(Handler.java:28)").unwrap();
        assert!(java);
        assert_eq!(f.function, "example.Handler.handleRequest");
        assert_eq!(f.file, "Handler.java");
        assert_eq!(f.line, Some(28));
        assert!(f.in_app);
        let (f, _) = at_frame("java.base/java.util.ArrayList.get(ArrayList.java:427)").unwrap();
        assert_eq!(f.function, "java.util.ArrayList.get");
        assert!(!f.in_app);
        let (f, _) = at_frame("jdk.internal.reflect.X.invoke0(Native Method)").unwrap();
        assert_eq!(f.file, "Native Method");
        assert_eq!(f.line, None);
        assert!(!f.in_app);
        let (f, _) = at_frame("software.amazon.awssdk.core.Client.call(Client.java:12)").unwrap();
        assert!(!f.in_app);
    }

    /// Frames as Spring Boot's default logback pattern prints them, with the
    /// jar and its version after the location (real lines, from
    /// tests/data/long_traces/java-spring-boot-*.txt): parsed as the plain
    /// frame, the packaging dropped.
    #[test]
    fn java_frames_with_logback_packaging() {
        let cases: [(&str, &str, &str, Option<u32>, bool); 8] = [
            (
                "org.springframework.beans.factory.annotation.AutowiredAnnotationBeanPostProcessor$AutowiredFieldElement.inject(AutowiredAnnotationBeanPostProcessor.java:596) ~[spring-beans-5.1.7.RELEASE.jar:5.1.7.RELEASE]",
                "org.springframework.beans.factory.annotation.AutowiredAnnotationBeanPostProcessor$AutowiredFieldElement.inject",
                "AutowiredAnnotationBeanPostProcessor.java",
                Some(596),
                false,
            ),
            (
                "org.springframework.boot.SpringApplication.refresh(SpringApplication.java:775) [spring-boot-2.1.5.RELEASE.jar:2.1.5.RELEASE]",
                "org.springframework.boot.SpringApplication.refresh",
                "SpringApplication.java",
                Some(775),
                false,
            ),
            (
                "biz.jal.crane.janet2.inf.VIF120080Controller.main(VIF120080Controller.java:25) [classes/:?]",
                "biz.jal.crane.janet2.inf.VIF120080Controller.main",
                "VIF120080Controller.java",
                Some(25),
                true,
            ),
            (
                "biz.jal.crane.jsc.base.inf.service.AbstractIFServiceConfig.queueConnectionFactory(AbstractIFServiceConfig.java:126) ~[classes/:?]",
                "biz.jal.crane.jsc.base.inf.service.AbstractIFServiceConfig.queueConnectionFactory",
                "AbstractIFServiceConfig.java",
                Some(126),
                true,
            ),
            (
                "square.app.SquareApplication.main(SquareApplication.java:14) [classes/:na]",
                "square.app.SquareApplication.main",
                "SquareApplication.java",
                Some(14),
                true,
            ),
            (
                "sun.reflect.NativeMethodAccessorImpl.invoke0(Native Method) ~[na:1.8.0_162]",
                "sun.reflect.NativeMethodAccessorImpl.invoke0",
                "Native Method",
                None,
                false,
            ),
            (
                "java.lang.Thread.run(Thread.java:748) [na:1.8.0_162]",
                "java.lang.Thread.run",
                "Thread.java",
                Some(748),
                false,
            ),
            (
                "javax.naming.spi.NamingManager.getInitialContext(NamingManager.java:662) ~[?:1.8.0_181]",
                "javax.naming.spi.NamingManager.getInitialContext",
                "NamingManager.java",
                Some(662),
                false,
            ),
        ];
        for (line, function, file, n, app) in cases {
            let (f, java) = at_frame(line).unwrap();
            assert!(java, "{line}");
            assert_eq!(f.function, function, "{line}");
            assert_eq!(f.file, file, "{line}");
            assert_eq!(f.line, n, "{line}");
            assert_eq!(f.in_app, app, "{line}");
            let plain = line[..line.rfind('[').unwrap()]
                .trim_end_matches('~')
                .trim_end();
            assert_eq!(at_frame(plain).unwrap().0, f, "{line}");
        }
        // Only a `[name:version]` right after a Java frame's location.
        for line in [
            "x.Y.m(Y.java:1) [no version]",
            "x.Y.m(Y.java:1)~[a.jar:1]",
            "x.Y.m(Y.java:1) trailing [a.jar:1]",
            "Runtime.handler (file:///var/task/index.mjs:2:9) [a:b]",
        ] {
            let (f, _) = at_frame(line).unwrap();
            assert_eq!(f.function, "", "{line}");
            assert_eq!(f.file, line, "{line}");
        }
    }

    #[test]
    fn stack_array_elements() {
        let py = stack_element("  File \"/var/task/f.py\", line 3, in h\n    x()\n").unwrap();
        assert_eq!((py.file.as_str(), py.line), ("/var/task/f.py", Some(3)));
        assert!(stack_element("Error: boom").is_none());
        let node = stack_element("    at h (/var/task/i.js:1:2)").unwrap();
        assert_eq!(node.function, "h");
        let java = stack_element("example.H.handle(H.java:9)").unwrap();
        assert_eq!(
            (java.function.as_str(), java.line),
            ("example.H.handle", Some(9))
        );
    }

    #[test]
    fn go_runtime_frames_are_not_in_app() {
        assert!(
            !go_frame(
                "/usr/local/go/src/runtime/panic.go",
                Some(1),
                "runtime.gopanic"
            )
            .in_app
        );
        assert!(
            !go_frame(
                "github.com/aws/aws-lambda-go@v1.47.0/lambda/errors.go",
                Some(39),
                "lambdaPanicResponse"
            )
            .in_app
        );
        assert!(go_frame("/app/main.go", Some(12), "main.handle").in_app);
    }
}
