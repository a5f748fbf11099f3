# Databricks notebook source
# MAGIC %pip install {{LAKTORY_WHEEL}}

# COMMAND ----------

# Silver template: one table per SILVER table of the pipeline's metadata: typed columns,
# expectations, deduplication; a quarantine table when asked; apply_changes for CDC sources.
from pyspark.sql import SparkSession

from laktory_pulumi import dlt, get_logger, read_metadata
from laktory_pulumi.runtime.tables import define_table

spark = SparkSession.active()
dlt.spark = spark
logger = get_logger("laktory.silver")
pl = read_metadata(spark=spark)  # this pipeline's own, from its configuration

# COMMAND ----------

for table in pl.tables:
    if table.builder.layer != "SILVER":
        continue
    logger.info("defining silver table %s", table.name)
    wrapper = define_table(table, spark)
    if dlt.is_debug():
        dlt.display(dlt.get_df(wrapper))
