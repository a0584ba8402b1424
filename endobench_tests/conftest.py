"""Shared fixtures: the repository's bundled sample and the small real fixtures beside the tests."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def sample_reference():
    from endobench.lib.reference import ReferenceGenome

    return ReferenceGenome(SAMPLE_DIR / "hg38_sample_segments.fa", "hg38")
