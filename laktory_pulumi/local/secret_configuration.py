"""Secret configuration values of a local run, kept out of every file of the state folder.

A pipeline's configuration reaches its notebooks through the Spark conf of the run's session,
which the driver sets from the SDP spec file it reads (`local/spec.py`). A value that received
a secret (`${env.X}`, a secret stack variable: `Stack.secret_values`) would sit in clear in that
file, and in the metadata file laid out as the deploy writes it. So the runner writes such
values in neither: the spec omits them and they reach the driver in its environment (where an
`${env.X}` value came from in the first place), and the metadata reads `[secret]` as deployed
(`deploy.secrets.SecretValues.redact_configuration`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import TypeVar

from ..deploy.secrets import SecretValues

SECRET_CONFIGURATION_ENV = "LAKTORY_SECRET_CONFIGURATION"
"""The driver's environment variable holding the secret configuration values, as JSON."""

Spec = TypeVar("Spec")


def split_configuration(
    configuration: Mapping[str, str], secrets: SecretValues
) -> tuple[dict[str, str], dict[str, str]]:
    """(values that may be written to the spec file, values that hold a secret)."""
    hidden = {key: value for key, value in configuration.items() if secrets.found_in(value)}
    plain = {key: value for key, value in configuration.items() if key not in hidden}
    return plain, hidden


def driver_environment(environment: Mapping[str, str], hidden: Mapping[str, str]) -> dict[str, str]:
    """The driver's environment, with the secret configuration values when there are any."""
    result = {key: value for key, value in environment.items() if key != SECRET_CONFIGURATION_ENV}
    if hidden:
        result[SECRET_CONFIGURATION_ENV] = json.dumps(dict(hidden))
    return result


def with_secret_configuration(spec: Spec, environ: Mapping[str, str] | None = None) -> Spec:
    """The spec (a frozen `PipelineSpec`) with the secret values of the environment added to
    its configuration; the spec itself when there are none."""
    text = (os.environ if environ is None else environ).get(SECRET_CONFIGURATION_ENV)
    if not text:
        return spec
    hidden = json.loads(text)
    configuration = {**spec.configuration, **hidden}  # type: ignore[attr-defined]
    return dataclasses.replace(spec, configuration=configuration)  # type: ignore[type-var]
