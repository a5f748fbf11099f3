"""A Pulumi stack's config and the YAML definitions of `stacks/`, read without the Pulumi CLI."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..gc_pause import collector_paused
from ..models import Cluster, Pipeline
from ..models.sql_inputs import sql_parsing
from ..models.udf import MODULES_FOLDER, modules_found_in
from .errors import LoadError, LocatedError
from .validation import validate
from .variables import substitute
from .yaml_source import parse_yaml

DEFAULT_LAKTORY_ROOT = "/.laktory/"


@dataclass(frozen=True)
class StackConfig:
    """What `Pulumi.<stack>.yaml` says, under the project's namespace."""

    project: str
    stack: str
    variables: dict[str, Any] = field(default_factory=dict)
    pipelines: tuple[str, ...] | None = None
    protect: bool = False
    laktory_root: str = DEFAULT_LAKTORY_ROOT
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, project_dir: Path, stack: str) -> StackConfig:
        """Read `Pulumi.yaml` and `Pulumi.<stack>.yaml` of `project_dir`."""
        project_file = project_dir / "Pulumi.yaml"
        stack_file = project_dir / f"Pulumi.{stack}.yaml"
        project = _read_mapping(project_file).get("name")
        if not isinstance(project, str):
            raise LoadError([LocatedError(project_file.name, 1, 1, "name", "'name' is required")])
        if not stack_file.exists():
            stacks = sorted(
                p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml")
            )
            raise LoadError(
                [
                    LocatedError(
                        stack_file.name,
                        1,
                        1,
                        "(file)",
                        f"no stack '{stack}'; stacks here: {', '.join(stacks) or 'none'}",
                    )
                ]
            )
        raw = _read_mapping(stack_file).get("config") or {}
        own = {
            key.split(":", 1)[1]: value
            for key, value in raw.items()
            if key.startswith(f"{project}:")
        }
        return cls.from_settings(project, stack, own, raw=raw)

    @classmethod
    def from_settings(
        cls,
        project: str,
        stack: str,
        settings: dict[str, Any],
        *,
        raw: dict[str, Any] | None = None,
    ) -> StackConfig:
        """Build from the project's own keys (`vars`, `pipelines`, `protect`, `laktory_root`).

        One reading of those keys for both callers: `read` (the file) and the Pulumi program
        (the config the engine hands it).
        """
        pipelines = settings.get("pipelines")
        return cls(
            project=project,
            stack=stack,
            variables=dict(settings.get("vars") or {}),
            pipelines=tuple(pipelines) if pipelines else None,
            protect=_truthy(settings.get("protect", False)),
            laktory_root=_with_slashes(settings.get("laktory_root", DEFAULT_LAKTORY_ROOT)),
            raw=dict(raw or {}),
        )


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def _with_slashes(root: str) -> str:
    return "/" + root.strip("/") + "/" if root.strip("/") else "/"


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise LoadError([LocatedError(path.name, 1, 1, "(file)", f"{path} does not exist")])
    source = parse_yaml(path.read_text(), path.name)
    if not isinstance(source.data, dict):
        raise LoadError([source.error((), "(root)", "expected a mapping")])
    return source.data


def load_pipeline_file(
    path: Path, variables: dict[str, Any], *, display_path: str | None = None
) -> Pipeline:
    """Load and validate one pipeline file; every problem is a located error."""
    shown = display_path or str(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise LoadError(
            [LocatedError(shown, 1, 1, "(file)", error.strerror or str(error))]
        ) from None
    source = parse_yaml(text, shown)
    substitute(source, variables)
    return validate(source, Pipeline)


def load_cluster_file(
    path: Path, variables: dict[str, Any], *, display_path: str | None = None
) -> Cluster:
    """Load and validate one standalone cluster file."""
    source = parse_yaml(path.read_text(), display_path or str(path))
    substitute(source, variables)
    return validate(source, Cluster)


@dataclass
class Stack:
    """The validated definitions of `stacks/` for one stack."""

    config: StackConfig
    pipelines: dict[str, Pipeline]
    clusters: dict[str, Cluster]
    files: dict[str, Path]


def load_stack(
    project_dir: Path,
    stack: str,
    *,
    only: list[str] | None = None,
    config: StackConfig | None = None,
) -> Stack:
    """Load every definition of `stacks/`; all files are checked before any error is raised.

    `config` replaces what `Pulumi.<stack>.yaml` says; the Pulumi program passes the
    config the engine hands it (decrypted secrets included).
    """
    project_dir = project_dir.resolve()
    config = config or StackConfig.read(project_dir, stack)
    key = _load_key(project_dir, stack, only, config) if _reused is not None else None
    if _reused is not None and key in _reused:
        return _reused[key]
    # UDF and transform modules are checked in the project's notebooks folder; SQL tables'
    # queries parsed by Spark's parser, the results kept in the project.
    with (
        collector_paused(),
        modules_found_in(project_dir / MODULES_FOLDER),
        sql_parsing(project_dir),
    ):
        loaded = _load(project_dir, stack, only, config)
    if _reused is not None:
        _reused[key] = loaded
    return loaded


_LoadKey = tuple[Any, ...]
_reused: dict[_LoadKey, Stack] | None = None


@contextmanager
def loads_reused() -> Iterator[None]:
    """Within this block, loading the same definitions again returns the first load.

    `laktory-pulumi preview` validates the stack, then runs the Pulumi program, which loads it
    again; a large stack then paid twice. A module variable rather than a context variable:
    the program runs in a fresh `contextvars.Context`.
    """
    global _reused
    previous, _reused = _reused, {}
    try:
        yield
    finally:
        _reused = previous


def _load_key(
    project_dir: Path, stack: str, only: list[str] | None, config: StackConfig
) -> _LoadKey:
    """What a load depends on: arguments, variables, and every definition file's content."""
    files = sorted((project_dir / "stacks").glob("*/*.y*ml"))
    contents = tuple((str(path), hashlib.sha256(path.read_bytes()).digest()) for path in files)
    variables = json.dumps(config.variables, sort_keys=True, default=str)
    return (str(project_dir), stack, tuple(only or ()), variables, config.pipelines, contents)


def _load(project_dir: Path, stack: str, only: list[str] | None, config: StackConfig) -> Stack:
    errors: list[LocatedError] = []
    pipelines: dict[str, Pipeline] = {}
    clusters: dict[str, Cluster] = {}
    files: dict[str, Path] = {}

    def shown(path: Path) -> str:
        return str(path.relative_to(project_dir))

    for path in sorted((project_dir / "stacks" / "pipelines").glob("*.y*ml")):
        try:
            pipeline = load_pipeline_file(path, config.variables, display_path=shown(path))
        except LoadError as error:
            errors.extend(error.errors)
            continue
        if pipeline.name in pipelines:
            errors.append(
                LocatedError(
                    shown(path),
                    1,
                    1,
                    "name",
                    f"pipeline '{pipeline.name}' is also defined in {shown(files[pipeline.name])}",
                )
            )
            continue
        pipelines[pipeline.name] = pipeline
        files[pipeline.name] = path
    for path in sorted((project_dir / "stacks" / "clusters").glob("*.y*ml")):
        try:
            cluster = load_cluster_file(path, config.variables, display_path=shown(path))
        except LoadError as error:
            errors.extend(error.errors)
            continue
        clusters[cluster.name] = cluster
    if errors:
        raise LoadError(errors)
    wanted = only or (list(config.pipelines) if config.pipelines else None)
    if wanted:
        unknown = [name for name in wanted if name not in pipelines]
        if unknown:
            raise LoadError(
                [
                    LocatedError(
                        f"Pulumi.{stack}.yaml",
                        1,
                        1,
                        "pipelines",
                        f"no pipeline named {', '.join(unknown)} in stacks/pipelines "
                        f"(found: {', '.join(sorted(pipelines)) or 'none'})",
                    )
                ]
            )
        pipelines = {name: pipelines[name] for name in wanted}
    return Stack(config=config, pipelines=pipelines, clusters=clusters, files=files)
