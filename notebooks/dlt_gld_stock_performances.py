# Databricks notebook source
# MAGIC %pip install {{LAKTORY_WHEEL}}

# COMMAND ----------

# Gold: daily performance of each stock (open, close, high, low, daily return per symbol and
# UTC day) from slv_stock_prices. The aggregation itself is declared in the pipeline's YAML.
from pyspark.sql import SparkSession

from laktory_pulumi import dlt, get_logger, read_metadata
from laktory_pulumi.runtime import process, read_source

spark = SparkSession.active()
dlt.spark = spark
logger = get_logger("laktory.gold")
pl = read_metadata(spark=spark)  # this pipeline's own, from its configuration
table = pl.table("gld_stock_performances")

# COMMAND ----------


@dlt.table(name=table.name, comment=table.comment)
@dlt.expectations(table)
def gld_stock_performances():
    df = read_source(table, spark)
    return process(table, df)


# COMMAND ----------

if dlt.is_debug():
    dlt.display(dlt.get_df(gld_stock_performances))
