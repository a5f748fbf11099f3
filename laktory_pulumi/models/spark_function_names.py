"""The names of `pyspark.sql.functions` per Spark version, for validating `spark_func_name`
without pyspark.

The deploy side (validation, the Pulumi program) never imports pyspark, so the names are data:
one JSON file per supported Spark version in `spark_functions/`, generated from pyspark's own
source by `models/spark_function_generator.py` (a test checks the installed version's file still
matches the installed pyspark).

A pipeline's functions are those of the Spark its DLT channel runs, since a name added later
fails on Databricks with AttributeError. The channels' runtimes, from the Lakeflow Spark
Declarative Pipelines release notes ("Current Databricks Runtime channel versions": CURRENT
Databricks Runtime 17.3, PREVIEW Databricks Runtime 18.1) and the runtimes' own notes
(17.3 LTS is powered by Apache Spark 4.0.0, 18.x by Apache Spark 4.1.0).
"""

from __future__ import annotations

import json
import sys
from functools import cache
from importlib.resources import files

# Read as package resources: on Databricks the package is imported from its wheel.
DATA_FOLDER = files(__package__).joinpath("spark_functions")

PYSPARK_VERSION = "4.3.0"
"""The pyspark local runs use (the `spark` extra): what `SPARK_FUNCTIONS` lists."""

CHANNEL_SPARK_VERSIONS: dict[str, str] = {"CURRENT": "4.0.0", "PREVIEW": "4.1.0"}
"""The Spark version of each DLT channel's Databricks Runtime (see the module's sources)."""

CHANNEL_RUNTIMES: dict[str, str] = {"CURRENT": "17.3", "PREVIEW": "18.1"}
"""The Databricks Runtime of each DLT channel, as the release notes name it."""


@cache
def spark_functions(version: str) -> frozenset[str]:
    """The function names of one Spark version (a file of `spark_functions/`)."""
    data = json.loads(DATA_FOLDER.joinpath(f"spark-{version}.json").read_text(encoding="utf-8"))
    return frozenset(data["functions"])


def channel_functions(channel: str) -> frozenset[str]:
    """The function names a pipeline of this DLT channel can call on Databricks."""
    return spark_functions(CHANNEL_SPARK_VERSIONS[channel.upper()])


def first_version_with(name: str) -> str | None:
    """The first supported Spark version whose functions include `name`, if any."""
    names = [path.name for path in DATA_FOLDER.iterdir()]
    versions = sorted(
        (n.removeprefix("spark-").removesuffix(".json") for n in names if n.startswith("spark-")),
        key=lambda v: tuple(int(part) for part in v.split(".")),
    )
    return next((v for v in versions if name in spark_functions(v)), None)


SPARK_FUNCTIONS: frozenset[str] = spark_functions(PYSPARK_VERSION)
"""The names of the pyspark local runs use."""


def installed_spark_functions() -> tuple[str, frozenset[str]]:
    """The installed pyspark's version and public function names (imports pyspark)."""
    import inspect

    import pyspark
    from pyspark.sql import functions

    names = frozenset(
        name
        for name, value in vars(functions).items()
        if not name.startswith("_")
        and inspect.isfunction(value)
        and getattr(value, "__module__", "").startswith("pyspark.")
    )
    return pyspark.__version__, names


if __name__ == "__main__":  # the command this module's docstring once gave
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m laktory_pulumi.models.spark_function_names --write")
    from .spark_function_generator import main

    sys.exit(main(["--installed"]))
