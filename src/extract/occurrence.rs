//! Building an [`Occurrence`]: the bounded context fields and the one
//! constructor every format reader ends with, so caps and trimming are
//! applied in one place.

use crate::limits::{
    MAX_FIELD_NAME_LEN, MAX_FIELD_READ_LEN, MAX_FIELDS, MAX_KIND_LEN, MAX_MESSAGE_LEN, cut,
};
use crate::model::{Frame, Level, Occurrence};

/// A message ready to store: trimmed and capped.
pub(crate) fn message_string(s: &str) -> String {
    cut(s.trim(), MAX_MESSAGE_LEN).to_string()
}

/// Context fields, capped in count and size as they are added.
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn is_full(&self) -> bool {
        self.0.len() >= MAX_FIELDS
    }

    pub(crate) fn push(&mut self, key: &str, value: &str) {
        if self.is_full() || value.is_empty() {
            return;
        }
        self.0.push((
            cut(key, MAX_FIELD_NAME_LEN).to_string(),
            cut(value, MAX_FIELD_READ_LEN).to_string(),
        ));
    }

    pub(crate) fn into_vec(self) -> Vec<(String, String)> {
        self.0
    }
}

/// An occurrence from its parts; kind, message and frames come from
/// whichever source the shape has, the rest is bookkeeping.
pub(crate) fn occurrence(
    kind: &str,
    message: &str,
    frames: Vec<Frame>,
    level: Level,
    shape: &'static str,
    fields: Fields,
) -> Occurrence {
    Occurrence {
        kind: cut(kind.trim(), MAX_KIND_LEN).to_string(),
        message: message_string(message),
        frames,
        level,
        shape,
        fingerprint: None,
        fields: fields.into_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_capped_in_number_and_length() {
        let mut f = Fields::default();
        let long = "x".repeat(5000);
        for i in 0..100 {
            f.push(&format!("k{i}"), &long);
        }
        let v = f.into_vec();
        assert_eq!(v.len(), MAX_FIELDS);
        assert!(v.iter().all(|(_, val)| val.len() == MAX_FIELD_READ_LEN));
    }
}
