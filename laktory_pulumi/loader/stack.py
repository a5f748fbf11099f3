"""A Pulumi stack's config and the YAML definitions of `stacks/`, read without the Pulumi CLI."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..gc_pause import collector_paused
from ..models import Cluster, Pipeline
from ..models.base import format_path
from ..models.sql_inputs import sql_parsing
from ..models.udf import MODULES_FOLDER, modules_found_in
from .errors import LoadError, LocatedError
from .libraries import with_notebooks
from .validation import validate
from .variables import substitute
from .yaml_source import YamlSource, read_yaml_file

DEFAULT_LAKTORY_ROOT = "/.laktory/"
"""The parent of every stack's default laktory root (`/.laktory/<stack>/`)."""
SECURE_KEY = "secure"
# The engine hands every config value to the program as text: booleans as `true`/`false`.
_BOOLEAN_TEXT = {"true": True, "false": False}

Locate = Callable[[str, str], LocatedError]
"""(config key, message) -> the error located at that key of `Pulumi.<stack>.yaml`."""


def default_laktory_root(stack: str) -> str:
    """`/.laktory/<stack>/`: two stacks in one workspace never share a folder by default."""
    return f"{DEFAULT_LAKTORY_ROOT}{stack}/"


def default_name_prefix(stack: str) -> str:
    """`[<stack>] `: the prefix of every deployed name, as Asset Bundles' development mode does.

    Databricks Asset Bundles prefix the names of a development target's resources with
    `[dev <user>] ` so that several deployments share a workspace (docs.databricks.com, "Databricks
    Asset Bundle deployment modes", development mode). Per stack here, so dev and prod never
    collide unless a stack config sets both prefixes alike.
    """
    return f"[{stack}] "


@dataclass(frozen=True)
class StackConfig:
    """What `Pulumi.<stack>.yaml` says, under the project's namespace."""

    project: str
    stack: str
    variables: dict[str, Any] = field(default_factory=dict)
    pipelines: tuple[str, ...] | None = None
    protect: bool = False
    laktory_root: str = DEFAULT_LAKTORY_ROOT
    name_prefix: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    secret_variables: frozenset[str] = frozenset()
    """The variables whose value is secret: those the stack file encrypts (`secure:`), or all
    of them when the engine says `vars` is secret and the file does not say which."""

    @classmethod
    def read(cls, project_dir: Path, stack: str) -> StackConfig:
        """Read `Pulumi.yaml` and `Pulumi.<stack>.yaml` of `project_dir`; located errors."""
        project_file = project_dir / "Pulumi.yaml"
        stack_file = project_dir / f"Pulumi.{stack}.yaml"
        project = _read_mapping(project_file).data.get("name")
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
        source = _read_mapping(stack_file)
        raw = source.data.get("config")
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise LoadError(
                [source.error(("config",), "config", "config must be a mapping of key: value")]
            )
        prefix = f"{project}:"
        own = {key.split(":", 1)[1]: value for key, value in raw.items() if key.startswith(prefix)}

        def locate(key: str, message: str) -> LocatedError:
            path = ("config", f"{prefix}{key}")
            where = path if path in source.key_marks else ("config",)
            return source.error(where, f"config.{prefix}{key}", message, key=True)

        return cls.from_settings(project, stack, own, raw=raw, locate=locate)

    @classmethod
    def from_settings(
        cls,
        project: str,
        stack: str,
        settings: dict[str, Any],
        *,
        raw: dict[str, Any] | None = None,
        locate: Locate | None = None,
        secret_variables: frozenset[str] | None = None,
    ) -> StackConfig:
        """Build from the project's own keys (`vars`, `pipelines`, `protect`, `laktory_root`,
        `name_prefix`); a wrong key or type is a located error, never a silent default.

        One reading of those keys for both callers: `read` (the file) and the Pulumi program
        (the config the engine hands it, every scalar as text). The secret variables are those
        holding a `secure:` value, unless the caller knows better (`secret_variables`).
        """
        locate = locate or _at_first_line(project, stack)
        errors: list[LocatedError] = []
        for key in sorted(set(settings) - set(KNOWN_KEYS)):
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            errors.append(
                locate(key, f"unknown key '{project}:{key}'{hint}; known: {', '.join(KNOWN_KEYS)}")
            )
        values = {
            key: reader(settings[key], lambda message, key=key: errors.append(locate(key, message)))
            for key, reader in _READERS.items()
            if settings.get(key) is not None
        }
        if errors:
            raise LoadError(errors)
        return cls(
            project=project,
            stack=stack,
            variables=values.get("vars", {}),
            pipelines=values.get("pipelines") or None,
            protect=values.get("protect", False),
            laktory_root=values.get("laktory_root", default_laktory_root(stack)),
            name_prefix=values.get("name_prefix", default_name_prefix(stack)),
            raw=dict(raw or {}),
            secret_variables=(
                encrypted_variables(values.get("vars", {}))
                if secret_variables is None
                else secret_variables
            ),
        )


def encrypted_variables(variables: dict[str, Any]) -> frozenset[str]:
    """The variables holding a `secure:` value, anywhere inside them, as the stack file writes
    them (`pulumi config set --secret --path 'vars.NAME' VALUE`)."""
    return frozenset(name for name, value in variables.items() if _holds_secure(value))


def _holds_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {SECURE_KEY} or any(_holds_secure(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_secure(item) for item in value)
    return False


Complain = Callable[[str], None]


def _read_vars(value: Any, complain: Complain) -> dict[str, Any]:
    if isinstance(value, dict) and set(value) == {SECURE_KEY}:
        complain(
            "vars cannot be one encrypted value: its variables could not be read without "
            "decrypting it; encrypt each secret variable alone "
            "(pulumi config set --secret --path 'vars.NAME' VALUE)"
        )
        return {}
    if not isinstance(value, dict):
        complain(f"vars must be a mapping of NAME: value, found {_kind(value)}")
        return {}
    return dict(value)


def _read_pipelines(value: Any, complain: Complain) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        complain(f"pipelines must be a list of pipeline names, found {_kind(value)}")
        return ()
    return tuple(value)


def _read_protect(value: Any, complain: Complain) -> bool:
    """Strictly true or false: a typo such as `ture` must never give an unprotected prod."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _BOOLEAN_TEXT:
        return _BOOLEAN_TEXT[value]
    complain(f"protect must be true or false, found {value!r}")
    return False


def _read_folder(value: Any, complain: Complain) -> str:
    if not isinstance(value, str) or not value.strip("/ "):
        complain(f"laktory_root must be a workspace folder such as /.laktory/dev/, found {value!r}")
        return DEFAULT_LAKTORY_ROOT
    if ".." in value.split("/"):
        complain(f"laktory_root must not climb out of its folder with '..': {value!r}")
    return _with_slashes(value)


def _read_text(value: Any, complain: Complain) -> str:
    if not isinstance(value, str):
        complain(f"name_prefix must be text, found {value!r}")
        return ""
    return value


_READERS: dict[str, Callable[[Any, Complain], Any]] = {
    "vars": _read_vars,
    "pipelines": _read_pipelines,
    "protect": _read_protect,
    "laktory_root": _read_folder,
    "name_prefix": _read_text,
}
KNOWN_KEYS = tuple(_READERS)
"""The keys of the project's namespace in `Pulumi.<stack>.yaml`."""


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def _at_first_line(project: str, stack: str) -> Locate:
    """Errors of config that comes from the engine, not the file: at the file's first line."""

    def locate(key: str, message: str) -> LocatedError:
        return LocatedError(f"Pulumi.{stack}.yaml", 1, 1, f"config.{project}:{key}", message)

    return locate


def _with_slashes(root: str) -> str:
    return "/" + root.strip("/") + "/" if root.strip("/") else "/"


def _read_mapping(path: Path) -> YamlSource:
    if not path.exists():
        raise LoadError([LocatedError(path.name, 1, 1, "(file)", f"{path} does not exist")])
    source = read_yaml_file(path, path.name)
    if not isinstance(source.data, dict):
        raise LoadError([source.error((), "(root)", "expected a mapping")])
    return source


def load_pipeline_file(
    path: Path,
    variables: dict[str, Any],
    *,
    display_path: str | None = None,
    notebooks_dir: Path | None = None,
) -> Pipeline:
    """Load and validate one pipeline file; every problem is a located error.

    With `notebooks_dir`, every `/pipelines/...` notebook library must be a file of it.
    """
    pipeline, source, _ = _load_file(path, Pipeline, variables, display_path or str(path))
    return with_notebooks(source, pipeline, notebooks_dir)


def load_cluster_file(
    path: Path, variables: dict[str, Any], *, display_path: str | None = None
) -> Cluster:
    """Load and validate one standalone cluster file; every problem is a located error."""
    return _load_file(path, Cluster, variables, display_path or str(path))[0]


M = TypeVar("M", Pipeline, Cluster)


def _load_file(
    path: Path,
    model: type[M],
    variables: dict[str, Any],
    shown: str,
    secret_variables: frozenset[str] = frozenset(),
) -> tuple[M, YamlSource, list[Any]]:
    """The validated model of one file, its parsed source (which locates its fields), and the
    values of its fields that received a secret."""
    source = read_yaml_file(path, shown)
    secret_paths = substitute(source, variables, secret_variables=secret_variables)
    if ("name",) in secret_paths:
        # The name keys the Pulumi resources (their names and URNs), which the state and every
        # preview show in clear: a value that must stay secret cannot be part of it.
        raise LoadError(
            [
                source.error(
                    ("name",),
                    "name",
                    "the name is built from a secret variable, but Pulumi shows resource names "
                    "and URNs in clear; use a literal or a variable the stack file does not "
                    "encrypt",
                )
            ]
        )
    model_value = validate(source, model)
    return (
        model_value,
        source,
        [_value_at(source.data, path) for path in sorted(secret_paths, key=str)],
    )


def _value_at(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@dataclass
class Stack:
    """The validated definitions of `stacks/` for one stack."""

    config: StackConfig
    pipelines: dict[str, Pipeline]
    clusters: dict[str, Cluster]
    files: dict[str, Path]
    marks: dict[tuple[str, str], PrincipalMarks] = field(default_factory=dict)
    """Where each definition names its principals, by (`pipeline` or `cluster`, name): what
    locates a problem found after validation (a group missing from the workspace)."""
    secret_values: tuple[Any, ...] = ()
    """The whole value of every field that received a secret (`loader.variables`), in every
    file: the deploy conceals each resource input holding one."""

    def locate(
        self, kind: str, name: str, path: tuple[str | int, ...], message: str
    ) -> LocatedError:
        """`message` at the principal field `path` of the definition `kind` `name`."""
        marks = self.marks[(kind, name)]
        line, column = marks.marks.get(path, (1, 1))
        return LocatedError(marks.file, line, column, format_path(path), message)


PRINCIPAL_FIELDS = ("group_name", "user_name", "service_principal_name")
LOCATED_FIELDS = ("name", "catalog", "target", "tables", "configuration", "stacks")
"""Fields the deploy's workspace checks blame (a missing catalog, a name taken, a table
dropped), located like principals."""


@dataclass(frozen=True)
class PrincipalMarks:
    """The (line, column) of every principal field of one file: all a stack keeps of its
    parsed YAML, whose marks would otherwise weigh several times the models."""

    file: str
    marks: dict[tuple[str | int, ...], tuple[int, int]]

    @classmethod
    def of(cls, source: YamlSource) -> PrincipalMarks:
        return cls(
            source.file,
            {**source.marks_under(LOCATED_FIELDS, 3), **source.marks_of_keys(PRINCIPAL_FIELDS)},
        )


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
    contents = tuple((str(path), _digest(path)) for path in files)
    variables = json.dumps(config.variables, sort_keys=True, default=str)
    secret = tuple(sorted(config.secret_variables))
    return (
        str(project_dir),
        stack,
        tuple(only or ()),
        variables,
        secret,
        config.pipelines,
        contents,
    )


def _digest(path: Path) -> bytes:
    """The file's sha256; what cannot be read (a folder, a broken link) is reported by the load."""
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return b"unreadable"


def _load(project_dir: Path, stack: str, only: list[str] | None, config: StackConfig) -> Stack:
    errors: list[LocatedError] = []
    pipelines: dict[str, Pipeline] = {}
    clusters: dict[str, Cluster] = {}
    files: dict[str, Path] = {}

    def shown(path: Path) -> str:
        return str(path.relative_to(project_dir))

    marks: dict[tuple[str, str], PrincipalMarks] = {}
    secret_values: list[Any] = []
    for path in sorted((project_dir / "stacks" / "pipelines").glob("*.y*ml")):
        try:
            pipeline, source, secret = _load_file(
                path, Pipeline, config.variables, shown(path), config.secret_variables
            )
            with_notebooks(source, pipeline, project_dir / "notebooks")
        except LoadError as error:
            errors.extend(error.errors)
            continue
        if pipeline.name in pipelines:
            errors.append(
                source.error(
                    ("name",),
                    "name",
                    f"pipeline '{pipeline.name}' is also defined in {shown(files[pipeline.name])}",
                )
            )
            continue
        pipelines[pipeline.name] = pipeline
        secret_values += secret
        files[pipeline.name] = path
        marks[("pipeline", pipeline.name)] = PrincipalMarks.of(source)
    cluster_files: dict[str, Path] = {}
    for path in sorted((project_dir / "stacks" / "clusters").glob("*.y*ml")):
        try:
            cluster, source, secret = _load_file(
                path, Cluster, config.variables, shown(path), config.secret_variables
            )
        except LoadError as error:
            errors.extend(error.errors)
            continue
        if cluster.name in clusters:
            # The later file would silently replace the earlier one, grants included.
            errors.append(
                source.error(
                    ("name",),
                    "name",
                    f"cluster '{cluster.name}' is also defined in "
                    f"{shown(cluster_files[cluster.name])}",
                )
            )
            continue
        clusters[cluster.name] = cluster
        secret_values += secret
        cluster_files[cluster.name] = path
        marks[("cluster", cluster.name)] = PrincipalMarks.of(source)
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
    return Stack(
        config=config,
        pipelines=pipelines,
        clusters=clusters,
        files=files,
        marks=marks,
        secret_values=tuple(secret_values),
    )
