"""Where a local run keeps things, all under one state folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StateLayout:
    """The folders and files of a state folder (`--state`, default `.laktory-local`).

    Everything a pipeline has written lives here: deleting the folder is a full reset.
    """

    root: Path

    @classmethod
    def at(cls, root: Path) -> StateLayout:
        """The layout of `root`, made absolute: Spark wants absolute URIs."""
        return cls(root.expanduser().resolve())

    @property
    def workspace(self) -> Path:
        """The local stand-in for `/Workspace`: notebooks and metadata, as deployed."""
        return self.root / "workspace"

    @property
    def spec_file(self) -> Path:
        """The Spark Declarative Pipelines spec of the pipeline."""
        return self.root / "spark-pipeline.yml"

    @property
    def spark_conf_dir(self) -> Path:
        """`SPARK_CONF_DIR`: spark-defaults.conf and log4j2.properties of the run."""
        return self.root / "spark-conf"

    @property
    def warehouse(self) -> Path:
        """Table data (`spark.sql.warehouse.dir`)."""
        return self.root / "warehouse"

    @property
    def sinks(self) -> Path:
        """What the pipeline's sinks publish: one folder of files per sink."""
        return self.root / "sinks"

    @property
    def metastore(self) -> Path:
        """The embedded Derby database of the Hive metastore (table definitions)."""
        return self.root / "metastore_db"

    @property
    def storage(self) -> Path:
        """The pipeline's storage: streaming checkpoints."""
        return self.root / "storage"

    @property
    def schemas(self) -> Path:
        """Schemas inferred from landed files on the first run, kept for the next ones."""
        return self.root / "schemas"

    @property
    def logs(self) -> Path:
        """One full Spark log per run."""
        return self.root / "logs"

    @property
    def runs(self) -> Path:
        """Run reports (see `RunState`)."""
        return self.root / "runs"

    @property
    def stop_request(self) -> Path:
        """Created by the runner on Ctrl-C: a continuous run stops after its current update."""
        return self.runs / "stop-requested"

    @property
    def engine(self) -> Path:
        """The warm local Spark Connect server of this state folder: its record, log, marks."""
        return self.root / "engine"

    def preflight_stamp(self, pipeline: str) -> Path:
        """Fingerprint of the pipeline's last metadata and code whose plans passed the pre-flight
        analysis: one per pipeline, so pipelines taking turns on a state folder each keep theirs."""
        return self.root / "preflight" / f"{pipeline}.sha256"

    @property
    def lock(self) -> Path:
        """Held while a run is going: the Derby metastore admits one process at a time."""
        return self.root / "run.lock"
