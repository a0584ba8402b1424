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
    """The local model trained once per session on chr21's dsQTLs only (about a second): a real model for tests
    of the commands, whose accuracy is not what they check."""
    from endobench.lib.model.training import TrainingInputs, train_local_model

    path = tmp_path_factory.mktemp("model") / "local_dnase_model.npz"
    train_local_model(TrainingInputs.sample(SAMPLE_DIR), ["chr21"])[0].save(path)
    return path


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A data dir of its own (the sample linked in, no trained model), set as ENDOBENCH_DATA_DIR."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "sample").symlink_to(SAMPLE_DIR)
    monkeypatch.setenv("ENDOBENCH_DATA_DIR", str(data))
    return data
