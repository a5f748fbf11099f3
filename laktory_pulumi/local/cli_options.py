"""The local runner's command-line options: `run --remote/--storage/--idle-timeout`, `engine`.

Kept apart from `cli.py` so that the local runner owns its options; nothing heavy is imported
here (the handlers import the runner and pyspark only when called).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

DEFAULT_STATE = Path(".laktory-local")

AddCommand = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def add_run_options(run: argparse.ArgumentParser) -> None:
    """The options of `run` that choose where Spark runs."""
    run.add_argument(
        "--remote",
        help="run on this Spark Connect server (sc://HOST:PORT; default: $SPARK_REMOTE when it "
        "is an sc:// URL, else the state folder's warm local engine)",
    )
    run.add_argument(
        "--storage",
        help="pipeline storage root (checkpoints): an absolute path or URI the Spark server "
        "can write; required with --remote (default: <state>/storage)",
    )
    run.add_argument(
        "--idle-timeout",
        type=float,
        metavar="SECONDS",
        help="how long the warm local engine stays up after the last run (default: "
        "$LAKTORY_ENGINE_IDLE_SECONDS, else 900; 0 stops it when the run ends)",
    )


def add_engine_command(command: AddCommand) -> None:
    """`laktory-pulumi engine status|stop --state PATH`."""
    engine = command("engine", _engine, "show or stop the warm local Spark engine of a state")
    engine.add_argument("action", choices=["status", "stop"], help="what to do")
    engine.add_argument(
        "--state", type=Path, default=DEFAULT_STATE, help="local state folder of the runs"
    )


def _engine(args: argparse.Namespace) -> int:
    from .engine_command import engine_command

    return engine_command(args.action, args.state)
