"""`laktory-pulumi`: validate, schema, preview, run, test, graph and demo."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from .analysis.command import show_spark_output
from .loader import LoadError, load_stack
from .local.cli_options import add_engine_command, add_run_options

EXIT_INVALID = 2


def _validate(args: argparse.Namespace) -> int:
    from .analysis.command import check_deep, settings_notices
    from .analysis.landing import empty_landing_notices
    from .analysis.recompute import full_recompute_notices

    # Unknown function names are already load errors (`Pipeline` checks them against
    # pyspark's functions and the pipeline's udfs, without Spark).
    stack = load_stack(args.project, args.stack)
    if args.deep:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            print("validate --deep needs pyspark: install laktory-pulumi[spark]", file=sys.stderr)
            return EXIT_INVALID
        for notice in check_deep(stack, args.project, args.landing):
            print(f"notice: {notice}")
    for notice in settings_notices(stack, args.project):
        print(f"notice: {notice}")
    tables = sum(len(p.tables) for p in stack.pipelines.values())
    plural = "" if len(stack.pipelines) == 1 else "s"
    clusters = f", {len(stack.clusters)} cluster(s)" if stack.clusters else ""
    print(f"ok: {len(stack.pipelines)} pipeline{plural}, {tables} tables{clusters}")
    for notice in empty_landing_notices(stack, args.project):
        print(f"notice: {notice}")
    for notice in full_recompute_notices(stack, args.project):
        print(f"notice: {notice}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from .schema import schema_text, write_schemas

    if args.write:
        for path in write_schemas():
            print(f"wrote {path}")
        return 0
    sys.stdout.write(schema_text(args.kind))
    return 0


def _preview(args: argparse.Namespace) -> int:
    from .deploy.preview import preview_command

    return preview_command(args.project, args.stack, as_json=args.json, deployed=args.deployed)


def _run(args: argparse.Namespace) -> int:
    from .local.runner import run_command

    return run_command(args)


def _graph(args: argparse.Namespace) -> int:
    from .graph import graph_command

    return graph_command(args)


def _test(args: argparse.Namespace) -> int:
    from .testing.command import test_command

    return test_command(args)


def _demo(args: argparse.Namespace) -> int:
    from .local.demo import demo_command

    return demo_command(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="laktory-pulumi",
        description="Lakehouse pipelines declared in YAML, deployed by Pulumi, run by DLT or "
        "locally by Spark Declarative Pipelines.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        sub.add_argument(
            "--project", type=Path, default=Path("."), help="Pulumi project folder (default: .)"
        )
        return sub

    validate = command("validate", _validate, "check every definition of stacks/ for a stack")
    validate.add_argument("--stack", default="dev", help="Pulumi stack (default: dev)")
    validate.add_argument(
        "--deep",
        action="store_true",
        help="also analyse every table's plan with Spark, on empty inputs (needs pyspark)",
    )
    validate.add_argument(
        "--landing", type=Path, help="landing root with sample event files, for --deep"
    )

    schema = command("schema", _schema, "print the JSON Schema of a pipeline file")
    schema.add_argument("--kind", choices=["pipeline", "cluster"], default="pipeline")
    schema.add_argument("--write", action="store_true", help="rewrite the committed schema files")

    preview = command("preview", _preview, "print the resources `pulumi up` would create, offline")
    preview.add_argument("--stack", default="dev", help="Pulumi stack (default: dev)")
    preview.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    preview.add_argument(
        "--deployed",
        type=Path,
        default=None,
        help="JSON of the `deployed` output of the stack's last update (or of another plan): "
        "the preview then names the tables this change drops, and refuses it on a protected "
        "stack unless the YAML allows it",
    )

    run = command("run", _run, "run a pipeline locally with Spark Declarative Pipelines")
    run.add_argument("pipeline", help="pipeline name")
    run.add_argument("--stack", default="dev", help="Pulumi stack whose variables apply")
    run.add_argument("--landing", type=Path, default=Path("landing"), help="landing root folder")
    run.add_argument(
        "--state", type=Path, default=Path(".laktory-local"), help="local state folder"
    )
    run.add_argument("--full-refresh", action="store_true", help="rebuild every table from scratch")
    run.add_argument("--table", action="append", default=[], help="only this table (repeatable)")
    add_run_options(run)
    add_engine_command(command)

    graph = command("graph", _graph, "draw a pipeline's tables and lineage")
    graph.add_argument("pipeline", help="pipeline name")
    graph.add_argument("--stack", default="dev", help="Pulumi stack whose variables apply")
    graph.add_argument("--format", choices=["mermaid", "svg", "png"], default="mermaid")
    graph.add_argument("--output", type=Path, help="file to write (svg, png)")
    graph.add_argument("--run-state", type=Path, help="state folder of a local run, for counts")

    test = command("test", _test, "run the table tests of the pipelines on the local engine")
    test.add_argument("--stack", default="dev", help="Pulumi stack whose variables apply")
    test.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="NAME|TABLE",
        help="only the test of this name, or the tests of this table (repeatable)",
    )
    test.add_argument(
        "--pipeline", action="append", default=[], help="only this pipeline's tests (repeatable)"
    )
    test.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML here")
    test.add_argument(
        "--state",
        type=Path,
        default=Path(".laktory-test"),
        help="state folder of the tests and their warm engine (default: .laktory-test)",
    )
    test.add_argument(
        "--idle-timeout",
        type=float,
        metavar="SECONDS",
        help="how long the warm engine stays up after the tests (default: "
        "$LAKTORY_ENGINE_IDLE_SECONDS, else 900; 0 stops it when they end)",
    )

    demo = command("demo", _demo, "run the stock pipeline locally, then preview the dev stack")
    demo.add_argument("--workdir", type=Path, default=Path(".laktory-demo"), help="demo folder")
    return parser


EXIT_FAILED = 1
EXIT_BROKEN_PIPE = 141
"""What a shell reports for a program stopped by SIGPIPE (128 + 13), e.g. under `| head -1`."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script.

    No exception reaches the user as a traceback unless `--debug` asks for it: invalid inputs
    are located lines (exit 2), a closed pipe ends quietly, anything else is one line naming the
    command and the error (exit 1).
    """
    args = _parser().parse_args(argv)
    show_spark_output(args.debug)
    try:
        return _dispatch(args)
    except BrokenPipeError:  # stdout or stderr read by a program gone away (`| head -1`)
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _dispatch(args: argparse.Namespace) -> int:
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a reader gone away shows here, not at the interpreter's exit
        return code
    except LoadError as error:
        if args.debug:
            traceback.print_exc()
        for located in error.errors:
            print(located, file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise
    except Exception as error:  # the last resort: one line, never a traceback
        if args.debug:
            traceback.print_exc()
        print(f"laktory-pulumi {args.command}: {one_line(error)}", file=sys.stderr)
        if not args.debug:
            print("(run with --debug before the command to see the traceback)", file=sys.stderr)
        return EXIT_FAILED


def one_line(error: BaseException) -> str:
    """`Type: first line of the message`, the way an unexpected error is shown."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _discard_stdout() -> None:
    """Point stdout and stderr at /dev/null, so that the interpreter's last flush cannot fail.

    As the Python documentation advises for SIGPIPE (`signal` module, "Note on SIGPIPE").
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):
            pass  # not a real file (captured in tests): nothing will flush to a pipe


if __name__ == "__main__":
    sys.exit(main())
