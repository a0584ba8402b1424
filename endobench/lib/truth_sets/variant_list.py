"""A list of variants to score, without measured effects, checked row by row exactly as the truth sets are.

`score-variants` reads any table of `chrom pos ref alt [gene_id] [biosample]` (1-based, hg38). Each row goes
through the checks the truth-set readers make (`schema.check_variants`: chromosome, position, alleles, REF equal
to ALT) and then the checks of the `sequence_windows` asset (`windowing.window_truth_sets`, hence
`genome.windows.build_windows`: REF against the genome, swapped alleles harmonised, N gaps, N-rich windows,
indels longer than the window). A row therefore gets the status and reason the graph would give it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from endobench.lib.genome.builds import HG38
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.genome.windows import OK
from endobench.lib.genome.windows import reference_agreement as windows_agreement
from endobench.lib.io.errors import InputError
from endobench.lib.io.tables import integer_column, read_frame, text_or_missing
from endobench.lib.truth_sets.schema import check_variants, variant_ids
from endobench.lib.truth_sets.windowing import window_truth_sets

REQUIRED = ["chrom", "pos", "ref", "alt"]
OPTIONAL = ["gene_id", "biosample"]


def read_variant_list(path: Path) -> pd.DataFrame:
    """`chrom pos ref alt gene_id biosample`, one row per row of the file, in its order.

    Text is stripped; `gene_id` and `biosample` are None where missing (empty, `NA`, `NaN`, ... as in every reader).
    A position that is not a whole number is an error naming its line, as in the truth-set readers (positions are
    never rounded); a missing one is kept, to be `unplaced`.
    """
    path = Path(path)
    table = read_frame(path, "variant list")
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise InputError(path, f"no column {', '.join(repr(c) for c in missing)}; columns present: "
                         f"{', '.join(map(str, table.columns))}",
                         "Give chrom, pos (1-based, hg38), ref and alt, and optionally gene_id and biosample.", line=1)
    if table.empty:
        raise InputError(path, "the file has a header but no variants", "Point the command at a complete list.", line=2)
    frame = pd.DataFrame(index=table.index)
    for column in ("chrom", "ref", "alt"):
        frame[column] = table[column].astype(object).where(table[column].notna(), "").map(lambda v: str(v).strip())
    frame["pos"] = integer_column(table, "pos", path).to_numpy()
    for column in OPTIONAL:
        frame[column] = text_or_missing(table[column]) if column in table.columns else None
    return frame[REQUIRED + OPTIONAL].reset_index(drop=True)


def check_variant_list(variants: pd.DataFrame, reference: ReferenceGenome | None, *, window_length: int,
                       needs_sequence: bool, build: str = HG38) -> pd.DataFrame:
    """Every row of `variants` (as `read_variant_list` gives it) with what the graph would make of it.

    Columns: `chrom pos ref alt` spelled as the readers spell them (`22` -> `chr22`, alleles upper-case) in the
    row's own orientation; `reason` ("" when the row can be scored, else the readers' or the windows' reason);
    the harmonised variant the predictor is asked about (`variant_id`, `harmonised_ref`, `harmonised_alt`,
    `window_start`, `window_end`), `harmonisation` (`as_is`, `swapped`, or `unchecked` without a reference) and
    `sign`: -1 where the alleles were swapped, so that a score of the harmonised variant times `sign` is the effect
    of the row's own ALT.
    """
    checks = check_variants(variants, build)
    out = pd.DataFrame({
        "chrom": checks.chrom(), "pos": variants["pos"].to_numpy(), "ref": checks.ref(), "alt": checks.alt(),
        "gene_id": variants["gene_id"].to_numpy(), "biosample": variants["biosample"].to_numpy(),
        "reason": checks.reason_names(), "variant_id": None, "harmonised_ref": None, "harmonised_alt": None,
        "window_start": np.nan, "window_end": np.nan, "harmonisation": "", "sign": np.nan,
    })
    valid = np.flatnonzero(out["reason"].to_numpy() == "")
    if len(valid):
        rows = out.iloc[valid][["chrom", "pos", "ref", "alt"]].assign(pos=lambda f: f["pos"].astype(np.int64))
        rows = rows.assign(variant_id=variant_ids(rows, build), effect=1.0)
        windows = window_truth_sets(rows, reference, window_length=window_length, needs_sequence=needs_sequence)
        status = windows["window_status"].to_numpy(dtype=object)
        put = out.columns.get_indexer
        out.iloc[valid, put(["reason"])] = np.where(status == OK, "", status)[:, None]
        out.iloc[valid, put(["variant_id", "harmonised_ref", "harmonised_alt", "window_start", "window_end",
                             "harmonisation", "sign"])] = windows[[
                                 "variant_id", "ref", "alt", "window_start", "window_end", "harmonisation", "effect",
                             ]].to_numpy(dtype=object)
    usable = out["reason"].to_numpy() == ""
    out["pos"] = out["pos"].astype("Int64")
    out.loc[~usable, ["variant_id", "harmonised_ref", "harmonised_alt"]] = None
    out.loc[~usable, ["window_start", "window_end", "sign"]] = np.nan
    return out



def reference_agreement(checked: pd.DataFrame) -> tuple[float, int]:
    """Share of the rows whose REF was checked that carry the genome's base as REF or ALT, and how many were
    checked (`windows.reference_agreement`, the graph's check): about half on the wrong build or 0-based positions."""
    return windows_agreement(checked.assign(window_status=checked["reason"].replace("", OK)))
