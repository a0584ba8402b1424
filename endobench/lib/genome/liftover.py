"""Lift positions and intervals from one genome build to another with a UCSC chain file (pyliftover).

Every row either lands uniquely on a primary chromosome of the target build or is counted as `not_lifted`;
nothing is dropped silently. Chromosome names are normalised (`1` -> `chr1`, `MT` -> `chrM`) before the chain
is consulted and after. Variants that land on the minus strand get their alleles reverse-complemented, so
alleles are always on the + strand of the target build.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pyliftover import LiftOver

from endobench.lib.genome.builds import CHROM_SIZES, normalize_build, normalize_chrom
from endobench.lib.genome.sequence import reverse_complement
from endobench.lib.io.compression import open_bytes, sniff
from endobench.lib.io.errors import BuildMismatchError, InputError, replace_damaged

NOT_LIFTED = "not_lifted"


@dataclass
class LiftResult:
    frame: pd.DataFrame  # the lifted rows, on `to_build`
    from_build: str
    to_build: str
    rows_in: int
    excluded: Counter = field(default_factory=Counter)

    @property
    def not_lifted(self) -> int:
        return int(self.excluded.get(NOT_LIFTED, 0))


@lru_cache(maxsize=4)
def _load_chain(path: str) -> LiftOver:
    with open_bytes(path, "chain") as handle:
        return LiftOver(handle)


def load_chain(chain: Path | str) -> LiftOver:
    """A UCSC chain file (plain or gzip, judged by content) read by pyliftover; any failure is an InputError."""
    chain = Path(chain)
    sniff(chain, "chain")
    try:
        lifter = _load_chain(str(chain.resolve()))
    except InputError:
        raise
    except Exception as exc:  # pyliftover raises bare Exceptions on inconsistent chains
        raise InputError(chain, f"the chain file is unreadable ({type(exc).__name__}: {exc})",
                         replace_damaged(chain), damaged=True) from exc
    if not lifter.chain_file.chains:
        raise InputError(chain, "the chain file holds no chain (no line starts with 'chain')",
                         "Point the data sources at a UCSC .over.chain(.gz) file")
    return lifter


def require_chain(
    chain: Path | str | None, *, from_build: str, to_build: str, what: Path | str, against: Path | str
) -> Path:
    """The chain to lift `what` (on `from_build`) onto `against` (on `to_build`), or a BuildMismatchError naming both."""
    if chain is None:
        raise BuildMismatchError(
            what,
            f"it is on {from_build} but {against} is on {to_build}, and no {from_build}->{to_build} chain is configured",
            f"Add a UCSC {from_build}To{to_build.capitalize()}.over.chain.gz to the data sources, or use inputs on "
            f"{to_build}; intersecting coordinates of different builds gives meaningless results",
        )
    return Path(chain)


def _map_points(lifter: LiftOver, chrom: np.ndarray, pos0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lift 0-based points; returns (chrom or None, pos0 or -1, strand '+'/'-' or '') with unique hits only."""
    keys = pd.MultiIndex.from_arrays([chrom, pos0]).unique()
    out_chrom = np.empty(len(keys), dtype=object)
    out_pos = np.full(len(keys), -1, dtype=np.int64)
    out_strand = np.empty(len(keys), dtype=object)
    for i, (c, p) in enumerate(keys):
        hits = lifter.convert_coordinate(c, int(p))
        if hits and len(hits) == 1:
            out_chrom[i], out_pos[i], out_strand[i] = hits[0][0], hits[0][1], hits[0][2]
        else:
            out_chrom[i], out_strand[i] = None, ""
    where = keys.get_indexer(pd.MultiIndex.from_arrays([chrom, pos0]))
    return out_chrom[where], out_pos[where], out_strand[where]


def _lift_spans(
    lifter: LiftOver, chrom: pd.Series, start0: np.ndarray, end0: np.ndarray, to_build: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lift [start0, end0) by its first and last base; both must land on one primary chromosome and strand.

    The lifted span may differ in length where the chain has gaps; a span whose length changes by more than
    half (or doubles) crosses a rearrangement and is not lifted.
    """
    names = normalize_chrom(chrom).to_numpy()
    c1, p1, s1 = _map_points(lifter, names, start0)
    c2, p2, s2 = _map_points(lifter, names, end0 - 1)
    primary = set(CHROM_SIZES[to_build])
    ok = np.array([a is not None and a == b and a in primary for a, b in zip(c1, c2)], dtype=bool)
    ok &= s1 == s2
    new_start = np.minimum(p1, p2)
    new_end = np.maximum(p1, p2) + 1
    old_len = end0 - start0
    new_len = new_end - new_start
    ok &= (new_len * 2 >= old_len) & (new_len <= old_len * 2)
    return ok, c1, new_start, new_end, s1


def lift_intervals(
    frame: pd.DataFrame, chain: Path | str, *, from_build: str, to_build: str,
    chrom: str = "chrom", start: str = "start", end: str = "end",
) -> LiftResult:
    """Lift 0-based half-open intervals (BED, narrowPeak) and return them re-sorted on the target build."""
    from_build, to_build = normalize_build(from_build), normalize_build(to_build)
    if frame.empty:
        return LiftResult(frame.copy(), from_build, to_build, 0, Counter({NOT_LIFTED: 0}))
    lifter = load_chain(chain)
    ok, new_chrom, new_start, new_end, _ = _lift_spans(
        lifter, frame[chrom], frame[start].to_numpy(np.int64), frame[end].to_numpy(np.int64), to_build
    )
    out = frame.loc[ok].copy()
    out[chrom] = new_chrom[ok]
    out[start] = new_start[ok]
    out[end] = new_end[ok]
    order = {c: i for i, c in enumerate(CHROM_SIZES[to_build])}
    out = out.assign(_k=out[chrom].map(order)).sort_values(["_k", start, end], kind="stable").drop(columns="_k")
    if "build" in out:
        out["build"] = to_build
    return LiftResult(out.reset_index(drop=True), from_build, to_build, len(frame), Counter({NOT_LIFTED: int((~ok).sum())}))


def lift_variants(frame: pd.DataFrame, chain: Path | str, *, from_build: str, to_build: str) -> LiftResult:
    """Lift a QTL-schema frame (`chrom`, 1-based `pos`, `ref`, `alt`) and rebuild `variant_id` and `build`.

    The REF span is lifted by its first and last base; on the minus strand both alleles are reverse-complemented.
    """
    from endobench.lib.truth_sets.schema import variant_ids

    from_build, to_build = normalize_build(from_build), normalize_build(to_build)
    if frame.empty:
        return LiftResult(frame.copy(), from_build, to_build, 0, Counter({NOT_LIFTED: 0}))
    lifter = load_chain(chain)
    pos0 = frame["pos"].to_numpy(np.int64) - 1
    ref_len = frame["ref"].str.len().to_numpy(np.int64)
    ok, new_chrom, new_start, _, strand = _lift_spans(lifter, frame["chrom"], pos0, pos0 + ref_len, to_build)
    ok &= (new_start + ref_len) <= pd.Series(new_chrom).map(CHROM_SIZES[to_build]).fillna(0).to_numpy()
    out = frame.loc[ok].copy()
    out["chrom"] = new_chrom[ok]
    out["pos"] = new_start[ok] + 1
    minus = strand[ok] == "-"
    if minus.any():
        out.loc[minus, "ref"] = out.loc[minus, "ref"].map(reverse_complement)
        out.loc[minus, "alt"] = out.loc[minus, "alt"].map(reverse_complement)
    out["build"] = to_build
    if "variant_id" in out:
        out["variant_id"] = variant_ids(out, to_build) if len(out) else out["variant_id"]
    return LiftResult(out.reset_index(drop=True), from_build, to_build, len(frame), Counter({NOT_LIFTED: int((~ok).sum())}))
