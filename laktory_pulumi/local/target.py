"""Where a local run runs, and the checks on the paths it is given, before anything starts.

By default a run uses the state folder's warm local engine (`engine.py`), which reads and
writes the state folder. With `--remote sc://HOST:PORT` (or `SPARK_REMOTE`) it runs on a Spark
Connect server the user started, perhaps on a cluster: the server then reads the landing folder
and writes the pipeline's storage itself, so both must be paths it can reach. A relative path
would be resolved against the server's working directory, and the state folder is this
machine's, so both are refused with a one-line message saying what to pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

REMOTE_ENV = "SPARK_REMOTE"
REMOTE_SCHEME = "sc://"


@dataclass(frozen=True)
class RunTarget:
    """The Spark Connect server of a run (None: the local engine) and its storage root URI."""

    remote: str | None = None
    storage: str | None = None

    @classmethod
    def parse(cls, remote: str | None, storage: str | None, landing: Path) -> RunTarget | str:
        """The target of `run`'s options, or the one-line message of what is wrong."""
        storage_uri = None
        if storage:
            storage_uri = storage_root_uri(storage)
            if storage_uri is None:
                return (
                    f"--storage: {storage} is relative; give an absolute path or a URI "
                    "(file:///..., hdfs://..., s3a://...) the Spark server can write"
                )
        if not remote:
            return cls(None, storage_uri)
        if not remote.startswith(REMOTE_SCHEME) or not urlparse(remote).hostname:
            return f"--remote: {remote} is not a Spark Connect URL (sc://HOST:PORT)"
        if storage_uri is None:
            return (
                f"--remote {remote}: pass --storage, an absolute path or URI that server can "
                "write (the pipeline's checkpoints); the state folder is on this machine"
            )
        if not landing.is_absolute():
            return (
                f"--landing: {landing} is relative; with --remote it must be an absolute path "
                f"the server at {remote} can read"
            )
        if not landing.is_dir():
            return (
                f"--landing: {landing} is not a folder; with --remote it must be a folder "
                f"shared with the server at {remote} (the same path on both machines)"
            )
        return cls(remote, storage_uri)


def storage_root_uri(text: str) -> str | None:
    """`text` as the absolute URI SDP wants for its storage root; None when relative."""
    parsed = urlparse(text)
    if len(parsed.scheme) > 1:
        return text if parsed.path.startswith("/") or parsed.netloc else None
    path = Path(text).expanduser()
    return path.as_uri() if path.is_absolute() else None


def remote_from_environment() -> str | None:
    """`SPARK_REMOTE` when it names a Spark Connect server (`sc://...`), else None.

    pyspark also accepts `local` there, which means no server: a plain local run.
    """
    value = os.environ.get(REMOTE_ENV, "")
    return value if value.startswith(REMOTE_SCHEME) else None


def state_folder_problem(state: Path) -> str:
    """Why `state` cannot be a state folder ('' when it can): it, or a parent, is a file."""
    path = state.expanduser().absolute()
    for candidate in (path, *path.parents):
        if candidate.exists():
            if candidate.is_dir():
                return ""
            if candidate == path:
                return f"{state} is a file, not a folder"
            return f"{state} lies under {candidate}, which is a file, not a folder"
    return ""
