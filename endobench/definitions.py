"""The endobench code location: everything under `endobench/defs/`, autoloaded (`dg check defs`, `dg dev`, `dagster dev`).

`defs/` holds only Dagster objects: assets per domain, blocking checks, jobs, the release and automation sensors,
and `defs/resources.py`, where the resources are chosen from the environment. Loading reads the project's
`pyproject.toml` ([tool.dg.project]), so run from a checkout or an editable install.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg

PACKAGE_DIR = Path(__file__).resolve().parent


def build_definitions(resources: Mapping[str, dg.ConfigurableResource] | None = None) -> dg.Definitions:
    """The autoloaded definitions; with `resources`, those replace the environment's (tests, the demo, benches),
    which are then not built at all."""
    from endobench.defs.resources import CALLER_RESOURCES

    if resources is None:
        return dg.load_from_defs_folder(path_within_project=PACKAGE_DIR)
    token = CALLER_RESOURCES.set(True)
    try:
        loaded = dg.load_from_defs_folder(path_within_project=PACKAGE_DIR)
    finally:
        CALLER_RESOURCES.reset(token)
    return dg.Definitions(
        assets=loaded.assets,
        asset_checks=loaded.asset_checks,
        jobs=loaded.jobs,
        sensors=loaded.sensors,
        schedules=loaded.schedules,
        executor=loaded.executor,
        resources=resources,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
