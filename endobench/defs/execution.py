"""How a run executes its steps: all in the run's own process.

A run here is one partition (a release, or a release x chromosome) of a few steps. A process per step would pay
Python's and the code location's start-up again inside every run, and a prediction step pays it while it holds
the one `alphagenome_api` pool slot, when no other partition may call the API. Failures stay isolated per run.
"""

import dagster as dg


@dg.definitions
def execution() -> dg.Definitions:
    return dg.Definitions(executor=dg.in_process_executor)
