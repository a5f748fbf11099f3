"""`validate --deep`: every table's plan analysed by Spark before anything runs.

Unknown function names are load errors already (`models.function_rules`); `deep` defines each
table as the templates do, on the analysis backend (`backend`), in build order, and blames a failure on the
YAML field at fault; `command` starts the session and turns findings into located errors.
"""
