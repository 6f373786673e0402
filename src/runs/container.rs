//! ECS tasks and AWS Batch attempts, from the awslogs stream name.
//!
//! The awslogs driver names a stream `PREFIX/CONTAINER/TASK_ID` on ECS, and
//! AWS Batch `JOB_DEFINITION/default/TASK_ID` (AWS-FACTS.md 3.4): the last
//! segment is the ECS task the container ran in, which is the run of an ECS
//! task and one attempt of a Batch job. A Batch job's state change events
//! name the task of each attempt, which is how the store folds these
//! attempts into their job ([`crate::model::RunDelta::parts`]).

use crate::model::{RunDelta, RunSource};

/// The run key of the ECS task `task_id`.
pub fn key(task_id: &str) -> String {
    format!("task:{task_id}")
}

/// The task id at the end of an ECS task ARN
/// (`arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID`, or the older
/// `...:task/ID`).
pub fn task_id_of_arn(task_arn: &str) -> Option<&str> {
    let (_, path) = task_arn.split_once(":task/")?;
    path.rsplit('/').next().filter(|id| is_task_id(id))
}

/// An ECS task id: 32 hex digits, or a UUID in the older ARN format.
pub fn is_task_id(s: &str) -> bool {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    match s.len() {
        32 => hex(s),
        36 => s.split('-').map(str::len).eq([8, 4, 4, 4, 12]) && hex(&s.replace('-', "")),
        _ => false,
    }
}

/// The run a container's log stream belongs to: its task, as an attempt of
/// a Batch job when the log group is Batch's, else as an ECS task.
pub fn identify(log_group: &str, log_stream: &str) -> Option<RunDelta> {
    let mut segments = log_stream.split('/');
    let (prefix, _container, task, rest) = (
        segments.next()?,
        segments.next()?,
        segments.next()?,
        segments.next(),
    );
    if rest.is_some() || prefix.is_empty() || !is_task_id(task) {
        return None;
    }
    let source = if log_group.starts_with("/aws/batch") {
        RunSource::Batch
    } else {
        RunSource::Ecs
    };
    Some(RunDelta::new(
        key(task),
        source,
        prefix.to_string(),
        task.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK: &str = "c13b4cb40f1f4fe4a2971f76ae5a47ad";

    #[test]
    fn the_task_id_ending_a_stream_name_is_the_run() {
        let ecs = identify("/ecs/nightly-export", &format!("export/app/{TASK}")).unwrap();
        assert_eq!(ecs.key, format!("task:{TASK}"));
        assert_eq!(ecs.source, RunSource::Ecs);
        assert_eq!((ecs.job.as_str(), ecs.name.as_str()), ("export", TASK));
        let batch = identify("/aws/batch/job", &format!("resize-images/default/{TASK}")).unwrap();
        assert_eq!(batch.source, RunSource::Batch);
        assert_eq!(batch.job, "resize-images");
    }

    #[test]
    fn other_stream_names_are_not_runs() {
        for stream in [
            "2025/11/23/[$LATEST]8e1f0c2b6a3d4f5e9b7c1d2e3f4a5b6c",
            "export/app/not-a-task",
            &format!("export/app/{TASK}/extra"),
            &format!("/app/{TASK}"),
        ] {
            assert_eq!(identify("/ecs/x", stream), None, "{stream}");
        }
    }

    #[test]
    fn task_arns_in_both_formats_give_the_task_id() {
        assert_eq!(
            task_id_of_arn(&format!(
                "arn:aws:ecs:us-west-2:1:task/FargateCluster/{TASK}"
            )),
            Some(TASK)
        );
        let old = "4c7599ae-0a82-49aa-ba5a-4727fcce14a8";
        assert_eq!(
            task_id_of_arn(&format!("arn:aws:ecs:us-east-1:1:task/{old}")),
            Some(old)
        );
        assert_eq!(task_id_of_arn("arn:aws:ecs:us-east-1:1:cluster/x"), None);
    }
}
