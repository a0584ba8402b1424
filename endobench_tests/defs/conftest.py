"""Helpers for running real assets on a temporary copy of the bundled sample."""

import os
from pathlib import Path

import dagster as dg
import pytest

from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, SAMPLE_RELEASE
from endobench_tests.paths import SAMPLE_DIR


def sample_copy(target: Path, replace: dict[str, Path] | None = None) -> Path:
    """A sample folder of symlinks to the bundled files, with some files swapped for altered copies."""
    target.mkdir(parents=True, exist_ok=True)
    replace = replace or {}
    for source in SAMPLE_DIR.iterdir():
        link = target / source.name
        if source.name in replace:
            os.symlink(replace[source.name].resolve(), link)
        else:
            os.symlink(source, link)
    return target


@pytest.fixture
def instance() -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [SAMPLE_RELEASE])
    return instance


def check_results(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
