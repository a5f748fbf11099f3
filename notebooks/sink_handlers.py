"""Handlers of `foreach_batch` sinks: `handler(df, batch_id)`, called once per micro-batch.

A batch cut by a failure is handed over again with the same `batch_id`, so a handler writes
what belongs to that id and overwrites it (docs/sinks.md).
"""

FOLDER_KEY = "sink_handlers.folder"
"""Pipeline configuration key: the folder `write_batch` writes under."""


def write_batch(df, batch_id):
    """The batch's rows as JSON in `<folder>/batch_id=<batch_id>`, replaced if written before."""
    folder = df.sparkSession.conf.get(FOLDER_KEY)
    df.write.mode("overwrite").json(f"{folder.rstrip('/')}/batch_id={batch_id}")
