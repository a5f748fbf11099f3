"""`laktory-pulumi test`: the table tests of the pipelines' YAML, run on the warm local engine.

`models/table_test.py` describes a test and checks it against its pipeline; this package runs
it (`command.py`): a Spark Connect session on the warm engine of the test state folder
(`session.py`), the given rows as the tables or landed events they stand for (`inputs.py`), the
tables between them and the table under test defined with the templates' own `define_table`
(`execute.py`), the result compared with what the test expects (`compare.py`), reported with
the test's file:line and as JUnit XML (`junit.py`). Only the CLI imports it.
"""
