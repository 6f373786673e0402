//! An issue as a page shows it, the same in the static report and in
//! `faultline serve`: its facts, its chart on the page's common window, the
//! values of its context fields with their shares, and its samples with the
//! stack one frame per line and links to the console.

use crate::links;
use crate::model::{Facet, IssueDetail, Sample, Status};

use super::chart::{self, Chart, Window};
use super::format::{self, Time, plural};
use super::stack::{self, Stack};

/// Fields that name the version an occurrence ran, shown beside first and
/// last seen rather than among the other fields.
const VERSION_FIELDS: [&str; 2] = ["version", "function_version"];

pub struct IssueView {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub log_group: String,
    pub status: &'static str,
    /// `resolved in 42`, `ignored until ...`, `regressed ...`.
    pub status_note: Option<String>,
    pub occurrences: String,
    /// The count alone, grouped: `1,234`.
    pub count: String,
    pub first: Time,
    pub last: Time,
    pub first_ago: String,
    pub last_ago: String,
    /// The versions seen, most frequent first, with their counts.
    pub versions: Vec<FacetValue>,
    pub chart: Chart,
    pub facets: Vec<FacetView>,
    pub samples: Vec<SampleView>,
    /// `the newest 3 of 10 kept`, when not every kept sample is shown.
    pub samples_note: Option<String>,
}

pub struct FacetView {
    pub name: String,
    /// `3 values`, `50+ values`.
    pub spread: String,
    pub values: Vec<FacetValue>,
}

pub struct FacetValue {
    pub value: String,
    pub count: String,
    pub share: String,
    /// Where following the value leads (the list, filtered by it), if
    /// anywhere.
    pub href: Option<String>,
}

pub struct SampleView {
    pub at: Time,
    pub stream: String,
    pub event_id: String,
    pub message: String,
    pub fields: Vec<(String, String)>,
    pub stack: Option<Stack>,
    pub links: Option<ConsoleLinks>,
}

pub struct ConsoleLinks {
    pub region: String,
    pub event: String,
    pub insights: String,
}

/// What shapes a view beyond the issue itself.
pub struct ViewOptions<'a> {
    pub window: Window,
    pub now: i64,
    /// The store's region, for samples whose fields name none. `None`
    /// leaves such samples without console links rather than guessing.
    pub region: Option<&'a str>,
    pub max_samples: usize,
    /// The link a facet value leads to, if any.
    pub facet_link: &'a dyn Fn(&str, &str) -> Option<String>,
}

impl IssueView {
    pub fn new(detail: &IssueDetail, options: &ViewOptions<'_>) -> IssueView {
        let issue = &detail.issue;
        let status_note = match issue.status {
            Status::Resolved => Some(match &issue.resolved_in {
                Some(version) => format!("in version {version}"),
                None => "in any version".to_string(),
            }),
            Status::Ignored => match (issue.ignored_until, issue.ignored_until_count) {
                (Some(until), _) => Some(format!("until {}", format::minute(until))),
                (None, Some(n)) => Some(format!(
                    "until it has occurred {}",
                    plural(n, "time", "times")
                )),
                (None, None) => Some("for good".to_string()),
            },
            Status::Open => issue
                .regressed_at
                .map(|at| format!("regressed {}", format::minute(at))),
            Status::Merged => issue
                .merged_into
                .as_ref()
                .map(|into| format!("into {into}")),
        };
        let mut versions = Vec::new();
        let mut facets = Vec::new();
        for facet in &detail.facets {
            if VERSION_FIELDS.contains(&facet.name.as_str()) {
                versions.extend(values(facet, issue.count, options));
            } else {
                facets.push(FacetView {
                    name: facet.name.clone(),
                    spread: format!(
                        "{}{} {}",
                        format::count(facet.distinct),
                        if facet.capped { "+" } else { "" },
                        if facet.distinct == 1 && !facet.capped {
                            "value"
                        } else {
                            "values"
                        }
                    ),
                    values: values(facet, issue.count, options),
                });
            }
        }
        // Newest first whatever order the store kept them in: samples of one
        // batch are kept in the order its events came.
        let mut samples: Vec<&Sample> = detail.samples.iter().collect();
        samples.sort_by_key(|s| std::cmp::Reverse(s.timestamp));
        let shown = samples.len().min(options.max_samples);
        IssueView {
            id: issue.id.clone(),
            title: issue.title.clone(),
            kind: issue.kind.clone(),
            log_group: issue.log_group.clone(),
            status: issue.status.as_str(),
            status_note,
            occurrences: plural(issue.count, "occurrence", "occurrences"),
            count: format::count(issue.count),
            first: Time::at(issue.first_seen),
            last: Time::at(issue.last_seen),
            first_ago: format::ago(issue.first_seen, options.now),
            last_ago: format::ago(issue.last_seen, options.now),
            versions,
            chart: chart::chart(&detail.hours, options.window),
            facets,
            samples: samples[..shown]
                .iter()
                .map(|s| sample(s, options.region))
                .collect(),
            samples_note: (shown < detail.samples.len())
                .then(|| format!("the newest {shown} of {} kept", detail.samples.len())),
        }
    }
}

fn values(facet: &Facet, total: u64, options: &ViewOptions<'_>) -> Vec<FacetValue> {
    facet
        .top
        .iter()
        .map(|(value, count)| FacetValue {
            value: value.clone(),
            count: format::count(*count),
            share: format::share(*count, total),
            href: if value == crate::model::OTHER {
                None
            } else {
                (options.facet_link)(&facet.name, value)
            },
        })
        .collect()
}

fn sample(sample: &Sample, store_region: Option<&str>) -> SampleView {
    let mut fields = Vec::with_capacity(sample.fields.len());
    let mut stack = None;
    for (name, value) in &sample.fields {
        if name == "stack" && stack.is_none() {
            stack = Some(stack::parse(value));
        } else {
            fields.push((name.clone(), value.clone()));
        }
    }
    let region = links::event_region(sample).or(store_region);
    SampleView {
        at: Time::at(sample.timestamp),
        stream: sample.log_stream.clone(),
        event_id: sample.event_id.clone(),
        // A lone carriage return would run two lines into one.
        message: sample.message.replace("\r\n", "\n").replace('\r', "\n"),
        fields,
        stack,
        links: region.map(|region| ConsoleLinks {
            region: region.to_string(),
            event: links::log_event(region, sample),
            insights: links::insights(region, sample),
        }),
    }
}
