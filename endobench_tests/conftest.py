"""Shared fixtures: the repository's bundled sample and the small real fixtures beside the tests."""

from pathlib import Path

import pytest

from endobench_tests.paths import FIXTURES, SAMPLE_DIR


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def sample_reference():
    from endobench.lib.genome.reference import ReferenceGenome

    return ReferenceGenome(SAMPLE_DIR / "hg38_sample_segments.fa", "hg38")
