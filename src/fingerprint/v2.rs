//! The previous algorithm, v2, kept computable so that a store holding v2
//! issues can land a v3 occurrence in the issue it had before (see
//! [`crate::model::IssueDelta::previous`]).
//!
//! v2 keyed an issue by the log group, the type as written, the masked
//! message ([`super::message_template`]) and up to six innermost in-app
//! frames (three innermost library frames when none was in-app,
//! [`super::frames::key_frames`]); a producer's fingerprint replaced all but
//! the log group. It shares the masking scanner and the frame normalisation
//! with v3, so:
//!
//! - a v2 key computed now equals the stored one when the line is extracted
//!   as it was then. Lines that faultline did not detect under v2 (runtime
//!   failures without a level, platform status lines) have no stored v2
//!   issue anyway; lines whose frames are now classified differently (Go
//!   module-cache and standard-library frames, `/lib64/python` paths) or
//!   whose type is now read from a summary line get a different v2 key and
//!   do not find their v2 issue;
//! - the masking scanner was made linear in the input (it was quadratic on
//!   long runs of quotes and on tokens without spaces). Its templates were
//!   compared with the quadratic scanner's on 600,000 random messages and
//!   all of Loghub-2k without a difference (see `mask`); should a
//!   pathological message (kilobytes of one token) template differently,
//!   its v2 key is not the stored one and its v2 issue is not found.

use xxhash_rust::xxh3::xxh3_128;

use super::frames::key_frames;
use super::{Key, message_template, push_decimal};
use crate::model::Occurrence;

pub const ALGORITHM: &str = "v2";
const DOMAIN_COMPUTED: &str = "faultline/v2/computed";
const DOMAIN_PRODUCER: &str = "faultline/v2/producer";

/// The v2 key of an occurrence in a log group.
pub fn fingerprint(log_group: &str, occurrence: &Occurrence) -> String {
    key(log_group, occurrence).to_string()
}

fn key(log_group: &str, occurrence: &Occurrence) -> Key {
    if let Some(given) = &occurrence.fingerprint {
        let buf = format!(
            "{DOMAIN_PRODUCER}\n{}:{log_group}\n{given}",
            log_group.len()
        );
        return Key {
            algorithm: ALGORITHM,
            hash: xxh3_128(buf.as_bytes()),
        };
    }
    let template = message_template(&occurrence.kind, &occurrence.message);
    let (frames, _) = key_frames(&occurrence.frames);
    let mut out = String::with_capacity(64 + log_group.len() + template.len());
    out.push_str(DOMAIN_COMPUTED);
    out.push('\n');
    for part in [log_group, occurrence.kind.as_str()] {
        push_decimal(&mut out, part.len());
        out.push(':');
        out.push_str(part);
        out.push('\n');
    }
    push_decimal(&mut out, frames.len());
    out.push('\n');
    for f in &frames {
        push_decimal(&mut out, f.len());
        out.push(':');
        out.push_str(f);
        out.push('\n');
    }
    out.push_str(&template);
    Key {
        algorithm: ALGORITHM,
        hash: xxh3_128(out.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Frame, Level};

    /// Keys stored by v2 stores: computed now, they must not have moved.
    /// (The same occurrences as the v2 `keys_are_pinned` test pinned.)
    #[test]
    fn v2_keys_are_the_ones_v2_stored() {
        let o = Occurrence {
            kind: "KeyError".into(),
            message: "'action'".into(),
            frames: vec![Frame {
                function: "lambda_handler".into(),
                file: "/var/task/app/handler.py".into(),
                line: Some(12),
                in_app: true,
            }],
            level: Level::Error,
            shape: "test",
            fingerprint: None,
            fields: Vec::new(),
        };
        assert_eq!(
            fingerprint("/aws/lambda/orders", &o),
            "v2:06cfe970b953be1099d736e00d454d9f"
        );
        let line = Occurrence {
            kind: String::new(),
            message: "Order 12345 not found".into(),
            frames: Vec::new(),
            ..o
        };
        assert_eq!(
            fingerprint("/aws/lambda/orders", &line),
            "v2:64baeac7b9e2b46fa5514f9096dbf6a5"
        );
    }
}
