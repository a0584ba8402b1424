"""The funnel of each truth set, from rows read to variants scored, and every exclusion by reason.

The step names are the keys the assets write into their statistics files, so the same name means the same count
from `raw_gtex_eqtls` to the report.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

FUNNEL_STEPS = ("rows_read", "rows_kept", "unique_variants", "in_annotation", "kept_after_annotation", "windows_ok")
# Non-significant tests of the positives' genes added from GTEx's all-pairs tables: a step of the funnels of the
# truth sets that have them (rows_read + negative_tests - exclusions = rows_kept).
NEGATIVE_TESTS = "negative_tests"


def funnels_and_exclusions(
    stats: Mapping[str, Mapping[str, object]], predictions: pd.DataFrame
) -> tuple[dict, dict, dict]:
    """Per truth set: the funnel of counts, the exclusions by reason, and the numbers the diagnostics need.

    `stats` are the truth sets' statistics as `sequence_windows` leaves them; `predictions` every scored or failed
    row of the release.
    """
    funnels, exclusions, context = {}, {}, {}
    for truth_set, s in sorted(stats.items()):
        rows = predictions[predictions["truth_set"] == truth_set]
        scored = rows[rows["status"] == "scored"]
        steps = FUNNEL_STEPS if NEGATIVE_TESTS not in s else (FUNNEL_STEPS[0], NEGATIVE_TESTS, *FUNNEL_STEPS[1:])
        funnels[truth_set] = {**{step: s.get(step, 0) for step in steps},
                              "scored_variants": int(scored["variant_id"].nunique())}
        failed = rows[rows["status"] != "scored"].drop_duplicates("variant_id")
        failed_reasons = failed["reason"].fillna("").replace("", "failed") if "reason" in failed else pd.Series()
        not_in = int(s.get("unique_variants", 0)) - int(s.get("kept_after_annotation", 0))
        exclusions[truth_set] = {
            **{f"input_{k}": v for k, v in s.get("excluded", {}).items()},
            **({"not_in_annotation": not_in} if s.get("filtered_by_annotation") else {}),
            **s.get("window_exclusions", {}),
            **{f"prediction_{k}": int(v) for k, v in failed_reasons.value_counts().items()},
        }
        agreement = s.get("reference_agreement")
        context[truth_set] = {
            "fraction_in_annotation_observed": s.get("fraction_in_annotation_observed"),
            "fraction_in_annotation_expected": s.get("fraction_in_annotation_expected"),
            "filtered_by_annotation": s.get("filtered_by_annotation"),
            "reference_mismatch_rate": None if agreement is None else 1.0 - agreement,
        }
    return funnels, exclusions, context
