"""No exception reaches a user as a traceback: closed pipes, unwritable outputs, bad run states."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from laktory_pulumi import cli
from laktory_pulumi.cli import EXIT_BROKEN_PIPE, EXIT_FAILED, main
from laktory_pulumi.local.run_state import RUN_STATE_FILE

REPO = Path(__file__).resolve().parent.parent
STOCK = "pl-stock-prices"


@pytest.mark.slow  # a real preview in a subprocess: about 10 s
def test_preview_into_a_closed_pipe_ends_without_a_traceback() -> None:
    # `preview | head -1`: the reader is gone before the plan is written.
    process = subprocess.Popen(
        [sys.executable, "-m", "laktory_pulumi.cli", "preview", "--stack", "dev"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    code = process.wait(timeout=120)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert code == EXIT_BROKEN_PIPE


def test_graph_output_under_a_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    output = blocker / "graph.md"
    code = main(["graph", STOCK, "--project", str(REPO), "--output", str(output)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"graph: cannot write --output {output}: ")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_non_utf8_run_state_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / RUN_STATE_FILE).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / RUN_STATE_FILE).write_bytes(b'{"pipeline": "caf\xe9"}')
    code = main(["graph", STOCK, "--project", str(REPO), "--run-state", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"graph: cannot read {tmp_path / RUN_STATE_FILE}: ")
    assert len(err.splitlines()) == 1


def test_an_unexpected_error_is_one_line_unless_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A handler failing in a way no command anticipates (a bug): the CLI's last resort.
    def broken(args: object) -> int:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(cli, "_validate", broken)
    assert main(["validate", "--project", str(REPO)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "laktory-pulumi validate: RuntimeError: disk on fire"
    assert "Traceback" not in err

    assert main(["--debug", "validate", "--project", str(REPO)]) == EXIT_FAILED
    assert "Traceback" in capsys.readouterr().err


def test_validate_errors_into_a_closed_pipe_end_without_a_traceback(tmp_path: Path) -> None:
    # `validate 2>&1 | head -1` with many errors: stderr's reader is gone as well.
    project = tmp_path / "project"
    (project / "stacks" / "pipelines").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: lakehouse\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text("config: {}\n")
    bad = "".join(f"unknown_{index}: x\n" for index in range(5000))
    (project / "stacks" / "pipelines" / "p.yaml").write_text("name: p\n" + bad)
    process = subprocess.Popen(
        [sys.executable, "-m", "laktory_pulumi.cli", "validate", "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    process.stdout.close()
    assert process.wait(timeout=120) == EXIT_BROKEN_PIPE
