//! The runs of each job on the static report: a timeline of runs coloured
//! by outcome, oldest first, then a table of them, newest first, with their
//! error counts and their issues linked to the issues on the page.
//!
//! A section of its own, rendered apart and placed before the issues, so
//! `faultline serve` can show it (or a job's part of it) as it is.

use std::collections::HashSet;

use askama::Template;

use crate::model::{IssueDetail, Run};

use super::format::Time;

/// Runs shown per job.
pub const RUNS_PER_JOB: usize = 60;

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsSection {
    jobs: Vec<JobView>,
}

struct JobView {
    name: String,
    summary: String,
    /// Oldest first.
    timeline: Vec<RunView>,
    /// Newest first.
    runs: Vec<RunView>,
}

#[derive(Clone)]
struct RunView {
    id: String,
    name: String,
    outcome: &'static str,
    started: Option<Time>,
    errors: String,
    issues: Vec<RunIssueView>,
}

#[derive(Clone)]
struct RunIssueView {
    id: String,
    count: u64,
    mark: &'static str,
    /// The issue is on the page: its id links to it.
    linked: bool,
}

/// The runs section for `runs` (newest first, as the store lists them);
/// empty when there are none. `issues` are the issues on the page.
pub fn section(runs: &[Run], issues: &[IssueDetail]) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let shown: HashSet<&str> = issues.iter().map(|d| d.issue.id.as_str()).collect();
    let mut jobs: Vec<(&str, Vec<&Run>)> = Vec::new();
    for run in runs {
        match jobs.iter_mut().find(|(job, _)| *job == run.job) {
            Some((_, list)) => list.push(run),
            None => jobs.push((&run.job, vec![run])),
        }
    }
    let view = |run: &Run| RunView {
        id: run.id.clone(),
        name: run.name.clone(),
        outcome: run.outcome.as_str(),
        started: run.started.map(Time::at),
        errors: if run.recovered > 0 {
            format!("{} ({} recovered)", run.errors, run.recovered)
        } else {
            run.errors.to_string()
        },
        issues: run
            .issues
            .iter()
            .map(|i| RunIssueView {
                id: i.id.clone(),
                count: i.count,
                mark: if i.new {
                    " new"
                } else if i.regressed {
                    " regressed"
                } else {
                    ""
                },
                linked: shown.contains(i.id.as_str()),
            })
            .collect(),
    };
    let jobs = jobs
        .into_iter()
        .map(|(name, list)| {
            let runs: Vec<RunView> = list.iter().take(RUNS_PER_JOB).map(|r| view(r)).collect();
            let failed = list
                .iter()
                .take(RUNS_PER_JOB)
                .filter(|r| r.outcome.is_failure())
                .count();
            JobView {
                name: name.to_string(),
                summary: format!("{} runs, {failed} failed", runs.len()),
                timeline: runs.iter().rev().cloned().collect(),
                runs,
            }
        })
        .collect();
    RunsSection { jobs }.render().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Outcome, RunIssue, RunSource};

    fn run(name: &str, outcome: Outcome) -> Run {
        Run {
            id: format!("{name}00000000"),
            key: format!("sfn:{name}"),
            source: RunSource::StepFunctions,
            job: "nightly <billing>".into(),
            name: name.into(),
            log_group: "/g".into(),
            started: Some(1_700_000_000_000),
            ended: None,
            outcome,
            last_event: 0,
            errors: 3,
            recovered: 1,
            items: None,
            failed_items: None,
            issues: vec![RunIssue {
                id: "abc123def456".into(),
                count: 3,
                recovered: 1,
                new: true,
                regressed: false,
            }],
            settled_at: None,
        }
    }

    #[test]
    fn runs_show_on_a_timeline_per_job_linked_to_their_issues() {
        let runs = [run("r2", Outcome::Failed), run("r1", Outcome::Succeeded)];
        let page = section(&runs, &[]);
        assert!(
            page.contains("nightly &lt;billing&gt;"),
            "job names are escaped: {page}"
        );
        assert!(page.contains("1 failed"), "{page}");
        let timeline = &page[page.find("class=\"timeline\"").unwrap()..];
        assert!(
            timeline.find("run succeeded").unwrap() < timeline.find("run failed").unwrap(),
            "oldest first on the timeline"
        );
        assert!(page.contains("<code>abc123def456</code> (3 new)"), "{page}");
        assert!(page.contains("3 (1 recovered)"));
        assert_eq!(section(&[], &[]), "");
    }
}
