# Databricks notebook source
# MAGIC %pip install {{LAKTORY_WHEEL}}

# COMMAND ----------

# Bronze template: one streaming table per table of the pipeline's metadata whose template is
# this notebook (by default every BRONZE table), read from the landed event files.
# Generic: the tables come from the YAML, deployed as metadata. A copy of this notebook under
# another name builds the tables whose `template` names that copy.
from pyspark.sql import SparkSession

from laktory_pulumi import dlt, get_logger, read_metadata
from laktory_pulumi.runtime.tables import define_table, tables_of

NOTEBOOK = "dlt_brz_template"

spark = SparkSession.active()
dlt.spark = spark
logger = get_logger("laktory.bronze")
pl = read_metadata(spark=spark)  # this pipeline's own, from its configuration

# COMMAND ----------

for table in tables_of(pl, NOTEBOOK):
    logger.info("defining table %s", table.name)
    wrapper = define_table(table, spark)  # with its expectations, quarantine or change feed
    if dlt.is_debug():
        dlt.display(dlt.get_df(wrapper))
