//! Property tests: a fingerprint does not move when a message's variable
//! values do, whatever the values.
//!
//! Each case is a message shape with holes; proptest fills the holes twice
//! with independent random values of the hole's kind and checks both
//! messages get one fingerprint. A failure shrinks to the smallest pair of
//! values that split an issue.

use proptest::prelude::*;

use faultline::fingerprint::fingerprint;
use faultline::model::{Level, Occurrence};

fn occurrence(kind: &str, message: String) -> Occurrence {
    Occurrence {
        kind: kind.to_string(),
        message,
        frames: Vec::new(),
        level: Level::Error,
        shape: "property",
        fingerprint: None,
        fields: Vec::new(),
    }
}

fn number() -> impl Strategy<Value = String> {
    (0u64..10_000_000_000).prop_map(|n| n.to_string())
}

fn hex() -> impl Strategy<Value = String> {
    "[0-9a-f]{8,40}"
}

fn uuid() -> impl Strategy<Value = String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
}

fn ipv4() -> impl Strategy<Value = String> {
    (any::<[u8; 4]>(), proptest::option::of(1u16..65535)).prop_map(|(o, port)| {
        let ip = format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3]);
        match port {
            Some(p) => format!("{ip}:{p}"),
            None => ip,
        }
    })
}

fn email() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9.]{0,12}@[a-z]{2,10}\\.(com|org|io)"
}

fn arn() -> impl Strategy<Value = String> {
    (
        "[a-z]{2}-[a-z]{4,7}-[1-3]",
        "[0-9]{12}",
        "[a-zA-Z0-9_-]{1,30}",
    )
        .prop_map(|(region, account, name)| {
            format!("arn:aws:lambda:{region}:{account}:function:{name}")
        })
}

fn timestamp() -> impl Strategy<Value = String> {
    (
        2000u32..2100,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        0u32..60,
        0u32..1000,
    )
        .prop_map(|(y, mo, d, h, mi, s, ms)| {
            format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
        })
}

fn duration() -> impl Strategy<Value = String> {
    (
        0u32..100_000,
        prop_oneof![Just("ms"), Just("s"), Just(" seconds"), Just(" ms")],
    )
        .prop_map(|(n, unit)| format!("{}.{:02}{unit}", n / 100, n % 100))
}

fn path() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-z0-9_]{1,10}", 1..5)
        .prop_map(|parts| format!("/tmp/{}.json", parts.join("/")))
}

fn url() -> impl Strategy<Value = String> {
    (
        "[a-z]{3,10}",
        proptest::collection::vec("[a-z0-9]{1,8}", 0..4),
    )
        .prop_map(|(host, parts)| format!("https://{host}.example.com/{}", parts.join("/")))
}

/// Quoted single words are values; empty quotes (nothing was given) and
/// quoted phrases (usually constant text) are deliberately kept.
fn quoted() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.-]{1,20}"
}

macro_rules! stable {
    ($name:ident, $kind:expr, $shape:expr, $values:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn $name(a in $values, b in $values) {
                let first = occurrence($kind, format!($shape, a));
                let second = occurrence($kind, format!($shape, b));
                prop_assert_eq!(
                    fingerprint("/aws/lambda/p", &first),
                    fingerprint("/aws/lambda/p", &second),
                    "{:?} and {:?} split", first.message, second.message
                );
            }
        }
    };
}

stable!(numbers, "ValueError", "bad row {} in batch", number());
stable!(hex_ids, "Error", "object {} not found", hex());
stable!(uuids, "Error", "request {} failed", uuid());
stable!(ips, "ConnectionError", "connect to {} refused", ipv4());
stable!(emails, "Error", "cannot notify {}: mailbox full", email());
stable!(
    arns,
    "AccessDeniedException",
    "not authorized to invoke {}",
    arn()
);
stable!(timestamps, "Error", "token expired at {}", timestamp());
stable!(durations, "TimeoutError", "no answer after {}", duration());
stable!(
    paths,
    "FileNotFoundError",
    "No such file or directory: {}",
    path()
);
stable!(urls, "HTTPError", "GET {} returned an error", url());
stable!(
    double_quoted_values,
    "ValidationError",
    "field value \"{}\" is invalid",
    quoted()
);
stable!(
    single_quoted_values,
    "ValidationError",
    "field value '{}' is invalid",
    quoted()
);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Different constant words mean different bugs, whatever the values.
    #[test]
    fn different_constant_words_stay_apart(n in number()) {
        let refused = occurrence("Error", format!("connection refused by node {n}"));
        let reset = occurrence("Error", format!("connection reset by node {n}"));
        prop_assert_ne!(fingerprint("/g", &refused), fingerprint("/g", &reset));
    }
}
