//! How times, counts and plurals read on a page.

use crate::text::rfc3339;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// A point in time as a page shows it: `text` to read, `iso` for the
/// `datetime` attribute (the exact instant, to the millisecond).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Time {
    pub iso: String,
    pub text: String,
}

impl Time {
    pub fn at(ms: i64) -> Time {
        Time {
            iso: rfc3339(ms),
            text: minute(ms),
        }
    }
}

/// `2025-11-23 14:05 UTC`: minutes are enough to read; the exact time stays
/// in [`Time::iso`].
pub fn minute(ms: i64) -> String {
    let full = rfc3339(ms);
    match full.split_once('T') {
        Some((date, time)) => format!("{date} {} UTC", time.get(..5).unwrap_or(time)),
        None => full,
    }
}

/// `Nov 23`, the day a chart's tick stands for.
pub fn day(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let full = rfc3339(ms);
    let mut parts = full.split(['-', 'T']);
    let _year = parts.next();
    let month = parts.next().and_then(|m| m.parse::<usize>().ok());
    let day = parts.next().and_then(|d| d.parse::<u32>().ok());
    match (month.and_then(|m| MONTHS.get(m.wrapping_sub(1))), day) {
        (Some(month), Some(day)) => format!("{month} {day}"),
        _ => full,
    }
}

/// `14:00`, the hour a chart's tick stands for.
pub fn hour(ms: i64) -> String {
    let full = rfc3339(ms);
    full.split_once('T')
        .and_then(|(_, time)| time.get(..5))
        .unwrap_or(&full)
        .to_string()
}

/// How long before `now` a time was, as people say it: `just now`,
/// `25 min ago`, `3 h ago`, `4 d ago`.
pub fn ago(ms: i64, now: i64) -> String {
    let elapsed = now.saturating_sub(ms);
    if elapsed < 60_000 {
        "just now".to_string()
    } else if elapsed < HOUR {
        format!("{} min ago", elapsed / 60_000)
    } else if elapsed < 2 * DAY {
        format!("{} h ago", elapsed / HOUR)
    } else {
        format!("{} d ago", elapsed / DAY)
    }
}

/// `12,345`: digits grouped so counts of different sizes compare at a glance.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 occurrence`, `2 occurrences`: the count with the noun it needs.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// The share `part` is of `whole`, as a whole percentage people can compare:
/// `<1%` rather than a misleading `0%` for a rare value.
pub fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".to_string();
    }
    let percent = (part as u128 * 100) / whole as u128;
    if percent == 0 && part > 0 {
        "<1%".to_string()
    } else {
        format!("{}%", percent.min(100))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_to_the_minute_in_utc() {
        assert_eq!(minute(1_700_000_000_123), "2023-11-14 22:13 UTC");
        assert_eq!(Time::at(1_700_000_000_123).iso, "2023-11-14T22:13:20.123Z");
        assert_eq!(day(1_700_000_000_123), "Nov 14");
        assert_eq!(hour(1_700_000_000_123), "22:13");
    }

    #[test]
    fn elapsed_time_reads_as_people_say_it() {
        let now = 1_700_000_000_000;
        assert_eq!(ago(now - 5_000, now), "just now");
        assert_eq!(ago(now - 25 * 60_000, now), "25 min ago");
        assert_eq!(ago(now - 3 * HOUR, now), "3 h ago");
        assert_eq!(ago(now - 4 * DAY, now), "4 d ago");
        assert_eq!(ago(now + HOUR, now), "just now");
    }

    #[test]
    fn counts_are_grouped_and_nouns_agree() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(plural(1, "occurrence", "occurrences"), "1 occurrence");
        assert_eq!(plural(0, "occurrence", "occurrences"), "0 occurrences");
        assert_eq!(plural(2_000, "issue", "issues"), "2,000 issues");
    }

    #[test]
    fn shares_are_whole_percentages_and_rare_values_show() {
        assert_eq!(share(1, 4), "25%");
        assert_eq!(share(1, 1000), "<1%");
        assert_eq!(share(5, 5), "100%");
        assert_eq!(share(0, 0), "0%");
    }
}
