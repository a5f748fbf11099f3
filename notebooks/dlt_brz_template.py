# Databricks notebook source
# MAGIC %pip install {{LAKTORY_WHEEL}}

# COMMAND ----------

# Bronze template: one streaming table per BRONZE table of the pipeline's metadata, read from
# the landed event files. Generic: the tables come from the YAML, deployed as metadata.
from pyspark.sql import SparkSession

from laktory_pulumi import dlt, get_logger, read_metadata
from laktory_pulumi.runtime.tables import define_table

spark = SparkSession.active()
dlt.spark = spark
logger = get_logger("laktory.bronze")
pl = read_metadata(spark=spark)  # this pipeline's own, from its configuration

# COMMAND ----------

for table in pl.tables:
    if table.builder.layer != "BRONZE":
        continue
    logger.info("defining bronze table %s", table.name)
    wrapper = define_table(table, spark)
    if dlt.is_debug():
        dlt.display(dlt.get_df(wrapper))
