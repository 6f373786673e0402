//! The data every stage and both stores share: what extraction finds, what a
//! batch adds to an issue, what a store keeps and what an alert says.
//!
//! It sits at the bottom of the import tree and depends on nothing else in
//! the crate (sizes come from [`crate::limits`], itself a leaf), so the pure
//! stages, the stores, the notifiers and the readers can all name these types
//! without importing each other.

use serde::{Deserialize, Serialize};

// ---- What extraction finds -------------------------------------------------

/// One error found in a log event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Occurrence {
    /// The error's type (`KeyError`, `java.lang.ArithmeticException`,
    /// `States.TaskFailed`), or empty when the line only had an error level.
    pub kind: String,
    /// The error message as written, before any masking.
    pub message: String,
    /// Stack frames, innermost last, whatever order the runtime printed them
    /// in (Python prints innermost last, Java, Node.js and Go innermost
    /// first): one order lets consumers pick "the frame that threw" alike.
    pub frames: Vec<Frame>,
    /// Severity as the producer stated it.
    pub level: Level,
    /// Which extractor recognised the message (`python-text`, `node-json`...).
    pub shape: &'static str,
    /// A fingerprint the producer chose (`error.fingerprint`); it wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Context fields of a structured line (flattened `a.b` keys, scalar
    /// values as strings), minus the ones already taken as kind, message or
    /// stack. Kept so an issue can be investigated.
    pub fields: Vec<(String, String)>,
}

/// One stack frame. Line numbers are kept for people but never fingerprinted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    pub function: String,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// False for runtime, standard-library and dependency frames, which say
    /// little about which bug this is.
    pub in_app: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Fatal,
}

// ---- What a batch adds -------------------------------------------------------

/// Everything a batch changes, keyed so that a redelivery is recognised.
#[derive(Debug, Clone, Serialize)]
pub struct BatchSummary {
    /// Identifies the batch's content: the same events give the same id,
    /// however often Lambda delivers them.
    pub batch_id: String,
    pub owner: String,
    pub log_group: String,
    pub log_stream: String,
    pub events: usize,
    pub errors: usize,
    /// One entry per distinct fingerprint, in order of first appearance.
    pub issues: Vec<IssueDelta>,
    /// The runs of batch jobs the batch's events belong to, or that a job
    /// event reports on ([`RunDelta`]); empty when nothing ties the events
    /// to a run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunDelta>,
}

/// A log event a batch of a stream left unfinished (the start of a trace
/// the batch boundary cut), kept to be judged with the stream's next batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldEvent {
    pub id: String,
    pub timestamp: i64,
    pub message: String,
}

/// What one batch adds to one issue.
#[derive(Debug, Clone, Serialize)]
pub struct IssueDelta {
    pub fingerprint: String,
    pub kind: String,
    pub title: String,
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub samples: Vec<Sample>,
    /// Occurrences per hour (by event time), for the timeline.
    pub hours: Vec<HourCount>,
    /// Occurrences per value of the context fields worth faceting on.
    pub facets: Vec<FacetCount>,
    /// Distinct versions the occurrences came from (`version` fields, the
    /// Lambda version in the stream name), for "resolved in version X".
    pub versions: Vec<String>,
    /// The keys the previous fingerprint algorithm gave these occurrences
    /// (`fingerprint::v2`), distinct, in order of first appearance, at most
    /// [`crate::limits::PREVIOUS_KEYS_PER_BATCH`]. A store that does not
    /// know `fingerprint` yet but knows one of these lands the delta in that
    /// issue and remembers `fingerprint` as its alias, so a change of
    /// algorithm announces nothing again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous: Vec<String>,
}

/// Occurrences within one hour; `hour` is the epoch ms the hour starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HourCount {
    pub hour: i64,
    pub count: u64,
}

/// Occurrences carrying one value of one context field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FacetCount {
    pub name: String,
    pub value: String,
    pub count: u64,
}

/// The hour an epoch-ms timestamp falls in.
pub fn hour_of(timestamp: i64) -> i64 {
    // Saturating: a crafted timestamp near i64::MIN must not overflow.
    timestamp.saturating_sub(timestamp.rem_euclid(3_600_000))
}

/// The facet value that stands for every value past a cap, so a field with a
/// new value per line (request ids) cannot grow an issue without bound.
pub const OTHER: &str = "(other)";

/// The kind of the issue a batch counts the errors of its fingerprints past
/// [`crate::limits::MAX_ISSUES_PER_BATCH`] into (one per log group).
pub const OVERFLOW_KIND: &str = "faultline.TooManyIssues";

/// The facet of the overflow issue that holds its errors' titles.
pub const OVERFLOW_FACET: &str = "error";

/// The fingerprint of a log group's overflow issue.
pub fn overflow_fingerprint(log_group: &str) -> String {
    format!("overflow:{log_group}")
}

impl IssueDelta {
    /// Whether this is the batch's overflow issue ([`OVERFLOW_KIND`]).
    pub fn is_overflow(&self) -> bool {
        self.kind == OVERFLOW_KIND && self.fingerprint.starts_with("overflow:")
    }
}

impl BatchSummary {
    /// The batch's overflow issue, if it had errors past
    /// [`crate::limits::MAX_ISSUES_PER_BATCH`] distinct issues.
    pub fn overflow(&self) -> Option<&IssueDelta> {
        self.issues.iter().find(|d| d.is_overflow())
    }

    /// How many of the batch's errors went into its overflow issue.
    pub fn errors_past_issue_limit(&self) -> u64 {
        self.overflow().map_or(0, |d| d.count)
    }
}

/// One occurrence kept for investigation.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Sample {
    pub log_group: String,
    pub log_stream: String,
    pub event_id: String,
    pub timestamp: i64,
    pub kind: String,
    pub message: String,
    pub shape: String,
    /// Extracted context fields and the stack, as `name -> value`.
    pub fields: Vec<(String, String)>,
}

/// The issue id users type: short, derived from the fingerprint, so every
/// store and every concurrent writer agrees on it without a counter.
pub fn issue_id(fingerprint: &str) -> String {
    format!(
        "{:012x}",
        xxhash_rust::xxh3::xxh3_64(fingerprint.as_bytes()) >> 16
    )
}

// ---- What a store keeps -------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Open,
    Resolved,
    Ignored,
    /// Merged into another issue ([`Issue::merged_into`]): its later
    /// occurrences count there, and it is listed only when asked for.
    Merged,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Resolved => "resolved",
            Status::Ignored => "ignored",
            Status::Merged => "merged",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "open" => Some(Status::Open),
            "resolved" => Some(Status::Resolved),
            "ignored" => Some(Status::Ignored),
            "merged" => Some(Status::Merged),
            _ => None,
        }
    }

    /// The statuses of the issues a listing shows unless asked for merged
    /// ones: every status that still counts occurrences.
    pub const LIVE: [Status; 3] = [Status::Open, Status::Resolved, Status::Ignored];
}

/// Which issues a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFilter {
    Open,
    Resolved,
    Ignored,
    /// Issues merged into others (`faultline issues unmerge` undoes it).
    Merged,
    /// Every issue that counts occurrences of its own: all but the merged.
    All,
}

impl StatusFilter {
    pub fn admits(self, status: Status) -> bool {
        match self {
            StatusFilter::All => status != Status::Merged,
            StatusFilter::Open => status == Status::Open,
            StatusFilter::Resolved => status == Status::Resolved,
            StatusFilter::Ignored => status == Status::Ignored,
            StatusFilter::Merged => status == Status::Merged,
        }
    }

    /// The stored statuses this filter admits.
    pub fn statuses(self) -> Vec<Status> {
        Status::LIVE
            .into_iter()
            .chain([Status::Merged])
            .filter(|s| self.admits(*s))
            .collect()
    }
}

/// How a listing orders issues. Every order puts the most first: the most
/// occurrences, the most recently seen, the most recently first seen, the
/// most rising; ties go to the most recently seen, then by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum IssueSort {
    /// By last seen.
    #[default]
    Last,
    /// By total occurrences.
    Count,
    /// By first seen.
    First,
    /// By the change from the 24 hours before to the last 24 hours
    /// (`last_day - day_before`), so what is rising comes first.
    Trend,
}

/// Hours a listing's sparkline covers, ending with the hour of
/// [`IssueQuery::at`]; the trend compares them with the same span before.
pub const LISTING_HOURS: usize = 24;

/// Which issues a listing shows, in which order, which page of them. Every
/// filter is optional and they all apply together.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueQuery {
    pub status: StatusFilter,
    /// Exactly this log group.
    pub log_group: Option<String>,
    /// Exactly this error kind (`KeyError`, `java.lang.NullPointerException`).
    pub kind: Option<String>,
    /// Text the title or the kind contains, ignoring ASCII case. The
    /// SQLite store also matches the message of the newest sample it keeps; the
    /// DynamoDB store does not, since its listing reads only the status
    /// index, which carries no samples (reading every candidate's item for
    /// them would cost its whole size, up to 400 KB, per issue).
    pub text: Option<String>,
    /// Seen at or after this time (epoch ms): `last_seen >= since`.
    pub since: Option<i64>,
    /// Seen at or before this time (epoch ms): `first_seen <= until`.
    pub until: Option<i64>,
    /// Context field values every listed issue carried (`environment` =
    /// `prod`). A value an issue counts under `(other)`, past its cap of
    /// kept values, does not match.
    pub fields: Vec<(String, String)>,
    pub sort: IssueSort,
    /// Issues to skip, for paging.
    pub offset: usize,
    /// The most issues to return; `None` returns them all.
    pub limit: Option<usize>,
    /// When the sparklines and trends end (epoch ms): the hour it falls in
    /// is the last one. `None` takes the latest `last_seen` of the issues
    /// that match, so logs replayed from the past keep their own times.
    pub at: Option<i64>,
}

impl IssueQuery {
    /// Every issue of a status, most recently seen first.
    pub fn status(status: StatusFilter) -> IssueQuery {
        IssueQuery {
            status,
            log_group: None,
            kind: None,
            text: None,
            since: None,
            until: None,
            fields: Vec::new(),
            sort: IssueSort::Last,
            offset: 0,
            limit: None,
            at: None,
        }
    }

    /// Whether `issue` passes every filter but the context fields (which
    /// a store checks against what it keeps of each issue's facets); `text`
    /// against the title and kind only, as the DynamoDB store applies it.
    pub fn admits(&self, issue: &Issue) -> bool {
        let contains = |haystack: &str, needle: &str| {
            haystack
                .to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        };
        self.status.admits(issue.status)
            && self
                .log_group
                .as_ref()
                .is_none_or(|g| *g == issue.log_group)
            && self.kind.as_ref().is_none_or(|k| *k == issue.kind)
            && self
                .text
                .as_ref()
                .is_none_or(|t| contains(&issue.title, t) || contains(&issue.kind, t))
            && self.since.is_none_or(|t| issue.last_seen >= t)
            && self.until.is_none_or(|t| issue.first_seen <= t)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuePage {
    /// The issues of the page, in the query's order.
    pub issues: Vec<ListedIssue>,
    /// How many issues match the query in all (every page together).
    pub total: usize,
    /// The start (epoch ms) of the last hour the sparklines cover.
    pub at_hour: i64,
}

/// An issue as a listing shows it: the issue, its recent hours and its trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedIssue {
    #[serde(flatten)]
    pub issue: Issue,
    /// Occurrences in each of the [`LISTING_HOURS`] hours ending with the
    /// page's `at_hour`, oldest first (zeros included).
    pub hourly: Vec<u64>,
    /// Occurrences in those hours, and in the same span just before them.
    pub last_day: u64,
    pub day_before: u64,
}

impl ListedIssue {
    /// The trend a listing sorts by: positive when rising.
    pub fn trend(&self) -> i64 {
        i64::try_from(self.last_day)
            .unwrap_or(i64::MAX)
            .saturating_sub(i64::try_from(self.day_before).unwrap_or(i64::MAX))
    }
}

impl ListedIssue {
    /// An issue with its hourly counts (any hours; those outside the two
    /// spans are ignored) as of the hour starting at `at_hour`.
    pub fn new(issue: Issue, hours: &[HourCount], at_hour: i64) -> ListedIssue {
        let span = LISTING_HOURS as i64 * 3_600_000;
        let first = at_hour.saturating_sub(span - 3_600_000);
        let mut hourly = vec![0u64; LISTING_HOURS];
        let (mut last_day, mut day_before) = (0u64, 0u64);
        for h in hours {
            if h.hour > at_hour {
                continue;
            }
            if h.hour >= first {
                let slot = ((h.hour - first) / 3_600_000) as usize;
                if let Some(c) = hourly.get_mut(slot) {
                    *c = c.saturating_add(h.count);
                }
                last_day = last_day.saturating_add(h.count);
            } else if h.hour >= first.saturating_sub(span) {
                day_before = day_before.saturating_add(h.count);
            }
        }
        ListedIssue {
            issue,
            hourly,
            last_day,
            day_before,
        }
    }
}

/// Orders listed issues as `sort` says (see [`IssueSort`]); both stores sort
/// the issues they return through this, so they agree on ties.
pub fn sort_listing(issues: &mut [ListedIssue], sort: IssueSort) {
    issues.sort_by(|a, b| {
        let primary = match sort {
            IssueSort::Last => std::cmp::Ordering::Equal,
            IssueSort::Count => b.issue.count.cmp(&a.issue.count),
            IssueSort::First => b.issue.first_seen.cmp(&a.issue.first_seen),
            IssueSort::Trend => b
                .trend()
                .cmp(&a.trend())
                .then_with(|| b.last_day.cmp(&a.last_day)),
        };
        primary
            .then_with(|| b.issue.last_seen.cmp(&a.issue.last_seen))
            .then_with(|| a.issue.id.cmp(&b.issue.id))
    });
}

/// An issue as listed: one group of occurrences with one fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: String,
    pub fingerprint: String,
    pub log_group: String,
    pub title: String,
    pub kind: String,
    pub status: Status,
    pub count: u64,
    /// Epoch milliseconds of the earliest and latest occurrence.
    pub first_seen: i64,
    pub last_seen: i64,
    /// When a resolved issue last came back, if it ever did.
    pub regressed_at: Option<i64>,
    /// Resolved in this version: older versions do not regress it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_in: Option<String>,
    /// Ignored until this time (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored_until: Option<i64>,
    /// Ignored until the count reaches this total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored_until_count: Option<u64>,
    /// The issue this one was merged into (status [`Status::Merged`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
}

/// How a user changes an issue's status.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusChange {
    Open,
    /// Resolved; with a version, only occurrences from it on regress.
    Resolved {
        in_version: Option<String>,
    },
    /// Ignored for good, until a time (epoch ms), or for N more occurrences.
    Ignored {
        until: Option<i64>,
        for_count: Option<u64>,
    },
}

impl StatusChange {
    pub fn status(&self) -> Status {
        match self {
            StatusChange::Open => Status::Open,
            StatusChange::Resolved { .. } => Status::Resolved,
            StatusChange::Ignored { .. } => Status::Ignored,
        }
    }
}

/// The values one context field took across an issue's occurrences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facet {
    pub name: String,
    /// Distinct values seen (at most [`crate::limits::MAX_FACET_VALUES`]; `capped` says
    /// there were more).
    pub distinct: u64,
    pub capped: bool,
    /// Most frequent first, at most 5.
    pub top: Vec<(String, u64)>,
}

/// An issue with what is kept to investigate it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueDetail {
    #[serde(flatten)]
    pub issue: Issue,
    /// Newest first, at most [`crate::limits::MAX_SAMPLES`].
    pub samples: Vec<Sample>,
    /// Occurrences per hour, oldest first, over the retained 30 days.
    pub hours: Vec<HourCount>,
    /// Context fields worth a look, by name.
    pub facets: Vec<Facet>,
    /// The issues merged into this one, whose later occurrences count here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
}

/// What `faultline store migrate` did: the layout the store had and has
/// now, and how many issues it converted (where it converts them one by
/// one: DynamoDB; SQLite migrates a file in one transaction when it opens
/// it for writing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Migrated {
    pub from: u32,
    pub to: u32,
    pub converted: Option<usize>,
    /// What else was done, or is left for the user to do, one line each.
    pub notes: Vec<String>,
}

/// What a store holds and how big each part of it is
/// (`faultline store stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoreStats {
    /// The parts, in the order the store lists them.
    pub parts: Vec<StorePart>,
    /// Everything the store takes, where it can say.
    pub total_bytes: Option<u64>,
    /// How fresh or exact the figures are, where that needs saying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A queued alert held by a lease: a run claimed it to send it, and no
/// other run sends it before `lease_until` (epoch ms).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeasedAlert {
    pub id: String,
    /// How many issues it names.
    pub issues: usize,
    pub lease_until: i64,
    /// How many times it was claimed.
    pub attempts: u64,
}

/// One kind of thing a store keeps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorePart {
    pub name: String,
    /// What it holds, in a few words.
    pub what: String,
    pub rows: u64,
    /// Bytes it takes, indexes included, where the store can say.
    pub bytes: Option<u64>,
}

/// What recording a batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    /// The batch had been recorded before: nothing changed.
    pub duplicate: bool,
    /// Ids of the issues this batch created.
    pub new_issues: Vec<String>,
    /// Ids of resolved issues this batch reopened.
    pub regressions: Vec<String>,
    /// How many alerts the batch queued.
    pub alerts: usize,
    /// New issues and regressions of this batch that queued no alert, and
    /// why: so a user who expected one is told which issue and what held it.
    pub held_back: Vec<(String, HeldBack)>,
}

/// Why recording a new issue or a regression queued no alert for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldBack {
    /// The alert policy turns this event type off (`new_issue = false`,
    /// `regression = false`).
    TurnedOff(EventType),
    /// The issue alerted less than the policy's `cooldown_minutes` ago.
    Cooldown,
    /// Its occurrences were in job runs that a retry got past
    /// (`alert_recovered = false`) or that are still being counted
    /// (`alert_after_runs`): the run decides when it alerts.
    ByRuns,
}

/// What a store knows about an issue before a batch touches it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IssueState {
    pub status: Status,
    pub count: u64,
    /// Resolved "in version X": only occurrences from X on regress it.
    pub resolved_in: Option<String>,
    /// Ignored until this time (epoch ms) ...
    pub ignored_until: Option<i64>,
    /// ... or until the count reaches this total.
    pub ignored_until_count: Option<u64>,
    pub last_alert_at: Option<i64>,
    pub threshold_alerted_at: Option<i64>,
}

// ---- What an alert says -------------------------------------------------------

/// Why an alert goes out. The wire names are a contract: SNS subscription
/// filter policies match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    NewIssue,
    Regression,
    /// An issue crossed the policy's occurrence threshold.
    Threshold,
    /// A run of a batch job ended: its outcome and the issues it had.
    RunDigest,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::NewIssue => "new_issue",
            EventType::Regression => "regression",
            EventType::Threshold => "threshold",
            EventType::RunDigest => "run_digest",
        }
    }

    /// How people read it: "new issue", "regression", "threshold".
    pub fn label(self) -> &'static str {
        match self {
            EventType::NewIssue => "new issue",
            EventType::Regression => "regression",
            EventType::Threshold => "threshold",
            EventType::RunDigest => "run digest",
        }
    }
}

/// One alert: one event type, one log group, one or more issues (several new
/// issues of one batch make one digest, not a message each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic: the batch id and event type, so a redelivered batch
    /// cannot queue the same alert twice.
    pub id: String,
    pub event_type: EventType,
    pub log_group: String,
    pub created_at: i64,
    pub issues: Vec<AlertIssue>,
    /// For a [`EventType::RunDigest`]: the run it reports on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunDigest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertIssue {
    pub id: String,
    pub fingerprint: String,
    pub kind: String,
    pub title: String,
    /// Occurrences in the batch that raised the alert.
    pub count: u64,
    pub first_seen: i64,
    pub sample: Option<Sample>,
}

impl Alert {
    /// The issue ids, comma-separated, as the `issue_ids` message attribute.
    pub fn issue_ids(&self) -> String {
        self.issues
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

// ---- What a run is ------------------------------------------------------------

/// Where faultline learnt about a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunSource {
    /// A Step Functions execution.
    StepFunctions,
    /// An AWS Batch job, array children folded into their parent.
    Batch,
    /// An ECS task.
    Ecs,
    /// A run id in a log field the user named for the log group.
    Field,
}

impl RunSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RunSource::StepFunctions => "step_functions",
            RunSource::Batch => "batch",
            RunSource::Ecs => "ecs",
            RunSource::Field => "field",
        }
    }

    pub fn parse(s: &str) -> Option<RunSource> {
        match s {
            "step_functions" => Some(RunSource::StepFunctions),
            "batch" => Some(RunSource::Batch),
            "ecs" => Some(RunSource::Ecs),
            "field" => Some(RunSource::Field),
            _ => None,
        }
    }
}

/// How a run ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    #[default]
    Running,
    /// It ended without saying how (its log went quiet).
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Aborted => "aborted",
            Outcome::Running => "running",
            Outcome::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "succeeded" => Some(Outcome::Succeeded),
            "failed" => Some(Outcome::Failed),
            "timed_out" => Some(Outcome::TimedOut),
            "aborted" => Some(Outcome::Aborted),
            "running" => Some(Outcome::Running),
            "unknown" => Some(Outcome::Unknown),
            _ => None,
        }
    }

    /// Failed, timed out or aborted.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::TimedOut | Outcome::Aborted)
    }
}

/// The run id users type: short, derived from the run's key like an issue
/// id from its fingerprint, so every store and writer agrees on it.
pub fn run_id(key: &str) -> String {
    format!("{:012x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()) >> 16)
}

/// What one batch (of log events, or one job event) says about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDelta {
    /// The run's identity: `sfn:EXECUTION_ARN`, `batch:JOB_ID` (the parent
    /// of an array), `task:ECS_TASK_ID` or `field:LOG_GROUP:VALUE`.
    pub key: String,
    pub source: RunSource,
    /// What the run is a run of: the state machine, the Batch job
    /// definition, the ECS task family, or the log group. Lifecycles are
    /// counted in runs of one job.
    pub job: String,
    /// How people name this run: the execution or job name, the task id,
    /// the run id.
    pub name: String,
    /// The log group the batch's events came from (empty for job events).
    pub log_group: String,
    pub started: Option<i64>,
    pub ended: Option<(i64, Outcome)>,
    /// Event time of this run's latest log event in the batch, which keeps
    /// a run without an end event alive until it has been quiet.
    pub last_event: Option<i64>,
    pub errors: u64,
    /// Errors a successful retry of the same step got past.
    pub recovered: u64,
    pub issues: Vec<RunIssueDelta>,
    /// How many items the run processed, and how many failed, where it
    /// says.
    pub items: Option<u64>,
    pub failed_items: Option<u64>,
    /// Runs that are part of this one (a Batch job's attempts, known by
    /// their ECS task as `task:ID` runs) and whether each part recovered:
    /// `Some(true)` when a later attempt of the same job succeeded.
    pub parts: Vec<RunPart>,
}

impl RunDelta {
    /// A delta that says nothing yet about the run `key`.
    pub fn new(key: String, source: RunSource, job: String, name: String) -> RunDelta {
        RunDelta {
            key,
            source,
            job,
            name,
            log_group: String::new(),
            started: None,
            ended: None,
            last_event: None,
            errors: 0,
            recovered: 0,
            issues: Vec::new(),
            items: None,
            failed_items: None,
            parts: Vec::new(),
        }
    }
}

/// What one batch adds to one issue within one run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunIssueDelta {
    pub fingerprint: String,
    pub count: u64,
    pub recovered: u64,
}

/// A run folded into another (see [`RunDelta::parts`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPart {
    pub key: String,
    pub recovered: Option<bool>,
}

/// A run as stored and listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub key: String,
    pub source: RunSource,
    pub job: String,
    pub name: String,
    pub log_group: String,
    pub started: Option<i64>,
    pub ended: Option<i64>,
    pub outcome: Outcome,
    /// Event time of its latest log event (0 if none was seen).
    pub last_event: i64,
    pub errors: u64,
    pub recovered: u64,
    pub items: Option<u64>,
    pub failed_items: Option<u64>,
    /// Most occurrences first.
    pub issues: Vec<RunIssue>,
    /// When its end was processed: digest sent, lifecycle counted.
    pub settled_at: Option<i64>,
}

impl Run {
    /// Errors that no retry got past.
    pub fn unrecovered(&self) -> u64 {
        self.errors.saturating_sub(self.recovered)
    }
}

/// One issue within one run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunIssue {
    pub id: String,
    pub count: u64,
    pub recovered: u64,
    /// The issue was first seen in this run.
    pub new: bool,
    /// A resolved issue came back in this run.
    pub regressed: bool,
}

/// What a run digest says: the run and its issues, worst news first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDigest {
    pub run_id: String,
    pub name: String,
    pub job: String,
    pub source: RunSource,
    pub outcome: Outcome,
    pub started: Option<i64>,
    pub ended: Option<i64>,
    pub errors: u64,
    pub recovered: u64,
    pub items: Option<u64>,
    pub failed_items: Option<u64>,
    /// New first, then regressions, then by count; at most a bounded number.
    pub issues: Vec<DigestIssue>,
    /// Issues of the run left out of `issues`.
    pub more_issues: u64,
    /// Set when this is not the run's digest but the one alert releasing
    /// new issues whose alerts were held until they appeared in this many
    /// consecutive runs (`alert_after_runs`), more of them than get an
    /// alert each: renderers say so, since the run's outcome is not the
    /// news. Absent from alerts queued before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_for_runs: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestIssue {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub count: u64,
    pub recovered: u64,
    pub new: bool,
    pub regressed: bool,
}
