# Databricks notebook source
# MAGIC %pip install {{LAKTORY_WHEEL}}

# COMMAND ----------

# Silver template: one table per SILVER table of the pipeline's metadata: typed columns,
# expectations, deduplication; a quarantine table when asked; apply_changes for CDC sources.
from pyspark.sql import SparkSession

from laktory_pulumi import dlt, get_logger, read_metadata
from laktory_pulumi.runtime import process, read_source
from laktory_pulumi.runtime.tables import define_changes, define_quarantine

spark = SparkSession.active()
dlt.spark = spark
logger = get_logger("laktory.silver")
pl = read_metadata(spark=spark)  # this pipeline's own, from its configuration

# COMMAND ----------


def define_silver_table(table):
    source = table.builder.table_source
    if source is not None and source.cdc is not None:
        return define_changes(table, spark)

    @dlt.table(name=table.name, comment=table.comment)
    @dlt.expectations(table)
    def silver():
        df = read_source(table, spark)
        return process(table, df)

    if table.quarantine:
        define_quarantine(table, spark)
    return silver


# COMMAND ----------

for table in pl.tables:
    if table.builder.layer != "SILVER":
        continue
    logger.info("defining silver table %s", table.name)
    wrapper = define_silver_table(table)
    if dlt.is_debug():
        dlt.display(dlt.get_df(wrapper))
