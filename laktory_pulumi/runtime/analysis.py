"""Whether the code running now may ask Spark to analyse a plan.

Spark Declarative Pipelines builds each dataset's DataFrame once, on the client, inside a
pipeline analysis context, and refuses any analysis there (`df.schema`, `df.columns`:
ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION): the tables a query reads may not exist yet. The
builders check their inputs only where analysis is allowed; the SDP backend marks its query
functions with `refusing_analysis`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

REFUSED_ERROR_CLASS = "ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION"
_refused: contextvars.ContextVar[bool] = contextvars.ContextVar("analysis_refused", default=False)


@contextmanager
def refusing_analysis() -> Iterator[None]:
    """Mark the code inside as a pipeline query function."""
    token = _refused.set(True)
    try:
        yield
    finally:
        _refused.reset(token)


def analysis_allowed() -> bool:
    """False inside a query function of a local SDP pipeline."""
    return not _refused.get()


def is_refused_analysis(error: BaseException) -> bool:
    """Whether Spark refused an analysis because it ran inside a pipeline query function."""
    return REFUSED_ERROR_CLASS in str(error)


def outside_query_context(function: Callable[[], T]) -> T:
    """Run `function` where Spark allows analysis, even from inside a query function.

    SDP's analysis context is a thread-local extension of the Spark Connect client, so a
    separate thread does not carry it. Used for what does not read pipeline datasets: inferring
    the schema of landed files.
    """
    if analysis_allowed():
        try:
            return function()
        except Exception as error:  # Spark's error types differ between classic and Connect
            if not is_refused_analysis(error):
                raise
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()
