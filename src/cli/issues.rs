//! `faultline issues`: list issues, show one, change its status.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use faultline::model::{IssueQuery, IssueSort, Status, StatusChange, StatusFilter};
use faultline::serve::query::{ListQuery, Sort as ViewSort};
use faultline::store::DEFAULT_URL;
use faultline::text::sparkline;
use faultline::{change, pipeline, store};

use super::terminal::Style;
use super::{Access, Error, render};

/// The options of `issues` are declared once, here, and are global: they
/// mean the same before or after the action (`issues --store X resolve ID`
/// and `issues resolve ID --store X` change the same store). Listing
/// options given to an action that does not list are refused, not ignored.
#[derive(Args)]
pub struct IssuesArgs {
    #[command(subcommand)]
    action: Option<IssuesAction>,
    /// Where issues are kept: sqlite:PATH or dynamodb://TABLE.
    #[arg(
        long,
        global = true,
        env = "FAULTLINE_STORE",
        default_value = DEFAULT_URL,
        value_name = "URL"
    )]
    store: String,
    /// Print JSON instead of text (the contract is in the README).
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    filter: ListFilter,
}

/// What to list and in which order; only for listing.
#[derive(Args, Default)]
struct ListFilter {
    /// Which issues to list [default: open].
    #[arg(long, global = true, value_enum, value_name = "STATUS")]
    status: Option<StatusFilter>,
    /// Only issues of this log group.
    #[arg(long, global = true, value_name = "NAME")]
    log_group: Option<String>,
    /// Only issues of this error kind (KeyError, java.lang.NullPointerException ...).
    #[arg(long, global = true, value_name = "KIND")]
    kind: Option<String>,
    /// Only issues whose title or kind contains this text (ignoring case).
    /// A SQLite store also matches the message of the newest sample it keeps; a
    /// DynamoDB store matches title and kind only (its listing index holds
    /// no samples).
    #[arg(long, global = true, value_name = "TEXT")]
    grep: Option<String>,
    /// Only issues seen since then: 30m, 24h, 7d, or a UTC date/time.
    #[arg(long, global = true, value_name = "WHEN")]
    since: Option<String>,
    /// Order: last (last seen, newest first; the default), count (most
    /// occurrences first), first (first seen, newest first) or trend
    /// (growing most over the last day first).
    #[arg(long, global = true, value_enum, value_name = "ORDER")]
    sort: Option<Sort>,
    /// At most this many issues.
    #[arg(long, global = true, value_name = "N")]
    limit: Option<usize>,
}

impl ListFilter {
    fn given(&self) -> Option<&'static str> {
        [
            (self.status.is_some(), "--status"),
            (self.log_group.is_some(), "--log-group"),
            (self.kind.is_some(), "--kind"),
            (self.grep.is_some(), "--grep"),
            (self.since.is_some(), "--since"),
            (self.sort.is_some(), "--sort"),
            (self.limit.is_some(), "--limit"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Sort {
    Last,
    Count,
    First,
    Trend,
}

#[derive(Subcommand)]
enum IssuesAction {
    /// List issues (the default).
    List,
    /// Show one issue with its samples and context.
    Show(IdArgs),
    /// Mark an issue resolved; it regresses (reopens and alerts) if it occurs again.
    Resolve {
        #[command(flatten)]
        id: IdArgs,
        /// The version with the fix: occurrences from older versions (still
        /// running during a deploy) do not regress the issue.
        #[arg(long, value_name = "VERSION")]
        in_version: Option<String>,
    },
    /// Mark an issue ignored: it is still counted but does not alert.
    Ignore {
        #[command(flatten)]
        id: IdArgs,
        /// Only until then: a duration (7d, 12h) or a UTC date/time
        /// (2025-12-01, 2025-12-01T08:00:00Z).
        #[arg(long, value_name = "WHEN")]
        until: Option<String>,
        /// Only for this many more occurrences.
        #[arg(long = "for", value_name = "N")]
        for_count: Option<u64>,
    },
    /// Mark an issue open again.
    Reopen(IdArgs),
    /// Count other issues as this one: later occurrences of each FROM count
    /// into INTO, INTO takes their history, and nothing alerts for them.
    /// Undo with `unmerge`.
    Merge {
        /// The issue to keep (an id or a unique prefix of one).
        into: String,
        /// The issues that become part of it.
        #[arg(required = true)]
        from: Vec<String>,
    },
    /// Let a merged issue count its own occurrences again (open). What the
    /// merge summed into the other issue stays there. Also undoes a join by
    /// a change of fingerprint algorithm, which then never joins it again.
    Unmerge(IdArgs),
}

#[derive(Args)]
struct IdArgs {
    /// The issue id, or a unique prefix of it.
    id: String,
}

pub async fn run(args: IssuesArgs) -> Result<ExitCode, Error> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let action = args.action.unwrap_or(IssuesAction::List);
    if let Some(option) = args
        .filter
        .given()
        .filter(|_| !matches!(action, IssuesAction::List))
    {
        return Err(Error::Usage(format!(
            "{option} chooses which issues to list; it does not apply to show, resolve, ignore, reopen, merge or unmerge"
        )));
    }
    let style = Style::of_stdout(pipeline::system_clock());
    let opts = Opts {
        store: args.store,
        json: args.json,
    };
    match action {
        IssuesAction::List => {
            let store = super::open_existing(&opts.store, Access::Read).await?;
            let filter = &args.filter;
            let since = match &filter.since {
                Some(text) => Some(
                    faultline::text::parse_ago(text, style.now)
                        .ok_or_else(|| Error::Time(text.clone()))?,
                ),
                None => None,
            };
            // One store read: the issues of the page, each with its last
            // 24 hours (which end with the newest occurrence listed: batch
            // jobs are looked at the morning after, and replayed logs keep
            // their own times).
            let query = IssueQuery {
                log_group: filter.log_group.clone(),
                kind: filter.kind.clone(),
                text: filter.grep.clone(),
                since,
                sort: match filter.sort.unwrap_or(Sort::Last) {
                    Sort::Last => IssueSort::Last,
                    Sort::Count => IssueSort::Count,
                    Sort::First => IssueSort::First,
                    Sort::Trend => IssueSort::Trend,
                },
                limit: filter.limit,
                ..IssueQuery::status(filter.status.unwrap_or(StatusFilter::Open))
            };
            let page = store.list(&query).await?;
            let lines: Vec<String> = page
                .issues
                .iter()
                .map(|listed| sparkline(&listed.hourly))
                .collect();
            let issues: Vec<_> = page.issues.into_iter().map(|listed| listed.issue).collect();
            if opts.json {
                render::issues_json(&issues, &mut out)?;
            } else {
                render::issues_table(&issues, &lines, &style, &mut out)?;
                if style.width.is_some() && !issues.is_empty() {
                    // A person at a terminal: where to look further.
                    writeln!(
                        out,
                        "\nthe same view in a browser (run `faultline serve`):\nhttp://127.0.0.1:7878{}",
                        browser_view(filter, since)
                    )
                    .map_err(Error::Output)?;
                }
            }
        }
        IssuesAction::Show(id) => {
            let store = super::open_existing(&opts.store, Access::Read).await?;
            let resolved = store::resolve_id(store.as_ref(), &id.id).await?;
            let detail = store
                .issue(&resolved)
                .await?
                .ok_or_else(|| store::StoreError::NotFound(id.id.clone()))?;
            let runs = render::IssueRuns::of(store.as_ref(), &resolved).await?;
            if opts.json {
                render::issue_detail_json(&detail, Some(&runs), &mut out)?;
            } else {
                render::issue_detail(&detail, &style, &mut out)?;
                render::issue_runs(&runs, &mut out)?;
            }
        }
        IssuesAction::Resolve { id, in_version } => {
            let change = change::resolve(in_version.as_deref()).map_err(triage_error)?;
            set_status(&opts, id, change, &mut out).await?
        }
        IssuesAction::Ignore {
            id,
            until,
            for_count,
        } => {
            let change = change::ignore(until.as_deref(), for_count, pipeline::system_clock())
                .map_err(triage_error)?;
            set_status(&opts, id, change, &mut out).await?
        }
        IssuesAction::Reopen(id) => set_status(&opts, id, StatusChange::Open, &mut out).await?,
        IssuesAction::Merge { into, from } => merge(&opts, &into, &from, &mut out).await?,
        IssuesAction::Unmerge(id) => {
            let store = super::open_existing(&opts.store, Access::Write).await?;
            let resolved = store::resolve_id(store.as_ref(), &id.id).await?;
            let issue = store.unmerge(&resolved).await?;
            if opts.json {
                render::issue_json(&issue, &mut out)?;
            } else {
                writeln!(out, "{}", render::status_line(&issue)).map_err(Error::Output)?;
            }
        }
    }
    out.flush().map_err(Error::Output)?;
    Ok(ExitCode::SUCCESS)
}

/// The `faultline serve` address of the listing these filters select.
fn browser_view(filter: &ListFilter, since: Option<i64>) -> String {
    ListQuery {
        status: filter.status,
        log_group: filter.log_group.clone(),
        kind: filter.kind.clone(),
        text: filter.grep.clone(),
        from: since.map(faultline::text::rfc3339),
        sort: match filter.sort.unwrap_or(Sort::Last) {
            Sort::Last => ViewSort::Last,
            Sort::Count => ViewSort::Count,
            Sort::First => ViewSort::First,
            Sort::Trend => ViewSort::Trend,
        },
        page: 1,
        ..ListQuery::default()
    }
    .url()
}

/// The options every action shares.
struct Opts {
    store: String,
    json: bool,
}

async fn set_status(
    opts: &Opts,
    id: IdArgs,
    change: StatusChange,
    out: &mut impl Write,
) -> Result<(), Error> {
    let store = super::open_existing(&opts.store, Access::Write).await?;
    let resolved = store::resolve_id(store.as_ref(), &id.id).await?;
    if change == StatusChange::Open {
        let current = store.issue(&resolved).await?;
        if let Some(detail) = current.filter(|d| d.issue.status == Status::Open) {
            // Nothing to change: say so rather than claim a reopening.
            return if opts.json {
                render::issue_json(&detail.issue, out)
            } else {
                writeln!(out, "{}", render::already_open_line(&detail.issue)).map_err(Error::Output)
            };
        }
    }
    let issue = store.set_status(&resolved, &change).await?;
    if opts.json {
        render::issue_json(&issue, out)
    } else {
        writeln!(out, "{}", render::status_line(&issue)).map_err(Error::Output)
    }
}

/// Merges each of `from` into `into`, one at a time, so that every merge
/// that was made is reported even when a later one is refused.
async fn merge(
    opts: &Opts,
    into: &str,
    from: &[String],
    out: &mut impl Write,
) -> Result<(), Error> {
    let store = super::open_existing(&opts.store, Access::Write).await?;
    let into = store::resolve_id(store.as_ref(), into).await?;
    let mut sources = Vec::with_capacity(from.len());
    for typed in from {
        let id = store::resolve_id(store.as_ref(), typed).await?;
        if !sources.contains(&id) {
            sources.push(id);
        }
    }
    let mut merged = None;
    for id in &sources {
        let issue = store.merge(&into, id).await?;
        if !opts.json {
            writeln!(out, "{}", render::merged_line(&issue, id)).map_err(Error::Output)?;
        }
        merged = Some(issue);
    }
    match merged {
        Some(issue) if opts.json => render::issue_json(&issue, out),
        _ => Ok(()),
    }
}

/// A triage input the shared checks refused, worded with the CLI's option
/// names; one that means nothing (a past `--until`, `--for 0`) is a usage
/// error, exit 2.
fn triage_error(e: change::ChangeError) -> Error {
    match e.option() {
        Some(_) => Error::Usage(e.describe("--")),
        None => Error::Change(e),
    }
}
