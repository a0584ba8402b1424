"""Join a truth table to a predictions file on an id column, without pairing strangers.

Ids are compared as text, whatever type each file stores them in (the integer 123 in parquet equals "123" in a
CSV); floating-point or boolean ids are refused, since 12.0 would never equal 12. A missing or blank id never
matches anything (pandas would join NaN to NaN). An id twice in the predictions is refused; an id twice in the
truth table (within one unit, when a unit column says that rows are variant-gene pairs) is counted: the repeats of
one effect as `duplicate_id` (the first row stays), ids whose effects differ as `conflicting_duplicate` (no row of
them stays).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from endobench.lib.io.errors import InputError, quote
from endobench.lib.io.tables import LINE, text_or_missing
from endobench.lib.truth_sets.schema import CONFLICTING_DUPLICATE

MISSING_ID = "missing_id"
DUPLICATE_ID = "duplicate_id"
NO_PREDICTION = "no_prediction_for_id"


@dataclass
class Joined:
    """Truth rows that found their prediction (`effect` and `score` columns, the truth's other columns kept)."""

    frame: pd.DataFrame
    excluded: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def id_text(values: pd.Series, path: Path, column: str) -> pd.Series:
    """Ids as stripped text for comparing, None where missing (empty, an NA spelling, null)."""
    if values.dtype.kind in "fcbmM":
        example = values.dropna().iloc[0] if values.notna().any() else None
        raise InputError(
            path, f"the id column {column!r} holds {values.dtype} values (e.g. {quote(example, 40)}), which cannot be "
            "compared with ids written as text: 12.0 would never equal 12",
            "Store the ids as text or whole numbers (in pandas: .astype('Int64') or .astype(str)) and write the file "
            "again",
        )
    return text_or_missing(values)


def join_predictions(
    truth: pd.DataFrame, predicted: pd.DataFrame, *, id_col: str, effect: pd.Series, score_col: str,
    truth_path: Path, predictions_path: Path, unit_col: str | None = None,
) -> Joined:
    """Truth rows (with `effect` already parsed as numbers) joined to their one prediction by id, every row counted.

    With `unit_col` (a gene id, when the truth rows are variant-gene pairs and the predictions are per variant), one
    id may stand on several rows of different units, each its own measurement; repeats are judged within a unit.
    """
    excluded: dict[str, int] = {}
    warnings: list[str] = []
    truth_ids = id_text(truth[id_col], truth_path, id_col)
    predicted_ids = id_text(predicted[id_col], predictions_path, id_col)

    without_id = int(predicted_ids.isna().sum())
    if without_id:
        warnings.append(f"{without_id:,} rows of {predictions_path.name} have no id and cannot be joined to anything")
    named = predicted_ids.dropna()
    repeated = named[named.duplicated()]
    if len(repeated):
        first = repeated.index[0]
        raise InputError(
            predictions_path, f"{repeated.nunique():,} id(s) occur more than once, e.g. {quote(repeated.iloc[0], 80)}",
            "Keep one prediction per id (or join on a unique key)", variant=str(repeated.iloc[0])[:80],
            line=int(first) if predicted.index.name == LINE else None,
        )

    frame = truth.assign(effect=effect.to_numpy(), _id=truth_ids.to_numpy())
    missing = frame["_id"].isna().to_numpy()
    if missing.any():
        excluded[MISSING_ID] = int(missing.sum())
    frame = frame[~missing]
    frame, duplicates, conflicting = _drop_repeated_ids(frame, ["_id"] + ([unit_col] if unit_col else []))
    if duplicates:
        excluded[DUPLICATE_ID] = duplicates
    if conflicting:
        excluded[CONFLICTING_DUPLICATE] = conflicting
        warnings.append(f"{conflicting:,} rows of {truth_path.name} repeat an id with a different effect; none of "
                        f"them is kept ({CONFLICTING_DUPLICATE}): join on a key that is unique in the truth table")
    scores = pd.Series(predicted.loc[named.index, score_col].to_numpy(), index=named.to_numpy())
    matched = frame["_id"].isin(scores.index).to_numpy()
    if not matched.any() and len(frame):
        raise InputError(
            truth_path, f"no id of column {id_col!r} matches an id of {predictions_path.name} (here e.g. "
            f"{quote(frame['_id'].iloc[0], 60)}, there e.g. {quote(named.iloc[0] if len(named) else '', 60)})",
            "Check --id-col and that both files spell the ids the same way (ids are compared as text)",
        )
    if (~matched).any():
        excluded[NO_PREDICTION] = int((~matched).sum())
    frame = frame[matched]
    frame = frame.assign(score=scores.reindex(frame["_id"].to_numpy()).to_numpy()).drop(columns="_id")
    return Joined(frame, excluded, warnings)


def _drop_repeated_ids(frame: pd.DataFrame, key: list[str]) -> tuple[pd.DataFrame, int, int]:
    """Rows whose key repeats: one kept when every repeat has the same effect; none when the effects differ.

    Rows without a finite effect are left alone (they are excluded later as effect_missing_or_not_numeric).
    """
    finite = np.isfinite(frame["effect"].to_numpy(dtype=float))
    judged = frame[finite]
    repeated = judged.duplicated(key, keep=False)
    if not repeated.any():
        return frame, 0, 0
    effects = judged[repeated].groupby(key, dropna=False)["effect"].transform("nunique")
    conflicting = pd.Series(False, index=judged.index)
    conflicting[effects.index] = effects.to_numpy() > 1
    repeat = judged.duplicated(key, keep="first") & ~conflicting
    drop = judged.index[(conflicting | repeat).to_numpy()]
    return frame.drop(index=drop), int(repeat.sum()), int(conflicting.sum())
