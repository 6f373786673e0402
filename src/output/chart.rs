//! Occurrences over time, drawn as SVG geometry the templates print.
//!
//! Every chart on a page covers the same [`Window`] (a range ending at one
//! hour), so bars at the same place mean the same time whichever issue they
//! belong to; axes say how many and when.

use crate::model::{HourCount, hour_of};

use super::format::{self, plural};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// How far back a chart looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Range {
    Day,
    #[default]
    Week,
    Month,
}

impl Range {
    pub const ALL: [Range; 3] = [Range::Day, Range::Week, Range::Month];

    /// What a URL says: `24h`, `7d`, `30d`.
    pub fn parse(text: &str) -> Option<Range> {
        match text {
            "24h" => Some(Range::Day),
            "7d" => Some(Range::Week),
            "30d" => Some(Range::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Range::Day => "24 hours",
            Range::Week => "7 days",
            Range::Month => "30 days",
        }
    }

    fn hours(self) -> i64 {
        match self {
            Range::Day => 24,
            Range::Week => 7 * 24,
            Range::Month => 30 * 24,
        }
    }

    /// Hours per bar: 720 one-hour bars would be thinner than a pixel.
    fn bucket_hours(self) -> i64 {
        match self {
            Range::Month => 6,
            _ => 1,
        }
    }
}

/// The time a chart covers: `range`, up to the end of the hour `as_of`
/// falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Exclusive: the start of the hour after the last one shown.
    pub end: i64,
    pub range: Range,
}

impl Window {
    pub fn ending_at(as_of: i64, range: Range) -> Window {
        Window {
            end: hour_of(as_of).saturating_add(HOUR),
            range,
        }
    }

    pub fn start(&self) -> i64 {
        self.end.saturating_sub(self.range.hours() * HOUR)
    }

    /// The earliest hour worth asking a store for.
    pub fn since(&self) -> i64 {
        self.start()
    }
}

/// One bar, one tick: pixel positions inside the SVG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    pub at: i64,
    pub label: String,
}

/// A bar chart with axes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    pub width: i64,
    pub height: i64,
    pub left: i64,
    pub top: i64,
    pub right: i64,
    pub bottom: i64,
    pub bars: Vec<Bar>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    /// What the chart shows, for screen readers and as its caption.
    pub label: String,
    /// `per hour`, `per 6 hours`: what one bar counts.
    pub unit: &'static str,
}

const LEFT: i64 = 44;
const TOP: i64 = 8;
const PLOT_W: i64 = 840; // divides by 24, 168 and 120 buckets alike
const PLOT_H: i64 = 96;
const RIGHT_PAD: i64 = 12;
const BOTTOM_PAD: i64 = 22;

/// Occurrences in `window`, one bar per bucket, on axes.
pub fn chart(hours: &[HourCount], window: Window) -> Chart {
    let bucket_ms = window.range.bucket_hours() * HOUR;
    let buckets = window.range.hours() / window.range.bucket_hours();
    let step = PLOT_W / buckets;
    let start = window.start();
    let mut counts = vec![0u64; buckets as usize];
    for h in hours {
        if h.hour >= start && h.hour < window.end {
            let i = ((h.hour - start) / bucket_ms) as usize;
            if let Some(slot) = counts.get_mut(i) {
                *slot = slot.saturating_add(h.count);
            }
        }
    }
    let total: u64 = counts.iter().fold(0, |a, c| a.saturating_add(*c));
    let y_max = nice_ceiling(counts.iter().copied().max().unwrap_or(0));
    let gap = if step >= 4 { 1 } else { 0 };
    let bars = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, &c)| {
            let h = ((c as u128 * PLOT_H as u128).div_ceil(y_max as u128) as i64).clamp(1, PLOT_H);
            let at = start + i as i64 * bucket_ms;
            Bar {
                x: LEFT + i as i64 * step,
                y: TOP + PLOT_H - h,
                w: step - gap,
                h,
                title: format!(
                    "{}: {}",
                    format::minute(at),
                    plural(c, "occurrence", "occurrences")
                ),
            }
        })
        .collect();
    let mut y_ticks = vec![Tick {
        at: TOP + PLOT_H,
        label: "0".into(),
    }];
    if y_max >= 4 && y_max % 2 == 0 {
        y_ticks.push(Tick {
            at: TOP + PLOT_H / 2,
            label: format::count(y_max / 2),
        });
    }
    y_ticks.push(Tick {
        at: TOP,
        label: format::count(y_max),
    });
    Chart {
        width: LEFT + PLOT_W + RIGHT_PAD,
        height: TOP + PLOT_H + BOTTOM_PAD,
        left: LEFT,
        top: TOP,
        right: LEFT + PLOT_W,
        bottom: TOP + PLOT_H,
        bars,
        y_ticks,
        x_ticks: x_ticks(window, step, bucket_ms),
        label: format!(
            "{} in the {} to {}",
            plural(total, "occurrence", "occurrences"),
            window.range.label(),
            format::minute(window.end)
        ),
        unit: if window.range.bucket_hours() == 1 {
            "per hour"
        } else {
            "per 6 hours"
        },
    }
}

/// Labelled times along the bottom: every 6 hours over a day, each midnight
/// over a week, each Monday over a month; none so near an edge that its
/// label would be cut.
fn x_ticks(window: Window, step: i64, bucket_ms: i64) -> Vec<Tick> {
    let start = window.start();
    let mut ticks = Vec::new();
    let mut t = start;
    while t < window.end {
        let midnight = t.rem_euclid(DAY) == 0;
        let wanted = match window.range {
            Range::Day => t.rem_euclid(6 * HOUR) == 0,
            Range::Week => midnight,
            // 1970-01-01 was a Thursday: day + 3 is a multiple of 7 on Mondays.
            Range::Month => midnight && (t.div_euclid(DAY) + 3).rem_euclid(7) == 0,
        };
        let x = LEFT + (t - start) / bucket_ms * step;
        if wanted && (LEFT + 16..=LEFT + PLOT_W - 16).contains(&x) {
            let label = if midnight {
                format::day(t)
            } else {
                format::hour(t)
            };
            ticks.push(Tick { at: x, label });
        }
        t += HOUR;
    }
    ticks
}

/// The smallest 1, 2 or 5 times a power of ten at or above `n` (at least 1),
/// so the top of the axis is a number people read at a glance.
fn nice_ceiling(n: u64) -> u64 {
    let mut power = 1u64;
    loop {
        for m in [1, 2, 5] {
            let candidate = power.saturating_mul(m);
            if candidate >= n || candidate == u64::MAX {
                return candidate;
            }
        }
        power = power.saturating_mul(10);
    }
}

/// A small chart for a list row: the 24 hours of `window`, one bar per
/// hour, scaled to the row's own busiest hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spark {
    pub width: i64,
    pub height: i64,
    pub bars: Vec<Bar>,
    pub label: String,
}

pub fn spark(hours: &[HourCount], end: i64) -> Spark {
    const STEP: i64 = 4;
    const HEIGHT: i64 = 20;
    let window = Window::ending_at(end, Range::Day);
    let start = window.start();
    let mut counts = [0u64; 24];
    for h in hours {
        if h.hour >= start && h.hour < window.end {
            let i = ((h.hour - start) / HOUR) as usize;
            if let Some(slot) = counts.get_mut(i) {
                *slot = slot.saturating_add(h.count);
            }
        }
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let total: u64 = counts.iter().fold(0, |a, c| a.saturating_add(*c));
    let bars = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, &c)| {
            let h = ((c as u128 * (HEIGHT - 2) as u128).div_ceil(max as u128) as i64)
                .clamp(1, HEIGHT - 2);
            Bar {
                x: i as i64 * STEP,
                y: HEIGHT - 1 - h,
                w: STEP - 1,
                h,
                title: format!(
                    "{}: {}",
                    format::minute(start + i as i64 * HOUR),
                    plural(c, "occurrence", "occurrences")
                ),
            }
        })
        .collect();
    Spark {
        width: 24 * STEP,
        height: HEIGHT,
        bars,
        label: format!(
            "{} in the 24 hours to {}",
            plural(total, "occurrence", "occurrences"),
            format::minute(window.end)
        ),
    }
}

/// Occurrences in the 24 hours up to the end of `end`'s hour, and in the 24
/// hours before those: how an issue is trending.
pub fn last_two_days(hours: &[HourCount], end: i64) -> (u64, u64) {
    let window = Window::ending_at(end, Range::Day);
    let (start, previous) = (window.start(), window.start() - DAY);
    hours.iter().fold((0, 0), |(last, before), h| {
        if h.hour >= start && h.hour < window.end {
            (last + h.count, before)
        } else if h.hour >= previous && h.hour < start {
            (last, before + h.count)
        } else {
            (last, before)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_700_002_800_000; // 2023-11-14T23:00:00Z, an hour start

    fn h(hour: i64, count: u64) -> HourCount {
        HourCount { hour, count }
    }

    #[test]
    fn bars_of_different_issues_line_up_on_a_common_window() {
        let window = Window::ending_at(T + 30 * 60_000, Range::Week);
        let early = chart(&[h(T - 48 * HOUR, 1)], window);
        let late = chart(&[h(T, 1)], window);
        assert_eq!(
            late.bars[0].x,
            late.right - 5,
            "the last hour is the last bar"
        );
        assert_eq!(early.bars[0].x, late.bars[0].x - 48 * 5);
        assert_eq!(chart(&[h(T - 7 * DAY, 9)], window).bars, vec![], "outside");
    }

    #[test]
    fn the_y_axis_tops_at_a_round_number_above_the_busiest_bar() {
        let c = chart(&[h(T, 7), h(T - HOUR, 3)], Window::ending_at(T, Range::Day));
        let labels: Vec<&str> = c.y_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0", "5", "10"]);
        assert_eq!(c.bars[1].h, 68, "7 of 10 on a 96 px axis, rounded up");
        assert_eq!(
            c.label,
            "10 occurrences in the 24 hours to 2023-11-15 00:00 UTC"
        );
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(101), 200);
    }

    #[test]
    fn time_ticks_name_hours_days_or_mondays() {
        let day = chart(&[], Window::ending_at(T, Range::Day));
        let labels: Vec<&str> = day.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(
            labels,
            ["06:00", "12:00", "18:00"],
            "midnight is at the edge"
        );
        let week = chart(&[], Window::ending_at(T, Range::Week));
        assert_eq!(week.x_ticks.len(), 6);
        assert_eq!(week.x_ticks[5].label, "Nov 14");
        let month = chart(&[], Window::ending_at(T, Range::Month));
        let mondays: Vec<&str> = month.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(
            mondays,
            ["Oct 23", "Oct 30", "Nov 6", "Nov 13"],
            "Oct 16 is the edge"
        );
        assert_eq!(month.unit, "per 6 hours");
    }

    #[test]
    fn a_month_sums_hours_into_six_hour_bars() {
        let c = chart(
            &[h(T, 2), h(T - HOUR, 3), h(T - 6 * HOUR, 1)],
            Window::ending_at(T, Range::Month),
        );
        assert_eq!(c.bars.len(), 2);
        assert!(
            c.bars[1].title.ends_with(": 5 occurrences"),
            "{}",
            c.bars[1].title
        );
        assert!(
            c.bars[0].title.ends_with(": 1 occurrence"),
            "{}",
            c.bars[0].title
        );
    }

    #[test]
    fn sparklines_cover_the_last_day_and_trends_compare_two() {
        let hours = [
            h(T, 4),
            h(T - 23 * HOUR, 1),
            h(T - 24 * HOUR, 2),
            h(T - 48 * HOUR, 8),
        ];
        let s = spark(&hours, T);
        assert_eq!(s.bars.len(), 2);
        assert_eq!(s.bars[1].x, 92);
        assert_eq!(last_two_days(&hours, T), (5, 2));
    }
}
