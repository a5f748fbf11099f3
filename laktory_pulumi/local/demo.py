"""`laktory-pulumi demo`: the stock pipeline on the bundled data, then the dev stack's plan."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

DEMO_PIPELINE = "pl-stock-prices"
DEMO_STACK = "dev"
DEMO_EVENTS: dict[Path, Path] = {
    Path("data") / "stock_prices": Path("events") / "yahoo-finance" / "stock_price",
    Path("data") / "stock_metadata": Path("events") / "yahoo-finance" / "stock_metadata",
}
"""Bundled data folder -> where under the landing root the pipeline's bronze tables read it."""
EVENTS_FOLDER = DEMO_EVENTS[Path("data") / "stock_prices"]


def land_demo_data(project: Path, landing: Path) -> list[Path]:
    """Copy the bundled event files where the pipeline's bronze tables read them.

    A file already landed is left alone: the pipeline has read it, and landing it again
    under the same name would not be read twice anyway.
    """
    landed = []
    for data, events in DEMO_EVENTS.items():
        sources = sorted((project / data).glob("*.jsonl"))
        if not sources:
            raise FileNotFoundError(f"no demo data in {project / data}")
        target = landing / events
        target.mkdir(parents=True, exist_ok=True)
        for source in sources:
            destination = target / source.name
            if not destination.exists():
                shutil.copyfile(source, destination.with_suffix(".partial"))
                # Renamed into place, so the pipeline never sees half a file.
                destination.with_suffix(".partial").replace(destination)
            landed.append(destination)
    return landed


def demo_command(args: argparse.Namespace) -> int:
    """Land the data, run the pipeline locally, print the offline plan of `pulumi up`."""
    from ..deploy.preview import preview_command
    from .runner import run_command

    project = Path(args.project).resolve()
    workdir = Path(args.workdir).resolve()
    landing = workdir / "landing"
    files = land_demo_data(project, landing)
    print(
        f"landed {len(files)} file(s) of real hourly stock prices and stock metadata under "
        f"{landing / 'events'}"
    )
    run_args = argparse.Namespace(
        pipeline=DEMO_PIPELINE,
        stack=DEMO_STACK,
        project=project,
        landing=landing,
        state=workdir / "state",
        full_refresh=False,
        table=[],
    )
    code = run_command(run_args)
    if code != 0:
        return code
    print(
        f"\nDrop more event files into {landing / EVENTS_FOLDER} and run `laktory-pulumi run "
        f"{DEMO_PIPELINE} --stack {DEMO_STACK} --landing {landing} --state {workdir / 'state'}`: "
        "only the new events are processed."
    )
    print(f"\nWhat `pulumi up --stack {DEMO_STACK}` would create (offline plan):")
    return preview_command(project, DEMO_STACK, as_json=False)
