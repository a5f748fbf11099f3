"""The `test` subcommand: select the tests, run them on the warm engine, report.

Exit codes: 0 when every selected test passed, 1 when one failed (or could not run), 2 when a
test is invalid (a located error, as `validate` prints it), 3 when another run holds the test
state folder.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from ..loader import LoadError, load_stack
from ..loader.errors import LocatedError
from ..loader.yaml_source import YamlSource, parse_yaml
from ..local.engine import idle_seconds_default
from ..local.layout import StateLayout
from ..local.run_lock import hold_run_lock
from ..models import Pipeline
from ..models.base import format_path
from ..models.table_test import TableTest
from .execute import Outcome, run_test
from .inputs import as_one_batch
from .junit import write_junit

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_BUSY = 3
DEFAULT_STATE = Path(".laktory-test")


@dataclass(frozen=True)
class Selected:
    """A test to run, with its pipeline and where it is declared."""

    pipeline: Pipeline
    test: TableTest
    location: str


def test_command(args: argparse.Namespace) -> int:
    """Run the selected tests; print each outcome and a summary; write `--junit`."""
    project = Path(args.project).resolve()
    stack = load_stack(project, args.stack, only=args.pipeline or None)
    chosen = select(stack.pipelines, stack.files, project, args.select)
    if args.select and not chosen:
        print(f"no test or table named {', '.join(args.select)} has a test", flush=True)
        return EXIT_INVALID
    if not chosen:
        print("no tests: add `tests:` to a pipeline file (see README, Commands)")
        if args.junit:
            write_junit(Path(args.junit), [])
        return 0
    layout = StateLayout.at(Path(args.state))
    idle = idle_seconds_default() if args.idle_timeout is None else args.idle_timeout
    started = time.monotonic()
    with hold_run_lock(layout) as acquired:
        if not acquired:
            print(f"another run is using {layout.root}; wait for it or pick another --state")
            return EXIT_BUSY
        outcomes = _run_all(chosen, layout, project, idle)
    seconds = time.monotonic() - started
    if args.junit:
        write_junit(Path(args.junit), outcomes)
    passed = sum(outcome.status == "passed" for outcome in outcomes)
    failed = sum(outcome.status == "failed" for outcome in outcomes)
    errors = len(outcomes) - passed - failed
    print(
        f"{len(outcomes)} test{'s' if len(outcomes) != 1 else ''}: {passed} passed, "
        f"{failed} failed, {errors} could not run, in {seconds:.1f} s"
    )
    return 0 if passed == len(outcomes) else EXIT_FAILED


def _run_all(
    chosen: list[Selected], layout: StateLayout, project: Path, idle: float
) -> list[Outcome]:
    from .session import engine_session

    outcomes: list[Outcome] = []
    batches: dict[str, Pipeline] = {}
    with engine_session(layout, idle) as spark:
        for selected in chosen:
            pipeline = selected.pipeline
            if pipeline.name not in batches:
                batches[pipeline.name] = as_one_batch(pipeline)
            outcome = run_test(
                spark,
                batches[pipeline.name],
                selected.test,
                pipeline=pipeline.name,
                location=selected.location,
                project=project,
                folder=layout.root / "tests" / pipeline.name / selected.test.name,
            )
            for line in report_lines(outcome):
                print(line, flush=True)
            outcomes.append(outcome)
    return outcomes


def report_lines(outcome: Outcome) -> list[str]:
    """`PASS name (table) 0.4 s`, or `FAIL`/`ERROR` with where the test is and why."""
    test = outcome.test
    if outcome.status == "passed":
        return [f"PASS {test.name} ({test.table}) {outcome.seconds:.1f} s"]
    word = "FAIL" if outcome.status == "failed" else "ERROR"
    head = f"{word} {test.name} ({test.table}) at {outcome.location}"
    return [head, *(f"  {line}" for line in outcome.lines)]


def select(
    pipelines: dict[str, Pipeline],
    files: dict[str, Path],
    project: Path,
    names: list[str],
) -> list[Selected]:
    """The tests named in `names` (by test or table name; all when empty), with their
    locations; a given or expected `file` missing from the project is a located error."""
    chosen: list[Selected] = []
    errors: list[LocatedError] = []
    for pipeline in pipelines.values():
        if not pipeline.tests:
            continue
        path = files[pipeline.name]
        shown = str(path.relative_to(project)) if path.is_relative_to(project) else str(path)
        source = parse_yaml(path.read_text(), shown)
        for index, test in enumerate(pipeline.tests):
            if names and test.name not in names and test.table not in names:
                continue
            line, column = source.mark_of(("tests", index, "name"))
            errors += _missing_files(source, index, test, project)
            chosen.append(Selected(pipeline, test, f"{shown}:{line}:{column}"))
    if errors:
        raise LoadError(errors)
    return chosen


def _missing_files(
    source: YamlSource, index: int, test: TableTest, project: Path
) -> list[LocatedError]:
    wanted = [
        (("tests", index, "given", position, "file"), given.file)
        for position, given in enumerate(test.given)
    ]
    wanted.append((("tests", index, "expect", "file"), test.expect.file))
    return [
        source.error(path, format_path(path), f"no file {file} in the project")
        for path, file in wanted
        if file is not None and not (project / file).is_file()
    ]
