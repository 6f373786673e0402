//! Stack frames as they enter a fingerprint: only what identifies the code
//! site, nothing that changes with a deploy.
//!
//! Line and column numbers move with every unrelated edit above them, the
//! directory a bundle was unpacked into changes with every deploy or
//! container, and compilers number anonymous functions in source order, so
//! all of these are dropped or normalised here.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use memchr::memmem::FinderRev;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::model::Frame;

/// How many innermost frames are used. Enough to tell call sites apart, few
/// enough that recursion depth or a different caller further out does not
/// split one bug into several issues.
pub const MAX_FRAMES: usize = 6;

/// How many innermost frames are used when none is in-app: the library code
/// nearest the throw is all there is to tell sites apart, and deeper library
/// frames mostly name the framework that called the handler.
pub const MAX_LIBRARY_FRAMES: usize = 3;

/// Which frames a fingerprint used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameSource {
    /// The innermost in-app frames.
    InApp,
    /// No frame was in-app; the innermost frames of any kind.
    Innermost,
    /// The occurrence had no frames.
    None,
}

/// The normalised `file function` strings of the frames that identify the
/// site, innermost last (the order `Occurrence::frames` uses).
pub fn key_frames(frames: &[Frame]) -> (Vec<String>, FrameSource) {
    let in_app = frames.iter().filter(|f| f.in_app).count();
    let (source, cap) = if in_app > 0 {
        (FrameSource::InApp, MAX_FRAMES)
    } else if !frames.is_empty() {
        (FrameSource::Innermost, MAX_LIBRARY_FRAMES)
    } else {
        return (Vec::new(), FrameSource::None);
    };
    let mut picked: Vec<String> = Vec::with_capacity(cap);
    // Walk from the innermost frame outwards, skipping consecutive repeats so
    // that recursion depth does not matter.
    for f in frames.iter().rev() {
        if source == FrameSource::InApp && !f.in_app {
            continue;
        }
        let key = frame_key(f);
        if picked.last() == Some(&key) {
            continue;
        }
        picked.push(key);
        if picked.len() == cap {
            break;
        }
    }
    picked.reverse();
    (picked, source)
}

/// The frames of the throw site, as the v3 key uses them: the innermost
/// in-app frame, the function that raised, without line numbers or deploy
/// paths. When it is anonymous (a callback, a lambda, a comprehension) the
/// nearest named in-app frame around it is added, or every anonymous
/// callback of a file would be one site. Empty when no frame is in-app.
///
/// One frame rather than the whole in-app stack so that the same error
/// logged where it was caught (`logger.exception`, `console.error(msg,
/// err)`) and reported uncaught by the runtime, whose stacks differ in
/// their outer frames, is one issue; and so that a helper called from two
/// places is one bug, as its fix is one.
pub fn throw_site(frames: &[Frame]) -> Vec<String> {
    let mut picked = Vec::with_capacity(2);
    for f in frames.iter().rev().filter(|f| f.in_app) {
        picked.push(frame_key(f));
        if !is_anonymous(&f.function) || picked.len() == 2 {
            break;
        }
    }
    picked.reverse();
    picked
}

/// Functions that have no name of their own: Node.js's `<anonymous>` and
/// unnamed callbacks, Python's lambdas and comprehensions, Java lambdas,
/// Go's `func1` closures.
fn is_anonymous(function: &str) -> bool {
    let f = function.trim();
    f.is_empty()
        || f.ends_with("<anonymous>")
        || matches!(
            f,
            "<lambda>" | "<listcomp>" | "<dictcomp>" | "<setcomp>" | "<genexpr>"
        )
        || f.contains("lambda$")
        || f.contains("$$Lambda")
        || f.rsplit('.').next().is_some_and(|last| {
            last.starts_with("func") && last[4..].bytes().all(|b| b.is_ascii_digit())
        })
}

/// How many frame keys [`frame_key`] remembers before it starts over.
const REMEMBERED_KEYS: usize = 4096;

/// A remembered frame: its file and function as written, and their key.
struct KnownFrame {
    file: String,
    function: String,
    key: String,
}

thread_local! {
    /// Keys of frames seen before, by a hash of the frame. The same frames
    /// recur in error after error, and each key is wanted twice per
    /// occurrence (the v3 key and the v2 key), while normalising a path
    /// and a function costs a dozen searches and three allocations.
    static KNOWN: RefCell<HashMap<u64, KnownFrame>> = RefCell::new(HashMap::new());
}

/// `path function` of one frame, both normalised.
pub fn frame_key(f: &Frame) -> String {
    let hash = xxh3_64_with_seed(f.function.as_bytes(), xxh3_64(f.file.as_bytes()));
    let known = KNOWN.with_borrow(|known| {
        known
            .get(&hash)
            .filter(|k| k.file == f.file && k.function == f.function)
            .map(|k| k.key.clone())
    });
    if let Some(key) = known {
        return key;
    }
    let key = normalized_key(f);
    KNOWN.with_borrow_mut(|known| {
        if known.len() >= REMEMBERED_KEYS {
            known.clear();
        }
        known.insert(
            hash,
            KnownFrame {
                file: f.file.clone(),
                function: f.function.clone(),
                key: key.clone(),
            },
        );
    });
    key
}

fn normalized_key(f: &Frame) -> String {
    let file = normalize_path(&f.file);
    let function = normalize_function(&f.function);
    let mut key = String::with_capacity(file.len() + function.len() + 1);
    key.push_str(&file);
    key.push(' ');
    key.push_str(&function);
    key
}

/// Directories a deployment unpacks code into, at the start of a path.
/// Everything up to and including them is the deploy's business.
const DEPLOY_ROOTS: [&str; 12] = [
    "/var/task/",
    "/var/runtime/",
    "/var/lang/lib/",
    "/opt/python/",
    "/opt/nodejs/",
    "/opt/java/",
    "/usr/src/app/",
    "/usr/app/",
    "/app/",
    "/workspace/",
    "/code/",
    "/srv/",
];

/// Where installed packages live, wherever the interpreter is: the path
/// after them is the package's own.
const PACKAGE_ROOTS: [&str; 3] = ["/node_modules/", "/site-packages/", "/dist-packages/"];

/// [`PACKAGE_ROOTS`] with their searchers built once: every frame's path is
/// normalised, and `rfind` with a string pattern builds a searcher per call.
static PACKAGE_ROOT_FINDERS: LazyLock<[(&str, FinderRev<'static>); 3]> =
    LazyLock::new(|| PACKAGE_ROOTS.map(|root| (root, FinderRev::new(root))));

/// How many trailing path components are kept once the deploy root is gone:
/// enough to tell `orders/handler.py` from `users/handler.py`, and the same
/// whether the code ran from `/var/task/src/orders/handler.py` or from a
/// developer's checkout.
const KEPT_COMPONENTS: usize = 3;

/// The path of a frame relative to its project.
pub fn normalize_path(path: &str) -> String {
    let mut p: String = path.trim().replace('\\', "/");
    for scheme in [
        "file://",
        "webpack:///",
        "webpack://",
        "webpack-internal:///",
    ] {
        if let Some(rest) = p.strip_prefix(scheme) {
            p = rest.to_string();
        }
    }
    // `C:/build/...`: the drive letter is the machine's, not the code's.
    if p.len() > 2 && p.as_bytes()[1] == b':' && p.as_bytes()[0].is_ascii_alphabetic() {
        p = p[2..].to_string();
    }
    let mut rel: &str = &p;
    // pnpm's `.pnpm/name@version_hash/node_modules/` store directories sit
    // before the last package root, so the last one wins.
    let package = PACKAGE_ROOT_FINDERS
        .iter()
        .filter_map(|(root, finder)| finder.rfind(rel.as_bytes()).map(|i| i + root.len()))
        .max();
    if let Some(cut) = package {
        rel = &rel[cut..];
    } else if let Some(root) = DEPLOY_ROOTS.iter().find(|r| rel.starts_with(*r)) {
        rel = &rel[root.len()..];
    } else {
        // /tmp/<random>/ and /home/<user>/<checkout>/: scratch and build dirs.
        for (root, skip) in [("/tmp/", 1), ("/home/", 2), ("/Users/", 2), ("/root/", 1)] {
            if let Some(mut rest) = rel.strip_prefix(root) {
                for _ in 0..skip {
                    match rest.find('/') {
                        Some(j) => rest = &rest[j + 1..],
                        None => break,
                    }
                }
                rel = rest;
                break;
            }
        }
    }
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|c| !c.is_empty() && *c != "." && !is_build_hash(c))
        .collect();
    let keep = parts.len().saturating_sub(KEPT_COMPONENTS);
    let joined = parts[keep..].join("/");
    // Bundlers append `?v=abc123` or `#hash` to served files.
    match joined.find(['?', '#']) {
        Some(i) => joined[..i].to_string(),
        None => joined,
    }
}

/// A directory that only a build or a deploy could have named: a long run of
/// letters and digits mixed (`xyz123abc`, a content hash, a version with a
/// hash suffix).
fn is_build_hash(component: &str) -> bool {
    let b = component.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let alnum = b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_');
    alnum && digits >= 2 && b.len() >= 6 && !component.contains('.')
}

/// The function name without the numbering compilers give anonymous code:
/// Java `lambda$main$0` and `Foo$1`, `$$Lambda$123/0x0000000800c0b000`, Go
/// `main.func2`, V8's `(index 3)`, addresses and Rust hash suffixes.
pub fn normalize_function(name: &str) -> String {
    let name = name.trim();
    // Each substring search below is tried only when the name holds a byte
    // of its needle: `str::find` builds a searcher on every call, and this
    // runs on every frame of every error (0.6 % of ingest's instructions).
    let has = |b: u8| name.as_bytes().contains(&b);
    // `Foo$$Lambda$123/0x...` -> `Foo$$Lambda`
    let name = match has(b'$').then(|| name.find("$$Lambda")).flatten() {
        Some(i) => &name[..i + "$$Lambda".len()],
        None => name,
    };
    // Rust legacy mangling: `foo::bar::h0123456789abcdef`.
    let name = match has(b':').then(|| name.rfind("::h")).flatten() {
        Some(i) if name.len() - i == 19 && name[i + 3..].bytes().all(|c| c.is_ascii_hexdigit()) => {
            &name[..i]
        }
        _ => name,
    };
    // V8: `Promise.all (index 0)`.
    let name = match has(b'(').then(|| name.find(" (index ")).flatten() {
        Some(i) => &name[..i],
        None => name,
    };
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '0' && chars.peek() == Some(&'x') {
            // A hex address.
            chars.next();
            while chars.next_if(char::is_ascii_hexdigit).is_some() {}
            continue;
        }
        if c.is_ascii_digit() {
            // Numbers that follow `$`, `.func`, `lambda` or start a segment
            // are compiler numbering; digits inside a name (`utf8`) are kept.
            let numbering = match out.chars().next_back() {
                None | Some('$' | '.' | '/' | '_' | '-' | '#' | '@') => true,
                Some(_) => {
                    out.ends_with("func") || out.ends_with("lambda") || out.ends_with("closure")
                }
            };
            if numbering {
                while chars.next_if(char::is_ascii_digit).is_some() {}
                continue;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A remembered key is the key of that frame: frames that share a file
    /// or a function, met in any order and again, keep keys of their own.
    #[test]
    fn remembered_frame_keys_are_each_frames_own() {
        let frame = |file: &str, function: &str| Frame {
            function: function.into(),
            file: file.into(),
            line: Some(1),
            in_app: true,
        };
        let frames = [
            frame("/var/task/app.py", "handler"),
            frame("/var/task/app.py", "load"),
            frame("/var/task/db.py", "handler"),
            frame("/app/node_modules/pg/lib/client.js", "Client.query"),
        ];
        for _ in 0..2 {
            for f in frames.iter().chain(frames.iter().rev()) {
                assert_eq!(frame_key(f), normalized_key(f), "{f:?}");
            }
        }
        let keys: std::collections::HashSet<String> = frames.iter().map(frame_key).collect();
        assert_eq!(keys.len(), frames.len());
    }

    #[test]
    fn deploy_roots_are_stripped() {
        let cases = [
            ("/var/task/app/handler.py", "app/handler.py"),
            ("file:///var/task/index.js", "index.js"),
            ("/tmp/xyz123/app/handler.py", "app/handler.py"),
            ("/home/build/abc/app/handler.py", "app/handler.py"),
            ("/opt/python/lib/util.py", "lib/util.py"),
            (
                "/var/lang/lib/python3.12/site-packages/boto3/session.py",
                "boto3/session.py",
            ),
            (
                "/var/task/node_modules/.pnpm/lodash@4.17.21_x/node_modules/lodash/get.js",
                "lodash/get.js",
            ),
            ("C:\\build\\src\\app\\main.rs", "src/app/main.rs"),
            ("/var/task/a/b/c/d/e.py", "c/d/e.py"),
            ("/srv/build-8f3a9c21/app.py", "app.py"),
            ("Handler.java", "Handler.java"),
            ("webpack:///./src/index.ts?abc", "src/index.ts"),
            ("", ""),
        ];
        for (path, want) in cases {
            assert_eq!(normalize_path(path), want, "{path:?}");
        }
    }

    #[test]
    fn compiler_numbering_is_stripped() {
        let cases = [
            (
                "com.acme.Handler$$Lambda$123/0x0000000800c0b000.apply",
                "com.acme.Handler$$Lambda",
            ),
            (
                "com.acme.Handler.lambda$handleRequest$0",
                "com.acme.Handler.lambda$handleRequest$",
            ),
            ("com.acme.Handler$1.run", "com.acme.Handler$.run"),
            ("main.main.func2", "main.main.func"),
            ("async Promise.all (index 3)", "async Promise.all"),
            ("foo::bar::h0123456789abcdef", "foo::bar"),
            ("<lambda>", "<lambda>"),
            ("utf8_decode", "utf8_decode"),
            ("Öffnen$2", "Öffnen$"),
        ];
        for (name, want) in cases {
            assert_eq!(normalize_function(name), want, "{name:?}");
        }
    }

    #[test]
    fn the_throw_site_is_the_innermost_app_frame() {
        let f = |file: &str, function: &str, in_app| Frame {
            function: function.into(),
            file: file.into(),
            line: Some(1),
            in_app,
        };
        let stack = [
            f("/var/task/handler.py", "lambda_handler", true),
            f("/var/task/orders.py", "load", true),
            f(
                "/var/lang/lib/python3.12/json/decoder.py",
                "raw_decode",
                false,
            ),
        ];
        assert_eq!(throw_site(&stack), ["orders.py load"]);
        let callback = [
            f(
                "/var/task/utils.js",
                "module.exports.extractDurationFromJSON",
                true,
            ),
            f("/var/task/utils.js", "", true),
            f("<anonymous>", "JSON.parse", false),
        ];
        assert_eq!(
            throw_site(&callback),
            [
                "utils.js module.exports.extractDurationFromJSON",
                "utils.js "
            ]
        );
        assert!(throw_site(&stack[2..]).is_empty());
    }

    #[test]
    fn in_app_frames_are_preferred_and_capped() {
        let f = |file: &str, in_app| Frame {
            function: "f".into(),
            file: file.into(),
            line: Some(1),
            in_app,
        };
        let frames: Vec<Frame> = (0..10)
            .map(|i| f(&format!("/var/task/m{i}.py"), i % 2 == 0))
            .collect();
        let (keys, source) = key_frames(&frames);
        assert_eq!(source, FrameSource::InApp);
        assert_eq!(keys.len(), 5);
        assert_eq!(keys.last().map(String::as_str), Some("m8.py f"));
        let libs: Vec<Frame> = (0..5).map(|i| f(&format!("/lib/l{i}.py"), false)).collect();
        let (keys, source) = key_frames(&libs);
        assert_eq!(source, FrameSource::Innermost);
        assert_eq!(keys, ["lib/l2.py f", "lib/l3.py f", "lib/l4.py f"]);
        assert_eq!(key_frames(&[]).1, FrameSource::None);
    }
}
