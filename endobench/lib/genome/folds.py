"""AlphaGenome's held-out regions: which variants a model version never trained on, from the SDK's own fold definition.

AlphaGenome's folds are genomic intervals, not chromosomes: the SDK (`alphagenome/data/fold_intervals.py`) assigns
196,608-bp regions to folds 0-7, and `FOLD_k` holds out one validation and one test fold (FOLD_0: fold0 and fold1,
FOLD_1: fold3 and fold4, FOLD_2: fold2 and fold5, FOLD_3: fold6 and fold7). `ALL_FOLDS`, the default model,
trained on every region, so nothing is held out from it. The regions overlap each other, so a variant is held out
only when it lies in a held-out region and in no training region; one in both was seen in training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from endobench.lib.genome.builds import HG38
from endobench.lib.genome.intervals import variants_in_peaks
from endobench.lib.genome.peaks import PeakSet

ALL_FOLDS = "ALL_FOLDS"


def fold_regions(model_version: str, regions_path: Path, subset: str) -> pd.DataFrame:
    """The regions of `subset` (TRAIN, VALID or TEST) for a model version, read by the SDK from the bundled file."""
    from alphagenome.data import fold_intervals
    from alphagenome.models import dna_client

    frame = fold_intervals.get_fold_intervals(
        dna_client.ModelVersion[model_version], dna_client.Organism.HOMO_SAPIENS, fold_intervals.Subset[subset],
        example_regions_path=str(regions_path),
    )
    return frame.rename(columns={"chromosome": "chrom"})[["chrom", "start", "end"]].reset_index(drop=True)


def held_out_mask(variants: pd.DataFrame, model_version: str, regions_path: Path) -> np.ndarray | None:
    """For each variant (chrom, pos, ref), True when it lies in the version's validation or test regions and in no
    training region. None for ALL_FOLDS: that model saw every region, so no variant is held out of it."""
    if model_version == ALL_FOLDS:
        return None

    def inside(subsets: tuple[str, ...]) -> np.ndarray:
        regions = pd.concat([fold_regions(model_version, regions_path, s) for s in subsets], ignore_index=True)
        regions = regions.assign(name=".", qvalue=np.nan).sort_values(["chrom", "start"], kind="stable")
        return variants_in_peaks(variants, PeakSet(regions.reset_index(drop=True), HG38, len(regions)))

    return inside(("VALID", "TEST")) & ~inside(("TRAIN",))


def held_out_scheme(model_version: str) -> str:
    """How the split of a model version is defined, in words for the report."""
    if model_version == ALL_FOLDS:
        return "none: ALL_FOLDS trained on every region, so no variant is held out"
    return (f"regions: {model_version}'s validation and test fold regions (SDK fold_intervals), excluding variants "
            "that also lie in a training region")
