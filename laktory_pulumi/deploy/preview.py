"""`laktory-pulumi preview`: the project's `__main__.py` under Pulumi's mock runtime.

No Pulumi CLI, no credentials, no network: `pulumi.runtime.set_mocks` stands in for the engine
and records every resource the program registers. The config is what the CLI would hand the
program: the `config:` of `Pulumi.<stack>.yaml`, structured values JSON-encoded. Encrypted
(`secure:`) values cannot be decrypted here; they become a placeholder, marked secret as the
CLI would mark them.

Each plan runs in a fresh `contextvars.Context`: the Pulumi runtime keeps its settings, config
and root stack in context variables, so plans of several stacks in one process never see each
other's resources.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import logging
import runpy
import sys
from base64 import b64decode
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func

# What `pulumi.runtime.test` itself uses to run a program to completion, inside a running
# event loop or not.
from pulumi.runtime.sync_await import _sync_await

from ..gc_pause import collector_thresholds_kept
from ..loader import LoadError, StackConfig, load_stack
from ..loader.stack import loads_reused

PROGRAM_FILE = "__main__.py"
STACK_TYPE = "pulumi:pulumi:Stack"
SECRET_PLACEHOLDER = "[secret]"
SECURE_KEY = "secure"


@dataclass(frozen=True)
class PlannedResource:
    """A resource the program registered, as the engine received it."""

    type: str
    name: str
    urn: str
    parent: str | None
    """URN of the parent resource (the stack for top-level resources)."""
    custom: bool
    protect: bool
    inputs: dict[str, Any]
    """Inputs with the engine's property names (`contentBase64`, `accessControls`, ...)."""
    secret_inputs: frozenset[str] = frozenset()
    outputs: dict[str, Any] = field(default_factory=dict)
    dependencies: frozenset[str] = frozenset()
    """URNs the resource waits for (`depends_on` and the resources its inputs come from)."""
    """What a component registered with `register_outputs` (the stack: its exports)."""


GET_GROUP = "databricks:index/getGroup:getGroup"
GET_CATALOGS = "databricks:index/getCatalogs:getCatalogs"
GET_SCHEMAS = "databricks:index/getSchemas:getSchemas"
GET_VOLUMES = "databricks:index/getVolumes:getVolumes"
GET_PIPELINES = "databricks:index/getPipelines:getPipelines"
GET_TABLES = "databricks:index/getTables:getTables"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


class OfflineMocks(pulumi.runtime.Mocks):
    """Resources get a readable placeholder id and their inputs as state.

    Offline, no workspace says what exists: a group lookup finds it, every catalog the program
    needs exists (`plan` fills `catalogs` from the definitions), and no schema, volume or pipeline of
    theirs does (the real `pulumi preview` checks them all); the stack was
    never deployed unless `previous` gives its last outputs (a stack reference to itself reads
    them, `deploy.deployed`). Other calls return nothing.
    """

    def __init__(
        self, previous: Mapping[str, Any] | None = None, catalogs: set[str] | None = None
    ) -> None:
        self.previous = dict(previous or {})
        self.catalogs: set[str] | None = catalogs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if args.typ == STACK_REFERENCE_TYPE:
            state = {**args.inputs, "outputs": self.previous, "secretOutputNames": []}
            return f"{args.name}-id", state
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == GET_GROUP:
            name = args.args.get("displayName", "")
            return {"id": f"group-{name}", "displayName": name}
        if args.token == GET_CATALOGS:
            return {"id": "catalogs", "ids": sorted(self.catalogs or ())}
        if args.token in (GET_SCHEMAS, GET_VOLUMES, GET_PIPELINES, GET_TABLES):
            return {"id": args.token, "ids": []}
        return {}


class RecordingMonitor(MockMonitor):
    """The mock monitor, also noting what the plain mocks do not see: parent, protect, secrets."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[PlannedResource] = []
        self.registered_outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        inputs: dict[str, Any] = {}
        secret_inputs: set[str] = set()
        for key in request.object:
            value = rpc.deserialize_property(request.object[key])
            if rpc.is_rpc_secret(value):
                secret_inputs.add(key)
                value = rpc.unwrap_rpc_secret(value)
            inputs[key] = _with_ints(value)
        self.registrations.append(
            PlannedResource(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent or None,
                custom=request.custom,
                protect=bool(request.protect),
                inputs=inputs,
                secret_inputs=frozenset(secret_inputs),
                dependencies=frozenset(request.dependencies),
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.registered_outputs[request.urn] = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


def plan(
    project_dir: Path,
    stack: str,
    *,
    mocks: pulumi.runtime.Mocks | None = None,
    notices: list[str] | None = None,
) -> list[PlannedResource]:
    """Every resource `pulumi up --stack <stack>` would register (with the stack itself).

    Invalid definitions raise `LoadError` before the program runs; `mocks` replaces
    `OfflineMocks` (a test's workspace without some group); `notices` receives what the
    program logged (Pulumi's info and warning diagnostics).
    """
    project_dir = Path(project_dir).resolve()
    file_config = StackConfig.read(project_dir, stack)
    engine_config, secret_keys = engine_config_of(file_config.raw)
    # Validate as the program will see the config (secure values as placeholders), so an
    # invalid definition is reported as located errors rather than a failed program.
    own_prefix = f"{file_config.project}:"
    placeholders = _without_secure_values(file_config.raw)
    own = {
        key.removeprefix(own_prefix): value
        for key, value in placeholders.items()
        if key.startswith(own_prefix)
    }
    with loads_reused():
        loaded = load_stack(
            project_dir,
            stack,
            config=StackConfig.from_settings(file_config.project, stack, own, raw=placeholders),
        )
        mocks = mocks or OfflineMocks()
        if isinstance(mocks, OfflineMocks) and mocks.catalogs is None:
            # Offline, the catalogs the definitions name exist (the real preview checks them).
            mocks.catalogs = {p.catalog for p in loaded.pipelines.values() if p.catalog}
        try:
            return contextvars.Context().run(
                _run_program,
                project_dir,
                file_config.project,
                stack,
                engine_config,
                secret_keys,
                mocks,
                notices,
            )
        except pulumi.RunError as error:
            # `__main__.py` turns the program's located errors (a group missing from the
            # workspace) into a RunError for the Pulumi CLI; here they are located errors again.
            if isinstance(error.__context__, LoadError):
                raise error.__context__ from None
            raise


def engine_config_of(raw: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The config map the CLI would pass the program, and its secret keys.

    Strings stay as they are, scalars become their YAML spelling (`true`, `2`), mappings and
    lists JSON. A key holding a `secure:` value anywhere is secret.
    """
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        if _has_secure_value(value):
            secret_keys.append(key)
        plain = _without_secure_values(value)
        if isinstance(plain, str):
            config[key] = plain
        elif isinstance(plain, bool):
            config[key] = "true" if plain else "false"
        elif isinstance(plain, (dict, list)):
            config[key] = json.dumps(plain)
        else:
            config[key] = str(plain)
    return config, sorted(secret_keys)


def _has_secure_value(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {SECURE_KEY} or any(_has_secure_value(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure_value(item) for item in value)
    return False


def _without_secure_values(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {SECURE_KEY}:
            return SECRET_PLACEHOLDER
        return {key: _without_secure_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_secure_values(item) for item in value]
    return value


def _run_program(
    project_dir: Path,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    mocks: pulumi.runtime.Mocks,
    notices: list[str] | None = None,
) -> list[PlannedResource]:
    def main() -> None:
        # As the Python language host does: the project folder importable, __name__ "__main__".
        sys.path.insert(0, str(project_dir))
        try:
            runpy.run_path(str(project_dir / PROGRAM_FILE), run_name="__main__")
        finally:
            sys.path.remove(str(project_dir))

    return run_under_mocks(main, project, stack, config, secret_keys, mocks, notices)


class _Notices(logging.Handler):
    """Collects the program's `pulumi.log` diagnostics, which the mock engine logs."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


def run_under_mocks(
    body: Callable[[], None],
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    mocks: pulumi.runtime.Mocks | None = None,
    notices: list[str] | None = None,
) -> list[PlannedResource]:
    """Run a Pulumi program `body` under the offline mocks; what it registered, with outputs.

    Call it in a fresh `contextvars.Context`: Pulumi's runtime settings live in context
    variables, and each run must start clean. `notices` receives the program's log messages.
    """
    mocks = mocks or OfflineMocks()
    monitor = RecordingMonitor(mocks)
    logger = logging.getLogger(f"laktory_pulumi.preview.{id(monitor)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers = [_Notices(notices if notices is not None else [])]
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, monitor=monitor, logger=logger)
    pulumi.runtime.set_all_config(config, secret_keys)
    root = get_root_resource()
    exports: dict[str, Any] = {}

    async def program() -> None:
        body()
        # The mock root stack registered its outputs before the program ran; read the exports
        # from it directly.
        exports.update(await pulumi.Output.from_input(getattr(root, "outputs", {})).future())

    with collector_thresholds_kept():  # a program raises them for its process
        _sync_await(run_pulumi_func(program))
    return [
        replace(
            resource,
            outputs=_plain(
                exports
                if resource.type == STACK_TYPE
                else monitor.registered_outputs.get(resource.urn, {})
            ),
        )
        for resource in monitor.registrations
    ]


def _with_ints(value: Any) -> Any:
    """Protobuf carries every number as a double; `2.0` workers were `2` in the program."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _with_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_ints(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    """Outputs as JSON-able values (unknowns and secrets unwrapped)."""
    if rpc.is_rpc_secret(value):
        return SECRET_PLACEHOLDER
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return _with_ints(value)
    return str(value)


def preview_command(
    project_dir: Path, stack: str, *, as_json: bool = False, deployed: Path | None = None
) -> int:
    """Print the plan of `stack`: a tree, or JSON with every input; secrets never shown.

    `deployed`: a JSON file holding what the stack deployed last (its `deployed` output, or the
    one of the base branch's plan in a pull request): the plan compares with it as `pulumi
    preview` compares with the stack's own outputs (`deploy.deployed`).
    """
    notices: list[str] = []
    previous = {"deployed": json.loads(deployed.read_text())} if deployed is not None else None
    mocks = OfflineMocks(previous) if previous is not None else None
    resources = plan(Path(project_dir), stack, mocks=mocks, notices=notices)
    for notice in notices:
        print(notice, file=sys.stderr)
    if as_json:
        print(json.dumps([_as_json(resource) for resource in resources], indent=2))
    else:
        print(f"Resources of stack {stack} (offline plan: Pulumi mock runtime, no Pulumi CLI):")
        print(render_tree(resources))
        exports = next((r.outputs for r in resources if r.type == STACK_TYPE), {})
        if exports:
            print("Outputs (ids and URLs are known after deploy):")
            print(json.dumps(exports, indent=2, sort_keys=True))
    return 0


def _as_json(resource: PlannedResource) -> dict[str, Any]:
    return {
        "type": resource.type,
        "name": resource.name,
        "urn": resource.urn,
        "parent": resource.parent,
        "protect": resource.protect,
        "inputs": _shown_inputs(resource, summarize_content=False),
        "secret_inputs": sorted(resource.secret_inputs),
        "outputs": resource.outputs,
    }


def render_tree(resources: list[PlannedResource]) -> str:
    """`type name` lines indented under their parent, each with its inputs below it."""
    children: dict[str | None, list[PlannedResource]] = {}
    for resource in resources:
        children.setdefault(resource.parent, []).append(resource)
    lines: list[str] = []

    def visit(resource: PlannedResource, depth: int) -> None:
        indent = "    " * depth
        flags = "  [protect]" if resource.protect else ""
        lines.append(f"{indent}{resource.type}  {resource.name}{flags}")
        for key, value in _shown_inputs(resource, summarize_content=True).items():
            if isinstance(value, list) and value:
                lines.append(f"{indent}    | {key}:")
                lines.extend(f"{indent}    |   - {_compact(item)}" for item in value)
            else:
                lines.append(f"{indent}    | {key}: {_compact(value)}")
        # By name: registration order depends on when each resource's inputs resolve.
        for child in sorted(children.get(resource.urn, []), key=lambda r: (r.name, r.type)):
            visit(child, depth + 1)

    urns = {resource.urn for resource in resources}
    for root in (r for r in resources if r.parent is None or r.parent not in urns):
        visit(root, 0)
    total = sum(1 for resource in resources if resource.custom)
    lines.append(f"{total} resources to create")
    return "\n".join(lines)


def _shown_inputs(resource: PlannedResource, *, summarize_content: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for key, value in sorted(resource.inputs.items()):
        if key in resource.secret_inputs:
            shown[key] = SECRET_PLACEHOLDER
        elif key == "contentBase64" and summarize_content and isinstance(value, str):
            shown[key] = _content_summary(value)
        else:
            shown[key] = value
    return shown


@functools.lru_cache(maxsize=16)
def _content_summary(content_base64: str) -> str:
    """`N bytes, sha256 ...` of an upload, computed once per content: every pipeline of a stack
    uploads the same wheel."""
    content = b64decode(content_base64)
    return f"{len(content)} bytes, sha256 {hashlib.sha256(content).hexdigest()[:12]}"


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
