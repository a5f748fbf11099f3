"""A pipeline's `schedule` as a `databricks.Job` with one pipeline task, and its permissions.

The job's permission levels are derived from the pipeline's, one level for one level, so a
schedule gives nobody a right the pipeline did not: CAN_VIEW sees the runs, CAN_RUN may start
and cancel them (the job's CAN_MANAGE_RUN), CAN_MANAGE and IS_OWNER stay what they are. Job
permission levels: docs.databricks.com, "Job ACLs" (CAN_VIEW, CAN_MANAGE_RUN, IS_OWNER,
CAN_MANAGE).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_databricks as databricks

from ..models import Pipeline
from .permissions import access_controls

PIPELINE_TASK_KEY = "pipeline"
JOB_LEVEL_OF_PIPELINE_LEVEL = {
    "CAN_VIEW": "CAN_VIEW",
    "CAN_RUN": "CAN_MANAGE_RUN",
    "CAN_MANAGE": "CAN_MANAGE",
    "IS_OWNER": "IS_OWNER",
}


def schedule_job_args(
    pipeline: Pipeline, pipeline_id: pulumi.Input[str], display_name: str
) -> dict[str, Any]:
    """Keyword arguments of `databricks.Job` running `pipeline` on its schedule."""
    schedule = pipeline.schedule
    assert schedule is not None, "only a scheduled pipeline has a job"
    return {
        "name": display_name,
        "schedule": databricks.JobScheduleArgs(
            quartz_cron_expression=schedule.quartz_cron_expression,
            timezone_id=schedule.timezone_id,
            pause_status=schedule.pause_status,
        ),
        "tasks": [
            databricks.JobTaskArgs(
                task_key=PIPELINE_TASK_KEY,
                pipeline_task=databricks.JobTaskPipelineTaskArgs(
                    pipeline_id=pipeline_id, full_refresh=schedule.full_refresh
                ),
            )
        ],
        # One run at a time: a pipeline refuses a second update while one runs.
        "max_concurrent_runs": 1,
    }


def job_access_controls(pipeline: Pipeline) -> list[databricks.PermissionsAccessControlArgs]:
    """The pipeline's permission entries at the matching job levels, sorted by principal."""
    return access_controls(pipeline.permissions, levels=JOB_LEVEL_OF_PIPELINE_LEVEL)
