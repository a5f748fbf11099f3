"""The garbage collector around work whose objects all stay alive: large validations, and a
Pulumi program's registrations."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

PROGRAM_THRESHOLDS = (50_000, 20, 20)
"""Collector thresholds of a Pulumi program: a young collection every 50,000 net allocations
(Python's default is 700), a full one after 400 of them, which a program of 2,400 resources
never reaches."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """No collection inside the block.

    Validating a large pipeline (or stack) allocates tens of thousands of objects that all stay
    alive; the collector's passes over them cost a quarter to most of the time and free nothing.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def collect_rarely_in_this_program() -> None:
    """Collect rarely for the rest of the Pulumi program's process.

    A program's objects live until it ends: the loaded stack, and every resource's inputs,
    outputs and futures, which Pulumi resolves after the program's code has returned (so a
    block cannot scope this). With Python's thresholds, full collections scanned them about
    eight times per preview of 200 pipelines: 5.7 to 9.5 s of a 23 to 27 s run, freeing
    nothing. Young collections still free short-lived cycles. Whoever runs a program inside
    a longer process restores the thresholds (`collector_thresholds_kept`).
    """
    gc.set_threshold(*PROGRAM_THRESHOLDS)


@contextmanager
def collector_thresholds_kept() -> Iterator[None]:
    """The collector's thresholds after the block are those before it."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
