//! `faultline runs`: the runs of batch jobs, newest first, and one run with
//! its issues.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;

use faultline::model::{Issue, Run, RunSource};
use faultline::runs::lifecycle::{impact, share, thousands};
use faultline::store::{self, DEFAULT_URL, RunFilter, Store};
use faultline::text::{printable, rfc3339};

use super::{Access, Error, render};

/// The options of `runs` are global, as for `issues`: they mean the same
/// before or after the action.
#[derive(Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    action: Option<RunsAction>,
    /// Where runs are kept: sqlite:PATH or dynamodb://TABLE.
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
    /// Only runs with log events in this log group.
    #[arg(long, global = true, value_name = "LOG_GROUP")]
    log_group: Option<String>,
    /// At most this many runs, the newest (50 unless told).
    #[arg(long, global = true, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    limit: Option<u32>,
}

/// How many runs `faultline runs` lists unless told: a screenful of an
/// hourly job's last two days.
const DEFAULT_LIMIT: u32 = 50;

#[derive(Subcommand)]
enum RunsAction {
    /// List runs, newest first (the default).
    List,
    /// Show one run: its issues, which were new in it, which regressed and
    /// which a retry recovered from.
    Show {
        /// The run id (or a unique prefix), or its execution ARN or name,
        /// Batch job id, ECS task id or run id value.
        run: String,
    },
    /// Remove a run from the store: it is no longer listed, nor settled.
    ///
    /// The way out for a run whose settlement fails for good (the warning
    /// at every flush names it): its record and its links to issues go,
    /// even when they can no longer be read. Its issues and their counts
    /// stay; a new-issue alert held for runs of its job stays held until a
    /// later run of the job settles it. A run not settled yet never counts
    /// as a run of its job; a settled one already did. Nothing asks for
    /// confirmation: the command says what it removed.
    Forget {
        /// The run id (or a unique prefix), or its execution ARN or name,
        /// Batch job id, ECS task id or run id value.
        run: String,
    },
}

/// What `runs forget --json` prints.
#[derive(Serialize)]
struct ForgottenView<'a> {
    forgotten: &'a str,
    links: usize,
    settled: bool,
}

/// A run as `--json` prints it: times as RFC 3339 strings.
#[derive(Serialize)]
struct RunView<'a> {
    id: &'a str,
    job: &'a str,
    name: &'a str,
    key: &'a str,
    source: RunSource,
    log_group: &'a str,
    started: Option<String>,
    ended: Option<String>,
    outcome: &'a str,
    errors: u64,
    recovered: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_items: Option<u64>,
    issues: Vec<RunIssueView<'a>>,
}

#[derive(Serialize)]
struct RunIssueView<'a> {
    id: &'a str,
    count: u64,
    recovered: u64,
    new: bool,
    regressed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    /// The issue's share of the run's items, where the run stated them.
    #[serde(skip_serializing_if = "Option::is_none")]
    impact: Option<String>,
}

fn view<'a>(run: &'a Run, issues: &'a HashMap<String, Issue>) -> RunView<'a> {
    RunView {
        id: &run.id,
        job: &run.job,
        name: &run.name,
        key: run.key.split_once(':').map_or(&run.key, |(_, k)| k),
        source: run.source,
        log_group: &run.log_group,
        started: run.started.map(rfc3339),
        ended: run.ended.map(rfc3339),
        outcome: run.outcome.as_str(),
        errors: run.errors,
        recovered: run.recovered,
        items: run.items,
        failed_items: run.failed_items,
        issues: run
            .issues
            .iter()
            .map(|i| RunIssueView {
                id: &i.id,
                count: i.count,
                recovered: i.recovered,
                new: i.new,
                regressed: i.regressed,
                title: issues.get(&i.id).map(|x| x.title.as_str()),
                status: issues.get(&i.id).map(|x| x.status.as_str()),
                impact: impact(i.count.saturating_sub(i.recovered), run.items),
            })
            .collect(),
    }
}

pub async fn run(args: RunsArgs) -> Result<ExitCode, Error> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let action = args.action.unwrap_or(RunsAction::List);
    let access = match action {
        RunsAction::Forget { .. } => Access::Write,
        RunsAction::List | RunsAction::Show { .. } => Access::Read,
    };
    if !matches!(action, RunsAction::List) && (args.log_group.is_some() || args.limit.is_some()) {
        return Err(Error::Usage(
            "--log-group and --limit choose which runs to list; they apply to no single run".into(),
        ));
    }
    let store = super::open_existing(&args.store, access).await?;
    match action {
        RunsAction::List => {
            let limit = args.limit.unwrap_or(DEFAULT_LIMIT) as usize;
            let runs = store
                .runs(&RunFilter {
                    log_group: args.log_group.clone(),
                    limit: Some(limit),
                    ..RunFilter::default()
                })
                .await
                .map_err(|e| damaged("RUN", e))?;
            if args.json {
                let none = HashMap::new();
                let views: Vec<RunView<'_>> = runs.iter().map(|r| view(r, &none)).collect();
                render::json(&views, &mut out)?;
            } else {
                table(&runs, &mut out)?;
                if runs.len() == limit {
                    writeln!(out, "(the newest {limit}; --limit N lists more)")
                        .map_err(Error::Output)?;
                }
            }
        }
        RunsAction::Show { run } => {
            let id = store::resolve_run(store.as_ref(), &run).await?;
            let run = store
                .run(&id)
                .await
                .map_err(|e| damaged(&id, e))?
                .ok_or_else(|| store::StoreError::RunNotFound(id.clone()))?;
            let issues = issues_of(store.as_ref(), &run).await?;
            if args.json {
                render::json(&view(&run, &issues), &mut out)?;
            } else {
                show(&run, &issues, &mut out)?;
            }
        }
        RunsAction::Forget { run } => {
            let id = store::resolve_run(store.as_ref(), &run).await?;
            let gone = store
                .forget_run(&id)
                .await?
                .ok_or(store::StoreError::RunNotFound(id))?;
            if args.json {
                let view = ForgottenView {
                    forgotten: &gone.run,
                    links: gone.links,
                    settled: gone.settled,
                };
                render::json(&view, &mut out)?;
            } else {
                forgotten(&gone, &mut out)?;
            }
        }
    }
    out.flush().map_err(Error::Output)?;
    Ok(ExitCode::SUCCESS)
}

/// A failure to read run `run` (a run id, or `RUN` for one of many) as
/// what it is when the record is damaged: one `runs forget` removes.
fn damaged(run: &str, e: store::StoreError) -> Error {
    if e.is_damaged() {
        Error::DamagedRun {
            run: run.to_string(),
            source: e,
        }
    } else {
        Error::Store(e)
    }
}

async fn issues_of(store: &dyn Store, run: &Run) -> Result<HashMap<String, Issue>, Error> {
    let ids: Vec<String> = run.issues.iter().map(|i| i.id.clone()).collect();
    Ok(store
        .issues_by_id(&ids)
        .await?
        .into_iter()
        .map(|issue| (issue.id.clone(), issue))
        .collect())
}

/// `12 (3 recovered)`.
fn errors_text(errors: u64, recovered: u64) -> String {
    if recovered > 0 {
        format!("{errors} ({recovered} recovered)")
    } else {
        errors.to_string()
    }
}

fn time(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".to_string(), |t| rfc3339(t)[..19].to_string())
}

fn table(runs: &[Run], out: &mut impl Write) -> Result<(), Error> {
    if runs.is_empty() {
        writeln!(
            out,
            "no runs (ingest a job's logs or its EventBridge events first; see the README's \"Runs\")"
        )
        .map_err(Error::Output)?;
        return Ok(());
    }
    let width = |f: fn(&Run) -> &str, min: usize, max: usize| {
        runs.iter()
            .map(|r| f(r).chars().count())
            .max()
            .unwrap_or(min)
            .clamp(min, max)
    };
    let (jw, nw) = (width(|r| &r.job, 3, 32), width(|r| &r.name, 4, 36));
    writeln!(
        out,
        "{:<12}  {:<jw$}  {:<nw$}  {:<19}  {:<19}  {:<9}  {:>15}  ISSUES",
        "RUN", "JOB", "NAME", "STARTED", "ENDED", "OUTCOME", "ERRORS"
    )
    .map_err(Error::Output)?;
    for run in runs {
        let new = run.issues.iter().filter(|i| i.new).count();
        let issues = if new > 0 {
            format!("{} ({new} new)", run.issues.len())
        } else {
            run.issues.len().to_string()
        };
        writeln!(
            out,
            "{:<12}  {:<jw$}  {:<nw$}  {:<19}  {:<19}  {:<9}  {:>15}  {issues}",
            run.id,
            clip(&printable(&run.job), jw),
            clip(&printable(&run.name), nw),
            time(run.started),
            time(run.ended),
            run.outcome.as_str(),
            errors_text(run.errors, run.recovered),
        )
        .map_err(Error::Output)?;
    }
    Ok(())
}

fn show(run: &Run, issues: &HashMap<String, Issue>, out: &mut impl Write) -> Result<(), Error> {
    let source = match run.source {
        RunSource::StepFunctions => "Step Functions execution",
        RunSource::Batch => "AWS Batch job",
        RunSource::Ecs => "ECS task",
        RunSource::Field => "run",
    };
    let mut text = format!(
        "{}  {} {} ({source})\n",
        run.id,
        printable(&run.job),
        printable(&run.name)
    );
    text.push_str(&format!("  outcome      {}\n", run.outcome.as_str()));
    text.push_str(&format!(
        "  key          {}\n",
        printable(run.key.split_once(':').map_or(&run.key, |(_, k)| k))
    ));
    if !run.log_group.is_empty() {
        text.push_str(&format!("  log group    {}\n", printable(&run.log_group)));
    }
    text.push_str(&format!("  started      {}\n", time(run.started)));
    text.push_str(&format!("  ended        {}\n", time(run.ended)));
    text.push_str(&format!(
        "  errors       {}\n",
        errors_text(run.errors, run.recovered)
    ));
    if let Some(items) = run.items {
        let failed = run.failed_items.unwrap_or(run.unrecovered());
        text.push_str(&format!(
            "  items        {}{}\n",
            thousands(items),
            share(failed, items).map_or(String::new(), |s| format!(" ({s} failed)"))
        ));
    }
    if run.issues.is_empty() {
        text.push_str("\nno issues in this run\n");
    } else {
        text.push_str(&format!(
            "\nissues ({}, most occurrences first)\n  {:<12}  {:>7}  {:>9}  {:<9}  TITLE\n",
            run.issues.len(),
            "ID",
            "COUNT",
            "RECOVERED",
            "IN RUN"
        ));
        for i in &run.issues {
            let what = if i.new {
                "new"
            } else if i.regressed {
                "regressed"
            } else if i.recovered >= i.count {
                "recovered"
            } else {
                "known"
            };
            let title = issues
                .get(&i.id)
                .map_or_else(String::new, |x| printable(&x.title));
            let share = impact(i.count.saturating_sub(i.recovered), run.items)
                .map_or(String::new(), |s| format!("  [{s}]"));
            text.push_str(&format!(
                "  {:<12}  {:>7}  {:>9}  {what:<9}  {}{share}\n",
                i.id,
                i.count,
                i.recovered,
                clip(&title, 70)
            ));
        }
    }
    out.write_all(text.as_bytes()).map_err(Error::Output)
}

fn forgotten(gone: &store::Forgotten, out: &mut impl Write) -> Result<(), Error> {
    let links = match gone.links {
        1 => "1 issue link".to_string(),
        n => format!("{n} issue links"),
    };
    let counted = if gone.settled {
        "it had settled, and its job's streaks keep it"
    } else {
        "it will not be settled, nor count as a run of its job"
    };
    writeln!(
        out,
        "forgot run {} and its {links}; {counted}. Its issues and their counts stay.",
        gone.run
    )
    .map_err(Error::Output)
}

/// At most `width` characters, with an ellipsis when cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(width.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}
