"""Generates the function-name data of `models/spark_functions/` (one JSON file per Spark version).

The names are read from pyspark's own source with `ast` (nothing is imported), so one rule
serves the installed pyspark and a source tree of any release, e.g. the `python/` folder of
apache/spark at tag `v4.0.0`, or the `pyspark-client` source archive built from that tag:

    python -m laktory_pulumi.models.spark_function_generator --installed
    python -m laktory_pulumi.models.spark_function_generator --source PYSPARK_ROOT

where PYSPARK_ROOT is the folder holding `pyspark/` (its `version.py` says the version).

A name is listed when `pyspark.sql.functions` exposes it as a public function of pyspark: a
top-level `def` of `sql/functions/builtin.py`, an alias of one (`power = pow`), or a function
that module imports from pyspark (`pandas_udf`); never a class (`PandasUDFType`) nor what it
imports from elsewhere (`typing.cast`).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

DATA_FOLDER = Path(__file__).parent / "spark_functions"


def function_names(pyspark_package: Path) -> frozenset[str]:
    """The public function names of `pyspark.sql.functions` in this pyspark package folder."""
    module = pyspark_package / "sql" / "functions" / "builtin.py"
    if not module.is_file():  # before Spark 4.0, `functions` was one module
        module = pyspark_package / "sql" / "functions.py"
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and _public(node.name):
            names.add(node.name)
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            if node.value.id in names:
                names |= {t.id for t in node.targets if isinstance(t, ast.Name) and _public(t.id)}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pyspark."):
            for alias in node.names:
                name = alias.asname or alias.name
                if _public(name) and name[0].islower():  # a class is capitalised
                    names.add(name)
    return frozenset(names)


def _public(name: str) -> bool:
    return not name.startswith("_")


def source_version(pyspark_package: Path) -> str:
    """The `__version__` of `pyspark/version.py`, read without importing it."""
    tree = ast.parse((pyspark_package / "version.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        value = getattr(node, "value", None)
        named = any(isinstance(t, ast.Name) and t.id == "__version__" for t in targets)
        if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    raise ValueError(f"no __version__ in {pyspark_package / 'version.py'}")


def data_file(version: str) -> Path:
    """Where the names of a Spark version are kept."""
    return DATA_FOLDER / f"spark-{version}.json"


def write(pyspark_package: Path, origin: str) -> Path:
    """Write the data file of the pyspark at `pyspark_package`; `origin` says where it came from."""
    version = source_version(pyspark_package)
    path = data_file(version)
    document = {
        "spark_version": version,
        "generated_by": "python -m laktory_pulumi.models.spark_function_generator",
        "origin": origin,
        "functions": sorted(function_names(pyspark_package)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


def installed_package() -> Path:
    """The folder of the installed pyspark (found without importing it)."""
    from importlib.util import find_spec

    spec = find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise SystemExit("pyspark is not installed: install laktory-pulumi[spark]")
    return Path(spec.origin).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--installed", action="store_true", help="the installed pyspark")
    which.add_argument("--source", type=Path, help="a folder holding a pyspark/ source tree")
    parser.add_argument("--origin", help="where the source came from (kept in the file)")
    args = parser.parse_args(argv)
    if args.installed:
        package, origin = installed_package(), args.origin or "the installed pyspark"
    else:
        package = args.source / "pyspark"
        origin = args.origin or f"pyspark source at {args.source.name}"
    print(f"wrote {write(package, origin)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
