"""The local gapped k-mer DNase model: features and scoring, training, held-out evaluation, scoring allele pairs."""

from pathlib import Path


def model_path(outputs_root: Path | str) -> Path:
    """Where the trained model lives under an output tree: the `local_model` asset writes it, the predictor and
    `score-pairs` read it (the one place this path is spelt). Here, not in `gkm`, so that naming the path does
    not import numpy, scipy and pandas (the CLI's start-up and every run's `Storage`)."""
    return Path(outputs_root) / "local_model" / "local_dnase_model.npz"
