"""`get_logger`: standard logging for notebooks, its level set by `LAKTORY_LOG_LEVEL`."""

from __future__ import annotations

import logging
import os

LOG_LEVEL_ENV = "LAKTORY_LOG_LEVEL"
DEFAULT_LEVEL = "INFO"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def get_logger(name: str) -> logging.Logger:
    """A logger writing to stderr at the level of `LAKTORY_LOG_LEVEL` (default INFO).

    Handlers are attached to the `laktory` parent logger once, so notebooks imported again (DLT
    re-imports them at every update) do not print each line several times.
    """
    parent = logging.getLogger("laktory")
    level = os.environ.get(LOG_LEVEL_ENV, DEFAULT_LEVEL).upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ValueError(
            f"{LOG_LEVEL_ENV}={level!r} is not a logging level "
            "(DEBUG, INFO, WARNING, ERROR or CRITICAL)"
        )
    parent.setLevel(level)
    if not parent.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        parent.addHandler(handler)
        parent.propagate = False
    short = name.removeprefix("laktory.")
    return parent.getChild(short) if short != "laktory" else parent


QUERY_CONTEXT_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
"""pyspark logs every analysis error it raises, with the JVM's whole stack, on these loggers
(`pyspark/errors/exceptions/base.py`, `_log_exception`)."""


def show_query_context_logs(show: bool) -> None:
    """Let pyspark's analysis-error logs through, or not.

    The loggers are taken as pyspark makes them (`PySparkLogger`): a plain `logging.Logger`
    of that name, made first, would be returned to pyspark, whose `logger.exception(...,
    errorClass=...)` then fails with "unexpected keyword argument 'errorClass'" in place of
    the analysis error.
    """
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # no Spark installed: nothing logs there
        return
    for name in QUERY_CONTEXT_LOGGERS:
        PySparkLogger.getLogger(name).disabled = not show
