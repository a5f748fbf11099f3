"""`spark_func_name` is checked against the functions of the pipeline's DLT channel (issue #18).

The names are generated data, one file per Spark version (`models/spark_functions/`), from
pyspark's source by `models/spark_function_generator.py`. CURRENT runs Databricks Runtime 17.3
(Spark 4.0.0) and PREVIEW Databricks Runtime 18.1 (Spark 4.1.0): Lakeflow Spark Declarative
Pipelines release notes, "Current Databricks Runtime channel versions"; Databricks Runtime 17.3
LTS and 18 release notes ("powered by Apache Spark 4.0.0" / "4.1.0"). A name the runtime's
pyspark lacks fails there with AttributeError, so validation refuses it at its line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from laktory_pulumi.loader import LoadError, load_pipeline_file
from laktory_pulumi.models.spark_function_generator import (
    data_file,
    function_names,
    installed_package,
    source_version,
)
from laktory_pulumi.models.spark_function_names import (
    CHANNEL_SPARK_VERSIONS,
    PYSPARK_VERSION,
    SPARK_FUNCTIONS,
    channel_functions,
    installed_spark_functions,
    spark_functions,
)

PIPELINE = """\
name: p
channel: {channel}
libraries: [{{notebook: {{path: /pipelines/dlt_slv_template.py}}}}]
tables:
  - name: slv_codes
    builder:
      layer: SILVER
      table_source: {{name: dev.raw.codes}}
    columns:
      - name: value
        type: string
        spark_func_name: {function}
        spark_func_args: [code]
"""


def load(tmp_path: Path, channel: str, function: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE.format(channel=channel, function=function))
    load_pipeline_file(path, {})


def refusal(tmp_path: Path, channel: str, function: str) -> str:
    with pytest.raises(LoadError) as caught:
        load(tmp_path, channel, function)
    [error] = caught.value.errors
    assert (error.line, error.field) == (12, "tables[0].columns[0].spark_func_name")
    return error.message


def test_a_function_of_a_later_spark_is_refused_on_the_current_channel(tmp_path: Path) -> None:
    # `chr` came with Spark 4.1: on CURRENT (Spark 4.0) DLT fails with AttributeError.
    message = refusal(tmp_path, "CURRENT", "chr")
    assert "'chr' is a function of Spark 4.1.0" in message
    assert "Databricks Runtime 17.3 (Spark 4.0.0)" in message
    assert "channel: PREVIEW" in message


def test_the_preview_channel_has_its_own_runtimes_functions(tmp_path: Path) -> None:
    load(tmp_path, "PREVIEW", "chr")  # Spark 4.1 has it
    message = refusal(tmp_path, "PREVIEW", "hmac")  # only the local pyspark 4.3 has it
    assert "'hmac' is a function of Spark 4.3.0" in message
    assert "channel PREVIEW runs Databricks Runtime 18.1 (Spark 4.1.0)" in message
    assert "channel: PREVIEW (" not in message


def test_a_name_of_no_spark_is_still_refused_with_close_names(tmp_path: Path) -> None:
    message = refusal(tmp_path, "CURRENT", "coalsce")
    assert "neither a function of pyspark.sql.functions" in message
    assert "coalesce" in message


def test_each_channel_reads_its_versions_generated_file() -> None:
    for channel, version in CHANNEL_SPARK_VERSIONS.items():
        document = json.loads(data_file(version).read_text())
        assert document["spark_version"] == version
        assert f"tag v{version}" in document["origin"]
        assert frozenset(document["functions"]) == channel_functions(channel)
    current, preview = channel_functions("CURRENT"), channel_functions("PREVIEW")
    assert current < preview < SPARK_FUNCTIONS  # each later Spark keeps the earlier names
    assert len(SPARK_FUNCTIONS - current) > 100  # what the hand-kept list let through


def test_the_generator_reads_the_installed_pyspark_as_pyspark_does() -> None:
    pytest.importorskip("pyspark")
    version, imported = installed_spark_functions()
    package = installed_package()
    assert source_version(package) == version == PYSPARK_VERSION
    # The ast rule finds exactly what importing the module finds (aliases and pandas_udf too).
    assert function_names(package) == imported
    regenerate = "regenerate: python -m laktory_pulumi.models.spark_function_generator --installed"
    assert spark_functions(version) == imported, regenerate
