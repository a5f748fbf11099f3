"""Pausing the garbage collector around large model validations."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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
