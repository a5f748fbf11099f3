"""When a triggered pipeline runs: a Databricks job with one pipeline task on a cron schedule."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import Model, UpperCase


class Schedule(Model):
    """A cron schedule, in the Jobs API's own names (`jobs.CronSchedule`)."""

    quartz_cron_expression: str = Field(
        min_length=1,
        description="Quartz cron expression, e.g. `0 0 6 * * ?` (every day at 06:00).",
    )
    timezone_id: str = Field(
        default="UTC", min_length=1, description="Java time zone of the expression, e.g. `UTC`."
    )
    pause_status: Annotated[Literal["PAUSED", "UNPAUSED"], UpperCase] = Field(
        default="UNPAUSED", description="PAUSED keeps the job without running it."
    )
    full_refresh: bool = Field(
        default=False,
        description="Every scheduled update is a full refresh (recomputes every table).",
    )
