//! Small text helpers shared by the outputs.

/// `text` made safe for a terminal ([`crate::sanitize::terminal`]), so that
/// what a log line carried cannot drive it.
pub fn printable(text: &str) -> String {
    crate::sanitize::terminal(text)
}

/// Epoch milliseconds as an RFC 3339 UTC timestamp, `1970-01-01T00:00:00.000Z`.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm), to avoid a date crate for one conversion.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(printable("a\x1b[31mb\r\n"), "a\u{FFFD}[31mb  ");
    }
}

/// Reads a point in time a user typed, relative to `now` (epoch ms):
/// a duration from now (`30m`, `12h`, `7d`, `2w`), a date (`2025-12-01`, UTC
/// midnight) or an RFC 3339 UTC time (`2025-12-01T08:00:00Z`, with any
/// fraction of a second kept to the millisecond: `08:00:00.123Z`).
pub fn parse_time(text: &str, now: i64) -> Option<i64> {
    let text = text.trim();
    let last = text.char_indices().last().map_or(0, |(i, _)| i);
    let (amount, unit) = text.split_at(last);
    if !amount.is_empty() && amount.bytes().all(|b| b.is_ascii_digit()) {
        let amount: i64 = amount.parse().ok()?;
        let ms = match unit {
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return None,
        };
        return amount.checked_mul(ms).and_then(|d| now.checked_add(d));
    }
    let (date, time) = match text.split_once('T') {
        Some((d, t)) => (d, Some(t.trim_end_matches('Z'))),
        None => (text, None),
    };
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    if ymd.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut seconds = days_from_civil(y, m, d) * 86_400;
    let mut millis = 0;
    if let Some(time) = time {
        // Fractional seconds are kept to the millisecond: faultline writes
        // times that way, and reading one back must give the same instant.
        let (time, fraction) = time.split_once('.').unwrap_or((time, ""));
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        millis = format!("{fraction:0<3}").get(..3)?.parse::<i64>().ok()?;
        let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
        let h = hms.next().flatten()?;
        let min = hms.next().flatten().unwrap_or(0);
        let s = hms.next().flatten().unwrap_or(0);
        if h > 23 || min > 59 || s > 60 {
            return None;
        }
        seconds += h * 3600 + min * 60 + s;
    }
    Some(seconds * 1000 + millis)
}

/// Reads a point in the past a user typed: a duration back from `now`
/// (`30m`, `24h`, `7d`), or a date or time as [`parse_time`] reads them.
pub fn parse_ago(text: &str, now: i64) -> Option<i64> {
    let at = parse_time(text, now)?;
    let trimmed = text.trim();
    let is_duration =
        trimmed.ends_with(|c: char| c.is_ascii_alphabetic()) && !trimmed.contains(['-', ':', 'T']);
    Some(if is_duration { now - (at - now) } else { at })
}

/// The inverse of `civil_from_days`.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Counts as a line of block characters, scaled to the largest.
pub fn sparkline(counts: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                ' '
            } else if max <= 1 {
                BARS[7]
            } else {
                BARS[((c - 1) * 7 / (max - 1)) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn times_parse_as_dates_instants_and_durations() {
        assert_eq!(parse_time("2023-11-14", 0), Some(1_699_920_000_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", 0),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_time("7d", 1_000), Some(1_000 + 7 * 86_400_000));
        assert_eq!(parse_time("30m", 0), Some(1_800_000));
        assert_eq!(parse_time("tomorrow", 0), None);
        assert_eq!(parse_time("2023-13-01", 0), None);
        assert_eq!(parse_time("", 0), None);
        assert_eq!(parse_time("7é", 0), None);
        assert_eq!(
            parse_ago("24h", 100_000_000),
            Some(100_000_000 - 86_400_000)
        );
        assert_eq!(parse_ago("2023-11-14", 5), Some(1_699_920_000_000));
    }

    #[test]
    fn sparklines_scale_to_the_peak() {
        assert_eq!(sparkline(&[0, 1, 4, 8]), " ▁▄█");
        assert_eq!(sparkline(&[0, 1, 0]), " █ ");
        assert_eq!(sparkline(&[]), "");
    }
}
