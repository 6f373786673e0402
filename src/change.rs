//! What a person asks of an issue's status, read from what they typed: the
//! CLI (`faultline issues resolve|ignore|reopen`) and `faultline serve`'s
//! buttons share it, so both accept and refuse the same input.

use crate::model::StatusChange;
use crate::text::{parse_time, rfc3339};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error(
        "cannot read the time {0:?}: use a duration (30m, 12h, 7d, 2w) or a UTC date (2025-12-01 or 2025-12-01T08:00:00Z)"
    )]
    Time(String),
    #[error("cannot read the count {0:?}: use a whole number of occurrences, such as 100")]
    Count(String),
    /// Read as the rest of a sentence that starts with the option's name
    /// (see [`ChangeError::describe`]).
    #[error("{text} is not in the future ({}): give a later time, or a duration such as 7d", rfc3339(*.at))]
    NotFuture { text: String, at: i64 },
    #[error("0 would end at once: give the number of occurrences to ignore, at least 1")]
    ZeroCount,
    #[error("needs the version with the fix, such as 1.4.2")]
    EmptyVersion,
}

impl ChangeError {
    /// The option an input that means nothing was given to (`until`, `for`,
    /// `in-version`); `None` for input that could not be read at all.
    pub fn option(&self) -> Option<&'static str> {
        match self {
            ChangeError::NotFuture { .. } => Some("until"),
            ChangeError::ZeroCount => Some("for"),
            ChangeError::EmptyVersion => Some("in-version"),
            ChangeError::Time(_) | ChangeError::Count(_) => None,
        }
    }

    /// The whole message, naming the option as the medium writes it
    /// (`--until ...` in a terminal, `until ...` on a page).
    pub fn describe(&self, option_prefix: &str) -> String {
        match self.option() {
            Some(option) => format!("{option_prefix}{option} {self}"),
            None => self.to_string(),
        }
    }
}

/// Resolved; with a version, only occurrences from it on regress the issue.
/// A version given blank is refused (an empty form box is not given).
pub fn resolve(in_version: Option<&str>) -> Result<StatusChange, ChangeError> {
    match in_version.map(str::trim) {
        Some("") => Err(ChangeError::EmptyVersion),
        version => Ok(StatusChange::Resolved {
            in_version: version.map(str::to_string),
        }),
    }
}

/// Ignored for good, until a time in the future (a duration from `now` or a
/// UTC date), or for a number (at least 1) of further occurrences.
pub fn ignore(
    until: Option<&str>,
    for_count: Option<u64>,
    now: i64,
) -> Result<StatusChange, ChangeError> {
    let until = match until {
        Some(text) => {
            let at = parse_time(text, now).ok_or_else(|| ChangeError::Time(text.into()))?;
            if at <= now {
                return Err(ChangeError::NotFuture {
                    text: text.into(),
                    at,
                });
            }
            Some(at)
        }
        None => None,
    };
    if for_count == Some(0) {
        return Err(ChangeError::ZeroCount);
    }
    Ok(StatusChange::Ignored { until, for_count })
}

/// A count typed into a form.
pub fn count(text: &str) -> Result<u64, ChangeError> {
    text.trim()
        .parse()
        .map_err(|_| ChangeError::Count(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn ignoring_reads_durations_dates_and_counts() {
        assert_eq!(
            ignore(Some("7d"), None, NOW),
            Ok(StatusChange::Ignored {
                until: Some(NOW + 7 * 86_400_000),
                for_count: None
            })
        );
        assert_eq!(
            ignore(None, Some(5), NOW),
            Ok(StatusChange::Ignored {
                until: None,
                for_count: Some(5)
            })
        );
        assert_eq!(
            ignore(Some("next week"), None, NOW),
            Err(ChangeError::Time("next week".into()))
        );
        assert_eq!(count(" 12 "), Ok(12));
        assert_eq!(count("-1"), Err(ChangeError::Count("-1".into())));
    }

    #[test]
    fn inputs_that_mean_nothing_are_refused_naming_their_option() {
        let past = ignore(Some("2020-01-01"), None, NOW).unwrap_err();
        assert_eq!(
            past.describe("--"),
            "--until 2020-01-01 is not in the future (2020-01-01T00:00:00.000Z): give a later time, or a duration such as 7d"
        );
        assert_eq!(
            ignore(Some("0d"), None, NOW).unwrap_err().option(),
            Some("until")
        );
        let zero = ignore(None, Some(0), NOW).unwrap_err();
        assert!(zero.describe("").starts_with("for 0 would end at once"));
        let blank = resolve(Some("  ")).unwrap_err();
        assert_eq!(
            blank.describe("--"),
            "--in-version needs the version with the fix, such as 1.4.2"
        );
        assert_eq!(
            resolve(Some("42")),
            Ok(StatusChange::Resolved {
                in_version: Some("42".into())
            })
        );
    }
}
