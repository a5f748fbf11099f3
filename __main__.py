"""The Pulumi program of the lakehouse project: stack config -> stacks/ -> components -> outputs.

`pulumi up --stack dev` runs it with the real engine; `laktory-pulumi preview --stack dev` runs
this same file under Pulumi's mock runtime. Everything lives in `laktory_pulumi.deploy.program`.
"""

from pathlib import Path

import pulumi

from laktory_pulumi.deploy.program import deploy_stack
from laktory_pulumi.loader import LoadError

try:
    deploy_stack(Path(__file__).resolve().parent)
except LoadError as error:
    # One `file:line:column: field: message` line per problem, without a Python traceback.
    located = "\n".join(str(problem) for problem in error.errors)
    raise pulumi.RunError(f"invalid definitions in stacks/:\n{located}") from None
