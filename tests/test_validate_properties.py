"""Whatever the files say, loading them ends in `ok` or in located errors, never a traceback.

Hypothesis mutates the stock pipeline file and the dev stack file: text (stray tokens, YAML
syntax, variables, bad bytes, tabs), and structure (a value of another type, a removed or unknown
key, deep nesting, variables in keys and values). Every outcome must be a loaded stack, or
`LoadError`s whose every line reads `file:line:column: field: message`, each within a time
bound. Deterministic (`derandomize=True`): the same examples run every time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from laktory_pulumi.cli import main
from laktory_pulumi.loader import LoadError, load_stack

REPO = Path(__file__).resolve().parent.parent
PIPELINE = "stacks/pipelines/pl-stock-prices.yaml"
STACK = "Pulumi.dev.yaml"
PIPELINE_TEXT = (REPO / PIPELINE).read_text()
STACK_TEXT = (REPO / STACK).read_text()
SECONDS_PER_EXAMPLE = 3.0

# About 15 s in all: out of the quick lane, in the full suite (.ci/run).
pytestmark = pytest.mark.slow

LOCATED = re.compile(
    r"^(?P<file>[^\n]+?):(?P<line>[1-9]\d*):(?P<column>[1-9]\d*): [^\n]+?: [^\n]+$"
)

# Tokens that broke or fooled the loader once, or might: YAML syntax, variables, odd scalars.
TOKENS = [
    "${vars.",
    "${vars.catalog}",
    "${vars.${vars.catalog}}",
    "${var.catalog}",
    "${env.LAKTORY_PROPERTY_UNSET}",
    "${secret.scope/key}",
    "${nope}",
    "}",
    "<<: *a",
    "&a ",
    "*a",
    "*undefined",
    "[",
    "]",
    "{",
    ": ",
    "- ",
    "\t",
    "'",
    '"',
    "~",
    "null",
    "1e999",
    "2024-13-45",
    "!!binary x",
    "!!python/object:os.system",
    "? ",
    "---\n",
    "...",
    "\x07",
    "\u00e9",
    "#",
    "\n  ",
    " quarantine: true",
    " layer: GOLD",
]


def project(tmp_path: Path, pipeline: bytes, stack: bytes) -> Path:
    root = tmp_path / "project"
    if root.exists():
        shutil.rmtree(root)
    (root / "stacks" / "pipelines").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: lakehouse\nruntime: python\n")
    (root / STACK).write_bytes(stack)
    (root / PIPELINE).write_bytes(pipeline)
    (root / "notebooks").symlink_to(REPO / "notebooks", target_is_directory=True)
    return root


def check_outcome(root: Path) -> str:
    """`ok`, or `errors` after checking each is located; anything else fails the test."""
    started = time.perf_counter()
    try:
        load_stack(root, "dev")
        outcome = "ok"
    except LoadError as error:
        assert error.errors, "a LoadError without errors"
        for line in str(error).splitlines():
            assert LOCATED.match(line), f"not a located error: {line!r}"
        outcome = "errors"
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS_PER_EXAMPLE, f"took {elapsed:.1f} s"
    return outcome


@st.composite
def text_mutations(draw: st.DrawFn, text: str) -> bytes:
    """`text` with a few tokens inserted, spans deleted or lines duplicated; sometimes bad bytes."""
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "duplicate"]))
        if action == "insert":
            text = text[:position] + draw(st.sampled_from(TOKENS)) + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 20)) :]
        else:
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, max(len(lines) - 1, 0)))
            text = "".join([*lines[: index + 1], *lines[index:]])
    data = text.encode()
    if draw(st.integers(0, 9)) == 0:
        position = draw(st.integers(0, len(data)))
        data = (
            data[:position]
            + draw(st.sampled_from([b"\xe9", b"\xff\xfe", b"\x80"]))
            + data[position:]
        )
    return data


ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["${vars.catalog}", "x_${vars.min_workers}", "${vars.nope}", "${var.catalog"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.builds(lambda depth: _nested(depth), st.integers(1, 300)),
)


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def _paths(data: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            found.extend(_paths(value, (*path, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(_paths(value, (*path, index)))
    return found


@st.composite
def structure_mutations(draw: st.DrawFn, text: str) -> bytes:
    """`text` parsed, one value replaced, removed or given a sibling, and written back."""
    data = yaml.safe_load(text)
    path = draw(st.sampled_from(_paths(data)[1:]))
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    action = draw(st.sampled_from(["replace", "remove", "sibling", "key-variable"]))
    if action == "replace":
        parent[path[-1]] = draw(ODD_VALUES)
    elif action == "remove":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        key = (
            "${vars.catalog}" if action == "key-variable" else draw(st.text(min_size=1, max_size=6))
        )
        parent[key] = draw(ODD_VALUES)
    else:
        parent.append(draw(ODD_VALUES))
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()
    except (yaml.YAMLError, RecursionError):
        return text.encode()


PROPERTY_SETTINGS = settings(
    derandomize=True,
    deadline=None,  # the time bound is asserted per example, with a clearer message
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@settings(PROPERTY_SETTINGS, max_examples=120)
@given(st.one_of(text_mutations(PIPELINE_TEXT), structure_mutations(PIPELINE_TEXT)))
def test_a_mutated_pipeline_file_loads_or_gives_located_errors(
    tmp_path: Path, pipeline: bytes
) -> None:
    check_outcome(project(tmp_path, pipeline, STACK_TEXT.encode()))


@st.composite
def variable_mutations(draw: st.DrawFn) -> bytes:
    """The stack file with one variable of `lakehouse:vars` changed, removed, or added."""
    data = yaml.safe_load(STACK_TEXT)
    variables = data["config"]["lakehouse:vars"]
    name = draw(st.sampled_from([*variables, "extra"]))
    if draw(st.booleans()) and name in variables:
        del variables[name]
    else:
        variables[name] = draw(st.one_of(ODD_VALUES, st.just({"secure": "v1:AAAA"})))
    return yaml.safe_dump(data, sort_keys=False).encode()


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(variable_mutations())
def test_mutated_stack_variables_load_or_give_located_errors(tmp_path: Path, stack: bytes) -> None:
    check_outcome(project(tmp_path, PIPELINE_TEXT.encode(), stack))


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(st.one_of(text_mutations(STACK_TEXT), structure_mutations(STACK_TEXT)))
def test_a_mutated_stack_file_loads_or_gives_located_errors(tmp_path: Path, stack: bytes) -> None:
    check_outcome(project(tmp_path, PIPELINE_TEXT.encode(), stack))


@pytest.mark.parametrize(
    "pipeline",
    [
        PIPELINE_TEXT.replace("target: finance", "target: caf\xe9").encode("latin-1"),
        PIPELINE_TEXT.replace("target: finance", "target: " + "[" * 3000 + "]" * 3000).encode(),
        PIPELINE_TEXT.replace("permissions:", "permissions: &p\n  - *p\nx:").encode(),
    ],
    ids=["latin-1", "deep", "alias-cycle"],
)
def test_validate_as_a_user_runs_it_prints_located_lines(tmp_path: Path, pipeline: bytes) -> None:
    root = project(tmp_path, pipeline, STACK_TEXT.encode())
    result = subprocess.run(
        [sys.executable, "-m", "laktory_pulumi.cli", "validate", "--stack", "dev"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()
    for line in result.stderr.splitlines():
        assert LOCATED.match(line), line
        assert line.startswith(f"{PIPELINE}:")


def test_the_property_harness_accepts_the_stock_files(tmp_path: Path) -> None:
    assert check_outcome(project(tmp_path, PIPELINE_TEXT.encode(), STACK_TEXT.encode())) == "ok"
    assert main(["validate", "--project", str(tmp_path / "project")]) == 0
