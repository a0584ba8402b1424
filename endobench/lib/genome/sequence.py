"""DNA strings: the one complement and reverse complement every module uses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from endobench.lib.codes import text_codes

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def complement(seq: str) -> str:
    """The complementary bases in the same order (`ACG` -> `TGC`)."""
    return seq.translate(_COMPLEMENT)


def reverse_complement(seq: str) -> str:
    """The other strand read 5' to 3' (`ACG` -> `CGT`): what an allele on the minus strand is on the plus strand."""
    return seq.translate(_COMPLEMENT)[::-1]


AMBIGUOUS_ALLELE = "ambiguous_allele"
INVALID_ALLELE = "invalid_allele"


def allele_problems(alleles: pd.Series) -> np.ndarray:
    """Per allele: "" when it is made of A, C, G, T only; `ambiguous_allele` when it holds N or an IUPAC
    ambiguity code (R, Y, ...); `invalid_allele` for anything else. Checked once per distinct allele."""
    codes, uniques = text_codes(alleles)
    text = pd.Series(uniques, dtype=object)
    acgt = text.str.fullmatch("[ACGT]+").fillna(False).to_numpy(dtype=bool)
    iupac = text.str.fullmatch("[ACGTRYSWKMBDHVN]+").fillna(False).to_numpy(dtype=bool)
    problem = np.where(acgt, "", np.where(iupac, AMBIGUOUS_ALLELE, INVALID_ALLELE)).astype(object)
    return problem[codes]
