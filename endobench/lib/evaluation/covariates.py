"""The covariates a positive and a non-significant test of its gene are matched on, and their balance.

Significant tests sit closer to the TSS and have higher minor allele frequencies than the rest (more power), so a
score that tracked either would tell them apart without telling causal from non-causal. Both the report's matching
(`negatives`) and the selection of candidates from all-pairs tables (`negative_tests`) compare rows on these.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def log10_tss_distance(frame: pd.DataFrame) -> pd.Series | None:
    """log10(|TSS distance| + 1 bp) of each row; None when the table has no TSS distance."""
    if "tss_distance" not in frame:
        return None
    return np.log10(pd.to_numeric(frame["tss_distance"], errors="coerce").abs() + 1)


def minor_allele_frequency(frame: pd.DataFrame) -> pd.Series | None:
    return pd.to_numeric(frame["maf"], errors="coerce") if "maf" in frame else None


# Each covariate by the name balance is reported under.
COVARIATES = {"log10_tss_distance": log10_tss_distance, "maf": minor_allele_frequency}


def standardised_mean_difference(mean_a: float, var_a: float, mean_b: float, var_b: float) -> float:
    """(mean_a - mean_b) / sqrt((var_a + var_b) / 2): |d| below 0.1 is the usual mark of good balance."""
    spread = math.sqrt((var_a + var_b) / 2)
    return float((mean_a - mean_b) / spread) if spread > 0 else 0.0
