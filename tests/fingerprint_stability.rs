//! The same bug keeps its fingerprint across deploys and across the values
//! its message carries; different bug sites do not share one.

use faultline::fingerprint::{ALGORITHM, explain, fingerprint, line_key, template};
use faultline::model::{Frame, Level, Occurrence};

fn occ(kind: &str, message: &str, frames: Vec<Frame>) -> Occurrence {
    Occurrence {
        kind: kind.to_string(),
        message: message.to_string(),
        frames,
        level: Level::Error,
        shape: "test",
        fingerprint: None,
        fields: Vec::new(),
    }
}

fn frame(file: &str, function: &str, line: u32, in_app: bool) -> Frame {
    Frame {
        function: function.to_string(),
        file: file.to_string(),
        line: Some(line),
        in_app,
    }
}

fn fp(message: &str) -> String {
    fingerprint("/aws/lambda/orders", &occ("Exception", message, Vec::new()))
}

/// (what varies, messages that must share one fingerprint)
const SAME_BUG: &[(&str, &[&str])] = &[
    (
        "ids",
        &[
            "Order 12345 not found",
            "Order 9 not found",
            "Order A-77 not found",
        ],
    ),
    (
        "numbers",
        &[
            "retry 3 of 5 failed",
            "retry 10 of 12 failed",
            "retry -1 of 0.5 failed",
        ],
    ),
    (
        "hex",
        &[
            "bad checksum 0xdeadbeef",
            "bad checksum 0x1F",
            "bad checksum deadbeefcafe",
            "bad checksum 7f3a9c2e1b40",
        ],
    ),
    (
        "uuids",
        &[
            "job 0f8fad5b-d9cb-469f-a165-70867728950e failed",
            "job 7C9E6679-7425-40DE-944B-E07FC1F90AE7 failed",
        ],
    ),
    (
        "arns",
        &[
            "AccessDenied on arn:aws:s3:::my-bucket/key.txt for this call",
            "AccessDenied on arn:aws:lambda:us-east-1:123456789012:function:foo for this call",
            "AccessDenied on arn:aws:iam::123456789012:role/service-role/x for this call",
        ],
    ),
    (
        "ipv4",
        &[
            "connect to 10.0.0.1 failed",
            "connect to 192.168.100.200 failed",
        ],
    ),
    (
        "ip with port",
        &[
            "connect to 10.0.0.1:8080 failed",
            "connect to 172.16.0.5:443 failed",
        ],
    ),
    (
        "ipv6",
        &[
            "connect to [2001:db8::1]:8080 failed",
            "connect to [fe80::abcd]:443 failed",
            "connect to [::1]:5432 failed",
        ],
    ),
    (
        "ipv6 bare",
        &[
            "peer ::1 went away",
            "peer 2001:db8:0:0:8:800:200c:417a went away",
            "peer fe80::abcd went away",
        ],
    ),
    (
        "emails",
        &[
            "cannot notify alice@example.com: bounced",
            "cannot notify bob.smith+x@corp.example.org: bounced",
        ],
    ),
    (
        "paths",
        &[
            "cannot open /var/data/in/file1.csv for reading",
            "cannot open /tmp/other.txt for reading",
            "cannot open ./relative/dir/x for reading",
            "cannot open C:\\Users\\a\\file.txt for reading",
        ],
    ),
    (
        "urls",
        &[
            "GET https://api.example.com/v1/users/42?x=1 returned an error",
            "GET http://localhost/health returned an error",
        ],
    ),
    (
        "single quotes",
        &["user 'alice' is locked", "user 'bob_smith' is locked"],
    ),
    (
        "double quotes",
        &["file \"in/x.csv\" is empty", "file \"report\" is empty"],
    ),
    (
        "timestamps",
        &[
            "token expired at 2024-01-31T22:12:58.123Z, refresh it",
            "token expired at 2023-12-01T01:02:03+02:00, refresh it",
            "token expired at 2024/01/31 22:12:58, refresh it",
            "token expired at 1706739178, refresh it",
            "token expired at Jan 31 22:12:58, refresh it",
            "token expired at Mon Jan  1 01:02:03 2024, refresh it",
            "token expired at 2015-10-18 18:01:47,978, refresh it",
        ],
    ),
    (
        "durations",
        &[
            "Task timed out after 5.01 seconds",
            "Task timed out after 1 second",
            "Task timed out after 300ms",
            "Task timed out after 1m30s",
            "Task timed out after 900 s",
        ],
    ),
    (
        "sizes",
        &[
            "payload of 6291456 bytes exceeds the limit",
            "payload of 12 MB exceeds the limit",
            "payload of 6.5MiB exceeds the limit",
            "payload of 1024 bytes (1.0 KB) exceeds the limit",
        ],
    ),
    (
        "request ids",
        &[
            "RequestId: 8f5e2b1a-1c2d-4e5f-8a9b-0c1d2e3f4a5b Error: Runtime exited",
            "RequestId: c0ffee00-0000-4000-8000-000000000001 Error: Runtime exited",
        ],
    ),
    (
        "s3 keys",
        &[
            "NoSuchKey: s3://bucket/incoming/2024/01/31/part-0001.parquet",
            "NoSuchKey: s3://other-bucket/x.json",
        ],
    ),
    (
        "bare s3 keys",
        &[
            "missing key reports/daily.csv in bucket",
            "missing key incoming/2024-01-31/data.json in bucket",
        ],
    ),
    (
        "key=value",
        &[
            "throttled tenant=acme region=us-east-1 attempt=3",
            "throttled tenant=globex region=eu-west-1 attempt=10",
        ],
    ),
    ("booleans", &["flag dryRun is true", "flag dryRun is false"]),
    (
        "hosts",
        &[
            "lookup db.prod.example.com failed",
            "lookup cache-2.internal failed",
        ],
    ),
    (
        "whitespace",
        &["disk  full on   volume 3\n", "disk full on volume 4"],
    ),
];

#[test]
fn variable_values_do_not_split_an_issue() {
    for (what, messages) in SAME_BUG {
        let first = fp(messages[0]);
        for m in &messages[1..] {
            assert_eq!(
                fp(m),
                first,
                "{what}: {:?} -> {:?} vs {:?} -> {:?}",
                messages[0],
                template(messages[0]),
                m,
                template(m)
            );
        }
    }
}

/// Pairs of messages from different bugs: the words that differ are the
/// words that say what went wrong.
const DIFFERENT_BUGS: &[(&str, &str)] = &[
    ("Connection refused", "Connection reset"),
    ("Connection refused", "Connection refused by peer"),
    ("Failed to parse input", "Failed to parse output"),
    (
        "cannot open /tmp/x.txt for reading",
        "cannot open /tmp/x.txt for writing",
    ),
    ("user 'alice' is locked", "user 'alice' is unknown"),
    (
        "Task timed out after 5.01 seconds",
        "Task failed after 5.01 seconds",
    ),
    ("HTTP/1.1 read/write failed", "HTTP/1.1 read failed"),
    ("status: Inactive", "status: Active"),
    ("'' is empty", "'x' is empty"),
];

#[test]
fn different_words_make_different_issues() {
    for (a, b) in DIFFERENT_BUGS {
        assert_ne!(fp(a), fp(b), "{a:?} and {b:?} both gave {:?}", template(a));
    }
}

#[test]
fn kind_and_log_group_separate_issues() {
    let a = occ("ValueError", "bad input", Vec::new());
    let b = occ("TypeError", "bad input", Vec::new());
    assert_ne!(fingerprint("g", &a), fingerprint("g", &b));
    assert_ne!(fingerprint("g1", &a), fingerprint("g2", &a));
}

/// KeyError's message is the missing key, a literal of the code: see
/// `message_template`. Keys built from data still group.
#[test]
fn key_error_keys_name_the_bug() {
    let k = |m: &str| fingerprint("g", &occ("KeyError", m, Vec::new()));
    assert_ne!(k("'action'"), k("'user'"));
    assert_eq!(k("'user_1234'"), k("'user_99'"));
    assert_eq!(k("'action'"), k("'action'"));
    // Other kinds mask quoted words as usual.
    let v = |m: &str| fingerprint("g", &occ("ValueError", m, Vec::new()));
    assert_eq!(v("unknown 'action'"), v("unknown 'user'"));
}

fn handler_stack(root: &str, line: u32) -> Vec<Frame> {
    vec![
        frame(
            "/var/runtime/bootstrap.py",
            "handle_event_request",
            60 + line,
            false,
        ),
        frame(
            &format!("{root}app/handler.py"),
            "lambda_handler",
            10 + line,
            true,
        ),
        frame(
            &format!("{root}app/orders.py"),
            "load_order",
            20 + line,
            true,
        ),
        frame(
            "/var/lang/lib/python3.12/json/decoder.py",
            "raw_decode",
            355,
            false,
        ),
    ]
}

#[test]
fn deploys_and_line_numbers_do_not_split_an_issue() {
    let base = fingerprint(
        "g",
        &occ(
            "JSONDecodeError",
            "Expecting value",
            handler_stack("/var/task/", 0),
        ),
    );
    for (root, line) in [
        ("/var/task/", 7),
        ("/tmp/xyz123/", 0),
        ("/home/build/abc/", 3),
        ("file:///var/task/", 1),
        ("/opt/python/", 2),
    ] {
        let other = occ(
            "JSONDecodeError",
            "Expecting value",
            handler_stack(root, line),
        );
        assert_eq!(
            fingerprint("g", &other),
            base,
            "{root} line +{line}: {:#?}",
            explain("g", &other)
        );
    }
}

#[test]
fn frames_separate_sites_with_the_same_message() {
    let a = occ(
        "ValueError",
        "invalid literal",
        vec![frame("/var/task/a.py", "parse_a", 1, true)],
    );
    let b = occ(
        "ValueError",
        "invalid literal",
        vec![frame("/var/task/b.py", "parse_b", 1, true)],
    );
    assert_ne!(fingerprint("g", &a), fingerprint("g", &b));
}

#[test]
fn library_frames_and_outer_callers_do_not_split_an_issue() {
    let mut inner: Vec<Frame> = (0..8)
        .map(|i| frame(&format!("/var/task/m{i}.py"), &format!("f{i}x"), i, true))
        .collect();
    let a = occ("E", "boom", inner.clone());
    // A different outermost caller beyond the cap, and other library frames.
    inner[0] = frame("/var/task/other_entry.py", "main", 1, true);
    inner.insert(
        3,
        frame("/usr/lib/python3.12/threading.py", "run", 1, false),
    );
    let b = occ("E", "boom", inner);
    assert_eq!(fingerprint("g", &a), fingerprint("g", &b));
}

#[test]
fn recursion_depth_does_not_split_an_issue() {
    let stack = |depth: usize| {
        let mut f = vec![frame("/var/task/main.py", "main", 1, true)];
        f.extend((0..depth).map(|d| frame("/var/task/tree.py", "walk", 10 + d as u32, true)));
        f
    };
    let shallow = occ(
        "RecursionError",
        "maximum recursion depth exceeded",
        stack(2),
    );
    let deep = occ(
        "RecursionError",
        "maximum recursion depth exceeded",
        stack(900),
    );
    assert_eq!(fingerprint("g", &shallow), fingerprint("g", &deep));
}

#[test]
fn synthetic_names_and_bundle_paths_are_normalised() {
    let java = |n: &str, lambda: &str| {
        occ(
            "java.lang.NullPointerException",
            "",
            vec![
                frame(
                    "Handler.java",
                    &format!("com.acme.Handler$$Lambda${n}/0x0000000800c0b{n}.apply"),
                    1,
                    true,
                ),
                frame(
                    "Handler.java",
                    &format!("com.acme.Handler.lambda$handleRequest${lambda}"),
                    2,
                    true,
                ),
                frame(
                    "Handler.java",
                    &format!("com.acme.Handler${lambda}.run"),
                    3,
                    true,
                ),
            ],
        )
    };
    assert_eq!(
        fingerprint("g", &java("123", "0")),
        fingerprint("g", &java("456", "3"))
    );
    let node = |path: &str| {
        occ(
            "TypeError",
            "Cannot read properties of undefined (reading 'id')",
            vec![
                frame(path, "Object.<anonymous>", 1, false),
                frame("/var/task/index.js", "async Promise.all (index 0)", 5, true),
            ],
        )
    };
    assert_eq!(
        fingerprint(
            "g",
            &node("/var/task/node_modules/.pnpm/lodash@4.17.21_abc123/node_modules/lodash/get.js")
        ),
        fingerprint("g", &node("/app/node_modules/lodash/get.js")),
    );
}

/// Without a frame of the app's code the library frames do not decide:
/// they move with the library's and the runtime's versions (the same
/// `Cannot find module` from three runtime builds), so the type and the
/// message do.
#[test]
fn library_frames_do_not_split_when_none_is_in_app() {
    let site = |f: &str, line: u32| occ("Error", "boom", vec![frame(f, "fail", line, false)]);
    assert_eq!(
        fingerprint("g", &site("/var/runtime/a.js", 1)),
        fingerprint("g", &site("/var/runtime/b.js", 7))
    );
    assert_ne!(
        fingerprint("g", &site("/var/runtime/a.js", 1)),
        fingerprint(
            "g",
            &occ(
                "Error",
                "bust",
                vec![frame("/var/runtime/a.js", "fail", 1, false)]
            )
        )
    );
}

/// The throw-site rule: the same bug with messages that carry data words
/// (per-environment resource names, the bad input a parser saw, the text of
/// the logging call) is one issue when its stack has the app's frames.
#[test]
fn data_in_the_message_does_not_split_a_throw_site() {
    let stack = handler_stack("/var/task/", 0);
    let messages = [
        "Table customers-prod not found",
        "Table customers-staging not found",
        "Expecting value: line 1 column 1 (char 0)",
        "Unterminated string starting at: line 4 column 18 (char 90)",
    ];
    let keys: Vec<String> = messages
        .iter()
        .map(|m| fingerprint("g", &occ("ValueError", m, stack.clone())))
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
}

/// The same exception logged where it was caught and reported uncaught by
/// the runtime: the logged traceback starts at the catching frame, the
/// uncaught one at the runtime's bootstrap, and the logged form's kind is
/// fully qualified. One issue.
#[test]
fn logged_and_uncaught_forms_of_one_exception_are_one_issue() {
    let uncaught = occ(
        "ClientError",
        "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
        vec![
            frame(
                "/var/runtime/bootstrap.py",
                "handle_event_request",
                60,
                false,
            ),
            frame("/var/task/app/handler.py", "lambda_handler", 12, true),
            frame("/var/task/app/store.py", "load", 40, true),
            frame(
                "/var/runtime/botocore/client.py",
                "_make_api_call",
                705,
                false,
            ),
        ],
    );
    let logged = occ(
        "botocore.exceptions.ClientError",
        "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
        vec![
            frame("/var/task/app/store.py", "load", 40, true),
            frame(
                "/var/runtime/botocore/client.py",
                "_make_api_call",
                705,
                false,
            ),
        ],
    );
    assert_eq!(fingerprint("g", &uncaught), fingerprint("g", &logged));
    // The same call throttled is another problem.
    let mut throttled = logged.clone();
    throttled.message = "An error occurred (ThrottlingException) when calling the GetObject operation: Rate exceeded".into();
    assert_ne!(fingerprint("g", &logged), fingerprint("g", &throttled));
}

/// Go panics: the innermost app frame decides, so two nil dereferences in
/// two functions are two bugs (aws-nuke's resources in the real corpus).
#[test]
fn two_nil_dereferences_are_two_bugs() {
    let panic = |function: &str| {
        occ(
            "panic",
            "runtime error: invalid memory address or nil pointer dereference",
            vec![
                frame(
                    "/go/src/github.com/acme/nuke/cmd/scan.go",
                    "github.com/acme/nuke/cmd.Scan.func1",
                    22,
                    true,
                ),
                frame(
                    "/go/src/github.com/acme/nuke/resources/s3.go",
                    function,
                    28,
                    true,
                ),
            ],
        )
    };
    assert_ne!(
        fingerprint(
            "g",
            &panic("github.com/acme/nuke/resources.(*S3Nuke).DescribeBuckets")
        ),
        fingerprint(
            "g",
            &panic("github.com/acme/nuke/resources.(*RDSNuke).ListInstances")
        )
    );
}

#[test]
fn producer_fingerprint_wins_within_its_log_group() {
    let mut a = occ("ValueError", "one thing", Vec::new());
    let mut b = occ(
        "TypeError",
        "another thing",
        vec![frame("/var/task/x.py", "f", 1, true)],
    );
    a.fingerprint = Some("checkout-timeout".into());
    b.fingerprint = Some("checkout-timeout".into());
    assert_eq!(fingerprint("g", &a), fingerprint("g", &b));
    assert_ne!(fingerprint("g", &a), fingerprint("h", &a));
    // A producer key never equals a computed key.
    let plain = occ("", "checkout-timeout", Vec::new());
    assert_ne!(fingerprint("g", &a), fingerprint("g", &plain));
}

#[test]
fn every_line_fast_path_agrees_with_fingerprint() {
    let mut scratch = String::new();
    for (_, messages) in SAME_BUG {
        for m in *messages {
            let slow = fingerprint("grp", &occ("", m, Vec::new()));
            assert_eq!(line_key("grp", m, &mut scratch).to_string(), slow, "{m:?}");
        }
    }
}

/// Keys are stored: they must not change across platforms or releases
/// without a new ALGORITHM. If this fails, bump ALGORITHM.
#[test]
fn keys_are_pinned() {
    assert_eq!(ALGORITHM, "v3");
    let o = occ(
        "KeyError",
        "'action'",
        vec![frame(
            "/var/task/app/handler.py",
            "lambda_handler",
            12,
            true,
        )],
    );
    let key = fingerprint("/aws/lambda/orders", &o);
    assert!(key.starts_with("v3:") && key.len() == 3 + 32, "{key}");
    assert_eq!(key, PINNED_KEY);
    let line = line_key(
        "/aws/lambda/orders",
        "Order 12345 not found",
        &mut String::new(),
    )
    .to_string();
    assert_eq!(line, PINNED_LINE_KEY);
}

const PINNED_KEY: &str = "v3:503f3d11e53e2afd33e98c56dee6e6c7";
const PINNED_LINE_KEY: &str = "v3:9e220646edc1fe3b1282841fc6bc67dc";

#[test]
fn explain_snapshots() {
    let mut producer = occ("ValueError", "bad value 42", Vec::new());
    producer.fingerprint = Some("custom-group".into());
    let cases = [
        (
            "python_key_error",
            occ("KeyError", "'action'", handler_stack("/var/task/", 0)),
        ),
        (
            "message_only",
            occ(
                "",
                "Task timed out after 5.01 seconds at 2024-01-31T22:12:58Z for 10.0.0.1:8080",
                Vec::new(),
            ),
        ),
        (
            "library_only",
            occ(
                "Error",
                "connect ECONNREFUSED 127.0.0.1:5432",
                vec![
                    frame(
                        "node:net",
                        "TCPConnectWrap.afterConnect [as oncomplete]",
                        1595,
                        false,
                    ),
                    frame(
                        "/var/task/node_modules/pg/lib/client.js",
                        "Client._connect",
                        132,
                        false,
                    ),
                ],
            ),
        ),
        ("producer", producer),
    ];
    for (name, o) in cases {
        insta::assert_json_snapshot!(name, explain("/aws/lambda/orders", &o));
    }
}
