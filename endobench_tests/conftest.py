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


@pytest.fixture(scope="session")
def small_model_file(tmp_path_factory) -> Path:
    """The small cross-fitted local model (`lib/model/small_model.py`) saved once per session: a real model for tests
    of the commands, whose accuracy is not what they check."""
    from endobench_tests.lib.model.small_model import small_cross_fitted

    return small_cross_fitted().save(tmp_path_factory.mktemp("model") / "local_dnase_model.npz")


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A data dir of its own (the sample linked in, no trained model), set as ENDOBENCH_DATA_DIR."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "sample").symlink_to(SAMPLE_DIR)
    monkeypatch.setenv("ENDOBENCH_DATA_DIR", str(data))
    return data
