"""`laktory-pulumi graph PIPELINE`: the pipeline's lineage as Mermaid text, SVG or PNG."""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from pydantic import ValidationError

from ..loader import StackConfig, load_stack
from ..local.run_state import RUN_STATE_FILE, RunState
from ..models import Pipeline
from .mermaid import render_mermaid
from .model import Graph, GraphError, build_graph

EXIT_FAILED = 1
EXIT_USAGE = 2
NO_DOT = (
    "Graphviz's 'dot' program is not installed; install it with 'apt-get install graphviz' "
    "(Debian/Ubuntu) or 'brew install graphviz' (macOS), or use --format mermaid"
)
NO_PACKAGE = (
    "the graphviz Python package is not installed; install it with "
    "\"pip install 'laktory-pulumi[graph]'\", or use --format mermaid"
)


def graph_command(args: argparse.Namespace) -> int:
    """The `graph` subcommand; returns the exit code.

    Invalid definitions raise `LoadError`, reported by the CLI as `validate` reports them;
    every other refusal is one `graph: ...` line on stderr and exit 2, with nothing written.
    """
    try:
        pipeline = find_pipeline(Path(args.project), args.stack, args.pipeline)
        run_state = read_run_state(args.run_state) if args.run_state else None
        graph = build_graph(pipeline, run_state)
        if args.format == "mermaid":
            return _emit_mermaid(graph, args.output)
        return _emit_picture(
            graph, args.format, args.output or Path(f"{pipeline.name}.{args.format}")
        )
    except GraphError as error:
        print(f"graph: {error}", file=sys.stderr)
        return EXIT_USAGE


def find_pipeline(project: Path, stack: str, name: str) -> Pipeline:
    """Pipeline `name` of `stacks/pipelines`, with the variables of `stack`.

    Every file is loaded and checked, as `validate` does; the stack's own `pipelines` list
    does not apply, so any pipeline of the project can be drawn.
    """
    config = replace(StackConfig.read(project.resolve(), stack), pipelines=None)
    pipelines = load_stack(project, stack, config=config).pipelines
    if name in pipelines:
        return pipelines[name]
    close = difflib.get_close_matches(name, list(pipelines), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    found = ", ".join(sorted(pipelines)) or "none"
    raise GraphError(f"no pipeline '{name}' in stacks/pipelines{hint}; pipelines: {found}")


def read_run_state(state_dir: Path) -> RunState:
    """The latest local run of `state_dir`, or a `GraphError` saying why there is none."""
    try:
        return RunState.read(state_dir)
    except FileNotFoundError as error:
        raise GraphError(str(error)) from None
    except (OSError, ValidationError) as error:
        first = str(error).strip().splitlines()[0]
        raise GraphError(f"cannot read {state_dir / RUN_STATE_FILE}: {first}") from None


def _emit_mermaid(graph: Graph, output: Path | None) -> int:
    text = render_mermaid(graph)
    if output is None:
        sys.stdout.write(text)
        return 0
    print(f"wrote {write_atomically(output, text.encode())}")
    return 0


def _emit_picture(graph: Graph, fmt: str, output: Path) -> int:
    if shutil.which("dot") is None:
        raise GraphError(NO_DOT)
    try:
        import graphviz
    except ImportError:
        raise GraphError(NO_PACKAGE) from None
    from .dot import picture_bytes, render_digraph

    try:
        data = picture_bytes(render_digraph(graph), fmt)
    except graphviz.ExecutableNotFound:
        raise GraphError(NO_DOT) from None
    except graphviz.CalledProcessError as error:
        detail = (error.stderr or b"").decode(errors="replace").strip() or str(error)
        print(f"graph: dot failed: {detail}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {write_atomically(output, data)}")
    return 0


def write_atomically(path: Path, data: bytes) -> Path:
    """Write `data` to a temporary file of `path`'s folder, then move it onto `path`.

    A reader sees the old file or the whole new one, never half of it; the folder is created
    if needed, and the file gets the usual permissions (0666 less the umask).
    """
    if path.is_dir():
        raise GraphError(f"--output {path} is a folder; name a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, partial = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".partial", dir=path.parent
        )
    except OSError as error:  # e.g. a parent of --output is a file
        raise GraphError(f"cannot write --output {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(partial, 0o666 & ~_umask())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
