"""The endobench code location: assets, checks, jobs and resources."""

from __future__ import annotations

import dagster as dg

from endobench.defs import checks
from endobench.defs.assets import external, inputs, model, predictions, report, variants
from endobench.defs.automation import SCHEDULES, SENSORS
from endobench.defs.jobs import JOBS
from endobench.defs.resources import resources_from_environment

ASSET_MODULES = [inputs, model, variants, predictions, report, external]


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_modules(ASSET_MODULES),
        asset_checks=dg.load_asset_checks_from_modules([checks]),
        jobs=JOBS,
        sensors=SENSORS,
        schedules=SCHEDULES,
        resources=resources if resources is not None else resources_from_environment(),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
