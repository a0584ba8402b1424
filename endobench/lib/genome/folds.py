"""AlphaGenome's held-out regions: which variants a model version never trained on, from the SDK's own fold definition.

AlphaGenome's folds are genomic intervals, not chromosomes: the SDK (`alphagenome/data/fold_intervals.py`) assigns
196,608-bp regions to folds 0-7, and `FOLD_k` holds out one validation and one test fold (FOLD_0: fold0 and fold1,
FOLD_1: fold3 and fold4, FOLD_2: fold2 and fold5, FOLD_3: fold6 and fold7). `ALL_FOLDS`, the default model,
trained on every region, so nothing is held out from it. The regions overlap each other, so a variant is held out
only when it lies in a held-out region and in no training region; one in both was seen in training. Stricter still,
a held-out variant is beyond training context when no training input (1 MB around each training region) reached it.
"""

from __future__ import annotations

from dataclasses import dataclass
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


# AlphaGenome trained on 1,048,576-bp inputs around each 196,608-bp region, so a training example's sequence reaches
# (1,048,576 - 196,608) / 2 = 425,984 bp beyond each side of its region: a held-out variant that near a training
# region was in some training input, though no target of its own was trained on.
TRAINING_INPUT_LENGTH = 1_048_576
REGION_LENGTH = 196_608
INPUT_REACH = (TRAINING_INPUT_LENGTH - REGION_LENGTH) // 2


@dataclass(frozen=True)
class FoldSplit:
    """Per variant: held out of a FOLD_k model's training regions, and held out beyond any training input."""

    held_out: np.ndarray
    beyond_context: np.ndarray


def fold_split(variants: pd.DataFrame, model_version: str, regions_path: Path) -> FoldSplit | None:
    """For each variant (chrom, pos, ref): `held_out` when it lies in the version's validation or test regions and
    in no training region; `beyond_context` when it is held out and also farther than `INPUT_REACH` from every
    training region. None for ALL_FOLDS: that model saw every region, so no variant is held out of it."""
    if model_version == ALL_FOLDS:
        return None

    def inside(subsets: tuple[str, ...], reach: int = 0) -> np.ndarray:
        regions = pd.concat([fold_regions(model_version, regions_path, s) for s in subsets], ignore_index=True)
        regions = regions.assign(start=(regions["start"] - reach).clip(lower=0), end=regions["end"] + reach)
        regions = regions.assign(name=".", qvalue=np.nan).sort_values(["chrom", "start"], kind="stable")
        return variants_in_peaks(variants, PeakSet(regions.reset_index(drop=True), HG38, len(regions)))

    held = inside(("VALID", "TEST")) & ~inside(("TRAIN",))
    return FoldSplit(held, held & ~inside(("TRAIN",), INPUT_REACH))


def held_out_scheme(model_version: str) -> str:
    """How the split of a model version is defined, in words for the report."""
    if model_version == ALL_FOLDS:
        return "none: ALL_FOLDS trained on every region, so no variant is held out"
    return (f"regions: {model_version}'s validation and test fold regions (SDK fold_intervals), excluding variants "
            "that also lie in a training region")
