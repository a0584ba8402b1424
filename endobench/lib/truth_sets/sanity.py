"""Sanity of a measured-effect column: the seed benchmark used `pval_nominal` as if it were `slope`."""

from __future__ import annotations

import numpy as np

PVALUE_NEAR_ZERO = 0.05


def effect_column_problems(effect: np.ndarray, *, min_n: int = 10) -> list[str]:
    """Reasons an effect column cannot be a signed effect size; empty when it looks like one.

    A signed effect (eQTL slope, dsQTL beta) takes both signs. A p-value column never goes negative, stays
    within [0, 1], and piles up near 0 among significant QTLs.
    """
    values = np.asarray(effect, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < min_n:
        return []
    problems = []
    if (values >= 0).all() or (values <= 0).all():
        problems.append(
            f"the effect is never {'negative' if (values >= 0).all() else 'positive'} across {len(values):,} rows: "
            "a signed effect size (slope, beta) takes both signs"
        )
    in_unit = float(((values >= 0) & (values <= 1)).mean())
    near_zero = float((values < PVALUE_NEAR_ZERO).mean())
    if in_unit == 1.0 and near_zero >= 0.5:
        problems.append(
            f"the effect looks like p-values: all within [0, 1] and {near_zero:.0%} below {PVALUE_NEAR_ZERO}; "
            "check that the effect column is the slope/beta, not pval_nominal"
        )
    return problems
